/*
 * cmd_status.c - `ledger status [--view V]`: per view, the generation
 * queries read (and the one a rebuild is writing), each partition's
 * checkpoint against the end of the events topic, and the quarantined
 * accounts.
 *
 * The end of a partition is where its committed data ends (log_end.h), not
 * the high watermark: a view that has applied everything shows lag 0 even
 * though a transaction's commit marker follows its last event. The ends
 * are read once for every view shown, from the lowest of their
 * checkpoints, which is exact for each (an end below a view's checkpoint
 * only says that nothing follows it).
 *
 * events_applied is the sum of the current generation's checkpoints: the
 * offsets the view has consumed, transaction markers included, so it is an
 * upper bound of the events applied (a measure of progress, cheap to read).
 *
 * The rate and the time left come from the projectors themselves: a status
 * is one look, and a rate needs two, so each running projector writes its
 * recent applied rate into <ns>:<view>:progress every second
 * (projectors/projector_ops.h) and this adds them up.
 */
#include "cmd_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "json_out.h"
#include "kafka.h"
#include "log_end.h"
#include "projector_keys.h"
#include "redis.h"
#include "view_progress.h"

#define STATUS_CONNECT_TIMEOUT_MS 5000
#define STATUS_MAX_VIEWS          32

static const ledger_config_setting status_settings[] = {
    {.name = "view",
     .flag = "view",
     .type = LEDGER_CONFIG_STRING,
     .min = 1,
     .max = 64,
     .metavar = "NAME",
     .help = "only this view (default: every view)"},
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "10s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "how long asking Kafka may take (seconds, or 500ms, 2m); then exit 3"},
    LEDGER_CONFIG_END,
};

static const char status_usage[] = "ledger status [--view NAME] [options]";

static const char status_description[] =
    "Prints one line per view:\n"
    "  {\"view\":\"balance\",\"generation\":3,\"building\":4,\"partitions\":[{\"partition\":0,\n"
    "   \"checkpoint\":123,\"end\":125,\"lag\":2},...],\"events_applied\":N,"
    "\"quarantined\":[\"A\",...]}\n"
    "generation: what queries read; building: the generation a rebuild is writing (only\n"
    "while one runs). checkpoint: the next offset of the events topic the view will apply;\n"
    "end: the offset after the partition's last committed event (transaction markers and\n"
    "aborted records are not counted as lag); lag = end - checkpoint. events_applied: the\n"
    "sum of the checkpoints (offsets consumed, markers included). quarantined: accounts\n"
    "held back by a record that could not be applied (see ledger dlq).\n"
    "lag: the sum of the partitions' lag; projectors: the running processes of the view\n"
    "(each reports itself in Redis every second); rate: their applied events per second\n"
    "over the last 10 s; eta_seconds: lag / rate (0 when caught up, null when nothing is\n"
    "applied). While a rebuild runs, rebuild: {\"generation\":4,\"done\":D,\"total\":T,\n"
    "\"remaining\":R,\"rate\":N,\"eta_seconds\":S}: its checkpoints against the same ends.\n"
    "Exit 3 when Kafka or Redis cannot be reached.";

typedef struct status_view {
    const char *name;
    int64_t generation;
    int64_t building; /* 0: none */
    int64_t *checkpoints;
    int64_t *building_checkpoints; /* while a rebuild runs */
    redisReply *quarantined;
    view_progress_report report;
} status_view;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* seconds left at `rate` (events/s) for `remaining` events: 0 when done,
 * null when nothing is being applied. */
static void print_eta(json_out *j, int64_t remaining, double rate) {
    if (remaining <= 0)
        json_out_int(j, 0);
    else if (rate >= 1)
        json_out_int(j, (int64_t)((double)remaining / rate + 0.5));
    else
        json_out_null(j);
}

