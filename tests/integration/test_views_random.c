/*
 * test_views_random.c - a seeded random workload through the real
 * statements and fraud projectors, compared with the pure core's fold.
 *
 * Many accounts over several months: deposits, withdrawals, transfers (the
 * sent and received halves on their own accounts), returned transfers,
 * bursts of debits, large amounts, back-dated events and closes; produced in
 * two rounds, the second while the projectors run (two statements
 * processes share the partitions). Then every account's statement for
 * every month from the one before its first entry to the one after its
 * last, its flags and the flagged list are read through the CLI and
 * compared with what statement_line_of / statement_month_add and
 * fraud_check give when folded here over the same events.
 *
 * The seed is printed; LEDGER_TEST_SEED=N replays one.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fraud.h"
#include "ids.h"
#include "ltime.h"
#include "money.h"
#include "statement.h"
#include "test_views_support.h"

#define ACCOUNTS   24
#define STEPS      700
#define MAX_EVENTS (ACCOUNTS * 2 + STEPS * 2)
#define TIMEOUT_MS 120000

typedef struct workload {
    ledger_event events[MAX_EVENTS];
    size_t n;
    int64_t seq[ACCOUNTS];
    uint64_t rng;
} workload;

static char names[ACCOUNTS][16];

static uint64_t next_random(workload *wl) {
    /* xorshift64*: the same sequence for a seed on every platform. */
    wl->rng ^= wl->rng >> 12;
    wl->rng ^= wl->rng << 25;
    wl->rng ^= wl->rng >> 27;
    return wl->rng * UINT64_C(2685821657736338717);
}

static int64_t below(workload *wl, int64_t n) {
    return (int64_t)(next_random(wl) % (uint64_t)n);
}

static void push(workload *wl, ledger_event_type type, int a, int64_t at_ms, int64_t amount,
                 const char *counterparty, int64_t transfer) {
    cr_assert_lt(wl->n, MAX_EVENTS);
    ledger_event *e = &wl->events[wl->n++];
    ledger_event_init(e);
    snprintf(e->event_id, sizeof e->event_id, "0f8fad5b-d9cb-469f-a165-%012zx", wl->n);
    ledger_id_copy(e->account, sizeof e->account, names[a]);
    ledger_id_copy(e->command_id, sizeof e->command_id, "random");
    e->type = type;
    e->seq = ++wl->seq[a];
    e->at_ms = at_ms;
    e->amount = amount;
    if (counterparty != NULL) {
        ledger_id_copy(e->counterparty, sizeof e->counterparty, counterparty);
        snprintf(e->transfer_id, sizeof e->transfer_id, "7c9e6679-7425-40de-944b-%012" PRIx64,
                 (uint64_t)transfer);
    }
    if (type == LEDGER_EVENT_TRANSFER_RETURNED)
        e->reason = LEDGER_NO_SUCH_ACCOUNT;
}

static int64_t random_amount(workload *wl) {
    int64_t r = below(wl, 100);
    if (r < 5)
        return 1000000 + below(wl, 500000); /* large_debit territory */
    if (r < 20)
        return 100000 + below(wl, 200000); /* new_payee territory */
    return 1 + below(wl, 50000);
}

