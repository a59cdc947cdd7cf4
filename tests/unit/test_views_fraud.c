/*
 * test_views_fraud.c - the fraud view without Redis: its settings, the
 * stored window format, flag rendering, and each rule at its thresholds
 * through the view's batches (run by test_views_harness.h), including a
 * payee first paid earlier in the same batch and flags that do not depend
 * on where batches are cut.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fraud_view.h"
#include "ltime.h"
#include "model.h"
#include "test_views_harness.h"

#define NS "t"

static int64_t at(const char *text) {
    int64_t ms;
    const char *why = NULL;
    cr_assert_eq(ltime_parse(text, strlen(text), &ms, &why), 0, "bad time '%s'", text);
    return ms;
}

#define T0 at("2026-11-26T10:00:00Z")

static ledger_event withdrawal(const char *account, int64_t seq, int64_t at_ms, int64_t amount) {
    return model_event(LEDGER_EVENT_MONEY_WITHDRAWN, account, seq, at_ms, amount);
}

static ledger_event sent(const char *account, int64_t seq, int64_t at_ms, int64_t amount,
                         const char *to) {
    ledger_event e = model_event(LEDGER_EVENT_TRANSFER_SENT, account, seq, at_ms, amount);
    ledger_id_copy(e.counterparty, sizeof e.counterparty, to);
    ledger_id_copy(e.transfer_id, sizeof e.transfer_id, MODEL_TRANSFER_ID);
    return e;
}

static const char *key(const harness *h, const char *account, const char *suffix) {
    static char buf[4][256];
    static int next;
    char *b = buf[next++ % 4];
    harness_account_key(h, account, suffix, b, sizeof buf[0]);
    return b;
}

static fraud_config defaults(void) {
    fraud_config c;
    fraud_config_default(&c);
    return c;
}

static void run(harness *h, const fraud_config *c, const ledger_event *events, size_t n) {
    cr_assert_eq(harness_run_batch(h, &fraud_view, c, events, n), 0, "apply failed: %s",
                 harness_error(h));
}

/* The account's flags as "rule:seq" joined by spaces. */
static void flags_of(const harness *h, const char *account, char *buf, size_t size) {
    const char *list = key(h, account, "flags");
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < harness_llen(h, list); i++) {
        const char *f = harness_lindex(h, list, i);
        char rule[32] = "";
        long long seq = -1;
        cr_assert_eq(sscanf(f, "{\"rule\":\"%31[a-z_]\",\"seq\":%lld,", rule, &seq), 2, "flag %s",
                     f);
        len += (size_t)snprintf(buf + len, size - len, "%s%s:%lld", i ? " " : "", rule, seq);
        cr_assert_lt(len, size);
    }
}

/* ---- settings ---- */

static ledger_config_status load(ledger_config **cfg, int argc, char **argv, char *errstr,
                                 size_t errstr_size) {
    static const ledger_config_setting *tables[2];
    tables[0] = fraud_view.settings;
    tables[1] = NULL;
    *cfg = ledger_config_new("test", tables);
    cr_assert_not_null(*cfg);
    return ledger_config_load(*cfg, argc, argv, errstr, errstr_size);
}

Test(fraud_settings, defaults_are_the_spec_thresholds) {
    ledger_config *cfg;
    char errstr[256];
    char *argv[] = {NULL};
    cr_assert_eq(load(&cfg, 0, argv, errstr, sizeof errstr), LEDGER_CONFIG_OK, "%s", errstr);
    void *state = NULL;
    cr_assert_eq(fraud_view.open(cfg, &state, errstr, sizeof errstr), 0, "%s", errstr);
    const fraud_config *c = state;
    cr_expect_eq(c->large_debit_cents, 1000000);
    cr_expect_eq(c->velocity_count, 5);
    cr_expect_eq(c->velocity_window_ms, 60000);
    cr_expect_eq(c->new_payee_cents, 100000);
    fraud_view.close(state);
    ledger_config_destroy(cfg);
}

