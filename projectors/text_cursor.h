/*
 * text_cursor.h - appending text (JSON fragments) into a caller's fixed
 * buffer, for the views that pre-render what they store. No allocation: a
 * write that does not fit sets `overflow` and the caller refuses the result.
 */
#ifndef LEDGER_TEXT_CURSOR_H
#define LEDGER_TEXT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct text_cursor {
    char *buf; /* borrowed; always NUL-terminated after a put */
    size_t size;
    size_t len;
    bool overflow;
} text_cursor;

/* Room for any int64 in decimal, with its sign and a NUL. */
#define TEXT_INT_BUF 24

/* Writes v in decimal into buf (TEXT_INT_BUF bytes) and NUL-terminates it;
 * returns the length. The views format several numbers per account per
 * batch: this is snprintf's result without its format parsing. */
size_t text_int_format(int64_t v, char *buf);

/* Parses what text_int_format writes (and Redis stores): an optional '-',
 * then 1-19 digits, nothing else, within int64. Returns 0 and sets *out, or
 * -1. */
int text_int_parse(const char *s, size_t n, int64_t *out);

void text_cursor_put_bytes(text_cursor *c, const char *s, size_t n);
void text_cursor_put_str(text_cursor *c, const char *s);
void text_cursor_put_int(text_cursor *c, int64_t v);
/* A JSON string of money text: "-12.50". */
void text_cursor_put_money(text_cursor *c, int64_t cents);
/* A JSON string of the text held in a fixed buffer of `size` bytes (an id). */
void text_cursor_put_escaped(text_cursor *c, const char *s, size_t size);

#endif
