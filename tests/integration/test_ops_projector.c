/*
 * test_ops_projector.c - what ledger-projector shows operators
 * (projectors/projector_ops.h): /healthz, /metrics parsed with the
 * Prometheus client's own parser (prom_parse.py through LEDGER_TEST_PYTHON),
 * the progress of a catch-up from far behind on a terminal (and its
 * absence on a pipe), and `ledger status`'s new fields, during a rebuild
 * too.
 *
 * Readiness is observed, not raced: the first test points the projector at
 * a Redis of its own that is not running yet, so /healthz must say 503 for
 * as long as the test likes; it starts that Redis and waits for 200; it
 * kills it again and waits for 503.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "test_dlq_support.h"
#include "test_projector_harness.h"

extern char **environ;

/* What edge/http_ops.c logs when it listens, before ADDR:PORT. */
#define ENDPOINT_LOGGED "operations endpoint on "

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- HTTP ---- */

/* GET path on 127.0.0.1:port: the status code, or -1 when nothing answered. */
static int http_status(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        char req[256];
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
        if (write(fd, req, (size_t)n) == n) {
            char buf[512];
            ssize_t got = read(fd, buf, sizeof(buf) - 1);
            if (got > 0) {
                buf[got] = '\0';
                if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                    status = -1;
            }
        }
    }
    close(fd);
    return status;
}

/* The samples of /metrics as prom_parse.py prints them (the caller
 * json_decrefs); fails the test when the page does not parse. */
static json_t *scrape(int port) {
    const char *python = getenv("LEDGER_TEST_PYTHON");
    cr_assert_not_null(python, "LEDGER_TEST_PYTHON is not set (the venv's python)");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' http://127.0.0.1:%d/metrics", python, PROM_PARSE, port);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert_not_null(out);
        }
    }
    out[len] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "prom_parse.py failed (status %d; its stderr is above)", status);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    cr_assert_not_null(doc, "prom_parse.py printed no JSON: %s", jerr.text);
    free(out);
    return doc;
}

/* The value of sample `name` whose label `label` is `value` (label NULL:
 * any), or NAN when absent. */
static double sample(json_t *doc, const char *name, const char *label, const char *value) {
    json_t *samples = json_object_get(doc, "samples");
    size_t i;
    json_t *s;
    json_array_foreach(samples, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")), name) != 0)
            continue;
        json_t *labels = json_object_get(s, "labels");
        cr_assert_str_eq(json_string_value(json_object_get(labels, "view")), "balance",
                         "%s has no view=\"balance\" label", name);
        if (label != NULL) {
            const char *v = json_string_value(json_object_get(labels, label));
            if (v == NULL || strcmp(v, value) != 0)
                continue;
        }
        return json_number_value(json_object_get(s, "value"));
    }
    return NAN;
}

static double partition_sample(json_t *doc, const char *name, int p) {
    char v[16];
    snprintf(v, sizeof(v), "%d", p);
    return sample(doc, name, "partition", v);
}

/* The port of the endpoint's log line "operations endpoint on ADDR:PORT". */
static int port_in(const char *text) {
    const char *at = strstr(text, ENDPOINT_LOGGED);
    const char *colon = at != NULL ? strchr(at + strlen(ENDPOINT_LOGGED), ':') : NULL;
    return colon != NULL ? atoi(colon + 1) : -1;
}

static int logged_port(const pt_proc *proc) {
    pt_wait_log(proc, ENDPOINT_LOGGED, 1, 30000);
    FILE *f = fopen(proc->log_path, "r");
    cr_assert_not_null(f);
    char line[1024];
    int port = -1;
    while (port <= 0 && fgets(line, sizeof(line), f) != NULL)
        port = port_in(line);
    fclose(f);
    cr_assert_gt(port, 0, "no port in the log");
    return port;
}

/* Polls /healthz until it answers `want`; fails after timeout_ms. */
static void wait_health(int port, int want, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    int last;
    while ((last = http_status(port, "/healthz")) != want) {
        cr_assert_lt(pt_now_ms(), deadline, "/healthz answered %d, expected %d", last, want);
        sleep_ms(20);
    }
}

