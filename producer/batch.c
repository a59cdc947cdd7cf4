/*
 * batch.c - one transaction's pending results and its command id index.
 *
 * The index is a linear-probing table of result indexes with at least twice
 * as many slots as the batch holds results, cleared at each reset (a memset
 * of a few tens of KiB per transaction, not per command).
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "ids.h"

struct producer_batch {
    producer_pending *pending;
    size_t count, capacity;
    int32_t *slots; /* result index + 1, 0 = empty */
    size_t slots_cap;
};

static uint32_t batch_hash(int32_t partition, const char *id, size_t len) {
    return (uint32_t)(ledger_id_hash(id, len) ^
                      ((uint64_t)(uint32_t)partition * 0x9e3779b97f4a7c15u));
}

producer_batch *producer_batch_new(size_t capacity) {
    if (capacity < 1 || capacity > INT32_MAX / 4)
        return NULL;
    producer_batch *batch = calloc(1, sizeof(*batch));
    if (batch == NULL)
        return NULL;
    batch->capacity = capacity;
    batch->slots_cap = 16;
    while (batch->slots_cap < capacity * 2)
        batch->slots_cap *= 2;
    batch->pending = calloc(capacity, sizeof(*batch->pending));
    batch->slots = calloc(batch->slots_cap, sizeof(*batch->slots));
    if (batch->pending == NULL || batch->slots == NULL) {
        producer_batch_destroy(batch);
        return NULL;
    }
    return batch;
}

void producer_batch_destroy(producer_batch *batch) {
    if (batch == NULL)
        return;
    free(batch->pending);
    free(batch->slots);
    free(batch);
}

void producer_batch_reset(producer_batch *batch) {
    if (batch->count > 0)
        memset(batch->slots, 0, batch->slots_cap * sizeof(*batch->slots));
    batch->count = 0;
}

producer_pending *producer_batch_add(producer_batch *batch) {
    if (batch->count == batch->capacity)
        return NULL;
    producer_pending *p = &batch->pending[batch->count++];
    memset(p, 0, sizeof(*p));
    p->dup_of = -1;
    return p;
}

size_t producer_batch_count(const producer_batch *batch) {
    return batch->count;
}

producer_pending *producer_batch_at(producer_batch *batch, size_t i) {
    return &batch->pending[i];
}

static size_t batch_probe(const producer_batch *batch, int32_t partition, const char *id,
                          size_t len) {
    size_t mask = batch->slots_cap - 1;
    for (size_t i = batch_hash(partition, id, len) & mask;; i = (i + 1) & mask) {
        int32_t s = batch->slots[i];
        if (s == 0)
            return i;
        const producer_pending *p = &batch->pending[s - 1];
        const char *pid = p->result.command_id;
        if (p->partition == partition && ledger_id_len(pid, sizeof(p->result.command_id)) == len &&
            memcmp(pid, id, len) == 0)
            return i;
    }
}

void producer_batch_index(producer_batch *batch, size_t i) {
    const producer_pending *p = &batch->pending[i];
    size_t len = ledger_id_len(p->result.command_id, sizeof(p->result.command_id));
    size_t slot = batch_probe(batch, p->partition, p->result.command_id, len);
    batch->slots[slot] = (int32_t)(i + 1);
}

int32_t producer_batch_find(const producer_batch *batch, int32_t partition, const char *id,
                            size_t len) {
    int32_t s = batch->slots[batch_probe(batch, partition, id, len)];
    return s - 1;
}
