/*
 * bmetrics: the broker's Prometheus metrics (docs/metrics.md). Counters are
 * plain integers in tables owned by the loop thread (the only thread that
 * sends, pulls and renders), so counting takes no lock and no atomic; the
 * HTTP thread asks the loop to render through a pm_bridge, which also makes
 * the scrape-time gauges (lag, offsets, counts) read loop state safely.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* RocketMQ 5's buckets: message size in bytes, RPC latency in ms. */
static const double k_size_bounds[] = {1024, 4096, 524288, 1048576, 2097152, 4194304};

/* RocketMQ 5's message_type label values. */
enum { MT_NORMAL, MT_FIFO, MT_DELAY, MT_TRANSACTION, MT_N };
static const char *const k_mt[MT_N] = {"Normal", "FIFO", "Delay", "Transaction"};

typedef struct bm_topic_s {
    int64_t in_msgs[MT_N], in_bytes[MT_N];
    pm_hist_t size[MT_N];
} bm_topic_t;

/* Per topic@group: consumption counters and the latest pull offsets. */
typedef struct bm_cg_s {
    char topic[NAME_MAX_LEN], group[NAME_MAX_LEN];
    int64_t out_msgs, out_bytes, dlq;
    int nq;
    int64_t *pull_off;        /* next offset of the latest pull, -1 unknown */
} bm_cg_t;

typedef struct bmetrics_s {
    pm_bridge_t bridge;
    int bridge_open;
    http_server_t *http;
    strmap_t topics;            /* topic -> bm_topic_t */
    strmap_t cgs;               /* "topic@group" -> bm_cg_t */
    pm_rpc_t *rpc;            /* rocketmq_rpc_latency */
    pm_lat_t put_lat;         /* send handlers, µs */
    int64_t scrapes;
} bmetrics_t;

/* ---- hot path ---- */

static bm_topic_t *topic_stats(bmetrics_t *m, const char *topic) {
    bm_topic_t *t = strmap_get(&m->topics, topic);
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        for (int i = 0; i < MT_N; i++) pm_hist_init(&t->size[i], k_size_bounds, 6);
        strmap_put(&m->topics, topic, t);
    }
    return t;
}

void bm_on_put(broker_t *b, topic_cfg_t *tc, const char *stored_topic, uint32_t body_len) {
    bmetrics_t *m = b->metrics;
    if (!m) return;
    /* Counters live until bm_free, so the pointer cached in the topic config stays valid. */
    bm_topic_t *t = tc->stats;
    if (!t) t = tc->stats = topic_stats(m, tc->name);
    const char *topic = tc->name;
    int mt = MT_NORMAL;
    if (stored_topic != topic && strcmp(stored_topic, topic) != 0)
        mt = strncmp(stored_topic, "RMQ_SYS_TRANS", 13) == 0 ? MT_TRANSACTION : MT_DELAY;
    t->in_msgs[mt]++;
    t->in_bytes[mt] += body_len;
    pm_hist_observe(&t->size[mt], body_len);
}

void bm_on_put_batch(broker_t *b, const char *topic, const struct store_msg_s *ms, size_t n) {
    bmetrics_t *m = b->metrics;
    if (!m) return;
    bm_topic_t *t = topic_stats(m, topic);
    for (size_t i = 0; i < n; i++) {
        t->in_msgs[MT_NORMAL]++;
        t->in_bytes[MT_NORMAL] += ms[i].body_len;
        pm_hist_observe(&t->size[MT_NORMAL], ms[i].body_len);
    }
}

static bm_cg_t *cg_stats(bmetrics_t *m, const char *topic, const char *group) {
    char key[2 * NAME_MAX_LEN + 2];
    size_t tl = strnlen(topic, NAME_MAX_LEN - 1), gl = strnlen(group, NAME_MAX_LEN - 1);
    memcpy(key, topic, tl);
    key[tl] = '@';
    memcpy(key + tl + 1, group, gl);
    key[tl + 1 + gl] = 0;
    bm_cg_t *c = strmap_get(&m->cgs, key);
    if (!c) {
        c = xcalloc(1, sizeof(*c));
        memcpy(c->topic, topic, tl);
        memcpy(c->group, group, gl);
        strmap_put(&m->cgs, key, c);
    }
    return c;
}

