/*
 * txn: transactional messages (Java TransactionalMessageService, 4.x
 * layout). A half message (TRAN_MSG=true) is stored in
 * RMQ_SYS_TRANS_HALF_TOPIC queue 0 with REAL_TOPIC/REAL_QID, invisible to
 * consumers. END_TRANSACTION commits (re-writes it to the real topic with the
 * COMMIT sysFlag and preparedTransactionOffset) or rolls back; either way an
 * op record whose body is the half queue offset goes to
 * RMQ_SYS_TRANS_OP_HALF_TOPIC, which is replayed at start. A timer sends
 * CHECK_TRANSACTION_STATE to a live producer of the group for half messages
 * older than transactionTimeOut, at most transactionCheckMax times, then
 * discards them (logged).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"

#define HALF_TOPIC "RMQ_SYS_TRANS_HALF_TOPIC"
#define OP_TOPIC "RMQ_SYS_TRANS_OP_HALF_TOPIC"

typedef struct txn_check_s {
    int count;
    int64_t last_ts;
} txn_check_t;

static void key_of(char *k, size_t n, int64_t qoff) { snprintf(k, n, "%" PRId64, qoff); }

static int is_resolved(broker_t *b, int64_t qoff) {
    char k[32];
    key_of(k, sizeof(k), qoff);
    return strmap_get(&b->txn_resolved, k) != NULL;
}

static void mark_resolved(broker_t *b, int64_t qoff) {
    char k[32];
    key_of(k, sizeof(k), qoff);
    strmap_put(&b->txn_resolved, k, (void *)1);
    free(strmap_del(&b->txn_checks, k));
}

/* Writes the op record (body = half queue offset) and remembers it. */
static int write_op(broker_t *b, int64_t qoff) {
    char body[32];
    int n = snprintf(body, sizeof(body), "%" PRId64, qoff);
    const char props[] = "TAGS\001d\002";
    store_msg_t m = {0};
    m.topic = OP_TOPIC;
    m.topic_len = (uint32_t)strlen(OP_TOPIC);
    m.queue_id = 0;
    m.born_ts = now_ms();
    m.store_ip = be32_get(b->store_ip);
    m.store_port = b->port;
    m.body = body;
    m.body_len = (uint32_t)n;
    m.props = props;
    m.props_len = (uint32_t)(sizeof(props) - 1);
    m.tags_code = msgprops_tags_code(m.props, m.props_len);
    store_put_result_t r;
    store_put(b->store, &m, &r);
    if (r.status != STORE_PUT_OK) return -1;
    mark_resolved(b, qoff);
    return 0;
}

void txn_init(broker_t *b) {
    strmap_init(&b->txn_resolved);
    strmap_init(&b->txn_checks);
}

void txn_free(broker_t *b) {
    STRMAP_FOREACH(&b->txn_checks, e) free(e->val);
    strmap_free(&b->txn_checks);
    strmap_free(&b->txn_resolved);
}

/* Replays the op topic (which half messages are done) and sets the scan start. */
void txn_load(broker_t *b) {
    int64_t max = store_max_offset(b->store, OP_TOPIC, 0);
    int64_t off = store_min_offset(b->store, OP_TOPIC, 0);
    if (off < 0) off = 0;
    for (; off < max; off++) {
        int64_t phys, tags;
        int32_t size;
        if (store_cq_entry(b->store, OP_TOPIC, 0, off, &phys, &size, &tags) != 0) continue;
        store_pinned_t p;
        if (store_read_at(b->store, phys, &p) != 0) continue;
        record_view_t v;
        if (record_decode(p.data, p.len, &v, 0) == RECORD_OK && v.body_len < 32) {
            char s[32];
            memcpy(s, v.body, v.body_len);
            s[v.body_len] = 0;
            char k[32];
            key_of(k, sizeof(k), strtoll(s, NULL, 10));
            strmap_put(&b->txn_resolved, k, (void *)1);
        }
        store_pinned_release(&p);
    }
    int64_t hmin = store_min_offset(b->store, HALF_TOPIC, 0);
    b->txn_check_off = hmin < 0 ? 0 : hmin;
}

/* Send path: turns a prepared message into a half message. */
void txn_redirect_half(broker_t *b, store_msg_t *m, buf_t *props) {
    char t[NAME_MAX_LEN], q[16];
    snprintf(t, sizeof(t), "%.*s", (int)m->topic_len, m->topic);
    snprintf(q, sizeof(q), "%d", m->queue_id);
    msgprops_append(props, MSGPROP_REAL_TOPIC, t);
    msgprops_append(props, MSGPROP_REAL_QID, q);
    m->topic = HALF_TOPIC;
    m->topic_len = (uint32_t)strlen(HALF_TOPIC);
    m->queue_id = 0;
    m->sys_flag &= ~MSG_TX_MASK;
    m->props = (const char *)props->data;
    m->props_len = (uint32_t)props->len;
    m->tags_code = msgprops_tags_code(m->props, m->props_len);
}

