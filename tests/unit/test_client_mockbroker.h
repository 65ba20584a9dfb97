/*
 * A mock NameServer + broker in one rm_server, on its own libuv thread, for
 * libpetrel's tests (STYLE: "test the client against an in-process mock
 * broker"). It keeps messages in memory, answers the codes a client sends
 * (routes, heartbeats, sends and batches, pulls with long polling, offsets,
 * consumer lists with NOTIFY_CONSUMER_IDS_CHANGED, send-back, locks,
 * END_TRANSACTION, UNREGISTER_CLIENT) and records what it saw.
 * Header-only: included by tests/unit/test_client_*.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TEST_CLIENT_MOCKBROKER_H
#define PETREL_TEST_CLIENT_MOCKBROKER_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/buf.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "remoting/remoting.h"

#define MB_MAX 256

typedef struct mb_topic_s {
    char name[256];
    int nq;
    int64_t *idx[64]; /* per queue: phys offsets */
    size_t n[64], cap[64];
} mb_topic_t;

typedef struct mb_off_s {
    char key[512]; /* group@topic@qid */
    int64_t off;
} mb_off_t;

typedef struct mb_member_s {
    char group[128];
    char cid[256];
    rm_conn_t *conn;
} mb_member_t;

typedef struct mb_lock_s {
    char key[512]; /* group@topic@broker@qid */
    char cid[256];
} mb_lock_t;

typedef struct mb_held_s {
    rm_conn_t *conn;
    rm_reqinfo_t ri;
    char topic[256];
    int qid, max;
    int64_t off, expiry;
    int used;
} mb_held_t;

typedef struct mb_s {
    uv_loop_t loop;
    uv_timer_t timer;
    uv_async_t stop;
    pthread_t thr;
    rm_server_t *srv;
    int port;
    char addr[64];
    pthread_mutex_t mu;
    buf_t log; /* every record back to back; phys offset = position */
    mb_topic_t topics[MB_MAX];
    int n_topics;
    mb_off_t offs[MB_MAX * 4];
    int n_offs;
    mb_member_t members[MB_MAX];
    int n_members;
    mb_lock_t locks[MB_MAX];
    int n_locks;
    mb_held_t held[MB_MAX];
    /* counters, for assertions */
    int code_count[1000];
    int notifies;
    int end_tx[3]; /* commit, rollback, unknown */
    char last_unregister[256];
    rm_conn_t *producer_conn; /* last producer that heartbeated */
} mb_t;

