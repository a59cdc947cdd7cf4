/*
 * fraud_view.h - the "fraud" view (SPEC section 7, fraud flags). The rules
 * themselves are core/fraud.h; this view keeps what they need between
 * batches and stores the flags they raise.
 *
 * Redis layout under the view's generation (keys from view.h):
 *
 *   {A}:fraud    hash   version (last seq), window (fraud_view_window_format)
 *   {A}:payees   set    accounts this account has sent a transfer to
 *   {A}:flags    list   flags in log order, e.g.
 *       {"rule":"velocity","seq":9,"at":"2026-11-26T10:00:00Z","amount":"-20.00"}
 *   flagged      set    (view-wide) accounts with at least one flag
 *
 * Thresholds are the view's settings (LEDGER_FRAUD_LARGE_DEBIT,
 * LEDGER_FRAUD_VELOCITY_COUNT, LEDGER_FRAUD_VELOCITY_WINDOW,
 * LEDGER_FRAUD_NEW_PAYEE), validated with fraud_config_validate. Changing
 * them changes what later events raise, not the flags already stored: run a
 * rebuild to apply new thresholds to the whole log.
 *
 * The header (the file is not fraud.h: that name is the core's) also exposes
 * the view's pure pieces for the tests.
 */
#ifndef LEDGER_VIEW_FRAUD_VIEW_H
#define LEDGER_VIEW_FRAUD_VIEW_H

#include <stddef.h>

#include "fraud.h"
#include "view.h"

extern const projector_view fraud_view;

/* "v1:" and up to FRAUD_WINDOW_CAP comma-separated int64 values. */
#define FRAUD_VIEW_WINDOW_TEXT_MAX (3 + FRAUD_WINDOW_CAP * 21 + 1)
/* Holds any rendered flag. */
#define FRAUD_VIEW_FLAG_MAX 160

/* The stored form of a velocity window: "v1:" then its debit times (ms since
 * the epoch) in order, comma-separated ("v1:" alone when empty). The "v1"
 * names the format, so a later format can be told apart. Writes at most
 * size bytes with the terminator; returns the length, or 0 if it does not
 * fit (FRAUD_VIEW_WINDOW_TEXT_MAX always does). */
size_t fraud_view_window_format(const fraud_window *window, char *buf, size_t size);

/* Parses exactly len bytes of the stored form into *window. Returns 0, or
 * -1 with *why a static phrase (unknown version, not a number, more than
 * FRAUD_WINDOW_CAP values, out of order). */
int fraud_view_window_parse(const char *text, size_t len, fraud_window *window, const char **why);

/* Renders a flag as the JSON above. Returns the length, or 0 if it does not
 * fit (FRAUD_VIEW_FLAG_MAX always does). */
size_t fraud_view_flag_render(const fraud_flag *flag, char *buf, size_t size);

#endif
