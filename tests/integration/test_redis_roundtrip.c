/*
 * test_redis_roundtrip.c - against the real redis-server in
 * LEDGER_TEST_REDIS_URL: connecting (timeout, SELECT, AUTH failure, a clear
 * message when nothing listens), binary-safe values and keys through %b,
 * hashes through HSET/HGETALL, and pipelining (N appended commands, then N
 * replies in order).
 *
 * Every test writes under its own key prefix (pid and a random suffix) and
 * removes its keys at the end, checking that none is left.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "redis.h"

#define TIMEOUT_MS 5000

static const char *test_url(void) {
    const char *url = getenv("LEDGER_TEST_REDIS_URL");
    cr_assert(url != NULL && url[0] != '\0',
              "LEDGER_TEST_REDIS_URL is not set: export the test server's URL (scripts/test sets "
              "it, e.g. redis://127.0.0.1:16379/0)");
    return url;
}

static redisContext *connect_test(void) {
    char errstr[512];
    redisContext *c = ledger_redis_connect_url(test_url(), TIMEOUT_MS, errstr, sizeof(errstr));
    cr_assert_not_null(c, "%s", errstr);
    return c;
}

static void make_prefix(char *buf, size_t size) {
    uint32_t r = 0;
    cr_assert_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
    snprintf(buf, size, "ledger-test:%d:%08x:", (int)getpid(), r);
}

/* Deletes every key under prefix (SCAN, then DEL by exact bytes) and
 * returns how many keys remain afterwards (it should be 0). */
static long long cleanup_prefix(redisContext *c, const char *prefix) {
    char errstr[512];
    char pattern[128];
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    for (int pass = 0; pass < 2; pass++) {
        long long seen = 0;
        char cursor[32] = "0";
        do {
            redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
            cr_assert_eq(
                ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "SCAN", errstr, sizeof(errstr)),
                0, "%s", errstr);
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            redisReply *keys = r->element[1];
            for (size_t i = 0; i < keys->elements; i++) {
                seen++;
                if (pass == 0) {
                    redisReply *d = redisCommand(c, "DEL %b", keys->element[i]->str,
                                                 (size_t)keys->element[i]->len);
                    cr_assert_eq(ledger_redis_reply_check(c, d, REDIS_REPLY_INTEGER, "DEL", errstr,
                                                          sizeof(errstr)),
                                 0, "%s", errstr);
                    freeReplyObject(d);
                }
            }
            freeReplyObject(r);
        } while (strcmp(cursor, "0") != 0);
        if (pass == 1)
            return seen;
    }
    return -1;
}

/* ---- connecting ---- */

Test(redis_connect, nothing_listening_gives_a_clear_message) {
    char errstr[512];
    redisContext *c =
        ledger_redis_connect_url("redis://127.0.0.1:1/0", 1000, errstr, sizeof(errstr));
    cr_assert_null(c);
    cr_assert(strncmp(errstr, "cannot connect to redis at '127.0.0.1:1': ", 42) == 0, "%s", errstr);
}

Test(redis_connect, bad_url_is_refused_before_connecting) {
    char errstr[512];
    cr_assert_null(ledger_redis_connect_url("foo", 1000, errstr, sizeof(errstr)));
    cr_assert_str_eq(errstr, "invalid redis url: expected redis://host:port/db");
}

