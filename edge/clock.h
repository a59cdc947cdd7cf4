/*
 * clock.h - the monotonic clock in milliseconds, for deadlines, backoffs
 * and rates at the edges (the pure core reads no clock: callers pass it
 * the time).
 */
#ifndef LEDGER_CLOCK_H
#define LEDGER_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
int64_t ledger_mono_ms(void);

#endif