static int prop_eq(const record_view_t *v, const char *key, const char *want) {
    const char *val;
    size_t vl;
    if (!msgprops_find(v->props, v->props_len, key, &val, &vl)) return 0;
    return strlen(want) == vl && memcmp(val, want, vl) == 0;
}

static int commit_half(broker_t *b, const record_view_t *v, int64_t phys) {
    const char *rt, *rq;
    size_t rtl, rql;
    if (!msgprops_find(v->props, v->props_len, MSGPROP_REAL_TOPIC, &rt, &rtl) ||
        !msgprops_find(v->props, v->props_len, MSGPROP_REAL_QID, &rq, &rql) || rtl == 0 ||
        rtl >= NAME_MAX_LEN)
        return -1;
    char topic[NAME_MAX_LEN];
    memcpy(topic, rt, rtl);
    topic[rtl] = 0;
    buf_t props;
    buf_init(&props);
    buf_t tmp;
    buf_init(&tmp);
    msgprops_copy_without(&tmp, v->props, v->props_len, MSGPROP_REAL_TOPIC);
    msgprops_copy_without(&props, (const char *)tmp.data, tmp.len, MSGPROP_REAL_QID);
    buf_free(&tmp);
    store_msg_t m;
    bk_msg_from_record(b, &m, v);
    m.topic = topic;
    m.topic_len = (uint32_t)rtl;
    m.queue_id = (int32_t)strtol(rq, NULL, 10);
    m.sys_flag = (m.sys_flag & ~MSG_TX_MASK) | MSG_TX_COMMIT;
    m.prepared_tx_offset = phys;
    m.props = (const char *)props.data;
    m.props_len = (uint32_t)props.len;
    m.tags_code = msgprops_tags_code(m.props, m.props_len);
    store_put_result_t r;
    bk_props_trim(m.props, &m.props_len);
    store_put(b->store, &m, &r);
    buf_free(&props);
    if (r.status != STORE_PUT_OK) return -1;
    b->put_total++;
    return 0;
}

