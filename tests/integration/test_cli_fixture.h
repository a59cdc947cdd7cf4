/*
 * test_cli_fixture.h - what the `ledger` command-side tests share: a fresh
 * set of ledger topics under a prefix of their own ("t<pid>-<rand>."), the
 * built binary run with stdin and large captured output, and a fake
 * producer service (a thread that reads the commands topic and writes
 * results the test chooses), so the CLI is tested without ledger-producer.
 *
 * Helpers fail the calling Criterion test on error, except inside the
 * responder thread, which records its failure for the test to assert.
 */
#ifndef LEDGER_TEST_CLI_FIXTURE_H
#define LEDGER_TEST_CLI_FIXTURE_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "command.h"
#include "kafka.h"
#include "result.h"

#define TCF_PARTITIONS 6

/* A test's own ledger topics and the environment that points the CLI at
 * them. */
typedef struct tcf_topics {
    char prefix[64];
    char names[LEDGER_KAFKA_TOPIC_COUNT][LEDGER_KAFKA_TOPIC_NAME_BUF];
    char env_brokers[256];
    char env_prefix[96];
    const char *env[3]; /* LEDGER_BROKERS=..., LEDGER_TOPIC_PREFIX=..., NULL */
} tcf_topics;

/* Creates the five topics (TCF_PARTITIONS each) under a fresh prefix. */
void tcf_topics_create(tcf_topics *t);

/* Deletes them, best effort. */
void tcf_topics_delete(tcf_topics *t);

/* A finished run of the binary. out/err are malloc'd and NUL-terminated. */
typedef struct tcf_run_result {
    int exit_code; /* -1 when it did not exit normally */
    char *out;
    char *err;
    int64_t elapsed_ms;
} tcf_run_result;

/* Runs LEDGER_BIN with argv (NULL-terminated, without the program name),
 * only the LEDGER_* variables of env (NULL-terminated, may be NULL), and
 * `input` on stdin (NULL: empty). */
void tcf_run(tcf_run_result *res, const char *const *argv, const char *const *env,
             const char *input);
void tcf_run_free(tcf_run_result *res);

/* The sum of the high watermarks of a topic's partitions (its record
 * count, for a topic nobody deletes from). */
int64_t tcf_topic_size(const char *topic);

/* A record read back from a topic. */
typedef struct tcf_record {
    int32_t partition;
    int64_t offset;
    char key[256];
    size_t key_len;
    uint8_t value[2048];
    size_t value_len;
} tcf_record;

/* Reads every record of `topic` (TCF_PARTITIONS partitions) from the
 * beginning to the current end into out (at most max). Returns the count. */
size_t tcf_read_topic(const char *topic, tcf_record *out, size_t max);

/* Produces `value` with `key` to an explicit partition and waits for it.
 * Returns the offset it got. */
int64_t tcf_produce(const char *topic, int32_t partition, const char *key, const void *value,
                    size_t len);

/* ---- the fake producer service ---- */

typedef enum tcf_order {
    TCF_IN_ORDER, /* answer each command as it comes */
    TCF_REVERSE,  /* wait for `expect` commands, answer the last first */
    TCF_SHUFFLE,  /* wait for `expect` commands, answer in a random order */
} tcf_order;

/* Fills the result for a command (already initialised with its id). */
typedef void (*tcf_answer_fn)(const ledger_command *command, size_t index, ledger_result *result);

#define TCF_MAX_COMMANDS 512

typedef struct tcf_responder {
    /* set by the test */
    const tcf_topics *topics;
    tcf_order order;
    size_t expect;   /* how many commands to wait for */
    long skip_index; /* the index of a command left unanswered, or -1 */
    bool noise;      /* write others' results on the same partition around each answer */
    tcf_answer_fn answer;
    /* filled by the thread */
    ledger_command commands[TCF_MAX_COMMANDS];
    tcf_record records[TCF_MAX_COMMANDS];
    size_t received;
    size_t answered;
    char failure[512]; /* "" unless the thread failed */
    /* private */
    pthread_t thread;
    ledger_codec *codec;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
} tcf_responder;

/* Assigns the service's consumer to the commands topic from offset 0, then
 * starts its thread. */
void tcf_responder_start(tcf_responder *r);

/* Joins the thread (it stops after answering `expect` commands or after
 * 20 s) and fails the test if it recorded a failure. */
void tcf_responder_join(tcf_responder *r);

/* An accepted result carrying `event` at position P:O. */
void tcf_accept(ledger_result *result, const ledger_event *event, int32_t partition,
                int64_t offset);

/* A random UUID v4 into out. */
void tcf_uuid(char out[LEDGER_UUID_BUF]);

/* A command id other than `not` whose result partition is `partition`. */
void tcf_id_on_partition(char *out, size_t size, int32_t partition, const char * not );

#endif
