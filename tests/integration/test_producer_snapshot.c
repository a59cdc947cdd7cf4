/*
 * test_producer_snapshot.c - snapshots: with a small --snapshot-every, the
 * producer writes snapshots (a `snapshot` manifest and its `snapshot/<i>`
 * chunks, put together here independently of the producer's reader) whose
 * accounts equal the fold of the events before their events_offset (a full
 * replay), a restart restores
 * from them and replays only the few events after them (the restore log
 * line says how many), and decisions after the restart continue exactly
 * where they stopped.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_test.h"
#include "test_producer_harness.h"

#define SNAPSHOT_EVERY 5
#define ACCOUNTS       12
#define DEPOSITS       6

static ph_env env;

static void setup(void) {
    ph_setup(&env);
}

static void teardown(void) {
    ph_teardown(&env);
}

TestSuite(producer_snapshot, .init = setup, .fini = teardown, .timeout = 300);

static const char *const snapshot_args[] = {"--snapshot-every", "5", NULL};

static void account_name(char *buf, size_t size, int a) {
    snprintf(buf, size, "acct-%02d", a);
}

/* Opens the accounts and deposits (a + 1) cents DEPOSITS times each. */
static void build_history(void) {
    char account[32], id[64];
    for (int a = 0; a < ACCOUNTS; a++) {
        account_name(account, sizeof(account), a);
        snprintf(id, sizeof(id), "open-%d", a);
        ledger_command cmd = ph_cmd(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
        ph_send(&env, &cmd);
    }
    for (int k = 0; k < DEPOSITS; k++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            account_name(account, sizeof(account), a);
            snprintf(id, sizeof(id), "dep-%d-%d", a, k);
            ledger_command cmd = ph_cmd(LEDGER_COMMAND_DEPOSIT, id, account, NULL, a + 1);
            ph_send(&env, &cmd);
        }
    }
    for (int k = 0; k < DEPOSITS; k++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            snprintf(id, sizeof(id), "dep-%d-%d", a, k);
            ledger_result r = ph_wait_result(&env, id, 1);
            cr_assert_eq(r.reason, LEDGER_OK, "'%s': %s", id, ledger_reason_name(r.reason));
        }
    }
}

/* A header of msg as a string ("" when absent). */
static void header_of(const rd_kafka_message_t *msg, const char *name, char *out, size_t size) {
    out[0] = '\0';
    rd_kafka_headers_t *headers = NULL;
    const void *value = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != NULL) {
        snprintf(out, size, "%.*s", (int)len, (const char *)value);
    }
}

#define MAX_CHUNKS 64

/* What the snapshots topic holds for one partition, latest per key. */
typedef struct snapshot_keys {
    char epoch[32];
    int chunks; /* the manifest's count, -1 without a manifest */
    ledger_snapshot chunk[MAX_CHUNKS];
    char chunk_epoch[MAX_CHUNKS][32];
    bool live[MAX_CHUNKS];
} snapshot_keys;

/* The latest snapshot of every partition put together from its manifest
 * (key `snapshot`, headers ledger.snapshot.epoch and ledger.snapshot.chunks)
 * and chunks (keys `snapshot/<i>`, same epoch): partitions without one have
 * account_count 0 and events_offset -1. *chunk_counts gets each
 * partition's chunk count. */
