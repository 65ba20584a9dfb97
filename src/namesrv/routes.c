/*
 * routes: see routes.h. Route logic follows RocketMQ's RouteInfoManager
 * (facts from remoting-protocol.md section 3); the code is ours.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "namesrv/routes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/util.h"
#include "common/strmap.h"

/* ---- types ---------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} strset_t; /* sorted, unique */

typedef struct {
    int64_t id;
    char *addr;
} baddr_t;

typedef struct {
    char *name;
    char *cluster;
    char *zone;
    int acting_master;
    baddr_t *addrs; /* sorted by id */
    size_t n, cap;
} broker_t;

typedef struct {
    char *broker_name;
    int32_t read_queues, write_queues, perm, sysflag;
} qdata_t;

typedef struct {
    qdata_t *q; /* sorted by broker_name */
    size_t n, cap;
    buf_t cache;        /* TopicRouteData JSON */
    uint64_t cache_gen; /* r->gen when built (0 = never) */
    char *cache_oc;     /* orderTopicConf it was built with */
} topic_t;

typedef struct {
    char *cluster, *addr, *broker_name, *ha_addr;
    int64_t broker_id;
    int64_t last_update, timeout_ms;
    ns_dv_t dv;
    uint64_t conn_id;
    void *conn;
    strset_t filters;
} live_t;

struct ns_routes_s {
    strmap_t topics;   /* topic -> topic_t */
    strmap_t brokers;  /* brokerName -> broker_t */
    strmap_t clusters; /* cluster -> strset_t of broker names */
    strmap_t live;     /* "cluster\naddr" -> live_t */
    uint64_t gen;     /* bumped on every change that can alter a route */
};

/* ---- small helpers ------------------------------------------------------- */

static int streq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static void set_str(char **dst, const char *s) {
    if (streq(*dst, s)) return;
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

static size_t strset_find(const strset_t *s, const char *k, int *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->v[mid], k);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static int strset_add(strset_t *s, const char *k) {
    int found;
    size_t i = strset_find(s, k, &found);
    if (found) return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = xstrdup(k);
    s->n++;
    return 1;
}

static int strset_del(strset_t *s, const char *k) {
    int found;
    size_t i = strset_find(s, k, &found);
    if (!found) return 0;
    free(s->v[i]);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
    return 1;
}

static void strset_free(strset_t *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void live_key(char *out, size_t n, const char *cluster, const char *addr) {
    snprintf(out, n, "%s\n%s", cluster ? cluster : "", addr ? addr : "");
}

static void broker_free(broker_t *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) free(b->addrs[i].addr);
    free(b->addrs);
    free(b->name);
    free(b->cluster);
    free(b->zone);
    free(b);
}

static const char *broker_addr_of(const broker_t *b, int64_t id) {
    for (size_t i = 0; i < b->n; i++)
        if (b->addrs[i].id == id) return b->addrs[i].addr;
    return NULL;
}

/* Sets addrs[id] = addr; returns 1 when id was new. */
static int broker_put_addr(broker_t *b, int64_t id, const char *addr) {
    size_t i = 0;
    while (i < b->n && b->addrs[i].id < id) i++;
    if (i < b->n && b->addrs[i].id == id) {
        set_str(&b->addrs[i].addr, addr);
        return 0;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 2;
        b->addrs = xrealloc(b->addrs, b->cap * sizeof(*b->addrs));
    }
    memmove(&b->addrs[i + 1], &b->addrs[i], (b->n - i) * sizeof(*b->addrs));
    b->addrs[i].id = id;
    b->addrs[i].addr = xstrdup(addr);
    b->n++;
    return 1;
}

static void broker_del_at(broker_t *b, size_t i) {
    free(b->addrs[i].addr);
    memmove(&b->addrs[i], &b->addrs[i + 1], (b->n - i - 1) * sizeof(*b->addrs));
    b->n--;
}

static void topic_free(topic_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->q[i].broker_name);
    free(t->q);
    buf_free(&t->cache);
    free(t->cache_oc);
    free(t);
}

static qdata_t *topic_find_q(topic_t *t, const char *broker_name) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->q[i].broker_name, broker_name) == 0) return &t->q[i];
    return NULL;
}

/* Creates or replaces the QueueData of broker_name; returns 1 if anything changed. */
static int topic_put_q(topic_t *t, const char *broker_name, int32_t rq, int32_t wq, int32_t perm,
                       int32_t sysflag) {
    qdata_t *q = topic_find_q(t, broker_name);
    if (q) {
        if (q->read_queues == rq && q->write_queues == wq && q->perm == perm &&
            q->sysflag == sysflag)
            return 0;
    } else {
        size_t i = 0;
        while (i < t->n && strcmp(t->q[i].broker_name, broker_name) < 0) i++;
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 2;
            t->q = xrealloc(t->q, t->cap * sizeof(*t->q));
        }
        memmove(&t->q[i + 1], &t->q[i], (t->n - i) * sizeof(*t->q));
        q = &t->q[i];
        q->broker_name = xstrdup(broker_name);
        t->n++;
    }
    q->read_queues = rq;
    q->write_queues = wq;
    q->perm = perm;
    q->sysflag = sysflag;
    return 1;
}

