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
 * A record that cannot be applied never stops its partition (SPEC section
 * 7; dlq.h has the design): round trip 1 also reads the quarantine entry of
 * every account of the slice; an account's records are folded up to the
 * first one that does not decode or that apply_account refuses (a seq gap),
 * and that record and every later one of the account - all of them, for an
 * account already quarantined - are produced to the DLQ and acknowledged
 * before round trip 2 writes their holds, the quarantine entry and the
 * checkpoint past them, in the same atomic call as the other accounts'
 * writes (fold_groups, hold_group).
 *
 * Generations (rebuild.h has the design): a running projector applies to
 * the current generation and follows a switch - ledger_apply refuses the
 * old generation, or the periodic check finds a new one - by re-reading the
 * current generation's checkpoints and seeking there (resync_all). With
 * --rebuild the same loop builds the next generation instead: every
 * partition assigned from its start, ledger_apply in mode building, and
 * once every partition has reached its end, the switch (rebuild_progress).
 */
#include "runtime.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codec.h"
#include "dlq.h"
#include "fetch_waker.h"
#include "ids.h"
#include "kafka.h"
#include "log.h"
#include "projector_keys.h"
#include "projector_ops.h"
#include "projector_store.h"
#include "rebuild.h"
#include "redis.h"
#include "state_cache.h"
#include "view_batch.h"

#define RUNTIME_PROGRAM "ledger-projector"
#define RUNTIME_USAGE   "ledger-projector --view NAME [--rebuild] [options]"

/* How often a running projector checks the current generation when it has
 * nothing else to do (a rebuild switched: see periodic()), and how often a
 * rebuild that has reached the end tries the switch. */
#define RUNTIME_GENERATION_CHECK_MS 1000
#define RUNTIME_REBUILD_CHECK_MS    200
/* How often the applied positions are committed to Kafka (a hint only). */
#define RUNTIME_COMMIT_MS 500
/* How often the fetch waker looks at the consumer's queue. */
#define RUNTIME_WAKER_PERIOD_MS 10
/* How long looking up a partition's first offset may take (kafka_offset_of). */
#define RUNTIME_FIRST_OFFSET_WAIT_MS 2000

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
     .def = "5000",
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
    {.name = "batch_linger",
     .env = "LEDGER_BATCH_LINGER",
     .flag = "batch-linger",
     .type = LEDGER_CONFIG_DURATION,
     .def = "0",
     .min = 0,
     .max = 60000,
     .help = "a batch is applied as soon as no event came for this long (caught up: low "
             "latency), or at --batch-max-wait, whichever is first"},
    {.name = "state_cache",
     .env = "LEDGER_STATE_CACHE",
     .flag = "state-cache",
     .type = LEDGER_CONFIG_INT,
     .def = "131072",
     .min = 0,
     .max = 16777216,
     .help = "slots of the table of account states kept between batches, for views that "
             "allow it (it holds 7/8 as many accounts; balance: 120 bytes a slot, statements: "
             "128, fraud: 152; 0: read every account from Redis)"},
    LEDGER_CONFIG_END,
};

/* One partition as this process sees it. */
typedef struct runtime_part {
    bool owned;
    int64_t next; /* next offset to apply, as Redis said; PROJECTOR_NO_CHECKPOINT */
    /* --rebuild: how far the consumer is against the partition's end */
    int64_t delivered; /* offset of the last record collected since the last seek, -1 */
    bool end_pending;  /* the end was reached in the batch being collected */
    bool caught_up;    /* the end was reached once with every record before it applied */
    uint32_t seeks;    /* seeks and assignments so far: a record collected before the
                        * latest one (msg_seeks) is from the old position, and dropped */
} runtime_part;

/* The slice whose transaction Redis is running (projector_store_apply_send)
 * while this process prepares the next one, and what finishing it needs:
 * the slice's own buffers are reused meanwhile. */
typedef struct runtime_pending {
    bool active;
    int32_t partition;
    int64_t next;        /* its new checkpoint */
    int64_t appended_ms; /* its last record's timestamp */
    size_t applied, held, quarantined;
    double started; /* projector_ops_clock() when sent */
} runtime_pending;

/* One account of a partition's slice. */
typedef struct runtime_group {
    const char *key; /* the record key: the message's, valid for the batch */
    size_t key_len;
    size_t count;  /* its records in the slice */
    size_t start;  /* its first place in events[] (record k at start + k) */
    size_t filled; /* records laid out so far */
    size_t good;   /* leading records decoded: the first bad one and the rest wait in the DLQ */
    size_t input;  /* its place in inputs[] (SIZE_MAX: nothing to fold) */
    size_t cut;    /* records applied; [cut, count) go to the DLQ */
    size_t qslot;  /* its field in the quarantine HMGET (SIZE_MAX: not read) */
    bool pseudo;   /* keys that are not account ids: the pseudo account "?<partition>" */
} runtime_group;

typedef struct runtime {
    const projector_view *view;
    void *view_state;
    const ledger_config *cfg;
    const char *ns;
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec;
    rd_kafka_t *rk;
    ledger_fetch_waker *waker; /* keeps rk fetching while catching up */
    ledger_redis_url url;
    projector_store *store;
    view_batch *batch;      /* the slice being built: batches[turn] */
    view_batch *batches[2]; /* one is built while Redis runs the other */
    int turn;
    runtime_pending pending;
    int64_t gen;
    projector_store_mode mode;  /* CURRENT; BUILDING with --rebuild (gen = the one built) */
    projector_rebuild *rebuild; /* --rebuild only */
    bool switched;              /* --rebuild: the built generation is current now */
    int64_t next_tick_ms;       /* the next periodic check (generation, lease, switch) */
    int64_t next_commit_ms;     /* the next advisory commit of offsets to Kafka */
    bool ready;
    bool fatal; /* a bug or out of memory: stop */

    runtime_part *parts;
    size_t parts_cap;
    size_t *part_count; /* per partition: messages in the batch (counting sort) */

    size_t max_events;
    int64_t max_wait_ms;
    int64_t linger_ms;
    rd_kafka_message_t **msgs; /* the collected batch */
    uint32_t *msg_seeks;       /* its partition's seeks when each was collected */
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
    size_t *slot_slice;       /* per place in events[]: the record's index in slice[] */
    const char **qargv;       /* the quarantine HMGET of a slice */
    size_t quarantine_fields; /* its fields (0: not sent) */
    size_t *qlens;
    char pseudo_key[16];      /* "?<partition>" of the slice */
    size_t slice_applied;     /* events applied by the slice being written */
    size_t slice_held;        /* records of the slice held in the DLQ (ops metrics) */
    size_t slice_quarantined; /* accounts the slice quarantines (ops metrics) */
    projector_ops *ops;       /* metrics, /healthz, progress (projector_ops.h) */
    projector_dlq *dlq;       /* where records that cannot be applied go */
    redisReply **replies;
    size_t replies_cap;
    rd_kafka_topic_partition_list_t *commits;
    /* view->state_size > 0 and --state-cache > 0: the states stored by this
     * process's last batches (state_cache.h), and, per group of the slice,
     * the state the view left (its state_out), kept as the slice's write is
     * sent (keep_states). */
    state_cache *cache;
    uint64_t cache_epoch; /* bumped whenever the cache is emptied */
    unsigned char *keeps;
    size_t keep_stride; /* a state, rounded up to 8 bytes */

    uint64_t applied_events;
    uint64_t applied_batches;
    uint64_t folded_ahead; /* slices folded while the previous write ran */
} runtime;

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
            (runtime_part){.owned = false, .next = PROJECTOR_NO_CHECKPOINT, .delivered = -1};
    rt->parts_cap = cap;
    return 0;
}

