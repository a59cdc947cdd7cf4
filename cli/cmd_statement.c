/*
 * cmd_statement.c - `ledger statement ACCOUNT YYYY-MM`.
 *
 * The statements view stores, per account, each month's totals and its
 * entries already rendered (projectors/views/statements_view.h), but not
 * the month's opening balance: that is the sum of the nets of every earlier
 * month, added up here. A month's closing balance is its opening plus its
 * net, so a month with no entries opens and closes on the balance carried
 * from the months before it.
 *
 * The answer must be one state of the view, never half of one batch and
 * half of the next: the account's hash (every month's totals), the month's
 * entries and the quarantine are read in one MULTI/EXEC, together with the
 * current generation; if a rebuild switched generations since the keys were
 * named, the read starts again.
 *
 * Output goes through jansson: the stored entries are parsed (a corrupt one
 * is reported, never printed) and written back compactly in order.
 */
#include "cmd_statement.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "command_input.h"
#include "ltime.h"
#include "money.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "redis.h"
#include "statements_view.h"
#include "text_cursor.h"

#define VIEW               "statements"
#define CONNECT_TIMEOUT_MS 5000
#define READ_ATTEMPTS      20

static const char statement_usage[] =
    "ledger statement ACCOUNT YYYY-MM [--after P:O] [--timeout SECONDS] [options]";

static const char statement_description[] =
    "Prints ACCOUNT's statement for calendar month YYYY-MM (UTC, by event time)\n"
    "from the statements view:\n"
    "  {\"account\":\"A\",\"month\":\"2026-11\",\"opening_balance\":\"0.00\",\n"
    "   \"closing_balance\":\"7.50\",\"total_in\":\"10.00\",\"total_out\":\"2.50\",\n"
    "   \"entries\":[{\"at\":\"2026-11-02T09:00:00Z\",\"seq\":2,\"type\":\"deposit\",\n"
    "                \"amount\":\"10.00\",\"balance_after\":\"10.00\"}, ...]}\n"
    "Entries are in log order with signed amounts (withdrawals and transfers sent\n"
    "negative); transfer entries add \"counterparty\" and \"transfer_id\";\n"
    "balance_after is the account's running balance in log order.\n"
    "opening_balance is the closing balance of the latest earlier month with\n"
    "entries (0.00 if none), where a month's closing balance is its opening\n"
    "balance plus its net (total_in - total_out); that is, the opening balance is\n"
    "the sum of the nets of all earlier months. A month with no entries has\n"
    "opening = closing = that carried balance and \"entries\":[].\n"
    "\"stale\":true is added while the account is quarantined (an event of it\n"
    "could not be applied). An account the view has never seen prints\n"
    "{\"account\":\"A\",\"error\":\"not_found\"} and exits 1; a bad ACCOUNT or month\n"
    "exits 2; Redis unreachable, or --after not applied within --timeout, exits 3.";

static json_t *money_json(int64_t cents) {
    char buf[MONEY_TEXT_BUF];
    money_format(cents, buf, sizeof buf);
    return json_string(buf);
}

/* Collects `n` replies of a pipeline; the first failure (no reply at all)
 * stops it. Returns 0, or -1 with errstr. */
static int get_replies(redisContext *c, redisReply **replies, size_t n, char *errstr,
                       size_t errstr_size) {
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            snprintf(errstr, errstr_size, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
            return -1;
        }
        replies[i] = r;
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: %.*s", (int)replies[i]->len, replies[i]->str);
            return -1;
        }
    }
    return 0;
}

