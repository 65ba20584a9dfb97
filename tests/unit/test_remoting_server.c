/* Unit tests for the remoting server: an in-process server on an ephemeral
 * port of 127.0.0.1, driven by raw sockets as the peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "remoting_testsock.h"
#include "../testutil.h"

#define CODE_ECHO 100
#define CODE_REF 101
#define CODE_COUNT 102
#define CODE_DEFER 103
#define CODE_CALLBACK 104
#define CODE_LATE_REQ 105
#define CODE_BIG 200050

static struct {
    uv_loop_t loop;
    uv_thread_t th;
    uv_async_t stop;
    rm_server_t *srv;
    rm_server_t *srv_idle;
    int port, port_idle;
    atomic_int ready;
    atomic_int count;          /* CODE_COUNT requests seen */
    atomic_int released;       /* zero-copy releases */
    atomic_int cb_status;      /* last server-request callback status (or 1 = none yet) */
    atomic_int cb_code;        /* its response code */
    atomic_int closed_conns;   /* on_close calls */
    atomic_int done;
} S;

static const char k_ref_body[] = "zero-copy-body";

static void h_echo(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    const char *v = rm_ext_get(req, "v");
    if (v) rm_enc_ext(&e, "echo", v);
    rm_enc_ext_i64(&e, "lang", rm_conn_language(conn));
    rm_enc_ext_i64(&e, "ver", rm_conn_version(conn));
    if (req->body_len) rm_enc_body(&e, req->body, req->body_len);
    rm_enc_end(&e);
}

static void on_release(void *arg) { atomic_fetch_add(&S.released, 1); }

static void h_ref(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_body(&e, "<", 1);
    rm_enc_body_ref(&e, k_ref_body, sizeof(k_ref_body) - 1, on_release, NULL);
    rm_enc_body(&e, ">", 1);
    rm_enc_end(&e);
}

static void h_count(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    atomic_fetch_add(&S.count, 1);
    rm_conn_reply(conn, req, SUCCESS, "counted"); /* discarded for oneway requests */
}

typedef struct {
    uv_timer_t t;
    rm_conn_t *conn;
    rm_reqinfo_t ri;
} defer_t;

static void defer_closed(uv_handle_t *h) { free(h->data); }

static void defer_fire(uv_timer_t *t) {
    defer_t *d = t->data;
    rm_enc_t e;
    rm_conn_reply_begin_info(d->conn, &e, &d->ri, SUCCESS, NULL);
    rm_enc_ext(&e, "deferred", "1");
    rm_enc_end(&e);
    rm_conn_release(d->conn);
    uv_close((uv_handle_t *)t, defer_closed);
}

/* A server request on a connection that closed meanwhile: cb gets RM_ECLOSED. */
static void on_server_resp(int status, rm_cmd_t *resp, void *arg);

static void late_req_fire(uv_timer_t *t) {
    defer_t *d = t->data;
    if (!rm_conn_is_closed(d->conn)) {
        uv_timer_start(t, late_req_fire, 10, 0); /* wait for the peer's close */
        return;
    }
    rm_enc_t e;
    rm_conn_request_begin(d->conn, &e, NOTIFY_CONSUMER_IDS_CHANGED, 0, on_server_resp, NULL, 5000);
    rm_enc_ext(&e, "consumerGroup", "g1");
    rm_enc_body_ref(&e, k_ref_body, 4, on_release, NULL);
    rm_enc_end(&e);
    rm_conn_release(d->conn);
    uv_close((uv_handle_t *)t, defer_closed);
}

static void h_late_req(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    defer_t *d = calloc(1, sizeof(*d));
    d->conn = conn;
    rm_conn_retain(conn);
    uv_timer_init(&S.loop, &d->t);
    d->t.data = d;
    uv_timer_start(&d->t, late_req_fire, 10, 0);
}

static void h_defer(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    defer_t *d = calloc(1, sizeof(*d));
    d->conn = conn;
    d->ri = rm_reqinfo(req);
    rm_conn_retain(conn);
    uv_timer_init(&S.loop, &d->t);
    d->t.data = d;
    uv_timer_start(&d->t, defer_fire, 20, 0);
}

