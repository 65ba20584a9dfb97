/*
 * producer: petrel_producer_t. Sends go SEND_MESSAGE_V2 (batches
 * SEND_BATCH_MESSAGE) to the master of a queue picked round-robin, skipping
 * the broker that failed last; unknown topics are sent with TBW102's route so
 * the broker auto-creates them. Heartbeats (producerDataSet) every
 * heartbeatBrokerInterval; UNREGISTER_CLIENT on destroy. Transactions: half
 * message, local callback, END_TRANSACTION (oneway); check-backs
 * (CHECK_TRANSACTION_STATE) are answered from the service thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/util.h"

#define SYSFLAG_COMPRESSED 0x1
#define SYSFLAG_ZLIB 0x300
#define SYSFLAG_TX_PREPARED 0x4
#define TX_COMMIT 8
#define TX_ROLLBACK 12

/* The writable queues of a topic computed from one route, shared by the sends using it. */
typedef struct qlist_s {
    _Atomic int refs;
    petrel__route_t *route; /* the route they came from (retained) */
    char topic[256];
    petrel_mq_t *mqs;
    int n;
} qlist_t;

static void qlist_release(qlist_t *q) {
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1) return;
    petrel__route_release(q->route);
    free(q->mqs);
    free(q);
}

struct petrel_producer_s {
    petrel_conf_t conf; /* private copy */
    petrel__inst_t *inst;
    _Atomic uint32_t rr; /* round-robin queue counter */
    _Atomic int started;
    _Atomic int closing;
    _Atomic int pending; /* async sends in flight */
    int64_t next_hb;     /* service thread only */
    int known_brokers;   /* service thread: heartbeat at once when this grows */
    petrel_tx_check_fn tx_check;
    void *tx_opaque;
    pthread_mutex_t qmu; /* guards ql */
    qlist_t **ql;        /* per-topic queue lists, rebuilt when the route changes */
    int n_ql;
};

/* An encoded send, kept for retries. */
typedef struct send_ctx_s {
    petrel_producer_t *p;
    char topic[256];
    qlist_t *ql;      /* candidate queues (retained) */
    petrel_mq_t *mqs; /* = ql->mqs */
    int n_mqs;
    int attempts_left;
    char last_broker[128];
    int batch;
    uint8_t *props; /* properties text */
    size_t props_len;
    uint8_t *body; /* possibly compressed */
    size_t body_len;
    int body_borrowed; /* sync sends use the caller's body in place */
    int32_t sys_flag;
    int32_t flag;
    int64_t born;
    char uniq[64];
    int count;
    char (*uniqs)[PETREL_MSG_ID_MAX]; /* batch_ids: every member's UNIQ_KEY */
    petrel_msg_ids_t *ids;            /* batch_ids: the caller's array of count */
    int fixed_queue;                  /* selector/orderly: never move */
    petrel_send_cb cb;
    void *opaque;
    petrel_mq_t cur; /* queue of the attempt in flight */
} send_ctx_t;

static void producer_tick(void *owner, int64_t now);
static void producer_request(void *owner, const char *addr, rm_cmd_t *req);

petrel_err_t petrel_producer_create(const petrel_conf_t *conf, petrel_producer_t **out,
                                    char *errstr, size_t errlen) {
    if (!conf || !out) return PETREL_EINVAL;
    petrel_producer_t *p = calloc(1, sizeof(*p));
    if (!p) return PETREL_ENOMEM;
    petrel__inst_cbs_t cbs = {producer_tick, producer_request, p};
    petrel_err_t err = petrel__inst_open(&p->conf, conf, &cbs, &p->inst, errstr, errlen);
    if (err != PETREL_OK) {
        free(p);
        return err;
    }
    pthread_mutex_init(&p->qmu, NULL);
    *out = p;
    return PETREL_OK;
}

static void send_heartbeat(petrel_producer_t *p) {
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, "{\"clientID\":");
    const char *cid = petrel__inst_client_id(p->inst);
    buf_json_str(&b, cid, strlen(cid));
    buf_append_str(&b, ",\"consumerDataSet\":[],\"producerDataSet\":[{\"groupName\":");
    buf_json_str(&b, p->conf.groupName, strlen(p->conf.groupName));
    buf_append_str(&b, "},{\"groupName\":\"CLIENT_INNER_PRODUCER\"}]}");
    petrel__inst_heartbeat(p->inst, (const char *)b.data, b.len);
    buf_free(&b);
}