Test(fraud_settings, flags_and_environment_set_the_thresholds) {
    setenv("LEDGER_FRAUD_NEW_PAYEE", "250.5", 1);
    ledger_config *cfg;
    char errstr[256];
    char *argv[] = {"--fraud-large-debit", "99.99", "--fraud-velocity-count=3",
                    "--fraud-velocity-window", "60001ms"};
    cr_assert_eq(load(&cfg, 5, argv, errstr, sizeof errstr), LEDGER_CONFIG_OK, "%s", errstr);
    void *state = NULL;
    cr_assert_eq(fraud_view.open(cfg, &state, errstr, sizeof errstr), 0, "%s", errstr);
    const fraud_config *c = state;
    cr_expect_eq(c->large_debit_cents, 9999);
    cr_expect_eq(c->velocity_count, 3);
    cr_expect_eq(c->velocity_window_ms, 60001);
    cr_expect_eq(c->new_payee_cents, 25050);
    fraud_view.close(state);
    ledger_config_destroy(cfg);
}

Test(fraud_settings, a_bad_threshold_is_refused_naming_the_setting) {
    static const struct {
        const char *flag, *value, *name;
    } cases[] = {
        {"--fraud-large-debit", "1.234", "--fraud-large-debit"},
        {"--fraud-large-debit", "0", "--fraud-large-debit"},
        {"--fraud-new-payee", "-5", "--fraud-new-payee"},
        {"--fraud-velocity-count", "0", "--fraud-velocity-count"},
        {"--fraud-velocity-count", "65", "--fraud-velocity-count"},
        {"--fraud-velocity-window", "soon", "--fraud-velocity-window"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ledger_config *cfg;
        char errstr[256] = "";
        char *argv[] = {(char *)cases[i].flag, (char *)cases[i].value};
        cr_expect_eq(load(&cfg, 2, argv, errstr, sizeof errstr), LEDGER_CONFIG_ERROR, "case %zu",
                     i);
        cr_expect(strstr(errstr, cases[i].name) != NULL, "case %zu: got '%s'", i, errstr);
        ledger_config_destroy(cfg);
    }
}

/* ---- the stored window ---- */

Test(fraud_window_text, round_trips_and_reads_empty) {
    fraud_window w, back;
    fraud_window_init(&w);
    char buf[FRAUD_VIEW_WINDOW_TEXT_MAX];
    const char *why = NULL;
    cr_expect_eq(fraud_view_window_format(&w, buf, sizeof buf), 3);
    cr_expect_str_eq(buf, "v1:");
    cr_assert_eq(fraud_view_window_parse(buf, 3, &back, &why), 0);
    cr_expect_eq(back.count, 0);

    w.count = 3;
    w.at_ms[0] = -5;
    w.at_ms[1] = 1795687200000;
    w.at_ms[2] = 1795687200000;
    fraud_view_window_format(&w, buf, sizeof buf);
    cr_expect_str_eq(buf, "v1:-5,1795687200000,1795687200000");
    cr_assert_eq(fraud_view_window_parse(buf, strlen(buf), &back, &why), 0);
    cr_expect_eq(back.count, 3);
    cr_expect_eq(back.at_ms[0], -5);
    cr_expect_eq(back.at_ms[2], 1795687200000);
}

Test(fraud_window_text, a_full_window_at_the_extremes_fits_the_documented_buffer) {
    fraud_window w, back;
    w.count = FRAUD_WINDOW_CAP;
    for (int i = 0; i < FRAUD_WINDOW_CAP; i++)
        w.at_ms[i] = INT64_MIN;
    char buf[FRAUD_VIEW_WINDOW_TEXT_MAX];
    const char *why = NULL;
    size_t n = fraud_view_window_format(&w, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(fraud_view_window_parse(buf, n, &back, &why), 0, "%s", why);
    cr_expect_eq(back.count, FRAUD_WINDOW_CAP);
    cr_expect_eq(back.at_ms[63], INT64_MIN);
}

Test(fraud_window_text, malformed_text_is_refused) {
    static const char *const bad[] = {
        "", "v1", "v2:1", "v1:1,,2", "v1:a", "v1:1,", "v1:5,3", "v1: 1", "v1:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fraud_window w;
        const char *why = NULL;
        cr_expect_eq(fraud_view_window_parse(bad[i], strlen(bad[i]), &w, &why), -1, "'%s'", bad[i]);
        cr_expect_not_null(why, "'%s'", bad[i]);
        cr_expect_eq(w.count, 0, "'%s'", bad[i]);
    }
    char many[2048] = "v1:0";
    for (int i = 0; i < FRAUD_WINDOW_CAP; i++)
        strcat(many, ",1");
    fraud_window w;
    const char *why = NULL;
    cr_expect_eq(fraud_view_window_parse(many, strlen(many), &w, &why), -1);
}

Test(fraud_flag_text, renders_the_spec_shape) {
    fraud_flag f = {.rule = FRAUD_VELOCITY, .seq = 9, .at_ms = T0, .amount = -2000};
    char buf[FRAUD_VIEW_FLAG_MAX];
    size_t n = fraud_view_flag_render(&f, buf, sizeof buf);
    cr_expect_str_eq(
        buf,
        "{\"rule\":\"velocity\",\"seq\":9,\"at\":\"2026-11-26T10:00:00Z\",\"amount\":\"-20.00\"}");
    cr_expect_eq(n, strlen(buf));
    f.rule = (fraud_rule)3;
    cr_expect_eq(fraud_view_flag_render(&f, buf, sizeof buf), 0);
}

/* ---- rules at their thresholds, through the view ---- */

Test(fraud_view, large_debit_at_10000_00_not_9999_99) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[] = {
        withdrawal("A", 1, T0, 999999),
        sent("B", 1, T0, 999999, "X"),
        withdrawal("C", 1, T0, 1000000),
        sent("D", 1, T0, 1000000, "X"),
    };
    /* B and D paid X before, so only large_debit is in play. */
    ledger_event prior[] = {sent("B", 1, T0 - 86400000, 1, "X"),
                            sent("D", 1, T0 - 86400000, 1, "X")};
    run(h, &c, prior, 2);
    events[1].seq = 2;
    events[3].seq = 2;
    run(h, &c, events, 4);

    char flags[256];
    const char *want[] = {"", "", "large_debit:1", "large_debit:2"};
    const char *acct[] = {"A", "B", "C", "D"};
    for (int i = 0; i < 4; i++) {
        flags_of(h, acct[i], flags, sizeof flags);
        cr_expect_str_eq(flags, want[i], "account %s", acct[i]);
    }
    char *f = (char *)harness_lindex(h, key(h, "C", "flags"), 0);
    cr_expect_str_eq(f, "{\"rule\":\"large_debit\",\"seq\":1,\"at\":\"2026-11-26T10:00:00Z\","
                        "\"amount\":\"-10000.00\"}");
    cr_expect_not(harness_sismember(h, "t:fraud:g1:flagged", "A"));
    cr_expect_not(harness_sismember(h, "t:fraud:g1:flagged", "B"));
    cr_expect(harness_sismember(h, "t:fraud:g1:flagged", "C"));
    cr_expect(harness_sismember(h, "t:fraud:g1:flagged", "D"));
    harness_destroy(h);
}

/* Debits at t, t+15s, t+30s, t+45s, then the fifth at t+60s: flagged. */
Test(fraud_view, velocity_fifth_debit_within_60_s_is_flagged_fourth_is_not) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[5];
    for (int i = 0; i < 4; i++)
        events[i] = withdrawal("A", i + 1, T0 + i * 15000, 100);
    events[4] = sent("A", 5, T0 + 60000, 2000, "B");
    run(h, &c, events, 4);
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "", "four debits are not enough");
    run(h, &c, events + 4, 1);
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "velocity:5");
    cr_expect_str_eq(harness_lindex(h, key(h, "A", "flags"), 0),
                     "{\"rule\":\"velocity\",\"seq\":5,\"at\":\"2026-11-26T10:01:00Z\","
                     "\"amount\":\"-20.00\"}");
    harness_destroy(h);
}

