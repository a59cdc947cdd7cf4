/*
 * records.c - what one transaction decides and writes, record by record,
 * then for the batch as a whole (see service.c for the transaction around
 * it).
 *
 * Per record: a client command is answered from the batch or the
 * deduplication window when its id was handled, else decided with
 * ledger_decide against its account's state; its event is produced (explicit
 * partition = the command partition) and folded in at once, so the next
 * record of the batch sees it. A transfer's credit and return sides arrive
 * as event records (steps) on the partition that must act; anything else
 * gets a malformed_command result.
 *
 * Results (with a `cmd/<id>` entry per new result) go out in batch order as
 * soon as they are complete. A result names the position of its event, so
 * it is complete when its event's offset is known: at once when the
 * partition's next offset is (partition.h, append_offset: this producer is
 * the partition's only writer, so its events take consecutive offsets after
 * the commit marker of its previous transaction), else from the event's
 * delivery report (written through the pending result given as the message
 * opaque). Writing results while the events are still on their way saves
 * the transaction a round trip to the broker. The delivery reports check
 * every predicted offset; one that differs (another writer, a marker we did
 * not expect) aborts the transaction, so a wrong position is never
 * committed (service.c).
 *
 * Per batch, after the flush: the results still waiting, the tombstones of
 * ids that left the window, and the snapshots that are due.
 *
 * Nothing here allocates per record: ids, events and encodings live on the
 * stack or in the batch; librdkafka copies what it sends.
 */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "log.h"
#include "service_internal.h"

/* Records larger than this on ledger.commands are malformed (contract). */
#define RECORDS_VALUE_MAX (64 * 1024)

/* ---- producing ---- */

/* Produces one record (value copied) inside the open transaction. Returns 0,
 * or -1 (the transaction must be aborted). */
static int records_produce(producer_service *svc, rd_kafka_topic_t *rkt, int32_t partition,
                           const void *key, size_t key_len, const void *value, size_t len,
                           void *opaque) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            svc->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(svc->producer, 10);
            continue;
        }
        LOG_ERROR("cannot produce to '%s' [%d]: %s", rd_kafka_topic_name(rkt), (int)partition,
                  rd_kafka_err2str(err));
        return -1;
    }
}

void producer_records_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    producer_service *svc = opaque;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (svc->dr_err == RD_KAFKA_RESP_ERR_NO_ERROR)
            LOG_ERROR("delivery to '%s' [%d] failed: %s", rd_kafka_topic_name(msg->rkt),
                      (int)msg->partition, rd_kafka_err2str(msg->err));
        svc->dr_err = msg->err;
        return;
    }
    if (strcmp(rd_kafka_topic_name(msg->rkt), svc->topic_events) != 0)
        return;
    if (msg->partition >= 0 && msg->partition < svc->partition_count) {
        producer_partition *part = &svc->parts[msg->partition];
        if (msg->offset + 1 > part->next_events_offset)
            part->next_events_offset = msg->offset + 1;
        part->txn_delivered++;
        if (part->txn_min_offset < 0 || msg->offset < part->txn_min_offset)
            part->txn_min_offset = msg->offset;
        if (msg->offset > part->txn_max_offset)
            part->txn_max_offset = msg->offset;
    }
    producer_pending *pending = msg->_private;
    if (pending == NULL)
        return;
    if (pending->result.has_position) { /* predicted: check it */
        if (pending->result.partition != msg->partition || pending->result.offset != msg->offset)
            svc->mispredicted = true;
        return;
    }
    pending->result.has_position = true;
    pending->result.partition = msg->partition;
    pending->result.offset = msg->offset;
}

/* ---- one record ---- */

/* Appends `event` on partition p: produce, fold into the state. */
static int records_append(producer_service *svc, producer_partition *part,
                          const ledger_event *event, producer_pending *pending) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char why[256];
    if (ledger_codec_encode_event(svc->codec, event, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode event '%s' of '%s': %s", event->event_id, event->account, why);
        return PRODUCER_RECORDS_FATAL;
    }
    size_t acc_len = ledger_id_len(event->account, sizeof(event->account));
    if (pending != NULL && part->txn_first_offset >= 0) {
        pending->result.has_position = true; /* checked by the delivery report */
        pending->result.partition = part->id;
        pending->result.offset = part->txn_first_offset + part->txn_events;
    }
    if (records_produce(svc, svc->rkt_events, part->id, event->account, acc_len, buf, len,
                        pending) != 0)
        return PRODUCER_RECORDS_ABORT;
    part->txn_events++;
    account_state *state = producer_accounts_upsert(part->accounts, event->account, acc_len);
    if (state == NULL) {
        LOG_ERROR("out of memory for account '%s'", event->account);
        return PRODUCER_RECORDS_FATAL;
    }
    if (account_apply(state, event) != ACCOUNT_APPLIED) {
        LOG_ERROR("event seq %lld of '%s' does not follow seq %lld", (long long)event->seq,
                  event->account, (long long)state->seq);
        return PRODUCER_RECORDS_FATAL;
    }
    part->events_since_snapshot++;
    return PRODUCER_RECORDS_OK;
}

