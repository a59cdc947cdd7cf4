/*
 * rate_window.c - a ring of (time, total) samples (see rate_window.h).
 */
#include "rate_window.h"

void rate_window_init(rate_window *w) {
    w->count = 0;
    w->next = 0;
}

double rate_window_add(rate_window *w, int64_t now_ms, uint64_t total) {
    w->ms[w->next] = now_ms;
    w->total[w->next] = total;
    w->next = (w->next + 1) % RATE_WINDOW_SAMPLES;
    if (w->count < RATE_WINDOW_SAMPLES)
        w->count++;
    /* Full, the oldest sample is the one the next write replaces. */
    size_t oldest = w->count < RATE_WINDOW_SAMPLES ? 0 : w->next;
    int64_t dt = now_ms - w->ms[oldest];
    if (w->count < 2 || dt <= 0 || total < w->total[oldest])
        return 0;
    return (double)(total - w->total[oldest]) * 1000.0 / (double)dt;
}
