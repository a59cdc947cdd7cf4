/*
 * test_views_support.c - a private world on the shared broker and Redis for
 * the views' integration tests (see test_views_support.h).
 *
 * Waiting is always polling a condition with a deadline (the view's
 * checkpoints in Redis, a child's exit), never a fixed sleep.
 */
#include "test_views_support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "kafka.h"
#include "kafka_test.h"
#include "ltime.h"
#include "redis.h"

struct vw_world {
    const char *brokers;
    char redis_url[512];
    int partitions;
    char topic_prefix[96];
    char topics[LEDGER_KAFKA_TOPIC_COUNT][LEDGER_KAFKA_TOPIC_NAME_BUF];
    char redis_prefix[64];
    ledger_codec *codec;
    rd_kafka_t *producer;
    int64_t last[VW_MAX_PARTITIONS]; /* offset of the last delivered event, -1 none */
    int delivery_errors;
    char delivery_error[256];
    int nproj;
    pid_t pids[VW_MAX_PROJECTORS];
    char logs[VW_MAX_PROJECTORS][160];
    char env_url[600], env_prefix[96];
};

/* The worlds of the running test (each test runs in its own process), for
 * vw_cleanup. */
#define VW_MAX_WORLDS 4
static vw_world *live_worlds[VW_MAX_WORLDS];

static void pause_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static redisContext *redis_connect(const vw_world *w) {
    char errstr[512];
    redisContext *c = ledger_redis_connect_url(w->redis_url, 5000, errstr, sizeof errstr);
    cr_assert_not_null(c, "%s", errstr);
    return c;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    vw_world *w = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (w->delivery_errors++ == 0)
            snprintf(w->delivery_error, sizeof w->delivery_error, "%s", rd_kafka_err2str(m->err));
        return;
    }
    if (m->partition >= 0 && m->partition < VW_MAX_PARTITIONS && m->offset > w->last[m->partition])
        w->last[m->partition] = m->offset;
}

vw_world *vw_world_new(int partitions) {
    cr_assert_leq(partitions, VW_MAX_PARTITIONS);
    vw_world *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->brokers = kt_brokers();
    const char *url = getenv("LEDGER_TEST_REDIS_URL");
    cr_assert(url != NULL && url[0] != '\0',
              "LEDGER_TEST_REDIS_URL is not set: export the test server's URL (scripts/test sets "
              "it, e.g. redis://127.0.0.1:16379/0)");
    snprintf(w->redis_url, sizeof w->redis_url, "%s", url);
    w->partitions = partitions;
    for (int p = 0; p < VW_MAX_PARTITIONS; p++)
        w->last[p] = -1;

    char name[64];
    kt_unique_name(name, sizeof name, "vw");
    snprintf(w->topic_prefix, sizeof w->topic_prefix, "%s.", name);
    snprintf(w->redis_prefix, sizeof w->redis_prefix, "%s", name);
    snprintf(w->env_url, sizeof w->env_url, "LEDGER_REDIS_URL=%s", w->redis_url);
    snprintf(w->env_prefix, sizeof w->env_prefix, "LEDGER_REDIS_PREFIX=%s", w->redis_prefix);

    char errstr[512];
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    cr_assert_eq(ledger_kafka_ledger_topic_specs(w->topic_prefix, partitions, 1, specs, errstr,
                                                 sizeof errstr),
                 0, "%s", errstr);
    cr_assert_eq(ledger_kafka_create_topics(w->brokers, NULL, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                            30000, outcomes, errstr, sizeof errstr),
                 0, "creating the topics: %s", errstr);
    for (int i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++)
        memcpy(w->topics[i], specs[i].name, sizeof w->topics[i]);

    w->codec = ledger_codec_new(errstr, sizeof errstr);
    cr_assert_not_null(w->codec, "%s", errstr);
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(w->brokers, LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof errstr);
    cr_assert_not_null(conf, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr), RD_KAFKA_CONF_OK,
                 "%s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, w);
    w->producer = kt_client(RD_KAFKA_PRODUCER, conf);
    cr_log_info("views world: topics '%s*', redis namespace '%s'", w->topic_prefix,
                w->redis_prefix);
    for (int i = 0; i < VW_MAX_WORLDS; i++) {
        if (live_worlds[i] == NULL) {
            live_worlds[i] = w;
            break;
        }
    }
    return w;
}

