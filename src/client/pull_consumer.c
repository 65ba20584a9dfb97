/*
 * pull_consumer: petrel_pull_consumer_t, for applications that drive
 * consumption themselves. Queues come from petrel_pull_consumer_assign or, after
 * subscribe, from the same client-side rebalance as push consumers (run on the
 * service thread). poll() first pulls every assigned queue without
 * suspension (round-robin); when none has a message it long-polls: one
 * suspended PULL_MESSAGE per queue (held up to the time left, at most
 * suspendTimeoutMillis), and
 * waits for the first answer. An answer that comes after poll returned is kept
 * for the next poll (used if the queue's position did not move meanwhile), so
 * at most one long poll per queue is ever held at the broker. commit() stores
 * the positions reached (broker, or the local file when BROADCASTING).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/util.h"

typedef struct asg_s {
    petrel_mq_t mq;
    int64_t pos;       /* next offset to pull */
    int64_t committed; /* last committed position */
    const petrel__sub_t *sub;
} asg_t;

/* A suspended pull of one queue (in c->lps until poll used or dropped it). */
typedef struct lp_s {
    petrel_pull_consumer_t *c;
    petrel_mq_t mq;
    const petrel__sub_t *sub;
    int64_t pos;  /* offset it pulls from; moves past the messages poll took */
    int done;     /* the answer arrived */
    int failed;   /* transport or broker error */
    int stale;    /* the queue was sought meanwhile: the answer will be dropped */
    int64_t next; /* nextBeginOffset, -1 unknown */
    petrel_msg_t **msgs;
    size_t n, taken;
    struct lp_s *next_lp;
} lp_t;

struct petrel_pull_consumer_s {
    petrel_conf_t conf;
    petrel__inst_t *inst;
    petrel__sub_t *subs;
    int n_subs;
    int started;
    pthread_mutex_t mu; /* guards asg */
    asg_t *asg;
    int n_asg;
    int rr;
    int64_t next_hb, next_rebalance;
    _Atomic int rebalance_now;
    petrel__offtab_t offtab;
    char *offpath;
    pthread_cond_t cv; /* with mu: a long poll answered */
    lp_t *lps;         /* under mu */
    uint64_t lp_seq;   /* under mu: answers so far */
};

static int bcast(const petrel_pull_consumer_t *c) {
    return c->conf.messageModel == PETREL__BROADCASTING;
}

static void pull_tick(void *owner, int64_t now);

/* NOTIFY_CONSUMER_IDS_CHANGED (I/O thread): rebalance at the next tick. */
static void pull_request(void *owner, const char *addr, rm_cmd_t *req);

