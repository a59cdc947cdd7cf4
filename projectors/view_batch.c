/*
 * view_batch.c - view_batch: an arena of argument bytes, a table of arguments and
 * two lists of commands (reads, writes), all grown by doubling and reset,
 * never freed, between batches.
 *
 * Pointers into the arena are made only when the runtime asks for argv
 * vectors, after the appends of a round trip are done; until then arguments
 * are offsets, so the arena may move when it grows. The RESP encodings are
 * made the same way, on request, into one more reused buffer (`out`).
 *
 * Keys are made from a prefix "<ns>:<view>:g<gen>:" computed once per
 * reset, with the same result as projector_keys_account/_view: a batch
 * makes one or more keys per account, and snprintf was a tenth of the
 * projector's instructions.
 */
#include "view_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector_keys.h"
#include "text_cursor.h"

typedef struct batch_arg {
    size_t offset; /* into the arena */
    size_t len;
} batch_arg;

typedef struct batch_cmd {
    size_t first; /* index of its first argument */
    int argc;     /* writes: counts the leading argc text too */
} batch_cmd;

struct view_batch {
    const char *ns;
    const char *view;
    int64_t gen;
    bool failed;

    char *arena;
    size_t arena_len, arena_cap;
    batch_arg *args;
    size_t args_len, args_cap;
    batch_cmd *reads;
    size_t reads_len, reads_cap;
    batch_cmd *writes;
    size_t writes_len, writes_cap;
    size_t pseudo_len; /* writes named "LEDGER.*" */

    char *out; /* RESP encodings handed out */
    size_t out_len, out_cap;

    char prefix[PROJECTOR_KEY_BUF]; /* "<ns>:<view>:g<gen>:" */
    size_t prefix_len;              /* 0: it did not fit (every key is then refused) */

    /* argv vectors handed out, rebuilt when stale */
    const char **ptrs;
    size_t *lens;
    size_t vec_cap;
    bool ptrs_fresh; /* ptrs/lens mirror args (reads) */
};

/* Grows *buf (of *cap elements of `elem` bytes) to hold `need`. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap > 0 ? *cap : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*buf, cap2 * elem);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

static void set_generation(view_batch *b, int64_t gen) {
    b->gen = gen;
    b->prefix_len =
        projector_keys_generation_prefix(b->ns, b->view, gen, b->prefix, sizeof(b->prefix));
}

view_batch *view_batch_new(const char *ns, const char *view) {
    view_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->ns = ns;
    b->view = view;
    set_generation(b, PROJECTOR_FIRST_GENERATION);
    return b;
}

void view_batch_destroy(view_batch *b) {
    if (b == NULL)
        return;
    free(b->arena);
    free(b->args);
    free(b->reads);
    free(b->writes);
    free(b->ptrs);
    free(b->lens);
    free(b->out);
    free(b);
}

void view_batch_reset(view_batch *b, int64_t gen) {
    if (gen != b->gen || b->prefix_len == 0)
        set_generation(b, gen);
    b->failed = false;
    b->pseudo_len = 0;
    b->arena_len = 0;
    b->args_len = 0;
    b->reads_len = 0;
    b->writes_len = 0;
    b->ptrs_fresh = false;
}

int64_t view_batch_generation(const view_batch *b) {
    return b->gen;
}

bool view_batch_failed(const view_batch *b) {
    return b->failed;
}

size_t view_batch_read_count(const view_batch *b) {
    return b->reads_len;
}

size_t view_batch_write_count(const view_batch *b) {
    return b->writes_len;
}

size_t view_batch_pseudo_count(const view_batch *b) {
    return b->pseudo_len;
}

/* prefix + parts[0..n-1] into buf, or 0 (and "") when it does not fit. */
static size_t make_key(const view_batch *b, const char *const *parts, size_t n, char *buf,
                       size_t size) {
    size_t lens[4], total = b->prefix_len;
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(parts[i]);
        total += lens[i];
    }
    if (b->prefix_len == 0 || total >= size) {
        if (size > 0)
            buf[0] = '\0';
        return 0;
    }
    memcpy(buf, b->prefix, b->prefix_len);
    size_t at = b->prefix_len;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + at, parts[i], lens[i]);
        at += lens[i];
    }
    buf[at] = '\0';
    return at;
}

size_t view_batch_account_key(const view_batch *b, const char *account, const char *suffix,
                              char *buf, size_t size) {
    const char *parts[] = {"{", account, "}:", suffix};
    return make_key(b, parts, 4, buf, size);
}