/* The rebuild's progress: its checkpoints against the same ends. */
static void print_rebuild(json_out *j, const status_view *v, int32_t partitions,
                          const int64_t *end) {
    int64_t done = 0, total = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t cp = v->building_checkpoints[p] > 0 ? v->building_checkpoints[p] : 0;
        done += cp;
        total += end[p] > cp ? end[p] : cp;
    }
    json_out_key(j, "rebuild");
    json_out_object_begin(j);
    json_out_key(j, "generation");
    json_out_int(j, v->building);
    json_out_key(j, "done");
    json_out_int(j, done);
    json_out_key(j, "total");
    json_out_int(j, total);
    json_out_key(j, "remaining");
    json_out_int(j, total - done);
    json_out_key(j, "rate");
    if (v->report.rebuild)
        json_out_int(j, (int64_t)(v->report.rebuild_rate + 0.5));
    else
        json_out_null(j);
    json_out_key(j, "eta_seconds");
    print_eta(j, total - done, v->report.rebuild ? v->report.rebuild_rate : 0);
    json_out_object_end(j);
}

/* Prints one view's line. Returns 0, or -1 when out of memory. */
static int print_view(const status_view *v, int32_t partitions, const int64_t *end) {
    size_t size = 512 + (size_t)partitions * 128;
    for (size_t i = 0; i < v->quarantined->elements; i++)
        size += v->quarantined->element[i]->len * 6 + 4; /* worst case: every byte escaped */
    char *buf = malloc(size);
    if (buf == NULL)
        return -1;
    json_out j;
    json_out_init(&j, buf, size);
    json_out_object_begin(&j);
    json_out_key(&j, "view");
    json_out_string(&j, v->name);
    json_out_key(&j, "generation");
    json_out_int(&j, v->generation);
    if (v->building > 0) {
        json_out_key(&j, "building");
        json_out_int(&j, v->building);
    }
    json_out_key(&j, "partitions");
    json_out_array_begin(&j);
    int64_t applied = 0, total_lag = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t cp = v->checkpoints[p] > 0 ? v->checkpoints[p] : 0;
        int64_t lag = end[p] > cp ? end[p] - cp : 0;
        applied += cp;
        total_lag += lag;
        json_out_object_begin(&j);
        json_out_key(&j, "partition");
        json_out_int(&j, p);
        json_out_key(&j, "checkpoint");
        json_out_int(&j, cp);
        json_out_key(&j, "end");
        json_out_int(&j, end[p] > cp ? end[p] : cp);
        json_out_key(&j, "lag");
        json_out_int(&j, lag);
        json_out_object_end(&j);
    }
    json_out_array_end(&j);
    json_out_key(&j, "events_applied");
    json_out_int(&j, applied);
    json_out_key(&j, "lag");
    json_out_int(&j, total_lag);
    json_out_key(&j, "projectors");
    json_out_int(&j, v->report.projectors);
    json_out_key(&j, "rate");
    json_out_int(&j, (int64_t)(v->report.rate + 0.5));
    json_out_key(&j, "eta_seconds");
    print_eta(&j, total_lag, v->report.rate);
    if (v->building > 0 && v->building_checkpoints != NULL)
        print_rebuild(&j, v, partitions, end);
    json_out_key(&j, "quarantined");
    json_out_array_begin(&j);
    for (size_t i = 0; i < v->quarantined->elements; i++)
        json_out_string_len(&j, v->quarantined->element[i]->str, v->quarantined->element[i]->len);
    json_out_array_end(&j);
    json_out_object_end(&j);
    int rc = json_out_ok(&j) ? 0 : -1;
    if (rc == 0)
        printf("%s\n", json_out_text(&j));
    free(buf);
    return rc;
}

