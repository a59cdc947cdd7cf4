/*
 * test_views_statements.c - the statements view without Redis: its entry
 * rendering (SPEC section 7's example byte for byte), and its batches run
 * through the fake runtime of test_views_harness.h, checking what it stores
 * per account and per month: across a month boundary, back-dated events,
 * replays, gaps, unreadable state, and that where batches are cut does not
 * change the result.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltime.h"
#include "model.h"
#include "statements_view.h"
#include "test_views_harness.h"

#define NS "t"

static int64_t at(const char *text) {
    int64_t ms;
    const char *why = NULL;
    cr_assert_eq(ltime_parse(text, strlen(text), &ms, &why), 0, "bad time '%s'", text);
    return ms;
}

static ledger_event ev(ledger_event_type type, const char *account, int64_t seq, const char *when,
                       int64_t amount) {
    return model_event(type, account, seq, at(when), amount);
}

static ledger_event xfer(ledger_event_type type, const char *account, int64_t seq, const char *when,
                         int64_t amount, const char *counterparty) {
    ledger_event e = ev(type, account, seq, when, amount);
    ledger_id_copy(e.counterparty, sizeof e.counterparty, counterparty);
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

/* A field of the account's hash. */
static const char *field(const harness *h, const char *account, const char *name) {
    return harness_hget(h, key(h, account, STATEMENTS_ACCOUNT_SUFFIX), name);
}

static void run(harness *h, const ledger_event *events, size_t n) {
    cr_assert_eq(harness_run_batch(h, &statements_view, NULL, events, n), 0, "apply failed: %s",
                 harness_error(h));
}

/* ---- rendering ---- */

Test(statements_render, the_spec_example_entry_byte_for_byte) {
    ledger_event e = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000);
    statement_line line;
    cr_assert(statement_line_of(&e, 0, &line));
    char buf[STATEMENTS_ENTRY_MAX];
    size_t n = statements_entry_render(&line, buf, sizeof buf);
    cr_expect_str_eq(buf, "{\"at\":\"2026-11-02T09:00:00Z\",\"seq\":2,\"type\":\"deposit\","
                          "\"amount\":\"10.00\",\"balance_after\":\"10.00\"}");
    cr_expect_eq(n, strlen(buf));
}

Test(statements_render, transfers_add_counterparty_and_transfer_id_with_signed_amounts) {
    ledger_event e = xfer(LEDGER_EVENT_TRANSFER_SENT, "A", 7, "2026-11-03T10:15:30.250Z", 250, "B");
    statement_line line;
    cr_assert(statement_line_of(&e, 100, &line));
    char buf[STATEMENTS_ENTRY_MAX];
    statements_entry_render(&line, buf, sizeof buf);
    cr_expect_str_eq(buf,
                     "{\"at\":\"2026-11-03T10:15:30.250Z\",\"seq\":7,\"type\":\"transfer_sent\","
                     "\"amount\":\"-2.50\",\"balance_after\":\"-1.50\",\"counterparty\":\"B\","
                     "\"transfer_id\":\"" MODEL_TRANSFER_ID "\"}");

    e = xfer(LEDGER_EVENT_TRANSFER_RETURNED, "A", 8, "2026-11-03T10:15:31Z", 250, "B");
    cr_assert(statement_line_of(&e, -150, &line));
    statements_entry_render(&line, buf, sizeof buf);
    cr_expect_str_eq(buf,
                     "{\"at\":\"2026-11-03T10:15:31Z\",\"seq\":8,\"type\":\"transfer_returned\","
                     "\"amount\":\"2.50\",\"balance_after\":\"1.00\",\"counterparty\":\"B\","
                     "\"transfer_id\":\"" MODEL_TRANSFER_ID "\"}");
}

Test(statements_render, odd_bytes_in_a_decoded_id_stay_valid_json) {
    ledger_event e = xfer(LEDGER_EVENT_TRANSFER_RECEIVED, "A", 3, "2026-11-03T00:00:00Z", 1, "x");
    memcpy(e.counterparty, "a\"b\\c\n\x01\xc3\xa9", 10);
    statement_line line;
    cr_assert(statement_line_of(&e, 0, &line));
    char buf[STATEMENTS_ENTRY_MAX];
    statements_entry_render(&line, buf, sizeof buf);
    cr_expect(strstr(buf, "\"counterparty\":\"a\\\"b\\\\c\\u000a\\u0001\\ufffd\\ufffd\"") != NULL,
              "got %s", buf);
}

