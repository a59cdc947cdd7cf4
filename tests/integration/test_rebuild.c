/*
 * test_rebuild.c - `ledger-projector --view balance --rebuild` against the
 * real broker and Redis, with a running balance projector beside it:
 *
 *   - under continuous reads (`ledger balance` in a loop, from a thread) and
 *     continuous writes: no query fails, no account's version goes back,
 *     the switch happens, the old generation's keys are gone, the running
 *     projector carries on in the new generation, and the view equals the
 *     pure fold of everything produced;
 *   - a quiet view rebuilds to exactly the same keys and values;
 *   - one rebuild at a time (exit 2), a frozen rebuilder whose lease
 *     expired is taken over with a new generation, and when it wakes up it
 *     writes nothing and exits 3.
 *
 * Expected states come from the workload's own fold (account_apply as the
 * events are generated), never from the program's output.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "projector_keys.h"
#include "rebuild.h"
#include "redis.h"
#include "test_projector_harness.h"

#define RB_POLL_NS (20 * 1000000L)

static void pause_poll(void) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = RB_POLL_NS};
    nanosleep(&ts, NULL);
}

static uint64_t test_seed(const char *name) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    fprintf(stderr, "%s seed: %llu\n", name, (unsigned long long)seed);
    return seed;
}

/* ---- Redis, generation-aware ---- */

/* GET of a string key as a number; -1 when absent. */
static int64_t get_number(redisContext *c, const char *key) {
    redisReply *r = redisCommand(c, "GET %s", key);
    cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL), "GET %s",
              key);
    int64_t v = r->type == REDIS_REPLY_NIL ? -1 : strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

static int64_t current_generation(const pt_env *env, redisContext *c) {
    char key[PROJECTOR_KEY_BUF];
    projector_keys_current(env->redis_prefix, "balance", key, sizeof(key));
    return get_number(c, key);
}