static mb_topic_t *mb_topic(mb_t *mb, const char *name, int create_nq) {
    for (int i = 0; i < mb->n_topics; i++)
        if (strcmp(mb->topics[i].name, name) == 0) return &mb->topics[i];
    if (!create_nq || mb->n_topics == MB_MAX) return NULL;
    mb_topic_t *t = &mb->topics[mb->n_topics++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->nq = create_nq;
    return t;
}

static int64_t *mb_off_slot(mb_t *mb, const char *g, const char *t, int q, int create) {
    char key[512];
    snprintf(key, sizeof(key), "%s@%s@%d", g, t, q);
    for (int i = 0; i < mb->n_offs; i++)
        if (strcmp(mb->offs[i].key, key) == 0) return &mb->offs[i].off;
    if (!create) return NULL;
    snprintf(mb->offs[mb->n_offs].key, 512, "%s", key);
    return &mb->offs[mb->n_offs++].off;
}

/* Appends a record; indexes it unless it is a prepared half message. Returns phys offset. */
static int64_t mb_append(mb_t *mb, const char *topic, int qid, int32_t flag, int32_t sys,
                         int64_t born, const void *body, uint32_t blen, const char *props,
                         uint32_t plen, int32_t reconsume, int index) {
    mb_topic_t *t = mb_topic(mb, topic, 4);
    if (qid < 0 || qid >= t->nq) qid = 0;
    record_fields_t f;
    memset(&f, 0, sizeof(f));
    f.queue_id = qid;
    f.flag = flag;
    f.queue_offset = (int64_t)t->n[qid];
    f.phys_offset = (int64_t)mb->log.len;
    f.sys_flag = sys;
    f.born_ts = born;
    f.born_ip = 0x7f000001;
    f.born_port = 5555;
    f.store_ts = now_ms();
    f.store_ip = 0x7f000001;
    f.store_port = mb->port;
    f.reconsume_times = reconsume;
    f.body = body;
    f.body_len = blen;
    f.body_crc = record_body_crc(body, blen);
    f.topic = topic;
    f.topic_len = (uint32_t)strlen(topic);
    f.props = props;
    f.props_len = plen;
    uint32_t sz = record_size(blen, f.topic_len, plen);
    uint8_t *dst = buf_reserve(&mb->log, sz);
    PETREL_ASSERT(record_encode(&f, dst, sz) == sz);
    mb->log.len += sz;
    if (index) {
        if (t->n[qid] == t->cap[qid]) {
            t->cap[qid] = t->cap[qid] ? t->cap[qid] * 2 : 64;
            t->idx[qid] = xrealloc(t->idx[qid], t->cap[qid] * sizeof(int64_t));
        }
        t->idx[qid][t->n[qid]++] = f.phys_offset;
    }
    return f.phys_offset;
}

static const record_view_t *mb_view(mb_t *mb, int64_t phys, record_view_t *v) {
    if (phys < 0 || (size_t)phys >= mb->log.len) return NULL;
    if (record_decode(mb->log.data + phys, mb->log.len - (size_t)phys, v, 0) != RECORD_OK)
        return NULL;
    return v;
}

static void mb_notify(mb_t *mb, const char *group) {
    for (int i = 0; i < mb->n_members; i++) {
        if (strcmp(mb->members[i].group, group) != 0) continue;
        rm_enc_t e;
        rm_conn_request_begin(mb->members[i].conn, &e, NOTIFY_CONSUMER_IDS_CHANGED, 1, NULL, NULL,
                              0);
        rm_enc_ext(&e, "consumerGroup", group);
        rm_enc_end(&e);
        mb->notifies++;
    }
}

static void mb_remove_member(mb_t *mb, int i) {
    char g[128];
    snprintf(g, sizeof(g), "%s", mb->members[i].group);
    mb->members[i] = mb->members[--mb->n_members];
    mb_notify(mb, g);
}

static void mb_route(mb_t *mb, rm_conn_t *conn, rm_cmd_t *req) {
    const char *topic = rm_ext_get(req, "topic");
    mb_topic_t *t = topic ? mb_topic(mb, topic, 0) : NULL;
    if (!t) {
        rm_conn_reply(conn, req, TOPIC_NOT_EXIST, "No topic route info in name server");
        return;
    }
    buf_t b;
    buf_init(&b);
    buf_printf(&b,
               "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"%s\"},\"brokerName\":\"broker-a\","
               "\"cluster\":\"C\"}],\"filterServerTable\":{},\"queueDatas\":[{\"brokerName\":"
               "\"broker-a\",\"perm\":%d,\"readQueueNums\":%d,\"writeQueueNums\":%d,"
               "\"topicSynFlag\":0}]}",
               mb->addr, strcmp(topic, "TBW102") == 0 ? 7 : 6, t->nq, t->nq);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_body(&e, b.data, b.len);
    rm_enc_end(&e);
    buf_free(&b);
}

static void mb_heartbeat(mb_t *mb, rm_conn_t *conn, rm_cmd_t *req) {
    cJSON *root = cJSON_ParseWithLength((const char *)req->body, req->body_len);
    cJSON *cid = cJSON_GetObjectItem(root, "clientID");
    cJSON *cs = cJSON_GetObjectItem(root, "consumerDataSet"), *e;
    cJSON_ArrayForEach(e, cs) {
        const char *g = cJSON_GetObjectItem(e, "groupName")->valuestring;
        char retry[300];
        snprintf(retry, sizeof(retry), "%%RETRY%%%s", g);
        mb_topic(mb, retry, 1);
        int found = 0;
        for (int i = 0; i < mb->n_members; i++)
            if (mb->members[i].conn == conn && strcmp(mb->members[i].group, g) == 0) found = 1;
        if (!found && mb->n_members < MB_MAX) {
            mb_member_t *m = &mb->members[mb->n_members++];
            snprintf(m->group, sizeof(m->group), "%s", g);
            snprintf(m->cid, sizeof(m->cid), "%s", cid->valuestring);
            m->conn = conn;
            mb_notify(mb, g);
        }
    }
    cJSON *ps = cJSON_GetObjectItem(root, "producerDataSet");
    if (cJSON_GetArraySize(ps) > 0) mb->producer_conn = conn;
    cJSON_Delete(root);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

static void mb_send_reply(mb_t *mb, rm_conn_t *conn, rm_cmd_t *req, int qid, int64_t qoff,
                          int64_t phys) {
    char id[64];
    record_msgid_encode(0x7f000001, mb->port, phys, id);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "msgId", id);
    rm_enc_ext_i64(&e, "queueId", qid);
    rm_enc_ext_i64(&e, "queueOffset", qoff);
    rm_enc_ext(&e, "MSG_REGION", "DefaultRegion");
    rm_enc_ext(&e, "TRACE_ON", "true");
    rm_enc_end(&e);
}

static void mb_check_held(mb_t *mb, int all);

static void mb_send(mb_t *mb, rm_conn_t *conn, rm_cmd_t *req) {
    const char *topic = rm_ext_get(req, "b");
    int32_t qid = 0, sys = 0, flag = 0, recon = 0;
    int64_t born = 0;
    rm_ext_i32(req, "e", &qid);
    rm_ext_i32(req, "f", &sys);
    rm_ext_i32(req, "h", &flag);
    rm_ext_i32(req, "j", &recon);
    rm_ext_i64(req, "g", &born);
    const char *props = rm_ext_get(req, "i");
    if (!props) props = "";
    mb_topic_t *t = mb_topic(mb, topic, 0);
    if (!t) {
        int32_t d = 4;
        rm_ext_i32(req, "d", &d);
        t = mb_topic(mb, topic, d);
    }
    if (qid >= t->nq) qid = 0;
    int64_t qoff = (int64_t)t->n[qid];
    if (req->code == SEND_BATCH_MESSAGE) {
        size_t pos = 0;
        record_batch_member_t m;
        int64_t first = -1;
        while (record_batch_next(req->body, req->body_len, &pos, &m) == 1) {
            int64_t p = mb_append(mb, topic, qid, m.flag, sys, born, m.body, m.body_len, m.props,
                                  m.props_len, recon, 1);
            if (first < 0) first = p;
        }
        mb_send_reply(mb, conn, req, qid, qoff, first);
    } else {
        const char *v;
        size_t vl;
        int half = msgprops_find(props, strlen(props), "TRAN_MSG", &v, &vl) == 1;
        int64_t p = mb_append(mb, topic, qid, flag, sys, born, req->body, req->body_len, props,
                              (uint32_t)strlen(props), recon, !half);
        mb_send_reply(mb, conn, req, qid, half ? 0 : qoff, p);
    }
    mb_check_held(mb, 0);
}

/* Answers a pull from (topic, qid, off); returns 0 when it must be held. */
static int mb_pull_answer(mb_t *mb, rm_conn_t *conn, const rm_reqinfo_t *ri, const char *topic,
                          int qid, int64_t off, int max, int may_hold) {
    mb_topic_t *t = mb_topic(mb, topic, 0);
    int64_t n = t && qid < t->nq ? (int64_t)t->n[qid] : 0;
    int code;
    int64_t next = off;
    if (off < n)
        code = SUCCESS;
    else if (off == n)
        code = PULL_NOT_FOUND;
    else {
        code = PULL_OFFSET_MOVED;
        next = n;
    }
    if (code == PULL_NOT_FOUND && may_hold) return 0;
    rm_enc_t e;
    rm_conn_reply_begin_info(conn, &e, ri, code, NULL);
    int k = 0;
    if (code == SUCCESS) {
        for (int64_t o = off; o < n && k < max; o++, k++)
            next = o + 1;
    }
    rm_enc_ext_i64(&e, "nextBeginOffset", next);
    rm_enc_ext_i64(&e, "minOffset", 0);
    rm_enc_ext_i64(&e, "maxOffset", n);
    rm_enc_ext_i64(&e, "suggestWhichBrokerId", 0);
    for (int64_t o = off; code == SUCCESS && o < next; o++) {
        record_view_t v;
        mb_view(mb, t->idx[qid][o], &v);
        rm_enc_body(&e, v.base, v.total_size);
    }
    rm_enc_end(&e);
    return 1;
}

static void mb_check_held(mb_t *mb, int all) {
    int64_t now = mono_ms();
    for (int i = 0; i < MB_MAX; i++) {
        mb_held_t *h = &mb->held[i];
        if (!h->used) continue;
        if (rm_conn_is_closed(h->conn)) {
            rm_conn_release(h->conn);
            h->used = 0;
            continue;
        }
        int expired = now >= h->expiry;
        if (mb_pull_answer(mb, h->conn, &h->ri, h->topic, h->qid, h->off, h->max, !expired)) {
            rm_conn_release(h->conn);
            h->used = 0;
        }
    }
}

static void mb_pull(mb_t *mb, rm_conn_t *conn, rm_cmd_t *req) {
    const char *topic = rm_ext_get(req, "topic"), *g = rm_ext_get(req, "consumerGroup");
    int32_t qid = 0, max = 32, sys = 0;
    int64_t off = 0, susp = 0, commit = 0;
    rm_ext_i32(req, "queueId", &qid);
    rm_ext_i32(req, "maxMsgNums", &max);
    rm_ext_i32(req, "sysFlag", &sys);
    rm_ext_i64(req, "queueOffset", &off);
    rm_ext_i64(req, "suspendTimeoutMillis", &susp);
    rm_ext_i64(req, "commitOffset", &commit);
    if (!mb_topic(mb, topic, 0)) {
        rm_conn_reply(conn, req, TOPIC_NOT_EXIST, "no topic");
        return;
    }
    if (sys & 1) *mb_off_slot(mb, g, topic, qid, 1) = commit;
    rm_reqinfo_t ri = rm_reqinfo(req);
    int hold = (sys & 2) && susp > 0;
    if (mb_pull_answer(mb, conn, &ri, topic, qid, off, max, hold)) return;
    for (int i = 0; i < MB_MAX; i++) {
        mb_held_t *h = &mb->held[i];
        if (h->used) continue;
        h->used = 1;
        h->conn = conn;
        rm_conn_retain(conn);
        h->ri = ri;
        snprintf(h->topic, sizeof(h->topic), "%s", topic);
        h->qid = qid;
        h->off = off;
        h->max = max;
        h->expiry = mono_ms() + (susp < 2000 ? susp : 2000); /* short holds keep tests quick */
        return;
    }
    mb_pull_answer(mb, conn, &ri, topic, qid, off, max, 0);
}

static void mb_handler(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    mb_t *mb = ctx;
    pthread_mutex_lock(&mb->mu);
    if (req->code >= 0 && req->code < 1000) mb->code_count[req->code]++;
    if (getenv("MB_TRACE"))
        fprintf(stderr, "mock: code %d from %s\n", req->code, rm_conn_peer(conn));
    const char *g = rm_ext_get(req, "consumerGroup");
    const char *topic = rm_ext_get(req, "topic");
    int32_t qid = 0;
    rm_ext_i32(req, "queueId", &qid);
    switch (req->code) {
    case GET_ROUTEINFO_BY_TOPIC:
        mb_route(mb, conn, req);
        break;
    case HEART_BEAT:
        mb_heartbeat(mb, conn, req);
        break;
    case SEND_MESSAGE_V2:
    case SEND_BATCH_MESSAGE:
        mb_send(mb, conn, req);
        break;
    case PULL_MESSAGE:
        mb_pull(mb, conn, req);
        break;
    case QUERY_CONSUMER_OFFSET: {
        int64_t *o = mb_off_slot(mb, g, topic, qid, 0);
        if (!o) {
            rm_conn_reply(conn, req, QUERY_NOT_FOUND, "not found");
            break;
        }
        rm_enc_t e;
        rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
        rm_enc_ext_i64(&e, "offset", *o);
        rm_enc_end(&e);
        break;
    }
    case UPDATE_CONSUMER_OFFSET: {
        int64_t v = 0;
        rm_ext_i64(req, "commitOffset", &v);
        *mb_off_slot(mb, g, topic, qid, 1) = v;
        rm_conn_reply(conn, req, SUCCESS, NULL);
        break;
    }
    case GET_MAX_OFFSET:
    case GET_MIN_OFFSET:
    case SEARCH_OFFSET_BY_TIMESTAMP: {
        mb_topic_t *t = mb_topic(mb, topic, 0);
        rm_enc_t e;
        rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
        rm_enc_ext_i64(&e, "offset", req->code == GET_MIN_OFFSET || !t ? 0 : (int64_t)t->n[qid]);
        rm_enc_end(&e);
        break;
    }
    case GET_CONSUMER_LIST_BY_GROUP: {
        buf_t b;
        buf_init(&b);
        buf_append_str(&b, "{\"consumerIdList\":[");
        int k = 0;
        for (int i = 0; i < mb->n_members; i++) {
            if (strcmp(mb->members[i].group, g) != 0) continue;
            if (k++) buf_put_u8(&b, ',');
            buf_json_str(&b, mb->members[i].cid, strlen(mb->members[i].cid));
        }
        buf_append_str(&b, "]}");
        rm_enc_t e;
        rm_conn_reply_begin(conn, &e, req, k ? SUCCESS : SYSTEM_ERROR, NULL);
        rm_enc_body(&e, b.data, b.len);
        rm_enc_end(&e);
        buf_free(&b);
        break;
    }
    case UNREGISTER_CLIENT: {
        const char *cid = rm_ext_get(req, "clientID");
        snprintf(mb->last_unregister, sizeof(mb->last_unregister), "%s", cid ? cid : "");
        for (int i = 0; i < mb->n_members; i++)
            if (mb->members[i].conn == conn && strcmp(mb->members[i].cid, cid) == 0)
                mb_remove_member(mb, i--);
        rm_conn_reply(conn, req, SUCCESS, NULL);
        break;
    }
    case CONSUMER_SEND_MSG_BACK: {
        int64_t off = -1;
        rm_ext_i64(req, "offset", &off);
        record_view_t v;
        if (!mb_view(mb, off, &v)) {
            rm_conn_reply(conn, req, SYSTEM_ERROR, "look message by offset failed");
            break;
        }
        const char *grp = rm_ext_get(req, "group");
        char retry[300];
        snprintf(retry, sizeof(retry), "%%RETRY%%%s", grp);
        buf_t p;
        buf_init(&p);
        buf_append(&p, v.props, v.props_len);
        const char *x;
        size_t xl;
        char topic_copy[256];
        snprintf(topic_copy, sizeof(topic_copy), "%.*s", (int)v.topic_len, v.topic);
        if (msgprops_find(v.props, v.props_len, "RETRY_TOPIC", &x, &xl) != 1)
            msgprops_append(&p, "RETRY_TOPIC", topic_copy);
        buf_t body;
        buf_init(&body);
        buf_append(&body, v.body, v.body_len);
        mb_append(mb, retry, 0, v.flag, v.sys_flag, v.born_ts, body.data, v.body_len,
                  (const char *)p.data, (uint32_t)p.len, v.reconsume_times + 1, 1);
        buf_free(&body);
        buf_free(&p);
        rm_conn_reply(conn, req, SUCCESS, NULL);
        mb_check_held(mb, 0);
        break;
    }
    case LOCK_BATCH_MQ:
    case UNLOCK_BATCH_MQ: {
        cJSON *root = cJSON_ParseWithLength((const char *)req->body, req->body_len);
        const char *cid = cJSON_GetObjectItem(root, "clientId")->valuestring;
        const char *grp = cJSON_GetObjectItem(root, "consumerGroup")->valuestring;
        cJSON *set = cJSON_GetObjectItem(root, "mqSet"), *m;
        buf_t b;
        buf_init(&b);
        buf_append_str(&b, "{\"lockOKMQSet\":[");
        int k = 0;
        cJSON_ArrayForEach(m, set) {
            char key[512];
            snprintf(key, sizeof(key), "%s@%s@%s@%d", grp,
                     cJSON_GetObjectItem(m, "topic")->valuestring,
                     cJSON_GetObjectItem(m, "brokerName")->valuestring,
                     cJSON_GetObjectItem(m, "queueId")->valueint);
            int li = -1;
            for (int i = 0; i < mb->n_locks; i++)
                if (strcmp(mb->locks[i].key, key) == 0) li = i;
            if (req->code == UNLOCK_BATCH_MQ) {
                if (li >= 0 && strcmp(mb->locks[li].cid, cid) == 0)
                    mb->locks[li] = mb->locks[--mb->n_locks];
                continue;
            }
            if (li < 0 && mb->n_locks < MB_MAX) {
                li = mb->n_locks++;
                snprintf(mb->locks[li].key, 512, "%s", key);
                snprintf(mb->locks[li].cid, 256, "%s", cid);
            }
            if (li >= 0 && strcmp(mb->locks[li].cid, cid) == 0) {
                char *s = cJSON_PrintUnformatted(m);
                if (k++) buf_put_u8(&b, ',');
                buf_append_str(&b, s);
                free(s);
            }
        }
        buf_append_str(&b, "]}");
        rm_enc_t e;
        rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
        if (req->code == LOCK_BATCH_MQ) rm_enc_body(&e, b.data, b.len);
        rm_enc_end(&e);
        buf_free(&b);
        cJSON_Delete(root);
        break;
    }
    case END_TRANSACTION: {
        int32_t what = 0;
        int64_t cl = -1;
        rm_ext_i32(req, "commitOrRollback", &what);
        rm_ext_i64(req, "commitLogOffset", &cl);
        record_view_t v;
        if (what == 8 && mb_view(mb, cl, &v)) {
            mb->end_tx[0]++;
            char tp[256];
            snprintf(tp, sizeof(tp), "%.*s", (int)v.topic_len, v.topic);
            buf_t body;
            buf_init(&body);
            buf_append(&body, v.body, v.body_len);
            buf_t p;
            buf_init(&p);
            buf_append(&p, v.props, v.props_len);
            mb_append(mb, tp, v.queue_id, v.flag, (v.sys_flag & ~0xc) | 8, v.born_ts, body.data,
                      v.body_len, (const char *)p.data, (uint32_t)p.len, 0, 1);
            buf_free(&p);
            buf_free(&body);
            mb_check_held(mb, 0);
        } else if (what == 12) {
            mb->end_tx[1]++;
        } else {
            mb->end_tx[2]++;
            /* UNKNOWN: check back at once (the Java broker waits transactionTimeOut). */
            if (mb_view(mb, cl, &v)) {
                char a[24], b[24], id[64];
                int64_t qo = 0;
                rm_ext_i64(req, "tranStateTableOffset", &qo);
                snprintf(a, sizeof(a), "%lld", (long long)qo);
                snprintf(b, sizeof(b), "%lld", (long long)cl);
                record_msgid_encode(0x7f000001, mb->port, cl, id);
                const char *mid = rm_ext_get(req, "msgId");
                rm_enc_t e;
                rm_conn_request_begin(conn, &e, CHECK_TRANSACTION_STATE, 1, NULL, NULL, 0);
                rm_enc_ext(&e, "tranStateTableOffset", a);
                rm_enc_ext(&e, "commitLogOffset", b);
                rm_enc_ext(&e, "msgId", mid ? mid : "");
                rm_enc_ext(&e, "transactionId", mid ? mid : "");
                rm_enc_ext(&e, "offsetMsgId", id);
                rm_enc_body(&e, v.base, v.total_size);
                rm_enc_end(&e);
            }
        }
        rm_conn_reply(conn, req, SUCCESS, NULL);
        break;
    }
    default:
        rm_conn_reply(conn, req, REQUEST_CODE_NOT_SUPPORTED, "mock: not supported");
        break;
    }
    pthread_mutex_unlock(&mb->mu);
}

static void mb_on_close(rm_conn_t *conn, void *ctx) {
    mb_t *mb = ctx;
    pthread_mutex_lock(&mb->mu);
    for (int i = 0; i < mb->n_members; i++)
        if (mb->members[i].conn == conn) mb_remove_member(mb, i--);
    if (mb->producer_conn == conn) mb->producer_conn = NULL;
    pthread_mutex_unlock(&mb->mu);
}

static void mb_timer_cb(uv_timer_t *t) {
    mb_t *mb = t->data;
    pthread_mutex_lock(&mb->mu);
    mb_check_held(mb, 0);
    pthread_mutex_unlock(&mb->mu);
}

static void mb_closed(uv_handle_t *h) {
    (void)h;
}

static void mb_stop_cb(uv_async_t *a) {
    mb_t *mb = a->data;
    pthread_mutex_lock(&mb->mu);
    for (int i = 0; i < MB_MAX; i++) {
        if (mb->held[i].used) {
            rm_conn_release(mb->held[i].conn);
            mb->held[i].used = 0;
        }
    }
    pthread_mutex_unlock(&mb->mu);
    rm_server_close(mb->srv, NULL, NULL);
    uv_close((uv_handle_t *)&mb->timer, mb_closed);
    uv_close((uv_handle_t *)&mb->stop, mb_closed);
}

static void *mb_main(void *arg) {
    mb_t *mb = arg;
    uv_run(&mb->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Starts a mock with topics "name:nq" (NULL-terminated) besides TBW102 (8 queues). */
static mb_t *mb_start(const char *const *topics) {
    mb_t *mb = xcalloc(1, sizeof(*mb));
    pthread_mutex_init(&mb->mu, NULL);
    buf_init(&mb->log);
    uv_loop_init(&mb->loop);
    rm_server_opts_t o = {"mockbroker", 0, -1};
    mb->srv = rm_server_create(&mb->loop, &o);
    PETREL_ASSERT(rm_server_listen(mb->srv, "127.0.0.1", 0) == 0);
    mb->port = rm_server_port(mb->srv, 0);
    snprintf(mb->addr, sizeof(mb->addr), "127.0.0.1:%d", mb->port);
    rm_server_handle_default(mb->srv, mb_handler, mb);
    rm_server_on_close(mb->srv, mb_on_close, mb);
    mb_topic(mb, "TBW102", 8);
    for (int i = 0; topics && topics[i]; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s", topics[i]);
        char *c = strchr(name, ':');
        int nq = 4;
        if (c) {
            *c = 0;
            nq = atoi(c + 1);
        }
        mb_topic(mb, name, nq);
    }
    uv_timer_init(&mb->loop, &mb->timer);
    mb->timer.data = mb;
    uv_timer_start(&mb->timer, mb_timer_cb, 20, 20);
    uv_async_init(&mb->loop, &mb->stop, mb_stop_cb);
    mb->stop.data = mb;
    pthread_create(&mb->thr, NULL, mb_main, mb);
    return mb;
}

static void mb_stop(mb_t *mb) {
    uv_async_send(&mb->stop);
    pthread_join(mb->thr, NULL);
    uv_loop_close(&mb->loop);
    for (int i = 0; i < mb->n_topics; i++)
        for (int q = 0; q < 64; q++)
            free(mb->topics[i].idx[q]);
    buf_free(&mb->log);
    pthread_mutex_destroy(&mb->mu);
    free(mb);
}

/* Thread-safe reads for assertions. */
static int mb_count(mb_t *mb, int code) {
    pthread_mutex_lock(&mb->mu);
    int n = mb->code_count[code];
    pthread_mutex_unlock(&mb->mu);
    return n;
}

static int64_t mb_queue_len(mb_t *mb, const char *topic, int qid) {
    pthread_mutex_lock(&mb->mu);
    mb_topic_t *t = mb_topic(mb, topic, 0);
    int64_t n = t ? (int64_t)t->n[qid] : -1;
    pthread_mutex_unlock(&mb->mu);
    return n;
}

static int64_t mb_offset(mb_t *mb, const char *g, const char *topic, int qid) {
    pthread_mutex_lock(&mb->mu);
    int64_t *o = mb_off_slot(mb, g, topic, qid, 0);
    int64_t v = o ? *o : -1;
    pthread_mutex_unlock(&mb->mu);
    return v;
}

static int mb_members(mb_t *mb, const char *g) {
    pthread_mutex_lock(&mb->mu);
    int n = 0;
    for (int i = 0; i < mb->n_members; i++)
        n += strcmp(mb->members[i].group, g) == 0;
    pthread_mutex_unlock(&mb->mu);
    return n;
}

#endif
