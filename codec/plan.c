/*
 * plan.c - the plan compiler: Avro schema resolution, done once.
 *
 * The decode compiler walks the writer and the reader schema side by side
 * (avro-c's parsed schemas), applies the resolution rules of the Avro
 * specification and records the outcome as plan nodes: which struct member
 * each writer value lands in, which writer values are skipped, which reader
 * fields take their default. Whatever cannot resolve is either an upgrader
 * (upgrade.h) or a start-up error naming the field, never a surprise at
 * decode time. Errors that depend on the data (a writer union branch the
 * reader cannot hold, an enum symbol the reader lacks) become nodes that
 * fail with a clear message when met, as the specification prescribes.
 *
 * avro-c drops field defaults, so they are read from the reader's JSON text
 * with jansson.
 */
#include "plan.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAX_DEPTH 32
#define PLAN_NONE      UINT32_MAX
#define PLAN_NAME_BUF  256

typedef struct compiler {
    codec_plan *plan;
    const codec_plan_schema *writer;
    json_t *reader_json; /* decode only: for defaults */
    char *errstr;
    size_t errstr_size;
    bool failed;
} compiler;

/* Where the value being compiled sits: the reader (or, when encoding, the
 * writer) record and field, and the name used in messages. */
typedef struct field_ctx {
    const char *record;
    const char *field;
    const char *what;
} field_ctx;

/* Array items are records whose fields are bound relative to the item. */
static const codec_bind item_bind = {.kind = CODEC_BIND_RECORD, .off = 0, .local = -1};

static void fail(compiler *c, const char *fmt, ...) {
    if (c->failed)
        return;
    c->failed = true;
    if (c->errstr != NULL && c->errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errstr, c->errstr_size, fmt, ap);
        va_end(ap);
    }
}

/* --- plan storage -------------------------------------------------------- */

static bool grow(compiler *c, void **items, size_t *cap, size_t count, size_t extra, size_t size) {
    if (count + extra <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < count + extra)
        n *= 2;
    void *grown = realloc(*items, n * size);
    if (grown == NULL) {
        fail(c, "out of memory");
        return false;
    }
    *items = grown;
    *cap = n;
    return true;
}

static uint32_t add_chars(compiler *c, const char *s) {
    codec_plan *p = c->plan;
    size_t n = strlen(s) + 1;
    if (!grow(c, (void **)&p->chars, &p->char_cap, p->char_count, n, 1))
        return 0;
    uint32_t at = (uint32_t)p->char_count;
    memcpy(p->chars + at, s, n);
    p->char_count += n;
    return at;
}

static uint32_t add_ints(compiler *c, const int32_t *values, size_t n) {
    codec_plan *p = c->plan;
    if (n == 0 || !grow(c, (void **)&p->ints, &p->int_cap, p->int_count, n, sizeof(int32_t)))
        return (uint32_t)p->int_count;
    uint32_t at = (uint32_t)p->int_count;
    memcpy(p->ints + at, values, n * sizeof(int32_t));
    p->int_count += n;
    return at;
}

static uint32_t add_node(compiler *c, codec_op op, const char *what) {
    codec_plan *p = c->plan;
    if (c->failed)
        return PLAN_NONE;
    uint32_t what_at = add_chars(c, what);
    if (!grow(c, (void **)&p->nodes, &p->node_cap, p->node_count, 1, sizeof(codec_plan_node)))
        return PLAN_NONE;
    uint32_t at = (uint32_t)p->node_count++;
    codec_plan_node *node = &p->nodes[at];
    memset(node, 0, sizeof *node);
    node->op = (uint8_t)op;
    node->local = -1;
    node->what = what_at;
    return at;
}

static codec_plan_node *node_at(compiler *c, uint32_t at) {
    return &c->plan->nodes[at];
}

