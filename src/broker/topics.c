/*
 * topics: the TopicConfigManager: topic configs, the system topics created
 * at start, auto-creation from TBW102 on send, and topics.json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"

#define TOPICS_FILE "topics.json"

void topics_init(broker_t *b) {
    strmap_init(&b->topics);
    b->topics_ver.counter = 0;
    b->topics_ver.timestamp = now_ms();
}

static void free_topic(topic_cfg_t *t) {
    if (!t) return;
    free(t->attrs);
    free(t);
}

void topics_free(broker_t *b) {
    STRMAP_FOREACH(&b->topics, e) free_topic(e->val);
    strmap_free(&b->topics);
}

topic_cfg_t *topics_get(broker_t *b, const char *name) { return strmap_get(&b->topics, name); }

void topic_cfg_json(buf_t *out, const topic_cfg_t *t) {
    buf_printf(out, "{\"attributes\":%s,\"order\":%s,\"perm\":%d,\"readQueueNums\":%d,"
                    "\"topicFilterType\":\"%s\",\"topicName\":",
               t->attrs ? t->attrs : "{}", t->order ? "true" : "false", t->perm, t->rq,
               t->multi_tag ? "MULTI_TAG" : "SINGLE_TAG");
    buf_json_str(out, t->name, strlen(t->name));
    buf_printf(out, ",\"topicSysFlag\":%d,\"writeQueueNums\":%d}", t->sysflag, t->wq);
}

static void topic_item_json(buf_t *out, const void *t) { topic_cfg_json(out, t); }

void topics_json(broker_t *b, buf_t *out, int with_mapping) {
    buf_append_str(out, "{\"dataVersion\":");
    bk_dv_json(out, &b->topics_ver);
    if (with_mapping) {
        buf_append_str(out, ",\"mappingDataVersion\":");
        data_version_t z = {0, b->topics_ver.timestamp};
        bk_dv_json(out, &z);
    }
    buf_append_str(out, ",\"topicConfigTable\":");
    bk_json_map(out, &b->topics, topic_item_json);
    if (with_mapping) buf_append_str(out, ",\"topicQueueMappingDetailMap\":{},\"topicQueueMappingInfoMap\":{}");
    buf_append_str(out, "}");
}

/* topics.json: the table without the mapping keys RocketMQ 5 adds to the admin reply. */
static void file_json(broker_t *b, buf_t *out) { topics_json(b, out, 0); }

void topics_persist(broker_t *b) { bk_persist_json(b, TOPICS_FILE, file_json, 0); }

static topic_cfg_t *put_raw(broker_t *b, const topic_cfg_t *tc) {
    topic_cfg_t *t = xmalloc(sizeof(*t));
    *t = *tc;
    t->stats = NULL; /* tc may be another topic's config copied as a template */
    t->attrs = tc->attrs ? xstrdup(tc->attrs) : NULL;
    free_topic(strmap_put(&b->topics, t->name, t));
    return t;
}

topic_cfg_t *topics_put(broker_t *b, const topic_cfg_t *tc, int reg) {
    topic_cfg_t *t = put_raw(b, tc);
    bk_dv_bump(&b->topics_ver);
    topics_persist(b);
    /* At once, before the reply that follows: clients (and the compat tests) ask the
     * NameServer for the new topic's route right after (Java waits for the NameServers). */
    if (reg) register_all(b);
    return t;
}

int topics_delete(broker_t *b, const char *name) {
    topic_cfg_t *t = strmap_del(&b->topics, name);
    if (!t) return -1;
    free_topic(t);
    bk_dv_bump(&b->topics_ver);
    topics_persist(b);
    register_all(b);
    return 0;
}

static void mk(topic_cfg_t *t, const char *name, int32_t rq, int32_t wq, int32_t perm) {
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%.255s", name);
    t->rq = rq;
    t->wq = wq;
    t->perm = perm;
}

topic_cfg_t *topics_create_sys(broker_t *b, const char *topic, int32_t qn, int32_t perm) {
    topic_cfg_t *t = topics_get(b, topic);
    if (t) return t;
    topic_cfg_t tc;
    mk(&tc, topic, qn, qn, perm);
    log_info("create topic %s (%d queues, perm %d)", topic, qn, perm);
    return topics_put(b, &tc, 1);
}

topic_cfg_t *topics_create_on_send(broker_t *b, const char *topic, const char *def_topic,
                                   int32_t queue_nums, int32_t sysflag) {
    topic_cfg_t *t = topics_get(b, topic);
    if (t) return t;
    if (strncmp(topic, "%RETRY%", 7) == 0) return topics_create_sys(b, topic, 1, 6);
    if (strncmp(topic, "%DLQ%", 5) == 0) return topics_create_sys(b, topic, 1, 6);
    if (!b->conf.autoCreateTopicEnable || !def_topic || !*def_topic) return NULL;
    topic_cfg_t *d = topics_get(b, def_topic);
    if (!d || !(d->perm & PERM_INHERIT)) return NULL;
    if (strcmp(def_topic, "TBW102") != 0 && strcmp(def_topic, topic) == 0) return NULL;
    int32_t qn = queue_nums > 0 ? queue_nums : d->wq;
    if (qn > d->wq) qn = d->wq;
    if (qn <= 0) return NULL;
    topic_cfg_t tc;
    mk(&tc, topic, qn, qn, d->perm & ~PERM_INHERIT);
    tc.sysflag = sysflag;
    log_info("auto-create topic %s from %s (%d queues)", topic, def_topic, qn);
    return topics_put(b, &tc, 1);
}