static int topic_del_q(topic_t *t, const char *broker_name) {
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->q[i].broker_name, broker_name) == 0) {
            free(t->q[i].broker_name);
            memmove(&t->q[i], &t->q[i + 1], (t->n - i - 1) * sizeof(*t->q));
            t->n--;
            return 1;
        }
    }
    return 0;
}

static void live_free(live_t *l) {
    if (!l) return;
    free(l->cluster);
    free(l->addr);
    free(l->broker_name);
    free(l->ha_addr);
    strset_free(&l->filters);
    free(l);
}

/* ---- lifecycle ----------------------------------------------------------- */

ns_routes_t *ns_routes_create(void) {
    ns_routes_t *r = xcalloc(1, sizeof(*r));
    strmap_init(&r->topics);
    strmap_init(&r->brokers);
    strmap_init(&r->clusters);
    strmap_init(&r->live);
    r->gen = 1;
    return r;
}

void ns_routes_destroy(ns_routes_t *r) {
    if (!r) return;
    STRMAP_FOREACH(&r->topics, e)
        topic_free(e->val);
    STRMAP_FOREACH(&r->brokers, e)
        broker_free(e->val);
    STRMAP_FOREACH(&r->clusters, e) {
        strset_free(e->val);
        free(e->val);
    }
    STRMAP_FOREACH(&r->live, e)
        live_free(e->val);
    strmap_free(&r->topics);
    strmap_free(&r->brokers);
    strmap_free(&r->clusters);
    strmap_free(&r->live);
    free(r);
}

/* ---- removal ------------------------------------------------------------- */

/* Removes broker_name's QueueData from every topic (and topics left empty). */
static void remove_topics_of_broker(ns_routes_t *r, const char *broker_name) {
    size_t n;
    const char **keys = strmap_sorted_keys(&r->topics, &n);
    char **dead = xmalloc((n ? n : 1) * sizeof(*dead));
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        topic_t *t = strmap_get(&r->topics, keys[i]);
        if (topic_del_q(t, broker_name) && t->n == 0) dead[nd++] = xstrdup(keys[i]);
    }
    free(keys);
    for (size_t i = 0; i < nd; i++) {
        log_info("topic %s removed: no broker left", dead[i]);
        topic_free(strmap_del(&r->topics, dead[i]));
        free(dead[i]);
    }
    free(dead);
}

/* Drops a whole brokerName: its BrokerData, its cluster membership, its queues. */
static void remove_broker_name(ns_routes_t *r, const char *name) {
    broker_t *b = strmap_del(&r->brokers, name);
    broker_free(b);
    /* every cluster set holding it (a broker may have moved between clusters) */
    size_t nc;
    const char **ck = strmap_sorted_keys(&r->clusters, &nc);
    for (size_t i = 0; i < nc; i++) {
        strset_t *s = strmap_get(&r->clusters, ck[i]);
        if (strset_del(s, name) && s->n == 0) {
            char *k = xstrdup(ck[i]);
            strset_free(strmap_del(&r->clusters, k));
            free(s);
            log_info("cluster %s removed: no broker left", k);
            free(k);
        }
    }
    free(ck);
    remove_topics_of_broker(r, name);
}

/*
 * Removes the live entry (cluster, addr) and the address from its broker
 * (every id mapped to addr, or only `id` when id >= 0), and the brokerName
 * when it has no address left.
 */
static int remove_addr(ns_routes_t *r, const char *cluster, const char *addr,
                       const char *broker_name_hint, int64_t id, const char *why) {
    char key[1024];
    live_key(key, sizeof(key), cluster, addr);
    live_t *l = strmap_del(&r->live, key);
    const char *bname = broker_name_hint ? broker_name_hint : l ? l->broker_name : NULL;
    int changed = l != NULL;
    if (l) log_info("broker %s %s (cluster %s, id %" PRId64 ") removed: %s", l->broker_name,
                    l->addr, l->cluster, l->broker_id, why);
    broker_t *b = bname ? strmap_get(&r->brokers, bname) : NULL;
    if (b) {
        for (size_t i = b->n; i-- > 0;) {
            if (id >= 0 ? b->addrs[i].id == id : strcmp(b->addrs[i].addr, addr) == 0) {
                broker_del_at(b, i);
                changed = 1;
            }
        }
        if (b->n == 0) {
            char *name = xstrdup(b->name);
            remove_broker_name(r, name);
            free(name);
        }
    }
    live_free(l);
    if (changed) r->gen++;
    return changed;
}

/* ---- registration -------------------------------------------------------- */