static void read_snapshots(ledger_snapshot *snaps, int *chunk_counts) {
    static snapshot_keys keys[PH_PARTITIONS];
    memset(keys, 0, sizeof(keys));
    for (int p = 0; p < PH_PARTITIONS; p++) {
        memset(&snaps[p], 0, sizeof(snaps[p]));
        snaps[p].events_offset = -1;
        keys[p].chunks = -1;
    }
    char errstr[512];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf);
    char group[128];
    snprintf(group, sizeof(group), "%ssnapshot-reader", env.prefix);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PH_PARTITIONS);
    for (int p = 0; p < PH_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, env.topics[LEDGER_KAFKA_TOPIC_SNAPSHOTS], p)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    int ended = 0;
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    while (ended < PH_PARTITIONS) {
        cr_assert_lt(kt_now_ms(), deadline, "snapshots topic not read to its end");
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            ended++;
            rd_kafka_message_destroy(msg);
            continue;
        }
        cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_message_errstr(msg));
        snapshot_keys *k = &keys[msg->partition];
        const char *key = msg->key;
        if (msg->key_len == 8 && memcmp(key, "snapshot", 8) == 0) {
            char count[32];
            header_of(msg, "ledger.snapshot.chunks", count, sizeof(count));
            header_of(msg, "ledger.snapshot.epoch", k->epoch, sizeof(k->epoch));
            cr_assert_neq(count[0], '\0', "a snapshot manifest names its chunk count");
            k->chunks = atoi(count);
            cr_assert(k->chunks >= 1 && k->chunks <= MAX_CHUNKS, "%d chunks", k->chunks);
        } else if (msg->key_len > 9 && memcmp(key, "snapshot/", 9) == 0) {
            char index[16];
            snprintf(index, sizeof(index), "%.*s", (int)(msg->key_len - 9), key + 9);
            int i = atoi(index);
            cr_assert(i >= 0 && i < MAX_CHUNKS, "chunk key '%.*s'", (int)msg->key_len, key);
            ledger_snapshot_release(&k->chunk[i]);
            k->live[i] = msg->payload != NULL;
            if (k->live[i]) {
                cr_assert_eq(ledger_codec_decode_snapshot(env.codec, msg->payload, msg->len,
                                                          &k->chunk[i], errstr, sizeof(errstr)),
                             0, "%s", errstr);
                cr_assert_eq(k->chunk[i].partition, msg->partition, "a chunk names its partition");
                cr_assert_eq(k->chunk[i].command_count, 0);
                header_of(msg, "ledger.snapshot.epoch", k->chunk_epoch[i],
                          sizeof(k->chunk_epoch[i]));
            }
        } else if (msg->key_len > 5 && memcmp(key, "cmds/", 5) == 0) {
            /* A set of dedup entries: commands only, of this partition. */
            if (msg->payload != NULL) {
                ledger_snapshot set;
                cr_assert_eq(ledger_codec_decode_snapshot(env.codec, msg->payload, msg->len, &set,
                                                          errstr, sizeof(errstr)),
                             0, "%s", errstr);
                cr_assert_eq(set.partition, msg->partition, "a dedup set names its partition");
                cr_assert_eq(set.account_count, 0);
                cr_assert_gt(set.command_count, 0);
                ledger_snapshot_release(&set);
            }
        } else {
            cr_assert(msg->key_len > 4 && memcmp(key, "cmd/", 4) == 0,
                      "unexpected key on the snapshots topic");
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    for (int p = 0; p < PH_PARTITIONS; p++) {
        snapshot_keys *k = &keys[p];
        chunk_counts[p] = k->chunks;
        for (int i = 0; i < MAX_CHUNKS; i++) {
            if (i >= k->chunks) {
                cr_assert_not(k->live[i], "partition %d: stale chunk %d beyond %d", p, i,
                              k->chunks);
                continue;
            }
            cr_assert(k->live[i], "partition %d: chunk %d of %d missing", p, i, k->chunks);
            cr_assert_str_eq(k->chunk_epoch[i], k->epoch, "partition %d chunk %d epoch", p, i);
            ledger_snapshot *s = &snaps[p];
            if (i == 0)
                s->events_offset = k->chunk[i].events_offset;
            cr_assert_eq(k->chunk[i].events_offset, s->events_offset);
            s->partition = p;
            s->accounts = realloc(s->accounts, (s->account_count + k->chunk[i].account_count + 1) *
                                                   sizeof(*s->accounts));
            cr_assert_not_null(s->accounts);
            memcpy(s->accounts + s->account_count, k->chunk[i].accounts,
                   k->chunk[i].account_count * sizeof(*s->accounts));
            s->account_count += k->chunk[i].account_count;
        }
        for (int i = 0; i < MAX_CHUNKS; i++)
            ledger_snapshot_release(&k->chunk[i]);
    }
}

