/*
 * projector_store.c - the projector runtime's Redis side (see projector_store.h).
 *
 * Why a Redis function rather than MULTI/EXEC with WATCH: the condition
 * (generation and checkpoint) and the writes must be one server-side step,
 * and a function is loaded once, survives restarts in the AOF/RDB, and is
 * called by name with the batch as arguments - no script text per batch.
 * Redis does not roll a function back when one of its commands fails half
 * way (a view's key of the wrong type): the checkpoint is then not moved,
 * the batch is retried, and the views' "skip seq <= version" rule makes the
 * writes that did happen harmless when the batch is applied again.
 */
#include "projector_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "projector_keys.h"

#define STORE_TIMEOUT_MS     30000
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000

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
};

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

void projector_store_destroy(projector_store *s) {
    if (s == NULL)
        return;
    if (s->c != NULL)
        redisFree(s->c);
    free(s);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits the current backoff (in slices, so a stop request is seen within
 * 50 ms), then doubles it. */
static void store_wait(projector_store *s) {
    int64_t until = mono_ms() + s->backoff_ms;
    while (!*s->stop && mono_ms() < until) {
        struct timespec slice = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&slice, NULL);
    }
    s->backoff_ms =
        s->backoff_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* Drops the connection (a failed one cannot be trusted) and backs off. */
static void store_fail(projector_store *s) {
    if (s->c != NULL) {
        redisFree(s->c);
        s->c = NULL;
    }
    store_wait(s);
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
    const char *argv[] = {"SET", s->current_key, "1", "NX"};
    size_t lens[] = {3, strlen(s->current_key), 1, 2};
    redisReply *r = store_command(s, 4, argv, lens, -1);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int projector_store_generation(projector_store *s, int64_t *gen) {
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

int projector_store_read(projector_store *s, view_batch *batch, int32_t partition,
                         int64_t *checkpoint, redisReply **replies) {
    char key[PROJECTOR_KEY_BUF];
    char field[12];
    projector_keys_checkpoints(s->ns, s->view, view_batch_generation(batch), key, sizeof(key));
    int field_len = snprintf(field, sizeof(field), "%d", (int)partition);
    size_t n = view_batch_read_count(batch);
    char errstr[512];

    for (;;) {
        if (store_ensure(s) != 0)
            return -1;
        const char *argv[] = {"HGET", key, field};
        size_t lens[] = {4, strlen(key), (size_t)field_len};
        int ok = redisAppendCommandArgv(s->c, 3, argv, lens) == REDIS_OK;
        for (size_t i = 0; ok && i < n; i++) {
            int argc;
            const char *const *rargv;
            const size_t *rlens;
            if (view_batch_read_argv(batch, i, &argc, &rargv, &rlens) != 0) {
                LOG_ERROR("out of memory building the batch's reads");
                return -1;
            }
            ok = redisAppendCommandArgv(s->c, argc, (const char **)rargv, rlens) == REDIS_OK;
        }
        redisReply *cp = NULL;
        size_t got = 0;
        if (ok)
            ok = redisGetReply(s->c, (void **)&cp) == REDIS_OK;
        for (; ok && got < n; got++)
            ok = redisGetReply(s->c, (void **)&replies[got]) == REDIS_OK;
        if (ok && cp->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, sizeof(errstr), "HGET '%s': %.*s", key, (int)cp->len, cp->str);
            ok = 0;
        } else if (!ok) {
            snprintf(errstr, sizeof(errstr), "%s",
                     s->c->errstr[0] != '\0' ? s->c->errstr : "connection lost");
        }
        if (ok) {
            int rc = parse_checkpoint(cp, key, partition, checkpoint);
            freeReplyObject(cp);
            s->backoff_ms = STORE_BACKOFF_MIN_MS;
            if (rc != 0) {
                for (size_t i = 0; i < n; i++)
                    freeReplyObject(replies[i]);
            }
            return rc;
        }
        if (cp != NULL)
            freeReplyObject(cp);
        for (size_t i = 0; i < got; i++) {
            if (replies[i] != NULL)
                freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
        LOG_WARN("redis: reading the batch of partition %d: %s (retrying in %d ms)", (int)partition,
                 errstr, s->backoff_ms);
        store_fail(s);
    }
}

projector_store_result projector_store_apply(projector_store *s, view_batch *batch,
                                             projector_store_mode mode, int32_t partition,
                                             int64_t expected, int64_t next) {
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
    int argc;
    const char *const *argv;
    const size_t *lens;
    if (view_batch_fcall_argv(batch, head, head_len, sizeof(head) / sizeof(head[0]), &argc, &argv,
                              &lens) != 0) {
        LOG_ERROR("out of memory building the batch's writes");
        return PROJECTOR_STORE_FAILED;
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        if (store_ensure(s) != 0)
            return PROJECTOR_STORE_STOPPED;
        redisReply *r = redisCommandArgv(s->c, argc, (const char **)argv, lens);
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
