/*
 * cmd_wait.h - `ledger wait [--view V] [--timeout SECONDS]`: returns once
 * the system is quiet (SPEC section 8).
 */
#ifndef LEDGER_CMD_WAIT_H
#define LEDGER_CMD_WAIT_H

/* argv[0] is "wait". Returns 0 once every command submitted before the
 * call has been handled (transfer credit sides included) and the views
 * (all, or --view) have applied every resulting event, printing one JSON
 * line; 2 for bad usage; 3 on timeout or when Kafka or Redis cannot be
 * reached. */
int cmd_wait(int argc, char **argv);

#endif
