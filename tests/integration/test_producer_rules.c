/*
 * test_producer_rules.c - every rule and rejection row of SPEC section 5,
 * with the precedence cases, through the real ledger-producer and broker:
 * Avro Command records in, results and events read back (read_committed).
 *
 * Expected reasons, seqs and amounts come from the spec's table, not from
 * the program. Each test opens its own topics and runs its own producer.
 * After the commands of a test, the account's partition is synced (a fresh
 * account's event is awaited there) so that "no event was appended for a
 * rejection" is checked against everything the producer committed.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "ltime.h"
#include "money.h"
#include "test_producer_harness.h"

static ph_env env;

static void setup(void) {
    ph_setup(&env);
    ph_start(&env, NULL);
}

static void teardown(void) {
    ph_teardown(&env);
}

TestSuite(producer_rules, .init = setup, .fini = teardown, .timeout = 300);

static ledger_result run(ledger_command_type type, const char *id, const char *account,
                         const char *to, int64_t amount) {
    ledger_command cmd = ph_cmd(type, id, account, to, amount);
    return ph_do(&env, &cmd);
}

static void rejected(ledger_command_type type, const char *id, const char *account, const char *to,
                     int64_t amount, ledger_reason reason) {
    ledger_result r = run(type, id, account, to, amount);
    ph_assert_rejected(&r, reason);
}

/* Every event of `account` is in, and there are exactly `count`. */
static void assert_event_count(const char *account, size_t count) {
    ph_sync_partition(&env, ph_partition_of(account));
    cr_assert_eq(ph_events_of(&env, account, NULL, 0), count, "'%s' has %zu events, not %zu",
                 account, ph_events_of(&env, account, NULL, 0), count);
}

Test(producer_rules, open) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "open-1", "alice", NULL, 0);
    ph_event e = ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    cr_assert_eq(e.event.amount, 0, "overdraft defaults to 0");

    rejected(LEDGER_COMMAND_OPEN, "open-2", "alice", NULL, 0, LEDGER_ACCOUNT_EXISTS);

    r = run(LEDGER_COMMAND_OPEN, "open-3", "bob", NULL, 5000);
    e = ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "bob", 1);
    cr_assert_eq(e.event.amount, 5000, "overdraft 50.00");

    /* The overdraft: zero or more, at most 1000000000.00. */
    rejected(LEDGER_COMMAND_OPEN, "open-4", "carol", NULL, -1, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_OPEN, "open-5", "carol", NULL, MONEY_MAX_COMMAND_CENTS + 1,
             LEDGER_INVALID_AMOUNT);
    r = run(LEDGER_COMMAND_OPEN, "open-6", "carol", NULL, MONEY_MAX_COMMAND_CENTS);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "carol", 1);

    /* Account ids: 1 to 64 of [A-Za-z0-9._-]. */
    rejected(LEDGER_COMMAND_OPEN, "open-7", "bad id", NULL, 0, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_OPEN, "open-8", "", NULL, 0, LEDGER_INVALID_ACCOUNT);
    char longest[66];
    memset(longest, 'x', 65);
    longest[65] = '\0';
    rejected(LEDGER_COMMAND_OPEN, "open-9", longest, NULL, 0, LEDGER_INVALID_ACCOUNT);
    longest[64] = '\0';
    r = run(LEDGER_COMMAND_OPEN, "open-10", longest, NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, longest, 1);

    /* Precedence: invalid_account before invalid_amount before
     * account_exists. */
    rejected(LEDGER_COMMAND_OPEN, "open-11", "bad id", NULL, -1, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_OPEN, "open-12", "alice", NULL, -1, LEDGER_INVALID_AMOUNT);

    assert_event_count("alice", 1);
    assert_event_count("bob", 1);
    assert_event_count("carol", 1);
}

