/*
 * cli.h - what every `ledger` subcommand shares: the exit codes of SPEC
 * section 8, the subcommand table type with its dispatcher, the
 * configuration's life (cli_run) that handles --help, -X dump and bad
 * settings the same way everywhere, the positional-argument check and the
 * JSON line printer.
 *
 * Adding a subcommand is one line in a table: {"name", handler, "help"}.
 */
#ifndef LEDGER_CLI_H
#define LEDGER_CLI_H

#include <jansson.h>
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

/* A subcommand's work once its configuration is loaded: returns an exit
 * code. `arg` is cli_run's, passed through. */
typedef int (*cli_body)(const ledger_config *cfg, const void *arg);

/* The whole life of a subcommand's configuration: builds it from `tables`
 * (NULL-terminated) under the name `program` ("ledger wait"), loads argv
 * (argv[0] = the subcommand's name), runs body(cfg, arg) when
 * it should, and destroys it. Loading sets up logging from log_level and
 * log_format; --help and -X dump print to stdout and exit 0; bad settings
 * print "ledger: invalid ..." to stderr and exit 2 (`usage` and
 * `description` go to the help). Returns the exit code: CLI_EXIT_INFRA
 * ("ledger: out of memory") when the configuration cannot be built. */
int cli_run(const char *program, const ledger_config_setting *const *tables, int argc, char **argv,
            const char *usage, const char *description, cli_body body, const void *arg);

/* Checks the positional arguments against `names` (NULL-terminated, in
 * order): returns true when there are exactly that many; otherwise prints
 * "ledger: missing argument NAME" or "ledger: unexpected argument 'x'",
 * then `usage`, to stderr and returns false (exit CLI_EXIT_USAGE). */
bool cli_expect_args(const ledger_config *cfg, const char *usage, const char *const *names);

/* Prints `obj` as one compact JSON line (keys in insertion order) on stdout,
 * flushed, and releases it (takes the reference; NULL prints nothing). */
void cli_print_json(json_t *obj);

#endif
