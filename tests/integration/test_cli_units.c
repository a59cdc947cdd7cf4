/*
 * test_cli_units.c - the CLI's pure parts, without Kafka: reading a
 * `ledger submit` line into a command (reasons and messages), the JSON
 * renderer (escaping, the result shapes of the contract), and the submit
 * window (input order whatever the result order, equal ids, wrap-around),
 * the latter also against a plain model under random operations.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_input.h"
#include "ids.h"
#include "json_out.h"
#include "ltime.h"
#include "submit_window.h"

/* ---- command_input ---- */

static int parse(const char *line, ledger_command *c, command_input_error *err) {
    return command_input_parse_line(line, strlen(line), c, err);
}

Test(cli_input, a_full_transfer_line_reads_into_the_command) {
    ledger_command c;
    command_input_error err;
    cr_assert_eq(parse("{\"id\":\"c1\",\"type\":\"transfer\",\"account\":\"A\",\"to\":\"B\","
                       "\"amount\":\"5.00\",\"at\":\"2026-11-26T10:00:00Z\"}",
                       &c, &err),
                 0, "%s", err.message);
    cr_assert_str_eq(c.id, "c1");
    cr_assert_eq(c.type, LEDGER_COMMAND_TRANSFER);
    cr_assert_str_eq(c.account, "A");
    cr_assert_str_eq(c.to, "B");
    cr_assert_eq(c.amount, 500);
    cr_assert(c.has_at);
    int64_t at = 0;
    cr_assert_eq(ltime_parse("2026-11-26T10:00:00Z", 20, &at, NULL), 0);
    cr_assert_eq(c.at_ms, at);
}

Test(cli_input, optional_fields_numbers_nulls_escapes_and_unknown_members) {
    ledger_command c;
    command_input_error err;
    /* No id: a UUID v4. A bare number amount is read as its text. */
    cr_assert_eq(parse(" { \"type\" : \"deposit\" , \"account\":\"A\\u002db\", \"amount\": 12.5,"
                       " \"at\": null, \"note\": {\"x\": [1, true, null, \"}\"]} } ",
                       &c, &err),
                 0, "%s", err.message);
    cr_assert(ledger_uuid_valid(c.id, strlen(c.id)), "%s", c.id);
    cr_assert_str_eq(c.account, "A-b");
    cr_assert_eq(c.amount, 1250);
    cr_assert_not(c.has_at);
    /* open: overdraft optional (0), zero allowed. */
    cr_assert_eq(parse("{\"type\":\"open\",\"account\":\"A\"}", &c, &err), 0, "%s", err.message);
    cr_assert_eq(c.amount, 0);
    cr_assert_eq(parse("{\"type\":\"open\",\"account\":\"A\",\"overdraft\":\"0\"}", &c, &err), 0);
    cr_assert_eq(parse("{\"type\":\"close\",\"account\":\"A\",\"id\":\"x y\"}", &c, &err), 0);
    cr_assert_str_eq(c.id, "x y");
}

typedef struct bad_line {
    const char *line;
    ledger_reason reason;
    const char *message; /* the whole message, or a prefix ending in '*' */
} bad_line;