void h_end_transaction(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN], msg[300];
    int64_t tso, clo;
    int32_t cr;
    if (bk_req_str(conn, req, "producerGroup", group, sizeof(group)) != 0 ||
        bk_req_i64(conn, req, "tranStateTableOffset", &tso) != 0 ||
        bk_req_i64(conn, req, "commitLogOffset", &clo) != 0 ||
        bk_req_i32(conn, req, "commitOrRollback", &cr) != 0)
        return;
    if (cr != MSG_TX_COMMIT && cr != MSG_TX_ROLLBACK) {
        /* TRANSACTION_NOT_TYPE: the producer does not know yet; wait for the check. */
        rm_conn_reply(conn, req, SUCCESS, NULL);
        return;
    }
    if ((tso >= 0 && tso < b->txn_check_off) || is_resolved(b, tso)) {
        rm_conn_reply(conn, req, SUCCESS, NULL);
        return;
    }
    store_pinned_t p;
    record_view_t v;
    if (clo < 0 || store_read_at(b->store, clo, &p) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "Find prepared transaction message failed");
        return;
    }
    if (record_decode(p.data, p.len, &v, 0) != RECORD_OK || v.topic_len != strlen(HALF_TOPIC) ||
        memcmp(v.topic, HALF_TOPIC, v.topic_len) != 0) {
        store_pinned_release(&p);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "Find prepared transaction message failed");
        return;
    }
    if (!prop_eq(&v, MSGPROP_PGROUP, group)) {
        store_pinned_release(&p);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "The producer group wrong");
        return;
    }
    if (v.queue_offset != tso) {
        store_pinned_release(&p);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "The transaction state table offset wrong");
        return;
    }
    if (cr == MSG_TX_COMMIT && commit_half(b, &v, clo) != 0) {
        store_pinned_release(&p);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "store the committed message failed");
        return;
    }
    store_pinned_release(&p);
    if (write_op(b, tso) != 0) {
        snprintf(msg, sizeof(msg), "the transaction op record could not be stored");
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void send_check(broker_t *b, bclient_t *cl, const record_view_t *v, int64_t phys) {
    const char *rt = "", *rq = "0", *uk = "";
    size_t rtl = 0, rql = 1, ukl = 0;
    msgprops_find(v->props, v->props_len, MSGPROP_REAL_TOPIC, &rt, &rtl);
    msgprops_find(v->props, v->props_len, MSGPROP_REAL_QID, &rq, &rql);
    msgprops_find(v->props, v->props_len, MSGPROP_UNIQ_KEY, &uk, &ukl);
    char topic[NAME_MAX_LEN], q[16], uniq[128], tso[32], clo[32], oid[RECORD_MSGID_MAX_LEN + 1];
    snprintf(topic, sizeof(topic), "%.*s", (int)rtl, rt);
    snprintf(q, sizeof(q), "%.*s", (int)(rql < 15 ? rql : 15), rq);
    snprintf(uniq, sizeof(uniq), "%.*s", (int)(ukl < 127 ? ukl : 127), uk);
    snprintf(tso, sizeof(tso), "%" PRId64, v->queue_offset);
    snprintf(clo, sizeof(clo), "%" PRId64, phys);
    record_msgid_encode_host(v->store_host, v->store_host_len, phys, oid);
    /* Body: the half message as a record, with the real topic and queue. */
    record_fields_t f = {0};
    f.queue_id = (int32_t)strtol(q, NULL, 10);
    f.flag = v->flag;
    f.queue_offset = v->queue_offset;
    f.phys_offset = phys;
    f.sys_flag = v->sys_flag;
    f.born_ts = v->born_ts;
    f.born_ip = v->born_host_len == 8 ? be32_get(v->born_host) : 0;
    f.born_port = record_host_port(v->born_host, v->born_host_len);
    f.store_ts = v->store_ts;
    f.store_ip = be32_get(b->store_ip);
    f.store_port = b->port;
    f.reconsume_times = v->reconsume_times;
    f.body = v->body;
    f.body_len = v->body_len;
    f.body_crc = v->body_crc;
    f.topic = topic;
    f.topic_len = (uint32_t)strlen(topic);
    f.props = v->props;
    f.props_len = v->props_len;
    uint32_t sz = record_size(f.body_len, f.topic_len, f.props_len);
    uint8_t *rec = xmalloc(sz);
    uint32_t n = f.topic_len ? record_encode(&f, rec, sz) : 0;
    rm_enc_t e;
    rm_conn_request_begin(cl->conn, &e, CHECK_TRANSACTION_STATE, 1, NULL, NULL, 0);
    rm_enc_ext(&e, "topic", topic);
    rm_enc_ext(&e, "tranStateTableOffset", tso);
    rm_enc_ext(&e, "commitLogOffset", clo);
    rm_enc_ext(&e, "msgId", uniq);
    rm_enc_ext(&e, "transactionId", uniq);
    rm_enc_ext(&e, "offsetMsgId", oid);
    rm_enc_ext(&e, "bname", b->conf.brokerName);
    if (n) rm_enc_body(&e, rec, n);
    rm_enc_end(&e);
    free(rec);
}

void txn_check_tick(broker_t *b) {
    int64_t now = now_ms();
    int64_t max = store_max_offset(b->store, HALF_TOPIC, 0);
    int64_t min = store_min_offset(b->store, HALF_TOPIC, 0);
    if (b->txn_check_off < min) b->txn_check_off = min;
    /* Skip the resolved prefix. */
    while (b->txn_check_off < max && is_resolved(b, b->txn_check_off)) {
        char k[32];
        key_of(k, sizeof(k), b->txn_check_off);
        strmap_del(&b->txn_resolved, k); /* below the scan start: never looked up again */
        b->txn_check_off++;
    }
    int budget = 1000;
    for (int64_t off = b->txn_check_off; off < max && budget-- > 0; off++) {
        if (is_resolved(b, off)) continue;
        int64_t phys, tags;
        int32_t size;
        if (store_cq_entry(b->store, HALF_TOPIC, 0, off, &phys, &size, &tags) != 0) continue;
        store_pinned_t p;
        if (store_read_at(b->store, phys, &p) != 0) {
            mark_resolved(b, off);
            continue;
        }
        record_view_t v;
        if (record_decode(p.data, p.len, &v, 0) != RECORD_OK) {
            store_pinned_release(&p);
            continue;
        }
        int64_t immunity = b->conf.transactionTimeOut;
        const char *iv;
        size_t ivl;
        if (msgprops_find(v.props, v.props_len, MSGPROP_CHECK_IMMUNITY_TIME, &iv, &ivl))
            immunity = strtoll(iv, NULL, 10) * 1000;
        if (now - v.store_ts < immunity) {
            store_pinned_release(&p);
            break; /* later ones are younger */
        }
        char k[32];
        key_of(k, sizeof(k), off);
        txn_check_t *c = strmap_get(&b->txn_checks, k);
        if (!c) {
            c = xcalloc(1, sizeof(*c));
            strmap_put(&b->txn_checks, k, c);
        }
        if (c->count >= b->conf.transactionCheckMax) {
            log_warn("half message at queue offset %" PRId64 " checked %d times: discarded", off,
                     c->count);
            write_op(b, off);
            store_pinned_release(&p);
            continue;
        }
        if (c->last_ts && now - c->last_ts < b->conf.transactionCheckInterval) {
            store_pinned_release(&p);
            continue;
        }
        const char *pg;
        size_t pgl;
        char group[NAME_MAX_LEN] = "";
        if (msgprops_find(v.props, v.props_len, MSGPROP_PGROUP, &pg, &pgl))
            snprintf(group, sizeof(group), "%.*s", (int)pgl, pg);
        pgroup_t *pgrp = clients_pgroup(b, group);
        bclient_t *cl = NULL;
        for (int i = 0; pgrp && i < pgrp->nchans && !cl; i++)
            if (!rm_conn_is_closed(pgrp->chans[i].cl->conn)) cl = pgrp->chans[i].cl;
        if (cl) {
            send_check(b, cl, &v, phys);
            c->count++;
            c->last_ts = now;
        }
        store_pinned_release(&p);
    }
}