/* Stores kids (node indices) contiguously and points the node at them. */
static void set_kids(compiler *c, uint32_t at, const uint32_t *kids, size_t n) {
    if (c->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        if (kids[i] == PLAN_NONE) {
            fail(c, "internal error: missing plan node");
            return;
        }
    }
    int32_t *values = malloc((n ? n : 1) * sizeof *values);
    if (values == NULL) {
        fail(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        values[i] = (int32_t)kids[i];
    uint32_t first = add_ints(c, values, n);
    free(values);
    node_at(c, at)->first = first;
    node_at(c, at)->count = (uint32_t)n;
}

static void set_map(compiler *c, uint32_t at, const int32_t *map, size_t n) {
    if (c->failed)
        return;
    uint32_t first = add_ints(c, map, n);
    node_at(c, at)->map_first = first;
    node_at(c, at)->map_count = (uint32_t)n;
}

/* --- schema helpers ------------------------------------------------------ */

static avro_schema_t deref(avro_schema_t s) {
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static void fullname_of(avro_schema_t s, char *out, size_t size) {
    const char *ns = avro_schema_namespace(s);
    if (ns != NULL && *ns != '\0')
        snprintf(out, size, "%s.%s", ns, avro_schema_name(s));
    else
        snprintf(out, size, "%s", avro_schema_name(s));
}

/* A type's name for messages: "long", "ledger.ReturnReason". */
static void label_of(avro_schema_t s, char *out, size_t size) {
    s = deref(s);
    if (is_avro_named_type(s))
        fullname_of(s, out, size);
    else
        snprintf(out, size, "%s", avro_schema_type_name(s));
}

static bool same_name(avro_schema_t w, avro_schema_t r) {
    char wn[PLAN_NAME_BUF], rn[PLAN_NAME_BUF];
    fullname_of(w, wn, sizeof wn);
    fullname_of(r, rn, sizeof rn);
    /* The specification matches named types by unqualified name. */
    return strcmp(wn, rn) == 0 || strcmp(avro_schema_name(w), avro_schema_name(r)) == 0;
}

static bool exact_match(avro_schema_t w, avro_schema_t r) {
    w = deref(w);
    r = deref(r);
    if (avro_typeof(w) != avro_typeof(r))
        return false;
    if (is_avro_named_type(w) && !same_name(w, r))
        return false;
    if (is_avro_fixed(w) && avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
        return false;
    return true;
}

/* The promotions of the specification. */
static bool promotable(avro_schema_t w, avro_schema_t r) {
    avro_type_t wt = avro_typeof(deref(w)), rt = avro_typeof(deref(r));
    switch (wt) {
        case AVRO_INT32:
            return rt == AVRO_INT64 || rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
        case AVRO_INT64:
            return rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
        case AVRO_FLOAT:
            return rt == AVRO_DOUBLE;
        case AVRO_STRING:
            return rt == AVRO_BYTES;
        case AVRO_BYTES:
            return rt == AVRO_STRING;
        default:
            return false;
    }
}

/* The first reader branch that the writer's schema resolves to: an exact
 * match first, then a promotion. -1 when none. */
static int find_branch(avro_schema_t reader_union, avro_schema_t w) {
    size_t n = avro_schema_union_size(reader_union);
    for (size_t i = 0; i < n; i++) {
        if (exact_match(w, avro_schema_union_branch(reader_union, (int)i)))
            return (int)i;
    }
    for (size_t i = 0; i < n; i++) {
        if (promotable(w, avro_schema_union_branch(reader_union, (int)i)))
            return (int)i;
    }
    return -1;
}

/* The fewest bytes a value of this schema takes on the wire: bounds array
 * counts against the bytes left before anything is allocated. */
static int64_t min_bytes(avro_schema_t s, int depth) {
    s = deref(s);
    if (depth > PLAN_MAX_DEPTH)
        return 0;
    switch (avro_typeof(s)) {
        case AVRO_NULL:
            return 0;
        case AVRO_FLOAT:
            return 4;
        case AVRO_DOUBLE:
            return 8;
        case AVRO_FIXED:
            return avro_schema_fixed_size(s);
        case AVRO_RECORD: {
            int64_t sum = 0;
            for (size_t i = 0; i < avro_schema_record_size(s); i++)
                sum += min_bytes(avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
            return sum;
        }
        case AVRO_UNION: {
            int64_t least = INT64_MAX;
            for (size_t i = 0; i < avro_schema_union_size(s); i++) {
                int64_t m = min_bytes(avro_schema_union_branch(s, (int)i), depth + 1);
                least = m < least ? m : least;
            }
            return 1 + (least == INT64_MAX ? 0 : least);
        }
        default: /* boolean, varints, lengths, block counts: at least one byte */
            return 1;
    }
}

/* --- reader defaults (from the JSON) ------------------------------------- */

static const json_t *find_record_json(const json_t *s, const char *ns, const char *want, int depth);

static const json_t *find_in_named(const json_t *s, const char *type, const char *ns,
                                   const char *want, int depth) {
    const char *name = json_string_value(json_object_get(s, "name"));
    if (name == NULL)
        return NULL;
    char full[PLAN_NAME_BUF];
    const char *space = ns;
    const char *ns_attr = json_string_value(json_object_get(s, "namespace"));
    if (strchr(name, '.') == NULL && ns_attr != NULL)
        space = *ns_attr ? ns_attr : NULL;
    if (strchr(name, '.') == NULL && space != NULL)
        snprintf(full, sizeof full, "%s.%s", space, name);
    else
        snprintf(full, sizeof full, "%s", name);
    if (strcmp(type, "record") != 0 && strcmp(type, "error") != 0)
        return NULL;
    if (strcmp(full, want) == 0)
        return s;
    char inner[PLAN_NAME_BUF];
    const char *dot = strrchr(full, '.');
    const char *inner_ns = NULL;
    if (dot != NULL) {
        snprintf(inner, sizeof inner, "%.*s", (int)(dot - full), full);
        inner_ns = inner;
    }
    size_t i;
    const json_t *field;
    json_array_foreach(json_object_get(s, "fields"), i, field) {
        const json_t *found =
            find_record_json(json_object_get(field, "type"), inner_ns, want, depth + 1);
        if (found != NULL)
            return found;
    }
    return NULL;
}

static const json_t *find_record_json(const json_t *s, const char *ns, const char *want,
                                      int depth) {
    if (s == NULL || depth > PLAN_MAX_DEPTH)
        return NULL;
    if (json_is_array(s)) {
        size_t i;
        const json_t *branch;
        json_array_foreach(s, i, branch) {
            const json_t *found = find_record_json(branch, ns, want, depth + 1);
            if (found != NULL)
                return found;
        }
        return NULL;
    }
    if (!json_is_object(s))
        return NULL;
    const char *type = json_string_value(json_object_get(s, "type"));
    if (type == NULL)
        return NULL;
    if (strcmp(type, "array") == 0)
        return find_record_json(json_object_get(s, "items"), ns, want, depth + 1);
    if (strcmp(type, "map") == 0)
        return find_record_json(json_object_get(s, "values"), ns, want, depth + 1);
    return find_in_named(s, type, ns, want, depth);
}

/* The "default" of a reader field, or NULL when it has none. */
static const json_t *field_default(compiler *c, const char *record, const char *field) {
    const json_t *rec = find_record_json(c->reader_json, NULL, record, 0);
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(rec, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name != NULL && strcmp(name, field) == 0)
            return json_object_get(f, "default");
    }
    return NULL;
}

/* --- decode -------------------------------------------------------------- */

static uint32_t compile_decode(compiler *c, avro_schema_t w, avro_schema_t r,
                               const codec_bind *bind, const field_ctx *ctx, int depth);
static uint32_t compile_skip(compiler *c, avro_schema_t w, const char *what, int depth);

static void bind_mismatch(compiler *c, avro_schema_t r, const field_ctx *ctx) {
    char rl[PLAN_NAME_BUF];
    label_of(r, rl, sizeof rl);
    fail(c, "reader type '%s' of '%s' does not fit its binding in codec/bind.c", rl, ctx->what);
}

/* A null: clears whatever the binding says holds the value. */
static uint32_t null_node(compiler *c, codec_op op, const codec_bind *bind, const field_ctx *ctx) {
    uint32_t at = add_node(c, op, ctx->what);
    if (at == PLAN_NONE)
        return at;
    codec_plan_node *n = node_at(c, at);
    if (bind != NULL) {
        n->null_how = (uint8_t)bind->null;
        n->zero_kind = (uint8_t)bind->kind;
        n->off = bind->off;
        n->size = bind->size;
        n->aux = bind->flag_off;
        n->local = bind->kind == CODEC_BIND_ENUM ? bind->local : -1;
    }
    return at;
}

static uint32_t error_node(compiler *c, avro_schema_t wb, const field_ctx *ctx) {
    char wl[PLAN_NAME_BUF], msg[2 * PLAN_NAME_BUF];
    label_of(wb, wl, sizeof wl);
    snprintf(msg, sizeof msg, "writer branch '%s' of '%s' has no match in the reader", wl,
             ctx->what);
    return add_node(c, CODEC_OP_D_ERROR, msg);
}

static uint32_t compile_record(compiler *c, avro_schema_t w, avro_schema_t r, int32_t base,
                               int depth) {
    char rname[PLAN_NAME_BUF];
    fullname_of(r, rname, sizeof rname);
    const char *shortname = avro_schema_name(r);
    size_t wn = avro_schema_record_size(w), rn = avro_schema_record_size(r);
    uint32_t *kids = calloc(wn + rn + 1, sizeof *kids);
    bool *seen = calloc(rn + 1, sizeof *seen);
    size_t nk = 0;
    uint32_t at = PLAN_NONE;
    if (kids == NULL || seen == NULL) {
        fail(c, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < wn; i++) {
        int ri = avro_schema_record_field_get_index(r, avro_schema_record_field_name(w, (int)i));
        if (ri >= 0)
            seen[ri] = true;
    }
    /* Reader fields the writer lacks take their defaults, first. */
    for (size_t j = 0; j < rn && !c->failed; j++) {
        if (seen[j])
            continue;
        const char *fname = avro_schema_record_field_name(r, (int)j);
        char what[PLAN_NAME_BUF];
        snprintf(what, sizeof what, depth == 0 ? "%.0s%s" : "%s.%s", shortname, fname);
        const codec_bind *bind = codec_bind_find(rname, fname);
        const json_t *dflt = field_default(c, rname, fname);
        if (bind == NULL) {
            fail(c, "reader field '%s.%s' has no binding in codec/bind.c", rname, fname);
            break;
        }
        if (dflt == NULL) {
            fail(c, "reader field '%s' is missing from writer '%s' and has no default", what,
                 c->writer->id);
            break;
        }
        field_ctx ctx = {rname, fname, what};
        avro_schema_t rf = deref(avro_schema_record_field_get_by_index(r, (int)j));
        uint32_t k;
        if (is_avro_union(rf)) {
            /* A union's default is of its first branch. */
            avro_schema_t first = deref(avro_schema_union_branch(rf, 0));
            if (is_avro_null(first)) {
                if (!json_is_null(dflt))
                    fail(c, "default of '%s' is not null", what);
                k = null_node(c, CODEC_OP_F_NULL, bind, &ctx);
            } else {
                fail(c, "unsupported default of '%s': only null for unions", what);
                k = PLAN_NONE;
            }
        } else if (is_avro_int64(rf) && json_is_integer(dflt) && bind->kind == CODEC_BIND_LONG) {
            k = add_node(c, CODEC_OP_F_LONG, what);
            if (k != PLAN_NONE)
                node_at(c, k)->value = json_integer_value(dflt);
        } else if (is_avro_int32(rf) && json_is_integer(dflt) && bind->kind == CODEC_BIND_INT &&
                   json_integer_value(dflt) >= INT32_MIN && json_integer_value(dflt) <= INT32_MAX) {
            k = add_node(c, CODEC_OP_F_INT, what);
            if (k != PLAN_NONE)
                node_at(c, k)->value = json_integer_value(dflt);
        } else if (is_avro_boolean(rf) && json_is_boolean(dflt) && bind->kind == CODEC_BIND_BOOL) {
            k = add_node(c, CODEC_OP_F_BOOL, what);
            if (k != PLAN_NONE)
                node_at(c, k)->value = json_is_true(dflt);
        } else if ((is_avro_string(rf) || is_avro_enum(rf)) && json_is_string(dflt) &&
                   bind->kind == CODEC_BIND_ENUM) {
            int value;
            if (is_avro_enum(rf) && avro_schema_enum_get_by_name(rf, json_string_value(dflt)) < 0)
                fail(c, "default '%s' of '%s' is not a symbol", json_string_value(dflt), what);
            else if (bind->names->from_name(json_string_value(dflt), &value) != 0)
                fail(c, "default '%s' of '%s' is not a %s", json_string_value(dflt), what,
                     bind->names->what);
            k = add_node(c, CODEC_OP_F_ENUM, what);
            if (k != PLAN_NONE)
                node_at(c, k)->value = value;
        } else if (is_avro_string(rf) && json_is_string(dflt) && bind->kind == CODEC_BIND_STRING) {
            uint32_t text = add_chars(c, json_string_value(dflt));
            k = add_node(c, CODEC_OP_F_STRING, what);
            if (k != PLAN_NONE)
                node_at(c, k)->value = text;
        } else if (is_avro_array(rf) && json_is_array(dflt) && json_array_size(dflt) == 0 &&
                   bind->kind == CODEC_BIND_ARRAY) {
            k = add_node(c, CODEC_OP_F_EMPTY_ARRAY, what);
        } else {
            fail(c, "unsupported default of '%s'", what);
            k = PLAN_NONE;
        }
        if (k != PLAN_NONE) {
            codec_plan_node *n = node_at(c, k);
            if (n->op != CODEC_OP_F_NULL) {
                n->off = bind->off;
                n->size = bind->size;
                n->aux = bind->count_off;
                n->local = bind->kind == CODEC_BIND_ENUM ? bind->local : -1;
            }
        }
        kids[nk++] = k;
    }
    /* Then the writer's fields, in the writer's order. */
    for (size_t i = 0; i < wn && !c->failed; i++) {
        const char *fname = avro_schema_record_field_name(w, (int)i);
        char what[PLAN_NAME_BUF];
        snprintf(what, sizeof what, depth == 0 ? "%.0s%s" : "%s.%s", shortname, fname);
        avro_schema_t wf = avro_schema_record_field_get_by_index(w, (int)i);
        int ri = avro_schema_record_field_get_index(r, fname);
        if (ri < 0) {
            kids[nk++] = compile_skip(c, wf, what, depth + 1);
            continue;
        }
        const codec_bind *bind = codec_bind_find(rname, fname);
        if (bind == NULL) {
            fail(c, "reader field '%s.%s' has no binding in codec/bind.c", rname, fname);
            break;
        }
        field_ctx ctx = {rname, fname, what};
        kids[nk++] = compile_decode(c, wf, avro_schema_record_field_get_by_index(r, ri), bind, &ctx,
                                    depth + 1);
    }
    if (c->failed)
        goto cleanup;
    at = add_node(c, CODEC_OP_D_RECORD, shortname);
    if (at == PLAN_NONE)
        goto cleanup;
    node_at(c, at)->off = base;
    node_at(c, at)->finish = codec_bind_finish_of(rname);
    set_kids(c, at, kids, nk);
cleanup:
    free(kids);
    free(seen);
    return c->failed ? PLAN_NONE : at;
}

static uint32_t compile_enum(compiler *c, avro_schema_t w, avro_schema_t r, const codec_bind *bind,
                             const field_ctx *ctx) {
    int n = avro_schema_enum_number_of_symbols(w);
    int32_t *map = calloc((size_t)n + 1, sizeof *map);
    if (map == NULL) {
        fail(c, "out of memory");
        return PLAN_NONE;
    }
    for (int i = 0; i < n; i++) {
        const char *symbol = avro_schema_enum_get(w, i);
        int value;
        map[i] = -1; /* a symbol the reader lacks: an error when met */
        if (avro_schema_enum_get_by_name(r, symbol) < 0)
            continue;
        if (bind->names->from_name(symbol, &value) != 0) {
            fail(c, "symbol '%s' of '%s' is not a %s", symbol, ctx->what, bind->names->what);
            break;
        }
        map[i] = value;
    }
    uint32_t at = add_node(c, CODEC_OP_D_ENUM, ctx->what);
    if (at != PLAN_NONE) {
        node_at(c, at)->off = bind->off;
        node_at(c, at)->local = bind->local;
        set_map(c, at, map, (size_t)n);
    }
    free(map);
    return c->failed ? PLAN_NONE : at;
}

/* An upgrader: the writer's string becomes the reader enum's C value, which
 * must then be one of the reader's symbols. */
static uint32_t compile_upgrade(compiler *c, const codec_upgrade *u, avro_schema_t r,
                                const codec_bind *bind, const field_ctx *ctx) {
    int n = avro_schema_enum_number_of_symbols(r);
    int32_t *allowed = calloc((size_t)n + 1, sizeof *allowed);
    if (allowed == NULL) {
        fail(c, "out of memory");
        return PLAN_NONE;
    }
    for (int i = 0; i < n; i++) {
        int value = -1;
        if (bind->names->from_name(avro_schema_enum_get(r, i), &value) != 0)
            fail(c, "symbol '%s' of '%s' is not a %s", avro_schema_enum_get(r, i), ctx->what,
                 bind->names->what);
        allowed[i] = value;
    }
    char rl[PLAN_NAME_BUF];
    label_of(r, rl, sizeof rl);
    uint32_t label = add_chars(c, rl);
    uint32_t at = add_node(c, CODEC_OP_D_UPGRADE, ctx->what);
    if (at != PLAN_NONE) {
        codec_plan_node *node = node_at(c, at);
        node->off = bind->off;
        node->local = bind->local;
        node->names = bind->names;
        node->upgrade = u->from_string;
        node->value = label;
        set_map(c, at, allowed, (size_t)n);
    }
    free(allowed);
    return c->failed ? PLAN_NONE : at;
}

/* Neither schema a union. */
static uint32_t compile_value(compiler *c, avro_schema_t w, avro_schema_t r, const codec_bind *bind,
                              const field_ctx *ctx, int depth) {
    avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);
    uint32_t at;
    switch (rt) {
        case AVRO_RECORD:
            if (wt != AVRO_RECORD || !same_name(w, r))
                break;
            if (bind != NULL && bind->kind != CODEC_BIND_RECORD &&
                bind->kind != CODEC_BIND_CHOICE) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            return compile_record(
                c, w, r, bind != NULL && bind->kind == CODEC_BIND_RECORD ? bind->off : 0, depth);
        case AVRO_ENUM:
            if (wt != AVRO_ENUM || !same_name(w, r))
                break;
            if (bind == NULL || bind->kind != CODEC_BIND_ENUM) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            return compile_enum(c, w, r, bind, ctx);
        case AVRO_STRING:
        case AVRO_BYTES:
            if (wt != AVRO_STRING && wt != AVRO_BYTES)
                break;
            if (bind != NULL && bind->kind == CODEC_BIND_STRING) {
                at = add_node(c, CODEC_OP_D_STRING, ctx->what);
                if (at != PLAN_NONE) {
                    node_at(c, at)->off = bind->off;
                    node_at(c, at)->size = bind->size;
                }
                return at;
            }
            if (bind != NULL && bind->kind == CODEC_BIND_ENUM) {
                at = add_node(c, CODEC_OP_D_NAMED, ctx->what);
                if (at != PLAN_NONE) {
                    node_at(c, at)->off = bind->off;
                    node_at(c, at)->local = bind->local;
                    node_at(c, at)->names = bind->names;
                }
                return at;
            }
            bind_mismatch(c, r, ctx);
            return PLAN_NONE;
        case AVRO_INT64:
            if (wt != AVRO_INT64 && wt != AVRO_INT32)
                break;
            if (bind == NULL || bind->kind != CODEC_BIND_LONG) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            at =
                add_node(c, wt == AVRO_INT64 ? CODEC_OP_D_LONG : CODEC_OP_D_INT_AS_LONG, ctx->what);
            if (at != PLAN_NONE)
                node_at(c, at)->off = bind->off;
            return at;
        case AVRO_INT32:
            if (wt != AVRO_INT32)
                break;
            if (bind == NULL || bind->kind != CODEC_BIND_INT) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            at = add_node(c, CODEC_OP_D_INT, ctx->what);
            if (at != PLAN_NONE)
                node_at(c, at)->off = bind->off;
            return at;
        case AVRO_BOOLEAN:
            if (wt != AVRO_BOOLEAN)
                break;
            if (bind == NULL || bind->kind != CODEC_BIND_BOOL) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            at = add_node(c, CODEC_OP_D_BOOL, ctx->what);
            if (at != PLAN_NONE)
                node_at(c, at)->off = bind->off;
            return at;
        case AVRO_ARRAY: {
            if (wt != AVRO_ARRAY)
                break;
            if (bind == NULL || bind->kind != CODEC_BIND_ARRAY) {
                bind_mismatch(c, r, ctx);
                return PLAN_NONE;
            }
            uint32_t item = compile_decode(c, avro_schema_array_items(w),
                                           avro_schema_array_items(r), &item_bind, ctx, depth + 1);
            at = add_node(c, CODEC_OP_D_ARRAY, ctx->what);
            if (at == PLAN_NONE)
                return at;
            codec_plan_node *n = node_at(c, at);
            n->off = bind->off;
            n->size = bind->size;
            n->aux = bind->count_off;
            n->value = min_bytes(avro_schema_array_items(w), 0);
            set_kids(c, at, &item, 1);
            return at;
        }
        case AVRO_NULL:
            if (wt != AVRO_NULL)
                break;
            return null_node(c, CODEC_OP_D_NULL, NULL, ctx);
        default: {
            char rl[PLAN_NAME_BUF];
            label_of(r, rl, sizeof rl);
            fail(c, "reader type '%s' of '%s' has no place in memory", rl, ctx->what);
            return PLAN_NONE;
        }
    }
    /* No resolution rule applies: an upgrader, or the writer is refused. */
    const codec_upgrade *u =
        ctx->record != NULL ? codec_upgrade_find(c->writer->fingerprint, ctx->record, ctx->field)
                            : NULL;
    if (u != NULL && u->from == CODEC_UPGRADE_FROM_STRING && wt == AVRO_STRING && rt == AVRO_ENUM &&
        bind != NULL && bind->kind == CODEC_BIND_ENUM)
        return compile_upgrade(c, u, r, bind, ctx);
    char wl[PLAN_NAME_BUF], rl[PLAN_NAME_BUF];
    label_of(w, wl, sizeof wl);
    label_of(r, rl, sizeof rl);
    fail(c,
         "writer '%s' field '%s' of type '%s' does not resolve to reader type '%s' and no "
         "upgrader is registered",
         c->writer->id, ctx->what, wl, rl);
    return PLAN_NONE;
}

/* The writer's value `wb` selected branch `j` of the reader union `r`. */
static uint32_t compile_branch(compiler *c, avro_schema_t wb, avro_schema_t r, int j,
                               const codec_bind *bind, const field_ctx *ctx, int depth) {
    avro_schema_t rb = deref(avro_schema_union_branch(r, j));
    if (is_avro_null(rb))
        return null_node(c, CODEC_OP_D_NULL, bind, ctx);
    uint32_t at = compile_value(c, deref(wb), rb, bind, ctx, depth + 1);
    if (at == PLAN_NONE)
        return at;
    if (bind->kind == CODEC_BIND_CHOICE) {
        int tag;
        if (!is_avro_record(rb) || bind->names->from_name(avro_schema_name(rb), &tag) != 0) {
            fail(c, "branch '%s' of '%s' is not a %s", avro_schema_type_name(rb), ctx->what,
                 bind->names->what);
            return PLAN_NONE;
        }
        node_at(c, at)->entry = CODEC_ENTRY_TAG;
        node_at(c, at)->entry_off = bind->off;
        node_at(c, at)->entry_value = tag;
    } else if (bind->null == CODEC_NULL_FLAG) {
        node_at(c, at)->entry = CODEC_ENTRY_FLAG;
        node_at(c, at)->entry_off = bind->flag_off;
    }
    return at;
}

static uint32_t compile_decode(compiler *c, avro_schema_t w, avro_schema_t r,
                               const codec_bind *bind, const field_ctx *ctx, int depth) {
    if (c->failed)
        return PLAN_NONE;
    if (depth > PLAN_MAX_DEPTH) {
        fail(c, "schema nested deeper than %d levels at '%s'", PLAN_MAX_DEPTH, ctx->what);
        return PLAN_NONE;
    }
    w = deref(w);
    r = deref(r);
    if (is_avro_union(r) && bind == NULL) {
        bind_mismatch(c, r, ctx);
        return PLAN_NONE;
    }
    if (is_avro_union(r) && !is_avro_union(w)) {
        int j = find_branch(r, w);
        if (j < 0) {
            char wl[PLAN_NAME_BUF];
            label_of(w, wl, sizeof wl);
            fail(c, "writer '%s' field '%s' of type '%s' matches no branch of the reader's union",
                 c->writer->id, ctx->what, wl);
            return PLAN_NONE;
        }
        return compile_branch(c, w, r, j, bind, ctx, depth);
    }
    if (!is_avro_union(w))
        return compile_value(c, w, r, bind, ctx, depth);
    /* A writer union: one kid per writer branch, resolved now or failing
     * when met. */
    size_t n = avro_schema_union_size(w);
    uint32_t *kids = calloc(n + 1, sizeof *kids);
    if (kids == NULL) {
        fail(c, "out of memory");
        return PLAN_NONE;
    }
    for (size_t i = 0; i < n && !c->failed; i++) {
        avro_schema_t wb = deref(avro_schema_union_branch(w, (int)i));
        if (is_avro_union(r)) {
            int j = find_branch(r, wb);
            kids[i] =
                j < 0 ? error_node(c, wb, ctx) : compile_branch(c, wb, r, j, bind, ctx, depth);
        } else {
            kids[i] = (exact_match(wb, r) || promotable(wb, r))
                          ? compile_value(c, wb, r, bind, ctx, depth + 1)
                          : error_node(c, wb, ctx);
        }
    }
    uint32_t at = add_node(c, CODEC_OP_D_UNION, ctx->what);
    if (at != PLAN_NONE)
        set_kids(c, at, kids, n);
    free(kids);
    return c->failed ? PLAN_NONE : at;
}

static uint32_t compile_skip(compiler *c, avro_schema_t w, const char *what, int depth) {
    if (c->failed)
        return PLAN_NONE;
    if (depth > PLAN_MAX_DEPTH) {
        fail(c, "schema nested deeper than %d levels at '%s'", PLAN_MAX_DEPTH, what);
        return PLAN_NONE;
    }
    w = deref(w);
    uint32_t at;
    switch (avro_typeof(w)) {
        case AVRO_NULL:
            return add_node(c, CODEC_OP_S_NOTHING, what);
        case AVRO_BOOLEAN:
            return add_node(c, CODEC_OP_S_BOOL, what);
        case AVRO_INT32:
        case AVRO_INT64:
        case AVRO_ENUM:
            return add_node(c, CODEC_OP_S_VARINT, what);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
        case AVRO_FIXED:
            at = add_node(c, CODEC_OP_S_FIXED, what);
            if (at != PLAN_NONE)
                node_at(c, at)->size = is_avro_float(w)    ? 4
                                       : is_avro_double(w) ? 8
                                                           : (int32_t)avro_schema_fixed_size(w);
            return at;
        case AVRO_STRING:
        case AVRO_BYTES:
            return add_node(c, CODEC_OP_S_BYTES, what);
        case AVRO_RECORD:
        case AVRO_UNION: {
            bool record = is_avro_record(w);
            size_t n = record ? avro_schema_record_size(w) : avro_schema_union_size(w);
            uint32_t *kids = calloc(n + 1, sizeof *kids);
            if (kids == NULL) {
                fail(c, "out of memory");
                return PLAN_NONE;
            }
            for (size_t i = 0; i < n; i++)
                kids[i] = compile_skip(c,
                                       record ? avro_schema_record_field_get_by_index(w, (int)i)
                                              : avro_schema_union_branch(w, (int)i),
                                       what, depth + 1);
            at = add_node(c, record ? CODEC_OP_S_RECORD : CODEC_OP_S_UNION, what);
            if (at != PLAN_NONE)
                set_kids(c, at, kids, n);
            free(kids);
            return c->failed ? PLAN_NONE : at;
        }
        case AVRO_ARRAY:
        case AVRO_MAP: {
            bool array = is_avro_array(w);
            avro_schema_t item = array ? avro_schema_array_items(w) : avro_schema_map_values(w);
            uint32_t kid = compile_skip(c, item, what, depth + 1);
            at = add_node(c, array ? CODEC_OP_S_ARRAY : CODEC_OP_S_MAP, what);
            if (at != PLAN_NONE) {
                node_at(c, at)->value = min_bytes(item, 0) + (array ? 0 : 1);
                set_kids(c, at, &kid, 1);
            }
            return at;
        }
        default:
            fail(c, "cannot skip writer type '%s' of '%s'", avro_schema_type_name(w), what);
            return PLAN_NONE;
    }
}

/* --- encode -------------------------------------------------------------- */

static uint32_t compile_encode(compiler *c, avro_schema_t w, const codec_bind *bind,
                               const field_ctx *ctx, int depth);

static uint32_t compile_encode_record(compiler *c, avro_schema_t w, int32_t base, int depth) {
    char wname[PLAN_NAME_BUF];
    fullname_of(w, wname, sizeof wname);
    const char *shortname = avro_schema_name(w);
    size_t n = avro_schema_record_size(w);
    uint32_t *kids = calloc(n + 1, sizeof *kids);
    if (kids == NULL) {
        fail(c, "out of memory");
        return PLAN_NONE;
    }
    for (size_t i = 0; i < n && !c->failed; i++) {
        const char *fname = avro_schema_record_field_name(w, (int)i);
        char what[PLAN_NAME_BUF];
        snprintf(what, sizeof what, depth == 0 ? "%.0s%s" : "%s.%s", shortname, fname);
        const codec_bind *bind = codec_bind_find(wname, fname);
        if (bind == NULL) {
            fail(c, "writer '%s' field '%s' has no value in memory (codec/bind.c)", c->writer->id,
                 what);
            break;
        }
        field_ctx ctx = {wname, fname, what};
        kids[i] = compile_encode(c, avro_schema_record_field_get_by_index(w, (int)i), bind, &ctx,
                                 depth + 1);
    }
    uint32_t at = add_node(c, CODEC_OP_E_RECORD, shortname);
    if (at != PLAN_NONE) {
        node_at(c, at)->off = base;
        set_kids(c, at, kids, n);
    }
    free(kids);
    return c->failed ? PLAN_NONE : at;
}

static uint32_t compile_encode_union(compiler *c, avro_schema_t w, const codec_bind *bind,
                                     const field_ctx *ctx, int depth) {
    size_t n = avro_schema_union_size(w);
    if (bind->kind == CODEC_BIND_CHOICE) {
        uint32_t *kids = calloc(n + 1, sizeof *kids);
        int32_t map[64];
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            map[i] = -1;
        int top = -1;
        if (kids == NULL) {
            fail(c, "out of memory");
            return PLAN_NONE;
        }
        for (size_t i = 0; i < n && !c->failed; i++) {
            avro_schema_t b = deref(avro_schema_union_branch(w, (int)i));
            int tag;
            if (!is_avro_record(b) || bind->names->from_name(avro_schema_name(b), &tag) != 0 ||
                tag < 0 || tag >= 64) {
                fail(c, "branch '%s' of '%s' is not a %s", avro_schema_type_name(b), ctx->what,
                     bind->names->what);
                break;
            }
            map[tag] = (int32_t)i;
            top = tag > top ? tag : top;
            kids[i] = compile_encode_record(c, b, 0, depth + 1);
        }
        uint32_t at = add_node(c, CODEC_OP_E_CHOICE, ctx->what);
        if (at != PLAN_NONE) {
            node_at(c, at)->off = bind->off;
            node_at(c, at)->names = bind->names;
            set_kids(c, at, kids, n);
            set_map(c, at, map, (size_t)(top + 1));
        }
        free(kids);
        return c->failed ? PLAN_NONE : at;
    }
    int null_at = -1;
    for (size_t i = 0; i < n; i++) {
        if (is_avro_null(deref(avro_schema_union_branch(w, (int)i))))
            null_at = (int)i;
    }
    if (n != 2 || null_at < 0 || bind->null == CODEC_NULL_NONE) {
        fail(c, "writer '%s' union of '%s' cannot be written from memory", c->writer->id,
             ctx->what);
        return PLAN_NONE;
    }
    int value_at = 1 - null_at;
    uint32_t kid = compile_encode(c, avro_schema_union_branch(w, value_at), bind, ctx, depth + 1);
    uint32_t at = add_node(c, CODEC_OP_E_NULLABLE, ctx->what);
    if (at == PLAN_NONE)
        return at;
    codec_plan_node *node = node_at(c, at);
    node->value = null_at;
    node->size = value_at;
    node->null_how = (uint8_t)bind->null;
    node->zero_kind = (uint8_t)bind->kind;
    node->off = bind->off;
    node->aux = bind->flag_off;
    node->local = bind->local;
    node->derive = bind->derive;
    set_kids(c, at, &kid, 1);
    return c->failed ? PLAN_NONE : at;
}

static uint32_t compile_encode(compiler *c, avro_schema_t w, const codec_bind *bind,
                               const field_ctx *ctx, int depth) {
    if (c->failed)
        return PLAN_NONE;
    if (depth > PLAN_MAX_DEPTH) {
        fail(c, "schema nested deeper than %d levels at '%s'", PLAN_MAX_DEPTH, ctx->what);
        return PLAN_NONE;
    }
    w = deref(w);
    if (is_avro_union(w)) {
        if (bind == NULL) {
            fail(c, "writer '%s' union of '%s' has no binding", c->writer->id, ctx->what);
            return PLAN_NONE;
        }
        return compile_encode_union(c, w, bind, ctx, depth);
    }
    codec_bind_kind kind = bind != NULL ? bind->kind : CODEC_BIND_RECORD;
    codec_op op;
    switch (avro_typeof(w)) {
        case AVRO_RECORD:
            if (kind != CODEC_BIND_RECORD && kind != CODEC_BIND_CHOICE)
                goto mismatch;
            return compile_encode_record(
                c, w, bind != NULL && kind == CODEC_BIND_RECORD ? bind->off : 0, depth);
        case AVRO_STRING:
        case AVRO_BYTES:
            if (kind == CODEC_BIND_STRING)
                op = CODEC_OP_E_STRING;
            else if (kind == CODEC_BIND_ENUM)
                op = CODEC_OP_E_ENUM_NAME;
            else
                goto mismatch;
            break;
        case AVRO_INT64:
            if (kind == CODEC_BIND_LONG)
                op = CODEC_OP_E_LONG;
            else if (kind == CODEC_BIND_INT)
                op = CODEC_OP_E_INT_AS_LONG;
            else
                goto mismatch;
            break;
        case AVRO_INT32:
            if (kind != CODEC_BIND_INT)
                goto mismatch;
            op = CODEC_OP_E_INT;
            break;
        case AVRO_BOOLEAN:
            if (kind != CODEC_BIND_BOOL)
                goto mismatch;
            op = CODEC_OP_E_BOOL;
            break;
        case AVRO_ENUM:
            if (kind != CODEC_BIND_ENUM)
                goto mismatch;
            op = CODEC_OP_E_ENUM;
            break;
        case AVRO_ARRAY: {
            if (kind != CODEC_BIND_ARRAY)
                goto mismatch;
            uint32_t item =
                compile_encode(c, avro_schema_array_items(w), &item_bind, ctx, depth + 1);
            uint32_t at = add_node(c, CODEC_OP_E_ARRAY, ctx->what);
            if (at != PLAN_NONE) {
                node_at(c, at)->off = bind->off;
                node_at(c, at)->size = bind->size;
                node_at(c, at)->aux = bind->count_off;
                set_kids(c, at, &item, 1);
            }
            return c->failed ? PLAN_NONE : at;
        }
        case AVRO_NULL:
            return add_node(c, CODEC_OP_E_NOTHING, ctx->what);
        default:
            goto mismatch;
    }
    if (kind == CODEC_BIND_ENUM && bind->local >= 0 && bind->derive == NULL) {
        fail(c, "'%s' is decoded into a local and cannot be encoded", ctx->what);
        return PLAN_NONE;
    }
    uint32_t at = add_node(c, op, ctx->what);
    if (at == PLAN_NONE)
        return at;
    codec_plan_node *node = node_at(c, at);
    node->off = bind->off;
    node->size = bind->size;
    node->local = bind->local;
    node->names = bind->names;
    node->derive = bind->derive;
    if (op == CODEC_OP_E_ENUM) {
        /* C value -> writer symbol index; values without a writer symbol
         * cannot be written in this schema. */
        int32_t map[64];
        int top = -1;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            map[i] = -1;
        for (int i = 0; i < avro_schema_enum_number_of_symbols(w); i++) {
            int value;
            if (bind->names->from_name(avro_schema_enum_get(w, i), &value) != 0 || value < 0 ||
                value >= 64)
                continue;
            map[value] = i;
            top = value > top ? value : top;
        }
        set_map(c, at, map, (size_t)(top + 1));
    }
    return c->failed ? PLAN_NONE : at;
mismatch : {
    char wl[PLAN_NAME_BUF];
    label_of(w, wl, sizeof wl);
    fail(c, "writer '%s' type '%s' of '%s' does not fit its binding in codec/bind.c", c->writer->id,
         wl, ctx->what);
    return PLAN_NONE;
}
}

/* --- entry points -------------------------------------------------------- */

static codec_plan *plan_new(compiler *c) {
    codec_plan *plan = calloc(1, sizeof *plan);
    if (plan == NULL)
        fail(c, "out of memory");
    c->plan = plan;
    return plan;
}

void codec_plan_destroy(codec_plan *plan) {
    if (plan == NULL)
        return;
    free(plan->nodes);
    free(plan->ints);
    free(plan->chars);
    free(plan);
}

static int finish(compiler *c, uint32_t root, codec_plan **out) {
    if (c->failed || root == PLAN_NONE) {
        if (!c->failed)
            fail(c, "internal error: no plan");
        codec_plan_destroy(c->plan);
        return -1;
    }
    c->plan->root = root;
    *out = c->plan;
    return 0;
}

int codec_plan_decoder(const codec_plan_schema *writer, const codec_plan_schema *reader,
                       codec_plan **out, char *errstr, size_t errstr_size) {
    compiler c = {.writer = writer, .errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    c.reader_json = json_loadb(reader->json, reader->json_len, JSON_DECODE_ANY, &jerr);
    if (c.reader_json == NULL) {
        fail(&c, "invalid json of '%s': %s", reader->id, jerr.text);
        return -1;
    }
    uint32_t root = PLAN_NONE;
    if (plan_new(&c) != NULL) {
        field_ctx top = {NULL, NULL, reader->id};
        root = compile_decode(&c, writer->schema, reader->schema, NULL, &top, 0);
    }
    json_decref(c.reader_json);
    return finish(&c, root, out);
}

int codec_plan_encoder(const codec_plan_schema *writer, codec_plan **out, char *errstr,
                       size_t errstr_size) {
    compiler c = {.writer = writer, .errstr = errstr, .errstr_size = errstr_size};
    uint32_t root = PLAN_NONE;
    if (plan_new(&c) != NULL) {
        field_ctx top = {NULL, NULL, writer->id};
        root = compile_encode(&c, writer->schema, NULL, &top, 0);
    }
    return finish(&c, root, out);
}

/* --- binding check ------------------------------------------------------- */

typedef struct checker {
    bool *used;
    compiler c; /* for fail() */
} checker;

static void check_record(checker *k, avro_schema_t r, int depth);

static void check_enum_names(checker *k, avro_schema_t e, const codec_bind *bind,
                             const char *what) {
    for (int i = 0; i < avro_schema_enum_number_of_symbols(e); i++) {
        const char *symbol = avro_schema_enum_get(e, i);
        int value;
        const char *back;
        if (bind->names->from_name(symbol, &value) != 0 ||
            (back = bind->names->to_name(value)) == NULL || strcmp(back, symbol) != 0)
            fail(&k->c, "symbol '%s' of '%s' is not a %s", symbol, what, bind->names->what);
    }
}

static void check_field(checker *k, avro_schema_t t, const codec_bind *bind, const char *what,
                        int depth) {
    t = deref(t);
    if (is_avro_union(t)) {
        size_t n = avro_schema_union_size(t), nulls = 0;
        avro_schema_t other = NULL;
        for (size_t i = 0; i < n; i++) {
            avro_schema_t b = deref(avro_schema_union_branch(t, (int)i));
            if (is_avro_null(b))
                nulls++;
            else
                other = b;
        }
        if (bind->kind == CODEC_BIND_CHOICE && nulls == 0) {
            for (size_t i = 0; i < n; i++) {
                avro_schema_t b = deref(avro_schema_union_branch(t, (int)i));
                int tag;
                const char *back;
                if (!is_avro_record(b) || bind->names->from_name(avro_schema_name(b), &tag) != 0 ||
                    (back = bind->names->to_name(tag)) == NULL ||
                    strcmp(back, avro_schema_name(b)) != 0) {
                    fail(&k->c, "branch '%s' of '%s' is not a %s", avro_schema_type_name(b), what,
                         bind->names->what);
                    return;
                }
                check_record(k, b, depth + 1);
            }
            return;
        }
        if (n != 2 || nulls != 1 || bind->null == CODEC_NULL_NONE) {
            fail(&k->c, "union of '%s' does not fit its binding in codec/bind.c", what);
            return;
        }
        t = other;
    } else if (bind->null != CODEC_NULL_NONE || bind->kind == CODEC_BIND_CHOICE) {
        fail(&k->c, "'%s' is bound as a union but is not one", what);
        return;
    }
    bool fits;
    switch (bind->kind) {
        case CODEC_BIND_STRING:
            fits = is_avro_string(t) || is_avro_bytes(t);
            break;
        case CODEC_BIND_LONG:
            fits = is_avro_int64(t);
            break;
        case CODEC_BIND_INT:
            fits = is_avro_int32(t);
            break;
        case CODEC_BIND_BOOL:
            fits = is_avro_boolean(t);
            break;
        case CODEC_BIND_ENUM:
            fits = is_avro_enum(t) || is_avro_string(t);
            if (fits && is_avro_enum(t))
                check_enum_names(k, t, bind, what);
            if (bind->local >= CODEC_BIND_LOCALS || (bind->local >= 0 && bind->derive == NULL))
                fail(&k->c, "'%s' has a bad local binding", what);
            break;
        case CODEC_BIND_RECORD:
            fits = is_avro_record(t);
            if (fits)
                check_record(k, t, depth + 1);
            break;
        case CODEC_BIND_ARRAY:
            fits = is_avro_array(t) && is_avro_record(deref(avro_schema_array_items(t)));
            if (fits)
                check_record(k, deref(avro_schema_array_items(t)), depth + 1);
            break;
        default:
            fits = false;
    }
    if (!fits)
        fail(&k->c, "type '%s' of '%s' does not fit its binding in codec/bind.c",
             avro_schema_type_name(t), what);
}

static void check_record(checker *k, avro_schema_t r, int depth) {
    if (k->c.failed)
        return;
    if (depth > PLAN_MAX_DEPTH) {
        fail(&k->c, "schema nested deeper than %d levels", PLAN_MAX_DEPTH);
        return;
    }
    char rname[PLAN_NAME_BUF];
    fullname_of(r, rname, sizeof rname);
    for (size_t i = 0; i < avro_schema_record_size(r) && !k->c.failed; i++) {
        const char *fname = avro_schema_record_field_name(r, (int)i);
        char what[2 * PLAN_NAME_BUF];
        snprintf(what, sizeof what, "%s.%s", rname, fname);
        const codec_bind *bind = codec_bind_find(rname, fname);
        if (bind == NULL) {
            fail(&k->c, "reader field '%s' has no binding in codec/bind.c", what);
            return;
        }
        k->used[bind - codec_bind_at(0)] = true;
        check_field(k, avro_schema_record_field_get_by_index(r, (int)i), bind, what, depth);
    }
}

int codec_plan_check_bindings(const codec_plan_schema *readers, size_t count, char *errstr,
                              size_t errstr_size) {
    checker k = {.c = {.errstr = errstr, .errstr_size = errstr_size}};
    size_t rows = codec_bind_count();
    k.used = calloc(rows + 1, sizeof *k.used);
    if (k.used == NULL) {
        fail(&k.c, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count && !k.c.failed; i++) {
        avro_schema_t r = deref(readers[i].schema);
        if (!is_avro_record(r))
            fail(&k.c, "reader schema '%s' is not a record", readers[i].id);
        else
            check_record(&k, r, 0);
    }
    for (size_t i = 0; i < rows && !k.c.failed; i++) {
        if (!k.used[i])
            fail(&k.c, "binding '%s.%s' in codec/bind.c matches no field of the reader schemas",
                 codec_bind_at(i)->record, codec_bind_at(i)->field);
    }
    free(k.used);
    return k.c.failed ? -1 : 0;
}
