/*
 * test_codec_robust.c - hostile input: every prefix of valid records,
 * random bytes and random mutations of valid records (seeded), wrong magic,
 * unknown fingerprints, huge declared lengths and counts, over-long varints,
 * bad union, enum and boolean values, over-long strings and NUL bytes.
 * Every decode must fail with a clear message or succeed with terminated
 * strings; never crash or read outside the buffer (run under ASan+UBSan).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ids.h"

static ledger_codec *codec;

static void setup(void) {
    char err[512] = "";
    codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
}

static void teardown(void) {
    ledger_codec_destroy(codec);
}

TestSuite(robust, .init = setup, .fini = teardown);

/* --- a hand-written Avro writer, independent of the codec ----------------- */

typedef struct bytes {
    uint8_t b[4096];
    size_t n;
} bytes;

static void put_byte(bytes *o, uint8_t v) {
    o->b[o->n++] = v;
}

static void put_long(bytes *o, int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
    do {
        uint8_t byte = u & 0x7f;
        u >>= 7;
        put_byte(o, u ? (uint8_t)(byte | 0x80) : byte);
    } while (u);
}

static void put_bytes(bytes *o, const void *p, size_t n) {
    put_long(o, (int64_t)n);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_str(bytes *o, const char *s) {
    put_bytes(o, s, strlen(s));
}

static void put_header(bytes *o, const char *schema_id) {
    const ledger_codec_schema *s = ledger_codec_schema_by_id(codec, schema_id);
    cr_assert_not_null(s);
    put_byte(o, 0xc3);
    put_byte(o, 0x01);
    for (int i = 0; i < 8; i++)
        put_byte(o, (uint8_t)(s->fingerprint >> (8 * i)));
}

/* An Event.v2 envelope up to the payload branch. */
static void put_envelope(bytes *o, const char *account) {
    put_header(o, "ledger.Event.v2");
    put_str(o, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
    put_str(o, account);
    put_long(o, 1);
    put_long(o, 1795687200000);
    put_str(o, "cmd-1");
}

static void expect_event_error(const bytes *o, const char *want) {
    ledger_event e;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_event(codec, o->b, o->n, &e, err, sizeof err), -1,
                 "accepted, expected '%s'", want);
    cr_expect(strstr(err, want) != NULL, "error '%s' does not say '%s'", err, want);
    cr_expect_eq(e.type, LEDGER_EVENT_NONE, "a failed decode leaves the event zeroed");
    cr_expect_eq(e.account[0], '\0');
}

/* --- valid records of every kind, for prefixes and mutations --------------- */

#define SAMPLE_COUNT 11

typedef struct sample {
    uint8_t b[2048];
    size_t n;
    ledger_codec_kind kind;
} sample;

static void make_samples(sample *out) {
    char err[256] = "";
    int k = 0;
    for (int t = LEDGER_EVENT_ACCOUNT_OPENED; t <= LEDGER_EVENT_ACCOUNT_CLOSED; t++) {
        ledger_event e;
        ledger_event_init(&e);
        strcpy(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
        strcpy(e.account, "alice");
        strcpy(e.command_id, "cmd");
        e.seq = 300 + t;
        e.at_ms = 1795687200000;
        e.type = (ledger_event_type)t;
        e.amount = 1 << (3 * t);
        strcpy(e.counterparty, "bob");
        strcpy(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000a");
        e.reason = LEDGER_ACCOUNT_CLOSED;
        if (t == LEDGER_EVENT_MONEY_DEPOSITED)
            strcpy(e.memo, "memo");
        out[k].kind = LEDGER_CODEC_EVENT;
        cr_assert_eq(ledger_codec_encode_event(codec, &e, out[k].b, sizeof out[k].b, &out[k].n, err,
                                               sizeof err),
                     0, "%s", err);
        k++;
    }
    ledger_command c;
    ledger_command_init(&c);
    strcpy(c.id, "cmd-t");
    c.type = LEDGER_COMMAND_TRANSFER;
    strcpy(c.account, "alice");
    strcpy(c.to, "bob");
    c.amount = 1500;
    c.has_at = true;
    c.at_ms = 1795687200000;
    out[k].kind = LEDGER_CODEC_COMMAND;
    cr_assert_eq(ledger_codec_encode_command(codec, &c, out[k].b, sizeof out[k].b, &out[k].n, err,
                                             sizeof err),
                 0);
    k++;
    ledger_result r;
    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-t");
    r.has_event = r.has_position = r.duplicate = true;
    cr_assert_eq(ledger_codec_decode_event(codec, out[3].b, out[3].n, &r.event, err, sizeof err),
                 0);
    r.partition = 2;
    r.offset = 99;
    out[k].kind = LEDGER_CODEC_RESULT;
    cr_assert_eq(ledger_codec_encode_result(codec, &r, out[k].b, sizeof out[k].b, &out[k].n, err,
                                            sizeof err),
                 0);
    k++;
    ledger_result_init(&r);
    strcpy(r.command_id, "cmd-x");
    r.reason = LEDGER_INSUFFICIENT_FUNDS;
    out[k].kind = LEDGER_CODEC_RESULT;
    cr_assert_eq(ledger_codec_encode_result(codec, &r, out[k].b, sizeof out[k].b, &out[k].n, err,
                                            sizeof err),
                 0);
    k++;
    snapshot_account accounts[2] = {{.account = "alice", .state = {ACCOUNT_OPEN, 5, 10, 3}},
                                    {.account = "bob", .state = {ACCOUNT_CLOSED, 0, 0, 9}}};
    snapshot_command commands[1] = {{.handled_at_ms = 77}};
    strcpy(commands[0].result.command_id, "cmd-s");
    commands[0].result.reason = LEDGER_SAME_ACCOUNT;
    ledger_snapshot s = {.partition = 1,
                         .events_offset = 1000,
                         .account_count = 2,
                         .accounts = accounts,
                         .command_count = 1,
                         .commands = commands};
    out[k].kind = LEDGER_CODEC_SNAPSHOT;
    cr_assert_eq(ledger_codec_encode_snapshot(codec, &s, out[k].b, sizeof out[k].b, &out[k].n, err,
                                              sizeof err),
                 0);
    k++;
    cr_assert_eq(k, SAMPLE_COUNT);
}

static bool terminated(const char *s, size_t size) {
    return memchr(s, '\0', size) != NULL;
}

/* Decodes with the decoder of `kind`; on success checks that every string is
 * terminated inside its buffer. Returns the decoder's result. */
static int decode_any(ledger_codec_kind kind, const uint8_t *buf, size_t len, char *err,
                      size_t err_size) {
    int rc;
    switch (kind) {
        case LEDGER_CODEC_EVENT: {
            ledger_event e;
            rc = ledger_codec_decode_event(codec, buf, len, &e, err, err_size);
            cr_assert(terminated(e.account, sizeof e.account) &&
                      terminated(e.event_id, sizeof e.event_id) &&
                      terminated(e.memo, sizeof e.memo) &&
                      terminated(e.counterparty, sizeof e.counterparty));
            return rc;
        }
        case LEDGER_CODEC_COMMAND: {
            ledger_command c;
            rc = ledger_codec_decode_command(codec, buf, len, &c, err, err_size);
            cr_assert(terminated(c.id, sizeof c.id) && terminated(c.to, sizeof c.to));
            return rc;
        }
        case LEDGER_CODEC_RESULT: {
            ledger_result r;
            rc = ledger_codec_decode_result(codec, buf, len, &r, err, err_size);
            cr_assert(terminated(r.command_id, sizeof r.command_id));
            return rc;
        }
        case LEDGER_CODEC_SNAPSHOT: {
            ledger_snapshot s;
            rc = ledger_codec_decode_snapshot(codec, buf, len, &s, err, err_size);
            for (size_t i = 0; i < s.account_count; i++)
                cr_assert(terminated(s.accounts[i].account, sizeof s.accounts[i].account));
            if (rc != 0)
                cr_assert(s.accounts == NULL && s.commands == NULL && s.account_count == 0);
            ledger_snapshot_release(&s);
            return rc;
        }
    }
    return -2;
}

Test(robust, every_prefix_of_a_valid_record_is_a_clear_error) {
    static sample samples[SAMPLE_COUNT];
    make_samples(samples);
    for (int k = 0; k < SAMPLE_COUNT; k++) {
        char err[256] = "";
        cr_assert_eq(decode_any(samples[k].kind, samples[k].b, samples[k].n, err, sizeof err), 0,
                     "sample %d: %s", k, err);
        for (size_t len = 0; len < samples[k].n; len++) {
            /* a copy of exactly len bytes, so that ASan sees any over-read */
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, samples[k].b, len);
            err[0] = '\0';
            cr_assert_eq(decode_any(samples[k].kind, copy, len, err, sizeof err), -1,
                         "sample %d decoded from %zu of %zu bytes", k, len, samples[k].n);
            if (len < LEDGER_CODEC_HEADER_SIZE)
                cr_expect(strstr(err, "truncated header") != NULL, "%s", err);
            else /* cut in a string or value, or in an array's items */
                cr_expect(strstr(err, "truncated record at byte ") != NULL ||
                              strstr(err, "bytes left reading 'accounts'") != NULL ||
                              strstr(err, "bytes left reading 'commands'") != NULL,
                          "sample %d, %zu bytes: '%s'", k, len, err);
            free(copy);
        }
    }
}

/* xorshift64*: a fixed seed, so that a failure can be replayed. */
static uint64_t next_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(2685821657736338717);
}

Test(robust, random_bytes_and_mutations_never_crash) {
    static sample samples[SAMPLE_COUNT];
    make_samples(samples);
    uint64_t state = UINT64_C(0x9e3779b97f4a7c15);
    int decoded = 0, refused = 0;
    for (int iter = 0; iter < 200000; iter++) {
        const sample *s = &samples[next_random(&state) % SAMPLE_COUNT];
        size_t len;
        uint8_t *buf;
        uint64_t mode = next_random(&state) % 4;
        if (mode == 0) {
            /* random bytes after a valid header of the right kind */
            len = LEDGER_CODEC_HEADER_SIZE + next_random(&state) % 160;
            buf = malloc(len);
            memcpy(buf, s->b, LEDGER_CODEC_HEADER_SIZE);
            for (size_t i = LEDGER_CODEC_HEADER_SIZE; i < len; i++)
                buf[i] = (uint8_t)next_random(&state);
        } else {
            /* a valid record with a few bytes changed, maybe cut or grown */
            len = s->n;
            if (mode == 2)
                len = LEDGER_CODEC_HEADER_SIZE + next_random(&state) % (s->n - 9);
            if (mode == 3)
                len = s->n + next_random(&state) % 8;
            buf = malloc(len);
            for (size_t i = 0; i < len; i++)
                buf[i] = i < s->n ? s->b[i] : (uint8_t)next_random(&state);
            int flips = len > LEDGER_CODEC_HEADER_SIZE ? 1 + (int)(next_random(&state) % 4) : 0;
            for (int f = 0; f < flips; f++) {
                size_t at = LEDGER_CODEC_HEADER_SIZE +
                            next_random(&state) % (len - LEDGER_CODEC_HEADER_SIZE);
                buf[at] = (uint8_t)next_random(&state);
            }
        }
        char err[256] = "";
        int rc = decode_any(s->kind, buf, len, err, sizeof err);
        cr_assert(rc == 0 || rc == -1);
        if (rc == 0)
            decoded++;
        else {
            refused++;
            cr_assert(err[0] != '\0', "an error without a message");
        }
        free(buf);
    }
    /* Both outcomes must occur, or the test does not test much. */
    cr_expect_gt(decoded, 1000);
    cr_expect_gt(refused, 1000);
}

Test(robust, bad_magic_and_unknown_fingerprint) {
    uint8_t buf[32] = {0xc3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8};
    ledger_event e;
    char err[256] = "";
    cr_expect_eq(ledger_codec_decode_event(codec, buf, sizeof buf, &e, err, sizeof err), -1);
    cr_expect_str_eq(err, "bad magic 0xc302: not an Avro single-object record");
    buf[0] = 'O';
    buf[1] = 'b';
    cr_expect_eq(ledger_codec_decode_event(codec, buf, 2, &e, err, sizeof err), -1);
    cr_expect_str_eq(err, "bad magic 0x4f62: not an Avro single-object record");
    buf[0] = 0xc3;
    buf[1] = 0x01;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(UINT64_C(0x0123456789abcdef) >> (8 * i));
    cr_expect_eq(ledger_codec_decode_event(codec, buf, sizeof buf, &e, err, sizeof err), -1);
    cr_expect_str_eq(err, "unknown schema fingerprint 0x0123456789abcdef");
    cr_expect_null(ledger_codec_schema_of(codec, buf, sizeof buf, err, sizeof err));
    cr_expect_eq(ledger_codec_decode_event(codec, buf, 0, &e, err, sizeof err), -1);
    cr_expect_str_eq(err, "truncated header: 0 bytes");
}

Test(robust, huge_declared_lengths_are_refused_before_use) {
    bytes o = {.n = 0};
    put_header(&o, "ledger.Event.v2");
    put_long(&o, INT64_MAX); /* event_id length */
    put_str(&o, "abc");
    expect_event_error(&o, "truncated record at byte 10 reading 'event_id': length "
                           "9223372036854775807, 4 bytes left");

    o.n = 0;
    put_header(&o, "ledger.Event.v2");
    put_long(&o, -5);
    expect_event_error(&o, "negative length -5 at byte 10 reading 'event_id'");

    o.n = 0;
    put_envelope(&o, "alice");
    put_long(&o, 1); /* MoneyDeposited */
    put_long(&o, 100);
    put_long(&o, 1); /* memo: the string branch */
    put_long(&o, (int64_t)1 << 40);
    expect_event_error(&o, "reading 'MoneyDeposited.memo': length 1099511627776, 0 bytes left");
}

Test(robust, huge_array_counts_are_refused_before_allocating) {
    bytes o = {.n = 0};
    put_header(&o, "ledger.Snapshot.v1");
    put_long(&o, 1);
    put_long(&o, 2);
    size_t at = o.n;
    put_long(&o, (int64_t)1 << 60); /* accounts */
    put_str(&o, "alice");
    ledger_snapshot s;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_snapshot(codec, o.b, o.n, &s, err, sizeof err), -1);
    char want[128];
    snprintf(want, sizeof want,
             "array count 1152921504606846976 at byte %zu exceeds the 6 bytes "
             "left reading 'accounts'",
             at);
    cr_expect_str_eq(err, want);
    cr_expect_null(s.accounts);

    /* a negative count (a block with its byte size) with a bad size */
    o.n = at;
    put_long(&o, -2);
    put_long(&o, 1000);
    cr_assert_eq(ledger_codec_decode_snapshot(codec, o.b, o.n, &s, err, sizeof err), -1);
    cr_expect(strstr(err, "bad array block size 1000") != NULL, "%s", err);
    o.n = at;
    put_long(&o, INT64_MIN);
    cr_assert_eq(ledger_codec_decode_snapshot(codec, o.b, o.n, &s, err, sizeof err), -1);
    cr_expect(strstr(err, "bad array count") != NULL, "%s", err);

    /* two blocks: the accounts of both are kept; then a failure frees them */
    o.n = at;
    for (int block = 0; block < 2; block++) {
        put_long(&o, 1);
        put_str(&o, block ? "bob" : "alice");
        put_long(&o, 1); /* open */
        put_long(&o, 5);
        put_long(&o, 0);
        put_long(&o, 1);
    }
    put_long(&o, 0);
    size_t before_commands = o.n;
    put_long(&o, 0);
    cr_assert_eq(ledger_codec_decode_snapshot(codec, o.b, o.n, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.account_count, 2u);
    cr_expect_str_eq(s.accounts[1].account, "bob");
    ledger_snapshot_release(&s);
    o.n = before_commands;
    put_long(&o, 3); /* three commands, none there */
    cr_assert_eq(ledger_codec_decode_snapshot(codec, o.b, o.n, &s, err, sizeof err), -1);
    cr_expect(strstr(err, "exceeds the 0 bytes left reading 'commands'") != NULL, "%s", err);
    cr_expect_null(s.accounts, "the accounts decoded before the failure are freed");
}

Test(robust, bad_varints) {
    bytes o = {.n = 0};
    put_envelope(&o, "alice");
    o.n -= 6; /* back to before command_id ("cmd-1", 1 + 5 bytes) */
    for (int i = 0; i < 11; i++)
        put_byte(&o, 0x80);
    put_byte(&o, 0);
    expect_event_error(&o, "varint longer than 10 bytes at byte ");

    o.n = 0;
    put_header(&o, "ledger.Event.v2");
    for (int i = 0; i < 9; i++)
        put_byte(&o, 0xff);
    put_byte(&o, 0x02); /* bit 64 */
    expect_event_error(&o, "varint overflows 64 bits at byte 10 reading 'event_id'");

    o.n = 0;
    put_header(&o, "ledger.CommandResult.v1");
    put_str(&o, "c");
    put_long(&o, 0);
    put_long(&o, 0);
    put_byte(&o, 0);
    put_long(&o, 0);
    put_long(&o, 1); /* position */
    put_long(&o, (int64_t)1 << 32);
    put_long(&o, 0);
    ledger_result r;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_result(codec, o.b, o.n, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "int 4294967296 out of range at byte ") != NULL &&
                  strstr(err, "reading 'Position.partition'") != NULL,
              "%s", err);
}

