/*
 * admin_cmds: the `petrel admin` subcommands. Each builds a cJSON result and
 * prints it as an aligned table or, with --json, as JSON. Requests and body
 * shapes follow remoting-protocol.md sections 3, 5 and 6.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/admin.h"
#include "console/console.h"
#include "cli/admin_cmds.h"
#include "common/buf.h"
#include "common/util.h"

#define TOOLS_GROUP "TOOLS_CONSUMER"
#define N(x) (cJSON_CreateNumber((double)(x)))

static void out_rows(adm_t *a, cJSON *doc, const cJSON *rows, const adm_col_t *cols, int n) {
    if (a->json) adm_json_print(doc);
    else adm_table(stdout, rows, cols, n);
}

static char *i2s(char *b, int64_t v) {
    sprintf(b, "%" PRId64, v);
    return b;
}

/* Every NameServer of -n, one call each; stops at the first failure. */
static int ns_each(adm_t *a, int code, const char *const *ext, const char *what, cJSON *rows,
                   const char *count_key) {
    char list[512], *save = NULL;
    snprintf(list, sizeof list, "%s", a->ns);
    for (char *addr = strtok_r(list, ";,", &save); addr; addr = strtok_r(NULL, ";,", &save)) {
        rm_response_t *r;
        int rc = adm_call_ok(a, addr, code, ext, NULL, 0, &r, what);
        if (rc) return rc;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "namesrv", addr);
        cJSON_AddStringToObject(row, "result", "OK");
        if (count_key) {
            const char *v = rm_ext_get(&r->cmd, count_key);
            cJSON_AddItemToObject(row, count_key, N(v ? atoll(v) : 0));
        }
        cJSON_AddItemToArray(rows, row);
        rm_response_free(r);
    }
    return 0;
}

/* ns_each, then the per-NameServer table: NAMESRV, RESULT and, with count_key, its count
 * under count_title. */
static int ns_each_print(adm_t *a, int code, const char *const *ext, const char *what,
                         const char *count_key, const char *count_title) {
    cJSON *rows = cJSON_CreateArray();
    int rc = ns_each(a, code, ext, what, rows, count_key);
    if (!rc) {
        const adm_col_t cols[] = {{"namesrv", "NAMESRV"}, {"result", "RESULT"},
                                  {count_key, count_title}};
        out_rows(a, rows, rows, cols, count_key ? 3 : 2);
    }
    cJSON_Delete(rows);
    return rc;
}

/* ---- topics ------------------------------------------------------------ */

static int cmd_update_topic(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    const char *r = a->opt['r'] ? a->opt['r'] : "8", *w = a->opt['w'] ? a->opt['w'] : "8";
    const char *perm = a->opt['p'] ? a->opt['p'] : "6";
    const char *order = adm_str_bool(a->opt['o'], 0) ? "true" : "false";
    const char *ext[] = {"topic", a->opt['t'], "defaultTopic", "TBW102", "readQueueNums", r,
                         "writeQueueNums", w, "perm", perm, "topicFilterType", "SINGLE_TAG",
                         "topicSysFlag", "0", "order", order, NULL};
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *resp;
        rc = adm_call_ok(a, addrs[i], UPDATE_AND_CREATE_TOPIC, ext, NULL, 0, &resp, "updateTopic");
        if (rc) break;
        rm_response_free(resp);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "broker", addrs[i]);
        cJSON_AddStringToObject(row, "topic", a->opt['t']);
        cJSON_AddItemToObject(row, "readQueueNums", N(atoi(r)));
        cJSON_AddItemToObject(row, "writeQueueNums", N(atoi(w)));
        cJSON_AddItemToObject(row, "perm", N(atoi(perm)));
        cJSON_AddBoolToObject(row, "order", order[0] == 't');
        cJSON_AddItemToArray(rows, row);
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"broker", "BROKER"}, {"topic", "TOPIC"},
                                         {"readQueueNums", "READ"}, {"writeQueueNums", "WRITE"},
                                         {"perm", "PERM"}, {"order", "ORDER"}};
        out_rows(a, rows, rows, cols, 6);
    }
    cJSON_Delete(rows);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int cmd_delete_topic(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    const char *ext[] = {"topic", a->opt['t'], NULL};
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *resp;
        rc = adm_call_ok(a, addrs[i], DELETE_TOPIC_IN_BROKER, ext, NULL, 0, &resp, "deleteTopic");
        if (rc) break;
        rm_response_free(resp);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "server", addrs[i]);
        cJSON_AddStringToObject(row, "result", "deleted");
        cJSON_AddItemToArray(rows, row);
    }
    if (!rc) {
        const char *next[] = {"topic", a->opt['t'], a->opt['c'] ? "clusterName" : NULL,
                              a->opt['c'], NULL};
        cJSON *nrows = cJSON_CreateArray();
        rc = ns_each(a, DELETE_TOPIC_IN_NAMESRV, next, "deleteTopic (NameServer)", nrows, NULL);
        cJSON *row;
        cJSON_ArrayForEach(row, nrows) {
            cJSON_AddItemToArray(rows, cJSON_Duplicate(row, 1));
        }
        cJSON_Delete(nrows);
        cJSON_ArrayForEach(row, rows) {
            if (!cJSON_GetObjectItem(row, "server")) {
                cJSON_AddStringToObject(row, "server", adm_json_str(row, "namesrv", ""));
                cJSON_DeleteItemFromObject(row, "namesrv");
                cJSON_ReplaceItemInObject(row, "result", cJSON_CreateString("route deleted"));
            }
        }
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"server", "SERVER"}, {"result", "RESULT"}};
        out_rows(a, rows, rows, cols, 2);
    }
    cJSON_Delete(rows);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int cmd_topic_list(adm_t *a) {
    rm_response_t *r;
    const char *ext[] = {"cluster", a->opt['c'], NULL};
    int rc = a->opt['c']
                 ? adm_call_ns_ok(a, GET_TOPICS_BY_CLUSTER, ext, NULL, 0, &r, "topicList")
                 : adm_call_ns_ok(a, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, NULL, NULL, 0, &r,
                                  "topicList");
    if (rc) return rc;
    cJSON *body = adm_json_parse(r->cmd.body, r->cmd.body_len);
    rm_response_free(r);
    cJSON *list = cJSON_GetObjectItem(body, "topicList");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "topicList: undecodable TopicList body\n");
        cJSON_Delete(body);
        return ADM_EPROTO;
    }
    int n = cJSON_GetArraySize(list), k = 0;
    const char **v = xcalloc((size_t)n + 1, sizeof(char *));
    cJSON *t;
    cJSON_ArrayForEach(t, list) if (cJSON_IsString(t)) v[k++] = t->valuestring;
    qsort(v, (size_t)k, sizeof(char *), cmp_str);
    if (a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "topicList", cJSON_CreateStringArray(v, k));
        adm_json_print(doc);
        cJSON_Delete(doc);
    } else {
        for (int i = 0; i < k; i++) puts(v[i]);
    }
    free(v);
    cJSON_Delete(body);
    return 0;
}

static int cmd_topic_route(adm_t *a) {
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    if (a->json) {
        adm_json_print(route);
    } else {
        cJSON *rows = cJSON_CreateArray(), *qd;
        cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
            cJSON *row = cJSON_CreateObject();
            const char *bn = adm_json_str(qd, "brokerName", "");
            cJSON_AddStringToObject(row, "brokerName", bn);
            const char *m = adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), bn);
            cJSON_AddStringToObject(row, "master", m ? m : "-");
            cJSON_AddItemToObject(row, "readQueueNums", N(adm_json_i64(qd, "readQueueNums", 0)));
            cJSON_AddItemToObject(row, "writeQueueNums", N(adm_json_i64(qd, "writeQueueNums", 0)));
            cJSON_AddItemToObject(row, "perm", N(adm_json_i64(qd, "perm", 0)));
            cJSON_AddItemToArray(rows, row);
        }
        static const adm_col_t cols[] = {{"brokerName", "BROKER"}, {"master", "MASTER"},
                                         {"readQueueNums", "READ"}, {"writeQueueNums", "WRITE"},
                                         {"perm", "PERM"}};
        adm_table(stdout, rows, cols, 5);
        cJSON_Delete(rows);
    }
    cJSON_Delete(route);
    return 0;
}

typedef struct qrow_s {
    char broker[128];
    char topic[256];
    int qid;
    cJSON *val;
} qrow_t;

static int cmp_qrow(const void *x, const void *y) {
    const qrow_t *p = x, *q = y;
    int c = strcmp(p->topic, q->topic);
    if (!c) c = strcmp(p->broker, q->broker);
    return c ? c : p->qid - q->qid;
}

