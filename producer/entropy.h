/*
 * entropy.h - random UUIDs for event and transfer ids, from getrandom(2).
 *
 * The core reads no entropy (decide.h takes ids from its caller); this is
 * where the producer gets them. Random bytes are read 4 KiB at a time, so an
 * id costs a copy, not a system call.
 */
#ifndef LEDGER_PRODUCER_ENTROPY_H
#define LEDGER_PRODUCER_ENTROPY_H

#include <stddef.h>

#include "ids.h"

typedef struct producer_entropy {
    unsigned char buf[4096];
    size_t pos; /* bytes of buf already used */
} producer_entropy;

/* Starts with an empty buffer (filled on first use). */
void producer_entropy_init(producer_entropy *entropy);

/* Writes a new random version 4 UUID. Returns 0, or -1 when the kernel
 * refuses random bytes (then `out` is untouched). */
int producer_entropy_uuid(producer_entropy *entropy, char out[LEDGER_UUID_BUF]);

#endif
