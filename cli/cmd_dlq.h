/*
 * cmd_dlq.h - `ledger dlq list | retry ACCOUNT | skip ACCOUNT --offset P:O`:
 * what the views hold in the dead-letter queue, and putting it back
 * (SPEC sections 7 and 8; the design is in projectors/dlq.h).
 */
#ifndef LEDGER_CMD_DLQ_H
#define LEDGER_CMD_DLQ_H

/* argv[0] = "dlq", argv[1] = list | retry | skip. Exit codes: 0 done (list;
 * retry and skip: the account left quarantine in every view concerned), 1
 * the account stays quarantined (a record still fails), or is not
 * quarantined, or holds no record at --offset; 2 bad usage; 3 Kafka or
 * Redis unreachable, or a held record missing from the DLQ topic. */
int cmd_dlq(int argc, char **argv);

#endif
