/*
 * test_cli_history.c - `ledger history ACCOUNT [--at TIME]`: the state
 * folded straight from the events topic. The test writes Avro events for a
 * few accounts directly into the events topic, each on its account's
 * partition (some accounts share one), computes each account's expected
 * state with the core's account_apply, and compares. Also: --at gives a
 * past state, an unknown account is not_found (exit 1), an event of the
 * account that does not decode or a gap in its seq exits 3 naming where,
 * and an undecodable record of another key is skipped.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "codec.h"
#include "ids.h"
#include "kafka_test.h"
#include "ltime.h"
#include "money.h"
#include "test_cli_fixture.h"

static tcf_topics topics;
static ledger_codec *codec;

static void setup(void) {
    char errstr[256];
    codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(codec, "%s", errstr);
    tcf_topics_create(&topics);
}

static void teardown(void) {
    tcf_topics_delete(&topics);
    ledger_codec_destroy(codec);
}

static int64_t t0(void) {
    int64_t ms = 0;
    cr_assert_eq(ltime_parse("2026-11-26T10:00:00Z", 20, &ms, NULL), 0);
    return ms;
}

static int32_t partition_of(const char *account) {
    return ledger_partition_for_key(account, strlen(account), TCF_PARTITIONS);
}

/* "<base>-<n>" for the first n >= 0 whose partition is (or, with
 * same == false, is not) `partition`. */
static void account_on(char *out, size_t size, const char *base, int32_t partition, bool same) {
    for (int n = 0;; n++) {
        snprintf(out, size, "%s-%d", base, n);
        if ((partition_of(out) == partition) == same)
            return;
    }
}

/* Writes an event to its account's partition; returns its offset. */
static int64_t put_event(const ledger_event *e) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(
        ledger_codec_encode_event(codec, e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    return tcf_produce(topics.names[LEDGER_KAFKA_TOPIC_EVENTS], partition_of(e->account),
                       e->account, buf, len);
}

static ledger_event make_event(const char *account, int64_t seq, int64_t at_ms,
                               ledger_event_type type, int64_t amount, const char *other) {
    ledger_event e;
    ledger_event_init(&e);
    tcf_uuid(e.event_id);
    ledger_id_copy(e.account, sizeof(e.account), account);
    e.seq = seq;
    e.at_ms = at_ms;
    snprintf(e.command_id, sizeof(e.command_id), "cmd-%s-%lld", account, (long long)seq);
    e.type = type;
    e.amount = amount;
    if (other != NULL) {
        ledger_id_copy(e.counterparty, sizeof(e.counterparty), other);
        tcf_uuid(e.transfer_id);
    }
    if (type == LEDGER_EVENT_TRANSFER_RETURNED)
        e.reason = LEDGER_ACCOUNT_CLOSED;
    return e;
}

/* A history run's single output line, parsed. */
static json_t *run_history(const char *account, const char *at, int want_exit,
                           tcf_run_result *res) {
    const char *argv_at[] = {"history", account, "--at", at, "--timeout", "15", NULL};
    const char *argv_now[] = {"history", account, "--timeout", "15", NULL};
    tcf_run(res, at != NULL ? argv_at : argv_now, topics.env, NULL);
    cr_assert_eq(res->exit_code, want_exit, "history %s: exit %d: %s", account, res->exit_code,
                 res->err);
    if (want_exit > 1)
        return NULL;
    json_error_t error;
    json_t *obj = json_loads(res->out, 0, &error);
    cr_assert_not_null(obj, "not one JSON object: '%s' (%s)", res->out, error.text);
    return obj;
}

/* The fields of the output equal the state the test folded. */
static void assert_state(const json_t *obj, const char *account, const account_state *want) {
    char money[MONEY_TEXT_BUF];
    money_format(want->balance, money, sizeof(money));
    cr_assert_str_eq(json_string_value(json_object_get(obj, "account")), account);
    cr_assert_str_eq(json_string_value(json_object_get(obj, "balance")), money, "%s", account);
    cr_assert_eq(json_integer_value(json_object_get(obj, "version")), want->seq, "%s", account);
    cr_assert_str_eq(json_string_value(json_object_get(obj, "status")),
                     want->status == ACCOUNT_CLOSED ? "closed" : "open", "%s", account);
    cr_assert_null(json_object_get(obj, "error"));
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define MAX_EVENTS 32

typedef struct story {
    char a[32], b[32], c[32]; /* a and b share a partition; c does not */
    ledger_event events[MAX_EVENTS];
    size_t n;
} story;

/* Interleaved events of three accounts, written in this order. */
static void write_story(story *s) {
    int32_t p = partition_of("hist-a");
    snprintf(s->a, sizeof(s->a), "hist-a");
    account_on(s->b, sizeof(s->b), "hist-b", p, true);
    account_on(s->c, sizeof(s->c), "hist-c", p, false);
    int64_t t = t0();
    const int64_t min = 60000;
    ledger_event *e = s->events;
    size_t n = 0;
    e[n++] = make_event(s->a, 1, t, LEDGER_EVENT_ACCOUNT_OPENED, 1000, NULL);
    e[n++] = make_event(s->b, 1, t + 1 * min, LEDGER_EVENT_ACCOUNT_OPENED, 0, NULL);
    e[n++] = make_event(s->c, 1, t + 1 * min, LEDGER_EVENT_ACCOUNT_OPENED, 0, NULL);
    e[n++] = make_event(s->a, 2, t + 2 * min, LEDGER_EVENT_MONEY_DEPOSITED, 10000, NULL);
    snprintf(e[n - 1].memo, sizeof(e[n - 1].memo), "salary");
    e[n++] = make_event(s->b, 2, t + 3 * min, LEDGER_EVENT_MONEY_DEPOSITED, 500, NULL);
    e[n++] = make_event(s->a, 3, t + 4 * min, LEDGER_EVENT_MONEY_WITHDRAWN, 3025, NULL);
    e[n++] = make_event(s->a, 4, t + 5 * min, LEDGER_EVENT_TRANSFER_SENT, 2000, s->c);
    e[n++] = make_event(s->c, 2, t + 5 * min, LEDGER_EVENT_TRANSFER_RECEIVED, 2000, s->a);
    e[n++] = make_event(s->b, 3, t + 6 * min, LEDGER_EVENT_TRANSFER_SENT, 500, s->a);
    e[n++] = make_event(s->a, 5, t + 6 * min, LEDGER_EVENT_TRANSFER_RECEIVED, 500, s->b);
    e[n++] = make_event(s->a, 6, t + 7 * min, LEDGER_EVENT_TRANSFER_SENT, 9475, "hist-gone");
    e[n++] = make_event(s->a, 7, t + 7 * min, LEDGER_EVENT_TRANSFER_RETURNED, 9475, "hist-gone");
    e[n++] = make_event(s->b, 4, t + 8 * min, LEDGER_EVENT_ACCOUNT_CLOSED, 0, NULL);
    e[n++] = make_event(s->a, 8, t + 9 * min, LEDGER_EVENT_MONEY_WITHDRAWN, 5975, NULL);
    s->n = n;
    for (size_t i = 0; i < n; i++)
        put_event(&e[i]);
}

/* The fold of `account`'s events of the story with at <= until. */
static account_state fold(const story *s, const char *account, int64_t until) {
    account_state st;
    account_init(&st);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->events[i].account, account) != 0)
            continue;
        if (s->events[i].at_ms > until)
            break;
        cr_assert_eq(account_apply(&st, &s->events[i]), ACCOUNT_APPLIED);
    }
    return st;
}

