/*
 * cmd_dlq.c - `ledger dlq list | retry ACCOUNT | skip ACCOUNT --offset P:O`.
 *
 * What is held is read from Redis, not from the DLQ topic: each view's
 * quarantine hash and each quarantined account's held hash change in the
 * same atomic call as the view's checkpoint (projectors/dlq.h), so they are
 * exactly what the view skipped, once each, even when a crash left a second
 * copy of a record in the topic. The topic is read only for the bytes of the
 * records a retry re-applies, at the DLQ positions the held entries name,
 * with an assigned (never joined, never committed) consumer.
 *
 * retry and skip run the view's own fold in this process
 * (projector_dlq_resolve with the registered view and its settings, so a
 * fraud threshold given to the projector must be given here too), guarded
 * so that a projector holding a new record of the account meanwhile makes
 * the write fail; the command then reads again (keeping the copies it has
 * read) and tries again, until --timeout.
 */
#include "cmd_dlq.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "codec.h"
#include "dlq.h"
#include "ids.h"
#include "log.h"
#include "projector_keys.h"
#include "projector_query.h"
#include "redis.h"
#include "registry.h"

#define DLQ_CONNECT_TIMEOUT_MS 5000
/* Configuration tables: the shared ones, this command's, one per view. */
#define DLQ_TABLES_MAX 24

static int check_position(const char *value, char *why, size_t why_size) {
    int32_t p;
    int64_t o;
    return projector_query_parse_position(value, &p, &o, why, why_size);
}

static const ledger_config_setting dlq_settings[] = {
    {.name = "view",
     .flag = "view",
     .type = LEDGER_CONFIG_STRING,
     .min = 1,
     .max = 64,
     .metavar = "NAME",
     .help = "only this view (default: every registered view)"},
    {.name = "offset",
     .flag = "offset",
     .type = LEDGER_CONFIG_STRING,
     .metavar = "P:O",
     .check = check_position,
     .help = "skip: the held record to drop, by its position in the events topic "
             "(partition:offset, the \"source\" of `ledger dlq list`)"},
    {.name = "timeout",
     .env = "LEDGER_DLQ_TIMEOUT",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "retry, skip: how long reading the held records from the dlq topic, and trying "
             "again while a projector holds new ones, may take; then exit 3"},
    LEDGER_CONFIG_END,
};

static const char list_description[] =
    "Prints one line per record a view holds in the dead-letter queue, by view,\n"
    "account and source position:\n"
    "  {\"view\":\"balance\",\"account\":\"A\",\"source\":\"3:17\",\"error\":\"...\","
    "\"dlq\":\"0:4\"}\n"
    "source is the record's partition:offset in the events topic, dlq where its copy\n"
    "is in PREFIXevents.dlq. An account with a held record is quarantined: its\n"
    "queries add \"stale\":true. Records already retried or skipped are not listed.";

static const char retry_description[] =
    "Re-applies ACCOUNT's held records in their log order (decoded with this\n"
    "program's codec, e.g. after a new upgrader) through the view's own fold, on\n"
    "top of the account's stored state, in every view where ACCOUNT is\n"
    "quarantined (or --view). When all apply, ACCOUNT leaves quarantine; when one\n"
    "still fails, the ones before it are applied, it and the later ones stay held,\n"
    "and the error is printed. One line per view:\n"
    "  {\"view\":\"balance\",\"account\":\"A\",\"applied\":3,\"quarantined\":false}\n"
    "  {\"view\":\"balance\",\"account\":\"A\",\"applied\":0,\"quarantined\":true,"
    "\"held\":2,\"failed\":\"3:17\",\"error\":\"...\"}\n"
    "Exit 0 when ACCOUNT left quarantine everywhere, 1 when it stays quarantined\n"
    "somewhere or was not quarantined ({\"account\":\"A\",\"error\":\"not_quarantined\"}).\n"
    "ACCOUNT may be a pseudo account \"?P\" (records of partition P whose key is not an\n"
    "account id).";

