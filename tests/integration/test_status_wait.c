/*
 * test_status_wait.c - `ledger status` and `ledger wait` from the outside
 * (the built binaries, the real broker and Redis):
 *
 *   - status: generation, per-partition checkpoint, end and lag (0 once
 *     caught up, although each transaction ends with a marker; the exact
 *     count of offsets behind once the projector is stopped), a rebuild's
 *     generation, the quarantined accounts sorted, every view by default;
 *     unknown view (2), Redis or Kafka unreachable (3);
 *   - wait: with a real ledger-producer and projectors, commands submitted
 *     with `ledger submit` (transfers, one of them returned) are all
 *     visible in every view the moment `ledger wait` returns; with a
 *     view's projector missing it exits 3 after its --timeout.
 *
 * Expected offsets come from the test's own delivery reports and expected
 * balances from the commands it sends, never from the program's output.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "projector_keys.h"
#include "test_cli_fixture.h"
#include "test_projector_harness.h"

/* The CLI's environment for a test world. */
typedef struct cli_env {
    char brokers[300], prefix[120], url[320], ns[128], group[160];
    const char *env[6];
} cli_env;

static void cli_env_init(cli_env *e, const pt_env *env, const char *producer_group) {
    snprintf(e->brokers, sizeof(e->brokers), "LEDGER_BROKERS=%s", env->brokers);
    snprintf(e->prefix, sizeof(e->prefix), "LEDGER_TOPIC_PREFIX=%s", env->topic_prefix);
    snprintf(e->url, sizeof(e->url), "LEDGER_REDIS_URL=%s", env->redis_url);
    snprintf(e->ns, sizeof(e->ns), "LEDGER_REDIS_PREFIX=%s", env->redis_prefix);
    snprintf(e->group, sizeof(e->group), "LEDGER_PRODUCER_GROUP_ID=%s",
             producer_group != NULL ? producer_group : "none");
    e->env[0] = e->brokers;
    e->env[1] = e->prefix;
    e->env[2] = e->url;
    e->env[3] = e->ns;
    e->env[4] = e->group;
    e->env[5] = NULL;
}

/* Parses the n-th line (0-based) of out; fails the test when absent. */
static json_t *line_at(const char *out, int n) {
    const char *p = out;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        cr_assert_not_null(p, "no line %d in: %s", n, out);
        p++;
    }
    const char *end = strchr(p, '\n');
    cr_assert_not_null(end, "line %d is not terminated: %s", n, out);
    json_error_t error;
    json_t *j = json_loadb(p, (size_t)(end - p), 0, &error);
    cr_assert_not_null(j, "line %d is not JSON (%s): %.*s", n, error.text, (int)(end - p), p);
    return j;
}

static size_t line_count(const char *out) {
    size_t n = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

static int64_t int_member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "member '%s' is not an integer", key);
    return (int64_t)json_integer_value(v);
}

/* Checks one view's status line against the expected checkpoints (-1 =
 * none) and ends, and returns it (caller decrefs). */
static json_t *check_status_line(const char *out, int n, const char *view, int64_t generation,
                                 const int64_t *checkpoint, const int64_t *end) {
    json_t *j = line_at(out, n);
    cr_assert_str_eq(json_string_value(json_object_get(j, "view")), view);
    cr_assert_eq(int_member(j, "generation"), generation);
    json_t *parts = json_object_get(j, "partitions");
    cr_assert(json_is_array(parts) && json_array_size(parts) == PT_PARTITIONS, "%s", out);
    int64_t sum = 0;
    for (int p = 0; p < PT_PARTITIONS; p++) {
        json_t *e = json_array_get(parts, (size_t)p);
        int64_t cp = checkpoint[p] > 0 ? checkpoint[p] : 0;
        int64_t want_end = end[p] > cp ? end[p] : cp;
        cr_assert_eq(int_member(e, "partition"), p);
        cr_assert_eq(int_member(e, "checkpoint"), cp, "view %s partition %d", view, p);
        cr_assert_eq(int_member(e, "end"), want_end, "view %s partition %d end", view, p);
        cr_assert_eq(int_member(e, "lag"), want_end - cp, "view %s partition %d lag", view, p);
        sum += cp;
    }
    cr_assert_eq(int_member(j, "events_applied"), sum);
    return j;
}