static void on_server_resp(int status, rm_cmd_t *resp, void *arg) {
    atomic_store(&S.cb_code, resp ? resp->code : -1);
    atomic_store(&S.cb_status, status);
}

static void h_callback(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    int32_t timeout = 5000;
    rm_ext_i32(req, "timeout", &timeout);
    rm_enc_t e;
    rm_conn_request_begin(conn, &e, NOTIFY_CONSUMER_IDS_CHANGED, 0, on_server_resp, NULL, timeout);
    rm_enc_ext(&e, "consumerGroup", "g1");
    rm_enc_end(&e);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_big(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_conn_reply(conn, req, SUCCESS, "big");
}

static void on_conn_close(rm_conn_t *conn, void *ctx) { atomic_fetch_add(&S.closed_conns, 1); }

static void srv_done(rm_server_t *srv, void *arg) { atomic_fetch_add(&S.done, 1); }

static void on_stop(uv_async_t *a) {
    rm_server_close(S.srv, srv_done, NULL);
    rm_server_close(S.srv_idle, srv_done, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void server_thread(void *arg) {
    rm_server_opts_t o = {.name = "test", .max_frame = 1 << 20};
    S.srv = rm_server_create(&S.loop, &o);
    rm_server_handle(S.srv, CODE_ECHO, h_echo, NULL);
    rm_server_handle(S.srv, CODE_REF, h_ref, NULL);
    rm_server_handle(S.srv, CODE_COUNT, h_count, NULL);
    rm_server_handle(S.srv, CODE_DEFER, h_defer, NULL);
    rm_server_handle(S.srv, CODE_CALLBACK, h_callback, NULL);
    rm_server_handle(S.srv, CODE_BIG, h_big, NULL);
    rm_server_handle(S.srv, CODE_LATE_REQ, h_late_req, NULL);
    rm_server_on_close(S.srv, on_conn_close, NULL);
    assert_int_equal(rm_server_listen(S.srv, "127.0.0.1", 0), 0);
    S.port = rm_server_port(S.srv, 0);
    rm_server_opts_t oi = {.name = "idle", .idle_timeout_s = 1};
    S.srv_idle = rm_server_create(&S.loop, &oi);
    assert_int_equal(rm_server_listen(S.srv_idle, "127.0.0.1", 0), 0);
    S.port_idle = rm_server_port(S.srv_idle, 0);
    atomic_store(&S.ready, 1);
    uv_run(&S.loop, UV_RUN_DEFAULT);
}

static int setup(void **state) {
    uv_loop_init(&S.loop);
    uv_async_init(&S.loop, &S.stop, on_stop);
    atomic_store(&S.cb_status, 1);
    uv_thread_create(&S.th, server_thread, NULL);
    if (!TU_WAIT_FOR(atomic_load(&S.ready), 5000)) return -1;
    return 0;
}

static int teardown(void **state) {
    uv_async_send(&S.stop);
    uv_thread_join(&S.th);
    assert_int_equal(atomic_load(&S.done), 2);
    uv_loop_close(&S.loop);
    return 0;
}

static buf_t g_b;

/* One request, one reply: same opaque, serialization mirrored. */
static void check_echo(int ser) {
    tsock_t *s = ts_connect(S.port);
    assert_non_null(s);
    ts_req(&g_b, ser, CODE_ECHO, 4242, 0, "v", "hello", "body!");
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 4242);
    assert_int_equal(c.code, SUCCESS);
    assert_true(rm_is_response(&c));
    assert_int_equal(c.serialize, ser);
    assert_int_equal(s->frame[0], ser); /* the T byte of the header-length word */
    assert_string_equal(rm_ext_get(&c, "echo"), "hello");
    assert_string_equal(rm_ext_get(&c, "lang"), "9");
    assert_string_equal(rm_ext_get(&c, "ver"), "317");
    assert_int_equal(c.body_len, 5);
    assert_memory_equal(c.body, "body!", 5);
    ts_close(s);
}

static void test_reply_json(void **state) { check_echo(RM_SER_JSON); }
static void test_reply_binary(void **state) { check_echo(RM_SER_ROCKETMQ); }

static void test_unknown_code(void **state) {
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, 999, 5, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.code, REQUEST_CODE_NOT_SUPPORTED);
    assert_int_equal(c.opaque, 5);
    assert_string_equal(c.remark, " request type 999 not supported");
    assert_int_equal(c.ext_count, 0);
    assert_null(c.body);
    /* a code above the small table */
    ts_req(&g_b, RM_SER_JSON, CODE_BIG, 6, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.code, SUCCESS);
    assert_string_equal(c.remark, "big");
    ts_close(s);
}

static void test_oneway_gets_nothing(void **state) {
    tsock_t *s = ts_connect(S.port);
    int before = atomic_load(&S.count);
    ts_req(&g_b, RM_SER_JSON, CODE_COUNT, 1, RM_FLAG_ONEWAY, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    ts_req(&g_b, RM_SER_JSON, 998, 2, RM_FLAG_ONEWAY, NULL, NULL, NULL); /* unknown, oneway */
    ts_send(s, g_b.data, g_b.len);
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 3, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 3); /* the first frame back answers the third request */
    assert_int_equal(atomic_load(&S.count), before + 1);
    ts_close(s);
}

static void test_pipelined(void **state) {
    tsock_t *s = ts_connect(S.port);
    buf_t all;
    buf_init(&all);
    for (int i = 0; i < 200; i++) {
        ts_req(&g_b, i % 2 ? RM_SER_ROCKETMQ : RM_SER_JSON, CODE_ECHO, 1000 + i, 0, "v", "x", NULL);
        buf_append(&all, g_b.data, g_b.len);
    }
    ts_send(s, all.data, all.len);
    for (int i = 0; i < 200; i++) {
        rm_cmd_t c;
        assert_int_equal(ts_read(s, &c, 5000), 0);
        assert_int_equal(c.opaque, 1000 + i);
        assert_int_equal(c.serialize, i % 2 ? RM_SER_ROCKETMQ : RM_SER_JSON);
    }
    buf_free(&all);
    ts_close(s);
}

static void test_split_byte_by_byte(void **state) {
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 77, 0, "v", "split", "abc");
    for (size_t i = 0; i < g_b.len; i++) ts_send(s, g_b.data + i, 1);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 77);
    assert_string_equal(rm_ext_get(&c, "echo"), "split");
    ts_close(s);
}