static void tail_log(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_log_error("tail of %s:\n%s", path, buf);
}

/* SIGTERM, then wait for the exit with a deadline. Returns the exit code,
 * or -1 (after SIGKILL) when it did not exit normally in time. */
static int stop_child(pid_t pid) {
    kill(pid, SIGTERM);
    int64_t deadline = kt_now_ms() + 30000;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 || kt_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        pause_ms(20);
    }
}

void vw_world_destroy(vw_world *w) {
    if (w == NULL)
        return;
    for (int i = 0; i < VW_MAX_WORLDS; i++) {
        if (live_worlds[i] == w)
            live_worlds[i] = NULL;
    }
    int bad = -1;
    for (int i = 0; i < w->nproj; i++) {
        int code = stop_child(w->pids[i]);
        if (code != 0) {
            tail_log(w->logs[i]);
            bad = i;
        } else {
            unlink(w->logs[i]);
        }
    }
    if (w->producer != NULL)
        rd_kafka_destroy(w->producer);
    ledger_codec_destroy(w->codec);

    const char *names[LEDGER_KAFKA_TOPIC_COUNT];
    for (int i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++)
        names[i] = w->topics[i];
    kt_delete_topics(names, LEDGER_KAFKA_TOPIC_COUNT);

    redisContext *c = redis_connect(w);
    char cursor[32] = "0", pattern[96];
    snprintf(pattern, sizeof pattern, "%s:*", w->redis_prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "SCAN failed");
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *d = redisCommand(c, "UNLINK %s", r->element[1]->element[i]->str);
            if (d != NULL)
                freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    char log[160];
    snprintf(log, sizeof log, "%s", bad >= 0 ? w->logs[bad] : "");
    free(w);
    cr_assert_lt(bad, 0, "a projector did not exit 0 on SIGTERM (log %s)", log);
}

void vw_cleanup(void) {
    for (int i = 0; i < VW_MAX_WORLDS; i++)
        vw_world_destroy(live_worlds[i]);
}

const char *vw_redis_prefix(const vw_world *w) {
    return w->redis_prefix;
}

void vw_produce(vw_world *w, const ledger_event *events, size_t n, int32_t *partition,
                int64_t *offset) {
    char errstr[512];
    const char *topic = w->topics[LEDGER_KAFKA_TOPIC_EVENTS];
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[LEDGER_CODEC_EVENT_MAX];
        size_t len = 0;
        cr_assert_eq(ledger_codec_encode_event(w->codec, &events[i], buf, sizeof buf, &len, errstr,
                                               sizeof errstr),
                     0, "encode: %s", errstr);
        const char *key = events[i].account;
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    w->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(w->producer, 100);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(w->producer, 0);
    }
    cr_assert_eq(rd_kafka_flush(w->producer, 30000), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "events not delivered within 30 s");
    cr_assert_eq(w->delivery_errors, 0, "delivery failed: %s", w->delivery_error);
    if (n > 0 && (partition != NULL || offset != NULL)) {
        const char *key = events[n - 1].account;
        int32_t p = ledger_partition_for_key(key, strlen(key), w->partitions);
        if (partition != NULL)
            *partition = p;
        if (offset != NULL)
            *offset = w->last[p];
    }
}

