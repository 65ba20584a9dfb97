/*
 * namesrv: the NameServer server: config, request handlers (one per
 * RequestCode of remoting-protocol.md 2.1), broker expiry, embedding API and
 * `petrel namesrv`. Route state lives in routes.c and the KV store in
 * kvconfig.c; both are touched only on the server's loop thread, so no lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "namesrv/namesrv.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "common/util.h"
#include "namesrv/kvconfig.h"
#include "namesrv/nsmetrics.h"
#include "namesrv/routes.h"
#include "remoting/remoting.h"

/* ---- configuration ------------------------------------------------------- */

#define F(x) CFG_FIELD(namesrv_config_t, x)
const cfg_def_t namesrv_config_defs[] = {
    {"rocketmqHome", CFG_STR, F(rocketmqHome), "", 0, -1, NULL, 0,
     "base directory for kvConfigPath/configStorePath defaults (\"\" = $HOME)"},
    {"kvConfigPath", CFG_STR, F(kvConfigPath), "", 0, -1, NULL, 0,
     "KV config file (\"\" = <rocketmqHome>/namesrv/kvConfig.json)"},
    {"configStorePath", CFG_STR, F(configStorePath), "", 0, -1, NULL, 0,
     "RocketMQ's namesrv.properties path (printed only)"},
    {"productEnvName", CFG_STR, F(productEnvName), "center", 0, -1, NULL, 1, "product environment"},
    {"clusterTest", CFG_BOOL, F(clusterTest), "false", 0, -1, NULL, 1, "cluster test mode"},
    {"orderMessageEnable", CFG_BOOL, F(orderMessageEnable), "false", 0, -1, NULL, 1,
     "add orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to routes"},
    {"returnOrderTopicConfigToBroker", CFG_BOOL, F(returnOrderTopicConfigToBroker), "true", 0, -1,
     NULL, 1, "answer REGISTER_BROKER with the ORDER_TOPIC_CONFIG table"},
    {"enableAllTopicList", CFG_BOOL, F(enableAllTopicList), "true", 0, -1, NULL, 1,
     "answer GET_ALL_TOPIC_LIST_FROM_NAMESERVER"},
    {"enableTopicList", CFG_BOOL, F(enableTopicList), "true", 0, -1, NULL, 1,
     "answer GET_TOPICS_BY_CLUSTER and the unit topic lists"},
    {"scanNotActiveBrokerInterval", CFG_LONG, F(scanNotActiveBrokerInterval), "5000", 10,
     86400000, NULL, 1, "ms between scans for expired brokers"},
    {"brokerChannelExpiredTime", CFG_LONG, F(brokerChannelExpiredTime), "120000", 100,
     INT64_MAX / 4, NULL, 1, "ms without registration before a broker is removed"},
    {"configBlackList", CFG_STR, F(configBlackList), "configBlackList;configStorePath;kvConfigPath",
     0, -1, NULL, 0, "keys UPDATE_NAMESRV_CONFIG may not change"},
    {"listenAddr", CFG_STR, F(listenAddr), "0.0.0.0", 0, -1, NULL, 0, "bind address (petrel)"},
    {"listenPort", CFG_INT, F(listenPort), "9876", 0, 65535, NULL, 0, "TCP port (0 = any)"},
    {"serverChannelMaxIdleTimeSeconds", CFG_INT, F(serverChannelMaxIdleTimeSeconds), "120", -1,
     86400, NULL, 0, "close idle connections after this many seconds (-1 = never)"},
    {"maxFrameSize", CFG_LONG, F(maxFrameSize), "16777216", 1024, 1073741824, NULL, 0,
     "largest frame accepted (petrel)"},
    {"logLevel", CFG_STR, F(logLevel), "info", 0, -1, NULL, 1, "debug, info, warn or error (petrel)"},
    {"metricsPort", CFG_INT, F(metricsPort), "5558", -1, 65535, NULL, 0,
     "Prometheus /metrics HTTP port; 0 = any free port, -1 = off (petrel, docs/metrics.md)"},
    {"metricsHost", CFG_STR, F(metricsHost), "", 0, -1, NULL, 0,
     "address /metrics listens on (default all; petrel)"},
    {NULL},
};
#undef F

