/*
 * bench_codec.c - encode and decode throughput of events on one core.
 *
 * A mix of every event type is encoded into one reused buffer, then the
 * framed records are decoded into one reused struct, as the producer and
 * the projectors do. Prints events per second and bytes per second; asserts
 * nothing (the target in the codec's brief is >= 1,500,000 decodes/s).
 *
 *   bench_codec [iterations]    default 5,000,000 of each
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"

#define SAMPLES 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_event(ledger_event *e, int i) {
    ledger_event_init(e);
    snprintf(e->event_id, sizeof e->event_id, "5f0c8e8a-3f57-4c1e-9a53-%012d", i);
    snprintf(e->account, sizeof e->account, "account-%d", i % 17);
    e->seq = 1000 + i;
    e->at_ms = INT64_C(1795687200000) + i * 1000;
    snprintf(e->command_id, sizeof e->command_id, "1c2f7a4e-6d0b-4b8e-9f3a-%012d", i);
    e->type = (ledger_event_type)(1 + i % 7);
    e->amount = 100 + i * 37;
    if (e->type >= LEDGER_EVENT_TRANSFER_SENT && e->type <= LEDGER_EVENT_TRANSFER_RETURNED) {
        snprintf(e->counterparty, sizeof e->counterparty, "account-%d", (i + 5) % 17);
        snprintf(e->transfer_id, sizeof e->transfer_id, "7d3c6a10-0b8e-4f5a-8c21-%012d", i);
        e->reason = e->type == LEDGER_EVENT_TRANSFER_RETURNED ? LEDGER_NO_SUCH_ACCOUNT : LEDGER_OK;
    }
    if (e->type == LEDGER_EVENT_MONEY_DEPOSITED && i % 2)
        snprintf(e->memo, sizeof e->memo, "salary %d", i);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 5000000;
    char err[512];
    ledger_codec *codec = ledger_codec_new(err, sizeof err);
    if (codec == NULL) {
        fprintf(stderr, "bench_codec: %s\n", err);
        return 1;
    }
    static ledger_event events[SAMPLES];
    static uint8_t frames[SAMPLES][LEDGER_CODEC_EVENT_MAX];
    static size_t lengths[SAMPLES];
    size_t total_bytes = 0;
    for (int i = 0; i < SAMPLES; i++) {
        make_event(&events[i], i);
        if (ledger_codec_encode_event(codec, &events[i], frames[i], sizeof frames[i], &lengths[i],
                                      err, sizeof err) != 0) {
            fprintf(stderr, "bench_codec: %s\n", err);
            return 1;
        }
        total_bytes += lengths[i];
    }
    double mean_bytes = (double)total_bytes / SAMPLES;

    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len, sink = 0;
    double t0 = now_s();
    for (long i = 0; i < iterations; i++) {
        if (ledger_codec_encode_event(codec, &events[i % SAMPLES], buf, sizeof buf, &len, err,
                                      sizeof err) != 0) {
            fprintf(stderr, "bench_codec: %s\n", err);
            return 1;
        }
        sink += len;
    }
    double encode_s = now_s() - t0;

    ledger_event out;
    t0 = now_s();
    for (long i = 0; i < iterations; i++) {
        int k = (int)(i % SAMPLES);
        if (ledger_codec_decode_event(codec, frames[k], lengths[k], &out, err, sizeof err) != 0) {
            fprintf(stderr, "bench_codec: %s\n", err);
            return 1;
        }
        sink += (size_t)out.seq;
    }
    double decode_s = now_s() - t0;

    printf("events: %ld encodes and %ld decodes, %d distinct events of every type, "
           "%.0f bytes framed on average\n",
           iterations, iterations, SAMPLES, mean_bytes);
    printf("encode: %12.0f events/s  %7.1f MB/s  %6.0f ns/event\n", iterations / encode_s,
           iterations * mean_bytes / encode_s / 1e6, encode_s / iterations * 1e9);
    printf("decode: %12.0f events/s  %7.1f MB/s  %6.0f ns/event\n", iterations / decode_s,
           iterations * mean_bytes / decode_s / 1e6, decode_s / iterations * 1e9);
    printf("(checksum %zu)\n", sink);
    ledger_codec_destroy(codec);
    return 0;
}
