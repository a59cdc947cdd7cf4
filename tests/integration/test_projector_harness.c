/*
 * test_projector_harness.c - environments, child processes, workloads and
 * the comparison of a view with the fold (see test_projector_harness.h).
 *
 * The expected states are computed here by the pure core's account_apply
 * as the events are generated, never read back from the program under test.
 */
#include "test_projector_harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "kafka_test.h"
#include "projector_keys.h"
#include "redis.h"

#define PT_POLL_NS (20 * 1000000L)

int64_t pt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_poll(void) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = PT_POLL_NS};
    nanosleep(&ts, NULL);
}

/* ---- environment ---- */

void pt_env_init(pt_env *env) {
    memset(env, 0, sizeof(*env));
    uint32_t r = kt_random_u32();
    snprintf(env->redis_prefix, sizeof(env->redis_prefix), "t%d-%08x", (int)getpid(), r);
    snprintf(env->topic_prefix, sizeof(env->topic_prefix), "%s.", env->redis_prefix);
    snprintf(env->events_topic, sizeof(env->events_topic), "%sevents", env->topic_prefix);
    snprintf(env->brokers, sizeof(env->brokers), "%s", kt_brokers());
    const char *url = getenv("LEDGER_TEST_REDIS_URL");
    cr_assert(url != NULL && url[0] != '\0',
              "LEDGER_TEST_REDIS_URL is not set: export the test server's URL (e.g. "
              "redis://127.0.0.1:16379/0)");
    snprintf(env->redis_url, sizeof(env->redis_url), "%s", url);
    snprintf(env->log_dir, sizeof(env->log_dir), "/tmp/ledger-projector-test-XXXXXX");
    cr_assert_not_null(mkdtemp(env->log_dir), "cannot create a log folder");
    kt_create_topic(env->events_topic, PT_PARTITIONS, RD_KAFKA_RESP_ERR_NO_ERROR);
}

redisContext *pt_redis(const pt_env *env) {
    char errstr[512];
    redisContext *c = ledger_redis_connect_url(env->redis_url, 10000, errstr, sizeof(errstr));
    cr_assert_not_null(c, "%s", errstr);
    return c;
}

void pt_env_cleanup(pt_env *env) {
    const char *names[LEDGER_KAFKA_TOPIC_COUNT];
    char buf[LEDGER_KAFKA_TOPIC_COUNT][LEDGER_KAFKA_TOPIC_NAME_BUF];
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++) {
        ledger_kafka_topic_name(env->topic_prefix, (ledger_kafka_topic)t, buf[t], sizeof(buf[t]));
        names[t] = buf[t];
    }
    kt_delete_topics(names, LEDGER_KAFKA_TOPIC_COUNT);

    DIR *d = opendir(env->log_dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[PATH_MAX];
            if (e->d_name[0] != '.' &&
                snprintf(path, sizeof(path), "%s/%s", env->log_dir, e->d_name) < (int)sizeof(path))
                unlink(path);
        }
        closedir(d);
        rmdir(env->log_dir);
    }

    char errstr[512];
    redisContext *c = ledger_redis_connect_url(env->redis_url, 5000, errstr, sizeof(errstr));
    if (c == NULL)
        return;
    char pattern[128];
    snprintf(pattern, sizeof(pattern), "%s:*", env->redis_prefix);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (r != NULL)
                freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *k = r->element[1]->element[i];
            redisReply *d = redisCommand(c, "DEL %b", k->str, k->len);
            if (d != NULL)
                freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
}

/* ---- child processes ---- */

/* In the child: only the env's LEDGER_* settings, output to the log. */
static void child_setup(const pt_env *env, int log_fd) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "LEDGER_", 7) == 0) {
                size_t len = strcspn(*e, "=");
                snprintf(name, sizeof(name), "%.*s", (int)len, *e);
                break;
            }
        }
        if (name[0] == '\0')
            break;
        unsetenv(name);
    }
    setenv("LEDGER_BROKERS", env->brokers, 1);
    setenv("LEDGER_TOPIC_PREFIX", env->topic_prefix, 1);
    setenv("LEDGER_REDIS_URL", env->redis_url, 1);
    setenv("LEDGER_REDIS_PREFIX", env->redis_prefix, 1);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
}