Test(cli_history, history_equals_the_fold_of_the_accounts_events, .init = setup, .fini = teardown,
     .timeout = 60) {
    static story s;
    write_story(&s);
    /* Another writer's record on the same partition, with another key,
     * that is no event at all: skipped with a warning. */
    int64_t junk = tcf_produce(topics.names[LEDGER_KAFKA_TOPIC_EVENTS], partition_of(s.a),
                               "not-an-account!", "garbage", 7);

    const char *accounts[] = {s.a, s.b, s.c};
    for (size_t i = 0; i < 3; i++) {
        account_state want = fold(&s, accounts[i], INT64_MAX);
        cr_assert_gt(want.seq, 0);
        tcf_run_result res;
        int64_t before = wall_ms();
        json_t *obj = run_history(accounts[i], NULL, 0, &res);
        int64_t after = wall_ms();
        assert_state(obj, accounts[i], &want);
        const char *as_of = json_string_value(json_object_get(obj, "as_of"));
        cr_assert_not_null(as_of);
        int64_t as_of_ms = 0;
        cr_assert_eq(ltime_parse(as_of, strlen(as_of), &as_of_ms, NULL), 0, "%s", as_of);
        cr_assert(as_of_ms >= before - 1000 && as_of_ms <= after + 1000,
                  "as_of %s is not the time of the read", as_of);
        if (partition_of(accounts[i]) == partition_of(s.a)) {
            char where[64];
            snprintf(where, sizeof(where), "%d:%lld", (int)partition_of(s.a), (long long)junk);
            cr_assert(strstr(res.err, where) != NULL, "the skipped record is not named: %s",
                      res.err);
        }
        json_decref(obj);
        tcf_run_free(&res);
    }
    /* Known by hand, as a check on the story itself: a ends at
     * 100.00 - 30.25 - 20.00 + 5.00 - 94.75 + 94.75 - 59.75 = -5.00, within
     * its overdraft of 10.00 (which is a limit, not money). */
    cr_assert_eq(fold(&s, s.a, INT64_MAX).balance, -500);
    cr_assert_eq(fold(&s, s.b, INT64_MAX).status, ACCOUNT_CLOSED);
}

