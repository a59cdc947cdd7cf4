/*
 * test_cli_submit.c - `ledger submit`: JSON lines in, one result line per
 * input line out, in input order, whatever order the results come back in;
 * bad lines rejected in place and never sent; missing results named after
 * --timeout with exit 3. A fake producer service answers in reverse or
 * random order, with other clients' results mixed in.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "kafka_test.h"
#include "money.h"
#include "test_cli_fixture.h"

static tcf_topics topics;

static void setup(void) {
    tcf_topics_create(&topics);
}

static void teardown(void) {
    tcf_topics_delete(&topics);
}

/* The answer a command gets, decided from its account's number, so the
 * test knows it without reading the CLI's output: accounts "acct-N" with
 * N % 5 == 3 are refused for insufficient funds, the others accepted with
 * an event whose seq is N + 1. */
static void answer_by_account(const ledger_command *c, size_t index, ledger_result *r) {
    (void)index;
    int n = atoi(c->account + 5);
    if (n % 5 == 3) {
        r->reason = LEDGER_INSUFFICIENT_FUNDS;
        return;
    }
    ledger_event e;
    ledger_event_init(&e);
    tcf_uuid(e.event_id);
    ledger_id_copy(e.account, sizeof(e.account), c->account);
    e.seq = n + 1;
    e.at_ms = c->has_at ? c->at_ms : 0;
    ledger_id_copy(e.command_id, sizeof(e.command_id), c->id);
    e.amount = c->amount;
    switch (c->type) {
        case LEDGER_COMMAND_OPEN:
            e.type = LEDGER_EVENT_ACCOUNT_OPENED;
            break;
        case LEDGER_COMMAND_DEPOSIT:
            e.type = LEDGER_EVENT_MONEY_DEPOSITED;
            break;
        case LEDGER_COMMAND_WITHDRAW:
            e.type = LEDGER_EVENT_MONEY_WITHDRAWN;
            break;
        case LEDGER_COMMAND_TRANSFER:
            e.type = LEDGER_EVENT_TRANSFER_SENT;
            ledger_id_copy(e.counterparty, sizeof(e.counterparty), c->to);
            tcf_uuid(e.transfer_id);
            break;
        default:
            e.type = LEDGER_EVENT_ACCOUNT_CLOSED;
            e.amount = 0;
            break;
    }
    tcf_accept(r, &e, n % TCF_PARTITIONS, 1000 + n);
}

/* One input line and what its output line must say. */
typedef struct expected_line {
    char input[512];
    char id[64];        /* "" when the line has none */
    int account_n;      /* -1 for a bad line */
    const char *reason; /* for a bad line: the reason; for a good one: NULL */
    int64_t amount;     /* for a good line */
    ledger_command_type type;
} expected_line;

#define LINES 60

static const char *const type_names[] = {"open", "deposit", "withdraw", "transfer", "close"};

/* Builds LINES lines: good ones of every type for accounts acct-0.., with
 * bad ones in between (every 7th line), and with or without ids. */
static size_t build_input(expected_line *lines, bool with_ids, char *input, size_t size) {
    static const struct {
        const char *line;
        const char *reason;
    } bad[] = {
        {"this is not json", "malformed_command"},
        {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"1.234\"}", "invalid_amount"},
        {"{\"type\":\"explode\",\"account\":\"A\"}", "malformed_command"},
        {"{\"type\":\"deposit\",\"account\":\"a b\",\"amount\":\"5\"}", "invalid_account"},
        {"{\"type\":\"transfer\",\"account\":\"A\",\"to\":\"B\"}", "malformed_command"},
        {"{\"type\":\"withdraw\",\"account\":\"A\",\"amount\":\"5\",\"at\":\"noon\"}",
         "malformed_command"},
        {"{\"type\":\"open\",\"account\":\"A\",\"overdraft\":\"-1\"}", "invalid_amount"},
        {"{\"type\":\"transfer\",\"account\":\"A\",\"to\":\"\",\"amount\":\"1\"}",
         "invalid_account"},
        {"[1,2,3]", "malformed_command"},
    };
    size_t used = 0, n_good = 0, n_bad = 0;
    input[0] = '\0';
    for (size_t i = 0; i < LINES; i++) {
        expected_line *l = &lines[i];
        memset(l, 0, sizeof(*l));
        if (i % 7 == 6) {
            size_t b = n_bad++ % (sizeof(bad) / sizeof(bad[0]));
            snprintf(l->input, sizeof(l->input), "%s", bad[b].line);
            l->account_n = -1;
            l->reason = bad[b].reason;
        } else {
            int n = (int)n_good++;
            l->account_n = n;
            l->type = (ledger_command_type)(1 + n % 5);
            l->amount = l->type == LEDGER_COMMAND_CLOSE ? 0 : 100 * n + 1;
            char money[MONEY_TEXT_BUF];
            money_format(l->amount, money, sizeof(money));
            if (with_ids || n % 2 == 0)
                snprintf(l->id, sizeof(l->id), "line-%zu-%08x", i, kt_random_u32());
            char id_member[96] = "";
            if (l->id[0] != '\0')
                snprintf(id_member, sizeof(id_member), "\"id\":\"%s\",", l->id);
            const char *amount_key = l->type == LEDGER_COMMAND_OPEN ? "overdraft" : "amount";
            snprintf(l->input, sizeof(l->input),
                     "{%s\"type\":\"%s\",\"account\":\"acct-%d\",\"to\":\"acct-x\",\"%s\":\"%s\","
                     "\"at\":\"2026-11-26T10:%02d:00Z\"}",
                     id_member, type_names[l->type - 1], n, amount_key, money, n % 60);
        }
        int w = snprintf(input + used, size - used, "%s\n", l->input);
        cr_assert(w > 0 && (size_t)w < size - used);
        used += (size_t)w;
    }
    return n_good;
}

