/*
 * ledger.c - `ledger <command> ...`: the CLI for people and scripts.
 *
 * main only picks the subcommand from the table below; each subcommand
 * declares its own settings, runs through cli_run (which loads them) and
 * returns an exit code of SPEC section 8. To add a command, write its handler in a
 * cmd_<name>.c and add one line to the table.
 */
#include <stddef.h>

#include "cli.h"
#include "cmd_admin.h"
#include "cmd_command.h"
#include "cmd_dlq.h"
#include "cmd_flags.h"
#include "cmd_health.h"
#include "cmd_history.h"
#include "cmd_query.h"
#include "cmd_statement.h"
#include "cmd_status.h"
#include "cmd_submit.h"
#include "cmd_wait.h"

static const cli_command commands[] = {
    {"admin", cmd_admin, "set-up and checks: ping the broker, create the topics"},
    {"open", cmd_open, "open an account: open ACCOUNT [--overdraft AMOUNT]"},
    {"deposit", cmd_deposit, "deposit money: deposit ACCOUNT AMOUNT"},
    {"withdraw", cmd_withdraw, "withdraw money: withdraw ACCOUNT AMOUNT"},
    {"transfer", cmd_transfer, "move money between accounts: transfer FROM TO AMOUNT"},
    {"close", cmd_close, "close an account whose balance is 0: close ACCOUNT"},
    {"submit", cmd_submit, "send JSON lines of commands from stdin, results in input order"},
    {"balance", cmd_balance, "an account's balance from the balance view: balance ACCOUNT"},
    {"statement", cmd_statement, "one month of an account's statement: statement ACCOUNT YYYY-MM"},
    {"flags", cmd_flags, "an account's fraud flags: flags ACCOUNT"},
    {"flagged", cmd_flagged, "every account with a fraud flag, sorted"},
    {"dlq", cmd_dlq, "records the views hold in the dead-letter queue: dlq list|retry|skip"},
    {"history", cmd_history, "an account's state folded from the log: history ACCOUNT [--at TIME]"},
    {"status", cmd_status, "per view: generation, lag per partition, quarantined accounts"},
    {"wait", cmd_wait, "return once every command submitted is handled and the views applied it"},
    {"health", cmd_health, "exit 0 when a service's /healthz answers ready: health [--port P]"},
};

int main(int argc, char **argv) {
    return cli_dispatch("ledger", commands, sizeof(commands) / sizeof(commands[0]), argc - 1,
                        argv + 1);
}