/* ---- the metrics test ---- */

#define OPS_EVENTS   500
#define OPS_ACCOUNTS 40

Test(ops_projector, healthz_follows_redis_and_metrics_count_the_work, .timeout = 240) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "ops_projector seed: %llu\n", (unsigned long long)seed);
    pt_env env;
    pt_env_init(&env);
    char shared_url[sizeof(env.redis_url)];
    snprintf(shared_url, sizeof(shared_url), "%s", env.redis_url);
    pt_own_redis r;
    pt_own_redis_init(&r, 28500 + (int)(getpid() % 400), false);
    pt_own_redis_url(&r, env.redis_url, sizeof(env.redis_url));

    pt_proc proc;
    char group[128];
    pt_group_id(&env, "balance", group, sizeof(group));
    const char *argv[] = {"--view", "balance", "--group-id", group, "--http-port", "0", NULL};
    pt_start_projector(&proc, &env, argv);
    int port = logged_port(&proc);

    /* Redis is not there: not ready, for as long as we look. */
    int64_t until = pt_now_ms() + 1500;
    int polls = 0;
    while (pt_now_ms() < until) {
        cr_assert_eq(http_status(port, "/healthz"), 503);
        polls++;
        sleep_ms(50);
    }
    cr_assert_gt(polls, 10);

    pt_own_redis_start(&r);
    wait_health(port, 200, 60000);
    pt_wait_log(&proc, "ready", 1, 1000);

    pt_workload w;
    pt_workload_init(&w, &env, OPS_ACCOUNTS, seed, "ops-");
    pt_produce(&w, OPS_EVENTS);
    int64_t end[PT_PARTITIONS];
    for (int p = 0; p < PT_PARTITIONS; p++)
        end[p] = w.last_offset[p] + 1;
    /* Two records that are not Avro, each for an account of its own: two
     * DLQ records, two quarantined accounts, nothing else held. */
    static const char *const poison[] = {"ops-poison-a", "ops-poison-b"};
    static const char garbage[] = "not an avro record";
    for (size_t i = 0; i < 2; i++) {
        int32_t pp;
        int64_t po;
        dlq_produce_raw(&w, poison[i], strlen(poison[i]), -1, garbage, sizeof(garbage) - 1, &pp,
                        &po);
        if (po + 1 > end[pp])
            end[pp] = po + 1;
    }

    /* Wait until the metrics say it all happened (lag is measured once a
     * second, the quarantine size read once a second). */
    json_t *doc = NULL;
    int64_t deadline = pt_now_ms() + 60000;
    for (;;) {
        doc = scrape(port);
        bool done =
            sample(doc, "ledger_projector_events_applied_total", NULL, NULL) == OPS_EVENTS &&
            sample(doc, "ledger_projector_dlq_records_total", NULL, NULL) == 2 &&
            sample(doc, "ledger_projector_quarantined_accounts", NULL, NULL) == 2;
        for (int p = 0; done && p < PT_PARTITIONS; p++)
            done = partition_sample(doc, "ledger_projector_checkpoint_offset", p) == end[p] &&
                   partition_sample(doc, "ledger_projector_lag_events", p) == 0;
        if (done)
            break;
        if (pt_now_ms() > deadline) {
            char *text = json_dumps(doc, JSON_COMPACT);
            pt_dump_log(&proc);
            cr_assert_fail("metrics never matched the work: %s", text);
        }
        json_decref(doc);
        sleep_ms(300);
    }
    cr_expect_eq(sample(doc, "ledger_projector_quarantines_total", NULL, NULL), 2);
    cr_expect(isnan(partition_sample(doc, "ledger_projector_lag_events", PT_PARTITIONS)),
              "a series for a partition the topic does not have");
    cr_expect_eq(sample(doc, "ledger_projector_partitions_assigned", NULL, NULL), PT_PARTITIONS);
    cr_expect_eq(sample(doc, "ledger_projector_generation", NULL, NULL), 1);
    cr_expect_geq(sample(doc, "ledger_projector_rebalances_total", "kind", "assign"), 1);
    cr_expect_eq(sample(doc, "ledger_projector_conflicts_total", NULL, NULL), 0);
    double batches = sample(doc, "ledger_projector_batches_applied_total", NULL, NULL);
    cr_expect_geq(batches, 1);
    cr_expect_eq(sample(doc, "ledger_projector_batch_events_count", NULL, NULL), batches);
    cr_expect_eq(sample(doc, "ledger_projector_batch_events_sum", NULL, NULL), OPS_EVENTS);
    cr_expect_eq(sample(doc, "ledger_projector_apply_seconds_count", NULL, NULL), batches);
    cr_expect_eq(sample(doc, "ledger_projector_progress_active", NULL, NULL), 0);
    cr_expect_eq(sample(doc, "ledger_projector_progress_remaining_events", NULL, NULL), 0);
    json_decref(doc);

    /* ledger status: the process reports itself; caught up. */
    dlq_cli_env ce;
    dlq_cli_env_init(&ce, &env);
    cli_result *res = calloc(1, sizeof(*res));
    cr_assert_not_null(res);
    const char *status_argv[] = {"status", "--view", "balance", NULL};
    dlq_cli(res, &ce, status_argv);
    cr_assert_eq(res->exit_code, 0, "ledger status: %s", res->err);
    json_t *line = json_loads(res->out, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(line, "ledger status printed: %s", res->out);
    cr_expect_eq(json_integer_value(json_object_get(line, "lag")), 0);
    cr_expect_eq(json_integer_value(json_object_get(line, "projectors")), 1);
    cr_expect_eq(json_integer_value(json_object_get(line, "eta_seconds")), 0);
    cr_expect(json_is_integer(json_object_get(line, "rate")));
    cr_expect_eq(json_array_size(json_object_get(line, "quarantined")), 2);
    json_decref(line);
    free(res);

    /* Redis gone: not ready again. */
    pt_own_redis_kill(&r);
    wait_health(port, 503, 15000);
    cr_expect_eq(pt_stop(&proc, 30000), 0);

    pt_workload_destroy(&w);
    snprintf(env.redis_url, sizeof(env.redis_url), "%s", shared_url);
    pt_env_cleanup(&env);
    pt_own_redis_destroy(&r);
}

