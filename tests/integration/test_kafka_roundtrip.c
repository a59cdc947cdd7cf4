/*
 * test_kafka_roundtrip.c - against the real broker in LEDGER_TEST_BROKERS:
 * topic creation through the Admin API (idempotent, with the ledger's topic
 * settings), the metadata ping, and a produce/consume round trip in which
 * every record comes back byte-identical on the partition the Java client's
 * murmur2 partitioner picks.
 *
 * Each test creates its own topics (name with the pid and a random suffix)
 * and deletes them at the end, so tests can run in parallel and again.
 *
 * Expected partitions come from two places: keys whose Java murmur2 value
 * is published (apache/kafka UtilsTest.testMurmur2; librdkafka
 * tests/0048-partitioner.c, values from the Java client), reduced here as
 * the Java partitioner does, toPositive(h) % 6; and account-like keys for
 * which ledger_partition_for_key is checked against where librdkafka's own
 * murmur2_random put them.
 *
 * The values here are fixed binary byte strings; test_kafka_events.c sends
 * real Avro-encoded events the same way and compares them decoded, field by
 * field (it is built once the ledger_codec library exists).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "kafka.h"
#include "kafka_test.h"

#define PARTITIONS 6
#define TIMEOUT_MS 60000

/* ---- ping ---- */

Test(kafka_ping, answers_for_the_test_broker_and_fails_for_a_closed_port) {
    char errstr[1024];
    cr_assert_eq(ledger_kafka_ping(kt_brokers(), 10000, errstr, sizeof(errstr)), 0, "%s", errstr);
    cr_assert_eq(ledger_kafka_ping("127.0.0.1:1", 500, errstr, sizeof(errstr)), -1);
    cr_assert(strstr(errstr, "no answer from '127.0.0.1:1' within 500 ms") != NULL, "%s", errstr);
}

/* ---- topic creation ---- */

Test(kafka_topics, creating_an_existing_topic_is_success) {
    char name[128];
    kt_unique_name(name, sizeof(name), "ledger-test-idem");
    kt_create_topic(name, PARTITIONS, RD_KAFKA_RESP_ERR_NO_ERROR);
    kt_create_topic(name, PARTITIONS, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    const char *names[] = {name};
    kt_delete_topics(names, 1);
}

/* The value of config `key` of topic `name`, as the broker describes it. */
static void describe_config(rd_kafka_t *rk, const char *name, const char *key, char *out,
                            size_t size) {
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "DescribeConfigs '%s': no answer", name);
    cr_assert_eq(rd_kafka_event_error(ev), 0, "DescribeConfigs '%s': %s", name,
                 rd_kafka_event_error_string(ev));
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    cr_assert_eq(nres, 1);
    size_t nentries = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(rs[0], &nentries);
    out[0] = '\0';
    int found = 0;
    for (size_t i = 0; i < nentries; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), key) == 0) {
            const char *v = rd_kafka_ConfigEntry_value(entries[i]);
            snprintf(out, size, "%s", v != NULL ? v : "");
            found = 1;
        }
    }
    cr_assert(found, "topic '%s' has no config '%s'", name, key);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
}

Test(kafka_topics, ledger_topics_get_their_settings) {
    char prefix[128];
    kt_unique_name(prefix, sizeof(prefix), "ledger-test-specs");
    strcat(prefix, ".");
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[512];
    cr_assert_eq(
        ledger_kafka_ledger_topic_specs(prefix, PARTITIONS, 1, specs, errstr, sizeof(errstr)), 0);
    cr_assert_eq(ledger_kafka_create_topics(kt_brokers(), NULL, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                            30000, outcomes, errstr, sizeof(errstr)),
                 0, "%s", errstr);
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        cr_assert_eq(outcomes[t].err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s: %s", specs[t].name,
                     outcomes[t].errstr);
        cr_assert_eq(outcomes[t].partitions, PARTITIONS);
    }

    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_ADMIN, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    rd_kafka_t *rk = kt_client(RD_KAFKA_PRODUCER, conf);
    char value[64];
    describe_config(rk, specs[LEDGER_KAFKA_TOPIC_EVENTS].name, "retention.ms", value,
                    sizeof(value));
    cr_assert_str_eq(value, "-1");
    describe_config(rk, specs[LEDGER_KAFKA_TOPIC_EVENTS].name, "retention.bytes", value,
                    sizeof(value));
    cr_assert_str_eq(value, "-1");
    describe_config(rk, specs[LEDGER_KAFKA_TOPIC_EVENTS].name, "cleanup.policy", value,
                    sizeof(value));
    cr_assert_str_eq(value, "delete");
    describe_config(rk, specs[LEDGER_KAFKA_TOPIC_SNAPSHOTS].name, "cleanup.policy", value,
                    sizeof(value));
    cr_assert_str_eq(value, "compact");
    describe_config(rk, specs[LEDGER_KAFKA_TOPIC_EVENTS_DLQ].name, "retention.ms", value,
                    sizeof(value));
    cr_assert_str_eq(value, "-1");
    rd_kafka_destroy(rk);

    /* A second run finds them all and changes nothing. */
    cr_assert_eq(ledger_kafka_create_topics(kt_brokers(), NULL, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                            30000, outcomes, errstr, sizeof(errstr)),
                 0, "%s", errstr);
    const char *names[LEDGER_KAFKA_TOPIC_COUNT];
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        cr_assert_eq(outcomes[t].err, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "%s", specs[t].name);
        names[t] = specs[t].name;
    }
    kt_delete_topics(names, LEDGER_KAFKA_TOPIC_COUNT);
}

