/*
 * test_e2e_rules.c - SPEC section 5 end to end: the `ledger` commands
 * (open, deposit, withdraw, transfer, close) against a running
 * ledger-producer. Accepted: exit 0 and the event as JSON, at the position
 * the result names in the events topic; every rejection reason, including
 * the precedence cases: exit 1 and the reason, nothing appended; input the
 * CLI refuses itself: exit 2, the reason on stderr, nothing sent.
 *
 * The expected values are written here by hand from the rules, never taken
 * from the program's output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
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

TestSuite(e2e_rules, .init = setup, .fini = teardown, .timeout = 120);

/* `ledger ARGS...`, asserting the exit code; the parsed line (NULL for
 * exit 2). */
#define LEDGER(want, ...) e2e_ledger_json(&env, (want), (const char *const[]){__VA_ARGS__, NULL})

static void expect_reason(const char *reason, const char *const *argv) {
    json_t *r = e2e_ledger_json(&env, 1, argv);
    e2e_assert_rejected(r, reason);
    json_decref(r);
}
#define REJECTED(reason, ...) expect_reason((reason), (const char *const[]){__VA_ARGS__, NULL})

/* Asserts the event JSON is the event stored at the result's position. */
static void assert_at_position(const json_t *result) {
    int32_t p;
    int64_t o;
    e2e_position(e2e_str(result, "position"), &p, &o);
    ph_wait_position(&env.ph, p, o);
    const json_t *ev = e2e_event(result);
    for (size_t i = 0; i < env.ph.event_count; i++) {
        const ph_event *got = &env.ph.event_log[i];
        if (got->partition != p || got->offset != o)
            continue;
        cr_assert_str_eq(got->event.event_id, e2e_str(ev, "event_id"));
        cr_assert_str_eq(ledger_event_type_name(got->event.type), e2e_str(ev, "type"));
        cr_assert_eq(got->event.seq, e2e_int(ev, "seq"));
        return;
    }
    cr_assert_fail("no event at %d:%lld", (int)p, (long long)o);
}

Test(e2e_rules, accepted_commands_print_their_events) {
    json_t *r = LEDGER(0, "open", "alice", "--overdraft", "10", "--id", "o1");
    const json_t *ev = e2e_assert_accepted(r, "o1", "AccountOpened", "alice", 1);
    cr_assert_str_eq(e2e_str(ev, "overdraft"), "10.00");
    cr_assert(ledger_uuid_valid(e2e_str(ev, "event_id"), strlen(e2e_str(ev, "event_id"))));
    assert_at_position(r);
    json_decref(r);

    r = LEDGER(0, "deposit", "alice", "5.5", "--id", "d1");
    ev = e2e_assert_accepted(r, "d1", "MoneyDeposited", "alice", 2);
    cr_assert_str_eq(e2e_str(ev, "amount"), "5.50");
    assert_at_position(r);
    json_decref(r);

    /* An explicit business time is kept. */
    r = LEDGER(0, "deposit", "alice", "1", "--id", "d2", "--at", "2026-11-26T10:00:00Z");
    ev = e2e_assert_accepted(r, "d2", "MoneyDeposited", "alice", 3);
    cr_assert_str_eq(e2e_str(ev, "at"), "2026-11-26T10:00:00Z");
    json_decref(r);

    /* 6.50 - 16.50 = -10.00: exactly the overdraft. */
    r = LEDGER(0, "withdraw", "alice", "16.50", "--id", "w1");
    ev = e2e_assert_accepted(r, "w1", "MoneyWithdrawn", "alice", 4);
    cr_assert_str_eq(e2e_str(ev, "amount"), "16.50");
    assert_at_position(r);
    json_decref(r);
    REJECTED("insufficient_funds", "withdraw", "alice", "0.01", "--id", "w2");

    r = LEDGER(0, "deposit", "alice", "10", "--id", "d3");
    json_decref(r);
    r = LEDGER(0, "close", "alice", "--id", "c1");
    e2e_assert_accepted(r, "c1", "AccountClosed", "alice", 6);
    assert_at_position(r);
    json_decref(r);

    r = LEDGER(0, "history", "alice");
    cr_assert_str_eq(e2e_str(r, "balance"), "0.00");
    cr_assert_eq(e2e_int(r, "version"), 6);
    cr_assert_str_eq(e2e_str(r, "status"), "closed");
    json_decref(r);
}