void namesrv_config_init(namesrv_config_t *conf) {
    memset(conf, 0, sizeof(*conf));
    cfg_defaults(namesrv_config_defs, conf);
}

void namesrv_config_free(namesrv_config_t *conf) { cfg_free(namesrv_config_defs, conf); }

static void config_copy(namesrv_config_t *dst, const namesrv_config_t *src) {
    namesrv_config_init(dst);
    char val[4096], err[256];
    for (const cfg_def_t *d = namesrv_config_defs; d->key; d++) {
        cfg_get(namesrv_config_defs, src, d->key, val, sizeof(val));
        cfg_set(namesrv_config_defs, dst, d->key, val, err, sizeof(err));
    }
}

char *namesrv_config_text(const namesrv_config_t *conf) {
    buf_t b;
    buf_init(&b);
    char val[4096];
    for (const cfg_def_t *d = namesrv_config_defs; d->key; d++) {
        cfg_get(namesrv_config_defs, conf, d->key, val, sizeof(val));
        buf_printf(&b, "%s=%s\n", d->key, val);
    }
    buf_put_u8(&b, 0);
    return (char *)buf_steal(&b, NULL);
}

/* Fills the path defaults the way RocketMQ does, relative to rocketmqHome or $HOME. */
static void config_resolve(namesrv_config_t *conf) {
    const char *home = conf->rocketmqHome && *conf->rocketmqHome ? conf->rocketmqHome
                                                                 : getenv("HOME");
    if (!home || !*home) home = ".";
    char path[4096], err[256];
    if (!conf->kvConfigPath || !*conf->kvConfigPath) {
        snprintf(path, sizeof(path), "%s/namesrv/kvConfig.json", home);
        cfg_set(namesrv_config_defs, conf, "kvConfigPath", path, err, sizeof(err));
    }
    if (!conf->configStorePath || !*conf->configStorePath) {
        snprintf(path, sizeof(path), "%s/namesrv/namesrv.properties", home);
        cfg_set(namesrv_config_defs, conf, "configStorePath", path, err, sizeof(err));
    }
}

/* ---- the server ---------------------------------------------------------- */

struct namesrv_s {
    uv_loop_t *loop;
    namesrv_config_t conf;
    rm_server_t *srv;
    uv_timer_t scan_timer;
    ns_routes_t *routes;
    ns_kv_t *kv;
    buf_t scratch; /* JSON bodies under construction */
    int port;
    int closing;
    int pending_closes;
    void (*done)(void *);
    void *done_arg;
    nsmetrics_t *metrics;     /* nsmetrics.c; NULL when off */
};

static const char *TOPIC_NOT_EXIST_FMT =
    "No topic route info in name server for the topic: %s\nSee "
    "http://rocketmq.apache.org/docs/faq/ for further details.";

/* Required extFields: answers SYSTEM_ERROR like Java's @CFNotNull check. */
static const char *need(rm_conn_t *conn, rm_cmd_t *req, const char *key) {
    const char *v = rm_ext_get(req, key);
    if (v) return v; /* like @CFNotNull: only absence is an error */
    char msg[128];
    snprintf(msg, sizeof(msg), "the custom field <%s> is null", key);
    rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
    return NULL;
}

static int need_i64(rm_conn_t *conn, rm_cmd_t *req, const char *key, int64_t *out) {
    int rc = rm_ext_i64(req, key, out);
    if (rc == 0) return 0;
    char msg[128];
    snprintf(msg, sizeof(msg), rc == -1 ? "the custom field <%s> is null"
                                        : "the custom field <%s> is not a number",
             key);
    rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
    return -1;
}

static void reply_body(rm_conn_t *conn, rm_cmd_t *req, const void *body, size_t len) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    if (len) rm_enc_body(&e, body, len);
    rm_enc_end(&e);
}

/* The shared body buffer, emptied, for a handler's reply. */
static buf_t *scratch(namesrv_t *ns) {
    buf_reset(&ns->scratch);
    return &ns->scratch;
}

