/*
 * Broker restarts: a graceful SIGTERM keeps topics, groups, messages and
 * committed offsets; kill -9 under SYNC_FLUSH keeps every acknowledged
 * message (and offsets once consumerOffset.json was written). Also bad
 * configurations rejected at start.
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

static pid_t start(const char *dir, int port, int sync) {
    const char *extra[] = {sync ? "--flushDiskType=SYNC_FLUSH" : "--flushDiskType=ASYNC_FLUSH",
                           "--flushConsumerOffsetInterval=200", NULL};
    return bc_spawn_broker(dir, port, extra, NULL);
}

static int64_t max_offset(bc_t *c, const char *topic, int q) {
    char qs[16];
    snprintf(qs, sizeof(qs), "%d", q);
    const char *ext[] = {"topic", topic, "queueId", qs, NULL};
    rm_cmd_t r;
    assert_int_equal(bc_code(c, GET_MAX_OFFSET, ext, &r), SUCCESS);
    return bc_ext_i64(&r, "offset");
}

static int64_t consumer_offset(bc_t *c, const char *group, const char *topic, int q) {
    char qs[16];
    snprintf(qs, sizeof(qs), "%d", q);
    const char *ext[] = {"consumerGroup", group, "topic", topic, "queueId", qs,
                         "setZeroIfNotFound", "false", NULL};
    rm_cmd_t r;
    assert_int_equal(bc_call(c, QUERY_CONSUMER_OFFSET, ext, NULL, 0, &r, 5000), 0);
    return r.code == SUCCESS ? bc_ext_i64(&r, "offset") : -1;
}

static void commit(bc_t *c, const char *group, const char *topic, int q, int64_t off) {
    char qs[16], os[32];
    snprintf(qs, sizeof(qs), "%d", q);
    snprintf(os, sizeof(os), "%lld", (long long)off);
    const char *ext[] = {"consumerGroup", group, "topic", topic, "queueId", qs,
                         "commitOffset", os, NULL};
    rm_cmd_t r;
    assert_int_equal(bc_code(c, UPDATE_CONSUMER_OFFSET, ext, &r), SUCCESS);
}

/* Pulls the whole queue; returns the number of records (all must decode). */
static int64_t pull_all(bc_t *c, const char *topic, int q) {
    int64_t off = 0, n = 0;
    for (;;) {
        rm_cmd_t r;
        assert_int_equal(bc_pull(c, "G_RS", topic, q, off, 32, 4, "*", 0, &r, 10000), 0);
        if (r.code != SUCCESS) break;
        int k = bc_count_records(&r);
        assert_true(k > 0);
        n += k;
        off = bc_ext_i64(&r, "nextBeginOffset");
    }
    return n;
}