/* A healthy second connection is served after a bad one. */
static void check_other_conn_served(void) {
    tsock_t *s = ts_connect(S.port);
    assert_non_null(s);
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 9, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 9);
    ts_close(s);
}

static void expect_closed_after(const void *bytes, size_t n) {
    tsock_t *s = ts_connect(S.port);
    ts_send(s, bytes, n);
    assert_int_equal(ts_wait_closed(s, tu_scaled(5000)), 1);
    ts_close(s);
    check_other_conn_served();
}

static void test_bad_frames_close(void **state) {
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0};
    expect_closed_after(neg, sizeof(neg));
    const uint8_t small[] = {0, 0, 0, 2, 0, 0};
    expect_closed_after(small, sizeof(small));
    const uint8_t big[] = {0, 0x20, 0, 0, 0, 0, 0, 0}; /* 2 MiB > this server's 1 MiB */
    expect_closed_after(big, sizeof(big));
    const uint8_t hbig[] = {0, 0, 0, 6, 0, 0, 0, 9, '{', '}'}; /* H > L-4 */
    expect_closed_after(hbig, sizeof(hbig));
    uint8_t junk[64];
    const char *j = "{not json at all";
    be32_put(junk, (uint32_t)(4 + strlen(j)));
    be32_put(junk + 4, (uint32_t)strlen(j));
    memcpy(junk + 8, j, strlen(j));
    expect_closed_after(junk, 8 + strlen(j));
    const uint8_t t7[] = {0, 0, 0, 6, 7, 0, 0, 2, '{', '}'}; /* unknown serialize type */
    expect_closed_after(t7, sizeof(t7));
}

