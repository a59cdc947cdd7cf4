/*
 * test_fetch_waker.c - edge/fetch_waker against the real broker in
 * LEDGER_TEST_BROKERS: a consumer whose prefetch queue is bounded far below
 * the backlog (queued.min.messages=200) reads a backlog of records; the
 * waker must send its wake-up requests while the consumer is behind, the
 * consumer must get every record once and in order, and once the consumer
 * has caught up the waker must send nothing more.
 *
 * What is not asserted: how fast the backlog is read (timings decide no
 * test here; bench/read_side measures the catch-up rate with and without).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fetch_waker.h"
#include "kafka.h"
#include "kafka_test.h"

#define RECORDS     20000
#define QUEUED_MIN  "200"
#define DEADLINE_MS 120000

static void produce_backlog(const char *topic) {
    const char *const settings[][2] = {{"enable.idempotence", "true"}};
    rd_kafka_t *rk = kt_client(RD_KAFKA_PRODUCER, kt_conf(LEDGER_KAFKA_PRODUCER, settings, 1));
    char value[64];
    for (int i = 0; i < RECORDS; i++) {
        int n = snprintf(value, sizeof(value), "record-%06d", i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                        RD_KAFKA_V_VALUE(value, (size_t)n),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    }
    cr_assert_eq(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR, "flush");
    rd_kafka_destroy(rk);
}

static rd_kafka_t *bounded_consumer(const char *topic) {
    char group[128];
    kt_unique_name(group, sizeof(group), "ledger-test-waker");
    const char *const settings[][2] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"queued.min.messages", QUEUED_MIN},
        {"queued.max.messages.kbytes", "64"},
        {"max.partition.fetch.bytes", "65536"},
    };
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, kt_conf(LEDGER_KAFKA_CONSUMER, settings,
                                                          sizeof(settings) / sizeof(settings[0])));
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

Test(fetch_waker, wakes_a_bounded_consumer_behind_and_is_quiet_once_caught_up) {
    char topic[128], errstr[512];
    kt_unique_name(topic, sizeof(topic), "ledger-test-waker");
    kt_create_topic(topic, 1, RD_KAFKA_RESP_ERR_NO_ERROR);
    produce_backlog(topic);

    rd_kafka_t *rk = bounded_consumer(topic);
    ledger_fetch_waker *w = ledger_fetch_waker_new(rk, 5, errstr, sizeof(errstr));
    cr_assert_not_null(w, "%s", errstr);

    int next = 0;
    int64_t deadline = kt_now_ms() + DEADLINE_MS;
    while (next < RECORDS && kt_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_message_errstr(m));
        char want[64];
        int n = snprintf(want, sizeof(want), "record-%06d", next);
        cr_assert_eq(m->offset, next, "offset %lld where %d was next", (long long)m->offset, next);
        cr_assert(m->len == (size_t)n && memcmp(m->payload, want, (size_t)n) == 0,
                  "record %d: wrong value", next);
        next++;
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(next, RECORDS, "only %d of %d records within %d s", next, RECORDS,
                 DEADLINE_MS / 1000);
    cr_assert_gt(ledger_fetch_waker_wakes(w), 0,
                 "a queue of %s messages over %d records: no wake-up sent", QUEUED_MIN, RECORDS);

    /* Caught up: after 200 ms for a request already under way to finish,
     * 100 of the waker's periods without one. */
    unsigned long behind_wakes = 0;
    int64_t settled_at = kt_now_ms() + 200, quiet_until = settled_at + 500;
    bool settled = false;
    while (kt_now_ms() < quiet_until) {
        if (!settled && kt_now_ms() >= settled_at) {
            behind_wakes = ledger_fetch_waker_wakes(w);
            settled = true;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        cr_assert_null(m == NULL || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? NULL : m,
                       "a record after the backlog");
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    cr_assert_eq(ledger_fetch_waker_wakes(w), behind_wakes, "%lu wake-ups sent while caught up",
                 ledger_fetch_waker_wakes(w) - behind_wakes);

    ledger_fetch_waker_destroy(w);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    const char *names[] = {topic};
    kt_delete_topics(names, 1);
}
