/*
 * rbench_apply.c - figure (g): the balance view's Redis apply rate without
 * Kafka. The benchmark stream (rbench_events.h) is cut into batches of
 * BATCH events in memory, each grouped by account (a stable sort, as the
 * runtime groups a partition's batch), then sent through the runtime's own
 * store (projector_store.h) and the balance view's callbacks: read_account
 * per account, projector_store_read (round trip 1: HGET checkpoint + every
 * HMGET, pipelined), apply_account per account, projector_store_apply
 * (round trip 2: MULTI/EXEC of every HSET and the checkpoint, under the
 * WATCH of round trip 1). Like the runtime, it keeps each account's stored
 * state between batches (state_cache.h, --state-cache's default size) and
 * reads only the accounts it does not hold, and it overlaps as the runtime
 * does: round trip 2 is sent and its outcome read only before the next
 * batch's round trip 1 (projector_store_apply_send/_wait), the next batch
 * is generated and grouped meanwhile in the other of two buffers, and
 * folded too when every account of it is kept (folding ahead).
 * What it leaves out of the runtime: consuming and decoding (figure (a) and
 * bench_codec measure those) and the DLQ bookkeeping. The clock runs from
 * the first batch to the last outcome; generating the stream costs a few
 * milliseconds per million events.
 *
 *     rbench_apply REDIS_URL NS [EVENTS] [ACCOUNTS] [BATCH]
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance_view.h"
#include "log.h"
#include "projector_store.h"
#include "rbench_common.h"
#include "rbench_events.h"
#include "state_cache.h"

typedef struct apply_slot {
    uint32_t index; /* position in the generated batch: the sort is stable on it */
} apply_slot;

static const ledger_event *sort_events; /* qsort has no context argument */