void ns_routes_register(ns_routes_t *r, const ns_reg_req_t *req, const ns_reg_body_t *body,
                        int64_t now, ns_reg_result_t *res) {
    memset(res, 0, sizeof(*res));
    strset_t *cs = strmap_get(&r->clusters, req->cluster);
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        strmap_put(&r->clusters, req->cluster, cs);
    }
    if (strset_add(cs, req->broker_name)) r->gen++;

    int first = 0;
    broker_t *b = strmap_get(&r->brokers, req->broker_name);
    if (!b) {
        b = xcalloc(1, sizeof(*b));
        b->name = xstrdup(req->broker_name);
        b->cluster = xstrdup(req->cluster);
        strmap_put(&r->brokers, req->broker_name, b);
        first = 1;
        r->gen++;
    }
    if (!streq(b->cluster, req->cluster) || !streq(b->zone, req->zone) ||
        b->acting_master != req->acting_master) {
        set_str(&b->cluster, req->cluster);
        set_str(&b->zone, req->zone);
        b->acting_master = req->acting_master;
        r->gen++;
    }
    /* a slave switched to master (or back): drop the old id of this address */
    for (size_t i = b->n; i-- > 0;) {
        if (b->addrs[i].id != req->broker_id && strcmp(b->addrs[i].addr, req->broker_addr) == 0) {
            broker_del_at(b, i);
            r->gen++;
        }
    }
    const char *old = broker_addr_of(b, req->broker_id);
    if (!old || strcmp(old, req->broker_addr) != 0) r->gen++;
    if (broker_put_addr(b, req->broker_id, req->broker_addr)) first = 1;

    char key[1024];
    live_key(key, sizeof(key), req->cluster, req->broker_addr);
    live_t *l = strmap_get(&r->live, key);
    ns_dv_t dv = body ? body->dv : (ns_dv_t){0, 0, 0};
    int dv_changed = !l || l->dv.counter != dv.counter || l->dv.timestamp != dv.timestamp ||
                     l->dv.state != dv.state;

    if (body && req->broker_id == NS_MASTER_ID) {
        for (size_t i = 0; i < body->ntopics; i++) {
            const ns_topic_cfg_t *tc = &body->topics[i];
            topic_t *t = strmap_get(&r->topics, tc->name);
            /* as RocketMQ 5: a same-version registration still restores a
             * topic this broker lost (e.g. after DELETE_TOPIC_IN_NAMESRV) */
            if (!dv_changed && !first && t && topic_find_q(t, req->broker_name)) continue;
            if (!t) {
                t = xcalloc(1, sizeof(*t));
                strmap_put(&r->topics, tc->name, t);
                log_info("new topic %s registered by %s", tc->name, req->broker_name);
            }
            if (topic_put_q(t, req->broker_name, tc->read_queues, tc->write_queues, tc->perm,
                            tc->sysflag))
                r->gen++;
        }
    }

    if (!l) {
        l = xcalloc(1, sizeof(*l));
        l->cluster = xstrdup(req->cluster);
        l->addr = xstrdup(req->broker_addr);
        strmap_put(&r->live, key, l);
        log_info("new broker registered: %s %s (cluster %s, id %" PRId64 ")", req->broker_name,
                 req->broker_addr, req->cluster, req->broker_id);
    }
    set_str(&l->broker_name, req->broker_name);
    set_str(&l->ha_addr, req->ha_addr);
    l->broker_id = req->broker_id;
    l->last_update = now;
    l->timeout_ms = req->timeout_ms;
    l->dv = dv;
    l->conn_id = req->conn_id;
    l->conn = req->conn;

    if (body) {
        strset_t nf = {0};
        for (size_t i = 0; i < body->nfilters; i++) strset_add(&nf, body->filters[i]);
        int same = nf.n == l->filters.n;
        for (size_t i = 0; same && i < nf.n; i++) same = strcmp(nf.v[i], l->filters.v[i]) == 0;
        if (!same) r->gen++;
        strset_free(&l->filters);
        l->filters = nf;
    }

    if (req->broker_id != NS_MASTER_ID) {
        const char *m = broker_addr_of(b, NS_MASTER_ID);
        if (m) {
            live_t *ml = NULL;
            STRMAP_FOREACH(&r->live, e) {
                live_t *x = e->val;
                if (strcmp(x->addr, m) == 0 && streq(x->broker_name, req->broker_name)) ml = x;
            }
            if (ml) {
                snprintf(res->master_addr, sizeof(res->master_addr), "%s", m);
                snprintf(res->ha_addr, sizeof(res->ha_addr), "%s", ml->ha_addr ? ml->ha_addr : "");
            }
        }
    }
}

int ns_routes_unregister(ns_routes_t *r, const char *cluster, const char *addr,
                         const char *broker_name, int64_t broker_id) {
    return remove_addr(r, cluster, addr, broker_name, broker_id, "unregistered");
}

