/*
 * test_projector_query.c - `ledger balance` from the outside (the built
 * binary): read-your-writes with --after right after each append, every
 * time and with no sleep; the JSON shape with money as text; not found
 * (exit 1); bad account and bad --after (exit 2, before touching Redis);
 * --after that never comes, and Redis unreachable (exit 3); "stale":true
 * for a quarantined account.
 *
 * Expected lines are built here from the pure fold (account_apply, then
 * money_format), never copied from the program's output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "money.h"
#include "projector_keys.h"
#include "test_projector_harness.h"

static void expected_line(const pt_account *a, bool stale, char *buf, size_t size) {
    char balance[MONEY_TEXT_BUF];
    money_format(a->state.balance, balance, sizeof(balance));
    snprintf(buf, size,
             "{\"account\":\"%s\",\"balance\":\"%s\",\"version\":%lld,\"status\":\"%s\"%s}\n",
             a->name, balance, (long long)a->state.seq,
             a->state.status == ACCOUNT_OPEN ? "open" : "closed", stale ? ",\"stale\":true" : "");
}

typedef struct query_env {
    char url[300];
    char prefix[120];
    const char *env[3];
} query_env;

static void query_env_init(query_env *q, const pt_env *env) {
    snprintf(q->url, sizeof(q->url), "LEDGER_REDIS_URL=%s", env->redis_url);
    snprintf(q->prefix, sizeof(q->prefix), "LEDGER_REDIS_PREFIX=%s", env->redis_prefix);
    q->env[0] = q->url;
    q->env[1] = q->prefix;
    q->env[2] = NULL;
}

Test(projector_query, balance_after_a_position_reads_its_own_write_every_time, .timeout = 240) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_query seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 4, seed, "q-");
    query_env q;
    query_env_init(&q, &env);

    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, NULL};
    pt_start_projector(&proc, &env, argv);
    pt_wait_log(&proc, "ready", 1, 60000);

    static cli_result res;
    for (int round = 0; round < 40; round++) {
        size_t i = (size_t)round % w.account_count;
        pt_produce_one(&w, i, 0 /* random type */, 0 /* random amount */);
        char position[48], want[256];
        snprintf(position, sizeof(position), "%d:%lld", (int)w.last_partition,
                 (long long)w.last_event_offset);
        const char *args[] = {"balance", w.accounts[i].name, "--after", position, NULL};
        cli_run(&res, args, q.env);
        expected_line(&w.accounts[i], false, want, sizeof(want));
        cr_assert_eq(res.exit_code, 0, "round %d: exit %d: %s", round, res.exit_code, res.err);
        cr_assert_str_eq(res.out, want, "round %d after %s", round, position);
    }

    /* Quarantined: the same state, marked stale. */
    char key[PROJECTOR_KEY_BUF];
    projector_keys_quarantine(env.redis_prefix, "balance", 1, key, sizeof(key));
    redisContext *c = pt_redis(&env);
    redisReply *r = redisCommand(c, "HSET %s %s %s", key, w.accounts[0].name,
                                 "{\"partition\":0,\"offset\":0,\"error\":\"test\"}");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    const char *stale_args[] = {"balance", w.accounts[0].name, NULL};
    cli_run(&res, stale_args, q.env);
    char want[256];
    expected_line(&w.accounts[0], true, want, sizeof(want));
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_str_eq(res.out, want);

    /* A position the view will not reach: exit 3 once --timeout passes. */
    char far[48];
    snprintf(far, sizeof(far), "%d:%lld", (int)w.last_partition,
             (long long)w.last_event_offset + 1000000);
    const char *late_args[] = {"balance", w.accounts[0].name, "--after", far, "--timeout", "300ms",
                               NULL};
    int64_t t0 = pt_now_ms();
    cli_run(&res, late_args, q.env);
    cr_assert_eq(res.exit_code, 3, "exit %d: %s", res.exit_code, res.err);
    cr_assert_not_null(strstr(res.err, "timed out"), "%s", res.err);
    cr_assert_geq(pt_now_ms() - t0, 300);
    cr_assert_str_empty(res.out);

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

Test(projector_query, not_found_bad_input_and_unreachable_redis) {
    const char *url = getenv("LEDGER_TEST_REDIS_URL");
    cr_assert(url != NULL && url[0] != '\0', "LEDGER_TEST_REDIS_URL is not set");
    char url_env[300], prefix_env[120];
    snprintf(url_env, sizeof(url_env), "LEDGER_REDIS_URL=%s", url);
    snprintf(prefix_env, sizeof(prefix_env), "LEDGER_REDIS_PREFIX=t%d-none", (int)getpid());
    const char *env[] = {url_env, prefix_env, NULL};
    static cli_result res;

    const char *missing[] = {"balance", "nobody-here", NULL};
    cli_run(&res, missing, env);
    cr_assert_eq(res.exit_code, 1, "%s", res.err);
    cr_assert_str_eq(res.out, "{\"account\":\"nobody-here\",\"error\":\"not_found\"}\n");

    const char *bad_account[] = {"balance", "no spaces", NULL};
    cli_run(&res, bad_account, env);
    cr_assert_eq(res.exit_code, 2);
    cr_assert_not_null(strstr(res.err, "invalid account 'no spaces'"), "%s", res.err);
    cr_assert_str_empty(res.out);

    const char *bad_after[] = {"balance", "A", "--after", "3-17", NULL};
    cli_run(&res, bad_after, env);
    cr_assert_eq(res.exit_code, 2);
    cr_assert_not_null(strstr(res.err, "--after '3-17'"), "%s", res.err);

    const char *no_account[] = {"balance", NULL};
    cli_run(&res, no_account, env);
    cr_assert_eq(res.exit_code, 2);

    const char *down_env[] = {"LEDGER_REDIS_URL=redis://127.0.0.1:1/0", prefix_env, NULL};
    const char *down[] = {"balance", "A", NULL};
    cli_run(&res, down, down_env);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    cr_assert_not_null(strstr(res.err, "127.0.0.1:1"), "the message names the server: %s", res.err);
    cr_assert_str_empty(res.out);
}
