/*
 * balance_view.h - the balance read model: per account, the state the pure
 * reducer (core/account.h) folds, in one Redis hash
 *
 *     <ns>:balance:g<gen>:{<account>}:state
 *         balance    cents, decimal integer
 *         version    seq of the last applied event
 *         status     open | closed | none
 *         overdraft  cents
 *
 * The parser below is the one place that reads that hash back, for the view
 * itself and for `ledger balance`.
 */
#ifndef LEDGER_VIEW_BALANCE_H
#define LEDGER_VIEW_BALANCE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "account.h"
#include "view.h"

extern const projector_view balance_view;

/* The per-account key's suffix: "state". */
#define BALANCE_VIEW_SUFFIX "state"

/* The fields, in the order balance_view_parse_state expects them from HMGET. */
#define BALANCE_VIEW_FIELD_COUNT 4
extern const char *const balance_view_fields[BALANCE_VIEW_FIELD_COUNT];

/* Reads the reply of "HMGET <state key> balance version status overdraft"
 * into *state. An account without the hash (every field nil) gives the
 * initial state and *found = false. Returns 0, or -1 with errstr when the
 * reply is not that shape or a field is missing or malformed. The reply is
 * borrowed. */
int balance_view_parse_state(const redisReply *reply, account_state *state, bool *found,
                             char *errstr, size_t errstr_size);

#endif
