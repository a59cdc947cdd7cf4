/*
 * ops_test_support.h - what the tests of an operations endpoint share: a
 * plain HTTP/1.1 client for loopback, and /metrics read through
 * prom_parse.py (PROM_PARSE, set by CMake), which parses it with the
 * official Prometheus Python client's parser and prints the samples as
 * JSON. The python is LEDGER_TEST_PYTHON (the venv's, with
 * prometheus_client). Every helper fails the calling Criterion test on
 * error.
 */
#ifndef LEDGER_TEST_OPS_SUPPORT_H
#define LEDGER_TEST_OPS_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An answer read to its end. */
typedef struct ot_response {
    int status;      /* -1 when nothing answered (refused, closed, timeout) */
    char head[2048]; /* the status line and headers */
    char *body;      /* malloc'd, NUL-terminated ("" when none) */
    size_t body_len;
} ot_response;

/* Sends `method path` to 127.0.0.1:port and reads the whole answer (the
 * server closes the connection), within timeout_ms. */
void ot_request(int port, const char *method, const char *path, int timeout_ms, ot_response *res);
void ot_response_free(ot_response *res);

/* The status of GET path, and its body copied into body (may be NULL). */
int ot_get(int port, const char *path, char *body, size_t body_size);

/* GET /metrics parsed by prom_parse.py: {"samples":[{"name","labels",
 * "value"}...], "families":[...]} (json_decref it). Fails the test when the
 * page does not parse. */
json_t *ot_scrape(int port);

/* The value of the first sample `name` whose labels include label=value
 * (label NULL: whatever its labels); *found tells whether there was one
 * (when not, 0 is returned). */
double ot_sample(const json_t *doc, const char *name, const char *label, const char *value,
                 bool *found);

/* The same, 0 when absent (a counter series not created yet). */
double ot_value(const json_t *doc, const char *name, const char *label, const char *value);

/* The TYPE of family `name` as the parser read it ("counter" for
 * "x_total"'s family "x"), or NULL. */
const char *ot_family_type(const json_t *doc, const char *family);

#endif
