/*
 * test_e2e_snapshot.c - chunked snapshots end to end.
 *
 *   - A snapshot (manifest `snapshot` + chunks `snapshot/<i>`, put together
 *     here from the topic independently of the producer) equals the fold
 *     of its partition's events before its events offset, every chunk
 *     stays under --snapshot-max-bytes, and a producer restored from it
 *     decides exactly as a full replay says it must.
 *   - After 100,000 events (20,000 accounts) with --snapshot-every 10000, a
 *     restart replays fewer than 10,000 events per partition, and the
 *     decisions after it continue from the right balances and seqs.
 *   - A smaller snapshot deletes the chunk keys it no longer uses.
 *   - A whole snapshot in one record (the format before chunks) is still
 *     read; a manifest whose chunks are missing is not used: the partition
 *     is replayed from the start and decisions stay right.
 *
 * The numbers a restore reports come from its log line
 * "partition P restored: N accounts, M events replayed".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "kafka_test.h"
#include "test_e2e_support.h"

static e2e_env env;

static void setup(void) {
    e2e_setup(&env);
}

static void teardown(void) {
    e2e_teardown(&env);
}

TestSuite(e2e_snapshot, .init = setup, .fini = teardown, .timeout = 120);

#define LEDGER(want, ...) e2e_ledger_json(&env, (want), (const char *const[]){__VA_ARGS__, NULL})

typedef struct restored {
    unsigned long accounts, replayed;
} restored;

/* The restore lines of every partition in the log from byte `from`. */
static void read_restored(int64_t from, restored out[PH_PARTITIONS]) {
    char *log = e2e_file_text(env.ph.log_path, from);
    for (int p = 0; p < PH_PARTITIONS; p++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "partition %d restored: ", p);
        const char *line = strstr(log, needle);
        cr_assert_not_null(line, "no restore line for partition %d in %s", p, env.ph.log_path);
        cr_assert_eq(sscanf(line + strlen(needle), "%lu accounts, %lu events replayed",
                            &out[p].accounts, &out[p].replayed),
                     2);
    }
    free(log);
}

/* Restarts the producer with `args`; returns where its log starts. */
static int64_t restart(const char *const *args) {
    if (env.ph.pid > 0)
        ph_stop(&env.ph);
    int64_t from = e2e_file_size(env.ph.log_path);
    e2e_start(&env, args);
    return from;
}

/* Asserts each partition's snapshot equals the fold of its events before
 * its events offset; returns how many partitions have one. */
static int assert_snapshots_are_folds(const e2e_events *events, const int *chunks,
                                      ledger_snapshot *snaps) {
    int with = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        ledger_snapshot *s = &snaps[p];
        if (chunks[p] == 0)
            continue;
        with++;
        cr_assert_geq(s->events_offset, 0);
        /* Every account of the snapshot is the fold of its events before
         * events_offset ... */
        for (size_t i = 0; i < s->account_count; i++) {
            account_state want;
            account_init(&want);
            for (size_t k = 0; k < events->count; k++) {
                const ph_event *ev = &events->items[k];
                if (ev->partition == p && ev->offset < s->events_offset &&
                    strcmp(ev->event.account, s->accounts[i].account) == 0)
                    cr_assert_eq(account_apply(&want, &ev->event), ACCOUNT_APPLIED);
            }
            const account_state *got = &s->accounts[i].state;
            cr_assert_eq(got->seq, want.seq, "'%s' seq", s->accounts[i].account);
            cr_assert_eq(got->balance, want.balance, "'%s' balance", s->accounts[i].account);
            cr_assert_eq(got->overdraft, want.overdraft, "'%s'", s->accounts[i].account);
            cr_assert_eq(got->status, want.status, "'%s'", s->accounts[i].account);
            cr_assert_gt(want.seq, 0, "'%s' is in the snapshot before its first event",
                         s->accounts[i].account);
            for (size_t j = 0; j < i; j++)
                cr_assert_str_neq(s->accounts[j].account, s->accounts[i].account,
                                  "'%s' twice in the snapshot", s->accounts[i].account);
        }
        /* ... and every account with such events is in it. */
        size_t first_events = 0;
        for (size_t k = 0; k < events->count; k++) {
            const ph_event *ev = &events->items[k];
            first_events +=
                ev->partition == p && ev->offset < s->events_offset && ev->event.seq == 1;
        }
        cr_assert_eq(s->account_count, first_events, "partition %d: %zu accounts, %zu opened", p,
                     s->account_count, first_events);
    }
    return with;
}

