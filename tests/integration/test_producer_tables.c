/*
 * test_producer_tables.c - the producer's in-memory tables without Kafka
 * (label "unit"): the account table, the deduplication window (hash index
 * with backward-shift deletion, chunked log, expiry by age and by count,
 * bounded memory, tags), the bookkeeping of where its entries are kept
 * (pending ids, sets) and the per-transaction batch index.
 *
 * Expected contents come from a plain model kept by the test (arrays and
 * counters), never from the tables themselves.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "batch.h"
#include "dedup.h"
#include "dedup_sets.h"

/* ---- accounts ---- */

Test(producer_accounts, holds_a_hundred_thousand_accounts) {
    enum { N = 100000 };
    producer_accounts *t = producer_accounts_new();
    cr_assert_not_null(t);
    char id[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(id, sizeof(id), "acct-%d", i);
        cr_assert_null(producer_accounts_find(t, id, (size_t)len), "'%s' before insert", id);
        account_state *s = producer_accounts_upsert(t, id, (size_t)len);
        cr_assert_not_null(s);
        cr_assert_eq(s->status, ACCOUNT_NONE, "a new account starts empty");
        s->balance = i;
        s->seq = 1;
    }
    cr_assert_eq(producer_accounts_count(t), N);
    for (int i = 0; i < N; i++) {
        int len = snprintf(id, sizeof(id), "acct-%d", i);
        account_state *s = producer_accounts_find(t, id, (size_t)len);
        cr_assert_not_null(s, "'%s' lost", id);
        cr_assert_eq(s->balance, i);
        cr_assert_eq(producer_accounts_upsert(t, id, (size_t)len), s, "upsert finds, not adds");
    }
    cr_assert_eq(producer_accounts_count(t), N);
    /* Iteration: every account once, in insertion order. */
    for (size_t i = 0; i < N; i++) {
        const char *got;
        size_t len;
        const account_state *s = producer_accounts_at(t, i, &got, &len);
        int want = snprintf(id, sizeof(id), "acct-%zu", i);
        cr_assert_eq(len, (size_t)want);
        cr_assert_eq(memcmp(got, id, len), 0);
        cr_assert_eq(s->balance, (int64_t)i);
    }
    /* Prefixes and lengths are distinct keys. */
    cr_assert_null(producer_accounts_find(t, "acct-1", 5));
    cr_assert_null(producer_accounts_find(t, "acct-10", 0));
    cr_assert_null(producer_accounts_upsert(t, "", 0));
    char longest[66];
    memset(longest, 'a', sizeof(longest));
    cr_assert_null(producer_accounts_upsert(t, longest, 65), "over 64 bytes");
    cr_assert_not_null(producer_accounts_upsert(t, longest, 64));
    producer_accounts_destroy(t);
    producer_accounts_destroy(NULL);
}

/* ---- dedup ---- */

static void id_of(char *buf, size_t size, int i) {
    snprintf(buf, size, "cmd-%08d", i);
}

static void value_of(uint8_t *buf, size_t *len, int i) {
    *len = (size_t)(i % 200) + 1;
    for (size_t k = 0; k < *len; k++)
        buf[k] = (uint8_t)(i + (int)k);
}

static void assert_entry(producer_dedup *d, int i, bool present) {
    char id[32];
    id_of(id, sizeof(id), i);
    const uint8_t *v = NULL;
    size_t vlen = 0;
    int64_t at = -1;
    bool found = producer_dedup_find(d, id, strlen(id), &v, &vlen, &at);
    cr_assert_eq(found, present, "'%s' %s", id, present ? "missing" : "still there");
    if (!present)
        return;
    uint8_t want[256];
    size_t wlen;
    value_of(want, &wlen, i);
    cr_assert_eq(vlen, wlen, "'%s' value length", id);
    cr_assert_eq(memcmp(v, want, wlen), 0, "'%s' value", id);
    cr_assert_eq(at, i, "'%s' handled_at", id);
}

static void put(producer_dedup *d, int i) {
    char id[32];
    uint8_t v[256];
    size_t vlen;
    id_of(id, sizeof(id), i);
    value_of(v, &vlen, i);
    cr_assert_eq(producer_dedup_put(d, id, strlen(id), v, vlen, i), 0);
}

