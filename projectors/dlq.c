/*
 * dlq.c - poison records, quarantine and the DLQ (see dlq.h for the design).
 *
 * Three parts: what the runtime appends to a batch when it holds a record
 * (guards, quarantine entry, held entries), its producer of DLQ records,
 * and the resolve the `ledger` CLI runs (read what is held, fold it with
 * the view's own apply_account, one guarded ledger_apply call).
 *
 * Nothing here is on the hot path: it runs only for records that are held.
 * That is why it may allocate (headers, JSON parsing) where the runtime's
 * batch loop does not.
 */
#include "dlq.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errstr.h"
#include "kafka.h"
#include "log.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "projector_store.h"
#include "redis.h"
#include "view_batch.h"

#define DLQ_GUARD "LEDGER.EXPECT"
/* How long the broker may take to acknowledge a DLQ record (the runtime
 * retries the batch after that). */
#define DLQ_MESSAGE_TIMEOUT_MS "30000"

/* ---- text ---- */

/* Copies src into dst (size bytes) as printable ASCII: other bytes become
 * '?', so an error that quotes a garbage key is safe in a header, a log
 * line and JSON. */
static void printable(char *dst, size_t size, const char *src) {
    size_t i = 0;
    for (; src != NULL && src[i] != '\0' && i + 1 < size; i++) {
        unsigned char b = (unsigned char)src[i];
        dst[i] = b >= 0x20 && b < 0x7f ? (char)b : '?';
    }
    if (size > 0)
        dst[i] = '\0';
}

/* Appends the JSON string of `s` (printable ASCII) to buf at *len. */
static void put_json_string(char *buf, size_t size, size_t *len, const char *s) {
    if (*len + 1 < size)
        buf[(*len)++] = '"';
    for (; *s != '\0' && *len + 3 < size; s++) {
        if (*s == '"' || *s == '\\')
            buf[(*len)++] = '\\';
        buf[(*len)++] = *s;
    }
    if (*len + 1 < size)
        buf[(*len)++] = '"';
    buf[*len < size ? *len : size - 1] = '\0';
}

/* {"partition":P,"offset":O,"error":"..."} */
static size_t quarantine_json(char *buf, size_t size, int32_t partition, int64_t offset,
                              const char *error) {
    char clean[PROJECTOR_DLQ_ERROR_BUF];
    printable(clean, sizeof(clean), error);
    int n = snprintf(buf, size, "{\"partition\":%d,\"offset\":%lld,\"error\":", (int)partition,
                     (long long)offset);
    size_t len = n > 0 && (size_t)n < size ? (size_t)n : 0;
    put_json_string(buf, size, &len, clean);
    if (len + 2 < size) {
        buf[len++] = '}';
        buf[len] = '\0';
    }
    return len;
}

/* {"state":"held","error":"...","dlq":"DP:DO"} */
static size_t entry_json(char *buf, size_t size, projector_dlq_state state, const char *error,
                         int32_t dlq_partition, int64_t dlq_offset) {
    char clean[PROJECTOR_DLQ_ERROR_BUF];
    printable(clean, sizeof(clean), error);
    int n = snprintf(buf, size, "{\"state\":\"%s\",\"error\":", projector_dlq_state_name(state));
    size_t len = n > 0 && (size_t)n < size ? (size_t)n : 0;
    put_json_string(buf, size, &len, clean);
    n = snprintf(buf + len, size - len, ",\"dlq\":\"%d:%lld\"}", (int)dlq_partition,
                 (long long)dlq_offset);
    if (n > 0 && (size_t)n < size - len)
        len += (size_t)n;
    return len;
}

/* ---- records ---- */

bool projector_dlq_account_of(const void *key, size_t key_len, int32_t partition, char *buf) {
    if (key != NULL && ledger_account_valid(key, key_len)) {
        memcpy(buf, key, key_len);
        buf[key_len] = '\0';
        return true;
    }
    snprintf(buf, PROJECTOR_DLQ_ACCOUNT_BUF, "?%d", (int)partition);
    return false;
}

