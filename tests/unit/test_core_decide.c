/*
 * test_core_decide.c - every rule and rejection of SPEC section 5, the
 * precedence of reasons, and the credit/return sides of a transfer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "decide.h"
#include "model.h"
#include "money.h"

#define NOW INT64_C(1795687200000) /* 2026-11-26T10:00:00Z */

static const account_state NONE_STATE = {ACCOUNT_NONE, 0, 0, 0};

static account_state open_state(int64_t balance, int64_t overdraft) {
    return model_state(ACCOUNT_OPEN, balance, overdraft, 5);
}

static account_state closed_state(void) {
    return model_state(ACCOUNT_CLOSED, 0, 0, 9);
}

/* Decides into an event pre-filled with garbage, to check it is zeroed on
 * rejection. */
static ledger_reason decide(account_state state, ledger_command cmd, ledger_event *event) {
    ledger_decide_ids ids = model_ids(NOW);
    memset(event, 0xab, sizeof *event);
    return ledger_decide(&state, &cmd, &ids, event);
}

static ledger_reason reason_of(account_state state, ledger_command cmd) {
    ledger_event e;
    ledger_reason r = decide(state, cmd, &e);
    if (r != LEDGER_OK)
        cr_expect(model_all_zero(&e, sizeof e), "event not zeroed on %s", ledger_reason_name(r));
    return r;
}

#define expect_reason(state, cmd, want)                                                            \
    do {                                                                                           \
        ledger_reason got_ = reason_of((state), (cmd));                                            \
        cr_expect_eq(got_, (want), "line %d: got %s, want %s", __LINE__, ledger_reason_name(got_), \
                     ledger_reason_name(want));                                                    \
    } while (0)

/* ---- open ---------------------------------------------------------------- */

Test(decide_open, opens_a_new_account_with_its_overdraft) {
    ledger_command c = model_command("c1", LEDGER_COMMAND_OPEN, "A", NULL, 5000);
    c.has_at = true;
    c.at_ms = 1234;
    ledger_event e;
    cr_assert_eq(decide(NONE_STATE, c, &e), LEDGER_OK);
    cr_expect_eq(e.type, LEDGER_EVENT_ACCOUNT_OPENED);
    cr_expect_str_eq(e.account, "A");
    cr_expect_eq(e.amount, 5000);
    cr_expect_eq(e.seq, 1);
    cr_expect_eq(e.at_ms, 1234);
    cr_expect_str_eq(e.command_id, "c1");
    cr_expect_str_eq(e.event_id, MODEL_EVENT_ID);
    cr_expect_str_eq(e.counterparty, "");
    cr_expect_str_eq(e.transfer_id, "");
}

Test(decide_open, overdraft_zero_and_max_allowed_negative_and_above_max_not) {
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, 0), LEDGER_OK);
    expect_reason(NONE_STATE,
                  model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, MONEY_MAX_COMMAND_CENTS),
                  LEDGER_OK);
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, -1),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(NONE_STATE,
                  model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, MONEY_MAX_COMMAND_CENTS + 1),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, INT64_MIN),
                  LEDGER_INVALID_AMOUNT);
}

Test(decide_open, an_account_that_ever_existed_exists) {
    ledger_command c = model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, 0);
    expect_reason(open_state(0, 0), c, LEDGER_ACCOUNT_EXISTS);
    expect_reason(closed_state(), c, LEDGER_ACCOUNT_EXISTS);
}

/* ---- deposit --------------------------------------------------------------- */

Test(decide_deposit, deposits_into_an_open_account) {
    ledger_command c = model_command("dep-1", LEDGER_COMMAND_DEPOSIT, "A", "ignored", 1050);
    ledger_event e;
    cr_assert_eq(decide(open_state(100, 0), c, &e), LEDGER_OK);
    cr_expect_eq(e.type, LEDGER_EVENT_MONEY_DEPOSITED);
    cr_expect_eq(e.amount, 1050);
    cr_expect_eq(e.seq, 6, "seq must be state.seq + 1");
    cr_expect_eq(e.at_ms, NOW, "no `at`: the caller's now");
    cr_expect_str_eq(e.command_id, "dep-1");
    cr_expect_str_eq(e.counterparty, "", "`to` is not part of a deposit");
}