/* Checks the output lines against the expectation; `seen` maps account
 * numbers to the ids the service saw (for lines without an id). */
static void check_output(const char *out, const expected_line *lines, const tcf_responder *r,
                         long missing_account) {
    const char *p = out;
    for (size_t i = 0; i < LINES; i++) {
        const expected_line *l = &lines[i];
        if (l->account_n >= 0 && l->account_n == missing_account)
            continue; /* its line is not printed */
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "output ends before line %zu", i + 1);
        json_error_t error;
        json_t *obj = json_loadb(p, (size_t)(nl - p), 0, &error);
        cr_assert_not_null(obj, "line %zu is not JSON: %.*s", i + 1, (int)(nl - p), p);
        const char *status = json_string_value(json_object_get(obj, "status"));
        const char *reason = json_string_value(json_object_get(obj, "reason"));
        const json_t *cid = json_object_get(obj, "command_id");
        if (l->account_n < 0) {
            cr_assert_str_eq(status, "rejected", "line %zu", i + 1);
            cr_assert_str_eq(reason, l->reason, "line %zu: %s", i + 1, l->input);
            cr_assert(json_is_string(json_object_get(obj, "error")), "line %zu", i + 1);
        } else {
            /* The id the service saw for this line's account. */
            const char *sent_id = NULL;
            for (size_t k = 0; k < r->received; k++) {
                char account[32];
                snprintf(account, sizeof(account), "acct-%d", l->account_n);
                if (strcmp(r->commands[k].account, account) == 0) {
                    sent_id = r->commands[k].id;
                    cr_assert_eq(r->commands[k].type, l->type, "line %zu", i + 1);
                    cr_assert_eq(r->commands[k].amount, l->amount, "line %zu", i + 1);
                }
            }
            cr_assert_not_null(sent_id, "line %zu was not sent", i + 1);
            if (l->id[0] != '\0')
                cr_assert_str_eq(sent_id, l->id, "line %zu", i + 1);
            else
                cr_assert(ledger_uuid_valid(sent_id, strlen(sent_id)), "line %zu: '%s'", i + 1,
                          sent_id);
            cr_assert_str_eq(json_string_value(cid), sent_id, "line %zu is not its own", i + 1);
            if (l->account_n % 5 == 3) {
                cr_assert_str_eq(status, "rejected", "line %zu", i + 1);
                cr_assert_str_eq(reason, "insufficient_funds", "line %zu", i + 1);
            } else {
                cr_assert_str_eq(status, "accepted", "line %zu", i + 1);
                const json_t *ev = json_array_get(json_object_get(obj, "events"), 0);
                cr_assert_eq(json_integer_value(json_object_get(ev, "seq")), l->account_n + 1,
                             "line %zu", i + 1);
                char pos[32];
                snprintf(pos, sizeof(pos), "%d:%d", l->account_n % TCF_PARTITIONS,
                         1000 + l->account_n);
                cr_assert_str_eq(json_string_value(json_object_get(obj, "position")), pos,
                                 "line %zu", i + 1);
            }
        }
        json_decref(obj);
        p = nl + 1;
    }
    cr_assert_str_eq(p, "", "more output than lines");
}

static void run_submit(tcf_order order, bool with_ids, bool noise) {
    static expected_line lines[LINES];
    static char input[LINES * 600];
    size_t good = build_input(lines, with_ids, input, sizeof(input));
    static tcf_responder r;
    memset(&r, 0, sizeof(r));
    r.topics = &topics;
    r.order = order;
    r.expect = good;
    r.skip_index = -1;
    r.noise = noise;
    r.answer = answer_by_account;
    tcf_responder_start(&r);
    const char *argv[] = {"submit", "--timeout", "15", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, input);
    tcf_responder_join(&r);
    cr_assert_eq(r.received, good, "the service got %zu commands, expected %zu", r.received, good);
    cr_assert_eq(res.exit_code, 0, "exit %d: %s", res.exit_code, res.err);
    check_output(res.out, lines, &r, -1);
    /* Only the good lines were sent. */
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), (int64_t)good);
    tcf_run_free(&res);
}