petrel_err_t petrel_pull_consumer_create(const petrel_conf_t *conf, petrel_pull_consumer_t **out,
                                         char *errstr, size_t errlen) {
    if (!conf || !out) return PETREL_EINVAL;
    petrel_pull_consumer_t *c = calloc(1, sizeof(*c));
    if (!c) return PETREL_ENOMEM;
    petrel__inst_cbs_t cbs = {pull_tick, pull_request, c};
    petrel_err_t err = petrel__inst_open(&c->conf, conf, &cbs, &c->inst, errstr, errlen);
    if (err != PETREL_OK) {
        free(c);
        return err;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = c;
    return PETREL_OK;
}

petrel_err_t petrel_pull_consumer_subscribe(petrel_pull_consumer_t *c, const char *topic,
                                            const char *expr) {
    if (!c || !topic || !*topic) return PETREL_EINVAL;
    if (c->started) return PETREL_ESTATE;
    c->subs = xrealloc(c->subs, (size_t)(c->n_subs + 1) * sizeof(*c->subs));
    petrel_err_t err = petrel__sub_init(&c->subs[c->n_subs], topic, expr);
    if (err == PETREL_OK) c->n_subs++;
    return err;
}

static void heartbeat(petrel_pull_consumer_t *c) {
    petrel__consumer_heartbeat(c->inst, &c->conf, "CONSUME_ACTIVELY", "CONSUME_FROM_LAST_OFFSET",
                               c->subs, c->n_subs);
}

static int64_t start_pos(petrel_pull_consumer_t *c, const petrel_mq_t *mq) {
    char addr[64];
    int64_t off = 0;
    if (petrel__inst_broker_addr(c->inst, mq->broker_name, addr, sizeof(addr)) != 0) return -1;
    if (bcast(c)) {
        off = petrel__offtab_get(&c->offtab, mq);
        if (off >= 0) return off;
    } else {
        petrel_err_t err = petrel__query_offset(c->inst, addr, c->conf.groupName, mq, &off);
        if (err == PETREL_OK) return off;
        if (err != PETREL_QUERY_NOT_FOUND) return -1;
    }
    if (petrel__offset_from_where(c->inst, &c->conf, addr, mq, &off) != PETREL_OK) return -1;
    return off;
}

/* Replaces the assignment of topic (NULL: all) with mqs, keeping known positions. */
static void set_assignment(petrel_pull_consumer_t *c, const char *topic, const petrel_mq_t *mqs,
                           int n, const petrel__sub_t *sub) {
    asg_t *nv = NULL;
    int nn = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_asg; i++) {
        if (topic && strcmp(c->asg[i].mq.topic, topic) != 0) {
            nv = xrealloc(nv, (size_t)(nn + 1) * sizeof(*nv));
            nv[nn++] = c->asg[i];
        }
    }
    asg_t *old = c->asg;
    int n_old = c->n_asg;
    c->asg = NULL;
    c->n_asg = 0;
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < n; i++) {
        asg_t a = {mqs[i], -1, -1, sub};
        for (int k = 0; k < n_old; k++)
            if (petrel__mq_cmp(&old[k].mq, &mqs[i]) == 0) a = old[k];
        if (a.pos < 0) {
            a.pos = start_pos(c, &mqs[i]);
            a.committed = a.pos;
            if (a.pos < 0) continue;
        }
        nv = xrealloc(nv, (size_t)(nn + 1) * sizeof(*nv));
        nv[nn++] = a;
    }
    free(old);
    pthread_mutex_lock(&c->mu);
    free(c->asg);
    c->asg = nv;
    c->n_asg = nn;
    pthread_mutex_unlock(&c->mu);
}

static void rebalance(petrel_pull_consumer_t *c) {
    for (int s = 0; s < c->n_subs; s++) {
        petrel__route_t *r = NULL;
        if (petrel__inst_route(c->inst, c->subs[s].topic, 0, &r) != PETREL_OK) continue;
        petrel_mq_t *all = NULL;
        int n = petrel__route_queues(r, c->subs[s].topic, 0, &all);
        int *mine = xcalloc((size_t)n + 1, sizeof(int)), k = 0;
        int ok = 1;
        if (bcast(c)) {
            for (int i = 0; i < n; i++)
                mine[k++] = i;
        } else if (n) {
            const char *addr = NULL;
            for (int i = 0; i < r->nb && !addr; i++)
                if (r->b[i].master[0]) addr = r->b[i].master;
            char **cids = NULL;
            int nc = 0;
            if (addr &&
                petrel__consumer_ids(c->inst, addr, c->conf.groupName, &cids, &nc) == PETREL_OK &&
                nc > 0) {
                const char *self = petrel__inst_client_id(c->inst);
                int known = 0;
                for (int i = 0; i < nc && !known; i++)
                    known = strcmp(cids[i], self) == 0;
                if (known) /* else the broker does not know us yet: keep, heartbeat first */
                    k = petrel__allocate(c->conf.allocateMessageQueueStrategy, all, n, cids, nc,
                                         self, mine);
                else {
                    ok = 0;
                    c->next_hb = 0;
                }
            } else {
                ok = 0;
            }
            petrel__strv_free(cids, nc);
        }
        petrel__route_release(r);
        if (ok) {
            petrel_mq_t *sel = xcalloc((size_t)k + 1, sizeof(*sel));
            for (int i = 0; i < k; i++)
                sel[i] = all[mine[i]];
            set_assignment(c, c->subs[s].topic, sel, k, &c->subs[s]);
            free(sel);
        }
        free(all);
        free(mine);
    }
}