/* ---- progress ---- */

/* Starts ledger-projector with stdout and stderr on err_fd (closed here). */
static pid_t spawn(const pt_env *env, const char *const *argv, int err_fd, int close_fd) {
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (close_fd >= 0)
            close(close_fd);
        for (char **e = environ; *e != NULL;) {
            if (strncmp(*e, "LEDGER_", 7) == 0) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                e = environ;
                continue;
            }
            e++;
        }
        setenv("LEDGER_BROKERS", env->brokers, 1);
        setenv("LEDGER_TOPIC_PREFIX", env->topic_prefix, 1);
        setenv("LEDGER_REDIS_URL", env->redis_url, 1);
        setenv("LEDGER_REDIS_PREFIX", env->redis_prefix, 1);
        dup2(err_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        close(err_fd);
        size_t n = 0;
        while (argv[n] != NULL)
            n++;
        const char **full = calloc(n + 2, sizeof(*full));
        full[0] = PROJECTOR_BIN;
        memcpy(full + 1, argv, n * sizeof(*argv));
        execv(PROJECTOR_BIN, (char *const *)full);
        _exit(127);
    }
    close(err_fd);
    return pid;
}

/* Appends what fd has to offer within wait_ms to buf. */
static void drain(int fd, char *buf, size_t size, size_t *len, int wait_ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, wait_ms) > 0) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0)
            return;
        size_t take = (size_t)n < size - 1 - *len ? (size_t)n : size - 1 - *len;
        memcpy(buf + *len, chunk, take);
        *len += take;
        buf[*len] = '\0';
        wait_ms = 0;
    }
}

/* SIGKILL, not SIGTERM: one event per batch makes one asynchronous offset
 * commit per event, and librdkafka's consumer close waits for every queued
 * commit (minutes for 20,000), which is not what these tests are about. */
