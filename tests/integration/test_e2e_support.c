/*
 * test_e2e_support.c - the end-to-end suites' shared helpers (see the
 * header): producer arguments for quick restarts, the CLI's JSON, whole
 * topics read back, chunked snapshots put together, background submits.
 *
 * Whole-topic reads use a fresh assign-only read_committed consumer with
 * enable.partition.eof, so "the end" is the last stable offset at the time
 * of the read: exactly what committed transactions wrote.
 */
#include "test_e2e_support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "kafka_test.h"

extern char **environ;

/* ---- set-up ---- */

void e2e_setup(e2e_env *e) {
    memset(e, 0, sizeof(*e));
    ph_setup(&e->ph);
    snprintf(e->env_brokers, sizeof(e->env_brokers), "LEDGER_BROKERS=%s", kt_brokers());
    snprintf(e->env_prefix, sizeof(e->env_prefix), "LEDGER_TOPIC_PREFIX=%s", e->ph.prefix);
    e->cli_env[0] = e->env_brokers;
    e->cli_env[1] = e->env_prefix;
    e->cli_env[2] = NULL;
}

void e2e_teardown(e2e_env *e) {
    ph_teardown(&e->ph);
}

void e2e_producer_args(const e2e_env *e, const char *instance, const char *const *extra,
                       const char **argv, size_t max, char *store, size_t store_size) {
    cr_assert_geq(max, 8);
    int n = snprintf(store, store_size, "group.instance.id=%s%s", e->ph.prefix, instance);
    cr_assert(n > 0 && (size_t)n < store_size);
    size_t argc = 0;
    argv[argc++] = "-X";
    argv[argc++] = store;
    argv[argc++] = "-X";
    argv[argc++] = "session.timeout.ms=6000";
    argv[argc++] = "-X";
    argv[argc++] = "transaction.timeout.ms=3000";
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        cr_assert_lt(argc + 1, max, "too many producer arguments");
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
}

void e2e_start(e2e_env *e, const char *const *extra) {
    const char *argv[32];
    char store[256];
    e2e_producer_args(e, "a", extra, argv, 32, store, sizeof(store));
    ph_start(&e->ph, argv);
}

/* ---- the CLI ---- */

void e2e_ledger(e2e_env *e, tcf_run_result *res, const char *const *argv, const char *input) {
    tcf_run(res, argv, e->cli_env, input);
}

json_t *e2e_ledger_json(e2e_env *e, int want_exit, const char *const *argv) {
    tcf_run_result res;
    e2e_ledger(e, &res, argv, NULL);
    char cmd[256] = "";
    for (size_t i = 0; argv[i] != NULL; i++) {
        size_t used = strlen(cmd);
        snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "", argv[i]);
    }
    cr_assert_eq(res.exit_code, want_exit, "ledger %s: exit %d, expected %d; stdout: %s stderr: %s",
                 cmd, res.exit_code, want_exit, res.out, res.err);
    json_t *obj = NULL;
    if (want_exit == 2) {
        cr_assert_str_empty(res.out, "ledger %s printed on stdout with exit 2: %s", cmd, res.out);
        cr_assert_str_not_empty(res.err, "ledger %s: exit 2 without a reason on stderr", cmd);
    } else {
        const char *nl = strchr(res.out, '\n');
        cr_assert_not_null(nl, "ledger %s: no line on stdout: '%s'", cmd, res.out);
        cr_assert_str_empty(nl + 1, "ledger %s: more than one line: %s", cmd, res.out);
        json_error_t error;
        obj = json_loadb(res.out, (size_t)(nl - res.out), 0, &error);
        cr_assert(json_is_object(obj), "ledger %s: not a JSON object: %s (%s)", cmd, res.out,
                  error.text);
    }
    tcf_run_free(&res);
    return obj;
}

const char *e2e_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "'%s' is not a string member", key);
    return json_string_value(v);
}

int64_t e2e_int(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "'%s' is not an integer member", key);
    return (int64_t)json_integer_value(v);
}

const json_t *e2e_event(const json_t *result) {
    const json_t *events = json_object_get(result, "events");
    cr_assert(json_is_array(events) && json_array_size(events) == 1,
              "an accepted result carries exactly one event");
    return json_array_get(events, 0);
}

