/*
 * test_cli_fixture.c - topics per test, the binary run with stdin, and the
 * fake producer service (see the header).
 *
 * The fake service plays ledger-producer's part of the contract only: it
 * reads ledger.Command records from the commands topic and writes a
 * CommandResult keyed by the command id to ledger_partition_for_key(id) of
 * the command-results topic. What the result says is the test's choice, so
 * the test knows the expected output without looking at the CLI's.
 */
#include "test_cli_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ids.h"
#include "kafka_test.h"

extern char **environ;

/* ---- topics ---- */

void tcf_topics_create(tcf_topics *t) {
    ledger_kafka_topic_spec specs[LEDGER_KAFKA_TOPIC_COUNT];
    ledger_kafka_topic_outcome outcomes[LEDGER_KAFKA_TOPIC_COUNT];
    char errstr[512];
    memset(t, 0, sizeof(*t));
    snprintf(t->prefix, sizeof(t->prefix), "t%d-%08x.", (int)getpid(), kt_random_u32());
    cr_assert_eq(ledger_kafka_ledger_topic_specs(t->prefix, TCF_PARTITIONS, 1, specs, errstr,
                                                 sizeof(errstr)),
                 0, "%s", errstr);
    cr_assert_eq(ledger_kafka_create_topics(kt_brokers(), NULL, specs, LEDGER_KAFKA_TOPIC_COUNT,
                                            30000, outcomes, errstr, sizeof(errstr)),
                 0, "create topics under '%s': %s", t->prefix, errstr);
    for (int i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++)
        memcpy(t->names[i], specs[i].name, sizeof(t->names[i]));
    snprintf(t->env_brokers, sizeof(t->env_brokers), "LEDGER_BROKERS=%s", kt_brokers());
    snprintf(t->env_prefix, sizeof(t->env_prefix), "LEDGER_TOPIC_PREFIX=%s", t->prefix);
    t->env[0] = t->env_brokers;
    t->env[1] = t->env_prefix;
    t->env[2] = NULL;
}

void tcf_topics_delete(tcf_topics *t) {
    const char *names[LEDGER_KAFKA_TOPIC_COUNT];
    for (int i = 0; i < LEDGER_KAFKA_TOPIC_COUNT; i++)
        names[i] = t->names[i];
    kt_delete_topics(names, LEDGER_KAFKA_TOPIC_COUNT);
}

/* ---- running the binary ---- */

static char *read_all(int fd) {
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = read(fd, buf + used, cap - 1 - used)) > 0) {
        used += (size_t)n;
        if (used + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[used] = '\0';
    close(fd);
    return buf;
}

static int temp_file(void) {
    char path[] = "/tmp/ledger-cli-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp failed");
    unlink(path);
    return fd;
}

