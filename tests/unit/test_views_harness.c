/*
 * test_views_harness.c - a fake projector runtime and Redis for the views'
 * unit tests (see test_views_harness.h).
 *
 * Deliberately simple: keys and their items live in growable arrays found by
 * linear search, which is plenty for unit-test sizes and easy to trust.
 */
#include "test_views_harness.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_HASH = 1, T_LIST, T_SET, T_ZSET };

typedef struct item {
    char *a; /* hash field, list element, set or zset member */
    char *b; /* hash value */
    double score;
} item;

typedef struct store_key {
    char *name;
    int type;
    item *items;
    size_t n, cap;
} store_key;

typedef struct cmd {
    int argc;
    char **argv; /* NUL-terminated copies */
} cmd;

typedef struct cmd_list {
    cmd *cmds;
    size_t n, cap;
} cmd_list;

struct view_batch {
    harness *h;
    cmd_list reads;
    cmd_list writes;
};

#define KEPT_STATE_MAX 256

struct harness {
    char ns[64], view[64];
    int64_t gen;
    store_key *keys;
    size_t nkeys, cap;
    char error[512];
    size_t last_reads, last_writes;
    /* Kept states (harness_keep_states): one per account, as the runtime's
     * state_cache keeps them. */
    size_t state_size;
    struct kept {
        char account[LEDGER_ACCOUNT_BUF];
        unsigned char state[KEPT_STATE_MAX];
    } * kept;
    size_t nkept, kept_cap;
};

static char *dup_len(const char *s, size_t n) {
    char *d = malloc(n + 1);
    cr_assert_not_null(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return p;
    size_t c = *cap == 0 ? 8 : *cap * 2;
    while (c < need)
        c *= 2;
    p = realloc(p, c * elem);
    cr_assert_not_null(p);
    *cap = c;
    return p;
}

harness *harness_new(const char *ns, const char *view, int64_t gen) {
    harness *h = calloc(1, sizeof *h);
    cr_assert_not_null(h);
    snprintf(h->ns, sizeof h->ns, "%s", ns);
    snprintf(h->view, sizeof h->view, "%s", view);
    h->gen = gen;
    return h;
}

void harness_destroy(harness *h) {
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->nkeys; i++) {
        for (size_t j = 0; j < h->keys[i].n; j++) {
            free(h->keys[i].items[j].a);
            free(h->keys[i].items[j].b);
        }
        free(h->keys[i].items);
        free(h->keys[i].name);
    }
    free(h->keys);
    free(h->kept);
    free(h);
}

/* ---- the view_batch functions of view.h ---- */