int64_t e2e_cents(const char *text) {
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    const char *dot = strchr(p, '.');
    cr_assert_not_null(dot, "money '%s' has no decimals", text);
    cr_assert(dot > p && strlen(dot) == 3, "money '%s' is not -?[0-9]+.[0-9]{2}", text);
    int64_t cents = 0;
    for (const char *c = p; *c != '\0'; c++) {
        if (c == dot)
            continue;
        cr_assert(*c >= '0' && *c <= '9', "money '%s' is not -?[0-9]+.[0-9]{2}", text);
        cents = cents * 10 + (*c - '0');
    }
    return negative ? -cents : cents;
}

void e2e_position(const char *text, int32_t *partition, int64_t *offset) {
    int p = -1;
    long long o = -1;
    int used = 0;
    cr_assert_eq(sscanf(text, "%d:%lld%n", &p, &o, &used), 2, "position '%s'", text);
    cr_assert_eq((size_t)used, strlen(text), "position '%s'", text);
    cr_assert(p >= 0 && p < PH_PARTITIONS && o >= 0, "position '%s'", text);
    *partition = p;
    *offset = o;
}

const json_t *e2e_assert_accepted(const json_t *result, const char *command_id, const char *type,
                                  const char *account, int64_t seq) {
    cr_assert_str_eq(e2e_str(result, "status"), "accepted", "'%s' not accepted: %s", command_id,
                     json_dumps(result, 0));
    cr_assert_str_eq(e2e_str(result, "command_id"), command_id);
    cr_assert_null(json_object_get(result, "duplicate"), "'%s' is marked duplicate", command_id);
    cr_assert_null(json_object_get(result, "reason"));
    const json_t *ev = e2e_event(result);
    cr_assert_str_eq(e2e_str(ev, "type"), type, "'%s'", command_id);
    cr_assert_str_eq(e2e_str(ev, "account"), account);
    cr_assert_eq(e2e_int(ev, "seq"), seq, "'%s': seq %lld, expected %lld", command_id,
                 (long long)e2e_int(ev, "seq"), (long long)seq);
    cr_assert_str_eq(e2e_str(ev, "command_id"), command_id);
    int32_t p;
    int64_t o;
    e2e_position(e2e_str(result, "position"), &p, &o);
    cr_assert_eq(p, ph_partition_of(account), "'%s': position on partition %d, not %d", command_id,
                 (int)p, (int)ph_partition_of(account));
    return ev;
}

void e2e_assert_rejected(const json_t *result, const char *reason) {
    cr_assert_str_eq(e2e_str(result, "status"), "rejected");
    cr_assert_str_eq(e2e_str(result, "reason"), reason, "expected %s: %s", reason,
                     json_dumps(result, 0));
    cr_assert_null(json_object_get(result, "duplicate"));
    cr_assert_null(json_object_get(result, "events"));
    cr_assert_null(json_object_get(result, "position"));
}

/* ---- whole topics ---- */

static void header_of(const rd_kafka_message_t *msg, const char *name, char *out, size_t size) {
    out[0] = '\0';
    rd_kafka_headers_t *headers = NULL;
    const void *value = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != NULL)
        snprintf(out, size, "%.*s", (int)len, (const char *)value);
}

