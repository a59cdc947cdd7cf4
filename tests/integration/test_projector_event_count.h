/*
 * test_projector_event_count.h - "event_count", a view that exists only in
 * the tests: it proves that a view is one file written against view.h, run
 * by the same runtime (projector_run) without touching projectors/.
 *
 * Per account it keeps `<ns>:event_count:g<gen>:{A}:stats` field <label>
 * (setting --label, default "events") = the number of the account's events
 * applied, and view-wide `<ns>:event_count:g<gen>:total`. It is
 * deliberately NOT idempotent (it adds the batch's event count without
 * looking at seqs), so any record the runtime applied twice or skipped
 * shows as a count that differs from the account's last seq.
 */
#ifndef LEDGER_TEST_PROJECTOR_EVENT_COUNT_H
#define LEDGER_TEST_PROJECTOR_EVENT_COUNT_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "test_projector_harness.h"
#include "view.h"

extern const projector_view event_count_view;

/* projector_run(&event_count_view, argc, argv): for pt_start_function. */
int pt_run_event_count(int argc, char **argv);

/* Asserts that every account's count (label "events") equals its number of
 * events, and the total equals their sum (generation 1). */
void pt_assert_event_count_view(const pt_workload *w, redisContext *c);

#endif
