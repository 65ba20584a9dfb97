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
        char msg[600];
        snprintf(msg, sizeof(msg), "The Consumer <%s> <%s> not online", group ? group : "",
                 cid ? cid : "");
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
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
        char msg[200];
        snprintf(msg, sizeof(msg), "can not find message by the msgId, %.100s", id ? id : "");
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    forward(b, conn, req, p.data, p.len);
    store_pinned_release(&p);
}