static void finish_pending(runtime *rt);

/* Every kept state goes: Redis, the partitions or the generation are not
 * what this process last saw. */
static void forget_states(runtime *rt) {
    if (rt->cache != NULL)
        state_cache_clear(rt->cache);
    rt->cache_epoch++;
}

/* Where the consumer of `partition` starts for a checkpoint: the checkpoint
 * itself, or, with none, the partition's first offset (kafka.h). */
static int64_t kafka_offset_of(runtime *rt, int32_t partition, int64_t checkpoint) {
    if (checkpoint != PROJECTOR_NO_CHECKPOINT)
        return checkpoint;
    return ledger_kafka_first_offset(rt->rk, rt->topic, partition, RUNTIME_FIRST_OFFSET_WAIT_MS);
}

/* Moves the consumer of `partition` to its checkpoint. The -1 timeout waits
 * until the fetcher has really moved (librdkafka 2.0.2 mis-scales a
 * positive timeout), so nothing fetched from the old position is delivered
 * afterwards. */
static void seek_partition(runtime *rt, int32_t partition) {
    forget_states(rt);
    rt->parts[partition].seeks++;
    rt->parts[partition].delivered = -1;
    rt->parts[partition].end_pending = false;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, rt->topic, partition)->offset =
        kafka_offset_of(rt, partition, rt->parts[partition].next);
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
 * seeks each there: after Redis said this process's picture is stale, or
 * the current generation changed (a rebuild switched: its checkpoints are
 * where this process carries on, so nothing is applied twice or skipped).
 * A rebuild keeps the generation it builds. */
static void resync_all(runtime *rt) {
    finish_pending(rt);
    forget_states(rt);
    int64_t gen = rt->gen;
    if (rt->mode == PROJECTOR_STORE_CURRENT && projector_store_generation(rt->store, &gen) != 0)
        return;
    if (gen != rt->gen)
        LOG_INFO("generation of view '%s' is now %lld (was %lld)", rt->view->name, (long long)gen,
                 (long long)rt->gen);
    rt->gen = gen;
    projector_ops_generation(rt->ops, gen);
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
    finish_pending(rt);
    forget_states(rt);
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
            part->next = cps[i];
            part->seeks++;
            list->elems[i].offset = kafka_offset_of(rt, ids[i], cps[i]);
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
        projector_ops_rebalance(rt->ops, "assign");
        projector_ops_generation(rt->ops, rt->gen);
        if (!rt->ready) {
            rt->ready = true;
            projector_ops_set_ready(rt->ops);
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
    finish_pending(rt);
    forget_states(rt);
    projector_ops_rebalance(rt->ops, lost ? "lost" : "revoke");
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
        forget_states(rt);
        for (size_t p = 0; p < rt->parts_cap; p++)
            rt->parts[p].owned = false;
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- one partition's slice ---- */

/* The group of `key`, created when new. */
static size_t group_of(runtime *rt, const char *key, size_t len) {
    size_t slot = (size_t)ledger_id_hash(key, len) & rt->table_mask;
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
        size_t slot =
            (size_t)ledger_id_hash(rt->groups[g].key, rt->groups[g].key_len) & rt->table_mask;
        while (rt->table[slot] != (int32_t)g)
            slot = (slot + 1) & rt->table_mask;
        rt->table[slot] = -1;
    }
    rt->groups_len = 0;
}

/* Lays record i of the slice in its group's next place and decodes it
 * there, unless it is the pseudo account's or an earlier record of its
 * group did not decode (it then waits behind that one, in the DLQ). */
static void decode_record(runtime *rt, size_t i) {
    const rd_kafka_message_t *m = rt->slice[i];
    runtime_group *grp = &rt->groups[rt->slice_group[i]];
    size_t k = grp->filled++;
    rt->slot_slice[grp->start + k] = i;
    if (grp->pseudo || grp->good != k)
        return;
    if (projector_dlq_decode(rt->codec, m->key, m->key_len, m->payload, m->len,
                             &rt->events[grp->start + k], NULL, 0) == 0)
        grp->good++;
}

/* Forgets round trip 1's replies: they are the store's (projector_store_read),
 * reused by its next read, never freed here. */
static void free_replies(runtime *rt, size_t n) {
    for (size_t i = 0; i < n; i++)
        rt->replies[i] = NULL;
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

/* Waits ms milliseconds in short slices, returning early on a stop. */
static void pause_ms(int64_t ms) {
    int64_t until = ledger_mono_ms() + ms;
    while (!runtime_stop && ledger_mono_ms() < until) {
        struct timespec slice = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&slice, NULL);
    }
}

/* Appends the read of the groups' quarantine entries: one HMGET, the last
 * read of round trip 1, or none when no group needs it. Returns the reads
 * appended (0 or 1).
 *
 * An account whose state is kept (state_cache.h) is not read: it was not
 * quarantined when this process last applied it, and since then only this
 * process could have quarantined it (as the partition's owner; it then
 * forgets it). A quarantine written by anyone else comes with a moved
 * checkpoint, which drops this slice and every kept state. */
static size_t read_quarantine(runtime *rt) {
    char key[PROJECTOR_KEY_BUF];
    rt->qargv[0] = "HMGET";
    rt->qlens[0] = 5;
    rt->qargv[1] = key;
    rt->qlens[1] = view_batch_view_key(rt->batch, "quarantine", key, sizeof(key));
    size_t fields = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        runtime_group *grp = &rt->groups[g];
        grp->qslot = SIZE_MAX;
        if (grp->input != SIZE_MAX && rt->inputs[grp->input].cached != NULL)
            continue;
        grp->qslot = fields++;
        rt->qargv[2 + grp->qslot] = grp->key;
        rt->qlens[2 + grp->qslot] = grp->key_len;
    }
    rt->quarantine_fields = fields;
    if (fields == 0)
        return 0;
    view_batch_read(rt->batch, (int)(2 + fields), rt->qargv, rt->qlens);
    return 1;
}

