/*
 * cmd_flags.c - `ledger flags ACCOUNT` and `ledger flagged`.
 *
 * Both read the fraud view (projectors/views/fraud_view.h) inside one
 * MULTI/EXEC together with the view's current generation, so the answer is
 * one state of the view; if a rebuild switched generations between looking
 * the generation up and reading, the read starts again. The account's hash
 * (version) says whether the view has seen the account at all, which tells
 * an account without flags ("flags":[]) from an unknown one (not_found).
 *
 * The stored flags are parsed with jansson before they are printed, so a
 * corrupt one is reported rather than passed on.
 */
#include "cmd_flags.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "command_input.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "redis.h"

#define VIEW               "fraud"
#define CONNECT_TIMEOUT_MS 5000
#define READ_ATTEMPTS      20

static const ledger_config_setting *const query_tables[] = {
    ledger_config_redis_settings, projector_keys_settings, projector_query_settings,
    ledger_config_common_settings, NULL};

static const char flags_usage[] =
    "ledger flags ACCOUNT [--after P:O] [--timeout SECONDS] [options]";

static const char flags_description[] =
    "Prints the fraud flags of ACCOUNT from the fraud view, in log order:\n"
    "  {\"account\":\"A\",\"flags\":[{\"rule\":\"velocity\",\"seq\":9,"
    "\"at\":\"2026-11-26T10:00:00Z\",\"amount\":\"-20.00\"}]}\n"
    "Rules (thresholds are the fraud projector's settings; these are the defaults):\n"
    "  large_debit  a withdrawal or transfer sent of at least 10000.00\n"
    "  velocity     a debit such that at least 5 of the account's debits up to and\n"
    "               including it have `at` within [its at - 60 s, its at]\n"
    "  new_payee    a transfer sent of at least 1000.00 to an account this account\n"
    "               had not sent any transfer to earlier in the log\n"
    "An account the view knows without flags prints \"flags\":[]; one it has never\n"
    "seen prints {\"account\":\"A\",\"error\":\"not_found\"} and exits 1. \"stale\":true is\n"
    "added while the account is quarantined. A bad ACCOUNT exits 2; Redis\n"
    "unreachable, or --after not applied within --timeout, exits 3.";

static const char flagged_usage[] = "ledger flagged [--after P:O] [--timeout SECONDS] [options]";

static const char flagged_description[] =
    "Prints every account with at least one fraud flag, sorted:\n"
    "  {\"accounts\":[\"A\",\"B\"]}\n"
    "Redis unreachable, or --after not applied within --timeout, exits 3.";

/* ---- shared steps ---- */

/* Connects and, with --after, waits for the position. Returns the context
 * (the caller frees it), or NULL after printing why (exit 3). */
static redisContext *open_view(const ledger_config *cfg) {
    char errstr[1024];
    redisContext *c = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"),
                                               CONNECT_TIMEOUT_MS, errstr, sizeof errstr);
    if (c == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return NULL;
    }
    const char *after = ledger_config_str(cfg, "after");
    if (after == NULL)
        return c;
    int32_t partition;
    int64_t offset;
    int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    (void)projector_query_parse_position(after, &partition, &offset, errstr, sizeof errstr);
    switch (projector_query_wait(c, ledger_config_str(cfg, "redis_prefix"), VIEW, partition, offset,
                                 timeout_ms, errstr, sizeof errstr)) {
        case PROJECTOR_QUERY_APPLIED:
            return c;
        case PROJECTOR_QUERY_TIMED_OUT:
            fprintf(stderr,
                    "ledger: timed out after %" PRId64 " ms: the %s view has not applied "
                    "position '%s'\n",
                    timeout_ms, VIEW, after);
            break;
        case PROJECTOR_QUERY_ERROR:
            fprintf(stderr, "ledger: %s\n", errstr);
            break;
    }
    redisFree(c);
    return NULL;
}

/* Sends MULTI, GET <current>, the n commands of argvs, EXEC, and returns
 * EXEC's reply (freed by the caller) when the generation is still `gen`,
 * with *retry = false; NULL with *retry = true when it changed; NULL with
 * errstr on failure. The queued replies are element 1.. of the result. */
