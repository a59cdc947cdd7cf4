/*
 * test_producer_dedup.c - idempotency (SPEC section 5): a command whose id
 * was already handled gets the original result again, with
 * "duplicate": true and the original position, and appends nothing; within
 * one transaction, across transactions and across a producer restart
 * (SIGTERM, start again: the window is rebuilt from the `cmd/<id>` entries).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kafka_test.h"
#include "test_producer_harness.h"

static ph_env env;

static void setup(void) {
    ph_setup(&env);
    ph_start(&env, NULL);
}

static void teardown(void) {
    ph_teardown(&env);
}

TestSuite(producer_dedup, .init = setup, .fini = teardown, .timeout = 300);

static ledger_result run(ledger_command_type type, const char *id, const char *account,
                         const char *to, int64_t amount) {
    ledger_command cmd = ph_cmd(type, id, account, to, amount);
    return ph_do(&env, &cmd);
}

/* `dup` is `orig` returned again. */
static void assert_duplicate_of(const ledger_result *dup, const ledger_result *orig) {
    cr_assert(dup->duplicate, "'%s' is not marked duplicate", dup->command_id);
    cr_assert_str_eq(dup->command_id, orig->command_id);
    cr_assert_eq(dup->reason, orig->reason, "'%s': %s, originally %s", dup->command_id,
                 ledger_reason_name(dup->reason), ledger_reason_name(orig->reason));
    cr_assert_eq(dup->has_event, orig->has_event);
    cr_assert_eq(dup->has_position, orig->has_position);
    if (orig->has_event) {
        cr_assert_str_eq(dup->event.event_id, orig->event.event_id);
        cr_assert_eq(dup->event.type, orig->event.type);
        cr_assert_eq(dup->event.seq, orig->event.seq);
        cr_assert_eq(dup->event.amount, orig->event.amount);
        cr_assert_eq(dup->event.at_ms, orig->event.at_ms);
        cr_assert_str_eq(dup->event.transfer_id, orig->event.transfer_id);
    }
    if (orig->has_position) {
        cr_assert_eq(dup->partition, orig->partition);
        cr_assert_eq(dup->offset, orig->offset);
    }
}

/* Accepted, rejected and transfer commands, then each again. */
static void handle_originals(ledger_result *dep, ledger_result *rej, ledger_result *tr) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "d-open-a", "alice", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "alice", 1);
    r = run(LEDGER_COMMAND_OPEN, "d-open-b", "bob", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "bob", 1);
    *dep = run(LEDGER_COMMAND_DEPOSIT, "d-dep", "alice", NULL, 1000);
    ph_assert_accepted(&env, dep, LEDGER_EVENT_MONEY_DEPOSITED, "alice", 2);
    *rej = run(LEDGER_COMMAND_WITHDRAW, "d-rej", "alice", NULL, 5000);
    ph_assert_rejected(rej, LEDGER_INSUFFICIENT_FUNDS);
    *tr = run(LEDGER_COMMAND_TRANSFER, "d-tr", "alice", "bob", 300);
    ph_assert_accepted(&env, tr, LEDGER_EVENT_TRANSFER_SENT, "alice", 3);
    ph_wait_events(&env, "bob", 2);
}

static void resubmit_all(const ledger_result *dep, const ledger_result *rej,
                         const ledger_result *tr) {
    /* Same ids; the content does not matter, the id does. */
    ledger_result r = run(LEDGER_COMMAND_DEPOSIT, "d-dep", "alice", NULL, 1000);
    assert_duplicate_of(&r, dep);
    r = run(LEDGER_COMMAND_WITHDRAW, "d-dep", "alice", NULL, 1);
    assert_duplicate_of(&r, dep);
    r = run(LEDGER_COMMAND_WITHDRAW, "d-rej", "alice", NULL, 5000);
    assert_duplicate_of(&r, rej);
    /* Funds are there now (after a deposit below), but the original
     * rejection stands. */
    r = run(LEDGER_COMMAND_TRANSFER, "d-tr", "alice", "bob", 300);
    assert_duplicate_of(&r, tr);
}

static void assert_nothing_appended(void) {
    ph_sync_partition(&env, ph_partition_of("alice"));
    ph_sync_partition(&env, ph_partition_of("bob"));
    cr_assert_eq(ph_events_of(&env, "alice", NULL, 0), 3, "opened, deposit, transfer sent");
    cr_assert_eq(ph_events_of(&env, "bob", NULL, 0), 2, "opened, transfer received");
    cr_assert_eq(ph_fold(&env, "alice").balance, 700);
    cr_assert_eq(ph_fold(&env, "bob").balance, 300);
}

Test(producer_dedup, duplicates_get_the_original_result) {
    ledger_result dep, rej, tr;
    handle_originals(&dep, &rej, &tr);
    resubmit_all(&dep, &rej, &tr);
    resubmit_all(&dep, &rej, &tr);
    assert_nothing_appended();
}

/* The restarted producer did not handle `id` (a command on alice's
 * partition) again: a probe command on the same commands partition, whose
 * result lands on the same results partition as `id`'s, is answered after
 * any re-handling of `id` would have been, and `id` still has one result. */
