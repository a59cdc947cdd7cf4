/*
 * test_views_harness.h - runs a projector view (projectors/view.h) without
 * Redis, for the views' unit tests.
 *
 * The harness implements the view_batch functions the runtime provides and
 * keeps a tiny in-memory store that executes the few commands the views
 * send (HMGET, SMISMEMBER; HSET, HINCRBY, ZADD, RPUSH, SADD) with Redis's
 * semantics, so a test drives a view through batches exactly as the runtime
 * does (every read of the batch, then every apply, then the writes) and then
 * looks at the stored keys. Any other command, or a command on a key of the
 * wrong type, fails the calling test: a view that starts sending something
 * new must be taught here first.
 */
#ifndef LEDGER_TEST_VIEWS_HARNESS_H
#define LEDGER_TEST_VIEWS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "view.h"

typedef struct harness harness;

/* A store and a batch whose keys are "<ns>:<view>:g<gen>:...". */
harness *harness_new(const char *ns, const char *view, int64_t gen);
void harness_destroy(harness *h);

/* One batch: the events are grouped by account (in order of first
 * appearance, log order within an account); read_account for each, the
 * reads executed, apply_account for each, then the writes of every account
 * whose apply returned 0. Returns the number of accounts whose apply failed;
 * the first failure's errstr is kept (harness_error). */
int harness_run_batch(harness *h, const projector_view *view, const void *state,
                      const ledger_event *events, size_t n);

/* From now on, keep each account's state (state_size bytes, the view's)
 * after a successful apply and hand it back as input->cached, as the
 * runtime's state_cache does; a failed account is forgotten. */
void harness_keep_states(harness *h, size_t state_size);

/* The errstr of the first failed apply of the last batch, or "". */
const char *harness_error(const harness *h);

/* How many reads / writes the last batch sent. */
size_t harness_read_count(const harness *h);
size_t harness_write_count(const harness *h);

/* "<ns>:<view>:g<gen>:{<account>}:<suffix>" into a static-free buffer. */
void harness_account_key(const harness *h, const char *account, const char *suffix, char *buf,
                         size_t size);

/* ---- the store ---- */

/* The field of a hash, or NULL. */
const char *harness_hget(const harness *h, const char *key, const char *field);
/* Sets a hash field directly (to plant corrupt state). */
void harness_hset(harness *h, const char *key, const char *field, const char *value);
/* A list's length and its i-th element (NULL when out of range). */
size_t harness_llen(const harness *h, const char *key);
const char *harness_lindex(const harness *h, const char *key, size_t i);
/* Set membership and size. */
bool harness_sismember(const harness *h, const char *key, const char *member);
size_t harness_scard(const harness *h, const char *key);
/* A sorted set's size and its i-th member by score (NULL when out of
 * range), with its score. */
size_t harness_zcard(const harness *h, const char *key);
const char *harness_zat(const harness *h, const char *key, size_t i, double *score);
/* Whether the key exists at all. */
bool harness_exists(const harness *h, const char *key);

#endif
