/*
 * cmd_history.h - `ledger history ACCOUNT [--at TIME]`: an account's state
 * folded straight from the events topic, now or as of a past time (SPEC
 * section 8, "time travel"). Needs no Redis and no projector.
 */
#ifndef LEDGER_CMD_HISTORY_H
#define LEDGER_CMD_HISTORY_H

/* argv[0] = "history". Prints {"account","balance","version","status",
 * "as_of"} and returns 0; {"account":"A","error":"not_found"} and 1 when the
 * account has no events (up to TIME); 2 on bad usage or input; 3 when Kafka
 * cannot be read in time or the account's own log is corrupt (an event of
 * it that does not decode, a gap in its seq). */
int cmd_history(int argc, char **argv);

#endif
