/*
 * test_projector_dlq_crash.c - the projector is SIGKILLed while it handles
 * a poison record: after it has produced the record to the DLQ and the
 * broker has acknowledged it, but before the atomic write that quarantines
 * the account and moves the checkpoint past the record.
 *
 * To stop it exactly there the test runs a redis-server of its own (port
 * 27400 + pid % 500) and pauses its writes (CLIENT PAUSE ... WRITE): reads
 * go on, so the projector reads its batch, holds the record in the DLQ and
 * then blocks in its FCALL. The test waits for the copy in the DLQ topic,
 * checks nothing is quarantined yet, kills the projector, lifts the pause
 * and starts a new one.
 *
 * What must hold afterwards: nothing was lost (the account is quarantined
 * by that record, the checkpoint is past it, the view of every other
 * account is the fold), and `ledger dlq list` shows the record exactly
 * once. The DLQ topic itself holds it at least once: when the killed
 * projector's write never ran, the restarted one handles the record again
 * and produces a second copy, which nothing lists (documented in
 * projectors/README.md).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "test_dlq_support.h"

static void command(redisContext *c, const char *text) {
    redisReply *r = redisCommand(c, text);
    cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR, "%s: %s", text,
              r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
}

/* Static membership: the restarted process takes the killed one's place at once. */
static void start_balance(pt_proc *p, const pt_env *env) {
    char group[128], instance[180];
    pt_group_id(env, "balance", group, sizeof(group));
    snprintf(instance, sizeof(instance), "group.instance.id=%s-0", group);
    const char *argv[] = {"--view", "balance", "--group-id", group,
                          "-X",     instance,  "-X",         "session.timeout.ms=6000",
                          NULL};
    pt_start_projector(p, env, argv);
    pt_wait_log(p, "ready", 1, 60000);
}

Test(projector_dlq_crash, sigkill_between_the_dlq_and_the_quarantine_loses_nothing,
     .timeout = 120) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_dlq_crash seed: %llu\n", (unsigned long long)seed);
    pt_own_redis own;
    pt_own_redis_init(&own, 27400 + (int)(getpid() % 500), false);
    pt_own_redis_start(&own);
    pt_env env;
    pt_env_init(&env);
    pt_own_redis_url(&own, env.redis_url, sizeof(env.redis_url));
    pt_workload w, wa; /* the others, and A alone (no random traffic on it) */
    pt_workload_init(&w, &env, 12, seed, "dlq-crash-");
    pt_workload_init(&wa, &env, 1, seed + 1, "dlq-crash-a-");
    const char *A = wa.accounts[0].name;
    redisContext *c = pt_redis(&env);
    dlq_cli_env e;
    dlq_cli_env_init(&e, &env);

    pt_proc proc;
    start_balance(&proc, &env);
    pt_produce(&w, 300);
    for (int k = 0; k < 3; k++)
        pt_produce_one(&wa, 0, LEDGER_EVENT_MONEY_DEPOSITED, 1000 + k);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_wait_applied(&wa, c, "balance", 60000);
    account_state a_before = wa.accounts[0].state;

    /* Writes paused: the projector will block in its FCALL. */
    command(c, "CLIENT PAUSE 60000 WRITE");
    static const char garbage[] = "\x01\x02 garbage in the middle";
    int32_t part;
    int64_t off;
    dlq_produce_raw(&wa, A, strlen(A), -1, garbage, sizeof(garbage) - 1, &part, &off);
    dlq_wait_copy(&env, part, off, 30000);
    json_t *q = dlq_quarantine_entry(&env, c, "balance", A);
    cr_assert_null(q, "the quarantine was written while writes were paused");
    pt_kill(&proc);
    command(c, "CLIENT UNPAUSE");

    /* Others move on meanwhile; A's later events come after the poison. */
    pt_produce(&w, 200);
    pt_produce_one(&wa, 0, LEDGER_EVENT_MONEY_DEPOSITED, 500);
    start_balance(&proc, &env);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_wait_applied(&wa, c, "balance", 60000);

    dlq_record *dlq;
    size_t dlq_n = dlq_read_topic(&env, &dlq);
    size_t copies = dlq_copies(dlq, dlq_n, part, off);
    fprintf(stderr, "projector_dlq_crash: %zu copies of %d:%lld in the dlq topic\n", copies,
            (int)part, (long long)off);
    cr_assert_geq(copies, 1, "the poison record was lost");
    cr_assert_leq(copies, 2);
    free(dlq);
    q = dlq_quarantine_entry(&env, c, "balance", A);
    cr_assert_not_null(q, "'%s' is not quarantined after the restart", A);
    cr_assert_eq(json_integer_value(json_object_get(q, "offset")), off);
    json_decref(q);
    dlq_assert_balance(&env, c, A, &a_before);
    for (size_t i = 0; i < w.account_count; i++)
        dlq_assert_balance(&env, c, w.accounts[i].name, &w.accounts[i].state);

    /* Listed once, whatever the topic holds. */
    static cli_result res;
    const char *list[] = {"dlq", "list", NULL};
    dlq_cli(&res, &e, list);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    json_t *lines[16];
    size_t n = dlq_json_lines(res.out, lines, 16);
    char source[48];
    snprintf(source, sizeof(source), "%d:%lld", (int)part, (long long)off);
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        listed += strcmp(json_string_value(json_object_get(lines[i], "source")), source) == 0;
        json_decref(lines[i]);
    }
    cr_assert_eq(n, 2, "the poison and A's later event are held:\n%s", res.out);
    cr_assert_eq(listed, 1, "%s listed %zu times:\n%s", source, listed, res.out);

    /* And it resolves: A becomes the fold of its real events. */
    const char *skip[] = {"dlq", "skip", A, "--offset", source, NULL};
    dlq_cli(&res, &e, skip);
    cr_assert_eq(res.exit_code, 0, "%s\n%s", res.err, res.out);
    dlq_assert_balance(&env, c, A, &wa.accounts[0].state);

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_workload_destroy(&wa);
    pt_env_cleanup(&env);
    pt_own_redis_destroy(&own);
}
