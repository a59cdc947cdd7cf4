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
 * reads only the accounts it does not hold.
 * What it leaves out of the runtime: consuming and decoding (figure (a) and
 * bench_codec measure those) and the DLQ bookkeeping. Each batch's events
 * are generated with the clock stopped.
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
    view_batch *batch = view_batch_new(argv[2], view->name);
    rbench_events *gen = rbench_events_new("ra", accounts, events, 7);
    /* one batch of the stream (plus a transfer's second half) */
    ledger_event *all = malloc((batch_max + 1) * sizeof(*all));
    apply_slot *slots = malloc(batch_max * sizeof(*slots));
    view_account_input *inputs = malloc(batch_max * sizeof(*inputs));
    size_t *first_reply = malloc(batch_max * sizeof(*first_reply));
    ledger_event *grouped = malloc(batch_max * sizeof(*grouped));
    redisReply **replies = malloc(batch_max * sizeof(*replies));
    state_cache *cache = state_cache_new(view->state_size, 131072);
    unsigned char *states = malloc(batch_max * view->state_size);
    if (cache == NULL || states == NULL || store == NULL || batch == NULL || gen == NULL ||
        all == NULL || slots == NULL || inputs == NULL || first_reply == NULL || grouped == NULL ||
        replies == NULL) {
        fprintf(stderr, "rbench_apply: out of memory\n");
        return 1;
    }
    if (projector_store_start(store) != 0)
        return 1;
    int64_t gen_no = 0;
    if (projector_store_generation(store, &gen_no) != 0)
        return 1;

    double dt = 0;
    size_t carry = 0; /* a transfer's second half left over from the last batch */
    ledger_event two[2];
    int64_t checkpoint = PROJECTOR_NO_CHECKPOINT;
    uint64_t batches = 0, writes = 0;
    for (uint64_t off = 0; off < events; off += batch_max) {
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
        double t0 = rbench_now();
        sort_events = all;
        for (size_t i = 0; i < count; i++)
            slots[i].index = (uint32_t)i;
        qsort(slots, count, sizeof(*slots), by_account);
        for (size_t i = 0; i < count; i++)
            grouped[i] = all[slots[i].index];

        view_batch_reset(batch, gen_no);
        size_t n_inputs = 0, reads = 0;
        for (size_t i = 0; i < count;) {
            size_t j = i + 1;
            while (j < count && strcmp(grouped[j].account, grouped[i].account) == 0)
                j++;
            view_account_input *in = &inputs[n_inputs];
            *in = (view_account_input){.account = grouped[i].account,
                                       .events = grouped + i,
                                       .event_count = j - i,
                                       .state_out = states + n_inputs * view->state_size};
            in->cached = state_cache_get(cache, gen_no, in->account, strlen(in->account));
            first_reply[n_inputs] = reads;
            in->reply_count = view->read_account(NULL, batch, in);
            reads += in->reply_count;
            n_inputs++;
            i = j;
        }
        int64_t stored = 0;
        if (projector_store_read(store, batch, 0, &stored, replies) != 0 || stored != checkpoint) {
            fprintf(stderr, "rbench_apply: unexpected checkpoint %" PRId64 "\n", stored);
            return 1;
        }
        for (size_t a = 0; a < n_inputs; a++) {
            inputs[a].replies = (const redisReply *const *)(replies + first_reply[a]);
            if (view->apply_account(NULL, batch, &inputs[a], errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "rbench_apply: %s\n", errstr);
                return 1;
            }
        }
        /* the replies are the store's: nothing to free */
        writes += view_batch_write_count(batch);
        int64_t next = (int64_t)(off + count);
        if (projector_store_apply(store, batch, PROJECTOR_STORE_CURRENT, 0, checkpoint, next) !=
            PROJECTOR_STORE_APPLIED) {
            fprintf(stderr, "rbench_apply: the batch at %" PRIu64 " was not applied\n", off);
            return 1;
        }
        for (size_t a = 0; a < n_inputs; a++)
            state_cache_put(cache, gen_no, inputs[a].account, strlen(inputs[a].account),
                            inputs[a].state_out);
        checkpoint = next;
        batches++;
        dt += rbench_now() - t0;
    }
    printf("apply: %" PRIu64 " events in %" PRIu64 " batches of <= %zu (%" PRIu64
           " HSETs) in %.3f s: %.0f events/s\n",
           events, batches, batch_max, writes, dt, (double)events / dt);
    printf("RESULT apply_rate=%.0f\n", (double)events / dt);
    free(all);
    free(slots);
    free(inputs);
    free(first_reply);
    free(grouped);
    free(replies);
    free(states);
    state_cache_destroy(cache);
    rbench_events_destroy(gen);
    view_batch_destroy(batch);
    projector_store_destroy(store);
    return 0;
}
