/*
 * send: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320)
 * (Java SendMessageProcessor): checks, topic auto-creation, retry/DLQ
 * routing, broker-added properties, the store append and, under SYNC_FLUSH,
 * a reply deferred until the flush thread reports the fsync.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"

#define FAQ " See http://rocketmq.apache.org/docs/faq/ for further details."
#define ILLEGAL_REMARK                                                                   \
    "the message is illegal, maybe msg body or properties length not matched. msg body " \
    "length limit %dB, msg properties length limit 32KB."
#define MAX_BATCH 65536 /* members per SEND_BATCH_MESSAGE */

typedef struct send_hdr_s {
    const char *group, *topic, *def_topic, *props;
    int32_t def_qn, qid, sysflag, flag, reconsume, max_reconsume;
    int64_t born_ts;
    int batch;
    int has_max_reconsume;
} send_hdr_t;

/* A SYNC_FLUSH reply waiting for the flush thread. */
typedef struct pending_send_s {
    struct pending_send_s *next;
    broker_t *b;
    rm_conn_t *conn;
    rm_reqinfo_t ri;
    _Atomic int status;
    _Atomic int repl;         /* SYNC_MASTER: 0 ok, 1 FLUSH_SLAVE_TIMEOUT, 2 SLAVE_NOT_AVAILABLE */
    int want_repl;
    int64_t upto;
    int32_t qid;
    int64_t qoff;
    char uniq[80];
    char *msg_ids;
} pending_send_t;

/* SEND_MESSAGE_V2 short keys "a".."m" and their V1 names, by slot. */
enum { F_GROUP, F_TOPIC, F_DEFTOPIC, F_DEFQN, F_QID, F_SYSFLAG, F_BORN, F_FLAG, F_PROPS,
       F_RECONSUME, F_UNIT, F_MAXRECONSUME, F_BATCH, F_N };
static const char *const V1_NAMES[F_N] = {
    "producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId",
    "sysFlag", "bornTimestamp", "flag", "properties", "reconsumeTimes", "unitMode",
    "maxReconsumeTimes", "batch"};

/* One pass over extFields: per slot the first V2 short key's value (not for SEND_MESSAGE),
 * else the first V1 name's value (what per-field linear lookups would return). */
static void index_fields(const rm_cmd_t *req, const char *out[F_N]) {
    const char *v1[F_N] = {0};
    int v2ok = req->code != SEND_MESSAGE;
    for (int j = 0; j < F_N; j++) out[j] = NULL;
    for (uint32_t i = 0; i < req->ext_count; i++) {
        const char *k = req->ext[i].key;
        if (k[0] >= 'a' && k[0] < 'a' + F_N && k[1] == 0) {
            if (v2ok && !out[k[0] - 'a']) out[k[0] - 'a'] = req->ext[i].val;
            continue;
        }
        for (int j = 0; j < F_N; j++)
            if (!v1[j] && k[0] == V1_NAMES[j][0] && strcmp(k, V1_NAMES[j]) == 0) {
                v1[j] = req->ext[i].val;
                break;
            }
    }
    for (int j = 0; j < F_N; j++)
        if (!out[j]) out[j] = v1[j];
}

static int hv_i64(const char *const *f, int slot, int64_t def, int64_t *out, int *present) {
    const char *v = f[slot];
    if (present) *present = v != NULL;
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    /* fast path: plain decimal up to 18 digits (what clients send); the rest as strtoll */
    const char *s = v + (*v == '-');
    uint64_t u = 0;
    int n = 0;
    while (n < 19 && s[n] >= '0' && s[n] <= '9') u = u * 10 + (uint64_t)(s[n++] - '0');
    if (n > 0 && n < 19 && !s[n]) {
        *out = *v == '-' ? -(int64_t)u : (int64_t)u;
        return 0;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end) return -1;
    *out = x;
    return 0;
}

