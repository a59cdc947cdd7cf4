/*
 * projector_store.c - the projector runtime's Redis side (see projector_store.h).
 *
 * Why WATCH + MULTI/EXEC for a batch rather than one Redis function doing
 * the check and the writes (the first design): in a function every write
 * goes through Lua's redis.call, about 2.5 us each here, against about 1 us
 * for the same command queued natively, and a batch is thousands of
 * writes. The condition stays server-side all the same: WATCH makes EXEC
 * run nothing if the checkpoints hash or a generation key changed after
 * round trip 1 read them, and round trip 1 also opens the MULTI, whose +OK
 * is checked before any write is sent (a refused MULTI would otherwise let
 * the writes run at once, unqueued). The function (library
 * `ledger_projector`, loaded at start and reloaded when Redis lost it)
 * remains for what WATCH cannot say: conditions on values (the DLQ's
 * LEDGER.EXPECT guards), i.e. `ledger dlq` and batches that hold records.
 *
 * A command that fails inside EXEC (only a key of another type, written
 * into the view's namespace by something else, can make one fail) does not
 * stop the others nor the checkpoint, unlike the function, where the
 * checkpoint was not moved and the batch retried forever: it is logged as
 * an ERROR that names the view to rebuild.
 *
 * Allocation: the commands are RESP the batch encoded (view_batch_*_resp),
 * handed to hiredis in one piece; round trip 1's replies are built in an
 * arena reused from batch to batch, and round trip 2's are only scanned
 * for errors (hiredis's reply-object functions, swapped in for those
 * exchanges), so a batch allocates nothing per account.
 */
#include "projector_store.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "projector_keys.h"

#define STORE_TIMEOUT_MS     30000
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000
/* EXECs a batch tries when watched keys keep changing under it (other
 * partitions' checkpoints, which share a hash), before the runtime reads
 * the batch again. */
#define STORE_EXEC_ATTEMPTS 8

/* ledger_apply(keys = {current, building, checkpoints},
 *              args = {mode, gen, partition, expected, next, ops...})
 * where ops are (argc, command, args...) back to back. Returns 1 when
 * applied, 0 when the checkpoint is not `expected` ("" = absent) or a guard
 * fails, -1 when the generation is not `gen`.
 *
 * Guards (projectors/dlq.c): an op ('LEDGER.EXPECT', key, field, value) is
 * not a command but a condition, checked before anything is written: HGET
 * key field must be `value` ("" = absent). A partition of "" names no
 * checkpoint: nothing is checked or moved (`ledger dlq retry`, which
 * writes one account's state outside the partition's flow, under guards). */
static const char store_library[] =
    "#!lua name=ledger_projector\n"
    "local function ledger_apply(keys, args)\n"
    "  local gen\n"
    "  if args[1] == 'building' then\n"
    "    gen = redis.call('GET', keys[2])\n"
    "  else\n"
    "    gen = redis.call('GET', keys[1])\n"
    "    if not gen then gen = '1' end\n"
    "  end\n"
    "  if gen ~= args[2] then return -1 end\n"
    "  local part = args[3]\n"
    "  if part ~= '' then\n"
    "    local cp = redis.call('HGET', keys[3], part)\n"
    "    if not cp then cp = '' end\n"
    "    if cp ~= args[4] then return 0 end\n"
    "  end\n"
    "  local i, n = 6, #args\n"
    "  while i <= n do\n"
    "    local argc = tonumber(args[i])\n"
    "    if args[i + 1] == 'LEDGER.EXPECT' then\n"
    "      local v = redis.call('HGET', args[i + 2], args[i + 3])\n"
    "      if not v then v = '' end\n"
    "      if v ~= args[i + 4] then return 0 end\n"
    "    end\n"
    "    i = i + 1 + argc\n"
    "  end\n"
    "  i = 6\n"
    "  while i <= n do\n"
    "    local argc = tonumber(args[i])\n"
    "    if args[i + 1] ~= 'LEDGER.EXPECT' then\n"
    "      redis.call(unpack(args, i + 1, i + argc))\n"
    "    end\n"
    "    i = i + 1 + argc\n"
    "  end\n"
    "  if part ~= '' then redis.call('HSET', keys[3], part, args[5]) end\n"
    "  return 1\n"
    "end\n"
    "redis.register_function('ledger_apply', ledger_apply)\n";

struct projector_store {
    const ledger_redis_url *url;
    const char *ns;
    const char *view;
    const volatile sig_atomic_t *stop;
    redisContext *c;
    int backoff_ms;
    char current_key[PROJECTOR_KEY_BUF];
    char building_key[PROJECTOR_KEY_BUF];

    /* Round trip 1's replies, built in blocks kept from batch to batch. */
    struct arena_block *arena;

