/*
 * instance: what every producer and consumer has: the remoting client, the
 * NameServer list, the route cache, the client id and the service thread.
 *
 * The service thread runs deferred tasks (re-pulls, async-send retries,
 * check-backs: anything that may block or must not run on the I/O thread),
 * refreshes routes every pollNameServerInterval and calls the owner's tick
 * about every 50 ms, where the owner keeps its own timers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/util.h"

typedef struct task_s {
    petrel__task_fn fn;
    void *arg;
    int64_t due; /* mono ms */
    struct task_s *next;
} task_t;

typedef struct route_ent_s {
    char *topic;
    petrel__route_t *route;
    struct route_ent_s *next;
} route_ent_t;

struct petrel__inst_s {
    rm_client_t *rm; /* remoting client (own I/O thread) */
    char **ns;       /* NameServer addresses */
    int n_ns;
    _Atomic int ns_idx; /* preferred NameServer */
    char client_id[256];
    int timeout_ms; /* sync calls (sendMsgTimeout) */
    int poll_ns_ms;
    petrel__inst_cbs_t cbs;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    route_ent_t *routes;
    task_t *tasks; /* deferred work, unsorted */
    pthread_t thr;
    int started;
    int stop;
    int kicked;
};

static _Atomic unsigned inst_seq;

static void on_rm_request(rm_client_t *cli, const char *addr, rm_cmd_t *req, void *ctx) {
    petrel__inst_t *inst = ctx;
    if (inst->cbs.on_request) inst->cbs.on_request(inst->cbs.owner, addr, req);
}

petrel_err_t petrel__inst_open(petrel_conf_t *own, const petrel_conf_t *conf,
                               const petrel__inst_cbs_t *cbs, petrel__inst_t **out, char *errstr,
                               size_t errlen) {
    petrel__conf_copy(own, conf);
    petrel_err_t err = petrel__inst_create(own, cbs, out, errstr, errlen);
    if (err != PETREL_OK) petrel__conf_free(own);
    return err;
}

