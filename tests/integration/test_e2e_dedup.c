/*
 * test_e2e_dedup.c - idempotency end to end (SPEC section 5): the same
 * command id given twice to `ledger deposit --id X` prints the original
 * result again with "duplicate":true and appends nothing (the events
 * topic's size does not move), whatever the second command says; the same
 * holds for a rejected command and after the producer is restarted
 * (SIGTERM, start again: the window comes back from the snapshots topic).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kafka_test.h"
#include "test_e2e_support.h"

static e2e_env env;

static void setup(void) {
    e2e_setup(&env);
    e2e_start(&env, NULL);
}

static void teardown(void) {
    e2e_teardown(&env);
}

TestSuite(e2e_dedup, .init = setup, .fini = teardown, .timeout = 120);

#define LEDGER(want, ...) e2e_ledger_json(&env, (want), (const char *const[]){__VA_ARGS__, NULL})

static int64_t events_size(void) {
    return tcf_topic_size(env.ph.topics[LEDGER_KAFKA_TOPIC_EVENTS]);
}

/* Asserts `again` is `first` with "duplicate":true and nothing else
 * changed. */
static void assert_duplicate_of(const json_t *first, const json_t *again) {
    cr_assert(json_is_true(json_object_get(again, "duplicate")), "not marked duplicate: %s",
              json_dumps(again, 0));
    json_t *copy = json_deep_copy(again);
    cr_assert_eq(json_object_del(copy, "duplicate"), 0);
    char *a = json_dumps(first, JSON_SORT_KEYS), *b = json_dumps(copy, JSON_SORT_KEYS);
    cr_assert_str_eq(b, a, "the duplicate differs from the original");
    free(a);
    free(b);
    json_decref(copy);
}

Test(e2e_dedup, a_repeated_id_returns_the_original_result_and_appends_nothing) {
    json_decref(LEDGER(0, "open", "alice", "--id", "open-alice"));
    json_t *first = LEDGER(0, "deposit", "alice", "10", "--id", "X");
    e2e_assert_accepted(first, "X", "MoneyDeposited", "alice", 2);
    int64_t size = events_size();

    json_t *again = LEDGER(0, "deposit", "alice", "10", "--id", "X");
    assert_duplicate_of(first, again);
    json_decref(again);
    /* Another amount, even another account: still the original result. */
    again = LEDGER(0, "deposit", "alice", "99", "--id", "X");
    assert_duplicate_of(first, again);
    json_decref(again);
    again = LEDGER(0, "withdraw", "alice", "1", "--id", "X");
    assert_duplicate_of(first, again);
    json_decref(again);
    cr_assert_eq(events_size(), size, "a duplicate appended to the events topic");

    /* A rejection is remembered too, with its exit code. */
    json_t *rejected = LEDGER(1, "withdraw", "alice", "1000", "--id", "W");
    e2e_assert_rejected(rejected, "insufficient_funds");
    json_decref(LEDGER(0, "deposit", "alice", "2000", "--id", "big"));
    size = events_size();
    again = LEDGER(1, "withdraw", "alice", "1000", "--id", "W");
    assert_duplicate_of(rejected, again);
    json_decref(again);
    cr_assert_eq(events_size(), size);

    json_t *h = LEDGER(0, "history", "alice");
    cr_assert_str_eq(e2e_str(h, "balance"), "2010.00");
    cr_assert_eq(e2e_int(h, "version"), 3);
    json_decref(h);
    json_decref(first);
    json_decref(rejected);
}

Test(e2e_dedup, duplicates_survive_a_restart) {
    json_decref(LEDGER(0, "open", "bob", "--id", "open-bob"));
    json_t *first = LEDGER(0, "deposit", "bob", "7.25", "--id", "X");
    e2e_assert_accepted(first, "X", "MoneyDeposited", "bob", 2);
    json_t *rejected = LEDGER(1, "close", "bob", "--id", "C");
    e2e_assert_rejected(rejected, "nonzero_balance");

    ph_stop(&env.ph);
    e2e_start(&env, NULL);

    int64_t size = events_size();
    json_t *again = LEDGER(0, "deposit", "bob", "7.25", "--id", "X");
    assert_duplicate_of(first, again);
    json_decref(again);
    again = LEDGER(1, "close", "bob", "--id", "C");
    assert_duplicate_of(rejected, again);
    json_decref(again);
    again = LEDGER(0, "open", "bob", "--id", "open-bob");
    cr_assert(json_is_true(json_object_get(again, "duplicate")));
    cr_assert_eq(e2e_int(e2e_event(again), "seq"), 1);
    json_decref(again);
    cr_assert_eq(events_size(), size, "a duplicate appended after the restart");

    /* A new id is decided against the restored state. */
    json_t *r = LEDGER(0, "withdraw", "bob", "7.25", "--id", "Y");
    e2e_assert_accepted(r, "Y", "MoneyWithdrawn", "bob", 3);
    json_decref(r);
    json_decref(first);
    json_decref(rejected);
}
