/*
 * test_cli_validation.c - bad input never leaves the client (SPEC sections
 * 4 and 8): every bad amount of section 4, bad account ids, bad times and
 * ids, unknown subcommands and missing arguments exit 2 with a message
 * naming the fault, and nothing reaches the commands topic. One test also
 * shows that no connection to the broker is even attempted.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_cli_fixture.h"

static tcf_topics topics;

static void setup(void) {
    tcf_topics_create(&topics);
}

static void teardown(void) {
    tcf_topics_delete(&topics);
}

/* Runs argv and expects exit 2, nothing on stdout, stderr starting with
 * `want` (the subject and fault named) and, when `reason` is given, its
 * first line ending with that reason code in parentheses. */
static void expect_refused_for(const char *const *argv, const char *want, const char *reason) {
    tcf_run_result res;
    tcf_run(&res, argv, topics.env, NULL);
    char shown[512] = "";
    for (size_t i = 0; argv[i] != NULL; i++) {
        strncat(shown, argv[i], sizeof(shown) - strlen(shown) - 2);
        strncat(shown, " ", sizeof(shown) - strlen(shown) - 1);
    }
    cr_assert_eq(res.exit_code, 2, "ledger %s: exit %d, stderr: %s", shown, res.exit_code, res.err);
    cr_assert_str_eq(res.out, "", "ledger %s printed: %s", shown, res.out);
    cr_assert(strncmp(res.err, want, strlen(want)) == 0, "ledger %s: stderr '%s', expected '%s...'",
              shown, res.err, want);
    if (reason != NULL) {
        char tail[64];
        snprintf(tail, sizeof(tail), " (%s)\n", reason);
        const char *eol = strchr(res.err, '\n');
        size_t first = eol != NULL ? (size_t)(eol - res.err) + 1 : 0;
        cr_assert(first >= strlen(tail) &&
                      strncmp(res.err + first - strlen(tail), tail, strlen(tail)) == 0,
                  "ledger %s: stderr '%s' does not end its first line with '%s'", shown, res.err,
                  tail);
    }
    tcf_run_free(&res);
}

static void expect_refused(const char *const *argv, const char *want) {
    expect_refused_for(argv, want, NULL);
}

/* SPEC section 4's rejected amounts, and some more. */
static const char *const bad_amounts[] = {
    "0",
    "-1",
    "1.234",
    "1e3",
    "0x10",
    " 5",
    "5 ",
    "",
    "\xd9\xa5",     /* ARABIC-INDIC DIGIT FIVE */
    "\xef\xbc\x95", /* FULLWIDTH DIGIT FIVE */
    "99999999999999999999999999",
    "1000000000.01",
    "5.",
    ".5",
    "+5",
    "5,00",
    "NaN",
};

Test(cli_validation, every_bad_amount_exits_2_and_sends_nothing, .init = setup, .fini = teardown,
     .timeout = 60) {
    char want[256];
    for (size_t i = 0; i < sizeof(bad_amounts) / sizeof(bad_amounts[0]); i++) {
        const char *amount = bad_amounts[i];
        snprintf(want, sizeof(want), "ledger: invalid amount '%s': ", amount);
        const char *deposit[] = {"deposit", "A", amount, NULL};
        expect_refused_for(deposit, want, "invalid_amount");
        const char *withdraw[] = {"withdraw", "A", amount, NULL};
        expect_refused_for(withdraw, want, "invalid_amount");
        const char *transfer[] = {"transfer", "A", "B", amount, NULL};
        expect_refused_for(transfer, want, "invalid_amount");
    }
    /* The message names the fault, as SPEC section 4's example says. */
    const char *example[] = {"deposit", "A", "1.234", NULL};
    expect_refused(example,
                   "ledger: invalid amount '1.234': more than two decimals (invalid_amount)\n");
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 0);
}

Test(cli_validation, a_bad_overdraft_exits_2_but_zero_is_an_overdraft, .init = setup,
     .fini = teardown, .timeout = 60) {
    static const char *const bad[] = {"-1", "1.234", "1e3", "", "abc", "1000000000.01"};
    char want[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), "ledger: invalid overdraft '%s': ", bad[i]);
        const char *argv[] = {"open", "A", "--overdraft", bad[i], NULL};
        expect_refused_for(argv, want, "invalid_amount");
    }
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 0);

    /* "0" passes the client (and so goes to Kafka: no result comes). */
    tcf_run_result res;
    const char *zero[] = {"open", "A", "--overdraft", "0", "--timeout", "3s", NULL};
    tcf_run(&res, zero, topics.env, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    tcf_run_free(&res);
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 1);
}

