/*
 * kafka.c - client configurations, topic names, ping, topic creation and the
 * Java murmur2 partitioner.
 *
 * Every client is configured here so that the partitioner, the log routing
 * and the -X pass-through are the same in every program: a producer that
 * forgot partitioner=murmur2_random would silently put an account's events
 * on another partition than its commands. Topic creation waits for the
 * metadata to show the new topics, because a client that starts right after
 * set-up would otherwise race the controller.
 */
#include "kafka.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errstr.h"
#include "log.h"

/* ---- configuration ---- */

rd_kafka_conf_t *ledger_kafka_conf_new(const char *brokers, ledger_kafka_role role,
                                       const ledger_config *cfg, char *errstr, size_t errstr_size) {
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, ledger_log_rdkafka_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        ledger_errf(errstr, errstr_size, "invalid brokers '%s': %s", brokers, why);
        goto fail;
    }
    if (role == LEDGER_KAFKA_PRODUCER && rd_kafka_conf_set(conf, "partitioner", "murmur2_random",
                                                           why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        ledger_errf(errstr, errstr_size, "cannot set partitioner: %s", why);
        goto fail;
    }
    size_t n = cfg != NULL ? ledger_config_rdkafka_count(cfg) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        ledger_config_rdkafka_get(cfg, i, &key, &value);
        if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            ledger_errf(errstr, errstr_size, "invalid -X '%s=%s': %s", key, value, why);
            goto fail;
        }
    }
    return conf;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int is_secret_key(const char *key) {
    return strstr(key, "password") != NULL || strstr(key, "secret") != NULL ||
           strstr(key, "sasl.oauthbearer.config") != NULL;
}

int ledger_kafka_conf_dump(const ledger_config *cfg, FILE *out, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_PRODUCER, cfg, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    ledger_config_dump(cfg, out);
    fprintf(out, "# librdkafka configuration (producer)\n");
    size_t cnt = 0;
    const char **pairs = rd_kafka_conf_dump(conf, &cnt);
    for (size_t i = 0; i + 1 < cnt; i += 2)
        fprintf(out, "%s = %s\n", pairs[i], is_secret_key(pairs[i]) ? "***" : pairs[i + 1]);
    rd_kafka_conf_dump_free(pairs, cnt);
    /* Topic-level properties (partitioner among them) live in the default
     * topic configuration, which the global dump leaves out. */
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf);
    if (tconf != NULL) {
        fprintf(out, "# librdkafka default topic configuration\n");
        pairs = rd_kafka_topic_conf_dump(tconf, &cnt);
        for (size_t i = 0; i + 1 < cnt; i += 2)
            fprintf(out, "%s = %s\n", pairs[i], pairs[i + 1]);
        rd_kafka_conf_dump_free(pairs, cnt);
    }
    rd_kafka_conf_destroy(conf);
    return 0;
}

/* ---- topics ---- */

static const char *const topic_suffixes[LEDGER_KAFKA_TOPIC_COUNT] = {
    "commands", "events", "command-results", "snapshots", "events.dlq",
};

const char *ledger_kafka_topic_suffix(ledger_kafka_topic topic) {
    return topic < LEDGER_KAFKA_TOPIC_COUNT ? topic_suffixes[topic] : NULL;
}

int ledger_kafka_topic_name(const char *prefix, ledger_kafka_topic topic, char *buf, size_t size) {
    if (topic >= LEDGER_KAFKA_TOPIC_COUNT)
        return -1;
    int n = snprintf(buf, size, "%s%s", prefix != NULL ? prefix : "", topic_suffixes[topic]);
    if (n < 0 || (size_t)n >= size || n > LEDGER_KAFKA_TOPIC_NAME_BUF - 1)
        return -1;
    return 0;
}

int ledger_kafka_topic_spec_init(ledger_kafka_topic_spec *spec, const char *name, int partitions,
                                 int replication_factor) {
    memset(spec, 0, sizeof(*spec));
    spec->partitions = partitions;
    spec->replication_factor = replication_factor;
    size_t len = strlen(name);
    if (len >= sizeof(spec->name))
        return -1;
    memcpy(spec->name, name, len + 1);
    return 0;
}

static void spec_add_config(ledger_kafka_topic_spec *spec, const char *key, const char *value) {
    if (spec->config_count < LEDGER_KAFKA_TOPIC_CONFIG_MAX) {
        spec->config[spec->config_count].key = key;
        spec->config[spec->config_count].value = value;
        spec->config_count++;
    }
}

