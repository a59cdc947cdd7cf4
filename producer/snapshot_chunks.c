/*
 * snapshot_chunks.c - chunked snapshots: writing one in the open
 * transaction, and putting the latest one together again at restore (see
 * snapshot_chunks.h for the layout and why).
 *
 * Chunk sizes come from the codec's own bound (ledger_codec_snapshot_size_max)
 * rather than from encoding and measuring, so a chunk can never exceed the
 * limit whatever the ids; the price is chunks somewhat smaller than the limit.
 *
 * The reader keeps copies of the latest value of each key and decodes
 * nothing until the end, because a compacted topic may still hold older
 * snapshots (compaction is lazy). It checks the whole set (manifest, every
 * chunk there, same epoch, partition and events offset, no account twice)
 * while building a table of its own, which the caller only takes when all
 * of it was right: a broken snapshot never leaves half an account table.
 */
#include "snapshot_chunks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

typedef struct producer_snapshot_slot {
    uint8_t *value; /* NULL: no record, or a tombstone */
    size_t len;
    int64_t offset;
    char epoch[17]; /* "" when the record has none */
} producer_snapshot_slot;

#define CHUNK_PREFIX     PRODUCER_SNAPSHOT_KEY "/"
#define CHUNK_PREFIX_LEN (sizeof(CHUNK_PREFIX) - 1)
#define CHUNK_KEY_BUF    (CHUNK_PREFIX_LEN + 12)

/* ---- writing ---- */

void producer_snapshot_scratch_release(producer_snapshot_scratch *scratch) {
    if (scratch == NULL)
        return;
    free(scratch->accounts);
    free(scratch->buf);
    memset(scratch, 0, sizeof(*scratch));
}

size_t producer_snapshot_chunk_accounts(size_t max_bytes) {
    ledger_snapshot probe = {.account_count = 0};
    size_t base = ledger_codec_snapshot_size_max(&probe);
    probe.account_count = 1;
    size_t per_account = ledger_codec_snapshot_size_max(&probe) - base;
    if (max_bytes <= base || per_account == 0)
        return 0;
    return (max_bytes - base) / per_account;
}

/* A new epoch: the wall clock in nanoseconds, as 16 hex digits. Unique per
 * partition in practice (two snapshots of a partition are a transaction
 * apart), and it tells a reader when the snapshot was taken. */
static void snapshot_epoch(char out[17]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
    snprintf(out, 17, "%016" PRIx64, ns);
}

/* Produces one record (value copied; NULL value = tombstone) with the
 * headers given (count may be NULL). Returns 0, or -1 (abort). */
