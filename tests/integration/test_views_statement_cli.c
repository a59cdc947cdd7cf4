/*
 * test_views_statement_cli.c - `ledger statement` against a real
 * `ledger-projector --view statements`: SPEC section 7's example byte for
 * byte, a month boundary with a transfer, months without entries, unknown
 * accounts, read-your-writes with --after, and the CLI's exit codes for bad
 * input (2) and unreachable or lagging Redis (3).
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <string.h>

#include "ids.h"
#include "test_views_support.h"

#define TIMEOUT_MS 60000
#define XFER_ID    "7c9e6679-7425-40de-944b-e07fc1f90ae7"

static ledger_event event(ledger_event_type type, const char *account, int64_t seq, const char *at,
                          int64_t amount, const char *counterparty) {
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof e.event_id, "0f8fad5b-d9cb-469f-a165-%012llx",
             (unsigned long long)seq);
    ledger_id_copy(e.account, sizeof e.account, account);
    ledger_id_copy(e.command_id, sizeof e.command_id, "c");
    e.type = type;
    e.seq = seq;
    e.at_ms = vw_at(at);
    e.amount = amount;
    if (counterparty != NULL) {
        ledger_id_copy(e.counterparty, sizeof e.counterparty, counterparty);
        ledger_id_copy(e.transfer_id, sizeof e.transfer_id, XFER_ID);
    }
    return e;
}

static void expect_run(vw_world *w, const char *const *argv, int exit_code, const char *out) {
    cli_result res;
    vw_cli(w, &res, argv);
    cr_expect_eq(res.exit_code, exit_code, "ledger %s %s: exit %d, stderr: %s", argv[0],
                 argv[1] ? argv[1] : "", res.exit_code, res.err);
    cr_expect_str_eq(res.out, out, "ledger %s %s %s", argv[0], argv[1] ? argv[1] : "",
                     argv[1] && argv[2] ? argv[2] : "");
}

TestSuite(views_statement_cli, .fini = vw_cleanup);

Test(views_statement_cli, the_spec_example_and_its_neighbouring_months) {
    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "statements", NULL);
    ledger_event events[] = {
        event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-11-01T08:00:00Z", 0, NULL),
        event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000, NULL),
        event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-20T12:00:00Z", 250, NULL),
    };
    int32_t p;
    int64_t o;
    vw_produce(w, events, 3, &p, &o);
    char after[48];
    snprintf(after, sizeof after, "%d:%lld", (int)p, (long long)o);

    /* --after waits for the projector: no other wait before the first query. */
    expect_run(w, (const char *[]){"statement", "A", "2026-11", "--after", after, NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-11\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"7.50\",\"total_in\":\"10.00\",\"total_out\":\"2.50\","
               "\"entries\":[{\"at\":\"2026-11-02T09:00:00Z\",\"seq\":2,\"type\":\"deposit\","
               "\"amount\":\"10.00\",\"balance_after\":\"10.00\"},"
               "{\"at\":\"2026-11-20T12:00:00Z\",\"seq\":3,\"type\":\"withdrawal\","
               "\"amount\":\"-2.50\",\"balance_after\":\"7.50\"}]}\n");
    expect_run(w, (const char *[]){"statement", "A", "2026-12", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-12\",\"opening_balance\":\"7.50\","
               "\"closing_balance\":\"7.50\",\"total_in\":\"0.00\",\"total_out\":\"0.00\","
               "\"entries\":[]}\n");
    expect_run(w, (const char *[]){"statement", "A", "2026-10", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-10\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"0.00\",\"total_in\":\"0.00\",\"total_out\":\"0.00\","
               "\"entries\":[]}\n");
    expect_run(w, (const char *[]){"statement", "B", "2026-11", NULL}, 1,
               "{\"account\":\"B\",\"error\":\"not_found\"}\n");
    vw_world_destroy(w);
}

/* 100.00 deposited on the last millisecond of October, 30.00 sent to B on
 * the first of November, B opened in November: November opens on October's
 * closing balance, and the transfer entries name each other. */
Test(views_statement_cli, a_month_boundary_with_a_transfer) {
    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "statements", NULL);
    ledger_event events[] = {
        event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-10-01T00:00:00Z", 0, NULL),
        event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-10-31T23:59:59.999Z", 10000, NULL),
        event(LEDGER_EVENT_ACCOUNT_OPENED, "B", 1, "2026-10-31T23:59:59.999Z", 0, NULL),
        event(LEDGER_EVENT_TRANSFER_SENT, "A", 3, "2026-11-01T00:00:00Z", 3000, "B"),
        event(LEDGER_EVENT_TRANSFER_RECEIVED, "B", 2, "2026-11-01T00:00:00Z", 3000, "A"),
    };
    vw_produce(w, events, 5, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);

    expect_run(w, (const char *[]){"statement", "A", "2026-10", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-10\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"100.00\",\"total_in\":\"100.00\",\"total_out\":\"0.00\","
               "\"entries\":[{\"at\":\"2026-10-31T23:59:59.999Z\",\"seq\":2,\"type\":\"deposit\","
               "\"amount\":\"100.00\",\"balance_after\":\"100.00\"}]}\n");
    expect_run(w, (const char *[]){"statement", "A", "2026-11", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-11\",\"opening_balance\":\"100.00\","
               "\"closing_balance\":\"70.00\",\"total_in\":\"0.00\",\"total_out\":\"30.00\","
               "\"entries\":[{\"at\":\"2026-11-01T00:00:00Z\",\"seq\":3,\"type\":\"transfer_sent\","
               "\"amount\":\"-30.00\",\"balance_after\":\"70.00\",\"counterparty\":\"B\","
               "\"transfer_id\":\"" XFER_ID "\"}]}\n");
    expect_run(w, (const char *[]){"statement", "B", "2026-10", NULL}, 0,
               "{\"account\":\"B\",\"month\":\"2026-10\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"0.00\",\"total_in\":\"0.00\",\"total_out\":\"0.00\","
               "\"entries\":[]}\n");
    expect_run(w, (const char *[]){"statement", "B", "2026-11", NULL}, 0,
               "{\"account\":\"B\",\"month\":\"2026-11\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"30.00\",\"total_in\":\"30.00\",\"total_out\":\"0.00\","
               "\"entries\":[{\"at\":\"2026-11-01T00:00:00Z\",\"seq\":2,"
               "\"type\":\"transfer_received\",\"amount\":\"30.00\",\"balance_after\":\"30.00\","
               "\"counterparty\":\"A\",\"transfer_id\":\"" XFER_ID "\"}]}\n");
    vw_world_destroy(w);
}

/* The totals of a month carry over from one batch of the running projector
 * to the next, and a back-dated event still lands in its own month. Each
 * batch is applied before the next is produced, so the projector goes on
 * from the states it kept (a kept state with zero totals, or with no
 * latest month, fails it). */
static void expect_month(vw_world *w, const char *month, const char *opening, const char *closing,
                         const char *in, const char *out, size_t entries) {
    cli_result res;
    vw_cli(w, &res, (const char *[]){"statement", "A", month, NULL});
    cr_assert_eq(res.exit_code, 0, "statement A %s: exit %d, stderr: %s", month, res.exit_code,
                 res.err);
    json_t *j = vw_parse_line(res.out);
    cr_assert_not_null(j, "statement A %s: %s", month, res.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "opening_balance")), opening,
                     "%s opening: %s", month, res.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "closing_balance")), closing,
                     "%s closing: %s", month, res.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "total_in")), in, "%s in: %s", month,
                     res.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "total_out")), out, "%s out: %s", month,
                     res.out);
    cr_expect_eq(json_array_size(json_object_get(j, "entries")), entries, "%s entries: %s", month,
                 res.out);
    json_decref(j);
}

