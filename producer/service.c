/*
 * service.c - the producer's loop: collect a batch of command records,
 * decide them in one transaction, commit the results with the offsets.
 *
 * One transaction per batch, in three phases, because a result must carry
 * the position of its event and positions are only known once delivered:
 *
 *   1. decide: each record, in partition order, against the in-memory state
 *      of its partition; events go to ledger.events (explicit partition =
 *      the command partition, which is murmur2(account) when the topics have
 *      the same partition count, checked at start), transfer steps back to
 *      ledger.commands keyed by the account whose partition must act next;
 *      the state is updated as each event is produced;
 *   2. flush: every delivery report is in, so every event has its offset;
 *   3. results (with positions), `cmd/<id>` deduplication entries, expired
 *      entries' tombstones, due snapshots, the consumed offsets
 *      (send_offsets_to_transaction with the group metadata, so a member of
 *      a stale generation can never commit), then commit.
 *
 * No transaction is open while the consumer is polled, and rebalance
 * callbacks only run inside that poll, so a revoked partition never has
 * uncommitted work: its collected records are dropped (the next owner reads
 * them again) and its state is released. An assigned partition is restored
 * (restore.h) inside the callback, before it is handed to the consumer, so
 * no record of it is handled before its state is complete. The committed
 * offsets are fetched first: with read_committed that fetch waits for a
 * previous owner's pending offset commit, i.e. for its last transaction to
 * end, so the restore sees every event that transaction wrote.
 *
 * When a transaction must be aborted, the in-memory state holds decisions
 * that never happened: the consumer is rewound to the committed offsets and
 * every owned partition is restored again, which is rare and always right.
 */
#include "service.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "codec.h"
#include "decide.h"
#include "entropy.h"
#include "kafka.h"
#include "log.h"
#include "partition.h"
#include "restore.h"

/* Records larger than this on ledger.commands are malformed (contract). */
#define SERVICE_RECORD_MAX (64 * 1024)
/* How long one transactional call (commit, abort, send offsets) may take. */
#define SERVICE_TXN_TIMEOUT_MS 60000
/* How long to wait for a group coordinator answer (committed offsets). */
#define SERVICE_COMMITTED_TIMEOUT_MS 60000

const ledger_config_setting producer_service_settings[] = {
    {.name = "group_id",
     .env = "LEDGER_PRODUCER_GROUP_ID",
     .flag = "group-id",
     .type = LEDGER_CONFIG_STRING,
     .def = "ledger-producer",
     .min = 1,
     .max = 200,
     .metavar = "ID",
     .help = "consumer group of the producer instances (they share the command partitions)"},
    {.name = "transactional_id_prefix",
     .env = "LEDGER_PRODUCER_TRANSACTIONAL_ID_PREFIX",
     .flag = "transactional-id-prefix",
     .type = LEDGER_CONFIG_STRING,
     .def = "ledger-producer",
     .min = 1,
     .max = 150,
     .metavar = "PREFIX",
     .help = "transactional.id is PREFIX-HOSTNAME-PID, distinct for every instance"},
    {.name = "commit_interval",
     .env = "LEDGER_PRODUCER_COMMIT_INTERVAL",
     .flag = "commit-interval",
     .type = LEDGER_CONFIG_DURATION,
     .def = "100ms",
     .min = 1,
     .max = 60000,
     .metavar = "DURATION",
     .help = "longest time a batch collects commands before its transaction"},
    {.name = "max_batch",
     .env = "LEDGER_PRODUCER_MAX_BATCH",
     .flag = "max-batch",
     .type = LEDGER_CONFIG_INT,
     .def = "5000",
     .min = 1,
     .max = 100000,
     .metavar = "N",
     .help = "most command records in one transaction"},
    {.name = "snapshot_every",
     .env = "LEDGER_SNAPSHOT_EVERY",
     .flag = "snapshot-every",
     .type = LEDGER_CONFIG_INT,
     .def = "50000",
     .min = 1,
     .max = 1000000000,
     .metavar = "N",
     .help = "write a partition's snapshot after N events appended to it"},
    {.name = "snapshot_interval",
     .env = "LEDGER_SNAPSHOT_INTERVAL",
     .flag = "snapshot-interval",
     .type = LEDGER_CONFIG_DURATION,
     .def = "60s",
     .min = 1,
     .max = INT64_C(86400000),
     .metavar = "DURATION",
     .help = "or after this long, when it has new events"},
    {.name = "snapshot_max_bytes",
     .env = "LEDGER_SNAPSHOT_MAX_BYTES",
     .flag = "snapshot-max-bytes",
     .type = LEDGER_CONFIG_INT,
     .def = "900000",
     .min = 1024,
     .max = 1000000000,
     .metavar = "BYTES",
     .help = "largest snapshot record written (a larger one is skipped with a warning)"},
    {.name = "dedup_window",
     .env = "LEDGER_DEDUP_WINDOW",
     .flag = "dedup-window",
     .type = LEDGER_CONFIG_DURATION,
     .def = "24h",
     .min = 1000,
     .max = INT64_C(31536000000),
     .metavar = "DURATION",
     .help = "how long a handled command id is remembered for deduplication"},
    {.name = "dedup_max_entries",
     .env = "LEDGER_DEDUP_MAX_ENTRIES",
     .flag = "dedup-max-entries",
     .type = LEDGER_CONFIG_INT,
     .def = "1000000",
     .min = 1,
     .max = 1000000000,
     .metavar = "N",
     .help = "most command ids remembered per partition (about 250 bytes of memory each)"},
    {.name = "partitions",
     .env = "LEDGER_PARTITIONS",
     .flag = "partitions",
     .type = LEDGER_CONFIG_INT,
     .def = "6",
     .min = 1,
     .max = 10000,
     .help = "partitions of the topics created at start when missing"},
    {.name = "replication_factor",
     .env = "LEDGER_REPLICATION_FACTOR",
     .flag = "replication-factor",
     .type = LEDGER_CONFIG_INT,
     .def = "1",
     .min = 1,
     .max = 32767,
     .help = "replicas of the topics created at start when missing"},
    {.name = "restore_timeout",
     .env = "LEDGER_PRODUCER_RESTORE_TIMEOUT",
     .flag = "restore-timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "60s",
     .min = 100,
     .max = INT64_C(3600000),
     .metavar = "DURATION",
     .help = "longest wait for the next record while restoring a partition"},
    LEDGER_CONFIG_END,
};

typedef enum service_txn_status {
    SERVICE_TXN_OK,
    SERVICE_TXN_RETRY,
    SERVICE_TXN_ABORT,
    SERVICE_TXN_FATAL,
} service_txn_status;

