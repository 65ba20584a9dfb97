/*
 * pull: PULL_MESSAGE (11) (Java PullMessageProcessor + PullRequestHoldService):
 * checks, subscription and tag filter, commit-offset flag, the store read
 * written to the socket from the mapped commit log (zero copy), and long
 * polling: a pull that finds nothing is held until the store's dispatch
 * thread reports an arrival for its queue (uv_async) or its suspend timeout.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "filter/sql92.h"
#include "store/store.h"

#define FAQ " See http://rocketmq.apache.org/docs/faq/ for further details."
#define ARRIVALS_MAX 4096

/* Read results stay pinned until the socket write completes. */
typedef struct pull_pin_s {
    struct pull_pin_s *next_free;
    broker_t *b;
    int refs;
    store_get_result_t res;
} pull_pin_t;


void pull_init(broker_t *b) {
    strmap_init(&b->holds);
    pthread_mutex_init(&b->arr_mu, NULL);
    b->arr_cap = 64;
    b->arr = xcalloc((size_t)b->arr_cap, sizeof(arrival_t));
}

static void hold_key(char *k, size_t n, const char *topic, int32_t qid) {
    snprintf(k, n, "%.255s@%d", topic, qid);
}

static int match_cq(void *arg, int64_t tags_code) { return tag_filter_match(arg, tags_code); }

static int match_record(void *arg, const uint8_t *rec, uint32_t len) {
    record_view_t v;
    if (record_decode(rec, len, &v, 0) != RECORD_OK) return 0;
    return sql92_match(arg, v.props, v.props_len);
}

const sql92_expr_t *sql_cache_get(broker_t *b, const char *text, char *err, size_t errlen) {
    sql92_expr_t *e = strmap_get(&b->sql_cache, text);
    if (e) return e;
    if (sql92_compile(text, &e, err, errlen) != 0) return NULL;
    if (b->sql_cache.n > 10000) {
        /* Unbounded distinct expressions: refuse rather than grow forever. */
        sql92_free(e);
        snprintf(err, errlen, "too many distinct SQL92 expressions on this broker");
        return NULL;
    }
    strmap_put(&b->sql_cache, text, e);
    return e;
}

void sql_cache_free(broker_t *b) {
    STRMAP_FOREACH(&b->sql_cache, e) sql92_free(e->val);
    strmap_free(&b->sql_cache);
}

static pull_pin_t *pin_get(broker_t *b) {
    pull_pin_t *p = b->pin_free;
    if (p) {
        b->pin_free = p->next_free;
        b->npin_free--;
    } else {
        p = xmalloc(sizeof(*p));
    }
    p->b = b;
    p->refs = 0;
    return p;
}

static void pin_put(pull_pin_t *p) {
    broker_t *b = p->b;
    if (b->npin_free >= 64 || b->stopping) {
        free(p);
        return;
    }
    p->next_free = b->pin_free;
    b->pin_free = p;
    b->npin_free++;
}

static void pin_release(void *arg) {
    pull_pin_t *p = arg;
    if (--p->refs > 0) return;
    store_get_release(&p->res);
    pin_put(p);
}

static void reply_status(broker_t *b, rm_conn_t *conn, const rm_reqinfo_t *ri, int code,
                         const char *remark, int64_t next, int64_t min, int64_t max,
                         int64_t suggest) {
    rm_enc_t e;
    rm_conn_reply_begin_info(conn, &e, ri, code, remark);
    rm_enc_ext_i64(&e, "suggestWhichBrokerId", suggest);
    rm_enc_ext_i64(&e, "nextBeginOffset", next);
    rm_enc_ext_i64(&e, "minOffset", min);
    rm_enc_ext_i64(&e, "maxOffset", max);
    rm_enc_end(&e);
}

static void wake_queue(broker_t *b, const char *key, int64_t max_offset, int expired_only);

