/*
 * Broker over real TCP against a real `petrel broker` process (no
 * NameServer): every client and admin request code, with the Java broker's
 * response codes for each error (illegal topic, forbidden topic, unknown
 * topic, no permission, bad queueId, message too large, offset moved, ...),
 * long polling woken by an arrival and by its timeout, heartbeats,
 * membership notifications and offset reset.
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
    const char *extra[] = {"--maxMessageSize=65536", NULL};
    pid = bc_solo_start("petrel-it-broker", extra, &dir, &port);
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return bc_solo_stop(pid, dir);
}

static void conn(bc_t *c) { assert_int_equal(bc_connect(c, port), 0); }

static void create_topic(bc_t *c, const char *topic, int qn, int perm) {
    char q[16], p[16];
    snprintf(q, sizeof(q), "%d", qn);
    snprintf(p, sizeof(p), "%d", perm);
    const char *ext[] = {"topic", topic, "defaultTopic", "TBW102", "readQueueNums", q,
                         "writeQueueNums", q, "perm", p, "topicFilterType", "SINGLE_TAG",
                         "topicSysFlag", "0", "order", "false", NULL};
    rm_cmd_t r;
    assert_int_equal(bc_code(c, UPDATE_AND_CREATE_TOPIC, ext, &r), SUCCESS);
}

static void test_send_and_pull(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    for (int i = 0; i < 10; i++) {
        char props[128], body[32];
        snprintf(props, sizeof(props), "TAGS\001%s\002KEYS\001key%d\002", i % 2 ? "B" : "A", i);
        snprintf(body, sizeof(body), "hello %d", i);
        assert_int_equal(bc_send_msg(&c, "TopicSP", 0, props, body, strlen(body), &r), 0);
        assert_int_equal(r.code, SUCCESS);
        const char *id = rm_ext_get(&r, "msgId");
        assert_non_null(id);
        assert_int_equal(strlen(id), 32);
        assert_int_equal(bc_ext_i64(&r, "queueId"), 0);
        assert_int_equal(bc_ext_i64(&r, "queueOffset"), i);
        assert_non_null(rm_ext_get(&r, "MSG_REGION"));
        assert_non_null(rm_ext_get(&r, "transactionId"));
    }
    /* everything */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 10);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 10);
    assert_int_equal(bc_ext_i64(&r, "minOffset"), 0);
    assert_int_equal(bc_ext_i64(&r, "maxOffset"), 10);
    assert_int_equal(bc_ext_i64(&r, "suggestWhichBrokerId"), 0);
    /* the records are the messages we sent */
    record_view_t v;
    assert_int_equal(record_decode(r.body, r.body_len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_int_equal(v.body_len, 7);
    assert_memory_equal(v.body, "hello 0", 7);
    assert_int_equal(v.topic_len, 7);
    assert_int_equal(v.queue_offset, 0);
    const char *val;
    size_t vl;
    assert_true(msgprops_find(v.props, v.props_len, "CLUSTER", &val, &vl));
    assert_true(msgprops_find(v.props, v.props_len, "UNIQ_KEY", &val, &vl));
    /* stored as Java 4.9 does: no trailing separator (ali-ons would see an empty property) */
    assert_true(v.props_len > 0 && v.props[v.props_len - 1] != '\002');
    /* tag filter: only B */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 0, 32, 4, "B", 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 5);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 10);
    /* no match in range -> PULL_RETRY_IMMEDIATELY */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 0, 32, 4, "C || D", 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_RETRY_IMMEDIATELY);
    /* caught up, no suspend -> PULL_NOT_FOUND at once */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 10, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_NOT_FOUND);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 10);
    /* beyond the end -> OFFSET_MOVED to max */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 1000, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_OFFSET_MOVED);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 10);
    /* empty queue: offset 1000 -> OFFSET_MOVED to 0; offset 0 -> NOT_FOUND */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 1, 1000, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_OFFSET_MOVED);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 0);
    assert_int_equal(bc_ext_i64(&r, "maxOffset"), 0);
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 1, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_NOT_FOUND);
    /* max 3 */
    assert_int_equal(bc_pull(&c, "G_SP", "TopicSP", 0, 2, 3, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 3);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 5);
    /* the commit flag stores the offset */
    const char *q1[] = {"consumerGroup", "G_SP", "topic", "TopicSP", "queueId", "0",
                        "queueOffset", "5", "maxMsgNums", "1", "sysFlag", "5",
                        "commitOffset", "4", "suspendTimeoutMillis", "0",
                        "subscription", "*", "subVersion", "0", NULL};
    assert_int_equal(bc_code(&c, PULL_MESSAGE, q1, &r), SUCCESS);
    const char *qo[] = {"consumerGroup", "G_SP", "topic", "TopicSP", "queueId", "0", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUMER_OFFSET, qo, &r), SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "offset"), 4);
    bc_close(&c);
}