/* Submits `input` and returns the output lines parsed (count in *n). */
static json_t **submit(const char *input, size_t *n) {
    tcf_run_result res;
    e2e_ledger(&env, &res, (const char *const[]){"submit", "--timeout", "60", NULL}, input);
    cr_assert_eq(res.exit_code, 0, "submit: %s", res.err);
    size_t cap = 16, count = 0;
    json_t **lines = malloc(cap * sizeof(*lines));
    for (const char *line = res.out; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        cr_assert_not_null(nl);
        if (count == cap)
            lines = realloc(lines, (cap *= 2) * sizeof(*lines));
        json_error_t error;
        lines[count] = json_loadb(line, (size_t)(nl - line), 0, &error);
        cr_assert_not_null(lines[count], "%s", error.text);
        count++;
        line = nl + 1;
    }
    tcf_run_free(&res);
    *n = count;
    return lines;
}

static void free_lines(json_t **lines, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(lines);
}

/* For every account: a withdrawal one cent over what the full replay says
 * is available is rejected, and exactly what is available is accepted
 * with the next seq (closed accounts: account_closed). */
static void assert_decisions_follow_the_fold(const e2e_events *events, char names[][16],
                                             size_t count) {
    size_t cap = count * 300, used = 0;
    char *input = malloc(cap);
    account_state *want = calloc(count, sizeof(*want));
    cr_assert(input != NULL && want != NULL);
    for (size_t a = 0; a < count; a++) {
        want[a] = e2e_fold(events, names[a]);
        int64_t avail = want[a].balance + want[a].overdraft;
        used += (size_t)snprintf(input + used, cap - used,
                                 "{\"id\":\"over-%zu\",\"type\":\"withdraw\",\"account\":\"%s\","
                                 "\"amount\":\"%lld.%02lld\"}\n",
                                 a, names[a], (long long)((avail + 1) / 100),
                                 (long long)((avail + 1) % 100));
        if (avail > 0)
            used +=
                (size_t)snprintf(input + used, cap - used,
                                 "{\"id\":\"all-%zu\",\"type\":\"withdraw\",\"account\":\"%s\","
                                 "\"amount\":\"%lld.%02lld\"}\n",
                                 a, names[a], (long long)(avail / 100), (long long)(avail % 100));
    }
    size_t n = 0;
    json_t **lines = submit(input, &n);
    size_t k = 0;
    for (size_t a = 0; a < count; a++) {
        int64_t avail = want[a].balance + want[a].overdraft;
        cr_assert_lt(k, n);
        e2e_assert_rejected(lines[k++], want[a].status == ACCOUNT_CLOSED ? "account_closed"
                                                                         : "insufficient_funds");
        if (avail > 0) {
            cr_assert_lt(k, n);
            if (want[a].status == ACCOUNT_CLOSED) {
                e2e_assert_rejected(lines[k++], "account_closed");
            } else {
                char id[32];
                snprintf(id, sizeof(id), "all-%zu", a);
                e2e_assert_accepted(lines[k++], id, "MoneyWithdrawn", names[a], want[a].seq + 1);
            }
        }
    }
    cr_assert_eq(k, n, "extra output lines");
    free_lines(lines, n);
    free(input);
    free(want);
}

