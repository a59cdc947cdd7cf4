/*
 * rebuild.h - the Redis side of `ledger-projector --view V --rebuild`: the
 * lease that makes one rebuild at a time, the generation it builds, the
 * atomic switch, and the removal of the generation it replaced.
 *
 * A rebuild writes generation g+1 (g = <ns>:<view>:current) beside g while
 * the running projectors keep applying to g and queries keep reading g. It
 * is announced by <ns>:<view>:building = g+1 and kept alive by a lease,
 * <ns>:<view>:rebuild_lease = a token of the rebuilding process, with a TTL
 * the process refreshes. A second rebuild is refused while the lease is
 * held; once it has expired (the rebuilder died) the next rebuild takes
 * over with a NEW generation number, so a rebuilder that was only frozen
 * can never write into the generation its successor builds (ledger_apply
 * checks the building generation), and the dead one's keys are removed.
 *
 * The switch is one Redis function call (library `ledger_rebuild`), which
 * only switches when current is still g, building is still g+1, and g+1's
 * checkpoint of every partition is at least g's: then every account in g+1
 * is at least as far as in g, so no reader ever sees the view go backwards,
 * and the running projectors, whose next ledger_apply on g fails on the
 * generation, re-read the current generation and seek to g+1's checkpoints:
 * every event after them is applied to g+1 by them, none twice, none
 * skipped. The old generation's keys stay for a grace period (for a reader
 * that read the generation number just before the switch), then go with
 * SCAN + UNLINK in batches, which never blocks Redis.
 */
#ifndef LEDGER_PROJECTOR_REBUILD_H
#define LEDGER_PROJECTOR_REBUILD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "redis.h"

/* rebuild (--rebuild), rebuild_grace (--rebuild-grace, 2s) and
 * rebuild_lease (--rebuild-lease, 15s): for ledger-projector's table. */
extern const ledger_config_setting projector_rebuild_settings[];

typedef struct projector_rebuild projector_rebuild;

/* A rebuild of view `view` under namespace `ns` at `url` (all borrowed:
 * they must outlive it), with a lease of lease_ms refreshed every third of
 * it and a grace period of grace_ms before the old generation is removed.
 * `stop` (a signal handler's flag) is polled while retrying and waiting.
 * Connects nothing yet. Returns NULL when memory runs out. */
projector_rebuild *projector_rebuild_new(const ledger_redis_url *url, const char *ns,
                                         const char *view, int64_t lease_ms, int64_t grace_ms,
                                         const volatile sig_atomic_t *stop);

/* Frees the rebuild (the lease, if still held, expires by itself); NULL is
 * accepted. */
void projector_rebuild_destroy(projector_rebuild *rb);

typedef enum projector_rebuild_begin_result {
    PROJECTOR_REBUILD_STARTED = 0, /* the lease is ours: build *building */
    PROJECTOR_REBUILD_BUSY = 1,    /* a live rebuild holds the lease: errstr says which */
    PROJECTOR_REBUILD_STOPPED = -1 /* stopped while Redis was unreachable */
} projector_rebuild_begin_result;

/* Takes the lease and sets <ns>:<view>:building: *current is the generation
 * queries read now, *building the one to build (current + 1, or one past an
 * abandoned rebuild's generation, whose keys are then removed). Retries
 * while Redis is unreachable. */
projector_rebuild_begin_result projector_rebuild_begin(projector_rebuild *rb, int64_t *current,
                                                       int64_t *building, char *errstr,
                                                       size_t errstr_size);

/* Refreshes the lease when a third of it has passed (call it often; it
 * costs nothing otherwise). Returns 0, or -1 when the rebuild lost its
 * generation (another rebuild took over, or building was changed by hand):
 * the caller must stop writing. A Redis failure is logged and retried at
 * the next call. */
int projector_rebuild_keep(projector_rebuild *rb);

typedef enum projector_rebuild_switch_result {
    PROJECTOR_REBUILD_SWITCHED = 1, /* current is now the built generation */
    PROJECTOR_REBUILD_NOT_YET = 0,  /* the current generation is ahead on some partition */
    PROJECTOR_REBUILD_LOST = -1,    /* current or building moved: nothing switched */
    PROJECTOR_REBUILD_ERROR = -2,   /* Redis failed (logged): try again later */
} projector_rebuild_switch_result;

/* The atomic switch (see the top of this file). */
projector_rebuild_switch_result projector_rebuild_switch(projector_rebuild *rb);

/* A rebuild stopped before its switch: if the lease is still ours, deletes
 * it and <ns>:<view>:building, then the unfinished generation's keys, so
 * the next rebuild starts at once from a clean slate (if it is no longer
 * ours, the rebuild that took over removes them). Best effort, logged. */
void projector_rebuild_abandon(projector_rebuild *rb);

/* After the switch: waits the grace period (returning early on stop), then
 * removes every key of the replaced generation with SCAN MATCH + UNLINK.
 * Returns how many keys it removed, or -1 when Redis failed (logged). */
int64_t projector_rebuild_remove_old(projector_rebuild *rb);

#endif