Test(decide_deposit, rejections) {
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100),
                  LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(closed_state(), model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100),
                  LEDGER_ACCOUNT_CLOSED);
    expect_reason(open_state(0, 0), model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 0),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(open_state(0, 0), model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, -100),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(open_state(0, 0),
                  model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, MONEY_MAX_COMMAND_CENTS),
                  LEDGER_OK);
    expect_reason(
        open_state(0, 0),
        model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, MONEY_MAX_COMMAND_CENTS + 1),
        LEDGER_INVALID_AMOUNT);
}

Test(decide_deposit, a_balance_that_would_overflow_is_an_invalid_amount) {
    expect_reason(open_state(INT64_MAX - 99, 0),
                  model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 99), LEDGER_OK);
    expect_reason(open_state(INT64_MAX - 99, 0),
                  model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100),
                  LEDGER_INVALID_AMOUNT);
}

/* ---- withdraw -------------------------------------------------------------- */

Test(decide_withdraw, down_to_exactly_minus_overdraft_and_not_a_cent_more) {
    /* balance 10.00, overdraft 5.00: 15.00 may go, 15.01 may not. */
    ledger_event e;
    cr_assert_eq(decide(open_state(1000, 500),
                        model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 1500), &e),
                 LEDGER_OK);
    cr_expect_eq(e.type, LEDGER_EVENT_MONEY_WITHDRAWN);
    cr_expect_eq(e.amount, 1500);
    expect_reason(open_state(1000, 500),
                  model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 1501),
                  LEDGER_INSUFFICIENT_FUNDS);
    expect_reason(open_state(0, 0), model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 1),
                  LEDGER_INSUFFICIENT_FUNDS);
    expect_reason(open_state(1, 0), model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 1),
                  LEDGER_OK);
    /* Already overdrawn to the limit. */
    expect_reason(open_state(-500, 500), model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 1),
                  LEDGER_INSUFFICIENT_FUNDS);
}

Test(decide_withdraw, extreme_states_do_not_overflow) {
    /* A balance near INT64_MIN (a state the decider would not produce, but
     * one a caller may pass) is insufficient rather than undefined. */
    expect_reason(model_state(ACCOUNT_OPEN, INT64_MIN + 5, 0, 1),
                  model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, 100),
                  LEDGER_INSUFFICIENT_FUNDS);
    expect_reason(model_state(ACCOUNT_OPEN, INT64_MAX, INT64_MAX, 1),
                  model_command("w", LEDGER_COMMAND_WITHDRAW, "A", NULL, MONEY_MAX_COMMAND_CENTS),
                  LEDGER_OK);
}

Test(decide_withdraw, rejections_as_deposit) {
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, 100),
                  LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(closed_state(), model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, 100),
                  LEDGER_ACCOUNT_CLOSED);
    expect_reason(open_state(1000, 0), model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, 0),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(
        open_state(1000, 0),
        model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, MONEY_MAX_COMMAND_CENTS + 1),
        LEDGER_INVALID_AMOUNT);
}

/* ---- transfer -------------------------------------------------------------- */

Test(decide_transfer, sends_from_the_debited_account) {
    ledger_command c = model_command("t1", LEDGER_COMMAND_TRANSFER, "A", "B", 700);
    c.has_at = true;
    c.at_ms = 99;
    ledger_event e;
    cr_assert_eq(decide(open_state(1000, 0), c, &e), LEDGER_OK);
    cr_expect_eq(e.type, LEDGER_EVENT_TRANSFER_SENT);
    cr_expect_str_eq(e.account, "A");
    cr_expect_str_eq(e.counterparty, "B");
    cr_expect_str_eq(e.transfer_id, MODEL_TRANSFER_ID);
    cr_expect_str_eq(e.event_id, MODEL_EVENT_ID);
    cr_expect_str_eq(e.command_id, "t1");
    cr_expect_eq(e.amount, 700);
    cr_expect_eq(e.seq, 6);
    cr_expect_eq(e.at_ms, 99);
}

Test(decide_transfer, rejections) {
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "A", 100),
                  LEDGER_SAME_ACCOUNT);
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "", 100),
                  LEDGER_INVALID_ACCOUNT);
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B C", 100),
                  LEDGER_INVALID_ACCOUNT);
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B", 1001),
                  LEDGER_INSUFFICIENT_FUNDS);
    expect_reason(open_state(1000, 1), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B", 1001),
                  LEDGER_OK);
    expect_reason(NONE_STATE, model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B", 100),
                  LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(closed_state(), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B", 100),
                  LEDGER_ACCOUNT_CLOSED);
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "B", 0),
                  LEDGER_INVALID_AMOUNT);
    /* Case matters: "a" and "A" are different accounts. */
    expect_reason(open_state(1000, 0), model_command("t", LEDGER_COMMAND_TRANSFER, "A", "a", 100),
                  LEDGER_OK);
}

