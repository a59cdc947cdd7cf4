/*
 * config.c - the configuration table engine and the shared tables.
 *
 * Why a table: every setting is declared once with its type, bounds, default,
 * environment variable, flag and help line, and everything else (loading in
 * precedence order, validation, --help, the dump) is derived from the table,
 * so help and behaviour cannot drift apart (the model is librdkafka's typed
 * property table, and kcat's -X pass-through and -X dump).
 *
 * Values are kept as text until every source has been read; the validation
 * pass then parses each in table order and stops at the first bad one, so
 * the user gets one message about the value that is actually in effect.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errstr.h"
#include "log.h"
#include "redis.h"

typedef enum source { SOURCE_DEFAULT, SOURCE_ENV, SOURCE_FLAG } source;

typedef struct entry {
    const ledger_config_setting *setting;
    char *value; /* owned; NULL = unset */
    source from;
    int64_t number; /* INT, DURATION (ms), BOOL (0/1), after validation */
} entry;

typedef struct rdkafka_prop {
    char *key; /* owned, one allocation with the value */
    char *value;
} rdkafka_prop;

struct ledger_config {
    const char *program;
    entry *entries;
    size_t n_entries;
    const char **positional; /* argv's strings */
    int n_positional;
    rdkafka_prop *props;
    size_t n_props;
};

/* ---- shared tables ---- */

/* A comma-separated list of host[:port], no blanks: what bootstrap.servers
 * takes. librdkafka would accept more, but a blank or an empty item is
 * always a typing mistake. */
static int check_brokers(const char *value, char *why, size_t why_size) {
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            snprintf(why, why_size, "expected host:port[,host:port...]");
            return -1;
        }
        for (size_t i = 0; i < len; i++) {
            if (isspace((unsigned char)p[i])) {
                snprintf(why, why_size, "expected host:port[,host:port...] without blanks");
                return -1;
            }
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* Kafka topic names are [A-Za-z0-9._-]; the prefix is glued to the suffix. */
static int check_topic_prefix(const char *value, char *why, size_t why_size) {
    for (const char *p = value; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') {
            snprintf(why, why_size, "topic names allow only [A-Za-z0-9._-]");
            return -1;
        }
    }
    return 0;
}

static int check_log_level(const char *value, char *why, size_t why_size) {
    ledger_log_level level;
    if (ledger_log_level_parse(value, &level) != 0) {
        snprintf(why, why_size, "expected error, warn, info or debug");
        return -1;
    }
    return 0;
}

static int check_log_format(const char *value, char *why, size_t why_size) {
    ledger_log_format format;
    if (ledger_log_format_parse(value, &format) != 0) {
        snprintf(why, why_size, "expected text or json");
        return -1;
    }
    return 0;
}

const ledger_config_setting ledger_config_kafka_settings[] = {
    {.name = "brokers",
     .env = "LEDGER_BROKERS",
     .flag = "brokers",
     .type = LEDGER_CONFIG_STRING,
     .def = "127.0.0.1:9092",
     .min = 1,
     .max = 4096,
     .metavar = "HOSTS",
     .check = check_brokers,
     .help = "Kafka bootstrap servers, host:port[,host:port...]"},
    {.name = "topic_prefix",
     .env = "LEDGER_TOPIC_PREFIX",
     .flag = "topic-prefix",
     .type = LEDGER_CONFIG_STRING,
     .def = "ledger.",
     .min = 0,
     .max = 200, /* the longest suffix, "command-results", must still fit in 249 */
     .metavar = "PREFIX",
     .check = check_topic_prefix,
     .help = "prefix of every topic name (PREFIXcommands, PREFIXevents, ...)"},
    LEDGER_CONFIG_END,
};

const ledger_config_setting ledger_config_redis_settings[] = {
    {.name = "redis_url",
     .env = "LEDGER_REDIS_URL",
     .flag = "redis-url",
     .type = LEDGER_CONFIG_URL,
     .def = "redis://127.0.0.1:6379/0",
     .format = "redis://host:port/db",
     .check = ledger_redis_url_check,
     .secret = true,
     .help = "Redis server, redis://[user:password@]host:port/db"},
    LEDGER_CONFIG_END,
};

