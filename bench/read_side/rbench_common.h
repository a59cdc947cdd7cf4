/*
 * rbench_common.h - the little the read-side benchmark programs share: a
 * monotonic clock and the end offsets of the events topic (what "caught up"
 * means).
 */
#ifndef LEDGER_RBENCH_COMMON_H
#define LEDGER_RBENCH_COMMON_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define RBENCH_MAX_PARTITIONS 64

/* Seconds on the monotonic clock. */
double rbench_now(void);

/* The high watermark of every partition of `topic` into ends[0..*n-1]
 * (index = partition), with a throwaway consumer on `brokers`. Returns 0,
 * or -1 with a message on stderr. */
int rbench_topic_ends(const char *brokers, const char *topic, int64_t *ends, int *n);

#endif