Test(cli_validation, bad_account_ids_exit_2_naming_the_account, .init = setup, .fini = teardown,
     .timeout = 60) {
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    const char *const bad[] = {"", "a b", long_id, "caf\xc3\xa9", "a/b", "a:b", "a\tb", "*"};
    char want[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* At most 64 bytes of the bad id are quoted. */
        snprintf(want, sizeof(want), "ledger: invalid account '%.64s", bad[i]);
        const char *open[] = {"open", bad[i], NULL};
        expect_refused_for(open, want, "invalid_account");
        const char *deposit[] = {"deposit", bad[i], "5", NULL};
        expect_refused_for(deposit, want, "invalid_account");
        const char *close[] = {"close", bad[i], NULL};
        expect_refused_for(close, want, "invalid_account");
        const char *from[] = {"transfer", bad[i], "B", "5", NULL};
        expect_refused_for(from, want, "invalid_account");
        const char *to[] = {"transfer", "A", bad[i], "5", NULL};
        expect_refused_for(to, want, "invalid_account");
    }
    /* 64 characters is still an account. */
    long_id[64] = '\0';
    /* 3s: long enough for the command to reach the topic on a loaded machine
     * (the send shares --timeout); no producer runs, so no result comes. */
    const char *ok[] = {"open", long_id, "--timeout", "3s", NULL};
    tcf_run_result res;
    tcf_run(&res, ok, topics.env, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    tcf_run_free(&res);
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 1);
}

Test(cli_validation, bad_times_and_ids_exit_2, .init = setup, .fini = teardown, .timeout = 60) {
    static const char *const bad_times[] = {
        "2026-11-26T10:00:00",
        "2026-11-26T10:00:00+01:00",
        "2026-02-30T00:00:00Z",
        "2026-11-26 10:00:00Z",
        "yesterday",
        "",
        "2026-11-26T24:00:00Z",
        "2026-11-26T10:00:00.1234Z",
    };
    char want[256];
    for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
        snprintf(want, sizeof(want), "ledger: invalid time '%s': ", bad_times[i]);
        const char *argv[] = {"deposit", "A", "5", "--at", bad_times[i], NULL};
        expect_refused(argv, want);
    }
    char long_id[140];
    memset(long_id, 'x', 129);
    long_id[129] = '\0';
    const char *const bad_ids[] = {"", long_id, "tab\there", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(want, sizeof(want), "ledger: invalid command id '%.64s", bad_ids[i]);
        const char *argv[] = {"withdraw", "A", "5", "--id", bad_ids[i], NULL};
        expect_refused(argv, want);
    }
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 0);
}

Test(cli_validation, unknown_commands_and_missing_arguments_exit_2_with_usage, .init = setup,
     .fini = teardown, .timeout = 60) {
    const char *unknown[] = {"depositt", "A", "5", NULL};
    expect_refused(unknown, "ledger: unknown command 'depositt'\n");

    const char *deposit[] = {"deposit", "A", NULL};
    expect_refused(deposit, "ledger: missing argument AMOUNT\nusage: ledger deposit ");
    const char *withdraw[] = {"withdraw", NULL};
    expect_refused(withdraw, "ledger: missing argument ACCOUNT\nusage: ledger withdraw ");
    const char *transfer[] = {"transfer", "A", "B", NULL};
    expect_refused(transfer, "ledger: missing argument AMOUNT\nusage: ledger transfer ");
    const char *open[] = {"open", NULL};
    expect_refused(open, "ledger: missing argument ACCOUNT\nusage: ledger open ");
    const char *close[] = {"close", "A", "B", NULL};
    expect_refused(close, "ledger: unexpected argument 'B'\nusage: ledger close ");
    const char *history[] = {"history", NULL};
    expect_refused(history, "ledger: missing argument ACCOUNT\nusage: ledger history ");
    const char *submit[] = {"submit", "extra", NULL};
    expect_refused(submit, "ledger: unexpected argument 'extra'\nusage: ledger submit ");
    const char *flag[] = {"deposit", "A", "5", "--timeout", "soon", NULL};
    expect_refused(flag, "ledger: invalid --timeout 'soon': ");
    cr_assert_eq(tcf_topic_size(topics.names[LEDGER_KAFKA_TOPIC_COMMANDS]), 0);
}

/* A listening socket the CLI is pointed at as its broker: if bad input
 * made it connect anywhere, a connection would be waiting here. */
Test(cli_validation, bad_input_makes_no_connection_at_all, .timeout = 30) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t len = sizeof(addr);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    char brokers[64];
    snprintf(brokers, sizeof(brokers), "LEDGER_BROKERS=127.0.0.1:%d", (int)ntohs(addr.sin_port));
    const char *env[] = {brokers, NULL};

    const char *const runs[][6] = {
        {"deposit", "A", "1.234", NULL},          {"transfer", "A", "b c", "5", NULL},
        {"open", "A", "--overdraft", "-5", NULL}, {"close", "A", "--at", "now", NULL},
        {"history", "A", "--at", "then", NULL},   {"history", "a b", NULL},
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        tcf_run_result res;
        tcf_run(&res, runs[i], env, NULL);
        cr_assert_eq(res.exit_code, 2, "%s: %s", runs[i][0], res.err);
        tcf_run_free(&res);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int c = accept(fd, NULL, NULL);
    cr_assert_lt(c, 0, "a refused command connected to the broker address");
    cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "accept: %s", strerror(errno));

    /* The control: a valid command does connect (and times out, as this
     * is no broker), so the silence above means something. */
    const char *valid[] = {"deposit", "A", "5", "--timeout", "300ms", NULL};
    tcf_run_result res;
    tcf_run(&res, valid, env, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    tcf_run_free(&res);
    c = accept(fd, NULL, NULL);
    cr_assert_geq(c, 0, "the control run did not connect: %s", strerror(errno));
    close(c);
    close(fd);
}
