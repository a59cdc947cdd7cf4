/*
 * model.h - small builders shared by the core's unit tests, so each test
 * reads as the case it names rather than as struct plumbing. Nothing here
 * computes an expected result: expectations stay in the tests, by hand.
 */
#ifndef LEDGER_TEST_MODEL_H
#define LEDGER_TEST_MODEL_H

#include <stdint.h>

#include "account.h"
#include "command.h"
#include "decide.h"
#include "event.h"

/* A command with id, type, account, to (NULL for none) and amount; no `at`. */
ledger_command model_command(const char *id, ledger_command_type type, const char *account,
                             const char *to, int64_t amount);

/* An account state. */
account_state model_state(account_status status, int64_t balance, int64_t overdraft, int64_t seq);

/* An event of `type` on `account` with seq, at and amount; the other
 * fields zero. */
ledger_event model_event(ledger_event_type type, const char *account, int64_t seq, int64_t at_ms,
                         int64_t amount);

/* The ids used by decisions in the tests. */
ledger_decide_ids model_ids(int64_t now_ms);

#define MODEL_EVENT_ID    "0f8fad5b-d9cb-469f-a165-70867728950e"
#define MODEL_TRANSFER_ID "7c9e6679-7425-40de-944b-e07fc1f90ae7"

/* True when every byte of the n bytes at p is zero. */
int model_all_zero(const void *p, size_t n);

#endif
