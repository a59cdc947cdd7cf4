/*
 * cmd_status.h - `ledger status [--view V]`: per view, its generation (and
 * a rebuild's), lag per partition and quarantined accounts (SPEC section 8).
 */
#ifndef LEDGER_CMD_STATUS_H
#define LEDGER_CMD_STATUS_H

/* argv[0] is "status". Prints one JSON line per view; returns 0, 2 for bad
 * usage (an unknown --view), 3 when Kafka or Redis cannot be reached. */
int cmd_status(int argc, char **argv);

#endif
