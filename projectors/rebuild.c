/*
 * rebuild.c - the Redis side of a rebuild (see rebuild.h): lease, begin,
 * switch and the removal of the replaced generation.
 *
 * Why Redis functions (library `ledger_rebuild`) rather than commands from
 * here: each step reads several keys and decides (is the lease free? is
 * every checkpoint of the new generation at least the old one's?) and must
 * act on what it read without another client slipping in between - the
 * running projectors write checkpoints all the time. A function is that
 * read-decide-write as one step, and like ledger_apply it is written to the
 * AOF as one MULTI/EXEC.
 *
 * Why a new generation number on take-over instead of resuming the dead
 * rebuild's: its process may only be frozen (SIGSTOP, a long pause) and
 * wake up with a batch in hand; ledger_apply refuses any generation other
 * than <ns>:<view>:building, so a fresh number makes its writes fail
 * instead of mixing into ours, and a fresh start needs no trust in work
 * done by an older build of the code.
 *
 * This file has its own connection: the lease must be refreshed even while
 * the runtime's store is busy retrying a batch, and a lost lease must be
 * noticed by the caller, not hidden in a retry loop.
 */
#include "rebuild.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errstr.h"
#include "log.h"
#include "projector_keys.h"

#define REBUILD_TIMEOUT_MS     30000
#define REBUILD_BACKOFF_MIN_MS 100
#define REBUILD_BACKOFF_MAX_MS 5000
#define REBUILD_SCAN_COUNT     "1000"

const ledger_config_setting projector_rebuild_settings[] = {
    {.name = "rebuild",
     .env = NULL,
     .flag = "rebuild",
     .type = LEDGER_CONFIG_BOOL,
     .def = "false",
     .help = "rebuild the view from offset zero into a new generation while the running "
             "projectors keep serving the current one; switch once caught up, remove the old "
             "generation, exit 0 (exit 2 when a rebuild of the view is already running)"},
    {.name = "rebuild_grace",
     .env = "LEDGER_REBUILD_GRACE",
     .flag = "rebuild-grace",
     .type = LEDGER_CONFIG_DURATION,
     .def = "2s",
     .min = 0,
     .max = 600000,
     .metavar = "DURATION",
     .help = "after the switch, how long the old generation's keys stay for readers that "
             "read the generation number just before it"},
    {.name = "rebuild_lease",
     .env = "LEDGER_REBUILD_LEASE",
     .flag = "rebuild-lease",
     .type = LEDGER_CONFIG_DURATION,
     .def = "15s",
     .min = 1000,
     .max = 600000,
     .metavar = "DURATION",
     .help = "TTL of the rebuild's lease (refreshed every third of it); a rebuild whose lease "
             "expired is taken over by the next one"},
    LEDGER_CONFIG_END,
};

/* ledger_rebuild_begin(keys = {current, building, lease}, args = {token, lease_ms})
 *   -> {'busy', building, holder} | {'ok', current, new building, abandoned or ''}
 * ledger_rebuild_keep(keys = {building, lease}, args = {token, lease_ms, gen})
 *   -> 1 (the lease is ours, refreshed) | 0 (the generation is no longer ours)
 * ledger_rebuild_release(keys = {building, lease}, args = {token, gen})
 *   -> 1 lease and building deleted | 0 not ours (left alone)
 * ledger_rebuild_switch(keys = {current, building, lease, old checkpoints,
 *                               new checkpoints}, args = {old gen, new gen, token})
 *   -> 1 switched (or had been: a retry after a lost reply) | 0 the old
 *      generation is ahead on a partition | -1 current/building moved */