Test(fraud_view, velocity_fifth_debit_at_60_001_s_is_not_flagged) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[5];
    for (int i = 0; i < 4; i++)
        events[i] = withdrawal("A", i + 1, T0 + i * 15000, 100);
    events[4] = withdrawal("A", 5, T0 + 60001, 100);
    for (int i = 0; i < 5; i++)
        run(h, &c, &events[i], 1); /* one batch each: the window is carried in Redis */
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "");
    cr_expect_str_eq(harness_hget(h, key(h, "A", "fraud"), "version"), "5");
    harness_destroy(h);
}

Test(fraud_view, velocity_follows_a_configured_count_and_window) {
    fraud_config c = defaults();
    c.velocity_count = 2;
    c.velocity_window_ms = 1000;
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[] = {
        withdrawal("A", 1, T0, 100),
        withdrawal("A", 2, T0 + 1001, 100),
        withdrawal("A", 3, T0 + 2001, 100),
    };
    run(h, &c, events, 3);
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "velocity:3");
    harness_destroy(h);
}

Test(fraud_view, new_payee_first_transfer_of_1000_00_to_an_account) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event day1[] = {
        sent("A", 1, T0, 100000, "B"),          /* new payee B: flagged */
        sent("A", 2, T0 + 3600000, 99999, "C"), /* under the threshold: not */
    };
    ledger_event day2[] = {
        sent("A", 3, T0 + 86400000, 100000, "B"),     /* B again: not */
        sent("A", 4, T0 + 2 * 86400000, 100000, "C"), /* C was paid before (99.99): not */
        sent("A", 5, T0 + 3 * 86400000, 500000, "D"), /* new payee D: flagged */
    };
    run(h, &c, day1, 2);
    run(h, &c, day2, 3);
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "new_payee:1 new_payee:5");
    cr_expect_eq(harness_scard(h, key(h, "A", "payees")), 3);
    harness_destroy(h);
}

