/*
 * cli.c - the subcommand dispatcher and the shared configuration loading.
 *
 * Kept apart from ledger.c so that nested command groups (`ledger admin
 * ...`) dispatch with the same code and print the same messages.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "log.h"

static void print_table(FILE *out, const char *path, const cli_command *table, size_t n) {
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", path);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-16s %s\n", table[i].name, table[i].help);
    fprintf(out,
            "\n'%s <command> --help' documents each command's options and environment "
            "variables.\n",
            path);
}

int cli_dispatch(const char *path, const cli_command *table, size_t n, int argc, char **argv) {
    if (argc < 1) {
        print_table(stderr, path, table, n);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 ||
        strcmp(argv[0], "help") == 0) {
        print_table(stdout, path, table, n);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], table[i].name) == 0)
            return table[i].run(argc, argv);
    }
    fprintf(stderr, "%s: unknown command '%s'\n", path, argv[0]);
    print_table(stderr, path, table, n);
    return CLI_EXIT_USAGE;
}

bool cli_load(ledger_config *cfg, int argc, char **argv, const char *usage, const char *description,
              int *exit_code) {
    char errstr[1024];
    switch (ledger_config_load(cfg, argc, argv, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_HELP:
            ledger_config_help(cfg, stdout, usage, description);
            *exit_code = CLI_EXIT_OK;
            return false;
        case LEDGER_CONFIG_DUMP:
            if (ledger_kafka_conf_dump(cfg, stdout, errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "ledger: %s\n", errstr);
                *exit_code = CLI_EXIT_USAGE;
            } else {
                *exit_code = CLI_EXIT_OK;
            }
            return false;
        case LEDGER_CONFIG_ERROR:
            fprintf(stderr, "ledger: %s\n", errstr);
            *exit_code = CLI_EXIT_USAGE;
            return false;
        case LEDGER_CONFIG_OK:
            break;
    }
    ledger_log_level level = LEDGER_LOG_LEVEL_INFO;
    (void)ledger_log_level_parse(ledger_config_str(cfg, "log_level"), &level);
    ledger_log_init("ledger", level);
    ledger_log_format log_format = LEDGER_LOG_FORMAT_TEXT;
    (void)ledger_log_format_parse(ledger_config_str(cfg, "log_format"), &log_format);
    ledger_log_set_format(log_format);
    *exit_code = CLI_EXIT_OK;
    return true;
}
