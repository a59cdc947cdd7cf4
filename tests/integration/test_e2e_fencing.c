/*
 * test_e2e_fencing.c - two producer instances in one group, end to end.
 *
 *   1. Instance a starts alone, instance b joins: the command partitions
 *      are split between them (both log their assignments) and commands
 *      to every partition are handled once.
 *   2. Instance b is frozen (SIGSTOP) right after it has fetched a command
 *      of one of its partitions, inside its batch window, so it holds the
 *      command undecided. More commands go to that partition. After b's
 *      session expires, a takes the partition over and handles them.
 *   3. b is thawed (SIGCONT): its batch window has passed, so it decides
 *      the command it held against its stale state and tries to commit.
 *      It must not manage to append: the broker refuses its commit (its
 *      group generation is stale, KIP-447, and its transaction has outlived
 *      transaction.timeout.ms, so it is fenced) and it logs that, and the
 *      lost partitions. Read back (read_committed), the log has no
 *      duplicate or out-of-order seq, each command's event once, and the
 *      balances come out as worked out by hand.
 *
 * b runs with a 2 s batch window and librdkafka's fetch debug log, whose
 * "Enqueue ... fetch queue" line tells when the command has reached it.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kafka_test.h"
#include "test_e2e_support.h"

static e2e_env env;
static pid_t other_pid; /* instance b */
static char log_a[256], log_b[300];

static void setup(void) {
    e2e_setup(&env);
    other_pid = 0;
}

static void teardown(void) {
    if (other_pid > 0) {
        kill(other_pid, SIGCONT);
        kill(other_pid, SIGKILL);
        waitpid(other_pid, NULL, 0);
    }
    e2e_teardown(&env);
}

TestSuite(e2e_fencing, .init = setup, .fini = teardown, .timeout = 120);

/* Starts instance b with its own log while a keeps running. */
static void start_b(void) {
    pid_t a = env.ph.pid;
    env.ph.pid = 0;
    cr_assert_lt(strlen(log_b), sizeof(env.ph.log_path));
    memcpy(env.ph.log_path, log_b, strlen(log_b) + 1);
    /* b holds each transaction open 1.5 s before committing (less than its
     * transaction.timeout.ms), so the test can freeze it mid-transaction
     * every time instead of racing a commit of a few ms. */
    const char *extra[] = {"--commit-interval", "2s", "--debug-hold-before-commit", "1500ms", "-X",
                           "debug=fetch",       NULL};
    const char *argv[32];
    char store[256];
    e2e_producer_args(&env, "b", extra, argv, 32, store, sizeof(store));
    ph_start(&env.ph, argv);
    other_pid = env.ph.pid;
    env.ph.pid = a;
    snprintf(env.ph.log_path, sizeof(env.ph.log_path), "%s", log_a);
}

/* The partitions b restored in its log from byte `from`, once it logged
 * an assignment of at least one partition there (with cooperative
 * rebalancing its first assignment is empty: a gives partitions up first);
 * waits for it. Returns a bit set. */
static unsigned wait_b_partitions(int64_t from) {
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        char *log = e2e_file_text(log_b, from);
        bool assigned = false;
        const char *needle = "ledger-producer: assigned ";
        for (const char *at = strstr(log, needle); at != NULL; at = strstr(at + 1, needle))
            assigned = assigned || atoi(at + strlen(needle)) > 0;
        unsigned set = 0;
        for (int p = 0; assigned && p < PH_PARTITIONS; p++) {
            char line[64];
            snprintf(line, sizeof(line), "partition %d restored: ", p);
            if (strstr(log, line) != NULL)
                set |= 1u << p;
        }
        free(log);
        if (assigned)
            return set;
        cr_assert_lt(kt_now_ms(), deadline, "b was given no partition; log: %s", log_b);
        rd_kafka_poll(env.ph.client, 50); /* paces the next look */
    }
}

/* Waits until b's log from `from` shows it fetched commands partition p
 * at or past `offset`. */
