/*
 * restore.c - a partition's state from its snapshot and the events after it
 * (see restore.h).
 *
 * The snapshot read keeps only the latest `snapshot` manifest and the latest
 * value of each `snapshot/<i>` chunk (snapshot_chunks.h) and decodes them
 * once at the end, because a compacted topic may still hold older ones
 * (compaction is lazy) and decoding each would cost a full partition's
 * worth of allocation for nothing. A snapshot that cannot be used is
 * logged and the partition's events are replayed from the start instead. `cmd/<id>` records are
 * applied as they come, in offset order, so a later record or tombstone for the same key wins as
 * compaction would make it.
 */
#include "restore.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fetch_waker.h"
#include "kafka.h"
#include "log.h"
#include "snapshot_chunks.h"

struct producer_restore {
    const ledger_codec *codec;
    rd_kafka_t *consumer;
    ledger_fetch_waker *waker; /* keeps the consumer fetching (edge/fetch_waker.h) */
    rd_kafka_topic_t *rkt_snapshots, *rkt_events; /* held so their metadata stays known */
    char snapshots_topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    char events_topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
};

#define RESTORE_CMD_PREFIX     "cmd/"
#define RESTORE_CMD_PREFIX_LEN 4

static int64_t restore_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int restore_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                       size_t errstr_size) {
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "cannot set '%s=%s' on the restore consumer: %s", key, value,
                 why);
        return -1;
    }
    return 0;
}