/* Flattens a fastjson {MessageQueue-key: value} table into qrow_t (values not owned). */
static int mq_table(cJSON *table, qrow_t **out, int *n, int *cap) {
    cJSON *e;
    cJSON_ArrayForEach(e, table) {
        cJSON *k = cJSON_Parse(e->string);
        if (!k) continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *out = xrealloc(*out, (size_t)*cap * sizeof(qrow_t));
        }
        qrow_t *q = &(*out)[(*n)++];
        snprintf(q->broker, sizeof q->broker, "%s", adm_json_str(k, "brokerName", ""));
        snprintf(q->topic, sizeof q->topic, "%s", adm_json_str(k, "topic", ""));
        q->qid = (int)adm_json_i64(k, "queueId", 0);
        q->val = e;
        cJSON_Delete(k);
    }
    return 0;
}

static int cmd_topic_status(adm_t *a) {
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    cJSON *bodies = cJSON_CreateArray(), *bd;
    qrow_t *q = NULL;
    int nq = 0, cap = 0;
    cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
        const char *addr = adm_json_str(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        if (!addr) continue;
        const char *ext[] = {"topic", a->opt['t'], NULL};
        rm_response_t *r;
        rc = adm_call_ok(a, addr, GET_TOPIC_STATS_INFO, ext, NULL, 0, &r, "topicStatus");
        if (rc) break;
        cJSON *b = adm_json_parse(r->cmd.body, r->cmd.body_len);
        rm_response_free(r);
        if (!b) {
            fprintf(stderr, "topicStatus: undecodable TopicStatsTable from %s\n", addr);
            rc = ADM_EPROTO;
            break;
        }
        cJSON_AddItemToArray(bodies, b);
        mq_table(cJSON_GetObjectItem(b, "offsetTable"), &q, &nq, &cap);
    }
    if (!rc) {
        qsort(q, (size_t)nq, sizeof *q, cmp_qrow);
        cJSON *rows = cJSON_CreateArray();
        for (int i = 0; i < nq; i++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "brokerName", q[i].broker);
            cJSON_AddItemToObject(row, "queueId", N(q[i].qid));
            cJSON_AddItemToObject(row, "minOffset", N(adm_json_i64(q[i].val, "minOffset", 0)));
            cJSON_AddItemToObject(row, "maxOffset", N(adm_json_i64(q[i].val, "maxOffset", 0)));
            cJSON_AddItemToObject(row, "lastUpdateTimestamp",
                                  N(adm_json_i64(q[i].val, "lastUpdateTimestamp", 0)));
            cJSON_AddItemToArray(rows, row);
        }
        static const adm_col_t cols[] = {{"brokerName", "BROKER"}, {"queueId", "QID"},
                                         {"minOffset", "MIN_OFFSET"}, {"maxOffset", "MAX_OFFSET"},
                                         {"lastUpdateTimestamp", "LAST_UPDATED"}};
        out_rows(a, rows, rows, cols, 5);
        cJSON_Delete(rows);
    }
    free(q);
    cJSON_Delete(bodies);
    cJSON_Delete(route);
    return rc;
}

static int cmd_topic_cluster_list(adm_t *a) {
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    cJSON *rows = cJSON_CreateArray(), *bd, *row;
    cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
        const char *c = adm_json_str(bd, "cluster", "");
        int dup = 0;
        cJSON_ArrayForEach(row, rows) dup |= !strcmp(adm_json_str(row, "cluster", ""), c);
        if (dup) continue;
        row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "cluster", c);
        cJSON_AddItemToArray(rows, row);
    }
    static const adm_col_t cols[] = {{"cluster", "CLUSTER"}};
    out_rows(a, rows, rows, cols, 1);
    cJSON_Delete(rows);
    cJSON_Delete(route);
    return 0;
}

/* ---- subscription groups ----------------------------------------------- */

static int cmd_update_sub_group(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "groupName", a->opt['g']);
    cJSON_AddBoolToObject(g, "consumeEnable", adm_str_bool(a->opt['s'], 1));
    cJSON_AddBoolToObject(g, "consumeFromMinEnable", adm_str_bool(a->opt['m'], 1));
    cJSON_AddBoolToObject(g, "consumeBroadcastEnable", adm_str_bool(a->opt['d'], 1));
    cJSON_AddBoolToObject(g, "consumeMessageOrderly", adm_str_bool(a->opt['o'], 0));
    cJSON_AddItemToObject(g, "retryQueueNums", N(a->opt['q'] ? atoi(a->opt['q']) : 1));
    cJSON_AddItemToObject(g, "retryMaxTimes", N(a->opt['r'] ? atoi(a->opt['r']) : 16));
    cJSON_AddItemToObject(g, "brokerId", N(a->opt['i'] ? atoi(a->opt['i']) : 0));
    cJSON_AddItemToObject(g, "whichBrokerWhenConsumeSlowly",
                          N(a->opt['w'] ? atoi(a->opt['w']) : 1));
    cJSON_AddBoolToObject(g, "notifyConsumerIdsChangedEnable", adm_str_bool(a->opt['a'], 1));
    char *body = cJSON_PrintUnformatted(g);
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *r;
        rc = adm_call_ok(a, addrs[i], UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, body,
                         (uint32_t)strlen(body), &r, "updateSubGroup");
        if (rc) break;
        rm_response_free(r);
        cJSON *row = cJSON_Duplicate(g, 1);
        cJSON_AddStringToObject(row, "broker", addrs[i]);
        cJSON_AddItemToArray(rows, row);
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"broker", "BROKER"}, {"groupName", "GROUP"},
                                         {"consumeEnable", "CONSUME"},
                                         {"consumeBroadcastEnable", "BROADCAST"},
                                         {"retryQueueNums", "RETRY_QUEUES"},
                                         {"retryMaxTimes", "RETRY_MAX"}};
        out_rows(a, rows, rows, cols, 6);
    }
    free(body);
    cJSON_Delete(g);
    cJSON_Delete(rows);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int cmd_delete_sub_group(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    const char *ext[] = {"groupName", a->opt['g'], "cleanOffset",
                         adm_str_bool(a->opt['r'], 0) ? "true" : "false", NULL};
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *r;
        rc = adm_call_ok(a, addrs[i], DELETE_SUBSCRIPTIONGROUP, ext, NULL, 0, &r,
                         "deleteSubGroup");
        if (rc) break;
        rm_response_free(r);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "broker", addrs[i]);
        cJSON_AddStringToObject(row, "group", a->opt['g']);
        cJSON_AddStringToObject(row, "result", "deleted");
        cJSON_AddItemToArray(rows, row);
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"broker", "BROKER"}, {"group", "GROUP"},
                                         {"result", "RESULT"}};
        out_rows(a, rows, rows, cols, 3);
    }
    cJSON_Delete(rows);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

/* ---- brokers ----------------------------------------------------------- */

static int runtime_info(adm_t *a, const char *addr, cJSON **table) {
    rm_response_t *r;
    *table = NULL;
    int rc = adm_call_ok(a, addr, GET_BROKER_RUNTIME_INFO, NULL, NULL, 0, &r, "brokerStatus");
    if (rc) return rc;
    cJSON *b = adm_json_parse(r->cmd.body, r->cmd.body_len);
    rm_response_free(r);
    cJSON *t = cJSON_DetachItemFromObject(b, "table");
    cJSON_Delete(b);
    if (!cJSON_IsObject(t)) {
        cJSON_Delete(t);
        fprintf(stderr, "brokerStatus: undecodable KVTable from %s\n", addr);
        return ADM_EPROTO;
    }
    *table = t;
    return 0;
}

static double first_tps(const cJSON *t, const char *key) {
    const char *v = adm_json_str(t, key, NULL);
    return v ? atof(v) : 0.0;
}