static bool key_exists(redisContext *c, const char *key) {
    redisReply *r = redisCommand(c, "EXISTS %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    bool exists = r->integer == 1;
    freeReplyObject(r);
    return exists;
}

static size_t count_keys(redisContext *c, const char *pattern) {
    size_t n = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        n += r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

static size_t generation_keys(const pt_env *env, redisContext *c, int64_t gen) {
    char prefix[PROJECTOR_KEY_BUF], pattern[PROJECTOR_KEY_BUF + 2];
    projector_keys_generation_prefix(env->redis_prefix, "balance", gen, prefix, sizeof(prefix));
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    return count_keys(c, pattern);
}

static int64_t checkpoint_of(const pt_env *env, redisContext *c, int64_t gen, int p) {
    char key[PROJECTOR_KEY_BUF];
    projector_keys_checkpoints(env->redis_prefix, "balance", gen, key, sizeof(key));
    redisReply *r = redisCommand(c, "HGET %s %d", key, p);
    cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL));
    int64_t v = r->type == REDIS_REPLY_NIL ? -1 : strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

/* Waits until generation gen has applied every event the workload produced. */
static void wait_applied_gen(const pt_workload *w, redisContext *c, int64_t gen,
                             int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    for (;;) {
        bool done = true;
        for (int p = 0; p < PT_PARTITIONS && done; p++)
            done = w->last_offset[p] < 0 || checkpoint_of(w->env, c, gen, p) > w->last_offset[p];
        if (done)
            return;
        if (pt_now_ms() > deadline) {
            for (int p = 0; p < PT_PARTITIONS; p++)
                fprintf(stderr, "partition %d: last produced %lld, checkpoint %lld\n", p,
                        (long long)w->last_offset[p], (long long)checkpoint_of(w->env, c, gen, p));
            cr_assert_fail("generation %lld did not apply every event within %lld ms",
                           (long long)gen, (long long)timeout_ms);
        }
        pause_poll();
    }
}

/* The balance view of generation gen holds exactly the fold of every
 * account, and no other account. */
static void assert_view_gen(const pt_workload *w, redisContext *c, int64_t gen) {
    size_t accounts = 0;
    for (size_t i = 0; i < w->account_count; i++) {
        const pt_account *a = &w->accounts[i];
        if (a->seq == 0)
            continue;
        accounts++;
        char key[PROJECTOR_KEY_BUF];
        projector_keys_account(w->env->redis_prefix, "balance", gen, a->name, "state", key,
                               sizeof(key));
        redisReply *r = redisCommand(c, "HMGET %s balance version status overdraft", key);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
        for (int f = 0; f < 4; f++)
            cr_assert_eq(r->element[f]->type, REDIS_REPLY_STRING, "'%s' field %d missing", key, f);
        cr_assert_eq(strtoll(r->element[0]->str, NULL, 10), a->state.balance,
                     "'%s' balance %s, fold says %lld", a->name, r->element[0]->str,
                     (long long)a->state.balance);
        cr_assert_eq(strtoll(r->element[1]->str, NULL, 10), a->state.seq,
                     "'%s' version %s, fold says %lld", a->name, r->element[1]->str,
                     (long long)a->state.seq);
        cr_assert_str_eq(r->element[2]->str, a->state.status == ACCOUNT_OPEN ? "open" : "closed");
        cr_assert_eq(strtoll(r->element[3]->str, NULL, 10), a->state.overdraft);
        freeReplyObject(r);
    }
    char pattern[PROJECTOR_KEY_BUF];
    snprintf(pattern, sizeof(pattern), "%s:balance:g%lld:{*}:state", w->env->redis_prefix,
             (long long)gen);
    cr_assert_eq(count_keys(c, pattern), accounts, "generation %lld holds other accounts",
                 (long long)gen);
}

static int compare_lines(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every key and field of generation gen, with the generation cut out of the
 * key names, sorted: two generations built from the same events compare
 * equal. Caller frees. */
static char *generation_snapshot(const pt_env *env, redisContext *c, int64_t gen) {
    char prefix[PROJECTOR_KEY_BUF], pattern[PROJECTOR_KEY_BUF + 2];
    size_t prefix_len =
        projector_keys_generation_prefix(env->redis_prefix, "balance", gen, prefix, sizeof(prefix));
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    size_t cap = 256, n = 0;
    char **lines = malloc(cap * sizeof(*lines));
    cr_assert_not_null(lines);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            redisReply *h = redisCommand(c, "HGETALL %s", key);
            cr_assert(h != NULL && h->type == REDIS_REPLY_ARRAY, "'%s' is not a hash", key);
            for (size_t f = 0; f + 1 < h->elements; f += 2) {
                if (n == cap) {
                    cap *= 2;
                    lines = realloc(lines, cap * sizeof(*lines));
                    cr_assert_not_null(lines);
                }
                cr_assert_geq(asprintf(&lines[n++], "%s %s=%s", key + prefix_len,
                                       h->element[f]->str, h->element[f + 1]->str),
                              0);
            }
            freeReplyObject(h);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    qsort(lines, n, sizeof(*lines), compare_lines);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = calloc(1, total);
    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    free(lines);
    return out;
}

/* ---- the reader: `ledger balance` in a loop, from a thread ---- */

#define READER_MAX_ACCOUNTS 32

typedef struct reader {
    char accounts[READER_MAX_ACCOUNTS][LEDGER_ACCOUNT_BUF];
    size_t count;
    char env_url[320];
    char env_prefix[128];
    atomic_bool stop;
    atomic_bool rebuilding; /* set by the test while the rebuilder runs */
    atomic_size_t queries;
    size_t during_rebuild;
    size_t failures;
    size_t regressions;
    char first_problem[1024];
    int64_t last_version[READER_MAX_ACCOUNTS];
    pthread_t thread;
} reader;

static void read_fd(int fd, char *buf, size_t size) {
    lseek(fd, 0, SEEK_SET);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < size && (n = read(fd, buf + used, size - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
}

/* Runs `ledger balance ACCOUNT` (no Criterion assertion: this runs in a
 * thread). Returns the exit code, or -1 when it could not run. */
static int reader_query(reader *r, const char *account, char *out, size_t out_size, char *err,
                        size_t err_size) {
    char out_path[] = "/tmp/ledger-rebuild-out-XXXXXX";
    char err_path[] = "/tmp/ledger-rebuild-err-XXXXXX";
    int out_fd = mkstemp(out_path);
    int err_fd = mkstemp(err_path);
    if (out_fd < 0 || err_fd < 0)
        return -1;
    unlink(out_path);
    unlink(err_path);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
    char *argv[] = {(char *)LEDGER_BIN, (char *)"balance", (char *)account, NULL};
    char *envp[] = {r->env_url, r->env_prefix, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, LEDGER_BIN, &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    if (rc != 0 || waitpid(pid, &status, 0) != pid) {
        close(out_fd);
        close(err_fd);
        return -1;
    }
    read_fd(out_fd, out, out_size);
    read_fd(err_fd, err, err_size);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void *reader_main(void *arg) {
    reader *r = arg;
    char out[4096], err[4096];
    for (size_t k = 0; !atomic_load(&r->stop); k++) {
        size_t i = k % r->count;
        bool rebuilding = atomic_load(&r->rebuilding);
        int rc = reader_query(r, r->accounts[i], out, sizeof(out), err, sizeof(err));
        const char *v = strstr(out, "\"version\":");
        if (rc != 0 || v == NULL) {
            if (r->failures++ == 0)
                snprintf(r->first_problem, sizeof(r->first_problem),
                         "'ledger balance %s' exited %d: %.400s%.400s", r->accounts[i], rc, out,
                         err);
        } else {
            int64_t version = strtoll(v + 10, NULL, 10);
            if (version < r->last_version[i] && r->regressions++ == 0)
                snprintf(r->first_problem, sizeof(r->first_problem),
                         "'%s' went back from version %lld to %lld", r->accounts[i],
                         (long long)r->last_version[i], (long long)version);
            if (version > r->last_version[i])
                r->last_version[i] = version;
        }
        if (rebuilding && atomic_load(&r->rebuilding))
            r->during_rebuild++;
        atomic_fetch_add(&r->queries, 1);
    }
    return NULL;
}

static void reader_start(reader *r, const pt_env *env, const pt_workload *w) {
    memset(r, 0, sizeof(*r));
    r->count = w->account_count < READER_MAX_ACCOUNTS ? w->account_count : READER_MAX_ACCOUNTS;
    for (size_t i = 0; i < r->count; i++)
        snprintf(r->accounts[i], sizeof(r->accounts[i]), "%s", w->accounts[i].name);
    snprintf(r->env_url, sizeof(r->env_url), "LEDGER_REDIS_URL=%s", env->redis_url);
    snprintf(r->env_prefix, sizeof(r->env_prefix), "LEDGER_REDIS_PREFIX=%s", env->redis_prefix);
    cr_assert_eq(pthread_create(&r->thread, NULL, reader_main, r), 0);
}

static void reader_wait_queries(reader *r, size_t n, int64_t timeout_ms) {
    int64_t deadline = pt_now_ms() + timeout_ms;
    while (atomic_load(&r->queries) < n) {
        cr_assert(pt_now_ms() < deadline, "the reader made %zu queries in %lld ms",
                  atomic_load(&r->queries), (long long)timeout_ms);
        pause_poll();
    }
}

static void reader_stop(reader *r) {
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
}

/* ---- the watcher: the current generation's checkpoints, read atomically ---- */

/* The view a query sees is the fold up to the current generation's
 * checkpoints, so "never goes backwards" means: no checkpoint of the
 * current generation is ever lower than one seen before, across the
 * switch. The watcher reads the generation and its checkpoints in one
 * script (atomically, so a switch cannot fall between) as fast as it can. */
static const char watch_script[] =
    "local g = redis.call('GET', KEYS[1]) or '1'\n"
    "return {g, redis.call('HGETALL', ARGV[1] .. g .. ':checkpoints')}\n";

typedef struct watcher {
    const pt_env *env;
    atomic_bool stop;
    size_t samples;
    size_t regressions;
    int64_t generations_seen[3]; /* samples seen in generation 1, 2, other */
    int64_t max_checkpoint[PT_PARTITIONS];
    char first_problem[256];
    pthread_t thread;
} watcher;

static void *watcher_main(void *arg) {
    watcher *wt = arg;
    char errstr[256];
    redisContext *c = ledger_redis_connect_url(wt->env->redis_url, 10000, errstr, sizeof(errstr));
    if (c == NULL) {
        snprintf(wt->first_problem, sizeof(wt->first_problem), "%s", errstr);
        wt->regressions++;
        return NULL;
    }
    char current[PROJECTOR_KEY_BUF], prefix[PROJECTOR_KEY_BUF];
    projector_keys_current(wt->env->redis_prefix, "balance", current, sizeof(current));
    snprintf(prefix, sizeof(prefix), "%s:balance:g", wt->env->redis_prefix);
    for (int p = 0; p < PT_PARTITIONS; p++)
        wt->max_checkpoint[p] = -1;
    while (!atomic_load(&wt->stop)) {
        redisReply *r = redisCommand(c, "EVAL %s 1 %s %s", watch_script, current, prefix);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(wt->first_problem, sizeof(wt->first_problem), "watch script failed");
            wt->regressions++;
            if (r != NULL)
                freeReplyObject(r);
            break;
        }
        int64_t gen = strtoll(r->element[0]->str, NULL, 10);
        wt->generations_seen[gen == 1 ? 0 : gen == 2 ? 1 : 2]++;
        const redisReply *h = r->element[1];
        for (size_t f = 0; f + 1 < h->elements; f += 2) {
            int p = atoi(h->element[f]->str);
            int64_t cp = strtoll(h->element[f + 1]->str, NULL, 10);
            if (p < 0 || p >= PT_PARTITIONS)
                continue;
            if (cp < wt->max_checkpoint[p] && wt->regressions++ == 0)
                snprintf(wt->first_problem, sizeof(wt->first_problem),
                         "partition %d went back from %lld to %lld in generation %lld", p,
                         (long long)wt->max_checkpoint[p], (long long)cp, (long long)gen);
            if (cp > wt->max_checkpoint[p])
                wt->max_checkpoint[p] = cp;
        }
        wt->samples++;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void watcher_start(watcher *wt, const pt_env *env) {
    memset(wt, 0, sizeof(*wt));
    wt->env = env;
    cr_assert_eq(pthread_create(&wt->thread, NULL, watcher_main, wt), 0);
}

static void watcher_stop(watcher *wt) {
    atomic_store(&wt->stop, true);
    pthread_join(wt->thread, NULL);
}

/* ---- processes ---- */

static void start_running_projector(pt_proc *proc, const pt_env *env, char *group, size_t size) {
    pt_group_id(env, "balance", group, size);
    const char *argv[] = {"--view", "balance", "--group-id", group, NULL};
    pt_start_projector(proc, env, argv);
    pt_wait_log(proc, "ready", 1, 60000);
}

/* Whether the process has exited; reaps it and sets *code when it has. */
static bool exited(pt_proc *proc, int *code) {
    int status;
    if (waitpid(proc->pid, &status, WNOHANG) != proc->pid)
        return false;
    proc->pid = 0;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
}

/* ---- the tests ---- */

Test(rebuild, switches_under_continuous_reads_and_writes, .timeout = 90) {
    uint64_t seed = test_seed("rebuild under reads");
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 12, seed, "rb-");
    pt_produce(&w, 20000);
    for (size_t i = 0; i < w.account_count; i++)
        cr_assert_gt(w.accounts[i].seq, 0, "every account has events before the rebuild");

    pt_proc running;
    char group[128];
    start_running_projector(&running, &env, group, sizeof(group));
    redisContext *c = pt_redis(&env);
    pt_wait_applied(&w, c, "balance", 60000);
    pt_assert_balance_view(&w, c); /* generation 1 is the fold before the rebuild */

    static reader r;
    reader_start(&r, &env, &w);
    reader_wait_queries(&r, 5, 30000);
    static watcher wt;
    watcher_start(&wt, &env);

    /* Small batches make the rebuild last long enough to be read through. */
    pt_proc rebuilder;
    const char *argv[] = {
        "--view", "balance",         "--rebuild", "--group-id", group, "--batch-max-events",
        "100",    "--rebuild-grace", "2s",        NULL};
    atomic_store(&r.rebuilding, true);
    pt_start_projector(&rebuilder, &env, argv);
    int code = -1;
    size_t produced_during = 0;
    int64_t deadline = pt_now_ms() + 60000;
    while (!exited(&rebuilder, &code)) {
        if (pt_now_ms() > deadline) {
            pt_dump_log(&rebuilder);
            cr_assert_fail("the rebuild did not finish within 60 s");
        }
        pt_produce(&w, 10); /* events keep flowing during the rebuild */
        produced_during += 10;
    }
    atomic_store(&r.rebuilding, false);
    if (code != 0)
        pt_dump_log(&rebuilder);
    cr_assert_eq(code, 0, "the rebuild exits 0 once switched");
    cr_assert_eq(pt_log_count(&rebuilder, "switched view 'balance' to generation 2"), 1);

    /* Events after the switch: the running projector applies them to
     * generation 2. */
    size_t queries_at_switch = atomic_load(&r.queries);
    pt_produce(&w, 300);
    wait_applied_gen(&w, c, 2, 30000);
    reader_wait_queries(&r, queries_at_switch + 5, 30000);
    reader_stop(&r);
    watcher_stop(&wt);

    cr_assert_eq(wt.regressions, 0, "the view went back: %s", wt.first_problem);
    cr_assert(wt.generations_seen[0] > 0 && wt.generations_seen[1] > 0 &&
                  wt.generations_seen[2] == 0,
              "the watcher saw generations 1 and 2 only (%lld, %lld, %lld samples)",
              (long long)wt.generations_seen[0], (long long)wt.generations_seen[1],
              (long long)wt.generations_seen[2]);
    cr_assert_eq(r.failures, 0, "%zu of %zu queries failed; first: %s", r.failures,
                 atomic_load(&r.queries), r.first_problem);
    cr_assert_eq(r.regressions, 0, "%zu versions went back; first: %s", r.regressions,
                 r.first_problem);
    cr_assert_gt(r.during_rebuild, 0, "no query ran while the rebuild did");
    fprintf(stderr,
            "rebuild under reads: %zu queries (%zu during the rebuild), %zu checkpoint samples, "
            "%zu events produced during it\n",
            atomic_load(&r.queries), r.during_rebuild, wt.samples, produced_during);

    cr_assert_eq(current_generation(&env, c), 2);
    char key[PROJECTOR_KEY_BUF];
    projector_keys_building(env.redis_prefix, "balance", key, sizeof(key));
    cr_assert(!key_exists(c, key), "building is removed by the switch");
    projector_keys_rebuild_lease(env.redis_prefix, "balance", key, sizeof(key));
    cr_assert(!key_exists(c, key), "the lease is released by the switch");
    cr_assert_eq(generation_keys(&env, c, 1), 0, "generation 1's keys are removed");
    assert_view_gen(&w, c, 2);
    cr_assert_geq(pt_log_count(&running, "generation of view 'balance' is now 2"), 1);

    cr_assert_eq(pt_stop(&running, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

Test(rebuild, a_quiet_view_rebuilds_to_the_same_keys_and_the_idle_projector_follows,
     .timeout = 90) {
    uint64_t seed = test_seed("quiet rebuild");
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 8, seed, "rq-");
    pt_produce(&w, 1500);
    pt_produce(&w, 1500);

    pt_proc running;
    char group[128];
    start_running_projector(&running, &env, group, sizeof(group));
    redisContext *c = pt_redis(&env);
    pt_wait_applied(&w, c, "balance", 60000);
    char *before = generation_snapshot(&env, c, 1);
    cr_assert_gt(strlen(before), 0);

    pt_proc rebuilder;
    const char *argv[] = {"--view", "balance",         "--rebuild", "--group-id",
                          group,    "--rebuild-grace", "500ms",     NULL};
    pt_start_projector(&rebuilder, &env, argv);
    int code = pt_wait_exit(&rebuilder, 60000);
    if (code != 0)
        pt_dump_log(&rebuilder);
    cr_assert_eq(code, 0);

    char *after = generation_snapshot(&env, c, 2);
    cr_assert_str_eq(after, before, "the rebuilt generation differs from the one it replaced");
    cr_assert_eq(current_generation(&env, c), 2);
    cr_assert_eq(generation_keys(&env, c, 1), 0);

    /* The running projector had nothing to do during the switch: it still
     * follows it, and a new event lands in generation 2, read by --after. */
    pt_wait_log(&running, "generation of view 'balance' is now 2", 1, 10000);
    pt_produce_one(&w, 0, 0 /* random type */, 0 /* random amount */);
    char position[48], url[320], ns[128];
    snprintf(position, sizeof(position), "%d:%lld", (int)w.last_partition,
             (long long)w.last_event_offset);
    snprintf(url, sizeof(url), "LEDGER_REDIS_URL=%s", env.redis_url);
    snprintf(ns, sizeof(ns), "LEDGER_REDIS_PREFIX=%s", env.redis_prefix);
    const char *cli_env[] = {url, ns, NULL};
    const char *query[] = {"balance", w.accounts[0].name, "--after", position, "--timeout", "20",
                           NULL};
    static cli_result res;
    cli_run(&res, query, cli_env);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    char want[64];
    snprintf(want, sizeof(want), "\"version\":%lld,", (long long)w.accounts[0].seq);
    cr_assert_not_null(strstr(res.out, want), "%s (want %s)", res.out, want);
    assert_view_gen(&w, c, 2);

    free(before);
    free(after);
    cr_assert_eq(pt_stop(&running, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

Test(rebuild, one_at_a_time_and_an_abandoned_rebuild_is_taken_over, .timeout = 90) {
    uint64_t seed = test_seed("rebuild take-over");
    pt_env env;
    pt_env_init(&env);
    pt_workload w;
    pt_workload_init(&w, &env, 10, seed, "rt-");
    pt_produce(&w, 20000);

    pt_proc running;
    char group[128];
    start_running_projector(&running, &env, group, sizeof(group));
    redisContext *c = pt_redis(&env);
    pt_wait_applied(&w, c, "balance", 60000);

    /* A slow rebuild (one event per batch) with a short lease. */
    pt_proc slow;
    const char *slow_argv[] = {
        "--view", "balance",         "--rebuild", "--group-id", group, "--batch-max-events",
        "1",      "--rebuild-lease", "1s",        NULL};
    pt_start_projector(&slow, &env, slow_argv);
    pt_wait_log(&slow, "rebuilding view 'balance' into generation 2", 1, 30000);

    /* A second rebuild is refused while the first is alive. */
    pt_proc second;
    const char *argv[] = {"--view", "balance", "--rebuild", "--group-id", group, NULL};
    pt_start_projector(&second, &env, argv);
    int code = pt_wait_exit(&second, 30000);
    if (code != 2)
        pt_dump_log(&second);
    cr_assert_eq(code, 2);
    cr_assert_eq(pt_log_count(&second, "a rebuild of view 'balance' is already running"), 1);

    /* Frozen: its lease runs out (polled, no sleep), and the next rebuild
     * takes over with a new generation. */
    int ignored;
    cr_assert(!exited(&slow, &ignored), "the slow rebuild finished before it could be frozen");
    kill(slow.pid, SIGSTOP);
    char lease[PROJECTOR_KEY_BUF];
    projector_keys_rebuild_lease(env.redis_prefix, "balance", lease, sizeof(lease));
    int64_t deadline = pt_now_ms() + 10000;
    while (key_exists(c, lease)) {
        cr_assert(pt_now_ms() < deadline, "the frozen rebuild's lease did not expire");
        pause_poll();
    }
    pt_proc next;
    pt_start_projector(&next, &env, argv);
    code = pt_wait_exit(&next, 60000);
    if (code != 0)
        pt_dump_log(&next);
    cr_assert_eq(code, 0);
    cr_assert_eq(pt_log_count(&next, "taking over with generation 3"), 1);
    cr_assert_eq(current_generation(&env, c), 3);

    /* The frozen one wakes up: it writes nothing into any generation and
     * gives up. */
    kill(slow.pid, SIGCONT);
    code = pt_wait_exit(&slow, 30000);
    cr_assert_eq(code, 3, "the woken rebuild exits 3");
    cr_assert_eq(generation_keys(&env, c, 1), 0);
    cr_assert_eq(generation_keys(&env, c, 2), 0, "the abandoned generation stays removed");
    cr_assert_eq(current_generation(&env, c), 3);

    pt_produce(&w, 200);
    wait_applied_gen(&w, c, 3, 30000);
    assert_view_gen(&w, c, 3);

    cr_assert_eq(pt_stop(&running, 30000), 0);
    redisFree(c);
    pt_workload_destroy(&w);
    pt_env_cleanup(&env);
}

static void redis_ok(redisContext *c, const char *fmt, const char *key, const char *a,
                     const char *b) {
    redisReply *r = redisCommand(c, fmt, key, a, b);
    cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR, "%s %s", fmt, key);
    freeReplyObject(r);
}

Test(rebuild, the_switch_waits_while_the_current_generation_is_ahead) {
    pt_env env;
    pt_env_init(&env);
    redisContext *c = pt_redis(&env);
    ledger_redis_url url;
    char errstr[512];
    cr_assert_eq(ledger_redis_url_parse(env.redis_url, &url, errstr, sizeof(errstr)), 0);
    volatile sig_atomic_t stop = 0;
    projector_rebuild *rb =
        projector_rebuild_new(&url, env.redis_prefix, "balance", 15000, 0 /* no grace */, &stop);
    cr_assert_not_null(rb);
    int64_t current = 0, building = 0;
    cr_assert_eq(projector_rebuild_begin(rb, &current, &building, errstr, sizeof(errstr)),
                 PROJECTOR_REBUILD_STARTED, "%s", errstr);
    cr_assert_eq(current, 1);
    cr_assert_eq(building, 2);

    /* A second rebuild while the lease is held. */
    projector_rebuild *other =
        projector_rebuild_new(&url, env.redis_prefix, "balance", 15000, 0, &stop);
    cr_assert_eq(projector_rebuild_begin(other, &current, &building, errstr, sizeof(errstr)),
                 PROJECTOR_REBUILD_BUSY);
    cr_assert_not_null(strstr(errstr, "generation 2 is being built"), "%s", errstr);
    projector_rebuild_destroy(other);

    /* Generation 1 is ahead on partition 1: no switch. */
    char g1[PROJECTOR_KEY_BUF], g2[PROJECTOR_KEY_BUF];
    projector_keys_checkpoints(env.redis_prefix, "balance", 1, g1, sizeof(g1));
    projector_keys_checkpoints(env.redis_prefix, "balance", 2, g2, sizeof(g2));
    redis_ok(c, "HSET %s 0 10 1 %s", g1, "7", NULL);
    redis_ok(c, "HSET %s 0 12 1 %s", g2, "6", NULL);
    cr_assert_eq(projector_rebuild_switch(rb), PROJECTOR_REBUILD_NOT_YET);
    cr_assert_eq(current_generation(&env, c), 1);
    /* ... nor when generation 2 has no checkpoint where 1 has one. */
    redis_ok(c, "HSET %s 1 7 3 %s", g1, "1", NULL);
    redis_ok(c, "HSET %s 1 %s", g2, "7", NULL);
    cr_assert_eq(projector_rebuild_switch(rb), PROJECTOR_REBUILD_NOT_YET);
    cr_assert_eq(current_generation(&env, c), 1);

    /* Caught up everywhere: switched, building and lease gone; asking
     * again (a retry after a lost reply) says switched. */
    redis_ok(c, "HSET %s 3 %s", g2, "1", NULL);
    cr_assert_eq(projector_rebuild_switch(rb), PROJECTOR_REBUILD_SWITCHED);
    cr_assert_eq(current_generation(&env, c), 2);
    char key[PROJECTOR_KEY_BUF];
    projector_keys_building(env.redis_prefix, "balance", key, sizeof(key));
    cr_assert(!key_exists(c, key));
    projector_keys_rebuild_lease(env.redis_prefix, "balance", key, sizeof(key));
    cr_assert(!key_exists(c, key));
    cr_assert_eq(projector_rebuild_switch(rb), PROJECTOR_REBUILD_SWITCHED);

    /* The old generation goes, the new one stays. */
    char extra[PROJECTOR_KEY_BUF];
    projector_keys_account(env.redis_prefix, "balance", 1, "A", "state", extra, sizeof(extra));
    redis_ok(c, "HSET %s balance 1 version %s", extra, "1", NULL);
    cr_assert_eq(projector_rebuild_remove_old(rb), 2);
    cr_assert_eq(generation_keys(&env, c, 1), 0);
    cr_assert_eq(generation_keys(&env, c, 2), 1);

    /* A later rebuild builds generation 3; the switch refuses once the
     * generations it names have moved. */
    other = projector_rebuild_new(&url, env.redis_prefix, "balance", 15000, 0, &stop);
    cr_assert_eq(projector_rebuild_begin(other, &current, &building, errstr, sizeof(errstr)),
                 PROJECTOR_REBUILD_STARTED, "%s", errstr);
    cr_assert_eq(current, 2);
    cr_assert_eq(building, 3);
    projector_keys_building(env.redis_prefix, "balance", key, sizeof(key));
    redis_ok(c, "SET %s %s", key, "9", NULL);
    cr_assert_eq(projector_rebuild_switch(other), PROJECTOR_REBUILD_LOST);
    cr_assert_eq(current_generation(&env, c), 2);

    projector_rebuild_destroy(other);

    /* A rebuild that stops before its switch leaves nothing behind: its
     * lease, building and generation go, and the next one starts at once. */
    redis_ok(c, "DEL %s", key, NULL, NULL);
    other = projector_rebuild_new(&url, env.redis_prefix, "balance", 15000, 0, &stop);
    cr_assert_eq(projector_rebuild_begin(other, &current, &building, errstr, sizeof(errstr)),
                 PROJECTOR_REBUILD_STARTED, "%s", errstr);
    cr_assert_eq(building, 3);
    char half[PROJECTOR_KEY_BUF];
    projector_keys_account(env.redis_prefix, "balance", 3, "A", "state", half, sizeof(half));
    redis_ok(c, "HSET %s balance 1 version %s", half, "1", NULL);
    projector_rebuild_abandon(other);
    projector_rebuild_destroy(other);
    cr_assert(!key_exists(c, key), "building is removed");
    projector_keys_rebuild_lease(env.redis_prefix, "balance", key, sizeof(key));
    cr_assert(!key_exists(c, key), "the lease is removed");
    cr_assert_eq(generation_keys(&env, c, 3), 0);
    cr_assert_eq(current_generation(&env, c), 2);

    projector_rebuild_destroy(rb);
    redisFree(c);
    pt_env_cleanup(&env);
}
