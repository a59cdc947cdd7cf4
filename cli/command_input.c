/*
 * command_input.c - user input to ledger_command, refusing bad input before
 * anything is sent.
 *
 * The JSON reader is a small hand-written one for flat objects, not
 * jansson: `ledger submit` reads tens of thousands of lines a second and a
 * DOM per line would allocate for every command; and reading an amount
 * straight from its JSON text means no amount ever passes through a double.
 * Member values are unescaped into fixed buffers on the stack; a value
 * longer than its buffer is remembered as too long rather than cut into
 * something that might look valid.
 */
#include "command_input.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ids.h"
#include "ltime.h"
#include "money.h"

void command_input_error_init(command_input_error *err) {
    memset(err, 0, sizeof(*err));
    err->reason = LEDGER_OK;
}

static int fail(command_input_error *err, ledger_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(command_input_error *err, ledger_reason reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->reason = reason;
    return -1;
}

/* Quotes at most 64 bytes of user text in a message. */
#define SHOWN_MAX 64
#define SHOW(f)                                                                                    \
    (int)((f).len > SHOWN_MAX ? SHOWN_MAX : (f).len), (f).text, ((f).len > SHOWN_MAX ? "..." : "")

int command_input_new_id(char out[LEDGER_UUID_BUF]) {
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
        return -1;
    ledger_uuid_format(bytes, out);
    return 0;
}

static const char *account_fault(const command_input_field *f) {
    if (f->len == 0)
        return "empty";
    if (f->len > LEDGER_ACCOUNT_MAX)
        return "more than 64 characters";
    return "only letters, digits and '.', '_', '-' are allowed";
}

static void copy_field(char *dst, size_t size, const command_input_field *f) {
    size_t n = f->len < size - 1 ? f->len : size - 1;
    memcpy(dst, f->text, n);
    dst[n] = '\0';
}

static int check_account(const command_input_field *f, command_input_error *err) {
    if (ledger_account_valid(f->text, f->len))
        return 0;
    return fail(err, LEDGER_INVALID_ACCOUNT, "invalid account '%.*s%s': %s", SHOW(*f),
                account_fault(f));
}

int command_input_check_account(const char *text, size_t len, command_input_error *err) {
    command_input_field f = {text, len, false};
    return check_account(&f, err);
}

int command_input_parse_time(const char *text, size_t len, int64_t *ms, command_input_error *err) {
    command_input_field f = {text, len, false};
    const char *why = NULL;
    if (ltime_parse(text, len, ms, &why) != 0)
        return fail(err, LEDGER_MALFORMED_COMMAND, "invalid time '%.*s%s': %s", SHOW(f), why);
    return 0;
}

int command_input_build(ledger_command_type type, const command_input_text *in,
                        ledger_command *command, command_input_error *err) {
    bool transfer = type == LEDGER_COMMAND_TRANSFER;
    bool open = type == LEDGER_COMMAND_OPEN;
    bool moves = type == LEDGER_COMMAND_DEPOSIT || type == LEDGER_COMMAND_WITHDRAW || transfer;

    ledger_command_init(command);
    if (ledger_command_type_name(type) == NULL || type == LEDGER_COMMAND_NONE)
        return fail(err, LEDGER_MALFORMED_COMMAND, "unknown command type");

    /* malformed_command: missing fields, then the id, then the time. */
    if (in->account.text == NULL)
        return fail(err, LEDGER_MALFORMED_COMMAND, "missing field 'account'");
    if (transfer && in->to.text == NULL)
        return fail(err, LEDGER_MALFORMED_COMMAND, "missing field 'to'");
    if (moves && in->amount.text == NULL)
        return fail(err, LEDGER_MALFORMED_COMMAND, "missing field 'amount'");
    if (in->id.text != NULL) {
        if (!ledger_command_id_valid(in->id.text, in->id.len))
            return fail(err, LEDGER_MALFORMED_COMMAND,
                        "invalid command id '%.*s%s': must be 1 to 128 printable ASCII characters",
                        SHOW(in->id));
        copy_field(command->id, sizeof(command->id), &in->id);
    } else if (command_input_new_id(command->id) != 0) {
        return fail(err, LEDGER_MALFORMED_COMMAND, "cannot make a command id: getrandom failed");
    }
    if (in->at.text != NULL) {
        if (in->at.too_long)
            return fail(err, LEDGER_MALFORMED_COMMAND, "invalid time '%.*s...': too long",
                        SHOWN_MAX, in->at.text);
        if (command_input_parse_time(in->at.text, in->at.len, &command->at_ms, err) != 0)
            return -1;
        command->has_at = true;
    }

    /* invalid_account: the account, then `to`. */
    if (check_account(&in->account, err) != 0)
        return -1;
    copy_field(command->account, sizeof(command->account), &in->account);
    if (transfer) {
        if (check_account(&in->to, err) != 0)
            return -1;
        copy_field(command->to, sizeof(command->to), &in->to);
    }

    /* invalid_amount. */
    if ((open && in->amount.text != NULL) || moves) {
        const char *why = NULL;
        if (in->amount.too_long)
            return fail(err, LEDGER_INVALID_AMOUNT, "invalid %s '%.*s...': too long",
                        open ? "overdraft" : "amount", SHOWN_MAX, in->amount.text);
        if (money_parse(in->amount.text, in->amount.len, open /* allow zero */, &command->amount,
                        &why) != 0)
            return fail(err, LEDGER_INVALID_AMOUNT, "invalid %s '%.*s%s': %s",
                        open ? "overdraft" : "amount", SHOW(in->amount), why);
    }
    command->type = type;
    return 0;
}

/* ---- the JSON line reader ---- */

#define VALUE_BUF 512

enum { F_ID, F_TYPE, F_ACCOUNT, F_TO, F_AMOUNT, F_OVERDRAFT, F_AT, F_COUNT };

static const char *const field_names[F_COUNT] = {"id",     "type",      "account", "to",
                                                 "amount", "overdraft", "at"};

typedef struct member {
    bool seen;
    bool present;   /* seen and not null */
    bool too_long;  /* longer than VALUE_BUF - 1 bytes */
    bool is_string; /* a JSON string (else a number) */
    size_t len;
    char text[VALUE_BUF];
} member;

typedef struct reader {
    const char *p;
    const char *end;
    const char *start;
    member members[F_COUNT];
    char fault[96]; /* what is wrong with the JSON, when reading failed */
} reader;

static int syntax(reader *r, const char *what) {
    snprintf(r->fault, sizeof(r->fault), "invalid json at byte %zu: %s", (size_t)(r->p - r->start),
             what);
    return -1;
}

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(const char *p, unsigned int *out) {
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned int)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Appends to a member's text, or notes that it is too long. */
static void put(member *m, const char *s, size_t n) {
    if (m == NULL)
        return;
    if (m->too_long)
        return;
    if (n > VALUE_BUF - 1 - m->len) {
        n = VALUE_BUF - 1 - m->len; /* keep what fits: the text stays initialised */
        m->too_long = true;
    }
    memcpy(m->text + m->len, s, n);
    m->len += n;
    m->text[m->len] = '\0';
}

static void put_utf8(member *m, unsigned int cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    put(m, b, n);
}

/* A JSON string at r->p (the opening quote), unescaped into m (NULL: only
 * read past it). */
static int read_string(reader *r, member *m) {
    r->p++; /* the quote */
    for (;;) {
        const char *run = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
            r->p++;
        put(m, run, (size_t)(r->p - run));
        if (r->p >= r->end)
            return syntax(r, "unterminated string");
        char c = *r->p;
        if (c == '"') {
            r->p++;
            return 0;
        }
        if (c != '\\')
            return syntax(r, "control character in string");
        if (r->end - r->p < 2)
            return syntax(r, "unterminated string");
        char e = r->p[1];
        r->p += 2;
        switch (e) {
            case '"':
            case '\\':
            case '/':
                put(m, &e, 1);
                break;
            case 'b':
                put(m, "\b", 1);
                break;
            case 'f':
                put(m, "\f", 1);
                break;
            case 'n':
                put(m, "\n", 1);
                break;
            case 'r':
                put(m, "\r", 1);
                break;
            case 't':
                put(m, "\t", 1);
                break;
            case 'u': {
                unsigned int cp;
                if (r->end - r->p < 4 || hex4(r->p, &cp) != 0)
                    return syntax(r, "bad \\u escape");
                r->p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return syntax(r, "lone surrogate in \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned int lo;
                    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                        hex4(r->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                        return syntax(r, "lone surrogate in \\u escape");
                    r->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                put_utf8(m, cp);
                break;
            }
            default:
                return syntax(r, "bad escape in string");
        }
    }
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A JSON number, kept as its text in m (NULL: only read past it). */
static int read_number(reader *r, member *m) {
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || !is_digit(*r->p))
        return syntax(r, "bad number");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || !is_digit(*r->p))
            return syntax(r, "bad number");
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || !is_digit(*r->p))
            return syntax(r, "bad number");
        while (r->p < r->end && is_digit(*r->p))
            r->p++;
    }
    put(m, s, (size_t)(r->p - s));
    return 0;
}

