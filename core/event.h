/*
 * event.h - the facts of the ledger (SPEC section 6).
 *
 * One flat, fixed-size struct for every event type, so that decoding, folding
 * and re-encoding an event never allocates. Which fields are meaningful
 * depends on `type` (see the table below); the others are zero. This is the
 * in-memory form of the CURRENT reader schema: older writer schemas are
 * resolved into it by codec/.
 *
 *   type               amount        counterparty  transfer_id  reason  memo
 *   ACCOUNT_OPENED     overdraft     -             -            -       -
 *   MONEY_DEPOSITED    amount        -             -            -       memo (v2, may be "")
 *   MONEY_WITHDRAWN    amount        -             -            -       -
 *   TRANSFER_SENT      amount        to            yes          -       -
 *   TRANSFER_RECEIVED  amount        from          yes          -       -
 *   TRANSFER_RETURNED  amount        to            yes          yes     -
 *   ACCOUNT_CLOSED     -             -             -            -       -
 *
 * Amounts are always positive here; the sign of a movement follows from the
 * type (see event_balance_delta).
 */
#ifndef LEDGER_EVENT_H
#define LEDGER_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ids.h"
#include "reason.h"

/* Values are frozen: they index the payload union of the event schema. */
typedef enum ledger_event_type {
    LEDGER_EVENT_NONE = 0,
    LEDGER_EVENT_ACCOUNT_OPENED = 1,
    LEDGER_EVENT_MONEY_DEPOSITED = 2,
    LEDGER_EVENT_MONEY_WITHDRAWN = 3,
    LEDGER_EVENT_TRANSFER_SENT = 4,
    LEDGER_EVENT_TRANSFER_RECEIVED = 5,
    LEDGER_EVENT_TRANSFER_RETURNED = 6,
    LEDGER_EVENT_ACCOUNT_CLOSED = 7,
} ledger_event_type;

#define LEDGER_MEMO_MAX 140
#define LEDGER_MEMO_BUF (LEDGER_MEMO_MAX + 2)

typedef struct ledger_event {
    /* envelope */
    char event_id[LEDGER_UUID_BUF];
    char account[LEDGER_ACCOUNT_BUF];
    int64_t seq;   /* 1, 2, 3, ... per account */
    int64_t at_ms; /* business time, ms since epoch, UTC */
    char command_id[LEDGER_COMMAND_ID_BUF];
    /* payload */
    ledger_event_type type;
    int64_t amount;
    char counterparty[LEDGER_ACCOUNT_BUF];
    char transfer_id[LEDGER_UUID_BUF];
    ledger_reason reason;
    char memo[LEDGER_MEMO_BUF];
} ledger_event;

/* Zeroes the event. */
void ledger_event_init(ledger_event *event);

/* The schema record name ("MoneyDeposited"); NULL when out of range. */
const char *ledger_event_type_name(ledger_event_type type);

/* Inverse of ledger_event_type_name; LEDGER_EVENT_NONE when unknown. */
ledger_event_type ledger_event_type_from_name(const char *name);

/* Signed effect on the account's balance: +amount for deposits, received and
 * returned transfers, -amount for withdrawals and sent transfers, 0 else. */
int64_t ledger_event_balance_delta(const ledger_event *event);

/* True for MONEY_WITHDRAWN and TRANSFER_SENT. */
bool ledger_event_is_debit(const ledger_event *event);

#endif
