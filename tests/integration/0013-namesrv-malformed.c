/*
 * NameServer against malformed input over real TCP: each bad frame gets its
 * outcome on its own connection (closed, or a SYSTEM_ERROR answer when the
 * header still says who asked), and a second connection still gets a correct
 * route answer afterwards.
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

static int port;
static pid_t pid;
static char *dir;
static wc_t broker; /* keeps the registration alive */

static int setup(void **state) {
    (void)state;
    dir = tu_tmpdir("petrel-it-nsbad");
    char log[600];
    snprintf(log, sizeof(log), "%s/namesrv.log", dir);
    port = tu_free_port();
    const char *extra[] = {"--maxFrameSize=1048576", NULL};
    pid = wc_spawn_namesrv(port, NULL, extra, log);
    if (pid <= 0) return -1;
    if (wc_connect(&broker, port) != 0) return -1;
    buf_t b;
    buf_init(&b);
    const char *topics[] = {"Good:4:4:6", NULL};
    wc_register_body(&b, 1, topics);
    const char *ext[] = {"brokerName", "good-a", "brokerAddr", "127.0.0.1:35001", "clusterName",
                         "G", "haServerAddr", "h", "brokerId", "0", NULL};
    rm_cmd_t r;
    int rc = wc_call(&broker, REGISTER_BROKER, ext, b.data, b.len, &r, 5000);
    buf_free(&b);
    return rc == 0 && r.code == SUCCESS ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    wc_close(&broker);
    int st = tu_stop(pid, 15, 10000);
    if (!tu_exited_ok(st)) {
        fprintf(stderr, "namesrv did not exit cleanly; log in %s\n", dir);
        return -1;
    }
    tu_rmrf(dir);
    free(dir);
    return 0;
}

/* A fresh connection still gets the full, correct route. */
static void assert_still_serving(void) {
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ext[] = {"topic", "Good", NULL};
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    cJSON *o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_non_null(o);
    cJSON *qd = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0);
    assert_string_equal(cJSON_GetObjectItem(qd, "brokerName")->valuestring, "good-a");
    assert_int_equal(cJSON_GetObjectItem(qd, "writeQueueNums")->valueint, 4);
    cJSON_Delete(o);
    wc_close(&c);
}

/* Sends raw bytes; the server must close the connection. */
static void expect_close(const void *p, size_t n) {
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    assert_int_equal(wc_send_raw(&c, p, n), 0);
    assert_int_equal(wc_wait_closed(&c, 5000), 1);
    wc_close(&c);
    assert_still_serving();
}

/* Sends raw bytes whose header still names code and opaque: the server must
 * answer SYSTEM_ERROR with that opaque, or close. Returns 1 for an answer. */
static int expect_error_or_close(const void *p, size_t n, int32_t opaque) {
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    assert_int_equal(wc_send_raw(&c, p, n), 0);
    rm_cmd_t r;
    int answered = wc_read(&c, &r, 5000) == 0;
    if (answered) {
        assert_true(rm_is_response(&r));
        assert_int_equal(r.opaque, opaque);
        assert_int_equal(r.code, SYSTEM_ERROR);
    } else {
        assert_int_equal(wc_wait_closed(&c, 1000), 1);
    }
    wc_close(&c);
    assert_still_serving();
    return answered;
}

static void frame(buf_t *b, uint32_t ser, const char *hdr, const char *body) {
    size_t hl = strlen(hdr), bl = body ? strlen(body) : 0;
    buf_put_be32(b, (uint32_t)(4 + hl + bl));
    buf_put_be32(b, (ser << 24) | (uint32_t)hl);
    buf_append(b, hdr, hl);
    if (bl) buf_append(b, body, bl);
}

static void test_garbage_length(void **state) {
    (void)state;
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0};
    expect_close(neg, sizeof(neg));
    const uint8_t small[] = {0, 0, 0, 2, 0, 0};
    expect_close(small, sizeof(small));
    const uint8_t huge[] = {0x00, 0x20, 0x00, 0x00, 0, 0, 0, 2, '{', '}'}; /* 2 MiB > 1 MiB max */
    expect_close(huge, sizeof(huge));
    /* HTTP on the remoting port */
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_close(http, strlen(http));
}