petrel_err_t petrel__inst_create(const petrel_conf_t *conf, const petrel__inst_cbs_t *cbs,
                                 petrel__inst_t **out, char *errstr, size_t errlen) {
    if (!conf->namesrvAddr || !*conf->namesrvAddr) {
        if (errstr) snprintf(errstr, errlen, "namesrvAddr is not set");
        return PETREL_ECONFIG;
    }
    if (!conf->groupName || !*conf->groupName) {
        if (errstr) snprintf(errstr, errlen, "groupName is not set");
        return PETREL_ECONFIG;
    }
    petrel__inst_t *inst = calloc(1, sizeof(*inst));
    if (!inst) return PETREL_ENOMEM;
    inst->cbs = *cbs;
    inst->timeout_ms = conf->sendMsgTimeout;
    inst->poll_ns_ms = conf->pollNameServerInterval;
    char *copy = xstrdup(conf->namesrvAddr), *save = NULL;
    for (char *t = strtok_r(copy, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
        inst->ns = xrealloc(inst->ns, (size_t)(inst->n_ns + 1) * sizeof(char *));
        inst->ns[inst->n_ns++] = xstrdup(t);
    }
    free(copy);
    if (inst->n_ns == 0) {
        if (errstr) snprintf(errstr, errlen, "namesrvAddr has no address");
        free(inst);
        return PETREL_ECONFIG;
    }
    char ip[64];
    uint8_t ip4[4];
    petrel__local_ip(ip4, ip, sizeof(ip));
    if (conf->instanceName && *conf->instanceName && strcmp(conf->instanceName, "DEFAULT") != 0)
        snprintf(inst->client_id, sizeof(inst->client_id), "%s@%s", ip, conf->instanceName);
    else
        snprintf(inst->client_id, sizeof(inst->client_id), "%s@%d#%u#%lld", ip, (int)getpid(),
                 atomic_fetch_add(&inst_seq, 1), (long long)(mono_ns() % 1000000007));
    if (conf->unitName && *conf->unitName) {
        size_t l = strlen(inst->client_id);
        snprintf(inst->client_id + l, sizeof(inst->client_id) - l, "@%s", conf->unitName);
    }
    pthread_mutex_init(&inst->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inst->cv, &ca);
    pthread_condattr_destroy(&ca);
    rm_client_opts_t o = {0};
    o.language = LANG_CPP; /* like the native C/C++ client; brokers treat it like any other */
    o.ser = conf->serializeType == 1 ? RM_SER_ROCKETMQ : RM_SER_JSON;
    o.on_request = on_rm_request;
    o.ctx = inst;
    inst->rm = rm_client_create(&o);
    if (!inst->rm) {
        if (errstr) snprintf(errstr, errlen, "cannot create the remoting client");
        petrel__inst_destroy(inst);
        return PETREL_ENOMEM;
    }
    *out = inst;
    return PETREL_OK;
}

rm_client_t *petrel__inst_rm(petrel__inst_t *inst) {
    return inst->rm;
}
const char *petrel__inst_client_id(const petrel__inst_t *inst) {
    return inst->client_id;
}

static void *service_main(void *arg) {
    thread_name("client-service");
    petrel__inst_t *inst = arg;
    int64_t next_routes = mono_ms() + inst->poll_ns_ms, next_tick = 0;
    pthread_mutex_lock(&inst->mu);
    while (!inst->stop) {
        int64_t now = mono_ms();
        /* Due tasks first, in any order (each is independent). */
        task_t **pp = &inst->tasks, *due = NULL;
        int64_t soonest = now + 50;
        while (*pp) {
            task_t *t = *pp;
            if (t->due <= now) {
                *pp = t->next;
                t->next = due;
                due = t;
            } else {
                if (t->due < soonest) soonest = t->due;
                pp = &t->next;
            }
        }
        if (due) {
            pthread_mutex_unlock(&inst->mu);
            while (due) {
                task_t *t = due;
                due = t->next;
                t->fn(t->arg);
                free(t);
            }
            pthread_mutex_lock(&inst->mu);
            continue;
        }
        if (inst->kicked || now >= next_tick) {
            inst->kicked = 0;
            pthread_mutex_unlock(&inst->mu);
            if (now >= next_routes) {
                petrel__inst_refresh_routes(inst);
                next_routes = mono_ms() + inst->poll_ns_ms;
            }
            if (inst->cbs.tick) inst->cbs.tick(inst->cbs.owner, now);
            next_tick = mono_ms() + 50;
            pthread_mutex_lock(&inst->mu);
            continue;
        }
        int64_t wake = soonest < next_tick ? soonest : next_tick;
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_cond_timedwait(&inst->cv, &inst->mu, &ts);
    }
    pthread_mutex_unlock(&inst->mu);
    return NULL;
}

petrel_err_t petrel__inst_start(petrel__inst_t *inst) {
    pthread_mutex_lock(&inst->mu);
    if (inst->started) {
        pthread_mutex_unlock(&inst->mu);
        return PETREL_ESTATE;
    }
    inst->started = 1;
    pthread_mutex_unlock(&inst->mu);
    if (pthread_create(&inst->thr, NULL, service_main, inst) != 0) return PETREL_ENOMEM;
    return PETREL_OK;
}

/* Tasks left behind own their arguments: run them so they can free (they see stop). */
static void run_leftover_tasks(petrel__inst_t *inst) {
    pthread_mutex_lock(&inst->mu);
    task_t *t = inst->tasks;
    inst->tasks = NULL;
    pthread_mutex_unlock(&inst->mu);
    while (t) {
        task_t *n = t->next;
        t->fn(t->arg);
        free(t);
        t = n;
    }
}

void petrel__inst_stop(petrel__inst_t *inst) {
    pthread_mutex_lock(&inst->mu);
    int join = inst->started && !inst->stop;
    inst->stop = 1;
    pthread_cond_broadcast(&inst->cv);
    pthread_mutex_unlock(&inst->mu);
    if (join) pthread_join(inst->thr, NULL);
    run_leftover_tasks(inst);
}

int petrel__inst_stopping(petrel__inst_t *inst);
int petrel__inst_stopping(petrel__inst_t *inst) {
    pthread_mutex_lock(&inst->mu);
    int s = inst->stop;
    pthread_mutex_unlock(&inst->mu);
    return s;
}

void petrel__inst_destroy(petrel__inst_t *inst) {
    if (!inst) return;
    petrel__inst_stop(inst);
    if (inst->rm) rm_client_destroy(inst->rm);
    inst->rm = NULL;
    /* Destroying the remoting client may have run callbacks that deferred tasks. */
    run_leftover_tasks(inst);
    route_ent_t *r = inst->routes;
    while (r) {
        route_ent_t *n = r->next;
        petrel__route_release(r->route);
        free(r->topic);
        free(r);
        r = n;
    }
    for (int i = 0; i < inst->n_ns; i++)
        free(inst->ns[i]);
    free(inst->ns);
    pthread_mutex_destroy(&inst->mu);
    pthread_cond_destroy(&inst->cv);
    free(inst);
}

int petrel__inst_defer(petrel__inst_t *inst, int delay_ms, petrel__task_fn fn, void *arg) {
    task_t *t = xmalloc(sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->due = mono_ms() + delay_ms;
    pthread_mutex_lock(&inst->mu);
    if (inst->stop && !inst->started) {
        /* never started: nobody will run it */
    }
    t->next = inst->tasks;
    inst->tasks = t;
    pthread_cond_signal(&inst->cv);
    pthread_mutex_unlock(&inst->mu);
    return 0;
}

void petrel__inst_kick(petrel__inst_t *inst) {
    pthread_mutex_lock(&inst->mu);
    inst->kicked = 1;
    pthread_cond_signal(&inst->cv);
    pthread_mutex_unlock(&inst->mu);
}

petrel_err_t petrel__call(petrel__inst_t *inst, const char *addr, int32_t code,
                          const char *const *ext, const void *body, uint32_t body_len,
                          int timeout_ms, rm_response_t **resp) {
    rm_request_t req = {code, NULL, ext, body, body_len};
    int rc = rm_client_invoke_sync(inst->rm, addr, &req, timeout_ms ? timeout_ms : inst->timeout_ms,
                                   resp);
    return rc == 0 ? PETREL_OK : petrel__err_from_rm(rc);
}

/* ---- routes --------------------------------------------------------------------- */

static petrel_err_t fetch_route(petrel__inst_t *inst, const char *topic, petrel__route_t **out) {
    const char *ext[] = {"topic", topic, NULL};
    petrel_err_t err = PETREL_ECONNECT;
    for (int i = 0; i < inst->n_ns; i++) {
        int k = (atomic_load(&inst->ns_idx) + i) % inst->n_ns;
        rm_response_t *resp = NULL;
        err = petrel__call(inst, inst->ns[k], GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, 3000, &resp);
        if (err != PETREL_OK) continue;
        atomic_store(&inst->ns_idx, k);
        int code = resp->cmd.code;
        if (code != SUCCESS) {
            rm_response_free(resp);
            return code == TOPIC_NOT_EXIST ? PETREL_TOPIC_NOT_EXIST : (petrel_err_t)code;
        }
        petrel__route_t *r =
            resp->cmd.body ? petrel__route_parse((const char *)resp->cmd.body, resp->cmd.body_len)
                           : NULL;
        rm_response_free(resp);
        if (!r) return PETREL_EPROTO;
        *out = r;
        return PETREL_OK;
    }
    return err;
}

static void cache_put(petrel__inst_t *inst, const char *topic, petrel__route_t *r) {
    pthread_mutex_lock(&inst->mu);
    route_ent_t *e;
    for (e = inst->routes; e; e = e->next)
        if (strcmp(e->topic, topic) == 0) break;
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        e->topic = xstrdup(topic);
        e->next = inst->routes;
        inst->routes = e;
    }
    petrel__route_t *old = e->route;
    e->route = petrel__route_retain(r);
    pthread_mutex_unlock(&inst->mu);
    petrel__route_release(old);
}

petrel__route_t *petrel__inst_route_cached(petrel__inst_t *inst, const char *topic) {
    petrel__route_t *r = NULL;
    pthread_mutex_lock(&inst->mu);
    for (route_ent_t *e = inst->routes; e; e = e->next)
        if (strcmp(e->topic, topic) == 0 && e->route) r = petrel__route_retain(e->route);
    pthread_mutex_unlock(&inst->mu);
    return r;
}

petrel_err_t petrel__inst_route(petrel__inst_t *inst, const char *topic, int force,
                                petrel__route_t **out) {
    if (!force) {
        petrel__route_t *r = petrel__inst_route_cached(inst, topic);
        if (r) {
            *out = r;
            return PETREL_OK;
        }
    }
    petrel__route_t *r = NULL;
    petrel_err_t err = fetch_route(inst, topic, &r);
    if (err != PETREL_OK) return err;
    cache_put(inst, topic, r);
    *out = r;
    return PETREL_OK;
}

void petrel__inst_refresh_routes(petrel__inst_t *inst) {
    char **topics = NULL;
    int n = 0;
    pthread_mutex_lock(&inst->mu);
    for (route_ent_t *e = inst->routes; e; e = e->next) {
        topics = xrealloc(topics, (size_t)(n + 1) * sizeof(char *));
        topics[n++] = xstrdup(e->topic);
    }
    pthread_mutex_unlock(&inst->mu);
    for (int i = 0; i < n; i++) {
        petrel__route_t *r = NULL;
        if (fetch_route(inst, topics[i], &r) == PETREL_OK) {
            cache_put(inst, topics[i], r);
            petrel__route_release(r);
        }
        free(topics[i]);
    }
    free(topics);
}

int petrel__inst_broker_addr(petrel__inst_t *inst, const char *bn, char *out, size_t outlen) {
    int found = -1;
    pthread_mutex_lock(&inst->mu);
    for (route_ent_t *e = inst->routes; e && found; e = e->next) {
        const char *a = e->route ? petrel__route_master(e->route, bn) : NULL;
        if (a) {
            snprintf(out, outlen, "%s", a);
            found = 0;
        }
    }
    pthread_mutex_unlock(&inst->mu);
    return found;
}

int petrel__inst_brokers(petrel__inst_t *inst, char (**addrs)[64]) {
    char(*v)[64] = NULL;
    int n = 0;
    pthread_mutex_lock(&inst->mu);
    for (route_ent_t *e = inst->routes; e; e = e->next) {
        for (int i = 0; e->route && i < e->route->nb; i++) {
            const char *a = e->route->b[i].master;
            if (!*a) continue;
            int dup = 0;
            for (int k = 0; k < n && !dup; k++)
                dup = strcmp(v[k], a) == 0;
            if (dup) continue;
            v = xrealloc(v, (size_t)(n + 1) * sizeof(*v));
            snprintf(v[n++], 64, "%s", a);
        }
    }
    pthread_mutex_unlock(&inst->mu);
    *addrs = v;
    return n;
}

void petrel__inst_heartbeat(petrel__inst_t *inst, const char *body, size_t len) {
    char(*addrs)[64] = NULL;
    int n = petrel__inst_brokers(inst, &addrs);
    static const char *const noext[] = {NULL};
    for (int i = 0; i < n; i++) {
        rm_response_t *resp = NULL;
        petrel_err_t err =
            petrel__call(inst, addrs[i], HEART_BEAT, noext, body, (uint32_t)len, 3000, &resp);
        if (err != PETREL_OK)
            PLOG_WARN("heartbeat to %s failed: %s", addrs[i], petrel_strerror(err));
        else if (resp->cmd.code != SUCCESS)
            PLOG_WARN("heartbeat to %s: code %d %s", addrs[i], resp->cmd.code,
                      resp->cmd.remark ? resp->cmd.remark : "");
        rm_response_free(resp);
    }
    free(addrs);
}

void petrel__inst_unregister(petrel__inst_t *inst, const char *pg, const char *cg) {
    char(*addrs)[64] = NULL;
    int n = petrel__inst_brokers(inst, &addrs);
    const char *ext[7];
    int k = 0;
    ext[k++] = "clientID";
    ext[k++] = inst->client_id;
    ext[k++] = pg ? "producerGroup" : "consumerGroup";
    ext[k++] = pg ? pg : cg;
    ext[k] = NULL;
    for (int i = 0; i < n; i++) {
        rm_response_t *resp = NULL;
        if (petrel__call(inst, addrs[i], UNREGISTER_CLIENT, ext, NULL, 0, 1000, &resp) == PETREL_OK)
            rm_response_free(resp);
    }
    free(addrs);
}

/* ---- consumer helpers shared by push and pull consumers ------------------------- */

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void petrel__strv_free(char **v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

petrel_err_t petrel__consumer_ids(petrel__inst_t *inst, const char *addr, const char *group,
                                  char ***ids, int *n) {
    const char *ext[] = {"consumerGroup", group, NULL};
    rm_response_t *resp = NULL;
    petrel_err_t err =
        petrel__call(inst, addr, GET_CONSUMER_LIST_BY_GROUP, ext, NULL, 0, 3000, &resp);
    if (err != PETREL_OK) return err;
    if (resp->cmd.code != SUCCESS) {
        err = (petrel_err_t)resp->cmd.code;
        rm_response_free(resp);
        return err;
    }
    cJSON *root = resp->cmd.body
                      ? cJSON_ParseWithLength((const char *)resp->cmd.body, resp->cmd.body_len)
                      : NULL;
    rm_response_free(resp);
    if (!root) return PETREL_EPROTO;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "consumerIdList"), *e;
    char **v = NULL;
    int k = 0;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e)) continue;
        v = xrealloc(v, (size_t)(k + 1) * sizeof(char *));
        v[k++] = xstrdup(e->valuestring);
    }
    cJSON_Delete(root);
    if (k > 1) qsort(v, (size_t)k, sizeof(char *), str_cmp);
    *ids = v;
    *n = k;
    return PETREL_OK;
}