/* A payee paid earlier in the same batch counts as seen for later events,
 * whether the earlier transfer was small or large. */
Test(fraud_view, new_payee_seen_earlier_in_the_same_batch) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[] = {
        sent("A", 1, T0, 500, "B"),
        sent("A", 2, T0 + 86400000, 100000, "B"),
        sent("A", 3, T0 + 2 * 86400000, 100000, "E"),
        sent("A", 4, T0 + 3 * 86400000, 100000, "E"),
    };
    run(h, &c, events, 4);
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "new_payee:3");
    harness_destroy(h);
}

Test(fraud_view, one_flag_per_rule_in_rule_order) {
    fraud_config c = defaults();
    c.velocity_count = 1;
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event e = sent("A", 1, T0, 2000000, "B");
    run(h, &c, &e, 1);
    char flags[256];
    flags_of(h, "A", flags, sizeof flags);
    cr_expect_str_eq(flags, "large_debit:1 velocity:1 new_payee:1");
    harness_destroy(h);
}

Test(fraud_view, an_account_without_flags_is_stored_but_not_flagged) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event events[] = {
        model_event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, T0, 0),
        model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, T0, 100),
    };
    run(h, &c, events, 2);
    cr_expect_str_eq(harness_hget(h, key(h, "A", "fraud"), "version"), "2");
    cr_expect_str_eq(harness_hget(h, key(h, "A", "fraud"), "window"), "v1:");
    cr_expect_eq(harness_llen(h, key(h, "A", "flags")), 0);
    cr_expect_eq(harness_scard(h, "t:fraud:g1:flagged"), 0);
    cr_expect_eq(harness_read_count(h), 1, "no payee question without a large transfer");
    harness_destroy(h);
}

Test(fraud_view, a_replayed_batch_writes_nothing_and_flags_once) {
    fraud_config c = defaults();
    harness *h = harness_new(NS, "fraud", 1);
    ledger_event e = withdrawal("A", 1, T0, 1000000);
    run(h, &c, &e, 1);
    run(h, &c, &e, 1);
    cr_expect_eq(harness_write_count(h), 0);
    cr_expect_eq(harness_llen(h, key(h, "A", "flags")), 1);
    harness_destroy(h);
}