    /* What round trip 1 saw under its WATCH, for round trip 2 to check. */
    bool in_multi; /* the connection is inside the MULTI round trip 1 opened */
    int32_t watched_partition;
    int64_t watched_generation; /* the batch's */
    int64_t watched_checkpoint;
    char watched_current[24];  /* current generation as text ("1" when absent) */
    char watched_building[24]; /* "" when absent */

    void (*on_failure)(void *opaque); /* projector_store_on_failure */
    void *on_failure_opaque;

    /* projector_store_apply_send: an EXEC whose replies are not read yet,
     * and what receiving them (and, if a watched key changed, sending the
     * batch again) needs. `batch` is the caller's, left untouched until
     * projector_store_apply_wait. */
    bool pending;
    bool pending_done; /* another call had to read the replies first */
    projector_store_result pending_result;
    view_batch *pending_batch;
    projector_store_mode pending_mode;
    int32_t pending_partition;
    int64_t pending_expected, pending_next;
};

static void pending_settle(projector_store *s);

projector_store *projector_store_new(const ledger_redis_url *url, const char *ns, const char *view,
                                     const volatile sig_atomic_t *stop) {
    projector_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->url = url;
    s->ns = ns;
    s->view = view;
    s->stop = stop;
    s->backoff_ms = STORE_BACKOFF_MIN_MS;
    projector_keys_current(ns, view, s->current_key, sizeof(s->current_key));
    projector_keys_building(ns, view, s->building_key, sizeof(s->building_key));
    return s;
}

static void arena_free(struct arena_block *b);

void projector_store_destroy(projector_store *s) {
    if (s == NULL)
        return;
    if (s->c != NULL)
        redisFree(s->c);
    arena_free(s->arena);
    free(s);
}

/* Waits the current backoff (in slices, so a stop request is seen within
 * 50 ms), then doubles it. Every wait follows a failure: it is counted. */
static void store_wait(projector_store *s) {
    if (s->on_failure != NULL)
        s->on_failure(s->on_failure_opaque);
    int64_t until = ledger_mono_ms() + s->backoff_ms;
    while (!*s->stop && ledger_mono_ms() < until) {
        struct timespec slice = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&slice, NULL);
    }
    s->backoff_ms =
        s->backoff_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* Drops the connection (a failed one cannot be trusted) and backs off. */
static void store_fail(projector_store *s) {
    s->in_multi = false;
    if (s->c != NULL) {
        redisFree(s->c);
        s->c = NULL;
    }
    store_wait(s);
}

void projector_store_on_failure(projector_store *s, void (*fn)(void *opaque), void *opaque) {
    s->on_failure = fn;
    s->on_failure_opaque = opaque;
}

int projector_store_load_library(redisContext *c, char *errstr, size_t errstr_size) {
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", store_library};
    size_t lens[] = {8, 4, 7, sizeof(store_library) - 1};
    redisReply *r = redisCommandArgv(c, 4, argv, lens);
    int rc = ledger_redis_reply_check(c, r, -1, "FUNCTION LOAD", errstr, errstr_size);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static int load_library(projector_store *s, char *errstr, size_t errstr_size) {
    return projector_store_load_library(s->c, errstr, errstr_size);
}

/* Leaves the transaction round trip 1 opened (DISCARD also drops the
 * WATCH), when the batch is not written after all. */
static void store_settle(projector_store *s) {
    if (s->c == NULL || !s->in_multi)
        return;
    s->in_multi = false;
    redisReply *r = redisCommand(s->c, "DISCARD");
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        LOG_WARN("redis: DISCARD: %s", r != NULL ? r->str : s->c->errstr);
        if (r != NULL)
            freeReplyObject(r);
        redisFree(s->c); /* its state is unknown: a new connection has none */
        s->c = NULL;
        return;
    }
    freeReplyObject(r);
}

/* Makes sure there is a working connection with the library loaded;
 * retries until then. Returns 0, or -1 when stopped. */
static int store_ensure(projector_store *s) {
    char errstr[512];
    while (s->c == NULL) {
        if (*s->stop)
            return -1;
        s->c = ledger_redis_connect(s->url, STORE_TIMEOUT_MS, errstr, sizeof(errstr));
        if (s->c == NULL) {
            LOG_WARN("redis: %s (retrying in %d ms)", errstr, s->backoff_ms);
            store_fail(s);
            continue;
        }
        if (load_library(s, errstr, sizeof(errstr)) != 0) {
            LOG_WARN("redis: cannot load the function library: %s (retrying in %d ms)", errstr,
                     s->backoff_ms);
            store_fail(s);
            continue;
        }
        LOG_INFO("redis: connected to '%s:%d', function library 'ledger_projector' loaded",
                 s->url->host, s->url->port);
    }
    return 0;
}

/* One command, retried on any failure except a reply of the wrong type,
 * which no retry mends. Returns the reply (caller frees) or NULL when
 * stopped. */
