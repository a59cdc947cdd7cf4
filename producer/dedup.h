/*
 * dedup.h - the deduplication window of one partition: command id to the
 * encoded original result (SPEC section 5, idempotency).
 *
 * Entries are kept in insertion order, which is handling order, so the
 * window is aged from its oldest end: producer_dedup_expire drops entries
 * older than a cutoff, and the oldest ones beyond a maximum count, and names
 * each dropped id so that the caller can write its tombstone.
 *
 * Each entry carries a 32-bit tag of the caller's (where the entry is kept
 * in Kafka: dedup_sets.h), given back when it is dropped.
 *
 * Memory: every entry is one record in a chunked log (24-byte header, the id,
 * the encoded result: about 160 bytes for an accepted deposit with a UUID
 * id) plus 8 bytes of hash slot at a load of 3/8 to 3/4: about 250 bytes per
 * entry (bench_producer_memory measured 234 with UUID ids), so the default
 * maximum of 1,000,000 entries per partition is about 250 MB per partition.
 * Chunks are freed as the oldest end passes them; nothing is allocated per
 * entry.
 */
#ifndef LEDGER_PRODUCER_DEDUP_H
#define LEDGER_PRODUCER_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct producer_dedup producer_dedup;

/* The longest id and value an entry may hold. */
#define PRODUCER_DEDUP_ID_MAX    255
#define PRODUCER_DEDUP_VALUE_MAX 4096

/* An empty window; NULL when memory runs out. */
producer_dedup *producer_dedup_new(void);

/* Frees the window. Accepts NULL. */
void producer_dedup_destroy(producer_dedup *dedup);

/* Looks up `id` (`len` bytes). Returns true and sets *value, *value_len and
 * *handled_at_ms (any may be NULL) when present. *value is owned by the
 * window and valid until the next put, remove or expire. */
bool producer_dedup_find(const producer_dedup *dedup, const char *id, size_t len,
                         const uint8_t **value, size_t *value_len, int64_t *handled_at_ms);

/* producer_dedup_find, and *tag (may be NULL) when present. */
bool producer_dedup_find_tagged(const producer_dedup *dedup, const char *id, size_t len,
                                const uint8_t **value, size_t *value_len, int64_t *handled_at_ms,
                                uint32_t *tag);

/* Adds `id` with a copy of `value`, as the newest entry; an entry already
 * there for `id` is replaced. Returns 0, or -1 when memory runs out or a
 * length is out of bounds (0 or above the maxima for the id, above the
 * maximum for the value). */
int producer_dedup_put(producer_dedup *dedup, const char *id, size_t len, const uint8_t *value,
                       size_t value_len, int64_t handled_at_ms);

/* producer_dedup_put with a tag (producer_dedup_put: tag 0). */
int producer_dedup_put_tagged(producer_dedup *dedup, const char *id, size_t len,
                              const uint8_t *value, size_t value_len, int64_t handled_at_ms,
                              uint32_t tag);

/* Changes the tag of `id`; returns whether it was there. */
bool producer_dedup_set_tag(producer_dedup *dedup, const char *id, size_t len, uint32_t tag);

/* Removes `id`; returns whether it was there. */
bool producer_dedup_remove(producer_dedup *dedup, const char *id, size_t len);

/* Called for each entry that producer_dedup_expire drops, before its memory
 * is reused: `id` is valid during the call only. */
typedef void (*producer_dedup_evict_fn)(void *opaque, const char *id, size_t len);

/* Drops entries from the oldest end while the oldest is older than
 * cutoff_ms (handled_at_ms < cutoff_ms) or more than max_entries remain.
 * Entries restored out of time order may make it stop early at a younger
 * one: the window is approximate by design, never unbounded. Returns the
 * number dropped. */
size_t producer_dedup_expire(producer_dedup *dedup, int64_t cutoff_ms, size_t max_entries,
                             producer_dedup_evict_fn evicted, void *opaque);

/* producer_dedup_expire, naming each dropped entry's tag too. */
typedef void (*producer_dedup_evict_tagged_fn)(void *opaque, const char *id, size_t len,
                                               uint32_t tag);
size_t producer_dedup_expire_tagged(producer_dedup *dedup, int64_t cutoff_ms, size_t max_entries,
                                    producer_dedup_evict_tagged_fn evicted, void *opaque);

/* Live entries. */
size_t producer_dedup_count(const producer_dedup *dedup);

/* Bytes allocated (chunks and slots). */
size_t producer_dedup_memory(const producer_dedup *dedup);

#endif
