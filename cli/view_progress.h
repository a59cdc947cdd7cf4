/*
 * view_progress.h - how far a read model has got, as Redis says it: the
 * generation queries read, the one a rebuild is writing, and the
 * checkpoints (next offset to apply, per partition of the events topic).
 * For `ledger status` and `ledger wait`; the key layout is the projectors'
 * (projectors/projector_keys.h).
 */
#ifndef LEDGER_VIEW_PROGRESS_H
#define LEDGER_VIEW_PROGRESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The views a command reports on: `only` (--view NAME, NULL = all) after
 * checking it is registered, or every registered view, into names[0..max).
 * Returns the count, or -1 with errstr ("invalid --view 'x': expected one
 * of balance, statements, fraud"). */
int view_progress_pick(const char *only, const char **names, int max, char *errstr,
                       size_t errstr_size);

/* A checkpoint that is absent: nothing of the partition applied yet. */
#define VIEW_PROGRESS_NONE (-1)

/* The current generation of `view` (absent = 1) and the one being built
 * (0 when no rebuild is running). Returns 0, or -1 with errstr. */
int view_progress_generations(redisContext *c, const char *ns, const char *view, int64_t *current,
                              int64_t *building, char *errstr, size_t errstr_size);

/* The checkpoints of generation `gen` for partitions 0..n-1 into out
 * (VIEW_PROGRESS_NONE when absent). Returns 0, or -1 with errstr. */
int view_progress_checkpoints(redisContext *c, const char *ns, const char *view, int64_t gen,
                              int32_t n, int64_t *out, char *errstr, size_t errstr_size);

/* The accounts in generation gen's quarantine, sorted, as an array reply
 * the caller frees (freeReplyObject); its elements are strings. Returns
 * NULL with errstr on failure. */
redisReply *view_progress_quarantined(redisContext *c, const char *ns, const char *view,
                                      int64_t gen, char *errstr, size_t errstr_size);

/* What the running projectors of a view report of themselves (each
 * writes its entry in <ns>:<view>:progress every second; see
 * projectors/projector_ops.h). Entries older than VIEW_PROGRESS_FRESH_MS
 * (a process that died) are ignored. */
#define VIEW_PROGRESS_FRESH_MS 10000

typedef struct view_progress_report {
    int projectors; /* live processes applying to the current generation */
    double rate;    /* their recent applied rate, summed (events/s) */
    bool rebuild;   /* a rebuild's entry was found */
    double rebuild_rate;
    int64_t rebuild_eta; /* seconds; -1 unknown */
} view_progress_report;

/* Reads the fresh entries of `view` as of now_ms (the wall clock, ms).
 * Returns 0, or -1 with errstr (Redis failed). Entries that do not parse
 * are skipped. */
int view_progress_reports(redisContext *c, const char *ns, const char *view, int64_t now_ms,
                          view_progress_report *out, char *errstr, size_t errstr_size);

#endif