int topics_is_system(broker_t *b, const char *t) {
    return strcmp(t, "TBW102") == 0 || strcmp(t, "SCHEDULE_TOPIC_XXXX") == 0 ||
           strcmp(t, "RMQ_SYS_TRANS_HALF_TOPIC") == 0 ||
           strcmp(t, "RMQ_SYS_TRANS_OP_HALF_TOPIC") == 0 ||
           strcmp(t, "TRANS_CHECK_MAX_TIME_TOPIC") == 0 || strcmp(t, "SELF_TEST_TOPIC") == 0 ||
           strcmp(t, "OFFSET_MOVED_EVENT") == 0 || strcmp(t, "BenchmarkTest") == 0 ||
           strcmp(t, b->conf.brokerClusterName) == 0 || strcmp(t, b->conf.brokerName) == 0 ||
           strncmp(t, "rmq_sys_", 8) == 0;
}

void topic_cfg_describe(const topic_cfg_t *t, char *out, size_t n) {
    char perm[4] = {(t->perm & PERM_READ) ? 'R' : '-', (t->perm & PERM_WRITE) ? 'W' : '-',
                    (t->perm & PERM_INHERIT) ? 'X' : '-', 0};
    snprintf(out, n,
             "TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%s, "
             "topicFilterType=%s, topicSysFlag=%d, order=%s]",
             t->name, t->rq, t->wq, perm, t->multi_tag ? "MULTI_TAG" : "SINGLE_TAG", t->sysflag,
             t->order ? "true" : "false");
}

static void apply_file(broker_t *b, const cJSON *j) {
    bk_dv_from_json(&b->topics_ver, j);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "topicConfigTable")) {
        topic_cfg_t tc;
        const char *name = bk_json_str(it, "topicName", it->string);
        if (!name || !*name || strlen(name) > TOPIC_MAX) continue;
        mk(&tc, name, (int32_t)bk_json_i64(it, "readQueueNums", 16),
           (int32_t)bk_json_i64(it, "writeQueueNums", 16), (int32_t)bk_json_i64(it, "perm", 6));
        const char *ft = bk_json_str(it, "topicFilterType", "SINGLE_TAG");
        tc.multi_tag = strcmp(ft, "MULTI_TAG") == 0;
        tc.sysflag = (int32_t)bk_json_i64(it, "topicSysFlag", 0);
        tc.order = bk_json_bool(it, "order", 0);
        cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "attributes");
        if (at && cJSON_IsObject(at) && at->child) tc.attrs = cJSON_PrintUnformatted(at);
        put_raw(b, &tc);
        free(tc.attrs);
    }
}

int topics_load(broker_t *b, char *err, size_t errlen) {
    if (bk_load_json(b, TOPICS_FILE, apply_file, 1, err, errlen) != 0) return -1;
    /* System topics (TopicConfigManager's constructor). */
    broker_config_t *c = &b->conf;
    topic_cfg_t tc;
    int changed = 0;
#define SYS(name, rq, wq, perm)                        \
    do {                                               \
        if (!topics_get(b, (name))) {                  \
            mk(&tc, (name), (rq), (wq), (perm));       \
            put_raw(b, &tc);                           \
            changed = 1;                               \
        }                                              \
    } while (0)
    SYS("SELF_TEST_TOPIC", 1, 1, 6);
    if (c->autoCreateTopicEnable)
        SYS("TBW102", c->defaultTopicQueueNums, c->defaultTopicQueueNums, 7);
    SYS("BenchmarkTest", 1024, 1024, 6);
    SYS(c->brokerClusterName, 16, 16, PERM_INHERIT | (c->clusterTopicEnable ? 6 : 0));
    SYS(c->brokerName, 1, 1, PERM_INHERIT | (c->brokerTopicEnable ? 6 : 0));
    SYS("OFFSET_MOVED_EVENT", 1, 1, 6);
    SYS("SCHEDULE_TOPIC_XXXX", 18, 18, 6);
    SYS("RMQ_SYS_TRANS_HALF_TOPIC", 1, 1, 6);
    if (c->traceTopicEnable) SYS(c->msgTraceTopicName, 1, 1, 6);
    char reply[300];
    snprintf(reply, sizeof(reply), "%s_REPLY_TOPIC", c->brokerClusterName);
    SYS(reply, 1, 1, 6);
#undef SYS
    if (!c->autoCreateTopicEnable) {
        /* Java does not register TBW102 then; keep it out of the table. */
        topic_cfg_t *t = strmap_del(&b->topics, "TBW102");
        if (t) {
            free_topic(t);
            changed = 1;
        }
    }
    if (changed) {
        bk_dv_bump(&b->topics_ver);
        bk_persist_json(b, TOPICS_FILE, file_json, 1);
    }
    return 0;
}
