/*
 * canonical.h - Avro's Parsing Canonical Form (PCF) of a schema and the
 * CRC-64-AVRO fingerprint, as the Avro specification defines them
 * ("Schema Fingerprints" and "Parsing Canonical Form for Schemas").
 *
 * avro-c 1.11 has neither, and the single-object framing of every record
 * names its writer schema by this fingerprint, so both are implemented here,
 * on the schema's JSON text, rule by rule: PRIMITIVES, FULLNAMES, STRIP,
 * ORDER, STRINGS, INTEGERS, WHITESPACE. They are checked against the Avro
 * project's published vectors and against fastavro (tests/unit,
 * tests/codec).
 */
#ifndef LEDGER_CANONICAL_H
#define LEDGER_CANONICAL_H

#include <stddef.h>
#include <stdint.h>

/* Computes the Parsing Canonical Form of the schema `json` (`len` bytes, not
 * necessarily NUL-terminated). Returns 0 and sets *out to a NUL-terminated
 * string allocated with malloc (the caller frees it) and *out_len to its
 * length, or -1 with errstr naming what is wrong with the schema (bad JSON,
 * unknown type, invalid name, reference to an undefined type). */
int ledger_canonical_form(const char *json, size_t len, char **out, size_t *out_len, char *errstr,
                          size_t errstr_size);

/* CRC-64-AVRO (the Rabin fingerprint of the Avro specification) of `len`
 * bytes. Written into frames little-endian. */
uint64_t ledger_canonical_crc64(const void *data, size_t len);

/* The fingerprint of a schema: CRC-64-AVRO of its Parsing Canonical Form.
 * Returns 0 and sets *fingerprint, or -1 with errstr. */
int ledger_canonical_fingerprint(const char *json, size_t len, uint64_t *fingerprint, char *errstr,
                                 size_t errstr_size);

#endif
