/*
 * codec.c - the schema registry and the framing.
 *
 * At creation every embedded schema (schema_text.h) is parsed with avro-c,
 * fingerprinted (canonical.h) and compiled into plans (plan.h); after that
 * the codec is read-only. A record's first ten bytes pick its writer
 * schema's plans by fingerprint, and wire.c does the rest.
 *
 * Schema files are named "<fullname>.v<version>.avsc"; the highest version of
 * each kind is the current one, which records are written with and which
 * every older version of the kind is resolved into.
 */
#include "codec.h"

#include <avro.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "plan.h"
#include "schema_text.h"
#include "upgrade.h"
#include "wire.h"

#define CODEC_KIND_COUNT 4

static const struct {
    const char *name;
    ledger_codec_kind kind;
    size_t object_size;
} kinds[CODEC_KIND_COUNT] = {
    {"ledger.Event", LEDGER_CODEC_EVENT, sizeof(ledger_event)},
    {"ledger.Command", LEDGER_CODEC_COMMAND, sizeof(ledger_command)},
    {"ledger.CommandResult", LEDGER_CODEC_RESULT, sizeof(ledger_result)},
    {"ledger.Snapshot", LEDGER_CODEC_SNAPSHOT, sizeof(ledger_snapshot)},
};

typedef struct codec_entry {
    ledger_codec_schema info; /* first: handed out as the public view */
    char *id;
    char *name;
    char *canonical_form;
    avro_schema_t schema;
    codec_plan *decoder; /* into the current struct of its kind */
    codec_plan *encoder; /* from the struct, in this schema's layout */
} codec_entry;