Test(producer_dedup_window, put_find_remove) {
    enum { N = 50000 };
    producer_dedup *d = producer_dedup_new();
    cr_assert_not_null(d);
    for (int i = 0; i < N; i++)
        put(d, i);
    cr_assert_eq(producer_dedup_count(d), N);
    for (int i = 0; i < N; i++)
        assert_entry(d, i, true);
    /* Remove every third: the others stay findable (backward shift keeps
     * every probe sequence whole). */
    char id[32];
    for (int i = 0; i < N; i += 3) {
        id_of(id, sizeof(id), i);
        cr_assert(producer_dedup_remove(d, id, strlen(id)));
        cr_assert_not(producer_dedup_remove(d, id, strlen(id)), "removed twice");
    }
    for (int i = 0; i < N; i++)
        assert_entry(d, i, i % 3 != 0);
    cr_assert_eq(producer_dedup_count(d), N - (N + 2) / 3);
    producer_dedup_destroy(d);
}

Test(producer_dedup_window, put_replaces) {
    producer_dedup *d = producer_dedup_new();
    put(d, 7);
    const uint8_t other[] = {9, 9, 9};
    cr_assert_eq(producer_dedup_put(d, "cmd-00000007", 12, other, sizeof(other), 99), 0);
    cr_assert_eq(producer_dedup_count(d), 1);
    const uint8_t *v;
    size_t vlen;
    int64_t at;
    cr_assert(producer_dedup_find(d, "cmd-00000007", 12, &v, &vlen, &at));
    cr_assert_eq(vlen, 3);
    cr_assert_eq(memcmp(v, other, 3), 0);
    cr_assert_eq(at, 99);
    cr_assert_eq(producer_dedup_put(d, "", 0, other, 3, 1), -1, "an empty id");
    producer_dedup_destroy(d);
}

typedef struct evictions {
    int count;
    int next; /* the id expected next: oldest first */
} evictions;

static void on_evict(void *opaque, const char *id, size_t len) {
    evictions *ev = opaque;
    char want[32];
    id_of(want, sizeof(want), ev->next);
    cr_assert_eq(len, strlen(want));
    cr_assert_eq(memcmp(id, want, len), 0, "evicted '%.*s', expected '%s'", (int)len, id, want);
    ev->next++;
    ev->count++;
}

Test(producer_dedup_window, expires_oldest_first_by_age_and_count) {
    enum { N = 10000 };
    producer_dedup *d = producer_dedup_new();
    for (int i = 0; i < N; i++)
        put(d, i); /* handled_at = i */
    evictions ev = {0, 0};
    /* By age: everything handled before 2500. */
    cr_assert_eq(producer_dedup_expire(d, 2500, N, on_evict, &ev), 2500);
    cr_assert_eq(ev.count, 2500);
    assert_entry(d, 2499, false);
    assert_entry(d, 2500, true);
    /* By count: keep the newest 1000. */
    cr_assert_eq(producer_dedup_expire(d, 0, 1000, on_evict, &ev), N - 2500 - 1000);
    cr_assert_eq(producer_dedup_count(d), 1000);
    assert_entry(d, N - 1001, false);
    for (int i = N - 1000; i < N; i++)
        assert_entry(d, i, true);
    /* Nothing left to do. */
    cr_assert_eq(producer_dedup_expire(d, 0, 1000, on_evict, &ev), 0);
    producer_dedup_destroy(d);
}

Test(producer_dedup_window, removed_entries_are_skipped_by_expiry) {
    producer_dedup *d = producer_dedup_new();
    for (int i = 0; i < 100; i++)
        put(d, i);
    char id[32];
    id_of(id, sizeof(id), 0);
    cr_assert(producer_dedup_remove(d, id, strlen(id)));
    evictions ev = {0, 1}; /* 0 is gone: 1 comes first */
    cr_assert_eq(producer_dedup_expire(d, 50, 1000, on_evict, &ev), 49);
    cr_assert_eq(producer_dedup_count(d), 50);
    producer_dedup_destroy(d);
}

