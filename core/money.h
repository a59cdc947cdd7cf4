/*
 * money.h - amounts in integer minor units (cents), and their text forms
 * (SPEC section 4). Never a floating point number anywhere.
 */
#ifndef LEDGER_MONEY_H
#define LEDGER_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest amount one command may carry: 1000000000.00. */
#define MONEY_MAX_COMMAND_CENTS INT64_C(100000000000)
/* Enough for "-92233720368547758.08" and the terminator. */
#define MONEY_TEXT_BUF 32

/* Parses the input form: a positive decimal with at most two fractional
 * digits ("5", "5.5", "5.50"), at most MONEY_MAX_COMMAND_CENTS. With
 * allow_zero (an overdraft), "0" and "0.00" are accepted too.
 * Exactly `len` bytes of `text` are read; no sign, no spaces, no exponent, no
 * hex, ASCII digits only. Leading zeros are accepted ("05" is 5.00, "007.5"
 * is 7.50): a decimal-only grammar reads them one way only. ".5" and "5." are
 * refused. Returns 0 and sets *cents, or -1 and points *why at a static
 * lowercase phrase naming the fault ("more than two decimals"). */
int money_parse(const char *text, size_t len, bool allow_zero, int64_t *cents, const char **why);

/* Formats -?[0-9]+\.[0-9]{2} into buf (at least MONEY_TEXT_BUF bytes).
 * Returns the length written, excluding the terminator. INT64_MIN included. */
size_t money_format(int64_t cents, char *buf, size_t size);

#endif
