/*
 * registry.c - the table of views: a new view is its own file in views/
 * defining `const projector_view <name>_view`, plus ONE line below.
 *
 * The list is an X-macro so that that one line both declares the view and
 * puts it in the table (the same trick as hiredis's and librdkafka's tables
 * of adapters and assignors, minus the second line).
 */
#include "registry.h"

#include <string.h>

/* One line per view: X(<the projector_view's identifier>). */
#define PROJECTOR_VIEWS(X)                                                                         \
    X(balance_view)                                                                                \
    X(statements_view)                                                                             \
    X(fraud_view)

#define DECLARE_VIEW(v) extern const projector_view v;
PROJECTOR_VIEWS(DECLARE_VIEW)
#undef DECLARE_VIEW

#define VIEW_ENTRY(v) &v,
static const projector_view *const registry[] = {PROJECTOR_VIEWS(VIEW_ENTRY)};
#undef VIEW_ENTRY

size_t projector_registry_count(void) {
    return sizeof(registry) / sizeof(registry[0]);
}

const projector_view *projector_registry_at(size_t i) {
    return i < projector_registry_count() ? registry[i] : NULL;
}

const projector_view *projector_registry_find(const char *name) {
    for (size_t i = 0; i < projector_registry_count(); i++) {
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    }
    return NULL;
}