static int hv_bool(const char *const *f, int slot) {
    const char *v = f[slot];
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static int parse_hdr(rm_conn_t *conn, rm_cmd_t *req, send_hdr_t *h) {
    memset(h, 0, sizeof(*h));
    const char *f[F_N];
    index_fields(req, f);
    h->group = f[F_GROUP];
    h->topic = f[F_TOPIC];
    h->def_topic = f[F_DEFTOPIC];
    h->props = f[F_PROPS];
    int64_t v;
    const char *bad = NULL;
    if (!h->topic) bad = "topic";
    else if (hv_i64(f, F_DEFQN, 4, &v, NULL)) bad = "defaultTopicQueueNums";
    else if ((h->def_qn = (int32_t)v), hv_i64(f, F_QID, -1, &v, NULL) ||
             v < INT32_MIN || v > INT32_MAX)
        bad = "queueId";
    else if ((h->qid = (int32_t)v), hv_i64(f, F_SYSFLAG, 0, &v, NULL)) bad = "sysFlag";
    else if ((h->sysflag = (int32_t)v), hv_i64(f, F_BORN, 0, &v, NULL)) bad = "bornTimestamp";
    else if ((h->born_ts = v), hv_i64(f, F_FLAG, 0, &v, NULL)) bad = "flag";
    else if ((h->flag = (int32_t)v), hv_i64(f, F_RECONSUME, 0, &v, NULL)) bad = "reconsumeTimes";
    else if ((h->reconsume = (int32_t)v),
             hv_i64(f, F_MAXRECONSUME, 16, &v, &h->has_max_reconsume))
        bad = "maxReconsumeTimes";
    if (bad) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is %s", bad,
                      strcmp(bad, "topic") == 0 ? "null" : "not a number");
        return -1;
    }
    h->max_reconsume = (int32_t)v;
    h->batch = req->code == SEND_BATCH_MESSAGE || hv_bool(f, F_BATCH);
    if (!h->born_ts) h->born_ts = now_ms();
    return 0;
}

static void peer_addr_parse(rm_conn_t *conn, uint32_t *ip, int32_t *port);

/* Parsed once per connection (the I/O thread sends many messages per connection). */
static void peer_addr(rm_conn_t *conn, uint32_t *ip, int32_t *port) {
    static __thread uint64_t cached_id;
    static __thread uint32_t cached_ip;
    static __thread int32_t cached_port;
    uint64_t id = rm_conn_id(conn);
    if (id == 0 || id != cached_id) {
        peer_addr_parse(conn, &cached_ip, &cached_port);
        cached_id = id;
    }
    *ip = cached_ip;
    *port = cached_port;
}

static void peer_addr_parse(rm_conn_t *conn, uint32_t *ip, int32_t *port) {
    const char *p = rm_conn_peer(conn);
    const char *colon = p ? strrchr(p, ':') : NULL;
    *ip = 0;
    *port = 0;
    if (!colon) return;
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - p), p);
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1) *ip = ntohl(a.s_addr);
    *port = atoi(colon + 1);
}

/* Broker-generated UNIQ_KEY: ip | pid | "classloader" | ms-in-month-ish | counter. */
static void gen_uniq(broker_t *b, char out[33]) {
    static _Atomic uint32_t counter;
    uint8_t raw[16];
    memcpy(raw, b->store_ip, 4);
    static pid_t pid; /* getpid is a system call; the broker does not fork */
    if (!pid) pid = getpid();
    be16_put(raw + 4, (uint16_t)pid);
    be32_put(raw + 6, (uint32_t)(uintptr_t)b);
    be32_put(raw + 10, (uint32_t)(now_ms() - b->boot_ts));
    be16_put(raw + 14, (uint16_t)atomic_fetch_add(&counter, 1));
    record_hex64(out, be64_get(raw));
    record_hex64(out + 16, be64_get(raw + 8));
    out[32] = 0;
}

