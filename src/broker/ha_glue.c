/*
 * ha_glue: the broker's side of replication (src/ha): starts the HA thread
 * with the store, learns the master's addresses from REGISTER_BROKER replies
 * (slave), syncs topics, subscription groups, consumer offsets and delay
 * offsets from the master every 10 s (slave), and holds SYNC_MASTER send
 * replies until a slave acknowledged the bytes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"
#include "ha/ha.h"
#include "store/store.h"

#define SLAVE_SYNC_MS 10000

typedef struct sync_reply_s {
    struct sync_reply_s *next;
    int32_t code;
    rm_response_t *resp;
} sync_reply_t;

struct ha_glue_s {
    broker_t *b;
    uv_timer_t t_sync;
    uv_timer_t t_find;       /* slave without a master: register every second */
    uv_async_t a_sync;
    int loop_inited;
    pthread_mutex_t mu;
    int loop_closed;         /* a_sync closed: replies dropped */
    int sync_now;            /* the master changed: sync at once */
    char master_addr[128];   /* remoting address of the master (slave) */
    sync_reply_t *replies;
    data_version_t topics_seen, groups_seen;

    /* controller mode */
    uv_timer_t t_ctl;
    char **ctl_addrs;
    int n_ctl;
    int64_t orig_id;         /* configured brokerId (reported; 0 = first master) */
    int64_t epoch;           /* loop thread; persisted in config/controllerEpoch */
    int applied;             /* a controller answer was applied since start */
    uv_timer_t t_lease;
    _Atomic int64_t confirmed_ms; /* last controller answer naming this broker master */
    int fenced_by_lease;
    _Atomic int64_t ctl_epoch_seen;
    int64_t ctl_epoch;       /* best reply seen (mu) */
    int64_t ctl_start;
    char ctl_master[128], ctl_master_ha[128];
    int ctl_pending;
};

static int is_slave(const broker_t *b) { return b->conf.brokerRole == 2; }

/* ---- config sync (slave) ---------------------------------------------------------- */

static int dv_same(const data_version_t *a, const cJSON *dv) {
    return dv && a->counter == bk_json_i64(dv, "counter", -1) &&
           a->timestamp == bk_json_i64(dv, "timestamp", -1);
}

static void dv_keep(data_version_t *a, const cJSON *dv) {
    a->counter = dv ? bk_json_i64(dv, "counter", -1) : -1;
    a->timestamp = dv ? bk_json_i64(dv, "timestamp", -1) : -1;
}

static void apply_topics(broker_t *b, cJSON *j) {
    ha_glue_t *g = b->ha_glue;
    cJSON *dv = cJSON_GetObjectItemCaseSensitive(j, "dataVersion");
    if (dv_same(&g->topics_seen, dv)) return;
    cJSON *it;
    int n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "topicConfigTable")) {
        const char *name = bk_json_str(it, "topicName", it->string);
        if (!name || !*name || strlen(name) > TOPIC_MAX) continue;
        topic_cfg_t tc;
        memset(&tc, 0, sizeof(tc));
        snprintf(tc.name, sizeof(tc.name), "%s", name);
        tc.rq = (int32_t)bk_json_i64(it, "readQueueNums", 16);
        tc.wq = (int32_t)bk_json_i64(it, "writeQueueNums", 16);
        tc.perm = (int32_t)bk_json_i64(it, "perm", 6);
        tc.multi_tag = strcmp(bk_json_str(it, "topicFilterType", "SINGLE_TAG"), "MULTI_TAG") == 0;
        tc.sysflag = (int32_t)bk_json_i64(it, "topicSysFlag", 0);
        tc.order = bk_json_bool(it, "order", 0);
        cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "attributes");
        if (at && cJSON_IsObject(at) && at->child) tc.attrs = cJSON_PrintUnformatted(at);
        topic_cfg_t *old = topics_get(b, name);
        int same = old && old->rq == tc.rq && old->wq == tc.wq && old->perm == tc.perm &&
                   old->multi_tag == tc.multi_tag && old->sysflag == tc.sysflag &&
                   old->order == tc.order;
        if (!same) {
            topics_put(b, &tc, 0);
            n++;
        }
        free(tc.attrs);
    }
    /* topics the master no longer has (deleted there): RocketMQ replaces the whole table */
    cJSON *tab = cJSON_GetObjectItemCaseSensitive(j, "topicConfigTable");
    size_t ngone = 0;
    char **gone = NULL;
    if (cJSON_IsObject(tab)) {
        STRMAP_FOREACH(&b->topics, e) {
            if (cJSON_GetObjectItemCaseSensitive(tab, e->key)) continue;
            gone = xrealloc(gone, (ngone + 1) * sizeof(char *));
            gone[ngone++] = xstrdup(e->key);
        }
    }
    for (size_t k = 0; k < ngone; k++) {
        log_info("slave sync: topic %s deleted on the master", gone[k]);
        topics_delete(b, gone[k]);
        free(gone[k]);
    }
    free(gone);
    dv_keep(&g->topics_seen, dv);
    if (n) {
        log_info("slave sync: %d topic(s) updated from the master", n);
        register_all(b);
    }
}

