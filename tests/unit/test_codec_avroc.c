/*
 * test_codec_avroc.c - a second independent check of the binary encoding:
 * records written by avro-c's own generic writer (avro_value_write) decode
 * with the codec, and records the codec writes are read by avro-c's generic
 * reader (avro_value_read) to the same values. Same schemas, the codec's
 * framing added or removed by hand.
 */
#include <avro.h>
#include <criterion/criterion.h>
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

TestSuite(avroc, .init = setup, .fini = teardown);

typedef struct generic {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    const ledger_codec_schema *info;
} generic;

static void generic_new(generic *g, const char *schema_id) {
    g->info = ledger_codec_schema_by_id(codec, schema_id);
    cr_assert_not_null(g->info);
    cr_assert_eq(avro_schema_from_json_length(g->info->json, strlen(g->info->json), &g->schema), 0,
                 "%s", avro_strerror());
    g->iface = avro_generic_class_from_schema(g->schema);
    cr_assert_not_null(g->iface);
    cr_assert_eq(avro_generic_value_new(g->iface, &g->value), 0);
}

static void generic_free(generic *g) {
    avro_value_decref(&g->value);
    avro_value_iface_decref(g->iface);
    avro_schema_decref(g->schema);
}

static avro_value_t field(avro_value_t *record, const char *name) {
    avro_value_t f;
    cr_assert_eq(avro_value_get_by_name(record, name, &f, NULL), 0, "no field '%s'", name);
    return f;
}

static void set_string(avro_value_t *record, const char *name, const char *s) {
    avro_value_t f = field(record, name);
    cr_assert_eq(avro_value_set_string(&f, s), 0);
}

static void set_long(avro_value_t *record, const char *name, int64_t v) {
    avro_value_t f = field(record, name);
    cr_assert_eq(avro_value_set_long(&f, v), 0);
}

/* Writes the generic value with avro-c and frames it. */
static size_t write_framed(generic *g, uint8_t *buf, size_t cap) {
    avro_writer_t w = avro_writer_memory((char *)buf + LEDGER_CODEC_HEADER_SIZE,
                                         (int64_t)(cap - LEDGER_CODEC_HEADER_SIZE));
    cr_assert_eq(avro_value_write(w, &g->value), 0, "%s", avro_strerror());
    size_t len = LEDGER_CODEC_HEADER_SIZE + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    buf[0] = 0xc3;
    buf[1] = 0x01;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(g->info->fingerprint >> (8 * i));
    return len;
}

/* Reads a framed record's body with avro-c into g->value. */
static void read_framed(generic *g, const uint8_t *buf, size_t len) {
    avro_reader_t r = avro_reader_memory((const char *)buf + LEDGER_CODEC_HEADER_SIZE,
                                         (int64_t)(len - LEDGER_CODEC_HEADER_SIZE));
    cr_assert_eq(avro_value_read(r, &g->value), 0, "%s", avro_strerror());
    avro_reader_free(r);
}

static const char *get_string(avro_value_t *record, const char *name) {
    avro_value_t f = field(record, name);
    const char *s;
    size_t size;
    cr_assert_eq(avro_value_get_string(&f, &s, &size), 0);
    return s;
}

static int64_t get_long(avro_value_t *record, const char *name) {
    avro_value_t f = field(record, name);
    int64_t v;
    cr_assert_eq(avro_value_get_long(&f, &v), 0);
    return v;
}

static void set_envelope(avro_value_t *v, int64_t seq) {
    set_string(v, "event_id", "5f0c8e8a-3f57-4c1e-9a53-000000000001");
    set_string(v, "account", "alice");
    set_long(v, "seq", seq);
    set_long(v, "at", 1795687200000 + seq);
    set_string(v, "command_id", "cmd-avroc");
}