/* props + CLUSTER (+ UNIQ_KEY when absent), without POP_CK. */
static void build_props(broker_t *b, buf_t *out, const char *props, size_t len, uint64_t sig,
                        char *uniq, size_t uniq_cap) {
    size_t start = out->len; /* batch: this member's properties only */
    if (props && len) {
        const char *v;
        size_t vl;
        if (MSGPROPS_MAY_HAVE(sig, "POP_CK") && msgprops_find(props, len, "POP_CK", &v, &vl))
            msgprops_copy_without(out, props, len, "POP_CK");
        else {
            buf_append(out, props, len);
            if (props[len - 1] != MSGPROP_SEP) buf_put_u8(out, MSGPROP_SEP);
        }
    }
    const char *v;
    size_t vl;
    const char *base = (const char *)out->data;
    if (MSGPROPS_MAY_HAVE(sig, MSGPROP_UNIQ_KEY) &&
        msgprops_find(base ? base + start : "", out->len - start, MSGPROP_UNIQ_KEY, &v, &vl)) {
        if (vl >= uniq_cap) vl = uniq_cap - 1;
        memcpy(uniq, v, vl);
        uniq[vl] = 0;
    } else {
        char id[33];
        gen_uniq(b, id);
        msgprops_append_n(out, MSGPROP_UNIQ_KEY, sizeof(MSGPROP_UNIQ_KEY) - 1, id, 32);
        size_t n = uniq_cap > 32 ? 32 : uniq_cap - 1;
        memcpy(uniq, id, n);
        uniq[n] = 0;
    }
    base = (const char *)out->data;
    if (!MSGPROPS_MAY_HAVE(sig, MSGPROP_CLUSTER) ||
        !msgprops_find(base + start, out->len - start, MSGPROP_CLUSTER, &v, &vl))
        msgprops_append(out, MSGPROP_CLUSTER, b->conf.brokerClusterName);
}

static void reply_store_error(broker_t *b, rm_conn_t *conn, rm_cmd_t *req,
                              const store_put_result_t *r) {
    char msg[400];
    switch (r->status) {
    case STORE_MESSAGE_ILLEGAL:
        snprintf(msg, sizeof(msg), ILLEGAL_REMARK, b->conf.maxMessageSize);
        rm_conn_reply(conn, req, MESSAGE_ILLEGAL, msg);
        return;
    case STORE_SERVICE_NOT_AVAILABLE:
        snprintf(msg, sizeof(msg),
                 "service not available now. It may be caused by one of the following reasons: "
                 "the broker's disk is full, messages are put to the slave, message store has "
                 "been shut down, etc.%s%s",
                 r->reason ? " Reason: " : "", r->reason ? r->reason : "");
        rm_conn_reply(conn, req, SERVICE_NOT_AVAILABLE, msg);
        return;
    case STORE_OS_PAGECACHE_BUSY:
        rm_conn_reply(conn, req, SYSTEM_BUSY,
                      "[PC_SYNCHRONIZED]broker busy, start flow control for a while");
        return;
    case STORE_CREATE_MAPPED_FILE_FAILED:
        rm_conn_reply(conn, req, SYSTEM_ERROR, "create mapped file failed, server is busy or broken.");
        return;
    default:
        snprintf(msg, sizeof(msg), "UNKNOWN_ERROR%s%s", r->reason ? ": " : "",
                 r->reason ? r->reason : "");
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
    }
}

static void write_ok(broker_t *b, rm_enc_t *e, const char *msg_id, int32_t qid, int64_t qoff,
                     const char *uniq) {
#define K(s) s, sizeof(s) - 1
    rm_enc_extkn(e, K("msgId"), msg_id, strlen(msg_id));
    rm_enc_extk_i64(e, K("queueId"), qid);
    rm_enc_extk_i64(e, K("queueOffset"), qoff);
    if (uniq && *uniq) rm_enc_extkn(e, K("transactionId"), uniq, strlen(uniq));
    rm_enc_extkn(e, K("MSG_REGION"), b->conf.regionId, strlen(b->conf.regionId));
    if (b->conf.traceOn) rm_enc_extkn(e, K("TRACE_ON"), "true", 4);
    else rm_enc_extkn(e, K("TRACE_ON"), "false", 5);
#undef K
}

static void push_done(pending_send_t *p) {
    broker_t *b = p->b;
    pthread_mutex_lock(&b->done_mu);
    p->next = b->done_head;
    b->done_head = p;
    if (!atomic_load(&b->loop_done)) uv_async_send(&b->done_async);
    pthread_mutex_unlock(&b->done_mu);
}

static void on_replicated(void *arg, int status) {
    /* HA thread */
    pending_send_t *p = arg;
    atomic_store(&p->repl, status == 0 ? 0 : 1);
    push_done(p);
}