Test(e2e_snapshot, chunked_snapshot_equals_full_replay) {
    enum { ACCOUNTS = 300, COMMANDS = 900, EVERY = 50 };
    /* 2048 bytes hold 15 accounts by the codec's bound: ~8 chunks per
     * partition of 50 accounts. */
    const char *const args[] = {"--snapshot-every", "50", "--snapshot-max-bytes", "2048", NULL};
    e2e_start(&env, args);
    static char names[ACCOUNTS][16];
    size_t cap = 200 * (ACCOUNTS + COMMANDS), used = 0;
    char *input = malloc(cap);
    cr_assert_not_null(input);
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(names[a], sizeof(names[a]), "s%03d", a);
        used += (size_t)snprintf(input + used, cap - used,
                                 "{\"type\":\"open\",\"account\":\"%s\",\"overdraft\":\"%d\"}\n",
                                 names[a], a % 7);
    }
    unsigned seed = 4242;
    for (int i = 0; i < COMMANDS; i++) {
        int a = (int)(rand_r(&seed) % ACCOUNTS), b = (int)(rand_r(&seed) % ACCOUNTS);
        int cents = 1 + (int)(rand_r(&seed) % 3000);
        int kind = (int)(rand_r(&seed) % 10);
        if (kind < 5)
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"deposit\",\"account\":\"%s\",\"amount\":"
                                     "\"%d.%02d\"}\n",
                                     names[a], cents / 100, cents % 100);
        else if (kind < 7)
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"withdraw\",\"account\":\"%s\",\"amount\":"
                                     "\"%d.%02d\"}\n",
                                     names[a], cents / 100, cents % 100);
        else if (kind < 9)
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"transfer\",\"account\":\"%s\",\"to\":\"%s\","
                                     "\"amount\":\"%d.%02d\"}\n",
                                     names[a], names[b], cents / 100, cents % 100);
        else
            used += (size_t)snprintf(input + used, cap - used,
                                     "{\"type\":\"close\",\"account\":\"%s\"}\n", names[a]);
    }
    size_t n = 0;
    free_lines(submit(input, &n), n);
    cr_assert_eq(n, ACCOUNTS + COMMANDS);
    free(input);
    e2e_events events;
    e2e_wait_transfers_settled(&env, &events);
    e2e_events_free(&events);
    ph_stop(&env.ph);

    e2e_read_events(&env, &events);
    ledger_snapshot snaps[PH_PARTITIONS];
    int chunks[PH_PARTITIONS];
    e2e_read_snapshots(&env, snaps, chunks);
    int most = 0;
    for (int p = 0; p < PH_PARTITIONS; p++)
        most = chunks[p] > most ? chunks[p] : most;
    cr_assert_gt(most, 1, "no snapshot needed more than one chunk");
    cr_assert_eq(assert_snapshots_are_folds(&events, chunks, snaps), PH_PARTITIONS);
    for (int p = 0; p < PH_PARTITIONS; p++)
        ledger_snapshot_release(&snaps[p]);
    /* No chunk record is over the limit. */
    e2e_records records;
    e2e_read_topic(env.ph.topics[LEDGER_KAFKA_TOPIC_SNAPSHOTS], &records);
    for (size_t i = 0; i < records.count; i++)
        cr_assert_leq(records.items[i].len, 2048, "'%s' is %zu bytes", records.items[i].key,
                      records.items[i].len);
    e2e_records_free(&records);

    int64_t from = restart(args);
    restored r[PH_PARTITIONS];
    read_restored(from, r);
    unsigned long accounts = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        cr_assert_lt(r[p].replayed, EVERY, "partition %d replayed %lu events", p, r[p].replayed);
        accounts += r[p].accounts;
    }
    cr_assert_eq(accounts, ACCOUNTS);
    assert_decisions_follow_the_fold(&events, names, ACCOUNTS);
    e2e_events_free(&events);
}

