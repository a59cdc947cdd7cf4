/*
 * ids.c - validation and formatting of account ids, command ids and UUIDs.
 *
 * Every check takes an explicit length, because ids arrive from the wire
 * (Avro strings are not NUL-terminated) as often as from C strings; a NUL
 * inside the checked bytes therefore makes an id invalid rather than
 * shortening it.
 */
#include "ids.h"

#include <string.h>

static bool ids_is_account_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool ids_is_lower_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool ledger_account_valid(const char *s, size_t len) {
    if (s == NULL || len < 1 || len > LEDGER_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!ids_is_account_char((unsigned char)s[i]))
            return false;
    }
    return true;
}

uint64_t ledger_id_hash(const char *s, size_t len) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h;
}

bool ledger_command_id_valid(const char *s, size_t len) {
    if (s == NULL || len < 1 || len > LEDGER_COMMAND_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

bool ledger_uuid_valid(const char *s, size_t len) {
    if (s == NULL || len != LEDGER_UUID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!ids_is_lower_hex(c)) {
            return false;
        }
    }
    return true;
}

void ledger_uuid_format(const unsigned char bytes[16], char out[LEDGER_UUID_BUF]) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char b = bytes[i];
        if (i == 6)
            b = (unsigned char)((b & 0x0f) | 0x40); /* version 4 */
        else if (i == 8)
            b = (unsigned char)((b & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b >> 4];
        out[o++] = hex[b & 0x0f];
    }
    out[o] = '\0';
}

size_t ledger_id_len(const char *buf, size_t size) {
    size_t n = 0;
    while (n < size && buf[n] != '\0')
        n++;
    return n;
}

size_t ledger_id_copy(char *dst, size_t size, const char *src) {
    size_t n = src == NULL ? 0 : ledger_id_len(src, size - 1);
    if (n > 0)
        memcpy(dst, src, n);
    memset(dst + n, 0, size - n);
    return n;
}