static void test_graceful_restart(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-brestart");
    int port = tu_free_port();
    pid_t pid = start(dir, port, 0);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ct[] = {"topic", "TopicKeep", "readQueueNums", "2", "writeQueueNums", "2",
                        "perm", "6", "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, ct, &r), SUCCESS);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicKeep", i % 2, "TAGS\001A\002", "data", 4, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    commit(&c, "G_RS", "TopicKeep", 0, 17);
    commit(&c, "G_RS", "TopicKeep", 1, 23);
    const char *g = "{\"groupName\":\"G_KEEP\",\"retryMaxTimes\":5}";
    assert_int_equal(bc_call(&c, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, g, strlen(g), &r, 5000), 0);
    bc_close(&c);
    assert_true(tu_exited_ok(bc_stop(pid, 15, 20000)));

    pid = start(dir, port, 0);
    assert_true(pid > 0);
    assert_int_equal(bc_connect(&c, port), 0);
    assert_int_equal(max_offset(&c, "TopicKeep", 0), 50);
    assert_int_equal(max_offset(&c, "TopicKeep", 1), 50);
    assert_int_equal(consumer_offset(&c, "G_RS", "TopicKeep", 0), 17);
    assert_int_equal(consumer_offset(&c, "G_RS", "TopicKeep", 1), 23);
    assert_int_equal(pull_all(&c, "TopicKeep", 0), 50);
    assert_int_equal(bc_call(&c, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"TopicKeep\":{"));
    assert_int_equal(bc_call(&c, GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"G_KEEP\":{"));
    bc_close(&c);
    assert_true(tu_exited_ok(bc_stop(pid, 15, 20000)));
    tu_rmrf(dir);
    free(dir);
}

static void test_kill9_sync_flush(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bkill");
    int port = tu_free_port();
    pid_t pid = start(dir, port, 1);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    int acked = 0;
    char body[300];
    memset(body, 'x', sizeof(body));
    for (int i = 0; i < 300; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicKill", 0, "TAGS\001K\002", body, sizeof(body), &r), 0);
        assert_int_equal(r.code, SUCCESS);
        assert_int_equal(bc_ext_i64(&r, "queueOffset"), i);
        acked++;
    }
    commit(&c, "G_RS", "TopicKill", 0, 123);
    char path[700];
    snprintf(path, sizeof(path), "%s/config/consumerOffset.json", dir);
    assert_true(TU_WAIT_FOR(tu_file_has(path, "\"TopicKill@G_RS\":{\"0\":123}"), 10000));
    /* more sends in flight (not acknowledged) while the process dies */
    for (int i = 0; i < 50; i++) {
        const char *ext[] = {"a", "PG", "b", "TopicKill", "c", "TBW102", "d", "4", "e", "0",
                             "f", "0", "g", "1", "h", "0", "i", "", NULL};
        bc_send(&c, SEND_MESSAGE_V2, 0, ext, body, sizeof(body));
    }
    bc_stop(pid, 9, 10000);
    bc_close(&c);

    pid = start(dir, port, 1);
    assert_true(pid > 0);
    assert_int_equal(bc_connect(&c, port), 0);
    int64_t max = max_offset(&c, "TopicKill", 0);
    assert_true(max >= acked);
    assert_int_equal(pull_all(&c, "TopicKill", 0), max);
    assert_int_equal(consumer_offset(&c, "G_RS", "TopicKill", 0), 123);
    /* the broker still takes messages after recovery */
    assert_int_equal(bc_send_msg(&c, "TopicKill", 0, "", "after", 5, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "queueOffset"), max);
    bc_close(&c);
    assert_true(tu_exited_ok(bc_stop(pid, 15, 20000)));
    tu_rmrf(dir);
    free(dir);
}

static void test_bad_config(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bconf");
    char log[600], conf[600];
    snprintf(log, sizeof(log), "%s/broker.log", dir);
    snprintf(conf, sizeof(conf), "%s/broker.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f, "brokerClusterName=C1\nflushDiskType=SOMETIMES\n");
    fclose(f);
    char *argv[] = {NULL, "broker", "-c", conf, NULL};
    int st = bc_stop(tu_spawn(argv, log), 0, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    assert_true(tu_file_has(log, "flushDiskType: 'SOMETIMES' is not one of"));
    char *argv2[] = {NULL, "broker", "--listenPort=notaport", NULL};
    st = bc_stop(tu_spawn(argv2, log), 0, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    assert_true(tu_file_has(log, "listenPort: 'notaport' is not an integer"));
    char *argv4[] = {NULL, "broker", "--noSuchOption=1", NULL};
    st = bc_stop(tu_spawn(argv4, log), 0, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    /* unknown keys in the file are warned about; -p prints the result */
    f = fopen(conf, "w");
    fprintf(f, "brokerClusterName=C1\nbrokerIP1=127.0.0.1\nnoSuchKey=1\n");
    fclose(f);
    char *argv3[] = {NULL, "broker", "-c", conf, "-p", "--brokerName=bx", NULL};
    st = bc_stop(tu_spawn(argv3, log), 0, 10000);
    assert_true(tu_exited_ok(st));
    assert_true(tu_file_has(log, "noSuchKey"));
    assert_true(tu_file_has(log, "brokerClusterName=C1"));
    assert_true(tu_file_has(log, "brokerName=bx"));
    tu_rmrf(dir);
    free(dir);
}

/* SYNC_MASTER without a slave: stored, answered SLAVE_NOT_AVAILABLE with every header field. */
static void test_sync_master(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bsm");
    int port = tu_free_port();
    const char *extra[] = {"--brokerRole=SYNC_MASTER", "--flushDiskType=SYNC_FLUSH", NULL};
    pid_t pid = bc_spawn_broker(dir, port, extra, NULL);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicSM", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SLAVE_NOT_AVAILABLE);
    assert_int_equal(bc_ext_i64(&r, "queueOffset"), 0);
    assert_non_null(rm_ext_get(&r, "msgId"));
    assert_int_equal(max_offset(&c, "TopicSM", 0), 1);
    bc_close(&c);
    assert_true(tu_exited_ok(bc_stop(pid, 15, 20000)));
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_master),
        cmocka_unit_test(test_graceful_restart),
        cmocka_unit_test(test_kill9_sync_flush),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
