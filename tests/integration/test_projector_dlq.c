/*
 * test_projector_dlq.c - poison records, quarantine and `ledger dlq` from
 * the outside (the built ledger-projector and ledger), on the real broker
 * and Redis.
 *
 * The scenario is honest about what each poison record is:
 *   - A gets an extra record of garbage bytes (not Avro) in the middle of
 *     its events: it is not part of A's seq chain, so dropping it (skip)
 *     and re-applying A's later events gives exactly the fold of A's real
 *     events;
 *   - B's next real event (seq k+1) is written as a valid frame whose writer
 *     fingerprint no schema of this build knows (a newer schema, as far as
 *     this reader can tell). No fix exists in this build, so `retry B`
 *     still fails; skipping it drops a real event, so B's later events
 *     (k+2, ...) have a seq gap: B must stay quarantined with that error,
 *     never be applied out of order.
 * Twenty-four other accounts are active before, between and after. The
 * expected states come from the pure fold of what was produced.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "balance_view.h"
#include "money.h"
#include "runtime.h"
#include "test_dlq_support.h"

#define OTHERS      24
#define LATER_A     3 /* A's events after the garbage */
#define LATER_B     2 /* B's events after the unknown-schema one */
#define MAX_LINES   64
#define POSITION(p) ((int)(p).partition), ((long long)(p).offset)

typedef struct position {
    int32_t partition;
    int64_t offset;
} position;

static uint64_t seed_now(const char *name) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "%s seed: %llu\n", name, (unsigned long long)seed);
    return seed;
}

static void start_balance(pt_proc *proc, const pt_env *env) {
    char group[128];
    pt_group_id(env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, NULL};
    pt_start_projector(proc, env, argv);
    pt_wait_log(proc, "ready", 1, 60000);
}

static void expected_balance_line(const char *name, const account_state *s, bool stale, char *buf,
                                  size_t size) {
    char balance[MONEY_TEXT_BUF];
    money_format(s->balance, balance, sizeof(balance));
    snprintf(buf, size,
             "{\"account\":\"%s\",\"balance\":\"%s\",\"version\":%lld,\"status\":\"%s\"%s}\n", name,
             balance, (long long)s->seq, s->status == ACCOUNT_OPEN ? "open" : "closed",
             stale ? ",\"stale\":true" : "");
}

static void assert_query(const dlq_cli_env *e, const char *name, const account_state *want,
                         bool stale) {
    static cli_result res;
    const char *argv[] = {"balance", name, NULL};
    dlq_cli(&res, e, argv);
    char line[512];
    expected_balance_line(name, want, stale, line, sizeof(line));
    cr_assert_eq(res.exit_code, 0, "ledger balance %s: exit %d: %s", name, res.exit_code, res.err);
    cr_assert_str_eq(res.out, line, "ledger balance %s", name);
}

static const char *str_of(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "no string \"%s\" in the line", key);
    return json_string_value(v);
}

static void position_text(position p, char *buf, size_t size) {
    snprintf(buf, size, "%d:%lld", POSITION(p));
}

/* `ledger dlq list` shows exactly the held records of `want` (n of them, in
 * that order), each with the DLQ position of its copy and its error: the
 * one of errors[i], or when NULL the one the copy's header says. */
static void assert_list(const dlq_cli_env *e, const dlq_record *dlq, size_t dlq_n,
                        const char *const *accounts, const position *want,
                        const char *const *errors, size_t n) {
    static cli_result res;
    const char *argv[] = {"dlq", "list", "--view", "balance", NULL};
    dlq_cli(&res, e, argv);
    cr_assert_eq(res.exit_code, 0, "dlq list: exit %d: %s", res.exit_code, res.err);
    json_t *lines[MAX_LINES];
    size_t got = dlq_json_lines(res.out, lines, MAX_LINES);
    cr_assert_eq(got, n, "dlq list shows %zu records, %zu are held:\n%s", got, n, res.out);
    for (size_t i = 0; i < n; i++) {
        char source[48], copy[48];
        position_text(want[i], source, sizeof(source));
        const dlq_record *r = dlq_find(dlq, dlq_n, want[i].partition, want[i].offset);
        cr_assert_not_null(r, "no copy of %s in the dlq topic", source);
        snprintf(copy, sizeof(copy), "%d:%lld", (int)r->partition, (long long)r->offset);
        cr_assert_str_eq(str_of(lines[i], "view"), "balance");
        cr_assert_str_eq(str_of(lines[i], "account"), accounts[i], "line %zu", i);
        cr_assert_str_eq(str_of(lines[i], "source"), source, "line %zu", i);
        cr_assert_str_eq(str_of(lines[i], "dlq"), copy, "line %zu", i);
        cr_assert_str_eq(str_of(lines[i], "error"),
                         errors != NULL && errors[i] != NULL ? errors[i] : r->error, "line %zu", i);
        json_decref(lines[i]);
    }
}

