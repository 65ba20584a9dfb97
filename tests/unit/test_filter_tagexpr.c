/* Unit tests for src/filter/tagexpr: TAG subscription parsing and Java String.hashCode
 * (common/util.h java_string_hash, which every tag code uses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "filter/tagexpr.h"

static int32_t H(const char *s) {
    return java_string_hash(s, strlen(s));
}

static void test_hash_codes(void **state) {
    (void)state;
    /* expected values are Java's "...".hashCode() */
    assert_int_equal(H("TagA"), 2598919);
    assert_int_equal(H("TagB"), 2598920);
    assert_int_equal(H(""), 0);
    assert_int_equal(H("*"), 42);
    assert_int_equal(H("Aa"), H("BB"));                      /* the classic collision */
    assert_int_equal(H("\xe4\xb8\xad\xe6\x96\x87"), 646394); /* 中文: UTF-16 units, not bytes */
    assert_int_equal(H("\xf0\x9f\x98\x80"), 1772899);        /* U+1F600: a surrogate pair */
    assert_int_equal(H("\xff"), 65533);                      /* malformed: U+FFFD */
    assert_int_equal(H("a\xc3"
                       "b"),
                     2124838); /* truncated sequence */
    assert_int_equal(H("\xe2\x82"
                       "A"),
                     2031588);                  /* maximal subpart: one U+FFFD */
    assert_int_equal(H("\xed\xa0\x80"), 65533); /* encoded surrogate: one U+FFFD */
    /* malformed bytes between 8-byte ASCII runs (the fast path) */
    assert_int_equal(H("abcdefgh\xed\xa0\x80ijklmnop"), 648252285);
    assert_int_equal(H("abcdefghi\xe0\x80xyz"), 41725108); /* overlong: two U+FFFD */
    /* long strings wrap like Java ints */
    assert_int_equal(H("abcdefghijklmnopqrstuvwxyz"), 958031277);
}

static void test_all(void **state) {
    (void)state;
    const char *alls[] = {NULL, "", "*"};
    for (size_t i = 0; i < 3; i++) {
        tag_expr_t *te;
        assert_int_equal(tag_expr_parse(alls[i], &te, NULL, 0), 0);
        assert_true(te->all);
        assert_int_equal(te->ntags, 0);
        assert_true(tag_expr_match_code(te, 12345));
        assert_true(tag_expr_match_code(te, 0));
        assert_true(tag_expr_match_tag(te, "x", 1));
        assert_true(tag_expr_match_tag(te, NULL, 0));
        tag_expr_free(te);
    }
    tag_expr_free(NULL);
}

static void test_tags(void **state) {
    (void)state;
    tag_expr_t *te;
    assert_int_equal(tag_expr_parse("TagA || TagB", &te, NULL, 0), 0);
    assert_false(te->all);
    assert_int_equal(te->ntags, 2);
    assert_string_equal(te->tags[0], "TagA");
    assert_string_equal(te->tags[1], "TagB");
    assert_int_equal(te->ncodes, 2);
    assert_int_equal(te->codes[0], 2598919);
    assert_int_equal(te->codes[1], 2598920);
    assert_true(tag_expr_match_code(te, 2598919));
    assert_true(tag_expr_match_code(te, 2598920));
    assert_false(tag_expr_match_code(te, 0)); /* untagged messages only match "*" */
    assert_false(tag_expr_match_code(te, 1));
    assert_true(tag_expr_match_code(te, (int64_t)2598919 + ((int64_t)1 << 32))); /* intValue() */
    assert_true(tag_expr_match_tag(te, "TagA", 4));
    assert_false(tag_expr_match_tag(te, "TagAx", 5));
    assert_false(tag_expr_match_tag(te, "Tag", 3));
    assert_false(tag_expr_match_tag(te, NULL, 0));
    tag_expr_free(te);

    /* trimming, empty parts, duplicates, collisions */
    assert_int_equal(tag_expr_parse("  a ||\tb|| ||a||Aa||BB||", &te, NULL, 0), 0);
    assert_int_equal(te->ntags, 4);
    assert_string_equal(te->tags[0], "a");
    assert_string_equal(te->tags[1], "b");
    assert_string_equal(te->tags[2], "Aa");
    assert_string_equal(te->tags[3], "BB");
    assert_int_equal(te->ncodes, 3); /* Aa and BB share a hash */
    assert_true(tag_expr_match_code(te, H("BB")));
    assert_true(tag_expr_match_tag(te, "BB", 2));
    tag_expr_free(te);

    /* a single '|' is part of a tag; "|||" splits as "" and "|" */
    assert_int_equal(tag_expr_parse("a|b", &te, NULL, 0), 0);
    assert_int_equal(te->ntags, 1);
    assert_string_equal(te->tags[0], "a|b");
    tag_expr_free(te);
    assert_int_equal(tag_expr_parse("|||", &te, NULL, 0), 0);
    assert_int_equal(te->ntags, 1);
    assert_string_equal(te->tags[0], "|");
    tag_expr_free(te);

    /* " * " is not "*": it is the tag "*" (Java compares the untrimmed string) */
    assert_int_equal(tag_expr_parse(" * ", &te, NULL, 0), 0);
    assert_false(te->all);
    assert_int_equal(te->ntags, 1);
    assert_int_equal(te->codes[0], 42);
    tag_expr_free(te);

    /* only blanks: no tags, nothing matches (as in RocketMQ) */
    assert_int_equal(tag_expr_parse("|| ||", &te, NULL, 0), 0);
    assert_false(te->all);
    assert_int_equal(te->ntags, 0);
    assert_false(tag_expr_match_code(te, 0));
    tag_expr_free(te);

    /* UTF-8 tags hash as Java strings */
    assert_int_equal(tag_expr_parse("\xe4\xb8\xad\xe6\x96\x87 || x", &te, NULL, 0), 0);
    assert_int_equal(te->codes[0], 646394);
    tag_expr_free(te);
}

static void test_split_error(void **state) {
    (void)state;
    /* Java's split drops trailing empty strings: "||" yields no parts and RocketMQ throws */
    const char *bad[] = {"||", "||||", "||||||"};
    for (size_t i = 0; i < 3; i++) {
        tag_expr_t *te = (tag_expr_t *)1;
        char err[64];
        assert_int_equal(tag_expr_parse(bad[i], &te, err, sizeof(err)), -1);
        assert_null(te);
        assert_string_equal(err, "subString split error");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_codes),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_split_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