static void producer_tick(void *owner, int64_t now) {
    petrel_producer_t *p = owner;
    char(*addrs)[64] = NULL;
    int nb = petrel__inst_brokers(p->inst, &addrs);
    free(addrs);
    if (nb > p->known_brokers) p->next_hb = 0; /* a new broker learnt from a route */
    p->known_brokers = nb;
    if (now >= p->next_hb) {
        send_heartbeat(p);
        p->next_hb = now + p->conf.heartbeatBrokerInterval;
    }
}

petrel_err_t petrel_producer_start(petrel_producer_t *p) {
    if (!p) return PETREL_EINVAL;
    int exp = 0;
    if (!atomic_compare_exchange_strong(&p->started, &exp, 1)) return PETREL_ESTATE;
    p->next_hb = 0;
    return petrel__inst_start(p->inst);
}

void petrel_producer_destroy(petrel_producer_t *p) {
    if (!p) return;
    atomic_store(&p->closing, 1);
    /* Let async sends in flight finish (bounded by their timeouts and retries). */
    int64_t deadline =
        mono_ms() + (int64_t)p->conf.sendMsgTimeout * (p->conf.retryTimesWhenSendFailed + 1) + 1000;
    while (atomic_load(&p->pending) > 0 && mono_ms() < deadline)
        usleep(1000);
    petrel__inst_stop(p->inst);
    if (atomic_load(&p->started)) petrel__inst_unregister(p->inst, p->conf.groupName, NULL);
    petrel__inst_destroy(p->inst);
    for (int i = 0; i < p->n_ql; i++)
        qlist_release(p->ql[i]);
    free(p->ql);
    pthread_mutex_destroy(&p->qmu);
    petrel__conf_free(&p->conf);
    free(p);
}

/* ---- building a send -------------------------------------------------------- */

static petrel_err_t check_msg(const petrel_producer_t *p, const petrel_msg_t *m) {
    if (!m || !m->topic || !*m->topic || strlen(m->topic) > 127) return PETREL_EINVAL;
    if (m->body_len == 0) return PETREL_EINVAL;
    if (m->body_len > (size_t)p->conf.maxMessageSize) return PETREL_ETOOBIG;
    return PETREL_OK;
}

/* Queues for topic: from its route, or TBW102's when the topic is not known yet. Cached per
 * topic while the route stays the same, so a send does not rebuild the list. */
static petrel_err_t topic_queues(petrel_producer_t *p, const char *topic, qlist_t **out) {
    petrel__route_t *r = petrel__inst_route_cached(p->inst, topic);
    petrel_err_t err = PETREL_OK;
    if (!r) {
        err = petrel__inst_route(p->inst, topic, 0, &r);
        petrel__inst_kick(p->inst); /* heartbeat any broker this route names */
    }
    if (err == PETREL_TOPIC_NOT_EXIST) err = petrel__inst_route(p->inst, "TBW102", 0, &r);
    if (err != PETREL_OK) return err == PETREL_TOPIC_NOT_EXIST ? PETREL_ENOROUTE : err;
    pthread_mutex_lock(&p->qmu);
    int slot = -1;
    for (int i = 0; i < p->n_ql && slot < 0; i++)
        if (strcmp(p->ql[i]->topic, topic) == 0) slot = i;
    if (slot >= 0 && p->ql[slot]->route == r) {
        qlist_t *q = p->ql[slot];
        atomic_fetch_add(&q->refs, 1);
        pthread_mutex_unlock(&p->qmu);
        petrel__route_release(r);
        *out = q;
        return PETREL_OK;
    }
    qlist_t *q = xcalloc(1, sizeof(*q));
    atomic_store(&q->refs, 2); /* the table and the caller */
    q->route = r;              /* takes the reference */
    snprintf(q->topic, sizeof(q->topic), "%s", topic);
    q->n = petrel__route_queues(r, topic, 1, &q->mqs);
    if (slot < 0) {
        p->ql = xrealloc(p->ql, (size_t)(p->n_ql + 1) * sizeof(*p->ql));
        slot = p->n_ql++;
    } else {
        qlist_release(p->ql[slot]);
    }
    p->ql[slot] = q;
    pthread_mutex_unlock(&p->qmu);
    if (q->n == 0) {
        qlist_release(q);
        return PETREL_ENOROUTE;
    }
    *out = q;
    return PETREL_OK;
}

