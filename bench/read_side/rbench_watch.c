/*
 * rbench_watch.c - figures (c), (f) and the catch-up of (h) and (i): runs a
 * projector command, polls its view's checkpoints in Redis every 5 ms until
 * every partition's checkpoint reaches the topic's end (taken before the
 * start), then reads the projector's peak RSS (VmHWM) and stops it
 * (SIGTERM, so a valgrind run writes its profile) or, with -k, leaves it
 * running. Redis, not the projector's log, says what was applied: the same
 * truth the queries use.
 *
 *     rbench_watch [-k] BROKERS TOPIC REDIS_PORT NS VIEW -- COMMAND ARGS...
 *
 * Prints "RESULT events=N seconds=S rate=R first=F steady=R2 hwm_kb=K pid=P":
 * S from the start of COMMAND to caught up, F until the first checkpoint
 * appeared (start-up and group join), R2 = N / (S - F).
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "projector_keys.h"
#include "rbench_common.h"

static long vm_hwm_kb(pid_t pid) {
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

/* How many of the n partitions have reached their end; *any when some
 * checkpoint exists. -1 on a Redis error. */
static int caught_up(redisContext *rc, const char *ns, const char *view, const int64_t *ends, int n,
                     int *any) {
    char key[PROJECTOR_KEY_BUF];
    int64_t gen = PROJECTOR_FIRST_GENERATION;
    projector_keys_current(ns, view, key, sizeof(key));
    redisReply *r = redisCommand(rc, "GET %s", key);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        gen = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    projector_keys_checkpoints(ns, view, gen, key, sizeof(key));
    r = redisCommand(rc, "HGETALL %s", key);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    int64_t cp[RBENCH_MAX_PARTITIONS];
    for (int p = 0; p < n; p++)
        cp[p] = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        int p = atoi(r->element[i]->str);
        if (p >= 0 && p < n)
            cp[p] = strtoll(r->element[i + 1]->str, NULL, 10);
    }
    *any = r->elements > 0;
    freeReplyObject(r);
    int done = 0;
    for (int p = 0; p < n; p++)
        done += cp[p] >= ends[p];
    return done;
}

int main(int argc, char **argv) {
    int keep = 0, a = 1;
    if (a < argc && strcmp(argv[a], "-k") == 0) {
        keep = 1;
        a++;
    }
    if (argc - a < 7 || strcmp(argv[a + 5], "--") != 0) {
        fprintf(stderr,
                "usage: rbench_watch [-k] BROKERS TOPIC REDIS_PORT NS VIEW -- COMMAND ARGS...\n");
        return 2;
    }
    const char *brokers = argv[a], *topic = argv[a + 1], *ns = argv[a + 3], *view = argv[a + 4];
    int port = atoi(argv[a + 2]);
    char **cmd = argv + a + 6;
    ledger_log_init("rbench_watch", LEDGER_LOG_LEVEL_WARN);

    int64_t ends[RBENCH_MAX_PARTITIONS];
    int n = 0;
    if (rbench_topic_ends(brokers, topic, ends, &n) != 0)
        return 1;
    int64_t total = 0;
    for (int p = 0; p < n; p++)
        total += ends[p];
    redisContext *rc = redisConnect("127.0.0.1", port);
    if (rc == NULL || rc->err) {
        fprintf(stderr, "rbench_watch: cannot reach redis on port %d\n", port);
        return 1;
    }

    double t0 = rbench_now(), first = -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* stdout is this program's result: with -k the command outlives it
         * and must not hold a pipe reading it open */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(cmd[0], cmd);
        perror("rbench_watch: exec");
        _exit(127);
    }
    int rc_exit = 1, status = 0;
    const struct timespec tick = {0, 5 * 1000 * 1000};
    for (;;) {
        int any = 0;
        int done = caught_up(rc, ns, view, ends, n, &any);
        double now = rbench_now();
        if (done < 0) {
            fprintf(stderr, "rbench_watch: redis error\n");
            break;
        }
        if (any && first < 0)
            first = now - t0;
        if (done == n) {
            double dt = now - t0;
            long hwm = vm_hwm_kb(pid);
            printf("RESULT events=%" PRId64 " seconds=%.3f rate=%.0f first=%.3f steady=%.0f "
                   "hwm_kb=%ld pid=%d\n",
                   total, dt, (double)total / dt, first,
                   dt > first ? (double)total / (dt - first) : 0.0, hwm, (int)pid);
            fflush(stdout);
            rc_exit = 0;
            break;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "rbench_watch: '%s' ended (status %d) before catching up\n", cmd[0],
                    status);
            redisFree(rc);
            return 1;
        }
        if (now - t0 > 1800) {
            fprintf(stderr, "rbench_watch: not caught up after 1800 s\n");
            break;
        }
        nanosleep(&tick, NULL);
    }
    redisFree(rc);
    if (!keep || rc_exit != 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    return rc_exit;
}
