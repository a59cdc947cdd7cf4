/*
 * service_internal.h - the service's state, shared by the two halves of the
 * service: service.c (clients, rebalances, the transaction loop) and
 * records.c (what one transaction decides and writes). Not a public header:
 * everything else sees producer_service as opaque (service.h).
 */
#ifndef LEDGER_PRODUCER_SERVICE_INTERNAL_H
#define LEDGER_PRODUCER_SERVICE_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "batch.h"
#include "codec.h"
#include "config.h"
#include "entropy.h"
#include "kafka.h"
#include "ops.h"
#include "partition.h"
#include "restore.h"
#include "service.h"
#include "snapshot_chunks.h"

struct producer_service {
    const ledger_config *cfg;
    ledger_codec *codec;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    producer_restore *restore;
    producer_ops *ops; /* metrics, /healthz and their endpoint */
    rd_kafka_topic_t *rkt_commands, *rkt_events, *rkt_results, *rkt_snapshots;
    char topic_commands[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_events[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_results[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_snapshots[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char transactional_id[512];

    /* settings */
    int64_t commit_interval_ms;
    int64_t hold_before_commit_ms; /* --debug-hold-before-commit, 0 = none */
    size_t max_batch;
    int64_t snapshot_every;
    int64_t snapshot_interval_ms;
    size_t snapshot_max_bytes;
    int64_t dedup_window_ms;
    size_t dedup_max_entries;
    int restore_timeout_ms;

    /* partitions of ledger.commands (= of ledger.events) */
    int32_t partition_count;
    producer_partition *parts;
    bool ready; /* the first assignment is restored */
    bool fatal; /* stop: an error the service cannot recover from */

    /* the batch being collected and decided */
    rd_kafka_message_t **msgs;
    size_t msg_count;
    producer_batch *batch;
    size_t results_sent;        /* the batch's results written so far (they go in order) */
    rd_kafka_resp_err_t dr_err; /* first failed delivery of the transaction */
    bool produce_failed;        /* a produce call failed inside a callback */
    bool mispredicted;          /* an event did not land at the offset its result names */
    producer_entropy entropy;

    /* snapshot scratch, grown as needed */
    producer_snapshot_scratch snap_scratch;

    /* counters for the log */
    uint64_t commands_handled;
    uint64_t transactions;
};

/* Monotonic milliseconds, for intervals. */
static inline int64_t service_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic microseconds, for the timings of a transaction. */
static inline int64_t service_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall-clock milliseconds since the epoch, for business and handling times. */
static inline int64_t service_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