static redisReply *store_command(projector_store *s, int argc, const char **argv,
                                 const size_t *lens, int expected_type) {
    char errstr[512];
    for (;;) {
        store_settle(s);
        if (store_ensure(s) != 0)
            return NULL;
        redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
        if (ledger_redis_reply_check(s->c, r, -1, argv[0], errstr, sizeof(errstr)) == 0 &&
            (expected_type < 0 || r->type == expected_type || r->type == REDIS_REPLY_NIL)) {
            s->backoff_ms = STORE_BACKOFF_MIN_MS;
            return r;
        }
        if (r != NULL && r->type != REDIS_REPLY_ERROR)
            snprintf(errstr, sizeof(errstr), "%s: unexpected reply of type %s", argv[0],
                     ledger_redis_reply_type_name(r->type));
        LOG_WARN("redis: %s (retrying in %d ms)", errstr, s->backoff_ms);
        if (r != NULL)
            freeReplyObject(r);
        store_fail(s);
    }
}

int projector_store_start(projector_store *s) {
    pending_settle(s);
    const char *argv[] = {"SET", s->current_key, "1", "NX"};
    size_t lens[] = {3, strlen(s->current_key), 1, 2};
    redisReply *r = store_command(s, 4, argv, lens, -1);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int projector_store_generation(projector_store *s, int64_t *gen) {
    pending_settle(s);
    const char *argv[] = {"GET", s->current_key};
    size_t lens[] = {3, strlen(s->current_key)};
    redisReply *r = store_command(s, 2, argv, lens, REDIS_REPLY_STRING);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL) {
        *gen = PROJECTOR_FIRST_GENERATION;
    } else if (projector_keys_parse_int(r->str, r->len, gen) != 0 || *gen < 1) {
        LOG_ERROR("redis: invalid generation '%.*s' in '%s'", (int)(r->len > 32 ? 32 : r->len),
                  r->str, s->current_key);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

static int parse_checkpoint(const redisReply *r, const char *key, int32_t partition, int64_t *out) {
    if (r->type == REDIS_REPLY_NIL) {
        *out = PROJECTOR_NO_CHECKPOINT;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING && projector_keys_parse_int(r->str, r->len, out) == 0)
        return 0;
    LOG_ERROR("redis: invalid checkpoint of partition %d in '%s'", (int)partition, key);
    return -1;
}

int projector_store_checkpoints(projector_store *s, int64_t gen, const int32_t *partitions,
                                size_t n, int64_t *out) {
    pending_settle(s);
    if (n == 0)
        return 0;
    char key[PROJECTOR_KEY_BUF];
    projector_keys_checkpoints(s->ns, s->view, gen, key, sizeof(key));
    const char **argv = calloc(n + 2, sizeof(*argv));
    size_t *lens = calloc(n + 2, sizeof(*lens));
    char(*fields)[12] = calloc(n, sizeof(*fields));
    int rc = -1;
    redisReply *r = NULL;
    if (argv == NULL || lens == NULL || fields == NULL) {
        LOG_ERROR("out of memory reading checkpoints");
        goto cleanup;
    }
    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(fields[i], sizeof(fields[i]), "%d", (int)partitions[i]);
        argv[2 + i] = fields[i];
        lens[2 + i] = (size_t)len;
    }
    r = store_command(s, (int)(n + 2), argv, lens, REDIS_REPLY_ARRAY);
    if (r == NULL)
        goto cleanup;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        LOG_ERROR("redis: unexpected reply to HMGET '%s'", key);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_checkpoint(r->element[i], key, partitions[i], &out[i]) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    if (r != NULL)
        freeReplyObject(r);
    free(argv);
    free(lens);
    free(fields);
    return rc;
}

/* ---- replies scanned without building them ----
 *
 * Round trip 2 answers with one "+QUEUED" per write and an EXEC array of one
 * reply per write: tens of thousands of replies that say nothing but "no
 * error". hiredis would malloc a redisReply (and a string) for each; these
 * object functions, swapped into the context's reader for that exchange,
 * keep only what the store looks at: the type of the top-level reply, its
 * integer, and the first error anywhere inside it. */

typedef struct store_scan {
    int root_type;
    long long root_integer;
    size_t errors;
    char first_error[256];
} store_scan;

static store_scan *scan_of(const redisReadTask *t) {
    while (t->parent != NULL)
        t = t->parent;
    return t->privdata;
}

static void *scan_note(const redisReadTask *t, int type) {
    store_scan *sc = scan_of(t);
    if (t->parent == NULL)
        sc->root_type = type;
    return sc;
}

static void *scan_string(const redisReadTask *t, char *str, size_t len) {
    store_scan *sc = scan_of(t);
    if (t->type == REDIS_REPLY_ERROR && sc->errors++ == 0)
        snprintf(sc->first_error, sizeof(sc->first_error), "%.*s", (int)(len > 200 ? 200 : len),
                 str);
    return scan_note(t, t->type);
}

static void *scan_array(const redisReadTask *t, int elements) {
    (void)elements;
    return scan_note(t, REDIS_REPLY_ARRAY);
}

static void *scan_integer(const redisReadTask *t, long long value) {
    store_scan *sc = scan_of(t);
    if (t->parent == NULL)
        sc->root_integer = value;
    return scan_note(t, REDIS_REPLY_INTEGER);
}

static void *scan_nil(const redisReadTask *t) {
    return scan_note(t, REDIS_REPLY_NIL);
}

static void scan_free(void *obj) {
    (void)obj; /* nothing was allocated */
}

static redisReplyObjectFunctions scan_functions = {
    scan_string, scan_array, scan_integer, scan_nil, scan_free,
};

/* Reads one reply through the scanning functions into *sc. Returns 0, or -1
 * when the connection failed. */
static int scan_reply(redisContext *c, store_scan *sc) {
    redisReplyObjectFunctions *fn = c->reader->fn;
    void *privdata = c->reader->privdata;
    memset(sc, 0, sizeof(*sc));
    c->reader->fn = &scan_functions;
    c->reader->privdata = sc;
    void *reply = NULL;
    int rc = redisGetReply(c, &reply);
    c->reader->reply = NULL; /* a reply cut short is `sc`, not hiredis's to free */
    c->reader->fn = fn;
    c->reader->privdata = privdata;
    return rc == REDIS_OK && reply != NULL ? 0 : -1;
}

/* ---- round trip 1's replies in an arena ----
 *
 * A batch reads one or more small replies per account (an HMGET is an
 * array and four strings): with hiredis's own objects, ten mallocs and ten
 * frees per account, a fifth of the projector's instructions. These object
 * functions build the same redisReply trees in blocks of memory that are
 * reused by the next round trip 1 (the replies are the store's, valid
 * until then: projector_store_read says so). Blocks only grow to the size
 * of the largest batch's replies. */

#define ARENA_BLOCK (256 * 1024)

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[]; /* aligned for any reply field */
} arena_block;

