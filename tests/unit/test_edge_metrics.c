/*
 * test_edge_metrics.c - the metrics registry and its text exposition: HELP
 * and TYPE lines, the constant label, label and help escaping, cumulative
 * histogram buckets with +Inf, _sum and _count, hidden series, readiness,
 * refused registrations, and updates from several threads.
 *
 * Each expected text is built here from the test's own inputs (bucket
 * counts are counted by the test, not read from the output).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The whole rendering of m, NUL-terminated; the caller frees it. */
static char *render(ledger_metrics *m) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    cr_assert_eq(ledger_metrics_render(m, out), 0);
    cr_assert_eq(fclose(out), 0);
    return text;
}

typedef struct {
    char text[8192];
    size_t used;
} expect_buf;

static void expect(expect_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(expect_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->text + b->used, sizeof(b->text) - b->used, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(b->text) - b->used);
    b->used += (size_t)n;
}

static void expect_ready(expect_buf *b, const char *labels, int ready) {
    expect(b, "# HELP ledger_ready 1 when /healthz answers ready, else 0\n");
    expect(b, "# TYPE ledger_ready gauge\n");
    expect(b, "ledger_ready%s %d\n", labels, ready);
}

Test(metrics, counters_and_gauges_render_with_help_type_and_labels) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_metric *handled = ledger_metrics_counter(m, "ledger_producer_commands_total",
                                                    "commands handled, by outcome", "outcome");
    ledger_metric *lag =
        ledger_metrics_gauge(m, "ledger_producer_lag_records", "records behind", "partition");
    ledger_metric *plain =
        ledger_metrics_counter(m, "ledger_producer_rebalances_total", "rebalances seen", NULL);
    cr_assert(handled != NULL && lag != NULL && plain != NULL);

    const double accepted = 7, rejected = 2, lag0 = 12, lag3 = 0;
    ledger_series_add(ledger_metric_series(handled, "accepted"), accepted - 3);
    ledger_series_add(ledger_metric_series(handled, "rejected"), rejected);
    ledger_series_add(ledger_metric_series(handled, "accepted"), 3);
    ledger_series_set(ledger_metric_series_int(lag, 0), 99);
    ledger_series_set(ledger_metric_series_int(lag, 0), lag0);
    ledger_series_add(ledger_metric_series_int(lag, 3), lag3);

    expect_buf b = {0};
    expect(&b, "# HELP ledger_producer_commands_total commands handled, by outcome\n");
    expect(&b, "# TYPE ledger_producer_commands_total counter\n");
    expect(&b, "ledger_producer_commands_total{outcome=\"accepted\"} %g\n", accepted);
    expect(&b, "ledger_producer_commands_total{outcome=\"rejected\"} %g\n", rejected);
    expect(&b, "# HELP ledger_producer_lag_records records behind\n");
    expect(&b, "# TYPE ledger_producer_lag_records gauge\n");
    expect(&b, "ledger_producer_lag_records{partition=\"0\"} %g\n", lag0);
    expect(&b, "ledger_producer_lag_records{partition=\"3\"} %g\n", lag3);
    /* An unlabelled family shows its one series from the start. */
    expect(&b, "# HELP ledger_producer_rebalances_total rebalances seen\n");
    expect(&b, "# TYPE ledger_producer_rebalances_total counter\n");
    expect(&b, "ledger_producer_rebalances_total 0\n");
    expect_ready(&b, "", 0);

    char *text = render(m);
    cr_assert_str_eq(text, b.text);
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, histogram_buckets_are_cumulative_with_inf_sum_and_count) {
    ledger_metrics *m = ledger_metrics_new("view", "balance");
    const double bounds[] = {0.005, 0.025, 0.1, 1};
    const size_t n_bounds = sizeof(bounds) / sizeof(bounds[0]);
    ledger_metric *h = ledger_metrics_histogram(m, "ledger_batch_seconds", "batch latency", NULL,
                                                bounds, n_bounds);
    cr_assert_not_null(h);
    /* On a bound counts in that bucket (le is "less or equal"). */
    const double observed[] = {0.001, 0.005, 0.02, 0.5, 0.5, 3, 0.025, 250};
    const size_t n_observed = sizeof(observed) / sizeof(observed[0]);
    ledger_series *s = ledger_metric_series(h, NULL);
    double sum = 0;
    for (size_t i = 0; i < n_observed; i++) {
        ledger_series_observe(s, observed[i]);
        sum += observed[i];
    }

    expect_buf b = {0};
    expect(&b, "# HELP ledger_batch_seconds batch latency\n");
    expect(&b, "# TYPE ledger_batch_seconds histogram\n");
    for (size_t i = 0; i < n_bounds; i++) {
        size_t at_most = 0;
        for (size_t j = 0; j < n_observed; j++)
            at_most += observed[j] <= bounds[i];
        expect(&b, "ledger_batch_seconds_bucket{view=\"balance\",le=\"%g\"} %zu\n", bounds[i],
               at_most);
    }
    expect(&b, "ledger_batch_seconds_bucket{view=\"balance\",le=\"+Inf\"} %zu\n", n_observed);
    expect(&b, "ledger_batch_seconds_sum{view=\"balance\"} %.17g\n", sum);
    expect(&b, "ledger_batch_seconds_count{view=\"balance\"} %zu\n", n_observed);
    expect_ready(&b, "{view=\"balance\"}", 0);

    char *text = render(m);
    /* The sum is written in its shortest exact form, the expectation with
     * 17 digits: compare that line by value, the rest as text. */
    char *got_sum = strstr(text, "ledger_batch_seconds_sum{view=\"balance\"} ");
    char *want_sum = strstr(b.text, "ledger_batch_seconds_sum{view=\"balance\"} ");
    cr_assert(got_sum != NULL && want_sum != NULL);
    size_t prefix = strlen("ledger_batch_seconds_sum{view=\"balance\"} ");
    cr_assert_eq(strtod(got_sum + prefix, NULL), sum);
    cr_assert_eq(strncmp(text, b.text, (size_t)(got_sum - text)), 0, "%s", text);
    cr_assert_str_eq(strchr(got_sum, '\n'), strchr(want_sum, '\n'));
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, label_values_and_help_are_escaped) {
    const char *const_value = "a\\b";
    const char *reason = "say \"hi\"\nbye";
    ledger_metrics *m = ledger_metrics_new("view", const_value);
    ledger_metric *c =
        ledger_metrics_counter(m, "x_total", "help with \\ and\na newline, \"quotes\" kept", "r");
    ledger_series_add(ledger_metric_series(c, reason), 1);

    expect_buf b = {0};
    expect(&b, "# HELP x_total help with \\\\ and\\na newline, \"quotes\" kept\n");
    expect(&b, "# TYPE x_total counter\n");
    expect(&b, "x_total{view=\"a\\\\b\",r=\"say \\\"hi\\\"\\nbye\"} 1\n");
    expect_ready(&b, "{view=\"a\\\\b\"}", 0);
    char *text = render(m);
    cr_assert_str_eq(text, b.text);
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, numbers_are_written_in_their_shortest_exact_form) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_metric *g = ledger_metrics_gauge(m, "g", "g", "k");
    const struct {
        const char *label;
        double value;
        const char *text;
    } cases[] = {
        {"tenth", 0.1, "0.1"},      {"big", 123456789012.0, "123456789012"},
        {"neg", -2.5, "-2.5"},      {"tiny", 1e-9, "1e-09"},
        {"inf", 1.0 / 0.0, "+Inf"}, {"zero", 0, "0"},
        {"count", 80000, "80000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ledger_series_set(ledger_metric_series(g, cases[i].label), cases[i].value);
    char *text = render(m);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[128];
        snprintf(line, sizeof(line), "\ng{k=\"%s\"} %s\n", cases[i].label, cases[i].text);
        cr_assert(strstr(text, line) != NULL, "no '%s' in:\n%s", line + 1, text);
    }
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, a_hidden_series_leaves_the_output_and_returns_on_update) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_metric *g = ledger_metrics_gauge(m, "lag", "lag", "partition");
    ledger_series *p1 = ledger_metric_series_int(g, 1);
    ledger_series *p2 = ledger_metric_series_int(g, 2);
    ledger_series_set(p1, 5);
    ledger_series_set(p2, 6);
    ledger_series_hide(p1);
    char *text = render(m);
    cr_assert(strstr(text, "lag{partition=\"1\"}") == NULL, "%s", text);
    cr_assert(strstr(text, "\nlag{partition=\"2\"} 6\n") != NULL, "%s", text);
    free(text);
    cr_assert_eq(ledger_metric_series_int(g, 1), p1, "the handle stays the same");
    ledger_series_set(p1, 7);
    text = render(m);
    cr_assert(strstr(text, "\nlag{partition=\"1\"} 7\n") != NULL, "%s", text);
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, readiness_has_a_reason_until_ready) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    char why[64];
    cr_assert_not(ledger_metrics_ready(m, why, sizeof(why)));
    ledger_metrics_set_ready(m, false, "restoring partitions");
    cr_assert_not(ledger_metrics_ready(m, why, sizeof(why)));
    cr_assert_str_eq(why, "restoring partitions");
    ledger_metrics_set_ready(m, true, NULL);
    cr_assert(ledger_metrics_ready(m, why, sizeof(why)));
    char *text = render(m);
    cr_assert(strstr(text, "\nledger_ready 1\n") != NULL, "%s", text);
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, invalid_registrations_are_refused) {
    ledger_metrics *m = ledger_metrics_new("view", "v");
    const double up[] = {1, 2}, down[] = {2, 1};
    cr_assert_null(ledger_metrics_counter(m, "1starts_with_digit_total", "", NULL));
    cr_assert_null(ledger_metrics_counter(m, "no_total_suffix", "", NULL));
    cr_assert_null(ledger_metrics_gauge(m, "has-dash", "", NULL));
    cr_assert_null(ledger_metrics_gauge(m, "ok", "", "__reserved"));
    cr_assert_null(ledger_metrics_gauge(m, "ok", "", "view"), "the constant label's name");
    cr_assert_null(ledger_metrics_histogram(m, "h", "", "le", up, 2));
    cr_assert_null(ledger_metrics_histogram(m, "h", "", NULL, down, 2));
    ledger_metric *first = ledger_metrics_gauge(m, "g", "", NULL);
    cr_assert_not_null(first);
    cr_assert_eq(ledger_metrics_gauge(m, "g", "other help", NULL), first);
    cr_assert_null(ledger_metrics_counter(m, "g", "", NULL), "same name, other type");
    /* A labelled family needs a label value, an unlabelled one refuses one;
     * a NULL series is ignored everywhere. */
    ledger_metric *labelled = ledger_metrics_gauge(m, "l", "", "partition");
    cr_assert_null(ledger_metric_series(labelled, NULL));
    cr_assert_null(ledger_metric_series(first, "x"));
    ledger_series_add(NULL, 1);
    ledger_series_set(NULL, 1);
    ledger_series_observe(NULL, 1);
    ledger_series_hide(NULL);
    cr_assert_eq(ledger_series_value(NULL), 0);
    ledger_metrics_destroy(m);
}

