/*
 * codec_vectors - a bridge between the C codec and tests/codec/crosscheck.py,
 * which checks the codec against fastavro, an independent implementation.
 *
 *   codec_vectors schemas   one JSON line per known schema: id, fingerprint
 *                           (hex), canonical form, current
 *   codec_vectors encode    reads lines {"schema": ID, "value": V}, writes the
 *                           framed record encoded with schema ID as hex
 *   codec_vectors decode    reads hex lines of framed records, writes
 *                           {"schema": writer ID, "value": V} with V in the
 *                           shape of the CURRENT schema of its kind
 *
 * V is the Avro record as JSON: a union of records (the event payload) as
 * ["ledger.Name", {fields}], a nullable value as null or the value itself.
 * The mapping between V and the structs is deliberately dumb, field by field,
 * so that what is compared is the codec's bytes, not this file's logic.
 * Errors go to stdout as {"error": "..."} so that the script can show them.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define LINE_MAX_BYTES (1 << 20)

/* --- JSON -> struct -------------------------------------------------------- */

static void get_str(const json_t *obj, const char *key, char *dst, size_t size) {
    const char *s = json_string_value(json_object_get(obj, key));
    dst[0] = '\0';
    if (s != NULL)
        snprintf(dst, size, "%s", s);
}

static int64_t get_int(const json_t *obj, const char *key) {
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

static int reason_of(const json_t *value, ledger_reason *reason) {
    *reason = LEDGER_OK;
    if (json_is_null(value) || value == NULL)
        return 0;
    return ledger_reason_from_name(json_string_value(value), reason);
}

static int event_from_json(const json_t *v, ledger_event *e) {
    ledger_event_init(e);
    get_str(v, "event_id", e->event_id, sizeof e->event_id);
    get_str(v, "account", e->account, sizeof e->account);
    e->seq = get_int(v, "seq");
    e->at_ms = get_int(v, "at");
    get_str(v, "command_id", e->command_id, sizeof e->command_id);
    const json_t *payload = json_object_get(v, "payload");
    const char *name = json_string_value(json_array_get(payload, 0));
    const json_t *p = json_array_get(payload, 1);
    if (name == NULL || strncmp(name, "ledger.", 7) != 0)
        return -1;
    e->type = ledger_event_type_from_name(name + 7);
    e->amount = get_int(p, json_object_get(p, "overdraft") ? "overdraft" : "amount");
    get_str(p, "transfer_id", e->transfer_id, sizeof e->transfer_id);
    get_str(p, json_object_get(p, "from") ? "from" : "to", e->counterparty, sizeof e->counterparty);
    get_str(p, "memo", e->memo, sizeof e->memo);
    if (reason_of(json_object_get(p, "reason"), &e->reason) != 0)
        return -1;
    return e->type == LEDGER_EVENT_NONE ? -1 : 0;
}

static int command_from_json(const json_t *v, ledger_command *c) {
    ledger_command_init(c);
    get_str(v, "id", c->id, sizeof c->id);
    c->type = ledger_command_type_from_name(json_string_value(json_object_get(v, "type")));
    get_str(v, "account", c->account, sizeof c->account);
    get_str(v, "to", c->to, sizeof c->to);
    c->amount = get_int(v, "amount");
    const json_t *at = json_object_get(v, "at");
    c->has_at = json_is_integer(at);
    c->at_ms = c->has_at ? (int64_t)json_integer_value(at) : 0;
    return 0;
}

static int result_from_json(const json_t *v, ledger_result *r) {
    memset(r, 0, sizeof *r);
    get_str(v, "command_id", r->command_id, sizeof r->command_id);
    if (reason_of(json_object_get(v, "reason"), &r->reason) != 0)
        return -1;
    r->duplicate = json_is_true(json_object_get(v, "duplicate"));
    const json_t *event = json_object_get(v, "event");
    r->has_event = json_is_object(event);
    if (r->has_event && event_from_json(event, &r->event) != 0)
        return -1;
    const json_t *position = json_object_get(v, "position");
    r->has_position = json_is_object(position);
    if (r->has_position) {
        r->partition = (int32_t)get_int(position, "partition");
        r->offset = get_int(position, "offset");
    }
    return 0;
}

static int snapshot_from_json(const json_t *v, ledger_snapshot *s) {
    memset(s, 0, sizeof *s);
    s->partition = (int32_t)get_int(v, "partition");
    s->events_offset = get_int(v, "events_offset");
    const json_t *accounts = json_object_get(v, "accounts");
    const json_t *commands = json_object_get(v, "commands");
    s->account_count = json_array_size(accounts);
    s->command_count = json_array_size(commands);
    s->accounts = calloc(s->account_count + 1, sizeof *s->accounts);
    s->commands = calloc(s->command_count + 1, sizeof *s->commands);
    if (s->accounts == NULL || s->commands == NULL)
        return -1;
    for (size_t i = 0; i < s->account_count; i++) {
        const json_t *a = json_array_get(accounts, i);
        const char *status = json_string_value(json_object_get(a, "status"));
        get_str(a, "account", s->accounts[i].account, sizeof s->accounts[i].account);
        s->accounts[i].state.status = status == NULL                ? (account_status)-1
                                      : strcmp(status, "none") == 0 ? ACCOUNT_NONE
                                      : strcmp(status, "open") == 0 ? ACCOUNT_OPEN
                                                                    : ACCOUNT_CLOSED;
        s->accounts[i].state.balance = get_int(a, "balance");
        s->accounts[i].state.overdraft = get_int(a, "overdraft");
        s->accounts[i].state.seq = get_int(a, "seq");
    }
    for (size_t i = 0; i < s->command_count; i++) {
        const json_t *c = json_array_get(commands, i);
        s->commands[i].handled_at_ms = get_int(c, "handled_at");
        if (result_from_json(json_object_get(c, "result"), &s->commands[i].result) != 0)
            return -1;
    }
    return 0;
}

/* --- struct -> JSON (current schemas' shape) ------------------------------ */

static json_t *str_or_null(const char *s) {
    return s[0] ? json_string(s) : json_null();
}

static json_t *event_to_json(const ledger_event *e) {
    json_t *p = json_object();
    switch (e->type) {
        case LEDGER_EVENT_ACCOUNT_OPENED:
            json_object_set_new(p, "overdraft", json_integer(e->amount));
            break;
        case LEDGER_EVENT_MONEY_DEPOSITED:
            json_object_set_new(p, "amount", json_integer(e->amount));
            json_object_set_new(p, "memo", str_or_null(e->memo));
            break;
        case LEDGER_EVENT_MONEY_WITHDRAWN:
            json_object_set_new(p, "amount", json_integer(e->amount));
            break;
        case LEDGER_EVENT_TRANSFER_SENT:
        case LEDGER_EVENT_TRANSFER_RECEIVED:
        case LEDGER_EVENT_TRANSFER_RETURNED:
            json_object_set_new(p, "transfer_id", json_string(e->transfer_id));
            json_object_set_new(p, e->type == LEDGER_EVENT_TRANSFER_RECEIVED ? "from" : "to",
                                json_string(e->counterparty));
            json_object_set_new(p, "amount", json_integer(e->amount));
            if (e->type == LEDGER_EVENT_TRANSFER_RETURNED)
                json_object_set_new(p, "reason", json_string(ledger_reason_name(e->reason)));
            break;
        default:
            break;
    }
    char name[64];
    snprintf(name, sizeof name, "ledger.%s",
             ledger_event_type_name(e->type) ? ledger_event_type_name(e->type) : "?");
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:[s,o]}", "event_id", e->event_id, "account",
                     e->account, "seq", (json_int_t)e->seq, "at", (json_int_t)e->at_ms,
                     "command_id", e->command_id, "payload", name, p);
}