struct producer_service {
    const ledger_config *cfg;
    ledger_codec *codec;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    producer_restore *restore;
    rd_kafka_topic_t *rkt_commands, *rkt_events, *rkt_results, *rkt_snapshots;
    char topic_commands[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_events[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_results[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char topic_snapshots[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char transactional_id[512];

    /* settings */
    int64_t commit_interval_ms;
    size_t max_batch;
    int64_t snapshot_every;
    int64_t snapshot_interval_ms;
    size_t snapshot_max_bytes;
    int64_t dedup_window_ms;
    size_t dedup_max_entries;
    int restore_timeout_ms;

    /* partitions of ledger.commands (= of ledger.events) */
    int32_t partition_count;
    producer_partition *parts;
    bool ready; /* the first assignment is restored */
    bool fatal; /* stop: an error the service cannot recover from */

    /* the batch being collected and decided */
    rd_kafka_message_t **msgs;
    size_t msg_count;
    producer_batch *batch;
    rd_kafka_resp_err_t dr_err; /* first failed delivery of the transaction */
    bool produce_failed;        /* a produce call failed inside a callback */
    producer_entropy entropy;

    /* snapshot scratch, grown as needed */
    snapshot_account *snap_accounts;
    size_t snap_accounts_cap;
    uint8_t *snap_buf;
    size_t snap_buf_cap;

    /* counters for the log */
    uint64_t commands_handled;
    uint64_t transactions;
};

static int64_t service_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t service_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- construction ---- */

/* Whether -X set `key`: then the service's own default for it is left out. */
static bool service_x_sets(const ledger_config *cfg, const char *key) {
    size_t n = ledger_config_rdkafka_count(cfg);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        ledger_config_rdkafka_get(cfg, i, &k, &v);
        if (strcmp(k, key) == 0)
            return true;
    }
    return false;
}

static int service_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                            size_t errstr_size) {
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "cannot set '%s=%s': %s", key, value, why);
        return -1;
    }
    return 0;
}

/* A default that -X may override. */
static int service_conf_default(const ledger_config *cfg, rd_kafka_conf_t *conf, const char *key,
                                const char *value, char *errstr, size_t errstr_size) {
    if (service_x_sets(cfg, key))
        return 0;
    return service_conf_set(conf, key, value, errstr, errstr_size);
}

static void service_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    producer_service *svc = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        LOG_ERROR("%s: fatal error: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(orig), why);
        svc->fatal = true;
        return;
    }
    LOG_WARN("%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void service_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
static void service_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque);

static rd_kafka_t *service_new_consumer(producer_service *svc, char *errstr, size_t errstr_size) {
    const ledger_config *cfg = svc->cfg;
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_CONSUMER, cfg, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    /* Offsets are committed only inside transactions; a group that has
     * none starts at the beginning, so no command is skipped. */
    if (service_conf_set(conf, "group.id", ledger_config_str(cfg, "group_id"), errstr,
                         errstr_size) != 0 ||
        service_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) != 0 ||
        service_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) != 0 ||
        service_conf_set(conf, "isolation.level", "read_committed", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "auto.offset.reset", "earliest", errstr, errstr_size) !=
            0 ||
        service_conf_default(cfg, conf, "partition.assignment.strategy", "cooperative-sticky",
                             errstr, errstr_size) != 0 ||
        /* A crashed instance's partitions move after this long (librdkafka's
         * 45 s default would stall them that long). */
        service_conf_default(cfg, conf, "session.timeout.ms", "10000", errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, service_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, service_error_cb);
    rd_kafka_conf_set_opaque(conf, svc);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the consumer: %s", why);
        goto fail;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static rd_kafka_t *service_new_producer(producer_service *svc, char *errstr, size_t errstr_size) {
    const ledger_config *cfg = svc->cfg;
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_PRODUCER, cfg, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    char max_bytes[32];
    size_t message_max = svc->snapshot_max_bytes + 64 * 1024;
    if (message_max < 1000000)
        message_max = 1000000;
    snprintf(max_bytes, sizeof(max_bytes), "%zu", message_max);
    /* transaction.timeout.ms: a crashed instance's open transaction holds
     * back read_committed readers of its partitions until the broker aborts
     * it, so keep it short; batches take milliseconds. */
    if (service_conf_set(conf, "transactional.id", svc->transactional_id, errstr, errstr_size) !=
            0 ||
        service_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "linger.ms", "5", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "transaction.timeout.ms", "10000", errstr, errstr_size) !=
            0 ||
        service_conf_default(cfg, conf, "message.max.bytes", max_bytes, errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, service_dr_cb);
    rd_kafka_conf_set_error_cb(conf, service_error_cb);
    rd_kafka_conf_set_opaque(conf, svc);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the producer: %s", why);
        goto fail;
    }
    return rk;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

