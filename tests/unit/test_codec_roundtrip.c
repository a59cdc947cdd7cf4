/*
 * test_codec_roundtrip.c - encode then decode gives back the same struct, for
 * every command type, every event type, accepted / rejected / duplicate
 * results and snapshots; frames carry the current schema's fingerprint;
 * buffers of the documented sizes suffice; encoding errors are clean.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static ledger_codec *codec;

static void setup(void) {
    char err[512] = "";
    codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
}

static void teardown(void) {
    ledger_codec_destroy(codec);
}

TestSuite(roundtrip, .init = setup, .fini = teardown);

#define AT 1795687200000LL

static ledger_event make_event(ledger_event_type type, int n) {
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.event_id, sizeof e.event_id, "5f0c8e8a-3f57-4c1e-9a53-%012d", n);
    strcpy(e.account, "alice");
    e.seq = n;
    e.at_ms = AT + n;
    snprintf(e.command_id, sizeof e.command_id, "cmd-%d", n);
    e.type = type;
    switch (type) {
        case LEDGER_EVENT_ACCOUNT_OPENED:
            e.amount = 5000;
            break;
        case LEDGER_EVENT_MONEY_DEPOSITED:
            e.amount = 10000;
            strcpy(e.memo, "rent \xc3\xa9");
            break;
        case LEDGER_EVENT_MONEY_WITHDRAWN:
            e.amount = 2550;
            break;
        case LEDGER_EVENT_TRANSFER_SENT:
        case LEDGER_EVENT_TRANSFER_RECEIVED:
        case LEDGER_EVENT_TRANSFER_RETURNED:
            e.amount = 1500;
            strcpy(e.counterparty, "bob");
            snprintf(e.transfer_id, sizeof e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-%012d", n);
            if (type == LEDGER_EVENT_TRANSFER_RETURNED)
                e.reason = n % 2 ? LEDGER_NO_SUCH_ACCOUNT : LEDGER_ACCOUNT_CLOSED;
            break;
        default:
            break;
    }
    return e;
}

static void assert_event_eq(const ledger_event *a, const ledger_event *b) {
    cr_expect_str_eq(a->event_id, b->event_id);
    cr_expect_str_eq(a->account, b->account);
    cr_expect_eq(a->seq, b->seq);
    cr_expect_eq(a->at_ms, b->at_ms);
    cr_expect_str_eq(a->command_id, b->command_id);
    cr_expect_eq(a->type, b->type);
    cr_expect_eq(a->amount, b->amount);
    cr_expect_str_eq(a->counterparty, b->counterparty);
    cr_expect_str_eq(a->transfer_id, b->transfer_id);
    cr_expect_eq(a->reason, b->reason);
    cr_expect_str_eq(a->memo, b->memo);
}

static void expect_header(const uint8_t *buf, const char *schema_id) {
    const ledger_codec_schema *s = ledger_codec_schema_by_id(codec, schema_id);
    cr_assert_not_null(s);
    cr_expect_eq(buf[0], 0xc3);
    cr_expect_eq(buf[1], 0x01);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(buf[2 + i], (uint8_t)(s->fingerprint >> (8 * i)), "fingerprint byte %d", i);
}

Test(roundtrip, every_event_type) {
    for (int t = LEDGER_EVENT_ACCOUNT_OPENED; t <= LEDGER_EVENT_ACCOUNT_CLOSED; t++) {
        for (int n = 1; n <= 2; n++) {
            ledger_event e = make_event((ledger_event_type)t, t * 10 + n), out;
            uint8_t buf[LEDGER_CODEC_EVENT_MAX];
            size_t len = 0;
            char err[256] = "";
            cr_assert_eq(
                ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err), 0,
                "type %d: %s", t, err);
            expect_header(buf, "ledger.Event.v2");
            cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), 0,
                         "type %d: %s", t, err);
            assert_event_eq(&out, &e);
        }
    }
}

Test(roundtrip, extreme_numbers) {
    ledger_event e = make_event(LEDGER_EVENT_MONEY_WITHDRAWN, 1), out;
    int64_t values[] = {0,
                        -1,
                        1,
                        63,
                        64,
                        -64,
                        -65,
                        INT64_MAX,
                        INT64_MIN,
                        INT64_MAX - 1,
                        INT64_MIN + 1,
                        (int64_t)1 << 62};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        e.seq = values[i];
        e.at_ms = values[sizeof values / sizeof values[0] - 1 - i];
        e.amount = values[(i + 1) % (sizeof values / sizeof values[0])];
        uint8_t buf[LEDGER_CODEC_EVENT_MAX];
        size_t len;
        char err[256] = "";
        cr_assert_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), 0, "%s",
                     err);
        cr_expect_eq(out.seq, e.seq);
        cr_expect_eq(out.at_ms, e.at_ms);
        cr_expect_eq(out.amount, e.amount);
    }
}

static void roundtrip_command(const ledger_command *c) {
    ledger_command out;
    uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_command(codec, c, buf, sizeof buf, &len, err, sizeof err), 0,
                 "%s", err);
    expect_header(buf, "ledger.Command.v1");
    cr_assert_eq(ledger_codec_decode_command(codec, buf, len, &out, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(out.id, c->id);
    cr_expect_eq(out.type, c->type);
    cr_expect_str_eq(out.account, c->account);
    cr_expect_str_eq(out.to, c->to);
    cr_expect_eq(out.amount, c->amount);
    cr_expect_eq(out.has_at, c->has_at);
    cr_expect_eq(out.at_ms, c->at_ms);
}

Test(roundtrip, every_command_type_with_and_without_at) {
    for (int t = LEDGER_COMMAND_OPEN; t <= LEDGER_COMMAND_CLOSE; t++) {
        for (int with_at = 0; with_at <= 1; with_at++) {
            ledger_command c;
            ledger_command_init(&c);
            snprintf(c.id, sizeof c.id, "cmd-%d-%d", t, with_at);
            c.type = (ledger_command_type)t;
            strcpy(c.account, "alice");
            if (t == LEDGER_COMMAND_TRANSFER)
                strcpy(c.to, "bob");
            c.amount = t == LEDGER_COMMAND_CLOSE ? 0 : 100 * t;
            c.has_at = with_at;
            c.at_ms = with_at ? AT - 5 : 0;
            roundtrip_command(&c);
        }
    }
}

static void roundtrip_result(const ledger_result *r) {
    ledger_result out;
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_result(codec, r, buf, sizeof buf, &len, err, sizeof err), 0,
                 "%s", err);
    expect_header(buf, "ledger.CommandResult.v1");
    cr_assert_eq(ledger_codec_decode_result(codec, buf, len, &out, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(out.command_id, r->command_id);
    cr_expect_eq(out.reason, r->reason);
    cr_expect_eq(out.duplicate, r->duplicate);
    cr_expect_eq(out.has_event, r->has_event);
    if (r->has_event)
        assert_event_eq(&out.event, &r->event);
    else
        cr_expect_eq(out.event.type, LEDGER_EVENT_NONE);
    cr_expect_eq(out.has_position, r->has_position);
    cr_expect_eq(out.partition, r->partition);
    cr_expect_eq(out.offset, r->offset);
}

Test(roundtrip, accepted_rejected_and_duplicate_results) {
    ledger_result r;
    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-transfer");
    r.has_event = true;
    r.event = make_event(LEDGER_EVENT_TRANSFER_SENT, 4);
    r.has_position = true;
    r.partition = 5;
    r.offset = 123456789;
    roundtrip_result(&r); /* accepted, with event and position */
    r.duplicate = true;
    roundtrip_result(&r); /* the same, returned again */

    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-withdraw");
    for (int reason = LEDGER_MALFORMED_COMMAND; reason < LEDGER_REASON_COUNT_; reason++) {
        r.reason = (ledger_reason)reason;
        r.duplicate = reason % 2;
        roundtrip_result(&r); /* rejected, each reason */
    }

    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-open");
    r.has_position = true; /* accepted, no event kept, position 0:0 */
    roundtrip_result(&r);
}