Test(cli_submit, results_answered_in_reverse_come_out_in_input_order, .init = setup,
     .fini = teardown, .timeout = 60) {
    run_submit(TCF_REVERSE, true, false);
}

Test(cli_submit, results_answered_at_random_among_others_come_out_in_input_order, .init = setup,
     .fini = teardown, .timeout = 60) {
    run_submit(TCF_SHUFFLE, false, true);
}

Test(cli_submit, a_missing_result_exits_3_naming_it_and_prints_the_rest, .init = setup,
     .fini = teardown, .timeout = 60) {
    static expected_line lines[LINES];
    static char input[LINES * 600];
    size_t good = build_input(lines, true, input, sizeof(input));
    static tcf_responder r;
    memset(&r, 0, sizeof(r));
    r.topics = &topics;
    r.order = TCF_REVERSE;
    r.expect = good;
    r.skip_index = 9; /* the 10th command the service receives */
    r.answer = answer_by_account;
    tcf_responder_start(&r);
    const char *argv[] = {"submit", "--timeout", "3", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, input);
    tcf_responder_join(&r);
    cr_assert_eq(res.exit_code, 3, "exit %d: %s", res.exit_code, res.err);
    const ledger_command *missing = &r.commands[9];
    long missing_n = atol(missing->account + 5);
    char want[256];
    snprintf(want, sizeof(want), "no result for command '%s'", missing->id);
    cr_assert(strstr(res.err, want) != NULL, "stderr does not name '%s': %s", missing->id, res.err);
    cr_assert(strstr(res.err, "timeout") != NULL, "%s", res.err);
    check_output(res.out, lines, &r, missing_n);
    cr_assert_lt(res.elapsed_ms, 15000);
    tcf_run_free(&res);
}

/* Every command accepted; the second of two equal ids marked duplicate, as
 * the producer would. */
static void answer_duplicates(const ledger_command *c, size_t index, ledger_result *r) {
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof(e.event_id), "00000000-0000-4000-8000-%012zu", index);
    ledger_id_copy(e.account, sizeof(e.account), c->account);
    e.seq = 1;
    ledger_id_copy(e.command_id, sizeof(e.command_id), c->id);
    e.type = LEDGER_EVENT_MONEY_DEPOSITED;
    e.amount = c->amount;
    tcf_accept(r, &e, 0, (int64_t)index);
    r->duplicate = strcmp(c->id, "same-id") == 0 && c->amount == 200;
}

Test(cli_submit, two_lines_with_one_id_get_their_results_in_order, .init = setup, .fini = teardown,
     .timeout = 60) {
    const char *input = "{\"id\":\"same-id\",\"type\":\"deposit\",\"account\":\"A\",\"amount\":1}\n"
                        "\n"
                        "{\"id\":\"other\",\"type\":\"deposit\",\"account\":\"B\",\"amount\":3}\n"
                        "{\"id\":\"same-id\",\"type\":\"deposit\",\"account\":\"A\",\"amount\":2}";
    tcf_responder r = {.topics = &topics,
                       .order = TCF_IN_ORDER,
                       .expect = 3,
                       .skip_index = -1,
                       .answer = answer_duplicates};
    tcf_responder_start(&r);
    const char *argv[] = {"submit", "--timeout", "15", NULL};
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, input);
    tcf_responder_join(&r);
    cr_assert_eq(res.exit_code, 0, "exit %d: %s", res.exit_code, res.err);
    /* The blank line is skipped; the last line has no newline and counts. */
    char *lines[4] = {NULL};
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(res.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(n, 3, "more than three lines");
        lines[n++] = line;
    }
    cr_assert_eq(n, 3);
    cr_assert(strstr(lines[0], "\"command_id\":\"same-id\"") != NULL, "%s", lines[0]);
    cr_assert(strstr(lines[0], "\"amount\":\"1.00\"") != NULL, "%s", lines[0]);
    cr_assert_null(strstr(lines[0], "duplicate"), "%s", lines[0]);
    cr_assert(strstr(lines[1], "\"command_id\":\"other\"") != NULL, "%s", lines[1]);
    cr_assert(strstr(lines[2], "\"command_id\":\"same-id\"") != NULL, "%s", lines[2]);
    cr_assert(strstr(lines[2], "\"amount\":\"2.00\"") != NULL, "%s", lines[2]);
    cr_assert(strstr(lines[2], "\"duplicate\":true") != NULL, "%s", lines[2]);
    tcf_run_free(&res);
}