static int open_log(pt_proc *proc, const pt_env *env) {
    snprintf(proc->log_path, sizeof(proc->log_path), "%s/projector-%08x.log", env->log_dir,
             kt_random_u32());
    int fd = open(proc->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    cr_assert_geq(fd, 0, "cannot create '%s'", proc->log_path);
    return fd;
}

static size_t argv_len(const char *const *argv) {
    size_t n = 0;
    while (argv != NULL && argv[n] != NULL)
        n++;
    return n;
}

void pt_start_projector(pt_proc *proc, const pt_env *env, const char *const *argv) {
    int fd = open_log(proc, env);
    size_t n = argv_len(argv);
    const char **full = calloc(n + 2, sizeof(*full));
    cr_assert_not_null(full);
    full[0] = PROJECTOR_BIN;
    for (size_t i = 0; i < n; i++)
        full[i + 1] = argv[i];
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        child_setup(env, fd);
        execv(PROJECTOR_BIN, (char *const *)full);
        _exit(127);
    }
    close(fd);
    free(full);
    proc->pid = pid;
}

void pt_start_function(pt_proc *proc, const pt_env *env, int (*fn)(int, char **),
                       const char *const *argv) {
    int fd = open_log(proc, env);
    size_t n = argv_len(argv);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        child_setup(env, fd);
        char **copy = calloc(n + 1, sizeof(*copy));
        for (size_t i = 0; copy != NULL && i < n; i++)
            copy[i] = strdup(argv[i]);
        int rc = copy != NULL ? fn((int)n, copy) : 3;
        fflush(NULL);
        _exit(rc);
    }
    close(fd);
    proc->pid = pid;
}

static char *read_log(const pt_proc *proc) {
    FILE *f = fopen(proc->log_path, "r");
    if (f == NULL)
        return strdup("");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

void pt_group_id(const pt_env *env, const char *view, char *buf, size_t size) {
    snprintf(buf, size, "%s-%s", env->redis_prefix, view);
}

int pt_owned(const pt_proc *proc, bool owned[PT_PARTITIONS]) {
    char *log = read_log(proc);
    memset(owned, 0, PT_PARTITIONS * sizeof(*owned));
    for (const char *p = log; (p = strstr(p, "partition ")) != NULL; p++) {
        int part;
        char what[16];
        if (sscanf(p, "partition %d %15s", &part, what) != 2 || part < 0 || part >= PT_PARTITIONS)
            continue;
        if (strcmp(what, "assigned") == 0)
            owned[part] = true;
        else if (strcmp(what, "revoked") == 0 || strcmp(what, "lost") == 0)
            owned[part] = false;
    }
    free(log);
    int n = 0;
    for (int i = 0; i < PT_PARTITIONS; i++)
        n += owned[i];
    return n;
}

size_t pt_log_count(const pt_proc *proc, const char *needle) {
    char *log = read_log(proc);
    size_t count = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    free(log);
    return count;
}

void pt_dump_log(const pt_proc *proc) {
    char *log = read_log(proc);
    size_t len = strlen(log);
    const char *tail = len > 6000 ? log + len - 6000 : log;
    fprintf(stderr, "---- %s (pid %d) ----\n%s\n----\n", proc->log_path, (int)proc->pid, tail);
    free(log);
}

void pt_wait_log(const pt_proc *proc, const char *needle, size_t count, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    while (pt_log_count(proc, needle) < count) {
        int status;
        if (waitpid(proc->pid, &status, WNOHANG) == proc->pid) {
            pt_dump_log(proc);
            cr_assert_fail("projector %d exited (status %d) before logging '%s'", (int)proc->pid,
                           status, needle);
        }
        if (pt_now_ms() > deadline) {
            pt_dump_log(proc);
            cr_assert_fail("'%s' not logged %zu times within %lld ms", needle, count,
                           (long long)timeout_ms);
        }
        pause_poll();
    }
}

int pt_wait_exit(pt_proc *proc, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    int status = 0;
    while (waitpid(proc->pid, &status, WNOHANG) != proc->pid) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(proc);
            cr_assert_fail("process %d did not exit within %lld ms", (int)proc->pid,
                           (long long)timeout_ms);
        }
        pause_poll();
    }
    proc->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int pt_stop(pt_proc *proc, int64_t timeout_ms) {
    kill(proc->pid, SIGTERM);
    int64_t deadline = pt_now_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t got = waitpid(proc->pid, &status, WNOHANG);
        if (got == proc->pid)
            break;
        if (pt_now_ms() > deadline) {
            pt_dump_log(proc);
            kill(proc->pid, SIGKILL);
            waitpid(proc->pid, &status, 0);
            cr_assert_fail("projector %d did not stop within %lld ms of SIGTERM", (int)proc->pid,
                           (long long)timeout_ms);
        }
        pause_poll();
    }
    proc->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void pt_kill(pt_proc *proc) {
    if (proc->pid <= 0)
        return;
    kill(proc->pid, SIGKILL);
    waitpid(proc->pid, NULL, 0);
    proc->pid = 0;
}

