/*
 * model.c - builders for the core's unit tests (see model.h).
 */
#include "model.h"

#include <string.h>

ledger_command model_command(const char *id, ledger_command_type type, const char *account,
                             const char *to, int64_t amount) {
    ledger_command c;
    ledger_command_init(&c);
    ledger_id_copy(c.id, sizeof c.id, id);
    c.type = type;
    ledger_id_copy(c.account, sizeof c.account, account);
    ledger_id_copy(c.to, sizeof c.to, to);
    c.amount = amount;
    return c;
}

account_state model_state(account_status status, int64_t balance, int64_t overdraft, int64_t seq) {
    account_state s;
    account_init(&s);
    s.status = status;
    s.balance = balance;
    s.overdraft = overdraft;
    s.seq = seq;
    return s;
}

ledger_event model_event(ledger_event_type type, const char *account, int64_t seq, int64_t at_ms,
                         int64_t amount) {
    ledger_event e;
    ledger_event_init(&e);
    ledger_id_copy(e.event_id, sizeof e.event_id, MODEL_EVENT_ID);
    ledger_id_copy(e.account, sizeof e.account, account);
    e.type = type;
    e.seq = seq;
    e.at_ms = at_ms;
    e.amount = amount;
    return e;
}

ledger_decide_ids model_ids(int64_t now_ms) {
    ledger_decide_ids ids = {MODEL_EVENT_ID, MODEL_TRANSFER_ID, now_ms};
    return ids;
}

int model_all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return 0;
    }
    return 1;
}
