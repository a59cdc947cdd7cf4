/*
 * cmd_query.c - `ledger balance`: reads the balance view from Redis.
 *
 * The key layout, the generation, the --after wait and the quarantine check
 * are the projectors' (projectors/projector_query.h), and the state hash is
 * parsed by the balance view's own parser, so this file only orders the
 * steps and prints. The generation is read before and after the account,
 * so an answer never mixes a generation that a rebuild has just retired.
 */
#include "cmd_query.h"

#include <stdio.h>
#include <string.h>

#include "balance_view.h"
#include "cli.h"
#include "ids.h"
#include "json_out.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "redis.h"

#define QUERY_CONNECT_TIMEOUT_MS 5000
#define QUERY_GENERATION_TRIES   3

/* Reads the account's state and quarantine flag in generation *gen, again
 * if the generation changed meanwhile. Returns 0, or -1 with errstr. */
static int read_balance(redisContext *c, const char *ns, const char *account, int64_t *gen,
                        account_state *state, bool *found, bool *stale, char *errstr,
                        size_t errstr_size) {
    for (int attempt = 0; attempt < QUERY_GENERATION_TRIES; attempt++) {
        if (projector_query_generation(c, ns, balance_view.name, gen, errstr, errstr_size) != 0)
            return -1;
        char key[PROJECTOR_KEY_BUF];
        size_t len = projector_keys_account(ns, balance_view.name, *gen, account,
                                            BALANCE_VIEW_SUFFIX, key, sizeof(key));
        const char *argv[2 + BALANCE_VIEW_FIELD_COUNT] = {"HMGET", key};
        size_t lens[2 + BALANCE_VIEW_FIELD_COUNT] = {5, len};
        for (size_t i = 0; i < BALANCE_VIEW_FIELD_COUNT; i++) {
            argv[2 + i] = balance_view_fields[i];
            lens[2 + i] = strlen(balance_view_fields[i]);
        }
        redisReply *r = redisCommandArgv(c, 2 + BALANCE_VIEW_FIELD_COUNT, argv, lens);
        if (ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HMGET", errstr, errstr_size) != 0) {
            if (r != NULL)
                freeReplyObject(r);
            return -1;
        }
        int rc = balance_view_parse_state(r, state, found, errstr, errstr_size);
        freeReplyObject(r);
        if (rc != 0)
            return -1;
        if (projector_query_quarantined(c, ns, balance_view.name, *gen, account, stale, errstr,
                                        errstr_size) != 0)
            return -1;
        int64_t again;
        if (projector_query_generation(c, ns, balance_view.name, &again, errstr, errstr_size) != 0)
            return -1;
        if (again == *gen)
            return 0;
    }
    snprintf(errstr, errstr_size, "the view 'balance' kept switching generations");
    return -1;
}

static int run_balance(const ledger_config *cfg, const void *unused) {
    (void)unused;
    char errstr[1024];
    if (ledger_config_positional_count(cfg) != 1) {
        fprintf(stderr, "ledger balance: expected one ACCOUNT, got %d arguments\n",
                ledger_config_positional_count(cfg));
        return CLI_EXIT_USAGE;
    }
    const char *account = ledger_config_positional(cfg, 0);
    if (!ledger_account_valid(account, strlen(account))) {
        fprintf(stderr,
                "ledger: invalid account '%s': expected 1 to 64 characters of "
                "[A-Za-z0-9._-]\n",
                account);
        return CLI_EXIT_USAGE;
    }
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    const char *after = ledger_config_str(cfg, "after");
    int32_t partition = 0;
    int64_t offset = 0;
    if (after != NULL &&
        projector_query_parse_position(after, &partition, &offset, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: invalid --after '%s': %s\n", after, errstr);
        return CLI_EXIT_USAGE;
    }

    redisContext *c = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"),
                                               QUERY_CONNECT_TIMEOUT_MS, errstr, sizeof(errstr));
    if (c == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    int rc = CLI_EXIT_INFRA;
    if (after != NULL) {
        int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
        switch (projector_query_wait(c, ns, balance_view.name, partition, offset, timeout_ms,
                                     errstr, sizeof(errstr))) {
            case PROJECTOR_QUERY_APPLIED:
                break;
            case PROJECTOR_QUERY_TIMED_OUT:
                fprintf(stderr,
                        "ledger: timed out after %lld ms waiting for view 'balance' to apply "
                        "position '%s'\n",
                        (long long)timeout_ms, after);
                goto cleanup;
            case PROJECTOR_QUERY_ERROR:
                fprintf(stderr, "ledger: redis: %s\n", errstr);
                goto cleanup;
        }
    }

    int64_t gen;
    account_state state;
    bool found = false, stale = false;
    if (read_balance(c, ns, account, &gen, &state, &found, &stale, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: redis: %s\n", errstr);
        goto cleanup;
    }
    char line[1024];
    json_out j;
    json_out_init(&j, line, sizeof(line));
    if (!found) {
        json_out_not_found(&j, account);
        rc = CLI_EXIT_REJECTED;
    } else {
        json_out_object_begin(&j);
        json_out_account_fields(&j, account, &state);
        if (stale) {
            json_out_key(&j, "stale");
            json_out_bool(&j, true);
        }
        json_out_object_end(&j);
        rc = CLI_EXIT_OK;
    }
    printf("%s\n", json_out_text(&j));
    fflush(stdout);

cleanup:
    redisFree(c);
    return rc;
}

int cmd_balance(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_redis_settings, projector_keys_settings, projector_query_settings,
        ledger_config_common_settings, NULL};
    return cli_run("ledger balance", tables, argc, argv,
                   "ledger balance ACCOUNT [--after P:O] [options]",
                   "Prints the account's balance as the balance view holds it: "
                   "{\"account\",\"balance\",\"version\",\"status\"} (+ \"stale\":true while the "
                   "account is quarantined). Exit 1 when the view has no such account.",
                   run_balance, NULL);
}