Test(producer_snapshot, snapshot_equals_full_replay_and_restore_uses_it) {
    ph_start(&env, snapshot_args);
    build_history();
    ph_stop(&env);

    /* Every event committed so far has been read. */
    char account[32];
    for (int a = 0; a < ACCOUNTS; a++) {
        account_name(account, sizeof(account), a);
        ph_wait_events(&env, account, 1 + DEPOSITS);
    }

    /* Each snapshot equals the fold of its partition's events before its
     * events_offset. */
    ledger_snapshot snaps[PH_PARTITIONS];
    int chunk_counts[PH_PARTITIONS];
    read_snapshots(snaps, chunk_counts);
    int with_snapshot = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        const ledger_snapshot *s = &snaps[p];
        if (s->events_offset < 0)
            continue;
        with_snapshot++;
        size_t folded_accounts = 0;
        for (int a = 0; a < ACCOUNTS; a++) {
            account_name(account, sizeof(account), a);
            if (ph_partition_of(account) != p)
                continue;
            account_state want;
            account_init(&want);
            for (size_t i = 0; i < env.event_count; i++) {
                const ph_event *e = &env.event_log[i];
                if (e->partition == p && e->offset < s->events_offset &&
                    strcmp(e->event.account, account) == 0)
                    cr_assert_eq(account_apply(&want, &e->event), ACCOUNT_APPLIED);
            }
            const snapshot_account *got = NULL;
            for (size_t i = 0; i < s->account_count; i++) {
                if (strcmp(s->accounts[i].account, account) == 0)
                    got = &s->accounts[i];
            }
            if (want.seq == 0) {
                cr_assert_null(got, "'%s' is in a snapshot before its first event", account);
                continue;
            }
            folded_accounts++;
            cr_assert_not_null(got, "'%s' missing from the snapshot of partition %d", account, p);
            cr_assert_eq(got->state.status, want.status, "'%s'", account);
            cr_assert_eq(got->state.balance, want.balance, "'%s'", account);
            cr_assert_eq(got->state.overdraft, want.overdraft, "'%s'", account);
            cr_assert_eq(got->state.seq, want.seq, "'%s'", account);
        }
        cr_assert_eq(s->account_count, folded_accounts, "partition %d: extra accounts", p);
    }
    cr_assert_gt(with_snapshot, 0, "no snapshot was written");
    for (int p = 0; p < PH_PARTITIONS; p++)
        ledger_snapshot_release(&snaps[p]);

    /* The restart restores from the snapshots: every partition replays
     * fewer events than a snapshot interval. */
    size_t log_before = strlen(ph_log(&env));
    ph_start(&env, snapshot_args);
    const char *log = ph_log(&env) + log_before;
    size_t accounts_total = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "partition %d restored: ", p);
        const char *line = strstr(log, needle);
        cr_assert_not_null(line, "no restore line for partition %d", p);
        unsigned long accounts = 0, replayed = 0;
        cr_assert_eq(sscanf(line + strlen(needle), "%lu accounts, %lu events replayed", &accounts,
                            &replayed),
                     2);
        cr_assert_lt(replayed, SNAPSHOT_EVERY, "partition %d replayed %lu events", p, replayed);
        accounts_total += accounts;
    }
    cr_assert_eq(accounts_total, ACCOUNTS, "every account restored once");

    /* Decisions continue exactly: each account holds DEPOSITS * (a + 1). */
    char id[64];
    for (int a = 0; a < ACCOUNTS; a++) {
        account_name(account, sizeof(account), a);
        snprintf(id, sizeof(id), "over-%d", a);
        ledger_command cmd =
            ph_cmd(LEDGER_COMMAND_WITHDRAW, id, account, NULL, DEPOSITS * (a + 1) + 1);
        ledger_result r = ph_do(&env, &cmd);
        ph_assert_rejected(&r, LEDGER_INSUFFICIENT_FUNDS);
        snprintf(id, sizeof(id), "all-%d", a);
        cmd = ph_cmd(LEDGER_COMMAND_WITHDRAW, id, account, NULL, DEPOSITS * (a + 1));
        r = ph_do(&env, &cmd);
        ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, account, 2 + DEPOSITS);
        snprintf(id, sizeof(id), "reopen-%d", a);
        cmd = ph_cmd(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
        r = ph_do(&env, &cmd);
        ph_assert_rejected(&r, LEDGER_ACCOUNT_EXISTS);
    }
    /* And old ids are still remembered. */
    ledger_command again = ph_cmd(LEDGER_COMMAND_DEPOSIT, "dep-0-0", "acct-00", NULL, 1);
    ledger_result r = ph_do(&env, &again);
    cr_assert(r.duplicate);
    cr_assert_eq(r.event.seq, 2);
}