/* Sends the records [cut, count) of a group to the DLQ and appends the
 * guard on its quarantine entry (as read: `entry`, NULL when absent) and,
 * when it was not quarantined, its new entry: the record at `cut`, refused
 * for `why` (empty: it did not decode). Returns 0, or -1 when the DLQ
 * producer refused a record. */
static int hold_group(runtime *rt, int32_t partition, const runtime_group *grp,
                      const redisReply *entry, const char *why) {
    char account[PROJECTOR_DLQ_ACCOUNT_BUF], errstr[512];
    bool real = projector_dlq_account_of(grp->key, grp->key_len, partition, account);
    projector_dlq_expect_quarantine(rt->batch, account, entry != NULL ? entry->str : NULL,
                                    entry != NULL ? entry->len : 0);
    for (size_t k = grp->cut; k < grp->count; k++) {
        const rd_kafka_message_t *m = rt->slice[rt->slot_slice[grp->start + k]];
        char error[PROJECTOR_DLQ_ERROR_BUF];
        if (grp->pseudo || k == grp->good) {
            ledger_event scratch;
            if (projector_dlq_decode(rt->codec, m->key, m->key_len, m->payload, m->len, &scratch,
                                     error, sizeof(error)) == 0)
                snprintf(error, sizeof(error), "decodes now but did not before"); /* not reached */
        } else if (k == grp->cut && entry == NULL) {
            snprintf(error, sizeof(error), "%s", why);
        } else {
            snprintf(error, sizeof(error), "%s", PROJECTOR_DLQ_HELD_ERROR);
        }
        if (k == grp->cut && entry == NULL) {
            LOG_ERROR("topic '%s' partition %d offset %lld: view '%s' cannot apply the record%s: "
                      "%s; it goes to '%s' and '%s' is quarantined%s",
                      rt->topic, (int)partition, (long long)m->offset, rt->view->name,
                      real ? " of its account" : "", error, projector_dlq_topic(rt->dlq), account,
                      real ? ""
                           : " (its key is not an account id: held under this pseudo account)");
            projector_dlq_quarantine(rt->batch, account, partition, m->offset, error);
        } else {
            LOG_WARN("topic '%s' partition %d offset %lld: held in '%s' for '%s' (quarantined in "
                     "view '%s'): %s",
                     rt->topic, (int)partition, (long long)m->offset, projector_dlq_topic(rt->dlq),
                     account, rt->view->name, error);
        }
        if (projector_dlq_send(rt->dlq, m, rt->topic, account, error, errstr, sizeof(errstr)) !=
            0) {
            LOG_WARN("%s", errstr);
            return -1;
        }
    }
    return 0;
}

/* With round trip 1's replies in (the quarantine entries last): folds each
 * account's decoded records up to the first the view refuses (none for a
 * quarantined account), holds the rest of each in the DLQ and waits for the
 * broker to have them, then appends their held entries. Returns 0, or -1
 * when the slice must be dropped (the partition is then re-sought to its
 * checkpoint after a pause, and the slice comes round again). */
static int fold_groups(runtime *rt, int32_t partition, size_t reads) {
    const redisReply *q = rt->quarantine_fields > 0 ? rt->replies[reads - 1] : NULL;
    char errstr[512];
    if (rt->quarantine_fields > 0 &&
        (q == NULL || q->type != REDIS_REPLY_ARRAY || q->elements != rt->quarantine_fields)) {
        LOG_WARN("redis: unexpected reply reading the quarantine of view '%s': %s", rt->view->name,
                 q != NULL && q->type == REDIS_REPLY_ERROR ? q->str : "not an array of entries");
        goto retry;
    }
    bool holding = false;
    size_t r = 0;
    rt->slice_applied = 0;
    rt->slice_held = 0;
    rt->slice_quarantined = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        runtime_group *grp = &rt->groups[g];
        const redisReply *entry =
            grp->qslot != SIZE_MAX && q->element[grp->qslot]->type == REDIS_REPLY_STRING
                ? q->element[grp->qslot]
                : NULL;
        char why[PROJECTOR_DLQ_ERROR_BUF] = "";
        grp->cut = 0;
        if (grp->input != SIZE_MAX) {
            view_account_input *in = &rt->inputs[grp->input];
            in->replies = (const redisReply *const *)(rt->replies + r);
            r += in->reply_count;
            if (entry == NULL)
                projector_dlq_apply_prefix(rt->view, rt->view_state, rt->batch, in, &grp->cut, why,
                                           sizeof(why));
        }
        rt->slice_applied += grp->cut;
        if (grp->cut == grp->count)
            continue;
        rt->slice_held += grp->count - grp->cut;
        rt->slice_quarantined += entry == NULL ? 1 : 0;
        if (!holding)
            projector_dlq_begin(rt->dlq);
        holding = true;
        if (hold_group(rt, partition, grp, entry, why) != 0)
            goto retry;
    }
    if (!holding)
        return 0;
    if (projector_dlq_flush(rt->dlq, errstr, sizeof(errstr)) != 0) {
        LOG_WARN("%s", errstr);
        goto retry;
    }
    projector_dlq_mark_group(rt->dlq, rt->batch);
    return 0;

retry:
    if (runtime_stop)
        return -1;
    LOG_WARN("partition %d: the records held in the dlq are not safe yet: the batch is dropped "
             "and read again from offset %lld in a second",
             (int)partition, (long long)rt->parts[partition].next);
    pause_ms(1000);
    seek_partition(rt, partition);
    return -1;
}

/* Notes `next` as the partition's position to commit to Kafka (advisory),
 * replacing what an earlier batch noted. */
static void commit_later(runtime *rt, int32_t partition, int64_t next) {
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(rt->commits, rt->topic, partition);
    if (tp == NULL)
        tp = rd_kafka_topic_partition_list_add(rt->commits, rt->topic, partition);
    tp->offset = next;
}

/* Where the view leaves group g's state (its state_out). */
static unsigned char *keep_state_of(const runtime *rt, size_t g) {
    return rt->keeps + g * rt->keep_stride;
}