static void generate(workload *wl, uint64_t seed) {
    memset(wl, 0, sizeof *wl);
    wl->rng = seed * 2 + 1;
    int64_t t = vw_at("2026-09-01T00:00:00Z");
    for (int a = 0; a < ACCOUNTS; a++) {
        t += below(wl, 3600000);
        push(wl, LEDGER_EVENT_ACCOUNT_OPENED, a, t, 0, NULL, 0);
    }
    for (int64_t step = 0; step < STEPS; step++) {
        /* Mostly bursts of seconds (velocity), sometimes a day's gap. */
        t += below(wl, 100) < 70 ? below(wl, 30000) : below(wl, 86400000);
        int64_t at = below(wl, 100) < 5 ? t - below(wl, 40LL * 86400000) : t;
        int a = (int)below(wl, ACCOUNTS);
        int64_t r = below(wl, 100);
        if (r < 35) {
            push(wl, LEDGER_EVENT_MONEY_DEPOSITED, a, at, 1 + below(wl, 300000), NULL, 0);
        } else if (r < 60) {
            push(wl, LEDGER_EVENT_MONEY_WITHDRAWN, a, at, random_amount(wl), NULL, 0);
        } else if (r < 95) {
            int b = (int)((a + 1 + below(wl, ACCOUNTS - 1)) % ACCOUNTS);
            int64_t amount = random_amount(wl);
            push(wl, LEDGER_EVENT_TRANSFER_SENT, a, at, amount, names[b], step);
            push(wl, LEDGER_EVENT_TRANSFER_RECEIVED, b, at, amount, names[a], step);
        } else {
            char gone[16];
            snprintf(gone, sizeof gone, "gone-%d", (int)below(wl, 3));
            int64_t amount = random_amount(wl);
            push(wl, LEDGER_EVENT_TRANSFER_SENT, a, at, amount, gone, step);
            push(wl, LEDGER_EVENT_TRANSFER_RETURNED, a, at, amount, gone, step);
        }
    }
    for (int a = 0; a < 2; a++)
        push(wl, LEDGER_EVENT_ACCOUNT_CLOSED, a, t, 0, NULL, 0);
}

/* ---- the expected answers, folded with the core ---- */

static json_t *money(int64_t cents) {
    char buf[MONEY_TEXT_BUF];
    money_format(cents, buf, sizeof buf);
    return json_string(buf);
}

static json_t *expected_statement(const workload *wl, const char *account, int32_t month) {
    int64_t balance = 0, opening = 0;
    statement_month m;
    statement_month_init(&m, month, 0);
    json_t *entries = json_array();
    for (size_t i = 0; i < wl->n; i++) {
        statement_line line;
        if (strcmp(wl->events[i].account, account) != 0 ||
            !statement_line_of(&wl->events[i], balance, &line))
            continue;
        balance = line.balance_after;
        if (line.month < month)
            opening += line.amount;
        if (line.month != month)
            continue;
        statement_month_add(&m, &line);
        char at[LTIME_TEXT_BUF];
        ltime_format(line.at_ms, at, sizeof at);
        json_t *e = json_pack("{s:s, s:I, s:s, s:o, s:o}", "at", at, "seq", (json_int_t)line.seq,
                              "type", statement_entry_type_name(line.type), "amount",
                              money(line.amount), "balance_after", money(line.balance_after));
        if (line.type >= STATEMENT_TRANSFER_SENT) {
            json_object_set_new(e, "counterparty", json_string(line.counterparty));
            json_object_set_new(e, "transfer_id", json_string(line.transfer_id));
        }
        json_array_append_new(entries, e);
    }
    char name[16];
    ltime_month_format(month, name, sizeof name);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "account", account, "month", name,
                     "opening_balance", money(opening), "closing_balance",
                     money(opening + m.closing_balance - m.opening_balance), "total_in",
                     money(m.total_in), "total_out", money(m.total_out), "entries", entries);
}

static json_t *expected_flags(const workload *wl, const char *account) {
    fraud_config c;
    fraud_config_default(&c);
    fraud_window window;
    fraud_window_init(&window);
    static char paid[MAX_EVENTS][LEDGER_ACCOUNT_BUF];
    size_t npaid = 0;
    json_t *flags = json_array();
    for (size_t i = 0; i < wl->n; i++) {
        const ledger_event *e = &wl->events[i];
        if (strcmp(e->account, account) != 0)
            continue;
        bool seen = false;
        for (size_t p = 0; p < npaid && !seen; p++)
            seen = strcmp(paid[p], e->counterparty) == 0;
        fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
        int n = fraud_check(&c, &window, e, seen, out);
        for (int f = 0; f < n; f++) {
            char at[LTIME_TEXT_BUF];
            ltime_format(out[f].at_ms, at, sizeof at);
            json_array_append_new(flags, json_pack("{s:s, s:I, s:s, s:o}", "rule",
                                                   fraud_rule_name(out[f].rule), "seq",
                                                   (json_int_t)out[f].seq, "at", at, "amount",
                                                   money(out[f].amount)));
        }
        if (e->type == LEDGER_EVENT_TRANSFER_SENT && !seen)
            snprintf(paid[npaid++], sizeof paid[0], "%s", e->counterparty);
    }
    return json_pack("{s:s, s:o}", "account", account, "flags", flags);
}

