/*
 * dlq.h - poison records, quarantine and the dead-letter queue (SPEC section
 * 7, third guarantee): what the runtime does with a record it cannot apply,
 * and how `ledger dlq retry|skip` applies it later.
 *
 * A record that cannot be decoded, or whose account's stored state cannot
 * take it (apply_account fails, e.g. a seq gap), is never dropped and never
 * stops its partition:
 *
 *   1. it is produced, as it is (original key and bytes), to
 *      <prefix>events.dlq with the headers source.topic, source.partition,
 *      source.offset, error, view (and account, the account it is held
 *      under), and the runtime waits for the broker's acknowledgement;
 *   2. then ONE ledger_apply call writes, with the batch's other accounts
 *      and the partition's new checkpoint (past the record):
 *        <ns>:<view>:g<gen>:quarantine        account -> {"partition":P,"offset":O,"error":"..."}
 *                                             (the first record of the account that failed)
 *        <ns>:<view>:g<gen>:dlq:{<account>}   "P:O" -> {"state":"held","error":"...","dlq":"DP:DO"}
 *                                             "version" -> bumped on every change
 *   3. while the account is quarantined, each of its later records takes
 *      the same way (error "held: account quarantined"), so the view never
 *      shows a state that skipped an event; every other account flows on.
 *
 * A record whose key is not an account id is held under the pseudo account
 * "?<partition>" (it cannot be any account's event).
 *
 * The Redis hashes, not the DLQ topic, say what is held: they change in the
 * same atomic call as the checkpoint, so a crash between the produce and the
 * call leaves at most an extra copy in the topic (produced again when the
 * record comes round again), which nothing lists: at least once in the
 * topic, exactly once in `ledger dlq list`. A held entry names the DLQ
 * position of the copy that was recorded, which is where `ledger dlq retry`
 * fetches the bytes.
 *
 * Resolving (projector_dlq_resolve, run by the `ledger` CLI): the account's
 * held records are decoded with the current codec and folded, in source
 * order, into the account's stored state by the view's own apply_account;
 * the writes, the entries' new states ("applied", "skipped") and the release
 * from quarantine (or the new first failing record) are one ledger_apply
 * call guarded by the quarantine entry and the held hash's version that the
 * resolve read (LEDGER.EXPECT ops, projector_store.c), without any
 * checkpoint. The runtime guards its own holds the same way, so a resolve
 * and a running projector never interleave: whichever writes second finds a
 * guard changed, writes nothing, and reads again.
 */
#ifndef LEDGER_PROJECTOR_DLQ_H
#define LEDGER_PROJECTOR_DLQ_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "ids.h"
#include "view.h"

/* The headers of a DLQ record (values are text). */
#define PROJECTOR_DLQ_HEADER_TOPIC     "source.topic"
#define PROJECTOR_DLQ_HEADER_PARTITION "source.partition"
#define PROJECTOR_DLQ_HEADER_OFFSET    "source.offset"
#define PROJECTOR_DLQ_HEADER_ERROR     "error"
#define PROJECTOR_DLQ_HEADER_VIEW      "view"
#define PROJECTOR_DLQ_HEADER_ACCOUNT   "account"

/* The error of a record held only because its account is quarantined. */
#define PROJECTOR_DLQ_HELD_ERROR "held: account quarantined"

/* An account id or a pseudo account "?<partition>". */
#define PROJECTOR_DLQ_ACCOUNT_BUF LEDGER_ACCOUNT_BUF

/* Error texts kept with a held record (longer ones are cut). */
#define PROJECTOR_DLQ_ERROR_BUF 512

/* ---- records ---- */

/* The account a record of `partition` is held under: its key when the key
 * is an account id (returns true), else the pseudo account "?<partition>"
 * (returns false). buf holds PROJECTOR_DLQ_ACCOUNT_BUF. */
bool projector_dlq_account_of(const void *key, size_t key_len, int32_t partition, char *buf);

/* True for "?<partition>" (digits, no sign). */
bool projector_dlq_pseudo_account(const char *account);