/* Keeps the state the view left for each account the slice fully applies,
 * and forgets those held in the DLQ from some record on, or quarantined
 * (`ledger dlq` may write them next). Done as the slice's write is sent,
 * before its outcome is known, so that the next slice can be folded while
 * Redis runs this one: every outcome but APPLIED empties the whole cache
 * (settle), and a slice folded from states kept before that is folded again
 * (apply_slice compares cache_epoch). */
static void keep_states(runtime *rt) {
    if (rt->cache == NULL)
        return;
    for (size_t g = 0; g < rt->groups_len; g++) {
        const runtime_group *grp = &rt->groups[g];
        if (grp->pseudo || grp->key_len == 0 || grp->key_len > LEDGER_ACCOUNT_MAX)
            continue;
        if (grp->input != SIZE_MAX && grp->cut == grp->count)
            state_cache_put(rt->cache, rt->gen, grp->key, grp->key_len, keep_state_of(rt, g));
        else
            state_cache_forget(rt->cache, grp->key, grp->key_len);
    }
}

/* What the outcome of the pending slice's write means: the partition's
 * position moves on, or it is re-sought (the slice is read again from
 * Kafka; Redis's checkpoint says where from). */
static void settle(runtime *rt, projector_store_result result) {
    runtime_pending *pd = &rt->pending;
    int32_t partition = pd->partition;
    runtime_part *part = &rt->parts[partition];
    switch (result) {
        case PROJECTOR_STORE_APPLIED:
            projector_ops_applied(rt->ops, partition, pd->applied, pd->held, pd->quarantined,
                                  projector_ops_clock() - pd->started, pd->appended_ms);
            part->next = pd->next;
            commit_later(rt, partition, pd->next);
            rt->applied_batches++;
            rt->applied_events += pd->applied;
            return;
        case PROJECTOR_STORE_STALE: {
            forget_states(rt);
            int64_t cp;
            if (projector_store_checkpoints(rt->store, rt->gen, &partition, 1, &cp) != 0)
                return;
            if (cp == part->next) {
                /* Same checkpoint: a guard failed, i.e. `ledger dlq`
                 * changed a quarantine under the batch. */
                LOG_INFO("partition %d: a quarantine changed while the batch was built: "
                         "building it again",
                         (int)partition);
            } else {
                projector_ops_conflict(rt->ops);
                LOG_INFO("checkpoint of partition %d moved to %lld (this process expected "
                         "%lld): seeking there",
                         (int)partition, (long long)cp, (long long)part->next);
                part->next = cp;
            }
            seek_partition(rt, partition);
            return;
        }
        case PROJECTOR_STORE_WRONG_GEN:
            forget_states(rt);
            if (rt->mode == PROJECTOR_STORE_BUILDING) {
                LOG_ERROR("generation %lld of view '%s' is no longer the one being built "
                          "(another rebuild took over, or it was switched): stopping",
                          (long long)rt->gen, rt->view->name);
                rt->fatal = true;
                return;
            }
            LOG_INFO("generation %lld of view '%s' is no longer current: re-reading",
                     (long long)rt->gen, rt->view->name);
            resync_all(rt);
            return;
        case PROJECTOR_STORE_STOPPED:
        case PROJECTOR_STORE_PENDING: /* not a result */
            forget_states(rt);
            return;
        case PROJECTOR_STORE_FAILED:
        case PROJECTOR_STORE_UNKNOWN:
            /* (counted by the store's failure callback) Nothing half-written:
             * again from the checkpoint, which tells what happened. */
            forget_states(rt);
            if (!runtime_stop)
                seek_partition(rt, partition);
            return;
    }
}

/* Waits for the pending slice's outcome and settles it. Called before
 * anything that reads the connection or relies on a partition's position. */
static void finish_pending(runtime *rt) {
    if (!rt->pending.active)
        return;
    rt->pending.active = false;
    settle(rt, projector_store_apply_wait(rt->store));
}

/* Sets up the view's input of each group that has decoded records. Returns
 * how many. */
static size_t set_inputs(runtime *rt) {
    size_t inputs = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        runtime_group *grp = &rt->groups[g];
        grp->input = SIZE_MAX;
        if (grp->good == 0)
            continue;
        grp->input = inputs;
        rt->inputs[inputs] = (view_account_input){
            .account = rt->events[grp->start].account,
            .events = &rt->events[grp->start],
            .event_count = grp->good,
            .state_out = rt->cache != NULL ? keep_state_of(rt, g) : NULL,
        };
        inputs++;
    }
    return inputs;
}

/* The view's reads of every input (round trip 1's, after the checkpoint's),
 * from the states kept for them, and the quarantine read. Returns how many
 * replies are to come, or SIZE_MAX when the view broke its contract or
 * memory ran out (rt->fatal). */
static size_t build_reads(runtime *rt, size_t inputs) {
    view_batch_reset(rt->batch, rt->gen);
    size_t reads = 0;
    for (size_t i = 0; i < inputs; i++) {
        view_account_input *in = &rt->inputs[i];
        in->replies = NULL;
        in->reply_count = 0;
        in->cached = NULL;
        if (rt->cache != NULL)
            in->cached = state_cache_get(rt->cache, rt->gen, in->account, strlen(in->account));
        size_t before = view_batch_read_count(rt->batch);
        size_t n = rt->view->read_account(rt->view_state, rt->batch, in);
        if (view_batch_read_count(rt->batch) - before != n) {
            LOG_ERROR("view '%s' says it appended %zu reads for '%s' but appended %zu",
                      rt->view->name, n, in->account, view_batch_read_count(rt->batch) - before);
            rt->fatal = true;
            return SIZE_MAX;
        }
        in->reply_count = n;
        reads += n;
    }
    reads += read_quarantine(rt);
    if (view_batch_failed(rt->batch) || ensure_replies(rt, reads) != 0) {
        LOG_ERROR("out of memory building a batch");
        rt->fatal = true;
        return SIZE_MAX;
    }
    return reads;
}

/* While the previous slice's write is still running in Redis: when every
 * account of this slice has a kept state, decoded records only, and the
 * view needs no read, folds the slice now (round trip 1 then only checks
 * the checkpoint). Returns whether it did; if not, the slice is built again
 * after the previous outcome, as without kept states. */