static void reply_scratch(rm_conn_t *conn, rm_cmd_t *req, namesrv_t *ns) {
    reply_body(conn, req, ns->scratch.data, ns->scratch.len);
}

/* The topic-list switches (enableAllTopicList, enableTopicList): RocketMQ answers "disable". */
static int list_disabled(rm_conn_t *conn, rm_cmd_t *req, int enabled) {
    if (enabled) return 0;
    rm_conn_reply(conn, req, SYSTEM_ERROR, "disable");
    return 1;
}

static void h_register_broker(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *name, *addr, *cluster, *ha;
    int64_t id, timeout = ns->conf.brokerChannelExpiredTime;
    if (!(name = need(conn, req, "brokerName")) || !(addr = need(conn, req, "brokerAddr")) ||
        !(cluster = need(conn, req, "clusterName")) ||
        !(ha = need(conn, req, "haServerAddr")) || need_i64(conn, req, "brokerId", &id) != 0)
        return;
    int64_t t;
    if (rm_ext_i64(req, "heartbeatTimeoutMillis", &t) == 0 && t > 0) timeout = t;
    int compressed = 0, acting = 0;
    rm_ext_bool(req, "compressed", &compressed);
    rm_ext_bool(req, "enableActingMaster", &acting);
    int64_t crc;
    if (rm_ext_i64(req, "bodyCrc32", &crc) == 0 && crc != 0) {
        uint32_t c = (uint32_t)crc32(0L, req->body ? req->body : (const uint8_t *)"",
                                     req->body_len) & 0x7FFFFFFFu;
        if ((int64_t)c != crc) {
            log_warn("REGISTER_BROKER from %s (%s): body crc32 %u, header says %" PRId64,
                     rm_conn_peer(conn), addr, c, crc);
            rm_conn_reply(conn, req, SYSTEM_ERROR, "crc32 not match");
            return;
        }
    }
    log_debug("REGISTER_BROKER %s %s id %" PRId64 " from %s: %u body bytes%s, version %d", name,
              addr, id, rm_conn_peer(conn), req->body_len, compressed ? " (compressed)" : "",
              req->version);
    ns_reg_body_t body;
    char err[256];
    if (ns_reg_body_parse(req->body, req->body_len, compressed, &body, err, sizeof(err)) != 0) {
        log_warn("REGISTER_BROKER from %s (%s): %s", rm_conn_peer(conn), addr, err);
        rm_conn_reply(conn, req, SYSTEM_ERROR, err);
        return;
    }
    ns_reg_req_t rr = {cluster, name, addr, ha, rm_ext_get(req, "__ZONE_NAME"), id, timeout,
                       acting, rm_conn_id(conn), conn};
    ns_reg_result_t res;
    ns_routes_register(ns->routes, &rr, &body, now_ms(), &res);
    ns_reg_body_free(&body);

    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    if (res.ha_addr[0] || res.master_addr[0]) {
        rm_enc_ext(&e, "haServerAddr", res.ha_addr);
        rm_enc_ext(&e, "masterAddr", res.master_addr);
    }
    buf_reset(&ns->scratch);
    if (ns->conf.returnOrderTopicConfigToBroker &&
        ns_kv_table_json(ns->kv, NS_KV_ORDER_TOPIC_CONFIG, &ns->scratch) == 0)
        rm_enc_body(&e, ns->scratch.data, ns->scratch.len);
    rm_enc_end(&e);
}

