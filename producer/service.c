/*
 * service.c - the producer's loop: collect a batch of command records,
 * decide them in one transaction, commit the results with the offsets.
 *
 * One transaction per batch (the decisions and writes are in records.c):
 *
 *   1. the consumed offsets (send_offsets_to_transaction with the group
 *      metadata, so a member of a stale generation can never commit), first:
 *      they wait out the previous commit's markers (see below);
 *   2. decide: each record, in partition order, against the in-memory state
 *      of its partition; events go to ledger.events (explicit partition =
 *      the command partition, which is murmur2(account) when the topics have
 *      the same partition count, checked at start); a transfer's credit
 *      side is decided at once when this instance owns the other partition
 *      too, else it is a step back to ledger.commands keyed by the account
 *      whose partition must act next; the state is updated as each event is
 *      produced; results (with the positions of their events) and the
 *      rejected ones' `cmd/<id>` deduplication entries go out as soon as
 *      they are complete, which is at once when the partition's next offset
 *      is known (records.c);
 *   3. flush: every delivery report is in: the predicted positions are
 *      checked, the other results get theirs;
 *   4. the remaining results, expired entries' tombstones, due snapshots,
 *      then commit.
 *
 * A transaction's latency is round trips to the broker, one after the
 * other: AddOffsetsToTxn, TxnOffsetCommit, AddPartitionsToTxn, the produce
 * requests (librdkafka sends one per partition and, idempotent, at most 5
 * at a time on a connection: the 24 partitions a busy transaction touches
 * take 5 waves), EndTxn. Results going out with their events, rather than
 * after the events' delivery reports, spares a second AddPartitionsToTxn
 * and a second set of waves. The coordinator refuses a new transaction's
 * first request until the previous commit's markers are written:
 * AddOffsetsToTxn is retried after retry.backoff.ms (short by default
 * here), AddPartitionsToTxn after a fixed 20 ms, hence the offsets first.
 * linger.ms is long by default: the flush and the commit send whatever
 * lingers at once, so a transaction's batches are whole.
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

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "records.h"
#include "service_internal.h"

/* How long one transactional call (commit, abort, send offsets) may take. */
#define SERVICE_TXN_TIMEOUT_MS 60000
/* How long to wait for a group coordinator answer (committed offsets). */
#define SERVICE_COMMITTED_TIMEOUT_MS 60000
/* How long looking up a partition's first offset may take (service_committed). */
#define SERVICE_FIRST_OFFSET_WAIT_MS 2000

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
    /* For tests of fencing: a deterministic window in which the transaction
     * is open and its records are written but not committed, so a test can
     * freeze the process there instead of racing a commit of a few ms. */
    {.name = "debug_hold_before_commit",
     .env = "LEDGER_PRODUCER_DEBUG_HOLD_BEFORE_COMMIT",
     .flag = "debug-hold-before-commit",
     .type = LEDGER_CONFIG_DURATION,
     .def = "0",
     .min = 0,
     .max = 60000,
     .metavar = "DURATION",
     .help = "testing only: keep each transaction open this long before its commit"},
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
     .def = "524288",
     .min = 1024,
     .max = 1000000000,
     .metavar = "BYTES",
     .help = "largest snapshot record: a partition's snapshot is written as chunks of at most "
             "this size"},
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
    producer_ops_kafka_error(svc->ops);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        LOG_ERROR("%s: fatal error: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(orig), why);
        svc->fatal = true;
        return;
    }
    LOG_WARN("%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

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
     * it, so keep it short; batches take milliseconds. linger.ms: the flush
     * and the commit send what lingers at once, so a long linger only makes
     * each transaction's batches whole (fewer, larger produce requests: less
     * broker CPU per command). retry.backoff.ms: the wait before retrying
     * AddOffsetsToTxn while the previous commit's markers are written (see
     * the top of this file), so short (measured at 2,000 commands/s: that
     * step took 7 ms on average with 5 ms, 4 ms with 1 ms); it also paces
     * librdkafka's other retries, which are rare. */
    if (service_conf_set(conf, "transactional.id", svc->transactional_id, errstr, errstr_size) !=
            0 ||
        service_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "linger.ms", "100", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "retry.backoff.ms", "2", errstr, errstr_size) != 0 ||
        service_conf_default(cfg, conf, "transaction.timeout.ms", "10000", errstr, errstr_size) !=
            0 ||
        service_conf_default(cfg, conf, "message.max.bytes", max_bytes, errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, producer_records_dr_cb);
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
    svc->hold_before_commit_ms = ledger_config_duration_ms(cfg, "debug_hold_before_commit");
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
    svc->ops = producer_ops_new(cfg);
    if (svc->ops == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
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
        (void)ledger_kafka_consumer_close(svc->consumer, LEDGER_KAFKA_CLOSE_MS,
                                          service_rebalance_cb, svc);
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
    producer_snapshot_scratch_release(&svc->snap_scratch);
    ledger_codec_destroy(svc->codec);
    producer_ops_destroy(svc->ops);
    free(svc);
}

