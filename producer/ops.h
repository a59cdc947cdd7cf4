/*
 * ops.h - what ledger-producer shows operators: its Prometheus metrics
 * (names and meanings in producer/README.md), the readiness /healthz
 * reports, and the operations endpoint serving both (edge/http_ops.h) when
 * http_port is set.
 *
 * The service (service.c) reports what happened at a few points: a
 * transaction committed or aborted, partitions restored, assigned or
 * revoked, a Kafka error. Counts of a transaction are taken only once it
 * has committed, so /metrics counts what the log holds, never the work of an
 * aborted transaction that will be done again.
 *
 *     ops = producer_ops_new(cfg);              // registers, serves nothing yet
 *     producer_ops_start(ops, errstr, size);    // binds http_port when set
 *     producer_ops_committed(ops, svc);         // after each commit
 *     producer_ops_destroy(ops);                // stops the endpoint first
 *
 * Every function accepts a NULL ops (a service built without one).
 */
#ifndef LEDGER_PRODUCER_OPS_H
#define LEDGER_PRODUCER_OPS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "restore.h"
#include "service.h"

typedef struct producer_ops producer_ops;

/* The metrics of a producer; cfg (borrowed, must outlive ops) declares
 * ledger_config_ops_settings. Not ready ("waiting for an assignment") until
 * producer_ops_set_ready. NULL when memory runs out. */
producer_ops *producer_ops_new(const ledger_config *cfg);

/* Starts the endpoint when http_port is set (logs the bound address).
 * Returns 0, or -1 with errstr naming the address. */
int producer_ops_start(producer_ops *ops, char *errstr, size_t errstr_size);

/* Stops the endpoint, then frees. NULL is a no-op. */
void producer_ops_destroy(producer_ops *ops);

/* The port the endpoint is bound to, -1 when it is off. */
int producer_ops_port(const producer_ops *ops);

/* /healthz: ready, or not with a short reason. */
void producer_ops_set_ready(producer_ops *ops, bool ready, const char *why);

/* After a committed transaction: counts its commands by outcome and reason,
 * its events, its size and latency (started_us: service_now_us() when it
 * began), the command records' age, each partition's committed offset and
 * the consumer's lag. */
void producer_ops_committed(producer_ops *ops, producer_service *svc, int64_t started_us);

/* A transaction aborted (its work is done again after the restore). */
void producer_ops_aborted(producer_ops *ops);

/* n partitions restored together (stats[0..n-1]) in elapsed_ms. */
void producer_ops_restored(producer_ops *ops, const producer_restore_stats *stats, size_t n,
                           int64_t elapsed_ms);

/* After a rebalance event: "assigned" (parts carry their committed
 * offsets, or RD_KAFKA_OFFSET_BEGINNING), "revoked" or "lost"; the
 * partitions given up leave the per-partition series. */
void producer_ops_rebalance(producer_ops *ops, producer_service *svc, const char *kind,
                            const rd_kafka_topic_partition_list_t *parts);

/* Between polls of the consumer (at most once a second does anything):
 * refreshes the lag of the owned partitions from the consumer's cached
 * high watermarks, so an idle or stuck producer still shows its lag. */
void producer_ops_tick(producer_ops *ops, producer_service *svc);

/* A snapshot written. */
void producer_ops_snapshot(producer_ops *ops);

/* An error reported through librdkafka's error callback. */
void producer_ops_kafka_error(producer_ops *ops);

#endif