int ns_routes_query_dv(ns_routes_t *r, const char *cluster, const char *addr,
                       const ns_dv_t *dv, int64_t now, int *known, ns_dv_t *stored) {
    char key[1024];
    live_key(key, sizeof(key), cluster, addr);
    live_t *l = strmap_get(&r->live, key);
    *known = l != NULL;
    if (!l) return 1;
    *stored = l->dv;
    l->last_update = now;
    return l->dv.counter != dv->counter || l->dv.timestamp != dv->timestamp ||
           l->dv.state != dv->state;
}

int ns_routes_heartbeat(ns_routes_t *r, const char *cluster, const char *addr, int64_t now) {
    char key[1024];
    live_key(key, sizeof(key), cluster, addr);
    live_t *l = strmap_get(&r->live, key);
    if (!l) return -1;
    l->last_update = now;
    return 0;
}

typedef struct {
    char *cluster, *addr, *name;
} victim_t;

static size_t remove_victims(ns_routes_t *r, victim_t *v, size_t n, const char *why) {
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        removed += (size_t)remove_addr(r, v[i].cluster, v[i].addr, v[i].name, -1, why);
        free(v[i].cluster);
        free(v[i].addr);
        free(v[i].name);
    }
    free(v);
    return removed;
}

size_t ns_routes_scan(ns_routes_t *r, int64_t now, void (*expired)(void *conn, void *arg),
                      void *arg) {
    victim_t *v = xmalloc((strmap_len(&r->live) + 1) * sizeof(*v));
    void **conns = xmalloc((strmap_len(&r->live) + 1) * sizeof(*conns));
    size_t n = 0, nc = 0;
    STRMAP_FOREACH(&r->live, e) {
        live_t *l = e->val;
        if (l->last_update + l->timeout_ms < now) {
            v[n].cluster = xstrdup(l->cluster);
            v[n].addr = xstrdup(l->addr);
            v[n].name = xstrdup(l->broker_name);
            n++;
            int dup = !l->conn;
            for (size_t i = 0; i < nc && !dup; i++) dup = conns[i] == l->conn;
            if (!dup) conns[nc++] = l->conn;
        }
    }
    size_t removed = remove_victims(r, v, n, "not registered within its timeout");
    for (size_t i = 0; i < nc && expired; i++) expired(conns[i], arg);
    free(conns);
    return removed;
}

size_t ns_routes_conn_closed(ns_routes_t *r, uint64_t conn_id) {
    if (!conn_id) return 0;
    victim_t *v = xmalloc((strmap_len(&r->live) + 1) * sizeof(*v));
    size_t n = 0;
    STRMAP_FOREACH(&r->live, e) {
        live_t *l = e->val;
        if (l->conn_id == conn_id) {
            v[n].cluster = xstrdup(l->cluster);
            v[n].addr = xstrdup(l->addr);
            v[n].name = xstrdup(l->broker_name);
            n++;
        }
    }
    return remove_victims(r, v, n, "its connection closed");
}

size_t ns_routes_live_count(const ns_routes_t *r) { return strmap_len(&r->live); }

int ns_routes_has_topic(const ns_routes_t *r, const char *topic) {
    return strmap_get(&r->topics, topic) != NULL;
}

/* ---- JSON output --------------------------------------------------------- */

void ns_dv_json(const ns_dv_t *dv, buf_t *out) {
    buf_printf(out, "{\"counter\":%" PRId64 ",\"stateVersion\":%" PRId64 ",\"timestamp\":%" PRId64
                    "}",
               dv->counter, dv->state, dv->timestamp);
}

static void json_key(buf_t *out, const char *k) {
    buf_json_str(out, k, strlen(k));
    buf_put_u8(out, ':');
}

static void broker_json(const broker_t *b, buf_t *out) {
    buf_append_str(out, "{\"brokerAddrs\":{");
    for (size_t i = 0; i < b->n; i++) {
        buf_printf(out, "%s\"%" PRId64 "\":", i ? "," : "", b->addrs[i].id);
        buf_json_str(out, b->addrs[i].addr, strlen(b->addrs[i].addr));
    }
    buf_append_str(out, "},\"brokerName\":");
    buf_json_str(out, b->name, strlen(b->name));
    buf_append_str(out, ",\"cluster\":");
    buf_json_str(out, b->cluster, strlen(b->cluster));
    buf_printf(out, ",\"enableActingMaster\":%s", b->acting_master ? "true" : "false");
    if (b->zone) {
        buf_append_str(out, ",\"zoneName\":");
        buf_json_str(out, b->zone, strlen(b->zone));
    }
    buf_put_u8(out, '}');
}

static live_t *live_by_addr(ns_routes_t *r, const char *cluster, const char *addr) {
    char key[1024];
    live_key(key, sizeof(key), cluster, addr);
    return strmap_get(&r->live, key);
}

