/*
 * test_producer_harness.c - topics, the producer child process, a command
 * client and the results/events readers of the producer suites (see the
 * header).
 *
 * The readers assign every partition from the beginning with
 * isolation.level=read_committed, so they see exactly what a transaction
 * committed. The producer's stderr goes to a file that the tests search for
 * its log lines (readiness, restore counts, warnings).
 */
#include "test_producer_harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "ids.h"
#include "kafka_test.h"

extern char **environ;

static rd_kafka_conf_t *ph_conf(ledger_kafka_role role) {
    char errstr[512];
    rd_kafka_conf_t *conf = ledger_kafka_conf_new(kt_brokers(), role, NULL, errstr, sizeof(errstr));
    cr_assert_not_null(conf, "%s", errstr);
    return conf;
}

static void ph_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char errstr[512];
    cr_assert_eq(rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)), RD_KAFKA_CONF_OK,
                 "%s=%s: %s", key, value, errstr);
}

static void ph_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    int64_t *offset = msg->_private;
    if (offset != NULL)
        *offset = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ? msg->offset : -2;
}

static rd_kafka_t *ph_reader(const char *topic, const char *group) {
    rd_kafka_conf_t *conf = ph_conf(LEDGER_KAFKA_CONSUMER);
    ph_set(conf, "group.id", group);
    ph_set(conf, "enable.auto.commit", "false");
    ph_set(conf, "isolation.level", "read_committed");
    rd_kafka_t *rk = kt_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PH_PARTITIONS);
    for (int p = 0; p < PH_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

void ph_setup(ph_env *env) {
    memset(env, 0, sizeof(*env));
    char errstr[512];
    env->codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(env->codec, "%s", errstr);
    snprintf(env->prefix, sizeof(env->prefix), "t%d-%08x.", (int)getpid(), kt_random_u32());
    snprintf(env->group, sizeof(env->group), "%sproducer", env->prefix);

    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    cr_assert_eq(ledger_kafka_ledger_topic_specs(env->prefix, PH_PARTITIONS, 1, specs, errstr,
                                                 sizeof(errstr)),
                 0, "%s", errstr);
    cr_assert_eq(ledger_kafka_create_topics(kt_brokers(), NULL, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                            30000, outcomes, errstr, sizeof(errstr)),
                 0, "create topics: %s", errstr);
    for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++)
        memcpy(env->topics[t], specs[t].name, sizeof(env->topics[t]));

    rd_kafka_conf_t *conf = ph_conf(LEDGER_KAFKA_PRODUCER);
    ph_set(conf, "enable.idempotence", "true");
    ph_set(conf, "linger.ms", "1");
    rd_kafka_conf_set_dr_msg_cb(conf, ph_dr_cb);
    env->client = kt_client(RD_KAFKA_PRODUCER, conf);

    char group[160];
    snprintf(group, sizeof(group), "%sreader-results", env->prefix);
    env->results = ph_reader(env->topics[LEDGER_KAFKA_TOPIC_COMMAND_RESULTS], group);
    snprintf(group, sizeof(group), "%sreader-events", env->prefix);
    env->events = ph_reader(env->topics[LEDGER_KAFKA_TOPIC_EVENTS], group);
    snprintf(env->log_path, sizeof(env->log_path), "/tmp/ledger-producer-%sdlog", env->prefix);
    unlink(env->log_path);
}

static void ph_kill(ph_env *env) {
    if (env->pid > 0) {
        kill(env->pid, SIGKILL);
        waitpid(env->pid, NULL, 0);
        env->pid = 0;
    }
}

void ph_teardown(ph_env *env) {
    ph_kill(env);
    if (env->client != NULL)
        rd_kafka_destroy(env->client);
    if (env->results != NULL) {
        rd_kafka_consumer_close(env->results);
        rd_kafka_destroy(env->results);
    }
    if (env->events != NULL) {
        rd_kafka_consumer_close(env->events);
        rd_kafka_destroy(env->events);
    }
    if (env->topics[0][0] != '\0') {
        const char *names[LEDGER_KAFKA_TOPIC_COUNT];
        for (int t = 0; t < LEDGER_KAFKA_TOPIC_COUNT; t++)
            names[t] = env->topics[t];
        kt_delete_topics(names, LEDGER_KAFKA_TOPIC_COUNT);
    }
    free(env->result_log);
    free(env->event_log);
    ledger_codec_destroy(env->codec);
    memset(env, 0, sizeof(*env));
}