bool projector_dlq_pseudo_account(const char *account) {
    if (account[0] != '?' || account[1] == '\0')
        return false;
    for (const char *p = account + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return strlen(account) <= 11;
}

int projector_dlq_decode(const ledger_codec *codec, const void *key, size_t key_len,
                         const void *payload, size_t len, ledger_event *out, char *errstr,
                         size_t errstr_size) {
    if (ledger_codec_decode_event(codec, payload, len, out, errstr, errstr_size) != 0)
        return -1;
    size_t alen = ledger_id_len(out->account, sizeof(out->account));
    if (!ledger_account_valid(out->account, alen)) {
        char shown[LEDGER_ACCOUNT_BUF];
        printable(shown, sizeof(shown), out->account);
        ledger_errf(errstr, errstr_size, "invalid account '%s' in the event", shown);
        return -1;
    }
    if (key == NULL) {
        ledger_errf(errstr, errstr_size, "the record has no key (the event's account is '%s')",
                    out->account);
        return -1;
    }
    if (key_len != alen || memcmp(key, out->account, alen) != 0) {
        char shown[LEDGER_ACCOUNT_BUF] = "";
        size_t n = key_len < sizeof(shown) - 1 ? key_len : sizeof(shown) - 1;
        memcpy(shown, key, n);
        shown[n] = '\0';
        printable(shown, sizeof(shown), shown);
        ledger_errf(errstr, errstr_size, "the record key '%s%s' is not the event's account '%s'",
                    shown, key_len > n ? "..." : "", out->account);
        return -1;
    }
    return 0;
}

/* ---- folding up to the first failure ---- */

int projector_dlq_apply_prefix(const projector_view *view, const void *view_state,
                               view_batch *batch, const view_account_input *input, size_t *applied,
                               char *errstr, size_t errstr_size) {
    view_batch_mark mark;
    view_batch_mark_get(batch, &mark);
    char why[PROJECTOR_DLQ_ERROR_BUF];
    if (view->apply_account(view_state, batch, input, why, sizeof(why)) == 0) {
        *applied = input->event_count;
        return 0;
    }
    /* Prefix lo applies (the empty one trivially), prefix hi does not. */
    view_account_input part = *input;
    size_t lo = 0, hi = input->event_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        char mid_why[PROJECTOR_DLQ_ERROR_BUF];
        view_batch_rewind(batch, &mark);
        part.event_count = mid;
        if (view->apply_account(view_state, batch, &part, mid_why, sizeof(mid_why)) == 0) {
            lo = mid;
        } else {
            hi = mid;
            memcpy(why, mid_why, sizeof(why));
        }
    }
    view_batch_rewind(batch, &mark);
    if (lo > 0) {
        char again[PROJECTOR_DLQ_ERROR_BUF];
        part.event_count = lo;
        if (view->apply_account(view_state, batch, &part, again, sizeof(again)) != 0) {
            /* not a fold after all: take nothing */
            view_batch_rewind(batch, &mark);
            lo = 0;
        }
    }
    *applied = lo;
    ledger_errf(errstr, errstr_size, "%s", why);
    return 1;
}

/* ---- the writes of a hold ---- */

const char *projector_dlq_state_name(projector_dlq_state state) {
    switch (state) {
        case PROJECTOR_DLQ_HELD:
            return "held";
        case PROJECTOR_DLQ_APPLIED:
            return "applied";
        case PROJECTOR_DLQ_SKIPPED:
            return "skipped";
    }
    return "held";
}

static size_t quarantine_key(const view_batch *batch, char *buf, size_t size) {
    return view_batch_view_key(batch, "quarantine", buf, size);
}

/* "<ns>:<view>:g<gen>:dlq:{<account>}", as projector_keys_held spells it. */
static size_t held_key(const view_batch *batch, const char *account, char *buf, size_t size) {
    char suffix[PROJECTOR_DLQ_ACCOUNT_BUF + 8];
    snprintf(suffix, sizeof(suffix), "dlq:{%s}", account);
    return view_batch_view_key(batch, suffix, buf, size);
}

