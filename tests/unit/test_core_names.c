/*
 * test_core_names.c - the frozen names: reasons (and their precedence order),
 * command types, event types, statement entry types and fraud rules.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "command.h"
#include "event.h"
#include "fraud.h"
#include "reason.h"
#include "statement.h"

Test(names, reasons_in_the_spec_precedence_order) {
    /* SPEC section 5: "the first in this order is given". */
    static const char *const spec_order[] = {
        "ok",
        "malformed_command",
        "invalid_account",
        "invalid_amount",
        "same_account",
        "no_such_account",
        "account_exists",
        "account_closed",
        "insufficient_funds",
        "nonzero_balance",
    };
    cr_assert_eq(sizeof spec_order / sizeof spec_order[0], (size_t)LEDGER_REASON_COUNT_);
    for (int i = 0; i < LEDGER_REASON_COUNT_; i++) {
        const char *name = ledger_reason_name((ledger_reason)i);
        cr_assert_not_null(name);
        cr_expect_str_eq(name, spec_order[i]);
        ledger_reason back = LEDGER_REASON_COUNT_;
        cr_expect_eq(ledger_reason_from_name(spec_order[i], &back), 0);
        cr_expect_eq(back, (ledger_reason)i);
    }
    cr_expect_null(ledger_reason_name(LEDGER_REASON_COUNT_));
    cr_expect_null(ledger_reason_name((ledger_reason)-1));
    ledger_reason out = LEDGER_OK;
    cr_expect_eq(ledger_reason_from_name("insufficient funds", &out), -1);
    cr_expect_eq(ledger_reason_from_name("", &out), -1);
    cr_expect_eq(ledger_reason_from_name(NULL, &out), -1);
}

Test(names, command_types) {
    static const char *const names[] = {NULL, "open", "deposit", "withdraw", "transfer", "close"};
    for (int i = 1; i <= LEDGER_COMMAND_CLOSE; i++) {
        cr_expect_str_eq(ledger_command_type_name((ledger_command_type)i), names[i]);
        cr_expect_eq(ledger_command_type_from_name(names[i]), (ledger_command_type)i);
    }
    cr_expect_null(ledger_command_type_name(LEDGER_COMMAND_NONE));
    cr_expect_null(ledger_command_type_name((ledger_command_type)6));
    cr_expect_eq(ledger_command_type_from_name("Open"), LEDGER_COMMAND_NONE);
    cr_expect_eq(ledger_command_type_from_name("withdrawal"), LEDGER_COMMAND_NONE);
    cr_expect_eq(ledger_command_type_from_name(NULL), LEDGER_COMMAND_NONE);
}

Test(names, event_types) {
    static const char *const names[] = {
        NULL,           "AccountOpened",    "MoneyDeposited",   "MoneyWithdrawn",
        "TransferSent", "TransferReceived", "TransferReturned", "AccountClosed"};
    for (int i = 1; i <= LEDGER_EVENT_ACCOUNT_CLOSED; i++) {
        cr_expect_str_eq(ledger_event_type_name((ledger_event_type)i), names[i]);
        cr_expect_eq(ledger_event_type_from_name(names[i]), (ledger_event_type)i);
    }
    cr_expect_null(ledger_event_type_name(LEDGER_EVENT_NONE));
    cr_expect_null(ledger_event_type_name((ledger_event_type)8));
    cr_expect_eq(ledger_event_type_from_name("accountopened"), LEDGER_EVENT_NONE);
}

Test(names, statement_entry_types_and_fraud_rules) {
    cr_expect_str_eq(statement_entry_type_name(STATEMENT_DEPOSIT), "deposit");
    cr_expect_str_eq(statement_entry_type_name(STATEMENT_WITHDRAWAL), "withdrawal");
    cr_expect_str_eq(statement_entry_type_name(STATEMENT_TRANSFER_SENT), "transfer_sent");
    cr_expect_str_eq(statement_entry_type_name(STATEMENT_TRANSFER_RECEIVED), "transfer_received");
    cr_expect_str_eq(statement_entry_type_name(STATEMENT_TRANSFER_RETURNED), "transfer_returned");
    cr_expect_null(statement_entry_type_name(STATEMENT_NONE));
    cr_expect_null(statement_entry_type_name((statement_entry_type)6));

    cr_expect_str_eq(fraud_rule_name(FRAUD_LARGE_DEBIT), "large_debit");
    cr_expect_str_eq(fraud_rule_name(FRAUD_VELOCITY), "velocity");
    cr_expect_str_eq(fraud_rule_name(FRAUD_NEW_PAYEE), "new_payee");
    cr_expect_null(fraud_rule_name((fraud_rule)3));
}

Test(names, event_signs_and_debits) {
    ledger_event e;
    ledger_event_init(&e);
    e.amount = 700;
    static const struct {
        ledger_event_type type;
        int64_t delta;
        bool debit;
    } cases[] = {
        {LEDGER_EVENT_ACCOUNT_OPENED, 0, false},      {LEDGER_EVENT_MONEY_DEPOSITED, 700, false},
        {LEDGER_EVENT_MONEY_WITHDRAWN, -700, true},   {LEDGER_EVENT_TRANSFER_SENT, -700, true},
        {LEDGER_EVENT_TRANSFER_RECEIVED, 700, false}, {LEDGER_EVENT_TRANSFER_RETURNED, 700, false},
        {LEDGER_EVENT_ACCOUNT_CLOSED, 0, false},      {LEDGER_EVENT_NONE, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        e.type = cases[i].type;
        cr_expect_eq(ledger_event_balance_delta(&e), cases[i].delta, "type %d", (int)e.type);
        cr_expect_eq(ledger_event_is_debit(&e), cases[i].debit, "type %d", (int)e.type);
    }
}
