/*
 * cli_kafka.h - the Kafka clients of the `ledger` CLI, configured once here:
 * a group-less read_committed consumer for reading partitions the CLI
 * picks itself (results, one account's events), and the producer of
 * commands (idempotent, murmur2_random, batched for `ledger submit`).
 *
 * Settings the CLI chooses are defaults: a -X property of the same name
 * wins (as kcat lets -X override everything).
 */
#ifndef LEDGER_CLI_KAFKA_H
#define LEDGER_CLI_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kafka.h"

/* The name of one of the ledger's topics under cfg's topic_prefix into buf
 * (LEDGER_KAFKA_TOPIC_NAME_BUF). Returns 0, or -1 with errstr. */
int cli_kafka_topic_name(const ledger_config *cfg, ledger_kafka_topic topic, char *buf, size_t size,
                         char *errstr, size_t errstr_size);

/* A consumer that joins no group (the caller assigns partitions; nothing
 * is committed; group.id is "ledger-cli" only because librdkafka's assign
 * wants one), isolation.level=read_committed, enable.partition.eof as
 * asked, librdkafka's main queue forwarded to the consumer queue so that
 * rd_kafka_consumer_poll serves errors. Returns the handle (the caller
 * closes it with rd_kafka_destroy), or NULL with errstr. */
rd_kafka_t *cli_kafka_consumer_new(const ledger_config *cfg, bool partition_eof, char *errstr,
                                   size_t errstr_size);

/* The producer of commands: idempotent, partitioner murmur2_random,
 * linger.ms=5 and large batches, message.timeout.ms = message_timeout_ms,
 * dr_msg_cb (may be NULL) called from rd_kafka_poll with `opaque`. Returns
 * the handle, or NULL with errstr. */
rd_kafka_t *cli_kafka_producer_new(const ledger_config *cfg, int message_timeout_ms,
                                   void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                     void *),
                                   void *opaque, char *errstr, size_t errstr_size);

/* The number of partitions of `topic`, from the broker's metadata (every
 * topic is asked for, so that no broker auto-creates the topic). Returns
 * it, or -1 with errstr: "kafka unreachable at 'HOSTS': ..." or "topic 'T'
 * does not exist (run 'ledger admin create-topics')". */
int cli_kafka_partition_count(rd_kafka_t *rk, const ledger_config *cfg, const char *topic,
                              int timeout_ms, char *errstr, size_t errstr_size);

/* The low and high watermarks of one partition (with read_committed, the
 * high one is the last stable offset), asking again while the partition's
 * leader is being elected (a topic just created), up to timeout_ms.
 * Returns 0, or -1 with errstr. */
int cli_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                         int64_t *low, int64_t *high, char *errstr, size_t errstr_size);

/* "30 s" or "1500 ms": a duration as messages show it. */
void cli_kafka_format_duration(int64_t ms, char *buf, size_t size);

#endif