/* ---- workload ---- */

static uint64_t next_random(pt_workload *w) {
    /* splitmix64: small, seedable, good enough to pick accounts and amounts */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    pt_workload *w = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        w->failed++;
        return;
    }
    w->delivered++;
    if (msg->partition >= 0 && msg->partition < PT_MAX_PARTITIONS &&
        msg->offset > w->last_offset[msg->partition])
        w->last_offset[msg->partition] = msg->offset;
    w->last_partition = msg->partition;
    w->last_event_offset = msg->offset;
}

void pt_workload_init(pt_workload *w, const pt_env *env, size_t accounts, uint64_t seed,
                      const char *name_prefix) {
    memset(w, 0, sizeof(*w));
    w->env = env;
    w->rng = seed;
    w->at_ms = INT64_C(1795687200000); /* 2026-11-26T10:00:00Z */
    for (int p = 0; p < PT_MAX_PARTITIONS; p++)
        w->last_offset[p] = -1;
    char errstr[512];
    w->codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(w->codec, "%s", errstr);
    w->accounts = calloc(accounts, sizeof(*w->accounts));
    cr_assert_not_null(w->accounts);
    w->account_count = accounts;
    for (size_t i = 0; i < accounts; i++) {
        pt_account *a = &w->accounts[i];
        snprintf(a->name, sizeof(a->name), "%s%zu", name_prefix, i);
        account_init(&a->state);
        a->partition = ledger_partition_for_key(a->name, strlen(a->name), PT_PARTITIONS);
    }

    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(env->brokers, LEDGER_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    char txid[128];
    snprintf(txid, sizeof(txid), "%s-test-producer-%08x", env->redis_prefix, kt_random_u32());
    cr_assert_eq(rd_kafka_conf_set(conf, "transactional.id", txid, errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, w);
    w->producer = kt_client(RD_KAFKA_PRODUCER, conf);
    rd_kafka_error_t *error = rd_kafka_init_transactions(w->producer, 60000);
    cr_assert_null(error, "init_transactions: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
}

void pt_workload_destroy(pt_workload *w) {
    if (w->producer != NULL)
        rd_kafka_destroy(w->producer);
    ledger_codec_destroy(w->codec);
    free(w->accounts);
    memset(w, 0, sizeof(*w));
}

static void random_uuid(pt_workload *w, char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    uint64_t a = next_random(w), b = next_random(w);
    memcpy(bytes, &a, 8);
    memcpy(bytes + 8, &b, 8);
    ledger_uuid_format(bytes, out);
}

/* The next event of account i: opened first, then a random movement. */
static void make_event(pt_workload *w, size_t i, int type, int64_t amount, ledger_event *e) {
    pt_account *a = &w->accounts[i];
    ledger_event_init(e);
    random_uuid(w, e->event_id);
    ledger_id_copy(e->account, sizeof(e->account), a->name);
    e->seq = ++a->seq;
    e->at_ms = w->at_ms += 1000;
    snprintf(e->command_id, sizeof(e->command_id), "cmd-%s-%lld", a->name, (long long)e->seq);
    if (e->seq == 1) {
        e->type = LEDGER_EVENT_ACCOUNT_OPENED;
        e->amount = amount >= 0 ? amount : (int64_t)(next_random(w) % 10000);
        return;
    }
    if (type > 0) {
        e->type = (ledger_event_type)type;
    } else {
        static const ledger_event_type mix[] = {
            LEDGER_EVENT_MONEY_DEPOSITED,   LEDGER_EVENT_MONEY_DEPOSITED,
            LEDGER_EVENT_MONEY_DEPOSITED,   LEDGER_EVENT_MONEY_WITHDRAWN,
            LEDGER_EVENT_MONEY_WITHDRAWN,   LEDGER_EVENT_TRANSFER_SENT,
            LEDGER_EVENT_TRANSFER_RECEIVED, LEDGER_EVENT_TRANSFER_RETURNED,
        };
        e->type = mix[next_random(w) % (sizeof(mix) / sizeof(mix[0]))];
    }
    e->amount = amount > 0 ? amount : 1 + (int64_t)(next_random(w) % 100000);
    if (e->type == LEDGER_EVENT_TRANSFER_SENT || e->type == LEDGER_EVENT_TRANSFER_RECEIVED ||
        e->type == LEDGER_EVENT_TRANSFER_RETURNED) {
        size_t other =
            (i + 1 + next_random(w) % (w->account_count > 1 ? w->account_count - 1 : 1)) %
            w->account_count;
        ledger_id_copy(e->counterparty, sizeof(e->counterparty), w->accounts[other].name);
        random_uuid(w, e->transfer_id);
        if (e->type == LEDGER_EVENT_TRANSFER_RETURNED)
            e->reason = LEDGER_ACCOUNT_CLOSED;
    }
}

static void send_event(pt_workload *w, const ledger_event *e) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    char errstr[256];
    cr_assert_eq(
        ledger_codec_encode_event(w->codec, e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0,
        "encode: %s", errstr);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            w->producer, RD_KAFKA_V_TOPIC(w->env->events_topic),
            RD_KAFKA_V_KEY(e->account, strlen(e->account)), RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(w->producer, 50);
            continue;
        }
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
        break;
    }
}

static void fold(pt_workload *w, size_t i, const ledger_event *e) {
    cr_assert_eq(account_apply(&w->accounts[i].state, e), ACCOUNT_APPLIED);
}

static void commit(pt_workload *w) {
    cr_assert_eq(rd_kafka_flush(w->producer, 120000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_error_t *error = rd_kafka_commit_transaction(w->producer, 120000);
    cr_assert_null(error, "commit_transaction: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
    cr_assert_eq(w->failed, 0, "%zu events were not delivered", w->failed);
}

void pt_produce(pt_workload *w, size_t count) {
    rd_kafka_error_t *error = rd_kafka_begin_transaction(w->producer);
    cr_assert_null(error, "begin_transaction: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
    for (size_t k = 0; k < count; k++) {
        size_t i = next_random(w) % w->account_count;
        ledger_event e;
        make_event(w, i, 0, 0, &e);
        send_event(w, &e);
        fold(w, i, &e);
        if (k % 1000 == 999)
            rd_kafka_poll(w->producer, 0);
    }
    commit(w);
}

void pt_produce_one(pt_workload *w, size_t i, int type, int64_t amount) {
    rd_kafka_error_t *error = rd_kafka_begin_transaction(w->producer);
    cr_assert_null(error, "begin_transaction: %s",
                   error != NULL ? rd_kafka_error_string(error) : "");
    ledger_event e;
    make_event(w, i, type, amount, &e);
    w->last_partition = -1;
    send_event(w, &e);
    fold(w, i, &e);
    commit(w);
    cr_assert_eq(w->last_partition, w->accounts[i].partition);
}

/* ---- reading the view ---- */

static int64_t read_checkpoint(const pt_env *env, redisContext *c, const char *view, int p) {
    char key[PROJECTOR_KEY_BUF];
    size_t len = projector_keys_checkpoints(env->redis_prefix, view, 1, key, sizeof(key));
    redisReply *r = redisCommand(c, "HGET %b %d", key, len, p);
    cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL),
              "HGET checkpoint: %s", r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "");
    int64_t v = r->type == REDIS_REPLY_NIL ? -1 : strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

int64_t pt_checkpoint_sum(const pt_env *env, redisContext *c, const char *view) {
    int64_t sum = 0;
    for (int p = 0; p < PT_PARTITIONS; p++) {
        int64_t cp = read_checkpoint(env, c, view, p);
        sum += cp > 0 ? cp : 0;
    }
    return sum;
}

bool pt_applied(const pt_workload *w, redisContext *c, const char *view) {
    for (int p = 0; p < PT_PARTITIONS; p++) {
        if (w->last_offset[p] < 0)
            continue;
        if (read_checkpoint(w->env, c, view, p) <= w->last_offset[p])
            return false;
    }
    return true;
}

void pt_wait_applied(const pt_workload *w, redisContext *c, const char *view, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    while (!pt_applied(w, c, view)) {
        if (pt_now_ms() > deadline) {
            for (int p = 0; p < PT_PARTITIONS; p++)
                fprintf(stderr, "partition %d: last produced %lld, checkpoint %lld\n", p,
                        (long long)w->last_offset[p],
                        (long long)read_checkpoint(w->env, c, view, p));
            cr_assert_fail("view '%s' did not apply every event within %lld ms", view,
                           (long long)timeout_ms);
        }
        pause_poll();
    }
}

void pt_assert_balance_view(const pt_workload *w, redisContext *c) {
    size_t expected_accounts = 0;
    for (size_t i = 0; i < w->account_count; i++) {
        const pt_account *a = &w->accounts[i];
        char key[PROJECTOR_KEY_BUF];
        size_t len = projector_keys_account(w->env->redis_prefix, "balance", 1, a->name, "state",
                                            key, sizeof(key));
        redisReply *r = redisCommand(c, "HMGET %b balance version status overdraft", key, len);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
        if (a->seq == 0) {
            cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL, "account '%s' has no events",
                         a->name);
            freeReplyObject(r);
            continue;
        }
        expected_accounts++;
        for (int f = 0; f < 4; f++)
            cr_assert_eq(r->element[f]->type, REDIS_REPLY_STRING, "'%s' field %d missing", key, f);
        const char *status = a->state.status == ACCOUNT_OPEN     ? "open"
                             : a->state.status == ACCOUNT_CLOSED ? "closed"
                                                                 : "none";
        cr_assert_eq(strtoll(r->element[0]->str, NULL, 10), a->state.balance,
                     "'%s' balance %s, fold says %lld", a->name, r->element[0]->str,
                     (long long)a->state.balance);
        cr_assert_eq(strtoll(r->element[1]->str, NULL, 10), a->state.seq,
                     "'%s' version %s, fold says %lld", a->name, r->element[1]->str,
                     (long long)a->state.seq);
        cr_assert_str_eq(r->element[2]->str, status, "'%s' status", a->name);
        cr_assert_eq(strtoll(r->element[3]->str, NULL, 10), a->state.overdraft, "'%s' overdraft",
                     a->name);
        freeReplyObject(r);
    }
    /* No account the workload did not write. */
    char pattern[PROJECTOR_KEY_BUF];
    snprintf(pattern, sizeof(pattern), "%s:balance:g1:{*}:state", w->env->redis_prefix);
    size_t seen = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        seen += r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    cr_assert_eq(seen, expected_accounts, "%zu account states in redis, %zu expected", seen,
                 expected_accounts);
}

static int compare_lines(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *pt_redis_snapshot(const pt_env *env, redisContext *c) {
    char pattern[128];
    snprintf(pattern, sizeof(pattern), "%s:*", env->redis_prefix);
    size_t cap = 1024, n = 0;
    char **lines = malloc(cap * sizeof(*lines));
    cr_assert_not_null(lines);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            redisReply *t = redisCommand(c, "TYPE %b", k->str, k->len);
            cr_assert(t != NULL && t->type == REDIS_REPLY_STATUS);
            redisReply *v = NULL;
            if (strcmp(t->str, "hash") == 0)
                v = redisCommand(c, "HGETALL %b", k->str, k->len);
            else if (strcmp(t->str, "string") == 0)
                v = redisCommand(c, "GET %b", k->str, k->len);
            cr_assert_not_null(v, "key '%s' of type %s", k->str, t->str);
            /* One line per hash field (sorted later), or one per string. */
            size_t items = v->type == REDIS_REPLY_ARRAY ? v->elements / 2 : 1;
            for (size_t f = 0; f < items; f++) {
                if (n == cap) {
                    cap *= 2;
                    lines = realloc(lines, cap * sizeof(*lines));
                    cr_assert_not_null(lines);
                }
                char *line = NULL;
                if (v->type == REDIS_REPLY_ARRAY)
                    cr_assert_geq(asprintf(&line, "%s %s=%s", k->str, v->element[2 * f]->str,
                                           v->element[2 * f + 1]->str),
                                  0);
                else
                    cr_assert_geq(asprintf(&line, "%s=%s", k->str, v->str), 0);
                lines[n++] = line;
            }
            freeReplyObject(v);
            freeReplyObject(t);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    qsort(lines, n, sizeof(*lines), compare_lines);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = malloc(total);
    cr_assert_not_null(out);
    out[0] = '\0';
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        memcpy(p, lines[i], len);
        p[len] = '\n';
        p += len + 1;
        free(lines[i]);
    }
    *p = '\0';
    free(lines);
    return out;
}

/* ---- a Redis of the test's own ---- */

void pt_own_redis_init(pt_own_redis *r, int port, bool aof) {
    memset(r, 0, sizeof(*r));
    r->port = port;
    r->aof = aof;
    snprintf(r->dir, sizeof(r->dir), "/tmp/ledger-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
}

void pt_own_redis_url(const pt_own_redis *r, char *buf, size_t size) {
    snprintf(buf, size, "redis://127.0.0.1:%d/0", r->port);
}

void pt_own_redis_start(pt_own_redis *r) {
    char port[16], log_path[128];
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *aof = r->aof ? "yes" : "no";
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               r->dir, "--appendonly", aof, "--appendfsync", "everysec", "--aof-load-truncated",
               "yes", "--save", "", "--logfile", log_path, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    char url[64], errstr[256] = "";
    pt_own_redis_url(r, url, sizeof(url));
    int64_t deadline = pt_now_ms() + 30000;
    for (;;) {
        redisContext *c = ledger_redis_connect_url(url, 1000, errstr, sizeof(errstr));
        if (c != NULL) {
            redisReply *reply = redisCommand(c, "PING");
            bool ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
            if (reply != NULL)
                freeReplyObject(reply);
            redisFree(c);
            if (ok)
                return;
        }
        cr_assert_lt(pt_now_ms(), deadline, "own redis-server on port %d did not start: %s",
                     r->port, errstr);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void pt_own_redis_kill(pt_own_redis *r) {
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

void pt_own_redis_destroy(pt_own_redis *r) {
    pt_own_redis_kill(r);
    if (r->dir[0] == '\0')
        return;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
    cr_assert_eq(system(cmd), 0);
    r->dir[0] = '\0';
}
