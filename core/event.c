/*
 * event.c - event type names and the signed meaning of each event type.
 *
 * The sign of a movement lives here and only here: the reducer, statements
 * and fraud rules all ask ledger_event_balance_delta / ledger_event_is_debit
 * rather than switching on types themselves.
 */
#include "event.h"

#include <string.h>

/* Schema record names, frozen: indexed by ledger_event_type. */
static const char *const event_type_names[] = {
    [LEDGER_EVENT_NONE] = NULL,
    [LEDGER_EVENT_ACCOUNT_OPENED] = "AccountOpened",
    [LEDGER_EVENT_MONEY_DEPOSITED] = "MoneyDeposited",
    [LEDGER_EVENT_MONEY_WITHDRAWN] = "MoneyWithdrawn",
    [LEDGER_EVENT_TRANSFER_SENT] = "TransferSent",
    [LEDGER_EVENT_TRANSFER_RECEIVED] = "TransferReceived",
    [LEDGER_EVENT_TRANSFER_RETURNED] = "TransferReturned",
    [LEDGER_EVENT_ACCOUNT_CLOSED] = "AccountClosed",
};

#define EVENT_TYPE_COUNT ((int)(sizeof event_type_names / sizeof event_type_names[0]))

void ledger_event_init(ledger_event *event) {
    memset(event, 0, sizeof *event);
}

const char *ledger_event_type_name(ledger_event_type type) {
    if ((int)type < 0 || (int)type >= EVENT_TYPE_COUNT)
        return NULL;
    return event_type_names[type];
}

ledger_event_type ledger_event_type_from_name(const char *name) {
    if (name == NULL)
        return LEDGER_EVENT_NONE;
    for (int i = 1; i < EVENT_TYPE_COUNT; i++) {
        if (strcmp(name, event_type_names[i]) == 0)
            return (ledger_event_type)i;
    }
    return LEDGER_EVENT_NONE;
}

int64_t ledger_event_balance_delta(const ledger_event *event) {
    switch (event->type) {
        case LEDGER_EVENT_MONEY_DEPOSITED:
        case LEDGER_EVENT_TRANSFER_RECEIVED:
        case LEDGER_EVENT_TRANSFER_RETURNED:
            return event->amount;
        case LEDGER_EVENT_MONEY_WITHDRAWN:
        case LEDGER_EVENT_TRANSFER_SENT:
            /* Amounts are positive; INT64_MIN cannot be negated, so it is
             * clamped rather than left to undefined behaviour. */
            return event->amount == INT64_MIN ? INT64_MAX : -event->amount;
        default:
            return 0;
    }
}

bool ledger_event_is_debit(const ledger_event *event) {
    return event->type == LEDGER_EVENT_MONEY_WITHDRAWN || event->type == LEDGER_EVENT_TRANSFER_SENT;
}
