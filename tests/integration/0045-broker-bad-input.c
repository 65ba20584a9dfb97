/*
 * The broker under bad input over real TCP: garbage frames, malformed JSON
 * bodies of every shape, out-of-range numbers, path-like topic names, bogus
 * commit-log offsets. Every request gets an answer (or the connection is
 * closed for an undecodable frame), the broker keeps serving, and it still
 * shuts down cleanly.
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

static int port;
static pid_t pid;
static char *dir;

static int setup(void **state) {
    (void)state;
    pid = bc_solo_start("petrel-it-bbad", NULL, &dir, &port);
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return bc_solo_stop(pid, dir);
}

static int code_of(bc_t *c, int code, const char *const *ext, const char *body) {
    rm_cmd_t r;
    int rc = bc_call(c, code, ext, body, body ? strlen(body) : 0, &r, 5000);
    return rc == 0 ? r.code : -1;
}

static void test_bodies(void **state) {
    (void)state;
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    const char *bodies[] = {"", "[1,2]", "null", "\"str\"", "{\"consumerDataSet\":\"x\"}",
                            "{\"consumerDataSet\":[1,\"a\",{\"groupName\":5}],\"producerDataSet\":[null,{\"groupName\":\"\"}]}",
                            "{\"clientID\":7,\"consumerDataSet\":[{\"groupName\":\"G_BAD\",\"subscriptionDataSet\":[{\"topic\":\"T\",\"tagsSet\":\"x\",\"subVersion\":\"zz\"},{\"topic\":5}]}]}",
                            "{\"a\":{0:1,{\"b\":2}:3}}", "{{{{", NULL};
    int codes[] = {HEART_BEAT, CHECK_CLIENT_CONFIG, LOCK_BATCH_MQ, UNLOCK_BATCH_MQ,
                   UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, UPDATE_BROKER_CONFIG, 0};
    for (int i = 0; codes[i]; i++)
        for (int k = 0; bodies[k]; k++) assert_true(code_of(&c, codes[i], NULL, bodies[k]) >= 0);
    /* a group name longer than any name */
    char big[600] = "{\"groupName\":\"";
    memset(big + strlen(big), 'g', 400);
    strcpy(big + strlen(big), "\"}");
    assert_int_equal(code_of(&c, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, big), SYSTEM_ERROR);
    bc_close(&c);
}

static void test_fields(void **state) {
    (void)state;
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    const char *t1[] = {"topic", "../../etc", "queueId", "0", NULL};
    assert_int_equal(code_of(&c, GET_MAX_OFFSET, t1, NULL), SYSTEM_ERROR);
    assert_int_equal(code_of(&c, GET_MIN_OFFSET, t1, NULL), SYSTEM_ERROR);
    const char *t2[] = {"topic", "T", "queueId", "-1", NULL};
    assert_int_equal(code_of(&c, GET_MAX_OFFSET, t2, NULL), SYSTEM_ERROR);
    const char *t3[] = {"topic", "T", "queueId", "99999999999", NULL};
    assert_int_equal(code_of(&c, GET_MAX_OFFSET, t3, NULL), SYSTEM_ERROR);
    const char *t4[] = {"topic", "T", "queueId", "abc", NULL};
    assert_int_equal(code_of(&c, GET_MAX_OFFSET, t4, NULL), SYSTEM_ERROR);
    const char *d1[] = {"topic", "../x", NULL};
    assert_int_equal(code_of(&c, DELETE_TOPIC_IN_BROKER, d1, NULL), SYSTEM_ERROR);
    const char *s1[] = {"topic", "T", "queueId", "0", "timestamp", "-5", NULL};
    assert_int_equal(code_of(&c, SEARCH_OFFSET_BY_TIMESTAMP, s1, NULL), SUCCESS);
    /* sends with silly numbers */
    const char *e1[] = {"a", "PG", "b", "TopicBad", "c", "TBW102", "d", "-7", "e", "99999999999",
                        "f", "0", "g", "1", "h", "0", NULL};
    assert_int_equal(code_of(&c, SEND_MESSAGE_V2, e1, "x"), SYSTEM_ERROR);
    const char *e2[] = {"a", "PG", "b", "TopicBad", "c", "TBW102", "d", "4", "e", "-1",
                        "f", "0", "g", "x", "h", "0", NULL};
    assert_int_equal(code_of(&c, SEND_MESSAGE_V2, e2, "x"), SYSTEM_ERROR);
    const char *e3[] = {"a", "PG", "b", "TopicBad", "c", "TBW102", "d", "4", "e", "-1",
                        "f", "0", "g", "1", "h", "0", "i", "\001\002\002\001x\002", NULL};
    assert_int_equal(code_of(&c, SEND_MESSAGE_V2, e3, "x"), SUCCESS);
    char *props = malloc(40000);
    memset(props, 'p', 39999);
    props[39999] = 0;
    const char *e4[] = {"a", "PG", "b", "TopicBad", "c", "TBW102", "d", "4", "e", "0",
                        "f", "0", "g", "1", "h", "0", "i", props, NULL};
    assert_int_equal(code_of(&c, SEND_MESSAGE_V2, e4, "x"), MESSAGE_ILLEGAL);
    free(props);
    /* pulls with silly numbers */
    const char *p1[] = {"consumerGroup", "G", "topic", "TopicBad", "queueId", "0",
                        "queueOffset", "-5", "maxMsgNums", "-1", "sysFlag", "4",
                        "commitOffset", "0", "suspendTimeoutMillis", "-1", "subscription", "||",
                        "subVersion", "0", NULL};
    int code = code_of(&c, PULL_MESSAGE, p1, NULL);
    assert_true(code == SUCCESS || code == PULL_OFFSET_MOVED || code == PULL_NOT_FOUND);
    const char *p2[] = {"consumerGroup", "G", "topic", "TopicBad", "queueId", "0",
                        "queueOffset", "0", "maxMsgNums", "1000000", "sysFlag", "6",
                        "commitOffset", "x", "suspendTimeoutMillis", "10", NULL};
    assert_int_equal(code_of(&c, PULL_MESSAGE, p2, NULL), SYSTEM_ERROR);
    /* bogus commit-log offsets */
    const char *v1[] = {"offset", "1", NULL};
    assert_int_equal(code_of(&c, VIEW_MESSAGE_BY_ID, v1, NULL), SYSTEM_ERROR);
    const char *v2[] = {"offset", "-1", NULL};
    assert_int_equal(code_of(&c, VIEW_MESSAGE_BY_ID, v2, NULL), SYSTEM_ERROR);
    const char *sb[] = {"offset", "3", "group", "G", "delayLevel", "0", NULL};
    assert_int_equal(code_of(&c, CONSUMER_SEND_MSG_BACK, sb, NULL), SYSTEM_ERROR);
    const char *et[] = {"producerGroup", "PG", "tranStateTableOffset", "0", "commitLogOffset", "7",
                        "commitOrRollback", "8", NULL};
    assert_int_equal(code_of(&c, END_TRANSACTION, et, NULL), SYSTEM_ERROR);
    const char *rs[] = {"group", "G", "topic", "NoSuch", "timestamp", "x", NULL};
    assert_int_equal(code_of(&c, INVOKE_BROKER_TO_RESET_OFFSET, rs, NULL), SYSTEM_ERROR);
    bc_close(&c);
}

