/*
 * redis.c - Redis URL parsing and ready-to-use connections.
 *
 * The parser is a plain left-to-right scan over scheme, user info, host,
 * port and database, with one reason per way to get it wrong: a mistyped URL
 * is the most common way a deployment fails to start, and "expected
 * redis://host:port/db" or "invalid port '63790'" fixes it in one go.
 */
#include "redis.h"

#include "errstr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define URL_SHAPE "expected redis://host:port/db"

void ledger_redis_url_init(ledger_redis_url *url) {
    memset(url, 0, sizeof(*url));
    snprintf(url->host, sizeof(url->host), "127.0.0.1");
    url->port = 6379;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Copies [s, s+len) into out, decoding %XX. -1 when it does not fit, has a
 * bad escape, or decodes to a NUL. */
static int percent_decode(const char *s, size_t len, char *out, size_t out_size) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (o + 1 >= out_size)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* Digits only, value in [lo, hi]. */
static int parse_bounded(const char *s, size_t len, long lo, long hi, int *out) {
    if (len == 0 || len > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int ledger_redis_url_parse(const char *text, ledger_redis_url *url, char *errstr,
                           size_t errstr_size) {
    ledger_redis_url parsed;
    ledger_redis_url_init(&parsed);

    if (text == NULL || text[0] == '\0') {
        ledger_errf(errstr, errstr_size, URL_SHAPE);
        return -1;
    }
    if (strncmp(text, "rediss://", 9) == 0) {
        ledger_errf(errstr, errstr_size, "tls (rediss://) is not supported");
        return -1;
    }
    if (strncmp(text, "redis://", 8) != 0) {
        ledger_errf(errstr, errstr_size, URL_SHAPE);
        return -1;
    }
    const char *p = text + 8;
    const char *authority_end = p + strcspn(p, "/?#");

    /* user info: everything before the last '@' of the authority */
    const char *at = NULL;
    for (const char *q = p; q < authority_end; q++) {
        if (*q == '@')
            at = q;
    }
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pass = colon != NULL ? colon + 1 : p;
        if (colon != NULL &&
            percent_decode(p, (size_t)(colon - p), parsed.user, sizeof(parsed.user)) != 0) {
            ledger_errf(errstr, errstr_size, "invalid user: bad %%-escape or too long");
            return -1;
        }
        if (percent_decode(pass, (size_t)(at - pass), parsed.password, sizeof(parsed.password)) !=
            0) {
            ledger_errf(errstr, errstr_size, "invalid password: bad %%-escape or too long");
            return -1;
        }
        if (parsed.password[0] == '\0') {
            ledger_errf(errstr, errstr_size, "empty password before '@'");
            return -1;
        }
        parsed.has_password = true;
        p = at + 1;
    }

    /* host */
    const char *host_end;
    const char *after_host;
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(authority_end - p));
        if (host_end == NULL) {
            ledger_errf(errstr, errstr_size, "missing ']' after the IPv6 host");
            return -1;
        }
        p++;
        after_host = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        if (host_end > authority_end)
            host_end = authority_end;
        after_host = host_end;
    }
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0) {
        ledger_errf(errstr, errstr_size, "missing host; " URL_SHAPE);
        return -1;
    }
    if (host_len >= sizeof(parsed.host)) {
        ledger_errf(errstr, errstr_size, "host too long");
        return -1;
    }
    for (size_t i = 0; i < host_len; i++) {
        if (isspace((unsigned char)p[i]) || p[i] == '@' || p[i] == '[' || p[i] == ']') {
            ledger_errf(errstr, errstr_size, "invalid host '%.*s'", (int)host_len, p);
            return -1;
        }
    }
    memcpy(parsed.host, p, host_len);
    parsed.host[host_len] = '\0';
    p = after_host;

    /* port */
    if (*p == ':') {
        p++;
        size_t len = (size_t)(authority_end - p);
        if (parse_bounded(p, len, 1, 65535, &parsed.port) != 0) {
            ledger_errf(errstr, errstr_size, "invalid port '%.*s'", (int)len, p);
            return -1;
        }
        p = authority_end;
    } else if (p != authority_end) {
        ledger_errf(errstr, errstr_size, URL_SHAPE);
        return -1;
    }

    /* database */
    if (*p == '/') {
        p++;
        size_t len = strcspn(p, "?#");
        if (len > 0 && parse_bounded(p, len, 0, 1000000, &parsed.db) != 0) {
            ledger_errf(errstr, errstr_size, "invalid database '%.*s'", (int)len, p);
            return -1;
        }
        p += len;
    }
    if (*p != '\0') {
        ledger_errf(errstr, errstr_size, "unexpected '%s' at the end", p);
        return -1;
    }
    *url = parsed;
    return 0;
}