static void kill_child(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

#define OUT_CAP (1 << 20)

/* Catches up on `events` events with stderr on err_fd (the parent reads
 * read_fd), one event per batch so that it takes seconds; returns the
 * output once "caught up:" was logged. */
static char *catch_up(pt_env *env, size_t events, int read_fd, int err_fd, int *port_out,
                      bool scrape_midway) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    pt_workload w;
    pt_workload_init(&w, env, 200, seed, "prog-");
    pt_produce(&w, events);
    char group[128];
    pt_group_id(env, "balance", group, sizeof(group));
    const char *argv[] = {"--view",
                          "balance",
                          "--group-id",
                          group,
                          "--http-port",
                          "0",
                          "--progress-min-lag",
                          "1000",
                          "--batch-max-events",
                          "1",
                          "--batch-max-wait",
                          "0",
                          NULL};
    pid_t pid = spawn(env, argv, err_fd, read_fd);
    char *out = calloc(1, OUT_CAP);
    cr_assert_not_null(out);
    size_t len = 0;
    int64_t deadline = pt_now_ms() + 180000;
    bool scraped = !scrape_midway;
    *port_out = -1;
    while (strstr(out, "caught up:") == NULL) {
        cr_assert_lt(pt_now_ms(), deadline, "no 'caught up' in: %s", out);
        drain(read_fd, out, OUT_CAP, &len, 100);
        if (*port_out <= 0)
            *port_out = port_in(out);
        if (!scraped && *port_out > 0 && strstr(out, "s left") != NULL) {
            /* Mid-way, /metrics shows the same progress. */
            json_t *doc = scrape(*port_out);
            drain(read_fd, out, OUT_CAP, &len, 0);
            if (strstr(out, "caught up:") == NULL) {
                cr_expect_eq(sample(doc, "ledger_projector_progress_active", NULL, NULL), 1);
                cr_expect_gt(sample(doc, "ledger_projector_progress_remaining_events", NULL, NULL),
                             0);
                cr_expect_gt(
                    sample(doc, "ledger_projector_progress_rate_events_per_second", NULL, NULL), 0);
            }
            json_decref(doc);
            scraped = true;
        }
    }
    cr_assert_gt(*port_out, 0, "no endpoint port in: %s", out);
    json_t *doc = scrape(*port_out);
    cr_expect_eq(sample(doc, "ledger_projector_progress_active", NULL, NULL), 0);
    cr_expect_eq(sample(doc, "ledger_projector_progress_remaining_events", NULL, NULL), 0);
    cr_expect_gt(sample(doc, "ledger_projector_progress_done_events", NULL, NULL), 0);
    json_decref(doc);
    kill_child(pid);
    drain(read_fd, out, OUT_CAP, &len, 200);
    close(read_fd);
    pt_workload_destroy(&w);
    return out;
}

#define PROGRESS_EVENTS 40000
#define REBUILD_EVENTS  60000

Test(ops_projector, catch_up_progress_on_a_terminal, .timeout = 300) {
    pt_env env;
    pt_env_init(&env);
    int master, slave;
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    int port;
    char *out = catch_up(&env, PROGRESS_EVENTS, master, slave, &port, true);

    /* Progress lines: "\r\033[Kview 'balance' catching up: D events done,
     * R to go (P%), N events/s, T left", each overwriting the last. */
    size_t lines = 0, with_rate = 0;
    unsigned long long last_done = 0;
    for (char *p = strstr(out, "catching up: "); p != NULL; p = strstr(p + 1, "catching up: ")) {
        unsigned long long done;
        long long to_go;
        double pct, rate;
        char left[32];
        if (sscanf(p, "catching up: %llu events done, %lld to go (%lf%%), %lf events/s, %31s left",
                   &done, &to_go, &pct, &rate, left) != 5)
            continue; /* the log line "catching up: N events behind ..." */
        const size_t prefix = strlen("\r\033[Kview 'balance' ");
        cr_expect((size_t)(p - out) >= prefix && strncmp(p - prefix, "\r\033[K", 4) == 0,
                  "a progress line does not start with \\r and a clear");
        cr_expect_geq(done, last_done, "events done went back");
        last_done = done;
        lines++;
        if (rate > 0 && left[0] >= '0' && left[0] <= '9')
            with_rate++;
    }
    cr_assert_geq(lines, 1, "no progress line in: %s", out);
    cr_assert_geq(with_rate, 1, "no progress line with a rate and a time left in: %s", out);
    cr_expect_not_null(strstr(out, "caught up: "));
    free(out);
    pt_env_cleanup(&env);
}

