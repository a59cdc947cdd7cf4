/*
 * rbench_consume.c - figure (a): the raw consume rate of PREFIXevents, a
 * librdkafka consumer (read_committed, as the projector) that assigns every
 * partition from the beginning and only counts records until each partition
 * reaches its end. The ceiling any projector reading this broker can reach.
 *
 *     rbench_consume BROKERS TOPIC
 */
#include <inttypes.h>
#include <stdio.h>

#include "kafka.h"
#include "log.h"
#include "rbench_common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: rbench_consume BROKERS TOPIC\n");
        return 2;
    }
    ledger_log_init("rbench_consume", LEDGER_LOG_LEVEL_WARN);
    int64_t ends[RBENCH_MAX_PARTITIONS];
    int n = 0;
    char errstr[512];
    if (rbench_topic_ends(argv[1], argv[2], ends, &n) != 0)
        return 1;
    int64_t total = 0;
    for (int p = 0; p < n; p++)
        total += ends[p];

    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(argv[1], LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    if (conf == NULL ||
        rd_kafka_conf_set(conf, "group.id", "rbench-consume", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr))) {
        fprintf(stderr, "rbench_consume: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "rbench_consume: %s\n", errstr);
        return 1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(parts, argv[2], p)->offset =
            ledger_kafka_first_offset(rk, argv[2], p, 5000); /* as the projector starts */
    double t0 = rbench_now();
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);

    int64_t seen = 0, bytes = 0;
    int64_t next[RBENCH_MAX_PARTITIONS] = {0};
    int done = 0;
    for (int p = 0; p < n; p++)
        done += ends[p] == 0;
    while (done < n && rbench_now() - t0 < 600) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            seen++;
            bytes += (int64_t)m->len;
            int32_t p = m->partition;
            if (next[p] < ends[p] && m->offset + 1 >= ends[p])
                done++;
            next[p] = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
    double dt = rbench_now() - t0;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (done < n) {
        fprintf(stderr, "rbench_consume: not at the end after %.0f s\n", dt);
        return 1;
    }
    printf("consume: %" PRId64 " of %" PRId64 " records (%.1f MB) in %.3f s: %.0f records/s\n",
           seen, total, (double)bytes / 1e6, dt, (double)seen / dt);
    printf("RESULT consume_rate=%.0f\n", (double)seen / dt);
    return 0;
}
