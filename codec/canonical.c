/*
 * canonical.c - Parsing Canonical Form and CRC-64-AVRO.
 *
 * Works on the schema's JSON (parsed with jansson) rather than on avro-c's
 * schema objects: avro-c drops attributes and normalises names in ways of
 * its own, and the specification defines the form as a transformation of the
 * JSON. One recursive walk applies the rules:
 *
 *   PRIMITIVES  {"type":"int"} (with any other attributes) becomes "int"
 *   FULLNAMES   names and references are written as fullnames, resolved
 *               against the enclosing namespace; "namespace" is dropped
 *   STRIP       only name, type, fields, symbols, items, values, size stay
 *   ORDER       in that order
 *   STRINGS     strings are written as their UTF-8 characters (jansson
 *               decodes escapes; names are checked to be plain identifiers)
 *   INTEGERS    size is written as a plain decimal
 *   WHITESPACE  none is written
 *
 * A named type is written in full the first time and by its fullname after
 * that (as the Java reference implementation does), and a reference to a
 * type not yet defined is an error.
 */
#include "canonical.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANONICAL_MAX_DEPTH 64

typedef struct canonical_out {
    char *buf;
    size_t len;
    size_t cap;
    /* fullnames of the named types defined so far */
    char **names;
    size_t name_count;
    size_t name_cap;
    char *errstr;
    size_t errstr_size;
    bool failed;
} canonical_out;

static void fail(canonical_out *out, const char *fmt, ...) {
    if (out->failed)
        return;
    out->failed = true;
    if (out->errstr != NULL && out->errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->errstr, out->errstr_size, fmt, ap);
        va_end(ap);
    }
}

static void append(canonical_out *out, const char *s, size_t n) {
    if (out->failed)
        return;
    if (out->len + n + 1 > out->cap) {
        size_t cap = out->cap ? out->cap : 256;
        while (out->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(out->buf, cap);
        if (grown == NULL) {
            fail(out, "out of memory");
            return;
        }
        out->buf = grown;
        out->cap = cap;
    }
    memcpy(out->buf + out->len, s, n);
    out->len += n;
    out->buf[out->len] = '\0';
}

static void append_str(canonical_out *out, const char *s) {
    append(out, s, strlen(s));
}

static void append_quoted(canonical_out *out, const char *s) {
    append(out, "\"", 1);
    append_str(out, s);
    append(out, "\"", 1);
}

static bool is_primitive(const char *name) {
    static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                             "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (strcmp(name, primitives[i]) == 0)
            return true;
    }
    return false;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool is_identifier(const char *s, size_t n) {
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0))
            return false;
    }
    return true;
}

/* Dot-separated identifiers. */
static bool is_dotted_name(const char *s) {
    const char *part = s;
    for (;;) {
        const char *dot = strchr(part, '.');
        size_t n = dot ? (size_t)(dot - part) : strlen(part);
        if (!is_identifier(part, n))
            return false;
        if (dot == NULL)
            return true;
        part = dot + 1;
    }
}

/* Resolves `name` against the namespace `ns` (NULL or "" for none) into a
 * malloc'd fullname. */
static char *fullname_of(canonical_out *out, const char *name, const char *ns) {
    if (!is_dotted_name(name)) {
        fail(out, "invalid name '%s'", name);
        return NULL;
    }
    size_t n = strlen(name);
    size_t m = (strchr(name, '.') == NULL && ns != NULL) ? strlen(ns) : 0;
    char *full = malloc(m + 1 + n + 1);
    if (full == NULL) {
        fail(out, "out of memory");
        return NULL;
    }
    if (m > 0) {
        memcpy(full, ns, m);
        full[m] = '.';
        memcpy(full + m + 1, name, n + 1);
    } else {
        memcpy(full, name, n + 1);
    }
    return full;
}

static bool name_defined(const canonical_out *out, const char *fullname) {
    for (size_t i = 0; i < out->name_count; i++) {
        if (strcmp(out->names[i], fullname) == 0)
            return true;
    }
    return false;
}

/* Takes ownership of fullname. */
static void define_name(canonical_out *out, char *fullname) {
    if (out->name_count == out->name_cap) {
        size_t cap = out->name_cap ? out->name_cap * 2 : 16;
        char **grown = realloc(out->names, cap * sizeof *grown);
        if (grown == NULL) {
            free(fullname);
            fail(out, "out of memory");
            return;
        }
        out->names = grown;
        out->name_cap = cap;
    }
    out->names[out->name_count++] = fullname;
}

static void emit(canonical_out *out, const json_t *schema, const char *ns, int depth);