static void apply_groups(broker_t *b, cJSON *j) {
    ha_glue_t *g = b->ha_glue;
    cJSON *dv = cJSON_GetObjectItemCaseSensitive(j, "dataVersion");
    if (dv_same(&g->groups_seen, dv)) return;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "subscriptionGroupTable")) {
        group_cfg_t gc;
        group_cfg_defaults(&gc, it->string ? it->string : "");
        if (group_cfg_from_json(&gc, it) != 0 || !gc.name[0]) continue;
        groups_put(b, &gc);
    }
    dv_keep(&g->groups_seen, dv);
}

static void apply_offsets(broker_t *b, cJSON *j) {
    cJSON *it, *q;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "offsetTable")) {
        const char *at = it->string ? strrchr(it->string, '@') : NULL;
        if (!at || at == it->string) continue;
        char topic[NAME_MAX_LEN];
        snprintf(topic, sizeof(topic), "%.*s", (int)(at - it->string), it->string);
        cJSON_ArrayForEach(q, it) {
            if (!q->string || !cJSON_IsNumber(q)) continue;
            int32_t qid = atoi(q->string);
            int64_t v = (int64_t)q->valuedouble;
            if (offsets_get(b, topic, at + 1, qid) != v) offsets_set(b, topic, at + 1, qid, v);
        }
    }
}

static void apply_delay(broker_t *b, cJSON *j) {
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "offsetTable")) {
        int lvl = it->string ? atoi(it->string) : 0;
        if (lvl >= 1 && lvl <= b->n_delay_levels && cJSON_IsNumber(it) &&
            b->delay_offsets[lvl - 1] != (int64_t)it->valuedouble) {
            b->delay_offsets[lvl - 1] = (int64_t)it->valuedouble;
            b->delay_dirty = 1;
        }
    }
}

static void on_sync_timer(uv_timer_t *t);
static void ctl_apply(broker_t *b, int64_t epoch, const char *maddr, const char *mha,
                      int64_t start);

static void on_sync_async(uv_async_t *a) {
    broker_t *b = a->data;
    ha_glue_t *g = b->ha_glue;
    pthread_mutex_lock(&g->mu);
    sync_reply_t *r = g->replies;
    g->replies = NULL;
    int now = g->sync_now;
    g->sync_now = 0;
    int ctl = g->ctl_pending;
    g->ctl_pending = 0;
    int64_t ce = g->ctl_epoch, cs = g->ctl_start;
    char cm[128], ch[128];
    snprintf(cm, sizeof(cm), "%s", g->ctl_master);
    snprintf(ch, sizeof(ch), "%s", g->ctl_master_ha);
    pthread_mutex_unlock(&g->mu);
    if (ctl && !b->stopping) ctl_apply(b, ce, cm, ch, cs);
    if (now) on_sync_timer(&g->t_sync);
    while (r) {
        sync_reply_t *next = r->next;
        rm_cmd_t *c = &r->resp->cmd;
        cJSON *j = c->code == SUCCESS && c->body_len ? bk_json_parse((const char *)c->body, c->body_len) : NULL;
        if (j) {
            switch (r->code) {
            case GET_ALL_TOPIC_CONFIG: apply_topics(b, j); break;
            case GET_ALL_SUBSCRIPTIONGROUP_CONFIG: apply_groups(b, j); break;
            case GET_ALL_CONSUMER_OFFSET: apply_offsets(b, j); break;
            case GET_ALL_DELAY_OFFSET: apply_delay(b, j); break;
            }
            cJSON_Delete(j);
        }
        rm_response_free(r->resp);
        free(r);
        r = next;
    }
}

