/*
 * statements.c - the statements view: running balance, month totals and
 * pre-rendered statement entries per account (layout in statements_view.h).
 *
 * Why this shape: a batch reads the account's running balance and version
 * and the totals of each month its events fall in (HMGETs in round trip 1),
 * and writes each month's new totals with one HSET - one write instead of
 * four HINCRBYs and a ZADD, since writes are what Redis spends most on (they
 * are queued, executed and appended to the AOF); the month joins the
 * `months` index only when its totals were absent. Entries are RPUSHed,
 * which is safe because the runtime writes a batch atomically with its
 * checkpoint and the version check skips events already applied, so an
 * entry is never pushed twice. Entries are rendered here, once, so a query
 * only concatenates them.
 *
 * Events are folded in log order with the pure core (statement_line_of,
 * statement_month_add). Consecutive events of the same month form a run
 * whose entries are pushed together; a back-dated event simply starts
 * another run for its own month, so each month's list stays in log order,
 * and its totals join the month's. Months beyond the first MONTH_READS of
 * an account's batch (only a feed of back-dated events has that many) are
 * not read: their totals are HINCRBY deltas and ZADD, as exact. Nothing is
 * allocated: entries are rendered into a fixed chunk that is flushed as one
 * RPUSH when full.
 */
#include "statements_view.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ltime.h"
#include "money.h"
#include "text_cursor.h"

#define KEY_BUF 640
/* Entries per RPUSH. */
#define ENTRY_CHUNK 16
/* Months of one account's batch whose totals are read (the rest add deltas). */
#define MONTH_READS 8

/* ---- rendering ---- */

size_t statements_entry_render(const statement_line *line, char *buf, size_t size) {
    const char *type = statement_entry_type_name(line->type);
    if (type == NULL || size == 0)
        return 0;
    text_cursor c = {.buf = buf, .size = size};
    char at[LTIME_TEXT_BUF];
    buf[0] = '\0';
    text_cursor_put_str(&c, "{\"at\":\"");
    text_cursor_put_bytes(&c, at, ltime_format(line->at_ms, at, sizeof at));
    text_cursor_put_str(&c, "\",\"seq\":");
    text_cursor_put_int(&c, line->seq);
    text_cursor_put_str(&c, ",\"type\":\"");
    text_cursor_put_str(&c, type);
    text_cursor_put_str(&c, "\",\"amount\":");
    text_cursor_put_money(&c, line->amount);
    text_cursor_put_str(&c, ",\"balance_after\":");
    text_cursor_put_money(&c, line->balance_after);
    if (line->type == STATEMENT_TRANSFER_SENT || line->type == STATEMENT_TRANSFER_RECEIVED ||
        line->type == STATEMENT_TRANSFER_RETURNED) {
        text_cursor_put_str(&c, ",\"counterparty\":");
        text_cursor_put_escaped(&c, line->counterparty, sizeof line->counterparty);
        text_cursor_put_str(&c, ",\"transfer_id\":");
        text_cursor_put_escaped(&c, line->transfer_id, sizeof line->transfer_id);
    }
    text_cursor_put_str(&c, "}");
    return c.overflow ? 0 : c.len;
}

/* ---- stored state ---- */

/* A stored decimal int64: 0 and *present = false for a nil reply. */
static int reply_int64(const redisReply *r, const char *what, int64_t *out, bool *present,
                       char *errstr, size_t errstr_size) {
    *out = 0;
    *present = false;
    if (r == NULL || r->type == REDIS_REPLY_NIL)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = (int64_t)r->integer;
        *present = true;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING) {
        snprintf(errstr, errstr_size, "unreadable %s: reply of type %d", what, r->type);
        return -1;
    }
    const char *s = r->str;
    size_t n = r->len, i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n || n > 20)
        goto bad;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
            goto bad;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    *present = true;
    return 0;
