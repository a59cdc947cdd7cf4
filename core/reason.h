/*
 * reason.h - why the ledger refuses a command.
 *
 * The enum order IS the precedence order of SPEC section 5: when several
 * reasons apply, the smallest value wins. Names are frozen: they travel in
 * command results on the wire and in the CLI's JSON.
 */
#ifndef LEDGER_REASON_H
#define LEDGER_REASON_H

typedef enum ledger_reason {
    LEDGER_OK = 0,
    LEDGER_MALFORMED_COMMAND,
    LEDGER_INVALID_ACCOUNT,
    LEDGER_INVALID_AMOUNT,
    LEDGER_SAME_ACCOUNT,
    LEDGER_NO_SUCH_ACCOUNT,
    LEDGER_ACCOUNT_EXISTS,
    LEDGER_ACCOUNT_CLOSED,
    LEDGER_INSUFFICIENT_FUNDS,
    LEDGER_NONZERO_BALANCE,
    LEDGER_REASON_COUNT_ /* not a reason: the number of values */
} ledger_reason;

/* The wire/JSON name ("insufficient_funds"); "ok" for LEDGER_OK, NULL when
 * out of range. Static storage. */
const char *ledger_reason_name(ledger_reason reason);

/* Inverse of ledger_reason_name. Returns 0 and sets *out, or -1 when the name
 * is unknown. */
int ledger_reason_from_name(const char *name, ledger_reason *out);

#endif