Test(statements_render, a_buffer_too_small_gives_zero) {
    ledger_event e = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000);
    statement_line line;
    cr_assert(statement_line_of(&e, 0, &line));
    char buf[40];
    cr_expect_eq(statements_entry_render(&line, buf, sizeof buf), 0);
}

Test(statements_render, the_longest_entry_fits_the_documented_buffer) {
    ledger_event e = xfer(LEDGER_EVENT_TRANSFER_SENT, "A", INT64_MAX, "9999-12-31T23:59:59.999Z",
                          INT64_MAX, "x");
    memset(e.counterparty, '"', sizeof e.counterparty); /* unterminated, all escaped */
    memset(e.transfer_id, 0x01, sizeof e.transfer_id);  /* each becomes \u0001 */
    statement_line line;
    cr_assert(statement_line_of(&e, INT64_MIN, &line));
    char buf[STATEMENTS_ENTRY_MAX];
    cr_expect_gt(statements_entry_render(&line, buf, sizeof buf), 0);
}

/* ---- the view through batches ---- */

/* SPEC section 7: opened, deposited 10.00, withdrew 2.50 in November. */
Test(statements_view, the_spec_example_month) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event events[] = {
        ev(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-11-01T08:00:00Z", 0),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000),
        ev(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-05T12:00:00Z", 250),
    };
    run(h, events, 3);

    cr_expect_str_eq(field(h, "A", "balance"), "750");
    cr_expect_str_eq(field(h, "A", "version"), "3");
    cr_expect_str_eq(field(h, "A", "month"), "2026-11");
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "1000");
    cr_expect_str_eq(field(h, "A", "o:2026-11"), "250");
    const char *e = key(h, "A", "e:2026-11");
    cr_assert_eq(harness_llen(h, e), 2);
    cr_expect_str_eq(harness_lindex(h, e, 0),
                     "{\"at\":\"2026-11-02T09:00:00Z\",\"seq\":2,\"type\":\"deposit\","
                     "\"amount\":\"10.00\",\"balance_after\":\"10.00\"}");
    cr_expect_str_eq(harness_lindex(h, e, 1),
                     "{\"at\":\"2026-11-05T12:00:00Z\",\"seq\":3,\"type\":\"withdrawal\","
                     "\"amount\":\"-2.50\",\"balance_after\":\"7.50\"}");
    harness_destroy(h);
}

Test(statements_view, opened_and_closed_advance_the_version_without_entries) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event opened = ev(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-11-01T08:00:00Z", 500);
    run(h, &opened, 1);
    cr_expect_str_eq(field(h, "A", "version"), "1");
    cr_expect_str_eq(field(h, "A", "balance"), "0", "an overdraft is no money");
    cr_expect_null(field(h, "A", "month"));

    ledger_event closed = ev(LEDGER_EVENT_ACCOUNT_CLOSED, "A", 2, "2026-11-02T08:00:00Z", 0);
    run(h, &closed, 1);
    cr_expect_str_eq(field(h, "A", "version"), "2");
    cr_expect_null(field(h, "A", "month"));
    cr_expect_null(field(h, "A", "i:2026-11"));
    cr_expect_null(field(h, "A", "o:2026-11"));
    cr_expect_not(harness_exists(h, key(h, "A", "e:2026-11")));
    harness_destroy(h);
}

/* October then November, in two batches: each month has its own totals and
 * entries, and the November entries carry on from October's balance. */
