/*
 * test_edge_kafka.c - the pure parts of kafka.h: the Java client's murmur2
 * and key-to-partition function against vectors computed by Java, the topic
 * names and settings, and the client configurations (no broker involved).
 *
 * Vector sources (values copied from the cited files, not from our output):
 *  - apache/kafka, clients/src/test/java/org/apache/kafka/common/utils/
 *    UtilsTest.java, testMurmur2: Utils.murmur2(bytes) as Java ints.
 *  - confluentinc/librdkafka, tests/0048-partitioner.c,
 *    do_test_partitioners: toPositive(murmur2(key)) "acquired using
 *    tests/java/Murmur2Cli" (the Java client), used there as `value %
 *    partition_cnt` with partition_cnt 7 and 17.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "kafka.h"

typedef struct murmur_case {
    const char *key;
    int32_t java;
} murmur_case;

/* apache/kafka UtilsTest.testMurmur2. */
static const murmur_case kafka_vectors[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

/* librdkafka tests/0048-partitioner.c: already toPositive'd. */
typedef struct positive_case {
    const char *key;
    uint32_t positive;
} positive_case;

static const positive_case librdkafka_vectors[] = {
    {"", 0x106e08d9},
    {"23456", 0x058d780f},
    {"this is another string with more length to it perhaps", 0x4f7703da},
    {"hejsan", 0x5ec19395},
};

Test(murmur2, matches_kafka_utils_test_vectors) {
    for (size_t i = 0; i < sizeof(kafka_vectors) / sizeof(kafka_vectors[0]); i++) {
        const murmur_case *c = &kafka_vectors[i];
        cr_assert_eq(ledger_kafka_murmur2(c->key, strlen(c->key)), c->java, "murmur2('%s')",
                     c->key);
    }
}

Test(murmur2, partition_is_to_positive_modulo_count) {
    /* toPositive clears the sign bit; it is not abs(): for "21" the two give
     * different partitions of 6 (0 and 2), so this also pins that choice. */
    const int32_t counts[] = {1, 2, 3, 6, 7, 17, 100};
    for (size_t i = 0; i < sizeof(kafka_vectors) / sizeof(kafka_vectors[0]); i++) {
        const murmur_case *c = &kafka_vectors[i];
        uint32_t positive = (uint32_t)c->java & 0x7fffffffu;
        for (size_t n = 0; n < sizeof(counts) / sizeof(counts[0]); n++) {
            cr_assert_eq(ledger_partition_for_key(c->key, strlen(c->key), counts[n]),
                         (int32_t)(positive % (uint32_t)counts[n]), "'%s' over %d", c->key,
                         counts[n]);
        }
    }
    cr_assert_eq(ledger_partition_for_key("21", 2, 6), 0);
}

Test(murmur2, matches_librdkafka_java_partition_vectors) {
    const int32_t counts[] = {7, 17, 6};
    for (size_t i = 0; i < sizeof(librdkafka_vectors) / sizeof(librdkafka_vectors[0]); i++) {
        const positive_case *c = &librdkafka_vectors[i];
        for (size_t n = 0; n < sizeof(counts) / sizeof(counts[0]); n++) {
            cr_assert_eq(ledger_partition_for_key(c->key, strlen(c->key), counts[n]),
                         (int32_t)(c->positive % (uint32_t)counts[n]), "'%s' over %d", c->key,
                         counts[n]);
        }
    }
}

Test(murmur2, bytes_after_a_nul_count) {
    /* Keys are bytes, not C strings. */
    cr_assert_neq(ledger_kafka_murmur2("a\0b", 3), ledger_kafka_murmur2("a", 1));
}

Test(murmur2, no_partition_without_partitions) {
    cr_assert_eq(ledger_partition_for_key("abc", 3, 0), -1);
    cr_assert_eq(ledger_partition_for_key("abc", 3, -4), -1);
}

Test(kafka_topics, names_follow_the_prefix) {
    static const char *const want[LEDGER_KAFKA_TOPIC_COUNT] = {
        "ledger.commands", "ledger.events", "ledger.command-results", "ledger.snapshots",
        "ledger.events.dlq"};
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        char name[LEDGER_KAFKA_TOPIC_NAME_BUF];
        cr_assert_eq(ledger_kafka_topic_name("ledger.", (ledger_kafka_topic)t, name, sizeof(name)),
                     0);
        cr_assert_str_eq(name, want[t]);
    }
    char small[8];
    cr_assert_eq(
        ledger_kafka_topic_name("ledger.", LEDGER_KAFKA_TOPIC_EVENTS, small, sizeof(small)), -1);
    char longest[300];
    memset(longest, 'p', 240);
    longest[240] = '\0';
    char name[LEDGER_KAFKA_TOPIC_NAME_BUF];
    cr_assert_eq(
        ledger_kafka_topic_name(longest, LEDGER_KAFKA_TOPIC_COMMAND_RESULTS, name, sizeof(name)),
        -1, "a name over 249 characters was accepted");
}