bad:
    snprintf(errstr, errstr_size, "unreadable %s '%.*s': not an integer", what,
             (int)(r->len > 40 ? 40 : r->len), r->str);
    return -1;
}

/* ---- the months of a batch ---- */

/* The distinct months of events[0..n) in order of first appearance, at most
 * MONTH_READS; returns how many. The months of a prefix of the events are a
 * prefix of the months of all of them, so replies read for the whole batch
 * still line up when the runtime applies only a prefix (a quarantine). */
static size_t batch_months(const ledger_event *events, size_t n, int32_t *months) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t m = ltime_month_of(events[i].at_ms);
        size_t j = 0;
        while (j < count && months[j] != m)
            j++;
        if (j < count)
            continue;
        if (count == MONTH_READS)
            break;
        months[count++] = m;
    }
    return count;
}

static const char *const month_fields[] = {"total_in", "total_out", "net", "count"};

/* One read month of an account's batch: what is stored and what is added. */
typedef struct month_total {
    int32_t month;
    bool stored; /* the totals hash exists, so the month is in the index */
    bool touched;
    int64_t values[4]; /* total_in, total_out, net, count */
} month_total;

/* ---- writes ---- */

static void write_strs(view_batch *batch, int argc, const char **argv) {
    size_t lens[2 + 2 * ENTRY_CHUNK];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    view_batch_write(batch, argc, argv, lens);
}

/* The current month run of an account's batch: totals and pending entries. */
typedef struct month_run {
    bool active;
    statement_month totals;
    char name[16]; /* "YYYY-MM" */
    int pending;
    size_t len[ENTRY_CHUNK];
    char text[ENTRY_CHUNK][STATEMENTS_ENTRY_MAX];
} month_run;

static int month_key(view_batch *batch, const char *account, const char *kind, const char *month,
                     char *key, char *errstr, size_t errstr_size) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, "%s:%s", kind, month);
    if (view_batch_account_key(batch, account, suffix, key, KEY_BUF) == 0) {
        snprintf(errstr, errstr_size, "key of account '%s' too long", account);
        return -1;
    }
    return 0;
}

static int flush_entries(view_batch *batch, const char *account, month_run *run, char *errstr,
                         size_t errstr_size) {
    if (run->pending == 0)
        return 0;
    char key[KEY_BUF];
    if (month_key(batch, account, "e", run->name, key, errstr, errstr_size) != 0)
        return -1;
    const char *argv[2 + ENTRY_CHUNK];
    size_t lens[2 + ENTRY_CHUNK];
    argv[0] = "RPUSH";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    for (int i = 0; i < run->pending; i++) {
        argv[2 + i] = run->text[i];
        lens[2 + i] = run->len[i];
    }
    view_batch_write(batch, 2 + run->pending, argv, lens);
    run->pending = 0;
    return 0;
}

/* Writes the run's entries and adds its totals to its month's: to the read
 * month in `totals` (written by write_months), else as deltas with the
 * month in the index. */
static int flush_month(view_batch *batch, const char *account, month_run *run, month_total *totals,
                       size_t n_totals, char *errstr, size_t errstr_size) {
    if (!run->active)
        return 0;
    if (flush_entries(batch, account, run, errstr, errstr_size) != 0)
        return -1;
    const statement_month *r = &run->totals;
    for (size_t i = 0; i < n_totals; i++) {
        if (totals[i].month != r->month)
            continue;
        totals[i].values[0] += r->total_in;
        totals[i].values[1] += r->total_out;
        totals[i].values[2] += r->closing_balance - r->opening_balance;
        totals[i].values[3] += r->entries;
        totals[i].touched = true;
        run->active = false;
        return 0;
    }
    char key[KEY_BUF], score[16], num[24];
    if (view_batch_account_key(batch, account, "months", key, sizeof key) == 0) {
        snprintf(errstr, errstr_size, "key of account '%s' too long", account);
        return -1;
    }
    snprintf(score, sizeof score, "%" PRId32, run->totals.month);
    write_strs(batch, 4, (const char *[]){"ZADD", key, score, run->name});

    if (month_key(batch, account, "m", run->name, key, errstr, errstr_size) != 0)
        return -1;
    const statement_month *m = &run->totals;
    static const char *const fields[] = {"total_in", "total_out", "net", "count"};
    const int64_t values[] = {m->total_in, m->total_out, m->closing_balance - m->opening_balance,
                              m->entries};
    for (int i = 0; i < 4; i++) {
        snprintf(num, sizeof num, "%" PRId64, values[i]);
        write_strs(batch, 4, (const char *[]){"HINCRBY", key, fields[i], num});
    }
    run->active = false;
    return 0;
}

