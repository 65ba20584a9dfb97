/*
 * sendback: CONSUMER_SEND_MSG_BACK (36): a consumer gives back a message it
 * failed to consume; it is re-written to %RETRY%<group> with delay level
 * 3 + reconsumeTimes (or the level asked for), or to %DLQ%<group> once the
 * group's max reconsume times is reached (Java consumerSendMsgBack).
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

void h_consumer_send_msg_back(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN], msg[400];
    int64_t offset;
    if (bk_req_i64(conn, req, "offset", &offset) != 0 ||
        bk_req_str(conn, req, "group", group, sizeof(group)) != 0)
        return;
    int32_t delay = 0;
    if (rm_ext_i32(req, "delayLevel", &delay) == -2) delay = 0;
    group_cfg_t *g = groups_find_or_create(b, group);
    if (!g) {
        snprintf(msg, sizeof(msg), "subscription group not exist, %s See http://rocketmq.apache.org/docs/faq/ for further details.", group);
        rm_conn_reply(conn, req, SUBSCRIPTION_GROUP_NOT_EXIST, msg);
        return;
    }
    if (!(b->conf.brokerPermission & PERM_WRITE)) {
        snprintf(msg, sizeof(msg), "the broker[%s] sending message is forbidden", b->conf.brokerIP1);
        rm_conn_reply(conn, req, NO_PERMISSION, msg);
        return;
    }
    if (g->retry_queue_nums <= 0) {
        rm_conn_reply(conn, req, SUCCESS, NULL);
        return;
    }
    char retry[NAME_MAX_LEN + 8];
    snprintf(retry, sizeof(retry), "%%RETRY%%%.240s", group);
    topic_cfg_t *rt = topics_create_sys(b, retry, g->retry_queue_nums, 6);
    if (!rt) {
        snprintf(msg, sizeof(msg), "topic[%s] not exist", retry);
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    store_pinned_t p;
    if (offset < 0 || store_read_at(b->store, offset, &p) != 0) {
        snprintf(msg, sizeof(msg), "look message by offset failed, %" PRId64, offset);
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    record_view_t v;
    if (record_decode(p.data, p.len, &v, 0) != RECORD_OK) {
        store_pinned_release(&p);
        snprintf(msg, sizeof(msg), "look message by offset failed, %" PRId64, offset);
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    int32_t maxr = g->retry_max_times;
    int32_t hv;
    if (rm_ext_i32(req, "maxReconsumeTimes", &hv) == 0 && req->version >= 121) maxr = hv;
    char topic[NAME_MAX_LEN + 8];
    int32_t qid;
    int to_dlq = v.reconsume_times >= maxr || delay < 0;
    if (to_dlq) {
        snprintf(topic, sizeof(topic), "%%DLQ%%%.240s", group);
        if (!topics_create_sys(b, topic, 1, 6)) {
            store_pinned_release(&p);
            rm_conn_reply(conn, req, SYSTEM_ERROR, "topic create failed for DLQ");
            return;
        }
        qid = 0;
        delay = 0;
    } else {
        snprintf(topic, sizeof(topic), "%s", retry);
        qid = rt->wq > 0 ? (int32_t)(rand() % rt->wq) : 0;
        if (delay == 0) delay = 3 + v.reconsume_times;
    }
    /* Properties: the original's without DELAY, + RETRY_TOPIC, ORIGIN_MESSAGE_ID, DELAY. */
    buf_t props;
    buf_init(&props);
    msgprops_copy_without(&props, v.props, v.props_len, MSGPROP_DELAY);
    const char *x;
    size_t xl;
    if (!msgprops_find((const char *)props.data, props.len, MSGPROP_RETRY_TOPIC, &x, &xl)) {
        char ot[NAME_MAX_LEN];
        snprintf(ot, sizeof(ot), "%.*s", (int)v.topic_len, v.topic);
        msgprops_append(&props, MSGPROP_RETRY_TOPIC, ot);
    }
    if (!msgprops_find((const char *)props.data, props.len, MSGPROP_ORIGIN_MESSAGE_ID, &x, &xl)) {
        char id[RECORD_MSGID_MAX_LEN + 1];
        record_msgid_encode_host(v.store_host, v.store_host_len, v.phys_offset, id);
        msgprops_append(&props, MSGPROP_ORIGIN_MESSAGE_ID, id);
    }
    /* As Java: DELAY is always written (0 for the DLQ) and WAIT=false. */
    {
        char d[16];
        snprintf(d, sizeof(d), "%d", delay > b->n_delay_levels ? b->n_delay_levels : delay);
        msgprops_append(&props, MSGPROP_DELAY, d);
    }
    {
        buf_t tmp;
        buf_init(&tmp);
        msgprops_copy_without(&tmp, (const char *)props.data, props.len, MSGPROP_WAIT);
        buf_free(&props);
        props = tmp;
        msgprops_append(&props, MSGPROP_WAIT, "false");
    }
    store_msg_t m;
    bk_msg_from_record(b, &m, &v);
    m.topic = topic;
    m.topic_len = (uint32_t)strlen(topic);
    m.queue_id = qid;
    m.reconsume_times = v.reconsume_times + 1;
    m.props = (const char *)props.data;
    m.props_len = (uint32_t)props.len;
    m.tags_code = msgprops_tags_code(m.props, m.props_len);
    char sched[32];
    if (delay > 0) schedule_redirect(b, &m, &props, delay, sched);
    char dlq_src[NAME_MAX_LEN]; /* metrics: the record is released below */
    snprintf(dlq_src, sizeof(dlq_src), "%.*s", (int)v.topic_len, v.topic);
    store_put_result_t r;
    bk_props_trim(m.props, &m.props_len);
    store_put(b->store, &m, &r);
    store_pinned_release(&p);
    buf_free(&props);
    if (r.status != STORE_PUT_OK) {
        snprintf(msg, sizeof(msg), "%s", store_put_status_name(r.status));
        rm_conn_reply(conn, req, SYSTEM_ERROR, msg);
        return;
    }
    b->put_total++;
    if (to_dlq) bm_on_dlq(b, dlq_src, group);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}