petrel_err_t petrel__query_offset(petrel__inst_t *inst, const char *addr, const char *group,
                                  const petrel_mq_t *mq, int64_t *off) {
    char qid[16];
    snprintf(qid, sizeof(qid), "%d", mq->queue_id);
    const char *ext[] = {"consumerGroup", group, "topic", mq->topic, "queueId", qid, NULL};
    rm_response_t *resp = NULL;
    petrel_err_t err = petrel__call(inst, addr, QUERY_CONSUMER_OFFSET, ext, NULL, 0, 3000, &resp);
    if (err != PETREL_OK) return err;
    int64_t v = -1;
    if (resp->cmd.code == SUCCESS && rm_ext_i64(&resp->cmd, "offset", &v) == 0 && v >= 0) {
        *off = v;
        err = PETREL_OK;
    } else if (resp->cmd.code == SUCCESS || resp->cmd.code == QUERY_NOT_FOUND) {
        err = PETREL_QUERY_NOT_FOUND;
    } else {
        err = (petrel_err_t)resp->cmd.code;
    }
    rm_response_free(resp);
    return err;
}

/* UPDATE_CONSUMER_OFFSET's extFields (ext points into the struct: do not copy it). */
typedef struct offset_hdr_s {
    char qid[16], off[32];
    const char *ext[9];
} offset_hdr_t;

