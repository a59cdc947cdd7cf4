/*
 * fetch_waker.c - see fetch_waker.h.
 *
 * "Behind" is judged from what the consumer already knows, without a
 * request: the high watermark its last fetch response gave per partition
 * (rd_kafka_get_watermark_offsets) against the position the application
 * has consumed to (rd_kafka_position). Records counted there but not in the
 * queue are still on the broker. Transaction markers and aborted records
 * are counted too but never arrive, so a consumer that is caught up behind
 * them looks behind for ever: when a wake brought no progress, the next one
 * waits twice as long, up to a second (librdkafka's own re-check).
 */
#include "fetch_waker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

#define WAKER_MAX_BACKOFF_MS     1000
#define WAKER_REQUEST_TIMEOUT_MS 1000
#define WAKER_IDLE_MS            200

struct ledger_fetch_waker {
    rd_kafka_t *rk;          /* borrowed */
    rd_kafka_queue_t *queue; /* the consumer queue, owned reference */
    size_t low_messages;
    int period_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop; /* under lock */
    atomic_ulong wakes;
};

/* Sleeps ms unless stopped. Returns true when the waker must stop. */
static bool waker_sleep(ledger_fetch_waker *w, int ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    }
    bool stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

/* Records of the assignment still on the broker as far as the consumer
 * knows (sum over partitions of high watermark - position), and the sum of
 * the positions (progress). Returns the assignment (caller destroys), or
 * NULL when nothing is assigned. */
static rd_kafka_topic_partition_list_t *behind(ledger_fetch_waker *w, int64_t *lag,
                                               int64_t *progress) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    *lag = 0;
    *progress = 0;
    if (rd_kafka_assignment(w->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL)
        return NULL;
    if (parts->cnt == 0 || rd_kafka_position(w->rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(parts);
        return NULL;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo = -1, hi = -1;
        if (tp->offset < 0 || rd_kafka_get_watermark_offsets(w->rk, tp->topic, tp->partition, &lo,
                                                             &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        *progress += tp->offset;
        if (hi > tp->offset)
            *lag += hi - tp->offset;
    }
    return parts;
}

static void *waker_main(void *arg) {
    ledger_fetch_waker *w = arg;
    int backoff_ms = w->period_ms;
    /* Looking costs a request to librdkafka's main thread
     * (rd_kafka_assignment): with nothing assigned or nothing behind, look
     * less often, down to every WAKER_IDLE_MS. */
    int look_ms = w->period_ms;
    int64_t next_ms = 0, woke_at_progress = -1;
    while (!waker_sleep(w, look_ms)) {
        size_t queued = rd_kafka_queue_length(w->queue);
        if (queued >= w->low_messages) {
            look_ms = w->period_ms;
            continue;
        }
        int64_t lag, progress;
        rd_kafka_topic_partition_list_t *parts = behind(w, &lag, &progress);
        if (parts == NULL || lag <= (int64_t)queued) {
            look_ms = look_ms * 2 > WAKER_IDLE_MS ? WAKER_IDLE_MS : look_ms * 2;
            backoff_ms = w->period_ms;
            if (parts != NULL)
                rd_kafka_topic_partition_list_destroy(parts);
            continue;
        }
        look_ms = w->period_ms;
        int64_t now = ledger_mono_ms();
        if (now < next_ms) {
            rd_kafka_topic_partition_list_destroy(parts);
            continue;
        }
        /* A request to each leader: its answer is not needed, its arrival
         * makes the broker thread decide again what to fetch. */
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = -1; /* the latest offset */
        (void)rd_kafka_offsets_for_times(w->rk, parts, WAKER_REQUEST_TIMEOUT_MS);
        rd_kafka_topic_partition_list_destroy(parts);
        backoff_ms =
            progress == woke_at_progress
                ? (backoff_ms * 2 > WAKER_MAX_BACKOFF_MS ? WAKER_MAX_BACKOFF_MS : backoff_ms * 2)
                : w->period_ms;
        woke_at_progress = progress;
        next_ms = ledger_mono_ms() + backoff_ms;
        atomic_fetch_add(&w->wakes, 1);
    }
    return NULL;
}

ledger_fetch_waker *ledger_fetch_waker_new(rd_kafka_t *rk, int period_ms, char *errstr,
                                           size_t errstr_size) {
    char value[32];
    size_t value_size = sizeof(value);
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "queued.min.messages", value, &value_size) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "fetch waker: queued.min.messages is not set");
        return NULL;
    }
    long queued_min = strtol(value, NULL, 10);
    ledger_fetch_waker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    w->rk = rk;
    w->low_messages = queued_min > 1 ? (size_t)queued_min / 2 : 1;
    w->period_ms = period_ms > 0 ? period_ms : 1;
    w->queue = rd_kafka_queue_get_consumer(rk);
    if (w->queue == NULL) {
        snprintf(errstr, errstr_size, "fetch waker: the client is not a consumer");
        free(w);
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&w->lock, NULL);
    int rc = pthread_create(&w->thread, NULL, waker_main, w);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "fetch waker: cannot start its thread: %s", strerror(rc));
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        rd_kafka_queue_destroy(w->queue);
        free(w);
        return NULL;
    }
    return w;
}

unsigned long ledger_fetch_waker_wakes(const ledger_fetch_waker *w) {
    return atomic_load(&w->wakes);
}

void ledger_fetch_waker_destroy(ledger_fetch_waker *w) {
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    rd_kafka_queue_destroy(w->queue);
    free(w);
}
