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
    /* H, 10, HSET, key, balance, 750, version, 3, status, open, overdraft, 0 */
    cr_assert_eq(argc, 12);
    cr_assert_str_eq(argv[3], "ns:balance:g1:{A}:state");
    cr_assert_str_eq(argv[5], "750");
    cr_assert_str_eq(argv[7], "3");
    cr_assert_str_eq(argv[9], "open");

    ledger_event gap[] = {event(5, LEDGER_EVENT_MONEY_DEPOSITED, 1)};
    in.events = gap;
    in.event_count = 1;
    cr_assert_eq(balance_view.apply_account(NULL, b, &in, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "expected seq 3, got 5"), "%s", err);
    freeReplyObject(stored);
    view_batch_destroy(b);
}