Test(producer_snapshot, restore_without_snapshots_replays_everything) {
    /* The same history with snapshots effectively off: the restart
     * replays every event, and decides the same way. */
    const char *const args[] = {"--snapshot-every", "1000000", "--snapshot-interval", "1h", NULL};
    ph_start(&env, args);
    build_history();
    ph_stop(&env);
    size_t log_before = strlen(ph_log(&env));
    ph_start(&env, args);
    const char *log = ph_log(&env) + log_before;
    unsigned long replayed_total = 0;
    for (int p = 0; p < PH_PARTITIONS; p++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "partition %d restored: ", p);
        const char *line = strstr(log, needle);
        cr_assert_not_null(line);
        unsigned long accounts = 0, replayed = 0;
        cr_assert_eq(sscanf(line + strlen(needle), "%lu accounts, %lu events replayed", &accounts,
                            &replayed),
                     2);
        replayed_total += replayed;
    }
    cr_assert_eq(replayed_total, ACCOUNTS * (1 + DEPOSITS), "every event replayed once");
    ledger_command cmd = ph_cmd(LEDGER_COMMAND_WITHDRAW, "all-11", "acct-11", NULL, DEPOSITS * 12);
    ledger_result r = ph_do(&env, &cmd);
    ph_assert_accepted(&env, &r, LEDGER_EVENT_MONEY_WITHDRAWN, "acct-11", 2 + DEPOSITS);
}

Test(producer_snapshot, many_accounts_are_chunked_and_restored) {
    /* 150 accounts on partition 0 with chunks of at most 1024 bytes: the
     * snapshot is written as several chunks, none over the limit, and a
     * restart restores all of them from it without replaying events. */
    enum { MANY = 150 };
    const char *const args[] = {"--snapshot-every", "1", "--snapshot-max-bytes", "1024", NULL};
    ph_start(&env, args);
    ledger_command cmds[MANY];
    char names[MANY][64], id[64];
    for (int a = 0; a < MANY; a++) {
        char stem[32];
        snprintf(stem, sizeof(stem), "big%02d", a);
        ph_account_on(names[a], sizeof(names[a]), stem, 0);
        snprintf(id, sizeof(id), "big-open-%d", a);
        cmds[a] = ph_cmd(LEDGER_COMMAND_OPEN, id, names[a], NULL, 0);
    }
    ph_send_many(&env, cmds, MANY);
    ph_wait_result_total(&env, MANY);
    ph_stop(&env);

    ledger_snapshot snaps[PH_PARTITIONS];
    int chunk_counts[PH_PARTITIONS];
    read_snapshots(snaps, chunk_counts);
    /* An account is about 30 bytes here, at most 128: 1024 bytes cannot
     * hold 150 of them. */
    cr_assert_gt(chunk_counts[0], 1, "150 accounts in %d chunk(s) of 1024 bytes", chunk_counts[0]);
    cr_assert_eq(snaps[0].account_count, MANY);
    for (int a = 0; a < MANY; a++) {
        bool found = false;
        for (size_t i = 0; i < snaps[0].account_count && !found; i++)
            found = strcmp(snaps[0].accounts[i].account, names[a]) == 0;
        cr_assert(found, "'%s' missing from the chunks", names[a]);
    }
    for (int p = 0; p < PH_PARTITIONS; p++)
        ledger_snapshot_release(&snaps[p]);

    size_t log_before = strlen(ph_log(&env));
    ph_start(&env, args);
    const char *line = strstr(ph_log(&env) + log_before, "partition 0 restored: ");
    cr_assert_not_null(line);
    unsigned long accounts = 0, replayed = 0;
    cr_assert_eq(sscanf(line + strlen("partition 0 restored: "),
                        "%lu accounts, %lu events replayed", &accounts, &replayed),
                 2);
    cr_assert_eq(accounts, MANY);
    cr_assert_eq(replayed, 0, "every transaction wrote a snapshot, yet %lu events replayed",
                 replayed);
    ledger_command again = ph_cmd(LEDGER_COMMAND_OPEN, "big-again", names[MANY - 1], NULL, 0);
    ledger_result r = ph_do(&env, &again);
    ph_assert_rejected(&r, LEDGER_ACCOUNT_EXISTS);
}