/* The DLQ copy of a held record: original key and bytes, the headers. */
static void assert_copy(const dlq_record *r, const pt_env *env, const char *key, const void *value,
                        size_t value_len, position source, const char *error_part) {
    cr_assert_not_null(r, "no copy of %d:%lld in the dlq", POSITION(source));
    cr_assert(!r->key_null && r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0,
              "the copy's key is '%.*s', the original's '%s'", (int)r->key_len, r->key, key);
    if (value != NULL) {
        cr_assert_eq(r->value_len, value_len, "the copy's bytes are not the original's");
        cr_assert_eq(memcmp(r->value, value, value_len), 0,
                     "the copy's bytes are not the original's");
    }
    cr_assert_str_eq(r->source_topic, env->events_topic);
    cr_assert_eq(r->source_partition, source.partition);
    cr_assert_eq(r->source_offset, source.offset);
    cr_assert_str_eq(r->view, "balance");
    cr_assert_not_null(strstr(r->error, error_part), "error '%s' does not say '%s'", r->error,
                       error_part);
}

Test(projector_dlq, poison_records_are_held_their_accounts_quarantined_and_resolved,
     .timeout = 120) {
    uint64_t seed = seed_now("projector_dlq");
    pt_env env;
    pt_env_init(&env);
    pt_workload w, others;
    pt_workload_init(&w, &env, 2, seed, "dlq-poison-"); /* 0 = A, 1 = B */
    pt_workload_init(&others, &env, OTHERS, seed + 1, "dlq-other-");
    const char *A = w.accounts[0].name, *B = w.accounts[1].name;
    redisContext *c = pt_redis(&env);
    dlq_cli_env e;
    dlq_cli_env_init(&e, &env);
    pt_proc proc;
    start_balance(&proc, &env);

    /* Before: everyone has a history. */
    pt_produce(&others, 300);
    for (int k = 0; k < 4; k++) {
        pt_produce_one(&w, 0, 0, 0);
        pt_produce_one(&w, 1, 0, 0);
    }
    account_state a_before = w.accounts[0].state, b_before = w.accounts[1].state;

    /* The poison, with the others flowing between. */
    static const char garbage[] = "this is not an avro record";
    position pa, pb;
    dlq_produce_raw(&w, A, strlen(A), -1, garbage, sizeof(garbage) - 1, &pa.partition, &pa.offset);
    pt_produce(&others, 200);
    dlq_produce_unknown_schema(&w, 1, 12345, &pb.partition, &pb.offset);

    /* After: A's and B's later events are held, the others applied. */
    position later_a[LATER_A], later_b[LATER_B];
    for (int k = 0; k < LATER_A; k++) {
        pt_produce_one(&w, 0, LEDGER_EVENT_MONEY_DEPOSITED, 100 + k);
        later_a[k] = (position){w.last_partition, w.last_event_offset};
        if (k < LATER_B) {
            pt_produce_one(&w, 1, LEDGER_EVENT_MONEY_DEPOSITED, 200 + k);
            later_b[k] = (position){w.last_partition, w.last_event_offset};
        }
        pt_produce(&others, 100);
    }
    pt_wait_applied(&w, c, "balance", 60000);
    pt_wait_applied(&others, c, "balance", 60000);

    /* The DLQ: each held record once, as it was, with the headers. */
    dlq_record *dlq;
    size_t dlq_n = dlq_read_topic(&env, &dlq);
    cr_assert_eq(dlq_n, 2 + LATER_A + LATER_B, "%zu records in the dlq", dlq_n);
    assert_copy(dlq_find(dlq, dlq_n, pa.partition, pa.offset), &env, A, garbage,
                sizeof(garbage) - 1, pa, "bad magic");
    assert_copy(dlq_find(dlq, dlq_n, pb.partition, pb.offset), &env, B, NULL, 0, pb,
                "unknown schema fingerprint");
    for (int k = 0; k < LATER_A; k++)
        assert_copy(dlq_find(dlq, dlq_n, later_a[k].partition, later_a[k].offset), &env, A, NULL, 0,
                    later_a[k], "held: account quarantined");
    for (int k = 0; k < LATER_B; k++)
        assert_copy(dlq_find(dlq, dlq_n, later_b[k].partition, later_b[k].offset), &env, B, NULL, 0,
                    later_b[k], "held: account quarantined");
    cr_assert_eq(pt_log_count(&proc, "cannot apply the record"), 2, "one error line per poison");
    char needle[160];
    snprintf(needle, sizeof(needle), "partition %d offset %lld", POSITION(pa));
    cr_assert_geq(pt_log_count(&proc, needle), 1, "the log names topic, partition and offset");

    /* Quarantined with their first bad record; states before the poison. */
    json_t *qa = dlq_quarantine_entry(&env, c, "balance", A);
    json_t *qb = dlq_quarantine_entry(&env, c, "balance", B);
    cr_assert(qa != NULL && qb != NULL, "A and B are quarantined");
    cr_assert_eq(json_integer_value(json_object_get(qa, "partition")), pa.partition);
    cr_assert_eq(json_integer_value(json_object_get(qa, "offset")), pa.offset);
    cr_assert_eq(json_integer_value(json_object_get(qb, "offset")), pb.offset);
    cr_assert_not_null(strstr(json_string_value(json_object_get(qb, "error")), "fingerprint"));
    json_decref(qa);
    json_decref(qb);
    dlq_assert_balance(&env, c, A, &a_before);
    dlq_assert_balance(&env, c, B, &b_before);
    for (size_t i = 0; i < OTHERS; i++) {
        dlq_assert_balance(&env, c, others.accounts[i].name, &others.accounts[i].state);
        cr_assert_null(dlq_quarantine_entry(&env, c, "balance", others.accounts[i].name));
    }
    assert_query(&e, A, &a_before, true);
    assert_query(&e, B, &b_before, true);
    assert_query(&e, others.accounts[0].name, &others.accounts[0].state, false);
    static cli_result res;
    json_t *lines[MAX_LINES];
    const char *status[] = {"status", "--view", "balance", NULL};
    dlq_cli(&res, &e, status);
    cr_assert_eq(res.exit_code, 0, "ledger status: exit %d: %s", res.exit_code, res.err);
    cr_assert_eq(dlq_json_lines(res.out, lines, MAX_LINES), 1, "%s", res.out);
    json_t *listed = json_object_get(lines[0], "quarantined");
    cr_assert(json_is_array(listed) && json_array_size(listed) == 2, "%s", res.out);
    cr_assert_str_eq(json_string_value(json_array_get(listed, 0)), A);
    cr_assert_str_eq(json_string_value(json_array_get(listed, 1)), B);
    json_decref(lines[0]);

    /* dlq list: A's records, then B's, in log order. */
    const char *accounts[] = {A, A, A, A, B, B, B};
    position held[] = {pa, later_a[0], later_a[1], later_a[2], pb, later_b[0], later_b[1]};
    cr_assert_str_lt(A, B);
    assert_list(&e, dlq, dlq_n, accounts, held, NULL, 7);

    /* skip A's garbage: A comes back as the fold of all its real events. */
    char offset[48];
    position_text(pa, offset, sizeof(offset));
    const char *skip_a[] = {"dlq", "skip", A, "--offset", offset, NULL};
    dlq_cli(&res, &e, skip_a);
    cr_assert_eq(res.exit_code, 0, "skip A: exit %d: %s\n%s", res.exit_code, res.err, res.out);
    cr_assert_eq(dlq_json_lines(res.out, lines, MAX_LINES), 2, "%s", res.out);
    cr_assert_str_eq(str_of(lines[0], "skipped"), offset);
    cr_assert_str_eq(str_of(lines[0], "account"), A);
    cr_assert_eq(json_integer_value(json_object_get(lines[1], "applied")), LATER_A);
    cr_assert(json_is_false(json_object_get(lines[1], "quarantined")), "%s", res.out);
    json_decref(lines[0]);
    json_decref(lines[1]);
    cr_assert_not_null(strstr(res.err, "skipped"), "the skip is logged: %s", res.err);
    dlq_assert_balance(&env, c, A, &w.accounts[0].state);
    cr_assert_null(dlq_quarantine_entry(&env, c, "balance", A));
    assert_query(&e, A, &w.accounts[0].state, false);

    /* retry B: its record still has no known schema; nothing changes. */
    const char *retry_b[] = {"dlq", "retry", B, NULL};
    dlq_cli(&res, &e, retry_b);
    cr_assert_eq(res.exit_code, 1, "retry B: exit %d: %s", res.exit_code, res.err);
    cr_assert_eq(dlq_json_lines(res.out, lines, MAX_LINES), 1, "%s", res.out);
    cr_assert(json_is_true(json_object_get(lines[0], "quarantined")));
    cr_assert_eq(json_integer_value(json_object_get(lines[0], "applied")), 0);
    position_text(pb, offset, sizeof(offset));
    cr_assert_str_eq(str_of(lines[0], "failed"), offset);
    cr_assert_not_null(strstr(str_of(lines[0], "error"), "unknown schema fingerprint"));
    json_decref(lines[0]);
    dlq_assert_balance(&env, c, B, &b_before);
    assert_query(&e, B, &b_before, true);

    /* skip B's real event: its later ones follow a gap, so B stays held. */
    const char *skip_b[] = {"dlq", "skip", B, "--offset", offset, NULL};
    dlq_cli(&res, &e, skip_b);
    cr_assert_eq(res.exit_code, 1, "skip B: exit %d: %s", res.exit_code, res.err);
    cr_assert_eq(dlq_json_lines(res.out, lines, MAX_LINES), 2, "%s", res.out);
    cr_assert_str_eq(str_of(lines[0], "skipped"), offset);
    cr_assert(json_is_true(json_object_get(lines[1], "quarantined")));
    cr_assert_eq(json_integer_value(json_object_get(lines[1], "applied")), 0);
    char next_b[48];
    position_text(later_b[0], next_b, sizeof(next_b));
    cr_assert_str_eq(str_of(lines[1], "failed"), next_b);
    cr_assert_not_null(strstr(str_of(lines[1], "error"), "seq gap"), "%s", res.out);
    char gap_error[512];
    snprintf(gap_error, sizeof(gap_error), "%s", str_of(lines[1], "error"));
    json_decref(lines[0]);
    json_decref(lines[1]);
    dlq_assert_balance(&env, c, B, &b_before);
    qb = dlq_quarantine_entry(&env, c, "balance", B);
    cr_assert_not_null(qb);
    cr_assert_eq(json_integer_value(json_object_get(qb, "offset")), later_b[0].offset);
    json_decref(qb);
    /* The skipped record is gone from the list, A's are resolved, and B's
     * first record now says why it waits. */
    const char *accounts_after[] = {B, B};
    position held_after[] = {later_b[0], later_b[1]};
    const char *errors_after[] = {gap_error, NULL};
    assert_list(&e, dlq, dlq_n, accounts_after, held_after, errors_after, 2);
    /* Skipping a record that is not held is refused. */
    position_text(pa, offset, sizeof(offset));
    const char *skip_again[] = {"dlq", "skip", A, "--offset", offset, NULL};
    dlq_cli(&res, &e, skip_again);
    cr_assert_eq(res.exit_code, 1, "%s", res.out);
    cr_assert_not_null(strstr(res.out, "not_quarantined"), "%s", res.out);

    /* Everything keeps flowing: A (released) applies again, B stays held. */
    pt_produce_one(&w, 0, LEDGER_EVENT_MONEY_DEPOSITED, 777);
    pt_produce_one(&w, 1, LEDGER_EVENT_MONEY_DEPOSITED, 888);
    pt_produce(&others, 200);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_wait_applied(&others, c, "balance", 60000);
    dlq_assert_balance(&env, c, A, &w.accounts[0].state);
    dlq_assert_balance(&env, c, B, &b_before);
    for (size_t i = 0; i < OTHERS; i++)
        dlq_assert_balance(&env, c, others.accounts[i].name, &others.accounts[i].state);

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    free(dlq);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_workload_destroy(&others);
    pt_env_cleanup(&env);
}

