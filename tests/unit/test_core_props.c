/*
 * test_core_props.c - property tests of decide + apply over long random
 * command sequences.
 *
 * The seed comes from LEDGER_TEST_SEED, else from the clock; it is logged and
 * put in every failure message, so any failure replays with
 *     LEDGER_TEST_SEED=<seed> ./test_core_props --verbose
 *
 * The test keeps its own small model of each account (exists, closed,
 * balance, overdraft) and of the money that entered and left, updated from
 * what the COMMANDS asked for, never from the events the core produced. The
 * core's answers (reasons, events, folded states) are checked against it.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "decide.h"
#include "ltime.h"
#include "money.h"
#include "statement.h"

#define ACCOUNTS       50 /* accounts that commands are addressed to */
#define NAMES          60 /* ... plus 10 names that are never opened: transfer targets only */
#define COMMANDS       20000
#define SNAPSHOT_EVERY 1000 /* record every account's state after every k-th event */

typedef struct model_account {
    bool exists;
    bool closed;
    int64_t balance;
    int64_t overdraft;
} model_account;

typedef struct snapshot {
    size_t log_len;
    account_state state[NAMES];
} snapshot;

typedef struct world {
    uint64_t seed;
    uint64_t rng;
    char names[NAMES][LEDGER_ACCOUNT_BUF];
    account_state state[NAMES]; /* the core's view: every event folded as written */
    model_account model[NAMES]; /* the test's view: from the commands alone */
    int64_t deposited;
    int64_t withdrawn;
    ledger_event *log; /* every event, in the order written */
    int *log_account;
    size_t log_len;
    size_t log_cap;
    snapshot *snaps;
    size_t snap_len;
    size_t snap_cap;
    int64_t clock_ms;
    long reasons[LEDGER_REASON_COUNT_];
    long credits_received;
    long credits_returned[LEDGER_REASON_COUNT_];
} world;