static void hold(broker_t *b, rm_conn_t *conn, const rm_reqinfo_t *ri, const pull_req_t *pr) {
    char k[NAME_MAX_LEN + 16];
    hold_key(k, sizeof(k), pr->topic, pr->qid);
    held_pull_t *head = strmap_get(&b->holds, k);
    if (!head) {
        head = xcalloc(1, sizeof(*head));
        head->next = head->prev = head;
        strmap_put(&b->holds, k, head);
    }
    held_pull_t *h = xcalloc(1, sizeof(*h));
    h->conn = conn;
    rm_conn_retain(conn);
    h->ri = *ri;
    h->pr = *pr;
    int64_t t = b->conf.longPollingEnable ? pr->suspend_ms : b->conf.shortPollingTimeMills;
    if (t < 0) t = 0;
    h->deadline = mono_ms() + t;
    h->prev = head->prev;
    h->next = head;
    head->prev->next = h;
    head->prev = h;
    b->nholds++;
    /* A message may have landed between the read and the hold (the dispatch
     * thread skips notifications while nothing is held). */
    int64_t max = bs_max_offset(b, pr->topic, pr->qid);
    if (max > pr->offset) wake_queue(b, k, max, 0);
}

/* Runs a pull. allow_suspend = first pass (commit and hold allowed). */
static void pull_process(broker_t *b, rm_conn_t *conn, const rm_reqinfo_t *ri,
                         const pull_req_t *pr, int allow_suspend) {
    char msg[600];
    if (!(b->conf.brokerPermission & PERM_READ)) {
        snprintf(msg, sizeof(msg), "the broker[%s] pulling message is forbidden", b->conf.brokerIP1);
        reply_status(b, conn, ri, NO_PERMISSION, msg, pr->offset, 0, 0, 0);
        return;
    }
    group_cfg_t *g = groups_find_or_create(b, pr->group);
    if (!g) {
        snprintf(msg, sizeof(msg), "subscription group [%s] does not exist," FAQ, pr->group);
        reply_status(b, conn, ri, SUBSCRIPTION_GROUP_NOT_EXIST, msg, pr->offset, 0, 0, 0);
        return;
    }
    if (!g->consume_enable) {
        snprintf(msg, sizeof(msg), "subscription group no permission, %s", pr->group);
        reply_status(b, conn, ri, NO_PERMISSION, msg, pr->offset, 0, 0, 0);
        return;
    }
    topic_cfg_t *tc = topics_get(b, pr->topic);
    if (!tc) {
        snprintf(msg, sizeof(msg), "topic[%s] not exist, apply first please!" FAQ, pr->topic);
        reply_status(b, conn, ri, TOPIC_NOT_EXIST, msg, pr->offset, 0, 0, 0);
        return;
    }
    if (!(tc->perm & PERM_READ)) {
        snprintf(msg, sizeof(msg), "the topic[%s] pulling message is forbidden", pr->topic);
        reply_status(b, conn, ri, NO_PERMISSION, msg, pr->offset, 0, 0, 0);
        return;
    }
    if (pr->qid < 0 || pr->qid >= tc->rq) {
        snprintf(msg, sizeof(msg),
                 "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]",
                 pr->qid, pr->topic, tc->rq, rm_conn_peer(conn));
        reply_status(b, conn, ri, SYSTEM_ERROR, msg, pr->offset, 0, 0, 0);
        return;
    }
    tag_filter_t filter = pr->filter;
    const sql92_expr_t *sql = pr->sql;
    if (!(pr->sysflag & PULL_FLAG_SUBSCRIPTION)) {
        cgroup_t *cg = clients_cgroup(b, pr->group);
        if (!cg) {
            snprintf(msg, sizeof(msg), "the consumer's group info not exist" FAQ);
            reply_status(b, conn, ri, SUBSCRIPTION_NOT_EXIST, msg, pr->offset, 0, 0, 0);
            return;
        }
        if (cg->message_model == 0 && !g->broadcast_enable) {
            snprintf(msg, sizeof(msg), "the consumer group[%s] can not consume by broadcast way",
                     pr->group);
            reply_status(b, conn, ri, NO_PERMISSION, msg, pr->offset, 0, 0, 0);
            return;
        }
        sub_data_t *sd = cgroup_find_sub(cg, pr->topic);
        if (!sd) {
            snprintf(msg, sizeof(msg), "the consumer's subscription not exist" FAQ);
            reply_status(b, conn, ri, SUBSCRIPTION_NOT_EXIST, msg, pr->offset, 0, 0, 0);
            return;
        }
        if (sd->sub_version < pr->sub_version) {
            snprintf(msg, sizeof(msg), "the consumer's subscription not latest");
            reply_status(b, conn, ri, SUBSCRIPTION_NOT_LATEST, msg, pr->offset, 0, 0, 0);
            return;
        }
        if (strcmp(sd->expr_type, "TAG") != 0) {
            if (!b->conf.enablePropertyFilter) {
                reply_status(b, conn, ri, SYSTEM_ERROR,
                             "The broker does not support consumer to filter message by SQL92",
                             pr->offset, 0, 0, 0);
                return;
            }
            char err[300];
            sql = sql_cache_get(b, sd->sub_string, err, sizeof(err));
            if (!sql) {
                reply_status(b, conn, ri, SUBSCRIPTION_PARSE_FAILED, err, pr->offset, 0, 0, 0);
                return;
            }
        }
        memset(&filter, 0, sizeof(filter));
        filter.all = sd->all;
        for (int i = 0; i < sd->ntags && filter.n < 64; i++) filter.codes[filter.n++] = sd->codes[i];
        if (!filter.all && filter.n == 0) filter.all = 1;
    }
    if (allow_suspend && (pr->sysflag & PULL_FLAG_COMMIT))
        offsets_set(b, pr->topic, pr->group, pr->qid, pr->commit_offset);

    pull_pin_t *pin = pin_get(b);
    if (sql && strncmp(pr->topic, "%RETRY%", 7) == 0 && !b->conf.filterSupportRetry) sql = NULL;
    store_filter_t sf = {filter.all || sql ? NULL : match_cq, sql ? match_record : NULL};
    int32_t maxn = pr->max_nums > 0 ? pr->max_nums : 32;
    store_get(b->store, pr->topic, pr->qid, pr->offset, maxn, pr->max_bytes, &sf,
              sql ? (void *)sql : (void *)&filter, &pin->res);
    store_get_result_t *r = &pin->res;
    int code;
    int64_t next = r->next_begin_offset;
    switch (r->status) {
    case STORE_GET_FOUND: code = SUCCESS; break;
    case STORE_GET_NO_MATCHED_MESSAGE:
    case STORE_GET_MESSAGE_WAS_REMOVING: code = PULL_RETRY_IMMEDIATELY; break;
    case STORE_GET_NO_MATCHED_LOGIC_QUEUE:
    case STORE_GET_NO_MESSAGE_IN_QUEUE:
        code = pr->offset != 0 ? PULL_OFFSET_MOVED : PULL_NOT_FOUND;
        break;
    case STORE_GET_OFFSET_FOUND_NULL:
    case STORE_GET_OFFSET_OVERFLOW_ONE: code = PULL_NOT_FOUND; break;
    case STORE_GET_OFFSET_OVERFLOW_BADLY:
    case STORE_GET_OFFSET_TOO_SMALL: code = PULL_OFFSET_MOVED; break;
    default: code = SYSTEM_ERROR; break;
    }
    if (code == SUCCESS && r->msg_count == 0) code = PULL_RETRY_IMMEDIATELY;
    int64_t suggest = 0;
    if (b->conf.slaveReadEnable && r->suggest_pulling_from_slave) suggest = g->slow_broker_id;
    else if (b->conf.slaveReadEnable) suggest = g->broker_id;

    if (code == PULL_NOT_FOUND && allow_suspend && (pr->sysflag & PULL_FLAG_SUSPEND) &&
        !b->stopping) {
        store_get_release(r);
        pin_put(pin);
        hold(b, conn, ri, pr);
        return;
    }
    rm_enc_t e;
    rm_conn_reply_begin_info(conn, &e, ri, code, store_get_status_name(r->status));
    rm_enc_ext_i64(&e, "suggestWhichBrokerId", suggest);
    rm_enc_ext_i64(&e, "nextBeginOffset", next);
    rm_enc_ext_i64(&e, "minOffset", r->min_offset);
    rm_enc_ext_i64(&e, "maxOffset", r->max_offset);
    if (code == SUCCESS) {
        bm_on_pull(b, pr->topic, pr->group, pr->qid, r->msg_count, r->total_bytes, next);
        b->get_total += r->msg_count;
        b->get_found++;
        pin->refs = (int)r->msg_count + 1;
        for (uint32_t i = 0; i < r->msg_count; i++)
            rm_enc_body_ref(&e, r->msgs[i].data, r->msgs[i].len, pin_release, pin);
        rm_enc_end(&e);
        pin_release(pin);
        return;
    }
    b->get_miss++;
    rm_enc_end(&e);
    store_get_release(r);
    pin_put(pin);
}

