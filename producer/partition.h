/*
 * partition.h - what the producer holds for one command partition it owns:
 * the accounts whose commands land there (their events share the partition
 * number), the deduplication window, and the bookkeeping that decides when
 * to write the next snapshot.
 *
 * A caller-allocated value: producer_partition_init allocates the two maps
 * (and the window's bookkeeping), producer_partition_release frees them. Revoking a partition
 * releases it; restoring one starts from a freshly initialised value.
 */
#ifndef LEDGER_PRODUCER_PARTITION_H
#define LEDGER_PRODUCER_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "accounts.h"
#include "dedup.h"
#include "dedup_sets.h"

typedef struct producer_partition {
    int32_t id;
    bool active; /* assigned and restored: its commands may be handled */
    producer_accounts *accounts;
    producer_dedup *dedup;
    producer_dedup_sets *dedup_sets; /* where the window's entries are kept in Kafka */
    int64_t next_events_offset;      /* the events offset after the last event known, -1 if none */
    int64_t events_since_snapshot;   /* events appended since the last snapshot */
    int64_t last_snapshot_ms;        /* monotonic time of the last snapshot (or of the restore) */
    int32_t snapshot_chunks;         /* `snapshot/<i>` keys that may hold a value */
    /* The offset the next event appended here will get, -1 when unknown
     * (after a restore, until a transaction of ours has written here): the
     * last event of our last committed transaction + 2, its commit marker
     * taking one offset. It lets results carry their positions before the
     * events are delivered (records.c); the delivery reports confirm it. */
    int64_t append_offset;
    /* per transaction */
    int64_t commit_offset;    /* the commands offset to commit, -1 when none was consumed */
    int64_t txn_first_offset; /* append_offset when the transaction began (-1: not predicted) */
    int64_t txn_events;       /* events produced here in this transaction */
    int64_t txn_delivered;    /* of them, delivered (their reports) */
    int64_t txn_min_offset;   /* lowest and highest offsets delivered, -1 when none */
    int64_t txn_max_offset;
} producer_partition;

/* An inactive partition `id` with empty maps. Returns 0, or -1 when memory
 * runs out (then nothing stays allocated). */
int producer_partition_init(producer_partition *part, int32_t id);

/* Frees the maps and marks the partition inactive; the id is kept. Accepts a
 * released or zeroed value. */
void producer_partition_release(producer_partition *part);

#endif