static void arena_free(arena_block *b) {
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
}

static void arena_reset(projector_store *s) {
    for (arena_block *b = s->arena; b != NULL; b = b->next)
        b->used = 0;
}

/* n bytes, aligned; NULL when memory runs out (hiredis then fails the read
 * as out of memory, and the round trip is retried). */
static void *arena_alloc(projector_store *s, size_t n) {
    size_t a = sizeof(max_align_t);
    n = (n + a - 1) / a * a;
    arena_block **link = &s->arena;
    for (arena_block *b = s->arena; b != NULL; link = &b->next, b = b->next) {
        if (b->cap - b->used >= n) {
            void *p = (char *)b->data + b->used;
            b->used += n;
            return p;
        }
    }
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    arena_block *b = malloc(sizeof(*b) + cap);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = n;
    *link = b;
    return b->data;
}

static projector_store *arena_store_of(const redisReadTask *t) {
    while (t->parent != NULL)
        t = t->parent;
    return t->privdata;
}

static redisReply *arena_reply(const redisReadTask *t, int type) {
    redisReply *r = arena_alloc(arena_store_of(t), sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->type = type;
    if (t->parent != NULL) {
        redisReply *parent = t->parent->obj;
        parent->element[t->idx] = r;
    }
    return r;
}

static void *arena_string(const redisReadTask *t, char *str, size_t len) {
    redisReply *r = arena_reply(t, t->type);
    if (r == NULL)
        return NULL;
    r->str = arena_alloc(arena_store_of(t), len + 1);
    if (r->str == NULL)
        return NULL;
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *arena_array(const redisReadTask *t, int elements) {
    redisReply *r = arena_reply(t, REDIS_REPLY_ARRAY);
    if (r == NULL)
        return NULL;
    if (elements > 0) {
        r->element = arena_alloc(arena_store_of(t), (size_t)elements * sizeof(*r->element));
        if (r->element == NULL)
            return NULL;
        memset(r->element, 0, (size_t)elements * sizeof(*r->element));
    }
    r->elements = (size_t)(elements > 0 ? elements : 0);
    return r;
}

static void *arena_integer(const redisReadTask *t, long long value) {
    redisReply *r = arena_reply(t, REDIS_REPLY_INTEGER);
    if (r != NULL)
        r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *t) {
    return arena_reply(t, REDIS_REPLY_NIL);
}

static void arena_object_free(void *obj) {
    (void)obj; /* the arena is reset, not freed object by object */
}

static redisReplyObjectFunctions arena_functions = {
    arena_string, arena_array, arena_integer, arena_nil, arena_object_free,
};

/* ---- round trip 1 ---- */

/* The head of round trip 1, before the view's reads: WATCH of the
 * partition's checkpoints and of both generation keys (so that round trip
 * 2's EXEC writes nothing if any of them changed in between), then the
 * reads of those. Appended to the context; 4 replies. */
static int append_watch(projector_store *s, const char *cp_key, const char *field) {
    const char *watch[] = {"WATCH", cp_key, s->current_key, s->building_key};
    const char *hget[] = {"HGET", cp_key, field};
    const char *gets[] = {"MGET", s->current_key, s->building_key};
    return redisAppendCommandArgv(s->c, 4, watch, NULL) == REDIS_OK &&
                   redisAppendCommandArgv(s->c, 3, hget, NULL) == REDIS_OK &&
                   redisAppendCommandArgv(s->c, 3, gets, NULL) == REDIS_OK
               ? 0
               : -1;
}

/* The generation a batch of `mode` would be checked against, from the MGET
 * of current and building ("" when there is none), like ledger_apply. */
static void note_generations(projector_store *s, const redisReply *r) {
    s->watched_current[0] = '\0';
    s->watched_building[0] = '\0';
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    const redisReply *cur = r->element[0], *bld = r->element[1];
    if (cur->type == REDIS_REPLY_STRING && cur->len < sizeof(s->watched_current))
        snprintf(s->watched_current, sizeof(s->watched_current), "%.*s", (int)cur->len, cur->str);
    else if (cur->type == REDIS_REPLY_NIL)
        snprintf(s->watched_current, sizeof(s->watched_current), "1"); /* absent = 1 */
    if (bld->type == REDIS_REPLY_STRING && bld->len < sizeof(s->watched_building))
        snprintf(s->watched_building, sizeof(s->watched_building), "%.*s", (int)bld->len, bld->str);
}

int projector_store_read(projector_store *s, view_batch *batch, int32_t partition,
                         int64_t *checkpoint, redisReply **replies) {
    pending_settle(s);
    char key[PROJECTOR_KEY_BUF];
    char field[12];
    projector_keys_checkpoints(s->ns, s->view, view_batch_generation(batch), key, sizeof(key));
    snprintf(field, sizeof(field), "%d", (int)partition);
    size_t n = view_batch_read_count(batch);
    char errstr[512];

    for (;;) {
        store_settle(s);
        if (store_ensure(s) != 0)
            return -1;
        const char *reads;
        size_t reads_len;
        if (view_batch_reads_resp(batch, &reads, &reads_len) != 0) {
            LOG_ERROR("out of memory building the batch's reads");
            return -1;
        }
        int ok =
            append_watch(s, key, field) == 0 &&
            (reads_len == 0 || redisAppendFormattedCommand(s->c, reads, reads_len) == REDIS_OK) &&
            redisAppendCommand(s->c, "MULTI") == REDIS_OK;
        redisReply *head[3] = {NULL, NULL, NULL}; /* WATCH, HGET, MGET */
        redisReply *multi = NULL;
        arena_reset(s);
        redisReplyObjectFunctions *fn = s->c->reader->fn;
        void *privdata = s->c->reader->privdata;
        s->c->reader->fn = &arena_functions;
        s->c->reader->privdata = s;
        for (size_t h = 0; ok && h < 3; h++)
            ok = redisGetReply(s->c, (void **)&head[h]) == REDIS_OK;
        for (size_t i = 0; ok && i < n; i++)
            ok = redisGetReply(s->c, (void **)&replies[i]) == REDIS_OK;
        if (ok)
            ok = redisGetReply(s->c, (void **)&multi) == REDIS_OK;
        /* A reply cut short stays in the reader: it is the arena's, not
         * for hiredis to free (the connection is dropped below anyway). */
        s->c->reader->reply = NULL;
        s->c->reader->fn = fn;
        s->c->reader->privdata = privdata;
        redisReply *cp = head[1];
        if (!ok) {
            snprintf(errstr, sizeof(errstr), "%s",
                     s->c->errstr[0] != '\0' ? s->c->errstr : "connection lost");
        } else if (head[0]->type == REDIS_REPLY_ERROR || cp->type == REDIS_REPLY_ERROR ||
                   head[2]->type == REDIS_REPLY_ERROR) {
            const redisReply *e = head[0]->type == REDIS_REPLY_ERROR ? head[0]
                                  : cp->type == REDIS_REPLY_ERROR    ? cp
                                                                     : head[2];
            snprintf(errstr, sizeof(errstr), "reading checkpoint '%s': %.*s", key, (int)e->len,
                     e->str);
            ok = 0;
        }
        /* A refused MULTI is not retried: round trip 2 then goes through the
         * function, which needs no transaction. */
        s->in_multi = ok && multi->type == REDIS_REPLY_STATUS;
        if (ok && !s->in_multi)
            LOG_DEBUG("redis: MULTI refused (%.*s): the batch goes through ledger_apply",
                      (int)multi->len, multi->str);
        if (ok) {
            note_generations(s, head[2]);
            int rc = parse_checkpoint(cp, key, partition, checkpoint);
            s->watched_partition = partition;
            s->watched_generation = view_batch_generation(batch);
            s->watched_checkpoint = *checkpoint;
            s->backoff_ms = STORE_BACKOFF_MIN_MS;
            if (rc != 0)
                store_settle(s);
            return rc;
        }
        for (size_t i = 0; i < n; i++)
            replies[i] = NULL;
        s->in_multi = false;
        LOG_WARN("redis: reading the batch of partition %d: %s (retrying in %d ms)", (int)partition,
                 errstr, s->backoff_ms);
        store_fail(s);
    }
}

/* ---- round trip 2 ---- */

/* Whether the generation watched in round trip 1 is `gen` for `mode`. */
static bool watched_generation_is(const projector_store *s, projector_store_mode mode,
                                  int64_t gen) {
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)gen);
    return strcmp(mode == PROJECTOR_STORE_BUILDING ? s->watched_building : s->watched_current,
                  text) == 0;
}