void h_pull_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    pull_req_t pr;
    memset(&pr, 0, sizeof(pr));
    if (bk_req_str(conn, req, "consumerGroup", pr.group, sizeof(pr.group)) != 0 ||
        bk_req_str(conn, req, "topic", pr.topic, sizeof(pr.topic)) != 0 ||
        bk_req_i32(conn, req, "queueId", &pr.qid) != 0 ||
        bk_req_i64(conn, req, "queueOffset", &pr.offset) != 0 ||
        bk_req_i32(conn, req, "maxMsgNums", &pr.max_nums) != 0 ||
        bk_req_i32(conn, req, "sysFlag", &pr.sysflag) != 0)
        return;
    if (rm_ext_i64(req, "commitOffset", &pr.commit_offset) == -2 ||
        rm_ext_i64(req, "suspendTimeoutMillis", &pr.suspend_ms) == -2 ||
        rm_ext_i64(req, "subVersion", &pr.sub_version) == -2) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "commitOffset, suspendTimeoutMillis or subVersion is not a number");
        return;
    }
    if (rm_ext_get(req, "suspendTimeoutMillis") == NULL) pr.suspend_ms = 15000;
    int32_t mb = 0;
    if (rm_ext_i32(req, "maxMsgBytes", &mb) == 0 && mb > 0) pr.max_bytes = mb;
    if (pr.sysflag & PULL_FLAG_SUBSCRIPTION) {
        const char *et = rm_ext_get(req, "expressionType");
        if (et && *et && strcmp(et, "TAG") != 0) {
            if (!b->conf.enablePropertyFilter || strcmp(et, "SQL92") != 0) {
                rm_conn_reply(conn, req, SYSTEM_ERROR,
                              "The broker does not support consumer to filter message by SQL92");
                return;
            }
            const char *text = rm_ext_get(req, "subscription");
            char err[300];
            pr.sql = sql_cache_get(b, text ? text : "", err, sizeof(err));
            if (!pr.sql) {
                rm_conn_reply(conn, req, SUBSCRIPTION_PARSE_FAILED, err);
                return;
            }
            pr.filter.all = 1;
        } else {
            tag_filter_from_string(&pr.filter, rm_ext_get(req, "subscription"));
        }
    } else {
        pr.filter.all = 1;
    }
    rm_reqinfo_t ri = rm_reqinfo(req);
    pull_process(b, conn, &ri, &pr, 1);
}

