/*
 * test_edge_log.c - the line logger: one line per event on stderr with an
 * RFC 3339 UTC millisecond time, the level and the program name; levels
 * below the threshold are neither formatted nor evaluated; librdkafka's
 * syslog levels map onto ours.
 *
 * stderr is pointed at a temporary file for the duration of each test
 * (Criterion runs every test in its own process).
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int capture_fd = -1;

static void capture_stderr(void) {
    char path[] = "/tmp/ledger-log-XXXXXX";
    capture_fd = mkstemp(path);
    cr_assert_geq(capture_fd, 0);
    unlink(path);
    cr_assert_geq(dup2(capture_fd, STDERR_FILENO), 0);
}

static void captured(char *buf, size_t size) {
    lseek(capture_fd, 0, SEEK_SET);
    ssize_t n = read(capture_fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

static void assert_matches(const char *text, const char *pattern) {
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    cr_assert_eq(rc, 0, "'%s' does not match /%s/", text, pattern);
}

Test(log, line_has_time_level_program_and_message) {
    capture_stderr();
    ledger_log_init("/usr/bin/ledger-producer", LEDGER_LOG_LEVEL_INFO);
    LOG_WARN("partition %d lagging by %s", 3, "12 records");
    char out[4096];
    captured(out, sizeof(out));
    assert_matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                        "WARN ledger-producer: partition 3 lagging by 12 records\n$");
}

static int evaluated;

static int side_effect(void) {
    evaluated++;
    return 1;
}

Test(log, levels_below_the_threshold_are_not_evaluated) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_WARN);
    LOG_INFO("info %d", side_effect());
    LOG_DEBUG("debug %d", side_effect());
    LOG_ERROR("error %d", side_effect());
    cr_assert_eq(evaluated, 1);
    char out[4096];
    captured(out, sizeof(out));
    cr_assert(strstr(out, " ERROR t: error 1\n") != NULL, "%s", out);
    cr_assert(strstr(out, "info") == NULL && strstr(out, "debug") == NULL, "%s", out);
}

Test(log, newlines_in_a_message_stay_on_one_line) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    LOG_INFO("two\nlines");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert(strstr(out, " INFO t: two lines\n") != NULL, "%s", out);
}

Test(log, long_message_is_cut_to_one_line) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    static char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    LOG_INFO("%s", big);
    static char out[20000];
    captured(out, sizeof(out));
    size_t len = strlen(out);
    cr_assert_lt(len, 4100);
    cr_assert(len > 4 && strcmp(out + len - 4, "...\n") == 0, "line ends with '%s'", out + len - 8);
    cr_assert_eq(strchr(out, '\n'), out + len - 1, "more than one line");
}

Test(log, level_names_parse) {
    ledger_log_level level;
    cr_assert_eq(ledger_log_level_parse("DEBUG", &level), 0);
    cr_assert_eq(level, LEDGER_LOG_LEVEL_DEBUG);
    cr_assert_eq(ledger_log_level_parse("warn", &level), 0);
    cr_assert_eq(level, LEDGER_LOG_LEVEL_WARN);
    cr_assert_eq(ledger_log_level_parse("verbose", &level), -1);
}

Test(log, rdkafka_levels_map_to_ours) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_rdkafka_cb(NULL, 3, "FAIL", "broker down");
    ledger_log_rdkafka_cb(NULL, 4, "WARN", "slow");
    ledger_log_rdkafka_cb(NULL, 6, "INFO", "hello");
    ledger_log_rdkafka_cb(NULL, 7, "DEBUG", "noise");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert(strstr(out, " ERROR t: rdkafka - FAIL: broker down\n") != NULL, "%s", out);
    cr_assert(strstr(out, " WARN t: rdkafka - WARN: slow\n") != NULL, "%s", out);
    cr_assert(strstr(out, " INFO t: rdkafka - INFO: hello\n") != NULL, "%s", out);
    cr_assert(strstr(out, "noise") == NULL, "%s", out);
}

Test(log, rdkafka_lines_can_all_be_debug) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_rdkafka_debug(true);
    ledger_log_rdkafka_cb(NULL, 3, "FAIL", "broker down");
    LOG_ERROR("kafka unreachable");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert(strstr(out, "broker down") == NULL, "%s", out);
    cr_assert(strstr(out, " ERROR t: kafka unreachable\n") != NULL, "%s", out);

    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_DEBUG);
    ledger_log_rdkafka_cb(NULL, 3, "FAIL", "broker down");
    captured(out, sizeof(out));
    cr_assert(strstr(out, " DEBUG t: rdkafka - FAIL: broker down\n") != NULL, "%s", out);
    ledger_log_set_rdkafka_debug(false);
}

/* ---- the json format ---- */