producer_service *producer_service_new(const ledger_config *cfg, char *errstr, size_t errstr_size) {
    producer_service *svc = calloc(1, sizeof(*svc));
    if (svc == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    svc->cfg = cfg;
    svc->commit_interval_ms = ledger_config_duration_ms(cfg, "commit_interval");
    svc->max_batch = (size_t)ledger_config_int(cfg, "max_batch");
    svc->snapshot_every = ledger_config_int(cfg, "snapshot_every");
    svc->snapshot_interval_ms = ledger_config_duration_ms(cfg, "snapshot_interval");
    svc->snapshot_max_bytes = (size_t)ledger_config_int(cfg, "snapshot_max_bytes");
    svc->dedup_window_ms = ledger_config_duration_ms(cfg, "dedup_window");
    svc->dedup_max_entries = (size_t)ledger_config_int(cfg, "dedup_max_entries");
    svc->restore_timeout_ms = (int)ledger_config_duration_ms(cfg, "restore_timeout");
    producer_entropy_init(&svc->entropy);

    const char *prefix = ledger_config_str(cfg, "topic_prefix");
    if (ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_COMMANDS, svc->topic_commands,
                                sizeof(svc->topic_commands)) != 0 ||
        ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_EVENTS, svc->topic_events,
                                sizeof(svc->topic_events)) != 0 ||
        ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_COMMAND_RESULTS, svc->topic_results,
                                sizeof(svc->topic_results)) != 0 ||
        ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_SNAPSHOTS, svc->topic_snapshots,
                                sizeof(svc->topic_snapshots)) != 0) {
        snprintf(errstr, errstr_size, "invalid topic prefix '%s': names too long", prefix);
        goto fail;
    }

    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(svc->transactional_id, sizeof(svc->transactional_id), "%s-%s-%ld",
             ledger_config_str(cfg, "transactional_id_prefix"), host, (long)getpid());

    char why[512];
    svc->codec = ledger_codec_new(why, sizeof(why));
    if (svc->codec == NULL) {
        snprintf(errstr, errstr_size, "cannot build the codec: %s", why);
        goto fail;
    }
    svc->batch = producer_batch_new(svc->max_batch);
    svc->msgs = calloc(svc->max_batch, sizeof(*svc->msgs));
    if (svc->batch == NULL || svc->msgs == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    svc->consumer = service_new_consumer(svc, errstr, errstr_size);
    if (svc->consumer == NULL)
        goto fail;
    svc->producer = service_new_producer(svc, errstr, errstr_size);
    if (svc->producer == NULL)
        goto fail;
    char restore_group[300];
    snprintf(restore_group, sizeof(restore_group), "%s.restore",
             ledger_config_str(cfg, "group_id"));
    svc->restore = producer_restore_new(cfg, svc->codec, restore_group, errstr, errstr_size);
    if (svc->restore == NULL)
        goto fail;
    svc->rkt_commands = rd_kafka_topic_new(svc->producer, svc->topic_commands, NULL);
    svc->rkt_events = rd_kafka_topic_new(svc->producer, svc->topic_events, NULL);
    svc->rkt_results = rd_kafka_topic_new(svc->producer, svc->topic_results, NULL);
    svc->rkt_snapshots = rd_kafka_topic_new(svc->producer, svc->topic_snapshots, NULL);
    if (svc->rkt_commands == NULL || svc->rkt_events == NULL || svc->rkt_results == NULL ||
        svc->rkt_snapshots == NULL) {
        snprintf(errstr, errstr_size, "cannot create topic handles: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return svc;

fail:
    producer_service_destroy(svc);
    return NULL;
}

static void service_drop_msgs(producer_service *svc) {
    for (size_t i = 0; i < svc->msg_count; i++)
        rd_kafka_message_destroy(svc->msgs[i]);
    svc->msg_count = 0;
}

void producer_service_destroy(producer_service *svc) {
    if (svc == NULL)
        return;
    service_drop_msgs(svc);
    if (svc->consumer != NULL)
        rd_kafka_destroy(svc->consumer);
    producer_restore_destroy(svc->restore);
    if (svc->rkt_commands != NULL)
        rd_kafka_topic_destroy(svc->rkt_commands);
    if (svc->rkt_events != NULL)
        rd_kafka_topic_destroy(svc->rkt_events);
    if (svc->rkt_results != NULL)
        rd_kafka_topic_destroy(svc->rkt_results);
    if (svc->rkt_snapshots != NULL)
        rd_kafka_topic_destroy(svc->rkt_snapshots);
    if (svc->producer != NULL)
        rd_kafka_destroy(svc->producer);
    for (int32_t p = 0; svc->parts != NULL && p < svc->partition_count; p++)
        producer_partition_release(&svc->parts[p]);
    free(svc->parts);
    free(svc->msgs);
    producer_batch_destroy(svc->batch);
    free(svc->snap_accounts);
    free(svc->snap_buf);
    ledger_codec_destroy(svc->codec);
    free(svc);
}

/* ---- partitions: restore and release ---- */

/* Restores the `n` partitions ids[i] (their previous state is released
 * first) and activates them. Returns 0, or -1 (then none is active). */
static int service_restore(producer_service *svc, const int32_t *ids, size_t n) {
    if (n == 0)
        return 0;
    int rc = -1;
    producer_partition **parts = calloc(n, sizeof(*parts));
    producer_restore_stats *stats = calloc(n, sizeof(*stats));
    if (parts == NULL || stats == NULL) {
        LOG_ERROR("out of memory restoring %zu partition(s)", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        parts[i] = &svc->parts[ids[i]];
        producer_partition_release(parts[i]);
        if (producer_partition_init(parts[i], ids[i]) != 0) {
            LOG_ERROR("out of memory for partition %d", (int)ids[i]);
            goto done;
        }
    }
    char errstr[1024];
    if (producer_restore_partitions(svc->restore, parts, n, svc->restore_timeout_ms, stats, errstr,
                                    sizeof(errstr)) != 0) {
        LOG_ERROR("cannot restore: %s", errstr);
        goto done;
    }
    int64_t now = service_now_ms();
    for (size_t i = 0; i < n; i++) {
        producer_partition *part = parts[i];
        part->active = true;
        part->last_snapshot_ms = now;
        part->events_since_snapshot = (int64_t)stats[i].events_replayed;
        LOG_INFO("partition %d restored: %zu accounts, %zu events replayed in %lld ms (snapshot "
                 "events offset %lld, %zu dedup entries)",
                 (int)part->id, stats[i].accounts, stats[i].events_replayed,
                 (long long)stats[i].elapsed_ms, (long long)stats[i].snapshot_events_offset,
                 stats[i].dedup_entries);
    }
    rc = 0;

done:
    if (rc != 0) {
        for (size_t i = 0; parts != NULL && i < n; i++) {
            if (parts[i] != NULL)
                producer_partition_release(parts[i]);
        }
    }
    free(parts);
    free(stats);
    return rc;
}

/* Drops the collected records of partition p (they were not handled: the
 * next owner reads them again). */
static void service_forget_msgs(producer_service *svc, int32_t p) {
    size_t kept = 0;
    for (size_t i = 0; i < svc->msg_count; i++) {
        if (svc->msgs[i]->partition == p)
            rd_kafka_message_destroy(svc->msgs[i]);
        else
            svc->msgs[kept++] = svc->msgs[i];
    }
    svc->msg_count = kept;
}

/* Fills each element's offset with its committed offset (BEGINNING when the
 * group has none). Returns 0 or -1. */
static int service_committed(producer_service *svc, rd_kafka_topic_partition_list_t *list) {
    for (int i = 0; i < list->cnt; i++)
        list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    rd_kafka_resp_err_t err = rd_kafka_committed(svc->consumer, list, SERVICE_COMMITTED_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot fetch the committed offsets of '%s': %s", svc->topic_commands,
                  rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *e = &list->elems[i];
        if (e->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            LOG_ERROR("cannot fetch the committed offset of '%s' [%d]: %s", e->topic,
                      (int)e->partition, rd_kafka_err2str(e->err));
            return -1;
        }
        if (e->offset < 0)
            e->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    return 0;
}

static void service_assign(producer_service *svc, rd_kafka_t *rk,
                           rd_kafka_topic_partition_list_t *parts, bool cooperative) {
    int64_t started = service_now_ms();
    if (parts->cnt > 0 && service_committed(svc, parts) != 0)
        svc->fatal = true;
    int32_t *ids = calloc((size_t)parts->cnt + 1, sizeof(*ids));
    if (ids == NULL)
        svc->fatal = true;
    for (int i = 0; i < parts->cnt && !svc->fatal; i++) {
        int32_t p = parts->elems[i].partition;
        if (strcmp(parts->elems[i].topic, svc->topic_commands) != 0 || p < 0 ||
            p >= svc->partition_count) {
            LOG_ERROR("assigned '%s' [%d], which this producer does not know",
                      parts->elems[i].topic, (int)p);
            svc->fatal = true;
        }
        ids[i] = p;
    }
    if (!svc->fatal && service_restore(svc, ids, (size_t)parts->cnt) != 0)
        svc->fatal = true;
    free(ids);
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative)
        error = rd_kafka_incremental_assign(rk, parts);
    else
        err = rd_kafka_assign(rk, parts);
    if (error != NULL) {
        LOG_ERROR("cannot take the assignment: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        svc->fatal = true;
    } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot take the assignment: %s", rd_kafka_err2str(err));
        svc->fatal = true;
    }
    if (svc->fatal)
        return;
    if (parts->cnt > 0 || !svc->ready)
        LOG_INFO("assigned %d partition(s) of '%s', restored in %lld ms", parts->cnt,
                 svc->topic_commands, (long long)(service_now_ms() - started));
    if (!svc->ready) {
        svc->ready = true;
        LOG_INFO("ready");
    }
}

static void service_revoke(producer_service *svc, rd_kafka_t *rk,
                           rd_kafka_topic_partition_list_t *parts, bool cooperative, bool lost) {
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= svc->partition_count)
            continue;
        service_forget_msgs(svc, p);
        producer_partition_release(&svc->parts[p]);
    }
    LOG_INFO("%s %d partition(s) of '%s'", lost ? "lost" : "revoked", parts->cnt,
             svc->topic_commands);
    if (cooperative) {
        rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, parts);
        if (error != NULL) {
            LOG_ERROR("cannot give the partitions up: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void service_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque) {
    producer_service *svc = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    switch (err) {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            service_assign(svc, rk, parts, cooperative);
            break;
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            service_revoke(svc, rk, parts, cooperative, rd_kafka_assignment_lost(rk) != 0);
            break;
        default:
            LOG_ERROR("rebalance failed: %s", rd_kafka_err2str(err));
            service_revoke(svc, rk, parts, cooperative, true);
            break;
    }
}

/* ---- producing ---- */

/* Produces one record (value copied) inside the open transaction. Returns 0,
 * or -1 (the transaction must be aborted). */
static int service_produce(producer_service *svc, rd_kafka_topic_t *rkt, int32_t partition,
                           const void *key, size_t key_len, const void *value, size_t len,
                           void *opaque) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            svc->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(svc->producer, 10);
            continue;
        }
        LOG_ERROR("cannot produce to '%s' [%d]: %s", rd_kafka_topic_name(rkt), (int)partition,
                  rd_kafka_err2str(err));
        return -1;
    }
}

