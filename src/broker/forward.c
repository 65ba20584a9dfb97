/*
 * forward: admin requests the broker relays to one consumer and answers
 * with the consumer's reply (Java AdminBrokerProcessor): GET_CONSUMER_RUNNING_INFO
 * (307) and CONSUME_MESSAGE_DIRECTLY (309, the message record read here
 * from the offset message id).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"

typedef struct fwd_s {
    rm_conn_t *admin;
    rm_reqinfo_t ri;
} fwd_t;

static void on_client_reply(int status, rm_cmd_t *resp, void *arg) {
    fwd_t *f = arg;
    if (!rm_conn_is_closed(f->admin)) {
        rm_enc_t e;
        if (status != 0) {
            rm_conn_reply_begin_info(f->admin, &e, &f->ri,
                                     status == RM_ETIMEOUT ? CONSUME_MSG_TIMEOUT : SYSTEM_ERROR,
                                     status == RM_ETIMEOUT ? "consumer did not answer in time"
                                                           : "the consumer connection closed");
        } else {
            rm_conn_reply_begin_info(f->admin, &e, &f->ri, resp->code, resp->remark);
            for (uint32_t i = 0; i < resp->ext_count; i++)
                rm_enc_extn(&e, resp->ext[i].key, resp->ext[i].val, resp->ext[i].vlen);
            if (resp->body_len) rm_enc_body(&e, resp->body, resp->body_len);
        }
        rm_enc_end(&e);
    }
    rm_conn_release(f->admin);
    free(f);
}

static bclient_t *find_client(broker_t *b, const char *group, const char *client_id) {
    cgroup_t *g = clients_cgroup(b, group);
    for (int i = 0; g && i < g->nchans; i++) {
        bclient_t *cl = g->chans[i].cl;
        if ((!client_id || !*client_id || strcmp(cl->client_id, client_id) == 0) &&
            !rm_conn_is_closed(cl->conn))
            return cl;
    }
    return NULL;
}

static void forward(broker_t *b, rm_conn_t *conn, rm_cmd_t *req, const void *body, size_t len) {
    const char *group = rm_ext_get(req, "consumerGroup");
    const char *cid = rm_ext_get(req, "clientId");
    bclient_t *cl = group ? find_client(b, group, cid) : NULL;
    if (!cl) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "The Consumer <%s> <%s> not online",
                      group ? group : "", cid ? cid : "");
        return;
    }
    fwd_t *f = xcalloc(1, sizeof(*f));
    f->admin = conn;
    rm_conn_retain(conn);
    f->ri = rm_reqinfo(req);
    rm_enc_t e;
    rm_conn_request_begin(cl->conn, &e, req->code, 0, on_client_reply, f, 10000);
    for (uint32_t i = 0; i < req->ext_count; i++)
        rm_enc_extn(&e, req->ext[i].key, req->ext[i].val, req->ext[i].vlen);
    if (len) rm_enc_body(&e, body, len);
    rm_enc_end(&e);
}

void h_get_consumer_running_info(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    forward(ctx, conn, req, req->body, req->body_len);
}

void h_consume_message_directly(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    const char *id = rm_ext_get(req, "msgId");
    uint8_t host[20];
    uint32_t hl;
    int64_t phys;
    store_pinned_t p;
    if (!id || record_msgid_decode(id, strlen(id), host, &hl, &phys) != 0 ||
        store_read_at(b->store, phys, &p) != 0) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "can not find message by the msgId, %.100s",
                      id ? id : "");
        return;
    }
    forward(b, conn, req, p.data, p.len);
    store_pinned_release(&p);
}

/* ---- INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223) -> GET_CONSUMER_STATUS_FROM_CLIENT (221) ---- */

typedef struct gather_s {
    rm_conn_t *admin;
    rm_reqinfo_t ri;
    int pending;
    int nanswers;
    buf_t out;
} gather_t;

typedef struct gather_one_s {
    gather_t *g;
    char client_id[NAME_MAX_LEN];
} gather_one_t;

