/*
 * console: `petrel console`: the HTTP front (static pages, JSON API) and the
 * command line. The API handlers run on libmicrohttpd's per-connection
 * threads and make blocking remoting calls through one shared rm_client
 * (thread-safe). Bodies from Java brokers may use fastjson's non-string keys
 * (numbers, MessageQueue objects); json_fix_keys turns them into strings
 * before cJSON reads them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "console/console.h"
#include "metrics/metrics.h"
#include "remoting/remoting.h"

#define CALL_TIMEOUT_MS 5000
#define MAX_BROKERS 64
#define MAX_LIST 500
#define TOOLS_GROUP "TOOLS_CONSUMER"

typedef struct console_s {
    rm_client_t *cli;
    char namesrv[512];        /* "host:port;host:port" */
    pthread_mutex_t mu;       /* guards tps */
    cJSON *tps;               /* group -> {"t": ms, "sum": consumed} for TPS */
} console_t;

typedef struct broker_ref_s {
    char cluster[128], name[128], addr[128];
    int64_t id;
} broker_ref_t;

/* ---- fastjson keys ---- */

static size_t skip_string(const char *s, size_t n, size_t i) {
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

static size_t skip_balanced(const char *s, size_t n, size_t i) {
    int d = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, n, i);
            continue;
        }
        if (c == '{' || c == '[') d++;
        else if ((c == '}' || c == ']') && --d == 0) return i + 1;
        i++;
    }
    return n;
}

/* Rewrites every object key that is not a string (1, {"brokerName":..}) as a string. */
char *console_json_fix_keys(const char *s, size_t n) {
    buf_t o;
    buf_init(&o);
    char st[256];
    int depth = 0, expect = 0;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (depth > 0 && st[depth - 1] == '{' && expect && !isspace((unsigned char)c)) {
            expect = 0;
            if (c == '"') {
                size_t j = skip_string(s, n, i);
                buf_append(&o, s + i, j - i);
                i = j;
                continue;
            }
            if (c == '}') {
                depth--;
                buf_append(&o, "}", 1);
                i++;
                continue;
            }
            size_t j = i;
            if (c == '{' || c == '[') j = skip_balanced(s, n, i);
            else
                while (j < n && s[j] != ':' && !isspace((unsigned char)s[j])) j++;
            buf_json_str(&o, s + i, j - i);
            i = j;
            continue;
        }
        if (c == '"') {
            size_t j = skip_string(s, n, i);
            buf_append(&o, s + i, j - i);
            i = j;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth < (int)sizeof(st)) st[depth++] = c;
            expect = c == '{';
        } else if (c == '}' || c == ']') {
            if (depth > 0) depth--;
            expect = 0;
        } else if (c == ',') {
            expect = depth > 0 && st[depth - 1] == '{';
        }
        buf_append(&o, &c, 1);
        i++;
    }
    buf_put_u8(&o, 0);
    size_t len;
    return (char *)buf_steal(&o, &len);
}

static cJSON *parse_body(const rm_cmd_t *c) {
    if (!c->body_len) return NULL;
    char *t = console_json_fix_keys((const char *)c->body, c->body_len);
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

/* ---- remoting calls ---- */

static int call(console_t *cs, const char *addr, int code, const char *const *ext, const void *body,
                size_t len, rm_response_t **out, char *err, size_t errlen) {
    rm_request_t rq = {.code = code, .ext = ext, .body = body, .body_len = (uint32_t)len};
    int rc = rm_client_invoke_sync(cs->cli, addr, &rq, CALL_TIMEOUT_MS, out);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", addr, rm_strerror(rc));
        return -1;
    }
    return 0;
}

/* A call whose response must be SUCCESS; the response is freed unless out is given. */
static int call_ok(console_t *cs, const char *addr, int code, const char *const *ext,
                   const void *body, size_t len, rm_response_t **out, char *err, size_t errlen) {
    rm_response_t *r = NULL;
    if (call(cs, addr, code, ext, body, len, &r, err, errlen) != 0) return -1;
    if (r->cmd.code != SUCCESS) {
        snprintf(err, errlen, "%s: code %d: %s", addr, (int)r->cmd.code,
                 r->cmd.remark ? r->cmd.remark : "");
        rm_response_free(r);
        return -1;
    }
    if (out) *out = r;
    else rm_response_free(r);
    return 0;
}

static cJSON *call_json(console_t *cs, const char *addr, int code, const char *const *ext,
                        char *err, size_t errlen) {
    rm_response_t *r;
    if (call_ok(cs, addr, code, ext, NULL, 0, &r, err, errlen) != 0) return NULL;
    cJSON *j = parse_body(&r->cmd);
    rm_response_free(r);
    if (!j) snprintf(err, errlen, "%s: the response body is not JSON", addr);
    return j;
}

/* Asks each NameServer in turn. */
static cJSON *ns_json(console_t *cs, int code, const char *const *ext, char *err, size_t errlen) {
    char list[512];
    snprintf(list, sizeof(list), "%s", cs->namesrv);
    char *save = NULL;
    for (char *a = strtok_r(list, ";", &save); a; a = strtok_r(NULL, ";", &save)) {
        cJSON *j = call_json(cs, a, code, ext, err, errlen);
        if (j) return j;
    }
    return NULL;
}

static int ns_ok(console_t *cs, int code, const char *const *ext, char *err, size_t errlen) {
    char list[512];
    snprintf(list, sizeof(list), "%s", cs->namesrv);
    char *save = NULL;
    int ok = -1;
    for (char *a = strtok_r(list, ";", &save); a; a = strtok_r(NULL, ";", &save))
        if (call_ok(cs, a, code, ext, NULL, 0, NULL, err, errlen) == 0) ok = 0;
    return ok;
}

static const char *jstr(const cJSON *o, const char *k, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v && cJSON_IsString(v) ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (v && cJSON_IsNumber(v)) return v->valuedouble;
    if (v && cJSON_IsString(v)) return atof(v->valuestring);
    return def;
}

/* Every broker of the cluster info (masters first), optionally only masters. */
static int brokers(console_t *cs, broker_ref_t *out, int max, int masters_only, char *err,
                   size_t errlen) {
    cJSON *ci = ns_json(cs, GET_BROKER_CLUSTER_INFO, NULL, err, errlen);
    if (!ci) return -1;
    int n = 0;
    const cJSON *bt = cJSON_GetObjectItem(ci, "brokerAddrTable"), *bd;
    for (int pass = 0; pass < 2; pass++) {
        cJSON_ArrayForEach(bd, bt) {
            const cJSON *a;
            cJSON_ArrayForEach(a, cJSON_GetObjectItem(bd, "brokerAddrs")) {
                int64_t id = atoll(a->string);
                if ((pass == 0) != (id == 0) || !cJSON_IsString(a) || n >= max) continue;
                if (masters_only && id != 0) continue;
                broker_ref_t *b = &out[n++];
                snprintf(b->cluster, sizeof(b->cluster), "%s", jstr(bd, "cluster", ""));
                snprintf(b->name, sizeof(b->name), "%s", jstr(bd, "brokerName", bd->string));
                snprintf(b->addr, sizeof(b->addr), "%s", a->valuestring);
                b->id = id;
            }
        }
    }
    cJSON_Delete(ci);
    return n;
}

/* ---- messages ---- */

static int is_text(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return 0;
            i++;
            continue;
        }
        int k = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (k < 0) return 0;
        if (i + (size_t)k >= n) return 1; /* cut by the preview limit */
        for (int j = 1; j <= k; j++)
            if ((p[i + (size_t)j] & 0xc0) != 0x80) return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

static void host_str(const uint8_t *h, uint32_t hl, char *out, size_t n) {
    if (hl == 8) snprintf(out, n, "%u.%u.%u.%u:%d", h[0], h[1], h[2], h[3], record_host_port(h, hl));
    else snprintf(out, n, "[ipv6]:%d", record_host_port(h, hl));
}