static int by_account(const void *a, const void *b) {
    const apply_slot *x = a, *y = b;
    int c = strcmp(sort_events[x->index].account, sort_events[y->index].account);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* What one batch needs until its write's outcome is read: the runtime's
 * two batch buffers, one built while Redis runs the other. */
typedef struct rbench_apply_buffers {
    view_batch *batch;
    ledger_event *grouped;
    view_account_input *inputs;
    size_t *first_reply;
    unsigned char *states;
} rbench_apply_buffers;

static int buffers_init(rbench_apply_buffers *b, const char *ns, const projector_view *view,
                        size_t batch_max) {
    b->batch = view_batch_new(ns, view->name);
    b->grouped = malloc(batch_max * sizeof(*b->grouped));
    b->inputs = malloc(batch_max * sizeof(*b->inputs));
    b->first_reply = malloc(batch_max * sizeof(*b->first_reply));
    b->states = malloc(batch_max * view->state_size);
    return b->batch != NULL && b->grouped != NULL && b->inputs != NULL && b->first_reply != NULL &&
                   b->states != NULL
               ? 0
               : -1;
}

static void buffers_free(rbench_apply_buffers *b) {
    view_batch_destroy(b->batch);
    free(b->grouped);
    free(b->inputs);
    free(b->first_reply);
    free(b->states);
}

/* The view's fold of every account of the batch into its writes; `replies`
 * NULL when every account is kept (nothing was read). */
static int fold(const projector_view *view, rbench_apply_buffers *b, size_t n_inputs,
                redisReply **replies) {
    char errstr[512];
    for (size_t a = 0; a < n_inputs; a++) {
        if (replies != NULL)
            b->inputs[a].replies = (const redisReply *const *)(replies + b->first_reply[a]);
        if (view->apply_account(NULL, b->batch, &b->inputs[a], errstr, sizeof(errstr)) != 0) {
            fprintf(stderr, "rbench_apply: %s\n", errstr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rbench_apply REDIS_URL NS [EVENTS] [ACCOUNTS] [BATCH]\n");
        return 2;
    }
    uint64_t events = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
    uint64_t accounts = argc > 4 ? strtoull(argv[4], NULL, 10) : 100000;
    size_t batch_max = argc > 5 ? strtoull(argv[5], NULL, 10) : 5000;
    ledger_log_init("rbench_apply", LEDGER_LOG_LEVEL_WARN);
    char errstr[512];
    ledger_redis_url url;
    if (ledger_redis_url_parse(argv[1], &url, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "rbench_apply: %s\n", errstr);
        return 2;
    }
    static volatile sig_atomic_t stop = 0;
    const projector_view *view = &balance_view;
    projector_store *store = projector_store_new(&url, argv[2], view->name, &stop);
    rbench_apply_buffers bufs[2];
    memset(bufs, 0, sizeof(bufs));
    rbench_events *gen = rbench_events_new("ra", accounts, events, 7);
    /* one batch of the stream (plus a transfer's second half) */
    ledger_event *all = malloc((batch_max + 1) * sizeof(*all));
    apply_slot *slots = malloc(batch_max * sizeof(*slots));
    redisReply **replies = malloc(batch_max * sizeof(*replies));
    state_cache *cache = state_cache_new(view->state_size, 131072);
    int ok = store != NULL && gen != NULL && all != NULL && slots != NULL && replies != NULL &&
             cache != NULL;
    for (int b = 0; b < 2 && ok; b++)
        ok = buffers_init(&bufs[b], argv[2], view, batch_max) == 0;
    if (!ok) {
        fprintf(stderr, "rbench_apply: out of memory\n");
        return 1;
    }
    if (projector_store_start(store) != 0)
        return 1;
    int64_t gen_no = 0;
    if (projector_store_generation(store, &gen_no) != 0)
        return 1;

    size_t carry = 0; /* a transfer's second half left over from the last batch */
    ledger_event two[2];
    int64_t checkpoint = PROJECTOR_NO_CHECKPOINT;
    uint64_t batches = 0, writes = 0, folded_ahead = 0;
    bool pending = false;
    int turn = 0;
    double t0 = rbench_now();
    for (uint64_t off = 0; off < events; off += batch_max) {
        rbench_apply_buffers *buf = &bufs[turn];
        size_t count = (size_t)(events - off < batch_max ? events - off : batch_max);
        size_t have = 0;
        if (carry > 0)
            all[have++] = two[1];
        carry = 0;
        while (have < count) {
            int k = rbench_events_next(gen, two);
            all[have++] = two[0];
            if (k == 2) {
                if (have < count)
                    all[have++] = two[1];
                else
                    carry = 1;
            }
        }
        sort_events = all;
        for (size_t i = 0; i < count; i++)
            slots[i].index = (uint32_t)i;
        qsort(slots, count, sizeof(*slots), by_account);
        for (size_t i = 0; i < count; i++)
            buf->grouped[i] = all[slots[i].index];

        view_batch_reset(buf->batch, gen_no);
        size_t n_inputs = 0, reads = 0;
        for (size_t i = 0; i < count;) {
            size_t j = i + 1;
            while (j < count && strcmp(buf->grouped[j].account, buf->grouped[i].account) == 0)
                j++;
            view_account_input *in = &buf->inputs[n_inputs];
            *in = (view_account_input){.account = buf->grouped[i].account,
                                       .events = buf->grouped + i,
                                       .event_count = j - i,
                                       .state_out = buf->states + n_inputs * view->state_size};
            in->cached = state_cache_get(cache, gen_no, in->account, strlen(in->account));
            buf->first_reply[n_inputs] = reads;
            in->reply_count = view->read_account(NULL, buf->batch, in);
            reads += in->reply_count;
            n_inputs++;
            i = j;
        }
        /* Every account kept: fold while Redis runs the previous batch. */
        bool folded = reads == 0 && pending;
        if (folded) {
            if (fold(view, buf, n_inputs, NULL) != 0)
                return 1;
            folded_ahead++;
        }
        if (pending && projector_store_apply_wait(store) != PROJECTOR_STORE_APPLIED) {
            fprintf(stderr, "rbench_apply: the batch before %" PRIu64 " was not applied\n", off);
            return 1;
        }
        pending = false;
        int64_t stored = 0;
        if (projector_store_read(store, buf->batch, 0, &stored, replies) != 0 ||
            stored != checkpoint) {
            fprintf(stderr, "rbench_apply: unexpected checkpoint %" PRId64 "\n", stored);
            return 1;
        }
        /* the replies are the store's: nothing to free */
        if (!folded && fold(view, buf, n_inputs, replies) != 0)
            return 1;
        writes += view_batch_write_count(buf->batch);
        int64_t next = (int64_t)(off + count);
        projector_store_result sent = projector_store_apply_send(
            store, buf->batch, PROJECTOR_STORE_CURRENT, 0, checkpoint, next);
        if (sent != PROJECTOR_STORE_PENDING && sent != PROJECTOR_STORE_APPLIED) {
            fprintf(stderr, "rbench_apply: the batch at %" PRIu64 " was not applied\n", off);
            return 1;
        }
        pending = sent == PROJECTOR_STORE_PENDING;
        /* Kept as the write is sent, as the runtime does: a failed write
         * ends this program. */
        for (size_t a = 0; a < n_inputs; a++)
            state_cache_put(cache, gen_no, buf->inputs[a].account, strlen(buf->inputs[a].account),
                            buf->inputs[a].state_out);
        checkpoint = next;
        batches++;
        turn ^= 1;
    }
    if (pending && projector_store_apply_wait(store) != PROJECTOR_STORE_APPLIED) {
        fprintf(stderr, "rbench_apply: the last batch was not applied\n");
        return 1;
    }
    double dt = rbench_now() - t0;
    printf("apply: %" PRIu64 " events in %" PRIu64 " batches of <= %zu (%" PRIu64 " HSETs, %" PRIu64
           " batches folded ahead) in %.3f s: %.0f events/s\n",
           events, batches, batch_max, writes, folded_ahead, dt, (double)events / dt);
    printf("RESULT apply_rate=%.0f\n", (double)events / dt);
    free(all);
    free(slots);
    free(replies);
    for (int b = 0; b < 2; b++)
        buffers_free(&bufs[b]);
    state_cache_destroy(cache);
    rbench_events_destroy(gen);
    projector_store_destroy(store);
    return 0;
}