static void service_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    producer_service *svc = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (svc->dr_err == RD_KAFKA_RESP_ERR_NO_ERROR)
            LOG_ERROR("delivery to '%s' [%d] failed: %s", rd_kafka_topic_name(msg->rkt),
                      (int)msg->partition, rd_kafka_err2str(msg->err));
        svc->dr_err = msg->err;
        return;
    }
    if (strcmp(rd_kafka_topic_name(msg->rkt), svc->topic_events) != 0)
        return;
    if (msg->partition >= 0 && msg->partition < svc->partition_count) {
        producer_partition *part = &svc->parts[msg->partition];
        if (msg->offset + 1 > part->next_events_offset)
            part->next_events_offset = msg->offset + 1;
    }
    producer_pending *pending = msg->_private;
    if (pending != NULL) {
        pending->result.has_position = true;
        pending->result.partition = msg->partition;
        pending->result.offset = msg->offset;
    }
}

/* Outcomes of handling one record. */
enum {
    SERVICE_HANDLED = 0,
    SERVICE_ABORT = -1, /* Kafka refused a record: abort the transaction */
    SERVICE_FATAL = -2, /* a bug or no memory: stop */
};

/* Appends `event` on partition p: produce, fold into the state. */
static int service_append(producer_service *svc, producer_partition *part,
                          const ledger_event *event, producer_pending *pending) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char why[256];
    if (ledger_codec_encode_event(svc->codec, event, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode event '%s' of '%s': %s", event->event_id, event->account, why);
        return SERVICE_FATAL;
    }
    size_t acc_len = ledger_id_len(event->account, sizeof(event->account));
    if (service_produce(svc, svc->rkt_events, part->id, event->account, acc_len, buf, len,
                        pending) != 0)
        return SERVICE_ABORT;
    account_state *state = producer_accounts_upsert(part->accounts, event->account, acc_len);
    if (state == NULL) {
        LOG_ERROR("out of memory for account '%s'", event->account);
        return SERVICE_FATAL;
    }
    if (account_apply(state, event) != ACCOUNT_APPLIED) {
        LOG_ERROR("event seq %lld of '%s' does not follow seq %lld", (long long)event->seq,
                  event->account, (long long)state->seq);
        return SERVICE_FATAL;
    }
    part->events_since_snapshot++;
    return SERVICE_HANDLED;
}

/* A transfer step (an event record) to ledger.commands, keyed by `account`. */
static int service_step(producer_service *svc, const char *account, const ledger_event *step) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char why[256];
    if (ledger_codec_encode_event(svc->codec, step, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode the transfer step of '%s': %s", step->transfer_id, why);
        return SERVICE_FATAL;
    }
    size_t acc_len = strlen(account);
    int32_t p = ledger_partition_for_key(account, acc_len, svc->partition_count);
    return service_produce(svc, svc->rkt_commands, p, account, acc_len, buf, len, NULL) == 0
               ? SERVICE_HANDLED
               : SERVICE_ABORT;
}

/* A record on the wrong partition (its account's commands live elsewhere):
 * sent as it is to the right one, keyed by that account. */
static int service_forward(producer_service *svc, const rd_kafka_message_t *msg,
                           const char *account, size_t acc_len, int32_t home) {
    LOG_WARN("record at '%s' [%d] offset %lld is for account '%.*s' of partition %d: forwarded",
             svc->topic_commands, (int)msg->partition, (long long)msg->offset, (int)acc_len,
             account, (int)home);
    return service_produce(svc, svc->rkt_commands, home, account, acc_len, msg->payload, msg->len,
                           NULL) == 0
               ? SERVICE_HANDLED
               : SERVICE_ABORT;
}

static producer_pending *service_pending(producer_service *svc, int32_t partition) {
    producer_pending *pending = producer_batch_add(svc->batch);
    if (pending == NULL) {
        LOG_ERROR("batch full: more results than records");
        return NULL;
    }
    pending->partition = partition;
    return pending;
}

/* The command id a result names when the record gives none: its key if that
 * is a valid command id, else "unknown@P:O". */
static void service_fallback_id(const rd_kafka_message_t *msg, char *out, size_t size) {
    if (msg->key != NULL && ledger_command_id_valid(msg->key, msg->key_len)) {
        snprintf(out, size, "%.*s", (int)msg->key_len, (const char *)msg->key);
        return;
    }
    snprintf(out, size, "unknown@%d:%lld", (int)msg->partition, (long long)msg->offset);
}

static int service_malformed(producer_service *svc, const rd_kafka_message_t *msg,
                             const char *why) {
    LOG_WARN("malformed record at '%s' [%d] offset %lld: %s", svc->topic_commands,
             (int)msg->partition, (long long)msg->offset, why);
    producer_pending *pending = service_pending(svc, msg->partition);
    if (pending == NULL)
        return SERVICE_FATAL;
    service_fallback_id(msg, pending->result.command_id, sizeof(pending->result.command_id));
    pending->result.reason = LEDGER_MALFORMED_COMMAND;
    return SERVICE_HANDLED;
}

static int service_uuid(producer_service *svc, char out[LEDGER_UUID_BUF]) {
    if (producer_entropy_uuid(&svc->entropy, out) != 0) {
        LOG_ERROR("no random bytes for a UUID");
        return SERVICE_FATAL;
    }
    return SERVICE_HANDLED;
}

