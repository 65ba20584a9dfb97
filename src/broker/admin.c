/*
 * admin: the requests admin tools send (mqadmin, dashboard, Go admin):
 * topic and group management, runtime info and config, stats, offset reset,
 * and the slave-sync dumps. Also the TPS sampling for runtime info.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker/broker_int.h"
#include "common/util.h"
#include "store/store.h"

#define CTX broker_t *b = ctx

static void mq_key(buf_t *out, broker_t *b, const char *topic, int32_t qid) {
    buf_append_str(out, "{\"brokerName\":");
    buf_json_str(out, b->conf.brokerName, strlen(b->conf.brokerName));
    buf_printf(out, ",\"queueId\":%d,\"topic\":", qid);
    buf_json_str(out, topic, strlen(topic));
    buf_append_str(out, "}");
}

static void h_update_and_create_topic(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char topic[NAME_MAX_LEN], msg[400];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0) return;
    if (bk_valid_topic(topic, msg, sizeof(msg)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    if (strcmp(topic, b->conf.brokerClusterName) == 0) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "The topic[%s] is conflict with system reserved words.",
                      topic);
        return;
    }
    topic_cfg_t tc;
    memset(&tc, 0, sizeof(tc));
    snprintf(tc.name, sizeof(tc.name), "%s", topic);
    int32_t v;
    tc.rq = rm_ext_i32(req, "readQueueNums", &v) == 0 ? v : 16;
    tc.wq = rm_ext_i32(req, "writeQueueNums", &v) == 0 ? v : 16;
    tc.perm = rm_ext_i32(req, "perm", &v) == 0 ? v : 6;
    tc.sysflag = rm_ext_i32(req, "topicSysFlag", &v) == 0 ? v : 0;
    int ord = 0;
    if (rm_ext_bool(req, "order", &ord) == 0) tc.order = ord;
    const char *ft = rm_ext_get(req, "topicFilterType");
    tc.multi_tag = ft && strcmp(ft, "MULTI_TAG") == 0;
    if (tc.rq < 0 || tc.wq < 0 || tc.rq > 65535 || tc.wq > 65535 || (tc.rq == 0 && tc.wq == 0) ||
        tc.perm < 0 || tc.perm > 15) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "illegal queue numbers or perm: read %d, write %d, perm %d",
                      tc.rq, tc.wq, tc.perm);
        return;
    }
    topic_cfg_t *old = topics_get(b, topic);
    if (old) tc.attrs = old->attrs;
    topics_put(b, &tc, 1);
    log_info("topic %s created/updated by %s: read %d write %d perm %d", topic,
             rm_conn_peer(conn), tc.rq, tc.wq, tc.perm);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_delete_topic(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char topic[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0) return;
    char terr[300];
    if (bk_valid_topic(topic, terr, sizeof(terr)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, terr);
        return;
    }
    if (topics_is_system(b, topic)) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "The topic[%s] is conflict with system topic.", topic);
        return;
    }
    topics_delete(b, topic);
    offsets_delete_topic(b, topic);
    bs_delete_topic(b, topic);
    log_info("topic %s deleted by %s", topic, rm_conn_peer(conn));
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_get_all_topic_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    buf_t out;
    buf_init(&out);
    topics_json(b, &out, 1);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext_i64(&e, "totalTopicNum", (int64_t)b->topics.n);
    rm_enc_body(&e, out.data, out.len);
    rm_enc_end(&e);
    buf_free(&out);
}

/* The topic the request's "topic" field names; NULL once the error is replied
 * (TOPIC_NOT_EXIST with the remark not_found, a format taking the name). */
static topic_cfg_t *req_topic(rm_conn_t *conn, rm_cmd_t *req, broker_t *b,
                              const char *not_found) {
    char topic[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0) return NULL;
    topic_cfg_t *t = topics_get(b, topic);
    if (!t) bk_reply_errf(conn, req, TOPIC_NOT_EXIST, not_found, topic);
    return t;
}

static void h_get_topic_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    topic_cfg_t *t = req_topic(conn, req, ctx, "No topic in this broker. topic: %s");
    if (!t) return;
    buf_t out;
    buf_init(&out);
    topic_cfg_json(&out, t);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void tps_str(const tps_t *t, int64_t now_total, int64_t now, char *out, size_t n) {
    double v[3] = {0, 0, 0};
    int64_t spans[3] = {10000, 60000, 600000};
    for (int k = 0; k < 3; k++) {
        /* the oldest sample not older than the span */
        int64_t bt = 0, bv = 0;
        int found = 0;
        for (int i = 0; i < t->n; i++) {
            int idx = (t->pos - 1 - i + 64) % 64;
            if (now - t->times[idx] > spans[k] + 5000) break;
            bt = t->times[idx];
            bv = t->samples[idx];
            found = 1;
        }
        if (found && now > bt) v[k] = (double)(now_total - bv) * 1000.0 / (double)(now - bt);
    }
    snprintf(out, n, "%.2f %.2f %.2f", v[0], v[1], v[2]);
}

