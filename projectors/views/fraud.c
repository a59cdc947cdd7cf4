/*
 * fraud.c - the fraud view: folds each account's debits through the core's
 * rules (core/fraud.h) and stores the flags they raise (layout in
 * fraud_view.h).
 *
 * Why this shape: the rules need two things from the past, both kept in
 * Redis so the view holds no state of its own between batches. The velocity
 * window is small and bounded (FRAUD_WINDOW_CAP times), so it is stored
 * whole in the account's hash beside the version. "Has this account paid X
 * before" is an unbounded set, so it is a Redis set, and a batch asks it
 * only about the payees that can matter: the counterparties of its transfers
 * large enough for new_payee (SMISMEMBER, in chunks). A payee first paid
 * earlier in the same batch counts as seen, as it would have one event
 * later in a smaller batch: flags do not depend on where batches are cut.
 *
 * The runtime may keep an account's version and window between batches
 * (view.h, state_size): a fraud_kept, when the window holds at most
 * FRAUD_KEPT_TIMES debit times (a longer one is marked not kept, and read
 * again). The payees are never kept: SMISMEMBER is asked as before.
 *
 * Writes are appended only after the whole batch of the account has been
 * checked (stored state readable, seqs contiguous), so an account that is
 * quarantined leaves no half-written state behind. Nothing is allocated per
 * event: flags and payees are gathered in fixed chunks.
 */
#include "fraud_view.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltime.h"
#include "money.h"
#include "text_cursor.h"

#define KEY_BUF 640
/* Counterparties per SMISMEMBER and per SADD; flags per RPUSH. */
#define PAYEE_CHUNK 32
#define FLAG_CHUNK  16

/* ---- settings ---- */

/* A threshold in the input form of amounts (SPEC section 4). */
static int check_threshold(const char *value, char *why, size_t why_size) {
    int64_t cents;
    const char *fault = NULL;
    if (money_parse(value, strlen(value), false, &cents, &fault) != 0) {
        snprintf(why, why_size, "%s", fault != NULL ? fault : "not an amount");
        return -1;
    }
    return 0;
}

static const ledger_config_setting fraud_settings[] = {
    {.name = "fraud_large_debit",
     .env = "LEDGER_FRAUD_LARGE_DEBIT",
     .flag = "fraud-large-debit",
     .type = LEDGER_CONFIG_STRING,
     .def = "10000.00",
     .metavar = "AMOUNT",
     .check = check_threshold,
     .help = "large_debit: a withdrawal or transfer sent of at least this amount"},
    {.name = "fraud_velocity_count",
     .env = "LEDGER_FRAUD_VELOCITY_COUNT",
     .flag = "fraud-velocity-count",
     .type = LEDGER_CONFIG_INT,
     .def = "5",
     .min = 1,
     .max = FRAUD_WINDOW_CAP,
     .help = "velocity: this many debits (counting the one checked) within the window"},
    {.name = "fraud_velocity_window",
     .env = "LEDGER_FRAUD_VELOCITY_WINDOW",
     .flag = "fraud-velocity-window",
     .type = LEDGER_CONFIG_DURATION,
     .def = "60s",
     .min = 0,
     .max = INT64_C(31536000000), /* a year */
     .metavar = "SECONDS",
     .help = "velocity: the window, closed at both ends (seconds, or 500ms, 2m)"},
    {.name = "fraud_new_payee",
     .env = "LEDGER_FRAUD_NEW_PAYEE",
     .flag = "fraud-new-payee",
     .type = LEDGER_CONFIG_STRING,
     .def = "1000.00",
     .metavar = "AMOUNT",
     .check = check_threshold,
     .help = "new_payee: a transfer sent of at least this amount to a first-time payee"},
    LEDGER_CONFIG_END,
};