/* WATCH and read the checkpoint and generations again, then MULTI: after an
 * EXEC that a change of a watched key aborted. Returns 0 with the
 * transaction open, or -1 when the connection failed. */
static int rewatch(projector_store *s, const char *cp_key, const char *field) {
    redisReply *r[4] = {NULL, NULL, NULL, NULL};
    int ok = append_watch(s, cp_key, field) == 0 && redisAppendCommand(s->c, "MULTI") == REDIS_OK;
    for (size_t i = 0; ok && i < 4; i++)
        ok = redisGetReply(s->c, (void **)&r[i]) == REDIS_OK;
    int64_t cp = PROJECTOR_NO_CHECKPOINT;
    ok = ok && r[0]->type != REDIS_REPLY_ERROR && r[3]->type == REDIS_REPLY_STATUS &&
         parse_checkpoint(r[1], cp_key, s->watched_partition, &cp) == 0;
    if (ok) {
        note_generations(s, r[2]);
        s->watched_checkpoint = cp;
        s->in_multi = true;
    }
    for (size_t i = 0; i < 4; i++) {
        if (r[i] != NULL)
            freeReplyObject(r[i]);
    }
    return ok ? 0 : -1;
}

/* Round trip 2 inside the transaction round trip 1 opened: every write and
 * the checkpoint, queued, then EXEC. Redis runs them as one step, or none
 * of them when a watched key (the checkpoints, current, building) changed
 * since it was read: the batch is then checked again and re-sent, or
 * refused. In three steps, so that the replies can be read later
 * (projector_store_apply_send): the checks, the sending, the replies. */

