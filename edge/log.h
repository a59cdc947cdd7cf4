/*
 * log.h - one line per event on stderr, with a level, for every program.
 *
 * The LOG_* macros test the level before anything is formatted (as Redis's
 * serverLog does), so a disabled LOG_DEBUG in a hot loop costs one compare
 * and its arguments are never evaluated. Each line is written with a single
 * write(2), so lines from several threads (librdkafka's own threads log
 * through ledger_log_rdkafka_cb) do not interleave:
 *
 *     2026-11-26T10:00:00.123Z INFO ledger-producer: restored 6 partitions
 *
 * or, with the json format (LEDGER_LOG_FORMAT=json), one JSON object per
 * line for a log collector, the message escaped as a JSON string:
 *
 *     {"time":"2026-11-26T10:00:00.123Z","level":"info","program":"ledger-producer","msg":"restored
 * 6 partitions"}
 *
 * These names clash with <syslog.h> (LOG_INFO, LOG_DEBUG): a file including
 * both fails to compile (macro redefined), which is the intended signal.
 */
#ifndef LEDGER_LOG_H
#define LEDGER_LOG_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

typedef enum ledger_log_level {
    LEDGER_LOG_LEVEL_ERROR = 0,
    LEDGER_LOG_LEVEL_WARN = 1,
    LEDGER_LOG_LEVEL_INFO = 2,
    LEDGER_LOG_LEVEL_DEBUG = 3,
} ledger_log_level;

typedef enum ledger_log_format {
    LEDGER_LOG_FORMAT_TEXT = 0,
    LEDGER_LOG_FORMAT_JSON = 1,
} ledger_log_format;

/* Sets the program name shown on every line (copied, at most 63 bytes kept)
 * and the lowest level written. Call once at start, before any other thread
 * exists; until then lines say "ledger" and the level is INFO. */
void ledger_log_init(const char *program, ledger_log_level level);

/* Parses "error", "warn", "info" or "debug" (ASCII case-insensitive).
 * Returns 0 and sets *level, or -1. */
int ledger_log_level_parse(const char *text, ledger_log_level *level);

/* Sets the line format (text until called). Call at start, next to
 * ledger_log_init and under the same rule (before other threads exist). */
void ledger_log_set_format(ledger_log_format format);

/* Logs librdkafka's own lines (ledger_log_rdkafka_cb) at DEBUG, whatever
 * their level: for a short-lived tool that reports the outcome itself
 * ("kafka unreachable at ..."), librdkafka's retries on the way are noise
 * unless asked for with the debug level. Same rule as ledger_log_init. */
void ledger_log_set_rdkafka_debug(bool debug);

/* Parses "text" or "json" (ASCII case-insensitive). Returns 0 and sets
 * *format, or -1. */
int ledger_log_format_parse(const char *text, ledger_log_format *format);

/* The level set by ledger_log_init. */
ledger_log_level ledger_log_level_get(void);

/* Formats and writes one line whatever the level: use the LOG_* macros. A
 * message longer than the line buffer (about 4 KiB) is cut and ends in "...";
 * newlines inside the message are written as spaces. */
void ledger_log_write(ledger_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* librdkafka log callback (rd_kafka_conf_set_log_cb): routes librdkafka's
 * syslog-levelled lines through ledger_log_write with the handle's name and
 * the facility, mapping 0..3 to ERROR, 4 to WARN, 5..6 to INFO, 7 to DEBUG. */
void ledger_log_rdkafka_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#define LEDGER_LOG(level, ...)                                                                     \
    do {                                                                                           \
        if ((level) <= ledger_log_level_get())                                                     \
            ledger_log_write((level), __VA_ARGS__);                                                \
    } while (0)

#define LOG_ERROR(...) LEDGER_LOG(LEDGER_LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...)  LEDGER_LOG(LEDGER_LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...)  LEDGER_LOG(LEDGER_LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LEDGER_LOG(LEDGER_LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