Test(cli_history, at_gives_the_state_as_of_a_past_time, .init = setup, .fini = teardown,
     .timeout = 60) {
    static story s;
    write_story(&s);
    const int64_t min = 60000;
    /* Exactly at an event's time includes it; between events; the far
     * future is now. */
    const int64_t times[] = {t0(), t0() + 2 * min, t0() + 4 * min + 30000, t0() + 7 * min,
                             t0() + 365LL * 24 * 60 * min};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char at[LTIME_TEXT_BUF];
        ltime_format(times[i], at, sizeof(at));
        for (int k = 0; k < 2; k++) {
            const char *account = k == 0 ? s.a : s.b;
            account_state want = fold(&s, account, times[i]);
            tcf_run_result res;
            json_t *obj = run_history(account, at, want.seq > 0 ? 0 : 1, &res);
            if (want.seq > 0) {
                assert_state(obj, account, &want);
                cr_assert_str_eq(json_string_value(json_object_get(obj, "as_of")), at);
            } else {
                char expected[128];
                snprintf(expected, sizeof(expected),
                         "{\"account\":\"%s\",\"error\":\"not_found\"}\n", account);
                cr_assert_str_eq(res.out, expected);
            }
            json_decref(obj);
            tcf_run_free(&res);
        }
    }
    /* Before the first event: nothing yet. */
    tcf_run_result res;
    json_t *obj = run_history(s.a, "2026-11-26T09:59:59.999Z", 1, &res);
    cr_assert_str_eq(res.out, "{\"account\":\"hist-a\",\"error\":\"not_found\"}\n");
    json_decref(obj);
    tcf_run_free(&res);
}

Test(cli_history, an_unknown_account_is_not_found, .init = setup, .fini = teardown, .timeout = 60) {
    static story s;
    write_story(&s);
    tcf_run_result res;
    json_t *obj = run_history("nobody", NULL, 1, &res);
    cr_assert_str_eq(res.out, "{\"account\":\"nobody\",\"error\":\"not_found\"}\n");
    json_decref(obj);
    tcf_run_free(&res);
    /* An empty log too. */
    obj = run_history("hist-a-elsewhere", "2027-01-01T00:00:00Z", 1, &res);
    json_decref(obj);
    tcf_run_free(&res);
}

Test(cli_history, an_undecodable_event_of_the_account_exits_3_naming_its_offset, .init = setup,
     .fini = teardown, .timeout = 60) {
    ledger_event e1 = make_event("broken", 1, t0(), LEDGER_EVENT_ACCOUNT_OPENED, 0, NULL);
    put_event(&e1);
    int64_t bad = tcf_produce(topics.names[LEDGER_KAFKA_TOPIC_EVENTS], partition_of("broken"),
                              "broken", "\xc3\x01garbage!", 10);
    ledger_event e2 = make_event("broken", 2, t0() + 1000, LEDGER_EVENT_MONEY_DEPOSITED, 5, NULL);
    put_event(&e2);
    tcf_run_result res;
    run_history("broken", NULL, 3, &res);
    char where[64];
    snprintf(where, sizeof(where), "%d:%lld", (int)partition_of("broken"), (long long)bad);
    cr_assert(strstr(res.err, where) != NULL, "stderr does not name %s: %s", where, res.err);
    cr_assert(strstr(res.err, "'broken'") != NULL, "%s", res.err);
    cr_assert_str_eq(res.out, "");
    tcf_run_free(&res);
}

Test(cli_history, a_seq_gap_exits_3_naming_it, .init = setup, .fini = teardown, .timeout = 60) {
    ledger_event e1 = make_event("gappy", 1, t0(), LEDGER_EVENT_ACCOUNT_OPENED, 0, NULL);
    ledger_event e2 = make_event("gappy", 2, t0() + 1, LEDGER_EVENT_MONEY_DEPOSITED, 100, NULL);
    ledger_event e4 = make_event("gappy", 4, t0() + 2, LEDGER_EVENT_MONEY_DEPOSITED, 100, NULL);
    put_event(&e1);
    put_event(&e2);
    int64_t gap = put_event(&e4);
    tcf_run_result res;
    run_history("gappy", NULL, 3, &res);
    char where[64];
    snprintf(where, sizeof(where), "%d:%lld", (int)partition_of("gappy"), (long long)gap);
    cr_assert(strstr(res.err, "seq gap") != NULL && strstr(res.err, where) != NULL, "stderr: %s",
              res.err);
    cr_assert(strstr(res.err, "expected seq 3, found 4") != NULL, "%s", res.err);
    tcf_run_free(&res);
    /* Up to before the gap, the account's past is still readable. */
    json_t *obj = run_history("gappy", "2026-11-26T10:00:00.001Z", 0, &res);
    cr_assert_str_eq(json_string_value(json_object_get(obj, "balance")), "1.00");
    cr_assert_eq(json_integer_value(json_object_get(obj, "version")), 2);
    json_decref(obj);
    tcf_run_free(&res);
}