static void test_truncated_header(void **state) {
    (void)state;
    /* header length larger than the frame */
    buf_t b;
    buf_init(&b);
    buf_put_be32(&b, 10);
    buf_put_be32(&b, 100);
    buf_append(&b, "{\"code\":1", 6);
    expect_close(b.data, b.len);
    buf_reset(&b);
    /* a binary header cut short */
    buf_put_be32(&b, 4 + 5);
    buf_put_be32(&b, (1u << 24) | 5);
    buf_append(&b, "\x00\x69\x00\x00\x01", 5);
    expect_close(b.data, b.len);
    buf_free(&b);
}

static void test_invalid_json(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    frame(&b, 0, "{\"code\":105,\"opaque\":7,", NULL); /* cut */
    fprintf(stderr, "cut JSON header: %s\n",
            expect_error_or_close(b.data, b.len, 7) ? "SYSTEM_ERROR answer" : "closed");
    buf_reset(&b);
    frame(&b, 0, "not json at all", NULL);
    expect_close(b.data, b.len);
    buf_reset(&b);
    frame(&b, 3, "{}", NULL); /* unknown serialization type */
    expect_close(b.data, b.len);
    buf_reset(&b);
    /* decodable code and opaque, bad field type: SYSTEM_ERROR or a close, never a crash */
    frame(&b, 0, "{\"code\":105,\"opaque\":9,\"flag\":0,\"extFields\":5}", NULL);
    fprintf(stderr, "extFields of the wrong type: %s\n",
            expect_error_or_close(b.data, b.len, 9) ? "SYSTEM_ERROR answer" : "closed");
    buf_free(&b);
}

static void test_bad_bodies_keep_connection(void **state) {
    (void)state;
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ext[] = {"brokerName", "bad-a", "brokerAddr", "127.0.0.1:35002", "clusterName", "G",
                         "haServerAddr", "h", "brokerId", "0", NULL};
    const char *bodies[] = {"{\"topicConfigSerializeWrapper\":", "[1,2,3]",
                            "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":7}}", NULL};
    for (int i = 0; bodies[i]; i++) {
        assert_int_equal(wc_call(&c, REGISTER_BROKER, ext, bodies[i], strlen(bodies[i]), &r, 5000),
                         0);
        assert_int_equal(r.code, SYSTEM_ERROR);
    }
    const char *zext[] = {"brokerName", "bad-a", "brokerAddr", "127.0.0.1:35002", "clusterName",
                          "G", "haServerAddr", "h", "brokerId", "0", "compressed", "true", NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, zext, "garbage", 7, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    const char *idext[] = {"brokerName", "bad-a", "brokerAddr", "127.0.0.1:35002", "clusterName",
                           "G", "haServerAddr", "h", "brokerId", "x1", NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, idext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    const char *qext[] = {"brokerName", "bad-a", "brokerAddr", "127.0.0.1:35002", "clusterName",
                          "G", "brokerId", "0", NULL};
    assert_int_equal(wc_call(&c, QUERY_DATA_VERSION, qext, "{{", 2, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    const char *tq[] = {"topic", "Good", NULL};
    assert_int_equal(wc_call(&c, REGISTER_TOPIC_IN_NAMESRV, tq, "nope", 4, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    /* the same connection still works, and nothing was registered */
    assert_int_equal(wc_call(&c, GET_BROKER_CLUSTER_INFO, NULL, NULL, 0, &r, 5000), 0);
    char *ci = wc_body_str(&r);
    assert_null(strstr(ci, "bad-a"));
    free(ci);
    wc_close(&c);
    assert_still_serving();
}

static void test_many_pipelined_then_close(void **state) {
    (void)state;
    /* 200 requests written at once, connection closed before reading: no harm */
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    const char *ext[] = {"topic", "Good", NULL};
    for (int i = 0; i < 200; i++) assert_true(wc_send(&c, GET_ROUTEINFO_BY_TOPIC, 0, ext, NULL, 0) > 0);
    wc_close(&c);
    assert_still_serving();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_length),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_bad_bodies_keep_connection),
        cmocka_unit_test(test_many_pipelined_then_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