static const bad_line bad_lines[] = {
    {"", LEDGER_MALFORMED_COMMAND, "invalid json at byte 0: expected a json object"},
    {"nope", LEDGER_MALFORMED_COMMAND, "invalid json at byte 0: expected a json object"},
    {"{\"type\":\"deposit\"", LEDGER_MALFORMED_COMMAND, "invalid json at byte 17: *"},
    {"{\"type\":\"deposit\"} x", LEDGER_MALFORMED_COMMAND,
     "invalid json at byte 19: trailing characters after the object"},
    {"{\"account\":\"A\"}", LEDGER_MALFORMED_COMMAND, "missing field 'type'"},
    {"{\"type\":\"explode\",\"account\":\"A\"}", LEDGER_MALFORMED_COMMAND,
     "unknown type 'explode': expected open, deposit, withdraw, transfer or close"},
    {"{\"type\":7}", LEDGER_MALFORMED_COMMAND, "field 'type' must be a string"},
    {"{\"type\":\"deposit\",\"amount\":\"5\"}", LEDGER_MALFORMED_COMMAND,
     "missing field 'account'"},
    {"{\"type\":\"deposit\",\"account\":\"A\"}", LEDGER_MALFORMED_COMMAND,
     "missing field 'amount'"},
    {"{\"type\":\"transfer\",\"account\":\"A\",\"amount\":\"5\"}", LEDGER_MALFORMED_COMMAND,
     "missing field 'to'"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"account\":\"B\",\"amount\":\"5\"}",
     LEDGER_MALFORMED_COMMAND, "duplicate field 'account'"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"5\",\"at\":\"2026-11-26\"}",
     LEDGER_MALFORMED_COMMAND, "invalid time '2026-11-26': *"},
    {"{\"id\":\"\",\"type\":\"close\",\"account\":\"A\"}", LEDGER_MALFORMED_COMMAND,
     "invalid command id '': must be 1 to 128 printable ASCII characters"},
    {"{\"type\":\"close\",\"account\":\"a b\"}", LEDGER_INVALID_ACCOUNT,
     "invalid account 'a b': only letters, digits and '.', '_', '-' are allowed"},
    {"{\"type\":\"close\",\"account\":\"A\\u0000\"}", LEDGER_INVALID_ACCOUNT,
     "invalid account 'A*"},
    {"{\"type\":\"transfer\",\"account\":\"A\",\"to\":\"\",\"amount\":\"1\"}",
     LEDGER_INVALID_ACCOUNT, "invalid account '': empty"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"1.234\"}", LEDGER_INVALID_AMOUNT,
     "invalid amount '1.234': more than two decimals"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":-5}", LEDGER_INVALID_AMOUNT,
     "invalid amount '-5': *"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":1e3}", LEDGER_INVALID_AMOUNT,
     "invalid amount '1e3': *"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":0}", LEDGER_INVALID_AMOUNT,
     "invalid amount '0': zero"},
    {"{\"type\":\"open\",\"account\":\"A\",\"overdraft\":\"-1\"}", LEDGER_INVALID_AMOUNT,
     "invalid overdraft '-1': *"},
    {"{\"type\":\"deposit\",\"account\":\"A\",\"amount\":true}", LEDGER_MALFORMED_COMMAND,
     "field 'amount' must be a string"},
    /* The precedence of SPEC section 5: malformed, account, to, amount. */
    {"{\"type\":\"transfer\",\"account\":\"a b\",\"to\":\"c d\",\"amount\":\"x\"}",
     LEDGER_INVALID_ACCOUNT, "invalid account 'a b': *"},
    {"{\"type\":\"transfer\",\"account\":\"A\",\"to\":\"c d\",\"amount\":\"x\"}",
     LEDGER_INVALID_ACCOUNT, "invalid account 'c d': *"},
    {"{\"type\":\"transfer\",\"account\":\"a b\",\"to\":\"B\",\"amount\":\"x\",\"at\":\"x\"}",
     LEDGER_MALFORMED_COMMAND, "invalid time 'x': *"},
};

Test(cli_input, bad_lines_get_the_first_reason_and_a_message_naming_it) {
    for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
        const bad_line *b = &bad_lines[i];
        ledger_command c;
        command_input_error err;
        cr_assert_eq(parse(b->line, &c, &err), -1, "accepted: %s", b->line);
        cr_assert_eq(err.reason, b->reason, "%s: reason %d (%s)", b->line, err.reason, err.message);
        size_t n = strlen(b->message);
        if (n > 0 && b->message[n - 1] == '*')
            cr_assert(strncmp(err.message, b->message, n - 1) == 0, "%s: '%s'", b->line,
                      err.message);
        else
            cr_assert_str_eq(err.message, b->message, "%s", b->line);
    }
}

