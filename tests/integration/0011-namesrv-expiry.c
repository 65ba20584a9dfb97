/*
 * NameServer broker expiry over real TCP: a broker that stops registering is
 * removed after brokerChannelExpiredTime (shortened to 3000 ms here), one
 * that keeps sending BROKER_HEARTBEAT stays, and a broker whose connection
 * closes is removed at once (shown with the default 120 s expiry).
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

#include "../testutil.h"
#include "../wireclient.h"

static char *dir;

static pid_t start(int port, const char *expire, const char *name) {
    char log[600], a1[64];
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    snprintf(a1, sizeof(a1), "--brokerChannelExpiredTime=%s", expire);
    const char *extra[] = {a1, "--scanNotActiveBrokerInterval=200", NULL};
    pid_t pid = wc_spawn_namesrv(port, NULL, extra, log);
    assert_true(pid > 0);
    return pid;
}

static void reg(wc_t *c, const char *name, const char *addr, const char *topic) {
    buf_t b;
    buf_init(&b);
    const char *topics[] = {topic, NULL};
    wc_register_body(&b, 1, topics);
    const char *ext[] = {"brokerName", name, "brokerAddr", addr, "clusterName", "ExpCluster",
                         "haServerAddr", addr, "brokerId", "0", NULL};
    rm_cmd_t r;
    assert_int_equal(wc_call(c, REGISTER_BROKER, ext, b.data, b.len, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    buf_free(&b);
}

static int route_code(wc_t *c, const char *topic) {
    rm_cmd_t r;
    const char *ext[] = {"topic", topic, NULL};
    if (wc_call(c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000) != 0) return -1;
    return r.code;
}

static void test_expiry_after_timeout(void **state) {
    (void)state;
    int port = tu_free_port();
    pid_t pid = start(port, "3000", "expiry");
    wc_t b1, b2, q;
    assert_int_equal(wc_connect(&b1, port), 0);
    assert_int_equal(wc_connect(&b2, port), 0);
    assert_int_equal(wc_connect(&q, port), 0);
    reg(&b1, "exp-silent", "127.0.0.1:33001", "Silent");
    reg(&b2, "exp-beating", "127.0.0.1:33002", "Beating");
    int64_t t0 = tu_now_ms();
    assert_int_equal(route_code(&q, "Silent"), SUCCESS);
    /* b2 heartbeats every 300 ms, b1 says nothing (but keeps its connection open) */
    const char *hb[] = {"brokerName", "exp-beating", "brokerAddr", "127.0.0.1:33002",
                        "clusterName", "ExpCluster", NULL};
    int gone = TU_WAIT_FOR(({
                               rm_cmd_t r;
                               assert_int_equal(wc_call(&b2, BROKER_HEARTBEAT, hb, NULL, 0, &r, 5000), 0);
                               tu_sleep_ms(290);
                               route_code(&q, "Silent") == TOPIC_NOT_EXIST;
                           }),
                           15000);
    assert_true(gone);
    /* not before its 3 s timeout */
    assert_true(tu_now_ms() - t0 >= 3000);
    assert_int_equal(route_code(&q, "Beating"), SUCCESS);
    /* as in RocketMQ, the expired broker's connection is closed */
    assert_int_equal(wc_wait_closed(&b1, 5000), 1);
    /* cluster info no longer lists it */
    rm_cmd_t r;
    assert_int_equal(wc_call(&q, GET_BROKER_CLUSTER_INFO, NULL, NULL, 0, &r, 5000), 0);
    char *ci = wc_body_str(&r);
    assert_null(strstr(ci, "exp-silent"));
    assert_non_null(strstr(ci, "exp-beating"));
    free(ci);
    wc_close(&b1);
    wc_close(&b2);
    wc_close(&q);
    int st = tu_stop(pid, 15, 10000);
    assert_true(tu_exited_ok(st));
}

static void test_removed_on_close(void **state) {
    (void)state;
    int port = tu_free_port();
    pid_t pid = start(port, "120000", "close");
    wc_t b, q;
    assert_int_equal(wc_connect(&b, port), 0);
    assert_int_equal(wc_connect(&q, port), 0);
    reg(&b, "close-a", "127.0.0.1:33101", "CloseTopic");
    assert_int_equal(route_code(&q, "CloseTopic"), SUCCESS);
    wc_close(&b);
    assert_true(TU_WAIT_FOR(route_code(&q, "CloseTopic") == TOPIC_NOT_EXIST, 5000));
    /* a broker re-registering on a new connection is not hurt by the old one closing */
    wc_t b1, b2;
    assert_int_equal(wc_connect(&b1, port), 0);
    assert_int_equal(wc_connect(&b2, port), 0);
    reg(&b1, "close-b", "127.0.0.1:33102", "Moved");
    reg(&b2, "close-b", "127.0.0.1:33102", "Moved");
    wc_close(&b1);
    /* b2's registration was answered before b1 closed, so b1's close must not remove it */
    assert_int_equal(route_code(&q, "Moved"), SUCCESS);
    assert_int_equal(route_code(&q, "Moved"), SUCCESS);
    wc_close(&b2);
    assert_true(TU_WAIT_FOR(route_code(&q, "Moved") == TOPIC_NOT_EXIST, 5000));
    wc_close(&q);
    int st = tu_stop(pid, 15, 10000);
    assert_true(tu_exited_ok(st));
}

int main(void) {
    dir = tu_tmpdir("petrel-it-nsexp");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_after_timeout),
        cmocka_unit_test(test_removed_on_close),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) tu_rmrf(dir);
    else fprintf(stderr, "logs in %s\n", dir);
    free(dir);
    return rc;
}
