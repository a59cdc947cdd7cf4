/*
 * projector_query.c - the read side's shared steps (see projector_query.h).
 *
 * A wait polls rather than subscribes: keyspace notifications are off by
 * default and an operator should not have to turn them on for a query to
 * work. A short, growing poll interval answers a fresh write within a few
 * milliseconds and costs a few commands a second while the view catches up.
 */
#include "projector_query.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "projector_keys.h"
#include "redis.h"

static int check_position(const char *value, char *why, size_t why_size) {
    int32_t p;
    int64_t o;
    return projector_query_parse_position(value, &p, &o, why, why_size);
}

const ledger_config_setting projector_query_settings[] = {
    {.name = "after",
     .env = NULL,
     .flag = "after",
     .type = LEDGER_CONFIG_STRING,
     .metavar = "P:O",
     .check = check_position,
     .help = "answer only once the view has applied partition P's offset O (a result's "
             "\"position\")"},
    {.name = "timeout",
     .env = "LEDGER_QUERY_TIMEOUT",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "how long --after may wait (seconds, or 500ms, 2m); exit 3 when it passes"},
    LEDGER_CONFIG_END,
};

int projector_query_parse_position(const char *text, int32_t *partition, int64_t *offset,
                                   char *errstr, size_t errstr_size) {
    const char *colon = strchr(text, ':');
    int64_t p, o;
    if (colon == NULL || projector_keys_parse_int(text, (size_t)(colon - text), &p) != 0 ||
        projector_keys_parse_int(colon + 1, strlen(colon + 1), &o) != 0 || p > INT32_MAX) {
        snprintf(errstr, errstr_size, "expected PARTITION:OFFSET, e.g. 3:1042");
        return -1;
    }
    *partition = (int32_t)p;
    *offset = o;
    return 0;
}

int projector_query_generation(redisContext *c, const char *ns, const char *view, int64_t *gen,
                               char *errstr, size_t errstr_size) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_current(ns, view, key, sizeof(key));
    redisReply *r = redisCommand(c, "GET %b", key, len);
    if (ledger_redis_reply_check(c, r, -1, "GET", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL) {
        *gen = PROJECTOR_FIRST_GENERATION;
    } else if (r->type != REDIS_REPLY_STRING ||
               projector_keys_parse_int(r->str, r->len, gen) != 0) {
        snprintf(errstr, errstr_size, "invalid generation in '%s'", key);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* The checkpoint of `partition` in the current generation, -1 if absent. */
static int read_checkpoint(redisContext *c, const char *ns, const char *view, int32_t partition,
                           int64_t *checkpoint, char *errstr, size_t errstr_size) {
    int64_t gen;
    if (projector_query_generation(c, ns, view, &gen, errstr, errstr_size) != 0)
        return -1;
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_checkpoints(ns, view, gen, key, sizeof(key));
    redisReply *r = redisCommand(c, "HGET %b %d", key, len, (int)partition);
    if (ledger_redis_reply_check(c, r, -1, "HGET", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL) {
        *checkpoint = -1;
    } else if (r->type != REDIS_REPLY_STRING ||
               projector_keys_parse_int(r->str, r->len, checkpoint) != 0) {
        snprintf(errstr, errstr_size, "invalid checkpoint of partition %d in '%s'", (int)partition,
                 key);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

projector_query_wait_result projector_query_wait(redisContext *c, const char *ns, const char *view,
                                                 int32_t partition, int64_t offset,
                                                 int64_t timeout_ms, char *errstr,
                                                 size_t errstr_size) {
    int64_t deadline = ledger_mono_ms() + timeout_ms;
    long pause_ms = 2;
    for (;;) {
        int64_t checkpoint;
        if (read_checkpoint(c, ns, view, partition, &checkpoint, errstr, errstr_size) != 0)
            return PROJECTOR_QUERY_ERROR;
        if (checkpoint > offset)
            return PROJECTOR_QUERY_APPLIED;
        int64_t left = deadline - ledger_mono_ms();
        if (left <= 0)
            return PROJECTOR_QUERY_TIMED_OUT;
        long ms = pause_ms < left ? pause_ms : (long)left;
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        pause_ms = pause_ms * 2 > 50 ? 50 : pause_ms * 2;
    }
}

int projector_query_quarantined(redisContext *c, const char *ns, const char *view, int64_t gen,
                                const char *account, bool *quarantined, char *errstr,
                                size_t errstr_size) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_quarantine(ns, view, gen, key, sizeof(key));
    redisReply *r = redisCommand(c, "HEXISTS %b %s", key, len, account);
    int rc = ledger_redis_reply_check(c, r, REDIS_REPLY_INTEGER, "HEXISTS", errstr, errstr_size);
    if (rc == 0)
        *quarantined = r->integer == 1;
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}