Test(status, shows_generations_lag_and_quarantined_accounts, .timeout = 90) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "status seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 8, seed, "st-");
    pt_produce(&w, 300);
    pt_produce(&w, 300); /* two transactions: markers inside and at the end */
    cli_env ce;
    cli_env_init(&ce, &env, NULL);

    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, NULL};
    pt_start_projector(&proc, &env, argv);
    redisContext *c = pt_redis(&env);
    pt_wait_applied(&w, c, "balance", 60000);

    /* Caught up: every checkpoint is one past its partition's last event,
     * and the lag is 0 although a commit marker follows that event. */
    int64_t applied[PT_PARTITIONS], end[PT_PARTITIONS], none[PT_PARTITIONS];
    for (int p = 0; p < PT_PARTITIONS; p++) {
        applied[p] = w.last_offset[p] + 1;
        end[p] = applied[p];
        none[p] = -1;
    }
    static cli_result res;
    const char *status_balance[] = {"status", "--view", "balance", NULL};
    cli_run(&res, status_balance, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_eq(line_count(res.out), 1, "%s", res.out);
    json_t *j = check_status_line(res.out, 0, "balance", 1, applied, end);
    cr_assert_null(json_object_get(j, "building"), "no rebuild is running");
    cr_assert_eq(json_array_size(json_object_get(j, "quarantined")), 0);
    json_decref(j);

    /* Stopped: the events produced since are the lag, counted in offsets
     * (the marker between two transactions included). */
    cr_assert_eq(pt_stop(&proc, 30000), 0);
    pt_produce(&w, 120);
    for (int p = 0; p < PT_PARTITIONS; p++)
        end[p] = w.last_offset[p] + 1;
    cli_run(&res, status_balance, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    j = check_status_line(res.out, 0, "balance", 1, applied, end);
    json_decref(j);

    /* A rebuild running, two accounts quarantined (written by hand). */
    char key[PROJECTOR_KEY_BUF];
    projector_keys_quarantine(env.redis_prefix, "balance", 1, key, sizeof(key));
    redisReply *r = redisCommand(c, "HSET %s zz-late %s aa-early %s", key,
                                 "{\"partition\":1,\"offset\":7,\"error\":\"test\"}",
                                 "{\"partition\":2,\"offset\":3,\"error\":\"test\"}");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    projector_keys_building(env.redis_prefix, "balance", key, sizeof(key));
    r = redisCommand(c, "SET %s 2", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);

    /* Every view by default: the others have applied nothing yet. */
    const char *status_all[] = {"status", NULL};
    cli_run(&res, status_all, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_eq(line_count(res.out), 3, "%s", res.out);
    j = check_status_line(res.out, 0, "balance", 1, applied, end);
    cr_assert_eq(int_member(j, "building"), 2);
    json_t *q = json_object_get(j, "quarantined");
    cr_assert(json_is_array(q) && json_array_size(q) == 2, "%s", res.out);
    cr_assert_str_eq(json_string_value(json_array_get(q, 0)), "aa-early");
    cr_assert_str_eq(json_string_value(json_array_get(q, 1)), "zz-late");
    json_decref(j);
    json_decref(check_status_line(res.out, 1, "statements", 1, none, end));
    json_decref(check_status_line(res.out, 2, "fraud", 1, none, end));

    const char *unknown[] = {"status", "--view", "nope", NULL};
    cli_run(&res, unknown, ce.env);
    cr_assert_eq(res.exit_code, 2);
    cr_assert_not_null(strstr(res.err, "invalid --view 'nope'"), "%s", res.err);

    const char *redis_down_env[] = {ce.brokers, ce.prefix, "LEDGER_REDIS_URL=redis://127.0.0.1:1/0",
                                    ce.ns, NULL};
    cli_run(&res, status_all, redis_down_env);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    cr_assert_not_null(strstr(res.err, "127.0.0.1:1"), "%s", res.err);
    cr_assert_str_empty(res.out);

    const char *kafka_down_env[] = {"LEDGER_BROKERS=127.0.0.1:1", ce.prefix, ce.url, ce.ns, NULL};
    const char *status_quick[] = {"status", "--timeout", "2s", NULL};
    cli_run(&res, status_quick, kafka_down_env);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    cr_assert_not_null(strstr(res.err, "127.0.0.1:1"), "%s", res.err);
    cr_assert_str_empty(res.out);

    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

/* ---- wait ---- */

/* pt_start_function's child: becomes ledger-producer with argv. */
static int exec_producer(int argc, char **argv) {
    char **full = calloc((size_t)argc + 2, sizeof(*full));
    if (full == NULL)
        return 3;
    full[0] = (char *)LEDGER_PRODUCER_BIN;
    for (int i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    execv(LEDGER_PRODUCER_BIN, full);
    return 127;
}

static void start_view(pt_proc *proc, const pt_env *env, const char *view) {
    char group[128];
    pt_group_id(env, view, group, sizeof(group));
    const char *argv[] = {"--view", view, "--group-id", group, NULL};
    pt_start_projector(proc, env, argv);
    pt_wait_log(proc, "ready", 1, 60000);
}

static void submit(const cli_env *ce, const char *input, size_t lines) {
    tcf_run_result res;
    const char *argv[] = {"submit", NULL};
    tcf_run(&res, argv, ce->env, input);
    cr_assert_eq(res.exit_code, 0, "submit: %s", res.err);
    cr_assert_eq(line_count(res.out), lines, "%s", res.out);
    for (const char *p = res.out; (p = strstr(p, "\"status\":")) != NULL; p++)
        cr_assert(strncmp(p, "\"status\":\"accepted\"", 19) == 0, "a command was rejected: %s",
                  res.out);
    tcf_run_free(&res);
}

Test(wait, returns_once_quiet_and_times_out_without_a_projector, .timeout = 90) {
    pt_env env;
    pt_env_init(&env);
    char producer_group[128], txid[128];
    snprintf(producer_group, sizeof(producer_group), "%s-producer", env.redis_prefix);
    snprintf(txid, sizeof(txid), "%s-tx", env.redis_prefix);
    cli_env ce;
    cli_env_init(&ce, &env, producer_group);

    pt_proc producer, balance, statements, fraud;
    const char *producer_argv[] = {"--group-id", producer_group, "--transactional-id-prefix", txid,
                                   NULL};
    pt_start_function(&producer, &env, exec_producer, producer_argv);
    pt_wait_log(&producer, "ready", 1, 60000);
    start_view(&balance, &env, "balance");
    start_view(&statements, &env, "statements");

    /* a: 20000 - 12000 - 1500 - 50 + 50 (returned: c is closed) = 6500.00;
     * b: 1500.00 (credited); c: closed. The transfer to c goes in a second
     * submit, once c's close is handled. */
    const char *first =
        "{\"id\":\"w-1\",\"type\":\"open\",\"account\":\"wa\",\"at\":\"2026-11-02T09:00:00Z\"}\n"
        "{\"id\":\"w-2\",\"type\":\"open\",\"account\":\"wb\",\"at\":\"2026-11-02T09:00:01Z\"}\n"
        "{\"id\":\"w-3\",\"type\":\"open\",\"account\":\"wc\",\"at\":\"2026-11-02T09:00:02Z\"}\n"
        "{\"id\":\"w-4\",\"type\":\"deposit\",\"account\":\"wa\",\"amount\":\"20000\","
        "\"at\":\"2026-11-02T09:01:00Z\"}\n"
        "{\"id\":\"w-5\",\"type\":\"withdraw\",\"account\":\"wa\",\"amount\":\"12000\","
        "\"at\":\"2026-11-02T09:02:00Z\"}\n"
        "{\"id\":\"w-6\",\"type\":\"transfer\",\"account\":\"wa\",\"to\":\"wb\","
        "\"amount\":\"1500\",\"at\":\"2026-11-02T09:03:00Z\"}\n"
        "{\"id\":\"w-7\",\"type\":\"close\",\"account\":\"wc\",\"at\":\"2026-11-02T09:04:00Z\"}\n";
    submit(&ce, first, 7);
    const char *second = "{\"id\":\"w-8\",\"type\":\"transfer\",\"account\":\"wa\",\"to\":\"wc\","
                         "\"amount\":\"50\",\"at\":\"2026-11-02T09:05:00Z\"}\n";
    submit(&ce, second, 1);

    /* No fraud projector: everything else gets quiet, fraud never does. */
    static cli_result res;
    const char *short_wait[] = {"wait", "--timeout", "3s", NULL};
    int64_t t0 = pt_now_ms();
    cli_run(&res, short_wait, ce.env);
    cr_assert_eq(res.exit_code, 3, "exit %d: %s", res.exit_code, res.err);
    cr_assert_geq(pt_now_ms() - t0, 3000);
    cr_assert_not_null(strstr(res.err, "timed out"), "%s", res.err);
    cr_assert_not_null(strstr(res.err, "'fraud'"), "%s", res.err);
    cr_assert_str_empty(res.out);

    start_view(&fraud, &env, "fraud");
    const char *full_wait[] = {"wait", "--timeout", "60s", NULL};
    cli_run(&res, full_wait, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_str_eq(res.out,
                     "{\"quiet\":true,\"views\":[\"balance\",\"statements\",\"fraud\"]}\n");

    /* Right after the wait, with no --after: every view shows everything,
     * the credit and the returned transfer included. */
    const char *bal_a[] = {"balance", "wa", NULL};
    cli_run(&res, bal_a, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_str_eq(
        res.out,
        "{\"account\":\"wa\",\"balance\":\"6500.00\",\"version\":6,\"status\":\"open\"}\n");
    const char *bal_b[] = {"balance", "wb", NULL};
    cli_run(&res, bal_b, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_str_eq(
        res.out,
        "{\"account\":\"wb\",\"balance\":\"1500.00\",\"version\":2,\"status\":\"open\"}\n");
    const char *bal_c[] = {"balance", "wc", NULL};
    cli_run(&res, bal_c, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_str_eq(
        res.out, "{\"account\":\"wc\",\"balance\":\"0.00\",\"version\":2,\"status\":\"closed\"}\n");

    const char *statement[] = {"statement", "wa", "2026-11", NULL};
    cli_run(&res, statement, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    json_t *s = line_at(res.out, 0);
    cr_assert_str_eq(json_string_value(json_object_get(s, "closing_balance")), "6500.00");
    cr_assert_eq(json_array_size(json_object_get(s, "entries")), 5, "%s", res.out);
    json_decref(s);

    const char *flags[] = {"flags", "wa", NULL};
    cli_run(&res, flags, ce.env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    json_t *f = line_at(res.out, 0);
    json_t *list = json_object_get(f, "flags");
    cr_assert(json_is_array(list) && json_array_size(list) == 2, "%s", res.out);
    bool large = false, payee = false;
    for (size_t i = 0; i < 2; i++) {
        json_t *flag = json_array_get(list, i);
        const char *rule = json_string_value(json_object_get(flag, "rule"));
        int64_t seq = int_member(flag, "seq");
        large = large || (strcmp(rule, "large_debit") == 0 && seq == 3);
        payee = payee || (strcmp(rule, "new_payee") == 0 && seq == 4);
    }
    cr_assert(large && payee, "%s", res.out);
    json_decref(f);

    cr_assert_eq(pt_stop(&fraud, 30000), 0);
    cr_assert_eq(pt_stop(&statements, 30000), 0);
    cr_assert_eq(pt_stop(&balance, 30000), 0);
    cr_assert_eq(pt_stop(&producer, 30000), 0);
    pt_env_cleanup(&env);
}
