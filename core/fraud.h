/*
 * fraud.h - the fraud rules of SPEC section 7 as a pure function of one
 * account's events, folded in log order. Event time only (never a clock), so a
 * replay yields the same flags.
 *
 * Memory per account is bounded: the velocity rule keeps a small window of
 * recent debit times (fraud_window), never the whole history. The new_payee
 * rule needs "has this account sent to X before", an unbounded set that the
 * caller keeps where it keeps state (e.g. a Redis set) and passes in.
 */
#ifndef LEDGER_FRAUD_H
#define LEDGER_FRAUD_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

/* Values are frozen: bit flags, also used as identifiers in Redis. */
typedef enum fraud_rule {
    FRAUD_LARGE_DEBIT = 1,
    FRAUD_VELOCITY = 2,
    FRAUD_NEW_PAYEE = 4,
} fraud_rule;

typedef struct fraud_config {
    int64_t large_debit_cents;  /* default 1000000 (10000.00) */
    int32_t velocity_count;     /* default 5, at most FRAUD_WINDOW_CAP */
    int64_t velocity_window_ms; /* default 60000, closed interval */
    int64_t new_payee_cents;    /* default 100000 (1000.00) */
} fraud_config;

#define FRAUD_WINDOW_CAP 64

/* The debit times kept for the velocity rule. Kept sorted. A debit time is
 * dropped once it is more than velocity_window_ms older than the newest debit
 * time seen, or when more than FRAUD_WINDOW_CAP are kept (the oldest goes):
 * for debits in non-decreasing time order the rule is then exact; a debit
 * back-dated by more than the window compares against what is kept. */
typedef struct fraud_window {
    int32_t count;
    int64_t at_ms[FRAUD_WINDOW_CAP];
} fraud_window;

typedef struct fraud_flag {
    fraud_rule rule;
    int64_t seq;
    int64_t at_ms;
    int64_t amount; /* signed: debits are negative */
} fraud_flag;

#define FRAUD_MAX_FLAGS_PER_EVENT 3

void fraud_config_default(fraud_config *config);

/* Returns 0, or -1 with *why naming the bad setting (e.g. a velocity_count out
 * of 1..FRAUD_WINDOW_CAP). */
int fraud_config_validate(const fraud_config *config, const char **why);

void fraud_window_init(fraud_window *window);

/* Folds one event into the window and writes the flags it triggers into out
 * (at most FRAUD_MAX_FLAGS_PER_EVENT, in rule order large_debit, velocity,
 * new_payee). `payee_seen` says whether, for a TRANSFER_SENT, this account
 * sent a transfer to event->counterparty earlier in the log. Returns the
 * number of flags. Non-debits return 0 and leave the window alone. */
int fraud_check(const fraud_config *config, fraud_window *window, const ledger_event *event,
                bool payee_seen, fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT]);

/* "large_debit", "velocity", "new_payee"; NULL when unknown. */
const char *fraud_rule_name(fraud_rule rule);

#endif
