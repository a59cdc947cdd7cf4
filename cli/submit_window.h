/*
 * submit_window.h - the in-flight commands of `ledger submit`, in input
 * order, with their results matched by command id.
 *
 * Results come back in any order (partitions are independent), but submit
 * prints them in input order. The window is a ring of `capacity` slots, one
 * per input line still to be printed, plus an open-addressing hash table
 * from command id to pending slots; both are allocated once, at creation,
 * so memory stays bounded for endless input and nothing is allocated per
 * command. The caller adds a slot per line (stops reading input while the
 * window is full), resolves results as they arrive, and prints and pops
 * the head while it is ready.
 *
 * Two lines may carry the same command id (a resubmission): a result then
 * resolves the oldest pending one, which is the order the producer handles
 * them in, since equal ids share a result partition.
 */
#ifndef LEDGER_SUBMIT_WINDOW_H
#define LEDGER_SUBMIT_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "reason.h"
#include "result.h"

typedef enum submit_slot_state {
    SUBMIT_SLOT_PENDING = 0, /* sent, no result yet */
    SUBMIT_SLOT_DONE,        /* its result arrived: `result` */
    SUBMIT_SLOT_REFUSED,     /* refused before sending: `reason`, `error` */
    SUBMIT_SLOT_FAILED,      /* could not be sent: `error` */
} submit_slot_state;

/* One input line. Owned by the window; read it, do not keep it past
 * submit_window_pop. */
typedef struct submit_slot {
    uint64_t seq;  /* 0, 1, 2, ... in input order */
    uint64_t line; /* the input line number, for messages */
    submit_slot_state state;
    int64_t sent_ms; /* monotonic time it was sent (PENDING) */
    bool has_id;     /* REFUSED lines may have no readable id */
    size_t id_len;
    char id[LEDGER_COMMAND_ID_BUF + 64];
    ledger_reason reason;     /* REFUSED */
    union {                   /* a slot holds one or the other: about 900 bytes a slot */
        char error[320];      /* REFUSED, FAILED */
        ledger_result result; /* DONE */
    };
} submit_slot;

typedef struct submit_window submit_window;

/* A window of `capacity` slots (>= 1). Returns NULL when memory runs out. */
submit_window *submit_window_new(size_t capacity);

/* Frees the window. Accepts NULL. */
void submit_window_destroy(submit_window *w);

/* Slots in the window; of them, PENDING ones. */
size_t submit_window_count(const submit_window *w);
size_t submit_window_pending(const submit_window *w);
bool submit_window_full(const submit_window *w);

/* Appends a sent command (id: a valid command id, NUL-terminated) as
 * PENDING. The window must not be full. Returns its seq. */
uint64_t submit_window_add_pending(submit_window *w, uint64_t line, const char *id,
                                   int64_t sent_ms);

/* Appends a line refused before sending, with the id as the input gave it
 * (NULL: none) and why. The window must not be full. Returns its seq. */
uint64_t submit_window_add_refused(submit_window *w, uint64_t line, const char *id, size_t id_len,
                                   ledger_reason reason, const char *error);

/* Matches a result to the oldest PENDING slot with its command id and makes
 * it DONE. Returns true when it matched (false: someone else's result, or
 * a second answer to one of ours). */
bool submit_window_resolve(submit_window *w, const ledger_result *result);

/* Marks slot `seq` FAILED with `error` if it is still PENDING (a delivery
 * failure). Returns true when it did. */
bool submit_window_fail(submit_window *w, uint64_t seq, const char *error);

/* The oldest slot, or NULL when the window is empty. */
const submit_slot *submit_window_head(const submit_window *w);

/* The i-th oldest slot (i < count). */
const submit_slot *submit_window_at(const submit_window *w, size_t i);

/* Drops the oldest slot. */
void submit_window_pop(submit_window *w);

#endif
