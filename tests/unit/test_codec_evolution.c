/*
 * test_codec_evolution.c - schema evolution: first-release events (the
 * committed fixture tests/fixtures/events.v1.hex, written by fastavro with
 * ledger.Event.v1) read by the current reader, the v1 -> v2 upgrader, and
 * the resolution rules of the plan compiler on a hypothetical future writer
 * (fields reordered, added and removed, int -> long, enum symbols and union
 * branches matched by name).
 */
#include <avro.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "plan.h"
#include "wire.h"

static ledger_codec *codec;

static void setup(void) {
    char err[512] = "";
    codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
}

static void teardown(void) {
    ledger_codec_destroy(codec);
}

TestSuite(evolution, .init = setup, .fini = teardown);

/* --- the first-release fixture ----------------------------------------- */

#define FIXTURE_MAX 16

typedef struct fixture_record {
    char label[64];
    uint8_t bytes[512];
    size_t len;
} fixture_record;

static size_t read_fixture(fixture_record *out) {
    FILE *f = fopen(LEDGER_FIXTURES_DIR "/events.v1.hex", "r");
    cr_assert_not_null(f, "cannot open events.v1.hex");
    char line[4096];
    size_t count = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        cr_assert_lt(count, (size_t)FIXTURE_MAX);
        fixture_record *r = &out[count++];
        char hex[2048];
        cr_assert_eq(sscanf(line, "%63s %2047s", r->label, hex), 2);
        r->len = strlen(hex) / 2;
        cr_assert_leq(r->len, sizeof r->bytes);
        for (size_t i = 0; i < r->len; i++) {
            unsigned b;
            cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
            r->bytes[i] = (uint8_t)b;
        }
    }
    fclose(f);
    return count;
}

static const fixture_record *find(const fixture_record *records, size_t count, const char *label) {
    for (size_t i = 0; i < count; i++) {
        if (strcmp(records[i].label, label) == 0)
            return &records[i];
    }
    cr_assert_fail("no fixture record '%s'", label);
    return NULL;
}

static void decode_fixture(const fixture_record *r, ledger_event *e) {
    char err[256] = "";
    int rc = ledger_codec_decode_event(codec, r->bytes, r->len, e, err, sizeof err);
    cr_assert_eq(rc, 0, "fixture '%s': %s", r->label, err);
}

#define AT 1795687200000LL /* 2026-11-26T10:00:00Z */

/* The expected values are those listed in the fixture's header (the inputs
 * given to fastavro), written out here by hand. */
