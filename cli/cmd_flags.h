/*
 * cmd_flags.h - `ledger flags ACCOUNT` and `ledger flagged`: the fraud view
 * in Redis (SPEC section 7; layout in projectors/views/fraud_view.h).
 */
#ifndef LEDGER_CMD_FLAGS_H
#define LEDGER_CMD_FLAGS_H

/* argv[0] = "flags". Prints {"account":"A","flags":[...]} (+ "stale":true
 * when quarantined) and returns 0 ("flags":[] for an account without
 * flags); {"account":"A","error":"not_found"} and 1 for an account the view
 * has never seen; 2 on bad usage or a bad account; 3 when Redis cannot be
 * reached or read, or --after times out. */
int cmd_flags(int argc, char **argv);

/* argv[0] = "flagged". Prints {"accounts":["A","B"]}, every account with at
 * least one flag, sorted (byte order), and returns 0; 2 on bad usage; 3 as
 * above. */
int cmd_flagged(int argc, char **argv);

#endif