void stats_tick(broker_t *b) {
    int64_t now = now_ms();
    tps_t *ts[2] = {&b->put_tps, &b->get_tps};
    int64_t vals[2] = {b->put_total, b->get_total};
    for (int i = 0; i < 2; i++) {
        ts[i]->samples[ts[i]->pos] = vals[i];
        ts[i]->times[ts[i]->pos] = now;
        ts[i]->pos = (ts[i]->pos + 1) % 64;
        if (ts[i]->n < 64) ts[i]->n++;
    }
}

static void kv(buf_t *out, int *first, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void kv(buf_t *out, int *first, const char *k, const char *fmt, ...) {
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (!*first) buf_append_str(out, ",");
    *first = 0;
    buf_json_str(out, k, strlen(k));
    buf_append_str(out, ":");
    buf_json_str(out, v, strlen(v));
}

/* Java MixAll.humanReadableByteCount(bytes, false): "17.1 GiB". */
static void human_bytes(char *out, size_t n, double v) {
    static const char units[] = "KMGTPE";
    if (v < 1024) {
        snprintf(out, n, "%.0f B", v);
        return;
    }
    int e = 0;
    while (v >= 1024 && e < 6) {
        v /= 1024;
        e++;
    }
    snprintf(out, n, "%.1f %ciB", v, units[e - 1]);
}

static void h_get_broker_runtime_info(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    int64_t now = now_ms();
    char put[128], get[128];
    tps_str(&b->put_tps, b->put_total, now, put, sizeof(put));
    tps_str(&b->get_tps, b->get_total, now, get, sizeof(get));
    store_stats_t st;
    store_get_stats(b->store, &st);
    buf_t out;
    buf_init(&out);
    int f = 1;
    buf_append_str(&out, "{\"table\":{");
    kv(&out, &f, "brokerVersionDesc", "V4_9_4");
    kv(&out, &f, "brokerVersion", "%d", RM_VERSION_PETREL);
    kv(&out, &f, "brokerActive", "true");
    kv(&out, &f, "bootTimestamp", "%" PRId64, b->boot_ts);
    kv(&out, &f, "runtime", "[ %" PRId64 " days, %" PRId64 " hours, %" PRId64 " minutes, %" PRId64 " seconds ]",
       (now - b->boot_ts) / 86400000, (now - b->boot_ts) / 3600000 % 24,
       (now - b->boot_ts) / 60000 % 60, (now - b->boot_ts) / 1000 % 60);
    kv(&out, &f, "msgPutTotalTodayNow", "%" PRId64, b->put_total);
    kv(&out, &f, "msgPutTotalTodayMorning", "0");
    kv(&out, &f, "msgPutTotalYesterdayMorning", "0");
    kv(&out, &f, "msgGetTotalTodayNow", "%" PRId64, b->get_total);
    kv(&out, &f, "msgGetTotalTodayMorning", "0");
    kv(&out, &f, "msgGetTotalYesterdayMorning", "0");
    kv(&out, &f, "putTps", "%s", put);
    kv(&out, &f, "getTransferedTps", "%s", get);
    kv(&out, &f, "getTransferredTps", "%s", get);
    kv(&out, &f, "getTotalTps", "%s", get);
    kv(&out, &f, "getFoundTps", "%s", get);
    kv(&out, &f, "getMissTps", "0.00 0.00 0.00");
    kv(&out, &f, "sendThreadPoolQueueSize", "0");
    kv(&out, &f, "sendThreadPoolQueueCapacity", "10000");
    kv(&out, &f, "pullThreadPoolQueueSize", "0");
    kv(&out, &f, "pullThreadPoolQueueCapacity", "100000");
    kv(&out, &f, "queryThreadPoolQueueSize", "0");
    kv(&out, &f, "queryThreadPoolQueueCapacity", "20000");
    kv(&out, &f, "sendThreadPoolQueueHeadWaitTimeMills", "0");
    kv(&out, &f, "pullThreadPoolQueueHeadWaitTimeMills", "0");
    kv(&out, &f, "queryThreadPoolQueueHeadWaitTimeMills", "0");
    kv(&out, &f, "pageCacheLockTimeMills", "%" PRId64, st.put_max_latency_ns / 1000000);
    int64_t cl_min = store_commitlog_min_offset(b->store);
    kv(&out, &f, "earliestMessageTimeStamp", "%" PRId64, b->boot_ts);
    kv(&out, &f, "commitLogDiskRatio", "%.2f", store_disk_usage_percent(b->store) / 100.0);
    kv(&out, &f, "consumeQueueDiskRatio", "%.2f", store_disk_usage_percent(b->store) / 100.0);
    kv(&out, &f, "commitLogMinOffset", "%" PRId64, cl_min);
    kv(&out, &f, "commitLogMaxOffset", "%" PRId64, store_commitlog_max_offset(b->store));
    kv(&out, &f, "dispatchBehindBytes", "%" PRId64, st.dispatch_behind_bytes);
    kv(&out, &f, "dispatchMaxBuffer", "0");
    kv(&out, &f, "remainTransientStoreBufferNumbs", "2147483647");
    kv(&out, &f, "remainHowManyDataToFlush", "%.2f MB",
       (double)(store_commitlog_max_offset(b->store) - store_flushed_offset(b->store)) / 1048576.0);
    kv(&out, &f, "putMessageEntireTimeMax", "0");
    kv(&out, &f, "putMessageTimesTotal", "%" PRIu64, st.put_msgs);
    kv(&out, &f, "putMessageSizeTotal", "%" PRIu64, st.put_bytes);
    kv(&out, &f, "putMessageAverageSize", "%.2f",
       st.put_msgs ? (double)st.put_bytes / (double)st.put_msgs : 0.0);
    kv(&out, &f, "putMessageFailedTimes", "%" PRIu64, st.put_failures);
    kv(&out, &f, "putMessageDistributeTime", "[<=0ms]:0 [0~10ms]:0 [10~50ms]:0 [50~100ms]:0 [100~200ms]:0 [200~500ms]:0 [500ms~1s]:0 [1~2s]:0 [2~3s]:0 [3~4s]:0 [4~5s]:0 [5~10s]:0 [10s~]:0 ");
    kv(&out, &f, "getMessageEntireTimeMax", "0");
    kv(&out, &f, "pageCacheBusy", "false");
    kv(&out, &f, "msgPutTotalToday", "%" PRId64, b->put_total);
    kv(&out, &f, "msgGetTotalToday", "%" PRId64, b->get_total);
    /* keys 4.9.8 adds that tools and dashboards display */
    struct statvfs vfs;
    const char *cl_dir = b->conf.storePathCommitLog;
    if (cl_dir && statvfs(cl_dir, &vfs) == 0) {
        char tot[32], fre[32];
        human_bytes(tot, sizeof(tot), (double)vfs.f_blocks * (double)vfs.f_frsize);
        human_bytes(fre, sizeof(fre), (double)vfs.f_bavail * (double)vfs.f_frsize);
        kv(&out, &f, "commitLogDirCapacity", "Total : %s, Free : %s.", tot, fre);
        char key[600];
        snprintf(key, sizeof(key), "commitLogDiskRatio_%s", cl_dir);
        kv(&out, &f, key, "%.2f", store_disk_usage_percent(b->store) / 100.0);
    }
    kv(&out, &f, "startAcceptSendRequestTimeStamp", "0");
    for (int i = 0; i < b->n_delay_levels; i++) {
        int64_t max = bs_max_offset(b, SCHEDULE_TOPIC, i);
        if (max <= 0 && b->delay_offsets[i] <= 0) continue;
        char key[48];
        snprintf(key, sizeof(key), "scheduleMessageOffset_%d", i + 1);
        kv(&out, &f, key, "%" PRId64 ",%" PRId64, b->delay_offsets[i], max);
    }
    kv(&out, &f, "timerReadBehind", "0");
    kv(&out, &f, "timerOffsetBehind", "0");
    kv(&out, &f, "timerCongestNum", "0");
    kv(&out, &f, "timerEnqueueTps", "0.0");
    kv(&out, &f, "timerDequeueTps", "0.0");
    kv(&out, &f, "EndTransactionQueueSize", "0");
    kv(&out, &f, "EndTransactionThreadPoolQueueCapacity", "100000");
    buf_append_str(&out, "}}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void h_get_broker_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    buf_t out;
    buf_init(&out);
    char v[2048];
    for (const cfg_def_t *d = broker_cfg_defs; d->key; d++) {
        cfg_get(broker_cfg_defs, &b->conf, d->key, v, sizeof(v));
        buf_printf(&out, "%s=%s\n", d->key, v);
    }
    buf_t ver;
    buf_init(&ver);
    data_version_t dv = {1, b->boot_ts};
    bk_dv_json(&ver, &dv);
    buf_put_u8(&ver, 0);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "version", (const char *)ver.data);
    rm_enc_body(&e, out.data, out.len);
    rm_enc_end(&e);
    buf_free(&out);
    buf_free(&ver);
}

typedef struct upd_ctx_s {
    broker_t *b;
    char err[400];
    int pass; /* 0 = check, 1 = apply */
} upd_ctx_t;

static int upd_one(const char *key, const char *val, void *arg) {
    upd_ctx_t *u = arg;
    const cfg_def_t *d = cfg_find(broker_cfg_defs, key);
    if (!d) {
        log_warn("updateBrokerConfig: unknown key %s ignored", key);
        return 0;
    }
    if (!d->runtime) {
        snprintf(u->err, sizeof(u->err), "%s cannot be changed while the broker runs", key);
        return -1;
    }
    if (u->pass == 0) {
        broker_config_t tmp;
        broker_config_copy(&tmp, &u->b->conf);
        int rc = cfg_set(broker_cfg_defs, &tmp, key, val, u->err, sizeof(u->err));
        broker_config_free(&tmp);
        return rc == 0 ? 0 : -1;
    }
    cfg_set(broker_cfg_defs, &u->b->conf, key, val, u->err, sizeof(u->err));
    log_info("broker config %s=%s", key, val);
    if (strcmp(key, "logLevel") == 0 && log_parse_level(val) >= 0)
        log_set_level((log_level_t)log_parse_level(val));
    return 0;
}

static void h_update_broker_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    if (!req->body_len) {
        rm_conn_reply(conn, req, SUCCESS, NULL);
        return;
    }
    char *text = xmalloc(req->body_len + 1);
    memcpy(text, req->body, req->body_len);
    text[req->body_len] = 0;
    upd_ctx_t u = {b, "", 0};
    int perm_before = b->conf.brokerPermission;
    if (props_parse(text, upd_one, &u) != 0) {
        free(text);
        rm_conn_reply(conn, req, SYSTEM_ERROR, u.err);
        return;
    }
    u.pass = 1;
    props_parse(text, upd_one, &u);
    free(text);
    if (perm_before != b->conf.brokerPermission) {
        bk_dv_bump(&b->topics_ver);
        register_all(b);
    }
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_get_topic_stats_info(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    topic_cfg_t *t = req_topic(conn, req, b, "topic[%s] not exist");
    if (!t) return;
    const char *topic = t->name;
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"offsetTable\":{");
    int32_t nq = t->wq > t->rq ? t->wq : t->rq;
    for (int32_t q = 0; q < nq; q++) {
        if (q) buf_append_str(&out, ",");
        mq_key(&out, b, topic, q);
        int64_t min = bs_min_offset(b, topic, q), max = bs_max_offset(b, topic, q);
        int64_t last = max > 0 ? bs_store_time(b, topic, q, max - 1) : 0;
        buf_printf(&out, ":{\"lastUpdateTimestamp\":%" PRId64 ",\"maxOffset\":%" PRId64
                         ",\"minOffset\":%" PRId64 "}",
                   last < 0 ? 0 : last, max, min);
    }
    buf_append_str(&out, "},\"topicPutTps\":0.0}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

typedef struct topics_of_group_s {
    const char *group;
    char **topics;
    int n;
} topics_of_group_t;

static void collect_topics(const char *topic, const char *group, offset_tab_t *t, void *arg) {
    topics_of_group_t *c = arg;
    if (strcmp(group, c->group) != 0) return;
    c->topics = xrealloc(c->topics, (size_t)(c->n + 1) * sizeof(char *));
    c->topics[c->n++] = xstrdup(topic);
}

/* One ConsumeStats offsetTable entry, MQ key -> OffsetWrapper; returns the queue's lag. */
static int64_t offset_wrapper_json(broker_t *b, buf_t *out, const char *group,
                                   const topic_cfg_t *t, int32_t q) {
    int64_t max = bs_max_offset(b, t->name, q);
    int64_t co = offsets_get(b, t->name, group, q);
    if (co < 0) co = 0;
    int64_t last = co > 0 ? bs_store_time(b, t->name, q, co - 1) : 0;
    mq_key(out, b, t->name, q);
    buf_printf(out, ":{\"brokerOffset\":%" PRId64 ",\"consumerOffset\":%" PRId64
                    ",\"lastTimestamp\":%" PRId64 ",\"pullOffset\":%" PRId64 "}",
               max, co, last < 0 ? 0 : last, co);
    return max > co ? max - co : 0;
}

static void h_get_consume_stats(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "consumerGroup", group, sizeof(group)) != 0) return;
    const char *one = rm_ext_get(req, "topic");
    topics_of_group_t c = {group, NULL, 0};
    if (one && *one) {
        c.topics = xmalloc(sizeof(char *));
        c.topics[c.n++] = xstrdup(one);
    } else {
        offsets_each(b, collect_topics, &c);
    }
    cgroup_t *cg = clients_cgroup(b, group);
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"consumeTps\":0.0,\"offsetTable\":{");
    int first = 1;
    for (int i = 0; i < c.n; i++) {
        topic_cfg_t *t = topics_get(b, c.topics[i]);
        if (!t) continue;
        if (cg && cg->nsubs && !cgroup_find_sub(cg, c.topics[i]) && !(one && *one)) continue;
        for (int32_t q = 0; q < t->rq; q++) {
            if (!first) buf_append_str(&out, ",");
            first = 0;
            offset_wrapper_json(b, &out, group, t, q);
        }
    }
    buf_append_str(&out, "}}");
    for (int i = 0; i < c.n; i++) free(c.topics[i]);
    free(c.topics);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void h_update_and_create_subscriptiongroup(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    cJSON *j = req->body_len ? bk_json_parse((const char *)req->body, req->body_len) : NULL;
    group_cfg_t g;
    if (!j || group_cfg_from_json(&g, j) != 0) {
        cJSON_Delete(j);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "the SubscriptionGroupConfig body is missing or invalid");
        return;
    }
    cJSON_Delete(j);
    groups_put(b, &g);
    log_info("subscription group %s created/updated by %s", g.name, rm_conn_peer(conn));
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_delete_subscriptiongroup(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "groupName", group, sizeof(group)) != 0) return;
    groups_delete(b, group);
    int clean = 0;
    if (rm_ext_bool(req, "cleanOffset", &clean) == 0 && clean) offsets_delete_group(b, group);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_get_all_subscriptiongroup(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    bk_reply_filled(conn, req, ctx, groups_json);
}