void e2e_read_topic(const char *topic, e2e_records *out) {
    memset(out, 0, sizeof(*out));
    char group[160];
    kt_unique_name(group, sizeof(group), "e2e-reader");
    const char *const settings[][2] = {{"group.id", group},
                                       {"enable.auto.commit", "false"},
                                       {"enable.partition.eof", "true"},
                                       {"isolation.level", "read_committed"},
                                       {"auto.offset.reset", "earliest"}};
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, kt_conf(LEDGER_KAFKA_CONSUMER, settings,
                                                          sizeof(settings) / sizeof(settings[0])));
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PH_PARTITIONS);
    for (int p = 0; p < PH_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    bool ended[PH_PARTITIONS] = {false};
    int remaining = PH_PARTITIONS;
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    while (remaining > 0) {
        cr_assert_lt(kt_now_ms(), deadline, "'%s' not read to its end within %d ms", topic,
                     E2E_TIMEOUT_MS);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* The end is the high watermark (of the last fetch), not the
             * first end met: records committed behind a transaction still
             * open count too. */
            int64_t low = -1, high = -1;
            rd_kafka_get_watermark_offsets(rk, topic, msg->partition, &low, &high);
            if (msg->partition >= 0 && msg->partition < PH_PARTITIONS && !ended[msg->partition] &&
                msg->offset >= high) {
                ended[msg->partition] = true;
                remaining--;
            }
            rd_kafka_message_destroy(msg);
            continue;
        }
        cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR_NO_ERROR, "reading '%s': %s", topic,
                     rd_kafka_message_errstr(msg));
        if (out->count == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->items = realloc(out->items, out->cap * sizeof(*out->items));
            cr_assert_not_null(out->items);
        }
        e2e_record *r = &out->items[out->count++];
        memset(r, 0, sizeof(*r));
        r->partition = msg->partition;
        r->offset = msg->offset;
        r->key_len = msg->key_len < sizeof(r->key) - 1 ? msg->key_len : sizeof(r->key) - 1;
        if (msg->key != NULL)
            memcpy(r->key, msg->key, r->key_len);
        r->tombstone = msg->payload == NULL;
        if (!r->tombstone) {
            r->value = malloc(msg->len > 0 ? msg->len : 1);
            cr_assert_not_null(r->value);
            memcpy(r->value, msg->payload, msg->len);
            r->len = msg->len;
        }
        header_of(msg, "ledger.snapshot.epoch", r->epoch, sizeof(r->epoch));
        header_of(msg, "ledger.snapshot.chunks", r->chunks, sizeof(r->chunks));
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

void e2e_records_free(e2e_records *records) {
    for (size_t i = 0; i < records->count; i++)
        free(records->items[i].value);
    free(records->items);
    memset(records, 0, sizeof(*records));
}

void e2e_read_events(e2e_env *e, e2e_events *out) {
    e2e_records records;
    e2e_read_topic(e->ph.topics[LEDGER_KAFKA_TOPIC_EVENTS], &records);
    out->count = records.count;
    out->items = calloc(records.count + 1, sizeof(*out->items));
    cr_assert_not_null(out->items);
    char errstr[256];
    for (size_t i = 0; i < records.count; i++) {
        const e2e_record *r = &records.items[i];
        ph_event *ev = &out->items[i];
        cr_assert_not(r->tombstone, "a tombstone on the events topic at %d:%lld", (int)r->partition,
                      (long long)r->offset);
        cr_assert_eq(ledger_codec_decode_event(e->ph.codec, r->value, r->len, &ev->event, errstr,
                                               sizeof(errstr)),
                     0, "event at %d:%lld: %s", (int)r->partition, (long long)r->offset, errstr);
        ev->partition = r->partition;
        ev->offset = r->offset;
        cr_assert_eq(r->key_len, strlen(ev->event.account), "key of the event at %d:%lld",
                     (int)r->partition, (long long)r->offset);
        cr_assert_eq(memcmp(r->key, ev->event.account, r->key_len), 0);
        cr_assert_eq(r->partition, ph_partition_of(ev->event.account),
                     "event of '%s' on partition %d", ev->event.account, (int)r->partition);
    }
    e2e_records_free(&records);
}

void e2e_events_free(e2e_events *events) {
    free(events->items);
    memset(events, 0, sizeof(*events));
}

size_t e2e_read_results(e2e_env *e, ledger_result **out) {
    e2e_records records;
    e2e_read_topic(e->ph.topics[LEDGER_KAFKA_TOPIC_COMMAND_RESULTS], &records);
    *out = calloc(records.count + 1, sizeof(**out));
    cr_assert_not_null(*out);
    char errstr[256];
    for (size_t i = 0; i < records.count; i++) {
        const e2e_record *r = &records.items[i];
        cr_assert_eq(ledger_codec_decode_result(e->ph.codec, r->value, r->len, &(*out)[i], errstr,
                                                sizeof(errstr)),
                     0, "result at %d:%lld: %s", (int)r->partition, (long long)r->offset, errstr);
    }
    size_t n = records.count;
    e2e_records_free(&records);
    return n;
}