/* A string schema: a primitive, or a reference to a defined named type. */
static void emit_reference(canonical_out *out, const char *name, const char *ns) {
    if (is_primitive(name)) {
        append_quoted(out, name);
        return;
    }
    char *full = fullname_of(out, name, ns);
    if (full == NULL)
        return;
    if (!name_defined(out, full))
        fail(out, "unknown type '%s'", full);
    else
        append_quoted(out, full);
    free(full);
}

static const char *string_member(canonical_out *out, const json_t *object, const char *key,
                                 const char *what) {
    const json_t *value = json_object_get(object, key);
    if (!json_is_string(value)) {
        fail(out, "%s without a string '%s'", what, key);
        return NULL;
    }
    return json_string_value(value);
}

static void emit_fields(canonical_out *out, const json_t *schema, const char *ns,
                        const char *fullname, int depth) {
    const json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields)) {
        fail(out, "record '%s' without a 'fields' array", fullname);
        return;
    }
    append_str(out, ",\"fields\":[");
    size_t i;
    const json_t *field;
    json_array_foreach(fields, i, field) {
        if (!json_is_object(field)) {
            fail(out, "field %zu of record '%s' is not an object", i, fullname);
            return;
        }
        const char *name = string_member(out, field, "name", "field");
        if (name == NULL)
            return;
        if (!is_identifier(name, strlen(name))) {
            fail(out, "invalid field name '%s' in record '%s'", name, fullname);
            return;
        }
        const json_t *type = json_object_get(field, "type");
        if (type == NULL) {
            fail(out, "field '%s' of record '%s' without a 'type'", name, fullname);
            return;
        }
        if (i > 0)
            append(out, ",", 1);
        append_str(out, "{\"name\":");
        append_quoted(out, name);
        append_str(out, ",\"type\":");
        emit(out, type, ns, depth + 1);
        append(out, "}", 1);
    }
    append(out, "]", 1);
}

static void emit_symbols(canonical_out *out, const json_t *schema, const char *fullname) {
    const json_t *symbols = json_object_get(schema, "symbols");
    if (!json_is_array(symbols)) {
        fail(out, "enum '%s' without a 'symbols' array", fullname);
        return;
    }
    append_str(out, ",\"symbols\":[");
    size_t i;
    const json_t *symbol;
    json_array_foreach(symbols, i, symbol) {
        const char *s = json_string_value(symbol);
        if (s == NULL || !is_identifier(s, strlen(s))) {
            fail(out, "invalid symbol %zu of enum '%s'", i, fullname);
            return;
        }
        if (i > 0)
            append(out, ",", 1);
        append_quoted(out, s);
    }
    append(out, "]", 1);
}

static void emit_size(canonical_out *out, const json_t *schema, const char *fullname) {
    const json_t *size = json_object_get(schema, "size");
    json_int_t n = -1;
    if (json_is_integer(size)) {
        n = json_integer_value(size);
    } else if (json_is_string(size)) {
        /* INTEGERS: a size written as a quoted decimal, leading zeros allowed */
        const char *s = json_string_value(size);
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (*s >= '0' && *s <= '9' && end != NULL && *end == '\0')
            n = (json_int_t)v;
    }
    if (n < 0 || n > INT32_MAX) {
        fail(out, "fixed '%s' without a valid 'size'", fullname);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, ",\"size\":%" PRId64, (int64_t)n);
    append_str(out, text);
}

static void emit_named(canonical_out *out, const json_t *schema, const char *type, const char *ns,
                       int depth) {
    const char *name = string_member(out, schema, "name", type);
    if (name == NULL)
        return;
    /* The namespace of a dotted name is its prefix; otherwise an explicit
     * "namespace" attribute ("" meaning none); otherwise the enclosing one. */
    const char *own_ns = ns;
    const json_t *ns_attr = json_object_get(schema, "namespace");
    if (strchr(name, '.') == NULL && ns_attr != NULL) {
        if (!json_is_string(ns_attr)) {
            fail(out, "%s '%s' with a non-string 'namespace'", type, name);
            return;
        }
        own_ns = json_string_value(ns_attr);
        if (*own_ns == '\0')
            own_ns = NULL;
        else if (!is_dotted_name(own_ns)) {
            fail(out, "invalid namespace '%s'", own_ns);
            return;
        }
    }
    char *full = fullname_of(out, name, own_ns);
    if (full == NULL)
        return;
    if (name_defined(out, full)) {
        /* Written in full once; by name after that. */
        append_quoted(out, full);
        free(full);
        return;
    }
    /* Nested definitions take the namespace of this type's fullname. */
    char *inner_ns = NULL;
    const char *dot = strrchr(full, '.');
    if (dot != NULL) {
        inner_ns = strndup(full, (size_t)(dot - full));
        if (inner_ns == NULL) {
            free(full);
            fail(out, "out of memory");
            return;
        }
    }
    const char *kind = strcmp(type, "error") == 0 ? "record" : type;
    append_str(out, "{\"name\":");
    append_quoted(out, full);
    append_str(out, ",\"type\":");
    append_quoted(out, kind);
    const char *fullname = full;
    define_name(out, full); /* owned by out now; defined before the fields, for recursion */
    if (out->failed) {
        free(inner_ns);
        return;
    }
    if (strcmp(kind, "record") == 0)
        emit_fields(out, schema, inner_ns, fullname, depth);
    else if (strcmp(kind, "enum") == 0)
        emit_symbols(out, schema, fullname);
    else
        emit_size(out, schema, fullname);
    append(out, "}", 1);
    free(inner_ns);
}

