/*
 * bench_seed.c - a ledger with many accounts, fast: one AccountOpened event
 * per account written straight to PREFIXevents, for the memory figure of
 * command_side.sh (the RSS of a ledger-producer that has restored them).
 *
 * Why not `ledger open` for each: a million commands would take the
 * producer minutes and fill its deduplication window (a million entries of
 * about 250 bytes, another figure); the restore only replays events, so
 * events are what the accounts need. Each goes to its account's partition
 * (murmur2, as the producer writes them) with seq 1 and a UUID-shaped id.
 * Without --command-ids the events carry no command id, so the restore adds
 * nothing to the deduplication window and the figure is the accounts' alone
 * (with it, each account also costs a window entry, as a restore within 24 h
 * of a million opens without a snapshot would). The topics must exist; the
 * ledger must not already hold these accounts (a second AccountOpened would
 * fail the restore). Prints what it wrote.
 *
 *     bench_seed --brokers B --topic-prefix P [--accounts 1000000] [--stem acct]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_producer.h"
#include "codec.h"
#include "config.h"
#include "kafka.h"
#include "log.h"

static const ledger_config_setting seed_settings[] = {
    {.name = "accounts",
     .flag = "accounts",
     .type = LEDGER_CONFIG_INT,
     .def = "1000000",
     .min = 1,
     .max = 100000000,
     .metavar = "N",
     .help = "accounts to open"},
    {.name = "command_ids",
     .flag = "command-ids",
     .type = LEDGER_CONFIG_BOOL,
     .def = "false",
     .help = "give each event a command id (the restore then fills the dedup window too)"},
    {.name = "stem",
     .flag = "stem",
     .type = LEDGER_CONFIG_STRING,
     .def = "acct",
     .min = 1,
     .max = 40,
     .help = "account ids are STEM-0000000, STEM-0000001, ..."},
    LEDGER_CONFIG_END,
};

int main(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, seed_settings, NULL};
    int exit_code = 1;
    char errstr[1024], topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    bench_delivery_stats stats = {0};

    ledger_config *cfg = ledger_config_new("bench_seed", tables);
    if (cfg == NULL)
        return 1;
    switch (ledger_config_load(cfg, argc - 1, argv + 1, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_OK:
            break;
        case LEDGER_CONFIG_HELP:
            ledger_config_help(cfg, stdout, "bench_seed [options]",
                               "Writes one AccountOpened event per account to PREFIXevents.");
            exit_code = 0;
            goto cleanup;
        default:
            fprintf(stderr, "bench_seed: %s\n", errstr);
            exit_code = 2;
            goto cleanup;
    }
    ledger_log_init("bench_seed", LEDGER_LOG_LEVEL_WARN);
    uint64_t accounts = (uint64_t)ledger_config_int(cfg, "accounts");
    const char *stem = ledger_config_str(cfg, "stem");
    bool command_ids = ledger_config_bool(cfg, "command_ids");
    if (ledger_kafka_topic_name(ledger_config_str(cfg, "topic_prefix"), LEDGER_KAFKA_TOPIC_EVENTS,
                                topic, sizeof(topic)) != 0) {
        fprintf(stderr, "bench_seed: invalid topic prefix: names too long\n");
        goto cleanup;
    }
    codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL) {
        fprintf(stderr, "bench_seed: %s\n", errstr);
        goto cleanup;
    }
    static const char *const producer_defaults[] = {"linger.ms", "20",
                                                    "queue.buffering.max.messages", "500000", NULL};
    rk = bench_producer_new("bench_seed", ledger_config_str(cfg, "brokers"), cfg, producer_defaults,
                            &stats);
    if (rk == NULL)
        goto cleanup;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL) {
        fprintf(stderr, "bench_seed: cannot use topic '%s'\n", topic);
        goto cleanup;
    }

    ledger_event e;
    ledger_event_init(&e);
    e.type = LEDGER_EVENT_ACCOUNT_OPENED;
    e.seq = 1;
    e.at_ms = INT64_C(1795687200000);
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    for (uint64_t i = 0; i < accounts; i++) {
        snprintf(e.account, sizeof(e.account), "%s-%07" PRIu64, stem, i);
        snprintf(e.event_id, sizeof(e.event_id), "5eed0000-0000-4000-8000-%012" PRIu64, i);
        if (command_ids)
            snprintf(e.command_id, sizeof(e.command_id), "seed-%" PRIu64, i);
        size_t len = 0;
        if (ledger_codec_encode_event(codec, &e, buf, sizeof(buf), &len, errstr, sizeof(errstr)) !=
            0) {
            fprintf(stderr, "bench_seed: %s\n", errstr);
            goto cleanup;
        }
        /* The key hashed by murmur2_random: the account's partition. */
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf, len,
                                e.account, strlen(e.account), NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench_seed: cannot produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                goto cleanup;
            }
            rd_kafka_poll(rk, 10);
        }
        if (i % 4096 == 0)
            rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 300000) != RD_KAFKA_RESP_ERR_NO_ERROR || stats.failed > 0) {
        fprintf(
            stderr, "bench_seed: %" PRIu64 " events not delivered: %s\n",
            accounts - stats.delivered,
            rd_kafka_err2str(stats.failed > 0 ? stats.first_err : RD_KAFKA_RESP_ERR__TIMED_OUT));
        goto cleanup;
    }
    printf("seed: %" PRIu64 " AccountOpened events (%s-0000000 ...) written to '%s'\n",
           stats.delivered, stem, topic);
    exit_code = 0;

cleanup:
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ledger_codec_destroy(codec);
    ledger_config_destroy(cfg);
    return exit_code;
}
