/*
 * bench_latency.c - latency from submit to result at a fixed offered rate.
 *
 * Throughput runs saturate the pipeline, so their latencies say how long
 * the queue is, not how fast the system answers. This generator offers a
 * steady rate instead (2,000 commands/s by default): it sends command i at
 * t0 + i/rate whatever happened to earlier ones (an open loop, so a slow
 * answer cannot slow the offered load down and hide itself), stamps each
 * send time, and matches results by command id, as `ledger submit` does:
 * the same producer settings (cli_kafka.c) and the same result consumer
 * (result_wait.c, every partition of the results topic from its end).
 *
 * The command id is "<tag>-<i>", so a result finds its send time by index:
 * no hash table, nothing allocated per command (two arrays sized for the
 * whole run are allocated at start). The accounts must exist: the mix is
 * that of gen_commands.py (deposits, withdrawals, transfers over
 * acct-00000 ...), which command_side.sh has opened. Results of the first
 * --warmup are left out of the figures. Prints the figures; asserts
 * nothing. Exit 3 when results are missing after the run.
 *
 *     bench_latency --brokers B --topic-prefix P [--rate 2000] [--duration 20s]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_kafka.h"
#include "codec.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "result_wait.h"

static const ledger_config_setting latency_settings[] = {
    {.name = "rate",
     .flag = "rate",
     .type = LEDGER_CONFIG_INT,
     .def = "2000",
     .min = 1,
     .max = 1000000,
     .metavar = "N",
     .help = "commands offered per second"},
    {.name = "duration",
     .flag = "duration",
     .type = LEDGER_CONFIG_DURATION,
     .def = "20s",
     .min = 1000,
     .max = 3600000,
     .help = "how long the measured load lasts (after the warm-up)"},
    {.name = "warmup",
     .flag = "warmup",
     .type = LEDGER_CONFIG_DURATION,
     .def = "3s",
     .min = 0,
     .max = 600000,
     .help = "load offered first and left out of the figures"},
    {.name = "accounts",
     .flag = "accounts",
     .type = LEDGER_CONFIG_INT,
     .def = "10000",
     .min = 2,
     .max = 100000,
     .metavar = "N",
     .help = "accounts acct-00000 ... used (they must be open)"},
    {.name = "tag",
     .flag = "tag",
     .type = LEDGER_CONFIG_STRING,
     .def = NULL,
     .min = 1,
     .max = 64,
     .help = "command id prefix (default lat-PID-TIME)"},
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1000,
     .max = 600000,
     .help = "how long to wait for the last results after the load"},
    LEDGER_CONFIG_END,
};

typedef struct latency_run {
    const ledger_config *cfg;
    ledger_codec *codec;
    rd_kafka_t *producer;
    rd_kafka_topic_t *topic;
    result_wait *rw;
    char tag[80];
    size_t tag_len;
    uint64_t total;        /* commands to send */
    uint64_t warmup;       /* the first `warmup` are not counted */
    int64_t *sent_us;      /* per command: monotonic send time, 0 = not sent */
    int64_t *answer_us;    /* per command: latency, -1 = no result yet */
    int64_t *sent_wall_ms; /* per command: wall-clock send time */
    int64_t *decide_ms;    /* per accepted command: send to decision (event `at`), else -1 */
    uint64_t answered, failed, foreign;
    uint8_t value[LEDGER_CODEC_COMMAND_MAX];
} latency_run;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall-clock milliseconds: the producer stamps an event without `at` with
 * its clock when it decides, so send to decision is measurable on one
 * machine (to the millisecond). */
static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    latency_run *run = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (run->failed++ == 0)
            fprintf(stderr, "bench_latency: a command was not delivered: %s\n",
                    rd_kafka_err2str(msg->err));
    }
}

/* Command i of the mix: 40% deposits, 30% withdrawals, 30% transfers of
 * 1.00 to 99.99 between pseudo-random accounts (a fixed LCG: reruns agree). */
static void make_command(const latency_run *run, uint64_t i, uint64_t accounts,
                         ledger_command *cmd) {
    uint64_t x = (i + 1) * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    x ^= x >> 33;
    uint64_t a = x % accounts, roll = (x >> 20) % 10;
    ledger_command_init(cmd);
    snprintf(cmd->id, sizeof(cmd->id), "%s-%" PRIu64, run->tag, i);
    snprintf(cmd->account, sizeof(cmd->account), "acct-%05" PRIu64, a);
    cmd->amount = 100 + (int64_t)((x >> 8) % 9900);
    if (roll < 4) {
        cmd->type = LEDGER_COMMAND_DEPOSIT;
    } else if (roll < 7) {
        cmd->type = LEDGER_COMMAND_WITHDRAW;
    } else {
        uint64_t b = (x >> 40) % (accounts - 1);
        if (b >= a)
            b++;
        cmd->type = LEDGER_COMMAND_TRANSFER;
        snprintf(cmd->to, sizeof(cmd->to), "acct-%05" PRIu64, b);
    }
}

