/*
 * cmd_submit.c - `ledger submit`: a stream of commands, pipelined.
 *
 * One thread, one loop, no round trip per command:
 *   - before anything is sent, a consumer is assigned to EVERY partition of
 *     the command-results topic at its current end (result_wait);
 *   - input is read as it comes (poll(2) on stdin, so that results are
 *     printed while a slow writer is still typing), each line checked and
 *     either produced at once (librdkafka batches: linger.ms=1, large
 *     batches) or refused in place, never sent;
 *   - results are matched to their lines by command id (submit_window) and
 *     printed in input order as soon as the oldest line has one.
 * At most WINDOW lines are in flight: when the window is full, input is
 * not read until the oldest line is printed, so memory is bounded however
 * long the input. The window is what keeps the pipeline full: a line's
 * round trip is about two of the producer's transactions (it waits for the
 * one under way, then goes in the next), a few hundred ms under load, so
 * throughput is at most WINDOW / round trip. With 10,000 lines that cap
 * was 25,000 to 50,000 commands/s, and on a loaded machine a stream ran at
 * it (bench/command_side.sh measured about 25,000/s with 10,000 and 30,000
 * to 48,000/s with 50,000); the default of 50,000 (about 45 MB once full)
 * keeps the cap above the producer's pace. Per command nothing is
 * allocated by this code: the line buffer, the encode buffer, the output
 * buffer and the window are made once (librdkafka copies each message, as
 * it must).
 *
 * A line's result is missing when it has not come --timeout after the line
 * was sent; then submit stops reading, prints what has arrived, names what
 * has not on stderr and exits 3.
 */
#include "cmd_submit.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "codec.h"
#include "command_input.h"
#include "json_out.h"
#include "kafka.h"
#include "log.h"
#include "result_wait.h"
#include "submit_window.h"

#define LINE_MAX_BYTES  65536
#define INPUT_BUF_BYTES (4 * LINE_MAX_BYTES)
#define MISSING_NAMED   20 /* missing commands named one by one, then counted */

static const ledger_config_setting submit_settings[] = {
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .metavar = "SECONDS",
     .help = "how long each sent command's result may take (seconds, or 500ms, 2m); then exit 3"},
    {.name = "window",
     .flag = "window",
     .type = LEDGER_CONFIG_INT,
     .def = "50000",
     .min = 1,
     .max = 1000000,
     .metavar = "N",
     .help = "most input lines in flight (sent, result not yet printed; about 1 KB of memory "
             "each)"},
    LEDGER_CONFIG_END,
};

static const char submit_usage[] = "ledger submit [options] < commands.jsonl";

static const char submit_description[] =
    "Reads commands as JSON lines on stdin, e.g.\n"
    "  {\"id\":\"c1\",\"type\":\"transfer\",\"account\":\"A\",\"to\":\"B\",\"amount\":\"5.00\","
    "\"at\":\"2026-11-26T10:00:00Z\"}\n"
    "(type: open|deposit|withdraw|transfer|close; open takes \"overdraft\"; \"id\" and\n"
    "\"at\" are optional: a new UUID, the producer's clock). Sends them without\n"
    "waiting for each other and prints one result line per input line, in input\n"
    "order, as ledger deposit does. A bad line (not JSON, unknown type, missing\n"
    "field, bad id, time, account or amount) is not sent: its line is\n"
    "{\"command_id\":...,\"status\":\"rejected\",\"reason\":...,\"error\":...}, and the stream\n"
    "goes on. Blank lines are skipped.\n"
    "Exit codes: 0 every line got a result line (rejections included), 2 bad\n"
    "usage, 3 Kafka unreachable or results missing after --timeout (what arrived\n"
    "is printed, what did not is named on stderr).";

