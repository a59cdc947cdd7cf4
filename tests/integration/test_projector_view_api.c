/*
 * test_projector_view_api.c - a new view is one file written against
 * projectors/view.h: the event_count view lives in the tests
 * (test_projector_event_count.c), is unknown to ledger-projector's
 * registry, and runs on the unchanged runtime through projector_run, with
 * its own setting (--label) in the configuration, the help and the checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "test_projector_event_count.h"
#include "test_projector_harness.h"

Test(projector_view_api, a_view_defined_in_a_test_runs_on_the_runtime, .timeout = 240) {
    cr_assert_null(projector_registry_find("event_count"),
                   "the test view must not need registering in projectors/");
    cr_assert_not_null(projector_registry_find("balance"));

    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "projector_view_api seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);

    /* Its setting is part of --help and of the validation. */
    pt_proc help;
    const char *help_argv[] = {"--help", NULL};
    pt_start_function(&help, &env, pt_run_event_count, help_argv);
    cr_assert_eq(pt_wait_exit(&help, 30000), 0);
    cr_assert_eq(pt_log_count(&help, "--label"), 1, "the view's setting is in --help");
    cr_assert_eq(pt_log_count(&help, "LEDGER_EVENT_COUNT_LABEL"), 1);
    cr_assert_geq(pt_log_count(&help, "View 'event_count'"), 1);

    pt_proc bad;
    const char *bad_argv[] = {"--label", "", NULL};
    pt_start_function(&bad, &env, pt_run_event_count, bad_argv);
    cr_assert_eq(pt_wait_exit(&bad, 30000), 2);
    cr_assert_eq(pt_log_count(&bad, "invalid --label ''"), 1);
    cr_assert_eq(pt_log_count(&bad, "redis:"), 0, "nothing is connected before the check");

    /* And it projects. */
    pt_workload w;
    pt_workload_init(&w, &env, 50, seed, "api-");
    redisContext *c = pt_redis(&env);
    pt_proc proc;
    char group[128];
    pt_group_id(&env, "event_count", group, sizeof(group));
    const char *argv[] = {"--group-id", group, NULL};
    pt_start_function(&proc, &env, pt_run_event_count, argv);
    pt_produce(&w, 1500);
    pt_wait_applied(&w, c, "event_count", 60000);
    pt_assert_event_count_view(&w, c);
    cr_assert_eq(pt_stop(&proc, 30000), 0);

    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}