size_t view_batch_account_key(const view_batch *batch, const char *account, const char *suffix,
                              char *buf, size_t size) {
    const harness *h = batch->h;
    int n =
        snprintf(buf, size, "%s:%s:g%" PRId64 ":{%s}:%s", h->ns, h->view, h->gen, account, suffix);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

size_t view_batch_view_key(const view_batch *batch, const char *suffix, char *buf, size_t size) {
    const harness *h = batch->h;
    int n = snprintf(buf, size, "%s:%s:g%" PRId64 ":%s", h->ns, h->view, h->gen, suffix);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static void record(cmd_list *list, int argc, const char **argv, const size_t *argvlen) {
    cr_assert_gt(argc, 0);
    list->cmds = grow(list->cmds, &list->cap, list->n + 1, sizeof(cmd));
    cmd *c = &list->cmds[list->n++];
    c->argc = argc;
    c->argv = calloc((size_t)argc, sizeof(char *));
    cr_assert_not_null(c->argv);
    for (int i = 0; i < argc; i++) {
        cr_assert_eq(memchr(argv[i], '\0', argvlen[i]), NULL, "argument %d of %s holds a NUL byte",
                     i, argv[0]);
        c->argv[i] = dup_len(argv[i], argvlen[i]);
    }
}

void view_batch_read(view_batch *batch, int argc, const char **argv, const size_t *argvlen) {
    record(&batch->reads, argc, argv, argvlen);
}

void view_batch_write(view_batch *batch, int argc, const char **argv, const size_t *argvlen) {
    record(&batch->writes, argc, argv, argvlen);
}

static void cmd_list_truncate(cmd_list *list, size_t n) {
    for (size_t i = n; i < list->n; i++) {
        for (int j = 0; j < list->cmds[i].argc; j++)
            free(list->cmds[i].argv[j]);
        free(list->cmds[i].argv);
    }
    list->n = n;
}

/* ---- the store ---- */

static store_key *find(const harness *h, const char *name) {
    for (size_t i = 0; i < h->nkeys; i++) {
        if (strcmp(h->keys[i].name, name) == 0)
            return &h->keys[i];
    }
    return NULL;
}

/* The key of `type`, created if absent; a key of another type fails the
 * test (Redis's WRONGTYPE). */
static store_key *find_or_add(harness *h, const char *name, int type) {
    store_key *k = find(h, name);
    if (k != NULL) {
        cr_assert_eq(k->type, type, "WRONGTYPE on key '%s'", name);
        return k;
    }
    h->keys = grow(h->keys, &h->cap, h->nkeys + 1, sizeof(store_key));
    k = &h->keys[h->nkeys++];
    memset(k, 0, sizeof *k);
    k->name = dup_len(name, strlen(name));
    k->type = type;
    return k;
}

static const store_key *find_typed(const harness *h, const char *name, int type) {
    const store_key *k = find(h, name);
    if (k != NULL)
        cr_assert_eq(k->type, type, "WRONGTYPE on key '%s'", name);
    return k;
}

static item *item_find(const store_key *k, const char *a) {
    for (size_t i = 0; i < (k == NULL ? 0 : k->n); i++) {
        if (strcmp(k->items[i].a, a) == 0)
            return &k->items[i];
    }
    return NULL;
}

static item *item_add(store_key *k, const char *a) {
    k->items = grow(k->items, &k->cap, k->n + 1, sizeof(item));
    item *it = &k->items[k->n++];
    memset(it, 0, sizeof *it);
    it->a = dup_len(a, strlen(a));
    return it;
}

static void hash_set(store_key *k, const char *field, const char *value) {
    item *it = item_find(k, field);
    if (it == NULL)
        it = item_add(k, field);
    free(it->b);
    it->b = dup_len(value, strlen(value));
}

static int64_t parse_i64(const char *s) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    cr_assert(end != s && *end == '\0', "'%s' is not an integer", s);
    return (int64_t)v;
}

static void exec_write(harness *h, const cmd *c) {
    const char *op = c->argv[0];
    char **a = c->argv;
    if (strcmp(op, "HSET") == 0) {
        cr_assert(c->argc >= 4 && c->argc % 2 == 0, "HSET arity");
        store_key *k = find_or_add(h, a[1], T_HASH);
        for (int i = 2; i < c->argc; i += 2)
            hash_set(k, a[i], a[i + 1]);
    } else if (strcmp(op, "HINCRBY") == 0) {
        cr_assert_eq(c->argc, 4, "HINCRBY arity");
        store_key *k = find_or_add(h, a[1], T_HASH);
        item *it = item_find(k, a[2]);
        int64_t v = it == NULL ? 0 : parse_i64(it->b);
        char num[24];
        snprintf(num, sizeof num, "%" PRId64, v + parse_i64(a[3]));
        hash_set(k, a[2], num);
    } else if (strcmp(op, "ZADD") == 0) {
        cr_assert(c->argc >= 4 && c->argc % 2 == 0, "ZADD arity");
        store_key *k = find_or_add(h, a[1], T_ZSET);
        for (int i = 2; i < c->argc; i += 2) {
            char *end = NULL;
            double score = strtod(a[i], &end);
            cr_assert(end != a[i] && *end == '\0', "ZADD score '%s'", a[i]);
            item *it = item_find(k, a[i + 1]);
            if (it == NULL)
                it = item_add(k, a[i + 1]);
            it->score = score;
        }
    } else if (strcmp(op, "RPUSH") == 0) {
        cr_assert_geq(c->argc, 3, "RPUSH arity");
        store_key *k = find_or_add(h, a[1], T_LIST);
        for (int i = 2; i < c->argc; i++)
            item_add(k, a[i]);
    } else if (strcmp(op, "SADD") == 0) {
        cr_assert_geq(c->argc, 3, "SADD arity");
        store_key *k = find_or_add(h, a[1], T_SET);
        for (int i = 2; i < c->argc; i++) {
            if (item_find(k, a[i]) == NULL)
                item_add(k, a[i]);
        }
    } else {
        cr_assert_fail("the harness does not know the write '%s'", op);
    }
}

static redisReply *reply_new(int type) {
    redisReply *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->type = type;
    return r;
}

static redisReply *reply_array(size_t n) {
    redisReply *r = reply_new(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n == 0 ? 1 : n, sizeof(redisReply *));
    cr_assert_not_null(r->element);
    return r;
}

static void reply_free(redisReply *r) {
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static redisReply *exec_read(const harness *h, const cmd *c) {
    const char *op = c->argv[0];
    char **a = c->argv;
    if (strcmp(op, "HMGET") == 0) {
        cr_assert_geq(c->argc, 3, "HMGET arity");
        const store_key *k = find_typed(h, a[1], T_HASH);
        redisReply *r = reply_array((size_t)c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const item *it = item_find(k, a[i]);
            redisReply *e = reply_new(it == NULL ? REDIS_REPLY_NIL : REDIS_REPLY_STRING);
            if (it != NULL) {
                e->len = strlen(it->b);
                e->str = dup_len(it->b, e->len);
            }
            r->element[i - 2] = e;
        }
        return r;
    }
    if (strcmp(op, "SMISMEMBER") == 0) {
        cr_assert_geq(c->argc, 3, "SMISMEMBER arity");
        const store_key *k = find_typed(h, a[1], T_SET);
        redisReply *r = reply_array((size_t)c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            redisReply *e = reply_new(REDIS_REPLY_INTEGER);
            e->integer = item_find(k, a[i]) != NULL;
            r->element[i - 2] = e;
        }
        return r;
    }
    cr_assert_fail("the harness does not know the read '%s'", op);
    return NULL;
}

/* ---- a batch ---- */

/* The distinct accounts of the batch in order of first appearance. */
static size_t distinct_accounts(const ledger_event *events, size_t n, size_t *first) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < count && !seen; j++)
            seen = strcmp(events[first[j]].account, events[i].account) == 0;
        if (!seen)
            first[count++] = i;
    }
    return count;
}