/* ---- the view ---- */

static size_t statements_read(const void *state, view_batch *batch,
                              const view_account_input *input) {
    (void)state;
    char key[KEY_BUF];
    if (view_batch_account_key(batch, input->account, "acct", key, sizeof key) == 0)
        return 0; /* apply_account reports it */
    const char *argv[] = {"HMGET", key, "balance", "version"};
    const size_t lens[] = {5, strlen(key), 7, 7};
    view_batch_read(batch, 4, argv, lens);

    int32_t months[MONTH_READS];
    size_t n = batch_months(input->events, input->event_count, months);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        ltime_month_format(months[i], name, sizeof name);
        if (month_key(batch, input->account, "m", name, key, NULL, 0) != 0)
            return 1 + i; /* apply_account reports it */
        const char *m_argv[] = {
            "HMGET", key, month_fields[0], month_fields[1], month_fields[2], month_fields[3]};
        const size_t m_lens[] = {5, strlen(key), 8, 9, 3, 5};
        view_batch_read(batch, 6, m_argv, m_lens);
    }
    return 1 + n;
}

/* The totals of the read months from their HMGET replies. */
static int read_totals(const view_account_input *input, month_total *totals, size_t n, char *errstr,
                       size_t errstr_size) {
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = input->replies[1 + i];
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
            snprintf(errstr, errstr_size, "unreadable month totals of '%s'", input->account);
            return -1;
        }
        totals[i].stored = false;
        totals[i].touched = false;
        for (size_t f = 0; f < 4; f++) {
            bool present;
            if (reply_int64(r->element[f], month_fields[f], &totals[i].values[f], &present, errstr,
                            errstr_size) != 0)
                return -1;
            totals[i].stored = totals[i].stored || present;
        }
    }
    return 0;
}

/* The new totals of every read month the batch added to (one HSET each),
 * and the index entry of those that were not stored. */
static int write_months(view_batch *batch, const char *account, const month_total *totals, size_t n,
                        char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < n; i++) {
        if (!totals[i].touched)
            continue;
        char key[KEY_BUF], name[16], nums[4][TEXT_INT_BUF];
        ltime_month_format(totals[i].month, name, sizeof name);
        if (!totals[i].stored) {
            char score[TEXT_INT_BUF];
            if (view_batch_account_key(batch, account, "months", key, sizeof key) == 0) {
                snprintf(errstr, errstr_size, "key of account '%s' too long", account);
                return -1;
            }
            text_int_format(totals[i].month, score);
            write_strs(batch, 4, (const char *[]){"ZADD", key, score, name});
        }
        if (month_key(batch, account, "m", name, key, errstr, errstr_size) != 0)
            return -1;
        const char *argv[10] = {"HSET", key};
        size_t lens[10] = {4, strlen(key)};
        for (int f = 0; f < 4; f++) {
            argv[2 + 2 * f] = month_fields[f];
            lens[2 + 2 * f] = strlen(month_fields[f]);
            argv[3 + 2 * f] = nums[f];
            lens[3 + 2 * f] = text_int_format(totals[i].values[f], nums[f]);
        }
        view_batch_write(batch, 10, argv, lens);
    }
    return 0;
}

