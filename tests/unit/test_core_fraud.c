/*
 * test_core_fraud.c - the fraud rules of SPEC section 7 at their exact
 * thresholds, and the bounded velocity window against a brute-force count
 * over the full history.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fraud.h"
#include "model.h"

#define T0 INT64_C(1795687200000)

static fraud_config defaults(void) {
    fraud_config c;
    fraud_config_default(&c);
    return c;
}

static ledger_event debit(ledger_event_type type, int64_t seq, int64_t at, int64_t amount,
                          const char *to) {
    ledger_event e = model_event(type, "A", seq, at, amount);
    if (to != NULL)
        ledger_id_copy(e.counterparty, sizeof e.counterparty, to);
    return e;
}

/* Runs one event through a fresh window and returns the rules fired, OR-ed. */
static int rules_of(const ledger_event *e, bool payee_seen) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    int n = fraud_check(&c, &w, e, payee_seen, out);
    int rules = 0;
    for (int i = 0; i < n; i++)
        rules |= out[i].rule;
    return rules;
}

Test(fraud_config, defaults_are_the_spec_thresholds_and_valid) {
    fraud_config c = defaults();
    cr_expect_eq(c.large_debit_cents, 1000000);
    cr_expect_eq(c.velocity_count, 5);
    cr_expect_eq(c.velocity_window_ms, 60000);
    cr_expect_eq(c.new_payee_cents, 100000);
    const char *why = "untouched";
    cr_expect_eq(fraud_config_validate(&c, &why), 0);
}

Test(fraud_config, validate_names_the_bad_setting) {
    static const struct {
        int field;
        int64_t value;
        const char *name;
    } cases[] = {
        {0, 0, "large_debit_cents"},
        {1, 0, "velocity_count"},
        {1, FRAUD_WINDOW_CAP + 1, "velocity_count"},
        {2, -1, "velocity_window_ms"},
        {3, 0, "new_payee_cents"},
        {3, -5, "new_payee_cents"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fraud_config c = defaults();
        if (cases[i].field == 0)
            c.large_debit_cents = cases[i].value;
        else if (cases[i].field == 1)
            c.velocity_count = (int32_t)cases[i].value;
        else if (cases[i].field == 2)
            c.velocity_window_ms = cases[i].value;
        else
            c.new_payee_cents = cases[i].value;
        const char *why = NULL;
        cr_expect_eq(fraud_config_validate(&c, &why), -1, "case %zu", i);
        cr_expect(why != NULL && strstr(why, cases[i].name) != NULL, "case %zu: '%s'", i,
                  why ? why : "(null)");
    }
    fraud_config c = defaults();
    c.velocity_count = FRAUD_WINDOW_CAP;
    c.velocity_window_ms = 0;
    cr_expect_eq(fraud_config_validate(&c, NULL), 0);
}

Test(fraud_large_debit, at_10000_00_not_at_9999_99) {
    ledger_event w1 = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 7, T0, 999999, NULL);
    ledger_event w2 = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 7, T0, 1000000, NULL);
    ledger_event t2 = debit(LEDGER_EVENT_TRANSFER_SENT, 7, T0, 1000000, "B");
    ledger_event dep = model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 7, T0, 5000000);
    cr_expect_eq(rules_of(&w1, false), 0);
    cr_expect_eq(rules_of(&w2, false), FRAUD_LARGE_DEBIT);
    cr_expect_eq(rules_of(&t2, true), FRAUD_LARGE_DEBIT);
    cr_expect_eq(rules_of(&dep, false), 0, "a deposit is no debit");

    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    cr_assert_eq(fraud_check(&c, &w, &w2, false, out), 1);
    cr_expect_eq(out[0].rule, FRAUD_LARGE_DEBIT);
    cr_expect_eq(out[0].seq, 7);
    cr_expect_eq(out[0].at_ms, T0);
    cr_expect_eq(out[0].amount, -1000000, "flag amounts are signed");
}

Test(fraud_non_debits, leave_the_window_alone) {
    fraud_config c = defaults();
    fraud_window w, before;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    ledger_event d = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 1, T0, 100, NULL);
    fraud_check(&c, &w, &d, false, out);
    before = w;
    static const ledger_event_type others[] = {
        LEDGER_EVENT_ACCOUNT_OPENED, LEDGER_EVENT_MONEY_DEPOSITED, LEDGER_EVENT_TRANSFER_RECEIVED,
        LEDGER_EVENT_TRANSFER_RETURNED, LEDGER_EVENT_ACCOUNT_CLOSED};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ledger_event e = model_event(others[i], "A", 2, T0, 5000000);
        cr_expect_eq(fraud_check(&c, &w, &e, false, out), 0);
    }
    cr_expect(memcmp(&w, &before, sizeof w) == 0);
}