Test(projector_dlq, a_record_whose_key_is_not_an_account_is_held_under_a_pseudo_account,
     .timeout = 90) {
    uint64_t seed = seed_now("projector_dlq pseudo");
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 6, seed, "dlq-key-");
    redisContext *c = pt_redis(&env);
    dlq_cli_env e;
    dlq_cli_env_init(&e, &env);
    pt_proc proc;
    start_balance(&proc, &env);

    pt_produce(&w, 100);
    /* No key at all, on partition 2, and a key with a space, wherever it goes. */
    position none, spaced;
    static const char bytes[] = "\xc3\x01 not an event either";
    dlq_produce_raw(&w, NULL, 0, 2, bytes, sizeof(bytes) - 1, &none.partition, &none.offset);
    dlq_produce_raw(&w, "not an account", 14, -1, bytes, sizeof(bytes) - 1, &spaced.partition,
                    &spaced.offset);
    pt_produce(&w, 100);
    pt_wait_applied(&w, c, "balance", 60000);
    for (size_t i = 0; i < w.account_count; i++)
        dlq_assert_balance(&env, c, w.accounts[i].name, &w.accounts[i].state);

    char pseudo[16];
    snprintf(pseudo, sizeof(pseudo), "?%d", (int)none.partition);
    json_t *q = dlq_quarantine_entry(&env, c, "balance", pseudo);
    cr_assert_not_null(q, "'%s' is quarantined", pseudo);
    cr_assert_eq(json_integer_value(json_object_get(q, "offset")), none.offset);
    json_decref(q);
    cr_assert_geq(pt_log_count(&proc, "its key is not an account id"), 1);
    dlq_record *dlq;
    size_t dlq_n = dlq_read_topic(&env, &dlq);
    const dlq_record *r = dlq_find(dlq, dlq_n, none.partition, none.offset);
    cr_assert_not_null(r);
    cr_assert(r->key_null, "the copy keeps the missing key");
    cr_assert_str_eq(r->account, pseudo);
    cr_assert_eq(dlq_copies(dlq, dlq_n, spaced.partition, spaced.offset), 1);
    free(dlq);

    /* The held records can be listed and dropped like any account's. */
    static cli_result res;
    char offset[48];
    snprintf(offset, sizeof(offset), "%d:%lld", (int)none.partition, (long long)none.offset);
    const char *skip[] = {"dlq", "skip", pseudo, "--offset", offset, "--view", "balance", NULL};
    dlq_cli(&res, &e, skip);
    bool same = spaced.partition == none.partition;
    /* With both on one partition the second keeps the pseudo account held. */
    cr_assert_eq(res.exit_code, same ? 1 : 0, "skip %s: exit %d: %s\n%s", pseudo, res.exit_code,
                 res.err, res.out);
    q = dlq_quarantine_entry(&env, c, "balance", pseudo);
    cr_assert_eq(q != NULL, same);
    json_decref(q);
    const char *bad[] = {"dlq", "retry", "no spaces please", NULL};
    dlq_cli(&res, &e, bad);
    cr_assert_eq(res.exit_code, 2, "%s", res.err);

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