const ledger_config_setting ledger_config_topic_settings[] = {
    {.name = "partitions",
     .env = "LEDGER_PARTITIONS",
     .flag = "partitions",
     .type = LEDGER_CONFIG_INT,
     .def = "6",
     .min = 1,
     .max = 10000,
     .help = "partitions of the ledger's topics when this program creates them (commands and "
             "events must match)"},
    {.name = "replication_factor",
     .env = "LEDGER_REPLICATION_FACTOR",
     .flag = "replication-factor",
     .type = LEDGER_CONFIG_INT,
     .def = "1",
     .min = 1,
     .max = 32767,
     .help = "replicas of every partition of the topics this program creates"},
    LEDGER_CONFIG_END,
};

const ledger_config_setting ledger_config_common_settings[] = {
    {.name = "log_level",
     .env = "LEDGER_LOG_LEVEL",
     .flag = "log-level",
     .type = LEDGER_CONFIG_STRING,
     .def = "info",
     .metavar = "LEVEL",
     .check = check_log_level,
     .help = "lowest level logged to stderr: error, warn, info or debug"},
    {.name = "log_format",
     .env = "LEDGER_LOG_FORMAT",
     .flag = "log-format",
     .type = LEDGER_CONFIG_STRING,
     .def = "text",
     .metavar = "FORMAT",
     .check = check_log_format,
     .help = "stderr lines as text or json (one JSON object per line: time, level, program, "
             "msg)"},
    LEDGER_CONFIG_END,
};

const ledger_config_setting ledger_config_ops_settings[] = {
    {.name = "http_port",
     .env = "LEDGER_HTTP_PORT",
     .flag = "http-port",
     .type = LEDGER_CONFIG_INT,
     .def = NULL, /* unset: no endpoint */
     .min = 0,
     .max = 65535,
     .metavar = "PORT",
     .help = "serve GET /healthz and /metrics on this port (unset: off; 0: any free port, "
             "logged)"},
    {.name = "http_bind",
     .env = "LEDGER_HTTP_BIND",
     .flag = "http-bind",
     .type = LEDGER_CONFIG_STRING,
     .def = "0.0.0.0",
     .min = 1,
     .max = 255,
     .metavar = "ADDRESS",
     .help = "address the operations endpoint listens on"},
    LEDGER_CONFIG_END,
};

/* ---- construction ---- */

ledger_config *ledger_config_new(const char *program, const ledger_config_setting *const *tables) {
    ledger_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->program = program;
    size_t total = 0;
    for (size_t t = 0; tables != NULL && tables[t] != NULL; t++) {
        for (const ledger_config_setting *s = tables[t]; s->name != NULL; s++)
            total++;
    }
    cfg->entries = calloc(total > 0 ? total : 1, sizeof(*cfg->entries));
    if (cfg->entries == NULL) {
        free(cfg);
        return NULL;
    }
    for (size_t t = 0; tables != NULL && tables[t] != NULL; t++) {
        for (const ledger_config_setting *s = tables[t]; s->name != NULL; s++) {
            bool duplicate = false;
            for (size_t i = 0; i < cfg->n_entries; i++)
                duplicate = duplicate || strcmp(cfg->entries[i].setting->name, s->name) == 0;
            if (!duplicate)
                cfg->entries[cfg->n_entries++].setting = s;
        }
    }
    return cfg;
}

void ledger_config_destroy(ledger_config *cfg) {
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_entries; i++)
        free(cfg->entries[i].value);
    free(cfg->entries);
    for (size_t i = 0; i < cfg->n_props; i++)
        free(cfg->props[i].key);
    free(cfg->props);
    free(cfg->positional);
    free(cfg);
}

/* ---- loading ---- */

static int set_value(entry *e, const char *value, source from) {
    char *copy = NULL;
    if (value != NULL) {
        copy = strdup(value);
        if (copy == NULL)
            return -1;
    }
    free(e->value);
    e->value = copy;
    e->from = from;
    return 0;
}

