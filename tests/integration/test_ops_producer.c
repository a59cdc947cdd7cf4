/*
 * test_ops_producer.c - what ledger-producer shows operators: /healthz is
 * not ready until its partitions are restored and ready after, /metrics
 * parses with the Prometheus client's parser (prom_parse.py) and its
 * counters equal what the test did through `ledger submit`, and with
 * LEDGER_LOG_FORMAT=json every line on stderr is a JSON object with time,
 * level, program and msg.
 *
 * Readiness is observed, not raced: before the producer starts, the test
 * opens a transaction on the events topic and leaves it open. A restore
 * reads each partition to its high watermark, so the producer's restore
 * waits on that transaction for as long as the test keeps it open; the
 * test sees /healthz answer 503 "restoring partitions" during that time,
 * then aborts the transaction and waits for 200.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kafka_test.h"
#include "ops_test_support.h"
#include "test_e2e_support.h"

extern char **environ;

/* ---- the producer, started without waiting for it ---- */

/* Starts ledger-producer like ph_start does (the test's brokers, prefix
 * and group, output appended to the harness's log file) with `args` and
 * the NAME=VALUE strings of `extra_env`, and returns at once. */
static void spawn_producer(e2e_env *e, const char *const *args, const char *const *extra_env) {
    ph_env *ph = &e->ph;
    cr_assert_eq(ph->pid, 0, "a producer is already running");
    const char *argv[40] = {LEDGER_PRODUCER_BIN};
    size_t argc = 1;
    for (size_t i = 0; args != NULL && args[i] != NULL && argc < 39; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char brokers[512], prefix[128], group[160];
    snprintf(brokers, sizeof(brokers), "LEDGER_BROKERS=%s", kt_brokers());
    snprintf(prefix, sizeof(prefix), "LEDGER_TOPIC_PREFIX=%s", ph->prefix);
    snprintf(group, sizeof(group), "LEDGER_PRODUCER_GROUP_ID=%s", ph->group);
    FILE *log = fopen(ph->log_path, "a");
    cr_assert_not_null(log, "cannot open '%s'", ph->log_path);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        for (;;) { /* no LEDGER_* setting but the test's own */
            char name[256] = "";
            for (char **env = environ; *env != NULL; env++) {
                if (strncmp(*env, "LEDGER_", 7) == 0) {
                    snprintf(name, sizeof(name), "%.*s", (int)strcspn(*env, "="), *env);
                    break;
                }
            }
            if (name[0] == '\0')
                break;
            unsetenv(name);
        }
        putenv(brokers);
        putenv(prefix);
        putenv(group);
        for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
            putenv((char *)extra_env[i]);
        dup2(fileno(log), STDOUT_FILENO);
        dup2(fileno(log), STDERR_FILENO);
        execv(LEDGER_PRODUCER_BIN, (char *const *)argv);
        _exit(127);
    }
    fclose(log);
    ph->pid = pid;
}

/* The port of the endpoint, from the line the producer logs when it binds
 * (it was started with --http-port 0). */
static int endpoint_port(e2e_env *e, int64_t log_from) {
    static const char needle[] = "operations endpoint on 0.0.0.0:";
    e2e_wait_file(e->ph.log_path, log_from, needle, E2E_TIMEOUT_MS, e->ph.client);
    char *text = e2e_file_text(e->ph.log_path, log_from);
    int port = 0;
    cr_assert_eq(sscanf(strstr(text, needle) + strlen(needle), "%d", &port), 1);
    free(text);
    cr_assert(port > 0 && port < 65536);
    return port;
}

/* ---- a transaction the test keeps open on the events topic ---- */

