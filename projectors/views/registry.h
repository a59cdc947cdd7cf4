/*
 * registry.h - the views ledger-projector knows, by name.
 *
 * The table lives in registry.c, one line per view.
 */
#ifndef LEDGER_VIEW_REGISTRY_H
#define LEDGER_VIEW_REGISTRY_H

#include <stddef.h>

#include "view.h"

/* The registered views, in table order; i < projector_registry_count(). */
size_t projector_registry_count(void);
const projector_view *projector_registry_at(size_t i);

/* The view named `name`, or NULL. */
const projector_view *projector_registry_find(const char *name);

#endif