/* A record the view refuses although it decodes: an event of D claiming a
 * seq two ahead (a buggy writer's), in one batch between D's real events.
 * The events before it are applied (the longest prefix the view takes),
 * it and D's later real events are held; retry still fails on the gap;
 * skipping it re-applies the real ones: D equals the fold. */
Test(projector_dlq, an_event_the_view_refuses_holds_its_account_from_that_event_on, .timeout = 90) {
    uint64_t seed = seed_now("projector_dlq gap");
    pt_env env;
    pt_env_init(&env);
    pt_workload wd, others;
    pt_workload_init(&wd, &env, 1, seed, "dlq-gap-");
    pt_workload_init(&others, &env, 8, seed + 1, "dlq-gap-other-");
    const char *D = wd.accounts[0].name;
    redisContext *c = pt_redis(&env);
    dlq_cli_env e;
    dlq_cli_env_init(&e, &env);
    pt_produce(&wd, 5);
    pt_produce(&others, 50);

    /* Collected as one batch (2 s of collecting from its first record). */
    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance",        "--group-id", group, "--batch-max-wait",
                          "2s",     "--batch-linger", "2s",         NULL};
    pt_start_projector(&proc, &env, argv);
    pt_wait_log(&proc, "ready", 1, 60000);
    pt_wait_applied(&wd, c, "balance", 60000);

    pt_produce_one(&wd, 0, LEDGER_EVENT_MONEY_DEPOSITED, 10);
    account_state d_before = wd.accounts[0].state;
    position bogus, later[2];
    dlq_produce_bogus_seq(&wd, 0, wd.accounts[0].seq + 2, 999, &bogus.partition, &bogus.offset);
    for (int k = 0; k < 2; k++) {
        pt_produce_one(&wd, 0, LEDGER_EVENT_MONEY_DEPOSITED, 20 + k);
        later[k] = (position){wd.last_partition, wd.last_event_offset};
    }
    pt_produce(&others, 50);
    pt_wait_applied(&wd, c, "balance", 60000);
    pt_wait_applied(&others, c, "balance", 60000);

    dlq_assert_balance(&env, c, D, &d_before);
    json_t *q = dlq_quarantine_entry(&env, c, "balance", D);
    cr_assert_not_null(q, "'%s' is quarantined", D);
    cr_assert_eq(json_integer_value(json_object_get(q, "offset")), bogus.offset);
    cr_assert_not_null(strstr(json_string_value(json_object_get(q, "error")), "seq gap"));
    json_decref(q);
    dlq_record *dlq;
    size_t dlq_n = dlq_read_topic(&env, &dlq);
    cr_assert_eq(dlq_n, 3);
    cr_assert_not_null(
        strstr(dlq_find(dlq, dlq_n, bogus.partition, bogus.offset)->error, "seq gap"));
    for (int k = 0; k < 2; k++)
        cr_assert_str_eq(dlq_find(dlq, dlq_n, later[k].partition, later[k].offset)->error,
                         "held: account quarantined");
    free(dlq);
    for (size_t i = 0; i < others.account_count; i++)
        dlq_assert_balance(&env, c, others.accounts[i].name, &others.accounts[i].state);

    static cli_result res;
    const char *retry[] = {"dlq", "retry", D, "--view", "balance", NULL};
    dlq_cli(&res, &e, retry);
    cr_assert_eq(res.exit_code, 1, "retry: exit %d: %s", res.exit_code, res.err);
    dlq_assert_balance(&env, c, D, &d_before);
    char offset[48];
    position_text(bogus, offset, sizeof(offset));
    const char *skip[] = {"dlq", "skip", D, "--offset", offset, NULL};
    dlq_cli(&res, &e, skip);
    cr_assert_eq(res.exit_code, 0, "skip: exit %d: %s\n%s", res.exit_code, res.err, res.out);
    dlq_assert_balance(&env, c, D, &wd.accounts[0].state);
    cr_assert_null(dlq_quarantine_entry(&env, c, "balance", D));

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&wd);
    pt_workload_destroy(&others);
    pt_env_cleanup(&env);
}

