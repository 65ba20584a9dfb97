/* Unit tests for src/common: config tables, properties parsing, buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/util.h"

typedef struct {
    char *name;
    int32_t port;
    int64_t big;
    int on;
    int mode;
} conf_t;

static const char *const modes[] = {"ASYNC_FLUSH", "SYNC_FLUSH", NULL};
static const cfg_def_t defs[] = {
    {"brokerName", CFG_STR, offsetof(conf_t, name), "broker-a", 0, -1, NULL, 0, "name"},
    {"listenPort", CFG_INT, offsetof(conf_t, port), "10911", 1, 65535, NULL, 0, "port"},
    {"mappedFileSizeCommitLog", CFG_LONG, offsetof(conf_t, big), "1073741824", 4096, INT64_MAX, NULL, 0, ""},
    {"autoCreateTopicEnable", CFG_BOOL, offsetof(conf_t, on), "true", 0, -1, NULL, 1, ""},
    {"flushDiskType", CFG_ENUM, offsetof(conf_t, mode), "ASYNC_FLUSH", 0, -1, modes, 0, ""},
    {NULL},
};

static void test_defaults_and_set(void **state) {
    (void)state;
    conf_t c;
    char err[256];
    cfg_defaults(defs, &c);
    assert_string_equal(c.name, "broker-a");
    assert_int_equal(c.port, 10911);
    assert_int_equal(c.big, 1073741824LL);
    assert_int_equal(c.on, 1);
    assert_int_equal(c.mode, 0);
    assert_int_equal(cfg_set(defs, &c, "flushDiskType", "SYNC_FLUSH", err, sizeof(err)), 0);
    assert_int_equal(c.mode, 1);
    assert_int_equal(cfg_set(defs, &c, "listenPort", "70000", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(cfg_set(defs, &c, "listenPort", "12x", err, sizeof(err)), -1);
    assert_int_equal(cfg_set(defs, &c, "nope", "1", err, sizeof(err)), 1);
    assert_int_equal(cfg_set(defs, &c, "autoCreateTopicEnable", "maybe", err, sizeof(err)), -1);
    char out[64];
    assert_int_equal(cfg_get(defs, &c, "flushDiskType", out, sizeof(out)), 0);
    assert_string_equal(out, "SYNC_FLUSH");
    cfg_free(defs, &c);
}

static int collect(const char *k, const char *v, void *arg) {
    buf_t *b = arg;
    buf_printf(b, "[%s=%s]", k, v);
    return 0;
}

static void test_props_parse(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    const char *text = "# comment\n! also\n  brokerName = broker-b \nlistenPort:10921\n\nempty=\nx";
    assert_int_equal(props_parse(text, collect, &b), 0);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "[brokerName=broker-b][listenPort=10921][empty=][x=]");
    buf_free(&b);
}

static void test_args(void **state) {
    (void)state;
    conf_t c;
    char err[256];
    cfg_defaults(defs, &c);
    char *argv[] = {"broker", "--listenPort=10000", "--brokerName", "b", "-c", "f"};
    assert_int_equal(cfg_apply_args(defs, &c, 6, argv, err, sizeof(err)), 0);
    assert_int_equal(c.port, 10000);
    assert_string_equal(c.name, "b");
    char *bad[] = {"broker", "--lisenPort=1"};
    assert_int_equal(cfg_apply_args(defs, &c, 2, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown option"));
    cfg_free(defs, &c);
}

static void test_json_escape(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_json_str(&b, "a\"b\\\x01\n", 6);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "\"a\\\"b\\\\\\u0001\\n\"");
    buf_free(&b);
    assert_int_equal(java_string_hash("TagA", 4), 2598919);
    /* "标签" in Java: 0x6807 * 31 + 0x7B7E */
    assert_int_equal(java_string_hash("\xe6\xa0\x87\xe7\xad\xbe", 6), 0x6807 * 31 + 0x7B7E);
    /* U+1F600 is a surrogate pair in Java */
    assert_int_equal(java_string_hash("\xf0\x9f\x98\x80", 4), 0xD83D * 31 + 0xDE00);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set),
        cmocka_unit_test(test_props_parse),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
