/*
 * codec.h - the ledger's records on the wire: Avro single-object encoding of
 * events, commands, command results and snapshots (SPEC sections 3 and 6).
 *
 * Every record is framed as
 *
 *     C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint | Avro binary body
 *
 * where the fingerprint is that of the writer schema's Parsing Canonical
 * Form (canonical.h). The .avsc files of schemas/ are compiled into the
 * library; ledger_codec_new builds, once, a decode plan from every known
 * writer schema into the current struct and an encode plan for every schema
 * (plan.h), so that encoding and decoding an event, command or result never
 * allocates. schemas/README.md documents the format for other languages.
 *
 * A codec is immutable after ledger_codec_new: share it between threads.
 * Functions return 0 on success and -1 with errstr filled on failure (when
 * errstr_size > 0); a decode never reads outside [buf, buf + len).
 */
#ifndef LEDGER_CODEC_H
#define LEDGER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "event.h"
#include "result.h"
#include "snapshot.h"

/* C3 01 and the fingerprint. */
#define LEDGER_CODEC_HEADER_SIZE 10

/* Buffers of these sizes hold any framed event, command or result that the
 * structs can express (tested with every string at its longest). */
#define LEDGER_CODEC_EVENT_MAX   512
#define LEDGER_CODEC_COMMAND_MAX 512
#define LEDGER_CODEC_RESULT_MAX  1024

typedef struct ledger_codec ledger_codec;

/* What a schema describes. */
typedef enum ledger_codec_kind {
    LEDGER_CODEC_EVENT = 0,
    LEDGER_CODEC_COMMAND = 1,
    LEDGER_CODEC_RESULT = 2,
    LEDGER_CODEC_SNAPSHOT = 3,
} ledger_codec_kind;

/* A known schema. Owned by the codec, valid until ledger_codec_destroy. */
typedef struct ledger_codec_schema {
    const char *id;   /* "ledger.Event.v2": its file name in schemas/ without ".avsc" */
    const char *name; /* the record's fullname, "ledger.Event" */
    int version;      /* 2 */
    ledger_codec_kind kind;
    uint64_t fingerprint;       /* CRC-64-AVRO of canonical_form; little-endian in frames */
    const char *canonical_form; /* Parsing Canonical Form */
    const char *json;           /* the .avsc text, NUL-terminated */
    bool current;               /* the schema records of its kind are written with (and
                                 * read into) */
} ledger_codec_schema;

/* Parses the embedded schemas, computes their fingerprints, checks the
 * bindings and upgraders against them and compiles every plan. Returns a
 * codec (destroy it with ledger_codec_destroy), or NULL with errstr naming
 * what is wrong (an error here is a bug in schemas/ or codec/). */
ledger_codec *ledger_codec_new(char *errstr, size_t errstr_size);

/* Frees the codec. Accepts NULL. */
void ledger_codec_destroy(ledger_codec *codec);

/* The known schemas, ordered by id; i < ledger_codec_schema_count. */
size_t ledger_codec_schema_count(const ledger_codec *codec);
const ledger_codec_schema *ledger_codec_schema_at(const ledger_codec *codec, size_t i);

/* The schema with this id ("ledger.Event.v1"), or NULL. */
const ledger_codec_schema *ledger_codec_schema_by_id(const ledger_codec *codec, const char *id);

/* The writer schema of a framed record, or NULL (with errstr) when the
 * header is short, has a bad magic or an unknown fingerprint. */
const ledger_codec_schema *ledger_codec_schema_of(const ledger_codec *codec, const uint8_t *buf,
                                                  size_t len, char *errstr, size_t errstr_size);

/* "event", "command", "result", "snapshot". */
const char *ledger_codec_kind_name(ledger_codec_kind kind);

/* Encoders: write the framed record with the current schema of its kind
 * into buf (cap bytes) and set *len. Nothing is allocated. Fails when the
 * buffer is too small or a value cannot be written (an event type or enum
 * value out of range). The struct's strings are written up to their NUL, at
 * most buffer size - 1 bytes; nothing is validated (core does that). */
int ledger_codec_encode_event(const ledger_codec *codec, const ledger_event *event, uint8_t *buf,
                              size_t cap, size_t *len, char *errstr, size_t errstr_size);
int ledger_codec_encode_command(const ledger_codec *codec, const ledger_command *command,
                                uint8_t *buf, size_t cap, size_t *len, char *errstr,
                                size_t errstr_size);
int ledger_codec_encode_result(const ledger_codec *codec, const ledger_result *result, uint8_t *buf,
                               size_t cap, size_t *len, char *errstr, size_t errstr_size);
int ledger_codec_encode_snapshot(const ledger_codec *codec, const ledger_snapshot *snapshot,
                                 uint8_t *buf, size_t cap, size_t *len, char *errstr,
                                 size_t errstr_size);

/* Writes an event with an older (or the current) event schema, by id
 * ("ledger.Event.v1"): for fixtures and tests of schema evolution. */
int ledger_codec_encode_event_with(const ledger_codec *codec, const char *schema_id,
                                   const ledger_event *event, uint8_t *buf, size_t cap, size_t *len,
                                   char *errstr, size_t errstr_size);

/* A buffer size that holds the framed snapshot. */
size_t ledger_codec_snapshot_size_max(const ledger_snapshot *snapshot);

/* Decoders: read a framed record written with any known schema of the kind
 * into *out (fully overwritten; zeroed on failure), resolving older writer
 * schemas into the current struct. Event, command and result decoding never
 * allocates. Strings longer than their buffer keep size-1 bytes, NUL bytes
 * in them become 0x7f: an over-long or odd id stays invalid for core. */
int ledger_codec_decode_event(const ledger_codec *codec, const uint8_t *buf, size_t len,
                              ledger_event *out, char *errstr, size_t errstr_size);
int ledger_codec_decode_command(const ledger_codec *codec, const uint8_t *buf, size_t len,
                                ledger_command *out, char *errstr, size_t errstr_size);
int ledger_codec_decode_result(const ledger_codec *codec, const uint8_t *buf, size_t len,
                               ledger_result *out, char *errstr, size_t errstr_size);

/* Decodes a snapshot; its arrays are allocated with malloc and owned by
 * *out: free them with ledger_snapshot_release. On failure nothing stays
 * allocated and *out is zeroed. */
int ledger_codec_decode_snapshot(const ledger_codec *codec, const uint8_t *buf, size_t len,
                                 ledger_snapshot *out, char *errstr, size_t errstr_size);

/* Frees a snapshot's arrays (with free()) and zeroes it. Accepts NULL. */
void ledger_snapshot_release(ledger_snapshot *snapshot);

#endif