static rd_kafka_t *open_transaction(e2e_env *e, int32_t partition) {
    char errstr[512], txn_id[128];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(txn_id, sizeof(txn_id), "%sblocker", e->ph.prefix);
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", kt_brokers(), errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    /* Longer than the test holds it: the broker must not abort it first. */
    cr_assert_eq(
        rd_kafka_conf_set(conf, "transaction.timeout.ms", "120000", errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK, "%s", errstr);
    rd_kafka_t *rk = kt_client(RD_KAFKA_PRODUCER, conf);
    rd_kafka_error_t *error = rd_kafka_init_transactions(rk, 30000);
    cr_assert_null(error, "init transactions: %s", error ? rd_kafka_error_string(error) : "");
    error = rd_kafka_begin_transaction(rk);
    cr_assert_null(error, "begin: %s", error ? rd_kafka_error_string(error) : "");
    static const char value[] = "never committed";
    cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(e->ph.topics[LEDGER_KAFKA_TOPIC_EVENTS]),
                                   RD_KAFKA_V_PARTITION(partition),
                                   RD_KAFKA_V_VALUE((void *)value, sizeof(value) - 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return rk;
}

static void abort_transaction(rd_kafka_t *rk) {
    rd_kafka_error_t *error = rd_kafka_abort_transaction(rk, 30000);
    cr_assert_null(error, "abort: %s", error ? rd_kafka_error_string(error) : "");
    rd_kafka_destroy(rk);
}

/* ---- the workload ---- */

/* One `ledger submit` line and what the ledger must answer. */
typedef struct line {
    const char *json;
    const char *status; /* "accepted" or "rejected" */
    const char *reason; /* for a rejection */
    bool duplicate;
    bool sent; /* false: refused by the CLI itself, never reaches the producer */
    int events;
} line;

/* Runs the lines through `ledger submit`, checks each answer against its
 * expectation, and adds them to the expected counts. */
typedef struct expected {
    double accepted, rejected, duplicate, sent, events;
    double by_reason[16];
} expected;

static const char *const reasons[] = {"invalid_account",    "invalid_amount",  "same_account",
                                      "no_such_account",    "account_exists",  "account_closed",
                                      "insufficient_funds", "nonzero_balance", "malformed_command"};
#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

static void submit(e2e_env *e, const line *lines, size_t n, expected *x) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(lines[i].json) + 1;
    char *input = calloc(1, len);
    cr_assert_not_null(input);
    for (size_t i = 0; i < n; i++) {
        strcat(input, lines[i].json);
        strcat(input, "\n");
    }
    tcf_run_result res;
    const char *argv[] = {"submit", NULL};
    e2e_ledger(e, &res, argv, input);
    free(input);
    char *save = NULL;
    char *out_line = strtok_r(res.out, "\n", &save);
    for (size_t i = 0; i < n; i++, out_line = strtok_r(NULL, "\n", &save)) {
        cr_assert_not_null(out_line, "no answer to line %zu (%s); stderr: %s", i, lines[i].json,
                           res.err);
        json_error_t jerr;
        json_t *r = json_loads(out_line, 0, &jerr);
        cr_assert(json_is_object(r), "not JSON: %s", out_line);
        cr_assert_str_eq(e2e_str(r, "status"), lines[i].status, "line %s: %s", lines[i].json,
                         out_line);
        if (lines[i].reason != NULL)
            cr_assert_str_eq(e2e_str(r, "reason"), lines[i].reason, "%s", out_line);
        cr_assert_eq(json_is_true(json_object_get(r, "duplicate")), lines[i].duplicate, "%s",
                     out_line);
        json_decref(r);
        if (!lines[i].sent)
            continue;
        x->sent++;
        x->events += lines[i].events;
        if (lines[i].duplicate) {
            x->duplicate++;
        } else if (strcmp(lines[i].status, "accepted") == 0) {
            x->accepted++;
        } else {
            x->rejected++;
            size_t k = 0;
            while (k < N_REASONS && strcmp(reasons[k], lines[i].reason) != 0)
                k++;
            cr_assert_lt(k, N_REASONS);
            x->by_reason[k]++;
        }
    }
    tcf_run_free(&res);
}

/* One submit line; `to` and `amount` are left out when NULL. */
static void json_line(char out[256], const char *id, const char *type, const char *account,
                      const char *to, const char *amount) {
    int n =
        snprintf(out, 256, "{\"id\":\"%s\",\"type\":\"%s\",\"account\":\"%s\"", id, type, account);
    if (to != NULL)
        n += snprintf(out + n, 256 - (size_t)n, ",\"to\":\"%s\"", to);
    if (amount != NULL)
        n += snprintf(out + n, 256 - (size_t)n, ",\"amount\":\"%s\"", amount);
    cr_assert_lt(n + 2, 256);
    snprintf(out + n, 256 - (size_t)n, "}");
}

static const char *const ops_args_extra[] = {"--http-port", "0", NULL};

Test(ops_producer, healthz_waits_for_the_restore_and_metrics_count_the_commands, .timeout = 240) {
    e2e_env e;
    e2e_setup(&e);

    /* Commands already in the log, so the restore has work. */
    e2e_start(&e, NULL);
    char a[64], b[64], c[64];
    ph_account_on(a, sizeof(a), "opsA", 0);
    ph_account_on(b, sizeof(b), "opsB", 3);
    ph_account_on(c, sizeof(c), "opsC", 5);
    char pre_json[3][256];
    json_line(pre_json[0], "pre-1", "open", a, NULL, NULL);
    json_line(pre_json[1], "pre-2", "open", b, NULL, NULL);
    json_line(pre_json[2], "pre-3", "deposit", a, NULL, "100");
    expected ignored = {0};
    const line pre[] = {
        {pre_json[0], "accepted", NULL, false, true, 1},
        {pre_json[1], "accepted", NULL, false, true, 1},
        {pre_json[2], "accepted", NULL, false, true, 1},
    };
    submit(&e, pre, 3, &ignored);
    ph_stop(&e.ph);
    e2e_events logged;
    e2e_read_events(&e, &logged);
    size_t events_before = logged.count;
    e2e_events_free(&logged);
    cr_assert_eq(events_before, 3);

    rd_kafka_t *blocker = open_transaction(&e, 0);
    int64_t log_from = e2e_file_size(e.ph.log_path);
    const char *argv[24];
    char store[256];
    e2e_producer_args(&e, "a", ops_args_extra, argv, 24, store, sizeof(store));
    spawn_producer(&e, argv, NULL);
    int port = endpoint_port(&e, log_from);

    /* Not ready from the first answer until the restore is under way. */
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    char body[256] = "";
    int answers = 0;
    for (;;) {
        int status = ot_get(port, "/healthz", body, sizeof(body));
        if (status != -1) {
            answers++;
            cr_assert_eq(status, 503, "answer %d: %d '%s' while the restore cannot end", answers,
                         status, body);
            cr_assert(strcmp(body, "not ready: waiting for an assignment\n") == 0 ||
                          strcmp(body, "not ready: restoring partitions\n") == 0,
                      "%s", body);
            if (strcmp(body, "not ready: restoring partitions\n") == 0)
                break;
        }
        cr_assert_lt(kt_now_ms(), deadline, "never 'restoring partitions'; last: '%s'", body);
        rd_kafka_poll(e.ph.client, 20); /* the pace between looks */
    }
    /* The restore is waiting for the test's transaction, for as long as it
     * stays open. */
    e2e_wait_file(e.ph.log_path, log_from, "waiting for an open transaction", E2E_TIMEOUT_MS,
                  e.ph.client);
    cr_assert_eq(ot_get(port, "/healthz", body, sizeof(body)), 503, "%s", body);
    json_t *doc = ot_scrape(port);
    cr_assert_eq(ot_value(doc, "ledger_ready", NULL, NULL), 0);
    cr_assert_eq(ot_value(doc, "ledger_producer_partitions_restored_total", NULL, NULL), 0);
    json_decref(doc);

    abort_transaction(blocker);
    deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        int status = ot_get(port, "/healthz", body, sizeof(body));
        if (status == 200)
            break;
        cr_assert_eq(status, 503, "%s", body);
        cr_assert_lt(kt_now_ms(), deadline, "not ready after the transaction ended: '%s'", body);
        rd_kafka_poll(e.ph.client, 20);
    }
    cr_assert_str_eq(body, "ready\n");
    doc = ot_scrape(port);
    cr_assert_eq(ot_value(doc, "ledger_ready", NULL, NULL), 1);
    cr_assert_eq(ot_value(doc, "ledger_producer_partitions_restored_total", NULL, NULL),
                 PH_PARTITIONS);
    cr_assert_eq(ot_value(doc, "ledger_producer_partitions_owned", NULL, NULL), PH_PARTITIONS);
    cr_assert_eq(ot_value(doc, "ledger_producer_restore_events_replayed_total", NULL, NULL),
                 (double)events_before);
    cr_assert_eq(ot_value(doc, "ledger_producer_restore_accounts", NULL, NULL), 2);
    cr_assert_eq(ot_value(doc, "ledger_producer_rebalances_total", "kind", "assigned"), 1);
    json_decref(doc);

    /* Commands of known outcomes. Whatever order the partitions' records
     * are decided in, each answer is the same: B holds 0 or 10.00, A 100.00
     * or 90.00. */
    char nobody[96];
    snprintf(nobody, sizeof(nobody), "nobody-%s", e.ph.prefix);
    char w[10][256];
    json_line(w[0], "w-1", "open", c, NULL, NULL);
    json_line(w[1], "w-2", "deposit", c, NULL, "5");
    json_line(w[2], "w-3", "withdraw", b, NULL, "50");
    json_line(w[3], "w-4", "deposit", nobody, NULL, "1");
    json_line(w[4], "w-5", "open", a, NULL, NULL);
    json_line(w[5], "w-6", "transfer", a, a, "1");
    json_line(w[6], "w-7", "transfer", a, b, "10");
    json_line(w[7], "w-8", "close", a, NULL, NULL);
    json_line(w[8], "w-9", "deposit", a, NULL, "1.234");
    json_line(w[9], "w-10", "withdraw", b, NULL, "70");
    const line lines[] = {
        {w[0], "accepted", NULL, false, true, 1},
        {w[1], "accepted", NULL, false, true, 1},
        {w[2], "rejected", "insufficient_funds", false, true, 0},
        {w[3], "rejected", "no_such_account", false, true, 0},
        {w[4], "rejected", "account_exists", false, true, 0},
        {w[5], "rejected", "same_account", false, true, 0},
        {w[6], "accepted", NULL, false, true, 2}, /* sent, then received */
        {w[7], "rejected", "nonzero_balance", false, true, 0},
        /* Refused by the CLI itself: never handled, never counted. */
        {w[8], "rejected", "invalid_amount", false, false, 0},
        {w[9], "rejected", "insufficient_funds", false, true, 0},
    };
    expected x = {0};
    submit(&e, lines, sizeof(lines) / sizeof(lines[0]), &x);
    /* Again: duplicates of an acceptance, of a rejection, and of a command
     * handled before the restart (remembered through the restore). */
    const line dups[] = {
        {w[1], "accepted", NULL, true, true, 0},
        {w[2], "rejected", "insufficient_funds", true, true, 0},
        {pre_json[2], "accepted", NULL, true, true, 0},
    };
    submit(&e, dups, 3, &x);
    /* A record no client would write: malformed. */
    static const char garbage[] = "not an Avro command";
    ph_send_raw(&e.ph, "ops-garbage", 11, 2, garbage, sizeof(garbage) - 1);
    ledger_result malformed = ph_wait_result(&e.ph, "ops-garbage", 1);
    cr_assert_eq(malformed.reason, LEDGER_MALFORMED_COMMAND);
    x.sent++;
    x.by_reason[N_REASONS - 1]++;

    doc = ot_scrape(port);
    const char *m = "ledger_producer_commands_total";
    cr_assert_eq(ot_value(doc, m, "outcome", "accepted"), x.accepted);
    cr_assert_eq(ot_value(doc, m, "outcome", "rejected"), x.rejected);
    cr_assert_eq(ot_value(doc, m, "outcome", "duplicate"), x.duplicate);
    cr_assert_eq(ot_value(doc, m, "outcome", "malformed"), 1);
    for (size_t k = 0; k < N_REASONS; k++)
        cr_assert_eq(ot_value(doc, "ledger_producer_rejections_total", "reason", reasons[k]),
                     x.by_reason[k], "reason %s", reasons[k]);
    cr_assert_eq(ot_value(doc, "ledger_producer_events_appended_total", NULL, NULL), x.events);
    /* Every record handled went through a committed transaction. */
    cr_assert_eq(ot_value(doc, "ledger_producer_transaction_records_sum", NULL, NULL), x.sent);
    double committed = ot_value(doc, "ledger_producer_transactions_total", "outcome", "committed");
    cr_assert_geq(committed, 3); /* two submits and the raw record, at least */
    cr_assert_eq(ot_value(doc, "ledger_producer_transaction_records_count", NULL, NULL), committed);
    cr_assert_eq(ot_value(doc, "ledger_producer_transaction_seconds_count", NULL, NULL), committed);
    cr_assert_eq(ot_value(doc, "ledger_producer_command_seconds_count", NULL, NULL), x.sent);
    cr_assert_eq(ot_value(doc, "ledger_producer_transactions_total", "outcome", "aborted"), 0);
    json_decref(doc);

    /* Every command record is handled: each partition's committed offset is
     * its end, and its lag 0 (refreshed while the producer is idle). */
    int64_t commands = tcf_topic_size(e.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS]);
    deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        doc = ot_scrape(port);
        double offsets = 0, lag = 0;
        int with_lag = 0;
        for (int p = 0; p < PH_PARTITIONS; p++) {
            char label[8];
            snprintf(label, sizeof(label), "%d", p);
            bool found;
            offsets += ot_value(doc, "ledger_producer_committed_offset", "partition", label);
            lag += ot_sample(doc, "ledger_producer_lag_records", "partition", label, &found);
            with_lag += found;
        }
        json_decref(doc);
        if (offsets == (double)commands && with_lag == PH_PARTITIONS && lag == 0)
            break;
        cr_assert_lt(kt_now_ms(), deadline,
                     "committed offsets sum to %.0f of %lld records, lag %.0f on %d partitions",
                     offsets, (long long)commands, lag, with_lag);
        rd_kafka_poll(e.ph.client, 200);
    }

    /* The events appended are the log's new events. */
    e2e_read_events(&e, &logged);
    cr_assert_eq(logged.count - events_before, (size_t)x.events);
    e2e_events_free(&logged);

    ph_stop(&e.ph);
    e2e_teardown(&e);
}

