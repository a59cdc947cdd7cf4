/*
 * log_end.h - where the committed data of a topic's partitions ends, as a
 * read_committed consumer (a projector, the producer) sees it.
 *
 * The high watermark is not that place: a transactional producer (the
 * ledger's producer, and its transfer steps on the commands topic) ends
 * every transaction with a commit or abort marker, a record that takes an
 * offset but is never delivered, and an aborted transaction's records are
 * never delivered either. A consumer that has applied everything stores
 * "last delivered offset + 1", which can stay one (or more) below the high
 * watermark for good. So the end here is the offset after the last record a
 * read_committed consumer delivers: a consumer whose position (checkpoint,
 * committed offset) has reached it has nothing left to do.
 *
 * It is found by reading: each partition is read from a short window below
 * its last stable offset up to the end (partition EOF), and the window is
 * widened when it holds no data record (a long run of markers or aborted
 * records), never below the caller's `from`.
 */
#ifndef LEDGER_LOG_END_H
#define LEDGER_LOG_END_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* For partitions 0..n-1 of `topic`, sets end[p] to the offset after the
 * last committed data record at or after from[p] (from may be NULL: 0 for
 * all), or to from[p] when there is none. `consumer` is a group-less
 * read_committed consumer with enable.partition.eof=true
 * (cli_kafka_consumer_new(cfg, true, ...)), borrowed; its assignment is
 * replaced and cleared. Gives up at deadline_ms (ledger_mono_ms clock).
 * Returns 0, or -1 with errstr (Kafka unreachable, or the deadline). */
int log_end_find(rd_kafka_t *consumer, const char *topic, int32_t n, const int64_t *from,
                 int64_t *end, int64_t deadline_ms, char *errstr, size_t errstr_size);

#endif