account_state e2e_fold(const e2e_events *events, const char *account) {
    account_state state;
    account_init(&state);
    for (size_t i = 0; i < events->count; i++) {
        const ph_event *ev = &events->items[i];
        if (strcmp(ev->event.account, account) != 0)
            continue;
        cr_assert_eq(account_apply(&state, &ev->event), ACCOUNT_APPLIED,
                     "'%s': event seq %lld at %d:%lld after seq %lld", account,
                     (long long)ev->event.seq, (int)ev->partition, (long long)ev->offset,
                     (long long)state.seq);
    }
    return state;
}

size_t e2e_count_events(const e2e_events *events, const char *command_id, ledger_event_type type) {
    size_t n = 0;
    for (size_t i = 0; i < events->count; i++) {
        const ledger_event *ev = &events->items[i].event;
        n += ev->type == type && strcmp(ev->command_id, command_id) == 0;
    }
    return n;
}

static int e2e_cmp_transfer(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* How many transfers are not settled yet; asserts none settled twice. */
static size_t e2e_unsettled(const e2e_events *events) {
    size_t sent = 0, settled = 0;
    const char **sent_ids = calloc(events->count + 1, sizeof(*sent_ids));
    const char **settled_ids = calloc(events->count + 1, sizeof(*settled_ids));
    cr_assert(sent_ids != NULL && settled_ids != NULL);
    for (size_t i = 0; i < events->count; i++) {
        const ledger_event *ev = &events->items[i].event;
        if (ev->type == LEDGER_EVENT_TRANSFER_SENT)
            sent_ids[sent++] = ev->transfer_id;
        else if (ev->type == LEDGER_EVENT_TRANSFER_RECEIVED ||
                 ev->type == LEDGER_EVENT_TRANSFER_RETURNED)
            settled_ids[settled++] = ev->transfer_id;
    }
    qsort(sent_ids, sent, sizeof(*sent_ids), e2e_cmp_transfer);
    qsort(settled_ids, settled, sizeof(*settled_ids), e2e_cmp_transfer);
    for (size_t i = 1; i < sent; i++)
        cr_assert_str_neq(sent_ids[i - 1], sent_ids[i], "transfer '%s' sent twice", sent_ids[i]);
    for (size_t i = 1; i < settled; i++)
        cr_assert_str_neq(settled_ids[i - 1], settled_ids[i],
                          "transfer '%s' credited or returned twice", settled_ids[i]);
    size_t matched = 0, j = 0;
    for (size_t i = 0; i < settled; i++) {
        while (j < sent && strcmp(sent_ids[j], settled_ids[i]) < 0)
            j++;
        cr_assert(j < sent && strcmp(sent_ids[j], settled_ids[i]) == 0,
                  "transfer '%s' settled but never sent", settled_ids[i]);
        matched++;
    }
    free(sent_ids);
    free(settled_ids);
    return sent - matched;
}

void e2e_wait_transfers_settled(e2e_env *e, e2e_events *out) {
    int64_t deadline = kt_now_ms() + E2E_TIMEOUT_MS;
    for (;;) {
        e2e_read_events(e, out);
        size_t left = e2e_unsettled(out);
        if (left == 0)
            return;
        cr_assert_lt(kt_now_ms(), deadline, "%zu transfer(s) not settled within %d ms", left,
                     E2E_TIMEOUT_MS);
        e2e_events_free(out);
        rd_kafka_poll(e->ph.client, 100); /* paces the next look */
    }
}

#define E2E_MAX_CHUNKS 4096

void e2e_read_snapshots(e2e_env *e, ledger_snapshot snaps[PH_PARTITIONS],
                        int chunks[PH_PARTITIONS]) {
    e2e_records records;
    e2e_read_topic(e->ph.topics[LEDGER_KAFKA_TOPIC_SNAPSHOTS], &records);
    /* The latest record index per key: manifest, then chunk i. */
    static long manifest[PH_PARTITIONS];
    static long chunk[PH_PARTITIONS][E2E_MAX_CHUNKS];
    for (int p = 0; p < PH_PARTITIONS; p++) {
        manifest[p] = -1;
        for (int i = 0; i < E2E_MAX_CHUNKS; i++)
            chunk[p][i] = -1;
    }
    for (size_t i = 0; i < records.count; i++) {
        const e2e_record *r = &records.items[i];
        if (r->key_len == 8 && memcmp(r->key, "snapshot", 8) == 0) {
            manifest[r->partition] = (long)i;
        } else if (r->key_len > 9 && memcmp(r->key, "snapshot/", 9) == 0) {
            int index = atoi(r->key + 9); /* r->key is NUL-terminated */
            cr_assert(index >= 0 && index < E2E_MAX_CHUNKS, "chunk key '%s'", r->key);
            chunk[r->partition][index] = (long)i;
        } else {
            /* dedup entries: one command's (cmd/<id>) or a set's (cmds/<uuid>) */
            cr_assert((r->key_len > 4 && memcmp(r->key, "cmd/", 4) == 0) ||
                          (r->key_len > 5 && memcmp(r->key, "cmds/", 5) == 0),
                      "unexpected key '%s' on the snapshots topic", r->key);
        }
    }
    char errstr[256];
    for (int p = 0; p < PH_PARTITIONS; p++) {
        ledger_snapshot *s = &snaps[p];
        memset(s, 0, sizeof(*s));
        s->partition = p;
        s->events_offset = -1;
        chunks[p] = 0;
        if (manifest[p] < 0)
            continue;
        const e2e_record *m = &records.items[manifest[p]];
        cr_assert_str_not_empty(m->chunks, "the manifest of partition %d has no chunk count", p);
        cr_assert_eq(strlen(m->epoch), 16, "the manifest of partition %d: epoch '%s'", p, m->epoch);
        int count = atoi(m->chunks);
        cr_assert(count >= 1 && count < E2E_MAX_CHUNKS, "partition %d: %d chunks", p, count);
        chunks[p] = count;
        ledger_snapshot mv;
        cr_assert_eq(ledger_codec_decode_snapshot(e->ph.codec, m->value, m->len, &mv, errstr,
                                                  sizeof(errstr)),
                     0, "manifest of partition %d: %s", p, errstr);
        cr_assert_eq(mv.partition, p);
        cr_assert_eq(mv.account_count, 0, "a manifest holds no accounts");
        ledger_snapshot_release(&mv);
        for (int i = 0; i < E2E_MAX_CHUNKS; i++) {
            if (i >= count) {
                cr_assert(chunk[p][i] < 0 || records.items[chunk[p][i]].tombstone,
                          "partition %d: chunk key %d beyond the count %d is not deleted", p, i,
                          count);
                continue;
            }
            cr_assert_geq(chunk[p][i], 0, "partition %d: chunk %d of %d missing", p, i, count);
            const e2e_record *c = &records.items[chunk[p][i]];
            cr_assert_not(c->tombstone, "partition %d: chunk %d of %d deleted", p, i, count);
            cr_assert_str_eq(c->epoch, m->epoch, "partition %d: chunk %d of another snapshot", p,
                             i);
            cr_assert_lt(c->offset, m->offset, "a chunk comes before its manifest");
            ledger_snapshot cv;
            cr_assert_eq(ledger_codec_decode_snapshot(e->ph.codec, c->value, c->len, &cv, errstr,
                                                      sizeof(errstr)),
                         0, "partition %d chunk %d: %s", p, i, errstr);
            cr_assert_eq(cv.partition, p);
            cr_assert_eq(cv.command_count, 0);
            if (i == 0)
                s->events_offset = cv.events_offset;
            cr_assert_eq(cv.events_offset, s->events_offset,
                         "partition %d: chunks of different events offsets", p);
            s->accounts = realloc(s->accounts,
                                  (s->account_count + cv.account_count + 1) * sizeof(*s->accounts));
            cr_assert_not_null(s->accounts);
            memcpy(s->accounts + s->account_count, cv.accounts,
                   cv.account_count * sizeof(*s->accounts));
            s->account_count += cv.account_count;
            ledger_snapshot_release(&cv);
        }
    }
    e2e_records_free(&records);
}

/* ---- processes and logs ---- */

static int e2e_temp_file(void) {
    char path[] = "/tmp/ledger-e2e-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    return fd;
}

void e2e_submit_start(e2e_env *e, e2e_submit *s, const char *const *argv) {
    /* Close-on-exec: a producer started later must not hold the write end,
     * or submit would never see the end of its input. */
    int pipefd[2];
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    s->out_fd = e2e_temp_file();
    s->err_fd = e2e_temp_file();
    const char *full[32] = {LEDGER_BIN, "submit"};
    size_t argc = 2;
    for (size_t i = 0; argv != NULL && argv[i] != NULL && argc < 31; i++)
        full[argc++] = argv[i];
    full[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        for (;;) { /* no LEDGER_* setting but the test's own */
            char name[256] = "";
            for (char **env = environ; *env != NULL; env++) {
                if (strncmp(*env, "LEDGER_", 7) == 0) {
                    snprintf(name, sizeof(name), "%.*s", (int)strcspn(*env, "="), *env);
                    break;
                }
            }
            if (name[0] == '\0')
                break;
            unsetenv(name);
        }
        for (size_t i = 0; e->cli_env[i] != NULL; i++)
            putenv((char *)e->cli_env[i]);
        dup2(pipefd[0], STDIN_FILENO);
        dup2(s->out_fd, STDOUT_FILENO);
        dup2(s->err_fd, STDERR_FILENO);
        close(pipefd[1]);
        execv(LEDGER_BIN, (char *const *)full);
        _exit(127);
    }
    close(pipefd[0]);
    s->in_fd = pipefd[1];
    s->pid = pid;
}

void e2e_submit_write(e2e_submit *s, const char *text) {
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(s->in_fd, text + done, len - done);
        cr_assert_gt(n, 0, "writing to ledger submit: %s", strerror(errno));
        done += (size_t)n;
    }
}

