/*
 * cmd_command.c - the five commands of SPEC section 5 from the command line.
 *
 * The order of the steps is the point of this file:
 *   1. every argument is checked with the core's parsers; a bad one exits 2
 *      before any Kafka client exists, so nothing can have been sent;
 *   2. the result partition's end offset is taken and a consumer assigned
 *      there (result_wait), BEFORE the command is produced, so the result
 *      cannot slip past;
 *   3. the command is produced, keyed by its account (murmur2_random puts
 *      it where the producer service owns that account);
 *   4. results are read until the one with this command id, or --timeout.
 */
#include "cmd_command.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_kafka.h"
#include "clock.h"
#include "codec.h"
#include "command_input.h"
#include "json_out.h"
#include "kafka.h"
#include "log.h"
#include "result_wait.h"

/* ---- settings ---- */

#define COMMAND_SETTINGS                                                                           \
    {.name = "id",                                                                                 \
     .flag = "id",                                                                                 \
     .type = LEDGER_CONFIG_STRING,                                                                 \
     .metavar = "ID",                                                                              \
     .help = "command id for idempotency, 1 to 128 printable ASCII characters; none: a new UUID"}, \
        {.name = "at",                                                                             \
         .flag = "at",                                                                             \
         .type = LEDGER_CONFIG_STRING,                                                             \
         .metavar = "TIME",                                                                        \
         .help =                                                                                   \
             "business time, RFC 3339 UTC (2026-11-26T10:00:00Z); none: the producer's clock"},    \
    {                                                                                              \
        .name = "timeout", .flag = "timeout", .type = LEDGER_CONFIG_DURATION, .def = "30s",        \
        .min = 1, .max = 86400000, .metavar = "SECONDS",                                           \
        .help = "how long to wait for the result (seconds, or 500ms, 2m); then exit 3"             \
    }

static const ledger_config_setting command_settings[] = {
    COMMAND_SETTINGS,
    LEDGER_CONFIG_END,
};

static const ledger_config_setting open_settings[] = {
    COMMAND_SETTINGS,
    {.name = "overdraft",
     .flag = "overdraft",
     .type = LEDGER_CONFIG_STRING,
     .metavar = "AMOUNT",
     .help = "how far below zero the balance may go (100, 99.50); none: 0"},
    LEDGER_CONFIG_END,
};

typedef struct command_spec {
    ledger_command_type type;
    const char *name;
    const char *usage;
    const char *description;
    const char *const *args; /* positional argument names, NULL-terminated */
} command_spec;

static const char *const args_account[] = {"ACCOUNT", NULL};
static const char *const args_account_amount[] = {"ACCOUNT", "AMOUNT", NULL};
static const char *const args_transfer[] = {"FROM", "TO", "AMOUNT", NULL};

#define RESULT_HELP                                                                                \
    "\n\nPrints the result as one JSON line: {\"command_id\":...,\"status\":\"accepted\","         \
    "\"events\":[...],\n\"position\":\"P:O\"} or {\"command_id\":...,\"status\":\"rejected\","     \
    "\"reason\":...}.\nExit codes: 0 accepted, 1 rejected, 2 bad usage or input (nothing is "      \
    "sent),\n3 Kafka unreachable or no result within --timeout."

static const command_spec open_spec = {
    LEDGER_COMMAND_OPEN, "open", "ledger open ACCOUNT [--overdraft AMOUNT] [options]",
    "Opens ACCOUNT (1 to 64 characters of [A-Za-z0-9._-])." RESULT_HELP, args_account};
static const command_spec deposit_spec = {
    LEDGER_COMMAND_DEPOSIT, "deposit", "ledger deposit ACCOUNT AMOUNT [options]",
    "Deposits AMOUNT (a positive decimal with at most two decimals, at most\n"
    "1000000000.00) into ACCOUNT." RESULT_HELP,
    args_account_amount};