static const char skip_description[] =
    "Drops ACCOUNT's held record at --offset P:O (its position in the events\n"
    "topic, as `ledger dlq list` shows it) without applying it, says so on stderr\n"
    "and on stdout ({\"view\":\"balance\",\"account\":\"A\",\"skipped\":\"3:17\"}), then\n"
    "retries the account's other held records like `ledger dlq retry` (one more\n"
    "line per view). Dropping a real event leaves a gap in the account's seqs: the\n"
    "later events then still fail (\"seq gap\") and the account stays quarantined,\n"
    "never applied out of order. Exit codes as retry; 1 with\n"
    "{\"account\":\"A\",\"offset\":\"P:O\",\"error\":\"not_held\"} when no view holds it.";

/* ---- shared steps ---- */

static json_t *position_text(int32_t partition, int64_t offset) {
    char buf[48];
    snprintf(buf, sizeof(buf), "%d:%lld", (int)partition, (long long)offset);
    return json_string(buf);
}

/* The views the command looks at: --view, or all. Returns how many, or -1
 * after printing why (exit 2). */
static int pick_views(const ledger_config *cfg, const projector_view **views, size_t max) {
    const char *name = ledger_config_str(cfg, "view");
    if (name == NULL) {
        size_t n = projector_registry_count() < max ? projector_registry_count() : max;
        for (size_t i = 0; i < n; i++)
            views[i] = projector_registry_at(i);
        return (int)n;
    }
    views[0] = projector_registry_find(name);
    if (views[0] == NULL) {
        fprintf(stderr, "ledger: invalid --view '%s': expected one of", name);
        for (size_t i = 0; i < projector_registry_count(); i++)
            fprintf(stderr, "%s %s", i > 0 ? "," : "", projector_registry_at(i)->name);
        fprintf(stderr, "\n");
        return -1;
    }
    return 1;
}

static redisContext *connect_redis(const ledger_config *cfg) {
    char errstr[1024];
    redisContext *c = ledger_redis_connect_url(ledger_config_str(cfg, "redis_url"),
                                               DLQ_CONNECT_TIMEOUT_MS, errstr, sizeof(errstr));
    if (c == NULL)
        fprintf(stderr, "ledger: %s\n", errstr);
    return c;
}

/* ---- list ---- */

static int run_list(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger: unexpected argument '%s'\n", ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }
    if (ledger_config_str(cfg, "offset") != NULL) {
        fprintf(stderr, "ledger: invalid --offset: only 'ledger dlq skip' takes it\n");
        return CLI_EXIT_USAGE;
    }
    const projector_view *views[DLQ_TABLES_MAX];
    int nviews = pick_views(cfg, views, DLQ_TABLES_MAX);
    if (nviews < 0)
        return CLI_EXIT_USAGE;
    redisContext *c = connect_redis(cfg);
    if (c == NULL)
        return CLI_EXIT_INFRA;
    const char *ns = ledger_config_str(cfg, "redis_prefix");
    char errstr[1024];
    int rc = CLI_EXIT_OK;
    for (int v = 0; v < nviews && rc == CLI_EXIT_OK; v++) {
        char **accounts = NULL;
        size_t count = 0;
        if (projector_dlq_quarantined(c, ns, views[v]->name, &accounts, &count, errstr,
                                      sizeof(errstr)) != 0) {
            fprintf(stderr, "ledger: redis: %s\n", errstr);
            rc = CLI_EXIT_INFRA;
            break;
        }
        for (size_t a = 0; a < count && rc == CLI_EXIT_OK; a++) {
            projector_dlq_held held;
            if (projector_dlq_held_read(c, ns, views[v]->name, accounts[a], &held, errstr,
                                        sizeof(errstr)) != 0) {
                fprintf(stderr, "ledger: redis: %s\n", errstr);
                rc = CLI_EXIT_INFRA;
                break;
            }
            for (size_t i = 0; i < held.count; i++) {
                const projector_dlq_entry *e = &held.entries[i];
                if (e->state != PROJECTOR_DLQ_HELD)
                    continue;
                json_t *line = json_object();
                json_object_set_new(line, "view", json_string(views[v]->name));
                json_object_set_new(line, "account", json_string(accounts[a]));
                json_object_set_new(line, "source", position_text(e->partition, e->offset));
                json_object_set_new(line, "error", json_string(e->error));
                json_object_set_new(line, "dlq", position_text(e->dlq_partition, e->dlq_offset));
                cli_print_json(line);
            }
            projector_dlq_held_release(&held);
        }
        projector_dlq_accounts_free(accounts, count);
    }
    redisFree(c);
    return rc;
}

