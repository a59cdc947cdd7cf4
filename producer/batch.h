/*
 * batch.h - what one transaction has decided so far: a result per command
 * record, in record order, and an index of the command ids handled in it.
 *
 * Results are written only after the transaction's events are delivered
 * (their positions come from the delivery reports), so they wait here. The
 * index lets a command id that comes twice in one transaction be answered as
 * a duplicate of the first, whose result is not in the deduplication window
 * yet. Capacity is fixed at creation and nothing moves afterwards: a
 * pending result's address is given to librdkafka as the opaque of its
 * event, and the delivery report writes the position through it.
 */
#ifndef LEDGER_PRODUCER_BATCH_H
#define LEDGER_PRODUCER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

typedef struct producer_pending {
    ledger_result result;
    int32_t partition; /* the command partition it was handled on */
    int32_t dup_of;    /* index of the original in this batch, or -1 */
    bool remember;     /* a new result of a valid command id: add it to the window */
} producer_pending;

typedef struct producer_batch producer_batch;

/* A batch for at most `capacity` results (>= 1); NULL when memory runs
 * out. */
producer_batch *producer_batch_new(size_t capacity);

/* Frees it. Accepts NULL. */
void producer_batch_destroy(producer_batch *batch);

/* Empties the batch for the next transaction. */
void producer_batch_reset(producer_batch *batch);

/* A new zeroed result (dup_of = -1) at the end, or NULL when full. The
 * pointer stays valid until destroy. */
producer_pending *producer_batch_add(producer_batch *batch);

size_t producer_batch_count(const producer_batch *batch);
producer_pending *producer_batch_at(producer_batch *batch, size_t i);

/* Indexes result i under its command id and partition (result.command_id
 * must be set and valid). */
void producer_batch_index(producer_batch *batch, size_t i);

/* The index of the indexed result of command `id` (`len` bytes) on
 * `partition`, or -1. */
int32_t producer_batch_find(const producer_batch *batch, int32_t partition, const char *id,
                            size_t len);

#endif
