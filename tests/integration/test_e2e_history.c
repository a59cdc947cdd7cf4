/*
 * test_e2e_history.c - time travel end to end: after a scripted workload
 * through `ledger` and ledger-producer, `ledger history A` equals the fold
 * of A's events (read back from the events topic) by the pure model
 * (core's account_apply), and `--at TIME` equals the fold of the prefix of
 * A's log up to the first event later than TIME. The hand-written script
 * also pins the numbers themselves.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
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

TestSuite(e2e_history, .init = setup, .fini = teardown, .timeout = 120);

#define LEDGER(want, ...) e2e_ledger_json(&env, (want), (const char *const[]){__VA_ARGS__, NULL})

/* The model: A's events in log order, folded until the first one later
 * than at_ms (INT64_MAX: all). */
static account_state model_at(const e2e_events *events, const char *account, int64_t at_ms) {
    account_state s;
    account_init(&s);
    for (size_t i = 0; i < events->count; i++) {
        const ledger_event *ev = &events->items[i].event;
        if (strcmp(ev->account, account) != 0)
            continue;
        if (ev->at_ms > at_ms)
            break;
        cr_assert_eq(account_apply(&s, ev), ACCOUNT_APPLIED);
    }
    return s;
}

/* RFC 3339 UTC to ms, with libc (independently of the program's parser). */
static int64_t parse_time(const char *text) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int ms = 0, used = 0;
    cr_assert_eq(sscanf(text, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used),
                 6, "time '%s'", text);
    if (text[used] == '.')
        cr_assert_eq(sscanf(text + used, ".%3d", &ms), 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Asserts `ledger history ACCOUNT [--at TIME]` shows the model's state. */
static void assert_history(const e2e_events *events, const char *account, const char *at) {
    account_state want = model_at(events, account, at ? parse_time(at) : INT64_MAX);
    json_t *h = at ? LEDGER(want.seq ? 0 : 1, "history", account, "--at", at)
                   : LEDGER(want.seq ? 0 : 1, "history", account);
    if (want.seq == 0) {
        cr_assert_str_eq(e2e_str(h, "error"), "not_found", "'%s' at %s", account, at);
    } else {
        cr_assert_eq(e2e_cents(e2e_str(h, "balance")), want.balance, "'%s' at %s: %s", account,
                     at ? at : "now", e2e_str(h, "balance"));
        cr_assert_eq(e2e_int(h, "version"), want.seq, "'%s' at %s", account, at ? at : "now");
        cr_assert_str_eq(e2e_str(h, "status"), want.status == ACCOUNT_CLOSED ? "closed" : "open");
    }
    json_decref(h);
}

Test(e2e_history, history_is_the_fold_and_at_gives_the_past) {
    json_decref(LEDGER(0, "open", "ann", "--overdraft", "20", "--at", "2026-01-01T09:00:00Z"));
    json_decref(LEDGER(0, "open", "ben", "--at", "2026-01-01T10:00:00Z"));
    json_decref(LEDGER(0, "deposit", "ann", "100", "--at", "2026-01-02T09:00:00Z"));
    json_decref(LEDGER(0, "withdraw", "ann", "30", "--at", "2026-01-03T09:00:00Z"));
    json_decref(LEDGER(0, "transfer", "ann", "ben", "25", "--at", "2026-01-04T09:00:00Z"));
    json_decref(LEDGER(0, "deposit", "ann", "0.45", "--at", "2026-01-05T09:00:00Z"));
    json_decref(LEDGER(0, "transfer", "ann", "nobody", "10", "--at", "2026-01-06T09:00:00Z"));
    ph_wait_events(&env.ph, "ann", 7); /* the return of the transfer to nobody */
    ph_wait_events(&env.ph, "ben", 2);
    /* 45.45 - 60 = -14.55, inside the overdraft of 20 */
    json_decref(LEDGER(0, "withdraw", "ann", "60", "--at", "2026-01-07T09:00:00Z"));
    json_decref(LEDGER(0, "deposit", "ben", "5", "--at", "2026-01-08T09:00:00Z"));

    e2e_events events;
    e2e_read_events(&env, &events);

    /* By hand: 100 - 30 - 25 + 0.45 - 10 + 10 - 60 */
    json_t *h = LEDGER(0, "history", "ann");
    cr_assert_str_eq(e2e_str(h, "balance"), "-14.55");
    cr_assert_eq(e2e_int(h, "version"), 8);
    json_decref(h);
    h = LEDGER(0, "history", "ann", "--at", "2026-01-03T12:00:00Z");
    cr_assert_str_eq(e2e_str(h, "balance"), "70.00");
    cr_assert_eq(e2e_int(h, "version"), 3);
    cr_assert_str_eq(e2e_str(h, "as_of"), "2026-01-03T12:00:00Z");
    json_decref(h);
    h = LEDGER(0, "history", "ben", "--at", "2026-01-04T09:00:00Z");
    cr_assert_str_eq(e2e_str(h, "balance"), "25.00", "the credit carries the transfer's time");
    json_decref(h);
    h = LEDGER(1, "history", "ann", "--at", "2026-01-01T08:59:59.999Z");
    cr_assert_str_eq(e2e_str(h, "error"), "not_found");
    json_decref(h);

    /* And against the model at every interesting time. */
    const char *times[] = {NULL,
                           "2026-01-01T08:59:59Z",
                           "2026-01-01T09:00:00Z",
                           "2026-01-02T08:59:59.999Z",
                           "2026-01-02T09:00:00Z",
                           "2026-01-04T09:00:00Z",
                           "2026-01-05T23:59:59Z",
                           "2026-01-06T09:00:00Z",
                           "2026-01-07T09:00:00Z",
                           "2030-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        assert_history(&events, "ann", times[i]);
        assert_history(&events, "ben", times[i]);
    }
    e2e_events_free(&events);
}

Test(e2e_history, history_equals_the_fold_after_a_random_workload) {
    enum { ACCOUNTS = 8, COMMANDS = 400 };
    char names[ACCOUNTS][16];
    size_t cap = 200 * (COMMANDS + ACCOUNTS), used = 0;
    char *input = malloc(cap);
    cr_assert_not_null(input);
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(names[a], sizeof(names[a]), "h%d", a);
        used += (size_t)snprintf(input + used, cap - used,
                                 "{\"type\":\"open\",\"account\":\"%s\",\"overdraft\":\"%d\","
                                 "\"at\":\"2026-03-01T00:00:00Z\"}\n",
                                 names[a], a * 10);
    }
    unsigned seed = 20261126;
    static const char *const types[] = {"deposit",  "deposit",  "withdraw",
                                        "transfer", "transfer", "close"};
    for (int i = 0; i < COMMANDS; i++) {
        const char *type = types[rand_r(&seed) % 6];
        if (strcmp(type, "close") == 0 && rand_r(&seed) % 8 != 0)
            type = "deposit"; /* closes are rare */
        int a = (int)(rand_r(&seed) % ACCOUNTS), b = (int)(rand_r(&seed) % ACCOUNTS);
        int cents = 1 + (int)(rand_r(&seed) % 5000);
        /* One command a minute, from March 2 on. */
        int minute = i;
        char at[32];
        snprintf(at, sizeof(at), "2026-03-02T%02d:%02d:00Z", minute / 60, minute % 60);
        if (strcmp(type, "close") == 0)
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"close\",\"account\":\"%s\",\"at\":\"%s\"}\n",
                                     names[a], at);
        else if (strcmp(type, "transfer") == 0)
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"transfer\",\"account\":\"%s\",\"to\":\"%s\","
                                     "\"amount\":\"%d.%02d\",\"at\":\"%s\"}\n",
                                     names[a], names[b], cents / 100, cents % 100, at);
        else
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"%s\",\"account\":\"%s\","
                                     "\"amount\":\"%d.%02d\",\"at\":\"%s\"}\n",
                                     type, names[a], cents / 100, cents % 100, at);
    }
    tcf_run_result res;
    e2e_ledger(&env, &res, (const char *const[]){"submit", "--timeout", "60", NULL}, input);
    cr_assert_eq(res.exit_code, 0, "submit: %s", res.err);
    tcf_run_free(&res);
    free(input);

    e2e_events events;
    e2e_wait_transfers_settled(&env, &events);
    const char *times[] = {NULL, "2026-03-01T00:00:00Z", "2026-03-02T01:00:00Z",
                           "2026-03-02T03:30:00Z", "2026-03-02T06:39:00Z"};
    for (int a = 0; a < ACCOUNTS; a++) {
        for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++)
            assert_history(&events, names[a], times[t]);
    }
    e2e_events_free(&events);
}
