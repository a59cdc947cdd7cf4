/*
 * test_ops_http.c - the operations endpoint (edge/http_ops.h) on loopback,
 * without Kafka: /healthz follows the readiness, /metrics parses with the
 * Prometheus client's parser (prom_parse.py) and gives back exactly the
 * values and label strings the registry was given, the other paths and
 * methods, a client that says nothing or hangs up does not stop the
 * server (nor kill the process with SIGPIPE), a port in use is refused
 * with the address named, and destroy returns promptly.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_ops.h"
#include "metrics.h"
#include "ops_test_support.h"

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ledger_http_ops *start(ledger_metrics *m) {
    char errstr[256];
    ledger_http_ops *h = ledger_http_ops_start("127.0.0.1", 0, m, errstr, sizeof(errstr));
    cr_assert_not_null(h, "%s", errstr);
    cr_assert_gt(ledger_http_ops_port(h), 0);
    return h;
}

/* A connected socket to the server that has sent nothing. */
static int connect_silent(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

Test(ops_http, healthz_follows_the_readiness) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_http_ops *h = start(m);
    int port = ledger_http_ops_port(h);
    char body[256];

    ledger_metrics_set_ready(m, false, "restoring partitions");
    cr_assert_eq(ot_get(port, "/healthz", body, sizeof(body)), 503);
    cr_assert_str_eq(body, "not ready: restoring partitions\n");

    ledger_metrics_set_ready(m, true, NULL);
    cr_assert_eq(ot_get(port, "/healthz", body, sizeof(body)), 200);
    cr_assert_str_eq(body, "ready\n");
    /* A probe may add a query string. */
    cr_assert_eq(ot_get(port, "/healthz?verbose=1", NULL, 0), 200);

    ledger_metrics_set_ready(m, false, "waiting for an assignment");
    cr_assert_eq(ot_get(port, "/healthz", body, sizeof(body)), 503);
    cr_assert_str_eq(body, "not ready: waiting for an assignment\n");

    ledger_http_ops_destroy(h);
    ledger_metrics_destroy(m);
}

Test(ops_http, metrics_parse_and_give_back_what_the_registry_holds) {
    ledger_metrics *m = ledger_metrics_new("view", "bal\"ance");
    const char *reasons[] = {"insufficient_funds", "quote\" back\\slash", "new\nline",
                             "caf\xc3\xa9"};
    const double counts[] = {3, 1, 4, 1.5e6};
    ledger_metric *c =
        ledger_metrics_counter(m, "t_rejections_total", "help \\ with \"odd\"\ntext", "reason");
    for (size_t i = 0; i < 4; i++)
        ledger_series_add(ledger_metric_series(c, reasons[i]), counts[i]);
    ledger_metric *g = ledger_metrics_gauge(m, "t_lag_records", "lag", "partition");
    for (long p = 0; p < 3; p++)
        ledger_series_set(ledger_metric_series_int(g, p), (double)(p * 10 + 1));
    const double bounds[] = {0.01, 0.1, 1};
    ledger_series *h_s = ledger_metric_series(
        ledger_metrics_histogram(m, "t_seconds", "latency", NULL, bounds, 3), NULL);
    const double observed[] = {0.005, 0.05, 0.05, 0.5, 7};
    double sum = 0;
    for (size_t i = 0; i < 5; i++) {
        ledger_series_observe(h_s, observed[i]);
        sum += observed[i];
    }
    ledger_http_ops *h = start(m);

    ot_response res;
    ot_request(ledger_http_ops_port(h), "GET", "/metrics", 5000, &res);
    cr_assert_eq(res.status, 200);
    cr_assert(strstr(res.head, "\r\nContent-Type: text/plain; version=0.0.4") != NULL, "%s",
              res.head);
    ot_response_free(&res);

    json_t *doc = ot_scrape(ledger_http_ops_port(h));
    cr_assert_str_eq(ot_family_type(doc, "t_rejections"), "counter");
    cr_assert_str_eq(ot_family_type(doc, "t_lag_records"), "gauge");
    cr_assert_str_eq(ot_family_type(doc, "t_seconds"), "histogram");
    for (size_t i = 0; i < 4; i++) {
        bool found;
        double v = ot_sample(doc, "t_rejections_total", "reason", reasons[i], &found);
        cr_assert(found, "no sample with reason '%s'", reasons[i]);
        cr_assert_eq(v, counts[i]);
    }
    for (long p = 0; p < 3; p++) {
        char label[8];
        snprintf(label, sizeof(label), "%ld", p);
        cr_assert_eq(ot_value(doc, "t_lag_records", "partition", label), (double)(p * 10 + 1));
    }
    /* The constant label is on every sample, decoded back to its text. */
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(doc, "samples"), i, s) {
        const char *view = json_string_value(json_object_get(json_object_get(s, "labels"), "view"));
        cr_assert(view != NULL && strcmp(view, "bal\"ance") == 0, "sample %zu: view '%s'", i,
                  view != NULL ? view : "(none)");
    }
    for (size_t b = 0; b < 3; b++) {
        char le[16];
        snprintf(le, sizeof(le), "%g", bounds[b]);
        double at_most = 0;
        for (size_t k = 0; k < 5; k++)
            at_most += observed[k] <= bounds[b];
        cr_assert_eq(ot_value(doc, "t_seconds_bucket", "le", le), at_most, "le=%s", le);
    }
    cr_assert_eq(ot_value(doc, "t_seconds_bucket", "le", "+Inf"), 5);
    cr_assert_eq(ot_value(doc, "t_seconds_count", NULL, NULL), 5);
    cr_assert_float_eq(ot_value(doc, "t_seconds_sum", NULL, NULL), sum, 1e-9);
    cr_assert_eq(ot_value(doc, "ledger_ready", NULL, NULL), 0);
    json_decref(doc);

    ledger_http_ops_destroy(h);
    ledger_metrics_destroy(m);
}

