/*
 * rate_window.h - events per second over a sliding window of samples, for
 * the progress of long work (projector_ops.h): a time left computed from
 * the whole run would stay optimistic while a catch-up slows down as it
 * meets live traffic, so the rate is the last few seconds'.
 *
 * A small caller-allocated value; no I/O, no clock of its own (the caller
 * passes the time), so it is tested without waiting.
 */
#ifndef LEDGER_RATE_WINDOW_H
#define LEDGER_RATE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

/* Samples kept: with one a second, the rate over the last 10 seconds. */
#define RATE_WINDOW_SAMPLES 11

typedef struct rate_window {
    int64_t ms[RATE_WINDOW_SAMPLES];
    uint64_t total[RATE_WINDOW_SAMPLES];
    size_t count; /* samples held, up to RATE_WINDOW_SAMPLES */
    size_t next;  /* where the next sample goes */
} rate_window;

void rate_window_init(rate_window *w);

/* Adds a sample - at now_ms (any monotonic clock), `total` events done so
 * far (never decreasing) - and returns the events per second between the
 * oldest sample kept and this one: 0 with a single sample or when no time
 * passed. */
double rate_window_add(rate_window *w, int64_t now_ms, uint64_t total);

#endif