static bool fold_ahead(runtime *rt, size_t inputs) {
    if (rt->cache == NULL || !rt->pending.active)
        return false;
    for (size_t g = 0; g < rt->groups_len; g++) {
        const runtime_group *grp = &rt->groups[g];
        if (grp->pseudo || grp->good != grp->count)
            return false;
    }
    /* Cheaper than building the reads to find out: catching up, most
     * slices that cannot fold ahead have accounts not kept yet. */
    for (size_t i = 0; i < inputs; i++) {
        const char *account = rt->inputs[i].account;
        if (state_cache_get(rt->cache, rt->gen, account, strlen(account)) == NULL)
            return false;
    }
    if (build_reads(rt, inputs) != 0)
        return false;
    rt->slice_applied = 0;
    rt->slice_held = 0;
    rt->slice_quarantined = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        runtime_group *grp = &rt->groups[g];
        char why[PROJECTOR_DLQ_ERROR_BUF];
        grp->cut = 0;
        projector_dlq_apply_prefix(rt->view, rt->view_state, rt->batch, &rt->inputs[grp->input],
                                   &grp->cut, why, sizeof(why));
        if (grp->cut != grp->count)
            return false; /* it holds records: that waits for round trip 1 */
        rt->slice_applied += grp->cut;
    }
    return !view_batch_failed(rt->batch);
}

/* Applies the decoded groups of one partition: the view's reads (round trip
 * 1, with the checkpoint), the view's folds, then the writes and the new
 * checkpoint `next` (round trip 2), sent and left pending while the next
 * slice is prepared (finish_pending settles it). `stamp` is the
 * partition's seek count when its records were collected. */
static void apply_slice(runtime *rt, int32_t partition, int64_t next, int64_t appended_ms,
                        uint32_t stamp) {
    runtime_part *part = &rt->parts[partition];
    size_t inputs = set_inputs(rt);
    bool folded = fold_ahead(rt, inputs);
    if (rt->fatal)
        return;
    uint64_t epoch = rt->cache_epoch;
    int64_t gen = rt->gen;

    /* The previous slice's outcome first: its partition may be this one,
     * and its result may re-seek a partition. */
    finish_pending(rt);
    if (!part->owned || rt->fatal || stamp != part->seeks)
        return; /* re-sought meanwhile: these records are from the old position */
    if (folded && (epoch != rt->cache_epoch || gen != rt->gen))
        folded = false; /* folded from states that are gone */

    size_t reads = 0;
    if (!folded && (reads = build_reads(rt, inputs)) == SIZE_MAX)
        return;
    int64_t checkpoint;
    if (projector_store_read(rt->store, rt->batch, partition, &checkpoint, rt->replies) != 0)
        return; /* stopping, or a malformed checkpoint (logged): drop */
    if (checkpoint != part->next) {
        projector_ops_conflict(rt->ops);
        LOG_INFO("checkpoint of partition %d is %lld in redis, this process expected %lld: "
                 "the partition moved or was rewound, seeking there",
                 (int)partition, (long long)checkpoint, (long long)part->next);
        free_replies(rt, reads);
        part->next = checkpoint;
        seek_partition(rt, partition);
        return;
    }

    if (!folded) {
        int rc = fold_groups(rt, partition, reads);
        free_replies(rt, reads);
        if (rc != 0)
            return;
        if (view_batch_failed(rt->batch)) {
            LOG_ERROR("out of memory building a batch of partition %d", (int)partition);
            rt->fatal = true;
            return;
        }
    }

    rt->folded_ahead += folded;
    keep_states(rt);
    rt->pending = (runtime_pending){
        .active = true,
        .partition = partition,
        .next = next,
        .appended_ms = appended_ms,
        .applied = rt->slice_applied,
        .held = rt->slice_held,
        .quarantined = rt->slice_quarantined,
        .started = projector_ops_clock(),
    };
    projector_store_result result =
        projector_store_apply_send(rt->store, rt->batch, rt->mode, partition, part->next, next);
    if (result == PROJECTOR_STORE_PENDING) {
        /* Redis runs it while the next slice is prepared in the other batch. */
        rt->turn = 1 - rt->turn;
        rt->batch = rt->batches[rt->turn];
        return;
    }
    rt->pending.active = false;
    settle(rt, result);
}

/* Filters, groups, decodes and applies the `n` messages of one partition
 * (message indices in log order in idx[0..n-1]). */