Test(redis_connect, database_of_the_url_is_selected) {
    ledger_redis_url url;
    char errstr[512];
    cr_assert_eq(ledger_redis_url_parse(test_url(), &url, errstr, sizeof(errstr)), 0, "%s", errstr);
    char prefix[64], key[96];
    make_prefix(prefix, sizeof(prefix));
    snprintf(key, sizeof(key), "%sdb", prefix);

    int other_db = url.db == 1 ? 2 : 1;
    ledger_redis_url other = url;
    other.db = other_db;
    redisContext *in_other = ledger_redis_connect(&other, TIMEOUT_MS, errstr, sizeof(errstr));
    cr_assert_not_null(in_other, "%s", errstr);
    redisContext *in_test = ledger_redis_connect(&url, TIMEOUT_MS, errstr, sizeof(errstr));
    cr_assert_not_null(in_test, "%s", errstr);

    redisReply *r = redisCommand(in_other, "SET %s here", key);
    cr_assert_eq(
        ledger_redis_reply_check(in_other, r, REDIS_REPLY_STATUS, "SET", errstr, sizeof(errstr)), 0,
        "%s", errstr);
    freeReplyObject(r);
    r = redisCommand(in_test, "EXISTS %s", key);
    cr_assert_eq(
        ledger_redis_reply_check(in_test, r, REDIS_REPLY_INTEGER, "EXISTS", errstr, sizeof(errstr)),
        0, "%s", errstr);
    cr_assert_eq(r->integer, 0, "a key written in db %d is visible in db %d", other_db, url.db);
    freeReplyObject(r);
    r = redisCommand(in_other, "EXISTS %s", key);
    cr_assert_eq(r->integer, 1);
    freeReplyObject(r);

    cr_assert_eq(cleanup_prefix(in_other, prefix), 0);
    redisFree(in_other);
    redisFree(in_test);
}

Test(redis_connect, auth_is_sent_and_its_failure_reported) {
    /* The test server has no password, so an AUTH must be refused: this
     * proves the password of the URL is sent and the refusal surfaces. */
    ledger_redis_url url;
    char errstr[512];
    cr_assert_eq(ledger_redis_url_parse(test_url(), &url, errstr, sizeof(errstr)), 0);
    url.has_password = true;
    snprintf(url.password, sizeof(url.password), "not-the-password");
    redisContext *c = ledger_redis_connect(&url, TIMEOUT_MS, errstr, sizeof(errstr));
    cr_assert_null(c, "AUTH with a wrong password was accepted");
    cr_assert(strncmp(errstr, "redis AUTH failed: ", 19) == 0, "%s", errstr);
}

/* ---- round trips ---- */

Test(redis_roundtrip, binary_values_and_keys_survive_percent_b) {
    redisContext *c = connect_test();
    char errstr[512];
    char prefix[64];
    make_prefix(prefix, sizeof(prefix));

    /* A key with a NUL and a value with NULs, high bytes and CR LF (which
     * would break an inline protocol). */
    char key[128];
    size_t plen = strlen(prefix);
    memcpy(key, prefix, plen);
    static const char key_tail[] = {'b', 'i', 'n', 0x00, 'k', 'e', 'y'};
    memcpy(key + plen, key_tail, sizeof(key_tail));
    size_t key_len = plen + sizeof(key_tail);
    unsigned char value[300];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (unsigned char)(i * 7);
    value[0] = 0x00;
    value[1] = '\r';
    value[2] = '\n';

    redisReply *r = redisCommand(c, "SET %b %b", key, key_len, value, sizeof(value));
    cr_assert_eq(ledger_redis_reply_check(c, r, REDIS_REPLY_STATUS, "SET", errstr, sizeof(errstr)),
                 0, "%s", errstr);
    freeReplyObject(r);

    r = redisCommand(c, "GET %b", key, key_len);
    cr_assert_eq(ledger_redis_reply_check(c, r, REDIS_REPLY_STRING, "GET", errstr, sizeof(errstr)),
                 0, "%s", errstr);
    cr_assert_eq((size_t)r->len, sizeof(value));
    cr_assert_eq(memcmp(r->str, value, sizeof(value)), 0, "value bytes differ");
    freeReplyObject(r);

    /* The key up to its NUL is another key, which does not exist. */
    r = redisCommand(c, "EXISTS %b", key, plen + 3);
    cr_assert_eq(r->integer, 0);
    freeReplyObject(r);

    cr_assert_eq(cleanup_prefix(c, prefix), 0, "keys left under '%s'", prefix);
    redisFree(c);
}

