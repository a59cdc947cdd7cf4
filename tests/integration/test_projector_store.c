/*
 * test_projector_store.c - the store's conditional transaction against a real
 * Redis (label "integration"), through projector_store.h as the runtime uses
 * it: round trip 1 (projector_store_read) then round trip 2
 * (projector_store_apply), with another connection changing keys in between.
 *
 * What it pins down: a change of another partition's checkpoint (same hash,
 * so the EXEC is aborted) is sent again and applied; a change of the
 * batch's own checkpoint or of the generation writes nothing and says so; a
 * batch with a guard goes through ledger_apply with the same result; a read
 * not followed by its apply leaves the connection usable.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "projector_keys.h"
#include "projector_store.h"
#include "test_projector_harness.h"

typedef struct store_fixture {
    pt_env env;
    ledger_redis_url url;
    projector_store *store;
    view_batch *batch;
    redisContext *other; /* another client: the one that changes keys under the batch */
    volatile sig_atomic_t stop;
} store_fixture;

static void fixture_init(store_fixture *f) {
    memset(f, 0, sizeof(*f));
    ledger_log_init("test_projector_store", LEDGER_LOG_LEVEL_WARN);
    pt_env_init(&f->env);
    char errstr[256];
    cr_assert_eq(ledger_redis_url_parse(f->env.redis_url, &f->url, errstr, sizeof(errstr)), 0, "%s",
                 errstr);
    f->store = projector_store_new(&f->url, f->env.redis_prefix, "balance", &f->stop);
    f->batch = view_batch_new(f->env.redis_prefix, "balance");
    f->other = pt_redis(&f->env);
    cr_assert(f->store != NULL && f->batch != NULL);
    cr_assert_eq(projector_store_start(f->store), 0);
}

static void fixture_cleanup(store_fixture *f) {
    redisFree(f->other);
    view_batch_destroy(f->batch);
    projector_store_destroy(f->store);
    pt_env_cleanup(&f->env);
}

/* A batch of generation 1 writing `value` into key "<ns>:balance:g1:{A}:state". */
static void build(store_fixture *f, const char *value) {
    view_batch_reset(f->batch, 1);
    char key[PROJECTOR_KEY_BUF];
    view_batch_account_key(f->batch, "A", "state", key, sizeof(key));
    const char *read[] = {"HMGET", key, "balance"};
    view_batch_read(f->batch, 3, read, NULL);
    const char *write[] = {"HSET", key, "balance", value};
    view_batch_write(f->batch, 4, write, NULL);
}

/* Round trip 1 for partition p; returns the checkpoint read. */
static int64_t read_batch(store_fixture *f, int32_t p) {
    redisReply *replies[1] = {NULL};
    int64_t cp = 0;
    cr_assert_eq(projector_store_read(f->store, f->batch, p, &cp, replies), 0);
    cr_assert_not_null(replies[0]);
    cr_assert_eq(replies[0]->type, REDIS_REPLY_ARRAY);
    return cp;
}

static void other_command(store_fixture *f, const char *fmt, const char *a, const char *b,
                          const char *c) {
    redisReply *r = redisCommand(f->other, fmt, a, b, c);
    cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static void assert_stored(store_fixture *f, const char *value, int64_t cp0) {
    char key[PROJECTOR_KEY_BUF], cps[PROJECTOR_KEY_BUF];
    projector_keys_account(f->env.redis_prefix, "balance", 1, "A", "state", key, sizeof(key));
    projector_keys_checkpoints(f->env.redis_prefix, "balance", 1, cps, sizeof(cps));
    redisReply *r = redisCommand(f->other, "HGET %s balance", key);
    cr_assert_not_null(r);
    if (value == NULL)
        cr_assert_eq(r->type, REDIS_REPLY_NIL, "nothing written");
    else
        cr_assert_str_eq(r->str, value);
    freeReplyObject(r);
    r = redisCommand(f->other, "HGET %s 0", cps);
    cr_assert_not_null(r);
    if (cp0 < 0) {
        cr_assert_eq(r->type, REDIS_REPLY_NIL, "checkpoint not moved");
    } else {
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        cr_assert_eq(strtoll(r->str, NULL, 10), cp0);
    }
    freeReplyObject(r);
}

Test(projector_store, another_partitions_checkpoint_under_the_batch_is_no_conflict) {
    store_fixture f;
    fixture_init(&f);
    char cps[PROJECTOR_KEY_BUF];
    projector_keys_checkpoints(f.env.redis_prefix, "balance", 1, cps, sizeof(cps));
    build(&f, "10");
    cr_assert_eq(read_batch(&f, 0), PROJECTOR_NO_CHECKPOINT);
    other_command(&f, "HSET %s %s %s", cps, "1", "77"); /* partition 1 moves: EXEC aborts */
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_APPLIED);
    assert_stored(&f, "10", 5);

    /* The next batch starts from 5. */
    build(&f, "20");
    cr_assert_eq(read_batch(&f, 0), 5);
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0, 5, 9),
                 PROJECTOR_STORE_APPLIED);
    assert_stored(&f, "20", 9);
    fixture_cleanup(&f);
}