/* ---- the producer process ---- */

const char *ph_log(ph_env *env) {
    static char buf[1 << 20];
    buf[0] = '\0';
    int fd = open(env->log_path, O_RDONLY);
    if (fd < 0)
        return buf;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
    lseek(fd, from, SEEK_SET);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < sizeof(buf) && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
    return buf;
}

static off_t ph_log_size(ph_env *env) {
    struct stat st;
    return stat(env->log_path, &st) == 0 ? st.st_size : 0;
}

/* Whether the log, from byte `from` on, contains `needle`. */
static bool ph_log_has(ph_env *env, off_t from, const char *needle) {
    const char *log = ph_log(env);
    off_t total = ph_log_size(env);
    size_t len = strlen(log);
    /* ph_log keeps the tail: map `from` into it. */
    off_t skip = from - (total - (off_t)len);
    if (skip < 0)
        skip = 0;
    if ((size_t)skip > len)
        return false;
    return strstr(log + skip, needle) != NULL;
}

void ph_start(ph_env *env, const char *const *args) {
    cr_assert_eq(env->pid, 0, "a producer is already running");
    off_t from = ph_log_size(env);
    const char *argv[32] = {LEDGER_PRODUCER_BIN};
    size_t argc = 1;
    for (size_t i = 0; args != NULL && args[i] != NULL && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    char brokers[512], prefix[128], group[160];
    snprintf(brokers, sizeof(brokers), "LEDGER_BROKERS=%s", kt_brokers());
    snprintf(prefix, sizeof(prefix), "LEDGER_TOPIC_PREFIX=%s", env->prefix);
    snprintf(group, sizeof(group), "LEDGER_PRODUCER_GROUP_ID=%s", env->group);

    int fd = open(env->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq(fd, 0, "cannot open '%s': %s", env->log_path, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        /* No LEDGER_* setting but the test's own. */
        for (;;) {
            char name[256] = "";
            for (char **e = environ; *e != NULL; e++) {
                if (strncmp(*e, "LEDGER_", 7) == 0) {
                    snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                    break;
                }
            }
            if (name[0] == '\0')
                break;
            unsetenv(name);
        }
        putenv(brokers);
        putenv(prefix);
        putenv(group);
        putenv((char *)"LEDGER_LOG_LEVEL=debug");
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(LEDGER_PRODUCER_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fd);
    env->pid = pid;

    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    for (;;) {
        if (ph_log_has(env, from, "ledger-producer: ready\n"))
            return;
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            env->pid = 0;
            cr_assert_fail("ledger-producer exited (status %d) before it was ready; log: %s",
                           status, env->log_path);
        }
        cr_assert_lt(kt_now_ms(), deadline, "ledger-producer not ready within %d ms; log: %s",
                     PH_TIMEOUT_MS, env->log_path);
        /* Wait on Kafka rather than sleep: serve the client's callbacks. */
        rd_kafka_poll(env->client, 50);
    }
}

void ph_stop(ph_env *env) {
    cr_assert_gt(env->pid, 0, "no producer is running");
    cr_assert_eq(kill(env->pid, SIGTERM), 0);
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    int status = 0;
    while (waitpid(env->pid, &status, WNOHANG) != env->pid) {
        if (kt_now_ms() > deadline) {
            ph_kill(env);
            cr_assert_fail("ledger-producer did not stop within %d ms of SIGTERM; log: %s",
                           PH_TIMEOUT_MS, env->log_path);
        }
        rd_kafka_poll(env->client, 50);
    }
    env->pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "ledger-producer stopped with status %d; log: %s", status, env->log_path);
}

/* ---- commands ---- */

ledger_command ph_cmd(ledger_command_type type, const char *id, const char *account, const char *to,
                      int64_t amount) {
    ledger_command cmd;
    ledger_command_init(&cmd);
    cmd.type = type;
    ledger_id_copy(cmd.id, sizeof(cmd.id), id);
    ledger_id_copy(cmd.account, sizeof(cmd.account), account);
    if (to != NULL)
        ledger_id_copy(cmd.to, sizeof(cmd.to), to);
    cmd.amount = amount;
    return cmd;
}

int64_t ph_send_raw(ph_env *env, const void *key, size_t key_len, int32_t partition,
                    const void *value, size_t len) {
    int64_t offset = -1;
    size_t klen = key != NULL ? key_len : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        env->client, RD_KAFKA_V_TOPIC(env->topics[LEDGER_KAFKA_TOPIC_COMMANDS]),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, klen),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(env->client, PH_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_geq(offset, 0, "the command was not delivered");
    return offset;
}

void ph_send(ph_env *env, const ledger_command *cmd) {
    uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
    size_t len = 0;
    char errstr[256];
    cr_assert_eq(ledger_codec_encode_command(env->codec, cmd, buf, sizeof(buf), &len, errstr,
                                             sizeof(errstr)),
                 0, "%s", errstr);
    ph_send_raw(env, cmd->account, strnlen(cmd->account, sizeof(cmd->account)),
                RD_KAFKA_PARTITION_UA, buf, len);
}

void ph_send_many(ph_env *env, const ledger_command *cmds, size_t n) {
    char errstr[256];
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[LEDGER_CODEC_COMMAND_MAX];
        size_t len = 0;
        cr_assert_eq(ledger_codec_encode_command(env->codec, &cmds[i], buf, sizeof(buf), &len,
                                                 errstr, sizeof(errstr)),
                     0, "%s", errstr);
        size_t klen = strnlen(cmds[i].account, sizeof(cmds[i].account));
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                env->client, RD_KAFKA_V_TOPIC(env->topics[LEDGER_KAFKA_TOPIC_COMMANDS]),
                RD_KAFKA_V_KEY(cmds[i].account, klen), RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(env->client, 10);
                continue;
            }
            cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
            break;
        }
    }
    cr_assert_eq(rd_kafka_flush(env->client, PH_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Reads what the results topic has within `timeout_ms`. */
static void ph_read_results(ph_env *env, int timeout_ms) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(env->results, timeout_ms);
    while (msg != NULL) {
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (env->result_count == env->result_cap) {
                env->result_cap = env->result_cap ? env->result_cap * 2 : 256;
                env->result_log =
                    realloc(env->result_log, env->result_cap * sizeof(*env->result_log));
                cr_assert_not_null(env->result_log);
            }
            ledger_result *r = &env->result_log[env->result_count];
            char errstr[256];
            cr_assert_eq(ledger_codec_decode_result(env->codec, msg->payload, msg->len, r, errstr,
                                                    sizeof(errstr)),
                         0, "result at %d:%lld: %s", (int)msg->partition, (long long)msg->offset,
                         errstr);
            /* Keyed by command id, on its murmur2 partition. */
            cr_assert_eq(msg->key_len, strlen(r->command_id), "result key of '%s'", r->command_id);
            cr_assert_eq(memcmp(msg->key, r->command_id, msg->key_len), 0);
            cr_assert_eq(msg->partition, ph_partition_of(r->command_id));
            env->result_count++;
        } else {
            cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR__PARTITION_EOF, "results reader: %s",
                         rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
        msg = rd_kafka_consumer_poll(env->results, 0);
    }
}

int ph_result_count(ph_env *env, const char *command_id) {
    int n = 0;
    for (size_t i = 0; i < env->result_count; i++)
        n += strcmp(env->result_log[i].command_id, command_id) == 0;
    return n;
}

ledger_result ph_wait_result(ph_env *env, const char *command_id, int n) {
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    for (;;) {
        int seen = 0;
        for (size_t i = 0; i < env->result_count; i++) {
            if (strcmp(env->result_log[i].command_id, command_id) == 0 && ++seen == n)
                return env->result_log[i];
        }
        cr_assert_lt(kt_now_ms(), deadline, "no result #%d for '%s' within %d ms; log: %s", n,
                     command_id, PH_TIMEOUT_MS, env->log_path);
        ph_read_results(env, 100);
    }
}

void ph_wait_result_total(ph_env *env, size_t total) {
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    size_t seen = env->result_count;
    while (env->result_count < total) {
        if (env->result_count > seen) {
            seen = env->result_count; /* progress: the deadline is for silence */
            deadline = kt_now_ms() + PH_TIMEOUT_MS;
        }
        cr_assert_lt(kt_now_ms(), deadline, "%zu results of %zu after %d ms without one; log: %s",
                     env->result_count, total, PH_TIMEOUT_MS, env->log_path);
        ph_read_results(env, 100);
    }
}

ledger_result ph_do(ph_env *env, const ledger_command *cmd) {
    char id[LEDGER_COMMAND_ID_BUF];
    snprintf(id, sizeof(id), "%s", cmd->id);
    ph_read_results(env, 0);
    int before = ph_result_count(env, id);
    ph_send(env, cmd);
    return ph_wait_result(env, id, before + 1);
}

void ph_assert_rejected(const ledger_result *r, ledger_reason reason) {
    cr_assert_eq(r->reason, reason, "'%s': expected %s, got %s", r->command_id,
                 ledger_reason_name(reason), ledger_reason_name(r->reason));
    cr_assert_not(r->duplicate, "'%s' is marked duplicate", r->command_id);
    cr_assert_not(r->has_event, "rejected '%s' carries an event", r->command_id);
    cr_assert_not(r->has_position, "rejected '%s' carries a position", r->command_id);
}

/* ---- events ---- */

static void ph_read_events(ph_env *env, int timeout_ms) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(env->events, timeout_ms);
    while (msg != NULL) {
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (env->event_count == env->event_cap) {
                env->event_cap = env->event_cap ? env->event_cap * 2 : 1024;
                env->event_log = realloc(env->event_log, env->event_cap * sizeof(*env->event_log));
                cr_assert_not_null(env->event_log);
            }
            ph_event *e = &env->event_log[env->event_count];
            char errstr[256];
            cr_assert_eq(ledger_codec_decode_event(env->codec, msg->payload, msg->len, &e->event,
                                                   errstr, sizeof(errstr)),
                         0, "event at %d:%lld: %s", (int)msg->partition, (long long)msg->offset,
                         errstr);
            e->partition = msg->partition;
            e->offset = msg->offset;
            /* Keyed by account, on the account's partition. */
            cr_assert_eq(msg->key_len, strlen(e->event.account));
            cr_assert_eq(memcmp(msg->key, e->event.account, msg->key_len), 0);
            cr_assert_eq(msg->partition, ph_partition_of(e->event.account),
                         "event of '%s' on partition %d", e->event.account, (int)msg->partition);
            if (msg->partition >= 0 && msg->partition < PH_PARTITIONS)
                env->events_read_to[msg->partition] = msg->offset + 1;
            env->event_count++;
        } else {
            cr_assert_eq(msg->err, RD_KAFKA_RESP_ERR__PARTITION_EOF, "events reader: %s",
                         rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
        msg = rd_kafka_consumer_poll(env->events, 0);
    }
}

void ph_wait_position(ph_env *env, int32_t partition, int64_t offset) {
    cr_assert(partition >= 0 && partition < PH_PARTITIONS);
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    while (env->events_read_to[partition] <= offset) {
        cr_assert_lt(kt_now_ms(), deadline, "event %d:%lld not read within %d ms", (int)partition,
                     (long long)offset, PH_TIMEOUT_MS);
        ph_read_events(env, 100);
    }
}

size_t ph_events_of(ph_env *env, const char *account, ph_event *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < env->event_count; i++) {
        if (strcmp(env->event_log[i].event.account, account) == 0) {
            if (out != NULL && n < max)
                out[n] = env->event_log[i];
            n++;
        }
    }
    return n;
}