/* The checks on what round trip 1 (or a rewatch) saw: APPLIED when the
 * batch may be sent, else the result that ends it (the transaction is then
 * left). */
static projector_store_result multi_check(projector_store *s, view_batch *batch,
                                          projector_store_mode mode, int64_t expected,
                                          int attempt) {
    if (!watched_generation_is(s, mode, view_batch_generation(batch))) {
        store_settle(s);
        return PROJECTOR_STORE_WRONG_GEN;
    }
    if (s->watched_checkpoint != expected || attempt == STORE_EXEC_ATTEMPTS) {
        store_settle(s);
        return PROJECTOR_STORE_STALE;
    }
    return PROJECTOR_STORE_APPLIED;
}

/* Appends the writes, the checkpoint and EXEC to the connection's output.
 * Returns 0, or -1 when memory runs out (logged; the transaction is left). */
static int multi_append(projector_store *s, view_batch *batch, int32_t partition, int64_t next) {
    char key[PROJECTOR_KEY_BUF], field[12], next_text[24];
    projector_keys_checkpoints(s->ns, s->view, view_batch_generation(batch), key, sizeof(key));
    snprintf(field, sizeof(field), "%d", (int)partition);
    snprintf(next_text, sizeof(next_text), "%lld", (long long)next);
    const char *writes;
    size_t writes_len;
    if (view_batch_writes_resp(batch, &writes, &writes_len) != 0) {
        LOG_ERROR("out of memory building the batch's writes");
        store_settle(s);
        return -1;
    }
    const char *hset[] = {"HSET", key, field, next_text};
    s->in_multi = false; /* EXEC ends it, whatever it answers */
    if ((writes_len == 0 || redisAppendFormattedCommand(s->c, writes, writes_len) == REDIS_OK) &&
        redisAppendCommandArgv(s->c, 4, hset, NULL) == REDIS_OK &&
        redisAppendCommand(s->c, "EXEC") == REDIS_OK)
        return 0;
    LOG_ERROR("out of memory sending the batch's writes");
    redisFree(s->c); /* half a transaction may be in its buffer */
    s->c = NULL;
    return -1;
}

/* Reads the replies of what multi_append sent: APPLIED, UNKNOWN, FAILED,
 * or *again when a watched key changed (the transaction is then open
 * again, re-watched: check and send once more). */