/* ---- close ----------------------------------------------------------------- */

Test(decide_close, closes_at_exactly_zero) {
    ledger_event e;
    cr_assert_eq(
        decide(open_state(0, 700), model_command("x", LEDGER_COMMAND_CLOSE, "A", NULL, 55), &e),
        LEDGER_OK);
    cr_expect_eq(e.type, LEDGER_EVENT_ACCOUNT_CLOSED);
    cr_expect_eq(e.amount, 0, "a close carries no amount");
    cr_expect_eq(e.seq, 6);
}

Test(decide_close, rejections) {
    ledger_command c = model_command("x", LEDGER_COMMAND_CLOSE, "A", NULL, 0);
    expect_reason(open_state(1, 0), c, LEDGER_NONZERO_BALANCE);
    expect_reason(open_state(-1, 10), c, LEDGER_NONZERO_BALANCE);
    expect_reason(NONE_STATE, c, LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(closed_state(), c, LEDGER_ACCOUNT_CLOSED);
    /* The amount field of a close is not looked at. */
    c.amount = -5;
    expect_reason(open_state(0, 0), c, LEDGER_OK);
}

/* ---- malformed and invalid ids -------------------------------------------- */

Test(decide_malformed, unknown_type_or_bad_command_id) {
    account_state s = open_state(1000, 0);
    expect_reason(s, model_command("c", LEDGER_COMMAND_NONE, "A", NULL, 100),
                  LEDGER_MALFORMED_COMMAND);
    expect_reason(s, model_command("c", (ledger_command_type)6, "A", NULL, 100),
                  LEDGER_MALFORMED_COMMAND);
    expect_reason(s, model_command("c", (ledger_command_type)-1, "A", NULL, 100),
                  LEDGER_MALFORMED_COMMAND);
    expect_reason(s, model_command("", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100),
                  LEDGER_MALFORMED_COMMAND);
    expect_reason(s, model_command("a\tb", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100),
                  LEDGER_MALFORMED_COMMAND);

    ledger_command c = model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100);
    memset(c.id, 'x', sizeof c.id); /* 129 bytes of id then no terminator */
    expect_reason(s, c, LEDGER_MALFORMED_COMMAND);
    memset(c.id, 0, sizeof c.id);
    memset(c.id, 'x', LEDGER_COMMAND_ID_MAX);
    expect_reason(s, c, LEDGER_OK);
}

Test(decide_malformed, invalid_account_ids) {
    account_state s = open_state(1000, 0);
    expect_reason(s, model_command("c", LEDGER_COMMAND_DEPOSIT, "", NULL, 100),
                  LEDGER_INVALID_ACCOUNT);
    expect_reason(s, model_command("c", LEDGER_COMMAND_DEPOSIT, "a b", NULL, 100),
                  LEDGER_INVALID_ACCOUNT);
    ledger_command c = model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 100);
    memset(c.account, 'a', sizeof c.account); /* unterminated: read as too long */
    expect_reason(s, c, LEDGER_INVALID_ACCOUNT);
    memset(c.account, 0, sizeof c.account);
    memset(c.account, 'a', LEDGER_ACCOUNT_MAX + 1); /* 65: one too many */
    expect_reason(s, c, LEDGER_INVALID_ACCOUNT);
    c.account[LEDGER_ACCOUNT_MAX] = '\0'; /* 64 */
    expect_reason(s, c, LEDGER_OK);
    /* `to` is only looked at for transfers. */
    expect_reason(s, model_command("c", LEDGER_COMMAND_DEPOSIT, "A", "not valid!", 100), LEDGER_OK);
}

/* ---- precedence ------------------------------------------------------------ */

/* Every combination of faults on a transfer gives the first reason of SPEC
 * section 5's order; the expectation below is written from the SPEC list, not
 * from the implementation. */
