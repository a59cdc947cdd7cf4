/*
 * ids.h - account ids, command ids and UUID text (SPEC section 4).
 *
 * Buffers in the domain structs are sized one byte larger than the longest
 * valid id plus the terminator (LEDGER_ACCOUNT_BUF = 64 + 2): an edge that
 * meets a longer id copies LEDGER_ACCOUNT_MAX + 1 bytes, so the stored id is
 * still too long and validation still fails, and nothing is silently
 * truncated into a valid id.
 */
#ifndef LEDGER_IDS_H
#define LEDGER_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_ACCOUNT_MAX    64
#define LEDGER_ACCOUNT_BUF    (LEDGER_ACCOUNT_MAX + 2)
#define LEDGER_COMMAND_ID_MAX 128
#define LEDGER_COMMAND_ID_BUF (LEDGER_COMMAND_ID_MAX + 2)
#define LEDGER_UUID_LEN       36
#define LEDGER_UUID_BUF       (LEDGER_UUID_LEN + 1)

/* 1 to 64 characters of [A-Za-z0-9._-]. `len` bytes of `s` are checked (a NUL
 * inside them makes the id invalid). */
bool ledger_account_valid(const char *s, size_t len);

/* 1 to 128 printable ASCII characters (0x20..0x7e). */
bool ledger_command_id_valid(const char *s, size_t len);

/* A 64-bit hash of `len` bytes of an id, for the in-memory tables keyed by
 * ids (FNV-1a, then a final avalanche, so that the low bits a power-of-two
 * table uses depend on every byte). Not for anything stored. */
uint64_t ledger_id_hash(const char *s, size_t len);

/* Canonical lowercase 8-4-4-4-12 hex form. */
bool ledger_uuid_valid(const char *s, size_t len);

/* Formats 16 bytes as a version 4 UUID (the caller supplies the random
 * bytes: the core reads no entropy). `out` must hold LEDGER_UUID_BUF. */
void ledger_uuid_format(const unsigned char bytes[16], char out[LEDGER_UUID_BUF]);

/* The length of the text held in a fixed buffer of `size` bytes: the offset
 * of the first NUL, or `size` when there is none (an unterminated buffer then
 * reads as too long for any valid id instead of running past its end). */
size_t ledger_id_len(const char *buf, size_t size);

/* Copies the text of `src` (NULL reads as "") into `dst` of `size` bytes
 * (size >= 1), reading at most size - 1 bytes of src, so a fixed buffer of
 * the same size need not be terminated. Truncates if needed, always
 * terminates and zeroes the rest, so equal ids give byte-equal buffers.
 * Returns the number of bytes copied. */
size_t ledger_id_copy(char *dst, size_t size, const char *src);

#endif
