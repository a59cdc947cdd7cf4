/*
 * test_producer_load.c - a simple batch at volume: thousands of deposits
 * over many accounts and partitions, written without waiting. Every command
 * gets exactly one accepted result, every account's events are seq 1..n
 * without gaps or repeats, and the balances are the sums deposited. The
 * rate (commands per second, from the first write to the last result) is
 * printed for the record; nothing asserts a speed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_test.h"
#include "test_producer_harness.h"

#define ACCOUNTS 200
#define DEPOSITS 100 /* per account: 20000 commands */

static ph_env env;

static void setup(void) {
    ph_setup(&env);
    ph_start(&env, NULL);
}

static void teardown(void) {
    ph_teardown(&env);
}

static int compare_ids(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

TestSuite(producer_load, .init = setup, .fini = teardown, .timeout = 600);

Test(producer_load, twenty_thousand_deposits) {
    size_t n = (size_t)ACCOUNTS * (1 + DEPOSITS);
    ledger_command *cmds = calloc(n, sizeof(*cmds));
    cr_assert_not_null(cmds);
    size_t k = 0;
    char account[32], id[64];
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(account, sizeof(account), "load-%03d", a);
        snprintf(id, sizeof(id), "open-%03d", a);
        cmds[k++] = ph_cmd(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
    }
    for (int d = 0; d < DEPOSITS; d++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            snprintf(account, sizeof(account), "load-%03d", a);
            snprintf(id, sizeof(id), "dep-%03d-%03d", a, d);
            cmds[k++] = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, account, NULL, d + 1);
        }
    }
    int64_t started = kt_now_ms();
    ph_send_many(&env, cmds, n);
    ph_wait_result_total(&env, n);
    int64_t elapsed = kt_now_ms() - started;
    fprintf(stderr, "producer_load: %zu commands in %lld ms: %.0f commands/s\n", n,
            (long long)elapsed, (double)n * 1000.0 / (double)(elapsed > 0 ? elapsed : 1));

    /* Exactly one accepted result per command: the sorted ids match. */
    cr_assert_eq(env.result_count, n, "%zu results for %zu commands", env.result_count, n);
    const char **want = calloc(n, sizeof(*want));
    const char **got = calloc(n, sizeof(*got));
    cr_assert(want != NULL && got != NULL);
    for (size_t i = 0; i < n; i++) {
        const ledger_result *r = &env.result_log[i];
        cr_assert_eq(r->reason, LEDGER_OK, "'%s': %s", r->command_id,
                     ledger_reason_name(r->reason));
        cr_assert_not(r->duplicate);
        want[i] = cmds[i].id;
        got[i] = r->command_id;
    }
    qsort(want, n, sizeof(*want), compare_ids);
    qsort(got, n, sizeof(*got), compare_ids);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(got[i], want[i]);
    free(want);
    free(got);

    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(account, sizeof(account), "load-%03d", a);
        ph_wait_events(&env, account, 1 + DEPOSITS);
        account_state s = ph_fold(&env, account); /* asserts seq 1, 2, 3, ... */
        cr_assert_eq(s.seq, 1 + DEPOSITS);
        cr_assert_eq(s.balance, DEPOSITS * (DEPOSITS + 1) / 2);
    }
    free(cmds);
}