static const command_spec withdraw_spec = {
    LEDGER_COMMAND_WITHDRAW, "withdraw", "ledger withdraw ACCOUNT AMOUNT [options]",
    "Withdraws AMOUNT from ACCOUNT, if its balance minus AMOUNT stays at or above\n"
    "minus its overdraft." RESULT_HELP,
    args_account_amount};
static const command_spec transfer_spec = {
    LEDGER_COMMAND_TRANSFER, "transfer", "ledger transfer FROM TO AMOUNT [options]",
    "Moves AMOUNT from FROM to TO. The result is that of the debit on FROM and\n"
    "names the transfer_id; if TO is not open, the amount comes back to FROM\n"
    "(TransferReturned)." RESULT_HELP,
    args_transfer};
static const command_spec close_spec = {
    LEDGER_COMMAND_CLOSE, "close", "ledger close ACCOUNT [options]",
    "Closes ACCOUNT, whose balance must be exactly 0." RESULT_HELP, args_account};

/* ---- sending and waiting ---- */

typedef struct delivery {
    bool done;
    rd_kafka_resp_err_t err;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    delivery *d = opaque;
    d->done = true;
    d->err = msg->err;
}

/* Prints the result line; returns the exit code it stands for. */
static int print_result(const ledger_result *result) {
    char buf[8192];
    json_out j;
    json_out_init(&j, buf, sizeof(buf));
    json_out_result(&j, result);
    if (!json_out_ok(&j)) {
        fprintf(stderr, "ledger: the result of command '%s' is too large to print\n",
                result->command_id);
        return CLI_EXIT_INFRA;
    }
    printf("%s\n", json_out_text(&j));
    fflush(stdout);
    return result->reason == LEDGER_OK ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}

static int send_and_wait(const ledger_config *cfg, const ledger_command *command) {
    int exit_code = CLI_EXIT_INFRA;
    char errstr[1024];
    char topic[LEDGER_KAFKA_TOPIC_NAME_BUF];
    uint8_t value[LEDGER_CODEC_COMMAND_MAX];
    size_t value_len = 0;
    ledger_codec *codec = NULL;
    result_wait *rw = NULL;
    rd_kafka_t *producer = NULL;
    delivery sent = {.done = false, .err = RD_KAFKA_RESP_ERR_NO_ERROR};
    int64_t timeout_ms = ledger_config_duration_ms(cfg, "timeout");
    int64_t deadline = ledger_mono_ms() + timeout_ms;
    int kafka_timeout = timeout_ms > 30000 ? 30000 : (int)timeout_ms;

    codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    if (ledger_codec_encode_command(codec, command, value, sizeof(value), &value_len, errstr,
                                    sizeof(errstr)) != 0 ||
        cli_kafka_topic_name(cfg, LEDGER_KAFKA_TOPIC_COMMANDS, topic, sizeof(topic), errstr,
                             sizeof(errstr)) != 0) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }

    rw = result_wait_new(cfg, codec, command->id, kafka_timeout, errstr, sizeof(errstr));
    if (rw == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    producer =
        cli_kafka_producer_new(cfg, (int)timeout_ms, on_delivery, &sent, errstr, sizeof(errstr));
    if (producer == NULL) {
        fprintf(stderr, "ledger: %s\n", errstr);
        goto cleanup;
    }
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                          RD_KAFKA_V_KEY(command->account, strlen(command->account)),
                          RD_KAFKA_V_VALUE(value, value_len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "ledger: cannot send command '%s' to '%s': %s\n", command->id, topic,
                rd_kafka_err2str(err));
        goto cleanup;
    }
    LOG_DEBUG("sent %s command '%s' for '%s' to '%s'", ledger_command_type_name(command->type),
              command->id, command->account, topic);

    for (;;) {
        rd_kafka_poll(producer, 0);
        if (sent.done && sent.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "ledger: command '%s' was not sent to '%s': %s\n", command->id, topic,
                    rd_kafka_err2str(sent.err));
            goto cleanup;
        }
        int64_t left = deadline - ledger_mono_ms();
        if (left <= 0)
            break;
        ledger_result result;
        int rc =
            result_wait_next(rw, left > 100 ? 100 : (int)left, &result, errstr, sizeof(errstr));
        if (rc < 0) {
            fprintf(stderr, "ledger: %s\n", errstr);
            goto cleanup;
        }
        if (rc == 1 && strcmp(result.command_id, command->id) == 0) {
            exit_code = print_result(&result);
            goto cleanup;
        }
    }
    char shown[32];
    cli_kafka_format_duration(timeout_ms, shown, sizeof(shown));
    /* Say which it was: a command that never reached the broker is not
     * waiting for a producer. */
    rd_kafka_flush(producer, 5000);
    rd_kafka_poll(producer, 0);
    if (!sent.done || sent.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "ledger: timeout: command '%s' was not sent to '%s' within %s: %s\n",
                command->id, topic, shown,
                sent.done ? rd_kafka_err2str(sent.err) : "no delivery report");
    else
        fprintf(stderr,
                "ledger: timeout: no result for command '%s' within %s (is ledger-producer "
                "running?)\n",
                command->id, shown);