/* Feeds debits at the given times (ms after T0) and returns whether the last
 * one raised a velocity flag. */
static bool velocity_on_last(const int64_t *offsets, int n) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    bool last = false;
    for (int i = 0; i < n; i++) {
        ledger_event e = debit(i % 2 ? LEDGER_EVENT_TRANSFER_SENT : LEDGER_EVENT_MONEY_WITHDRAWN,
                               i + 1, T0 + offsets[i], 100, "B");
        int k = fraud_check(&c, &w, &e, true, out);
        last = false;
        for (int j = 0; j < k; j++)
            last |= out[j].rule == FRAUD_VELOCITY;
    }
    return last;
}

Test(fraud_velocity, five_debits_in_the_window_flag_four_do_not) {
    const int64_t four[] = {0, 1000, 2000, 3000};
    const int64_t five[] = {0, 1000, 2000, 3000, 4000};
    cr_expect(!velocity_on_last(four, 4));
    cr_expect(velocity_on_last(five, 5));
}

Test(fraud_velocity, the_window_is_closed_60_000_ms_in_60_001_ms_out) {
    const int64_t at_60s[] = {0, 1000, 2000, 3000, 60000};
    const int64_t at_60_001s[] = {0, 1000, 2000, 3000, 60001};
    cr_expect(velocity_on_last(at_60s, 5), "the first debit is exactly 60 s before");
    cr_expect(!velocity_on_last(at_60_001s, 5), "the first debit is 60.001 s before");
}

Test(fraud_velocity, flags_every_debit_while_the_rate_lasts) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    for (int i = 0; i < 8; i++) {
        ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, i + 1, T0 + i * 10000, 100, NULL);
        int n = fraud_check(&c, &w, &e, false, out);
        /* debits at 0,10,...,70 s: from the 5th on, >= 5 lie within 60 s. */
        cr_expect_eq(n, i >= 4 ? 1 : 0, "debit %d", i + 1);
        if (n == 1) {
            cr_expect_eq(out[0].rule, FRAUD_VELOCITY);
            cr_expect_eq(out[0].seq, i + 1);
            cr_expect_eq(out[0].amount, -100);
        }
    }
}

Test(fraud_velocity, a_back_dated_debit_counts_only_what_lies_before_it) {
    /* Debits at 10, 20, 30, 40 s, then one back-dated to 5 s: none of the
     * others lies in [5 s - 60 s, 5 s], so only the debit itself counts. */
    const int64_t offsets[] = {10000, 20000, 30000, 40000, 5000};
    cr_expect(!velocity_on_last(offsets, 5));
    /* Back-dated to 45 s after debits at 10..50 s: 10..40 s lie in
     * [-15 s, 45 s], 50 s does not (it is later); with itself that makes 5. */
    const int64_t offsets2[] = {10000, 20000, 30000, 40000, 50000, 45000};
    cr_expect(velocity_on_last(offsets2, 6));
    /* Without the debit at 10 s it makes 4: the later 50 s must not count. */
    const int64_t offsets2b[] = {20000, 30000, 40000, 50000, 45000};
    cr_expect(!velocity_on_last(offsets2b, 5));
    /* Back-dated by more than the window: it still counts itself only. */
    const int64_t offsets3[] = {100000, 100000, 100000, 100000, 0};
    cr_expect(!velocity_on_last(offsets3, 5));
}

Test(fraud_velocity, the_window_stays_bounded) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    for (int i = 0; i < 1000; i++) {
        ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, i + 1, T0, 100, NULL);
        int n = fraud_check(&c, &w, &e, false, out);
        cr_assert_eq(n, i >= 4 ? 1 : 0, "debit %d", i + 1);
        cr_assert_leq(w.count, FRAUD_WINDOW_CAP);
    }
    /* A time more than the window later empties it of everything older. */
    ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 1001, T0 + 60001, 100, NULL);
    cr_expect_eq(fraud_check(&c, &w, &e, false, out), 0);
    cr_expect_eq(w.count, 1);
    /* A count out of range (a corrupt stored window) is clamped, not trusted. */
    w.count = 1000;
    fraud_check(&c, &w, &e, false, out);
    cr_expect_leq(w.count, FRAUD_WINDOW_CAP);
    w.count = -3;
    fraud_check(&c, &w, &e, false, out);
    cr_expect_eq(w.count, 1);
}

