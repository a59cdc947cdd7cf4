/*
 * test_cli_admin.c - `ledger admin ping` and `ledger admin create-topics`
 * against the broker in LEDGER_TEST_BROKERS, as the set-up scripts run
 * them: exit codes (0, 2 for what the broker refuses as bad input, 3 when
 * it cannot be reached), one JSON line per topic, and idempotence. The
 * topics use a prefix unique to the test and are deleted at the end.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli_run.h"

static cli_result res;

static const char *test_brokers(void) {
    const char *brokers = getenv("LEDGER_TEST_BROKERS");
    cr_assert(brokers != NULL && brokers[0] != '\0',
              "LEDGER_TEST_BROKERS is not set: export the test broker's address (scripts/test "
              "sets it, e.g. 127.0.0.1:19092)");
    return brokers;
}

static void unique_prefix(char *buf, size_t size) {
    uint32_t r = 0;
    cr_assert_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
    snprintf(buf, size, "ledger-test-cli-%d-%08x.", (int)getpid(), r);
}

static int count_lines_with(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void delete_prefixed(const char *prefix) {
    static const char *const suffixes[] = {"commands", "events", "command-results", "snapshots",
                                           "events.dlq"};
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", test_brokers(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return;
    }
    rd_kafka_DeleteTopic_t *del[5];
    char names[5][256];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof(names[i]), "%s%s", prefix, suffixes[i]);
        del[i] = rd_kafka_DeleteTopic_new(names[i]);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, del, 5, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy_array(del, 5);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

Test(cli_admin, ping_exits_0_when_the_broker_answers) {
    const char *argv[] = {"admin", "ping", "--brokers", test_brokers(), "--timeout", "10", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    char want[256];
    snprintf(want, sizeof(want), "{\"brokers\":\"%s\",\"status\":\"ok\"}\n", test_brokers());
    cr_assert_str_eq(res.out, want);
}

Test(cli_admin, ping_exits_3_when_nothing_answers) {
    const char *argv[] = {"admin", "ping", "--brokers", "127.0.0.1:1", "--timeout", "0.5", NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 3);
    cr_assert(strncmp(res.err, "ledger: no answer from '127.0.0.1:1' within 500 ms", 50) == 0, "%s",
              res.err);
    cr_assert_str_eq(res.out, "");
}

Test(cli_admin, create_topics_creates_then_finds_them) {
    char prefix[128];
    unique_prefix(prefix, sizeof(prefix));
    const char *argv[] = {"admin",
                          "create-topics",
                          "--brokers",
                          test_brokers(),
                          "--topic-prefix",
                          prefix,
                          "--partitions",
                          "3",
                          NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    static const char *const suffixes[] = {"commands", "events", "command-results", "snapshots",
                                           "events.dlq"};
    for (int i = 0; i < 5; i++) {
        char want[512];
        snprintf(want, sizeof(want),
                 "{\"topic\":\"%s%s\",\"status\":\"created\",\"partitions\":3}\n", prefix,
                 suffixes[i]);
        cr_assert(strstr(res.out, want) != NULL, "'%s' missing:\n%s", want, res.out);
    }
    cr_assert_eq(count_lines_with(res.out, "\n"), 5, "%s", res.out);

    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_eq(count_lines_with(res.out, "\"status\":\"exists\",\"partitions\":3}"), 5, "%s",
                 res.out);

    /* Asking again for another partition count warns and changes nothing. */
    const char *argv6[] = {"admin",
                           "create-topics",
                           "--brokers",
                           test_brokers(),
                           "--topic-prefix",
                           prefix,
                           "--partitions",
                           "6",
                           NULL};
    cli_run(&res, argv6, NULL);
    cr_assert_eq(res.exit_code, 0, "%s", res.err);
    cr_assert_eq(count_lines_with(res.out, "\"status\":\"exists\",\"partitions\":3}"), 5, "%s",
                 res.out);
    cr_assert(strstr(res.err, "WARN") != NULL && strstr(res.err, "has 3 partitions, not 6"), "%s",
              res.err);
    delete_prefixed(prefix);
}

Test(cli_admin, create_topics_exits_2_when_the_broker_refuses_the_replication_factor) {
    char prefix[128];
    unique_prefix(prefix, sizeof(prefix));
    const char *argv[] = {"admin",
                          "create-topics",
                          "--brokers",
                          test_brokers(),
                          "--topic-prefix",
                          prefix,
                          "--replication-factor",
                          "3",
                          NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 2, "exit %d: %s", res.exit_code, res.err);
    cr_assert(strstr(res.err, "ledger: cannot create topic '") != NULL, "%s", res.err);
    cr_assert_str_eq(res.out, "");
    delete_prefixed(prefix);
}

Test(cli_admin, create_topics_exits_3_when_nothing_answers) {
    const char *argv[] = {"admin", "create-topics", "--brokers", "127.0.0.1:1", "--timeout", "1",
                          NULL};
    cli_run(&res, argv, NULL);
    cr_assert_eq(res.exit_code, 3, "%s", res.err);
    cr_assert(strstr(res.err, "ledger: cannot create topics on '127.0.0.1:1': ") != NULL, "%s",
              res.err);
    cr_assert_str_eq(res.out, "");
}