size_t view_batch_view_key(const view_batch *b, const char *suffix, char *buf, size_t size) {
    return make_key(b, &suffix, 1, buf, size);
}

void view_batch_mark_get(const view_batch *b, view_batch_mark *m) {
    m->arena_len = b->arena_len;
    m->args_len = b->args_len;
    m->reads_len = b->reads_len;
    m->writes_len = b->writes_len;
    m->pseudo_len = b->pseudo_len;
    m->failed = b->failed;
}

void view_batch_rewind(view_batch *b, const view_batch_mark *m) {
    b->arena_len = m->arena_len;
    b->args_len = m->args_len;
    b->reads_len = m->reads_len;
    b->writes_len = m->writes_len;
    b->pseudo_len = m->pseudo_len;
    b->failed = m->failed;
    b->ptrs_fresh = false;
}

/* Copies one argument into the arena and the argument table. */
static int push_arg(view_batch *b, const char *data, size_t len) {
    if (grow((void **)&b->arena, &b->arena_cap, b->arena_len + len + 1, 1) != 0 ||
        grow((void **)&b->args, &b->args_cap, b->args_len + 1, sizeof(*b->args)) != 0)
        return -1;
    if (len > 0)
        memcpy(b->arena + b->arena_len, data, len);
    b->arena[b->arena_len + len] = '\0'; /* handy in a debugger, not relied on */
    b->args[b->args_len].offset = b->arena_len;
    b->args[b->args_len].len = len;
    b->arena_len += len + 1;
    b->args_len++;
    return 0;
}

static int push_argv(view_batch *b, int argc, const char **argv, const size_t *argvlen) {
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        if (push_arg(b, argv[i], len) != 0)
            return -1;
    }
    return 0;
}

void view_batch_read(view_batch *b, int argc, const char **argv, const size_t *argvlen) {
    if (b->failed)
        return;
    b->ptrs_fresh = false;
    size_t first = b->args_len;
    if (argc < 1 ||
        grow((void **)&b->reads, &b->reads_cap, b->reads_len + 1, sizeof(*b->reads)) != 0 ||
        push_argv(b, argc, argv, argvlen) != 0) {
        b->failed = true;
        return;
    }
    b->reads[b->reads_len].first = first;
    b->reads[b->reads_len].argc = argc;
    b->reads_len++;
}

void view_batch_write(view_batch *b, int argc, const char **argv, const size_t *argvlen) {
    if (b->failed)
        return;
    b->ptrs_fresh = false;
    size_t first = b->args_len;
    char count[TEXT_INT_BUF];
    size_t n = text_int_format(argc, count);
    if (argc < 1 ||
        grow((void **)&b->writes, &b->writes_cap, b->writes_len + 1, sizeof(*b->writes)) != 0 ||
        push_arg(b, count, n) != 0 || push_argv(b, argc, argv, argvlen) != 0) {
        b->failed = true;
        return;
    }
    b->writes[b->writes_len].first = first;
    b->writes[b->writes_len].argc = argc + 1;
    b->writes_len++;
    const batch_arg *name = &b->args[first + 1];
    if (name->len > 7 && memcmp(b->arena + name->offset, "LEDGER.", 7) == 0)
        b->pseudo_len++;
}

/* Grows the pointer and length vectors together to hold `need`. */
static int grow_vectors(view_batch *b, size_t need) {
    if (need <= b->vec_cap)
        return 0;
    size_t cap = b->vec_cap;
    if (grow((void **)&b->ptrs, &cap, need, sizeof(*b->ptrs)) != 0)
        return -1;
    size_t lens_cap = b->vec_cap;
    if (grow((void **)&b->lens, &lens_cap, cap, sizeof(*b->lens)) != 0)
        return -1;
    b->vec_cap = cap < lens_cap ? cap : lens_cap;
    return 0;
}

int view_batch_read_argv(view_batch *b, size_t i, int *argc, const char *const **argv,
                         const size_t **argvlen) {
    if (!b->ptrs_fresh) {
        if (grow_vectors(b, b->args_len) != 0)
            return -1;
        for (size_t a = 0; a < b->args_len; a++) {
            b->ptrs[a] = b->arena + b->args[a].offset;
            b->lens[a] = b->args[a].len;
        }
        b->ptrs_fresh = true;
    }
    const batch_cmd *c = &b->reads[i];
    *argc = c->argc;
    *argv = b->ptrs + c->first;
    *argvlen = b->lens + c->first;
    return 0;
}

