/*
 * command_input.h - a command as a user writes it (command-line arguments,
 * or one JSON line of `ledger submit`) checked and turned into a
 * ledger_command before anything is sent.
 *
 * The checks are the core's parsers (money_parse, ledger_account_valid,
 * ledger_command_id_valid, ltime_parse), run in SPEC section 5's precedence
 * order: what makes the command malformed (a missing field, a bad id or
 * time), then the account, then `to`, then the amount. The first fault
 * gives the reason and a message naming it, e.g.
 *     invalid amount '1.234': more than two decimals
 * (same_account and everything that needs the account's state is the
 * ledger's to decide, not the client's.)
 */
#ifndef LEDGER_COMMAND_INPUT_H
#define LEDGER_COMMAND_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "reason.h"

/* Why a command was refused before sending. A caller-allocated value. */
typedef struct command_input_error {
    ledger_reason reason; /* LEDGER_OK when there is no error */
    char message[320];    /* lowercase, no full stop; "" when reason is LEDGER_OK */
    /* The command id as the input gave it, for the rejection line (it may be
     * the invalid id itself); has_id false when the input had none, or one
     * too long to keep whole (the message still quotes its start). */
    bool has_id;
    size_t id_len;
    char id[LEDGER_COMMAND_ID_BUF + 64];
} command_input_error;

/* One text field: NULL = absent. Not NUL-terminated: len bytes. */
typedef struct command_input_field {
    const char *text;
    size_t len;
    bool too_long; /* the value did not fit the reader's buffer: refused as too long */
} command_input_field;

/* The fields of a command as text, all borrowed. `amount` is the overdraft
 * of an open (absent = 0). Fields a type does not use are ignored. */
typedef struct command_input_text {
    command_input_field id; /* absent: a new UUID v4 is made */
    command_input_field account;
    command_input_field to;
    command_input_field amount;
    command_input_field at; /* absent: the producer's clock */
} command_input_text;

void command_input_error_init(command_input_error *err);

/* Checks `in` for a command of `type` and fills *command. Returns 0, or -1
 * with *err saying why (*command is then unspecified). A missing required
 * field is malformed_command ("missing field 'amount'"). The new id of a
 * command without one comes from getrandom(2); if that fails, -1 with
 * malformed_command and the error in the message. */
int command_input_build(ledger_command_type type, const command_input_text *in,
                        ledger_command *command, command_input_error *err);

/* Reads one `ledger submit` line, a flat JSON object such as
 *     {"id":"c1","type":"transfer","account":"A","to":"B","amount":"5.00","at":"..."}
 * (type: open|deposit|withdraw|transfer|close; open takes "overdraft"; an
 * amount may also be a bare JSON number, read as its text: no float is ever
 * made; null reads as absent; other members are ignored) and builds the
 * command as command_input_build does. Returns 0, or -1 with *err:
 * malformed_command for bad JSON, a missing or unknown type or a missing
 * field, otherwise the reason of the bad value. Nothing is allocated. */
int command_input_parse_line(const char *line, size_t len, ledger_command *command,
                             command_input_error *err);

/* Checks an account id (for commands that take one without sending a
 * command: history, queries). Returns 0, or -1 with *err (invalid_account,
 * "invalid account 'a b': only letters, digits and '.', '_', '-' are
 * allowed"). */
int command_input_check_account(const char *text, size_t len, command_input_error *err);

/* Parses an RFC 3339 time as ltime_parse does. Returns 0 and sets *ms, or -1
 * with *err (malformed_command, "invalid time 'x': not UTC: must end in
 * 'Z'"). */
int command_input_parse_time(const char *text, size_t len, int64_t *ms, command_input_error *err);

/* Writes a new random UUID v4 into out. Returns 0, or -1 when getrandom(2)
 * fails. */
int command_input_new_id(char out[LEDGER_UUID_BUF]);

#endif
