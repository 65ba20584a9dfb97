/* Unit tests for the remoting client against in-process servers on
 * 127.0.0.1: sync, async, oneway, timeouts, connect failures, reconnecting
 * after a server restart, server-initiated requests, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../testutil.h"
#include "common/util.h"
#include "remoting/remoting.h"

#define CODE_ECHO 100
#define CODE_SILENT 101
#define CODE_COUNT 102
#define CODE_CALLBACK 104

/* ---- a server on its own thread ----------------------------------------- */

typedef struct tsrv_s {
    uv_loop_t loop;
    uv_thread_t th;
    uv_async_t stop;
    rm_server_t *srv;
    int want_port;
    int port;
    atomic_int ready;
} tsrv_t;

static atomic_int g_count;
static atomic_int g_cb_status = 1;
static atomic_int g_cb_code = -1;
static char g_cb_ext[64];

static void h_echo(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, "ok");
    for (uint32_t i = 0; i < req->ext_count; i++) rm_enc_ext(&e, req->ext[i].key, req->ext[i].val);
    rm_enc_ext_i64(&e, "lang", req->language);
    if (req->body_len) rm_enc_body(&e, req->body, req->body_len);
    rm_enc_end(&e);
}

static void h_silent(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {}

static void h_count(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    atomic_fetch_add(&g_count, 1);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void on_srv_resp(int status, rm_cmd_t *resp, void *arg) {
    if (resp) {
        const char *v = rm_ext_get(resp, "answer");
        snprintf(g_cb_ext, sizeof(g_cb_ext), "%s", v ? v : "");
        atomic_store(&g_cb_code, resp->code);
    }
    atomic_store(&g_cb_status, status);
}

static void h_callback(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_enc_t e;
    rm_conn_request_begin(conn, &e, CHECK_TRANSACTION_STATE, 0, on_srv_resp, NULL, 5000);
    rm_enc_ext(&e, "transactionId", "tx1");
    rm_enc_end(&e);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void tsrv_on_stop(uv_async_t *a) {
    tsrv_t *t = a->data;
    rm_server_close(t->srv, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void tsrv_main(void *arg) {
    tsrv_t *t = arg;
    rm_server_opts_t o = {.name = "ctest"};
    t->srv = rm_server_create(&t->loop, &o);
    rm_server_handle(t->srv, CODE_ECHO, h_echo, NULL);
    rm_server_handle(t->srv, CODE_SILENT, h_silent, NULL);
    rm_server_handle(t->srv, CODE_COUNT, h_count, NULL);
    rm_server_handle(t->srv, CODE_CALLBACK, h_callback, NULL);
    if (rm_server_listen(t->srv, "127.0.0.1", t->want_port) == 0) t->port = rm_server_port(t->srv, 0);
    else t->port = -1;
    atomic_store(&t->ready, 1);
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

static tsrv_t *tsrv_start(int port) {
    tsrv_t *t = calloc(1, sizeof(*t));
    t->want_port = port;
    uv_loop_init(&t->loop);
    uv_async_init(&t->loop, &t->stop, tsrv_on_stop);
    t->stop.data = t;
    uv_thread_create(&t->th, tsrv_main, t);
    assert_true(TU_WAIT_FOR(atomic_load(&t->ready), 5000));
    assert_true(t->port > 0);
    return t;
}

static void tsrv_stop(tsrv_t *t) {
    uv_async_send(&t->stop);
    uv_thread_join(&t->th);
    uv_loop_close(&t->loop);
    free(t);
}

/* ---- fixture -------------------------------------------------------------- */

static tsrv_t *g_srv;
static char g_addr[64];

static void on_request(rm_client_t *cli, const char *addr, rm_cmd_t *req, void *ctx) {
    const char *tx = rm_ext_get(req, "transactionId");
    const char *ext[] = {"answer", tx ? tx : "none", NULL};
    rm_client_reply(cli, addr, req->opaque, req->serialize, TRANSACTION_SHOULD_COMMIT, NULL, ext,
                    NULL, 0);
}

static int setup(void **state) {
    g_srv = tsrv_start(0);
    snprintf(g_addr, sizeof(g_addr), "127.0.0.1:%d", g_srv->port);
    return 0;
}

static int teardown(void **state) {
    tsrv_stop(g_srv);
    return 0;
}

static void check_sync_echo(rm_client_t *cli, const char *addr) {
    const char *ext[] = {"topic", "T\x01\"x", "queueId", "3", NULL};
    rm_request_t req = {.code = CODE_ECHO, .ext = ext, .body = "payload", .body_len = 7};
    rm_response_t *r = NULL;
    assert_int_equal(rm_client_invoke_sync(cli, addr, &req, 5000, &r), 0);
    assert_non_null(r);
    assert_int_equal(r->cmd.code, SUCCESS);
    assert_string_equal(r->cmd.remark, "ok");
    assert_string_equal(rm_ext_get(&r->cmd, "topic"), "T\x01\"x");
    assert_string_equal(rm_ext_get(&r->cmd, "queueId"), "3");
    assert_int_equal(r->cmd.body_len, 7);
    assert_memory_equal(r->cmd.body, "payload", 7);
    rm_response_free(r);
}

static void test_sync(void **state) {
    for (int ser = 0; ser < 2; ser++) {
        rm_client_opts_t o = {.ser = ser, .language = LANG_CPP};
        rm_client_t *cli = rm_client_create(&o);
        check_sync_echo(cli, g_addr);
        check_sync_echo(cli, g_addr); /* the same connection again */
        rm_client_destroy(cli);
    }
}

typedef struct {
    atomic_int n;
    atomic_int bad;
} async_ctx_t;

static void async_cb(int status, rm_cmd_t *resp, void *arg) {
    async_ctx_t *a = arg;
    if (status != 0 || resp->code != SUCCESS || !rm_ext_get(resp, "i")) atomic_fetch_add(&a->bad, 1);
    atomic_fetch_add(&a->n, 1);
}

static void test_async(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    async_ctx_t a = {0};
    char v[16];
    for (int i = 0; i < 500; i++) {
        snprintf(v, sizeof(v), "%d", i);
        const char *ext[] = {"i", v, NULL};
        rm_request_t req = {.code = CODE_ECHO, .ext = ext};
        assert_int_equal(rm_client_invoke_async(cli, g_addr, &req, 10000, async_cb, &a), 0);
    }
    assert_true(TU_WAIT_FOR(atomic_load(&a.n) == 500, 10000));
    assert_int_equal(atomic_load(&a.bad), 0);
    rm_client_destroy(cli);
}

typedef struct {
    rm_client_t *cli;
    int id;
    int failures;
} worker_t;

static void worker_main(void *arg) {
    worker_t *w = arg;
    char v[32];
    for (int i = 0; i < 200; i++) {
        snprintf(v, sizeof(v), "%d-%d", w->id, i);
        const char *ext[] = {"v", v, NULL};
        rm_request_t req = {.code = CODE_ECHO, .ext = ext};
        rm_response_t *r = NULL;
        if (rm_client_invoke_sync(w->cli, g_addr, &req, 10000, &r) != 0 ||
            strcmp(rm_ext_get(&r->cmd, "v") ? rm_ext_get(&r->cmd, "v") : "", v) != 0)
            w->failures++;
        rm_response_free(r);
    }
}

/* Several threads share one client: every caller gets its own answer. */
static void test_sync_many_threads(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    uv_thread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){cli, i, 0};
        uv_thread_create(&th[i], worker_main, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        uv_thread_join(&th[i]);
        assert_int_equal(w[i].failures, 0);
    }
    rm_client_destroy(cli);
}

static void test_oneway(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    int before = atomic_load(&g_count);
    rm_request_t req = {.code = CODE_COUNT};
    for (int i = 0; i < 10; i++) assert_int_equal(rm_client_invoke_oneway(cli, g_addr, &req), 0);
    assert_true(TU_WAIT_FOR(atomic_load(&g_count) == before + 10, 5000));
    rm_client_destroy(cli);
}

static void test_timeout(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    rm_request_t req = {.code = CODE_SILENT};
    rm_response_t *r = (rm_response_t *)1;
    int64_t t0 = mono_ms();
    assert_int_equal(rm_client_invoke_sync(cli, g_addr, &req, 200, &r), RM_ETIMEOUT);
    assert_true(mono_ms() - t0 >= 190);
    assert_null(r);
    /* the connection is still usable */
    check_sync_echo(cli, g_addr);
    rm_client_destroy(cli);
}

static void test_connect_failure(void **state) {
    rm_client_opts_t o = {.connect_timeout_ms = 2000};
    rm_client_t *cli = rm_client_create(&o);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tu_free_port()); /* nobody listens */
    rm_request_t req = {.code = CODE_ECHO};
    rm_response_t *r;
    assert_int_equal(rm_client_invoke_sync(cli, addr, &req, 5000, &r), RM_ECONNECT);
    assert_int_equal(rm_client_invoke_sync(cli, "not-an-address", &req, 5000, &r), RM_ECONNECT);
    assert_int_equal(rm_client_invoke_sync(cli, "127.0.0.1:99999", &req, 5000, &r), RM_ECONNECT);
    rm_client_destroy(cli);
}

static int try_echo(rm_client_t *cli, const char *addr) {
    rm_request_t req = {.code = CODE_ECHO};
    rm_response_t *r = NULL;
    int rc = rm_client_invoke_sync(cli, addr, &req, 2000, &r);
    rm_response_free(r);
    return rc;
}

static void test_reconnect_after_restart(void **state) {
    int port = tu_free_port();
    tsrv_t *t = tsrv_start(port);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    rm_client_t *cli = rm_client_create(NULL);
    assert_int_equal(try_echo(cli, addr), 0);
    tsrv_stop(t);
    /* while the server is down: the call fails (closed or cannot connect) */
    int rc = try_echo(cli, addr);
    assert_true(rc == RM_ECLOSED || rc == RM_ECONNECT);
    t = tsrv_start(port);
    assert_true(TU_WAIT_FOR(try_echo(cli, addr) == 0, 10000));
    /* an explicit close, then the next call reconnects */
    rm_client_close_addr(cli, addr);
    assert_true(TU_WAIT_FOR(try_echo(cli, addr) == 0, 10000));
    rm_client_destroy(cli);
    tsrv_stop(t);
}

static void test_server_request(void **state) {
    for (int ser = 0; ser < 2; ser++) {
        rm_client_opts_t o = {.on_request = on_request, .ser = ser};
        rm_client_t *cli = rm_client_create(&o);
        atomic_store(&g_cb_status, 1);
        rm_request_t req = {.code = CODE_CALLBACK};
        rm_response_t *r;
        assert_int_equal(rm_client_invoke_sync(cli, g_addr, &req, 5000, &r), 0);
        rm_response_free(r);
        assert_true(TU_WAIT_FOR(atomic_load(&g_cb_status) == 0, 5000));
        assert_int_equal(atomic_load(&g_cb_code), TRANSACTION_SHOULD_COMMIT);
        assert_string_equal(g_cb_ext, "tx1");
        rm_client_destroy(cli);
    }
}

typedef struct {
    atomic_int status;
    atomic_int called;
    atomic_int code;
} one_t;

static void one_cb(int status, rm_cmd_t *resp, void *arg) {
    one_t *o = arg;
    atomic_store(&o->status, status);
    if (resp) atomic_store(&o->code, resp->code);
    atomic_fetch_add(&o->called, 1);
}

static void test_send_frame(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    buf_t b;
    buf_init(&b);
    int32_t op = rm_client_next_opaque(cli);
    rm_enc_t e;
    rm_enc_begin(&e, &b, RM_SER_JSON, CODE_ECHO, op, 0, NULL);
    rm_enc_ext(&e, "k", "v");
    rm_enc_end(&e);
    one_t o = {.status = 1, .code = -1};
    assert_int_equal(rm_client_send_frame(cli, g_addr, b.data, b.len, op, 5000, one_cb, &o), 0);
    buf_free(&b);
    assert_true(TU_WAIT_FOR(atomic_load(&o.called) == 1, 5000));
    assert_int_equal(atomic_load(&o.status), 0);
    assert_int_equal(atomic_load(&o.code), SUCCESS);
    rm_client_destroy(cli);
}

static void test_destroy_fails_pending(void **state) {
    rm_client_t *cli = rm_client_create(NULL);
    one_t o = {.status = 1};
    rm_request_t req = {.code = CODE_SILENT};
    assert_int_equal(rm_client_invoke_async(cli, g_addr, &req, 60000, one_cb, &o), 0);
    /* make sure it is in flight: a later request on the same connection came back */
    check_sync_echo(cli, g_addr);
    rm_client_destroy(cli);
    assert_int_equal(atomic_load(&o.called), 1);
    assert_int_equal(atomic_load(&o.status), RM_ESHUTDOWN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_sync_many_threads),
        cmocka_unit_test(test_oneway),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_connect_failure),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_server_request),
        cmocka_unit_test(test_send_frame),
        cmocka_unit_test(test_destroy_fails_pending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