static void h_get_subscriptiongroup_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "group", group, sizeof(group)) != 0) return;
    group_cfg_t *g = groups_get(b, group);
    if (!g) {
        bk_reply_errf(conn, req, SUBSCRIPTION_GROUP_NOT_EXIST, "No group in this broker. group: %s",
                      group);
        return;
    }
    buf_t out;
    buf_init(&out);
    group_cfg_json(&out, g);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void h_get_all_consumer_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    bk_reply_filled(conn, req, ctx, offsets_json);
}

static void h_get_all_delay_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    bk_reply_filled(conn, req, ctx, schedule_json);
}

static void h_get_system_topic_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"topicList\":[");
    int first = 1;
    STRMAP_FOREACH(&b->topics, e) {
        if (!topics_is_system(b, e->key)) continue;
        if (!first) buf_append_str(&out, ",");
        first = 0;
        buf_json_str(&out, e->key, strlen(e->key));
    }
    buf_append_str(&out, "]}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

typedef struct who_s {
    const char *topic;
    strmap_t seen;
} who_t;

static void who_offsets(const char *topic, const char *group, offset_tab_t *t, void *arg) {
    who_t *w = arg;
    if (strcmp(topic, w->topic) == 0) strmap_put(&w->seen, group, (void *)1);
}

static void h_query_topic_consume_by_who(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char topic[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0) return;
    who_t w = {topic};
    strmap_init(&w.seen);
    STRMAP_FOREACH(&b->cgroups, e) {
        if (cgroup_find_sub(e->val, topic)) strmap_put(&w.seen, e->key, (void *)1);
    }
    offsets_each(b, who_offsets, &w);
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"groupList\":[");
    int first = 1;
    STRMAP_FOREACH(&w.seen, e) {
        if (!first) buf_append_str(&out, ",");
        first = 0;
        buf_json_str(&out, e->key, strlen(e->key));
    }
    buf_append_str(&out, "]}");
    strmap_free(&w.seen);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void h_invoke_broker_to_reset_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char topic[NAME_MAX_LEN], group[NAME_MAX_LEN];
    int64_t ts;
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0 ||
        bk_req_str(conn, req, "group", group, sizeof(group)) != 0 ||
        bk_req_i64(conn, req, "timestamp", &ts) != 0)
        return;
    int force = 1;
    if (rm_ext_bool(req, "isForce", &force) != 0) force = 1;
    int32_t only_q = -1;
    if (rm_ext_i32(req, "queueId", &only_q) != 0) only_q = -1;
    int64_t only_off = -1;
    int has_off = rm_ext_i64(req, "offset", &only_off) == 0 && only_off >= 0;
    topic_cfg_t *t = topics_get(b, topic);
    if (!t) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "[reset-offset] request topic %s not exist", topic);
        return;
    }
    int has_offsets = 0;
    for (int32_t q = 0; q < t->rq && !has_offsets; q++)
        if (offsets_get(b, topic, group, q) >= 0) has_offsets = 1;
    cgroup_t *cg = clients_cgroup(b, group);
    if (!has_offsets && !cg) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "THe consumer group <%s> not exist", group);
        return;
    }
    /* Compute the table: MQ key -> offset. */
    buf_t obj, list;
    buf_init(&obj);
    buf_init(&list);
    buf_append_str(&obj, "{\"offsetTable\":{");
    buf_append_str(&list, "{\"offsetTable\":[");
    int first = 1;
    for (int32_t q = 0; q < t->rq; q++) {
        if (only_q >= 0 && q != only_q) continue;
        int64_t target = has_off ? only_off
                         : ts < 0 ? bs_max_offset(b, topic, q)
                                  : bs_offset_by_time(b, topic, q, ts, 0);
        int64_t cur = offsets_get(b, topic, group, q);
        int64_t use = (force || cur < 0 || target < cur) ? target : cur;
        if (!first) {
            buf_append_str(&obj, ",");
            buf_append_str(&list, ",");
        }
        first = 0;
        mq_key(&obj, b, topic, q);
        buf_printf(&obj, ":%" PRId64, use);
        buf_append_str(&list, "{\"brokerName\":");
        buf_json_str(&list, b->conf.brokerName, strlen(b->conf.brokerName));
        buf_printf(&list, ",\"offset\":%" PRId64 ",\"queueId\":%d,\"topic\":", use, q);
        buf_json_str(&list, topic, strlen(topic));
        buf_append_str(&list, "}");
    }
    buf_append_str(&obj, "}}");
    buf_append_str(&list, "]}");
    if (!cg || cg->nchans == 0) {
        buf_free(&obj);
        buf_free(&list);
        bk_reply_errf(conn, req, CONSUMER_NOT_ONLINE,
                      "Consumer not online, so can not reset offset, Group: %s Topic: %s Timestamp: %" PRId64,
                      group, topic, ts);
        return;
    }
    char tsbuf[32];
    snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, ts);
    for (int i = 0; i < cg->nchans; i++) {
        bclient_t *cl = cg->chans[i].cl;
        if (rm_conn_is_closed(cl->conn)) continue;
        rm_enc_t e;
        rm_conn_request_begin(cl->conn, &e, RESET_CONSUMER_CLIENT_OFFSET, 1, NULL, NULL, 0);
        rm_enc_ext(&e, "topic", topic);
        rm_enc_ext(&e, "group", group);
        rm_enc_ext(&e, "timestamp", tsbuf);
        rm_enc_ext(&e, "isForce", force ? "true" : "false");
        buf_t *body = cl->lang == LANG_CPP ? &list : &obj;
        rm_enc_body(&e, body->data, body->len);
        rm_enc_end(&e);
    }
    log_info("reset offsets of %s on %s to %" PRId64 " (%d consumers told)", group, topic, ts,
             cg->nchans);
    bk_reply_json(conn, req, &obj);
    buf_free(&obj);
    buf_free(&list);
}

