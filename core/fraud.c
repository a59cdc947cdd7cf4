/*
 * fraud.c - the fraud rules, folded one event at a time.
 *
 * Only event time is used, never a clock, so a replay of the same log gives
 * the same flags. The velocity rule keeps a sorted, bounded window of recent
 * debit times per account (fraud_window): insertion keeps it sorted, so a
 * back-dated debit lands where it belongs, and pruning drops whatever is
 * further than the window behind the newest debit time seen.
 *
 * A debit is counted against the window BEFORE the window is pruned, so a
 * debit back-dated by more than the window still counts itself.
 */
#include "fraud.h"

#include <string.h>

void fraud_config_default(fraud_config *config) {
    config->large_debit_cents = 1000000; /* 10000.00 */
    config->velocity_count = 5;
    config->velocity_window_ms = 60000;
    config->new_payee_cents = 100000; /* 1000.00 */
}

int fraud_config_validate(const fraud_config *config, const char **why) {
    const char *fault = NULL;
    if (config->large_debit_cents < 1)
        fault = "large_debit_cents must be at least 1 (0.01)";
    else if (config->velocity_count < 1 || config->velocity_count > FRAUD_WINDOW_CAP)
        fault = "velocity_count must be 1 to 64";
    else if (config->velocity_window_ms < 0)
        fault = "velocity_window_ms must not be negative";
    else if (config->new_payee_cents < 1)
        fault = "new_payee_cents must be at least 1 (0.01)";
    if (fault == NULL)
        return 0;
    if (why != NULL)
        *why = fault;
    return -1;
}

void fraud_window_init(fraud_window *window) {
    memset(window, 0, sizeof *window);
}

static int64_t fraud_sat_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* Inserts at_ms in order (after equal times), then drops the oldest times:
 * first beyond the cap, then those more than window_ms behind the newest. */
static void fraud_window_push(fraud_window *window, int64_t at_ms, int64_t window_ms) {
    int32_t n = window->count;
    if (n == FRAUD_WINDOW_CAP) {
        if (at_ms < window->at_ms[0])
            return; /* older than all kept and the window is full: it would go first */
        memmove(window->at_ms, window->at_ms + 1, (size_t)(n - 1) * sizeof window->at_ms[0]);
        n--;
    }
    int32_t i = n;
    while (i > 0 && window->at_ms[i - 1] > at_ms) {
        window->at_ms[i] = window->at_ms[i - 1];
        i--;
    }
    window->at_ms[i] = at_ms;
    n++;

    int64_t oldest_kept = fraud_sat_sub(window->at_ms[n - 1], window_ms);
    int32_t drop = 0;
    while (drop < n && window->at_ms[drop] < oldest_kept)
        drop++;
    if (drop > 0)
        memmove(window->at_ms, window->at_ms + drop, (size_t)(n - drop) * sizeof window->at_ms[0]);
    window->count = n - drop;
}

/* The number of kept times in [from, to]. */
static int32_t fraud_window_count(const fraud_window *window, int64_t from, int64_t to) {
    int32_t c = 0;
    for (int32_t i = 0; i < window->count; i++) {
        if (window->at_ms[i] >= from && window->at_ms[i] <= to)
            c++;
    }
    return c;
}

int fraud_check(const fraud_config *config, fraud_window *window, const ledger_event *event,
                bool payee_seen, fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT]) {
    if (!ledger_event_is_debit(event))
        return 0;

    /* A window restored from outside (e.g. Redis) with a count out of range
     * is read as holding what its array can hold, never past its end. */
    if (window->count < 0)
        window->count = 0;
    else if (window->count > FRAUD_WINDOW_CAP)
        window->count = FRAUD_WINDOW_CAP;

    int n = 0;
    int64_t amount = event->amount;
    int64_t signed_amount = ledger_event_balance_delta(event);
    fraud_rule fired[FRAUD_MAX_FLAGS_PER_EVENT];

    if (amount >= config->large_debit_cents)
        fired[n++] = FRAUD_LARGE_DEBIT;

    int64_t from = fraud_sat_sub(event->at_ms, config->velocity_window_ms);
    int32_t in_window = 1 + fraud_window_count(window, from, event->at_ms);
    if (in_window >= config->velocity_count)
        fired[n++] = FRAUD_VELOCITY;
    fraud_window_push(window, event->at_ms, config->velocity_window_ms);

    if (event->type == LEDGER_EVENT_TRANSFER_SENT && amount >= config->new_payee_cents &&
        !payee_seen)
        fired[n++] = FRAUD_NEW_PAYEE;

    for (int i = 0; i < n; i++) {
        out[i].rule = fired[i];
        out[i].seq = event->seq;
        out[i].at_ms = event->at_ms;
        out[i].amount = signed_amount;
    }
    return n;
}

const char *fraud_rule_name(fraud_rule rule) {
    switch (rule) {
        case FRAUD_LARGE_DEBIT:
            return "large_debit";
        case FRAUD_VELOCITY:
            return "velocity";
        case FRAUD_NEW_PAYEE:
            return "new_payee";
        default:
            return NULL;
    }
}
