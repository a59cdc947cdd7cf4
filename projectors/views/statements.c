/*
 * statements.c - the statements view: running balance, month totals and
 * pre-rendered statement entries per account (layout in statements_view.h).
 *
 * Why this shape: Redis's cost of this view is per command and per key, and
 * a catch-up creates a month of an account with almost every event (the
 * accounts of a long log are spread over its years). So an account is one
 * hash that holds its running balance, version, latest month and every
 * month's totals, plus one list of entries per month: a batch reads the
 * account with one HMGET (round trip 1) and writes it with one HSET and one
 * RPUSH per month it touches. Totals are two fields per month (total_in,
 * total_out): the net is their difference, and a month's opening balance the
 * sum of the nets before it, which `ledger statement` adds up from the same
 * hash. Entries are RPUSHed, which is safe because the runtime writes a batch
 * atomically with its checkpoint and the version check skips events already
 * applied, so an entry is never pushed twice. Entries are rendered here,
 * once, so a query only concatenates them.
 *
 * Events are folded in log order with the pure core (statement_line_of,
 * statement_month_add). Consecutive events of the same month form a run
 * whose entries are pushed together; a back-dated event simply starts
 * another run for its own month, so each month's list stays in log order,
 * and its totals join the month's. Months beyond the first MONTH_READS of an
 * account's batch (only a feed of back-dated events has that many) are not
 * read: their totals are HINCRBY deltas, as exact.
 *
 * The runtime may keep an account's state between batches (view.h,
 * state_size): balance, version and the latest month with its totals. A
 * batch whose months are all that month or later then reads nothing; one
 * that goes back to an earlier month reads the hash as without a kept state.
 * Nothing is allocated: entries are rendered into a fixed chunk that is
 * flushed as one RPUSH when full.
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
/* "i:" or "o:" and a month: "i:-12345-01" at the widest. */
#define FIELD_BUF 24
/* HMGET key balance version month, then two fields per month. */
#define READ_ARGS (5 + 2 * MONTH_READS)
/* No month stored yet. */
#define NO_MONTH INT32_MIN

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

size_t statements_month_field(char kind, int32_t month, char *buf, size_t size) {
    char name[LTIME_TEXT_BUF];
    size_t n = ltime_month_format(month, name, sizeof name);
    if (n == 0 || n + 3 > size)
        return 0;
    buf[0] = kind;
    buf[1] = ':';
    memcpy(buf + 2, name, n + 1);
    return n + 2;
}

int statements_month_field_parse(const char *field, size_t len, char *kind, int32_t *month) {
    const char *why = NULL;
    if (len < 3 || (field[0] != 'i' && field[0] != 'o') || field[1] != ':' ||
        ltime_month_parse(field + 2, len - 2, month, &why) != 0)
        return -1;
    *kind = field[0];
    return 0;
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
    if (text_int_parse(r->str, r->len, out) != 0) {
        snprintf(errstr, errstr_size, "unreadable %s '%.*s': not an integer", what,
                 (int)(r->len > 40 ? 40 : r->len), r->str);
        return -1;
    }
    *present = true;
    return 0;
}

/* An account's stored state as far as it is known: what the runtime keeps
 * between batches (state_size), and what a batch starts from. */
typedef struct statements_kept {
    int64_t version;
    int64_t balance;
    int32_t month;     /* the latest month with entries, or NO_MONTH */
    bool month_totals; /* total_in/total_out below are that month's */
    int64_t total_in, total_out;
} statements_kept;

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

/* Whether the kept state tells the stored totals of every month listed:
 * the kept latest month, or a later one (nothing stored yet). */
static bool kept_covers(const statements_kept *k, const int32_t *months, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (months[i] < k->month || (months[i] == k->month && !k->month_totals))
            return false;
    return true;
}

/* One read month of an account's batch: what is stored and what is added. */
typedef struct month_total {
    int32_t month;
    int64_t total_in, total_out;
    int64_t stored_in, stored_out; /* before the batch: only what changes is written */
} month_total;

/* ---- writes ---- */

/* The current month run of an account's batch: totals and pending entries. */
typedef struct month_run {
    bool active;
    statement_month totals;
    char name[16]; /* "YYYY-MM" */
    int pending;
    size_t len[ENTRY_CHUNK];
    char text[ENTRY_CHUNK][STATEMENTS_ENTRY_MAX];
} month_run;

static int account_key(view_batch *batch, const char *account, const char *suffix, char *key,
                       char *errstr, size_t errstr_size) {
    if (view_batch_account_key(batch, account, suffix, key, KEY_BUF) == 0) {
        if (errstr != NULL)
            snprintf(errstr, errstr_size, "key of account '%s' too long", account);
        return -1;
    }
    return 0;
}

