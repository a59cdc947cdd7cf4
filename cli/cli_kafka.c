/*
 * cli_kafka.c - the CLI's consumer and producer configurations and its
 * metadata question.
 *
 * The consumer has no group: the CLI reads exactly the partitions it
 * computes (a command id's result partition, an account's events
 * partition), from offsets it picks, and must never disturb the offsets of
 * a real consumer group. It reads read_committed because the producer
 * writes events and results in transactions: an aborted result must never
 * be printed.
 */
#include "cli_kafka.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errstr.h"

void cli_kafka_format_duration(int64_t ms, char *buf, size_t size) {
    if (ms % 1000 == 0)
        snprintf(buf, size, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, size, "%lld ms", (long long)ms);
}

int cli_kafka_topic_name(const ledger_config *cfg, ledger_kafka_topic topic, char *buf, size_t size,
                         char *errstr, size_t errstr_size) {
    const char *prefix = ledger_config_str(cfg, "topic_prefix");
    if (ledger_kafka_topic_name(prefix, topic, buf, size) != 0) {
        ledger_errf(errstr, errstr_size, "invalid topic prefix '%s': topic names would be too long",
                    prefix);
        return -1;
    }
    return 0;
}

/* Sets key unless the user gave it with -X (theirs was applied already). */
static int set_default(rd_kafka_conf_t *conf, const ledger_config *cfg, const char *key,
                       const char *value, char *errstr, size_t errstr_size) {
    size_t n = ledger_config_rdkafka_count(cfg);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        ledger_config_rdkafka_get(cfg, i, &k, &v);
        if (strcmp(k, key) == 0)
            return 0;
    }
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        ledger_errf(errstr, errstr_size, "cannot set '%s=%s': %s", key, value, why);
        return -1;
    }
    return 0;
}

rd_kafka_t *cli_kafka_consumer_new(const ledger_config *cfg, bool partition_eof, char *errstr,
                                   size_t errstr_size) {
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_CONSUMER, cfg, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    /* librdkafka 2.0 refuses rd_kafka_assign without a group.id; the group
     * is never joined (assign only) and nothing is committed to it. */
    if (set_default(conf, cfg, "group.id", "ledger-cli", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "isolation.level", "read_committed", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "enable.auto.commit", "false", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "enable.auto.offset.store", "false", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "enable.partition.eof", partition_eof ? "true" : "false", errstr,
                    errstr_size) != 0 ||
        /* a result or an event is at most a few KiB: small fetches answer sooner */
        set_default(conf, cfg, "fetch.wait.max.ms", "100", errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ledger_errf(errstr, errstr_size, "cannot create a kafka consumer: %s", why);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *cli_kafka_producer_new(const ledger_config *cfg, int message_timeout_ms,
                                   void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                     void *),
                                   void *opaque, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_PRODUCER, cfg, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%d", message_timeout_ms);
    /* linger.ms: a command's wait before it is sent is latency (measured at
     * 2,000 commands/s: p50 4 to 9 ms lower with 1 than with 5); under a
     * stream, batches fill while earlier requests are in flight anyway
     * (`ledger submit` ran as fast with 1). */
    if (set_default(conf, cfg, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "linger.ms", "1", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "batch.num.messages", "10000", errstr, errstr_size) != 0 ||
        set_default(conf, cfg, "queue.buffering.max.messages", "200000", errstr, errstr_size) !=
            0 ||
        set_default(conf, cfg, "message.timeout.ms", timeout, errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (dr_msg_cb != NULL)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ledger_errf(errstr, errstr_size, "cannot create a kafka producer: %s", why);
        return NULL;
    }
    return rk;
}

int cli_kafka_partition_count(rd_kafka_t *rk, const ledger_config *cfg, const char *topic,
                              int timeout_ms, char *errstr, size_t errstr_size) {
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1 /* all topics */, NULL, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ledger_errf(errstr, errstr_size, "kafka unreachable at '%s': %s",
                    ledger_config_str(cfg, "brokers"), rd_kafka_err2str(err));
        return -1;
    }
    int count = -1;
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (strcmp(mt->topic, topic) == 0 && mt->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            mt->partition_cnt > 0)
            count = mt->partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    if (count < 0)
        ledger_errf(errstr, errstr_size,
                    "topic '%s' does not exist (run 'ledger admin create-topics')", topic);
    return count;
}

/* Errors a freshly created topic or a leader change gives for a moment. */
static bool is_transient(rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
           err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
           err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
           err == RD_KAFKA_RESP_ERR__TRANSPORT;
}

int cli_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                         int64_t *low, int64_t *high, char *errstr, size_t errstr_size) {
    int64_t deadline = ledger_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ledger_mono_ms();
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, partition, low, high,
                                                                   left > 1000 ? 1000
                                                                   : left > 0  ? (int)left
                                                                               : 1);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (!is_transient(err) || ledger_mono_ms() >= deadline) {
            ledger_errf(errstr, errstr_size, "cannot read the offsets of '%s' partition %d: %s",
                        topic, (int)partition, rd_kafka_err2str(err));
            return -1;
        }
        /* a leader being elected: ask again shortly */
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
}
