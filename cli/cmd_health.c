/*
 * cmd_health.c - `ledger health`: one GET /healthz against a service's
 * operations endpoint (edge/http_ops.h), answered with an exit code.
 *
 * It exists so that the container image needs no curl or wget for its
 * healthchecks: compose runs `ledger health` inside each service's
 * container, where LEDGER_HTTP_PORT already names the port the service
 * serves on. Plain HTTP/1.1 over one short-lived connection is all a probe
 * needs, so this is a few sockets calls with one deadline for the whole
 * exchange rather than an HTTP client library. The three outcomes a
 * healthcheck must tell apart get three exit codes: ready (0), answering
 * but not ready (1), and not answering at all (3).
 */
#include "cmd_health.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "errstr.h"
#include "json_out.h"

#define HEALTH_PATH "/healthz"
/* The endpoint answers "ready\n" or "not ready: <why>\n": a few hundred
 * bytes with the headers; anything past this is not read. */
#define HEALTH_RESPONSE_MAX 4096
#define HEALTH_BODY_MAX     256

static const ledger_config_setting health_settings[] = {
    {.name = "host",
     .flag = "host",
     .type = LEDGER_CONFIG_STRING,
     .def = "127.0.0.1",
     .min = 1,
     .max = 255,
     .metavar = "HOST",
     .help = "host of the service's operations endpoint"},
    {.name = "port",
     .env = "LEDGER_HTTP_PORT",
     .flag = "port",
     .type = LEDGER_CONFIG_INT,
     .def = NULL,
     .min = 1,
     .max = 65535,
     .metavar = "PORT",
     .help = "port of the service's operations endpoint (the service reads the same variable)"},
    {.name = "timeout",
     .flag = "timeout",
     .type = LEDGER_CONFIG_DURATION,
     .def = "3s",
     .min = 1,
     .max = 600000,
     .metavar = "SECONDS",
     .help = "how long the whole exchange may take (seconds, or 500ms); then exit 3"},
    LEDGER_CONFIG_END,
};

/* Waits until fd is ready for `events` or the deadline passes. Returns 0
 * when ready, -1 with errstr otherwise. */
