/*
 * nsmetrics: the NameServer's /metrics (see nsmetrics.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "namesrv/nsmetrics.h"

struct nsmetrics_s {
    pm_bridge_t bridge;       /* first: the close callback gets &bridge.async */
    http_server_t *http;
    rm_server_t *srv;
    ns_routes_t *routes;
    pm_rpc_t *rpc;
    char node[64];
    int64_t start_ms, scrapes;
};

static void on_observe(int32_t req, int32_t resp, uint64_t ns, void *ctx) {
    pm_rpc_observe(((nsmetrics_t *)ctx)->rpc, req, resp, ns);
}

static int json_count(buf_t *b, const char *key, int depth2) {
    cJSON *j = cJSON_ParseWithLength((const char *)b->data, b->len);
    int n = 0;
    const cJSON *o = cJSON_GetObjectItem(j, key), *e;
    if (!depth2) n = cJSON_GetArraySize(o);
    else
        cJSON_ArrayForEach(e, o) n += cJSON_GetArraySize(e);
    cJSON_Delete(j);
    return n;
}

static void render(buf_t *o, void *arg) {
    nsmetrics_t *m = arg;
    m->scrapes++;
    pm_label_t cl[2] = {{"node_type", "nameserver"}, {"node_id", m->node}};
    pm_rpc_write(o, m->rpc, cl, 2);
    buf_t t;
    buf_init(&t);
    ns_routes_cluster_info(m->routes, &t);
    int clusters = json_count(&t, "clusterAddrTable", 0), names = json_count(&t, "brokerAddrTable", 0);
    buf_reset(&t);
    ns_routes_all_topics(m->routes, &t);
    int topics = json_count(&t, "topicList", 0);
    buf_free(&t);
    pm_family(o, "petrel_namesrv_live_brokers", "gauge", "Broker addresses registered and not expired.");
    pm_sample_i64(o, "petrel_namesrv_live_brokers", cl, 2, NULL, 0, (int64_t)ns_routes_live_count(m->routes));
    pm_family(o, "petrel_namesrv_broker_names", "gauge", "Broker names (master/slave sets) known.");
    pm_sample_i64(o, "petrel_namesrv_broker_names", cl, 2, NULL, 0, names);
    pm_family(o, "petrel_namesrv_clusters", "gauge", "Clusters known.");
    pm_sample_i64(o, "petrel_namesrv_clusters", cl, 2, NULL, 0, clusters);
    pm_family(o, "rocketmq_topic_number", "gauge", "Topics with a route (every broker's system topics included).");
    pm_sample_i64(o, "rocketmq_topic_number", cl, 2, NULL, 0, topics);
    pm_family(o, "petrel_open_connections", "gauge", "Open remoting (TCP) connections.");
    pm_sample_i64(o, "petrel_open_connections", cl, 2, NULL, 0, rm_server_conn_count(m->srv));
    pm_process_write(o, "NameServer", m->start_ms);
    pm_family(o, "petrel_scrapes_total", "counter", "Scrapes of this endpoint.");
    pm_sample_i64(o, "petrel_scrapes_total", cl, 2, NULL, 0, m->scrapes);
}

static void on_http(const http_req_t *r, http_resp_t *resp, void *arg) {
    nsmetrics_t *m = arg;
    if (strcmp(r->url, "/metrics") != 0) {
        resp->status = 404;
        buf_append_str(&resp->body, "not found (try /metrics)\n");
        return;
    }
    if (pm_bridge_call(&m->bridge, &resp->body, 5000) != 0) {
        resp->status = 503;
        buf_reset(&resp->body);
        buf_append_str(&resp->body, "the NameServer loop did not answer\n");
        return;
    }
    resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

nsmetrics_t *nsm_start(uv_loop_t *loop, rm_server_t *srv, ns_routes_t *routes, const char *host,
                       int port, int ns_port) {
    if (port < 0) return NULL;
    nsmetrics_t *m = xcalloc(1, sizeof(*m));
    m->srv = srv;
    m->routes = routes;
    m->rpc = pm_rpc_new();
    m->start_ms = now_ms();
    snprintf(m->node, sizeof(m->node), "namesrv:%d", ns_port);
    if (pm_bridge_init(&m->bridge, loop, render, m) != 0) {
        log_warn("metrics: cannot create the loop bridge; metrics off");
        pm_bridge_destroy(&m->bridge);
        pm_rpc_free(m->rpc);
        free(m);
        return NULL;
    }
    char err[256];
    m->http = http_start(host, port, 0, on_http, m, err, sizeof(err));
    if (!m->http)
        log_warn("metrics: %s (metricsPort); the NameServer runs without /metrics", err);
    else
        log_info("metrics: Prometheus endpoint http://%s:%d/metrics", host && *host ? host : "0.0.0.0",
                 http_port(m->http));
    rm_server_observe(srv, on_observe, m);
    return m;
}

int nsm_port(const nsmetrics_t *m) { return m ? http_port(m->http) : 0; }

static void bridge_closed(uv_handle_t *h) {
    nsmetrics_t *m = (nsmetrics_t *)h; /* bridge.async is the first member */
    pm_bridge_destroy(&m->bridge);
    pm_rpc_free(m->rpc);
    free(m);
}

void nsm_stop(nsmetrics_t *m) {
    if (!m) return;
    rm_server_observe(m->srv, NULL, NULL);
    pm_bridge_close(&m->bridge, bridge_closed); /* a scrape waiting on the loop fails now */
    http_stop(m->http);
    m->http = NULL;
}