/* ---- less common admin calls (remoting-protocol.md 5.15) ---- */

static void h_update_and_create_topic_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    cJSON *j = req->body_len ? bk_json_parse((const char *)req->body, req->body_len) : NULL;
    const cJSON *list = j ? cJSON_GetObjectItemCaseSensitive(j, "topicConfigList") : NULL;
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(j);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "the topicConfigList body is missing or invalid");
        return;
    }
    char err[300];
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const char *name = bk_json_str(it, "topicName", "");
        if (bk_valid_topic(name, err, sizeof(err)) != 0) {
            cJSON_Delete(j);
            rm_conn_reply(conn, req, SYSTEM_ERROR, err);
            return;
        }
    }
    cJSON_ArrayForEach(it, list) {
        topic_cfg_t tc;
        memset(&tc, 0, sizeof(tc));
        snprintf(tc.name, sizeof(tc.name), "%s", bk_json_str(it, "topicName", ""));
        tc.rq = (int32_t)bk_json_i64(it, "readQueueNums", 16);
        tc.wq = (int32_t)bk_json_i64(it, "writeQueueNums", 16);
        tc.perm = (int32_t)bk_json_i64(it, "perm", 6);
        tc.sysflag = (int32_t)bk_json_i64(it, "topicSysFlag", 0);
        tc.order = bk_json_bool(it, "order", 0);
        tc.multi_tag = strcmp(bk_json_str(it, "topicFilterType", "SINGLE_TAG"), "MULTI_TAG") == 0;
        if (tc.rq < 0 || tc.wq < 0 || tc.rq > 65535 || tc.wq > 65535) continue;
        topics_put(b, &tc, 1);
    }
    cJSON_Delete(j);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_query_topics_by_consumer(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "group", group, sizeof(group)) != 0) return;
    topics_of_group_t c = {group, NULL, 0};
    offsets_each(b, collect_topics, &c);
    buf_t out;
    buf_init(&out);
    bk_json_open_broker_addr(&out, b);
    buf_append_str(&out, ",\"topicList\":[");
    for (int i = 0; i < c.n; i++) {
        if (i) buf_append_str(&out, ",");
        buf_json_str(&out, c.topics[i], strlen(c.topics[i]));
        free(c.topics[i]);
    }
    free(c.topics);
    buf_append_str(&out, "]}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void h_query_subscription_by_consumer(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char group[NAME_MAX_LEN], topic[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "group", group, sizeof(group)) != 0 ||
        bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0)
        return;
    cgroup_t *g = clients_cgroup(b, group);
    sub_data_t *sd = g ? cgroup_find_sub(g, topic) : NULL;
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"group\":");
    buf_json_str(&out, group, strlen(group));
    if (sd) {
        buf_append_str(&out, ",\"subscriptionData\":");
        sub_data_json(&out, sd);
    }
    buf_append_str(&out, ",\"topic\":");
    buf_json_str(&out, topic, strlen(topic));
    buf_append_str(&out, "}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

typedef struct clone_s {
    broker_t *b;
    const char *src, *dst, *topic;
} clone_t;

static void h_clone_group_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char src[NAME_MAX_LEN], dst[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "srcGroup", src, sizeof(src)) != 0 ||
        bk_req_str(conn, req, "destGroup", dst, sizeof(dst)) != 0)
        return;
    clone_t c = {b, src, dst, rm_ext_get(req, "topic")};
    /* Collect first: offsets_set may add tables while offsets_each walks them. */
    topics_of_group_t tg = {src, NULL, 0};
    offsets_each(b, collect_topics, &tg);
    for (int i = 0; i < tg.n; i++) {
        if (!c.topic || !*c.topic || strcmp(c.topic, tg.topics[i]) == 0) {
            topic_cfg_t *t = topics_get(b, tg.topics[i]);
            int32_t nq = t ? (t->rq > t->wq ? t->rq : t->wq) : 0;
            for (int32_t q = 0; q < nq; q++) {
                int64_t off = offsets_get(b, tg.topics[i], src, q);
                if (off >= 0) offsets_set(b, tg.topics[i], dst, q, off);
            }
        }
        free(tg.topics[i]);
    }
    free(tg.topics);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_query_consume_time_span(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    char topic[NAME_MAX_LEN], group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0 ||
        bk_req_str(conn, req, "group", group, sizeof(group)) != 0)
        return;
    topic_cfg_t *t = topics_get(b, topic);
    if (!t) {
        bk_reply_errf(conn, req, TOPIC_NOT_EXIST, "topic[%s] not exist", topic);
        return;
    }
    int64_t now = now_ms();
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"consumeTimeSpanSet\":[");
    for (int32_t q = 0; q < t->wq; q++) {
        int64_t min = bs_min_offset(b, topic, q), max = bs_max_offset(b, topic, q);
        int64_t co = offsets_get(b, topic, group, q);
        int64_t mint = max > min ? bs_store_time(b, topic, q, min) : 0;
        int64_t maxt = max > 0 ? bs_store_time(b, topic, q, max - 1) : 0;
        int64_t ct = co > 0 && co < max ? bs_store_time(b, topic, q, co) : (co >= max ? now : 0);
        if (q) buf_append_str(&out, ",");
        buf_printf(&out, "{\"consumeTimeStamp\":%lld,\"delayTime\":%lld,\"maxTimeStamp\":%lld,"
                         "\"messageQueue\":",
                   (long long)(ct < 0 ? 0 : ct), (long long)(maxt > ct ? maxt - ct : 0),
                   (long long)(maxt < 0 ? 0 : maxt));
        mq_key(&out, b, topic, q);
        buf_printf(&out, ",\"minTimeStamp\":%lld}", (long long)(mint < 0 ? 0 : mint));
    }
    buf_append_str(&out, "]}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

/* ---- GET_BROKER_CONSUME_STATS (317): ConsumeStatsList over every group with offsets ---- */

typedef struct groups_seen_s {
    strmap_t seen;
} groups_seen_t;

static void note_group(const char *topic, const char *group, offset_tab_t *t, void *arg) {
    groups_seen_t *g = arg;
    strmap_put(&g->seen, group, (void *)1);
}

/* One ConsumeStats (for one topic of a group); adds the lag to *diff. */
static void consume_stats_json(broker_t *b, buf_t *out, const char *group, const topic_cfg_t *t,
                               int64_t *diff) {
    buf_append_str(out, "{\"consumeTps\":0.0,\"offsetTable\":{");
    for (int32_t q = 0; q < t->rq; q++) {
        if (q) buf_append_str(out, ",");
        *diff += offset_wrapper_json(b, out, group, t, q);
    }
    buf_append_str(out, "}}");
}

static void h_get_broker_consume_stats(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    CTX;
    int only_order = 0;
    if (rm_ext_bool(req, "isOrder", &only_order) != 0) only_order = 0;
    groups_seen_t gs;
    strmap_init(&gs.seen);
    offsets_each(b, note_group, &gs);
    buf_t out;
    buf_init(&out);
    bk_json_open_broker_addr(&out, b);
    buf_append_str(&out, ",\"consumeStatsList\":[");
    int64_t total = 0;
    int firstg = 1;
    STRMAP_FOREACH(&gs.seen, e) {
        group_cfg_t *gc = groups_get(b, e->key);
        if (only_order && (!gc || !gc->orderly)) continue;
        topics_of_group_t c = {e->key, NULL, 0};
        offsets_each(b, collect_topics, &c);
        if (!firstg) buf_append_str(&out, ",");
        firstg = 0;
        buf_append_str(&out, "{");
        buf_json_str(&out, e->key, strlen(e->key));
        buf_append_str(&out, ":[");
        int firstt = 1;
        for (int k = 0; k < c.n; k++) {
            topic_cfg_t *t = topics_get(b, c.topics[k]);
            if (t) {
                if (!firstt) buf_append_str(&out, ",");
                firstt = 0;
                consume_stats_json(b, &out, e->key, t, &total);
            }
            free(c.topics[k]);
        }
        free(c.topics);
        buf_append_str(&out, "]}");
    }
    buf_printf(&out, "],\"totalDiff\":%" PRId64 "}", total);
    strmap_free(&gs.seen);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

void admin_register_handlers(broker_t *b) {
    static const bk_route_t routes[] = {
        {UPDATE_AND_CREATE_TOPIC, h_update_and_create_topic},
        {DELETE_TOPIC_IN_BROKER, h_delete_topic},
        {GET_ALL_TOPIC_CONFIG, h_get_all_topic_config},
        {351 /* GET_TOPIC_CONFIG */, h_get_topic_config},
        {GET_BROKER_RUNTIME_INFO, h_get_broker_runtime_info},
        {GET_BROKER_CONFIG, h_get_broker_config},
        {UPDATE_BROKER_CONFIG, h_update_broker_config},
        {GET_TOPIC_STATS_INFO, h_get_topic_stats_info},
        {GET_CONSUME_STATS, h_get_consume_stats},
        {UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, h_update_and_create_subscriptiongroup},
        {DELETE_SUBSCRIPTIONGROUP, h_delete_subscriptiongroup},
        {GET_ALL_SUBSCRIPTIONGROUP_CONFIG, h_get_all_subscriptiongroup},
        {352 /* GET_SUBSCRIPTIONGROUP_CONFIG */, h_get_subscriptiongroup_config},
        {GET_ALL_CONSUMER_OFFSET, h_get_all_consumer_offset},
        {GET_ALL_DELAY_OFFSET, h_get_all_delay_offset},
        {GET_SYSTEM_TOPIC_LIST_FROM_BROKER, h_get_system_topic_list},
        {QUERY_TOPIC_CONSUME_BY_WHO, h_query_topic_consume_by_who},
        {INVOKE_BROKER_TO_RESET_OFFSET, h_invoke_broker_to_reset_offset},
        {GET_CONSUMER_RUNNING_INFO, h_get_consumer_running_info},
        {CONSUME_MESSAGE_DIRECTLY, h_consume_message_directly},
        {INVOKE_BROKER_TO_GET_CONSUMER_STATUS, h_invoke_broker_to_get_consumer_status},
        /* less common admin calls (remoting-protocol.md 5.15) */
        {UPDATE_AND_CREATE_TOPIC_LIST, h_update_and_create_topic_list},
        {343 /* QUERY_TOPICS_BY_CONSUMER */, h_query_topics_by_consumer},
        {345 /* QUERY_SUBSCRIPTION_BY_CONSUMER */, h_query_subscription_by_consumer},
        {CLONE_GROUP_OFFSET, h_clone_group_offset},
        {QUERY_CONSUME_TIME_SPAN, h_query_consume_time_span},
        {GET_BROKER_CONSUME_STATS, h_get_broker_consume_stats},
    };
    bk_route(b, routes, sizeof(routes) / sizeof(routes[0]));
}
