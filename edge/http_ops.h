/*
 * http_ops.h - the operations endpoint of a service: GET /healthz and GET
 * /metrics over plain HTTP/1.1 (one request per connection is enough for a
 * probe or a Prometheus scrape), served by one thread of its own so a busy
 * batch never delays a scrape.
 *
 *   /healthz  200 "ready\n" once ledger_metrics_set_ready(m, true, ...),
 *             503 "not ready: <why>\n" before
 *   /metrics  200, Content-Type: text/plain; version=0.0.4
 *   other     404; a method other than GET or HEAD: 405
 *
 * Settings (ledger_config_ops_settings in config.h): http_port
 * (LEDGER_HTTP_PORT, --http-port; unset = no endpoint, 0 = any free port,
 * logged) and http_bind
 * (LEDGER_HTTP_BIND, --http-bind, default 0.0.0.0 so a container's port can
 * be published).
 *
 * Ownership: the server borrows the registry; stop the server (destroy)
 * before destroying the registry.
 */
#ifndef LEDGER_HTTP_OPS_H
#define LEDGER_HTTP_OPS_H

#include <stddef.h>

#include "metrics.h"

typedef struct ledger_http_ops ledger_http_ops;

/* Binds bind_host:port (port 0 picks a free port: see ledger_http_ops_port)
 * and starts serving; logs "operations endpoint on HOST:PORT (GET /healthz,
 * /metrics)" at INFO with the port actually bound. Returns NULL with a
 * message in errstr naming the address ("cannot listen on 'HOST:PORT': ...")
 * when it cannot bind or start. The serving thread blocks every signal and
 * writes with MSG_NOSIGNAL; a connection gets 2 s to send its request. */
ledger_http_ops *ledger_http_ops_start(const char *bind_host, int port, ledger_metrics *m,
                                       char *errstr, size_t errstr_size);
/* The port actually bound. */
int ledger_http_ops_port(const ledger_http_ops *h);
/* Stops the thread, closes the socket, frees. NULL is a no-op. */
void ledger_http_ops_destroy(ledger_http_ops *h);

#endif
