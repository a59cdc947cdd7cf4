/*
 * runtime.c - the projector's service loop: collect a batch from Kafka, cut
 * it per partition, and apply each partition's slice to Redis in two round
 * trips (reads, then one conditional FCALL with every write and the new
 * checkpoint).
 *
 * Why per partition: a partition is the unit of ownership (the consumer
 * group hands partitions out) and of ordering (an account lives on one), so
 * its checkpoint is the only fact a batch has to agree with. Redis holds
 * that checkpoint next to the data, which makes Redis the truth about what
 * was applied; the offsets committed to Kafka are only a hint for tools.
 *
 * A partition's slice is filtered (records below the checkpoint, or not
 * after the last one taken, are redeliveries and are skipped), grouped by
 * account in log order (by the record key, which is the account, so each
 * event is decoded straight into its group's place), decoded, read (round
 * trip 1, which also re-reads the checkpoint: if it is not what this
 * process expects, the partition moved or was rewound, and the slice is
 * dropped and the partition re-sought), folded by the view, and written
 * (round trip 2). Every buffer is sized at start for batch_max_events and
 * reused: nothing is allocated per event.
 *
 * A record that cannot be decoded stops its partition for now: the records
 * before it are applied, the error is logged with topic, partition and
 * offset, and the partition is paused at that record. The quarantine and
 * DLQ (SPEC section 7) hook in at the one place marked QUARANTINE HOOK.
 */
#include "runtime.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "ids.h"
#include "kafka.h"
#include "log.h"
#include "projector_keys.h"
#include "projector_store.h"
#include "redis.h"
#include "view_batch.h"

#define RUNTIME_PROGRAM "ledger-projector"
#define RUNTIME_USAGE   "ledger-projector --view NAME [options]"

/* Raised by SIGTERM/SIGINT. The only state outside the runtime struct: a
 * signal handler can reach nothing else. */
static volatile sig_atomic_t runtime_stop;

static void on_signal(int sig) {
    (void)sig;
    runtime_stop = 1;
}

static const ledger_config_setting runtime_settings[] = {
    {.name = "view",
     .env = "LEDGER_VIEW",
     .flag = "view",
     .type = LEDGER_CONFIG_STRING,
     .min = 1,
     .max = 64,
     .metavar = "NAME",
     .help = "the view to project (required by ledger-projector)"},
    {.name = "group_id",
     .env = "LEDGER_GROUP_ID",
     .flag = "group-id",
     .type = LEDGER_CONFIG_STRING,
     .min = 1,
     .max = 255,
     .metavar = "ID",
     .help = "consumer group shared by the processes of one view (default "
             "ledger-projector-<view>)"},
    {.name = "batch_max_events",
     .env = "LEDGER_BATCH_MAX_EVENTS",
     .flag = "batch-max-events",
     .type = LEDGER_CONFIG_INT,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "most events applied in one batch"},
    {.name = "batch_max_wait",
     .env = "LEDGER_BATCH_MAX_WAIT",
     .flag = "batch-max-wait",
     .type = LEDGER_CONFIG_DURATION,
     .def = "50ms",
     .min = 0,
     .max = 60000,
     .help = "longest wait for more events after a batch's first one (e.g. 50ms; a bare "
             "number is seconds)"},
    {.name = "partitions",
     .env = "LEDGER_PARTITIONS",
     .flag = "partitions",
     .type = LEDGER_CONFIG_INT,
     .def = "6",
     .min = 1,
     .max = 10000,
     .help = "partitions of the ledger's topics when this program creates them"},
    {.name = "replication_factor",
     .env = "LEDGER_REPLICATION_FACTOR",
     .flag = "replication-factor",
     .type = LEDGER_CONFIG_INT,
     .def = "1",
     .min = 1,
     .max = 100,
     .help = "replication factor of the ledger's topics when this program creates them"},
    LEDGER_CONFIG_END,
};

/* One partition as this process sees it. */
typedef struct runtime_part {
    bool owned;
    bool halted;  /* a record could not be applied: not advanced, paused */
    int64_t next; /* next offset to apply, as Redis said; PROJECTOR_NO_CHECKPOINT */
} runtime_part;

/* One account of a partition's slice. */
typedef struct runtime_group {
    const char *key; /* the record key: the message's, valid for the batch */
    size_t key_len;
    size_t count;  /* its records in the slice */
    size_t start;  /* its first place in events[] */
    size_t filled; /* decoded so far */
    size_t first_reply;
} runtime_group;

