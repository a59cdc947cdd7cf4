/*
 * reason.c - the names of rejection reasons.
 *
 * A table indexed by the enum, so that the name of a reason and its place in
 * the precedence order (the enum order) cannot drift apart.
 */
#include "reason.h"

#include <string.h>

static const char *const reason_names[LEDGER_REASON_COUNT_] = {
    [LEDGER_OK] = "ok",
    [LEDGER_MALFORMED_COMMAND] = "malformed_command",
    [LEDGER_INVALID_ACCOUNT] = "invalid_account",
    [LEDGER_INVALID_AMOUNT] = "invalid_amount",
    [LEDGER_SAME_ACCOUNT] = "same_account",
    [LEDGER_NO_SUCH_ACCOUNT] = "no_such_account",
    [LEDGER_ACCOUNT_EXISTS] = "account_exists",
    [LEDGER_ACCOUNT_CLOSED] = "account_closed",
    [LEDGER_INSUFFICIENT_FUNDS] = "insufficient_funds",
    [LEDGER_NONZERO_BALANCE] = "nonzero_balance",
};

const char *ledger_reason_name(ledger_reason reason) {
    if ((int)reason < 0 || (int)reason >= LEDGER_REASON_COUNT_)
        return NULL;
    return reason_names[reason];
}

int ledger_reason_from_name(const char *name, ledger_reason *out) {
    if (name == NULL)
        return -1;
    for (int i = 0; i < LEDGER_REASON_COUNT_; i++) {
        if (strcmp(name, reason_names[i]) == 0) {
            *out = (ledger_reason)i;
            return 0;
        }
    }
    return -1;
}
