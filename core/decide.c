/*
 * decide.c - commands against account state, giving events or reasons.
 *
 * The checks run in the order of SPEC section 5's precedence, and that order
 * is spelt out once, as the sequence of statements in ledger_decide: each
 * check returns at the first fault, so a command with several faults gets the
 * first reason. Ids and amounts are validated here (not at the edges) so that
 * a command read straight off the wire cannot get past the core malformed.
 *
 * Nothing here reads a clock or entropy: event ids, transfer ids and "now"
 * come in through ledger_decide_ids, so a decision is a pure function.
 */
#include "decide.h"

#include <stdbool.h>
#include <string.h>

#include "money.h"

static bool decide_account_ok(const char buf[LEDGER_ACCOUNT_BUF]) {
    return ledger_account_valid(buf, ledger_id_len(buf, LEDGER_ACCOUNT_BUF));
}

static bool decide_amount_ok(int64_t amount, bool allow_zero) {
    return (allow_zero ? amount >= 0 : amount > 0) && amount <= MONEY_MAX_COMMAND_CENTS;
}

/* The envelope every decided event shares. */
static void decide_envelope(ledger_event *event, const char *event_id, const char *account,
                            int64_t seq, int64_t at_ms, const char *command_id,
                            ledger_event_type type, int64_t amount) {
    ledger_event_init(event);
    ledger_id_copy(event->event_id, sizeof event->event_id, event_id);
    ledger_id_copy(event->account, sizeof event->account, account);
    event->seq = seq;
    event->at_ms = at_ms;
    ledger_id_copy(event->command_id, sizeof event->command_id, command_id);
    event->type = type;
    event->amount = amount;
}

static ledger_reason decide_check(const account_state *account, const ledger_command *command) {
    ledger_command_type type = command->type;
    bool transfer = type == LEDGER_COMMAND_TRANSFER;
    int64_t after;

    /* malformed_command: a type we do not know, or an id that is no id. */
    if (type <= LEDGER_COMMAND_NONE || type > LEDGER_COMMAND_CLOSE)
        return LEDGER_MALFORMED_COMMAND;
    if (!ledger_command_id_valid(command->id, ledger_id_len(command->id, sizeof command->id)))
        return LEDGER_MALFORMED_COMMAND;

    /* invalid_account: the account, then `to`. */
    if (!decide_account_ok(command->account))
        return LEDGER_INVALID_ACCOUNT;
    if (transfer && !decide_account_ok(command->to))
        return LEDGER_INVALID_ACCOUNT;

    /* invalid_amount: an overdraft may be zero, a movement may not. */
    if (type == LEDGER_COMMAND_OPEN && !decide_amount_ok(command->amount, true))
        return LEDGER_INVALID_AMOUNT;
    if ((type == LEDGER_COMMAND_DEPOSIT || type == LEDGER_COMMAND_WITHDRAW || transfer) &&
        !decide_amount_ok(command->amount, false))
        return LEDGER_INVALID_AMOUNT;

    /* Both are valid ids here, hence terminated within their buffers. */
    if (transfer && strcmp(command->account, command->to) == 0)
        return LEDGER_SAME_ACCOUNT;

    if (type == LEDGER_COMMAND_OPEN)
        return account->status == ACCOUNT_NONE ? LEDGER_OK : LEDGER_ACCOUNT_EXISTS;

    if (account->status == ACCOUNT_NONE)
        return LEDGER_NO_SUCH_ACCOUNT;
    if (account->status != ACCOUNT_OPEN)
        return LEDGER_ACCOUNT_CLOSED;

    switch (type) {
        case LEDGER_COMMAND_DEPOSIT:
            /* A balance that would not fit in int64 is an amount the ledger
             * cannot represent. */
            if (__builtin_add_overflow(account->balance, command->amount, &after))
                return LEDGER_INVALID_AMOUNT;
            return LEDGER_OK;
        case LEDGER_COMMAND_WITHDRAW:
        case LEDGER_COMMAND_TRANSFER:
            /* balance - amount >= -overdraft; a difference below INT64_MIN is
             * below any -overdraft (overdraft >= 0). */
            if (__builtin_sub_overflow(account->balance, command->amount, &after) ||
                after < -account->overdraft)
                return LEDGER_INSUFFICIENT_FUNDS;
            return LEDGER_OK;
        case LEDGER_COMMAND_CLOSE:
            return account->balance == 0 ? LEDGER_OK : LEDGER_NONZERO_BALANCE;
        default:
            return LEDGER_MALFORMED_COMMAND; /* unreachable: type checked above */
    }
}