static int cmd_cluster_list(adm_t *a) {
    cJSON *info;
    int rc = adm_cluster_info(a, &info);
    if (rc) return rc;
    cJSON *rows = cJSON_CreateArray(), *cl, *bn;
    cJSON *bat = cJSON_GetObjectItem(info, "brokerAddrTable");
    cJSON_ArrayForEach(cl, cJSON_GetObjectItem(info, "clusterAddrTable")) {
        if (a->opt['c'] && strcmp(a->opt['c'], cl->string)) continue;
        cJSON_ArrayForEach(bn, cl) {
            cJSON *bd = cJSON_GetObjectItem(bat, bn->valuestring), *ad;
            cJSON_ArrayForEach(ad, cJSON_GetObjectItem(bd, "brokerAddrs")) {
                cJSON *row = cJSON_CreateObject(), *t = NULL;
                cJSON_AddStringToObject(row, "cluster", cl->string);
                cJSON_AddStringToObject(row, "brokerName", bn->valuestring);
                cJSON_AddItemToObject(row, "brokerId", N(atoll(ad->string)));
                cJSON_AddStringToObject(row, "addr", ad->valuestring);
                if (cJSON_IsString(ad) && runtime_info(a, ad->valuestring, &t) == 0) {
                    cJSON_AddStringToObject(row, "version",
                                            adm_json_str(t, "brokerVersionDesc", "-"));
                    cJSON_AddItemToObject(row, "inTps", N(first_tps(t, "putTps")));
                    double out = first_tps(t, "getTransferedTps");
                    if (out == 0.0) out = first_tps(t, "getTransferredTps");
                    cJSON_AddItemToObject(row, "outTps", N(out));
                    int64_t put = atoll(adm_json_str(t, "msgPutTotalTodayNow", "0")) -
                                  atoll(adm_json_str(t, "msgPutTotalTodayMorning", "0"));
                    int64_t get = atoll(adm_json_str(t, "msgGetTotalTodayNow", "0")) -
                                  atoll(adm_json_str(t, "msgGetTotalTodayMorning", "0"));
                    cJSON_AddItemToObject(row, "putToday", N(put));
                    cJSON_AddItemToObject(row, "getToday", N(get));
                    cJSON_AddStringToObject(row, "status", "ok");
                } else {
                    cJSON_AddStringToObject(row, "status", "unreachable");
                }
                cJSON_Delete(t);
                cJSON_AddItemToArray(rows, row);
            }
        }
    }
    static const adm_col_t cols[] = {{"cluster", "CLUSTER"}, {"brokerName", "BROKER"},
                                     {"brokerId", "BID"}, {"addr", "ADDR"},
                                     {"version", "VERSION"}, {"inTps", "IN_TPS"},
                                     {"outTps", "OUT_TPS"}, {"putToday", "PUT_TODAY"},
                                     {"getToday", "GET_TODAY"}, {"status", "STATUS"}};
    out_rows(a, rows, rows, cols, 10);
    cJSON_Delete(rows);
    cJSON_Delete(info);
    return 0;
}

/* Prints an object of string values as KEY/VALUE table(s), or JSON keyed by broker. */
static void print_kv(adm_t *a, cJSON *by_broker) {
    if (a->json) {
        adm_json_print(by_broker);
        return;
    }
    cJSON *b;
    int multi = cJSON_GetArraySize(by_broker) > 1;
    cJSON_ArrayForEach(b, by_broker) {
        if (multi) printf("== %s\n", b->string);
        int n = cJSON_GetArraySize(b), k = 0;
        const char **keys = xcalloc((size_t)n + 1, sizeof(char *));
        cJSON *e;
        cJSON_ArrayForEach(e, b) keys[k++] = e->string;
        qsort(keys, (size_t)k, sizeof(char *), cmp_str);
        cJSON *rows = cJSON_CreateArray();
        for (int i = 0; i < k; i++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "k", keys[i]);
            cJSON_AddItemToObject(row, "v",
                                  cJSON_CreateString(adm_json_str(b, keys[i], "")));
            cJSON_AddItemToArray(rows, row);
        }
        static const adm_col_t cols[] = {{"k", "KEY"}, {"v", "VALUE"}};
        adm_table(stdout, rows, cols, 2);
        cJSON_Delete(rows);
        free(keys);
    }
}

static int cmd_broker_status(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    cJSON *all = cJSON_CreateObject();
    for (int i = 0; i < n && !rc; i++) {
        cJSON *t;
        rc = runtime_info(a, addrs[i], &t);
        if (!rc) cJSON_AddItemToObject(all, addrs[i], t);
    }
    if (!rc) print_kv(a, all);
    cJSON_Delete(all);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static cJSON *parse_properties(const uint8_t *p, size_t n) {
    cJSON *o = cJSON_CreateObject();
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && p[e] != '\n') e++;
        const uint8_t *eq = memchr(p + i, '=', e - i);
        if (eq && p[i] != '#') {
            char k[256], v[2048];
            size_t vl = (size_t)(p + e - eq - 1);
            if (vl && eq[vl] == '\r') vl--;
            snprintf(k, sizeof k, "%.*s", (int)(eq - (p + i)), (const char *)p + i);
            snprintf(v, sizeof v, "%.*s", (int)vl, (const char *)eq + 1);
            cJSON_AddStringToObject(o, k, v);
        }
        i = e + 1;
    }
    return o;
}

static int cmd_get_broker_config(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    cJSON *all = cJSON_CreateObject();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *r;
        rc = adm_call_ok(a, addrs[i], GET_BROKER_CONFIG, NULL, NULL, 0, &r, "getBrokerConfig");
        if (rc) break;
        cJSON_AddItemToObject(all, addrs[i], parse_properties(r->cmd.body, r->cmd.body_len));
        rm_response_free(r);
    }
    if (!rc) print_kv(a, all);
    cJSON_Delete(all);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int cmd_update_broker_config(adm_t *a) {
    char **addrs, **names;
    int n, rc = adm_targets(a, &addrs, &names, &n);
    if (rc) return rc;
    buf_t body;
    buf_init(&body);
    buf_printf(&body, "%s=%s\n", a->opt['k'], a->opt['v']);
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < n && !rc; i++) {
        rm_response_t *r;
        rc = adm_call_ok(a, addrs[i], UPDATE_BROKER_CONFIG, NULL, body.data, (uint32_t)body.len,
                         &r, "updateBrokerConfig");
        if (rc) break;
        rm_response_free(r);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "broker", addrs[i]);
        cJSON_AddStringToObject(row, "key", a->opt['k']);
        cJSON_AddStringToObject(row, "value", a->opt['v']);
        cJSON_AddItemToArray(rows, row);
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"broker", "BROKER"}, {"key", "KEY"},
                                         {"value", "VALUE"}};
        out_rows(a, rows, rows, cols, 3);
    }
    buf_free(&body);
    cJSON_Delete(rows);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int cmd_wipe_write_perm(adm_t *a) {
    const char *ext[] = {"brokerName", a->opt['b'], NULL};
    return ns_each_print(a, WIPE_WRITE_PERM_OF_BROKER, ext, "wipeWritePerm", "wipeTopicCount",
                         "WIPED_TOPICS");
}

static int cmd_add_write_perm(adm_t *a) {
    const char *ext[] = {"brokerName", a->opt['b'], NULL};
    return ns_each_print(a, ADD_WRITE_PERM_OF_BROKER, ext, "addWritePerm", "addTopicCount",
                         "ADDED_TOPICS");
}

/* ---- KV config ----------------------------------------------------------- */

static int cmd_update_kv(adm_t *a) {
    const char *ext[] = {"namespace", a->opt['s'], "key", a->opt['k'], "value", a->opt['v'], NULL};
    return ns_each_print(a, PUT_KV_CONFIG, ext, "updateKvConfig", NULL, NULL);
}

static int cmd_delete_kv(adm_t *a) {
    const char *ext[] = {"namespace", a->opt['s'], "key", a->opt['k'], NULL};
    return ns_each_print(a, DELETE_KV_CONFIG, ext, "deleteKvConfig", NULL, NULL);
}

static int cmd_get_kv(adm_t *a) {
    const char *ext[] = {"namespace", a->opt['s'], "key", a->opt['k'], NULL};
    rm_response_t *r;
    int rc = adm_call_ns_ok(a, GET_KV_CONFIG, ext, NULL, 0, &r, "getKvConfig");
    if (rc) return rc;
    const char *v = rm_ext_get(&r->cmd, "value");
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "namespace", a->opt['s']);
        cJSON_AddStringToObject(o, "key", a->opt['k']);
        cJSON_AddStringToObject(o, "value", v ? v : "");
        adm_json_print(o);
        cJSON_Delete(o);
    } else {
        printf("%s\n", v ? v : "");
    }
    rm_response_free(r);
    return 0;
}

/* ---- consumers and producers ------------------------------------------- */

/* Brokers to ask about a group: -b, the route of -t, or every master. */
static int group_brokers(adm_t *a, char ***addrs, char ***names, int *n) {
    if (a->opt['b'] || a->opt['c']) return adm_targets(a, addrs, names, n);
    cJSON *info;
    int rc = adm_cluster_info(a, &info);
    if (rc) return rc;
    *n = adm_cluster_masters(info, NULL, addrs, names);
    cJSON_Delete(info);
    if (*n == 0) {
        fprintf(stderr, "no broker registered on the NameServer %s\n", a->ns);
        return ADM_ENOTFOUND;
    }
    return 0;
}