Test(cli_input, the_given_id_is_kept_for_the_rejection_line) {
    ledger_command c;
    command_input_error err;
    cr_assert_eq(
        parse("{\"id\":\"q\\\"1\",\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"x\"}", &c,
              &err),
        -1);
    cr_assert(err.has_id);
    cr_assert_eq(err.id_len, 3);
    cr_assert_str_eq(err.id, "q\"1");
    cr_assert_eq(parse("{\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"x\"}", &c, &err), -1);
    cr_assert_not(err.has_id);
}

Test(cli_input, values_too_long_for_the_buffers_are_refused_not_cut) {
    /* 600 zeros then 5: cut to its first bytes it would read as zero or
     * as a valid amount; it must be refused as a whole. */
    static char line[2048];
    char digits[700];
    memset(digits, '0', 600);
    digits[600] = '5';
    digits[601] = '\0';
    snprintf(line, sizeof(line), "{\"type\":\"deposit\",\"account\":\"A\",\"amount\":\"%s\"}",
             digits);
    ledger_command c;
    command_input_error err;
    cr_assert_eq(parse(line, &c, &err), -1);
    cr_assert_eq(err.reason, LEDGER_INVALID_AMOUNT, "%s", err.message);
    cr_assert(strstr(err.message, "': too long") != NULL, "%s", err.message);
    char account[700];
    memset(account, 'a', 600);
    account[600] = '\0';
    snprintf(line, sizeof(line), "{\"type\":\"close\",\"account\":\"%s\"}", account);
    cr_assert_eq(parse(line, &c, &err), -1);
    cr_assert_eq(err.reason, LEDGER_INVALID_ACCOUNT, "%s", err.message);
    cr_assert(strlen(err.message) < 200, "the message quotes at most a part: %s", err.message);
    /* An id too long to keep whole is not quoted cut as if it were the id. */
    snprintf(line, sizeof(line), "{\"id\":\"%s\",\"type\":\"close\",\"account\":\"A\"}", account);
    cr_assert_eq(parse(line, &c, &err), -1);
    cr_assert_eq(err.reason, LEDGER_MALFORMED_COMMAND, "%s", err.message);
    cr_assert_not(err.has_id);
}

Test(cli_input, the_command_line_builder_checks_the_same_way) {
    ledger_command c;
    command_input_error err;
    command_input_text in = {.account = {"A", 1}, .amount = {"5.5", 3}, .id = {"my id", 5}};
    cr_assert_eq(command_input_build(LEDGER_COMMAND_WITHDRAW, &in, &c, &err), 0, "%s", err.message);
    cr_assert_eq(c.amount, 550);
    cr_assert_str_eq(c.id, "my id");
    in.amount.text = "5.555";
    in.amount.len = 5;
    cr_assert_eq(command_input_build(LEDGER_COMMAND_WITHDRAW, &in, &c, &err), -1);
    cr_assert_str_eq(err.message, "invalid amount '5.555': more than two decimals");
}

/* ---- json_out ---- */

static json_out j;
static char buf[4096];

Test(cli_json, strings_are_escaped_into_valid_json) {
    json_out_init(&j, buf, sizeof(buf));
    const char s[] = "q\"b\\n\nt\tc\x01 d\x7f \xc3\xa9 bad\xff end";
    json_out_string_len(&j, s, sizeof(s) - 1);
    cr_assert(json_out_ok(&j));
    cr_assert_str_eq(json_out_text(&j),
                     "\"q\\\"b\\\\n\\nt\\tc\\u0001 d\\u007f \xc3\xa9 bad\\ufffd end\"");
    json_error_t error;
    json_t *v = json_loads(json_out_text(&j), JSON_DECODE_ANY, &error);
    cr_assert_not_null(v, "jansson refuses it: %s", error.text);
    json_decref(v);
}

