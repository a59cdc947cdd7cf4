/*
 * test_dlq_support.c - poison records, the DLQ topic read back, the balance
 * view against an expected state, and the CLI (see test_dlq_support.h).
 *
 * Expected states come from the workload's pure fold (account_apply), never
 * from the program under test.
 */
#include "test_dlq_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "kafka.h"
#include "kafka_test.h"
#include "projector_keys.h"

/* ---- the CLI ---- */

void dlq_cli_env_init(dlq_cli_env *e, const pt_env *env) {
    snprintf(e->vars[0], sizeof(e->vars[0]), "LEDGER_BROKERS=%s", env->brokers);
    snprintf(e->vars[1], sizeof(e->vars[1]), "LEDGER_TOPIC_PREFIX=%s", env->topic_prefix);
    snprintf(e->vars[2], sizeof(e->vars[2]), "LEDGER_REDIS_URL=%s", env->redis_url);
    snprintf(e->vars[3], sizeof(e->vars[3]), "LEDGER_REDIS_PREFIX=%s", env->redis_prefix);
    for (int i = 0; i < 4; i++)
        e->env[i] = e->vars[i];
    e->env[4] = NULL;
}

void dlq_cli(cli_result *res, const dlq_cli_env *e, const char *const *argv) {
    cli_run(res, argv, e->env);
}

size_t dlq_json_lines(const char *text, json_t **lines, size_t max) {
    size_t n = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            cr_assert_lt(n, max, "more than %zu lines in:\n%s", max, text);
            json_error_t err;
            lines[n] = json_loadb(p, len, 0, &err);
            cr_assert(lines[n] != NULL && json_is_object(lines[n]), "not a JSON object: '%.*s'",
                      (int)len, p);
            n++;
        }
        p += len + (end != NULL);
    }
    return n;
}

/* ---- producing poison ---- */