static int fraud_open(const ledger_config *cfg, void **state, char *errstr, size_t errstr_size) {
    fraud_config c;
    const char *why = NULL;
    const char *large = ledger_config_str(cfg, "fraud_large_debit");
    const char *payee = ledger_config_str(cfg, "fraud_new_payee");
    *state = NULL;
    fraud_config_default(&c);
    if (money_parse(large, strlen(large), false, &c.large_debit_cents, &why) != 0) {
        snprintf(errstr, errstr_size, "invalid LEDGER_FRAUD_LARGE_DEBIT '%s': %s", large, why);
        return -1;
    }
    if (money_parse(payee, strlen(payee), false, &c.new_payee_cents, &why) != 0) {
        snprintf(errstr, errstr_size, "invalid LEDGER_FRAUD_NEW_PAYEE '%s': %s", payee, why);
        return -1;
    }
    c.velocity_count = (int32_t)ledger_config_int(cfg, "fraud_velocity_count");
    c.velocity_window_ms = ledger_config_duration_ms(cfg, "fraud_velocity_window");
    if (fraud_config_validate(&c, &why) != 0) {
        snprintf(errstr, errstr_size, "invalid fraud thresholds: %s", why);
        return -1;
    }
    fraud_config *copy = malloc(sizeof *copy);
    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    *copy = c;
    *state = copy;
    return 0;
}

static void fraud_close(void *state) {
    free(state);
}

/* ---- pure pieces ---- */

size_t fraud_view_window_format(const fraud_window *window, char *buf, size_t size) {
    if (size == 0)
        return 0;
    text_cursor c = {.buf = buf, .size = size};
    buf[0] = '\0';
    text_cursor_put_str(&c, "v1:");
    int32_t n = window->count < 0 ? 0 : window->count;
    if (n > FRAUD_WINDOW_CAP)
        n = FRAUD_WINDOW_CAP;
    for (int32_t i = 0; i < n; i++) {
        if (i > 0)
            text_cursor_put_bytes(&c, ",", 1);
        text_cursor_put_int(&c, window->at_ms[i]);
    }
    return c.overflow ? 0 : c.len;
}

int fraud_view_window_parse(const char *text, size_t len, fraud_window *window, const char **why) {
    fraud_window_init(window);
    if (len < 3 || memcmp(text, "v1:", 3) != 0) {
        *why = "unknown window format (expected v1:)";
        return -1;
    }
    size_t pos = 3;
    if (pos == len)
        return 0;
    for (;;) {
        size_t end = pos;
        while (end < len && text[end] != ',')
            end++;
        if (window->count == FRAUD_WINDOW_CAP) {
            *why = "more values than the window holds";
            goto bad;
        }
        int64_t v;
        if (text_int_parse(text + pos, end - pos, &v) != 0) {
            *why = "a value is not an integer";
            goto bad;
        }
        if (window->count > 0 && v < window->at_ms[window->count - 1]) {
            *why = "values out of order";
            goto bad;
        }
        window->at_ms[window->count++] = v;
        if (end == len)
            return 0;
        pos = end + 1;
    }
bad:
    fraud_window_init(window);
    return -1;
}

size_t fraud_view_flag_render(const fraud_flag *flag, char *buf, size_t size) {
    const char *rule = fraud_rule_name(flag->rule);
    if (rule == NULL || size == 0)
        return 0;
    text_cursor c = {.buf = buf, .size = size};
    char tmp[LTIME_TEXT_BUF > MONEY_TEXT_BUF ? LTIME_TEXT_BUF : MONEY_TEXT_BUF];
    buf[0] = '\0';
    text_cursor_put_str(&c, "{\"rule\":\"");
    text_cursor_put_str(&c, rule);
    text_cursor_put_str(&c, "\",\"seq\":");
    text_cursor_put_int(&c, flag->seq);
    text_cursor_put_str(&c, ",\"at\":\"");
    text_cursor_put_bytes(&c, tmp, ltime_format(flag->at_ms, tmp, sizeof tmp));
    text_cursor_put_str(&c, "\",\"amount\":\"");
    text_cursor_put_bytes(&c, tmp, money_format(flag->amount, tmp, sizeof tmp));
    text_cursor_put_str(&c, "\"}");
    return c.overflow ? 0 : c.len;
}

/* ---- the kept state ---- */

/* Debit times a kept state holds: with the default velocity rule (5 in 60
 * s) a window holds at most 4 after a fold, more only in a burst. */
#define FRAUD_KEPT_TIMES 6

typedef struct fraud_kept {
    int64_t version; /* -1: not kept (the window was longer): read it */
    int32_t count;
    int64_t at_ms[FRAUD_KEPT_TIMES];
} fraud_kept;