static const char rebuild_library[] =
    "#!lua name=ledger_rebuild\n"
    "local function begin(keys, args)\n"
    "  local cur = redis.call('GET', keys[1])\n"
    "  if not cur then\n"
    "    cur = '1'\n"
    "    redis.call('SET', keys[1], cur)\n"
    "  end\n"
    "  local newgen = tonumber(cur) + 1\n"
    "  local abandoned = ''\n"
    "  local b = redis.call('GET', keys[2])\n"
    "  if b then\n"
    "    local holder = redis.call('GET', keys[3])\n"
    "    if holder then return {'busy', b, holder} end\n"
    "    abandoned = b\n"
    "    if tonumber(b) >= newgen then newgen = tonumber(b) + 1 end\n"
    "  end\n"
    "  redis.call('SET', keys[2], tostring(newgen))\n"
    "  redis.call('SET', keys[3], args[1], 'PX', args[2])\n"
    "  return {'ok', cur, tostring(newgen), abandoned}\n"
    "end\n"
    "local function keep(keys, args)\n"
    "  if redis.call('GET', keys[1]) ~= args[3] then return 0 end\n"
    "  local holder = redis.call('GET', keys[2])\n"
    "  if holder and holder ~= args[1] then return 0 end\n"
    "  redis.call('SET', keys[2], args[1], 'PX', args[2])\n"
    "  return 1\n"
    "end\n"
    "local function release(keys, args)\n"
    "  if redis.call('GET', keys[2]) ~= args[1] then return 0 end\n"
    "  redis.call('DEL', keys[2])\n"
    "  if redis.call('GET', keys[1]) == args[2] then redis.call('DEL', keys[1]) end\n"
    "  return 1\n"
    "end\n"
    "local function switch(keys, args)\n"
    "  local cur = redis.call('GET', keys[1]) or '1'\n"
    "  local b = redis.call('GET', keys[2])\n"
    "  if cur == args[2] and not b then return 1 end\n"
    "  if cur ~= args[1] or b ~= args[2] then return -1 end\n"
    "  local old = redis.call('HGETALL', keys[4])\n"
    "  for i = 1, #old, 2 do\n"
    "    local n = redis.call('HGET', keys[5], old[i])\n"
    "    if not n or tonumber(n) < tonumber(old[i + 1]) then return 0 end\n"
    "  end\n"
    "  redis.call('SET', keys[1], args[2])\n"
    "  redis.call('DEL', keys[2])\n"
    "  if redis.call('GET', keys[3]) == args[3] then redis.call('DEL', keys[3]) end\n"
    "  return 1\n"
    "end\n"
    "redis.register_function('ledger_rebuild_begin', begin)\n"
    "redis.register_function('ledger_rebuild_keep', keep)\n"
    "redis.register_function('ledger_rebuild_release', release)\n"
    "redis.register_function('ledger_rebuild_switch', switch)\n";

struct projector_rebuild {
    const ledger_redis_url *url;
    const char *ns;
    const char *view;
    const volatile sig_atomic_t *stop;
    int64_t lease_ms;
    int64_t grace_ms;
    redisContext *c;
    int backoff_ms;
    char token[128];
    char lease_text[24];
    int64_t current; /* the generation being replaced */
    int64_t building;
    int64_t next_keep_ms;
    char current_key[PROJECTOR_KEY_BUF];
    char building_key[PROJECTOR_KEY_BUF];
    char lease_key[PROJECTOR_KEY_BUF];
};

static void sleep_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

projector_rebuild *projector_rebuild_new(const ledger_redis_url *url, const char *ns,
                                         const char *view, int64_t lease_ms, int64_t grace_ms,
                                         const volatile sig_atomic_t *stop) {
    projector_rebuild *rb = calloc(1, sizeof(*rb));
    if (rb == NULL)
        return NULL;
    rb->url = url;
    rb->ns = ns;
    rb->view = view;
    rb->stop = stop;
    rb->lease_ms = lease_ms;
    rb->grace_ms = grace_ms;
    rb->backoff_ms = REBUILD_BACKOFF_MIN_MS;
    projector_keys_current(ns, view, rb->current_key, sizeof(rb->current_key));
    projector_keys_building(ns, view, rb->building_key, sizeof(rb->building_key));
    projector_keys_rebuild_lease(ns, view, rb->lease_key, sizeof(rb->lease_key));
    snprintf(rb->lease_text, sizeof(rb->lease_text), "%lld", (long long)lease_ms);

    /* host:pid:random - who holds the lease, and unique even across hosts
     * with the same pid */
    char host[64] = "unknown";
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    uint32_t r;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)ledger_mono_ms() ^ ((uint32_t)getpid() << 16);
    snprintf(rb->token, sizeof(rb->token), "%s:%d:%08x", host, (int)getpid(), r);
    return rb;
}

void projector_rebuild_destroy(projector_rebuild *rb) {
    if (rb == NULL)
        return;
    if (rb->c != NULL)
        redisFree(rb->c);
    free(rb);
}

static void drop_connection(projector_rebuild *rb) {
    if (rb->c != NULL) {
        redisFree(rb->c);
        rb->c = NULL;
    }
}

