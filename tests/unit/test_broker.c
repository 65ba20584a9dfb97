/* Unit tests for src/broker: config table, name rules, fastjson key fixing,
 * tag filters, message ids, the string map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "broker/broker.h"
#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/util.h"

static void test_config_defaults(void **state) {
    (void)state;
    broker_config_t c;
    broker_config_defaults(&c);
    assert_string_equal(c.brokerClusterName, "DefaultCluster");
    assert_int_equal(c.listenPort, 10911);
    assert_int_equal(c.brokerId, 0);
    assert_int_equal(c.defaultTopicQueueNums, 8);
    assert_int_equal(c.autoCreateTopicEnable, 1);
    assert_int_equal(c.maxMessageSize, 4194304);
    assert_int_equal(c.flushConsumerOffsetInterval, 5000);
    assert_int_equal(c.brokerPermission, 6);
    assert_int_equal(c.flushDiskType, 0);
    assert_string_equal(c.deleteWhen, "04");
    char err[256];
    assert_int_equal(broker_config_set(&c, "flushDiskType", "SYNC_FLUSH", err, sizeof(err)), 0);
    assert_int_equal(c.flushDiskType, 1);
    assert_int_equal(broker_config_set(&c, "listenPort", "70000", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "listenPort"));
    assert_int_equal(broker_config_set(&c, "brokerRole", "MASTER", err, sizeof(err)), -1);
    assert_int_equal(broker_config_set(&c, "noSuchKey", "1", err, sizeof(err)), 1);
    assert_int_equal(broker_config_set(&c, "brokerIP1", "127.0.0.1", err, sizeof(err)), 0);
    assert_int_equal(broker_config_finish(&c, err, sizeof(err)), 0);
    assert_non_null(c.brokerName);
    assert_true(strlen(c.brokerName) > 0);
    assert_non_null(strstr(c.storePathCommitLog, "commitlog"));
    assert_int_equal(c.haListenPort, 10912);
    broker_config_set(&c, "brokerIP1", "not-an-ip", err, sizeof(err));
    assert_int_equal(broker_config_finish(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "brokerIP1"));
    broker_config_set(&c, "brokerIP1", "127.0.0.1", err, sizeof(err));
    broker_config_set(&c, "messageDelayLevel", "1s 5x", err, sizeof(err));
    assert_int_equal(broker_config_finish(&c, err, sizeof(err)), -1);
    broker_config_free(&c);
}

static void test_delay_levels(void **state) {
    (void)state;
    int64_t l[32];
    assert_int_equal(broker_parse_delay_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", l, 32), 18);
    assert_int_equal(l[0], 1000);
    assert_int_equal(l[4], 60000);
    assert_int_equal(l[17], 7200000);
    assert_int_equal(broker_parse_delay_levels("", l, 32), -1);
    assert_int_equal(broker_parse_delay_levels("3q", l, 32), -1);
}

static void test_topic_names(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(bk_valid_topic("TopicTest", err, sizeof(err)), 0);
    assert_int_equal(bk_valid_topic("a|b%c_d-e", err, sizeof(err)), 0);
    assert_int_equal(bk_valid_topic("", err, sizeof(err)), -1);
    assert_int_equal(bk_valid_topic("bad topic", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "illegal characters"));
    char longname[200];
    memset(longname, 'a', 128);
    longname[128] = 0;
    assert_int_equal(bk_valid_topic(longname, err, sizeof(err)), -1);
    char retry[200] = "%RETRY%";
    memset(retry + 7, 'a', 150);
    retry[157] = 0;
    assert_int_equal(bk_valid_topic(retry, err, sizeof(err)), 0);
    assert_true(bk_is_forbidden_send_topic("SCHEDULE_TOPIC_XXXX"));
    assert_false(bk_is_forbidden_send_topic("TBW102"));
}

static void test_fix_keys(void **state) {
    (void)state;
    const char *in = "{\"offsetTable\":{\"T@g\":{0:12,1:-3, 22 :7}},\"x\":\"{0:1}\"}";
    char *s = json_quote_int_keys(in, strlen(in));
    assert_string_equal(s, "{\"offsetTable\":{\"T@g\":{\"0\":12,\"1\":-3, \"22\" :7}},\"x\":\"{0:1}\"}");
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    cJSON_Delete(j);
    free(s);
    in = "[1,2,{\"a\":[3,4]}]";
    s = json_quote_int_keys(in, strlen(in));
    assert_string_equal(s, "[1,2,{\"a\":[3,4]}]");
    free(s);
}

static void test_tag_filter(void **state) {
    (void)state;
    tag_filter_t f;
    tag_filter_from_string(&f, "*");
    assert_true(f.all);
    tag_filter_from_string(&f, "");
    assert_true(f.all);
    tag_filter_from_string(&f, " TagA || TagB ||");
    assert_false(f.all);
    assert_int_equal(f.n, 2);
    assert_true(tag_filter_match(&f, java_string_hash("TagA", 4)));
    assert_true(tag_filter_match(&f, java_string_hash("TagB", 4)));
    assert_false(tag_filter_match(&f, java_string_hash("TagC", 4)));
    assert_false(tag_filter_match(&f, 0));
}

static void test_msg_id(void **state) {
    (void)state;
    broker_t b;
    memset(&b, 0, sizeof(b));
    b.store_ip[0] = 192;
    b.store_ip[1] = 168;
    b.store_ip[2] = 0;
    b.store_ip[3] = 10;
    b.port = 10911;
    char id[33];
    bk_offset_msg_id(&b, 3000, id);
    assert_string_equal(id, "C0A8000A00002A9F0000000000000BB8");
    assert_int_equal(bk_decode_offset_msg_id(id), 3000);
    assert_int_equal(bk_decode_offset_msg_id("c0a8000a00002a9f0000000000000bb8"), 3000);
    assert_int_equal(bk_decode_offset_msg_id("xyz"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults), cmocka_unit_test(test_delay_levels),
        cmocka_unit_test(test_topic_names),     cmocka_unit_test(test_fix_keys),
        cmocka_unit_test(test_tag_filter),      cmocka_unit_test(test_msg_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