Test(producer_rules, deposit_and_withdraw) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "dw-1", "alice", NULL, 1000); /* overdraft 10.00 */
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);

    rejected(LEDGER_COMMAND_DEPOSIT, "dw-2", "nobody", NULL, 500, LEDGER_NO_SUCH_ACCOUNT);
    rejected(LEDGER_COMMAND_DEPOSIT, "dw-3", "alice", NULL, 0, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_DEPOSIT, "dw-4", "alice", NULL, -500, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_DEPOSIT, "dw-5", "alice", NULL, MONEY_MAX_COMMAND_CENTS + 1,
             LEDGER_INVALID_AMOUNT);
    /* invalid_amount before no_such_account; invalid_account before both. */
    rejected(LEDGER_COMMAND_DEPOSIT, "dw-6", "nobody", NULL, 0, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_DEPOSIT, "dw-7", "no body", NULL, 0, LEDGER_INVALID_ACCOUNT);

    r = run(LEDGER_COMMAND_DEPOSIT, "dw-8", "alice", NULL, 2550);
    ph_event e = ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    cr_assert_eq(e.event.amount, 2550);

    /* balance - amount >= -overdraft: 25.50 - 35.51 = -10.01 < -10.00. */
    rejected(LEDGER_COMMAND_WITHDRAW, "dw-9", "alice", NULL, 3551, LEDGER_INSUFFICIENT_FUNDS);
    r = run(LEDGER_COMMAND_WITHDRAW, "dw-10", "alice", NULL, 3550);
    e = ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, "alice", 3);
    cr_assert_eq(e.event.amount, 3550);
    rejected(LEDGER_COMMAND_WITHDRAW, "dw-11", "alice", NULL, 1, LEDGER_INSUFFICIENT_FUNDS);

    rejected(LEDGER_COMMAND_WITHDRAW, "dw-12", "nobody", NULL, 1, LEDGER_NO_SUCH_ACCOUNT);
    rejected(LEDGER_COMMAND_WITHDRAW, "dw-13", "alice", NULL, 0, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_WITHDRAW, "dw-14", "no body", NULL, 0, LEDGER_INVALID_ACCOUNT);
    /* no_such_account before insufficient_funds. */
    rejected(LEDGER_COMMAND_WITHDRAW, "dw-15", "nobody", NULL, MONEY_MAX_COMMAND_CENTS,
             LEDGER_NO_SUCH_ACCOUNT);

    r = run(LEDGER_COMMAND_DEPOSIT, "dw-16", "alice", NULL, 1000);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 4);

    assert_event_count("alice", 4);
    account_state s = ph_fold(&env, "alice");
    cr_assert_eq(s.balance, 0, "2550 - 3550 + 1000");
    cr_assert_eq(s.overdraft, 1000);
    cr_assert_eq(s.status, ACCOUNT_OPEN);
    cr_assert_eq(ph_events_of(&env, "nobody", NULL, 0), 0);
}

Test(producer_rules, close) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "cl-1", "alice", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    r = run(LEDGER_COMMAND_DEPOSIT, "cl-2", "alice", NULL, 500);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);

    rejected(LEDGER_COMMAND_CLOSE, "cl-3", "alice", NULL, 0, LEDGER_NONZERO_BALANCE);
    rejected(LEDGER_COMMAND_CLOSE, "cl-4", "nobody", NULL, 0, LEDGER_NO_SUCH_ACCOUNT);
    rejected(LEDGER_COMMAND_CLOSE, "cl-5", "no body", NULL, 0, LEDGER_INVALID_ACCOUNT);

    r = run(LEDGER_COMMAND_WITHDRAW, "cl-6", "alice", NULL, 500);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, "alice", 3);
    r = run(LEDGER_COMMAND_CLOSE, "cl-7", "alice", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_CLOSED, "alice", 4);

    rejected(LEDGER_COMMAND_CLOSE, "cl-8", "alice", NULL, 0, LEDGER_ACCOUNT_CLOSED);
    rejected(LEDGER_COMMAND_DEPOSIT, "cl-9", "alice", NULL, 100, LEDGER_ACCOUNT_CLOSED);
    /* account_closed before insufficient_funds. */
    rejected(LEDGER_COMMAND_WITHDRAW, "cl-10", "alice", NULL, 100000, LEDGER_ACCOUNT_CLOSED);
    /* invalid_amount before account_closed. */
    rejected(LEDGER_COMMAND_DEPOSIT, "cl-11", "alice", NULL, 0, LEDGER_INVALID_AMOUNT);
    /* A closed account still exists. */
    rejected(LEDGER_COMMAND_OPEN, "cl-12", "alice", NULL, 0, LEDGER_ACCOUNT_EXISTS);
    rejected(LEDGER_COMMAND_TRANSFER, "cl-13", "alice", "bob", 100, LEDGER_ACCOUNT_CLOSED);

    assert_event_count("alice", 4);
    account_state s = ph_fold(&env, "alice");
    cr_assert_eq(s.status, ACCOUNT_CLOSED);
    cr_assert_eq(s.balance, 0);
}

