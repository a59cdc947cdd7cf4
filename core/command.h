/*
 * command.h - requests to change the ledger (SPEC section 5).
 *
 * Fixed-size like ledger_event. Ids are stored as received (see ids.h for
 * why the buffers are one byte larger than the longest valid id), so that
 * validation happens in one place: ledger_decide.
 */
#ifndef LEDGER_COMMAND_H
#define LEDGER_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "ids.h"

/* Values are frozen: they are the command schema's enum symbols, in order. */
typedef enum ledger_command_type {
    LEDGER_COMMAND_NONE = 0,
    LEDGER_COMMAND_OPEN = 1,
    LEDGER_COMMAND_DEPOSIT = 2,
    LEDGER_COMMAND_WITHDRAW = 3,
    LEDGER_COMMAND_TRANSFER = 4,
    LEDGER_COMMAND_CLOSE = 5,
} ledger_command_type;

typedef struct ledger_command {
    char id[LEDGER_COMMAND_ID_BUF];
    ledger_command_type type;
    char account[LEDGER_ACCOUNT_BUF]; /* the debited account of a transfer */
    char to[LEDGER_ACCOUNT_BUF];      /* transfer only */
    int64_t amount;                   /* cents; the overdraft for open */
    bool has_at;
    int64_t at_ms; /* business time, when has_at */
} ledger_command;

void ledger_command_init(ledger_command *command);

/* "open", "deposit", "withdraw", "transfer", "close"; NULL when out of range. */
const char *ledger_command_type_name(ledger_command_type type);
ledger_command_type ledger_command_type_from_name(const char *name);

#endif