static void expect(view_batch *batch, const char *key, size_t key_len, const char *field,
                   const char *value, size_t value_len) {
    const char *argv[] = {DLQ_GUARD, key, field, value != NULL ? value : ""};
    size_t lens[] = {sizeof(DLQ_GUARD) - 1, key_len, strlen(field), value != NULL ? value_len : 0};
    view_batch_write(batch, 4, argv, lens);
}

void projector_dlq_expect_quarantine(view_batch *batch, const char *account, const char *entry,
                                     size_t entry_len) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = quarantine_key(batch, key, sizeof(key));
    expect(batch, key, len, account, entry, entry_len);
}

void projector_dlq_expect_version(view_batch *batch, const char *account, const char *version) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = held_key(batch, account, key, sizeof(key));
    expect(batch, key, len, "version", version, version != NULL ? strlen(version) : 0);
}

void projector_dlq_quarantine(view_batch *batch, const char *account, int32_t partition,
                              int64_t offset, const char *error) {
    char key[PROJECTOR_KEY_BUF], value[PROJECTOR_DLQ_ERROR_BUF + 96];
    size_t key_len = quarantine_key(batch, key, sizeof(key));
    size_t value_len = quarantine_json(value, sizeof(value), partition, offset, error);
    const char *argv[] = {"HSET", key, account, value};
    size_t lens[] = {4, key_len, strlen(account), value_len};
    view_batch_write(batch, 4, argv, lens);
}

void projector_dlq_release(view_batch *batch, const char *account) {
    char key[PROJECTOR_KEY_BUF];
    size_t key_len = quarantine_key(batch, key, sizeof(key));
    const char *argv[] = {"HDEL", key, account};
    size_t lens[] = {4, key_len, strlen(account)};
    view_batch_write(batch, 3, argv, lens);
}

void projector_dlq_mark(view_batch *batch, const char *account, int32_t partition, int64_t offset,
                        projector_dlq_state state, const char *error, int32_t dlq_partition,
                        int64_t dlq_offset) {
    char key[PROJECTOR_KEY_BUF], field[40], value[PROJECTOR_DLQ_ERROR_BUF + 96];
    size_t key_len = held_key(batch, account, key, sizeof(key));
    int field_len = snprintf(field, sizeof(field), "%d:%lld", (int)partition, (long long)offset);
    size_t value_len = entry_json(value, sizeof(value), state, error, dlq_partition, dlq_offset);
    const char *set[] = {"HSET", key, field, value};
    size_t set_lens[] = {4, key_len, (size_t)field_len, value_len};
    view_batch_write(batch, 4, set, set_lens);
    const char *bump[] = {"HINCRBY", key, "version", "1"};
    size_t bump_lens[] = {7, key_len, 7, 1};
    view_batch_write(batch, 4, bump, bump_lens);
}

/* ---- the runtime's producer ---- */

/* One record of the group: where it came from, why, where it landed. */
typedef struct dlq_slot {
    int32_t source_partition;
    int64_t source_offset;
    char account[PROJECTOR_DLQ_ACCOUNT_BUF];
    char error[PROJECTOR_DLQ_ERROR_BUF];
    bool done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} dlq_slot;

struct projector_dlq {
    rd_kafka_t *rk;
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    const char *view;
    const volatile sig_atomic_t *stop;
    uint32_t group; /* delivery reports of an older group are ignored */
    dlq_slot *slots;
    size_t len, cap;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    projector_dlq *dlq = opaque;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    uint32_t group = (uint32_t)(tag >> 32);
    size_t i = (size_t)(tag & 0xffffffffu);
    if (group != dlq->group || i >= dlq->len)
        return;
    dlq->slots[i].done = true;
    dlq->slots[i].err = m->err;
    dlq->slots[i].partition = m->partition;
    dlq->slots[i].offset = m->offset;
}

