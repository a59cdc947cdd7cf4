/*
 * ops_test_support.c - see ops_test_support.h.
 */
#include "ops_test_support.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long ot_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ot_request(int port, const char *method, const char *path, int timeout_ms, ot_response *res) {
    memset(res, 0, sizeof(*res));
    res->status = -1;
    long long deadline = ot_now_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        goto done;
    char req[512];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", method, path,
                     port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        goto done;
    for (;;) {
        long long left = deadline - ot_now_ms();
        if (left <= 0)
            goto done; /* no complete answer in time */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            goto done;
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto done;
        if (got == 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end == NULL || sscanf(buf, "HTTP/1.1 %d", &res->status) != 1) {
        res->status = -1;
        goto done;
    }
    size_t head_len = (size_t)(end - buf);
    snprintf(res->head, sizeof(res->head), "%.*s", (int)head_len, buf);
    res->body_len = len - head_len - 4;
    res->body = malloc(res->body_len + 1);
    cr_assert_not_null(res->body);
    memcpy(res->body, end + 4, res->body_len);
    res->body[res->body_len] = '\0';
done:
    close(fd);
    free(buf);
    if (res->body == NULL) {
        res->body = calloc(1, 1);
        cr_assert_not_null(res->body);
    }
}

void ot_response_free(ot_response *res) {
    free(res->body);
    res->body = NULL;
}

int ot_get(int port, const char *path, char *body, size_t body_size) {
    ot_response res;
    ot_request(port, "GET", path, 5000, &res);
    if (body != NULL && body_size > 0)
        snprintf(body, body_size, "%s", res.body);
    ot_response_free(&res);
    return res.status;
}

/* Reads a whole file descriptor from its start (malloc'd, NUL-terminated). */
static char *read_fd(int fd) {
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            text = realloc(text, cap);
            cr_assert_not_null(text);
        }
        ssize_t n = read(fd, text + len, cap - len - 1);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    return text;
}

static int temp_fd(void) {
    char path[] = "/tmp/ledger-ops-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    return fd;
}

json_t *ot_scrape(int port) {
    const char *python = getenv("LEDGER_TEST_PYTHON");
    cr_assert(python != NULL && python[0] != '\0',
              "LEDGER_TEST_PYTHON is not set (the venv's python, with prometheus_client)");
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    int out_fd = temp_fd(), err_fd = temp_fd();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
    char *const argv[] = {(char *)python, (char *)PROM_PARSE, url, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, python, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    cr_assert_eq(rc, 0, "cannot run '%s': %s", python, strerror(rc));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *out = read_fd(out_fd);
    char *err = read_fd(err_fd);
    close(out_fd);
    close(err_fd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "prom_parse.py refused /metrics (status %d): %s", status, err);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    cr_assert(json_is_object(doc) && json_is_array(json_object_get(doc, "samples")),
              "prom_parse.py printed no samples: %s (%s)", out, jerr.text);
    free(out);
    free(err);
    return doc;
}

double ot_sample(const json_t *doc, const char *name, const char *label, const char *value,
                 bool *found) {
    *found = false;
    const json_t *samples = json_object_get(doc, "samples");
    size_t i;
    const json_t *s;
    json_array_foreach(samples, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")), name) != 0)
            continue;
        const json_t *labels = json_object_get(s, "labels");
        if (label != NULL) {
            const char *v = json_string_value(json_object_get(labels, label));
            if (v == NULL || strcmp(v, value) != 0)
                continue;
        }
        const json_t *v = json_object_get(s, "value");
        cr_assert(json_is_number(v), "sample %s has a value that is not a number", name);
        *found = true;
        return json_number_value(v);
    }
    return 0;
}

double ot_value(const json_t *doc, const char *name, const char *label, const char *value) {
    bool found;
    return ot_sample(doc, name, label, value, &found);
}

const char *ot_family_type(const json_t *doc, const char *family) {
    const json_t *families = json_object_get(doc, "families");
    size_t i;
    const json_t *f;
    json_array_foreach(families, i, f) {
        if (strcmp(json_string_value(json_object_get(f, "name")), family) == 0)
            return json_string_value(json_object_get(f, "type"));
    }
    return NULL;
}