/* The "messageQueueTable" object of a GetConsumerStatusBody, as raw text (fastjson keys). */
static int mq_table_span(const uint8_t *p, size_t n, size_t *start, size_t *len) {
    static const char key[] = "\"messageQueueTable\"";
    size_t kl = sizeof(key) - 1;
    for (size_t i = 0; i + kl <= n; i++) {
        if (memcmp(p + i, key, kl) != 0) continue;
        size_t j = i + kl;
        while (j < n && (p[j] == ' ' || p[j] == ':')) j++;
        if (j >= n || p[j] != '{') return -1;
        int depth = 0, in_str = 0;
        for (size_t k = j; k < n; k++) {
            char c = (char)p[k];
            if (in_str) {
                if (c == '\\') k++;
                else if (c == '"') in_str = 0;
                continue;
            }
            if (c == '"') in_str = 1;
            else if (c == '{') depth++;
            else if (c == '}' && --depth == 0) {
                *start = j;
                *len = k - j + 1;
                return 0;
            }
        }
        return -1;
    }
    return -1;
}

static void gather_finish(gather_t *g) {
    buf_append_str(&g->out, "}}");
    if (!rm_conn_is_closed(g->admin)) {
        rm_enc_t e;
        rm_conn_reply_begin_info(g->admin, &e, &g->ri, SUCCESS, NULL);
        rm_enc_body(&e, g->out.data, g->out.len);
        rm_enc_end(&e);
    }
    rm_conn_release(g->admin);
    buf_free(&g->out);
    free(g);
}

static void on_status_reply(int status, rm_cmd_t *resp, void *arg) {
    gather_one_t *o = arg;
    gather_t *g = o->g;
    size_t st, len;
    if (status == 0 && resp->code == SUCCESS && resp->body_len &&
        mq_table_span(resp->body, resp->body_len, &st, &len) == 0) {
        if (g->nanswers++) buf_append_str(&g->out, ",");
        buf_json_str(&g->out, o->client_id, strlen(o->client_id));
        buf_append_str(&g->out, ":");
        buf_append(&g->out, resp->body + st, len);
    }
    free(o);
    if (--g->pending == 0) gather_finish(g);
}

void h_invoke_broker_to_get_consumer_status(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char topic[NAME_MAX_LEN], group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0 ||
        bk_req_str(conn, req, "group", group, sizeof(group)) != 0)
        return;
    const char *only = rm_ext_get(req, "clientAddr");
    cgroup_t *cg = clients_cgroup(b, group);
    int n = 0;
    for (int i = 0; cg && i < cg->nchans; i++) {
        bclient_t *cl = cg->chans[i].cl;
        if (!rm_conn_is_closed(cl->conn) && (!only || !*only || strcmp(only, cl->client_id) == 0))
            n++;
    }
    if (n == 0) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "No Any Consumer online in the consumer group: [%s]",
                      group);
        return;
    }
    gather_t *g = xcalloc(1, sizeof(*g));
    g->admin = conn;
    rm_conn_retain(conn);
    g->ri = rm_reqinfo(req);
    g->pending = n;
    buf_init(&g->out);
    buf_append_str(&g->out, "{\"consumerTable\":{");
    for (int i = 0; i < cg->nchans; i++) {
        bclient_t *cl = cg->chans[i].cl;
        if (rm_conn_is_closed(cl->conn) || (only && *only && strcmp(only, cl->client_id) != 0))
            continue;
        gather_one_t *o = xcalloc(1, sizeof(*o));
        o->g = g;
        snprintf(o->client_id, sizeof(o->client_id), "%s", cl->client_id);
        rm_enc_t e;
        rm_conn_request_begin(cl->conn, &e, GET_CONSUMER_STATUS_FROM_CLIENT, 0, on_status_reply, o,
                              5000);
        rm_enc_ext(&e, "topic", topic);
        rm_enc_ext(&e, "group", group);
        rm_enc_end(&e);
    }
}
