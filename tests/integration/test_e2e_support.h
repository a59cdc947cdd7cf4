/*
 * test_e2e_support.h - what the end-to-end suites of the command side share:
 * the real ledger-producer (through the producer harness, test_producer_harness.h)
 * driven by the real `ledger` binary (through the CLI fixture's runner,
 * test_cli_fixture.h), plus what those two do not have:
 *
 *   - producer arguments that make restarts quick: a static group member
 *     (-X group.instance.id), a short session and transaction timeout, so
 *     a restarted or killed instance's partitions move in about a second
 *     instead of after its session expires;
 *   - the CLI's JSON lines parsed (jansson), money text read back to cents
 *     independently of the program;
 *   - full reads of a topic up to its current end (read_committed, a fresh
 *     consumer each time), decoded, for checks over the whole log;
 *   - the chunked snapshots of the snapshots topic put together from their
 *     records (independently of the producer's own reader);
 *   - `ledger submit` run in the background with its stdin fed as the test
 *     goes, and log files waited on.
 *
 * Every helper fails the calling Criterion test on error; every wait polls
 * a condition with a deadline (E2E_TIMEOUT_MS), never sleeps.
 */
#ifndef LEDGER_TEST_E2E_SUPPORT_H
#define LEDGER_TEST_E2E_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot.h"
#include "test_cli_fixture.h"
#include "test_producer_harness.h"

#define E2E_TIMEOUT_MS 60000

typedef struct e2e_env {
    ph_env ph; /* topics, the producer child, readers */
    char env_brokers[256];
    char env_prefix[96];
    const char *cli_env[3]; /* for the `ledger` runs */
} e2e_env;

/* ph_setup, and the environment the CLI runs with. */
void e2e_setup(e2e_env *e);
void e2e_teardown(e2e_env *e);

/* The producer arguments every suite starts with: group.instance.id
 * "<prefix>" + instance, session.timeout.ms=6000,
 * transaction.timeout.ms=3000, then `extra` (NULL-terminated, may be NULL).
 * argv is filled (at most `max` entries, NULL-terminated); the strings live
 * in `store` (at least 256 bytes). */
void e2e_producer_args(const e2e_env *e, const char *instance, const char *const *extra,
                       const char **argv, size_t max, char *store, size_t store_size);

/* ph_start with e2e_producer_args(instance "a"). */
void e2e_start(e2e_env *e, const char *const *extra);

/* ---- the CLI ---- */

/* Runs `ledger ARGV...` against the test's topics; `input` on stdin (NULL:
 * none). Free res with tcf_run_free. */
void e2e_ledger(e2e_env *e, tcf_run_result *res, const char *const *argv, const char *input);

/* Runs it, asserts the exit code, and parses its one line of stdout as a
 * JSON object (json_decref it). Exit 2 gives no stdout: then NULL. */
json_t *e2e_ledger_json(e2e_env *e, int want_exit, const char *const *argv);

/* A string member (asserted present). */
const char *e2e_str(const json_t *obj, const char *key);

/* An integer member (asserted present). */
int64_t e2e_int(const json_t *obj, const char *key);

/* The only event of an accepted result line (asserted: exactly one). */
const json_t *e2e_event(const json_t *result);

/* Money text "-12.50" to cents (the format of SPEC section 4, asserted). */
int64_t e2e_cents(const char *text);

/* "P:O" to partition and offset (asserted). */
void e2e_position(const char *text, int32_t *partition, int64_t *offset);

/* Asserts `result` is an accepted first-time result of `command_id` with
 * one event of `type` ("MoneyDeposited") on `account` at `seq`; returns
 * the event. */
const json_t *e2e_assert_accepted(const json_t *result, const char *command_id, const char *type,
                                  const char *account, int64_t seq);

/* Asserts a first-time rejection with `reason`. */
void e2e_assert_rejected(const json_t *result, const char *reason);

/* ---- whole topics ---- */

/* One record of a topic, as read back. */
typedef struct e2e_record {
    int32_t partition;
    int64_t offset;
    char key[160];
    size_t key_len;
    bool tombstone;
    uint8_t *value; /* malloc'd copy, NULL for a tombstone */
    size_t len;
    char epoch[32];  /* header ledger.snapshot.epoch, "" if none */
    char chunks[32]; /* header ledger.snapshot.chunks, "" if none */
} e2e_record;

typedef struct e2e_records {
    e2e_record *items;
    size_t count, cap;
} e2e_records;

/* Reads `topic` (PH_PARTITIONS partitions) from the beginning to its
 * current end, read_committed, into *out (initialised here). */
void e2e_read_topic(const char *topic, e2e_records *out);
void e2e_records_free(e2e_records *records);

/* An event of the events topic with where it was. */
typedef struct e2e_events {
    ph_event *items;
    size_t count;
} e2e_events;

/* Every committed event so far, decoded, in per-partition log order. */
void e2e_read_events(e2e_env *e, e2e_events *out);
void e2e_events_free(e2e_events *events);

/* Every committed result so far, decoded, in per-partition log order;
 * returns the count (*out malloc'd). */
size_t e2e_read_results(e2e_env *e, ledger_result **out);

/* Folds `account`'s events with the core's account_apply, asserting that
 * each applies (seq 1, 2, 3, ... without gap or repeat). */
account_state e2e_fold(const e2e_events *events, const char *account);

/* How many of the events are of `type` and carry `command_id`. */
size_t e2e_count_events(const e2e_events *events, const char *command_id, ledger_event_type type);

/* Waits until every TransferSent in the log has exactly one
 * TransferReceived or TransferReturned with its transfer id (asserting
 * never more than one), then leaves the last read in *out. */
void e2e_wait_transfers_settled(e2e_env *e, e2e_events *out);

/* The latest snapshot of each partition put together from its manifest
 * and chunks (asserting they are consistent: every chunk of the count
 * with the manifest's epoch, no live chunk key beyond it): snaps[p] has
 * events_offset -1 and no accounts when partition p has none, and
 * chunks[p] gets the count (0 for none). Release snaps with
 * ledger_snapshot_release. */
void e2e_read_snapshots(e2e_env *e, ledger_snapshot snaps[PH_PARTITIONS],
                        int chunks[PH_PARTITIONS]);

/* ---- processes and logs ---- */

/* `ledger submit` running in the background, fed through a pipe. */
typedef struct e2e_submit {
    pid_t pid;
    int in_fd;  /* its stdin */
    int out_fd; /* a temporary file holding its stdout */
    int err_fd;
} e2e_submit;

/* Starts `ledger submit ARGS...` (argv without "submit", NULL-terminated). */
void e2e_submit_start(e2e_env *e, e2e_submit *s, const char *const *argv);

/* Writes text to its stdin. */
void e2e_submit_write(e2e_submit *s, const char *text);

/* Closes its stdin and waits (deadline E2E_TIMEOUT_MS + timeout_ms) for it
 * to exit; fills res (exit code, stdout, stderr). */
void e2e_submit_finish(e2e_submit *s, int64_t timeout_ms, tcf_run_result *res);

/* How many lines its stdout holds so far. */
size_t e2e_submit_lines(e2e_submit *s);

/* The size of a file (0 if missing). */
int64_t e2e_file_size(const char *path);

/* The text of a file from byte `from` on (malloc'd, NUL-terminated). */
char *e2e_file_text(const char *path, int64_t from);

/* Waits until the file, from byte `from` on, contains `needle` (fails the
 * test after `timeout_ms`); `client` is polled as the pace between looks. */
void e2e_wait_file(const char *path, int64_t from, const char *needle, int timeout_ms,
                   rd_kafka_t *client);

#endif