Test(producer_dedup_window, memory_stays_bounded_by_the_window) {
    /* A million entries through a window of 1000: the chunks of the
     * expired ones are freed (or reused), so memory stays near what 1000
     * entries need, not what a million would. */
    producer_dedup *d = producer_dedup_new();
    evictions ev = {0, 0};
    size_t peak = 0;
    for (int i = 0; i < 1000000; i++) {
        put(d, i);
        producer_dedup_expire(d, 0, 1000, on_evict, &ev);
        size_t m = producer_dedup_memory(d);
        if (m > peak)
            peak = m;
    }
    cr_assert_eq(producer_dedup_count(d), 1000);
    cr_assert_eq(ev.count, 1000000 - 1000);
    cr_assert_lt(peak, (size_t)2 * 1024 * 1024, "peak %zu bytes for a 1000-entry window", peak);
    producer_dedup_destroy(d);
}

/* ---- batch ---- */

Test(producer_batch, indexes_ids_per_partition) {
    producer_batch *b = producer_batch_new(4);
    cr_assert_not_null(b);
    const char *ids[] = {"a", "b", "a", "c"};
    const int32_t parts[] = {0, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        producer_pending *p = producer_batch_add(b);
        cr_assert_not_null(p);
        cr_assert_eq(p->dup_of, -1);
        snprintf(p->result.command_id, sizeof(p->result.command_id), "%s", ids[i]);
        p->partition = parts[i];
        producer_batch_index(b, (size_t)i);
    }
    cr_assert_null(producer_batch_add(b), "full at its capacity");
    cr_assert_eq(producer_batch_find(b, 0, "a", 1), 0);
    cr_assert_eq(producer_batch_find(b, 1, "a", 1), 2, "same id, other partition");
    cr_assert_eq(producer_batch_find(b, 0, "c", 1), 3);
    cr_assert_eq(producer_batch_find(b, 1, "b", 1), -1);
    cr_assert_eq(producer_batch_find(b, 0, "ab", 2), -1);
    producer_batch_reset(b);
    cr_assert_eq(producer_batch_count(b), 0);
    cr_assert_eq(producer_batch_find(b, 0, "a", 1), -1, "reset forgets the ids");
    cr_assert_not_null(producer_batch_add(b));
    producer_batch_destroy(b);
    cr_assert_null(producer_batch_new(0));
}

/* ---- dedup tags and sets ---- */

typedef struct tag_seen {
    uint32_t tags[64];
    size_t n;
} tag_seen;

static void on_evict_tag(void *opaque, const char *id, size_t len, uint32_t tag) {
    (void)id;
    (void)len;
    tag_seen *seen = opaque;
    if (seen->n < 64)
        seen->tags[seen->n++] = tag;
}

Test(producer_dedup_tags, each_entry_keeps_its_tag_until_it_leaves) {
    producer_dedup *d = producer_dedup_new();
    cr_assert_not_null(d);
    const uint8_t v[] = {1, 2, 3};
    cr_assert_eq(producer_dedup_put_tagged(d, "a", 1, v, 3, 1, 7), 0);
    cr_assert_eq(producer_dedup_put_tagged(d, "b", 1, v, 3, 2, 0), 0);
    cr_assert_eq(producer_dedup_put(d, "c", 1, v, 3, 3), 0);
    uint32_t tag = 99;
    cr_assert(producer_dedup_find_tagged(d, "a", 1, NULL, NULL, NULL, &tag));
    cr_assert_eq(tag, 7);
    cr_assert(producer_dedup_set_tag(d, "b", 1, 5));
    cr_assert_not(producer_dedup_set_tag(d, "x", 1, 5), "no such id");
    cr_assert(producer_dedup_find_tagged(d, "c", 1, NULL, NULL, NULL, &tag));
    cr_assert_eq(tag, 0, "untagged puts carry 0");
    tag_seen seen = {.n = 0};
    cr_assert_eq(producer_dedup_expire_tagged(d, 100, 10, on_evict_tag, &seen), 3);
    cr_assert_eq(seen.n, 3);
    cr_assert_eq(seen.tags[0], 7);
    cr_assert_eq(seen.tags[1], 5);
    cr_assert_eq(seen.tags[2], 0);
    producer_dedup_destroy(d);
}