typedef struct sync_ctx_s {
    broker_t *b;
    int32_t code;
} sync_ctx_t;

static void on_sync_reply(int status, rm_cmd_t *resp, void *arg) {
    /* the NameServer client's I/O thread */
    sync_ctx_t *x = arg;
    broker_t *b = x->b;
    ha_glue_t *g = b->ha_glue;
    if (status == 0 && resp) {
        sync_reply_t *r = xcalloc(1, sizeof(*r));
        r->code = x->code;
        r->resp = rm_cmd_clone(resp);
        pthread_mutex_lock(&g->mu);
        r->next = g->replies;
        g->replies = r;
        if (!g->loop_closed) uv_async_send(&g->a_sync);
        pthread_mutex_unlock(&g->mu);
    } else if (status != 0) {
        log_debug("slave sync: request %d failed: %s", x->code, rm_strerror(status));
    }
    free(x);
}

static void on_sync_timer(uv_timer_t *t) {
    broker_t *b = t->data;
    ha_glue_t *g = b->ha_glue;
    char addr[128];
    pthread_mutex_lock(&g->mu);
    snprintf(addr, sizeof(addr), "%s", g->master_addr);
    pthread_mutex_unlock(&g->mu);
    if (!addr[0] || !b->ns || b->stopping || !is_slave(b)) return;
    static const int32_t codes[] = {GET_ALL_TOPIC_CONFIG, GET_ALL_CONSUMER_OFFSET,
                                    GET_ALL_DELAY_OFFSET, GET_ALL_SUBSCRIPTIONGROUP_CONFIG};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        sync_ctx_t *x = xcalloc(1, sizeof(*x));
        x->b = b;
        x->code = codes[i];
        rm_request_t req = {codes[i], NULL, NULL, NULL, 0};
        if (rm_client_invoke_async(b->ns, addr, &req, 3000, on_sync_reply, x) != 0) free(x);
    }
}

static void on_find_timer(uv_timer_t *t) {
    broker_t *b = t->data;
    ha_glue_t *g = b->ha_glue;
    pthread_mutex_lock(&g->mu);
    int known = g->master_addr[0] != 0;
    pthread_mutex_unlock(&g->mu);
    if (!known && !b->stopping && is_slave(b)) register_all(b); /* the reply names the master once it registered */
}

/* ---- controller mode ------------------------------------------------------------------ */