/* A transfer step (an event record) to ledger.commands, keyed by `account`. */
static int records_step(producer_service *svc, const char *account, const ledger_event *step) {
    uint8_t buf[LEDGER_CODEC_EVENT_MAX];
    size_t len = 0;
    char why[256];
    if (ledger_codec_encode_event(svc->codec, step, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode the transfer step of '%s': %s", step->transfer_id, why);
        return PRODUCER_RECORDS_FATAL;
    }
    size_t acc_len = strlen(account);
    int32_t p = ledger_partition_for_key(account, acc_len, svc->partition_count);
    return records_produce(svc, svc->rkt_commands, p, account, acc_len, buf, len, NULL) == 0
               ? PRODUCER_RECORDS_OK
               : PRODUCER_RECORDS_ABORT;
}

/* A record on the wrong partition (its account's commands live elsewhere):
 * sent as it is to the right one, keyed by that account. */
static int records_forward(producer_service *svc, const rd_kafka_message_t *msg,
                           const char *account, size_t acc_len, int32_t home) {
    LOG_WARN("record at '%s' [%d] offset %lld is for account '%.*s' of partition %d: forwarded",
             svc->topic_commands, (int)msg->partition, (long long)msg->offset, (int)acc_len,
             account, (int)home);
    return records_produce(svc, svc->rkt_commands, home, account, acc_len, msg->payload, msg->len,
                           NULL) == 0
               ? PRODUCER_RECORDS_OK
               : PRODUCER_RECORDS_ABORT;
}

static producer_pending *records_pending(producer_service *svc, int32_t partition) {
    producer_pending *pending = producer_batch_add(svc->batch);
    if (pending == NULL) {
        LOG_ERROR("batch full: more results than records");
        return NULL;
    }
    pending->partition = partition;
    return pending;
}

/* The command id a result names when the record gives none: its key if that
 * is a valid command id, else "unknown@P:O". */
static void records_fallback_id(const rd_kafka_message_t *msg, char *out, size_t size) {
    if (msg->key != NULL && ledger_command_id_valid(msg->key, msg->key_len)) {
        snprintf(out, size, "%.*s", (int)msg->key_len, (const char *)msg->key);
        return;
    }
    snprintf(out, size, "unknown@%d:%lld", (int)msg->partition, (long long)msg->offset);
}

static int records_malformed(producer_service *svc, const rd_kafka_message_t *msg,
                             const char *why) {
    LOG_WARN("malformed record at '%s' [%d] offset %lld: %s", svc->topic_commands,
             (int)msg->partition, (long long)msg->offset, why);
    producer_pending *pending = records_pending(svc, msg->partition);
    if (pending == NULL)
        return PRODUCER_RECORDS_FATAL;
    records_fallback_id(msg, pending->result.command_id, sizeof(pending->result.command_id));
    pending->result.reason = LEDGER_MALFORMED_COMMAND;
    return PRODUCER_RECORDS_OK;
}

static int records_uuid(producer_service *svc, char out[LEDGER_UUID_BUF]) {
    if (producer_entropy_uuid(&svc->entropy, out) != 0) {
        LOG_ERROR("no random bytes for a UUID");
        return PRODUCER_RECORDS_FATAL;
    }
    return PRODUCER_RECORDS_OK;
}

/* The credit side of a transfer just sent from `part`. When this instance
 * owns TO's partition (it owns them all when it runs alone), it is decided
 * here, in the same transaction as the debit: TransferReceived on TO's
 * partition, or TransferReturned on FROM's. That is the order a step would
 * have been handled in had it been the next record of TO's partition, and
 * the debit and the credit commit or abort together, so "exactly one credit
 * follows" holds as it does with a step. It spares a step record and its
 * consumption, and keeps the commands topic free of transactional records:
 * a step in an open transaction holds back the last stable offset of its
 * partition, so the client commands behind it could not be read before the
 * commit (the latency of every command was that of two transactions). Else
 * the step goes to TO's partition on the commands topic, for its owner. */
static int records_credit_side(producer_service *svc, producer_partition *part,
                               const ledger_event *sent) {
    size_t to_len = ledger_id_len(sent->counterparty, sizeof(sent->counterparty));
    int32_t home = ledger_partition_for_key(sent->counterparty, to_len, svc->partition_count);
    producer_partition *to_part = &svc->parts[home];
    if (!to_part->active)
        return records_step(svc, sent->counterparty, sent);

    account_state none;
    account_init(&none);
    const account_state *to = producer_accounts_find(to_part->accounts, sent->counterparty, to_len);
    char event_id[LEDGER_UUID_BUF];
    if (records_uuid(svc, event_id) != PRODUCER_RECORDS_OK)
        return PRODUCER_RECORDS_FATAL;
    ledger_event credit;
    ledger_reason reason = ledger_decide_credit(to != NULL ? to : &none, sent, event_id, &credit);
    if (reason == LEDGER_OK)
        return records_append(svc, to_part, &credit, NULL);
    size_t from_len = ledger_id_len(sent->account, sizeof(sent->account));
    const account_state *from = producer_accounts_find(part->accounts, sent->account, from_len);
    ledger_event returned;
    ledger_decide_return(from != NULL ? from : &none, sent, reason, event_id, &returned);
    LOG_DEBUG("transfer '%s': not received (%s), returned to '%s'", sent->transfer_id,
              ledger_reason_name(reason), sent->account);
    return records_append(svc, part, &returned, NULL);
}

/* A client command. */
static int records_command(producer_service *svc, producer_partition *part,
                           const rd_kafka_message_t *msg, const ledger_command *cmd) {
    size_t id_len = ledger_id_len(cmd->id, sizeof(cmd->id));
    bool id_ok = ledger_command_id_valid(cmd->id, id_len);
    char why[256];

    if (id_ok) {
        int32_t orig = producer_batch_find(svc->batch, part->id, cmd->id, id_len);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        if (orig >= 0) {
            producer_pending *dup = records_pending(svc, part->id);
            if (dup == NULL)
                return PRODUCER_RECORDS_FATAL;
            dup->dup_of = orig;
            memcpy(dup->result.command_id, cmd->id, sizeof(dup->result.command_id));
            LOG_DEBUG("command '%s' is a duplicate (same transaction)", cmd->id);
            return PRODUCER_RECORDS_OK;
        }
        if (producer_dedup_find(part->dedup, cmd->id, id_len, &value, &value_len, NULL)) {
            producer_pending *dup = records_pending(svc, part->id);
            if (dup == NULL)
                return PRODUCER_RECORDS_FATAL;
            if (ledger_codec_decode_result(svc->codec, value, value_len, &dup->result, why,
                                           sizeof(why)) != 0) {
                LOG_ERROR("cannot decode the remembered result of '%s': %s", cmd->id, why);
                return PRODUCER_RECORDS_FATAL;
            }
            dup->result.duplicate = true;
            LOG_DEBUG("command '%s' is a duplicate", cmd->id);
            return PRODUCER_RECORDS_OK;
        }
    }

    size_t acc_len = ledger_id_len(cmd->account, sizeof(cmd->account));
    bool acc_ok = ledger_account_valid(cmd->account, acc_len);
    if (acc_ok) {
        int32_t home = ledger_partition_for_key(cmd->account, acc_len, svc->partition_count);
        if (home != part->id)
            return records_forward(svc, msg, cmd->account, acc_len, home);
    }

    account_state none;
    account_init(&none);
    const account_state *state =
        acc_ok ? producer_accounts_find(part->accounts, cmd->account, acc_len) : NULL;
    char event_id[LEDGER_UUID_BUF], transfer_id[LEDGER_UUID_BUF] = "";
    if (records_uuid(svc, event_id) != PRODUCER_RECORDS_OK ||
        (cmd->type == LEDGER_COMMAND_TRANSFER &&
         records_uuid(svc, transfer_id) != PRODUCER_RECORDS_OK))
        return PRODUCER_RECORDS_FATAL;
    ledger_decide_ids ids = {
        .event_id = event_id, .transfer_id = transfer_id, .now_ms = service_wall_ms()};

    producer_pending *pending = records_pending(svc, part->id);
    if (pending == NULL)
        return PRODUCER_RECORDS_FATAL;
    ledger_result *result = &pending->result;
    result->reason = ledger_decide(state != NULL ? state : &none, cmd, &ids, &result->event);
    if (id_ok)
        memcpy(result->command_id, cmd->id, sizeof(result->command_id));
    else
        records_fallback_id(msg, result->command_id, sizeof(result->command_id));
    svc->commands_handled++;

    if (result->reason == LEDGER_OK) {
        result->has_event = true;
        int rc = records_append(svc, part, &result->event, pending);
        if (rc != PRODUCER_RECORDS_OK)
            return rc;
        if (result->event.type == LEDGER_EVENT_TRANSFER_SENT) {
            rc = records_credit_side(svc, part, &result->event);
            if (rc != PRODUCER_RECORDS_OK)
                return rc;
        }
    } else {
        LOG_DEBUG("command '%s' (%s '%s') rejected: %s", result->command_id,
                  ledger_command_type_name(cmd->type) ? ledger_command_type_name(cmd->type) : "?",
                  acc_ok ? cmd->account : "", ledger_reason_name(result->reason));
    }
    if (id_ok) {
        pending->remember = true;
        producer_batch_index(svc->batch, producer_batch_count(svc->batch) - 1);
    }
    return PRODUCER_RECORDS_OK;
}

/* Whether the step's ids and amount are what this producer writes. */
static bool records_step_valid(const ledger_event *step) {
    return ledger_account_valid(step->account,
                                ledger_id_len(step->account, sizeof(step->account))) &&
           ledger_account_valid(step->counterparty,
                                ledger_id_len(step->counterparty, sizeof(step->counterparty))) &&
           ledger_uuid_valid(step->transfer_id,
                             ledger_id_len(step->transfer_id, sizeof(step->transfer_id))) &&
           step->amount > 0;
}

/* The credit side of a transfer, on TO's partition: TransferReceived, or a
 * return step to FROM's partition. */
static int records_credit(producer_service *svc, producer_partition *part,
                          const rd_kafka_message_t *msg, const ledger_event *sent) {
    if (!records_step_valid(sent))
        return records_malformed(svc, msg, "a transfer step with invalid ids or amount");
    size_t to_len = ledger_id_len(sent->counterparty, sizeof(sent->counterparty));
    int32_t home = ledger_partition_for_key(sent->counterparty, to_len, svc->partition_count);
    if (home != part->id)
        return records_forward(svc, msg, sent->counterparty, to_len, home);

    account_state none;
    account_init(&none);
    const account_state *to = producer_accounts_find(part->accounts, sent->counterparty, to_len);
    char event_id[LEDGER_UUID_BUF];
    if (records_uuid(svc, event_id) != PRODUCER_RECORDS_OK)
        return PRODUCER_RECORDS_FATAL;
    ledger_event received;
    ledger_reason reason = ledger_decide_credit(to != NULL ? to : &none, sent, event_id, &received);
    if (reason == LEDGER_OK) {
        LOG_DEBUG("transfer '%s': %s received", sent->transfer_id, sent->counterparty);
        return records_append(svc, part, &received, NULL);
    }
    /* The return is decided on FROM's partition, which fills in its seq;
     * its event id is chosen here. */
    ledger_event step;
    ledger_decide_return(&none, sent, reason, event_id, &step);
    step.seq = 0;
    LOG_DEBUG("transfer '%s': not received (%s), returned to '%s'", sent->transfer_id,
              ledger_reason_name(reason), sent->account);
    return records_step(svc, sent->account, &step);
}

/* The return of a transfer, on FROM's partition: TransferReturned. */
static int records_return(producer_service *svc, producer_partition *part,
                          const rd_kafka_message_t *msg, const ledger_event *step) {
    if (!records_step_valid(step) ||
        (step->reason != LEDGER_NO_SUCH_ACCOUNT && step->reason != LEDGER_ACCOUNT_CLOSED &&
         step->reason != LEDGER_INVALID_AMOUNT))
        return records_malformed(svc, msg, "a return step with invalid ids, amount or reason");
    size_t from_len = ledger_id_len(step->account, sizeof(step->account));
    int32_t home = ledger_partition_for_key(step->account, from_len, svc->partition_count);
    if (home != part->id)
        return records_forward(svc, msg, step->account, from_len, home);

    ledger_event sent = *step;
    sent.type = LEDGER_EVENT_TRANSFER_SENT;
    sent.reason = LEDGER_OK;
    char event_id[LEDGER_UUID_BUF];
    if (ledger_uuid_valid(step->event_id, ledger_id_len(step->event_id, sizeof(step->event_id))))
        memcpy(event_id, step->event_id, sizeof(event_id));
    else if (records_uuid(svc, event_id) != PRODUCER_RECORDS_OK)
        return PRODUCER_RECORDS_FATAL;
    account_state none;
    account_init(&none);
    const account_state *from = producer_accounts_find(part->accounts, step->account, from_len);
    ledger_event returned;
    ledger_decide_return(from != NULL ? from : &none, &sent, step->reason, event_id, &returned);
    return records_append(svc, part, &returned, NULL);
}

static int records_handle(producer_service *svc, const rd_kafka_message_t *msg) {
    producer_partition *part = &svc->parts[msg->partition];
    char why[256];
    if (msg->len > RECORDS_VALUE_MAX) {
        snprintf(why, sizeof(why), "a value of %zu bytes is over the limit of %d bytes", msg->len,
                 RECORDS_VALUE_MAX);
        return records_malformed(svc, msg, why);
    }
    if (msg->payload == NULL)
        return records_malformed(svc, msg, "no value");
    const ledger_codec_schema *schema =
        ledger_codec_schema_of(svc->codec, msg->payload, msg->len, why, sizeof(why));
    if (schema == NULL)
        return records_malformed(svc, msg, why);
    if (schema->kind == LEDGER_CODEC_COMMAND) {
        ledger_command cmd;
        if (ledger_codec_decode_command(svc->codec, msg->payload, msg->len, &cmd, why,
                                        sizeof(why)) != 0)
            return records_malformed(svc, msg, why);
        return records_command(svc, part, msg, &cmd);
    }
    if (schema->kind == LEDGER_CODEC_EVENT) {
        ledger_event step;
        if (ledger_codec_decode_event(svc->codec, msg->payload, msg->len, &step, why,
                                      sizeof(why)) != 0)
            return records_malformed(svc, msg, why);
        if (step.type == LEDGER_EVENT_TRANSFER_SENT)
            return records_credit(svc, part, msg, &step);
        if (step.type == LEDGER_EVENT_TRANSFER_RETURNED)
            return records_return(svc, part, msg, &step);
        snprintf(why, sizeof(why), "an event record of type '%s' is no transfer step",
                 ledger_event_type_name(step.type) ? ledger_event_type_name(step.type) : "?");
        return records_malformed(svc, msg, why);
    }
    snprintf(why, sizeof(why), "a %s record (schema '%s') is no command",
             ledger_codec_kind_name(schema->kind), schema->id);
    return records_malformed(svc, msg, why);
}

/* ---- results, window, snapshots ---- */

/* Writes one complete result, and its deduplication entry when it is new
 * (both in this transaction), and adds it to the window. */
static int records_result_out(producer_service *svc, producer_pending *pending) {
    char why[256];
    uint8_t buf[LEDGER_CODEC_RESULT_MAX];
    uint8_t entry_buf[LEDGER_CODEC_RESULT_MAX + 64];
    ledger_result *result = &pending->result;
    if (pending->dup_of >= 0) { /* the original went out before it */
        *result = producer_batch_at(svc->batch, (size_t)pending->dup_of)->result;
        result->duplicate = true;
    }
    size_t len = 0;
    if (ledger_codec_encode_result(svc->codec, result, buf, sizeof(buf), &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode the result of '%s': %s", result->command_id, why);
        return PRODUCER_RECORDS_FATAL;
    }
    size_t id_len = ledger_id_len(result->command_id, sizeof(result->command_id));
    if (records_produce(svc, svc->rkt_results, RD_KAFKA_PARTITION_UA, result->command_id, id_len,
                        buf, len, NULL) != 0)
        return PRODUCER_RECORDS_ABORT;
    if (!pending->remember)
        return PRODUCER_RECORDS_OK;

    int64_t now = service_wall_ms();
    producer_partition *part = &svc->parts[pending->partition];
    if (result->has_event) {
        /* Accepted: its event, in this transaction, keeps the entry until a
         * set does (dedup_sets.h); no record of its own. */
        if (producer_dedup_put_tagged(part->dedup, result->command_id, id_len, buf, len, now,
                                      PRODUCER_DEDUP_TAG_LOG) != 0 ||
            producer_dedup_sets_pend(part->dedup_sets, result->command_id, id_len) != 0) {
            LOG_ERROR("out of memory for the dedup window of partition %d", (int)part->id);
            return PRODUCER_RECORDS_FATAL;
        }
        return PRODUCER_RECORDS_OK;
    }

    /* Rejected: no event to find it by, so its own entry, in the same
     * transaction as the result; its events offset is informative (restores
     * do not use it). */
    snapshot_command cmd = {.handled_at_ms = now, .result = *result};
    ledger_snapshot entry = {.partition = part->id,
                             .events_offset = result->has_position ? result->offset + 1
                                              : part->next_events_offset > 0
                                                  ? part->next_events_offset
                                                  : 0,
                             .command_count = 1,
                             .commands = &cmd};
    size_t entry_len = 0;
    if (ledger_codec_encode_snapshot(svc->codec, &entry, entry_buf, sizeof(entry_buf), &entry_len,
                                     why, sizeof(why)) != 0) {
        LOG_ERROR("cannot encode the dedup entry of '%s': %s", result->command_id, why);
        return PRODUCER_RECORDS_FATAL;
    }
    char key[LEDGER_COMMAND_ID_BUF + 8];
    int key_len = snprintf(key, sizeof(key), "cmd/%s", result->command_id);
    if (records_produce(svc, svc->rkt_snapshots, part->id, key, (size_t)key_len, entry_buf,
                        entry_len, NULL) != 0)
        return PRODUCER_RECORDS_ABORT;
    if (producer_dedup_put_tagged(part->dedup, result->command_id, id_len, buf, len, now,
                                  PRODUCER_DEDUP_TAG_OWN) != 0) {
        LOG_ERROR("out of memory for the dedup window of partition %d", (int)part->id);
        return PRODUCER_RECORDS_FATAL;
    }
    return PRODUCER_RECORDS_OK;
}

/* Writes the batch's results in order, from the first not yet written,
 * while they are complete (an accepted one needs its event's position);
 * with `all`, every one must be. */
static int records_results(producer_service *svc, bool all) {
    size_t n = producer_batch_count(svc->batch);
    for (; svc->results_sent < n; svc->results_sent++) {
        producer_pending *pending = producer_batch_at(svc->batch, svc->results_sent);
        const ledger_result *result = &pending->result;
        if (pending->dup_of < 0 && result->has_event && !result->has_position) {
            if (!all)
                return PRODUCER_RECORDS_OK; /* after the flush */
            LOG_ERROR("no position for the event of '%s'", result->command_id);
            return PRODUCER_RECORDS_FATAL;
        }
        int rc = records_result_out(svc, pending);
        if (rc != PRODUCER_RECORDS_OK)
            return rc;
    }
    return PRODUCER_RECORDS_OK;
}

void producer_records_begin(producer_service *svc) {
    svc->results_sent = 0;
    svc->mispredicted = false;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        part->txn_first_offset = part->active ? part->append_offset : -1;
        part->txn_events = 0;
        part->txn_delivered = 0;
        part->txn_min_offset = -1;
        part->txn_max_offset = -1;
    }
}

int producer_records_handle(producer_service *svc, const rd_kafka_message_t *msg) {
    int rc = records_handle(svc, msg);
    return rc == PRODUCER_RECORDS_OK ? records_results(svc, false) : rc;
}

int producer_records_check(producer_service *svc) {
    for (int32_t p = 0; p < svc->partition_count; p++) {
        const producer_partition *part = &svc->parts[p];
        if (part->txn_delivered != part->txn_events) {
            LOG_ERROR("partition %d: %lld events produced, %lld delivered", (int)p,
                      (long long)part->txn_events, (long long)part->txn_delivered);
            return PRODUCER_RECORDS_ABORT;
        }
        /* n distinct offsets among n consecutive ones: exactly those, in the
         * order produced (idempotence keeps a partition's order). */
        if (part->txn_first_offset >= 0 && part->txn_events > 0 &&
            (part->txn_min_offset != part->txn_first_offset ||
             part->txn_max_offset != part->txn_first_offset + part->txn_events - 1)) {
            LOG_WARN("partition %d: events landed at offsets %lld..%lld, not %lld..%lld as "
                     "predicted (another writer?): the transaction is aborted",
                     (int)p, (long long)part->txn_min_offset, (long long)part->txn_max_offset,
                     (long long)part->txn_first_offset,
                     (long long)(part->txn_first_offset + part->txn_events - 1));
            return PRODUCER_RECORDS_ABORT;
        }
    }
    if (svc->mispredicted) {
        LOG_WARN("an event did not land at the position its result names: the transaction is "
                 "aborted");
        return PRODUCER_RECORDS_ABORT;
    }
    return PRODUCER_RECORDS_OK;
}

void producer_records_committed(producer_service *svc) {
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        if (part->active && part->txn_events > 0)
            part->append_offset = part->txn_max_offset + 2; /* + the commit marker */
    }
}