static void pull_tick(void *owner, int64_t now) {
    petrel_pull_consumer_t *c = owner;
    if (now >= c->next_hb) {
        heartbeat(c);
        c->next_hb = now + c->conf.heartbeatBrokerInterval;
    }
    if (c->n_subs && (atomic_exchange(&c->rebalance_now, 0) || now >= c->next_rebalance)) {
        rebalance(c);
        c->next_rebalance = now + c->conf.rebalanceInterval;
    }
}

static void pull_request(void *owner, const char *addr, rm_cmd_t *req) {
    petrel_pull_consumer_t *c = owner;
    if (req->code != NOTIFY_CONSUMER_IDS_CHANGED) return;
    atomic_store(&c->rebalance_now, 1);
    petrel__inst_kick(c->inst);
}

petrel_err_t petrel_pull_consumer_start(petrel_pull_consumer_t *c) {
    if (!c) return PETREL_EINVAL;
    if (c->started) return PETREL_ESTATE;
    c->started = 1;
    if (bcast(c)) {
        c->offpath = petrel__offfile_path(&c->conf, petrel__inst_client_id(c->inst));
        petrel__offtab_load(&c->offtab, c->offpath);
    }
    for (int i = 0; i < c->n_subs; i++) {
        petrel__route_t *r = NULL;
        if (petrel__inst_route(c->inst, c->subs[i].topic, 1, &r) == PETREL_OK)
            petrel__route_release(r);
    }
    if (c->n_subs) {
        heartbeat(c);
        rebalance(c);
    }
    int64_t now = mono_ms();
    c->next_hb = now + c->conf.heartbeatBrokerInterval;
    c->next_rebalance = now + c->conf.rebalanceInterval;
    return petrel__inst_start(c->inst);
}

petrel_err_t petrel_pull_consumer_fetch_queues(petrel_pull_consumer_t *c, const char *topic,
                                               petrel_mq_t **mqs, size_t *n) {
    if (!c || !topic || !mqs || !n) return PETREL_EINVAL;
    petrel__route_t *r = NULL;
    petrel_err_t err = petrel__inst_route(c->inst, topic, 1, &r);
    if (err != PETREL_OK) return err;
    int k = petrel__route_queues(r, topic, 0, mqs);
    petrel__route_release(r);
    *n = (size_t)k;
    return PETREL_OK;
}

petrel_err_t petrel_pull_consumer_assign(petrel_pull_consumer_t *c, const petrel_mq_t *mqs,
                                         size_t n) {
    if (!c || (n && !mqs)) return PETREL_EINVAL;
    if (!c->started) return PETREL_ESTATE;
    for (size_t i = 0; i < n; i++) {
        char addr[64];
        if (petrel__inst_broker_addr(c->inst, mqs[i].broker_name, addr, sizeof(addr)) != 0) {
            petrel__route_t *r = NULL;
            if (petrel__inst_route(c->inst, mqs[i].topic, 1, &r) == PETREL_OK)
                petrel__route_release(r);
        }
    }
    set_assignment(c, NULL, mqs, (int)n, NULL);
    return PETREL_OK;
}