/* A client command. */
static int service_command(producer_service *svc, producer_partition *part,
                           const rd_kafka_message_t *msg, const ledger_command *cmd) {
    size_t id_len = ledger_id_len(cmd->id, sizeof(cmd->id));
    bool id_ok = ledger_command_id_valid(cmd->id, id_len);
    char why[256];

    if (id_ok) {
        int32_t orig = producer_batch_find(svc->batch, part->id, cmd->id, id_len);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        if (orig >= 0) {
            producer_pending *dup = service_pending(svc, part->id);
            if (dup == NULL)
                return SERVICE_FATAL;
            dup->dup_of = orig;
            memcpy(dup->result.command_id, cmd->id, sizeof(dup->result.command_id));
            LOG_DEBUG("command '%s' is a duplicate (same transaction)", cmd->id);
            return SERVICE_HANDLED;
        }
        if (producer_dedup_find(part->dedup, cmd->id, id_len, &value, &value_len, NULL)) {
            producer_pending *dup = service_pending(svc, part->id);
            if (dup == NULL)
                return SERVICE_FATAL;
            if (ledger_codec_decode_result(svc->codec, value, value_len, &dup->result, why,
                                           sizeof(why)) != 0) {
                LOG_ERROR("cannot decode the remembered result of '%s': %s", cmd->id, why);
                return SERVICE_FATAL;
            }
            dup->result.duplicate = true;
            LOG_DEBUG("command '%s' is a duplicate", cmd->id);
            return SERVICE_HANDLED;
        }
    }

    size_t acc_len = ledger_id_len(cmd->account, sizeof(cmd->account));
    bool acc_ok = ledger_account_valid(cmd->account, acc_len);
    if (acc_ok) {
        int32_t home = ledger_partition_for_key(cmd->account, acc_len, svc->partition_count);
        if (home != part->id)
            return service_forward(svc, msg, cmd->account, acc_len, home);
    }

    account_state none;
    account_init(&none);
    const account_state *state =
        acc_ok ? producer_accounts_find(part->accounts, cmd->account, acc_len) : NULL;
    char event_id[LEDGER_UUID_BUF], transfer_id[LEDGER_UUID_BUF] = "";
    if (service_uuid(svc, event_id) != SERVICE_HANDLED ||
        (cmd->type == LEDGER_COMMAND_TRANSFER && service_uuid(svc, transfer_id) != SERVICE_HANDLED))
        return SERVICE_FATAL;
    ledger_decide_ids ids = {
        .event_id = event_id, .transfer_id = transfer_id, .now_ms = service_wall_ms()};

    producer_pending *pending = service_pending(svc, part->id);
    if (pending == NULL)
        return SERVICE_FATAL;
    ledger_result *result = &pending->result;
    result->reason = ledger_decide(state != NULL ? state : &none, cmd, &ids, &result->event);
    if (id_ok)
        memcpy(result->command_id, cmd->id, sizeof(result->command_id));
    else
        service_fallback_id(msg, result->command_id, sizeof(result->command_id));
    svc->commands_handled++;

    if (result->reason == LEDGER_OK) {
        result->has_event = true;
        int rc = service_append(svc, part, &result->event, pending);
        if (rc != SERVICE_HANDLED)
            return rc;
        if (result->event.type == LEDGER_EVENT_TRANSFER_SENT) {
            /* The credit side: TO's partition decides it. */
            rc = service_step(svc, result->event.counterparty, &result->event);
            if (rc != SERVICE_HANDLED)
                return rc;
        }
    } else {
        LOG_DEBUG("command '%s' (%s '%s') rejected: %s", result->command_id,
                  ledger_command_type_name(cmd->type) ? ledger_command_type_name(cmd->type) : "?",
                  acc_ok ? cmd->account : "", ledger_reason_name(result->reason));
    }
    if (id_ok) {
        pending->remember = true;
        producer_batch_index(svc->batch, producer_batch_count(svc->batch) - 1);
    }
    return SERVICE_HANDLED;
}

/* Whether the step's ids and amount are what this producer writes. */
static bool service_step_valid(const ledger_event *step) {
    return ledger_account_valid(step->account,
                                ledger_id_len(step->account, sizeof(step->account))) &&
           ledger_account_valid(step->counterparty,
                                ledger_id_len(step->counterparty, sizeof(step->counterparty))) &&
           ledger_uuid_valid(step->transfer_id,
                             ledger_id_len(step->transfer_id, sizeof(step->transfer_id))) &&
           step->amount > 0;
}

/* The credit side of a transfer, on TO's partition: TransferReceived, or a
 * return step to FROM's partition. */
static int service_credit(producer_service *svc, producer_partition *part,
                          const rd_kafka_message_t *msg, const ledger_event *sent) {
    if (!service_step_valid(sent))
        return service_malformed(svc, msg, "a transfer step with invalid ids or amount");
    size_t to_len = ledger_id_len(sent->counterparty, sizeof(sent->counterparty));
    int32_t home = ledger_partition_for_key(sent->counterparty, to_len, svc->partition_count);
    if (home != part->id)
        return service_forward(svc, msg, sent->counterparty, to_len, home);

    account_state none;
    account_init(&none);
    const account_state *to = producer_accounts_find(part->accounts, sent->counterparty, to_len);
    char event_id[LEDGER_UUID_BUF];
    if (service_uuid(svc, event_id) != SERVICE_HANDLED)
        return SERVICE_FATAL;
    ledger_event received;
    ledger_reason reason = ledger_decide_credit(to != NULL ? to : &none, sent, event_id, &received);
    if (reason == LEDGER_OK) {
        LOG_DEBUG("transfer '%s': %s received", sent->transfer_id, sent->counterparty);
        return service_append(svc, part, &received, NULL);
    }
    /* The return is decided on FROM's partition, which fills in its seq;
     * its event id is chosen here. */
    ledger_event step;
    ledger_decide_return(&none, sent, reason, event_id, &step);
    step.seq = 0;
    LOG_DEBUG("transfer '%s': not received (%s), returned to '%s'", sent->transfer_id,
              ledger_reason_name(reason), sent->account);
    return service_step(svc, sent->account, &step);
}

/* The return of a transfer, on FROM's partition: TransferReturned. */
static int service_return(producer_service *svc, producer_partition *part,
                          const rd_kafka_message_t *msg, const ledger_event *step) {
    if (!service_step_valid(step) ||
        (step->reason != LEDGER_NO_SUCH_ACCOUNT && step->reason != LEDGER_ACCOUNT_CLOSED &&
         step->reason != LEDGER_INVALID_AMOUNT))
        return service_malformed(svc, msg, "a return step with invalid ids, amount or reason");
    size_t from_len = ledger_id_len(step->account, sizeof(step->account));
    int32_t home = ledger_partition_for_key(step->account, from_len, svc->partition_count);
    if (home != part->id)
        return service_forward(svc, msg, step->account, from_len, home);

    ledger_event sent = *step;
    sent.type = LEDGER_EVENT_TRANSFER_SENT;
    sent.reason = LEDGER_OK;
    char event_id[LEDGER_UUID_BUF];
    if (ledger_uuid_valid(step->event_id, ledger_id_len(step->event_id, sizeof(step->event_id))))
        memcpy(event_id, step->event_id, sizeof(event_id));
    else if (service_uuid(svc, event_id) != SERVICE_HANDLED)
        return SERVICE_FATAL;
    account_state none;
    account_init(&none);
    const account_state *from = producer_accounts_find(part->accounts, step->account, from_len);
    ledger_event returned;
    ledger_decide_return(from != NULL ? from : &none, &sent, step->reason, event_id, &returned);
    return service_append(svc, part, &returned, NULL);
}