static bool kept_usable(const view_account_input *input) {
    return input->cached != NULL && ((const fraud_kept *)input->cached)->version >= 0;
}

static void keep_state(const view_account_input *input, int64_t version,
                       const fraud_window *window) {
    if (input->state_out == NULL)
        return;
    fraud_kept k;
    memset(&k, 0, sizeof k);
    k.version = window->count <= FRAUD_KEPT_TIMES ? version : -1;
    k.count = window->count <= FRAUD_KEPT_TIMES ? window->count : 0;
    for (int32_t i = 0; i < k.count; i++)
        k.at_ms[i] = window->at_ms[i];
    memcpy(input->state_out, &k, sizeof k);
}

static void kept_window(const fraud_kept *k, int64_t *version, fraud_window *window) {
    fraud_window_init(window);
    *version = k->version;
    window->count = k->count;
    for (int32_t i = 0; i < k->count; i++)
        window->at_ms[i] = k->at_ms[i];
}

/* ---- reads ---- */

/* The events whose payee is asked about: transfers that new_payee may flag. */
static bool asks_payee(const fraud_config *config, const ledger_event *e) {
    return e->type == LEDGER_EVENT_TRANSFER_SENT && e->amount >= config->new_payee_cents;
}

static size_t payee_chunks(const fraud_config *config, const view_account_input *input) {
    size_t asked = 0;
    for (size_t i = 0; i < input->event_count; i++)
        asked += asks_payee(config, &input->events[i]);
    return (asked + PAYEE_CHUNK - 1) / PAYEE_CHUNK;
}

/* Appends one SMISMEMBER of the payees set for the counterparties of
 * events[from..) that asks_payee, at most PAYEE_CHUNK. Returns the index
 * after the last event used. */
static size_t read_payee_chunk(const fraud_config *config, view_batch *batch, const char *key,
                               const view_account_input *input, size_t from) {
    const char *argv[2 + PAYEE_CHUNK];
    size_t lens[2 + PAYEE_CHUNK];
    int argc = 2;
    argv[0] = "SMISMEMBER";
    lens[0] = 10;
    argv[1] = key;
    lens[1] = strlen(key);
    size_t i = from;
    for (; i < input->event_count && argc < 2 + PAYEE_CHUNK; i++) {
        const ledger_event *e = &input->events[i];
        if (!asks_payee(config, e))
            continue;
        argv[argc] = e->counterparty;
        lens[argc] = ledger_id_len(e->counterparty, sizeof e->counterparty);
        argc++;
    }
    view_batch_read(batch, argc, argv, lens);
    return i;
}

static size_t fraud_read(const void *state, view_batch *batch, const view_account_input *input) {
    const fraud_config *config = state;
    char key[KEY_BUF];
    size_t head = 0; /* the HMGET of version and window, unless kept */
    if (!kept_usable(input)) {
        if (view_batch_account_key(batch, input->account, "fraud", key, sizeof key) == 0)
            return 0; /* apply_account reports it */
        const char *argv[] = {"HMGET", key, "version", "window"};
        const size_t lens[] = {5, strlen(key), 7, 6};
        view_batch_read(batch, 4, argv, lens);
        head = 1;
    }

    size_t chunks = payee_chunks(config, input);
    if (chunks == 0)
        return head;
    if (view_batch_account_key(batch, input->account, "payees", key, sizeof key) == 0)
        return head;
    size_t next = 0;
    for (size_t c = 0; c < chunks; c++)
        next = read_payee_chunk(config, batch, key, input, next);
    return head + chunks;
}

/* ---- apply ---- */