static void h_unregister_broker(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *name, *addr, *cluster;
    int64_t id;
    if (!(name = need(conn, req, "brokerName")) || !(addr = need(conn, req, "brokerAddr")) ||
        !(cluster = need(conn, req, "clusterName")) || need_i64(conn, req, "brokerId", &id) != 0)
        return;
    ns_routes_unregister(ns->routes, cluster, addr, name, id);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_query_data_version(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *name, *addr, *cluster;
    int64_t id;
    if (!(name = need(conn, req, "brokerName")) || !(addr = need(conn, req, "brokerAddr")) ||
        !(cluster = need(conn, req, "clusterName")) || need_i64(conn, req, "brokerId", &id) != 0)
        return;
    ns_dv_t dv = {0, 0, 0}, stored;
    if (req->body_len && ns_dv_parse((const char *)req->body, req->body_len, &dv) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "body is not a DataVersion");
        return;
    }
    int known = 0;
    int changed = ns_routes_query_dv(ns->routes, cluster, addr, &dv, now_ms(), &known, &stored);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "changed", changed ? "true" : "false");
    if (known) {
        buf_reset(&ns->scratch);
        ns_dv_json(&stored, &ns->scratch);
        rm_enc_body(&e, ns->scratch.data, ns->scratch.len);
    }
    rm_enc_end(&e);
}

static void h_broker_heartbeat(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *addr, *cluster;
    if (!(cluster = need(conn, req, "clusterName")) || !(addr = need(conn, req, "brokerAddr")))
        return;
    ns_routes_heartbeat(ns->routes, cluster, addr, now_ms());
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_get_route(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *topic = need(conn, req, "topic");
    if (!topic) return;
    const char *oc = ns->conf.orderMessageEnable
                         ? ns_kv_get(ns->kv, NS_KV_ORDER_TOPIC_CONFIG, topic)
                         : NULL;
    const uint8_t *json;
    size_t len;
    if (ns_routes_topic_route(ns->routes, topic, oc, &json, &len) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), TOPIC_NOT_EXIST_FMT, topic);
        rm_conn_reply(conn, req, TOPIC_NOT_EXIST, msg);
        return;
    }
    reply_body(conn, req, json, len);
}

static void h_cluster_info(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    ns_routes_cluster_info(ns->routes, scratch(ns));
    reply_scratch(conn, req, ns);
}

static void h_all_topics(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    if (list_disabled(conn, req, ns->conf.enableAllTopicList)) return;
    ns_routes_all_topics(ns->routes, scratch(ns));
    reply_scratch(conn, req, ns);
}

static void h_topics_by_cluster(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    if (list_disabled(conn, req, ns->conf.enableTopicList)) return;
    const char *cluster = need(conn, req, "cluster");
    if (!cluster) return;
    ns_routes_topics_by_cluster(ns->routes, cluster, scratch(ns));
    reply_scratch(conn, req, ns);
}

static void h_system_topics(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    ns_routes_system_topics(ns->routes, scratch(ns));
    reply_scratch(conn, req, ns);
}

static void h_unit_topics(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    if (list_disabled(conn, req, ns->conf.enableTopicList)) return;
    buf_t *out = scratch(ns);
    if (req->code == GET_UNIT_TOPIC_LIST) ns_routes_unit_topics(ns->routes, 1, -1, out);
    else if (req->code == GET_HAS_UNIT_SUB_TOPIC_LIST) ns_routes_unit_topics(ns->routes, -1, 1, out);
    else ns_routes_unit_topics(ns->routes, 0, 1, out);
    reply_scratch(conn, req, ns);
}

static void h_delete_topic(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *topic = need(conn, req, "topic");
    if (!topic) return;
    ns_routes_delete_topic(ns->routes, topic, rm_ext_get(req, "clusterName"));
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_register_topic(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *topic = need(conn, req, "topic");
    if (!topic) return;
    char err[256];
    if (ns_routes_register_topic(ns->routes, topic, req->body, req->body_len, err,
                                 sizeof(err)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, err);
        return;
    }
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_write_perm(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *name = need(conn, req, "brokerName");
    if (!name) return;
    int wipe = req->code == WIPE_WRITE_PERM_OF_BROKER;
    int n = ns_routes_write_perm(ns->routes, name, wipe);
    log_info("%s write permission of broker %s: %d queue data", wipe ? "wiped" : "added", name, n);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext_i64(&e, wipe ? "wipeTopicCount" : "addTopicCount", n);
    rm_enc_end(&e);
}

static void h_put_kv(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *nsp = rm_ext_get(req, "namespace"), *key = rm_ext_get(req, "key"),
               *val = rm_ext_get(req, "value");
    if (!nsp || !*nsp || !key || !*key) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "namespace or key is null");
        return;
    }
    if (!val) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "the custom field <value> is null");
        return;
    }
    ns_kv_put(ns->kv, nsp, key, val);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_get_kv(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *nsp, *key;
    if (!(nsp = need(conn, req, "namespace")) || !(key = need(conn, req, "key"))) return;
    const char *v = ns_kv_get(ns->kv, nsp, key);
    if (!v) {
        char msg[512];
        snprintf(msg, sizeof(msg), "No config item, Namespace: %s Key: %s", nsp, key);
        rm_conn_reply(conn, req, QUERY_NOT_FOUND, msg);
        return;
    }
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "value", v);
    rm_enc_end(&e);
}

