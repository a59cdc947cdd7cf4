/*
 * test_codec_canonical.c - Parsing Canonical Form and CRC-64-AVRO against
 * the Avro project's published vectors (tests/fixtures/avro-schema-tests.txt,
 * copied from apache/avro share/test/data/schema-tests.txt), and the frozen
 * fingerprints of the released schemas.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "codec.h"

#define MAX_CASES 64
#define TEXT_MAX  2048

typedef struct vector {
    char input[TEXT_MAX];
    char canonical[TEXT_MAX];
    bool has_fingerprint;
    int64_t fingerprint; /* as the file writes it: a Java long */
} vector;

static void append_text(char *dst, const char *line) {
    size_t n = strlen(dst);
    cr_assert_lt(n + strlen(line) + 2, (size_t)TEXT_MAX);
    strcat(dst, line);
    strcat(dst, "\n");
}

/* The file's format: "<<INPUT schema" (or "<<INPUT" then lines then
 * "INPUT"), "<<canonical form", "<<fingerprint n"; "//" and "#" lines are
 * comments. */
static size_t read_vectors(vector *out) {
    FILE *f = fopen(LEDGER_FIXTURES_DIR "/avro-schema-tests.txt", "r");
    cr_assert_not_null(f, "cannot open the Avro vectors");
    char line[TEXT_MAX];
    size_t count = 0;
    bool multi = false;
    vector *cur = NULL;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (multi) {
            if (strcmp(line, "INPUT") == 0)
                multi = false;
            else
                append_text(cur->input, line);
            continue;
        }
        if (strncmp(line, "<<INPUT", 7) == 0) {
            cr_assert_lt(count, (size_t)MAX_CASES);
            cur = &out[count++];
            memset(cur, 0, sizeof *cur);
            if (line[7] == '\0')
                multi = true;
            else
                snprintf(cur->input, sizeof cur->input, "%s", line + 8);
        } else if (strncmp(line, "<<canonical ", 12) == 0) {
            cr_assert_not_null(cur);
            snprintf(cur->canonical, sizeof cur->canonical, "%s", line + 12);
        } else if (strncmp(line, "<<fingerprint ", 14) == 0) {
            cr_assert_not_null(cur);
            cur->has_fingerprint = true;
            cur->fingerprint = strtoll(line + 14, NULL, 10);
        }
    }
    fclose(f);
    return count;
}

Test(canonical, avro_project_vectors) {
    static vector vectors[MAX_CASES];
    size_t count = read_vectors(vectors);
    size_t with_fingerprint = 0;
    /* The file has cases 000..033, 26 of them with a fingerprint: a parser
     * that silently skipped some would pass on fewer. */
    cr_assert_eq(count, 34u);
    for (size_t i = 0; i < count; i++) {
        const vector *v = &vectors[i];
        char *form = NULL;
        size_t form_len = 0;
        char err[256] = "";
        cr_assert_str_neq(v->canonical, "", "case %03zu has no canonical form", i);
        int rc =
            ledger_canonical_form(v->input, strlen(v->input), &form, &form_len, err, sizeof err);
        cr_assert_eq(rc, 0, "case %03zu: %s", i, err);
        cr_expect_str_eq(form, v->canonical, "case %03zu", i);
        cr_expect_eq(form_len, strlen(v->canonical), "case %03zu", i);
        if (v->has_fingerprint) {
            with_fingerprint++;
            uint64_t fp = 0;
            cr_expect_eq(ledger_canonical_crc64(v->canonical, strlen(v->canonical)),
                         (uint64_t)v->fingerprint, "case %03zu", i);
            cr_assert_eq(
                ledger_canonical_fingerprint(v->input, strlen(v->input), &fp, err, sizeof err), 0);
            cr_expect_eq(fp, (uint64_t)v->fingerprint, "case %03zu: %016" PRIx64, i, fp);
        }
        free(form);
    }
    cr_assert_eq(with_fingerprint, 26u);
}

Test(canonical, crc64_of_nothing_is_the_empty_constant) {
    /* The specification's EMPTY: the fingerprint of zero bytes. */
    cr_assert_eq(ledger_canonical_crc64("", 0), UINT64_C(0xc15d213aa4d7a795));
}

static void expect_error(const char *schema, const char *want) {
    char *form = NULL;
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_canonical_form(schema, strlen(schema), &form, &len, err, sizeof err), -1,
                 "'%s' was accepted as '%s'", schema, form ? form : "");
    cr_expect(strstr(err, want) != NULL, "error for '%s' is '%s', not '%s'", schema, err, want);
}