void harness_keep_states(harness *h, size_t state_size) {
    cr_assert(state_size > 0 && state_size <= KEPT_STATE_MAX);
    h->state_size = state_size;
}

static struct kept *kept_of(const harness *h, const char *account) {
    for (size_t i = 0; i < h->nkept; i++)
        if (strcmp(h->kept[i].account, account) == 0)
            return &h->kept[i];
    return NULL;
}

static void keep(harness *h, const char *account, const unsigned char *state) {
    struct kept *k = kept_of(h, account);
    if (k == NULL) {
        h->kept = grow(h->kept, &h->kept_cap, h->nkept + 1, sizeof *h->kept);
        k = &h->kept[h->nkept++];
        snprintf(k->account, sizeof k->account, "%s", account);
    }
    memcpy(k->state, state, h->state_size);
}

static void forget(harness *h, const char *account) {
    struct kept *k = kept_of(h, account);
    if (k != NULL)
        *k = h->kept[--h->nkept];
}

int harness_run_batch(harness *h, const projector_view *view, const void *state,
                      const ledger_event *events, size_t n) {
    view_batch batch;
    memset(&batch, 0, sizeof batch);
    batch.h = h;
    h->error[0] = '\0';

    size_t *first = calloc(n + 1, sizeof(size_t));
    ledger_event *mine = calloc(n + 1, sizeof(ledger_event));
    view_account_input *inputs = calloc(n + 1, sizeof(view_account_input));
    size_t *read_from = calloc(n + 1, sizeof(size_t));
    size_t state_size = h->state_size > 0 ? h->state_size : 1;
    /* Copies: keep() may move the kept states while the batch runs. */
    unsigned char *outs = calloc(n + 1, state_size), *ins = calloc(n + 1, state_size);
    cr_assert(first != NULL && mine != NULL && inputs != NULL && read_from != NULL &&
              outs != NULL && ins != NULL);
    size_t accounts = distinct_accounts(events, n, first);

    /* Each account's events, contiguous in `mine`, log order kept. */
    size_t used = 0;
    for (size_t a = 0; a < accounts; a++) {
        const char *acct = events[first[a]].account;
        inputs[a].account = acct;
        inputs[a].events = &mine[used];
        for (size_t i = 0; i < n; i++) {
            if (strcmp(events[i].account, acct) == 0)
                mine[used++] = events[i];
        }
        inputs[a].event_count = (size_t)(&mine[used] - inputs[a].events);
        if (h->state_size > 0) {
            cr_assert_eq(view->state_size, h->state_size, "the view keeps no such state");
            const struct kept *k = kept_of(h, acct);
            if (k != NULL)
                memcpy(ins + a * state_size, k->state, state_size);
            inputs[a].cached = k != NULL ? ins + a * state_size : NULL;
            inputs[a].state_out = outs + a * state_size;
        }
    }

    /* 1. every read, sent before any write. */
    for (size_t a = 0; a < accounts; a++) {
        read_from[a] = batch.reads.n;
        size_t k = view->read_account(state, &batch, &inputs[a]);
        cr_assert_eq(k, batch.reads.n - read_from[a],
                     "read_account returned %zu but appended %zu reads", k,
                     batch.reads.n - read_from[a]);
        inputs[a].reply_count = k;
    }
    redisReply **replies = calloc(batch.reads.n + 1, sizeof(redisReply *));
    cr_assert_not_null(replies);
    for (size_t i = 0; i < batch.reads.n; i++)
        replies[i] = exec_read(h, &batch.reads.cmds[i]);

    /* 2. every apply; a failed account's writes are dropped. */
    int failed = 0;
    for (size_t a = 0; a < accounts; a++) {
        inputs[a].replies = (const redisReply *const *)&replies[read_from[a]];
        size_t mark = batch.writes.n;
        char errstr[512] = "";
        if (view->apply_account(state, &batch, &inputs[a], errstr, sizeof errstr) != 0) {
            cr_assert_neq(errstr[0], '\0', "apply_account failed without a message");
            if (failed++ == 0)
                snprintf(h->error, sizeof h->error, "%s", errstr);
            cmd_list_truncate(&batch.writes, mark);
            if (h->state_size > 0)
                forget(h, inputs[a].account); /* the runtime forgets a quarantined account */
        } else if (h->state_size > 0) {
            keep(h, inputs[a].account, outs + a * state_size);
        }
    }

    /* 3. the writes. */
    for (size_t i = 0; i < batch.writes.n; i++)
        exec_write(h, &batch.writes.cmds[i]);
    h->last_reads = batch.reads.n;
    h->last_writes = batch.writes.n;

    for (size_t i = 0; i < batch.reads.n; i++)
        reply_free(replies[i]);
    free(replies);
    cmd_list_truncate(&batch.reads, 0);
    cmd_list_truncate(&batch.writes, 0);
    free(batch.reads.cmds);
    free(batch.writes.cmds);
    free(read_from);
    free(outs);
    free(ins);
    free(inputs);
    free(mine);
    free(first);
    return failed;
}

