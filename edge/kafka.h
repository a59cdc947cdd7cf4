/*
 * kafka.h - what every program needs from Kafka besides producing and
 * consuming: client configurations built the same way everywhere, the topic
 * names, a reachability check, idempotent topic creation, and the Java
 * client's key-to-partition function.
 *
 * Partitioning (SPEC section 3): every producer uses
 * partitioner=murmur2_random, which places a non-NULL key exactly where the
 * Java client's default partitioner does (Utils.murmur2, then toPositive(h) %
 * partitions), so an account's commands and events share a partition number
 * whichever client wrote them. ledger_partition_for_key computes the same
 * partition without producing. (murmur2_random sends a NULL key to a random
 * partition; the empty key "" is hashed like any other.)
 */
#ifndef LEDGER_KAFKA_H
#define LEDGER_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

typedef enum ledger_kafka_role {
    LEDGER_KAFKA_PRODUCER, /* partitioner=murmur2_random is set and cannot be overridden */
    LEDGER_KAFKA_CONSUMER,
    LEDGER_KAFKA_ADMIN, /* metadata and Admin API requests only */
} ledger_kafka_role;

/* A new librdkafka configuration for `role`: bootstrap.servers = brokers, the
 * log callback routed through log.h, partitioner=murmur2_random for
 * producers, then the -X properties of `cfg` in order (cfg may be NULL;
 * ledger_config_load has already refused a -X partitioner other than
 * murmur2_random). Returns a conf the caller owns
 * (rd_kafka_new takes it over on success; otherwise rd_kafka_conf_destroy),
 * or NULL with errstr. */
rd_kafka_conf_t *ledger_kafka_conf_new(const char *brokers, ledger_kafka_role role,
                                       const ledger_config *cfg, char *errstr, size_t errstr_size);

/* Prints the effective configuration for `-X dump`: ledger_config_dump, then
 * every librdkafka property of the producer configuration built from cfg's
 * "brokers" and -X properties (passwords masked). Returns 0, or -1 with
 * errstr. cfg must declare ledger_config_kafka_settings. */
int ledger_kafka_conf_dump(const ledger_config *cfg, FILE *out, char *errstr, size_t errstr_size);

/* ---- topics ---- */

typedef enum ledger_kafka_topic {
    LEDGER_KAFKA_TOPIC_COMMANDS,
    LEDGER_KAFKA_TOPIC_EVENTS,
    LEDGER_KAFKA_TOPIC_COMMAND_RESULTS,
    LEDGER_KAFKA_TOPIC_SNAPSHOTS,
    LEDGER_KAFKA_TOPIC_EVENTS_DLQ,
    LEDGER_KAFKA_TOPIC_COUNT
} ledger_kafka_topic;

/* Kafka's longest topic name is 249 characters. */
#define LEDGER_KAFKA_TOPIC_NAME_BUF     250
#define LEDGER_KAFKA_DEFAULT_PARTITIONS 6

/* "commands", "events", "command-results", "snapshots", "events.dlq". */
const char *ledger_kafka_topic_suffix(ledger_kafka_topic topic);

/* prefix + suffix into buf ("ledger." gives "ledger.events"). Returns 0, or
 * -1 when the name would exceed 249 characters or buf. */
int ledger_kafka_topic_name(const char *prefix, ledger_kafka_topic topic, char *buf, size_t size);

#define LEDGER_KAFKA_TOPIC_CONFIG_MAX 4

/* What to create: a caller-allocated value (see _init). Config keys and
 * values are borrowed (static strings in practice). */
typedef struct ledger_kafka_topic_spec {
    char name[LEDGER_KAFKA_TOPIC_NAME_BUF];
    int partitions;
    int replication_factor;
    size_t config_count;
    struct {
        const char *key;
        const char *value;
    } config[LEDGER_KAFKA_TOPIC_CONFIG_MAX];
} ledger_kafka_topic_spec;

/* A spec with no topic configs. Returns 0, or -1 when the name is too long. */
int ledger_kafka_topic_spec_init(ledger_kafka_topic_spec *spec, const char *name, int partitions,
                                 int replication_factor);

/* The five ledger topics with their settings (SPEC section 3): events kept
 * forever and never compacted (retention.ms=-1, retention.bytes=-1,
 * cleanup.policy=delete), snapshots compacted, the DLQ kept forever.
 * `specs` must hold LEDGER_KAFKA_TOPIC_COUNT, in ledger_kafka_topic order.
 * Returns 0, or -1 with errstr when a name is too long. */
int ledger_kafka_ledger_topic_specs(const char *prefix, int partitions, int replication_factor,
                                    ledger_kafka_topic_spec *specs, char *errstr,
                                    size_t errstr_size);

/* The fate of one topic in ledger_kafka_create_topics. */
typedef struct ledger_kafka_topic_outcome {
    rd_kafka_resp_err_t err; /* NO_ERROR: created; TOPIC_ALREADY_EXISTS: was there */
    int partitions;          /* as the broker's metadata shows it, -1 if unknown */
    char errstr[256];        /* the broker's or librdkafka's message when it failed */
} ledger_kafka_topic_outcome;