Test(ops_http, other_paths_and_methods) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_metrics_set_ready(m, true, NULL);
    ledger_http_ops *h = start(m);
    int port = ledger_http_ops_port(h);
    ot_response res;

    ot_request(port, "GET", "/nothing", 5000, &res);
    cr_assert_eq(res.status, 404);
    ot_response_free(&res);

    ot_request(port, "POST", "/metrics", 5000, &res);
    cr_assert_eq(res.status, 405);
    cr_assert(strstr(res.head, "\r\nAllow: GET, HEAD") != NULL, "%s", res.head);
    ot_response_free(&res);

    /* HEAD: the headers of GET (the length of the body), no body. */
    ot_request(port, "HEAD", "/healthz", 5000, &res);
    cr_assert_eq(res.status, 200);
    cr_assert(strstr(res.head, "\r\nContent-Length: 6") != NULL, "%s", res.head);
    cr_assert_eq(res.body_len, 0);
    ot_response_free(&res);

    ot_request(port, "NONSENSE", "", 5000, &res);
    cr_assert_eq(res.status, 400);
    ot_response_free(&res);

    ledger_http_ops_destroy(h);
    ledger_metrics_destroy(m);
}

Test(ops_http, a_silent_client_is_dropped_and_others_are_served) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_http_ops *h = start(m);
    int port = ledger_http_ops_port(h);
    int silent = connect_silent(port);
    /* Served once the silent one's deadline (2 s) has passed: well within
     * a probe's usual timeout. */
    long long t0 = now_ms();
    cr_assert_eq(ot_get(port, "/healthz", NULL, 0), 503);
    cr_assert_lt(now_ms() - t0, 4000);
    /* The silent connection was closed without an answer. */
    struct pollfd pfd = {.fd = silent, .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 5000), 1);
    char byte;
    cr_assert_eq(recv(silent, &byte, 1, 0), 0);
    close(silent);
    ledger_http_ops_destroy(h);
    ledger_metrics_destroy(m);
}

Test(ops_http, a_client_hanging_up_mid_answer_does_not_raise_sigpipe) {
    /* The default SIGPIPE action ends the process: the server runs in this
     * one, so a send without MSG_NOSIGNAL would kill the test. */
    signal(SIGPIPE, SIG_DFL);
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    /* About 1 MB: more than the socket buffers take at once. */
    ledger_metric *g = ledger_metrics_gauge(m, "big", "a large page", "k");
    char label[600];
    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    for (long i = 0; i < 2000; i++) {
        snprintf(label, 16, "%06ld", i);
        label[6] = 'x';
        ledger_series_set(ledger_metric_series(g, label), (double)i);
    }
    ledger_http_ops *h = start(m);
    int port = ledger_http_ops_port(h);
    for (int round = 0; round < 5; round++) {
        int fd = connect_silent(port);
        const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
        cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
        /* Closed before the answer: the server's socket sees our FIN
         * (CLOSE_WAIT), its first write draws a reset, and the next write
         * fails with EPIPE, which raises SIGPIPE unless suppressed. */
        close(fd);
    }
    ot_response res;
    ot_request(port, "GET", "/metrics", 10000, &res);
    cr_assert_eq(res.status, 200);
    cr_assert_gt(res.body_len, 2000 * 600);
    ot_response_free(&res);
    ledger_http_ops_destroy(h);
    ledger_metrics_destroy(m);
}

Test(ops_http, a_port_in_use_is_refused_naming_the_address) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_http_ops *first = start(m);
    int port = ledger_http_ops_port(first);
    char errstr[256] = "";
    ledger_http_ops *second = ledger_http_ops_start("127.0.0.1", port, m, errstr, sizeof(errstr));
    cr_assert_null(second);
    char want[64];
    snprintf(want, sizeof(want), "'127.0.0.1:%d'", port);
    cr_assert(strstr(errstr, want) != NULL, "%s", errstr);
    ledger_http_ops_destroy(first);

    cr_assert_null(ledger_http_ops_start("no-such-host.invalid", 0, m, errstr, sizeof(errstr)));
    cr_assert(strstr(errstr, "no-such-host.invalid") != NULL, "%s", errstr);
    ledger_metrics_destroy(m);
}

Test(ops_http, destroy_returns_promptly_with_a_client_connected) {
    ledger_metrics *m = ledger_metrics_new(NULL, NULL);
    ledger_http_ops *h = start(m);
    int silent = connect_silent(ledger_http_ops_port(h));
    /* Let the server take the connection and wait on it. */
    struct pollfd pfd = {.fd = silent, .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 200), 0);
    long long t0 = now_ms();
    ledger_http_ops_destroy(h);
    cr_assert_lt(now_ms() - t0, 1000);
    close(silent);
    ledger_metrics_destroy(m);
}