static redisReply *transaction(redisContext *c, const char *current, int64_t gen, size_t n,
                               const char *const argvs[][4], const int *argcs, bool *retry,
                               char *errstr, size_t errstr_size) {
    *retry = false;
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "GET %s", current);
    for (size_t i = 0; i < n; i++)
        redisAppendCommandArgv(c, argcs[i], (const char **)argvs[i], NULL);
    redisAppendCommand(c, "EXEC");
    redisReply *exec = NULL;
    for (size_t i = 0; i < n + 3; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            snprintf(errstr, errstr_size, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
            if (exec != NULL)
                freeReplyObject(exec);
            return NULL;
        }
        if (i == n + 2)
            exec = r;
        else
            freeReplyObject(r); /* OK / QUEUED */
    }
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != n + 1) {
        snprintf(errstr, errstr_size, "unexpected reply to EXEC%s%.*s",
                 exec->type == REDIS_REPLY_ERROR ? ": " : "",
                 exec->type == REDIS_REPLY_ERROR ? (int)exec->len : 0,
                 exec->type == REDIS_REPLY_ERROR ? exec->str : "");
        freeReplyObject(exec);
        return NULL;
    }
    const redisReply *g = exec->element[0];
    int64_t now_gen = -1;
    if (g->type == REDIS_REPLY_NIL)
        now_gen = PROJECTOR_FIRST_GENERATION;
    else if (g->type == REDIS_REPLY_STRING)
        (void)projector_keys_parse_int(g->str, g->len, &now_gen);
    if (now_gen != gen) {
        freeReplyObject(exec);
        *retry = true;
        return NULL;
    }
    return exec;
}

/* A JSON array of the stored JSON texts of a list reply, or NULL with
 * errstr when one is not a JSON object. */
static json_t *parse_list(const redisReply *list, const char *what, char *errstr,
                          size_t errstr_size) {
    json_t *out = json_array();
    if (out == NULL || list->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "unreadable %s", what);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        json_error_t jerr;
        json_t *item = e->type == REDIS_REPLY_STRING ? json_loadb(e->str, e->len, 0, &jerr) : NULL;
        if (item == NULL || !json_is_object(item)) {
            json_decref(item);
            json_decref(out);
            snprintf(errstr, errstr_size, "corrupt item %zu in %s", i, what);
            return NULL;
        }
        json_array_append_new(out, item);
    }
    return out;
}

/* Says why the read of the view gave up (exit 3). */
static void read_failed(bool retry, const char *errstr) {
    if (retry)
        fprintf(stderr, "ledger: the %s view kept switching generations during %d reads\n", VIEW,
                READ_ATTEMPTS);
    else
        fprintf(stderr, "ledger: %s\n", errstr);
}

/* ---- ledger flags ---- */

