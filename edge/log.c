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
 *
 * The json format formats the message the same way, then escapes it into the
 * line as a JSON string. Log messages quote whatever came in (a bad account
 * id, a broker's error text), so the escaping also replaces bytes that are
 * not UTF-8 with U+FFFD: a collector rejects a line that is not valid JSON.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
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
    ledger_log_format format;
    bool rdkafka_debug; /* librdkafka's lines at DEBUG whatever their level */
} log_settings = {"ledger", LEDGER_LOG_LEVEL_INFO, LEDGER_LOG_FORMAT_TEXT, false};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const json_level_names[] = {"error", "warn", "info", "debug"};

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

void ledger_log_set_format(ledger_log_format format) {
    if (format == LEDGER_LOG_FORMAT_TEXT || format == LEDGER_LOG_FORMAT_JSON)
        log_settings.format = format;
}

void ledger_log_set_rdkafka_debug(bool debug) {
    log_settings.rdkafka_debug = debug;
}

int ledger_log_format_parse(const char *text, ledger_log_format *format) {
    if (text == NULL)
        return -1;
    if (strcasecmp(text, "text") == 0) {
        *format = LEDGER_LOG_FORMAT_TEXT;
        return 0;
    }
    if (strcasecmp(text, "json") == 0) {
        *format = LEDGER_LOG_FORMAT_JSON;
        return 0;
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

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is
 * not one (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    size_t len;
    unsigned int min;
    unsigned int cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends text[0..n) to out[*used..cap) as the inside of a JSON string.
 * Stops before an escape that would not fit and returns false then. */
static bool json_escape(char *out, size_t cap, size_t *used, const char *text, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        char esc[8];
        const char *piece = esc;
        size_t piece_len;
        size_t step = 1;
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, piece_len = 2;
        } else if (c == '\n') {
            piece = "\\n", piece_len = 2;
        } else if (c == '\r') {
            piece = "\\r", piece_len = 2;
        } else if (c == '\t') {
            piece = "\\t", piece_len = 2;
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4], esc[5] = hex[c & 0xF], piece_len = 6;
        } else if (c < 0x80) {
            piece = (const char *)s + i, piece_len = 1;
        } else {
            step = utf8_sequence(s + i, n - i);
            if (step == 0) {
                piece = "\\ufffd", piece_len = 6, step = 1;
            } else {
                piece = (const char *)s + i, piece_len = step;
            }
        }
        if (*used + piece_len > cap)
            return false;
        memcpy(out + *used, piece, piece_len);
        *used += piece_len;
        i += step;
    }
    return true;
}

static void log_vwrite_json(ledger_log_level level, const char *fmt, va_list ap) {
    char msg[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 256];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t msg_len = n < 0 ? 0 : ((size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
    bool cut = n > 0 && (size_t)n >= sizeof(msg);

    size_t used = 0;
    memcpy(line, "{\"time\":\"", 9);
    used = 9;
    used += format_now(line + used, sizeof(line) - used);
    int m = snprintf(line + used, sizeof(line) - used, "\",\"level\":\"%s\",\"program\":\"",
                     json_level_names[level]);
    if (m > 0)
        used += (size_t)m;
    /* Room kept for the message's tail: `...","msg":"` then `..."}` and "\n". */
    static const char tail[] = "\"}\n";
    size_t cap = sizeof(line) - (sizeof(tail) - 1) - 3;
    (void)json_escape(line, cap, &used, log_settings.program, strlen(log_settings.program));
    memcpy(line + used, "\",\"msg\":\"", 9);
    used += 9;
    if (!json_escape(line, cap, &used, msg, msg_len) || cut) {
        memcpy(line + used, "...", 3);
        used += 3;
    }
    memcpy(line + used, tail, sizeof(tail) - 1);
    used += sizeof(tail) - 1;
    ssize_t ignored = write(STDERR_FILENO, line, used);
    (void)ignored;
}

static void log_vwrite(ledger_log_level level, const char *fmt, va_list ap) {
    if (log_settings.format == LEDGER_LOG_FORMAT_JSON) {
        log_vwrite_json(level, fmt, ap);
        return;
    }
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
    if (log_settings.rdkafka_debug)
        ours = LEDGER_LOG_LEVEL_DEBUG;
    LEDGER_LOG(ours, "rdkafka %s %s: %s", rk != NULL ? rd_kafka_name(rk) : "-",
               fac != NULL ? fac : "-", buf != NULL ? buf : "");
}
