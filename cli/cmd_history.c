/*
 * cmd_history.c - time travel: fold one account's events from the log.
 *
 * The account's events all live on one partition of the events topic
 * (ledger_partition_for_key, as the producer writes them), so only that
 * partition is read, from its first offset to its end at the time of the
 * read (enable.partition.eof), with an assigned (never joined, never committed) read_committed
 * consumer: events of aborted transactions never count. Each record is decoded with the codec
 * (older schemas resolved), events of other accounts on the same partition are passed over, and
 * this account's are folded with the core's account_apply, in log order, the same fold every view
 * does.
 *
 * With --at TIME the fold stops before the first event of the account
 * whose `at` is later than TIME. Events are folded in log order, not
 * sorted by time: a late-arriving event with an earlier business time
 * (a transfer credit, which carries its transfer's `at`) is not moved
 * before the events logged ahead of it, so the state shown is always one
 * the account really had, a prefix of its history.
 *
 * A record this account's key that does not decode, or a seq gap, means
 * the account's log cannot be folded honestly: that is reported with
 * partition and offset and exits 3, never skipped. An undecodable record
 * of another key is some other account's problem (or another writer's):
 * it is skipped with a warning.
 */
#include "cmd_history.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "codec.h"
#include "command_input.h"
#include "json_out.h"
#include "kafka.h"
#include "log.h"

static const ledger_config_setting history_settings[] = {
    {.name = "at",
     .flag = "at",
     .type = LEDGER_CONFIG_STRING,
     .metavar = "TIME",
     .help = "the state as of TIME, RFC 3339 UTC (2026-11-26T10:00:00Z); none: now"},
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "how long reading the log may take (seconds, or 500ms, 2m); then exit 3"},
    LEDGER_CONFIG_END,
};

static const char history_usage[] = "ledger history ACCOUNT [--at TIME] [options]";

static const char history_description[] =
    "Folds ACCOUNT's events straight from the events topic (no Redis, no\n"
    "projector) and prints its state:\n"
    "  {\"account\":\"A\",\"balance\":\"10.00\",\"version\":3,\"status\":\"open\","
    "\"as_of\":\"...\"}\n"
    "With --at TIME, the fold stops before the first event whose business time\n"
    "(`at`) is later than TIME; events are taken in log order, never re-sorted\n"
    "by time, so the state shown is always one the account really had. as_of is\n"
    "TIME, or the time of the read without --at.\n"
    "An account with no events (up to TIME) prints\n"
    "{\"account\":\"A\",\"error\":\"not_found\"} and exits 1. An event of the account\n"
    "that does not decode, or a gap in its seq, is reported with its\n"
    "partition:offset and exits 3.";

typedef struct fold {
    const char *account;
    size_t account_len;
    bool has_at;
    int64_t at_ms;
    account_state state;
    bool stopped; /* reached an event later than --at */
} fold;

static int64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Folds one record. Returns 0, or -1 after reporting why the account's log
 * cannot be folded. */
static int fold_record(fold *f, const ledger_codec *codec, const rd_kafka_message_t *msg) {
    ledger_event event;
    char why[256];
    bool ours = msg->key != NULL && msg->key_len == f->account_len &&
                memcmp(msg->key, f->account, f->account_len) == 0;
    if (ledger_codec_decode_event(codec, msg->payload, msg->len, &event, why, sizeof(why)) != 0) {
        if (ours) {
            fprintf(stderr,
                    "ledger: cannot decode the event of '%s' at %s %d:%lld: %s (its log is "
                    "corrupt here)\n",
                    f->account, rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                    (long long)msg->offset, why);
            return -1;
        }
        LOG_WARN("skipping a record of another key that does not decode at %s %d:%lld: %s",
                 rd_kafka_topic_name(msg->rkt), (int)msg->partition, (long long)msg->offset, why);
        return 0;
    }
    if (strcmp(event.account, f->account) != 0)
        return 0;
    if (f->has_at && event.at_ms > f->at_ms) {
        f->stopped = true;
        return 0;
    }
    int64_t expected = f->state.seq + 1;
    switch (account_apply(&f->state, &event)) {
        case ACCOUNT_APPLIED:
            return 0;
        case ACCOUNT_DUPLICATE:
            LOG_WARN("event seq %lld of '%s' at %s %d:%lld repeats an earlier one: not applied "
                     "again",
                     (long long)event.seq, f->account, rd_kafka_topic_name(msg->rkt),
                     (int)msg->partition, (long long)msg->offset);
            return 0;
        case ACCOUNT_SEQ_GAP:
            fprintf(stderr,
                    "ledger: seq gap in the events of '%s' at %s %d:%lld: expected seq %lld, found "
                    "%lld\n",
                    f->account, rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                    (long long)msg->offset, (long long)expected, (long long)event.seq);
            return -1;
    }
    return 0;
}

