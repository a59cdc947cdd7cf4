/*
 * submit_window.c - a ring of slots and a linear-probing hash table of the
 * pending ones.
 *
 * The table holds ring indexes of PENDING slots only, so it is never more
 * than half full (its size is a power of two at least twice the capacity)
 * and a probe always ends at an empty cell. Entries leave it when their
 * slot is resolved, failed or popped, by backward-shift deletion (Knuth's
 * algorithm R), which keeps probe chains short without tombstones.
 */
#include "submit_window.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#define EMPTY_CELL (-1)

typedef struct window_slot {
    submit_slot pub;
    uint32_t hash; /* of pub.id, while PENDING */
} window_slot;

struct submit_window {
    window_slot *slots;
    size_t capacity;
    size_t head; /* ring index of the oldest slot */
    size_t count;
    size_t pending; /* slots in state PENDING */
    uint64_t next_seq;
    int32_t *table; /* ring indexes, or EMPTY_CELL */
    size_t mask;    /* table size - 1 */
};

static uint32_t id_hash(const char *s) {
    return (uint32_t)ledger_id_hash(s, strlen(s));
}

submit_window *submit_window_new(size_t capacity) {
    if (capacity < 1 || capacity > INT32_MAX / 4)
        return NULL;
    submit_window *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    size_t size = 2;
    while (size < capacity * 2)
        size *= 2;
    w->capacity = capacity;
    w->mask = size - 1;
    w->slots = calloc(capacity, sizeof(*w->slots));
    w->table = malloc(size * sizeof(*w->table));
    if (w->slots == NULL || w->table == NULL) {
        submit_window_destroy(w);
        return NULL;
    }
    for (size_t i = 0; i < size; i++)
        w->table[i] = EMPTY_CELL;
    return w;
}

void submit_window_destroy(submit_window *w) {
    if (w == NULL)
        return;
    free(w->slots);
    free(w->table);
    free(w);
}

size_t submit_window_count(const submit_window *w) {
    return w->count;
}

size_t submit_window_pending(const submit_window *w) {
    return w->pending;
}

bool submit_window_full(const submit_window *w) {
    return w->count == w->capacity;
}

static window_slot *append(submit_window *w, uint64_t line) {
    size_t index = (w->head + w->count) % w->capacity;
    window_slot *s = &w->slots[index];
    /* The result (or the error) is written when it comes. */
    memset(&s->pub, 0, offsetof(submit_slot, result));
    s->pub.seq = w->next_seq++;
    s->pub.line = line;
    w->count++;
    return s;
}

static void table_insert(submit_window *w, size_t ring_index) {
    size_t i = w->slots[ring_index].hash & w->mask;
    while (w->table[i] != EMPTY_CELL)
        i = (i + 1) & w->mask;
    w->table[i] = (int32_t)ring_index;
}

/* Removes the cell holding ring_index (it must be there). */
static void table_remove(submit_window *w, size_t ring_index) {
    size_t i = w->slots[ring_index].hash & w->mask;
    while (w->table[i] != (int32_t)ring_index)
        i = (i + 1) & w->mask;
    w->table[i] = EMPTY_CELL;
    size_t j = i;
    for (;;) {
        j = (j + 1) & w->mask;
        if (w->table[j] == EMPTY_CELL)
            return;
        size_t k = w->slots[w->table[j]].hash & w->mask; /* the entry's home cell */
        /* It stays when its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        w->table[i] = w->table[j];
        w->table[j] = EMPTY_CELL;
        i = j;
    }
}

uint64_t submit_window_add_pending(submit_window *w, uint64_t line, const char *id,
                                   int64_t sent_ms) {
    window_slot *s = append(w, line);
    s->pub.state = SUBMIT_SLOT_PENDING;
    s->pub.sent_ms = sent_ms;
    s->pub.has_id = true;
    s->pub.id_len = strnlen(id, sizeof(s->pub.id) - 1);
    memcpy(s->pub.id, id, s->pub.id_len);
    s->pub.id[s->pub.id_len] = '\0';
    s->hash = id_hash(s->pub.id);
    table_insert(w, (size_t)(s - w->slots));
    w->pending++;
    return s->pub.seq;
}

uint64_t submit_window_add_refused(submit_window *w, uint64_t line, const char *id, size_t id_len,
                                   ledger_reason reason, const char *error) {
    window_slot *s = append(w, line);
    s->pub.state = SUBMIT_SLOT_REFUSED;
    s->pub.reason = reason;
    if (id != NULL) {
        s->pub.has_id = true;
        s->pub.id_len = id_len < sizeof(s->pub.id) - 1 ? id_len : sizeof(s->pub.id) - 1;
        memcpy(s->pub.id, id, s->pub.id_len);
        s->pub.id[s->pub.id_len] = '\0';
    }
    snprintf(s->pub.error, sizeof(s->pub.error), "%s", error != NULL ? error : "");
    return s->pub.seq;
}

/* Leaves PENDING: out of the table. */
static void settle(submit_window *w, window_slot *s, submit_slot_state state) {
    table_remove(w, (size_t)(s - w->slots));
    s->pub.state = state;
    w->pending--;
}

bool submit_window_resolve(submit_window *w, const ledger_result *result) {
    size_t len = strnlen(result->command_id, sizeof(result->command_id));
    if (len >= sizeof(result->command_id))
        return false; /* not terminated: not an id we sent */
    uint32_t hash = id_hash(result->command_id);
    window_slot *oldest = NULL;
    for (size_t i = hash & w->mask; w->table[i] != EMPTY_CELL; i = (i + 1) & w->mask) {
        window_slot *s = &w->slots[w->table[i]];
        if (s->hash == hash && s->pub.id_len == len &&
            memcmp(s->pub.id, result->command_id, len) == 0 &&
            (oldest == NULL || s->pub.seq < oldest->pub.seq))
            oldest = s;
    }
    if (oldest == NULL)
        return false;
    oldest->pub.result = *result;
    settle(w, oldest, SUBMIT_SLOT_DONE);
    return true;
}

bool submit_window_fail(submit_window *w, uint64_t seq, const char *error) {
    if (w->count == 0)
        return false;
    uint64_t first = w->slots[w->head].pub.seq;
    if (seq < first || seq - first >= w->count)
        return false;
    window_slot *s = &w->slots[(w->head + (size_t)(seq - first)) % w->capacity];
    if (s->pub.state != SUBMIT_SLOT_PENDING)
        return false;
    snprintf(s->pub.error, sizeof(s->pub.error), "%s", error != NULL ? error : "");
    settle(w, s, SUBMIT_SLOT_FAILED);
    return true;
}

const submit_slot *submit_window_head(const submit_window *w) {
    return w->count > 0 ? &w->slots[w->head].pub : NULL;
}

const submit_slot *submit_window_at(const submit_window *w, size_t i) {
    return &w->slots[(w->head + i) % w->capacity].pub;
}

void submit_window_pop(submit_window *w) {
    if (w->count == 0)
        return;
    window_slot *s = &w->slots[w->head];
    if (s->pub.state == SUBMIT_SLOT_PENDING) {
        table_remove(w, w->head);
        w->pending--;
    }
    w->head = (w->head + 1) % w->capacity;
    w->count--;
}