static int service_handle(producer_service *svc, const rd_kafka_message_t *msg) {
    producer_partition *part = &svc->parts[msg->partition];
    char why[256];
    if (msg->len > SERVICE_RECORD_MAX) {
        snprintf(why, sizeof(why), "a value of %zu bytes is over the limit of %d bytes", msg->len,
                 SERVICE_RECORD_MAX);
        return service_malformed(svc, msg, why);
    }
    if (msg->payload == NULL)
        return service_malformed(svc, msg, "no value");
    const ledger_codec_schema *schema =
        ledger_codec_schema_of(svc->codec, msg->payload, msg->len, why, sizeof(why));
    if (schema == NULL)
        return service_malformed(svc, msg, why);
    if (schema->kind == LEDGER_CODEC_COMMAND) {
        ledger_command cmd;
        if (ledger_codec_decode_command(svc->codec, msg->payload, msg->len, &cmd, why,
                                        sizeof(why)) != 0)
            return service_malformed(svc, msg, why);
        return service_command(svc, part, msg, &cmd);
    }
    if (schema->kind == LEDGER_CODEC_EVENT) {
        ledger_event step;
        if (ledger_codec_decode_event(svc->codec, msg->payload, msg->len, &step, why,
                                      sizeof(why)) != 0)
            return service_malformed(svc, msg, why);
        if (step.type == LEDGER_EVENT_TRANSFER_SENT)
            return service_credit(svc, part, msg, &step);
        if (step.type == LEDGER_EVENT_TRANSFER_RETURNED)
            return service_return(svc, part, msg, &step);
        snprintf(why, sizeof(why), "an event record of type '%s' is no transfer step",
                 ledger_event_type_name(step.type) ? ledger_event_type_name(step.type) : "?");
        return service_malformed(svc, msg, why);
    }
    snprintf(why, sizeof(why), "a %s record (schema '%s') is no command",
             ledger_codec_kind_name(schema->kind), schema->id);
    return service_malformed(svc, msg, why);
}

/* ---- results, window, snapshots ---- */

static int service_results(producer_service *svc) {
    int64_t now = service_wall_ms();
    char why[256];
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    uint8_t entry_buf[LEDGER_CODEC_RESULT_MAX + 64];
    size_t n = producer_batch_count(svc->batch);
    for (size_t i = 0; i < n; i++) {
        producer_pending *pending = producer_batch_at(svc->batch, i);
        ledger_result *result = &pending->result;
        if (pending->dup_of >= 0) {
            *result = producer_batch_at(svc->batch, (size_t)pending->dup_of)->result;
            result->duplicate = true;
        }
        if (result->has_event && !result->has_position) {
            LOG_ERROR("no position for the event of '%s'", result->command_id);
            return SERVICE_FATAL;
        }
        size_t len = 0;
        if (ledger_codec_encode_result(svc->codec, result, buf, sizeof(buf), &len, why,
                                       sizeof(why)) != 0) {
            LOG_ERROR("cannot encode the result of '%s': %s", result->command_id, why);
            return SERVICE_FATAL;
        }
        size_t id_len = ledger_id_len(result->command_id, sizeof(result->command_id));
        if (service_produce(svc, svc->rkt_results, RD_KAFKA_PARTITION_UA, result->command_id,
                            id_len, buf, len, NULL) != 0)
            return SERVICE_ABORT;
        if (!pending->remember)
            continue;

        /* The deduplication entry, in the same transaction as the result. */
        producer_partition *part = &svc->parts[pending->partition];
        snapshot_command cmd = {.handled_at_ms = now, .result = *result};
        ledger_snapshot entry = {.partition = part->id,
                                 .events_offset =
                                     part->next_events_offset > 0 ? part->next_events_offset : 0,
                                 .command_count = 1,
                                 .commands = &cmd};
        size_t entry_len = 0;
        if (ledger_codec_encode_snapshot(svc->codec, &entry, entry_buf, sizeof(entry_buf),
                                         &entry_len, why, sizeof(why)) != 0) {
            LOG_ERROR("cannot encode the dedup entry of '%s': %s", result->command_id, why);
            return SERVICE_FATAL;
        }
        char key[LEDGER_COMMAND_ID_BUF + 8];
        int key_len = snprintf(key, sizeof(key), "cmd/%s", result->command_id);
        if (service_produce(svc, svc->rkt_snapshots, part->id, key, (size_t)key_len, entry_buf,
                            entry_len, NULL) != 0)
            return SERVICE_ABORT;
        if (producer_dedup_put(part->dedup, result->command_id, id_len, buf, len, now) != 0) {
            LOG_ERROR("out of memory for the dedup window of partition %d", (int)part->id);
            return SERVICE_FATAL;
        }
    }
    return SERVICE_HANDLED;
}

typedef struct service_evict_ctx {
    producer_service *svc;
    int32_t partition;
} service_evict_ctx;

static void service_evicted(void *opaque, const char *id, size_t len) {
    service_evict_ctx *ctx = opaque;
    char key[PRODUCER_DEDUP_ID_MAX + 8];
    int key_len = snprintf(key, sizeof(key), "cmd/%.*s", (int)len, id);
    if (service_produce(ctx->svc, ctx->svc->rkt_snapshots, ctx->partition, key, (size_t)key_len,
                        NULL, 0, NULL) != 0)
        ctx->svc->produce_failed = true;
}

/* Ages every owned window; tombstones go out in this transaction. */
static int service_expire(producer_service *svc) {
    int64_t cutoff = service_wall_ms() - svc->dedup_window_ms;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        if (!part->active)
            continue;
        service_evict_ctx ctx = {.svc = svc, .partition = p};
        size_t n = producer_dedup_expire(part->dedup, cutoff, svc->dedup_max_entries,
                                         service_evicted, &ctx);
        if (n > 0)
            LOG_DEBUG("partition %d: %zu command ids left the dedup window", (int)p, n);
        if (svc->produce_failed)
            return SERVICE_ABORT;
    }
    return SERVICE_HANDLED;
}