void bm_on_pull(broker_t *b, const char *topic, const char *group, int32_t qid, uint32_t nmsgs,
                uint32_t bytes, int64_t next_offset) {
    bmetrics_t *m = b->metrics;
    if (!m) return;
    bm_cg_t *c = cg_stats(m, topic, group);
    c->out_msgs += nmsgs;
    c->out_bytes += bytes;
    if (qid < 0 || qid >= 1024) return;
    if (qid >= c->nq) {
        int nq = qid + 1;
        c->pull_off = xrealloc(c->pull_off, (size_t)nq * sizeof(int64_t));
        for (int i = c->nq; i < nq; i++) c->pull_off[i] = -1;
        c->nq = nq;
    }
    c->pull_off[qid] = next_offset;
}

void bm_on_dlq(broker_t *b, const char *topic, const char *group) {
    bmetrics_t *m = b->metrics;
    if (!m) return;
    cg_stats(m, topic, group)->dlq++;
}

static void on_observe(int32_t req, int32_t resp, uint64_t ns, void *ctx) {
    broker_t *b = ctx;
    bmetrics_t *m = b->metrics;
    if (!m || resp < 0) return; /* deferred replies are not timed */
    if (req == SEND_MESSAGE || req == SEND_MESSAGE_V2 || req == SEND_BATCH_MESSAGE)
        pm_lat_observe(&m->put_lat, ns / 1000);
    pm_rpc_observe(m->rpc, req, resp, ns);
}

/* ---- rendering (loop thread) ---- */

typedef struct lag_s {
    int64_t lag, ready, inflight, lag_latency, queueing_latency;
    int known;
} lag_t;

typedef struct render_ctx_s {
    broker_t *b;
    bmetrics_t *m;
    buf_t *o;
    const pm_label_t *cl;
    int pass;                 /* which lag family is being written */
    int64_t now;
} render_ctx_t;

/* Lag as RocketMQ 5 defines it, per (topic, group), from queues with a committed offset. */
static void lag_of(broker_t *b, bmetrics_t *m, const char *topic, const char *group,
                   const offset_tab_t *t, int64_t now, lag_t *out) {
    memset(out, 0, sizeof(*out));
    bm_cg_t *c = NULL;
    if (m) {
        char key[2 * NAME_MAX_LEN + 2];
        snprintf(key, sizeof(key), "%s@%s", topic, group);
        c = strmap_get(&m->cgs, key);
    }
    for (int32_t q = 0; q < t->n; q++) {
        int64_t co = t->off[q];
        if (co < 0) continue; /* never committed: unknown */
        out->known = 1;
        int64_t max = bs_max_offset(b, topic, q), min = bs_min_offset(b, topic, q);
        if (co < min) co = min; /* deleted messages cannot be consumed */
        if (co > max) co = max;
        int64_t po = c && q < c->nq && c->pull_off[q] >= co ? c->pull_off[q] : co;
        if (po > max) po = max;
        out->lag += max - co;
        out->ready += max - po;
        out->inflight += po - co;
        if (co < max) {
            int64_t ts = bs_store_time(b, topic, q, co);
            if (ts > 0 && now - ts > out->lag_latency) out->lag_latency = now - ts;
        }
        if (po < max) {
            int64_t ts = bs_store_time(b, topic, q, po);
            if (ts > 0 && now - ts > out->queueing_latency) out->queueing_latency = now - ts;
        }
    }
}

static void lag_sample(const char *topic, const char *group, offset_tab_t *t, void *arg) {
    render_ctx_t *r = arg;
    lag_t l;
    lag_of(r->b, r->m, topic, group, t, r->now, &l);
    if (!l.known) return; /* absent, never 0 */
    pm_label_t lb[2] = {{"topic", topic}, {"consumer_group", group}};
    static const char *const names[] = {
        "rocketmq_consumer_lag_messages", "rocketmq_consumer_ready_messages",
        "rocketmq_consumer_inflight_messages", "rocketmq_consumer_lag_latency",
        "rocketmq_consumer_queueing_latency"};
    int64_t v[] = {l.lag, l.ready, l.inflight, l.lag_latency, l.queueing_latency};
    pm_sample_i64(r->o, names[r->pass], r->cl, 3, lb, 2, v[r->pass]);
}