/* The value of `key` among a spec's configs, or NULL. */
static const char *spec_config(const ledger_kafka_topic_spec *spec, const char *key) {
    for (size_t i = 0; i < spec->config_count; i++) {
        if (strcmp(spec->config[i].key, key) == 0)
            return spec->config[i].value;
    }
    return NULL;
}

Test(kafka_topics, ledger_specs_carry_the_spec_settings) {
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[256];
    cr_assert_eq(ledger_kafka_ledger_topic_specs("x.", 6, 1, specs, errstr, sizeof(errstr)), 0);
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        cr_assert_eq(specs[t].partitions, 6);
        cr_assert_eq(specs[t].replication_factor, 1);
    }
    const ledger_kafka_topic_spec *events = &specs[LEDGER_KAFKA_TOPIC_EVENTS];
    cr_assert_str_eq(events->name, "x.events");
    cr_assert_str_eq(spec_config(events, "retention.ms"), "-1");
    cr_assert_str_eq(spec_config(events, "retention.bytes"), "-1");
    cr_assert_str_eq(spec_config(events, "cleanup.policy"), "delete");
    cr_assert_str_eq(spec_config(&specs[LEDGER_KAFKA_TOPIC_SNAPSHOTS], "cleanup.policy"),
                     "compact");
    cr_assert_str_eq(spec_config(&specs[LEDGER_KAFKA_TOPIC_EVENTS_DLQ], "retention.ms"), "-1");
    cr_assert_null(spec_config(&specs[LEDGER_KAFKA_TOPIC_COMMANDS], "cleanup.policy"));
}

/* The producer's partitioner, read back from librdkafka. */
static void partitioner_of(rd_kafka_conf_t *conf, char *buf, size_t size) {
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf);
    cr_assert_not_null(tconf, "no default topic conf: partitioner never set");
    cr_assert_eq(rd_kafka_topic_conf_get(tconf, "partitioner", buf, &size), RD_KAFKA_CONF_OK);
}

Test(kafka_conf, producer_uses_murmur2_random_and_the_brokers) {
    char errstr[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new("h1:1,h2:2", LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    char value[256];
    size_t size = sizeof(value);
    cr_assert_eq(rd_kafka_conf_get(conf, "bootstrap.servers", value, &size), RD_KAFKA_CONF_OK);
    cr_assert_str_eq(value, "h1:1,h2:2");
    partitioner_of(conf, value, sizeof(value));
    cr_assert_str_eq(value, "murmur2_random");
    rd_kafka_conf_destroy(conf);
}

Test(kafka_conf, passthrough_applies_but_cannot_change_the_partitioner) {
    static const ledger_config_setting none[] = {LEDGER_CONFIG_END};
    const ledger_config_setting *const tables[] = {none, NULL};
    char errstr[512];

    ledger_config *cfg = ledger_config_new("test", tables);
    char *argv[] = {"-X", "linger.ms=7", "-X", "partitioner=murmur2_random"};
    cr_assert_eq(ledger_config_load(cfg, 4, argv, errstr, sizeof(errstr)), LEDGER_CONFIG_OK, "%s",
                 errstr);
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new("h:1", LEDGER_KAFKA_PRODUCER, cfg, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    char value[64];
    size_t size = sizeof(value);
    cr_assert_eq(rd_kafka_conf_get(conf, "linger.ms", value, &size), RD_KAFKA_CONF_OK);
    cr_assert_str_eq(value, "7");
    rd_kafka_conf_destroy(conf);
    ledger_config_destroy(cfg);

    cfg = ledger_config_new("test", tables);
    char *argv2[] = {"-X", "partitioner=random"};
    cr_assert_eq(ledger_config_load(cfg, 2, argv2, errstr, sizeof(errstr)), LEDGER_CONFIG_ERROR);
    cr_assert(strncmp(errstr, "invalid -X 'partitioner=random': ", 33) == 0, "%s", errstr);
    ledger_config_destroy(cfg);
}
