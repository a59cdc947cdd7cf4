/*
 * records.h - the decisions and writes of one transaction (records.c), as
 * the service loop (service.c) drives them inside an open transaction:
 *
 *     producer_records_begin(svc)
 *     for each polled record: producer_records_handle(svc, msg)
 *     rd_kafka_flush(...)          -> producer_records_dr_cb fills or checks positions
 *     producer_records_check(svc)  -> every predicted position was right
 *     producer_records_finish(svc) -> remaining results, tombstones, snapshots
 *     (commit) producer_records_committed(svc)
 *
 * Each returns one of the outcomes below.
 */
#ifndef LEDGER_PRODUCER_RECORDS_H
#define LEDGER_PRODUCER_RECORDS_H

#include <librdkafka/rdkafka.h>

#include "service.h"

enum {
    PRODUCER_RECORDS_OK = 0,
    PRODUCER_RECORDS_ABORT = -1, /* Kafka refused a record: abort the transaction */
    PRODUCER_RECORDS_FATAL = -2, /* a bug or no memory: stop the service */
};

/* Resets the per-transaction bookkeeping (svc's batch is reset by the
 * caller): each partition's events offsets start where its append_offset
 * says, when known. */
void producer_records_begin(producer_service *svc);

/* Decides one record of ledger.commands (borrowed) and produces what it
 * causes, then the batch's results that are complete, in order; a result
 * whose event's position is not known yet waits in svc's batch (and every
 * later result behind it) until producer_records_finish. */
int producer_records_handle(producer_service *svc, const rd_kafka_message_t *msg);

/* After the flush: whether every event landed at the offset its result was
 * given (PRODUCER_RECORDS_OK), else PRODUCER_RECORDS_ABORT (logged). */
int producer_records_check(producer_service *svc);

/* After the flush and the check: produces the batch's remaining results,
 * deduplication entries, tombstones and due snapshots. */
int producer_records_finish(producer_service *svc);

/* After a successful commit: each partition written to learns the offset
 * its next event will get (past this transaction's commit marker). */
void producer_records_committed(producer_service *svc);

/* The producer's delivery report callback (rd_kafka_conf_set_dr_msg_cb,
 * with svc as the conf opaque): records the first failure, each partition's
 * next events offset and delivered offsets, and each result's position (or
 * checks the predicted one). */
void producer_records_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

#endif
