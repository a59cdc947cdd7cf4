/*
 * dedup.c - the deduplication window: a chunked log of records in handling
 * order plus a linear-probing hash index of pointers into it.
 *
 * Why a log: entries leave in the order they came (the window ages from its
 * oldest end), so a FIFO of chunks gives allocation-free inserts, O(1)
 * expiry and whole-chunk frees, where one malloc per command would fragment
 * a heap holding a million of them. A replaced or removed entry is only
 * marked dead in the log; its bytes are reclaimed when the oldest end passes
 * its chunk. Removal from the index uses backward-shift deletion, so there
 * are no tombstones in the probe sequences.
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#include "ids.h"

typedef struct dedup_record {
    int64_t handled_at_ms;
    uint32_t hash;
    uint16_t id_len;
    uint16_t value_len;
    uint8_t live;
    uint32_t tag; /* the caller's: where the entry is kept (fits the padding) */
    /* then id_len bytes of id, value_len bytes of value, padding to 8 */
} dedup_record;

_Static_assert(sizeof(dedup_record) == 24, "the tag must stay inside the header's padding");

typedef struct dedup_chunk {
    struct dedup_chunk *next;
    size_t used; /* bytes of data in use */
    size_t cap;
    _Alignas(8) unsigned char data[];
} dedup_chunk;

struct producer_dedup {
    dedup_chunk *head, *tail; /* oldest and newest chunk */
    size_t head_pos;          /* offset of the oldest record not yet passed in head */
    dedup_chunk *spare;       /* one freed chunk kept for reuse */
    size_t chunks;
    dedup_record **slots; /* NULL = empty */
    size_t slots_cap;     /* a power of two */
    size_t count;         /* live records */
};

#define DEDUP_CHUNK_SIZE (256 * 1024)
#define DEDUP_MIN_SLOTS  64

static size_t dedup_align8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

static size_t dedup_record_size(size_t id_len, size_t value_len) {
    return dedup_align8(sizeof(dedup_record) + id_len + value_len);
}

static const char *dedup_record_id(const dedup_record *r) {
    return (const char *)(r + 1);
}

static const uint8_t *dedup_record_value(const dedup_record *r) {
    return (const uint8_t *)(r + 1) + r->id_len;
}

static uint32_t dedup_hash(const char *id, size_t len) {
    return (uint32_t)ledger_id_hash(id, len);
}

producer_dedup *producer_dedup_new(void) {
    producer_dedup *dedup = calloc(1, sizeof(*dedup));
    if (dedup == NULL)
        return NULL;
    dedup->slots = calloc(DEDUP_MIN_SLOTS, sizeof(*dedup->slots));
    if (dedup->slots == NULL) {
        free(dedup);
        return NULL;
    }
    dedup->slots_cap = DEDUP_MIN_SLOTS;
    return dedup;
}

void producer_dedup_destroy(producer_dedup *dedup) {
    if (dedup == NULL)
        return;
    for (dedup_chunk *c = dedup->head; c != NULL;) {
        dedup_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(dedup->spare);
    free(dedup->slots);
    free(dedup);
}

/* The slot holding `id`, or the empty slot ending its probe sequence. */
static size_t dedup_probe(const producer_dedup *dedup, const char *id, size_t len, uint32_t hash) {
    size_t mask = dedup->slots_cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const dedup_record *r = dedup->slots[i];
        if (r == NULL)
            return i;
        if (r->hash == hash && r->id_len == len && memcmp(dedup_record_id(r), id, len) == 0)
            return i;
    }
}

bool producer_dedup_find(const producer_dedup *dedup, const char *id, size_t len,
                         const uint8_t **value, size_t *value_len, int64_t *handled_at_ms) {
    return producer_dedup_find_tagged(dedup, id, len, value, value_len, handled_at_ms, NULL);
}