petrel_err_t petrel_pull_consumer_seek(petrel_pull_consumer_t *c, const petrel_mq_t *mq,
                                       int64_t offset) {
    if (!c || !mq || offset < 0) return PETREL_EINVAL;
    petrel_err_t err = PETREL_EINVAL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_asg; i++) {
        if (petrel__mq_cmp(&c->asg[i].mq, mq) == 0) {
            c->asg[i].pos = offset;
            err = PETREL_OK;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return err;
}

/*
 * Decodes a pull answer's records matching sub into *msgs. grow: *msgs may be reallocated
 * (*cap grows); else at most *cap fit, and the queue offset of the first that did not is
 * returned (-1 when all fit).
 */
static int64_t decode_found(const rm_cmd_t *r, const petrel_mq_t *mq, const petrel__sub_t *sub,
                            petrel_msg_t ***msgs, size_t *n, size_t *cap, int grow) {
    size_t pos = 0;
    int64_t cut = -1;
    petrel__slab_cur_t sc;
    petrel__slab_open(&sc, r->body, r->body ? r->body_len : 0);
    while (r->body && pos < r->body_len) {
        petrel_msg_t *m = NULL;
        size_t used;
        if (petrel__record_decode_in(&sc, r->body + pos, r->body_len - pos, mq->broker_name, &m,
                                     &used) != PETREL_OK)
            break;
        pos += used;
        if (sub && !petrel__sub_match(sub, petrel__msg_prop(m, PETREL_PROP_TAGS))) {
            petrel_msg_destroy(m);
            continue;
        }
        if (*n == *cap) {
            if (!grow) { /* more than asked for: pull the rest again */
                cut = m->queue_offset;
                petrel_msg_destroy(m);
                break;
            }
            *msgs = xrealloc(*msgs, (*cap = *cap ? *cap * 2 : 32) * sizeof(**msgs));
        }
        (*msgs)[(*n)++] = m;
    }
    petrel__slab_close(&sc);
    return cut;
}

/* PULL_MESSAGE extFields for a's queue at a->pos (ext points into the struct: do not copy it).
 * sysflag "4" (subscription) pulls once; "6" adds suspend: a long poll of suspend_ms. */
typedef struct pull_hdr_s {
    char qid[16], qoff[24], mx[16], susp[16];
    const char *ext[23];
} pull_hdr_t;

static void pull_hdr(pull_hdr_t *h, const petrel_pull_consumer_t *c, const asg_t *a, int max,
                     const char *sysflag, int suspend_ms) {
    snprintf(h->qid, sizeof(h->qid), "%d", a->mq.queue_id);
    snprintf(h->qoff, sizeof(h->qoff), "%lld", (long long)a->pos);
    snprintf(h->mx, sizeof(h->mx), "%d", max);
    snprintf(h->susp, sizeof(h->susp), "%d", suspend_ms);
    const char *ext[] = {"consumerGroup",
                         c->conf.groupName,
                         "topic",
                         a->mq.topic,
                         "queueId",
                         h->qid,
                         "queueOffset",
                         h->qoff,
                         "maxMsgNums",
                         h->mx,
                         "sysFlag",
                         sysflag,
                         "commitOffset",
                         "0",
                         "suspendTimeoutMillis",
                         h->susp,
                         "subscription",
                         a->sub ? a->sub->expr : "*",
                         "subVersion",
                         "0",
                         "expressionType",
                         "TAG",
                         NULL};
    memcpy(h->ext, ext, sizeof(ext));
}

/* One non-suspending pull of mq at pos; appends found messages to out. *next gets the new pos. */
static petrel_err_t pull_once(petrel_pull_consumer_t *c, const asg_t *a, int max,
                              petrel_msg_t **out, size_t *n, int64_t *next) {
    char addr[64];
    if (petrel__inst_broker_addr(c->inst, a->mq.broker_name, addr, sizeof(addr)) != 0)
        return PETREL_ENOROUTE;
    pull_hdr_t h;
    pull_hdr(&h, c, a, max, "4", 0);
    rm_response_t *resp = NULL;
    petrel_err_t err = petrel__call(c->inst, addr, PULL_MESSAGE, h.ext, NULL, 0, 10000, &resp);
    if (err != PETREL_OK) return err;
    int64_t nb = -1;
    rm_ext_i64(&resp->cmd, "nextBeginOffset", &nb);
    switch (resp->cmd.code) {
    case SUCCESS: {
        size_t cap = (size_t)max + *n; /* out has room for max more */
        int64_t cut = decode_found(&resp->cmd, &a->mq, a->sub, &out, n, &cap, 0);
        if (cut >= 0) nb = cut;
        break;
    }
    case PULL_NOT_FOUND:
    case PULL_RETRY_IMMEDIATELY:
    case PULL_OFFSET_MOVED:
        break;
    default:
        err = (petrel_err_t)resp->cmd.code;
    }
    rm_response_free(resp);
    if (err == PETREL_OK) *next = nb;
    return err;
}

static void lp_free(lp_t *lp) {
    for (size_t i = lp->taken; i < lp->n; i++)
        petrel_msg_destroy(lp->msgs[i]);
    free(lp->msgs);
    free(lp);
}

/* I/O thread (or lp_issue on failure): keeps the answer for poll. */
static void lp_cb(int status, rm_cmd_t *resp, void *arg) {
    lp_t *lp = arg;
    petrel_pull_consumer_t *c = lp->c;
    petrel_msg_t **msgs = NULL;
    size_t n = 0, cap = 0;
    int64_t next = -1;
    int failed = status != 0;
    if (!failed) {
        rm_ext_i64(resp, "nextBeginOffset", &next);
        switch (resp->code) {
        case SUCCESS:
            decode_found(resp, &lp->mq, lp->sub, &msgs, &n, &cap, 1);
            break;
        case PULL_NOT_FOUND:
        case PULL_RETRY_IMMEDIATELY:
        case PULL_OFFSET_MOVED:
            break;
        default:
            PLOG_WARN("long poll %s:%s:%d: code %d", lp->mq.topic, lp->mq.broker_name,
                      lp->mq.queue_id, resp->code);
            failed = 1;
            next = -1;
        }
    } else if (status != PETREL_ESHUTDOWN) {
        PLOG_WARN("long poll %s:%s:%d: %s", lp->mq.topic, lp->mq.broker_name, lp->mq.queue_id,
                  petrel_strerror(status));
    }
    pthread_mutex_lock(&c->mu);
    lp->msgs = msgs;
    lp->n = n;
    lp->next = next;
    lp->failed = failed;
    lp->done = 1;
    c->lp_seq++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Starts a long poll of a's queue, held up to suspend_ms (no-op when one is in flight). */
static void lp_issue(petrel_pull_consumer_t *c, const asg_t *a, int max, int suspend_ms) {
    pthread_mutex_lock(&c->mu);
    for (lp_t *lp = c->lps; lp; lp = lp->next_lp)
        if (!lp->stale && petrel__mq_cmp(&lp->mq, &a->mq) == 0) {
            pthread_mutex_unlock(&c->mu);
            return;
        }
    lp_t *lp = xcalloc(1, sizeof(*lp));
    lp->c = c;
    lp->mq = a->mq;
    lp->sub = a->sub;
    lp->pos = a->pos;
    lp->next = -1;
    lp->next_lp = c->lps;
    c->lps = lp;
    pthread_mutex_unlock(&c->mu);
    char addr[64];
    if (petrel__inst_broker_addr(c->inst, a->mq.broker_name, addr, sizeof(addr)) != 0) {
        lp_cb(PETREL_ENOROUTE, NULL, lp);
        return;
    }
    pull_hdr_t h;
    pull_hdr(&h, c, a, max, "6", suspend_ms);
    rm_request_t req = {PULL_MESSAGE, NULL, h.ext, NULL, 0};
    /* The broker answers by suspend_ms; the margin covers a busy broker and the network. */
    int rc =
        rm_client_invoke_async(petrel__inst_rm(c->inst), addr, &req, suspend_ms + 5000, lp_cb, lp);
    if (rc != 0) lp_cb(rc, NULL, lp);
}

/*
 * Under c->mu: the answered long poll of a, if any. Messages from it go to out (up to room)
 * and *next gets the queue's new position. A long poll from another position (the queue was
 * sought) is dropped, or marked stale while the broker still holds it.
 * Returns 1 when a current long poll of a exists (answered or not), 0 when none.
 */
static int lp_take_locked(petrel_pull_consumer_t *c, const asg_t *a, petrel_msg_t **out, size_t *n,
                          size_t room, int64_t *next, int *failed) {
    lp_t **pp = &c->lps, *lp = NULL;
    while (*pp) {
        lp_t *x = *pp;
        if (petrel__mq_cmp(&x->mq, &a->mq) == 0 && !x->stale && x->pos != a->pos) x->stale = 1;
        if (petrel__mq_cmp(&x->mq, &a->mq) != 0 || x->stale) {
            if (x->stale && x->done) {
                *pp = x->next_lp;
                lp_free(x);
            } else {
                pp = &x->next_lp;
            }
            continue;
        }
        lp = x;
        break;
    }
    if (!lp) return 0;
    if (!lp->done) return 1;
    while (lp->taken < lp->n && room > 0) {
        out[(*n)++] = lp->msgs[lp->taken++];
        room--;
    }
    if (lp->taken < lp->n) { /* the rest waits for the next poll */
        lp->pos = out[*n - 1]->queue_offset + 1;
        *next = lp->pos;
        return 1;
    }
    *next = lp->next;
    *failed = lp->failed;
    *pp = lp->next_lp;
    lp_free(lp);
    return 1;
}

/* Moves the position of a's queue to next if it is still at a->pos. Under c->mu. */
static void advance_locked(petrel_pull_consumer_t *c, const asg_t *a, int64_t next) {
    if (next < 0) return;
    for (int k = 0; k < c->n_asg; k++)
        if (petrel__mq_cmp(&c->asg[k].mq, &a->mq) == 0 && c->asg[k].pos == a->pos)
            c->asg[k].pos = next;
}

petrel_err_t petrel_pull_consumer_poll(petrel_pull_consumer_t *c, int timeout_ms,
                                       petrel_msg_t **msgs, size_t max, size_t *n) {
    if (!c || !msgs || !n || max == 0) return PETREL_EINVAL;
    if (!c->started) return PETREL_ESTATE;
    *n = 0;
    int64_t deadline = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int na = c->n_asg;
        asg_t *snap = na ? xmalloc((size_t)na * sizeof(*snap)) : NULL;
        if (na) memcpy(snap, c->asg, (size_t)na * sizeof(*snap));
        int start = c->rr++;
        /* Answers nobody will use: their queue is no longer assigned, or was sought. */
        for (lp_t **pp = &c->lps; *pp;) {
            int mine = 0;
            for (int i = 0; i < na && !mine; i++)
                mine = petrel__mq_cmp(&snap[i].mq, &(*pp)->mq) == 0;
            if ((!mine || (*pp)->stale) && (*pp)->done) {
                lp_t *lp = *pp;
                *pp = lp->next_lp;
                lp_free(lp);
            } else {
                pp = &(*pp)->next_lp;
            }
        }
        uint64_t seq = c->lp_seq;
        pthread_mutex_unlock(&c->mu);
        int failures = 0;
        for (int i = 0; i < na && *n < max; i++) {
            asg_t *a = &snap[(start + i) % na];
            int64_t next = -1;
            int failed = 0;
            pthread_mutex_lock(&c->mu);
            int held = lp_take_locked(c, a, msgs, n, max - *n, &next, &failed);
            advance_locked(c, a, next);
            pthread_mutex_unlock(&c->mu);
            failures += failed;
            if (held) continue; /* answered now, or still waiting at the broker */
            int want =
                (int)(max - *n) < c->conf.pullBatchSize ? (int)(max - *n) : c->conf.pullBatchSize;
            petrel_err_t err = pull_once(c, a, want, msgs, n, &next);
            if (err != PETREL_OK) {
                PLOG_WARN("pull %s:%s:%d: %s", a->mq.topic, a->mq.broker_name, a->mq.queue_id,
                          petrel_strerror(err));
                failures++;
                continue;
            }
            pthread_mutex_lock(&c->mu);
            advance_locked(c, a, next);
            pthread_mutex_unlock(&c->mu);
            a->pos = next >= 0 ? next : a->pos;
        }
        int64_t left = deadline - mono_ms();
        if (*n > 0 || left <= 0) {
            free(snap);
            return PETREL_OK;
        }
        /* Nothing yet: hold a pull at the broker for each queue, wait for the first answer. */
        if (!failures) {
            /* Held at most suspendTimeoutMillis at a time; a longer poll holds again. */
            int susp =
                left < c->conf.suspendTimeoutMillis ? (int)left : c->conf.suspendTimeoutMillis;
            pthread_mutex_lock(&c->mu);
            for (int i = 0; i < na; i++) /* positions as they are now */
                for (int k = 0; k < c->n_asg; k++)
                    if (petrel__mq_cmp(&c->asg[k].mq, &snap[i].mq) == 0)
                        snap[i].pos = c->asg[k].pos;
            pthread_mutex_unlock(&c->mu);
            for (int i = 0; i < na; i++)
                lp_issue(c, &snap[i],
                         (int)max < c->conf.pullBatchSize ? (int)max : c->conf.pullBatchSize,
                         susp > 0 ? susp : 1);
        }
        free(snap);
        /* Errors: wait a little before trying again instead of spinning. */
        int64_t wake = failures || na == 0 ? mono_ms() + (left < 100 ? left : 100) : deadline;
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_mutex_lock(&c->mu);
        while (c->lp_seq == seq && mono_ms() < wake)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) break;
        pthread_mutex_unlock(&c->mu);
    }
}