static void render(buf_t *o, void *arg) {
    broker_t *b = arg;
    bmetrics_t *m = b->metrics;
    m->scrapes++;
    pm_label_t cl[3] = {{"cluster", b->conf.brokerClusterName},
                        {"node_type", "broker"},
                        {"node_id", b->conf.brokerName}};

    pm_family(o, "rocketmq_messages_in_total", "counter", "Messages stored by producers' sends, by topic.");
    STRMAP_FOREACH(&m->topics, e) {
        bm_topic_t *t = e->val;
        for (int k = 0; k < MT_N; k++) {
            pm_label_t lb[2] = {{"topic", e->key}, {"message_type", k_mt[k]}};
            if (t->in_msgs[k] || k == MT_NORMAL)
                pm_sample_i64(o, "rocketmq_messages_in_total", cl, 3, lb, 2, t->in_msgs[k]);
        }
    }
    pm_family(o, "rocketmq_throughput_in_total", "counter", "Message body bytes stored by sends, by topic.");
    STRMAP_FOREACH(&m->topics, e) {
        bm_topic_t *t = e->val;
        for (int k = 0; k < MT_N; k++) {
            pm_label_t lb[2] = {{"topic", e->key}, {"message_type", k_mt[k]}};
            if (t->in_msgs[k] || k == MT_NORMAL)
                pm_sample_i64(o, "rocketmq_throughput_in_total", cl, 3, lb, 2, t->in_bytes[k]);
        }
    }
    pm_family(o, "rocketmq_message_size", "histogram", "Body size of stored messages in bytes, by topic.");
    STRMAP_FOREACH(&m->topics, e) {
        bm_topic_t *t = e->val;
        for (int k = 0; k < MT_N; k++) {
            pm_label_t lb[2] = {{"topic", e->key}, {"message_type", k_mt[k]}};
            if (t->in_msgs[k] || k == MT_NORMAL)
                pm_hist_write(o, "rocketmq_message_size", cl, 3, lb, 2, &t->size[k]);
        }
    }
    pm_family(o, "rocketmq_messages_out_total", "counter", "Messages returned by pulls, by topic and consumer group.");
    STRMAP_FOREACH(&m->cgs, e) {
        bm_cg_t *c = e->val;
        pm_label_t lb[2] = {{"topic", c->topic}, {"consumer_group", c->group}};
        if (c->out_msgs) pm_sample_i64(o, "rocketmq_messages_out_total", cl, 3, lb, 2, c->out_msgs);
    }
    pm_family(o, "rocketmq_throughput_out_total", "counter", "Message record bytes returned by pulls, by topic and consumer group.");
    STRMAP_FOREACH(&m->cgs, e) {
        bm_cg_t *c = e->val;
        pm_label_t lb[2] = {{"topic", c->topic}, {"consumer_group", c->group}};
        if (c->out_msgs) pm_sample_i64(o, "rocketmq_throughput_out_total", cl, 3, lb, 2, c->out_bytes);
    }
    pm_family(o, "rocketmq_send_to_dlq_messages_total", "counter", "Messages moved to the group's DLQ after the last retry, by topic and consumer group.");
    STRMAP_FOREACH(&m->cgs, e) {
        bm_cg_t *c = e->val;
        pm_label_t lb[2] = {{"topic", c->topic}, {"consumer_group", c->group}};
        if (c->dlq) pm_sample_i64(o, "rocketmq_send_to_dlq_messages_total", cl, 3, lb, 2, c->dlq);
    }

    static const char *const lag_fam[][3] = {
        {"rocketmq_consumer_lag_messages", "gauge", "Messages not yet committed: max offset - consumer offset, summed over queues."},
        {"rocketmq_consumer_ready_messages", "gauge", "Messages ready and not yet pulled: max offset - latest pull offset."},
        {"rocketmq_consumer_inflight_messages", "gauge", "Messages pulled but not committed: pull offset - consumer offset."},
        {"rocketmq_consumer_lag_latency", "gauge", "Milliseconds since the oldest uncommitted message was stored."},
        {"rocketmq_consumer_queueing_latency", "gauge", "Milliseconds since the oldest ready (unpulled) message was stored."}};
    render_ctx_t rc = {b, m, o, cl, 0, now_ms()};
    for (int p = 0; p < 5; p++) {
        pm_family(o, lag_fam[p][0], lag_fam[p][1], lag_fam[p][2]);
        rc.pass = p;
        offsets_each(b, lag_sample, &rc);
    }

    pm_rpc_write(o, m->rpc, cl, 3);

    pm_family(o, "petrel_put_latency_microseconds", "summary", "Send request handling time (store append included) in microseconds; quantiles from 4-per-octave buckets, upper bounds.");
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    static const char *const qn[] = {"0.5", "0.9", "0.99", "0.999"};
    for (int k = 0; k < 4; k++) {
        pm_label_t lb[1] = {{"quantile", qn[k]}};
        pm_sample_f(o, "petrel_put_latency_microseconds", cl, 3, lb, 1, pm_lat_quantile(&m->put_lat, qs[k]));
    }
    pm_sample_i64(o, "petrel_put_latency_microseconds_sum", cl, 3, NULL, 0, (int64_t)m->put_lat.sum_us);
    pm_sample_i64(o, "petrel_put_latency_microseconds_count", cl, 3, NULL, 0, (int64_t)m->put_lat.count);

    store_stats_t st;
    store_get_stats(b->store, &st);
    int64_t cmax = store_commitlog_max_offset(b->store), cflushed = store_flushed_offset(b->store);
    pm_family(o, "rocketmq_storage_dispatch_behind_bytes", "gauge", "Commit log bytes not yet dispatched (index, arrivals).");
    pm_sample_i64(o, "rocketmq_storage_dispatch_behind_bytes", cl, 3, NULL, 0, st.dispatch_behind_bytes);
    pm_family(o, "rocketmq_storage_flush_behind_bytes", "gauge", "Commit log bytes written but not yet fsynced.");
    pm_sample_i64(o, "rocketmq_storage_flush_behind_bytes", cl, 3, NULL, 0, cmax > cflushed ? cmax - cflushed : 0);
    pm_family(o, "petrel_storage_commitlog_max_offset", "gauge", "Commit log end (bytes ever written).");
    pm_sample_i64(o, "petrel_storage_commitlog_max_offset", cl, 3, NULL, 0, cmax);
    pm_family(o, "petrel_storage_disk_used_ratio", "gauge", "Used fraction of the commit log's partition.");
    pm_sample_f(o, "petrel_storage_disk_used_ratio", cl, 3, NULL, 0, store_disk_usage_percent(b->store) / 100.0);

    int ntopics = 0, nsys = 0;
    STRMAP_FOREACH(&b->topics, e) {
        if (topics_is_system(b, e->key)) nsys++;
        else ntopics++;
    }
    pm_family(o, "rocketmq_topic_number", "gauge", "Topics on this broker (system topics excluded).");
    pm_sample_i64(o, "rocketmq_topic_number", cl, 3, NULL, 0, ntopics);
    pm_family(o, "rocketmq_consumer_group_number", "gauge", "Subscription groups on this broker.");
    pm_sample_i64(o, "rocketmq_consumer_group_number", cl, 3, NULL, 0, (int64_t)b->groups.n);
    int64_t cconns = 0, pconns = 0;
    STRMAP_FOREACH(&b->cgroups, e) cconns += ((cgroup_t *)e->val)->nchans;
    STRMAP_FOREACH(&b->pgroups, e) pconns += ((pgroup_t *)e->val)->nchans;
    pm_family(o, "rocketmq_consumer_connections", "gauge", "Consumer client channels known from heartbeats, summed over groups.");
    pm_sample_i64(o, "rocketmq_consumer_connections", cl, 3, NULL, 0, cconns);
    pm_family(o, "rocketmq_producer_connections", "gauge", "Producer client channels known from heartbeats, summed over groups.");
    pm_sample_i64(o, "rocketmq_producer_connections", cl, 3, NULL, 0, pconns);
    pm_family(o, "petrel_open_connections", "gauge", "Open remoting (TCP) connections.");
    pm_sample_i64(o, "petrel_open_connections", cl, 3, NULL, 0, b->srv ? rm_server_conn_count(b->srv) : 0);
    pm_family(o, "petrel_long_polling_held", "gauge", "Pull requests held by long polling.");
    pm_sample_i64(o, "petrel_long_polling_held", cl, 3, NULL, 0, (int64_t)atomic_load(&b->nholds));

    pm_family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    pm_sample_i64(o, "process_resident_memory_bytes", NULL, 0, NULL, 0, pm_process_rss());
    pm_family(o, "process_open_fds", "gauge", "Open file descriptors.");
    pm_sample_i64(o, "process_open_fds", NULL, 0, NULL, 0, pm_process_open_fds());
    pm_family(o, "process_start_time_seconds", "gauge", "Start time of the broker since the Unix epoch in seconds.");
    pm_sample_f(o, "process_start_time_seconds", NULL, 0, NULL, 0, (double)b->boot_ts / 1000.0);
    pm_family(o, "petrel_scrapes_total", "counter", "Scrapes of this endpoint.");
    pm_sample_i64(o, "petrel_scrapes_total", cl, 3, NULL, 0, m->scrapes);
}