static int flush_entries(view_batch *batch, const char *account, month_run *run, char *errstr,
                         size_t errstr_size) {
    if (run->pending == 0)
        return 0;
    char key[KEY_BUF], suffix[32];
    snprintf(suffix, sizeof suffix, "e:%s", run->name);
    if (account_key(batch, account, suffix, key, errstr, errstr_size) != 0)
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

/* Writes the run's entries and adds its totals to its month's: to the known
 * month in `totals` (stored by the final HSET), else as HINCRBY deltas. */
static int flush_month(view_batch *batch, const char *account, month_run *run, month_total *totals,
                       size_t n_totals, char *errstr, size_t errstr_size) {
    if (!run->active)
        return 0;
    if (flush_entries(batch, account, run, errstr, errstr_size) != 0)
        return -1;
    run->active = false;
    const statement_month *r = &run->totals;
    for (size_t i = 0; i < n_totals; i++) {
        if (totals[i].month != r->month)
            continue;
        totals[i].total_in = statement_sat_add(totals[i].total_in, r->total_in);
        totals[i].total_out = statement_sat_add(totals[i].total_out, r->total_out);
        return 0;
    }
    char key[KEY_BUF], field[FIELD_BUF], num[TEXT_INT_BUF];
    if (account_key(batch, account, STATEMENTS_ACCOUNT_SUFFIX, key, errstr, errstr_size) != 0)
        return -1;
    const int64_t values[] = {r->total_in, r->total_out};
    for (int i = 0; i < 2; i++) {
        if (values[i] == 0)
            continue;
        size_t field_len =
            statements_month_field(i == 0 ? 'i' : 'o', r->month, field, sizeof field);
        size_t num_len = text_int_format(values[i], num);
        const char *argv[] = {"HINCRBY", key, field, num};
        const size_t lens[] = {7, strlen(key), field_len, num_len};
        view_batch_write(batch, 4, argv, lens);
    }
    return 0;
}

/* ---- the view ---- */

static size_t statements_read(const void *state, view_batch *batch,
                              const view_account_input *input) {
    (void)state;
    int32_t months[MONTH_READS];
    size_t n = batch_months(input->events, input->event_count, months);
    const statements_kept *k = input->cached;
    if (k != NULL && kept_covers(k, months, n))
        return 0;
    char key[KEY_BUF];
    if (account_key(batch, input->account, STATEMENTS_ACCOUNT_SUFFIX, key, NULL, 0) != 0)
        return 0; /* apply_account reports it */
    char fields[2 * MONTH_READS][FIELD_BUF];
    const char *argv[READ_ARGS] = {"HMGET", key, "balance", "version", "month"};
    size_t lens[READ_ARGS] = {5, strlen(key), 7, 7, 5};
    for (size_t i = 0; i < 2 * n; i++) {
        argv[5 + i] = fields[i];
        lens[5 + i] =
            statements_month_field(i % 2 == 0 ? 'i' : 'o', months[i / 2], fields[i], FIELD_BUF);
    }
    view_batch_read(batch, (int)(5 + 2 * n), argv, lens);
    return 1;
}

/* The stored state from the HMGET reply: balance, version, latest month
 * (its totals not known from here) and the totals of the read months. */
static int parse_stored(const view_account_input *input, statements_kept *stored,
                        month_total *totals, size_t n, char *errstr, size_t errstr_size) {
    const char *account = input->account;
    const redisReply *r = input->replies[0];
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 + 2 * n) {
        snprintf(errstr, errstr_size, "unreadable statements state of '%s'", account);
        return -1;
    }
    bool has_balance, has_version, has;
    memset(stored, 0, sizeof(*stored));
    if (reply_int64(r->element[0], "balance", &stored->balance, &has_balance, errstr,
                    errstr_size) != 0 ||
        reply_int64(r->element[1], "version", &stored->version, &has_version, errstr,
                    errstr_size) != 0)
        return -1;
    if (has_balance != has_version || stored->version < 0) {
        snprintf(errstr, errstr_size,
                 "unreadable statements state of '%s': balance and version disagree", account);
        return -1;
    }
    stored->month = NO_MONTH;
    const redisReply *m = r->element[2];
    if (m->type == REDIS_REPLY_STRING) {
        const char *why = NULL;
        if (ltime_month_parse(m->str, m->len, &stored->month, &why) != 0) {
            snprintf(errstr, errstr_size, "unreadable latest month '%.*s' of '%s': %s",
                     (int)(m->len > 40 ? 40 : m->len), m->str, account, why);
            return -1;
        }
    } else if (m->type != REDIS_REPLY_NIL) {
        snprintf(errstr, errstr_size, "unreadable latest month of '%s'", account);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (reply_int64(r->element[3 + 2 * i], "total_in", &totals[i].total_in, &has, errstr,
                        errstr_size) != 0 ||
            reply_int64(r->element[4 + 2 * i], "total_out", &totals[i].total_out, &has, errstr,
                        errstr_size) != 0)
            return -1;
    }
    return 0;
}

/* Leaves the account's state after the batch in input->state_out: the
 * latest month's totals are known when it is a read month, or the month
 * `stored` knew and the batch did not touch. */
