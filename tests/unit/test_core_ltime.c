/*
 * test_core_ltime.c - RFC 3339 UTC parsing and formatting, and month numbers.
 * Expected millisecond values were computed independently (Python's
 * calendar.timegm, and java.time.Instant for the int64 extremes).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ltime.h"

static int parse(const char *s, int64_t *ms, const char **why) {
    return ltime_parse(s, strlen(s), ms, why);
}

static const char *fmt(int64_t ms, char buf[LTIME_TEXT_BUF]) {
    ltime_format(ms, buf, LTIME_TEXT_BUF);
    return buf;
}

Test(ltime_parse, accepts_utc_times_with_optional_millis) {
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"2026-11-26T10:00:00Z", INT64_C(1795687200000)},
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:00.001Z", 1},
        {"1970-01-01T00:00:00.5Z", 500},
        {"1970-01-01T00:00:00.05Z", 50},
        {"1970-01-01T00:00:00.123Z", 123},
        {"1970-01-01T00:00:00.000Z", 0},
        {"1969-12-31T23:59:59.999Z", -1},
        {"2024-02-29T12:34:56.789Z", INT64_C(1709210096789)}, /* leap day */
        {"2000-02-29T00:00:00Z", INT64_C(951782400000)},      /* 400-year leap */
        {"1900-03-01T00:00:00Z", INT64_C(-2203891200000)},
        {"1600-02-29T01:02:03.004Z", INT64_C(-11670994676996)},
        {"0001-01-01T00:00:00Z", INT64_C(-62135596800000)},
        {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        const char *why = NULL;
        cr_expect_eq(parse(cases[i].text, &ms, &why), 0, "'%s' rejected: %s", cases[i].text,
                     why ? why : "?");
        cr_expect_eq(ms, cases[i].ms, "'%s' gave %lld", cases[i].text, (long long)ms);
    }
}

Test(ltime_parse, rejects_bad_dates_and_forms) {
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"2023-02-29T00:00:00Z", "day out of range"}, /* not a leap year */
        {"1900-02-29T00:00:00Z", "day out of range"}, /* century, not leap */
        {"2026-02-30T00:00:00Z", "day out of range"},
        {"2026-04-31T00:00:00Z", "day out of range"},
        {"2026-01-00T00:00:00Z", "day out of range"},
        {"2026-01-32T00:00:00Z", "day out of range"},
        {"2026-13-01T00:00:00Z", "month out of range"},
        {"2026-00-01T00:00:00Z", "month out of range"},
        {"0000-01-01T00:00:00Z", "year out of range"},
        {"2026-11-26T24:00:00Z", "hour out of range"},
        {"2026-11-26T23:60:00Z", "minute out of range"},
        {"2026-11-26T23:59:60Z", "second out of range"}, /* no leap second */
        {"2026-11-26T10:00:00.1234Z", "more than three fraction digits"},
        {"2026-11-26T10:00:00.Z", "no digits after the point"},
        {"2026-11-26T10:00:00", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"2026-11-26T10:00:00+00:00", "not UTC: must end in 'Z'"},
        {"2026-11-26T10:00:00z", "not UTC: must end in 'Z'"},
        {"2026-11-26T10:00:00ZZ", "trailing characters after 'Z'"},
        {"2026-11-26 10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"2026-11-26t10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"26-11-26T10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"2026-1-26T10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"2026-11-26T10:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"+2026-11-26T10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"2026-11-2aT10:00:00Z", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
        {"", "not YYYY-MM-DDTHH:MM:SS[.fff]Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        const char *why = NULL;
        cr_expect_eq(parse(cases[i].text, &ms, &why), -1, "'%s' accepted", cases[i].text);
        cr_expect_eq(ms, 42, "'%s': *ms written on failure", cases[i].text);
        cr_expect(why != NULL && strcmp(why, cases[i].why) == 0, "'%s': why '%s', expected '%s'",
                  cases[i].text, why ? why : "(null)", cases[i].why);
    }
}

Test(ltime_parse, reads_exactly_len_bytes) {
    int64_t ms = 42;
    const char *text = "1970-01-01T00:00:01Zjunk";
    cr_expect_eq(ltime_parse(text, 20, &ms, NULL), 0);
    cr_expect_eq(ms, 1000);
    cr_expect_eq(ltime_parse(text, 19, &ms, NULL), -1);
    cr_expect_eq(ltime_parse(text, strlen(text), &ms, NULL), -1);
    /* The fraction stops at len too. */
    cr_expect_eq(ltime_parse("1970-01-01T00:00:00.12", 22, &ms, NULL), -1);
}

Test(ltime_format, formats_with_millis_only_when_nonzero) {
    char buf[LTIME_TEXT_BUF];
    cr_expect_str_eq(fmt(0, buf), "1970-01-01T00:00:00Z");
    cr_expect_str_eq(fmt(1, buf), "1970-01-01T00:00:00.001Z");
    cr_expect_str_eq(fmt(500, buf), "1970-01-01T00:00:00.500Z");
    cr_expect_str_eq(fmt(-1, buf), "1969-12-31T23:59:59.999Z");
    cr_expect_str_eq(fmt(INT64_C(1795687200000), buf), "2026-11-26T10:00:00Z");
    cr_expect_str_eq(fmt(INT64_C(1709210096789), buf), "2024-02-29T12:34:56.789Z");
    cr_expect_str_eq(fmt(INT64_C(-62135596800000), buf), "0001-01-01T00:00:00Z");
    cr_expect_str_eq(fmt(INT64_C(-62135596800001), buf), "0000-12-31T23:59:59.999Z");
    cr_expect_str_eq(fmt(INT64_C(253402300800000), buf), "+10000-01-01T00:00:00Z");
    /* java.time.Instant.ofEpochMilli(Long.MAX_VALUE / Long.MIN_VALUE). */
    cr_expect_str_eq(fmt(INT64_MAX, buf), "+292278994-08-17T07:12:55.807Z");
    cr_expect_str_eq(fmt(INT64_MIN, buf), "-292275055-05-16T16:47:04.192Z");
}

