/*
 * bind.c - the binding table: each field of the current reader schemas and
 * the struct member that holds it.
 *
 * Adding a field to a schema means adding a row here (and a member to the
 * struct); codec_new refuses to start while a reader field has no row or a
 * row names no reader field.
 */
#include "bind.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "command.h"
#include "event.h"
#include "reason.h"
#include "result.h"
#include "snapshot.h"

/* Enums are stored through int-sized accesses. */
_Static_assert(sizeof(ledger_reason) == sizeof(int), "ledger_reason is not int-sized");
_Static_assert(sizeof(ledger_event_type) == sizeof(int), "ledger_event_type is not int-sized");
_Static_assert(sizeof(ledger_command_type) == sizeof(int), "ledger_command_type is not int-sized");
_Static_assert(sizeof(account_status) == sizeof(int), "account_status is not int-sized");

/* --- symbol names ------------------------------------------------------ */

static int reason_from_name(const char *name, int *value) {
    ledger_reason reason;
    if (ledger_reason_from_name(name, &reason) != 0)
        return -1;
    *value = (int)reason;
    return 0;
}

static const char *reason_to_name(int value) {
    return ledger_reason_name((ledger_reason)value);
}

static int event_type_from_name(const char *name, int *value) {
    ledger_event_type type = ledger_event_type_from_name(name);
    if (type == LEDGER_EVENT_NONE)
        return -1;
    *value = (int)type;
    return 0;
}

static const char *event_type_to_name(int value) {
    return ledger_event_type_name((ledger_event_type)value);
}

static int command_type_from_name(const char *name, int *value) {
    ledger_command_type type = ledger_command_type_from_name(name);
    if (type == LEDGER_COMMAND_NONE)
        return -1;
    *value = (int)type;
    return 0;
}

static const char *command_type_to_name(int value) {
    return ledger_command_type_name((ledger_command_type)value);
}

/* Symbols of ledger.AccountStatus, indexed by account_status (frozen). */
static const char *const account_status_names[] = {
    [ACCOUNT_NONE] = "none",
    [ACCOUNT_OPEN] = "open",
    [ACCOUNT_CLOSED] = "closed",
};

static int table_from_name(const char *const *table, int count, const char *name, int *value) {
    for (int i = 0; i < count; i++) {
        if (table[i] != NULL && strcmp(table[i], name) == 0) {
            *value = i;
            return 0;
        }
    }
    return -1;
}

static int account_status_from_name(const char *name, int *value) {
    return table_from_name(account_status_names, 3, name, value);
}

static const char *account_status_to_name(int value) {
    return value >= 0 && value < 3 ? account_status_names[value] : NULL;
}

/* Symbols of ledger.ResultStatus. The struct has no status member: a result
 * is accepted exactly when its reason is LEDGER_OK. */
enum { RESULT_ACCEPTED = 0, RESULT_REJECTED = 1 };
static const char *const result_status_names[] = {"accepted", "rejected"};

static int result_status_from_name(const char *name, int *value) {
    return table_from_name(result_status_names, 2, name, value);
}

static const char *result_status_to_name(int value) {
    return value >= 0 && value < 2 ? result_status_names[value] : NULL;
}

static int result_status_of(const void *object) {
    const ledger_result *result = object;
    return result->reason == LEDGER_OK ? RESULT_ACCEPTED : RESULT_REJECTED;
}

static const codec_names reason_names = {"reason", reason_from_name, reason_to_name};
static const codec_names event_type_names = {"event type", event_type_from_name,
                                             event_type_to_name};
static const codec_names command_type_names = {"command type", command_type_from_name,
                                               command_type_to_name};
static const codec_names account_status_names_ = {"account status", account_status_from_name,
                                                  account_status_to_name};
static const codec_names result_status_names_ = {"result status", result_status_from_name,
                                                 result_status_to_name};

/* --- the table ----------------------------------------------------------- */

#define STR(rec, fld, type, member)                                                                \
    {                                                                                              \
        .record = rec, .field = fld, .kind = CODEC_BIND_STRING,                                    \
        .off = (int32_t)offsetof(type, member), .size = (int32_t)sizeof(((type *)0)->member),      \
        .local = -1                                                                                \
    }