/* ---- HTTP (its own thread) ---- */

static void on_http(const http_req_t *r, http_resp_t *resp, void *arg) {
    broker_t *b = arg;
    if (strcmp(r->url, "/metrics") != 0) {
        if (strcmp(r->url, "/") == 0) {
            resp->ctype = "text/html; charset=utf-8";
            buf_append_str(&resp->body, "<!doctype html><title>Petrel broker metrics</title>"
                                        "<p><a href=\"/metrics\">/metrics</a></p>\n");
            return;
        }
        resp->status = 404;
        buf_append_str(&resp->body, "not found\n");
        return;
    }
    if (pm_bridge_call(&b->metrics->bridge, &resp->body, 5000) != 0) {
        resp->status = 503;
        buf_reset(&resp->body);
        buf_append_str(&resp->body, "the broker loop did not answer\n");
        return;
    }
    resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- life cycle ---- */

void bm_start(broker_t *b) {
    if (b->conf.metricsPort < 0) return;
    bmetrics_t *m = xcalloc(1, sizeof(*m));
    strmap_init(&m->topics);
    strmap_init(&m->cgs);
    m->rpc = pm_rpc_new();
    b->metrics = m;
    if (pm_bridge_init(&m->bridge, &b->loop, render, b) != 0) {
        log_warn("metrics: cannot create the loop bridge; metrics off");
        return;
    }
    m->bridge_open = 1;
    rm_server_observe(b->srv, on_observe, b);
    char err[256];
    m->http = http_start(b->conf.metricsHost, b->conf.metricsPort, 0, on_http, b, err, sizeof(err));
    if (!m->http)
        log_warn("metrics: %s (metricsPort); the broker runs without /metrics", err);
    else
        log_info("metrics: Prometheus endpoint http://%s:%d/metrics",
                 b->conf.metricsHost && *b->conf.metricsHost ? b->conf.metricsHost : "0.0.0.0",
                 http_port(m->http));
}

int bm_port(const broker_t *b) { return b->metrics ? http_port(b->metrics->http) : 0; }

void bm_stop_http(broker_t *b) {
    if (!b->metrics) return;
    http_stop(b->metrics->http);
    b->metrics->http = NULL;
}

void bm_close_handles(broker_t *b) {
    if (b->metrics && b->metrics->bridge_open) {
        pm_bridge_close(&b->metrics->bridge, NULL);
        b->metrics->bridge_open = 0;
    }
}

static void free_map(strmap_t *m, int cg) {
    STRMAP_FOREACH(m, e) {
        if (cg) free(((bm_cg_t *)e->val)->pull_off);
        free(e->val);
    }
    strmap_free(m);
}

void bm_free(broker_t *b) {
    bmetrics_t *m = b->metrics;
    if (!m) return;
    http_stop(m->http);
    pm_bridge_destroy(&m->bridge);
    free_map(&m->topics, 0);
    free_map(&m->cgs, 1);
    pm_rpc_free(m->rpc);
    free(m);
    b->metrics = NULL;
}