typedef struct records_evict_ctx {
    producer_service *svc;
    int32_t partition;
} records_evict_ctx;

/* An entry left the window: its own record's tombstone, or its set's when
 * it was the set's last; an entry kept by its event needs none. */
static void records_evicted(void *opaque, const char *id, size_t len, uint32_t tag) {
    records_evict_ctx *ctx = opaque;
    char key[PRODUCER_DEDUP_ID_MAX + 8];
    int key_len = 0;
    if (tag == PRODUCER_DEDUP_TAG_LOG) {
        return;
    } else if (tag == PRODUCER_DEDUP_TAG_OWN) {
        key_len = snprintf(key, sizeof(key), "cmd/%.*s", (int)len, id);
    } else {
        const char *set =
            producer_dedup_sets_leave(ctx->svc->parts[ctx->partition].dedup_sets, tag);
        if (set == NULL)
            return;
        key_len = snprintf(key, sizeof(key), "%s", set);
    }
    if (records_produce(ctx->svc, ctx->svc->rkt_snapshots, ctx->partition, key, (size_t)key_len,
                        NULL, 0, NULL) != 0)
        ctx->svc->produce_failed = true;
}

/* Ages every owned window; tombstones go out in this transaction. */
static int records_expire(producer_service *svc) {
    int64_t cutoff = service_wall_ms() - svc->dedup_window_ms;
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        if (!part->active)
            continue;
        records_evict_ctx ctx = {.svc = svc, .partition = p};
        size_t n = producer_dedup_expire_tagged(part->dedup, cutoff, svc->dedup_max_entries,
                                                records_evicted, &ctx);
        producer_dedup_sets_trim(part->dedup_sets);
        if (n > 0)
            LOG_DEBUG("partition %d: %zu command ids left the dedup window", (int)p, n);
        if (svc->produce_failed)
            return PRODUCER_RECORDS_ABORT;
    }
    return PRODUCER_RECORDS_OK;
}