Test(decide_precedence, every_combination_of_transfer_faults) {
    int checked = 0;
    for (int bits = 0; bits < 64; bits++) {
        bool bad_id = bits & 1, bad_account = bits & 2, bad_to = bits & 4, bad_amount = bits & 8,
             same = bits & 16, short_of_funds = bits & 32;
        for (int st = 0; st < 3; st++) {
            account_status status = st == 0   ? ACCOUNT_OPEN
                                    : st == 1 ? ACCOUNT_NONE
                                              : ACCOUNT_CLOSED;
            const char *account = bad_account ? "bad account" : "A";
            const char *to = bad_to ? "bad/to" : same ? account : "B";
            int64_t amount = bad_amount ? 0 : short_of_funds ? 2000 : 100;
            ledger_command c =
                model_command(bad_id ? "" : "c1", LEDGER_COMMAND_TRANSFER, account, to, amount);
            account_state s = model_state(status, status == ACCOUNT_NONE ? 0 : 1000, 0, 3);

            ledger_reason want = LEDGER_OK;
            if (bad_id)
                want = LEDGER_MALFORMED_COMMAND;
            else if (bad_account || bad_to)
                want = LEDGER_INVALID_ACCOUNT;
            else if (bad_amount)
                want = LEDGER_INVALID_AMOUNT;
            else if (same)
                want = LEDGER_SAME_ACCOUNT;
            else if (status == ACCOUNT_NONE)
                want = LEDGER_NO_SUCH_ACCOUNT;
            else if (status == ACCOUNT_CLOSED)
                want = LEDGER_ACCOUNT_CLOSED;
            else if (short_of_funds)
                want = LEDGER_INSUFFICIENT_FUNDS;

            ledger_reason got = reason_of(s, c);
            cr_expect_eq(got, want, "faults 0x%x status %d: got %s, want %s", bits, (int)status,
                         ledger_reason_name(got), ledger_reason_name(want));
            checked++;
        }
    }
    cr_assert_eq(checked, 192);
}

Test(decide_precedence, open_and_close_orders) {
    /* open: invalid_amount before account_exists; invalid_account before both. */
    expect_reason(open_state(0, 0), model_command("c", LEDGER_COMMAND_OPEN, "A", NULL, -1),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(open_state(0, 0), model_command("c", LEDGER_COMMAND_OPEN, "A!", NULL, -1),
                  LEDGER_INVALID_ACCOUNT);
    expect_reason(open_state(0, 0), model_command("", LEDGER_COMMAND_OPEN, "A!", NULL, -1),
                  LEDGER_MALFORMED_COMMAND);
    /* close: account_closed before nonzero_balance, no_such_account before it. */
    expect_reason(model_state(ACCOUNT_CLOSED, 100, 0, 4),
                  model_command("c", LEDGER_COMMAND_CLOSE, "A", NULL, 0), LEDGER_ACCOUNT_CLOSED);
    expect_reason(model_state(ACCOUNT_NONE, 100, 0, 0),
                  model_command("c", LEDGER_COMMAND_CLOSE, "A", NULL, 0), LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(model_state(ACCOUNT_OPEN, 100, 0, 0),
                  model_command("c", LEDGER_COMMAND_CLOSE, "A!", NULL, 0), LEDGER_INVALID_ACCOUNT);
    /* deposit: invalid_amount before no_such_account and account_closed. */
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, 0),
                  LEDGER_INVALID_AMOUNT);
    expect_reason(closed_state(), model_command("c", LEDGER_COMMAND_DEPOSIT, "A", NULL, -3),
                  LEDGER_INVALID_AMOUNT);
    /* withdraw: no_such_account / account_closed before insufficient_funds. */
    expect_reason(NONE_STATE, model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, 100),
                  LEDGER_NO_SUCH_ACCOUNT);
    expect_reason(closed_state(), model_command("c", LEDGER_COMMAND_WITHDRAW, "A", NULL, 100),
                  LEDGER_ACCOUNT_CLOSED);
}

/* ---- credit and return ----------------------------------------------------- */

static ledger_event sent_event(void) {
    ledger_event sent = model_event(LEDGER_EVENT_TRANSFER_SENT, "A", 4, 777, 250);
    ledger_id_copy(sent.counterparty, sizeof sent.counterparty, "B");
    ledger_id_copy(sent.transfer_id, sizeof sent.transfer_id, MODEL_TRANSFER_ID);
    ledger_id_copy(sent.command_id, sizeof sent.command_id, "t-9");
    return sent;
}

