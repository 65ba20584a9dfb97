/*
 * NameServer over real TCP: registration with a topic config body, route
 * queries (every TopicRouteData field), slaves, two brokers in a cluster and
 * two clusters merging queues, unregistration, cluster info, topic lists,
 * write permission, config codes, compressed bodies and the binary header.
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
#include <zlib.h>

#include "../testutil.h"
#include "../wireclient.h"

static int port;
static pid_t pid;
static char *dir;

static int setup(void **state) {
    (void)state;
    dir = tu_tmpdir("petrel-it-ns");
    char kv[600], log[600];
    snprintf(kv, sizeof(kv), "%s/kvConfig.json", dir);
    snprintf(log, sizeof(log), "%s/namesrv.log", dir);
    port = tu_free_port();
    pid = wc_spawn_namesrv(port, kv, NULL, log);
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int st = tu_stop(pid, 15, 10000); /* SIGTERM: clean shutdown, exit 0 */
    if (!tu_exited_ok(st)) {
        fprintf(stderr, "namesrv did not exit cleanly (status %d), log in %s\n", st, dir);
        return -1;
    }
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static void conn(wc_t *c) { assert_int_equal(wc_connect(c, port), 0); }

/* REGISTER_BROKER; returns the response code. */
static int reg(wc_t *c, const char *cluster, const char *name, const char *addr, const char *id,
               int64_t counter, const char *const *topics, rm_cmd_t *resp) {
    buf_t b;
    buf_init(&b);
    wc_register_body(&b, counter, topics);
    char ha[128];
    snprintf(ha, sizeof(ha), "%s-ha", addr);
    const char *ext[] = {"brokerName", name, "brokerAddr", addr, "clusterName", cluster,
                         "haServerAddr", ha, "brokerId", id, "compressed", "false", NULL};
    int rc = wc_call(c, REGISTER_BROKER, ext, b.data, b.len, resp, 5000);
    buf_free(&b);
    assert_int_equal(rc, 0);
    return resp->code;
}

