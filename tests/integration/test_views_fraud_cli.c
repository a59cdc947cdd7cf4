/*
 * test_views_fraud_cli.c - `ledger flags` and `ledger flagged` against a
 * real `ledger-projector --view fraud`: each rule of SPEC section 7 on
 * either side of its threshold, thresholds set through the projector's
 * environment, accounts without flags, and unknown accounts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ids.h"
#include "test_views_support.h"

#define TIMEOUT_MS 60000
#define T0         "2026-11-26T10:00:00Z"

static ledger_event event(ledger_event_type type, const char *account, int64_t seq, int64_t at_ms,
                          int64_t amount, const char *counterparty) {
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof e.event_id, "0f8fad5b-d9cb-469f-a165-%012llx",
             (unsigned long long)seq);
    ledger_id_copy(e.account, sizeof e.account, account);
    ledger_id_copy(e.command_id, sizeof e.command_id, "c");
    e.type = type;
    e.seq = seq;
    e.at_ms = at_ms;
    e.amount = amount;
    if (counterparty != NULL) {
        ledger_id_copy(e.counterparty, sizeof e.counterparty, counterparty);
        snprintf(e.transfer_id, sizeof e.transfer_id, "7c9e6679-7425-40de-944b-%012llx",
                 (unsigned long long)seq);
    }
    return e;
}

/* A small log per account: opened, then events appended with the next seq. */
typedef struct log_builder {
    ledger_event events[128];
    size_t n;
} log_builder;

static int64_t next_seq(const log_builder *b, const char *account) {
    int64_t seq = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->events[i].account, account) == 0)
            seq = b->events[i].seq;
    }
    return seq + 1;
}

static void add(log_builder *b, ledger_event_type type, const char *account, int64_t at_ms,
                int64_t amount, const char *to) {
    cr_assert_lt(b->n, 128);
    if (next_seq(b, account) == 1)
        b->events[b->n++] =
            event(LEDGER_EVENT_ACCOUNT_OPENED, account, 1, at_ms - 3600000, 0, NULL);
    b->events[b->n] = event(type, account, next_seq(b, account), at_ms, amount, to);
    b->n++;
}

static void expect_flags(vw_world *w, const char *account, const char *flags) {
    cli_result res;
    vw_cli(w, &res, (const char *[]){"flags", account, NULL});
    cr_expect_eq(res.exit_code, 0, "flags %s: exit %d, stderr: %s", account, res.exit_code,
                 res.err);
    char want[2048];
    snprintf(want, sizeof want, "{\"account\":\"%s\",\"flags\":[%s]}\n", account, flags);
    cr_expect_str_eq(res.out, want, "flags %s", account);
}

TestSuite(views_fraud_cli, .fini = vw_cleanup);

Test(views_fraud_cli, each_rule_at_its_default_threshold) {
    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "fraud", NULL);
    int64_t t0 = vw_at(T0);
    static log_builder b;
    b.n = 0;
    /* large_debit: 10000.00 is flagged, 9999.99 is not. */
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L1", t0, 999999, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L2", t0, 1000000, NULL);
    /* velocity: the fifth debit in [t - 60 s, t] is flagged, a fourth is not,
     * and a fifth 60.001 s after the first is not. */
    for (int i = 0; i < 4; i++) {
        add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V1", t0 + i * 15000, 100, NULL);
        add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V2", t0 + i * 15000, 100, NULL);
        add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V3", t0 + i * 15000, 100, NULL);
    }
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "V2", t0 + 60000, 2000, "X");
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V3", t0 + 60001, 100, NULL);
    /* new_payee: 1000.00 to a first-time payee is flagged, 999.99 is not,
     * and 1000.00 to a payee paid 5.00 before is not. */
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P1", t0, 100000, "X");
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P2", t0, 99999, "X");
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P3", t0, 500, "Y");
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P3", t0 + 86400000, 100000, "Y");
    /* Credits are never debits. */
    add(&b, LEDGER_EVENT_MONEY_DEPOSITED, "D1", t0, 5000000, NULL);
    vw_produce(w, b.events, b.n, NULL, NULL);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);

    expect_flags(w, "L1", "");
    expect_flags(w, "L2",
                 "{\"rule\":\"large_debit\",\"seq\":2,\"at\":\"2026-11-26T10:00:00Z\","
                 "\"amount\":\"-10000.00\"}");
    expect_flags(w, "V1", "");
    expect_flags(w, "V2",
                 "{\"rule\":\"velocity\",\"seq\":6,\"at\":\"2026-11-26T10:01:00Z\","
                 "\"amount\":\"-20.00\"}");
    expect_flags(w, "V3", "");
    expect_flags(w, "P1",
                 "{\"rule\":\"new_payee\",\"seq\":2,\"at\":\"2026-11-26T10:00:00Z\","
                 "\"amount\":\"-1000.00\"}");
    expect_flags(w, "P2", "");
    expect_flags(w, "P3", "");
    expect_flags(w, "D1", "");

    cli_result res;
    vw_cli(w, &res, (const char *[]){"flagged", NULL});
    cr_expect_eq(res.exit_code, 0, "stderr: %s", res.err);
    cr_expect_str_eq(res.out, "{\"accounts\":[\"L2\",\"P1\",\"V2\"]}\n");
    vw_cli(w, &res, (const char *[]){"flags", "nobody", NULL});
    cr_expect_eq(res.exit_code, 1);
    cr_expect_str_eq(res.out, "{\"account\":\"nobody\",\"error\":\"not_found\"}\n");
    vw_world_destroy(w);
}