Test(metrics, counters_never_go_down) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_series *c = ledger_metric_series(ledger_metrics_counter(m, "c_total", "", NULL), NULL);
    ledger_series_add(c, 3);
    ledger_series_add(c, -1);
    ledger_series_set(c, 0);
    cr_assert_eq(ledger_series_value(c), 3);
    ledger_metrics_destroy(m);
}

enum { THREADS = 4, ADDS = 20000 };

static void *hammer(void *arg) {
    ledger_metrics *m = arg;
    /* Every thread looks the handles up itself: lookups race with updates. */
    ledger_series *c = ledger_metric_series(ledger_metrics_counter(m, "n_total", "", "k"), "same");
    static const double bounds[] = {1, 2};
    ledger_series *h =
        ledger_metric_series(ledger_metrics_histogram(m, "h", "", NULL, bounds, 2), NULL);
    for (int i = 0; i < ADDS; i++) {
        ledger_series_add(c, 1);
        ledger_series_observe(h, (double)(i % 3));
    }
    return NULL;
}

Test(metrics, updates_from_several_threads_all_count) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, hammer, m), 0);
    for (int i = 0; i < THREADS; i++) {
        char *text = render(m); /* a scrape during the updates */
        free(text);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    ledger_series *c = ledger_metric_series(ledger_metrics_counter(m, "n_total", "", "k"), "same");
    cr_assert_eq(ledger_series_value(c), (double)THREADS * ADDS);
    char *text = render(m);
    char line[64];
    snprintf(line, sizeof(line), "\nh_count %d\n", THREADS * ADDS);
    cr_assert(strstr(text, line) != NULL, "%s", text);
    free(text);
    ledger_metrics_destroy(m);
}

Test(metrics, observe_many_equals_one_observe_each) {
    const double bounds[] = {0.5, 2};
    const double values[] = {0.1, 0.5, 0.7, 3, 1.5, 0.25};
    ledger_metrics *one = ledger_metrics_new(NULL, NULL);
    ledger_metrics *many = ledger_metrics_new(NULL, NULL);
    ledger_series *a =
        ledger_metric_series(ledger_metrics_histogram(one, "h", "", NULL, bounds, 2), NULL);
    ledger_series *b =
        ledger_metric_series(ledger_metrics_histogram(many, "h", "", NULL, bounds, 2), NULL);
    for (size_t i = 0; i < 6; i++)
        ledger_series_observe(a, values[i]);
    ledger_series_observe_many(b, values, 6);
    char *text_one = render(one), *text_many = render(many);
    cr_assert_str_eq(text_many, text_one);
    cr_assert(strstr(text_one, "\nh_count 6\n") != NULL, "%s", text_one);
    free(text_one);
    free(text_many);
    ledger_metrics_destroy(one);
    ledger_metrics_destroy(many);
}
