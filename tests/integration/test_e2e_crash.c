/*
 * test_e2e_crash.c - crashes end to end: `ledger submit` streams a
 * workload of several thousand commands (opens, deposits, withdrawals,
 * transfers, a few closes) over a few hundred accounts while the producer
 * is killed with SIGKILL again and again (each time a part of the stream
 * is in flight) and started again. Afterwards:
 *
 *   - every input line got exactly one result line, in order;
 *   - every accepted command's event is in the events topic exactly once
 *     (by command id and event type), a rejected command has none;
 *   - every account's seq runs 1..n without gap or repeat;
 *   - no transfer is half-applied: each TransferSent gets exactly one
 *     TransferReceived or TransferReturned (waited for);
 *   - the results topic answers every command, and when it answers one
 *     several times the answers agree (the later ones are duplicates);
 *   - no money appears or vanishes: the balances add up to the accepted
 *     deposits minus the accepted withdrawals.
 *
 * The kills are paced by progress, not by a clock: a part of the input is
 * written, and the producer is killed as soon as the first result of that
 * part is out, so later commands of the part are mid-flight.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kafka_test.h"
#include "test_e2e_support.h"

#define ACCOUNTS 300
#define COMMANDS 4000
#define PARTS    8 /* of the stream; the producer is killed in the first KILLS */
#define KILLS    6

static e2e_env env;

static void setup(void) {
    e2e_setup(&env);
}

static void teardown(void) {
    e2e_teardown(&env);
}

TestSuite(e2e_crash, .init = setup, .fini = teardown, .timeout = 120);

typedef struct line_info {
    char id[16];
    char type[12];
} line_info;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void kill_producer(void) {
    cr_assert_gt(env.ph.pid, 0);
    cr_assert_eq(kill(env.ph.pid, SIGKILL), 0);
    cr_assert_eq(waitpid(env.ph.pid, NULL, 0), env.ph.pid);
    env.ph.pid = 0;
}