/* One decoded record as JSON (body preview as text and hex). */
static cJSON *msg_json(const record_view_t *v, const char *broker) {
    cJSON *m = cJSON_CreateObject();
    char id[RECORD_MSGID_MAX_LEN + 1], host[64];
    record_msgid_encode_host(v->store_host, v->store_host_len, v->phys_offset, id);
    cJSON_AddStringToObject(m, "msgId", id);
    char topic[256];
    snprintf(topic, sizeof(topic), "%.*s", (int)v->topic_len, v->topic);
    cJSON_AddStringToObject(m, "topic", topic);
    if (broker) cJSON_AddStringToObject(m, "brokerName", broker);
    cJSON_AddNumberToObject(m, "queueId", v->queue_id);
    cJSON_AddNumberToObject(m, "queueOffset", (double)v->queue_offset);
    cJSON_AddNumberToObject(m, "commitLogOffset", (double)v->phys_offset);
    cJSON_AddNumberToObject(m, "storeTimestamp", (double)v->store_ts);
    cJSON_AddNumberToObject(m, "bornTimestamp", (double)v->born_ts);
    host_str(v->store_host, v->store_host_len, host, sizeof(host));
    cJSON_AddStringToObject(m, "storeHost", host);
    host_str(v->born_host, v->born_host_len, host, sizeof(host));
    cJSON_AddStringToObject(m, "bornHost", host);
    cJSON_AddNumberToObject(m, "reconsumeTimes", v->reconsume_times);
    cJSON_AddNumberToObject(m, "sysFlag", v->sys_flag);
    cJSON *props = cJSON_AddObjectToObject(m, "properties");
    msgprops_iter_t it;
    msgprops_iter_init(&it, v->props, v->props_len);
    const char *k, *val;
    size_t kl, vl;
    while (msgprops_next(&it, &k, &kl, &val, &vl)) {
        char kk[256];
        snprintf(kk, sizeof(kk), "%.*s", (int)kl, k);
        char *vv = xmalloc(vl + 1);
        memcpy(vv, val, vl);
        vv[vl] = 0;
        cJSON_AddStringToObject(props, kk, vv);
        free(vv);
    }
    cJSON_AddStringToObject(m, "keys", jstr(props, MSGPROP_KEYS, ""));
    cJSON_AddStringToObject(m, "tags", jstr(props, MSGPROP_TAGS, ""));
    cJSON_AddStringToObject(m, "uniqKey", jstr(props, MSGPROP_UNIQ_KEY, ""));
    cJSON_AddNumberToObject(m, "bodySize", v->body_len);
    int compressed = (v->sys_flag & MSG_SYSFLAG_COMPRESSED) != 0;
    cJSON_AddBoolToObject(m, "compressed", compressed);
    size_t tl = v->body_len < 65536 ? v->body_len : 65536;
    if (!compressed && is_text(v->body, tl)) {
        char *t = xmalloc(tl + 1);
        memcpy(t, v->body, tl);
        t[tl] = 0;
        cJSON_AddStringToObject(m, "bodyText", t);
        free(t);
    }
    size_t hl = v->body_len < 4096 ? v->body_len : 4096;
    char *hx = xmalloc(hl * 2 + 1);
    for (size_t i = 0; i < hl; i++) snprintf(hx + 2 * i, 3, "%02x", v->body[i]);
    hx[hl * 2] = 0;
    cJSON_AddStringToObject(m, "bodyHex", hx);
    free(hx);
    return m;
}

static void add_records(cJSON *arr, const rm_cmd_t *c, const char *broker) {
    size_t pos = 0;
    while (pos < c->body_len && cJSON_GetArraySize(arr) < MAX_LIST) {
        record_view_t v;
        if (record_decode(c->body + pos, c->body_len - pos, &v, 0) != RECORD_OK) break;
        cJSON_AddItemToArray(arr, msg_json(&v, broker));
        pos += v.total_size;
    }
}

/* ---- HTTP plumbing ---- */

static void reply_json(http_resp_t *resp, cJSON *j) {
    char *t = cJSON_PrintUnformatted(j);
    buf_append_str(&resp->body, t);
    free(t);
    cJSON_Delete(j);
    resp->ctype = "application/json";
}

static void reply_error(http_resp_t *resp, int status, const char *msg) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    buf_reset(&resp->body);
    reply_json(resp, j);
    resp->status = status;
}

static cJSON *req_json(const http_req_t *r) {
    return r->body_len ? cJSON_ParseWithLength((const char *)r->body, r->body_len) : NULL;
}

static const char *arg_or_body(const http_req_t *r, const cJSON *b, const char *k) {
    const char *v = http_arg(r, k);
    return v ? v : b ? jstr(b, k, NULL) : NULL;
}

static int valid_name(const char *s) {
    if (!s || !*s || strlen(s) > 127) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '%' && *s != '|')
            return 0;
    return 1;
}

/* ---- API: cluster ---- */

static void api_cluster(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    char err[512];
    broker_ref_t bs[MAX_BROKERS];
    int n = brokers(cs, bs, MAX_BROKERS, 0, err, sizeof(err));
    if (n < 0) {
        reply_error(resp, 502, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "namesrvAddr", cs->namesrv);
    cJSON *arr = cJSON_AddArrayToObject(out, "brokers");
    for (int i = 0; i < n; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "cluster", bs[i].cluster);
        cJSON_AddStringToObject(b, "brokerName", bs[i].name);
        cJSON_AddNumberToObject(b, "brokerId", (double)bs[i].id);
        cJSON_AddStringToObject(b, "addr", bs[i].addr);
        cJSON *rt = call_json(cs, bs[i].addr, GET_BROKER_RUNTIME_INFO, NULL, err, sizeof(err));
        if (rt) {
            cJSON *t = cJSON_DetachItemFromObject(rt, "table");
            cJSON_AddItemToObject(b, "runtime", t ? t : cJSON_CreateObject());
            cJSON_Delete(rt);
        } else {
            cJSON_AddStringToObject(b, "error", err);
        }
        cJSON_AddItemToArray(arr, b);
    }
    reply_json(resp, out);
}

/* ---- API: topics ---- */

static int is_system_topic(const char *t) {
    static const char *const pre[] = {"%RETRY%", "%DLQ%", "rmq_sys_", "RMQ_SYS_", "SCHEDULE_TOPIC",
                                      "TBW102", "BenchmarkTest", "OFFSET_MOVED_EVENT",
                                      "SELF_TEST_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC",
                                      "RMQ_SYS_TRANS"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(t, pre[i], strlen(pre[i])) == 0) return 1;
    size_t n = strlen(t);
    return n > 12 && strcmp(t + n - 12, "_REPLY_TOPIC") == 0;
}

static void api_topics(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    char err[512];
    cJSON *tl = ns_json(cs, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, NULL, err, sizeof(err));
    if (!tl) {
        reply_error(resp, 502, err);
        return;
    }
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "topics");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(tl, "topicList")) {
        if (!cJSON_IsString(t)) continue;
        int skip = 0; /* cluster and broker names are per-broker system topics */
        for (int i = 0; i < nb; i++)
            if (!strcmp(t->valuestring, bs[i].name) || !strcmp(t->valuestring, bs[i].cluster)) skip = 1;
        if (skip) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic", t->valuestring);
        cJSON_AddBoolToObject(o, "system", is_system_topic(t->valuestring));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_Delete(tl);
    reply_json(resp, out);
}

static int qkey_id(const char *key, char *broker, size_t bn) {
    cJSON *k = cJSON_Parse(key);
    int q = -1;
    if (k) {
        q = (int)jnum(k, "queueId", -1);
        if (broker) snprintf(broker, bn, "%s", jstr(k, "brokerName", ""));
        cJSON_Delete(k);
    }
    return q;
}

