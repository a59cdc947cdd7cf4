/*
 * metrics.h - a process's Prometheus metrics: counters, gauges and
 * histograms, rendered in the text exposition format (version 0.0.4), plus
 * the readiness that /healthz reports.
 *
 * A program creates one registry at start, registers its families (a name,
 * a help line, and at most one label name such as "partition" or "reason"),
 * and keeps the series handles it updates. Every series of the registry also
 * carries the registry's constant labels (e.g. view="balance"). Updates are
 * cheap and thread-safe (a service updates once per batch, not per event);
 * rendering may run on the HTTP thread at any time and sees each series at
 * some recent value.
 *
 *     ledger_metrics *m = ledger_metrics_new("view", "balance");
 *     ledger_metric *applied = ledger_metrics_counter(m, "ledger_projector_events_applied_total",
 *                                                     "events applied to Redis", NULL);
 *     ledger_series *all = ledger_metric_series(applied, NULL);
 *     ledger_series_add(all, 512);
 *
 * Ownership: the registry owns every family and series it hands out; they
 * stay valid until ledger_metrics_destroy, which must run after the HTTP
 * server using the registry has been stopped.
 */
#ifndef LEDGER_METRICS_H
#define LEDGER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ledger_metrics ledger_metrics;
typedef struct ledger_metric ledger_metric;
typedef struct ledger_series ledger_series;

/* A registry whose series all carry const_label_name="const_label_value"
 * (both NULL for none; copied). Not ready until ledger_metrics_set_ready.
 * Returns NULL when out of memory. */
ledger_metrics *ledger_metrics_new(const char *const_label_name, const char *const_label_value);
void ledger_metrics_destroy(ledger_metrics *m);

/* Registers a family. name must be a valid Prometheus metric name (counters
 * end in _total), label_name NULL or a valid label name; both are copied.
 * Registering the same name twice returns the first family (NULL when the
 * types differ). NULL when out of memory or when the name is invalid (a
 * programming error, also logged). */
ledger_metric *ledger_metrics_counter(ledger_metrics *m, const char *name, const char *help,
                                      const char *label_name);
ledger_metric *ledger_metrics_gauge(ledger_metrics *m, const char *name, const char *help,
                                    const char *label_name);
/* bounds: n_bounds strictly increasing upper bounds (the +Inf bucket is
 * implicit), copied. Latencies are in seconds, as Prometheus expects. */
ledger_metric *ledger_metrics_histogram(ledger_metrics *m, const char *name, const char *help,
                                        const char *label_name, const double *bounds,
                                        size_t n_bounds);

/* The series of the family for label_value (NULL when the family has no
 * label), created at 0 on first use; the same handle on every later call.
 * Look handles up outside hot loops (the lookup is linear). NULL when out
 * of memory, or when label_value is NULL for a family with a label (or not
 * NULL for one without). A family without a label shows its one series
 * from registration on. */
ledger_series *ledger_metric_series(ledger_metric *metric, const char *label_value);
/* Convenience for the integer labels that partitions are. */
ledger_series *ledger_metric_series_int(ledger_metric *metric, long label_value);

/* Counters: add (v >= 0; anything else is ignored). Gauges: set or add.
 * Histograms: observe (v <= a bound counts in that bucket). A call of the
 * wrong kind, or on a NULL series, is ignored, so a failed lookup never
 * crashes the data path. */
void ledger_series_add(ledger_series *s, double v);
void ledger_series_set(ledger_series *s, double v);
void ledger_series_observe(ledger_series *s, double v);
/* n observations under one lock: for a batch's per-record values. */
void ledger_series_observe_many(ledger_series *s, const double *v, size_t n);
/* Removes a series from the output (a partition this process lost); the
 * handle stays valid and reappears on its next update. */
void ledger_series_hide(ledger_series *s);
double ledger_series_value(const ledger_series *s);

/* Readiness for /healthz: ready, or not with a short reason ("restoring
 * partitions", "waiting for an assignment"); why is copied. Also exported
 * as the gauge ledger_ready. */
void ledger_metrics_set_ready(ledger_metrics *m, bool ready, const char *why);
/* Copies the reason into why (when not ready) and returns readiness. */
bool ledger_metrics_ready(ledger_metrics *m, char *why, size_t why_size);

/* Writes the whole registry in the text exposition format: a # HELP and a
 * # TYPE line per family, families in registration order. Returns 0, or -1
 * on a write error. */
int ledger_metrics_render(ledger_metrics *m, FILE *out);

#endif