Test(e2e_crash, sigkill_during_a_stream_loses_and_doubles_nothing) {
    e2e_start(&env, NULL);
    size_t total = ACCOUNTS + COMMANDS;
    line_info *info = calloc(total, sizeof(*info));
    char **lines = calloc(total, sizeof(*lines));
    cr_assert(info != NULL && lines != NULL);
    char buf[256];
    size_t k = 0;
    for (int a = 0; a < ACCOUNTS; a++, k++) {
        snprintf(info[k].id, sizeof(info[k].id), "k%zu", k);
        snprintf(info[k].type, sizeof(info[k].type), "open");
        snprintf(buf, sizeof(buf),
                 "{\"id\":\"%s\",\"type\":\"open\",\"account\":\"c%03d\",\"overdraft\":\"%d\"}\n",
                 info[k].id, a, a % 3 == 0 ? 50 : 0);
        lines[k] = strdup(buf);
    }
    unsigned seed = 1126;
    for (int i = 0; i < COMMANDS; i++, k++) {
        int a = (int)(rand_r(&seed) % ACCOUNTS), b = (int)(rand_r(&seed) % ACCOUNTS);
        int cents = 1 + (int)(rand_r(&seed) % 5000);
        int kind = (int)(rand_r(&seed) % 100);
        snprintf(info[k].id, sizeof(info[k].id), "k%zu", k);
        if (kind < 40) {
            snprintf(info[k].type, sizeof(info[k].type), "deposit");
            snprintf(buf, sizeof(buf),
                     "{\"id\":\"%s\",\"type\":\"deposit\",\"account\":\"c%03d\",\"amount\":"
                     "\"%d.%02d\"}\n",
                     info[k].id, a, cents / 100, cents % 100);
        } else if (kind < 60) {
            snprintf(info[k].type, sizeof(info[k].type), "withdraw");
            snprintf(buf, sizeof(buf),
                     "{\"id\":\"%s\",\"type\":\"withdraw\",\"account\":\"c%03d\",\"amount\":"
                     "\"%d.%02d\"}\n",
                     info[k].id, a, cents / 100, cents % 100);
        } else if (kind < 99) {
            snprintf(info[k].type, sizeof(info[k].type), "transfer");
            /* Now and then to an account that does not exist. */
            char to[16];
            if (kind == 98)
                snprintf(to, sizeof(to), "ghost%03d", b);
            else
                snprintf(to, sizeof(to), "c%03d", b);
            snprintf(buf, sizeof(buf),
                     "{\"id\":\"%s\",\"type\":\"transfer\",\"account\":\"c%03d\",\"to\":\"%s\","
                     "\"amount\":\"%d.%02d\"}\n",
                     info[k].id, a, to, cents / 100, cents % 100);
        } else {
            snprintf(info[k].type, sizeof(info[k].type), "close");
            snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"type\":\"close\",\"account\":\"c%03d\"}\n",
                     info[k].id, a);
        }
        lines[k] = strdup(buf);
    }

    e2e_submit submit;
    e2e_submit_start(&env, &submit, (const char *const[]){"--timeout", "90", NULL});
    size_t per_part = (total + PARTS - 1) / PARTS, written = 0;
    int kills = 0;
    for (int part = 0; part < PARTS; part++) {
        size_t end = written + per_part < total ? written + per_part : total;
        size_t done_before = e2e_submit_lines(&submit);
        for (; written < end; written++)
            e2e_submit_write(&submit, lines[written]);
        if (part >= KILLS)
            continue;
        /* Kill as soon as this part has begun to be answered. */
        int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
        while (e2e_submit_lines(&submit) <= done_before) {
            cr_assert_lt(kt_now_ms(), deadline, "no progress in part %d", part);
            rd_kafka_poll(env.ph.client, 5); /* paces the next look */
        }
        kill_producer();
        kills++;
        e2e_start(&env, NULL);
    }
    cr_assert_eq(kills, KILLS);
    tcf_run_result res;
    e2e_submit_finish(&submit, 90000, &res);
    cr_assert_eq(res.exit_code, 0, "submit: exit %d: %s", res.exit_code, res.err);

    /* One result line per input line, in input order. */
    json_t **out = calloc(total, sizeof(*out));
    cr_assert_not_null(out);
    const char *line = res.out;
    for (size_t i = 0; i < total; i++) {
        const char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "%zu result lines for %zu commands", i, total);
        json_error_t error;
        out[i] = json_loadb(line, (size_t)(nl - line), 0, &error);
        cr_assert_not_null(out[i], "line %zu: %s", i + 1, error.text);
        cr_assert_str_eq(e2e_str(out[i], "command_id"), info[i].id, "line %zu", i + 1);
        cr_assert_null(json_object_get(out[i], "duplicate"), "line %zu is a duplicate: %s", i + 1,
                       json_dumps(out[i], 0));
        line = nl + 1;
    }
    cr_assert_str_empty(line, "more result lines than commands");
    tcf_run_free(&res);

    e2e_events events;
    e2e_wait_transfers_settled(&env, &events);

    /* Every (command id, event type) at most once in the whole log. */
    char **keys = calloc(events.count + 1, sizeof(*keys));
    cr_assert_not_null(keys);
    for (size_t i = 0; i < events.count; i++) {
        const ledger_event *ev = &events.items[i].event;
        snprintf(buf, sizeof(buf), "%s|%s", ev->command_id, ledger_event_type_name(ev->type));
        keys[i] = strdup(buf);
    }
    qsort(keys, events.count, sizeof(*keys), cmp_str);
    for (size_t i = 1; i < events.count; i++)
        cr_assert_str_neq(keys[i - 1], keys[i], "event %s appended twice", keys[i]);
    for (size_t i = 0; i < events.count; i++)
        free(keys[i]);
    free(keys);

    /* Accepted: its event exactly once; rejected: nothing. */
    int64_t deposited = 0, withdrawn = 0;
    size_t accepted = 0;
    for (size_t i = 0; i < total; i++) {
        const char *status = e2e_str(out[i], "status");
        size_t any = 0;
        for (int t = LEDGER_EVENT_ACCOUNT_OPENED; t <= LEDGER_EVENT_ACCOUNT_CLOSED; t++)
            any += e2e_count_events(&events, info[i].id, (ledger_event_type)t);
        if (strcmp(status, "rejected") == 0) {
            cr_assert_eq(any, 0, "rejected '%s' has events", info[i].id);
            continue;
        }
        cr_assert_str_eq(status, "accepted");
        accepted++;
        const json_t *ev = e2e_event(out[i]);
        ledger_event_type type = ledger_event_type_from_name(e2e_str(ev, "type"));
        cr_assert_eq(e2e_count_events(&events, info[i].id, type), 1, "'%s' %s appended %zu times",
                     info[i].id, e2e_str(ev, "type"), e2e_count_events(&events, info[i].id, type));
        if (type == LEDGER_EVENT_MONEY_DEPOSITED)
            deposited += e2e_cents(e2e_str(ev, "amount"));
        else if (type == LEDGER_EVENT_MONEY_WITHDRAWN)
            withdrawn += e2e_cents(e2e_str(ev, "amount"));
    }
    cr_assert_gt(accepted, total / 2, "only %zu of %zu accepted", accepted, total);

    /* Seqs 1..n for every account, and the money adds up. */
    int64_t sum = 0;
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(buf, sizeof(buf), "c%03d", a);
        sum += e2e_fold(&events, buf).balance;
    }
    for (size_t i = 0; i < events.count; i++)
        cr_assert_neq(strncmp(events.items[i].event.account, "ghost", 5), 0,
                      "an event on a missing account");
    cr_assert_eq(sum, deposited - withdrawn, "balances %lld, deposits - withdrawals %lld",
                 (long long)sum, (long long)(deposited - withdrawn));

    /* The results topic answers every command; repeated answers agree. */
    ledger_result *results = NULL;
    size_t nres = e2e_read_results(&env, &results);
    const ledger_result **by_id = calloc(total, sizeof(*by_id));
    cr_assert_not_null(by_id);
    size_t repeated = 0;
    for (size_t r = 0; r < nres; r++) {
        const ledger_result *res_r = &results[r];
        cr_assert_eq(res_r->command_id[0], 'k', "result for '%s'", res_r->command_id);
        size_t i = (size_t)strtoul(res_r->command_id + 1, NULL, 10);
        cr_assert_lt(i, total);
        if (by_id[i] == NULL) {
            cr_assert_not(res_r->duplicate, "'%s': first result marked duplicate",
                          res_r->command_id);
            by_id[i] = res_r;
            /* ... and it is what submit printed. */
            const char *status = e2e_str(out[i], "status");
            cr_assert_eq(res_r->reason == LEDGER_OK, strcmp(status, "accepted") == 0, "'%s'",
                         res_r->command_id);
            if (res_r->has_event)
                cr_assert_str_eq(res_r->event.event_id, e2e_str(e2e_event(out[i]), "event_id"));
            continue;
        }
        repeated++;
        const ledger_result *first = by_id[i];
        cr_assert(res_r->duplicate, "'%s' answered twice, not as a duplicate", res_r->command_id);
        cr_assert_eq(res_r->reason, first->reason, "'%s': answers disagree", res_r->command_id);
        cr_assert_eq(res_r->has_event, first->has_event);
        if (first->has_event) {
            cr_assert_str_eq(res_r->event.event_id, first->event.event_id);
            cr_assert_eq(res_r->event.seq, first->event.seq);
            cr_assert_eq(res_r->partition, first->partition);
            cr_assert_eq(res_r->offset, first->offset);
        }
    }
    for (size_t i = 0; i < total; i++)
        cr_assert_not_null(by_id[i], "no result for '%s' in the results topic", info[i].id);
    cr_log_info("%zu commands, %zu accepted, %d kills, %zu repeated results, %zu events", total,
                accepted, kills, repeated, events.count);

    free(by_id);
    free(results);
    e2e_events_free(&events);
    for (size_t i = 0; i < total; i++) {
        json_decref(out[i]);
        free(lines[i]);
    }
    free(out);
    free(lines);
    free(info);
}

