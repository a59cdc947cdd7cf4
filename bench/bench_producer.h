/*
 * bench_producer.h - the idempotent producer of the benchmarks that write
 * records (bench_append, bench_seed, rbench_gen): the ledger's own client
 * settings (ledger_kafka_conf_new: the murmur2 partitioner, -X
 * pass-through) plus each benchmark's defaults, and its delivery reports
 * counted.
 *
 * Ownership: the caller destroys the producer (rd_kafka_destroy); `stats`
 * is written by its delivery callback, so it must outlive the producer.
 */
#ifndef LEDGER_BENCH_PRODUCER_H
#define LEDGER_BENCH_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"

typedef struct bench_delivery_stats {
    uint64_t delivered, failed;
    rd_kafka_resp_err_t first_err; /* of the first failed delivery */
} bench_delivery_stats;

/* `defaults`: NULL-terminated key, value pairs, each set unless cfg's -X
 * gave the key (cfg may be NULL); enable.idempotence=true comes first.
 * Returns NULL with a message on stderr that starts with `who`. */
rd_kafka_t *bench_producer_new(const char *who, const char *brokers, const ledger_config *cfg,
                               const char *const *defaults, bench_delivery_stats *stats);

#endif
