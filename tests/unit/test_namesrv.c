/* Unit tests for src/namesrv: route state, register bodies, JSON output, KV store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "namesrv/kvconfig.h"
#include "namesrv/namesrv.h"
#include "namesrv/routes.h"
#include "../testutil.h"
#include "../wireclient.h"

static const char *BODY_A =
    "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{"
    "\"dataVersion\":{\"counter\":3,\"stateVersion\":0,\"timestamp\":1700000000000},"
    "\"topicConfigTable\":{"
    "\"TopicTest\":{\"order\":false,\"perm\":6,\"readQueueNums\":4,\"topicFilterType\":"
    "\"SINGLE_TAG\",\"topicName\":\"TopicTest\",\"topicSysFlag\":0,\"writeQueueNums\":4},"
    "\"TBW102\":{\"perm\":7,\"readQueueNums\":8,\"writeQueueNums\":8,\"topicName\":\"TBW102\"}},"
    "\"topicQueueMappingInfoMap\":{\"x\":{\"currIdMap\":{0:1}}}}}";

static void parse_body(const char *json, ns_reg_body_t *b) {
    char err[256];
    assert_int_equal(ns_reg_body_parse((const uint8_t *)json, strlen(json), 0, b, err, sizeof(err)),
                     0);
}

static void reg(ns_routes_t *r, const char *cluster, const char *name, const char *addr,
                int64_t id, const char *body, uint64_t conn, int64_t now, ns_reg_result_t *res) {
    ns_reg_body_t b;
    if (body) parse_body(body, &b);
    char ha[64];
    snprintf(ha, sizeof(ha), "%s-ha", addr);
    ns_reg_req_t rq = {cluster, name, addr, ha, NULL, id, 1000, 0, conn, NULL};
    ns_reg_result_t tmp;
    ns_routes_register(r, &rq, body ? &b : NULL, now, res ? res : &tmp);
    if (body) ns_reg_body_free(&b);
}

static cJSON *route(ns_routes_t *r, const char *topic) {
    const uint8_t *j;
    size_t n;
    if (ns_routes_topic_route(r, topic, NULL, &j, &n) != 0) return NULL;
    cJSON *o = cJSON_ParseWithLength((const char *)j, n);
    assert_non_null(o);
    return o;
}

static void test_body_parse(void **state) {
    (void)state;
    ns_reg_body_t b;
    parse_body(BODY_A, &b);
    assert_int_equal(b.dv.counter, 3);
    assert_int_equal(b.dv.timestamp, 1700000000000LL);
    assert_int_equal(b.ntopics, 2);
    int seen = 0;
    for (size_t i = 0; i < b.ntopics; i++) {
        if (strcmp(b.topics[i].name, "TBW102") == 0) {
            assert_int_equal(b.topics[i].perm, 7);
            assert_int_equal(b.topics[i].read_queues, 8);
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    ns_reg_body_free(&b);
    /* bare wrapper (old brokers) and empty body */
    parse_body("{\"dataVersion\":{\"counter\":1,\"timestamp\":2},\"topicConfigTable\":{\"T\":"
               "{\"topicName\":\"T\",\"readQueueNums\":2,\"writeQueueNums\":2,\"perm\":6}}}",
               &b);
    assert_int_equal(b.ntopics, 1);
    assert_int_equal(b.dv.counter, 1);
    ns_reg_body_free(&b);
    char err[128];
    assert_int_equal(ns_reg_body_parse(NULL, 0, 0, &b, err, sizeof(err)), 0);
    assert_int_equal(b.ntopics, 0);
    assert_int_equal(ns_reg_body_parse((const uint8_t *)"{nope", 5, 0, &b, err, sizeof(err)), -1);
    assert_int_equal(ns_reg_body_parse((const uint8_t *)"xx", 2, 1, &b, err, sizeof(err)), -1);
}

static void put32(buf_t *b, const char *s) {
    buf_put_be32(b, (uint32_t)strlen(s));
    buf_append_str(b, s);
}