#define STR_OR_NULL(rec, fld, type, member)                                                        \
    {                                                                                              \
        .record = rec, .field = fld, .kind = CODEC_BIND_STRING,                                    \
        .off = (int32_t)offsetof(type, member), .size = (int32_t)sizeof(((type *)0)->member),      \
        .null = CODEC_NULL_ZERO, .local = -1                                                       \
    }
#define LONG(rec, fld, type, member)                                                               \
    {                                                                                              \
        .record = rec, .field = fld, .kind = CODEC_BIND_LONG,                                      \
        .off = (int32_t)offsetof(type, member), .local = -1                                        \
    }
#define INT(rec, fld, type, member)                                                                \
    {                                                                                              \
        .record = rec, .field = fld, .kind = CODEC_BIND_INT,                                       \
        .off = (int32_t)offsetof(type, member), .local = -1                                        \
    }
#define ENUM(rec, fld, type, member, symbol_names)                                                 \
    {                                                                                              \
        .record = rec, .field = fld, .kind = CODEC_BIND_ENUM,                                      \
        .off = (int32_t)offsetof(type, member), .local = -1, .names = &symbol_names                \
    }

static const codec_bind bindings[] = {
    /* ledger.Event -> ledger_event; the payload records share the struct */
    STR("ledger.Event", "event_id", ledger_event, event_id),
    STR("ledger.Event", "account", ledger_event, account),
    LONG("ledger.Event", "seq", ledger_event, seq),
    LONG("ledger.Event", "at", ledger_event, at_ms),
    STR("ledger.Event", "command_id", ledger_event, command_id),
    {.record = "ledger.Event",
     .field = "payload",
     .kind = CODEC_BIND_CHOICE,
     .off = (int32_t)offsetof(ledger_event, type),
     .local = -1,
     .names = &event_type_names},
    LONG("ledger.AccountOpened", "overdraft", ledger_event, amount),
    LONG("ledger.MoneyDeposited", "amount", ledger_event, amount),
    STR_OR_NULL("ledger.MoneyDeposited", "memo", ledger_event, memo),
    LONG("ledger.MoneyWithdrawn", "amount", ledger_event, amount),
    STR("ledger.TransferSent", "transfer_id", ledger_event, transfer_id),
    STR("ledger.TransferSent", "to", ledger_event, counterparty),
    LONG("ledger.TransferSent", "amount", ledger_event, amount),
    STR("ledger.TransferReceived", "transfer_id", ledger_event, transfer_id),
    STR("ledger.TransferReceived", "from", ledger_event, counterparty),
    LONG("ledger.TransferReceived", "amount", ledger_event, amount),
    STR("ledger.TransferReturned", "transfer_id", ledger_event, transfer_id),
    STR("ledger.TransferReturned", "to", ledger_event, counterparty),
    LONG("ledger.TransferReturned", "amount", ledger_event, amount),
    ENUM("ledger.TransferReturned", "reason", ledger_event, reason, reason_names),

    /* ledger.Command -> ledger_command */
    STR("ledger.Command", "id", ledger_command, id),
    ENUM("ledger.Command", "type", ledger_command, type, command_type_names),
    STR("ledger.Command", "account", ledger_command, account),
    STR_OR_NULL("ledger.Command", "to", ledger_command, to),
    LONG("ledger.Command", "amount", ledger_command, amount),
    {.record = "ledger.Command",
     .field = "at",
     .kind = CODEC_BIND_LONG,
     .off = (int32_t)offsetof(ledger_command, at_ms),
     .null = CODEC_NULL_FLAG,
     .flag_off = (int32_t)offsetof(ledger_command, has_at),
     .local = -1},

    /* ledger.CommandResult -> ledger_result; Position shares the struct */
    STR("ledger.CommandResult", "command_id", ledger_result, command_id),
    {.record = "ledger.CommandResult",
     .field = "status",
     .kind = CODEC_BIND_ENUM,
     .local = 0,
     .names = &result_status_names_,
     .derive = result_status_of},
    {.record = "ledger.CommandResult",
     .field = "reason",
     .kind = CODEC_BIND_ENUM,
     .off = (int32_t)offsetof(ledger_result, reason),
     .null = CODEC_NULL_ZERO,
     .local = -1,
     .names = &reason_names},
    {.record = "ledger.CommandResult",
     .field = "duplicate",
     .kind = CODEC_BIND_BOOL,
     .off = (int32_t)offsetof(ledger_result, duplicate),
     .local = -1},
    {.record = "ledger.CommandResult",
     .field = "event",
     .kind = CODEC_BIND_RECORD,
     .off = (int32_t)offsetof(ledger_result, event),
     .null = CODEC_NULL_FLAG,
     .flag_off = (int32_t)offsetof(ledger_result, has_event),
     .local = -1},
    {.record = "ledger.CommandResult",
     .field = "position",
     .kind = CODEC_BIND_RECORD,
     .off = 0,
     .null = CODEC_NULL_FLAG,
     .flag_off = (int32_t)offsetof(ledger_result, has_position),
     .local = -1},
    INT("ledger.Position", "partition", ledger_result, partition),
    LONG("ledger.Position", "offset", ledger_result, offset),

    /* ledger.Snapshot -> ledger_snapshot and its arrays */
    INT("ledger.Snapshot", "partition", ledger_snapshot, partition),
    LONG("ledger.Snapshot", "events_offset", ledger_snapshot, events_offset),
    {.record = "ledger.Snapshot",
     .field = "accounts",
     .kind = CODEC_BIND_ARRAY,
     .off = (int32_t)offsetof(ledger_snapshot, accounts),
     .size = (int32_t)sizeof(snapshot_account),
     .count_off = (int32_t)offsetof(ledger_snapshot, account_count),
     .local = -1},
    {.record = "ledger.Snapshot",
     .field = "commands",
     .kind = CODEC_BIND_ARRAY,
     .off = (int32_t)offsetof(ledger_snapshot, commands),
     .size = (int32_t)sizeof(snapshot_command),
     .count_off = (int32_t)offsetof(ledger_snapshot, command_count),
     .local = -1},
    STR("ledger.AccountSnapshot", "account", snapshot_account, account),
    ENUM("ledger.AccountSnapshot", "status", snapshot_account, state.status, account_status_names_),
    LONG("ledger.AccountSnapshot", "balance", snapshot_account, state.balance),
    LONG("ledger.AccountSnapshot", "overdraft", snapshot_account, state.overdraft),
    LONG("ledger.AccountSnapshot", "seq", snapshot_account, state.seq),
    LONG("ledger.HandledCommand", "handled_at", snapshot_command, handled_at_ms),
    {.record = "ledger.HandledCommand",
     .field = "result",
     .kind = CODEC_BIND_RECORD,
     .off = (int32_t)offsetof(snapshot_command, result),
     .local = -1},
};

