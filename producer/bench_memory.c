/*
 * bench_memory.c - what the producer's in-memory state costs at scale: RSS
 * growth per account of the account table, and per entry of the dedup
 * window holding realistic results (an accepted deposit with a UUID command
 * id). Prints figures; asserts nothing.
 *
 *     bench_producer_memory [accounts [dedup_entries]]   (default 1000000 each)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "codec.h"
#include "dedup.h"
#include "entropy.h"

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    long accounts = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long entries = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
    char errstr[256];
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    if (codec == NULL) {
        fprintf(stderr, "codec: %s\n", errstr);
        return 1;
    }

    long before = rss_kib();
    producer_accounts *table = producer_accounts_new();
    for (long i = 0; i < accounts; i++) {
        char id[32];
        int len = snprintf(id, sizeof(id), "acct-%07ld", i);
        account_state *s = producer_accounts_upsert(table, id, (size_t)len);
        if (s == NULL) {
            fprintf(stderr, "out of memory at %ld\n", i);
            return 1;
        }
        s->status = ACCOUNT_OPEN;
        s->balance = i;
        s->seq = 2;
    }
    long after = rss_kib();
    printf("accounts: %ld (ids like 'acct-0000001'), RSS +%ld KiB = %.1f bytes/account, "
           "table allocation %.1f bytes/account\n",
           accounts, after - before, (after - before) * 1024.0 / (double)accounts,
           (double)producer_accounts_memory(table) / (double)accounts);

    producer_entropy entropy;
    producer_entropy_init(&entropy);
    ledger_result result;
    ledger_result_init(&result);
    result.has_event = true;
    result.has_position = true;
    result.partition = 3;
    result.offset = 123456789;
    ledger_event *e = &result.event;
    e->type = LEDGER_EVENT_MONEY_DEPOSITED;
    e->seq = 17;
    e->at_ms = INT64_C(1795687200000);
    e->amount = 123456;
    snprintf(e->account, sizeof(e->account), "acct-0000001");

    before = rss_kib();
    producer_dedup *dedup = producer_dedup_new();
    size_t bytes_total = 0;
    for (long i = 0; i < entries; i++) {
        producer_entropy_uuid(&entropy, result.command_id);
        producer_entropy_uuid(&entropy, e->event_id);
        memcpy(e->command_id, result.command_id, sizeof(e->command_id));
        uint8_t buf[LEDGER_CODEC_RESULT_MAX];
        size_t len = 0;
        if (ledger_codec_encode_result(codec, &result, buf, sizeof(buf), &len, errstr,
                                       sizeof(errstr)) != 0 ||
            producer_dedup_put(dedup, result.command_id, strlen(result.command_id), buf, len, i) !=
                0) {
            fprintf(stderr, "dedup entry %ld failed\n", i);
            return 1;
        }
        bytes_total += len;
    }
    after = rss_kib();
    printf("dedup entries: %ld (UUID ids, %.0f-byte encoded results), RSS +%ld KiB = %.1f "
           "bytes/entry, allocation %.1f bytes/entry\n",
           entries, (double)bytes_total / (double)entries, after - before,
           (after - before) * 1024.0 / (double)entries,
           (double)producer_dedup_memory(dedup) / (double)entries);

    producer_dedup_destroy(dedup);
    producer_accounts_destroy(table);
    ledger_codec_destroy(codec);
    return 0;
}
