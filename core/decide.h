/*
 * decide.h - the command handler's pure core: a command against the current
 * state of its account gives one event or a rejection (SPEC section 5).
 *
 * Identity that needs entropy or a clock (event ids, transfer ids, "now") is
 * supplied by the caller, so that the same inputs always give the same output.
 *
 * A transfer is three decisions on three streams:
 *   ledger_decide         on FROM: TransferSent (or a rejection)
 *   ledger_decide_credit  on TO:   TransferReceived, or the reason it cannot be
 *   ledger_decide_return  on FROM: TransferReturned with that reason
 */
#ifndef LEDGER_DECIDE_H
#define LEDGER_DECIDE_H

#include <stdint.h>

#include "account.h"
#include "command.h"
#include "event.h"
#include "reason.h"

typedef struct ledger_decide_ids {
    const char *event_id;    /* the new event's id (a UUID) */
    const char *transfer_id; /* a new transfer's id, used by transfers only */
    int64_t now_ms;          /* the time to use when the command has no `at` */
} ledger_decide_ids;

/* Decides `command` against `account` (the state of command->account).
 * Returns LEDGER_OK and fills *event (seq = account->seq + 1), or the first
 * reason of SPEC section 5's precedence and leaves *event zeroed.
 * Validates ids and amounts itself: the command may come straight off the
 * wire. */
ledger_reason ledger_decide(const account_state *account, const ledger_command *command,
                            const ledger_decide_ids *ids, ledger_event *event);

/* The credit side of a transfer: `sent` is the TransferSent event, `to` the
 * state of sent->counterparty. Returns LEDGER_OK and fills *received
 * (TransferReceived on the recipient, with the sender's `at` and transfer id),
 * or LEDGER_NO_SUCH_ACCOUNT / LEDGER_ACCOUNT_CLOSED and zeroes *received.
 * Two more refusals, for inputs the producer should never build:
 * LEDGER_INVALID_AMOUNT when the credit would overflow the recipient's int64
 * balance (the transfer is then returned like any other refused credit), and
 * LEDGER_MALFORMED_COMMAND when `sent` is not a TransferSent. */
ledger_reason ledger_decide_credit(const account_state *to, const ledger_event *sent,
                                   const char *event_id, ledger_event *received);

/* The return of a transfer whose credit failed for `why`: TransferReturned on
 * the sender (`from` is its current state), with the transfer's `at`. */
void ledger_decide_return(const account_state *from, const ledger_event *sent, ledger_reason why,
                          const char *event_id, ledger_event *returned);

#endif
