/*
 * test_projector_units.c - the projector's pure pieces, without I/O (label
 * "unit"): the key layout, positions, the batch builder's argv vectors
 * (including after its buffers grew), and the balance view's parse and fold
 * on hand-made Redis replies.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance_view.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "text_cursor.h"
#include "view_batch.h"

Test(projector_units, key_layout) {
    char buf[PROJECTOR_KEY_BUF];
    cr_assert_eq(projector_keys_current("ledger", "balance", buf, sizeof(buf)), 22);
    cr_assert_str_eq(buf, "ledger:balance:current");
    projector_keys_building("ns", "fraud", buf, sizeof(buf));
    cr_assert_str_eq(buf, "ns:fraud:building");
    projector_keys_checkpoints("ns", "balance", 3, buf, sizeof(buf));
    cr_assert_str_eq(buf, "ns:balance:g3:checkpoints");
    projector_keys_quarantine("ns", "balance", 1, buf, sizeof(buf));
    cr_assert_str_eq(buf, "ns:balance:g1:quarantine");
    projector_keys_account("ns", "balance", 2, "A-1", "state", buf, sizeof(buf));
    cr_assert_str_eq(buf, "ns:balance:g2:{A-1}:state");
    projector_keys_view("ns", "fraud", 2, "flagged", buf, sizeof(buf));
    cr_assert_str_eq(buf, "ns:fraud:g2:flagged");
    char small[8];
    cr_assert_eq(projector_keys_current("ledger", "balance", small, sizeof(small)), 0,
                 "a key that does not fit is refused, not cut");
    cr_assert_str_empty(small);
}

Test(projector_units, positions) {
    int32_t p;
    int64_t o;
    char err[128];
    cr_assert_eq(projector_query_parse_position("3:1042", &p, &o, err, sizeof(err)), 0);
    cr_assert_eq(p, 3);
    cr_assert_eq(o, 1042);
    const char *bad[] = {"3-17", ":1", "1:", "-1:2", "1:-2", "a:1", "1:2:3", "", " 1:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(projector_query_parse_position(bad[i], &p, &o, err, sizeof(err)), -1, "'%s'",
                     bad[i]);
}

Test(projector_units, batch_argv_vectors_survive_growth) {
    view_batch *b = view_batch_new("ns", "v");
    cr_assert_not_null(b);
    view_batch_reset(b, 7);
    char key[PROJECTOR_KEY_BUF];
    view_batch_account_key(b, "A", "s", key, sizeof(key));
    cr_assert_str_eq(key, "ns:v:g7:{A}:s");

    /* Enough appends to grow every buffer several times. */
    for (int i = 0; i < 5000; i++) {
        char field[16], value[16];
        snprintf(field, sizeof(field), "f%d", i);
        snprintf(value, sizeof(value), "%d", i * 3);
        const char *read[] = {"HGET", key, field};
        view_batch_read(b, 3, read, NULL);
        const char *write[] = {"HSET", key, field, value};
        view_batch_write(b, 4, write, NULL);
    }
    cr_assert_not(view_batch_failed(b));
    cr_assert_eq(view_batch_read_count(b), 5000);
    int argc;
    const char *const *argv;
    const size_t *lens;
    cr_assert_eq(view_batch_read_argv(b, 4321, &argc, &argv, &lens), 0);
    cr_assert_eq(argc, 3);
    cr_assert_str_eq(argv[0], "HGET");
    cr_assert_str_eq(argv[2], "f4321");
    cr_assert_eq(lens[2], 5);

    const char *head[] = {"FCALL", "x"};
    const size_t head_len[] = {5, 1};
    cr_assert_eq(view_batch_fcall_argv(b, head, head_len, 2, &argc, &argv, &lens), 0);
    cr_assert_eq(argc, 2 + 5000 * 5, "each write is its argc then its 4 arguments");
    cr_assert_str_eq(argv[0], "FCALL");
    cr_assert_str_eq(argv[2], "4");
    cr_assert_str_eq(argv[3], "HSET");
    size_t last = 2 + 4999 * 5;
    cr_assert_str_eq(argv[last], "4");
    cr_assert_str_eq(argv[last + 3], "f4999");
    cr_assert_str_eq(argv[last + 4], "14997");
    cr_assert_eq(lens[last + 4], 5);

    /* Reset empties without losing the ability to build again. */
    view_batch_reset(b, 8);
    cr_assert_eq(view_batch_read_count(b), 0);
    cr_assert_eq(view_batch_write_count(b), 0);
    const char *bad[] = {"X"};
    view_batch_write(b, 0, bad, NULL);
    cr_assert(view_batch_failed(b), "argc 0 is refused");
    view_batch_destroy(b);
    view_batch_destroy(NULL);
}

