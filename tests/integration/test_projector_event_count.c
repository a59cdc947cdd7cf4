/*
 * test_projector_event_count.c - the "event_count" test view (see the
 * header): settings, open/close, no reads, two writes per account.
 */
#include "test_projector_event_count.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector_keys.h"
#include "runtime.h"

static const ledger_config_setting event_count_settings[] = {
    {.name = "event_count_label",
     .env = "LEDGER_EVENT_COUNT_LABEL",
     .flag = "label",
     .type = LEDGER_CONFIG_STRING,
     .def = "events",
     .min = 1,
     .max = 32,
     .help = "hash field the counts are kept under"},
    LEDGER_CONFIG_END,
};

typedef struct event_count_state {
    char label[33];
} event_count_state;

static int event_count_open(const ledger_config *cfg, void **state, char *errstr,
                            size_t errstr_size) {
    event_count_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(s->label, sizeof(s->label), "%s", ledger_config_str(cfg, "event_count_label"));
    *state = s;
    return 0;
}

static void event_count_close(void *state) {
    free(state);
}

static size_t event_count_read(const void *state, view_batch *batch,
                               const view_account_input *input) {
    (void)state;
    (void)batch;
    (void)input;
    return 0; /* it only adds */
}

static int event_count_apply(const void *state, view_batch *batch, const view_account_input *input,
                             char *errstr, size_t errstr_size) {
    (void)errstr;
    (void)errstr_size;
    const event_count_state *s = state;
    char key[PROJECTOR_KEY_BUF], total[PROJECTOR_KEY_BUF], n[24];
    view_batch_account_key(batch, input->account, "stats", key, sizeof(key));
    view_batch_view_key(batch, "total", total, sizeof(total));
    snprintf(n, sizeof(n), "%zu", input->event_count);
    const char *hincr[] = {"HINCRBY", key, s->label, n};
    view_batch_write(batch, 4, hincr, NULL);
    const char *incr[] = {"INCRBY", total, n};
    view_batch_write(batch, 3, incr, NULL);
    return 0;
}

const projector_view event_count_view = {
    .name = "event_count",
    .help = "per account: how many events were applied (a test view)",
    .settings = event_count_settings,
    .open = event_count_open,
    .close = event_count_close,
    .read_account = event_count_read,
    .apply_account = event_count_apply,
};

int pt_run_event_count(int argc, char **argv) {
    return projector_run(&event_count_view, argc, argv);
}

void pt_assert_event_count_view(const pt_workload *w, redisContext *c) {
    long long sum = 0;
    for (size_t i = 0; i < w->account_count; i++) {
        const pt_account *a = &w->accounts[i];
        char key[PROJECTOR_KEY_BUF];
        size_t len = projector_keys_account(w->env->redis_prefix, "event_count", 1, a->name,
                                            "stats", key, sizeof(key));
        redisReply *r = redisCommand(c, "HGET %b events", key, len);
        cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL));
        long long got = r->type == REDIS_REPLY_NIL ? 0 : strtoll(r->str, NULL, 10);
        freeReplyObject(r);
        cr_assert_eq(got, a->seq, "account '%s': %lld events counted, %lld produced", a->name, got,
                     (long long)a->seq);
        sum += a->seq;
    }
    char key[PROJECTOR_KEY_BUF];
    size_t len =
        projector_keys_view(w->env->redis_prefix, "event_count", 1, "total", key, sizeof(key));
    redisReply *r = redisCommand(c, "GET %b", key, len);
    cr_assert(r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL));
    long long total = r->type == REDIS_REPLY_NIL ? 0 : strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    cr_assert_eq(total, sum, "total %lld, %lld produced", total, sum);
}