/* Entries in one set record: as many as surely fit in --snapshot-max-bytes
 * (a result encodes to at most LEDGER_CODEC_RESULT_MAX bytes), at most
 * RECORDS_SET_MAX. */
#define RECORDS_SET_MAX 1000

static size_t records_set_capacity(const producer_service *svc) {
    size_t n = (svc->snapshot_max_bytes - 256) / (LEDGER_CODEC_RESULT_MAX + 32);
    return n < 1 ? 1 : n > RECORDS_SET_MAX ? RECORDS_SET_MAX : n;
}

/* Writes one set record of cmds[0..n) on part's snapshots partition and
 * moves its entries there. */
static int records_set_out(producer_service *svc, producer_partition *part, snapshot_command *cmds,
                           size_t n, uint8_t *buf, size_t buf_size) {
    char why[256], uuid[LEDGER_UUID_BUF];
    ledger_snapshot set = {.partition = part->id,
                           .events_offset =
                               part->next_events_offset > 0 ? part->next_events_offset : 0,
                           .command_count = n,
                           .commands = cmds};
    size_t len = 0;
    if (ledger_codec_encode_snapshot(svc->codec, &set, buf, buf_size, &len, why, sizeof(why)) !=
        0) {
        LOG_ERROR("cannot encode a dedup set of %zu entries: %s", n, why);
        return PRODUCER_RECORDS_FATAL;
    }
    if (records_uuid(svc, uuid) != PRODUCER_RECORDS_OK)
        return PRODUCER_RECORDS_FATAL;
    char key[PRODUCER_DEDUP_SET_KEY_MAX + 1];
    int key_len = snprintf(key, sizeof(key), PRODUCER_DEDUP_SET_PREFIX "%s", uuid);
    uint32_t tag = 0;
    if (producer_dedup_sets_add(part->dedup_sets, key, (size_t)key_len, &tag) != 0) {
        LOG_ERROR("out of memory for the dedup sets of partition %d", (int)part->id);
        return PRODUCER_RECORDS_FATAL;
    }
    if (records_produce(svc, svc->rkt_snapshots, part->id, key, (size_t)key_len, buf, len, NULL) !=
        0)
        return PRODUCER_RECORDS_ABORT;
    for (size_t i = 0; i < n; i++) {
        const char *id = cmds[i].result.command_id;
        if (producer_dedup_set_tag(part->dedup, id,
                                   ledger_id_len(id, sizeof(cmds[i].result.command_id)), tag))
            producer_dedup_sets_join(part->dedup_sets, tag);
    }
    return PRODUCER_RECORDS_OK;
}

