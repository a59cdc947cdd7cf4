/*
 * cmd_demo.c - `ledger demo`: the foundation's pieces working together on a
 * real broker, with nothing canned.
 *
 * A scripted scenario of commands (with fresh account names each run) is
 * decided by the pure core against in-memory account states, including a
 * completed transfer, a returned one and several rejections. The resulting
 * events are Avro-encoded and appended to the real events topic with the
 * murmur2 partitioner; then they are read back from the broker, decoded,
 * compared with what was sent, checked to sit on the partition the Java
 * client would choose, and folded per account into balances.
 *
 * Output: one JSON object per line on stdout (decisions, events, balances);
 * exit 0 when every check held, 3 when Kafka failed, 1 when a check failed.
 */
#include "cmd_demo.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "account.h"
#include "cli.h"
#include "codec.h"
#include "decide.h"
#include "kafka.h"
#include "log.h"
#include "ltime.h"
#include "money.h"

#define DEMO_ACCOUNTS   4
#define DEMO_MAX_EVENTS 32

typedef struct demo_account {
    char name[LEDGER_ACCOUNT_BUF];
    account_state state;    /* as the decider sees it */
    account_state replayed; /* folded from what came back from Kafka */
    int32_t partition;
} demo_account;

typedef struct demo_sent {
    ledger_event event;
    uint8_t bytes[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int delivered;
} demo_sent;

typedef struct demo {
    const ledger_codec *codec;
    rd_kafka_t *producer;
    const char *events_topic;
    demo_account accounts[DEMO_ACCOUNTS];
    demo_sent sent[DEMO_MAX_EVENTS];
    size_t sent_count;
    int32_t partitions;
} demo;

static void print_json(json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(obj);
}

static void money_json(json_t *obj, const char *key, int64_t cents) {
    char buf[MONEY_TEXT_BUF];
    money_format(cents, buf, sizeof(buf));
    json_object_set_new(obj, key, json_string(buf));
}

static void new_uuid(char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
        memset(bytes, 0x5a, sizeof(bytes)); /* only for a demo's ids: never fails on Linux */
    ledger_uuid_format(bytes, out);
}

static demo_account *find_account(demo *d, const char *name) {
    for (size_t i = 0; i < DEMO_ACCOUNTS; i++)
        if (strcmp(d->accounts[i].name, name) == 0)
            return &d->accounts[i];
    return NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    demo_sent *s = msg->_private;
    s->err = msg->err;
    s->partition = msg->partition;
    s->offset = msg->offset;
    s->delivered = 1;
}

/* Encodes, appends and folds one decided event. Returns 0 or -1. */
static int demo_emit(demo *d, const ledger_event *event) {
    if (d->sent_count == DEMO_MAX_EVENTS)
        return -1;
    demo_sent *s = &d->sent[d->sent_count++];
    char errstr[256];
    s->event = *event;
    if (ledger_codec_encode_event(d->codec, event, s->bytes, sizeof(s->bytes), &s->len, errstr,
                                  sizeof(errstr)) != 0) {
        LOG_ERROR("cannot encode event: %s", errstr);
        return -1;
    }
    demo_account *a = find_account(d, event->account);
    if (a != NULL)
        account_apply(&a->state, event);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(d->producer, RD_KAFKA_V_TOPIC(d->events_topic),
                          RD_KAFKA_V_KEY(event->account, strlen(event->account)),
                          RD_KAFKA_V_VALUE(s->bytes, s->len), RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
    if (err) {
        LOG_ERROR("cannot produce to '%s': %s", d->events_topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

typedef struct demo_step {
    ledger_command_type type;
    int account, to; /* indexes into accounts, -1 for none */
    const char *amount;
    const char *at;
} demo_step;

/* alice has an overdraft; carol is never opened, so a transfer to her is
 * returned; the scenario crosses the October/November month boundary. */
static const demo_step steps[] = {
    {LEDGER_COMMAND_OPEN, 0, -1, "100", "2026-10-30T09:00:00Z"},
    {LEDGER_COMMAND_OPEN, 1, -1, "0", "2026-10-30T09:01:00Z"},
    {LEDGER_COMMAND_DEPOSIT, 0, -1, "250.00", "2026-10-30T10:00:00Z"},
    {LEDGER_COMMAND_WITHDRAW, 0, -1, "300", "2026-10-31T18:30:00Z"},
    {LEDGER_COMMAND_WITHDRAW, 0, -1, "100", "2026-10-31T18:31:00Z"},
    {LEDGER_COMMAND_DEPOSIT, 1, -1, "40.50", "2026-11-01T08:00:00Z"},
    {LEDGER_COMMAND_TRANSFER, 1, 0, "20", "2026-11-02T12:00:00Z"},
    {LEDGER_COMMAND_TRANSFER, 1, 2, "5.25", "2026-11-02T12:05:00Z"},
    {LEDGER_COMMAND_OPEN, 0, -1, "0", "2026-11-03T09:00:00Z"},
    {LEDGER_COMMAND_CLOSE, 1, -1, NULL, "2026-11-03T09:30:00Z"},
    {LEDGER_COMMAND_DEPOSIT, 3, -1, "5", "2026-11-03T10:00:00Z"},
    {LEDGER_COMMAND_WITHDRAW, 1, -1, "20.50", "2026-11-04T10:00:00Z"},
    {LEDGER_COMMAND_CLOSE, 1, -1, NULL, "2026-11-04T10:01:00Z"},
};

/* Decides every step with the core, emitting the events. Returns 0 or -1. */
static int demo_decide(demo *d) {
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const demo_step *st = &steps[i];
        ledger_command cmd;
        ledger_command_init(&cmd);
        snprintf(cmd.id, sizeof(cmd.id), "demo-%zu-%s", i + 1, d->accounts[0].name);
        cmd.type = st->type;
        ledger_id_copy(cmd.account, sizeof(cmd.account), d->accounts[st->account].name);
        if (st->to >= 0)
            ledger_id_copy(cmd.to, sizeof(cmd.to), d->accounts[st->to].name);
        const char *why = NULL;
        if (st->amount != NULL &&
            money_parse(st->amount, strlen(st->amount), st->type == LEDGER_COMMAND_OPEN,
                        &cmd.amount, &why) != 0)
            return -1;
        cmd.has_at = ltime_parse(st->at, strlen(st->at), &cmd.at_ms, &why) == 0;

        char event_id[LEDGER_UUID_BUF], transfer_id[LEDGER_UUID_BUF];
        new_uuid(event_id);
        new_uuid(transfer_id);
        ledger_decide_ids ids = {.event_id = event_id, .transfer_id = transfer_id, .now_ms = 0};
        ledger_event event;
        ledger_reason reason = ledger_decide(&d->accounts[st->account].state, &cmd, &ids, &event);

        json_t *line = json_object();
        json_object_set_new(line, "step", json_integer((json_int_t)i + 1));
        json_object_set_new(line, "command", json_string(ledger_command_type_name(cmd.type)));
        json_object_set_new(line, "account", json_string(cmd.account));
        if (st->to >= 0)
            json_object_set_new(line, "to", json_string(cmd.to));
        if (st->amount != NULL)
            money_json(line, st->type == LEDGER_COMMAND_OPEN ? "overdraft" : "amount", cmd.amount);
        json_object_set_new(line, "status",
                            json_string(reason == LEDGER_OK ? "accepted" : "rejected"));
        if (reason != LEDGER_OK) {
            json_object_set_new(line, "reason", json_string(ledger_reason_name(reason)));
            print_json(line);
            continue;
        }
        json_t *types = json_array();
        json_array_append_new(types, json_string(ledger_event_type_name(event.type)));
        if (demo_emit(d, &event) != 0) {
            json_decref(types);
            json_decref(line);
            return -1;
        }
        if (event.type == LEDGER_EVENT_TRANSFER_SENT) {
            /* The credit side on the recipient's stream, then, if refused,
             * the return on the sender's: three decisions, three streams. */
            demo_account *to = find_account(d, event.counterparty);
            account_state none;
            account_init(&none);
            ledger_event credit;
            new_uuid(event_id);
            ledger_reason credit_reason =
                ledger_decide_credit(to != NULL ? &to->state : &none, &event, event_id, &credit);
            if (credit_reason != LEDGER_OK) {
                new_uuid(event_id);
                ledger_decide_return(&d->accounts[st->account].state, &event, credit_reason,
                                     event_id, &credit);
            }
            json_array_append_new(types, json_string(ledger_event_type_name(credit.type)));
            if (demo_emit(d, &credit) != 0) {
                json_decref(types);
                json_decref(line);
                return -1;
            }
        }
        json_object_set_new(line, "events", types);
        print_json(line);
    }
    return 0;
}

/* Reads back every partition we wrote to, from the first offset we wrote,
 * and checks and folds each of our events. Returns the number of failed
 * checks, or -1 when Kafka failed. */
static int demo_read_back(demo *d, const char *brokers, const ledger_config *cfg, int timeout_ms) {
    char errstr[512];
    int failures = 0, ret = -1;
    rd_kafka_t *consumer = NULL;
    rd_kafka_topic_partition_list_t *assignment = NULL;
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_CONSUMER, cfg, errstr, sizeof(errstr));
    if (conf == NULL ||
        rd_kafka_conf_set(conf, "group.id", "ledger-demo", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr))) {
        LOG_ERROR("consumer configuration: %s", errstr);
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (consumer == NULL) {
        LOG_ERROR("cannot create consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(consumer);

    /* The first and last offset written per partition. */
    int64_t first[64], last[64];
    for (int p = 0; p < 64; p++)
        first[p] = last[p] = -1;
    for (size_t i = 0; i < d->sent_count; i++) {
        int32_t p = d->sent[i].partition;
        if (p < 0 || p >= 64)
            goto cleanup;
        if (first[p] < 0 || d->sent[i].offset < first[p])
            first[p] = d->sent[i].offset;
        if (d->sent[i].offset > last[p])
            last[p] = d->sent[i].offset;
    }
    assignment = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < 64; p++)
        if (first[p] >= 0)
            rd_kafka_topic_partition_list_add(assignment, d->events_topic, p)->offset = first[p];
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer, assignment);
    if (err) {
        LOG_ERROR("cannot assign '%s': %s", d->events_topic, rd_kafka_err2str(err));
        goto cleanup;
    }

    size_t matched = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (matched < d->sent_count) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
            timeout_ms) {
            LOG_ERROR("only %zu of %zu events came back within %d ms", matched, d->sent_count,
                      timeout_ms);
            goto cleanup;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 200);
        if (msg == NULL)
            continue;
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LOG_WARN("consume '%s': %s", d->events_topic, rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        demo_sent *s = NULL;
        for (size_t i = 0; i < d->sent_count; i++)
            if (d->sent[i].partition == msg->partition && d->sent[i].offset == msg->offset)
                s = &d->sent[i];
        if (s != NULL) {
            ledger_event back;
            int identical = msg->len == s->len && memcmp(msg->payload, s->bytes, s->len) == 0;
            int decoded = ledger_codec_decode_event(d->codec, msg->payload, msg->len, &back, errstr,
                                                    sizeof(errstr)) == 0;
            /* Field by field, through the codec: re-encoding what came back
             * must give the bytes that were sent. */
            uint8_t again[LEDGER_CODEC_EVENT_MAX];
            size_t again_len = 0;
            int same = decoded &&
                       ledger_codec_encode_event(d->codec, &back, again, sizeof(again), &again_len,
                                                 errstr, sizeof(errstr)) == 0 &&
                       again_len == s->len && memcmp(again, s->bytes, s->len) == 0 &&
                       back.seq == s->event.seq && strcmp(back.account, s->event.account) == 0;
            int32_t expected =
                ledger_partition_for_key(back.account, strlen(back.account), d->partitions);
            if (!identical || !same || expected != msg->partition) {
                LOG_ERROR("event at %d:%lld differs from what was sent (bytes %s, fields %s, "
                          "partition %d expected %d)",
                          msg->partition, (long long)msg->offset, identical ? "ok" : "differ",
                          same ? "ok" : "differ", msg->partition, expected);
                failures++;
            }
            demo_account *a = decoded ? find_account(d, back.account) : NULL;
            if (a != NULL && account_apply(&a->replayed, &back) != ACCOUNT_APPLIED) {
                LOG_ERROR("event %s of '%s' does not follow seq %lld", back.event_id, back.account,
                          (long long)a->replayed.seq);
                failures++;
            }
            if (a != NULL)
                a->partition = msg->partition;
            matched++;
        }
        rd_kafka_message_destroy(msg);
    }
    ret = failures;

cleanup:
    if (assignment != NULL)
        rd_kafka_topic_partition_list_destroy(assignment);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return ret;
}

static const ledger_config_setting demo_settings[] = {
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 600000,
     .metavar = "SECONDS",
     .help = "how long to wait for Kafka"},
    LEDGER_CONFIG_END,
};

int cmd_demo(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, demo_settings, NULL};
    int exit_code = CLI_EXIT_OK;
    char errstr[512];
    ledger_codec *codec = NULL;
    demo d;
    memset(&d, 0, sizeof(d));
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_config *cfg = ledger_config_new("ledger demo", tables);
    if (cfg == NULL)
        return CLI_EXIT_INFRA;
    if (!cli_load(cfg, argc - 1, argv + 1, "ledger demo [options]",
                  "Decides a scripted scenario with the pure core, appends the events to the "
                  "real events topic, reads them back and folds them into balances.",
                  &exit_code))
        goto cleanup;
    const char *brokers = ledger_config_str(cfg, "brokers");
    int timeout_ms = (int)ledger_config_duration_ms(cfg, "timeout");
    if (ledger_kafka_topic_name(ledger_config_str(cfg, "topic_prefix"), LEDGER_KAFKA_TOPIC_EVENTS,
                                topic, sizeof(topic)) != 0) {
        fprintf(stderr, "ledger: invalid topic prefix: the topic name is too long\n");
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }
    exit_code = CLI_EXIT_INFRA;
    codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    d.codec = codec;
    d.events_topic = topic;

    /* Fresh names each run: the log is kept forever, so yesterday's alice
     * still exists there. */
    unsigned char r[3] = {0};
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        goto cleanup;
    const char *names[DEMO_ACCOUNTS] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < DEMO_ACCOUNTS; i++) {
        snprintf(d.accounts[i].name, sizeof(d.accounts[i].name), "%s-%02x%02x%02x", names[i], r[0],
                 r[1], r[2]);
        account_init(&d.accounts[i].state);
        account_init(&d.accounts[i].replayed);
        d.accounts[i].partition = -1;
    }

    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_PRODUCER, cfg, errstr, sizeof(errstr));
    if (conf == NULL ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr))) {
        fprintf(stderr, "ledger: %s\n", errstr);
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        goto cleanup;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    d.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (d.producer == NULL) {
        fprintf(stderr, "ledger: cannot create producer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto cleanup;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(d.producer, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(d.producer, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "ledger: cannot read metadata of '%s' from '%s': %s\n", topic, brokers,
                rd_kafka_err2str(err             ? err
                                 : md->topic_cnt ? md->topics[0].err
                                                 : err));
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        goto cleanup;
    }
    d.partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);

    if (demo_decide(&d) != 0) {
        fprintf(stderr, "ledger: the demonstration could not append its events\n");
        goto cleanup;
    }
    if (rd_kafka_flush(d.producer, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "ledger: events not acknowledged by '%s' within %d ms\n", brokers,
                timeout_ms);
        goto cleanup;
    }
    for (size_t i = 0; i < d.sent_count; i++) {
        const demo_sent *s = &d.sent[i];
        if (!s->delivered || s->err) {
            fprintf(stderr, "ledger: event %zu not delivered: %s\n", i, rd_kafka_err2str(s->err));
            goto cleanup;
        }
        json_t *line = json_object();
        json_object_set_new(line, "appended", json_string(ledger_event_type_name(s->event.type)));
        json_object_set_new(line, "account", json_string(s->event.account));
        json_object_set_new(line, "seq", json_integer(s->event.seq));
        char pos[48];
        snprintf(pos, sizeof(pos), "%d:%lld", s->partition, (long long)s->offset);
        json_object_set_new(line, "position", json_string(pos));
        json_object_set_new(line, "bytes", json_integer((json_int_t)s->len));
        print_json(line);
    }

    int failures = demo_read_back(&d, brokers, cfg, timeout_ms);
    if (failures < 0)
        goto cleanup;
    for (int i = 0; i < DEMO_ACCOUNTS; i++) {
        const demo_account *a = &d.accounts[i];
        json_t *line = json_object();
        json_object_set_new(line, "account", json_string(a->name));
        if (a->replayed.status == ACCOUNT_NONE) {
            json_object_set_new(line, "error", json_string("not_found"));
        } else {
            money_json(line, "balance", a->replayed.balance);
            json_object_set_new(line, "version", json_integer(a->replayed.seq));
            json_object_set_new(
                line, "status",
                json_string(a->replayed.status == ACCOUNT_OPEN ? "open" : "closed"));
            json_object_set_new(line, "partition", json_integer(a->partition));
        }
        if (a->replayed.status != a->state.status || a->replayed.balance != a->state.balance ||
            a->replayed.overdraft != a->state.overdraft || a->replayed.seq != a->state.seq) {
            LOG_ERROR("'%s' folded from the log differs from the decider's state", a->name);
            failures++;
        }
        print_json(line);
    }
    exit_code = failures == 0 ? CLI_EXIT_OK : CLI_EXIT_REJECTED;

cleanup:
    if (d.producer != NULL)
        rd_kafka_destroy(d.producer);
    ledger_codec_destroy(codec);
    ledger_config_destroy(cfg);
    return exit_code;
}
