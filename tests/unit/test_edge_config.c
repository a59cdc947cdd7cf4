/*
 * test_edge_config.c - the configuration table: defaults < environment <
 * flags, every type's parsing and bounds, one error naming the bad setting
 * as the user wrote it, -X pass-through checked by librdkafka, -X dump,
 * --help listing every flag and variable, and secrets kept out of messages.
 *
 * Criterion runs each test in its own process, so setenv here cannot leak
 * into another test.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const ledger_config_setting test_settings[] = {
    {.name = "partitions",
     .env = "LEDGER_TEST_PARTITIONS",
     .flag = "partitions",
     .type = LEDGER_CONFIG_INT,
     .def = "6",
     .min = 1,
     .max = 100,
     .help = "partitions per topic"},
    {.name = "verbose",
     .env = "LEDGER_TEST_VERBOSE",
     .flag = "verbose",
     .type = LEDGER_CONFIG_BOOL,
     .def = "false",
     .help = "say more"},
    {.name = "timeout",
     .env = "LEDGER_TEST_TIMEOUT",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "5s",
     .min = 1,
     .max = 3600000,
     .help = "how long to wait"},
    {.name = "metrics_url",
     .env = "LEDGER_TEST_METRICS_URL",
     .flag = "metrics-url",
     .type = LEDGER_CONFIG_URL,
     .def = "http://127.0.0.1:9100/metrics",
     .format = "http://host:port/path",
     .help = "where metrics are pushed"},
    {.name = "env_only",
     .env = "LEDGER_TEST_ENV_ONLY",
     .type = LEDGER_CONFIG_STRING,
     .def = "",
     .help = "a setting without a flag"},
    LEDGER_CONFIG_END,
};

static const ledger_config_setting *const all_tables[] = {
    ledger_config_kafka_settings, ledger_config_redis_settings, ledger_config_common_settings,
    test_settings, NULL};

static char errstr[1024];

/* Loads a configuration over all_tables from a NULL-terminated argv. */
static ledger_config_status load(ledger_config **cfg, char **argv) {
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    *cfg = ledger_config_new("test", all_tables);
    cr_assert_not_null(*cfg);
    errstr[0] = '\0';
    return ledger_config_load(*cfg, argc, argv, errstr, sizeof(errstr));
}

