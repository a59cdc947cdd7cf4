/*
 * text_cursor.c - see text_cursor.h.
 */
#include "text_cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "money.h"

void text_cursor_put_bytes(text_cursor *c, const char *s, size_t n) {
    if (c->overflow || n >= c->size - c->len) {
        c->overflow = true;
        return;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

void text_cursor_put_str(text_cursor *c, const char *s) {
    text_cursor_put_bytes(c, s, strlen(s));
}

size_t text_int_format(int64_t v, char *buf) {
    char tmp[TEXT_INT_BUF];
    size_t n = 0;
    /* in uint64_t so that INT64_MIN negates without overflow */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int text_int_parse(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n || n - i > 19)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    /* 19 digits cannot wrap a uint64_t: one comparison is enough */
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

void text_cursor_put_int(text_cursor *c, int64_t v) {
    char tmp[TEXT_INT_BUF];
    text_cursor_put_bytes(c, tmp, text_int_format(v, tmp));
}

void text_cursor_put_money(text_cursor *c, int64_t cents) {
    char tmp[MONEY_TEXT_BUF];
    text_cursor_put_bytes(c, "\"", 1);
    text_cursor_put_bytes(c, tmp, money_format(cents, tmp, sizeof tmp));
    text_cursor_put_bytes(c, "\"", 1);
}

/* A JSON string of the text held in a fixed buffer of `size` bytes. */
void text_cursor_put_escaped(text_cursor *c, const char *s, size_t size) {
    size_t n = ledger_id_len(s, size);
    text_cursor_put_bytes(c, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        char esc[8];
        if (b == '"' || b == '\\') {
            esc[0] = '\\';
            esc[1] = (char)b;
            text_cursor_put_bytes(c, esc, 2);
        } else if (b < 0x20 || b == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", b);
            text_cursor_put_bytes(c, esc, 6);
        } else if (b >= 0x80) {
            text_cursor_put_bytes(c, "\\ufffd", 6);
        } else {
            text_cursor_put_bytes(c, (const char *)&s[i], 1);
        }
    }
    text_cursor_put_bytes(c, "\"", 1);
}
