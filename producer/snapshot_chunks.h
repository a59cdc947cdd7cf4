/*
 * snapshot_chunks.h - a partition's snapshot on PREFIXsnapshots as a set of
 * chunk records under a manifest, all written in one transaction, and the
 * reading side that puts them together again at restore.
 *
 * Why chunks: a snapshot holds every account of a partition, and one record
 * of a partition with many accounts outgrows the broker's message size
 * (1 MB by default). Chunks keep every record under --snapshot-max-bytes
 * however many accounts there are.
 *
 * On partition P of the snapshots topic (P = the command partition), one
 * snapshot is, in one transaction:
 *
 *   snapshot/<i>  i = 0 .. N-1: a ledger.Snapshot with partition P,
 *                 events_offset E, a slice of P's accounts and no commands;
 *                 header `ledger.snapshot.epoch` = X
 *   snapshot/<j>  N <= j < the chunk count of the previous snapshot:
 *                 tombstones, so no stale chunk outlives compaction
 *   snapshot      the manifest: a ledger.Snapshot with partition P,
 *                 events_offset -1 and no accounts nor commands; headers
 *                 `ledger.snapshot.epoch` = X and `ledger.snapshot.chunks` = N
 *
 * X is 16 lowercase hex digits, new for every snapshot; N is decimal ASCII.
 * A restore takes the latest manifest and the latest value of each of its
 * chunk keys, and uses them only when all N are there with epoch X and the
 * same partition and events offset; else it logs why and replays the
 * partition's events from the start (always right, only slower). Because
 * the records share one transaction, read_committed readers see all of a
 * snapshot or none of it, and compaction keeps exactly the latest set.
 *
 * The manifest's events_offset is -1 so that a producer from before chunks,
 * which reads `snapshot` as a whole snapshot, refuses it (it checks
 * events_offset >= 0) instead of taking it for an empty partition. The other
 * way round, a `snapshot` record without the chunks header is such a whole
 * snapshot (accounts and events_offset in the one record) and is still read.
 */
#ifndef LEDGER_PRODUCER_SNAPSHOT_CHUNKS_H
#define LEDGER_PRODUCER_SNAPSHOT_CHUNKS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "partition.h"

#define PRODUCER_SNAPSHOT_KEY          "snapshot"
#define PRODUCER_SNAPSHOT_HEADER_EPOCH "ledger.snapshot.epoch"
#define PRODUCER_SNAPSHOT_HEADER_COUNT "ledger.snapshot.chunks"
/* Chunk keys beyond this index are not ours (ignored with a warning). */
#define PRODUCER_SNAPSHOT_CHUNKS_MAX 1000000

/* ---- writing ---- */

enum {
    PRODUCER_SNAPSHOT_OK = 0,
    PRODUCER_SNAPSHOT_ABORT = -1, /* Kafka refused a record: abort the transaction */
    PRODUCER_SNAPSHOT_FATAL = -2, /* no memory, or a bug: stop */
};

/* Buffers reused from one snapshot to the next (one chunk's worth, so a
 * snapshot costs no allocation once they have grown). Zero-initialise;
 * free with producer_snapshot_scratch_release. */
typedef struct producer_snapshot_scratch {
    snapshot_account *accounts;
    size_t accounts_cap;
    uint8_t *buf;
    size_t buf_cap;
} producer_snapshot_scratch;

/* Frees the buffers and zeroes the value. Accepts NULL. */
void producer_snapshot_scratch_release(producer_snapshot_scratch *scratch);

/* What one snapshot wrote. */
typedef struct producer_snapshot_written {
    size_t accounts;
    size_t chunks;
    size_t tombstones;
    size_t bytes; /* of the chunk values */
    char epoch[17];
} producer_snapshot_written;

/* The accounts of a chunk that always stays within max_bytes: 0 when not
 * even one account fits. */
size_t producer_snapshot_chunk_accounts(size_t max_bytes);

/* Produces the snapshot of `part` (its accounts as of its
 * next_events_offset, which must be >= 0) to partition part->id of `rkt`
 * on `producer`, inside the caller's open transaction: chunks of at most
 * max_bytes, tombstones for the chunk keys part->snapshot_chunks says may
 * still hold values, then the manifest. Sets part->snapshot_chunks to the
 * new count and fills *written. The codec, producer and topic are
 * borrowed; scratch is grown as needed. Returns a PRODUCER_SNAPSHOT_*
 * outcome (logged). */
int producer_snapshot_write(const ledger_codec *codec, rd_kafka_t *producer, rd_kafka_topic_t *rkt,
                            producer_partition *part, size_t max_bytes,
                            producer_snapshot_scratch *scratch, producer_snapshot_written *written);

/* ---- reading ---- */

/* The snapshot records of one partition, as a restore reads them in offset
 * order: the latest manifest and the latest value of every chunk key. A
 * caller-allocated value: producer_snapshot_reader_init, then _add for each
 * record, _load once at the end, _release. */
typedef struct producer_snapshot_reader {
    int32_t partition;
    const char *topic; /* for log lines; borrowed */
    uint8_t *manifest; /* a copy of the latest `snapshot` value, NULL if none */
    size_t manifest_len;
    int64_t manifest_offset;
    bool chunked;        /* the manifest names chunks (else: a whole snapshot) */
    char epoch[17];      /* the manifest's epoch, when chunked */
    int64_t chunk_count; /* the manifest's chunk count, when chunked (-1: unreadable) */
    struct producer_snapshot_slot *slots; /* the latest value of snapshot/<i> */
    size_t slot_cap;
} producer_snapshot_reader;

/* An empty reader for `partition` of `topic` (borrowed, for log lines). */
void producer_snapshot_reader_init(producer_snapshot_reader *reader, int32_t partition,
                                   const char *topic);

/* Frees what the reader holds and zeroes it. Accepts a released value. */
void producer_snapshot_reader_release(producer_snapshot_reader *reader);

/* Whether a snapshots-topic key is `snapshot` or `snapshot/...`. */
bool producer_snapshot_is_key(const void *key, size_t len);

/* Takes one record whose key producer_snapshot_is_key (msg is borrowed; its
 * value is copied; a NULL value is a tombstone). Returns 0, or -1 with errstr
 * when memory runs out. */
int producer_snapshot_reader_add(producer_snapshot_reader *reader, const rd_kafka_message_t *msg,
                                 char *errstr, size_t errstr_size);

/* How many chunk keys may hold a value after what was read: the highest
 * index whose latest record is not a tombstone, plus one (0 if none). */
int32_t producer_snapshot_reader_chunk_keys(const producer_snapshot_reader *reader);

/* What a load found. */
typedef struct producer_snapshot_loaded {
    int64_t manifest_offset; /* snapshots offset of the `snapshot` record used */
    int64_t events_offset;   /* the next events offset the snapshot does not cover */
    size_t accounts;
    size_t chunks; /* 0 for a whole (pre-chunk) snapshot record */
} producer_snapshot_loaded;

/* Builds the accounts of the latest snapshot read. Returns 1 with *accounts
 * a new table (owned by the caller: producer_accounts_destroy) and *loaded
 * filled; 0 when there is no snapshot or it cannot be used (logged: the
 * caller replays from the start); -1 with errstr when memory runs out. */
int producer_snapshot_reader_load(const producer_snapshot_reader *reader, const ledger_codec *codec,
                                  producer_accounts **accounts, producer_snapshot_loaded *loaded,
                                  char *errstr, size_t errstr_size);

#endif
