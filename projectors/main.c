/*
 * main.c - `ledger-projector --view NAME`: picks the view from the registry
 * (views/registry.c) and hands it to the runtime.
 *
 * The view has to be known before the configuration is loaded, because its
 * settings are part of the configuration (and of --help), so --view (or
 * LEDGER_VIEW) is looked up here first; the runtime then loads and checks
 * every setting, --view included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "runtime.h"

/* The value of --view NAME / --view=NAME, else LEDGER_VIEW, else NULL. */
static const char *view_argument(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--view") == 0)
            return i + 1 < argc ? argv[i + 1] : "";
        if (strncmp(argv[i], "--view=", 7) == 0)
            return argv[i] + 7;
    }
    return getenv("LEDGER_VIEW");
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* "balance, statements, fraud" */
static void list_views(char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < projector_registry_count() && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "",
                         projector_registry_at(i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int main(int argc, char **argv) {
    char views[512];
    list_views(views, sizeof(views));
    const char *name = view_argument(argc, argv);
    if (name == NULL) {
        if (wants_help(argc, argv)) {
            char text[1024];
            snprintf(text, sizeof(text),
                     "Views (--view NAME; 'ledger-projector --view NAME --help' adds the view's "
                     "own settings):");
            for (size_t i = 0; i < projector_registry_count(); i++) {
                const projector_view *v = projector_registry_at(i);
                size_t len = strlen(text);
                snprintf(text + len, sizeof(text) - len, "\n  %-12s %s", v->name,
                         v->help != NULL ? v->help : "");
            }
            projector_help(stdout, text);
            return PROJECTOR_EXIT_OK;
        }
        fprintf(stderr, "ledger-projector: missing --view: expected one of %s\n", views);
        return PROJECTOR_EXIT_USAGE;
    }
    const projector_view *view = projector_registry_find(name);
    if (view == NULL) {
        fprintf(stderr, "ledger-projector: invalid --view '%s': expected one of %s\n", name, views);
        return PROJECTOR_EXIT_USAGE;
    }
    return projector_run(view, argc - 1, argv + 1);
}