/* ---- retry and skip ---- */

/* What a retry or skip needs besides the configuration. */
typedef struct dlq_job {
    const ledger_config *cfg;
    const char *ns;
    const char *account;
    bool skipping;
    int32_t skip_partition;
    int64_t skip_offset;
    redisContext *c;
    ledger_codec *codec;
    rd_kafka_t *rk; /* made when a record must be fetched */
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    rd_kafka_message_t **cache; /* copies read so far, for the view being resolved */
    size_t cache_len, cache_cap;
    int64_t deadline; /* of the whole command: --timeout */
} dlq_job;

/* The value of header `name` of m, as text in buf. */
static bool header_text(const rd_kafka_message_t *m, const char *name, char *buf, size_t size) {
    rd_kafka_headers_t *headers = NULL;
    const void *value;
    size_t len;
    if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == NULL || len >= size)
        return false;
    memcpy(buf, value, len);
    buf[len] = '\0';
    return true;
}

/* Checks that m is the copy of entry e held by `view`. */
static bool is_copy_of(const rd_kafka_message_t *m, const projector_dlq_entry *e,
                       const char *view) {
    char v[80], p[24], o[32], want_p[24], want_o[32];
    snprintf(want_p, sizeof(want_p), "%d", (int)e->partition);
    snprintf(want_o, sizeof(want_o), "%lld", (long long)e->offset);
    return header_text(m, PROJECTOR_DLQ_HEADER_VIEW, v, sizeof(v)) && strcmp(v, view) == 0 &&
           header_text(m, PROJECTOR_DLQ_HEADER_PARTITION, p, sizeof(p)) && strcmp(p, want_p) == 0 &&
           header_text(m, PROJECTOR_DLQ_HEADER_OFFSET, o, sizeof(o)) && strcmp(o, want_o) == 0;
}

/* The copy at DLQ position partition:offset read earlier, or NULL. */
static const rd_kafka_message_t *cached(const dlq_job *job, int32_t partition, int64_t offset) {
    for (size_t i = 0; i < job->cache_len; i++) {
        if (job->cache[i]->partition == partition && job->cache[i]->offset == offset)
            return job->cache[i];
    }
    return NULL;
}

static void cache_clear(dlq_job *job) {
    for (size_t i = 0; i < job->cache_len; i++)
        rd_kafka_message_destroy(job->cache[i]);
    job->cache_len = 0;
}

/* Takes m over. Returns 0, or -1 when memory runs out (m is destroyed). */
static int cache_add(dlq_job *job, rd_kafka_message_t *m) {
    if (job->cache_len == job->cache_cap) {
        size_t cap = job->cache_cap > 0 ? job->cache_cap * 2 : 16;
        rd_kafka_message_t **grown = realloc(job->cache, cap * sizeof(*grown));
        if (grown == NULL) {
            rd_kafka_message_destroy(m);
            return -1;
        }
        job->cache = grown;
        job->cache_cap = cap;
    }
    job->cache[job->cache_len++] = m;
    return 0;
}

/* Is entry i one whose bytes the resolve needs? */
static bool needed(const projector_dlq_held *held, size_t i, size_t skip) {
    return held->entries[i].state == PROJECTOR_DLQ_HELD && i != skip;
}