void vw_start_projector(vw_world *w, const char *view, const char *const *env) {
    cr_assert_lt(w->nproj, VW_MAX_PROJECTORS);
    int i = w->nproj;
    snprintf(w->logs[i], sizeof w->logs[i], "/tmp/%s-%s-%d.log", w->redis_prefix, view, i);
    char partitions[16], group[160];
    snprintf(partitions, sizeof partitions, "%d", w->partitions);
    snprintf(group, sizeof group, "%s-%s", w->redis_prefix, view);
    const char *argv[] = {LEDGER_PROJECTOR_BIN,
                          "--view",
                          view,
                          "--brokers",
                          w->brokers,
                          "--topic-prefix",
                          w->topic_prefix,
                          "--redis-url",
                          w->redis_url,
                          "--redis-prefix",
                          w->redis_prefix,
                          "--partitions",
                          partitions,
                          "--group-id",
                          group,
                          NULL};
    int fd = open(w->logs[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "cannot create %s", w->logs[i]);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        for (;;) { /* no LEDGER_* setting but the test's own */
            char name[256] = "";
            for (char **e = environ; *e != NULL; e++) {
                if (strncmp(*e, "LEDGER_", 7) == 0) {
                    snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                    break;
                }
            }
            if (name[0] == '\0')
                break;
            unsetenv(name);
        }
        for (size_t k = 0; env != NULL && env[k] != NULL; k++)
            putenv((char *)env[k]);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(LEDGER_PROJECTOR_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fd);
    w->pids[i] = pid;
    w->nproj++;
}

/* Fails the test (with the log) when a projector has exited. */
static void check_alive(vw_world *w) {
    for (int i = 0; i < w->nproj; i++) {
        int status;
        if (waitpid(w->pids[i], &status, WNOHANG) == w->pids[i]) {
            tail_log(w->logs[i]);
            w->pids[i] = w->pids[--w->nproj]; /* nothing left to stop */
            cr_assert_fail("projector %d exited early (status %d, log %s)", i, status, w->logs[i]);
        }
    }
}

void vw_wait_applied(vw_world *w, const char *view, int64_t timeout_ms) {
    redisContext *c = redis_connect(w);
    int64_t deadline = kt_now_ms() + timeout_ms;
    for (;;) {
        check_alive(w);
        redisReply *g = redisCommand(c, "GET %s:%s:current", w->redis_prefix, view);
        cr_assert(g != NULL && (g->type == REDIS_REPLY_NIL || g->type == REDIS_REPLY_STRING));
        long long gen = g->type == REDIS_REPLY_NIL ? 1 : atoll(g->str);
        freeReplyObject(g);
        int behind = -1;
        long long have = -1;
        for (int p = 0; p < w->partitions && behind < 0; p++) {
            if (w->last[p] < 0)
                continue;
            redisReply *r =
                redisCommand(c, "HGET %s:%s:g%lld:checkpoints %d", w->redis_prefix, view, gen, p);
            cr_assert(r != NULL && (r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_STRING));
            have = r->type == REDIS_REPLY_NIL ? -1 : atoll(r->str);
            freeReplyObject(r);
            if (have < w->last[p] + 1)
                behind = p;
        }
        if (behind < 0)
            break;
        if (kt_now_ms() > deadline) {
            for (int i = 0; i < w->nproj; i++)
                tail_log(w->logs[i]);
            redisFree(c);
            cr_assert_fail("view '%s' has not applied partition %d up to offset %lld within %lld "
                           "ms (checkpoint %lld)",
                           view, behind, (long long)w->last[behind], (long long)timeout_ms, have);
        }
        pause_ms(20);
    }
    redisFree(c);
}

redisContext *vw_redis(const vw_world *w) {
    return redis_connect(w);
}

void vw_cli(vw_world *w, cli_result *res, const char *const *argv) {
    const char *env[] = {w->env_url, w->env_prefix, NULL};
    cli_run(res, argv, env);
    cr_assert_lt(strlen(res->out), sizeof res->out - 1, "output cut at %zu bytes", sizeof res->out);
}

json_t *vw_parse_line(const char *out) {
    size_t len = strlen(out);
    cr_assert(len > 0 && out[len - 1] == '\n', "not one line: '%s'", out);
    cr_assert_eq(strchr(out, '\n'), out + len - 1, "more than one line: '%s'", out);
    json_error_t err;
    json_t *v = json_loadb(out, len - 1, 0, &err);
    cr_assert_not_null(v, "not JSON (%s): '%s'", err.text, out);
    return v;
}

int64_t vw_at(const char *rfc3339) {
    int64_t ms;
    const char *why = NULL;
    cr_assert_eq(ltime_parse(rfc3339, strlen(rfc3339), &ms, &why), 0, "bad time '%s'", rfc3339);
    return ms;
}
