/*
 * statements_view.h - the "statements" view (SPEC section 7): per account, a
 * running balance and, per calendar month (UTC, by event time), its totals
 * and its statement entries pre-rendered as the JSON the CLI prints.
 *
 * Redis layout under the view's generation (keys from view.h):
 *
 *   {A}:account       hash   balance (running, in log order), version (last
 *                            seq), month (latest "YYYY-MM" with entries), and
 *                            per month with entries i:<YYYY-MM> (total_in)
 *                            and o:<YYYY-MM> (total_out), in cents (a
 *                            total of 0 may be absent)
 *   {A}:e:<YYYY-MM>   list   entries in log order, e.g.
 *       {"at":"2026-11-02T09:00:00Z","seq":2,"type":"deposit","amount":"10.00",
 *        "balance_after":"10.00"}
 *       transfers add "counterparty" and "transfer_id"; amounts are signed.
 *
 * A month's net is total_in - total_out, and its opening balance is not
 * stored: it is the sum of the nets of the account's earlier months (a
 * back-dated event would otherwise have to rewrite every later month), which
 * `ledger statement` adds up from the same hash (HGETALL).
 *
 * Besides the view itself, the header exposes its pure pieces for the tests.
 */
#ifndef LEDGER_VIEW_STATEMENTS_H
#define LEDGER_VIEW_STATEMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "statement.h"
#include "view.h"

extern const projector_view statements_view;

/* Holds any rendered entry: every string field is bounded by its struct
 * buffer, and escaping at most sextuples a byte. */
#define STATEMENTS_ENTRY_MAX 1024

/* Renders `line` as the entry JSON above into buf (at least
 * STATEMENTS_ENTRY_MAX bytes is always enough). Returns the length written,
 * or 0 when it does not fit. Strings are escaped so the text is valid JSON
 * whatever bytes a decoded event holds (bytes >= 0x80 become U+FFFD: a valid
 * account or transfer id is ASCII). */
size_t statements_entry_render(const statement_line *line, char *buf, size_t size);

/* The hash of an account (the suffix of its key). */
#define STATEMENTS_ACCOUNT_SUFFIX "account"

/* A month's field of the account hash, "<kind>:YYYY-MM" (kind 'i' for
 * total_in, 'o' for total_out). Returns the length written, 0 when it does
 * not fit (24 bytes always do). */
size_t statements_month_field(char kind, int32_t month, char *buf, size_t size);

/* The kind and month of a field written by statements_month_field. Returns
 * 0, or -1 when `field` is not one (balance, version, month, or garbage). */
int statements_month_field_parse(const char *field, size_t len, char *kind, int32_t *month);

#endif