/* Parses RESP commands back with hiredis's own reader (a command is an array
 * of bulk strings, which the reader takes like a reply). */
static redisReply *next_command(redisReader *reader) {
    void *r = NULL;
    cr_assert_eq(redisReaderGetReply(reader, &r), REDIS_OK);
    cr_assert_not_null(r, "another command was expected");
    cr_assert_eq(((redisReply *)r)->type, REDIS_REPLY_ARRAY);
    return r;
}

Test(projector_units, batch_resp_encodings_match_the_argv) {
    view_batch *b = view_batch_new("ns", "v");
    view_batch_reset(b, 3);
    const char *read[] = {"HMGET", "k", "a", ""};
    view_batch_read(b, 4, read, NULL);
    const char *bin[] = {"GET", "x\r\ny"};
    view_batch_read(b, 2, bin, NULL);
    const char *w1[] = {"HSET", "k", "a", "-12"};
    view_batch_write(b, 4, w1, NULL);
    const char *guard[] = {"LEDGER.EXPECT", "q", "A", ""};
    view_batch_mark mark;
    view_batch_mark_get(b, &mark);
    view_batch_write(b, 4, guard, NULL);
    cr_assert_eq(view_batch_pseudo_count(b), 1);
    view_batch_rewind(b, &mark);
    cr_assert_eq(view_batch_pseudo_count(b), 0, "rewind takes the guard back too");
    const char *w2[] = {"RPUSH", "l", "{\"x\":1}"};
    view_batch_write(b, 3, w2, NULL);

    const char *buf;
    size_t len;
    redisReader *reader = redisReaderCreate();
    cr_assert_eq(view_batch_reads_resp(b, &buf, &len), 0);
    redisReaderFeed(reader, buf, len);
    redisReply *r = next_command(reader);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "HMGET");
    cr_assert_eq(r->element[3]->len, 0);
    freeReplyObject(r);
    r = next_command(reader);
    cr_assert_eq(r->element[1]->len, 4);
    cr_assert_eq(memcmp(r->element[1]->str, "x\r\ny", 4), 0);
    freeReplyObject(r);

    cr_assert_eq(view_batch_writes_resp(b, &buf, &len), 0);
    redisReaderFeed(reader, buf, len);
    r = next_command(reader);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[3]->str, "-12");
    freeReplyObject(r);
    r = next_command(reader);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[2]->str, "{\"x\":1}");
    freeReplyObject(r);

    const char *head[] = {"FCALL", "f"};
    const size_t head_len[] = {5, 1};
    cr_assert_eq(view_batch_fcall_resp(b, head, head_len, 2, &buf, &len), 0);
    redisReaderFeed(reader, buf, len);
    r = next_command(reader);
    int argc;
    const char *const *argv;
    const size_t *lens;
    cr_assert_eq(view_batch_fcall_argv(b, head, head_len, 2, &argc, &argv, &lens), 0);
    cr_assert_eq(r->elements, (size_t)argc, "the RESP FCALL is the argv FCALL");
    for (int i = 0; i < argc; i++) {
        cr_assert_eq(r->element[i]->len, lens[i]);
        cr_assert_eq(memcmp(r->element[i]->str, argv[i], lens[i]), 0, "argument %d", i);
    }
    freeReplyObject(r);
    void *none = NULL;
    cr_assert_eq(redisReaderGetReply(reader, &none), REDIS_OK);
    cr_assert_null(none, "nothing more than the commands appended");
    redisReaderFree(reader);
    view_batch_destroy(b);
}