producer_restore *producer_restore_new(const ledger_config *cfg, const ledger_codec *codec,
                                       const char *group_id, char *errstr, size_t errstr_size) {
    producer_restore *restore = calloc(1, sizeof(*restore));
    if (restore == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    restore->codec = codec;
    const char *prefix = ledger_config_str(cfg, "topic_prefix");
    if (ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_SNAPSHOTS, restore->snapshots_topic,
                                sizeof(restore->snapshots_topic)) != 0 ||
        ledger_kafka_topic_name(prefix, LEDGER_KAFKA_TOPIC_EVENTS, restore->events_topic,
                                sizeof(restore->events_topic)) != 0) {
        snprintf(errstr, errstr_size, "invalid topic prefix '%s': names too long", prefix);
        goto fail;
    }
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(ledger_config_str(cfg, "brokers"),
                                                  LEDGER_KAFKA_CONSUMER, cfg, errstr, errstr_size);
    if (conf == NULL)
        goto fail;
    if (restore_set(conf, "group.id", group_id, errstr, errstr_size) != 0 ||
        restore_set(conf, "enable.auto.commit", "false", errstr, errstr_size) != 0 ||
        restore_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) != 0 ||
        restore_set(conf, "enable.partition.eof", "true", errstr, errstr_size) != 0 ||
        restore_set(conf, "isolation.level", "read_committed", errstr, errstr_size) != 0 ||
        restore_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) != 0 ||
        /* The broker answers a fetch at the end of a partition at once
         * instead of waiting for data: the end is what a restore waits for. */
        restore_set(conf, "fetch.wait.max.ms", "10", errstr, errstr_size) != 0 ||
        /* A bounded prefetch (fetch_waker.h): with the waker the queue
         * fills to its bound, and librdkafka's default (64 MB) was left
         * behind in the heap after the restore, as RSS. */
        restore_set(conf, "queued.min.messages", LEDGER_FETCH_QUEUE_MESSAGES, errstr,
                    errstr_size) != 0 ||
        restore_set(conf, "queued.max.messages.kbytes", LEDGER_FETCH_QUEUE_KBYTES, errstr,
                    errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    char why[512];
    restore->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (restore->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "cannot create the restore consumer: %s", why);
        goto fail;
    }
    rd_kafka_poll_set_consumer(restore->consumer);
    /* A restore drains its queue (40,000 messages) far faster than
     * librdkafka's once-a-second re-check of a full queue refills it. */
    restore->waker = ledger_fetch_waker_new(restore->consumer, 10, errstr, errstr_size);
    if (restore->waker == NULL)
        goto fail;
    restore->rkt_snapshots = rd_kafka_topic_new(restore->consumer, restore->snapshots_topic, NULL);
    restore->rkt_events = rd_kafka_topic_new(restore->consumer, restore->events_topic, NULL);
    if (restore->rkt_snapshots == NULL || restore->rkt_events == NULL) {
        snprintf(errstr, errstr_size, "cannot create topic handles: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return restore;

fail:
    producer_restore_destroy(restore);
    return NULL;
}

void producer_restore_destroy(producer_restore *restore) {
    if (restore == NULL)
        return;
    if (restore->rkt_snapshots != NULL)
        rd_kafka_topic_destroy(restore->rkt_snapshots);
    if (restore->rkt_events != NULL)
        rd_kafka_topic_destroy(restore->rkt_events);
    ledger_fetch_waker_destroy(restore->waker);
    if (restore->consumer != NULL) {
        rd_kafka_consumer_close(restore->consumer);
        rd_kafka_destroy(restore->consumer);
    }
    free(restore);
}

/* Hands a record of partition parts[i] to its reader; returns 0, or -1 to
 * stop with errstr. */
typedef int (*restore_record_fn)(void *ctxs, size_t i, const rd_kafka_message_t *msg, char *errstr,
                                 size_t errstr_size);

/* Consumes `topic` at partitions parts[i]->id from offsets[i] until every
 * one has reached its high watermark, handing each record to `fn`.
 *
 * Why the high watermark (as the last fetch response gave it: ListOffsets
 * from a read_committed client answers the last stable offset instead),
 * and not the first end a read_committed consumer meets (the last stable
 * offset): a previous owner that died inside a transaction leaves it open
 * until the broker aborts it, and the last stable offset stays at its
 * first record even after a later owner's transactions have committed
 * behind it. Stopping there would restore a state without those committed
 * events, and the next decisions would reuse their seqs. So the read waits
 * until the open transaction ends (the broker aborts it after the previous
 * owner's transaction.timeout.ms) and the records behind it are read. */
static int restore_read(producer_restore *restore, const char *topic,
                        producer_partition *const *parts, size_t n, const int64_t *offsets,
                        int idle_timeout_ms, restore_record_fn fn, void *ctxs, char *errstr,
                        size_t errstr_size) {
    bool *ended = calloc(n, sizeof(*ended));
    bool *waiting = calloc(n, sizeof(*waiting));
    if (ended == NULL || waiting == NULL) {
        free(ended);
        free(waiting);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    int rc = -1;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, parts[i]->id)->offset = offsets[i];
    rd_kafka_resp_err_t err = rd_kafka_assign(restore->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot assign '%s': %s", topic, rd_kafka_err2str(err));
        goto done;
    }
    size_t remaining = n;
    int64_t deadline = ledger_mono_ms() + idle_timeout_ms;
    /* A topic this client has not asked about yet is only looked up on
     * librdkafka's next one-second metadata scan: ask now. */
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt =
        strcmp(topic, restore->events_topic) == 0 ? restore->rkt_events : restore->rkt_snapshots;
    if (rd_kafka_metadata(restore->consumer, 0 /* this topic only */, rkt, &md, idle_timeout_ms) ==
        RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    while (remaining > 0) {
        if (ledger_mono_ms() > deadline) {
            snprintf(errstr, errstr_size,
                     "no record nor end of %zu partition(s) of '%s' within "
                     "%d ms",
                     remaining, topic, idle_timeout_ms);
            goto done;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(restore->consumer, 200);
        if (msg == NULL)
            continue;
        size_t i = 0;
        while (i < n && parts[i]->id != msg->partition)
            i++;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int64_t low = -1, high = -1;
            rd_kafka_get_watermark_offsets(restore->consumer, topic, msg->partition, &low, &high);
            if (i < n && !ended[i] && msg->offset >= high) {
                ended[i] = true;
                remaining--;
            } else if (i < n && !ended[i] && !waiting[i]) {
                waiting[i] = true;
                LOG_INFO("restore: '%s' [%d] is stable up to offset %lld of %lld: waiting for an "
                         "open transaction of a previous owner to end",
                         topic, (int)msg->partition, (long long)msg->offset, (long long)high);
            }
            rd_kafka_message_destroy(msg);
            continue;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* Transport errors are retried by librdkafka: report and wait on;
             * a missing topic or partition will not come back. */
            rd_kafka_resp_err_t merr = msg->err;
            LOG_WARN("restore: reading '%s' [%d]: %s", topic, (int)msg->partition,
                     rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            if (merr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                merr == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                merr == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                snprintf(errstr, errstr_size, "cannot read '%s': %s", topic,
                         rd_kafka_err2str(merr));
                goto done;
            }
            continue;
        }
        deadline = ledger_mono_ms() + idle_timeout_ms;
        int r = i < n ? fn(ctxs, i, msg, errstr, errstr_size) : 0;
        rd_kafka_message_destroy(msg);
        if (r != 0)
            goto done;
    }
    rc = 0;

done:
    rd_kafka_assign(restore->consumer, NULL);
    free(ended);
    free(waiting);
    return rc;
}

/* ---- the snapshots partition ---- */

typedef struct restore_snapshots {
    producer_restore *restore;
    producer_partition *part;
    producer_snapshot_reader snapshot; /* the latest snapshot's records */
} restore_snapshots;

static int restore_cmd_entry(restore_snapshots *rs, const rd_kafka_message_t *msg, char *errstr,
                             size_t errstr_size) {
    const char *id = (const char *)msg->key + RESTORE_CMD_PREFIX_LEN;
    size_t id_len = msg->key_len - RESTORE_CMD_PREFIX_LEN;
    if (!ledger_command_id_valid(id, id_len)) {
        LOG_WARN("restore: ignoring key 'cmd/%.*s' at '%s' [%d] offset %lld: not a command id",
                 (int)(id_len > 200 ? 200 : id_len), id, rs->restore->snapshots_topic,
                 (int)msg->partition, (long long)msg->offset);
        return 0;
    }
    if (msg->payload == NULL) { /* a tombstone: the entry left the window */
        producer_dedup_remove(rs->part->dedup, id, id_len);
        return 0;
    }
    char why[256];
    ledger_snapshot entry;
    if (ledger_codec_decode_snapshot(rs->restore->codec, msg->payload, msg->len, &entry, why,
                                     sizeof(why)) != 0 ||
        entry.command_count != 1) {
        LOG_WARN("restore: skipping dedup entry '%.*s' at '%s' [%d] offset %lld: %s", (int)id_len,
                 id, rs->restore->snapshots_topic, (int)msg->partition, (long long)msg->offset,
                 entry.command_count != 1 ? "not exactly one command" : why);
        ledger_snapshot_release(&entry);
        return 0;
    }
    snapshot_command *cmd = &entry.commands[0];
    cmd->result.duplicate = false;
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len = 0;
    int rc = 0;
    if (ledger_codec_encode_result(rs->restore->codec, &cmd->result, buf, sizeof(buf), &len, why,
                                   sizeof(why)) != 0) {
        LOG_WARN("restore: skipping dedup entry '%.*s': cannot encode its result: %s", (int)id_len,
                 id, why);
    } else if (producer_dedup_put_tagged(rs->part->dedup, id, id_len, buf, len, cmd->handled_at_ms,
                                         PRODUCER_DEDUP_TAG_OWN) != 0) {
        snprintf(errstr, errstr_size, "out of memory restoring the dedup window of partition %d",
                 (int)rs->part->id);
        rc = -1;
    }
    ledger_snapshot_release(&entry);
    return rc;
}

/* A `cmds/<uuid>` set of dedup entries (dedup_sets.h): each joins the
 * window as one of the set's; its tombstone means that every one of them
 * had left the window. */
static int restore_cmd_set(restore_snapshots *rs, const rd_kafka_message_t *msg, char *errstr,
                           size_t errstr_size) {
    const char *key = msg->key;
    if (msg->key_len > PRODUCER_DEDUP_SET_KEY_MAX) {
        LOG_WARN("restore: ignoring an over-long set key at '%s' [%d] offset %lld",
                 rs->restore->snapshots_topic, (int)msg->partition, (long long)msg->offset);
        return 0;
    }
    if (msg->payload == NULL) {
        producer_dedup_sets_deleted(rs->part->dedup_sets, key, msg->key_len);
        return 0;
    }
    char why[256];
    ledger_snapshot set;
    if (ledger_codec_decode_snapshot(rs->restore->codec, msg->payload, msg->len, &set, why,
                                     sizeof(why)) != 0) {
        LOG_WARN("restore: skipping dedup set '%.*s' at '%s' [%d] offset %lld: %s",
                 (int)msg->key_len, key, rs->restore->snapshots_topic, (int)msg->partition,
                 (long long)msg->offset, why);
        return 0;
    }
    int rc = 0;
    uint32_t tag = 0;
    if (producer_dedup_sets_add(rs->part->dedup_sets, key, msg->key_len, &tag) != 0)
        rc = -1;
    for (size_t k = 0; rc == 0 && k < set.command_count; k++) {
        snapshot_command *cmd = &set.commands[k];
        const char *id = cmd->result.command_id;
        size_t id_len = ledger_id_len(id, sizeof(cmd->result.command_id));
        cmd->result.duplicate = false;
        uint8_t buf[LEDGER_CODEC_RESULT_MAX];
        size_t len = 0;
        if (!ledger_command_id_valid(id, id_len) ||
            ledger_codec_encode_result(rs->restore->codec, &cmd->result, buf, sizeof(buf), &len,
                                       why, sizeof(why)) != 0) {
            LOG_WARN("restore: skipping an entry of dedup set '%.*s': not a valid result",
                     (int)msg->key_len, key);
            continue;
        }
        if (producer_dedup_put_tagged(rs->part->dedup, id, id_len, buf, len, cmd->handled_at_ms,
                                      tag) != 0)
            rc = -1;
        else
            producer_dedup_sets_join(rs->part->dedup_sets, tag);
    }
    if (rc != 0)
        snprintf(errstr, errstr_size, "out of memory restoring the dedup window of partition %d",
                 (int)rs->part->id);
    ledger_snapshot_release(&set);
    return rc;
}

static int restore_snapshot_record(void *ctxs, size_t i, const rd_kafka_message_t *msg,
                                   char *errstr, size_t errstr_size) {
    restore_snapshots *rs = &((restore_snapshots *)ctxs)[i];
    if (producer_snapshot_is_key(msg->key, msg->key_len))
        return producer_snapshot_reader_add(&rs->snapshot, msg, errstr, errstr_size);
    if (msg->key_len > RESTORE_CMD_PREFIX_LEN &&
        memcmp(msg->key, RESTORE_CMD_PREFIX, RESTORE_CMD_PREFIX_LEN) == 0)
        return restore_cmd_entry(rs, msg, errstr, errstr_size);
    if (msg->key_len > PRODUCER_DEDUP_SET_PREFIX_LEN &&
        memcmp(msg->key, PRODUCER_DEDUP_SET_PREFIX, PRODUCER_DEDUP_SET_PREFIX_LEN) == 0)
        return restore_cmd_set(rs, msg, errstr, errstr_size);
    LOG_WARN("restore: ignoring a record with an unknown key at '%s' [%d] offset %lld",
             rs->restore->snapshots_topic, (int)msg->partition, (long long)msg->offset);
    return 0;
}

/* Loads the accounts of the latest usable snapshot into rs->part; sets
 * *events_offset where the events replay starts (0 without a snapshot). */
static int restore_load_snapshot(restore_snapshots *rs, int64_t *events_offset,
                                 producer_restore_stats *stats, char *errstr, size_t errstr_size) {
    producer_partition *part = rs->part;
    part->snapshot_chunks = producer_snapshot_reader_chunk_keys(&rs->snapshot);
    producer_accounts *accounts = NULL;
    producer_snapshot_loaded loaded;
    int r = producer_snapshot_reader_load(&rs->snapshot, rs->restore->codec, &accounts, &loaded,
                                          errstr, errstr_size);
    if (r < 0)
        return -1;
    if (r == 0) {
        *events_offset = 0;
        return 0;
    }
    /* The table is fresh (nothing is folded before the snapshot): swap it. */
    producer_accounts_destroy(part->accounts);
    part->accounts = accounts;
    part->next_events_offset = loaded.events_offset;
    *events_offset = loaded.events_offset;
    stats->snapshot_offset = loaded.manifest_offset;
    stats->snapshot_events_offset = loaded.events_offset;
    LOG_INFO("partition %d: snapshot at '%s' offset %lld: %zu accounts in %zu chunk(s) up to "
             "events offset %lld",
             (int)part->id, rs->restore->snapshots_topic, (long long)loaded.manifest_offset,
             loaded.accounts, loaded.chunks, (long long)loaded.events_offset);
    return 0;
}

/* ---- the events partition ---- */

typedef struct restore_events {
    producer_restore *restore;
    producer_partition *part;
    producer_restore_stats *stats;
} restore_events;

/* Events a client command caused directly (not a transfer's credit side). */
static bool restore_is_command_event(ledger_event_type type) {
    return type == LEDGER_EVENT_ACCOUNT_OPENED || type == LEDGER_EVENT_MONEY_DEPOSITED ||
           type == LEDGER_EVENT_MONEY_WITHDRAWN || type == LEDGER_EVENT_TRANSFER_SENT ||
           type == LEDGER_EVENT_ACCOUNT_CLOSED;
}

static int restore_event_record(void *ctxs, size_t i, const rd_kafka_message_t *msg, char *errstr,
                                size_t errstr_size) {
    restore_events *re = &((restore_events *)ctxs)[i];
    char why[256];
    ledger_event event;
    if (ledger_codec_decode_event(re->restore->codec, msg->payload, msg->len, &event, why,
                                  sizeof(why)) != 0) {
        LOG_ERROR("restore: cannot decode the event at '%s' [%d] offset %lld: %s",
                  re->restore->events_topic, (int)msg->partition, (long long)msg->offset, why);
        re->stats->events_skipped++;
        return 0;
    }
    size_t len = ledger_id_len(event.account, sizeof(event.account));
    account_state *state = producer_accounts_upsert(re->part->accounts, event.account, len);
    if (state == NULL) {
        snprintf(errstr, errstr_size, "cannot hold account '%.*s' of partition %d", (int)len,
                 event.account, (int)re->part->id);
        return -1;
    }
    switch (account_apply(state, &event)) {
        case ACCOUNT_APPLIED:
            re->stats->events_replayed++;
            break;
        case ACCOUNT_DUPLICATE:
            LOG_WARN("restore: event seq %lld of '%s' at '%s' [%d] offset %lld is already folded",
                     (long long)event.seq, event.account, re->restore->events_topic,
                     (int)msg->partition, (long long)msg->offset);
            re->stats->events_skipped++;
            break;
        case ACCOUNT_SEQ_GAP:
            LOG_ERROR("restore: event seq %lld of '%s' at '%s' [%d] offset %lld follows seq %lld: "
                      "an event is missing",
                      (long long)event.seq, event.account, re->restore->events_topic,
                      (int)msg->partition, (long long)msg->offset, (long long)state->seq);
            re->stats->events_skipped++;
            break;
    }
    re->part->next_events_offset = msg->offset + 1;

    size_t id_len = ledger_id_len(event.command_id, sizeof(event.command_id));
    if (restore_is_command_event(event.type) && ledger_command_id_valid(event.command_id, id_len) &&
        !producer_dedup_find(re->part->dedup, event.command_id, id_len, NULL, NULL, NULL)) {
        ledger_result result;
        ledger_result_init(&result);
        memcpy(result.command_id, event.command_id, sizeof(result.command_id));
        result.reason = LEDGER_OK;
        result.has_event = true;
        result.event = event;
        result.has_position = true;
        result.partition = msg->partition;
        result.offset = msg->offset;
        uint8_t buf[LEDGER_CODEC_RESULT_MAX];
        size_t blen = 0;
        rd_kafka_timestamp_type_t tstype;
        int64_t handled_at = rd_kafka_message_timestamp(msg, &tstype);
        if (handled_at < 0)
            handled_at = restore_wall_ms();
        if (ledger_codec_encode_result(re->restore->codec, &result, buf, sizeof(buf), &blen, why,
                                       sizeof(why)) != 0)
            LOG_WARN("restore: cannot encode the result of '%s': %s", event.command_id, why);
        else if (producer_dedup_put_tagged(re->part->dedup, event.command_id, id_len, buf, blen,
                                           handled_at, PRODUCER_DEDUP_TAG_LOG) != 0 ||
                 producer_dedup_sets_pend(re->part->dedup_sets, event.command_id, id_len) != 0) {
            snprintf(errstr, errstr_size,
                     "out of memory restoring the dedup window of "
                     "partition %d",
                     (int)re->part->id);
            return -1;
        }
    }
    return 0;
}

int producer_restore_partitions(producer_restore *restore, producer_partition *const *parts,
                                size_t n, int idle_timeout_ms, producer_restore_stats *stats,
                                char *errstr, size_t errstr_size) {
    if (n == 0)
        return 0;
    int64_t started = ledger_mono_ms();
    int rc = -1;
    restore_snapshots *rs = calloc(n, sizeof(*rs));
    restore_events *re = calloc(n, sizeof(*re));
    int64_t *offsets = calloc(n, sizeof(*offsets));
    if (rs == NULL || re == NULL || offsets == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&stats[i], 0, sizeof(stats[i]));
        stats[i].snapshot_offset = -1;
        stats[i].snapshot_events_offset = -1;
        rs[i] = (restore_snapshots){.restore = restore, .part = parts[i]};
        producer_snapshot_reader_init(&rs[i].snapshot, parts[i]->id, restore->snapshots_topic);
        re[i] = (restore_events){.restore = restore, .part = parts[i], .stats = &stats[i]};
        /* Offset 0 rather than BEGINNING spares a ListOffsets round trip; a
         * log that starts later is reset to its start (auto.offset.reset). */
        offsets[i] = 0;
    }

    if (restore_read(restore, restore->snapshots_topic, parts, n, offsets, idle_timeout_ms,
                     restore_snapshot_record, rs, errstr, errstr_size) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (restore_load_snapshot(&rs[i], &offsets[i], &stats[i], errstr, errstr_size) != 0)
            goto done;
        producer_snapshot_reader_release(&rs[i].snapshot);
    }

    if (restore_read(restore, restore->events_topic, parts, n, offsets, idle_timeout_ms,
                     restore_event_record, re, errstr, errstr_size) != 0)
        goto done;

    int64_t elapsed = ledger_mono_ms() - started;
    for (size_t i = 0; i < n; i++) {
        stats[i].accounts = producer_accounts_count(parts[i]->accounts);
        stats[i].dedup_entries = producer_dedup_count(parts[i]->dedup);
        stats[i].elapsed_ms = elapsed;
    }
    rc = 0;

done:
    for (size_t i = 0; rs != NULL && i < n; i++)
        producer_snapshot_reader_release(&rs[i].snapshot);
    free(rs);
    free(re);
    free(offsets);
    return rc;
}
