/*
 * test_projector_harness.h - what the projector integration tests share:
 * an isolated environment per test (topic prefix "t<pid>-<rand>." and Redis
 * namespace of the same name on the shared broker and Redis), projector
 * processes started as children with their log in a file, a random workload
 * of events produced transactionally with its expected fold computed by the
 * pure core, and waits on conditions with deadlines.
 *
 * Every helper fails the calling Criterion test on error. Child processes
 * die with the test process (PR_SET_PDEATHSIG), so a failed assertion
 * leaves nothing running.
 */
#ifndef LEDGER_TEST_PROJECTOR_HARNESS_H
#define LEDGER_TEST_PROJECTOR_HARNESS_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "codec.h"
#include "ids.h"

#define PT_PARTITIONS     6
#define PT_MAX_PARTITIONS 16

typedef struct pt_env {
    char topic_prefix[72]; /* "t<pid>-<rand>." */
    char events_topic[128];
    char redis_prefix[64]; /* "t<pid>-<rand>" */
    char redis_url[256];   /* LEDGER_TEST_REDIS_URL, or a test's own server */
    char brokers[256];
    char log_dir[64]; /* the children's logs; removed by pt_env_cleanup */
} pt_env;

/* A redis-server of the test's own, for faults the shared test Redis must
 * not see (killed, restarted, refusing writes): on `port`, its data in a
 * temporary folder, killed with the test process. */
typedef struct pt_own_redis {
    pid_t pid; /* 0: not running */
    int port;
    bool aof; /* appendonly everysec (a truncated AOF loads); else no persistence */
    char dir[64];
} pt_own_redis;

/* Makes its folder; does not start it. */
void pt_own_redis_init(pt_own_redis *r, int port, bool aof);

/* Starts it (again) and waits until it answers PING. */
void pt_own_redis_start(pt_own_redis *r);

/* SIGKILL, and waits for it to be gone. */
void pt_own_redis_kill(pt_own_redis *r);

/* Kills it and removes its folder. */
void pt_own_redis_destroy(pt_own_redis *r);

/* "redis://127.0.0.1:<port>/0". */
void pt_own_redis_url(const pt_own_redis *r, char *buf, size_t size);

/* A fresh prefix and namespace, and the events topic created with
 * PT_PARTITIONS partitions. */
void pt_env_init(pt_env *env);

/* Deletes the topics the test and its projectors created, every Redis key
 * of the namespace and the children's logs (best effort). A failed test
 * never gets here, so its logs stay for the diagnosis. */
void pt_env_cleanup(pt_env *env);

/* A connection to env->redis_url. */
redisContext *pt_redis(const pt_env *env);

/* ---- child processes ---- */

typedef struct pt_proc {
    pid_t pid;
    char log_path[160];
} pt_proc;

/* Starts PROJECTOR_BIN with argv (NULL-terminated, after the program name)
 * in an environment holding only the env's LEDGER_* settings (brokers,
 * topic prefix, redis url and prefix); stdout and stderr go to a log file. */
void pt_start_projector(pt_proc *proc, const pt_env *env, const char *const *argv);

/* The same, but the child runs fn(argc, argv) in a fork of the test (for a
 * view defined in the test) and exits with its result. */
void pt_start_function(pt_proc *proc, const pt_env *env, int (*fn)(int, char **),
                       const char *const *argv);

/* "<redis prefix>-<view>": a consumer group of the test's own. */
void pt_group_id(const pt_env *env, const char *view, char *buf, size_t size);

/* Replays the process's log ("partition P assigned ...", "partition P
 * revoked|lost") into owned[]; returns how many partitions it owns now. */
int pt_owned(const pt_proc *proc, bool owned[PT_PARTITIONS]);

/* How many times `needle` appears in the process's log so far. */
size_t pt_log_count(const pt_proc *proc, const char *needle);

/* Waits until `needle` appears at least `count` times in the log; fails
 * the test (showing the log's tail) after timeout_ms. */
void pt_wait_log(const pt_proc *proc, const char *needle, size_t count, int64_t timeout_ms);

/* Waits for the process to exit by itself; returns its exit status (-1 if
 * killed by a signal); fails the test after timeout_ms. */
int pt_wait_exit(pt_proc *proc, int64_t timeout_ms);

/* SIGTERM, then waits; returns the exit status (-1 if killed by a signal). */
int pt_stop(pt_proc *proc, int64_t timeout_ms);

/* SIGKILL and reap. */
void pt_kill(pt_proc *proc);

/* Prints the log to stderr (for a failing test's diagnosis). */
void pt_dump_log(const pt_proc *proc);

/* ---- workload ---- */

typedef struct pt_account {
    char name[LEDGER_ACCOUNT_BUF];
    int64_t seq;         /* events produced */
    account_state state; /* their fold: what the view must show */
    int32_t partition;
} pt_account;

typedef struct pt_workload {
    const pt_env *env;
    ledger_codec *codec;
    rd_kafka_t *producer; /* transactional */
    pt_account *accounts;
    size_t account_count;
    uint64_t rng;
    int64_t at_ms;
    int64_t last_offset[PT_MAX_PARTITIONS]; /* of the last event produced there, -1 */
    size_t delivered;
    size_t failed;
    /* the last event produced, as the delivery report placed it */
    int32_t last_partition;
    int64_t last_event_offset;
} pt_workload;

/* `accounts` accounts named "<name_prefix><i>", a transactional producer
 * with a unique transactional.id, and a random stream seeded with `seed`
 * (print it so a failure can be replayed). */
void pt_workload_init(pt_workload *w, const pt_env *env, size_t accounts, uint64_t seed,
                      const char *name_prefix);
void pt_workload_destroy(pt_workload *w);

/* Produces `count` events on random accounts in one transaction (each
 * account's first event opens it; then deposits, withdrawals and the three
 * kinds of transfer events, with contiguous seqs), waits for every delivery
 * and the commit, and folds them into the expected states. */
void pt_produce(pt_workload *w, size_t count);

/* Produces one event of `type` and `amount` on account i, in its own
 * transaction; sets w->last_partition / last_event_offset. */
void pt_produce_one(pt_workload *w, size_t i, int type, int64_t amount);

/* Sum of the view's checkpoints of generation 1 (absent = 0): a measure of
 * progress. */
int64_t pt_checkpoint_sum(const pt_env *env, redisContext *c, const char *view);

/* True when every partition's checkpoint of `view` (generation 1) is past
 * the last offset produced there. */
bool pt_applied(const pt_workload *w, redisContext *c, const char *view);

/* Waits until pt_applied, failing the test after timeout_ms. */
void pt_wait_applied(const pt_workload *w, redisContext *c, const char *view, int64_t timeout_ms);

/* Asserts that the balance view (generation 1) holds exactly the expected
 * state of every account, and no other account. */
void pt_assert_balance_view(const pt_workload *w, redisContext *c);

/* Every key and value of the namespace, as sorted "key=value" lines (hashes
 * as their sorted fields), for comparing snapshots. Caller frees. */
char *pt_redis_snapshot(const pt_env *env, redisContext *c);

int64_t pt_now_ms(void);

#endif
