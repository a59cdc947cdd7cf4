/*
 * json_out.c - hand-written JSON rendering into a fixed buffer.
 *
 * Why by hand: jansson builds a tree of allocated nodes for every object,
 * which `ledger submit` would do for each of its tens of thousands of lines
 * a second; the shapes printed here are few and flat. Every write goes
 * through out_bytes, which stops at the end of the buffer and remembers that
 * it did, so a caller checks json_out_ok once instead of after every call.
 */
#include "json_out.h"

#include <stdio.h>
#include <string.h>

#include "ltime.h"
#include "money.h"

static void out_bytes(json_out *j, const char *s, size_t n) {
    if (j->overflow)
        return;
    if (n > j->size - 1 - j->len) {
        j->overflow = true;
        n = j->size - 1 - j->len;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void out_char(json_out *j, char c) {
    out_bytes(j, &c, 1);
}

void json_out_init(json_out *j, char *buf, size_t size) {
    memset(j, 0, sizeof(*j));
    j->buf = buf;
    j->size = size;
    j->first[0] = true;
    buf[0] = '\0';
}

const char *json_out_text(const json_out *j) {
    return j->buf;
}

size_t json_out_len(const json_out *j) {
    return j->len;
}

bool json_out_ok(const json_out *j) {
    return !j->overflow;
}

/* The comma before a value or a key, unless it is the first at its depth or
 * the value of a key just written. */
static void out_separator(json_out *j) {
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        out_char(j, ',');
    j->first[j->depth] = false;
}

static void out_open(json_out *j, char c) {
    out_separator(j);
    out_char(j, c);
    if (j->depth + 1 >= JSON_OUT_DEPTH_MAX) {
        j->overflow = true;
        return;
    }
    j->depth++;
    j->first[j->depth] = true;
}

static void out_close(json_out *j, char c) {
    out_char(j, c);
    if (j->depth > 0)
        j->depth--;
}

void json_out_object_begin(json_out *j) {
    out_open(j, '{');
}

void json_out_object_end(json_out *j) {
    out_close(j, '}');
}

void json_out_array_begin(json_out *j) {
    out_open(j, '[');
}

void json_out_array_end(json_out *j) {
    out_close(j, ']');
}

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0 when
 * it is not one (overlong forms, surrogates and values past U+10FFFF count
 * as invalid, as RFC 3629 says). */
static size_t utf8_sequence(const unsigned char *s, size_t left) {
    unsigned char c = s[0];
    size_t n;
    unsigned int min;
    unsigned int cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void out_escaped(json_out *j, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    out_char(j, '"');
    size_t run = 0; /* start of the bytes that need no escaping */
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t seq = c >= 0x80 ? utf8_sequence(p + i, len - i) : 0;
        if (seq > 0) {
            i += seq;
            continue;
        }
        out_bytes(j, s + run, i - run);
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0f]};
        switch (c) {
            case '"':
                out_bytes(j, "\\\"", 2);
                break;
            case '\\':
                out_bytes(j, "\\\\", 2);
                break;
            case '\n':
                out_bytes(j, "\\n", 2);
                break;
            case '\r':
                out_bytes(j, "\\r", 2);
                break;
            case '\t':
                out_bytes(j, "\\t", 2);
                break;
            default:
                if (c >= 0x80)
                    out_bytes(j, "\\ufffd", 6); /* not UTF-8: replaced, as decoders do */
                else
                    out_bytes(j, esc, sizeof(esc));
                break;
        }
        i++;
        run = i;
    }
    out_bytes(j, s + run, len - run);
    out_char(j, '"');
}

void json_out_key(json_out *j, const char *key) {
    out_separator(j);
    out_escaped(j, key, strlen(key));
    out_char(j, ':');
    j->after_key = true;
}

void json_out_string(json_out *j, const char *s) {
    if (s == NULL) {
        json_out_null(j);
        return;
    }
    json_out_string_len(j, s, strlen(s));
}

void json_out_string_len(json_out *j, const char *s, size_t len) {
    if (s == NULL) {
        json_out_null(j);
        return;
    }
    out_separator(j);
    out_escaped(j, s, len);
}

void json_out_int(json_out *j, int64_t value) {
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)value);
    out_separator(j);
    out_bytes(j, tmp, (size_t)n);
}

void json_out_bool(json_out *j, bool value) {
    out_separator(j);
    if (value)
        out_bytes(j, "true", 4);
    else
        out_bytes(j, "false", 5);
}

void json_out_null(json_out *j) {
    out_separator(j);
    out_bytes(j, "null", 4);
}

void json_out_money(json_out *j, int64_t cents) {
    char tmp[MONEY_TEXT_BUF];
    size_t n = money_format(cents, tmp, sizeof(tmp));
    out_separator(j);
    out_char(j, '"');
    out_bytes(j, tmp, n);
    out_char(j, '"');
}

void json_out_time(json_out *j, int64_t ms) {
    char tmp[LTIME_TEXT_BUF];
    size_t n = ltime_format(ms, tmp, sizeof(tmp));
    out_separator(j);
    out_char(j, '"');
    out_bytes(j, tmp, n);
    out_char(j, '"');
}

