/*
 * query: consumer offsets (QUERY/UPDATE_CONSUMER_OFFSET), queue offsets
 * (GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME)
 * and message lookups (QUERY_MESSAGE by key, VIEW_MESSAGE_BY_ID).
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

static int topic_qid(rm_conn_t *conn, rm_cmd_t *req, char *topic, int32_t *qid);

static void reply_offset(rm_conn_t *conn, rm_cmd_t *req, const char *key, int64_t v) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext_i64(&e, key, v);
    rm_enc_end(&e);
}

void h_query_consumer_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN], topic[NAME_MAX_LEN];
    int32_t qid;
    if (bk_req_str(conn, req, "consumerGroup", group, sizeof(group)) != 0 ||
        topic_qid(conn, req, topic, &qid) != 0)
        return;
    int64_t off = offsets_get(b, topic, group, qid);
    if (off >= 0) {
        reply_offset(conn, req, "offset", off);
        return;
    }
    int zero = 1;
    if (rm_ext_bool(req, "setZeroIfNotFound", &zero) != 0) zero = 1;
    /* Java: a never-consumed queue whose first message is still in memory reads from 0. */
    if (zero && bs_min_offset(b, topic, qid) <= 0) {
        reply_offset(conn, req, "offset", 0);
        return;
    }
    rm_conn_reply(conn, req, QUERY_NOT_FOUND,
                  "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first");
}

void h_update_consumer_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN], topic[NAME_MAX_LEN];
    int32_t qid;
    int64_t off;
    if (bk_req_str(conn, req, "consumerGroup", group, sizeof(group)) != 0 ||
        bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0 ||
        bk_req_i32(conn, req, "queueId", &qid) != 0 ||
        bk_req_i64(conn, req, "commitOffset", &off) != 0)
        return;
    if (!topics_get(b, topic)) {
        bk_reply_errf(conn, req, TOPIC_NOT_EXIST, "Topic %s not exist!", topic);
        return;
    }
    if (!groups_find_or_create(b, group)) {
        bk_reply_errf(conn, req, SUBSCRIPTION_GROUP_NOT_EXIST, "Group %s not exist!", group);
        return;
    }
    if (qid < 0 || qid > 65535) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "queueId is illegal");
        return;
    }
    offsets_set(b, topic, group, qid, off);
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

/* Topic and queueId of an offset query; names the store could not hold are refused here
 * (they never reach the file system). */
static int topic_qid(rm_conn_t *conn, rm_cmd_t *req, char *topic, int32_t *qid) {
    if (bk_req_str(conn, req, "topic", topic, NAME_MAX_LEN) != 0 ||
        bk_req_i32(conn, req, "queueId", qid) != 0)
        return -1;
    char err[300];
    if (bk_valid_topic(topic, err, sizeof(err)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, err);
        return -1;
    }
    if (*qid < 0 || *qid > 65535) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "queueId[%d] is illegal", *qid);
        return -1;
    }
    return 0;
}

void h_get_max_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    char topic[NAME_MAX_LEN];
    int32_t qid;
    if (topic_qid(conn, req, topic, &qid) != 0) return;
    reply_offset(conn, req, "offset", bs_max_offset(ctx, topic, qid));
}

void h_get_min_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    char topic[NAME_MAX_LEN];
    int32_t qid;
    if (topic_qid(conn, req, topic, &qid) != 0) return;
    reply_offset(conn, req, "offset", bs_min_offset(ctx, topic, qid));
}

void h_search_offset_by_timestamp(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    char topic[NAME_MAX_LEN];
    int32_t qid;
    int64_t ts;
    if (topic_qid(conn, req, topic, &qid) != 0 || bk_req_i64(conn, req, "timestamp", &ts) != 0)
        return;
    const char *bt = rm_ext_get(req, "boundaryType");
    int upper = bt && strcasecmp(bt, "upper") == 0;
    reply_offset(conn, req, "offset", bs_offset_by_time(ctx, topic, qid, ts, upper));
}

