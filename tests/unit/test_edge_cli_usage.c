/*
 * test_edge_cli_usage.c - the `ledger` binary from the outside, where no
 * broker is needed: the subcommand table and its help, exit code 2 with one
 * message naming the bad setting, --help for a subcommand, and -X dump.
 * (SPEC sections 2 and 8.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cli_run.h"

static cli_result res;

Test(cli_usage, no_command_is_a_usage_error_listing_the_commands) {
    const char *argv[] = {NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strstr(res.err, "usage: ledger <command>") != NULL, "%s", res.err);
    cr_assert(strstr(res.err, "admin") != NULL, "%s", res.err);
}

Test(cli_usage, help_lists_the_commands_on_stdout) {
    const char *argv[] = {"--help", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 0);
    cr_assert(strstr(res.out, "\n  admin ") != NULL, "%s", res.out);
    cr_assert_str_eq(res.err, "");
}

Test(cli_usage, unknown_command_exits_2_and_names_it) {
    const char *argv[] = {"bogus", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strncmp(res.err, "ledger: unknown command 'bogus'\n", 32) == 0, "%s", res.err);

    const char *argv2[] = {"admin", "nope", NULL};
    cli_run(&res, argv2, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strncmp(res.err, "ledger admin: unknown command 'nope'\n", 37) == 0, "%s", res.err);
}

Test(cli_usage, bad_flag_value_exits_2_naming_the_flag) {
    const char *argv[] = {"admin", "create-topics", "--partitions", "0", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert_str_eq(res.err, "ledger: invalid --partitions '0': must be between 1 and 10000\n");
    cr_assert_str_eq(res.out, "");
}

Test(cli_usage, bad_environment_value_exits_2_naming_the_variable) {
    const char *argv[] = {"admin", "ping", NULL};
    const char *env[] = {"LEDGER_BROKERS=host:1, host:2", NULL};
    cli_run(&res, argv, env);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strncmp(res.err, "ledger: invalid LEDGER_BROKERS 'host:1, host:2': ", 49) == 0, "%s",
              res.err);
}

Test(cli_usage, unknown_rdkafka_property_exits_2_with_librdkafkas_reason) {
    const char *argv[] = {"admin", "ping", "-X", "no.such=1", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert(strstr(res.err, "invalid -X 'no.such=1': No such configuration property") != NULL,
              "%s", res.err);
}

Test(cli_usage, stray_argument_exits_2) {
    const char *argv[] = {"admin", "ping", "extra", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2);
    cr_assert_str_eq(res.err, "ledger: unexpected argument 'extra'\n");
}

Test(cli_usage, subcommand_help_documents_flags_and_environment) {
    const char *argv[] = {"admin", "create-topics", "--help", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 0);
    const char *want[] = {"usage: ledger admin create-topics",
                          "--brokers",
                          "LEDGER_BROKERS",
                          "--partitions",
                          "LEDGER_PARTITIONS",
                          "--replication-factor",
                          "LEDGER_REPLICATION_FACTOR",
                          "--topic-prefix",
                          "LEDGER_TOPIC_PREFIX",
                          "--timeout",
                          "-X KEY=VALUE",
                          "-X dump"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(res.out, want[i]) != NULL, "'%s' missing:\n%s", want[i], res.out);
}

Test(cli_usage, dump_prints_ours_and_librdkafkas_effective_settings) {
    const char *argv[] = {"admin", "ping", "-X", "linger.ms=7", "-X", "dump", NULL};
    const char *env[] = {"LEDGER_TOPIC_PREFIX=acme.", NULL};
    cli_run(&res, argv, env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    const char *want[] = {"brokers = 127.0.0.1:9092  # default\n",
                          "topic_prefix = acme.  # LEDGER_TOPIC_PREFIX\n", "-X linger.ms = 7\n",
                          /* librdkafka dumps bootstrap.servers under its alias */
                          "metadata.broker.list = 127.0.0.1:9092\n",
                          "partitioner = murmur2_random\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(res.out, want[i]) != NULL, "'%s' missing:\n%s", want[i], res.out);
}

Test(cli_usage, another_partitioner_is_refused_as_bad_usage) {
    const char *argv[] = {"admin", "ping", "-X", "partitioner=consistent_random", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2, "%s", res.err);
    cr_assert(strncmp(res.err, "ledger: invalid -X 'partitioner=consistent_random': ", 52) == 0,
              "%s", res.err);
}
