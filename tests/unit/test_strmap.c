/*
 * strmap (src/common/strmap.c): the string-keyed map behind the broker's and
 * the NameServer's tables.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/strmap.h"

static void test_put_get_del(void **state) {
    (void)state;
    strmap_t m;
    strmap_init(&m);
    assert_null(strmap_get(&m, "nothing")); /* empty: no buckets yet */
    assert_null(strmap_del(&m, "nothing"));
    char k[32];
    for (intptr_t i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "key%ld", (long)i);
        assert_null(strmap_put(&m, k, (void *)(i + 1)));
    }
    assert_int_equal(strmap_len(&m), 1000);
    assert_int_equal((intptr_t)strmap_get(&m, "key500"), 501);
    assert_int_equal((intptr_t)strmap_getn(&m, "key5001", 6), 501);
    assert_int_equal((intptr_t)strmap_getn(&m, "key5001", 4), 6); /* "key5" */
    assert_int_equal((intptr_t)strmap_put(&m, "key7", (void *)70), 8); /* replace */
    assert_int_equal((intptr_t)strmap_get(&m, "key7"), 70);
    for (intptr_t i = 0; i < 1000; i += 2) {
        snprintf(k, sizeof(k), "key%ld", (long)i);
        assert_non_null(strmap_del(&m, k));
    }
    assert_null(strmap_get(&m, "key500"));
    assert_int_equal((intptr_t)strmap_get(&m, "key999"), 1000);
    size_t n = 0;
    STRMAP_FOREACH(&m, e) n++;
    assert_int_equal(n, 500);
    assert_int_equal(strmap_len(&m), 500);
    strmap_free(&m);
    assert_null(strmap_get(&m, "key999")); /* freed maps may be reused */
    assert_null(strmap_put(&m, "again", (void *)1));
    strmap_free(&m);
}

static void test_sorted_keys(void **state) {
    (void)state;
    strmap_t m;
    strmap_init(&m);
    const char *in[] = {"b", "a", "c", "ab", ""};
    for (size_t i = 0; i < 5; i++) strmap_put(&m, in[i], (void *)1);
    size_t n;
    const char **k = strmap_sorted_keys(&m, &n);
    assert_int_equal(n, 5);
    const char *want[] = {"", "a", "ab", "b", "c"};
    for (size_t i = 0; i < 5; i++) assert_string_equal(k[i], want[i]);
    free((void *)k);
    strmap_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_sorted_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
