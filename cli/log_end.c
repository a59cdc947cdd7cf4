/*
 * log_end.c - the end of the committed data of a topic's partitions (see
 * log_end.h).
 *
 * Why read rather than trust the high watermark minus one: the record at
 * HW-1 may be a marker or may not be (a non-transactional writer such as
 * `ledger submit` writes none), and a marker cannot be told from a data
 * record without reading: consumers never see markers, only the gap they
 * leave. Reading the last few hundred offsets of each partition costs one
 * fetch; only a partition whose whole window is markers or aborted records
 * is read further back.
 */
#include "log_end.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli_kafka.h"
#include "clock.h"
#include "errstr.h"

/* The first window, in offsets below the end; widened 16 times each time
 * it holds no data record. */
#define LOG_END_WINDOW 256

typedef struct log_end_part {
    int64_t from; /* the caller's lower bound */
    int64_t low;  /* the partition's first offset */
    int64_t high; /* its last stable offset, when asked */
    int64_t window;
    int64_t start; /* this pass reads from here */
    int64_t last;  /* the last data record seen in this pass, -1 */
    bool pending;  /* the end is not known yet */
    bool eof;      /* this pass reached the end */
} log_end_part;

/* One pass: assigns every pending partition at its window's start and
 * reads to the end of each. Returns 0, or -1 with errstr at the deadline. */
static int read_pass(rd_kafka_t *rk, const char *topic, log_end_part *parts, int32_t n,
                     int64_t deadline_ms, char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int32_t p = 0; p < n; p++) {
        log_end_part *part = &parts[p];
        if (!part->pending)
            continue;
        int64_t floor = part->from > part->low ? part->from : part->low;
        part->start = part->high - part->window > floor ? part->high - part->window : floor;
        part->last = -1;
        part->eof = false;
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = part->start;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ledger_errf(errstr, errstr_size, "cannot read '%s': %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    char last_error[256] = "";
    int rc = 0;
    for (;;) {
        bool done = true;
        for (int32_t p = 0; p < n && done; p++)
            done = !parts[p].pending || parts[p].eof;
        if (done)
            break;
        int64_t left = deadline_ms - ledger_mono_ms();
        if (left <= 0) {
            ledger_errf(errstr, errstr_size, "timed out reading the end of '%s'%s%s", topic,
                        last_error[0] != '\0' ? ": " : "", last_error);
            rc = -1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, left < 100 ? (int)left : 100);
        if (m == NULL)
            continue;
        int32_t p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < n)
                parts[p].eof = true;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* transport errors come and go; the deadline decides */
            ledger_errf(last_error, sizeof(last_error), "%s", rd_kafka_message_errstr(m));
        } else if (p >= 0 && p < n && m->offset >= parts[p].start && m->offset > parts[p].last) {
            parts[p].last = m->offset;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

int log_end_find(rd_kafka_t *consumer, const char *topic, int32_t n, const int64_t *from,
                 int64_t *end, int64_t deadline_ms, char *errstr, size_t errstr_size) {
    if (n <= 0)
        return 0;
    log_end_part *parts = calloc((size_t)n, sizeof(*parts));
    if (parts == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        return -1;
    }
    int rc = -1;
    bool any = false;
    for (int32_t p = 0; p < n; p++) {
        log_end_part *part = &parts[p];
        part->from = from != NULL && from[p] > 0 ? from[p] : 0;
        part->window = LOG_END_WINDOW;
        int64_t left = deadline_ms - ledger_mono_ms();
        if (cli_kafka_watermarks(consumer, topic, p, left > 0 ? (int)left : 1, &part->low,
                                 &part->high, errstr, errstr_size) != 0)
            goto cleanup;
        part->pending = part->high > part->from;
        if (!part->pending)
            end[p] = part->from;
        any = any || part->pending;
    }
    while (any) {
        if (read_pass(consumer, topic, parts, n, deadline_ms, errstr, errstr_size) != 0)
            goto cleanup;
        any = false;
        for (int32_t p = 0; p < n; p++) {
            log_end_part *part = &parts[p];
            if (!part->pending)
                continue;
            if (part->last >= 0) {
                end[p] = part->last + 1;
                part->pending = false;
            } else if (part->start <= part->from || part->start <= part->low) {
                end[p] = part->from; /* no data record at or after from */
                part->pending = false;
            } else {
                part->window *= 16; /* only markers or aborted records: look further back */
                any = true;
            }
        }
    }
    rc = 0;
cleanup:
    free(parts);
    return rc;
}