typedef struct submit {
    const ledger_config *cfg;
    const ledger_codec *codec;
    submit_window *window;
    result_wait *rw;
    rd_kafka_t *producer;
    rd_kafka_topic_t *topic;
    int64_t timeout_ms;
    /* input */
    char *in;
    size_t in_start, in_end;
    bool in_eof;
    bool in_discarding; /* inside an over-long line: drop up to its newline */
    uint64_t line_no;
    /* outcome */
    bool failed; /* some line will have no result line */
    uint8_t value[LEDGER_CODEC_COMMAND_MAX];
    char out[8192];
} submit;

/* ---- results and output ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    submit *s = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        submit_window_fail(s->window, (uint64_t)(uintptr_t)msg->_private,
                           rd_kafka_err2str(msg->err));
}

static void print_slot(submit *s, const submit_slot *slot) {
    json_out j;
    json_out_init(&j, s->out, sizeof(s->out));
    switch (slot->state) {
        case SUBMIT_SLOT_DONE:
            json_out_result(&j, &slot->result);
            break;
        case SUBMIT_SLOT_REFUSED:
            json_out_rejection(&j, slot->has_id ? slot->id : NULL, slot->id_len, slot->reason,
                               slot->error);
            break;
        case SUBMIT_SLOT_FAILED:
            fprintf(stderr, "ledger: line %llu: command '%s' was not sent: %s\n",
                    (unsigned long long)slot->line, slot->id, slot->error);
            s->failed = true;
            return;
        case SUBMIT_SLOT_PENDING:
            return;
    }
    if (!json_out_ok(&j)) {
        fprintf(stderr, "ledger: line %llu: result too large to print\n",
                (unsigned long long)slot->line);
        s->failed = true;
        return;
    }
    size_t len = json_out_len(&j);
    s->out[len] = '\n';
    fwrite(s->out, 1, len + 1, stdout);
}

/* Prints and drops the oldest lines while they are settled. */
static void print_ready(submit *s) {
    const submit_slot *head;
    while ((head = submit_window_head(s->window)) != NULL && head->state != SUBMIT_SLOT_PENDING) {
        print_slot(s, head);
        submit_window_pop(s->window);
    }
}

/* Takes every result that has arrived, waiting up to wait_ms for the first.
 * Returns 0, or -1 on a fatal consumer error (reported). */
static int take_results(submit *s, int wait_ms) {
    char errstr[512];
    ledger_result result;
    int rc;
    int taken = 0;
    while ((rc = result_wait_next(s->rw, taken == 0 ? wait_ms : 0, &result, errstr,
                                  sizeof(errstr))) == 1) {
        if (!submit_window_resolve(s->window, &result))
            LOG_DEBUG("ignoring the result of command '%s': not one of ours, or answered already",
                      result.command_id);
        if (++taken >= 10000)
            break; /* let the loop print and read too */
    }
    if (rc < 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        return -1;
    }
    return 0;
}

/* ---- input ---- */

static void refuse(submit *s, const command_input_error *err) {
    submit_window_add_refused(s->window, s->line_no, err->has_id ? err->id : NULL, err->id_len,
                              err->reason, err->message);
}

/* Produces one command, waiting while librdkafka's queue is full. */
static void send_command(submit *s, const ledger_command *command) {
    char errstr[512];
    size_t len = 0;
    uint64_t seq = submit_window_add_pending(s->window, s->line_no, command->id, ledger_mono_ms());
    if (ledger_codec_encode_command(s->codec, command, s->value, sizeof(s->value), &len, errstr,
                                    sizeof(errstr)) != 0) {
        submit_window_fail(s->window, seq, errstr);
        return;
    }
    for (;;) {
        if (rd_kafka_produce(s->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, s->value, len,
                             command->account, strlen(command->account),
                             (void *)(uintptr_t)seq) == 0)
            return;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            submit_window_fail(s->window, seq, rd_kafka_err2str(err));
            return;
        }
        rd_kafka_poll(s->producer, 10); /* delivery reports make room */
    }
}

static bool is_blank(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    }
    return true;
}