static void test_compressed_body(void **state) {
    (void)state;
    buf_t raw;
    buf_init(&raw);
    put32(&raw, "{\"counter\":9,\"timestamp\":1234}");
    buf_put_be32(&raw, 2);
    put32(&raw, "TopicA 4 2 6 SINGLE_TAG");
    put32(&raw, "TopicB 1 1 4 MULTI_TAG {\"a\":\"b\"}");
    put32(&raw, "[\"10.0.0.9:7000\"]");
    uLongf zl = compressBound(raw.len);
    uint8_t *z = malloc(zl);
    assert_int_equal(compress2(z, &zl, raw.data, raw.len, 9), Z_OK);
    ns_reg_body_t b;
    char err[128];
    assert_int_equal(ns_reg_body_parse(z, zl, 1, &b, err, sizeof(err)), 0);
    assert_int_equal(b.dv.counter, 9);
    assert_int_equal(b.ntopics, 2);
    assert_string_equal(b.topics[0].name, "TopicA");
    assert_int_equal(b.topics[0].read_queues, 4);
    assert_int_equal(b.topics[0].write_queues, 2);
    assert_int_equal(b.topics[1].perm, 4);
    assert_int_equal(b.nfilters, 1);
    assert_string_equal(b.filters[0], "10.0.0.9:7000");
    ns_reg_body_free(&b);
    /* truncated: claims 2 topics, holds none */
    buf_reset(&raw);
    put32(&raw, "{\"counter\":1}");
    buf_put_be32(&raw, 2);
    zl = compressBound(raw.len);
    assert_int_equal(compress2(z, &zl, raw.data, raw.len, 9), Z_OK);
    assert_int_equal(ns_reg_body_parse(z, zl, 1, &b, err, sizeof(err)), -1);
    free(z);
    buf_free(&raw);
}

static void test_json_strict(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    const char *in = "{0:\"a\", \"k\":[1,2,{-1:\"x\",\"s\":\"{3:4}\"}], 12 : {}}";
    assert_int_equal(ns_json_strict(in, strlen(in), &b), 0);
    assert_string_equal((char *)b.data,
                        "{\"0\":\"a\", \"k\":[1,2,{\"-1\":\"x\",\"s\":\"{3:4}\"}], \"12\" : {}}");
    buf_free(&b);
}

static void test_route_json_fields(void **state) {
    (void)state;
    ns_routes_t *r = ns_routes_create();
    reg(r, "DefaultCluster", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 100, NULL);
    cJSON *o = route(r, "TopicTest");
    assert_non_null(o);
    cJSON *bds = cJSON_GetObjectItem(o, "brokerDatas");
    assert_int_equal(cJSON_GetArraySize(bds), 1);
    cJSON *bd = cJSON_GetArrayItem(bds, 0);
    assert_string_equal(cJSON_GetObjectItem(bd, "brokerName")->valuestring, "broker-a");
    assert_string_equal(cJSON_GetObjectItem(bd, "cluster")->valuestring, "DefaultCluster");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(bd, "enableActingMaster")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(bd, "brokerAddrs"), "0")->valuestring,
                        "10.0.0.1:10911");
    cJSON *qds = cJSON_GetObjectItem(o, "queueDatas");
    assert_int_equal(cJSON_GetArraySize(qds), 1);
    cJSON *qd = cJSON_GetArrayItem(qds, 0);
    assert_string_equal(cJSON_GetObjectItem(qd, "brokerName")->valuestring, "broker-a");
    assert_int_equal(cJSON_GetObjectItem(qd, "readQueueNums")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(qd, "writeQueueNums")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(qd, "perm")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItem(qd, "topicSysFlag")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(qd, "topicSynFlag")->valueint, 0);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "filterServerTable")));
    assert_null(cJSON_GetObjectItem(o, "orderTopicConf"));
    cJSON_Delete(o);
    /* orderTopicConf */
    const uint8_t *j;
    size_t n;
    assert_int_equal(ns_routes_topic_route(r, "TopicTest", "broker-a:4", &j, &n), 0);
    o = cJSON_ParseWithLength((const char *)j, n);
    assert_string_equal(cJSON_GetObjectItem(o, "orderTopicConf")->valuestring, "broker-a:4");
    cJSON_Delete(o);
    assert_int_equal(ns_routes_topic_route(r, "Nope", NULL, &j, &n), -1);
    ns_routes_destroy(r);
}