static void ctx_free(send_ctx_t *c) {
    if (!c) return;
    qlist_release(c->ql);
    free(c->props);
    free(c->uniqs);
    if (!c->body_borrowed) free(c->body);
    free(c);
}

/* Encodes msg's properties (+UNIQ_KEY, WAIT) and body (compressed when large). */
static petrel_err_t ctx_build(petrel_producer_t *p, const petrel_msg_t *m, int tx, send_ctx_t *c) {
    buf_t pb;
    buf_init(&pb);
    petrel__props_encode(m, &pb);
    const char *u = petrel__msg_prop(m, PETREL_PROP_UNIQ_KEY);
    if (u) {
        snprintf(c->uniq, sizeof(c->uniq), "%s", u);
    } else {
        petrel__uniq_id(c->uniq);
        petrel__props_put(&pb, PETREL_PROP_UNIQ_KEY, c->uniq);
    }
    if (!petrel__msg_prop(m, PETREL_PROP_WAIT)) petrel__props_put(&pb, PETREL_PROP_WAIT, "true");
    if (tx) {
        petrel__props_put(&pb, "TRAN_MSG", "true");
        petrel__props_put(&pb, "PGROUP", p->conf.groupName);
        c->sys_flag |= SYSFLAG_TX_PREPARED;
    }
    if (pb.len > 32767) {
        buf_free(&pb);
        return PETREL_ETOOBIG;
    }
    buf_put_u8(&pb, 0); /* the "i" header field is a C string */
    c->props = buf_steal(&pb, &c->props_len);
    c->props_len--;
    if (m->body_len >= (size_t)p->conf.compressMsgBodyOverHowmuch &&
        petrel__zlib_compress(m->body, m->body_len, &c->body, &c->body_len) == 0) {
        c->sys_flag |= SYSFLAG_COMPRESSED | SYSFLAG_ZLIB;
        c->body_borrowed = 0; /* ours now */
    } else if (c->body_borrowed) {
        c->body = m->body; /* the caller's message outlives a synchronous send */
        c->body_len = m->body_len;
    } else {
        c->body = xmalloc(m->body_len ? m->body_len : 1);
        memcpy(c->body, m->body, m->body_len);
        c->body_len = m->body_len;
    }
    c->flag = m->flag;
    c->count = 1;
    return PETREL_OK;
}

/* Picks the next queue: round-robin, avoiding the broker that just failed when possible. */
static void pick_queue(petrel_producer_t *p, send_ctx_t *c) {
    if (c->fixed_queue) return;
    for (int i = 0; i < c->n_mqs; i++) {
        uint32_t k = atomic_fetch_add(&p->rr, 1) % (uint32_t)c->n_mqs;
        if (c->last_broker[0] && strcmp(c->mqs[k].broker_name, c->last_broker) == 0 &&
            i + 1 < c->n_mqs)
            continue;
        c->cur = c->mqs[k];
        return;
    }
    c->cur = c->mqs[atomic_fetch_add(&p->rr, 1) % (uint32_t)c->n_mqs];
}

typedef struct {
    char s[8][24];
    const char *ext[40];
} ext_buf_t;

static void build_ext(petrel_producer_t *p, send_ctx_t *c, ext_buf_t *e) {
    int k = 0;
    snprintf(e->s[0], 24, "%d", c->cur.queue_id);
    snprintf(e->s[1], 24, "%d", c->sys_flag);
    snprintf(e->s[2], 24, "%lld", (long long)c->born);
    snprintf(e->s[3], 24, "%d", c->flag);
    e->ext[k++] = "a";
    e->ext[k++] = p->conf.groupName;
    e->ext[k++] = "b";
    e->ext[k++] = c->topic;
    e->ext[k++] = "c";
    e->ext[k++] = "TBW102";
    e->ext[k++] = "d";
    e->ext[k++] = "4";
    e->ext[k++] = "e";
    e->ext[k++] = e->s[0];
    e->ext[k++] = "f";
    e->ext[k++] = e->s[1];
    e->ext[k++] = "g";
    e->ext[k++] = e->s[2];
    e->ext[k++] = "h";
    e->ext[k++] = e->s[3];
    e->ext[k++] = "i";
    e->ext[k++] = (const char *)c->props;
    e->ext[k++] = "j";
    e->ext[k++] = "0";
    e->ext[k++] = "k";
    e->ext[k++] = "false";
    if (c->batch) {
        e->ext[k++] = "m";
        e->ext[k++] = "true";
    }
    e->ext[k++] = "n";
    e->ext[k++] = c->cur.broker_name;
    e->ext[k] = NULL;
}

