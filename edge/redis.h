/*
 * redis.h - Redis URLs and connections for the programs (hiredis 0.14).
 *
 * A Redis server is named by one URL, redis://[user:password@]host:port/db
 * (as redis-cli -u takes it: the port defaults to 6379, the database to 0,
 * "redis://:password@host" and "redis://password@host" give a password
 * alone, %XX escapes are decoded in the user and password, and an IPv6
 * host is written in brackets). Connecting applies the connect timeout to
 * every later command too, then authenticates and selects the database, so
 * a caller gets a context that is ready or a message saying what failed.
 */
#ifndef LEDGER_REDIS_H
#define LEDGER_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define LEDGER_REDIS_HOST_BUF     256
#define LEDGER_REDIS_USER_BUF     128
#define LEDGER_REDIS_PASSWORD_BUF 256

typedef struct ledger_redis_url {
    char host[LEDGER_REDIS_HOST_BUF]; /* without the IPv6 brackets */
    int port;                         /* 1..65535 */
    int db;                           /* 0.. */
    char user[LEDGER_REDIS_USER_BUF]; /* "" = none (the default user) */
    char password[LEDGER_REDIS_PASSWORD_BUF];
    bool has_password;
} ledger_redis_url;

/* Sets url to 127.0.0.1:6379, database 0, no user, no password. */
void ledger_redis_url_init(ledger_redis_url *url);

/* Parses `text` into the caller's `url`. Returns 0, or -1 with the reason
 * alone in errstr (the caller names the subject), e.g. "expected
 * redis://host:port/db", "invalid port '99999'", "tls (rediss://) is not
 * supported". */
int ledger_redis_url_parse(const char *text, ledger_redis_url *url, char *errstr,
                           size_t errstr_size);

/* ledger_redis_url_parse as a config check (config.h ledger_config_check_fn). */
int ledger_redis_url_check(const char *value, char *why, size_t why_size);

/* Connects with a timeout (used for the connection and for every command
 * afterwards), sends AUTH when the URL has a password and SELECT when the
 * database is not 0. Returns a context the caller owns (free it with
 * redisFree), or NULL with errstr saying what failed, e.g. "cannot connect to
 * redis at '127.0.0.1:6379': Connection refused". */
redisContext *ledger_redis_connect(const ledger_redis_url *url, int timeout_ms, char *errstr,
                                   size_t errstr_size);

/* Parses `url_text` and connects: the two calls above. */
redisContext *ledger_redis_connect_url(const char *url_text, int timeout_ms, char *errstr,
                                       size_t errstr_size);

/* Checks a reply from redisCommand/redisGetReply: returns 0 when `reply` is
 * not NULL, not an error and, if `expected_type` >= 0, of that REDIS_REPLY_*
 * type. Otherwise -1 with errstr: the context's error when reply is NULL
 * (the connection is then unusable), the server's error text, or the type
 * mismatch. `what` names the operation in the message ("HGETALL"). The reply
 * is not freed. */
int ledger_redis_reply_check(const redisContext *c, const redisReply *reply, int expected_type,
                             const char *what, char *errstr, size_t errstr_size);

/* "string", "array", "integer", "nil", "status", "error" or "unknown". */
const char *ledger_redis_reply_type_name(int type);

#endif