static void test_two_brokers_two_clusters(void **state) {
    (void)state;
    ns_routes_t *r = ns_routes_create();
    reg(r, "C1", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 100, NULL);
    reg(r, "C1", "broker-b", "10.0.0.2:10911", 0, BODY_A, 2, 100, NULL);
    reg(r, "C2", "broker-c", "10.0.0.3:10911", 0,
        "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1},\"topicConfigTable\":"
        "{\"TopicTest\":{\"topicName\":\"TopicTest\",\"readQueueNums\":2,\"writeQueueNums\":2,"
        "\"perm\":6},\"OnlyC\":{\"topicName\":\"OnlyC\",\"readQueueNums\":1,\"writeQueueNums\":1,"
        "\"perm\":6}}}}",
        3, 100, NULL);
    cJSON *o = route(r, "TopicTest");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "brokerDatas")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "queueDatas")), 3);
    cJSON_Delete(o);

    buf_t b;
    buf_init(&b);
    ns_routes_topics_by_cluster(r, "C2", &b);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "{\"topicList\":[\"OnlyC\",\"TopicTest\"]}");
    buf_reset(&b);
    ns_routes_all_topics(r, &b);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "{\"topicList\":[\"OnlyC\",\"TBW102\",\"TopicTest\"]}");
    buf_reset(&b);
    ns_routes_system_topics(r, &b);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "{\"brokerAddr\":\"10.0.0.1:10911\",\"topicList\":[\"C1\","
                                        "\"C2\",\"broker-a\",\"broker-b\",\"broker-c\"]}");
    buf_reset(&b);
    ns_routes_cluster_info(r, &b);
    cJSON *ci = cJSON_ParseWithLength((const char *)b.data, b.len);
    assert_non_null(ci);
    cJSON *ct = cJSON_GetObjectItem(ci, "clusterAddrTable");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ct, "C1")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(ci, "brokerAddrTable"),
                                                            "broker-c")),
                     4);
    cJSON_Delete(ci);

    /* wipe / add write perm */
    assert_int_equal(ns_routes_write_perm(r, "broker-a", 1), 2);
    o = route(r, "TopicTest");
    cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queueDatas"), 0);
    assert_int_equal(cJSON_GetObjectItem(q0, "perm")->valueint, 4);
    cJSON_Delete(o);
    assert_int_equal(ns_routes_write_perm(r, "broker-a", 0), 2);

    /* delete in one cluster, then everywhere */
    assert_int_equal(ns_routes_delete_topic(r, "TopicTest", "C1"), 1);
    o = route(r, "TopicTest");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "queueDatas")), 1);
    cJSON_Delete(o);
    assert_int_equal(ns_routes_delete_topic(r, "TopicTest", NULL), 1);
    assert_null(route(r, "TopicTest"));

    /* connection close removes broker-c, its cluster and OnlyC */
    assert_int_equal(ns_routes_conn_closed(r, 3), 1);
    assert_null(route(r, "OnlyC"));
    buf_reset(&b);
    ns_routes_cluster_info(r, &b);
    buf_put_u8(&b, 0);
    assert_null(strstr((char *)b.data, "C2"));
    buf_free(&b);
    ns_routes_destroy(r);
}

static void test_slave_master_addr(void **state) {
    (void)state;
    ns_routes_t *r = ns_routes_create();
    ns_reg_result_t res;
    reg(r, "C", "broker-a", "10.0.0.2:10911", 1, BODY_A, 2, 100, &res);
    assert_string_equal(res.master_addr, ""); /* no master yet */
    assert_null(route(r, "TopicTest"));     /* slaves do not create routes */
    reg(r, "C", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 100, &res);
    assert_string_equal(res.master_addr, "");
    reg(r, "C", "broker-a", "10.0.0.2:10911", 1, BODY_A, 2, 100, &res);
    assert_string_equal(res.master_addr, "10.0.0.1:10911");
    assert_string_equal(res.ha_addr, "10.0.0.1:10911-ha");
    cJSON *o = route(r, "TopicTest");
    cJSON *addrs = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "brokerDatas"), 0),
                                       "brokerAddrs");
    assert_string_equal(cJSON_GetObjectItem(addrs, "1")->valuestring, "10.0.0.2:10911");
    cJSON_Delete(o);
    /* the master unregisters: the route stays (slave still there) */
    assert_int_equal(ns_routes_unregister(r, "C", "10.0.0.1:10911", "broker-a", 0), 1);
    o = route(r, "TopicTest");
    assert_non_null(o);
    cJSON_Delete(o);
    assert_int_equal(ns_routes_unregister(r, "C", "10.0.0.2:10911", "broker-a", 1), 1);
    assert_null(route(r, "TopicTest"));
    assert_int_equal(ns_routes_live_count(r), 0);
    ns_routes_destroy(r);
}