/* Sets records[i] for every needed entry of `held` from the copies read
 * earlier, reading the others from the DLQ topic at the positions their
 * entries name (and keeping them for a later attempt). Returns 0, or -1
 * after printing why (exit 3). */
static int fetch_records(dlq_job *job, const char *view, const projector_dlq_held *held,
                         size_t skip, projector_dlq_record *records) {
    char errstr[1024];
    size_t missing = 0;
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < held->count; i++) {
        const projector_dlq_entry *e = &held->entries[i];
        if (!needed(held, i, skip) || cached(job, e->dlq_partition, e->dlq_offset) != NULL)
            continue;
        missing++;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(assignment, job->topic, e->dlq_partition);
        if (tp == NULL)
            rd_kafka_topic_partition_list_add(assignment, job->topic, e->dlq_partition)->offset =
                e->dlq_offset;
        else if (e->dlq_offset < tp->offset)
            tp->offset = e->dlq_offset;
    }
    int rc = -1;
    if (missing > 0 && job->rk == NULL) {
        job->rk =
            cli_kafka_consumer_new(job->cfg, true /* partition eof */, errstr, sizeof(errstr));
        if (job->rk == NULL) {
            fprintf(stderr, "ledger: %s\n", errstr);
            goto cleanup;
        }
    }
    if (missing > 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(job->rk, assignment);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "ledger: cannot read '%s': %s\n", job->topic, rd_kafka_err2str(err));
            goto cleanup;
        }
    }
    while (missing > 0) {
        int64_t left = job->deadline - ledger_mono_ms();
        if (left <= 0) {
            char shown[32];
            cli_kafka_format_duration(ledger_config_duration_ms(job->cfg, "timeout"), shown,
                                      sizeof(shown));
            fprintf(stderr,
                    "ledger: timeout: %zu held record(s) of '%s' not read from '%s' within %s "
                    "(is kafka at '%s' reachable?)\n",
                    missing, job->account, job->topic, shown,
                    ledger_config_str(job->cfg, "brokers"));
            goto cleanup;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(job->rk, left > 100 ? 100 : (int)left);
        if (m == NULL)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            bool fatal = eof || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                         m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                         m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                         m->err == RD_KAFKA_RESP_ERR__FATAL;
            /* The end of a partition with a record still missing there: it is not in the topic. */
            bool wanted_here = false;
            for (size_t i = 0; eof && i < held->count; i++) {
                const projector_dlq_entry *e = &held->entries[i];
                wanted_here |= needed(held, i, skip) && e->dlq_partition == m->partition &&
                               cached(job, e->dlq_partition, e->dlq_offset) == NULL;
            }
            bool stop = fatal && (!eof || wanted_here);
            if (stop)
                fprintf(stderr, "ledger: '%s' partition %d: %s\n", job->topic, (int)m->partition,
                        eof ? "a held record is not in the dlq topic" : rd_kafka_message_errstr(m));
            else if (!fatal)
                LOG_DEBUG("dlq consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (stop)
                goto cleanup;
            continue;
        }
        const projector_dlq_entry *match = NULL;
        for (size_t i = 0; i < held->count && match == NULL; i++) {
            const projector_dlq_entry *e = &held->entries[i];
            if (needed(held, i, skip) && e->dlq_partition == m->partition &&
                e->dlq_offset == m->offset && cached(job, m->partition, m->offset) == NULL)
                match = e;
        }
        if (match == NULL) {
            rd_kafka_message_destroy(m); /* another record of the DLQ */
            continue;
        }
        if (!is_copy_of(m, match, view)) {
            fprintf(stderr,
                    "ledger: the record at '%s' %d:%lld is not the copy of %d:%lld held by view "
                    "'%s' (its headers differ)\n",
                    job->topic, (int)m->partition, (long long)m->offset, (int)match->partition,
                    (long long)match->offset, view);
            rd_kafka_message_destroy(m);
            goto cleanup;
        }
        if (cache_add(job, m) != 0) {
            fprintf(stderr, "ledger: out of memory\n");
            goto cleanup;
        }
        missing--;
    }
    for (size_t i = 0; i < held->count; i++) {
        const projector_dlq_entry *e = &held->entries[i];
        const rd_kafka_message_t *m =
            needed(held, i, skip) ? cached(job, e->dlq_partition, e->dlq_offset) : NULL;
        if (m != NULL)
            records[i] = (projector_dlq_record){
                .key = m->key, .key_len = m->key_len, .value = m->payload, .value_len = m->len};
    }
    rc = 0;
cleanup:
    if (job->rk != NULL && missing > 0)
        rd_kafka_assign(job->rk, NULL);
    rd_kafka_topic_partition_list_destroy(assignment);
    return rc;
}