/* ---- a retry racing the projector ---- */

/* The balance view, except that folding the deposit of RACE_AMOUNT stops
 * the projector (after its round trip 1, before its write) until the test
 * says go: the test uses the pause to release the account the batch is
 * holding. */
#define RACE_AMOUNT 424242
static char race_stalled[128], race_go[128];

static bool file_exists(const char *path) {
    return access(path, F_OK) == 0;
}

static int stalling_apply(const void *state, view_batch *batch, const view_account_input *in,
                          char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < in->event_count && !file_exists(race_go); i++) {
        if (in->events[i].type == LEDGER_EVENT_MONEY_DEPOSITED &&
            in->events[i].amount == RACE_AMOUNT) {
            FILE *f = fopen(race_stalled, "w");
            if (f != NULL)
                fclose(f);
            int64_t deadline = pt_now_ms() + 60000;
            while (!file_exists(race_go) && pt_now_ms() < deadline) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
    }
    return balance_view.apply_account(state, batch, in, errstr, errstr_size);
}

static projector_view stalling_view;

static int run_stalling(int argc, char **argv) {
    stalling_view = balance_view;
    stalling_view.apply_account = stalling_apply;
    return projector_run(&stalling_view, argc, argv);
}

static void wait_file(const char *path, const pt_proc *proc) {
    int64_t deadline = pt_now_ms() + 60000;
    while (!file_exists(path)) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(proc);
            cr_assert_fail("'%s' not created within 60 s", path);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A batch that holds A's next record (A quarantined when it read) is stopped
 * between its reads and its write; meanwhile `ledger dlq skip` releases A.
 * The batch's write must then fail on its guard and be built again, this
 * time applying A's record: A equals the fold, nothing is held. */
Test(projector_dlq, a_release_racing_a_batch_that_holds_the_account_loses_nothing, .timeout = 120) {
    uint64_t seed = seed_now("projector_dlq race");
    pt_env env;
    pt_env_init(&env);
    snprintf(race_stalled, sizeof(race_stalled), "%s/stalled", env.log_dir);
    snprintf(race_go, sizeof(race_go), "%s/go", env.log_dir);
    pt_workload wa, others;
    pt_workload_init(&wa, &env, 1, seed, "dlq-race-");
    pt_workload_init(&others, &env, 24, seed + 1, "dlq-race-other-");
    const char *A = wa.accounts[0].name;
    size_t z = 0; /* an account of A's partition: its event shares A's batch */
    while (z < others.account_count && others.accounts[z].partition != wa.accounts[0].partition)
        z++;
    cr_assert_lt(z, others.account_count, "no account shares '%s''s partition", A);
    redisContext *c = pt_redis(&env);
    dlq_cli_env e;
    dlq_cli_env_init(&e, &env);

    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--group-id", group, "--batch-max-wait", "2s", "--batch-linger",
                          "2s",         NULL};
    pt_start_function(&proc, &env, run_stalling, argv);
    pt_wait_log(&proc, "ready", 1, 60000);

    pt_produce(&wa, 5);
    pt_produce(&others, 100);
    static const char garbage[] = "garbage before the race";
    position pa;
    dlq_produce_raw(&wa, A, strlen(A), -1, garbage, sizeof(garbage) - 1, &pa.partition, &pa.offset);
    pt_wait_applied(&wa, c, "balance", 60000);
    pt_wait_applied(&others, c, "balance", 60000);
    json_t *q = dlq_quarantine_entry(&env, c, "balance", A);
    cr_assert_not_null(q);
    json_decref(q);

    /* One batch (2 s of collecting): A's next record, then the stalling one. */
    pt_produce_one(&wa, 0, LEDGER_EVENT_MONEY_DEPOSITED, 100);
    pt_produce_one(&others, z, LEDGER_EVENT_MONEY_DEPOSITED, RACE_AMOUNT);
    wait_file(race_stalled, &proc);

    static cli_result res;
    char offset[48];
    position_text(pa, offset, sizeof(offset));
    const char *skip[] = {"dlq", "skip", A, "--offset", offset, NULL};
    dlq_cli(&res, &e, skip);
    cr_assert_eq(res.exit_code, 0, "skip: exit %d: %s\n%s", res.exit_code, res.err, res.out);
    json_t *lines[MAX_LINES];
    cr_assert_eq(dlq_json_lines(res.out, lines, MAX_LINES), 2, "%s", res.out);
    cr_assert_eq(json_integer_value(json_object_get(lines[1], "applied")), 0,
                 "the batch's record was not held yet: %s", res.out);
    json_decref(lines[0]);
    json_decref(lines[1]);
    FILE *go = fopen(race_go, "w");
    cr_assert_not_null(go);
    fclose(go);

    pt_wait_applied(&wa, c, "balance", 60000);
    pt_wait_applied(&others, c, "balance", 60000);
    cr_assert_geq(pt_log_count(&proc, "a quarantine changed while the batch was built"), 1,
                  "the batch's guard did not fail");
    dlq_assert_balance(&env, c, A, &wa.accounts[0].state);
    cr_assert_null(dlq_quarantine_entry(&env, c, "balance", A), "'%s' quarantined again", A);
    for (size_t i = 0; i < others.account_count; i++)
        dlq_assert_balance(&env, c, others.accounts[i].name, &others.accounts[i].state);
    const char *list[] = {"dlq", "list", NULL};
    dlq_cli(&res, &e, list);
    cr_assert_eq(res.exit_code, 0);
    cr_assert_str_empty(res.out, "nothing is held any more");

    cr_assert_eq(pt_stop(&proc, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&wa);
    pt_workload_destroy(&others);
    pt_env_cleanup(&env);
}