Test(evolution, first_release_events_replay_under_the_current_reader) {
    static fixture_record records[FIXTURE_MAX];
    size_t count = read_fixture(records);
    cr_assert_eq(count, 8u);
    const ledger_codec_schema *v1 = ledger_codec_schema_by_id(codec, "ledger.Event.v1");
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(ledger_codec_schema_of(codec, records[i].bytes, records[i].len, NULL, 0), v1,
                     "'%s' is not framed with ledger.Event.v1", records[i].label);

    ledger_event e;
    decode_fixture(find(records, count, "opened"), &e);
    cr_expect_str_eq(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
    cr_expect_str_eq(e.account, "alice");
    cr_expect_eq(e.seq, 1);
    cr_expect_eq(e.at_ms, AT);
    cr_expect_str_eq(e.command_id, "cmd-open-alice");
    cr_expect_eq(e.type, LEDGER_EVENT_ACCOUNT_OPENED);
    cr_expect_eq(e.amount, 5000);

    decode_fixture(find(records, count, "deposited"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_MONEY_DEPOSITED);
    cr_expect_eq(e.amount, 10000);
    cr_expect_eq(e.seq, 2);
    cr_expect_eq(e.at_ms, AT + 60000);
    cr_expect_str_eq(e.memo, "", "v1 has no memo: the reader's default (null) applies");

    decode_fixture(find(records, count, "withdrawn"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_MONEY_WITHDRAWN);
    cr_expect_eq(e.amount, 2550);
    cr_expect_str_eq(e.command_id, "cmd-withdraw");

    decode_fixture(find(records, count, "sent"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_TRANSFER_SENT);
    cr_expect_str_eq(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000a");
    cr_expect_str_eq(e.counterparty, "bob");
    cr_expect_eq(e.amount, 1500);

    decode_fixture(find(records, count, "received"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_TRANSFER_RECEIVED);
    cr_expect_str_eq(e.account, "bob");
    cr_expect_str_eq(e.counterparty, "alice");
    cr_expect_eq(e.at_ms, AT + 3 * 60000);

    decode_fixture(find(records, count, "returned_no_such_account"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_TRANSFER_RETURNED);
    cr_expect_str_eq(e.counterparty, "carol");
    cr_expect_eq(e.amount, 700);
    cr_expect_eq(e.reason, LEDGER_NO_SUCH_ACCOUNT, "the upgrader maps the v1 string");

    decode_fixture(find(records, count, "returned_account_closed"), &e);
    cr_expect_eq(e.reason, LEDGER_ACCOUNT_CLOSED);
    cr_expect_str_eq(e.counterparty, "dave");
    cr_expect_eq(e.seq, 6);

    decode_fixture(find(records, count, "closed"), &e);
    cr_expect_eq(e.type, LEDGER_EVENT_ACCOUNT_CLOSED);
    cr_expect_str_eq(e.account, "bob");
    cr_expect_eq(e.amount, 0);
    cr_expect_str_eq(e.counterparty, "");
}

Test(evolution, our_v1_writer_matches_the_fixture_bytes) {
    /* The encode-with-an-old-schema path writes what the first release
     * wrote (fastavro's bytes). */
    static fixture_record records[FIXTURE_MAX];
    size_t count = read_fixture(records);
    for (size_t i = 0; i < count; i++) {
        ledger_event e;
        uint8_t buf[LEDGER_CODEC_EVENT_MAX];
        size_t len = 0;
        char err[256] = "";
        decode_fixture(&records[i], &e);
        cr_assert_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf, sizeof buf,
                                                    &len, err, sizeof err),
                     0, "%s", err);
        cr_expect_eq(len, records[i].len, "'%s'", records[i].label);
        cr_expect(len == records[i].len && memcmp(buf, records[i].bytes, len) == 0, "'%s'",
                  records[i].label);
    }
}

/* --- the upgrader ---------------------------------------------------------- */

static ledger_event returned(ledger_reason reason) {
    ledger_event e;
    ledger_event_init(&e);
    strcpy(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000009");
    strcpy(e.account, "alice");
    e.seq = 9;
    e.at_ms = AT;
    strcpy(e.command_id, "cmd-9");
    e.type = LEDGER_EVENT_TRANSFER_RETURNED;
    strcpy(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000d");
    strcpy(e.counterparty, "erin");
    e.amount = 42;
    e.reason = reason;
    return e;
}

Test(evolution, upgrader_refuses_a_reason_that_is_no_return_reason) {
    /* A v1 string that names a reason, but not one of ReturnReason's. */
    ledger_event e = returned(LEDGER_INSUFFICIENT_FUNDS), out;
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf, sizeof buf, &len,
                                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), -1);
    cr_expect(strstr(err, "reason 'insufficient_funds' is not a symbol of 'ledger.ReturnReason'") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "TransferReturned.reason") != NULL, "%s", err);
    cr_expect_eq(out.type, LEDGER_EVENT_NONE, "a failed decode leaves the event zeroed");
}

Test(evolution, upgrader_refuses_an_unknown_reason_string) {
    /* The reason is the last field of a v1 TransferReturned: replace
     * "no_such_account" (length byte 0x1e, 15 bytes) by "bogus". */
    ledger_event e = returned(LEDGER_NO_SUCH_ACCOUNT), out;
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf, sizeof buf, &len,
                                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(buf[len - 16], 0x1e);
    cr_assert_eq(memcmp(buf + len - 15, "no_such_account", 15), 0);
    len -= 16;
    buf[len++] = 0x0a; /* length 5 */
    memcpy(buf + len, "bogus", 5);
    len += 5;
    cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), -1);
    cr_expect(strstr(err, "unknown reason 'bogus'") != NULL, "%s", err);
}

Test(evolution, v1_writer_drops_the_memo_and_v2_keeps_it) {
    ledger_event e, out;
    ledger_event_init(&e);
    strcpy(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000010");
    strcpy(e.account, "alice");
    e.seq = 10;
    strcpy(e.command_id, "cmd-10");
    e.type = LEDGER_EVENT_MONEY_DEPOSITED;
    e.amount = 99;
    strcpy(e.memo, "salary");
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf, sizeof buf, &len,
                                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(out.memo, "");
    cr_expect_eq(out.amount, 99);
    cr_assert_eq(ledger_codec_encode_event_with(codec, "ledger.Event.v2", &e, buf, sizeof buf, &len,
                                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(out.memo, "salary");
    cr_expect_eq(ledger_codec_encode_event_with(codec, "ledger.Command.v1", &e, buf, sizeof buf,
                                                &len, err, sizeof err),
                 -1);
    cr_expect(strstr(err, "not an event schema") != NULL, "%s", err);
}

/* --- resolution rules, on a hypothetical future writer -------------------- */

/* Fields reordered; "extra" and "flag" unknown to the reader (skipped, with
 * nested arrays, maps, unions and fixed); seq as int (promoted to long);
 * ReturnReason with its symbols reordered and one more; a payload record the
 * reader does not know (Gift); MoneyDeposited without memo (default). */
static const char future_writer[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"ledger\",\"fields\":["
    "{\"name\":\"command_id\",\"type\":\"string\"},"
    "{\"name\":\"extra\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":"
    "\"double\"}}},"
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"account\",\"type\":\"string\"},"
    "{\"name\":\"seq\",\"type\":\"int\"},"
    "{\"name\":\"at\",\"type\":\"long\"},"
    "{\"name\":\"flag\",\"type\":[\"null\",\"boolean\",\"bytes\",{\"type\":\"fixed\",\"name\":"
    "\"F\",\"size\":3},\"float\"]},"
    "{\"name\":\"payload\",\"type\":["
    "{\"type\":\"record\",\"name\":\"TransferReturned\",\"fields\":["
    "{\"name\":\"reason\",\"type\":{\"type\":\"enum\",\"name\":\"ReturnReason\",\"symbols\":"
    "[\"account_closed\",\"no_such_account\",\"frozen\"]}},"
    "{\"name\":\"amount\",\"type\":\"int\"},"
    "{\"name\":\"to\",\"type\":\"string\"},"
    "{\"name\":\"transfer_id\",\"type\":\"string\"},"
    "{\"name\":\"note\",\"type\":\"float\"}]},"
    "{\"type\":\"record\",\"name\":\"Gift\",\"fields\":[{\"name\":\"amount\",\"type\":\"long\"}]},"
    "{\"type\":\"record\",\"name\":\"MoneyDeposited\",\"fields\":[{\"name\":\"amount\",\"type\":"
    "\"long\"}]}]}]}";

typedef struct plans {
    avro_schema_t writer_schema;
    codec_plan *plan;
} plans;

static int compile_for(const char *reader_id, const char *json, uint64_t fingerprint, plans *p,
                       char *err, size_t err_size) {
    const ledger_codec_schema *reader = ledger_codec_schema_by_id(codec, reader_id);
    avro_schema_t reader_schema;
    cr_assert_eq(avro_schema_from_json_length(reader->json, strlen(reader->json), &reader_schema),
                 0);
    cr_assert_eq(avro_schema_from_json_length(json, strlen(json), &p->writer_schema), 0, "%s",
                 avro_strerror());
    codec_plan_schema w = {"future", p->writer_schema, json, strlen(json), fingerprint};
    codec_plan_schema r = {reader->id, reader_schema, reader->json, strlen(reader->json),
                           reader->fingerprint};
    int rc = codec_plan_decoder(&w, &r, &p->plan, err, err_size);
    avro_schema_decref(reader_schema);
    return rc;
}

static int compile_writer(const char *json, uint64_t fingerprint, plans *p, char *err,
                          size_t err_size) {
    return compile_for("ledger.Event.v2", json, fingerprint, p, err, err_size);
}

/* A tiny Avro writer of the test's own, for hand-made records. */
typedef struct bytes {
    uint8_t b[512];
    size_t n;
} bytes;

static void put_long(bytes *o, int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
    do {
        uint8_t byte = u & 0x7f;
        u >>= 7;
        o->b[o->n++] = u ? (uint8_t)(byte | 0x80) : byte;
    } while (u);
}

static void put_str(bytes *o, const char *s) {
    put_long(o, (int64_t)strlen(s));
    memcpy(o->b + o->n, s, strlen(s));
    o->n += strlen(s);
}

static void put_raw(bytes *o, const void *p, size_t n) {
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

/* The writer's fields up to the payload. */
static void future_envelope(bytes *o, int flag_branch) {
    put_str(o, "cmd-f");
    /* extra: a map block of 1 entry "k" -> array [1.5, 2.5], then end */
    put_long(o, 1);
    put_str(o, "k");
    put_long(o, 2);
    double d[2] = {1.5, 2.5};
    put_raw(o, d, sizeof d);
    put_long(o, 0);
    put_long(o, 0);
    put_str(o, "5f0c8e8a-3f57-4c1e-9a53-00000000000f");
    put_str(o, "frank");
    put_long(o, 77);       /* seq, an int */
    put_long(o, -1234567); /* at */
    put_long(o, flag_branch);
    if (flag_branch == 1)
        o->b[o->n++] = 1;
    else if (flag_branch == 2)
        put_str(o, "xyz");
    else if (flag_branch == 3)
        put_raw(o, "abc", 3);
    else if (flag_branch == 4)
        put_raw(o, "\0\0\0\0", 4);
}

Test(evolution, future_writer_resolves_by_name_with_promotion_skips_and_defaults) {
    plans p = {0};
    char err[512] = "";
    cr_assert_eq(compile_writer(future_writer, 0x1234, &p, err, sizeof err), 0, "%s", err);
    for (int flag = 0; flag <= 4; flag++) {
        bytes o = {.n = 0};
        future_envelope(&o, flag);
        put_long(&o, 0); /* TransferReturned */
        put_long(&o, 0); /* reason: account_closed, index 0 in the writer */
        put_long(&o, 321);
        put_str(&o, "gina");
        put_str(&o, "7d3c6a10-0b8e-4f5a-8c21-00000000000e");
        put_raw(&o, "\0\0\0\0", 4); /* note */
        ledger_event e;
        ledger_event_init(&e);
        cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &e, err, sizeof err), 0,
                     "flag branch %d: %s", flag, err);
        cr_expect_str_eq(e.command_id, "cmd-f");
        cr_expect_str_eq(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-00000000000f");
        cr_expect_str_eq(e.account, "frank");
        cr_expect_eq(e.seq, 77);
        cr_expect_eq(e.at_ms, -1234567);
        cr_expect_eq(e.type, LEDGER_EVENT_TRANSFER_RETURNED);
        cr_expect_eq(e.reason, LEDGER_ACCOUNT_CLOSED, "enum symbols match by name");
        cr_expect_eq(e.amount, 321);
        cr_expect_str_eq(e.counterparty, "gina");
        cr_expect_str_eq(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000e");
    }

    /* MoneyDeposited without memo: the default */
    bytes o = {.n = 0};
    future_envelope(&o, 0);
    put_long(&o, 2);
    put_long(&o, 5);
    ledger_event e;
    ledger_event_init(&e);
    strcpy(e.memo, "stale");
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &e, err, sizeof err), 0, "%s", err);
    cr_expect_eq(e.type, LEDGER_EVENT_MONEY_DEPOSITED);
    cr_expect_eq(e.amount, 5);
    cr_expect_str_eq(e.memo, "", "the default null clears the memo");

    /* A symbol the reader lacks, and a record the reader lacks: errors
     * when met, naming them. */
    o.n = 0;
    future_envelope(&o, 0);
    put_long(&o, 0);
    put_long(&o, 2); /* "frozen" */
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &e, err, sizeof err), -1);
    cr_expect(strstr(err, "enum symbol 2") && strstr(err, "unknown to the reader") &&
                  strstr(err, "TransferReturned.reason"),
              "%s", err);
    o.n = 0;
    future_envelope(&o, 0);
    put_long(&o, 1); /* Gift */
    put_long(&o, 5);
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &e, err, sizeof err), -1);
    cr_expect(strstr(err, "writer branch 'ledger.Gift' of 'payload' has no match in the reader"),
              "%s", err);
    codec_plan_destroy(p.plan);
    avro_schema_decref(p.writer_schema);
}

Test(evolution, writer_without_a_reader_field_that_has_no_default_is_refused) {
    static const char no_account[] =
        "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"ledger\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"seq\",\"type\":\"long\"},"
        "{\"name\":\"at\",\"type\":\"long\"},{\"name\":\"command_id\",\"type\":\"string\"},"
        "{\"name\":\"payload\",\"type\":[{\"type\":\"record\",\"name\":\"AccountClosed\","
        "\"fields\":[]}]}]}";
    plans p = {0};
    char err[512] = "";
    cr_assert_eq(compile_writer(no_account, 0x99, &p, err, sizeof err), -1);
    cr_expect(strstr(err, "reader field 'account' is missing from writer 'future' and has no "
                          "default") != NULL,
              "%s", err);
    avro_schema_decref(p.writer_schema);
}

Test(evolution, string_to_enum_without_an_upgrader_is_refused) {
    /* ledger.Event.v1's text under another fingerprint: the upgrader is
     * keyed by v1's fingerprint and must not apply. */
    const ledger_codec_schema *v1 = ledger_codec_schema_by_id(codec, "ledger.Event.v1");
    plans p = {0};
    char err[512] = "";
    cr_assert_eq(compile_writer(v1->json, v1->fingerprint ^ 1, &p, err, sizeof err), -1);
    cr_expect(strstr(err, "'TransferReturned.reason' of type 'string' does not resolve to reader "
                          "type 'ledger.ReturnReason' and no upgrader is registered") != NULL,
              "%s", err);
    avro_schema_decref(p.writer_schema);
    /* and with v1's fingerprint it compiles */
    cr_assert_eq(compile_writer(v1->json, v1->fingerprint, &p, err, sizeof err), 0, "%s", err);
    codec_plan_destroy(p.plan);
    avro_schema_decref(p.writer_schema);
}

Test(evolution, reader_defaults_overwrite_whatever_was_there) {
    /* Older writers of results and commands without the optional fields:
     * the reader's defaults (null, false) apply, whatever *out held. */
    static const char old_result[] =
        "{\"type\":\"record\",\"name\":\"CommandResult\",\"namespace\":\"ledger\",\"fields\":["
        "{\"name\":\"command_id\",\"type\":\"string\"},"
        "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"ResultStatus\","
        "\"symbols\":[\"rejected\",\"accepted\"]}}]}";
    plans p = {0};
    char err[512] = "";
    cr_assert_eq(compile_for("ledger.CommandResult.v1", old_result, 0x77, &p, err, sizeof err), 0,
                 "%s", err);
    bytes o = {.n = 0};
    put_str(&o, "cmd-old");
    put_long(&o, 1); /* accepted, symbol 1 in this writer */
    ledger_result r;
    memset(&r, 0x5a, sizeof r);
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &r, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(r.command_id, "cmd-old");
    cr_expect_eq(r.reason, LEDGER_OK);
    cr_expect(!r.duplicate);
    cr_expect(!r.has_event);
    cr_expect(!r.has_position);
    o.n = 0;
    put_str(&o, "cmd-old");
    put_long(&o, 0); /* rejected, but this writer cannot say why */
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "rejected result of 'cmd-old' without a reason") != NULL, "%s", err);
    codec_plan_destroy(p.plan);
    avro_schema_decref(p.writer_schema);

    static const char old_command[] =
        "{\"type\":\"record\",\"name\":\"Command\",\"namespace\":\"ledger\",\"fields\":["
        "{\"name\":\"id\",\"type\":\"string\"},"
        "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"CommandType\","
        "\"symbols\":[\"close\",\"open\"]}},"
        "{\"name\":\"account\",\"type\":\"string\"},"
        "{\"name\":\"amount\",\"type\":\"int\"}]}";
    cr_assert_eq(compile_for("ledger.Command.v1", old_command, 0x78, &p, err, sizeof err), 0, "%s",
                 err);
    o.n = 0;
    put_str(&o, "cmd-c");
    put_long(&o, 0); /* close */
    put_str(&o, "alice");
    put_long(&o, -7);
    ledger_command c;
    memset(&c, 0x5a, sizeof c);
    cr_assert_eq(codec_wire_decode(p.plan, o.b, o.n, 0, &c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.id, "cmd-c");
    cr_expect_eq(c.type, LEDGER_COMMAND_CLOSE);
    cr_expect_str_eq(c.account, "alice");
    cr_expect_eq(c.amount, -7);
    cr_expect_str_eq(c.to, "");
    cr_expect(!c.has_at);
    codec_plan_destroy(p.plan);
    avro_schema_decref(p.writer_schema);
}