static int statements_apply(const void *state, view_batch *batch, const view_account_input *input,
                            char *errstr, size_t errstr_size) {
    (void)state;
    const char *account = input->account;
    int32_t months[MONTH_READS];
    size_t n_months = batch_months(input->events, input->event_count, months);
    if (input->reply_count < 1 + n_months || input->replies == NULL) {
        snprintf(errstr, errstr_size, "statements state of '%s' not read (key too long?)", account);
        return -1;
    }
    month_total totals[MONTH_READS];
    for (size_t i = 0; i < n_months; i++)
        totals[i].month = months[i];
    if (read_totals(input, totals, n_months, errstr, errstr_size) != 0)
        return -1;
    const redisReply *r = input->replies[0];
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        snprintf(errstr, errstr_size, "unreadable statements state of '%s'", account);
        return -1;
    }
    int64_t balance, version;
    bool has_balance, has_version;
    if (reply_int64(r->element[0], "balance", &balance, &has_balance, errstr, errstr_size) != 0 ||
        reply_int64(r->element[1], "version", &version, &has_version, errstr, errstr_size) != 0)
        return -1;
    if (has_balance != has_version || version < 0) {
        snprintf(errstr, errstr_size,
                 "unreadable statements state of '%s': balance and version "
                 "disagree",
                 account);
        return -1;
    }

    /* First pass: the events to apply must follow the stored version without
     * a gap; nothing is written unless all of them can be. */
    int64_t expect = version + 1;
    for (size_t i = 0; i < input->event_count; i++) {
        int64_t seq = input->events[i].seq;
        if (seq < expect)
            continue;
        if (seq != expect) {
            snprintf(errstr, errstr_size,
                     "event seq %" PRId64 " of '%s' does not follow version %" PRId64, seq, account,
                     expect - 1);
            return -1;
        }
        expect++;
    }
    if (expect == version + 1)
        return 0; /* a replay: nothing new */

    month_run run;
    run.active = false;
    run.pending = 0;
    for (size_t i = 0; i < input->event_count; i++) {
        const ledger_event *e = &input->events[i];
        if (e->seq <= version)
            continue;
        version = e->seq;
        statement_line line;
        if (!statement_line_of(e, balance, &line))
            continue;
        balance = line.balance_after;
        if (run.active && run.totals.month != line.month &&
            flush_month(batch, account, &run, totals, n_months, errstr, errstr_size) != 0)
            return -1;
        if (!run.active) {
            statement_month_init(&run.totals, line.month, 0);
            ltime_month_format(line.month, run.name, sizeof run.name);
            run.active = true;
        }
        statement_month_add(&run.totals, &line);
        if (run.pending == ENTRY_CHUNK &&
            flush_entries(batch, account, &run, errstr, errstr_size) != 0)
            return -1;
        size_t n = statements_entry_render(&line, run.text[run.pending], STATEMENTS_ENTRY_MAX);
        if (n == 0) {
            snprintf(errstr, errstr_size, "entry seq %" PRId64 " of '%s' cannot be rendered",
                     e->seq, account);
            return -1;
        }
        run.len[run.pending++] = n;
    }
    if (flush_month(batch, account, &run, totals, n_months, errstr, errstr_size) != 0 ||
        write_months(batch, account, totals, n_months, errstr, errstr_size) != 0)
        return -1;

    char key[KEY_BUF], bal[24], ver[24];
    if (view_batch_account_key(batch, account, "acct", key, sizeof key) == 0) {
        snprintf(errstr, errstr_size, "key of account '%s' too long", account);
        return -1;
    }
    text_int_format(balance, bal);
    text_int_format(version, ver);
    write_strs(batch, 6, (const char *[]){"HSET", key, "balance", bal, "version", ver});
    return 0;
}

const projector_view statements_view = {
    .name = "statements",
    .help = "monthly statements: running balance, month totals and entries per account",
    .settings = NULL,
    .open = NULL,
    .close = NULL,
    .read_account = statements_read,
    .apply_account = statements_apply,
};