/* GET_CONSUME_STATS of group (and topic) on every broker of addrs; quiet unless all fail. */
static int consume_stats(adm_t *a, char **addrs, int n, const char *group, const char *topic,
                         int quiet, cJSON *bodies, qrow_t **q, int *nq, int *cap, double *tps) {
    int ok = 0, last_rc = ADM_ENOTFOUND;
    rm_response_t *last_fail = NULL;
    for (int i = 0; i < n; i++) {
        const char *ext[] = {"consumerGroup", group, topic ? "topic" : NULL, topic, NULL};
        rm_response_t *r;
        int rc = adm_call(a, addrs[i], GET_CONSUME_STATS, ext, NULL, 0, &r);
        if (rc) {
            last_rc = rc;
            continue;
        }
        if (r->cmd.code != SUCCESS) {
            rm_response_free(last_fail);
            last_fail = r;
            continue;
        }
        cJSON *b = adm_json_parse(r->cmd.body, r->cmd.body_len);
        rm_response_free(r);
        if (!b) continue;
        ok++;
        double t = cJSON_GetNumberValue(cJSON_GetObjectItem(b, "consumeTps"));
        if (t > 0) *tps += t;
        cJSON_AddItemToArray(bodies, b);
        mq_table(cJSON_GetObjectItem(b, "offsetTable"), q, nq, cap);
    }
    if (!ok && last_fail) last_rc = quiet ? ADM_ENOTFOUND : adm_fail("consumerProgress", last_fail);
    rm_response_free(last_fail);
    return ok ? 0 : last_rc;
}

/* Without -g: one line per subscription group (mqadmin's overview). */
static int consumer_progress_all(adm_t *a, char **addrs, int n) {
    cJSON *groups = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        rm_response_t *r;
        if (adm_call_ok(a, addrs[i], GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, NULL, 0, &r,
                        "consumerProgress"))
            continue;
        cJSON *b = adm_json_parse(r->cmd.body, r->cmd.body_len), *g;
        rm_response_free(r);
        cJSON_ArrayForEach(g, cJSON_GetObjectItem(b, "subscriptionGroupTable")) {
            if (!cJSON_GetObjectItem(groups, g->string)) cJSON_AddTrueToObject(groups, g->string);
        }
        cJSON_Delete(b);
    }
    cJSON *g;
    cJSON_ArrayForEach(g, groups) {
        qrow_t *q = NULL;
        int nq = 0, cap = 0;
        double tps = 0;
        cJSON *bodies = cJSON_CreateArray();
        if (consume_stats(a, addrs, n, g->string, NULL, 1, bodies, &q, &nq, &cap, &tps) == 0 && nq) {
            int64_t diff = 0;
            for (int i = 0; i < nq; i++)
                diff += adm_json_i64(q[i].val, "brokerOffset", 0) -
                        adm_json_i64(q[i].val, "consumerOffset", 0);
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "group", g->string);
            cJSON_AddItemToObject(row, "queues", N(nq));
            cJSON_AddItemToObject(row, "consumeTps", N(tps));
            cJSON_AddItemToObject(row, "diffTotal", N(diff));
            cJSON_AddItemToArray(rows, row);
        }
        free(q);
        cJSON_Delete(bodies);
    }
    static const adm_col_t cols[] = {{"group", "GROUP"}, {"queues", "QUEUES"},
                                     {"consumeTps", "TPS"}, {"diffTotal", "DIFF_TOTAL"}};
    out_rows(a, rows, rows, cols, 4);
    cJSON_Delete(rows);
    cJSON_Delete(groups);
    return 0;
}

static int cmd_consumer_progress(adm_t *a) {
    char **addrs, **names;
    int n, rc = group_brokers(a, &addrs, &names, &n);
    if (rc) return rc;
    if (!a->opt['g']) {
        rc = consumer_progress_all(a, addrs, n);
        adm_free_strv(addrs, n);
        adm_free_strv(names, n);
        return rc;
    }
    qrow_t *q = NULL;
    int nq = 0, cap = 0;
    double tps = 0;
    cJSON *bodies = cJSON_CreateArray();
    rc = consume_stats(a, addrs, n, a->opt['g'], a->opt['t'], 0, bodies, &q, &nq, &cap, &tps);
    int ok = rc == 0;
    if (ok) {
        qsort(q, (size_t)nq, sizeof *q, cmp_qrow);
        cJSON *rows = cJSON_CreateArray();
        int64_t diff_total = 0;
        for (int i = 0; i < nq; i++) {
            cJSON *row = cJSON_CreateObject();
            int64_t bo = adm_json_i64(q[i].val, "brokerOffset", 0);
            int64_t co = adm_json_i64(q[i].val, "consumerOffset", 0);
            cJSON_AddStringToObject(row, "topic", q[i].topic);
            cJSON_AddStringToObject(row, "brokerName", q[i].broker);
            cJSON_AddItemToObject(row, "queueId", N(q[i].qid));
            cJSON_AddItemToObject(row, "brokerOffset", N(bo));
            cJSON_AddItemToObject(row, "consumerOffset", N(co));
            cJSON_AddItemToObject(row, "lag", N(bo - co));
            cJSON_AddItemToObject(row, "lastTimestamp",
                                  N(adm_json_i64(q[i].val, "lastTimestamp", 0)));
            diff_total += bo - co;
            cJSON_AddItemToArray(rows, row);
        }
        if (a->json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "group", a->opt['g']);
            cJSON_AddItemToObject(doc, "consumeTps", N(tps));
            cJSON_AddItemToObject(doc, "diffTotal", N(diff_total));
            cJSON_AddItemToObject(doc, "queues", rows);
            adm_json_print(doc);
            cJSON_Delete(doc);
        } else {
            static const adm_col_t cols[] = {{"topic", "TOPIC"}, {"brokerName", "BROKER"},
                                             {"queueId", "QID"},
                                             {"brokerOffset", "BROKER_OFFSET"},
                                             {"consumerOffset", "CONSUMER_OFFSET"},
                                             {"lag", "LAG"}, {"lastTimestamp", "LAST_TIME"}};
            adm_table(stdout, rows, cols, 7);
            printf("\nConsume TPS: %.2f\nDiff Total: %" PRId64 "\n", tps, diff_total);
            cJSON_Delete(rows);
        }
    }
    free(q);
    cJSON_Delete(bodies);
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static cJSON *conn_rows(cJSON *set) {
    cJSON *rows = cJSON_CreateArray(), *c;
    cJSON_ArrayForEach(c, set) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "clientId", adm_json_str(c, "clientId", ""));
        cJSON_AddStringToObject(row, "clientAddr", adm_json_str(c, "clientAddr", ""));
        cJSON_AddStringToObject(row, "language", adm_json_str(c, "language", ""));
        cJSON_AddItemToObject(row, "version", N(adm_json_i64(c, "version", 0)));
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

static const adm_col_t conn_cols[] = {{"clientId", "CLIENT_ID"}, {"clientAddr", "CLIENT_ADDR"},
                                      {"language", "LANGUAGE"}, {"version", "VERSION"}};

/* Asks each broker in turn; the first SUCCESS wins. */
static int first_success(adm_t *a, char **addrs, int n, int code, const char *const *ext,
                         const char *what, cJSON **body) {
    int last = ADM_ENOTFOUND;
    *body = NULL;
    for (int i = 0; i < n; i++) {
        rm_response_t *r;
        int rc = adm_call(a, addrs[i], code, ext, NULL, 0, &r);
        if (rc) {
            last = rc;
            continue;
        }
        if (r->cmd.code == SUCCESS) {
            *body = adm_json_parse(r->cmd.body, r->cmd.body_len);
            rm_response_free(r);
            if (!*body) {
                fprintf(stderr, "%s: undecodable body from %s\n", what, addrs[i]);
                return ADM_EPROTO;
            }
            return 0;
        }
        if (i == n - 1) last = adm_fail(what, r);
        rm_response_free(r);
    }
    return last;
}

