/*
 * test_producer_malformed.c - records on the commands topic that are no
 * command (SPEC section 5, and the command-side contract): garbage bytes,
 * an unknown schema fingerprint, a value over 64 KiB, an event that is no
 * transfer step, a result record, no value at all, a decodable command with
 * an invalid id. Each gets one `malformed_command` result naming the
 * record's key when that is a valid command id, else "unknown@P:O"; the
 * producer logs it with partition and offset and goes on: the next command
 * is handled.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_producer_harness.h"

static ph_env env;

static void setup(void) {
    ph_setup(&env);
    ph_start(&env, NULL);
}

static void teardown(void) {
    ph_teardown(&env);
}

TestSuite(producer_malformed, .init = setup, .fini = teardown, .timeout = 300);

/* Sends the bytes and checks the result named `expected_id` (NULL: the
 * "unknown@P:O" form for where the record landed). */
static void expect_malformed(const char *key, size_t key_len, int32_t partition, const void *value,
                             size_t len, const char *expected_id) {
    int64_t offset = ph_send_raw(&env, key, key_len, partition, value, len);
    char id[64];
    if (expected_id == NULL) {
        cr_assert_geq(partition, 0, "the unknown@P:O form needs a known partition");
        snprintf(id, sizeof(id), "unknown@%d:%lld", (int)partition, (long long)offset);
        expected_id = id;
    }
    ledger_result r = ph_wait_result(&env, expected_id, 1);
    ph_assert_rejected(&r, LEDGER_MALFORMED_COMMAND);

    /* Logged with topic, partition and offset. */
    if (partition >= 0) {
        char needle[512];
        snprintf(needle, sizeof(needle), "malformed record at '%s' [%d] offset %lld",
                 env.topics[LEDGER_KAFKA_TOPIC_COMMANDS], (int)partition, (long long)offset);
        cr_assert(strstr(ph_log(&env), needle) != NULL, "no log line '%s'", needle);
    }

    /* And the producer goes on. */
    static int n;
    char cid[32], account[32];
    snprintf(cid, sizeof(cid), "after-%d", ++n);
    snprintf(account, sizeof(account), "after-%d", n);
    ledger_command open = ph_cmd(LEDGER_COMMAND_OPEN, cid, account, NULL, 0);
    ledger_result ok = ph_do(&env, &open);
    ph_assert_accepted(&env, &ok, LEDGER_EVENT_ACCOUNT_OPENED, account, 1);
}

Test(producer_malformed, garbage_bytes) {
    const char garbage[] = "this is not avro at all";
    expect_malformed("garbage-1", 9, RD_KAFKA_PARTITION_UA, garbage, sizeof(garbage), "garbage-1");
    expect_malformed(NULL, 0, 2, garbage, sizeof(garbage), NULL);
    /* The framing magic with nothing after it. */
    const unsigned char magic[] = {0xc3, 0x01};
    expect_malformed("short-1", 7, 4, magic, sizeof(magic), "short-1");
}

Test(producer_malformed, unknown_fingerprint) {
    uint8_t frame[64] = {0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8};
    memset(frame + 10, 0x02, sizeof(frame) - 10);
    /* A key that is no command id (a control character): unknown@P:O. */
    expect_malformed("bad\x01key", 7, 1, frame, sizeof(frame), NULL);
}

Test(producer_malformed, oversized_value) {
    /* A valid command followed by padding to 70000 bytes. */
    size_t len = 70000;
    uint8_t *big = calloc(1, len);
    cr_assert_not_null(big);
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_OPEN, "big-cmd", "big", NULL, 0);
    size_t used = 0;
    char errstr[256];
    cr_assert_eq(
        ledger_codec_encode_command(env.codec, &cmd, big, len, &used, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    expect_malformed("big-1", 5, 3, big, len, "big-1");
    free(big);
    cr_assert_eq(ph_result_count(&env, "big-cmd"), 0, "the command inside was not handled");
}

Test(producer_malformed, records_that_are_no_command) {
    char errstr[256];
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len = 0;

    /* An event other than a transfer step. */
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof(e.event_id), "00000000-0000-4000-8000-000000000001");
    snprintf(e.account, sizeof(e.account), "alice");
    snprintf(e.command_id, sizeof(e.command_id), "evt-cmd");
    e.seq = 1;
    e.type = LEDGER_EVENT_MONEY_DEPOSITED;
    e.amount = 100;
    cr_assert_eq(
        ledger_codec_encode_event(env.codec, &e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    expect_malformed("evt-1", 5, RD_KAFKA_PARTITION_UA, buf, len, "evt-1");

    /* A result record. */
    ledger_result res;
    ledger_result_init(&res);
    snprintf(res.command_id, sizeof(res.command_id), "res-cmd");
    res.reason = LEDGER_NO_SUCH_ACCOUNT;
    cr_assert_eq(
        ledger_codec_encode_result(env.codec, &res, buf, sizeof(buf), &len, errstr, sizeof(errstr)),
        0, "%s", errstr);
    expect_malformed("res-1", 5, RD_KAFKA_PARTITION_UA, buf, len, "res-1");

    /* No value at all. */
    expect_malformed("null-1", 6, RD_KAFKA_PARTITION_UA, NULL, 0, "null-1");

    /* A key longer than a command id: unknown@P:O. */
    char long_key[200];
    memset(long_key, 'k', sizeof(long_key));
    expect_malformed(long_key, sizeof(long_key), 5, "x", 1, NULL);
}

Test(producer_malformed, forged_transfer_steps) {
    /* A TransferSent step with ids this producer never writes. */
    char errstr[256];
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof(e.event_id), "00000000-0000-4000-8000-000000000002");
    snprintf(e.account, sizeof(e.account), "bad from");
    snprintf(e.counterparty, sizeof(e.counterparty), "bob");
    snprintf(e.transfer_id, sizeof(e.transfer_id), "not-a-uuid");
    snprintf(e.command_id, sizeof(e.command_id), "step-cmd");
    e.seq = 1;
    e.type = LEDGER_EVENT_TRANSFER_SENT;
    e.amount = 100;
    cr_assert_eq(
        ledger_codec_encode_event(env.codec, &e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    expect_malformed("bob", 3, RD_KAFKA_PARTITION_UA, buf, len, "bob");
    cr_assert_eq(ph_events_of(&env, "bob", NULL, 0), 0);
}