Test(projector_units, batch_keys_are_the_key_layout) {
    view_batch *b = view_batch_new("ledger", "statements");
    char a[PROJECTOR_KEY_BUF], k[PROJECTOR_KEY_BUF];
    const int64_t gens[] = {1, 2, 10, 123456789};
    for (size_t g = 0; g < sizeof(gens) / sizeof(gens[0]); g++) {
        view_batch_reset(b, gens[g]);
        size_t n = view_batch_account_key(b, "acct-7", "m:2026-11", a, sizeof(a));
        cr_assert_eq(n, projector_keys_account("ledger", "statements", gens[g], "acct-7",
                                               "m:2026-11", k, sizeof(k)));
        cr_assert_str_eq(a, k);
        n = view_batch_view_key(b, "flagged", a, sizeof(a));
        cr_assert_eq(n,
                     projector_keys_view("ledger", "statements", gens[g], "flagged", k, sizeof(k)));
        cr_assert_str_eq(a, k);
    }
    char small[24];
    cr_assert_eq(view_batch_account_key(b, "acct-7", "state", small, sizeof(small)), 0,
                 "a key that does not fit is refused, not cut");
    cr_assert_str_empty(small);
    view_batch_destroy(b);
}

Test(projector_units, int_format_is_printf) {
    const int64_t values[] = {0, 1, -1, 9, 10, -10, 750, 1234567890123, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char mine[TEXT_INT_BUF], theirs[TEXT_INT_BUF];
        size_t n = text_int_format(values[i], mine);
        int m = snprintf(theirs, sizeof(theirs), "%lld", (long long)values[i]);
        cr_assert_eq(n, (size_t)m);
        cr_assert_str_eq(mine, theirs);
    }
}

/* ---- the balance view on hand-made replies ---- */

static redisReply *str(const char *s) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *nil(void) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_NIL;
    return r;
}

static redisReply *hmget(redisReply *a, redisReply *b, redisReply *c, redisReply *d) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = 4;
    r->element = calloc(4, sizeof(*r->element));
    r->element[0] = a;
    r->element[1] = b;
    r->element[2] = c;
    r->element[3] = d;
    return r;
}

Test(projector_units, balance_state_parse) {
    account_state s;
    bool found;
    char err[256];
    redisReply *none = hmget(nil(), nil(), nil(), nil());
    cr_assert_eq(balance_view_parse_state(none, &s, &found, err, sizeof(err)), 0);
    cr_assert_not(found);
    cr_assert_eq(s.seq, 0);
    freeReplyObject(none);

    redisReply *ok = hmget(str("-1250"), str("7"), str("open"), str("5000"));
    cr_assert_eq(balance_view_parse_state(ok, &s, &found, err, sizeof(err)), 0);
    cr_assert(found);
    cr_assert_eq(s.balance, -1250);
    cr_assert_eq(s.seq, 7);
    cr_assert_eq(s.status, ACCOUNT_OPEN);
    cr_assert_eq(s.overdraft, 5000);
    freeReplyObject(ok);

    redisReply *bad = hmget(str("12x"), str("7"), str("open"), str("0"));
    cr_assert_eq(balance_view_parse_state(bad, &s, &found, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "'balance'"), "%s", err);
    freeReplyObject(bad);

    redisReply *half = hmget(str("1"), nil(), str("open"), str("0"));
    cr_assert_eq(balance_view_parse_state(half, &s, &found, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "'version'"), "%s", err);
    freeReplyObject(half);

    redisReply *status = hmget(str("1"), str("1"), str("frozen"), str("0"));
    cr_assert_eq(balance_view_parse_state(status, &s, &found, err, sizeof(err)), -1);
    freeReplyObject(status);
}