static void api_topic_get(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *topic = http_arg(r, "topic");
    char err[512];
    if (!valid_name(topic)) {
        reply_error(resp, 400, "topic is missing or not a valid name");
        return;
    }
    const char *ext[] = {"topic", topic, NULL};
    cJSON *route = ns_json(cs, GET_ROUTEINFO_BY_TOPIC, ext, err, sizeof(err));
    if (!route) {
        reply_error(resp, 404, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "topic", topic);
    cJSON *queues = cJSON_AddArrayToObject(out, "queues");
    cJSON *groups = cJSON_AddArrayToObject(out, "consumerGroups");
    const cJSON *bd;
    cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
        const char *addr = jstr(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        if (!addr) continue;
        cJSON *st = call_json(cs, addr, GET_TOPIC_STATS_INFO, ext, err, sizeof(err));
        const cJSON *e;
        if (st) {
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(st, "offsetTable")) {
                char bn[128];
                int q = qkey_id(e->string, bn, sizeof(bn));
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "brokerName", bn);
                cJSON_AddNumberToObject(o, "queueId", q);
                cJSON_AddNumberToObject(o, "minOffset", jnum(e, "minOffset", 0));
                cJSON_AddNumberToObject(o, "maxOffset", jnum(e, "maxOffset", 0));
                cJSON_AddNumberToObject(o, "lastUpdateTimestamp", jnum(e, "lastUpdateTimestamp", 0));
                cJSON_AddItemToArray(queues, o);
            }
            cJSON_Delete(st);
        }
        cJSON *who = call_json(cs, addr, QUERY_TOPIC_CONSUME_BY_WHO, ext, err, sizeof(err));
        if (who) {
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(who, "groupList")) {
                int dup = 0;
                const cJSON *g;
                cJSON_ArrayForEach(g, groups) if (!strcmp(g->valuestring, e->valuestring)) dup = 1;
                if (!dup && cJSON_IsString(e)) cJSON_AddItemToArray(groups, cJSON_CreateString(e->valuestring));
            }
            cJSON_Delete(who);
        }
    }
    cJSON_AddItemToObject(out, "route", route);
    reply_json(resp, out);
}

static void api_topic_put(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    cJSON *b = req_json(r);
    const char *topic = jstr(b, "topic", NULL);
    char err[512], rq[16], wq[16], perm[16];
    if (!valid_name(topic) || is_system_topic(topic)) {
        cJSON_Delete(b);
        reply_error(resp, 400, "topic must be 1-127 letters, digits, '-', '_' (not a system name)");
        return;
    }
    int n_rq = (int)jnum(b, "readQueueNums", 4), n_wq = (int)jnum(b, "writeQueueNums", n_rq);
    int p = (int)jnum(b, "perm", 6);
    if (n_rq < 1 || n_rq > 1024 || n_wq < 1 || n_wq > 1024 || (p & ~7)) {
        cJSON_Delete(b);
        reply_error(resp, 400, "queue counts must be 1..1024 and perm 0..7");
        return;
    }
    snprintf(rq, sizeof(rq), "%d", n_rq);
    snprintf(wq, sizeof(wq), "%d", n_wq);
    snprintf(perm, sizeof(perm), "%d", p);
    const char *cluster = jstr(b, "cluster", "");
    const char *ext[] = {"topic", topic, "defaultTopic", "TBW102", "readQueueNums", rq,
                         "writeQueueNums", wq, "perm", perm, "topicFilterType", "SINGLE_TAG",
                         "topicSysFlag", "0", "order", "false", NULL};
    broker_ref_t bs[MAX_BROKERS];
    int n = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err)), done = 0;
    for (int i = 0; i < n; i++) {
        if (*cluster && strcmp(cluster, bs[i].cluster) != 0) continue;
        if (call_ok(cs, bs[i].addr, UPDATE_AND_CREATE_TOPIC, ext, NULL, 0, NULL, err, sizeof(err)) == 0)
            done++;
    }
    if (!done) {
        cJSON_Delete(b);
        reply_error(resp, 502, n <= 0 ? "no broker found" : err);
        return;
    }
    /* Brokers register the new route with the NameServer asynchronously: wait (bounded) so
     * the topic's page, which reads the route, can be shown right after. */
    const char *re[] = {"topic", topic, NULL};
    int routed = 0;
    for (int i = 0; i < 50 && !routed; i++) {
        cJSON *rt = ns_json(cs, GET_ROUTEINFO_BY_TOPIC, re, err, sizeof(err));
        routed = rt != NULL;
        cJSON_Delete(rt);
        if (!routed) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "topic", topic);
    cJSON_AddNumberToObject(out, "brokers", done);
    cJSON_AddBoolToObject(out, "routed", routed);
    cJSON_Delete(b);
    reply_json(resp, out);
}

static void api_topic_delete(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    cJSON *b = req_json(r);
    const char *topic = arg_or_body(r, b, "topic");
    char err[512];
    if (!valid_name(topic)) {
        cJSON_Delete(b);
        reply_error(resp, 400, "topic is missing");
        return;
    }
    char t[256];
    snprintf(t, sizeof(t), "%s", topic);
    cJSON_Delete(b);
    const char *ext[] = {"topic", t, NULL};
    broker_ref_t bs[MAX_BROKERS];
    int n = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    for (int i = 0; i < n; i++)
        call_ok(cs, bs[i].addr, DELETE_TOPIC_IN_BROKER, ext, NULL, 0, NULL, err, sizeof(err));
    if (ns_ok(cs, DELETE_TOPIC_IN_NAMESRV, ext, err, sizeof(err)) != 0) {
        reply_error(resp, 502, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "deleted", t);
    reply_json(resp, out);
}

/* Sends one message to the first writable master queue of the topic's route. */
static int send_one(console_t *cs, const char *topic, const char *tags, const char *keys,
                    const char *props_extra, const void *body, size_t len, int reconsume,
                    cJSON *out, char *err, size_t errlen) {
    const char *ext0[] = {"topic", topic, NULL};
    cJSON *route = ns_json(cs, GET_ROUTEINFO_BY_TOPIC, ext0, err, errlen);
    char addr[128] = "", bname[128] = "";
    int nq = 0;
    if (route) {
        const cJSON *qd, *bd;
        cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
            if (!((int)jnum(qd, "perm", 0) & 2) || *addr) continue;
            cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
                const char *a = jstr(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
                if (a && !strcmp(jstr(bd, "brokerName", ""), jstr(qd, "brokerName", "-"))) {
                    snprintf(addr, sizeof(addr), "%s", a);
                    snprintf(bname, sizeof(bname), "%s", jstr(bd, "brokerName", ""));
                    nq = (int)jnum(qd, "writeQueueNums", 1);
                }
            }
        }
        cJSON_Delete(route);
    } else if (strncmp(topic, "%RETRY%", 7) == 0) {
        /* Retry topics may have no route yet: any master accepts them. */
        broker_ref_t bs[1];
        if (brokers(cs, bs, 1, 1, err, errlen) == 1) {
            snprintf(addr, sizeof(addr), "%s", bs[0].addr);
            snprintf(bname, sizeof(bname), "%s", bs[0].name);
            nq = 1;
        }
    }
    if (!*addr) {
        if (!route && !*err) snprintf(err, errlen, "no writable queue for %s", topic);
        else if (route) snprintf(err, errlen, "no writable queue for %s", topic);
        return -1;
    }
    static _Atomic unsigned rr;
    int qid = nq > 0 ? (int)(rr++ % (unsigned)nq) : 0;
    buf_t props;
    buf_init(&props);
    char uniq[64];
    snprintf(uniq, sizeof(uniq), "%016" PRIX64 "%08X", (uint64_t)now_ms(), (unsigned)rand());
    if (tags && *tags) msgprops_append(&props, MSGPROP_TAGS, tags);
    if (keys && *keys) msgprops_append(&props, MSGPROP_KEYS, keys);
    msgprops_append(&props, MSGPROP_UNIQ_KEY, uniq);
    msgprops_append(&props, MSGPROP_WAIT, "true");
    if (props_extra) buf_append_str(&props, props_extra);
    buf_put_u8(&props, 0);
    char q[16], born[32], rc[16];
    snprintf(q, sizeof(q), "%d", qid);
    snprintf(born, sizeof(born), "%" PRId64, now_ms());
    snprintf(rc, sizeof(rc), "%d", reconsume);
    const char *ext[] = {"a", "PETREL_CONSOLE_PRODUCER", "b", topic, "c", "TBW102", "d", "4",
                         "e", q, "f", "0", "g", born, "h", "0", "i", (const char *)props.data,
                         "j", rc, "k", "false", NULL};
    rm_response_t *r;
    int rcode = call_ok(cs, addr, SEND_MESSAGE_V2, ext, body, len, &r, err, errlen);
    buf_free(&props);
    if (rcode != 0) return -1;
    cJSON_AddStringToObject(out, "msgId", rm_ext_get(&r->cmd, "msgId") ? rm_ext_get(&r->cmd, "msgId") : "");
    cJSON_AddStringToObject(out, "uniqKey", uniq);
    cJSON_AddStringToObject(out, "brokerName", bname);
    cJSON_AddNumberToObject(out, "queueId", qid);
    int64_t qo = -1;
    rm_ext_i64(&r->cmd, "queueOffset", &qo);
    cJSON_AddNumberToObject(out, "queueOffset", (double)qo);
    rm_response_free(r);
    return 0;
}