/* Reads a send response into res. Returns PETREL_OK or the broker's error. */
static petrel_err_t parse_send_resp(send_ctx_t *c, const rm_cmd_t *r, petrel_send_result_t *res) {
    petrel_send_status_t st;
    switch (r->code) {
    case SUCCESS:
        st = PETREL_SEND_OK;
        break;
    case FLUSH_DISK_TIMEOUT:
        st = PETREL_SEND_FLUSH_DISK_TIMEOUT;
        break;
    case FLUSH_SLAVE_TIMEOUT:
        st = PETREL_SEND_FLUSH_SLAVE_TIMEOUT;
        break;
    case SLAVE_NOT_AVAILABLE:
        st = PETREL_SEND_SLAVE_NOT_AVAILABLE;
        break;
    default:
        return (petrel_err_t)r->code;
    }
    memset(res, 0, sizeof(*res));
    res->status = st;
    snprintf(res->msg_id, sizeof(res->msg_id), "%s", c->uniq);
    const char *mid = rm_ext_get(r, "msgId");
    if (mid) {
        size_t n = strcspn(mid, ",");
        if (n >= sizeof(res->offset_msg_id)) n = sizeof(res->offset_msg_id) - 1;
        memcpy(res->offset_msg_id, mid, n);
        res->offset_msg_id[n] = 0;
    }
    res->mq = c->cur;
    int32_t q;
    if (rm_ext_i32(r, "queueId", &q) == 0) res->mq.queue_id = q;
    int64_t off = 0;
    rm_ext_i64(r, "queueOffset", &off);
    res->queue_offset = off;
    res->count = c->count;
    if (c->ids) { /* the broker's msgId is the members' offset ids, comma-separated */
        for (int i = 0; i < c->count; i++) {
            petrel_msg_ids_t *d = &c->ids[i];
            memcpy(d->msg_id, c->uniqs[i], sizeof(d->msg_id));
            d->queue_offset = off + i;
            size_t n = 0;
            if (mid) {
                n = strcspn(mid, ",");
                if (n < sizeof(d->offset_msg_id)) memcpy(d->offset_msg_id, mid, n);
                mid = mid[n] ? mid + n + 1 : NULL;
            }
            d->offset_msg_id[n < sizeof(d->offset_msg_id) ? n : 0] = 0;
        }
    }
    return PETREL_OK;
}

static int retriable(petrel_err_t e) {
    switch ((int)e) {
    case PETREL_ETIMEOUT:
    case PETREL_ECONNECT:
    case PETREL_ECLOSED:
    case PETREL_SYSTEM_ERROR:
    case PETREL_SYSTEM_BUSY:
    case PETREL_SERVICE_NOT_AVAILABLE:
    case PETREL_NO_PERMISSION:
    case PETREL_TOPIC_NOT_EXIST:
    case PETREL_ENOROUTE:
        return 1;
    default:
        return 0;
    }
}