Test(avroc, avro_c_generic_writer_to_codec_events) {
    /* payload branches in ledger.Event.v2 order */
    for (int branch = 0; branch < 7; branch++) {
        generic g;
        generic_new(&g, "ledger.Event.v2");
        set_envelope(&g.value, branch + 1);
        avro_value_t payload = field(&g.value, "payload"), rec;
        cr_assert_eq(avro_value_set_branch(&payload, branch, &rec), 0);
        switch (branch) {
            case 0:
                set_long(&rec, "overdraft", 5000);
                break;
            case 1: {
                set_long(&rec, "amount", 10000);
                avro_value_t memo = field(&rec, "memo"), text;
                cr_assert_eq(avro_value_set_branch(&memo, 1, &text), 0);
                cr_assert_eq(avro_value_set_string(&text, "gift"), 0);
                break;
            }
            case 2:
                set_long(&rec, "amount", 2550);
                break;
            case 3:
            case 4:
            case 5: {
                set_string(&rec, "transfer_id", "7d3c6a10-0b8e-4f5a-8c21-00000000000a");
                set_string(&rec, branch == 4 ? "from" : "to", "bob");
                set_long(&rec, "amount", 1500);
                if (branch == 5) {
                    avro_value_t reason = field(&rec, "reason");
                    cr_assert_eq(avro_value_set_enum(&reason, 1), 0); /* account_closed */
                }
                break;
            }
            default:
                break;
        }
        uint8_t buf[1024];
        size_t len = write_framed(&g, buf, sizeof buf);
        ledger_event e;
        char err[256] = "";
        cr_assert_eq(ledger_codec_decode_event(codec, buf, len, &e, err, sizeof err), 0,
                     "branch %d: %s", branch, err);
        cr_expect_str_eq(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
        cr_expect_str_eq(e.account, "alice");
        cr_expect_eq(e.seq, branch + 1);
        cr_expect_eq(e.at_ms, 1795687200000 + branch + 1);
        cr_expect_str_eq(e.command_id, "cmd-avroc");
        cr_expect_eq((int)e.type, branch + 1, "branch %d is event type %d", branch, branch + 1);
        static const int64_t amounts[] = {5000, 10000, 2550, 1500, 1500, 1500, 0};
        cr_expect_eq(e.amount, amounts[branch]);
        cr_expect_str_eq(e.memo, branch == 1 ? "gift" : "");
        cr_expect_str_eq(e.counterparty, branch >= 3 && branch <= 5 ? "bob" : "");
        cr_expect_eq(e.reason, branch == 5 ? LEDGER_ACCOUNT_CLOSED : LEDGER_OK);
        generic_free(&g);
    }
}

Test(avroc, codec_events_to_avro_c_generic_reader) {
    ledger_event e;
    ledger_event_init(&e);
    strcpy(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000002");
    strcpy(e.account, "carol");
    e.seq = INT64_MAX;
    e.at_ms = -86400000;
    strcpy(e.command_id, "cmd-2");
    e.type = LEDGER_EVENT_TRANSFER_RETURNED;
    strcpy(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000b");
    strcpy(e.counterparty, "dave");
    e.amount = INT64_MIN;
    e.reason = LEDGER_NO_SUCH_ACCOUNT;
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err), 0);

    generic g;
    generic_new(&g, "ledger.Event.v2");
    read_framed(&g, buf, len);
    cr_expect_str_eq(get_string(&g.value, "event_id"), e.event_id);
    cr_expect_str_eq(get_string(&g.value, "account"), "carol");
    cr_expect_eq(get_long(&g.value, "seq"), INT64_MAX);
    cr_expect_eq(get_long(&g.value, "at"), -86400000);
    cr_expect_str_eq(get_string(&g.value, "command_id"), "cmd-2");
    avro_value_t payload = field(&g.value, "payload"), rec;
    int branch;
    cr_assert_eq(avro_value_get_discriminant(&payload, &branch), 0);
    cr_expect_eq(branch, 5);
    cr_assert_eq(avro_value_get_current_branch(&payload, &rec), 0);
    cr_expect_str_eq(get_string(&rec, "transfer_id"), e.transfer_id);
    cr_expect_str_eq(get_string(&rec, "to"), "dave");
    cr_expect_eq(get_long(&rec, "amount"), INT64_MIN);
    avro_value_t reason = field(&rec, "reason");
    int symbol;
    cr_assert_eq(avro_value_get_enum(&reason, &symbol), 0);
    cr_expect_eq(symbol, 0, "no_such_account is symbol 0");
    generic_free(&g);
}

Test(avroc, commands_both_ways) {
    /* avro-c writes, the codec reads */
    generic g;
    generic_new(&g, "ledger.Command.v1");
    set_string(&g.value, "id", "cmd-tr");
    avro_value_t type = field(&g.value, "type");
    cr_assert_eq(avro_value_set_enum(&type, 3), 0); /* transfer */
    set_string(&g.value, "account", "alice");
    avro_value_t to = field(&g.value, "to"), branch;
    cr_assert_eq(avro_value_set_branch(&to, 1, &branch), 0);
    cr_assert_eq(avro_value_set_string(&branch, "bob"), 0);
    set_long(&g.value, "amount", 1500);
    avro_value_t at = field(&g.value, "at");
    cr_assert_eq(avro_value_set_branch(&at, 0, &branch), 0);
    cr_assert_eq(avro_value_set_null(&branch), 0);
    uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
    size_t len = write_framed(&g, buf, sizeof buf);
    ledger_command c;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_command(codec, buf, len, &c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.id, "cmd-tr");
    cr_expect_eq(c.type, LEDGER_COMMAND_TRANSFER);
    cr_expect_str_eq(c.account, "alice");
    cr_expect_str_eq(c.to, "bob");
    cr_expect_eq(c.amount, 1500);
    cr_expect(!c.has_at);
    generic_free(&g);

    /* the codec writes, avro-c reads */
    ledger_command_init(&c);
    strcpy(c.id, "cmd-open");
    c.type = LEDGER_COMMAND_OPEN;
    strcpy(c.account, "erin");
    c.amount = 0;
    c.has_at = true;
    c.at_ms = 1795687200000;
    cr_assert_eq(ledger_codec_encode_command(codec, &c, buf, sizeof buf, &len, err, sizeof err), 0);
    generic_new(&g, "ledger.Command.v1");
    read_framed(&g, buf, len);
    cr_expect_str_eq(get_string(&g.value, "id"), "cmd-open");
    int symbol;
    type = field(&g.value, "type");
    cr_assert_eq(avro_value_get_enum(&type, &symbol), 0);
    cr_expect_eq(symbol, 0);
    to = field(&g.value, "to");
    int discriminant;
    cr_assert_eq(avro_value_get_discriminant(&to, &discriminant), 0);
    cr_expect_eq(discriminant, 0, "no 'to': null");
    at = field(&g.value, "at");
    cr_assert_eq(avro_value_get_discriminant(&at, &discriminant), 0);
    cr_expect_eq(discriminant, 1);
    cr_assert_eq(avro_value_get_current_branch(&at, &branch), 0);
    int64_t ms;
    cr_assert_eq(avro_value_get_long(&branch, &ms), 0);
    cr_expect_eq(ms, 1795687200000);
    generic_free(&g);
}

Test(avroc, results_with_nested_events_both_ways) {
    ledger_result r;
    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-dep");
    r.duplicate = true;
    r.has_event = true;
    strcpy(r.event.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000003");
    strcpy(r.event.account, "alice");
    r.event.seq = 2;
    strcpy(r.event.command_id, "cmd-dep");
    r.event.type = LEDGER_EVENT_MONEY_DEPOSITED;
    r.event.amount = 777;
    r.has_position = true;
    r.partition = 4;
    r.offset = 31337;
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err, sizeof err), 0);
    generic g;
    generic_new(&g, "ledger.CommandResult.v1");
    read_framed(&g, buf, len);
    cr_expect_str_eq(get_string(&g.value, "command_id"), "cmd-dep");
    avro_value_t f = field(&g.value, "duplicate"), branch, inner;
    int flag;
    cr_assert_eq(avro_value_get_boolean(&f, &flag), 0);
    cr_expect(flag);
    f = field(&g.value, "event");
    cr_assert_eq(avro_value_get_current_branch(&f, &branch), 0);
    cr_expect_eq(get_long(&branch, "seq"), 2);
    inner = field(&branch, "payload");
    avro_value_t deposit;
    cr_assert_eq(avro_value_get_current_branch(&inner, &deposit), 0);
    cr_expect_eq(get_long(&deposit, "amount"), 777);
    f = field(&g.value, "position");
    cr_assert_eq(avro_value_get_current_branch(&f, &branch), 0);
    avro_value_t partition = field(&branch, "partition");
    int32_t p;
    cr_assert_eq(avro_value_get_int(&partition, &p), 0);
    cr_expect_eq(p, 4);
    cr_expect_eq(get_long(&branch, "offset"), 31337);

    /* and back: avro-c writes what it read, the codec decodes it */
    uint8_t again[LEDGER_CODEC_RESULT_MAX];
    size_t again_len = write_framed(&g, again, sizeof again);
    cr_expect_eq(again_len, len);
    cr_expect(memcmp(again, buf, len) == 0, "avro-c writes the same bytes");
    ledger_result out;
    cr_assert_eq(ledger_codec_decode_result(codec, again, again_len, &out, err, sizeof err), 0,
                 "%s", err);
    cr_expect_eq(out.event.amount, 777);
    cr_expect_eq(out.offset, 31337);
    generic_free(&g);
}
