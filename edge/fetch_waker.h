/*
 * fetch_waker.h - keeps a catching-up librdkafka 2.0.2 consumer fetching.
 *
 * Why: when a consumer's prefetch queue reaches queued.min.messages or
 * queued.max.messages.kbytes, librdkafka 2.0.2 takes its partitions off the
 * fetch list and looks at them again only when their broker thread wakes,
 * which with nothing else to do is once a second (rd_kafka_max_block_ms;
 * the fetch.queue.backoff.ms setting that shortens it came in 2.1). A
 * consumer that drains its queue in less than a second then sits idle for
 * the rest of it: a projector catching up with a queue bounded to 40,000
 * messages ran at 77,000 events/s, and at 146,000 only with 150,000 queued
 * messages and 108 MB of memory. Any request to a broker wakes its thread,
 * so a thread of ours watches the queue and, when it has run low while the
 * assigned partitions still have records on the broker that are not in it,
 * sends one ListOffsets (rd_kafka_offsets_for_times, latest) per leader.
 *
 * Cost: one request per leader at most every `period_ms` while the consumer
 * is behind and its queue low; none when caught up (the high watermarks the
 * fetch responses bring say there is nothing more to fetch). Idle (nothing
 * assigned, or caught up), it looks at the consumer every 200 ms instead
 * of every period: looking is itself a round trip through librdkafka's
 * main thread.
 *
 * Thread-safety: the waker only calls librdkafka functions that are safe
 * beside rd_kafka_consumer_poll on another thread.
 */
#ifndef LEDGER_FETCH_WAKER_H
#define LEDGER_FETCH_WAKER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* The prefetch bound of this project's catching-up consumers (the
 * projector's, the producer's restore): librdkafka 2.0.2 prefetches up to
 * 100,000 messages or 64 MB by default, which became most of their memory
 * (and, for the restore, stayed in the heap after it). With the waker, a
 * bounded queue costs no rate. */
#define LEDGER_FETCH_QUEUE_MESSAGES "40000"
#define LEDGER_FETCH_QUEUE_KBYTES   "8192"

typedef struct ledger_fetch_waker ledger_fetch_waker;

/* Starts the waker of consumer `rk` (borrowed: it must outlive the waker;
 * rd_kafka_poll_set_consumer already called), looking every period_ms. A
 * stalled fetch is woken once the queue is under half of the client's
 * queued.min.messages. Returns the waker, or NULL with errstr. */
ledger_fetch_waker *ledger_fetch_waker_new(rd_kafka_t *rk, int period_ms, char *errstr,
                                           size_t errstr_size);

/* How many wake-up requests it sent (for tests and metrics). */
unsigned long ledger_fetch_waker_wakes(const ledger_fetch_waker *w);

/* Stops the thread (within one period plus a request's timeout) and frees
 * the waker. Call before rd_kafka_consumer_close. NULL is accepted. */
void ledger_fetch_waker_destroy(ledger_fetch_waker *w);

#endif
