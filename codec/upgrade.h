/*
 * upgrade.h - upgraders: conversions that Avro schema resolution cannot
 * express, registered per (writer schema fingerprint, record, field).
 *
 * Resolution covers added fields with defaults, promotions and renamed-free
 * reshuffles; a change of a field's type such as string -> enum needs code.
 * The plan compiler asks this table when a writer field does not resolve
 * against the reader field of the same name; without a row, the writer
 * schema is refused at start-up. A row is keyed by the fingerprint of the
 * frozen writer schema, so it can never apply to a schema it was not written
 * for. To add one: write the function and add a row in upgrade.c.
 */
#ifndef LEDGER_CODEC_UPGRADE_H
#define LEDGER_CODEC_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

/* The kinds of writer value an upgrader takes. */
typedef enum codec_upgrade_from {
    CODEC_UPGRADE_FROM_STRING, /* the writer field is a string */
} codec_upgrade_from;

/* Converts the writer's string (`len` bytes, not NUL-terminated, possibly
 * holding NUL bytes) into the value of the reader's C enum. Returns 0, or -1
 * with errstr naming the bad value. Runs on the decode path: no allocation. */
typedef int (*codec_upgrade_string_fn)(const char *text, size_t len, int *value, char *errstr,
                                       size_t errstr_size);

typedef struct codec_upgrade {
    uint64_t writer_fingerprint; /* CRC-64-AVRO of the writer schema */
    const char *writer_id;       /* "ledger.Event.v1", for messages and checks */
    const char *record;          /* record fullname, "ledger.TransferReturned" */
    const char *field;
    codec_upgrade_from from;
    codec_upgrade_string_fn from_string;
} codec_upgrade;

/* The upgrader of (writer fingerprint, record, field), or NULL. Static. */
const codec_upgrade *codec_upgrade_find(uint64_t writer_fingerprint, const char *record,
                                        const char *field);

/* All rows, for the start-up check that each names a known schema. */
size_t codec_upgrade_count(void);
const codec_upgrade *codec_upgrade_at(size_t i);

#endif
