/*
 * cmd_command.h - `ledger open|deposit|withdraw|transfer|close`: one
 * command, checked on the client, sent to the commands topic, and its
 * result waited for and printed (SPEC sections 5 and 8).
 */
#ifndef LEDGER_CMD_COMMAND_H
#define LEDGER_CMD_COMMAND_H

/* Each takes argv[0] = its own name and returns the exit code of SPEC
 * section 8: 0 accepted, 1 rejected, 2 bad usage or input (nothing sent,
 * no connection made), 3 Kafka unreachable or no result within --timeout. */
int cmd_open(int argc, char **argv);
int cmd_deposit(int argc, char **argv);
int cmd_withdraw(int argc, char **argv);
int cmd_transfer(int argc, char **argv);
int cmd_close(int argc, char **argv);

#endif
