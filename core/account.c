/*
 * account.c - the per-account reducer.
 *
 * Events are facts, so the reducer never refuses one for its content: it
 * only checks the sequence number, which makes folding idempotent under
 * redelivery (a repeat is ignored) and makes a lost event visible (a gap is
 * reported, not papered over). Balances use saturating arithmetic: the
 * decider refuses movements that would overflow, so saturation can only be
 * reached by a log the decider did not write, and then it degrades to a
 * clamped balance instead of undefined behaviour.
 */
#include "account.h"

#include <string.h>

void account_init(account_state *state) {
    memset(state, 0, sizeof *state);
    state->status = ACCOUNT_NONE;
}

static int64_t saturating_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

account_apply_result account_apply(account_state *state, const ledger_event *event) {
    if (event->seq <= state->seq)
        return ACCOUNT_DUPLICATE;
    if (event->seq != state->seq + 1) /* no overflow: state->seq < event->seq */
        return ACCOUNT_SEQ_GAP;

    switch (event->type) {
        case LEDGER_EVENT_ACCOUNT_OPENED:
            state->status = ACCOUNT_OPEN;
            state->overdraft = event->amount;
            break;
        case LEDGER_EVENT_ACCOUNT_CLOSED:
            state->status = ACCOUNT_CLOSED;
            break;
        default:
            state->balance = saturating_add(state->balance, ledger_event_balance_delta(event));
            break;
    }
    state->seq = event->seq;
    return ACCOUNT_APPLIED;
}
