/*
 * cmd_wait.c - `ledger wait [--view V] [--timeout SECONDS]`: returns once
 * the system is quiet.
 *
 * Quiet means two things, checked in this order:
 *
 * 1. Every command submitted before the call has been handled. The
 *    producer commits its consumed offsets of the commands topic inside
 *    the transaction that writes the command's events and results, so a
 *    partition is handled up to its committed offset. The target is where
 *    each partition's committed data ends (log_end.h: transaction markers
 *    and aborted records are not waited for). A transfer's credit step is
 *    a new record on the commands topic, written in the transaction that
 *    handled the debit, so it is visible once the debit is handled: the
 *    ends are read again, and again after that target is reached, until a
 *    round finds them unchanged (a credit to a closed account adds one
 *    more round: the return). Commands submitted after the call may extend
 *    the wait; under a load that never stops it times out.
 * 2. Every view (or --view V) has applied every event: its current
 *    generation's checkpoint of each partition of the events topic is at
 *    the end of that partition's committed data, read once the commands
 *    are handled. The generation is read again on every poll, so a
 *    rebuild's switch during the wait is followed.
 *
 * Polls with a short pause (50 ms) and one deadline for everything; exit 3
 * names what was still missing when it passed.
 */
#include "cmd_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "errstr.h"
#include "json_out.h"
#include "kafka.h"
#include "log_end.h"
#include "projector_keys.h"
#include "redis.h"
#include "view_progress.h"

#define WAIT_CONNECT_TIMEOUT_MS 5000
#define WAIT_POLL_MS            50
#define WAIT_COMMITTED_MAX_MS   5000
#define WAIT_MAX_VIEWS          32

static const ledger_config_setting wait_settings[] = {
    {.name = "view",
     .flag = "view",
     .type = LEDGER_CONFIG_STRING,
     .min = 1,
     .max = 64,
     .metavar = "NAME",
     .help = "wait for this view only (default: every view)"},
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "60s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "how long to wait (seconds, or 500ms, 2m); then exit 3"},
    {.name = "producer_group",
     .env = "LEDGER_PRODUCER_GROUP_ID",
     .flag = "producer-group",
     .type = LEDGER_CONFIG_STRING,
     .def = "ledger-producer",
     .min = 1,
     .max = 200,
     .metavar = "ID",
     .help = "consumer group of ledger-producer, whose committed offsets say which commands "
             "are handled"},
    LEDGER_CONFIG_END,
};

static const char wait_usage[] = "ledger wait [--view NAME] [--timeout SECONDS] [options]";

static const char wait_description[] =
    "Returns once the system is quiet: every command submitted before the call has been\n"
    "handled by ledger-producer (transfer credit sides included) and every view (or\n"
    "--view NAME) has applied every resulting event. Prints {\"quiet\":true,\"views\":[...]}.\n"
    "Exit 3 when --timeout passes first (the message says what was still missing) or\n"
    "Kafka or Redis cannot be reached.";

typedef struct waiter {
    const ledger_config *cfg;
    const char *ns;
    const char *group_id;
    int64_t timeout_ms;
    int64_t deadline;
    rd_kafka_t *reader; /* group-less, partition EOF: the ends */
    rd_kafka_t *group;  /* group.id = the producer's: its committed offsets */
    redisContext *redis;
    char commands[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char events[LEDGER_KAFKA_TOPIC_NAME_BUF];
    int32_t ncommands, nevents;
} waiter;

static void pause_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t left_ms(const waiter *w) {
    int64_t left = w->deadline - ledger_mono_ms();
    return left > 0 ? left : 0;
}

static void timed_out(const waiter *w, const char *what) {
    char took[32];
    cli_kafka_format_duration(w->timeout_ms, took, sizeof(took));
    fprintf(stderr, "ledger: timed out after %s waiting for %s\n", took, what);
}

/* A consumer whose group is the producer's, to read its committed offsets
 * (never subscribes, never commits). read_committed makes the broker
 * answer only once no transaction of the group has offsets pending. */
static rd_kafka_t *group_reader_new(const waiter *w, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(
        ledger_config_str(w->cfg, "brokers"), LEDGER_KAFKA_CONSUMER, w->cfg, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    static const char *const settings[][2] = {
        {"isolation.level", "read_committed"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
    };
    char why[512];
    bool ok =
        rd_kafka_conf_set(conf, "group.id", w->group_id, why, sizeof(why)) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < sizeof(settings) / sizeof(settings[0]); i++)
        ok = rd_kafka_conf_set(conf, settings[i][0], settings[i][1], why, sizeof(why)) ==
             RD_KAFKA_CONF_OK;
    rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why)) : NULL;
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ledger_errf(errstr, errstr_size, "cannot create a kafka consumer: %s", why);
    }
    return rk;
}