static void free_replies(redisReply **replies, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

typedef enum read_outcome {
    READ_DONE = 0,
    READ_RETRY = 1,     /* a rebuild switched generations under the read: read again */
    READ_NOT_FOUND = 2, /* the view has never seen the account */
    READ_ERROR = -1,    /* errstr says what */
} read_outcome;

/* Everything the statement needs, from one state of the view. */
typedef struct statement_read {
    int64_t opening;
    int64_t total_in, total_out, net;
    bool stale;
    json_t *entries; /* owned */
} statement_read;

/* The account hash's fields (HGETALL): whether the account exists, the
 * month's totals, and the opening balance (the nets of every earlier
 * month). */
static int fold_account(const redisReply *hash, int32_t month, bool *found, statement_read *out,
                        char *errstr, size_t errstr_size) {
    *found = false;
    out->opening = out->total_in = out->total_out = 0;
    if (hash->type != REDIS_REPLY_ARRAY || hash->elements % 2 != 0) {
        snprintf(errstr, errstr_size, "unexpected reply to HGETALL");
        return -1;
    }
    for (size_t i = 0; i < hash->elements; i += 2) {
        const redisReply *f = hash->element[i], *v = hash->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            goto bad;
        if (f->len == 7 && memcmp(f->str, "version", 7) == 0) {
            *found = true;
            continue;
        }
        if ((f->len == 7 && memcmp(f->str, "balance", 7) == 0) ||
            (f->len == 5 && memcmp(f->str, "month", 5) == 0))
            continue;
        int64_t value;
        char kind;
        int32_t m;
        if (statements_month_field_parse(f->str, f->len, &kind, &m) != 0 ||
            text_int_parse(v->str, v->len, &value) != 0 || value < 0)
            goto bad;
        if (m == month)
            *(kind == 'i' ? &out->total_in : &out->total_out) = value;
        else if (m < month && __builtin_add_overflow(out->opening, kind == 'i' ? value : -value,
                                                     &out->opening)) {
            snprintf(errstr, errstr_size, "the opening balance overflows");
            return -1;
        }
        continue;
    bad:
        snprintf(errstr, errstr_size, "unreadable field '%.*s' of the account's hash",
                 f->type == REDIS_REPLY_STRING ? (int)(f->len > 40 ? 40 : f->len) : 1,
                 f->type == REDIS_REPLY_STRING ? f->str : "?");
        return -1;
    }
    if (__builtin_sub_overflow(out->total_in, out->total_out, &out->net)) {
        snprintf(errstr, errstr_size, "the month's net overflows");
        return -1;
    }
    return 0;
}

/* One attempt (see the top of the file). */
static read_outcome read_once(redisContext *c, const char *ns, const char *account, int32_t month,
                              statement_read *out, char *errstr, size_t errstr_size) {
    enum { QUEUED = 4, REPLIES = QUEUED + 2 }; /* MULTI, the queued commands, EXEC */
    read_outcome outcome = READ_ERROR;
    int64_t gen;
    redisReply *replies[REPLIES] = {NULL};
    char month_name[16];
    ltime_month_format(month, month_name, sizeof month_name);

    if (projector_query_generation(c, ns, VIEW, &gen, errstr, errstr_size) != 0)
        return READ_ERROR;
    char acct[PROJECTOR_KEY_BUF], ekey[PROJECTOR_KEY_BUF], qkey[PROJECTOR_KEY_BUF],
        current[PROJECTOR_KEY_BUF], esuffix[32];
    snprintf(esuffix, sizeof esuffix, "e:%s", month_name);
    if (projector_keys_account(ns, VIEW, gen, account, STATEMENTS_ACCOUNT_SUFFIX, acct,
                               sizeof acct) == 0 ||
        projector_keys_account(ns, VIEW, gen, account, esuffix, ekey, sizeof ekey) == 0 ||
        projector_keys_quarantine(ns, VIEW, gen, qkey, sizeof qkey) == 0 ||
        projector_keys_current(ns, VIEW, current, sizeof current) == 0) {
        snprintf(errstr, errstr_size, "redis key of account '%s' too long", account);
        return READ_ERROR;
    }

    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "GET %s", current);
    redisAppendCommand(c, "HGETALL %s", acct);
    redisAppendCommand(c, "LRANGE %s 0 -1", ekey);
    redisAppendCommand(c, "HEXISTS %s %s", qkey, account);
    redisAppendCommand(c, "EXEC");
    if (get_replies(c, replies, REPLIES, errstr, errstr_size) != 0)
        goto cleanup;

    const redisReply *exec = replies[REPLIES - 1];
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != QUEUED) {
        snprintf(errstr, errstr_size, "unexpected reply to EXEC");
        goto cleanup;
    }
    redisReply *const *r = exec->element;
    int64_t now_gen;
    if (r[0]->type == REDIS_REPLY_NIL)
        now_gen = PROJECTOR_FIRST_GENERATION;
    else if (r[0]->type != REDIS_REPLY_STRING ||
             projector_keys_parse_int(r[0]->str, r[0]->len, &now_gen) != 0)
        now_gen = -1;
    if (now_gen != gen) {
        outcome = READ_RETRY; /* a rebuild switched generations */
        goto cleanup;
    }

    out->stale = r[3]->type == REDIS_REPLY_INTEGER && r[3]->integer == 1;
    bool found;
    char why[256];
    if (fold_account(r[1], month, &found, out, why, sizeof why) != 0) {
        snprintf(errstr, errstr_size, "unreadable '%s': %s", acct, why);
        goto cleanup;
    }
    if (!found) {
        outcome = READ_NOT_FOUND;
        goto cleanup;
    }
    if (r[2]->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "unexpected reply to LRANGE of '%s'", ekey);
        goto cleanup;
    }

    out->entries = json_array();
    for (size_t i = 0; out->entries != NULL && i < r[2]->elements; i++) {
        const redisReply *e = r[2]->element[i];
        json_error_t jerr;
        json_t *entry = e->type == REDIS_REPLY_STRING ? json_loadb(e->str, e->len, 0, &jerr) : NULL;
        if (entry == NULL || !json_is_object(entry)) {
            json_decref(entry);
            snprintf(errstr, errstr_size, "corrupt entry %zu in '%s'", i, ekey);
            goto cleanup;
        }
        json_array_append_new(out->entries, entry);
    }
    if (out->entries == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    outcome = READ_DONE;

cleanup:
    if (outcome != READ_DONE) {
        json_decref(out->entries);
        out->entries = NULL;
    }
    free_replies(replies, REPLIES);
    return outcome;
}