static int read_literal(reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return syntax(r, "unexpected character");
    r->p += n;
    return 0;
}

/* Any value, skipped; nesting is bounded so that a hostile line cannot
 * recurse deeply. */
static int skip_value(reader *r, int depth) {
    if (depth > 32)
        return syntax(r, "nested too deeply");
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, "missing value");
    char c = *r->p;
    if (c == '"')
        return read_string(r, NULL);
    if (c == '-' || is_digit(c))
        return read_number(r, NULL);
    if (c == 't')
        return read_literal(r, "true");
    if (c == 'f')
        return read_literal(r, "false");
    if (c == 'n')
        return read_literal(r, "null");
    if (c != '{' && c != '[')
        return syntax(r, "unexpected character");
    char close = c == '{' ? '}' : ']';
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        if (c == '{') {
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"')
                return syntax(r, "expected a member name");
            if (read_string(r, NULL) != 0)
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return syntax(r, "expected ':'");
            r->p++;
        }
        if (skip_value(r, depth + 1) != 0)
            return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return syntax(r, "expected ',' or a closing bracket");
    }
}

/* The value of a known member: a string, a number (amounts only), or null. */
static int read_member_value(reader *r, int f, command_input_error *err) {
    member *m = &r->members[f];
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, "missing value");
    char c = *r->p;
    m->seen = true;
    if (c == 'n')
        return read_literal(r, "null");
    m->present = true;
    if (c == '"') {
        m->is_string = true;
        if (read_string(r, m) != 0)
            return -1;
        if (f == F_ID && !m->too_long && m->len < sizeof(err->id)) {
            err->has_id = true;
            err->id_len = m->len;
            memcpy(err->id, m->text, m->len);
            err->id[m->len] = '\0';
        }
        return 0;
    }
    if ((f == F_AMOUNT || f == F_OVERDRAFT) && (c == '-' || is_digit(c)))
        return read_number(r, m);
    snprintf(r->fault, sizeof(r->fault), "field '%s' must be a string", field_names[f]);
    return -1;
}

