/*
 * ltime.h - business time: milliseconds since the Unix epoch, UTC, and its
 * RFC 3339 text form with 'Z' (SPEC section 4). Pure arithmetic: no libc time
 * zone functions, no clock.
 */
#ifndef LEDGER_LTIME_H
#define LEDGER_LTIME_H

#include <stddef.h>
#include <stdint.h>

/* Enough for "-292278994-08-17T07:12:55.807Z" and the terminator. */
#define LTIME_TEXT_BUF 40

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (years 0001..9999, a fraction of 1 to 3
 * digits, calendar-checked: no Feb 30, no second 60). Exactly `len` bytes are
 * read. Returns 0 and sets *ms, or -1 with *why a static phrase. */
int ltime_parse(const char *text, size_t len, int64_t *ms, const char **why);

/* Formats ms as "YYYY-MM-DDTHH:MM:SSZ", or with ".fff" when the millisecond
 * part is not zero. Returns the length written. */
size_t ltime_format(int64_t ms, char *buf, size_t size);

/* The UTC calendar month containing ms, as year*12 + (month-1): months are
 * then consecutive integers and compare as months do. */
int32_t ltime_month_of(int64_t ms);

/* "YYYY-MM" (month 01..12) to the same month number. Returns 0 or -1. */
int ltime_month_parse(const char *text, size_t len, int32_t *month, const char **why);

/* Formats a month number as "YYYY-MM". Returns the length written. */
size_t ltime_month_format(int32_t month, char *buf, size_t size);

#endif
