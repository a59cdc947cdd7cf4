/*
 * upgrade.c - the upgrader table.
 *
 * Event v1 wrote TransferReturned.reason as a string; v2 made it the enum
 * ReturnReason. Avro resolution has no string -> enum rule, so this row maps
 * the v1 string through core's reason names; the plan then checks that the
 * reason is one of ReturnReason's symbols.
 */
#include "upgrade.h"

#include <stdio.h>
#include <string.h>

#include "reason.h"

/* Writes "'text'" (at most 40 bytes, unprintable bytes as '?') for messages. */
static void quote_text(const char *text, size_t len, char *out, size_t out_size) {
    size_t n = len < 40 ? len : 40;
    size_t j = 0;
    if (out_size < n + 4)
        n = out_size > 4 ? out_size - 4 : 0;
    out[j++] = '\'';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[j++] = '\'';
    out[j] = '\0';
}

static int reason_from_string(const char *text, size_t len, int *value, char *errstr,
                              size_t errstr_size) {
    char name[32];
    ledger_reason reason;
    if (len < sizeof name && memchr(text, '\0', len) == NULL) {
        memcpy(name, text, len);
        name[len] = '\0';
        if (ledger_reason_from_name(name, &reason) == 0) {
            *value = (int)reason;
            return 0;
        }
    }
    char quoted[48];
    quote_text(text, len, quoted, sizeof quoted);
    if (errstr_size > 0)
        snprintf(errstr, errstr_size, "unknown reason %s", quoted);
    return -1;
}

static const codec_upgrade upgrades[] = {
    {UINT64_C(0x6042d2ea8517d7bb), "ledger.Event.v1", "ledger.TransferReturned", "reason",
     CODEC_UPGRADE_FROM_STRING, reason_from_string},
};

const codec_upgrade *codec_upgrade_find(uint64_t writer_fingerprint, const char *record,
                                        const char *field) {
    for (size_t i = 0; i < sizeof upgrades / sizeof upgrades[0]; i++) {
        const codec_upgrade *u = &upgrades[i];
        if (u->writer_fingerprint == writer_fingerprint && strcmp(u->record, record) == 0 &&
            strcmp(u->field, field) == 0)
            return u;
    }
    return NULL;
}

size_t codec_upgrade_count(void) {
    return sizeof upgrades / sizeof upgrades[0];
}

const codec_upgrade *codec_upgrade_at(size_t i) {
    return i < codec_upgrade_count() ? &upgrades[i] : NULL;
}