static void assert_handled_once(const char *id) {
    char probe_id[64], account[64], stem[32];
    for (int n = 0;; n++) {
        snprintf(probe_id, sizeof(probe_id), "probe-%s-%d", id, n);
        if (ph_partition_of(probe_id) == ph_partition_of(id))
            break;
    }
    snprintf(stem, sizeof(stem), "probe%08x", kt_random_u32());
    ph_account_on(account, sizeof(account), stem, ph_partition_of("alice"));
    ledger_command probe = ph_cmd(LEDGER_COMMAND_OPEN, probe_id, account, NULL, 0);
    ledger_result r = ph_do(&env, &probe);
    cr_assert_eq(r.reason, LEDGER_OK);
    cr_assert_eq(ph_result_count(&env, id), 1, "'%s' was handled again after the restart", id);
}

Test(producer_dedup, duplicates_after_a_restart) {
    ledger_result dep, rej, tr;
    handle_originals(&dep, &rej, &tr);
    ph_stop(&env);
    ph_start(&env, NULL);
    assert_handled_once("d-dep");
    assert_handled_once("d-rej");
    assert_handled_once("d-tr");
    resubmit_all(&dep, &rej, &tr);
    assert_nothing_appended();
    /* New commands go on from the restored state. */
    ledger_result r = run(LEDGER_COMMAND_WITHDRAW, "d-after", "alice", NULL, 700);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, "alice", 4);
    r = run(LEDGER_COMMAND_WITHDRAW, "d-after-2", "alice", NULL, 1);
    ph_assert_rejected(&r, LEDGER_INSUFFICIENT_FUNDS);
    r = run(LEDGER_COMMAND_OPEN, "d-after-3", "bob", NULL, 0);
    ph_assert_rejected(&r, LEDGER_ACCOUNT_EXISTS);
}

Test(producer_dedup, duplicates_after_restarts_with_snapshots) {
    /* A restart with a tiny snapshot interval still answers duplicates:
     * the window comes from the dedup records and the events, not from the
     * snapshot. */
    ledger_result dep, rej, tr;
    handle_originals(&dep, &rej, &tr);
    ph_stop(&env);
    const char *args[] = {"--snapshot-every", "1", NULL};
    ph_start(&env, args);
    resubmit_all(&dep, &rej, &tr);
    ph_stop(&env);
    ph_start(&env, args);
    resubmit_all(&dep, &rej, &tr);
    assert_nothing_appended();
}

Test(producer_dedup, duplicates_after_a_restart_from_a_snapshot_past_their_events) {
    /* Snapshots after every event: the restore replays none of the
     * originals' events, so their entries come from the dedup records
     * written with the snapshots (sets of accepted ones, cmd/ entries of
     * rejected ones), not from the events. */
    ph_stop(&env);
    const char *args[] = {"--snapshot-every", "1", NULL};
    ph_start(&env, args);
    ledger_result dep, rej, tr;
    handle_originals(&dep, &rej, &tr);
    ph_stop(&env);
    ph_start(&env, args);
    assert_handled_once("d-dep");
    assert_handled_once("d-rej");
    assert_handled_once("d-tr");
    resubmit_all(&dep, &rej, &tr);
    assert_nothing_appended();
}

Test(producer_dedup, duplicates_in_one_batch) {
    ledger_result r = run(LEDGER_COMMAND_OPEN, "b-open", "carol", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "carol", 1);
    /* Written back to back (most likely one transaction; either way the
     * answer must be the same): one deposit, three duplicates. */
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_DEPOSIT, "b-dep", "carol", NULL, 250);
    for (int i = 0; i < 4; i++)
        ph_send(&env, &cmd);
    ledger_result first = ph_wait_result(&env, "b-dep", 1);
    ph_assert_accepted(&env, &first, LEDGER_EVENT_MONEY_DEPOSITED, "carol", 2);
    for (int n = 2; n <= 4; n++) {
        ledger_result dup = ph_wait_result(&env, "b-dep", n);
        assert_duplicate_of(&dup, &first);
    }
    ph_sync_partition(&env, ph_partition_of("carol"));
    cr_assert_eq(ph_events_of(&env, "carol", NULL, 0), 2);
    cr_assert_eq(ph_fold(&env, "carol").balance, 250);
    cr_assert_eq(ph_result_count(&env, "b-dep"), 4, "one result per time it was handled");
}

Test(producer_dedup, window_expiry_forgets_old_ids) {
    /* With a one-second window, an id handled more than a second ago is
     * handled again as new: the window is bounded, as documented. */
    ph_stop(&env);
    const char *args[] = {"--dedup-window", "1s", NULL};
    ph_start(&env, args);
    ledger_result r = run(LEDGER_COMMAND_OPEN, "w-open", "dave", NULL, 0);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_ACCOUNT_OPENED, "dave", 1);
    r = run(LEDGER_COMMAND_DEPOSIT, "w-dep", "dave", NULL, 100);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "dave", 2);
    /* Inside the window it is a duplicate... */
    int64_t handled = kt_now_ms();
    r = run(LEDGER_COMMAND_DEPOSIT, "w-dep", "dave", NULL, 100);
    if (kt_now_ms() - handled < 900)
        cr_assert(r.duplicate, "within the window");
    /* ...and once the window has passed it (polled with a deadline), a
     * new command. Each try that is still a duplicate appends nothing. */
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    do {
        r = run(LEDGER_COMMAND_DEPOSIT, "w-dep", "dave", NULL, 100);
        cr_assert_lt(kt_now_ms(), deadline, "the id never left the window");
    } while (r.duplicate);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_DEPOSITED, "dave", 3);
}
