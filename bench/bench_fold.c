/*
 * bench_fold.c - the reducer's throughput: account_apply over 1,000,000
 * events pre-built in memory (1,000 accounts, their events interleaved as
 * in a partition of the log), on one core. Prints events per second;
 * asserts nothing, but checks that every event was applied.
 *
 *   bench_fold [events] [accounts]    defaults 1000000 and 1000
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "account.h"
#include "event.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    long accounts = argc > 2 ? atol(argv[2]) : 1000;
    if (count < 1 || accounts < 1 || accounts > count) {
        fprintf(stderr, "usage: bench_fold [events] [accounts <= events]\n");
        return 2;
    }
    ledger_event *events = calloc((size_t)count, sizeof *events);
    account_state *states = calloc((size_t)accounts, sizeof *states);
    if (events == NULL || states == NULL) {
        fprintf(stderr, "bench_fold: out of memory\n");
        return 1;
    }
    /* Event i is on account i % accounts, with seq i / accounts + 1: an
     * AccountOpened first, then deposits, withdrawals and transfers. */
    static const ledger_event_type moves[] = {
        LEDGER_EVENT_MONEY_DEPOSITED, LEDGER_EVENT_MONEY_WITHDRAWN, LEDGER_EVENT_TRANSFER_SENT,
        LEDGER_EVENT_TRANSFER_RECEIVED, LEDGER_EVENT_TRANSFER_RETURNED};
    for (long i = 0; i < count; i++) {
        ledger_event *e = &events[i];
        long seq = i / accounts + 1;
        snprintf(e->account, sizeof e->account, "account-%ld", i % accounts);
        e->seq = seq;
        e->at_ms = 1795687200000 + i;
        e->type = seq == 1 ? LEDGER_EVENT_ACCOUNT_OPENED : moves[seq % 5];
        e->amount = seq == 1 ? 100000 : 1 + i % 1000;
    }
    for (long a = 0; a < accounts; a++)
        account_init(&states[a]);

    long applied = 0;
    double t0 = now_s();
    for (long i = 0; i < count; i++)
        applied += account_apply(&states[i % accounts], &events[i]) == ACCOUNT_APPLIED;
    double fold_s = now_s() - t0;

    int64_t sum = 0;
    for (long a = 0; a < accounts; a++)
        sum += states[a].balance;
    printf("fold: %ld events over %ld accounts, %ld applied\n", count, accounts, applied);
    printf("fold: %12.0f events/s  %6.1f ns/event  (sum of balances %lld)\n", count / fold_s,
           fold_s / count * 1e9, (long long)sum);
    free(events);
    free(states);
    return applied == count ? 0 : 1;
}
