/*
 * kafka_test.h - what the Kafka integration tests share: the broker from
 * LEDGER_TEST_BROKERS, unique names, topic creation and deletion, clients.
 * Every helper fails the calling Criterion test on error.
 */
#ifndef LEDGER_TEST_KAFKA_TEST_H
#define LEDGER_TEST_KAFKA_TEST_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"

/* LEDGER_TEST_BROKERS; fails the test with a clear message when unset. */
const char *kt_brokers(void);

uint32_t kt_random_u32(void);

/* "<prefix>-<pid>-<8 random hex digits>". */
void kt_unique_name(char *buf, size_t size, const char *prefix);

/* Monotonic milliseconds. */
int64_t kt_now_ms(void);

/* ledger_kafka_conf_new for the test broker (no -X overrides) with
 * settings[0..n) (key, value) set on top. */
rd_kafka_conf_t *kt_conf(ledger_kafka_role role, const char *const (*settings)[2], size_t n);

/* rd_kafka_new, taking over conf. */
rd_kafka_t *kt_client(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Creates `name` with `partitions` (replication 1) through
 * ledger_kafka_create_topics and asserts the outcome is `want` (NO_ERROR or
 * TOPIC_ALREADY_EXISTS) with `partitions` partitions. */
void kt_create_topic(const char *name, int partitions, rd_kafka_resp_err_t want);

/* Deletes the topics, best effort (the broker is shared); n <= 8. */
void kt_delete_topics(const char *const *names, size_t n);

#endif