Test(config_precedence, defaults_apply_when_nothing_is_given) {
    ledger_config *cfg;
    char *argv[] = {NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    /* SPEC section 2 defaults. */
    cr_assert_str_eq(ledger_config_str(cfg, "brokers"), "127.0.0.1:9092");
    cr_assert_str_eq(ledger_config_str(cfg, "redis_url"), "redis://127.0.0.1:6379/0");
    cr_assert_str_eq(ledger_config_str(cfg, "topic_prefix"), "ledger.");
    cr_assert_eq(ledger_config_int(cfg, "partitions"), 6);
    cr_assert_eq(ledger_config_duration_ms(cfg, "timeout"), 5000);
    cr_assert_not(ledger_config_bool(cfg, "verbose"));
    cr_assert_not(ledger_config_is_set(cfg, "brokers"));
    ledger_config_destroy(cfg);
}

Test(config_precedence, environment_overrides_default) {
    setenv("LEDGER_BROKERS", "envhost:1234", 1);
    setenv("LEDGER_TEST_PARTITIONS", "12", 1);
    ledger_config *cfg;
    char *argv[] = {NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_str_eq(ledger_config_str(cfg, "brokers"), "envhost:1234");
    cr_assert_eq(ledger_config_int(cfg, "partitions"), 12);
    cr_assert(ledger_config_is_set(cfg, "brokers"));
    ledger_config_destroy(cfg);
}

Test(config_precedence, flag_overrides_environment) {
    setenv("LEDGER_BROKERS", "envhost:1234", 1);
    setenv("LEDGER_TEST_PARTITIONS", "12", 1);
    ledger_config *cfg;
    char *argv[] = {"--brokers", "flaghost:9", "--partitions=24", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_str_eq(ledger_config_str(cfg, "brokers"), "flaghost:9");
    cr_assert_eq(ledger_config_int(cfg, "partitions"), 24);
    ledger_config_destroy(cfg);
}

Test(config_precedence, bad_environment_value_overridden_by_a_flag_is_no_error) {
    setenv("LEDGER_REDIS_URL", "foo", 1);
    ledger_config *cfg;
    char *argv[] = {"--redis-url", "redis://10.0.0.1:6380/2", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_str_eq(ledger_config_str(cfg, "redis_url"), "redis://10.0.0.1:6380/2");
    ledger_config_destroy(cfg);
}

Test(config_precedence, later_flag_wins_over_earlier_one) {
    ledger_config *cfg;
    char *argv[] = {"--partitions", "3", "--partitions", "4", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_eq(ledger_config_int(cfg, "partitions"), 4);
    ledger_config_destroy(cfg);
}

Test(config_errors, bad_environment_url_is_named_by_its_variable) {
    setenv("LEDGER_REDIS_URL", "foo", 1);
    ledger_config *cfg;
    char *argv[] = {NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    /* The message the task's brief gives as the example. */
    cr_assert_str_eq(errstr, "invalid LEDGER_REDIS_URL 'foo': expected redis://host:port/db");
    ledger_config_destroy(cfg);
}

Test(config_errors, bad_flag_is_named_by_its_flag) {
    setenv("LEDGER_TEST_PARTITIONS", "7", 1);
    ledger_config *cfg;
    char *argv[] = {"--partitions", "0", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "invalid --partitions '0': must be between 1 and 100");
    ledger_config_destroy(cfg);
}

Test(config_errors, int_rejects_trailing_garbage_blanks_and_overflow) {
    const char *bad[] = {"12x", " 5", "5 ", "", "1e3", "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ledger_config *cfg;
        char *argv[] = {"--partitions", (char *)bad[i], NULL};
        cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR, "'%s' accepted", bad[i]);
        cr_assert(strstr(errstr, "--partitions") != NULL, "%s", errstr);
        ledger_config_destroy(cfg);
    }
}

Test(config_types, durations_in_every_unit) {
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {{"250ms", 250}, {"3", 3000},     {"1.5s", 1500},
                 {"2m", 120000}, {"1h", 3600000}, {"0.25", 250}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ledger_config *cfg;
        char *argv[] = {"--timeout", (char *)cases[i].text, NULL};
        cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s: %s", cases[i].text, errstr);
        cr_assert_eq(ledger_config_duration_ms(cfg, "timeout"), cases[i].ms, "%s", cases[i].text);
        ledger_config_destroy(cfg);
    }
}

Test(config_types, bad_durations_are_rejected) {
    const char *bad[] = {"-1", "5 s", "s", "1.s", "5x", "2h", "0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ledger_config *cfg;
        char *argv[] = {"--timeout", (char *)bad[i], NULL};
        cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR, "'%s' accepted", bad[i]);
        cr_assert(strncmp(errstr, "invalid --timeout '", 19) == 0, "%s", errstr);
        ledger_config_destroy(cfg);
    }
}

Test(config_types, bool_flag_alone_means_true_and_takes_explicit_values) {
    ledger_config *cfg;
    char *argv[] = {"--verbose", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert(ledger_config_bool(cfg, "verbose"));
    ledger_config_destroy(cfg);

    setenv("LEDGER_TEST_VERBOSE", "yes", 1);
    char *argv2[] = {"--verbose=off", NULL};
    cr_assert_eq(load(&cfg, argv2), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_not(ledger_config_bool(cfg, "verbose"));
    ledger_config_destroy(cfg);

    setenv("LEDGER_TEST_VERBOSE", "maybe", 1);
    char *argv3[] = {NULL};
    cr_assert_eq(load(&cfg, argv3), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "invalid LEDGER_TEST_VERBOSE 'maybe': expected true or false");
    ledger_config_destroy(cfg);
}

Test(config_types, brokers_prefix_and_log_level_are_checked) {
    static const struct {
        const char *env, *value, *subject;
    } cases[] = {
        {"LEDGER_BROKERS", "", "LEDGER_BROKERS"},
        {"LEDGER_BROKERS", "a:1,,b:2", "LEDGER_BROKERS"},
        {"LEDGER_TOPIC_PREFIX", "bad prefix", "LEDGER_TOPIC_PREFIX"},
        {"LEDGER_LOG_LEVEL", "loud", "LEDGER_LOG_LEVEL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv(cases[i].env, cases[i].value, 1);
        ledger_config *cfg;
        char *argv[] = {NULL};
        cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR, "%s='%s' accepted", cases[i].env,
                     cases[i].value);
        char want[128];
        snprintf(want, sizeof(want), "invalid %s '%s': ", cases[i].subject, cases[i].value);
        cr_assert(strncmp(errstr, want, strlen(want)) == 0, "%s", errstr);
        ledger_config_destroy(cfg);
        unsetenv(cases[i].env);
    }
}

Test(config_errors, unknown_option_and_missing_value) {
    ledger_config *cfg;
    char *argv[] = {"--nope", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "unknown option '--nope'");
    ledger_config_destroy(cfg);

    char *argv2[] = {"--brokers", NULL};
    cr_assert_eq(load(&cfg, argv2), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "option '--brokers' requires a value");
    ledger_config_destroy(cfg);

    char *argv3[] = {"-v", NULL};
    cr_assert_eq(load(&cfg, argv3), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "unknown option '-v'");
    ledger_config_destroy(cfg);
}

Test(config_errors, secret_is_not_repeated_in_the_error) {
    setenv("LEDGER_REDIS_URL", "redis://admin:hunter2@host:notaport/0", 1);
    ledger_config *cfg;
    char *argv[] = {NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    cr_assert(strstr(errstr, "LEDGER_REDIS_URL") != NULL, "%s", errstr);
    cr_assert(strstr(errstr, "invalid port 'notaport'") != NULL, "%s", errstr);
    cr_assert(strstr(errstr, "hunter2") == NULL, "password leaked: %s", errstr);
    ledger_config_destroy(cfg);
}

Test(config_args, positionals_keep_order_and_negative_numbers) {
    ledger_config *cfg;
    char *argv[] = {"A", "--partitions", "2", "-5", "--", "--not-a-flag", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_eq(ledger_config_positional_count(cfg), 3);
    cr_assert_str_eq(ledger_config_positional(cfg, 0), "A");
    cr_assert_str_eq(ledger_config_positional(cfg, 1), "-5");
    cr_assert_str_eq(ledger_config_positional(cfg, 2), "--not-a-flag");
    cr_assert_null(ledger_config_positional(cfg, 3));
    cr_assert_eq(ledger_config_int(cfg, "partitions"), 2);
    ledger_config_destroy(cfg);
}

Test(config_rdkafka, properties_are_kept_in_order) {
    ledger_config *cfg;
    char *argv[] = {"-X", "linger.ms=5", "-Xclient.id=abc=def", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_eq(ledger_config_rdkafka_count(cfg), 2);
    const char *key, *value;
    ledger_config_rdkafka_get(cfg, 0, &key, &value);
    cr_assert_str_eq(key, "linger.ms");
    cr_assert_str_eq(value, "5");
    ledger_config_rdkafka_get(cfg, 1, &key, &value);
    cr_assert_str_eq(key, "client.id");
    cr_assert_str_eq(value, "abc=def");
    ledger_config_destroy(cfg);
}

Test(config_rdkafka, librdkafka_rejects_unknown_properties_and_bad_values) {
    ledger_config *cfg;
    char *argv[] = {"-X", "no.such.property=1", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    cr_assert(strncmp(errstr, "invalid -X 'no.such.property=1': ", 33) == 0, "%s", errstr);
    cr_assert(strstr(errstr, "No such configuration property") != NULL, "%s", errstr);
    ledger_config_destroy(cfg);

    char *argv2[] = {"-X", "linger.ms=soon", NULL};
    cr_assert_eq(load(&cfg, argv2), LEDGER_CONFIG_ERROR);
    cr_assert(strncmp(errstr, "invalid -X 'linger.ms=soon': ", 29) == 0, "%s", errstr);
    ledger_config_destroy(cfg);

    char *argv3[] = {"-X", "novalue", NULL};
    cr_assert_eq(load(&cfg, argv3), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr, "invalid -X 'novalue': expected key=value or dump");
    ledger_config_destroy(cfg);
}

Test(config_rdkafka, dump_is_reported_only_when_everything_is_valid) {
    ledger_config *cfg;
    char *argv[] = {"-X", "dump", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_DUMP, "%s", errstr);
    ledger_config_destroy(cfg);

    char *argv2[] = {"-X", "dump", "--partitions", "0", NULL};
    cr_assert_eq(load(&cfg, argv2), LEDGER_CONFIG_ERROR);
    ledger_config_destroy(cfg);
}

Test(config_output, dump_shows_values_and_sources_and_masks_secrets) {
    setenv("LEDGER_REDIS_URL", "redis://admin:hunter2@cache:6379/1", 1);
    ledger_config *cfg;
    char *argv[] = {"--partitions", "9", "-X", "sasl.password=letmein", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_OK, "%s", errstr);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ledger_config_dump(cfg, out);
    fclose(out);
    cr_assert(strstr(text, "partitions = 9  # --partitions\n") != NULL, "%s", text);
    cr_assert(strstr(text, "brokers = 127.0.0.1:9092  # default\n") != NULL, "%s", text);
    cr_assert(strstr(text, "redis_url = redis://admin:***@cache:6379/1  # LEDGER_REDIS_URL\n") !=
                  NULL,
              "%s", text);
    cr_assert(strstr(text, "hunter2") == NULL, "%s", text);
    cr_assert(strstr(text, "letmein") == NULL, "%s", text);
    free(text);
    ledger_config_destroy(cfg);
}

Test(config_output, help_documents_every_flag_and_environment_variable) {
    ledger_config *cfg;
    char *argv[] = {"--partitions", "0", "--help", NULL};
    /* --help wins even over a bad value given before it. */
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_HELP);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ledger_config_help(cfg, out, "test [options]", "A test program.");
    fclose(out);
    cr_assert(strncmp(text, "usage: test [options]\n", 22) == 0, "%s", text);
    for (size_t t = 0; all_tables[t] != NULL; t++) {
        for (const ledger_config_setting *s = all_tables[t]; s->name != NULL; s++) {
            if (s->flag != NULL) {
                char flag[64];
                snprintf(flag, sizeof(flag), "--%s", s->flag);
                cr_assert(strstr(text, flag) != NULL, "%s missing from help:\n%s", flag, text);
            }
            if (s->env != NULL)
                cr_assert(strstr(text, s->env) != NULL, "%s missing from help:\n%s", s->env, text);
            cr_assert(strstr(text, s->help) != NULL, "help of %s missing", s->name);
        }
    }
    cr_assert(strstr(text, "-X KEY=VALUE") != NULL);
    cr_assert(strstr(text, "-X dump") != NULL);
    free(text);
    ledger_config_destroy(cfg);
}

Test(config_types, url_needs_the_scheme_of_its_format) {
    ledger_config *cfg;
    char *argv[] = {"--metrics-url", "https://x:1/m", NULL};
    cr_assert_eq(load(&cfg, argv), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(errstr,
                     "invalid --metrics-url 'https://x:1/m': expected http://host:port/path");
    ledger_config_destroy(cfg);

    char *argv2[] = {"--metrics-url", "http://x:1/m", NULL};
    cr_assert_eq(load(&cfg, argv2), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_str_eq(ledger_config_str(cfg, "metrics_url"), "http://x:1/m");
    ledger_config_destroy(cfg);

    /* The Redis URL's own check gives the more precise reason. */
    char *argv3[] = {"--redis-url", "rediss://cache:6379/0", NULL};
    cr_assert_eq(load(&cfg, argv3), LEDGER_CONFIG_ERROR);
    cr_assert_str_eq(
        errstr, "invalid --redis-url 'rediss://cache:6379/0': tls (rediss://) is not supported");
    ledger_config_destroy(cfg);
}

/* ---- the operations settings and the log format ---- */

static const ledger_config_setting *const ops_tables[] = {ledger_config_common_settings,
                                                          ledger_config_ops_settings, NULL};

static ledger_config_status load_ops(ledger_config **cfg, char **argv) {
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    *cfg = ledger_config_new("test", ops_tables);
    cr_assert_not_null(*cfg);
    errstr[0] = '\0';
    return ledger_config_load(*cfg, argc, argv, errstr, sizeof(errstr));
}

Test(config_ops, the_endpoint_is_off_unless_a_port_is_given) {
    ledger_config *cfg;
    char *none[] = {NULL};
    cr_assert_eq(load_ops(&cfg, none), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert_not(ledger_config_is_set(cfg, "http_port"));
    cr_assert_str_eq(ledger_config_str(cfg, "http_bind"), "0.0.0.0");
    cr_assert_str_eq(ledger_config_str(cfg, "log_format"), "text");
    ledger_config_destroy(cfg);

    setenv("LEDGER_HTTP_PORT", "9464", 1);
    setenv("LEDGER_LOG_FORMAT", "json", 1);
    char *port0[] = {"--http-port", "0", "--http-bind", "127.0.0.1", NULL};
    cr_assert_eq(load_ops(&cfg, port0), LEDGER_CONFIG_OK, "%s", errstr);
    cr_assert(ledger_config_is_set(cfg, "http_port"));
    cr_assert_eq(ledger_config_int(cfg, "http_port"), 0, "the flag wins; 0 is any free port");
    cr_assert_str_eq(ledger_config_str(cfg, "http_bind"), "127.0.0.1");
    cr_assert_str_eq(ledger_config_str(cfg, "log_format"), "json");
    ledger_config_destroy(cfg);
}

Test(config_ops, bad_ports_and_formats_are_named) {
    static const struct {
        const char *flag, *value, *want;
    } cases[] = {
        {"--http-port", "65536", "invalid --http-port '65536': "},
        {"--http-port", "-1", "invalid --http-port '-1': "},
        {"--http-port", "http", "invalid --http-port 'http': "},
        {"--log-format", "xml", "invalid --log-format 'xml': expected text or json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ledger_config *cfg;
        char *argv[] = {(char *)cases[i].flag, (char *)cases[i].value, NULL};
        cr_assert_eq(load_ops(&cfg, argv), LEDGER_CONFIG_ERROR, "%s %s accepted", cases[i].flag,
                     cases[i].value);
        cr_assert(strncmp(errstr, cases[i].want, strlen(cases[i].want)) == 0, "%s", errstr);
        ledger_config_destroy(cfg);
    }
}
