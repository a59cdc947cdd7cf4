/*
 * result.c - command results. A plain value: zeroed is "no result yet".
 */
#include "result.h"

#include <string.h>

void ledger_result_init(ledger_result *result) {
    memset(result, 0, sizeof *result);
}