/* The stored state: version and window from the HMGET reply. */
static int parse_state(const redisReply *r, const char *account, int64_t *version,
                       fraud_window *window, char *errstr, size_t errstr_size) {
    const char *why = NULL;
    *version = 0;
    fraud_window_init(window);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        snprintf(errstr, errstr_size, "unreadable fraud state of '%s'", account);
        return -1;
    }
    const redisReply *v = r->element[0], *w = r->element[1];
    bool has_v = v != NULL && v->type != REDIS_REPLY_NIL;
    bool has_w = w != NULL && w->type != REDIS_REPLY_NIL;
    if (!has_v && !has_w)
        return 0;
    if (has_v != has_w || v->type != REDIS_REPLY_STRING || w->type != REDIS_REPLY_STRING) {
        snprintf(errstr, errstr_size, "unreadable fraud state of '%s': version and window disagree",
                 account);
        return -1;
    }
    if (text_int_parse(v->str, v->len, version) != 0 || *version < 0) {
        snprintf(errstr, errstr_size, "unreadable fraud version of '%s' '%.*s'", account,
                 (int)(v->len > 40 ? 40 : v->len), v->str);
        return -1;
    }
    if (fraud_view_window_parse(w->str, w->len, window, &why) != 0) {
        snprintf(errstr, errstr_size, "unreadable fraud window of '%s': %s", account, why);
        return -1;
    }
    return 0;
}

/* Pending writes of one account's batch, flushed in fixed chunks. */
typedef struct fraud_writes {
    view_batch *batch;
    char flags_key[KEY_BUF];
    char payees_key[KEY_BUF];
    int flag_count;
    size_t flag_len[FLAG_CHUNK];
    char flag_text[FLAG_CHUNK][FRAUD_VIEW_FLAG_MAX];
    int payee_count;
    const char *payee[PAYEE_CHUNK];
    size_t payee_len[PAYEE_CHUNK];
} fraud_writes;

static void flush_flags(fraud_writes *w) {
    if (w->flag_count == 0)
        return;
    const char *argv[2 + FLAG_CHUNK];
    size_t lens[2 + FLAG_CHUNK];
    argv[0] = "RPUSH";
    lens[0] = 5;
    argv[1] = w->flags_key;
    lens[1] = strlen(w->flags_key);
    for (int i = 0; i < w->flag_count; i++) {
        argv[2 + i] = w->flag_text[i];
        lens[2 + i] = w->flag_len[i];
    }
    view_batch_write(w->batch, 2 + w->flag_count, argv, lens);
    w->flag_count = 0;
}

static void flush_payees(fraud_writes *w) {
    if (w->payee_count == 0)
        return;
    const char *argv[2 + PAYEE_CHUNK];
    size_t lens[2 + PAYEE_CHUNK];
    argv[0] = "SADD";
    lens[0] = 4;
    argv[1] = w->payees_key;
    lens[1] = strlen(w->payees_key);
    for (int i = 0; i < w->payee_count; i++) {
        argv[2 + i] = w->payee[i];
        lens[2 + i] = w->payee_len[i];
    }
    view_batch_write(w->batch, 2 + w->payee_count, argv, lens);
    w->payee_count = 0;
}

/* Whether the stored payees set holds the counterparty of the k-th asked
 * event (k counts asks_payee events of the batch from 0). */
static int stored_payee_seen(const view_account_input *input, size_t head, size_t k, bool *seen,
                             char *errstr, size_t errstr_size) {
    const redisReply *r = input->replies[head + k / PAYEE_CHUNK];
    size_t at = k % PAYEE_CHUNK;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || at >= r->elements ||
        r->element[at]->type != REDIS_REPLY_INTEGER) {
        snprintf(errstr, errstr_size, "unreadable payees of '%s'", input->account);
        return -1;
    }
    *seen = r->element[at]->integer != 0;
    return 0;
}

/* Whether an event before events[i] of the batch is a transfer sent to the
 * same counterparty (already applied or not: either way it was paid). */
static bool paid_earlier_in_batch(const view_account_input *input, size_t i) {
    const ledger_event *e = &input->events[i];
    for (size_t j = 0; j < i; j++) {
        const ledger_event *p = &input->events[j];
        if (p->type == LEDGER_EVENT_TRANSFER_SENT &&
            strncmp(p->counterparty, e->counterparty, sizeof e->counterparty) == 0)
            return true;
    }
    return false;
}