Test(e2e_rules, every_rejection_reason_exits_1_and_appends_nothing) {
    REJECTED("no_such_account", "deposit", "nobody", "1");
    REJECTED("no_such_account", "withdraw", "nobody", "1");
    REJECTED("no_such_account", "close", "nobody");
    REJECTED("no_such_account", "transfer", "nobody", "bob", "1");

    json_decref(LEDGER(0, "open", "acc"));
    REJECTED("account_exists", "open", "acc");
    REJECTED("account_exists", "open", "acc", "--overdraft", "5");
    json_decref(LEDGER(0, "deposit", "acc", "5"));
    REJECTED("nonzero_balance", "close", "acc");
    REJECTED("insufficient_funds", "withdraw", "acc", "5.01");
    REJECTED("insufficient_funds", "transfer", "acc", "bob", "5.01");
    REJECTED("same_account", "transfer", "acc", "acc", "1");

    json_decref(LEDGER(0, "withdraw", "acc", "5"));
    json_decref(LEDGER(0, "close", "acc"));
    REJECTED("account_closed", "deposit", "acc", "1");
    REJECTED("account_closed", "withdraw", "acc", "1");
    REJECTED("account_closed", "transfer", "acc", "bob", "1");
    REJECTED("account_closed", "close", "acc");
    REJECTED("account_exists", "open", "acc");

    /* An overdraft of 0 is allowed. */
    json_t *r = LEDGER(0, "open", "zero", "--overdraft", "0", "--id", "z1");
    cr_assert_str_eq(e2e_str(e2e_event(r), "overdraft"), "0.00");
    json_decref(r);

    /* Only the four accepted commands of acc are in its stream. */
    r = LEDGER(0, "history", "acc");
    cr_assert_eq(e2e_int(r, "version"), 4);
    cr_assert_str_eq(e2e_str(r, "status"), "closed");
    json_decref(r);
    cr_assert_eq(ph_wait_events(&env.ph, "acc", 4), 4);
    cr_assert_eq(ph_events_of(&env.ph, "nobody", NULL, 0), 0);
    r = LEDGER(1, "history", "nobody");
    cr_assert_str_eq(e2e_str(r, "error"), "not_found");
    json_decref(r);
}

Test(e2e_rules, the_first_reason_in_spec_order_wins) {
    /* same_account before no_such_account */
    REJECTED("same_account", "transfer", "ghost", "ghost", "1");
    /* no_such_account before insufficient_funds */
    REJECTED("no_such_account", "transfer", "ghost", "bob", "1000000000");
    REJECTED("no_such_account", "withdraw", "ghost", "1000000000");

    json_decref(LEDGER(0, "open", "shut"));
    json_decref(LEDGER(0, "close", "shut"));
    /* account_closed before insufficient_funds */
    REJECTED("account_closed", "withdraw", "shut", "1000000000");
    REJECTED("account_closed", "transfer", "shut", "bob", "1000000000");
    /* same_account before account_closed */
    REJECTED("same_account", "transfer", "shut", "shut", "1");
    /* account_exists for a closed account */
    REJECTED("account_exists", "open", "shut");

    json_decref(LEDGER(0, "open", "rich", "--overdraft", "3"));
    json_decref(LEDGER(0, "deposit", "rich", "2"));
    /* insufficient_funds just past the overdraft: 2 + 3 = 5 */
    REJECTED("insufficient_funds", "withdraw", "rich", "5.01");
    json_t *r = LEDGER(0, "withdraw", "rich", "5");
    e2e_assert_accepted(r, e2e_str(r, "command_id"), "MoneyWithdrawn", "rich", 3);
    json_decref(r);
    /* nonzero_balance with a negative balance too */
    REJECTED("nonzero_balance", "close", "rich");

    /* On the client: invalid_account (the account, then `to`) before
     * invalid_amount before same_account; nothing is sent. */
    int64_t before = tcf_topic_size(env.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS]);
    tcf_run_result res;
    e2e_ledger(&env, &res, (const char *const[]){"transfer", "a b", "c d", "1.234", NULL}, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strstr(res.err, "invalid account 'a b'") != NULL, "stderr: %s", res.err);
    tcf_run_free(&res);
    e2e_ledger(&env, &res, (const char *const[]){"transfer", "rich", "c d", "1.234", NULL}, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strstr(res.err, "invalid account 'c d'") != NULL, "stderr: %s", res.err);
    tcf_run_free(&res);
    e2e_ledger(&env, &res, (const char *const[]){"transfer", "rich", "rich", "1.234", NULL}, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strstr(res.err, "invalid amount '1.234'") != NULL, "stderr: %s", res.err);
    tcf_run_free(&res);
    cr_assert_eq(tcf_topic_size(env.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS]), before,
                 "a refused command was sent");
}