static int cmd_consumer_connection(adm_t *a) {
    char **addrs, **names;
    int n, rc = group_brokers(a, &addrs, &names, &n);
    if (rc) return rc;
    const char *ext[] = {"consumerGroup", a->opt['g'], NULL};
    cJSON *b;
    rc = first_success(a, addrs, n, GET_CONSUMER_CONNECTION_LIST, ext, "consumerConnection", &b);
    if (!rc) {
        if (a->json) {
            adm_json_print(b);
        } else {
            cJSON *rows = conn_rows(cJSON_GetObjectItem(b, "connectionSet"));
            adm_table(stdout, rows, conn_cols, 4);
            cJSON_Delete(rows);
            rows = cJSON_CreateArray();
            cJSON *s;
            cJSON_ArrayForEach(s, cJSON_GetObjectItem(b, "subscriptionTable")) {
                cJSON *row = cJSON_CreateObject();
                cJSON_AddStringToObject(row, "topic", s->string);
                cJSON_AddStringToObject(row, "sub", adm_json_str(s, "subString", ""));
                cJSON_AddItemToArray(rows, row);
            }
            printf("\n");
            static const adm_col_t scols[] = {{"topic", "TOPIC"}, {"sub", "SUB_EXPRESSION"}};
            adm_table(stdout, rows, scols, 2);
            cJSON_Delete(rows);
            printf("\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n",
                   adm_json_str(b, "consumeType", "-"), adm_json_str(b, "messageModel", "-"),
                   adm_json_str(b, "consumeFromWhere", "-"));
        }
        cJSON_Delete(b);
    }
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

static int topic_masters(adm_t *a, const char *topic, char ***addrs, char ***names, int *n) {
    cJSON *route;
    int rc = adm_route(a, topic, &route);
    if (rc) return rc;
    cJSON *bds = cJSON_GetObjectItem(route, "brokerDatas"), *bd;
    int cap = cJSON_GetArraySize(bds) + 1;
    *addrs = xcalloc((size_t)cap, sizeof(char *));
    *names = xcalloc((size_t)cap, sizeof(char *));
    *n = 0;
    cJSON_ArrayForEach(bd, bds) {
        const char *addr = adm_json_str(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        if (!addr) continue;
        (*addrs)[*n] = xstrdup(addr);
        (*names)[*n] = xstrdup(adm_json_str(bd, "brokerName", ""));
        (*n)++;
    }
    cJSON_Delete(route);
    if (*n == 0) {
        fprintf(stderr, "topic %s has no master broker online\n", topic);
        return ADM_ENOTFOUND;
    }
    return 0;
}

static int cmd_producer_connection(adm_t *a) {
    char **addrs, **names;
    int n, rc = a->opt['t'] ? topic_masters(a, a->opt['t'], &addrs, &names, &n)
                            : group_brokers(a, &addrs, &names, &n);
    if (rc) return rc;
    const char *ext[] = {"producerGroup", a->opt['g'], NULL};
    cJSON *b;
    rc = first_success(a, addrs, n, GET_PRODUCER_CONNECTION_LIST, ext, "producerConnection", &b);
    if (!rc) {
        cJSON *rows = conn_rows(cJSON_GetObjectItem(b, "connectionSet"));
        out_rows(a, a->json ? b : rows, rows, conn_cols, 4);
        cJSON_Delete(rows);
        cJSON_Delete(b);
    }
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    return rc;
}

/* ---- messages ---------------------------------------------------------- */

static void print_msg_detail(const adm_msg_t *m, int with_body) {
    cJSON *o = adm_msg_json(m, with_body);
    static const char *order[] = {"msgId", "offsetMsgId", "topic", "tags", "keys", "queueId",
                                  "queueOffset", "commitLogOffset", "reconsumeTimes",
                                  "bornTime", "storeTime", "bornHost", "storeHost", "sysFlag",
                                  "flag", "bodyLength", NULL};
    char cell[256];
    for (int i = 0; order[i]; i++) {
        cJSON *v = cJSON_GetObjectItem(o, order[i]);
        if (cJSON_IsString(v)) snprintf(cell, sizeof cell, "%s", v->valuestring);
        else snprintf(cell, sizeof cell, "%.0f", cJSON_GetNumberValue(v));
        printf("%-18s %s\n", order[i], cell);
    }
    cJSON *p;
    printf("%-18s", "properties");
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(o, "properties"))
        printf(" %s=%s", p->string, p->valuestring);
    printf("\n");
    if (with_body) {
        cJSON *b = cJSON_GetObjectItem(o, "body");
        if (!b) b = cJSON_GetObjectItem(o, "bodyHex");
        printf("%-18s %s\n", cJSON_GetObjectItem(o, "body") ? "body" : "bodyHex",
               b ? b->valuestring : "");
    }
    cJSON_Delete(o);
}

/* Prints the messages of one or more record bodies (detail view or JSON array). */
static int print_msgs(adm_t *a, rm_response_t **rs, int nr, const char *uniq_filter) {
    cJSON *arr = cJSON_CreateArray();
    int count = 0;
    for (int k = 0; k < nr; k++) {
        const uint8_t *p = rs[k]->cmd.body;
        size_t len = rs[k]->cmd.body_len, o = 0;
        adm_msg_t m;
        int sz;
        while (o < len && (sz = adm_msg_decode(p + o, len - o, &m)) > 0) {
            o += (size_t)sz;
            char u[128];
            if (uniq_filter && (adm_msg_prop(&m, "UNIQ_KEY", u, sizeof u) || strcmp(u, uniq_filter)))
                continue;
            if (a->json) cJSON_AddItemToArray(arr, adm_msg_json(&m, 1));
            else {
                if (count) printf("\n");
                print_msg_detail(&m, 1);
            }
            count++;
        }
    }
    if (a->json && count) adm_json_print(arr);
    cJSON_Delete(arr);
    return count;
}

static int cmd_query_msg_by_unique_key(adm_t *a);

static int cmd_query_msg_by_id(adm_t *a) {
    char addr[64];
    int64_t off;
    /* like mqadmin: with -t, an id that is not an offset id is tried as a client id */
    int bad = adm_decode_offset_msg_id(a->opt['i'], addr, sizeof addr, &off) != 0;
    const char *colon = strrchr(addr, ':');
    if (!bad && (!colon || atol(colon + 1) <= 0 || atol(colon + 1) > 65535)) bad = 1;
    if (bad && a->opt['t']) return cmd_query_msg_by_unique_key(a);
    if (bad) {
        fprintf(stderr, "queryMsgById: '%s' is not an offset message id (32 hex digits); "
                        "use queryMsgByUniqueKey for a client id\n", a->opt['i']);
        return ADM_EUSAGE;
    }
    char ob[32];
    const char *ext[] = {"offset", i2s(ob, off), NULL};
    rm_response_t *r;
    int rc = adm_call(a, addr, VIEW_MESSAGE_BY_ID, ext, NULL, 0, &r);
    if (rc && a->opt['t']) return cmd_query_msg_by_unique_key(a);
    if (rc) return rc;
    if (r->cmd.code != SUCCESS && a->opt['t']) {
        rm_response_free(r);
        return cmd_query_msg_by_unique_key(a);
    }
    if (r->cmd.code != SUCCESS) {
        fprintf(stderr, "message not found: %s (%s)\n", a->opt['i'],
                r->cmd.remark ? r->cmd.remark : "no remark");
        rm_response_free(r);
        return ADM_ENOTFOUND;
    }
    int c = print_msgs(a, &r, 1, NULL);
    rm_response_free(r);
    if (!c) {
        fprintf(stderr, "queryMsgById: undecodable message record\n");
        return ADM_EPROTO;
    }
    return 0;
}

/* QUERY_MESSAGE to every master of the topic; returns the SUCCESS responses. */
static int query_message(adm_t *a, const char *topic, const char *key, int uniq,
                         rm_response_t ***out, int *nout) {
    char **addrs, **names;
    int n, rc = topic_masters(a, topic, &addrs, &names, &n);
    if (rc) return rc;
    char maxs[16], bs[32], es[32];
    int64_t begin = a->opt['b'] ? adm_parse_time(a->opt['b']) : 0;
    int64_t end = a->opt['e'] ? adm_parse_time(a->opt['e']) : INT64_MAX;
    snprintf(maxs, sizeof maxs, "%d", a->opt['c'] ? atoi(a->opt['c']) : 64);
    const char *ext[] = {"topic", topic, "key", key, "maxNum", maxs, "beginTimestamp",
                         i2s(bs, begin), "endTimestamp", i2s(es, end),
                         uniq ? "_UNIQUE_KEY_QUERY" : NULL, "true", NULL};
    *out = xcalloc((size_t)n, sizeof(rm_response_t *));
    *nout = 0;
    int reached = 0;
    for (int i = 0; i < n; i++) {
        rm_response_t *r;
        if (adm_call(a, addrs[i], QUERY_MESSAGE, ext, NULL, 0, &r)) continue;
        reached++;
        if (r->cmd.code == SUCCESS && r->cmd.body_len) (*out)[(*nout)++] = r;
        else rm_response_free(r);
    }
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    if (!reached) return ADM_EUNREACHABLE;
    if (!*nout) {
        fprintf(stderr, "message not found: topic %s %s %s\n", topic, uniq ? "msgId" : "key", key);
        return ADM_ENOTFOUND;
    }
    return 0;
}

static int cmd_query_msg_by_key(adm_t *a) {
    rm_response_t **rs = NULL;
    int nr = 0, rc = query_message(a, a->opt['t'], a->opt['k'], 0, &rs, &nr);
    if (!rc) {
        cJSON *rows = cJSON_CreateArray();
        for (int k = 0; k < nr; k++) {
            size_t o = 0;
            adm_msg_t m;
            int sz;
            while (o < rs[k]->cmd.body_len &&
                   (sz = adm_msg_decode(rs[k]->cmd.body + o, rs[k]->cmd.body_len - o, &m)) > 0) {
                o += (size_t)sz;
                cJSON_AddItemToArray(rows, adm_msg_json(&m, a->json));
            }
        }
        static const adm_col_t cols[] = {{"msgId", "MSG_ID"}, {"offsetMsgId", "OFFSET_MSG_ID"},
                                         {"queueId", "QID"}, {"queueOffset", "OFFSET"},
                                         {"storeTime", "STORE_TIME"}, {"keys", "KEYS"}};
        out_rows(a, rows, rows, cols, 6);
        cJSON_Delete(rows);
    }
    for (int k = 0; k < nr; k++) rm_response_free(rs[k]);
    free(rs);
    return rc;
}

static int cmd_query_msg_by_unique_key(adm_t *a) {
    rm_response_t **rs = NULL;
    int nr = 0, rc = query_message(a, a->opt['t'], a->opt['i'], 1, &rs, &nr);
    if (!rc && print_msgs(a, rs, nr, a->opt['i']) == 0) {
        fprintf(stderr, "message not found: topic %s msgId %s\n", a->opt['t'], a->opt['i']);
        rc = ADM_ENOTFOUND;
    }
    for (int k = 0; k < nr; k++) rm_response_free(rs[k]);
    free(rs);
    return rc;
}

static int pull(adm_t *a, const char *addr, const char *group, const char *topic, int qid,
                int64_t offset, int max, const char *sub, rm_response_t **r) {
    char qs[16], os[32], ms[16];
    snprintf(qs, sizeof qs, "%d", qid);
    snprintf(ms, sizeof ms, "%d", max);
    const char *ext[] = {"consumerGroup", group, "topic", topic, "queueId", qs, "queueOffset",
                         i2s(os, offset), "maxMsgNums", ms, "sysFlag", "4", "commitOffset", "0",
                         "suspendTimeoutMillis", "0", "subscription", sub ? sub : "*",
                         "subVersion", "0", "expressionType", "TAG", NULL};
    return adm_call(a, addr, PULL_MESSAGE, ext, NULL, 0, r);
}

static int offset_call(adm_t *a, const char *addr, int code, const char *topic, int qid,
                       int64_t ts, int64_t *out) {
    char qs[16], tsb[32];
    snprintf(qs, sizeof qs, "%d", qid);
    const char *ext[] = {"topic", topic, "queueId", qs, code == SEARCH_OFFSET_BY_TIMESTAMP ?
                         "timestamp" : NULL, i2s(tsb, ts), NULL};
    rm_response_t *r;
    int rc = adm_call_ok(a, addr, code, ext, NULL, 0, &r, "offset query");
    if (rc) return rc;
    const char *v = rm_ext_get(&r->cmd, "offset");
    *out = v ? atoll(v) : 0;
    rm_response_free(r);
    return 0;
}

static int cmd_query_msg_by_offset(adm_t *a) {
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    const char *addr = adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), a->opt['b']);
    if (!addr) {
        fprintf(stderr, "broker not found in the route of %s: %s\n", a->opt['t'], a->opt['b']);
        cJSON_Delete(route);
        return ADM_ENOTFOUND;
    }
    rm_response_t *r;
    rc = pull(a, addr, TOOLS_GROUP, a->opt['t'], atoi(a->opt['i']), atoll(a->opt['o']), 1, NULL,
              &r);
    cJSON_Delete(route);
    if (rc) return rc;
    if (r->cmd.code != SUCCESS || print_msgs(a, &r, 1, NULL) == 0) {
        fprintf(stderr, "message not found: %s %s queue %s offset %s (%s)\n", a->opt['t'],
                a->opt['b'], a->opt['i'], a->opt['o'],
                r->cmd.remark ? r->cmd.remark : "no message");
        rc = ADM_ENOTFOUND;
    }
    rm_response_free(r);
    return rc;
}