static json_t *command_to_json(const ledger_command *c) {
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}", "id", c->id, "type",
                     ledger_command_type_name(c->type) ? ledger_command_type_name(c->type) : "?",
                     "account", c->account, "to", str_or_null(c->to), "amount",
                     (json_int_t)c->amount, "at", c->has_at ? json_integer(c->at_ms) : json_null());
}

static json_t *result_to_json(const ledger_result *r) {
    return json_pack("{s:s, s:s, s:o, s:b, s:o, s:o}", "command_id", r->command_id, "status",
                     r->reason == LEDGER_OK ? "accepted" : "rejected", "reason",
                     r->reason == LEDGER_OK ? json_null()
                                            : json_string(ledger_reason_name(r->reason)),
                     "duplicate", r->duplicate, "event",
                     r->has_event ? event_to_json(&r->event) : json_null(), "position",
                     r->has_position ? json_pack("{s:i, s:I}", "partition", (int)r->partition,
                                                 "offset", (json_int_t)r->offset)
                                     : json_null());
}

static json_t *snapshot_to_json(const ledger_snapshot *s) {
    static const char *const status[] = {"none", "open", "closed"};
    json_t *accounts = json_array(), *commands = json_array();
    for (size_t i = 0; i < s->account_count; i++) {
        const snapshot_account *a = &s->accounts[i];
        json_array_append_new(accounts, json_pack("{s:s, s:s, s:I, s:I, s:I}", "account",
                                                  a->account, "status", status[a->state.status],
                                                  "balance", (json_int_t)a->state.balance,
                                                  "overdraft", (json_int_t)a->state.overdraft,
                                                  "seq", (json_int_t)a->state.seq));
    }
    for (size_t i = 0; i < s->command_count; i++)
        json_array_append_new(commands,
                              json_pack("{s:I, s:o}", "handled_at",
                                        (json_int_t)s->commands[i].handled_at_ms, "result",
                                        result_to_json(&s->commands[i].result)));
    return json_pack("{s:i, s:I, s:o, s:o}", "partition", (int)s->partition, "events_offset",
                     (json_int_t)s->events_offset, "accounts", accounts, "commands", commands);
}