static void handle_line(submit *s, const char *line, size_t len) {
    s->line_no++;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (is_blank(line, len))
        return;
    ledger_command command;
    command_input_error err;
    if (command_input_parse_line(line, len, &command, &err) != 0)
        refuse(s, &err);
    else
        send_command(s, &command);
}

/* Handles the complete lines in the input buffer while the window has
 * room (and the last, unterminated line at end of input). Returns how many
 * lines it consumed. */
static size_t handle_buffered(submit *s) {
    size_t handled = 0;
    while (!submit_window_full(s->window) && s->in_start < s->in_end) {
        char *start = s->in + s->in_start;
        size_t avail = s->in_end - s->in_start;
        char *nl = memchr(start, '\n', avail);
        if (s->in_discarding) {
            if (nl == NULL) {
                s->in_start = s->in_end;
                break;
            }
            s->in_discarding = false;
            s->in_start += (size_t)(nl - start) + 1;
            continue;
        }
        size_t len = nl != NULL ? (size_t)(nl - start) : avail;
        if (len > LINE_MAX_BYTES) {
            command_input_error err;
            command_input_error_init(&err);
            err.reason = LEDGER_MALFORMED_COMMAND;
            snprintf(err.message, sizeof(err.message), "line longer than %d bytes", LINE_MAX_BYTES);
            s->line_no++;
            refuse(s, &err);
            handled++;
            if (nl == NULL) { /* drop the rest of it as it comes */
                s->in_discarding = true;
                s->in_start = s->in_end;
                break;
            }
            s->in_start += len + 1;
            continue;
        }
        if (nl == NULL && !s->in_eof)
            break; /* the rest of the line is still to come */
        handle_line(s, start, len);
        s->in_start += nl != NULL ? len + 1 : len;
        handled++;
    }
    if (s->in_start == s->in_end)
        s->in_start = s->in_end = 0;
    return handled;
}

/* Reads what stdin has, waiting up to wait_ms. Returns -1 on a read error
 * (reported), else 0. */
static int read_input(submit *s, int wait_ms) {
    if (s->in_start > 0) { /* keep the partial line at the front */
        memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
        s->in_end -= s->in_start;
        s->in_start = 0;
    }
    if (s->in_end == INPUT_BUF_BYTES)
        return 0; /* full of one long line: handle_buffered refuses it */
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    int ready = poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) {
        fprintf(stderr, "ledger: cannot wait for input: %s\n", strerror(errno));
        return -1;
    }
    if (ready <= 0)
        return 0;
    ssize_t n = read(STDIN_FILENO, s->in + s->in_end, INPUT_BUF_BYTES - s->in_end);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return 0;
        fprintf(stderr, "ledger: cannot read input: %s\n", strerror(errno));
        return -1;
    }
    if (n == 0)
        s->in_eof = true;
    s->in_end += (size_t)n;
    return 0;
}

/* ---- the end ---- */

/* The oldest line waited too long: print what came, name what did not. */
static void report_timeout(submit *s) {
    char shown[32];
    cli_kafka_format_duration(s->timeout_ms, shown, sizeof(shown));
    const submit_slot *head = submit_window_head(s->window);
    fprintf(stderr,
            "ledger: timeout: no result within %s for command '%s' (line %llu); is "
            "ledger-producer running?\n",
            shown, head->id, (unsigned long long)head->line);
    size_t missing = 0;
    uint64_t last_line = 0;
    while ((head = submit_window_head(s->window)) != NULL) {
        last_line = head->line;
        if (head->state == SUBMIT_SLOT_PENDING) {
            if (missing < MISSING_NAMED)
                fprintf(stderr, "ledger: no result for command '%s' (line %llu)\n", head->id,
                        (unsigned long long)head->line);
            missing++;
        } else {
            print_slot(s, head);
        }
        submit_window_pop(s->window);
    }
    if (missing > MISSING_NAMED)
        fprintf(stderr, "ledger: ... and %zu more commands without a result\n",
                missing - MISSING_NAMED);
    if (!s->in_eof || s->in_start < s->in_end)
        fprintf(stderr, "ledger: input after line %llu was not read\n",
                (unsigned long long)(s->line_no > last_line ? s->line_no : last_line));
    s->failed = true;
}

