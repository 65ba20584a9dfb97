/*
 * locks: LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) for orderly consumers
 * (Java RebalanceLockManager): one owner clientId per (group, queue), a lock
 * expiring 60 s after its last renewal.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"

#define LOCK_MAX_LIVE_MS 60000

typedef struct mq_lock_s {
    char client_id[NAME_MAX_LEN];
    int64_t ts;
} mq_lock_t;

void locks_free(broker_t *b) {
    STRMAP_FOREACH(&b->locks, e) free(e->val);
    strmap_free(&b->locks);
}

static void lock_key(char *k, size_t n, const char *group, const cJSON *mq) {
    snprintf(k, n, "%.250s@%.250s@%.100s@%d", group, bk_json_str(mq, "topic", ""),
             bk_json_str(mq, "brokerName", ""), (int)bk_json_i64(mq, "queueId", -1));
}

static void mq_json(buf_t *out, const cJSON *mq) {
    const char *bn = bk_json_str(mq, "brokerName", ""), *t = bk_json_str(mq, "topic", "");
    buf_append_str(out, "{\"brokerName\":");
    buf_json_str(out, bn, strlen(bn));
    buf_printf(out, ",\"queueId\":%d,\"topic\":", (int)bk_json_i64(mq, "queueId", -1));
    buf_json_str(out, t, strlen(t));
    buf_append_str(out, "}");
}

static void handle(rm_conn_t *conn, rm_cmd_t *req, broker_t *b, int lock) {
    cJSON *j = req->body_len ? bk_json_parse((const char *)req->body, req->body_len) : NULL;
    const char *group = j ? bk_json_str(j, "consumerGroup", NULL) : NULL;
    const char *client = j ? bk_json_str(j, "clientId", NULL) : NULL;
    if (!group || !client) {
        cJSON_Delete(j);
        rm_conn_reply(conn, req, SYSTEM_ERROR, "the LockBatchRequestBody is missing or invalid");
        return;
    }
    int64_t now = now_ms();
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"lockOKMQSet\":[");
    int first = 1;
    const cJSON *mq;
    cJSON_ArrayForEach(mq, cJSON_GetObjectItemCaseSensitive(j, "mqSet")) {
        char k[700];
        lock_key(k, sizeof(k), group, mq);
        mq_lock_t *l = strmap_get(&b->locks, k);
        if (lock) {
            if (!l) {
                l = xcalloc(1, sizeof(*l));
                strmap_put(&b->locks, k, l);
            } else if (strcmp(l->client_id, client) != 0 && now - l->ts <= LOCK_MAX_LIVE_MS) {
                continue; /* owned by another live client */
            }
            snprintf(l->client_id, sizeof(l->client_id), "%s", client);
            l->ts = now;
            if (!first) buf_append_str(&out, ",");
            first = 0;
            mq_json(&out, mq);
        } else if (l && strcmp(l->client_id, client) == 0) {
            free(strmap_del(&b->locks, k));
        }
    }
    buf_append_str(&out, "]}");
    cJSON_Delete(j);
    if (lock) {
        bk_reply_json(conn, req, &out);
    } else {
        rm_conn_reply(conn, req, SUCCESS, NULL);
    }
    buf_free(&out);
}

void h_lock_batch_mq(rm_conn_t *conn, rm_cmd_t *req, void *ctx) { handle(conn, req, ctx, 1); }
void h_unlock_batch_mq(rm_conn_t *conn, rm_cmd_t *req, void *ctx) { handle(conn, req, ctx, 0); }