static int statement_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    int exit_code = CLI_EXIT_OK;
    redisContext *c = NULL;
    statement_read st = {0};
    char errstr[1024];
    static const char *const args[] = {"ACCOUNT", "YYYY-MM", NULL};
    if (!cli_expect_args(cfg, statement_usage, args)) {
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }
    const char *account = ledger_config_positional(cfg, 0);
    const char *month_text = ledger_config_positional(cfg, 1);
    command_input_error in_err;
    command_input_error_init(&in_err);
    if (command_input_check_account(account, strlen(account), &in_err) != 0) {
        fprintf(stderr, "ledger: %s\n", in_err.message);
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }
    int32_t month;
    const char *why = NULL;
    if (ltime_month_parse(month_text, strlen(month_text), &month, &why) != 0) {
        fprintf(stderr, "ledger: invalid month '%s': %s (expected YYYY-MM, e.g. 2026-11)\n",
                month_text, why);
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }

    exit_code = CLI_EXIT_INFRA;
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    c = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"), CONNECT_TIMEOUT_MS, errstr,
                                 sizeof errstr);
    if (c == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    const char *after = ledger_config_str(cfg, "after");
    if (after != NULL) {
        int32_t partition;
        int64_t offset;
        int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
        (void)projector_query_parse_position(after, &partition, &offset, errstr, sizeof errstr);
        switch (projector_query_wait(c, ns, VIEW, partition, offset, timeout_ms, errstr,
                                     sizeof errstr)) {
            case PROJECTOR_QUERY_APPLIED:
                break;
            case PROJECTOR_QUERY_TIMED_OUT:
                fprintf(stderr,
                        "ledger: timed out after %" PRId64 " ms: the %s view has not applied "
                        "position '%s'\n",
                        timeout_ms, VIEW, after);
                goto cleanup;
            case PROJECTOR_QUERY_ERROR:
                fprintf(stderr, "ledger: %s\n", errstr);
                goto cleanup;
        }
    }

    read_outcome outcome = READ_RETRY;
    for (int attempt = 0; attempt < READ_ATTEMPTS && outcome == READ_RETRY; attempt++)
        outcome = read_once(c, ns, account, month, &st, errstr, sizeof errstr);
    switch (outcome) {
        case READ_RETRY:
            fprintf(stderr,
                    "ledger: the %s view switched generations during each of %d reads of '%s'\n",
                    VIEW, READ_ATTEMPTS, account);
            goto cleanup;
        case READ_ERROR:
            fprintf(stderr, "ledger: %s\n", errstr);
            goto cleanup;
        case READ_NOT_FOUND: {
            json_t *nf = json_pack("{s:s, s:s}", "account", account, "error", "not_found");
            if (nf != NULL && st.stale)
                json_object_set_new(nf, "stale", json_true());
            cli_print_json(nf);
            exit_code = CLI_EXIT_REJECTED;
            goto cleanup;
        }
        case READ_DONE:
            break;
    }

    int64_t closing;
    if (__builtin_add_overflow(st.opening, st.net, &closing)) {
        fprintf(stderr, "ledger: the closing balance of '%s' in %s overflows\n", account,
                month_text);
        goto cleanup;
    }
    json_t *obj = json_object();
    if (obj == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    json_object_set_new(obj, "account", json_string(account));
    json_object_set_new(obj, "month", json_string(month_text));
    json_object_set_new(obj, "opening_balance", money_json(st.opening));
    json_object_set_new(obj, "closing_balance", money_json(closing));
    json_object_set_new(obj, "total_in", money_json(st.total_in));
    json_object_set_new(obj, "total_out", money_json(st.total_out));
    json_object_set_new(obj, "entries", st.entries);
    st.entries = NULL; /* owned by obj now */
    if (st.stale)
        json_object_set_new(obj, "stale", json_true());
    cli_print_json(obj);
    exit_code = CLI_EXIT_OK;

cleanup:
    json_decref(st.entries);
    if (c != NULL)
        redisFree(c);
    return exit_code;
}

int cmd_statement(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_redis_settings, projector_keys_settings, projector_query_settings,
        ledger_config_common_settings, NULL};
    return cli_run("ledger statement", tables, argc, argv, statement_usage, statement_description,
                   statement_run, NULL);
}
