/*
 * test_producer_harness.h - what the ledger-producer integration suites
 * share: a fresh set of ledger topics per test (prefix "t<pid>-<random>."),
 * the built ledger-producer (LEDGER_PRODUCER_BIN) run as a child process
 * with its own group id and a log file, a plain client that writes Avro
 * Command records (and raw bytes) to the commands topic, and read_committed
 * readers of the results and events topics that keep everything they read.
 *
 * Every helper fails the calling Criterion test on error; every wait has a
 * deadline (PH_TIMEOUT_MS) and polls Kafka or the log file, never sleeps.
 */
#ifndef LEDGER_TEST_PRODUCER_HARNESS_H
#define LEDGER_TEST_PRODUCER_HARNESS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "command.h"
#include "event.h"
#include "kafka.h"
#include "result.h"

#define PH_PARTITIONS 6
#define PH_TIMEOUT_MS 60000

/* An event as read back, with where it was. */
typedef struct ph_event {
    ledger_event event;
    int32_t partition;
    int64_t offset;
} ph_event;

typedef struct ph_env {
    char prefix[64]; /* "t<pid>-<hex>." */
    char group[96];
    char topics[LEDGER_KAFKA_TOPIC_COUNT][LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec;
    rd_kafka_t *client;  /* writes to the commands topic */
    rd_kafka_t *results; /* reads the results topic */
    rd_kafka_t *events;  /* reads the events topic */
    ledger_result *result_log;
    size_t result_count, result_cap;
    ph_event *event_log;
    size_t event_count, event_cap;
    int64_t events_read_to[PH_PARTITIONS]; /* next offset per partition seen */
    pid_t pid;                             /* the running producer, 0 if none */
    char log_path[256];
} ph_env;

/* Creates the topics and the clients. */
void ph_setup(ph_env *env);

/* Kills a producer still running, closes the clients, deletes the topics. */
void ph_teardown(ph_env *env);

/* Starts ledger-producer with the test's brokers, prefix and group (and
 * LEDGER_LOG_LEVEL=debug) plus `args` (NULL-terminated, may be NULL), and
 * waits for its "ready" line. */
void ph_start(ph_env *env, const char *const *args);

/* SIGTERM, then asserts it exits 0 within the deadline. */
void ph_stop(ph_env *env);

/* The producer's log since it was first started (static buffer, NUL
 * terminated, the last 1 MiB at most). */
const char *ph_log(ph_env *env);

/* ---- commands ---- */

/* A command with `at` unset; amount in cents (the overdraft for open). */
ledger_command ph_cmd(ledger_command_type type, const char *id, const char *account, const char *to,
                      int64_t amount);

/* Writes the command keyed by its account (murmur2_random, like any
 * client) and waits for its delivery. */
void ph_send(ph_env *env, const ledger_command *cmd);

/* Writes n commands keyed by their accounts without waiting for each, then
 * waits until all are delivered. */
void ph_send_many(ph_env *env, const ledger_command *cmds, size_t n);

/* Writes raw bytes with `key` (NULL for none) to `partition` (or
 * RD_KAFKA_PARTITION_UA) of the commands topic; returns the offset it got. */
int64_t ph_send_raw(ph_env *env, const void *key, size_t key_len, int32_t partition,
                    const void *value, size_t len);

/* Waits for the n-th (1-based) result naming `command_id`; returns a copy. */
ledger_result ph_wait_result(ph_env *env, const char *command_id, int n);

/* Waits until at least `total` results have been read in all. */
void ph_wait_result_total(ph_env *env, size_t total);

/* How many results naming `command_id` have been read so far. */
int ph_result_count(ph_env *env, const char *command_id);

/* ph_send, then the next result for its id. */
ledger_result ph_do(ph_env *env, const ledger_command *cmd);

/* Asserts the result is a first-time rejection with `reason`. */
void ph_assert_rejected(const ledger_result *r, ledger_reason reason);

/* Asserts a first-time acceptance whose event has `type`, `account` and
 * `seq`, carries the command id, and sits at the result's position in the
 * events topic (read back and compared); returns the event read there. */
ph_event ph_assert_accepted(ph_env *env, const ledger_result *r, ledger_event_type type,
                            const char *account, int64_t seq);

/* ---- events ---- */

/* Reads events until the one at partition:offset has been read (so every
 * earlier event of that partition has too). */
void ph_wait_position(ph_env *env, int32_t partition, int64_t offset);

/* Reads events until `account` has at least `count`; returns how many it
 * has. */
size_t ph_wait_events(ph_env *env, const char *account, size_t count);

/* Copies the events of `account` read so far, in log order, into out (at
 * most max); returns how many there are. */
size_t ph_events_of(ph_env *env, const char *account, ph_event *out, size_t max);

/* Makes sure every event committed so far on `partition` has been read:
 * opens a fresh account of that partition and waits for its event. */
void ph_sync_partition(ph_env *env, int32_t partition);

/* An account name "<stem>-<n>" whose partition is `partition`. */
void ph_account_on(char *buf, size_t size, const char *stem, int32_t partition);

/* The partition of an account or command id key. */
int32_t ph_partition_of(const char *key);

/* Folds the events of `account` read so far (asserting seq 1, 2, 3, ...). */
account_state ph_fold(ph_env *env, const char *account);

#endif