projector_dlq *projector_dlq_new(const ledger_config *cfg, const char *view,
                                 const volatile sig_atomic_t *stop, char *errstr,
                                 size_t errstr_size) {
    projector_dlq *dlq = calloc(1, sizeof(*dlq));
    if (dlq == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    dlq->view = view;
    dlq->stop = stop;
    if (ledger_kafka_topic_name(ledger_config_str(cfg, "topic_prefix"),
                                LEDGER_KAFKA_TOPIC_EVENTS_DLQ, dlq->topic,
                                sizeof(dlq->topic)) != 0) {
        ledger_errf(errstr, errstr_size,
                    "invalid topic prefix '%s': the dlq topic name is too long",
                    ledger_config_str(cfg, "topic_prefix"));
        free(dlq);
        return NULL;
    }
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_PRODUCER, cfg, errstr, errstr_size);
    if (conf == NULL) {
        free(dlq);
        return NULL;
    }
    /* Ours come after the -X properties: durability is not optional here. */
    static const char *const fixed[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"message.timeout.ms", DLQ_MESSAGE_TIMEOUT_MS},
    };
    char why[512];
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
            ledger_errf(errstr, errstr_size, "dlq producer: cannot set '%s': %s", fixed[i][0], why);
            rd_kafka_conf_destroy(conf);
            free(dlq);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, dlq);
    dlq->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (dlq->rk == NULL) {
        ledger_errf(errstr, errstr_size, "cannot create the dlq producer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(dlq);
        return NULL;
    }
    return dlq;
}

void projector_dlq_destroy(projector_dlq *dlq) {
    if (dlq == NULL)
        return;
    if (dlq->rk != NULL) {
        rd_kafka_flush(dlq->rk, 1000);
        rd_kafka_destroy(dlq->rk);
    }
    free(dlq->slots);
    free(dlq);
}

const char *projector_dlq_topic(const projector_dlq *dlq) {
    return dlq->topic;
}

void projector_dlq_begin(projector_dlq *dlq) {
    dlq->group++;
    dlq->len = 0;
}

int projector_dlq_send(projector_dlq *dlq, const rd_kafka_message_t *m, const char *source_topic,
                       const char *account, const char *error, char *errstr, size_t errstr_size) {
    if (dlq->len == dlq->cap) {
        size_t cap = dlq->cap > 0 ? dlq->cap * 2 : 64;
        dlq_slot *slots = cap <= 0xffffffffu ? realloc(dlq->slots, cap * sizeof(*slots)) : NULL;
        if (slots == NULL) {
            ledger_errf(errstr, errstr_size, "out of memory");
            return -1;
        }
        dlq->slots = slots;
        dlq->cap = cap;
    }
    size_t i = dlq->len;
    dlq_slot *slot = &dlq->slots[i];
    slot->source_partition = m->partition;
    slot->source_offset = m->offset;
    snprintf(slot->account, sizeof(slot->account), "%s", account);
    printable(slot->error, sizeof(slot->error), error);
    slot->done = false;
    slot->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    slot->partition = -1;
    slot->offset = -1;

    char partition[16], offset[24];
    snprintf(partition, sizeof(partition), "%d", (int)m->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)m->offset);
    const char *clean = slot->error;
    rd_kafka_headers_t *headers = rd_kafka_headers_new(6);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_TOPIC, -1, source_topic, -1);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_PARTITION, -1, partition, -1);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_OFFSET, -1, offset, -1);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_ERROR, -1, clean, -1);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_VIEW, -1, dlq->view, -1);
    rd_kafka_header_add(headers, PROJECTOR_DLQ_HEADER_ACCOUNT, -1, account, -1);
    uint64_t tag = ((uint64_t)dlq->group << 32) | (uint64_t)i;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break; /* the headers belong to the message now */
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !*dlq->stop) {
            rd_kafka_poll(dlq->rk, 100);
            continue;
        }
        rd_kafka_headers_destroy(headers);
        ledger_errf(errstr, errstr_size, "cannot produce to '%s': %s", dlq->topic,
                    rd_kafka_err2str(err));
        return -1;
    }
    dlq->len++;
    return 0;
}