Test(roundtrip, result_frames_say_accepted_or_rejected) {
    /* status is derived from the reason: check the bytes, not only the
     * round trip. Body: command_id (len 1 + "c"), then status. */
    ledger_result r;
    ledger_result_init(&r);
    strcpy(r.command_id, "c");
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err, sizeof err), 0);
    cr_expect_eq(buf[12], 0, "accepted is symbol 0");
    cr_expect_eq(buf[13], 0, "reason null");
    r.reason = LEDGER_NONZERO_BALANCE;
    cr_assert_eq(ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err, sizeof err), 0);
    cr_expect_eq(buf[12], 2, "rejected is symbol 1 (zig-zag 2)");
    cr_expect_eq(buf[13], 2, "reason is the string branch (zig-zag 2)");
    cr_expect_eq(buf[14], 2 * strlen("nonzero_balance"));
    cr_expect_eq(memcmp(buf + 15, "nonzero_balance", 15), 0);
}

Test(roundtrip, snapshots_with_accounts_and_commands) {
    ledger_snapshot s = {.partition = 3, .events_offset = 4242};
    snapshot_account accounts[3];
    snapshot_command commands[2];
    memset(accounts, 0, sizeof accounts);
    memset(commands, 0, sizeof commands);
    const char *names[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        strcpy(accounts[i].account, names[i]);
        accounts[i].state.status = (account_status)i;
        accounts[i].state.balance = -100 * i;
        accounts[i].state.overdraft = 1000 * i;
        accounts[i].state.seq = 7 * i;
    }
    commands[0].handled_at_ms = AT;
    strcpy(commands[0].result.command_id, "cmd-a");
    commands[0].result.has_event = true;
    commands[0].result.event = make_event(LEDGER_EVENT_MONEY_DEPOSITED, 1);
    commands[0].result.has_position = true;
    commands[0].result.partition = 3;
    commands[0].result.offset = 4241;
    commands[1].handled_at_ms = AT + 1;
    strcpy(commands[1].result.command_id, "cmd-b");
    commands[1].result.reason = LEDGER_ACCOUNT_EXISTS;
    s.accounts = accounts;
    s.account_count = 3;
    s.commands = commands;
    s.command_count = 2;

    size_t cap = ledger_codec_snapshot_size_max(&s);
    uint8_t *buf = malloc(cap);
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_snapshot(codec, &s, buf, cap, &len, err, sizeof err), 0, "%s",
                 err);
    expect_header(buf, "ledger.Snapshot.v1");
    ledger_snapshot out;
    cr_assert_eq(ledger_codec_decode_snapshot(codec, buf, len, &out, err, sizeof err), 0, "%s",
                 err);
    cr_expect_eq(out.partition, 3);
    cr_expect_eq(out.events_offset, 4242);
    cr_assert_eq(out.account_count, 3u);
    cr_assert_eq(out.command_count, 2u);
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(out.accounts[i].account, names[i]);
        cr_expect_eq(out.accounts[i].state.status, (account_status)i);
        cr_expect_eq(out.accounts[i].state.balance, -100 * i);
        cr_expect_eq(out.accounts[i].state.overdraft, 1000 * i);
        cr_expect_eq(out.accounts[i].state.seq, 7 * i);
    }
    cr_expect_eq(out.commands[0].handled_at_ms, AT);
    cr_expect_str_eq(out.commands[0].result.command_id, "cmd-a");
    cr_expect(out.commands[0].result.has_event);
    assert_event_eq(&out.commands[0].result.event, &commands[0].result.event);
    cr_expect_eq(out.commands[0].result.offset, 4241);
    cr_expect_eq(out.commands[1].result.reason, LEDGER_ACCOUNT_EXISTS);
    cr_expect(!out.commands[1].result.has_event);
    ledger_snapshot_release(&out);
    cr_expect_null(out.accounts);
    cr_expect_eq(out.account_count, 0u);
    ledger_snapshot_release(NULL);

    /* an empty snapshot */
    ledger_snapshot empty = {.partition = 0};
    cr_assert_eq(ledger_codec_encode_snapshot(codec, &empty, buf, cap, &len, err, sizeof err), 0);
    cr_assert_eq(ledger_codec_decode_snapshot(codec, buf, len, &out, err, sizeof err), 0, "%s",
                 err);
    cr_expect_eq(out.account_count, 0u);
    cr_expect_eq(out.command_count, 0u);
    ledger_snapshot_release(&out);
    free(buf);
}