static void api_send(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    cJSON *b = req_json(r);
    const char *topic = jstr(b, "topic", NULL), *body = jstr(b, "body", "");
    char err[512] = "";
    if (!valid_name(topic)) {
        cJSON_Delete(b);
        reply_error(resp, 400, "topic is missing");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    if (send_one(cs, topic, jstr(b, "tags", ""), jstr(b, "keys", ""), NULL, body, strlen(body), 0,
                 out, err, sizeof(err)) != 0) {
        cJSON_Delete(out);
        cJSON_Delete(b);
        reply_error(resp, 502, err);
        return;
    }
    cJSON_Delete(b);
    reply_json(resp, out);
}

/* ---- API: consumer groups ---- */

static int is_system_group(const char *g) {
    static const char *const pre[] = {"CID_RMQ_SYS_", "TOOLS_CONSUMER", "FILTERSRV_CONSUMER",
                                      "__MONITOR_CONSUMER", "CID_ONS", "SELF_TEST_C_GROUP",
                                      "CID_SYS_RMQ_TRANS", "CID_DefaultHeartBeatSyncerTopic",
                                      "PETREL_CONSOLE"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(g, pre[i], strlen(pre[i])) == 0) return 1;
    return 0;
}

/* Per-queue consume state of one group on every master; returns the lag sum (or -1 unknown). */
static int64_t group_stats(console_t *cs, const broker_ref_t *bs, int nb, const char *group,
                           const char *topic, cJSON *queues, int64_t *consumed, int *clients,
                           cJSON *conns) {
    char err[512];
    int64_t lag = -1;
    *consumed = 0;
    *clients = 0;
    const char *ext[] = {"consumerGroup", group, topic ? "topic" : NULL, topic, NULL};
    for (int i = 0; i < nb; i++) {
        cJSON *st = call_json(cs, bs[i].addr, GET_CONSUME_STATS, ext, err, sizeof(err));
        if (st) {
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(st, "offsetTable")) {
                int64_t bo = (int64_t)jnum(e, "brokerOffset", 0), co = (int64_t)jnum(e, "consumerOffset", 0);
                if (lag < 0) lag = 0;
                lag += bo > co ? bo - co : 0;
                *consumed += co;
                if (queues) {
                    cJSON *k = cJSON_Parse(e->string);
                    cJSON *o = cJSON_CreateObject();
                    cJSON_AddStringToObject(o, "topic", jstr(k, "topic", ""));
                    cJSON_AddStringToObject(o, "brokerName", jstr(k, "brokerName", bs[i].name));
                    cJSON_AddNumberToObject(o, "queueId", jnum(k, "queueId", -1));
                    cJSON_AddNumberToObject(o, "brokerOffset", (double)bo);
                    cJSON_AddNumberToObject(o, "consumerOffset", (double)co);
                    cJSON_AddNumberToObject(o, "lag", (double)(bo > co ? bo - co : 0));
                    cJSON_AddNumberToObject(o, "lastTimestamp", jnum(e, "lastTimestamp", 0));
                    cJSON_AddItemToArray(queues, o);
                    cJSON_Delete(k);
                }
            }
            cJSON_Delete(st);
        }
        const char *ce[] = {"consumerGroup", group, NULL};
        cJSON *cc = call_json(cs, bs[i].addr, GET_CONSUMER_CONNECTION_LIST, ce, err, sizeof(err));
        if (cc) {
            const cJSON *c;
            cJSON_ArrayForEach(c, cJSON_GetObjectItem(cc, "connectionSet")) {
                (*clients)++;
                if (conns) cJSON_AddItemToArray(conns, cJSON_Duplicate(c, 1));
            }
            cJSON_Delete(cc);
        }
    }
    return lag;
}

/* Consume TPS from the change of the committed offsets since the last look. */
static double group_tps(console_t *cs, const char *group, int64_t consumed) {
    int64_t now = now_ms();
    double tps = 0;
    pthread_mutex_lock(&cs->mu);
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(cs->tps, group);
    if (prev) {
        int64_t t = (int64_t)jnum(prev, "t", 0), s = (int64_t)jnum(prev, "sum", 0);
        double keep = jnum(prev, "tps", 0);
        if (now - t >= 1000) {
            tps = consumed > s ? (double)(consumed - s) * 1000.0 / (double)(now - t) : 0;
            cJSON_DeleteItemFromObjectCaseSensitive(cs->tps, group);
            prev = NULL;
        } else {
            tps = keep;
        }
    }
    if (!prev) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t", (double)now);
        cJSON_AddNumberToObject(o, "sum", (double)consumed);
        cJSON_AddNumberToObject(o, "tps", tps);
        cJSON_AddItemToObject(cs->tps, group, o);
    }
    pthread_mutex_unlock(&cs->mu);
    return tps;
}

static void api_groups(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    char err[512];
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    if (nb < 0) {
        reply_error(resp, 502, err);
        return;
    }
    const char *sys = http_arg(r, "system");
    int with_sys = sys && !strcmp(sys, "1");
    cJSON *names = cJSON_CreateObject();
    for (int i = 0; i < nb; i++) {
        cJSON *g = call_json(cs, bs[i].addr, GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, err, sizeof(err));
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(g, "subscriptionGroupTable")) {
            if (!cJSON_GetObjectItemCaseSensitive(names, e->string))
                cJSON_AddTrueToObject(names, e->string);
        }
        cJSON_Delete(g);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "groups");
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
        int s = is_system_group(n->string);
        if (s && !with_sys) continue;
        int64_t consumed;
        int clients;
        int64_t lag = group_stats(cs, bs, nb, n->string, NULL, NULL, &consumed, &clients, NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "group", n->string);
        if (lag >= 0) cJSON_AddNumberToObject(o, "lag", (double)lag);
        else cJSON_AddNullToObject(o, "lag"); /* unknown: no committed offsets */
        cJSON_AddNumberToObject(o, "tps", lag >= 0 ? group_tps(cs, n->string, consumed) : 0);
        cJSON_AddNumberToObject(o, "clients", clients);
        cJSON_AddBoolToObject(o, "system", s);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_Delete(names);
    reply_json(resp, out);
}

