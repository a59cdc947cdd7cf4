/*
 * runtime.h - the projector runtime: `ledger-projector --view NAME` is
 * projector_run with the view the registry names, and a test or another
 * program can run the same runtime with a view of its own.
 *
 * What the runtime guarantees every view (SPEC section 7): the view's Redis
 * state equals the fold of the events topic up to the checkpoint stored
 * beside it, after any crash, restart, redelivery or rebalance. It consumes
 * `<prefix>events` (read_committed) in a consumer group of its own
 * ("ledger-projector-<view>" by default); on assignment each partition
 * starts where Redis's checkpoint says (Kafka's committed offsets are only
 * advisory); every batch is applied with one conditional, atomic FCALL (see
 * store.h), so several processes of a view can share its partitions and a
 * stalled one that wakes up writes nothing. With --rebuild it builds the
 * view's next generation from offset zero beside the current one, switches
 * to it once caught up and exits (rebuild.h).
 */
#ifndef LEDGER_PROJECTOR_RUNTIME_H
#define LEDGER_PROJECTOR_RUNTIME_H

#include <stdio.h>

#include "view.h"

/* Exit codes (SPEC section 8). */
enum {
    PROJECTOR_EXIT_OK = 0,    /* clean shutdown on SIGTERM/SIGINT, or --help */
    PROJECTOR_EXIT_USAGE = 2, /* invalid configuration: nothing was touched */
    PROJECTOR_EXIT_INFRA = 3, /* Kafka or Redis could not be set up */
};

/* Runs the projector of `view` (borrowed; static in practice) with the
 * arguments after the program name (argv is borrowed for the run). Loads the
 * configuration: the shared Kafka, Redis and logging settings, the runtime's
 * own (group id, batch size and wait, ...) and the view's settings; --help
 * prints them all, -X dump the effective configuration. Then creates the
 * ledger's topics if missing, connects to Redis (retrying while it is
 * down), subscribes, and applies batches until SIGTERM or SIGINT, after
 * which it finishes or drops the batch in flight (never half-writes one),
 * closes the consumer and returns. With --rebuild it returns after the
 * switch and the removal of the old generation (PROJECTOR_EXIT_OK), or
 * PROJECTOR_EXIT_USAGE at once when a live rebuild of the view holds the
 * lease. Installs handlers for SIGTERM and SIGINT. Returns a
 * PROJECTOR_EXIT_* code. */
int projector_run(const projector_view *view, int argc, char **argv);

/* Prints the help of the runtime's own and shared settings, for when no view
 * is chosen yet; `description` (e.g. the list of views) follows the usage. */
void projector_help(FILE *out, const char *description);

#endif