static void test_expiry_and_dv(void **state) {
    (void)state;
    ns_routes_t *r = ns_routes_create();
    reg(r, "C", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 100, NULL);
    ns_dv_t dv = {3, 1700000000000LL, 0}, st;
    int known;
    assert_int_equal(ns_routes_query_dv(r, "C", "10.0.0.1:10911", &dv, 900, &known, &st), 0);
    assert_int_equal(known, 1);
    assert_int_equal(st.counter, 3);
    dv.counter = 4;
    assert_int_equal(ns_routes_query_dv(r, "C", "10.0.0.1:10911", &dv, 900, &known, &st), 1);
    assert_int_equal(ns_routes_query_dv(r, "C", "10.0.0.9:1", &dv, 900, &known, &st), 1);
    assert_int_equal(known, 0);
    /* timeout 1000 ms: alive at 1800 (refreshed at 900), gone at 1901 */
    assert_int_equal(ns_routes_scan(r, 1800, NULL, NULL), 0);
    assert_int_equal(ns_routes_heartbeat(r, "C", "10.0.0.1:10911", 1000), 0);
    assert_int_equal(ns_routes_scan(r, 2000, NULL, NULL), 0);
    assert_int_equal(ns_routes_scan(r, 2001, NULL, NULL), 1);
    assert_null(route(r, "TopicTest"));
    assert_int_equal(ns_routes_heartbeat(r, "C", "10.0.0.1:10911", 1000), -1);
    ns_routes_destroy(r);
}

static void test_register_topic(void **state) {
    (void)state;
    ns_routes_t *r = ns_routes_create();
    reg(r, "C", "broker-a", "10.0.0.1:10911", 0, NULL, 1, 100, NULL);
    const char *body = "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"10.0.0.1:10911\"},\"brokerName\":"
                       "\"broker-a\"}],\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
                       "\"readQueueNums\":3,\"writeQueueNums\":3,\"topicSynFlag\":0},"
                       "{\"brokerName\":\"unknown\",\"perm\":6,\"readQueueNums\":3}]}";
    char err[128];
    assert_int_equal(ns_routes_register_topic(r, "New", (const uint8_t *)body, strlen(body), err,
                                              sizeof(err)),
                     0);
    assert_null(route(r, "New")); /* one unknown broker: nothing registered */
    const char *good = "{\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
                       "\"readQueueNums\":3,\"writeQueueNums\":3,\"topicSynFlag\":0}]}";
    assert_int_equal(ns_routes_register_topic(r, "New", (const uint8_t *)good, strlen(good), err,
                                              sizeof(err)),
                     0);
    cJSON *o = route(r, "New");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "queueDatas")), 1);
    cJSON_Delete(o);
    /* no queueDatas: nothing to do; not JSON: an error */
    assert_int_equal(ns_routes_register_topic(r, "X", (const uint8_t *)"{}", 2, err, sizeof(err)),
                     0);
    assert_int_equal(ns_routes_has_topic(r, "X"), 0);
    assert_int_equal(ns_routes_register_topic(r, "X", (const uint8_t *)"[1", 2, err, sizeof(err)),
                     -1);
    /* a same-version re-registration restores a deleted topic */
    reg(r, "C", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 100, NULL);
    assert_int_equal(ns_routes_delete_topic(r, "TopicTest", NULL), 1);
    assert_null(route(r, "TopicTest"));
    reg(r, "C", "broker-a", "10.0.0.1:10911", 0, BODY_A, 1, 200, NULL);
    o = route(r, "TopicTest");
    assert_non_null(o);
    cJSON_Delete(o);
    ns_routes_destroy(r);
}