static void build_route(ns_routes_t *r, topic_t *t, const char *order_conf, buf_t *out) {
    buf_reset(out);
    buf_append_str(out, "{\"brokerDatas\":[");
    int nb = 0;
    for (size_t i = 0; i < t->n; i++) {
        broker_t *b = strmap_get(&r->brokers, t->q[i].broker_name);
        if (!b) continue;
        if (nb++) buf_put_u8(out, ',');
        broker_json(b, out);
    }
    buf_append_str(out, "],\"filterServerTable\":{");
    int nf = 0;
    for (size_t i = 0; i < t->n; i++) {
        broker_t *b = strmap_get(&r->brokers, t->q[i].broker_name);
        if (!b) continue;
        for (size_t j = 0; j < b->n; j++) {
            live_t *l = live_by_addr(r, b->cluster, b->addrs[j].addr);
            if (!l || l->filters.n == 0) continue;
            if (nf++) buf_put_u8(out, ',');
            json_key(out, b->addrs[j].addr);
            buf_put_u8(out, '[');
            for (size_t k = 0; k < l->filters.n; k++) {
                if (k) buf_put_u8(out, ',');
                buf_json_str(out, l->filters.v[k], strlen(l->filters.v[k]));
            }
            buf_put_u8(out, ']');
        }
    }
    buf_put_u8(out, '}');
    if (order_conf) {
        buf_append_str(out, ",\"orderTopicConf\":");
        buf_json_str(out, order_conf, strlen(order_conf));
    }
    buf_append_str(out, ",\"queueDatas\":[");
    for (size_t i = 0; i < t->n; i++) {
        const qdata_t *q = &t->q[i];
        if (i) buf_put_u8(out, ',');
        buf_append_str(out, "{\"brokerName\":");
        buf_json_str(out, q->broker_name, strlen(q->broker_name));
        /* topicSynFlag is 4.x's spelling (Go reads it), topicSysFlag 5.x's */
        buf_printf(out,
                   ",\"perm\":%d,\"readQueueNums\":%d,\"topicSynFlag\":%d,\"topicSysFlag\":%d,"
                   "\"writeQueueNums\":%d}",
                   q->perm, q->read_queues, q->sysflag, q->sysflag, q->write_queues);
    }
    buf_append_str(out, "]}");
}

int ns_routes_topic_route(ns_routes_t *r, const char *topic, const char *order_conf,
                          const uint8_t **json, size_t *len) {
    topic_t *t = strmap_get(&r->topics, topic);
    if (!t || t->n == 0) return -1;
    if (t->cache_gen != r->gen || !streq(t->cache_oc, order_conf)) {
        int any = 0;
        for (size_t i = 0; i < t->n && !any; i++)
            any = strmap_get(&r->brokers, t->q[i].broker_name) != NULL;
        if (!any) return -1;
        build_route(r, t, order_conf, &t->cache);
        t->cache_gen = r->gen;
        set_str(&t->cache_oc, order_conf);
    }
    *json = t->cache.data;
    *len = t->cache.len;
    return 0;
}

void ns_routes_cluster_info(ns_routes_t *r, buf_t *out) {
    size_t n;
    const char **k = strmap_sorted_keys(&r->brokers, &n);
    buf_append_str(out, "{\"brokerAddrTable\":{");
    for (size_t i = 0; i < n; i++) {
        if (i) buf_put_u8(out, ',');
        json_key(out, k[i]);
        broker_json(strmap_get(&r->brokers, k[i]), out);
    }
    free(k);
    buf_append_str(out, "},\"clusterAddrTable\":{");
    k = strmap_sorted_keys(&r->clusters, &n);
    for (size_t i = 0; i < n; i++) {
        strset_t *s = strmap_get(&r->clusters, k[i]);
        if (i) buf_put_u8(out, ',');
        json_key(out, k[i]);
        buf_put_u8(out, '[');
        for (size_t j = 0; j < s->n; j++) {
            if (j) buf_put_u8(out, ',');
            buf_json_str(out, s->v[j], strlen(s->v[j]));
        }
        buf_put_u8(out, ']');
    }
    free(k);
    buf_append_str(out, "}}");
}

static void topic_list_json(const char **names, size_t n, const char *broker_addr, buf_t *out) {
    buf_put_u8(out, '{');
    if (broker_addr) {
        buf_append_str(out, "\"brokerAddr\":");
        buf_json_str(out, broker_addr, strlen(broker_addr));
        buf_put_u8(out, ',');
    }
    buf_append_str(out, "\"topicList\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) buf_put_u8(out, ',');
        buf_json_str(out, names[i], strlen(names[i]));
    }
    buf_append_str(out, "]}");
}

void ns_routes_all_topics(ns_routes_t *r, buf_t *out) {
    size_t n;
    const char **k = strmap_sorted_keys(&r->topics, &n);
    topic_list_json(k, n, NULL, out);
    free(k);
}

