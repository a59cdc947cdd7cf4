/*
 * wire.c - the plan interpreter: Avro binary encoding, both ways.
 *
 * Avro binary: int and long are zig-zag varints (at most 10 bytes for 64
 * bits), strings and bytes a long length then the bytes, a union a long
 * branch index then the value, an enum a long symbol index, an array blocks
 * of (long count, items) ended by a zero count (a negative count is followed
 * by the block's byte size), a record its fields in order with nothing
 * between them.
 *
 * Decoding trusts nothing: lengths and counts are compared with the bytes
 * left before anything is copied or allocated (an item takes at least the
 * plan's min_bytes, so a count cannot outrun the input), and strings that do
 * not fit their buffer keep the first size-1 bytes with NULs made 0x7f (see
 * core/ids.h for why an over-long id must stay over-long). Struct members
 * are read and written with memcpy: the plan only knows offsets.
 */
#include "wire.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- decoding ------------------------------------------------------------ */

typedef struct wire_in {
    const codec_plan *plan;
    const uint8_t *buf;
    size_t pos;
    size_t len;
    char *errstr;
    size_t errstr_size;
} wire_in;

static int in_fail(wire_in *in, const char *fmt, ...) {
    if (in->errstr != NULL && in->errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->errstr, in->errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *what_of(const codec_plan *plan, const codec_plan_node *n) {
    return plan->chars + n->what;
}

static int read_varint(wire_in *in, const codec_plan_node *n, uint64_t *out) {
    size_t at = in->pos;
    if (in->pos < in->len && in->buf[in->pos] < 0x80) {
        *out = in->buf[in->pos++];
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (in->pos >= in->len)
            return in_fail(in, "truncated record at byte %zu reading '%s'", at,
                           what_of(in->plan, n));
        uint8_t b = in->buf[in->pos++];
        if (i == 9 && (b & 0x80))
            return in_fail(in, "varint longer than 10 bytes at byte %zu reading '%s'", at,
                           what_of(in->plan, n));
        if (i == 9 && b > 1)
            return in_fail(in, "varint overflows 64 bits at byte %zu reading '%s'", at,
                           what_of(in->plan, n));
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return 0;
}

static int read_long(wire_in *in, const codec_plan_node *n, int64_t *out) {
    uint64_t u;
    if (read_varint(in, n, &u) != 0)
        return -1;
    *out = (int64_t)((u >> 1) ^ (0 - (u & 1)));
    return 0;
}

static int read_int(wire_in *in, const codec_plan_node *n, int32_t *out) {
    size_t at = in->pos;
    int64_t v;
    if (read_long(in, n, &v) != 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return in_fail(in, "int %lld out of range at byte %zu reading '%s'", (long long)v, at,
                       what_of(in->plan, n));
    *out = (int32_t)v;
    return 0;
}

/* A length-prefixed span (string, bytes): checked, then consumed. */
static int read_span(wire_in *in, const codec_plan_node *n, const uint8_t **data, size_t *len) {
    size_t at = in->pos;
    int64_t v;
    if (read_long(in, n, &v) != 0)
        return -1;
    if (v < 0)
        return in_fail(in, "negative length %lld at byte %zu reading '%s'", (long long)v, at,
                       what_of(in->plan, n));
    size_t left = in->len - in->pos;
    if ((uint64_t)v > left)
        return in_fail(in, "truncated record at byte %zu reading '%s': length %lld, %zu bytes left",
                       at, what_of(in->plan, n), (long long)v, left);
    *data = in->buf + in->pos;
    *len = (size_t)v;
    in->pos += (size_t)v;
    return 0;
}

static int need(wire_in *in, const codec_plan_node *n, size_t bytes) {
    if (in->len - in->pos < bytes)
        return in_fail(in, "truncated record at byte %zu reading '%s'", in->pos,
                       what_of(in->plan, n));
    return 0;
}

/* Keeps at most size-1 bytes; NUL bytes become 0x7f so that a string cannot
 * pass for a shorter one. */
static void copy_text(char *dst, int32_t size, const uint8_t *src, size_t len) {
    size_t n = len < (size_t)(size - 1) ? len : (size_t)(size - 1);
    memcpy(dst, src, n);
    char *nul = memchr(dst, '\0', n);
    while (nul != NULL) {
        *nul = 0x7f;
        nul = memchr(nul + 1, '\0', n - (size_t)(nul + 1 - dst));
    }
    dst[n] = '\0';
}

static void store_i64(uint8_t *object, int32_t off, int64_t v) {
    memcpy(object + off, &v, sizeof v);
}

static void store_i32(uint8_t *object, int32_t off, int32_t v) {
    memcpy(object + off, &v, sizeof v);
}

static void store_enum(const codec_plan_node *n, uint8_t *object, int64_t *locals, int v) {
    if (n->local >= 0)
        locals[n->local] = v;
    else
        memcpy(object + n->off, &v, sizeof v);
}

/* A null: whatever holds the value says "absent". */
static void clear(const codec_plan_node *n, uint8_t *object, int64_t *locals) {
    if (n->null_how == CODEC_NULL_FLAG) {
        bool no = false;
        memcpy(object + n->aux, &no, sizeof no);
    } else if (n->null_how == CODEC_NULL_ZERO) {
        switch (n->zero_kind) {
            case CODEC_BIND_STRING:
                object[n->off] = '\0';
                break;
            case CODEC_BIND_LONG:
                store_i64(object, n->off, 0);
                break;
            case CODEC_BIND_INT:
                store_i32(object, n->off, 0);
                break;
            case CODEC_BIND_ENUM:
                store_enum(n, object, locals, 0);
                break;
            default:
                break;
        }
    }
}

/* Writes "'text'" (at most 40 bytes, unprintable bytes as '?'). */
static void quote(const uint8_t *text, size_t len, char *out, size_t out_size) {
    size_t n = len < 40 ? len : 40, j = 0;
    if (out_size < n + 3)
        n = out_size >= 3 ? out_size - 3 : 0;
    out[j++] = '\'';
    for (size_t i = 0; i < n; i++)
        out[j++] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char)text[i] : '?';
    out[j++] = '\'';
    out[j] = '\0';
}

static int decode_node(wire_in *in, uint32_t at, uint8_t *object, int64_t *locals);

static int decode_array(wire_in *in, const codec_plan_node *n, uint8_t *object) {
    uint8_t *items;
    size_t total;
    memcpy(&items, object + n->off, sizeof items);
    memcpy(&total, object + n->aux, sizeof total);
    size_t size = (size_t)n->size;
    uint64_t min = n->value > 0 ? (uint64_t)n->value : 1;
    uint32_t item = (uint32_t)in->plan->ints[n->first];
    for (;;) {
        size_t at = in->pos;
        int64_t count;
        if (read_long(in, n, &count) != 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) {
            int64_t bytes;
            if (count == INT64_MIN)
                return in_fail(in, "bad array count at byte %zu reading '%s'", at,
                               what_of(in->plan, n));
            count = -count;
            if (read_long(in, n, &bytes) != 0)
                return -1;
            if (bytes < 0 || (uint64_t)bytes > in->len - in->pos)
                return in_fail(in, "bad array block size %lld at byte %zu reading '%s'",
                               (long long)bytes, at, what_of(in->plan, n));
        }
        size_t left = in->len - in->pos;
        if ((uint64_t)count > left / min)
            return in_fail(in,
                           "array count %lld at byte %zu exceeds the %zu bytes left reading '%s'",
                           (long long)count, at, left, what_of(in->plan, n));
        size_t grown_count = total + (size_t)count;
        if (grown_count > SIZE_MAX / size)
            return in_fail(in, "array too large at byte %zu reading '%s'", at,
                           what_of(in->plan, n));
        uint8_t *grown = realloc(items, grown_count * size);
        if (grown == NULL)
            return in_fail(in, "out of memory reading '%s'", what_of(in->plan, n));
        memset(grown + total * size, 0, (size_t)count * size);
        items = grown;
        /* The struct always owns what was allocated, so that a failure
         * further on leaves nothing to leak. */
        memcpy(object + n->off, &items, sizeof items);
        memcpy(object + n->aux, &grown_count, sizeof grown_count);
        for (size_t i = total; i < grown_count; i++) {
            if (decode_node(in, item, items + i * size, NULL) != 0)
                return -1;
        }
        total = grown_count;
    }
}

static int skip_blocks(wire_in *in, const codec_plan_node *n, bool map) {
    uint64_t min = n->value > 0 ? (uint64_t)n->value : 1;
    uint32_t item = (uint32_t)in->plan->ints[n->first];
    for (;;) {
        size_t at = in->pos;
        int64_t count;
        if (read_long(in, n, &count) != 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) {
            /* The block's size is given: skip it whole. */
            int64_t bytes;
            if (read_long(in, n, &bytes) != 0)
                return -1;
            if (bytes < 0 || (uint64_t)bytes > in->len - in->pos)
                return in_fail(in, "bad block size %lld at byte %zu reading '%s'", (long long)bytes,
                               at, what_of(in->plan, n));
            in->pos += (size_t)bytes;
            continue;
        }
        if ((uint64_t)count > (in->len - in->pos) / min)
            return in_fail(in,
                           "block count %lld at byte %zu exceeds the %zu bytes left reading '%s'",
                           (long long)count, at, in->len - in->pos, what_of(in->plan, n));
        for (int64_t i = 0; i < count; i++) {
            const uint8_t *key;
            size_t key_len;
            if (map && read_span(in, n, &key, &key_len) != 0)
                return -1;
            if (decode_node(in, item, NULL, NULL) != 0)
                return -1;
        }
    }
}

static int decode_node(wire_in *in, uint32_t at, uint8_t *object, int64_t *locals) {
    const codec_plan *plan = in->plan;
    const codec_plan_node *n = &plan->nodes[at];
    size_t start = in->pos;
    if (n->entry == CODEC_ENTRY_FLAG) {
        bool yes = true;
        memcpy(object + n->entry_off, &yes, sizeof yes);
    } else if (n->entry == CODEC_ENTRY_TAG) {
        store_i32(object, n->entry_off, n->entry_value);
    }
    switch ((codec_op)n->op) {
        case CODEC_OP_D_LONG: {
            int64_t v;
            if (read_long(in, n, &v) != 0)
                return -1;
            store_i64(object, n->off, v);
            return 0;
        }
        case CODEC_OP_D_INT_AS_LONG:
        case CODEC_OP_D_INT: {
            int32_t v = 0;
            if (read_int(in, n, &v) != 0)
                return -1;
            if (n->op == CODEC_OP_D_INT)
                store_i32(object, n->off, v);
            else
                store_i64(object, n->off, v);
            return 0;
        }
        case CODEC_OP_D_BOOL: {
            if (need(in, n, 1) != 0)
                return -1;
            uint8_t b = in->buf[in->pos++];
            if (b > 1)
                return in_fail(in, "invalid boolean 0x%02x at byte %zu reading '%s'", b, start,
                               what_of(plan, n));
            bool v = b == 1;
            memcpy(object + n->off, &v, sizeof v);
            return 0;
        }
        case CODEC_OP_D_STRING: {
            const uint8_t *data;
            size_t len;
            if (read_span(in, n, &data, &len) != 0)
                return -1;
            copy_text((char *)object + n->off, n->size, data, len);
            return 0;
        }
        case CODEC_OP_D_ENUM: {
            int64_t index;
            if (read_long(in, n, &index) != 0)
                return -1;
            if (index < 0 || (uint64_t)index >= n->map_count)
                return in_fail(in,
                               "enum index %lld out of range (%u symbols) at byte %zu reading '%s'",
                               (long long)index, n->map_count, start, what_of(plan, n));
            int32_t v = plan->ints[n->map_first + (uint32_t)index];
            if (v < 0)
                return in_fail(in,
                               "enum symbol %lld at byte %zu reading '%s' is unknown to the reader",
                               (long long)index, start, what_of(plan, n));
            store_enum(n, object, locals, v);
            return 0;
        }
        case CODEC_OP_D_NAMED: {
            const uint8_t *data;
            size_t len;
            char name[64];
            int v;
            if (read_span(in, n, &data, &len) != 0)
                return -1;
            if (len < sizeof name && memchr(data, '\0', len) == NULL) {
                memcpy(name, data, len);
                name[len] = '\0';
                if (n->names->from_name(name, &v) == 0) {
                    store_enum(n, object, locals, v);
                    return 0;
                }
            }
            char quoted[48];
            quote(data, len, quoted, sizeof quoted);
            return in_fail(in, "unknown %s %s at byte %zu reading '%s'", n->names->what, quoted,
                           start, what_of(plan, n));
        }
        case CODEC_OP_D_UPGRADE: {
            const uint8_t *data;
            size_t len;
            int v;
            char msg[96];
            if (read_span(in, n, &data, &len) != 0)
                return -1;
            if (n->upgrade((const char *)data, len, &v, msg, sizeof msg) != 0)
                return in_fail(in, "%s at byte %zu reading '%s'", msg, start, what_of(plan, n));
            for (uint32_t i = 0; i < n->map_count; i++) {
                if (plan->ints[n->map_first + i] == v) {
                    store_enum(n, object, locals, v);
                    return 0;
                }
            }
            const char *name = n->names->to_name(v);
            return in_fail(in, "%s '%s' is not a symbol of '%s' at byte %zu reading '%s'",
                           n->names->what, name ? name : "?", plan->chars + n->value, start,
                           what_of(plan, n));
        }
        case CODEC_OP_D_NULL:
        case CODEC_OP_F_NULL:
            clear(n, object, locals);
            return 0;
        case CODEC_OP_D_ERROR:
            return in_fail(in, "%s at byte %zu", what_of(plan, n), start);
        case CODEC_OP_D_RECORD: {
            uint8_t *inner = object + n->off;
            int64_t mine[CODEC_BIND_LOCALS] = {0};
            for (uint32_t i = 0; i < n->count; i++) {
                if (decode_node(in, (uint32_t)plan->ints[n->first + i], inner, mine) != 0)
                    return -1;
            }
            if (n->finish != NULL) {
                char msg[160];
                if (n->finish(inner, mine, msg, sizeof msg) != 0)
                    return in_fail(in, "%s (record '%s' at byte %zu)", msg, what_of(plan, n),
                                   start);
            }
            return 0;
        }
        case CODEC_OP_D_UNION:
        case CODEC_OP_S_UNION: {
            int64_t branch;
            if (read_long(in, n, &branch) != 0)
                return -1;
            if (branch < 0 || (uint64_t)branch >= n->count)
                return in_fail(
                    in, "union branch %lld out of range (%u branches) at byte %zu reading '%s'",
                    (long long)branch, n->count, start, what_of(plan, n));
            return decode_node(in, (uint32_t)plan->ints[n->first + (uint32_t)branch], object,
                               locals);
        }
        case CODEC_OP_D_ARRAY:
            return decode_array(in, n, object);
        case CODEC_OP_S_NOTHING:
            return 0;
        case CODEC_OP_S_BOOL:
            if (need(in, n, 1) != 0)
                return -1;
            in->pos++;
            return 0;
        case CODEC_OP_S_VARINT: {
            uint64_t ignored;
            return read_varint(in, n, &ignored);
        }
        case CODEC_OP_S_FIXED:
            if (need(in, n, (size_t)n->size) != 0)
                return -1;
            in->pos += (size_t)n->size;
            return 0;
        case CODEC_OP_S_BYTES: {
            const uint8_t *data;
            size_t len;
            return read_span(in, n, &data, &len);
        }
        case CODEC_OP_S_RECORD:
            for (uint32_t i = 0; i < n->count; i++) {
                if (decode_node(in, (uint32_t)plan->ints[n->first + i], NULL, NULL) != 0)
                    return -1;
            }
            return 0;
        case CODEC_OP_S_ARRAY:
            return skip_blocks(in, n, false);
        case CODEC_OP_S_MAP:
            return skip_blocks(in, n, true);
        case CODEC_OP_F_LONG:
            store_i64(object, n->off, n->value);
            return 0;
        case CODEC_OP_F_INT:
            store_i32(object, n->off, (int32_t)n->value);
            return 0;
        case CODEC_OP_F_BOOL: {
            bool v = n->value != 0;
            memcpy(object + n->off, &v, sizeof v);
            return 0;
        }
        case CODEC_OP_F_ENUM:
            store_enum(n, object, locals, (int)n->value);
            return 0;
        case CODEC_OP_F_STRING: {
            const char *text = plan->chars + n->value;
            copy_text((char *)object + n->off, n->size, (const uint8_t *)text, strlen(text));
            return 0;
        }
        case CODEC_OP_F_EMPTY_ARRAY: {
            void *none = NULL;
            size_t zero = 0;
            memcpy(object + n->off, &none, sizeof none);
            memcpy(object + n->aux, &zero, sizeof zero);
            return 0;
        }
        default:
            return in_fail(in, "internal error: op %d in a decode plan", n->op);
    }
}

int codec_wire_decode(const codec_plan *plan, const uint8_t *buf, size_t len, size_t start,
                      void *object, char *errstr, size_t errstr_size) {
    wire_in in = {plan, buf, start, len, errstr, errstr_size};
    if (start > len)
        return in_fail(&in, "truncated record: %zu bytes", len);
    if (decode_node(&in, plan->root, object, NULL) != 0)
        return -1;
    if (in.pos != len)
        return in_fail(&in, "%zu trailing bytes after the record at byte %zu", len - in.pos,
                       in.pos);
    return 0;
}

/* --- encoding ------------------------------------------------------------ */

typedef struct wire_out {
    const codec_plan *plan;
    uint8_t *buf;
    size_t pos;
    size_t cap;
    char *errstr;
    size_t errstr_size;
} wire_out;

static int out_fail(wire_out *out, const char *fmt, ...) {
    if (out->errstr != NULL && out->errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->errstr, out->errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int room(wire_out *out, const codec_plan_node *n, size_t bytes) {
    if (out->cap - out->pos < bytes)
        return out_fail(out, "buffer too small (%zu bytes) writing '%s' at byte %zu", out->cap,
                        what_of(out->plan, n), out->pos);
    return 0;
}

static int write_varint(wire_out *out, const codec_plan_node *n, uint64_t v) {
    uint8_t tmp[10];
    size_t k = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        tmp[k++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v != 0);
    if (room(out, n, k) != 0)
        return -1;
    memcpy(out->buf + out->pos, tmp, k);
    out->pos += k;
    return 0;
}

static int write_long(wire_out *out, const codec_plan_node *n, int64_t v) {
    return write_varint(out, n, ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0));
}

static int write_span(wire_out *out, const codec_plan_node *n, const char *s, size_t len) {
    if (write_long(out, n, (int64_t)len) != 0 || room(out, n, len) != 0)
        return -1;
    memcpy(out->buf + out->pos, s, len);
    out->pos += len;
    return 0;
}

static int64_t load_i64(const uint8_t *object, int32_t off) {
    int64_t v;
    memcpy(&v, object + off, sizeof v);
    return v;
}

static int32_t load_i32(const uint8_t *object, int32_t off) {
    int32_t v;
    memcpy(&v, object + off, sizeof v);
    return v;
}

static bool load_bool(const uint8_t *object, int32_t off) {
    bool v;
    memcpy(&v, object + off, sizeof v);
    return v;
}

static int enum_value(const codec_plan_node *n, const uint8_t *object) {
    return n->derive != NULL ? n->derive(object) : load_i32(object, n->off);
}

static bool is_null(const codec_plan_node *n, const uint8_t *object) {
    if (n->null_how == CODEC_NULL_FLAG)
        return !load_bool(object, n->aux);
    switch (n->zero_kind) {
        case CODEC_BIND_STRING:
            return object[n->off] == '\0';
        case CODEC_BIND_LONG:
            return load_i64(object, n->off) == 0;
        case CODEC_BIND_INT:
            return load_i32(object, n->off) == 0;
        case CODEC_BIND_ENUM:
            return enum_value(n, object) == 0;
        default:
            return false;
    }
}

static int encode_node(wire_out *out, uint32_t at, const uint8_t *object) {
    const codec_plan *plan = out->plan;
    const codec_plan_node *n = &plan->nodes[at];
    switch ((codec_op)n->op) {
        case CODEC_OP_E_NOTHING:
            return 0;
        case CODEC_OP_E_LONG:
            return write_long(out, n, load_i64(object, n->off));
        case CODEC_OP_E_INT_AS_LONG:
        case CODEC_OP_E_INT:
            return write_long(out, n, load_i32(object, n->off));
        case CODEC_OP_E_BOOL:
            if (room(out, n, 1) != 0)
                return -1;
            out->buf[out->pos++] = load_bool(object, n->off) ? 1 : 0;
            return 0;
        case CODEC_OP_E_STRING: {
            const char *s = (const char *)object + n->off;
            return write_span(out, n, s, strnlen(s, (size_t)n->size - 1));
        }
        case CODEC_OP_E_ENUM: {
            int v = enum_value(n, object);
            int32_t index =
                v >= 0 && (uint32_t)v < n->map_count ? plan->ints[n->map_first + (uint32_t)v] : -1;
            if (index < 0)
                return out_fail(out, "cannot write %s %d of '%s' in this schema", n->names->what, v,
                                what_of(plan, n));
            return write_long(out, n, index);
        }
        case CODEC_OP_E_ENUM_NAME: {
            int v = enum_value(n, object);
            const char *name = n->names->to_name(v);
            if (name == NULL)
                return out_fail(out, "cannot write %s %d of '%s': no such value", n->names->what, v,
                                what_of(plan, n));
            return write_span(out, n, name, strlen(name));
        }
        case CODEC_OP_E_RECORD: {
            const uint8_t *inner = object + n->off;
            for (uint32_t i = 0; i < n->count; i++) {
                if (encode_node(out, (uint32_t)plan->ints[n->first + i], inner) != 0)
                    return -1;
            }
            return 0;
        }
        case CODEC_OP_E_NULLABLE:
            if (is_null(n, object))
                return write_long(out, n, n->value);
            if (write_long(out, n, n->size) != 0)
                return -1;
            return encode_node(out, (uint32_t)plan->ints[n->first], object);
        case CODEC_OP_E_CHOICE: {
            int tag = load_i32(object, n->off);
            int32_t branch = tag >= 0 && (uint32_t)tag < n->map_count
                                 ? plan->ints[n->map_first + (uint32_t)tag]
                                 : -1;
            if (branch < 0)
                return out_fail(out, "cannot write %s %d of '%s' in this schema", n->names->what,
                                tag, what_of(plan, n));
            if (write_long(out, n, branch) != 0)
                return -1;
            return encode_node(out, (uint32_t)plan->ints[n->first + (uint32_t)branch], object);
        }
        case CODEC_OP_E_ARRAY: {
            const uint8_t *items;
            size_t count;
            memcpy(&items, object + n->off, sizeof items);
            memcpy(&count, object + n->aux, sizeof count);
            if (count > 0) {
                if (items == NULL)
                    return out_fail(out, "'%s' has %zu items and no array", what_of(plan, n),
                                    count);
                if (count > INT64_MAX || write_long(out, n, (int64_t)count) != 0)
                    return -1;
                for (size_t i = 0; i < count; i++) {
                    if (encode_node(out, (uint32_t)plan->ints[n->first],
                                    items + i * (size_t)n->size) != 0)
                        return -1;
                }
            }
            return write_long(out, n, 0);
        }
        default:
            return out_fail(out, "internal error: op %d in an encode plan", n->op);
    }
}

int codec_wire_encode(const codec_plan *plan, const void *object, uint8_t *buf, size_t cap,
                      size_t start, size_t *end, char *errstr, size_t errstr_size) {
    wire_out out = {plan, buf, start, cap, errstr, errstr_size};
    if (start > cap)
        return out_fail(&out, "buffer too small (%zu bytes)", cap);
    if (encode_node(&out, plan->root, object) != 0)
        return -1;
    *end = out.pos;
    return 0;
}