Test(cli_json, nesting_and_commas) {
    json_out_init(&j, buf, sizeof(buf));
    json_out_object_begin(&j);
    json_out_key(&j, "a");
    json_out_array_begin(&j);
    json_out_int(&j, -3);
    json_out_bool(&j, true);
    json_out_null(&j);
    json_out_object_begin(&j);
    json_out_object_end(&j);
    json_out_array_end(&j);
    json_out_key(&j, "m");
    json_out_money(&j, -1250);
    json_out_key(&j, "t");
    json_out_time(&j, 0);
    json_out_object_end(&j);
    cr_assert(json_out_ok(&j));
    cr_assert_str_eq(json_out_text(&j),
                     "{\"a\":[-3,true,null,{}],\"m\":\"-12.50\",\"t\":\"1970-01-01T00:00:00Z\"}");
}

Test(cli_json, a_text_that_does_not_fit_is_reported) {
    char small[8];
    json_out_init(&j, small, sizeof(small));
    json_out_string(&j, "longer than eight");
    cr_assert_not(json_out_ok(&j));
    cr_assert_lt(strlen(json_out_text(&j)), sizeof(small));
}

Test(cli_json, result_shapes_of_the_contract) {
    ledger_result r;
    ledger_result_init(&r);
    snprintf(r.command_id, sizeof(r.command_id), "c1");
    r.reason = LEDGER_INSUFFICIENT_FUNDS;
    json_out_init(&j, buf, sizeof(buf));
    json_out_result(&j, &r);
    cr_assert_str_eq(
        json_out_text(&j),
        "{\"command_id\":\"c1\",\"status\":\"rejected\",\"reason\":\"insufficient_funds\"}");

    ledger_result_init(&r);
    snprintf(r.command_id, sizeof(r.command_id), "c2");
    r.reason = LEDGER_OK;
    r.duplicate = true;
    r.has_event = true;
    r.has_position = true;
    r.partition = 3;
    r.offset = 17;
    ledger_event *e = &r.event;
    snprintf(e->event_id, sizeof(e->event_id), "11111111-2222-4333-8444-555555555555");
    snprintf(e->account, sizeof(e->account), "A");
    e->seq = 2;
    cr_assert_eq(ltime_parse("2026-11-26T10:00:00Z", 20, &e->at_ms, NULL), 0);
    snprintf(e->command_id, sizeof(e->command_id), "c2");
    e->type = LEDGER_EVENT_TRANSFER_SENT;
    e->amount = 500;
    snprintf(e->counterparty, sizeof(e->counterparty), "B");
    snprintf(e->transfer_id, sizeof(e->transfer_id), "66666666-7777-4888-8999-000000000000");
    json_out_init(&j, buf, sizeof(buf));
    json_out_result(&j, &r);
    cr_assert_str_eq(
        json_out_text(&j),
        "{\"command_id\":\"c2\",\"status\":\"accepted\",\"events\":[{\"event_id\":"
        "\"11111111-2222-4333-8444-555555555555\",\"type\":\"TransferSent\",\"account\":\"A\","
        "\"seq\":2,\"at\":\"2026-11-26T10:00:00Z\",\"command_id\":\"c2\",\"amount\":\"5.00\","
        "\"to\":\"B\",\"transfer_id\":\"66666666-7777-4888-8999-000000000000\"}],"
        "\"position\":\"3:17\",\"transfer_id\":\"66666666-7777-4888-8999-000000000000\","
        "\"duplicate\":true}");

    /* Received and returned transfers, opened accounts, memos. */
    e->type = LEDGER_EVENT_TRANSFER_RETURNED;
    e->reason = LEDGER_ACCOUNT_CLOSED;
    json_out_init(&j, buf, sizeof(buf));
    json_out_event(&j, e);
    cr_assert(strstr(json_out_text(&j), "\"to\":\"B\",\"transfer_id\":\"66666666-7777-4888-8999-"
                                        "000000000000\",\"reason\":\"account_closed\"}") != NULL,
              "%s", json_out_text(&j));
    e->type = LEDGER_EVENT_TRANSFER_RECEIVED;
    json_out_init(&j, buf, sizeof(buf));
    json_out_event(&j, e);
    cr_assert(strstr(json_out_text(&j), "\"from\":\"B\"") != NULL, "%s", json_out_text(&j));
    cr_assert_null(strstr(json_out_text(&j), "reason"));
    e->type = LEDGER_EVENT_ACCOUNT_OPENED;
    json_out_init(&j, buf, sizeof(buf));
    json_out_event(&j, e);
    cr_assert(strstr(json_out_text(&j), "\"overdraft\":\"5.00\"}") != NULL, "%s",
              json_out_text(&j));
    e->type = LEDGER_EVENT_MONEY_DEPOSITED;
    snprintf(e->memo, sizeof(e->memo), "rent \"nov\"");
    json_out_init(&j, buf, sizeof(buf));
    json_out_event(&j, e);
    cr_assert(strstr(json_out_text(&j), "\"amount\":\"5.00\",\"memo\":\"rent \\\"nov\\\"\"}") !=
                  NULL,
              "%s", json_out_text(&j));
}