static uint64_t next_u64(world *w) {
    /* splitmix64 */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int64_t below(world *w, int64_t n) {
    return (int64_t)(next_u64(w) % (uint64_t)n);
}

static uint64_t test_seed(void) {
    const char *env = getenv("LEDGER_TEST_SEED");
    if (env != NULL && *env != '\0')
        return strtoull(env, NULL, 0);
    return (uint64_t)time(NULL);
}

static bool states_equal(const account_state *a, const account_state *b) {
    return a->status == b->status && a->balance == b->balance && a->overdraft == b->overdraft &&
           a->seq == b->seq;
}

static void world_init(world *w, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->seed = seed;
    w->rng = seed;
    for (int i = 0; i < NAMES; i++) {
        snprintf(w->names[i], sizeof w->names[i], "acct-%02d", i);
        account_init(&w->state[i]);
    }
    w->log_cap = COMMANDS * 2;
    w->log = calloc(w->log_cap, sizeof *w->log);
    w->log_account = calloc(w->log_cap, sizeof *w->log_account);
    w->snap_cap = w->log_cap / SNAPSHOT_EVERY + 1;
    w->snaps = calloc(w->snap_cap, sizeof *w->snaps);
    cr_assert(w->log && w->log_account && w->snaps);
    /* Start two months before 1970, so months before and after the epoch
     * (negative and positive ms) both appear. */
    w->clock_ms = INT64_C(-5270400000); /* 1969-11-01T00:00:00Z */
}

static void world_free(world *w) {
    free(w->log);
    free(w->log_account);
    free(w->snaps);
}

/* Folds an event the core wrote into the live state and the log. */
static void append(world *w, int account, const ledger_event *e) {
    account_state *s = &w->state[account];
    cr_assert_lt(w->log_len, w->log_cap, "seed %" PRIu64 ": log full", w->seed);
    cr_assert_str_eq(e->account, w->names[account], "seed %" PRIu64, w->seed);
    cr_assert_eq(e->seq, s->seq + 1, "seed %" PRIu64 ": seq %" PRId64 " after %" PRId64, w->seed,
                 e->seq, s->seq);
    cr_assert_eq(account_apply(s, e), ACCOUNT_APPLIED, "seed %" PRIu64, w->seed);
    cr_assert_geq(s->balance, -s->overdraft, "seed %" PRIu64 ": %s below -overdraft: %" PRId64,
                  w->seed, w->names[account], s->balance);
    w->log[w->log_len] = *e;
    w->log_account[w->log_len] = account;
    w->log_len++;
    if (w->log_len % SNAPSHOT_EVERY == 0) {
        snapshot *snap = &w->snaps[w->snap_len++];
        snap->log_len = w->log_len;
        memcpy(snap->state, w->state, sizeof snap->state);
    }
}

/* A random amount, and whether it is one the SPEC refuses. */
static int64_t random_amount(world *w, bool allow_zero, bool *bad) {
    int64_t r = below(w, 100);
    *bad = false;
    if (r < 4) {
        *bad = true;
        switch (below(w, 4)) {
            case 0:
                return allow_zero ? -1 : 0;
            case 1:
                return -1 - below(w, 100000);
            case 2:
                return MONEY_MAX_COMMAND_CENTS + 1 + below(w, 1000);
            default:
                return INT64_MIN;
        }
    }
    if (r < 6)
        return MONEY_MAX_COMMAND_CENTS - below(w, 3);
    if (allow_zero && r < 30)
        return 0;
    return 1 + below(w, 200000);
}

/* The reason the SPEC gives, from the test's model and what the generator
 * knows it broke. */
static ledger_reason expected_reason(const world *w, const ledger_command *c, int account, int to,
                                     bool malformed, bool bad_account, bool bad_to,
                                     bool bad_amount) {
    const model_account *m = &w->model[account];
    if (malformed)
        return LEDGER_MALFORMED_COMMAND;
    if (bad_account || (bad_to && c->type == LEDGER_COMMAND_TRANSFER))
        return LEDGER_INVALID_ACCOUNT;
    if (bad_amount && c->type != LEDGER_COMMAND_CLOSE) /* a close carries no amount */
        return LEDGER_INVALID_AMOUNT;
    if (c->type == LEDGER_COMMAND_TRANSFER && to == account)
        return LEDGER_SAME_ACCOUNT;
    if (c->type == LEDGER_COMMAND_OPEN)
        return m->exists ? LEDGER_ACCOUNT_EXISTS : LEDGER_OK;
    if (!m->exists)
        return LEDGER_NO_SUCH_ACCOUNT;
    if (m->closed)
        return LEDGER_ACCOUNT_CLOSED;
    if ((c->type == LEDGER_COMMAND_WITHDRAW || c->type == LEDGER_COMMAND_TRANSFER) &&
        m->balance - c->amount < -m->overdraft)
        return LEDGER_INSUFFICIENT_FUNDS;
    if (c->type == LEDGER_COMMAND_CLOSE && m->balance != 0)
        return LEDGER_NONZERO_BALANCE;
    return LEDGER_OK;
}

static void uuid_for(world *w, char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = next_u64(w);
        memcpy(bytes + i, &r, 8);
    }
    ledger_uuid_format(bytes, out);
}