cleanup:
    if (producer != NULL) {
        /* A command sent is sent: let it reach the broker before leaving. */
        rd_kafka_flush(producer, 5000);
        rd_kafka_destroy(producer);
    }
    result_wait_destroy(rw);
    ledger_codec_destroy(codec);
    return exit_code;
}

/* ---- the subcommands ---- */

static command_input_field field_of(const char *s) {
    command_input_field f = {s, s != NULL ? strlen(s) : 0, false};
    return f;
}

static int command_run(const ledger_config *cfg, const void *arg) {
    const command_spec *spec = arg;
    if (!cli_expect_args(cfg, spec->usage, spec->args))
        return CLI_EXIT_USAGE;

    command_input_text in = {
        .id = field_of(ledger_config_str(cfg, "id")),
        .at = field_of(ledger_config_str(cfg, "at")),
        .account = field_of(ledger_config_positional(cfg, 0)),
    };
    if (spec->type == LEDGER_COMMAND_OPEN)
        in.amount = field_of(ledger_config_str(cfg, "overdraft"));
    else if (spec->type == LEDGER_COMMAND_TRANSFER) {
        in.to = field_of(ledger_config_positional(cfg, 1));
        in.amount = field_of(ledger_config_positional(cfg, 2));
    } else if (ledger_config_positional_count(cfg) == 2)
        in.amount = field_of(ledger_config_positional(cfg, 1));

    ledger_command command;
    command_input_error err;
    command_input_error_init(&err);
    if (command_input_build(spec->type, &in, &command, &err) != 0) {
        /* The reason code too, as `ledger submit` and the ledger give it:
         * a script can match on it. */
        fprintf(stderr, "ledger: %s (%s)\n", err.message, ledger_reason_name(err.reason));
        return CLI_EXIT_USAGE;
    }
    return send_and_wait(cfg, &command);
}

static int run_command(const command_spec *spec, int argc, char **argv) {
    const ledger_config_setting *const tables[] = {
        ledger_config_kafka_settings, ledger_config_common_settings,
        spec->type == LEDGER_COMMAND_OPEN ? open_settings : command_settings, NULL};
    char program[32];
    snprintf(program, sizeof(program), "ledger %s", spec->name);
    return cli_run(program, tables, argc, argv, spec->usage, spec->description, command_run, spec);
}

int cmd_open(int argc, char **argv) {
    return run_command(&open_spec, argc, argv);
}

int cmd_deposit(int argc, char **argv) {
    return run_command(&deposit_spec, argc, argv);
}

int cmd_withdraw(int argc, char **argv) {
    return run_command(&withdraw_spec, argc, argv);
}

int cmd_transfer(int argc, char **argv) {
    return run_command(&transfer_spec, argc, argv);
}

int cmd_close(int argc, char **argv) {
    return run_command(&close_spec, argc, argv);
}
