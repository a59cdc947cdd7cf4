/*
 * accounts.h - the producer's account table for one partition: account id to
 * account_state, an open-addressing hash map built for a million accounts.
 *
 * Memory is what matters here (the whole partition's state lives in RAM), so
 * the table keeps three flat arrays instead of one node per account: a dense
 * array of 40-byte entries (state, hash, key offset), an array of 4-byte slot
 * indexes probed linearly, and an arena of length-prefixed ids: about 62
 * bytes of RSS per account at 1,000,000 accounts with 12-character ids
 * (bench_producer_memory measures it). Accounts are never removed one by one: a partition's table
 * is dropped whole when the partition is revoked.
 */
#ifndef LEDGER_PRODUCER_ACCOUNTS_H
#define LEDGER_PRODUCER_ACCOUNTS_H

#include <stddef.h>

#include "account.h"

typedef struct producer_accounts producer_accounts;

/* An empty table; NULL when memory runs out. Free with
 * producer_accounts_destroy. */
producer_accounts *producer_accounts_new(void);

/* Frees the table and every state in it. Accepts NULL. */
void producer_accounts_destroy(producer_accounts *table);

/* The state of account `id` (`len` bytes, not necessarily terminated), or
 * NULL when the table does not hold it. The pointer is owned by the table and
 * valid until the next producer_accounts_upsert. */
account_state *producer_accounts_find(const producer_accounts *table, const char *id, size_t len);

/* The state of `id`, inserted as account_init when missing. Returns NULL when
 * memory runs out or when len is 0 or above LEDGER_ACCOUNT_MAX (ids are
 * validated by the caller; this is only a bound). Same pointer rules as
 * producer_accounts_find. */
account_state *producer_accounts_upsert(producer_accounts *table, const char *id, size_t len);

/* How many accounts the table holds. */
size_t producer_accounts_count(const producer_accounts *table);

/* The i-th account in insertion order (i < count): sets *id (not terminated,
 * owned by the table) and *len, returns its state. For snapshots. */
const account_state *producer_accounts_at(const producer_accounts *table, size_t i, const char **id,
                                          size_t *len);

/* Bytes allocated by the table (arrays at their capacity). */
size_t producer_accounts_memory(const producer_accounts *table);

#endif