petrel_err_t petrel_pull_consumer_commit(petrel_pull_consumer_t *c) {
    if (!c) return PETREL_EINVAL;
    if (!c->started) return PETREL_ESTATE;
    pthread_mutex_lock(&c->mu);
    int na = c->n_asg;
    asg_t *snap = na ? xmalloc((size_t)na * sizeof(*snap)) : NULL;
    if (na) memcpy(snap, c->asg, (size_t)na * sizeof(*snap));
    pthread_mutex_unlock(&c->mu);
    petrel_err_t res = PETREL_OK;
    for (int i = 0; i < na; i++) {
        asg_t *a = &snap[i];
        if (a->pos == a->committed) continue;
        if (bcast(c)) {
            petrel__offtab_set(&c->offtab, &a->mq, a->pos);
        } else {
            char addr[64];
            if (petrel__inst_broker_addr(c->inst, a->mq.broker_name, addr, sizeof(addr)) != 0) {
                res = PETREL_ENOROUTE;
                continue;
            }
            int code = SUCCESS;
            petrel_err_t err =
                petrel__commit_offset(c->inst, addr, c->conf.groupName, &a->mq, a->pos, &code);
            if (err == PETREL_OK && code != SUCCESS) err = (petrel_err_t)code;
            if (err != PETREL_OK) {
                res = err;
                continue;
            }
        }
        pthread_mutex_lock(&c->mu);
        for (int k = 0; k < c->n_asg; k++)
            if (petrel__mq_cmp(&c->asg[k].mq, &a->mq) == 0) c->asg[k].committed = a->pos;
        pthread_mutex_unlock(&c->mu);
    }
    free(snap);
    if (bcast(c) && c->offpath) {
        petrel_err_t e = petrel__offtab_save(&c->offtab, c->offpath);
        if (e != PETREL_OK) res = e;
    }
    return res;
}