static int load_library(projector_rebuild *rb, char *errstr, size_t errstr_size) {
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", rebuild_library};
    size_t lens[] = {8, 4, 7, sizeof(rebuild_library) - 1};
    redisReply *r = redisCommandArgv(rb->c, 4, argv, lens);
    int rc = ledger_redis_reply_check(rb->c, r, -1, "FUNCTION LOAD", errstr, errstr_size);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

/* A connection with the library loaded, or -1 with errstr. */
static int connect_once(projector_rebuild *rb, char *errstr, size_t errstr_size) {
    if (rb->c != NULL)
        return 0;
    rb->c = ledger_redis_connect(rb->url, REBUILD_TIMEOUT_MS, errstr, errstr_size);
    if (rb->c == NULL)
        return -1;
    if (load_library(rb, errstr, errstr_size) != 0) {
        drop_connection(rb);
        return -1;
    }
    return 0;
}

/* One command on a working connection. Reloads the library once when Redis
 * lost it. Returns the reply (caller frees), or NULL with errstr (the
 * connection is dropped when it failed). */
static redisReply *call_once(projector_rebuild *rb, int argc, const char **argv, const size_t *lens,
                             char *errstr, size_t errstr_size) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (connect_once(rb, errstr, errstr_size) != 0)
            return NULL;
        redisReply *r = redisCommandArgv(rb->c, argc, argv, lens);
        if (ledger_redis_reply_check(rb->c, r, -1, argv[0], errstr, errstr_size) == 0) {
            rb->backoff_ms = REBUILD_BACKOFF_MIN_MS;
            return r;
        }
        bool lost_library = r != NULL && r->type == REDIS_REPLY_ERROR &&
                            strstr(r->str, "Function not found") != NULL;
        if (r != NULL)
            freeReplyObject(r);
        else
            drop_connection(rb);
        if (!lost_library)
            return NULL;
        if (load_library(rb, errstr, errstr_size) != 0) {
            drop_connection(rb);
            return NULL;
        }
    }
    return NULL;
}

/* call_once until it answers or *stop (then NULL), backing off between. */
static redisReply *call_retrying(projector_rebuild *rb, int argc, const char **argv,
                                 const size_t *lens) {
    char errstr[512];
    for (;;) {
        if (*rb->stop)
            return NULL;
        redisReply *r = call_once(rb, argc, argv, lens, errstr, sizeof(errstr));
        if (r != NULL)
            return r;
        LOG_WARN("redis: %s (retrying in %d ms)", errstr, rb->backoff_ms);
        int64_t until = ledger_mono_ms() + rb->backoff_ms;
        while (!*rb->stop && ledger_mono_ms() < until)
            sleep_ms(50);
        rb->backoff_ms = rb->backoff_ms * 2 > REBUILD_BACKOFF_MAX_MS ? REBUILD_BACKOFF_MAX_MS
                                                                     : rb->backoff_ms * 2;
    }
}

/* A generation from a reply (text or integer). Returns 0, or -1. */
static int reply_int(const redisReply *r, int64_t *out) {
    if (r->type == REDIS_REPLY_STRING)
        return projector_keys_parse_int(r->str, r->len, out);
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    return -1;
}

/* SCAN MATCH "<ns>:<view>:g<gen>:*" + UNLINK, batch by batch. Returns the
 * number of keys removed, or -1 (logged). */
