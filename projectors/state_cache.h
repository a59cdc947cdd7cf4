/*
 * state_cache.h - what this projector process last stored for an account,
 * kept between batches so the next batch of that account need not read it
 * back from Redis (a view opts in with projector_view.state_size).
 *
 * Why it is safe: an entry is put as the EXEC that stores it is sent, and
 * every outcome of that EXEC but success empties the table before anything
 * relies on it (a slice folded from it meanwhile is folded again); an entry
 * is used only by a batch whose round trip 1 still finds the partition's
 * checkpoint where this process left it. Anything else
 * that writes an account's keys moves that checkpoint (another process of
 * the view, a rollback of Redis) or works on a quarantined account (`ledger
 * dlq`), which the runtime forgets as it quarantines it. On any doubt - a
 * moved checkpoint, a failed or unknown write, a rebalance, a seek, a new
 * generation - the runtime forgets everything (state_cache_clear).
 *
 * A fixed table of `slots` entries (open addressing, linear probing, keyed
 * by account and generation), allocated once: nothing is allocated per
 * event. Filled to 7/8 it empties itself and fills again; the memory is
 * (88 + state_size) bytes a slot, rounded up to 8, whatever the length of
 * the log.
 * Not thread-safe: the runtime's main thread owns it. No I/O.
 */
#ifndef LEDGER_STATE_CACHE_H
#define LEDGER_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct state_cache state_cache;

/* A cache of states of `state_size` bytes in `slots` entries (rounded up to
 * a power of two, at least 8). Returns NULL when memory runs out or
 * state_size is 0. */
state_cache *state_cache_new(size_t state_size, size_t slots);

/* Frees the cache; NULL is accepted. */
void state_cache_destroy(state_cache *cache);

/* The state kept for `account` (len bytes, at most LEDGER_ACCOUNT_MAX) in
 * generation `gen`, or NULL. The pointer is the cache's, valid until the
 * next put, forget or clear. */
const void *state_cache_get(const state_cache *cache, int64_t gen, const char *account, size_t len);

/* Keeps a copy of `state` for the account, replacing what was kept. An
 * account longer than LEDGER_ACCOUNT_MAX is not kept. */
void state_cache_put(state_cache *cache, int64_t gen, const char *account, size_t len,
                     const void *state);

/* Forgets the account's entry, if any (every generation's). */
void state_cache_forget(state_cache *cache, const char *account, size_t len);

/* Forgets every entry. */
void state_cache_clear(state_cache *cache);

/* Entries held. */
size_t state_cache_count(const state_cache *cache);

#endif