static void unlink_held(broker_t *b, held_pull_t *h) {
    h->prev->next = h->next;
    h->next->prev = h->prev;
    b->nholds--;
}

static void wake(broker_t *b, held_pull_t *h) {
    unlink_held(b, h);
    if (!rm_conn_is_closed(h->conn)) pull_process(b, h->conn, &h->ri, &h->pr, 0);
    rm_conn_release(h->conn);
    free(h);
}

static void wake_queue(broker_t *b, const char *key, int64_t max_offset, int expired_only) {
    held_pull_t *head = strmap_get(&b->holds, key);
    if (!head) return;
    int64_t now = mono_ms();
    held_pull_t *h = head->next;
    while (h != head) {
        held_pull_t *next = h->next;
        int due = now >= h->deadline || rm_conn_is_closed(h->conn) || b->stopping;
        if (due || (!expired_only && max_offset > h->pr.offset)) wake(b, h);
        h = next;
    }
}

void pull_on_arrivals(broker_t *b) {
    arrival_t local[256];
    for (;;) {
        pthread_mutex_lock(&b->arr_mu);
        int n = b->narr < 256 ? b->narr : 256;
        memcpy(local, b->arr, (size_t)n * sizeof(arrival_t));
        memmove(b->arr, b->arr + n, (size_t)(b->narr - n) * sizeof(arrival_t));
        b->narr -= n;
        int overflow = b->arr_overflow;
        b->arr_overflow = 0;
        pthread_mutex_unlock(&b->arr_mu);
        for (int i = 0; i < n; i++) {
            char k[NAME_MAX_LEN + 16];
            hold_key(k, sizeof(k), local[i].topic, local[i].qid);
            wake_queue(b, k, local[i].max_offset, 0);
        }
        if (overflow) {
            /* Lost track of which queues: re-check every held pull against the store. */
            STRMAP_FOREACH(&b->holds, e) {
                held_pull_t *head = e->val;
                if (head->next == head) continue;
                int64_t max = bs_max_offset(b, head->next->pr.topic, head->next->pr.qid);
                wake_queue(b, e->key, max, 0);
            }
        }
        if (n < 256) break;
    }
}