static int send_one(latency_run *run, uint64_t i, uint64_t accounts) {
    ledger_command cmd;
    make_command(run, i, accounts, &cmd);
    size_t len = 0;
    char errstr[256];
    if (ledger_codec_encode_command(run->codec, &cmd, run->value, sizeof(run->value), &len, errstr,
                                    sizeof(errstr)) != 0) {
        fprintf(stderr, "bench_latency: cannot encode '%s': %s\n", cmd.id, errstr);
        return -1;
    }
    run->sent_us[i] = now_us();
    run->sent_wall_ms[i] = wall_ms();
    while (rd_kafka_produce(run->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, run->value, len,
                            cmd.account, strlen(cmd.account), NULL) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "bench_latency: cannot produce: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        rd_kafka_poll(run->producer, 1);
    }
    return 0;
}

/* The index of one of our command ids, or -1. */
static int64_t index_of(const latency_run *run, const char *id) {
    if (strncmp(id, run->tag, run->tag_len) != 0 || id[run->tag_len] != '-')
        return -1;
    char *end = NULL;
    unsigned long long i = strtoull(id + run->tag_len + 1, &end, 10);
    if (end == id + run->tag_len + 1 || *end != '\0' || i >= run->total)
        return -1;
    return (int64_t)i;
}

/* Takes the results that have arrived (waiting up to wait_ms for the
 * first). Returns 0, or -1 on a consumer error. */
static int take_results(latency_run *run, int wait_ms) {
    ledger_result result;
    char errstr[512];
    int rc;
    while ((rc = result_wait_next(run->rw, wait_ms, &result, errstr, sizeof(errstr))) == 1) {
        wait_ms = 0;
        int64_t t = now_us();
        int64_t i = index_of(run, result.command_id);
        if (i < 0 || run->sent_us[i] == 0 || run->answer_us[i] >= 0) {
            run->foreign++;
            continue;
        }
        run->answer_us[i] = t - run->sent_us[i];
        if (result.has_event)
            run->decide_ms[i] = result.event.at_ms - run->sent_wall_ms[i];
        run->answered++;
    }
    if (rc < 0) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        return -1;
    }
    return 0;
}

static int compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted values (nearest rank). */
static double quantile_ms(const int64_t *sorted, size_t n, double q) {
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1000.0;
}

static int report(latency_run *run, double offered_s) {
    /* Where the time goes, for the accepted commands: send to decision
     * (CLI linger, the producer's fetch, the wait for the transaction under
     * way), then decision to result (the rest of the transaction: produce,
     * flush, commit, markers; and the result consumer's fetch). */
    size_t nd = 0;
    for (uint64_t i = run->warmup; i < run->total; i++) {
        if (run->answer_us[i] >= 0 && run->decide_ms[i] != INT64_MIN) {
            int64_t total_ms = run->answer_us[i] / 1000;
            run->sent_wall_ms[nd] = run->decide_ms[i];           /* send to decision */
            run->decide_ms[nd++] = total_ms - run->decide_ms[i]; /* decision to result */
        }
    }
    size_t n = 0;
    uint64_t missing = 0;
    for (uint64_t i = run->warmup; i < run->total; i++) {
        if (run->answer_us[i] >= 0)
            run->answer_us[n++] = run->answer_us[i]; /* compacted in place: i >= n */
        else
            missing++;
    }
    uint64_t measured = run->total - run->warmup;
    printf("latency: offered %.0f commands/s for %.1f s (%" PRIu64 " measured after %" PRIu64
           " warm-up), %zu results, %" PRIu64 " missing\n",
           (double)run->total / offered_s, offered_s, measured, run->warmup, n, missing);
    if (n == 0)
        return 3;
    qsort(run->answer_us, n, sizeof(*run->answer_us), compare_i64);
    printf("latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms\n",
           quantile_ms(run->answer_us, n, 0.50), quantile_ms(run->answer_us, n, 0.90),
           quantile_ms(run->answer_us, n, 0.99), quantile_ms(run->answer_us, n, 0.999),
           (double)run->answer_us[n - 1] / 1000.0);
    if (nd > 0) {
        qsort(run->sent_wall_ms, nd, sizeof(int64_t), compare_i64);
        qsort(run->decide_ms, nd, sizeof(int64_t), compare_i64);
        printf("latency: of which send to decision p50 %lld ms, p99 %lld ms; decision to result "
               "p50 %lld ms, p99 %lld ms (%zu accepted, whole milliseconds)\n",
               (long long)run->sent_wall_ms[(nd - 1) / 2],
               (long long)run->sent_wall_ms[(size_t)ceil(0.99 * (double)nd) - 1],
               (long long)run->decide_ms[(nd - 1) / 2],
               (long long)run->decide_ms[(size_t)ceil(0.99 * (double)nd) - 1], nd);
    }
    return missing > 0 || run->failed > 0 ? 3 : 0;
}