static void h_delete_kv(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *nsp, *key;
    if (!(nsp = need(conn, req, "namespace")) || !(key = need(conn, req, "key"))) return;
    ns_kv_del(ns->kv, nsp, key);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_kvlist(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *nsp = need(conn, req, "namespace");
    if (!nsp) return;
    if (ns_kv_table_json(ns->kv, nsp, scratch(ns)) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "No config item, Namespace: %s", nsp);
        rm_conn_reply(conn, req, QUERY_NOT_FOUND, msg);
        return;
    }
    reply_scratch(conn, req, ns);
}

static void h_get_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    char *text = namesrv_config_text(&ns->conf);
    reply_body(conn, req, text, strlen(text));
    free(text);
}

static int in_blacklist(const namesrv_t *ns, const char *key) {
    const char *p = ns->conf.configBlackList ? ns->conf.configBlackList : "";
    size_t kl = strlen(key);
    while (*p) {
        size_t n = strcspn(p, ";,");
        while (n && *p == ' ') p++, n--;
        if (n == kl && strncmp(p, key, n) == 0) return 1;
        p += n;
        if (*p) p++;
    }
    return 0;
}

struct upd_ctx {
    namesrv_t *ns;
    namesrv_config_t *conf;
    int pass; /* 0: check, 1: apply */
    int code; /* response code of a failed check */
    char err[256];
};

static int upd_one(const char *key, const char *val, void *arg) {
    struct upd_ctx *u = arg;
    if (u->pass == 0) {
        if (in_blacklist(u->ns, key)) {
            snprintf(u->err, sizeof(u->err), "Can not update config in black list.");
            u->code = NO_PERMISSION;
            return -1;
        }
        u->code = SYSTEM_ERROR;
    }
    int rc = cfg_set(namesrv_config_defs, u->conf, key, val, u->err, sizeof(u->err));
    if (rc == 1) {
        if (u->pass == 1) log_warn("UPDATE_NAMESRV_CONFIG: unknown key %s ignored", key);
        return 0;
    }
    return rc;
}

static void scan_cb(uv_timer_t *t);

static void h_update_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    char *text = xmalloc(req->body_len + 1);
    if (req->body_len) memcpy(text, req->body, req->body_len);
    text[req->body_len] = 0;
    /* pass 0 validates on a copy so a bad value changes nothing */
    namesrv_config_t tmp;
    config_copy(&tmp, &ns->conf);
    struct upd_ctx u = {ns, &tmp, 0, SYSTEM_ERROR, ""};
    int rc = props_parse(text, upd_one, &u);
    namesrv_config_free(&tmp);
    if (rc != 0) {
        free(text);
        rm_conn_reply(conn, req, u.code, u.err);
        return;
    }
    int64_t old_scan = ns->conf.scanNotActiveBrokerInterval;
    u.conf = &ns->conf;
    u.pass = 1;
    props_parse(text, upd_one, &u);
    free(text);
    if (ns->conf.scanNotActiveBrokerInterval != old_scan)
        uv_timer_start(&ns->scan_timer, scan_cb, (uint64_t)ns->conf.scanNotActiveBrokerInterval,
                       (uint64_t)ns->conf.scanNotActiveBrokerInterval);
    int lvl = log_parse_level(ns->conf.logLevel ? ns->conf.logLevel : "info");
    if (lvl >= 0) log_set_level((log_level_t)lvl);
    log_info("config updated by %s", rm_conn_peer(conn));
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void h_member_group(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    namesrv_t *ns = ctx;
    const char *cluster, *name;
    if (!(cluster = need(conn, req, "clusterName")) || !(name = need(conn, req, "brokerName")))
        return;
    ns_routes_member_group(ns->routes, cluster, name, scratch(ns));
    reply_scratch(conn, req, ns);
}

