/*
 * projector_ops.h - what a projector process shows its operators: the
 * Prometheus metrics and the readiness of /metrics and /healthz (edge/
 * metrics.h, edge/http_ops.h; the endpoint runs only when http_port is
 * set), and the progress of long work - a rebuild, or a catch-up from far
 * behind - as one updating line on stderr when stderr is a terminal, as
 * gauges in /metrics, and as a small entry in Redis that `ledger status`
 * reads.
 *
 * The runtime calls the projector_ops_* hooks from its one thread, at most
 * once per batch and partition (never per event), and projector_ops_tick
 * between batches, when every record it collected is either applied or
 * dropped (the lag it computes relies on that). A thread of this module's
 * own, with its own Redis connection, checks every second that Redis
 * answers (readiness), reads the view's quarantine size and writes the
 * progress entry, so no Redis round trip of it is ever on the data path.
 *
 * Lag: per partition, the end the consumer knows (its cached high
 * watermark, the last stable offset under read_committed: no extra
 * request) minus what this process has consumed - its checkpoint, or its
 * consumer position when that is further and nothing it holds is
 * unapplied (a position past the checkpoint means the offsets between are
 * transaction markers or aborted records, which are not lag).
 *
 * Ownership: projector_ops_new borrows cfg and url (they must outlive the
 * ops); projector_ops_destroy stops the endpoint, then the thread, then
 * frees the registry.
 */
#ifndef LEDGER_PROJECTOR_OPS_H
#define LEDGER_PROJECTOR_OPS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "redis.h"

/* progress_min_lag (LEDGER_PROGRESS_MIN_LAG, --progress-min-lag, 100000):
 * how far behind (events, over the partitions assigned) a projector must be
 * when it gets its partitions for the catch-up to count as long work. */
extern const ledger_config_setting projector_ops_settings[];

typedef struct projector_ops projector_ops;

/* The ops of view `view` (borrowed) under namespace `ns` at `url`; with
 * `rebuild`, the process rebuilds generation projector_ops_generation()
 * says and its progress runs from the start. Starts the HTTP endpoint when
 * http_port is set (logging the port), and the thread. Returns NULL with
 * errstr (the endpoint cannot bind, out of memory). */
projector_ops *projector_ops_new(const ledger_config *cfg, const ledger_redis_url *url,
                                 const char *ns, const char *view, bool rebuild, char *errstr,
                                 size_t errstr_size);
/* Ends a progress line still shown, stops the endpoint and the thread,
 * removes this process's progress entry (best effort) and frees. NULL is a
 * no-op. */
void projector_ops_destroy(projector_ops *ops);

/* Every hook below accepts a NULL ops (and does nothing). */

/* Ready for /healthz once partitions are assigned with their checkpoints
 * loaded (and while Redis answers). */
void projector_ops_set_ready(projector_ops *ops);
/* One rebalance callback: "assign", "revoke" or "lost". */
void projector_ops_rebalance(projector_ops *ops, const char *kind);
/* The generation this process applies to (or builds). */
void projector_ops_generation(projector_ops *ops, int64_t gen);
/* Where partition `partition` stands, called for every partition the
 * runtime knows before each tick: owned or not, and its checkpoint
 * (negative: none yet). */
void projector_ops_partition(projector_ops *ops, int32_t partition, bool owned, int64_t checkpoint);
/* A batch of `partition` applied: `events` events applied, `held` records
 * held in the DLQ, `quarantined` accounts newly quarantined, the FCALL took
 * `seconds`; `appended_ms` is the Kafka timestamp of its last record (ms
 * since the epoch; <= 0 unknown). */
void projector_ops_applied(projector_ops *ops, int32_t partition, size_t events, size_t held,
                           size_t quarantined, double seconds, int64_t appended_ms);
/* Monotonic seconds with sub-microsecond resolution, to time a batch's
 * write for projector_ops_applied (a millisecond clock would put most
 * writes at 0). */
double projector_ops_clock(void);

/* A conditional write refused, or a checkpoint found moved before writing:
 * another process owns the partition now, or Redis was rewound. */
void projector_ops_conflict(projector_ops *ops);
void projector_ops_redis_error(projector_ops *ops);
void projector_ops_kafka_error(projector_ops *ops);

/* Between batches: recomputes lag and progress (at most once a second;
 * otherwise returns at once), prints the progress line, starts a catch-up
 * when the first measurement after an assignment finds the process at
 * least progress_min_lag behind and ends it once caught up. rk is the
 * runtime's consumer, topic the events topic. */
void projector_ops_tick(projector_ops *ops, rd_kafka_t *rk, const char *topic);

/* At the end of the service loop, before its last log lines: ends a
 * progress line still shown; with --rebuild, logs the rebuild's summary
 * (switched or not). */
void projector_ops_finish(projector_ops *ops, bool switched);

#endif