static void api_group_get(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *group = http_arg(r, "group");
    char err[512];
    if (!valid_name(group)) {
        reply_error(resp, 400, "group is missing");
        return;
    }
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    if (nb < 0) {
        reply_error(resp, 502, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "group", group);
    cJSON *queues = cJSON_AddArrayToObject(out, "queues");
    cJSON *conns = cJSON_AddArrayToObject(out, "connections");
    int64_t consumed;
    int clients;
    int64_t lag = group_stats(cs, bs, nb, group, NULL, queues, &consumed, &clients, conns);
    if (lag >= 0) cJSON_AddNumberToObject(out, "lag", (double)lag);
    else cJSON_AddNullToObject(out, "lag");
    reply_json(resp, out);
}

/* Reset by time: through the online consumers (INVOKE_BROKER_TO_RESET_OFFSET), or, with none
 * online, by writing the offsets found by SEARCH_OFFSET_BY_TIMESTAMP. */
static void api_group_reset(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    cJSON *b = req_json(r);
    const char *group = jstr(b, "group", NULL), *topic = jstr(b, "topic", NULL);
    double ts = jnum(b, "timestamp", -1);
    char err[512] = "", tsb[32];
    if (!valid_name(group) || !valid_name(topic) || ts < 0) {
        cJSON_Delete(b);
        reply_error(resp, 400, "group, topic and timestamp (ms) are required");
        return;
    }
    snprintf(tsb, sizeof(tsb), "%" PRId64, (int64_t)ts);
    const char *ext0[] = {"topic", topic, NULL};
    cJSON *route = ns_json(cs, GET_ROUTEINFO_BY_TOPIC, ext0, err, sizeof(err));
    if (!route) {
        cJSON_Delete(b);
        reply_error(resp, 404, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *res = cJSON_AddArrayToObject(out, "queues");
    const char *mode = "offline";
    const cJSON *bd, *qd;
    cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
        const char *addr = jstr(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        if (!addr) continue;
        const char *rx[] = {"topic", topic, "group", group, "timestamp", tsb, "isForce", "true", NULL};
        rm_response_t *rr = NULL;
        if (call(cs, addr, INVOKE_BROKER_TO_RESET_OFFSET, rx, NULL, 0, &rr, err, sizeof(err)) == 0 &&
            rr->cmd.code == SUCCESS) {
            mode = "online";
            rm_response_free(rr);
            continue;
        }
        if (rr) rm_response_free(rr);
        int nq = 0;
        cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas"))
            if (!strcmp(jstr(qd, "brokerName", ""), jstr(bd, "brokerName", "-")))
                nq = (int)jnum(qd, "readQueueNums", 0);
        for (int q = 0; q < nq; q++) {
            char qs[16], off[32];
            snprintf(qs, sizeof(qs), "%d", q);
            const char *se[] = {"topic", topic, "queueId", qs, "timestamp", tsb, NULL};
            rm_response_t *sr;
            if (call_ok(cs, addr, SEARCH_OFFSET_BY_TIMESTAMP, se, NULL, 0, &sr, err, sizeof(err)) != 0)
                continue;
            int64_t o = 0;
            rm_ext_i64(&sr->cmd, "offset", &o);
            rm_response_free(sr);
            snprintf(off, sizeof(off), "%" PRId64, o);
            const char *ue[] = {"consumerGroup", group, "topic", topic, "queueId", qs, "commitOffset", off, NULL};
            if (call_ok(cs, addr, UPDATE_CONSUMER_OFFSET, ue, NULL, 0, NULL, err, sizeof(err)) == 0) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "brokerName", jstr(bd, "brokerName", ""));
                cJSON_AddNumberToObject(x, "queueId", q);
                cJSON_AddNumberToObject(x, "offset", (double)o);
                cJSON_AddItemToArray(res, x);
            }
        }
    }
    cJSON_AddStringToObject(out, "mode", mode);
    cJSON_Delete(route);
    cJSON_Delete(b);
    reply_json(resp, out);
}

/* ---- API: messages ---- */

static void add_consume_state(console_t *cs, cJSON *m);

static void api_messages_by_key(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *topic = http_arg(r, "topic"), *key = http_arg(r, "key");
    const char *uniq = http_arg(r, "uniq");
    char err[512];
    if (!valid_name(topic) || !key || !*key) {
        reply_error(resp, 400, "topic and key are required");
        return;
    }
    char end[32];
    snprintf(end, sizeof(end), "%" PRId64, now_ms() + 60000);
    const char *ext[] = {"topic", topic, "key", key, "maxNum", "64", "beginTimestamp", "0",
                         "endTimestamp", end, uniq ? "_UNIQUE_KEY_QUERY" : NULL, "true", NULL};
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    if (nb < 0) {
        reply_error(resp, 502, err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "messages");
    for (int i = 0; i < nb; i++) {
        rm_response_t *rr;
        if (call(cs, bs[i].addr, QUERY_MESSAGE, ext, NULL, 0, &rr, err, sizeof(err)) != 0) continue;
        if (rr->cmd.code == SUCCESS) add_records(arr, &rr->cmd, bs[i].name);
        rm_response_free(rr);
    }
    if (cJSON_GetArraySize(arr) <= 20) {
        cJSON *m;
        cJSON_ArrayForEach(m, arr) add_consume_state(cs, m);
    }
    reply_json(resp, out);
}

/* Per-group consume state of one message: consumed when the committed offset is past it. */
static void add_consume_state(console_t *cs, cJSON *m) {
    char err[512];
    const char *topic = jstr(m, "topic", "");
    int qid = (int)jnum(m, "queueId", 0);
    int64_t qoff = (int64_t)jnum(m, "queueOffset", 0);
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
    cJSON *arr = cJSON_AddArrayToObject(m, "consumeState");
    const char *brk = jstr(m, "brokerName", "");
    for (int i = 0; i < nb; i++) {
        if (*brk && strcmp(brk, bs[i].name) != 0) continue;
        const char *ext[] = {"topic", topic, NULL};
        cJSON *who = call_json(cs, bs[i].addr, QUERY_TOPIC_CONSUME_BY_WHO, ext, err, sizeof(err));
        const cJSON *g;
        cJSON_ArrayForEach(g, cJSON_GetObjectItem(who, "groupList")) {
            if (!cJSON_IsString(g) || is_system_group(g->valuestring)) continue;
            char q[16];
            snprintf(q, sizeof(q), "%d", qid);
            const char *qe[] = {"consumerGroup", g->valuestring, "topic", topic, "queueId", q, NULL};
            rm_response_t *rr;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "group", g->valuestring);
            int64_t co = -1;
            if (call(cs, bs[i].addr, QUERY_CONSUMER_OFFSET, qe, NULL, 0, &rr, err, sizeof(err)) == 0) {
                if (rr->cmd.code == SUCCESS) rm_ext_i64(&rr->cmd, "offset", &co);
                rm_response_free(rr);
            }
            cJSON_AddStringToObject(o, "state", co < 0 ? "UNKNOWN" : co > qoff ? "CONSUMED" : "NOT_CONSUMED_YET");
            cJSON_AddItemToArray(arr, o);
        }
        cJSON_Delete(who);
    }
}

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void api_message_by_id(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *id = http_arg(r, "id"), *topic = http_arg(r, "topic");
    char err[512] = "";
    if (!id || !*id) {
        reply_error(resp, 400, "id is required");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "messages");
    size_t n = strlen(id);
    int hex = 1;
    for (size_t i = 0; i < n; i++)
        if (hexval(id[i]) < 0) hex = 0;
    if (hex && n == 32) {
        /* Offset message id: store ip (4), port (4), commit log offset (8). */
        uint8_t b[16];
        for (int i = 0; i < 16; i++) b[i] = (uint8_t)(hexval(id[2 * i]) << 4 | hexval(id[2 * i + 1]));
        char addr[64], off[32];
        snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3], be32_get(b + 4));
        snprintf(off, sizeof(off), "%" PRId64, (int64_t)be64_get(b + 8));
        const char *ext[] = {"offset", off, NULL};
        rm_response_t *rr;
        if (call(cs, addr, VIEW_MESSAGE_BY_ID, ext, NULL, 0, &rr, err, sizeof(err)) == 0) {
            if (rr->cmd.code == SUCCESS) add_records(arr, &rr->cmd, NULL);
            rm_response_free(rr);
        }
    }
    if (!cJSON_GetArraySize(arr) && topic && valid_name(topic)) {
        /* A client (UNIQ_KEY) id: the index has it. */
        buf_reset(&resp->body);
        char end[32];
        snprintf(end, sizeof(end), "%" PRId64, now_ms() + 60000);
        const char *ext[] = {"topic", topic, "key", id, "maxNum", "32", "beginTimestamp", "0",
                             "endTimestamp", end, "_UNIQUE_KEY_QUERY", "true", NULL};
        broker_ref_t bs[MAX_BROKERS];
        int nb = brokers(cs, bs, MAX_BROKERS, 1, err, sizeof(err));
        for (int i = 0; i < nb; i++) {
            rm_response_t *rr;
            if (call(cs, bs[i].addr, QUERY_MESSAGE, ext, NULL, 0, &rr, err, sizeof(err)) != 0) continue;
            if (rr->cmd.code == SUCCESS) add_records(arr, &rr->cmd, bs[i].name);
            rm_response_free(rr);
        }
    }
    cJSON *m;
    cJSON_ArrayForEach(m, arr) add_consume_state(cs, m);
    reply_json(resp, out);
}