static int64_t remove_generation(projector_rebuild *rb, int64_t gen) {
    char prefix[PROJECTOR_KEY_BUF], pattern[PROJECTOR_KEY_BUF + 2];
    if (projector_keys_generation_prefix(rb->ns, rb->view, gen, prefix, sizeof(prefix)) == 0)
        return -1;
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    char cursor[32] = "0";
    int64_t removed = 0;
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", REBUILD_SCAN_COUNT};
        size_t lens[] = {4, strlen(cursor), 5, strlen(pattern), 5, strlen(REBUILD_SCAN_COUNT)};
        redisReply *r = call_retrying(rb, 6, argv, lens);
        if (r == NULL)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY ||
            r->element[0]->len >= sizeof(cursor)) {
            LOG_ERROR("redis: unexpected reply to SCAN '%s'", pattern);
            freeReplyObject(r);
            return -1;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        const redisReply *keys = r->element[1];
        if (keys->elements > 0) {
            const char **argv_u = calloc(keys->elements + 1, sizeof(*argv_u));
            size_t *lens_u = calloc(keys->elements + 1, sizeof(*lens_u));
            if (argv_u == NULL || lens_u == NULL) {
                free(argv_u);
                free(lens_u);
                freeReplyObject(r);
                LOG_ERROR("out of memory removing generation %lld", (long long)gen);
                return -1;
            }
            argv_u[0] = "UNLINK";
            lens_u[0] = 6;
            for (size_t i = 0; i < keys->elements; i++) {
                argv_u[i + 1] = keys->element[i]->str;
                lens_u[i + 1] = keys->element[i]->len;
            }
            redisReply *u = call_retrying(rb, (int)keys->elements + 1, argv_u, lens_u);
            free(argv_u);
            free(lens_u);
            if (u == NULL) {
                freeReplyObject(r);
                return -1;
            }
            if (u->type == REDIS_REPLY_INTEGER)
                removed += u->integer;
            freeReplyObject(u);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return removed;
}

projector_rebuild_begin_result projector_rebuild_begin(projector_rebuild *rb, int64_t *current,
                                                       int64_t *building, char *errstr,
                                                       size_t errstr_size) {
    const char *argv[] = {"FCALL",          "ledger_rebuild_begin", "3",       rb->current_key,
                          rb->building_key, rb->lease_key,          rb->token, rb->lease_text};
    size_t lens[] = {5,
                     20,
                     1,
                     strlen(rb->current_key),
                     strlen(rb->building_key),
                     strlen(rb->lease_key),
                     strlen(rb->token),
                     strlen(rb->lease_text)};
    redisReply *r = call_retrying(rb, 8, argv, lens);
    if (r == NULL)
        return PROJECTOR_REBUILD_STOPPED;
    projector_rebuild_begin_result rc = PROJECTOR_REBUILD_STOPPED;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        ledger_errf(errstr, errstr_size, "unexpected reply from ledger_rebuild_begin");
        LOG_ERROR("redis: %s", errstr);
        goto cleanup;
    }
    if (strcmp(r->element[0]->str, "busy") == 0) {
        ledger_errf(errstr, errstr_size,
                    "a rebuild of view '%s' is already running: generation %s is being built by "
                    "'%s'",
                    rb->view, r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "?",
                    r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "?");
        rc = PROJECTOR_REBUILD_BUSY;
        goto cleanup;
    }
    int64_t abandoned = -1;
    if (r->elements != 4 || reply_int(r->element[1], &rb->current) != 0 ||
        reply_int(r->element[2], &rb->building) != 0 || r->element[3]->type != REDIS_REPLY_STRING ||
        (r->element[3]->len > 0 && reply_int(r->element[3], &abandoned) != 0)) {
        ledger_errf(errstr, errstr_size, "invalid generations in '%s' or '%s'", rb->current_key,
                    rb->building_key);
        LOG_ERROR("redis: %s", errstr);
        goto cleanup;
    }
    *current = rb->current;
    *building = rb->building;
    rb->next_keep_ms = ledger_mono_ms() + rb->lease_ms / 3;
    rc = PROJECTOR_REBUILD_STARTED;
    if (abandoned >= 0) {
        LOG_WARN("rebuild of view '%s' into generation %lld was abandoned (its lease expired): "
                 "taking over with generation %lld",
                 rb->view, (long long)abandoned, (long long)rb->building);
        int64_t n = remove_generation(rb, abandoned);
        if (n >= 0)
            LOG_INFO("removed %lld keys of abandoned generation %lld", (long long)n,
                     (long long)abandoned);
    }

cleanup:
    freeReplyObject(r);
    return rc;
}

int projector_rebuild_keep(projector_rebuild *rb) {
    int64_t now = ledger_mono_ms();
    if (now < rb->next_keep_ms)
        return 0;
    char gen[24], errstr[512];
    snprintf(gen, sizeof(gen), "%lld", (long long)rb->building);
    const char *argv[] = {"FCALL",   "ledger_rebuild_keep", "2", rb->building_key, rb->lease_key,
                          rb->token, rb->lease_text,        gen};
    size_t lens[] = {5,
                     19,
                     1,
                     strlen(rb->building_key),
                     strlen(rb->lease_key),
                     strlen(rb->token),
                     strlen(rb->lease_text),
                     strlen(gen)};
    redisReply *r = call_once(rb, 8, argv, lens, errstr, sizeof(errstr));
    if (r == NULL) {
        /* Try again soon; if the lease runs out meanwhile and nobody takes
         * over, the next refresh takes it back. */
        LOG_WARN("redis: cannot refresh the rebuild lease: %s", errstr);
        rb->next_keep_ms = now + 500;
        return 0;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        rb->next_keep_ms = now + rb->lease_ms / 3;
    } else if (r->type == REDIS_REPLY_INTEGER) {
        LOG_ERROR("rebuild of view '%s' lost generation %lld: another rebuild took over or "
                  "'%s' was changed",
                  rb->view, (long long)rb->building, rb->building_key);
        rc = -1;
    } else {
        LOG_WARN("redis: unexpected reply refreshing the rebuild lease");
        rb->next_keep_ms = now + 500;
    }
    freeReplyObject(r);
    return rc;
}

