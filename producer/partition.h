/*
 * partition.h - what the producer holds for one command partition it owns:
 * the accounts whose commands land there (their events share the partition
 * number), the deduplication window, and the bookkeeping that decides when
 * to write the next snapshot.
 *
 * A caller-allocated value: producer_partition_init allocates the two maps,
 * producer_partition_release frees them. Revoking a partition releases it;
 * restoring one starts from a freshly initialised value.
 */
#ifndef LEDGER_PRODUCER_PARTITION_H
#define LEDGER_PRODUCER_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "accounts.h"
#include "dedup.h"

typedef struct producer_partition {
    int32_t id;
    bool active; /* assigned and restored: its commands may be handled */
    producer_accounts *accounts;
    producer_dedup *dedup;
    int64_t next_events_offset;    /* the events offset after the last event known, -1 if none */
    int64_t events_since_snapshot; /* events appended since the last snapshot */
    int64_t last_snapshot_ms;      /* monotonic time of the last snapshot (or of the restore) */
    /* per transaction */
    int64_t commit_offset; /* the commands offset to commit, -1 when none was consumed */
} producer_partition;

/* An inactive partition `id` with empty maps. Returns 0, or -1 when memory
 * runs out (then nothing stays allocated). */
int producer_partition_init(producer_partition *part, int32_t id);

/* Frees the maps and marks the partition inactive; the id is kept. Accepts a
 * released or zeroed value. */
void producer_partition_release(producer_partition *part);

#endif