Test(statements_view, a_month_boundary_keeps_months_apart_and_balances_running) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event oct[] = {
        ev(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-10-30T08:00:00Z", 0),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-10-31T23:59:59.999Z", 10000),
    };
    ledger_event nov[] = {
        ev(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-01T00:00:00Z", 2500),
        xfer(LEDGER_EVENT_TRANSFER_RECEIVED, "A", 4, "2026-11-15T00:00:00Z", 500, "B"),
    };
    run(h, oct, 2);
    run(h, nov, 2);

    cr_expect_str_eq(field(h, "A", "month"), "2026-11");
    cr_expect_str_eq(field(h, "A", "i:2026-10"), "10000");
    cr_expect_null(field(h, "A", "o:2026-10"), "nothing went out in October: absent, read as 0");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-10")), 1);
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "500");
    cr_expect_str_eq(field(h, "A", "o:2026-11"), "2500");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-11")), 2);
    /* Opening of November = October's closing = 100.00; closing 80.00. */
    cr_expect_str_eq(harness_lindex(h, key(h, "A", "e:2026-11"), 0),
                     "{\"at\":\"2026-11-01T00:00:00Z\",\"seq\":3,\"type\":\"withdrawal\","
                     "\"amount\":\"-25.00\",\"balance_after\":\"75.00\"}");
    cr_expect_str_eq(harness_lindex(h, key(h, "A", "e:2026-11"), 1),
                     "{\"at\":\"2026-11-15T00:00:00Z\",\"seq\":4,\"type\":\"transfer_received\","
                     "\"amount\":\"5.00\",\"balance_after\":\"80.00\",\"counterparty\":\"B\","
                     "\"transfer_id\":\"" MODEL_TRANSFER_ID "\"}");
    cr_expect_str_eq(field(h, "A", "balance"), "8000");
    harness_destroy(h);
}

/* An event dated in an earlier month lands in that month's list (in log
 * order there), and its balance_after follows log order. */
Test(statements_view, a_back_dated_event_goes_to_its_own_month) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event events[] = {
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, "2026-11-10T00:00:00Z", 1000),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-10-10T00:00:00Z", 200),
        ev(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-11T00:00:00Z", 100),
    };
    run(h, events, 3);
    cr_expect_str_eq(field(h, "A", "i:2026-10"), "200");
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "1000");
    cr_expect_str_eq(field(h, "A", "o:2026-11"), "100");
    cr_expect_str_eq(field(h, "A", "month"), "2026-11", "the latest month, not the last");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-11")), 2);
    cr_expect_str_eq(harness_lindex(h, key(h, "A", "e:2026-10"), 0),
                     "{\"at\":\"2026-10-10T00:00:00Z\",\"seq\":2,\"type\":\"deposit\","
                     "\"amount\":\"2.00\",\"balance_after\":\"12.00\"}");
    cr_expect_str_eq(harness_lindex(h, key(h, "A", "e:2026-11"), 1),
                     "{\"at\":\"2026-11-11T00:00:00Z\",\"seq\":3,\"type\":\"withdrawal\","
                     "\"amount\":\"-1.00\",\"balance_after\":\"11.00\"}");
    harness_destroy(h);
}

Test(statements_view, a_replayed_batch_writes_nothing) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event events[] = {
        ev(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-11-01T08:00:00Z", 0),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000),
    };
    run(h, events, 2);
    cr_expect_gt(harness_write_count(h), 0);
    run(h, events, 2);
    cr_expect_eq(harness_write_count(h), 0);
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "1000");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-11")), 1);
    harness_destroy(h);
}

/* Redelivery overlapping what was applied: only the new tail counts. */
Test(statements_view, an_overlapping_batch_applies_only_the_new_events) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event events[] = {
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, "2026-11-02T09:00:00Z", 100),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:01Z", 200),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 3, "2026-11-02T09:00:02Z", 400),
    };
    run(h, events, 2);
    run(h, events, 3);
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "700");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-11")), 3);
    cr_expect_str_eq(field(h, "A", "version"), "3");
    harness_destroy(h);
}

Test(statements_view, a_seq_gap_fails_the_account_and_writes_nothing_for_it) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event first[] = {
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, "2026-11-02T09:00:00Z", 100),
    };
    run(h, first, 1);
    ledger_event gap[] = {
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "B", 1, "2026-11-02T09:00:00Z", 5),
        ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 3, "2026-11-02T09:00:02Z", 400),
    };
    cr_assert_eq(harness_run_batch(h, &statements_view, NULL, gap, 2), 1);
    cr_expect(strstr(harness_error(h), "seq 3") != NULL, "got '%s'", harness_error(h));
    cr_expect_str_eq(field(h, "A", "version"), "1");
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "100");
    cr_expect_eq(harness_llen(h, key(h, "A", "e:2026-11")), 1);
    cr_expect_str_eq(field(h, "B", "version"), "1", "the other account flows on");
    harness_destroy(h);
}