static void fill(char *s, size_t size, char c) {
    memset(s, c, size - 1);
    s[size - 1] = '\0';
}

Test(roundtrip, documented_buffer_sizes_hold_the_largest_records) {
    /* Every string at its buffer's longest (one more than valid), the
     * longest reason name, 10-byte varints. */
    ledger_event e;
    ledger_event_init(&e);
    fill(e.event_id, sizeof e.event_id, 'e');
    fill(e.account, sizeof e.account, 'a');
    fill(e.command_id, sizeof e.command_id, 'c');
    fill(e.counterparty, sizeof e.counterparty, 'p');
    fill(e.transfer_id, sizeof e.transfer_id, 't');
    fill(e.memo, sizeof e.memo, 'm');
    e.seq = e.at_ms = e.amount = INT64_MIN;
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    char err[256] = "";
    for (int t = LEDGER_EVENT_ACCOUNT_OPENED; t <= LEDGER_EVENT_ACCOUNT_CLOSED; t++) {
        e.type = (ledger_event_type)t;
        e.reason = LEDGER_ACCOUNT_CLOSED;
        cr_expect_eq(ledger_codec_encode_event(codec, &e, buf, LEDGER_CODEC_EVENT_MAX, &len, err,
                                               sizeof err),
                     0, "%s", err);
        cr_expect_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf,
                                                    LEDGER_CODEC_EVENT_MAX, &len, err, sizeof err),
                     0, "%s", err);
    }
    ledger_event out;
    cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), 0);
    cr_expect_str_eq(out.account, e.account, "an over-long id survives as over-long");

    ledger_command c;
    ledger_command_init(&c);
    fill(c.id, sizeof c.id, 'i');
    fill(c.account, sizeof c.account, 'a');
    fill(c.to, sizeof c.to, 't');
    c.type = LEDGER_COMMAND_TRANSFER;
    c.amount = c.at_ms = INT64_MIN;
    c.has_at = true;
    cr_expect_eq(ledger_codec_encode_command(codec, &c, buf, LEDGER_CODEC_COMMAND_MAX, &len, err,
                                             sizeof err),
                 0, "%s", err);

    ledger_result r;
    ledger_result_init(&r);
    fill(r.command_id, sizeof r.command_id, 'r');
    r.reason = LEDGER_INSUFFICIENT_FUNDS; /* the longest name */
    r.has_event = r.has_position = true;
    r.event = e;
    r.event.type = LEDGER_EVENT_MONEY_DEPOSITED;
    r.partition = INT32_MIN;
    r.offset = INT64_MIN;
    cr_expect_eq(
        ledger_codec_encode_result(codec, &r, buf, LEDGER_CODEC_RESULT_MAX, &len, err, sizeof err),
        0, "%s", err);
}

