/*
 * The remoting client (src/remoting/client.c) against the real `petrel
 * namesrv` process: sync and async calls in both serializations, strings that
 * need JSON escapes through a real server and back, unknown codes, and
 * reconnecting after the server process is restarted on the same port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../testutil.h"
#include "../wireclient.h"
#include "common/util.h"
#include "remoting/remoting.h"

static int port;
static pid_t pid;
static char *dir;
static char addr[64];
static char kvpath[600], logpath[600];

static pid_t start_namesrv(void) { return wc_spawn_namesrv(port, kvpath, NULL, logpath); }

static int setup(void **state) {
    dir = tu_tmpdir("petrel-it-rmcli");
    snprintf(kvpath, sizeof(kvpath), "%s/kvConfig.json", dir);
    snprintf(logpath, sizeof(logpath), "%s/namesrv.log", dir);
    port = tu_free_port();
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    pid = start_namesrv();
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    int st = tu_stop(pid, 15, 10000);
    if (!(st >= 0 && WIFEXITED(st))) {
        fprintf(stderr, "namesrv did not exit; log in %s\n", logpath);
        return -1;
    }
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static int put_kv(rm_client_t *cli, const char *key, const char *val) {
    const char *ext[] = {"namespace", "rmtest", "key", key, "value", val, NULL};
    rm_request_t req = {.code = PUT_KV_CONFIG, .ext = ext};
    rm_response_t *r = NULL;
    int rc = rm_client_invoke_sync(cli, addr, &req, 5000, &r);
    if (rc == 0) rc = r->cmd.code;
    rm_response_free(r);
    return rc;
}

static void check_kv(rm_client_t *cli, const char *key, const char *want) {
    const char *ext[] = {"namespace", "rmtest", "key", key, NULL};
    rm_request_t req = {.code = GET_KV_CONFIG, .ext = ext};
    rm_response_t *r = NULL;
    assert_int_equal(rm_client_invoke_sync(cli, addr, &req, 5000, &r), 0);
    assert_int_equal(r->cmd.code, SUCCESS);
    assert_string_equal(rm_ext_get(&r->cmd, "value"), want);
    rm_response_free(r);
}

static void test_sync_both_serializations(void **state) {
    /* quotes, backslashes, control characters (message properties), non-ASCII */
    const char *val = "k\001v\002q\"b\\s/\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    for (int ser = 0; ser < 2; ser++) {
        rm_client_opts_t o = {.ser = ser};
        rm_client_t *cli = rm_client_create(&o);
        char key[16];
        snprintf(key, sizeof(key), "k%d", ser);
        assert_int_equal(put_kv(cli, key, val), SUCCESS);
        check_kv(cli, key, val);
        /* the reply uses the request's serialization */
        const char *ext[] = {"namespace", "rmtest", "key", key, NULL};
        rm_request_t req = {.code = GET_KV_CONFIG, .ext = ext};
        rm_response_t *r = NULL;
        assert_int_equal(rm_client_invoke_sync(cli, addr, &req, 5000, &r), 0);
        assert_int_equal(r->cmd.serialize, ser);
        rm_response_free(r);
        rm_client_destroy(cli);
    }
}

static void test_unknown_code(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    rm_request_t req = {.code = 9999};
    rm_response_t *r = NULL;
    assert_int_equal(rm_client_invoke_sync(cli, addr, &req, 5000, &r), 0);
    assert_int_equal(r->cmd.code, REQUEST_CODE_NOT_SUPPORTED);
    assert_string_equal(r->cmd.remark, " request type 9999 not supported");
    rm_response_free(r);
    rm_client_destroy(cli);
}

typedef struct {
    atomic_int done;
    atomic_int ok;
} count_t;

static void count_cb(int status, rm_cmd_t *resp, void *arg) {
    count_t *c = arg;
    if (status == 0 && resp->code == SUCCESS && rm_ext_get(resp, "value")) atomic_fetch_add(&c->ok, 1);
    atomic_fetch_add(&c->done, 1);
}

static void test_async_many(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    assert_int_equal(put_kv(cli, "many", "v"), SUCCESS);
    count_t c = {0};
    const char *ext[] = {"namespace", "rmtest", "key", "many", NULL};
    rm_request_t req = {.code = GET_KV_CONFIG, .ext = ext};
    for (int i = 0; i < 5000; i++)
        assert_int_equal(rm_client_invoke_async(cli, addr, &req, 20000, count_cb, &c), 0);
    assert_true(TU_WAIT_FOR(atomic_load(&c.done) == 5000, 30000));
    assert_int_equal(atomic_load(&c.ok), 5000);
    rm_client_destroy(cli);
}

static void test_reconnect_after_restart(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    assert_int_equal(put_kv(cli, "r", "1"), SUCCESS);
    int st = tu_stop(pid, 15, 10000);
    assert_true(st >= 0);
    int rc = put_kv(cli, "r", "2");
    assert_true(rc == RM_ECLOSED || rc == RM_ECONNECT);
    pid = start_namesrv();
    assert_true(pid > 0);
    assert_true(TU_WAIT_FOR(put_kv(cli, "r", "3") == SUCCESS, 10000));
    check_kv(cli, "r", "3");
    rm_client_destroy(cli);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_both_serializations),
        cmocka_unit_test(test_unknown_code),
        cmocka_unit_test(test_async_many),
        cmocka_unit_test(test_reconnect_after_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
