/*
 * rbench_events.h - a deterministic stream of valid ledger events for the
 * read-side benchmarks: first one AccountOpened per account, then deposits,
 * withdrawals and transfers (a TransferSent on the payer followed by the
 * TransferReceived on the payee), each account's seqs contiguous from 1, the
 * business time spread evenly over a year so the statements view sees
 * twelve months. Withdrawals and transfers never take an account below
 * zero, so the stream is one the command side could have written.
 *
 * The same stream feeds Kafka (rbench_gen) and the in-memory apply
 * benchmark (rbench_apply), so both measure the same work.
 */
#ifndef LEDGER_RBENCH_EVENTS_H
#define LEDGER_RBENCH_EVENTS_H

#include <stdint.h>

#include "event.h"

typedef struct rbench_events rbench_events;

/* A stream of about `total` events over `accounts` accounts named
 * "<stem>-0000000"... (stem borrowed). Returns NULL when memory runs out. */
rbench_events *rbench_events_new(const char *stem, uint64_t accounts, uint64_t total,
                                 uint64_t seed);

/* Frees the stream; NULL is accepted. */
void rbench_events_destroy(rbench_events *g);

/* Writes the next one or two events (a transfer is two) into out[0..1] and
 * returns how many. */
int rbench_events_next(rbench_events *g, ledger_event out[2]);

#endif
