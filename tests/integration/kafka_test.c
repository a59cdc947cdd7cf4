/*
 * kafka_test.c - shared helpers of the Kafka integration tests.
 */
#include "kafka_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"

const char *kt_brokers(void) {
    const char *brokers = getenv("LEDGER_TEST_BROKERS");
    cr_assert(brokers != NULL && brokers[0] != '\0',
              "LEDGER_TEST_BROKERS is not set: export the test broker's address (scripts/test "
              "sets it, e.g. 127.0.0.1:19092)");
    return brokers;
}

uint32_t kt_random_u32(void) {
    uint32_t r = 0;
    cr_assert_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
    return r;
}

void kt_unique_name(char *buf, size_t size, const char *prefix) {
    snprintf(buf, size, "%s-%d-%08x", prefix, (int)getpid(), kt_random_u32());
}

int64_t kt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rd_kafka_conf_t *kt_conf(ledger_kafka_role role, const char *const (*settings)[2], size_t n) {
    char errstr[512];
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(kt_brokers(), role, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(
            rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK, "%s=%s: %s", settings[i][0], settings[i][1], errstr);
    return conf;
}

rd_kafka_t *kt_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "rd_kafka_new: %s", errstr);
    return rk;
}

void kt_create_topic(const char *name, int partitions, rd_kafka_resp_err_t want) {
    ledger_kafka_topic_spec spec;
    ledger_kafka_topic_outcome outcome;
    char errstr[512];
    cr_assert_eq(ledger_kafka_topic_spec_init(&spec, name, partitions, 1), 0);
    cr_assert_eq(ledger_kafka_create_topics(kt_brokers(), NULL, &spec, 1, 30000, &outcome, errstr,
                                            sizeof(errstr)),
                 0, "create '%s': %s", name, errstr);
    cr_assert_eq(outcome.err, want, "create '%s': %s (%s)", name, rd_kafka_err2name(outcome.err),
                 outcome.errstr);
    cr_assert_eq(outcome.partitions, partitions);
}

void kt_delete_topics(const char *const *names, size_t n) {
    char errstr[512];
    if (n > 8)
        n = 8;
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_ADMIN, NULL, errstr, sizeof(errstr));
    if (conf == NULL)
        return;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return;
    }
    rd_kafka_DeleteTopic_t *del[8];
    for (size_t i = 0; i < n; i++)
        del[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, del, n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy_array(del, n);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}