Test(decide_credit, credits_an_open_recipient_with_the_senders_at) {
    ledger_event sent = sent_event();
    account_state to = model_state(ACCOUNT_OPEN, 10, 0, 11);
    ledger_event r;
    memset(&r, 0xab, sizeof r);
    const char *id = "11111111-2222-4333-8444-555555555555";
    cr_assert_eq(ledger_decide_credit(&to, &sent, id, &r), LEDGER_OK);
    cr_expect_eq(r.type, LEDGER_EVENT_TRANSFER_RECEIVED);
    cr_expect_str_eq(r.account, "B");
    cr_expect_str_eq(r.counterparty, "A");
    cr_expect_str_eq(r.transfer_id, MODEL_TRANSFER_ID);
    cr_expect_str_eq(r.event_id, id);
    cr_expect_str_eq(r.command_id, "t-9");
    cr_expect_eq(r.seq, 12);
    cr_expect_eq(r.at_ms, 777);
    cr_expect_eq(r.amount, 250);
    cr_expect_eq(r.reason, LEDGER_OK);
}

Test(decide_credit, refuses_missing_closed_overflowing_and_non_transfers) {
    ledger_event sent = sent_event();
    ledger_event r;
    account_state none = NONE_STATE, closed = closed_state();
    account_state full = model_state(ACCOUNT_OPEN, INT64_MAX - 249, 0, 2);

    memset(&r, 0xab, sizeof r);
    cr_expect_eq(ledger_decide_credit(&none, &sent, "e", &r), LEDGER_NO_SUCH_ACCOUNT);
    cr_expect(model_all_zero(&r, sizeof r));
    memset(&r, 0xab, sizeof r);
    cr_expect_eq(ledger_decide_credit(&closed, &sent, "e", &r), LEDGER_ACCOUNT_CLOSED);
    cr_expect(model_all_zero(&r, sizeof r));
    memset(&r, 0xab, sizeof r);
    cr_expect_eq(ledger_decide_credit(&full, &sent, "e", &r), LEDGER_INVALID_AMOUNT);
    cr_expect(model_all_zero(&r, sizeof r));
    full.balance--;
    cr_expect_eq(ledger_decide_credit(&full, &sent, "e", &r), LEDGER_OK);

    account_state open = open_state(0, 0);
    ledger_event not_sent = sent;
    not_sent.type = LEDGER_EVENT_MONEY_WITHDRAWN;
    cr_expect_eq(ledger_decide_credit(&open, &not_sent, "e", &r), LEDGER_MALFORMED_COMMAND);
}

Test(decide_return, returns_to_the_sender_with_the_reason) {
    ledger_event sent = sent_event();
    account_state from = model_state(ACCOUNT_OPEN, 750, 0, 4); /* after the TransferSent */
    ledger_event r;
    memset(&r, 0xab, sizeof r);
    const char *id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    ledger_decide_return(&from, &sent, LEDGER_ACCOUNT_CLOSED, id, &r);
    cr_expect_eq(r.type, LEDGER_EVENT_TRANSFER_RETURNED);
    cr_expect_str_eq(r.account, "A");
    cr_expect_str_eq(r.counterparty, "B", "a return names the intended recipient");
    cr_expect_str_eq(r.transfer_id, MODEL_TRANSFER_ID);
    cr_expect_str_eq(r.event_id, id);
    cr_expect_str_eq(r.command_id, "t-9");
    cr_expect_eq(r.seq, 5);
    cr_expect_eq(r.at_ms, 777);
    cr_expect_eq(r.amount, 250);
    cr_expect_eq(r.reason, LEDGER_ACCOUNT_CLOSED);
    cr_expect_str_eq(r.memo, "");
}

Test(decide, the_same_inputs_give_byte_identical_events) {
    ledger_command c = model_command("t1", LEDGER_COMMAND_TRANSFER, "A", "B", 700);
    ledger_event e1, e2;
    memset(&e1, 0x11, sizeof e1);
    memset(&e2, 0x22, sizeof e2);
    account_state s = open_state(1000, 0);
    ledger_decide_ids ids = model_ids(NOW);
    cr_assert_eq(ledger_decide(&s, &c, &ids, &e1), LEDGER_OK);
    cr_assert_eq(ledger_decide(&s, &c, &ids, &e2), LEDGER_OK);
    cr_expect(memcmp(&e1, &e2, sizeof e1) == 0);
}