Test(log, format_names_parse) {
    ledger_log_format format;
    cr_assert_eq(ledger_log_format_parse("JSON", &format), 0);
    cr_assert_eq(format, LEDGER_LOG_FORMAT_JSON);
    cr_assert_eq(ledger_log_format_parse("text", &format), 0);
    cr_assert_eq(format, LEDGER_LOG_FORMAT_TEXT);
    cr_assert_eq(ledger_log_format_parse("logfmt", &format), -1);
}

Test(log, json_line_has_time_level_program_and_message) {
    capture_stderr();
    ledger_log_init("/usr/bin/ledger-producer", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_format(LEDGER_LOG_FORMAT_JSON);
    LOG_WARN("partition %d lagging by %s", 3, "12 records");
    char out[4096];
    captured(out, sizeof(out));
    assert_matches(out, "^\\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                        "\\.[0-9]{3}Z\",\"level\":\"warn\",\"program\":\"ledger-producer\","
                        "\"msg\":\"partition 3 lagging by 12 records\"\\}\n$");
}

/* The message part of a captured JSON line: the text between "msg":" and
 * the closing "}. */
static const char *json_msg(char *line) {
    char *start = strstr(line, "\"msg\":\"");
    cr_assert_not_null(start, "%s", line);
    start += strlen("\"msg\":\"");
    char *end = strstr(start, "\"}\n");
    cr_assert_not_null(end, "%s", line);
    *end = '\0';
    return start;
}

Test(log, json_escapes_quotes_backslashes_and_control_characters) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_format(LEDGER_LOG_FORMAT_JSON);
    LOG_ERROR("bad id \"a\\b\"\n\tnext\x01 caf\xc3\xa9");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line: %s", out);
    cr_assert_str_eq(json_msg(out), "bad id \\\"a\\\\b\\\"\\n\\tnext\\u0001 caf\xc3\xa9");
}

Test(log, json_replaces_bytes_that_are_not_utf8) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_format(LEDGER_LOG_FORMAT_JSON);
    /* A lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate: each invalid byte becomes one U+FFFD. */
    LOG_INFO("a\x80"
             "b\xe2\x82"
             "c\xc0\xaf"
             "d\xed\xa0\x80"
             "e");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert_str_eq(json_msg(out),
                     "a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde");
}

Test(log, json_long_message_is_cut_and_stays_valid) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_format(LEDGER_LOG_FORMAT_JSON);
    /* Quotes double in length when escaped: the cut must not split one. */
    static char big[10000];
    memset(big, '"', sizeof(big) - 1);
    LOG_INFO("%s", big);
    static char out[20000];
    captured(out, sizeof(out));
    size_t len = strlen(out);
    cr_assert_lt(len, 4500);
    cr_assert_eq(strchr(out, '\n'), out + len - 1, "more than one line");
    const char *msg = json_msg(out);
    size_t msg_len = strlen(msg);
    cr_assert(msg_len > 3 && strcmp(msg + msg_len - 3, "...") == 0, "%s", msg + msg_len - 8);
    for (size_t i = 0; i + 3 < msg_len; i += 2)
        cr_assert(msg[i] == '\\' && msg[i + 1] == '"', "broken escape at %zu", i);
}

Test(log, json_carries_librdkafka_lines_too) {
    capture_stderr();
    ledger_log_init("t", LEDGER_LOG_LEVEL_INFO);
    ledger_log_set_format(LEDGER_LOG_FORMAT_JSON);
    ledger_log_rdkafka_cb(NULL, 3, "FAIL", "broker \"down\"");
    char out[4096];
    captured(out, sizeof(out));
    cr_assert(strstr(out, "\"level\":\"error\"") != NULL, "%s", out);
    cr_assert_str_eq(json_msg(out), "rdkafka - FAIL: broker \\\"down\\\"");
}
