/*
 * projector_query.h - what every query of a read model needs, whichever view it reads
 * (`ledger balance`, `ledger statement`, `ledger flags`, ...): the --after
 * and --timeout settings, the current generation, "read your writes"
 * (wait until the view has applied a position), and the quarantine check.
 *
 * Queries read the generation named by <ns>:<view>:current (projector_keys.h), so a
 * rebuild that writes a new generation beside it never shows a half-built
 * view; the generation is read again on every poll of a wait, so a switch
 * during the wait is followed.
 */
#ifndef LEDGER_PROJECTOR_QUERY_H
#define LEDGER_PROJECTOR_QUERY_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* after (--after P:O, no default) and timeout (--timeout, 30s). */
extern const ledger_config_setting projector_query_settings[];

/* Parses "P:O" (partition and offset, decimal, >= 0). Returns 0, or -1 with
 * the reason alone in errstr ("expected PARTITION:OFFSET"). */
int projector_query_parse_position(const char *text, int32_t *partition, int64_t *offset,
                                   char *errstr, size_t errstr_size);

/* The current generation of `view` (absent = 1). Returns 0, or -1 with
 * errstr when Redis fails or the value is not a generation. */
int projector_query_generation(redisContext *c, const char *ns, const char *view, int64_t *gen,
                               char *errstr, size_t errstr_size);

typedef enum projector_query_wait_result {
    PROJECTOR_QUERY_APPLIED = 0,   /* the view has applied the position */
    PROJECTOR_QUERY_TIMED_OUT = 1, /* not within timeout_ms */
    PROJECTOR_QUERY_ERROR = -1,    /* Redis failed: errstr says how */
} projector_query_wait_result;

/* Waits until the current generation's checkpoint of `partition` is greater
 * than `offset` (the event at that offset is applied), polling Redis with a
 * short backoff (2 ms doubling to 50 ms) until timeout_ms has passed. */
projector_query_wait_result projector_query_wait(redisContext *c, const char *ns, const char *view,
                                                 int32_t partition, int64_t offset,
                                                 int64_t timeout_ms, char *errstr,
                                                 size_t errstr_size);

/* Sets *quarantined to whether `account` is in generation gen's quarantine
 * hash. Returns 0, or -1 with errstr. */
int projector_query_quarantined(redisContext *c, const char *ns, const char *view, int64_t gen,
                                const char *account, bool *quarantined, char *errstr,
                                size_t errstr_size);

#endif
