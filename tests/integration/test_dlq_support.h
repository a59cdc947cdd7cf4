/*
 * test_dlq_support.h - what the DLQ and quarantine tests share, on top of
 * the projector harness (test_projector_harness.h): poison records produced
 * as raw bytes, the DLQ topic read back whole, the balance view compared
 * with an expected state, and the `ledger` CLI run in the test's namespace
 * with its JSON lines parsed.
 *
 * Every helper fails the calling Criterion test on error.
 */
#ifndef LEDGER_TEST_DLQ_SUPPORT_H
#define LEDGER_TEST_DLQ_SUPPORT_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "cli_run.h"
#include "test_projector_harness.h"

/* The environment `ledger` needs to see the test's topics and namespace. */
typedef struct dlq_cli_env {
    char vars[4][320];
    const char *env[5];
} dlq_cli_env;

void dlq_cli_env_init(dlq_cli_env *e, const pt_env *env);

/* Runs `ledger` with argv (NULL-terminated) in e's environment. */
void dlq_cli(cli_result *res, const dlq_cli_env *e, const char *const *argv);

/* The JSON objects of the output's lines (at most max); fails the test on a
 * line that is not a JSON object. The caller json_decrefs them. */
size_t dlq_json_lines(const char *text, json_t **lines, size_t max);

/* Produces one record as it is (key may be NULL; partition -1 picks it by
 * key) in a transaction of its own with the workload's producer. Sets the
 * position it landed at. */
void dlq_produce_raw(pt_workload *w, const void *key, size_t key_len, int32_t partition,
                     const void *value, size_t len, int32_t *at_partition, int64_t *at_offset);

/* Produces account i's next event (a deposit of `amount` cents, folded into
 * the workload's expected state like pt_produce_one) as a valid Avro frame
 * whose writer fingerprint is one no schema of the codec has: the record of
 * a schema this build does not know. Sets its position. */
void dlq_produce_unknown_schema(pt_workload *w, size_t i, int64_t amount, int32_t *at_partition,
                                int64_t *at_offset);

/* Produces a well-formed deposit of `amount` cents on account i that claims
 * seq `seq` although it is not part of the account's history (a buggy
 * writer's): not folded, and the account's next real event keeps its seq.
 * Sets its position. */
void dlq_produce_bogus_seq(pt_workload *w, size_t i, int64_t seq, int64_t amount,
                           int32_t *at_partition, int64_t *at_offset);

/* One record of the DLQ topic. */
typedef struct dlq_record {
    int32_t partition; /* in the DLQ topic */
    int64_t offset;
    bool key_null;
    char key[128];
    size_t key_len;
    unsigned char value[1024];
    size_t value_len;
    char source_topic[256]; /* headers ("" when missing) */
    int32_t source_partition;
    int64_t source_offset;
    char error[512];
    char view[64];
    char account[80];
} dlq_record;

/* Reads the whole DLQ topic of env (every partition to its end). Returns
 * how many records; *out is the caller's to free(). */
size_t dlq_read_topic(const pt_env *env, dlq_record **out);

/* How many records of the DLQ topic are copies of source position P:O. */
size_t dlq_copies(const dlq_record *records, size_t n, int32_t partition, int64_t offset);

/* The first DLQ record of source position P:O, or NULL. */
const dlq_record *dlq_find(const dlq_record *records, size_t n, int32_t partition, int64_t offset);

/* Waits until the DLQ topic has a copy of source position P:O (timeout_ms). */
void dlq_wait_copy(const pt_env *env, int32_t partition, int64_t offset, int64_t timeout_ms);

/* Asserts the balance view (generation 1) holds exactly `want` for account
 * `name`. */
void dlq_assert_balance(const pt_env *env, redisContext *c, const char *name,
                        const account_state *want);

/* The view's quarantine entry of `account` (generation 1) parsed, or NULL
 * when it is not quarantined. The caller json_decrefs it. */
json_t *dlq_quarantine_entry(const pt_env *env, redisContext *c, const char *view,
                             const char *account);

#endif
