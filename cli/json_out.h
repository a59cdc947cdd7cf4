/*
 * json_out.h - the CLI's JSON lines, written by hand into a caller's buffer.
 *
 * Every `ledger` command prints one JSON object per line (SPEC section 7);
 * `ledger submit` prints tens of thousands a second, so rendering neither
 * allocates nor goes through a DOM: a json_out is a cursor over a fixed
 * buffer that tracks where commas go. Strings are escaped so that the output
 * is always valid JSON, whatever bytes a decoded record holds (control
 * characters as \u00XX, invalid UTF-8 as U+FFFD). Amounts are written as
 * money text ("-12.50"), times as RFC 3339.
 *
 * The renderers below (json_out_result, json_out_event, json_out_account_fields,
 * ...) are the single place the CLI's output shapes are spelt out, so the
 * query commands print accounts exactly as history does.
 */
#ifndef LEDGER_JSON_OUT_H
#define LEDGER_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "event.h"
#include "reason.h"
#include "result.h"

/* Deep enough for every shape the CLI prints. */
#define JSON_OUT_DEPTH_MAX 16

/* A cursor over a caller's buffer: a small value, set up with json_out_init.
 * Fields are private to json_out.c. */
typedef struct json_out {
    char *buf;
    size_t size;
    size_t len;    /* bytes written so far (never more than size - 1) */
    bool overflow; /* something did not fit: the text is cut */
    int depth;
    bool first[JSON_OUT_DEPTH_MAX]; /* no member written yet at this depth */
    bool after_key;                 /* a key was written: the value needs no comma */
} json_out;

/* Starts an empty text in buf (size >= 1; borrowed for the json_out's life). */
void json_out_init(json_out *j, char *buf, size_t size);

/* The NUL-terminated text so far. */
const char *json_out_text(const json_out *j);
size_t json_out_len(const json_out *j);

/* True when everything written fit in the buffer (and the nesting stayed
 * within JSON_OUT_DEPTH_MAX). A text that did not fit is cut: do not print it. */
bool json_out_ok(const json_out *j);

/* ---- building blocks ---- */

void json_out_object_begin(json_out *j);
void json_out_object_end(json_out *j);
void json_out_array_begin(json_out *j);
void json_out_array_end(json_out *j);

/* A member's key inside an object; the next value is its value. */
void json_out_key(json_out *j, const char *key);

/* Values (inside an array, commas are added as needed). A NULL string is
 * written as null. */
void json_out_string(json_out *j, const char *s);
void json_out_string_len(json_out *j, const char *s, size_t len);
void json_out_int(json_out *j, int64_t value);
void json_out_bool(json_out *j, bool value);
void json_out_null(json_out *j);
void json_out_money(json_out *j, int64_t cents); /* "12.50" */
void json_out_time(json_out *j, int64_t ms);     /* "2026-11-26T10:00:00Z" */

/* ---- the CLI's shapes ---- */

/* An event as a value: {"event_id", "type", "account", "seq", "at",
 * "command_id", then by type "overdraft" (AccountOpened), "amount", "memo"
 * (deposits, when not empty), "to" / "from", "transfer_id", "reason"
 * (TransferReturned)}. */
void json_out_event(json_out *j, const ledger_event *event);

/* A command's result as a whole object:
 *   accepted: {"command_id", "status":"accepted", "events":[EVENT],
 *              "position":"P:O", "transfer_id" (transfers), "duplicate":true}
 *   rejected: {"command_id", "status":"rejected", "reason", "duplicate":true}
 * "position" and the event appear when the result carries them;
 * "duplicate" only when true. */
void json_out_result(json_out *j, const ledger_result *result);

/* A command refused before it was sent (ledger submit's bad lines), as a
 * whole object: {"command_id" (null when unknown), "status":"rejected",
 * "reason", "error"}. */
void json_out_rejection(json_out *j, const char *command_id, size_t command_id_len,
                        ledger_reason reason, const char *error);

/* The members "account", "balance", "version", "status" of an account's
 * state, written into an object the caller has begun (so that it may add
 * "as_of", "stale", ...). */
void json_out_account_fields(json_out *j, const char *account, const account_state *state);

/* {"account":"A","error":"not_found"} as a whole object. */
void json_out_not_found(json_out *j, const char *account);

#endif