Test(e2e_snapshot, restart_after_100000_events_does_not_replay_them_all, .timeout = 180) {
    enum { ACCOUNTS = 20000, DEPOSITS = 4, EVERY = 10000 };
    const char *const args[] = {"--snapshot-every", "10000", "--snapshot-max-bytes", "65536", NULL};
    e2e_start(&env, args);
    size_t n = (size_t)ACCOUNTS * (1 + DEPOSITS);
    ledger_command *cmds = calloc(n, sizeof(*cmds));
    cr_assert_not_null(cmds);
    char account[32], id[48];
    size_t k = 0;
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf(account, sizeof(account), "acct%05d", a);
        snprintf(id, sizeof(id), "open-%d", a);
        cmds[k++] = ph_cmd(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
    }
    /* Account a gets (a % 97 + 1) * (d + 1) cents in deposit d. */
    for (int d = 0; d < DEPOSITS; d++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            snprintf(account, sizeof(account), "acct%05d", a);
            snprintf(id, sizeof(id), "dep-%d-%d", a, d);
            cmds[k++] = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, account, NULL, (a % 97 + 1) * (d + 1));
        }
    }
    ph_send_many(&env.ph, cmds, n);
    free(cmds);
    ph_wait_result_total(&env.ph, n);
    for (size_t i = 0; i < env.ph.result_count; i++)
        cr_assert_eq(env.ph.result_log[i].reason, LEDGER_OK, "'%s': %s",
                     env.ph.result_log[i].command_id,
                     ledger_reason_name(env.ph.result_log[i].reason));

    int64_t from = restart(args);
    restored r[PH_PARTITIONS];
    read_restored(from, r);
    unsigned long accounts = 0, replayed = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        cr_assert_lt(r[p].replayed, EVERY, "partition %d replayed %lu events", p, r[p].replayed);
        accounts += r[p].accounts;
        replayed += r[p].replayed;
    }
    cr_assert_eq(accounts, ACCOUNTS);
    cr_assert_lt(replayed, n / 2, "%lu of %zu events replayed", replayed, n);
    /* The snapshots were chunked: 65536 bytes hold at most 511 accounts. */
    char *log = e2e_file_text(env.ph.log_path, from);
    const char *line = strstr(log, ": snapshot at ");
    cr_assert_not_null(line, "no snapshot was restored");
    const char *in = strstr(line, " accounts in ");
    cr_assert_not_null(in);
    cr_assert_gt(atoi(in + strlen(" accounts in ")), 1, "%.200s", line);
    free(log);

    /* Decisions continue from the restored balances: 10 * (a % 97 + 1). */
    for (int a = 0; a < ACCOUNTS; a += 1999) {
        int64_t balance = 10 * (a % 97 + 1);
        snprintf(account, sizeof(account), "acct%05d", a);
        char over[32], exact[32], idover[32], idexact[32];
        snprintf(over, sizeof(over), "%lld.%02lld", (long long)((balance + 1) / 100),
                 (long long)((balance + 1) % 100));
        snprintf(exact, sizeof(exact), "%lld.%02lld", (long long)(balance / 100),
                 (long long)(balance % 100));
        snprintf(idover, sizeof(idover), "over-%d", a);
        snprintf(idexact, sizeof(idexact), "exact-%d", a);
        json_t *res = LEDGER(1, "withdraw", account, over, "--id", idover);
        e2e_assert_rejected(res, "insufficient_funds");
        json_decref(res);
        res = LEDGER(0, "withdraw", account, exact, "--id", idexact);
        e2e_assert_accepted(res, idexact, "MoneyWithdrawn", account, 2 + DEPOSITS);
        json_decref(res);
        res = LEDGER(0, "history", account);
        cr_assert_str_eq(e2e_str(res, "balance"), "0.00");
        json_decref(res);
    }
}