/* --- modes ----------------------------------------------------------------- */

static void print_json(json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", text ? text : "{\"error\":\"cannot print\"}");
    free(text);
    json_decref(j);
}

static void print_error(const char *msg) {
    print_json(json_pack("{s:s}", "error", msg));
}

static int mode_schemas(const ledger_codec *codec) {
    for (size_t i = 0; i < ledger_codec_schema_count(codec); i++) {
        const ledger_codec_schema *s = ledger_codec_schema_at(codec, i);
        char fp[32];
        snprintf(fp, sizeof fp, "%016" PRIx64, s->fingerprint);
        print_json(json_pack("{s:s, s:s, s:s, s:b}", "id", s->id, "fingerprint", fp, "canonical",
                             s->canonical_form, "current", s->current));
    }
    return 0;
}

static void encode_line(const ledger_codec *codec, const char *line) {
    json_error_t jerr;
    json_t *in = json_loads(line, 0, &jerr);
    const char *id = json_string_value(json_object_get(in, "schema"));
    const json_t *v = json_object_get(in, "value");
    const ledger_codec_schema *schema = id ? ledger_codec_schema_by_id(codec, id) : NULL;
    static uint8_t buf[1 << 20];
    size_t len = 0;
    char err[256] = "bad input line";
    int rc = -1;
    if (schema != NULL) {
        switch (schema->kind) {
            case LEDGER_CODEC_EVENT: {
                ledger_event e;
                if (event_from_json(v, &e) == 0)
                    rc = ledger_codec_encode_event_with(codec, id, &e, buf, sizeof buf, &len, err,
                                                        sizeof err);
                break;
            }
            case LEDGER_CODEC_COMMAND: {
                ledger_command c;
                if (command_from_json(v, &c) == 0)
                    rc = ledger_codec_encode_command(codec, &c, buf, sizeof buf, &len, err,
                                                     sizeof err);
                break;
            }
            case LEDGER_CODEC_RESULT: {
                ledger_result r;
                if (result_from_json(v, &r) == 0)
                    rc = ledger_codec_encode_result(codec, &r, buf, sizeof buf, &len, err,
                                                    sizeof err);
                break;
            }
            case LEDGER_CODEC_SNAPSHOT: {
                ledger_snapshot s;
                if (snapshot_from_json(v, &s) == 0)
                    rc = ledger_codec_encode_snapshot(codec, &s, buf, sizeof buf, &len, err,
                                                      sizeof err);
                ledger_snapshot_release(&s);
                break;
            }
        }
        if (rc == 0 && !schema->current && schema->kind != LEDGER_CODEC_EVENT) {
            rc = -1;
            snprintf(err, sizeof err, "only events can be written with an old schema");
        }
    }
    json_decref(in);
    if (rc != 0) {
        print_error(err);
        return;
    }
    for (size_t i = 0; i < len; i++)
        printf("%02x", buf[i]);
    printf("\n");
}