static int service_snapshot(producer_service *svc, producer_partition *part) {
    size_t n = producer_accounts_count(part->accounts);
    if (n > svc->snap_accounts_cap) {
        size_t cap = n + n / 2 + 16;
        snapshot_account *a = realloc(svc->snap_accounts, cap * sizeof(*a));
        if (a == NULL) {
            LOG_ERROR("out of memory for a snapshot of %zu accounts", n);
            return SERVICE_FATAL;
        }
        svc->snap_accounts = a;
        svc->snap_accounts_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id;
        size_t len;
        const account_state *state = producer_accounts_at(part->accounts, i, &id, &len);
        memset(svc->snap_accounts[i].account, 0, sizeof(svc->snap_accounts[i].account));
        memcpy(svc->snap_accounts[i].account, id, len);
        svc->snap_accounts[i].state = *state;
    }
    ledger_snapshot snap = {.partition = part->id,
                            .events_offset = part->next_events_offset,
                            .account_count = n,
                            .accounts = svc->snap_accounts};
    size_t need = ledger_codec_snapshot_size_max(&snap);
    if (need > svc->snap_buf_cap) {
        uint8_t *buf = realloc(svc->snap_buf, need);
        if (buf == NULL) {
            LOG_ERROR("out of memory for a snapshot of %zu bytes", need);
            return SERVICE_FATAL;
        }
        svc->snap_buf = buf;
        svc->snap_buf_cap = need;
    }
    size_t len = 0;
    char why[256];
    if (ledger_codec_encode_snapshot(svc->codec, &snap, svc->snap_buf, svc->snap_buf_cap, &len, why,
                                     sizeof(why)) != 0) {
        LOG_ERROR("cannot encode the snapshot of partition %d: %s", (int)part->id, why);
        return SERVICE_FATAL;
    }
    part->events_since_snapshot = 0;
    part->last_snapshot_ms = service_now_ms();
    if (len > svc->snapshot_max_bytes) {
        LOG_WARN("snapshot of partition %d skipped: %zu bytes for %zu accounts is over "
                 "--snapshot-max-bytes %zu (restores replay the events instead)",
                 (int)part->id, len, n, svc->snapshot_max_bytes);
        return SERVICE_HANDLED;
    }
    if (service_produce(svc, svc->rkt_snapshots, part->id, "snapshot", 8, svc->snap_buf, len,
                        NULL) != 0)
        return SERVICE_ABORT;
    LOG_INFO("partition %d snapshot: %zu accounts up to events offset %lld (%zu bytes)",
             (int)part->id, n, (long long)part->next_events_offset, len);
    return SERVICE_HANDLED;
}

static int service_snapshots(producer_service *svc) {
    int64_t now = service_now_ms();
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        if (!part->active || part->events_since_snapshot == 0 || part->next_events_offset < 0)
            continue;
        if (part->events_since_snapshot < svc->snapshot_every &&
            now - part->last_snapshot_ms < svc->snapshot_interval_ms)
            continue;
        int rc = service_snapshot(svc, part);
        if (rc != SERVICE_HANDLED)
            return rc;
    }
    return SERVICE_HANDLED;
}

/* ---- transactions ---- */

/* Classifies (and frees) a transactional API error. */
static service_txn_status service_txn_error(rd_kafka_error_t *error, const char *what) {
    if (error == NULL)
        return SERVICE_TXN_OK;
    service_txn_status status;
    if (rd_kafka_error_is_fatal(error)) {
        LOG_ERROR("%s: fatal: %s", what, rd_kafka_error_string(error));
        status = SERVICE_TXN_FATAL;
    } else if (rd_kafka_error_txn_requires_abort(error)) {
        LOG_WARN("%s: the transaction must be aborted: %s", what, rd_kafka_error_string(error));
        status = SERVICE_TXN_ABORT;
    } else if (rd_kafka_error_is_retriable(error)) {
        LOG_WARN("%s: retrying: %s", what, rd_kafka_error_string(error));
        status = SERVICE_TXN_RETRY;
    } else {
        LOG_ERROR("%s: %s", what, rd_kafka_error_string(error));
        status = SERVICE_TXN_ABORT;
    }
    rd_kafka_error_destroy(error);
    return status;
}

static service_txn_status service_send_offsets(producer_service *svc) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (int32_t p = 0; p < svc->partition_count; p++) {
        if (svc->parts[p].commit_offset >= 0)
            rd_kafka_topic_partition_list_add(offsets, svc->topic_commands, p)->offset =
                svc->parts[p].commit_offset;
    }
    service_txn_status status = SERVICE_TXN_OK;
    if (offsets->cnt > 0) {
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(svc->consumer);
        do {
            status = service_txn_error(rd_kafka_send_offsets_to_transaction(
                                           svc->producer, offsets, cgmd, SERVICE_TXN_TIMEOUT_MS),
                                       "send offsets to transaction");
        } while (status == SERVICE_TXN_RETRY);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    return status;
}

static service_txn_status service_status_of(int rc) {
    return rc == SERVICE_HANDLED ? SERVICE_TXN_OK
           : rc == SERVICE_ABORT ? SERVICE_TXN_ABORT
                                 : SERVICE_TXN_FATAL;
}

