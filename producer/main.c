/*
 * main.c - `ledger-producer`: loads the configuration (flags win over the
 * environment), refuses a bad one with exit 2 before touching Kafka, and
 * runs the service until SIGTERM or SIGINT.
 *
 * The signal handler only sets a volatile sig_atomic_t flag: the service
 * polls with short timeouts and checks it between batches, so a stop always
 * ends with the current transaction committed or aborted, the consumer group
 * left cleanly, and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "kafka.h"
#include "log.h"
#include "service.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char description[] =
    "The ledger's command handler. Consumes PREFIXcommands, decides each command against\n"
    "the state of its account (restored from PREFIXsnapshots and PREFIXevents) and writes\n"
    "events, transfer steps, results, deduplication entries and snapshots in Kafka\n"
    "transactions, exactly once. Instances of one group share the command partitions.\n"
    "Logs go to stderr; SIGTERM or SIGINT stops it after the current batch.\n"
    "Exit codes: 0 stopped cleanly, 1 fatal error, 2 invalid configuration.";

int main(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_topic_settings, ledger_config_common_settings,
        ledger_config_ops_settings,   producer_service_settings,    NULL};
    int exit_code = 0;
    char errstr[1024];
    ledger_config *cfg = ledger_config_new("ledger-producer", tables);
    if (cfg == NULL) {
        fprintf(stderr, "ledger-producer: out of memory\n");
        return 1;
    }
    switch (ledger_config_load(cfg, argc - 1, argv + 1, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_HELP:
            ledger_config_help(cfg, stdout, "ledger-producer [options]", description);
            goto cleanup;
        case LEDGER_CONFIG_DUMP:
            if (ledger_kafka_conf_dump(cfg, stdout, errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "ledger-producer: %s\n", errstr);
                exit_code = 2;
            }
            goto cleanup;
        case LEDGER_CONFIG_ERROR:
            fprintf(stderr, "ledger-producer: %s\n", errstr);
            exit_code = 2;
            goto cleanup;
        case LEDGER_CONFIG_OK:
            break;
    }
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger-producer: unexpected argument '%s'\n",
                ledger_config_positional(cfg, 0));
        exit_code = 2;
        goto cleanup;
    }
    ledger_log_level level = LEDGER_LOG_LEVEL_INFO;
    (void)ledger_log_level_parse(ledger_config_str(cfg, "log_level"), &level);
    ledger_log_init("ledger-producer", level);
    ledger_log_format log_format = LEDGER_LOG_FORMAT_TEXT;
    (void)ledger_log_format_parse(ledger_config_str(cfg, "log_format"), &log_format);
    ledger_log_set_format(log_format);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    producer_service *svc = producer_service_new(cfg, errstr, sizeof(errstr));
    if (svc == NULL) {
        /* Every setting was valid, so what fails here is a librdkafka
         * property given with -X that only a client can refuse. Logged: in
         * the json format too, every line after the configuration is. */
        LOG_ERROR("%s", errstr);
        exit_code = 2;
        goto cleanup;
    }
    exit_code = producer_service_run(svc, &stop_requested);
    producer_service_destroy(svc);
    LOG_INFO("stopped");

cleanup:
    ledger_config_destroy(cfg);
    return exit_code;
}
