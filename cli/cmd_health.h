/*
 * cmd_health.h - `ledger health`: asks a running service's operations
 * endpoint whether it is ready (GET /healthz), for container healthchecks
 * and scripts that must not need curl in the image.
 */
#ifndef LEDGER_CMD_HEALTH_H
#define LEDGER_CMD_HEALTH_H

/* `ledger health [--host HOST] [--port PORT] [--timeout SECONDS]`: argv[0]
 * is "health". The port defaults to LEDGER_HTTP_PORT, the variable the
 * service itself reads, so a healthcheck inside the service's container
 * needs no argument. Returns an exit code: 0 the service answered 200
 * (ready), 1 it answered another status (503 while not ready), 2 bad usage,
 * 3 nothing answered in time (refused, unreachable, timeout, not HTTP). */
int cmd_health(int argc, char **argv);

#endif