static void keep_state(const view_account_input *input, int64_t balance, int64_t version,
                       int32_t latest, const month_total *totals, size_t n,
                       const statements_kept *stored) {
    if (input->state_out == NULL)
        return;
    statements_kept k;
    memset(&k, 0, sizeof k);
    k.version = version;
    k.balance = balance;
    k.month = latest;
    k.month_totals = latest == NO_MONTH;
    if (latest == stored->month && stored->month_totals) {
        k.month_totals = true;
        k.total_in = stored->total_in;
        k.total_out = stored->total_out;
    }
    for (size_t i = 0; i < n; i++) {
        if (totals[i].month == latest) {
            k.month_totals = true;
            k.total_in = totals[i].total_in;
            k.total_out = totals[i].total_out;
        }
    }
    memcpy(input->state_out, &k, sizeof k);
}

static int statements_apply(const void *state, view_batch *batch, const view_account_input *input,
                            char *errstr, size_t errstr_size) {
    (void)state;
    const char *account = input->account;
    int32_t months[MONTH_READS];
    size_t n_months = batch_months(input->events, input->event_count, months);
    month_total totals[MONTH_READS];
    for (size_t i = 0; i < n_months; i++)
        totals[i] = (month_total){.month = months[i]};

    statements_kept stored;
    if (input->reply_count == 0 && input->cached != NULL) {
        memcpy(&stored, input->cached, sizeof stored);
        for (size_t i = 0; i < n_months; i++) {
            if (months[i] == stored.month) {
                totals[i].total_in = stored.total_in;
                totals[i].total_out = stored.total_out;
            }
        }
    } else if (input->reply_count >= 1 && input->replies != NULL) {
        if (parse_stored(input, &stored, totals, n_months, errstr, errstr_size) != 0)
            return -1;
    } else {
        snprintf(errstr, errstr_size, "statements state of '%s' not read (key too long?)", account);
        return -1;
    }
    for (size_t i = 0; i < n_months; i++) {
        totals[i].stored_in = totals[i].total_in;
        totals[i].stored_out = totals[i].total_out;
    }

    /* First pass: the events to apply must follow the stored version without
     * a gap; nothing is written unless all of them can be. */
    int64_t balance = stored.balance, version = stored.version;
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
    if (expect == version + 1) {
        keep_state(input, balance, version, stored.month, totals, n_months, &stored);
        return 0; /* a replay: nothing new */
    }

    int32_t latest = stored.month;
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
        if (line.month > latest || latest == NO_MONTH)
            latest = line.month;
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
    if (flush_month(batch, account, &run, totals, n_months, errstr, errstr_size) != 0)
        return -1;

    /* One HSET: balance, version, the latest month if it moved, and the
     * totals of every known month the batch added to. */
    char key[KEY_BUF], bal[TEXT_INT_BUF], ver[TEXT_INT_BUF], latest_name[LTIME_TEXT_BUF];
    char fields[2 * MONTH_READS][FIELD_BUF], nums[2 * MONTH_READS][TEXT_INT_BUF];
    const char *argv[4 + 2 + 2 * 2 * MONTH_READS + 2];
    size_t lens[4 + 2 + 2 * 2 * MONTH_READS + 2];
    if (account_key(batch, account, STATEMENTS_ACCOUNT_SUFFIX, key, errstr, errstr_size) != 0)
        return -1;
    int argc = 0;
    argv[argc] = "HSET";
    lens[argc++] = 4;
    argv[argc] = key;
    lens[argc++] = strlen(key);
    argv[argc] = "balance";
    lens[argc++] = 7;
    argv[argc] = bal;
    lens[argc++] = text_int_format(balance, bal);
    argv[argc] = "version";
    lens[argc++] = 7;
    argv[argc] = ver;
    lens[argc++] = text_int_format(version, ver);
    if (latest != stored.month) {
        argv[argc] = "month";
        lens[argc++] = 5;
        argv[argc] = latest_name;
        lens[argc++] = ltime_month_format(latest, latest_name, sizeof latest_name);
    }
    size_t f = 0;
    for (size_t i = 0; i < n_months; i++) {
        const int64_t values[] = {totals[i].total_in, totals[i].total_out};
        const int64_t before[] = {totals[i].stored_in, totals[i].stored_out};
        for (int j = 0; j < 2; j++, f++) {
            if (values[j] == before[j])
                continue; /* absent reads as 0 */
            argv[argc] = fields[f];
            lens[argc++] =
                statements_month_field(j == 0 ? 'i' : 'o', totals[i].month, fields[f], FIELD_BUF);
            argv[argc] = nums[f];
            lens[argc++] = text_int_format(values[j], nums[f]);
        }
    }
    view_batch_write(batch, argc, argv, lens);
    keep_state(input, balance, version, latest, totals, n_months, &stored);
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
    .state_size = sizeof(statements_kept),
};