Test(canonical, invalid_schemas_are_refused_with_a_reason) {
    expect_error("{\"type\":", "invalid schema json");
    expect_error("\"Foo\"", "unknown type 'Foo'");
    expect_error(
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"B\"}]}",
        "unknown type 'B'");
    expect_error("{\"type\":\"record\",\"name\":\"1r\",\"fields\":[]}", "invalid name '1r'");
    expect_error("{\"type\":\"enum\",\"name\":\"e\"}", "without a 'symbols' array");
    expect_error("{\"type\":\"fixed\",\"name\":\"f\",\"size\":-1}", "valid 'size'");
    expect_error("{\"type\":\"array\"}", "without 'items'");
    expect_error("42", "neither a string");
}

Test(canonical, namespaces_resolve_references_and_nested_names) {
    /* FULLNAMES: a nested type inherits the enclosing namespace, a
     * reference by short name resolves in it, a dotted name brings its own. */
    const char *schema =
        "{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"a.b\",\"fields\":["
        "{\"name\":\"x\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"S\"]}},"
        "{\"name\":\"y\",\"type\":\"E\"},"
        "{\"name\":\"z\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":\"016\"}},"
        "{\"name\":\"w\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}]}";
    const char *want =
        "{\"name\":\"a.b.Outer\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"x\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"S\"]}},"
        "{\"name\":\"y\",\"type\":\"a.b.E\"},"
        "{\"name\":\"z\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\",\"size\":16}},"
        "{\"name\":\"w\",\"type\":\"long\"}]}";
    char *form = NULL;
    size_t len;
    char err[256] = "";
    cr_assert_eq(ledger_canonical_form(schema, strlen(schema), &form, &len, err, sizeof err), 0,
                 "%s", err);
    cr_expect_str_eq(form, want);
    free(form);
}

/* The fingerprints of released schemas are part of the wire format: frames
 * written by earlier releases carry them. These values were first computed
 * by fastavro (tests/codec/crosscheck.py checks every schema against it);
 * they must never change. */
Test(canonical, released_schema_fingerprints_are_frozen) {
    static const struct {
        const char *id;
        uint64_t fingerprint;
    } released[] = {
        {"ledger.Command.v1", UINT64_C(0x9cd189997956263e)},
        {"ledger.CommandResult.v1", UINT64_C(0xd241b9d8c7ac7c27)},
        {"ledger.Event.v1", UINT64_C(0x6042d2ea8517d7bb)},
        {"ledger.Event.v2", UINT64_C(0xe8f68397753629e9)},
        {"ledger.Snapshot.v1", UINT64_C(0xd3f41a977fe8216b)},
    };
    char err[512] = "";
    ledger_codec *codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
    for (size_t i = 0; i < sizeof released / sizeof released[0]; i++) {
        const ledger_codec_schema *s = ledger_codec_schema_by_id(codec, released[i].id);
        cr_assert_not_null(s, "schema '%s' is gone", released[i].id);
        cr_expect_eq(s->fingerprint, released[i].fingerprint, "'%s' is now %016" PRIx64,
                     released[i].id, s->fingerprint);
        cr_expect_eq(ledger_canonical_crc64(s->canonical_form, strlen(s->canonical_form)),
                     s->fingerprint);
    }
    ledger_codec_destroy(codec);
}

Test(canonical, codec_lists_its_schemas_with_one_current_per_kind) {
    char err[512] = "";
    ledger_codec *codec = ledger_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
    int current[4] = {0};
    for (size_t i = 0; i < ledger_codec_schema_count(codec); i++) {
        const ledger_codec_schema *s = ledger_codec_schema_at(codec, i);
        cr_assert_not_null(s->json);
        cr_assert(strstr(s->id, s->name) == s->id, "id '%s' does not start with '%s'", s->id,
                  s->name);
        if (s->current)
            current[s->kind]++;
    }
    for (int k = 0; k < 4; k++)
        cr_expect_eq(current[k], 1, "kind %s", ledger_codec_kind_name((ledger_codec_kind)k));
    cr_expect(ledger_codec_schema_by_id(codec, "ledger.Event.v2")->current);
    cr_expect(!ledger_codec_schema_by_id(codec, "ledger.Event.v1")->current);
    cr_expect_null(ledger_codec_schema_by_id(codec, "ledger.Event.v9"));
    ledger_codec_destroy(codec);
}
