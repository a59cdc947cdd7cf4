/*
 * test_core_ids.c - account ids, command ids, UUIDs (SPEC section 4) and the
 * fixed-buffer helpers.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ids.h"

static bool account_ok(const char *s) {
    return ledger_account_valid(s, strlen(s));
}

static bool command_id_ok(const char *s) {
    return ledger_command_id_valid(s, strlen(s));
}

static bool uuid_ok(const char *s) {
    return ledger_uuid_valid(s, strlen(s));
}

Test(ids, account_ids_of_1_to_64_allowed_characters) {
    char max[LEDGER_ACCOUNT_MAX + 2];
    memset(max, 'a', sizeof max);
    max[LEDGER_ACCOUNT_MAX] = '\0';

    cr_expect(account_ok("A"));
    cr_expect(account_ok("acct-1"));
    cr_expect(account_ok("Az09._-"));
    cr_expect(account_ok(max), "64 characters must be valid");
    max[LEDGER_ACCOUNT_MAX] = 'a';
    max[LEDGER_ACCOUNT_MAX + 1] = '\0';
    cr_expect(!account_ok(max), "65 characters must be invalid");

    cr_expect(!account_ok(""));
    cr_expect(!account_ok("a b"));
    cr_expect(!account_ok("a/b"));
    cr_expect(!account_ok("a:b"));
    cr_expect(!account_ok("a+b"));
    cr_expect(!account_ok("\xc3\xa9")); /* e-acute in UTF-8 */
    cr_expect(!account_ok("A\n"));
    cr_expect(!ledger_account_valid("a\0b", 3), "a NUL inside the counted bytes");
    cr_expect(!ledger_account_valid(NULL, 0));
}

Test(ids, command_ids_of_1_to_128_printable_ascii) {
    char id[LEDGER_COMMAND_ID_MAX + 2];
    memset(id, 'x', sizeof id);
    id[LEDGER_COMMAND_ID_MAX] = '\0';

    cr_expect(command_id_ok("c1"));
    cr_expect(command_id_ok(" "), "space is printable");
    cr_expect(command_id_ok("~!@#$%^&*()_+{}|:\"<>?"));
    cr_expect(command_id_ok(id), "128 characters must be valid");
    id[LEDGER_COMMAND_ID_MAX] = 'x';
    id[LEDGER_COMMAND_ID_MAX + 1] = '\0';
    cr_expect(!command_id_ok(id), "129 characters must be invalid");

    cr_expect(!command_id_ok(""));
    cr_expect(!command_id_ok("a\tb"));
    cr_expect(!command_id_ok("a\x7f"));
    cr_expect(!command_id_ok("caf\xc3\xa9"));
    cr_expect(!ledger_command_id_valid("a\0b", 3));
}

Test(ids, uuids_in_canonical_lowercase_form) {
    cr_expect(uuid_ok("123e4567-e89b-42d3-a456-426614174000"));
    cr_expect(uuid_ok("00000000-0000-0000-0000-000000000000"));
    cr_expect(!uuid_ok("123E4567-E89B-42D3-A456-426614174000"), "uppercase");
    cr_expect(!uuid_ok("123e4567e89b42d3a456426614174000"), "no hyphens");
    cr_expect(!uuid_ok("123e4567-e89b-42d3-a456-42661417400"), "too short");
    cr_expect(!uuid_ok("123e4567-e89b-42d3-a456-4266141740000"), "too long");
    cr_expect(!uuid_ok("123e4567-e89b-42d3-a456_426614174000"), "wrong separator");
    cr_expect(!uuid_ok("123e4567-e89b-42d3-a456-42661417400g"), "not hex");
    cr_expect(!uuid_ok("{23e4567-e89b-42d3-a456-42661417400}"));
    cr_expect(!uuid_ok(""));
}

Test(ids, uuid_format_sets_version_4_and_the_rfc_4122_variant) {
    unsigned char zero[16] = {0};
    unsigned char ones[16];
    unsigned char seq[16];
    char out[LEDGER_UUID_BUF];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 16; i++)
        seq[i] = (unsigned char)i;

    ledger_uuid_format(zero, out);
    cr_expect_str_eq(out, "00000000-0000-4000-8000-000000000000");
    ledger_uuid_format(ones, out);
    cr_expect_str_eq(out, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    ledger_uuid_format(seq, out);
    cr_expect_str_eq(out, "00010203-0405-4607-8809-0a0b0c0d0e0f");
    cr_expect(ledger_uuid_valid(out, strlen(out)));
}

Test(ids, id_len_stops_at_the_buffer_end) {
    char buf[4] = {'a', 'b', 'c', 'd'};
    cr_expect_eq(ledger_id_len(buf, sizeof buf), 4);
    buf[2] = '\0';
    cr_expect_eq(ledger_id_len(buf, sizeof buf), 2);
    cr_expect_eq(ledger_id_len(buf, 0), 0);
}

Test(ids, id_copy_truncates_terminates_and_zero_fills) {
    char dst[6];
    memset(dst, 'x', sizeof dst);
    cr_expect_eq(ledger_id_copy(dst, sizeof dst, "ab"), 2);
    cr_expect_str_eq(dst, "ab");
    cr_expect_eq(dst[3], 0);
    cr_expect_eq(dst[5], 0);

    cr_expect_eq(ledger_id_copy(dst, sizeof dst, "abcdefgh"), 5);
    cr_expect_str_eq(dst, "abcde");

    memset(dst, 'x', sizeof dst);
    cr_expect_eq(ledger_id_copy(dst, sizeof dst, NULL), 0);
    cr_expect_str_eq(dst, "");
    cr_expect_eq(dst[5], 0);

    /* A source buffer of the same size without a terminator is read no further
     * than size - 1 bytes. */
    char src[6] = {'1', '2', '3', '4', '5', '6'};
    cr_expect_eq(ledger_id_copy(dst, sizeof dst, src), 5);
    cr_expect_str_eq(dst, "12345");
}

Test(ids, the_id_hash_reads_exactly_len_bytes_and_tells_close_ids_apart) {
    cr_assert_eq(ledger_id_hash("acct-1x", 6), ledger_id_hash("acct-1", 6));
    cr_assert_neq(ledger_id_hash("acct-1", 6), ledger_id_hash("acct-2", 6));
    cr_assert_neq(ledger_id_hash("acct-1", 6), ledger_id_hash("acct-1", 5));
    /* The low bits a power-of-two table uses differ for neighbouring ids. */
    cr_assert_neq(ledger_id_hash("acct-1", 6) & 0xff, ledger_id_hash("acct-2", 6) & 0xff);
}