Test(robust, bad_union_enum_and_boolean_values) {
    bytes o = {.n = 0};
    put_envelope(&o, "alice");
    size_t payload = o.n;
    put_long(&o, 7);
    char want[128];
    snprintf(want, sizeof want,
             "union branch 7 out of range (7 branches) at byte %zu reading 'payload'", payload);
    expect_event_error(&o, want);
    o.n = payload;
    put_long(&o, -1);
    expect_event_error(&o, "union branch -1 out of range");

    o.n = payload;
    put_long(&o, 5); /* TransferReturned */
    put_str(&o, "7d3c6a10-0b8e-4f5a-8c21-00000000000a");
    put_str(&o, "bob");
    put_long(&o, 10);
    put_long(&o, 3); /* ReturnReason has 3 symbols */
    expect_event_error(&o, "enum index 3 out of range (3 symbols)");

    o.n = 0;
    put_header(&o, "ledger.Command.v1");
    put_str(&o, "cmd");
    put_long(&o, 5);
    put_str(&o, "alice");
    put_long(&o, 0);
    put_long(&o, 1);
    put_long(&o, 0);
    ledger_command c;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_command(codec, o.b, o.n, &c, err, sizeof err), -1);
    cr_expect_str_eq(err, "enum index 5 out of range (5 symbols) at byte 14 reading 'type'");

    o.n = 0;
    put_header(&o, "ledger.CommandResult.v1");
    put_str(&o, "c");
    put_long(&o, 0);
    put_long(&o, 0);
    put_byte(&o, 2); /* duplicate */
    put_long(&o, 0);
    put_long(&o, 0);
    ledger_result r;
    cr_assert_eq(ledger_codec_decode_result(codec, o.b, o.n, &r, err, sizeof err), -1);
    cr_expect_str_eq(err, "invalid boolean 0x02 at byte 14 reading 'duplicate'");
}

