/*
 * projector_keys.h - the Redis key layout of the read models (the read-side contract),
 * in one place for the projectors that write it and the CLI that reads it.
 *
 * Every key starts with the namespace <ns> (setting redis_prefix, "ledger" by
 * default) and the view's name:
 *
 *     <ns>:<view>:current                 current generation (absent = 1)
 *     <ns>:<view>:building                generation a rebuild is writing
 *     <ns>:<view>:rebuild_lease           token of the live rebuild (with a TTL)
 *     <ns>:<view>:progress                hash process id -> JSON of its progress, for
 *                                         `ledger status` (projector_ops.h)
 *     <ns>:<view>:g<gen>:checkpoints      hash partition -> next offset to apply
 *     <ns>:<view>:g<gen>:quarantine       hash account -> JSON of the first bad record
 *     <ns>:<view>:g<gen>:dlq:{<account>}  hash: the account's records held in the DLQ
 *                                         (source "P:O" -> JSON; "version"), see dlq.h
 *     <ns>:<view>:g<gen>:{<account>}:<s>  per-account keys (hash tag = the account)
 *     <ns>:<view>:g<gen>:<s>              view-wide keys
 *
 * Each function writes the key into buf and returns its length, or 0 when it
 * does not fit (buf then holds "").
 */
#ifndef LEDGER_PROJECTOR_KEYS_H
#define LEDGER_PROJECTOR_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A buffer that holds any key of the layout: namespace and view name are at
 * most 64 characters each, an account 64, a suffix 64. */
#define PROJECTOR_KEY_BUF 384

/* The generation a view has before any rebuild. */
#define PROJECTOR_FIRST_GENERATION 1

/* redis_prefix (LEDGER_REDIS_PREFIX, --redis-prefix, "ledger"): 1 to 64
 * characters of [A-Za-z0-9._-]. For every program that reads or writes the
 * views. */
extern const ledger_config_setting projector_keys_settings[];

size_t projector_keys_current(const char *ns, const char *view, char *buf, size_t size);
size_t projector_keys_building(const char *ns, const char *view, char *buf, size_t size);
size_t projector_keys_rebuild_lease(const char *ns, const char *view, char *buf, size_t size);
size_t projector_keys_progress(const char *ns, const char *view, char *buf, size_t size);
size_t projector_keys_checkpoints(const char *ns, const char *view, int64_t gen, char *buf,
                                  size_t size);
size_t projector_keys_quarantine(const char *ns, const char *view, int64_t gen, char *buf,
                                 size_t size);
/* "<ns>:<view>:g<gen>:dlq:{<account>}" (account may be a pseudo account "?P"). */
size_t projector_keys_held(const char *ns, const char *view, int64_t gen, const char *account,
                           char *buf, size_t size);

/* "<ns>:<view>:g<gen>:" - what every key of one generation starts with. */
size_t projector_keys_generation_prefix(const char *ns, const char *view, int64_t gen, char *buf,
                                        size_t size);

/* "<ns>:<view>:g<gen>:{<account>}:<suffix>" (suffix may be ""). */
size_t projector_keys_account(const char *ns, const char *view, int64_t gen, const char *account,
                              const char *suffix, char *buf, size_t size);

/* "<ns>:<view>:g<gen>:<suffix>". */
size_t projector_keys_view(const char *ns, const char *view, int64_t gen, const char *suffix,
                           char *buf, size_t size);

/* Parses a generation or checkpoint as Redis stores it (a decimal integer
 * >= 0, no sign, no blanks). Returns 0 and sets *out, or -1. */
int projector_keys_parse_int(const char *text, size_t len, int64_t *out);

#endif
