/*
 * test_codec_alloc.c - the hot paths allocate nothing: encoding and decoding
 * events, commands and results make no call to malloc, calloc or realloc
 * (counted through the linker's --wrap, see tests/unit/codec.cmake), while
 * decoding a snapshot, which allocates its arrays, is counted.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "codec.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);

static long allocations;

void *__wrap_malloc(size_t size) {
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size) {
    allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t size) {
    allocations++;
    return __real_realloc(p, size);
}

Test(alloc, event_command_and_result_paths_allocate_nothing) {
    char err[512] = "";
    ledger_codec *codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
    cr_assert_gt(allocations, 0, "the counter counts the codec's allocations");

    ledger_event e;
    ledger_event_init(&e);
    strcpy(e.event_id, "5f0c8e8a-3f57-4c1e-9a53-000000000001");
    strcpy(e.account, "alice");
    strcpy(e.command_id, "cmd");
    e.seq = 1;
    strcpy(e.transfer_id, "7d3c6a10-0b8e-4f5a-8c21-00000000000a");
    strcpy(e.counterparty, "bob");
    strcpy(e.memo, "memo");
    e.amount = 5;
    e.reason = LEDGER_ACCOUNT_CLOSED;
    ledger_command c;
    ledger_command_init(&c);
    strcpy(c.id, "cmd");
    strcpy(c.account, "alice");
    strcpy(c.to, "bob");
    c.type = LEDGER_COMMAND_TRANSFER;
    c.has_at = true;
    ledger_result r;
    ledger_result_init(&r);
    strcpy(r.command_id, "cmd");
    r.has_event = r.has_position = true;
    r.event = e;
    r.event.type = LEDGER_EVENT_TRANSFER_SENT;

    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    size_t len;
    int failures = 0;
    long before = allocations;
    for (int t = LEDGER_EVENT_ACCOUNT_OPENED; t <= LEDGER_EVENT_ACCOUNT_CLOSED; t++) {
        ledger_event out;
        e.type = (ledger_event_type)t;
        failures += ledger_codec_encode_event(codec, &e, buf, sizeof buf, &len, err, sizeof err);
        failures += ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err);
        failures += ledger_codec_encode_event_with(codec, "ledger.Event.v1", &e, buf, sizeof buf,
                                                   &len, err, sizeof err);
        failures += ledger_codec_decode_event(codec, buf, len, &out, err, sizeof err);
    }
    ledger_command cout;
    failures += ledger_codec_encode_command(codec, &c, buf, sizeof buf, &len, err, sizeof err);
    failures += ledger_codec_decode_command(codec, buf, len, &cout, err, sizeof err);
    ledger_result rout;
    failures += ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err, sizeof err);
    failures += ledger_codec_decode_result(codec, buf, len, &rout, err, sizeof err);
    /* error paths too */
    failures -= ledger_codec_decode_result(codec, buf, len - 1, &rout, err, sizeof err);
    long during = allocations - before;

    cr_assert_eq(failures, 1, "%s", err);
    cr_expect_eq(during, 0, "%ld allocations on the event/command/result paths", during);

    snapshot_account accounts[1] = {{.account = "alice"}};
    ledger_snapshot s = {.account_count = 1, .accounts = accounts};
    cr_assert_eq(ledger_codec_encode_snapshot(codec, &s, buf, sizeof buf, &len, err, sizeof err),
                 0);
    before = allocations;
    ledger_snapshot sout;
    cr_assert_eq(ledger_codec_decode_snapshot(codec, buf, len, &sout, err, sizeof err), 0);
    cr_expect_gt(allocations - before, 0, "snapshot arrays are allocated (and counted)");
    ledger_snapshot_release(&sout);
    ledger_codec_destroy(codec);
}
