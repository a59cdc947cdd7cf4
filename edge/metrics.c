/*
 * metrics.c - the registry behind metrics.h and its text exposition.
 *
 * One mutex per registry guards everything: the families, their series and
 * the readiness. Services update once per batch and Prometheus scrapes every
 * few seconds, so the lock is almost never contended; a lock-free scheme
 * would buy nothing measurable and would make a histogram's buckets, sum and
 * count disagree within one scrape, which a scraper is entitled to reject.
 *
 * Families and series are singly linked lists appended at the tail, so the
 * output keeps registration and first-use order (partitions appear in the
 * order they were assigned) and a handle, once given out, never moves.
 * Lookups are linear: they run at registration and on a partition's
 * assignment, never per event (metrics.h says so to callers).
 *
 * Numbers are written as integers when they are (counts), else in the
 * shortest form that reads back as the same double ("0.005", not
 * "0.0050000000000000001"), so a bucket's le label is the bound the program
 * gave.
 */
#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef enum metric_type {
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
} metric_type;

struct ledger_series {
    ledger_metric *family;
    char *label_value; /* NULL in a family without a label */
    double value;      /* counter or gauge; the sum of a histogram */
    uint64_t count;    /* histogram observations */
    uint64_t *buckets; /* histogram: per bound, not cumulative (made so when rendered) */
    bool hidden;
    ledger_series *next;
};

struct ledger_metric {
    ledger_metrics *registry;
    metric_type type;
    char *name;
    char *help;
    char *label_name; /* NULL for none */
    double *bounds;
    size_t n_bounds;
    ledger_series *series, *series_tail;
    ledger_metric *next;
};

struct ledger_metrics {
    pthread_mutex_t lock;
    char *const_name, *const_value;
    ledger_metric *families, *families_tail;
    bool ready;
    char why[128];
};

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* ---- registry ---- */

static char *dup_or_null(const char *s, bool *failed) {
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        *failed = true;
    return copy;
}

ledger_metrics *ledger_metrics_new(const char *const_label_name, const char *const_label_value) {
    ledger_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    bool failed = false;
    if (const_label_name != NULL && const_label_value != NULL) {
        m->const_name = dup_or_null(const_label_name, &failed);
        m->const_value = dup_or_null(const_label_value, &failed);
    }
    snprintf(m->why, sizeof(m->why), "starting");
    if (failed) {
        ledger_metrics_destroy(m);
        return NULL;
    }
    return m;
}

static void series_free(ledger_series *s) {
    free(s->label_value);
    free(s->buckets);
    free(s);
}

static void metric_free(ledger_metric *f) {
    ledger_series *s = f->series;
    while (s != NULL) {
        ledger_series *next = s->next;
        series_free(s);
        s = next;
    }
    free(f->name);
    free(f->help);
    free(f->label_name);
    free(f->bounds);
    free(f);
}

void ledger_metrics_destroy(ledger_metrics *m) {
    if (m == NULL)
        return;
    ledger_metric *f = m->families;
    while (f != NULL) {
        ledger_metric *next = f->next;
        metric_free(f);
        f = next;
    }
    free(m->const_name);
    free(m->const_value);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; without ':' for labels. */
static bool valid_name(const char *name, bool colon_ok) {
    if (name == NULL || name[0] == '\0' || isdigit((unsigned char)name[0]))
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isascii(c) && (isalnum(c) || c == '_' || (colon_ok && c == ':'))))
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Why a registration is refused, or NULL when it is fine. */
static const char *registration_error(ledger_metrics *m, metric_type type, const char *name,
                                      const char *label_name, const double *bounds,
                                      size_t n_bounds) {
    if (!valid_name(name, true))
        return "invalid metric name";
    if (type == METRIC_COUNTER && !ends_with(name, "_total"))
        return "a counter's name must end in _total";
    if (label_name != NULL) {
        if (!valid_name(label_name, false) || strncmp(label_name, "__", 2) == 0)
            return "invalid label name";
        if (m->const_name != NULL && strcmp(label_name, m->const_name) == 0)
            return "the label name is the registry's constant label";
        if (type == METRIC_HISTOGRAM && strcmp(label_name, "le") == 0)
            return "a histogram cannot have a label named le";
    }
    if (type == METRIC_HISTOGRAM) {
        if (n_bounds > 0 && bounds == NULL)
            return "histogram bounds missing";
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return "histogram bounds must be finite and strictly increasing";
        }
    }
    return NULL;
}

static ledger_series *series_new(ledger_metric *f, const char *label_value) {
    ledger_series *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->family = f;
    if (label_value != NULL) {
        s->label_value = strdup(label_value);
        if (s->label_value == NULL)
            goto fail;
    }
    if (f->type == METRIC_HISTOGRAM) {
        s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets));
        if (s->buckets == NULL)
            goto fail;
    }
    if (f->series_tail != NULL)
        f->series_tail->next = s;
    else
        f->series = s;
    f->series_tail = s;
    return s;
fail:
    series_free(s);
    return NULL;
}

