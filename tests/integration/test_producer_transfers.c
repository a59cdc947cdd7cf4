/*
 * test_producer_transfers.c - transfers end to end (SPEC section 5): the
 * debit side decided on the sender's partition (TransferSent, the command's
 * result), the credit side on the recipient's (TransferReceived), or the
 * return on the sender's (TransferReturned with the reason) when the
 * recipient does not exist or is closed. Both sides carry the transfer's
 * `at`, id and amount; exactly one of received/returned follows each sent.
 *
 * Account names are chosen by partition (ph_account_on), so the recipient
 * is on another partition than the sender where the test says so.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ltime.h"
#include "test_producer_harness.h"

static ph_env env;

static void setup(void) {
    ph_setup(&env);
    ph_start(&env, NULL);
}

static void teardown(void) {
    ph_teardown(&env);
}

TestSuite(producer_transfers, .init = setup, .fini = teardown, .timeout = 300);

static ledger_result run(ledger_command_type type, const char *id, const char *account,
                         const char *to, int64_t amount) {
    ledger_command cmd = ph_cmd(type, id, account, to, amount);
    return ph_do(&env, &cmd);
}

static void open_with(const char *account, int64_t deposit) {
    char id[96];
    snprintf(id, sizeof(id), "open-%s", account);
    ledger_result r = run(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, account, 1);
    if (deposit > 0) {
        snprintf(id, sizeof(id), "fund-%s", account);
        r = run(LEDGER_COMMAND_DEPOSIT, id, account, NULL, deposit);
        ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, account, 2);
    }
}

/* The n-th event (1-based) of `account`, waiting for it. */
static ph_event nth_event(const char *account, size_t n) {
    ph_event events[64];
    ph_wait_events(&env, account, n);
    cr_assert_leq(n, 64);
    ph_events_of(&env, account, events, 64);
    return events[n - 1];
}

/* The sent transfer, as its result gave it: checks the debit side. */
static ledger_event transfer(const char *id, const char *from, const char *to, int64_t amount,
                             int64_t seq) {
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_TRANSFER, id, from, to, amount);
    int64_t at;
    const char *why;
    cr_assert_eq(ltime_parse("2026-11-26T10:00:00Z", 20, &at, &why), 0);
    cmd.has_at = true;
    cmd.at_ms = at;
    ledger_result r = ph_do(&env, &cmd);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_TRANSFER_SENT, from, seq);
    const ledger_event *sent = &r.event;
    cr_assert_str_eq(sent->counterparty, to);
    cr_assert_eq(sent->amount, amount);
    cr_assert_eq(sent->at_ms, at);
    cr_assert(ledger_uuid_valid(sent->transfer_id, strlen(sent->transfer_id)), "transfer id '%s'",
              sent->transfer_id);
    return *sent;
}

static void assert_same_transfer(const ledger_event *e, const ledger_event *sent) {
    cr_assert_str_eq(e->transfer_id, sent->transfer_id);
    cr_assert_eq(e->amount, sent->amount);
    cr_assert_eq(e->at_ms, sent->at_ms, "a replay must give the same statements: same `at`");
    cr_assert_str_eq(e->command_id, sent->command_id);
    cr_assert(ledger_uuid_valid(e->event_id, strlen(e->event_id)));
    cr_assert_str_neq(e->event_id, sent->event_id);
}

Test(producer_transfers, completed_across_partitions) {
    char from[64], to[64];
    ph_account_on(from, sizeof(from), "payer", 0);
    ph_account_on(to, sizeof(to), "payee", 3);
    cr_assert_neq(ph_partition_of(from), ph_partition_of(to));
    open_with(from, 10000);
    open_with(to, 0);

    ledger_event sent = transfer("t-1", from, to, 2550, 3);
    ph_event received = nth_event(to, 2);
    cr_assert_eq(received.event.type, LEDGER_EVENT_TRANSFER_RECEIVED);
    cr_assert_eq(received.event.seq, 2);
    cr_assert_str_eq(received.event.counterparty, from);
    assert_same_transfer(&received.event, &sent);
    cr_assert_eq(received.partition, ph_partition_of(to));

    /* Exactly one credit, no return. */
    ph_sync_partition(&env, ph_partition_of(to));
    ph_sync_partition(&env, ph_partition_of(from));
    cr_assert_eq(ph_events_of(&env, to, NULL, 0), 2);
    cr_assert_eq(ph_events_of(&env, from, NULL, 0), 3);
    cr_assert_eq(ph_fold(&env, from).balance, 10000 - 2550);
    cr_assert_eq(ph_fold(&env, to).balance, 2550);

    /* The recipient can spend it at once, and send it back. */
    ledger_event back = transfer("t-2", to, from, 2550, 3);
    ph_event back_in = nth_event(from, 4);
    cr_assert_eq(back_in.event.type, LEDGER_EVENT_TRANSFER_RECEIVED);
    assert_same_transfer(&back_in.event, &back);
    cr_assert_eq(ph_fold(&env, from).balance, 10000);
    cr_assert_eq(ph_fold(&env, to).balance, 0);
}

