/*
 * test_projector_catchup.c - the balance view catching up on 200,000
 * pre-produced events over 10,000 accounts: the view must equal the fold
 * afterwards; the catch-up rate (events/s, from the process's "ready" to
 * the last checkpoint) is printed for the record, not asserted (it depends
 * on the machine). And a projector started before Kafka: it waits.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "test_projector_harness.h"

#define CATCHUP_EVENTS   200000
#define CATCHUP_ACCOUNTS 10000

Test(projector_catchup, balance_view_catches_up_on_200k_events, .timeout = 600) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_catchup seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, CATCHUP_ACCOUNTS, seed, "cu-");
    redisContext *c = pt_redis(&env);
    for (int chunk = 0; chunk < 4; chunk++)
        pt_produce(&w, CATCHUP_EVENTS / 4);

    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, NULL};
    int64_t started = pt_now_ms();
    pt_start_projector(&proc, &env, argv);
    pt_wait_log(&proc, "ready", 1, 60000);
    int64_t ready = pt_now_ms();
    pt_wait_applied(&w, c, "balance", 300000);
    int64_t done = pt_now_ms();
    double seconds = (double)(done - ready) / 1000.0;
    fprintf(stderr,
            "projector_catchup: %d events over %d accounts applied in %.2f s after ready "
            "(%.2f s after start): %.0f events/s\n",
            CATCHUP_EVENTS, CATCHUP_ACCOUNTS, seconds, (double)(done - started) / 1000.0,
            (double)CATCHUP_EVENTS / (seconds > 0 ? seconds : 0.001));
    pt_assert_balance_view(&w, c);
    cr_assert_eq(pt_stop(&proc, 30000), 0);

    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

/* A projector started before Kafka (a container up first) keeps retrying,
 * saying so, and still answers SIGTERM at once with exit 0. Port 1 of the
 * loopback has no listener. */
Test(projector_catchup, waits_for_kafka_and_stops_on_sigterm, .timeout = 120) {
    pt_env env;
    pt_env_init(&env);
    pt_proc proc;
    const char *argv[] = {"--view", "balance", "--brokers", "127.0.0.1:1", NULL};
    pt_start_projector(&proc, &env, argv);
    pt_wait_log(&proc, "topics not ready, retrying", 3, 60000);
    cr_assert_eq(pt_stop(&proc, 5000), 0, "a SIGTERM while waiting for Kafka is a clean stop");
    pt_env_cleanup(&env);
}