static int read_object(reader *r, command_input_error *err) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '{')
        return syntax(r, "expected a json object");
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (;;) {
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"')
                return syntax(r, "expected a member name");
            member key = {.len = 0};
            if (read_string(r, &key) != 0)
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return syntax(r, "expected ':'");
            r->p++;
            int f = -1;
            for (int i = 0; i < F_COUNT && !key.too_long; i++) {
                if (strlen(field_names[i]) == key.len &&
                    memcmp(field_names[i], key.text, key.len) == 0)
                    f = i;
            }
            if (f >= 0 && r->members[f].seen) {
                snprintf(r->fault, sizeof(r->fault), "duplicate field '%s'", field_names[f]);
                return -1;
            }
            if ((f >= 0 ? read_member_value(r, f, err) : skip_value(r, 0)) != 0)
                return -1;
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == '}') {
                r->p++;
                break;
            }
            return syntax(r, "expected ',' or '}'");
        }
    }
    skip_ws(r);
    if (r->p != r->end)
        return syntax(r, "trailing characters after the object");
    return 0;
}

/* A member as a field of command_input_text. A too-long value is its first
 * VALUE_BUF - 1 bytes and the terminating NUL: the NUL inside the checked
 * bytes makes every check refuse it, where a cut value might pass. */
static command_input_field as_field(const member *m) {
    command_input_field f = {NULL, 0, false};
    if (m->present) {
        f.text = m->text;
        f.len = m->too_long ? m->len + 1 : m->len;
        f.too_long = m->too_long;
    }
    return f;
}

int command_input_parse_line(const char *line, size_t len, ledger_command *command,
                             command_input_error *err) {
    reader r;
    r.p = line;
    r.start = line;
    r.end = line + len;
    r.fault[0] = '\0';
    for (int i = 0; i < F_COUNT; i++) {
        r.members[i].seen = false;
        r.members[i].present = false;
        r.members[i].too_long = false;
        r.members[i].is_string = false;
        r.members[i].len = 0;
        r.members[i].text[0] = '\0';
    }
    command_input_error_init(err);
    ledger_command_init(command);
    if (read_object(&r, err) != 0)
        return fail(err, LEDGER_MALFORMED_COMMAND, "%s", r.fault);

    const member *type = &r.members[F_TYPE];
    if (!type->present)
        return fail(err, LEDGER_MALFORMED_COMMAND, "missing field 'type'");
    ledger_command_type t =
        type->too_long ? LEDGER_COMMAND_NONE : ledger_command_type_from_name(type->text);
    if (t == LEDGER_COMMAND_NONE || strlen(type->text) != type->len)
        return fail(err, LEDGER_MALFORMED_COMMAND,
                    "unknown type '%.*s%s': expected open, deposit, withdraw, transfer or close",
                    (int)(type->len > SHOWN_MAX ? SHOWN_MAX : type->len), type->text,
                    type->len > SHOWN_MAX ? "..." : "");

    command_input_text in = {
        .id = as_field(&r.members[F_ID]),
        .account = as_field(&r.members[F_ACCOUNT]),
        .to = as_field(&r.members[F_TO]),
        .amount = as_field(&r.members[t == LEDGER_COMMAND_OPEN ? F_OVERDRAFT : F_AMOUNT]),
        .at = as_field(&r.members[F_AT]),
    };
    /* A JSON string, once unescaped, may hold a NUL; as_field's length
     * keeps it, so the checks see it and refuse it. */
    return command_input_build(t, &in, command, err);
}