static const char *arg(const char *const *argv, int i) {
    for (int k = 0; k < i; k++) {
        if (argv[k] == NULL)
            return "";
    }
    return argv[i] != NULL ? argv[i] : "";
}

static void compare(vw_world *w, const char *const *argv, json_t *want, uint64_t seed) {
    cli_result res;
    vw_cli(w, &res, argv);
    cr_assert_eq(res.exit_code, 0, "seed %" PRIu64 ": ledger %s %s %s: exit %d, stderr: %s", seed,
                 argv[0], arg(argv, 1), arg(argv, 2), res.exit_code, res.err);
    json_t *got = vw_parse_line(res.out);
    char *want_text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    char *got_text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect(json_equal(got, want), "seed %" PRIu64 ": ledger %s %s %s\n got: %s\nwant: %s", seed,
              argv[0], arg(argv, 1), arg(argv, 2), got_text, want_text);
    free(want_text);
    free(got_text);
    json_decref(got);
    json_decref(want);
}

TestSuite(views_random, .fini = vw_cleanup);

Test(views_random, every_account_and_month_matches_the_fold, .timeout = 600) {
    static workload wl;
    const char *env_seed = getenv("LEDGER_TEST_SEED");
    uint64_t seed = env_seed != NULL ? strtoull(env_seed, NULL, 10)
                                     : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    fprintf(stderr, "views_random: seed %" PRIu64 " (LEDGER_TEST_SEED=%" PRIu64 " replays it)\n",
            seed, seed);
    for (int a = 0; a < ACCOUNTS; a++)
        snprintf(names[a], sizeof names[a], "acct-%02d", a);
    generate(&wl, seed);

    vw_world *w = vw_world_new(3);
    vw_start_projector(w, "statements", NULL);
    vw_start_projector(w, "fraud", NULL);
    size_t half = wl.n / 2;
    vw_produce(w, wl.events, half, NULL, NULL);
    vw_start_projector(w, "statements", NULL); /* a second process: partitions are shared */
    vw_produce(w, wl.events + half, wl.n - half, NULL, NULL);
    vw_wait_applied(w, "statements", TIMEOUT_MS);
    vw_wait_applied(w, "fraud", TIMEOUT_MS);

    json_t *flagged = json_array();
    int statements = 0;
    for (int a = 0; a < ACCOUNTS; a++) {
        int32_t first = INT32_MAX, last = INT32_MIN;
        for (size_t i = 0; i < wl.n; i++) {
            statement_line line;
            if (strcmp(wl.events[i].account, names[a]) != 0 ||
                !statement_line_of(&wl.events[i], 0, &line))
                continue;
            first = line.month < first ? line.month : first;
            last = line.month > last ? line.month : last;
        }
        if (first == INT32_MAX)
            first = last = ltime_month_of(wl.events[a].at_ms);
        for (int32_t m = first - 1; m <= last + 1; m++) {
            char month[16];
            ltime_month_format(m, month, sizeof month);
            compare(w, (const char *[]){"statement", names[a], month, NULL},
                    expected_statement(&wl, names[a], m), seed);
            statements++;
        }
        json_t *flags = expected_flags(&wl, names[a]);
        if (json_array_size(json_object_get(flags, "flags")) > 0)
            json_array_append_new(flagged, json_string(names[a]));
        compare(w, (const char *[]){"flags", names[a], NULL}, flags, seed);
    }
    cr_expect_gt(json_array_size(flagged), 0, "seed %" PRIu64 ": the workload raised no flag",
                 seed);
    compare(w, (const char *[]){"flagged", NULL, NULL}, json_pack("{s:o}", "accounts", flagged),
            seed);
    cr_log_info("seed %" PRIu64 ": %zu events, %d statements and %d flag lists compared", seed,
                wl.n, statements, ACCOUNTS);
    vw_world_destroy(w);
}