int projector_dlq_flush(projector_dlq *dlq, char *errstr, size_t errstr_size) {
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < dlq->len; i++) {
            const dlq_slot *s = &dlq->slots[i];
            if (s->done && s->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                ledger_errf(errstr, errstr_size, "the broker did not take a record for '%s': %s",
                            dlq->topic, rd_kafka_err2str(s->err));
                return -1;
            }
            done += s->done;
        }
        if (done == dlq->len)
            return 0;
        if (*dlq->stop) {
            ledger_errf(errstr, errstr_size, "stopped while waiting for '%s'", dlq->topic);
            return -1;
        }
        rd_kafka_flush(dlq->rk, 100);
    }
}

void projector_dlq_mark_group(const projector_dlq *dlq, view_batch *batch) {
    for (size_t i = 0; i < dlq->len; i++) {
        const dlq_slot *s = &dlq->slots[i];
        projector_dlq_mark(batch, s->account, s->source_partition, s->source_offset,
                           PROJECTOR_DLQ_HELD, s->error, s->partition, s->offset);
    }
}

/* ---- what is held ---- */

/* "P:O" into partition and offset. */
static int parse_position(const char *text, size_t len, int32_t *partition, int64_t *offset) {
    char buf[48];
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char why[64];
    return projector_query_parse_position(buf, partition, offset, why, sizeof(why));
}

static int parse_quarantine(projector_dlq_held *held, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    json_t *root = json_loadb(held->quarantine, held->quarantine_len, 0, &jerr);
    json_int_t partition = -1, offset = -1;
    const char *error = NULL;
    int rc = root != NULL ? json_unpack(root, "{s:I,s:I,s:s}", "partition", &partition, "offset",
                                        &offset, "error", &error)
                          : -1;
    if (rc == 0 && partition >= 0 && partition <= INT32_MAX && offset >= 0) {
        held->first_partition = (int32_t)partition;
        held->first_offset = (int64_t)offset;
        printable(held->first_error, sizeof(held->first_error), error);
    } else {
        ledger_errf(errstr, errstr_size, "malformed quarantine entry of '%s'", held->account);
        rc = -1;
    }
    json_decref(root);
    return rc == 0 ? 0 : -1;
}