projector_rebuild_switch_result projector_rebuild_switch(projector_rebuild *rb) {
    char old_cp[PROJECTOR_KEY_BUF], new_cp[PROJECTOR_KEY_BUF];
    char old_gen[24], new_gen[24], errstr[512];
    projector_keys_checkpoints(rb->ns, rb->view, rb->current, old_cp, sizeof(old_cp));
    projector_keys_checkpoints(rb->ns, rb->view, rb->building, new_cp, sizeof(new_cp));
    snprintf(old_gen, sizeof(old_gen), "%lld", (long long)rb->current);
    snprintf(new_gen, sizeof(new_gen), "%lld", (long long)rb->building);
    const char *argv[] = {"FCALL",
                          "ledger_rebuild_switch",
                          "5",
                          rb->current_key,
                          rb->building_key,
                          rb->lease_key,
                          old_cp,
                          new_cp,
                          old_gen,
                          new_gen,
                          rb->token};
    size_t lens[11];
    for (size_t i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = call_once(rb, 11, argv, lens, errstr, sizeof(errstr));
    if (r == NULL) {
        LOG_WARN("redis: cannot switch generations yet: %s", errstr);
        return PROJECTOR_REBUILD_ERROR;
    }
    projector_rebuild_switch_result rc = PROJECTOR_REBUILD_ERROR;
    if (r->type != REDIS_REPLY_INTEGER)
        LOG_WARN("redis: unexpected reply from ledger_rebuild_switch");
    else if (r->integer == 1)
        rc = PROJECTOR_REBUILD_SWITCHED;
    else if (r->integer == 0)
        rc = PROJECTOR_REBUILD_NOT_YET;
    else
        rc = PROJECTOR_REBUILD_LOST;
    freeReplyObject(r);
    return rc;
}

void projector_rebuild_abandon(projector_rebuild *rb) {
    char gen[24], errstr[512];
    snprintf(gen, sizeof(gen), "%lld", (long long)rb->building);
    const char *argv[] = {
        "FCALL", "ledger_rebuild_release", "2", rb->building_key, rb->lease_key, rb->token, gen};
    size_t lens[] = {
        5, 22, 1, strlen(rb->building_key), strlen(rb->lease_key), strlen(rb->token), strlen(gen)};
    redisReply *r = call_once(rb, 7, argv, lens, errstr, sizeof(errstr));
    if (r == NULL) {
        LOG_WARN("redis: cannot release the rebuild (its lease expires by itself and the next "
                 "rebuild removes generation %lld): %s",
                 (long long)rb->building, errstr);
        return;
    }
    bool ours = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (!ours)
        return; /* taken over: the successor removes this generation */
    /* Nothing writes this generation any more (ledger_apply needs building
     * to name it): its keys can go at once, a stop notwithstanding. */
    const volatile sig_atomic_t *stop = rb->stop;
    volatile sig_atomic_t go_on = 0;
    rb->stop = &go_on;
    int64_t n = remove_generation(rb, rb->building);
    rb->stop = stop;
    if (n >= 0)
        LOG_INFO("removed %lld keys of unfinished generation %lld", (long long)n,
                 (long long)rb->building);
}

int64_t projector_rebuild_remove_old(projector_rebuild *rb) {
    /* The grace period is not cut short by a stop: the switch is done, and
     * a stop in the middle would leave the old generation's keys behind. */
    if (rb->grace_ms > 0) {
        LOG_INFO("removing generation %lld of view '%s' in %lld ms (grace period)",
                 (long long)rb->current, rb->view, (long long)rb->grace_ms);
        sleep_ms(rb->grace_ms);
    }
    int64_t n = remove_generation(rb, rb->current);
    if (n < 0) {
        char prefix[PROJECTOR_KEY_BUF];
        projector_keys_generation_prefix(rb->ns, rb->view, rb->current, prefix, sizeof(prefix));
        LOG_WARN("the keys of generation %lld ('%s*') were not all removed: delete them by hand "
                 "(nothing reads them any more)",
                 (long long)rb->current, prefix);
    }
    return n;
}