static void emit_object(canonical_out *out, const json_t *schema, const char *ns, int depth) {
    const json_t *type_attr = json_object_get(schema, "type");
    if (!json_is_string(type_attr)) {
        fail(out, "schema object without a string 'type'");
        return;
    }
    const char *type = json_string_value(type_attr);
    if (is_primitive(type)) {
        append_quoted(out, type); /* PRIMITIVES, and STRIP of logicalType and the like */
    } else if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
               strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
        emit_named(out, schema, type, ns, depth);
    } else if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        bool array = type[0] == 'a';
        const char *key = array ? "items" : "values";
        const json_t *inner = json_object_get(schema, key);
        if (inner == NULL) {
            fail(out, "%s without '%s'", type, key);
            return;
        }
        append_str(out, array ? "{\"type\":\"array\",\"items\":" : "{\"type\":\"map\",\"values\":");
        emit(out, inner, ns, depth + 1);
        append(out, "}", 1);
    } else {
        emit_reference(out, type, ns); /* {"type":"some.Name"} */
    }
}

static void emit(canonical_out *out, const json_t *schema, const char *ns, int depth) {
    if (out->failed)
        return;
    if (depth > CANONICAL_MAX_DEPTH) {
        fail(out, "schema nested deeper than %d levels", CANONICAL_MAX_DEPTH);
        return;
    }
    if (json_is_string(schema)) {
        emit_reference(out, json_string_value(schema), ns);
    } else if (json_is_array(schema)) {
        append(out, "[", 1);
        size_t i;
        const json_t *branch;
        json_array_foreach(schema, i, branch) {
            if (i > 0)
                append(out, ",", 1);
            emit(out, branch, ns, depth + 1);
        }
        append(out, "]", 1);
    } else if (json_is_object(schema)) {
        emit_object(out, schema, ns, depth);
    } else {
        fail(out, "schema is neither a string, an array nor an object");
    }
}

int ledger_canonical_form(const char *json, size_t len, char **out_text, size_t *out_len,
                          char *errstr, size_t errstr_size) {
    canonical_out out = {.errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fail(&out, "invalid schema json at line %d column %d: %s", jerr.line, jerr.column,
             jerr.text);
    } else {
        emit(&out, root, NULL, 0);
        json_decref(root);
    }
    for (size_t i = 0; i < out.name_count; i++)
        free(out.names[i]);
    free(out.names);
    if (out.failed || out.buf == NULL) {
        if (!out.failed)
            fail(&out, "empty schema");
        free(out.buf);
        return -1;
    }
    *out_text = out.buf;
    if (out_len != NULL)
        *out_len = out.len;
    return 0;
}

/* The specification's table-driven CRC, one bit at a time: this runs once per
 * schema at start-up, so no table (and no mutable static) is kept. */
uint64_t ledger_canonical_crc64(const void *data, size_t len) {
    const uint64_t empty = UINT64_C(0xc15d213aa4d7a795);
    const unsigned char *p = data;
    uint64_t fp = empty;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            fp = (fp >> 1) ^ (empty & (0 - (fp & 1)));
    }
    return fp;
}

int ledger_canonical_fingerprint(const char *json, size_t len, uint64_t *fingerprint, char *errstr,
                                 size_t errstr_size) {
    char *form = NULL;
    size_t form_len = 0;
    if (ledger_canonical_form(json, len, &form, &form_len, errstr, errstr_size) != 0)
        return -1;
    *fingerprint = ledger_canonical_crc64(form, form_len);
    free(form);
    return 0;
}