Test(e2e_snapshot, a_smaller_snapshot_deletes_the_chunks_it_no_longer_uses) {
    enum { MANY = 120 };
    const char *const small[] = {"--snapshot-every", "1", "--snapshot-max-bytes", "1024", NULL};
    const char *const large[] = {"--snapshot-every", "1", "--snapshot-max-bytes", "65536", NULL};
    e2e_start(&env, small);
    ledger_command cmds[MANY];
    static char names[MANY][16];
    char id[32];
    for (int a = 0; a < MANY; a++) {
        char stem[16];
        snprintf(stem, sizeof(stem), "m%03d", a);
        ph_account_on(names[a], sizeof(names[a]), stem, 2);
        snprintf(id, sizeof(id), "open-%d", a);
        cmds[a] = ph_cmd(LEDGER_COMMAND_OPEN, id, names[a], NULL, 0);
    }
    ph_send_many(&env.ph, cmds, MANY);
    ph_wait_result_total(&env.ph, MANY);
    ph_stop(&env.ph);
    ledger_snapshot snaps[PH_PARTITIONS];
    int chunks[PH_PARTITIONS];
    e2e_read_snapshots(&env, snaps, chunks);
    cr_assert_gt(chunks[2], 4, "120 accounts in %d chunks of 1024 bytes", chunks[2]);
    cr_assert_eq(snaps[2].account_count, MANY);
    for (int p = 0; p < PH_PARTITIONS; p++)
        ledger_snapshot_release(&snaps[p]);

    /* Larger chunks: the next snapshot needs one; the others are deleted
     * (e2e_read_snapshots asserts no live key beyond the count). */
    int64_t from = restart(large);
    json_decref(LEDGER(0, "deposit", names[0], "1"));
    ph_stop(&env.ph);
    e2e_read_snapshots(&env, snaps, chunks);
    cr_assert_eq(chunks[2], 1);
    cr_assert_eq(snaps[2].account_count, MANY);
    for (int p = 0; p < PH_PARTITIONS; p++)
        ledger_snapshot_release(&snaps[p]);
    char *log = e2e_file_text(env.ph.log_path, from);
    cr_assert(strstr(log, "stale chunk keys deleted") != NULL);
    free(log);

    from = restart(large);
    restored r[PH_PARTITIONS];
    read_restored(from, r);
    cr_assert_eq(r[2].accounts, MANY);
    cr_assert_eq(r[2].replayed, 0);
    json_t *res = LEDGER(0, "withdraw", names[0], "1");
    e2e_assert_accepted(res, e2e_str(res, "command_id"), "MoneyWithdrawn", names[0], 3);
    json_decref(res);
}

/* Produces a record to the snapshots topic, with the chunk headers when
 * epoch is not NULL. */