Test(producer_dedup_sets, pending_ids_come_back_in_order) {
    producer_dedup_sets *s = producer_dedup_sets_new();
    cr_assert_not_null(s);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(id, sizeof(id), "cmd-%d", i);
        cr_assert_eq(producer_dedup_sets_pend(s, id, (size_t)len), 0);
    }
    cr_assert_eq(producer_dedup_sets_pending(s), 5000);
    size_t cursor = 0, len = 0;
    const char *got = NULL;
    int i = 0;
    while (producer_dedup_sets_next(s, &cursor, &got, &len)) {
        int want = snprintf(id, sizeof(id), "cmd-%d", i++);
        cr_assert_eq(len, (size_t)want);
        cr_assert_eq(memcmp(got, id, len), 0);
    }
    cr_assert_eq(i, 5000);
    /* Dropping the first 1000 keeps the rest, in order. */
    cursor = 0;
    for (int k = 0; k < 1000; k++)
        cr_assert(producer_dedup_sets_next(s, &cursor, &got, &len));
    producer_dedup_sets_drop_pending(s, cursor);
    cr_assert_eq(producer_dedup_sets_pending(s), 4000);
    cursor = 0;
    cr_assert(producer_dedup_sets_next(s, &cursor, &got, &len));
    cr_assert_eq(len, 8);
    cr_assert_eq(memcmp(got, "cmd-1000", 8), 0);
    producer_dedup_sets_clear_pending(s);
    cr_assert_eq(producer_dedup_sets_pending(s), 0);
    cursor = 0;
    cr_assert_not(producer_dedup_sets_next(s, &cursor, &got, &len));
    cr_assert_eq(producer_dedup_sets_pend(s, "", 0), -1, "an empty id");
    producer_dedup_sets_destroy(s);
}

Test(producer_dedup_sets, a_set_is_deleted_when_its_last_entry_leaves) {
    producer_dedup_sets *s = producer_dedup_sets_new();
    uint32_t t1 = 0, t2 = 0;
    cr_assert_eq(producer_dedup_sets_add(s, "cmds/one", 8, &t1), 0);
    cr_assert_eq(producer_dedup_sets_add(s, "cmds/two", 8, &t2), 0);
    cr_assert_geq(t1, PRODUCER_DEDUP_TAG_SET0);
    cr_assert_neq(t1, t2);
    producer_dedup_sets_join(s, t1);
    producer_dedup_sets_join(s, t1);
    producer_dedup_sets_join(s, t2);
    cr_assert_null(producer_dedup_sets_leave(s, t1), "one entry of two left");
    const char *key = producer_dedup_sets_leave(s, t1);
    cr_assert_not_null(key);
    cr_assert_str_eq(key, "cmds/one");
    cr_assert_null(producer_dedup_sets_leave(s, t1), "nothing left to leave");
    producer_dedup_sets_trim(s);
    cr_assert_eq(producer_dedup_sets_count(s), 1, "the emptied front set is forgotten");
    /* A set whose record a restore saw deleted needs no tombstone. */
    producer_dedup_sets_deleted(s, "cmds/two", 8);
    cr_assert_null(producer_dedup_sets_leave(s, t2));
    producer_dedup_sets_trim(s);
    cr_assert_eq(producer_dedup_sets_count(s), 0);
    /* Many sets: tags stay distinct and keep naming their sets. */
    uint32_t tags[300];
    char key_buf[32];
    for (int i = 0; i < 300; i++) {
        int len = snprintf(key_buf, sizeof(key_buf), "cmds/%d", i);
        cr_assert_eq(producer_dedup_sets_add(s, key_buf, (size_t)len, &tags[i]), 0);
        producer_dedup_sets_join(s, tags[i]);
        if (i % 2 == 0) { /* empty the older half as we go */
            cr_assert_not_null(producer_dedup_sets_leave(s, tags[i / 2]));
            producer_dedup_sets_trim(s);
        }
    }
    for (int i = 150; i < 300; i++) {
        snprintf(key_buf, sizeof(key_buf), "cmds/%d", i);
        const char *k = producer_dedup_sets_leave(s, tags[i]);
        cr_assert_not_null(k, "set %d", i);
        cr_assert_str_eq(k, key_buf);
    }
    cr_assert_eq(producer_dedup_sets_add(s, "", 0, &t1), -1, "an empty key");
    producer_dedup_sets_destroy(s);
}
