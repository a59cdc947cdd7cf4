/*
 * command.c - command type names (the command schema's enum symbols and the
 * CLI's "type" field).
 */
#include "command.h"

#include <string.h>

static const char *const command_type_names[] = {
    [LEDGER_COMMAND_NONE] = NULL,           [LEDGER_COMMAND_OPEN] = "open",
    [LEDGER_COMMAND_DEPOSIT] = "deposit",   [LEDGER_COMMAND_WITHDRAW] = "withdraw",
    [LEDGER_COMMAND_TRANSFER] = "transfer", [LEDGER_COMMAND_CLOSE] = "close",
};

#define COMMAND_TYPE_COUNT ((int)(sizeof command_type_names / sizeof command_type_names[0]))

void ledger_command_init(ledger_command *command) {
    memset(command, 0, sizeof *command);
}

const char *ledger_command_type_name(ledger_command_type type) {
    if ((int)type < 0 || (int)type >= COMMAND_TYPE_COUNT)
        return NULL;
    return command_type_names[type];
}

ledger_command_type ledger_command_type_from_name(const char *name) {
    if (name == NULL)
        return LEDGER_COMMAND_NONE;
    for (int i = 1; i < COMMAND_TYPE_COUNT; i++) {
        if (strcmp(name, command_type_names[i]) == 0)
            return (ledger_command_type)i;
    }
    return LEDGER_COMMAND_NONE;
}