static petrel_err_t send_sync_ctx(petrel_producer_t *p, send_ctx_t *c, petrel_send_result_t *res) {
    petrel_err_t err = PETREL_ENOROUTE;
    int64_t deadline = mono_ms() + p->conf.sendMsgTimeout;
    for (int attempt = 0; attempt <= c->attempts_left; attempt++) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0) return attempt ? err : PETREL_ETIMEOUT;
        pick_queue(p, c);
        char addr[64];
        if (petrel__inst_broker_addr(p->inst, c->cur.broker_name, addr, sizeof(addr)) != 0) {
            err = PETREL_ENOROUTE;
            snprintf(c->last_broker, sizeof(c->last_broker), "%s", c->cur.broker_name);
            continue;
        }
        ext_buf_t e;
        build_ext(p, c, &e);
        rm_response_t *resp = NULL;
        err = petrel__call(p->inst, addr, c->batch ? SEND_BATCH_MESSAGE : SEND_MESSAGE_V2, e.ext,
                           c->body, (uint32_t)c->body_len, left, &resp);
        if (err == PETREL_OK) {
            petrel_send_result_t tmp;
            err = parse_send_resp(c, &resp->cmd, res ? res : &tmp);
            if (err != PETREL_OK)
                PLOG_WARN("send to %s (%s) failed: %d %s", addr, c->cur.broker_name, err,
                          resp->cmd.remark ? resp->cmd.remark : "");
            rm_response_free(resp);
            if (err == PETREL_OK) return PETREL_OK;
        } else {
            PLOG_WARN("send to %s failed: %s", addr, petrel_strerror(err));
        }
        if (!retriable(err) || c->fixed_queue) return err;
        snprintf(c->last_broker, sizeof(c->last_broker), "%s", c->cur.broker_name);
    }
    return err;
}

/* Builds a send context; copy_body for sends that outlive the call (async). */
static petrel_err_t prepare(petrel_producer_t *p, const petrel_msg_t *m, int tx, int copy_body,
                            send_ctx_t **out) {
    if (!p || !atomic_load(&p->started)) return p ? PETREL_ESTATE : PETREL_EINVAL;
    if (atomic_load(&p->closing)) return PETREL_ESHUTDOWN;
    petrel_err_t err = check_msg(p, m);
    if (err != PETREL_OK) return err;
    send_ctx_t *c = xcalloc(1, sizeof(*c));
    c->p = p;
    snprintf(c->topic, sizeof(c->topic), "%s", m->topic);
    c->born = now_ms();
    c->attempts_left = p->conf.retryTimesWhenSendFailed;
    c->body_borrowed = !copy_body;
    err = topic_queues(p, m->topic, &c->ql);
    if (err == PETREL_OK) {
        c->mqs = c->ql->mqs;
        c->n_mqs = c->ql->n;
        err = ctx_build(p, m, tx, c);
    }
    if (err != PETREL_OK) {
        ctx_free(c);
        return err;
    }
    *out = c;
    return PETREL_OK;
}

petrel_err_t petrel_producer_send(petrel_producer_t *p, const petrel_msg_t *m,
                                  petrel_send_result_t *res) {
    send_ctx_t *c = NULL;
    petrel_err_t err = prepare(p, m, 0, 0, &c);
    if (err != PETREL_OK) return err;
    err = send_sync_ctx(p, c, res);
    ctx_free(c);
    return err;
}

/* ---- async ------------------------------------------------------------------ */

static void async_attempt(void *arg);

static void async_done(send_ctx_t *c, petrel_err_t err, const petrel_send_result_t *res) {
    petrel_producer_t *p = c->p;
    if (c->cb) c->cb(p, err, res, c->opaque);
    ctx_free(c);
    atomic_fetch_sub(&p->pending, 1);
}

static void async_resp(int status, rm_cmd_t *resp, void *arg) {
    send_ctx_t *c = arg;
    petrel_err_t err = status == 0 ? PETREL_OK : petrel__err_from_rm(status);
    petrel_send_result_t res;
    if (err == PETREL_OK) {
        err = parse_send_resp(c, resp, &res);
        if (err == PETREL_OK) {
            async_done(c, PETREL_OK, &res);
            return;
        }
    }
    if (retriable(err) && !c->fixed_queue && c->attempts_left > 0 && err != PETREL_ESHUTDOWN) {
        c->attempts_left--;
        snprintf(c->last_broker, sizeof(c->last_broker), "%s", c->cur.broker_name);
        /* Not on the I/O thread: the retry may need a connect. */
        petrel__inst_defer(c->p->inst, 0, async_attempt, c);
        return;
    }
    async_done(c, err, NULL);
}