static cJSON *route(wc_t *c, const char *topic, int *code) {
    rm_cmd_t r;
    const char *ext[] = {"topic", topic, NULL};
    assert_int_equal(wc_call(c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000), 0);
    *code = r.code;
    if (r.code != SUCCESS) {
        assert_int_equal(r.body_len, 0);
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_non_null(o);
    return o;
}

static cJSON *body_json(wc_t *c, int code, const char *const *ext) {
    rm_cmd_t r;
    assert_int_equal(wc_call(c, code, ext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    cJSON *o = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_non_null(o);
    return o;
}

static int list_has(const cJSON *arr, const char *s) {
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0) return 1;
    return 0;
}

static void test_register_and_route(void **state) {
    (void)state;
    wc_t c;
    conn(&c);
    rm_cmd_t r;
    const char *topics[] = {"RtTopic:4:4:6", "RtTBW:8:8:7", NULL};
    assert_int_equal(reg(&c, "RtCluster", "rt-a", "127.0.0.1:30911", "0", 1, topics, &r), SUCCESS);
    assert_true(rm_is_response(&r));
    assert_null(rm_ext_get(&r, "masterAddr")); /* a master gets no masterAddr */
    assert_null(rm_ext_get(&r, "haServerAddr"));

    int code;
    cJSON *o = route(&c, "RtTopic", &code);
    assert_int_equal(code, SUCCESS);
    cJSON *bds = cJSON_GetObjectItem(o, "brokerDatas");
    assert_int_equal(cJSON_GetArraySize(bds), 1);
    cJSON *bd = cJSON_GetArrayItem(bds, 0);
    assert_string_equal(cJSON_GetObjectItem(bd, "brokerName")->valuestring, "rt-a");
    assert_string_equal(cJSON_GetObjectItem(bd, "cluster")->valuestring, "RtCluster");
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(bd, "enableActingMaster")));
    cJSON *addrs = cJSON_GetObjectItem(bd, "brokerAddrs");
    assert_int_equal(cJSON_GetArraySize(addrs), 1);
    assert_string_equal(cJSON_GetObjectItem(addrs, "0")->valuestring, "127.0.0.1:30911");
    cJSON *qds = cJSON_GetObjectItem(o, "queueDatas");
    assert_int_equal(cJSON_GetArraySize(qds), 1);
    cJSON *qd = cJSON_GetArrayItem(qds, 0);
    assert_string_equal(cJSON_GetObjectItem(qd, "brokerName")->valuestring, "rt-a");
    assert_int_equal(cJSON_GetObjectItem(qd, "readQueueNums")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(qd, "writeQueueNums")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(qd, "perm")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItem(qd, "topicSysFlag")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(qd, "topicSynFlag")->valueint, 0);
    cJSON *fst = cJSON_GetObjectItem(o, "filterServerTable");
    assert_true(cJSON_IsObject(fst));
    assert_int_equal(cJSON_GetArraySize(fst), 0);
    assert_null(cJSON_GetObjectItem(o, "orderTopicConf"));
    assert_int_equal(cJSON_GetArraySize(o), 3); /* nothing else */
    cJSON_Delete(o);

    /* the template topic keeps perm 7 */
    o = route(&c, "RtTBW", &code);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0),
                                         "perm")->valueint,
                     7);
    cJSON_Delete(o);

    /* QUERY_DATA_VERSION: same version -> unchanged (and stored version in the body) */
    const char *qext[] = {"brokerName", "rt-a", "brokerAddr", "127.0.0.1:30911", "clusterName",
                          "RtCluster", "brokerId", "0", NULL};
    const char *dv1 = "{\"counter\":1,\"stateVersion\":0,\"timestamp\":1700000000000}";
    assert_int_equal(wc_call(&c, QUERY_DATA_VERSION, qext, dv1, strlen(dv1), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_string_equal(rm_ext_get(&r, "changed"), "false");
    cJSON *dv = cJSON_ParseWithLength((const char *)r.body, r.body_len);
    assert_int_equal(cJSON_GetObjectItem(dv, "counter")->valueint, 1);
    cJSON_Delete(dv);
    const char *dv2 = "{\"counter\":2,\"stateVersion\":0,\"timestamp\":1700000000000}";
    assert_int_equal(wc_call(&c, QUERY_DATA_VERSION, qext, dv2, strlen(dv2), &r, 5000), 0);
    assert_string_equal(rm_ext_get(&r, "changed"), "true");
    /* BROKER_HEARTBEAT */
    const char *hext[] = {"brokerName", "rt-a", "brokerAddr", "127.0.0.1:30911", "clusterName",
                          "RtCluster", NULL};
    assert_int_equal(wc_call(&c, BROKER_HEARTBEAT, hext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);

    /* a re-registration with a new version changes the queues */
    const char *topics2[] = {"RtTopic:2:2:6", NULL};
    assert_int_equal(reg(&c, "RtCluster", "rt-a", "127.0.0.1:30911", "0", 2, topics2, &r), SUCCESS);
    o = route(&c, "RtTopic", &code);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0),
                                         "readQueueNums")->valueint,
                     2);
    cJSON_Delete(o);

    /* a slave learns its master's address and HA address */
    wc_t s;
    conn(&s);
    assert_int_equal(reg(&s, "RtCluster", "rt-a", "127.0.0.1:30921", "1", 2, topics, &r), SUCCESS);
    assert_string_equal(rm_ext_get(&r, "masterAddr"), "127.0.0.1:30911");
    assert_string_equal(rm_ext_get(&r, "haServerAddr"), "127.0.0.1:30911-ha");
    o = route(&c, "RtTopic", &code);
    addrs = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "brokerDatas"), 0),
                                "brokerAddrs");
    assert_string_equal(cJSON_GetObjectItem(addrs, "1")->valuestring, "127.0.0.1:30921");
    cJSON_Delete(o);
    /* GET_BROKER_MEMBER_GROUP */
    const char *mext[] = {"clusterName", "RtCluster", "brokerName", "rt-a", NULL};
    o = body_json(&c, GET_BROKER_MEMBER_GROUP, mext);
    cJSON *g = cJSON_GetObjectItem(o, "brokerMemberGroup");
    assert_string_equal(cJSON_GetObjectItem(g, "cluster")->valuestring, "RtCluster");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(g, "brokerAddrs")), 2);
    cJSON_Delete(o);
    wc_close(&s);

    /* unregister the master (the slave went with its connection): no route */
    const char *uext[] = {"brokerName", "rt-a", "brokerAddr", "127.0.0.1:30911", "clusterName",
                          "RtCluster", "brokerId", "0", NULL};
    assert_int_equal(wc_call(&c, UNREGISTER_BROKER, uext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_true(TU_WAIT_FOR(({
                                cJSON *x = route(&c, "RtTopic", &code);
                                cJSON_Delete(x);
                                code == TOPIC_NOT_EXIST;
                            }),
                            5000));
    const char *ext[] = {"topic", "RtTopic", NULL};
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, TOPIC_NOT_EXIST);
    assert_non_null(r.remark);
    assert_non_null(strstr(r.remark, "No topic route info in name server for the topic: RtTopic"));
    wc_close(&c);
}

