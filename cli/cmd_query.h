/*
 * cmd_query.h - `ledger balance ACCOUNT [--after P:O] [--timeout SECONDS]`:
 * an account's balance as the balance view holds it (SPEC sections 7, 8).
 */
#ifndef LEDGER_CMD_QUERY_H
#define LEDGER_CMD_QUERY_H

/* argv[0] is "balance". Prints one JSON line; returns 0 when found, 1 when
 * not found, 2 for bad usage or input, 3 when Redis cannot be reached or
 * --after times out. */
int cmd_balance(int argc, char **argv);

#endif