/* Submits one command and checks the core's answer against the model. */
static void submit(world *w, ledger_command_type type, int account, int to, int64_t amount,
                   bool malformed, bool bad_account, bool bad_to, bool bad_amount) {
    static const char *const bad_names[] = {"", "bad name", "acct/01", "\xc3\xa9t\xc3\xa9"};
    ledger_command c;
    ledger_command_init(&c);
    snprintf(c.id, sizeof c.id, "cmd-%zu", w->log_len);
    if (malformed) {
        switch (below(w, 3)) {
            case 0:
                c.id[0] = '\0';
                break;
            case 1:
                c.id[1] = '\n';
                break;
            default:
                type = below(w, 2) ? LEDGER_COMMAND_NONE : (ledger_command_type)(6 + below(w, 3));
                break;
        }
    }
    c.type = type;
    ledger_id_copy(c.account, sizeof c.account,
                   bad_account ? bad_names[below(w, 4)] : w->names[account]);
    if (type == LEDGER_COMMAND_TRANSFER)
        ledger_id_copy(c.to, sizeof c.to, bad_to ? bad_names[below(w, 4)] : w->names[to]);
    c.amount = amount;
    w->clock_ms += below(w, 600000); /* up to 10 minutes between commands */
    c.has_at = below(w, 2) == 0;
    c.at_ms = w->clock_ms - below(w, 120000); /* business time may lag a little */

    ledger_reason want =
        expected_reason(w, &c, account, to, malformed, bad_account, bad_to, bad_amount);
    char event_id[LEDGER_UUID_BUF], transfer_id[LEDGER_UUID_BUF];
    uuid_for(w, event_id);
    uuid_for(w, transfer_id);
    ledger_decide_ids ids = {event_id, transfer_id, w->clock_ms};
    ledger_event e;
    ledger_reason got = ledger_decide(&w->state[account], &c, &ids, &e);
    cr_assert_eq(got, want, "seed %" PRIu64 ": command %s (%s on %s): got %s, want %s", w->seed,
                 c.id, ledger_command_type_name(c.type) ? ledger_command_type_name(c.type) : "?",
                 c.account, ledger_reason_name(got), ledger_reason_name(want));
    w->reasons[got]++;
    if (got != LEDGER_OK)
        return;

    cr_assert_str_eq(e.event_id, event_id, "seed %" PRIu64, w->seed);
    cr_assert_str_eq(e.command_id, c.id, "seed %" PRIu64, w->seed);
    cr_assert_eq(e.at_ms, c.has_at ? c.at_ms : w->clock_ms, "seed %" PRIu64, w->seed);
    model_account *m = &w->model[account];
    append(w, account, &e);
    switch (type) {
        case LEDGER_COMMAND_OPEN:
            m->exists = true;
            m->overdraft = amount;
            break;
        case LEDGER_COMMAND_DEPOSIT:
            m->balance += amount;
            w->deposited += amount;
            break;
        case LEDGER_COMMAND_WITHDRAW:
            m->balance -= amount;
            w->withdrawn += amount;
            break;
        case LEDGER_COMMAND_CLOSE:
            m->closed = true;
            break;
        case LEDGER_COMMAND_TRANSFER: {
            m->balance -= amount;
            cr_assert_str_eq(e.transfer_id, transfer_id, "seed %" PRIu64, w->seed);
            cr_assert_str_eq(e.counterparty, w->names[to], "seed %" PRIu64, w->seed);
            /* The credit side, on `to`'s stream; else the return on ours. */
            model_account *t = &w->model[to];
            ledger_reason credit_want = !t->exists  ? LEDGER_NO_SUCH_ACCOUNT
                                        : t->closed ? LEDGER_ACCOUNT_CLOSED
                                                    : LEDGER_OK;
            ledger_event r;
            uuid_for(w, event_id);
            ledger_reason credit = ledger_decide_credit(&w->state[to], &e, event_id, &r);
            cr_assert_eq(credit, credit_want, "seed %" PRIu64 ": credit of %s: got %s, want %s",
                         w->seed, c.id, ledger_reason_name(credit),
                         ledger_reason_name(credit_want));
            if (credit == LEDGER_OK) {
                append(w, to, &r);
                t->balance += amount;
                w->credits_received++;
            } else {
                uuid_for(w, event_id);
                ledger_decide_return(&w->state[account], &e, credit, event_id, &r);
                append(w, account, &r);
                m->balance += amount;
                w->credits_returned[credit]++;
            }
            cr_assert_eq(r.at_ms, e.at_ms, "seed %" PRIu64 ": a credit keeps the transfer's at",
                         w->seed);
            cr_assert_str_eq(r.transfer_id, e.transfer_id, "seed %" PRIu64, w->seed);
            break;
        }
        default:
            cr_assert_fail("seed %" PRIu64 ": accepted a command of type %d", w->seed, (int)type);
    }
}

/* One random command. Closes are rare (3 in 1000, half of them after
 * draining the account), so that accounts stay open for most of the run. */
static void step(world *w) {
    int64_t r = below(w, 1000);
    int account = (int)below(w, ACCOUNTS);
    bool bad = false;
    if (r < 40) {
        int64_t overdraft = random_amount(w, true, &bad);
        if (!bad && overdraft > 0 && below(w, 4) > 0)
            overdraft = below(w, 50000); /* mostly modest overdrafts */
        submit(w, LEDGER_COMMAND_OPEN, account, 0, overdraft, false, false, false, bad);
    } else if (r < 370) {
        int64_t amount = random_amount(w, false, &bad);
        submit(w, LEDGER_COMMAND_DEPOSIT, account, 0, amount, false, false, false, bad);
    } else if (r < 590) {
        int64_t amount = random_amount(w, false, &bad);
        if (!bad && below(w, 2))
            amount = 1 + below(w, 50000);
        submit(w, LEDGER_COMMAND_WITHDRAW, account, 0, amount, false, false, false, bad);
    } else if (r < 892) {
        int64_t amount = random_amount(w, false, &bad);
        if (!bad && below(w, 2))
            amount = 1 + below(w, 50000);
        int to = below(w, 10) == 0 ? account : (int)below(w, NAMES);
        bool bad_to = below(w, 30) == 0;
        submit(w, LEDGER_COMMAND_TRANSFER, account, to, amount, false, false, bad_to, bad);
    } else if (r < 895) {
        /* Half the time, first bring the balance to exactly zero, so that
         * closes succeed as well as fail. */
        const model_account *m = &w->model[account];
        if (below(w, 2) && m->exists && !m->closed && m->balance != 0) {
            if (m->balance > 0 && m->balance <= MONEY_MAX_COMMAND_CENTS)
                submit(w, LEDGER_COMMAND_WITHDRAW, account, 0, m->balance, false, false, false,
                       false);
            else if (m->balance < 0)
                submit(w, LEDGER_COMMAND_DEPOSIT, account, 0, -m->balance, false, false, false,
                       false);
        }
        submit(w, LEDGER_COMMAND_CLOSE, account, 0, 0, false, false, false, false);
    } else if (r < 945) {
        ledger_command_type t = (ledger_command_type)(1 + below(w, 5));
        submit(w, t, account, (int)below(w, NAMES), 1 + below(w, 1000), true, below(w, 2) == 0,
               false, below(w, 2) == 0);
    } else {
        ledger_command_type t = (ledger_command_type)(1 + below(w, 5));
        submit(w, t, account, (int)below(w, NAMES), random_amount(w, false, &bad), false, true,
               below(w, 2) == 0, bad);
    }
}

