/*
 * test_cli_command.c - `ledger open|deposit|withdraw|transfer|close`
 * against the real broker, with the test playing the producer service:
 *   - with no service running, the CLI exits 3 after --timeout, and the
 *     command it sent is on the commands topic, keyed and placed by its
 *     account, decoding to exactly what was asked;
 *   - with a fake service, the CLI prints the result the service wrote
 *     (accepted: exit 0, rejected: exit 1), and picks its own among other
 *     results on the same partition, written before and after it, and an
 *     older result of the same id written before the command was sent.
 * Expected output is built from the results the test wrote and the JSON
 * contract, never from the CLI's own output.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "ids.h"
#include "kafka_test.h"
#include "ltime.h"
#include "money.h"
#include "test_cli_fixture.h"

static tcf_topics topics;

static void setup(void) {
    tcf_topics_create(&topics);
}

static void teardown(void) {
    tcf_topics_delete(&topics);
}

static int64_t parse_time(const char *text) {
    int64_t ms = 0;
    cr_assert_eq(ltime_parse(text, strlen(text), &ms, NULL), 0, "%s", text);
    return ms;
}

static void unique_id(char *buf, size_t size, const char *what) {
    snprintf(buf, size, "%s-%08x", what, kt_random_u32());
}

/* The one JSON line of stdout, parsed. */
static json_t *one_line(const char *out) {
    const char *nl = strchr(out, '\n');
    cr_assert_not_null(nl, "no line on stdout: '%s'", out);
    cr_assert_eq(nl[1], '\0', "more than one line on stdout: '%s'", out);
    json_error_t error;
    json_t *obj = json_loadb(out, (size_t)(nl - out), 0, &error);
    cr_assert_not_null(obj, "not JSON: '%s' (%s)", out, error.text);
    cr_assert(json_is_object(obj));
    return obj;
}

static const char *str_of(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "'%s' is not a string", key);
    return json_string_value(v);
}

static void money_text(int64_t cents, char buf[MONEY_TEXT_BUF]) {
    money_format(cents, buf, MONEY_TEXT_BUF);
}

/* Checks an EVENT object of the contract against the event written. */
static void assert_event_json(const json_t *got, const ledger_event *want) {
    char text[64];
    cr_assert_str_eq(str_of(got, "event_id"), want->event_id);
    cr_assert_str_eq(str_of(got, "type"), ledger_event_type_name(want->type));
    cr_assert_str_eq(str_of(got, "account"), want->account);
    cr_assert_eq(json_integer_value(json_object_get(got, "seq")), want->seq);
    ltime_format(want->at_ms, text, sizeof(text));
    cr_assert_str_eq(str_of(got, "at"), text);
    cr_assert_str_eq(str_of(got, "command_id"), want->command_id);
    money_text(want->amount, text);
    if (want->type == LEDGER_EVENT_ACCOUNT_OPENED) {
        cr_assert_str_eq(str_of(got, "overdraft"), text);
        cr_assert_null(json_object_get(got, "amount"));
    } else if (want->type != LEDGER_EVENT_ACCOUNT_CLOSED) {
        cr_assert_str_eq(str_of(got, "amount"), text);
    }
    if (want->type == LEDGER_EVENT_TRANSFER_SENT) {
        cr_assert_str_eq(str_of(got, "to"), want->counterparty);
        cr_assert_str_eq(str_of(got, "transfer_id"), want->transfer_id);
    }
    if (want->type == LEDGER_EVENT_MONEY_DEPOSITED && want->memo[0] == '\0')
        cr_assert_null(json_object_get(got, "memo"), "an empty memo is left out");
}

/* ---- no producer service ---- */

