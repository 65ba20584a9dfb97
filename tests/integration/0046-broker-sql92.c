/*
 * SQL92 property filtering with enablePropertyFilter=true: pulls with the
 * expression in the request and from a heartbeat subscription, parse errors
 * as SUBSCRIPTION_PARSE_FAILED, CHECK_CLIENT_CONFIG, retry topics unfiltered.
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

static int pull_sql(bc_t *c, const char *expr, int flag, rm_cmd_t *r) {
    const char *ext[] = {"consumerGroup", "G_SQL", "topic", "TopicSql", "queueId", "0",
                         "queueOffset", "0", "maxMsgNums", "32", "sysFlag", flag ? "4" : "0",
                         "commitOffset", "0", "suspendTimeoutMillis", "0", "subscription", expr,
                         "subVersion", "0", "expressionType", "SQL92", NULL};
    return bc_call(c, PULL_MESSAGE, ext, NULL, 0, r, 5000);
}

static void test_sql92(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bsql");
    int port = tu_free_port();
    const char *extra[] = {"--enablePropertyFilter=true", NULL};
    pid_t pid = bc_spawn_broker(dir, port, extra, NULL);
    assert_true(pid > 0);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    for (int i = 1; i <= 10; i++) {
        char props[128];
        snprintf(props, sizeof(props), "a\001%d\002color\001%s\002TAGS\001T%d\002", i,
                 i % 2 ? "red" : "blue", i);
        assert_int_equal(bc_send_msg(&c, "TopicSql", 0, props, "m", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    assert_int_equal(pull_sql(&c, "a > 5", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 5);
    assert_int_equal(bc_ext_i64(&r, "nextBeginOffset"), 10);
    assert_int_equal(pull_sql(&c, "color = 'red' AND a BETWEEN 2 AND 8", 1, &r), 0);
    assert_int_equal(bc_count_records(&r), 3);
    assert_int_equal(pull_sql(&c, "nosuch IS NOT NULL", 1, &r), 0);
    assert_int_equal(r.code, PULL_RETRY_IMMEDIATELY);
    assert_int_equal(pull_sql(&c, "a >", 1, &r), 0);
    assert_int_equal(r.code, SUBSCRIPTION_PARSE_FAILED);
    assert_non_null(r.remark);
    /* CHECK_CLIENT_CONFIG */
    const char *ok = "{\"clientId\":\"x\",\"group\":\"G_SQL\",\"subscriptionData\":{\"topic\":\"TopicSql\",\"subString\":\"a > 1\",\"expressionType\":\"SQL92\"}}";
    assert_int_equal(bc_call(&c, CHECK_CLIENT_CONFIG, NULL, ok, strlen(ok), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *bad = "{\"clientId\":\"x\",\"group\":\"G_SQL\",\"subscriptionData\":{\"topic\":\"TopicSql\",\"subString\":\"a >\",\"expressionType\":\"SQL92\"}}";
    assert_int_equal(bc_call(&c, CHECK_CLIENT_CONFIG, NULL, bad, strlen(bad), &r, 5000), 0);
    assert_int_equal(r.code, SUBSCRIPTION_PARSE_FAILED);
    /* heartbeat-registered SQL92 subscription (pull without flag 4) */
    const char *hb = "{\"clientID\":\"s1\",\"consumerDataSet\":[{\"groupName\":\"G_SQL\",\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\",\"consumeFromWhere\":\"CONSUME_FROM_FIRST_OFFSET\",\"subscriptionDataSet\":[{\"topic\":\"TopicSql\",\"subString\":\"a <= 2\",\"expressionType\":\"SQL92\",\"tagsSet\":[],\"codeSet\":[],\"subVersion\":1}]}],\"producerDataSet\":[]}";
    assert_int_equal(bc_call(&c, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(pull_sql(&c, "", 0, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(bc_count_records(&r), 2);
    bc_close(&c);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sql92)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
