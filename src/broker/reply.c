/*
 * reply: SEND_REPLY_MESSAGE (324) / _V2 (325) of the request-reply feature
 * (Java ReplyMessageProcessor). The reply is pushed to the requesting
 * producer named by REPLY_TO_CLIENT as PUSH_REPLY_MESSAGE_TO_CLIENT (326),
 * then stored in the reply topic like a normal send, which also answers the
 * replier (Java stores it too: storeReplyMessageEnable defaults to true).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/util.h"

/* V2 short key first, the V1 name second. */
static const char *hv(const rm_cmd_t *req, const char *v2, const char *v1) {
    const char *v = req->code == SEND_REPLY_MESSAGE_V2 ? rm_ext_get(req, v2) : NULL;
    return v ? v : rm_ext_get(req, v1);
}

/* The requester: a producer connection whose heartbeat carried client_id. */
static bclient_t *find_producer(broker_t *b, const char *client_id) {
    STRMAP_FOREACH(&b->pgroups, e) {
        pgroup_t *g = e->val;
        for (int i = 0; i < g->nchans; i++) {
            bclient_t *cl = g->chans[i].cl;
            if (strcmp(cl->client_id, client_id) == 0 && !rm_conn_is_closed(cl->conn)) return cl;
        }
    }
    return NULL;
}

static void on_pushed(int status, rm_cmd_t *resp, void *arg) {
    char *who = arg;
    if (status != 0 || resp->code != SUCCESS)
        log_warn("push reply message to %s failed: %s", who,
                 status ? rm_strerror(status) : (resp->remark ? resp->remark : "error"));
    free(who);
}

void h_send_reply_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    const char *props = hv(req, "i", "properties");
    size_t plen = props ? strlen(props) : 0;
    const char *v;
    size_t vl;
    char cid[NAME_MAX_LEN], msg[400];
    if (!props || !msgprops_find(props, plen, MSGPROP_REPLY_TO_CLIENT, &v, &vl)) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "reply message properties[REPLY_TO_CLIENT] is null");
        return;
    }
    snprintf(cid, sizeof(cid), "%.*s", (int)vl, v);
    bclient_t *cl = find_producer(b, cid);
    if (!cl) {
        snprintf(msg, sizeof(msg), "push reply message fail, channel of <%s> not found.", cid);
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    buf_t np;
    buf_init(&np);
    buf_append(&np, props, plen);
    if (plen && props[plen - 1] != MSGPROP_SEP) buf_put_u8(&np, MSGPROP_SEP);
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, now_ms());
    msgprops_append(&np, MSGPROP_PUSH_REPLY_TIME, num);
    char store_host[80];
    snprintf(store_host, sizeof(store_host), "%s:%d", b->conf.brokerIP1, b->port);
    static const char *const keys[][2] = {
        {"a", "producerGroup"}, {"b", "topic"},   {"c", "defaultTopic"},
        {"d", "defaultTopicQueueNums"}, {"e", "queueId"}, {"f", "sysFlag"},
        {"g", "bornTimestamp"}, {"h", "flag"},   {"j", "reconsumeTimes"}, {"k", "unitMode"},
    };
    rm_enc_t e;
    rm_conn_request_begin(cl->conn, &e, PUSH_REPLY_MESSAGE_TO_CLIENT, 0, on_pushed, xstrdup(cid),
                          3000);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *x = hv(req, keys[i][0], keys[i][1]);
        if (x) rm_enc_ext(&e, keys[i][1], x);
    }
    rm_enc_extn(&e, "properties", (const char *)np.data, np.len);
    rm_enc_ext(&e, "bornHost", rm_conn_peer(conn));
    rm_enc_ext(&e, "storeHost", store_host);
    rm_enc_ext_i64(&e, "storeTimestamp", now_ms());
    if (req->body_len) rm_enc_body(&e, req->body, req->body_len);
    rm_enc_end(&e);
    buf_free(&np);
    /* Store in the reply topic; this answers the replier. */
    h_send_message(conn, req, ctx);
}
