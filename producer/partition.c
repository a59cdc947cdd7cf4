/*
 * partition.c - one owned partition's state (see partition.h).
 */
#include "partition.h"

#include <string.h>

int producer_partition_init(producer_partition *part, int32_t id) {
    memset(part, 0, sizeof(*part));
    part->id = id;
    part->next_events_offset = -1;
    part->append_offset = -1;
    part->commit_offset = -1;
    part->accounts = producer_accounts_new();
    part->dedup = producer_dedup_new();
    part->dedup_sets = producer_dedup_sets_new();
    if (part->accounts == NULL || part->dedup == NULL || part->dedup_sets == NULL) {
        producer_partition_release(part);
        return -1;
    }
    return 0;
}

void producer_partition_release(producer_partition *part) {
    producer_accounts_destroy(part->accounts);
    producer_dedup_destroy(part->dedup);
    producer_dedup_sets_destroy(part->dedup_sets);
    int32_t id = part->id;
    memset(part, 0, sizeof(*part));
    part->id = id;
    part->next_events_offset = -1;
    part->append_offset = -1;
    part->commit_offset = -1;
}