static int flags_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    int exit_code = CLI_EXIT_OK;
    redisContext *c = NULL;
    redisReply *exec = NULL;
    json_t *flags = NULL;
    char errstr[1024];
    static const char *const args[] = {"ACCOUNT", NULL};
    if (!cli_expect_args(cfg, flags_usage, args))
        return CLI_EXIT_USAGE;
    const char *account = ledger_config_positional(cfg, 0);
    command_input_error in_err;
    command_input_error_init(&in_err);
    if (command_input_check_account(account, strlen(account), &in_err) != 0) {
        fprintf(stderr, "ledger: %s\n", in_err.message);
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }

    exit_code = CLI_EXIT_INFRA;
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    if ((c = open_view(cfg)) == NULL)
        goto cleanup;
    char fraud[PROJECTOR_KEY_BUF], list[PROJECTOR_KEY_BUF], quarantine[PROJECTOR_KEY_BUF],
        current[PROJECTOR_KEY_BUF];
    bool retry = true;
    for (int attempt = 0; attempt < READ_ATTEMPTS && retry; attempt++) {
        int64_t gen;
        if (projector_query_generation(c, ns, VIEW, &gen, errstr, sizeof errstr) != 0)
            break;
        if (projector_keys_account(ns, VIEW, gen, account, "fraud", fraud, sizeof fraud) == 0 ||
            projector_keys_account(ns, VIEW, gen, account, "flags", list, sizeof list) == 0 ||
            projector_keys_quarantine(ns, VIEW, gen, quarantine, sizeof quarantine) == 0 ||
            projector_keys_current(ns, VIEW, current, sizeof current) == 0) {
            snprintf(errstr, sizeof errstr, "redis key of account '%s' too long", account);
            break;
        }
        const char *const cmds[][4] = {
            {"HGET", fraud, "version", NULL},
            {"LRANGE", list, "0", "-1"},
            {"HEXISTS", quarantine, account, NULL},
        };
        const int argcs[] = {3, 4, 3};
        exec = transaction(c, current, gen, 3, cmds, argcs, &retry, errstr, sizeof errstr);
    }
    if (exec == NULL) {
        read_failed(retry, errstr);
        goto cleanup;
    }
    const redisReply *version = exec->element[1];
    bool stale = exec->element[3]->type == REDIS_REPLY_INTEGER && exec->element[3]->integer == 1;
    if (version->type != REDIS_REPLY_STRING) {
        if (version->type != REDIS_REPLY_NIL) {
            fprintf(stderr, "ledger: unreadable '%s'\n", fraud);
            goto cleanup;
        }
        json_t *nf = json_pack("{s:s, s:s}", "account", account, "error", "not_found");
        if (nf != NULL && stale)
            json_object_set_new(nf, "stale", json_true());
        cli_print_json(nf);
        exit_code = CLI_EXIT_REJECTED;
        goto cleanup;
    }
    char what[PROJECTOR_KEY_BUF + 2];
    snprintf(what, sizeof what, "'%s'", list);
    if ((flags = parse_list(exec->element[2], what, errstr, sizeof errstr)) == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    json_t *obj = json_pack("{s:s, s:o}", "account", account, "flags", flags);
    flags = NULL; /* owned by obj now (or freed by json_pack on failure) */
    if (obj == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    if (stale)
        json_object_set_new(obj, "stale", json_true());
    cli_print_json(obj);
    exit_code = CLI_EXIT_OK;

cleanup:
    json_decref(flags);
    if (exec != NULL)
        freeReplyObject(exec);
    if (c != NULL)
        redisFree(c);
    return exit_code;
}

int cmd_flags(int argc, char **argv) {
    return cli_run("ledger flags", query_tables, argc, argv, flags_usage, flags_description,
                   flags_run, NULL);
}

/* ---- ledger flagged ---- */

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int flagged_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    int exit_code = CLI_EXIT_OK;
    redisContext *c = NULL;
    redisReply *exec = NULL;
    const char **names = NULL;
    char errstr[1024];
    static const char *const no_args[] = {NULL};
    if (!cli_expect_args(cfg, flagged_usage, no_args))
        return CLI_EXIT_USAGE;

    exit_code = CLI_EXIT_INFRA;
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    if ((c = open_view(cfg)) == NULL)
        goto cleanup;
    char set[PROJECTOR_KEY_BUF], current[PROJECTOR_KEY_BUF];
    bool retry = true;
    for (int attempt = 0; attempt < READ_ATTEMPTS && retry; attempt++) {
        int64_t gen;
        if (projector_query_generation(c, ns, VIEW, &gen, errstr, sizeof errstr) != 0)
            break;
        projector_keys_view(ns, VIEW, gen, "flagged", set, sizeof set);
        projector_keys_current(ns, VIEW, current, sizeof current);
        const char *const cmds[][4] = {{"SMEMBERS", set, NULL, NULL}};
        const int argcs[] = {2};
        exec = transaction(c, current, gen, 1, cmds, argcs, &retry, errstr, sizeof errstr);
    }
    if (exec == NULL) {
        read_failed(retry, errstr);
        goto cleanup;
    }
    const redisReply *members = exec->element[1];
    if (members->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "ledger: unreadable '%s'\n", set);
        goto cleanup;
    }
    names = calloc(members->elements + 1, sizeof *names);
    if (names == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    for (size_t i = 0; i < members->elements; i++) {
        if (members->element[i]->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "ledger: unreadable '%s'\n", set);
            goto cleanup;
        }
        names[i] = members->element[i]->str;
    }
    qsort(names, members->elements, sizeof *names, compare_strings);
    json_t *accounts = json_array();
    for (size_t i = 0; accounts != NULL && i < members->elements; i++)
        json_array_append_new(accounts, json_string(names[i]));
    json_t *obj = json_pack("{s:o}", "accounts", accounts);
    if (obj == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    cli_print_json(obj);
    exit_code = CLI_EXIT_OK;

cleanup:
    free(names);
    if (exec != NULL)
        freeReplyObject(exec);
    if (c != NULL)
        redisFree(c);
    return exit_code;
}

int cmd_flagged(int argc, char **argv) {
    return cli_run("ledger flagged", query_tables, argc, argv, flagged_usage, flagged_description,
                   flagged_run, NULL);
}