Test(producer_rules, transfer_rejections) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "tr-1", "alice", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    r = run(LEDGER_COMMAND_DEPOSIT, "tr-2", "alice", NULL, 1000);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    r = run(LEDGER_COMMAND_OPEN, "tr-3", "bob", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "bob", 1);

    rejected(LEDGER_COMMAND_TRANSFER, "tr-4", "alice", "alice", 100, LEDGER_SAME_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-5", "alice", "bad to", 100, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-6", "bad from", "bob", 100, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-7", "alice", "", 100, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-8", "alice", "bob", 0, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-9", "nobody", "bob", 100, LEDGER_NO_SUCH_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-10", "alice", "bob", 1001, LEDGER_INSUFFICIENT_FUNDS);
    /* Precedence: the account, then `to`, then the amount, then
     * same_account, then the state. */
    rejected(LEDGER_COMMAND_TRANSFER, "tr-11", "alice", "bad to", 0, LEDGER_INVALID_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-12", "alice", "alice", 0, LEDGER_INVALID_AMOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-13", "nobody", "nobody", 100, LEDGER_SAME_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-14", "alice", "alice", 100000, LEDGER_SAME_ACCOUNT);
    rejected(LEDGER_COMMAND_TRANSFER, "tr-15", "nobody", "bob", 100000, LEDGER_NO_SUCH_ACCOUNT);

    assert_event_count("alice", 2);
    assert_event_count("bob", 1);
}

Test(producer_rules, business_time) {
    int64_t at;
    const char *why = NULL;
    const char *text = "2026-11-26T10:00:00.250Z";
    cr_assert_eq(ltime_parse(text, strlen(text), &at, &why), 0);
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_OPEN, "bt-1", "alice", NULL, 0);
    cmd.has_at = true;
    cmd.at_ms = at;
    ledger_result r = ph_do(&env, &cmd);
    ph_event e = ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    cr_assert_eq(e.event.at_ms, at, "the command's `at` is the event's");

    /* Without `at`: the producer's clock when it accepts the command. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    r = run(LEDGER_COMMAND_DEPOSIT, "bt-2", "alice", NULL, 100);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    e = ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    cr_assert(e.event.at_ms >= before && e.event.at_ms <= after, "at %lld not within [%lld, %lld]",
              (long long)e.event.at_ms, (long long)before, (long long)after);
}

Test(producer_rules, malformed_command_fields) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "mf-1", "alice", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);

    /* A decodable command whose id is no command id (empty, or not
     * printable ASCII) is malformed_command, before any other reason; the
     * result names the record's key (here the account, a valid id). */
    ledger_command bad = ph_cmd(LEDGER_COMMAND_DEPOSIT, "", "alice", NULL, 0);
    ph_send(&env, &bad);
    r = ph_wait_result(&env, "alice", 1);
    ph_assert_rejected(&r, LEDGER_MALFORMED_COMMAND);
    bad = ph_cmd(LEDGER_COMMAND_DEPOSIT, "tab\there", "alice", NULL, 100);
    ph_send(&env, &bad);
    r = ph_wait_result(&env, "alice", 2);
    ph_assert_rejected(&r, LEDGER_MALFORMED_COMMAND);

    /* The longest valid id is fine. */
    char id[129];
    memset(id, 'i', 128);
    id[128] = '\0';
    r = run(LEDGER_COMMAND_DEPOSIT, id, "alice", NULL, 100);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    assert_event_count("alice", 2);
}

Test(producer_rules, command_keyed_elsewhere_is_forwarded) {
    /* A client that keys a command by something else than its account puts
     * it on the wrong partition: the producer forwards it to the account's
     * partition, where it is decided against the account's state. */
    char key[64];
    for (int n = 0;; n++) {
        snprintf(key, sizeof(key), "elsewhere-%d", n);
        if (ph_partition_of(key) != ph_partition_of("alice"))
            break;
    }
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_OPEN, "fw-1", "alice", NULL, 0);
    uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(ledger_codec_encode_command(env.codec, &cmd, buf, sizeof(buf), &len, errstr,
                                             sizeof(errstr)),
                 0, "%s", errstr);
    ph_send_raw(&env, key, strlen(key), RD_KAFKA_PARTITION_UA, buf, len);
    ledger_result r = ph_wait_result(&env, "fw-1", 1);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    cr_assert(strstr(ph_log(&env), "forwarded") != NULL);

    /* Its state is the account's: a deposit keyed properly follows on. */
    r = run(LEDGER_COMMAND_DEPOSIT, "fw-2", "alice", NULL, 100);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    cr_assert_eq(ph_result_count(&env, "fw-1"), 1);
}