/* Loop thread: the controllers committed a master for this group at epoch. */
static void ctl_apply(broker_t *b, int64_t epoch, const char *maddr, const char *mha,
                      int64_t start) {
    ha_glue_t *g = b->ha_glue;
    if (!maddr[0] || epoch < g->epoch || (epoch == g->epoch && g->applied)) return;
    int64_t known = g->epoch;
    g->epoch = epoch;
    g->applied = 1;
    if (epoch > known) {
        buf_t t;
        buf_init(&t);
        buf_printf(&t, "%lld\n", (long long)epoch);
        bk_persist_sync(b, "controllerEpoch", &t);
        buf_free(&t);
    }
    char me[128];
    snprintf(me, sizeof(me), "%s:%d", b->conf.brokerIP1, b->port);
    if (strcmp(maddr, me) == 0) {
        if (is_slave(b)) {
            log_warn("controller: promoted to master of %s at epoch %lld", b->conf.brokerName,
                     (long long)epoch);
            store_set_slave(b->store, 0);
            g->fenced_by_lease = 0;
            atomic_store(&g->confirmed_ms, mono_ms());
            ha_set_master(b->ha, "");
            b->conf.brokerRole = 1; /* SYNC_MASTER: acks need a slave again */
            b->conf.brokerId = 0;
            pthread_mutex_lock(&g->mu);
            g->master_addr[0] = 0;
            pthread_mutex_unlock(&g->mu);
            register_all(b);
        } else {
            log_info("controller: master of %s at epoch %lld", b->conf.brokerName, (long long)epoch);
            store_set_slave(b->store, 0); /* writes were fenced until now */
            g->fenced_by_lease = 0;
            register_all(b);
        }
        return;
    }
    /* another master's epoch begins at start: what this replica holds beyond it was never
     * replicated there (an old master's unacknowledged tail) */
    if (epoch > known && store_commitlog_max_offset(b->store) > start &&
        store_truncate(b->store, start) != 0)
        log_error("controller: cannot truncate the commit log to %lld", (long long)start);
    if (!is_slave(b)) {
        /* fenced: another replica is master at a newer epoch */
        log_warn("controller: %s is master at epoch %lld; this broker becomes a slave", maddr,
                 (long long)epoch);
        store_set_slave(b->store, 1);
        b->conf.brokerRole = 2;
        /* a slave id of its own: the listen port is unique on the host */
        b->conf.brokerId = g->orig_id > 0 ? g->orig_id : b->port;
        uv_timer_start(&g->t_sync, on_sync_timer, 1000, SLAVE_SYNC_MS);
        register_all(b);
    }
    pthread_mutex_lock(&g->mu);
    if (strcmp(g->master_addr, maddr) != 0) {
        snprintf(g->master_addr, sizeof(g->master_addr), "%s", maddr);
        g->sync_now = 1;
        uv_async_send(&g->a_sync);
    }
    pthread_mutex_unlock(&g->mu);
    ha_set_master(b->ha, mha);
    register_all(b);
}

/*
 * Lease: a master whose controllers have not named it master for
 * controllerLeaseMillis (paused, partitioned) stops writing until they do, so
 * a replacement elected meanwhile never races it. The controllers wait
 * brokerTimeout (longer) before electing.
 */
static void on_lease_timer(uv_timer_t *t) {
    broker_t *b = t->data;
    ha_glue_t *g = b->ha_glue;
    if (is_slave(b) || !g->applied || b->stopping) return;
    int ok = mono_ms() - atomic_load(&g->confirmed_ms) < b->conf.controllerLeaseMillis;
    if (!ok && !g->fenced_by_lease) {
        log_warn("controller: no confirmation for %d ms, writes suspended",
                 b->conf.controllerLeaseMillis);
        store_set_slave(b->store, 1);
        g->fenced_by_lease = 1;
    } else if (ok && g->fenced_by_lease) {
        log_info("controller: confirmed again, writes resumed");
        store_set_slave(b->store, 0);
        g->fenced_by_lease = 0;
    }
}

/* With controllers, a broker registers with the NameServers only once they told it its role. */
int ha_glue_may_register(const broker_t *b) {
    const ha_glue_t *g = b->ha_glue;
    return !g || g->n_ctl == 0 || g->applied;
}

static void on_ctl_reply(int status, rm_cmd_t *resp, void *arg) {
    /* client I/O thread */
    broker_t *b = arg;
    ha_glue_t *g = b->ha_glue;
    if (status != 0 || !resp || resp->code != SUCCESS) return;
    int64_t e = 0;
    rm_ext_i64(resp, "epoch", &e);
    const char *m = rm_ext_get(resp, "masterAddr"), *h = rm_ext_get(resp, "masterHaAddr");
    char me[128];
    snprintf(me, sizeof(me), "%s:%d", b->conf.brokerIP1, b->port);
    if (m && strcmp(m, me) == 0 && e >= atomic_load(&g->ctl_epoch_seen))
        atomic_store(&g->confirmed_ms, mono_ms());
    if (e > atomic_load(&g->ctl_epoch_seen)) atomic_store(&g->ctl_epoch_seen, e);
    /* A follower's state can lag the leader's: a returning master must not take a stale
     * "you are master" (it would register as brokerId 0 over the real master's route). */
    const char *lead = rm_ext_get(resp, "isLeader");
    int trusted = !(m && strcmp(m, me) == 0) || (lead && strcmp(lead, "true") == 0);
    pthread_mutex_lock(&g->mu);
    if (e > g->ctl_epoch && m && *m && trusted) {
        g->ctl_epoch = e;
        g->ctl_start = 0;
        rm_ext_i64(resp, "epochStartOffset", &g->ctl_start);
        snprintf(g->ctl_master, sizeof(g->ctl_master), "%s", m);
        snprintf(g->ctl_master_ha, sizeof(g->ctl_master_ha), "%s", h ? h : "");
        g->ctl_pending = 1;
        if (!g->loop_closed) uv_async_send(&g->a_sync);
    }
    pthread_mutex_unlock(&g->mu);
}

