/*
 * http_ops.c - the operations endpoint: one thread, one connection at a time.
 *
 * Why so small a server: its clients are a container runtime's health probe
 * and a Prometheus scraper, a few requests a minute, each one short. So the
 * thread polls the listening socket and a stop pipe; it accepts a
 * connection, reads the request with a deadline (a client that connects and
 * says nothing is dropped after REQUEST_DEADLINE_MS, never holding the
 * thread), answers, and closes. The service's own threads only ever take the
 * registry's lock, briefly, to update it: nothing here can slow a batch.
 *
 * The thread blocks every signal, so SIGTERM and SIGINT keep reaching the
 * service's main thread (whose poll they must interrupt), and writes use
 * MSG_NOSIGNAL so a scraper hanging up mid-answer cannot raise SIGPIPE.
 */
#include "http_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errstr.h"
#include "log.h"

#define REQUEST_MAX         4096
#define REQUEST_DEADLINE_MS 2000
#define WRITE_DEADLINE_MS   5000

struct ledger_http_ops {
    ledger_metrics *metrics; /* borrowed */
    int listen_fd;
    int stop_pipe[2]; /* the thread polls [0]; destroy writes [1] */
    int port;
    pthread_t thread;
    bool thread_started;
};

/* Waits for `events` on fd, or for the stop pipe, until deadline_ms.
 * Returns 1 when fd is ready, 0 on timeout or stop, -1 on error. */
static int wait_fd(const ledger_http_ops *h, int fd, short events, long long deadline_ms) {
    for (;;) {
        long long left = deadline_ms - ledger_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd fds[2] = {{.fd = fd, .events = events},
                                {.fd = h->stop_pipe[0], .events = POLLIN}};
        int n = poll(fds, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (fds[1].revents != 0)
            return 0;
        if (fds[0].revents != 0)
            return 1;
    }
}

/* Reads until the end of the request's headers (or its first line, when a
 * client sends no headers), REQUEST_MAX bytes, EOF or the deadline. Returns
 * the bytes read, or -1 when no complete request line came. */
static ssize_t read_request(const ledger_http_ops *h, int fd, char *buf, size_t size) {
    long long deadline = ledger_mono_ms() + REQUEST_DEADLINE_MS;
    size_t used = 0;
    while (used < size - 1) {
        if (wait_fd(h, fd, POLLIN, deadline) != 1)
            break;
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
            break;
    }
    buf[used] = '\0';
    return strchr(buf, '\n') != NULL ? (ssize_t)used : -1;
}

static void write_all(const ledger_http_ops *h, int fd, const char *data, size_t len) {
    long long deadline = ledger_mono_ms() + WRITE_DEADLINE_MS;
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(h, fd, POLLOUT, deadline) != 1)
                return;
            continue;
        }
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void respond(const ledger_http_ops *h, int fd, int status, const char *reason,
                    const char *content_type, const char *extra_headers, const char *body,
                    size_t body_len, bool head) {
    char header[512];
    int n = snprintf(header, sizeof(header),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, reason, content_type, body_len, extra_headers);
    if (n < 0 || (size_t)n >= sizeof(header))
        return;
    write_all(h, fd, header, (size_t)n);
    if (!head && body_len > 0)
        write_all(h, fd, body, body_len);
}

static const char TEXT_PLAIN[] = "text/plain; charset=utf-8";

static void serve_metrics(const ledger_http_ops *h, int fd, bool head) {
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    int rc = -1;
    if (out != NULL) {
        rc = ledger_metrics_render(h->metrics, out);
        if (fclose(out) != 0)
            rc = -1;
    }
    if (rc == 0) {
        respond(h, fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", body, body_len,
                head);
    } else {
        static const char msg[] = "cannot render the metrics\n";
        respond(h, fd, 500, "Internal Server Error", TEXT_PLAIN, "", msg, sizeof(msg) - 1, head);
    }
    free(body);
}

static void serve_healthz(const ledger_http_ops *h, int fd, bool head) {
    char why[128];
    char body[160];
    if (ledger_metrics_ready(h->metrics, why, sizeof(why))) {
        respond(h, fd, 200, "OK", TEXT_PLAIN, "", "ready\n", 6, head);
        return;
    }
    int n = snprintf(body, sizeof(body), "not ready: %s\n", why);
    size_t len = n < 0 ? 0 : ((size_t)n >= sizeof(body) ? sizeof(body) - 1 : (size_t)n);
    respond(h, fd, 503, "Service Unavailable", TEXT_PLAIN, "", body, len, head);
}