Test(ops_projector, no_progress_line_when_stderr_is_a_pipe, .timeout = 300) {
    pt_env env;
    pt_env_init(&env);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int port;
    char *out = catch_up(&env, 3000, fds[0], fds[1], &port, false);
    cr_assert_not_null(strstr(out, "catching up: "), "the catch-up was not long work: %s", out);
    cr_expect_null(strstr(out, "events done"), "a progress line on a pipe: %s", out);
    cr_expect_null(strchr(out, '\r'), "a carriage return on a pipe");
    free(out);
    pt_env_cleanup(&env);
}

/* `ledger status` during a rebuild: the new generation's progress from its
 * checkpoints, and the rate the rebuild reports of itself. */
Test(ops_projector, status_shows_a_rebuild_in_progress, .timeout = 300) {
    pt_env env;
    pt_env_init(&env);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    pt_workload w;
    pt_workload_init(&w, &env, 200, seed, "rb-");
    /* Long enough to be seen: progress is published once a second, and a
     * rebuild of 20,000 events (one per batch) once took 1.2 s. */
    pt_produce(&w, REBUILD_EVENTS);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *argv[] = {"--view", "balance",          "--rebuild", "--batch-max-events",
                          "1",      "--batch-max-wait", "0",         NULL};
    pid_t pid = spawn(&env, argv, fds[1], fds[0]);
    char *out = calloc(1, OUT_CAP);
    cr_assert_not_null(out);
    size_t len = 0;

    dlq_cli_env ce;
    dlq_cli_env_init(&ce, &env);
    cli_result *res = calloc(1, sizeof(*res));
    cr_assert_not_null(res);
    const char *status_argv[] = {"status", "--view", "balance", NULL};
    int64_t deadline = pt_now_ms() + 60000;
    json_t *rebuild = NULL, *line = NULL;
    for (;;) {
        drain(fds[0], out, OUT_CAP, &len, 0);
        dlq_cli(res, &ce, status_argv);
        cr_assert_eq(res->exit_code, 0, "ledger status: %s", res->err);
        line = json_loads(res->out, JSON_DISABLE_EOF_CHECK, NULL);
        cr_assert_not_null(line, "ledger status printed: %s", res->out);
        rebuild = json_object_get(line, "rebuild");
        if (rebuild != NULL && json_is_integer(json_object_get(rebuild, "rate")) &&
            json_integer_value(json_object_get(rebuild, "done")) > 0)
            break;
        cr_assert_null(strstr(out, "switched"), "the rebuild ended before it was seen: %s", out);
        cr_assert_lt(pt_now_ms(), deadline, "no rebuild progress in ledger status: %s", res->out);
        json_decref(line);
        sleep_ms(50);
    }
    int64_t building = json_integer_value(json_object_get(line, "building"));
    int64_t done = json_integer_value(json_object_get(rebuild, "done"));
    int64_t total = json_integer_value(json_object_get(rebuild, "total"));
    cr_expect_eq(json_integer_value(json_object_get(rebuild, "generation")), building);
    cr_expect_geq(total, (int64_t)REBUILD_EVENTS, "total counts every event (and markers)");
    cr_expect_leq(done, total);
    cr_expect_eq(json_integer_value(json_object_get(rebuild, "remaining")), total - done);
    json_t *eta = json_object_get(rebuild, "eta_seconds");
    cr_expect(json_is_integer(eta) || json_is_null(eta));
    json_decref(line);
    free(res);
    kill_child(pid);
    close(fds[0]);
    free(out);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}