static void test_kv_persist(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-kv");
    char path[600];
    snprintf(path, sizeof(path), "%s/sub/kvConfig.json", dir);
    char err[256];
    ns_kv_t *kv = ns_kv_create(path);
    assert_int_equal(ns_kv_load(kv, err, sizeof(err)), 0);
    assert_int_equal(ns_kv_put(kv, "ORDER_TOPIC_CONFIG", "T", "broker-a:4"), 0);
    assert_int_equal(ns_kv_put(kv, "NS2", "k\"q", "v\\1"), 0);
    assert_int_equal(ns_kv_put(kv, "NS2", "gone", "x"), 0);
    assert_int_equal(ns_kv_del(kv, "NS2", "gone"), 0);
    ns_kv_destroy(kv);
    kv = ns_kv_create(path);
    assert_int_equal(ns_kv_load(kv, err, sizeof(err)), 0);
    assert_string_equal(ns_kv_get(kv, "ORDER_TOPIC_CONFIG", "T"), "broker-a:4");
    assert_string_equal(ns_kv_get(kv, "NS2", "k\"q"), "v\\1");
    assert_null(ns_kv_get(kv, "NS2", "gone"));
    buf_t b;
    buf_init(&b);
    assert_int_equal(ns_kv_table_json(kv, "ORDER_TOPIC_CONFIG", &b), 0);
    buf_put_u8(&b, 0);
    assert_string_equal((char *)b.data, "{\"table\":{\"T\":\"broker-a:4\"}}");
    assert_int_equal(ns_kv_table_json(kv, "NOPE", &b), -1);
    buf_free(&b);
    ns_kv_destroy(kv);
    /* garbage file is an error */
    assert_int_equal(file_write_atomic(path, "garbage", 7), 0);
    kv = ns_kv_create(path);
    assert_int_equal(ns_kv_load(kv, err, sizeof(err)), -1);
    ns_kv_destroy(kv);
    tu_rmrf(dir);
    free(dir);
}

