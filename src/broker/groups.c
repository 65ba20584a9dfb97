/*
 * groups: the SubscriptionGroupManager: consumer group configs, auto-created
 * on first use, persisted in subscriptionGroup.json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"

#define GROUPS_FILE "subscriptionGroup.json"

void groups_init(broker_t *b) {
    strmap_init(&b->groups);
    b->groups_ver.timestamp = now_ms();
}

void groups_free(broker_t *b) {
    STRMAP_FOREACH(&b->groups, e) free(e->val);
    strmap_free(&b->groups);
}

group_cfg_t *groups_get(broker_t *b, const char *name) { return strmap_get(&b->groups, name); }

void group_cfg_defaults(group_cfg_t *g, const char *name) {
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->consume_enable = 1;
    g->from_min_enable = 1;
    g->broadcast_enable = 1;
    g->retry_queue_nums = 1;
    g->retry_max_times = 16;
    g->broker_id = 0;
    g->slow_broker_id = 1;
    g->notify_enable = 1;
    g->timeout_minute = 15;
}

void group_cfg_json(buf_t *out, const group_cfg_t *g) {
    buf_printf(out,
               "{\"attributes\":{},\"brokerId\":%lld,\"consumeBroadcastEnable\":%s,"
               "\"consumeEnable\":%s,\"consumeFromMinEnable\":%s,\"consumeMessageOrderly\":%s,"
               "\"consumeTimeoutMinute\":%d,\"groupName\":",
               (long long)g->broker_id, g->broadcast_enable ? "true" : "false",
               g->consume_enable ? "true" : "false", g->from_min_enable ? "true" : "false",
               g->orderly ? "true" : "false", g->timeout_minute);
    buf_json_str(out, g->name, strlen(g->name));
    buf_printf(out,
               ",\"groupRetryPolicy\":{\"type\":\"CUSTOMIZED\"},\"groupSysFlag\":%d,"
               "\"notifyConsumerIdsChangedEnable\":%s,\"retryMaxTimes\":%d,\"retryQueueNums\":%d,"
               "\"whichBrokerWhenConsumeSlowly\":%lld}",
               g->sysflag, g->notify_enable ? "true" : "false", g->retry_max_times,
               g->retry_queue_nums, (long long)g->slow_broker_id);
}

int group_cfg_from_json(group_cfg_t *g, const cJSON *o) {
    const char *name = bk_json_str(o, "groupName", o->string);
    if (!name || !*name || strlen(name) >= NAME_MAX_LEN) return -1;
    group_cfg_defaults(g, name);
    g->consume_enable = bk_json_bool(o, "consumeEnable", 1);
    g->from_min_enable = bk_json_bool(o, "consumeFromMinEnable", 1);
    g->broadcast_enable = bk_json_bool(o, "consumeBroadcastEnable", 1);
    g->orderly = bk_json_bool(o, "consumeMessageOrderly", 0);
    g->retry_queue_nums = (int32_t)bk_json_i64(o, "retryQueueNums", 1);
    g->retry_max_times = (int32_t)bk_json_i64(o, "retryMaxTimes", 16);
    g->broker_id = bk_json_i64(o, "brokerId", 0);
    g->slow_broker_id = bk_json_i64(o, "whichBrokerWhenConsumeSlowly", 1);
    g->notify_enable = bk_json_bool(o, "notifyConsumerIdsChangedEnable", 1);
    g->sysflag = (int32_t)bk_json_i64(o, "groupSysFlag", 0);
    g->timeout_minute = (int32_t)bk_json_i64(o, "consumeTimeoutMinute", 15);
    return 0;
}

static void group_item_json(buf_t *out, const void *g) { group_cfg_json(out, g); }

void groups_json(broker_t *b, buf_t *out) {
    buf_append_str(out, "{\"dataVersion\":");
    bk_dv_json(out, &b->groups_ver);
    buf_append_str(out, ",\"forbiddenTable\":{},\"subscriptionGroupTable\":");
    bk_json_map(out, &b->groups, group_item_json);
    buf_append_str(out, "}");
}

static void persist(broker_t *b) { bk_persist_json(b, GROUPS_FILE, groups_json, 0); }

static group_cfg_t *put_raw(broker_t *b, const group_cfg_t *g) {
    group_cfg_t *n = xmalloc(sizeof(*n));
    *n = *g;
    free(strmap_put(&b->groups, n->name, n));
    return n;
}

void groups_put(broker_t *b, const group_cfg_t *g) {
    put_raw(b, g);
    bk_dv_bump(&b->groups_ver);
    persist(b);
}

int groups_delete(broker_t *b, const char *name) {
    group_cfg_t *g = strmap_del(&b->groups, name);
    if (!g) return -1;
    free(g);
    bk_dv_bump(&b->groups_ver);
    persist(b);
    return 0;
}

group_cfg_t *groups_find_or_create(broker_t *b, const char *name) {
    group_cfg_t *g = groups_get(b, name);
    if (g || !b->conf.autoCreateSubscriptionGroup) return g;
    if (!*name || strlen(name) >= NAME_MAX_LEN) return NULL;
    group_cfg_t n;
    group_cfg_defaults(&n, name);
    groups_put(b, &n);
    log_info("auto-create subscription group %s", name);
    return groups_get(b, name);
}

static void apply_file(broker_t *b, const cJSON *j) {
    bk_dv_from_json(&b->groups_ver, j);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "subscriptionGroupTable")) {
        group_cfg_t g;
        if (group_cfg_from_json(&g, it) == 0) put_raw(b, &g);
    }
}

int groups_load(broker_t *b, char *err, size_t errlen) {
    if (bk_load_json(b, GROUPS_FILE, apply_file, 0, err, errlen) != 0) return -1;
    static const char *const builtin[] = {"TOOLS_CONSUMER", "FILTERSRV_CONSUMER",
                                          "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
                                          "CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION",
                                          "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS", NULL};
    for (int i = 0; builtin[i]; i++) {
        if (groups_get(b, builtin[i])) continue;
        group_cfg_t g;
        group_cfg_defaults(&g, builtin[i]);
        if (strcmp(builtin[i], "TOOLS_CONSUMER") == 0) g.broadcast_enable = 1;
        put_raw(b, &g);
    }
    return 0;
}