/* Creates the `n` topics with the Admin API (rd_kafka_CreateTopics), then
 * waits, within the same timeout, until the broker's metadata shows each
 * with a leader for every partition, so a client can use them at once. A
 * topic that already exists counts as success (its settings are left as
 * they are; outcomes[i].partitions says how many it has). `outcomes` holds
 * n. Returns 0 when every topic exists, or -1 with errstr naming the first
 * failure (each outcome says its own; a broker that cannot be reached fails
 * every topic with a local error such as RD_KAFKA_RESP_ERR__TIMED_OUT). */
int ledger_kafka_create_topics(const char *brokers, const ledger_config *cfg,
                               const ledger_kafka_topic_spec *specs, size_t n, int timeout_ms,
                               ledger_kafka_topic_outcome *outcomes, char *errstr,
                               size_t errstr_size);

/* For a service, which may start before Kafka does (a container up first):
 * the ledger's topics (ledger_kafka_ledger_topic_specs from cfg's
 * topic_prefix, partitions and replication_factor) created when missing,
 * retried until the broker answers or *stop is raised. Each attempt gets
 * 2 s, so a stop is seen within that; each failure is logged (WARN) and
 * followed by a pause that doubles from 500 ms to 8 s. `outcomes` holds
 * LEDGER_KAFKA_TOPIC_COUNT. Returns 0, 1 when stopped, or -1 with errstr
 * when no retry can mend it (a name too long for the prefix). */
int ledger_kafka_ensure_ledger_topics(const ledger_config *cfg, volatile sig_atomic_t *stop,
                                      ledger_kafka_topic_outcome *outcomes, char *errstr,
                                      size_t errstr_size);

/* True when err is a local or transport failure (the cluster could not be
 * asked) rather than the broker refusing the request. */
int ledger_kafka_err_is_unreachable(rd_kafka_resp_err_t err);

/* Where a consumer of `partition` of `topic` (rk's) starts when it has no
 * stored position: the partition's first offset, looked up here within
 * timeout_ms, to assign rather than RD_KAFKA_OFFSET_BEGINNING. librdkafka
 * 2.0.2 often drops the answer to its own lookup for OFFSET_BEGINNING (a
 * resume right after the assignment outdates it) and asks again only 500 ms
 * later: the first half second of about half of the catch-ups from zero.
 * Returns RD_KAFKA_OFFSET_BEGINNING (librdkafka's own lookup) when this one
 * fails. */
int64_t ledger_kafka_first_offset(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int timeout_ms);

/* ---- reachability ---- */

/* Asks `brokers` for metadata (rd_kafka_metadata) within timeout_ms. Returns
 * 0 when a broker answered, or -1 with errstr saying what failed, e.g.
 * "no answer from '127.0.0.1:9092' within 5000 ms: Local: Broker transport
 * failure (... Connection refused ...)". */
int ledger_kafka_ping(const char *brokers, int timeout_ms, char *errstr, size_t errstr_size);

/* ledger_kafka_ping with the -X properties of cfg (security settings). */
int ledger_kafka_ping_cfg(const char *brokers, const ledger_config *cfg, int timeout_ms,
                          char *errstr, size_t errstr_size);

/* ---- partitioning ---- */

/* Kafka's Utils.murmur2 (the Java client, seed 0x9747b28c), as the signed
 * 32-bit value Java returns. Pure. */
int32_t ledger_kafka_murmur2(const void *data, size_t len);

/* The partition the Java client's default partitioner (and librdkafka's
 * murmur2 / murmur2_random for non-NULL keys) gives `key`:
 * (murmur2(key) & 0x7fffffff) % partition_count. Returns -1 when
 * partition_count < 1. Pure. */
int32_t ledger_partition_for_key(const void *key, size_t len, int32_t partition_count);

/* ---- closing a group consumer ---- */

/* The services' bound for that close at exit: a container runtime's stop
 * grace period is often 10 s. */
#define LEDGER_KAFKA_CLOSE_MS 5000

/* A rebalance callback, as rd_kafka_conf_set_rebalance_cb takes it. */
typedef void ledger_kafka_rebalance_fn(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                       rd_kafka_topic_partition_list_t *partitions, void *opaque);

/* rd_kafka_consumer_close, then rd_kafka_destroy, within about timeout_ms
 * even when the brokers are gone: librdkafka 2.0.2's close waits without
 * a limit for the group coordinator (a projector whose Kafka went away
 * ignored SIGTERM for as long as we watched). The close runs in the
 * background (rd_kafka_consumer_close_queue) and its queue is served here;
 * a rebalance it emits (the revocation) goes to `rebalance` (with opaque),
 * the program's own callback, as a plain close would have called it
 * (NULL: the partitions are simply given up). Returns 0 when the close
 * completed and rk is destroyed; -1 after the timeout (logged), when rk is
 * abandoned, not destroyed: librdkafka's destroy waits for the coordinator
 * too. For a process on its way out only; rk must not be used after either
 * way. */
int ledger_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms,
                                ledger_kafka_rebalance_fn *rebalance, void *opaque);

#endif