static void test_bad_header_answered(void **state) {
    tsock_t *s = ts_connect(S.port);
    const char *h = "{\"code\":100,\"opaque\":31,\"remark\":5}";
    uint8_t f[128];
    be32_put(f, (uint32_t)(4 + strlen(h)));
    be32_put(f + 4, (uint32_t)strlen(h));
    memcpy(f + 8, h, strlen(h));
    ts_send(s, f, 8 + strlen(h));
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.code, SYSTEM_ERROR);
    assert_int_equal(c.opaque, 31);
    assert_non_null(c.remark);
    /* binary header with remarkLen out of bounds: answered in binary */
    uint8_t b[8 + 21];
    memset(b, 0, sizeof(b));
    be32_put(b, 4 + 21);
    be32_put(b + 4, (1u << 24) | 21);
    be16_put(b + 8, CODE_ECHO);
    be32_put(b + 8 + 5, 32);
    be32_put(b + 8 + 13, 1000);
    ts_send(s, b, sizeof(b));
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.code, SYSTEM_ERROR);
    assert_int_equal(c.opaque, 32);
    assert_int_equal(c.serialize, RM_SER_ROCKETMQ);
    /* the connection goes on */
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 33, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 33);
    ts_close(s);
    check_other_conn_served();
}

static void test_zero_copy_released(void **state) {
    int before = atomic_load(&S.released);
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_REF, 40, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    ts_req(&g_b, RM_SER_ROCKETMQ, CODE_REF, 41, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ts_read(s, &c, 5000), 0);
        assert_int_equal(c.opaque, 40 + i);
        assert_int_equal(c.body_len, sizeof(k_ref_body) + 1);
        assert_memory_equal(c.body, "<zero-copy-body>", sizeof(k_ref_body) + 1);
    }
    assert_true(TU_WAIT_FOR(atomic_load(&S.released) == before + 2, 5000));
    /* oneway: released at once, nothing sent */
    ts_req(&g_b, RM_SER_JSON, CODE_REF, 42, RM_FLAG_ONEWAY, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    assert_true(TU_WAIT_FOR(atomic_load(&S.released) == before + 3, 5000));
    ts_close(s);
}

static void test_deferred_reply(void **state) {
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_DEFER, 50, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 51, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 51); /* the immediate reply overtakes the deferred one */
    assert_int_equal(ts_read(s, &c, 5000), 0);
    assert_int_equal(c.opaque, 50);
    assert_string_equal(rm_ext_get(&c, "deferred"), "1");
    ts_close(s);
    /* deferred reply to a connection that closed meanwhile: discarded, no crash */
    s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_DEFER, 52, 0, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    ts_close(s);
    check_other_conn_served();
}

static void test_server_request(void **state) {
    for (int ser = 0; ser < 2; ser++) {
        atomic_store(&S.cb_status, 1);
        tsock_t *s = ts_connect(S.port);
        ts_req(&g_b, ser, CODE_CALLBACK, 60, 0, NULL, NULL, NULL);
        ts_send(s, g_b.data, g_b.len);
        rm_cmd_t c;
        assert_int_equal(ts_read(s, &c, 5000), 0);
        assert_int_equal(c.code, NOTIFY_CONSUMER_IDS_CHANGED);
        assert_false(rm_is_response(&c));
        assert_int_equal(c.serialize, ser); /* the serialization last seen */
        assert_string_equal(rm_ext_get(&c, "consumerGroup"), "g1");
        int32_t op = c.opaque;
        assert_int_equal(ts_read(s, &c, 5000), 0);
        assert_int_equal(c.opaque, 60);
        /* an unmatched response is dropped */
        ts_req(&g_b, RM_SER_JSON, SUCCESS, op + 1000, RM_FLAG_RESPONSE, NULL, NULL, NULL);
        ts_send(s, g_b.data, g_b.len);
        ts_req(&g_b, ser, 7, op, RM_FLAG_RESPONSE, NULL, NULL, NULL);
        ts_send(s, g_b.data, g_b.len);
        assert_true(TU_WAIT_FOR(atomic_load(&S.cb_status) == 0, 5000));
        assert_int_equal(atomic_load(&S.cb_code), 7);
        ts_close(s);
    }
}