Test(ltime_format, returns_the_length_and_truncates) {
    char buf[LTIME_TEXT_BUF];
    cr_expect_eq(ltime_format(0, buf, sizeof buf), strlen("1970-01-01T00:00:00Z"));
    char small[8];
    cr_expect_eq(ltime_format(0, small, sizeof small), 7);
    cr_expect_str_eq(small, "1970-01");
}

Test(ltime, parse_and_format_round_trip_over_years_1_to_9999) {
    uint64_t x = 0x2545f4914f6cdd1du;
    const int64_t lo = INT64_C(-62135596800000), hi = INT64_C(253402300799999);
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
        if (i % 3 == 0)
            ms -= ms % 1000; /* also whole seconds, formatted without a fraction */
        char buf[LTIME_TEXT_BUF];
        size_t n = ltime_format(ms, buf, sizeof buf);
        int64_t back = 0;
        const char *why = NULL;
        cr_assert_eq(ltime_parse(buf, n, &back, &why), 0, "'%s' rejected: %s", buf, why);
        cr_assert_eq(back, ms, "'%s' read back as %lld, not %lld", buf, (long long)back,
                     (long long)ms);
    }
}

Test(ltime_month, month_of_uses_floor_division_before_1970) {
    cr_expect_eq(ltime_month_of(0), 1970 * 12 + 0);
    cr_expect_eq(ltime_month_of(-1), 1969 * 12 + 11);
    cr_expect_eq(ltime_month_of(INT64_C(1795687200000)), 2026 * 12 + 10);
    /* The last millisecond of a leap February and the first of March. */
    cr_expect_eq(ltime_month_of(INT64_C(1709251199999)), 2024 * 12 + 1);
    cr_expect_eq(ltime_month_of(INT64_C(1709251200000)), 2024 * 12 + 2);
    cr_expect_eq(ltime_month_of(INT64_C(-62135596800000)), 1 * 12 + 0);
    cr_expect_eq(ltime_month_of(INT64_C(-62135596800001)), 0 * 12 + 11);
    /* Beyond +-178 million years the month number saturates. */
    cr_expect_eq(ltime_month_of(INT64_MAX), INT32_MAX);
    cr_expect_eq(ltime_month_of(INT64_MIN), INT32_MIN);
}

Test(ltime_month, parse_and_format) {
    int32_t m = 0;
    const char *why = NULL;
    cr_expect_eq(ltime_month_parse("2026-11", 7, &m, &why), 0);
    cr_expect_eq(m, 2026 * 12 + 10);
    cr_expect_eq(ltime_month_parse("0001-01", 7, &m, &why), 0);
    cr_expect_eq(m, 12);

    static const char *const bad[] = {"2026-13", "2026-00",    "0000-01", "26-11", "2026-1",
                                      "2026/11", "2026-11-01", "2026-1a", "",      "２０２６-11"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = 7;
        cr_expect_eq(ltime_month_parse(bad[i], strlen(bad[i]), &m, &why), -1, "'%s' accepted",
                     bad[i]);
        cr_expect_eq(m, 7);
    }
    cr_expect_eq(ltime_month_parse("2026-13", 7, &m, &why), -1);
    cr_expect_str_eq(why, "month out of range");

    char buf[LTIME_TEXT_BUF];
    cr_expect_eq(ltime_month_format(2026 * 12 + 10, buf, sizeof buf), 7);
    cr_expect_str_eq(buf, "2026-11");
    ltime_month_format(0, buf, sizeof buf);
    cr_expect_str_eq(buf, "0000-01");
    ltime_month_format(-1, buf, sizeof buf);
    cr_expect_str_eq(buf, "-0001-12");
    ltime_month_format(1969 * 12 + 11, buf, sizeof buf);
    cr_expect_str_eq(buf, "1969-12");
}

Test(ltime_month, month_of_agrees_with_the_parsed_month_for_every_month) {
    /* The first and last millisecond of each month from 1900 to 2100. */
    for (int y = 1900; y <= 2100; y++) {
        for (int mo = 1; mo <= 12; mo++) {
            char text[32];
            int64_t first = 0, next = 0;
            snprintf(text, sizeof text, "%04d-%02d-01T00:00:00Z", y, mo);
            cr_assert_eq(ltime_parse(text, strlen(text), &first, NULL), 0, "%s", text);
            snprintf(text, sizeof text, "%04d-%02d-01T00:00:00Z", mo == 12 ? y + 1 : y,
                     mo == 12 ? 1 : mo + 1);
            cr_assert_eq(ltime_parse(text, strlen(text), &next, NULL), 0, "%s", text);
            int32_t want = (int32_t)(y * 12 + mo - 1);
            cr_expect_eq(ltime_month_of(first), want, "%04d-%02d first ms", y, mo);
            cr_expect_eq(ltime_month_of(next - 1), want, "%04d-%02d last ms", y, mo);
        }
    }
}