/* Index of the HELD entry at the skip position, or SIZE_MAX. */
static size_t find_skip(const dlq_job *job, const projector_dlq_held *held) {
    for (size_t i = 0; job->skipping && i < held->count; i++) {
        const projector_dlq_entry *e = &held->entries[i];
        if (e->state == PROJECTOR_DLQ_HELD && e->partition == job->skip_partition &&
            e->offset == job->skip_offset)
            return i;
    }
    return SIZE_MAX;
}

typedef enum view_outcome {
    VIEW_NOT_QUARANTINED, /* nothing to do in this view */
    VIEW_NOT_HELD,        /* skip: quarantined, but the record is not held here */
    VIEW_RELEASED,
    VIEW_STILL_HELD,
    VIEW_FAILED, /* printed: exit 3 */
} view_outcome;

static void print_outcome(const char *view, const char *account, const projector_dlq_outcome *out) {
    json_t *line = json_object();
    json_object_set_new(line, "view", json_string(view));
    json_object_set_new(line, "account", json_string(account));
    json_object_set_new(line, "applied", json_integer((json_int_t)out->applied));
    json_object_set_new(line, "quarantined", json_boolean(!out->released));
    if (!out->released) {
        json_object_set_new(line, "held", json_integer((json_int_t)out->still_held));
        json_object_set_new(line, "failed",
                            position_text(out->failed_partition, out->failed_offset));
        json_object_set_new(line, "error", json_string(out->error));
        fprintf(stderr,
                "ledger: view '%s': '%s' stays quarantined: its held record %d:%lld still "
                "fails: %s\n",
                view, account, (int)out->failed_partition, (long long)out->failed_offset,
                out->error);
    }
    cli_print_json(line);
}