Test(producer_transfers, completed_on_one_partition) {
    char from[64], to[64];
    ph_account_on(from, sizeof(from), "payer", 2);
    ph_account_on(to, sizeof(to), "payee", 2);
    open_with(from, 500);
    open_with(to, 0);
    ledger_event sent = transfer("t-1", from, to, 500, 3);
    ph_event received = nth_event(to, 2);
    cr_assert_eq(received.event.type, LEDGER_EVENT_TRANSFER_RECEIVED);
    assert_same_transfer(&received.event, &sent);
    cr_assert_eq(ph_fold(&env, from).balance, 0);
    cr_assert_eq(ph_fold(&env, to).balance, 500);
}

Test(producer_transfers, returned_when_recipient_missing) {
    char from[64], ghost[64];
    ph_account_on(from, sizeof(from), "payer", 1);
    ph_account_on(ghost, sizeof(ghost), "ghost", 4);
    open_with(from, 1000);

    /* The debit side only checks the sender: accepted. */
    ledger_event sent = transfer("t-1", from, ghost, 400, 3);
    ph_event returned = nth_event(from, 4);
    cr_assert_eq(returned.event.type, LEDGER_EVENT_TRANSFER_RETURNED);
    cr_assert_eq(returned.event.seq, 4);
    cr_assert_eq(returned.event.reason, LEDGER_NO_SUCH_ACCOUNT);
    cr_assert_str_eq(returned.event.counterparty, ghost);
    assert_same_transfer(&returned.event, &sent);
    cr_assert_eq(ph_fold(&env, from).balance, 1000, "the amount came back");

    ph_sync_partition(&env, ph_partition_of(ghost));
    ph_sync_partition(&env, ph_partition_of(from));
    cr_assert_eq(ph_events_of(&env, ghost, NULL, 0), 0, "nothing appended on a missing account");
    cr_assert_eq(ph_events_of(&env, from, NULL, 0), 4, "exactly one return");

    /* The sender goes on from seq 5. */
    ledger_result r = run(LEDGER_COMMAND_WITHDRAW, "w-1", from, NULL, 1000);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, from, 5);
}

Test(producer_transfers, returned_when_recipient_closed) {
    char from[64], closed[64];
    ph_account_on(from, sizeof(from), "payer", 5);
    ph_account_on(closed, sizeof(closed), "closed", 0);
    open_with(from, 1000);
    open_with(closed, 0);
    ledger_result r = run(LEDGER_COMMAND_CLOSE, "close-1", closed, NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_CLOSED, closed, 2);

    ledger_event sent = transfer("t-1", from, closed, 1000, 3);
    ph_event returned = nth_event(from, 4);
    cr_assert_eq(returned.event.type, LEDGER_EVENT_TRANSFER_RETURNED);
    cr_assert_eq(returned.event.reason, LEDGER_ACCOUNT_CLOSED);
    assert_same_transfer(&returned.event, &sent);
    cr_assert_eq(ph_fold(&env, from).balance, 1000);

    ph_sync_partition(&env, ph_partition_of(closed));
    cr_assert_eq(ph_events_of(&env, closed, NULL, 0), 2, "a closed account receives nothing");
    account_state s = ph_fold(&env, closed);
    cr_assert_eq(s.status, ACCOUNT_CLOSED);
    cr_assert_eq(s.balance, 0);
}

Test(producer_transfers, many_in_flight_conserve_money) {
    /* Transfers in both directions between accounts of different
     * partitions, sent without waiting: every sent one is received exactly
     * once and the total balance is unchanged. */
    enum { ACCOUNTS = 4, ROUNDS = 10 };
    char names[ACCOUNTS][64];
    for (int a = 0; a < ACCOUNTS; a++) {
        ph_account_on(names[a], sizeof(names[a]), "ring", a);
        open_with(names[a], 1000);
    }
    char id[64];
    for (int k = 0; k < ROUNDS; k++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            snprintf(id, sizeof(id), "ring-%d-%d", k, a);
            ledger_command cmd =
                ph_cmd(LEDGER_COMMAND_TRANSFER, id, names[a], names[(a + 1) % ACCOUNTS], 100);
            ph_send(&env, &cmd);
        }
    }
    for (int k = 0; k < ROUNDS; k++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            snprintf(id, sizeof(id), "ring-%d-%d", k, a);
            ledger_result r = ph_wait_result(&env, id, 1);
            cr_assert_eq(r.reason, LEDGER_OK, "'%s': %s", id, ledger_reason_name(r.reason));
        }
    }
    /* open + deposit + ROUNDS sent + ROUNDS received each. */
    for (int a = 0; a < ACCOUNTS; a++)
        cr_assert_eq(ph_wait_events(&env, names[a], 2 + 2 * ROUNDS), 2 + 2 * ROUNDS);
    int64_t total = 0;
    for (int a = 0; a < ACCOUNTS; a++) {
        ph_sync_partition(&env, ph_partition_of(names[a]));
        cr_assert_eq(ph_events_of(&env, names[a], NULL, 0), 2 + 2 * ROUNDS);
        account_state s = ph_fold(&env, names[a]);
        cr_assert_eq(s.balance, 1000, "'%s' sent and received %d x 1.00", names[a], ROUNDS);
        total += s.balance;
    }
    cr_assert_eq(total, ACCOUNTS * 1000);
}