static ledger_metric *register_family(ledger_metrics *m, metric_type type, const char *name,
                                      const char *help, const char *label_name,
                                      const double *bounds, size_t n_bounds) {
    if (m == NULL)
        return NULL;
    const char *error = registration_error(m, type, name, label_name, bounds, n_bounds);
    if (error != NULL) {
        LOG_ERROR("metric '%s' not registered: %s", name != NULL ? name : "(null)", error);
        return NULL;
    }
    ledger_metric *f = NULL;
    pthread_mutex_lock(&m->lock);
    for (ledger_metric *it = m->families; it != NULL; it = it->next) {
        if (strcmp(it->name, name) == 0) {
            f = it->type == type ? it : NULL;
            if (f == NULL)
                LOG_ERROR("metric '%s' not registered: already a %s", name, type_names[it->type]);
            goto done;
        }
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto done;
    bool failed = false;
    f->registry = m;
    f->type = type;
    f->name = dup_or_null(name, &failed);
    f->help = dup_or_null(help != NULL ? help : "", &failed);
    f->label_name = dup_or_null(label_name, &failed);
    if (type == METRIC_HISTOGRAM && n_bounds > 0) {
        f->bounds = malloc(n_bounds * sizeof(*f->bounds));
        if (f->bounds == NULL)
            failed = true;
        else
            memcpy(f->bounds, bounds, n_bounds * sizeof(*f->bounds));
        f->n_bounds = n_bounds;
    }
    /* A family without a label has exactly one series: create it now so the
     * output shows it at 0 from the first scrape. */
    if (!failed && label_name == NULL && series_new(f, NULL) == NULL)
        failed = true;
    if (failed) {
        metric_free(f);
        f = NULL;
        goto done;
    }
    if (m->families_tail != NULL)
        m->families_tail->next = f;
    else
        m->families = f;
    m->families_tail = f;
done:
    pthread_mutex_unlock(&m->lock);
    return f;
}

ledger_metric *ledger_metrics_counter(ledger_metrics *m, const char *name, const char *help,
                                      const char *label_name) {
    return register_family(m, METRIC_COUNTER, name, help, label_name, NULL, 0);
}

ledger_metric *ledger_metrics_gauge(ledger_metrics *m, const char *name, const char *help,
                                    const char *label_name) {
    return register_family(m, METRIC_GAUGE, name, help, label_name, NULL, 0);
}

ledger_metric *ledger_metrics_histogram(ledger_metrics *m, const char *name, const char *help,
                                        const char *label_name, const double *bounds,
                                        size_t n_bounds) {
    return register_family(m, METRIC_HISTOGRAM, name, help, label_name, bounds, n_bounds);
}

ledger_series *ledger_metric_series(ledger_metric *metric, const char *label_value) {
    if (metric == NULL)
        return NULL;
    /* A labelled family needs a value, an unlabelled one takes none. */
    if ((metric->label_name == NULL) != (label_value == NULL))
        return NULL;
    ledger_metrics *m = metric->registry;
    pthread_mutex_lock(&m->lock);
    ledger_series *s = metric->series;
    while (s != NULL && !(label_value == NULL
                              ? s->label_value == NULL
                              : s->label_value != NULL && strcmp(s->label_value, label_value) == 0))
        s = s->next;
    if (s == NULL)
        s = series_new(metric, label_value);
    pthread_mutex_unlock(&m->lock);
    return s;
}

ledger_series *ledger_metric_series_int(ledger_metric *metric, long label_value) {
    char text[24];
    snprintf(text, sizeof(text), "%ld", label_value);
    return ledger_metric_series(metric, text);
}

/* ---- updates ---- */

void ledger_series_add(ledger_series *s, double v) {
    if (s == NULL || s->family->type == METRIC_HISTOGRAM)
        return;
    /* A counter only goes up: a negative or NaN increment is a caller's bug,
     * and applying it would make Prometheus see a reset. */
    if (s->family->type == METRIC_COUNTER && !(v >= 0))
        return;
    pthread_mutex_t *lock = &s->family->registry->lock;
    pthread_mutex_lock(lock);
    s->value += v;
    s->hidden = false;
    pthread_mutex_unlock(lock);
}

void ledger_series_set(ledger_series *s, double v) {
    if (s == NULL || s->family->type != METRIC_GAUGE)
        return;
    pthread_mutex_t *lock = &s->family->registry->lock;
    pthread_mutex_lock(lock);
    s->value = v;
    s->hidden = false;
    pthread_mutex_unlock(lock);
}

/* Adds one observation; the caller holds the registry's lock. */
static void observe_locked(ledger_series *s, double v) {
    if (isnan(v))
        return;
    const ledger_metric *f = s->family;
    /* The first bound that holds v; n_bounds is the +Inf bucket. */
    size_t i = 0;
    while (i < f->n_bounds && v > f->bounds[i])
        i++;
    s->buckets[i]++;
    s->count++;
    s->value += v;
    s->hidden = false;
}

void ledger_series_observe(ledger_series *s, double v) {
    ledger_series_observe_many(s, &v, 1);
}

void ledger_series_observe_many(ledger_series *s, const double *v, size_t n) {
    if (s == NULL || s->family->type != METRIC_HISTOGRAM || n == 0)
        return;
    pthread_mutex_t *lock = &s->family->registry->lock;
    pthread_mutex_lock(lock);
    for (size_t k = 0; k < n; k++)
        observe_locked(s, v[k]);
    pthread_mutex_unlock(lock);
}

void ledger_series_hide(ledger_series *s) {
    if (s == NULL)
        return;
    pthread_mutex_t *lock = &s->family->registry->lock;
    pthread_mutex_lock(lock);
    s->hidden = true;
    pthread_mutex_unlock(lock);
}

double ledger_series_value(const ledger_series *s) {
    if (s == NULL)
        return 0;
    pthread_mutex_t *lock = &s->family->registry->lock;
    pthread_mutex_lock(lock);
    double v = s->value;
    pthread_mutex_unlock(lock);
    return v;
}

/* ---- readiness ---- */

void ledger_metrics_set_ready(ledger_metrics *m, bool ready, const char *why) {
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->ready = ready;
    snprintf(m->why, sizeof(m->why), "%s", ready || why == NULL ? "" : why);
    pthread_mutex_unlock(&m->lock);
}

bool ledger_metrics_ready(ledger_metrics *m, char *why, size_t why_size) {
    if (m == NULL)
        return false;
    pthread_mutex_lock(&m->lock);
    bool ready = m->ready;
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s", ready ? "" : m->why);
    pthread_mutex_unlock(&m->lock);
    return ready;
}

/* ---- rendering ---- */

/* The shortest text that reads back as v, in the exposition's spelling of
 * the non-finite values. */
static void format_number(char *buf, size_t size, double v) {
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Counts as integers ("80000", not the shorter "8e+04"): what people
     * read in a scrape, and exact below 2^53. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A label value: backslash, double quote and newline escaped. */
static void write_label_value(FILE *out, const char *v) {
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '"')
            fputs("\\\"", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

/* A HELP text: backslash and newline escaped (quotes are fine there). */
static void write_help(FILE *out, const char *help) {
    for (const char *p = help; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

/* name{const="..",label="..",le=".."} value\n; suffix is "_bucket" etc. */
static void write_sample(FILE *out, const ledger_metrics *m, const ledger_metric *f,
                         const ledger_series *s, const char *suffix, const char *le, double v) {
    fputs(f->name, out);
    fputs(suffix, out);
    bool any = m->const_name != NULL || s->label_value != NULL || le != NULL;
    const char *sep = "";
    if (any)
        fputc('{', out);
    if (m->const_name != NULL) {
        fprintf(out, "%s=\"", m->const_name);
        write_label_value(out, m->const_value);
        fputc('"', out);
        sep = ",";
    }
    if (s->label_value != NULL) {
        fprintf(out, "%s%s=\"", sep, f->label_name);
        write_label_value(out, s->label_value);
        fputc('"', out);
        sep = ",";
    }
    if (le != NULL)
        fprintf(out, "%sle=\"%s\"", sep, le);
    if (any)
        fputc('}', out);
    char number[32];
    format_number(number, sizeof(number), v);
    fprintf(out, " %s\n", number);
}

static void write_family(FILE *out, const ledger_metrics *m, const ledger_metric *f) {
    fprintf(out, "# HELP %s ", f->name);
    write_help(out, f->help);
    fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (const ledger_series *s = f->series; s != NULL; s = s->next) {
        if (s->hidden)
            continue;
        if (f->type != METRIC_HISTOGRAM) {
            write_sample(out, m, f, s, "", NULL, s->value);
            continue;
        }
        uint64_t cumulative = 0;
        char le[32];
        for (size_t i = 0; i < f->n_bounds; i++) {
            cumulative += s->buckets[i];
            format_number(le, sizeof(le), f->bounds[i]);
            write_sample(out, m, f, s, "_bucket", le, (double)cumulative);
        }
        write_sample(out, m, f, s, "_bucket", "+Inf", (double)s->count);
        write_sample(out, m, f, s, "_sum", NULL, s->value);
        write_sample(out, m, f, s, "_count", NULL, (double)s->count);
    }
}

int ledger_metrics_render(ledger_metrics *m, FILE *out) {
    if (m == NULL || out == NULL)
        return -1;
    pthread_mutex_lock(&m->lock);
    for (const ledger_metric *f = m->families; f != NULL; f = f->next)
        write_family(out, m, f);
    /* The readiness, as a gauge that is always there. */
    const ledger_metric ready_family = {.type = METRIC_GAUGE,
                                        .name = "ledger_ready",
                                        .help = "1 when /healthz answers ready, else 0"};
    const ledger_series ready_series = {.value = m->ready ? 1 : 0};
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", ready_family.name, ready_family.help,
            ready_family.name);
    write_sample(out, m, &ready_family, &ready_series, "", NULL, ready_series.value);
    pthread_mutex_unlock(&m->lock);
    return ferror(out) ? -1 : 0;
}
