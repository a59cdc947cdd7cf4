/*
 * test_core_purity_probe.c - NOT a test program: a deliberately impure
 * object, so that the core's purity check is shown to fail when it should
 * (the core_purity_check_catches_impurity test runs the check on it).
 */
#include <stdlib.h>
#include <time.h>

void *purity_probe(void) {
    return malloc((size_t)time(NULL) % 64 + 1);
}
