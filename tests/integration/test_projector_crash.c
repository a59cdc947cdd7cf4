/*
 * test_projector_crash.c - SIGKILL during a workload, again and again, each
 * time restarting the projector: the final view equals the fold.
 *
 * Two views run side by side on the same events: balance (the real binary)
 * and event_count (the runtime with the test view, which is deliberately
 * not idempotent: a batch applied twice, or a record skipped, would leave a
 * count that differs from the account's number of events). Each round
 * waits until both have made progress since the last kill, so the kills
 * land while batches are in flight; batches are small so there are many.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "test_projector_event_count.h"
#include "test_projector_harness.h"

#define ROUNDS 8

/* Static group membership (group.instance.id) lets a restarted process
 * take its killed predecessor's place at once, instead of waiting for the
 * dead member's session to expire. */
static void start_both(pt_proc *balance, pt_proc *counter, const pt_env *env) {
    char g1[128], g2[128], i1[160], i2[160];
    pt_group_id(env, "balance", g1, sizeof(g1));
    pt_group_id(env, "event_count", g2, sizeof(g2));
    snprintf(i1, sizeof(i1), "group.instance.id=%s-0", g1);
    snprintf(i2, sizeof(i2), "group.instance.id=%s-0", g2);
    const char *b[] = {"--view", "balance", "--group-id", g1,   "--batch-max-events",
                       "50",     "-X",      i1,           "-X", "session.timeout.ms=6000",
                       NULL};
    const char *e[] = {"--group-id", g2,   "--batch-max-events",      "50", "-X",
                       i2,           "-X", "session.timeout.ms=6000", NULL};
    pt_start_projector(balance, env, b);
    pt_start_function(counter, env, pt_run_event_count, e);
}

/* Waits until the view's checkpoints have moved past `since`. */
static int64_t wait_progress(const pt_env *env, redisContext *c, const char *view, int64_t since,
                             const pt_proc *proc) {
    int64_t deadline = pt_now_ms() + 60000;
    int64_t now;
    while ((now = pt_checkpoint_sum(env, c, view)) <= since) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(proc);
            cr_assert_fail("view '%s' made no progress within 60 s", view);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return now;
}

Test(projector_crash, sigkill_again_and_again_then_the_view_equals_the_fold, .timeout = 400) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_crash seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 200, seed, "crash-");
    redisContext *c = pt_redis(&env);

    int64_t seen_balance = 0, seen_count = 0;
    int killed_with_work_left = 0;
    pt_produce(&w, 10000);
    for (int round = 0; round < ROUNDS; round++) {
        pt_proc balance, counter;
        start_both(&balance, &counter, &env);
        seen_balance = wait_progress(&env, c, "balance", seen_balance, &balance);
        seen_count = wait_progress(&env, c, "event_count", seen_count, &counter);
        pt_kill(&balance);
        pt_kill(&counter);
        killed_with_work_left += !pt_applied(&w, c, "balance") || !pt_applied(&w, c, "event_count");
        seen_balance = pt_checkpoint_sum(&env, c, "balance");
        seen_count = pt_checkpoint_sum(&env, c, "event_count");
        pt_produce(&w, 3000);
    }
    fprintf(stderr, "projector_crash: %d of %d kills left work behind\n", killed_with_work_left,
            ROUNDS);
    cr_assert_geq(killed_with_work_left, 1,
                  "at least one kill should land while events are still being applied");

    pt_proc balance, counter;
    start_both(&balance, &counter, &env);
    pt_wait_applied(&w, c, "balance", 120000);
    pt_wait_applied(&w, c, "event_count", 120000);
    pt_assert_balance_view(&w, c);
    pt_assert_event_count_view(&w, c);
    cr_assert_eq(pt_stop(&balance, 30000), 0);
    cr_assert_eq(pt_stop(&counter, 30000), 0);

    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}