int main(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, latency_settings, NULL};
    int exit_code = 3;
    char errstr[1024], topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    latency_run run;
    memset(&run, 0, sizeof(run));

    ledger_config *cfg = ledger_config_new("bench_latency", tables);
    if (cfg == NULL)
        return 1;
    switch (ledger_config_load(cfg, argc - 1, argv + 1, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_OK:
            break;
        case LEDGER_CONFIG_HELP:
            ledger_config_help(cfg, stdout, "bench_latency [options]",
                               "Offers commands at a fixed rate and prints the latency from "
                               "send to result (p50, p99).");
            exit_code = 0;
            goto cleanup;
        default:
            fprintf(stderr, "bench_latency: %s\n", errstr);
            exit_code = 2;
            goto cleanup;
    }
    ledger_log_init("bench_latency", LEDGER_LOG_LEVEL_WARN);
    run.cfg = cfg;
    int64_t rate = ledger_config_int(cfg, "rate");
    int64_t duration_ms = ledger_config_duration_ms(cfg, "duration");
    int64_t warmup_ms = ledger_config_duration_ms(cfg, "warmup");
    uint64_t accounts = (uint64_t)ledger_config_int(cfg, "accounts");
    int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    if (ledger_config_str(cfg, "tag") != NULL)
        snprintf(run.tag, sizeof(run.tag), "%s", ledger_config_str(cfg, "tag"));
    else
        snprintf(run.tag, sizeof(run.tag), "lat-%ld-%lld", (long)getpid(), (long long)time(NULL));
    run.tag_len = strlen(run.tag);
    run.warmup = (uint64_t)(rate * warmup_ms / 1000);
    run.total = run.warmup + (uint64_t)(rate * duration_ms / 1000);
    run.sent_us = calloc(run.total, sizeof(*run.sent_us));
    run.answer_us = malloc(run.total * sizeof(*run.answer_us));
    run.sent_wall_ms = calloc(run.total, sizeof(*run.sent_wall_ms));
    run.decide_ms = malloc(run.total * sizeof(*run.decide_ms));
    if (run.sent_us == NULL || run.answer_us == NULL || run.sent_wall_ms == NULL ||
        run.decide_ms == NULL) {
        fprintf(stderr, "bench_latency: out of memory\n");
        goto cleanup;
    }
    for (uint64_t i = 0; i < run.total; i++) {
        run.answer_us[i] = -1;
        run.decide_ms[i] = INT64_MIN;
    }

    run.codec = ledger_codec_new(errstr, sizeof(errstr));
    if (run.codec == NULL || cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_COMMANDS, topic,
                                                  sizeof(topic), errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        goto cleanup;
    }
    run.rw =
        result_wait_new(cfg, run.codec, NULL /* every partition */, 30000, errstr, sizeof(errstr));
    if (run.rw == NULL) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        goto cleanup;
    }
    run.producer = cli_kafka_producer_new(cfg, 30000, on_delivery, &run, errstr, sizeof(errstr));
    if (run.producer == NULL) {
        fprintf(stderr, "bench_latency: %s\n", errstr);
        goto cleanup;
    }
    run.topic = rd_kafka_topic_new(run.producer, topic, NULL);
    if (run.topic == NULL) {
        fprintf(stderr, "bench_latency: cannot use topic '%s'\n", topic);
        goto cleanup;
    }

    /* The open loop: command i is due at t0 + i / rate. */
    int64_t t0 = now_us();
    uint64_t next = 0;
    while (next < run.total) {
        int64_t now = now_us();
        while (next < run.total && t0 + (int64_t)(next * 1000000 / (uint64_t)rate) <= now) {
            if (send_one(&run, next, accounts) != 0)
                goto cleanup;
            next++;
        }
        rd_kafka_poll(run.producer, 0);
        /* Wait for results until the next send is due (whole milliseconds,
         * at least one: a busy loop would take a core from the broker). */
        int wait_ms = 0;
        if (next < run.total) {
            int64_t wait_us = t0 + (int64_t)(next * 1000000 / (uint64_t)rate) - now_us();
            wait_ms = wait_us <= 0 ? 0 : wait_us >= 10000 ? 10 : (int)((wait_us + 999) / 1000);
        }
        if (take_results(&run, wait_ms) != 0)
            goto cleanup;
    }
    double offered_s = (double)(now_us() - t0) / 1e6;
    int64_t deadline = now_us() + timeout_ms * 1000;
    while (run.answered < run.total && now_us() < deadline) {
        rd_kafka_poll(run.producer, 0);
        if (take_results(&run, 100) != 0)
            goto cleanup;
    }
    exit_code = report(&run, offered_s);

cleanup:
    if (run.producer != NULL) {
        rd_kafka_flush(run.producer, 5000);
        if (run.topic != NULL)
            rd_kafka_topic_destroy(run.topic);
        rd_kafka_destroy(run.producer);
    }
    result_wait_destroy(run.rw);
    ledger_codec_destroy(run.codec);
    free(run.sent_us);
    free(run.answer_us);
    free(run.sent_wall_ms);
    free(run.decide_ms);
    ledger_config_destroy(cfg);
    return exit_code;
}