static void wait_b_fetched(int64_t from, int32_t p, int64_t offset) {
    char needle[LEDGER_KAFKA_TOPIC_NAME_BUF + 64];
    snprintf(needle, sizeof(needle), " on %s [%d] fetch queue",
             env.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS], (int)p);
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        char *log = e2e_file_text(log_b, from);
        bool seen = false;
        for (const char *at = strstr(log, needle); at != NULL && !seen;
             at = strstr(at + 1, needle)) {
            const char *last = strstr(at, "last_offset ");
            const char *eol = strchr(at, '\n');
            if (last != NULL && (eol == NULL || last < eol))
                seen = atoll(last + strlen("last_offset ")) >= offset;
        }
        free(log);
        if (seen)
            return;
        cr_assert_lt(kt_now_ms(), deadline, "b never fetched %d:%lld; log: %s", (int)p,
                     (long long)offset, log_b);
        rd_kafka_poll(env.ph.client, 5); /* paces the next look */
    }
}

/* Waits until b's log from `from` holds `needle`, looking every millisecond. */
static void wait_b_line(int64_t from, const char *needle) {
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        char *log = e2e_file_text(log_b, from);
        bool seen = strstr(log, needle) != NULL;
        free(log);
        if (seen)
            return;
        cr_assert_lt(kt_now_ms(), deadline, "'%s' not in b's log: %s", needle, log_b);
        rd_kafka_poll(env.ph.client, 1); /* paces the next look */
    }
}

/* Sends a command and returns its offset on the commands topic. */
static int64_t send_command(const ledger_command *cmd) {
    uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(ledger_codec_encode_command(env.ph.codec, cmd, buf, sizeof(buf), &len, errstr,
                                             sizeof(errstr)),
                 0, "%s", errstr);
    return ph_send_raw(&env.ph, cmd->account, strlen(cmd->account), RD_KAFKA_PARTITION_UA, buf,
                       len);
}