Test(statements_view, unreadable_stored_state_fails_with_a_reason) {
    static const struct {
        const char *balance, *version, *month, *total_in, *why;
    } cases[] = {
        {"12x", "1", NULL, NULL, "balance"},
        {"100", "", NULL, NULL, "version"},
        {"100", NULL, NULL, NULL, "disagree"},
        {"99999999999999999999", "1", NULL, NULL, "balance"},
        {"100", "1", "2026-13", NULL, "latest month '2026-13'"},
        {"100", "1", "2026-11", "ten", "total_in 'ten'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness *h = harness_new(NS, "statements", 1);
        const char *k = key(h, "A", STATEMENTS_ACCOUNT_SUFFIX);
        harness_hset(h, k, "balance", cases[i].balance);
        if (cases[i].version != NULL)
            harness_hset(h, k, "version", cases[i].version);
        if (cases[i].month != NULL)
            harness_hset(h, k, "month", cases[i].month);
        if (cases[i].total_in != NULL)
            harness_hset(h, k, "i:2026-11", cases[i].total_in);
        ledger_event e = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 100);
        cr_expect_eq(harness_run_batch(h, &statements_view, NULL, &e, 1), 1, "case %zu", i);
        cr_expect(strstr(harness_error(h), cases[i].why) != NULL, "case %zu: got '%s'", i,
                  harness_error(h));
        cr_expect_not(harness_exists(h, key(h, "A", "e:2026-11")), "case %zu", i);
        harness_destroy(h);
    }
}

/* More months in one account's batch than it reads: the others' totals go
 * out as increments, as exact, and a kept state does not take them for
 * known. */
Test(statements_view, more_months_in_a_batch_than_it_reads_add_up) {
    for (int keep = 0; keep < 2; keep++) {
        harness *h = harness_new(NS, "statements", 1);
        if (keep)
            harness_keep_states(h, statements_view.state_size);
        ledger_event first = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, "2025-12-01T00:00:00Z", 5);
        run(h, &first, 1);
        /* 2025-01 to 2025-12, then 2025-01 again: the months after the
         * first MONTH_READS (8) are not read, 2025-12 (the kept month) among
         * them. */
        ledger_event events[13];
        for (int m = 0; m < 12; m++) {
            char when[32];
            snprintf(when, sizeof when, "2025-%02d-03T00:00:00Z", m + 1);
            events[m] = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2 + m, when, 100 + m);
        }
        events[12] = ev(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 14, "2025-01-20T00:00:00Z", 7);
        run(h, events, 13);
        for (int m = 0; m < 12; m++) {
            char name[16], want[24];
            snprintf(name, sizeof name, "i:2025-%02d", m + 1);
            snprintf(want, sizeof want, "%d", 100 + m + (m == 11 ? 5 : 0));
            cr_expect_str_eq(field(h, "A", name), want, "keep %d, %s", keep, name);
        }
        cr_expect_str_eq(field(h, "A", "o:2025-01"), "7", "keep %d", keep);
        /* Another deposit in the latest month: its totals must be read. */
        ledger_event more = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 15, "2025-12-31T00:00:00Z", 1);
        run(h, &more, 1);
        cr_expect_eq(harness_read_count(h), 1, "keep %d: 2025-12's totals went out as deltas",
                     keep);
        cr_expect_str_eq(field(h, "A", "i:2025-12"), "117", "keep %d", keep);
        cr_expect_str_eq(field(h, "A", "month"), "2025-12", "keep %d", keep);
        harness_destroy(h);
    }
}

/* With the runtime keeping the account's state, a batch of the latest
 * month or later reads nothing; one that goes back to an earlier month
 * reads the account again. */