static void on_conn_close(rm_conn_t *conn, void *ctx) {
    namesrv_t *ns = ctx;
    if (ns->closing) return;
    ns_routes_conn_closed(ns->routes, rm_conn_id(conn));
}

static void close_expired(void *conn, void *arg) {
    (void)arg;
    rm_conn_close(conn, "broker expired");
}

static void scan_cb(uv_timer_t *t) {
    namesrv_t *ns = t->data;
    size_t n = ns_routes_scan(ns->routes, now_ms(), close_expired, NULL);
    if (n) log_info("expiry scan removed %zu broker address(es)", n);
}

static const struct {
    int code;
    rm_handler_fn fn;
} handlers[] = {
    {PUT_KV_CONFIG, h_put_kv},
    {GET_KV_CONFIG, h_get_kv},
    {DELETE_KV_CONFIG, h_delete_kv},
    {GET_KVLIST_BY_NAMESPACE, h_kvlist},
    {REGISTER_BROKER, h_register_broker},
    {UNREGISTER_BROKER, h_unregister_broker},
    {QUERY_DATA_VERSION, h_query_data_version},
    {BROKER_HEARTBEAT, h_broker_heartbeat},
    {GET_ROUTEINFO_BY_TOPIC, h_get_route},
    {GET_BROKER_CLUSTER_INFO, h_cluster_info},
    {GET_ALL_TOPIC_LIST_FROM_NAMESERVER, h_all_topics},
    {GET_TOPICS_BY_CLUSTER, h_topics_by_cluster},
    {GET_SYSTEM_TOPIC_LIST_FROM_NS, h_system_topics},
    {GET_UNIT_TOPIC_LIST, h_unit_topics},
    {GET_HAS_UNIT_SUB_TOPIC_LIST, h_unit_topics},
    {GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST, h_unit_topics},
    {DELETE_TOPIC_IN_NAMESRV, h_delete_topic},
    {REGISTER_TOPIC_IN_NAMESRV, h_register_topic},
    {WIPE_WRITE_PERM_OF_BROKER, h_write_perm},
    {ADD_WRITE_PERM_OF_BROKER, h_write_perm},
    {GET_NAMESRV_CONFIG, h_get_config},
    {UPDATE_NAMESRV_CONFIG, h_update_config},
    {GET_BROKER_MEMBER_GROUP, h_member_group},
};

static void ns_free(namesrv_t *ns) {
    void (*done)(void *) = ns->done;
    void *arg = ns->done_arg;
    ns_routes_destroy(ns->routes);
    ns_kv_destroy(ns->kv);
    buf_free(&ns->scratch);
    namesrv_config_free(&ns->conf);
    free(ns);
    if (done) done(arg);
}

static void one_closed(namesrv_t *ns) {
    if (--ns->pending_closes == 0) ns_free(ns);
}

static void srv_closed(rm_server_t *srv, void *arg) {
    (void)srv;
    one_closed(arg);
}

static void timer_closed(uv_handle_t *h) { one_closed(h->data); }

