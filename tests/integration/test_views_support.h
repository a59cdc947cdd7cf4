/*
 * test_views_support.h - what the views' integration tests share: a world of
 * their own on the shared broker and Redis (a unique topic prefix and Redis
 * namespace per test), events produced straight into its events topic as
 * the producer would write them (Avro single-object, key = account,
 * murmur2 partitioner), `ledger-projector` processes run as children, a
 * wait for the views to apply everything produced, and the `ledger` CLI run
 * against the same namespace. Every helper fails the calling test on error.
 *
 * The broker and Redis come from LEDGER_TEST_BROKERS and
 * LEDGER_TEST_REDIS_URL; the binaries from LEDGER_BIN and
 * LEDGER_PROJECTOR_BIN (set by CMake).
 */
#ifndef LEDGER_TEST_VIEWS_SUPPORT_H
#define LEDGER_TEST_VIEWS_SUPPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli_run.h"
#include "event.h"

#define VW_MAX_PARTITIONS 8
#define VW_MAX_PROJECTORS 4
#define VW_MAX_ENV        8

typedef struct vw_world vw_world;

/* Creates the ledger's topics under a new prefix with `partitions`
 * partitions and picks a new Redis namespace. */
vw_world *vw_world_new(int partitions);

/* Stops the projectors (SIGTERM; each must exit 0), deletes the topics and
 * every Redis key of the namespace. */
void vw_world_destroy(vw_world *w);

/* Destroys every world of this test not destroyed yet: a suite's .fini, so
 * a failed assertion leaves nothing behind on the shared services. */
void vw_cleanup(void);

const char *vw_redis_prefix(const vw_world *w);

/* Produces the events (in order; each to its account's partition) and
 * waits for every delivery. The partition and offset of the last event are
 * written to *partition / *offset when not NULL. */
void vw_produce(vw_world *w, const ledger_event *events, size_t n, int32_t *partition,
                int64_t *offset);

/* Starts `ledger-projector --view view` with the world's settings and, in
 * its environment, the NAME=VALUE strings of env (NULL-terminated, may be
 * NULL). Its stderr goes to a log file named in failure messages. */
void vw_start_projector(vw_world *w, const char *view, const char *const *env);

/* Waits (polling Redis, up to timeout_ms) until `view`'s current generation
 * has applied every event produced so far. */
void vw_wait_applied(vw_world *w, const char *view, int64_t timeout_ms);

/* A new connection to the world's Redis (the caller frees it with
 * redisFree), to plant or inspect keys under vw_redis_prefix. */
struct redisContext *vw_redis(const vw_world *w);

/* Runs `ledger argv...` with the world's Redis URL and namespace. */
void vw_cli(vw_world *w, cli_result *res, const char *const *argv);

/* Parses one JSON line of output, failing the test when it is not exactly
 * one JSON value followed by a newline. */
json_t *vw_parse_line(const char *out);

/* Milliseconds since the epoch of an RFC 3339 time. */
int64_t vw_at(const char *rfc3339);

#endif