static int run_status(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger status: unexpected argument '%s'\n",
                ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }
    char errstr[1024], topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    const char *names[STATUS_MAX_VIEWS];
    int nviews = view_progress_pick(ledger_config_str(cfg, "view"), names, STATUS_MAX_VIEWS, errstr,
                                    sizeof(errstr));
    if (nviews < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    int64_t deadline = ledger_mono_ms() + ledger_config_duration_ms(cfg, "timeout");
    if (cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_EVENTS, topic, sizeof(topic), errstr,
                             sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }

    int rc = CLI_EXIT_INFRA;
    status_view views[STATUS_MAX_VIEWS];
    memset(views, 0, sizeof(views));
    int64_t *from = NULL, *end = NULL;
    rd_kafka_t *rk = NULL;
    redisContext *c = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"),
                                               STATUS_CONNECT_TIMEOUT_MS, errstr, sizeof(errstr));
    if (c == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    rk = cli_kafka_consumer_new(cfg, true /* partition eof */, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    int64_t left = deadline - ledger_mono_ms();
    int32_t partitions =
        cli_kafka_partition_count(rk, cfg, topic, left > 0 ? (int)left : 1, errstr, sizeof(errstr));
    if (partitions < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    from = calloc((size_t)partitions, sizeof(*from));
    end = calloc((size_t)partitions, sizeof(*end));
    if (from == NULL || end == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }

    /* Redis first: the ends are read from the lowest checkpoint shown. */
    for (int v = 0; v < nviews; v++) {
        status_view *sv = &views[v];
        sv->name = names[v];
        sv->checkpoints = calloc((size_t)partitions, sizeof(*sv->checkpoints));
        if (sv->checkpoints == NULL) {
            fprintf(stderr, "ledger: out of memory\n");
            goto cleanup;
        }
        if (view_progress_generations(c, ns, sv->name, &sv->generation, &sv->building, errstr,
                                      sizeof(errstr)) != 0 ||
            view_progress_checkpoints(c, ns, sv->name, sv->generation, partitions, sv->checkpoints,
                                      errstr, sizeof(errstr)) != 0 ||
            (sv->quarantined = view_progress_quarantined(c, ns, sv->name, sv->generation, errstr,
                                                         sizeof(errstr))) == NULL) {
            fprintf(stderr, "ledger: redis: %s\n", errstr);
            goto cleanup;
        }
        if (sv->building > 0) {
            sv->building_checkpoints = calloc((size_t)partitions, sizeof(*sv->checkpoints));
            if (sv->building_checkpoints == NULL) {
                fprintf(stderr, "ledger: out of memory\n");
                goto cleanup;
            }
            if (view_progress_checkpoints(c, ns, sv->name, sv->building, partitions,
                                          sv->building_checkpoints, errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "ledger: redis: %s\n", errstr);
                goto cleanup;
            }
        }
        if (view_progress_reports(c, ns, sv->name, wall_ms(), &sv->report, errstr,
                                  sizeof(errstr)) != 0) {
            fprintf(stderr, "ledger: redis: %s\n", errstr);
            goto cleanup;
        }
        for (int32_t p = 0; p < partitions; p++) {
            int64_t cp = sv->checkpoints[p] > 0 ? sv->checkpoints[p] : 0;
            if (v == 0 || cp < from[p])
                from[p] = cp;
        }
    }
    if (log_end_find(rk, topic, partitions, from, end, deadline, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: kafka at '%s': %s\n", ledger_config_str(cfg, "brokers"), errstr);
        goto cleanup;
    }
    for (int v = 0; v < nviews; v++) {
        if (print_view(&views[v], partitions, end) != 0) {
            fprintf(stderr, "ledger: out of memory\n");
            goto cleanup;
        }
    }
    fflush(stdout);
    rc = CLI_EXIT_OK;

cleanup:
    for (int v = 0; v < nviews; v++) {
        free(views[v].checkpoints);
        free(views[v].building_checkpoints);
        if (views[v].quarantined != NULL)
            freeReplyObject(views[v].quarantined);
    }
    free(from);
    free(end);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    redisFree(c);
    return rc;
}

int cmd_status(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings,  ledger_config_redis_settings,
        projector_keys_settings,       status_settings,
        ledger_config_common_settings, NULL};
    return cli_run("ledger status", tables, argc, argv, status_usage, status_description,
                   run_status, NULL);
}