Test(kafka_topics, unreachable_broker_is_a_local_error) {
    ledger_kafka_topic_spec spec;
    ledger_kafka_topic_outcome outcome;
    char errstr[512];
    cr_assert_eq(ledger_kafka_topic_spec_init(&spec, "never-created", PARTITIONS, 1), 0);
    cr_assert_eq(ledger_kafka_create_topics("127.0.0.1:1", NULL, &spec, 1, 1000, &outcome, errstr,
                                            sizeof(errstr)),
                 -1);
    cr_assert(ledger_kafka_err_is_unreachable(outcome.err), "%s", rd_kafka_err2name(outcome.err));
    cr_assert(strstr(errstr, "'127.0.0.1:1'") != NULL, "%s", errstr);
}

/* ---- the round trip ---- */

typedef struct record {
    char key[64];
    size_t key_len;
    unsigned char value[512];
    size_t value_len;
    int32_t expected;  /* the Java partitioner's choice */
    int32_t delivered; /* from the delivery report, -1 until then */
    rd_kafka_resp_err_t dr_err;
    int64_t offset;
    int received;
} record;

/* Kafka UtilsTest.testMurmur2 keys with their Java murmur2 values. */
static const struct {
    const char *key;
    int32_t java;
} kafka_vectors[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

/* librdkafka 0048-partitioner keys with toPositive(Java murmur2). */
static const struct {
    const char *key;
    uint32_t positive;
} librdkafka_vectors[] = {
    {"", 0x106e08d9},
    {"23456", 0x058d780f},
    {"this is another string with more length to it perhaps", 0x4f7703da},
    {"hejsan", 0x5ec19395},
};

#define ACCOUNT_KEYS 40
#define RECORD_COUNT                                                                               \
    (sizeof(kafka_vectors) / sizeof(kafka_vectors[0]) +                                            \
     sizeof(librdkafka_vectors) / sizeof(librdkafka_vectors[0]) + ACCOUNT_KEYS)

static void set_key(record *r, const char *key) {
    r->key_len = strlen(key);
    memcpy(r->key, key, r->key_len);
}

/* A value no text path would keep intact: NUL bytes, high bytes, the
 * record's index, then random bytes of a random length. */
static void set_value(record *r, size_t index) {
    static const unsigned char head[] = {0x00, 0xff, 0x00, 0x80, 0x0a, 0x00};
    memcpy(r->value, head, sizeof(head));
    r->value[sizeof(head)] = (unsigned char)index;
    size_t extra = kt_random_u32() % (sizeof(r->value) - sizeof(head) - 1);
    cr_assert_eq(getrandom(r->value + sizeof(head) + 1, extra, 0), (ssize_t)extra);
    r->value_len = sizeof(head) + 1 + extra;
}

static void build_records(record *records) {
    size_t n = 0;
    for (size_t i = 0; i < sizeof(kafka_vectors) / sizeof(kafka_vectors[0]); i++, n++) {
        set_key(&records[n], kafka_vectors[i].key);
        /* Java: Utils.toPositive(murmur2(key)) % numPartitions. */
        records[n].expected =
            (int32_t)(((uint32_t)kafka_vectors[i].java & 0x7fffffffu) % (uint32_t)PARTITIONS);
    }
    for (size_t i = 0; i < sizeof(librdkafka_vectors) / sizeof(librdkafka_vectors[0]); i++, n++) {
        set_key(&records[n], librdkafka_vectors[i].key);
        records[n].expected = (int32_t)(librdkafka_vectors[i].positive % (uint32_t)PARTITIONS);
    }
    for (int i = 0; i < ACCOUNT_KEYS; i++, n++) {
        char key[32];
        snprintf(key, sizeof(key), "acct-%03d", i);
        set_key(&records[n], key);
        records[n].expected = ledger_partition_for_key(key, strlen(key), PARTITIONS);
    }
    for (size_t i = 0; i < n; i++) {
        set_value(&records[i], i);
        records[i].delivered = -1;
        records[i].offset = -1;
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    record *r = msg->_private;
    r->dr_err = msg->err;
    r->delivered = msg->partition;
    r->offset = msg->offset;
}

static void produce_all(const char *topic, record *records, size_t n) {
    const char *const settings[][2] = {{"enable.idempotence", "true"}};
    rd_kafka_conf_t *conf = kt_conf(LEDGER_KAFKA_PRODUCER, settings, 1);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_t *rk = kt_client(RD_KAFKA_PRODUCER, conf);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(records[i].key, records[i].key_len),
            RD_KAFKA_V_VALUE(records[i].value, records[i].value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&records[i]),
            RD_KAFKA_V_END);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "producev: %s", rd_kafka_err2str(err));
    }
    cr_assert_eq(rd_kafka_flush(rk, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "flush: %d records not delivered", rd_kafka_outq_len(rk));
    rd_kafka_destroy(rk);
}

