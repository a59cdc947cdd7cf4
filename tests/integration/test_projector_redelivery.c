/*
 * test_projector_redelivery.c - Redis checkpoints, not Kafka's committed
 * offsets, decide where a projector starts:
 *   - a process with a brand-new consumer group (no committed offsets, and
 *     auto.offset.reset would start at the beginning) re-applies nothing;
 *   - so does one whose group's offsets were deleted;
 *   - and one whose group's committed offsets are AHEAD of what Redis
 *     applied still applies everything in between.
 * Checked on the balance view and on the non-idempotent event_count view
 * (a re-applied record would show as a count above the account's events).
 *
 * To know that a process has had every chance to re-apply old records, one
 * new event is produced on every partition and waited for: a partition's
 * records are applied in order, so anything older came through first.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "kafka_test.h"
#include "test_projector_event_count.h"
#include "test_projector_harness.h"

static void start_pair(pt_proc *balance, pt_proc *counter, const pt_env *env,
                       const char *group_suffix) {
    char g1[160], g2[160];
    snprintf(g1, sizeof(g1), "%s-balance-%s", env->redis_prefix, group_suffix);
    snprintf(g2, sizeof(g2), "%s-count-%s", env->redis_prefix, group_suffix);
    const char *b[] = {"--view", "balance", "--group-id", g1, NULL};
    const char *e[] = {"--group-id", g2, NULL};
    pt_start_projector(balance, env, b);
    pt_start_function(counter, env, pt_run_event_count, e);
    pt_wait_log(balance, "ready", 1, 60000);
    pt_wait_log(counter, "ready", 1, 60000);
}

/* One event on an account of each partition. */
static void produce_on_every_partition(pt_workload *w) {
    for (int p = 0; p < PT_PARTITIONS; p++) {
        for (size_t i = 0; i < w->account_count; i++) {
            if (w->accounts[i].partition == p) {
                pt_produce_one(w, i, LEDGER_EVENT_MONEY_DEPOSITED, 100 + p);
                break;
            }
        }
    }
}

/* Waits for both views, checks both against the fold, stops both and
 * checks how many events each says it applied. */
static void settle_and_check(pt_workload *w, redisContext *c, pt_proc *balance, pt_proc *counter,
                             size_t new_events) {
    pt_wait_applied(w, c, "balance", 60000);
    pt_wait_applied(w, c, "event_count", 60000);
    pt_assert_balance_view(w, c);
    pt_assert_event_count_view(w, c);
    cr_assert_eq(pt_stop(balance, 30000), 0);
    cr_assert_eq(pt_stop(counter, 30000), 0);
    char line[96];
    snprintf(line, sizeof(line), "stopping: %zu events applied", new_events);
    cr_assert_eq(pt_log_count(balance, line), 1, "balance should apply exactly %zu events",
                 new_events);
    cr_assert_eq(pt_log_count(counter, line), 1, "event_count should apply exactly %zu events",
                 new_events);
}

/* Commits, for `group`, every partition's high watermark: Kafka then says
 * the group has consumed everything. */
static void commit_end_offsets(const pt_env *env, const char *group) {
    char errstr[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(env->brokers, LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(PT_PARTITIONS);
    for (int p = 0; p < PT_PARTITIONS; p++) {
        int64_t lo, hi;
        cr_assert_eq(rd_kafka_query_watermark_offsets(rk, env->events_topic, p, &lo, &hi, 30000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_add(offsets, env->events_topic, p)->offset = hi;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, offsets, 0 /* sync */);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(offsets);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void delete_groups(const pt_env *env, const char *const *groups, size_t n) {
    char errstr[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(env->brokers, LEDGER_KAFKA_ADMIN, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    rd_kafka_t *rk = kt_client(RD_KAFKA_PRODUCER, conf);
    rd_kafka_DeleteGroup_t *del[4];
    for (size_t i = 0; i < n; i++)
        del[i] = rd_kafka_DeleteGroup_new(groups[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteGroups(rk, del, n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "no answer to DeleteGroups");
    const rd_kafka_DeleteGroups_result_t *res = rd_kafka_event_DeleteGroups_result(ev);
    cr_assert_not_null(res, "DeleteGroups: %s", rd_kafka_event_error_string(ev));
    size_t cnt = 0;
    const rd_kafka_group_result_t **results = rd_kafka_DeleteGroups_result_groups(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        const rd_kafka_error_t *error = rd_kafka_group_result_error(results[i]);
        cr_assert_null(error, "delete group '%s': %s", rd_kafka_group_result_name(results[i]),
                       error != NULL ? rd_kafka_error_string(error) : "");
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_DeleteGroup_destroy_array(del, n);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

Test(projector_redelivery, redis_checkpoints_win_over_kafka_offsets, .timeout = 300) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_redelivery seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 60, seed, "redo-");
    redisContext *c = pt_redis(&env);
    pt_proc balance, counter;

    /* First run: everything applied once. */
    pt_produce(&w, 2000);
    start_pair(&balance, &counter, &env, "first");
    settle_and_check(&w, c, &balance, &counter, 2000);

    /* A new consumer group: no committed offsets at all. */
    start_pair(&balance, &counter, &env, "second");
    produce_on_every_partition(&w);
    settle_and_check(&w, c, &balance, &counter, PT_PARTITIONS);

    /* The same group again, after its offsets were deleted. */
    char g1[160], g2[160];
    snprintf(g1, sizeof(g1), "%s-balance-second", env.redis_prefix);
    snprintf(g2, sizeof(g2), "%s-count-second", env.redis_prefix);
    const char *groups[] = {g1, g2};
    delete_groups(&env, groups, 2);
    start_pair(&balance, &counter, &env, "second");
    produce_on_every_partition(&w);
    settle_and_check(&w, c, &balance, &counter, PT_PARTITIONS);

    /* Kafka says a fresh group consumed everything, including 300 events
     * no projector has seen: Redis's checkpoints win, they are applied. */
    pt_produce(&w, 300);
    snprintf(g1, sizeof(g1), "%s-balance-third", env.redis_prefix);
    snprintf(g2, sizeof(g2), "%s-count-third", env.redis_prefix);
    commit_end_offsets(&env, g1);
    commit_end_offsets(&env, g2);
    start_pair(&balance, &counter, &env, "third");
    produce_on_every_partition(&w);
    settle_and_check(&w, c, &balance, &counter, 300 + PT_PARTITIONS);

    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}
