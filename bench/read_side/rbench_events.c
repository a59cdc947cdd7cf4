/*
 * rbench_events.c - the benchmark event stream (see rbench_events.h): a
 * xorshift generator and two arrays (seq and balance per account), so a
 * million events cost a few milliseconds and no allocation per event.
 */
#include "rbench_events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RBENCH_START_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define RBENCH_YEAR_MS  INT64_C(31536000000)

struct rbench_events {
    const char *stem;
    uint64_t accounts, total, emitted, rng, transfers;
    int64_t *seq;
    int64_t *balance;
};

rbench_events *rbench_events_new(const char *stem, uint64_t accounts, uint64_t total,
                                 uint64_t seed) {
    rbench_events *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->stem = stem;
    g->accounts = accounts;
    g->total = total > 0 ? total : 1;
    g->rng = seed * 2654435761u + 88172645463325252u;
    g->seq = calloc(accounts, sizeof(*g->seq));
    g->balance = calloc(accounts, sizeof(*g->balance));
    if (g->seq == NULL || g->balance == NULL) {
        rbench_events_destroy(g);
        return NULL;
    }
    return g;
}

void rbench_events_destroy(rbench_events *g) {
    if (g == NULL)
        return;
    free(g->seq);
    free(g->balance);
    free(g);
}

static uint64_t next_rand(rbench_events *g) {
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

/* Fills the envelope of an event of account index a. */
static void envelope(rbench_events *g, ledger_event *e, uint64_t a, ledger_event_type type) {
    ledger_event_init(e);
    e->type = type;
    snprintf(e->account, sizeof(e->account), "%s-%07" PRIu64, g->stem, a);
    e->seq = ++g->seq[a];
    e->at_ms = RBENCH_START_MS +
               (int64_t)((double)g->emitted / (double)g->total * (double)(RBENCH_YEAR_MS - 1));
    snprintf(e->event_id, sizeof(e->event_id), "7bee0000-0000-4000-8000-%012" PRIu64, g->emitted);
    snprintf(e->command_id, sizeof(e->command_id), "rbench-%" PRIu64, g->emitted);
    g->emitted++;
}

int rbench_events_next(rbench_events *g, ledger_event out[2]) {
    if (g->emitted < g->accounts) {
        uint64_t a = g->emitted;
        envelope(g, &out[0], a, LEDGER_EVENT_ACCOUNT_OPENED);
        out[0].amount = 0; /* overdraft */
        return 1;
    }
    uint64_t a = next_rand(g) % g->accounts;
    uint64_t kind = next_rand(g) % 4;
    int64_t amount = 100 + (int64_t)(next_rand(g) % 50000);
    if (kind == 0 || g->balance[a] < amount) {
        envelope(g, &out[0], a, LEDGER_EVENT_MONEY_DEPOSITED);
        out[0].amount = amount;
        g->balance[a] += amount;
        return 1;
    }
    if (kind == 1) {
        envelope(g, &out[0], a, LEDGER_EVENT_MONEY_WITHDRAWN);
        out[0].amount = amount;
        g->balance[a] -= amount;
        return 1;
    }
    uint64_t b = (a + 1 + next_rand(g) % (g->accounts - 1)) % g->accounts;
    if (g->accounts < 2)
        b = a;
    char tid[LEDGER_UUID_BUF];
    snprintf(tid, sizeof(tid), "7bee1111-0000-4000-8000-%012" PRIu64, g->transfers++);
    envelope(g, &out[0], a, LEDGER_EVENT_TRANSFER_SENT);
    out[0].amount = amount;
    memcpy(out[0].transfer_id, tid, sizeof(tid));
    snprintf(out[0].counterparty, sizeof(out[0].counterparty), "%s-%07" PRIu64, g->stem, b);
    envelope(g, &out[1], b, LEDGER_EVENT_TRANSFER_RECEIVED);
    out[1].amount = amount;
    memcpy(out[1].transfer_id, tid, sizeof(tid));
    snprintf(out[1].counterparty, sizeof(out[1].counterparty), "%s-%07" PRIu64, g->stem, a);
    g->balance[a] -= amount;
    g->balance[b] += amount;
    return 2;
}