namesrv_t *namesrv_start(uv_loop_t *loop, const namesrv_config_t *conf, char *err,
                         size_t errlen) {
    namesrv_t *ns = xcalloc(1, sizeof(*ns));
    ns->loop = loop;
    config_copy(&ns->conf, conf);
    config_resolve(&ns->conf);
    buf_init(&ns->scratch);
    ns->routes = ns_routes_create();
    ns->kv = ns_kv_create(ns->conf.kvConfigPath);
    if (ns_kv_load(ns->kv, err, errlen) != 0) goto fail;

    rm_server_opts_t so = {"namesrv", (uint32_t)ns->conf.maxFrameSize,
                           ns->conf.serverChannelMaxIdleTimeSeconds == 0
                               ? -1
                               : ns->conf.serverChannelMaxIdleTimeSeconds};
    ns->srv = rm_server_create(loop, &so);
    if (!ns->srv) {
        snprintf(err, errlen, "cannot create the remoting server");
        goto fail;
    }
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        rm_server_handle(ns->srv, handlers[i].code, handlers[i].fn, ns);
    rm_server_on_close(ns->srv, on_conn_close, ns);
    int rc = rm_server_listen(ns->srv, ns->conf.listenAddr, ns->conf.listenPort);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", ns->conf.listenAddr,
                 ns->conf.listenPort, uv_strerror(rc));
        /* the server owns no connection yet: close it and free the rest */
        ns->pending_closes = 1;
        ns->closing = 1;
        rm_server_close(ns->srv, srv_closed, ns);
        return NULL;
    }
    ns->port = rm_server_port(ns->srv, 0);
    uv_timer_init(loop, &ns->scan_timer);
    ns->scan_timer.data = ns;
    uv_timer_start(&ns->scan_timer, scan_cb, (uint64_t)ns->conf.scanNotActiveBrokerInterval,
                   (uint64_t)ns->conf.scanNotActiveBrokerInterval);
    log_info("NameServer listening on %s:%d (kvConfigPath %s, broker expiry %" PRId64
             " ms, scan every %" PRId64 " ms)",
             ns->conf.listenAddr, ns->port, ns->conf.kvConfigPath,
             ns->conf.brokerChannelExpiredTime, ns->conf.scanNotActiveBrokerInterval);
    ns->metrics = nsm_start(loop, ns->srv, ns->routes, ns->conf.metricsHost, ns->conf.metricsPort,
                            ns->port);
    return ns;
fail:
    ns_free(ns);
    return NULL;
}

int namesrv_port(const namesrv_t *ns) { return ns->port; }

void namesrv_stop(namesrv_t *ns, void (*done)(void *), void *arg) {
    if (!ns || ns->closing) return;
    ns->closing = 1;
    ns->done = done;
    ns->done_arg = arg;
    ns->pending_closes = 2;
    uv_timer_stop(&ns->scan_timer);
    uv_close((uv_handle_t *)&ns->scan_timer, timer_closed);
    nsm_stop(ns->metrics);
    ns->metrics = NULL;
    rm_server_close(ns->srv, srv_closed, ns);
}

/* ---- on a thread of its own ---------------------------------------------- */

struct namesrv_thread_s {
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t stop_async;
    namesrv_t *ns;
    namesrv_config_t conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 starting, 1 running, -1 failed */
    int port;
    char err[256];
};

static void async_closed(uv_handle_t *h) { (void)h; }

static void thread_stop_cb(uv_async_t *a) {
    namesrv_thread_t *t = a->data;
    namesrv_stop(t->ns, NULL, NULL);
    uv_close((uv_handle_t *)&t->stop_async, async_closed);
}

static void *thread_main(void *arg) {
    thread_name("namesrv-loop");
    namesrv_thread_t *t = arg;
    uv_loop_init(&t->loop);
    uv_async_init(&t->loop, &t->stop_async, thread_stop_cb);
    t->stop_async.data = t;
    t->ns = namesrv_start(&t->loop, &t->conf, t->err, sizeof(t->err));
    pthread_mutex_lock(&t->mu);
    t->state = t->ns ? 1 : -1;
    t->port = t->ns ? namesrv_port(t->ns) : 0;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (!t->ns) uv_close((uv_handle_t *)&t->stop_async, async_closed);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
    return NULL;
}

namesrv_thread_t *namesrv_spawn(const namesrv_config_t *conf, char *err, size_t errlen) {
    namesrv_thread_t *t = xcalloc(1, sizeof(*t));
    config_copy(&t->conf, conf);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
        snprintf(err, errlen, "cannot start the NameServer thread");
        namesrv_config_free(&t->conf);
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&t->mu);
    while (t->state == 0) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    if (t->state < 0) {
        snprintf(err, errlen, "%s", t->err);
        pthread_join(t->tid, NULL);
        namesrv_config_free(&t->conf);
        free(t);
        return NULL;
    }
    return t;
}