void tcf_run(tcf_run_result *res, const char *const *argv, const char *const *env,
             const char *input) {
    int in_fd = temp_file(), out_fd = temp_file(), err_fd = temp_file();
    if (input != NULL) {
        size_t len = strlen(input), done = 0;
        while (done < len) {
            ssize_t n = write(in_fd, input + done, len - done);
            cr_assert_gt(n, 0, "cannot write the input file");
            done += (size_t)n;
        }
    }
    lseek(in_fd, 0, SEEK_SET);

    size_t argc = 0;
    while (argv[argc] != NULL)
        argc++;
    const char **full = calloc(argc + 2, sizeof(*full));
    cr_assert_not_null(full);
    full[0] = LEDGER_BIN;
    for (size_t i = 0; i < argc; i++)
        full[i + 1] = argv[i];

    int64_t start = kt_now_ms();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        for (;;) { /* no LEDGER_* setting but the test's own */
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
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        dup2(in_fd, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(LEDGER_BIN, (char *const *)full);
        _exit(127);
    }
    free(full);
    close(in_fd);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    res->elapsed_ms = kt_now_ms() - start;
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res->out = read_all(out_fd);
    res->err = read_all(err_fd);
    cr_assert_neq(res->exit_code, 127, "cannot run '%s'", LEDGER_BIN);
}

void tcf_run_free(tcf_run_result *res) {
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

/* ---- reading and writing topics ---- */

static rd_kafka_t *new_consumer(const char *group_suffix) {
    char errstr[512], group[128];
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_CONSUMER, NULL, errstr, sizeof(errstr));
    if (conf == NULL)
        return NULL;
    snprintf(group, sizeof(group), "tcf-%s-%d-%08x", group_suffix, (int)getpid(), kt_random_u32());
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static void assign_from_start(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(TCF_PARTITIONS);
    for (int p = 0; p < TCF_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Watermarks, asked again while a new topic's leader settles (the broker
 * answers NOT_LEADER for a moment after creation). */
static void watermarks(rd_kafka_t *rk, const char *topic, int partition, int64_t *low,
                       int64_t *high) {
    int64_t deadline = kt_now_ms() + 15000;
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, 5000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        cr_assert(err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                      err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                      err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                  "watermarks of '%s' %d: %s", topic, partition, rd_kafka_err2str(err));
        cr_assert_lt(kt_now_ms(), deadline, "watermarks of '%s' %d: %s", topic, partition,
                     rd_kafka_err2str(err));
        rd_kafka_poll(rk, 50); /* paces the next question */
    }
}

int64_t tcf_topic_size(const char *topic) {
    rd_kafka_t *rk = new_consumer("size");
    cr_assert_not_null(rk);
    int64_t total = 0;
    for (int p = 0; p < TCF_PARTITIONS; p++) {
        int64_t low = 0, high = 0;
        watermarks(rk, topic, p, &low, &high);
        total += high;
    }
    rd_kafka_destroy(rk);
    return total;
}

size_t tcf_read_topic(const char *topic, tcf_record *out, size_t max) {
    rd_kafka_t *rk = new_consumer("read");
    cr_assert_not_null(rk);
    int64_t high[TCF_PARTITIONS], next[TCF_PARTITIONS];
    for (int p = 0; p < TCF_PARTITIONS; p++) {
        int64_t low = 0;
        watermarks(rk, topic, p, &low, &high[p]);
        next[p] = low;
    }
    assign_from_start(rk, topic);
    size_t n = 0;
    int64_t deadline = kt_now_ms() + 15000;
    for (;;) {
        bool done = true;
        for (int p = 0; p < TCF_PARTITIONS; p++)
            done = done && next[p] >= high[p];
        if (done)
            break;
        cr_assert_lt(kt_now_ms(), deadline, "'%s' not read to its end in time", topic);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            next[msg->partition] = msg->offset + 1;
            if (n < max) {
                tcf_record *r = &out[n];
                r->partition = msg->partition;
                r->offset = msg->offset;
                r->key_len = msg->key_len < sizeof(r->key) - 1 ? msg->key_len : sizeof(r->key) - 1;
                if (msg->key != NULL)
                    memcpy(r->key, msg->key, r->key_len);
                r->key[r->key_len] = '\0';
                r->value_len = msg->len < sizeof(r->value) ? msg->len : sizeof(r->value);
                if (msg->payload != NULL)
                    memcpy(r->value, msg->payload, r->value_len);
            }
            n++;
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static void dr_offset(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    int64_t *offset = msg->_private;
    if (offset != NULL)
        *offset = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ? msg->offset : -2;
}

static rd_kafka_t *new_producer(char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf =
        ledger_kafka_conf_new(kt_brokers(), LEDGER_KAFKA_PRODUCER, NULL, errstr, errstr_size);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set(conf, "linger.ms", "0", errstr, errstr_size);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_offset);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    return rk;
}

int64_t tcf_produce(const char *topic, int32_t partition, const char *key, const void *value,
                    size_t len) {
    char errstr[512];
    rd_kafka_t *rk = new_producer(errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);
    int64_t offset = -1;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(rk, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    cr_assert_geq(offset, 0, "record to '%s' %d not delivered", topic, (int)partition);
    return offset;
}

/* ---- ids ---- */

void tcf_uuid(char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
        memset(bytes, 0x5a, sizeof(bytes));
    ledger_uuid_format(bytes, out);
}

void tcf_id_on_partition(char *out, size_t size, int32_t partition, const char * not ) {
    for (unsigned i = 0;; i++) {
        snprintf(out, size, "someone-else-%u-%08x", i, kt_random_u32());
        if (strcmp(out, not ) != 0 &&
            ledger_partition_for_key(out, strlen(out), TCF_PARTITIONS) == partition)
            return;
    }
}

void tcf_accept(ledger_result *result, const ledger_event *event, int32_t partition,
                int64_t offset) {
    result->reason = LEDGER_OK;
    result->has_event = true;
    result->event = *event;
    result->has_position = true;
    result->partition = partition;
    result->offset = offset;
}

/* ---- the fake producer service ---- */

static void fail_responder(tcf_responder *r, const char *what, const char *detail) {
    if (r->failure[0] == '\0')
        snprintf(r->failure, sizeof(r->failure), "responder: %.100s: %.300s", what, detail);
}

static void send_result(tcf_responder *r, rd_kafka_t *producer, const ledger_result *result) {
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len = 0;
    char errstr[256];
    if (ledger_codec_encode_result(r->codec, result, buf, sizeof(buf), &len, errstr,
                                   sizeof(errstr)) != 0) {
        fail_responder(r, "encode result", errstr);
        return;
    }
    const char *id = result->command_id;
    int32_t partition = ledger_partition_for_key(id, strlen(id), TCF_PARTITIONS);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(r->topics->names[LEDGER_KAFKA_TOPIC_COMMAND_RESULTS]),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(id, strlen(id)), RD_KAFKA_V_VALUE(buf, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_responder(r, "produce result", rd_kafka_err2str(err));
}

/* Someone else's result, on the partition of `id`. */
static void send_noise(tcf_responder *r, rd_kafka_t *producer, const char *id) {
    ledger_result other;
    ledger_result_init(&other);
    tcf_id_on_partition(other.command_id, sizeof(other.command_id),
                        ledger_partition_for_key(id, strlen(id), TCF_PARTITIONS), id);
    other.reason = LEDGER_INSUFFICIENT_FUNDS;
    send_result(r, producer, &other);
}

static void answer(tcf_responder *r, rd_kafka_t *producer, size_t index) {
    if ((long)index == r->skip_index)
        return;
    ledger_result result;
    ledger_result_init(&result);
    ledger_id_copy(result.command_id, sizeof(result.command_id), r->commands[index].id);
    r->answer(&r->commands[index], index, &result);
    if (r->noise)
        send_noise(r, producer, result.command_id);
    send_result(r, producer, &result);
    if (r->noise)
        send_noise(r, producer, result.command_id);
    rd_kafka_flush(producer, 10000);
    r->answered++;
}

static void *responder_main(void *arg) {
    tcf_responder *r = arg;
    char errstr[512];
    rd_kafka_t *consumer = r->consumer;
    rd_kafka_t *producer = r->producer;

    int64_t deadline = kt_now_ms() + 20000;
    while (r->received < r->expect && kt_now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, 100);
        if (msg == NULL)
            continue;
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR || r->received >= TCF_MAX_COMMANDS) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        size_t i = r->received;
        if (ledger_codec_decode_command(r->codec, msg->payload, msg->len, &r->commands[i], errstr,
                                        sizeof(errstr)) != 0) {
            fail_responder(r, "decode command", errstr);
            rd_kafka_message_destroy(msg);
            continue;
        }
        tcf_record *rec = &r->records[i];
        rec->partition = msg->partition;
        rec->offset = msg->offset;
        rec->key_len = msg->key_len < sizeof(rec->key) - 1 ? msg->key_len : sizeof(rec->key) - 1;
        if (msg->key != NULL)
            memcpy(rec->key, msg->key, rec->key_len);
        rec->key[rec->key_len] = '\0';
        rd_kafka_message_destroy(msg);
        r->received++;
        if (r->order == TCF_IN_ORDER)
            answer(r, producer, i);
    }
    if (r->order == TCF_REVERSE) {
        for (size_t i = r->received; i-- > 0;)
            answer(r, producer, i);
    } else if (r->order == TCF_SHUFFLE) {
        size_t perm[TCF_MAX_COMMANDS];
        for (size_t i = 0; i < r->received; i++)
            perm[i] = i;
        for (size_t i = r->received; i > 1; i--) {
            size_t j = kt_random_u32() % i;
            size_t tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        for (size_t i = 0; i < r->received; i++)
            answer(r, producer, perm[i]);
    }
    rd_kafka_flush(producer, 10000);
    return NULL;
}

void tcf_responder_start(tcf_responder *r) {
    char errstr[512];
    r->codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(r->codec, "%s", errstr);
    r->received = r->answered = 0;
    r->failure[0] = '\0';
    /* The clients are made and assigned here, so that the consumer is in
     * place (from offset 0) before the test runs the CLI. */
    r->consumer = new_consumer("responder");
    cr_assert_not_null(r->consumer);
    r->producer = new_producer(errstr, sizeof(errstr));
    cr_assert_not_null(r->producer, "%s", errstr);
    assign_from_start(r->consumer, r->topics->names[LEDGER_KAFKA_TOPIC_COMMANDS]);
    cr_assert_eq(pthread_create(&r->thread, NULL, responder_main, r), 0);
}

void tcf_responder_join(tcf_responder *r) {
    pthread_join(r->thread, NULL);
    rd_kafka_destroy(r->producer);
    rd_kafka_consumer_close(r->consumer);
    rd_kafka_destroy(r->consumer);
    ledger_codec_destroy(r->codec);
    r->codec = NULL;
    cr_assert_str_eq(r->failure, "", "%s", r->failure);
}