Test(statements_view, a_kept_state_saves_the_read_until_a_back_dated_month) {
    harness *h = harness_new(NS, "statements", 1);
    harness_keep_states(h, statements_view.state_size);
    ledger_event a = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, "2026-10-02T09:00:00Z", 1000);
    run(h, &a, 1);
    cr_expect_eq(harness_read_count(h), 1, "nothing kept yet");
    ledger_event b = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-10-03T09:00:00Z", 10);
    run(h, &b, 1);
    cr_expect_eq(harness_read_count(h), 0, "the same month");
    ledger_event c = ev(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-03T09:00:00Z", 20);
    run(h, &c, 1);
    cr_expect_eq(harness_read_count(h), 0, "a later month");
    ledger_event d = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 4, "2026-10-30T09:00:00Z", 1);
    run(h, &d, 1);
    cr_expect_eq(harness_read_count(h), 1, "back to October");
    cr_expect_str_eq(field(h, "A", "i:2026-10"), "1011");
    cr_expect_str_eq(field(h, "A", "o:2026-11"), "20");
    cr_expect_str_eq(field(h, "A", "balance"), "991");
    cr_expect_str_eq(field(h, "A", "month"), "2026-11");
    /* November was not read back with October: its totals are not known. */
    ledger_event e = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 5, "2026-11-30T09:00:00Z", 5);
    run(h, &e, 1);
    cr_expect_eq(harness_read_count(h), 1, "November's totals were not kept");
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "5");
    cr_expect_str_eq(field(h, "A", "o:2026-11"), "20");
    ledger_event f = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", 6, "2026-11-30T10:00:00Z", 5);
    run(h, &f, 1);
    cr_expect_eq(harness_read_count(h), 0, "November read back and kept");
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "10");
    harness_destroy(h);
}

Test(statements_view, many_entries_in_one_batch_keep_log_order) {
    harness *h = harness_new(NS, "statements", 1);
    ledger_event events[40];
    for (int i = 0; i < 40; i++) {
        char when[32];
        snprintf(when, sizeof when, "2026-11-02T09:00:%02dZ", i);
        events[i] = ev(LEDGER_EVENT_MONEY_DEPOSITED, "A", i + 1, when, i + 1);
    }
    run(h, events, 40);
    const char *e = key(h, "A", "e:2026-11");
    cr_assert_eq(harness_llen(h, e), 40);
    for (size_t i = 0; i < 40; i++) {
        char want[32];
        snprintf(want, sizeof want, "\"seq\":%zu,", i + 1);
        cr_expect(strstr(harness_lindex(h, e, i), want) != NULL, "entry %zu: %s", i,
                  harness_lindex(h, e, i));
    }
    cr_expect_str_eq(field(h, "A", "i:2026-11"), "820");
    harness_destroy(h);
}

/* ---- batch cuts do not matter ---- */

#define ACCOUNTS 4
#define EVENTS   300

static const char *const names[ACCOUNTS] = {"A", "B", "C", "D"};

/* A random log over a few accounts and four months, contiguous seqs. */
static size_t random_log(unsigned seed, ledger_event *out) {
    int64_t seq[ACCOUNTS] = {0};
    int64_t base = at("2026-09-01T00:00:00Z");
    srand(seed);
    for (size_t i = 0; i < EVENTS; i++) {
        int a = rand() % ACCOUNTS;
        int64_t when = base + (int64_t)(rand() % (120 * 24)) * 3600000;
        int64_t amount = 1 + rand() % 100000;
        ledger_event_type type = (ledger_event_type)(1 + rand() % 7);
        out[i] = model_event(type, names[a], ++seq[a], when, amount);
        if (type >= LEDGER_EVENT_TRANSFER_SENT && type <= LEDGER_EVENT_TRANSFER_RETURNED) {
            ledger_id_copy(out[i].counterparty, sizeof out[i].counterparty,
                           names[(a + 1) % ACCOUNTS]);
            ledger_id_copy(out[i].transfer_id, sizeof out[i].transfer_id, MODEL_TRANSFER_ID);
        }
    }
    return EVENTS;
}

/* Everything the view stored for the accounts, as one text: the months
 * are those random_log can write (and two either side). */
static void dump(const harness *h, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    int32_t first = ltime_month_of(at("2026-08-01T00:00:00Z"));
#define OUT(...) len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__)
    for (int a = 0; a < ACCOUNTS; a++) {
        OUT("%s %s %s %s\n", names[a], field(h, names[a], "balance"), field(h, names[a], "version"),
            field(h, names[a], "month"));
        for (int32_t m = first; m < first + 7; m++) {
            char name[16], in[24], out[24], suffix[32], list[256];
            ltime_month_format(m, name, sizeof name);
            statements_month_field('i', m, in, sizeof in);
            statements_month_field('o', m, out, sizeof out);
            OUT(" %s %s %s", name, field(h, names[a], in), field(h, names[a], out));
            snprintf(suffix, sizeof suffix, "e:%s", name);
            harness_account_key(h, names[a], suffix, list, sizeof list);
            for (size_t i = 0; i < harness_llen(h, list); i++)
                OUT("\n  %s", harness_lindex(h, list, i));
            OUT("\n");
        }
    }
#undef OUT
    cr_assert_lt(len, size, "dump buffer too small");
}