Test(robust, results_must_be_consistent) {
    ledger_result r;
    char err[256] = "";
    bytes o = {.n = 0};
    put_header(&o, "ledger.CommandResult.v1");
    put_str(&o, "cmd-1");
    put_long(&o, 0); /* accepted */
    put_long(&o, 1);
    put_str(&o, "insufficient_funds");
    put_byte(&o, 0);
    put_long(&o, 0);
    put_long(&o, 0);
    cr_assert_eq(ledger_codec_decode_result(codec, o.b, o.n, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "accepted result of 'cmd-1' with reason 'insufficient_funds'") != NULL,
              "%s", err);
    cr_expect_str_eq(r.command_id, "", "zeroed on failure");

    o.n = 0;
    put_header(&o, "ledger.CommandResult.v1");
    put_str(&o, "cmd-2");
    put_long(&o, 1); /* rejected */
    put_long(&o, 0); /* no reason */
    put_byte(&o, 0);
    put_long(&o, 0);
    put_long(&o, 0);
    cr_assert_eq(ledger_codec_decode_result(codec, o.b, o.n, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "rejected result of 'cmd-2' without a reason") != NULL, "%s", err);

    o.n = 0;
    put_header(&o, "ledger.CommandResult.v1");
    put_str(&o, "cmd-3");
    put_long(&o, 1);
    put_long(&o, 1);
    put_bytes(&o, "bog\0us", 6);
    put_byte(&o, 0);
    put_long(&o, 0);
    put_long(&o, 0);
    cr_assert_eq(ledger_codec_decode_result(codec, o.b, o.n, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "unknown reason 'bog?us' at byte 18 reading 'reason'") != NULL, "%s",
              err);
}