void pull_arrival_cb(void *arg, const store_arrival_t *sa) {
    broker_t *b = arg;
    if (atomic_load(&b->nholds) == 0 || atomic_load(&b->loop_done)) return;
    if (sa->topic_len >= NAME_MAX_LEN) return;
    char topic[NAME_MAX_LEN];
    memcpy(topic, sa->topic, sa->topic_len);
    topic[sa->topic_len] = 0;
    int32_t qid = sa->queue_id;
    int64_t max_offset = sa->queue_offset + 1;
    pthread_mutex_lock(&b->arr_mu);
    for (int i = b->narr - 1; i >= 0 && i >= b->narr - 8; i--) {
        if (b->arr[i].qid == qid && strcmp(b->arr[i].topic, topic) == 0) {
            if (max_offset > b->arr[i].max_offset) b->arr[i].max_offset = max_offset;
            pthread_mutex_unlock(&b->arr_mu);
            return;
        }
    }
    if (b->narr == b->arr_cap) {
        if (b->arr_cap >= ARRIVALS_MAX) {
            b->arr_overflow = 1;
            if (!atomic_load(&b->loop_done)) uv_async_send(&b->arrival_async);
            pthread_mutex_unlock(&b->arr_mu);
            return;
        }
        b->arr_cap *= 2;
        b->arr = xrealloc(b->arr, (size_t)b->arr_cap * sizeof(arrival_t));
    }
    arrival_t *a = &b->arr[b->narr++];
    snprintf(a->topic, sizeof(a->topic), "%s", topic);
    a->qid = qid;
    a->max_offset = max_offset;
    if (!atomic_load(&b->loop_done)) uv_async_send(&b->arrival_async);
    pthread_mutex_unlock(&b->arr_mu);
}

/* Re-running a held pull never holds again, so the holds map is not changed
 * while it is walked (list heads stay in the map). */
void pull_check_holds(broker_t *b, int all) {
    if (b->nholds == 0) return;
    STRMAP_FOREACH(&b->holds, e) {
        held_pull_t *head = e->val;
        if (head->next == head) continue;
        if (all) {
            while (head->next != head) wake(b, head->next);
        } else {
            wake_queue(b, e->key, 0, 1);
        }
    }
}

void pull_free(broker_t *b) {
    STRMAP_FOREACH(&b->holds, e) {
        held_pull_t *head = e->val;
        while (head->next != head) {
            held_pull_t *h = head->next;
            unlink_held(b, h);
            rm_conn_release(h->conn);
            free(h);
        }
        free(head);
    }
    strmap_free(&b->holds);
    free(b->arr);
    b->arr = NULL;
    while (b->pin_free) {
        pull_pin_t *p = b->pin_free;
        b->pin_free = p->next_free;
        free(p);
    }
    pthread_mutex_destroy(&b->arr_mu);
}
