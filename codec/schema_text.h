/*
 * schema_text.h - the text of every .avsc file in schemas/, compiled into the
 * library so that programs need no schema files at run time.
 *
 * The definitions are generated at build time by embed_schemas.cmake
 * (schema_texts.c in the build directory), ordered by file name.
 */
#ifndef LEDGER_CODEC_SCHEMA_TEXT_H
#define LEDGER_CODEC_SCHEMA_TEXT_H

#include <stddef.h>

typedef struct codec_schema_text {
    const char *file; /* "ledger.Event.v1.avsc" */
    const char *json; /* the file's bytes, NUL-terminated */
    size_t json_len;  /* without the terminator */
} codec_schema_text;

extern const codec_schema_text codec_schema_texts[];
extern const size_t codec_schema_text_count;

#endif