static projector_store_result multi_receive(projector_store *s, view_batch *batch,
                                            int32_t partition, bool *again) {
    *again = false;
    size_t queued = view_batch_write_count(batch) + 1;
    store_scan sc;
    size_t refused = 0;
    char first_refusal[256] = "";
    int ok = 1;
    for (size_t q = 0; ok && q < queued; q++) {
        ok = scan_reply(s->c, &sc) == 0;
        if (ok && sc.errors > 0 && refused++ == 0)
            snprintf(first_refusal, sizeof(first_refusal), "%s", sc.first_error);
    }
    if (ok)
        ok = scan_reply(s->c, &sc) == 0;
    if (!ok) {
        LOG_WARN("redis: EXEC for partition %d: %s", (int)partition,
                 s->c->errstr[0] != '\0' ? s->c->errstr : "connection lost");
        store_fail(s);
        return PROJECTOR_STORE_UNKNOWN;
    }
    if (sc.root_type == REDIS_REPLY_ARRAY) {
        s->backoff_ms = STORE_BACKOFF_MIN_MS;
        if (sc.errors > 0)
            /* Only a key of another type in the view's namespace does
             * this (nothing here writes one): the other writes and the
             * checkpoint are in. Said loudly; a rebuild mends it. */
            LOG_ERROR("redis: %zu write(s) of the batch of partition %d failed inside its "
                      "transaction (first: %s): a key of view '%s' was changed by something "
                      "else; rebuild the view",
                      sc.errors, (int)partition, sc.first_error, s->view);
        return PROJECTOR_STORE_APPLIED;
    }
    if (sc.root_type == REDIS_REPLY_NIL) {
        /* A watched key changed: another partition's checkpoint, most
         * likely (they share a hash). Look again. */
        char key[PROJECTOR_KEY_BUF], field[12];
        projector_keys_checkpoints(s->ns, s->view, view_batch_generation(batch), key, sizeof(key));
        snprintf(field, sizeof(field), "%d", (int)partition);
        if (rewatch(s, key, field) != 0) {
            LOG_WARN("redis: re-watching partition %d: %s", (int)partition,
                     s->c->errstr[0] != '\0' ? s->c->errstr : "unexpected reply");
            store_fail(s);
            return PROJECTOR_STORE_UNKNOWN;
        }
        *again = true;
        return PROJECTOR_STORE_STALE;
    }
    LOG_ERROR("redis: the batch of partition %d was refused: %s (retrying in %d ms)",
              (int)partition,
              refused > 0     ? first_refusal
              : sc.errors > 0 ? sc.first_error
                              : "unexpected reply",
              s->backoff_ms);
    store_wait(s);
    return PROJECTOR_STORE_FAILED;
}

/* From the checks on, attempt `attempt` and the ones after it. */
static projector_store_result multi_run(projector_store *s, view_batch *batch,
                                        projector_store_mode mode, int32_t partition,
                                        int64_t expected, int64_t next, int attempt, bool sent) {
    for (;; attempt++) {
        if (!sent) {
            projector_store_result checked = multi_check(s, batch, mode, expected, attempt);
            if (checked != PROJECTOR_STORE_APPLIED)
                return checked;
            if (multi_append(s, batch, partition, next) != 0)
                return PROJECTOR_STORE_FAILED;
        }
        sent = false;
        bool again;
        projector_store_result r = multi_receive(s, batch, partition, &again);
        if (!again)
            return r;
    }
}

/* Whether round trip 2 can go in the transaction round trip 1 opened. */
static bool multi_eligible(const projector_store *s, view_batch *batch, int32_t partition) {
    return s->in_multi && s->watched_partition == partition &&
           s->watched_generation == view_batch_generation(batch) &&
           view_batch_pseudo_count(batch) == 0;
}

projector_store_result projector_store_apply_send(projector_store *s, view_batch *batch,
                                                  projector_store_mode mode, int32_t partition,
                                                  int64_t expected, int64_t next) {
    if (!multi_eligible(s, batch, partition))
        return projector_store_apply(s, batch, mode, partition, expected, next);
    projector_store_result checked = multi_check(s, batch, mode, expected, 0);
    if (checked != PROJECTOR_STORE_APPLIED)
        return checked;
    if (multi_append(s, batch, partition, next) != 0)
        return PROJECTOR_STORE_FAILED;
    /* Out to Redis now, replies read later: Redis runs the transaction
     * while this process prepares the next batch. */
    int done = 0;
    while (!done) {
        if (redisBufferWrite(s->c, &done) != REDIS_OK) {
            LOG_WARN("redis: EXEC for partition %d: %s", (int)partition,
                     s->c->errstr[0] != '\0' ? s->c->errstr : "connection lost");
            store_fail(s);
            return PROJECTOR_STORE_UNKNOWN;
        }
    }
    s->pending = true;
    s->pending_done = false;
    s->pending_batch = batch;
    s->pending_mode = mode;
    s->pending_partition = partition;
    s->pending_expected = expected;
    s->pending_next = next;
    return PROJECTOR_STORE_PENDING;
}

