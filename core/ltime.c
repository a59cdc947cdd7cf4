/*
 * ltime.c - milliseconds since the epoch <-> RFC 3339 UTC text and months.
 *
 * The calendar is Howard Hinnant's days_from_civil / civil_from_days
 * (proleptic Gregorian, exact for every int64 day count), so no libc time
 * function (time zones, locale, a static struct tm) is ever involved.
 * Every division of a possibly negative quantity is a floor division: a
 * millisecond before 1970 belongs to the day and month that contain it.
 *
 * Parsing is strict: "YYYY-MM-DDTHH:MM:SS", an optional fraction of 1 to 3
 * digits, and an uppercase 'Z'. No offsets, no lowercase separators, no leap
 * second. Years outside 0001..9999 can be formatted (signed, as ISO 8601
 * expanded years: "+10000-01-01T00:00:00Z") but not parsed back.
 */
#include "ltime.h"

#include <stdbool.h>
#include <string.h>

#define MS_PER_DAY INT64_C(86400000)

typedef struct civil {
    int64_t year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
} civil;

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static civil civil_from_days(int64_t z) {
    civil c;
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c.year = yoe + era * 400 + (c.month <= 2);
    return c;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n ASCII digits at s; -1 if any is not a digit. */
static int read_digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Writes v (>= 0) with at least `width` digits; returns the count. */
static size_t write_uint(char *out, uint64_t v, int width) {
    char rev[24];
    int n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n < width)
        rev[n++] = '0';
    for (int i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return (size_t)n;
}

/* A year as at least 4 digits, signed outside 0000..9999 as ISO 8601's
 * expanded years are (and as java.time prints them). */
static size_t write_year(char *out, int64_t year) {
    size_t n = 0;
    uint64_t mag = (uint64_t)year;
    if (year < 0) {
        out[n++] = '-';
        mag = (uint64_t)0 - (uint64_t)year;
    } else if (year > 9999) {
        out[n++] = '+';
    }
    return n + write_uint(out + n, mag, 4);
}

/* Copies the formatted text into the caller's buffer, truncating. */
static size_t emit(const char *tmp, size_t n, char *buf, size_t size) {
    if (size == 0)
        return 0;
    if (n > size - 1)
        n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

int ltime_parse(const char *text, size_t len, int64_t *ms, const char **why) {
    const char *fault = "not YYYY-MM-DDTHH:MM:SS[.fff]Z";
    if (text == NULL || len < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':')
        goto fail;
    int year = read_digits(text, 4);
    int month = read_digits(text + 5, 2);
    int day = read_digits(text + 8, 2);
    int hour = read_digits(text + 11, 2);
    int minute = read_digits(text + 14, 2);
    int second = read_digits(text + 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
        goto fail;

    int millis = 0;
    size_t pos = 19;
    if (text[pos] == '.') {
        pos++;
        int digits = 0;
        while (pos < len && text[pos] >= '0' && text[pos] <= '9') {
            if (++digits > 3) {
                fault = "more than three fraction digits";
                goto fail;
            }
            millis = millis * 10 + (text[pos] - '0');
            pos++;
        }
        if (digits == 0) {
            fault = "no digits after the point";
            goto fail;
        }
        for (; digits < 3; digits++)
            millis *= 10;
    }
    if (pos + 1 != len || text[pos] != 'Z') {
        fault = "not UTC: must end in 'Z'";
        if (pos < len && text[pos] == 'Z')
            fault = "trailing characters after 'Z'";
        goto fail;
    }

    if (year < 1) {
        fault = "year out of range";
        goto fail;
    }
    if (month < 1 || month > 12) {
        fault = "month out of range";
        goto fail;
    }
    if (day < 1 || day > days_in_month(year, month)) {
        fault = "day out of range";
        goto fail;
    }
    if (hour > 23) {
        fault = "hour out of range";
        goto fail;
    }
    if (minute > 59) {
        fault = "minute out of range";
        goto fail;
    }
    if (second > 59) {
        fault = "second out of range";
        goto fail;
    }
    int64_t days = days_from_civil(year, month, day);
    *ms = days * MS_PER_DAY + (int64_t)((hour * 60 + minute) * 60 + second) * 1000 + millis;
    return 0;

fail:
    if (why != NULL)
        *why = fault;
    return -1;
}

size_t ltime_format(int64_t ms, char *buf, size_t size) {
    char tmp[LTIME_TEXT_BUF];
    int64_t days = floor_div(ms, MS_PER_DAY);
    int64_t in_day = ms % MS_PER_DAY; /* not ms - days * MS_PER_DAY: that overflows */
    if (in_day < 0)
        in_day += MS_PER_DAY;
    civil c = civil_from_days(days);
    int millis = (int)(in_day % 1000);
    int64_t secs = in_day / 1000;
    size_t n = write_year(tmp, c.year);

    tmp[n++] = '-';
    n += write_uint(tmp + n, (uint64_t)c.month, 2);
    tmp[n++] = '-';
    n += write_uint(tmp + n, (uint64_t)c.day, 2);
    tmp[n++] = 'T';
    n += write_uint(tmp + n, (uint64_t)(secs / 3600), 2);
    tmp[n++] = ':';
    n += write_uint(tmp + n, (uint64_t)(secs / 60 % 60), 2);
    tmp[n++] = ':';
    n += write_uint(tmp + n, (uint64_t)(secs % 60), 2);
    if (millis != 0) {
        tmp[n++] = '.';
        n += write_uint(tmp + n, (uint64_t)millis, 3);
    }
    tmp[n++] = 'Z';
    return emit(tmp, n, buf, size);
}

int32_t ltime_month_of(int64_t ms) {
    civil c = civil_from_days(floor_div(ms, MS_PER_DAY));
    int64_t month = c.year * 12 + (c.month - 1);
    /* Only years beyond +-178 million overflow an int32 month number. */
    if (month > INT32_MAX)
        return INT32_MAX;
    if (month < INT32_MIN)
        return INT32_MIN;
    return (int32_t)month;
}

int ltime_month_parse(const char *text, size_t len, int32_t *month, const char **why) {
    const char *fault = "not YYYY-MM";
    if (text == NULL || len != 7 || text[4] != '-')
        goto fail;
    int y = read_digits(text, 4);
    int m = read_digits(text + 5, 2);
    if (y < 0 || m < 0)
        goto fail;
    if (y < 1) {
        fault = "year out of range";
        goto fail;
    }
    if (m < 1 || m > 12) {
        fault = "month out of range";
        goto fail;
    }
    *month = (int32_t)(y * 12 + (m - 1));
    return 0;

fail:
    if (why != NULL)
        *why = fault;
    return -1;
}

size_t ltime_month_format(int32_t month, char *buf, size_t size) {
    char tmp[LTIME_TEXT_BUF];
    int64_t year = floor_div(month, 12);
    int m = (int)(month - year * 12) + 1;
    size_t n = write_year(tmp, year);
    tmp[n++] = '-';
    n += write_uint(tmp + n, (uint64_t)m, 2);
    return emit(tmp, n, buf, size);
}
