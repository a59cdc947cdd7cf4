/*
 * config.h - typed configuration tables: defaults, then environment, then
 * flags (flags win), one validation pass, librdkafka pass-through, help.
 *
 * A program describes its settings as tables of ledger_config_setting (name,
 * environment variable, flag, type, default, bounds, help) and composes them:
 * the shared tables below (Kafka, Redis, logging) plus its own. For example:
 *
 *     static const ledger_config_setting producer_settings[] = {
 *         {.name = "snapshot_every", .env = "LEDGER_SNAPSHOT_EVERY",
 *          .flag = "snapshot-every", .type = LEDGER_CONFIG_INT, .def = "1000",
 *          .min = 1, .max = 1000000, .help = "events between snapshots"},
 *         LEDGER_CONFIG_END,
 *     };
 *     const ledger_config_setting *const tables[] = {
 *         ledger_config_common_settings, ledger_config_kafka_settings,
 *         producer_settings, NULL};
 *     ledger_config *cfg = ledger_config_new("ledger-producer", tables);
 *     switch (ledger_config_load(cfg, argc - 1, argv + 1, errstr, sizeof(errstr))) ...
 *
 * Nothing is validated until every source is read, so a bad environment
 * value that a flag overrides is no error. The first invalid setting gives
 * one message naming it as the user wrote it (the flag or the environment
 * variable), e.g. "invalid LEDGER_REDIS_URL 'foo': expected
 * redis://host:port/db"; the caller exits 2 before touching anything.
 *
 * `-X key=value` is librdkafka's property, kept in order and validated with
 * rd_kafka_conf_set (its errstr reported); kafka.h applies them to every
 * client. A -X partitioner other than murmur2_random is refused (SPEC
 * section 3: keys must land where the Java client puts them). `-X dump`
 * asks for the effective configuration to be printed.
 */
#ifndef LEDGER_CONFIG_H
#define LEDGER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ledger_config_type {
    LEDGER_CONFIG_STRING,   /* any text; .min/.max bound its length when max > 0 */
    LEDGER_CONFIG_INT,      /* decimal int64 within [.min, .max] */
    LEDGER_CONFIG_BOOL,     /* true/false, 1/0, yes/no, on/off; a bare flag means true */
    LEDGER_CONFIG_DURATION, /* "250ms", "5s", "2m", "1h", "1d", or seconds ("1.5");
                               kept in milliseconds within [.min, .max] */
    LEDGER_CONFIG_URL,      /* "scheme://rest"; .format names the expected shape */
} ledger_config_type;

/* A setting-specific check run after the type's own parsing: returns 0, or
 * -1 with a reason in why (no subject: the caller adds "invalid X 'v': "). */
typedef int (*ledger_config_check_fn)(const char *value, char *why, size_t why_size);

typedef struct ledger_config_setting {
    const char *name; /* key for the accessors and the dump: "brokers" */
    const char *env;  /* "LEDGER_BROKERS", or NULL */
    const char *flag; /* "brokers" for --brokers, or NULL */
    ledger_config_type type;
    const char *def;     /* default in text form, parsed like any source; NULL = unset */
    int64_t min, max;    /* bounds (INT, DURATION in ms, STRING length); ignored if both 0 */
    const char *metavar; /* "HOSTS" in the help; NULL for a type-derived one */
    const char *format;  /* URL: "redis://host:port/db", used in errors and help */
    ledger_config_check_fn check; /* optional */
    bool secret;                  /* passwords inside are masked in the dump */
    const char *help;             /* one line */
} ledger_config_setting;

/* Terminates a table. */
#define LEDGER_CONFIG_END                                                                          \
    { .name = NULL }

/* brokers (LEDGER_BROKERS, --brokers, 127.0.0.1:9092) and topic_prefix
 * (LEDGER_TOPIC_PREFIX, --topic-prefix, "ledger."). */
extern const ledger_config_setting ledger_config_kafka_settings[];
/* redis_url (LEDGER_REDIS_URL, --redis-url, redis://127.0.0.1:6379/0). */
extern const ledger_config_setting ledger_config_redis_settings[];
/* partitions (LEDGER_PARTITIONS, --partitions, 6) and replication_factor
 * (LEDGER_REPLICATION_FACTOR, --replication-factor, 1): how a program that
 * creates the ledger's topics when they are missing creates them. */