/* Messages of a queue range through PULL_MESSAGE as TOOLS_CONSUMER (nothing committed). */
static void pull_range(console_t *cs, const char *addr, const char *bname, const char *topic, int q,
                       int64_t from, int64_t to, cJSON *arr) {
    char err[512];
    while (from < to && cJSON_GetArraySize(arr) < MAX_LIST) {
        char qs[16], off[32], max[16];
        snprintf(qs, sizeof(qs), "%d", q);
        snprintf(off, sizeof(off), "%" PRId64, from);
        snprintf(max, sizeof(max), "%d", (int)(to - from < 32 ? to - from : 32));
        const char *ext[] = {"consumerGroup", TOOLS_GROUP, "topic", topic, "queueId", qs,
                             "queueOffset", off, "maxMsgNums", max, "sysFlag", "4",
                             "commitOffset", "0", "suspendTimeoutMillis", "0",
                             "subscription", "*", "subVersion", "0", "expressionType", "TAG", NULL};
        rm_response_t *rr;
        if (call(cs, addr, PULL_MESSAGE, ext, NULL, 0, &rr, err, sizeof(err)) != 0) return;
        int64_t next = -1;
        rm_ext_i64(&rr->cmd, "nextBeginOffset", &next);
        int ok = rr->cmd.code == SUCCESS;
        if (ok) add_records(arr, &rr->cmd, bname);
        rm_response_free(rr);
        if (!ok || next <= from) return;
        from = next;
    }
}

static int64_t queue_offset(console_t *cs, const char *addr, int code, const char *topic, int q,
                            const char *ts) {
    char qs[16], err[256];
    snprintf(qs, sizeof(qs), "%d", q);
    const char *ext[] = {"topic", topic, "queueId", qs, ts ? "timestamp" : NULL, ts, NULL};
    rm_response_t *rr;
    if (call_ok(cs, addr, code, ext, NULL, 0, &rr, err, sizeof(err)) != 0) return -1;
    int64_t o = -1;
    rm_ext_i64(&rr->cmd, "offset", &o);
    rm_response_free(rr);
    return o;
}

/* Every message of a topic (optionally stored within [begin, end]), at most MAX_LIST. */
static void topic_messages(console_t *cs, const char *topic, const char *begin, const char *end,
                           cJSON *arr, char *err, size_t errlen) {
    const char *ext0[] = {"topic", topic, NULL};
    cJSON *route = ns_json(cs, GET_ROUTEINFO_BY_TOPIC, ext0, err, errlen);
    if (!route) return;
    const cJSON *bd, *qd;
    cJSON_ArrayForEach(bd, cJSON_GetObjectItem(route, "brokerDatas")) {
        const char *addr = jstr(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        const char *bname = jstr(bd, "brokerName", "");
        if (!addr) continue;
        int nq = 0;
        cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas"))
            if (!strcmp(jstr(qd, "brokerName", ""), bname)) nq = (int)jnum(qd, "readQueueNums", 0);
        for (int q = 0; q < nq; q++) {
            int64_t lo = begin ? queue_offset(cs, addr, SEARCH_OFFSET_BY_TIMESTAMP, topic, q, begin)
                               : queue_offset(cs, addr, GET_MIN_OFFSET, topic, q, NULL);
            int64_t hi = end ? queue_offset(cs, addr, SEARCH_OFFSET_BY_TIMESTAMP, topic, q, end)
                             : queue_offset(cs, addr, GET_MAX_OFFSET, topic, q, NULL);
            if (end) { /* include messages stored at exactly `end` */
                int64_t max = queue_offset(cs, addr, GET_MAX_OFFSET, topic, q, NULL);
                if (hi >= 0 && hi < max) hi++;
            }
            if (lo < 0 || hi <= lo) continue;
            pull_range(cs, addr, bname, topic, q, lo, hi, arr);
        }
    }
    cJSON_Delete(route);
    if (begin && end) { /* the range search is per queue; trim to the exact window */
        int64_t b = atoll(begin), e = atoll(end);
        for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
            int64_t t = (int64_t)jnum(cJSON_GetArrayItem(arr, i), "storeTimestamp", 0);
            if (t < b || t > e) cJSON_DeleteItemFromArray(arr, i);
        }
    }
}

static void api_messages_by_time(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *topic = http_arg(r, "topic"), *begin = http_arg(r, "begin"), *end = http_arg(r, "end");
    char err[512] = "";
    if (!valid_name(topic) || !begin || !end) {
        reply_error(resp, 400, "topic, begin and end (ms) are required");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "messages");
    topic_messages(cs, topic, begin, end, arr, err, sizeof(err));
    reply_json(resp, out);
}

/* ---- API: DLQ ---- */

static void api_dlq(console_t *cs, const http_req_t *r, http_resp_t *resp, int ndjson) {
    const char *group = http_arg(r, "group");
    char err[512] = "", topic[300];
    if (!valid_name(group)) {
        reply_error(resp, 400, "group is required");
        return;
    }
    snprintf(topic, sizeof(topic), "%%DLQ%%%s", group);
    cJSON *arr = cJSON_CreateArray();
    topic_messages(cs, topic, NULL, NULL, arr, err, sizeof(err));
    if (ndjson) {
        const cJSON *m;
        cJSON_ArrayForEach(m, arr) {
            char *t = cJSON_PrintUnformatted(m);
            buf_append_str(&resp->body, t);
            buf_append_str(&resp->body, "\n");
            free(t);
        }
        cJSON_Delete(arr);
        resp->ctype = "application/x-ndjson";
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "topic", topic);
    cJSON_AddItemToObject(out, "messages", arr);
    reply_json(resp, out);
}

/* Resend: the DLQ message goes to the group's retry topic, so only that group consumes it again. */
static void api_dlq_resend(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    cJSON *b = req_json(r);
    const char *group = jstr(b, "group", NULL), *id = jstr(b, "msgId", NULL);
    char err[512] = "";
    if (!valid_name(group) || !id || strlen(id) != 32) {
        cJSON_Delete(b);
        reply_error(resp, 400, "group and msgId (an offset message id) are required");
        return;
    }
    uint8_t bb[16];
    for (int i = 0; i < 16; i++) {
        int h = hexval(id[2 * i]), l = hexval(id[2 * i + 1]);
        if (h < 0 || l < 0) {
            cJSON_Delete(b);
            reply_error(resp, 400, "msgId is not hexadecimal");
            return;
        }
        bb[i] = (uint8_t)(h << 4 | l);
    }
    char addr[64], off[32];
    snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%u", bb[0], bb[1], bb[2], bb[3], be32_get(bb + 4));
    snprintf(off, sizeof(off), "%" PRId64, (int64_t)be64_get(bb + 8));
    const char *ext[] = {"offset", off, NULL};
    rm_response_t *rr;
    if (call_ok(cs, addr, VIEW_MESSAGE_BY_ID, ext, NULL, 0, &rr, err, sizeof(err)) != 0) {
        cJSON_Delete(b);
        reply_error(resp, 404, err);
        return;
    }
    record_view_t v;
    if (record_decode(rr->cmd.body, rr->cmd.body_len, &v, 0) != RECORD_OK) {
        rm_response_free(rr);
        cJSON_Delete(b);
        reply_error(resp, 502, "the broker returned an undecodable record");
        return;
    }
    char topic[300], tags[256] = "", keys[512] = "", extra[400];
    snprintf(topic, sizeof(topic), "%%RETRY%%%s", group);
    const char *x;
    size_t xl;
    if (msgprops_find(v.props, v.props_len, MSGPROP_TAGS, &x, &xl))
        snprintf(tags, sizeof(tags), "%.*s", (int)xl, x);
    if (msgprops_find(v.props, v.props_len, MSGPROP_KEYS, &x, &xl))
        snprintf(keys, sizeof(keys), "%.*s", (int)xl, x);
    const char *rt = "";
    size_t rtl = 0;
    if (msgprops_find(v.props, v.props_len, MSGPROP_RETRY_TOPIC, &x, &xl)) {
        rt = x;
        rtl = xl;
    }
    snprintf(extra, sizeof(extra), "%s\001%s\002%s\001%.*s\002", MSGPROP_ORIGIN_MESSAGE_ID, id,
             MSGPROP_RETRY_TOPIC, (int)rtl, rt);
    if (!rtl) snprintf(extra, sizeof(extra), "%s\001%s\002", MSGPROP_ORIGIN_MESSAGE_ID, id);
    cJSON *out = cJSON_CreateObject();
    int rc = send_one(cs, topic, tags, keys, extra, v.body, v.body_len, 0, out, err, sizeof(err));
    rm_response_free(rr);
    cJSON_Delete(b);
    if (rc != 0) {
        cJSON_Delete(out);
        reply_error(resp, 502, err);
        return;
    }
    cJSON_AddStringToObject(out, "topic", topic);
    reply_json(resp, out);
}

