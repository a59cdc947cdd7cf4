/*
 * projector_keys.c - the read models' Redis key layout (see projector_keys.h).
 *
 * Built with snprintf into caller buffers: keys are made once per account per
 * batch, and a fixed buffer keeps that free of allocation. A key that does not
 * fit is reported (length 0) rather than cut, because a cut key would be a
 * different, wrong key.
 */
#include "projector_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_redis_prefix(const char *value, char *why, size_t why_size) {
    for (const char *p = value; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(why, why_size, "expected only [A-Za-z0-9._-]");
            return -1;
        }
    }
    return 0;
}

const ledger_config_setting projector_keys_settings[] = {
    {.name = "redis_prefix",
     .env = "LEDGER_REDIS_PREFIX",
     .flag = "redis-prefix",
     .type = LEDGER_CONFIG_STRING,
     .def = "ledger",
     .min = 1,
     .max = 64,
     .metavar = "NS",
     .check = check_redis_prefix,
     .help = "namespace of the read models' Redis keys (NS:VIEW:...)"},
    LEDGER_CONFIG_END,
};

static size_t keyf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t keyf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t projector_keys_current(const char *ns, const char *view, char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:current", ns, view);
}

size_t projector_keys_progress(const char *ns, const char *view, char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:progress", ns, view);
}

size_t projector_keys_building(const char *ns, const char *view, char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:building", ns, view);
}

size_t projector_keys_rebuild_lease(const char *ns, const char *view, char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:rebuild_lease", ns, view);
}

size_t projector_keys_checkpoints(const char *ns, const char *view, int64_t gen, char *buf,
                                  size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:checkpoints", ns, view, (long long)gen);
}

size_t projector_keys_quarantine(const char *ns, const char *view, int64_t gen, char *buf,
                                 size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:quarantine", ns, view, (long long)gen);
}

size_t projector_keys_held(const char *ns, const char *view, int64_t gen, const char *account,
                           char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:dlq:{%s}", ns, view, (long long)gen, account);
}

size_t projector_keys_generation_prefix(const char *ns, const char *view, int64_t gen, char *buf,
                                        size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:", ns, view, (long long)gen);
}

size_t projector_keys_account(const char *ns, const char *view, int64_t gen, const char *account,
                              const char *suffix, char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:{%s}:%s", ns, view, (long long)gen, account, suffix);
}

size_t projector_keys_view(const char *ns, const char *view, int64_t gen, const char *suffix,
                           char *buf, size_t size) {
    return keyf(buf, size, "%s:%s:g%lld:%s", ns, view, (long long)gen, suffix);
}

int projector_keys_parse_int(const char *text, size_t len, int64_t *out) {
    if (text == NULL || len == 0 || len > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return 0;
}