void ns_routes_topics_by_cluster(ns_routes_t *r, const char *cluster, buf_t *out) {
    size_t n, m = 0;
    const char **k = strmap_sorted_keys(&r->topics, &n);
    strset_t *s = strmap_get(&r->clusters, cluster);
    for (size_t i = 0; i < n && s; i++) {
        topic_t *t = strmap_get(&r->topics, k[i]);
        int hit = 0;
        for (size_t j = 0; j < t->n && !hit; j++) {
            int found;
            strset_find(s, t->q[j].broker_name, &found);
            hit = found;
        }
        if (hit) k[m++] = k[i];
    }
    topic_list_json(k, m, NULL, out);
    free(k);
}

void ns_routes_system_topics(ns_routes_t *r, buf_t *out) {
    strset_t all = {0};
    STRMAP_FOREACH(&r->clusters, e) {
        strset_t *s = e->val;
        strset_add(&all, e->key);
        for (size_t i = 0; i < s->n; i++) strset_add(&all, s->v[i]);
    }
    const char *addr = NULL;
    size_t n;
    const char **k = strmap_sorted_keys(&r->brokers, &n);
    for (size_t i = 0; i < n && !addr; i++) {
        broker_t *b = strmap_get(&r->brokers, k[i]);
        if (b->n) addr = b->addrs[0].addr;
    }
    free(k);
    topic_list_json((const char **)all.v, all.n, addr, out);
    strset_free(&all);
}

void ns_routes_unit_topics(ns_routes_t *r, int want_unit, int want_sub, buf_t *out) {
    size_t n, m = 0;
    const char **k = strmap_sorted_keys(&r->topics, &n);
    for (size_t i = 0; i < n; i++) {
        topic_t *t = strmap_get(&r->topics, k[i]);
        if (!t->n) continue;
        int unit = (t->q[0].sysflag & NS_FLAG_UNIT) != 0;
        int sub = (t->q[0].sysflag & NS_FLAG_UNIT_SUB) != 0;
        if ((want_unit < 0 || unit == want_unit) && (want_sub < 0 || sub == want_sub))
            k[m++] = k[i];
    }
    topic_list_json(k, m, NULL, out);
    free(k);
}

int ns_routes_delete_topic(ns_routes_t *r, const char *topic, const char *cluster) {
    topic_t *t = strmap_get(&r->topics, topic);
    if (!t) return 0;
    if (cluster && *cluster) {
        strset_t *s = strmap_get(&r->clusters, cluster);
        for (size_t i = 0; s && i < s->n; i++) topic_del_q(t, s->v[i]);
        if (t->n == 0) topic_free(strmap_del(&r->topics, topic));
    } else {
        topic_free(strmap_del(&r->topics, topic));
    }
    r->gen++;
    log_info("topic %s deleted%s%s", topic, cluster && *cluster ? " in cluster " : "",
             cluster && *cluster ? cluster : "");
    return 1;
}

int ns_routes_write_perm(ns_routes_t *r, const char *broker_name, int wipe) {
    int count = 0;
    STRMAP_FOREACH(&r->topics, e) {
        topic_t *t = e->val;
        qdata_t *q = topic_find_q(t, broker_name);
        if (!q) continue;
        /* RocketMQ's add sets exactly READ|WRITE (dropping INHERIT) */
        q->perm = wipe ? (q->perm & ~NS_PERM_WRITE) : (NS_PERM_READ | NS_PERM_WRITE);
        count++;
    }
    r->gen++;
    return count;
}

void ns_routes_member_group(ns_routes_t *r, const char *cluster, const char *broker_name,
                            buf_t *out) {
    broker_t *b = strmap_get(&r->brokers, broker_name);
    buf_append_str(out, "{\"brokerMemberGroup\":{\"brokerAddrs\":{");
    for (size_t i = 0; b && i < b->n; i++) {
        buf_printf(out, "%s\"%" PRId64 "\":", i ? "," : "", b->addrs[i].id);
        buf_json_str(out, b->addrs[i].addr, strlen(b->addrs[i].addr));
    }
    buf_append_str(out, "},\"brokerName\":");
    buf_json_str(out, broker_name, strlen(broker_name));
    buf_append_str(out, ",\"cluster\":");
    buf_json_str(out, cluster, strlen(cluster));
    buf_append_str(out, "}}");
}

/* ---- JSON input ---------------------------------------------------------- */