/* Reads the pending transaction's replies now (another call needs the
 * connection), keeping its result for projector_store_apply_wait. */
static void pending_settle(projector_store *s) {
    if (!s->pending || s->pending_done)
        return;
    s->pending_result = multi_run(s, s->pending_batch, s->pending_mode, s->pending_partition,
                                  s->pending_expected, s->pending_next, 0, true);
    s->pending_done = true;
}

projector_store_result projector_store_apply_wait(projector_store *s) {
    if (!s->pending)
        return PROJECTOR_STORE_FAILED; /* not reached: the runtime asks only when pending */
    pending_settle(s);
    s->pending = false;
    s->pending_batch = NULL;
    return s->pending_result;
}

projector_store_result projector_store_apply(projector_store *s, view_batch *batch,
                                             projector_store_mode mode, int32_t partition,
                                             int64_t expected, int64_t next) {
    pending_settle(s);
    if (multi_eligible(s, batch, partition))
        return multi_run(s, batch, mode, partition, expected, next, 0, false);
    /* Guards (LEDGER.EXPECT), or no transaction open: the function. */
    store_settle(s);

    char key[PROJECTOR_KEY_BUF];
    char gen[24], field[12], expected_text[24], next_text[24];
    projector_keys_checkpoints(s->ns, s->view, view_batch_generation(batch), key, sizeof(key));
    int gen_len = snprintf(gen, sizeof(gen), "%lld", (long long)view_batch_generation(batch));
    int field_len = snprintf(field, sizeof(field), "%d", (int)partition);
    int expected_len =
        expected == PROJECTOR_NO_CHECKPOINT
            ? 0
            : snprintf(expected_text, sizeof(expected_text), "%lld", (long long)expected);
    if (expected_len == 0)
        expected_text[0] = '\0';
    int next_len = snprintf(next_text, sizeof(next_text), "%lld", (long long)next);
    const char *mode_text = mode == PROJECTOR_STORE_BUILDING ? "building" : "current";
    const char *head[] = {"FCALL",  "ledger_apply", "3", s->current_key, s->building_key,
                          key,      mode_text,      gen, field,          expected_text,
                          next_text};
    const size_t head_len[] = {5,
                               12,
                               1,
                               strlen(s->current_key),
                               strlen(s->building_key),
                               strlen(key),
                               strlen(mode_text),
                               (size_t)gen_len,
                               (size_t)field_len,
                               (size_t)expected_len,
                               (size_t)next_len};
    const char *fcall;
    size_t fcall_len;
    if (view_batch_fcall_resp(batch, head, head_len, sizeof(head) / sizeof(head[0]), &fcall,
                              &fcall_len) != 0) {
        LOG_ERROR("out of memory building the batch's writes");
        return PROJECTOR_STORE_FAILED;
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        if (store_ensure(s) != 0)
            return PROJECTOR_STORE_STOPPED;
        redisReply *r = NULL;
        if (redisAppendFormattedCommand(s->c, fcall, fcall_len) != REDIS_OK ||
            redisGetReply(s->c, (void **)&r) != REDIS_OK)
            r = NULL;
        if (r == NULL) {
            LOG_WARN("redis: FCALL ledger_apply for partition %d: %s", (int)partition,
                     s->c->errstr[0] != '\0' ? s->c->errstr : "connection lost");
            store_fail(s);
            return PROJECTOR_STORE_UNKNOWN;
        }
        if (r->type == REDIS_REPLY_INTEGER) {
            long long v = r->integer;
            freeReplyObject(r);
            s->backoff_ms = STORE_BACKOFF_MIN_MS;
            return v == 1   ? PROJECTOR_STORE_APPLIED
                   : v == 0 ? PROJECTOR_STORE_STALE
                            : PROJECTOR_STORE_WRONG_GEN;
        }
        char msg[512];
        snprintf(msg, sizeof(msg), "%.*s", r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        if (attempt == 0 &&
            (strstr(msg, "Function not found") != NULL || strstr(msg, "NOSCRIPT") != NULL)) {
            char errstr[512];
            LOG_WARN("redis: the function library is gone (%s): loading it again", msg);
            if (load_library(s, errstr, sizeof(errstr)) != 0) {
                LOG_WARN("redis: cannot load the function library: %s", errstr);
                store_fail(s);
                return PROJECTOR_STORE_UNKNOWN;
            }
            continue;
        }
        LOG_ERROR("redis: FCALL ledger_apply for partition %d refused: %s (retrying in %d ms)",
                  (int)partition, msg[0] != '\0' ? msg : "unexpected reply type", s->backoff_ms);
        store_wait(s);
        return PROJECTOR_STORE_FAILED;
    }
    return PROJECTOR_STORE_FAILED;
}