/* SYNC_MASTER: SLAVE_NOT_AVAILABLE at once, else wait for a slave's ack. */
static void wait_slave(pending_send_t *p) {
    if (!ha_glue_slave_ok(p->b, p->upto)) {
        atomic_store(&p->repl, 2);
        push_done(p);
        return;
    }
    ha_glue_wait(p->b, p->upto, on_replicated, p);
}

static void on_flushed(void *arg, int status) {
    /* flush thread */
    pending_send_t *p = arg;
    atomic_store(&p->status, status);
    if (p->want_repl) wait_slave(p);
    else push_done(p);
}

void send_drain_done(broker_t *b) {
    pthread_mutex_lock(&b->done_mu);
    pending_send_t *p = b->done_head;
    b->done_head = NULL;
    pthread_mutex_unlock(&b->done_mu);
    while (p) {
        pending_send_t *next = p->next;
        int st = atomic_load(&p->status);
        if (!rm_conn_is_closed(p->conn)) {
            rm_enc_t e;
            int repl = atomic_load(&p->repl);
            int code = repl == 2 ? SLAVE_NOT_AVAILABLE
                       : repl == 1 ? FLUSH_SLAVE_TIMEOUT
                       : st == STORE_PUT_OK ? SUCCESS : FLUSH_DISK_TIMEOUT;
            rm_conn_reply_begin_info(p->conn, &e, &p->ri, code, NULL);
            write_ok(b, &e, p->msg_ids, p->qid, p->qoff, p->uniq);
            rm_enc_end(&e);
        }
        rm_conn_release(p->conn);
        free(p->msg_ids);
        free(p);
        p = next;
    }
}

/* Replies now, or after the fsync under SYNC_FLUSH when the producer waits. */
static void finish(broker_t *b, rm_conn_t *conn, rm_cmd_t *req, const char *msg_ids,
                   int32_t qid, int64_t qoff, const char *uniq, int64_t flush_upto, int wait) {
    b->put_total++;
    ha_glue_notify(b);
    int repl = ha_glue_sync_master(b) && wait && !rm_is_oneway(req);
    if ((b->conf.flushDiskType == 1 && wait && !rm_is_oneway(req)) || repl) {
        pending_send_t *p = xcalloc(1, sizeof(*p));
        p->want_repl = repl;
        p->upto = flush_upto;
        p->b = b;
        p->conn = conn;
        rm_conn_retain(conn);
        p->ri = rm_reqinfo(req);
        p->qid = qid;
        p->qoff = qoff;
        snprintf(p->uniq, sizeof(p->uniq), "%s", uniq ? uniq : "");
        p->msg_ids = xstrdup(msg_ids);
        if (b->conf.flushDiskType == 1) store_wait_flush(b->store, flush_upto, on_flushed, p);
        else wait_slave(p);
        return;
    }
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL); /* SYNC_MASTER with WAIT=false too */
    write_ok(b, &e, msg_ids, qid, qoff, uniq);
    rm_enc_end(&e);
}

static int prop_is_false(const char *props, size_t len, const char *key) {
    const char *v;
    size_t vl;
    return props && msgprops_find(props, len, key, &v, &vl) && vl == 5 && memcmp(v, "false", 5) == 0;
}

