/*
 * projector_ops.c - metrics, readiness and progress of a projector process
 * (see projector_ops.h).
 *
 * Two threads touch this module. The runtime's thread calls the hooks and
 * the tick: it owns the per-partition picture, the rate samples and the
 * progress state, and renders the progress entry that `ledger status`
 * reads. The ops thread owns a Redis connection of its own: once a second
 * it pings (readiness follows Redis: a projector that cannot write is not
 * ready), writes the latest entry and reads the quarantine's size. The two
 * share only what the mutex guards (readiness inputs, the entry text, the
 * generation), and the metric series, which are thread-safe by contract.
 *
 * The rate is the last ten seconds' (rate_window.h), not the whole run's.
 */
#include "projector_ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errstr.h"
#include "http_ops.h"
#include "log.h"
#include "metrics.h"
#include "projector_keys.h"
#include "rate_window.h"

#define OPS_TICK_MS           1000
#define OPS_REDIS_TIMEOUT_MS  1000
#define OPS_ENTRY_TTL_MS      "60000"
#define OPS_WATERMARK_WAIT_MS 2000
#define OPS_ENTRY_BUF         512

const ledger_config_setting projector_ops_settings[] = {
    {.name = "progress_min_lag",
     .env = "LEDGER_PROGRESS_MIN_LAG",
     .flag = "progress-min-lag",
     .type = LEDGER_CONFIG_INT,
     .def = "100000",
     .min = 1,
     .max = 1000000000000LL,
     .metavar = "EVENTS",
     .help = "a catch-up counts as long work (progress on a terminal's stderr, in /metrics and "
             "ledger status) when the partitions assigned are at least this many events behind"},
    LEDGER_CONFIG_END,
};

typedef struct ops_part {
    bool owned;
    int64_t checkpoint; /* < 0: none */
    ledger_series *lag;
    ledger_series *offset;
} ops_part;

struct projector_ops {
    const ledger_redis_url *url;
    const char *ns;
    const char *view;
    bool rebuild;
    int64_t min_lag;
    bool tty;
    char id[160]; /* host:pid, this process's field in the progress hash */
    char progress_key[PROJECTOR_KEY_BUF];

    ledger_metrics *m;
    ledger_http_ops *http;

    ledger_series *events, *batches, *batch_size, *apply_seconds, *append_seconds;
    ledger_series *dlq, *quarantines, *quarantined;
    ledger_series *assigns, *revokes, *losts;
    ledger_series *redis_errors, *kafka_errors, *conflicts, *generation, *assigned;
    ledger_series *prog_active, *prog_done, *prog_remaining, *prog_rate, *prog_eta;
    ledger_metric *lag_family, *offset_family;

    /* runtime thread */
    ops_part *parts;
    size_t parts_cap;
    int64_t next_tick_ms;
    bool assess;         /* judge "far behind" at the next tick with known ends */
    bool active;         /* a catch-up or the rebuild is running */
    int64_t started_ms;  /* monotonic, when it started */
    uint64_t applied;    /* events applied by this process */
    uint64_t done_start; /* `applied` when the long work started */
    rate_window rate;    /* one sample a tick */
    bool line_shown;     /* a progress line without its newline is on the terminal */

