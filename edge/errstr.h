/*
 * errstr.h - filling the caller's `errstr, errstr_size` buffer, the way
 * librdkafka reports errors at construction and configuration boundaries.
 */
#ifndef LEDGER_ERRSTR_H
#define LEDGER_ERRSTR_H

#include <stddef.h>

/* printf into errstr (truncating); does nothing when errstr is NULL or
 * errstr_size is 0, so callers may pass NULL when they do not care why. */
void ledger_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