/* ---- JSON logs ---- */

Test(ops_producer, json_logs_are_one_object_per_line, .timeout = 180) {
    e2e_env e;
    e2e_setup(&e);
    int64_t log_from = e2e_file_size(e.ph.log_path);
    const char *argv[24];
    char store[256];
    e2e_producer_args(&e, "a", NULL, argv, 24, store, sizeof(store));
    const char *env[] = {"LEDGER_LOG_FORMAT=json", "LEDGER_LOG_LEVEL=debug", NULL};
    spawn_producer(&e, argv, env);
    e2e_wait_file(e.ph.log_path, log_from, "\"msg\":\"ready\"", E2E_TIMEOUT_MS, e.ph.client);

    /* A command id with a quote and a backslash reaches the debug lines. */
    char a[64], input[512];
    ph_account_on(a, sizeof(a), "json", 1);
    snprintf(
        input, sizeof(input),
        "{\"id\":\"q\\\"uote\\\\1\",\"type\":\"deposit\",\"account\":\"%s\",\"amount\":\"1\"}\n",
        a);
    tcf_run_result res;
    const char *sub[] = {"submit", NULL};
    e2e_ledger(&e, &res, sub, input);
    cr_assert(strstr(res.out, "\"reason\":\"no_such_account\"") != NULL, "%s %s", res.out, res.err);
    tcf_run_free(&res);
    ph_stop(&e.ph);

    char *text = e2e_file_text(e.ph.log_path, log_from);
    regex_t time_re;
    cr_assert_eq(regcomp(&time_re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    size_t n = 0;
    bool saw_ready = false, saw_stopped = false, saw_quoted_id = false;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        n++;
        json_error_t jerr;
        json_t *obj = json_loads(l, 0, &jerr);
        cr_assert(json_is_object(obj), "line %zu is not a JSON object (%s): %s", n, jerr.text, l);
        cr_assert_eq(json_object_size(obj), 4, "line %zu: %s", n, l);
        const char *time = json_string_value(json_object_get(obj, "time"));
        const char *level = json_string_value(json_object_get(obj, "level"));
        const char *program = json_string_value(json_object_get(obj, "program"));
        const char *msg = json_string_value(json_object_get(obj, "msg"));
        cr_assert(time != NULL && regexec(&time_re, time, 0, NULL, 0) == 0, "line %zu: %s", n, l);
        cr_assert(level != NULL && (strcmp(level, "error") == 0 || strcmp(level, "warn") == 0 ||
                                    strcmp(level, "info") == 0 || strcmp(level, "debug") == 0),
                  "line %zu: %s", n, l);
        cr_assert(program != NULL && strcmp(program, "ledger-producer") == 0, "line %zu: %s", n, l);
        cr_assert_not_null(msg, "line %zu: %s", n, l);
        saw_ready |= strcmp(msg, "ready") == 0;
        saw_stopped |= strcmp(msg, "stopped") == 0;
        saw_quoted_id |= strstr(msg, "'q\"uote\\1'") != NULL;
        json_decref(obj);
    }
    regfree(&time_re);
    free(text);
    cr_assert_gt(n, 3);
    cr_assert(saw_ready && saw_stopped, "no 'ready' or 'stopped' line");
    cr_assert(saw_quoted_id, "no debug line naming the command id");
    e2e_teardown(&e);
}
