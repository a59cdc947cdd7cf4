/*
 * plan.h - compiled encode and decode plans.
 *
 * A plan is a small tree of operations, built once when the codec is
 * created, so that the per-record work is a walk over precomputed steps with
 * no schema lookups, no name comparisons and no allocation:
 *
 *   decode plan (writer schema W -> current struct): walks W's binary layout
 *     and resolves it into the struct by Avro's resolution rules, computed
 *     at compile time: fields matched by name, writer-only fields skipped,
 *     reader-only fields set from the reader schema's default, union
 *     branches matched by type and name, int -> long promotion, enum symbols
 *     mapped by name; plus the upgraders of upgrade.h.
 *   encode plan (struct -> writer schema W): writes W's layout from the
 *     struct (W is the current schema, or an older one for fixtures).
 *
 * Where a field lives in the struct comes from the binding table (bind.h).
 * wire.h runs the plans.
 */
#ifndef LEDGER_CODEC_PLAN_H
#define LEDGER_CODEC_PLAN_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bind.h"
#include "upgrade.h"

typedef enum codec_op {
    /* decode into the struct */
    CODEC_OP_D_LONG,        /* long -> int64 */
    CODEC_OP_D_INT_AS_LONG, /* int -> int64 (promotion) */
    CODEC_OP_D_INT,         /* int -> int32 */
    CODEC_OP_D_BOOL,
    CODEC_OP_D_STRING,  /* string/bytes -> char[size] */
    CODEC_OP_D_ENUM,    /* enum index -> C value through map (-1: symbol unknown to the reader) */
    CODEC_OP_D_NAMED,   /* string holding a symbol name -> C value through `names` */
    CODEC_OP_D_UPGRADE, /* string -> C value through `upgrade`, then checked against map */
    CODEC_OP_D_NULL,    /* a null branch: clears the target (see null_how) */
    CODEC_OP_D_ERROR,   /* a writer branch the reader cannot hold: fails with `what` */
    CODEC_OP_D_RECORD,  /* kids: reader defaults first, then the writer's fields in order */
    CODEC_OP_D_UNION,   /* kids: one per writer branch */
    CODEC_OP_D_ARRAY,   /* kid 0: the item; allocates */
    /* skip a writer value the reader does not want */
    CODEC_OP_S_NOTHING,
    CODEC_OP_S_BOOL,
    CODEC_OP_S_VARINT,
    CODEC_OP_S_FIXED, /* size bytes: float, double, fixed */
    CODEC_OP_S_BYTES, /* string, bytes */
    CODEC_OP_S_RECORD,
    CODEC_OP_S_UNION,
    CODEC_OP_S_ARRAY, /* also maps: kid 0 the item (for a map, after its key) */
    CODEC_OP_S_MAP,
    /* defaults of reader fields the writer lacks */
    CODEC_OP_F_LONG,
    CODEC_OP_F_INT,
    CODEC_OP_F_BOOL,
    CODEC_OP_F_ENUM,
    CODEC_OP_F_STRING, /* value: offset of the text in chars */
    CODEC_OP_F_NULL,
    CODEC_OP_F_EMPTY_ARRAY,
    /* encode from the struct */
    CODEC_OP_E_NOTHING,
    CODEC_OP_E_LONG,
    CODEC_OP_E_INT_AS_LONG, /* int32 member written as a long */
    CODEC_OP_E_INT,
    CODEC_OP_E_BOOL,
    CODEC_OP_E_STRING,
    CODEC_OP_E_ENUM,      /* C value -> writer symbol index through map */
    CODEC_OP_E_ENUM_NAME, /* C value -> its name, written as a string */
    CODEC_OP_E_RECORD,
    CODEC_OP_E_NULLABLE, /* value: the null branch; size: the other branch; kid 0 */
    CODEC_OP_E_CHOICE,   /* C value at off -> branch through map; kids: one per branch */
    CODEC_OP_E_ARRAY,
} codec_op;

/* What entering a node as the selected branch of a union sets first. */
typedef enum codec_plan_entry {
    CODEC_ENTRY_NONE,
    CODEC_ENTRY_FLAG, /* bool true at entry_off */
    CODEC_ENTRY_TAG,  /* int entry_value at entry_off */
} codec_plan_entry;

typedef struct codec_plan_node {
    uint8_t op;        /* codec_op */
    uint8_t entry;     /* codec_plan_entry */
    uint8_t null_how;  /* codec_bind_null of the target (D_NULL, F_NULL, E_NULLABLE) */
    uint8_t zero_kind; /* codec_bind_kind of the target, for CODEC_NULL_ZERO */
    int32_t local;     /* >= 0: the target is this local of the enclosing record */
    int32_t off;       /* the target, relative to the current struct */
    int32_t size;      /* string buffer, fixed size, array element size, E_NULLABLE branch */
    int32_t aux;       /* null flag offset, array count offset */
    int32_t entry_off;
    int32_t entry_value;
    uint32_t first; /* kids, in plan->ints */
    uint32_t count;
    uint32_t map_first; /* enum/branch map, in plan->ints */
    uint32_t map_count;
    uint32_t what; /* the field name for messages (D_ERROR: the message), in plan->chars */
    int64_t value; /* defaults; E_NULLABLE: null branch; D_ARRAY/S_ARRAY: min item bytes */
    const codec_names *names;
    codec_upgrade_string_fn upgrade;
    codec_bind_finish_fn finish;
    int (*derive)(const void *object);
} codec_plan_node;

typedef struct codec_plan {
    codec_plan_node *nodes;
    size_t node_count;
    size_t node_cap;
    int32_t *ints;
    size_t int_count;
    size_t int_cap;
    char *chars;
    size_t char_count;
    size_t char_cap;
    uint32_t root;
} codec_plan;

/* A schema as the compiler sees it. Borrowed: nothing here is freed by the
 * plan functions. */
typedef struct codec_plan_schema {
    const char *id; /* "ledger.Event.v1" */
    avro_schema_t schema;
    const char *json; /* the schema text, for field defaults (avro-c drops them) */
    size_t json_len;
    uint64_t fingerprint;
} codec_plan_schema;

/* Compiles the plan that reads records written with `writer` into the
 * struct of the current `reader`. Returns 0 and a new plan (the caller
 * destroys it), or -1 with errstr naming the field that does not resolve. */
int codec_plan_decoder(const codec_plan_schema *writer, const codec_plan_schema *reader,
                       codec_plan **out, char *errstr, size_t errstr_size);

/* Compiles the plan that writes the current struct in `writer`'s layout.
 * Returns 0 and a new plan, or -1 with errstr. */
int codec_plan_encoder(const codec_plan_schema *writer, codec_plan **out, char *errstr,
                       size_t errstr_size);

/* Checks that the binding table and the current reader schemas agree: each
 * reader field has a row of a fitting kind, each enum symbol a C value, and
 * each row a reader field. Returns 0, or -1 with errstr. */
int codec_plan_check_bindings(const codec_plan_schema *readers, size_t count, char *errstr,
                              size_t errstr_size);

void codec_plan_destroy(codec_plan *plan);

#endif