static ledger_event event(int64_t seq, ledger_event_type type, int64_t amount) {
    ledger_event e;
    ledger_event_init(&e);
    snprintf(e.account, sizeof(e.account), "A");
    e.seq = seq;
    e.type = type;
    e.amount = amount;
    return e;
}

Test(projector_units, balance_apply_skips_what_it_has_and_refuses_a_gap) {
    view_batch *b = view_batch_new("ns", "balance");
    view_batch_reset(b, 1);
    char err[256];
    /* Stored: version 2, balance 10.00. */
    redisReply *stored = hmget(str("1000"), str("2"), str("open"), str("0"));
    const redisReply *replies[] = {stored};
    ledger_event replay[] = {event(1, LEDGER_EVENT_ACCOUNT_OPENED, 0),
                             event(2, LEDGER_EVENT_MONEY_DEPOSITED, 1000)};
    view_account_input in = {
        .account = "A", .replies = replies, .reply_count = 1, .events = replay, .event_count = 2};
    cr_assert_eq(balance_view.apply_account(NULL, b, &in, err, sizeof(err)), 0);
    cr_assert_eq(view_batch_write_count(b), 0, "a replayed batch writes nothing");

    ledger_event more[] = {event(2, LEDGER_EVENT_MONEY_DEPOSITED, 1000),
                           event(3, LEDGER_EVENT_MONEY_WITHDRAWN, 250)};
    in.events = more;
    cr_assert_eq(balance_view.apply_account(NULL, b, &in, err, sizeof(err)), 0);
    cr_assert_eq(view_batch_write_count(b), 1);
    int argc;
    const char *const *argv;
    const size_t *lens;
    const char *head[] = {"H"};
    const size_t head_len[] = {1};
    cr_assert_eq(view_batch_fcall_argv(b, head, head_len, 1, &argc, &argv, &lens), 0);
    /* H, 6, HSET, key, balance, 750, version, 3: status and overdraft did not change */
    cr_assert_eq(argc, 8);
    cr_assert_str_eq(argv[3], "ns:balance:g1:{A}:state");
    cr_assert_str_eq(argv[4], "balance");
    cr_assert_str_eq(argv[5], "750");
    cr_assert_str_eq(argv[6], "version");
    cr_assert_str_eq(argv[7], "3");

    /* An account not stored yet gets every field. */
    redisReply *none = hmget(nil(), nil(), nil(), nil());
    const redisReply *fresh[] = {none};
    ledger_event opened[] = {event(1, LEDGER_EVENT_ACCOUNT_OPENED, 0)};
    view_account_input first = {
        .account = "B", .replies = fresh, .reply_count = 1, .events = opened, .event_count = 1};
    view_batch_reset(b, 1);
    cr_assert_eq(balance_view.apply_account(NULL, b, &first, err, sizeof(err)), 0);
    cr_assert_eq(view_batch_fcall_argv(b, head, head_len, 1, &argc, &argv, &lens), 0);
    cr_assert_eq(argc, 12);
    cr_assert_str_eq(argv[8], "status");
    cr_assert_str_eq(argv[9], "open");
    cr_assert_str_eq(argv[10], "overdraft");
    freeReplyObject(none);
    view_batch_reset(b, 1);

    ledger_event gap[] = {event(5, LEDGER_EVENT_MONEY_DEPOSITED, 1)};
    in.events = gap;
    in.event_count = 1;
    cr_assert_eq(balance_view.apply_account(NULL, b, &in, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "expected seq 3, got 5"), "%s", err);
    freeReplyObject(stored);
    view_batch_destroy(b);
}
