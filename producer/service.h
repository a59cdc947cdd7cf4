/*
 * service.h - the ledger-producer service: consumes ledger.commands, decides
 * every command with the pure core against the state of the partitions it
 * owns, and writes events, transfer steps, results, deduplication entries
 * and snapshots in one Kafka transaction per batch, together with the
 * consumed offsets (exactly once; KIP-447 fencing through the consumer
 * group's metadata). The topics and records are the command-side contract of
 * SPEC sections 3 and 5.
 *
 *     svc = producer_service_new(cfg, errstr, sizeof(errstr));
 *     exit_code = producer_service_run(svc, &stop);   // until *stop is set
 *     producer_service_destroy(svc);
 */
#ifndef LEDGER_PRODUCER_SERVICE_H
#define LEDGER_PRODUCER_SERVICE_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

/* The service's own settings (group id, transactional id prefix, batching,
 * snapshots, deduplication window, topic creation). A program composes them
 * with ledger_config_kafka_settings, ledger_config_topic_settings,
 * ledger_config_common_settings and ledger_config_ops_settings (the
 * operations endpoint, producer/ops.h). */
extern const ledger_config_setting producer_service_settings[];

typedef struct producer_service producer_service;

/* Builds the service from a loaded configuration (borrowed: it must outlive
 * the service): the codec, the consumer, the transactional producer and the
 * restore consumer. Nothing is sent to Kafka yet. Returns NULL with errstr
 * when a client cannot be configured. */
producer_service *producer_service_new(const ledger_config *cfg, char *errstr, size_t errstr_size);

/* Runs until *stop becomes non-zero (a signal handler sets it) or a fatal
 * error: creates missing topics, checks their partition counts, initialises
 * transactions, joins the group and handles batches. On stop it finishes
 * the current batch (commits it or aborts it) and leaves the group. Returns
 * the process exit code: 0 after a clean stop, 1 after a fatal error. */
int producer_service_run(producer_service *svc, volatile sig_atomic_t *stop);

/* Closes the clients and frees everything. Accepts NULL. */
void producer_service_destroy(producer_service *svc);

#endif