/* Retries (and skips) in one view, reading again when Redis changed. */
static view_outcome resolve_view(dlq_job *job, const projector_view *view) {
    char errstr[1024];
    void *state = NULL;
    if (view->open != NULL && view->open(job->cfg, &state, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return VIEW_FAILED;
    }
    view_outcome result = VIEW_FAILED;
    bool changing = false;
    for (;;) {
        if (changing && ledger_mono_ms() >= job->deadline) {
            char shown[32];
            cli_kafka_format_duration(ledger_config_duration_ms(job->cfg, "timeout"), shown,
                                      sizeof(shown));
            fprintf(stderr,
                    "ledger: timeout: view '%s': the held records of '%s' kept changing for %s "
                    "(a projector holds new ones faster than they can be retried)\n",
                    view->name, job->account, shown);
            break;
        }
        projector_dlq_held held;
        if (projector_dlq_held_read(job->c, job->ns, view->name, job->account, &held, errstr,
                                    sizeof(errstr)) != 0) {
            fprintf(stderr, "ledger: redis: %s\n", errstr);
            break;
        }
        if (held.quarantine == NULL) {
            projector_dlq_held_release(&held);
            result = VIEW_NOT_QUARANTINED;
            break;
        }
        size_t skip = find_skip(job, &held);
        if (job->skipping && skip == SIZE_MAX) {
            projector_dlq_held_release(&held);
            result = VIEW_NOT_HELD;
            break;
        }
        projector_dlq_record *records = calloc(held.count + 1, sizeof(*records));
        projector_dlq_resolve_result r = PROJECTOR_DLQ_FAILED;
        projector_dlq_outcome out;
        if (records == NULL) {
            fprintf(stderr, "ledger: out of memory\n");
        } else if (fetch_records(job, view->name, &held, skip, records) == 0) {
            r = projector_dlq_resolve(job->c, job->ns, view, state, job->codec, &held, records,
                                      skip, &out, errstr, sizeof(errstr));
            if (r == PROJECTOR_DLQ_FAILED)
                fprintf(stderr, "ledger: %s\n", errstr);
        }
        free(records);
        projector_dlq_held_release(&held);
        if (r == PROJECTOR_DLQ_CONFLICT) {
            changing = true; /* a projector held another record, or another retry ran: again */
            continue;
        }
        if (r == PROJECTOR_DLQ_RESOLVED) {
            if (out.skipped) {
                fprintf(stderr,
                        "ledger: view '%s': skipped the held record %d:%lld of '%s' (dropped, "
                        "never applied)\n",
                        view->name, (int)job->skip_partition, (long long)job->skip_offset,
                        job->account);
                json_t *line = json_object();
                json_object_set_new(line, "view", json_string(view->name));
                json_object_set_new(line, "account", json_string(job->account));
                json_object_set_new(line, "skipped",
                                    position_text(job->skip_partition, job->skip_offset));
                cli_print_json(line);
            }
            print_outcome(view->name, job->account, &out);
            result = out.released ? VIEW_RELEASED : VIEW_STILL_HELD;
        }
        break;
    }
    cache_clear(job);
    if (view->close != NULL)
        view->close(state);
    return result;
}

static int run_resolve(const ledger_config *cfg, bool skipping) {
    const char *verb = skipping ? "skip" : "retry";
    if (ledger_config_positional_count(cfg) != 1) {
        fprintf(stderr, "ledger: expected one ACCOUNT, got %d arguments\nusage: ledger dlq %s %s\n",
                ledger_config_positional_count(cfg), verb,
                skipping ? "ACCOUNT --offset P:O" : "ACCOUNT");
        return CLI_EXIT_USAGE;
    }
    dlq_job job = {.cfg = cfg,
                   .ns = ledger_config_str(cfg, "redis_prefix"),
                   .account = ledger_config_positional(cfg, 0),
                   .skipping = skipping};
    if (!ledger_account_valid(job.account, strlen(job.account)) &&
        !projector_dlq_pseudo_account(job.account)) {
        fprintf(stderr,
                "ledger: invalid account '%s': expected 1 to 64 characters of [A-Za-z0-9._-], "
                "or ?P for the records of partition P whose key is not an account id\n",
                job.account);
        return CLI_EXIT_USAGE;
    }
    const char *offset = ledger_config_str(cfg, "offset");
    char errstr[1024];
    if (skipping && offset == NULL) {
        fprintf(stderr, "ledger: missing --offset P:O: the held record to skip\n");
        return CLI_EXIT_USAGE;
    }
    if (!skipping && offset != NULL) {
        fprintf(stderr, "ledger: invalid --offset: only 'ledger dlq skip' takes it\n");
        return CLI_EXIT_USAGE;
    }
    if (skipping && projector_query_parse_position(offset, &job.skip_partition, &job.skip_offset,
                                                   errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: invalid --offset '%s': %s\n", offset, errstr);
        return CLI_EXIT_USAGE;
    }
    const projector_view *views[DLQ_TABLES_MAX];
    int nviews = pick_views(cfg, views, DLQ_TABLES_MAX);
    if (nviews < 0)
        return CLI_EXIT_USAGE;
    if (cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_EVENTS_DLQ, job.topic, sizeof(job.topic),
                             errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return CLI_EXIT_USAGE;
    }

    int rc = CLI_EXIT_INFRA;
    job.codec = ledger_codec_new(errstr, sizeof(errstr));
    if (job.codec == NULL) {
        fprintf(stderr, "ledger: cannot build the codec: %s\n", errstr);
        return CLI_EXIT_INFRA;
    }
    job.deadline = ledger_mono_ms() + ledger_config_duration_ms(cfg, "timeout");
    job.c = connect_redis(cfg);
    if (job.c == NULL)
        goto cleanup;
    size_t quarantined = 0, released = 0, not_held = 0;
    bool failed = false;
    for (int v = 0; v < nviews && !failed; v++) {
        switch (resolve_view(&job, views[v])) {
            case VIEW_NOT_QUARANTINED:
                break;
            case VIEW_NOT_HELD:
                quarantined++;
                not_held++;
                break;
            case VIEW_RELEASED:
                quarantined++;
                released++;
                break;
            case VIEW_STILL_HELD:
                quarantined++;
                break;
            case VIEW_FAILED:
                failed = true;
                break;
        }
    }
    if (failed)
        goto cleanup;
    json_t *line = NULL;
    if (quarantined == 0) {
        line = json_object();
        if (nviews == 1)
            json_object_set_new(line, "view", json_string(views[0]->name));
        json_object_set_new(line, "account", json_string(job.account));
        json_object_set_new(line, "error", json_string("not_quarantined"));
        rc = CLI_EXIT_REJECTED;
    } else if (skipping && not_held == quarantined) {
        line = json_object();
        json_object_set_new(line, "account", json_string(job.account));
        json_object_set_new(line, "offset", json_string(offset));
        json_object_set_new(line, "error", json_string("not_held"));
        rc = CLI_EXIT_REJECTED;
    } else {
        rc = released == quarantined ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
    }
    if (line != NULL)
        cli_print_json(line);

cleanup:
    cache_clear(&job);
    free(job.cache);
    if (job.rk != NULL) {
        rd_kafka_consumer_close(job.rk);
        rd_kafka_destroy(job.rk);
    }
    if (job.c != NULL)
        redisFree(job.c);
    ledger_codec_destroy(job.codec);
    return rc;
}

/* ---- the group ---- */

/* Loads the configuration of one subcommand (the shared settings, the
 * command's own, every view's) and runs it. */
static int run_sub(int argc, char **argv, const char *usage, const char *description,
                   cli_body run) {
    const ledger_config_setting *tables[DLQ_TABLES_MAX] = {
        ledger_config_kafka_settings, ledger_config_redis_settings, projector_keys_settings,
        ledger_config_common_settings, dlq_settings};
    size_t n = 5;
    for (size_t i = 0; i < projector_registry_count() && n + 1 < DLQ_TABLES_MAX; i++) {
        if (projector_registry_at(i)->settings != NULL)
            tables[n++] = projector_registry_at(i)->settings;
    }
    tables[n] = NULL;
    return cli_run("ledger dlq", tables, argc, argv, usage, description, run, NULL);
}

static int retry_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    return run_resolve(cfg, false);
}

static int skip_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    return run_resolve(cfg, true);
}

static int dlq_list(int argc, char **argv) {
    return run_sub(argc, argv, "ledger dlq list [--view V] [options]", list_description, run_list);
}

static int dlq_retry(int argc, char **argv) {
    return run_sub(argc, argv, "ledger dlq retry ACCOUNT [--view V] [options]", retry_description,
                   retry_run);
}

static int dlq_skip(int argc, char **argv) {
    return run_sub(argc, argv, "ledger dlq skip ACCOUNT --offset P:O [--view V] [options]",
                   skip_description, skip_run);
}

static const cli_command dlq_commands[] = {
    {"list", dlq_list, "the records the views hold in the dead-letter queue"},
    {"retry", dlq_retry, "re-apply an account's held records: retry ACCOUNT"},
    {"skip", dlq_skip, "drop one held record, then retry: skip ACCOUNT --offset P:O"},
};

int cmd_dlq(int argc, char **argv) {
    return cli_dispatch("ledger dlq", dlq_commands, sizeof(dlq_commands) / sizeof(dlq_commands[0]),
                        argc - 1, argv + 1);
}
