/*
 * view.h - what a read model (a "view") is to the projector runtime.
 *
 * The runtime (projectors/runtime.c) consumes the events topic, cuts it into
 * batches per partition, and for each batch:
 *
 *   1. asks the view, for every distinct account of the batch and given its
 *      events, which Redis reads give the account's current view state
 *      (read_account), and sends all of them in ONE pipelined round trip;
 *   2. hands the view each account's replies and that account's events of
 *      the batch, in log order (apply_account); the view folds them with the
 *      pure core (core/account.h, core/statement.h, core/fraud.h) and appends
 *      the Redis writes that store the new state;
 *   3. sends all the writes of the batch together with the partition's new
 *      checkpoint as ONE atomic unit that is conditional on the checkpoint
 *      (and generation) the batch started from, so a process that lost the
 *      partition can never overwrite newer state.
 *
 * A view never talks to Redis or Kafka itself and keeps no state between
 * batches outside Redis (its `state` is configuration only), which is what
 * makes every view exactly-once, restartable and rebuildable for free.
 *
 * A view whose stored per-account state fits a fixed-size struct may set
 * state_size: the runtime then keeps what each account's last applied batch
 * stored (projectors/state_cache.h says when that is safe) and hands it to
 * read_account and apply_account as input->cached: the view reads only what
 * the kept state does not tell (nothing, for the balance view). On a
 * catch-up that halves the Redis commands of a view with one read and one
 * write per account.
 *
 * Keys: every key a view writes comes from view_batch_account_key (per
 * account, with the account as a Redis hash tag "{A}" so the layout can move
 * to Redis Cluster) or view_batch_view_key (view-wide, e.g. fraud's set of
 * flagged accounts). Both put the view's name and generation in the key, so
 * a rebuild writes a new generation beside the current one.
 *
 * Adding a view: write projectors/views/<name>.c defining one
 * `const projector_view <name>_view`, and add one line to the table in
 * projectors/views/registry.c. The README walks through it.
 */
#ifndef LEDGER_PROJECTOR_VIEW_H
#define LEDGER_PROJECTOR_VIEW_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

/* One batch in the making; owned by the runtime, valid during a callback. */
typedef struct view_batch view_batch;

/* The input of apply_account: one account's replies and events. */
typedef struct view_account_input {
    const char *account;
    const redisReply *const *replies; /* the replies to this account's reads, in order */
    size_t reply_count;               /* == what read_account returned */
    const ledger_event *events;       /* this account's events in the batch, log order */
    size_t event_count;
    /* Only for a view with state_size > 0. `cached`: the account's stored
     * state as this process's last batch of it left it, or NULL (read it).
     * A view may keep a state it cannot use (its own marker inside), and
     * then reads as if it were NULL. `state_out`: NULL, or state_size bytes
     * where a successful apply_account leaves the account's stored state
     * after its writes. */
    const void *cached;
    void *state_out;
} view_account_input;

typedef struct projector_view {
    const char *name; /* "balance": the --view value and part of every key */
    const char *help; /* one line for --help */

    /* The view's own settings (e.g. fraud thresholds), or NULL. They are
     * added to ledger-projector's configuration table. */
    const ledger_config_setting *settings;

    /* Optional: builds the view's immutable configuration from the loaded
     * settings. Returns 0, or -1 with errstr naming the bad setting. The
     * runtime calls close(state) at exit. */
    int (*open)(const ledger_config *cfg, void **state, char *errstr, size_t errstr_size);
    void (*close)(void *state);

    /* Appends the commands (view_batch_read) that read the account's current
     * state as far as its events of this batch need it and input->cached
     * does not tell (input->replies is NULL here: the events are known, the
     * state is not yet). Returns how many reads it appended; apply_account
     * gets that many replies, and the same input->cached. */
    size_t (*read_account)(const void *state, view_batch *batch, const view_account_input *input);

    /* Folds the account's events into the state read back, and appends the
     * writes (view_batch_write) that store the result. Events already
     * reflected in the stored state (seq <= stored version) must be skipped,
     * so a replay of a batch is harmless. Returns 0, or -1 with errstr when
     * the stored state is unreadable (the account is then quarantined). */
    int (*apply_account)(const void *state, view_batch *batch, const view_account_input *input,
                         char *errstr, size_t errstr_size);

    /* Optional (0: none): the size of the per-account state apply_account
     * takes as input->cached and leaves in input->state_out. */
    size_t state_size;
} projector_view;

/* Key of `account` for this view and generation: "<ns>:<view>:g<gen>:{<account>}:<suffix>"
 * (suffix may be ""). Returns the length, or 0 if it does not fit. */
size_t view_batch_account_key(const view_batch *batch, const char *account, const char *suffix,
                              char *buf, size_t size);

/* View-wide key: "<ns>:<view>:g<gen>:<suffix>". Returns the length, or 0. */
size_t view_batch_view_key(const view_batch *batch, const char *suffix, char *buf, size_t size);

/* Appends a read (argv as redisCommandArgv takes it). The arguments are
 * copied into the batch's reusable arena. */
void view_batch_read(view_batch *batch, int argc, const char **argv, const size_t *argvlen);

/* Appends a write to the batch's atomic unit. Copied like view_batch_read. */
void view_batch_write(view_batch *batch, int argc, const char **argv, const size_t *argvlen);

#endif