int ledger_redis_url_check(const char *value, char *why, size_t why_size) {
    ledger_redis_url url;
    return ledger_redis_url_parse(value, &url, why, why_size);
}

const char *ledger_redis_reply_type_name(int type) {
    switch (type) {
        case REDIS_REPLY_STRING:
            return "string";
        case REDIS_REPLY_ARRAY:
            return "array";
        case REDIS_REPLY_INTEGER:
            return "integer";
        case REDIS_REPLY_NIL:
            return "nil";
        case REDIS_REPLY_STATUS:
            return "status";
        case REDIS_REPLY_ERROR:
            return "error";
        default:
            return "unknown";
    }
}

int ledger_redis_reply_check(const redisContext *c, const redisReply *reply, int expected_type,
                             const char *what, char *errstr, size_t errstr_size) {
    if (what == NULL)
        what = "command";
    if (reply == NULL) {
        ledger_errf(errstr, errstr_size, "redis %s failed: %s", what,
                    c != NULL && c->err != 0 ? c->errstr : "no reply");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ledger_errf(errstr, errstr_size, "redis %s failed: %.*s", what, (int)reply->len,
                    reply->str);
        return -1;
    }
    if (expected_type >= 0 && reply->type != expected_type) {
        ledger_errf(errstr, errstr_size, "redis %s: expected a reply of type '%s', got '%s'", what,
                    ledger_redis_reply_type_name(expected_type),
                    ledger_redis_reply_type_name(reply->type));
        return -1;
    }
    return 0;
}

/* One command whose reply must be +OK; -1 with errstr otherwise. */
static int expect_ok(redisContext *c, redisReply *reply, const char *what, const char *where,
                     char *errstr, size_t errstr_size) {
    char why[512];
    int rc = ledger_redis_reply_check(c, reply, REDIS_REPLY_STATUS, what, why, sizeof(why));
    if (rc == 0 && strcmp(reply->str, "OK") != 0) {
        snprintf(why, sizeof(why), "redis %s: unexpected reply '%s'", what, reply->str);
        rc = -1;
    }
    if (rc != 0)
        ledger_errf(errstr, errstr_size, "%s at '%s'", why, where);
    freeReplyObject(reply);
    return rc;
}

redisContext *ledger_redis_connect(const ledger_redis_url *url, int timeout_ms, char *errstr,
                                   size_t errstr_size) {
    char where[LEDGER_REDIS_HOST_BUF + 16];
    bool v6 = strchr(url->host, ':') != NULL;
    snprintf(where, sizeof(where), "%s%s%s:%d", v6 ? "[" : "", url->host, v6 ? "]" : "", url->port);
    if (timeout_ms <= 0)
        timeout_ms = 1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

    redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
    if (c == NULL) {
        ledger_errf(errstr, errstr_size, "cannot connect to redis at '%s': out of memory", where);
        return NULL;
    }
    if (c->err != 0) {
        ledger_errf(errstr, errstr_size, "cannot connect to redis at '%s': %s", where, c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        ledger_errf(errstr, errstr_size, "cannot set the redis timeout at '%s': %s", where,
                    c->errstr);
        goto fail;
    }
    if (url->has_password) {
        redisReply *reply;
        if (url->user[0] != '\0')
            reply = redisCommand(c, "AUTH %s %s", url->user, url->password);
        else
            reply = redisCommand(c, "AUTH %s", url->password);
        if (expect_ok(c, reply, "AUTH", where, errstr, errstr_size) != 0)
            goto fail;
    }
    if (url->db != 0) {
        redisReply *reply = redisCommand(c, "SELECT %d", url->db);
        if (expect_ok(c, reply, "SELECT", where, errstr, errstr_size) != 0)
            goto fail;
    }
    return c;

fail:
    redisFree(c);
    return NULL;
}

redisContext *ledger_redis_connect_url(const char *url_text, int timeout_ms, char *errstr,
                                       size_t errstr_size) {
    ledger_redis_url url;
    char why[256];
    if (ledger_redis_url_parse(url_text, &url, why, sizeof(why)) != 0) {
        ledger_errf(errstr, errstr_size, "invalid redis url: %s", why);
        return NULL;
    }
    return ledger_redis_connect(&url, timeout_ms, errstr, errstr_size);
}
