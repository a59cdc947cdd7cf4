/*
 * test_projector_zombie.c - two processes of one view; one is frozen
 * (SIGSTOP) while it works, its partitions move to the other once its
 * session times out, more events are applied by the other, then the frozen
 * one is thawed (SIGCONT) with its batch still in hand. Whatever it does
 * next, nothing may be applied twice: its writes are conditional on the
 * checkpoint it started from, which the other process has moved on.
 *
 * Run for balance (the binary) and for event_count, the non-idempotent test
 * view, where a batch written twice would show as a wrong count.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "test_projector_event_count.h"
#include "test_projector_harness.h"

static void start_one(pt_proc *proc, const pt_env *env, bool counter, const char *group) {
    if (counter) {
        const char *argv[] = {"--group-id",
                              group,
                              "--batch-max-events",
                              "100",
                              "-X",
                              "session.timeout.ms=6000",
                              "-X",
                              "heartbeat.interval.ms=500",
                              NULL};
        pt_start_function(proc, env, pt_run_event_count, argv);
    } else {
        const char *argv[] = {"--view",
                              "balance",
                              "--group-id",
                              group,
                              "--batch-max-events",
                              "100",
                              "-X",
                              "session.timeout.ms=6000",
                              "-X",
                              "heartbeat.interval.ms=500",
                              NULL};
        pt_start_projector(proc, env, argv);
    }
}

/* Waits until the two processes own disjoint, non-empty sets covering
 * every partition. */
static void wait_split(const pt_proc *a, const pt_proc *b) {
    int64_t deadline = pt_now_ms() + 60000;
    for (;;) {
        bool oa[PT_PARTITIONS], ob[PT_PARTITIONS];
        int na = pt_owned(a, oa), nb = pt_owned(b, ob);
        bool disjoint = true;
        for (int p = 0; p < PT_PARTITIONS; p++)
            disjoint = disjoint && !(oa[p] && ob[p]);
        if (na > 0 && nb > 0 && na + nb == PT_PARTITIONS && disjoint)
            return;
        if (pt_now_ms() > deadline) {
            pt_dump_log(a);
            pt_dump_log(b);
            cr_assert_fail("the partitions were not split between the two processes");
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void wait_owns_all(const pt_proc *p) {
    int64_t deadline = pt_now_ms() + 60000;
    bool owned[PT_PARTITIONS];
    while (pt_owned(p, owned) < PT_PARTITIONS) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(p);
            cr_assert_fail("the survivor did not take every partition");
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void zombie_scenario(bool counter) {
    const char *view = counter ? "event_count" : "balance";
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (counter ? 1 : 0);
    fprintf(stderr, "projector_zombie (%s) seed: %llu\n", view, (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 120, seed, "z-");
    redisContext *c = pt_redis(&env);
    char group[128];
    pt_group_id(&env, view, group, sizeof(group));

    pt_proc zombie, survivor;
    start_one(&zombie, &env, counter, group);
    pt_wait_log(&zombie, "ready", 1, 60000);
    start_one(&survivor, &env, counter, group);
    wait_split(&zombie, &survivor);

    /* Freeze the first process in the middle of a backlog. */
    pt_produce(&w, 6000);
    int64_t start = pt_checkpoint_sum(&env, c, view);
    int64_t deadline = pt_now_ms() + 60000;
    while (pt_checkpoint_sum(&env, c, view) == start && pt_now_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(kill(zombie.pid, SIGSTOP), 0);
    bool frozen_mid_work = !pt_applied(&w, c, view);

    /* Its partitions move to the survivor after the session timeout. */
    wait_owns_all(&survivor);
    pt_produce(&w, 2000);
    pt_wait_applied(&w, c, view, 60000);

    /* Thaw it: it learns that it lost its partitions; meanwhile more
     * events flow. */
    size_t gone_before = pt_log_count(&zombie, " lost") + pt_log_count(&zombie, " revoked");
    cr_assert_eq(kill(zombie.pid, SIGCONT), 0);
    pt_produce(&w, 1000);
    deadline = pt_now_ms() + 60000;
    while (pt_log_count(&zombie, " lost") + pt_log_count(&zombie, " revoked") <= gone_before) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(&zombie);
            cr_assert_fail("the thawed process never noticed that it lost its partitions");
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    pt_produce(&w, 1000);
    pt_wait_applied(&w, c, view, 60000);
    if (counter)
        pt_assert_event_count_view(&w, c);
    else
        pt_assert_balance_view(&w, c);
    fprintf(stderr,
            "projector_zombie (%s): frozen with work in flight: %s; stale writes refused: "
            "%zu\n",
            view, frozen_mid_work ? "yes" : "no", pt_log_count(&zombie, "moved to"));

    cr_assert_eq(pt_stop(&zombie, 30000), 0);
    cr_assert_eq(pt_stop(&survivor, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

Test(projector_zombie, a_thawed_process_applies_nothing_twice_balance, .timeout = 300) {
    zombie_scenario(false);
}

Test(projector_zombie, a_thawed_process_applies_nothing_twice_event_count, .timeout = 300) {
    zombie_scenario(true);
}