static int fraud_apply(const void *state, view_batch *batch, const view_account_input *input,
                       char *errstr, size_t errstr_size) {
    const fraud_config *config = state;
    const char *account = input->account;
    size_t head = kept_usable(input) ? 0 : 1;
    size_t chunks = payee_chunks(config, input);
    if ((head + chunks > 0 && input->replies == NULL) || input->reply_count != head + chunks) {
        snprintf(errstr, errstr_size, "fraud state of '%s' not read (key too long?)", account);
        return -1;
    }
    int64_t version;
    fraud_window window;
    if (head == 0)
        kept_window(input->cached, &version, &window);
    else if (parse_state(input->replies[0], account, &version, &window, errstr, errstr_size) != 0)
        return -1;

    /* First pass: everything that can fail, before anything is written. */
    int64_t expect = version + 1;
    size_t asked = 0;
    for (size_t i = 0; i < input->event_count; i++) {
        const ledger_event *e = &input->events[i];
        bool seen;
        if (asks_payee(config, e) &&
            stored_payee_seen(input, head, asked++, &seen, errstr, errstr_size) != 0)
            return -1;
        if (e->seq < expect)
            continue;
        if (e->seq != expect) {
            snprintf(errstr, errstr_size,
                     "event seq %" PRId64 " of '%s' does not follow version %" PRId64, e->seq,
                     account, expect - 1);
            return -1;
        }
        expect++;
    }
    if (expect == version + 1) {
        keep_state(input, version, &window);
        return 0; /* a replay: nothing new */
    }

    fraud_writes w;
    w.batch = batch;
    w.flag_count = 0;
    w.payee_count = 0;
    char fraud_key[KEY_BUF], flagged_key[KEY_BUF];
    if (view_batch_account_key(batch, account, "flags", w.flags_key, KEY_BUF) == 0 ||
        view_batch_account_key(batch, account, "payees", w.payees_key, KEY_BUF) == 0 ||
        view_batch_account_key(batch, account, "fraud", fraud_key, KEY_BUF) == 0 ||
        view_batch_view_key(batch, "flagged", flagged_key, KEY_BUF) == 0) {
        snprintf(errstr, errstr_size, "key of account '%s' too long", account);
        return -1;
    }

    bool flagged = false;
    asked = 0;
    for (size_t i = 0; i < input->event_count; i++) {
        const ledger_event *e = &input->events[i];
        bool seen = false;
        if (asks_payee(config, e)) {
            (void)stored_payee_seen(input, head, asked++, &seen, errstr, errstr_size);
            seen = seen || paid_earlier_in_batch(input, i);
        }
        if (e->seq <= version)
            continue;
        version = e->seq;

        fraud_flag out[FRAUD_MAX_FLAGS_PER_EVENT];
        int n = fraud_check(config, &window, e, seen, out);
        for (int f = 0; f < n; f++) {
            if (w.flag_count == FLAG_CHUNK)
                flush_flags(&w);
            size_t len =
                fraud_view_flag_render(&out[f], w.flag_text[w.flag_count], FRAUD_VIEW_FLAG_MAX);
            if (len == 0)
                continue; /* cannot happen: every rule has a name and the buffer fits */
            w.flag_len[w.flag_count++] = len;
            flagged = true;
        }
        if (e->type == LEDGER_EVENT_TRANSFER_SENT) {
            if (w.payee_count == PAYEE_CHUNK)
                flush_payees(&w);
            w.payee[w.payee_count] = e->counterparty;
            w.payee_len[w.payee_count++] = ledger_id_len(e->counterparty, sizeof e->counterparty);
        }
    }
    flush_flags(&w);
    flush_payees(&w);
    if (flagged) {
        const char *argv[] = {"SADD", flagged_key, account};
        const size_t lens[] = {4, strlen(flagged_key), strlen(account)};
        view_batch_write(batch, 3, argv, lens);
    }

    char ver[24], win[FRAUD_VIEW_WINDOW_TEXT_MAX];
    snprintf(ver, sizeof ver, "%" PRId64, version);
    size_t win_len = fraud_view_window_format(&window, win, sizeof win);
    const char *argv[] = {"HSET", fraud_key, "version", ver, "window", win};
    const size_t lens[] = {4, strlen(fraud_key), 7, strlen(ver), 6, win_len};
    view_batch_write(batch, 6, argv, lens);
    keep_state(input, version, &window);
    return 0;
}

const projector_view fraud_view = {
    .name = "fraud",
    .help = "fraud flags: large_debit, velocity and new_payee per account, and flagged accounts",
    .settings = fraud_settings,
    .open = fraud_open,
    .close = fraud_close,
    .read_account = fraud_read,
    .apply_account = fraud_apply,
    .state_size = sizeof(fraud_kept),
};
