/*
 * result_wait.c - a consumer (assigned, in no group) at the end offsets of the
 * result partitions, taken BEFORE the command is produced.
 *
 * Why not assign at RD_KAFKA_OFFSET_END: librdkafka resolves a logical
 * offset asynchronously, when it first fetches, so a result written between
 * the assign and that resolution would be skipped and the CLI would wait
 * for a result that is already there. Asking for the watermarks first
 * (rd_kafka_query_watermark_offsets, synchronous) fixes the starting point
 * before anything is sent.
 */
#include "result_wait.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_kafka.h"
#include "clock.h"
#include "errstr.h"
#include "kafka.h"
#include "log.h"

struct result_wait {
    rd_kafka_t *rk;
    const ledger_codec *codec;
    int partitions; /* listened to */
};

result_wait *result_wait_new(const ledger_config *cfg, const ledger_codec *codec,
                             const char *command_id, int timeout_ms, char *errstr,
                             size_t errstr_size) {
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    rd_kafka_topic_partition_list_t *assignment = NULL;
    result_wait *rw = calloc(1, sizeof(*rw));
    if (rw == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rw->codec = codec;
    if (cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_COMMAND_RESULTS, topic, sizeof(topic), errstr,
                             errstr_size) != 0)
        goto fail;
    rw->rk = cli_kafka_consumer_new(cfg, false /* no partition eof */, errstr, errstr_size);
    if (rw->rk == NULL)
        goto fail;
    int count = cli_kafka_partition_count(rw->rk, cfg, topic, timeout_ms, errstr, errstr_size);
    if (count < 0)
        goto fail;

    int32_t first = 0, last = count - 1;
    if (command_id != NULL) {
        first = last = ledger_partition_for_key(command_id, strlen(command_id), count);
    }
    assignment = rd_kafka_topic_partition_list_new(last - first + 1);
    for (int32_t p = first; p <= last; p++) {
        int64_t low = 0, high = 0;
        if (cli_kafka_watermarks(rw->rk, topic, p, timeout_ms, &low, &high, errstr, errstr_size) !=
            0)
            goto fail;
        rd_kafka_topic_partition_list_add(assignment, topic, p)->offset = high;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rw->rk, assignment);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ledger_errf(errstr, errstr_size, "cannot assign '%s': %s", topic, rd_kafka_err2str(err));
        goto fail;
    }
    rw->partitions = last - first + 1;
    rd_kafka_topic_partition_list_destroy(assignment);
    return rw;

fail:
    if (assignment != NULL)
        rd_kafka_topic_partition_list_destroy(assignment);
    result_wait_destroy(rw);
    return NULL;
}

void result_wait_destroy(result_wait *rw) {
    if (rw == NULL)
        return;
    if (rw->rk != NULL) {
        rd_kafka_consumer_close(rw->rk);
        rd_kafka_destroy(rw->rk);
    }
    free(rw);
}

int result_wait_partition_count(const result_wait *rw) {
    return rw->partitions;
}

int result_wait_next(result_wait *rw, int timeout_ms, ledger_result *out, char *errstr,
                     size_t errstr_size) {
    int64_t deadline = ledger_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ledger_mono_ms();
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rw->rk, left > 0 ? (int)left : 0);
        if (msg == NULL)
            return 0;
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_resp_err_t err = msg->err;
            char fatal[512];
            if (err == RD_KAFKA_RESP_ERR__FATAL &&
                rd_kafka_fatal_error(rw->rk, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                ledger_errf(errstr, errstr_size, "kafka consumer failed: %s", fatal);
                rd_kafka_message_destroy(msg);
                return -1;
            }
            if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                ledger_errf(errstr, errstr_size, "cannot read command results: %s",
                            rd_kafka_message_errstr(msg));
                rd_kafka_message_destroy(msg);
                return -1;
            }
            /* Transport errors and the like: librdkafka retries. */
            LOG_DEBUG("result consumer: %s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        char why[256];
        int rc =
            ledger_codec_decode_result(rw->codec, msg->payload, msg->len, out, why, sizeof(why));
        if (rc != 0)
            LOG_WARN("skipping a command result that does not decode at %s %d:%lld: %s",
                     rd_kafka_topic_name(msg->rkt), (int)msg->partition, (long long)msg->offset,
                     why);
        rd_kafka_message_destroy(msg);
        if (rc == 0)
            return 1;
        if (ledger_mono_ms() >= deadline)
            return 0;
    }
}
