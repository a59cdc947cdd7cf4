/*
 * test_state_cache.c - the runtime's cache of stored account states
 * (projectors/state_cache.h): lookups by account and generation, forgetting
 * one account in a run of colliding entries without losing the others,
 * clearing, and emptying itself when full instead of growing.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "state_cache.h"

typedef struct st {
    int64_t a, b;
} st;

static st S(int64_t a) {
    return (st){a, -a};
}

static const st *get(state_cache *c, int64_t gen, const char *account) {
    return state_cache_get(c, gen, account, strlen(account));
}

static void put(state_cache *c, int64_t gen, const char *account, int64_t a) {
    st s = S(a);
    state_cache_put(c, gen, account, strlen(account), &s);
}

Test(state_cache, keeps_a_copy_per_account_and_generation) {
    state_cache *c = state_cache_new(sizeof(st), 64);
    cr_assert_not_null(c);
    cr_assert_null(get(c, 1, "A"));
    put(c, 1, "A", 10);
    put(c, 1, "B", 20);
    const st *a = get(c, 1, "A");
    cr_assert_not_null(a);
    cr_assert_eq(a->a, 10);
    cr_assert_eq(a->b, -10);
    cr_assert_eq(get(c, 1, "B")->a, 20);
    cr_assert_null(get(c, 2, "A"), "another generation's state must not be returned");
    cr_assert_null(get(c, 1, "AB"));
    put(c, 1, "A", 11);
    cr_assert_eq(get(c, 1, "A")->a, 11, "a put replaces");
    cr_assert_eq(state_cache_count(c), 2);
    put(c, 2, "A", 12);
    cr_assert_eq(get(c, 2, "A")->a, 12);
    cr_assert_null(get(c, 1, "A"));
    cr_assert_eq(state_cache_count(c), 2, "one entry per account");
    state_cache_destroy(c);
}

Test(state_cache, forgetting_one_keeps_every_other_of_a_crowded_table) {
    /* 8 slots, 7 entries: every run collides; forget each one in turn and
     * check the rest are all still found with their own state. */
    char names[7][8];
    for (int i = 0; i < 7; i++)
        snprintf(names[i], sizeof names[i], "acc%d", i);
    for (int drop = 0; drop < 7; drop++) {
        state_cache *c = state_cache_new(sizeof(st), 8);
        for (int i = 0; i < 7; i++)
            put(c, 1, names[i], i);
        cr_assert_eq(state_cache_count(c), 7);
        state_cache_forget(c, names[drop], strlen(names[drop]));
        state_cache_forget(c, "absent", 6); /* harmless */
        cr_assert_eq(state_cache_count(c), 6);
        for (int i = 0; i < 7; i++) {
            const st *s = get(c, 1, names[i]);
            if (i == drop) {
                cr_assert_null(s, "'%s' was forgotten", names[i]);
            } else {
                cr_assert_not_null(s, "'%s' lost when '%s' was forgotten", names[i], names[drop]);
                cr_assert_eq(s->a, i);
            }
        }
        state_cache_destroy(c);
    }
}

Test(state_cache, empties_itself_when_full_and_on_clear) {
    state_cache *c = state_cache_new(sizeof(st), 16); /* holds 14 */
    char name[16];
    for (int i = 0; i < 14; i++) {
        snprintf(name, sizeof name, "a%d", i);
        put(c, 1, name, i);
    }
    cr_assert_eq(state_cache_count(c), 14);
    put(c, 1, "a0", 100); /* a replace fits */
    cr_assert_eq(state_cache_count(c), 14);
    put(c, 1, "new", 7); /* a new one does not: start again */
    cr_assert_eq(state_cache_count(c), 1);
    cr_assert_eq(get(c, 1, "new")->a, 7);
    cr_assert_null(get(c, 1, "a1"));
    state_cache_clear(c);
    cr_assert_eq(state_cache_count(c), 0);
    cr_assert_null(get(c, 1, "new"));
    state_cache_destroy(c);
}

Test(state_cache, refuses_what_it_cannot_hold) {
    cr_assert_null(state_cache_new(0, 16));
    state_cache *c = state_cache_new(sizeof(st), 16);
    char longest[LEDGER_ACCOUNT_MAX + 2];
    memset(longest, 'x', sizeof longest);
    st s = S(1);
    state_cache_put(c, 1, longest, LEDGER_ACCOUNT_MAX, &s);
    cr_assert_not_null(state_cache_get(c, 1, longest, LEDGER_ACCOUNT_MAX));
    state_cache_put(c, 1, longest, LEDGER_ACCOUNT_MAX + 1, &s);
    cr_assert_null(state_cache_get(c, 1, longest, LEDGER_ACCOUNT_MAX + 1));
    cr_assert_eq(state_cache_count(c), 1);
    state_cache_destroy(c);
}