static void async_attempt(void *arg) {
    send_ctx_t *c = arg;
    petrel_producer_t *p = c->p;
    pick_queue(p, c);
    char addr[64];
    if (petrel__inst_broker_addr(p->inst, c->cur.broker_name, addr, sizeof(addr)) != 0) {
        async_done(c, PETREL_ENOROUTE, NULL);
        return;
    }
    ext_buf_t e;
    build_ext(p, c, &e);
    rm_request_t req = {c->batch ? SEND_BATCH_MESSAGE : SEND_MESSAGE_V2, NULL, e.ext, c->body,
                        (uint32_t)c->body_len};
    int rc = rm_client_invoke_async(petrel__inst_rm(p->inst), addr, &req, p->conf.sendMsgTimeout,
                                    async_resp, c);
    if (rc != 0) async_resp(rc, NULL, c);
}

petrel_err_t petrel_producer_send_async(petrel_producer_t *p, const petrel_msg_t *m,
                                        petrel_send_cb cb, void *opaque) {
    send_ctx_t *c = NULL;
    petrel_err_t err = prepare(p, m, 0, 1, &c);
    if (err != PETREL_OK) return err;
    c->cb = cb;
    c->opaque = opaque;
    atomic_fetch_add(&p->pending, 1);
    pick_queue(p, c);
    char addr[64];
    if (petrel__inst_broker_addr(p->inst, c->cur.broker_name, addr, sizeof(addr)) != 0) {
        atomic_fetch_sub(&p->pending, 1);
        ctx_free(c);
        return PETREL_ENOROUTE;
    }
    ext_buf_t e;
    build_ext(p, c, &e);
    rm_request_t req = {SEND_MESSAGE_V2, NULL, e.ext, c->body, (uint32_t)c->body_len};
    int rc = rm_client_invoke_async(petrel__inst_rm(p->inst), addr, &req, p->conf.sendMsgTimeout,
                                    async_resp, c);
    if (rc != 0) {
        atomic_fetch_sub(&p->pending, 1);
        ctx_free(c);
        return petrel__err_from_rm(rc);
    }
    return PETREL_OK;
}

petrel_err_t petrel_producer_send_oneway(petrel_producer_t *p, const petrel_msg_t *m) {
    send_ctx_t *c = NULL;
    petrel_err_t err = prepare(p, m, 0, 0, &c);
    if (err != PETREL_OK) return err;
    pick_queue(p, c);
    char addr[64];
    if (petrel__inst_broker_addr(p->inst, c->cur.broker_name, addr, sizeof(addr)) != 0) {
        ctx_free(c);
        return PETREL_ENOROUTE;
    }
    ext_buf_t e;
    build_ext(p, c, &e);
    rm_request_t req = {SEND_MESSAGE_V2, NULL, e.ext, c->body, (uint32_t)c->body_len};
    int rc = rm_client_invoke_oneway(petrel__inst_rm(p->inst), addr, &req);
    ctx_free(c);
    return rc == 0 ? PETREL_OK : petrel__err_from_rm(rc);
}

/* ---- batch, selector, orderly ------------------------------------------------ */

petrel_err_t petrel_producer_send_batch(petrel_producer_t *p, petrel_msg_t *const *msgs, size_t n,
                                        petrel_send_result_t *res) {
    return petrel_producer_send_batch_ids(p, msgs, n, res, NULL);
}