typedef struct runtime {
    const projector_view *view;
    void *view_state;
    const ledger_config *cfg;
    const char *ns;
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec;
    rd_kafka_t *rk;
    ledger_redis_url url;
    projector_store *store;
    view_batch *batch;
    int64_t gen;
    bool ready;
    bool fatal; /* a bug or out of memory: stop */

    runtime_part *parts;
    size_t parts_cap;
    size_t *part_count; /* per partition: messages in the batch (counting sort) */

    size_t max_events;
    int64_t max_wait_ms;
    rd_kafka_message_t **msgs; /* the collected batch */
    size_t msgs_len;
    size_t *order;              /* message indices sorted by partition, log order kept */
    rd_kafka_message_t **slice; /* one partition's accepted records */
    size_t *slice_group;        /* group of each */
    ledger_event *events;       /* decoded, grouped by account */
    runtime_group *groups;
    size_t groups_len;
    int32_t *table; /* open addressing: group index or -1 */
    size_t table_mask;
    view_account_input *inputs;
    redisReply **replies;
    size_t replies_cap;
    rd_kafka_topic_partition_list_t *commits;

    uint64_t applied_events;
    uint64_t applied_batches;
} runtime;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- partitions ---- */

static int ensure_parts(runtime *rt, int32_t partition) {
    size_t need = (size_t)partition + 1;
    if (need <= rt->parts_cap)
        return 0;
    size_t cap = rt->parts_cap > 0 ? rt->parts_cap : 8;
    while (cap < need)
        cap *= 2;
    runtime_part *parts = realloc(rt->parts, cap * sizeof(*parts));
    if (parts == NULL)
        return -1;
    rt->parts = parts;
    size_t *counts = realloc(rt->part_count, cap * sizeof(*counts));
    if (counts == NULL)
        return -1;
    rt->part_count = counts;
    for (size_t i = rt->parts_cap; i < cap; i++)
        rt->parts[i] =
            (runtime_part){.owned = false, .halted = false, .next = PROJECTOR_NO_CHECKPOINT};
    rt->parts_cap = cap;
    return 0;
}

static int64_t kafka_offset_of(int64_t checkpoint) {
    return checkpoint == PROJECTOR_NO_CHECKPOINT ? RD_KAFKA_OFFSET_BEGINNING : checkpoint;
}

/* Moves the consumer of `partition` to its checkpoint. The -1 timeout waits
 * until the fetcher has really moved (librdkafka 2.0.2 mis-scales a
 * positive timeout), so nothing fetched from the old position is delivered
 * afterwards. */