Test(views_statement_cli, a_month_spread_over_batches_keeps_its_totals) {
    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "statements", NULL);
    ledger_event first[] = {
        event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-10-01T00:00:00Z", 0, NULL),
        event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 10000, NULL),
    };
    ledger_event second[] = {
        event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, "2026-11-10T09:00:00Z", 2500, NULL),
    };
    ledger_event third[] = {
        event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 4, "2026-12-01T09:00:00Z", 500, NULL),
        event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 5, "2026-11-30T09:00:00Z", 100, NULL),
    };
    vw_produce(w, first, 2, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);
    vw_produce(w, second, 1, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);
    vw_produce(w, third, 2, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);

    /* November: +100.00, -25.00, then -1.00 back-dated after December's
     * +5.00; December opens with November's net. */
    expect_month(w, "2026-11", "0.00", "74.00", "100.00", "26.00", 3);
    expect_month(w, "2026-12", "74.00", "79.00", "5.00", "0.00", 1);
    expect_month(w, "2026-10", "0.00", "0.00", "0.00", "0.00", 0);
    vw_world_destroy(w);
}

/* Rejected before anything is asked of Redis: no world needed. */
Test(views_statement_cli, bad_input_exits_2_with_the_reason) {
    static const struct {
        const char *argv[8];
        const char *reason;
    } cases[] = {
        {{"statement", "bad id!", "2026-11", NULL}, "invalid account 'bad id!'"},
        {{"statement", "A", "2026-13", NULL}, "invalid month '2026-13'"},
        {{"statement", "A", "26-01", NULL}, "invalid month '26-01'"},
        {{"statement", "A", "2026-1", NULL}, "invalid month '2026-1'"},
        {{"statement", "A", NULL}, "missing argument YYYY-MM"},
        {{"statement", NULL}, "missing argument ACCOUNT"},
        {{"statement", "A", "2026-11", "extra", NULL}, "unexpected argument 'extra'"},
        {{"statement", "A", "2026-11", "--after", "5", NULL}, "--after"},
        {{"statement", "A", "2026-11", "--timeout", "soon", NULL}, "--timeout"},
        {{"flags", "a b", NULL}, "invalid account 'a b'"},
        {{"flags", NULL}, "missing argument ACCOUNT"},
        {{"flags", "A", "B", NULL}, "unexpected argument 'B'"},
        {{"flags", "A", "--after", "x:1", NULL}, "--after"},
        {{"flagged", "A", NULL}, "unexpected argument 'A'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_result res;
        const char *env[] = {"LEDGER_REDIS_URL=redis://127.0.0.1:1/0", NULL};
        cli_run(&res, cases[i].argv, env);
        cr_expect_eq(res.exit_code, 2, "case %zu: exit %d, stderr: %s", i, res.exit_code, res.err);
        cr_expect(strstr(res.err, cases[i].reason) != NULL, "case %zu: stderr '%s' lacks '%s'", i,
                  res.err, cases[i].reason);
        cr_expect_str_eq(res.out, "", "case %zu", i);
    }
}

Test(views_statement_cli, unreachable_redis_exits_3_naming_it) {
    static const char *const queries[][4] = {
        {"statement", "A", "2026-11", NULL},
        {"flags", "A", NULL, NULL},
        {"flagged", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        cli_result res;
        const char *env[] = {"LEDGER_REDIS_URL=redis://127.0.0.1:1/0", NULL};
        cli_run(&res, queries[i], env);
        cr_expect_eq(res.exit_code, 3, "%s: exit %d, stderr: %s", queries[i][0], res.exit_code,
                     res.err);
        cr_expect(strstr(res.err, "127.0.0.1:1") != NULL, "%s: stderr '%s'", queries[i][0],
                  res.err);
    }
}

/* No projector runs, so the position is never applied. */
Test(views_statement_cli, after_a_position_never_applied_exits_3_at_the_timeout) {
    vw_world *w = vw_world_new(1);
    static const char *const queries[][8] = {
        {"statement", "A", "2026-11", "--after", "0:5", "--timeout", "300ms", NULL},
        {"flags", "A", "--after", "0:5", "--timeout", "300ms", NULL},
        {"flagged", "--after", "0:5", "--timeout", "300ms", NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        cli_result res;
        vw_cli(w, &res, queries[i]);
        cr_expect_eq(res.exit_code, 3, "%s: exit %d, stderr: %s", queries[i][0], res.exit_code,
                     res.err);
        cr_expect(strstr(res.err, "timed out") != NULL, "%s: stderr '%s'", queries[i][0], res.err);
        cr_expect_str_eq(res.out, "");
    }
    vw_world_destroy(w);
}

static void redis_ok(redisContext *c, const char *const *argv) {
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    redisReply *r = redisCommandArgv(c, argc, (const char **)argv, NULL);
    cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR, "%s failed: %s", argv[0],
              r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
}

/* The quarantine hash of the read-side contract marks answers stale (the
 * runtime's quarantine writes it; here it is planted). */
Test(views_statement_cli, a_quarantined_account_is_shown_stale) {
    vw_world *w = vw_world_new(2);
    vw_start_projector(w, "statements", NULL);
    vw_start_projector(w, "fraud", NULL);
    ledger_event events[] = {
        event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, "2026-11-01T08:00:00Z", 0, NULL),
        event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, "2026-11-02T09:00:00Z", 1000, NULL),
    };
    vw_produce(w, events, 2, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);

    redisContext *c = vw_redis(w);
    char key[256];
    const char *held = "{\"partition\":0,\"offset\":7,\"error\":\"cannot decode\"}";
    snprintf(key, sizeof key, "%s:statements:g1:quarantine", vw_redis_prefix(w));
    redis_ok(c, (const char *[]){"HSET", key, "A", held, NULL});
    snprintf(key, sizeof key, "%s:fraud:g1:quarantine", vw_redis_prefix(w));
    redis_ok(c, (const char *[]){"HSET", key, "A", held, NULL});
    redisFree(c);

    expect_run(w, (const char *[]){"statement", "A", "2026-11", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-11\",\"opening_balance\":\"0.00\","
               "\"closing_balance\":\"10.00\",\"total_in\":\"10.00\",\"total_out\":\"0.00\","
               "\"entries\":[{\"at\":\"2026-11-02T09:00:00Z\",\"seq\":2,\"type\":\"deposit\","
               "\"amount\":\"10.00\",\"balance_after\":\"10.00\"}],\"stale\":true}\n");
    expect_run(w, (const char *[]){"flags", "A", NULL}, 0,
               "{\"account\":\"A\",\"flags\":[],\"stale\":true}\n");
    vw_world_destroy(w);
}

/* Queries read the generation <ns>:<view>:current names (a rebuild's
 * switch), here planted by hand in the contract's layout: generation 2
 * holds the answer, generation 1 something else. */
Test(views_statement_cli, queries_read_the_current_generation) {
    vw_world *w = vw_world_new(1);
    redisContext *c = vw_redis(w);
    const char *ns = vw_redis_prefix(w);
    char k[5][256];
    snprintf(k[0], sizeof k[0], "%s:statements:current", ns);
    snprintf(k[1], sizeof k[1], "%s:statements:g1:{A}:account", ns);
    snprintf(k[2], sizeof k[2], "%s:statements:g2:{A}:account", ns);
    snprintf(k[3], sizeof k[3], "%s:statements:g2:{A}:e:2026-11", ns);
    snprintf(k[4], sizeof k[4], "%s:fraud:current", ns);
    redis_ok(c, (const char *[]){"SET", k[0], "2", NULL});
    redis_ok(c, (const char *[]){"HSET", k[1], "balance", "1", "version", "1", "month", "2026-11",
                                 "i:2026-11", "1", "o:2026-11", "0", NULL});
    redis_ok(c, (const char *[]){"HSET", k[2], "balance", "750", "version", "3", "month", "2026-11",
                                 "i:2026-10", "1000", "o:2026-10", "0", "i:2026-11", "0",
                                 "o:2026-11", "250", NULL});
    redis_ok(c, (const char *[]){"RPUSH", k[3],
                                 "{\"at\":\"2026-11-05T12:00:00Z\",\"seq\":3,\"type\":"
                                 "\"withdrawal\",\"amount\":\"-2.50\",\"balance_after\":\"7.50\"}",
                                 NULL});
    redis_ok(c, (const char *[]){"SET", k[4], "2", NULL});
    redisFree(c);

    expect_run(w, (const char *[]){"statement", "A", "2026-11", NULL}, 0,
               "{\"account\":\"A\",\"month\":\"2026-11\",\"opening_balance\":\"10.00\","
               "\"closing_balance\":\"7.50\",\"total_in\":\"0.00\",\"total_out\":\"2.50\","
               "\"entries\":[{\"at\":\"2026-11-05T12:00:00Z\",\"seq\":3,\"type\":\"withdrawal\","
               "\"amount\":\"-2.50\",\"balance_after\":\"7.50\"}]}\n");
    /* The fraud view's generation 2 is empty: nothing found there. */
    expect_run(w, (const char *[]){"flags", "A", NULL}, 1,
               "{\"account\":\"A\",\"error\":\"not_found\"}\n");
    vw_world_destroy(w);
}

/* A stored state the query cannot read is an error naming the key and the
 * field, never a statement with a wrong total. */
Test(views_statement_cli, an_unreadable_stored_state_exits_3_naming_it) {
    vw_world *w = vw_world_new(1);
    redisContext *c = vw_redis(w);
    char k[256];
    snprintf(k, sizeof k, "%s:statements:g1:{A}:account", vw_redis_prefix(w));
    static const char *const bad[][2] = {
        {"i:2026-10", "ten"}, {"x:2026-10", "1"}, {"o:2026-13", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redis_ok(c, (const char *[]){"DEL", k, NULL});
        redis_ok(c, (const char *[]){"HSET", k, "balance", "1", "version", "1", bad[i][0],
                                     bad[i][1], NULL});
        cli_result res;
        vw_cli(w, &res, (const char *[]){"statement", "A", "2026-11", NULL});
        cr_expect_eq(res.exit_code, 3, "%s: exit %d, stderr: %s", bad[i][0], res.exit_code,
                     res.err);
        cr_expect_str_eq(res.out, "", "%s", bad[i][0]);
        cr_expect(strstr(res.err, k) != NULL && strstr(res.err, bad[i][0]) != NULL,
                  "%s: stderr '%s'", bad[i][0], res.err);
    }
    redisFree(c);
    vw_world_destroy(w);
}
