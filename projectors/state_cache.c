/*
 * state_cache.c - see state_cache.h.
 *
 * Entries live in one array of fixed-size slots: a header (hash, generation,
 * account) followed by the state. An empty slot has len 0. Deletion shifts
 * the entries after it back (no tombstones), so a lookup stops at the first
 * empty slot.
 */
#include "state_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

typedef struct slot_head {
    uint64_t hash;
    int64_t gen;
    uint8_t len; /* 0: empty */
    char account[LEDGER_ACCOUNT_MAX];
} slot_head;

struct state_cache {
    unsigned char *slots;
    size_t stride; /* bytes per slot: head, then the state */
    size_t state_size;
    size_t mask;  /* slots - 1 */
    size_t limit; /* entries held at most before the table empties itself */
    size_t count;
};

#define STATE_OFFSET (((sizeof(slot_head) + 7) / 8) * 8)

static slot_head *slot_at(const state_cache *c, size_t i) {
    return (slot_head *)(c->slots + i * c->stride);
}

state_cache *state_cache_new(size_t state_size, size_t slots) {
    if (state_size == 0)
        return NULL;
    size_t n = 8;
    while (n < slots && n < ((size_t)1 << 40))
        n *= 2;
    state_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->state_size = state_size;
    c->stride = ((STATE_OFFSET + state_size + 7) / 8) * 8;
    c->slots = calloc(n, c->stride);
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->limit = n - n / 8;
    return c;
}

void state_cache_destroy(state_cache *cache) {
    if (cache == NULL)
        return;
    free(cache->slots);
    free(cache);
}

/* The slot holding the account, or the empty slot where it would go. */
static size_t find(const state_cache *c, uint64_t h, const char *account, size_t len, bool *found) {
    size_t i = (size_t)h & c->mask;
    for (;;) {
        const slot_head *s = slot_at(c, i);
        if (s->len == 0) {
            *found = false;
            return i;
        }
        if (s->hash == h && s->len == len && memcmp(s->account, account, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & c->mask;
    }
}

const void *state_cache_get(const state_cache *cache, int64_t gen, const char *account,
                            size_t len) {
    if (len == 0 || len > LEDGER_ACCOUNT_MAX)
        return NULL;
    bool found;
    size_t i = find(cache, ledger_id_hash(account, len), account, len, &found);
    const slot_head *s = slot_at(cache, i);
    if (!found || s->gen != gen)
        return NULL;
    return (const unsigned char *)s + STATE_OFFSET;
}

void state_cache_put(state_cache *cache, int64_t gen, const char *account, size_t len,
                     const void *state) {
    if (len == 0 || len > LEDGER_ACCOUNT_MAX)
        return;
    uint64_t h = ledger_id_hash(account, len);
    bool found;
    size_t i = find(cache, h, account, len, &found);
    if (!found && cache->count >= cache->limit) {
        state_cache_clear(cache); /* full: start again rather than evict one by one */
        i = find(cache, h, account, len, &found);
    }
    slot_head *s = slot_at(cache, i);
    if (!found) {
        s->hash = h;
        s->len = (uint8_t)len;
        memcpy(s->account, account, len);
        cache->count++;
    }
    s->gen = gen;
    memcpy((unsigned char *)s + STATE_OFFSET, state, cache->state_size);
}

void state_cache_forget(state_cache *cache, const char *account, size_t len) {
    if (len == 0 || len > LEDGER_ACCOUNT_MAX)
        return;
    bool found;
    size_t hole = find(cache, ledger_id_hash(account, len), account, len, &found);
    if (!found)
        return;
    slot_at(cache, hole)->len = 0;
    cache->count--;
    /* Shift back every later entry of the run that may not stay behind the
     * hole: one whose home slot is not in (hole, i]. */
    size_t i = hole;
    for (;;) {
        i = (i + 1) & cache->mask;
        slot_head *s = slot_at(cache, i);
        if (s->len == 0)
            return;
        size_t home = (size_t)s->hash & cache->mask;
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (stays)
            continue;
        memcpy(slot_at(cache, hole), s, cache->stride);
        s->len = 0;
        hole = i;
    }
}

void state_cache_clear(state_cache *cache) {
    if (cache->count == 0)
        return;
    memset(cache->slots, 0, (cache->mask + 1) * cache->stride);
    cache->count = 0;
}

size_t state_cache_count(const state_cache *cache) {
    return cache->count;
}