static void seek_partition(runtime *rt, int32_t partition) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, rt->topic, partition)->offset =
        kafka_offset_of(rt->parts[partition].next);
    rd_kafka_error_t *error = rd_kafka_seek_partitions(rt->rk, list, -1);
    if (error != NULL) {
        LOG_WARN("cannot seek partition %d to %lld: %s", (int)partition,
                 (long long)rt->parts[partition].next, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_WARN("cannot seek partition %d to %lld: %s", (int)partition,
                 (long long)rt->parts[partition].next, rd_kafka_err2str(list->elems[0].err));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Re-reads the generation and the checkpoints of every owned partition and
 * seeks each there: after Redis said this process's picture is stale. */
static void resync_all(runtime *rt) {
    int64_t gen;
    if (projector_store_generation(rt->store, &gen) != 0)
        return;
    if (gen != rt->gen)
        LOG_INFO("generation of view '%s' is now %lld (was %lld)", rt->view->name, (long long)gen,
                 (long long)rt->gen);
    rt->gen = gen;
    for (size_t p = 0; p < rt->parts_cap; p++) {
        if (!rt->parts[p].owned)
            continue;
        int32_t part = (int32_t)p;
        int64_t cp;
        if (projector_store_checkpoints(rt->store, gen, &part, 1, &cp) != 0)
            return;
        rt->parts[p].next = cp;
        seek_partition(rt, part);
    }
}

/* ---- rebalancing ---- */

static void log_assigned(int32_t partition, int64_t checkpoint) {
    if (checkpoint == PROJECTOR_NO_CHECKPOINT)
        LOG_INFO("partition %d assigned at the beginning (no checkpoint)", (int)partition);
    else
        LOG_INFO("partition %d assigned at offset %lld (checkpoint)", (int)partition,
                 (long long)checkpoint);
}

static void on_assign(runtime *rt, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list,
                      bool cooperative) {
    int32_t *ids = calloc((size_t)list->cnt + 1, sizeof(*ids));
    int64_t *cps = calloc((size_t)list->cnt + 1, sizeof(*cps));
    bool ok = ids != NULL && cps != NULL;
    for (int i = 0; ok && i < list->cnt; i++) {
        ids[i] = list->elems[i].partition;
        ok = ensure_parts(rt, ids[i]) == 0;
    }
    if (!ok) {
        LOG_ERROR("out of memory assigning partitions");
        rt->fatal = true;
    }
    /* The checkpoints decide where each partition starts. Without them
     * (stopping while Redis is down) nothing is assigned. */
    ok = ok && projector_store_generation(rt->store, &rt->gen) == 0 &&
         projector_store_checkpoints(rt->store, rt->gen, ids, (size_t)list->cnt, cps) == 0;
    if (ok) {
        for (int i = 0; i < list->cnt; i++) {
            runtime_part *part = &rt->parts[ids[i]];
            part->owned = true;
            part->halted = false;
            part->next = cps[i];
            list->elems[i].offset = kafka_offset_of(cps[i]);
            log_assigned(ids[i], cps[i]);
        }
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, list);
        else
            err = rd_kafka_assign(rk, list);
        if (error != NULL) {
            LOG_ERROR("cannot assign partitions: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            LOG_ERROR("cannot assign partitions: %s", rd_kafka_err2str(err));
        }
        if (!rt->ready) {
            rt->ready = true;
            LOG_INFO("ready");
        }
    } else if (!cooperative) {
        rd_kafka_assign(rk, NULL);
    }
    free(ids);
    free(cps);
}

static void on_revoke(runtime *rt, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list,
                      bool cooperative) {
    bool lost = rd_kafka_assignment_lost(rk);
    for (int i = 0; i < list->cnt; i++) {
        int32_t p = list->elems[i].partition;
        if (p >= 0 && (size_t)p < rt->parts_cap)
            rt->parts[p].owned = false;
        LOG_INFO("partition %d %s", (int)p, lost ? "lost" : "revoked");
    }
    /* The batch in flight, if any, is dropped for these partitions: the
     * processing skips partitions this process does not own. */
    if (cooperative) {
        rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, list);
        if (error != NULL) {
            LOG_WARN("cannot unassign partitions: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque) {
    runtime *rt = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(rt, rk, list, cooperative);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(rt, rk, list, cooperative);
    } else {
        LOG_ERROR("rebalance failed: %s", rd_kafka_err2str(err));
        for (size_t p = 0; p < rt->parts_cap; p++)
            rt->parts[p].owned = false;
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- one partition's slice ---- */

static uint64_t hash_key(const char *key, size_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The group of `key`, created when new. */
static size_t group_of(runtime *rt, const char *key, size_t len) {
    size_t slot = (size_t)hash_key(key, len) & rt->table_mask;
    for (;;) {
        int32_t g = rt->table[slot];
        if (g < 0)
            break;
        const runtime_group *grp = &rt->groups[g];
        if (grp->key_len == len && (len == 0 || memcmp(grp->key, key, len) == 0))
            return (size_t)g;
        slot = (slot + 1) & rt->table_mask;
    }
    size_t g = rt->groups_len++;
    rt->table[slot] = (int32_t)g;
    rt->groups[g] = (runtime_group){.key = key, .key_len = len};
    return g;
}

static void clear_groups(runtime *rt) {
    /* Every used slot holds one group's key: find them again and clear. */
    for (size_t g = 0; g < rt->groups_len; g++) {
        size_t slot = (size_t)hash_key(rt->groups[g].key, rt->groups[g].key_len) & rt->table_mask;
        while (rt->table[slot] != (int32_t)g)
            slot = (slot + 1) & rt->table_mask;
        rt->table[slot] = -1;
    }
    rt->groups_len = 0;
}

/* Decodes one record into its group's next place and checks it belongs
 * there. Returns 0, or -1 with errstr. */
static int decode_record(runtime *rt, const rd_kafka_message_t *m, runtime_group *grp, char *errstr,
                         size_t errstr_size) {
    ledger_event *e = &rt->events[grp->start + grp->filled];
    if (ledger_codec_decode_event(rt->codec, m->payload, m->len, e, errstr, errstr_size) != 0)
        return -1;
    size_t len = ledger_id_len(e->account, sizeof(e->account));
    if (!ledger_account_valid(e->account, len)) {
        snprintf(errstr, errstr_size, "invalid account '%.*s' in the event", (int)len, e->account);
        return -1;
    }
    if (len != grp->key_len || memcmp(e->account, grp->key, len) != 0) {
        snprintf(errstr, errstr_size, "the record key '%.*s' is not the event's account '%s'",
                 (int)(grp->key_len > 64 ? 64 : grp->key_len), grp->key != NULL ? grp->key : "",
                 e->account);
        return -1;
    }
    grp->filled++;
    return 0;
}

static void free_replies(runtime *rt, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (rt->replies[i] != NULL)
            freeReplyObject(rt->replies[i]);
        rt->replies[i] = NULL;
    }
}

static int ensure_replies(runtime *rt, size_t need) {
    if (need <= rt->replies_cap)
        return 0;
    size_t cap = rt->replies_cap > 0 ? rt->replies_cap : 1024;
    while (cap < need)
        cap *= 2;
    redisReply **r = realloc(rt->replies, cap * sizeof(*r));
    if (r == NULL)
        return -1;
    memset(r + rt->replies_cap, 0, (cap - rt->replies_cap) * sizeof(*r));
    rt->replies = r;
    rt->replies_cap = cap;
    return 0;
}

static void halt_partition(runtime *rt, int32_t partition) {
    rt->parts[partition].halted = true;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, rt->topic, partition);
    rd_kafka_pause_partitions(rt->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
}

/* Applies the decoded groups of one partition: the view's reads (round trip
 * 1, with the checkpoint), the view's folds, then the writes and the new
 * checkpoint `next` (round trip 2); again from round trip 1 after a lost
 * connection. */
static void apply_slice(runtime *rt, int32_t partition, int64_t next) {
    runtime_part *part = &rt->parts[partition];
    char errstr[512];
    size_t inputs = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        runtime_group *grp = &rt->groups[g];
        if (grp->filled == 0)
            continue;
        rt->inputs[inputs++] = (view_account_input){
            .account = rt->events[grp->start].account,
            .events = &rt->events[grp->start],
            .event_count = grp->filled,
        };
    }

    for (;;) {
        view_batch_reset(rt->batch, rt->gen);
        size_t reads = 0;
        for (size_t i = 0; i < inputs; i++) {
            rt->inputs[i].replies = NULL;
            rt->inputs[i].reply_count = 0;
            size_t before = view_batch_read_count(rt->batch);
            size_t n = rt->view->read_account(rt->view_state, rt->batch, &rt->inputs[i]);
            if (view_batch_read_count(rt->batch) - before != n) {
                LOG_ERROR("view '%s' says it appended %zu reads for '%s' but appended %zu",
                          rt->view->name, n, rt->inputs[i].account,
                          view_batch_read_count(rt->batch) - before);
                rt->fatal = true;
                return;
            }
            rt->inputs[i].reply_count = n;
            reads += n;
        }
        if (view_batch_failed(rt->batch) || ensure_replies(rt, reads) != 0) {
            LOG_ERROR("out of memory building a batch of partition %d", (int)partition);
            rt->fatal = true;
            return;
        }

        int64_t checkpoint;
        if (projector_store_read(rt->store, rt->batch, partition, &checkpoint, rt->replies) != 0)
            return; /* stopping, or a malformed checkpoint (logged): drop */
        if (checkpoint != part->next) {
            LOG_INFO("checkpoint of partition %d is %lld in redis, this process expected %lld: "
                     "the partition moved or was rewound, seeking there",
                     (int)partition, (long long)checkpoint, (long long)part->next);
            free_replies(rt, reads);
            part->next = checkpoint;
            seek_partition(rt, partition);
            return;
        }

        size_t r = 0;
        for (size_t i = 0; i < inputs; i++) {
            rt->inputs[i].replies = (const redisReply *const *)(rt->replies + r);
            r += rt->inputs[i].reply_count;
            if (rt->view->apply_account(rt->view_state, rt->batch, &rt->inputs[i], errstr,
                                        sizeof(errstr)) != 0) {
                /* QUARANTINE HOOK: the account's state cannot take its
                 * events; until quarantine exists, the partition stops. */
                LOG_ERROR("topic '%s' partition %d: view '%s' cannot apply account '%s' "
                          "(offsets from %lld): %s; the partition is stopped",
                          rt->topic, (int)partition, rt->view->name, rt->inputs[i].account,
                          (long long)part->next, errstr);
                free_replies(rt, reads);
                halt_partition(rt, partition);
                return;
            }
        }
        free_replies(rt, reads);
        if (view_batch_failed(rt->batch)) {
            LOG_ERROR("out of memory building a batch of partition %d", (int)partition);
            rt->fatal = true;
            return;
        }

        switch (projector_store_apply(rt->store, rt->batch, PROJECTOR_STORE_CURRENT, partition,
                                      part->next, next)) {
            case PROJECTOR_STORE_APPLIED:
                part->next = next;
                rd_kafka_topic_partition_list_add(rt->commits, rt->topic, partition)->offset = next;
                rt->applied_batches++;
                for (size_t i = 0; i < inputs; i++)
                    rt->applied_events += rt->inputs[i].event_count;
                return;
            case PROJECTOR_STORE_STALE: {
                int64_t cp;
                if (projector_store_checkpoints(rt->store, rt->gen, &partition, 1, &cp) != 0)
                    return;
                LOG_INFO("checkpoint of partition %d moved to %lld (this process expected "
                         "%lld): seeking there",
                         (int)partition, (long long)cp, (long long)part->next);
                part->next = cp;
                seek_partition(rt, partition);
                return;
            }
            case PROJECTOR_STORE_WRONG_GEN:
                LOG_INFO("generation %lld of view '%s' is no longer current: re-reading",
                         (long long)rt->gen, rt->view->name);
                resync_all(rt);
                return;
            case PROJECTOR_STORE_STOPPED:
                return;
            case PROJECTOR_STORE_FAILED:
            case PROJECTOR_STORE_UNKNOWN:
                if (runtime_stop)
                    return; /* the batch is dropped: nothing half-written */
                continue;   /* again from round trip 1, whose checkpoint tells */
        }
    }
}

/* Filters, groups, decodes and applies the `n` messages of one partition
 * (message indices in log order in idx[0..n-1]). */
static void process_partition(runtime *rt, int32_t partition, const size_t *idx, size_t n) {
    runtime_part *part = &rt->parts[partition];
    if (!part->owned || part->halted)
        return;

    /* Redeliveries (below the checkpoint, or not after the last taken) out. */
    size_t accepted = 0;
    int64_t last = -1;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = rt->msgs[idx[i]];
        if ((part->next != PROJECTOR_NO_CHECKPOINT && m->offset < part->next) || m->offset <= last)
            continue;
        last = m->offset;
        rt->slice[accepted++] = m;
    }
    if (accepted == 0)
        return;

    /* Group by record key (the account), then lay the groups out. */
    for (size_t i = 0; i < accepted; i++) {
        rd_kafka_message_t *m = rt->slice[i];
        size_t g = group_of(rt, m->key != NULL ? m->key : "", m->key != NULL ? m->key_len : 0);
        rt->groups[g].count++;
        rt->slice_group[i] = g;
    }
    size_t start = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        rt->groups[g].start = start;
        start += rt->groups[g].count;
    }

    /* Decode in log order; the first bad record ends the slice. */
    char errstr[512];
    size_t good = accepted;
    for (size_t i = 0; i < accepted; i++) {
        if (decode_record(rt, rt->slice[i], &rt->groups[rt->slice_group[i]], errstr,
                          sizeof(errstr)) != 0) {
            /* QUARANTINE HOOK: the record goes to the DLQ and its account
             * is quarantined; until then the partition stops here. */
            LOG_ERROR("topic '%s' partition %d offset %lld: cannot decode the event: %s; the "
                      "partition is stopped at this record",
                      rt->topic, (int)partition, (long long)rt->slice[i]->offset, errstr);
            good = i;
            break;
        }
    }
    if (good > 0)
        apply_slice(rt, partition,
                    good < accepted ? rt->slice[good]->offset
                                    : rt->slice[accepted - 1]->offset + 1);
    /* Stopped at the bad record only once everything before it is stored
     * (if the slice was dropped instead, the record comes round again). */
    if (good < accepted && !part->halted && (good == 0 || part->next == rt->slice[good]->offset))
        halt_partition(rt, partition);
    clear_groups(rt);
}

/* Cuts the collected batch per partition (a stable counting sort) and
 * processes each, then commits the new positions to Kafka (advisory). */
static void process_batch(runtime *rt) {
    size_t np = rt->parts_cap;
    if (np == 0)
        return;
    memset(rt->part_count, 0, np * sizeof(*rt->part_count));
    for (size_t i = 0; i < rt->msgs_len; i++) {
        int32_t p = rt->msgs[i]->partition;
        if (p >= 0 && (size_t)p < np)
            rt->part_count[p]++;
    }
    size_t total = 0;
    for (size_t p = 0; p < np; p++) {
        size_t c = rt->part_count[p];
        rt->part_count[p] = total;
        total += c;
    }
    for (size_t i = 0; i < rt->msgs_len; i++) {
        int32_t p = rt->msgs[i]->partition;
        if (p >= 0 && (size_t)p < np)
            rt->order[rt->part_count[p]++] = i;
    }
    /* part_count[p] is now the end of p's run. */
    size_t begin = 0;
    for (size_t p = 0; p < np && !rt->fatal; p++) {
        size_t end = rt->part_count[p];
        if (end > begin)
            process_partition(rt, (int32_t)p, rt->order + begin, end - begin);
        begin = end;
    }
    if (rt->commits->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rt->rk, rt->commits, 1 /* async */);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            LOG_DEBUG("commit of offsets (advisory) failed: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(rt->commits);
        rt->commits = rd_kafka_topic_partition_list_new(8);
    }
}

static void drop_batch(runtime *rt) {
    for (size_t i = 0; i < rt->msgs_len; i++)
        rd_kafka_message_destroy(rt->msgs[i]);
    rt->msgs_len = 0;
}

/* Collects up to max_events messages, waiting at most max_wait after the
 * first. Returns when the batch is ready or a stop was asked. */
static void collect_batch(runtime *rt) {
    int64_t deadline = -1;
    while (rt->msgs_len < rt->max_events && !runtime_stop && !rt->fatal) {
        int timeout = 100;
        if (deadline >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                break;
            timeout = left < 100 ? (int)left : 100;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rt->rk, timeout);
        if (m == NULL) {
            if (deadline < 0 && rt->msgs_len > 0)
                break;
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LOG_WARN("consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        rt->msgs[rt->msgs_len++] = m;
        if (deadline < 0)
            deadline = mono_ms() + rt->max_wait_ms;
    }
}

/* ---- set-up ---- */

static int alloc_buffers(runtime *rt) {
    size_t n = rt->max_events;
    size_t table = 16;
    while (table < 2 * n)
        table *= 2;
    rt->msgs = calloc(n, sizeof(*rt->msgs));
    rt->order = calloc(n, sizeof(*rt->order));
    rt->slice = calloc(n, sizeof(*rt->slice));
    rt->slice_group = calloc(n, sizeof(*rt->slice_group));
    rt->events = calloc(n, sizeof(*rt->events));
    rt->groups = calloc(n, sizeof(*rt->groups));
    rt->inputs = calloc(n, sizeof(*rt->inputs));
    rt->table = malloc(table * sizeof(*rt->table));
    rt->commits = rd_kafka_topic_partition_list_new(8);
    if (rt->msgs == NULL || rt->order == NULL || rt->slice == NULL || rt->slice_group == NULL ||
        rt->events == NULL || rt->groups == NULL || rt->inputs == NULL || rt->table == NULL ||
        rt->commits == NULL || ensure_replies(rt, 1024) != 0)
        return -1;
    memset(rt->table, 0xff, table * sizeof(*rt->table)); /* all -1 */
    rt->table_mask = table - 1;
    return 0;
}

static void free_buffers(runtime *rt) {
    free(rt->msgs);
    free(rt->order);
    free(rt->slice);
    free(rt->slice_group);
    free(rt->events);
    free(rt->groups);
    free(rt->inputs);
    free(rt->table);
    if (rt->replies != NULL)
        free_replies(rt, rt->replies_cap);
    free(rt->replies);
    if (rt->commits != NULL)
        rd_kafka_topic_partition_list_destroy(rt->commits);
    free(rt->parts);
    free(rt->part_count);
}

static int create_topics(runtime *rt) {
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[512];
    if (ledger_kafka_ledger_topic_specs(ledger_config_str(rt->cfg, "topic_prefix"),
                                        (int)ledger_config_int(rt->cfg, "partitions"),
                                        (int)ledger_config_int(rt->cfg, "replication_factor"),
                                        specs, errstr, sizeof(errstr)) != 0 ||
        ledger_kafka_create_topics(ledger_config_str(rt->cfg, "brokers"), rt->cfg, specs,
                                   LEDGER_KAFKA_TOPIC_COUNT, 30000, outcomes, errstr,
                                   sizeof(errstr)) != 0) {
        LOG_ERROR("%s", errstr);
        return -1;
    }
    return 0;
}

static int start_consumer(runtime *rt) {
    char errstr[512];
    char group[300];
    const char *group_id = ledger_config_str(rt->cfg, "group_id");
    if (group_id == NULL) {
        snprintf(group, sizeof(group), "ledger-projector-%s", rt->view->name);
        group_id = group;
    }
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(
        ledger_config_str(rt->cfg, "brokers"), LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    if (conf == NULL) {
        LOG_ERROR("%s", errstr);
        return -1;
    }
    /* The runtime's own needs first, then the -X properties, which win. */
    static const char *const fixed[][2] = {
        {"enable.auto.commit", "false"},
        {"isolation.level", "read_committed"},
        {"auto.offset.reset", "earliest"},
        {"enable.auto.offset.store", "false"},
    };
    bool ok =
        rd_kafka_conf_set(conf, "group.id", group_id, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < sizeof(fixed) / sizeof(fixed[0]); i++)
        ok = rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errstr, sizeof(errstr)) ==
             RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < ledger_config_rdkafka_count(rt->cfg); i++) {
        const char *key, *value;
        ledger_config_rdkafka_get(rt->cfg, i, &key, &value);
        ok = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK;
    }
    if (!ok) {
        LOG_ERROR("invalid consumer configuration: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, rt);
    rt->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rt->rk == NULL) {
        LOG_ERROR("cannot create the kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(rt->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, rt->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rt->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot subscribe to '%s': %s", rt->topic, rd_kafka_err2str(err));
        return -1;
    }
    LOG_INFO("view '%s' consuming '%s' in group '%s'", rt->view->name, rt->topic, group_id);
    return 0;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* The configuration tables: shared, runtime, then the view's own. */
static ledger_config *new_config(const projector_view *view) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings,
        ledger_config_redis_settings,
        projector_keys_settings,
        runtime_settings,
        ledger_config_common_settings,
        view != NULL ? view->settings : NULL,
        NULL,
    };
    return ledger_config_new(RUNTIME_PROGRAM, tables);
}

static const char runtime_description[] =
    "Projects the events topic (PREFIXevents) into one read model (view) in Redis, exactly\n"
    "once: each batch's writes and the partition's checkpoint are stored together, so\n"
    "several processes of one view share its partitions and a restarted or moved one\n"
    "resumes where Redis says. Logs go to stderr; SIGTERM/SIGINT stop it cleanly.";

void projector_help(FILE *out, const char *description) {
    ledger_config *cfg = new_config(NULL);
    if (cfg == NULL)
        return;
    char text[2048];
    snprintf(text, sizeof(text), "%s%s%s", runtime_description, description != NULL ? "\n\n" : "",
             description != NULL ? description : "");
    ledger_config_help(cfg, out, RUNTIME_USAGE, text);
    ledger_config_destroy(cfg);
}

/* Loads and checks the configuration. Returns -1 to run, else the exit code. */
static int load_config(runtime *rt, ledger_config *cfg, int argc, char **argv) {
    char errstr[1024];
    switch (ledger_config_load(cfg, argc, argv, errstr, sizeof(errstr))) {
        case LEDGER_CONFIG_HELP: {
            char text[2048];
            snprintf(text, sizeof(text), "%s\n\nView '%s': %s.", runtime_description,
                     rt->view->name, rt->view->help != NULL ? rt->view->help : "");
            ledger_config_help(cfg, stdout, RUNTIME_USAGE, text);
            return PROJECTOR_EXIT_OK;
        }
        case LEDGER_CONFIG_DUMP:
            if (ledger_kafka_conf_dump(cfg, stdout, errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "%s: %s\n", RUNTIME_PROGRAM, errstr);
                return PROJECTOR_EXIT_USAGE;
            }
            return PROJECTOR_EXIT_OK;
        case LEDGER_CONFIG_ERROR:
            fprintf(stderr, "%s: %s\n", RUNTIME_PROGRAM, errstr);
            return PROJECTOR_EXIT_USAGE;
        case LEDGER_CONFIG_OK:
            break;
    }
    const char *view = ledger_config_str(cfg, "view");
    if (view != NULL && strcmp(view, rt->view->name) != 0) {
        fprintf(stderr, "%s: invalid --view '%s': this program runs view '%s'\n", RUNTIME_PROGRAM,
                view, rt->view->name);
        return PROJECTOR_EXIT_USAGE;
    }
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", RUNTIME_PROGRAM,
                ledger_config_positional(cfg, 0));
        return PROJECTOR_EXIT_USAGE;
    }
    if (ledger_redis_url_parse(ledger_config_str(cfg, "redis_url"), &rt->url, errstr,
                               sizeof(errstr)) != 0) {
        fprintf(stderr, "%s: invalid redis url: %s\n", RUNTIME_PROGRAM, errstr);
        return PROJECTOR_EXIT_USAGE;
    }
    if (ledger_kafka_topic_name(ledger_config_str(cfg, "topic_prefix"), LEDGER_KAFKA_TOPIC_EVENTS,
                                rt->topic, sizeof(rt->topic)) != 0) {
        fprintf(stderr, "%s: invalid --topic-prefix '%s': the topic name is too long\n",
                RUNTIME_PROGRAM, ledger_config_str(cfg, "topic_prefix"));
        return PROJECTOR_EXIT_USAGE;
    }
    /* A consumer configuration librdkafka refuses is a configuration error. */
    rd_kafka_conf_t *probe = ledger_kafka_conf_new(
        ledger_config_str(cfg, "brokers"), LEDGER_KAFKA_CONSUMER, cfg, errstr, sizeof(errstr));
    if (probe == NULL) {
        fprintf(stderr, "%s: %s\n", RUNTIME_PROGRAM, errstr);
        return PROJECTOR_EXIT_USAGE;
    }
    rd_kafka_conf_destroy(probe);
    rt->cfg = cfg;
    rt->ns = ledger_config_str(cfg, "redis_prefix");
    rt->max_events = (size_t)ledger_config_int(cfg, "batch_max_events");
    rt->max_wait_ms = ledger_config_duration_ms(cfg, "batch_max_wait");
    if (rt->view->open != NULL &&
        rt->view->open(cfg, &rt->view_state, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "%s: %s\n", RUNTIME_PROGRAM, errstr);
        return PROJECTOR_EXIT_USAGE;
    }
    return -1;
}

int projector_run(const projector_view *view, int argc, char **argv) {
    runtime rt;
    memset(&rt, 0, sizeof(rt));
    rt.view = view;
    rt.gen = PROJECTOR_FIRST_GENERATION;
    runtime_stop = 0;
    int rc = PROJECTOR_EXIT_INFRA;
    char errstr[512];
    bool view_open = false;

    ledger_config *cfg = new_config(view);
    if (cfg == NULL) {
        fprintf(stderr, "%s: out of memory\n", RUNTIME_PROGRAM);
        return PROJECTOR_EXIT_INFRA;
    }
    int early = load_config(&rt, cfg, argc, argv);
    if (early >= 0) {
        ledger_config_destroy(cfg);
        return early;
    }
    view_open = true;
    ledger_log_level level = LEDGER_LOG_LEVEL_INFO;
    (void)ledger_log_level_parse(ledger_config_str(cfg, "log_level"), &level);
    ledger_log_init(RUNTIME_PROGRAM, level);
    install_signals();

    rt.codec = ledger_codec_new(errstr, sizeof(errstr));
    if (rt.codec == NULL) {
        LOG_ERROR("cannot build the codec: %s", errstr);
        goto cleanup;
    }
    rt.batch = view_batch_new(rt.ns, view->name);
    rt.store = projector_store_new(&rt.url, rt.ns, view->name, &runtime_stop);
    if (rt.batch == NULL || rt.store == NULL || alloc_buffers(&rt) != 0) {
        LOG_ERROR("out of memory");
        goto cleanup;
    }
    if (create_topics(&rt) != 0)
        goto cleanup;
    if (projector_store_start(rt.store) != 0) {
        rc = PROJECTOR_EXIT_OK; /* stopped while waiting for Redis */
        goto cleanup;
    }
    if (start_consumer(&rt) != 0)
        goto cleanup;

    while (!runtime_stop && !rt.fatal) {
        collect_batch(&rt);
        if (rt.msgs_len > 0 && !rt.fatal)
            process_batch(&rt);
        drop_batch(&rt);
    }
    rc = rt.fatal ? PROJECTOR_EXIT_INFRA : PROJECTOR_EXIT_OK;
    LOG_INFO("stopping: %llu events applied in %llu batches", (unsigned long long)rt.applied_events,
             (unsigned long long)rt.applied_batches);

cleanup:
    drop_batch(&rt);
    if (rt.rk != NULL) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(rt.rk);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            LOG_WARN("closing the consumer: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(rt.rk);
    }
    free_buffers(&rt);
    projector_store_destroy(rt.store);
    view_batch_destroy(rt.batch);
    ledger_codec_destroy(rt.codec);
    if (view_open && view->close != NULL)
        view->close(rt.view_state);
    ledger_config_destroy(cfg);
    return rc;
}
