/*
 * wire.h - runs compiled plans over Avro binary bytes.
 *
 * The only code that touches record bytes. Every length, count and varint is
 * checked against the bytes left before it is used, so that no input can
 * make it read outside the buffer; errors name the byte offset and the field.
 */
#ifndef LEDGER_CODEC_WIRE_H
#define LEDGER_CODEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

/* Decodes the Avro body at buf[start..len) into `object` (the struct the
 * plan's root record is bound to), which the caller has zeroed. The whole
 * rest of the buffer must be the one record. Byte offsets in messages count
 * from buf. Allocates only for arrays (see CODEC_BIND_ARRAY); on failure the
 * arrays decoded so far stay in `object` for the caller to free. Returns 0,
 * or -1 with errstr. */
int codec_wire_decode(const codec_plan *plan, const uint8_t *buf, size_t len, size_t start,
                      void *object, char *errstr, size_t errstr_size);

/* Encodes `object` at buf[start..cap) and sets *end to the offset after the
 * record. Returns 0, or -1 with errstr (buffer too small, a value the writer
 * schema cannot hold). */
int codec_wire_encode(const codec_plan *plan, const void *object, uint8_t *buf, size_t cap,
                      size_t start, size_t *end, char *errstr, size_t errstr_size);

#endif