    /* shared with the ops thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started;
    bool stop;
    bool base_ready;
    bool redis_ok;
    bool redis_checked;
    int64_t gen;
    char entry[OPS_ENTRY_BUF];
};

double projector_ops_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- readiness ---- */

/* With mu held. */
static void update_ready(projector_ops *ops) {
    if (!ops->base_ready)
        ledger_metrics_set_ready(ops->m, false, "waiting for partitions and their checkpoints");
    else if (!ops->redis_checked)
        ledger_metrics_set_ready(ops->m, false, "checking redis");
    else if (!ops->redis_ok)
        ledger_metrics_set_ready(ops->m, false, "redis unreachable");
    else
        ledger_metrics_set_ready(ops->m, true, NULL);
}

void projector_ops_set_ready(projector_ops *ops) {
    if (ops == NULL)
        return;
    pthread_mutex_lock(&ops->mu);
    ops->base_ready = true;
    update_ready(ops);
    pthread_mutex_unlock(&ops->mu);
    pthread_cond_signal(&ops->cv); /* check redis now rather than in a second */
}

/* ---- the ops thread ---- */

/* One round: ping, write the entry, read the quarantine size, pipelined.
 * Returns 0, or -1 when the connection failed (the caller drops it). */
static int ops_round(projector_ops *ops, redisContext *c, const char *entry, int64_t gen) {
    char qkey[PROJECTOR_KEY_BUF];
    size_t qlen = projector_keys_quarantine(ops->ns, ops->view, gen, qkey, sizeof(qkey));
    redisAppendCommand(c, "PING");
    redisAppendCommand(c, "HSET %s %s %s", ops->progress_key, ops->id, entry);
    redisAppendCommand(c, "PEXPIRE %s %s", ops->progress_key, OPS_ENTRY_TTL_MS);
    redisAppendCommand(c, "HLEN %b", qkey, qlen);
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR)
            ledger_series_add(ops->redis_errors, 1);
        else if (i == 3 && r->type == REDIS_REPLY_INTEGER)
            ledger_series_set(ops->quarantined, (double)r->integer);
        freeReplyObject(r);
    }
    return rc;
}