Test(cli_json, rejections_accounts_and_not_found) {
    json_out_init(&j, buf, sizeof(buf));
    json_out_rejection(&j, NULL, 0, LEDGER_MALFORMED_COMMAND, "bad");
    cr_assert_str_eq(json_out_text(&j), "{\"command_id\":null,\"status\":\"rejected\","
                                        "\"reason\":\"malformed_command\",\"error\":\"bad\"}");
    account_state st = {.status = ACCOUNT_CLOSED, .balance = -5, .overdraft = 0, .seq = 9};
    json_out_init(&j, buf, sizeof(buf));
    json_out_object_begin(&j);
    json_out_account_fields(&j, "A", &st);
    json_out_object_end(&j);
    cr_assert_str_eq(
        json_out_text(&j),
        "{\"account\":\"A\",\"balance\":\"-0.05\",\"version\":9,\"status\":\"closed\"}");
    json_out_init(&j, buf, sizeof(buf));
    json_out_not_found(&j, "Z");
    cr_assert_str_eq(json_out_text(&j), "{\"account\":\"Z\",\"error\":\"not_found\"}");
}

/* ---- submit_window ---- */

static ledger_result result_for(const char *id) {
    ledger_result r;
    ledger_result_init(&r);
    snprintf(r.command_id, sizeof(r.command_id), "%s", id);
    return r;
}

Test(cli_window, results_in_any_order_come_out_in_input_order) {
    submit_window *w = submit_window_new(4);
    cr_assert_not_null(w);
    submit_window_add_pending(w, 1, "a", 0);
    submit_window_add_refused(w, 2, "bad", 3, LEDGER_INVALID_AMOUNT, "invalid amount");
    submit_window_add_pending(w, 3, "b", 0);
    submit_window_add_pending(w, 4, "c", 0);
    cr_assert(submit_window_full(w));
    cr_assert_eq(submit_window_pending(w), 3);
    ledger_result r = result_for("c");
    cr_assert(submit_window_resolve(w, &r));
    r = result_for("b");
    cr_assert(submit_window_resolve(w, &r));
    r = result_for("nobody");
    cr_assert_not(submit_window_resolve(w, &r));
    r = result_for("b");
    cr_assert_not(submit_window_resolve(w, &r), "a second answer matches nothing");
    cr_assert_eq(submit_window_head(w)->state, SUBMIT_SLOT_PENDING, "the head waits for 'a'");
    r = result_for("a");
    cr_assert(submit_window_resolve(w, &r));
    const char *order[] = {"a", "bad", "b", "c"};
    for (int i = 0; i < 4; i++) {
        const submit_slot *s = submit_window_head(w);
        cr_assert_not_null(s);
        cr_assert_str_eq(s->id, order[i]);
        cr_assert_eq(s->line, (uint64_t)i + 1);
        submit_window_pop(w);
    }
    cr_assert_null(submit_window_head(w));
    submit_window_destroy(w);
}

