/*
 * Delayed messages across kill -9: messages not yet due when the broker
 * dies are delivered after the restart, once; messages delivered (and whose
 * progress reached delayOffset.json) before the kill are not delivered again.
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

#include "../broker_client.h"
#include "../testutil.h"
#include "common/util.h"

#define N 20

static pid_t start(const char *dir, int port) {
    const char *extra[] = {"--messageDelayLevel=1s 1s 1s 2s", "--flushDelayOffsetInterval=200",
                           "--flushDiskType=SYNC_FLUSH", NULL};
    return bc_spawn_broker(dir, port, extra, NULL);
}

static int64_t count(bc_t *c, const char *topic) {
    int64_t off = 0, n = 0;
    for (;;) {
        rm_cmd_t r;
        if (bc_pull(c, "G_DR", topic, 0, off, 32, 4, "*", 0, &r, 5000) != 0) return -1;
        if (r.code != SUCCESS) return n;
        n += bc_count_records(&r);
        off = bc_ext_i64(&r, "nextBeginOffset");
    }
}

static void test_delay_kill9(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bdr");
    int port = tu_free_port();
    pid_t pid = start(dir, port);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    /* batch A: delivered before the kill */
    for (int i = 0; i < N; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicDA", 0, "DELAY\0011\002", "a", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    assert_true(TU_WAIT_FOR(count(&c, "TopicDA") == N, 10000));
    char path[700];
    snprintf(path, sizeof(path), "%s/config/delayOffset.json", dir);
    char want[32];
    snprintf(want, sizeof(want), "\"1\":%d", N);
    assert_true(TU_WAIT_FOR(tu_file_has(path, want), 10000));
    /* batch B: still waiting (level 4 = 2 s) when the broker dies */
    for (int i = 0; i < N; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicDB", 0, "DELAY\0014\002", "b", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    bc_stop(pid, 9, 10000);
    bc_close(&c);
    pid = start(dir, port);
    assert_true(pid > 0);
    assert_int_equal(bc_connect(&c, port), 0);
    assert_true(TU_WAIT_FOR(count(&c, "TopicDB") == N, 15000));
    /* level 4's progress covers all of batch B: nothing is left to deliver */
    snprintf(want, sizeof(want), "\"4\":%d", N);
    assert_true(TU_WAIT_FOR(tu_file_has(path, want), 10000));
    /* no second copy of anything */
    assert_int_equal(count(&c, "TopicDB"), N);
    assert_int_equal(count(&c, "TopicDA"), N);
    bc_close(&c);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

/* Timer messages (RocketMQ 5's TIMER_* properties): held until due, across kill -9, once. */
static void test_timer_kill9(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-btm");
    int port = tu_free_port();
    pid_t pid = start(dir, port);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    char props[128];
    snprintf(props, sizeof(props), "TIMER_DELIVER_MS\001%lld\002",
             (long long)(now_ms() + 800));
    assert_int_equal(bc_send_msg(&c, "TopicTm", 0, props, "abs", 3, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    for (int i = 0; i < N; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicTm", 0, "TIMER_DELAY_MS\0011500\002", "rel", 3, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    assert_int_equal(bc_send_msg(&c, "TopicTm", 0, "TIMER_DELAY_SEC\001x\002", "bad", 3, &r), 0);
    assert_int_equal(r.code, MESSAGE_ILLEGAL);
    assert_int_equal(bc_send_msg(&c, "TopicTm", 0, "TIMER_DELAY_SEC\001999999\002", "far", 3, &r), 0);
    assert_int_equal(r.code, MESSAGE_ILLEGAL);
    /* nothing is visible yet */
    assert_true(count(&c, "TopicTm") < 1 + N);
    /* the absolute one arrives first; then the broker dies before the others are due */
    assert_true(TU_WAIT_FOR(count(&c, "TopicTm") >= 1, 10000));
    bc_stop(pid, 9, 10000);
    bc_close(&c);
    pid = start(dir, port);
    assert_true(pid > 0);
    assert_int_equal(bc_connect(&c, port), 0);
    assert_true(TU_WAIT_FOR(count(&c, "TopicTm") >= 1 + N, 15000));
    char path[700];
    snprintf(path, sizeof(path), "%s/config/timerOffset.json", dir);
    char want[64];
    snprintf(want, sizeof(want), "\"lwm\":%d,", 1 + N);
    assert_true(TU_WAIT_FOR(tu_file_has(path, want), 10000));
    /* the absolute one may come twice (its progress was not yet saved at the kill); the rest once */
    int64_t n = count(&c, "TopicTm");
    assert_true(n == 1 + N || n == 2 + N);
    bc_close(&c);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_delay_kill9),
                                       cmocka_unit_test(test_timer_kill9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