int ledger_kafka_ledger_topic_specs(const char *prefix, int partitions, int replication_factor,
                                    ledger_kafka_topic_spec *specs, char *errstr,
                                    size_t errstr_size) {
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        char name[LEDGER_KAFKA_TOPIC_NAME_BUF];
        if (ledger_kafka_topic_name(prefix, (ledger_kafka_topic)t, name, sizeof(name)) != 0 ||
            ledger_kafka_topic_spec_init(&specs[t], name, partitions, replication_factor) != 0) {
            ledger_errf(errstr, errstr_size,
                        "invalid topic prefix '%s': topic names would be too long", prefix);
            return -1;
        }
    }
    ledger_kafka_topic_spec *events = &specs[LEDGER_KAFKA_TOPIC_EVENTS];
    spec_add_config(events, "retention.ms", "-1");
    spec_add_config(events, "retention.bytes", "-1");
    spec_add_config(events, "cleanup.policy", "delete");
    spec_add_config(&specs[LEDGER_KAFKA_TOPIC_SNAPSHOTS], "cleanup.policy", "compact");
    spec_add_config(&specs[LEDGER_KAFKA_TOPIC_EVENTS_DLQ], "retention.ms", "-1");
    return 0;
}

int ledger_kafka_ensure_ledger_topics(const ledger_config *cfg, volatile sig_atomic_t *stop,
                                      ledger_kafka_topic_outcome *outcomes, char *errstr,
                                      size_t errstr_size) {
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    if (ledger_kafka_ledger_topic_specs(
            ledger_config_str(cfg, "topic_prefix"), (int)ledger_config_int(cfg, "partitions"),
            (int)ledger_config_int(cfg, "replication_factor"), specs, errstr, errstr_size) != 0)
        return -1;
    int64_t pause_ms = 500;
    while (!*stop) {
        if (ledger_kafka_create_topics(ledger_config_str(cfg, "brokers"), cfg, specs,
                                       LEDGER_KAFKA_TOPIC_COUNT, 2000, outcomes, errstr,
                                       errstr_size) == 0)
            return 0;
        LOG_WARN("topics not ready, retrying in %lld ms: %s", (long long)pause_ms, errstr);
        for (int64_t until = ledger_mono_ms() + pause_ms; !*stop && ledger_mono_ms() < until;) {
            struct timespec slice = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
            nanosleep(&slice, NULL);
        }
        if (pause_ms < 8000)
            pause_ms *= 2;
    }
    return 1;
}

int64_t ledger_kafka_first_offset(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int timeout_ms) {
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || low < 0) {
        LOG_DEBUG("'%s' [%d]: cannot look up its first offset (%s): librdkafka will", topic,
                  (int)partition, rd_kafka_err2str(err));
        return RD_KAFKA_OFFSET_BEGINNING;
    }
    return low;
}