Test(redis_roundtrip, hash_fields_come_back_from_hgetall) {
    redisContext *c = connect_test();
    char errstr[512];
    char prefix[64], key[96];
    make_prefix(prefix, sizeof(prefix));
    snprintf(key, sizeof(key), "%shash", prefix);

    static const struct {
        const char *field;
        size_t field_len;
        const char *value;
        size_t value_len;
    } fields[] = {
        {"balance", 7, "1050", 4},
        {"status", 6, "open", 4},
        {"bin\0field", 9, "v\0a\0l", 5},
        {"empty", 5, "", 0},
    };
    const size_t n = sizeof(fields) / sizeof(fields[0]);
    for (size_t i = 0; i < n; i++) {
        redisReply *r = redisCommand(c, "HSET %s %b %b", key, fields[i].field, fields[i].field_len,
                                     fields[i].value, fields[i].value_len);
        cr_assert_eq(
            ledger_redis_reply_check(c, r, REDIS_REPLY_INTEGER, "HSET", errstr, sizeof(errstr)), 0,
            "%s", errstr);
        cr_assert_eq(r->integer, 1, "field %zu was not new", i);
        freeReplyObject(r);
    }

    redisReply *r = redisCommand(c, "HGETALL %s", key);
    cr_assert_eq(
        ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HGETALL", errstr, sizeof(errstr)), 0,
        "%s", errstr);
    cr_assert_eq(r->elements, 2 * n);
    int seen[4] = {0};
    for (size_t e = 0; e < r->elements; e += 2) {
        const redisReply *f = r->element[e], *v = r->element[e + 1];
        size_t match = n;
        for (size_t i = 0; i < n; i++) {
            if ((size_t)f->len == fields[i].field_len &&
                memcmp(f->str, fields[i].field, fields[i].field_len) == 0)
                match = i;
        }
        cr_assert_lt(match, n, "unknown field '%.*s'", (int)f->len, f->str);
        cr_assert_not(seen[match], "field %zu twice", match);
        seen[match] = 1;
        cr_assert_eq((size_t)v->len, fields[match].value_len, "field %zu", match);
        cr_assert_eq(memcmp(v->str, fields[match].value, fields[match].value_len), 0,
                     "field %zu value differs", match);
    }
    freeReplyObject(r);

    cr_assert_eq(cleanup_prefix(c, prefix), 0, "keys left under '%s'", prefix);
    redisFree(c);
}

Test(redis_roundtrip, pipelined_replies_come_back_in_order) {
    redisContext *c = connect_test();
    char errstr[512];
    char prefix[64];
    make_prefix(prefix, sizeof(prefix));
    enum { N = 500 };

    /* N writes appended without waiting, then N replies. */
    for (int i = 0; i < N; i++) {
        char key[96], value[32];
        snprintf(key, sizeof(key), "%sp:%d", prefix, i);
        int vlen = snprintf(value, sizeof(value), "v%d", i * 3);
        cr_assert_eq(redisAppendCommand(c, "SET %s %b", key, value, (size_t)vlen), REDIS_OK);
    }
    for (int i = 0; i < N; i++) {
        void *reply = NULL;
        cr_assert_eq(redisGetReply(c, &reply), REDIS_OK, "reply %d: %s", i, c->errstr);
        cr_assert_eq(
            ledger_redis_reply_check(c, reply, REDIS_REPLY_STATUS, "SET", errstr, sizeof(errstr)),
            0, "%s", errstr);
        freeReplyObject(reply);
    }

    /* N reads, pipelined as well: reply i must be value i. */
    for (int i = 0; i < N; i++) {
        char key[96];
        snprintf(key, sizeof(key), "%sp:%d", prefix, i);
        cr_assert_eq(redisAppendCommand(c, "GET %s", key), REDIS_OK);
    }
    for (int i = 0; i < N; i++) {
        void *reply = NULL;
        cr_assert_eq(redisGetReply(c, &reply), REDIS_OK, "reply %d: %s", i, c->errstr);
        redisReply *r = reply;
        cr_assert_eq(
            ledger_redis_reply_check(c, r, REDIS_REPLY_STRING, "GET", errstr, sizeof(errstr)), 0,
            "%s", errstr);
        char want[32];
        snprintf(want, sizeof(want), "v%d", i * 3);
        cr_assert_eq((size_t)r->len, strlen(want));
        cr_assert_eq(memcmp(r->str, want, strlen(want)), 0, "reply %d is '%.*s', want '%s'", i,
                     (int)r->len, r->str, want);
        freeReplyObject(r);
    }

    cr_assert_eq(cleanup_prefix(c, prefix), 0, "keys left under '%s'", prefix);
    redisFree(c);
}