static entry *find_by_flag(ledger_config *cfg, const char *flag, size_t len) {
    for (size_t i = 0; i < cfg->n_entries; i++) {
        const char *f = cfg->entries[i].setting->flag;
        if (f != NULL && strlen(f) == len && strncmp(f, flag, len) == 0)
            return &cfg->entries[i];
    }
    return NULL;
}

static int add_prop(ledger_config *cfg, const char *arg, char *errstr, size_t errstr_size) {
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        ledger_errf(errstr, errstr_size, "invalid -X '%s': expected key=value or dump", arg);
        return -1;
    }
    rdkafka_prop *grown = realloc(cfg->props, (cfg->n_props + 1) * sizeof(*grown));
    if (grown == NULL)
        goto oom;
    cfg->props = grown;
    char *key = strdup(arg);
    if (key == NULL)
        goto oom;
    key[eq - arg] = '\0';
    cfg->props[cfg->n_props].key = key;
    cfg->props[cfg->n_props].value = key + (eq - arg) + 1;
    cfg->n_props++;
    return 0;
oom:
    ledger_errf(errstr, errstr_size, "out of memory reading -X '%s'", arg);
    return -1;
}

/* A leading '-' followed by a digit is a negative number, not an option:
 * "ledger deposit A -5" must reach the amount check. */
static bool looks_like_option(const char *arg) {
    return arg[0] == '-' && arg[1] != '\0' && !isdigit((unsigned char)arg[1]);
}

static const char *subject_of(const entry *e, char *buf, size_t size) {
    const ledger_config_setting *s = e->setting;
    if (e->from == SOURCE_FLAG && s->flag != NULL)
        snprintf(buf, size, "--%s", s->flag);
    else if (e->from == SOURCE_ENV && s->env != NULL)
        snprintf(buf, size, "%s", s->env);
    else
        snprintf(buf, size, "default of %s", s->name);
    return buf;
}

static int parse_int(const char *text, int64_t *out) {
    if (text[0] == '\0' || !(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+'))
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *text, int64_t *out) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* "250ms", "5s", "2m", "1h", "1d", or plain seconds; a decimal fraction is
 * allowed ("1.5s", "0.25"). Sub-millisecond parts are dropped. */
static int parse_duration(const char *text, int64_t *ms_out) {
    const char *p = text;
    int64_t whole = 0, frac = 0, frac_scale = 1;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, *p - '0', &whole))
            return -1;
        p++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            if (frac_scale < 1000000000) { /* digits past nanoseconds change nothing */
                frac = frac * 10 + (*p - '0');
                frac_scale *= 10;
            }
            p++;
        }
    }
    int64_t unit;
    if (strcmp(p, "ms") == 0)
        unit = 1;
    else if (strcmp(p, "s") == 0 || *p == '\0')
        unit = 1000;
    else if (strcmp(p, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(p, "d") == 0)
        unit = 86400 * 1000;
    else
        return -1;
    int64_t ms;
    if (__builtin_mul_overflow(whole, unit, &ms) ||
        __builtin_add_overflow(ms, frac * unit / frac_scale, &ms))
        return -1;
    *ms_out = ms;
    return 0;
}

/* "1500ms", "5s", "2m", "1h", "1d": the largest unit that divides evenly. */
static void format_duration(int64_t ms, char *buf, size_t size) {
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%lldms", (long long)ms);
}

static bool has_bounds(const ledger_config_setting *s) {
    return s->min != 0 || s->max != 0;
}

