/*
 * money.c - cents and their text forms.
 *
 * The input grammar is deliberately narrow (SPEC section 4): one run of ASCII
 * digits, optionally a point and one or two more digits. Leading zeros are
 * accepted ("05" is 5.00, "007.50" is 7.50): they are unambiguous in a
 * decimal-only grammar (there is no octal reading to confuse), and refusing
 * them would reject input that every user reads the same way. Everything else
 * (signs, spaces, exponents, hex, a bare point, non-ASCII digits) is refused.
 *
 * Syntax is checked before size, so "1e99999999999999999999" is reported as
 * not a decimal rather than too large. The value is accumulated with a bound
 * check on every digit, so nothing overflows however long the input.
 */
#include "money.h"

#include <string.h>

int money_parse(const char *text, size_t len, bool allow_zero, int64_t *cents, const char **why) {
    const char *fault = NULL;
    int64_t units = 0;     /* the integer part, while it stays in range */
    int64_t fraction = 0;  /* the fractional digits, scaled to cents */
    size_t int_digits = 0; /* digits before the point */
    size_t frac_digits = 0;
    bool point = false;
    bool too_large = false;

    if (text == NULL || len == 0) {
        fault = "empty";
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '.' && !point) {
            point = true;
        } else if (c >= '0' && c <= '9') {
            int d = c - '0';
            if (!point) {
                int_digits++;
                if (!too_large) {
                    units = units * 10 + d;
                    if (units > MONEY_MAX_COMMAND_CENTS / 100)
                        too_large = true;
                }
            } else {
                frac_digits++;
                if (frac_digits == 1)
                    fraction += d * 10;
                else if (frac_digits == 2)
                    fraction += d;
            }
        } else {
            fault = "not a decimal number";
            goto fail;
        }
    }
    if (int_digits == 0) {
        fault = point ? "no digits before the point" : "not a decimal number";
        goto fail;
    }
    if (point && frac_digits == 0) {
        fault = "no digits after the point";
        goto fail;
    }
    if (frac_digits > 2) {
        fault = "more than two decimals";
        goto fail;
    }
    if (too_large || units * 100 + fraction > MONEY_MAX_COMMAND_CENTS) {
        fault = "more than 1000000000.00";
        goto fail;
    }
    if (units == 0 && fraction == 0 && !allow_zero) {
        fault = "zero";
        goto fail;
    }
    *cents = units * 100 + fraction;
    return 0;

fail:
    if (why != NULL)
        *why = fault;
    return -1;
}

size_t money_format(int64_t cents, char *buf, size_t size) {
    char tmp[MONEY_TEXT_BUF];
    char digits[24];
    size_t nd = 0;
    size_t n = 0;
    /* The magnitude in unsigned arithmetic, which is defined for INT64_MIN. */
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

    do {
        digits[nd++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag > 0);
    while (nd < 3) /* at least "0.0d" */
        digits[nd++] = '0';

    if (cents < 0)
        tmp[n++] = '-';
    while (nd > 2)
        tmp[n++] = digits[--nd];
    tmp[n++] = '.';
    tmp[n++] = digits[1];
    tmp[n++] = digits[0];

    if (size == 0)
        return 0;
    if (n > size - 1)
        n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}