static void *ops_thread(void *arg) {
    projector_ops *ops = arg;
    redisContext *c = NULL;
    char entry[OPS_ENTRY_BUF];
    pthread_mutex_lock(&ops->mu);
    while (!ops->stop) {
        snprintf(entry, sizeof(entry), "%s", ops->entry);
        int64_t gen = ops->gen;
        pthread_mutex_unlock(&ops->mu);

        bool ok = false;
        if (c == NULL) {
            char errstr[256];
            c = ledger_redis_connect(ops->url, OPS_REDIS_TIMEOUT_MS, errstr, sizeof(errstr));
            if (c == NULL)
                ledger_series_add(ops->redis_errors, 1);
        }
        if (c != NULL) {
            ok = entry[0] == '\0' || ops_round(ops, c, entry, gen) == 0;
            if (entry[0] == '\0') {
                redisReply *r = redisCommand(c, "PING");
                ok = r != NULL && r->type != REDIS_REPLY_ERROR;
                if (r != NULL)
                    freeReplyObject(r);
            }
            if (!ok) {
                ledger_series_add(ops->redis_errors, 1);
                redisFree(c);
                c = NULL;
            }
        }

        pthread_mutex_lock(&ops->mu);
        ops->redis_ok = ok;
        ops->redis_checked = true;
        update_ready(ops);
        if (ops->stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += OPS_TICK_MS / 1000;
        pthread_cond_timedwait(&ops->cv, &ops->mu, &until);
    }
    pthread_mutex_unlock(&ops->mu);
    if (c != NULL) {
        /* Gone from `ledger status` at once rather than when it ages out. */
        redisReply *r = redisCommand(c, "HDEL %s %s", ops->progress_key, ops->id);
        if (r != NULL)
            freeReplyObject(r);
        redisFree(c);
    }
    return NULL;
}

/* ---- set-up ---- */

static const double batch_bounds[] = {1, 10, 100, 1000, 10000, 100000};
static const double apply_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double append_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static ledger_series *counter(ledger_metrics *m, const char *name, const char *help) {
    return ledger_metric_series(ledger_metrics_counter(m, name, help, NULL), NULL);
}

static ledger_series *gauge(ledger_metrics *m, const char *name, const char *help) {
    return ledger_metric_series(ledger_metrics_gauge(m, name, help, NULL), NULL);
}

static ledger_series *histogram(ledger_metrics *m, const char *name, const char *help,
                                const double *bounds, size_t n) {
    return ledger_metric_series(ledger_metrics_histogram(m, name, help, NULL, bounds, n), NULL);
}

static void register_metrics(projector_ops *ops) {
    ledger_metrics *m = ops->m;
    ops->events = counter(m, "ledger_projector_events_applied_total",
                          "events applied to the view in Redis by this process");
    ops->batches = counter(m, "ledger_projector_batches_applied_total",
                           "batches (one partition's slice, one FCALL) applied by this process");
    ops->batch_size = histogram(m, "ledger_projector_batch_events",
                                "events applied per batch (one partition's slice)", batch_bounds,
                                COUNT_OF(batch_bounds));
    ops->apply_seconds =
        histogram(m, "ledger_projector_apply_seconds",
                  "time of a batch's Redis write (the FCALL with the checkpoint), in seconds",
                  apply_bounds, COUNT_OF(apply_bounds));
    ops->append_seconds =
        histogram(m, "ledger_projector_append_to_applied_seconds",
                  "from a batch's last record's Kafka timestamp to its write in Redis, in seconds",
                  append_bounds, COUNT_OF(append_bounds));
    ops->lag_family = ledger_metrics_gauge(
        m, "ledger_projector_lag_events",
        "per assigned partition: its end (last stable offset) minus what this process consumed",
        "partition");
    ops->offset_family = ledger_metrics_gauge(
        m, "ledger_projector_checkpoint_offset",
        "per assigned partition: the checkpoint in Redis (next offset to apply)", "partition");
    ops->assigned = gauge(m, "ledger_projector_partitions_assigned",
                          "partitions of the events topic this process owns");
    ops->dlq = counter(m, "ledger_projector_dlq_records_total",
                       "records this process held in the DLQ (once each, as Redis records them)");
    ops->quarantines =
        counter(m, "ledger_projector_quarantines_total", "accounts this process quarantined");
    ops->quarantined =
        gauge(m, "ledger_projector_quarantined_accounts",
              "accounts quarantined in the view's generation (read from Redis every second)");
    ledger_metric *rebalances = ledger_metrics_counter(
        m, "ledger_projector_rebalances_total",
        "consumer group rebalance callbacks, by kind (assign, revoke, lost)", "kind");
    ops->assigns = ledger_metric_series(rebalances, "assign");
    ops->revokes = ledger_metric_series(rebalances, "revoke");
    ops->losts = ledger_metric_series(rebalances, "lost");
    ops->redis_errors = counter(m, "ledger_projector_redis_errors_total",
                                "failed Redis calls (each retried) and health checks");
    ops->kafka_errors =
        counter(m, "ledger_projector_kafka_errors_total", "errors reported by the Kafka consumer");
    ops->conflicts =
        counter(m, "ledger_projector_conflicts_total",
                "batches not written because the partition's checkpoint was not the one this "
                "process expected (another process owns it now, or Redis was rewound)");
    ops->generation = gauge(m, "ledger_projector_generation",
                            ops->rebuild ? "the generation this rebuild builds"
                                         : "the generation this process applies to");
    ops->prog_active = gauge(m, "ledger_projector_progress_active",
                             "1 while a rebuild or a catch-up from far behind runs");
    ops->prog_done = gauge(m, "ledger_projector_progress_done_events",
                           "events applied since the rebuild or catch-up started");
    ops->prog_remaining = gauge(m, "ledger_projector_progress_remaining_events",
                                "events still to apply (the sum of the lag)");
    ops->prog_rate = gauge(m, "ledger_projector_progress_rate_events_per_second",
                           "events applied per second over the last 10 seconds");
    ops->prog_eta = gauge(m, "ledger_projector_progress_eta_seconds",
                          "remaining / rate (-1 while the rate is 0)");
}

projector_ops *projector_ops_new(const ledger_config *cfg, const ledger_redis_url *url,
                                 const char *ns, const char *view, bool rebuild, char *errstr,
                                 size_t errstr_size) {
    projector_ops *ops = calloc(1, sizeof(*ops));
    if (ops == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    ops->url = url;
    ops->ns = ns;
    ops->view = view;
    ops->rebuild = rebuild;
    ops->min_lag = ledger_config_int(cfg, "progress_min_lag");
    /* JSON logs promise one object per line on stderr: no progress line
     * then, even on a terminal. */
    ledger_log_format format = LEDGER_LOG_FORMAT_TEXT;
    (void)ledger_log_format_parse(ledger_config_str(cfg, "log_format"), &format);
    ops->tty = isatty(STDERR_FILENO) == 1 && format == LEDGER_LOG_FORMAT_TEXT;
    ops->gen = PROJECTOR_FIRST_GENERATION;
    rate_window_init(&ops->rate);
    pthread_mutex_init(&ops->mu, NULL);
    pthread_cond_init(&ops->cv, NULL);
    char host[128] = "";
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(ops->id, sizeof(ops->id), "%s:%ld", host, (long)getpid());
    projector_keys_progress(ns, view, ops->progress_key, sizeof(ops->progress_key));
    if (rebuild) {
        ops->active = true;
        ops->started_ms = ledger_mono_ms();
    }

    ops->m = ledger_metrics_new("view", view);
    if (ops->m == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    register_metrics(ops);
    ledger_series_set(ops->prog_active, rebuild ? 1 : 0);
    update_ready(ops);
    if (ledger_config_is_set(cfg, "http_port")) {
        const char *bind = ledger_config_str(cfg, "http_bind");
        ops->http = ledger_http_ops_start(bind, (int)ledger_config_int(cfg, "http_port"), ops->m,
                                          errstr, errstr_size);
        if (ops->http == NULL)
            goto fail; /* (it logs the address it listens on) */
    }
    if (pthread_create(&ops->thread, NULL, ops_thread, ops) != 0) {
        ledger_errf(errstr, errstr_size, "cannot start the operations thread");
        goto fail;
    }
    ops->thread_started = true;
    return ops;
fail:
    projector_ops_destroy(ops);
    return NULL;
}

static void end_line(projector_ops *ops) {
    if (ops->line_shown) {
        fputc('\n', stderr);
        fflush(stderr);
        ops->line_shown = false;
    }
}

void projector_ops_destroy(projector_ops *ops) {
    if (ops == NULL)
        return;
    end_line(ops);
    ledger_http_ops_destroy(ops->http);
    if (ops->thread_started) {
        pthread_mutex_lock(&ops->mu);
        ops->stop = true;
        pthread_cond_signal(&ops->cv);
        pthread_mutex_unlock(&ops->mu);
        pthread_join(ops->thread, NULL);
    }
    ledger_metrics_destroy(ops->m);
    pthread_cond_destroy(&ops->cv);
    pthread_mutex_destroy(&ops->mu);
    free(ops->parts);
    free(ops);
}

/* ---- hooks ---- */

void projector_ops_rebalance(projector_ops *ops, const char *kind) {
    if (ops == NULL)
        return;
    if (strcmp(kind, "assign") == 0) {
        ledger_series_add(ops->assigns, 1);
        ops->assess = true;
    } else if (strcmp(kind, "lost") == 0) {
        ledger_series_add(ops->losts, 1);
    } else {
        ledger_series_add(ops->revokes, 1);
    }
}

void projector_ops_generation(projector_ops *ops, int64_t gen) {
    if (ops == NULL)
        return;
    ledger_series_set(ops->generation, (double)gen);
    pthread_mutex_lock(&ops->mu);
    ops->gen = gen;
    pthread_mutex_unlock(&ops->mu);
}

void projector_ops_partition(projector_ops *ops, int32_t partition, bool owned,
                             int64_t checkpoint) {
    if (ops == NULL || partition < 0)
        return;
    size_t need = (size_t)partition + 1;
    if (need > ops->parts_cap) {
        size_t cap = ops->parts_cap > 0 ? ops->parts_cap : 8;
        while (cap < need)
            cap *= 2;
        ops_part *parts = realloc(ops->parts, cap * sizeof(*parts));
        if (parts == NULL)
            return; /* metrics only: never fail the data path */
        memset(parts + ops->parts_cap, 0, (cap - ops->parts_cap) * sizeof(*parts));
        ops->parts = parts;
        ops->parts_cap = cap;
    }
    ops_part *p = &ops->parts[partition];
    p->checkpoint = checkpoint;
    if (owned) {
        /* Created on first ownership: a partition this process never had
         * (or one the runtime merely has room for) shows no series. */
        if (p->lag == NULL) {
            p->lag = ledger_metric_series_int(ops->lag_family, partition);
            p->offset = ledger_metric_series_int(ops->offset_family, partition);
        }
        ledger_series_set(p->offset, (double)(checkpoint > 0 ? checkpoint : 0));
    } else if (p->owned) {
        ledger_series_hide(p->lag);
        ledger_series_hide(p->offset);
    }
    p->owned = owned;
}

void projector_ops_applied(projector_ops *ops, int32_t partition, size_t events, size_t held,
                           size_t quarantined, double seconds, int64_t appended_ms) {
    (void)partition;
    if (ops == NULL)
        return;
    ops->applied += events;
    ledger_series_add(ops->events, (double)events);
    ledger_series_add(ops->batches, 1);
    ledger_series_observe(ops->batch_size, (double)events);
    ledger_series_observe(ops->apply_seconds, seconds);
    if (held > 0)
        ledger_series_add(ops->dlq, (double)held);
    if (quarantined > 0)
        ledger_series_add(ops->quarantines, (double)quarantined);
    if (appended_ms > 0) {
        int64_t age = wall_ms() - appended_ms;
        ledger_series_observe(ops->append_seconds, age > 0 ? (double)age / 1000.0 : 0.0);
    }
}

void projector_ops_conflict(projector_ops *ops) {
    if (ops == NULL)
        return;
    ledger_series_add(ops->conflicts, 1);
}

void projector_ops_redis_error(projector_ops *ops) {
    if (ops == NULL)
        return;
    ledger_series_add(ops->redis_errors, 1);
}

void projector_ops_kafka_error(projector_ops *ops) {
    if (ops == NULL)
        return;
    ledger_series_add(ops->kafka_errors, 1);
}

/* ---- lag and progress ---- */

/* "42s", "3m05s", "1h02m". */
static void format_duration(double seconds, char *buf, size_t size) {
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, size, "%lds", s);
}

/* The lag of every owned partition; *known is false when some end is not
 * known yet (no fetch answered). With `query`, an unknown end is asked of
 * the broker (a blocking request: only when judging an assignment). */
static int64_t measure_lag(projector_ops *ops, rd_kafka_t *rk, const char *topic, bool query,
                           bool *known, int *owned_count) {
    int owned = 0;
    for (size_t p = 0; p < ops->parts_cap; p++)
        owned += ops->parts[p].owned ? 1 : 0;
    *owned_count = owned;
    *known = true;
    if (owned == 0)
        return 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(owned);
    for (size_t p = 0; p < ops->parts_cap; p++)
        if (ops->parts[p].owned)
            rd_kafka_topic_partition_list_add(list, topic, (int32_t)p);
    if (rd_kafka_position(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < list->cnt; i++)
            list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    }
    int64_t total = 0;
    for (int i = 0; i < list->cnt; i++) {
        int32_t p = list->elems[i].partition;
        ops_part *part = &ops->parts[p];
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t err = rd_kafka_get_watermark_offsets(rk, topic, p, &lo, &hi);
        if ((err != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0) && query)
            err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, OPS_WATERMARK_WAIT_MS);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0) {
            *known = false;
            continue;
        }
        /* Between batches every record collected is applied or dropped (and
         * its partition re-sought), so a position past the checkpoint only
         * skipped records that are not events: transaction markers. */
        int64_t consumed = part->checkpoint > 0 ? part->checkpoint : 0;
        int64_t position = list->elems[i].offset;
        if (position > consumed)
            consumed = position;
        if (lo > consumed)
            consumed = lo;
        int64_t lag = hi > consumed ? hi - consumed : 0;
        ledger_series_set(part->lag, (double)lag);
        total += lag;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return total;
}

static void show_line(projector_ops *ops, int64_t gen, uint64_t done, int64_t remaining,
                      double rate, double eta) {
    if (!ops->tty)
        return;
    char left[32];
    if (eta >= 0)
        format_duration(eta, left, sizeof(left));
    else
        snprintf(left, sizeof(left), "?");
    char what[128];
    if (ops->rebuild)
        snprintf(what, sizeof(what), "view '%s' rebuilding generation %lld", ops->view,
                 (long long)gen);
    else
        snprintf(what, sizeof(what), "view '%s' catching up", ops->view);
    uint64_t total = done + (uint64_t)remaining;
    fprintf(stderr, "\r\033[K%s: %llu events done, %lld to go (%.0f%%), %.0f events/s, %s left",
            what, (unsigned long long)done, (long long)remaining,
            total > 0 ? 100.0 * (double)done / (double)total : 100.0, rate, left);
    fflush(stderr);
    ops->line_shown = true;
}

static void render_entry(projector_ops *ops, const char *kind, int64_t gen, int owned, double rate,
                         uint64_t done, int64_t remaining, double eta) {
    char eta_text[32];
    if (eta >= 0)
        snprintf(eta_text, sizeof(eta_text), "%.0f", eta);
    else
        snprintf(eta_text, sizeof(eta_text), "null");
    pthread_mutex_lock(&ops->mu);
    snprintf(ops->entry, sizeof(ops->entry),
             "{\"kind\":\"%s\",\"generation\":%lld,\"partitions\":%d,\"rate\":%.1f,\"done\":%llu,"
             "\"remaining\":%lld,\"eta_seconds\":%s,\"at_ms\":%lld}",
             kind, (long long)gen, owned, rate, (unsigned long long)done, (long long)remaining,
             eta_text, (long long)wall_ms());
    pthread_mutex_unlock(&ops->mu);
}

void projector_ops_tick(projector_ops *ops, rd_kafka_t *rk, const char *topic) {
    if (ops == NULL)
        return;
    int64_t now = ledger_mono_ms();
    if (now < ops->next_tick_ms)
        return;
    ops->next_tick_ms = now + OPS_TICK_MS;
    bool known;
    int owned;
    int64_t remaining = measure_lag(ops, rk, topic, ops->assess, &known, &owned);
    ledger_series_set(ops->assigned, owned);
    double rate = rate_window_add(&ops->rate, now, ops->applied);
    pthread_mutex_lock(&ops->mu);
    int64_t gen = ops->gen;
    pthread_mutex_unlock(&ops->mu);

    if (ops->assess && known && !ops->rebuild) {
        ops->assess = false;
        if (!ops->active && owned > 0 && remaining >= ops->min_lag) {
            ops->active = true;
            ops->started_ms = now;
            ops->done_start = ops->applied;
            ledger_series_set(ops->prog_active, 1);
            LOG_INFO("catching up: %lld events behind on %d partitions", (long long)remaining,
                     owned);
        }
    }
    double eta = rate > 0 ? (double)remaining / rate : (remaining == 0 ? 0 : -1);
    uint64_t done = ops->active ? ops->applied - ops->done_start : 0;
    ledger_series_set(ops->prog_remaining, (double)remaining);
    ledger_series_set(ops->prog_rate, rate);
    ledger_series_set(ops->prog_eta, eta);
    if (ops->active) {
        ledger_series_set(ops->prog_done, (double)done);
        show_line(ops, gen, done, remaining, rate, eta);
        /* Caught up to within a hundredth of the threshold: live traffic
         * keeps a small lag forever, so "zero" would never come. */
        if (!ops->rebuild && known && remaining * 100 <= ops->min_lag) {
            double seconds = (double)(now - ops->started_ms) / 1000.0;
            end_line(ops);
            LOG_INFO("caught up: %llu events in %.1f s (%.0f events/s)", (unsigned long long)done,
                     seconds, seconds > 0 ? (double)done / seconds : 0.0);
            ops->active = false;
            ledger_series_set(ops->prog_active, 0);
        }
    }
    render_entry(ops,
                 ops->rebuild  ? "rebuild"
                 : ops->active ? "catchup"
                               : "live",
                 gen, owned, rate, done, remaining, eta);
}

void projector_ops_finish(projector_ops *ops, bool switched) {
    if (ops == NULL)
        return;
    end_line(ops); /* the log lines of the stop start on a line of their own */
    if (!ops->rebuild || !ops->active)
        return;
    uint64_t done = ops->applied - ops->done_start;
    double seconds = (double)(ledger_mono_ms() - ops->started_ms) / 1000.0;
    end_line(ops);
    LOG_INFO("rebuild %s: %llu events in %.1f s (%.0f events/s)", switched ? "switched" : "stopped",
             (unsigned long long)done, seconds, seconds > 0 ? (double)done / seconds : 0.0);
    ops->active = false;
    ledger_series_set(ops->prog_active, 0);
}