Test(e2e_rules, bad_input_exits_2_and_sends_nothing) {
    json_decref(LEDGER(0, "open", "alice"));
    int64_t before = tcf_topic_size(env.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS]);
    static const char *const bad[][8] = {
        {"deposit", "alice", "1.234"},
        {"deposit", "alice", "0"},
        {"deposit", "alice", "-1"},
        {"deposit", "alice", "1e3"},
        {"deposit", "alice", "0x10"},
        {"deposit", "alice", " 5"},
        {"deposit", "alice", "5 "},
        {"deposit", "alice", ""},
        {"deposit", "alice", "1000000000.01"},
        {"deposit", "alice", "99999999999999999999999"},
        {"withdraw", "alice", "\xd9\xa5"}, /* ARABIC-INDIC DIGIT FIVE */
        {"open", "bad id"},
        {"open", "x", "--overdraft", "-1"},
        {"open", "x", "--overdraft", "1.234"},
        {"deposit", "alice"},
        {"deposit", "alice", "1", "extra"},
        {"transfer", "alice", "bob"},
        {"close"},
        {"deposit", "alice", "1", "--at", "yesterday"},
        {"deposit", "alice", "1", "--at", "2026-11-26T10:00:00+01:00"},
        {"deposit", "alice", "1", "--id", ""},
        {"deposit", "alice", "1", "--nope"},
        {"deposit", "a-very-long-account-name-that-is-longer-than-sixty-four-characters-x", "1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_null(e2e_ledger_json(&env, 2, bad[i]));
    char long_id[140];
    memset(long_id, 'x', 129);
    long_id[129] = '\0';
    cr_assert_null(LEDGER(2, "deposit", "alice", "1", "--id", long_id));
    cr_assert_eq(tcf_topic_size(env.ph.topics[LEDGER_KAFKA_TOPIC_COMMANDS]), before,
                 "a refused command was sent");
    /* The account is untouched. */
    json_t *r = LEDGER(0, "history", "alice");
    cr_assert_eq(e2e_int(r, "version"), 1);
    json_decref(r);
}

Test(e2e_rules, submit_answers_every_line_in_order) {
    json_decref(LEDGER(0, "open", "bob"));
    const char *input =
        "{\"id\":\"s1\",\"type\":\"open\",\"account\":\"sue\",\"overdraft\":\"1\"}\n"
        "{\"id\":\"s2\",\"type\":\"deposit\",\"account\":\"sue\",\"amount\":\"1.234\"}\n"
        "{\"id\":\"s3\",\"type\":\"deposit\",\"account\":\"bad id\",\"amount\":\"1\"}\n"
        "{\"id\":\"s4\",\"type\":\"frobnicate\",\"account\":\"sue\"}\n"
        "not json\n"
        "{\"id\":\"s6\",\"type\":\"transfer\",\"account\":\"sue\",\"to\":\"sue\","
        "\"amount\":\"1\"}\n"
        "{\"id\":\"s7\",\"type\":\"withdraw\",\"account\":\"sue\",\"amount\":\"1.01\"}\n"
        "{\"id\":\"s8\",\"type\":\"transfer\",\"account\":\"sue\",\"to\":\"bob\","
        "\"amount\":\"1\"}\n"
        "{\"id\":\"s9\",\"type\":\"close\",\"account\":\"sue\"}\n";
    tcf_run_result res;
    e2e_ledger(&env, &res, (const char *const[]){"submit", NULL}, input);
    cr_assert_eq(res.exit_code, 0, "submit: exit %d: %s", res.exit_code, res.err);
    const char *want[][2] = {
        {"s1", "accepted"},           {"s2", "invalid_amount"},    {"s3", "invalid_account"},
        {"s4", "malformed_command"},  {NULL, "malformed_command"}, {"s6", "same_account"},
        {"s7", "insufficient_funds"}, {"s8", "accepted"},          {"s9", "nonzero_balance"},
    };
    const char *line = res.out;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "line %zu missing: %s", i + 1, res.out);
        json_error_t error;
        json_t *r = json_loadb(line, (size_t)(nl - line), 0, &error);
        cr_assert(json_is_object(r), "line %zu: %s", i + 1, error.text);
        if (want[i][0] != NULL)
            cr_assert_str_eq(e2e_str(r, "command_id"), want[i][0], "line %zu", i + 1);
        if (strcmp(want[i][1], "accepted") == 0) {
            cr_assert_str_eq(e2e_str(r, "status"), "accepted", "line %zu", i + 1);
        } else {
            cr_assert_str_eq(e2e_str(r, "status"), "rejected", "line %zu", i + 1);
            cr_assert_str_eq(e2e_str(r, "reason"), want[i][1], "line %zu", i + 1);
        }
        json_decref(r);
        line = nl + 1;
    }
    cr_assert_str_empty(line, "extra output: %s", line);
    tcf_run_free(&res);
}

Test(e2e_rules, no_producer_means_exit_3) {
    ph_stop(&env.ph);
    tcf_run_result res;
    e2e_ledger(&env, &res, (const char *const[]){"deposit", "alice", "1", "--timeout", "2", NULL},
               NULL);
    cr_assert_eq(res.exit_code, 3, "exit %d: %s", res.exit_code, res.err);
    cr_assert_str_empty(res.out);
    cr_assert_str_not_empty(res.err);
    tcf_run_free(&res);
}
