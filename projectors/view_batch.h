/*
 * view_batch.h - the runtime's side of view_batch (view.h declares what a view
 * may call): the reusable buffers one batch's Redis commands are built in.
 *
 * A view appends reads and writes as argv vectors; their bytes are copied
 * into one arena and their arguments recorded as (offset, length) pairs, so
 * growing the arena never invalidates what was appended before. The runtime
 * then asks for pointer vectors: one per read (for the pipelined round trip)
 * and one FCALL vector with every write behind its own header (for the
 * atomic round trip), or the same commands already encoded as RESP in one
 * reused buffer, which the store hands to the connection in one piece
 * (hiredis would format every argument with sdscatfmt and a malloc). Reset
 * empties everything but frees nothing: after the first few batches a batch
 * allocates nothing at all.
 */
#ifndef LEDGER_PROJECTOR_BATCH_H
#define LEDGER_PROJECTOR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* A batch builder for view `view` under namespace `ns` (both borrowed: they
 * must outlive it). Returns NULL when memory runs out. */
view_batch *view_batch_new(const char *ns, const char *view);

/* Frees the batch; NULL is accepted. */
void view_batch_destroy(view_batch *batch);

/* Empties the batch for a new one writing generation `gen`. */
void view_batch_reset(view_batch *batch, int64_t gen);

/* The generation the batch writes. */
int64_t view_batch_generation(const view_batch *batch);

/* True when an append ran out of memory or was malformed (argc < 1): the
 * batch must not be sent. Cleared by view_batch_reset. */
bool view_batch_failed(const view_batch *batch);

size_t view_batch_read_count(const view_batch *batch);
size_t view_batch_write_count(const view_batch *batch);

/* A point in a batch's appends (view_batch_mark) to go back to
 * (view_batch_rewind): the runtime tries a view's apply_account and takes
 * back its writes when it fails or applies only a prefix of the events. */
typedef struct view_batch_mark {
    size_t arena_len, args_len, reads_len, writes_len, pseudo_len;
    bool failed;
} view_batch_mark;

void view_batch_mark_get(const view_batch *batch, view_batch_mark *mark);

/* Drops everything appended since `mark` was taken (of this batch, since
 * its last reset). */
void view_batch_rewind(view_batch *batch, const view_batch_mark *mark);

/* The argv of read i (i < view_batch_read_count) for redisAppendCommandArgv.
 * The vectors belong to the batch and stay valid until the next append or
 * reset. Returns 0, or -1 when memory runs out. */
int view_batch_read_argv(view_batch *batch, size_t i, int *argc, const char *const **argv,
                         const size_t **argvlen);

/* One vector: the `head_count` arguments of `head` (borrowed, copied as
 * pointers), then for every write in order its argument count as decimal
 * text, its command and its arguments - the argument layout of the
 * ledger_apply function. Valid until the next append or reset. Returns 0,
 * or -1 when memory runs out. */
int view_batch_fcall_argv(view_batch *batch, const char *const *head, const size_t *head_len,
                          size_t head_count, int *argc, const char *const **argv,
                          const size_t **argvlen);

/* Writes that are not Redis commands but conditions only the ledger_apply
 * function understands (a name starting "LEDGER.", e.g. the DLQ's
 * LEDGER.EXPECT guards): a batch with any must go through that function. */
size_t view_batch_pseudo_count(const view_batch *batch);

/* Every read, in order, encoded as RESP commands back to back (what
 * view_batch_read_argv would give, formatted): one buffer to pipeline. The
 * buffer belongs to the batch and stays valid until the next append, reset
 * or *_resp call. Returns 0, or -1 when memory runs out. */
int view_batch_reads_resp(view_batch *batch, const char **buf, size_t *len);

/* Every write, in order, as plain RESP commands (without the argument-count
 * text of the FCALL layout): what a MULTI queues. Valid like
 * view_batch_reads_resp. Returns 0, or -1 when memory runs out. */
int view_batch_writes_resp(view_batch *batch, const char **buf, size_t *len);

/* The FCALL of view_batch_fcall_argv encoded as one RESP command. Valid
 * like view_batch_reads_resp. Returns 0, or -1 when memory runs out. */
int view_batch_fcall_resp(view_batch *batch, const char *const *head, const size_t *head_len,
                          size_t head_count, const char **buf, size_t *len);

#endif
