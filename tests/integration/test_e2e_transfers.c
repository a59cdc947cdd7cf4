/*
 * test_e2e_transfers.c - transfers end to end through `ledger transfer`:
 * the command's result is the debit side (TransferSent, exit 0, naming the
 * transfer id); the credit side follows on the recipient's partition
 * (TransferReceived), or the amount comes back to the sender
 * (TransferReturned) when the recipient is missing or closed. The sender
 * and the recipient are on different partitions, chosen with the
 * producer's partitioner. `ledger history` of both then shows the balances
 * worked out here by hand.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kafka_test.h"
#include "test_e2e_support.h"

static e2e_env env;

static void setup(void) {
    e2e_setup(&env);
    e2e_start(&env, NULL);
}

static void teardown(void) {
    e2e_teardown(&env);
}

TestSuite(e2e_transfers, .init = setup, .fini = teardown, .timeout = 120);

#define LEDGER(want, ...) e2e_ledger_json(&env, (want), (const char *const[]){__VA_ARGS__, NULL})

/* The one event of `account` with `type` and `transfer_id`, waited for. */
static ph_event wait_transfer_event(const char *account, ledger_event_type type,
                                    const char *transfer_id, size_t events) {
    ph_wait_events(&env.ph, account, events);
    ph_event out[16];
    size_t n = ph_events_of(&env.ph, account, out, 16);
    const ph_event *found = NULL;
    for (size_t i = 0; i < n && i < 16; i++) {
        if (out[i].event.type == type && strcmp(out[i].event.transfer_id, transfer_id) == 0) {
            cr_assert_null(found, "two %s events of transfer '%s' on '%s'",
                           ledger_event_type_name(type), transfer_id, account);
            found = &out[i];
        }
    }
    cr_assert_not_null(found, "no %s of transfer '%s' on '%s'", ledger_event_type_name(type),
                       transfer_id, account);
    return *found;
}

/* `ledger transfer FROM TO AMOUNT --id ID`: accepted, TransferSent at seq. */
static char *transfer(const char *id, const char *from, const char *to, const char *amount,
                      int64_t seq) {
    json_t *r = LEDGER(0, "transfer", from, to, amount, "--id", id);
    const json_t *ev = e2e_assert_accepted(r, id, "TransferSent", from, seq);
    cr_assert_str_eq(e2e_str(ev, "to"), to);
    cr_assert_str_eq(e2e_str(ev, "amount"), amount);
    const char *tid = e2e_str(r, "transfer_id");
    cr_assert_str_eq(e2e_str(ev, "transfer_id"), tid, "the result names the event's transfer");
    cr_assert(ledger_uuid_valid(tid, strlen(tid)), "transfer id '%s'", tid);
    char *copy = strdup(tid);
    json_decref(r);
    return copy;
}

Test(e2e_transfers, completed_and_returned_across_partitions) {
    char from[64], to[64], closed[64], missing[64];
    ph_account_on(from, sizeof(from), "payer", 1);
    ph_account_on(to, sizeof(to), "payee", 4);
    ph_account_on(closed, sizeof(closed), "gone", 2);
    ph_account_on(missing, sizeof(missing), "nobody", 5);
    cr_assert_neq(ph_partition_of(from), ph_partition_of(to));

    json_decref(LEDGER(0, "open", from));
    json_decref(LEDGER(0, "deposit", from, "100"));
    json_decref(LEDGER(0, "open", to));
    json_decref(LEDGER(0, "open", closed));
    json_decref(LEDGER(0, "close", closed));

    /* Completed: 30.00 moves from `from` (seq 3) to `to` (seq 2). */
    char *t1 = transfer("t1", from, to, "30.00", 3);
    ph_event got = wait_transfer_event(to, LEDGER_EVENT_TRANSFER_RECEIVED, t1, 2);
    cr_assert_eq(got.event.seq, 2);
    cr_assert_eq(got.event.amount, 3000);
    cr_assert_str_eq(got.event.counterparty, from);
    cr_assert_eq(got.partition, ph_partition_of(to));

    /* To a missing account: debited (seq 4), then returned (seq 5). */
    char *t2 = transfer("t2", from, missing, "20.00", 4);
    got = wait_transfer_event(from, LEDGER_EVENT_TRANSFER_RETURNED, t2, 5);
    cr_assert_eq(got.event.seq, 5);
    cr_assert_eq(got.event.amount, 2000);
    cr_assert_eq(got.event.reason, LEDGER_NO_SUCH_ACCOUNT);
    cr_assert_str_eq(got.event.counterparty, missing);

    /* To a closed account: debited (seq 6), returned (seq 7). */
    char *t3 = transfer("t3", from, closed, "10.00", 6);
    got = wait_transfer_event(from, LEDGER_EVENT_TRANSFER_RETURNED, t3, 7);
    cr_assert_eq(got.event.reason, LEDGER_ACCOUNT_CLOSED);
    cr_assert_eq(got.event.amount, 1000);

    /* And back the other way. */
    char *t4 = transfer("t4", to, from, "5.50", 3);
    got = wait_transfer_event(from, LEDGER_EVENT_TRANSFER_RECEIVED, t4, 8);
    cr_assert_eq(got.event.seq, 8);

    /* 100 - 30 - 20 + 20 - 10 + 10 + 5.50 = 75.50; 30 - 5.50 = 24.50 */
    json_t *h = LEDGER(0, "history", from);
    cr_assert_str_eq(e2e_str(h, "balance"), "75.50");
    cr_assert_eq(e2e_int(h, "version"), 8);
    json_decref(h);
    h = LEDGER(0, "history", to);
    cr_assert_str_eq(e2e_str(h, "balance"), "24.50");
    cr_assert_eq(e2e_int(h, "version"), 3);
    json_decref(h);
    h = LEDGER(1, "history", missing);
    cr_assert_str_eq(e2e_str(h, "error"), "not_found");
    json_decref(h);
    h = LEDGER(0, "history", closed);
    cr_assert_str_eq(e2e_str(h, "balance"), "0.00");
    cr_assert_eq(e2e_int(h, "version"), 2, "a refused credit appends nothing to the recipient");
    json_decref(h);

    /* A funds check sees the returned amounts. */
    json_t *r = LEDGER(1, "transfer", from, to, "75.51");
    e2e_assert_rejected(r, "insufficient_funds");
    json_decref(r);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
}

Test(e2e_transfers, transfers_within_one_partition) {
    char a[64], b[64];
    ph_account_on(a, sizeof(a), "left", 3);
    ph_account_on(b, sizeof(b), "right", 3);
    json_decref(LEDGER(0, "open", a, "--overdraft", "50"));
    json_decref(LEDGER(0, "open", b));
    /* Into the overdraft: 0 - 50 = -50.00 */
    char *t = transfer("t-same", a, b, "50.00", 2);
    wait_transfer_event(b, LEDGER_EVENT_TRANSFER_RECEIVED, t, 2);
    json_t *h = LEDGER(0, "history", a);
    cr_assert_str_eq(e2e_str(h, "balance"), "-50.00");
    json_decref(h);
    h = LEDGER(0, "history", b);
    cr_assert_str_eq(e2e_str(h, "balance"), "50.00");
    json_decref(h);
    free(t);
}
