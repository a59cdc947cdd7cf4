/*
 * cmd_admin.h - `ledger admin ping` and `ledger admin create-topics`, what
 * set-up scripts run before anything else.
 */
#ifndef LEDGER_CMD_ADMIN_H
#define LEDGER_CMD_ADMIN_H

/* `ledger admin <ping|create-topics> [options]`: argv[0] is "admin".
 * Returns an exit code: 0 done, 2 bad usage, 3 the broker could not be
 * reached or refused. */
int cmd_admin(int argc, char **argv);

#endif
