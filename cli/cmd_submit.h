/*
 * cmd_submit.h - `ledger submit`: JSON lines of commands on stdin, one
 * result line per input line on stdout, in input order, pipelined.
 */
#ifndef LEDGER_CMD_SUBMIT_H
#define LEDGER_CMD_SUBMIT_H

/* argv[0] = "submit". Returns 0 when every input line got a result line
 * (rejections included), 2 on bad usage, 3 when Kafka cannot be reached or
 * some results did not come within --timeout. */
int cmd_submit(int argc, char **argv);

#endif
