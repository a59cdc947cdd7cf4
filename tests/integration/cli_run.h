/*
 * cli_run.h - runs the built `ledger` binary (LEDGER_BIN, set by CMake) with
 * arguments and extra environment, and captures its exit code, stdout and
 * stderr, for the tests that check the CLI from the outside.
 */
#ifndef LEDGER_TEST_CLI_RUN_H
#define LEDGER_TEST_CLI_RUN_H

#include <stddef.h>

typedef struct cli_result {
    int exit_code; /* -1 when it did not exit normally */
    char out[16384];
    char err[16384];
} cli_result;

/* Runs LEDGER_BIN with argv (NULL-terminated, without the program name) in
 * an environment without any LEDGER_* variable except the NAME=VALUE strings
 * of env (NULL-terminated, may be NULL). Output beyond the buffers is cut. Fails
 * the calling test when the program cannot be started. */
void cli_run(cli_result *res, const char *const *argv, const char *const *env);

#endif
