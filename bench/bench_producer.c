/*
 * bench_producer.c - see bench_producer.h.
 */
#include "bench_producer.h"

#include <stdio.h>
#include <string.h>

#include "kafka.h"

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    bench_delivery_stats *stats = opaque;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        stats->delivered++;
    else if (stats->failed++ == 0)
        stats->first_err = msg->err;
}

static int given_by_x(const ledger_config *cfg, const char *key) {
    size_t n = cfg != NULL ? ledger_config_rdkafka_count(cfg) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        ledger_config_rdkafka_get(cfg, i, &k, &v);
        if (strcmp(k, key) == 0)
            return 1;
    }
    return 0;
}

static int set_default(const char *who, rd_kafka_conf_t *conf, const ledger_config *cfg,
                       const char *key, const char *value) {
    char why[256];
    if (given_by_x(cfg, key) ||
        rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    fprintf(stderr, "%s: cannot set '%s=%s': %s\n", who, key, value, why);
    return -1;
}

rd_kafka_t *bench_producer_new(const char *who, const char *brokers, const ledger_config *cfg,
                               const char *const *defaults, bench_delivery_stats *stats) {
    char errstr[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_PRODUCER, cfg, errstr, sizeof(errstr));
    if (conf == NULL) {
        fprintf(stderr, "%s: %s\n", who, errstr);
        return NULL;
    }
    if (set_default(who, conf, cfg, "enable.idempotence", "true") != 0)
        goto fail;
    for (size_t i = 0; defaults != NULL && defaults[i] != NULL; i += 2) {
        if (set_default(who, conf, cfg, defaults[i], defaults[i + 1]) != 0)
            goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
    rd_kafka_conf_set_opaque(conf, stats);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "%s: cannot create the producer: %s\n", who, errstr);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
