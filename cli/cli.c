/*
 * cli.c - the subcommand dispatcher, the shared configuration loading and
 * the argument and output steps every subcommand takes the same way.
 *
 * Kept apart from ledger.c so that nested command groups (`ledger admin
 * ...`) dispatch with the same code and print the same messages.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
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

/* Loads `cfg` from argv (the arguments after the subcommand name) and sets
 * up logging from its log_level and log_format. Returns true when the
 * subcommand should run; otherwise it has printed the help (stdout), the -X
 * dump (stdout) or the error (stderr, "ledger: invalid ..."), and
 * *exit_code says how to exit. `usage` and `description` go to the help. */
static bool cli_load(ledger_config *cfg, int argc, char **argv, const char *usage,
                     const char *description, int *exit_code) {
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
    /* Every subcommand ends with one line saying what failed, if anything. */
    ledger_log_set_rdkafka_debug(true);
    *exit_code = CLI_EXIT_OK;
    return true;
}

int cli_run(const char *program, const ledger_config_setting *const *tables, int argc, char **argv,
            const char *usage, const char *description, cli_body body, const void *arg) {
    ledger_config *cfg = ledger_config_new(program, tables);
    if (cfg == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        return CLI_EXIT_INFRA;
    }
    int exit_code = CLI_EXIT_OK;
    if (cli_load(cfg, argc - 1, argv + 1, usage, description, &exit_code))
        exit_code = body(cfg, arg);
    ledger_config_destroy(cfg);
    return exit_code;
}

bool cli_expect_args(const ledger_config *cfg, const char *usage, const char *const *names) {
    int want = 0;
    while (names[want] != NULL)
        want++;
    int got = ledger_config_positional_count(cfg);
    if (got < want)
        fprintf(stderr, "ledger: missing argument %s\nusage: %s\n", names[got], usage);
    else if (got > want)
        fprintf(stderr, "ledger: unexpected argument '%s'\nusage: %s\n",
                ledger_config_positional(cfg, want), usage);
    return got == want;
}

void cli_print_json(json_t *obj) {
    char *text = obj == NULL ? NULL : json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(obj);
    fflush(stdout);
}
