/*
 * result_wait.h - waiting for command results on the command-results topic
 * without reading it from the beginning.
 *
 * A result is keyed by its command id and written to
 * ledger_partition_for_key(command id) (SPEC section 3), so a client that
 * knows its command ids knows where their results will land. Before the
 * command is produced, result_wait_new takes the current end offset of
 * that partition (or of every partition, for `ledger submit`) and assigns
 * a group-less read_committed consumer there: every result written after
 * that moment is seen, nothing older is read. The caller then produces
 * and calls result_wait_next, matching results by command id (others'
 * results pass by too).
 */
#ifndef LEDGER_RESULT_WAIT_H
#define LEDGER_RESULT_WAIT_H

#include <stddef.h>

#include "codec.h"
#include "config.h"
#include "result.h"

typedef struct result_wait result_wait;

/* Starts listening on the command-results topic of cfg (brokers, prefix,
 * -X): on the partition of `command_id`, or on every partition when
 * command_id is NULL, each from its end offset now. `codec` is borrowed
 * and must outlive the handle. Returns a handle (result_wait_destroy), or
 * NULL with errstr when Kafka cannot be reached within timeout_ms or the
 * topic does not exist (an infrastructure error: exit 3). */
result_wait *result_wait_new(const ledger_config *cfg, const ledger_codec *codec,
                             const char *command_id, int timeout_ms, char *errstr,
                             size_t errstr_size);

/* Closes the consumer and frees the handle. Accepts NULL. */
void result_wait_destroy(result_wait *rw);

/* Waits up to timeout_ms (0: only what has arrived) for the next result
 * record and decodes it into *out. Returns 1 with *out filled, 0 when none
 * came in time, or -1 with errstr on a fatal consumer error. A record that
 * does not decode as a result is logged (WARN, with partition and offset)
 * and skipped. */
int result_wait_next(result_wait *rw, int timeout_ms, ledger_result *out, char *errstr,
                     size_t errstr_size);

/* How many partitions the handle listens on. */
int result_wait_partition_count(const result_wait *rw);

#endif