/*
 * printMsg / consumeMessage: pull messages of every readable queue (or of -b/-i)
 * from [begin, end) offsets, at most `limit` messages in total.
 */
static int dump_messages(adm_t *a, const char *group, int64_t limit, int with_body) {
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    cJSON *rows = cJSON_CreateArray(), *qd;
    int64_t count = 0;
    int64_t t_begin = a->opt['s'] ? adm_parse_time(a->opt['s']) : -1;
    int64_t t_end = a->opt['e'] ? adm_parse_time(a->opt['e']) : -1;
    if (!strcmp(a->sub, "printMsg")) {
        t_begin = a->opt['b'] ? adm_parse_time(a->opt['b']) : -1;
        t_end = a->opt['e'] ? adm_parse_time(a->opt['e']) : -1;
    }
    const char *only_broker = strcmp(a->sub, "printMsg") ? a->opt['b'] : NULL;
    cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
        const char *bn = adm_json_str(qd, "brokerName", "");
        if (only_broker && strcmp(only_broker, bn)) continue;
        const char *addr = adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), bn);
        if (!addr) continue;
        int nq = (int)adm_json_i64(qd, "readQueueNums", 0);
        for (int q = 0; q < nq && count < limit && !rc; q++) {
            if (a->opt['i'] && strcmp(a->sub, "printMsg") && atoi(a->opt['i']) != q) continue;
            int64_t lo, hi;
            if ((rc = offset_call(a, addr, GET_MIN_OFFSET, a->opt['t'], q, 0, &lo))) break;
            if ((rc = offset_call(a, addr, GET_MAX_OFFSET, a->opt['t'], q, 0, &hi))) break;
            if (t_begin >= 0 &&
                (rc = offset_call(a, addr, SEARCH_OFFSET_BY_TIMESTAMP, a->opt['t'], q, t_begin, &lo)))
                break;
            if (t_end >= 0 &&
                (rc = offset_call(a, addr, SEARCH_OFFSET_BY_TIMESTAMP, a->opt['t'], q, t_end, &hi)))
                break;
            if (a->opt['o'] && strcmp(a->sub, "printMsg")) lo = atoll(a->opt['o']);
            int64_t off = lo;
            while (off < hi && count < limit) {
                rm_response_t *r;
                if ((rc = pull(a, addr, group, a->opt['t'], q, off, 32, NULL, &r))) break;
                if (r->cmd.code != SUCCESS) {
                    const char *nb = rm_ext_get(&r->cmd, "nextBeginOffset");
                    int64_t next = nb ? atoll(nb) : hi;
                    rm_response_free(r);
                    if (next <= off) break;
                    off = next;
                    continue;
                }
                size_t o = 0;
                adm_msg_t m;
                int sz;
                while (o < r->cmd.body_len && count < limit &&
                       (sz = adm_msg_decode(r->cmd.body + o, r->cmd.body_len - o, &m)) > 0) {
                    o += (size_t)sz;
                    if (m.queue_offset >= hi) break;
                    cJSON *mj = adm_msg_json(&m, with_body);
                    cJSON_AddStringToObject(mj, "brokerName", bn);
                    cJSON_AddItemToArray(rows, mj);
                    count++;
                }
                const char *nb = rm_ext_get(&r->cmd, "nextBeginOffset");
                int64_t next = nb ? atoll(nb) : off + 1;
                rm_response_free(r);
                if (next <= off) break;
                off = next;
            }
        }
        if (rc) break;
    }
    if (!rc) {
        if (a->json) {
            adm_json_print(rows);
        } else {
            cJSON *row;
            cJSON_ArrayForEach(row, rows) {
                cJSON *b = cJSON_GetObjectItem(row, "body");
                if (!b) b = cJSON_GetObjectItem(row, "bodyHex");
                if (b && strlen(b->valuestring) > 100) strcpy(b->valuestring + 97, "...");
            }
            static const adm_col_t cols[] = {{"msgId", "MSG_ID"}, {"brokerName", "BROKER"},
                                             {"queueId", "QID"}, {"queueOffset", "OFFSET"},
                                             {"storeTime", "STORE_TIME"}, {"tags", "TAGS"},
                                             {"keys", "KEYS"}, {"body", "BODY"}};
            adm_table(stdout, rows, cols, with_body ? 8 : 7);
        }
    }
    cJSON_Delete(rows);
    cJSON_Delete(route);
    return rc;
}

/* mqadmin queryMsgTraceById: the trace records of a message (RMQ_SYS_TRACE_TOPIC format),
 * read and printed by the console's trace reader. */
static int cmd_query_msg_trace(adm_t *a) {
    return console_query_trace(a->ns, a->opt['i'], a->opt['t'], stdout);
}