/* One transaction over the collected records. */
static service_txn_status service_transaction(producer_service *svc) {
    service_txn_status status;
    do {
        status = service_txn_error(rd_kafka_begin_transaction(svc->producer), "begin transaction");
    } while (status == SERVICE_TXN_RETRY);
    if (status != SERVICE_TXN_OK)
        return SERVICE_TXN_FATAL; /* nothing is open: begin fails on a broken producer only */

    producer_batch_reset(svc->batch);
    svc->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    svc->produce_failed = false;
    for (int32_t p = 0; p < svc->partition_count; p++)
        svc->parts[p].commit_offset = -1;

    for (size_t i = 0; i < svc->msg_count; i++) {
        const rd_kafka_message_t *msg = svc->msgs[i];
        int rc = service_handle(svc, msg);
        if (rc != SERVICE_HANDLED)
            return service_status_of(rc);
        svc->parts[msg->partition].commit_offset = msg->offset + 1;
    }

    rd_kafka_resp_err_t err = rd_kafka_flush(svc->producer, SERVICE_TXN_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_WARN("events not delivered within %d ms: %s", SERVICE_TXN_TIMEOUT_MS,
                 rd_kafka_err2str(err));
        return SERVICE_TXN_ABORT;
    }
    if (svc->dr_err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SERVICE_TXN_ABORT;

    int rc = service_results(svc);
    if (rc == SERVICE_HANDLED)
        rc = service_expire(svc);
    if (rc == SERVICE_HANDLED)
        rc = service_snapshots(svc);
    if (rc != SERVICE_HANDLED)
        return service_status_of(rc);

    status = service_send_offsets(svc);
    if (status != SERVICE_TXN_OK)
        return status;
    do {
        status =
            service_txn_error(rd_kafka_commit_transaction(svc->producer, SERVICE_TXN_TIMEOUT_MS),
                              "commit transaction");
    } while (status == SERVICE_TXN_RETRY);
    if (status == SERVICE_TXN_OK && svc->dr_err != RD_KAFKA_RESP_ERR_NO_ERROR)
        LOG_WARN("a delivery failed after the commit");
    return status;
}

/* Rewinds the consumer to the committed offsets of its assignment. */
static int service_rewind(producer_service *svc) {
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(svc->consumer, &list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot read the assignment: %s", rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    if (list->cnt > 0) {
        rc = service_committed(svc, list);
        if (rc == 0) {
            /* librdkafka 2.0.2 scales a finite seek timeout wrongly: wait
             * without one (the seeks are local operations). */
            rd_kafka_error_t *error = rd_kafka_seek_partitions(svc->consumer, list, -1);
            if (error != NULL) {
                LOG_ERROR("cannot rewind the consumer: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                rc = -1;
            }
            for (int i = 0; rc == 0 && i < list->cnt; i++) {
                if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    LOG_ERROR("cannot rewind '%s' [%d]: %s", list->elems[i].topic,
                              (int)list->elems[i].partition, rd_kafka_err2str(list->elems[i].err));
                    rc = -1;
                }
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* After a failed transaction: abort it, rewind, restore every owned
 * partition. Returns 0, or -1 when the producer cannot go on. */
static int service_abort(producer_service *svc) {
    service_txn_status status;
    do {
        status = service_txn_error(
            rd_kafka_abort_transaction(svc->producer, SERVICE_TXN_TIMEOUT_MS), "abort transaction");
    } while (status == SERVICE_TXN_RETRY);
    if (status != SERVICE_TXN_OK)
        return -1;
    service_drop_msgs(svc);
    if (service_rewind(svc) != 0)
        return -1;
    int32_t *ids = calloc((size_t)svc->partition_count, sizeof(*ids));
    if (ids == NULL)
        return -1;
    size_t n = 0;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        if (svc->parts[p].active)
            ids[n++] = p;
    }
    int rc = service_restore(svc, ids, n);
    free(ids);
    if (rc != 0)
        return -1;
    LOG_WARN("transaction aborted: consumer rewound to the committed offsets, partitions "
             "restored");
    return 0;
}

/* ---- the loop ---- */

/* Polls records into svc->msgs: waits for the first, then takes what has
 * arrived, up to max_batch or the commit interval. */
static void service_collect(producer_service *svc, volatile sig_atomic_t *stop) {
    int64_t deadline = 0;
    while (svc->msg_count < svc->max_batch && !*stop && !svc->fatal) {
        int timeout = 100;
        if (svc->msg_count > 0) {
            int64_t left = deadline - service_now_ms();
            if (left <= 0)
                break;
            timeout = 0;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(svc->consumer, timeout);
        if (msg == NULL) {
            if (svc->msg_count > 0)
                break;
            continue;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LOG_WARN("consumer: '%s' [%d] offset %lld: %s",
                         msg->rkt != NULL ? rd_kafka_topic_name(msg->rkt) : "-",
                         (int)msg->partition, (long long)msg->offset, rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        if (msg->partition < 0 || msg->partition >= svc->partition_count ||
            !svc->parts[msg->partition].active) {
            LOG_WARN("record at '%s' [%d] offset %lld for a partition not owned: left for its "
                     "owner",
                     svc->topic_commands, (int)msg->partition, (long long)msg->offset);
            rd_kafka_message_destroy(msg);
            continue;
        }
        svc->msgs[svc->msg_count++] = msg;
        if (svc->msg_count == 1)
            deadline = service_now_ms() + svc->commit_interval_ms;
    }
}

/* Creates missing topics and learns the partition count; retried until the
 * broker answers or *stop. Returns 0, or -1 (fatal or stopped). */
static int service_topics(producer_service *svc, volatile sig_atomic_t *stop) {
    const ledger_config *cfg = svc->cfg;
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[1024];
    if (ledger_kafka_ledger_topic_specs(ledger_config_str(cfg, "topic_prefix"),
                                        (int)ledger_config_int(cfg, "partitions"),
                                        (int)ledger_config_int(cfg, "replication_factor"), specs,
                                        errstr, sizeof(errstr)) != 0) {
        LOG_ERROR("%s", errstr);
        return -1;
    }
    while (!*stop) {
        if (ledger_kafka_create_topics(ledger_config_str(cfg, "brokers"), cfg, specs,
                                       LEDGER_KAFKA_TOPIC_COUNT, 30000, outcomes, errstr,
                                       sizeof(errstr)) == 0)
            break;
        LOG_WARN("topics not ready, retrying: %s", errstr);
        for (int i = 0; i < 20 && !*stop; i++)
            usleep(100 * 1000);
    }
    if (*stop)
        return -1;
    int commands = outcomes[LEDGER_KAFKA_TOPIC_COMMANDS].partitions;
    int events = outcomes[LEDGER_KAFKA_TOPIC_EVENTS].partitions;
    int snapshots = outcomes[LEDGER_KAFKA_TOPIC_SNAPSHOTS].partitions;
    if (commands < 1 || events != commands || snapshots < commands) {
        LOG_ERROR("topic '%s' has %d partitions, '%s' %d and '%s' %d: commands and events must "
                  "have the same count and snapshots at least as many",
                  svc->topic_commands, commands, svc->topic_events, events, svc->topic_snapshots,
                  snapshots);
        return -1;
    }
    svc->partition_count = commands;
    svc->parts = calloc((size_t)commands, sizeof(*svc->parts));
    if (svc->parts == NULL) {
        LOG_ERROR("out of memory");
        return -1;
    }
    for (int32_t p = 0; p < commands; p++)
        producer_partition_release(&svc->parts[p]); /* an inactive partition p */
    for (int32_t p = 0; p < commands; p++)
        svc->parts[p].id = p;
    return 0;
}

static int service_init_transactions(producer_service *svc, volatile sig_atomic_t *stop) {
    while (!*stop) {
        service_txn_status status = service_txn_error(
            rd_kafka_init_transactions(svc->producer, SERVICE_TXN_TIMEOUT_MS), "init transactions");
        if (status == SERVICE_TXN_OK)
            return 0;
        if (status != SERVICE_TXN_RETRY)
            return -1;
    }
    return -1;
}

int producer_service_run(producer_service *svc, volatile sig_atomic_t *stop) {
    LOG_INFO("starting: brokers %s, topics '%s*', group '%s', transactional.id '%s'",
             ledger_config_str(svc->cfg, "brokers"), ledger_config_str(svc->cfg, "topic_prefix"),
             ledger_config_str(svc->cfg, "group_id"), svc->transactional_id);
    if (service_topics(svc, stop) != 0)
        return *stop ? 0 : 1;
    if (service_init_transactions(svc, stop) != 0)
        return *stop ? 0 : 1;

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, svc->topic_commands, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(svc->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot subscribe to '%s': %s", svc->topic_commands, rd_kafka_err2str(err));
        return 1;
    }

    while (!*stop && !svc->fatal) {
        service_collect(svc, stop);
        if (svc->msg_count == 0 || svc->fatal)
            continue;
        service_txn_status status = service_transaction(svc);
        if (status == SERVICE_TXN_OK) {
            svc->transactions++;
            service_drop_msgs(svc);
        } else if (status == SERVICE_TXN_ABORT) {
            if (service_abort(svc) != 0)
                svc->fatal = true;
        } else {
            /* Best effort: end the open transaction now rather than at the
             * broker's transaction timeout (fails harmlessly when the
             * producer itself is broken). */
            rd_kafka_error_t *error =
                rd_kafka_abort_transaction(svc->producer, SERVICE_TXN_TIMEOUT_MS);
            if (error != NULL)
                rd_kafka_error_destroy(error);
            svc->fatal = true;
        }
    }
    service_drop_msgs(svc);
    if (svc->fatal) {
        LOG_ERROR("stopping after a fatal error");
        return 1;
    }
    LOG_INFO("stopping: %llu commands handled in %llu transactions",
             (unsigned long long)svc->commands_handled, (unsigned long long)svc->transactions);
    rd_kafka_consumer_close(svc->consumer);
    return 0;
}