int namesrv_thread_port(const namesrv_thread_t *t) { return t->port; }

void namesrv_shutdown(namesrv_thread_t *t) {
    if (!t) return;
    uv_async_send(&t->stop_async);
    pthread_join(t->tid, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    namesrv_config_free(&t->conf);
    free(t);
}

/* ---- petrel namesrv ------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: petrel namesrv [-c file] [--key=value ...] [-p] [--help-config]\n\n"
            "Runs a RocketMQ-compatible NameServer (default port 9876).\n\n"
            "  -c file         load a properties file (namesrv.properties)\n"
            "  --key=value     override one configuration key (after -c)\n"
            "  -p              print the configuration and exit\n"
            "  --help-config   list every configuration key with its default\n"
            "  -h, --help      this text\n");
}

typedef struct {
    namesrv_t *ns;
    uv_signal_t sigint, sigterm;
} main_ctx_t;

static void sig_closed(uv_handle_t *h) { (void)h; }

static void on_signal(uv_signal_t *s, int signum) {
    main_ctx_t *m = s->data;
    log_info("signal %d: shutting down", signum);
    uv_close((uv_handle_t *)&m->sigint, sig_closed);
    uv_close((uv_handle_t *)&m->sigterm, sig_closed);
    namesrv_stop(m->ns, NULL, NULL);
}

int namesrv_main(int argc, char **argv) {
    log_set_component("namesrv");
    const char *file = NULL;
    int print = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--help-config") == 0) {
            cfg_print_help(namesrv_config_defs, "petrel namesrv");
            return 0;
        } else if (strcmp(a, "-c") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "petrel namesrv: -c needs a file\n");
                return 2;
            }
            file = argv[++i];
        } else if (strncmp(a, "-c=", 3) == 0) {
            file = a + 3;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--printConfigItem") == 0) {
            print = 1;
        } else if (strncmp(a, "--", 2) == 0) {
            /* a --key[=value] for cfg_apply_args; skip its separate value */
            if (!strchr(a, '=')) {
                const cfg_def_t *d = cfg_find(namesrv_config_defs, a + 2);
                if (!d) {
                    fprintf(stderr, "petrel namesrv: unknown option %s (see --help-config)\n", a);
                    return 2;
                }
                if (d->type != CFG_BOOL && i + 1 < argc) i++;
            }
        } else {
            fprintf(stderr, "petrel namesrv: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    namesrv_config_t conf;
    namesrv_config_init(&conf);
    char err[512];
    if ((file && cfg_load_file(namesrv_config_defs, &conf, file, err, sizeof(err)) != 0) ||
        cfg_apply_args(namesrv_config_defs, &conf, argc - 1, argv + 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "petrel namesrv: %s\n", err);
        namesrv_config_free(&conf);
        return 2;
    }
    int lvl = log_parse_level(conf.logLevel ? conf.logLevel : "info");
    if (lvl < 0) {
        fprintf(stderr, "petrel namesrv: logLevel '%s' is not debug, info, warn or error\n",
                conf.logLevel);
        namesrv_config_free(&conf);
        return 2;
    }
    log_set_level((log_level_t)lvl);
    config_resolve(&conf);
    if (print) {
        char *text = namesrv_config_text(&conf);
        fputs(text, stdout);
        free(text);
        namesrv_config_free(&conf);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    main_ctx_t m;
    memset(&m, 0, sizeof(m));
    m.ns = namesrv_start(&loop, &conf, err, sizeof(err));
    namesrv_config_free(&conf);
    if (!m.ns) {
        log_error("cannot start: %s", err);
        uv_run(&loop, UV_RUN_DEFAULT); /* let the failed server's handles close */
        uv_loop_close(&loop);
        return 1;
    }
    uv_signal_init(&loop, &m.sigint);
    uv_signal_init(&loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    log_info("The Name Server boot success. serializeType=JSON");
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    log_info("NameServer stopped");
    return 0;
}