static void test_server_request_timeout_and_close(void **state) {
    atomic_store(&S.cb_status, 1);
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_CALLBACK, 61, 0, "timeout", "100", NULL);
    ts_send(s, g_b.data, g_b.len);
    assert_true(TU_WAIT_FOR(atomic_load(&S.cb_status) == RM_ETIMEOUT, 5000));
    atomic_store(&S.cb_status, 1);
    ts_req(&g_b, RM_SER_JSON, CODE_CALLBACK, 62, 0, "timeout", "60000", NULL);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 5000), 0);
    ts_close(s);
    assert_true(TU_WAIT_FOR(atomic_load(&S.cb_status) == RM_ECLOSED, 5000));
}

static void test_server_request_on_closed_conn(void **state) {
    atomic_store(&S.cb_status, 1);
    int rel = atomic_load(&S.released);
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_LATE_REQ, 63, RM_FLAG_ONEWAY, NULL, NULL, NULL);
    ts_send(s, g_b.data, g_b.len);
    ts_close(s);
    assert_true(TU_WAIT_FOR(atomic_load(&S.cb_status) == RM_ECLOSED, 5000));
    assert_true(TU_WAIT_FOR(atomic_load(&S.released) == rel + 1, 5000)); /* ref dropped at once */
}

static void test_idle_timeout_and_on_close(void **state) {
    int before = atomic_load(&S.closed_conns);
    tsock_t *a = ts_connect(S.port);
    tsock_t *s = ts_connect(S.port_idle);
    assert_non_null(s);
    assert_int_equal(ts_wait_closed(s, tu_scaled(10000)), 1);
    ts_close(s);
    ts_close(a);
    assert_true(TU_WAIT_FOR(atomic_load(&S.closed_conns) == before + 1, 5000));
}

/* A peer that stops sending (half close) still gets its replies, then EOF. */
static void test_half_close(void **state) {
    tsock_t *s = ts_connect(S.port);
    buf_t all;
    buf_init(&all);
    for (int i = 0; i < 20; i++) {
        ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 80 + i, 0, NULL, NULL, NULL);
        buf_append(&all, g_b.data, g_b.len);
    }
    ts_send(s, all.data, all.len);
    buf_free(&all);
    shutdown(s->fd, SHUT_WR);
    rm_cmd_t c;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ts_read(s, &c, 5000), 0);
        assert_int_equal(c.opaque, 80 + i);
    }
    assert_int_equal(ts_read(s, &c, 5000), 1);
    ts_close(s);
}

static void test_large_frame(void **state) {
    /* a 900 KiB body crosses many reads and the buffer grows once */
    size_t n = 900 * 1024;
    char *body = malloc(n + 1);
    for (size_t i = 0; i < n; i++) body[i] = (char)('a' + i % 26);
    body[n] = 0;
    tsock_t *s = ts_connect(S.port);
    ts_req(&g_b, RM_SER_JSON, CODE_ECHO, 70, 0, NULL, NULL, body);
    ts_send(s, g_b.data, g_b.len);
    rm_cmd_t c;
    assert_int_equal(ts_read(s, &c, 10000), 0);
    assert_int_equal(c.opaque, 70);
    assert_int_equal(c.body_len, n);
    assert_memory_equal(c.body, body, n);
    free(body);
    ts_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_json),
        cmocka_unit_test(test_reply_binary),
        cmocka_unit_test(test_unknown_code),
        cmocka_unit_test(test_oneway_gets_nothing),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_split_byte_by_byte),
        cmocka_unit_test(test_bad_frames_close),
        cmocka_unit_test(test_bad_header_answered),
        cmocka_unit_test(test_zero_copy_released),
        cmocka_unit_test(test_deferred_reply),
        cmocka_unit_test(test_server_request),
        cmocka_unit_test(test_server_request_timeout_and_close),
        cmocka_unit_test(test_server_request_on_closed_conn),
        cmocka_unit_test(test_idle_timeout_and_on_close),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_large_frame),
    };
    buf_init(&g_b);
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    buf_free(&g_b);
    return rc;
}