/* The embeddable NameServer on its own thread (what petrel dev can use). */
static void test_spawn_thread(void **state) {
    (void)state;
    namesrv_config_t conf;
    namesrv_config_init(&conf);
    char err[256];
    assert_int_equal(cfg_set(namesrv_config_defs, &conf, "listenPort", "0", err, sizeof(err)), 0);
    assert_int_equal(cfg_set(namesrv_config_defs, &conf, "listenAddr", "127.0.0.1", err, sizeof(err)), 0);
    char *dir = tu_tmpdir("petrel-nsthr");
    char kv[600];
    snprintf(kv, sizeof(kv), "%s/kv.json", dir);
    assert_int_equal(cfg_set(namesrv_config_defs, &conf, "kvConfigPath", kv, err, sizeof(err)), 0);
    namesrv_thread_t *t = namesrv_spawn(&conf, err, sizeof(err));
    assert_non_null(t);
    int port = namesrv_thread_port(t);
    assert_true(port > 0);
    wc_t c;
    assert_int_equal(wc_connect(&c, port), 0);
    buf_t b;
    buf_init(&b);
    const char *topics[] = {"ThrTopic:2:2:6", NULL};
    wc_register_body(&b, 1, topics);
    const char *ext[] = {"brokerName", "thr-a", "brokerAddr", "127.0.0.1:1", "clusterName", "T",
                         "haServerAddr", "h", "brokerId", "0", NULL};
    rm_cmd_t r;
    assert_int_equal(wc_call(&c, REGISTER_BROKER, ext, b.data, b.len, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *q[] = {"topic", "ThrTopic", NULL};
    assert_int_equal(wc_call(&c, GET_ROUTEINFO_BY_TOPIC, q, NULL, 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    buf_free(&b);
    namesrv_shutdown(t); /* with a connection still open */
    assert_int_equal(wc_wait_closed(&c, 5000), 1);
    wc_close(&c);
    /* a port in use fails cleanly */
    int busy = tu_free_port();
    char p[16];
    snprintf(p, sizeof(p), "%d", busy);
    assert_int_equal(cfg_set(namesrv_config_defs, &conf, "listenPort", p, err, sizeof(err)), 0);
    namesrv_thread_t *t1 = namesrv_spawn(&conf, err, sizeof(err));
    assert_non_null(t1);
    assert_null(namesrv_spawn(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "listen"));
    namesrv_shutdown(t1);
    namesrv_config_free(&conf);
    tu_rmrf(dir);
    free(dir);
}

/* Deterministic mutation run over the body decoders: no crash, no leak (ASan), and any
 * body that decodes registers and routes without trouble. */
static void test_mutated_bodies(void **state) {
    (void)state;
    log_level_t saved = log_get_level();
    log_set_level(LOG_ERROR); /* thousands of "new topic" lines otherwise */
    buf_t raw, z;
    buf_init(&raw);
    buf_init(&z);
    put32(&raw, "{\"counter\":9,\"timestamp\":1234}");
    buf_put_be32(&raw, 2);
    put32(&raw, "TopicA 4 2 6 SINGLE_TAG {}");
    put32(&raw, "TopicB 1 1 4 MULTI_TAG");
    put32(&raw, "[\"10.0.0.9:7000\"]");
    uLongf zl = compressBound(raw.len);
    uint8_t *zb = malloc(zl);
    assert_int_equal(compress2(zb, &zl, raw.data, raw.len, 9), Z_OK);
    const struct {
        const uint8_t *p;
        size_t n;
        int compressed;
    } seeds[] = {{(const uint8_t *)BODY_A, strlen(BODY_A), 0}, {zb, zl, 1}, {raw.data, raw.len, 1}};
    ns_routes_t *r = ns_routes_create();
    uint32_t rnd = 12345;
    uint8_t *m = malloc(8192);
    int decoded = 0;
    for (int it = 0; it < 30000; it++) {
        int s = it % 3;
        size_t n = seeds[s].n;
        memcpy(m, seeds[s].p, n);
        int muts = 1 + (int)((rnd = rnd * 1103515245u + 12345u) >> 16) % 4;
        for (int k = 0; k < muts; k++) {
            rnd = rnd * 1103515245u + 12345u;
            size_t pos = (rnd >> 8) % n;
            switch ((rnd >> 4) % 4) {
            case 0: m[pos] = (uint8_t)(rnd >> 20); break;
            case 1: n = pos + 1; break; /* truncate */
            case 2: m[pos] = "{}[]:,\"0-9 \\"[(rnd >> 20) % 12]; break;
            default: if (n < 8000) { memmove(m + pos + 1, m + pos, n - pos); m[pos] = '{'; n++; }
            }
        }
        ns_reg_body_t b;
        char err[256];
        if (ns_reg_body_parse(m, n, seeds[s].compressed, &b, err, sizeof(err)) == 0) {
            decoded++;
            ns_reg_req_t rq = {"C", "b", "1.1.1.1:1", "h", NULL, 0, 1000, 0, 7, NULL};
            ns_reg_result_t res;
            ns_routes_register(r, &rq, &b, it, &res);
            for (size_t i = 0; i < b.ntopics; i++) {
                const uint8_t *j;
                size_t jl;
                if (ns_routes_topic_route(r, b.topics[i].name, NULL, &j, &jl) == 0) {
                    cJSON *o = cJSON_ParseWithLength((const char *)j, jl);
                    assert_non_null(o); /* our output is always valid JSON */
                    cJSON_Delete(o);
                }
            }
            ns_reg_body_free(&b);
        }
        ns_routes_register_topic(r, "T", m, n, err, sizeof(err));
        ns_dv_t dv;
        ns_dv_parse((const char *)m, n, &dv);
    }
    assert_true(decoded > 0);
    ns_routes_conn_closed(r, 7);
    assert_int_equal(ns_routes_live_count(r), 0);
    free(m);
    free(zb);
    buf_free(&raw);
    buf_free(&z);
    ns_routes_destroy(r);
    log_set_level(saved);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_parse),
        cmocka_unit_test(test_compressed_body),
        cmocka_unit_test(test_json_strict),
        cmocka_unit_test(test_route_json_fields),
        cmocka_unit_test(test_two_brokers_two_clusters),
        cmocka_unit_test(test_slave_master_addr),
        cmocka_unit_test(test_expiry_and_dv),
        cmocka_unit_test(test_register_topic),
        cmocka_unit_test(test_kv_persist),
        cmocka_unit_test(test_spawn_thread),
        cmocka_unit_test(test_mutated_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
