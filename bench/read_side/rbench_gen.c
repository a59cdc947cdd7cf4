/*
 * rbench_gen.c - fills PREFIXevents with the benchmark stream
 * (rbench_events.h): valid Avro events from the real codec, keyed by
 * account and partitioned with murmur2 as the producer does, through an
 * idempotent (not transactional) producer, which is much faster and gives
 * read_committed consumers the same records. Prints events/s. Writes N
 * events, or N + 1 when the last is a transfer (both halves go out).
 *
 *     rbench_gen --brokers B --topic-prefix P [--events N] [--accounts A]
 *                [--stem S] [--seed X]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_producer.h"
#include "codec.h"
#include "kafka.h"
#include "log.h"
#include "rbench_events.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *buf, size_t len,
                   const char *key) {
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)buf, len, key,
                            strlen(key), NULL) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "rbench_gen: cannot produce: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        rd_kafka_poll(rk, 5);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *brokers = "127.0.0.1:9092", *prefix = "ledger.", *stem = "rb";
    uint64_t events = 1000000, accounts = 100000, seed = 1;
    static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
                                         {"topic-prefix", required_argument, NULL, 'p'},
                                         {"events", required_argument, NULL, 'n'},
                                         {"accounts", required_argument, NULL, 'a'},
                                         {"stem", required_argument, NULL, 's'},
                                         {"seed", required_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'b':
                brokers = optarg;
                break;
            case 'p':
                prefix = optarg;
                break;
            case 'n':
                events = strtoull(optarg, NULL, 10);
                break;
            case 'a':
                accounts = strtoull(optarg, NULL, 10);
                break;
            case 's':
                stem = optarg;
                break;
            case 'x':
                seed = strtoull(optarg, NULL, 10);
                break;
            default:
                return 2;
        }
    }
    if (accounts == 0 || events < accounts) {
        fprintf(stderr, "rbench_gen: invalid sizes: need events >= accounts > 0\n");
        return 2;
    }
    ledger_log_init("rbench_gen", LEDGER_LOG_LEVEL_WARN);
    int exit_code = 1;
    char errstr[512], topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    rbench_events *gen = NULL;
    bench_delivery_stats stats = {0};

    if (ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_EVENTS, topic, sizeof(topic)) != 0) {
        fprintf(stderr, "rbench_gen: invalid topic prefix '%s'\n", prefix);
        return 2;
    }
    codec = ledger_codec_new(errstr, sizeof(errstr));
    gen = rbench_events_new(stem, accounts, events, seed);
    if (codec == NULL || gen == NULL) {
        fprintf(stderr, "rbench_gen: %s\n", codec == NULL ? errstr : "out of memory");
        goto cleanup;
    }
    static const char *const producer_defaults[] = {
        "linger.ms", "20", "batch.num.messages", "10000", "queue.buffering.max.messages",
        "1000000",   NULL};
    rk = bench_producer_new("rbench_gen", brokers, NULL, producer_defaults, &stats);
    if (rk == NULL)
        goto cleanup;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL)
        goto cleanup;

    double t0 = now_s();
    uint64_t written = 0;
    ledger_event ev[2];
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    while (written < events) {
        int n = rbench_events_next(gen, ev);
        for (int i = 0; i < n; i++) {
            size_t len = 0;
            if (ledger_codec_encode_event(codec, &ev[i], buf, sizeof(buf), &len, errstr,
                                          sizeof(errstr)) != 0) {
                fprintf(stderr, "rbench_gen: %s\n", errstr);
                goto cleanup;
            }
            if (produce(rk, rkt, buf, len, ev[i].account) != 0)
                goto cleanup;
            if (++written % 8192 == 0)
                rd_kafka_poll(rk, 0);
        }
    }
    if (rd_kafka_flush(rk, 600000) != RD_KAFKA_RESP_ERR_NO_ERROR || stats.failed > 0) {
        fprintf(
            stderr, "rbench_gen: %" PRIu64 " events not delivered: %s\n", written - stats.delivered,
            rd_kafka_err2str(stats.failed > 0 ? stats.first_err : RD_KAFKA_RESP_ERR__TIMED_OUT));
        goto cleanup;
    }
    double dt = now_s() - t0;
    printf("gen: %" PRIu64 " events over %" PRIu64 " accounts to '%s' in %.2f s (%.0f events/s)\n",
           stats.delivered, accounts, topic, dt, (double)stats.delivered / dt);
    exit_code = 0;

cleanup:
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    rbench_events_destroy(gen);
    ledger_codec_destroy(codec);
    return exit_code;
}
