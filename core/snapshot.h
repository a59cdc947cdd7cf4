/*
 * snapshot.h - the command handler's state for one partition, as of an offset
 * of the events topic: every account's state and the recently handled command
 * results (the deduplication window).
 *
 * The arrays are owned by whoever filled them (see codec/ for decoding).
 */
#ifndef LEDGER_SNAPSHOT_H
#define LEDGER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "ids.h"
#include "result.h"

typedef struct snapshot_account {
    char account[LEDGER_ACCOUNT_BUF];
    account_state state;
} snapshot_account;

typedef struct snapshot_command {
    int64_t handled_at_ms; /* when the producer handled it: ages the dedup window */
    ledger_result result;
} snapshot_command;

typedef struct ledger_snapshot {
    int32_t partition;
    int64_t events_offset; /* the next events offset not covered by this snapshot */
    size_t account_count;
    snapshot_account *accounts;
    size_t command_count;
    snapshot_command *commands;
} ledger_snapshot;

#endif
