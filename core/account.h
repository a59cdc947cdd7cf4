/*
 * account.h - one account's state and the reducer:
 *     state = fold(account_apply, account_init(), account's events)
 */
#ifndef LEDGER_ACCOUNT_H
#define LEDGER_ACCOUNT_H

#include <stdint.h>

#include "event.h"

/* Values are frozen: they appear in snapshots. */
typedef enum account_status {
    ACCOUNT_NONE = 0, /* never opened */
    ACCOUNT_OPEN = 1,
    ACCOUNT_CLOSED = 2,
} account_status;

typedef struct account_state {
    account_status status;
    int64_t balance;   /* cents */
    int64_t overdraft; /* cents, >= 0: the balance may go down to -overdraft */
    int64_t seq;       /* seq of the last applied event, 0 before any */
} account_state;

typedef enum account_apply_result {
    ACCOUNT_APPLIED = 0,   /* event.seq == state.seq + 1: folded in */
    ACCOUNT_DUPLICATE = 1, /* event.seq <= state.seq: already folded, state unchanged */
    ACCOUNT_SEQ_GAP = 2,   /* event.seq > state.seq + 1: an event is missing, state unchanged */
} account_apply_result;

void account_init(account_state *state);

/* Folds one event of this account into *state. Events are facts: any event
 * type is applied whatever the status (the decider made sure it was valid
 * when it was written); only the seq is checked, which makes the fold
 * idempotent under redelivery. */
account_apply_result account_apply(account_state *state, const ledger_event *event);

#endif
