/*
 * Regressions found by driving Petrel with the Apache RocketMQ 4.9.8 Java
 * client (tests/java). Request-reply: SEND_REPLY_MESSAGE_V2 (325) from the
 * replier is pushed to the requesting producer (REPLY_TO_CLIENT) as
 * PUSH_REPLY_MESSAGE_TO_CLIENT (326) with the fields the Java client's
 * ReplyMessageRequestHeader requires, and stored in the reply topic; an
 * unknown or missing requester is SYSTEM_ERROR. brokerStatus
 * (GET_BROKER_RUNTIME_INFO) carries the keys 4.9.8 tools display:
 * commitLogDirCapacity, commitLogDiskRatio_<dir>, startAcceptSendRequestTimeStamp,
 * scheduleMessageOffset_<level> once a level was used.
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

static int send_reply(bc_t *c, const char *props, const char *body, rm_cmd_t *r) {
    const char *ext[] = {"a", "PG_REPLIER", "b", "DefaultCluster_REPLY_TOPIC", "c", "TBW102",
                         "d", "4", "e", "0", "f", "0", "g", "1700000000000", "h", "0",
                         "i", props, "j", "0", "k", "false", NULL};
    return bc_call(c, SEND_REPLY_MESSAGE_V2, ext, body, strlen(body), r, 10000);
}

static void test_request_reply(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bjava");
    int port = tu_free_port();
    pid_t pid = bc_spawn_broker(dir, port, NULL, NULL);
    assert_true(pid > 0);
    bc_t req, rep;
    assert_int_equal(bc_connect(&req, port), 0);
    assert_int_equal(bc_connect(&rep, port), 0);
    rm_cmd_t r;
    const char *hb = "{\"clientID\":\"127.0.0.1@REQ1\",\"consumerDataSet\":[],"
                     "\"producerDataSet\":[{\"groupName\":\"PG_REQ\"}]}";
    assert_int_equal(bc_call(&req, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);

    /* no REPLY_TO_CLIENT, and an unknown requester */
    assert_int_equal(send_reply(&rep, "CORRELATION_ID\001c0\002", "x", &r), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_int_equal(send_reply(&rep, "CORRELATION_ID\001c0\002REPLY_TO_CLIENT\001nobody\002", "x", &r), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "not found"));

    /* the real thing */
    assert_int_equal(send_reply(&rep,
                                "CORRELATION_ID\001c1\002REPLY_TO_CLIENT\001127.0.0.1@REQ1\002"
                                "MSG_TYPE\001reply\002",
                                "pong", &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_non_null(rm_ext_get(&r, "msgId"));
    assert_true(strlen(rm_ext_get(&r, "msgId")) == 32);  /* stored: a real offset msg id */

    rm_cmd_t push;
    int got = 0;
    while (!got && bc_read(&req, &push, 5000) == 0)
        got = !rm_is_response(&push) && push.code == PUSH_REPLY_MESSAGE_TO_CLIENT;
    assert_true(got);
    assert_int_equal(push.body_len, 4);
    assert_memory_equal(push.body, "pong", 4);
    static const char *const need[] = {"producerGroup", "topic", "defaultTopic",
                                       "defaultTopicQueueNums", "queueId", "sysFlag",
                                       "bornTimestamp", "flag", "bornHost", "storeHost",
                                       "storeTimestamp", "properties"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        assert_non_null(rm_ext_get(&push, need[i]));
    assert_string_equal(rm_ext_get(&push, "topic"), "DefaultCluster_REPLY_TOPIC");
    assert_non_null(strstr(rm_ext_get(&push, "properties"), "CORRELATION_ID\001c1\002"));
    assert_non_null(strstr(rm_ext_get(&push, "properties"), "PUSH_REPLY_TIME\001"));
    char sh[64];
    snprintf(sh, sizeof(sh), "127.0.0.1:%d", port);
    assert_string_equal(rm_ext_get(&push, "storeHost"), sh);

    bc_close(&req);
    bc_close(&rep);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

static void test_runtime_info(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bjava");
    int port = tu_free_port();
    pid_t pid = bc_spawn_broker(dir, port, NULL, NULL);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicJ", 0, "DELAY\0012\002", "d", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_code(&c, GET_BROKER_RUNTIME_INFO, NULL, &r), SUCCESS);
    const char *body = bc_body(&r);
    assert_non_null(strstr(body, "\"commitLogDirCapacity\":\"Total : "));
    assert_non_null(strstr(body, "\"commitLogDiskRatio_"));
    assert_non_null(strstr(body, "\"startAcceptSendRequestTimeStamp\":\"0\""));
    assert_non_null(strstr(body, "\"scheduleMessageOffset_2\":\"0,1\""));
    assert_null(strstr(body, "\"scheduleMessageOffset_1\""));
    bc_close(&c);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_runtime_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