/* Parses one entry's value by type; 0, or -1 with the reason in why. */
static int validate_entry(entry *e, char *why, size_t why_size) {
    const ledger_config_setting *s = e->setting;
    const char *v = e->value;
    switch (s->type) {
        case LEDGER_CONFIG_STRING: {
            size_t len = strlen(v);
            if (has_bounds(s) && ((int64_t)len < s->min || (int64_t)len > s->max)) {
                if (s->min > 0 && len == 0)
                    snprintf(why, why_size, "must not be empty");
                else
                    snprintf(why, why_size, "must be %lld to %lld characters long",
                             (long long)s->min, (long long)s->max);
                return -1;
            }
            break;
        }
        case LEDGER_CONFIG_INT:
            if (parse_int(v, &e->number) != 0) {
                snprintf(why, why_size, "expected an integer");
                return -1;
            }
            if (has_bounds(s) && (e->number < s->min || e->number > s->max)) {
                snprintf(why, why_size, "must be between %lld and %lld", (long long)s->min,
                         (long long)s->max);
                return -1;
            }
            break;
        case LEDGER_CONFIG_BOOL:
            if (parse_bool(v, &e->number) != 0) {
                snprintf(why, why_size, "expected true or false");
                return -1;
            }
            break;
        case LEDGER_CONFIG_DURATION:
            if (parse_duration(v, &e->number) != 0) {
                snprintf(why, why_size, "expected a duration such as 500ms, 5s, 2m, 1h or 1d");
                return -1;
            }
            if (has_bounds(s) && (e->number < s->min || e->number > s->max)) {
                char lo[32], hi[32];
                format_duration(s->min, lo, sizeof(lo));
                format_duration(s->max, hi, sizeof(hi));
                snprintf(why, why_size, "must be between %s and %s", lo, hi);
                return -1;
            }
            break;
        case LEDGER_CONFIG_URL: {
            const char *format = s->format != NULL ? s->format : "scheme://...";
            const char *sep = strstr(format, "://");
            size_t scheme_len = sep != NULL ? (size_t)(sep - format) + 3 : 0;
            /* A setting's own check knows better ("tls is not supported"). */
            if (s->check == NULL && (strstr(v, "://") == NULL ||
                                     (scheme_len > 0 && strncmp(v, format, scheme_len) != 0))) {
                snprintf(why, why_size, "expected %s", format);
                return -1;
            }
            break;
        }
    }
    if (s->check != NULL && s->check(v, why, why_size) != 0)
        return -1;
    return 0;
}

/* Masks the password of "scheme://user:password@host...". */
static void mask_secret(const char *value, char *buf, size_t size) {
    const char *start = strstr(value, "://");
    const char *at = start != NULL ? strchr(start + 3, '@') : NULL;
    if (at == NULL) {
        snprintf(buf, size, "%s", value);
        return;
    }
    const char *colon = memchr(start + 3, ':', (size_t)(at - (start + 3)));
    const char *cut = colon != NULL ? colon + 1 : start + 3;
    snprintf(buf, size, "%.*s***%s", (int)(cut - value), value, at);
}

/* Applies every -X property to a scratch librdkafka conf: librdkafka is the
 * authority on its own properties, and its errstr says what is wrong. */
