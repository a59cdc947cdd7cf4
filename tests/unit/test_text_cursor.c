/*
 * test_text_cursor.c - the views' decimal ints: text_int_parse reads back
 * whatever text_int_format writes, at the edges of int64 too, and refuses
 * every other text (what a corrupt or foreign Redis value may hold).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "text_cursor.h"

static void expect_round_trip(int64_t v) {
    char buf[TEXT_INT_BUF];
    size_t n = text_int_format(v, buf);
    cr_assert_eq(n, strlen(buf));
    int64_t back = 0;
    cr_expect_eq(text_int_parse(buf, n, &back), 0, "'%s' refused", buf);
    cr_expect_eq(back, v, "'%s' read back as %lld", buf, (long long)back);
}

Test(text_int, formats_and_reads_back_the_edges_of_int64) {
    static const int64_t values[] = {0,
                                     1,
                                     -1,
                                     9,
                                     10,
                                     -10,
                                     123456789,
                                     INT32_MAX,
                                     INT32_MIN,
                                     INT64_MAX,
                                     INT64_MIN,
                                     INT64_MAX - 1,
                                     INT64_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        expect_round_trip(values[i]);
    for (int64_t v = 1; v < INT64_MAX / 7; v *= 7)
        expect_round_trip(-v);
}

Test(text_int, refuses_what_is_not_one_int64) {
    static const char *const bad[] = {"",
                                      "-",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "1.5",
                                      "0x10",
                                      "--1",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "18446744073709551616",
                                      "00000000000000000001",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t out = 42;
        cr_expect_eq(text_int_parse(bad[i], strlen(bad[i]), &out), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(out, 42, "'%s' changed the output", bad[i]);
    }
}

Test(text_int, reads_only_the_given_length) {
    int64_t out = 0;
    cr_expect_eq(text_int_parse("12345", 3, &out), 0);
    cr_expect_eq(out, 123);
}
