/*
 * statement.c - statement lines and month totals.
 *
 * A statement is a fold too: each money-moving event becomes one signed line
 * carrying the balance after it, and lines are summed into their calendar
 * month. The projector keeps months; this file only says what a line is and
 * how a month adds one up, so the rules live in one place.
 */
#include "statement.h"

#include <string.h>

#include "ltime.h"

static const char *const entry_type_names[] = {
    [STATEMENT_NONE] = NULL,
    [STATEMENT_DEPOSIT] = "deposit",
    [STATEMENT_WITHDRAWAL] = "withdrawal",
    [STATEMENT_TRANSFER_SENT] = "transfer_sent",
    [STATEMENT_TRANSFER_RECEIVED] = "transfer_received",
    [STATEMENT_TRANSFER_RETURNED] = "transfer_returned",
};

#define ENTRY_TYPE_COUNT ((int)(sizeof entry_type_names / sizeof entry_type_names[0]))

int64_t statement_sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

bool statement_line_of(const ledger_event *event, int64_t balance_before, statement_line *line) {
    statement_entry_type type;
    bool transfer = true;

    memset(line, 0, sizeof *line);
    switch (event->type) {
        case LEDGER_EVENT_MONEY_DEPOSITED:
            type = STATEMENT_DEPOSIT;
            transfer = false;
            break;
        case LEDGER_EVENT_MONEY_WITHDRAWN:
            type = STATEMENT_WITHDRAWAL;
            transfer = false;
            break;
        case LEDGER_EVENT_TRANSFER_SENT:
            type = STATEMENT_TRANSFER_SENT;
            break;
        case LEDGER_EVENT_TRANSFER_RECEIVED:
            type = STATEMENT_TRANSFER_RECEIVED;
            break;
        case LEDGER_EVENT_TRANSFER_RETURNED:
            type = STATEMENT_TRANSFER_RETURNED;
            break;
        default:
            return false;
    }
    line->type = type;
    line->month = ltime_month_of(event->at_ms);
    line->at_ms = event->at_ms;
    line->seq = event->seq;
    line->amount = ledger_event_balance_delta(event);
    line->balance_after = statement_sat_add(balance_before, line->amount);
    if (transfer) {
        ledger_id_copy(line->counterparty, sizeof line->counterparty, event->counterparty);
        ledger_id_copy(line->transfer_id, sizeof line->transfer_id, event->transfer_id);
    }
    return true;
}

const char *statement_entry_type_name(statement_entry_type type) {
    if ((int)type < 0 || (int)type >= ENTRY_TYPE_COUNT)
        return NULL;
    return entry_type_names[type];
}

void statement_month_init(statement_month *month, int32_t month_number, int64_t carried_balance) {
    memset(month, 0, sizeof *month);
    month->month = month_number;
    month->opening_balance = carried_balance;
    month->closing_balance = carried_balance;
}

void statement_month_add(statement_month *month, const statement_line *line) {
    if (line->amount > 0)
        month->total_in = statement_sat_add(month->total_in, line->amount);
    else if (line->amount < 0)
        /* The magnitude of INT64_MIN does not fit: clamp it. */
        month->total_out = statement_sat_add(month->total_out,
                                             line->amount == INT64_MIN ? INT64_MAX : -line->amount);
    month->closing_balance = statement_sat_add(month->closing_balance, line->amount);
    month->entries++;
}
