/*
 * test_dlq_units.c - the pure pieces of projectors/dlq.c, without a broker
 * or Redis: the account a record is held under, the decode checks, the
 * search for the longest prefix a view applies (with its writes taken back
 * when it fails), and the exact Redis writes of a hold (keys from
 * projector_keys.h, values as README.md documents them).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"
#include "dlq.h"
#include "projector_keys.h"
#include "view_batch.h"

/* ---- held under which account ---- */

Test(dlq_units, a_record_is_held_under_its_key_or_the_partitions_pseudo_account) {
    char buf[PROJECTOR_DLQ_ACCOUNT_BUF];
    cr_assert(projector_dlq_account_of("A-1", 3, 4, buf));
    cr_assert_str_eq(buf, "A-1");
    cr_assert_not(projector_dlq_account_of(NULL, 0, 4, buf));
    cr_assert_str_eq(buf, "?4");
    cr_assert_not(projector_dlq_account_of("has space", 9, 12, buf));
    cr_assert_str_eq(buf, "?12");
    char long_key[65];
    memset(long_key, 'k', sizeof(long_key));
    cr_assert_not(projector_dlq_account_of(long_key, sizeof(long_key), 0, buf));
    cr_assert_str_eq(buf, "?0");

    cr_assert(projector_dlq_pseudo_account("?0"));
    cr_assert(projector_dlq_pseudo_account("?123"));
    cr_assert_not(projector_dlq_pseudo_account("?"));
    cr_assert_not(projector_dlq_pseudo_account("?-1"));
    cr_assert_not(projector_dlq_pseudo_account("A"));
    cr_assert_not(projector_dlq_pseudo_account("?12345678901"));
}

Test(dlq_units, decode_checks_the_frame_the_account_and_the_key) {
    char errstr[512];
    ledger_codec *codec = ledger_codec_new(errstr, sizeof(errstr));
    cr_assert_not_null(codec, "%s", errstr);
    ledger_event e, out;
    ledger_event_init(&e);
    strcpy(e.event_id, "6f1c1c7e-8f0a-4c1e-9a55-1d2b3c4d5e6f");
    strcpy(e.account, "A");
    e.seq = 1;
    e.at_ms = 1795687200000;
    strcpy(e.command_id, "c1");
    e.type = LEDGER_EVENT_ACCOUNT_OPENED;
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len;
    cr_assert_eq(
        ledger_codec_encode_event(codec, &e, buf, sizeof(buf), &len, errstr, sizeof(errstr)), 0);

    cr_assert_eq(projector_dlq_decode(codec, "A", 1, buf, len, &out, errstr, sizeof(errstr)), 0,
                 "%s", errstr);
    cr_assert_eq(out.seq, 1);
    cr_assert_eq(projector_dlq_decode(codec, "B", 1, buf, len, &out, errstr, sizeof(errstr)), -1);
    cr_assert_str_eq(errstr, "the record key 'B' is not the event's account 'A'");
    cr_assert_eq(projector_dlq_decode(codec, NULL, 0, buf, len, &out, errstr, sizeof(errstr)), -1);
    cr_assert_not_null(strstr(errstr, "no key"), "%s", errstr);
    cr_assert_eq(projector_dlq_decode(codec, "\x01\xff", 2, buf, len, &out, errstr, sizeof(errstr)),
                 -1);
    cr_assert_str_eq(errstr,
                     "the record key '?"
                     "?' is not the event's account 'A'",
                     "bytes that are not printable are shown as '?'");
    cr_assert_eq(projector_dlq_decode(codec, "A", 1, "garbage", 7, &out, errstr, sizeof(errstr)),
                 -1);
    cr_assert_not_null(strstr(errstr, "bad magic"), "%s", errstr);
    ledger_codec_destroy(codec);
}

/* ---- the longest prefix a view applies ---- */

/* A view that writes one command per event and refuses the first event of
 * type NONE (and every fold that contains it); with state non-NULL it
 * cannot read its stored state at all. */
static int fussy_apply(const void *state, view_batch *batch, const view_account_input *in,
                       char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < in->event_count; i++) {
        if (state != NULL || in->events[i].type == LEDGER_EVENT_NONE) {
            snprintf(errstr, errstr_size, "refused seq %lld", (long long)in->events[i].seq);
            return -1;
        }
        char seq[24];
        snprintf(seq, sizeof(seq), "%lld", (long long)in->events[i].seq);
        const char *argv[] = {"SET", "k", seq};
        view_batch_write(batch, 3, argv, NULL);
    }
    return 0;
}

static const projector_view fussy_view = {.name = "fussy", .apply_account = fussy_apply};

static void events_with_bad_at(ledger_event *events, size_t n, size_t bad) {
    for (size_t i = 0; i < n; i++) {
        ledger_event_init(&events[i]);
        events[i].seq = (int64_t)i + 1;
        events[i].type = i == bad ? LEDGER_EVENT_NONE : LEDGER_EVENT_MONEY_DEPOSITED;
    }
}