/* Decodes a record of the events topic the way every view takes it: a
 * known writer schema, a valid account, and a key that is the event's
 * account. Returns 0, or -1 with errstr (out is then not to be used). */
int projector_dlq_decode(const ledger_codec *codec, const void *key, size_t key_len,
                         const void *payload, size_t len, ledger_event *out, char *errstr,
                         size_t errstr_size);

/* ---- folding up to the first failure ---- */

/* Calls view->apply_account on input's events. When it fails, finds the
 * longest prefix of the events that applies (a fold that fails at an event
 * fails for every longer prefix, so a binary search) and leaves in the
 * batch only that prefix's writes. Sets *applied to the number of events
 * applied and, when not all, errstr to why the next one was refused.
 * Returns 0 when every event applied, 1 otherwise. */
int projector_dlq_apply_prefix(const projector_view *view, const void *view_state,
                               view_batch *batch, const view_account_input *input, size_t *applied,
                               char *errstr, size_t errstr_size);

/* ---- the writes of a hold, appended to a batch's atomic unit ---- */

typedef enum projector_dlq_state {
    PROJECTOR_DLQ_HELD = 0,    /* waiting in the DLQ */
    PROJECTOR_DLQ_APPLIED = 1, /* re-applied by a retry */
    PROJECTOR_DLQ_SKIPPED = 2, /* dropped by a skip */
} projector_dlq_state;

/* "held", "applied", "skipped". */
const char *projector_dlq_state_name(projector_dlq_state state);

/* A guard: nothing of the batch is written unless the account's quarantine
 * entry (in the batch's generation) is exactly entry[0..entry_len) (NULL:
 * the account is not quarantined). */
void projector_dlq_expect_quarantine(view_batch *batch, const char *account, const char *entry,
                                     size_t entry_len);

/* A guard on the held hash's "version" ("" or NULL: absent). */
void projector_dlq_expect_version(view_batch *batch, const char *account, const char *version);

/* Sets the account's quarantine entry: the record at partition:offset is
 * the first one the view cannot apply, for `error`. */
void projector_dlq_quarantine(view_batch *batch, const char *account, int32_t partition,
                              int64_t offset, const char *error);

/* Takes the account out of quarantine. */
void projector_dlq_release(view_batch *batch, const char *account);

/* Records the state of the account's record partition:offset (its copy is
 * at dlq_partition:dlq_offset of the DLQ topic) and bumps the version. */
void projector_dlq_mark(view_batch *batch, const char *account, int32_t partition, int64_t offset,
                        projector_dlq_state state, const char *error, int32_t dlq_partition,
                        int64_t dlq_offset);

/* ---- the runtime's producer of DLQ records ---- */

typedef struct projector_dlq projector_dlq;

/* A producer to <topic_prefix>events.dlq (brokers, topic_prefix and the -X
 * properties from cfg, which is borrowed for the producer's life), for view
 * `view` (borrowed). Idempotent, acks=all. `stop` (a signal handler's flag)
 * ends a wait for acknowledgements early. Returns NULL with errstr. */
projector_dlq *projector_dlq_new(const ledger_config *cfg, const char *view,
                                 const volatile sig_atomic_t *stop, char *errstr,
                                 size_t errstr_size);

/* Flushes what it can within a second and frees; NULL is accepted. */
void projector_dlq_destroy(projector_dlq *dlq);

/* The DLQ topic's name. */
const char *projector_dlq_topic(const projector_dlq *dlq);

/* Starts a new group of records (the previous group's positions are gone). */
void projector_dlq_begin(projector_dlq *dlq);

/* Queues message m of `source_topic` (its key and bytes as they are) with
 * the headers, held under `account` for `error` (both copied). Returns 0,
 * or -1 with errstr. */
int projector_dlq_send(projector_dlq *dlq, const rd_kafka_message_t *m, const char *source_topic,
                       const char *account, const char *error, char *errstr, size_t errstr_size);

/* Waits until the broker has acknowledged every record of the group.
 * Returns 0, or -1 with errstr (a record was refused, or a stop was asked):
 * the caller must then not record the group as held. */
