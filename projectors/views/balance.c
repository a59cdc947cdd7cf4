/*
 * balance.c - the balance view: one hash per account holding what
 * account_apply folds (balance, version = last seq, status, overdraft).
 *
 * Per batch and account: one HMGET (read_account; skipped when the runtime
 * kept the account's state from its last batch: state_size), then the fold
 * of the batch's events from the stored state, and one HSET of the result
 * (apply_account). Events at or below the stored version are skipped, so a
 * batch replayed after a crash changes nothing; a gap in the seqs means an
 * event is missing from what this view saw, which must never be papered
 * over: the account is refused (and the runtime holds it).
 */
#include "balance_view.h"

#include <stdio.h>
#include <string.h>

#include "projector_keys.h"
#include "text_cursor.h"

const char *const balance_view_fields[BALANCE_VIEW_FIELD_COUNT] = {"balance", "version", "status",
                                                                   "overdraft"};

static const char *status_name(account_status status) {
    switch (status) {
        case ACCOUNT_OPEN:
            return "open";
        case ACCOUNT_CLOSED:
            return "closed";
        case ACCOUNT_NONE:
            break;
    }
    return "none";
}

int balance_view_parse_state(const redisReply *reply, account_state *state, bool *found,
                             char *errstr, size_t errstr_size) {
    account_init(state);
    *found = false;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != BALANCE_VIEW_FIELD_COUNT) {
        snprintf(errstr, errstr_size, "unexpected reply to HMGET of the balance state");
        return -1;
    }
    size_t nil = 0;
    for (size_t i = 0; i < BALANCE_VIEW_FIELD_COUNT; i++)
        nil += reply->element[i]->type == REDIS_REPLY_NIL;
    if (nil == BALANCE_VIEW_FIELD_COUNT)
        return 0;
    int64_t values[BALANCE_VIEW_FIELD_COUNT] = {0};
    for (size_t i = 0; i < BALANCE_VIEW_FIELD_COUNT; i++) {
        const redisReply *r = reply->element[i];
        if (r->type != REDIS_REPLY_STRING) {
            snprintf(errstr, errstr_size, "invalid balance state: field '%s' is missing",
                     balance_view_fields[i]);
            return -1;
        }
        if (i == 2)
            continue;
        if (text_int_parse(r->str, r->len, &values[i]) != 0) {
            snprintf(errstr, errstr_size, "invalid balance state: field '%s' is '%.*s'",
                     balance_view_fields[i], (int)(r->len > 32 ? 32 : r->len), r->str);
            return -1;
        }
    }
    const redisReply *st = reply->element[2];
    if (st->len == 4 && memcmp(st->str, "open", 4) == 0)
        state->status = ACCOUNT_OPEN;
    else if (st->len == 6 && memcmp(st->str, "closed", 6) == 0)
        state->status = ACCOUNT_CLOSED;
    else if (st->len == 4 && memcmp(st->str, "none", 4) == 0)
        state->status = ACCOUNT_NONE;
    else {
        snprintf(errstr, errstr_size, "invalid balance state: field 'status' is '%.*s'",
                 (int)(st->len > 32 ? 32 : st->len), st->str);
        return -1;
    }
    if (values[1] < 0 || values[3] < 0) {
        snprintf(errstr, errstr_size, "invalid balance state: negative version or overdraft");
        return -1;
    }
    state->balance = values[0];
    state->seq = values[1];
    state->overdraft = values[3];
    *found = true;
    return 0;
}

static size_t balance_read(const void *cfg, view_batch *batch, const view_account_input *in) {
    (void)cfg;
    if (in->cached != NULL)
        return 0; /* the kept state is the whole stored state */
    char key[PROJECTOR_KEY_BUF];
    size_t key_len =
        view_batch_account_key(batch, in->account, BALANCE_VIEW_SUFFIX, key, sizeof(key));
    const char *argv[2 + BALANCE_VIEW_FIELD_COUNT] = {"HMGET", key};
    size_t lens[2 + BALANCE_VIEW_FIELD_COUNT] = {5, key_len};
    for (size_t i = 0; i < BALANCE_VIEW_FIELD_COUNT; i++) {
        argv[2 + i] = balance_view_fields[i];
        lens[2 + i] = strlen(balance_view_fields[i]);
    }
    view_batch_read(batch, 2 + BALANCE_VIEW_FIELD_COUNT, argv, lens);
    return 1;
}

static int balance_apply(const void *cfg, view_batch *batch, const view_account_input *in,
                         char *errstr, size_t errstr_size) {
    (void)cfg;
    account_state state;
    bool found;
    if (in->cached != NULL) {
        memcpy(&state, in->cached, sizeof(state));
        found = state.seq > 0; /* a stored hash always has version >= 1 */
    } else if (balance_view_parse_state(in->replies[0], &state, &found, errstr, errstr_size) != 0) {
        return -1;
    }
    account_state stored = state;
    bool changed = false;
    for (size_t i = 0; i < in->event_count; i++) {
        const ledger_event *e = &in->events[i];
        int64_t before = state.seq;
        switch (account_apply(&state, e)) {
            case ACCOUNT_APPLIED:
                changed = true;
                break;
            case ACCOUNT_DUPLICATE:
                break; /* already folded: a replayed batch */
            case ACCOUNT_SEQ_GAP:
                snprintf(errstr, errstr_size,
                         "seq gap in account '%s': expected seq %lld, got %lld", in->account,
                         (long long)before + 1, (long long)e->seq);
                return -1;
        }
    }
    if (in->state_out != NULL)
        memcpy(in->state_out, &state, sizeof(state));
    if (!changed)
        return 0;

    /* Only the fields that changed (balance and version nearly always; status
     * and overdraft when an account is opened or closed): the hash is the
     * same, and Redis parses half the arguments. */
    char key[PROJECTOR_KEY_BUF];
    char balance[TEXT_INT_BUF], version[TEXT_INT_BUF], overdraft[TEXT_INT_BUF];
    const char *argv[2 + 2 * BALANCE_VIEW_FIELD_COUNT] = {"HSET", key};
    size_t lens[2 + 2 * BALANCE_VIEW_FIELD_COUNT] = {4, 0};
    int argc = 2;
    lens[1] = view_batch_account_key(batch, in->account, BALANCE_VIEW_SUFFIX, key, sizeof(key));
    if (!found || state.balance != stored.balance) {
        argv[argc] = balance_view_fields[0];
        lens[argc++] = 7;
        argv[argc] = balance;
        lens[argc++] = text_int_format(state.balance, balance);
    }
    argv[argc] = balance_view_fields[1];
    lens[argc++] = 7;
    argv[argc] = version;
    lens[argc++] = text_int_format(state.seq, version);
    if (!found || state.status != stored.status) {
        const char *status = status_name(state.status);
        argv[argc] = balance_view_fields[2];
        lens[argc++] = 6;
        argv[argc] = status;
        lens[argc++] = strlen(status);
    }
    if (!found || state.overdraft != stored.overdraft) {
        argv[argc] = balance_view_fields[3];
        lens[argc++] = 9;
        argv[argc] = overdraft;
        lens[argc++] = text_int_format(state.overdraft, overdraft);
    }
    view_batch_write(batch, argc, argv, lens);
    return 0;
}

const projector_view balance_view = {
    .name = "balance",
    .help = "per account: balance, version (last seq), status, overdraft",
    .settings = NULL,
    .open = NULL,
    .close = NULL,
    .read_account = balance_read,
    .apply_account = balance_apply,
    .state_size = sizeof(account_state),
};