petrel_err_t petrel_producer_send_batch_ids(petrel_producer_t *p, petrel_msg_t *const *msgs,
                                            size_t n, petrel_send_result_t *res,
                                            petrel_msg_ids_t *ids) {
    if (!p || !msgs || n == 0) return PETREL_EINVAL;
    if (!atomic_load(&p->started)) return PETREL_ESTATE;
    const char *topic = msgs[0] ? msgs[0]->topic : NULL;
    for (size_t i = 0; i < n; i++) {
        petrel_err_t err = check_msg(p, msgs[i]);
        if (err != PETREL_OK) return err;
        if (strcmp(msgs[i]->topic, topic) != 0 || petrel_msg_delay_level(msgs[i]) > 0 ||
            strncmp(topic, "%RETRY%", 7) == 0)
            return PETREL_EINVAL;
    }
    send_ctx_t *c = xcalloc(1, sizeof(*c));
    c->p = p;
    snprintf(c->topic, sizeof(c->topic), "%s", topic);
    c->born = now_ms();
    c->attempts_left = p->conf.retryTimesWhenSendFailed;
    c->batch = 1;
    c->count = (int)n;
    if (ids) {
        c->ids = ids;
        c->uniqs = xcalloc(n, sizeof(*c->uniqs));
    }
    petrel_err_t err = topic_queues(p, topic, &c->ql);
    if (err != PETREL_OK) {
        ctx_free(c);
        return err;
    }
    c->mqs = c->ql->mqs;
    c->n_mqs = c->ql->n;
    buf_t body, pb;
    buf_init(&body);
    buf_init(&pb);
    for (size_t i = 0; i < n; i++) {
        buf_reset(&pb);
        petrel__props_encode(msgs[i], &pb);
        const char *u = petrel__msg_prop(msgs[i], PETREL_PROP_UNIQ_KEY);
        char id[33];
        if (!u) {
            petrel__uniq_id(id);
            petrel__props_put(&pb, PETREL_PROP_UNIQ_KEY, id);
            u = id;
        }
        if (i == 0) snprintf(c->uniq, sizeof(c->uniq), "%s", u);
        if (c->uniqs) snprintf(c->uniqs[i], sizeof(c->uniqs[i]), "%s", u);
        if (!petrel__msg_prop(msgs[i], PETREL_PROP_WAIT))
            petrel__props_put(&pb, PETREL_PROP_WAIT, "true");
        if (pb.len > 32767) {
            buf_free(&pb);
            buf_free(&body);
            ctx_free(c);
            return PETREL_ETOOBIG;
        }
        petrel__batch_put(&body, msgs[i], pb.data, pb.len);
    }
    buf_free(&pb);
    c->body = buf_steal(&body, &c->body_len);
    buf_t top;
    buf_init(&top);
    petrel__props_put(&top, PETREL_PROP_WAIT, "true");
    buf_put_u8(&top, 0);
    c->props = buf_steal(&top, &c->props_len);
    c->props_len--;
    err = send_sync_ctx(p, c, res);
    ctx_free(c);
    return err;
}

petrel_err_t petrel_producer_send_select(petrel_producer_t *p, const petrel_msg_t *m,
                                         petrel_queue_selector_fn sel, void *arg,
                                         petrel_send_result_t *res) {
    if (!sel) return PETREL_EINVAL;
    send_ctx_t *c = NULL;
    petrel_err_t err = prepare(p, m, 0, 0, &c);
    if (err != PETREL_OK) return err;
    int k = sel(c->n_mqs, m, arg);
    if (k < 0 || k >= c->n_mqs) {
        ctx_free(c);
        return PETREL_EINVAL;
    }
    c->cur = c->mqs[k];
    c->fixed_queue = 1;
    err = send_sync_ctx(p, c, res);
    ctx_free(c);
    return err;
}

static int key_selector(int n, const petrel_msg_t *m, void *arg) {
    const char *key = arg;
    int32_t h = java_string_hash(key, strlen(key));
    int64_t v = h < 0 ? -(int64_t)h : h;
    return (int)(v % n);
}

petrel_err_t petrel_producer_send_orderly(petrel_producer_t *p, const petrel_msg_t *m,
                                          const char *key, petrel_send_result_t *res) {
    if (!key) return PETREL_EINVAL;
    return petrel_producer_send_select(p, m, key_selector, (void *)key, res);
}

/* ---- transactions ------------------------------------------------------------- */

petrel_err_t petrel_producer_set_tx_checker(petrel_producer_t *p, petrel_tx_check_fn fn,
                                            void *opaque) {
    if (!p) return PETREL_EINVAL;
    if (atomic_load(&p->started)) return PETREL_ESTATE;
    p->tx_check = fn;
    p->tx_opaque = opaque;
    return PETREL_OK;
}

static void end_tx(petrel_producer_t *p, const char *addr, int64_t qoff, int64_t cloff,
                   petrel_tx_state_t st, int from_check, const char *msg_id, const char *tx_id) {
    char a[24], b[24], c[8];
    snprintf(a, sizeof(a), "%lld", (long long)qoff);
    snprintf(b, sizeof(b), "%lld", (long long)cloff);
    snprintf(c, sizeof(c), "%d",
             st == PETREL_TX_COMMIT     ? TX_COMMIT
             : st == PETREL_TX_ROLLBACK ? TX_ROLLBACK
                                        : 0);
    const char *ext[] = {"producerGroup",
                         p->conf.groupName,
                         "tranStateTableOffset",
                         a,
                         "commitLogOffset",
                         b,
                         "commitOrRollback",
                         c,
                         "fromTransactionCheck",
                         from_check ? "true" : "false",
                         "msgId",
                         msg_id,
                         "transactionId",
                         tx_id ? tx_id : msg_id,
                         NULL};
    rm_request_t req = {END_TRANSACTION, NULL, ext, NULL, 0};
    rm_client_invoke_oneway(petrel__inst_rm(p->inst), addr, &req);
}