static void decode_line(const ledger_codec *codec, const char *hex) {
    static uint8_t buf[1 << 20];
    size_t n = strlen(hex), len = 0;
    for (size_t i = 0; i + 1 < n && len < sizeof buf; i += 2) {
        unsigned byte;
        if (sscanf(hex + i, "%2x", &byte) != 1) {
            print_error("bad hex");
            return;
        }
        buf[len++] = (uint8_t)byte;
    }
    char err[256];
    const ledger_codec_schema *schema = ledger_codec_schema_of(codec, buf, len, err, sizeof err);
    if (schema == NULL) {
        print_error(err);
        return;
    }
    json_t *value = NULL;
    switch (schema->kind) {
        case LEDGER_CODEC_EVENT: {
            ledger_event e;
            if (ledger_codec_decode_event(codec, buf, len, &e, err, sizeof err) == 0)
                value = event_to_json(&e);
            break;
        }
        case LEDGER_CODEC_COMMAND: {
            ledger_command c;
            if (ledger_codec_decode_command(codec, buf, len, &c, err, sizeof err) == 0)
                value = command_to_json(&c);
            break;
        }
        case LEDGER_CODEC_RESULT: {
            ledger_result r;
            if (ledger_codec_decode_result(codec, buf, len, &r, err, sizeof err) == 0)
                value = result_to_json(&r);
            break;
        }
        case LEDGER_CODEC_SNAPSHOT: {
            ledger_snapshot s;
            if (ledger_codec_decode_snapshot(codec, buf, len, &s, err, sizeof err) == 0) {
                value = snapshot_to_json(&s);
                ledger_snapshot_release(&s);
            }
            break;
        }
    }
    if (value == NULL) {
        print_error(err);
        return;
    }
    print_json(json_pack("{s:s, s:o}", "schema", schema->id, "value", value));
}

static int mode_lines(const ledger_codec *codec, void (*each)(const ledger_codec *, const char *)) {
    char *line = malloc(LINE_MAX_BYTES);
    if (line == NULL)
        return 1;
    while (fgets(line, LINE_MAX_BYTES, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            each(codec, line);
    }
    free(line);
    return 0;
}

int main(int argc, char **argv) {
    char err[512];
    if (argc != 2) {
        fprintf(stderr, "usage: codec_vectors schemas|encode|decode\n");
        return 2;
    }
    ledger_codec *codec = ledger_codec_new(err, sizeof err);
    if (codec == NULL) {
        fprintf(stderr, "codec_vectors: %s\n", err);
        return 1;
    }
    int rc = 2;
    if (strcmp(argv[1], "schemas") == 0)
        rc = mode_schemas(codec);
    else if (strcmp(argv[1], "encode") == 0)
        rc = mode_lines(codec, encode_line);
    else if (strcmp(argv[1], "decode") == 0)
        rc = mode_lines(codec, decode_line);
    else
        fprintf(stderr, "codec_vectors: unknown mode '%s'\n", argv[1]);
    ledger_codec_destroy(codec);
    return rc;
}
