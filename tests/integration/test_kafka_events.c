/*
 * test_kafka_events.c - real ledger events through the real broker: every
 * event type, Avro-encoded by the codec (single-object encoding), keyed by
 * account, produced with murmur2_random to a fresh 6-partition topic,
 * consumed back and decoded. Each must come back byte-identical, on its
 * account's partition (ledger_partition_for_key, the Java placement), in
 * per-account order, and decode to the event that was sent, field by field.
 *
 * Built only when the ledger_codec library exists (integration.cmake).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "codec.h"
#include "event.h"
#include "ids.h"
#include "kafka.h"
#include "kafka_test.h"

#define PARTITIONS  6
#define TIMEOUT_MS  60000
#define ACCOUNTS    8
#define PER_ACCOUNT 7 /* one of each event type */
#define EVENT_COUNT (ACCOUNTS * PER_ACCOUNT)

typedef struct sent {
    ledger_event event;
    uint8_t bytes[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    int32_t expected;
    int32_t delivered;
    int64_t offset;
    rd_kafka_resp_err_t dr_err;
    int received;
} sent;

static void random_uuid(char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    cr_assert_eq(getrandom(bytes, sizeof(bytes), 0), (ssize_t)sizeof(bytes));
    ledger_uuid_format(bytes, out);
}

/* Account i's seven events, seq 1..7, each type once, every field of its
 * type set (see the table in event.h). */
static void build_events(sent *s) {
    static const ledger_event_type types[PER_ACCOUNT] = {
        LEDGER_EVENT_ACCOUNT_OPENED, LEDGER_EVENT_MONEY_DEPOSITED,   LEDGER_EVENT_MONEY_WITHDRAWN,
        LEDGER_EVENT_TRANSFER_SENT,  LEDGER_EVENT_TRANSFER_RECEIVED, LEDGER_EVENT_TRANSFER_RETURNED,
        LEDGER_EVENT_ACCOUNT_CLOSED};
    size_t n = 0;
    for (int a = 0; a < ACCOUNTS; a++) {
        char account[32], other[32];
        snprintf(account, sizeof(account), "acct-%d.x_Y", a);
        snprintf(other, sizeof(other), "acct-%d.x_Y", (a + 1) % ACCOUNTS);
        for (int k = 0; k < PER_ACCOUNT; k++, n++) {
            ledger_event *e = &s[n].event;
            ledger_event_init(e);
            random_uuid(e->event_id);
            snprintf(e->account, sizeof(e->account), "%s", account);
            e->seq = k + 1;
            e->at_ms = INT64_C(1795687200000) + a * 1000 + k; /* 2026-11-26T10:00:00Z + */
            snprintf(e->command_id, sizeof(e->command_id), "cmd %d/%d ~!", a, k);
            e->type = types[k];
            switch (e->type) {
                case LEDGER_EVENT_ACCOUNT_OPENED:
                    e->amount = 5000;
                    break;
                case LEDGER_EVENT_MONEY_DEPOSITED:
                    e->amount = INT64_C(100000000000);
                    snprintf(e->memo, sizeof(e->memo), "salary n\xc2\xb0%d", a);
                    break;
                case LEDGER_EVENT_MONEY_WITHDRAWN:
                    e->amount = 1;
                    break;
                case LEDGER_EVENT_TRANSFER_SENT:
                case LEDGER_EVENT_TRANSFER_RECEIVED:
                case LEDGER_EVENT_TRANSFER_RETURNED:
                    e->amount = 1250 + a;
                    snprintf(e->counterparty, sizeof(e->counterparty), "%s", other);
                    random_uuid(e->transfer_id);
                    if (e->type == LEDGER_EVENT_TRANSFER_RETURNED)
                        e->reason = LEDGER_ACCOUNT_CLOSED;
                    break;
                default:
                    break;
            }
            s[n].expected = ledger_partition_for_key(account, strlen(account), PARTITIONS);
            s[n].delivered = -1;
            s[n].offset = -1;
        }
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    sent *s = msg->_private;
    s->dr_err = msg->err;
    s->delivered = msg->partition;
    s->offset = msg->offset;
}

static void assert_same_event(const ledger_event *got, const ledger_event *want) {
    cr_assert_str_eq(got->event_id, want->event_id);
    cr_assert_str_eq(got->account, want->account, "%s", want->event_id);
    cr_assert_eq(got->seq, want->seq, "%s", want->event_id);
    cr_assert_eq(got->at_ms, want->at_ms, "%s", want->event_id);
    cr_assert_str_eq(got->command_id, want->command_id, "%s", want->event_id);
    cr_assert_eq(got->type, want->type, "%s", want->event_id);
    cr_assert_eq(got->amount, want->amount, "%s", want->event_id);
    cr_assert_str_eq(got->counterparty, want->counterparty, "%s", want->event_id);
    cr_assert_str_eq(got->transfer_id, want->transfer_id, "%s", want->event_id);
    cr_assert_eq(got->reason, want->reason, "%s", want->event_id);
    cr_assert_str_eq(got->memo, want->memo, "%s", want->event_id);
}

Test(kafka_events, avro_events_round_trip_on_their_accounts_partition) {
    char errstr[512];
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(codec, "%s", errstr);

    char topic[128];
    kt_unique_name(topic, sizeof(topic), "ledger-test-events");
    kt_create_topic(topic, PARTITIONS, RD_KAFKA_RESP_ERR_NO_ERROR);

    static sent events[EVENT_COUNT];
    build_events(events);
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        cr_assert_eq(ledger_codec_encode_event(codec, &events[i].event, events[i].bytes,
                                               sizeof(events[i].bytes), &events[i].len, errstr,
                                               sizeof(errstr)),
                     0, "encode %zu: %s", i, errstr);
    }

    /* Produce, keyed by account. */
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_t *producer = kt_client(RD_KAFKA_PRODUCER, conf);
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        const char *account = events[i].event.account;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(account, strlen(account)),
            RD_KAFKA_V_VALUE(events[i].bytes, events[i].len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&events[i]),
            RD_KAFKA_V_END);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
    }
    cr_assert_eq(rd_kafka_flush(producer, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        cr_assert_eq(events[i].dr_err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                     rd_kafka_err2str(events[i].dr_err));
        cr_assert_eq(events[i].delivered, events[i].expected, "'%s' on %d, expected %d",
                     events[i].event.account, events[i].delivered, events[i].expected);
    }

    /* Consume everything back from the beginning. */
    char group[160];
    snprintf(group, sizeof(group), "%s-reader", topic);
    conf = ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_t *consumer = kt_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    int64_t last_seq[ACCOUNTS] = {0};
    size_t received = 0;
    int64_t deadline = kt_now_ms() + TIMEOUT_MS;
    while (received < EVENT_COUNT && kt_now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 500);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_message_errstr(msg));
        ledger_event got;
        cr_assert_eq(
            ledger_codec_decode_event(codec, msg->payload, msg->len, &got, errstr, sizeof(errstr)),
            0, "decode at %d:%lld: %s", msg->partition, (long long)msg->offset, errstr);
        sent *s = NULL;
        for (size_t i = 0; i < EVENT_COUNT && s == NULL; i++) {
            if (strcmp(events[i].event.event_id, got.event_id) == 0)
                s = &events[i];
        }
        cr_assert_not_null(s, "unknown event '%s' came back", got.event_id);
        cr_assert_not(s->received, "event '%s' came back twice", got.event_id);
        cr_assert_eq(msg->len, s->len);
        cr_assert_eq(memcmp(msg->payload, s->bytes, s->len), 0, "event '%s': bytes differ",
                     got.event_id);
        cr_assert_eq(msg->key_len, strlen(s->event.account));
        cr_assert_eq(memcmp(msg->key, s->event.account, msg->key_len), 0);
        cr_assert_eq(msg->partition, s->expected);
        assert_same_event(&got, &s->event);
        int a = (int)((s - events) / PER_ACCOUNT);
        cr_assert_eq(got.seq, last_seq[a] + 1, "account %s: seq %lld after %lld", got.account,
                     (long long)got.seq, (long long)last_seq[a]);
        last_seq[a] = got.seq;
        s->received = 1;
        received++;
        rd_kafka_message_destroy(msg);
    }
    cr_assert_eq(received, EVENT_COUNT, "only %zu of %d events came back", received, EVENT_COUNT);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);

    const char *names[] = {topic};
    kt_delete_topics(names, 1);
    ledger_codec_destroy(codec);
}
