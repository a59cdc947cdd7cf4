/*
 * dedup_sets.c - the pending ids and the sets of one partition's window
 * (see dedup_sets.h).
 *
 * Pending ids live in one growing buffer as a length byte and the id; sets
 * in an array in creation order, indexed by serial - base: sets are
 * created and emptied in roughly handling order (the window ages from its
 * oldest end), so the front is dropped as it empties and the array stays
 * about as long as the window has sets.
 */
#include "dedup_sets.h"

#include <stdlib.h>
#include <string.h>

typedef struct dedup_set {
    char key[PRODUCER_DEDUP_SET_KEY_MAX + 1];
    uint32_t live; /* entries in the window */
    bool deleted;  /* its record is (or is being) deleted */
} dedup_set;

struct producer_dedup_sets {
    unsigned char *pending;
    size_t pending_len, pending_cap, pending_count;
    dedup_set *sets;
    size_t first, count, cap; /* sets[first .. first + count) hold serials base .. */
    uint32_t base;
};

producer_dedup_sets *producer_dedup_sets_new(void) {
    return calloc(1, sizeof(producer_dedup_sets));
}

void producer_dedup_sets_destroy(producer_dedup_sets *sets) {
    if (sets == NULL)
        return;
    free(sets->pending);
    free(sets->sets);
    free(sets);
}

int producer_dedup_sets_pend(producer_dedup_sets *sets, const char *id, size_t len) {
    if (len == 0 || len > 255)
        return -1;
    if (sets->pending_len + 1 + len > sets->pending_cap) {
        size_t cap = sets->pending_cap > 0 ? sets->pending_cap * 2 : 4096;
        while (cap < sets->pending_len + 1 + len)
            cap *= 2;
        unsigned char *grown = realloc(sets->pending, cap);
        if (grown == NULL)
            return -1;
        sets->pending = grown;
        sets->pending_cap = cap;
    }
    sets->pending[sets->pending_len] = (unsigned char)len;
    memcpy(sets->pending + sets->pending_len + 1, id, len);
    sets->pending_len += 1 + len;
    sets->pending_count++;
    return 0;
}

size_t producer_dedup_sets_pending(const producer_dedup_sets *sets) {
    return sets->pending_count;
}

bool producer_dedup_sets_next(const producer_dedup_sets *sets, size_t *cursor, const char **id,
                              size_t *len) {
    if (*cursor >= sets->pending_len)
        return false;
    *len = sets->pending[*cursor];
    *id = (const char *)sets->pending + *cursor + 1;
    *cursor += 1 + *len;
    return true;
}

void producer_dedup_sets_clear_pending(producer_dedup_sets *sets) {
    sets->pending_len = 0;
    sets->pending_count = 0;
}

void producer_dedup_sets_drop_pending(producer_dedup_sets *sets, size_t cursor) {
    if (cursor >= sets->pending_len) {
        producer_dedup_sets_clear_pending(sets);
        return;
    }
    memmove(sets->pending, sets->pending + cursor, sets->pending_len - cursor);
    sets->pending_len -= cursor;
    sets->pending_count = 0;
    for (size_t at = 0; at < sets->pending_len; at += 1 + sets->pending[at])
        sets->pending_count++;
}

/* Drops emptied sets from the front. */
static void sets_trim(producer_dedup_sets *sets) {
    while (sets->count > 0 && sets->sets[sets->first].live == 0 &&
           sets->sets[sets->first].deleted) {
        sets->first++;
        sets->count--;
        sets->base++;
    }
    if (sets->count == 0)
        sets->first = 0;
}

int producer_dedup_sets_add(producer_dedup_sets *sets, const char *key, size_t len, uint32_t *tag) {
    if (len == 0 || len > PRODUCER_DEDUP_SET_KEY_MAX)
        return -1;
    if (sets->first + sets->count == sets->cap) {
        if (sets->first > 0) { /* slide the live ones to the front */
            memmove(sets->sets, sets->sets + sets->first, sets->count * sizeof(*sets->sets));
            sets->first = 0;
        }
        if (sets->count == sets->cap) {
            size_t cap = sets->cap > 0 ? sets->cap * 2 : 64;
            dedup_set *grown = realloc(sets->sets, cap * sizeof(*grown));
            if (grown == NULL)
                return -1;
            sets->sets = grown;
            sets->cap = cap;
        }
    }
    dedup_set *s = &sets->sets[sets->first + sets->count];
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->live = 0;
    s->deleted = false;
    *tag = PRODUCER_DEDUP_TAG_SET0 + sets->base + (uint32_t)sets->count;
    sets->count++;
    return 0;
}

/* The set of a tag, or NULL when it is gone (or the tag names none). */
static dedup_set *sets_of(producer_dedup_sets *sets, uint32_t tag) {
    if (tag < PRODUCER_DEDUP_TAG_SET0)
        return NULL;
    uint32_t i = tag - PRODUCER_DEDUP_TAG_SET0 - sets->base;
    return i < sets->count ? &sets->sets[sets->first + i] : NULL;
}

void producer_dedup_sets_join(producer_dedup_sets *sets, uint32_t tag) {
    dedup_set *s = sets_of(sets, tag);
    if (s != NULL)
        s->live++;
}

const char *producer_dedup_sets_leave(producer_dedup_sets *sets, uint32_t tag) {
    dedup_set *s = sets_of(sets, tag);
    if (s == NULL || s->live == 0)
        return NULL;
    s->live--;
    if (s->live > 0 || s->deleted)
        return NULL;
    s->deleted = true;
    return s->key; /* valid until producer_dedup_sets_trim */
}

void producer_dedup_sets_deleted(producer_dedup_sets *sets, const char *key, size_t len) {
    for (size_t i = 0; i < sets->count; i++) {
        dedup_set *s = &sets->sets[sets->first + i];
        if (!s->deleted && strlen(s->key) == len && memcmp(s->key, key, len) == 0) {
            s->deleted = true;
            return;
        }
    }
}

size_t producer_dedup_sets_count(const producer_dedup_sets *sets) {
    return sets->count;
}

void producer_dedup_sets_trim(producer_dedup_sets *sets) {
    sets_trim(sets);
}
