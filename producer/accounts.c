/*
 * accounts.c - the account table: dense entries, linear-probing slots and an
 * id arena (see accounts.h for why this shape).
 *
 * Entries are appended and never removed, so a slot holds an entry index + 1
 * (0 = empty) and growing the slot array only re-inserts indexes, using the
 * hash kept in each entry. The hash is FNV-1a with a final avalanche: not
 * Kafka's murmur2, whose low bits every account of one partition shares
 * (partition = murmur2 % count), which would leave most slots of a
 * power-of-two table unused.
 */
#include "accounts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

typedef struct accounts_entry {
    account_state state;
    uint32_t hash;
    uint32_t key_off; /* arena offset of [len byte][len bytes of id] */
} accounts_entry;

struct producer_accounts {
    accounts_entry *entries;
    size_t count, entries_cap;
    uint32_t *slots;  /* entry index + 1, 0 = empty */
    size_t slots_cap; /* a power of two */
    unsigned char *arena;
    size_t arena_used, arena_cap;
};

#define ACCOUNTS_MIN_SLOTS 64

static uint32_t accounts_hash(const char *id, size_t len) {
    return (uint32_t)ledger_id_hash(id, len);
}

producer_accounts *producer_accounts_new(void) {
    producer_accounts *table = calloc(1, sizeof(*table));
    if (table == NULL)
        return NULL;
    table->slots = calloc(ACCOUNTS_MIN_SLOTS, sizeof(*table->slots));
    if (table->slots == NULL) {
        free(table);
        return NULL;
    }
    table->slots_cap = ACCOUNTS_MIN_SLOTS;
    return table;
}

void producer_accounts_destroy(producer_accounts *table) {
    if (table == NULL)
        return;
    free(table->entries);
    free(table->slots);
    free(table->arena);
    free(table);
}

static const unsigned char *accounts_key(const producer_accounts *table, const accounts_entry *e,
                                         size_t *len) {
    const unsigned char *k = table->arena + e->key_off;
    *len = k[0];
    return k + 1;
}

/* The slot holding `id`, or the empty slot where it would go. */
static size_t accounts_probe(const producer_accounts *table, const char *id, size_t len,
                             uint32_t hash) {
    size_t mask = table->slots_cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t s = table->slots[i];
        if (s == 0)
            return i;
        const accounts_entry *e = &table->entries[s - 1];
        if (e->hash != hash)
            continue;
        size_t klen;
        const unsigned char *k = accounts_key(table, e, &klen);
        if (klen == len && memcmp(k, id, len) == 0)
            return i;
    }
}

account_state *producer_accounts_find(const producer_accounts *table, const char *id, size_t len) {
    if (len == 0 || len > LEDGER_ACCOUNT_MAX)
        return NULL;
    size_t i = accounts_probe(table, id, len, accounts_hash(id, len));
    uint32_t s = table->slots[i];
    return s == 0 ? NULL : &table->entries[s - 1].state;
}

/* Doubles the slot array and re-inserts every entry by its stored hash. */
static int accounts_grow_slots(producer_accounts *table) {
    size_t cap = table->slots_cap * 2;
    uint32_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    size_t mask = cap - 1;
    for (size_t e = 0; e < table->count; e++) {
        size_t i = table->entries[e].hash & mask;
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = (uint32_t)(e + 1);
    }
    free(table->slots);
    table->slots = slots;
    table->slots_cap = cap;
    return 0;
}

/* Makes room for one more entry of an id of `len` bytes. */
static int accounts_reserve(producer_accounts *table, size_t len) {
    if (table->count == table->entries_cap) {
        size_t cap = table->entries_cap ? table->entries_cap * 2 : 64;
        if (cap > UINT32_MAX - 1)
            return -1;
        accounts_entry *entries = realloc(table->entries, cap * sizeof(*entries));
        if (entries == NULL)
            return -1;
        table->entries = entries;
        table->entries_cap = cap;
    }
    if (table->arena_used + 1 + len > table->arena_cap) {
        size_t cap = table->arena_cap ? table->arena_cap * 2 : 1024;
        while (cap < table->arena_used + 1 + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -1;
        unsigned char *arena = realloc(table->arena, cap);
        if (arena == NULL)
            return -1;
        table->arena = arena;
        table->arena_cap = cap;
    }
    /* Load factor at most 3/4. */
    if ((table->count + 1) * 4 > table->slots_cap * 3)
        return accounts_grow_slots(table);
    return 0;
}

account_state *producer_accounts_upsert(producer_accounts *table, const char *id, size_t len) {
    if (len == 0 || len > LEDGER_ACCOUNT_MAX)
        return NULL;
    uint32_t hash = accounts_hash(id, len);
    size_t i = accounts_probe(table, id, len, hash);
    if (table->slots[i] != 0)
        return &table->entries[table->slots[i] - 1].state;
    if (accounts_reserve(table, len) != 0)
        return NULL;
    i = accounts_probe(table, id, len, hash); /* the slot array may have grown */
    accounts_entry *e = &table->entries[table->count];
    account_init(&e->state);
    e->hash = hash;
    e->key_off = (uint32_t)table->arena_used;
    table->arena[table->arena_used] = (unsigned char)len;
    memcpy(table->arena + table->arena_used + 1, id, len);
    table->arena_used += 1 + len;
    table->slots[i] = (uint32_t)(table->count + 1);
    table->count++;
    return &e->state;
}

size_t producer_accounts_count(const producer_accounts *table) {
    return table->count;
}

const account_state *producer_accounts_at(const producer_accounts *table, size_t i, const char **id,
                                          size_t *len) {
    const accounts_entry *e = &table->entries[i];
    *id = (const char *)accounts_key(table, e, len);
    return &e->state;
}

size_t producer_accounts_memory(const producer_accounts *table) {
    return sizeof(*table) + table->entries_cap * sizeof(accounts_entry) +
           table->slots_cap * sizeof(uint32_t) + table->arena_cap;
}