static void offset_hdr(offset_hdr_t *h, const char *group, const petrel_mq_t *mq, int64_t off) {
    snprintf(h->qid, sizeof(h->qid), "%d", mq->queue_id);
    snprintf(h->off, sizeof(h->off), "%lld", (long long)off);
    const char *ext[] = {"consumerGroup", group, "topic", mq->topic, "queueId", h->qid,
                         "commitOffset",  h->off, NULL};
    memcpy(h->ext, ext, sizeof(ext));
}

void petrel__update_offset(petrel__inst_t *inst, const char *addr, const char *group,
                           const petrel_mq_t *mq, int64_t off) {
    offset_hdr_t h;
    offset_hdr(&h, group, mq, off);
    rm_request_t req = {UPDATE_CONSUMER_OFFSET, NULL, h.ext, NULL, 0};
    rm_client_invoke_oneway(inst->rm, addr, &req);
}

petrel_err_t petrel__commit_offset(petrel__inst_t *inst, const char *addr, const char *group,
                                   const petrel_mq_t *mq, int64_t off, int *code) {
    offset_hdr_t h;
    offset_hdr(&h, group, mq, off);
    rm_response_t *resp = NULL;
    petrel_err_t err =
        petrel__call(inst, addr, UPDATE_CONSUMER_OFFSET, h.ext, NULL, 0, 3000, &resp);
    if (err != PETREL_OK) return err;
    if (code) *code = resp->cmd.code;
    rm_response_free(resp);
    return PETREL_OK;
}

