/*
 * cmd_statement.h - `ledger statement ACCOUNT YYYY-MM`: one month of an
 * account's statement, read from the statements view in Redis (SPEC
 * section 7; layout in projectors/views/statements_view.h).
 */
#ifndef LEDGER_CMD_STATEMENT_H
#define LEDGER_CMD_STATEMENT_H

/* argv[0] = "statement". Prints
 *   {"account","month","opening_balance","closing_balance","total_in",
 *    "total_out","entries":[...]} (+ "stale":true when quarantined)
 * and returns 0; {"account":"A","error":"not_found"} and 1 for an account the
 * view has never seen; 2 on bad usage, a bad account or month; 3 when Redis
 * cannot be reached or read, or --after times out. */
int cmd_statement(int argc, char **argv);

#endif