int ns_json_strict(const char *in, size_t len, buf_t *out) {
    char stack[512]; /* 'o' object, 'a' array */
    int depth = 0, expect_key = 0;
    buf_reset(out);
    buf_reserve(out, len + 16);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '"') { /* copy the whole string */
            size_t j = i + 1;
            while (j < len && in[j] != '"') j += in[j] == '\\' ? 2 : 1;
            if (j >= len) j = len - 1;
            buf_append(out, in + i, j - i + 1);
            i = j;
            expect_key = 0;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth >= (int)sizeof(stack)) return -1;
            stack[depth++] = c == '{' ? 'o' : 'a';
            expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            if (depth > 0) depth--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = depth > 0 && stack[depth - 1] == 'o';
        } else if (expect_key && (c == '-' || (c >= '0' && c <= '9'))) {
            size_t j = i;
            while (j < len && (in[j] == '-' || in[j] == '+' || in[j] == '.' ||
                               (in[j] >= '0' && in[j] <= '9')))
                j++;
            buf_put_u8(out, '"');
            buf_append(out, in + i, j - i);
            buf_put_u8(out, '"');
            i = j - 1;
            expect_key = 0;
            continue;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            expect_key = 0;
        }
        buf_put_u8(out, (uint8_t)c);
    }
    buf_put_u8(out, 0);
    out->len--;
    return 0;
}

static cJSON *parse_relaxed(const char *p, size_t len) {
    buf_t b;
    buf_init(&b);
    cJSON *j = NULL;
    if (ns_json_strict(p, len, &b) == 0) j = cJSON_ParseWithLength((const char *)b.data, b.len);
    buf_free(&b);
    return j;
}

static int64_t jnum(const cJSON *o, const char *k, int64_t def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) return (int64_t)v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring[0]) return strtoll(v->valuestring, NULL, 10);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return def;
}

static void dv_from_json(const cJSON *o, ns_dv_t *dv) {
    dv->counter = jnum(o, "counter", 0);
    dv->timestamp = jnum(o, "timestamp", 0);
    dv->state = jnum(o, "stateVersion", 0);
}

int ns_dv_parse(const char *json, size_t len, ns_dv_t *dv) {
    cJSON *j = parse_relaxed(json, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    dv_from_json(j, dv);
    cJSON_Delete(j);
    return 0;
}

void ns_reg_body_free(ns_reg_body_t *b) {
    for (size_t i = 0; i < b->ntopics; i++) free(b->topics[i].name);
    free(b->topics);
    for (size_t i = 0; i < b->nfilters; i++) free(b->filters[i]);
    free(b->filters);
    memset(b, 0, sizeof(*b));
}

static void add_filters(ns_reg_body_t *out, const cJSON *arr) {
    if (!cJSON_IsArray(arr)) return;
    int n = cJSON_GetArraySize(arr);
    out->filters = xcalloc((size_t)n + 1, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (cJSON_IsString(it)) out->filters[out->nfilters++] = xstrdup(it->valuestring);
    }
}

static int parse_json_body(const uint8_t *body, size_t len, ns_reg_body_t *out, char *err,
                           size_t errlen) {
    cJSON *j = parse_relaxed((const char *)body, len);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "register body is not a JSON object");
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "topicConfigSerializeWrapper");
    if (!w) w = j; /* old brokers send the bare wrapper */
    dv_from_json(cJSON_GetObjectItemCaseSensitive(w, "dataVersion"), &out->dv);
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(w, "topicConfigTable");
    if (tt && !cJSON_IsObject(tt)) {
        snprintf(err, errlen, "topicConfigTable is not an object");
        cJSON_Delete(j);
        return -1;
    }
    int n = tt ? cJSON_GetArraySize(tt) : 0;
    out->topics = xcalloc((size_t)n + 1, sizeof(*out->topics));
    const cJSON *tc;
    if (tt) cJSON_ArrayForEach(tc, tt) {
        if (!cJSON_IsObject(tc)) continue;
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tc, "topicName");
        const char *name = cJSON_IsString(nm) && nm->valuestring[0] ? nm->valuestring : tc->string;
        if (!name || !*name) continue;
        ns_topic_cfg_t *t = &out->topics[out->ntopics++];
        t->name = xstrdup(name);
        t->read_queues = (int32_t)jnum(tc, "readQueueNums", 16);
        t->write_queues = (int32_t)jnum(tc, "writeQueueNums", 16);
        t->perm = (int32_t)jnum(tc, "perm", 6);
        t->sysflag = (int32_t)jnum(tc, "topicSysFlag", 0);
    }
    add_filters(out, cJSON_GetObjectItemCaseSensitive(j, "filterServerList"));
    cJSON_Delete(j);
    return 0;
}

#include <zlib.h>

static int inflate_all(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) {
        snprintf(err, errlen, "inflateInit failed");
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        uint8_t *dst = buf_reserve(out, 16384);
        zs.next_out = dst;
        zs.avail_out = 16384;
        rc = inflate(&zs, Z_NO_FLUSH);
        out->len += 16384 - zs.avail_out;
        if (out->len > (64u << 20)) rc = Z_MEM_ERROR; /* a bomb, not a broker */
    } while (rc == Z_OK && (zs.avail_in > 0 || zs.avail_out == 0));
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        snprintf(err, errlen, "compressed register body does not inflate (zlib %d)", rc);
        return -1;
    }
    return 0;
}