/* A fixed id buffer of a domain struct: its text up to the first NUL. */
static void out_id(json_out *j, const char *key, const char *buf, size_t size) {
    json_out_key(j, key);
    json_out_string_len(j, buf, ledger_id_len(buf, size));
}

static void out_reason(json_out *j, ledger_reason reason) {
    const char *name = ledger_reason_name(reason);
    json_out_key(j, "reason");
    json_out_string(j, name != NULL ? name : "unknown");
}

void json_out_event(json_out *j, const ledger_event *e) {
    const char *type = ledger_event_type_name(e->type);
    json_out_object_begin(j);
    out_id(j, "event_id", e->event_id, sizeof(e->event_id));
    json_out_key(j, "type");
    json_out_string(j, type != NULL ? type : "unknown");
    out_id(j, "account", e->account, sizeof(e->account));
    json_out_key(j, "seq");
    json_out_int(j, e->seq);
    json_out_key(j, "at");
    json_out_time(j, e->at_ms);
    out_id(j, "command_id", e->command_id, sizeof(e->command_id));
    switch (e->type) {
        case LEDGER_EVENT_ACCOUNT_OPENED:
            json_out_key(j, "overdraft");
            json_out_money(j, e->amount);
            break;
        case LEDGER_EVENT_MONEY_DEPOSITED:
            json_out_key(j, "amount");
            json_out_money(j, e->amount);
            if (e->memo[0] != '\0')
                out_id(j, "memo", e->memo, sizeof(e->memo));
            break;
        case LEDGER_EVENT_MONEY_WITHDRAWN:
            json_out_key(j, "amount");
            json_out_money(j, e->amount);
            break;
        case LEDGER_EVENT_TRANSFER_SENT:
        case LEDGER_EVENT_TRANSFER_RETURNED:
            json_out_key(j, "amount");
            json_out_money(j, e->amount);
            out_id(j, "to", e->counterparty, sizeof(e->counterparty));
            out_id(j, "transfer_id", e->transfer_id, sizeof(e->transfer_id));
            if (e->type == LEDGER_EVENT_TRANSFER_RETURNED)
                out_reason(j, e->reason);
            break;
        case LEDGER_EVENT_TRANSFER_RECEIVED:
            json_out_key(j, "amount");
            json_out_money(j, e->amount);
            out_id(j, "from", e->counterparty, sizeof(e->counterparty));
            out_id(j, "transfer_id", e->transfer_id, sizeof(e->transfer_id));
            break;
        default:
            break;
    }
    json_out_object_end(j);
}

void json_out_result(json_out *j, const ledger_result *r) {
    json_out_object_begin(j);
    out_id(j, "command_id", r->command_id, sizeof(r->command_id));
    json_out_key(j, "status");
    if (r->reason == LEDGER_OK) {
        json_out_string(j, "accepted");
        json_out_key(j, "events");
        json_out_array_begin(j);
        if (r->has_event)
            json_out_event(j, &r->event);
        json_out_array_end(j);
        if (r->has_position) {
            char pos[48];
            int n = snprintf(pos, sizeof(pos), "%d:%lld", (int)r->partition, (long long)r->offset);
            json_out_key(j, "position");
            json_out_string_len(j, pos, (size_t)n);
        }
        if (r->has_event && r->event.type == LEDGER_EVENT_TRANSFER_SENT)
            out_id(j, "transfer_id", r->event.transfer_id, sizeof(r->event.transfer_id));
    } else {
        json_out_string(j, "rejected");
        out_reason(j, r->reason);
    }
    if (r->duplicate) {
        json_out_key(j, "duplicate");
        json_out_bool(j, true);
    }
    json_out_object_end(j);
}

void json_out_rejection(json_out *j, const char *command_id, size_t command_id_len,
                        ledger_reason reason, const char *error) {
    json_out_object_begin(j);
    json_out_key(j, "command_id");
    json_out_string_len(j, command_id, command_id_len);
    json_out_key(j, "status");
    json_out_string(j, "rejected");
    out_reason(j, reason);
    json_out_key(j, "error");
    json_out_string(j, error);
    json_out_object_end(j);
}

void json_out_account_fields(json_out *j, const char *account, const account_state *state) {
    json_out_key(j, "account");
    json_out_string(j, account);
    json_out_key(j, "balance");
    json_out_money(j, state->balance);
    json_out_key(j, "version");
    json_out_int(j, state->seq);
    json_out_key(j, "status");
    json_out_string(j, state->status == ACCOUNT_OPEN     ? "open"
                       : state->status == ACCOUNT_CLOSED ? "closed"
                                                         : "none");
}

void json_out_not_found(json_out *j, const char *account) {
    json_out_object_begin(j);
    json_out_key(j, "account");
    json_out_string(j, account);
    json_out_key(j, "error");
    json_out_string(j, "not_found");
    json_out_object_end(j);
}
