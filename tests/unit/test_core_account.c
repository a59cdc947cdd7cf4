/*
 * test_core_account.c - the reducer, and the "seed exercise": a transfer as
 * two events on two streams, each account folded alone from its own list.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "account.h"
#include "decide.h"
#include "model.h"

Test(account, init_is_a_never_opened_account) {
    account_state s;
    memset(&s, 0x5a, sizeof s);
    account_init(&s);
    cr_expect_eq(s.status, ACCOUNT_NONE);
    cr_expect_eq(s.balance, 0);
    cr_expect_eq(s.overdraft, 0);
    cr_expect_eq(s.seq, 0);
}

Test(account, applies_every_event_type) {
    account_state s;
    account_init(&s);
    ledger_event e = model_event(LEDGER_EVENT_ACCOUNT_OPENED, "A", 1, 0, 2500);
    cr_assert_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.status, ACCOUNT_OPEN);
    cr_expect_eq(s.overdraft, 2500);
    cr_expect_eq(s.balance, 0);
    cr_expect_eq(s.seq, 1);

    static const struct {
        ledger_event_type type;
        int64_t amount;
        int64_t balance_after;
    } steps[] = {
        {LEDGER_EVENT_MONEY_DEPOSITED, 10000, 10000}, {LEDGER_EVENT_MONEY_WITHDRAWN, 2500, 7500},
        {LEDGER_EVENT_TRANSFER_SENT, 9000, -1500},    {LEDGER_EVENT_TRANSFER_RETURNED, 9000, 7500},
        {LEDGER_EVENT_TRANSFER_RECEIVED, 125, 7625},  {LEDGER_EVENT_MONEY_WITHDRAWN, 7625, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        e = model_event(steps[i].type, "A", (int64_t)i + 2, 0, steps[i].amount);
        cr_assert_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
        cr_expect_eq(s.balance, steps[i].balance_after, "step %zu", i);
        cr_expect_eq(s.seq, (int64_t)i + 2);
        cr_expect_eq(s.status, ACCOUNT_OPEN);
        cr_expect_eq(s.overdraft, 2500);
    }
    e = model_event(LEDGER_EVENT_ACCOUNT_CLOSED, "A", 8, 0, 0);
    cr_assert_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.status, ACCOUNT_CLOSED);
    cr_expect_eq(s.balance, 0);
    cr_expect_eq(s.seq, 8);
}

Test(account, duplicates_and_gaps_leave_the_state_alone) {
    account_state s = model_state(ACCOUNT_OPEN, 500, 0, 3);
    account_state before = s;
    ledger_event e = model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 3, 0, 100);
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_DUPLICATE);
    e.seq = 1;
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_DUPLICATE);
    e.seq = INT64_MIN;
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_DUPLICATE);
    e.seq = 5;
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_SEQ_GAP);
    e.seq = INT64_MAX;
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_SEQ_GAP);
    cr_expect(memcmp(&s, &before, sizeof s) == 0);
    e.seq = 4;
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.balance, 600);
    /* Redelivery of the same event is a no-op: the fold is idempotent. */
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_DUPLICATE);
    cr_expect_eq(s.balance, 600);
}

Test(account, events_are_facts_whatever_the_status) {
    /* A deposit folded into a state the decider would have refused still
     * moves the balance: the reducer checks seq only. */
    account_state s;
    account_init(&s);
    ledger_event e = model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 1, 0, 100);
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.balance, 100);
    cr_expect_eq(s.status, ACCOUNT_NONE);
}

Test(account, balances_saturate_instead_of_overflowing) {
    account_state s = model_state(ACCOUNT_OPEN, INT64_MAX - 1, 0, 1);
    ledger_event e = model_event(LEDGER_EVENT_MONEY_DEPOSITED, "A", 2, 0, 100);
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.balance, INT64_MAX);
    s.balance = INT64_MIN + 1;
    e = model_event(LEDGER_EVENT_MONEY_WITHDRAWN, "A", 3, 0, 100);
    cr_expect_eq(account_apply(&s, &e), ACCOUNT_APPLIED);
    cr_expect_eq(s.balance, INT64_MIN);
}

/* ---- the seed exercise ----------------------------------------------------- */

typedef struct stream {
    ledger_event events[16];
    int count;
    account_state live; /* the state the decider saw, folded as we go */
} stream;

static void stream_init(stream *s) {
    memset(s, 0, sizeof *s);
    account_init(&s->live);
}

static void stream_append(stream *s, const ledger_event *e) {
    cr_assert_lt(s->count, 16);
    s->events[s->count++] = *e;
    cr_assert_eq(account_apply(&s->live, e), ACCOUNT_APPLIED);
}

/* Folds the stream's list of events from scratch, alone. */
static account_state stream_fold(const stream *s) {
    account_state st;
    account_init(&st);
    for (int i = 0; i < s->count; i++)
        cr_assert_eq(account_apply(&st, &s->events[i]), ACCOUNT_APPLIED);
    return st;
}

static void handle(stream *s, ledger_command c, int64_t now, ledger_event *out) {
    ledger_decide_ids ids = model_ids(now);
    ledger_reason r = ledger_decide(&s->live, &c, &ids, out);
    cr_assert_eq(r, LEDGER_OK, "command %s refused: %s", c.id, ledger_reason_name(r));
    stream_append(s, out);
}

