/*
 * result.h - what became of a command: the value published on the
 * command-results topic and kept for deduplication.
 */
#ifndef LEDGER_RESULT_H
#define LEDGER_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "ids.h"
#include "reason.h"

typedef struct ledger_result {
    char command_id[LEDGER_COMMAND_ID_BUF];
    ledger_reason reason; /* LEDGER_OK when accepted */
    bool duplicate;       /* the original result, returned again */
    bool has_event;       /* accepted commands carry the event on their account */
    ledger_event event;   /* for a transfer: TransferSent; its transfer_id names the transfer */
    bool has_position;    /* partition:offset of the command's last event */
    int32_t partition;
    int64_t offset;
} ledger_result;

void ledger_result_init(ledger_result *result);

#endif
