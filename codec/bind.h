/*
 * bind.h - where each field of the current reader schemas lives in memory.
 *
 * The domain structs (core/event.h, command.h, result.h, snapshot.h) are the
 * in-memory form of the CURRENT reader schemas. This table says, for each
 * (record fullname, field name) of those schemas, which struct member holds
 * the value and how (a string buffer, an int64, an enum whose symbols are
 * named by core's name functions, a nested struct, ...). The plan compiler
 * (plan.h) joins it with a writer schema; codec_new checks that the table
 * and the embedded reader schemas agree field for field, so neither can
 * drift without a start-up error.
 *
 * Offsets are relative to the struct that holds the record: the top-level
 * struct, a nested struct (CODEC_BIND_RECORD), or an array element.
 */
#ifndef LEDGER_CODEC_BIND_H
#define LEDGER_CODEC_BIND_H

#include <stddef.h>
#include <stdint.h>

typedef enum codec_bind_kind {
    CODEC_BIND_STRING, /* char[size] at off, NUL-terminated */
    CODEC_BIND_LONG,   /* int64_t at off */
    CODEC_BIND_INT,    /* int32_t at off */
    CODEC_BIND_BOOL,   /* bool at off */
    CODEC_BIND_ENUM,   /* an int-sized C enum at off (or in a record local); on the wire an
                        * enum, or a string holding a symbol name */
    CODEC_BIND_RECORD, /* a record whose fields are bound relative to off */
    CODEC_BIND_CHOICE, /* a union of records: the record's name, through `names`, is the
                        * enum value at off; the records' fields share the same struct */
    CODEC_BIND_ARRAY,  /* a malloc'd array: pointer at off, size_t count at count_off,
                        * elements of `size` bytes, each the struct of the item record */
} codec_bind_kind;

/* How a ["null", T] union is held. */
typedef enum codec_bind_null {
    CODEC_NULL_NONE, /* not nullable */
    CODEC_NULL_FLAG, /* the bool at flag_off says whether the value is there */
    CODEC_NULL_ZERO, /* null is the zero value: "" for strings, 0 for numbers and enums */
} codec_bind_null;

/* Symbol names of a C enum. */
typedef struct codec_names {
    const char *what;                               /* for messages: "reason" */
    int (*from_name)(const char *name, int *value); /* 0, or -1 when unknown */
    const char *(*to_name)(int value);              /* NULL when out of range */
} codec_names;

typedef struct codec_bind {
    const char *record; /* reader record fullname, "ledger.Event" */
    const char *field;
    codec_bind_kind kind;
    int32_t off;
    int32_t size; /* STRING: buffer size; ARRAY: element size */
    codec_bind_null null;
    int32_t flag_off;  /* CODEC_NULL_FLAG: offset of the bool */
    int32_t count_off; /* ARRAY: offset of the size_t count */
    int32_t local;     /* ENUM: >= 0 to decode into this record local (0..CODEC_BIND_LOCALS-1)
                        * instead of the struct; -1 otherwise */
    const codec_names *names;          /* ENUM, CHOICE */
    int (*derive)(const void *object); /* ENUM in a local: the value to encode, from the struct */
} codec_bind;

#define CODEC_BIND_LOCALS 2

/* Runs after a record was decoded: cross-field checks (and only those).
 * `object` is the struct the record's fields are bound in; `locals` the
 * record's locals. Returns 0, or -1 with errstr. */
typedef int (*codec_bind_finish_fn)(const void *object, const int64_t *locals, char *errstr,
                                    size_t errstr_size);

/* The binding of (record fullname, field), or NULL when the struct has no
 * place for it. Static storage. */
const codec_bind *codec_bind_find(const char *record, const char *field);

/* The finish check of a record, or NULL. */
codec_bind_finish_fn codec_bind_finish_of(const char *record);

/* All rows, for the start-up check that every row matches a reader field. */
size_t codec_bind_count(void);
const codec_bind *codec_bind_at(size_t i);

#endif