static void test_two_brokers_two_clusters(void **state) {
    (void)state;
    wc_t a, b, c, q;
    conn(&a);
    conn(&b);
    conn(&c);
    conn(&q);
    rm_cmd_t r;
    const char *ta[] = {"Merge:4:4:6", "OnlyA:1:1:6", NULL};
    const char *tb[] = {"Merge:8:8:6", NULL};
    const char *tc[] = {"Merge:2:2:6", "OnlyC:1:1:6", NULL};
    assert_int_equal(reg(&a, "M1", "m-a", "127.0.0.1:31001", "0", 1, ta, &r), SUCCESS);
    assert_int_equal(reg(&b, "M1", "m-b", "127.0.0.1:31002", "0", 1, tb, &r), SUCCESS);
    assert_int_equal(reg(&c, "M2", "m-c", "127.0.0.1:31003", "0", 1, tc, &r), SUCCESS);
    int code;
    cJSON *o = route(&q, "Merge", &code);
    cJSON *qds = cJSON_GetObjectItem(o, "queueDatas");
    assert_int_equal(cJSON_GetArraySize(qds), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "brokerDatas")), 3);
    int total = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, qds) total += cJSON_GetObjectItem(it, "writeQueueNums")->valueint;
    assert_int_equal(total, 14);
    cJSON_Delete(o);

    /* cluster info */
    o = body_json(&q, GET_BROKER_CLUSTER_INFO, NULL);
    cJSON *ct = cJSON_GetObjectItem(o, "clusterAddrTable");
    assert_true(list_has(cJSON_GetObjectItem(ct, "M1"), "m-a"));
    assert_true(list_has(cJSON_GetObjectItem(ct, "M1"), "m-b"));
    assert_true(list_has(cJSON_GetObjectItem(ct, "M2"), "m-c"));
    cJSON *bt = cJSON_GetObjectItem(o, "brokerAddrTable");
    cJSON *mc = cJSON_GetObjectItem(bt, "m-c");
    assert_string_equal(cJSON_GetObjectItem(mc, "cluster")->valuestring, "M2");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(mc, "brokerAddrs"), "0")->valuestring,
                        "127.0.0.1:31003");
    cJSON_Delete(o);

    /* topic lists */
    o = body_json(&q, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, NULL);
    cJSON *tl = cJSON_GetObjectItem(o, "topicList");
    assert_true(list_has(tl, "Merge") && list_has(tl, "OnlyA") && list_has(tl, "OnlyC"));
    cJSON_Delete(o);
    const char *cext[] = {"cluster", "M2", NULL};
    o = body_json(&q, GET_TOPICS_BY_CLUSTER, cext);
    tl = cJSON_GetObjectItem(o, "topicList");
    assert_true(list_has(tl, "Merge") && list_has(tl, "OnlyC"));
    assert_false(list_has(tl, "OnlyA"));
    cJSON_Delete(o);
    o = body_json(&q, GET_SYSTEM_TOPIC_LIST_FROM_NS, NULL);
    tl = cJSON_GetObjectItem(o, "topicList");
    assert_true(list_has(tl, "M1") && list_has(tl, "M2") && list_has(tl, "m-a"));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "brokerAddr")));
    cJSON_Delete(o);
    o = body_json(&q, GET_UNIT_TOPIC_LIST, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "topicList")), 0);
    cJSON_Delete(o);

    /* wipe and add write permission */
    const char *pext[] = {"brokerName", "m-a", NULL};
    assert_int_equal(wc_call(&q, WIPE_WRITE_PERM_OF_BROKER, pext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_string_equal(rm_ext_get(&r, "wipeTopicCount"), "2");
    o = route(&q, "OnlyA", &code);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0),
                                         "perm")->valueint,
                     4);
    cJSON_Delete(o);
    assert_int_equal(wc_call(&q, ADD_WRITE_PERM_OF_BROKER, pext, NULL, 0, &r, 5000), 0);
    assert_string_equal(rm_ext_get(&r, "addTopicCount"), "2");

    /* delete a topic in one cluster, then everywhere */
    const char *dext[] = {"topic", "Merge", "clusterName", "M1", NULL};
    assert_int_equal(wc_call(&q, DELETE_TOPIC_IN_NAMESRV, dext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    o = route(&q, "Merge", &code);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "queueDatas")), 1);
    cJSON_Delete(o);
    const char *dext2[] = {"topic", "Merge", NULL};
    assert_int_equal(wc_call(&q, DELETE_TOPIC_IN_NAMESRV, dext2, NULL, 0, &r, 5000), 0);
    cJSON_Delete(route(&q, "Merge", &code));
    assert_int_equal(code, TOPIC_NOT_EXIST);

    /* REGISTER_TOPIC_IN_NAMESRV puts it back for a registered broker */
    const char *rt = "{\"brokerDatas\":[],\"queueDatas\":[{\"brokerName\":\"m-b\",\"perm\":6,"
                     "\"readQueueNums\":3,\"writeQueueNums\":3,\"topicSysFlag\":0}]}";
    assert_int_equal(wc_call(&q, REGISTER_TOPIC_IN_NAMESRV, dext2, rt, strlen(rt), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    o = route(&q, "Merge", &code);
    assert_int_equal(code, SUCCESS);
    cJSON_Delete(o);

    wc_close(&a);
    wc_close(&b);
    wc_close(&c);
    /* all three went with their connections */
    assert_true(TU_WAIT_FOR(({
                                cJSON_Delete(route(&q, "OnlyC", &code));
                                code == TOPIC_NOT_EXIST;
                            }),
                            5000));
    wc_close(&q);
}

static void test_compressed_and_crc(void **state) {
    (void)state;
    wc_t c;
    conn(&c);
    buf_t raw;
    buf_init(&raw);
    const char *parts[] = {"{\"counter\":5,\"stateVersion\":0,\"timestamp\":1700000000001}", NULL};
    buf_put_be32(&raw, (uint32_t)strlen(parts[0]));
    buf_append_str(&raw, parts[0]);
    buf_put_be32(&raw, 1);
    const char *tc = "Zipped 3 5 6 SINGLE_TAG {}";
    buf_put_be32(&raw, (uint32_t)strlen(tc));
    buf_append_str(&raw, tc);
    buf_put_be32(&raw, 2);
    buf_append_str(&raw, "[]");
    uLongf zl = compressBound(raw.len);
    uint8_t *z = malloc(zl);
    assert_int_equal(compress2(z, &zl, raw.data, raw.len, 9), Z_OK);
    char crc[32], badcrc[32];
    snprintf(crc, sizeof(crc), "%lu", crc32(0, z, (uInt)zl) & 0x7FFFFFFFUL);
    snprintf(badcrc, sizeof(badcrc), "%lu", (crc32(0, z, (uInt)zl) & 0x7FFFFFFFUL) ^ 1);
    rm_cmd_t r;
    const char *bad[] = {"brokerName", "z-a", "brokerAddr", "127.0.0.1:32001", "clusterName", "Z",
                         "haServerAddr", "x", "brokerId", "0", "compressed", "true", "bodyCrc32",
                         badcrc, NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, bad, z, zl, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_string_equal(r.remark, "crc32 not match");
    const char *good[] = {"brokerName", "z-a", "brokerAddr", "127.0.0.1:32001", "clusterName", "Z",
                          "haServerAddr", "x", "brokerId", "0", "compressed", "true", "bodyCrc32",
                          crc, NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, good, z, zl, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    int code;
    cJSON *o = route(&c, "Zipped", &code);
    cJSON *qd = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0);
    assert_int_equal(cJSON_GetObjectItem(qd, "readQueueNums")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(qd, "writeQueueNums")->valueint, 5);
    cJSON_Delete(o);
    /* the same request in the ROCKETMQ binary header: answered in kind */
    wc_t bin;
    conn(&bin);
    bin.ser = RM_SER_ROCKETMQ;
    const char *ext[] = {"topic", "Zipped", NULL};
    assert_int_equal(wc_call(&bin, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_int_equal(r.serialize, RM_SER_ROCKETMQ);
    assert_true(r.body_len > 0);
    wc_close(&bin);
    free(z);
    buf_free(&raw);
    wc_close(&c);
}

static void test_misc_codes(void **state) {
    (void)state;
    wc_t c;
    conn(&c);
    rm_cmd_t r;
    /* unknown code */
    assert_int_equal(wc_call(&c, 9999, NULL, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, REQUEST_CODE_NOT_SUPPORTED);
    /* a broker code sent to the NameServer */
    assert_int_equal(wc_call(&c, SEND_MESSAGE_V2, NULL, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, REQUEST_CODE_NOT_SUPPORTED);
    /* missing mandatory field */
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, NULL, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_non_null(strstr(r.remark, "topic"));
    /* invalid register body: SYSTEM_ERROR, connection still usable */
    const char *ext[] = {"brokerName", "bad", "brokerAddr", "127.0.0.1:1", "clusterName", "B",
                         "haServerAddr", "x", "brokerId", "0", NULL};
    assert_int_equal(wc_call(&c, REGISTER_BROKER, ext, "{not json", 9, &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    /* config */
    assert_int_equal(wc_call(&c, GET_NAMESRV_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    char *text = wc_body_str(&r);
    assert_non_null(strstr(text, "orderMessageEnable=false"));
    char lp[64];
    snprintf(lp, sizeof(lp), "listenPort=%d", port);
    assert_non_null(strstr(text, lp));
    free(text);
    const char *upd = "orderMessageEnable=true\n";
    assert_int_equal(wc_call(&c, UPDATE_NAMESRV_CONFIG, NULL, upd, strlen(upd), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *black = "kvConfigPath=/tmp/x\n";
    assert_int_equal(wc_call(&c, UPDATE_NAMESRV_CONFIG, NULL, black, strlen(black), &r, 5000), 0);
    assert_int_equal(r.code, NO_PERMISSION);
    const char *badv = "scanNotActiveBrokerInterval=abc\n";
    assert_int_equal(wc_call(&c, UPDATE_NAMESRV_CONFIG, NULL, badv, strlen(badv), &r, 5000), 0);
    assert_int_equal(r.code, SYSTEM_ERROR);
    assert_int_equal(wc_call(&c, GET_NAMESRV_CONFIG, NULL, NULL, 0, &r, 5000), 0);
    text = wc_body_str(&r);
    assert_non_null(strstr(text, "orderMessageEnable=true"));
    assert_non_null(strstr(text, "scanNotActiveBrokerInterval=5000"));
    free(text);
    const char *back = "orderMessageEnable=false\n";
    assert_int_equal(wc_call(&c, UPDATE_NAMESRV_CONFIG, NULL, back, strlen(back), &r, 5000), 0);
    /* a oneway request gets no answer; the next call still does */
    const char *hext[] = {"brokerName", "x", "brokerAddr", "1:1", "clusterName", "X", NULL};
    assert_true(wc_send(&c, BROKER_HEARTBEAT, 1, hext, NULL, 0) > 0);
    assert_int_equal(wc_call(&c, GET_BROKER_CLUSTER_INFO, NULL, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    wc_close(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_route),
        cmocka_unit_test(test_two_brokers_two_clusters),
        cmocka_unit_test(test_compressed_and_crc),
        cmocka_unit_test(test_misc_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
