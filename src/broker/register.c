/*
 * register: the broker's NameServer client: REGISTER_BROKER to every
 * NameServer at start, every registerNameServerPeriod and on topic changes;
 * UNREGISTER_BROKER at clean shutdown. Requests are asynchronous: the loop
 * never waits for a NameServer.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "broker/broker_int.h"
#include "common/util.h"

int register_init(broker_t *b, char *err, size_t errlen) {
    const char *list = b->conf.namesrvAddr ? b->conf.namesrvAddr : "";
    char *copy = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
        if (!strchr(tok, ':')) {
            snprintf(err, errlen, "namesrvAddr: '%s' is not host:port", tok);
            free(copy);
            return -1;
        }
        b->ns_addrs = xrealloc(b->ns_addrs, (size_t)(b->n_ns + 1) * sizeof(char *));
        b->ns_addrs[b->n_ns++] = xstrdup(tok);
    }
    free(copy);
    if (b->n_ns == 0) {
        log_warn("namesrvAddr is empty: the broker will not register with any NameServer");
        return 0;
    }
    rm_client_opts_t o = {0};
    o.language = LANG_JAVA;
    o.connect_timeout_ms = 3000;
    b->ns = rm_client_create(&o);
    if (!b->ns) {
        snprintf(err, errlen, "cannot create the NameServer client");
        return -1;
    }
    return 0;
}

void register_free(broker_t *b) {
    if (b->ns) rm_client_destroy(b->ns);
    b->ns = NULL;
    for (int i = 0; i < b->n_ns; i++) free(b->ns_addrs[i]);
    free(b->ns_addrs);
    b->ns_addrs = NULL;
    b->n_ns = 0;
}

typedef struct reg_ctx_s {
    char addr[128];
    broker_t *b;
} reg_ctx_t;

static void on_registered(int status, rm_cmd_t *resp, void *arg) {
    reg_ctx_t *c = arg;
    if (status != 0)
        log_warn("REGISTER_BROKER to %s failed: %s", c->addr, rm_strerror(status));
    else if (resp->code != SUCCESS)
        log_warn("REGISTER_BROKER to %s answered %d %s", c->addr, resp->code,
                 resp->remark ? resp->remark : "");
    else {
        log_debug("registered with NameServer %s", c->addr);
        ha_glue_on_registered(c->b, resp);
    }
    free(c);
}

static void body_json(broker_t *b, buf_t *out) {
    int limited = (b->conf.brokerPermission & 6) != 6;
    buf_append_str(out, "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":");
    bk_dv_json(out, &b->topics_ver);
    buf_append_str(out, ",\"mappingDataVersion\":");
    data_version_t z = {0, b->topics_ver.timestamp};
    bk_dv_json(out, &z);
    buf_append_str(out, ",\"topicConfigTable\":{");
    int first = 1;
    STRMAP_FOREACH(&b->topics, e) {
        topic_cfg_t t = *(topic_cfg_t *)e->val;
        if (limited) t.perm &= b->conf.brokerPermission;
        if (!first) buf_append_str(out, ",");
        first = 0;
        buf_json_str(out, t.name, strlen(t.name));
        buf_append_str(out, ":");
        topic_cfg_json(out, &t);
    }
    buf_append_str(out, "},\"topicQueueMappingInfoMap\":{}}}");
}

void register_all(broker_t *b) {
    if (!b->ns || b->n_ns == 0) return;
    if (!ha_glue_may_register(b)) return; /* controller mode: role not known yet */
    buf_t body;
    buf_init(&body);
    body_json(b, &body);
    char addr[128], ha[128], id[32], crc[32];
    snprintf(addr, sizeof(addr), "%s:%d", b->conf.brokerIP1, b->port);
    snprintf(ha, sizeof(ha), "%s:%d", b->conf.brokerIP2,
             b->conf.haListenPort ? b->conf.haListenPort : b->port + 1);
    snprintf(id, sizeof(id), "%" PRId64, b->conf.brokerId);
    uint32_t c = (uint32_t)crc32(0L, body.data, (uInt)body.len) & 0x7FFFFFFFu;
    snprintf(crc, sizeof(crc), "%u", c);
    const char *ext[] = {"brokerName", b->conf.brokerName, "brokerAddr", addr,
                         "clusterName", b->conf.brokerClusterName, "haServerAddr", ha,
                         "brokerId", id, "compressed", "false", "bodyCrc32", crc,
                         "heartbeatTimeoutMillis", "120000", "enableActingMaster", "false", NULL};
    rm_request_t req = {REGISTER_BROKER, NULL, ext, body.data, (uint32_t)body.len};
    for (int i = 0; i < b->n_ns; i++) {
        reg_ctx_t *rc = xcalloc(1, sizeof(*rc));
        snprintf(rc->addr, sizeof(rc->addr), "%s", b->ns_addrs[i]);
        rc->b = b;
        int st = rm_client_invoke_async(b->ns, b->ns_addrs[i], &req,
                                        b->conf.registerBrokerTimeoutMills, on_registered, rc);
        if (st != 0) {
            log_warn("REGISTER_BROKER to %s not sent: %s", b->ns_addrs[i], rm_strerror(st));
            free(rc);
        }
    }
    buf_free(&body);
}

void unregister_all(broker_t *b) {
    if (!b->ns) return;
    char addr[128], id[32];
    snprintf(addr, sizeof(addr), "%s:%d", b->conf.brokerIP1, b->port);
    snprintf(id, sizeof(id), "%" PRId64, b->conf.brokerId);
    const char *ext[] = {"brokerName", b->conf.brokerName, "brokerAddr", addr,
                         "clusterName", b->conf.brokerClusterName, "brokerId", id, NULL};
    rm_request_t req = {UNREGISTER_BROKER, NULL, ext, NULL, 0};
    for (int i = 0; i < b->n_ns; i++) {
        rm_response_t *resp = NULL;
        int st = rm_client_invoke_sync(b->ns, b->ns_addrs[i], &req, 1500, &resp);
        if (st != 0)
            log_warn("UNREGISTER_BROKER to %s failed: %s", b->ns_addrs[i], rm_strerror(st));
        else
            log_info("unregistered from NameServer %s", b->ns_addrs[i]);
        rm_response_free(resp);
    }
}