static ledger_event_type decide_event_type(ledger_command_type type) {
    switch (type) {
        case LEDGER_COMMAND_OPEN:
            return LEDGER_EVENT_ACCOUNT_OPENED;
        case LEDGER_COMMAND_DEPOSIT:
            return LEDGER_EVENT_MONEY_DEPOSITED;
        case LEDGER_COMMAND_WITHDRAW:
            return LEDGER_EVENT_MONEY_WITHDRAWN;
        case LEDGER_COMMAND_TRANSFER:
            return LEDGER_EVENT_TRANSFER_SENT;
        case LEDGER_COMMAND_CLOSE:
            return LEDGER_EVENT_ACCOUNT_CLOSED;
        default:
            return LEDGER_EVENT_NONE;
    }
}

ledger_reason ledger_decide(const account_state *account, const ledger_command *command,
                            const ledger_decide_ids *ids, ledger_event *event) {
    ledger_reason reason = decide_check(account, command);
    if (reason != LEDGER_OK) {
        ledger_event_init(event);
        return reason;
    }
    ledger_event_type type = decide_event_type(command->type);
    decide_envelope(event, ids->event_id, command->account, account->seq + 1,
                    command->has_at ? command->at_ms : ids->now_ms, command->id, type,
                    type == LEDGER_EVENT_ACCOUNT_CLOSED ? 0 : command->amount);
    if (type == LEDGER_EVENT_TRANSFER_SENT) {
        ledger_id_copy(event->counterparty, sizeof event->counterparty, command->to);
        ledger_id_copy(event->transfer_id, sizeof event->transfer_id, ids->transfer_id);
    }
    return LEDGER_OK;
}

ledger_reason ledger_decide_credit(const account_state *to, const ledger_event *sent,
                                   const char *event_id, ledger_event *received) {
    int64_t after;
    ledger_reason reason = LEDGER_OK;

    if (sent->type != LEDGER_EVENT_TRANSFER_SENT)
        reason = LEDGER_MALFORMED_COMMAND;
    else if (to->status == ACCOUNT_NONE)
        reason = LEDGER_NO_SUCH_ACCOUNT;
    else if (to->status != ACCOUNT_OPEN)
        reason = LEDGER_ACCOUNT_CLOSED;
    else if (__builtin_add_overflow(to->balance, sent->amount, &after))
        reason = LEDGER_INVALID_AMOUNT;
    if (reason != LEDGER_OK) {
        ledger_event_init(received);
        return reason;
    }
    decide_envelope(received, event_id, sent->counterparty, to->seq + 1, sent->at_ms,
                    sent->command_id, LEDGER_EVENT_TRANSFER_RECEIVED, sent->amount);
    ledger_id_copy(received->counterparty, sizeof received->counterparty, sent->account);
    ledger_id_copy(received->transfer_id, sizeof received->transfer_id, sent->transfer_id);
    return LEDGER_OK;
}

void ledger_decide_return(const account_state *from, const ledger_event *sent, ledger_reason why,
                          const char *event_id, ledger_event *returned) {
    decide_envelope(returned, event_id, sent->account, from->seq + 1, sent->at_ms, sent->command_id,
                    LEDGER_EVENT_TRANSFER_RETURNED, sent->amount);
    ledger_id_copy(returned->counterparty, sizeof returned->counterparty, sent->counterparty);
    ledger_id_copy(returned->transfer_id, sizeof returned->transfer_id, sent->transfer_id);
    returned->reason = why;
}