Test(fraud_view, unreadable_state_or_a_gap_fails_the_account_only) {
    fraud_config c = defaults();
    static const struct {
        const char *version, *window, *why;
    } cases[] = {
        {"1", "v9:", "window"},
        {"1", NULL, "disagree"},
        {"x", "v1:", "version"},
        {"1", "v1:", "follow"}, /* the batch holds seq 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness *h = harness_new(NS, "fraud", 1);
        harness_hset(h, key(h, "A", "fraud"), "version", cases[i].version);
        if (cases[i].window != NULL)
            harness_hset(h, key(h, "A", "fraud"), "window", cases[i].window);
        ledger_event events[] = {withdrawal("A", 3, T0, 1000000), withdrawal("B", 1, T0, 1000000)};
        cr_expect_eq(harness_run_batch(h, &fraud_view, &c, events, 2), 1, "case %zu", i);
        cr_expect(strstr(harness_error(h), cases[i].why) != NULL, "case %zu: got '%s'", i,
                  harness_error(h));
        cr_expect_eq(harness_llen(h, key(h, "A", "flags")), 0, "case %zu", i);
        cr_expect_eq(harness_llen(h, key(h, "B", "flags")), 1, "case %zu", i);
        harness_destroy(h);
    }
}

/* ---- batch cuts do not matter; a fold with the core agrees ---- */

#define EVENTS 400

static const char *const names[] = {"A", "B", "C"};

static void random_log(unsigned seed, ledger_event *out) {
    int64_t seq[3] = {0}, t[3] = {T0, T0, T0};
    srand(seed);
    for (size_t i = 0; i < EVENTS; i++) {
        int a = rand() % 3;
        t[a] += rand() % 40000; /* often several debits a minute */
        int64_t amount = rand() % 4 == 0 ? 100000 + rand() % 1000000 : 1 + rand() % 200000;
        if (rand() % 10 == 0)
            amount = 1000000; /* exactly the large_debit threshold */
        if (rand() % 3 == 0)
            out[i] = model_event(LEDGER_EVENT_MONEY_DEPOSITED, names[a], ++seq[a], t[a], amount);
        else if (rand() % 2 == 0)
            out[i] = withdrawal(names[a], ++seq[a], t[a], amount);
        else {
            char to[8];
            snprintf(to, sizeof to, "P%d", rand() % 12);
            out[i] = sent(names[a], ++seq[a], t[a], amount, to);
        }
    }
}

static void fold_flags(const fraud_config *c, const ledger_event *log, const char *account,
                       char *buf, size_t size) {
    fraud_window w;
    fraud_window_init(&w);
    char paid[EVENTS][LEDGER_ACCOUNT_BUF];
    size_t npaid = 0, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < EVENTS; i++) {
        const ledger_event *e = &log[i];
        if (strcmp(e->account, account) != 0)
            continue;
        bool seen = false;
        for (size_t p = 0; p < npaid && !seen; p++)
            seen = strcmp(paid[p], e->counterparty) == 0;
        fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
        int n = fraud_check(c, &w, e, seen, out);
        for (int f = 0; f < n; f++)
            len += (size_t)snprintf(buf + len, size - len, "%s%s:%" PRId64, len ? " " : "",
                                    fraud_rule_name(out[f].rule), out[f].seq);
        if (e->type == LEDGER_EVENT_TRANSFER_SENT && !seen)
            snprintf(paid[npaid++], sizeof paid[0], "%s", e->counterparty);
    }
    cr_assert_lt(len, size);
}

Test(fraud_view, flags_match_a_fold_with_the_core_whatever_the_batch_cuts) {
    static ledger_event log[EVENTS];
    unsigned seed = 424242;
    random_log(seed, log);
    fraud_config c = defaults();

    harness *whole = harness_new(NS, "fraud", 1);
    run(whole, &c, log, EVENTS);
    harness *cut = harness_new(NS, "fraud", 1);
    srand(seed + 1);
    for (size_t i = 0; i < EVENTS;) {
        size_t len = 1 + (size_t)(rand() % 30);
        if (len > EVENTS - i)
            len = EVENTS - i;
        run(cut, &c, log + i, len);
        i += len;
    }

    int total = 0;
    for (int a = 0; a < 3; a++) {
        static char want[1 << 14], got_whole[1 << 14], got_cut[1 << 14];
        fold_flags(&c, log, names[a], want, sizeof want);
        flags_of(whole, names[a], got_whole, sizeof got_whole);
        flags_of(cut, names[a], got_cut, sizeof got_cut);
        cr_expect_str_eq(got_whole, want, "seed %u account %s", seed, names[a]);
        cr_expect_str_eq(got_cut, want, "seed %u account %s", seed, names[a]);
        total += want[0] != '\0';
        cr_expect_eq(harness_sismember(whole, "t:fraud:g1:flagged", names[a]), want[0] != '\0');
    }
    cr_expect_gt(total, 0, "the workload raises flags at all");
    harness_destroy(whole);
    harness_destroy(cut);
}