Test(projector_store, its_own_checkpoint_moved_under_the_batch_writes_nothing) {
    store_fixture f;
    fixture_init(&f);
    char cps[PROJECTOR_KEY_BUF];
    projector_keys_checkpoints(f.env.redis_prefix, "balance", 1, cps, sizeof(cps));
    build(&f, "10");
    cr_assert_eq(read_batch(&f, 0), PROJECTOR_NO_CHECKPOINT);
    other_command(&f, "HSET %s %s %s", cps, "0", "3"); /* a new owner applied a batch */
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_STALE);
    assert_stored(&f, NULL, 3);

    /* Expected a checkpoint the read did not see: refused before EXEC. */
    build(&f, "11");
    cr_assert_eq(read_batch(&f, 0), 3);
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0, 2, 5),
                 PROJECTOR_STORE_STALE);
    assert_stored(&f, NULL, 3);
    fixture_cleanup(&f);
}

Test(projector_store, a_switched_generation_writes_nothing) {
    store_fixture f;
    fixture_init(&f);
    char current[PROJECTOR_KEY_BUF];
    projector_keys_current(f.env.redis_prefix, "balance", current, sizeof(current));
    build(&f, "10");
    read_batch(&f, 0);
    other_command(&f, "SET %s %s%s", current, "2", ""); /* a rebuild switched */
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_WRONG_GEN);
    assert_stored(&f, NULL, -1);

    /* Read after the switch: refused without waiting for a change. */
    read_batch(&f, 0);
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_WRONG_GEN);
    /* A rebuild's batch names the building generation. */
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_BUILDING, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_WRONG_GEN, "no transaction open: the function says so too");
    assert_stored(&f, NULL, -1);
    fixture_cleanup(&f);
}

Test(projector_store, a_read_left_without_its_apply_and_a_guarded_batch) {
    store_fixture f;
    fixture_init(&f);
    build(&f, "10");
    read_batch(&f, 0); /* the runtime dropped this slice (e.g. the DLQ was not ready) */
    int64_t gen = 0;
    cr_assert_eq(projector_store_generation(f.store, &gen), 0, "the connection is usable");
    cr_assert_eq(gen, 1);
    read_batch(&f, 0);
    read_batch(&f, 0);

    /* A guard on a quarantine entry: through ledger_apply, same contract. */
    char q[PROJECTOR_KEY_BUF];
    projector_keys_quarantine(f.env.redis_prefix, "balance", 1, q, sizeof(q));
    const char *guard[] = {"LEDGER.EXPECT", q, "B", ""};
    view_batch_write(f.batch, 4, guard, NULL);
    cr_assert_eq(view_batch_pseudo_count(f.batch), 1);
    other_command(&f, "HSET %s %s %s", q, "B", "{}"); /* the guard no longer holds */
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_STALE);
    assert_stored(&f, NULL, -1);
    other_command(&f, "HDEL %s %s%s", q, "B", "");
    read_batch(&f, 0);
    cr_assert_eq(projector_store_apply(f.store, f.batch, PROJECTOR_STORE_CURRENT, 0,
                                       PROJECTOR_NO_CHECKPOINT, 5),
                 PROJECTOR_STORE_APPLIED);
    assert_stored(&f, "10", 5);
    fixture_cleanup(&f);
}