/* ---- partitions: restore and release ---- */

/* Restores the `n` partitions ids[i] (their previous state is released
 * first) and activates them. Returns 0, or -1 (then none is active). */
static int service_restore(producer_service *svc, const int32_t *ids, size_t n) {
    if (n == 0)
        return 0;
    int rc = -1;
    int64_t started = service_now_ms();
    producer_ops_set_ready(svc->ops, false, "restoring partitions");
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
    producer_ops_restored(svc->ops, stats, n, service_now_ms() - started);
    producer_ops_set_ready(svc->ops, true, NULL);
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

/* Fills each element's offset with its committed offset, or, when the group
 * has none, the partition's first offset (kafka.h). Returns 0 or -1. */
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
            e->offset = ledger_kafka_first_offset(svc->consumer, e->topic, e->partition,
                                                  SERVICE_FIRST_OFFSET_WAIT_MS);
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
    producer_ops_rebalance(svc->ops, svc, "assigned", parts);
    producer_ops_set_ready(svc->ops, true, NULL);
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
    producer_ops_rebalance(svc->ops, svc, lost ? "lost" : "revoked", parts);
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
    return rc == PRODUCER_RECORDS_OK      ? SERVICE_TXN_OK
           : rc == PRODUCER_RECORDS_ABORT ? SERVICE_TXN_ABORT
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

    int64_t started_us = service_now_us();
    LOG_DEBUG("transaction of %zu records begins", svc->msg_count);
    /* How long the oldest record waited to be read and taken (its
     * producer's timestamp to here), for the debug line below. */
    int64_t oldest_ms = INT64_MAX;
    for (size_t i = 0; i < svc->msg_count; i++) {
        int64_t ts = rd_kafka_message_timestamp(svc->msgs[i], NULL);
        if (ts >= 0 && ts < oldest_ms)
            oldest_ms = ts;
    }
    int64_t waited_ms = oldest_ms == INT64_MAX ? -1 : service_wall_ms() - oldest_ms;
    producer_batch_reset(svc->batch);
    svc->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    svc->produce_failed = false;
    for (int32_t p = 0; p < svc->partition_count; p++)
        svc->parts[p].commit_offset = -1;
    for (size_t i = 0; i < svc->msg_count; i++)
        svc->parts[svc->msgs[i]->partition].commit_offset = svc->msgs[i]->offset + 1;
    producer_records_begin(svc);

    /* The offsets first: the coordinator answers CONCURRENT_TRANSACTIONS
     * until the previous commit's markers are written, and librdkafka
     * retries AddOffsetsToTxn after retry.backoff.ms but the first
     * AddPartitionsToTxn of a produce only after a fixed 20 ms. */
    status = service_send_offsets(svc);
    if (status != SERVICE_TXN_OK)
        return status;
    int64_t offsets_us = service_now_us();

    for (size_t i = 0; i < svc->msg_count; i++) {
        int rc = producer_records_handle(svc, svc->msgs[i]);
        if (rc != PRODUCER_RECORDS_OK)
            return service_status_of(rc);
    }
    int64_t decided_us = service_now_us();

    rd_kafka_resp_err_t err = rd_kafka_flush(svc->producer, SERVICE_TXN_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_WARN("events not delivered within %d ms: %s", SERVICE_TXN_TIMEOUT_MS,
                 rd_kafka_err2str(err));
        return SERVICE_TXN_ABORT;
    }
    if (svc->dr_err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SERVICE_TXN_ABORT;
    int64_t flushed_us = service_now_us();

    int rc = producer_records_check(svc);
    if (rc == PRODUCER_RECORDS_OK)
        rc = producer_records_finish(svc);
    if (rc != PRODUCER_RECORDS_OK)
        return service_status_of(rc);
    int64_t finished_us = service_now_us();

    if (svc->hold_before_commit_ms > 0) {
        LOG_INFO("holding the transaction open for %lld ms before its commit "
                 "(--debug-hold-before-commit)",
                 (long long)svc->hold_before_commit_ms);
        struct timespec hold = {.tv_sec = svc->hold_before_commit_ms / 1000,
                                .tv_nsec = (svc->hold_before_commit_ms % 1000) * 1000000L};
        while (nanosleep(&hold, &hold) != 0 && errno == EINTR)
            ;
    }

    do {
        status =
            service_txn_error(rd_kafka_commit_transaction(svc->producer, SERVICE_TXN_TIMEOUT_MS),
                              "commit transaction");
    } while (status == SERVICE_TXN_RETRY);
    if (status != SERVICE_TXN_OK)
        return status;
    if (svc->dr_err != RD_KAFKA_RESP_ERR_NO_ERROR)
        LOG_WARN("a delivery failed after the commit");
    producer_records_committed(svc);
    producer_ops_committed(svc->ops, svc, started_us);
    LOG_DEBUG("transaction of %zu records: offsets %lld us, decide %lld us, flush %lld us, "
              "finish %lld us, commit %lld us; the oldest record waited %lld ms",
              svc->msg_count, (long long)(offsets_us - started_us),
              (long long)(decided_us - offsets_us), (long long)(flushed_us - decided_us),
              (long long)(finished_us - flushed_us), (long long)(service_now_us() - finished_us),
              (long long)waited_ms);
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
        /* Serves the producer's error callback between transactions too. */
        rd_kafka_poll(svc->producer, 0);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(svc->consumer, timeout);
        if (msg == NULL) {
            if (svc->msg_count > 0)
                break;
            producer_ops_tick(svc->ops, svc);
            continue;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                producer_ops_kafka_error(svc->ops);
                LOG_WARN("consumer: '%s' [%d] offset %lld: %s",
                         msg->rkt != NULL ? rd_kafka_topic_name(msg->rkt) : "-",
                         (int)msg->partition, (long long)msg->offset, rd_kafka_message_errstr(msg));
            }
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
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[1024];
    int rc = ledger_kafka_ensure_ledger_topics(svc->cfg, stop, outcomes, errstr, sizeof(errstr));
    if (rc != 0) {
        if (rc < 0)
            LOG_ERROR("%s", errstr);
        return -1;
    }
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
    char errstr[512];
    if (producer_ops_start(svc->ops, errstr, sizeof(errstr)) != 0) {
        LOG_ERROR("%s", errstr);
        return 1;
    }
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
            producer_ops_aborted(svc->ops);
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
    (void)ledger_kafka_consumer_close(svc->consumer, LEDGER_KAFKA_CLOSE_MS, service_rebalance_cb,
                                      svc);
    svc->consumer = NULL;
    return 0;
}
