/*
 * test_projector_redis_restart.c - Redis crashes and comes back from an
 * append-only file that lost its tail (appendfsync everysec loses up to a
 * second of writes; the loss is made certain by cutting the file by hand):
 * data and checkpoints roll back TOGETHER, because each batch and its
 * checkpoint were one function call, written to the AOF as one MULTI/EXEC
 * that Redis either replays whole or drops (aof-load-truncated). The
 * projectors then re-apply from the rolled-back checkpoints and the views
 * converge to the fold. A second test has Redis refuse writes (out of
 * memory) now and then while a backlog is applied.
 *
 * The tests run their own redis-server (port 26400, or 26900, + pid % 500,
 * data in a temporary folder). Both projectors keep running through the
 * outage, so each must notice by itself that Redis went back in time: the
 * event_count projector (non-idempotent) by its checkpoints, and the
 * balance projector must also drop the account states it kept between
 * batches (projectors/state_cache.h), which are now ahead of Redis.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "test_projector_event_count.h"
#include "test_projector_harness.h"

/* Cuts the newest incremental AOF file to `keep` of its size. Returns the
 * bytes removed. */
static long truncate_aof(const pt_own_redis *r, double keep) {
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/appendonlydir", r->dir);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no '%s'", dir);
    char newest[512] = "";
    int newest_seq = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int seq;
        if (strstr(e->d_name, ".incr.aof") != NULL &&
            sscanf(strstr(e->d_name, ".aof.") + 5, "%d", &seq) == 1 && seq > newest_seq) {
            newest_seq = seq;
            snprintf(newest, sizeof(newest), "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    cr_assert_geq(newest_seq, 0, "no incremental AOF in '%s'", dir);
    struct stat st;
    cr_assert_eq(stat(newest, &st), 0);
    off_t size = (off_t)((double)st.st_size * keep);
    cr_assert_eq(truncate(newest, size), 0);
    return (long)(st.st_size - size);
}

/* Static membership: the restarted process takes the killed one's place
 * without waiting for its session to expire. */
static void start_balance(pt_proc *p, const pt_env *env) {
    char group[128], instance[160];
    pt_group_id(env, "balance", group, sizeof(group));
    snprintf(instance, sizeof(instance), "group.instance.id=%s-0", group);
    const char *argv[] = {"--view", "balance", "--group-id", group, "--batch-max-events",
                          "100",    "-X",      instance,     NULL};
    pt_start_projector(p, env, argv);
}

Test(projector_redis_restart, views_converge_after_redis_loses_the_aof_tail, .timeout = 300) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_redis_restart seed: %llu\n", (unsigned long long)seed);
    pt_own_redis r;
    pt_own_redis_init(&r, 26400 + (int)(getpid() % 500), true);
    pt_own_redis_start(&r);

    pt_env env;
    pt_env_init(&env);
    pt_own_redis_url(&r, env.redis_url, sizeof(env.redis_url));
    pt_workload w;
    pt_workload_init(&w, &env, 150, seed, "aof-");
    redisContext *c = pt_redis(&env);

    pt_proc balance, counter;
    char group[128];
    pt_group_id(&env, "event_count", group, sizeof(group));
    const char *counter_argv[] = {"--group-id", group, "--batch-max-events", "100", NULL};
    start_balance(&balance, &env);
    pt_start_function(&counter, &env, pt_run_event_count, counter_argv);
    pt_produce(&w, 4000);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_wait_applied(&w, c, "event_count", 60000);

    /* A second backlog; Redis dies while it is being applied. */
    pt_produce(&w, 8000);
    int64_t before = pt_checkpoint_sum(&env, c, "balance");
    int64_t deadline = pt_now_ms() + 60000;
    while (pt_checkpoint_sum(&env, c, "balance") == before && pt_now_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
        nanosleep(&ts, NULL);
    }
    int64_t at_kill = pt_checkpoint_sum(&env, c, "balance");
    redisFree(c);
    pt_own_redis_kill(&r);
    long cut = truncate_aof(&r, 0.7);
    fprintf(stderr, "projector_redis_restart: cut %ld bytes off the AOF\n", cut);
    pt_own_redis_start(&r);
    c = pt_redis(&env);
    int64_t after_restart = pt_checkpoint_sum(&env, c, "balance");
    fprintf(stderr,
            "projector_redis_restart: sum of balance checkpoints %lld at the kill, %lld after "
            "the restart\n",
            (long long)at_kill, (long long)after_restart);
    cr_assert_lt(after_restart, at_kill, "the cut AOF should have lost applied batches");

    /* The rolled-back state is a consistent earlier state... */
    pt_produce(&w, 500);
    pt_wait_applied(&w, c, "balance", 120000);
    pt_wait_applied(&w, c, "event_count", 120000);
    /* ...from which both views converge to the fold. */
    pt_assert_balance_view(&w, c);
    pt_assert_event_count_view(&w, c);
    cr_assert_gt(pt_log_count(&counter, "rewound"), 0,
                 "the running event_count projector should have seen Redis go back in time");
    cr_assert_gt(pt_log_count(&balance, "rewound"), 0,
                 "the running balance projector should have seen Redis go back in time");

    cr_assert_eq(pt_stop(&balance, 30000), 0);
    cr_assert_eq(pt_stop(&counter, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
    pt_own_redis_destroy(&r);
}

static void config_maxmemory(redisContext *c, const char *bytes) {
    redisReply *reply = redisCommand(c, "CONFIG SET maxmemory %s", bytes);
    cr_assert(reply != NULL && reply->type == REDIS_REPLY_STATUS, "CONFIG SET maxmemory %s: %s",
              bytes, reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str : c->errstr);
    freeReplyObject(reply);
}

/* Waits until the sum of the balance view's checkpoints is past `than`. */
static int64_t wait_progress(const pt_env *env, redisContext *c, int64_t than) {
    int64_t deadline = pt_now_ms() + 60000;
    int64_t sum;
    while ((sum = pt_checkpoint_sum(env, c, "balance")) <= than) {
        cr_assert_lt(pt_now_ms(), deadline, "the balance view made no progress past %lld",
                     (long long)than);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
        nanosleep(&ts, NULL);
    }
    return sum;
}

/* Redis refuses writes (out of memory, noeviction) several times while a
 * backlog is applied, each time until the projector has had a batch
 * refused. A refused batch re-seeks its partition to the checkpoint; the
 * records of that partition already collected from the old position (the
 * next batch, collected while the refused one was in flight) must be
 * dropped (applied on top of the checkpoint, they would skip the refused
 * events), and the account states kept as the refused batch was sent
 * forgotten (kept, they would make its events look applied when they come
 * round again). So the view must come out as the fold, with no account
 * quarantined. */
Test(projector_redis_restart, views_converge_after_redis_refuses_writes_for_a_while,
     .timeout = 300) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_redis_refusals seed: %llu\n", (unsigned long long)seed);
    pt_own_redis r;
    pt_own_redis_init(&r, 26900 + (int)(getpid() % 500), true);
    pt_own_redis_start(&r);

    pt_env env;
    pt_env_init(&env);
    pt_own_redis_url(&r, env.redis_url, sizeof(env.redis_url));
    pt_workload w;
    pt_workload_init(&w, &env, 150, seed, "oom-");
    redisContext *c = pt_redis(&env);
    pt_proc balance;
    start_balance(&balance, &env);
    pt_produce(&w, 3000);
    pt_wait_applied(&w, c, "balance", 60000);

    enum { REFUSALS = 5 };
    int64_t sum = pt_checkpoint_sum(&env, c, "balance");
    for (size_t k = 1; k <= REFUSALS; k++) {
        pt_produce(&w, 3000);
        sum = wait_progress(&env, c, sum);
        config_maxmemory(c, "1");
        pt_wait_log(&balance, "was refused", k, 60000);
        config_maxmemory(c, "0");
        sum = wait_progress(&env, c, sum);
    }
    /* Last, a refused batch with no later events of its accounts to
     * overwrite what a wrongly kept state would make of it. */
    pt_wait_applied(&w, c, "balance", 120000);
    config_maxmemory(c, "1");
    pt_produce(&w, 300);
    pt_wait_log(&balance, "was refused", REFUSALS + 1, 60000);
    config_maxmemory(c, "0");
    pt_wait_applied(&w, c, "balance", 120000);
    pt_assert_balance_view(&w, c);
    cr_assert_eq(pt_log_count(&balance, "quarantined"), 0, "an account was quarantined");

    cr_assert_eq(pt_stop(&balance, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
    pt_own_redis_destroy(&r);
}
