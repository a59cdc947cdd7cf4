/*
 * test_projector_fold.c - the balance view equals the pure fold of the log:
 * a seeded random workload over many accounts (every event type, several
 * transactions, events produced while the projector runs and before it
 * starts), compared account by account with account_apply's result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "test_projector_harness.h"

Test(projector_fold, balance_view_equals_the_fold_of_a_random_workload, .timeout = 240) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_fold seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 300, seed, "acct-");
    redisContext *c = pt_redis(&env);

    /* Some events before the projector exists, some while it runs. */
    pt_produce(&w, 3000);
    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, "--batch-max-events",
                          "500",    NULL};
    pt_start_projector(&proc, &env, argv);
    pt_wait_log(&proc, "ready", 1, 60000);
    for (int round = 0; round < 5; round++)
        pt_produce(&w, 1000);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_assert_balance_view(&w, c);

    cr_assert_eq(pt_stop(&proc, 30000), 0, "SIGTERM must stop it cleanly with exit 0");
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}