static void test_send_errors(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "bad topic", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "illegal characters"));
    assert_int_equal(bc_send_msg(&c, "SCHEDULE_TOPIC_XXXX", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, NO_PERMISSION);
    assert_non_null(strstr(r.remark, "forbidden"));
    /* unknown topic whose defaultTopic does not exist */
    const char *ext[] = {"a", "PG", "b", "NoSuchTopic", "c", "NOPE", "d", "4", "e", "0", "f", "0",
                         "g", "1", "h", "0", "i", "", NULL};
    assert_int_equal(bc_call(&c, SEND_MESSAGE_V2, ext, "x", 1, &r, 5000), 0);
    assert_int_equal(r.code, TOPIC_NOT_EXIST);
    assert_non_null(strstr(r.remark, "not exist, apply first please!"));
    /* queueId out of range */
    create_topic(&c, "TopicErr", 4, 6);
    assert_int_equal(bc_send_msg(&c, "TopicErr", 99, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "request queueId[99] is illegal"));
    /* body larger than maxMessageSize (65536 here) */
    char *big = calloc(1, 70000);
    assert_int_equal(bc_send_msg(&c, "TopicErr", 0, "", big, 70000, &r), 0);
    assert_int_equal(r.code, MESSAGE_ILLEGAL);
    assert_non_null(strstr(r.remark, "msg body length limit 65536B"));
    free(big);
    /* read-only topic */
    create_topic(&c, "TopicRO", 1, 4);
    assert_int_equal(bc_send_msg(&c, "TopicRO", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, NO_PERMISSION);
    /* V1 (long names) works too */
    const char *v1[] = {"producerGroup", "PG", "topic", "TopicErr", "defaultTopic", "TBW102",
                        "defaultTopicQueueNums", "4", "queueId", "1", "sysFlag", "0",
                        "bornTimestamp", "1", "flag", "0", "properties", "TAGS\001V1\002", NULL};
    assert_int_equal(bc_call(&c, SEND_MESSAGE, v1, "v1", 2, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "queueId"), 1);
    /* missing topic field */
    const char *nt[] = {"a", "PG", NULL};
    assert_int_equal(bc_call(&c, SEND_MESSAGE_V2, nt, "x", 1, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    /* unknown request code */
    assert_int_equal(bc_code(&c, 9999, NULL, &r), REQUEST_CODE_NOT_SUPPORTED);
    bc_close(&c);
}

static void test_pull_errors(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    assert_int_equal(bc_pull(&c, "G_PE", "NoSuchTopic", 0, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, TOPIC_NOT_EXIST);
    assert_non_null(strstr(r.remark, "topic[NoSuchTopic] not exist, apply first please!"));
    create_topic(&c, "TopicPE", 2, 6);
    assert_int_equal(bc_pull(&c, "G_PE", "TopicPE", 7, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "queueId[7] is illegal"));
    /* no subscription flag and no heartbeat -> SUBSCRIPTION_NOT_EXIST */
    assert_int_equal(bc_pull(&c, "G_PE", "TopicPE", 0, 0, 32, 0, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUBSCRIPTION_NOT_EXIST);
    /* write-only topic cannot be pulled */
    create_topic(&c, "TopicWO", 1, 2);
    assert_int_equal(bc_pull(&c, "G_PE", "TopicWO", 0, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, NO_PERMISSION);
    /* SQL92 is off by default */
    const char *sq[] = {"consumerGroup", "G_PE", "topic", "TopicPE", "queueId", "0",
                        "queueOffset", "0", "maxMsgNums", "1", "sysFlag", "4",
                        "commitOffset", "0", "suspendTimeoutMillis", "0", "subscription", "a > 1",
                        "subVersion", "0", "expressionType", "SQL92", NULL};
    assert_int_equal(bc_code(&c, PULL_MESSAGE, sq, &r), SYSTEM_ERROR);
    /* missing fields */
    const char *mf[] = {"consumerGroup", "G_PE", NULL};
    assert_int_equal(bc_code(&c, PULL_MESSAGE, mf, &r), SYSTEM_ERROR);
    bc_close(&c);
}

static void test_long_poll(void **state) {
    (void)state;
    bc_t a, p;
    conn(&a);
    conn(&p);
    rm_cmd_t r;
    create_topic(&p, "TopicLP", 1, 6);
    /* held, then woken by an arrival */
    char q[] = "0";
    const char *ext[] = {"consumerGroup", "G_LP", "topic", "TopicLP", "queueId", q,
                         "queueOffset", "0", "maxMsgNums", "32", "sysFlag", "6",
                         "commitOffset", "0", "suspendTimeoutMillis", "20000",
                         "subscription", "*", "subVersion", "0", NULL};
    int32_t op = bc_send(&a, PULL_MESSAGE, 0, ext, NULL, 0);
    assert_true(op > 0);
    /* nothing answered yet */
    assert_int_equal(bc_read(&a, &r, 300), -1);
    assert_int_equal(bc_send_msg(&p, "TopicLP", 0, "", "wake", 4, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_read(&a, &r, 10000), 0);
    assert_int_equal(r.opaque, op);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 1);
    /* held until its timeout: PULL_NOT_FOUND */
    const char *ext2[] = {"consumerGroup", "G_LP", "topic", "TopicLP", "queueId", "0",
                          "queueOffset", "1", "maxMsgNums", "32", "sysFlag", "6",
                          "commitOffset", "0", "suspendTimeoutMillis", "500",
                          "subscription", "*", "subVersion", "0", NULL};
    assert_int_equal(bc_call(&a, PULL_MESSAGE, ext2, NULL, 0, &r, 10000), 0);
    assert_int_equal(r.code, PULL_NOT_FOUND);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 1);
    /* a held pull whose tag does not match stays held; a matching arrival wakes it */
    const char *ext3[] = {"consumerGroup", "G_LP", "topic", "TopicLP", "queueId", "0",
                          "queueOffset", "1", "maxMsgNums", "32", "sysFlag", "6",
                          "commitOffset", "0", "suspendTimeoutMillis", "20000",
                          "subscription", "X", "subVersion", "0", NULL};
    op = bc_send(&a, PULL_MESSAGE, 0, ext3, NULL, 0);
    assert_int_equal(bc_send_msg(&p, "TopicLP", 0, "TAGS\001X\002", "x", 1, &r), 0);
    assert_int_equal(bc_read(&a, &r, 10000), 0);
    assert_int_equal(r.opaque, op);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 1);
    /* a held pull on a closed connection is dropped quietly */
    bc_t z;
    conn(&z);
    bc_send(&z, PULL_MESSAGE, 0, ext3, NULL, 0);
    bc_close(&z);
    assert_int_equal(bc_send_msg(&p, "TopicLP", 0, "TAGS\001X\002", "x", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    bc_close(&a);
    bc_close(&p);
}

static void test_offsets(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    create_topic(&c, "TopicOff", 2, 6);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicOff", 0, "", "m", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    const char *mx[] = {"topic", "TopicOff", "queueId", "0", NULL};
    assert_int_equal(bc_code(&c, GET_MAX_OFFSET, mx, &r), SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "offset"), 5);
    assert_int_equal(bc_call(&c, GET_MIN_OFFSET, mx, NULL, 0, &r, 5000), 0);
    assert_int_equal(bc_ext_i64(&r, "offset"), 0);
    assert_int_equal(bc_code(&c, GET_EARLIEST_MSG_STORETIME, mx, &r), SUCCESS);
    assert_true(bc_ext_i64(&r, "timestamp") > 1600000000000LL);
    const char *s0[] = {"topic", "TopicOff", "queueId", "0", "timestamp", "0", NULL};
    assert_int_equal(bc_call(&c, SEARCH_OFFSET_BY_TIMESTAMP, s0, NULL, 0, &r, 5000), 0);
    assert_int_equal(bc_ext_i64(&r, "offset"), 0);
    const char *s1[] = {"topic", "TopicOff", "queueId", "0", "timestamp", "9999999999999", NULL};
    assert_int_equal(bc_call(&c, SEARCH_OFFSET_BY_TIMESTAMP, s1, NULL, 0, &r, 5000), 0);
    assert_int_equal(bc_ext_i64(&r, "offset"), 5);
    const char *mx1[] = {"topic", "TopicOff", "queueId", "1", NULL};
    assert_int_equal(bc_call(&c, GET_MAX_OFFSET, mx1, NULL, 0, &r, 5000), 0);
    assert_int_equal(bc_ext_i64(&r, "offset"), 0);
    /* a new group on a young queue reads from 0 */
    const char *qo[] = {"consumerGroup", "G_NEW", "topic", "TopicOff", "queueId", "0", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUMER_OFFSET, qo, &r), SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "offset"), 0);
    const char *qz[] = {"consumerGroup", "G_NEW", "topic", "TopicOff", "queueId", "0",
                        "setZeroIfNotFound", "false", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUMER_OFFSET, qz, &r), QUERY_NOT_FOUND);
    const char *up[] = {"consumerGroup", "G_OFF", "topic", "TopicOff", "queueId", "0",
                        "commitOffset", "3", NULL};
    assert_int_equal(bc_code(&c, UPDATE_CONSUMER_OFFSET, up, &r), SUCCESS);
    /* oneway form */
    const char *up1[] = {"consumerGroup", "G_OFF", "topic", "TopicOff", "queueId", "1",
                         "commitOffset", "0", NULL};
    bc_send(&c, UPDATE_CONSUMER_OFFSET, 1, up1, NULL, 0);
    const char *qg[] = {"consumerGroup", "G_OFF", "topic", "TopicOff", "queueId", "0", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUMER_OFFSET, qg, &r), SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "offset"), 3);
    const char *ut[] = {"consumerGroup", "G_OFF", "topic", "NoSuchTopic", "queueId", "0",
                        "commitOffset", "3", NULL};
    assert_int_equal(bc_code(&c, UPDATE_CONSUMER_OFFSET, ut, &r), TOPIC_NOT_EXIST);
    assert_int_equal(bc_code(&c, GET_ALL_CONSUMER_OFFSET, NULL, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "TopicOff@G_OFF"));
    /* consume stats */
    const char *cs[] = {"consumerGroup", "G_OFF", NULL};
    assert_int_equal(bc_code(&c, GET_CONSUME_STATS, cs, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "\"brokerOffset\":5,\"consumerOffset\":3"));
    bc_close(&c);
}

