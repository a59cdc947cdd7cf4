/*
 * dedup_sets.h - where a partition's deduplication entries are kept in
 * Kafka, so that a restore finds each again and its record is deleted once
 * the entry has left the window.
 *
 * An entry's place is its tag in the window (dedup.h):
 *
 *   PRODUCER_DEDUP_TAG_LOG  an accepted command's entry is kept by its
 *                           event alone: a restore replays the events after
 *                           the latest snapshot and re-creates the entry from
 *                           the command's event (restore.c). Such entries
 *                           are pending: before a snapshot moves past their
 *                           events, or once there are a set's worth, they are
 *                           written into a set (records.c);
 *   PRODUCER_DEDUP_TAG_OWN  a `cmd/<id>` record of its own on the snapshots
 *                           topic: a rejected command has no event, so its
 *                           entry is written with its result;
 *   PRODUCER_DEDUP_TAG_SET0 + n: one of the entries of set n, a `cmds/<uuid>`
 *                           record holding many entries (a ledger.Snapshot
 *                           with commands only); its tombstone is written
 *                           when the last of them leaves the window.
 *
 * This module keeps the pending ids (in handling order) and the sets (key
 * and live entry count), for one partition. Owned by the partition
 * (partition.h); nothing here does I/O.
 */
#ifndef LEDGER_PRODUCER_DEDUP_SETS_H
#define LEDGER_PRODUCER_DEDUP_SETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRODUCER_DEDUP_TAG_LOG  0u
#define PRODUCER_DEDUP_TAG_OWN  1u
#define PRODUCER_DEDUP_TAG_SET0 2u

/* The key prefix of a set record, and the longest key. */
#define PRODUCER_DEDUP_SET_PREFIX     "cmds/"
#define PRODUCER_DEDUP_SET_PREFIX_LEN 5
#define PRODUCER_DEDUP_SET_KEY_MAX    63

typedef struct producer_dedup_sets producer_dedup_sets;

/* Empty; NULL when memory runs out. */
producer_dedup_sets *producer_dedup_sets_new(void);

/* Frees. Accepts NULL. */
void producer_dedup_sets_destroy(producer_dedup_sets *sets);

/* Adds a pending id (copied). Returns 0, or -1 when memory runs out or the
 * id is longer than 255 bytes. */
int producer_dedup_sets_pend(producer_dedup_sets *sets, const char *id, size_t len);

/* Pending ids. */
size_t producer_dedup_sets_pending(const producer_dedup_sets *sets);

/* The pending id at *cursor (start at 0), moving the cursor on; false at the
 * end. *id is valid until the next pend or clear. */
bool producer_dedup_sets_next(const producer_dedup_sets *sets, size_t *cursor, const char **id,
                              size_t *len);

/* Forgets every pending id. */
void producer_dedup_sets_clear_pending(producer_dedup_sets *sets);

/* Forgets the pending ids before `cursor` (a value producer_dedup_sets_next
 * gave), keeping the later ones in order. */
void producer_dedup_sets_drop_pending(producer_dedup_sets *sets, size_t cursor);

/* A new set named `key` (copied; at most PRODUCER_DEDUP_SET_KEY_MAX bytes)
 * with no entries yet: sets *tag. Returns 0, or -1 (memory, key length). */
int producer_dedup_sets_add(producer_dedup_sets *sets, const char *key, size_t len, uint32_t *tag);

/* One more entry in set `tag`. */
void producer_dedup_sets_join(producer_dedup_sets *sets, uint32_t tag);

/* An entry of set `tag` left the window. Returns the set's key when it was
 * its last and the set's record still holds a value (the caller writes its
 * tombstone), else NULL. */
const char *producer_dedup_sets_leave(producer_dedup_sets *sets, uint32_t tag);

/* The record of set `key` was deleted (a restore met its tombstone): its
 * entries may still be in the window, but no tombstone is due for it. */
void producer_dedup_sets_deleted(producer_dedup_sets *sets, const char *key, size_t len);

/* Forgets the sets at the front that are empty and deleted (a key that
 * producer_dedup_sets_leave returned stays valid until this is called). */
void producer_dedup_sets_trim(producer_dedup_sets *sets);

/* Sets held (from the oldest not yet trimmed). */
size_t producer_dedup_sets_count(const producer_dedup_sets *sets);

#endif
