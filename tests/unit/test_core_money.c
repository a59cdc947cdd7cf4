/*
 * test_core_money.c - money_parse and money_format against every example of
 * SPEC section 4, plus the edges the grammar implies (leading zeros, a bare
 * point, a sign, a NUL inside, overflow) and INT64_MIN.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "money.h"

typedef struct good_case {
    const char *text;
    int64_t cents;
} good_case;

typedef struct bad_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *why;
} bad_case;

Test(money_parse, accepts_the_spec_examples_and_plain_decimals) {
    static const good_case cases[] = {
        {"5", 500},
        {"5.5", 550},
        {"5.50", 550},
        {"0.01", 1},
        {"0.1", 10},
        {"12.34", 1234},
        {"1000000000.00", INT64_C(100000000000)},
        {"1000000000", INT64_C(100000000000)},
        {"999999999.99", INT64_C(99999999999)},
        /* Leading zeros are accepted (documented in money.c). */
        {"05", 500},
        {"007.50", 750},
        {"00000000000000000000001", 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t cents = -1;
        const char *why = NULL;
        int rc = money_parse(cases[i].text, strlen(cases[i].text), false, &cents, &why);
        cr_expect_eq(rc, 0, "'%s' rejected: %s", cases[i].text, why ? why : "?");
        cr_expect_eq(cents, cases[i].cents, "'%s' gave %lld cents", cases[i].text,
                     (long long)cents);
    }
}

Test(money_parse, rejects_the_spec_bad_examples_and_more) {
    static const bad_case cases[] = {
        {"0", 0, "zero"},
        {"0.00", 0, "zero"},
        {"-1", 0, "not a decimal number"},
        {"1.234", 0, "more than two decimals"},
        {"0.001", 0, "more than two decimals"},
        {"1e3", 0, "not a decimal number"},
        {"0x10", 0, "not a decimal number"},
        {" 5", 0, "not a decimal number"},
        {"5 ", 0, "not a decimal number"},
        {"", 0, "empty"},
        {"\xd9\xa5", 0, "not a decimal number"},     /* Arabic-Indic five */
        {"\xef\xbc\x95", 0, "not a decimal number"}, /* fullwidth five */
        {"1\xd9\xa0", 0, "not a decimal number"},    /* 1 then Arabic-Indic zero */
        {"99999999999999999999", 0, "more than 1000000000.00"},
        {"9223372036854775808", 0, "more than 1000000000.00"},
        {"1000000000.01", 0, "more than 1000000000.00"},
        {"1000000001", 0, "more than 1000000000.00"},
        {".5", 0, "no digits before the point"},
        {"5.", 0, "no digits after the point"},
        {".", 0, "no digits before the point"},
        {"+5", 0, "not a decimal number"},
        {"5.5.5", 0, "not a decimal number"},
        {"1,50", 0, "not a decimal number"},
        {"5\0"
         "0",
         2, "not a decimal number"}, /* a NUL inside the counted bytes */
        {"NaN", 0, "not a decimal number"},
        {"inf", 0, "not a decimal number"},
        {"1e99999999999999999999", 0, "not a decimal number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        int64_t cents = 12345;
        const char *why = NULL;
        int rc = money_parse(cases[i].text, len, false, &cents, &why);
        cr_expect_eq(rc, -1, "case %zu '%s' accepted as %lld", i, cases[i].text, (long long)cents);
        cr_expect_eq(cents, 12345, "case %zu: *cents written on failure", i);
        cr_expect(why != NULL && strcmp(why, cases[i].why) == 0,
                  "case %zu '%s': why '%s', expected '%s'", i, cases[i].text, why ? why : "(null)",
                  cases[i].why);
    }
}

Test(money_parse, zero_only_when_allowed) {
    int64_t cents = -1;
    cr_assert_eq(money_parse("0", 1, true, &cents, NULL), 0);
    cr_assert_eq(cents, 0);
    cr_assert_eq(money_parse("0.00", 4, true, &cents, NULL), 0);
    cr_assert_eq(cents, 0);
    cr_assert_eq(money_parse("0", 1, false, &cents, NULL), -1);
    /* allow_zero does not widen anything else. */
    cr_assert_eq(money_parse("-1", 2, true, &cents, NULL), -1);
    cr_assert_eq(money_parse("1000000000.01", 13, true, &cents, NULL), -1);
    cr_assert_eq(money_parse("1000000000.00", 13, true, &cents, NULL), 0);
    cr_assert_eq(cents, INT64_C(100000000000));
}

Test(money_parse, reads_exactly_len_bytes) {
    int64_t cents = 0;
    cr_assert_eq(money_parse("5.50xyz", 4, false, &cents, NULL), 0);
    cr_assert_eq(cents, 550);
    cr_assert_eq(money_parse("12345", 2, false, &cents, NULL), 0);
    cr_assert_eq(cents, 1200);
    cr_assert_eq(money_parse("5", 0, false, &cents, NULL), -1);
}

Test(money_format, formats_signs_zero_and_the_extremes) {
    static const struct {
        int64_t cents;
        const char *text;
    } cases[] = {
        {0, "0.00"},
        {1, "0.01"},
        {-1, "-0.01"},
        {10, "0.10"},
        {-100, "-1.00"},
        {1250, "12.50"},
        {-1250, "-12.50"},
        {100000000, "1000000.00"},
        {INT64_C(100000000000), "1000000000.00"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[MONEY_TEXT_BUF];
        memset(buf, 'x', sizeof buf);
        size_t n = money_format(cases[i].cents, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].text);
        cr_expect_eq(n, strlen(cases[i].text));
    }
}

Test(money_format, truncates_to_the_buffer_and_terminates) {
    char buf[4];
    size_t n = money_format(1250, buf, sizeof buf);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(buf, "12.");
    cr_assert_eq(money_format(1250, buf, 0), 0);
}

Test(money, format_then_parse_round_trips) {
    /* A deterministic spread of values over the whole accepted range. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t cents = (int64_t)(x % (uint64_t)MONEY_MAX_COMMAND_CENTS) + 1;
        char buf[MONEY_TEXT_BUF];
        size_t n = money_format(cents, buf, sizeof buf);
        int64_t back = 0;
        cr_assert_eq(money_parse(buf, n, false, &back, NULL), 0, "'%s' rejected", buf);
        cr_assert_eq(back, cents, "'%s' read back as %lld", buf, (long long)back);
    }
}