Test(seed_exercise, a_transfer_is_sent_on_one_stream_and_received_on_the_other) {
    stream a, b;
    ledger_event e;
    stream_init(&a);
    stream_init(&b);

    handle(&a, model_command("c1", LEDGER_COMMAND_OPEN, "A", NULL, 0), 1000, &e);
    handle(&a, model_command("c2", LEDGER_COMMAND_DEPOSIT, "A", NULL, 10000), 2000, &e);
    handle(&b, model_command("c3", LEDGER_COMMAND_OPEN, "B", NULL, 0), 3000, &e);
    handle(&b, model_command("c4", LEDGER_COMMAND_DEPOSIT, "B", NULL, 500), 4000, &e);

    ledger_event sent, received;
    handle(&a, model_command("c5", LEDGER_COMMAND_TRANSFER, "A", "B", 3050), 5000, &sent);
    cr_assert_eq(ledger_decide_credit(&b.live, &sent, "r-1", &received), LEDGER_OK);
    stream_append(&b, &received);

    /* Each account's list holds only its own events, with contiguous seqs. */
    cr_assert_eq(a.count, 3);
    cr_assert_eq(b.count, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(a.events[i].account, "A");
        cr_expect_str_eq(b.events[i].account, "B");
        cr_expect_eq(a.events[i].seq, i + 1);
        cr_expect_eq(b.events[i].seq, i + 1);
    }
    cr_expect_eq(a.events[2].type, LEDGER_EVENT_TRANSFER_SENT);
    cr_expect_eq(b.events[2].type, LEDGER_EVENT_TRANSFER_RECEIVED);
    cr_expect_str_eq(a.events[2].transfer_id, b.events[2].transfer_id);
    cr_expect_eq(a.events[2].at_ms, b.events[2].at_ms);

    /* Final balances from each list, folded alone: 100.00 - 30.50 and
     * 5.00 + 30.50. */
    account_state fa = stream_fold(&a), fb = stream_fold(&b);
    cr_expect_eq(fa.balance, 6950);
    cr_expect_eq(fb.balance, 3550);
    cr_expect_eq(fa.seq, 3);
    cr_expect_eq(fb.seq, 3);
    cr_expect(memcmp(&fa, &a.live, sizeof fa) == 0);
    cr_expect(memcmp(&fb, &b.live, sizeof fb) == 0);
}

Test(seed_exercise, a_transfer_to_a_closed_account_is_returned) {
    stream a, c;
    ledger_event e;
    stream_init(&a);
    stream_init(&c);

    handle(&a, model_command("c1", LEDGER_COMMAND_OPEN, "A", NULL, 0), 1000, &e);
    handle(&a, model_command("c2", LEDGER_COMMAND_DEPOSIT, "A", NULL, 10000), 2000, &e);
    handle(&c, model_command("c3", LEDGER_COMMAND_OPEN, "C", NULL, 0), 3000, &e);
    handle(&c, model_command("c4", LEDGER_COMMAND_CLOSE, "C", NULL, 0), 4000, &e);

    ledger_event sent, received, returned;
    handle(&a, model_command("c5", LEDGER_COMMAND_TRANSFER, "A", "C", 4000), 5000, &sent);
    cr_expect_eq(a.live.balance, 6000, "the debit side applies first");
    ledger_reason why = ledger_decide_credit(&c.live, &sent, "r-1", &received);
    cr_assert_eq(why, LEDGER_ACCOUNT_CLOSED);
    ledger_decide_return(&a.live, &sent, why, "r-2", &returned);
    stream_append(&a, &returned);

    cr_assert_eq(a.count, 4);
    cr_assert_eq(c.count, 2, "nothing is written on the closed account");
    cr_expect_eq(returned.seq, 4);
    cr_expect_eq(returned.reason, LEDGER_ACCOUNT_CLOSED);
    account_state fa = stream_fold(&a), fc = stream_fold(&c);
    cr_expect_eq(fa.balance, 10000, "the returned amount is credited back");
    cr_expect_eq(fc.balance, 0);
    cr_expect_eq(fc.status, ACCOUNT_CLOSED);
}

Test(seed_exercise, a_transfer_to_a_never_opened_account_is_returned) {
    stream a;
    ledger_event e, sent, received, returned;
    account_state nobody;
    stream_init(&a);
    account_init(&nobody);

    handle(&a, model_command("c1", LEDGER_COMMAND_OPEN, "A", NULL, 1000), 1000, &e);
    handle(&a, model_command("c2", LEDGER_COMMAND_TRANSFER, "A", "Z", 1000), 2000, &sent);
    cr_expect_eq(a.live.balance, -1000, "down to the overdraft");
    ledger_reason why = ledger_decide_credit(&nobody, &sent, "r", &received);
    cr_assert_eq(why, LEDGER_NO_SUCH_ACCOUNT);
    ledger_decide_return(&a.live, &sent, why, "r2", &returned);
    stream_append(&a, &returned);
    account_state fa = stream_fold(&a);
    cr_expect_eq(fa.balance, 0);
    cr_expect_eq(fa.seq, 3);
}