int ledger_kafka_err_is_unreachable(rd_kafka_resp_err_t err) {
    /* Local errors are negative; the broker's own are positive. */
    return err < 0 && err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Fills outcomes[i].partitions from one metadata answer; returns how many
 * specs are fully visible (every partition has a leader). */
static size_t count_visible(const rd_kafka_metadata_t *md, const ledger_kafka_topic_spec *specs,
                            size_t n, ledger_kafka_topic_outcome *outcomes) {
    size_t visible = 0;
    for (size_t i = 0; i < n; i++) {
        for (int t = 0; t < md->topic_cnt; t++) {
            const rd_kafka_metadata_topic_t *mt = &md->topics[t];
            if (strcmp(mt->topic, specs[i].name) != 0 || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
                mt->partition_cnt <= 0)
                continue;
            int led = 0;
            for (int p = 0; p < mt->partition_cnt; p++)
                led += mt->partitions[p].leader >= 0 && mt->partitions[p].err == 0;
            outcomes[i].partitions = mt->partition_cnt;
            if (led == mt->partition_cnt)
                visible++;
        }
    }
    return visible;
}

/* Polls metadata until every spec is visible or the deadline passes. */
static int wait_visible(rd_kafka_t *rk, const ledger_kafka_topic_spec *specs, size_t n,
                        ledger_kafka_topic_outcome *outcomes, int64_t deadline, char *errstr,
                        size_t errstr_size) {
    for (;;) {
        int64_t left = deadline - ledger_mono_ms();
        if (left <= 0)
            break;
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(rk, 1 /* all topics */, NULL, &md, (int)(left > 5000 ? 5000 : left));
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            size_t visible = count_visible(md, specs, n, outcomes);
            rd_kafka_metadata_destroy(md);
            if (visible == n)
                return 0;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ledger_errf(errstr, errstr_size, "topics created but not all visible in the metadata in time");
    return -1;
}

int ledger_kafka_create_topics(const char *brokers, const ledger_config *cfg,
                               const ledger_kafka_topic_spec *specs, size_t n, int timeout_ms,
                               ledger_kafka_topic_outcome *outcomes, char *errstr,
                               size_t errstr_size) {
    int rc = -1;
    char why[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_NewTopic_t **topics = NULL;
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *event = NULL;
    int64_t deadline = ledger_mono_ms() + timeout_ms;

    for (size_t i = 0; i < n; i++) {
        outcomes[i].err = RD_KAFKA_RESP_ERR__FAIL;
        outcomes[i].partitions = -1;
        snprintf(outcomes[i].errstr, sizeof(outcomes[i].errstr), "not attempted");
    }
    if (n == 0)
        return 0;

    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_ADMIN, cfg, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ledger_errf(errstr, errstr_size, "cannot create a kafka client: %s", why);
        return -1;
    }
    conf = NULL; /* owned by rk now */

    topics = calloc(n, sizeof(*topics));
    if (topics == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        topics[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
                                          specs[i].replication_factor, why, sizeof(why));
        if (topics[i] == NULL) {
            ledger_errf(errstr, errstr_size, "invalid topic '%s': %s", specs[i].name, why);
            goto cleanup;
        }
        for (size_t c = 0; c < specs[i].config_count; c++) {
            rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(
                topics[i], specs[i].config[c].key, specs[i].config[c].value);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                ledger_errf(errstr, errstr_size, "invalid config '%s=%s' for topic '%s': %s",
                            specs[i].config[c].key, specs[i].config[c].value, specs[i].name,
                            rd_kafka_err2str(err));
                goto cleanup;
            }
        }
    }

    options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, why, sizeof(why)) != 0 ||
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, why, sizeof(why)) != 0) {
        ledger_errf(errstr, errstr_size, "invalid timeout %d ms: %s", timeout_ms, why);
        goto cleanup;
    }
    queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, n, options, queue);

    /* librdkafka ends the request at its own timeout; the margin only
     * guards against waiting forever. */
    event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    if (event == NULL || rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resp_err_t err =
            event != NULL ? rd_kafka_event_error(event) : RD_KAFKA_RESP_ERR__TIMED_OUT;
        const char *detail =
            event != NULL ? rd_kafka_event_error_string(event) : "no answer to CreateTopics";
        for (size_t i = 0; i < n; i++) {
            outcomes[i].err = err;
            snprintf(outcomes[i].errstr, sizeof(outcomes[i].errstr), "%s", detail);
        }
        ledger_errf(errstr, errstr_size, "cannot create topics on '%s': %s", brokers, detail);
        goto cleanup;
    }

    const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(result, &cnt);
    int failed = 0;
    for (size_t r = 0; r < cnt; r++) {
        const char *name = rd_kafka_topic_result_name(results[r]);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(name, specs[i].name) != 0)
                continue;
            outcomes[i].err = rd_kafka_topic_result_error(results[r]);
            const char *msg = rd_kafka_topic_result_error_string(results[r]);
            snprintf(outcomes[i].errstr, sizeof(outcomes[i].errstr), "%s",
                     msg != NULL ? msg : rd_kafka_err2str(outcomes[i].err));
        }
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = outcomes[i].err;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            continue;
        if (!failed)
            ledger_errf(errstr, errstr_size, "cannot create topic '%s': %s", specs[i].name,
                        outcomes[i].errstr);
        failed = 1;
    }
    if (failed)
        goto cleanup;

    rc = wait_visible(rk, specs, n, outcomes, deadline, errstr, errstr_size);

cleanup:
    if (event != NULL)
        rd_kafka_event_destroy(event);
    if (queue != NULL)
        rd_kafka_queue_destroy(queue);
    if (options != NULL)
        rd_kafka_AdminOptions_destroy(options);
    if (topics != NULL) {
        for (size_t i = 0; i < n; i++) {
            if (topics[i] != NULL)
                rd_kafka_NewTopic_destroy(topics[i]);
        }
        free(topics);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- ping ---- */

/* Filled by the error callback: the last transport error, which says more
 * ("Connection refused") than the metadata call's own result. */
typedef struct ping_state {
    char last_error[512];
} ping_state;

static void ping_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)err;
    ping_state *state = opaque;
    snprintf(state->last_error, sizeof(state->last_error), "%s", reason);
}