static void process_partition(runtime *rt, int32_t partition, const size_t *idx, size_t n) {
    runtime_part *part = &rt->parts[partition];
    if (!part->owned)
        return;

    /* Redeliveries (below the checkpoint, or not after the last taken) out. */
    size_t accepted = 0;
    int64_t last = -1;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = rt->msgs[idx[i]];
        if (rt->msg_seeks[idx[i]] != part->seeks)
            continue; /* collected before the partition was re-sought */
        if ((part->next != PROJECTOR_NO_CHECKPOINT && m->offset < part->next) || m->offset <= last)
            continue;
        last = m->offset;
        rt->slice[accepted++] = m;
    }
    if (accepted == 0)
        return;

    /* Group by record key (the account; a key that is not an account id
     * goes to the pseudo account "?<partition>"), then lay the groups out. */
    int pseudo_len = snprintf(rt->pseudo_key, sizeof(rt->pseudo_key), "?%d", (int)partition);
    for (size_t i = 0; i < accepted; i++) {
        rd_kafka_message_t *m = rt->slice[i];
        bool valid = m->key != NULL && ledger_account_valid(m->key, m->key_len);
        size_t g = valid ? group_of(rt, m->key, m->key_len)
                         : group_of(rt, rt->pseudo_key, (size_t)pseudo_len);
        rt->groups[g].pseudo = !valid;
        rt->groups[g].count++;
        rt->slice_group[i] = g;
    }
    size_t start = 0;
    for (size_t g = 0; g < rt->groups_len; g++) {
        rt->groups[g].start = start;
        start += rt->groups[g].count;
    }

    /* Decode in log order, each record into its group's place. */
    for (size_t i = 0; i < accepted; i++)
        decode_record(rt, i);
    apply_slice(rt, partition, rt->slice[accepted - 1]->offset + 1,
                rd_kafka_message_timestamp(rt->slice[accepted - 1], NULL), part->seeks);
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
    /* At most every RUNTIME_COMMIT_MS: caught up, batches are a few events
     * each, and a commit per batch would be most of the broker's work. */
    int64_t now = ledger_mono_ms();
    if (rt->commits->cnt > 0 && now >= rt->next_commit_ms) {
        rt->next_commit_ms = now + RUNTIME_COMMIT_MS;
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

/* Collects up to max_events messages, for at most max_wait after the first,
 * and no longer than events keep coming: once a batch has begun, a poll
 * that finds nothing within linger ends it. Catching up, the queue is never
 * empty and batches grow to max_events; caught up, an event is applied
 * about as soon as it arrives instead of waiting out max_wait. Returns when
 * the batch is ready or a stop was asked. */
static void collect_batch(runtime *rt) {
    int64_t deadline = -1, idle_until = -1;
    while (rt->msgs_len < rt->max_events && !runtime_stop && !rt->fatal) {
        int timeout = 100;
        if (deadline >= 0) {
            int64_t now = ledger_mono_ms();
            if (now >= deadline)
                break;
            int64_t until = idle_until < deadline ? idle_until : deadline;
            timeout = until <= now ? 0 : until - now < 100 ? (int)(until - now) : 100;
        }
        if (rt->pending.active)
            timeout = 0; /* the pending slice's outcome is next when nothing is queued */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rt->rk, timeout);
        if (m == NULL) {
            if (rt->pending.active) {
                finish_pending(rt);
                continue;
            }
            if (rt->msgs_len > 0) {
                if (ledger_mono_ms() >= idle_until)
                    break; /* nothing came for linger: apply what there is */
                continue;
            }
            if (ledger_mono_ms() >= rt->next_tick_ms)
                break; /* idle: time for the periodic checks */
            continue;
        }
        bool known = m->partition >= 0 && (size_t)m->partition < rt->parts_cap;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (known)
                    rt->parts[m->partition].end_pending = true; /* (--rebuild only) */
            } else {
                projector_ops_kafka_error(rt->ops);
                LOG_WARN("consumer: %s", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (known) {
            rt->parts[m->partition].delivered = m->offset;
            rt->parts[m->partition].end_pending = false;
        }
        rt->msg_seeks[rt->msgs_len] = known ? rt->parts[m->partition].seeks : 0;
        rt->msgs[rt->msgs_len++] = m;
        int64_t now = ledger_mono_ms();
        if (deadline < 0)
            deadline = now + rt->max_wait_ms;
        idle_until = now + rt->linger_ms;
    }
}

/* ---- periodic checks ---- */

/* --rebuild: notes the partitions that reached their end with every record
 * before it applied, keeps the lease, and once every partition has been
 * there, tries the switch (every RUNTIME_REBUILD_CHECK_MS). The switch
 * itself checks that the built generation is at least as far as the
 * current one on every partition, so trying it early is harmless: while
 * the running projectors are ahead, the rebuild goes on consuming. */
static void rebuild_progress(runtime *rt) {
    bool all = rt->parts_cap > 0;
    for (size_t p = 0; p < rt->parts_cap; p++) {
        runtime_part *part = &rt->parts[p];
        if (!part->owned)
            continue;
        if (part->end_pending) {
            part->end_pending = false;
            if (!part->caught_up && (part->delivered < 0 || part->next > part->delivered)) {
                part->caught_up = true;
                if (part->next < 0)
                    LOG_INFO("partition %d reached its end (nothing to apply)", (int)p);
                else
                    LOG_INFO("partition %d reached its end at offset %lld", (int)p,
                             (long long)part->next);
            }
        }
        all = all && part->caught_up;
    }
    if (projector_rebuild_keep(rt->rebuild) != 0) {
        rt->fatal = true;
        return;
    }
    int64_t now = ledger_mono_ms();
    if (now < rt->next_tick_ms)
        return;
    rt->next_tick_ms = now + RUNTIME_REBUILD_CHECK_MS;
    if (!all)
        return;
    switch (projector_rebuild_switch(rt->rebuild)) {
        case PROJECTOR_REBUILD_SWITCHED:
            LOG_INFO("switched view '%s' to generation %lld", rt->view->name, (long long)rt->gen);
            rt->switched = true;
            break;
        case PROJECTOR_REBUILD_NOT_YET:
            LOG_DEBUG("the current generation is ahead on some partition: not switching yet");
            break;
        case PROJECTOR_REBUILD_LOST:
            LOG_ERROR("cannot switch view '%s' to generation %lld: the current or building "
                      "generation was changed meanwhile",
                      rt->view->name, (long long)rt->gen);
            rt->fatal = true;
            break;
        case PROJECTOR_REBUILD_ERROR:
            break; /* logged; tried again at the next check */
    }
}

/* After each batch and when idle. A running projector re-reads the current
 * generation every RUNTIME_GENERATION_CHECK_MS, so that after a rebuild's
 * switch it moves to the new generation (and its checkpoints) even when no
 * event comes; a batch that comes first finds out by itself (ledger_apply
 * refuses the old generation, and resync_all follows). */
static void periodic(runtime *rt) {
    /* (The positions shown may be a batch behind while one is pending.) */
    for (size_t p = 0; p < rt->parts_cap; p++)
        projector_ops_partition(rt->ops, (int32_t)p, rt->parts[p].owned, rt->parts[p].next);
    projector_ops_tick(rt->ops, rt->rk, rt->topic);
    int64_t now = ledger_mono_ms();
    if (rt->mode == PROJECTOR_STORE_BUILDING) {
        /* Whether a partition reached its end is judged on its position:
         * the pending batch's outcome first, but only then, so that it
         * stays pending while the next batch is collected. */
        bool end = now >= rt->next_tick_ms;
        for (size_t p = 0; p < rt->parts_cap; p++)
            end = end || rt->parts[p].end_pending;
        if (end)
            finish_pending(rt);
        rebuild_progress(rt);
        return;
    }
    if (now < rt->next_tick_ms)
        return;
    finish_pending(rt);
    rt->next_tick_ms = now + RUNTIME_GENERATION_CHECK_MS;
    int64_t gen;
    if (projector_store_generation(rt->store, &gen) == 0 && gen != rt->gen)
        resync_all(rt);
}

/* ---- set-up ---- */

static int alloc_buffers(runtime *rt) {
    size_t n = rt->max_events;
    size_t table = 16;
    while (table < 2 * n)
        table *= 2;
    rt->msgs = calloc(n, sizeof(*rt->msgs));
    rt->msg_seeks = calloc(n, sizeof(*rt->msg_seeks));
    rt->order = calloc(n, sizeof(*rt->order));
    rt->slice = calloc(n, sizeof(*rt->slice));
    rt->slice_group = calloc(n, sizeof(*rt->slice_group));
    rt->events = calloc(n, sizeof(*rt->events));
    rt->groups = calloc(n, sizeof(*rt->groups));
    rt->inputs = calloc(n, sizeof(*rt->inputs));
    rt->slot_slice = calloc(n, sizeof(*rt->slot_slice));
    rt->qargv = calloc(n + 2, sizeof(*rt->qargv));
    rt->qlens = calloc(n + 2, sizeof(*rt->qlens));
    rt->table = malloc(table * sizeof(*rt->table));
    rt->commits = rd_kafka_topic_partition_list_new(8);
    if (rt->msgs == NULL || rt->order == NULL || rt->slice == NULL || rt->slice_group == NULL ||
        rt->events == NULL || rt->groups == NULL || rt->inputs == NULL || rt->table == NULL ||
        rt->commits == NULL || rt->slot_slice == NULL || rt->qargv == NULL || rt->qlens == NULL ||
        rt->msg_seeks == NULL || ensure_replies(rt, 1024) != 0)
        return -1;
    memset(rt->table, 0xff, table * sizeof(*rt->table)); /* all -1 */
    rt->table_mask = table - 1;
    size_t slots = (size_t)ledger_config_int(rt->cfg, "state_cache");
    if (rt->view->state_size > 0 && slots > 0) {
        rt->cache = state_cache_new(rt->view->state_size, slots);
        rt->keep_stride = (rt->view->state_size + 7) & ~(size_t)7;
        rt->keeps = calloc(n, rt->keep_stride);
        if (rt->cache == NULL || rt->keeps == NULL)
            return -1;
    }
    return 0;
}

static void free_buffers(runtime *rt) {
    free(rt->msgs);
    free(rt->msg_seeks);
    free(rt->order);
    free(rt->slice);
    free(rt->slice_group);
    free(rt->events);
    free(rt->groups);
    free(rt->inputs);
    free(rt->slot_slice);
    free(rt->qargv);
    free(rt->qlens);
    free(rt->table);
    if (rt->replies != NULL)
        free_replies(rt, rt->replies_cap);
    free(rt->replies);
    if (rt->commits != NULL)
        rd_kafka_topic_partition_list_destroy(rt->commits);
    free(rt->parts);
    free(rt->part_count);
    state_cache_destroy(rt->cache);
    free(rt->keeps);
}

/* --rebuild: every partition of the events topic, each from the built
 * generation's checkpoint (the beginning when it has none), assigned
 * directly. Returns 0, or -1 (logged). */
static int assign_all(runtime *rt, const char *group_id) {
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rt->rk, rt->topic, NULL);
    rd_kafka_resp_err_t err = topic != NULL
                                  ? rd_kafka_metadata(rt->rk, 0 /* this topic */, topic, &md, 30000)
                                  : rd_kafka_last_error();
    if (topic != NULL)
        rd_kafka_topic_destroy(topic);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot read the partitions of '%s': %s", rt->topic, rd_kafka_err2str(err));
        return -1;
    }
    int count = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                    ? md->topics[0].partition_cnt
                    : 0;
    rd_kafka_metadata_destroy(md);
    if (count <= 0) {
        LOG_ERROR("topic '%s' has no partitions", rt->topic);
        return -1;
    }
    int32_t *ids = calloc((size_t)count, sizeof(*ids));
    int64_t *cps = calloc((size_t)count, sizeof(*cps));
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(count);
    int rc = -1;
    if (ids == NULL || cps == NULL || list == NULL || ensure_parts(rt, count - 1) != 0) {
        LOG_ERROR("out of memory assigning partitions");
        goto cleanup;
    }
    for (int i = 0; i < count; i++)
        ids[i] = i;
    if (projector_store_checkpoints(rt->store, rt->gen, ids, (size_t)count, cps) != 0)
        goto cleanup; /* stopped, or a malformed checkpoint (logged) */
    for (int i = 0; i < count; i++) {
        runtime_part *part = &rt->parts[i];
        part->owned = true;
        part->next = cps[i];
        rd_kafka_topic_partition_list_add(list, rt->topic, i)->offset =
            kafka_offset_of(rt, i, cps[i]);
        log_assigned(i, cps[i]);
    }
    err = rd_kafka_assign(rt->rk, list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LOG_ERROR("cannot assign partitions: %s", rd_kafka_err2str(err));
        goto cleanup;
    }
    LOG_INFO("view '%s' rebuilding generation %lld from '%s' (%d partitions, group '%s')",
             rt->view->name, (long long)rt->gen, rt->topic, count, group_id);
    projector_ops_set_ready(rt->ops);
    rc = 0;