Test(dlq_units, the_prefix_before_the_first_refused_event_is_applied_alone) {
    view_batch *batch = view_batch_new("ns", "fussy");
    cr_assert_not_null(batch);
    ledger_event events[9];
    for (size_t bad = 0; bad <= 9; bad++) {
        events_with_bad_at(events, 9, bad); /* bad == 9: none is bad */
        view_batch_reset(batch, 1);
        const char *pre[] = {"SET", "before", "1"};
        view_batch_write(batch, 3, pre, NULL); /* another account's write stays */
        view_account_input in = {.account = "A", .events = events, .event_count = 9};
        size_t applied = 99;
        char why[128] = "";
        int rc =
            projector_dlq_apply_prefix(&fussy_view, NULL, batch, &in, &applied, why, sizeof(why));
        cr_assert_eq(rc, bad == 9 ? 0 : 1, "bad at %zu", bad);
        cr_assert_eq(applied, bad, "bad at %zu: %zu applied", bad, applied);
        cr_assert_eq(view_batch_write_count(batch), 1 + bad, "bad at %zu: the refused writes stay",
                     bad);
        if (bad < 9) {
            char want[64];
            snprintf(want, sizeof(want), "refused seq %zu", bad + 1);
            cr_assert_str_eq(why, want);
        }
    }
    /* A state it cannot read: nothing applies, nothing is written. */
    events_with_bad_at(events, 9, 9);
    view_batch_reset(batch, 1);
    view_account_input in = {.account = "A", .events = events, .event_count = 9};
    size_t applied = 99;
    char why[128];
    cr_assert_eq(projector_dlq_apply_prefix(&fussy_view, "unreadable", batch, &in, &applied, why,
                                            sizeof(why)),
                 1);
    cr_assert_eq(applied, 0);
    cr_assert_eq(view_batch_write_count(batch), 0);
    view_batch_destroy(batch);
}

/* ---- the writes of a hold ---- */

/* The arguments of the batch's FCALL after a 1-argument head, as one text
 * with the arguments separated by '|'. */
static void writes_text(view_batch *batch, char *buf, size_t size) {
    const char *head[] = {"FCALL"};
    const size_t head_len[] = {5};
    int argc;
    const char *const *argv;
    const size_t *lens;
    cr_assert_eq(view_batch_fcall_argv(batch, head, head_len, 1, &argc, &argv, &lens), 0);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 1; i < argc; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%.*s", i > 1 ? "|" : "", (int)lens[i],
                                 argv[i]);
}

Test(dlq_units, a_hold_writes_the_documented_keys_and_values) {
    view_batch *batch = view_batch_new("ns", "balance");
    view_batch_reset(batch, 7);
    projector_dlq_expect_quarantine(batch, "A", NULL, 0);
    projector_dlq_quarantine(batch, "A", 3, 17, "bad \"magic\"\\ \x01");
    projector_dlq_mark(batch, "A", 3, 17, PROJECTOR_DLQ_HELD, "bad", 0, 4);
    char text[2048];
    writes_text(batch, text, sizeof(text));
    cr_assert_str_eq(text,
                     "4|LEDGER.EXPECT|ns:balance:g7:quarantine|A|"
                     "|4|HSET|ns:balance:g7:quarantine|A|"
                     "{\"partition\":3,\"offset\":17,\"error\":\"bad \\\"magic\\\"\\\\ ?\"}"
                     "|4|HSET|ns:balance:g7:dlq:{A}|3:17|{\"state\":\"held\",\"error\":\"bad\","
                     "\"dlq\":\"0:4\"}"
                     "|4|HINCRBY|ns:balance:g7:dlq:{A}|version|1");
    char key[PROJECTOR_KEY_BUF];
    projector_keys_held("ns", "balance", 7, "A", key, sizeof(key));
    cr_assert_str_eq(key, "ns:balance:g7:dlq:{A}", "the key dlq.c writes is the layout's");

    view_batch_reset(batch, 7);
    projector_dlq_expect_quarantine(batch, "?2", "{}", 2);
    projector_dlq_expect_version(batch, "?2", "5");
    projector_dlq_mark(batch, "?2", 2, 9, PROJECTOR_DLQ_SKIPPED, "x", 1, 1);
    projector_dlq_release(batch, "?2");
    writes_text(batch, text, sizeof(text));
    cr_assert_str_eq(text, "4|LEDGER.EXPECT|ns:balance:g7:quarantine|?2|{}"
                           "|4|LEDGER.EXPECT|ns:balance:g7:dlq:{?2}|version|5"
                           "|4|HSET|ns:balance:g7:dlq:{?2}|2:9|{\"state\":\"skipped\",\"error\":"
                           "\"x\",\"dlq\":\"1:1\"}"
                           "|4|HINCRBY|ns:balance:g7:dlq:{?2}|version|1"
                           "|3|HDEL|ns:balance:g7:quarantine|?2");
    view_batch_destroy(batch);
}