static void test_garbage_frames(void **state) {
    (void)state;
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    uint8_t junk[] = {0, 0, 0, 12, 0, 0, 0, 4, '{', 'x', 'x', '}', 0, 0, 0, 0};
    bc_write_all(&c, junk, sizeof(junk));
    uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    bc_write_all(&c, huge, sizeof(huge));
    rm_cmd_t r;
    int64_t t0 = tu_now_ms();
    while (bc_read(&c, &r, 200) == 0 && tu_now_ms() - t0 < 5000) {
    }
    bc_close(&c);
    /* the broker still answers */
    assert_int_equal(bc_connect(&c, port), 0);
    assert_int_equal(code_of(&c, GET_BROKER_RUNTIME_INFO, NULL, NULL), SUCCESS);
    bc_close(&c);
}

/* Deterministic random requests to every handled code: random known field names with
 * hostile values, random bodies. The broker must answer every two-way request. */
static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static void test_random(void **state) {
    (void)state;
    static const int codes[] = {10, 11, 12, 14, 15, 17, 18, 21, 25, 26, 28, 29, 30, 31, 32, 33,
                                34, 35, 36, 37, 38, 41, 42, 43, 45, 46, 200, 201, 202, 203, 204,
                                207, 208, 215, 222, 300, 303, 305, 307, 309, 310, 314, 320, 343,
                                345, 351, 352, 361};
    static const char *const keys[] = {
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "topic", "queueId",
        "consumerGroup", "group", "groupName", "queueOffset", "maxMsgNums", "sysFlag",
        "commitOffset", "suspendTimeoutMillis", "subscription", "subVersion", "expressionType",
        "offset", "timestamp", "key", "maxNum", "beginTimestamp", "endTimestamp", "producerGroup",
        "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "delayLevel", "clientID",
        "clientId", "msgId", "readQueueNums", "writeQueueNums", "perm", "isForce", "srcGroup",
        "destGroup", "maxReconsumeTimes", "properties", "batch", "boundaryType"};
    static const char *const vals[] = {"", "0", "1", "-1", "2147483648", "-9223372036854775808",
                                       "9223372036854775807", "abc", "TopicRnd", "%RETRY%G",
                                       "../..", "SQL92", "a > 1", "*", "TAG", "true", "1e9",
                                       "\001\002", "G_RND", "TBW102", "12", "8", "4", "6"};
    static const char *const bodies[] = {"", "{}", "[]", "{\"a\":", "\"x\"", "{\"mqSet\":[{}]}",
                                         "{\"groupName\":\"G_RND\"}", "{\"topicConfigList\":[{}]}",
                                         "a=b\nc", "\x00\x01\x02\x03"};
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    size_t nk = sizeof(keys) / sizeof(keys[0]), nv = sizeof(vals) / sizeof(vals[0]);
    for (int round = 0; round < 20; round++) {
        for (size_t ci = 0; ci < sizeof(codes) / sizeof(codes[0]); ci++) {
            const char *ext[41];
            int n = 0, nf = (int)(rnd() % 20);
            for (int f = 0; f < nf; f++) {
                ext[n++] = keys[rnd() % nk];
                ext[n++] = vals[rnd() % nv];
            }
            ext[n] = NULL;
            const char *body = bodies[rnd() % (sizeof(bodies) / sizeof(bodies[0]))];
            rm_cmd_t r;
            /* suspend flags may hold a pull: keep the hold short or answer later */
            int rc = bc_call(&c, codes[ci], ext, body, strlen(body), &r, 20000);
            assert_int_equal(rc, 0);
        }
    }
    bc_close(&c);
    assert_int_equal(bc_connect(&c, port), 0);
    assert_int_equal(code_of(&c, GET_BROKER_RUNTIME_INFO, NULL, NULL), SUCCESS);
    bc_close(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_garbage_frames),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
