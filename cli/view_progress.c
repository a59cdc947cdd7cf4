/*
 * view_progress.c - generations, checkpoints and quarantine of a view, read
 * from Redis (see view_progress.h).
 *
 * Plain commands, no function: these are reads for people and scripts,
 * and each value is checked on its own (a checkpoint that is not a number
 * is reported, not guessed).
 */
#include "view_progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errstr.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "redis.h"
#include "registry.h"

int view_progress_pick(const char *only, const char **names, int max, char *errstr,
                       size_t errstr_size) {
    if (only != NULL) {
        if (projector_registry_find(only) != NULL && max > 0) {
            names[0] = only;
            return 1;
        }
        char list[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < projector_registry_count() && used < sizeof(list); i++) {
            int n = snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "",
                             projector_registry_at(i)->name);
            used += n > 0 ? (size_t)n : 0;
        }
        ledger_errf(errstr, errstr_size, "invalid --view '%s': expected one of %s", only, list);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < projector_registry_count() && n < max; i++)
        names[n++] = projector_registry_at(i)->name;
    return n;
}

int view_progress_generations(redisContext *c, const char *ns, const char *view, int64_t *current,
                              int64_t *building, char *errstr, size_t errstr_size) {
    if (projector_query_generation(c, ns, view, current, errstr, errstr_size) != 0)
        return -1;
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_building(ns, view, key, sizeof(key));
    redisReply *r = redisCommand(c, "GET %b", key, len);
    if (ledger_redis_reply_check(c, r, -1, "GET", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    int rc = 0;
    *building = 0;
    if (r->type == REDIS_REPLY_STRING) {
        if (projector_keys_parse_int(r->str, r->len, building) != 0) {
            ledger_errf(errstr, errstr_size, "invalid generation in '%s'", key);
            rc = -1;
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        ledger_errf(errstr, errstr_size, "'%s' is not a string", key);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int view_progress_checkpoints(redisContext *c, const char *ns, const char *view, int64_t gen,
                              int32_t n, int64_t *out, char *errstr, size_t errstr_size) {
    if (n <= 0)
        return 0;
    char key[PROJECTOR_KEY_BUF];
    size_t key_len = projector_keys_checkpoints(ns, view, gen, key, sizeof(key));
    size_t argc = (size_t)n + 2;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    char(*fields)[12] = calloc((size_t)n, sizeof(*fields));
    redisReply *r = NULL;
    int rc = -1;
    if (argv == NULL || lens == NULL || fields == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = key_len;
    for (int32_t p = 0; p < n; p++) {
        int len = snprintf(fields[p], sizeof(fields[p]), "%d", (int)p);
        argv[2 + p] = fields[p];
        lens[2 + p] = (size_t)len;
    }
    r = redisCommandArgv(c, (int)argc, argv, lens);
    if (ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HMGET", errstr, errstr_size) != 0)
        goto cleanup;
    if (r->elements != (size_t)n) {
        ledger_errf(errstr, errstr_size, "unexpected reply to HMGET '%s'", key);
        goto cleanup;
    }
    for (int32_t p = 0; p < n; p++) {
        const redisReply *e = r->element[p];
        if (e->type == REDIS_REPLY_NIL) {
            out[p] = VIEW_PROGRESS_NONE;
        } else if (e->type != REDIS_REPLY_STRING ||
                   projector_keys_parse_int(e->str, e->len, &out[p]) != 0) {
            ledger_errf(errstr, errstr_size, "invalid checkpoint of partition %d in '%s'", (int)p,
                        key);
            goto cleanup;
        }
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

static int compare_elements(const void *a, const void *b) {
    const redisReply *x = *(const redisReply *const *)a;
    const redisReply *y = *(const redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->str, y->str, n);
    return d != 0 ? d : (x->len > y->len) - (x->len < y->len);
}

redisReply *view_progress_quarantined(redisContext *c, const char *ns, const char *view,
                                      int64_t gen, char *errstr, size_t errstr_size) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_quarantine(ns, view, gen, key, sizeof(key));
    redisReply *r = redisCommand(c, "HKEYS %b", key, len);
    if (ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HKEYS", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return NULL;
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            ledger_errf(errstr, errstr_size, "unexpected reply to HKEYS '%s'", key);
            freeReplyObject(r);
            return NULL;
        }
    }
    if (r->elements > 1)
        qsort(r->element, r->elements, sizeof(*r->element), compare_elements);
    return r;
}

int view_progress_reports(redisContext *c, const char *ns, const char *view, int64_t now_ms,
                          view_progress_report *out, char *errstr, size_t errstr_size) {
    *out = (view_progress_report){.rebuild_eta = -1};
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_progress(ns, view, key, sizeof(key));
    redisReply *r = redisCommand(c, "HVALS %b", key, len);
    if (ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HVALS", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        json_t *entry = json_loadb(e->str, e->len, 0, NULL);
        const char *kind = json_string_value(json_object_get(entry, "kind"));
        json_t *at = json_object_get(entry, "at_ms");
        if (kind != NULL && json_is_integer(at) &&
            now_ms - json_integer_value(at) <= VIEW_PROGRESS_FRESH_MS) {
            double rate = json_number_value(json_object_get(entry, "rate"));
            if (strcmp(kind, "rebuild") == 0) {
                json_t *eta = json_object_get(entry, "eta_seconds");
                out->rebuild = true;
                out->rebuild_rate = rate;
                out->rebuild_eta = json_is_number(eta) ? (int64_t)json_number_value(eta) : -1;
            } else {
                out->projectors++;
                out->rate += rate;
            }
        }
        json_decref(entry);
    }
    freeReplyObject(r);
    return 0;
}