extern const ledger_config_setting ledger_config_topic_settings[];
/* log_level (LEDGER_LOG_LEVEL, --log-level, info) and log_format
 * (LEDGER_LOG_FORMAT, --log-format, text or json; see log.h). */
extern const ledger_config_setting ledger_config_common_settings[];
/* The operations endpoint of a service (http_ops.h): http_port
 * (LEDGER_HTTP_PORT, --http-port, INT 0..65535, unset by default = no
 * endpoint, 0 = any free port) and http_bind (LEDGER_HTTP_BIND, --http-bind,
 * 0.0.0.0). Test ledger_config_is_set(cfg, "http_port") before reading the
 * port. */
extern const ledger_config_setting ledger_config_ops_settings[];

typedef struct ledger_config ledger_config;

typedef enum ledger_config_status {
    LEDGER_CONFIG_OK = 0, /* loaded and valid: run */
    LEDGER_CONFIG_HELP,   /* -h/--help was given: print ledger_config_help, exit 0 */
    LEDGER_CONFIG_DUMP,   /* -X dump was given (and all is valid): print, exit 0 */
    LEDGER_CONFIG_ERROR,  /* errstr says which setting is bad: exit 2 */
} ledger_config_status;

/* A configuration over `tables` (a NULL-terminated array of tables, each
 * ending with LEDGER_CONFIG_END). The tables and `program` are borrowed and
 * must outlive the configuration (they are static in practice). Returns NULL
 * only when memory runs out. Two settings with the same name are a
 * programming error (the first wins). */
ledger_config *ledger_config_new(const char *program, const ledger_config_setting *const *tables);

/* Frees the configuration; NULL is accepted. */
void ledger_config_destroy(ledger_config *cfg);

/* Reads the defaults, then the environment (getenv), then argv[0..argc-1]
 * (the arguments after the program or subcommand name): "--flag value",
 * "--flag=value", a bare "--flag" for a BOOL, "-X key=value" or "-Xkey=value",
 * "-h"/"--help", and "--" to end the options. Other arguments are positional
 * and kept in order (argv is borrowed: it must outlive cfg). Then validates
 * everything. Call once per configuration. */
ledger_config_status ledger_config_load(ledger_config *cfg, int argc, char **argv, char *errstr,
                                        size_t errstr_size);

/* Typed accessors for a setting declared in the tables. Asking for an
 * undeclared name, or with the wrong type, is a programming error and aborts.
 * Strings are owned by cfg; NULL when the setting has no default and was not
 * given. DURATION is in milliseconds. */
const char *ledger_config_str(const ledger_config *cfg, const char *name);
int64_t ledger_config_int(const ledger_config *cfg, const char *name);
bool ledger_config_bool(const ledger_config *cfg, const char *name);
int64_t ledger_config_duration_ms(const ledger_config *cfg, const char *name);

/* Whether the setting came from the environment or a flag (not the default). */
bool ledger_config_is_set(const ledger_config *cfg, const char *name);

/* Positional arguments, in order; the pointers are argv's. */
int ledger_config_positional_count(const ledger_config *cfg);
const char *ledger_config_positional(const ledger_config *cfg, int i);

/* The -X properties in the order given (the later of two equal keys wins
 * when applied in order). Returns the count; *key and *value are owned by
 * cfg. */
size_t ledger_config_rdkafka_count(const ledger_config *cfg);
void ledger_config_rdkafka_get(const ledger_config *cfg, size_t i, const char **key,
                               const char **value);

/* Writes "usage: <usage>", the description, then one entry per flag and
 * environment variable with its default, then -X and --help. `usage` is
 * e.g. "ledger admin ping [options]". */
void ledger_config_help(const ledger_config *cfg, FILE *out, const char *usage,
                        const char *description);

/* Writes "name = value  # source" per setting (secrets masked), then the -X
 * properties as given. librdkafka's effective properties are printed by
 * ledger_kafka_conf_dump (kafka.h), which builds the real client conf. */
void ledger_config_dump(const ledger_config *cfg, FILE *out);

#endif