void h_send_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    send_hdr_t h;
    char msg[600];
    if (parse_hdr(conn, req, &h) != 0) return;
    if (b->conf.brokerRole == 2) { /* as the store would answer, before any topic creation */
        store_put_result_t r = {.status = STORE_SERVICE_NOT_AVAILABLE, .reason = "the broker is a slave"};
        reply_store_error(b, conn, req, &r);
        return;
    }
    if (!(b->conf.brokerPermission & PERM_WRITE)) {
        bk_reply_errf(conn, req, NO_PERMISSION, "the broker[%s] sending message is forbidden",
                      b->conf.brokerIP1);
        return;
    }
    if (bk_valid_topic(h.topic, msg, sizeof(msg)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    if (bk_is_forbidden_send_topic(h.topic)) {
        bk_reply_errf(conn, req, NO_PERMISSION, "Sending message to topic[%s] is forbidden.",
                      h.topic);
        return;
    }
    topic_cfg_t *tc = topics_get(b, h.topic);
    if (!tc) {
        int is_retry = strncmp(h.topic, "%RETRY%", 7) == 0;
        if (is_retry) {
            group_cfg_t *g = groups_find_or_create(b, h.topic + 7);
            if (g) tc = topics_create_sys(b, h.topic, g->retry_queue_nums > 0 ? g->retry_queue_nums : 1, 6);
        } else {
            tc = topics_create_on_send(b, h.topic, h.def_topic, h.def_qn, 0);
        }
    }
    if (!tc) {
        bk_reply_errf(conn, req, TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please!" FAQ,
                      h.topic);
        return;
    }
    if (!(tc->perm & PERM_WRITE)) {
        bk_reply_errf(conn, req, NO_PERMISSION, "the topic[%s] sending message is forbidden",
                      h.topic);
        return;
    }
    int32_t qmax = tc->wq > tc->rq ? tc->wq : tc->rq;
    if (h.qid >= qmax) {
        char desc[400];
        topic_cfg_describe(tc, desc, sizeof(desc));
        bk_reply_errf(conn, req, SYSTEM_ERROR, "request queueId[%d] is illegal, %s Producer: %s",
                      h.qid, desc, rm_conn_peer(conn));
        return;
    }
    if (h.qid < 0) h.qid = tc->wq > 0 ? (int32_t)(rand() % tc->wq) : 0;
    size_t plen = h.props ? strlen(h.props) : 0;
    if (req->body_len > (uint32_t)b->conf.maxMessageSize || plen > RECORD_MAX_PROPS) {
        bk_reply_errf(conn, req, MESSAGE_ILLEGAL, ILLEGAL_REMARK, b->conf.maxMessageSize);
        return;
    }
    const char *topic = h.topic;
    char dlq[NAME_MAX_LEN + 8];
    /* Retry topic: too many reconsumes -> the group's DLQ. */
    if (strncmp(topic, "%RETRY%", 7) == 0 && !h.batch) {
        group_cfg_t *g = groups_find_or_create(b, topic + 7);
        if (!g) {
            bk_reply_errf(conn, req, SUBSCRIPTION_GROUP_NOT_EXIST,
                          "subscription group not exist, %s" FAQ, topic + 7);
            return;
        }
        int32_t maxr = h.has_max_reconsume && req->version >= 121 ? h.max_reconsume : g->retry_max_times;
        if (h.reconsume > maxr) {
            snprintf(dlq, sizeof(dlq), "%%DLQ%%%s", topic + 7);
            topic_cfg_t *d = topics_create_sys(b, dlq, 1, 6);
            if (!d) {
                rm_conn_reply(conn, req, SYSTEM_ERROR, "topic create failed for DLQ");
                return;
            }
            topic = dlq;
            h.qid = 0;
        }
    }
    uint32_t born_ip;
    int32_t born_port;
    peer_addr(conn, &born_ip, &born_port);
    int32_t sysflag = h.sysflag & ~(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6);
    if (tc->multi_tag) sysflag |= MSG_FLAG_MULTI_TAGS;
    /* keys present in the producer's properties: most lookups below are for absent keys */
    uint64_t sig = msgprops_sig(h.props, plen);
    int wait = !(MSGPROPS_MAY_HAVE(sig, MSGPROP_WAIT) && prop_is_false(h.props, plen, MSGPROP_WAIT));
    uint32_t store_ip = be32_get(b->store_ip);
    char uniq[80] = "";

    if (!h.batch) {
        buf_t *props = &b->props_buf;
        buf_reset(props);
        build_props(b, props, h.props, plen, sig, uniq, sizeof(uniq));
        sig |= msgprops_sig_bit(MSGPROP_UNIQ_KEY, strlen(MSGPROP_UNIQ_KEY)) |
               msgprops_sig_bit(MSGPROP_CLUSTER, strlen(MSGPROP_CLUSTER));
        if (props->len > RECORD_MAX_PROPS) {
            bk_reply_errf(conn, req, MESSAGE_ILLEGAL, ILLEGAL_REMARK, b->conf.maxMessageSize);
            return;
        }
        int is_dlq = topic == dlq;
        buf_t np;
        buf_init(&np);
        if (is_dlq) {
            /* A dead letter is never delayed. */
            msgprops_copy_without(&np, (const char *)props->data, props->len, MSGPROP_DELAY);
            props = &np;
        }
        store_msg_t m = {0};
        m.topic = topic;
        m.topic_len = (uint32_t)strlen(topic);
        m.queue_id = h.qid;
        m.flag = h.flag;
        m.sys_flag = sysflag;
        m.born_ts = h.born_ts;
        m.born_ip = born_ip;
        m.born_port = born_port;
        m.store_ip = store_ip;
        m.store_port = b->port;
        m.reconsume_times = h.reconsume;
        m.body = req->body;
        m.body_len = req->body_len;
        m.props = (const char *)props->data;
        m.props_len = (uint32_t)props->len;
        m.tags_code = MSGPROPS_MAY_HAVE(sig, MSGPROP_TAGS) ? msgprops_tags_code(m.props, m.props_len) : 0;
        char sched[32];
        const char *tv;
        size_t tvl;
        int half = !is_dlq && MSGPROPS_MAY_HAVE(sig, MSGPROP_TRAN_MSG) && msgprops_find(m.props, m.props_len, MSGPROP_TRAN_MSG, &tv, &tvl) &&
                   tvl == 4 && memcmp(tv, "true", 4) == 0;
        int lvl = is_dlq || half || !MSGPROPS_MAY_HAVE(sig, MSGPROP_DELAY) ? 0 : schedule_level_of(m.props, m.props_len);
        if (half) {
            if (b->conf.rejectTransactionMessage) {
                buf_free(&np);
                bk_reply_errf(conn, req, NO_PERMISSION,
                              "the broker[%s] sending transaction message is forbidden",
                              b->conf.brokerIP1);
                return;
            }
            txn_redirect_half(b, &m, props);
        } else if (lvl > 0) {
            schedule_redirect(b, &m, props, lvl, sched);
        } else if (!is_dlq) {
            int maybe_timer = MSGPROPS_MAY_HAVE(sig, MSGPROP_TIMER_DELIVER_MS) ||
                              MSGPROPS_MAY_HAVE(sig, MSGPROP_TIMER_DELAY_SEC) ||
                              MSGPROPS_MAY_HAVE(sig, MSGPROP_TIMER_DELAY_MS);
            int64_t now = maybe_timer ? now_ms() : 0, due = 0;
            int tr = maybe_timer ? timer_due_of(m.props, m.props_len, now, &due) : 0;
            if (tr < 0 || (tr > 0 && due - now > TIMER_MAX_DELAY_MS)) {
                buf_free(&np);
                rm_conn_reply(conn, req, MESSAGE_ILLEGAL,
                              tr < 0 ? "timer message illegal: TIMER_DELIVER_MS / TIMER_DELAY_SEC / "
                                       "TIMER_DELAY_MS is not a number"
                                     : "timer message illegal: the delay time is longer than 3 days");
                return;
            }
            if (tr > 0 && due > now) timer_redirect(b, &m, props, due);
        }
        if (props->len > RECORD_MAX_PROPS) {
            buf_free(&np);
            bk_reply_errf(conn, req, MESSAGE_ILLEGAL, ILLEGAL_REMARK, b->conf.maxMessageSize);
            return;
        }
        store_put_result_t r;
        bk_props_trim(m.props, &m.props_len);
        store_put(b->store, &m, &r);
        buf_free(&np);
        if (r.status != STORE_PUT_OK) {
            reply_store_error(b, conn, req, &r);
            return;
        }
        bm_on_put(b, tc, m.topic, m.body_len);
        finish(b, conn, req, r.msg_id, h.qid, r.queue_offset, uniq, r.phys_offset + r.wrote_bytes,
               wait);
        return;
    }

    /* Batch. */
    if (strncmp(topic, "%RETRY%", 7) == 0) {
        rm_conn_reply(conn, req, MESSAGE_ILLEGAL, "batch request does not support retry group");
        return;
    }
    /* Scratch arrays kept on the broker and grown on demand (loop thread only). */
    store_msg_t *ms = b->batch_ms;
    size_t *poff = b->batch_poff;
    store_put_result_t *rs = b->batch_rs;
    buf_t props = b->props_buf; /* reused storage; handed back below */
    buf_reset(&props);
    size_t pos = 0, n = 0;
    record_batch_member_t bm;
    int rc;
    while ((rc = record_batch_next(req->body, req->body_len, &pos, &bm)) == 1) {
        if (n >= MAX_BATCH) {
            rc = -2;
            break;
        }
        if (n >= b->batch_cap) {
            b->batch_cap = b->batch_cap ? b->batch_cap * 2 : 64;
            b->batch_ms = ms = xrealloc(b->batch_ms, b->batch_cap * sizeof(store_msg_t));
            b->batch_poff = poff = xrealloc(b->batch_poff, b->batch_cap * sizeof(size_t));
            b->batch_rs = rs = xrealloc(b->batch_rs, b->batch_cap * sizeof(store_put_result_t));
        }
        const char *dv;
        size_t dvl;
        uint64_t msig = msgprops_sig(bm.props, bm.props_len);
        if (bm.props_len && MSGPROPS_MAY_HAVE(msig, MSGPROP_DELAY) &&
            msgprops_find(bm.props, bm.props_len, MSGPROP_DELAY, &dv, &dvl) &&
            !(dvl == 1 && dv[0] == '0')) {
            rc = -3;
            break;
        }
        if (bm.body_len > (uint32_t)b->conf.maxMessageSize) {
            rc = -1;
            break;
        }
        char u[80];
        poff[n] = props.len;
        build_props(b, &props, bm.props, bm.props_len, msig, u, sizeof(u));
        if (props.len - poff[n] > RECORD_MAX_PROPS) {
            rc = -1;
            break;
        }
        if (n == 0) snprintf(uniq, sizeof(uniq), "%s", u);
        store_msg_t *m = &ms[n];
        memset(m, 0, sizeof(*m));
        m->topic = topic;
        m->topic_len = (uint32_t)strlen(topic);
        m->queue_id = h.qid;
        m->flag = bm.flag;
        m->sys_flag = sysflag;
        m->born_ts = h.born_ts;
        m->born_ip = born_ip;
        m->born_port = born_port;
        m->store_ip = store_ip;
        m->store_port = b->port;
        m->reconsume_times = h.reconsume;
        m->body = bm.body;
        m->body_len = bm.body_len;
        /* the member's own properties hold its TAGS, if any (build_props adds none) */
        m->tags_code = MSGPROPS_MAY_HAVE(msig, MSGPROP_TAGS)
                           ? msgprops_tags_code(bm.props, bm.props_len)
                           : 0;
        n++;
    }
    if (rc != 0 || n == 0) {
        b->props_buf = props;
        if (rc == -3)
            rm_conn_reply(conn, req, MESSAGE_ILLEGAL, "TimeDelayLevel in not supported for batching");
        else if (rc == -2)
            rm_conn_reply(conn, req, MESSAGE_ILLEGAL, "too many messages in one batch");
        else if (n == 0 && rc == 0)
            rm_conn_reply(conn, req, MESSAGE_ILLEGAL, "the batch body holds no message");
        else {
            bk_reply_errf(conn, req, MESSAGE_ILLEGAL, ILLEGAL_REMARK, b->conf.maxMessageSize);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? poff[i + 1] : props.len;
        ms[i].props = (const char *)props.data + poff[i];
        ms[i].props_len = (uint32_t)(end - poff[i]);
        bk_props_trim(ms[i].props, &ms[i].props_len);
    }
    int st = store_put_batch(b->store, ms, n, rs);
    b->props_buf = props;
    if (st != STORE_PUT_OK) {
        reply_store_error(b, conn, req, &rs[0]);
        return;
    }
    bm_on_put_batch(b, topic, ms, n);
    char *ids = xmalloc(n * (RECORD_MSGID_V4_LEN + 1) + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) ids[o++] = ',';
        memcpy(ids + o, rs[i].msg_id, RECORD_MSGID_V4_LEN);
        o += RECORD_MSGID_V4_LEN;
    }
    ids[o] = 0;
    b->put_total += (int64_t)n - 1;
    finish(b, conn, req, ids, h.qid, rs[0].queue_offset, NULL,
           rs[n - 1].phys_offset + rs[n - 1].wrote_bytes, wait);
    free(ids);
}