const char *harness_error(const harness *h) {
    return h->error;
}

size_t harness_read_count(const harness *h) {
    return h->last_reads;
}

size_t harness_write_count(const harness *h) {
    return h->last_writes;
}

void harness_account_key(const harness *h, const char *account, const char *suffix, char *buf,
                         size_t size) {
    snprintf(buf, size, "%s:%s:g%" PRId64 ":{%s}:%s", h->ns, h->view, h->gen, account, suffix);
}

const char *harness_hget(const harness *h, const char *key, const char *field) {
    const item *it = item_find(find_typed(h, key, T_HASH), field);
    return it == NULL ? NULL : it->b;
}

void harness_hset(harness *h, const char *key, const char *field, const char *value) {
    hash_set(find_or_add(h, key, T_HASH), field, value);
}

size_t harness_llen(const harness *h, const char *key) {
    const store_key *k = find_typed(h, key, T_LIST);
    return k == NULL ? 0 : k->n;
}

const char *harness_lindex(const harness *h, const char *key, size_t i) {
    const store_key *k = find_typed(h, key, T_LIST);
    return k == NULL || i >= k->n ? NULL : k->items[i].a;
}

bool harness_sismember(const harness *h, const char *key, const char *member) {
    return item_find(find_typed(h, key, T_SET), member) != NULL;
}

size_t harness_scard(const harness *h, const char *key) {
    const store_key *k = find_typed(h, key, T_SET);
    return k == NULL ? 0 : k->n;
}

size_t harness_zcard(const harness *h, const char *key) {
    const store_key *k = find_typed(h, key, T_ZSET);
    return k == NULL ? 0 : k->n;
}

const char *harness_zat(const harness *h, const char *key, size_t i, double *score) {
    const store_key *k = find_typed(h, key, T_ZSET);
    if (k == NULL || i >= k->n)
        return NULL;
    /* The i-th by (score, member), as ZRANGE orders them. */
    const item *sorted[512];
    cr_assert_leq(k->n, 512, "the harness sorts at most 512 members");
    for (size_t j = 0; j < k->n; j++)
        sorted[j] = &k->items[j];
    for (size_t j = 1; j < k->n; j++) {
        for (size_t m = j; m > 0; m--) {
            const item *x = sorted[m - 1], *y = sorted[m];
            if (x->score < y->score || (x->score == y->score && strcmp(x->a, y->a) <= 0))
                break;
            sorted[m - 1] = y;
            sorted[m] = x;
        }
    }
    if (score != NULL)
        *score = sorted[i]->score;
    return sorted[i]->a;
}

bool harness_exists(const harness *h, const char *key) {
    return find(h, key) != NULL;
}