static void produce_snapshot_record(int32_t partition, const char *key, const uint8_t *value,
                                    size_t len, const char *epoch, const char *chunks) {
    rd_kafka_resp_err_t err;
    int64_t offset = -1;
    const char *topic = env.ph.topics[LEDGER_KAFKA_TOPIC_SNAPSHOTS];
    if (epoch == NULL)
        err = rd_kafka_producev(
            env.ph.client, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    else
        err = rd_kafka_producev(
            env.ph.client, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_HEADER("ledger.snapshot.epoch", epoch, -1),
            RD_KAFKA_V_HEADER("ledger.snapshot.chunks", chunks, -1),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(env.ph.client, E2E_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_geq(offset, 0, "the snapshot record was not delivered");
}

/* Opens the accounts (all on partition 4) with deposits, snapshots off. */
static void history_on_partition_4(char names[][16], int count, const char *const *args) {
    e2e_start(&env, args);
    ledger_command *cmds = calloc((size_t)count * 2, sizeof(*cmds));
    char id[32];
    for (int a = 0; a < count; a++) {
        char stem[16];
        snprintf(stem, sizeof(stem), "w%02d", a);
        ph_account_on(names[a], 16, stem, 4);
        snprintf(id, sizeof(id), "open-%d", a);
        cmds[a] = ph_cmd(LEDGER_COMMAND_OPEN, id, names[a], NULL, 0);
        snprintf(id, sizeof(id), "dep-%d", a);
        cmds[count + a] = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, names[a], NULL, 100 + a);
    }
    ph_send_many(&env.ph, cmds, (size_t)count * 2);
    ph_wait_result_total(&env.ph, (size_t)count * 2);
    free(cmds);
    ph_stop(&env.ph);
}

static const char *const no_snapshots[] = {"--snapshot-every", "1000000", "--snapshot-interval",
                                           "1h", NULL};

Test(e2e_snapshot, a_whole_snapshot_record_of_the_old_format_is_still_read) {
    enum { COUNT = 30 };
    static char names[COUNT][16];
    history_on_partition_4(names, COUNT, no_snapshots);

    /* The old format: one record, key `snapshot`, no headers, every
     * account, as of the end of the events partition. */
    e2e_events events;
    e2e_read_events(&env, &events);
    int64_t end = 0;
    for (size_t i = 0; i < events.count; i++) {
        if (events.items[i].partition == 4 && events.items[i].offset + 1 > end)
            end = events.items[i].offset + 1;
    }
    snapshot_account accounts[COUNT];
    for (int a = 0; a < COUNT; a++) {
        memset(&accounts[a], 0, sizeof(accounts[a]));
        snprintf(accounts[a].account, sizeof(accounts[a].account), "%s", names[a]);
        accounts[a].state = e2e_fold(&events, names[a]);
    }
    e2e_events_free(&events);
    ledger_snapshot snap = {
        .partition = 4, .events_offset = end, .account_count = COUNT, .accounts = accounts};
    uint8_t buf[8192];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(ledger_codec_encode_snapshot(env.ph.codec, &snap, buf, sizeof(buf), &len, errstr,
                                              sizeof(errstr)),
                 0, "%s", errstr);
    produce_snapshot_record(4, "snapshot", buf, len, NULL, NULL);

    int64_t from = restart(no_snapshots);
    restored r[PH_PARTITIONS];
    read_restored(from, r);
    cr_assert_eq(r[4].accounts, COUNT);
    cr_assert_eq(r[4].replayed, 0, "the old snapshot was not used: %lu replayed", r[4].replayed);
    json_t *res = LEDGER(1, "withdraw", names[7], "1.08");
    e2e_assert_rejected(res, "insufficient_funds");
    json_decref(res);
    res = LEDGER(0, "withdraw", names[7], "1.07");
    e2e_assert_accepted(res, e2e_str(res, "command_id"), "MoneyWithdrawn", names[7], 3);
    json_decref(res);
}

Test(e2e_snapshot, a_manifest_without_its_chunks_is_not_used) {
    enum { COUNT = 20 };
    static char names[COUNT][16];
    history_on_partition_4(names, COUNT, no_snapshots);

    /* A manifest naming three chunks that are not there. */
    ledger_snapshot manifest = {.partition = 4, .events_offset = -1};
    uint8_t buf[256];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(ledger_codec_encode_snapshot(env.ph.codec, &manifest, buf, sizeof(buf), &len,
                                              errstr, sizeof(errstr)),
                 0, "%s", errstr);
    produce_snapshot_record(4, "snapshot", buf, len, "00000000000000aa", "3");

    int64_t from = restart(no_snapshots);
    restored r[PH_PARTITIONS];
    read_restored(from, r);
    cr_assert_eq(r[4].accounts, COUNT);
    cr_assert_eq(r[4].replayed, 2 * COUNT, "the partition is replayed from the start");
    char *log = e2e_file_text(env.ph.log_path, from);
    cr_assert(strstr(log, "chunk 0 of 3 is missing") != NULL, "no reason logged");
    free(log);
    json_t *res = LEDGER(1, "withdraw", names[3], "1.04");
    e2e_assert_rejected(res, "insufficient_funds");
    json_decref(res);
    res = LEDGER(0, "withdraw", names[3], "1.03");
    e2e_assert_accepted(res, e2e_str(res, "command_id"), "MoneyWithdrawn", names[3], 3);
    json_decref(res);
}