cleanup:
    free(ids);
    free(cps);
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

static int start_consumer(runtime *rt) {
    char errstr[512];
    char group[300];
    const char *group_id = ledger_config_str(rt->cfg, "group_id");
    if (group_id == NULL) {
        snprintf(group, sizeof(group), "ledger-projector-%s", rt->view->name);
        group_id = group;
    }
    char rebuild_group[320];
    if (rt->mode == PROJECTOR_STORE_BUILDING) {
        /* Never joined (the rebuild assigns), so the running projectors'
         * group is untouched; its advisory offsets show the progress. */
        snprintf(rebuild_group, sizeof(rebuild_group), "%s-rebuild-g%lld", group_id,
                 (long long)rt->gen);
        group_id = rebuild_group;
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
        /* librdkafka prefetches up to 100,000 messages or 64 MB by default,
         * most of a catching-up projector's memory: four default batches
         * ahead bound it whatever the log's length. (A full queue stalled
         * the fetch for up to a second before the fetch waker: 40,000 then
         * gave 77,000 balance events/s, 150,000 gave 146,000 and 108 MB.) */
        {"queued.min.messages", LEDGER_FETCH_QUEUE_MESSAGES},
        {"queued.max.messages.kbytes", LEDGER_FETCH_QUEUE_KBYTES},
    };
    bool ok =
        rd_kafka_conf_set(conf, "group.id", group_id, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < sizeof(fixed) / sizeof(fixed[0]); i++)
        ok = rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errstr, sizeof(errstr)) ==
             RD_KAFKA_CONF_OK;
    /* A rebuild needs to know when it has reached the end of a partition. */
    if (ok && rt->mode == PROJECTOR_STORE_BUILDING)
        ok = rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) ==
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
    /* A full queue stops librdkafka 2.0.2 fetching for up to a second
     * (edge/fetch_waker.h): without the waker, catching up ran at half the
     * rate the rest of the projector allows. */
    rt->waker = ledger_fetch_waker_new(rt->rk, RUNTIME_WAKER_PERIOD_MS, errstr, sizeof(errstr));
    if (rt->waker == NULL) {
        LOG_ERROR("%s", errstr);
        return -1;
    }
    if (rt->mode == PROJECTOR_STORE_BUILDING)
        return assign_all(rt, group_id);
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