static const char *hb_body(char *out, size_t n, const char *client, const char *group,
                           const char *topic) {
    snprintf(out, n,
             "{\"clientID\":\"%s\",\"consumerDataSet\":[{\"groupName\":\"%s\","
             "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\","
             "\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\",\"subscriptionDataSet\":["
             "{\"topic\":\"%s\",\"subString\":\"*\",\"tagsSet\":[],\"codeSet\":[],"
             "\"subVersion\":1,\"expressionType\":\"TAG\",\"classFilterMode\":false}],"
             "\"unitMode\":false}],\"producerDataSet\":[{\"groupName\":\"PG_%s\"}]}",
             client, group, topic, client);
    return out;
}

static void test_clients(void **state) {
    (void)state;
    bc_t c1, c2, adm;
    conn(&c1);
    conn(&c2);
    conn(&adm);
    rm_cmd_t r;
    create_topic(&adm, "TopicCl", 2, 6);
    char hb[2048];
    hb_body(hb, sizeof(hb), "10.0.0.1@c1", "G_CL", "TopicCl");
    assert_int_equal(bc_call(&c1, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    /* %RETRY%G_CL was created by the heartbeat */
    assert_int_equal(bc_call(&adm, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "%RETRY%G_CL"));
    /* C++ style heartbeat: ordinals */
    char hb2[2048];
    snprintf(hb2, sizeof(hb2),
             "{\"clientID\":\"10.0.0.2@c2\",\"consumerDataSet\":[{\"groupName\":\"G_CL\","
             "\"consumeType\":1,\"messageModel\":1,\"consumeFromWhere\":4,"
             "\"subscriptionDataSet\":[{\"topic\":\"TopicCl\",\"subString\":\"*\","
             "\"subVersion\":\"2\",\"tagsSet\":[],\"codeSet\":[]}]}],\"producerDataSet\":[]}");
    assert_int_equal(bc_call(&c2, HEART_BEAT, NULL, hb2, strlen(hb2), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    /* c1 is told the membership changed */
    assert_true(TU_WAIT_FOR((bc_drain(&c1, 50), c1.notifies >= 1), 5000));
    const char *gl[] = {"consumerGroup", "G_CL", NULL};
    assert_int_equal(bc_code(&adm, GET_CONSUMER_LIST_BY_GROUP, gl, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "10.0.0.1@c1"));
    assert_non_null(strstr(bc_body(&r), "10.0.0.2@c2"));
    assert_int_equal(bc_code(&adm, GET_CONSUMER_CONNECTION_LIST, gl, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "\"messageModel\":\"CLUSTERING\""));
    assert_non_null(strstr(bc_body(&r), "\"clientId\":\"10.0.0.2@c2\""));
    /* pull using the heartbeat's subscription (no flag 4) */
    assert_int_equal(bc_pull(&c1, "G_CL", "TopicCl", 0, 0, 32, 0, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, PULL_NOT_FOUND);
    /* producer connections */
    const char *pg[] = {"producerGroup", "PG_10.0.0.1@c1", NULL};
    assert_int_equal(bc_code(&adm, GET_PRODUCER_CONNECTION_LIST, pg, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "connectionSet"));
    const char *pg2[] = {"producerGroup", "PG_NONE", NULL};
    assert_int_equal(bc_code(&adm, GET_PRODUCER_CONNECTION_LIST, pg2, &r), SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "the producer group[PG_NONE] not exist"));
    /* QUERY_TOPIC_CONSUME_BY_WHO */
    const char *tw[] = {"topic", "TopicCl", NULL};
    assert_int_equal(bc_call(&adm, QUERY_TOPIC_CONSUME_BY_WHO, tw, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "G_CL"));
    /* c2's connection closes: it leaves the group, c1 is told */
    int before = c1.notifies;
    bc_close(&c2);
    assert_true(TU_WAIT_FOR((bc_drain(&c1, 50), c1.notifies > before), 5000));
    assert_int_equal(bc_call(&adm, GET_CONSUMER_LIST_BY_GROUP, gl, NULL, 0, &r, 5000), 0);
    assert_null(strstr(bc_body(&r), "10.0.0.2@c2"));
    /* reset offsets: consumer online gets RESET_CONSUMER_CLIENT_OFFSET */
    const char *up[] = {"consumerGroup", "G_CL", "topic", "TopicCl", "queueId", "0",
                        "commitOffset", "0", NULL};
    assert_int_equal(bc_call(&adm, UPDATE_CONSUMER_OFFSET, up, NULL, 0, &r, 5000), 0);
    const char *rs[] = {"group", "G_CL", "topic", "TopicCl", "timestamp", "0", "isForce", "true",
                        NULL};
    assert_int_equal(bc_code(&adm, INVOKE_BROKER_TO_RESET_OFFSET, rs, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"TopicCl\"}:0"));
    assert_true(TU_WAIT_FOR((bc_drain(&c1, 50), c1.resets >= 1), 5000));
    const char *rs2[] = {"group", "G_NOBODY", "topic", "TopicCl", "timestamp", "0", "isForce",
                         "true", NULL};
    assert_int_equal(bc_code(&adm, INVOKE_BROKER_TO_RESET_OFFSET, rs2, &r), SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "THe consumer group <G_NOBODY> not exist"));
    /* UNREGISTER_CLIENT: the group is gone */
    const char *un[] = {"clientID", "10.0.0.1@c1", "consumerGroup", "G_CL", NULL};
    assert_int_equal(bc_code(&c1, UNREGISTER_CLIENT, un, &r), SUCCESS);
    assert_int_equal(bc_code(&adm, GET_CONSUMER_LIST_BY_GROUP, gl, &r), SYSTEM_ERROR);
    assert_int_equal(bc_code(&adm, GET_CONSUMER_CONNECTION_LIST, gl, &r), CONSUMER_NOT_ONLINE);
    /* now offsets exist but nobody is online */
    assert_int_equal(bc_code(&adm, INVOKE_BROKER_TO_RESET_OFFSET, rs, &r), CONSUMER_NOT_ONLINE);
    /* CHECK_CLIENT_CONFIG */
    const char *cc = "{\"clientId\":\"x\",\"group\":\"G_CL\",\"subscriptionData\":{\"topic\":\"TopicCl\",\"subString\":\"a>1\",\"expressionType\":\"SQL92\"}}";
    assert_int_equal(bc_call(&adm, CHECK_CLIENT_CONFIG, NULL, cc, strlen(cc), &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    const char *ct = "{\"clientId\":\"x\",\"group\":\"G_CL\",\"subscriptionData\":{\"topic\":\"TopicCl\",\"subString\":\"*\",\"expressionType\":\"TAG\"}}";
    assert_int_equal(bc_call(&adm, CHECK_CLIENT_CONFIG, NULL, ct, strlen(ct), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    /* bad heartbeat body */
    assert_int_equal(bc_call(&adm, HEART_BEAT, NULL, "{nope", 5, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    bc_close(&c1);
    bc_close(&adm);
}

static void test_query_and_view(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicQ", 0, "KEYS\001order-42 other\002TAGS\001T\002", "q", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    char id[64];
    snprintf(id, sizeof(id), "%s", rm_ext_get(&r, "msgId"));
    uint8_t host[20];
    uint32_t hl;
    int64_t phys;
    assert_int_equal(record_msgid_decode(id, strlen(id), host, &hl, &phys), 0);
    char off[32];
    snprintf(off, sizeof(off), "%lld", (long long)phys);
    const char *vw[] = {"offset", off, NULL};
    assert_int_equal(bc_code(&c, VIEW_MESSAGE_BY_ID, vw, &r), SUCCESS);
    assert_int_equal(bc_count_records(&r), 1);
    const char *vb[] = {"offset", "1099511627776", NULL};
    assert_int_equal(bc_code(&c, VIEW_MESSAGE_BY_ID, vb, &r), SYSTEM_ERROR);
    assert_string_equal(r.remark, "can not find message by the offset, 1099511627776");
    const char *qm[] = {"topic", "TopicQ", "key", "order-42", "maxNum", "32",
                        "beginTimestamp", "0", "endTimestamp", "9999999999999", NULL};
    assert_true(TU_WAIT_FOR((bc_call(&c, QUERY_MESSAGE, qm, NULL, 0, &r, 5000) == 0 &&
                             r.code == SUCCESS),
                            5000));
    assert_int_equal(bc_count_records(&r), 1);
    assert_non_null(rm_ext_get(&r, "indexLastUpdateTimestamp"));
    const char *qn[] = {"topic", "TopicQ", "key", "no-such-key", "maxNum", "32",
                        "beginTimestamp", "0", "endTimestamp", "9999999999999", NULL};
    assert_int_equal(bc_code(&c, QUERY_MESSAGE, qn, &r), QUERY_NOT_FOUND);
    bc_close(&c);
}

static void test_batch(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    uint8_t body[4096];
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        char props[64], b[16];
        snprintf(props, sizeof(props), "UNIQ_KEY\001U%d\002TAGS\001B\002", i);
        snprintf(b, sizeof(b), "batch-%d", i);
        record_batch_member_t m = {0, (const uint8_t *)b, (uint32_t)strlen(b), props,
                                   (uint32_t)strlen(props)};
        len += record_batch_encode(&m, body + len, sizeof(body) - len);
    }
    const char *ext[] = {"a", "PG", "b", "TopicBatch", "c", "TBW102", "d", "4", "e", "2",
                         "f", "0", "g", "1", "h", "0", "i", "WAIT\001true\002", "m", "true", NULL};
    assert_int_equal(bc_call(&c, SEND_BATCH_MESSAGE, ext, body, len, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *ids = rm_ext_get(&r, "msgId");
    assert_non_null(ids);
    assert_int_equal(strlen(ids), 32 * 3 + 2);
    assert_int_equal(bc_ext_i64(&r, "queueOffset"), 0);
    assert_int_equal(bc_pull(&c, "G_B", "TopicBatch", 2, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 3);
    /* a large batch (the whole batch must fit maxMessageSize + 64 KiB, as in Java) */
    size_t cap = 900 * 64;
    uint8_t *big = malloc(cap);
    size_t blen = 0;
    for (int i = 0; i < 900; i++) {
        char props[64], b[16];
        snprintf(props, sizeof(props), "UNIQ_KEY\001B%d\002", i);
        snprintf(b, sizeof(b), "m%d", i);
        record_batch_member_t m = {0, (const uint8_t *)b, (uint32_t)strlen(b), props,
                                   (uint32_t)strlen(props)};
        blen += record_batch_encode(&m, big + blen, cap - blen);
    }
    const char *ext3[] = {"a", "PG", "b", "TopicBatch", "c", "TBW102", "d", "4", "e", "3",
                          "f", "0", "g", "1", "h", "0", "m", "true", NULL};
    assert_int_equal(bc_call(&c, SEND_BATCH_MESSAGE, ext3, big, blen, &r, 10000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(strlen(rm_ext_get(&r, "msgId")), 900 * 33 - 1);
    free(big);
    const char *mx3[] = {"topic", "TopicBatch", "queueId", "3", NULL};
    assert_int_equal(bc_call(&c, GET_MAX_OFFSET, mx3, NULL, 0, &r, 5000), 0);
    assert_int_equal(bc_ext_i64(&r, "offset"), 900);
    /* malformed batch body */
    uint8_t bad[8] = {0, 0, 0, 99, 0, 0, 0, 0};
    assert_int_equal(bc_call(&c, SEND_BATCH_MESSAGE, ext, bad, sizeof(bad), &r, 5000), 0);
    assert_int_equal(r.code, MESSAGE_ILLEGAL);
    bc_close(&c);
}

static void test_admin(void **state) {
    (void)state;
    bc_t c;
    conn(&c);
    rm_cmd_t r;
    create_topic(&c, "TopicAdm", 3, 6);
    assert_int_equal(bc_code(&c, GET_ALL_TOPIC_CONFIG, NULL, &r), SUCCESS);
    const char *all = bc_body(&r);
    assert_non_null(strstr(all, "\"TopicAdm\":{"));
    assert_non_null(strstr(all, "\"TBW102\":{"));
    assert_non_null(strstr(all, "SCHEDULE_TOPIC_XXXX"));
    assert_non_null(strstr(all, "\"broker-a\":{"));
    assert_non_null(strstr(all, "\"DefaultCluster\":{"));
    const char *bad[] = {"topic", "bad/topic", "readQueueNums", "1", "writeQueueNums", "1",
                         "perm", "6", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, bad, &r), SYSTEM_ERROR);
    const char *ts[] = {"topic", "TopicAdm", NULL};
    assert_int_equal(bc_code(&c, GET_TOPIC_STATS_INFO, ts, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "{\"brokerName\":\"broker-a\",\"queueId\":2,\"topic\":\"TopicAdm\"}:"));
    const char *tn[] = {"topic", "NoSuchTopic", NULL};
    assert_int_equal(bc_code(&c, GET_TOPIC_STATS_INFO, tn, &r), TOPIC_NOT_EXIST);
    assert_int_equal(bc_code(&c, DELETE_TOPIC_IN_BROKER, ts, &r), SUCCESS);
    assert_int_equal(bc_call(&c, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_null(strstr(bc_body(&r), "\"TopicAdm\":{"));
    const char *sys[] = {"topic", "TBW102", NULL};
    assert_int_equal(bc_code(&c, DELETE_TOPIC_IN_BROKER, sys, &r), SYSTEM_ERROR);
    /* runtime info: the keys mqadmin clusterList needs */
    assert_int_equal(bc_code(&c, GET_BROKER_RUNTIME_INFO, NULL, &r), SUCCESS);
    const char *rt = bc_body(&r);
    const char *keys[] = {"putTps", "getTransferedTps", "sendThreadPoolQueueSize",
                          "pullThreadPoolQueueSize", "sendThreadPoolQueueHeadWaitTimeMills",
                          "pullThreadPoolQueueHeadWaitTimeMills", "pageCacheLockTimeMills",
                          "earliestMessageTimeStamp", "commitLogDiskRatio", "brokerVersionDesc",
                          "msgPutTotalTodayNow", "bootTimestamp", NULL};
    for (int i = 0; keys[i]; i++) {
        char k[128];
        snprintf(k, sizeof(k), "\"%s\":\"", keys[i]);
        assert_non_null(strstr(rt, k));
    }
    /* config */
    assert_int_equal(bc_code(&c, GET_BROKER_CONFIG, NULL, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "brokerClusterName=DefaultCluster\n"));
    assert_non_null(strstr(bc_body(&r), "maxMessageSize=65536\n"));
    const char *upd = "longPollingEnable=true\nfileReservedTime=48\n";
    assert_int_equal(bc_call(&c, UPDATE_BROKER_CONFIG, NULL, upd, strlen(upd), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_call(&c, GET_BROKER_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "fileReservedTime=48\n"));
    const char *upd2 = "listenPort=1234\n";
    assert_int_equal(bc_call(&c, UPDATE_BROKER_CONFIG, NULL, upd2, strlen(upd2), &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    const char *upd3 = "fileReservedTime=abc\n";
    assert_int_equal(bc_call(&c, UPDATE_BROKER_CONFIG, NULL, upd3, strlen(upd3), &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    /* subscription groups */
    const char *g = "{\"groupName\":\"G_ADM\",\"consumeEnable\":false,\"retryMaxTimes\":3}";
    assert_int_equal(bc_call(&c, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, g, strlen(g), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_call(&c, GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"G_ADM\":{"));
    assert_non_null(strstr(bc_body(&r), "\"retryMaxTimes\":3"));
    /* consumeEnable=false -> pulls refused */
    create_topic(&c, "TopicAdm2", 1, 6);
    assert_int_equal(bc_pull(&c, "G_ADM", "TopicAdm2", 0, 0, 32, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, NO_PERMISSION);
    const char *dg[] = {"groupName", "G_ADM", NULL};
    assert_int_equal(bc_code(&c, DELETE_SUBSCRIPTIONGROUP, dg, &r), SUCCESS);
    assert_int_equal(bc_call(&c, GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_null(strstr(bc_body(&r), "\"G_ADM\":{"));
    assert_int_equal(bc_call(&c, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, "[]", 2, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_int_equal(bc_code(&c, GET_ALL_DELAY_OFFSET, NULL, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "offsetTable"));
    assert_int_equal(bc_call(&c, GET_SYSTEM_TOPIC_LIST_FROM_BROKER, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "TBW102"));
    /* UPDATE_AND_CREATE_TOPIC_LIST */
    const char *tl = "{\"topicConfigList\":[{\"topicName\":\"TopicL1\",\"readQueueNums\":2,\"writeQueueNums\":2,\"perm\":6},{\"topicName\":\"TopicL2\",\"readQueueNums\":1,\"writeQueueNums\":1,\"perm\":6}]}";
    assert_int_equal(bc_call(&c, UPDATE_AND_CREATE_TOPIC_LIST, NULL, tl, strlen(tl), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_call(&c, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_non_null(strstr(bc_body(&r), "\"TopicL2\":{"));
    /* clone offsets, topics by consumer, consume time span */
    assert_int_equal(bc_send_msg(&c, "TopicL1", 0, "", "x", 1, &r), 0);
    const char *up[] = {"consumerGroup", "G_SRC", "topic", "TopicL1", "queueId", "0",
                        "commitOffset", "1", NULL};
    assert_int_equal(bc_call(&c, UPDATE_CONSUMER_OFFSET, up, NULL, 0, &r, 5000), 0);
    const char *cl[] = {"srcGroup", "G_SRC", "destGroup", "G_DST", "offline", "false", NULL};
    assert_int_equal(bc_code(&c, CLONE_GROUP_OFFSET, cl, &r), SUCCESS);
    const char *qg[] = {"consumerGroup", "G_DST", "topic", "TopicL1", "queueId", "0",
                        "setZeroIfNotFound", "false", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUMER_OFFSET, qg, &r), SUCCESS);
    assert_int_equal(bc_ext_i64(&r, "offset"), 1);
    const char *tb[] = {"group", "G_DST", NULL};
    assert_int_equal(bc_code(&c, 343, tb, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "\"TopicL1\""));
    const char *sb[] = {"group", "G_DST", "topic", "TopicL1", NULL};
    assert_int_equal(bc_code(&c, 345, sb, &r), SUCCESS);
    const char *ts2[] = {"topic", "TopicL1", "group", "G_SRC", NULL};
    assert_int_equal(bc_code(&c, QUERY_CONSUME_TIME_SPAN, ts2, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "consumeTimeSpanSet"));
    const char *bcs[] = {"isOrder", "false", "timeoutMillis", "3000", NULL};
    assert_int_equal(bc_code(&c, GET_BROKER_CONSUME_STATS, bcs, &r), SUCCESS);
    assert_non_null(strstr(bc_body(&r), "{\"G_SRC\":[{\"consumeTps\":0.0,\"offsetTable\":{"));
    assert_non_null(strstr(bc_body(&r), "\"totalDiff\":"));
    bc_close(&c);
}

/* Reads from c until the broker's request with code arrives. */
static void await_request(bc_t *c, int code, rm_cmd_t *q) {
    do {
        assert_int_equal(bc_read(c, q, 5000), 0);
    } while (rm_is_response(q) || q->code != code);
}

/* Answers the broker's request q with SUCCESS and body, as a client does. */
static void answer(bc_t *c, const rm_cmd_t *q, const char *body) {
    buf_t out;
    buf_init(&out);
    rm_enc_t e;
    rm_enc_begin(&e, &out, RM_SER_JSON, SUCCESS, q->opaque, RM_FLAG_RESPONSE, NULL);
    rm_enc_body(&e, body, strlen(body));
    rm_enc_end(&e);
    assert_int_equal(bc_write_all(c, out.data, out.len), 0);
    buf_free(&out);
}

/* Reads from c until the answer to its request op arrives. */
static void await_response(bc_t *c, int32_t op, rm_cmd_t *r) {
    do {
        assert_int_equal(bc_read(c, r, 5000), 0);
    } while (!rm_is_response(r) || r->opaque != op);
}

static void test_forward(void **state) {
    (void)state;
    bc_t cons, adm;
    assert_int_equal(bc_connect(&cons, port), 0);
    assert_int_equal(bc_connect(&adm, port), 0);
    rm_cmd_t r;
    char hb[2048];
    hb_body(hb, sizeof(hb), "10.0.0.9@fw", "G_FW", "TopicFw");
    assert_int_equal(bc_call(&cons, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *ext[] = {"consumerGroup", "G_FW", "clientId", "10.0.0.9@fw", "jstackEnable",
                         "false", NULL};
    int32_t op = bc_send(&adm, GET_CONSUMER_RUNNING_INFO, 0, ext, NULL, 0);
    /* the consumer gets the request and answers it */
    rm_cmd_t q;
    await_request(&cons, GET_CONSUMER_RUNNING_INFO, &q);
    assert_string_equal(rm_ext_get(&q, "clientId"), "10.0.0.9@fw");
    answer(&cons, &q, "{\"properties\":{}}");
    await_response(&adm, op, &r);
    assert_int_equal(r.code, SUCCESS);
    assert_string_equal(bc_body(&r), "{\"properties\":{}}");
    /* consumer status: gathered from every consumer of the group */
    const char *cs[] = {"topic", "TopicFw", "group", "G_FW", NULL};
    op = bc_send(&adm, INVOKE_BROKER_TO_GET_CONSUMER_STATUS, 0, cs, NULL, 0);
    await_request(&cons, GET_CONSUMER_STATUS_FROM_CLIENT, &q);
    assert_string_equal(rm_ext_get(&q, "group"), "G_FW");
    answer(&cons, &q,
           "{\"messageQueueTable\":{{\"brokerName\":\"broker-a\",\"queueId\":0,"
           "\"topic\":\"TopicFw\"}:5}}");
    await_response(&adm, op, &r);
    assert_int_equal(r.code, SUCCESS);
    assert_string_equal(bc_body(&r), "{\"consumerTable\":{\"10.0.0.9@fw\":{{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"TopicFw\"}:5}}}");
    const char *cs2[] = {"topic", "TopicFw", "group", "G_NOBODY", NULL};
    assert_int_equal(bc_code(&adm, INVOKE_BROKER_TO_GET_CONSUMER_STATUS, cs2, &r), SYSTEM_ERROR);
    const char *nx[] = {"consumerGroup", "G_FW", "clientId", "nobody", NULL};
    assert_int_equal(bc_code(&adm, GET_CONSUMER_RUNNING_INFO, nx, &r), SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "not online"));
    bc_close(&cons);
    bc_close(&adm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_and_pull), cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_pull_errors),   cmocka_unit_test(test_long_poll),
        cmocka_unit_test(test_offsets),       cmocka_unit_test(test_clients),
        cmocka_unit_test(test_query_and_view), cmocka_unit_test(test_batch),
        cmocka_unit_test(test_admin),         cmocka_unit_test(test_forward),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
