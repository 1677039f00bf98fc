/* tests/common/test_hmap.c - the hash map under churn. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "common/sf_hmap.h"

Test(hmap, puts_gets_and_deletes_through_growth_and_tombstones)
{
    sf_hmap m = {0};
    static int vals[5000];
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        cr_assert_eq(sf_hmap_put(&m, k, strlen(k), &vals[i]), SF_OK);
    }
    cr_assert_eq(m.live, 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        cr_assert_eq(sf_hmap_del(&m, k, strlen(k)), &vals[i]);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        cr_assert_eq(sf_hmap_gets(&m, k), i % 2 ? &vals[i] : NULL, "key %d", i);
    }
    /* Deleted slots are reused without losing what lies past them. */
    for (int i = 0; i < 5000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        cr_assert_eq(sf_hmap_put(&m, k, strlen(k), &vals[i]), SF_OK);
    }
    size_t it = 0, seen = 0;
    while (sf_hmap_next(&m, &it))
        seen++;
    cr_assert_eq(seen, 5000);
    cr_assert_eq(sf_hmap_putu(&m, 42, &vals[1]), SF_OK);
    cr_assert_eq(sf_hmap_getu(&m, 42), &vals[1]);
    cr_assert_eq(sf_hmap_delu(&m, 42), &vals[1]);
    cr_assert_null(sf_hmap_getu(&m, 42));
    sf_hmap_free(&m);
}

Test(hmap, replacing_a_value_keeps_one_key)
{
    sf_hmap m = {0};
    int a, b;
    sf_hmap_put(&m, "x", 1, &a);
    sf_hmap_put(&m, "x", 1, &b);
    cr_assert_eq(m.live, 1);
    cr_assert_eq(sf_hmap_gets(&m, "x"), &b);
    cr_assert_null(sf_hmap_gets(&m, "y"));
    sf_hmap_free(&m);
}