static int validate_props(const ledger_config *cfg, char *errstr, size_t errstr_size) {
    if (cfg->n_props == 0)
        return 0;
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    int rc = 0;
    for (size_t i = 0; i < cfg->n_props; i++) {
        char why[512];
        /* SPEC section 3: keys go where the Java client puts them. */
        if (strcmp(cfg->props[i].key, "partitioner") == 0 &&
            strcmp(cfg->props[i].value, "murmur2_random") != 0) {
            ledger_errf(errstr, errstr_size,
                        "invalid -X 'partitioner=%s': the ledger needs murmur2_random, the Java "
                        "client's placement of keys",
                        cfg->props[i].value);
            rc = -1;
            break;
        }
        if (rd_kafka_conf_set(scratch, cfg->props[i].key, cfg->props[i].value, why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
            ledger_errf(errstr, errstr_size, "invalid -X '%s=%s': %s", cfg->props[i].key,
                        cfg->props[i].value, why);
            rc = -1;
            break;
        }
    }
    rd_kafka_conf_destroy(scratch);
    return rc;
}

ledger_config_status ledger_config_load(ledger_config *cfg, int argc, char **argv, char *errstr,
                                        size_t errstr_size) {
    bool want_dump = false;

    for (size_t i = 0; i < cfg->n_entries; i++) {
        if (set_value(&cfg->entries[i], cfg->entries[i].setting->def, SOURCE_DEFAULT) != 0)
            goto oom;
    }
    for (size_t i = 0; i < cfg->n_entries; i++) {
        const char *env = cfg->entries[i].setting->env;
        const char *value = env != NULL ? getenv(env) : NULL;
        if (value != NULL && set_value(&cfg->entries[i], value, SOURCE_ENV) != 0)
            goto oom;
    }

    free(cfg->positional);
    cfg->positional = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*cfg->positional));
    if (cfg->positional == NULL)
        goto oom;
    cfg->n_positional = 0;

    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || !looks_like_option(arg)) {
            cfg->positional[cfg->n_positional++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return LEDGER_CONFIG_HELP;
        if (strncmp(arg, "-X", 2) == 0) {
            const char *prop = arg[2] != '\0' ? arg + 2 : NULL;
            if (prop == NULL) {
                if (i + 1 >= argc) {
                    ledger_errf(errstr, errstr_size, "option '-X' requires key=value or dump");
                    return LEDGER_CONFIG_ERROR;
                }
                prop = argv[++i];
            }
            if (strcmp(prop, "dump") == 0)
                want_dump = true;
            else if (add_prop(cfg, prop, errstr, errstr_size) != 0)
                return LEDGER_CONFIG_ERROR;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            ledger_errf(errstr, errstr_size, "unknown option '%s'", arg);
            return LEDGER_CONFIG_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        entry *e = find_by_flag(cfg, name, name_len);
        if (e == NULL) {
            ledger_errf(errstr, errstr_size, "unknown option '--%.*s'", (int)name_len, name);
            return LEDGER_CONFIG_ERROR;
        }
        const char *value;
        if (eq != NULL) {
            value = eq + 1;
        } else if (e->setting->type == LEDGER_CONFIG_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            ledger_errf(errstr, errstr_size, "option '--%s' requires a value", e->setting->flag);
            return LEDGER_CONFIG_ERROR;
        }
        if (set_value(e, value, SOURCE_FLAG) != 0)
            goto oom;
    }

    for (size_t i = 0; i < cfg->n_entries; i++) {
        entry *e = &cfg->entries[i];
        if (e->value == NULL)
            continue;
        char why[256] = "";
        if (validate_entry(e, why, sizeof(why)) != 0) {
            char subject[128];
            char masked[1024];
            const char *shown = e->value;
            if (e->setting->secret) {
                mask_secret(e->value, masked, sizeof(masked));
                shown = masked;
            }
            ledger_errf(errstr, errstr_size, "invalid %s '%s': %s",
                        subject_of(e, subject, sizeof(subject)), shown, why);
            return LEDGER_CONFIG_ERROR;
        }
    }
    if (validate_props(cfg, errstr, errstr_size) != 0)
        return LEDGER_CONFIG_ERROR;
    return want_dump ? LEDGER_CONFIG_DUMP : LEDGER_CONFIG_OK;

oom:
    ledger_errf(errstr, errstr_size, "out of memory loading the configuration");
    return LEDGER_CONFIG_ERROR;
}

/* ---- accessors ---- */

static const entry *lookup(const ledger_config *cfg, const char *name, int type) {
    for (size_t i = 0; i < cfg->n_entries; i++) {
        const entry *e = &cfg->entries[i];
        if (strcmp(e->setting->name, name) == 0) {
            if (type >= 0 && (int)e->setting->type != type) {
                fprintf(stderr, "config: setting '%s' read with the wrong type\n", name);
                abort();
            }
            return e;
        }
    }
    fprintf(stderr, "config: setting '%s' is not declared\n", name);
    abort();
}

const char *ledger_config_str(const ledger_config *cfg, const char *name) {
    return lookup(cfg, name, -1)->value;
}

int64_t ledger_config_int(const ledger_config *cfg, const char *name) {
    return lookup(cfg, name, LEDGER_CONFIG_INT)->number;
}

bool ledger_config_bool(const ledger_config *cfg, const char *name) {
    return lookup(cfg, name, LEDGER_CONFIG_BOOL)->number != 0;
}

int64_t ledger_config_duration_ms(const ledger_config *cfg, const char *name) {
    return lookup(cfg, name, LEDGER_CONFIG_DURATION)->number;
}

bool ledger_config_is_set(const ledger_config *cfg, const char *name) {
    return lookup(cfg, name, -1)->from != SOURCE_DEFAULT;
}

int ledger_config_positional_count(const ledger_config *cfg) {
    return cfg->n_positional;
}

const char *ledger_config_positional(const ledger_config *cfg, int i) {
    return i >= 0 && i < cfg->n_positional ? cfg->positional[i] : NULL;
}

size_t ledger_config_rdkafka_count(const ledger_config *cfg) {
    return cfg->n_props;
}

void ledger_config_rdkafka_get(const ledger_config *cfg, size_t i, const char **key,
                               const char **value) {
    *key = i < cfg->n_props ? cfg->props[i].key : NULL;
    *value = i < cfg->n_props ? cfg->props[i].value : NULL;
}

/* ---- help and dump ---- */

static const char *metavar_of(const ledger_config_setting *s) {
    if (s->metavar != NULL)
        return s->metavar;
    switch (s->type) {
        case LEDGER_CONFIG_INT:
            return "N";
        case LEDGER_CONFIG_DURATION:
            return "DURATION";
        case LEDGER_CONFIG_URL:
            return "URL";
        case LEDGER_CONFIG_BOOL:
            return NULL;
        case LEDGER_CONFIG_STRING:
            break;
    }
    return "VALUE";
}

void ledger_config_help(const ledger_config *cfg, FILE *out, const char *usage,
                        const char *description) {
    fprintf(out, "usage: %s\n", usage != NULL ? usage : cfg->program);
    if (description != NULL)
        fprintf(out, "\n%s\n", description);
    fprintf(out, "\noptions (a flag wins over its environment variable, which wins over the "
                 "default):\n");
    for (size_t i = 0; i < cfg->n_entries; i++) {
        const ledger_config_setting *s = cfg->entries[i].setting;
        char head[96];
        const char *mv = metavar_of(s);
        if (s->flag != NULL)
            snprintf(head, sizeof(head), "--%s%s%s", s->flag, mv != NULL ? " " : "",
                     mv != NULL ? mv : "");
        else
            snprintf(head, sizeof(head), "%s=%s", s->env, mv != NULL ? mv : "true|false");
        fprintf(out, "  %-28s %s\n", head, s->help != NULL ? s->help : "");
        fprintf(out, "  %-28s ", "");
        if (s->env != NULL && s->flag != NULL)
            fprintf(out, "env %s, ", s->env);
        fprintf(out, "default %s\n", s->def != NULL ? (s->def[0] != '\0' ? s->def : "''") : "none");
    }
    fprintf(out, "  %-28s %s\n", "-X KEY=VALUE", "set any librdkafka property (repeatable)");
    fprintf(out, "  %-28s %s\n", "-X dump", "print the effective configuration and exit");
    fprintf(out, "  %-28s %s\n", "-h, --help", "print this help and exit");
}

void ledger_config_dump(const ledger_config *cfg, FILE *out) {
    fprintf(out, "# %s configuration\n", cfg->program);
    for (size_t i = 0; i < cfg->n_entries; i++) {
        const entry *e = &cfg->entries[i];
        const char *value = e->value != NULL ? e->value : "";
        char masked[1024];
        if (e->setting->secret) {
            mask_secret(value, masked, sizeof(masked));
            value = masked;
        }
        char subject[128] = "default";
        if (e->from != SOURCE_DEFAULT)
            subject_of(e, subject, sizeof(subject));
        fprintf(out, "%s = %s  # %s\n", e->setting->name, value, subject);
    }
    for (size_t i = 0; i < cfg->n_props; i++) {
        const char *key = cfg->props[i].key;
        bool secret = strstr(key, "password") != NULL || strstr(key, "secret") != NULL;
        fprintf(out, "-X %s = %s\n", key, secret ? "***" : cfg->props[i].value);
    }
}
