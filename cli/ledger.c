/*
 * ledger.c - `ledger <command> ...`: the CLI for people and scripts.
 *
 * main only picks the subcommand from the table below; each subcommand
 * declares its own settings, loads them with cli_load and returns an exit
 * code of SPEC section 8. To add a command, write its handler in a
 * cmd_<name>.c and add one line to the table.
 */
#include <stddef.h>

#include "cli.h"
#include "cmd_admin.h"
#include "cmd_demo.h"

static const cli_command commands[] = {
    {"admin", cmd_admin, "set-up and checks: ping the broker, create the topics"},
    {"demo", cmd_demo, "the demonstration: core decisions appended to Kafka, read back, folded"},
};

int main(int argc, char **argv) {
    return cli_dispatch("ledger", commands, sizeof(commands) / sizeof(commands[0]), argc - 1,
                        argv + 1);
}