static int parse_entry(projector_dlq_entry *e, const char *field, size_t field_len,
                       const char *value, size_t value_len) {
    if (parse_position(field, field_len, &e->partition, &e->offset) != 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(value, value_len, 0, &jerr);
    const char *state = NULL, *error = NULL, *dlq = NULL;
    int rc = root != NULL
                 ? json_unpack(root, "{s:s,s:s,s:s}", "state", &state, "error", &error, "dlq", &dlq)
                 : -1;
    if (rc == 0) {
        if (strcmp(state, "held") == 0)
            e->state = PROJECTOR_DLQ_HELD;
        else if (strcmp(state, "applied") == 0)
            e->state = PROJECTOR_DLQ_APPLIED;
        else if (strcmp(state, "skipped") == 0)
            e->state = PROJECTOR_DLQ_SKIPPED;
        else
            rc = -1;
    }
    if (rc == 0 && parse_position(dlq, strlen(dlq), &e->dlq_partition, &e->dlq_offset) != 0)
        rc = -1;
    if (rc == 0)
        printable(e->error, sizeof(e->error), error);
    json_decref(root);
    return rc == 0 ? 0 : -1;
}

static int compare_entries(const void *a, const void *b) {
    const projector_dlq_entry *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int projector_dlq_held_read(redisContext *c, const char *ns, const char *view, const char *account,
                            projector_dlq_held *held, char *errstr, size_t errstr_size) {
    memset(held, 0, sizeof(*held));
    snprintf(held->account, sizeof(held->account), "%s", account);
    if (projector_query_generation(c, ns, view, &held->gen, errstr, errstr_size) != 0)
        return -1;
    char qkey[PROJECTOR_KEY_BUF], hkey[PROJECTOR_KEY_BUF];
    size_t qlen = projector_keys_quarantine(ns, view, held->gen, qkey, sizeof(qkey));
    size_t hlen = projector_keys_held(ns, view, held->gen, account, hkey, sizeof(hkey));
    redisReply *q = redisCommand(c, "HGET %b %s", qkey, qlen, account);
    if (ledger_redis_reply_check(c, q, -1, "HGET", errstr, errstr_size) != 0) {
        if (q != NULL)
            freeReplyObject(q);
        return -1;
    }
    int rc = -1;
    redisReply *h = NULL;
    if (q->type == REDIS_REPLY_STRING) {
        held->quarantine = malloc(q->len + 1);
        if (held->quarantine == NULL) {
            ledger_errf(errstr, errstr_size, "out of memory");
            goto cleanup;
        }
        memcpy(held->quarantine, q->str, q->len);
        held->quarantine[q->len] = '\0';
        held->quarantine_len = q->len;
        if (parse_quarantine(held, errstr, errstr_size) != 0)
            goto cleanup;
    }
    h = redisCommand(c, "HGETALL %b", hkey, hlen);
    if (ledger_redis_reply_check(c, h, REDIS_REPLY_ARRAY, "HGETALL", errstr, errstr_size) != 0)
        goto cleanup;
    held->entries = calloc(h->elements / 2 + 1, sizeof(*held->entries));
    if (held->entries == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        if (f->len == 7 && memcmp(f->str, "version", 7) == 0) {
            snprintf(held->version, sizeof(held->version), "%.*s", (int)v->len, v->str);
            continue;
        }
        if (parse_entry(&held->entries[held->count], f->str, f->len, v->str, v->len) != 0) {
            ledger_errf(errstr, errstr_size, "malformed entry '%.*s' in '%s'",
                        (int)(f->len > 40 ? 40 : f->len), f->str, hkey);
            goto cleanup;
        }
        held->count++;
    }
    qsort(held->entries, held->count, sizeof(*held->entries), compare_entries);
    rc = 0;
cleanup:
    freeReplyObject(q);
    if (h != NULL)
        freeReplyObject(h);
    if (rc != 0)
        projector_dlq_held_release(held);
    return rc;
}

void projector_dlq_held_release(projector_dlq_held *held) {
    if (held == NULL)
        return;
    free(held->quarantine);
    free(held->entries);
    held->quarantine = NULL;
    held->entries = NULL;
    held->count = 0;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int projector_dlq_quarantined(redisContext *c, const char *ns, const char *view, char ***accounts,
                              size_t *count, char *errstr, size_t errstr_size) {
    *accounts = NULL;
    *count = 0;
    int64_t gen;
    if (projector_query_generation(c, ns, view, &gen, errstr, errstr_size) != 0)
        return -1;
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_quarantine(ns, view, gen, key, sizeof(key));
    redisReply *r = redisCommand(c, "HKEYS %b", key, len);
    if (ledger_redis_reply_check(c, r, REDIS_REPLY_ARRAY, "HKEYS", errstr, errstr_size) != 0) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    char **list = calloc(r->elements + 1, sizeof(*list));
    size_t n = 0;
    for (size_t i = 0; list != NULL && i < r->elements; i++) {
        list[n] = strndup(r->element[i]->str, r->element[i]->len);
        if (list[n] == NULL) {
            projector_dlq_accounts_free(list, n);
            list = NULL;
            break;
        }
        n++;
    }
    freeReplyObject(r);
    if (list == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        return -1;
    }
    qsort(list, n, sizeof(*list), compare_strings);
    *accounts = list;
    *count = n;
    return 0;
}

void projector_dlq_accounts_free(char **accounts, size_t count) {
    for (size_t i = 0; accounts != NULL && i < count; i++)
        free(accounts[i]);
    free(accounts);
}

/* ---- resolving ---- */

/* Round trip 1 of a resolve: the view's reads, pipelined. replies holds
 * view_batch_read_count entries. Returns 0, or -1 with errstr. */
static int resolve_read(redisContext *c, view_batch *batch, redisReply **replies, char *errstr,
                        size_t errstr_size) {
    size_t n = view_batch_read_count(batch);
    for (size_t i = 0; i < n; i++) {
        int argc;
        const char *const *argv;
        const size_t *lens;
        if (view_batch_read_argv(batch, i, &argc, &argv, &lens) != 0 ||
            redisAppendCommandArgv(c, argc, (const char **)argv, lens) != REDIS_OK) {
            ledger_errf(errstr, errstr_size, "cannot send the view's reads: %s",
                        c->errstr[0] != '\0' ? c->errstr : "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(c, (void **)&replies[i]) != REDIS_OK) {
            ledger_errf(errstr, errstr_size, "redis: %s",
                        c->errstr[0] != '\0' ? c->errstr : "connection lost");
            return -1;
        }
    }
    return 0;
}

/* Round trip 2: ledger_apply in mode "current" with no checkpoint (the
 * head of projector_store_apply, partition ""), loading the library once
 * if Redis does not know it. */
static projector_dlq_resolve_result resolve_write(redisContext *c, const char *ns, const char *view,
                                                  view_batch *batch, char *errstr,
                                                  size_t errstr_size) {
    char current[PROJECTOR_KEY_BUF], building[PROJECTOR_KEY_BUF], checkpoints[PROJECTOR_KEY_BUF];
    char gen[24];
    size_t current_len = projector_keys_current(ns, view, current, sizeof(current));
    size_t building_len = projector_keys_building(ns, view, building, sizeof(building));
    size_t checkpoints_len = projector_keys_checkpoints(ns, view, view_batch_generation(batch),
                                                        checkpoints, sizeof(checkpoints));
    int gen_len = snprintf(gen, sizeof(gen), "%lld", (long long)view_batch_generation(batch));
    const char *head[] = {
        "FCALL", "ledger_apply", "3", current, building, checkpoints, "current", gen, "", "", ""};
    const size_t head_len[] = {
        5, 12, 1, current_len, building_len, checkpoints_len, 7, (size_t)gen_len, 0, 0, 0};
    int argc;
    const char *const *argv;
    const size_t *lens;
    if (view_batch_failed(batch) ||
        view_batch_fcall_argv(batch, head, head_len, sizeof(head) / sizeof(head[0]), &argc, &argv,
                              &lens) != 0) {
        ledger_errf(errstr, errstr_size, "out of memory building the write");
        return PROJECTOR_DLQ_FAILED;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = redisCommandArgv(c, argc, (const char **)argv, lens);
        if (r == NULL) {
            ledger_errf(errstr, errstr_size, "redis: %s",
                        c->errstr[0] != '\0' ? c->errstr : "connection lost");
            return PROJECTOR_DLQ_FAILED;
        }
        if (r->type == REDIS_REPLY_INTEGER) {
            long long v = r->integer;
            freeReplyObject(r);
            return v == 1 ? PROJECTOR_DLQ_RESOLVED : PROJECTOR_DLQ_CONFLICT;
        }
        bool missing = r->type == REDIS_REPLY_ERROR &&
                       (strstr(r->str, "Function not found") || strstr(r->str, "NOSCRIPT"));
        ledger_errf(errstr, errstr_size, "redis: FCALL ledger_apply: %s",
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (!missing || attempt > 0 || projector_store_load_library(c, errstr, errstr_size) != 0)
            return PROJECTOR_DLQ_FAILED;
    }
    return PROJECTOR_DLQ_FAILED;
}

projector_dlq_resolve_result
projector_dlq_resolve(redisContext *c, const char *ns, const projector_view *view,
                      const void *view_state, const ledger_codec *codec,
                      const projector_dlq_held *held, const projector_dlq_record *records,
                      size_t skip, projector_dlq_outcome *out, char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof(*out));
    out->failed_partition = -1;
    out->failed_offset = -1;
    projector_dlq_resolve_result result = PROJECTOR_DLQ_FAILED;
    size_t *order = calloc(held->count + 1, sizeof(*order));
    ledger_event *events = calloc(held->count + 1, sizeof(*events));
    view_batch *batch = view_batch_new(ns, view->name);
    redisReply **replies = NULL;
    size_t reads = 0;
    if (order == NULL || events == NULL || batch == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    view_batch_reset(batch, held->gen);

    /* The held records in source order, minus the skipped one. */
    size_t pending = 0;
    for (size_t i = 0; i < held->count; i++) {
        if (held->entries[i].state == PROJECTOR_DLQ_HELD && i != skip)
            order[pending++] = i;
    }
    /* Decoded with today's codec, up to the first that still fails. */
    char why[PROJECTOR_DLQ_ERROR_BUF] = "";
    size_t decoded = 0;
    for (; decoded < pending; decoded++) {
        const projector_dlq_record *rec = &records[order[decoded]];
        if (projector_dlq_decode(codec, rec->key, rec->key_len, rec->value, rec->value_len,
                                 &events[decoded], why, sizeof(why)) != 0)
            break;
    }
    size_t applied = 0;
    if (decoded > 0) {
        view_account_input input = {
            .account = held->account, .events = events, .event_count = decoded};
        size_t n = view->read_account(view_state, batch, &input);
        reads = view_batch_read_count(batch);
        if (n != reads || view_batch_failed(batch)) {
            ledger_errf(errstr, errstr_size, "view '%s' made %zu reads but says %zu", view->name,
                        reads, n);
            reads = 0;
            goto cleanup;
        }
        replies = calloc(reads + 1, sizeof(*replies));
        if (replies == NULL) {
            ledger_errf(errstr, errstr_size, "out of memory");
            goto cleanup;
        }
        if (resolve_read(c, batch, replies, errstr, errstr_size) != 0)
            goto cleanup;
        input.replies = (const redisReply *const *)replies;
        input.reply_count = reads;
        char apply_why[PROJECTOR_DLQ_ERROR_BUF];
        if (projector_dlq_apply_prefix(view, view_state, batch, &input, &applied, apply_why,
                                       sizeof(apply_why)) != 0)
            memcpy(why, apply_why, sizeof(why));
    }

    /* One atomic write, guarded by what was read. */
    projector_dlq_expect_quarantine(batch, held->account, held->quarantine, held->quarantine_len);
    projector_dlq_expect_version(batch, held->account, held->version);
    for (size_t k = 0; k < applied; k++) {
        const projector_dlq_entry *e = &held->entries[order[k]];
        projector_dlq_mark(batch, held->account, e->partition, e->offset, PROJECTOR_DLQ_APPLIED,
                           e->error, e->dlq_partition, e->dlq_offset);
    }
    if (skip < held->count) {
        const projector_dlq_entry *e = &held->entries[skip];
        projector_dlq_mark(batch, held->account, e->partition, e->offset, PROJECTOR_DLQ_SKIPPED,
                           e->error, e->dlq_partition, e->dlq_offset);
        out->skipped = 1;
    }
    if (applied == pending) {
        projector_dlq_release(batch, held->account);
        out->released = true;
    } else {
        /* The first record still refused is now the one the account waits on. */
        const projector_dlq_entry *e = &held->entries[order[applied]];
        projector_dlq_mark(batch, held->account, e->partition, e->offset, PROJECTOR_DLQ_HELD, why,
                           e->dlq_partition, e->dlq_offset);
        projector_dlq_quarantine(batch, held->account, e->partition, e->offset, why);
        out->failed_partition = e->partition;
        out->failed_offset = e->offset;
        printable(out->error, sizeof(out->error), why);
    }
    out->applied = applied;
    out->still_held = pending - applied;
    result = resolve_write(c, ns, view->name, batch, errstr, errstr_size);

cleanup:
    for (size_t i = 0; replies != NULL && i < reads; i++) {
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    }
    free(replies);
    view_batch_destroy(batch);
    free(events);
    free(order);
    return result;
}
