/*
 * test_ops_units.c - the pure piece of the projector's progress
 * (projectors/rate_window.h): the rate over the last samples, with times
 * given, so nothing waits.
 */
#include <criterion/criterion.h>

#include "rate_window.h"

Test(rate_window, no_rate_from_one_sample_or_no_time) {
    rate_window w;
    rate_window_init(&w);
    cr_assert_eq(rate_window_add(&w, 1000, 500), 0);
    cr_assert_eq(rate_window_add(&w, 1000, 900), 0, "no time passed");
}

Test(rate_window, rate_between_the_oldest_and_newest_sample) {
    rate_window w;
    rate_window_init(&w);
    rate_window_add(&w, 0, 0);
    cr_assert_float_eq(rate_window_add(&w, 500, 250), 500.0, 1e-9);
    cr_assert_float_eq(rate_window_add(&w, 2000, 1000), 500.0, 1e-9);
}

/* Once the ring is full, the rate is the last ten intervals' only: the
 * sample it replaces is never the one it measures from. */
Test(rate_window, full_ring_forgets_the_old_rate) {
    rate_window w;
    rate_window_init(&w);
    uint64_t total = 0;
    int64_t t = 0;
    double rate = 0;
    for (int i = 0; i < 3 * RATE_WINDOW_SAMPLES; i++) {
        rate = rate_window_add(&w, t, total);
        t += 1000;
        total += 100;
    }
    cr_assert_float_eq(rate, 100.0, 1e-9);
    for (int i = 0; i < RATE_WINDOW_SAMPLES - 1; i++) {
        rate = rate_window_add(&w, t, total);
        t += 1000;
        total += 300;
    }
    /* The window now spans one 100/s interval and nine 300/s ones. */
    cr_assert_float_eq(rate, (100.0 + 9 * 300.0) / 10.0, 1e-9);
    rate = rate_window_add(&w, t, total);
    cr_assert_float_eq(rate, 300.0, 1e-9);
}
