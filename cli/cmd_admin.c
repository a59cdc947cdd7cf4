/*
 * cmd_admin.c - `ledger admin ping` and `ledger admin create-topics`.
 *
 * Both exist so that set-up scripts can ask the real question ("does the
 * broker answer a metadata request?", "do the ledger's topics exist with
 * their settings?") instead of probing a port. Output is one JSON object per
 * line on stdout; the reason for a failure goes to stderr, and the exit code
 * says which kind of failure it was (3: the cluster could not be asked).
 */
#include "cmd_admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "kafka.h"
#include "log.h"

/* ---- ping ---- */

static const ledger_config_setting ping_settings[] = {
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "5s",
     .min = 1,
     .max = 600000,
     .metavar = "SECONDS",
     .help = "how long to wait for an answer (seconds, or 500ms, 2m)"},
    LEDGER_CONFIG_END,
};

static int ping_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger: unexpected argument '%s'\n", ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }
    const char *brokers = ledger_config_str(cfg, "brokers");
    int timeout_ms = (int)ledger_config_duration_ms(cfg, "timeout");
    char errstr[1024];
    if (ledger_kafka_ping_cfg(brokers, cfg, timeout_ms, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    cli_print_json(json_pack("{s:s, s:s}", "brokers", brokers, "status", "ok"));
    return CLI_EXIT_OK;
}

static int admin_ping(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, ping_settings, NULL};
    return cli_run("ledger admin ping", tables, argc, argv, "ledger admin ping [options]",
                   "Exits 0 when a Kafka broker answers a metadata request in time, 3 otherwise.",
                   ping_run, NULL);
}

/* ---- create-topics ---- */

static const ledger_config_setting create_topics_settings[] = {
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 600000,
     .metavar = "SECONDS",
     .help = "how long to wait for the broker (seconds, or 500ms, 2m)"},
    LEDGER_CONFIG_END,
};

/* The broker refused what we asked for (the request itself was wrong). */
static int is_bad_input(rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
           err == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
           err == RD_KAFKA_RESP_ERR_INVALID_CONFIG || err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
}

static int create_topics_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger: unexpected argument '%s'\n", ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }

    int exit_code = CLI_EXIT_OK;
    const char *brokers = ledger_config_str(cfg, "brokers");
    int partitions = (int)ledger_config_int(cfg, "partitions");
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[1024];
    if (ledger_kafka_ledger_topic_specs(ledger_config_str(cfg, "topic_prefix"), partitions,
                                        (int)ledger_config_int(cfg, "replication_factor"), specs,
                                        errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }
    int rc = ledger_kafka_create_topics(brokers, cfg, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                        (int)ledger_config_duration_ms(cfg, "timeout"), outcomes,
                                        errstr, sizeof(errstr));

    for (size_t i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++) {
        rd_kafka_resp_err_t err = outcomes[i].err;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            continue;
        json_t *line = json_pack("{s:s, s:s}", "topic", specs[i].name, "status",
                                 err == RD_KAFKA_RESP_ERR_NO_ERROR ? "created" : "exists");
        if (line != NULL && outcomes[i].partitions > 0)
            json_object_set_new(line, "partitions", json_integer(outcomes[i].partitions));
        cli_print_json(line);
        if (outcomes[i].partitions > 0 && outcomes[i].partitions != partitions)
            LOG_WARN("topic '%s' has %d partitions, not %d: it was created earlier and is left "
                     "as it is",
                     specs[i].name, outcomes[i].partitions, partitions);
    }
    if (rc != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        exit_code = CLI_EXIT_INFRA;
        for (size_t i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++) {
            if (is_bad_input(outcomes[i].err))
                exit_code = CLI_EXIT_USAGE;
        }
    }
    return exit_code;
}

static int admin_create_topics(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_topic_settings, ledger_config_common_settings,
        create_topics_settings, NULL};
    return cli_run("ledger admin create-topics", tables, argc, argv,
                   "ledger admin create-topics [options]",
                   "Creates the ledger's topics (commands, events, command-results, snapshots,\n"
                   "events.dlq) with their settings; a topic that exists is left as it is.\n"
                   "Prints one line per topic; exits 3 when the broker cannot be reached.",
                   create_topics_run, NULL);
}

/* ---- the group ---- */

static const cli_command admin_commands[] = {
    {"ping", admin_ping, "exit 0 when the Kafka broker answers a metadata request"},
    {"create-topics", admin_create_topics, "create the ledger's topics if missing"},
};

int cmd_admin(int argc, char **argv) {
    return cli_dispatch("ledger admin", admin_commands,
                        sizeof(admin_commands) / sizeof(admin_commands[0]), argc - 1, argv + 1);
}