size_t ph_wait_events(ph_env *env, const char *account, size_t count) {
    int64_t deadline = kt_now_ms() + PH_TIMEOUT_MS;
    for (;;) {
        size_t n = ph_events_of(env, account, NULL, 0);
        if (n >= count)
            return n;
        cr_assert_lt(kt_now_ms(), deadline, "'%s' has %zu events, not %zu, after %d ms; log: %s",
                     account, n, count, PH_TIMEOUT_MS, env->log_path);
        ph_read_events(env, 100);
    }
}

int32_t ph_partition_of(const char *key) {
    return ledger_partition_for_key(key, strlen(key), PH_PARTITIONS);
}

void ph_account_on(char *buf, size_t size, const char *stem, int32_t partition) {
    for (int n = 0; n < 100000; n++) {
        snprintf(buf, size, "%s-%d", stem, n);
        if (ph_partition_of(buf) == partition)
            return;
    }
    cr_assert_fail("no account name for partition %d", (int)partition);
}

void ph_sync_partition(ph_env *env, int32_t partition) {
    char account[64], id[96];
    /* Fresh each call: the stem gets a random part. */
    char stem[32];
    snprintf(stem, sizeof(stem), "sync%08x", kt_random_u32());
    ph_account_on(account, sizeof(account), stem, partition);
    snprintf(id, sizeof(id), "sync-%s", account);
    ledger_command open = ph_cmd(LEDGER_COMMAND_OPEN, id, account, NULL, 0);
    ledger_result r = ph_do(env, &open);
    cr_assert_eq(r.reason, LEDGER_OK, "sync account '%s': %s", account,
                 ledger_reason_name(r.reason));
    cr_assert(r.has_position);
    cr_assert_eq(r.partition, partition);
    ph_wait_position(env, r.partition, r.offset);
}