static void count_redis_error(void *ops) {
    projector_ops_redis_error(ops);
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
        ledger_config_topic_settings,
        ledger_config_redis_settings,
        projector_keys_settings,
        runtime_settings,
        projector_rebuild_settings,
        ledger_config_ops_settings,
        projector_ops_settings,
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
    rt->linger_ms = ledger_config_duration_ms(cfg, "batch_linger");
    if (rt->view->open != NULL &&
        rt->view->open(cfg, &rt->view_state, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "%s: %s\n", RUNTIME_PROGRAM, errstr);
        return PROJECTOR_EXIT_USAGE;
    }
    return -1;
}

/* --rebuild: takes the lease and the generation to build (rebuild.h).
 * Returns -1 to go on, else the exit code (2 when a live rebuild of the
 * view holds the lease). */
static int start_rebuild(runtime *rt) {
    char errstr[512];
    rt->rebuild = projector_rebuild_new(
        &rt->url, rt->ns, rt->view->name, ledger_config_duration_ms(rt->cfg, "rebuild_lease"),
        ledger_config_duration_ms(rt->cfg, "rebuild_grace"), &runtime_stop);
    if (rt->rebuild == NULL) {
        LOG_ERROR("out of memory");
        return PROJECTOR_EXIT_INFRA;
    }
    int64_t current, building;
    switch (projector_rebuild_begin(rt->rebuild, &current, &building, errstr, sizeof(errstr))) {
        case PROJECTOR_REBUILD_STARTED:
            break;
        case PROJECTOR_REBUILD_BUSY:
            LOG_ERROR("%s", errstr);
            return PROJECTOR_EXIT_USAGE;
        case PROJECTOR_REBUILD_STOPPED:
            return PROJECTOR_EXIT_OK; /* stopped while waiting for Redis */
    }
    rt->mode = PROJECTOR_STORE_BUILDING;
    rt->gen = building;
    projector_ops_generation(rt->ops, building);
    LOG_INFO("rebuilding view '%s' into generation %lld from offset zero; queries read "
             "generation %lld until the switch",
             rt->view->name, (long long)building, (long long)current);
    return -1;
}

/* --rebuild, after the loop: once switched, the old generation goes (after
 * the grace period); a rebuild stopped before its switch gives up its
 * generation, so the next rebuild can start at once. */
static void finish_rebuild(runtime *rt) {
    if (rt->switched) {
        int64_t removed = projector_rebuild_remove_old(rt->rebuild);
        if (removed >= 0)
            LOG_INFO("removed %lld keys of the replaced generation of view '%s'",
                     (long long)removed, rt->view->name);
    } else {
        projector_rebuild_abandon(rt->rebuild);
        LOG_INFO("rebuild of view '%s' stopped before its switch: generation %lld is abandoned",
                 rt->view->name, (long long)rt->gen);
    }
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
    ledger_log_format log_format = LEDGER_LOG_FORMAT_TEXT;
    (void)ledger_log_format_parse(ledger_config_str(cfg, "log_format"), &log_format);
    ledger_log_set_format(log_format);
    install_signals();

    rt.codec = ledger_codec_new(errstr, sizeof(errstr));
    if (rt.codec == NULL) {
        LOG_ERROR("cannot build the codec: %s", errstr);
        goto cleanup;
    }
    rt.batches[0] = view_batch_new(rt.ns, view->name);
    rt.batches[1] = view_batch_new(rt.ns, view->name);
    rt.batch = rt.batches[0];
    rt.store = projector_store_new(&rt.url, rt.ns, view->name, &runtime_stop);
    if (rt.batches[0] == NULL || rt.batches[1] == NULL || rt.store == NULL ||
        alloc_buffers(&rt) != 0) {
        LOG_ERROR("out of memory");
        goto cleanup;
    }
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    int topics =
        ledger_kafka_ensure_ledger_topics(cfg, &runtime_stop, outcomes, errstr, sizeof(errstr));
    if (topics != 0) {
        if (topics == 1)
            rc = PROJECTOR_EXIT_OK; /* stopped while waiting for Kafka */
        else
            LOG_ERROR("%s", errstr);
        goto cleanup;
    }
    rt.dlq = projector_dlq_new(cfg, view->name, &runtime_stop, errstr, sizeof(errstr));
    if (rt.dlq == NULL) {
        LOG_ERROR("%s", errstr);
        goto cleanup;
    }
    /* Before anything waits on Redis or Kafka: /healthz answers "not
     * ready" meanwhile. */
    rt.ops = projector_ops_new(cfg, &rt.url, rt.ns, view->name, ledger_config_bool(cfg, "rebuild"),
                               errstr, sizeof(errstr));
    if (rt.ops == NULL) {
        LOG_ERROR("%s", errstr);
        goto cleanup;
    }
    projector_store_on_failure(rt.store, count_redis_error, rt.ops);
    if (projector_store_start(rt.store) != 0) {
        rc = PROJECTOR_EXIT_OK; /* stopped while waiting for Redis */
        goto cleanup;
    }
    if (ledger_config_bool(cfg, "rebuild")) {
        int done = start_rebuild(&rt);
        if (done >= 0) {
            rc = done;
            goto cleanup;
        }
    }
    if (start_consumer(&rt) != 0)
        goto cleanup;

    while (!runtime_stop && !rt.fatal && !rt.switched) {
        collect_batch(&rt);
        if (rt.msgs_len > 0 && !rt.fatal)
            process_batch(&rt);
        drop_batch(&rt);
        if (!rt.fatal)
            periodic(&rt);
    }
    finish_pending(&rt); /* its outcome, before anything is reported or closed */
    rc = rt.fatal ? PROJECTOR_EXIT_INFRA : PROJECTOR_EXIT_OK;
    projector_ops_finish(rt.ops, rt.switched);
    LOG_INFO("stopping: %llu events applied in %llu batches (%llu folded while the previous "
             "one was written)",
             (unsigned long long)rt.applied_events, (unsigned long long)rt.applied_batches,
             (unsigned long long)rt.folded_ahead);
    if (rt.rebuild != NULL)
        finish_rebuild(&rt);

cleanup:
    drop_batch(&rt);
    ledger_fetch_waker_destroy(rt.waker);
    if (rt.rk != NULL)
        (void)ledger_kafka_consumer_close(rt.rk, LEDGER_KAFKA_CLOSE_MS, on_rebalance, &rt);
    free_buffers(&rt);
    projector_ops_destroy(rt.ops);
    projector_dlq_destroy(rt.dlq);
    projector_rebuild_destroy(rt.rebuild);
    projector_store_destroy(rt.store);
    view_batch_destroy(rt.batches[0]);
    view_batch_destroy(rt.batches[1]);
    ledger_codec_destroy(rt.codec);
    if (view_open && view->close != NULL)
        view->close(rt.view_state);
    ledger_config_destroy(cfg);
    return rc;
}
