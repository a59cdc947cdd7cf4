/*
 * statement.h - monthly statement lines and month totals (SPEC section 7),
 * pure functions of one account's events in log order.
 */
#ifndef LEDGER_STATEMENT_H
#define LEDGER_STATEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

/* Values are frozen. */
typedef enum statement_entry_type {
    STATEMENT_NONE = 0,
    STATEMENT_DEPOSIT = 1,
    STATEMENT_WITHDRAWAL = 2,
    STATEMENT_TRANSFER_SENT = 3,
    STATEMENT_TRANSFER_RECEIVED = 4,
    STATEMENT_TRANSFER_RETURNED = 5,
} statement_entry_type;

typedef struct statement_line {
    statement_entry_type type;
    int32_t month; /* ltime_month_of(at_ms) */
    int64_t at_ms;
    int64_t seq;
    int64_t amount;        /* signed */
    int64_t balance_after; /* the account's balance after this event, in log order */
    char counterparty[LEDGER_ACCOUNT_BUF]; /* transfers only, else "" */
    char transfer_id[LEDGER_UUID_BUF];     /* transfers only, else "" */
} statement_line;

typedef struct statement_month {
    int32_t month;
    int64_t opening_balance;
    int64_t closing_balance;
    int64_t total_in;  /* sum of positive amounts */
    int64_t total_out; /* sum of the magnitudes of negative amounts, >= 0 */
    int64_t entries;
} statement_month;

/* The statement line of `event` given the account's balance before it.
 * Returns false (and zeroes *line) for events that move no money
 * (AccountOpened, AccountClosed). */
bool statement_line_of(const ledger_event *event, int64_t balance_before, statement_line *line);

/* "deposit", "withdrawal", "transfer_sent", ...; NULL when out of range. */
const char *statement_entry_type_name(statement_entry_type type);

/* a + b, clamped to the int64 range: totals saturate rather than wrap. */
int64_t statement_sat_add(int64_t a, int64_t b);

/* A month with no entries yet, whose opening (and closing) balance is the
 * carried balance. */
void statement_month_init(statement_month *month, int32_t month_number, int64_t carried_balance);

/* Adds a line of this month: totals, entry count, closing balance += amount. */
void statement_month_add(statement_month *month, const statement_line *line);

#endif
