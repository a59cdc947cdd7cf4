/*
 * ops.c - the producer's metrics and readiness (ops.h), named once here so
 * producer/README.md can list them from one place.
 *
 * Why counts are taken after the commit, from the batch: a transaction that
 * aborts is done again after a restore, so counting as commands are decided
 * would count them twice. The batch still holds every result of the
 * transaction just committed (it is reset when the next one begins), and
 * walking it once per transaction costs a few instructions per command.
 *
 * The lag of a command partition is its high watermark (the consumer's
 * cached value from its last fetch: no request) minus the next offset to
 * handle (the committed offset). Both are known without asking the broker,
 * so the tick that refreshes it is cheap enough for the poll loop.
 */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "http_ops.h"
#include "log.h"
#include "metrics.h"
#include "service_internal.h"

/* Records per transaction: 1 to the largest --max-batch. */
static const double batch_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
/* Seconds: a transaction is a few broker round trips (ms); a command waits
 * for the transaction under way and its own. */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};
/* Seconds a restore of the assigned partitions took. */
static const double restore_bounds[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

#define N_BOUNDS(a) (sizeof(a) / sizeof((a)[0]))

struct producer_ops {
    const ledger_config *cfg;
    ledger_metrics *metrics;
    ledger_http_ops *http;

    ledger_series *accepted, *rejected, *duplicate, *malformed;
    ledger_metric *rejections; /* by reason */
    ledger_series *reason[LEDGER_REASON_COUNT_];
    ledger_series *events;
    ledger_series *committed, *aborted;
    ledger_series *batch_records, *txn_seconds, *command_seconds;
    ledger_metric *lag, *offset;
    ledger_series *owned;
    ledger_series *restores, *restored_events, *restored_accounts, *restore_seconds;
    ledger_metric *rebalances;
    ledger_series *snapshots;
    ledger_series *kafka_errors;

    /* per command partition: the next offset to handle, -1 when unknown
     * or not owned; and its series (looked up once) */
    int32_t n_parts;
    int64_t *next_offset;
    ledger_series **lag_series, **offset_series;
    int64_t last_tick_ms;
};

producer_ops *producer_ops_new(const ledger_config *cfg) {
    producer_ops *ops = calloc(1, sizeof(*ops));
    if (ops == NULL)
        return NULL;
    ops->cfg = cfg;
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    if (m == NULL) {
        free(ops);
        return NULL;
    }
    ops->metrics = m;
    ledger_metrics_set_ready(m, false, "waiting for an assignment");

    ledger_metric *commands =
        ledger_metrics_counter(m, "ledger_producer_commands_total",
                               "command records handled and committed, by outcome: accepted, "
                               "rejected, duplicate (answered with the original result) or "
                               "malformed",
                               "outcome");
    ops->accepted = ledger_metric_series(commands, "accepted");
    ops->rejected = ledger_metric_series(commands, "rejected");
    ops->duplicate = ledger_metric_series(commands, "duplicate");
    ops->malformed = ledger_metric_series(commands, "malformed");
    ops->rejections = ledger_metrics_counter(
        m, "ledger_producer_rejections_total",
        "commands rejected, by reason (malformed_command included; duplicates not)", "reason");
    ops->events = ledger_metric_series(
        ledger_metrics_counter(m, "ledger_producer_events_appended_total",
                               "events appended to the events topic (transfer credits and "
                               "returns included)",
                               NULL),
        NULL);
    ledger_metric *txns = ledger_metrics_counter(m, "ledger_producer_transactions_total",
                                                 "Kafka transactions, by outcome", "outcome");
    ops->committed = ledger_metric_series(txns, "committed");
    ops->aborted = ledger_metric_series(txns, "aborted");
    ops->batch_records =
        ledger_metric_series(ledger_metrics_histogram(m, "ledger_producer_transaction_records",
                                                      "command records per committed transaction",
                                                      NULL, batch_bounds, N_BOUNDS(batch_bounds)),
                             NULL);
    ops->txn_seconds = ledger_metric_series(
        ledger_metrics_histogram(m, "ledger_producer_transaction_seconds",
                                 "committed transaction latency, from its beginning to the end of "
                                 "its commit",
                                 NULL, latency_bounds, N_BOUNDS(latency_bounds)),
        NULL);
    ops->command_seconds = ledger_metric_series(
        ledger_metrics_histogram(m, "ledger_producer_command_seconds",
                                 "command latency: from the command record's timestamp to the "
                                 "commit of its result",
                                 NULL, latency_bounds, N_BOUNDS(latency_bounds)),
        NULL);
    ops->lag =
        ledger_metrics_gauge(m, "ledger_producer_lag_records",
                             "command records not handled yet, per owned partition", "partition");
    ops->offset = ledger_metrics_gauge(m, "ledger_producer_committed_offset",
                                       "next command offset to handle, per owned partition (the "
                                       "offset committed with the last transaction)",
                                       "partition");
    ops->owned = ledger_metric_series(
        ledger_metrics_gauge(m, "ledger_producer_partitions_owned",
                             "command partitions assigned to this process and restored", NULL),
        NULL);
    ops->restores = ledger_metric_series(
        ledger_metrics_counter(m, "ledger_producer_partitions_restored_total",
                               "partition restores (after an assignment or an aborted "
                               "transaction)",
                               NULL),
        NULL);
    ops->restored_events = ledger_metric_series(
        ledger_metrics_counter(m, "ledger_producer_restore_events_replayed_total",
                               "events folded while restoring, after the snapshots", NULL),
        NULL);
    ops->restored_accounts = ledger_metric_series(
        ledger_metrics_gauge(m, "ledger_producer_restore_accounts",
                             "accounts held after the last restore, summed over its partitions",
                             NULL),
        NULL);
    ops->restore_seconds = ledger_metric_series(
        ledger_metrics_histogram(m, "ledger_producer_restore_seconds",
                                 "time to restore the partitions of one assignment", NULL,
                                 restore_bounds, N_BOUNDS(restore_bounds)),
        NULL);
    ops->rebalances = ledger_metrics_counter(
        m, "ledger_producer_rebalances_total",
        "consumer group rebalance events, by kind: assigned, revoked or lost", "kind");
    ops->snapshots =
        ledger_metric_series(ledger_metrics_counter(m, "ledger_producer_snapshots_written_total",
                                                    "partition snapshots written", NULL),
                             NULL);
    ops->kafka_errors = ledger_metric_series(
        ledger_metrics_counter(
            m, "ledger_producer_kafka_errors_total",
            "errors reported by librdkafka (its error callback, and consumer errors in place of "
            "records); the clients retry most",
            NULL),
        NULL);
    for (int r = 1; r < LEDGER_REASON_COUNT_; r++) {
        const char *name = ledger_reason_name((ledger_reason)r);
        ops->reason[r] = name != NULL ? ledger_metric_series(ops->rejections, name) : NULL;
    }
    return ops;
}

int producer_ops_start(producer_ops *ops, char *errstr, size_t errstr_size) {
    if (ops == NULL || !ledger_config_is_set(ops->cfg, "http_port"))
        return 0;
    ops->http = ledger_http_ops_start(ledger_config_str(ops->cfg, "http_bind"),
                                      (int)ledger_config_int(ops->cfg, "http_port"), ops->metrics,
                                      errstr, errstr_size);
    return ops->http != NULL ? 0 : -1;
}

void producer_ops_destroy(producer_ops *ops) {
    if (ops == NULL)
        return;
    ledger_http_ops_destroy(ops->http); /* before the registry it reads */
    ledger_metrics_destroy(ops->metrics);
    free(ops->next_offset);
    free(ops->lag_series);
    free(ops->offset_series);
    free(ops);
}

int producer_ops_port(const producer_ops *ops) {
    return ops != NULL && ops->http != NULL ? ledger_http_ops_port(ops->http) : -1;
}

void producer_ops_set_ready(producer_ops *ops, bool ready, const char *why) {
    if (ops != NULL)
        ledger_metrics_set_ready(ops->metrics, ready, why);
}

/* The per-partition arrays, made once the partition count is known. */
static bool ops_partitions(producer_ops *ops, int32_t n) {
    if (ops->n_parts == n)
        return true;
    if (ops->n_parts != 0 || n <= 0)
        return false;
    ops->next_offset = malloc((size_t)n * sizeof(*ops->next_offset));
    ops->lag_series = calloc((size_t)n, sizeof(*ops->lag_series));
    ops->offset_series = calloc((size_t)n, sizeof(*ops->offset_series));
    if (ops->next_offset == NULL || ops->lag_series == NULL || ops->offset_series == NULL) {
        free(ops->next_offset);
        free(ops->lag_series);
        free(ops->offset_series);
        ops->next_offset = NULL;
        ops->lag_series = ops->offset_series = NULL;
        return false;
    }
    for (int32_t p = 0; p < n; p++) {
        ops->next_offset[p] = -1;
        ops->lag_series[p] = ledger_metric_series_int(ops->lag, p);
        ops->offset_series[p] = ledger_metric_series_int(ops->offset, p);
        ledger_series_hide(ops->lag_series[p]);
        ledger_series_hide(ops->offset_series[p]);
    }
    ops->n_parts = n;
    return true;
}

static void ops_lag(producer_ops *ops, producer_service *svc) {
    for (int32_t p = 0; p < ops->n_parts; p++) {
        if (!svc->parts[p].active || ops->next_offset[p] < 0)
            continue;
        int64_t low = -1, high = -1;
        if (rd_kafka_get_watermark_offsets(svc->consumer, svc->topic_commands, p, &low, &high) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0)
            continue;
        int64_t next = ops->next_offset[p] > low ? ops->next_offset[p] : low;
        ledger_series_set(ops->lag_series[p], (double)(high > next ? high - next : 0));
    }
}

void producer_ops_committed(producer_ops *ops, producer_service *svc, int64_t started_us) {
    if (ops == NULL)
        return;
    int64_t now_us = service_now_us();
    int64_t now_wall_ms = service_wall_ms();
    double accepted = 0, rejected = 0, duplicate = 0, malformed = 0;
    size_t n = producer_batch_count(svc->batch);
    for (size_t i = 0; i < n; i++) {
        const producer_pending *pending = producer_batch_at(svc->batch, i);
        const ledger_result *r = &pending->result;
        if (pending->dup_of >= 0 || r->duplicate) {
            duplicate++;
        } else if (r->reason == LEDGER_OK) {
            accepted++;
        } else {
            if (r->reason == LEDGER_MALFORMED_COMMAND)
                malformed++;
            else
                rejected++;
            if (r->reason > 0 && r->reason < LEDGER_REASON_COUNT_)
                ledger_series_add(ops->reason[r->reason], 1);
        }
    }
    ledger_series_add(ops->accepted, accepted);
    ledger_series_add(ops->rejected, rejected);
    ledger_series_add(ops->duplicate, duplicate);
    ledger_series_add(ops->malformed, malformed);

    /* Each command record's age at the commit of its result (the records
     * of ledger.commands carry the client's CreateTime), observed a chunk
     * at a time: one lock per chunk, not per command. */
    double ages[256];
    size_t n_ages = 0;
    for (size_t i = 0; i < svc->msg_count; i++) {
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(svc->msgs[i], &type);
        if (ts <= 0 || type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
            continue;
        ages[n_ages++] = ts < now_wall_ms ? (double)(now_wall_ms - ts) / 1000.0 : 0;
        if (n_ages == sizeof(ages) / sizeof(ages[0])) {
            ledger_series_observe_many(ops->command_seconds, ages, n_ages);
            n_ages = 0;
        }
    }
    ledger_series_observe_many(ops->command_seconds, ages, n_ages);

    int64_t events = 0;
    bool have_parts = ops_partitions(ops, svc->partition_count);
    for (int32_t p = 0; p < svc->partition_count; p++) {
        const producer_partition *part = &svc->parts[p];
        if (part->active)
            events += part->txn_events;
        if (have_parts && part->commit_offset >= 0) {
            ops->next_offset[p] = part->commit_offset;
            ledger_series_set(ops->offset_series[p], (double)part->commit_offset);
        }
    }
    ledger_series_add(ops->events, (double)events);
    ledger_series_add(ops->committed, 1);
    ledger_series_observe(ops->batch_records, (double)svc->msg_count);
    ledger_series_observe(ops->txn_seconds, (double)(now_us - started_us) / 1e6);
    if (have_parts)
        ops_lag(ops, svc);
}

void producer_ops_aborted(producer_ops *ops) {
    if (ops != NULL)
        ledger_series_add(ops->aborted, 1);
}

void producer_ops_restored(producer_ops *ops, const producer_restore_stats *stats, size_t n,
                           int64_t elapsed_ms) {
    if (ops == NULL)
        return;
    double events = 0, accounts = 0;
    for (size_t i = 0; i < n; i++) {
        events += (double)stats[i].events_replayed;
        accounts += (double)stats[i].accounts;
    }
    ledger_series_add(ops->restores, (double)n);
    ledger_series_add(ops->restored_events, events);
    ledger_series_set(ops->restored_accounts, accounts);
    ledger_series_observe(ops->restore_seconds, (double)elapsed_ms / 1000.0);
}

void producer_ops_rebalance(producer_ops *ops, producer_service *svc, const char *kind,
                            const rd_kafka_topic_partition_list_t *parts) {
    if (ops == NULL)
        return;
    ledger_series_add(ledger_metric_series(ops->rebalances, kind), 1);
    int owned = 0;
    for (int32_t p = 0; p < svc->partition_count; p++)
        owned += svc->parts[p].active;
    ledger_series_set(ops->owned, owned);
    (void)ops_partitions(ops, svc->partition_count);
    bool assigned = strcmp(kind, "assigned") == 0;
    for (int i = 0; parts != NULL && i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= ops->n_parts)
            continue;
        if (assigned) {
            int64_t offset = parts->elems[i].offset;
            ops->next_offset[p] = offset >= 0 ? offset : 0;
            ledger_series_set(ops->offset_series[p], (double)ops->next_offset[p]);
        } else {
            ops->next_offset[p] = -1;
            ledger_series_hide(ops->lag_series[p]);
            ledger_series_hide(ops->offset_series[p]);
        }
    }
}

void producer_ops_tick(producer_ops *ops, producer_service *svc) {
    if (ops == NULL)
        return;
    int64_t now = service_now_ms();
    if (now - ops->last_tick_ms < 1000)
        return;
    ops->last_tick_ms = now;
    if (ops_partitions(ops, svc->partition_count))
        ops_lag(ops, svc);
}

void producer_ops_snapshot(producer_ops *ops) {
    if (ops != NULL)
        ledger_series_add(ops->snapshots, 1);
}

void producer_ops_kafka_error(producer_ops *ops) {
    if (ops != NULL)
        ledger_series_add(ops->kafka_errors, 1);
}