/* Writes the partition's pending entries (kept by their events only) into
 * set records, in this transaction: all of them before a snapshot, whose
 * restore replays only the events after it (`all`), and full sets whenever
 * a set's worth is pending, so that sets stay small and regular. */
static int records_persist(producer_service *svc, producer_partition *part, bool all) {
    size_t cap = records_set_capacity(svc);
    size_t pending = producer_dedup_sets_pending(part->dedup_sets);
    if (pending == 0 || (!all && pending < cap))
        return PRODUCER_RECORDS_OK;
    snapshot_command *cmds = calloc(cap, sizeof(*cmds));
    uint8_t *buf = malloc(svc->snapshot_max_bytes);
    int rc = PRODUCER_RECORDS_OK;
    if (cmds == NULL || buf == NULL) {
        LOG_ERROR("out of memory writing the dedup sets of partition %d", (int)part->id);
        rc = PRODUCER_RECORDS_FATAL;
        goto cleanup;
    }
    /* set_start: where the ids of the set being filled begin; without
     * `all`, a last set that is not full stays pending from there. */
    size_t n = 0, cursor = 0, set_start = 0, id_len = 0, written = 0;
    const char *id = NULL;
    while (rc == PRODUCER_RECORDS_OK &&
           producer_dedup_sets_next(part->dedup_sets, &cursor, &id, &id_len)) {
        const uint8_t *value = NULL;
        size_t value_len = 0;
        int64_t handled_at = 0;
        uint32_t tag = 0;
        /* Gone from the window, or in a set already (an id pended twice). */
        if (!producer_dedup_find_tagged(part->dedup, id, id_len, &value, &value_len, &handled_at,
                                        &tag) ||
            tag != PRODUCER_DEDUP_TAG_LOG)
            continue;
        char why[256];
        cmds[n].handled_at_ms = handled_at;
        if (ledger_codec_decode_result(svc->codec, value, value_len, &cmds[n].result, why,
                                       sizeof(why)) != 0) {
            LOG_ERROR("cannot decode the remembered result of '%.*s': %s", (int)id_len, id, why);
            rc = PRODUCER_RECORDS_FATAL;
            break;
        }
        /* Marked at once, so that an id pended twice goes into one set only;
         * records_set_out gives it its set's tag (on an abort the partition
         * is restored anyway). */
        producer_dedup_set_tag(part->dedup, id, id_len, PRODUCER_DEDUP_TAG_OWN);
        if (++n == cap) {
            rc = records_set_out(svc, part, cmds, n, buf, svc->snapshot_max_bytes);
            written += n;
            n = 0;
            set_start = cursor;
        }
    }
    if (rc == PRODUCER_RECORDS_OK && n > 0) {
        if (all) {
            rc = records_set_out(svc, part, cmds, n, buf, svc->snapshot_max_bytes);
            written += n;
            set_start = cursor;
        } else {
            for (size_t i = 0; i < n; i++) { /* pending again, as they were */
                const char *cid = cmds[i].result.command_id;
                producer_dedup_set_tag(part->dedup, cid,
                                       ledger_id_len(cid, sizeof(cmds[i].result.command_id)),
                                       PRODUCER_DEDUP_TAG_LOG);
            }
        }
    }
    if (rc == PRODUCER_RECORDS_OK) {
        producer_dedup_sets_drop_pending(part->dedup_sets, set_start);
        LOG_DEBUG("partition %d: %zu dedup entries written into sets, %zu pending", (int)part->id,
                  written, producer_dedup_sets_pending(part->dedup_sets));
    }

cleanup:
    free(cmds);
    free(buf);
    return rc;
}

