/*
 * Issue 4 pieces over real TCP: delayed messages by level (held in
 * SCHEDULE_TOPIC_XXXX, delivered to the real topic when due), consumer
 * send-back to %RETRY%<group> and to %DLQ%<group>, and the orderly-consumer
 * queue locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ).
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
#include "common/msgprops.h"
#include "common/record.h"

static int port;
static pid_t pid;
static char *dir;

static int setup(void **state) {
    (void)state;
    const char *extra[] = {"--messageDelayLevel=1s 1s 1s 1s", NULL};
    pid = bc_solo_start("petrel-it-bretry", extra, &dir, &port);
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return bc_solo_stop(pid, dir);
}

static int pulled(bc_t *c, const char *topic, int q, rm_cmd_t *r) {
    return bc_pull(c, "G_ANY", topic, q, 0, 32, 4, "*", 0, r, 5000) == 0 && r->code == SUCCESS;
}

static void test_delay(void **state) {
    (void)state;
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicDelay", 1, "DELAY\0012\002TAGS\001D\002", "later", 5, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    /* not visible at once on the real topic */
    assert_int_equal(bc_pull(&c, "G_D", "TopicDelay", 1, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_true(r.code == PULL_NOT_FOUND || r.code == PULL_OFFSET_MOVED);
    /* delivered when due */
    assert_true(TU_WAIT_FOR(pulled(&c, "TopicDelay", 1, &r), 10000));
    assert_int_equal(bc_count_records(&r), 1);
    record_view_t v;
    assert_int_equal(record_decode(r.body, r.body_len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_memory_equal(v.body, "later", 5);
    assert_int_equal(v.queue_id, 1);
    const char *val;
    size_t vl;
    assert_true(msgprops_find(v.props, v.props_len, "REAL_TOPIC", &val, &vl));
    assert_true(msgprops_find(v.props, v.props_len, "TAGS", &val, &vl));
    assert_int_equal(vl, 1);
    /* the schedule progress is visible */
    assert_int_equal(bc_call(&c, GET_ALL_DELAY_OFFSET, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"2\":1"));
    bc_close(&c);
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Collects UNIQ_KEY -> store time of every record of a queue. */
static int collect(bc_t *c, const char *topic, int q, char keys[][40], int64_t *ts, int max) {
    int64_t off = 0;
    int n = 0;
    for (;;) {
        rm_cmd_t r;
        if (bc_pull(c, "G_ACC", topic, q, off, 32, 4, "*", 0, &r, 5000) != 0 || r.code != SUCCESS)
            return n;
        size_t pos = 0;
        while (pos < r.body_len && n < max) {
            record_view_t v;
            if (record_decode(r.body + pos, r.body_len - pos, &v, 0) != RECORD_OK) return -1;
            const char *val;
            size_t vl;
            if (msgprops_find(v.props, v.props_len, "UNIQ_KEY", &val, &vl) && vl < 40) {
                memcpy(keys[n], val, vl);
                keys[n][vl] = 0;
                ts[n++] = v.store_ts;
            }
            pos += v.total_size;
        }
        off = bc_ext_i64(&r, "nextBeginOffset");
    }
}

/* Delivery lateness of level-1 (1 s here) messages: printed as p50/p99/max, never early. */
static void test_delay_accuracy(void **state) {
    (void)state;
    enum { M = 50 };
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    for (int i = 0; i < M; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicAcc", 0, "DELAY\0011\002", "t", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    static char dk[M * 4][40], sk[M * 4][40];
    static int64_t dts[M * 4], sts[M * 4];
    assert_true(TU_WAIT_FOR(collect(&c, "TopicAcc", 0, dk, dts, M * 4) == M, 10000));
    int ns = collect(&c, "SCHEDULE_TOPIC_XXXX", 0, sk, sts, M * 4);
    assert_true(ns >= M);
    int64_t late[M];
    int nl = 0;
    for (int i = 0; i < M; i++)
        for (int k = 0; k < ns; k++)
            if (strcmp(dk[i], sk[k]) == 0) {
                late[nl++] = dts[i] - (sts[k] + 1000);
                break;
            }
    assert_int_equal(nl, M);
    qsort(late, (size_t)nl, sizeof(int64_t), cmp64);
    assert_true(late[0] >= -20); /* never (meaningfully) early */
    printf("DELAY ACCURACY level 1s, %d msgs: late p50 %lld ms, p99 %lld ms, max %lld ms\n", nl,
           (long long)late[nl / 2], (long long)late[(nl * 99) / 100], (long long)late[nl - 1]);
    bc_close(&c);
}

static void test_send_back(void **state) {
    (void)state;
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicRetry", 0, "KEYS\001kr\002", "failme", 6, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *id = rm_ext_get(&r, "msgId");
    uint8_t host[20];
    uint32_t hl;
    int64_t phys;
    assert_int_equal(record_msgid_decode(id, strlen(id), host, &hl, &phys), 0);
    char off[32];
    snprintf(off, sizeof(off), "%lld", (long long)phys);
    const char *sb[] = {"offset", off, "group", "G_R", "delayLevel", "0", "originMsgId", id,
                        "originTopic", "TopicRetry", "maxReconsumeTimes", "16", NULL};
    assert_int_equal(bc_code(&c, CONSUMER_SEND_MSG_BACK, sb, &r), SUCCESS);
    assert_true(TU_WAIT_FOR(pulled(&c, "%RETRY%G_R", 0, &r), 10000));
    assert_int_equal(bc_count_records(&r), 1);
    record_view_t v;
    assert_int_equal(record_decode(r.body, r.body_len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_int_equal(v.reconsume_times, 1);
    assert_memory_equal(v.body, "failme", 6);
    const char *val;
    size_t vl;
    assert_true(msgprops_find(v.props, v.props_len, "RETRY_TOPIC", &val, &vl));
    assert_int_equal(vl, 10);
    assert_memory_equal(val, "TopicRetry", 10);
    assert_true(msgprops_find(v.props, v.props_len, "ORIGIN_MESSAGE_ID", &val, &vl));
    assert_true(msgprops_find(v.props, v.props_len, "KEYS", &val, &vl));
    assert_true(msgprops_find(v.props, v.props_len, "WAIT", &val, &vl));
    assert_memory_equal(val, "false", 5);
    /* max reached -> DLQ at once */
    const char *dl[] = {"offset", off, "group", "G_R", "delayLevel", "0",
                        "maxReconsumeTimes", "0", NULL};
    assert_int_equal(bc_code(&c, CONSUMER_SEND_MSG_BACK, dl, &r), SUCCESS);
    assert_true(TU_WAIT_FOR(pulled(&c, "%DLQ%G_R", 0, &r), 5000));
    assert_int_equal(bc_count_records(&r), 1);
    /* unknown offset */
    const char *bad[] = {"offset", "1099511627776", "group", "G_R", "delayLevel", "0", NULL};
    assert_int_equal(bc_code(&c, CONSUMER_SEND_MSG_BACK, bad, &r), SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "look message by offset failed"));
    /* a producer resend to the retry topic beyond max goes to the DLQ too */
    const char *rs[] = {"a", "PG", "b", "%RETRY%G_R", "c", "TBW102", "d", "4", "e", "0",
                        "f", "0", "g", "1", "h", "0", "i", "", "j", "3", "l", "2", NULL};
    assert_int_equal(bc_call(&c, SEND_MESSAGE_V2, rs, "again", 5, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_true(TU_WAIT_FOR(pulled(&c, "%DLQ%G_R", 0, &r) && bc_count_records(&r) == 2, 5000));
    bc_close(&c);
}

static void test_locks(void **state) {
    (void)state;
    bc_t a, b2;
    assert_int_equal(bc_connect(&a, port), 0);
    assert_int_equal(bc_connect(&b2, port), 0);
    rm_cmd_t r;
    const char *la = "{\"consumerGroup\":\"G_L\",\"clientId\":\"A\",\"mqSet\":[{\"topic\":\"T\",\"brokerName\":\"broker-a\",\"queueId\":0},{\"topic\":\"T\",\"brokerName\":\"broker-a\",\"queueId\":1}]}";
    const char *lb = "{\"consumerGroup\":\"G_L\",\"clientId\":\"B\",\"mqSet\":[{\"topic\":\"T\",\"brokerName\":\"broker-a\",\"queueId\":0}]}";
    const char *ua = "{\"consumerGroup\":\"G_L\",\"clientId\":\"A\",\"mqSet\":[{\"topic\":\"T\",\"brokerName\":\"broker-a\",\"queueId\":0}]}";
    assert_int_equal(bc_call(&a, LOCK_BATCH_MQ, NULL, la, strlen(la), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_non_null(strstr(bc_body(&r), "\"queueId\":0"));
    assert_non_null(strstr(bc_body(&r), "\"queueId\":1"));
    assert_int_equal(bc_call(&b2, LOCK_BATCH_MQ, NULL, lb, strlen(lb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_string_equal(bc_body(&r), "{\"lockOKMQSet\":[]}");
    /* re-lock by the owner renews */
    assert_int_equal(bc_call(&a, LOCK_BATCH_MQ, NULL, la, strlen(la), &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"queueId\":0"));
    assert_int_equal(bc_call(&a, UNLOCK_BATCH_MQ, NULL, ua, strlen(ua), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_call(&b2, LOCK_BATCH_MQ, NULL, lb, strlen(lb), &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"queueId\":0"));
    assert_int_equal(bc_call(&b2, LOCK_BATCH_MQ, NULL, "x", 1, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    bc_close(&a);
    bc_close(&b2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_delay_accuracy),
        cmocka_unit_test(test_send_back),
        cmocka_unit_test(test_locks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