void h_get_earliest_msg_storetime(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char topic[NAME_MAX_LEN];
    int32_t qid;
    if (topic_qid(conn, req, topic, &qid) != 0) return;
    reply_offset(conn, req, "timestamp", store_earliest_msg_time(b->store, topic, qid));
}

static void pinned_release(void *arg) {
    store_pinned_t *p = arg;
    store_pinned_release(p);
    free(p);
}

/* Does the record carry `key` in KEYS (space-separated) or UNIQ_KEY? */
static int record_has_key(const record_view_t *v, const char *key) {
    const char *val;
    size_t vl, kl = strlen(key);
    if (msgprops_find(v->props, v->props_len, MSGPROP_UNIQ_KEY, &val, &vl) && vl == kl &&
        memcmp(val, key, kl) == 0)
        return 1;
    if (msgprops_find(v->props, v->props_len, MSGPROP_KEYS, &val, &vl)) {
        const char *p = val, *end = val + vl;
        while (p < end) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *e = sp ? sp : end;
            if ((size_t)(e - p) == kl && memcmp(p, key, kl) == 0) return 1;
            p = e + 1;
        }
    }
    return 0;
}

void h_query_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char topic[NAME_MAX_LEN], key[512];
    int32_t max_num;
    int64_t begin, end;
    char terr[300];
    if (bk_req_str(conn, req, "topic", topic, sizeof(topic)) != 0 ||
        bk_req_str(conn, req, "key", key, sizeof(key)) != 0 ||
        bk_req_i32(conn, req, "maxNum", &max_num) != 0 ||
        bk_req_i64(conn, req, "beginTimestamp", &begin) != 0 ||
        bk_req_i64(conn, req, "endTimestamp", &end) != 0)
        return;
    if (bk_valid_topic(topic, terr, sizeof(terr)) != 0) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, terr);
        return;
    }
    int uniq = 0;
    if (rm_ext_bool(req, "_UNIQUE_KEY_QUERY", &uniq) == 0 && uniq)
        max_num = b->conf.defaultQueryMaxNum;
    if (max_num <= 0 || max_num > b->conf.maxMsgsNumBatch) max_num = b->conf.maxMsgsNumBatch;
    int64_t phys[64];
    int64_t lts = 0, lphys = 0;
    int n = store_query_by_key(b->store, topic, key, max_num > 64 ? 64 : max_num, begin, end,
                               phys, &lts, &lphys);
    store_pinned_t *found[64];
    int nf = 0;
    for (int i = 0; i < n; i++) {
        store_pinned_t *p = xmalloc(sizeof(*p));
        if (store_read_at(b->store, phys[i], p) != 0) {
            free(p);
            continue;
        }
        record_view_t v;
        if (record_decode(p->data, p->len, &v, 0) != RECORD_OK ||
            v.topic_len != strlen(topic) || memcmp(v.topic, topic, v.topic_len) != 0 ||
            !record_has_key(&v, key)) {
            pinned_release(p);
            continue;
        }
        found[nf++] = p;
    }
    rm_enc_t e;
    if (nf == 0) {
        rm_conn_reply_begin(conn, &e, req, QUERY_NOT_FOUND,
                            "can not find message, maybe time range not correct");
    } else {
        rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    }
    rm_enc_ext_i64(&e, "indexLastUpdateTimestamp", lts);
    rm_enc_ext_i64(&e, "indexLastUpdatePhyoffset", lphys);
    for (int i = 0; i < nf; i++) rm_enc_body_ref(&e, found[i]->data, found[i]->len, pinned_release, found[i]);
    rm_enc_end(&e);
}

void h_view_message_by_id(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    int64_t off;
    if (bk_req_i64(conn, req, "offset", &off) != 0) return;
    store_pinned_t *p = xmalloc(sizeof(*p));
    if (off < 0 || store_read_at(b->store, off, p) != 0) {
        free(p);
        bk_reply_errf(conn, req, SYSTEM_ERROR, "can not find message by the offset, %" PRId64, off);
        return;
    }
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_body_ref(&e, p->data, p->len, pinned_release, p);
    rm_enc_end(&e);
}