static int records_snapshot(producer_service *svc, producer_partition *part) {
    int prc = records_persist(svc, part, true);
    if (prc != PRODUCER_RECORDS_OK)
        return prc;
    producer_snapshot_written w;
    int rc = producer_snapshot_write(svc->codec, svc->producer, svc->rkt_snapshots, part,
                                     svc->snapshot_max_bytes, &svc->snap_scratch, &w);
    if (rc == PRODUCER_SNAPSHOT_FATAL)
        return PRODUCER_RECORDS_FATAL;
    if (rc != PRODUCER_SNAPSHOT_OK)
        return PRODUCER_RECORDS_ABORT;
    part->events_since_snapshot = 0;
    part->last_snapshot_ms = service_now_ms();
    producer_ops_snapshot(svc->ops);
    LOG_INFO("partition %d snapshot: %zu accounts up to events offset %lld in %zu chunk(s) of "
             "%zu bytes (epoch %s, %zu stale chunk keys deleted)",
             (int)part->id, w.accounts, (long long)part->next_events_offset, w.chunks, w.bytes,
             w.epoch, w.tombstones);
    return PRODUCER_RECORDS_OK;
}

static int records_snapshots(producer_service *svc) {
    int64_t now = service_now_ms();
    size_t set_cap = records_set_capacity(svc);
    for (int32_t p = 0; p < svc->partition_count; p++) {
        producer_partition *part = &svc->parts[p];
        if (part->active && producer_dedup_sets_pending(part->dedup_sets) >= set_cap) {
            int rc = records_persist(svc, part, false);
            if (rc != PRODUCER_RECORDS_OK)
                return rc;
        }
        if (!part->active || part->events_since_snapshot == 0 || part->next_events_offset < 0)
            continue;
        if (part->events_since_snapshot < svc->snapshot_every &&
            now - part->last_snapshot_ms < svc->snapshot_interval_ms)
            continue;
        int rc = records_snapshot(svc, part);
        if (rc != PRODUCER_RECORDS_OK)
            return rc;
    }
    return PRODUCER_RECORDS_OK;
}

int producer_records_finish(producer_service *svc) {
    int rc = records_results(svc, true);
    if (rc == PRODUCER_RECORDS_OK)
        rc = records_expire(svc);
    if (rc == PRODUCER_RECORDS_OK)
        rc = records_snapshots(svc);
    return rc;
}
