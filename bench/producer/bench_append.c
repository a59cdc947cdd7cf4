/*
 * bench_append.c - the ceiling of the command side: how fast librdkafka's
 * idempotent producer appends records the size of the ledger's events to a
 * 6-partition topic of the same broker. Every accepted command costs the
 * producer at least one such append (plus its result and dedup entry), so
 * the commands/s of `ledger submit` is judged against this figure.
 *
 * The records are real events in the mix of gen_commands.py (deposits,
 * withdrawals and TransferSent with UUID ids, encoded by the codec: about
 * 120 bytes), keyed by account so that murmur2_random spreads them as the
 * producer's events are spread. The settings are the ones the
 * producer service uses for its own writes (idempotence, linger.ms=5) with
 * large batches and queues; -X changes any of them. The rate is counted from
 * the first produce call to the last delivery report, so it is what the
 * broker acknowledged, not what was queued. Prints figures; asserts nothing.
 *
 *     bench_append --brokers 127.0.0.1:24092 [--count N] [--topic NAME]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_producer.h"
#include "codec.h"
#include "config.h"
#include "kafka.h"
#include "log.h"

#define SAMPLES    1024
#define ACCOUNTS   10000
#define PARTITIONS 6

static const ledger_config_setting append_settings[] = {
    {.name = "count",
     .flag = "count",
     .type = LEDGER_CONFIG_INT,
     .def = "2000000",
     .min = 1,
     .max = INT64_C(1000000000),
     .metavar = "N",
     .help = "records to append"},
    {.name = "topic",
     .flag = "topic",
     .type = LEDGER_CONFIG_STRING,
     .def = "bench.append",
     .min = 1,
     .max = 249,
     .metavar = "NAME",
     .help = "the topic appended to (created with 6 partitions when missing)"},
    LEDGER_CONFIG_END,
};

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* SAMPLES encoded events over ACCOUNTS accounts. */
static int make_samples(uint8_t (*frames)[LEDGER_CODEC_EVENT_MAX], size_t *lengths,
                        char (*keys)[LEDGER_ACCOUNT_BUF], size_t *total) {
    char err[256];
    ledger_codec *codec = ledger_codec_new(err, sizeof(err));
    if (codec == NULL) {
        fprintf(stderr, "bench_append: %s\n", err);
        return -1;
    }
    *total = 0;
    for (int i = 0; i < SAMPLES; i++) {
        ledger_event e;
        ledger_event_init(&e);
        e.type = i % 10 < 4   ? LEDGER_EVENT_MONEY_DEPOSITED
                 : i % 10 < 7 ? LEDGER_EVENT_MONEY_WITHDRAWN
                              : LEDGER_EVENT_TRANSFER_SENT;
        snprintf(e.event_id, sizeof(e.event_id), "5f0c8e8a-3f57-4c1e-9a53-%012d", i);
        snprintf(e.command_id, sizeof(e.command_id), "1c2f7a4e-6d0b-4b8e-9f3a-%012d", i);
        snprintf(e.account, sizeof(e.account), "acct-%05d", (i * 7919) % ACCOUNTS);
        e.seq = 1 + i;
        e.at_ms = INT64_C(1795687200000) + i;
        e.amount = 100 + i * 37;
        if (e.type == LEDGER_EVENT_TRANSFER_SENT) {
            snprintf(e.counterparty, sizeof(e.counterparty), "acct-%05d", (i * 104729) % ACCOUNTS);
            snprintf(e.transfer_id, sizeof(e.transfer_id), "7d3c6a10-0b8e-4f5a-8c21-%012d", i);
        }
        memcpy(keys[i], e.account, sizeof(keys[i]));
        if (ledger_codec_encode_event(codec, &e, frames[i], LEDGER_CODEC_EVENT_MAX, &lengths[i],
                                      err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_append: %s\n", err);
            ledger_codec_destroy(codec);
            return -1;
        }
        *total += lengths[i];
    }
    ledger_codec_destroy(codec);
    return 0;
}

int main(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, append_settings, NULL};
    int exit_code = 1;
    char errstr[1024];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    static uint8_t frames[SAMPLES][LEDGER_CODEC_EVENT_MAX];
    static size_t lengths[SAMPLES];
    static char keys[SAMPLES][LEDGER_ACCOUNT_BUF];
    bench_delivery_stats stats = {0};

    ledger_config *cfg = ledger_config_new("bench_append", tables);
    if (cfg == NULL)
        return 1;
    switch (ledger_config_load(cfg, argc - 1, argv + 1, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_OK:
            break;
        case LEDGER_CONFIG_HELP:
            ledger_config_help(cfg, stdout, "bench_append [options]",
                               "Appends records of the events' size with an idempotent producer "
                               "and prints the rate.");
            exit_code = 0;
            goto cleanup;
        default:
            fprintf(stderr, "bench_append: %s\n", errstr);
            exit_code = 2;
            goto cleanup;
    }
    ledger_log_init("bench_append", LEDGER_LOG_LEVEL_WARN);
    const char *brokers = ledger_config_str(cfg, "brokers");
    const char *topic = ledger_config_str(cfg, "topic");
    uint64_t count = (uint64_t)ledger_config_int(cfg, "count");

    ledger_kafka_topic_spec spec;
    ledger_kafka_topic_outcome outcome;
    if (ledger_kafka_topic_spec_init(&spec, topic, PARTITIONS, 1) != 0 ||
        ledger_kafka_create_topics(brokers, cfg, &spec, 1, 30000, &outcome, errstr,
                                   sizeof(errstr)) != 0) {
        fprintf(stderr, "bench_append: cannot create topic '%s': %s\n", topic, errstr);
        goto cleanup;
    }

    size_t total_bytes = 0;
    if (make_samples(frames, lengths, keys, &total_bytes) != 0)
        goto cleanup;

    static const char *const producer_defaults[] = {"linger.ms",
                                                    "5",
                                                    "batch.num.messages",
                                                    "10000",
                                                    "queue.buffering.max.messages",
                                                    "1000000",
                                                    "compression.type",
                                                    "none",
                                                    NULL};
    rk = bench_producer_new("bench_append", brokers, cfg, producer_defaults, &stats);
    if (rk == NULL)
        goto cleanup;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL) {
        fprintf(stderr, "bench_append: cannot use topic '%s'\n", topic);
        goto cleanup;
    }

    /* Warm up: connections, the idempotent producer id, metadata. */
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, frames[0], lengths[0],
                         keys[0], strlen(keys[0]), NULL) != 0 ||
        rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR || stats.delivered != 1) {
        fprintf(stderr, "bench_append: the warm-up record was not delivered: %s\n",
                rd_kafka_err2str(stats.failed ? stats.first_err : rd_kafka_last_error()));
        goto cleanup;
    }
    stats.delivered = 0;

    int64_t started = now_us();
    for (uint64_t i = 0; i < count; i++) {
        size_t s = i % SAMPLES;
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, frames[s],
                                lengths[s], keys[s], strlen(keys[s]), NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench_append: produce failed: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                goto cleanup;
            }
            rd_kafka_poll(rk, 1);
        }
        if (i % 1024 == 0)
            rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench_append: not everything was delivered within 120 s\n");
        goto cleanup;
    }
    double elapsed = (double)(now_us() - started) / 1e6;
    if (stats.failed > 0) {
        fprintf(stderr, "bench_append: %" PRIu64 " deliveries failed, the first: %s\n",
                stats.failed, rd_kafka_err2str(stats.first_err));
        goto cleanup;
    }
    double mean = (double)total_bytes / SAMPLES;
    printf("append: %" PRIu64 " records of %.0f bytes (value) in %.2f s: %.0f records/s, %.1f "
           "MB/s\n",
           stats.delivered, mean, elapsed, (double)stats.delivered / elapsed,
           (double)stats.delivered * mean / elapsed / 1e6);
    exit_code = 0;

cleanup:
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ledger_config_destroy(cfg);
    return exit_code;
}