static int cmd_print_msg(adm_t *a) {
    return dump_messages(a, TOOLS_GROUP, a->opt['l'] ? atoll(a->opt['l']) : 10000,
                         adm_str_bool(a->opt['d'], 1));
}

static int cmd_consume_message(adm_t *a) {
    return dump_messages(a, a->opt['g'] ? a->opt['g'] : TOOLS_GROUP,
                         a->opt['c'] ? atoll(a->opt['c']) : 128, 1);
}

static void uniq_id(char out[33]) {
    static uint16_t counter;
    static const char hx[] = "0123456789ABCDEF";
    uint8_t b[16];
    be32_put(b, 0x7F000001u);
    be16_put(b + 4, (uint16_t)getpid());
    be32_put(b + 6, (uint32_t)rand());
    be32_put(b + 10, (uint32_t)(now_ms() & 0x7FFFFFFF));
    be16_put(b + 14, counter++);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[32] = 0;
}

static int cmd_send_message(adm_t *a) {
    cJSON *route;
    /* like the Java producer: an unknown topic is sent through TBW102's brokers, which
     * create it when autoCreateTopicEnable is on */
    const char *rext[] = {"topic", a->opt['t'], NULL};
    rm_response_t *rr;
    int rc = adm_call_ns(a, GET_ROUTEINFO_BY_TOPIC, rext, NULL, 0, &rr);
    if (rc) return rc;
    int unknown = rr->cmd.code == TOPIC_NOT_EXIST;
    rm_response_free(rr);
    rc = adm_route(a, unknown ? "TBW102" : a->opt['t'], &route);
    if (rc == ADM_ENOTFOUND && unknown)
        fprintf(stderr, "topic not found: %s (and no broker allows auto-creation)\n", a->opt['t']);
    if (rc) return rc;
    const char *bn = a->opt['b'], *addr = NULL;
    cJSON *qd;
    if (!bn) {
        cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
            if ((adm_json_i64(qd, "perm", 0) & 2) == 0) continue;
            bn = adm_json_str(qd, "brokerName", NULL);
            if (bn && adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), bn)) break;
            bn = NULL;
        }
    }
    if (bn) addr = adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), bn);
    if (!addr) {
        fprintf(stderr, "sendMessage: no writable master broker for topic %s\n", a->opt['t']);
        cJSON_Delete(route);
        return ADM_ENOTFOUND;
    }
    char uniq[33], born[32], props[1024];
    uniq_id(uniq);
    int pl = 0;
    if (a->opt['k']) pl += snprintf(props + pl, sizeof props - (size_t)pl, "KEYS\001%s\002", a->opt['k']);
    if (a->opt['c']) pl += snprintf(props + pl, sizeof props - (size_t)pl, "TAGS\001%s\002", a->opt['c']);
    snprintf(props + pl, sizeof props - (size_t)pl, "UNIQ_KEY\001%s\002WAIT\001true\002", uniq);
    const char *ext[] = {"a", "PETREL_ADMIN_PRODUCER", "b", a->opt['t'], "c", "TBW102", "d", "4",
                         "e", a->opt['i'] ? a->opt['i'] : "-1", "f", "0", "g",
                         i2s(born, now_ms()), "h", "0", "i", props, "j", "0", "k", "false",
                         "m", "false", NULL};
    rm_response_t *r;
    rc = adm_call_ok(a, addr, SEND_MESSAGE_V2, ext, a->opt['p'], (uint32_t)strlen(a->opt['p']),
                     &r, "sendMessage");
    if (!rc) {
        cJSON *row = cJSON_CreateObject(), *rows = cJSON_CreateArray();
        cJSON_AddStringToObject(row, "brokerName", bn);
        cJSON_AddItemToObject(row, "queueId", N(atoi(rm_ext_get(&r->cmd, "queueId") ?: "-1")));
        cJSON_AddItemToObject(row, "queueOffset",
                              N(atoll(rm_ext_get(&r->cmd, "queueOffset") ?: "-1")));
        cJSON_AddStringToObject(row, "sendStatus", "SEND_OK");
        cJSON_AddStringToObject(row, "msgId", uniq);
        cJSON_AddStringToObject(row, "offsetMsgId", rm_ext_get(&r->cmd, "msgId") ?: "");
        cJSON_AddItemToArray(rows, row);
        static const adm_col_t cols[] = {{"brokerName", "BROKER"}, {"queueId", "QID"},
                                         {"queueOffset", "OFFSET"}, {"sendStatus", "STATUS"},
                                         {"msgId", "MSG_ID"}, {"offsetMsgId", "OFFSET_MSG_ID"}};
        out_rows(a, row, rows, cols, 6);
        cJSON_Delete(rows);
        rm_response_free(r);
    }
    cJSON_Delete(route);
    return rc;
}

/* The old way (no consumer online): per queue, search by time and store the offset. */
static int reset_offline(adm_t *a, const char *addr, const char *bn, int nq, int64_t ts,
                         cJSON *rows) {
    for (int q = 0; q < nq; q++) {
        int64_t off;
        int rc = ts < 0 ? offset_call(a, addr, GET_MAX_OFFSET, a->opt['t'], q, 0, &off)
                        : offset_call(a, addr, SEARCH_OFFSET_BY_TIMESTAMP, a->opt['t'], q, ts,
                                      &off);
        if (rc) return rc;
        char qs[16], os[32];
        snprintf(qs, sizeof qs, "%d", q);
        const char *ext[] = {"consumerGroup", a->opt['g'], "topic", a->opt['t'], "queueId", qs,
                             "commitOffset", i2s(os, off), NULL};
        rm_response_t *r;
        rc = adm_call_ok(a, addr, UPDATE_CONSUMER_OFFSET, ext, NULL, 0, &r, "resetOffsetByTime");
        if (rc) return rc;
        rm_response_free(r);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "brokerName", bn);
        cJSON_AddItemToObject(row, "queueId", N(q));
        cJSON_AddItemToObject(row, "offset", N(off));
        cJSON_AddItemToArray(rows, row);
    }
    return 0;
}

static int cmd_reset_offset_by_time(adm_t *a) {
    int64_t ts = adm_parse_time(a->opt['s']);
    if (ts < 0 && strcmp(a->opt['s'], "-1")) {
        fprintf(stderr, "resetOffsetByTime: bad -s '%s' (ms, 'now' or yyyy-MM-dd#HH:mm:ss:SSS)\n",
                a->opt['s']);
        return ADM_EUSAGE;
    }
    cJSON *route;
    int rc = adm_route(a, a->opt['t'], &route);
    if (rc) return rc;
    cJSON *rows = cJSON_CreateArray(), *qd;
    char tsb[32];
    const char *ext[] = {"group", a->opt['g'], "topic", a->opt['t'], "timestamp", i2s(tsb, ts),
                         "isForce", adm_str_bool(a->opt['f'], 1) ? "true" : "false", NULL};
    cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
        const char *bn = adm_json_str(qd, "brokerName", "");
        const char *addr = adm_master_addr(cJSON_GetObjectItem(route, "brokerDatas"), bn);
        if (!addr) continue;
        rm_response_t *r;
        if ((rc = adm_call(a, addr, INVOKE_BROKER_TO_RESET_OFFSET, ext, NULL, 0, &r))) break;
        /* No consumer online, or (Java) no offsets stored yet: set the offsets directly. */
        if (r->cmd.code == CONSUMER_NOT_ONLINE ||
            (r->cmd.code == SYSTEM_ERROR && r->cmd.remark && strstr(r->cmd.remark, "not exist"))) {
            rm_response_free(r);
            rc = reset_offline(a, addr, bn, (int)adm_json_i64(qd, "readQueueNums", 0), ts, rows);
            if (rc) break;
            continue;
        }
        if (r->cmd.code != SUCCESS) {
            rc = adm_fail("resetOffsetByTime", r);
            rm_response_free(r);
            break;
        }
        cJSON *b = adm_json_parse(r->cmd.body, r->cmd.body_len);
        rm_response_free(r);
        qrow_t *q = NULL;
        int nq = 0, cap = 0;
        mq_table(cJSON_GetObjectItem(b, "offsetTable"), &q, &nq, &cap);
        qsort(q, (size_t)nq, sizeof *q, cmp_qrow);
        for (int i = 0; i < nq; i++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "brokerName", q[i].broker);
            cJSON_AddItemToObject(row, "queueId", N(q[i].qid));
            cJSON_AddItemToObject(row, "offset", N(cJSON_GetNumberValue(q[i].val)));
            cJSON_AddItemToArray(rows, row);
        }
        free(q);
        cJSON_Delete(b);
    }
    if (!rc) {
        static const adm_col_t cols[] = {{"brokerName", "BROKER"}, {"queueId", "QID"},
                                         {"offset", "OFFSET"}};
        out_rows(a, rows, rows, cols, 3);
    }
    cJSON_Delete(rows);
    cJSON_Delete(route);
    return rc;
}