/* Reads partition `partition` of `topic` from its start to its end (or to
 * the first event past --at). Returns an exit code: OK when the fold is
 * complete. */
static int read_partition(rd_kafka_t *rk, const ledger_codec *codec, const char *topic,
                          int32_t partition, int64_t deadline, int timeout_ms, fold *f) {
    int64_t low = 0, high = 0;
    char errstr[512];
    if (cli_kafka_watermarks(rk, topic, partition, timeout_ms, &low, &high, errstr,
                             sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    if (high <= low)
        return CLI_EXIT_OK; /* empty: nothing to fold */

    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, topic, partition)->offset = low;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "ledger: cannot assign '%s' partition %d: %s\n", topic, (int)partition,
                rd_kafka_err2str(err));
        return CLI_EXIT_INFRA;
    }
    int exit_code = CLI_EXIT_INFRA;
    for (;;) {
        int64_t left = deadline - ledger_mono_ms();
        if (left <= 0) {
            char shown[32];
            cli_kafka_format_duration(timeout_ms, shown, sizeof(shown));
            fprintf(stderr, "ledger: timeout: '%s' partition %d not read to its end within %s\n",
                    topic, (int)partition, shown);
            break;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, left > 100 ? 100 : (int)left);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(msg);
            exit_code = CLI_EXIT_OK;
            break;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool fatal = msg->err == RD_KAFKA_RESP_ERR__FATAL ||
                         msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                         msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                         msg->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                         msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
            if (fatal)
                fprintf(stderr, "ledger: cannot read '%s' partition %d: %s\n", topic,
                        (int)partition, rd_kafka_message_errstr(msg));
            else
                LOG_DEBUG("events consumer: %s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            if (fatal)
                break;
            continue;
        }
        int rc = fold_record(f, codec, msg);
        rd_kafka_message_destroy(msg);
        if (rc != 0)
            break;
        if (f->stopped) {
            exit_code = CLI_EXIT_OK;
            break;
        }
    }
    return exit_code;
}

static int history_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    int exit_code = CLI_EXIT_OK;
    char errstr[1024];
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec = NULL;
    rd_kafka_t *rk = NULL;
    static const char *const args[] = {"ACCOUNT", NULL};
    if (!cli_expect_args(cfg, history_usage, args)) {
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }

    fold f = {.account = ledger_config_positional(cfg, 0)};
    f.account_len = strlen(f.account);
    account_init(&f.state);
    command_input_error in_err;
    command_input_error_init(&in_err);
    const char *at = ledger_config_str(cfg, "at");
    if (command_input_check_account(f.account, f.account_len, &in_err) != 0 ||
        (at != NULL && command_input_parse_time(at, strlen(at), &f.at_ms, &in_err) != 0)) {
        fprintf(stderr, "ledger: %s\n", in_err.message);
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }
    f.has_at = at != NULL;

    exit_code = CLI_EXIT_INFRA;
    int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    int64_t deadline = ledger_mono_ms() + timeout_ms;
    int kafka_timeout = timeout_ms > 30000 ? 30000 : (int)timeout_ms;
    int64_t read_at = wall_clock_ms();
    codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL ||
        cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_EVENTS, topic, sizeof(topic), errstr,
                             sizeof(errstr)) != 0 ||
        (rk = cli_kafka_consumer_new(cfg, true /* partition eof */, errstr, sizeof(errstr))) ==
            NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    int count = cli_kafka_partition_count(rk, cfg, topic, kafka_timeout, errstr, sizeof(errstr));
    if (count < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    int32_t partition = ledger_partition_for_key(f.account, f.account_len, count);
    exit_code = read_partition(rk, codec, topic, partition, deadline, (int)timeout_ms, &f);
    if (exit_code != CLI_EXIT_OK)
        goto cleanup;

    char buf[1024];
    json_out j;
    json_out_init(&j, buf, sizeof(buf));
    if (f.state.seq == 0) {
        json_out_not_found(&j, f.account);
        exit_code = CLI_EXIT_REJECTED;
    } else {
        json_out_object_begin(&j);
        json_out_account_fields(&j, f.account, &f.state);
        json_out_key(&j, "as_of");
        json_out_time(&j, f.has_at ? f.at_ms : read_at);
        json_out_object_end(&j);
    }
    printf("%s\n", json_out_text(&j));

cleanup:
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    ledger_codec_destroy(codec);
    return exit_code;
}

int cmd_history(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, history_settings, NULL};
    return cli_run("ledger history", tables, argc, argv, history_usage, history_description,
                   history_run, NULL);
}
