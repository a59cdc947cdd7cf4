/*
 * cli_run.c - fork, redirect stdout and stderr to temporary files (no pipe
 * to fill up and block), exec, wait, read the files back.
 */
#include "cli_run.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void read_back(int fd, char *buf, size_t size) {
    lseek(fd, 0, SEEK_SET);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < size && (n = read(fd, buf + used, size - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
}

void cli_run(cli_result *res, const char *const *argv, const char *const *env) {
    char out_path[] = "/tmp/ledger-cli-out-XXXXXX";
    char err_path[] = "/tmp/ledger-cli-err-XXXXXX";
    int out_fd = mkstemp(out_path);
    int err_fd = mkstemp(err_path);
    cr_assert(out_fd >= 0 && err_fd >= 0, "mkstemp failed");
    unlink(out_path);
    unlink(err_path);

    size_t argc = 0;
    while (argv[argc] != NULL)
        argc++;
    const char **full = calloc(argc + 2, sizeof(*full));
    cr_assert_not_null(full);
    full[0] = LEDGER_BIN;
    for (size_t i = 0; i < argc; i++)
        full[i + 1] = argv[i];

    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        /* The child starts from no LEDGER_* setting but the test's own. */
        for (;;) {
            char name[256] = "";
            for (char **e = environ; *e != NULL; e++) {
                if (strncmp(*e, "LEDGER_", 7) == 0) {
                    size_t len = strcspn(*e, "=");
                    snprintf(name, sizeof(name), "%.*s", (int)len, *e);
                    break;
                }
            }
            if (name[0] == '\0')
                break;
            unsetenv(name);
        }
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(LEDGER_BIN, (char *const *)full);
        _exit(127);
    }
    free(full);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_back(out_fd, res->out, sizeof(res->out));
    read_back(err_fd, res->err, sizeof(res->err));
    cr_assert_neq(res->exit_code, 127, "cannot run '%s'", LEDGER_BIN);
}
