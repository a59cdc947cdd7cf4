/*
 * test_edge_redis_url.c - redis://[user:password@]host:port/db parsing: the
 * accepted shapes (with the defaults redis-cli -u applies) and one clear
 * reason for each way to get it wrong. No server is involved.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "redis.h"

typedef struct good_case {
    const char *text;
    const char *host;
    int port;
    int db;
    const char *user;
    const char *password; /* NULL: none */
} good_case;

Test(redis_url, accepts_the_documented_shapes) {
    static const good_case cases[] = {
        {"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, "", NULL},
        {"redis://cache.internal:16379/3", "cache.internal", 16379, 3, "", NULL},
        {"redis://localhost", "localhost", 6379, 0, "", NULL},
        {"redis://localhost/", "localhost", 6379, 0, "", NULL},
        {"redis://localhost:7000", "localhost", 7000, 0, "", NULL},
        {"redis://:s3cret@h:1/2", "h", 1, 2, "", "s3cret"},
        {"redis://s3cret@h:1/2", "h", 1, 2, "", "s3cret"},
        {"redis://ledger:p%40ss%3Aword@h:65535/15", "h", 65535, 15, "ledger", "p@ss:word"},
        {"redis://[::1]:6380/1", "::1", 6380, 1, "", NULL},
        {"redis://u:p@[fe80::1]/4", "fe80::1", 6379, 4, "u", "p"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const good_case *c = &cases[i];
        ledger_redis_url url;
        char why[256] = "";
        cr_assert_eq(ledger_redis_url_parse(c->text, &url, why, sizeof(why)), 0, "%s: %s", c->text,
                     why);
        cr_assert_str_eq(url.host, c->host, "%s", c->text);
        cr_assert_eq(url.port, c->port, "%s", c->text);
        cr_assert_eq(url.db, c->db, "%s", c->text);
        cr_assert_str_eq(url.user, c->user, "%s", c->text);
        cr_assert_eq(url.has_password, c->password != NULL, "%s", c->text);
        if (c->password != NULL)
            cr_assert_str_eq(url.password, c->password, "%s", c->text);
    }
}

typedef struct bad_case {
    const char *text;
    const char *why;
} bad_case;

Test(redis_url, rejects_with_a_reason) {
    static const bad_case cases[] = {
        {"foo", "expected redis://host:port/db"},
        {"", "expected redis://host:port/db"},
        {"http://h:6379/0", "expected redis://host:port/db"},
        {"127.0.0.1:6379", "expected redis://host:port/db"},
        {"rediss://h:6379/0", "tls (rediss://) is not supported"},
        {"redis://", "missing host; expected redis://host:port/db"},
        {"redis://:6379/0", "missing host; expected redis://host:port/db"},
        {"redis://h:0/0", "invalid port '0'"},
        {"redis://h:65536/0", "invalid port '65536'"},
        {"redis://h:abc/0", "invalid port 'abc'"},
        {"redis://h:/0", "invalid port ''"},
        {"redis://h:6379/x", "invalid database 'x'"},
        {"redis://h:6379/-1", "invalid database '-1'"},
        {"redis://h:6379/0?timeout=1", "unexpected '?timeout=1' at the end"},
        {"redis://:@h:6379/0", "empty password before '@'"},
        {"redis://u:%zz@h/0", "invalid password: bad %-escape or too long"},
        {"redis://[::1:6379/0", "missing ']' after the IPv6 host"},
        {"redis://[::1]x/0", "expected redis://host:port/db"},
        {"redis://a b:1/0", "invalid host 'a b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ledger_redis_url url;
        ledger_redis_url_init(&url);
        char why[256] = "";
        cr_assert_eq(ledger_redis_url_parse(cases[i].text, &url, why, sizeof(why)), -1,
                     "'%s' accepted", cases[i].text);
        cr_assert_str_eq(why, cases[i].why, "'%s'", cases[i].text);
        /* The caller's value is untouched on failure. */
        cr_assert_str_eq(url.host, "127.0.0.1");
        cr_assert_eq(url.port, 6379);
    }
}

Test(redis_url, check_is_the_parser_for_the_config_table) {
    char why[256] = "";
    cr_assert_eq(ledger_redis_url_check("redis://h:1/0", why, sizeof(why)), 0);
    cr_assert_eq(ledger_redis_url_check("redis://h:99999/0", why, sizeof(why)), -1);
    cr_assert_str_eq(why, "invalid port '99999'");
}

Test(redis_reply, check_reports_null_error_and_type_mismatch) {
    char errstr[256];
    cr_assert_eq(ledger_redis_reply_check(NULL, NULL, -1, "GET", errstr, sizeof(errstr)), -1);
    cr_assert_str_eq(errstr, "redis GET failed: no reply");

    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "WRONGTYPE nope", .len = 14};
    cr_assert_eq(ledger_redis_reply_check(NULL, &err, -1, "GET", errstr, sizeof(errstr)), -1);
    cr_assert_str_eq(errstr, "redis GET failed: WRONGTYPE nope");

    redisReply num = {.type = REDIS_REPLY_INTEGER, .integer = 3};
    cr_assert_eq(
        ledger_redis_reply_check(NULL, &num, REDIS_REPLY_ARRAY, "HGETALL", errstr, sizeof(errstr)),
        -1);
    cr_assert_str_eq(errstr, "redis HGETALL: expected a reply of type 'array', got 'integer'");
    cr_assert_eq(
        ledger_redis_reply_check(NULL, &num, REDIS_REPLY_INTEGER, "DEL", errstr, sizeof(errstr)),
        0);
}