static record *find_record(record *records, size_t n, const void *key, size_t key_len) {
    for (size_t i = 0; i < n; i++) {
        if (records[i].key_len == key_len &&
            (key_len == 0 || memcmp(records[i].key, key, key_len) == 0))
            return &records[i];
    }
    return NULL;
}

static void consume_all(const char *topic, record *records, size_t n) {
    char errstr[512];
    char group[160];
    snprintf(group, sizeof(group), "%s-reader", topic);
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    size_t received = 0;
    int64_t last_offset[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        last_offset[p] = -1;
    int64_t deadline = kt_now_ms() + TIMEOUT_MS;
    while (received < n && kt_now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 500);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s",
                     rd_kafka_message_errstr(msg));
        record *r = find_record(records, n, msg->key, msg->key_len);
        cr_assert_not_null(r, "a record with an unknown key came back");
        cr_assert_not(r->received, "key '%.*s' came back twice", (int)r->key_len, r->key);
        cr_assert_eq(msg->partition, r->expected, "key '%.*s' on partition %d, Java says %d",
                     (int)r->key_len, r->key, msg->partition, r->expected);
        cr_assert_eq(msg->offset, r->offset, "key '%.*s' at another offset than reported",
                     (int)r->key_len, r->key);
        cr_assert_gt(msg->offset, last_offset[msg->partition], "partition %d out of order",
                     msg->partition);
        last_offset[msg->partition] = msg->offset;
        cr_assert_eq(msg->len, r->value_len, "key '%.*s': value of %zu bytes, sent %zu",
                     (int)r->key_len, r->key, msg->len, r->value_len);
        cr_assert_eq(memcmp(msg->payload, r->value, r->value_len), 0,
                     "key '%.*s': value bytes differ", (int)r->key_len, r->key);
        r->received = 1;
        received++;
        rd_kafka_message_destroy(msg);
    }
    cr_assert_eq(received, n, "only %zu of %zu records came back within %d ms", received, n,
                 TIMEOUT_MS);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

Test(kafka_roundtrip, records_come_back_byte_identical_on_the_java_partition) {
    char topic[128];
    kt_unique_name(topic, sizeof(topic), "ledger-test-roundtrip");
    kt_create_topic(topic, PARTITIONS, RD_KAFKA_RESP_ERR_NO_ERROR);

    static record records[RECORD_COUNT];
    build_records(records);
    produce_all(topic, records, RECORD_COUNT);
    int partitions_used[PARTITIONS] = {0};
    for (size_t i = 0; i < RECORD_COUNT; i++) {
        cr_assert_eq(records[i].dr_err, RD_KAFKA_RESP_ERR_NO_ERROR, "delivery of '%.*s': %s",
                     (int)records[i].key_len, records[i].key, rd_kafka_err2str(records[i].dr_err));
        cr_assert_eq(records[i].delivered, records[i].expected,
                     "librdkafka put '%.*s' on partition %d, Java says %d", (int)records[i].key_len,
                     records[i].key, records[i].delivered, records[i].expected);
        partitions_used[records[i].delivered] = 1;
    }
    /* Not everything on one partition: the test would prove little. */
    for (int p = 0; p < PARTITIONS; p++)
        cr_assert(partitions_used[p], "no record went to partition %d", p);

    consume_all(topic, records, RECORD_COUNT);
    const char *names[] = {topic};
    kt_delete_topics(names, 1);
}