Test(cli_command, with_no_producer_it_times_out_and_the_command_is_on_the_topic, .init = setup,
     .fini = teardown, .timeout = 60) {
    char id[64];
    unique_id(id, sizeof(id), "dep");
    const char *at = "2026-11-26T10:00:00.250Z";
    const char *argv[] = {"deposit", "acct-1", "12.5",      "--id", id,
                          "--at",    at,       "--timeout", "2",    NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    cr_assert_eq(res.exit_code, 3, "exit %d: %s", res.exit_code, res.err);
    cr_assert_str_eq(res.out, "");
    cr_assert(strstr(res.err, "timeout") != NULL && strstr(res.err, id) != NULL &&
                  strstr(res.err, "2 s") != NULL,
              "stderr does not name the timeout: %s", res.err);
    cr_assert_geq(res.elapsed_ms, 2000, "gave up after %lld ms", (long long)res.elapsed_ms);
    cr_assert_lt(res.elapsed_ms, 10000, "took %lld ms", (long long)res.elapsed_ms);
    tcf_run_free(&res);

    /* A transfer without --id or --at: a new UUID, keyed by FROM. */
    const char *transfer[] = {"transfer", "acct-2", "acct-1", "0.07", "--timeout", "3", NULL};
    tcf_run(&res, transfer, topics.env, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    tcf_run_free(&res);

    static tcf_record records[8];
    size_t n = tcf_read_topic(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS], records, 8);
    cr_assert_eq(n, 2, "%zu records on the commands topic", n);
    char errstr[256];
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(codec, "%s", errstr);
    for (size_t i = 0; i < n; i++) {
        ledger_command c;
        cr_assert_eq(ledger_codec_decode_command(codec, records[i].value, records[i].value_len, &c,
                                                 errstr, sizeof(errstr)),
                     0, "%s", errstr);
        cr_assert_str_eq(records[i].key, c.account, "keyed by the (debited) account");
        cr_assert_eq(records[i].partition,
                     ledger_partition_for_key(c.account, strlen(c.account), TCF_PARTITIONS));
        if (c.type == LEDGER_COMMAND_DEPOSIT) {
            cr_assert_str_eq(c.id, id);
            cr_assert_str_eq(c.account, "acct-1");
            cr_assert_eq(c.amount, 1250);
            cr_assert(c.has_at);
            cr_assert_eq(c.at_ms, parse_time(at));
        } else {
            cr_assert_eq(c.type, LEDGER_COMMAND_TRANSFER);
            cr_assert(ledger_uuid_valid(c.id, strlen(c.id)), "'%s' is no UUID", c.id);
            cr_assert_eq(c.id[14], '4', "'%s' is no version 4 UUID", c.id);
            cr_assert_str_eq(c.account, "acct-2");
            cr_assert_str_eq(c.to, "acct-1");
            cr_assert_eq(c.amount, 7);
            cr_assert_not(c.has_at);
        }
    }
    ledger_codec_destroy(codec);
}

/* ---- a fake producer service ---- */

static ledger_event answer_event;

/* Accepts with answer_event, filled in from the command. */
static void accept_deposit(const ledger_command *c, size_t index, ledger_result *r) {
    (void)index;
    ledger_event e;
    ledger_event_init(&e);
    tcf_uuid(e.event_id);
    ledger_id_copy(e.account, sizeof(e.account), c->account);
    e.seq = 2;
    e.at_ms = c->has_at ? c->at_ms : parse_time("2026-11-26T10:00:00Z");
    ledger_id_copy(e.command_id, sizeof(e.command_id), c->id);
    e.type = LEDGER_EVENT_MONEY_DEPOSITED;
    e.amount = c->amount;
    answer_event = e;
    tcf_accept(r, &e, 3, 17);
}

Test(cli_command, deposit_prints_its_accepted_result_among_others_and_exits_0, .init = setup,
     .fini = teardown, .timeout = 60) {
    char id[64];
    unique_id(id, sizeof(id), "dep");
    int32_t partition = ledger_partition_for_key(id, strlen(id), TCF_PARTITIONS);

    /* Already there before the command: someone else's result, and an old
     * result with this very id. Neither may be taken for the answer. */
    char errstr[256];
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(codec, "%s", errstr);
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len = 0;
    ledger_result old;
    ledger_result_init(&old);
    tcf_id_on_partition(old.command_id, sizeof(old.command_id), partition, id);
    old.reason = LEDGER_NO_SUCH_ACCOUNT;
    cr_assert_eq(
        ledger_codec_encode_result(codec, &old, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0);
    tcf_produce(topics.names[LEDGER_KAFKA_TOPIC_COMMAND_RESULTS], partition, old.command_id, buf,
                len);
    ledger_id_copy(old.command_id, sizeof(old.command_id), id);
    old.reason = LEDGER_ACCOUNT_CLOSED;
    cr_assert_eq(
        ledger_codec_encode_result(codec, &old, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0);
    tcf_produce(topics.names[LEDGER_KAFKA_TOPIC_COMMAND_RESULTS], partition, id, buf, len);
    ledger_codec_destroy(codec);

    tcf_responder r = {.topics = &topics,
                       .order = TCF_IN_ORDER,
                       .expect = 1,
                       .skip_index = -1,
                       .noise = true,
                       .answer = accept_deposit};
    tcf_responder_start(&r);
    const char *argv[] = {"deposit", "A.b_c-1", "7.5", "--id", id, "--timeout", "15", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    tcf_responder_join(&r);
    cr_assert_eq(r.received, 1);
    cr_assert_eq(r.commands[0].amount, 750);
    cr_assert_eq(res.exit_code, 0, "exit %d: %s", res.exit_code, res.err);

    json_t *obj = one_line(res.out);
    cr_assert_str_eq(str_of(obj, "command_id"), id);
    cr_assert_str_eq(str_of(obj, "status"), "accepted");
    cr_assert_str_eq(str_of(obj, "position"), "3:17");
    cr_assert_null(json_object_get(obj, "duplicate"));
    cr_assert_null(json_object_get(obj, "reason"));
    cr_assert_null(json_object_get(obj, "transfer_id"));
    json_t *events = json_object_get(obj, "events");
    cr_assert(json_is_array(events) && json_array_size(events) == 1);
    assert_event_json(json_array_get(events, 0), &answer_event);
    json_decref(obj);
    tcf_run_free(&res);
}

static void reject_insufficient(const ledger_command *c, size_t index, ledger_result *r) {
    (void)c;
    (void)index;
    r->reason = LEDGER_INSUFFICIENT_FUNDS;
}

Test(cli_command, a_rejected_withdrawal_prints_the_reason_and_exits_1, .init = setup,
     .fini = teardown, .timeout = 60) {
    char id[64];
    unique_id(id, sizeof(id), "wd");
    tcf_responder r = {.topics = &topics,
                       .order = TCF_IN_ORDER,
                       .expect = 1,
                       .skip_index = -1,
                       .noise = true,
                       .answer = reject_insufficient};
    tcf_responder_start(&r);
    const char *argv[] = {"withdraw", "A", "1000000000", "--id", id, "--timeout", "15", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    tcf_responder_join(&r);
    cr_assert_eq(r.received, 1);
    cr_assert_eq(r.commands[0].type, LEDGER_COMMAND_WITHDRAW);
    cr_assert_eq(r.commands[0].amount, INT64_C(100000000000));
    cr_assert_eq(res.exit_code, 1, "exit %d: %s", res.exit_code, res.err);
    char want[256];
    snprintf(want, sizeof(want),
             "{\"command_id\":\"%s\",\"status\":\"rejected\",\"reason\":\"insufficient_funds\"}\n",
             id);
    cr_assert_str_eq(res.out, want);
    tcf_run_free(&res);
}

/* A duplicate of an accepted transfer: the original TransferSent. */
static void accept_transfer_duplicate(const ledger_command *c, size_t index, ledger_result *r) {
    (void)index;
    ledger_event e;
    ledger_event_init(&e);
    tcf_uuid(e.event_id);
    ledger_id_copy(e.account, sizeof(e.account), c->account);
    e.seq = 5;
    e.at_ms = parse_time("2026-11-27T08:30:00Z");
    ledger_id_copy(e.command_id, sizeof(e.command_id), c->id);
    e.type = LEDGER_EVENT_TRANSFER_SENT;
    e.amount = c->amount;
    ledger_id_copy(e.counterparty, sizeof(e.counterparty), c->to);
    tcf_uuid(e.transfer_id);
    answer_event = e;
    tcf_accept(r, &e, 5, 123456789);
    r->duplicate = true;
}

Test(cli_command, a_transfer_names_its_transfer_id_and_a_duplicate_says_so, .init = setup,
     .fini = teardown, .timeout = 60) {
    char id[64];
    unique_id(id, sizeof(id), "tr");
    tcf_responder r = {.topics = &topics,
                       .order = TCF_IN_ORDER,
                       .expect = 1,
                       .skip_index = -1,
                       .noise = false,
                       .answer = accept_transfer_duplicate};
    tcf_responder_start(&r);
    const char *argv[] = {"transfer", "FROM-1", "TO-2", "20", "--id", id, "--timeout", "15", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    tcf_responder_join(&r);
    cr_assert_eq(r.received, 1);
    cr_assert_str_eq(r.records[0].key, "FROM-1", "a transfer is keyed by the debited account");
    cr_assert_eq(res.exit_code, 0, "exit %d: %s", res.exit_code, res.err);
    json_t *obj = one_line(res.out);
    cr_assert_str_eq(str_of(obj, "command_id"), id);
    cr_assert_str_eq(str_of(obj, "status"), "accepted");
    cr_assert_str_eq(str_of(obj, "transfer_id"), answer_event.transfer_id);
    cr_assert_str_eq(str_of(obj, "position"), "5:123456789");
    cr_assert(json_is_true(json_object_get(obj, "duplicate")));
    assert_event_json(json_array_get(json_object_get(obj, "events"), 0), &answer_event);
    json_decref(obj);
    tcf_run_free(&res);
}

static void reject_exists_duplicate(const ledger_command *c, size_t index, ledger_result *r) {
    (void)c;
    (void)index;
    r->reason = LEDGER_ACCOUNT_EXISTS;
    r->duplicate = true;
}

Test(cli_command, open_sends_its_overdraft_and_a_rejected_duplicate_exits_1, .init = setup,
     .fini = teardown, .timeout = 60) {
    tcf_responder r = {.topics = &topics,
                       .order = TCF_IN_ORDER,
                       .expect = 1,
                       .skip_index = -1,
                       .noise = true,
                       .answer = reject_exists_duplicate};
    tcf_responder_start(&r);
    const char *argv[] = {"open",      "savings", "--overdraft",
                          "250.05",    "--at",    "2026-11-26T09:00:00Z",
                          "--timeout", "15",      NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    tcf_responder_join(&r);
    cr_assert_eq(r.received, 1);
    const ledger_command *c = &r.commands[0];
    cr_assert_eq(c->type, LEDGER_COMMAND_OPEN);
    cr_assert_eq(c->amount, 25005);
    cr_assert_eq(c->at_ms, parse_time("2026-11-26T09:00:00Z"));
    cr_assert_eq(res.exit_code, 1, "exit %d: %s", res.exit_code, res.err);
    char want[256];
    snprintf(want, sizeof(want),
             "{\"command_id\":\"%s\",\"status\":\"rejected\",\"reason\":\"account_exists\","
             "\"duplicate\":true}\n",
             c->id);
    cr_assert_str_eq(res.out, want);
    tcf_run_free(&res);
}

Test(cli_command, an_unreachable_broker_exits_3_naming_it, .timeout = 30) {
    const char *env[] = {"LEDGER_BROKERS=127.0.0.1:1", NULL};
    const char *argv[] = {"close", "A", "--timeout", "1", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, env, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    /* One line: librdkafka's connection retries are debug lines in the CLI. */
    cr_assert(strncmp(res.err, "ledger: kafka unreachable at '127.0.0.1:1'", 42) == 0, "%s",
              res.err);
    cr_assert(strchr(res.err, '\n') == res.err + strlen(res.err) - 1, "%s", res.err);
    tcf_run_free(&res);
}