/* ---- the table --------------------------------------------------------- */

const adm_cmd_t adm_cmds[] = {
    {"updateTopic", cmd_update_topic, "bctrwpo", "t", "(-b addr | -c cluster) -t topic",
     "create or update a topic on a broker or every master of a cluster",
     "  -b <addr>   broker address\n  -c <name>   cluster name\n  -t <topic>  topic\n"
     "  -r <n>      read queue nums (8)\n  -w <n>      write queue nums (8)\n"
     "  -p <perm>   permission: 2 write, 4 read, 6 read+write (6)\n  -o <bool>   order (false)\n"},
    {"deleteTopic", cmd_delete_topic, "bct", "t", "(-c cluster | -b addr) -t topic",
     "delete a topic from brokers and its route from the NameServer(s)",
     "  -c <name>   cluster name\n  -b <addr>   broker address\n  -t <topic>  topic\n"},
    {"topicList", cmd_topic_list, "c", "", "[-c cluster]", "list topics known to the NameServer",
     "  -c <name>   only topics of this cluster\n"},
    {"topicRoute", cmd_topic_route, "t", "t", "-t topic", "show the route of a topic",
     "  -t <topic>  topic\n"},
    {"topicStatus", cmd_topic_status, "t", "t", "-t topic",
     "min/max offset and last update time of every queue of a topic", "  -t <topic>  topic\n"},
    {"topicClusterList", cmd_topic_cluster_list, "t", "t", "-t topic",
     "clusters that host a topic", "  -t <topic>  topic\n"},
    {"updateSubGroup", cmd_update_sub_group, "bcgsmdoqriwa", "g", "(-b addr | -c cluster) -g group",
     "create or update a subscription group",
     "  -b <addr>   broker address\n  -c <name>   cluster name\n  -g <group>  group name\n"
     "  -s <bool>   consume enable (true)\n  -m <bool>   consume from min enable (true)\n"
     "  -d <bool>   broadcast enable (true)\n  -o <bool>   orderly (false)\n"
     "  -q <n>      retry queue nums (1)\n  -r <n>      retry max times (16)\n"
     "  -i <id>     broker id to consume from (0)\n  -w <id>     broker id when slow (1)\n"
     "  -a <bool>   notify consumer ids changed (true)\n"},
    {"deleteSubGroup", cmd_delete_sub_group, "bcgr", "g", "(-b addr | -c cluster) -g group",
     "delete a subscription group",
     "  -b <addr>   broker address\n  -c <name>   cluster name\n  -g <group>  group\n"
     "  -r <bool>   also remove the group's offsets (false)\n"},
    {"clusterList", cmd_cluster_list, "c", "", "[-c cluster]",
     "brokers of every cluster with version and TPS", "  -c <name>   only this cluster\n"},
    {"brokerStatus", cmd_broker_status, "bc", "", "(-b addr | -c cluster)",
     "runtime statistics of a broker (GET_BROKER_RUNTIME_INFO)",
     "  -b <addr>   broker address\n  -c <name>   every master of a cluster\n"},
    {"getBrokerConfig", cmd_get_broker_config, "bc", "", "(-b addr | -c cluster)",
     "configuration of a broker", "  -b <addr>   broker address\n  -c <name>   cluster name\n"},
    {"updateBrokerConfig", cmd_update_broker_config, "bckv", "kv",
     "(-b addr | -c cluster) -k key -v value", "change one broker setting",
     "  -b <addr>   broker address\n  -c <name>   cluster name\n  -k <key>    setting\n"
     "  -v <value>  new value\n"},
    {"consumerProgress", cmd_consumer_progress, "gtbc", "", "[-g group [-t topic]]",
     "per-queue broker offset, consumer offset and lag of a group, with totals "
     "(without -g: one line per group)",
     "  -g <group>  consumer group\n  -t <topic>  only this topic\n"
     "  -b <addr>   only this broker\n  -c <name>   only this cluster\n"},
    {"consumerConnection", cmd_consumer_connection, "gbc", "g", "-g group",
     "online consumers of a group and their subscriptions",
     "  -g <group>  consumer group\n  -b <addr>   ask this broker\n"},
    {"producerConnection", cmd_producer_connection, "gtbc", "g", "-g group [-t topic]",
     "online producers of a group",
     "  -g <group>  producer group\n  -t <topic>  find brokers through this topic's route\n"
     "  -b <addr>   ask this broker\n"},
    {"queryMsgById", cmd_query_msg_by_id, "itg", "i", "-i offsetMsgId [-t topic]",
     "show a message by its offset message id",
     "  -i <id>     offset message id (32 hex)\n"
     "  -t <topic>  topic: also try -i as a client (UNIQ_KEY) id\n"},
    {"queryMsgByKey", cmd_query_msg_by_key, "tkbec", "tk", "-t topic -k key",
     "messages whose KEYS contain key",
     "  -t <topic>  topic\n  -k <key>    key\n  -b <time>   begin (ms, yyyy-MM-dd#HH:mm:ss:SSS)\n"
     "  -e <time>   end\n  -c <n>      max messages per broker (64)\n"},
    {"queryMsgByUniqueKey", cmd_query_msg_by_unique_key, "itgd", "it", "-i msgId -t topic",
     "show a message by its client (UNIQ_KEY) message id",
     "  -i <id>     unique message id\n  -t <topic>  topic\n"},
    {"queryMsgByOffset", cmd_query_msg_by_offset, "tbio", "tbio",
     "-t topic -b brokerName -i queueId -o offset", "show the message at a queue offset",
     "  -t <topic>  topic\n  -b <name>   broker name\n  -i <qid>    queue id\n"
     "  -o <off>    queue offset\n"},
    {"queryMsgTraceById", cmd_query_msg_trace, "it", "i", "-i msgId [-t traceTopic]",
     "show a message's trace: sent, stored, consumed by each group",
     "  -i <id>     message id (UNIQ_KEY)\n  -t <topic>  trace topic (RMQ_SYS_TRACE_TOPIC)\n"},
    {"printMsg", cmd_print_msg, "tbesdl", "t", "-t topic [-b begin] [-e end]",
     "print the messages of every queue of a topic",
     "  -t <topic>  topic\n  -b <time>   begin time\n  -e <time>   end time\n"
     "  -d <bool>   print bodies (true)\n  -l <n>      at most n messages (10000)\n"},
    {"resetOffsetByTime", cmd_reset_offset_by_time, "gtsf", "gts",
     "-g group -t topic -s timestamp", "reset a group's offsets to a point in time",
     "  -g <group>  consumer group\n  -t <topic>  topic\n"
     "  -s <time>   ms, 'now', -1 (latest) or yyyy-MM-dd#HH:mm:ss:SSS\n"
     "  -f <bool>   force, also move offsets forward (true)\n"},
    {"sendMessage", cmd_send_message, "tpkcbi", "tp", "-t topic -p body",
     "send one message",
     "  -t <topic>  topic\n  -p <body>   message body\n  -k <keys>   keys\n  -c <tag>    tag\n"
     "  -b <name>   broker name\n  -i <qid>    queue id\n"},
    {"consumeMessage", cmd_consume_message, "tbiogsec", "t", "-t topic [-b broker -i qid -o offset]",
     "pull and print messages without committing offsets",
     "  -t <topic>  topic\n  -b <name>   broker name\n  -i <qid>    queue id\n"
     "  -o <off>    start offset\n  -g <group>  consumer group (TOOLS_CONSUMER)\n"
     "  -s <time>   begin time\n  -e <time>   end time\n  -c <n>      message count (128)\n"},
    {"updateKvConfig", cmd_update_kv, "skv", "skv", "-s namespace -k key -v value",
     "set a KV config item on the NameServer(s)",
     "  -s <ns>     namespace\n  -k <key>    key\n  -v <value>  value\n"},
    {"deleteKvConfig", cmd_delete_kv, "sk", "sk", "-s namespace -k key",
     "delete a KV config item", "  -s <ns>     namespace\n  -k <key>    key\n"},
    {"getKvConfig", cmd_get_kv, "sk", "sk", "-s namespace -k key", "read a KV config item",
     "  -s <ns>     namespace\n  -k <key>    key\n"},
    {"wipeWritePerm", cmd_wipe_write_perm, "b", "b", "-b brokerName",
     "remove the write permission of a broker on the NameServer(s)",
     "  -b <name>   broker name\n"},
    {"addWritePerm", cmd_add_write_perm, "b", "b", "-b brokerName",
     "give a broker its write permission back", "  -b <name>   broker name\n"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
