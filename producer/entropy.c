/*
 * entropy.c - buffered getrandom(2) for UUIDs (see entropy.h).
 */
#include "entropy.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

void producer_entropy_init(producer_entropy *entropy) {
    memset(entropy, 0, sizeof(*entropy));
    entropy->pos = sizeof(entropy->buf);
}

static int entropy_fill(producer_entropy *entropy) {
    size_t got = 0;
    while (got < sizeof(entropy->buf)) {
        ssize_t n = getrandom(entropy->buf + got, sizeof(entropy->buf) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    entropy->pos = 0;
    return 0;
}

int producer_entropy_uuid(producer_entropy *entropy, char out[LEDGER_UUID_BUF]) {
    if (entropy->pos + 16 > sizeof(entropy->buf) && entropy_fill(entropy) != 0)
        return -1;
    ledger_uuid_format(entropy->buf + entropy->pos, out);
    /* Used bytes are wiped so that they never serve twice. */
    memset(entropy->buf + entropy->pos, 0, 16);
    entropy->pos += 16;
    return 0;
}
