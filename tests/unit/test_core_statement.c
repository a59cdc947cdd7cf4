/*
 * test_core_statement.c - statement lines and month totals (SPEC section 7),
 * including two months either side of a month boundary.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ltime.h"
#include "model.h"
#include "statement.h"

#define OCT_LAST_MS  INT64_C(1793491199999) /* 2026-10-31T23:59:59.999Z */
#define NOV_FIRST_MS INT64_C(1793491200000) /* 2026-11-01T00:00:00Z */
#define OCT_2026     (2026 * 12 + 9)
#define NOV_2026     (2026 * 12 + 10)

static ledger_event transfer(ledger_event_type type, int64_t seq, int64_t at, int64_t amount,
                             const char *counterparty) {
    ledger_event e = model_event(type, "A", seq, at, amount);
    ledger_id_copy(e.counterparty, sizeof e.counterparty, counterparty);
    ledger_id_copy(e.transfer_id, sizeof e.transfer_id, MODEL_TRANSFER_ID);
    return e;
}

Test(statement_line, one_line_per_money_movement_with_signed_amounts) {
    static const struct {
        ledger_event_type type;
        statement_entry_type entry;
        int64_t amount;
        bool transfer;
    } cases[] = {
        {LEDGER_EVENT_MONEY_DEPOSITED, STATEMENT_DEPOSIT, 1000, false},
        {LEDGER_EVENT_MONEY_WITHDRAWN, STATEMENT_WITHDRAWAL, -1000, false},
        {LEDGER_EVENT_TRANSFER_SENT, STATEMENT_TRANSFER_SENT, -1000, true},
        {LEDGER_EVENT_TRANSFER_RECEIVED, STATEMENT_TRANSFER_RECEIVED, 1000, true},
        {LEDGER_EVENT_TRANSFER_RETURNED, STATEMENT_TRANSFER_RETURNED, 1000, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Every event carries a counterparty here: non-transfers must drop it. */
        ledger_event e = transfer(cases[i].type, 4, NOV_FIRST_MS, 1000, "B");
        statement_line line;
        memset(&line, 0x5a, sizeof line);
        cr_assert(statement_line_of(&e, 250, &line), "case %zu", i);
        cr_expect_eq(line.type, cases[i].entry, "case %zu", i);
        cr_expect_eq(line.amount, cases[i].amount, "case %zu", i);
        cr_expect_eq(line.balance_after, 250 + cases[i].amount, "case %zu", i);
        cr_expect_eq(line.seq, 4);
        cr_expect_eq(line.at_ms, NOV_FIRST_MS);
        cr_expect_eq(line.month, NOV_2026);
        cr_expect_str_eq(line.counterparty, cases[i].transfer ? "B" : "", "case %zu", i);
        cr_expect_str_eq(line.transfer_id, cases[i].transfer ? MODEL_TRANSFER_ID : "", "case %zu",
                         i);
    }
}

Test(statement_line, no_line_for_events_that_move_no_money) {
    static const ledger_event_type types[] = {LEDGER_EVENT_ACCOUNT_OPENED,
                                              LEDGER_EVENT_ACCOUNT_CLOSED, LEDGER_EVENT_NONE};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        ledger_event e = model_event(types[i], "A", 1, 0, 500);
        statement_line line;
        memset(&line, 0x5a, sizeof line);
        cr_expect(!statement_line_of(&e, 0, &line));
        cr_expect(model_all_zero(&line, sizeof line));
    }
}

/* The account's events in log order, folded into months the way the
 * statements view does it: a new month starts from the carried balance. */
Test(statement_month, two_months_either_side_of_the_boundary) {
    const ledger_event events[] = {
        model_event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, OCT_LAST_MS - 3600000, 0),
        model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, OCT_LAST_MS - 1000, 10000),
        model_event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, OCT_LAST_MS, 1250),
        model_event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 4, NOV_FIRST_MS, 3000),
        transfer(LEDGER_EVENT_TRANSFER_RECEIVED, 5, NOV_FIRST_MS + 86400000, 1000, "B"),
        transfer(LEDGER_EVENT_TRANSFER_SENT, 6, NOV_FIRST_MS + 2 * 86400000, 500, "C"),
        transfer(LEDGER_EVENT_TRANSFER_RETURNED, 7, NOV_FIRST_MS + 2 * 86400000, 500, "C"),
    };
    statement_month months[2];
    int nmonths = 0;
    int64_t balance = 0;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        statement_line line;
        if (!statement_line_of(&events[i], balance, &line))
            continue;
        if (nmonths == 0 || months[nmonths - 1].month != line.month) {
            cr_assert_lt(nmonths, 2);
            statement_month_init(&months[nmonths], line.month, balance);
            nmonths++;
        }
        statement_month_add(&months[nmonths - 1], &line);
        balance = line.balance_after;
    }
    cr_assert_eq(nmonths, 2);

    /* October: +100.00 -12.50 = 87.50. */
    cr_expect_eq(months[0].month, OCT_2026);
    cr_expect_eq(months[0].opening_balance, 0);
    cr_expect_eq(months[0].total_in, 10000);
    cr_expect_eq(months[0].total_out, 1250);
    cr_expect_eq(months[0].closing_balance, 8750);
    cr_expect_eq(months[0].entries, 2);

    /* November opens at October's close: 87.50 -30.00 +10.00 -5.00 +5.00. */
    cr_expect_eq(months[1].month, NOV_2026);
    cr_expect_eq(months[1].opening_balance, months[0].closing_balance);
    cr_expect_eq(months[1].opening_balance, 8750);
    cr_expect_eq(months[1].total_in, 1500);
    cr_expect_eq(months[1].total_out, 3500);
    cr_expect_eq(months[1].closing_balance, 6750);
    cr_expect_eq(months[1].entries, 4);
    cr_expect_eq(balance, 6750);

    /* December has no entries: opening = closing = the carried balance. */
    statement_month dec;
    statement_month_init(&dec, NOV_2026 + 1, months[1].closing_balance);
    cr_expect_eq(dec.opening_balance, 6750);
    cr_expect_eq(dec.closing_balance, 6750);
    cr_expect_eq(dec.total_in, 0);
    cr_expect_eq(dec.total_out, 0);
    cr_expect_eq(dec.entries, 0);
    char buf[LTIME_TEXT_BUF];
    ltime_month_format(dec.month, buf, sizeof buf);
    cr_expect_str_eq(buf, "2026-12");
}

Test(statement_month, a_month_before_1970) {
    /* 1969-12-31T23:59:59.999Z belongs to December 1969, not January 1970. */
    ledger_event e = model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, -1, 100);
    statement_line line;
    cr_assert(statement_line_of(&e, 0, &line));
    cr_expect_eq(line.month, 1969 * 12 + 11);
}