/* A failed ping is an answer, not an incident: librdkafka's connection
 * errors go to the debug level, and the caller reports the outcome. */
static void ping_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)level;
    LOG_DEBUG("rdkafka %s %s: %s", rk != NULL ? rd_kafka_name(rk) : "-", fac, buf);
}

int ledger_kafka_ping(const char *brokers, int timeout_ms, char *errstr, size_t errstr_size) {
    return ledger_kafka_ping_cfg(brokers, NULL, timeout_ms, errstr, errstr_size);
}

int ledger_kafka_ping_cfg(const char *brokers, const ledger_config *cfg, int timeout_ms,
                          char *errstr, size_t errstr_size) {
    ping_state state = {.last_error = ""};
    char why[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(brokers, LEDGER_KAFKA_ADMIN, cfg, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_set_log_cb(conf, ping_log_cb);
    rd_kafka_conf_set_error_cb(conf, ping_error_cb);
    rd_kafka_conf_set_opaque(conf, &state);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ledger_errf(errstr, errstr_size, "cannot create a kafka client: %s", why);
        return -1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 0 /* no topics: brokers only */, NULL, &md, timeout_ms);
    int rc = 0;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->broker_cnt < 1) {
            ledger_errf(errstr, errstr_size, "'%s' answered with no brokers", brokers);
            rc = -1;
        }
        rd_kafka_metadata_destroy(md);
    } else {
        rd_kafka_poll(rk, 0); /* serves the error callback */
        if (state.last_error[0] != '\0')
            ledger_errf(errstr, errstr_size, "no answer from '%s' within %d ms: %s (%s)", brokers,
                        timeout_ms, rd_kafka_err2str(err), state.last_error);
        else
            ledger_errf(errstr, errstr_size, "no answer from '%s' within %d ms: %s", brokers,
                        timeout_ms, rd_kafka_err2str(err));
        rc = -1;
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- partitioning ---- */

int32_t ledger_kafka_murmur2(const void *data, size_t len) {
    /* Kafka's Utils.murmur2 in unsigned arithmetic: Java's int overflow
     * wraps, and >>> is a logical shift, which uint32_t gives directly. */
    const unsigned char *b = data;
    const uint32_t seed = 0x9747b28cu;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        const unsigned char *p = b + i * 4;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char *tail = b + blocks * 4;
    switch (len % 4) {
        case 3:
            h ^= (uint32_t)tail[2] << 16;
            /* fall through */
        case 2:
            h ^= (uint32_t)tail[1] << 8;
            /* fall through */
        case 1:
            h ^= (uint32_t)tail[0];
            h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h; /* two's complement: the value Java's int holds */
}

int32_t ledger_partition_for_key(const void *key, size_t len, int32_t partition_count) {
    if (partition_count < 1)
        return -1;
    /* Java's Utils.toPositive: clear the sign bit (not Math.abs). */
    uint32_t positive = (uint32_t)ledger_kafka_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)partition_count);
}

/* ---- closing a group consumer ---- */

int ledger_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms,
                                ledger_kafka_rebalance_fn *rebalance, void *opaque) {
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
    bool closed = false;
    if (error != NULL) {
        LOG_WARN("closing the consumer: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        int64_t deadline = ledger_mono_ms() + timeout_ms;
        while (!(closed = rd_kafka_consumer_closed(rk) != 0) && ledger_mono_ms() < deadline) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (ev == NULL)
                continue;
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                rd_kafka_topic_partition_list_t *parts = rd_kafka_event_topic_partition_list(ev);
                if (rebalance != NULL) {
                    /* The close's revocation goes where a plain close
                     * would have sent it: the program's rebalance callback
                     * (it logs it and lets go of the partitions' state). */
                    rebalance(rk, rd_kafka_event_error(ev), parts, opaque);
                } else if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
                    rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
                    if (e != NULL)
                        rd_kafka_error_destroy(e);
                } else {
                    rd_kafka_assign(rk, NULL);
                }
            }
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    if (!closed) {
        /* rd_kafka_destroy would wait for the coordinator just the same
         * (its main thread ends only once the group handler has): the
         * handle is left to the process's exit. */
        LOG_WARN("the consumer did not close within %d ms (Kafka unreachable?): exiting without "
                 "leaving the group; the broker notices at the session timeout",
                 timeout_ms);
        return -1;
    }
    rd_kafka_destroy(rk);
    return 0;
}