/* Reads one int32-length-prefixed part. */
static int take_part(const uint8_t **p, const uint8_t *end, const uint8_t **part, uint32_t *n) {
    if (end - *p < 4) return -1;
    uint32_t l = be32_get(*p);
    *p += 4;
    if (l > (uint32_t)(end - *p)) return -1;
    *part = *p;
    *n = l;
    *p += l;
    return 0;
}

static int parse_compressed(const uint8_t *body, size_t len, ns_reg_body_t *out, char *err,
                            size_t errlen) {
    buf_t raw;
    buf_init(&raw);
    int rc = -1;
    if (inflate_all(body, len, &raw, err, errlen) != 0) goto done;
    const uint8_t *p = raw.data, *end = raw.data + raw.len, *part;
    uint32_t n;
    if (take_part(&p, end, &part, &n) != 0 || ns_dv_parse((const char *)part, n, &out->dv) != 0) {
        snprintf(err, errlen, "compressed register body: bad DataVersion");
        goto done;
    }
    if (end - p < 4) {
        snprintf(err, errlen, "compressed register body: truncated topic count");
        goto done;
    }
    uint32_t count = be32_get(p);
    p += 4;
    if (count > (uint32_t)(end - p) / 4) {
        snprintf(err, errlen, "compressed register body: topic count %u too large", count);
        goto done;
    }
    out->topics = xcalloc((size_t)count + 1, sizeof(*out->topics));
    for (uint32_t i = 0; i < count; i++) {
        if (take_part(&p, end, &part, &n) != 0) {
            snprintf(err, errlen, "compressed register body: truncated topic %u", i);
            goto done;
        }
        /* "topicName read write perm filterType [attributesJSON]" */
        char line[1024];
        size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
        memcpy(line, part, l);
        line[l] = 0;
        char name[512];
        int rq, wq, perm;
        if (sscanf(line, "%511s %d %d %d", name, &rq, &wq, &perm) != 4) {
            snprintf(err, errlen, "compressed register body: bad topic config '%.64s'", line);
            goto done;
        }
        ns_topic_cfg_t *t = &out->topics[out->ntopics++];
        t->name = xstrdup(name);
        t->read_queues = rq;
        t->write_queues = wq;
        t->perm = perm;
        t->sysflag = 0; /* not in the compact form */
    }
    if (take_part(&p, end, &part, &n) == 0 && n > 0) {
        cJSON *f = cJSON_ParseWithLength((const char *)part, n);
        add_filters(out, f);
        cJSON_Delete(f);
    }
    rc = 0; /* a 5.x mapping section may follow; the NameServer does not use it */
done:
    buf_free(&raw);
    return rc;
}

int ns_reg_body_parse(const uint8_t *body, size_t len, int compressed, ns_reg_body_t *out,
                      char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (!body || len == 0) return 0;
    int rc = compressed ? parse_compressed(body, len, out, err, errlen)
                        : parse_json_body(body, len, out, err, errlen);
    if (rc != 0) ns_reg_body_free(out);
    return rc;
}

int ns_routes_register_topic(ns_routes_t *r, const char *topic, const uint8_t *body, size_t len,
                             char *err, size_t errlen) {
    cJSON *j = body && len ? parse_relaxed((const char *)body, len) : NULL;
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "body is not a TopicRouteData");
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *qds = cJSON_GetObjectItemCaseSensitive(j, "queueDatas");
    const cJSON *q;
    /* all or nothing: one unknown broker name drops the request (as RocketMQ) */
    int ok = cJSON_IsArray(qds) && cJSON_GetArraySize(qds) > 0;
    if (ok) {
        cJSON_ArrayForEach(q, qds) {
            const cJSON *bn = cJSON_GetObjectItemCaseSensitive(q, "brokerName");
            if (!cJSON_IsString(bn) || !strmap_get(&r->brokers, bn->valuestring)) {
                log_warn("REGISTER_TOPIC_IN_NAMESRV %s names an unknown broker; ignored", topic);
                ok = 0;
                break;
            }
        }
    }
    if (ok) {
        topic_t *t = strmap_get(&r->topics, topic);
        if (!t) {
            t = xcalloc(1, sizeof(*t));
            strmap_put(&r->topics, topic, t);
        }
        cJSON_ArrayForEach(q, qds) {
            const char *bn = cJSON_GetObjectItemCaseSensitive(q, "brokerName")->valuestring;
            int32_t sf = (int32_t)jnum(q, "topicSysFlag", jnum(q, "topicSynFlag", 0));
            topic_put_q(t, bn, (int32_t)jnum(q, "readQueueNums", 16),
                        (int32_t)jnum(q, "writeQueueNums", 16), (int32_t)jnum(q, "perm", 6), sf);
        }
        r->gen++;
    }
    cJSON_Delete(j);
    return 0;
}