account_state ph_fold(ph_env *env, const char *account) {
    account_state state;
    account_init(&state);
    for (size_t i = 0; i < env->event_count; i++) {
        const ledger_event *e = &env->event_log[i].event;
        if (strcmp(e->account, account) != 0)
            continue;
        cr_assert_eq(account_apply(&state, e), ACCOUNT_APPLIED,
                     "'%s': event seq %lld after seq %lld", account, (long long)e->seq,
                     (long long)state.seq);
    }
    return state;
}

ph_event ph_assert_accepted(ph_env *env, const ledger_result *r, ledger_event_type type,
                            const char *account, int64_t seq) {
    cr_assert_eq(r->reason, LEDGER_OK, "'%s': expected acceptance, got %s", r->command_id,
                 ledger_reason_name(r->reason));
    cr_assert_not(r->duplicate, "'%s' is marked duplicate", r->command_id);
    cr_assert(r->has_event, "'%s' carries no event", r->command_id);
    const ledger_event *e = &r->event;
    cr_assert_eq(e->type, type, "'%s': event type %s, expected %s", r->command_id,
                 ledger_event_type_name(e->type), ledger_event_type_name(type));
    cr_assert_str_eq(e->account, account);
    cr_assert_eq(e->seq, seq, "'%s': seq %lld, expected %lld", r->command_id, (long long)e->seq,
                 (long long)seq);
    cr_assert_str_eq(e->command_id, r->command_id);
    cr_assert(ledger_uuid_valid(e->event_id, strlen(e->event_id)), "event id '%s'", e->event_id);
    cr_assert(r->has_position, "'%s' carries no position", r->command_id);
    cr_assert_eq(r->partition, ph_partition_of(account), "'%s': position on partition %d",
                 r->command_id, (int)r->partition);
    ph_wait_position(env, r->partition, r->offset);
    for (size_t i = 0; i < env->event_count; i++) {
        const ph_event *got = &env->event_log[i];
        if (got->partition != r->partition || got->offset != r->offset)
            continue;
        cr_assert_str_eq(got->event.event_id, e->event_id, "'%s': another event at %d:%lld",
                         r->command_id, (int)r->partition, (long long)r->offset);
        cr_assert_eq(got->event.type, e->type);
        cr_assert_eq(got->event.seq, e->seq);
        cr_assert_eq(got->event.amount, e->amount);
        cr_assert_eq(got->event.at_ms, e->at_ms);
        cr_assert_str_eq(got->event.command_id, e->command_id);
        cr_assert_str_eq(got->event.counterparty, e->counterparty);
        cr_assert_str_eq(got->event.transfer_id, e->transfer_id);
        return *got;
    }
    cr_assert_fail("'%s': no event at its position %d:%lld", r->command_id, (int)r->partition,
                   (long long)r->offset);
    ph_event none;
    memset(&none, 0, sizeof(none));
    return none;
}