int view_batch_fcall_argv(view_batch *b, const char *const *head, const size_t *head_len,
                          size_t head_count, int *argc, const char *const **argv,
                          const size_t **argvlen) {
    size_t total = head_count;
    for (size_t w = 0; w < b->writes_len; w++)
        total += (size_t)b->writes[w].argc;
    if (total > (size_t)INT32_MAX)
        return -1;
    if (grow_vectors(b, total) != 0)
        return -1;
    b->ptrs_fresh = false; /* the vectors now hold the FCALL, not the reads */
    size_t k = 0;
    for (size_t h = 0; h < head_count; h++, k++) {
        b->ptrs[k] = head[h];
        b->lens[k] = head_len[h];
    }
    for (size_t w = 0; w < b->writes_len; w++) {
        const batch_cmd *c = &b->writes[w];
        for (int a = 0; a < c->argc; a++, k++) {
            const batch_arg *arg = &b->args[c->first + (size_t)a];
            b->ptrs[k] = b->arena + arg->offset;
            b->lens[k] = arg->len;
        }
    }
    *argc = (int)total;
    *argv = b->ptrs;
    *argvlen = b->lens;
    return 0;
}

/* ---- RESP ---- */

static int out_reserve(view_batch *b, size_t more) {
    return grow((void **)&b->out, &b->out_cap, b->out_len + more, 1);
}

/* "<type><n>\r\n"; room for it reserved by the caller (at most 24 bytes). */
static void out_header(view_batch *b, char type, size_t n) {
    char *p = b->out + b->out_len;
    *p++ = type;
    p += text_int_format((int64_t)n, p);
    *p++ = '\r';
    *p++ = '\n';
    b->out_len = (size_t)(p - b->out);
}

static int out_bulk(view_batch *b, const char *data, size_t len) {
    if (out_reserve(b, len + 32) != 0)
        return -1;
    out_header(b, '$', len);
    if (len > 0)
        memcpy(b->out + b->out_len, data, len);
    b->out_len += len;
    b->out[b->out_len++] = '\r';
    b->out[b->out_len++] = '\n';
    return 0;
}

static int out_array(view_batch *b, size_t n) {
    if (out_reserve(b, 32) != 0)
        return -1;
    out_header(b, '*', n);
    return 0;
}

/* Arguments [first, first + argc) of the table as bulk strings. */
static int out_args(view_batch *b, size_t first, size_t argc) {
    for (size_t a = first; a < first + argc; a++) {
        if (out_bulk(b, b->arena + b->args[a].offset, b->args[a].len) != 0)
            return -1;
    }
    return 0;
}

int view_batch_reads_resp(view_batch *b, const char **buf, size_t *len) {
    b->out_len = 0;
    for (size_t r = 0; r < b->reads_len; r++) {
        const batch_cmd *c = &b->reads[r];
        if (out_array(b, (size_t)c->argc) != 0 || out_args(b, c->first, (size_t)c->argc) != 0)
            return -1;
    }
    *buf = b->out;
    *len = b->out_len;
    return 0;
}

int view_batch_writes_resp(view_batch *b, const char **buf, size_t *len) {
    b->out_len = 0;
    for (size_t w = 0; w < b->writes_len; w++) {
        const batch_cmd *c = &b->writes[w]; /* argc counts the leading count text */
        if (out_array(b, (size_t)c->argc - 1) != 0 ||
            out_args(b, c->first + 1, (size_t)c->argc - 1) != 0)
            return -1;
    }
    *buf = b->out;
    *len = b->out_len;
    return 0;
}

int view_batch_fcall_resp(view_batch *b, const char *const *head, const size_t *head_len,
                          size_t head_count, const char **buf, size_t *len) {
    size_t total = head_count;
    for (size_t w = 0; w < b->writes_len; w++)
        total += (size_t)b->writes[w].argc;
    b->out_len = 0;
    if (out_array(b, total) != 0)
        return -1;
    for (size_t h = 0; h < head_count; h++) {
        if (out_bulk(b, head[h], head_len[h]) != 0)
            return -1;
    }
    for (size_t w = 0; w < b->writes_len; w++) {
        const batch_cmd *c = &b->writes[w];
        if (out_args(b, c->first, (size_t)c->argc) != 0)
            return -1;
    }
    *buf = b->out;
    *len = b->out_len;
    return 0;
}