bool producer_dedup_find_tagged(const producer_dedup *dedup, const char *id, size_t len,
                                const uint8_t **value, size_t *value_len, int64_t *handled_at_ms,
                                uint32_t *tag) {
    if (len == 0 || len > PRODUCER_DEDUP_ID_MAX)
        return false;
    const dedup_record *r = dedup->slots[dedup_probe(dedup, id, len, dedup_hash(id, len))];
    if (r == NULL)
        return false;
    if (tag != NULL)
        *tag = r->tag;
    if (value != NULL)
        *value = dedup_record_value(r);
    if (value_len != NULL)
        *value_len = r->value_len;
    if (handled_at_ms != NULL)
        *handled_at_ms = r->handled_at_ms;
    return true;
}

/* Empties slot i and shifts later members of its cluster back. */
static void dedup_slot_delete(producer_dedup *dedup, size_t i) {
    size_t mask = dedup->slots_cap - 1;
    dedup->slots[i] = NULL;
    for (size_t j = (i + 1) & mask; dedup->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = dedup->slots[j]->hash & mask;
        /* Move j into the hole i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            dedup->slots[i] = dedup->slots[j];
            dedup->slots[j] = NULL;
            i = j;
        }
    }
}

static int dedup_grow_slots(producer_dedup *dedup) {
    size_t cap = dedup->slots_cap * 2;
    dedup_record **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    size_t mask = cap - 1;
    for (size_t k = 0; k < dedup->slots_cap; k++) {
        dedup_record *r = dedup->slots[k];
        if (r == NULL)
            continue;
        size_t i = r->hash & mask;
        while (slots[i] != NULL)
            i = (i + 1) & mask;
        slots[i] = r;
    }
    free(dedup->slots);
    dedup->slots = slots;
    dedup->slots_cap = cap;
    return 0;
}

/* Room for `size` bytes at the tail of the log. */
static unsigned char *dedup_log_reserve(producer_dedup *dedup, size_t size) {
    dedup_chunk *tail = dedup->tail;
    if (tail == NULL || tail->cap - tail->used < size) {
        size_t cap = size > DEDUP_CHUNK_SIZE ? size : DEDUP_CHUNK_SIZE;
        dedup_chunk *c = NULL;
        if (dedup->spare != NULL && dedup->spare->cap >= cap) {
            c = dedup->spare;
            dedup->spare = NULL;
        } else {
            c = malloc(sizeof(*c) + cap);
            if (c == NULL)
                return NULL;
            c->cap = cap;
        }
        c->next = NULL;
        c->used = 0;
        if (tail != NULL)
            tail->next = c;
        else {
            dedup->head = c;
            dedup->head_pos = 0;
        }
        dedup->tail = c;
        dedup->chunks++;
        tail = c;
    }
    return tail->data + tail->used;
}

int producer_dedup_put(producer_dedup *dedup, const char *id, size_t len, const uint8_t *value,
                       size_t value_len, int64_t handled_at_ms) {
    return producer_dedup_put_tagged(dedup, id, len, value, value_len, handled_at_ms, 0);
}

int producer_dedup_put_tagged(producer_dedup *dedup, const char *id, size_t len,
                              const uint8_t *value, size_t value_len, int64_t handled_at_ms,
                              uint32_t tag) {
    if (len == 0 || len > PRODUCER_DEDUP_ID_MAX || value_len > PRODUCER_DEDUP_VALUE_MAX)
        return -1;
    if ((dedup->count + 1) * 4 > dedup->slots_cap * 3 && dedup_grow_slots(dedup) != 0)
        return -1;
    size_t size = dedup_record_size(len, value_len);
    unsigned char *at = dedup_log_reserve(dedup, size);
    if (at == NULL)
        return -1;
    uint32_t hash = dedup_hash(id, len);
    size_t i = dedup_probe(dedup, id, len, hash);
    if (dedup->slots[i] != NULL) {
        dedup->slots[i]->live = 0; /* replaced: the new record takes its slot */
        dedup->count--;
    }
    dedup_record *r = (dedup_record *)(void *)at;
    r->handled_at_ms = handled_at_ms;
    r->hash = hash;
    r->id_len = (uint16_t)len;
    r->value_len = (uint16_t)value_len;
    r->live = 1;
    r->tag = tag;
    memcpy(r + 1, id, len);
    if (value_len > 0)
        memcpy((unsigned char *)(r + 1) + len, value, value_len);
    dedup->tail->used += size;
    dedup->slots[i] = r;
    dedup->count++;
    return 0;
}

bool producer_dedup_set_tag(producer_dedup *dedup, const char *id, size_t len, uint32_t tag) {
    if (len == 0 || len > PRODUCER_DEDUP_ID_MAX)
        return false;
    dedup_record *r = dedup->slots[dedup_probe(dedup, id, len, dedup_hash(id, len))];
    if (r == NULL)
        return false;
    r->tag = tag;
    return true;
}

bool producer_dedup_remove(producer_dedup *dedup, const char *id, size_t len) {
    if (len == 0 || len > PRODUCER_DEDUP_ID_MAX)
        return false;
    size_t i = dedup_probe(dedup, id, len, dedup_hash(id, len));
    if (dedup->slots[i] == NULL)
        return false;
    dedup->slots[i]->live = 0;
    dedup_slot_delete(dedup, i);
    dedup->count--;
    return true;
}

/* Frees the head chunk once the oldest end has passed all of it. */
static void dedup_drop_head(producer_dedup *dedup) {
    dedup_chunk *c = dedup->head;
    dedup->head = c->next;
    dedup->head_pos = 0;
    if (dedup->head == NULL)
        dedup->tail = NULL;
    dedup->chunks--;
    if (dedup->spare == NULL && c->cap == DEDUP_CHUNK_SIZE)
        dedup->spare = c;
    else
        free(c);
}

typedef struct dedup_untagged {
    producer_dedup_evict_fn evicted;
    void *opaque;
} dedup_untagged;

static void dedup_evict_untagged(void *opaque, const char *id, size_t len, uint32_t tag) {
    (void)tag;
    const dedup_untagged *u = opaque;
    if (u->evicted != NULL)
        u->evicted(u->opaque, id, len);
}

size_t producer_dedup_expire(producer_dedup *dedup, int64_t cutoff_ms, size_t max_entries,
                             producer_dedup_evict_fn evicted, void *opaque) {
    dedup_untagged u = {.evicted = evicted, .opaque = opaque};
    return producer_dedup_expire_tagged(dedup, cutoff_ms, max_entries, dedup_evict_untagged, &u);
}

size_t producer_dedup_expire_tagged(producer_dedup *dedup, int64_t cutoff_ms, size_t max_entries,
                                    producer_dedup_evict_tagged_fn evicted, void *opaque) {
    size_t dropped = 0;
    while (dedup->head != NULL) {
        dedup_chunk *c = dedup->head;
        if (dedup->head_pos >= c->used) {
            if (c == dedup->tail) {
                /* Everything is passed: start the chunk over. */
                c->used = 0;
                dedup->head_pos = 0;
                break;
            }
            dedup_drop_head(dedup);
            continue;
        }
        dedup_record *r = (dedup_record *)(void *)(c->data + dedup->head_pos);
        if (r->live) {
            if (r->handled_at_ms >= cutoff_ms && dedup->count <= max_entries)
                break;
            if (evicted != NULL)
                evicted(opaque, dedup_record_id(r), r->id_len, r->tag);
            size_t i = dedup_probe(dedup, dedup_record_id(r), r->id_len, r->hash);
            r->live = 0;
            dedup_slot_delete(dedup, i);
            dedup->count--;
            dropped++;
        }
        dedup->head_pos += dedup_record_size(r->id_len, r->value_len);
    }
    return dropped;
}

size_t producer_dedup_count(const producer_dedup *dedup) {
    return dedup->count;
}

size_t producer_dedup_memory(const producer_dedup *dedup) {
    size_t bytes = sizeof(*dedup) + dedup->slots_cap * sizeof(*dedup->slots);
    for (const dedup_chunk *c = dedup->head; c != NULL; c = c->next)
        bytes += sizeof(*c) + c->cap;
    if (dedup->spare != NULL)
        bytes += sizeof(*dedup->spare) + dedup->spare->cap;
    return bytes;
}