petrel_err_t petrel_pull_consumer_committed(petrel_pull_consumer_t *c, const petrel_mq_t *mq,
                                            int64_t *offset) {
    if (!c || !mq || !offset) return PETREL_EINVAL;
    char addr[64];
    if (petrel__inst_broker_addr(c->inst, mq->broker_name, addr, sizeof(addr)) != 0)
        return PETREL_ENOROUTE;
    petrel_err_t err = petrel__query_offset(c->inst, addr, c->conf.groupName, mq, offset);
    if (err == PETREL_QUERY_NOT_FOUND) {
        *offset = -1;
        return PETREL_OK;
    }
    return err;
}

void petrel_pull_consumer_destroy(petrel_pull_consumer_t *c) {
    if (!c) return;
    if (c->started) {
        petrel__inst_stop(c->inst);
        petrel_pull_consumer_commit(c);
        petrel__inst_unregister(c->inst, NULL, c->conf.groupName);
    }
    petrel__inst_destroy(c->inst);
    for (int i = 0; i < c->n_subs; i++)
        petrel__sub_free(&c->subs[i]);
    free(c->subs);
    free(c->asg);
    petrel__offtab_free(&c->offtab);
    free(c->offpath);
    while (c->lps) { /* all answered: destroying the remoting client failed the rest */
        lp_t *lp = c->lps;
        c->lps = lp->next_lp;
        lp_free(lp);
    }
    petrel__conf_free(&c->conf);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