static int snapshot_produce(rd_kafka_t *producer, rd_kafka_topic_t *rkt, int32_t partition,
                            const char *key, const void *value, size_t len, const char *epoch,
                            const char *count) {
    size_t key_len = strlen(key);
    for (;;) {
        rd_kafka_resp_err_t err;
        if (value == NULL) {
            err = rd_kafka_producev(producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(NULL, 0),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        } else if (count == NULL) {
            err = rd_kafka_producev(
                producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                RD_KAFKA_V_HEADER(PRODUCER_SNAPSHOT_HEADER_EPOCH, epoch, (ssize_t)strlen(epoch)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        } else {
            err = rd_kafka_producev(
                producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                RD_KAFKA_V_HEADER(PRODUCER_SNAPSHOT_HEADER_EPOCH, epoch, (ssize_t)strlen(epoch)),
                RD_KAFKA_V_HEADER(PRODUCER_SNAPSHOT_HEADER_COUNT, count, (ssize_t)strlen(count)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer, 10);
            continue;
        }
        LOG_ERROR("cannot produce '%s' to '%s' [%d]: %s", key, rd_kafka_topic_name(rkt),
                  (int)partition, rd_kafka_err2str(err));
        return -1;
    }
}

/* Grows the scratch to hold `accounts` accounts and their encoding. */
static int snapshot_scratch_reserve(producer_snapshot_scratch *scratch, size_t accounts) {
    if (accounts > scratch->accounts_cap) {
        snapshot_account *a = realloc(scratch->accounts, accounts * sizeof(*a));
        if (a == NULL)
            return -1;
        scratch->accounts = a;
        scratch->accounts_cap = accounts;
    }
    ledger_snapshot probe = {.account_count = accounts};
    size_t need = ledger_codec_snapshot_size_max(&probe);
    if (need > scratch->buf_cap) {
        uint8_t *buf = realloc(scratch->buf, need);
        if (buf == NULL)
            return -1;
        scratch->buf = buf;
        scratch->buf_cap = need;
    }
    return 0;
}

int producer_snapshot_write(const ledger_codec *codec, rd_kafka_t *producer, rd_kafka_topic_t *rkt,
                            producer_partition *part, size_t max_bytes,
                            producer_snapshot_scratch *scratch,
                            producer_snapshot_written *written) {
    memset(written, 0, sizeof(*written));
    if (part->next_events_offset < 0) {
        LOG_ERROR("snapshot of partition %d without an events offset", (int)part->id);
        return PRODUCER_SNAPSHOT_FATAL;
    }
    size_t per_chunk = producer_snapshot_chunk_accounts(max_bytes);
    if (per_chunk == 0) {
        LOG_ERROR("a snapshot chunk of %zu bytes cannot hold one account", max_bytes);
        return PRODUCER_SNAPSHOT_FATAL;
    }
    size_t n = producer_accounts_count(part->accounts);
    /* Always one chunk at least, so a manifest never names none. */
    size_t chunks = n == 0 ? 1 : (n + per_chunk - 1) / per_chunk;
    if (chunks > PRODUCER_SNAPSHOT_CHUNKS_MAX) {
        LOG_ERROR("snapshot of partition %d needs %zu chunks, more than %d", (int)part->id, chunks,
                  PRODUCER_SNAPSHOT_CHUNKS_MAX);
        return PRODUCER_SNAPSHOT_FATAL;
    }
    if (snapshot_scratch_reserve(scratch, per_chunk < n ? per_chunk : n) != 0) {
        LOG_ERROR("out of memory for a snapshot chunk of %zu accounts", per_chunk);
        return PRODUCER_SNAPSHOT_FATAL;
    }
    snapshot_epoch(written->epoch);
    char why[256], key[CHUNK_KEY_BUF];

    for (size_t c = 0; c < chunks; c++) {
        size_t from = c * per_chunk;
        size_t count = n - from < per_chunk ? n - from : per_chunk;
        for (size_t i = 0; i < count; i++) {
            const char *id;
            size_t len;
            const account_state *state = producer_accounts_at(part->accounts, from + i, &id, &len);
            snapshot_account *a = &scratch->accounts[i];
            memset(a->account, 0, sizeof(a->account));
            memcpy(a->account, id, len);
            a->state = *state;
        }
        ledger_snapshot chunk = {.partition = part->id,
                                 .events_offset = part->next_events_offset,
                                 .account_count = count,
                                 .accounts = scratch->accounts};
        size_t len = 0;
        if (ledger_codec_encode_snapshot(codec, &chunk, scratch->buf, scratch->buf_cap, &len, why,
                                         sizeof(why)) != 0) {
            LOG_ERROR("cannot encode chunk %zu of the snapshot of partition %d: %s", c,
                      (int)part->id, why);
            return PRODUCER_SNAPSHOT_FATAL;
        }
        if (len > max_bytes) { /* the codec's bound says this cannot be */
            LOG_ERROR("chunk %zu of the snapshot of partition %d is %zu bytes, over %zu", c,
                      (int)part->id, len, max_bytes);
            return PRODUCER_SNAPSHOT_FATAL;
        }
        snprintf(key, sizeof(key), CHUNK_PREFIX "%zu", c);
        if (snapshot_produce(producer, rkt, part->id, key, scratch->buf, len, written->epoch,
                             NULL) != 0)
            return PRODUCER_SNAPSHOT_ABORT;
        written->bytes += len;
    }
    for (int64_t c = (int64_t)chunks; c < part->snapshot_chunks; c++) {
        snprintf(key, sizeof(key), CHUNK_PREFIX "%lld", (long long)c);
        if (snapshot_produce(producer, rkt, part->id, key, NULL, 0, NULL, NULL) != 0)
            return PRODUCER_SNAPSHOT_ABORT;
        written->tombstones++;
    }

    ledger_snapshot manifest = {.partition = part->id, .events_offset = -1};
    uint8_t buf[128];
    size_t len = 0;
    if (ledger_codec_encode_snapshot(codec, &manifest, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode the snapshot manifest of partition %d: %s", (int)part->id, why);
        return PRODUCER_SNAPSHOT_FATAL;
    }
    char count[24];
    snprintf(count, sizeof(count), "%zu", chunks);
    if (snapshot_produce(producer, rkt, part->id, PRODUCER_SNAPSHOT_KEY, buf, len, written->epoch,
                         count) != 0)
        return PRODUCER_SNAPSHOT_ABORT;
    part->snapshot_chunks = (int32_t)chunks;
    written->accounts = n;
    written->chunks = chunks;
    return PRODUCER_SNAPSHOT_OK;
}

/* ---- reading ---- */

void producer_snapshot_reader_init(producer_snapshot_reader *reader, int32_t partition,
                                   const char *topic) {
    memset(reader, 0, sizeof(*reader));
    reader->partition = partition;
    reader->topic = topic;
    reader->manifest_offset = -1;
    reader->chunk_count = -1;
}

void producer_snapshot_reader_release(producer_snapshot_reader *reader) {
    free(reader->manifest);
    for (size_t i = 0; i < reader->slot_cap; i++)
        free(reader->slots[i].value);
    free(reader->slots);
    int32_t partition = reader->partition;
    const char *topic = reader->topic;
    producer_snapshot_reader_init(reader, partition, topic);
}

bool producer_snapshot_is_key(const void *key, size_t len) {
    size_t base = sizeof(PRODUCER_SNAPSHOT_KEY) - 1;
    if (key == NULL || len < base || memcmp(key, PRODUCER_SNAPSHOT_KEY, base) != 0)
        return false;
    return len == base || ((const char *)key)[base] == '/';
}

/* The header `name` of msg as a string in out (cut to size - 1), or "". */
static void snapshot_header(const rd_kafka_message_t *msg, const char *name, char *out,
                            size_t size) {
    out[0] = '\0';
    rd_kafka_headers_t *headers = NULL;
    const void *value = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == NULL)
        return;
    if (len > size - 1)
        len = size - 1;
    memcpy(out, value, len);
    out[len] = '\0';
}

/* "0".."PRODUCER_SNAPSHOT_CHUNKS_MAX - 1" without sign, spaces or leading
 * zeros; -1 otherwise. */
static int64_t snapshot_parse_index(const char *s, size_t len) {
    if (len == 0 || len > 7 || (len > 1 && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v < PRODUCER_SNAPSHOT_CHUNKS_MAX ? v : -1;
}

static uint8_t *snapshot_copy(const rd_kafka_message_t *msg) {
    uint8_t *copy = malloc(msg->len > 0 ? msg->len : 1);
    if (copy != NULL && msg->len > 0)
        memcpy(copy, msg->payload, msg->len);
    return copy;
}

static int snapshot_add_chunk(producer_snapshot_reader *reader, const rd_kafka_message_t *msg,
                              char *errstr, size_t errstr_size) {
    const char *key = msg->key;
    int64_t index = snapshot_parse_index(key + CHUNK_PREFIX_LEN, msg->key_len - CHUNK_PREFIX_LEN);
    if (index < 0) {
        LOG_WARN("restore: ignoring key '%.*s' at '%s' [%d] offset %lld: not a snapshot chunk",
                 (int)(msg->key_len > 100 ? 100 : msg->key_len), key, reader->topic,
                 (int)msg->partition, (long long)msg->offset);
        return 0;
    }
    if ((size_t)index >= reader->slot_cap) {
        size_t cap = reader->slot_cap == 0 ? 16 : reader->slot_cap;
        while (cap <= (size_t)index)
            cap *= 2;
        producer_snapshot_slot *slots = realloc(reader->slots, cap * sizeof(*slots));
        if (slots == NULL)
            goto oom;
        memset(slots + reader->slot_cap, 0, (cap - reader->slot_cap) * sizeof(*slots));
        reader->slots = slots;
        reader->slot_cap = cap;
    }
    producer_snapshot_slot *slot = &reader->slots[index];
    free(slot->value);
    memset(slot, 0, sizeof(*slot));
    slot->offset = msg->offset;
    if (msg->payload == NULL) /* a tombstone */
        return 0;
    slot->value = snapshot_copy(msg);
    if (slot->value == NULL)
        goto oom;
    slot->len = msg->len;
    snapshot_header(msg, PRODUCER_SNAPSHOT_HEADER_EPOCH, slot->epoch, sizeof(slot->epoch));
    return 0;

oom:
    snprintf(errstr, errstr_size, "out of memory reading the snapshot chunks of partition %d",
             (int)reader->partition);
    return -1;
}

int producer_snapshot_reader_add(producer_snapshot_reader *reader, const rd_kafka_message_t *msg,
                                 char *errstr, size_t errstr_size) {
    if (msg->key_len > CHUNK_PREFIX_LEN)
        return snapshot_add_chunk(reader, msg, errstr, errstr_size);
    if (msg->key_len != sizeof(PRODUCER_SNAPSHOT_KEY) - 1) {
        LOG_WARN("restore: ignoring key '%.*s' at '%s' [%d] offset %lld", (int)msg->key_len,
                 (const char *)msg->key, reader->topic, (int)msg->partition,
                 (long long)msg->offset);
        return 0;
    }
    if (msg->payload == NULL) /* `snapshot` itself is never deleted; a tombstone changes nothing */
        return 0;
    uint8_t *copy = snapshot_copy(msg);
    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory reading a snapshot of partition %d",
                 (int)reader->partition);
        return -1;
    }
    free(reader->manifest);
    reader->manifest = copy;
    reader->manifest_len = msg->len;
    reader->manifest_offset = msg->offset;
    char count[24];
    snapshot_header(msg, PRODUCER_SNAPSHOT_HEADER_COUNT, count, sizeof(count));
    reader->chunked = count[0] != '\0';
    reader->chunk_count = reader->chunked ? snapshot_parse_index(count, strlen(count)) : -1;
    snapshot_header(msg, PRODUCER_SNAPSHOT_HEADER_EPOCH, reader->epoch, sizeof(reader->epoch));
    return 0;
}

int32_t producer_snapshot_reader_chunk_keys(const producer_snapshot_reader *reader) {
    for (size_t i = reader->slot_cap; i > 0; i--) {
        if (reader->slots[i - 1].value != NULL)
            return (int32_t)i;
    }
    return 0;
}

/* Adds the accounts of one decoded snapshot record to `table`. Returns 1,
 * 0 when the record is not usable (why filled), -1 out of memory. */
static int snapshot_take(const ledger_snapshot *snap, producer_accounts *table, char *why,
                         size_t why_size) {
    for (size_t i = 0; i < snap->account_count; i++) {
        const snapshot_account *a = &snap->accounts[i];
        size_t len = ledger_id_len(a->account, sizeof(a->account));
        size_t before = producer_accounts_count(table);
        account_state *state = producer_accounts_upsert(table, a->account, len);
        if (state == NULL) {
            if (len == 0 || len > LEDGER_ACCOUNT_MAX) {
                snprintf(why, why_size, "account id '%.*s' is invalid", (int)len, a->account);
                return 0;
            }
            return -1;
        }
        if (producer_accounts_count(table) == before) {
            snprintf(why, why_size, "account '%.*s' appears twice", (int)len, a->account);
            return 0;
        }
        *state = a->state;
    }
    return 1;
}

/* Decodes one record of the snapshot into *out (release it) and checks it
 * describes this partition, without commands, at *events_offset when that
 * is >= 0 (else it sets it). Returns 1, or 0 with why (nothing held). */
static int snapshot_decode(const producer_snapshot_reader *reader, const ledger_codec *codec,
                           const uint8_t *value, size_t len, int64_t *events_offset,
                           ledger_snapshot *out, char *why, size_t why_size) {
    char err[256];
    if (ledger_codec_decode_snapshot(codec, value, len, out, err, sizeof(err)) != 0) {
        snprintf(why, why_size, "cannot decode it: %s", err);
        return 0;
    }
    if (out->partition != reader->partition || out->events_offset < 0 || out->command_count != 0 ||
        (*events_offset >= 0 && out->events_offset != *events_offset)) {
        snprintf(why, why_size, "it describes partition %d, events offset %lld, %zu commands",
                 (int)out->partition, (long long)out->events_offset, out->command_count);
        ledger_snapshot_release(out);
        return 0;
    }
    *events_offset = out->events_offset;
    return 1;
}

int producer_snapshot_reader_load(const producer_snapshot_reader *reader, const ledger_codec *codec,
                                  producer_accounts **accounts, producer_snapshot_loaded *loaded,
                                  char *errstr, size_t errstr_size) {
    memset(loaded, 0, sizeof(*loaded));
    loaded->manifest_offset = reader->manifest_offset;
    loaded->events_offset = -1;
    *accounts = NULL;
    if (reader->manifest == NULL)
        return 0;
    producer_accounts *table = producer_accounts_new();
    if (table == NULL) {
        snprintf(errstr, errstr_size, "out of memory restoring partition %d",
                 (int)reader->partition);
        return -1;
    }
    char why[512] = "";
    int rc = 0;
    int64_t events_offset = -1;
    if (!reader->chunked) {
        /* A whole snapshot in one record: the format before chunks. */
        ledger_snapshot snap;
        rc = snapshot_decode(reader, codec, reader->manifest, reader->manifest_len, &events_offset,
                             &snap, why, sizeof(why));
        if (rc == 1) {
            rc = snapshot_take(&snap, table, why, sizeof(why));
            ledger_snapshot_release(&snap);
        }
    } else if (reader->chunk_count <= 0 || strlen(reader->epoch) != 16) {
        snprintf(why, sizeof(why), "its manifest names %lld chunks, epoch '%s'",
                 (long long)reader->chunk_count, reader->epoch);
    } else {
        rc = 1;
        for (int64_t c = 0; rc == 1 && c < reader->chunk_count; c++) {
            const producer_snapshot_slot *slot =
                (size_t)c < reader->slot_cap ? &reader->slots[c] : NULL;
            if (slot == NULL || slot->value == NULL) {
                snprintf(why, sizeof(why), "chunk %lld of %lld is missing", (long long)c,
                         (long long)reader->chunk_count);
                rc = 0;
                break;
            }
            if (strcmp(slot->epoch, reader->epoch) != 0) {
                snprintf(why, sizeof(why), "chunk %lld (offset %lld) has epoch '%s', not '%s'",
                         (long long)c, (long long)slot->offset, slot->epoch, reader->epoch);
                rc = 0;
                break;
            }
            ledger_snapshot snap;
            char chunk_why[400] = "";
            rc = snapshot_decode(reader, codec, slot->value, slot->len, &events_offset, &snap,
                                 chunk_why, sizeof(chunk_why));
            if (rc == 1) {
                rc = snapshot_take(&snap, table, chunk_why, sizeof(chunk_why));
                ledger_snapshot_release(&snap);
            }
            if (rc == 0)
                snprintf(why, sizeof(why), "chunk %lld (offset %lld): %s", (long long)c,
                         (long long)slot->offset, chunk_why);
        }
    }
    if (rc == -1) {
        producer_accounts_destroy(table);
        snprintf(errstr, errstr_size, "out of memory restoring partition %d",
                 (int)reader->partition);
        return -1;
    }
    if (rc == 0) {
        LOG_ERROR("restore: the snapshot at '%s' [%d] offset %lld is not usable (%s): partition "
                  "%d replays its events from the start",
                  reader->topic, (int)reader->partition, (long long)reader->manifest_offset, why,
                  (int)reader->partition);
        producer_accounts_destroy(table);
        return 0;
    }
    loaded->events_offset = events_offset;
    loaded->accounts = producer_accounts_count(table);
    loaded->chunks = reader->chunked ? (size_t)reader->chunk_count : 0;
    *accounts = table;
    return 1;
}
