/*
 * test_producer_positions.c - the positions results carry (SPEC section 7,
 * "Read your writes") when the producer writes results before its events
 * are delivered: it predicts each event's offset from the end of its
 * previous transaction on that partition (records.c) and checks the
 * prediction against the delivery reports before committing.
 *
 * Every expected position is read back from the events topic (the event
 * found there must be the result's event), never taken from the program's
 * output. The second test puts a record of another writer on an events
 * partition between two transactions: the prediction is then wrong, the
 * transaction must be aborted and redone, and the committed result must
 * still name the offset where its event really is.
 */
#include <criterion/criterion.h>
#include <stdio.h>
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

TestSuite(producer_positions, .init = setup, .fini = teardown, .timeout = 300);

static ledger_result run(ledger_command_type type, const char *id, const char *account,
                         int64_t amount) {
    ledger_command cmd = ph_cmd(type, id, account, NULL, amount);
    return ph_do(&env, &cmd);
}

/* Transaction after transaction on every partition (one command each, so
 * each transaction but the first on a partition uses a prediction): every
 * accepted result names the offset of its own event. */
Test(producer_positions, every_result_names_its_event) {
    char account[64], id[64];
    for (int32_t p = 0; p < PH_PARTITIONS; p++) {
        ph_account_on(account, sizeof(account), "pos", p);
        snprintf(id, sizeof(id), "open-%d", (int)p);
        ledger_result r = run(LEDGER_COMMAND_OPEN, id, account, 0);
        ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, account, 1);
    }
    for (int round = 0; round < 3; round++) {
        for (int32_t p = 0; p < PH_PARTITIONS; p++) {
            ph_account_on(account, sizeof(account), "pos", p);
            snprintf(id, sizeof(id), "dep-%d-%d", (int)p, round);
            ledger_result r = run(LEDGER_COMMAND_DEPOSIT, id, account, 100 + round);
            ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, account, 2 + round);
        }
    }
}

/* A valid AccountOpened event for `account`, written to its events
 * partition by the test's own client (not the producer, not in a
 * transaction): another writer. Returns the offset it got. */
static int64_t foreign_event(const char *account) {
    ledger_event e;
    ledger_event_init(&e);
    e.type = LEDGER_EVENT_ACCOUNT_OPENED;
    e.seq = 1;
    e.at_ms = INT64_C(1795687200000);
    snprintf(e.account, sizeof(e.account), "%s", account);
    snprintf(e.event_id, sizeof(e.event_id), "f0e1d2c3-b4a5-4697-8899-aabbccddeeff");
    snprintf(e.command_id, sizeof(e.command_id), "foreign-1");
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(
        ledger_codec_encode_event(env.codec, &e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    int64_t offset = -1;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        env.client, RD_KAFKA_V_TOPIC(env.topics[LEDGER_KAFKA_TOPIC_EVENTS]),
        RD_KAFKA_V_PARTITION(ph_partition_of(account)), RD_KAFKA_V_KEY(account, strlen(account)),
        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(env.client, PH_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_geq(offset, 0, "the foreign event was not delivered");
    return offset;
}

Test(producer_positions, another_writer_is_caught) {
    char account[64], intruder[64];
    ph_account_on(account, sizeof(account), "victim", 2);
    ph_account_on(intruder, sizeof(intruder), "intruder", 2);

    ledger_result r = run(LEDGER_COMMAND_OPEN, "open-victim", account, 0);
    ph_event opened = ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, account, 1);
    int64_t foreign = foreign_event(intruder);
    cr_assert_gt(foreign, opened.offset);

    r = run(LEDGER_COMMAND_DEPOSIT, "dep-victim", account, 500);
    ph_event deposited = ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, account, 2);
    cr_assert_gt(deposited.offset, foreign, "the deposit follows the foreign record");
    cr_assert(strstr(ph_log(&env), "as predicted") != NULL,
              "the wrong prediction is logged (and its transaction aborted)");
    cr_assert_eq(ph_result_count(&env, "dep-victim"), 1, "exactly one result committed");

    /* And the producer goes on predicting from there. */
    r = run(LEDGER_COMMAND_DEPOSIT, "dep-victim-2", account, 700);
    deposited = ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, account, 3);
    account_state s = ph_fold(&env, account);
    cr_assert_eq(s.balance, 1200);
}