int projector_dlq_flush(projector_dlq *dlq, char *errstr, size_t errstr_size);

/* After a successful flush: appends to batch the held entry of every
 * record of the group (projector_dlq_mark, with where its copy landed). */
void projector_dlq_mark_group(const projector_dlq *dlq, view_batch *batch);

/* ---- what is held, and resolving it (the `ledger` CLI) ---- */

typedef struct projector_dlq_entry {
    int32_t partition; /* the source record's position in the events topic */
    int64_t offset;
    projector_dlq_state state;
    int32_t dlq_partition; /* where its copy is in the DLQ topic */
    int64_t dlq_offset;
    char error[PROJECTOR_DLQ_ERROR_BUF];
} projector_dlq_entry;

/* One account of one view, as Redis holds it in the current generation. */
typedef struct projector_dlq_held {
    int64_t gen;
    char account[PROJECTOR_DLQ_ACCOUNT_BUF];
    char *quarantine; /* the quarantine entry's exact text, NULL when not quarantined */
    size_t quarantine_len;
    int32_t first_partition; /* parsed from it */
    int64_t first_offset;
    char first_error[PROJECTOR_DLQ_ERROR_BUF];
    char version[24];             /* the held hash's version as stored, "" when absent */
    projector_dlq_entry *entries; /* every entry, held and resolved, by source position */
    size_t count;
} projector_dlq_held;

/* Reads account's quarantine entry and held records in the current
 * generation of `view`, into *held (released with projector_dlq_held_release).
 * Returns 0, or -1 with errstr (Redis failed, or an entry is malformed). */
int projector_dlq_held_read(redisContext *c, const char *ns, const char *view, const char *account,
                            projector_dlq_held *held, char *errstr, size_t errstr_size);

/* Frees what projector_dlq_held_read allocated; NULL is accepted. */
void projector_dlq_held_release(projector_dlq_held *held);

/* The quarantined accounts of the current generation of `view`, sorted, as
 * an array of strings the caller frees with projector_dlq_accounts_free.
 * Returns 0, or -1 with errstr. */
int projector_dlq_quarantined(redisContext *c, const char *ns, const char *view, char ***accounts,
                              size_t *count, char *errstr, size_t errstr_size);

void projector_dlq_accounts_free(char **accounts, size_t count);

/* The original key and bytes of a held record, from the DLQ topic (borrowed). */
typedef struct projector_dlq_record {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} projector_dlq_record;

typedef struct projector_dlq_outcome {
    size_t applied;           /* held records re-applied */
    size_t skipped;           /* 0 or 1 */
    size_t still_held;        /* records left held */
    bool released;            /* the account left quarantine */
    int32_t failed_partition; /* when not released: the first record that still fails */
    int64_t failed_offset;
    char error[PROJECTOR_DLQ_ERROR_BUF]; /* and why */
} projector_dlq_outcome;

typedef enum projector_dlq_resolve_result {
    PROJECTOR_DLQ_RESOLVED = 0, /* written: *outcome says what */
    PROJECTOR_DLQ_CONFLICT = 1, /* Redis changed since `held` was read: nothing written */
    PROJECTOR_DLQ_FAILED = -1,  /* Redis failed: errstr (nothing known written) */
} projector_dlq_resolve_result;

/* Re-applies the held records of held->account, in source order, to the
 * account's stored state in `view` (view_state from view->open, borrowed),
 * as one atomic write guarded by what `held` says. records[i] is the copy
 * of held->entries[i] when that entry is HELD (others are not read). The
 * entry at index `skip` (a HELD one, or SIZE_MAX for none) is dropped
 * instead. Applying stops at the first record that still does not decode
 * or apply: the ones before it are applied, it and the later ones stay
 * held, and it becomes the quarantine entry; when none is left, the
 * account is released. */
projector_dlq_resolve_result projector_dlq_resolve(
    redisContext *c, const char *ns, const projector_view *view, const void *view_state,
    const ledger_codec *codec, const projector_dlq_held *held, const projector_dlq_record *records,
    size_t skip, projector_dlq_outcome *outcome, char *errstr, size_t errstr_size);

#endif