Test(robust, trailing_bytes_are_refused) {
    bytes o = {.n = 0};
    put_envelope(&o, "alice");
    put_long(&o, 6); /* AccountClosed */
    ledger_event e;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_event(codec, o.b, o.n, &e, err, sizeof err), 0, "%s", err);
    put_byte(&o, 0);
    expect_event_error(&o, "1 trailing bytes after the record");
}

Test(robust, over_long_strings_stay_invalid_and_nul_bytes_cannot_hide) {
    char longer[101];
    memset(longer, 'a', 100);
    longer[100] = '\0';
    bytes o = {.n = 0};
    put_envelope(&o, longer);
    put_long(&o, 6);
    ledger_event e;
    char err[256] = "";
    cr_assert_eq(ledger_codec_decode_event(codec, o.b, o.n, &e, err, sizeof err), 0, "%s", err);
    cr_expect_eq(strlen(e.account), (size_t)LEDGER_ACCOUNT_MAX + 1);
    cr_expect(!ledger_account_valid(e.account, strlen(e.account)),
              "a 100-byte id must not become a valid 64-byte one");
    cr_expect_str_eq(e.command_id, "cmd-1", "the fields after it are intact");

    o.n = 0;
    put_header(&o, "ledger.Event.v2");
    put_str(&o, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
    put_bytes(&o, "bob\0evil", 8);
    put_long(&o, 1);
    put_long(&o, 1);
    put_str(&o, "c");
    put_long(&o, 6);
    cr_assert_eq(ledger_codec_decode_event(codec, o.b, o.n, &e, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(e.account, "bob\x7f"
                                "evil");
    cr_expect(!ledger_account_valid(e.account, strlen(e.account)));
}