struct ledger_codec {
    codec_entry *entries;
    size_t count;
    const codec_entry *current[CODEC_KIND_COUNT];
};

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...) {
    if (errstr != NULL && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *ledger_codec_kind_name(ledger_codec_kind kind) {
    static const char *const names[CODEC_KIND_COUNT] = {"event", "command", "result", "snapshot"};
    return (int)kind >= 0 && (int)kind < CODEC_KIND_COUNT ? names[kind] : NULL;
}

static codec_plan_schema plan_schema_of(const codec_entry *e) {
    codec_plan_schema s = {e->id, e->schema, e->info.json, strlen(e->info.json),
                           e->info.fingerprint};
    return s;
}

/* "ledger.Event.v2.avsc" -> id "ledger.Event.v2", name "ledger.Event", 2. */
static int parse_file_name(const char *file, codec_entry *e, char *errstr, size_t errstr_size) {
    size_t n = strlen(file);
    const char *suffix = ".avsc";
    if (n <= strlen(suffix) || strcmp(file + n - strlen(suffix), suffix) != 0)
        return set_error(errstr, errstr_size, "schema file '%s' does not end in '.avsc'", file);
    e->id = strndup(file, n - strlen(suffix));
    if (e->id == NULL)
        return set_error(errstr, errstr_size, "out of memory");
    char *v = strrchr(e->id, '.');
    char *end = NULL;
    long version = v != NULL && v[1] == 'v' ? strtol(v + 2, &end, 10) : 0;
    if (v == NULL || end == NULL || *end != '\0' || end == v + 2 || version < 1 ||
        version > 1000000)
        return set_error(errstr, errstr_size,
                         "schema file '%s' is not named '<fullname>.v<version>.avsc'", file);
    e->name = strndup(e->id, (size_t)(v - e->id));
    if (e->name == NULL)
        return set_error(errstr, errstr_size, "out of memory");
    e->info.id = e->id;
    e->info.name = e->name;
    e->info.version = (int)version;
    for (int k = 0; k < CODEC_KIND_COUNT; k++) {
        if (strcmp(kinds[k].name, e->name) == 0) {
            e->info.kind = kinds[k].kind;
            return 0;
        }
    }
    return set_error(errstr, errstr_size, "schema '%s' is of no known kind", e->id);
}

static int load_entry(const codec_schema_text *text, codec_entry *e, char *errstr,
                      size_t errstr_size) {
    char msg[256];
    if (parse_file_name(text->file, e, errstr, errstr_size) != 0)
        return -1;
    e->info.json = text->json;
    size_t form_len;
    if (ledger_canonical_form(text->json, text->json_len, &e->canonical_form, &form_len, msg,
                              sizeof msg) != 0)
        return set_error(errstr, errstr_size, "schema '%s': %s", e->id, msg);
    e->info.canonical_form = e->canonical_form;
    e->info.fingerprint = ledger_canonical_crc64(e->canonical_form, form_len);
    if (avro_schema_from_json_length(text->json, text->json_len, &e->schema) != 0) {
        e->schema = NULL;
        return set_error(errstr, errstr_size, "schema '%s': %s", e->id, avro_strerror());
    }
    char fullname[256];
    const char *ns = is_avro_record(e->schema) ? avro_schema_namespace(e->schema) : NULL;
    snprintf(fullname, sizeof fullname, "%s%s%s", ns ? ns : "", ns ? "." : "",
             is_avro_record(e->schema) ? avro_schema_name(e->schema) : "");
    if (strcmp(fullname, e->name) != 0)
        return set_error(errstr, errstr_size, "schema '%s' defines '%s', not the record '%s'",
                         e->id, fullname, e->name);
    return 0;
}

static int check_upgraders(const ledger_codec *codec, char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < codec_upgrade_count(); i++) {
        const codec_upgrade *u = codec_upgrade_at(i);
        const ledger_codec_schema *s = ledger_codec_schema_by_id(codec, u->writer_id);
        if (s == NULL || s->fingerprint != u->writer_fingerprint)
            return set_error(errstr, errstr_size,
                             "upgrader of '%s.%s' names schema '%s' with fingerprint 0x%016" PRIx64
                             ", which is not a known schema",
                             u->record, u->field, u->writer_id, u->writer_fingerprint);
    }
    return 0;
}

ledger_codec *ledger_codec_new(char *errstr, size_t errstr_size) {
    char msg[512];
    ledger_codec *codec = calloc(1, sizeof *codec);
    if (codec == NULL) {
        set_error(errstr, errstr_size, "out of memory");
        return NULL;
    }
    codec->entries = calloc(codec_schema_text_count, sizeof *codec->entries);
    if (codec->entries == NULL) {
        set_error(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < codec_schema_text_count; i++) {
        codec->count = i + 1;
        if (load_entry(&codec_schema_texts[i], &codec->entries[i], errstr, errstr_size) != 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (codec->entries[j].info.fingerprint == codec->entries[i].info.fingerprint) {
                set_error(errstr, errstr_size, "schemas '%s' and '%s' have the same fingerprint",
                          codec->entries[j].id, codec->entries[i].id);
                goto fail;
            }
        }
        codec_entry *e = &codec->entries[i];
        const codec_entry **cur = &codec->current[e->info.kind];
        if (*cur == NULL || (*cur)->info.version < e->info.version)
            *cur = e;
        else if ((*cur)->info.version == e->info.version) {
            set_error(errstr, errstr_size, "two schemas '%s' of version %d", e->name,
                      e->info.version);
            goto fail;
        }
    }
    codec_plan_schema readers[CODEC_KIND_COUNT];
    for (int k = 0; k < CODEC_KIND_COUNT; k++) {
        if (codec->current[k] == NULL) {
            set_error(errstr, errstr_size, "no schema of kind '%s'", kinds[k].name);
            goto fail;
        }
        codec->entries[codec->current[k] - codec->entries].info.current = true;
        readers[k] = plan_schema_of(codec->current[k]);
    }
    if (codec_plan_check_bindings(readers, CODEC_KIND_COUNT, msg, sizeof msg) != 0) {
        set_error(errstr, errstr_size, "%s", msg);
        goto fail;
    }
    if (check_upgraders(codec, errstr, errstr_size) != 0)
        goto fail;
    for (size_t i = 0; i < codec->count; i++) {
        codec_entry *e = &codec->entries[i];
        codec_plan_schema writer = plan_schema_of(e);
        if (codec_plan_decoder(&writer, &readers[e->info.kind], &e->decoder, msg, sizeof msg) !=
                0 ||
            codec_plan_encoder(&writer, &e->encoder, msg, sizeof msg) != 0) {
            set_error(errstr, errstr_size, "schema '%s': %s", e->id, msg);
            goto fail;
        }
    }
    return codec;
fail:
    ledger_codec_destroy(codec);
    return NULL;
}

void ledger_codec_destroy(ledger_codec *codec) {
    if (codec == NULL)
        return;
    for (size_t i = 0; i < codec->count && codec->entries != NULL; i++) {
        codec_entry *e = &codec->entries[i];
        codec_plan_destroy(e->decoder);
        codec_plan_destroy(e->encoder);
        if (e->schema != NULL)
            avro_schema_decref(e->schema);
        free(e->id);
        free(e->name);
        free(e->canonical_form);
    }
    free(codec->entries);
    free(codec);
}

size_t ledger_codec_schema_count(const ledger_codec *codec) {
    return codec->count;
}

const ledger_codec_schema *ledger_codec_schema_at(const ledger_codec *codec, size_t i) {
    return i < codec->count ? &codec->entries[i].info : NULL;
}

const ledger_codec_schema *ledger_codec_schema_by_id(const ledger_codec *codec, const char *id) {
    for (size_t i = 0; i < codec->count; i++) {
        if (codec->entries[i].id != NULL && strcmp(codec->entries[i].id, id) == 0)
            return &codec->entries[i].info;
    }
    return NULL;
}

static const codec_entry *entry_of_frame(const ledger_codec *codec, const uint8_t *buf, size_t len,
                                         char *errstr, size_t errstr_size) {
    if (len >= 2 && (buf[0] != 0xc3 || buf[1] != 0x01)) {
        set_error(errstr, errstr_size, "bad magic 0x%02x%02x: not an Avro single-object record",
                  buf[0], buf[1]);
        return NULL;
    }
    if (len < LEDGER_CODEC_HEADER_SIZE) {
        set_error(errstr, errstr_size, "truncated header: %zu bytes", len);
        return NULL;
    }
    uint64_t fp = 0;
    for (int i = 7; i >= 0; i--)
        fp = (fp << 8) | buf[2 + i];
    for (size_t i = 0; i < codec->count; i++) {
        if (codec->entries[i].info.fingerprint == fp)
            return &codec->entries[i];
    }
    set_error(errstr, errstr_size, "unknown schema fingerprint 0x%016" PRIx64, fp);
    return NULL;
}

const ledger_codec_schema *ledger_codec_schema_of(const ledger_codec *codec, const uint8_t *buf,
                                                  size_t len, char *errstr, size_t errstr_size) {
    const codec_entry *e = entry_of_frame(codec, buf, len, errstr, errstr_size);
    return e != NULL ? &e->info : NULL;
}

static int encode_with(const codec_entry *e, const void *object, uint8_t *buf, size_t cap,
                       size_t *len, char *errstr, size_t errstr_size) {
    if (cap < LEDGER_CODEC_HEADER_SIZE)
        return set_error(errstr, errstr_size, "buffer too small (%zu bytes) for the header", cap);
    buf[0] = 0xc3;
    buf[1] = 0x01;
    uint64_t fp = e->info.fingerprint;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(fp >> (8 * i));
    return codec_wire_encode(e->encoder, object, buf, cap, LEDGER_CODEC_HEADER_SIZE, len, errstr,
                             errstr_size);
}

static int decode_kind(const ledger_codec *codec, ledger_codec_kind kind, const uint8_t *buf,
                       size_t len, void *out, char *errstr, size_t errstr_size) {
    memset(out, 0, kinds[kind].object_size);
    const codec_entry *e = entry_of_frame(codec, buf, len, errstr, errstr_size);
    if (e == NULL)
        return -1;
    if (e->info.kind != kind)
        return set_error(errstr, errstr_size, "record of schema '%s' is not a %s", e->id,
                         ledger_codec_kind_name(kind));
    if (codec_wire_decode(e->decoder, buf, len, LEDGER_CODEC_HEADER_SIZE, out, errstr,
                          errstr_size) != 0) {
        if (kind == LEDGER_CODEC_SNAPSHOT)
            ledger_snapshot_release(out);
        memset(out, 0, kinds[kind].object_size);
        return -1;
    }
    return 0;
}

int ledger_codec_encode_event(const ledger_codec *codec, const ledger_event *event, uint8_t *buf,
                              size_t cap, size_t *len, char *errstr, size_t errstr_size) {
    return encode_with(codec->current[LEDGER_CODEC_EVENT], event, buf, cap, len, errstr,
                       errstr_size);
}

int ledger_codec_encode_command(const ledger_codec *codec, const ledger_command *command,
                                uint8_t *buf, size_t cap, size_t *len, char *errstr,
                                size_t errstr_size) {
    return encode_with(codec->current[LEDGER_CODEC_COMMAND], command, buf, cap, len, errstr,
                       errstr_size);
}

int ledger_codec_encode_result(const ledger_codec *codec, const ledger_result *result, uint8_t *buf,
                               size_t cap, size_t *len, char *errstr, size_t errstr_size) {
    return encode_with(codec->current[LEDGER_CODEC_RESULT], result, buf, cap, len, errstr,
                       errstr_size);
}

int ledger_codec_encode_snapshot(const ledger_codec *codec, const ledger_snapshot *snapshot,
                                 uint8_t *buf, size_t cap, size_t *len, char *errstr,
                                 size_t errstr_size) {
    return encode_with(codec->current[LEDGER_CODEC_SNAPSHOT], snapshot, buf, cap, len, errstr,
                       errstr_size);
}

int ledger_codec_encode_event_with(const ledger_codec *codec, const char *schema_id,
                                   const ledger_event *event, uint8_t *buf, size_t cap, size_t *len,
                                   char *errstr, size_t errstr_size) {
    const ledger_codec_schema *s = ledger_codec_schema_by_id(codec, schema_id);
    if (s == NULL)
        return set_error(errstr, errstr_size, "unknown schema '%s'", schema_id);
    if (s->kind != LEDGER_CODEC_EVENT)
        return set_error(errstr, errstr_size, "schema '%s' is not an event schema", schema_id);
    return encode_with((const codec_entry *)s, event, buf, cap, len, errstr, errstr_size);
}

size_t ledger_codec_snapshot_size_max(const ledger_snapshot *snapshot) {
    /* header, partition, offset, two arrays of one block each: count and
     * end marker; an account: id (length + 65 bytes), status, three longs */
    return LEDGER_CODEC_HEADER_SIZE + 5 + 10 + 2 * (10 + 1) + snapshot->account_count * 128 +
           snapshot->command_count * (10 + LEDGER_CODEC_RESULT_MAX);
}

int ledger_codec_decode_event(const ledger_codec *codec, const uint8_t *buf, size_t len,
                              ledger_event *out, char *errstr, size_t errstr_size) {
    return decode_kind(codec, LEDGER_CODEC_EVENT, buf, len, out, errstr, errstr_size);
}

int ledger_codec_decode_command(const ledger_codec *codec, const uint8_t *buf, size_t len,
                                ledger_command *out, char *errstr, size_t errstr_size) {
    return decode_kind(codec, LEDGER_CODEC_COMMAND, buf, len, out, errstr, errstr_size);
}

int ledger_codec_decode_result(const ledger_codec *codec, const uint8_t *buf, size_t len,
                               ledger_result *out, char *errstr, size_t errstr_size) {
    return decode_kind(codec, LEDGER_CODEC_RESULT, buf, len, out, errstr, errstr_size);
}

int ledger_codec_decode_snapshot(const ledger_codec *codec, const uint8_t *buf, size_t len,
                                 ledger_snapshot *out, char *errstr, size_t errstr_size) {
    return decode_kind(codec, LEDGER_CODEC_SNAPSHOT, buf, len, out, errstr, errstr_size);
}

void ledger_snapshot_release(ledger_snapshot *snapshot) {
    if (snapshot == NULL)
        return;
    free(snapshot->accounts);
    free(snapshot->commands);
    memset(snapshot, 0, sizeof *snapshot);
}