static void serve_connection(const ledger_http_ops *h, int fd) {
    char request[REQUEST_MAX];
    if (read_request(h, fd, request, sizeof(request)) < 0)
        return;
    /* The request line: METHOD SP TARGET SP HTTP/x.y */
    char method[16], target[1024], version[16];
    if (sscanf(request, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/", 5) != 0) {
        static const char msg[] = "bad request\n";
        respond(h, fd, 400, "Bad Request", TEXT_PLAIN, "", msg, sizeof(msg) - 1, false);
        return;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        static const char msg[] = "method not allowed\n";
        respond(h, fd, 405, "Method Not Allowed", TEXT_PLAIN, "Allow: GET, HEAD\r\n", msg,
                sizeof(msg) - 1, false);
        return;
    }
    /* A scraper may add a query string; the path alone decides. */
    target[strcspn(target, "?#")] = '\0';
    if (strcmp(target, "/metrics") == 0) {
        serve_metrics(h, fd, head);
    } else if (strcmp(target, "/healthz") == 0) {
        serve_healthz(h, fd, head);
    } else {
        static const char msg[] = "not found: try /healthz or /metrics\n";
        respond(h, fd, 404, "Not Found", TEXT_PLAIN, "", msg, sizeof(msg) - 1, head);
    }
}

static void *serve(void *arg) {
    ledger_http_ops *h = arg;
    bool warned = false;
    for (;;) {
        struct pollfd fds[2] = {{.fd = h->listen_fd, .events = POLLIN},
                                {.fd = h->stop_pipe[0], .events = POLLIN}};
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fds[1].revents != 0)
            break;
        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the connection stays queued and poll
                 * would return at once, so pause instead of spinning. */
                if (!warned)
                    LOG_WARN("operations endpoint: cannot accept: %s", strerror(errno));
                warned = true;
                struct pollfd stop = {.fd = h->stop_pipe[0], .events = POLLIN};
                if (poll(&stop, 1, 100) > 0)
                    break;
            }
            continue;
        }
        warned = false;
        serve_connection(h, fd);
        /* Half-close first so the client reads the whole answer before the
         * socket goes. */
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

/* Binds and listens on the first address of host:port that works. */
static int listen_on(const char *host, int port, char *errstr, size_t errstr_size) {
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        ledger_errf(errstr, errstr_size, "cannot listen on '%s:%d': %s", host, port,
                    gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        ledger_errf(errstr, errstr_size, "cannot listen on '%s:%d': %s", host, port, strerror(err));
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

ledger_http_ops *ledger_http_ops_start(const char *bind_host, int port, ledger_metrics *m,
                                       char *errstr, size_t errstr_size) {
    if (bind_host == NULL || bind_host[0] == '\0')
        bind_host = "0.0.0.0";
    if (port < 0 || port > 65535 || m == NULL) {
        ledger_errf(errstr, errstr_size, "cannot listen on '%s:%d': invalid port or registry",
                    bind_host, port);
        return NULL;
    }
    ledger_http_ops *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        ledger_errf(errstr, errstr_size, "out of memory starting the operations endpoint");
        return NULL;
    }
    h->metrics = m;
    h->stop_pipe[0] = h->stop_pipe[1] = -1;
    h->listen_fd = listen_on(bind_host, port, errstr, errstr_size);
    if (h->listen_fd < 0)
        goto fail;
    h->port = bound_port(h->listen_fd);
    if (pipe2(h->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        ledger_errf(errstr, errstr_size, "cannot start the operations endpoint: %s",
                    strerror(errno));
        goto fail;
    }
    /* The thread inherits this mask: it takes no signal (see the top). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&h->thread, NULL, serve, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ledger_errf(errstr, errstr_size, "cannot start the operations endpoint: %s", strerror(rc));
        goto fail;
    }
    h->thread_started = true;
    LOG_INFO("operations endpoint on %s:%d (GET /healthz, /metrics)", bind_host, h->port);
    return h;
fail:
    ledger_http_ops_destroy(h);
    return NULL;
}

int ledger_http_ops_port(const ledger_http_ops *h) {
    return h != NULL ? h->port : -1;
}

void ledger_http_ops_destroy(ledger_http_ops *h) {
    if (h == NULL)
        return;
    if (h->thread_started) {
        char byte = 1;
        ssize_t ignored = write(h->stop_pipe[1], &byte, 1);
        (void)ignored;
        pthread_join(h->thread, NULL);
    }
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    if (h->stop_pipe[0] >= 0)
        close(h->stop_pipe[0]);
    if (h->stop_pipe[1] >= 0)
        close(h->stop_pipe[1]);
    free(h);
}