/* ---- API: message trace (RMQ_SYS_TRACE_TOPIC, RocketMQ's TraceDataEncoder format) ---- */

/* Splits s (NUL-terminated, modified) on sep into at most max fields; returns the count. */
static int split(char *s, char sep, char **out, int max) {
    int n = 0;
    while (n < max) {
        out[n++] = s;
        char *p = strchr(s, sep);
        if (!p) break;
        *p = 0;
        s = p + 1;
    }
    return n;
}

static void add_str(cJSON *o, const char *k, char **f, int n, int i) {
    if (i < n) cJSON_AddStringToObject(o, k, f[i]);
}

static void add_num(cJSON *o, const char *k, char **f, int n, int i) {
    if (i < n && *f[i]) cJSON_AddNumberToObject(o, k, atof(f[i]));
}

static void add_bool(cJSON *o, const char *k, char **f, int n, int i) {
    if (i < n) cJSON_AddBoolToObject(o, k, !strcmp(f[i], "true"));
}

static const char *const k_msg_types[] = {"Normal", "Trans_Msg_Half", "Trans_msg_Commit", "Delay_Msg"};

/* One trace context as JSON, or NULL when it is not about msg_id. */
static cJSON *trace_event(char *ctx, const char *msg_id, const char *store_host) {
    char *f[20];
    int n = split(ctx, '\001', f, 20);
    cJSON *o = cJSON_CreateObject();
    const char *type = f[0], *id = "";
    cJSON_AddStringToObject(o, "type", type);
    if (!strcmp(type, "Pub") && n >= 13) {
        add_num(o, "timestamp", f, n, 1);
        add_str(o, "regionId", f, n, 2);
        add_str(o, "group", f, n, 3);
        add_str(o, "topic", f, n, 4);
        id = f[5];
        add_str(o, "tags", f, n, 6);
        add_str(o, "keys", f, n, 7);
        add_str(o, "storeHost", f, n, 8);
        add_num(o, "bodyLength", f, n, 9);
        add_num(o, "costTime", f, n, 10);
        int mt = atoi(f[11]);
        cJSON_AddStringToObject(o, "msgType", mt >= 0 && mt < 4 ? k_msg_types[mt] : f[11]);
        if (n == 13) add_bool(o, "success", f, n, 12);
        else {
            add_str(o, "offsetMsgId", f, n, 12);
            add_bool(o, "success", f, n, 13);
            add_str(o, "clientHost", f, n, 14);
        }
    } else if (!strcmp(type, "SubBefore") && n >= 8) {
        add_num(o, "timestamp", f, n, 1);
        add_str(o, "regionId", f, n, 2);
        add_str(o, "group", f, n, 3);
        add_str(o, "requestId", f, n, 4);
        id = f[5];
        add_num(o, "retryTimes", f, n, 6);
        add_str(o, "keys", f, n, 7);
    } else if (!strcmp(type, "SubAfter") && n >= 6) {
        add_str(o, "requestId", f, n, 1);
        id = f[2];
        add_num(o, "costTime", f, n, 3);
        add_bool(o, "success", f, n, 4);
        add_str(o, "keys", f, n, 5);
        add_num(o, "contextCode", f, n, 6);
        add_num(o, "timestamp", f, n, 7);
    } else if (!strcmp(type, "EndTransaction") && n >= 13) {
        add_num(o, "timestamp", f, n, 1);
        add_str(o, "regionId", f, n, 2);
        add_str(o, "group", f, n, 3);
        add_str(o, "topic", f, n, 4);
        id = f[5];
        add_str(o, "tags", f, n, 6);
        add_str(o, "keys", f, n, 7);
        add_str(o, "storeHost", f, n, 8);
        add_str(o, "transactionId", f, n, 10);
        add_str(o, "transactionState", f, n, 11);
        add_bool(o, "fromTransactionCheck", f, n, 12);
    } else {
        cJSON_Delete(o);
        return NULL;
    }
    if (strcmp(id, msg_id) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "msgId", id);
    cJSON_AddStringToObject(o, "traceStoredBy", store_host);
    return o;
}

/* Every trace record about msg id on the trace topic, {msgId, traceTopic, events:[...]}; NULL on error. */
static cJSON *trace_query(console_t *cs, const char *id, const char *topic, char *err, size_t errlen) {
    char end[32];
    snprintf(end, sizeof(end), "%" PRId64, now_ms() + 60000);
    const char *ext[] = {"topic", topic, "key", id, "maxNum", "64", "beginTimestamp", "0",
                         "endTimestamp", end, NULL};
    broker_ref_t bs[MAX_BROKERS];
    int nb = brokers(cs, bs, MAX_BROKERS, 1, err, errlen);
    if (nb < 0) return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "msgId", id);
    cJSON_AddStringToObject(out, "traceTopic", topic);
    cJSON *ev = cJSON_AddArrayToObject(out, "events");
    for (int i = 0; i < nb; i++) {
        rm_response_t *rr;
        char e2[256];
        if (call(cs, bs[i].addr, QUERY_MESSAGE, ext, NULL, 0, &rr, e2, sizeof(e2)) != 0) continue;
        size_t pos = 0;
        while (rr->cmd.code == SUCCESS && pos < rr->cmd.body_len) {
            record_view_t v;
            if (record_decode(rr->cmd.body + pos, rr->cmd.body_len - pos, &v, 0) != RECORD_OK) break;
            pos += v.total_size;
            if (v.sys_flag & MSG_SYSFLAG_COMPRESSED) continue;
            char *body = xmalloc(v.body_len + 1), host[64];
            memcpy(body, v.body, v.body_len);
            body[v.body_len] = 0;
            host_str(v.store_host, v.store_host_len, host, sizeof(host));
            char *ctxs[256];
            int nc = split(body, '\002', ctxs, 256);
            for (int c = 0; c < nc; c++) {
                if (!*ctxs[c]) continue;
                cJSON *e = trace_event(ctxs[c], id, host);
                if (e) cJSON_AddItemToArray(ev, e);
            }
            free(body);
        }
        rm_response_free(rr);
    }
    /* SubAfter carries no group: take it from the SubBefore with the same requestId. */
    cJSON *e, *b;
    cJSON_ArrayForEach(e, ev) {
        if (strcmp(jstr(e, "type", ""), "SubAfter") != 0 || cJSON_GetObjectItem(e, "group")) continue;
        cJSON_ArrayForEach(b, ev) {
            if (!strcmp(jstr(b, "type", ""), "SubBefore") &&
                !strcmp(jstr(b, "requestId", "-"), jstr(e, "requestId", "+"))) {
                cJSON_AddStringToObject(e, "group", jstr(b, "group", ""));
                break;
            }
        }
    }
    return out;
}

static void api_trace(console_t *cs, const http_req_t *r, http_resp_t *resp) {
    const char *id = http_arg(r, "msgId"), *topic = http_arg(r, "traceTopic");
    char err[512] = "";
    if (!topic || !*topic) topic = "RMQ_SYS_TRACE_TOPIC";
    if (!id || !*id || strlen(id) > 128 || !valid_name(topic)) {
        reply_error(resp, 400, "msgId (the client message id) is required");
        return;
    }
    cJSON *out = trace_query(cs, id, topic, err, sizeof(err));
    if (!out) {
        reply_error(resp, 502, err);
        return;
    }
    reply_json(resp, out);
}

static int by_time(const void *a, const void *b) {
    double x = jnum(*(cJSON *const *)a, "timestamp", 0), y = jnum(*(cJSON *const *)b, "timestamp", 0);
    return x < y ? -1 : x > y;
}