Test(fraud_velocity, a_full_window_drops_the_oldest_time) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    for (int i = 0; i < FRAUD_WINDOW_CAP; i++) {
        ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, i + 1, T0 + 1000 + i, 100, NULL);
        fraud_check(&c, &w, &e, false, out);
    }
    cr_assert_eq(w.count, FRAUD_WINDOW_CAP);
    /* Older than every kept time: it would be the oldest, so it goes. */
    ledger_event old = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 65, T0, 100, NULL);
    fraud_check(&c, &w, &old, false, out);
    cr_expect_eq(w.count, FRAUD_WINDOW_CAP);
    cr_expect_eq(w.at_ms[0], T0 + 1000);
    /* A newer one pushes the oldest out and keeps the times sorted. */
    ledger_event newer = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 66, T0 + 1030, 100, NULL);
    fraud_check(&c, &w, &newer, false, out);
    cr_expect_eq(w.count, FRAUD_WINDOW_CAP);
    cr_expect_eq(w.at_ms[0], T0 + 1001);
    for (int i = 1; i < w.count; i++)
        cr_assert_leq(w.at_ms[i - 1], w.at_ms[i], "unsorted at %d", i);
}

Test(fraud_velocity, matches_a_brute_force_count_over_the_full_history) {
    /* Debits in non-decreasing time order with random gaps: the window rule
     * must then be exact. The brute force counts over every earlier debit. */
    enum { N = 3000 };
    static int64_t at[N];
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    uint64_t x = 0x853c49e6748fea9bu;
    int64_t t = T0;
    int flagged = 0;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t += (int64_t)(x % 40000); /* gaps of 0..40 s: both outcomes happen */
        at[i] = t;
        int want = 0;
        for (int j = 0; j <= i; j++)
            want += at[j] >= at[i] - 60000 && at[j] <= at[i];
        ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, i + 1, t, 100, NULL);
        int n = fraud_check(&c, &w, &e, false, out);
        cr_assert_eq(n, want >= 5 ? 1 : 0, "debit %d at +%lld: %d in the window", i + 1,
                     (long long)(t - T0), want);
        flagged += n;
    }
    cr_expect(flagged > 0 && flagged < N, "the sequence exercised both outcomes (%d)", flagged);
}

Test(fraud_new_payee, at_1000_00_to_an_unseen_payee) {
    ledger_event t1 = debit(LEDGER_EVENT_TRANSFER_SENT, 3, T0, 99999, "B");
    ledger_event t2 = debit(LEDGER_EVENT_TRANSFER_SENT, 3, T0, 100000, "B");
    ledger_event w = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 3, T0, 100000, NULL);
    cr_expect_eq(rules_of(&t1, false), 0, "999.99 to a new payee");
    cr_expect_eq(rules_of(&t2, false), FRAUD_NEW_PAYEE, "1000.00 to a new payee");
    cr_expect_eq(rules_of(&t2, true), 0, "1000.00 to a payee seen before");
    cr_expect_eq(rules_of(&w, false), 0, "a withdrawal has no payee");
}

Test(fraud, all_three_rules_in_rule_order) {
    fraud_config c = defaults();
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    for (int i = 0; i < 4; i++) {
        ledger_event e = debit(LEDGER_EVENT_MONEY_WITHDRAWN, i + 1, T0 + i, 100, NULL);
        cr_assert_eq(fraud_check(&c, &w, &e, false, out), 0);
    }
    ledger_event big = debit(LEDGER_EVENT_TRANSFER_SENT, 5, T0 + 4, 2000000, "NEW");
    cr_assert_eq(fraud_check(&c, &w, &big, false, out), 3);
    cr_expect_eq(out[0].rule, FRAUD_LARGE_DEBIT);
    cr_expect_eq(out[1].rule, FRAUD_VELOCITY);
    cr_expect_eq(out[2].rule, FRAUD_NEW_PAYEE);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(out[i].seq, 5);
        cr_expect_eq(out[i].at_ms, T0 + 4);
        cr_expect_eq(out[i].amount, -2000000);
    }
}

Test(fraud, thresholds_are_configurable) {
    fraud_config c = defaults();
    c.large_debit_cents = 500;
    c.velocity_count = 2;
    c.velocity_window_ms = 10;
    c.new_payee_cents = 50;
    fraud_window w;
    fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
    fraud_window_init(&w);
    ledger_event a = debit(LEDGER_EVENT_TRANSFER_SENT, 1, 0, 50, "B");
    cr_expect_eq(fraud_check(&c, &w, &a, false, out), 1);
    cr_expect_eq(out[0].rule, FRAUD_NEW_PAYEE);
    ledger_event b = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 2, 10, 500, NULL);
    cr_expect_eq(fraud_check(&c, &w, &b, false, out), 2);
    cr_expect_eq(out[0].rule, FRAUD_LARGE_DEBIT);
    cr_expect_eq(out[1].rule, FRAUD_VELOCITY);
    ledger_event d = debit(LEDGER_EVENT_MONEY_WITHDRAWN, 3, 21, 1, NULL);
    cr_expect_eq(fraud_check(&c, &w, &d, false, out), 0, "11 ms after the last: outside");
}