petrel_err_t petrel_producer_send_tx(petrel_producer_t *p, const petrel_msg_t *m,
                                     petrel_tx_execute_fn exec, void *arg,
                                     petrel_send_result_t *res, petrel_tx_state_t *state) {
    if (!exec) return PETREL_EINVAL;
    if (petrel_msg_delay_level(m) > 0) return PETREL_EINVAL;
    send_ctx_t *c = NULL;
    petrel_err_t err = prepare(p, m, 1, 0, &c);
    if (err != PETREL_OK) return err;
    petrel_send_result_t r;
    err = send_sync_ctx(p, c, &r);
    if (err != PETREL_OK) {
        ctx_free(c);
        return err;
    }
    if (res) *res = r;
    /* The callback sees the message with its id. */
    petrel_msg_t *view = petrel_msg_dup(m);
    if (view) petrel_msg_set_property(view, PETREL_PROP_UNIQ_KEY, c->uniq);
    petrel_tx_state_t st = exec(p, view ? view : m, arg);
    petrel_msg_destroy(view);
    if (state) *state = st;
    char addr[64];
    int64_t cloff = 0;
    if (petrel__inst_broker_addr(p->inst, r.mq.broker_name, addr, sizeof(addr)) == 0) {
        if (petrel__decode_offset_msg_id(r.offset_msg_id, NULL, 0, &cloff) != 0)
            PLOG_WARN("send_tx: cannot decode offset msg id '%s'", r.offset_msg_id);
        end_tx(p, addr, r.queue_offset, cloff, st, 0, c->uniq, c->uniq);
    }
    ctx_free(c);
    return PETREL_OK;
}

typedef struct check_req_s {
    petrel_producer_t *p;
    char addr[64];
    int64_t qoff, cloff;
    char msg_id[128];
    char tx_id[128];
    uint8_t *body;
    uint32_t body_len;
} check_req_t;

static void run_check(void *arg) {
    check_req_t *cr = arg;
    petrel_producer_t *p = cr->p;
    petrel_msg_t *m = NULL;
    size_t used;
    if (p->tx_check && !atomic_load(&p->closing) &&
        petrel__record_decode(cr->body, cr->body_len, NULL, &m, &used) == PETREL_OK) {
        petrel_tx_state_t st = p->tx_check(p, m, p->tx_opaque);
        const char *u = petrel__msg_prop(m, PETREL_PROP_UNIQ_KEY);
        end_tx(p, cr->addr, cr->qoff, cr->cloff, st, 1, cr->msg_id[0] ? cr->msg_id : (u ? u : ""),
               cr->tx_id[0] ? cr->tx_id : NULL);
        petrel_msg_destroy(m);
    }
    free(cr->body);
    free(cr);
}

static void producer_request(void *owner, const char *addr, rm_cmd_t *req) {
    petrel_producer_t *p = owner;
    if (req->code != CHECK_TRANSACTION_STATE || !p->tx_check) return;
    check_req_t *cr = xcalloc(1, sizeof(*cr));
    cr->p = p;
    snprintf(cr->addr, sizeof(cr->addr), "%s", addr);
    rm_ext_i64(req, "tranStateTableOffset", &cr->qoff);
    rm_ext_i64(req, "commitLogOffset", &cr->cloff);
    const char *s = rm_ext_get(req, "msgId");
    if (s) snprintf(cr->msg_id, sizeof(cr->msg_id), "%s", s);
    s = rm_ext_get(req, "transactionId");
    if (s) snprintf(cr->tx_id, sizeof(cr->tx_id), "%s", s);
    if (req->body_len) {
        cr->body = xmalloc(req->body_len);
        memcpy(cr->body, req->body, req->body_len);
        cr->body_len = req->body_len;
    }
    petrel__inst_defer(p->inst, 0, run_check, cr);
}
