/*
 * rpc: rocketmq_rpc_latency, a histogram per (request code, response code)
 * in an open-addressing table owned by the server's loop thread. Label
 * values are RocketMQ 5's: lower-case code names, numbers when unnamed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "metrics/metrics.h"
#include "remoting/codes.h"

#define RPC_SLOTS 512

static const double k_rpc_bounds[] = {1, 3, 5, 10, 100, 1000, 3000};

typedef struct rpc_slot_s {
    int used;
    int32_t req, resp;
    pm_hist_t h;
} rpc_slot_t;

struct pm_rpc_s {
    rpc_slot_t slots[RPC_SLOTS];
};

pm_rpc_t *pm_rpc_new(void) { return xcalloc(1, sizeof(pm_rpc_t)); }

void pm_rpc_free(pm_rpc_t *r) { free(r); }

void pm_rpc_observe(pm_rpc_t *r, int32_t req, int32_t resp, uint64_t ns) {
    if (!r || resp < 0) return;
    uint32_t hsh = ((uint32_t)req * 2654435761u) ^ ((uint32_t)resp * 40503u);
    for (int i = 0; i < RPC_SLOTS; i++) {
        rpc_slot_t *s = &r->slots[(hsh + (uint32_t)i) % RPC_SLOTS];
        if (!s->used) {
            s->used = 1;
            s->req = req;
            s->resp = resp;
            pm_hist_init(&s->h, k_rpc_bounds, 7);
        } else if (s->req != req || s->resp != resp) {
            continue;
        }
        pm_hist_observe(&s->h, (double)ns / 1e6);
        return;
    }
}

static const char *resp_name(int code) {
    switch (code) {
    case SUCCESS: return "success";
    case SYSTEM_ERROR: return "system_error";
    case SYSTEM_BUSY: return "system_busy";
    case REQUEST_CODE_NOT_SUPPORTED: return "request_code_not_supported";
    case FLUSH_DISK_TIMEOUT: return "flush_disk_timeout";
    case MESSAGE_ILLEGAL: return "message_illegal";
    case SERVICE_NOT_AVAILABLE: return "service_not_available";
    case NO_PERMISSION: return "no_permission";
    case TOPIC_NOT_EXIST: return "topic_not_exist";
    case PULL_NOT_FOUND: return "pull_not_found";
    case PULL_RETRY_IMMEDIATELY: return "pull_retry_immediately";
    case PULL_OFFSET_MOVED: return "pull_offset_moved";
    case QUERY_NOT_FOUND: return "query_not_found";
    case SUBSCRIPTION_PARSE_FAILED: return "subscription_parse_failed";
    case SUBSCRIPTION_NOT_EXIST: return "subscription_not_exist";
    case SUBSCRIPTION_NOT_LATEST: return "subscription_not_latest";
    case SUBSCRIPTION_GROUP_NOT_EXIST: return "subscription_group_not_exist";
    case CONSUMER_NOT_ONLINE: return "consumer_not_online";
    default: return NULL;
    }
}

void pm_rpc_write(buf_t *o, const pm_rpc_t *r, const pm_label_t *a, int na) {
    pm_family(o, "rocketmq_rpc_latency", "histogram",
              "Request handling time in milliseconds, by request and response code (deferred "
              "replies not included).");
    for (int k = 0; r && k < RPC_SLOTS; k++) {
        const rpc_slot_t *s = &r->slots[k];
        if (!s->used) continue;
        char rq[64], rs[64];
        const char *rn = rm_request_code_name(s->req);
        if (rn) {
            size_t i = 0;
            for (; rn[i] && i + 1 < sizeof(rq); i++) rq[i] = (char)tolower((unsigned char)rn[i]);
            rq[i] = 0;
        } else {
            snprintf(rq, sizeof(rq), "%d", (int)s->req);
        }
        const char *sn = resp_name(s->resp);
        if (sn) snprintf(rs, sizeof(rs), "%s", sn);
        else snprintf(rs, sizeof(rs), "%d", (int)s->resp);
        pm_label_t lb[3] = {{"protocol_type", "remoting"}, {"request_code", rq}, {"response_code", rs}};
        pm_hist_write(o, "rocketmq_rpc_latency", a, na, lb, 3, &s->h);
    }
}
