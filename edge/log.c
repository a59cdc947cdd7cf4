/*
 * log.c - the line logger behind the LOG_* macros.
 *
 * Why one process-wide logger: a log line can come from anywhere, including
 * librdkafka's internal threads through a callback that carries no pointer of
 * ours, so threading a logger handle through every call would buy nothing.
 * The state is one small static struct, written once by ledger_log_init at
 * start (before other threads exist) and only read afterwards, so it needs no
 * lock. Each line is formatted into a stack buffer and written with one
 * write(2): no allocation, no interleaving between threads.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX    4096
#define LOG_PROGRAM_MAX 64

/* Set once by ledger_log_init, read-only afterwards (see the top comment). */
static struct {
    char program[LOG_PROGRAM_MAX];
    ledger_log_level level;
} log_settings = {"ledger", LEDGER_LOG_LEVEL_INFO};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void ledger_log_init(const char *program, ledger_log_level level) {
    if (program != NULL && program[0] != '\0') {
        /* The basename: "./build/cli/ledger" logs as "ledger". */
        const char *slash = strrchr(program, '/');
        if (slash != NULL && slash[1] != '\0')
            program = slash + 1;
        snprintf(log_settings.program, sizeof(log_settings.program), "%s", program);
    }
    if (level >= LEDGER_LOG_LEVEL_ERROR && level <= LEDGER_LOG_LEVEL_DEBUG)
        log_settings.level = level;
}

int ledger_log_level_parse(const char *text, ledger_log_level *level) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (text == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *level = (ledger_log_level)i;
            return 0;
        }
    }
    return -1;
}

ledger_log_level ledger_log_level_get(void) {
    return log_settings.level;
}

/* "2026-11-26T10:00:00.123Z" into buf (at least 25 bytes). */
static size_t format_now(char *buf, size_t size) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    return n + (m > 0 ? (size_t)m : 0);
}

static void log_vwrite(ledger_log_level level, const char *fmt, va_list ap) {
    char line[LOG_LINE_MAX];
    size_t used = format_now(line, sizeof(line));
    int n = snprintf(line + used, sizeof(line) - used, " %s %s: ", level_names[level],
                     log_settings.program);
    if (n > 0)
        used += (size_t)n;
    size_t head = used;
    /* Keep two bytes for "\n" and the terminator. */
    n = vsnprintf(line + used, sizeof(line) - used - 1, fmt, ap);
    if (n > 0) {
        if ((size_t)n >= sizeof(line) - used - 1) {
            used = sizeof(line) - 2;
            memcpy(line + used - 3, "...", 3);
        } else {
            used += (size_t)n;
        }
    }
    for (size_t i = head; i < used; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[used++] = '\n';
    /* One write per line; a short write to stderr is not worth retrying. */
    ssize_t ignored = write(STDERR_FILENO, line, used);
    (void)ignored;
}

void ledger_log_write(ledger_log_level level, const char *fmt, ...) {
    if (level < LEDGER_LOG_LEVEL_ERROR || level > LEDGER_LOG_LEVEL_DEBUG)
        level = LEDGER_LOG_LEVEL_ERROR;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fmt, ap);
    va_end(ap);
}

void ledger_log_rdkafka_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    ledger_log_level ours;
    if (level <= 3)
        ours = LEDGER_LOG_LEVEL_ERROR;
    else if (level == 4)
        ours = LEDGER_LOG_LEVEL_WARN;
    else if (level <= 6)
        ours = LEDGER_LOG_LEVEL_INFO;
    else
        ours = LEDGER_LOG_LEVEL_DEBUG;
    LEDGER_LOG(ours, "rdkafka %s %s: %s", rk != NULL ? rd_kafka_name(rk) : "-",
               fac != NULL ? fac : "-", buf != NULL ? buf : "");
}
