/* Unit tests for src/metrics (text format, histograms, quantiles, the loop bridge, HTTP)
 * and the console's fastjson key rewriting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "console/console.h"
#include "metrics/metrics.h"
#include "../testutil.h"

static char *text(buf_t *b) {
    buf_put_u8(b, 0);
    b->len--;
    return (char *)b->data;
}

static void test_escape_and_family(void **state) {
    buf_t o;
    buf_init(&o);
    pm_family(&o, "x_total", "counter", "a \\ b\nc \"q\"");
    pm_label_t a[1] = {{"topic", "t\"1\\\n"}};
    pm_label_t b[1] = {{"g", ""}};
    pm_sample_i64(&o, "x_total", a, 1, b, 1, -5);
    pm_sample_f(&o, "y", NULL, 0, NULL, 0, 0.25);
    pm_sample_f(&o, "z", NULL, 0, NULL, 0, 1.0 / 0.0);
    assert_string_equal(text(&o), "# HELP x_total a \\\\ b\\nc \"q\"\n# TYPE x_total counter\n"
                                  "x_total{topic=\"t\\\"1\\\\\\n\",g=\"\"} -5\ny 0.25\nz +Inf\n");
    buf_free(&o);
}

static void test_histogram(void **state) {
    static const double bounds[] = {1, 10};
    pm_hist_t h;
    pm_hist_init(&h, bounds, 2);
    pm_hist_observe(&h, 0.5);
    pm_hist_observe(&h, 1);  /* le is inclusive */
    pm_hist_observe(&h, 5);
    pm_hist_observe(&h, 50);
    buf_t o;
    buf_init(&o);
    pm_label_t a[1] = {{"k", "v"}};
    pm_hist_write(&o, "h", a, 1, NULL, 0, &h);
    assert_string_equal(text(&o), "h_bucket{k=\"v\",le=\"1\"} 2\nh_bucket{k=\"v\",le=\"10\"} 3\n"
                                  "h_bucket{k=\"v\",le=\"+Inf\"} 4\nh_sum{k=\"v\"} 56.5\nh_count{k=\"v\"} 4\n");
    buf_free(&o);
}

static void test_latency_quantiles(void **state) {
    pm_lat_t l;
    memset(&l, 0, sizeof(l));
    assert_true(pm_lat_quantile(&l, 0.5) == 0);
    for (int i = 1; i <= 1000; i++) pm_lat_observe(&l, (uint64_t)i);
    double p50 = pm_lat_quantile(&l, 0.5), p99 = pm_lat_quantile(&l, 0.99);
    /* upper bounds of 4-per-octave buckets: at most 25% above the true value */
    assert_true(p50 >= 500 && p50 <= 625);
    assert_true(p99 >= 990 && p99 <= 1240);
    assert_true(pm_lat_quantile(&l, 1.0) >= 1000);
    pm_lat_observe(&l, UINT64_C(1) << 40); /* beyond the last bucket: clamped */
    assert_true(pm_lat_quantile(&l, 1.0) > 1e8);
}

/* ---- bridge + HTTP ---- */

typedef struct loop_s {
    uv_loop_t loop;
    uv_async_t stop;
    pm_bridge_t br;
    int renders;
} loop_t;

static void render(buf_t *out, void *arg) {
    loop_t *l = arg;
    l->renders++;
    buf_printf(out, "renders %d\n", l->renders);
}

static void on_stop(uv_async_t *a) {
    loop_t *l = a->data;
    pm_bridge_close(&l->br, NULL);
    uv_close((uv_handle_t *)&l->stop, NULL);
}

static void loop_main(void *arg) { uv_run(&((loop_t *)arg)->loop, UV_RUN_DEFAULT); }

static void on_http(const http_req_t *r, http_resp_t *resp, void *arg) {
    loop_t *l = arg;
    if (!strcmp(r->method, "POST")) {
        buf_printf(&resp->body, "got %zu:%s", r->body_len, (const char *)r->body);
        return;
    }
    const char *q = http_arg(r, "q");
    if (q) {
        resp->status = 201;
        buf_printf(&resp->body, "q=%s", q);
        return;
    }
    if (pm_bridge_call(&l->br, &resp->body, 2000) != 0) resp->status = 503;
}

static int http(int port, const char *req, char *out, size_t n) {
    int fd = tu_connect(port);
    if (fd < 0) return -1;
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fd, out + got, n - 1 - got)) > 0) got += (size_t)r;
    out[got] = 0;
    close(fd);
    int status = -1;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

static void test_bridge_and_http(void **state) {
    loop_t l;
    memset(&l, 0, sizeof(l));
    uv_loop_init(&l.loop);
    assert_int_equal(pm_bridge_init(&l.br, &l.loop, render, &l), 0);
    uv_async_init(&l.loop, &l.stop, on_stop);
    l.stop.data = &l;
    uv_thread_t t;
    uv_thread_create(&t, loop_main, &l);
    char err[256], out[4096];
    http_server_t *s = http_start("127.0.0.1", 0, 0, on_http, &l, err, sizeof(err));
    assert_non_null(s);
    int port = http_port(s);
    assert_true(port > 0);
    assert_int_equal(http(port, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "renders 1"));
    assert_int_equal(http(port, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "renders 2"));
    assert_int_equal(http(port, "GET /x?q=a%20b HTTP/1.0\r\n\r\n", out, sizeof(out)), 201);
    assert_non_null(strstr(out, "q=a b"));
    assert_int_equal(http(port, "POST /p HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "got 5:hello"));
    /* a second server on the same port fails cleanly */
    assert_null(http_start("127.0.0.1", port, 0, on_http, &l, err, sizeof(err)));
    /* once the bridge is closed, calls fail at once instead of waiting */
    uv_async_send(&l.stop);
    uv_thread_join(&t);
    assert_int_equal(http(port, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out)), 503);
    http_stop(s);
    pm_bridge_destroy(&l.br);
    assert_int_equal(uv_loop_close(&l.loop), 0);
}

static void test_fix_keys(void **state) {
    const char *in = "{\"a\":{0:\"x\",1:\"y\"},\"t\":{{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}:"
                     "{\"maxOffset\":3},{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"T:{\\\"\"}:5},"
                     "\"s\":\"{0:1}\",\"e\":{},\"l\":[{1:2}]}";
    char *out = console_json_fix_keys(in, strlen(in));
    assert_string_equal(out, "{\"a\":{\"0\":\"x\",\"1\":\"y\"},\"t\":{\"{\\\"brokerName\\\":\\\"b\\\",\\\"queueId\\\":0,"
                             "\\\"topic\\\":\\\"T\\\"}\":{\"maxOffset\":3},\"{\\\"brokerName\\\":\\\"b\\\",\\\"queueId\\\":1,"
                             "\\\"topic\\\":\\\"T:{\\\\\\\"\\\"}\":5},\"s\":\"{0:1}\",\"e\":{},\"l\":[{\"1\":2}]}");
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_and_family),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_latency_quantiles),
        cmocka_unit_test(test_bridge_and_http),
        cmocka_unit_test(test_fix_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