/* The velocity window comes from the previous batch of the account: kept in
 * the running projector's memory (a short window) or read back from Redis
 * (one longer than the kept state holds). Each later debit is its own
 * batch, applied before the next is produced. */
Test(views_fraud_cli, the_velocity_window_carries_over_to_the_next_batch) {
    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "fraud", NULL);
    int64_t t0 = vw_at(T0);
    static log_builder b;
    b.n = 0;
    /* K: 4 debits, then the fifth; L: 8 debits (a window of 7 after them),
     * then a ninth. */
    for (int i = 0; i < 4; i++)
        add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "K", t0 + i * 1000, 100, NULL);
    for (int i = 0; i < 8; i++)
        add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L", t0 + i * 1000, 100, NULL);
    vw_produce(w, b.events, b.n, NULL, NULL);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);
    expect_flags(w, "K", "");

    size_t from = b.n;
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "K", t0 + 10000, 100, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L", t0 + 10000, 100, NULL);
    vw_produce(w, b.events + from, b.n - from, NULL, NULL);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);
    expect_flags(w, "K",
                 "{\"rule\":\"velocity\",\"seq\":6,\"at\":\"2026-11-26T10:00:10Z\","
                 "\"amount\":\"-1.00\"}");
    char want[2048] = "";
    for (int seq = 6; seq <= 10; seq++) {
        char one[256];
        snprintf(one, sizeof one,
                 "%s{\"rule\":\"velocity\",\"seq\":%d,\"at\":\"2026-11-26T10:00:%02dZ\","
                 "\"amount\":\"-1.00\"}",
                 seq > 6 ? "," : "", seq, seq == 10 ? 10 : seq - 2);
        strncat(want, one, sizeof want - strlen(want) - 1);
    }
    expect_flags(w, "L", want);
    vw_world_destroy(w);
}

Test(views_fraud_cli, thresholds_come_from_the_projector_settings) {
    vw_world *w = vw_world_new(2);
    const char *env[] = {"LEDGER_FRAUD_LARGE_DEBIT=50", "LEDGER_FRAUD_VELOCITY_COUNT=2",
                         "LEDGER_FRAUD_VELOCITY_WINDOW=1s", "LEDGER_FRAUD_NEW_PAYEE=20.00", NULL};
    vw_start_projector(w, "fraud", env);
    int64_t t0 = vw_at(T0);
    static log_builder b;
    b.n = 0;
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L", t0, 4999, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "L", t0 + 5000, 5000, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V", t0, 100, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V", t0 + 1001, 100, NULL);
    add(&b, LEDGER_EVENT_MONEY_WITHDRAWN, "V", t0 + 2001, 100, NULL);
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P", t0, 1999, "X");
    add(&b, LEDGER_EVENT_TRANSFER_SENT, "P", t0 + 5000, 2000, "Y");
    int32_t p;
    int64_t o;
    vw_produce(w, b.events, b.n, &p, &o);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);

    expect_flags(w, "L",
                 "{\"rule\":\"large_debit\",\"seq\":3,\"at\":\"2026-11-26T10:00:05Z\","
                 "\"amount\":\"-50.00\"}");
    expect_flags(w, "V",
                 "{\"rule\":\"velocity\",\"seq\":4,\"at\":\"2026-11-26T10:00:02.001Z\","
                 "\"amount\":\"-1.00\"}");
    expect_flags(w, "P",
                 "{\"rule\":\"new_payee\",\"seq\":3,\"at\":\"2026-11-26T10:00:05Z\","
                 "\"amount\":\"-20.00\"}");
    vw_world_destroy(w);
}

Test(views_fraud_cli, an_invalid_threshold_stops_the_projector_with_exit_2) {
    static const char *const bad[] = {"LEDGER_FRAUD_LARGE_DEBIT=1.234",
                                      "LEDGER_FRAUD_VELOCITY_COUNT=0",
                                      "LEDGER_FRAUD_NEW_PAYEE=abc"};
    for (size_t i = 0; i < 3; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "env -i %s '%s' --view fraud --redis-url redis://127.0.0.1:1/0 "
                 "--brokers 127.0.0.1:1 >/dev/null 2>/tmp/vw-bad-threshold.err",
                 bad[i], LEDGER_PROJECTOR_BIN);
        int status = system(cmd);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s: status %d", bad[i], status);
        FILE *f = fopen("/tmp/vw-bad-threshold.err", "r");
        char err[1024] = "";
        if (f != NULL) {
            size_t n = fread(err, 1, sizeof err - 1, f);
            err[n] = '\0';
            fclose(f);
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        cr_expect(strstr(err, name) != NULL, "%s: stderr '%s'", bad[i], err);
    }
    unlink("/tmp/vw-bad-threshold.err");
}