void dlq_produce_raw(pt_workload *w, const void *key, size_t key_len, int32_t partition,
                     const void *value, size_t len, int32_t *at_partition, int64_t *at_offset) {
    rd_kafka_error_t *error = rd_kafka_begin_transaction(w->producer);
    cr_assert_null(error, "begin_transaction: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
    w->last_partition = -1;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(w->env->events_topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(w->producer, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    error = rd_kafka_commit_transaction(w->producer, 60000);
    cr_assert_null(error, "commit_transaction: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
    cr_assert_eq(w->failed, 0);
    cr_assert_geq(w->last_partition, 0, "no delivery report for the raw record");
    *at_partition = w->last_partition;
    *at_offset = w->last_event_offset;
}

/* A deposit on account i with the given seq, framed with a known or an
 * unknown writer fingerprint, produced as it is. */
static void produce_deposit(pt_workload *w, size_t i, int64_t seq, int64_t amount,
                            bool unknown_schema, ledger_event *e, int32_t *at_partition,
                            int64_t *at_offset) {
    pt_account *a = &w->accounts[i];
    cr_assert_gt(a->seq, 0, "account '%s' must be opened first", a->name);
    ledger_event_init(e);
    unsigned char bytes[16];
    for (int k = 0; k < 4; k++) {
        uint32_t r = kt_random_u32();
        memcpy(bytes + 4 * k, &r, 4);
    }
    ledger_uuid_format(bytes, e->event_id);
    ledger_id_copy(e->account, sizeof(e->account), a->name);
    e->seq = seq;
    e->at_ms = w->at_ms += 1000;
    snprintf(e->command_id, sizeof(e->command_id), "cmd-%s-%lld", a->name, (long long)seq);
    e->type = LEDGER_EVENT_MONEY_DEPOSITED;
    e->amount = amount;

    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char errstr[256];
    cr_assert_eq(
        ledger_codec_encode_event(w->codec, e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "%s", errstr);
    if (unknown_schema) {
        /* A writer fingerprint no schema of this build has: the body is a
         * real event, the frame names a schema this reader does not know. */
        static const uint8_t unknown[8] = {0x0d, 0xf0, 0xfe, 0xca, 0xef, 0xbe, 0xad, 0xde};
        memcpy(buf + 2, unknown, sizeof(unknown));
        cr_assert_null(ledger_codec_schema_of(w->codec, buf, len, errstr, sizeof(errstr)),
                       "the made-up fingerprint is a known schema");
    }
    dlq_produce_raw(w, a->name, strlen(a->name), -1, buf, len, at_partition, at_offset);
    cr_assert_eq(*at_partition, a->partition);
}

void dlq_produce_unknown_schema(pt_workload *w, size_t i, int64_t amount, int32_t *at_partition,
                                int64_t *at_offset) {
    pt_account *a = &w->accounts[i];
    ledger_event e;
    produce_deposit(w, i, a->seq + 1, amount, true /* unknown schema */, &e, at_partition,
                    at_offset);
    a->seq = e.seq;
    cr_assert_eq(account_apply(&a->state, &e), ACCOUNT_APPLIED);
}

void dlq_produce_bogus_seq(pt_workload *w, size_t i, int64_t seq, int64_t amount,
                           int32_t *at_partition, int64_t *at_offset) {
    ledger_event e;
    produce_deposit(w, i, seq, amount, false /* a known schema */, &e, at_partition, at_offset);
}

/* ---- the DLQ topic ---- */

static bool header(const rd_kafka_message_t *m, const char *name, char *buf, size_t size) {
    rd_kafka_headers_t *headers = NULL;
    const void *value;
    size_t len;
    buf[0] = '\0';
    if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == NULL || len >= size)
        return false;
    memcpy(buf, value, len);
    buf[len] = '\0';
    return true;
}

size_t dlq_read_topic(const pt_env *env, dlq_record **out) {
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF], errstr[512];
    cr_assert_eq(ledger_kafka_topic_name(env->topic_prefix, LEDGER_KAFKA_TOPIC_EVENTS_DLQ, topic,
                                         sizeof(topic)),
                 0);
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(env->brokers, LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    const char *props[][2] = {{"group.id", "dlq-test-reader"},
                              {"enable.auto.commit", "false"},
                              {"enable.partition.eof", "true"},
                              {"isolation.level", "read_committed"}};
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        cr_assert_eq(rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK, "%s", errstr);
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, conf);

    const rd_kafka_metadata_t *md = NULL;
    int partitions = 0;
    int64_t deadline = pt_now_ms() + 30000;
    while (partitions == 0) {
        cr_assert_eq(rd_kafka_metadata(rk, 1, NULL, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, topic) == 0)
                partitions = md->topics[t].partition_cnt;
        }
        rd_kafka_metadata_destroy(md);
        cr_assert_lt(pt_now_ms(), deadline, "topic '%s' not found", topic);
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);

    size_t cap = 16, n = 0;
    dlq_record *records = calloc(cap, sizeof(*records));
    cr_assert_not_null(records);
    int eofs = 0;
    deadline = pt_now_ms() + 30000;
    while (eofs < partitions) {
        cr_assert_lt(pt_now_ms(), deadline, "'%s' not read to its end within 30 s", topic);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (n == cap) {
                cap *= 2;
                records = realloc(records, cap * sizeof(*records));
                cr_assert_not_null(records);
            }
            dlq_record *r = &records[n++];
            memset(r, 0, sizeof(*r));
            r->partition = m->partition;
            r->offset = m->offset;
            r->key_null = m->key == NULL;
            r->key_len = m->key_len < sizeof(r->key) ? m->key_len : sizeof(r->key) - 1;
            if (m->key != NULL)
                memcpy(r->key, m->key, r->key_len);
            r->value_len = m->len < sizeof(r->value) ? m->len : sizeof(r->value);
            if (m->payload != NULL)
                memcpy(r->value, m->payload, r->value_len);
            char text[64];
            header(m, "source.topic", r->source_topic, sizeof(r->source_topic));
            r->source_partition =
                header(m, "source.partition", text, sizeof(text)) ? atoi(text) : -1;
            r->source_offset =
                header(m, "source.offset", text, sizeof(text)) ? strtoll(text, NULL, 10) : -1;
            header(m, "error", r->error, sizeof(r->error));
            header(m, "view", r->view, sizeof(r->view));
            header(m, "account", r->account, sizeof(r->account));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *out = records;
    return n;
}

size_t dlq_copies(const dlq_record *records, size_t n, int32_t partition, int64_t offset) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += records[i].source_partition == partition && records[i].source_offset == offset;
    return count;
}

const dlq_record *dlq_find(const dlq_record *records, size_t n, int32_t partition, int64_t offset) {
    for (size_t i = 0; i < n; i++) {
        if (records[i].source_partition == partition && records[i].source_offset == offset)
            return &records[i];
    }
    return NULL;
}

void dlq_wait_copy(const pt_env *env, int32_t partition, int64_t offset, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    for (;;) {
        dlq_record *records;
        size_t n = dlq_read_topic(env, &records);
        size_t copies = dlq_copies(records, n, partition, offset);
        free(records);
        if (copies > 0)
            return;
        cr_assert_lt(pt_now_ms(), deadline, "no copy of %d:%lld in the dlq within %lld ms",
                     (int)partition, (long long)offset, (long long)timeout_ms);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- Redis ---- */

void dlq_assert_balance(const pt_env *env, redisContext *c, const char *name,
                        const account_state *want) {
    char key[PROJECTOR_KEY_BUF];
    size_t len =
        projector_keys_account(env->redis_prefix, "balance", 1, name, "state", key, sizeof(key));
    redisReply *r = redisCommand(c, "HMGET %b balance version status overdraft", key, len);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
    if (want->seq == 0) {
        cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL, "'%s' should have no state", name);
        freeReplyObject(r);
        return;
    }
    for (int f = 0; f < 4; f++)
        cr_assert_eq(r->element[f]->type, REDIS_REPLY_STRING, "'%s' field %d missing", name, f);
    const char *status = want->status == ACCOUNT_OPEN     ? "open"
                         : want->status == ACCOUNT_CLOSED ? "closed"
                                                          : "none";
    cr_assert_eq(strtoll(r->element[0]->str, NULL, 10), want->balance,
                 "'%s' balance %s, the fold says %lld", name, r->element[0]->str,
                 (long long)want->balance);
    cr_assert_eq(strtoll(r->element[1]->str, NULL, 10), want->seq,
                 "'%s' version %s, the fold says %lld", name, r->element[1]->str,
                 (long long)want->seq);
    cr_assert_str_eq(r->element[2]->str, status, "'%s' status", name);
    cr_assert_eq(strtoll(r->element[3]->str, NULL, 10), want->overdraft, "'%s' overdraft", name);
    freeReplyObject(r);
}

json_t *dlq_quarantine_entry(const pt_env *env, redisContext *c, const char *view,
                             const char *account) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_quarantine(env->redis_prefix, view, 1, key, sizeof(key));
    redisReply *r = redisCommand(c, "HGET %b %s", key, len, account);
    cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL));
    json_t *entry = NULL;
    if (r->type == REDIS_REPLY_STRING) {
        json_error_t err;
        entry = json_loadb(r->str, r->len, 0, &err);
        cr_assert(entry != NULL && json_is_object(entry), "quarantine entry of '%s': %s", account,
                  r->str);
    }
    freeReplyObject(r);
    return entry;
}
