/*
 * NameServer KV config over real TCP: PUT/GET/DELETE_KV_CONFIG and
 * GET_KVLIST_BY_NAMESPACE, persistence across a restart (and the file's
 * RocketMQ shape), and ORDER_TOPIC_CONFIG in routes and register answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/util.h"
#include "../testutil.h"
#include "../wireclient.h"

static char *dir;
static char kvpath[600];

static pid_t start(int port, const char *const *extra) {
    char log[600];
    snprintf(log, sizeof(log), "%s/namesrv.log", dir);
    pid_t pid = wc_spawn_namesrv(port, kvpath, extra, log);
    assert_true(pid > 0);
    return pid;
}

static int kv_call(wc_t *c, int code, const char *ns, const char *k, const char *v,
                   rm_cmd_t *r) {
    const char *ext[] = {"namespace", ns, "key", k, "value", v, NULL};
    if (!k) ext[2] = NULL;
    else if (!v) ext[4] = NULL;
    assert_int_equal(wc_call(c, code, ext, NULL, 0, r, 5000), 0);
    return r->code;
}

static void test_kv_and_restart(void **state) {
    (void)state;
    int port = tu_free_port();
    pid_t pid = start(port, NULL);
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "NS1", "alpha", "1", &r), SUCCESS);
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "NS1", "beta", "two words", &r), SUCCESS);
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "NS1", "gone", "x", &r), SUCCESS);
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "NS1", "alpha", "1b", &r), SUCCESS);
    assert_int_equal(kv_call(&c, GET_KV_CONFIG, "NS1", "alpha", NULL, &r), SUCCESS);
    assert_string_equal(rm_ext_get(&r, "value"), "1b");
    assert_int_equal(kv_call(&c, DELETE_KV_CONFIG, "NS1", "gone", NULL, &r), SUCCESS);
    assert_int_equal(kv_call(&c, GET_KV_CONFIG, "NS1", "gone", NULL, &r), QUERY_NOT_FOUND);
    assert_string_equal(r.remark, "No config item, Namespace: NS1 Key: gone");
    assert_int_equal(kv_call(&c, GET_KVLIST_BY_NAMESPACE, "NS1", NULL, NULL, &r), SUCCESS);
    cJSON *o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    cJSON *t = cJSON_GetObjectItem(o, "table");
    assert_int_equal(cJSON_GetArraySize(t), 2);
    assert_string_equal(cJSON_GetObjectItem(t, "beta")->valuestring, "two words");
    cJSON_Delete(o);
    assert_int_equal(kv_call(&c, GET_KVLIST_BY_NAMESPACE, "NOPE", NULL, NULL, &r), QUERY_NOT_FOUND);
    /* missing key */
    const char *ext[] = {"namespace", "NS1", NULL};
    assert_int_equal(wc_call(&c, PUT_KV_CONFIG, ext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    wc_close(&c);
    int st = tu_stop(pid, 15, 10000);
    assert_true(tu_exited_ok(st));

    /* the file has RocketMQ's shape */
    char *text;
    assert_int_equal(file_read_all(kvpath, &text, NULL), 0);
    o = cJSON_Parse(text);
    free(text);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "configTable"), "NS1"), "alpha")
            ->valuestring,
        "1b");
    cJSON_Delete(o);

    /* restart: the values are back */
    pid = start(port, NULL);
    assert_int_equal(wc_connect(&c, port), 0);
    assert_int_equal(kv_call(&c, GET_KV_CONFIG, "NS1", "alpha", NULL, &r), SUCCESS);
    assert_string_equal(rm_ext_get(&r, "value"), "1b");
    assert_int_equal(kv_call(&c, GET_KV_CONFIG, "NS1", "beta", NULL, &r), SUCCESS);
    assert_string_equal(rm_ext_get(&r, "value"), "two words");
    assert_int_equal(kv_call(&c, GET_KV_CONFIG, "NS1", "gone", NULL, &r), QUERY_NOT_FOUND);
    wc_close(&c);
    st = tu_stop(pid, 15, 10000);
    assert_true(tu_exited_ok(st));
}

static void test_order_topic_conf(void **state) {
    (void)state;
    int port = tu_free_port();
    const char *extra[] = {"--orderMessageEnable=true", NULL};
    pid_t pid = start(port, extra);
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "ORDER_TOPIC_CONFIG", "Ordered", "ord-a:4", &r),
                     SUCCESS);
    buf_t b;
    buf_init(&b);
    const char *topics[] = {"Ordered:4:4:6", NULL};
    wc_register_body(&b, 1, topics);
    const char *ext[] = {"brokerName", "ord-a", "brokerAddr", "127.0.0.1:34001", "clusterName",
                         "OC", "haServerAddr", "h", "brokerId", "0", NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, ext, b.data, b.len, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    /* the broker gets the ORDER_TOPIC_CONFIG table back */
    cJSON *o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "table"), "Ordered")->valuestring,
                        "ord-a:4");
    cJSON_Delete(o);
    buf_free(&b);
    const char *q[] = {"topic", "Ordered", NULL};
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, q, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_string_equal(cJSON_GetObjectItem(o, "orderTopicConf")->valuestring, "ord-a:4");
    cJSON_Delete(o);
    /* a change of the KV value shows in the next route */
    assert_int_equal(kv_call(&c, PUT_KV_CONFIG, "ORDER_TOPIC_CONFIG", "Ordered", "ord-a:2", &r),
                     SUCCESS);
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, q, NULL, 0, &r, 5000), 0);
    o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_string_equal(cJSON_GetObjectItem(o, "orderTopicConf")->valuestring, "ord-a:2");
    cJSON_Delete(o);
    wc_close(&c);
    int st = tu_stop(pid, 15, 10000);
    assert_true(tu_exited_ok(st));
}

static void test_bad_kv_file(void **state) {
    (void)state;
    /* an unreadable KV file stops the start with a message, exit code 1 */
    char bad[700], log[700];
    snprintf(bad, sizeof(bad), "%s/bad.json", dir);
    snprintf(log, sizeof(log), "%s/bad.log", dir);
    assert_int_equal(file_write_atomic(bad, "{oops", 5), 0);
    char kv[760], p[64];
    snprintf(kv, sizeof(kv), "--kvConfigPath=%s", bad);
    snprintf(p, sizeof(p), "--listenPort=%d", tu_free_port());
    char *argv[] = {NULL, "namesrv", p, kv, NULL};
    pid_t pid = tu_spawn(argv, log);
    int st = tu_stop(pid, 0, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

int main(void) {
    dir = tu_tmpdir("petrel-it-nskv");
    snprintf(kvpath, sizeof(kvpath), "%s/namesrv/kvConfig.json", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_and_restart),
        cmocka_unit_test(test_order_topic_conf),
        cmocka_unit_test(test_bad_kv_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) tu_rmrf(dir);
    else fprintf(stderr, "logs in %s\n", dir);
    free(dir);
    return rc;
}