int console_query_trace(const char *namesrv, const char *msg_id, const char *trace_topic,
                        FILE *out) {
    console_t cs = {0};
    snprintf(cs.namesrv, sizeof(cs.namesrv), "%s", namesrv && *namesrv ? namesrv : "127.0.0.1:9876");
    pthread_mutex_init(&cs.mu, NULL);
    rm_client_opts_t co = {.language = LANG_JAVA};
    cs.cli = rm_client_create(&co);
    char err[512] = "";
    cJSON *j = trace_query(&cs, msg_id, trace_topic && *trace_topic ? trace_topic : "RMQ_SYS_TRACE_TOPIC",
                           err, sizeof(err));
    rm_client_destroy(cs.cli);
    pthread_mutex_destroy(&cs.mu);
    if (!j) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cJSON *ev = cJSON_GetObjectItem(j, "events");
    int n = cJSON_GetArraySize(ev);
    cJSON **v = xcalloc((size_t)n + 1, sizeof(cJSON *));
    for (int i = 0; i < n; i++) v[i] = cJSON_GetArrayItem(ev, i);
    qsort(v, (size_t)n, sizeof(v[0]), by_time);
    fprintf(out, "%-16s %-24s %-28s %-22s %8s %6s %s\n", "#Type", "#Time", "#Group", "#Host", "#CostMs",
            "#Retry", "#Status");
    for (int i = 0; i < n; i++) {
        char t[40] = "-";
        double ts = jnum(v[i], "timestamp", 0);
        if (ts > 0) {
            time_t sec = (time_t)(ts / 1000);
            struct tm tm;
            localtime_r(&sec, &tm);
            size_t k = strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
            snprintf(t + k, sizeof(t) - k, ".%03d", (int)((int64_t)ts % 1000));
        }
        const cJSON *ok = cJSON_GetObjectItem(v[i], "success");
        char cost[24] = "-", retry[24] = "-";
        if (cJSON_GetObjectItem(v[i], "costTime"))
            snprintf(cost, sizeof(cost), "%.0f", jnum(v[i], "costTime", 0));
        if (cJSON_GetObjectItem(v[i], "retryTimes"))
            snprintf(retry, sizeof(retry), "%.0f", jnum(v[i], "retryTimes", 0));
        fprintf(out, "%-16s %-24s %-28s %-22s %8s %6s %s\n", jstr(v[i], "type", ""), t,
                jstr(v[i], "group", "-"), jstr(v[i], "storeHost", jstr(v[i], "clientHost", "-")),
                cost, retry, ok ? (cJSON_IsTrue(ok) ? "success" : "failed") : "-");
    }
    free(v);
    cJSON_Delete(j);
    return n > 0 ? 0 : 4;
}

/* ---- routing ---- */

static void on_http(const http_req_t *r, http_resp_t *resp, void *arg) {
    console_t *cs = arg;
    const char *u = r->url, *m = r->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
    if (!strncmp(u, "/api/", 5) && post) {
        /* A JSON body is required for writes: plain forms from other sites cannot send one. */
        const char *ct = http_header(r, "Content-Type");
        if (!ct || strncmp(ct, "application/json", 16) != 0) {
            reply_error(resp, 415, "POST bodies must be application/json");
            return;
        }
    }
    if (get && !strcmp(u, "/api/cluster")) api_cluster(cs, r, resp);
    else if (get && !strcmp(u, "/api/topics")) api_topics(cs, r, resp);
    else if (get && !strcmp(u, "/api/topic")) api_topic_get(cs, r, resp);
    else if (post && !strcmp(u, "/api/topic")) api_topic_put(cs, r, resp);
    else if (post && !strcmp(u, "/api/topic/delete")) api_topic_delete(cs, r, resp);
    else if (post && !strcmp(u, "/api/send")) api_send(cs, r, resp);
    else if (get && !strcmp(u, "/api/groups")) api_groups(cs, r, resp);
    else if (get && !strcmp(u, "/api/group")) api_group_get(cs, r, resp);
    else if (post && !strcmp(u, "/api/group/reset")) api_group_reset(cs, r, resp);
    else if (get && !strcmp(u, "/api/messages/key")) api_messages_by_key(cs, r, resp);
    else if (get && !strcmp(u, "/api/messages/id")) api_message_by_id(cs, r, resp);
    else if (get && !strcmp(u, "/api/messages/time")) api_messages_by_time(cs, r, resp);
    else if (get && !strcmp(u, "/api/dlq")) api_dlq(cs, r, resp, 0);
    else if (get && !strcmp(u, "/api/dlq/export")) api_dlq(cs, r, resp, 1);
    else if (post && !strcmp(u, "/api/dlq/resend")) api_dlq_resend(cs, r, resp);
    else if (get && !strcmp(u, "/api/trace")) api_trace(cs, r, resp);
    else if (!strncmp(u, "/api/", 5)) reply_error(resp, 404, "no such API");
    else if (get) {
        const char *path = !strcmp(u, "/") ? "/index.html" : u;
        for (size_t i = 0; i < console_assets_count; i++) {
            if (strcmp(console_assets[i].path, path) != 0) continue;
            resp->ctype = console_assets[i].ctype;
            resp->static_body = console_assets[i].data;
            resp->static_len = console_assets[i].len;
            return;
        }
        resp->status = 404;
        buf_append_str(&resp->body, "not found\n");
    } else {
        reply_error(resp, 405, "method not allowed");
    }
}

/* ---- `petrel console` ---- */

static void usage(FILE *f) {
    fprintf(f, "usage: petrel console [-n namesrvAddr] [--port N] [--host ADDR]\n"
               "  -n, --namesrvAddr ADDR  NameServer(s) host:port;host:port (default $NAMESRV_ADDR or\n"
               "                          127.0.0.1:9876); any RocketMQ-compatible cluster\n"
               "  --port N                HTTP port (default 8080; 0 = any free port)\n"
               "  --host ADDR             listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
               "  --queryMsgTraceById ID  print the trace of a message (client id) and exit\n"
               "  --traceTopic T          trace topic (default RMQ_SYS_TRACE_TOPIC)\n");
}

int console_main(int argc, char **argv) {
    log_set_component("console");
    const char *ns = getenv("NAMESRV_ADDR"), *host = "127.0.0.1", *trace_id = NULL, *trace_topic = NULL;
    int port = 8080;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-n") || !strcmp(a, "--namesrvAddr")) && i + 1 < argc) {
            ns = argv[++i];
        } else if (!strncmp(a, "--namesrvAddr=", 14)) {
            ns = a + 14;
        } else if (!strcmp(a, "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strncmp(a, "--port=", 7)) {
            port = atoi(a + 7);
        } else if (!strcmp(a, "--queryMsgTraceById") && i + 1 < argc) {
            trace_id = argv[++i];
        } else if (!strcmp(a, "--traceTopic") && i + 1 < argc) {
            trace_topic = argv[++i];
        } else if (!strcmp(a, "--host") && i + 1 < argc) {
            host = argv[++i];
        } else if (!strncmp(a, "--host=", 7)) {
            host = a + 7;
        } else {
            fprintf(stderr, "petrel console: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (trace_id) return console_query_trace(ns, trace_id, trace_topic, stdout);
    if (port < 0 || port > 65535) {
        fprintf(stderr, "petrel console: bad port %d\n", port);
        return 2;
    }
    console_t cs = {0};
    snprintf(cs.namesrv, sizeof(cs.namesrv), "%s", ns && *ns ? ns : "127.0.0.1:9876");
    pthread_mutex_init(&cs.mu, NULL);
    cs.tps = cJSON_CreateObject();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    rm_client_opts_t co = {.language = LANG_JAVA};
    cs.cli = rm_client_create(&co);
    char err[256];
    http_server_t *h = http_start(host, port, HTTP_THREAD_PER_CONNECTION, on_http, &cs, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "petrel console: %s\n", err);
        rm_client_destroy(cs.cli);
        cJSON_Delete(cs.tps);
        return 1;
    }
    log_info("console on http://%s:%d/ for NameServer %s", host, http_port(h), cs.namesrv);
    printf("petrel console: http://%s:%d/ (NameServer %s)\n", host, http_port(h), cs.namesrv);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    http_stop(h);
    rm_client_destroy(cs.cli);
    cJSON_Delete(cs.tps);
    pthread_mutex_destroy(&cs.mu);
    return 0;
}