Test(cli_window, equal_ids_resolve_the_oldest_first_and_failures_settle) {
    submit_window *w = submit_window_new(3);
    submit_window_add_pending(w, 1, "x", 0);
    uint64_t second = submit_window_add_pending(w, 2, "x", 0);
    uint64_t third = submit_window_add_pending(w, 3, "y", 0);
    ledger_result r = result_for("x");
    r.offset = 1;
    cr_assert(submit_window_resolve(w, &r));
    cr_assert_eq(submit_window_head(w)->state, SUBMIT_SLOT_DONE);
    cr_assert_eq(submit_window_head(w)->result.offset, 1);
    cr_assert_eq(submit_window_at(w, 1)->state, SUBMIT_SLOT_PENDING);
    cr_assert(submit_window_fail(w, third, "queue full"));
    cr_assert_not(submit_window_fail(w, third, "again"), "only a pending slot fails");
    cr_assert_eq(submit_window_at(w, 2)->state, SUBMIT_SLOT_FAILED);
    r.offset = 2;
    cr_assert(submit_window_resolve(w, &r));
    cr_assert_eq(submit_window_at(w, 1)->result.offset, 2);
    cr_assert_eq(submit_window_at(w, 1)->seq, second);
    cr_assert_eq(submit_window_pending(w), 0);
    submit_window_destroy(w);
}

/* Random adds, resolves and pops against a plain array model, through
 * many wrap-arounds of a small window with colliding ids. */
Test(cli_window, behaves_like_a_model_under_random_operations) {
    enum { CAP = 37, OPS = 200000 };
    submit_window *w = submit_window_new(CAP);
    struct {
        char id[16];
        int state; /* 0 pending, 1 done */
        uint64_t seq;
    } model[CAP];
    size_t head = 0, count = 0;
    unsigned seed = 12345;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) % 10;
        if (r < 4 && count < CAP) {
            size_t i = (head + count) % CAP;
            snprintf(model[i].id, sizeof(model[i].id), "id%u", (seed >> 8) % 23);
            model[i].state = 0;
            model[i].seq = submit_window_add_pending(w, 0, model[i].id, 0);
            count++;
        } else if (r < 8) {
            char id[16];
            snprintf(id, sizeof(id), "id%u", (seed >> 4) % 23);
            size_t oldest = CAP;
            for (size_t k = 0; k < count && oldest == CAP; k++) {
                size_t i = (head + k) % CAP;
                if (model[i].state == 0 && strcmp(model[i].id, id) == 0)
                    oldest = i;
            }
            ledger_result res = result_for(id);
            res.offset = op;
            bool matched = submit_window_resolve(w, &res);
            cr_assert_eq(matched, oldest != CAP, "op %d: resolve '%s'", op, id);
            if (matched) {
                model[oldest].state = 1;
                const submit_slot *s = submit_window_at(w, (oldest + CAP - head) % CAP);
                cr_assert_eq(s->seq, model[oldest].seq);
                cr_assert_eq(s->result.offset, op);
            }
        } else if (count > 0) {
            const submit_slot *s = submit_window_head(w);
            cr_assert_eq(s->seq, model[head].seq);
            cr_assert_str_eq(s->id, model[head].id);
            cr_assert_eq(s->state == SUBMIT_SLOT_DONE, model[head].state == 1);
            submit_window_pop(w);
            head = (head + 1) % CAP;
            count--;
        }
        cr_assert_eq(submit_window_count(w), count);
    }
    submit_window_destroy(w);
}