static int run(submit *s) {
    for (;;) {
        if (take_results(s, 0) != 0)
            return CLI_EXIT_INFRA;
        rd_kafka_poll(s->producer, 0);
        print_ready(s);

        const submit_slot *head = submit_window_head(s->window);
        bool input_done = s->in_eof && s->in_start == s->in_end;
        if (head == NULL && input_done)
            break;
        if (head != NULL && head->state == SUBMIT_SLOT_PENDING &&
            ledger_mono_ms() - head->sent_ms >= s->timeout_ms) {
            report_timeout(s);
            break;
        }

        size_t progressed = 0;
        if (!input_done && !submit_window_full(s->window)) {
            progressed = handle_buffered(s);
            if (!submit_window_full(s->window) && !s->in_eof) {
                bool waiting = submit_window_pending(s->window) > 0;
                if (!waiting)
                    fflush(stdout); /* about to block: show what is done */
                size_t before = s->in_end;
                if (read_input(s, waiting ? 0 : 200) != 0)
                    return CLI_EXIT_INFRA;
                progressed += s->in_end != before || s->in_eof;
            }
        }
        if (progressed == 0 && submit_window_pending(s->window) > 0) {
            fflush(stdout);
            if (take_results(s, 5) != 0)
                return CLI_EXIT_INFRA;
        }
    }
    return s->failed ? CLI_EXIT_INFRA : CLI_EXIT_OK;
}

static int submit_run(const ledger_config *cfg, const void *unused) {
    (void)unused;
    int exit_code = CLI_EXIT_OK;
    char errstr[1024];
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    ledger_codec *codec = NULL;
    submit *s = NULL;
    static const char *const no_args[] = {NULL};
    if (!cli_expect_args(cfg, submit_usage, no_args)) {
        exit_code = CLI_EXIT_USAGE;
        goto cleanup;
    }
    exit_code = CLI_EXIT_INFRA;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->in = malloc(INPUT_BUF_BYTES)) == NULL ||
        (s->window = submit_window_new((size_t)ledger_config_int(cfg, "window"))) == NULL) {
        fprintf(stderr, "ledger: out of memory\n");
        goto cleanup;
    }
    s->cfg = cfg;
    s->timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    int kafka_timeout = s->timeout_ms > 30000 ? 30000 : (int)s->timeout_ms;

    codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL || cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_COMMANDS, topic,
                                              sizeof(topic), errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    s->codec = codec;
    s->rw = result_wait_new(cfg, codec, NULL /* every partition */, kafka_timeout, errstr,
                            sizeof(errstr));
    if (s->rw == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    s->producer =
        cli_kafka_producer_new(cfg, (int)s->timeout_ms, on_delivery, s, errstr, sizeof(errstr));
    if (s->producer == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    s->topic = rd_kafka_topic_new(s->producer, topic, NULL);
    if (s->topic == NULL) {
        fprintf(stderr, "ledger: cannot use topic '%s': %s\n", topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        goto cleanup;
    }
    exit_code = run(s);
    fflush(stdout);

cleanup:
    if (s != NULL) {
        if (s->producer != NULL) {
            rd_kafka_flush(s->producer, 5000); /* what was sent, reaches the broker */
            if (s->topic != NULL)
                rd_kafka_topic_destroy(s->topic);
            rd_kafka_destroy(s->producer);
        }
        result_wait_destroy(s->rw);
        submit_window_destroy(s->window);
        free(s->in);
        free(s);
    }
    ledger_codec_destroy(codec);
    return exit_code;
}

int cmd_submit(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings, submit_settings, NULL};
    return cli_run("ledger submit", tables, argc, argv, submit_usage, submit_description,
                   submit_run, NULL);
}