static int64_t sum_of_balances(const account_state *states) {
    int64_t sum = 0;
    for (int i = 0; i < NAMES; i++)
        sum += states[i].balance;
    return sum;
}

Test(props, random_commands_keep_the_ledger_invariants, .timeout = 60) {
    static world w; /* large: keep it off the stack */
    world_init(&w, test_seed());
    cr_log_info("seed %" PRIu64 " (replay with LEDGER_TEST_SEED=%" PRIu64 ")", w.seed, w.seed);

    for (int n = 0; n < COMMANDS; n++) {
        step(&w);
        /* Money is conserved: transfers net to zero once credited or returned. */
        cr_assert_eq(sum_of_balances(w.state), w.deposited - w.withdrawn,
                     "seed %" PRIu64 ": after command %d the balances sum to %" PRId64
                     ", deposits - withdrawals are %" PRId64,
                     w.seed, n, sum_of_balances(w.state), w.deposited - w.withdrawn);
    }

    /* The core's states agree with the model's. */
    for (int i = 0; i < NAMES; i++) {
        const account_state *s = &w.state[i];
        const model_account *m = &w.model[i];
        account_status want = !m->exists ? ACCOUNT_NONE : m->closed ? ACCOUNT_CLOSED : ACCOUNT_OPEN;
        cr_expect_eq(s->status, want, "seed %" PRIu64 ": %s status", w.seed, w.names[i]);
        cr_expect_eq(s->balance, m->balance, "seed %" PRIu64 ": %s balance", w.seed, w.names[i]);
        cr_expect_eq(s->overdraft, m->overdraft, "seed %" PRIu64, w.seed);
        if (m->closed)
            cr_expect_eq(s->balance, 0, "seed %" PRIu64 ": closed with money", w.seed);
    }

    /* seq is 1, 2, 3, ... per account, with no gap and no repeat. */
    int64_t next_seq[NAMES];
    for (int i = 0; i < NAMES; i++)
        next_seq[i] = 1;
    for (size_t k = 0; k < w.log_len; k++) {
        int a = w.log_account[k];
        cr_assert_eq(w.log[k].seq, next_seq[a], "seed %" PRIu64 ": event %zu of %s", w.seed, k,
                     w.names[a]);
        next_seq[a]++;
    }

    /* Each account's events folded from scratch, alone, give its state. */
    for (int i = 0; i < NAMES; i++) {
        account_state s;
        account_init(&s);
        for (size_t k = 0; k < w.log_len; k++) {
            if (w.log_account[k] == i)
                cr_assert_eq(account_apply(&s, &w.log[k]), ACCOUNT_APPLIED, "seed %" PRIu64,
                             w.seed);
        }
        cr_assert(states_equal(&s, &w.state[i]), "seed %" PRIu64 ": refold of %s differs", w.seed,
                  w.names[i]);
    }

    /* A prefix of the log folds to the state as it was at that point. */
    for (int r = 0; r < LEDGER_REASON_COUNT_; r++)
        cr_log_info("%s: %ld commands", ledger_reason_name((ledger_reason)r), w.reasons[r]);
    cr_assert_gt(w.snap_len, 5, "seed %" PRIu64 ": too few snapshots (%zu events)", w.seed,
                 w.log_len);
    for (size_t p = 0; p < w.snap_len; p++) {
        account_state past[NAMES];
        for (int i = 0; i < NAMES; i++)
            account_init(&past[i]);
        for (size_t k = 0; k < w.snaps[p].log_len; k++)
            cr_assert_eq(account_apply(&past[w.log_account[k]], &w.log[k]), ACCOUNT_APPLIED,
                         "seed %" PRIu64, w.seed);
        for (int i = 0; i < NAMES; i++)
            cr_assert(states_equal(&past[i], &w.snaps[p].state[i]),
                      "seed %" PRIu64 ": %s after %zu events", w.seed, w.names[i],
                      w.snaps[p].log_len);
    }

    /* Redelivering the whole log changes nothing. */
    for (size_t k = 0; k < w.log_len; k++) {
        account_state before = w.state[w.log_account[k]];
        cr_assert_eq(account_apply(&w.state[w.log_account[k]], &w.log[k]), ACCOUNT_DUPLICATE,
                     "seed %" PRIu64, w.seed);
        cr_assert(states_equal(&before, &w.state[w.log_account[k]]), "seed %" PRIu64, w.seed);
    }

    /* The run exercised every reason and both credit outcomes. */
    for (int r = 0; r < LEDGER_REASON_COUNT_; r++)
        cr_expect_gt(w.reasons[r], 0, "seed %" PRIu64 ": no command got %s", w.seed,
                     ledger_reason_name((ledger_reason)r));
    cr_expect_gt(w.credits_received, 0, "seed %" PRIu64, w.seed);
    cr_expect_gt(w.credits_returned[LEDGER_NO_SUCH_ACCOUNT], 0, "seed %" PRIu64, w.seed);
    cr_expect_gt(w.credits_returned[LEDGER_ACCOUNT_CLOSED], 0, "seed %" PRIu64, w.seed);
    cr_log_info("seed %" PRIu64 ": %zu events, %ld received, %ld returned", w.seed, w.log_len,
                w.credits_received,
                w.credits_returned[LEDGER_NO_SUCH_ACCOUNT] +
                    w.credits_returned[LEDGER_ACCOUNT_CLOSED]);

    /* Statements: per account, months chain (each opens at the previous
     * close), each closes at opening + in - out, and the last closes at the
     * final balance. */
    for (int i = 0; i < NAMES; i++) {
        statement_month month;
        statement_month_init(&month, 0, 0);
        bool have_month = false;
        int64_t balance = 0;
        int months = 0;
        for (size_t k = 0; k < w.log_len; k++) {
            if (w.log_account[k] != i)
                continue;
            statement_line line;
            if (!statement_line_of(&w.log[k], balance, &line))
                continue;
            if (!have_month || line.month != month.month) {
                if (have_month)
                    cr_assert_eq(month.closing_balance, balance, "seed %" PRIu64, w.seed);
                statement_month_init(&month, line.month, balance);
                have_month = true;
                months++;
            }
            statement_month_add(&month, &line);
            cr_assert_eq(month.closing_balance, line.balance_after, "seed %" PRIu64, w.seed);
            cr_assert_eq(month.closing_balance,
                         month.opening_balance + month.total_in - month.total_out,
                         "seed %" PRIu64 ": %s month %d", w.seed, w.names[i], (int)month.month);
            balance = line.balance_after;
        }
        cr_assert_eq(balance, w.state[i].balance, "seed %" PRIu64 ": %s statement end", w.seed,
                     w.names[i]);
        (void)months;
    }
    world_free(&w);
}

Test(props, a_statement_month_is_the_calendar_month_of_its_at, .timeout = 60) {
    world w;
    memset(&w, 0, sizeof w);
    w.seed = test_seed();
    w.rng = w.seed ^ 0x5bd1e995u;
    cr_log_info("seed %" PRIu64, w.seed);
    for (int i = 0; i < 20000; i++) {
        /* Any ms from year 1 to 9999: the month of a line is the month its
         * RFC 3339 text names. */
        int64_t ms = INT64_C(-62135596800000) +
                     below(&w, INT64_C(253402300800000) + INT64_C(62135596800000));
        char text[LTIME_TEXT_BUF], month_text[LTIME_TEXT_BUF];
        ltime_format(ms, text, sizeof text);
        int32_t month = ltime_month_of(ms);
        ltime_month_format(month, month_text, sizeof month_text);
        cr_assert(strncmp(text, month_text, 7) == 0 && month_text[7] == '\0',
                  "seed %" PRIu64 ": %s is in month %s", w.seed, text, month_text);
    }
}