Test(e2e_fencing, a_frozen_instance_cannot_append_after_another_took_over) {
    snprintf(log_a, sizeof(log_a), "%s", env.ph.log_path);
    snprintf(log_b, sizeof(log_b), "%s.b", env.ph.log_path);
    unlink(log_b);
    e2e_start(&env, NULL);
    int64_t a_from = e2e_file_size(log_a);
    start_b();

    /* 1. The partitions are split; both say so. */
    unsigned b_set = wait_b_partitions(0);
    cr_assert_neq(b_set, 0, "b got no partition; log: %s", log_b);
    cr_assert_neq(b_set, (1u << PH_PARTITIONS) - 1, "b got every partition");
    e2e_wait_file(log_a, a_from, "ledger-producer: revoked ", E2E_TIMEOUT_MS, env.ph.client);

    char names[PH_PARTITIONS][2][32], id[64];
    ledger_command cmds[PH_PARTITIONS * 4];
    size_t n = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        for (int k = 0; k < 2; k++) {
            char stem[16];
            snprintf(stem, sizeof(stem), "f%d%d", p, k);
            ph_account_on(names[p][k], sizeof(names[p][k]), stem, p);
            snprintf(id, sizeof(id), "open-%d-%d", p, k);
            cmds[n++] = ph_cmd(LEDGER_COMMAND_OPEN, id, names[p][k], NULL, 0);
            snprintf(id, sizeof(id), "dep-%d-%d", p, k);
            cmds[n++] = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, names[p][k], NULL, 10000);
        }
    }
    ph_send_many(&env.ph, cmds, n);
    ph_wait_result_total(&env.ph, n);
    for (size_t i = 0; i < env.ph.result_count; i++)
        cr_assert_eq(env.ph.result_log[i].reason, LEDGER_OK, "'%s'",
                     env.ph.result_log[i].command_id);

    /* 2. Freeze b while it holds a command of its partition pb. */
    int32_t pb = 0;
    while (!(b_set & (1u << pb)))
        pb++;
    const char *z = names[pb][0];
    int64_t b_from = e2e_file_size(log_b);
    ledger_command w1 = ph_cmd(LEDGER_COMMAND_WITHDRAW, "w1", z, NULL, 1000);
    int64_t offset = send_command(&w1);
    wait_b_fetched(b_from, pb, offset);
    /* ...and holds the transaction with it open, records written but not
     * committed (--debug-hold-before-commit). Frozen between its fetch and
     * its transaction instead, b would only learn it lost the partition
     * when thawed, and drop the record unhandled. */
    wait_b_line(b_from, "holding the transaction open");
    cr_assert_eq(kill(other_pid, SIGSTOP), 0);
    ledger_command w2 = ph_cmd(LEDGER_COMMAND_WITHDRAW, "w2", z, NULL, 2000);
    send_command(&w2);

    /* a takes pb over once b's session has expired, and handles both. */
    ledger_result r1 = ph_wait_result(&env.ph, "w1", 1);
    ph_assert_accepted(&env.ph, &r1, LEDGER_EVENT_MONEY_WITHDRAWN, z, 3);
    ledger_result r2 = ph_wait_result(&env.ph, "w2", 1);
    ph_assert_accepted(&env.ph, &r2, LEDGER_EVENT_MONEY_WITHDRAWN, z, 4);

    /* 3. Thaw b: it tries its stale batch and learns it lost the group. */
    int64_t b_thawed = e2e_file_size(log_b);
    cr_assert_eq(kill(other_pid, SIGCONT), 0);
    e2e_wait_file(log_b, b_thawed, "ledger-producer: lost ", E2E_TIMEOUT_MS, env.ph.client);
    char *thawed = e2e_file_text(log_b, b_thawed);
    /* Its commit is refused: fenced (a fatal error: it stops), or told
     * to abort (it aborts, rewinds and goes on). */
    cr_assert(strstr(thawed, "fenced") != NULL || strstr(thawed, "must be aborted") != NULL,
              "b did not try its held batch, or was not fenced; log: %s", log_b);
    free(thawed);

    /* Every account takes one more deposit, from whoever owns it now. */
    n = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        for (int k = 0; k < 2; k++) {
            snprintf(id, sizeof(id), "late-%d-%d", p, k);
            cmds[n++] = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, names[p][k], NULL, 1);
        }
    }
    size_t before = env.ph.result_count;
    ph_send_many(&env.ph, cmds, n);
    ph_wait_result_total(&env.ph, before + n);

    /* The log, read_committed: seqs 1..n everywhere, each command's event
     * once, b's attempt nowhere. */
    e2e_events events;
    e2e_read_events(&env, &events);
    for (int p = 0; p < PH_PARTITIONS; p++) {
        for (int k = 0; k < 2; k++) {
            account_state s = e2e_fold(&events, names[p][k]);
            bool is_z = p == pb && k == 0;
            cr_assert_eq(s.seq, is_z ? 5 : 3, "'%s'", names[p][k]);
            cr_assert_eq(s.balance, is_z ? 10000 - 1000 - 2000 + 1 : 10001, "'%s'", names[p][k]);
        }
    }
    cr_assert_eq(e2e_count_events(&events, "w1", LEDGER_EVENT_MONEY_WITHDRAWN), 1);
    cr_assert_eq(e2e_count_events(&events, "w2", LEDGER_EVENT_MONEY_WITHDRAWN), 1);
    e2e_events_free(&events);

    ledger_result *results = NULL;
    size_t count = e2e_read_results(&env, &results);
    int answers = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(results[i].command_id, "w1") != 0)
            continue;
        cr_assert_eq(results[i].reason, LEDGER_OK);
        cr_assert_str_eq(results[i].event.event_id, r1.event.event_id,
                         "another answer for w1 than a's");
        cr_assert_eq(results[i].duplicate, answers > 0);
        answers++;
    }
    cr_assert_geq(answers, 1);
    free(results);
}
