/*
 * restore.h - rebuilds one partition's state from Kafka before the producer
 * handles any of its commands.
 *
 *   1. ledger.snapshots, partition P, from the beginning to its end: the
 *      latest `snapshot` manifest and its `snapshot/<i>` chunks
 *      (snapshot_chunks.h; or an older whole `snapshot` record) give every
 *      account of P as of events offset E; every `cmd/<id>` record (the
 *      latest per key, tombstones delete) gives the deduplication window.
 *   2. ledger.events, partition P, from E (or the beginning) to its end:
 *      every event is folded into its account with account_apply, and the
 *      command id of every event a client command caused directly is added
 *      to the window (as the accepted result with that event's position)
 *      when the window does not hold it yet.
 *
 * Both reads are read_committed, so aborted transactions are never folded,
 * and end at the high watermark, not at the last stable offset: an open
 * transaction of an owner that died is waited for (see restore_read in
 * restore.c for why). The restore consumer
 * is separate from the service's and reused for every restore: assign only,
 * nothing committed, never a group member (librdkafka 2.0.2 still refuses
 * rd_kafka_assign without a group.id, so it carries one that no consumer
 * joins).
 */
#ifndef LEDGER_PRODUCER_RESTORE_H
#define LEDGER_PRODUCER_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "partition.h"

typedef struct producer_restore producer_restore;

typedef struct producer_restore_stats {
    size_t accounts;                /* accounts held after the restore */
    size_t dedup_entries;           /* deduplication entries held after the restore */
    int64_t snapshot_offset;        /* snapshots offset of the snapshot used, -1 if none */
    int64_t snapshot_events_offset; /* its events offset, -1 if none */
    size_t events_replayed;         /* events folded after the snapshot */
    size_t events_skipped;          /* events that did not fold (duplicate or gap: logged) */
    int64_t elapsed_ms;
} producer_restore_stats;

/* A restore consumer for the topics named by cfg's topic_prefix (cfg must
 * declare the Kafka settings; its -X properties apply) and `group_id` (a
 * group.id for the consumer, never joined nor committed). cfg and codec are
 * borrowed and must outlive it. Returns NULL with errstr on failure. */
producer_restore *producer_restore_new(const ledger_config *cfg, const ledger_codec *codec,
                                       const char *group_id, char *errstr, size_t errstr_size);

/* Closes the consumer. Accepts NULL. */
void producer_restore_destroy(producer_restore *restore);

/* Restores the `n` partitions parts[i]->id (distinct) into *parts[i], each
 * freshly initialised (producer_partition_init): fills their accounts,
 * windows and next_events_offset. The partitions are read together (one
 * assignment per topic), so restoring six costs about what one does.
 * `idle_timeout_ms` bounds the wait for the next record or the end of a
 * partition. Returns 0 and fills stats[0..n-1], or -1 with errstr (then the
 * partitions hold partial states: release them). */
int producer_restore_partitions(producer_restore *restore, producer_partition *const *parts,
                                size_t n, int idle_timeout_ms, producer_restore_stats *stats,
                                char *errstr, size_t errstr_size);

#endif