Test(roundtrip, encoding_never_writes_past_the_capacity) {
    ledger_event e = make_event(LEDGER_EVENT_TRANSFER_RETURNED, 3);
    uint8_t buf[LEDGER_CODEC_EVENT_MAX + 64];
    size_t full;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &full, err, sizeof err), 0);
    for (size_t cap = 0; cap < full; cap++) {
        size_t len = 12345;
        memset(buf, 0xaa, sizeof buf);
        cr_assert_eq(ledger_codec_encode_event(codec, &e, buf, cap, &len, err, sizeof err), -1,
                     "cap %zu", cap);
        cr_expect(strstr(err, "buffer too small") != NULL, "%s", err);
        for (size_t i = cap; i < sizeof buf; i++)
            cr_assert_eq(buf[i], 0xaa, "cap %zu: byte %zu written", cap, i);
    }
}

Test(roundtrip, values_no_schema_can_hold_are_refused) {
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    char err[256] = "";
    ledger_event e = make_event(LEDGER_EVENT_NONE, 1);
    cr_expect_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err), -1);
    cr_expect(strstr(err, "cannot write event type 0 of 'payload'") != NULL, "%s", err);

    e = make_event(LEDGER_EVENT_TRANSFER_RETURNED, 1);
    e.reason = LEDGER_INSUFFICIENT_FUNDS; /* not a ReturnReason */
    cr_expect_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err), -1);
    cr_expect(strstr(err, "cannot write reason 8 of 'TransferReturned.reason'") != NULL, "%s", err);

    ledger_command c;
    ledger_command_init(&c);
    c.type = (ledger_command_type)17;
    cr_expect_eq(ledger_codec_encode_command(codec, &c, buf, sizeof buf, &len, err, sizeof err),
                 -1);
    cr_expect(strstr(err, "cannot write command type 17") != NULL, "%s", err);

    ledger_result r;
    ledger_result_init(&r);
    r.reason = LEDGER_REASON_COUNT_;
    cr_expect_eq(ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err, sizeof err), -1);
    cr_expect(strstr(err, "cannot write reason 10 of 'reason': no such value") != NULL, "%s", err);

    ledger_snapshot s = {.account_count = 2, .accounts = NULL};
    cr_expect_eq(ledger_codec_encode_snapshot(codec, &s, buf, sizeof buf, &len, err, sizeof err),
                 -1);
    cr_expect(strstr(err, "'accounts' has 2 items and no array") != NULL, "%s", err);
}

Test(roundtrip, a_record_of_another_kind_is_refused) {
    ledger_event e = make_event(LEDGER_EVENT_ACCOUNT_OPENED, 1);
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err), 0);
    ledger_command c;
    cr_expect_eq(ledger_codec_decode_command(codec, buf, len, &c, err, sizeof err), -1);
    cr_expect_str_eq(err, "record of schema 'ledger.Event.v2' is not a command");
    ledger_snapshot s;
    cr_expect_eq(ledger_codec_decode_snapshot(codec, buf, len, &s, err, sizeof err), -1);
    cr_expect_null(s.accounts);
}
