/*
 * projector_store.h - the projector runtime's Redis: the connection (re-made with
 * backoff whenever it fails), the `ledger_projector` function library, the
 * generation, the checkpoints, and the two round trips of a batch.
 *
 * The atomic unit is a transaction conditional on what the batch started
 * from: round trip 1 WATCHes the view's checkpoints hash and generation
 * keys, reads them with the view's reads and opens a MULTI; round trip 2
 * (after the checks, in the store: generation and checkpoint as expected)
 * queues every write and the new checkpoint and EXECs. Data and checkpoint
 * change together or not at all (a transaction is replicated and written to
 * the AOF as one MULTI/EXEC), and a writer that lost its partition, or works
 * from an old position, writes nothing: the change of a watched key aborts
 * its EXEC. The function ledger_apply (FCALL) does the same as one
 * server-side step, and is used for what a transaction cannot express: the
 * DLQ's guards on other keys (`ledger dlq`, and batches that hold records).
 *
 * Retrying: every call below that only reads retries by itself (reconnect,
 * backoff from 100 ms doubling to 5 s, one WARN line per failure) until it
 * succeeds or *stop becomes non-zero. The FCALL does not retry a lost
 * connection, because its outcome is then unknown: the runtime starts the
 * batch again from the read round trip, whose checkpoint says what happened.
 */
#ifndef LEDGER_PROJECTOR_STORE_H
#define LEDGER_PROJECTOR_STORE_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "view_batch.h"

typedef struct projector_store projector_store;

/* Which generation key a batch is conditional on. */
typedef enum projector_store_mode {
    PROJECTOR_STORE_CURRENT,  /* the generation queries read */
    PROJECTOR_STORE_BUILDING, /* the generation a rebuild writes */
} projector_store_mode;

typedef enum projector_store_result {
    PROJECTOR_STORE_APPLIED = 1,    /* written, checkpoint moved */
    PROJECTOR_STORE_STALE = 0,      /* the checkpoint (or a guard) was not the expected one:
                                     * nothing written */
    PROJECTOR_STORE_WRONG_GEN = -1, /* the generation is not the named one: nothing written */
    PROJECTOR_STORE_FAILED = -2,    /* Redis refused the call (logged): nothing known written */
    PROJECTOR_STORE_UNKNOWN = -3,   /* connection lost: re-read the checkpoint to know */
    PROJECTOR_STORE_STOPPED = -4,   /* *stop was raised while retrying */
    PROJECTOR_STORE_PENDING = -5,   /* projector_store_apply_send: sent, result to come */
} projector_store_result;

/* Loads (FUNCTION LOAD REPLACE) the `ledger_projector` library, whose
 * ledger_apply is described in projector_store.c, on connection c (for a
 * program that calls it without a store: `ledger dlq`). Returns 0, or -1
 * with errstr. */
int projector_store_load_library(redisContext *c, char *errstr, size_t errstr_size);

/* Absent checkpoint (the partition has never been applied). */
#define PROJECTOR_NO_CHECKPOINT (-1)

/* A store for view `view` under namespace `ns` at `url` (all borrowed; they
 * must outlive the store). `stop` is polled while retrying (a signal
 * handler's flag). Connects nothing yet. Returns NULL when memory runs out. */
projector_store *projector_store_new(const ledger_redis_url *url, const char *ns, const char *view,
                                     const volatile sig_atomic_t *stop);

/* Closes the connection and frees the store; NULL is accepted. */
void projector_store_destroy(projector_store *store);

/* Connects (retrying), loads the function library (FUNCTION LOAD REPLACE)
 * and creates the current-generation key when absent (SET NX 1). Returns 0,
 * or -1 when stopped. */
int projector_store_start(projector_store *store);

/* The current generation (GET <ns>:<view>:current; absent = 1), retrying.
 * Returns 0, or -1 when stopped or the stored value is not a number (logged). */
int projector_store_generation(projector_store *store, int64_t *gen);

/* The checkpoints of generation `gen` for partitions[0..n-1] into out
 * (PROJECTOR_NO_CHECKPOINT when absent), retrying. Returns 0, or -1 when
 * stopped or a stored value is malformed (logged). */
int projector_store_checkpoints(projector_store *store, int64_t gen, const int32_t *partitions,
                                size_t n, int64_t *out);

/* Calls fn(opaque) for every failed exchange with Redis (a lost or refused
 * connection, a refused batch) before the store backs off and retries:
 * for the metrics, which must move while Redis is away, not after. fn runs
 * on the store's thread. */
void projector_store_on_failure(projector_store *store, void (*fn)(void *opaque), void *opaque);

/* Round trip 1: WATCH of the checkpoints and generation keys, HGET of the
 * partition's checkpoint in the batch's generation, every read of the
 * batch and MULTI, pipelined, retrying until all replies are in. replies
 * (caller-allocated, view_batch_read_count entries) receives the replies
 * (error replies included: they are the view's to judge). They belong to
 * the store and stay valid until its next projector_store_read: the caller
 * does not free them. Returns 0, or -1 when stopped or the checkpoint is
 * malformed (logged). */
int projector_store_read(projector_store *store, view_batch *batch, int32_t partition,
                         int64_t *checkpoint, redisReply **replies);

/* Round trip 2: the batch's writes and the partition's new checkpoint
 * `next`, conditional on `mode`'s generation being the batch's and the
 * partition's checkpoint being `expected` (PROJECTOR_NO_CHECKPOINT =
 * absent). Right after projector_store_read of the same partition, inside
 * the transaction it opened: the checks are made on what it read, the
 * writes are queued and EXEC runs them, or none if a watched key changed
 * meanwhile (then checked and sent again). A batch with guards
 * (view_batch_pseudo_count), or one not read just before, goes through
 * FCALL ledger_apply instead, which checks and writes as one step (the
 * library is reloaded once if Redis lost it). */
projector_store_result projector_store_apply(projector_store *store, view_batch *batch,
                                             projector_store_mode mode, int32_t partition,
                                             int64_t expected, int64_t next);

/* projector_store_apply in two halves, so that Redis runs a batch's
 * transaction while the caller prepares the next batch: when the
 * transaction path applies, it is checked and sent, and PENDING returned;
 * otherwise (FCALL) this is projector_store_apply, result and all. While
 * pending, `batch` must stay untouched (a changed watched key makes the
 * store send it again). projector_store_apply_wait reads the replies and
 * returns the result. Any other call of the store first reads them (the
 * result is then kept for apply_wait), so the connection's replies never
 * go to the wrong caller; the caller still asks for the result before it
 * relies on the partition's checkpoint. */
projector_store_result projector_store_apply_send(projector_store *store, view_batch *batch,
                                                  projector_store_mode mode, int32_t partition,
                                                  int64_t expected, int64_t next);
projector_store_result projector_store_apply_wait(projector_store *store);

#endif