/* Random cuts, each batch redelivered once (a replay must be harmless),
 * with or without kept states: the same keys and values as one batch. */
static void check_cuts(bool keep_states) {
    static ledger_event log[EVENTS];
    static char whole[1 << 17], cut[1 << 17];
    unsigned seed = 20261126;
    size_t n = random_log(seed, log);

    harness *one = harness_new(NS, "statements", 1);
    run(one, log, n);
    dump(one, whole, sizeof whole);
    harness_destroy(one);

    harness *h = harness_new(NS, "statements", 1);
    if (keep_states)
        harness_keep_states(h, statements_view.state_size);
    srand(seed + 1);
    for (size_t i = 0; i < n;) {
        size_t len = 1 + (size_t)(rand() % 40);
        if (len > n - i)
            len = n - i;
        run(h, log + i, len);
        run(h, log + (i > 3 ? i - 3 : 0), len + (i > 3 ? 3 : i));
        i += len;
    }
    dump(h, cut, sizeof cut);
    harness_destroy(h);
    cr_expect_str_eq(cut, whole, "seed %u, kept states %d", seed, keep_states);
}

Test(statements_view, where_batches_are_cut_does_not_change_the_result) {
    check_cuts(false);
}

Test(statements_view, kept_states_give_the_same_result_as_reads) {
    check_cuts(true);
}

/* The stored months against a straight fold with the core, month by month:
 * nets add up to the final balance and each month's totals match. */
Test(statements_view, months_match_a_fold_with_the_core) {
    static ledger_event log[EVENTS];
    size_t n = random_log(7, log);
    harness *h = harness_new(NS, "statements", 1);
    run(h, log, n);

    for (int a = 0; a < ACCOUNTS; a++) {
        int64_t balance = 0;
        statement_month months[8];
        int32_t first = ltime_month_of(at("2026-09-01T00:00:00Z"));
        for (int m = 0; m < 8; m++)
            statement_month_init(&months[m], first + m, 0);
        for (size_t i = 0; i < n; i++) {
            statement_line line;
            if (strcmp(log[i].account, names[a]) != 0 ||
                !statement_line_of(&log[i], balance, &line))
                continue;
            balance = line.balance_after;
            cr_assert(line.month >= first && line.month < first + 8);
            statement_month_add(&months[line.month - first], &line);
        }
        char want[24];
        snprintf(want, sizeof want, "%" PRId64, balance);
        cr_expect_str_eq(field(h, names[a], "balance"), want);
        int64_t opening = 0;
        for (int m = 0; m < 8; m++) {
            char name[16], in[24], out[24], suffix[32];
            ltime_month_format(first + m, name, sizeof name);
            statements_month_field('i', first + m, in, sizeof in);
            statements_month_field('o', first + m, out, sizeof out);
            snprintf(suffix, sizeof suffix, "e:%s", name);
            size_t entries = harness_llen(h, key(h, names[a], suffix));
            cr_expect_eq(entries, (size_t)months[m].entries, "%s %s", names[a], name);
            if (months[m].entries == 0) {
                cr_expect_null(field(h, names[a], in), "%s %s", names[a], name);
                cr_expect_null(field(h, names[a], out), "%s %s", names[a], name);
                continue;
            }
            snprintf(want, sizeof want, "%" PRId64, months[m].total_in);
            cr_expect_str_eq(field(h, names[a], in), want, "%s %s", names[a], name);
            snprintf(want, sizeof want, "%" PRId64, months[m].total_out);
            cr_expect_str_eq(field(h, names[a], out), want, "%s %s", names[a], name);
            /* The net the query derives is the core's. */
            cr_expect_eq(months[m].total_in - months[m].total_out,
                         months[m].closing_balance - months[m].opening_balance, "%s %s", names[a],
                         name);
            opening += months[m].total_in - months[m].total_out;
        }
        cr_expect_eq(opening, balance, "the nets add up to the balance");
    }
    harness_destroy(h);
}
