/*
 * rbench_common.c - see rbench_common.h.
 */
#include "rbench_common.h"

#include <stdio.h>
#include <time.h>

#include "kafka.h"

double rbench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int rbench_topic_ends(const char *brokers, const char *topic, int64_t *ends, int *n) {
    char errstr[512];
    int rc = -1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    if (conf == NULL) {
        fprintf(stderr, "rbench: %s\n", errstr);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "rbench: cannot create a consumer: %s\n", errstr);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt > RBENCH_MAX_PARTITIONS) {
        fprintf(stderr, "rbench: no metadata for topic '%s': %s\n", topic, rd_kafka_err2str(err));
        goto cleanup;
    }
    *n = md->topics[0].partition_cnt;
    for (int p = 0; p < *n; p++) {
        int64_t lo = 0, hi = 0;
        err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "rbench: no watermarks for '%s' [%d]: %s\n", topic, p,
                    rd_kafka_err2str(err));
            goto cleanup;
        }
        ends[p] = hi;
    }
    rc = 0;
cleanup:
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}