/* Regression: a previous owner that died inside a transaction leaves it
 * open (until the broker aborts it), and a read_committed reader's end of
 * the events partition stays at its first record even after the next
 * owner has committed events behind it. A restore that stopped there lost
 * those events: the next decision reused a seq (found by the test above,
 * as "event seq N ... is already folded" at a later restore). Here the
 * dead owner's transaction is played by a transactional producer of the
 * test that writes to the events partition and never ends; the broker
 * aborts it after its transaction.timeout.ms (plus up to its cleanup
 * interval, 10 s by default). */
Test(e2e_crash, a_restore_waits_for_a_dead_owners_open_transaction) {
    e2e_start(&env, NULL);
    char account[64];
    ph_account_on(account, sizeof(account), "lso", 3);
    json_decref(e2e_ledger_json(&env, 0, (const char *const[]){"open", account, NULL}));
    json_decref(e2e_ledger_json(&env, 0, (const char *const[]){"deposit", account, "10", NULL}));

    int64_t from = e2e_file_size(env.ph.log_path);
    char errstr[512], txn_id[128];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    snprintf(txn_id, sizeof(txn_id), "%szombie", env.ph.prefix);
    cr_assert_eq(rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "transaction.timeout.ms", "4000", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_t *zombie = kt_client(RD_KAFKA_PRODUCER, conf);
    rd_kafka_error_t *error = rd_kafka_init_transactions(zombie, E2E_TIMEOUT_MS);
    cr_assert_null(error, "%s", error ? rd_kafka_error_string(error) : "");
    cr_assert_null(rd_kafka_begin_transaction(zombie));
    cr_assert_eq(
        rd_kafka_producev(zombie, RD_KAFKA_V_TOPIC(env.ph.topics[LEDGER_KAFKA_TOPIC_EVENTS]),
                          RD_KAFKA_V_PARTITION(3), RD_KAFKA_V_KEY(account, strlen(account)),
                          RD_KAFKA_V_VALUE("never committed", 15),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_flush(zombie, E2E_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* Committed behind the open transaction. */
    json_t *r = e2e_ledger_json(&env, 0, (const char *const[]){"deposit", account, "5", NULL});
    e2e_assert_accepted(r, e2e_str(r, "command_id"), "MoneyDeposited", account, 3);
    json_decref(r);

    /* Whichever restore meets the open transaction first (the restart's,
     * or one after the producer noticed the foreign record and aborted)
     * waits for its end. */
    ph_stop(&env.ph);
    e2e_start(&env, NULL);

    r = e2e_ledger_json(&env, 0, (const char *const[]){"deposit", account, "1", NULL});
    e2e_assert_accepted(r, e2e_str(r, "command_id"), "MoneyDeposited", account, 4);
    json_decref(r);
    r = e2e_ledger_json(&env, 0, (const char *const[]){"history", account, NULL});
    cr_assert_str_eq(e2e_str(r, "balance"), "16.00");
    cr_assert_eq(e2e_int(r, "version"), 4);
    json_decref(r);
    char *log = e2e_file_text(env.ph.log_path, from);
    cr_assert(strstr(log, "waiting for an open transaction") != NULL,
              "the restore did not wait for the open transaction; log: %s", env.ph.log_path);
    free(log);
    rd_kafka_destroy(zombie);
}