static char *e2e_fd_text(int fd) {
    off_t size = lseek(fd, 0, SEEK_END);
    cr_assert_geq(size, 0);
    char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    size_t used = 0;
    ssize_t n;
    while (used < (size_t)size && (n = pread(fd, buf + used, (size_t)size - used, (off_t)used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    return buf;
}

size_t e2e_submit_lines(e2e_submit *s) {
    char *text = e2e_fd_text(s->out_fd);
    size_t n = 0;
    for (const char *c = text; *c != '\0'; c++)
        n += *c == '\n';
    free(text);
    return n;
}

void e2e_submit_finish(e2e_submit *s, int64_t timeout_ms, tcf_run_result *res) {
    close(s->in_fd);
    s->in_fd = -1;
    /* Wait for its end on a pidfd, which poll(2) reports readable when the
     * process exits. */
    int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    cr_assert_geq(pidfd, 0, "pidfd_open: %s", strerror(errno));
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    int64_t limit = E2E_TIMEOUT_MS + timeout_ms;
    int ready = poll(&pfd, 1, (int)limit);
    close(pidfd);
    if (ready != 1) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        cr_assert_fail("ledger submit did not end within %lld ms", (long long)limit);
    }
    int status = 0;
    cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res->out = e2e_fd_text(s->out_fd);
    res->err = e2e_fd_text(s->err_fd);
    res->elapsed_ms = 0;
    close(s->out_fd);
    close(s->err_fd);
    s->pid = 0;
}

int64_t e2e_file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

char *e2e_file_text(const char *path, int64_t from) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        char *empty = calloc(1, 1);
        cr_assert_not_null(empty);
        return empty;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (from > size)
        from = size;
    fseek(f, (long)from, SEEK_SET);
    size_t len = (size_t)(size - from);
    char *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    size_t got = fread(buf, 1, len, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

void e2e_wait_file(const char *path, int64_t from, const char *needle, int timeout_ms,
                   rd_kafka_t *client) {
    int64_t deadline = kt_now_ms() + timeout_ms;
    for (;;) {
        char *text = e2e_file_text(path, from);
        bool found = strstr(text, needle) != NULL;
        free(text);
        if (found)
            return;
        cr_assert_lt(kt_now_ms(), deadline, "'%s' not in %s within %d ms", needle, path,
                     timeout_ms);
        rd_kafka_poll(client, 50); /* paces the next look */
    }
}