static void on_ctl_timer(uv_timer_t *t) {
    broker_t *b = t->data;
    ha_glue_t *g = b->ha_glue;
    if (b->stopping) return;
    if (!b->ns) { /* no NameServer: a client of our own (register_init ran before this tick) */
        rm_client_opts_t co = {0};
        co.language = LANG_JAVA;
        co.connect_timeout_ms = 1000;
        b->ns = rm_client_create(&co);
        if (!b->ns) return;
    }
    char addr[128], ha[128], id[32], off[32], ep[32];
    snprintf(addr, sizeof(addr), "%s:%d", b->conf.brokerIP1, b->port);
    snprintf(ha, sizeof(ha), "%s:%d", b->conf.brokerIP2, b->conf.haListenPort);
    snprintf(id, sizeof(id), "%lld", (long long)g->orig_id);
    /* whole records only: the epoch's start offset must be a record boundary */
    snprintf(off, sizeof(off), "%lld", (long long)store_whole_end(b->store));
    snprintf(ep, sizeof(ep), "%lld", (long long)g->epoch);
    const char *ext[] = {"clusterName", b->conf.brokerClusterName, "brokerName", b->conf.brokerName,
                         "brokerAddr", addr, "haServerAddr", ha, "brokerId", id,
                         "maxOffset", off, "epoch", ep, NULL};
    rm_request_t req = {BROKER_HEARTBEAT, NULL, ext, NULL, 0};
    for (int i = 0; i < g->n_ctl; i++)
        rm_client_invoke_async(b->ns, g->ctl_addrs[i], &req, 1000, on_ctl_reply, b);
}

/* ---- life cycle ------------------------------------------------------------------- */