static int wait_fd(int fd, short events, int64_t deadline_ms, char *errstr, size_t errstr_size) {
    for (;;) {
        int64_t left = deadline_ms - ledger_mono_ms();
        if (left <= 0) {
            ledger_errf(errstr, errstr_size, "timed out");
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            ledger_errf(errstr, errstr_size, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

/* Connects to one of the host's addresses before the deadline. Returns the
 * connected non-blocking socket, or -1 with the last address's error. */
static int connect_any(const char *host, int port, int64_t deadline_ms, char *errstr,
                       size_t errstr_size) {
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0) {
        ledger_errf(errstr, errstr_size, "cannot resolve '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    ledger_errf(errstr, errstr_size, "no address for '%s'", host);
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            ledger_errf(errstr, errstr_size, "socket: %s", strerror(errno));
            continue;
        }
        int err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                socklen_t len = sizeof(err);
                if (wait_fd(fd, POLLOUT, deadline_ms, errstr, errstr_size) != 0) {
                    close(fd);
                    fd = -1;
                    break; /* the deadline is shared: no time left for another address */
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    err = errno;
            }
        }
        if (err == 0)
            break;
        ledger_errf(errstr, errstr_size, "%s", strerror(err));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    return fd;
}

/* Sends all of buf before the deadline. Returns 0, or -1 with errstr. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline_ms, char *errstr,
                    size_t errstr_size) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ledger_errf(errstr, errstr_size, "send: %s", strerror(errno));
            return -1;
        }
        if (wait_fd(fd, POLLOUT, deadline_ms, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

/* Reads until the peer closes (the request asked it to), the buffer is full
 * or the deadline passes. Returns the length read, or -1 with errstr. */
static ssize_t recv_all(int fd, char *buf, size_t size, int64_t deadline_ms, char *errstr,
                        size_t errstr_size) {
    size_t len = 0;
    while (len < size) {
        ssize_t n = recv(fd, buf + len, size - len, 0);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ledger_errf(errstr, errstr_size, "recv: %s", strerror(errno));
            return -1;
        }
        if (wait_fd(fd, POLLIN, deadline_ms, errstr, errstr_size) != 0)
            return -1;
    }
    return (ssize_t)len;
}

/* Parses "HTTP/1.x NNN ..." and copies the body's first line into body.
 * Returns the status, or -1 when the response is not HTTP. */
static int parse_response(const char *resp, size_t len, char *body, size_t body_size) {
    body[0] = '\0';
    if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (resp[i] < '0' || resp[i] > '9')
            return -1;
        status = status * 10 + (resp[i] - '0');
    }
    const char *end = resp + len;
    const char *start = NULL;
    for (const char *p = resp; p + 4 <= end; p++) {
        if (memcmp(p, "\r\n\r\n", 4) == 0) {
            start = p + 4;
            break;
        }
    }
    if (start != NULL) {
        size_t n = 0;
        while (start + n < end && start[n] != '\n' && start[n] != '\r' && n + 1 < body_size)
            n++;
        memcpy(body, start, n);
        body[n] = '\0';
    }
    return status;
}

/* One GET of HEALTH_PATH. Returns the HTTP status with the body's first
 * line in body, or -1 with errstr when nothing usable answered in time. */
static int health_get(const char *host, int port, int64_t timeout_ms, char *body, size_t body_size,
                      char *errstr, size_t errstr_size) {
    int64_t deadline_ms = ledger_mono_ms() + timeout_ms;
    int fd = connect_any(host, port, deadline_ms, errstr, errstr_size);
    if (fd < 0)
        return -1;
    int status = -1;
    char request[512];
    int len =
        snprintf(request, sizeof(request),
                 "GET " HEALTH_PATH " HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: ledger-health\r\n"
                 "Connection: close\r\n\r\n",
                 host, port);
    char resp[HEALTH_RESPONSE_MAX];
    if (len < 0 || (size_t)len >= sizeof(request)) {
        ledger_errf(errstr, errstr_size, "host name too long");
        goto cleanup;
    }
    if (send_all(fd, request, (size_t)len, deadline_ms, errstr, errstr_size) != 0)
        goto cleanup;
    ssize_t got = recv_all(fd, resp, sizeof(resp), deadline_ms, errstr, errstr_size);
    if (got < 0)
        goto cleanup;
    status = parse_response(resp, (size_t)got, body, body_size);
    if (status < 0)
        ledger_errf(errstr, errstr_size, "the answer is not an HTTP response");

cleanup:
    close(fd);
    return status;
}

static int run_health(const ledger_config *cfg, const void *unused) {
    (void)unused;
    if (ledger_config_positional_count(cfg) > 0) {
        fprintf(stderr, "ledger: unexpected argument '%s'\n", ledger_config_positional(cfg, 0));
        return CLI_EXIT_USAGE;
    }
    if (!ledger_config_is_set(cfg, "port")) {
        fprintf(stderr, "ledger: missing port: give --port or set LEDGER_HTTP_PORT\n");
        return CLI_EXIT_USAGE;
    }
    const char *host = ledger_config_str(cfg, "host");
    int port = (int)ledger_config_int(cfg, "port");
    /* An IPv6 literal needs brackets in a URL. */
    bool v6 = strchr(host, ':') != NULL;
    char url[320];
    snprintf(url, sizeof(url), "http://%s%s%s:%d" HEALTH_PATH, v6 ? "[" : "", host, v6 ? "]" : "",
             port);

    char body[HEALTH_BODY_MAX], errstr[512];
    int status = health_get(host, port, ledger_config_duration_ms(cfg, "timeout"), body,
                            sizeof(body), errstr, sizeof(errstr));
    if (status < 0) {
        fprintf(stderr, "ledger: %s: %s\n", url, errstr);
        return CLI_EXIT_INFRA;
    }
    char line[1024];
    json_out j;
    json_out_init(&j, line, sizeof(line));
    json_out_object_begin(&j);
    json_out_key(&j, "url");
    json_out_string(&j, url);
    json_out_key(&j, "status");
    json_out_int(&j, status);
    json_out_key(&j, "ready");
    json_out_bool(&j, status == 200);
    json_out_key(&j, "body");
    json_out_string(&j, body);
    json_out_object_end(&j);
    if (json_out_ok(&j))
        printf("%s\n", json_out_text(&j));
    return status == 200 ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}

int cmd_health(int argc, char **argv) {
    const ledger_config_setting *const tables[] = {health_settings, ledger_config_common_settings,
                                                   NULL};
    return cli_run(
        "ledger health", tables, argc, argv, "ledger health [--host HOST] [--port PORT] [options]",
        "GETs http://HOST:PORT/healthz of a running service (ledger-producer or\n"
        "ledger-projector started with LEDGER_HTTP_PORT) and prints\n"
        "{\"url\":...,\"status\":200,\"ready\":true,\"body\":\"ready\"}.\n"
        "Exit 0 when it answers 200 (ready), 1 when it answers another status (503\n"
        "until its partitions are restored or assigned), 3 when nothing answers in time.\n"
        "The compose healthchecks run it inside each service's container.",
        run_health, NULL);
}