static petrel_err_t offset_call(petrel__inst_t *inst, const char *addr, int code,
                                const petrel_mq_t *mq, const char *k3, const char *v3,
                                int64_t *off) {
    char qid[16];
    snprintf(qid, sizeof(qid), "%d", mq->queue_id);
    const char *ext[] = {"topic", mq->topic, "queueId", qid, k3, v3, NULL};
    rm_response_t *resp = NULL;
    petrel_err_t err = petrel__call(inst, addr, code, ext, NULL, 0, 3000, &resp);
    if (err != PETREL_OK) return err;
    if (resp->cmd.code != SUCCESS)
        err = (petrel_err_t)resp->cmd.code;
    else if (rm_ext_i64(&resp->cmd, "offset", off) != 0)
        err = PETREL_EPROTO;
    rm_response_free(resp);
    return err;
}

static int64_t parse_timestamp(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || strlen(s) != 14 || !strptime(s, "%Y%m%d%H%M%S", &tm)) return now_ms() - 30 * 60000;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

petrel_err_t petrel__offset_from_where(petrel__inst_t *inst, const petrel_conf_t *conf,
                                       const char *addr, const petrel_mq_t *mq, int64_t *off) {
    int retry = strncmp(mq->topic, "%RETRY%", 7) == 0;
    switch (conf->consumeFromWhere) {
    case PETREL__FROM_FIRST:
        *off = 0;
        return PETREL_OK;
    case PETREL__FROM_TIMESTAMP:
        if (!retry) {
            char ts[32];
            snprintf(ts, sizeof(ts), "%lld", (long long)parse_timestamp(conf->consumeTimestamp));
            return offset_call(inst, addr, SEARCH_OFFSET_BY_TIMESTAMP, mq, "timestamp", ts, off);
        }
        return offset_call(inst, addr, GET_MAX_OFFSET, mq, NULL, NULL, off);
    default:
        if (retry) {
            *off = 0;
            return PETREL_OK;
        }
        return offset_call(inst, addr, GET_MAX_OFFSET, mq, NULL, NULL, off);
    }
}