int ha_glue_start(broker_t *b, char *err, size_t errlen) {
    broker_config_t *c = &b->conf;
    ha_glue_t *g = xcalloc(1, sizeof(*g));
    g->b = b;
    pthread_mutex_init(&g->mu, NULL);
    g->topics_seen.counter = g->groups_seen.counter = -1;
    b->ha_glue = g;
    if (is_slave(b)) store_set_slave(b->store, 1);
    ha_opts_t o = {0};
    o.store = b->store;
    o.listen_port = c->haListenPort;
    o.listen_host = c->bindAddress;
    o.file_size = c->mappedFileSizeCommitLog;
    o.name = c->brokerName;
    char e2[256];
    b->ha = ha_start(&o, e2, sizeof(e2));
    if (!b->ha) {
        if (c->brokerRole == 1) { /* SYNC_MASTER cannot work without it */
            snprintf(err, errlen, "%s", e2);
            return -1;
        }
        log_warn("%s: replication disabled", e2);
    } else {
        c->haListenPort = ha_port(b->ha);
    }
    if (is_slave(b) && c->haMasterAddress && *c->haMasterAddress)
        ha_set_master(b->ha, c->haMasterAddress);
    uv_timer_init(&b->loop, &g->t_sync);
    uv_timer_init(&b->loop, &g->t_find);
    uv_async_init(&b->loop, &g->a_sync, on_sync_async);
    g->t_sync.data = g->a_sync.data = g->t_find.data = b;
    g->loop_inited = 1;
    if (is_slave(b)) {
        uv_timer_start(&g->t_sync, on_sync_timer, 1000, SLAVE_SYNC_MS);
        uv_timer_start(&g->t_find, on_find_timer, 1000, 1000);
    }
    uv_timer_init(&b->loop, &g->t_ctl);
    uv_timer_init(&b->loop, &g->t_lease);
    g->t_ctl.data = g->t_lease.data = b;
    g->orig_id = c->brokerId;
    if (c->controllerAddr && *c->controllerAddr) {
        char *copy = xstrdup(c->controllerAddr), *save = NULL;
        for (char *t = strtok_r(copy, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
            g->ctl_addrs = xrealloc(g->ctl_addrs, (size_t)(g->n_ctl + 1) * sizeof(char *));
            g->ctl_addrs[g->n_ctl++] = xstrdup(t);
        }
        free(copy);
        char path[1300], *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/controllerEpoch", b->config_dir);
        if (file_read_all(path, &text, &len) == 0) {
            g->epoch = atoll(text);
            free(text);
        }
        /* a master writes only once the controllers confirm it (fencing a returning one) */
        if (!is_slave(b)) store_set_slave(b->store, 1);
        uv_timer_start(&g->t_ctl, on_ctl_timer, 0, 1000);
        uv_timer_start(&g->t_lease, on_lease_timer, 100, 100);
    }
    return 0;
}

static void on_closed(uv_handle_t *h) { (void)h; }

void ha_glue_loop_close(broker_t *b) {
    ha_glue_t *g = b->ha_glue;
    if (!g || !g->loop_inited) return;
    g->loop_inited = 0;
    pthread_mutex_lock(&g->mu);
    g->loop_closed = 1;
    pthread_mutex_unlock(&g->mu);
    uv_timer_stop(&g->t_sync);
    uv_timer_stop(&g->t_find);
    uv_timer_stop(&g->t_ctl);
    uv_close((uv_handle_t *)&g->t_ctl, on_closed);
    uv_timer_stop(&g->t_lease);
    uv_close((uv_handle_t *)&g->t_lease, on_closed);
    uv_close((uv_handle_t *)&g->t_sync, on_closed);
    uv_close((uv_handle_t *)&g->t_find, on_closed);
    uv_close((uv_handle_t *)&g->a_sync, on_closed);
}

void ha_glue_stop(broker_t *b) { ha_stop(b->ha); }

void ha_glue_free(broker_t *b) {
    ha_free(b->ha);
    b->ha = NULL;
    ha_glue_t *g = b->ha_glue;
    if (!g) return;
    while (g->replies) {
        sync_reply_t *r = g->replies;
        g->replies = r->next;
        rm_response_free(r->resp);
        free(r);
    }
    for (int i = 0; i < g->n_ctl; i++) free(g->ctl_addrs[i]);
    free(g->ctl_addrs);
    pthread_mutex_destroy(&g->mu);
    free(g);
    b->ha_glue = NULL;
}

/* REGISTER_BROKER reply (client I/O thread): a slave learns where its master is. */
void ha_glue_on_registered(broker_t *b, const rm_cmd_t *resp) {
    if (!is_slave(b) || !b->ha_glue) return;
    const char *ha = rm_ext_get(resp, "haServerAddr");
    const char *ma = rm_ext_get(resp, "masterAddr");
    ha_glue_t *g = b->ha_glue;
    pthread_mutex_lock(&g->mu);
    if (g->n_ctl == 0 && strcmp(g->master_addr, ma ? ma : "") != 0) {
        snprintf(g->master_addr, sizeof(g->master_addr), "%s", ma ? ma : "");
        g->sync_now = 1;
        if (!g->loop_closed) uv_async_send(&g->a_sync);
    }
    pthread_mutex_unlock(&g->mu);
    /* with controllers, they alone name the master */
    if (!(b->conf.haMasterAddress && *b->conf.haMasterAddress) && g->n_ctl == 0)
        ha_set_master(b->ha, ha ? ha : "");
}

/* ---- SYNC_MASTER ------------------------------------------------------------------- */

int ha_glue_sync_master(const broker_t *b) { return b->conf.brokerRole == 1; }

int ha_glue_slave_ok(broker_t *b, int64_t upto) { return ha_slave_ok(b->ha, upto); }

void ha_glue_wait(broker_t *b, int64_t upto, void (*cb)(void *arg, int status), void *arg) {
    if (!b->ha) {
        cb(arg, HA_TIMEOUT);
        return;
    }
    ha_wait(b->ha, upto, b->conf.syncFlushTimeout, cb, arg);
}

void ha_glue_notify(broker_t *b) { ha_notify(b->ha); }