/* --- cross-field checks -------------------------------------------------- */

static int result_finish(const void *object, const int64_t *locals, char *errstr,
                         size_t errstr_size) {
    const ledger_result *result = object;
    bool accepted = locals[0] == RESULT_ACCEPTED;
    if (accepted && result->reason != LEDGER_OK) {
        if (errstr_size > 0)
            snprintf(errstr, errstr_size, "accepted result of '%.40s' with reason '%s'",
                     result->command_id, ledger_reason_name(result->reason));
        return -1;
    }
    if (!accepted && result->reason == LEDGER_OK) {
        if (errstr_size > 0)
            snprintf(errstr, errstr_size, "rejected result of '%.40s' without a reason",
                     result->command_id);
        return -1;
    }
    return 0;
}

static const struct {
    const char *record;
    codec_bind_finish_fn finish;
} finishers[] = {
    {"ledger.CommandResult", result_finish},
};

const codec_bind *codec_bind_find(const char *record, const char *field) {
    for (size_t i = 0; i < sizeof bindings / sizeof bindings[0]; i++) {
        if (strcmp(bindings[i].record, record) == 0 && strcmp(bindings[i].field, field) == 0)
            return &bindings[i];
    }
    return NULL;
}

codec_bind_finish_fn codec_bind_finish_of(const char *record) {
    for (size_t i = 0; i < sizeof finishers / sizeof finishers[0]; i++) {
        if (strcmp(finishers[i].record, record) == 0)
            return finishers[i].finish;
    }
    return NULL;
}

size_t codec_bind_count(void) {
    return sizeof bindings / sizeof bindings[0];
}

const codec_bind *codec_bind_at(size_t i) {
    return i < codec_bind_count() ? &bindings[i] : NULL;
}
