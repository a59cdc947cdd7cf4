/*
 * rbench_latency.c - figure (e): end-to-end latency from append to visible
 * in a running balance projector's Redis. Appends fresh accounts' events
 * (rbench_events.h, stem STEM) at a fixed RATE for SECONDS through an
 * idempotent producer (linger.ms=1), records each event's append time and,
 * from its delivery report, its partition and offset; meanwhile it polls
 * the view's checkpoints every millisecond: an event is visible once its
 * partition's checkpoint is past its offset (the same condition as a query
 * with --after P:O). Latency = that poll's time - the append call's time,
 * so it includes the producer's linger and the broker's ack.
 *
 *     rbench_latency BROKERS TOPIC_PREFIX REDIS_PORT NS STEM RATE SECONDS
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "kafka.h"
#include "log.h"
#include "projector_keys.h"
#include "rbench_common.h"
#include "rbench_events.h"

typedef struct lat_state {
    size_t n;
    double *appended; /* per event: when it was produced */
    int32_t *partition;
    int64_t *offset; /* -1 until delivered */
    size_t **queue;  /* per partition: delivered events in offset order */
    size_t *q_head, *q_len;
    double *latency;
    size_t visible, failed;
} lat_state;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    lat_state *s = opaque;
    size_t i = (size_t)(uintptr_t)msg->_private;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR || msg->partition >= RBENCH_MAX_PARTITIONS) {
        s->failed++;
        return;
    }
    s->partition[i] = msg->partition;
    s->offset[i] = msg->offset;
    s->queue[msg->partition][s->q_len[msg->partition]++] = i;
}

static int poll_visible(redisContext *rc, const char *ns, lat_state *s) {
    char key[PROJECTOR_KEY_BUF];
    int64_t gen = PROJECTOR_FIRST_GENERATION;
    projector_keys_current(ns, "balance", key, sizeof(key));
    redisReply *r = redisCommand(rc, "GET %s", key);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        gen = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    projector_keys_checkpoints(ns, "balance", gen, key, sizeof(key));
    r = redisCommand(rc, "HGETALL %s", key);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    double now = rbench_now();
    for (size_t k = 0; k + 1 < r->elements; k += 2) {
        int p = atoi(r->element[k]->str);
        int64_t cp = strtoll(r->element[k + 1]->str, NULL, 10);
        if (p < 0 || p >= RBENCH_MAX_PARTITIONS)
            continue;
        while (s->q_head[p] < s->q_len[p] && s->offset[s->queue[p][s->q_head[p]]] < cp) {
            size_t i = s->queue[p][s->q_head[p]++];
            s->latency[s->visible++] = now - s->appended[i];
        }
    }
    freeReplyObject(r);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr,
                "usage: rbench_latency BROKERS TOPIC_PREFIX REDIS_PORT NS STEM RATE SECONDS\n");
        return 2;
    }
    const char *brokers = argv[1], *ns = argv[4], *stem = argv[5];
    double rate = atof(argv[6]), seconds = atof(argv[7]);
    size_t n = (size_t)(rate * seconds);
    size_t accounts = n / 20 > 0 ? n / 20 : 1;
    ledger_log_init("rbench_latency", LEDGER_LOG_LEVEL_WARN);
    char errstr[512], topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    if (n == 0 ||
        ledger_kafka_topic_name(argv[2], LEDGER_KAFKA_TOPIC_EVENTS, topic, sizeof(topic)) != 0) {
        fprintf(stderr, "rbench_latency: invalid arguments\n");
        return 2;
    }
    lat_state s = {.n = n};
    s.appended = calloc(n + 1, sizeof(double));
    s.partition = calloc(n + 1, sizeof(int32_t));
    s.offset = calloc(n + 1, sizeof(int64_t));
    s.latency = calloc(n + 1, sizeof(double));
    s.queue = calloc(RBENCH_MAX_PARTITIONS, sizeof(size_t *));
    s.q_head = calloc(RBENCH_MAX_PARTITIONS, sizeof(size_t));
    s.q_len = calloc(RBENCH_MAX_PARTITIONS, sizeof(size_t));
    for (int p = 0; p < RBENCH_MAX_PARTITIONS; p++)
        s.queue[p] = calloc(n + 1, sizeof(size_t));
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    rbench_events *gen = rbench_events_new(stem, accounts, n, 3);
    redisContext *rc = redisConnect("127.0.0.1", atoi(argv[3]));
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
    if (codec == NULL || gen == NULL || rc == NULL || rc->err || conf == NULL ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "linger.ms", "1", errstr, sizeof(errstr))) {
        fprintf(stderr, "rbench_latency: cannot set up: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &s);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "rbench_latency: %s\n", errstr);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    ledger_event two[2];
    int pending = 0, used = 0;
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    double t0 = rbench_now(), last_poll = 0;
    size_t sent = 0;
    while (s.visible + s.failed < n && rbench_now() - t0 < seconds + 60) {
        double now = rbench_now();
        while (sent < n && now - t0 >= (double)sent / rate) {
            if (used == pending) {
                pending = rbench_events_next(gen, two);
                used = 0;
            }
            const ledger_event *e = &two[used++];
            size_t len = 0;
            if (ledger_codec_encode_event(codec, e, buf, sizeof(buf), &len, errstr,
                                          sizeof(errstr)) != 0) {
                fprintf(stderr, "rbench_latency: %s\n", errstr);
                return 1;
            }
            s.appended[sent] = rbench_now();
            s.offset[sent] = -1;
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf, len,
                                 e->account, strlen(e->account), (void *)(uintptr_t)sent) != 0) {
                fprintf(stderr, "rbench_latency: cannot produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                return 1;
            }
            sent++;
        }
        rd_kafka_poll(rk, 0);
        if (now - last_poll >= 0.001) {
            if (poll_visible(rc, ns, &s) != 0) {
                fprintf(stderr, "rbench_latency: redis error\n");
                return 1;
            }
            last_poll = now;
        }
        const struct timespec tick = {0, 200 * 1000};
        nanosleep(&tick, NULL);
    }
    rd_kafka_flush(rk, 10000);
    if (s.visible < n) {
        fprintf(stderr, "rbench_latency: %zu of %zu events visible (%zu failed)\n", s.visible, n,
                s.failed);
        return 1;
    }
    qsort(s.latency, s.visible, sizeof(double), cmp_double);
    double p50 = s.latency[s.visible / 2] * 1e3;
    double p99 = s.latency[(size_t)((double)s.visible * 0.99)] * 1e3;
    double mx = s.latency[s.visible - 1] * 1e3;
    printf("latency: %zu events at %.0f/s: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", s.visible,
           rate, p50, p99, mx);
    printf("RESULT p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", p50, p99, mx);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    redisFree(rc);
    rbench_events_destroy(gen);
    ledger_codec_destroy(codec);
    for (int p = 0; p < RBENCH_MAX_PARTITIONS; p++)
        free(s.queue[p]);
    free(s.queue);
    free(s.q_head);
    free(s.q_len);
    free(s.appended);
    free(s.partition);
    free(s.offset);
    free(s.latency);
    return 0;
}
