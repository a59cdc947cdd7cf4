/*
 * cli.h - what every `ledger` subcommand shares: the exit codes of SPEC
 * section 8, the subcommand table type with its dispatcher, and the
 * configuration loading that handles --help, -X dump and bad settings the
 * same way everywhere.
 *
 * Adding a subcommand is one line in a table: {"name", handler, "help"}.
 */
#ifndef LEDGER_CLI_H
#define LEDGER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* SPEC section 8. */
enum {
    CLI_EXIT_OK = 0,       /* accepted, or found */
    CLI_EXIT_REJECTED = 1, /* rejected by the ledger, or not found */
    CLI_EXIT_USAGE = 2,    /* bad usage or bad input, reason on stderr */
    CLI_EXIT_INFRA = 3,    /* Kafka or Redis unreachable, timeout */
};

/* A subcommand: `run` gets argv[0] = its own name and returns an exit code. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help; /* one line */
} cli_command;

/* Runs the entry of `table` (n entries) named argv[0]. `path` is what comes
 * before it in messages ("ledger", "ledger admin"). With no argument, or an
 * unknown one, prints the list to stderr and returns CLI_EXIT_USAGE; with
 * -h/--help, prints it to stdout and returns CLI_EXIT_OK. */
int cli_dispatch(const char *path, const cli_command *table, size_t n, int argc, char **argv);

/* Loads `cfg` from argv (the arguments after the subcommand name) and sets
 * up logging from its log_level. Returns true when the subcommand should
 * run; otherwise it has printed the help (stdout), the -X dump (stdout) or
 * the error (stderr, "ledger: invalid ..."), and *exit_code says how to
 * exit. `usage` and `description` go to the help. */
bool cli_load(ledger_config *cfg, int argc, char **argv, const char *usage, const char *description,
              int *exit_code);

#endif