/* The producer group's committed offsets of the commands topic (0 where it
 * has none). Returns 0, or -1 with errstr (a failure to ask). */
static int committed_offsets(const waiter *w, int64_t *out, char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(w->ncommands);
    for (int32_t p = 0; p < w->ncommands; p++)
        rd_kafka_topic_partition_list_add(list, w->commands, p);
    int64_t left = left_ms(w);
    rd_kafka_resp_err_t err = rd_kafka_committed(
        w->group, list, left > WAIT_COMMITTED_MAX_MS ? WAIT_COMMITTED_MAX_MS : (int)left + 1);
    int rc = 0;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ledger_errf(errstr, errstr_size, "cannot read the committed offsets of group '%s': %s",
                    w->group_id, rd_kafka_err2str(err));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &list->elems[i];
        if (e->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ledger_errf(errstr, errstr_size,
                        "cannot read the committed offset of group '%s' on '%s' partition %d: %s",
                        w->group_id, w->commands, (int)e->partition, rd_kafka_err2str(e->err));
            rc = -1;
        } else if (e->partition >= 0 && e->partition < w->ncommands) {
            out[e->partition] = e->offset >= 0 ? e->offset : 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Step 1 (see the top of the file). Returns an exit code. */
static int wait_commands(const waiter *w) {
    size_t n = (size_t)w->ncommands;
    int64_t *target = calloc(n, sizeof(*target));
    int64_t *previous = calloc(n, sizeof(*previous));
    int64_t *committed = calloc(n, sizeof(*committed));
    char errstr[1024] = "";
    int rc = CLI_EXIT_INFRA;
    if (target == NULL || previous == NULL || committed == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    for (int round = 0;; round++) {
        if (log_end_find(w->reader, w->commands, w->ncommands, NULL, target, w->deadline, errstr,
                         sizeof(errstr)) != 0) {
            fprintf(stderr, "ledger: kafka at '%s': %s\n", ledger_config_str(w->cfg, "brokers"),
                    errstr);
            goto cleanup;
        }
        if (round > 0 && memcmp(target, previous, n * sizeof(*target)) == 0)
            break; /* handling the last target added no command: quiet */
        for (;;) {
            errstr[0] = '\0';
            int32_t behind = -1;
            if (committed_offsets(w, committed, errstr, sizeof(errstr)) == 0) {
                for (int32_t p = 0; p < w->ncommands && behind < 0; p++) {
                    if (committed[p] < target[p])
                        behind = p;
                }
                if (behind < 0)
                    break;
            }
            if (left_ms(w) == 0) {
                char what[1024];
                if (behind >= 0)
                    snprintf(what, sizeof(what),
                             "the commands: ledger-producer (group '%s') has handled '%s' "
                             "partition %d up to offset %lld of %lld (is it running?)",
                             w->group_id, w->commands, (int)behind, (long long)committed[behind],
                             (long long)target[behind]);
                else
                    snprintf(what, sizeof(what), "the commands: %s", errstr);
                timed_out(w, what);
                goto cleanup;
            }
            pause_ms(WAIT_POLL_MS);
        }
        memcpy(previous, target, n * sizeof(*target));
    }
    rc = CLI_EXIT_OK;
cleanup:
    free(target);
    free(previous);
    free(committed);
    return rc;
}

/* Step 2 for one view. Returns an exit code. */
static int wait_view(const waiter *w, const char *view, const int64_t *target, int64_t *cps) {
    char errstr[1024];
    for (;;) {
        int64_t gen, building;
        if (view_progress_generations(w->redis, w->ns, view, &gen, &building, errstr,
                                      sizeof(errstr)) != 0 ||
            view_progress_checkpoints(w->redis, w->ns, view, gen, w->nevents, cps, errstr,
                                      sizeof(errstr)) != 0) {
            fprintf(stderr, "ledger: redis: %s\n", errstr);
            return CLI_EXIT_INFRA;
        }
        int32_t behind = -1;
        for (int32_t p = 0; p < w->nevents && behind < 0; p++) {
            if (target[p] > 0 && cps[p] < target[p])
                behind = p;
        }
        if (behind < 0)
            return CLI_EXIT_OK;
        if (left_ms(w) == 0) {
            char what[1024];
            snprintf(what, sizeof(what),
                     "view '%s': generation %lld has applied '%s' partition %d up to offset %lld "
                     "of %lld (is ledger-projector --view %s running?)",
                     view, (long long)gen, w->events, (int)behind,
                     (long long)(cps[behind] > 0 ? cps[behind] : 0), (long long)target[behind],
                     view);
            timed_out(w, what);
            return CLI_EXIT_INFRA;
        }
        pause_ms(WAIT_POLL_MS);
    }
}

static int run_wait(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger wait: unexpected argument '%s'\n",
                ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }
    char errstr[1024];
    const char *names[WAIT_MAX_VIEWS];
    int nviews = view_progress_pick(ledger_config_str(cfg, "view"), names, WAIT_MAX_VIEWS, errstr,
                                    sizeof(errstr));
    if (nviews < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }

    waiter w;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.ns = ledger_config_str(cfg, "redis_prefix");
    w.group_id = ledger_config_str(cfg, "producer_group");
    w.timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    w.deadline = ledger_mono_ms() + w.timeout_ms;
    if (cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_COMMANDS, w.commands, sizeof(w.commands),
                             errstr, sizeof(errstr)) != 0 ||
        cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_EVENTS, w.events, sizeof(w.events), errstr,
                             sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }

    int rc = CLI_EXIT_INFRA;
    int64_t *target = NULL, *cps = NULL;
    w.redis = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"), WAIT_CONNECT_TIMEOUT_MS,
                                       errstr, sizeof(errstr));
    if (w.redis == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    w.reader = cli_kafka_consumer_new(cfg, true /* partition eof */, errstr, sizeof(errstr));
    if (w.reader == NULL || (w.group = group_reader_new(&w, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    w.ncommands = cli_kafka_partition_count(w.reader, cfg, w.commands, (int)left_ms(&w) + 1, errstr,
                                            sizeof(errstr));
    if (w.ncommands >= 0)
        w.nevents = cli_kafka_partition_count(w.reader, cfg, w.events, (int)left_ms(&w) + 1, errstr,
                                              sizeof(errstr));
    if (w.ncommands < 0 || w.nevents < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }

    rc = wait_commands(&w);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    rc = CLI_EXIT_INFRA;
    target = calloc((size_t)w.nevents + 1, sizeof(*target));
    cps = calloc((size_t)w.nevents + 1, sizeof(*cps));
    if (target == NULL || cps == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    if (log_end_find(w.reader, w.events, w.nevents, NULL, target, w.deadline, errstr,
                     sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: kafka at '%s': %s\n", ledger_config_str(cfg, "brokers"), errstr);
        goto cleanup;
    }
    for (int v = 0; v < nviews; v++) {
        rc = wait_view(&w, names[v], target, cps);
        if (rc != CLI_EXIT_OK)
            goto cleanup;
    }

    char line[2048];
    json_out j;
    json_out_init(&j, line, sizeof(line));
    json_out_object_begin(&j);
    json_out_key(&j, "quiet");
    json_out_bool(&j, true);
    json_out_key(&j, "views");
    json_out_array_begin(&j);
    for (int v = 0; v < nviews; v++)
        json_out_string(&j, names[v]);
    json_out_array_end(&j);
    json_out_object_end(&j);
    printf("%s\n", json_out_text(&j));
    fflush(stdout);
    rc = CLI_EXIT_OK;

cleanup:
    free(target);
    free(cps);
    if (w.group != NULL)
        rd_kafka_destroy(w.group);
    if (w.reader != NULL)
        rd_kafka_destroy(w.reader);
    redisFree(w.redis);
    return rc;
}

int cmd_wait(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings,  ledger_config_redis_settings,
        projector_keys_settings,       wait_settings,
        ledger_config_common_settings, NULL};
    return cli_run("ledger wait", tables, argc, argv, wait_usage, wait_description, run_wait, NULL);
}
