/*
 * push_consumer: petrel_push_consumer_t.
 *
 * Each owned queue has a process queue (pq). Its pull loop:
 *
 *     IDLE --tick: issue_pull--> IN_FLIGHT --pull_cb--> IDLE (pull again at once)
 *       ^                                  \--pull_cb (error/flow control)--> WAIT
 *       +-------------tick, due------------------------------------------------+
 *
 * issue_pull runs on the service thread (tick) and pull_cb on the I/O thread;
 * only one pull per queue is ever in flight. Found messages become consume
 * tasks for the consume threads (concurrent listener: one task per message;
 * orderly listener: one token per queue, the worker holding it drains that
 * queue in order). Consumed offset of a queue = the oldest message still in
 * flight, or the end of the last pull when none is: offsets never move past an
 * unconsumed message. Rebalance, offset persistence, heartbeats and orderly
 * lock renewal run from the tick.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "common/util.h"

enum { PULL_IDLE = 0, PULL_IN_FLIGHT = 1, PULL_WAIT = 2 };

typedef struct pq_s {
    petrel_mq_t mq;
    int refs;            /* under c->mu: list + pull in flight + tasks */
    int dropped;         /* removed by rebalance or shutdown */
    int pull_state;      /* PULL_* */
    int64_t pull_due;    /* PULL_WAIT until (mono ms) */
    int64_t next_offset; /* next pull offset */
    int64_t seen_end;    /* nextBeginOffset of the latest pull */
    int64_t committed;   /* last offset persisted, -1 none */
    int64_t *offs;       /* in-flight message offsets, ring, ascending */
    uint8_t *done;
    size_t head, cnt, cap;
    size_t cached_bytes;
    int64_t lock_until; /* orderly clustering: broker lock valid until (mono ms) */
    int orderly_busy;   /* a worker drains this queue */
    int token_queued;
    petrel_msg_t **om; /* orderly: messages waiting, ring */
    size_t om_head, om_cnt, om_cap;
    const petrel__sub_t *sub;
    struct pq_s *next;
} pq_t;

typedef struct task_s {
    pq_t *pq;
    petrel_msg_t *msg; /* NULL: orderly token */
} task_t;

struct petrel_push_consumer_s {
    petrel_conf_t conf;
    petrel__inst_t *inst;
    petrel__sub_t *subs;
    int n_subs;
    petrel_listener_fn fn;
    void *opaque;
    int orderly;
    int started;
    pthread_mutex_t mu; /* guards pqs, pq fields, tasks, stopping */
    pthread_cond_t cv;  /* workers wait for tasks */
    pq_t *pqs;
    task_t *tasks; /* ring */
    size_t t_head, t_cnt, t_cap;
    pthread_t *workers;
    int n_workers;
    int stopping;
    _Atomic int rebalance_now;
    int64_t next_rebalance, next_persist, next_hb, next_lock;
    petrel__offtab_t offtab; /* broadcasting */
    char *offpath;
    int offtab_dirty;
};

static void consumer_tick(void *owner, int64_t now);
static void consumer_request(void *owner, const char *addr, rm_cmd_t *req);

static int broadcasting(const petrel_push_consumer_t *c) {
    return c->conf.messageModel == PETREL__BROADCASTING;
}

petrel_err_t petrel_push_consumer_create(const petrel_conf_t *conf, petrel_push_consumer_t **out,
                                         char *errstr, size_t errlen) {
    if (!conf || !out) return PETREL_EINVAL;
    petrel_push_consumer_t *c = calloc(1, sizeof(*c));
    if (!c) return PETREL_ENOMEM;
    petrel__inst_cbs_t cbs = {consumer_tick, consumer_request, c};
    petrel_err_t err = petrel__inst_open(&c->conf, conf, &cbs, &c->inst, errstr, errlen);
    if (err != PETREL_OK) {
        free(c);
        return err;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return PETREL_OK;
}

const char *petrel_push_consumer_client_id(const petrel_push_consumer_t *c) {
    return c ? petrel__inst_client_id(c->inst) : NULL;
}

petrel_err_t petrel_push_consumer_subscribe(petrel_push_consumer_t *c, const char *topic,
                                            const char *expr) {
    if (!c || !topic || !*topic) return PETREL_EINVAL;
    if (c->started) return PETREL_ESTATE;
    for (int i = 0; i < c->n_subs; i++) {
        if (strcmp(c->subs[i].topic, topic) == 0) {
            petrel__sub_free(&c->subs[i]);
            return petrel__sub_init(&c->subs[i], topic, expr);
        }
    }
    c->subs = xrealloc(c->subs, (size_t)(c->n_subs + 2) * sizeof(*c->subs));
    petrel_err_t err = petrel__sub_init(&c->subs[c->n_subs], topic, expr);
    if (err == PETREL_OK) c->n_subs++;
    return err;
}

petrel_err_t petrel_push_consumer_set_listener(petrel_push_consumer_t *c, petrel_listener_fn fn,
                                               void *opaque) {
    if (!c || !fn) return PETREL_EINVAL;
    if (c->started) return PETREL_ESTATE;
    c->fn = fn;
    c->opaque = opaque;
    c->orderly = 0;
    return PETREL_OK;
}

petrel_err_t petrel_push_consumer_set_orderly_listener(petrel_push_consumer_t *c,
                                                       petrel_listener_fn fn, void *opaque) {
    petrel_err_t err = petrel_push_consumer_set_listener(c, fn, opaque);
    if (err == PETREL_OK) c->orderly = 1;
    return err;
}

/* ---- process queues (all under c->mu) ---------------------------------------- */

static void pq_release_locked(pq_t *pq) {
    if (--pq->refs > 0) return;
    for (size_t i = 0; i < pq->om_cnt; i++)
        petrel_msg_destroy(pq->om[(pq->om_head + i) % pq->om_cap]);
    free(pq->om);
    free(pq->offs);
    free(pq->done);
    free(pq);
}

static int64_t pq_consumed(const pq_t *pq) {
    return pq->cnt ? pq->offs[pq->head] : pq->seen_end;
}

static void pq_track(pq_t *pq, int64_t off) {
    if (pq->cnt == pq->cap) {
        size_t ncap = pq->cap ? pq->cap * 2 : 64;
        int64_t *no = xmalloc(ncap * sizeof(*no));
        uint8_t *nd = xmalloc(ncap);
        for (size_t i = 0; i < pq->cnt; i++) {
            no[i] = pq->offs[(pq->head + i) % pq->cap];
            nd[i] = pq->done[(pq->head + i) % pq->cap];
        }
        free(pq->offs);
        free(pq->done);
        pq->offs = no;
        pq->done = nd;
        pq->head = 0;
        pq->cap = ncap;
    }
    size_t k = (pq->head + pq->cnt) % pq->cap;
    pq->offs[k] = off;
    pq->done[k] = 0;
    pq->cnt++;
}

static void pq_done(pq_t *pq, int64_t off, size_t bytes) {
    for (size_t i = 0; i < pq->cnt; i++) {
        size_t k = (pq->head + i) % pq->cap;
        if (pq->offs[k] == off && !pq->done[k]) {
            pq->done[k] = 1;
            break;
        }
    }
    while (pq->cnt && pq->done[pq->head]) {
        pq->head = (pq->head + 1) % pq->cap;
        pq->cnt--;
    }
    pq->cached_bytes -= bytes < pq->cached_bytes ? bytes : pq->cached_bytes;
}

static void om_push(pq_t *pq, petrel_msg_t *m) {
    if (pq->om_cnt == pq->om_cap) {
        size_t ncap = pq->om_cap ? pq->om_cap * 2 : 64;
        petrel_msg_t **n = xmalloc(ncap * sizeof(*n));
        for (size_t i = 0; i < pq->om_cnt; i++)
            n[i] = pq->om[(pq->om_head + i) % pq->om_cap];
        free(pq->om);
        pq->om = n;
        pq->om_head = 0;
        pq->om_cap = ncap;
    }
    pq->om[(pq->om_head + pq->om_cnt) % pq->om_cap] = m;
    pq->om_cnt++;
}

static void task_push(petrel_push_consumer_t *c, pq_t *pq, petrel_msg_t *m) {
    if (c->t_cnt == c->t_cap) {
        size_t ncap = c->t_cap ? c->t_cap * 2 : 256;
        task_t *n = xmalloc(ncap * sizeof(*n));
        for (size_t i = 0; i < c->t_cnt; i++)
            n[i] = c->tasks[(c->t_head + i) % c->t_cap];
        free(c->tasks);
        c->tasks = n;
        c->t_head = 0;
        c->t_cap = ncap;
    }
    c->tasks[(c->t_head + c->t_cnt) % c->t_cap] = (task_t){pq, m};
    c->t_cnt++;
    pq->refs++;
    pthread_cond_signal(&c->cv);
}

static int orderly_locked(const petrel_push_consumer_t *c, const pq_t *pq, int64_t now) {
    return !c->orderly || broadcasting(c) || pq->lock_until > now;
}

static void maybe_token(petrel_push_consumer_t *c, pq_t *pq) {
    if (c->orderly && pq->om_cnt && !pq->orderly_busy && !pq->token_queued && !pq->dropped &&
        orderly_locked(c, pq, mono_ms())) {
        pq->token_queued = 1;
        task_push(c, pq, NULL);
    }
}

/* ---- pulling ------------------------------------------------------------------ */

static void pull_cb(int status, rm_cmd_t *resp, void *arg);

typedef struct pull_arg_s {
    petrel_push_consumer_t *c;
    pq_t *pq;
} pull_arg_t;

/* Service thread. pq is retained by the caller; the reference moves to the pull. */
static void issue_pull(petrel_push_consumer_t *c, pq_t *pq) {
    int64_t now = mono_ms();
    pthread_mutex_lock(&c->mu);
    if (pq->dropped || c->stopping) {
        pq->pull_state = PULL_IDLE;
        pq_release_locked(pq);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (pq->cnt > (size_t)c->conf.pullThresholdForQueue ||
        pq->cached_bytes > (size_t)c->conf.pullThresholdSizeForQueue * 1024 * 1024 ||
        !orderly_locked(c, pq, now)) {
        pq->pull_state = PULL_WAIT;
        pq->pull_due = now + (orderly_locked(c, pq, now) ? 50 : 500);
        pq_release_locked(pq);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pq->pull_state = PULL_IN_FLIGHT;
    int64_t offset = pq->next_offset;
    int64_t commit = pq_consumed(pq);
    int commit_flag = !broadcasting(c) && commit > 0;
    pthread_mutex_unlock(&c->mu);

    char addr[64];
    if (petrel__inst_broker_addr(c->inst, pq->mq.broker_name, addr, sizeof(addr)) != 0) {
        pull_arg_t *a = xmalloc(sizeof(*a));
        *a = (pull_arg_t){c, pq};
        pull_cb(PETREL_ENOROUTE, NULL, a);
        return;
    }
    char qid[16], qoff[24], max[16], sys[16], coff[24], susp[16], subv[24];
    snprintf(qid, sizeof(qid), "%d", pq->mq.queue_id);
    snprintf(qoff, sizeof(qoff), "%lld", (long long)offset);
    snprintf(max, sizeof(max), "%d", c->conf.pullBatchSize);
    snprintf(sys, sizeof(sys), "%d", (commit_flag ? 1 : 0) | 2 | 4);
    snprintf(coff, sizeof(coff), "%lld", (long long)(commit_flag ? commit : 0));
    snprintf(susp, sizeof(susp), "%d", c->conf.suspendTimeoutMillis);
    snprintf(subv, sizeof(subv), "%lld", (long long)pq->sub->version);
    const char *ext[] = {"consumerGroup",
                         c->conf.groupName,
                         "topic",
                         pq->mq.topic,
                         "queueId",
                         qid,
                         "queueOffset",
                         qoff,
                         "maxMsgNums",
                         max,
                         "sysFlag",
                         sys,
                         "commitOffset",
                         coff,
                         "suspendTimeoutMillis",
                         susp,
                         "subscription",
                         pq->sub->expr,
                         "subVersion",
                         subv,
                         "expressionType",
                         "TAG",
                         NULL};
    rm_request_t req = {PULL_MESSAGE, NULL, ext, NULL, 0};
    pull_arg_t *a = xmalloc(sizeof(*a));
    *a = (pull_arg_t){c, pq};
    int rc = rm_client_invoke_async(petrel__inst_rm(c->inst), addr, &req,
                                    c->conf.suspendTimeoutMillis + 15000, pull_cb, a);
    if (rc != 0) pull_cb(rc, NULL, a);
}

/* I/O thread (or issue_pull on failure). */
static void pull_cb(int status, rm_cmd_t *resp, void *arg) {
    pull_arg_t *a = arg;
    petrel_push_consumer_t *c = a->c;
    pq_t *pq = a->pq;
    free(a);
    petrel_msg_t **msgs = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    int64_t next = -1, delay = 0;
    if (status == 0) {
        int64_t v;
        if (rm_ext_i64(resp, "nextBeginOffset", &v) == 0) next = v;
        switch (resp->code) {
        case SUCCESS: {
            size_t pos = 0;
            petrel__slab_cur_t sc;
            petrel__slab_open(&sc, resp->body, resp->body ? resp->body_len : 0);
            while (resp->body && pos < resp->body_len) {
                petrel_msg_t *m = NULL;
                size_t used = 0;
                if (petrel__record_decode_in(&sc, resp->body + pos, resp->body_len - pos,
                                             pq->mq.broker_name, &m, &used) != PETREL_OK) {
                    PLOG_WARN("bad record in pull response for %s:%s:%d at %zu", pq->mq.topic,
                              pq->mq.broker_name, pq->mq.queue_id, pos);
                    break;
                }
                pos += used;
                if (!petrel__sub_match(pq->sub, petrel__msg_prop(m, PETREL_PROP_TAGS))) {
                    petrel_msg_destroy(m);
                    continue;
                }
                if (strncmp(m->topic, "%RETRY%", 7) == 0) {
                    const char *rt = petrel__msg_prop(m, PETREL_PROP_RETRY_TOPIC);
                    if (rt) m->topic = (char *)rt;
                }
                if (n == cap) msgs = xrealloc(msgs, (cap = cap ? cap * 2 : 32) * sizeof(*msgs));
                msgs[n++] = m;
                bytes += m->body_len;
            }
            petrel__slab_close(&sc);
            break;
        }
        case PULL_NOT_FOUND:
        case PULL_RETRY_IMMEDIATELY:
            break;
        case PULL_OFFSET_MOVED:
            PLOG_WARN("pull offset of %s:%s:%d moved to %lld", pq->mq.topic, pq->mq.broker_name,
                      pq->mq.queue_id, (long long)next);
            break;
        default:
            PLOG_WARN("pull %s:%s:%d: code %d %s", pq->mq.topic, pq->mq.broker_name,
                      pq->mq.queue_id, resp->code, resp->remark ? resp->remark : "");
            next = -1;
            delay = 3000;
        }
    } else if (status != PETREL_ESHUTDOWN) {
        PLOG_WARN("pull %s:%s:%d failed: %s", pq->mq.topic, pq->mq.broker_name, pq->mq.queue_id,
                  petrel_strerror(status));
        delay = 3000;
    }
    pthread_mutex_lock(&c->mu);
    if (!pq->dropped && !c->stopping) {
        if (next >= 0) {
            pq->next_offset = next;
            pq->seen_end = next;
        }
        for (size_t i = 0; i < n; i++) {
            pq_track(pq, msgs[i]->queue_offset);
            if (c->orderly)
                om_push(pq, msgs[i]);
            else
                task_push(c, pq, msgs[i]);
            msgs[i] = NULL;
        }
        pq->cached_bytes += bytes;
        maybe_token(c, pq);
        pq->pull_state = delay ? PULL_WAIT : PULL_IDLE;
        pq->pull_due = mono_ms() + delay;
    } else {
        pq->pull_state = PULL_IDLE;
    }
    pq_release_locked(pq);
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++)
        petrel_msg_destroy(msgs[i]);
    free(msgs);
    if (status != PETREL_ESHUTDOWN) petrel__inst_kick(c->inst);
}

/* ---- consuming ------------------------------------------------------------------ */

/* CONSUMER_SEND_MSG_BACK: delay 0 = the broker's 3 + reconsumeTimes, -1 = to %DLQ% at once. */
static petrel_err_t send_back(petrel_push_consumer_t *c, const petrel_msg_t *m, int delay) {
    char addr[64];
    if (petrel__inst_broker_addr(c->inst, m->broker_name, addr, sizeof(addr)) != 0)
        return PETREL_ENOROUTE;
    char off[24], maxr[16], dl[16];
    snprintf(off, sizeof(off), "%lld", (long long)m->commit_log_offset);
    snprintf(dl, sizeof(dl), "%d", delay);
    snprintf(maxr, sizeof(maxr), "%d",
             c->conf.maxReconsumeTimes < 0 ? 16 : c->conf.maxReconsumeTimes);
    const char *ext[] = {
        "offset",      off,       "group",       c->conf.groupName, "delayLevel",        dl,
        "originMsgId", m->msg_id, "originTopic", m->topic,          "maxReconsumeTimes", maxr,
        "unitMode",    "false",   NULL};
    rm_response_t *resp = NULL;
    petrel_err_t err =
        petrel__call(c->inst, addr, CONSUMER_SEND_MSG_BACK, ext, NULL, 0, 3000, &resp);
    if (err == PETREL_OK && resp->cmd.code != SUCCESS) err = (petrel_err_t)resp->cmd.code;
    rm_response_free(resp);
    return err;
}

static void sleep_stoppable(petrel_push_consumer_t *c, int ms) {
    for (int i = 0; i < ms; i += 20) {
        pthread_mutex_lock(&c->mu);
        int s = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (s) return;
        usleep(20000);
    }
}

static void consume_one(petrel_push_consumer_t *c, pq_t *pq, petrel_msg_t *m) {
    pthread_mutex_lock(&c->mu);
    int dropped = pq->dropped;
    pthread_mutex_unlock(&c->mu);
    if (!dropped) {
        petrel_consume_status_t st = c->fn(c, m, c->opaque);
        if (st != PETREL_CONSUME_SUCCESS) {
            if (broadcasting(c)) {
                PLOG_WARN("broadcasting: dropping message %s after a failed consume", m->msg_id);
            } else {
                petrel_err_t err = send_back(c, m, 0);
                if (err != PETREL_OK) {
                    PLOG_WARN("send back of %s failed (%s); retrying locally", m->msg_id,
                              petrel_strerror(err));
                    m->reconsume_times++;
                    sleep_stoppable(c, 200);
                    pthread_mutex_lock(&c->mu);
                    if (!c->stopping && !pq->dropped) {
                        task_push(c, pq, m);
                        pq_release_locked(pq);
                        pthread_mutex_unlock(&c->mu);
                        return;
                    }
                    pthread_mutex_unlock(&c->mu);
                }
            }
        }
    }
    pthread_mutex_lock(&c->mu);
    pq_done(pq, m->queue_offset, m->body_len);
    pq_release_locked(pq);
    pthread_mutex_unlock(&c->mu);
    petrel_msg_destroy(m);
}

/* Orderly: sends m to the dead-letter queue. 1 when done. */
static int dead_letter(petrel_push_consumer_t *c, const petrel_msg_t *m) {
    petrel_err_t err = send_back(c, m, -1);
    if (err == PETREL_OK) {
        PLOG_WARN("orderly: %s failed %d times, sent to %%DLQ%%%s", m->msg_id,
                  m->reconsume_times + 1, c->conf.groupName);
        return 1;
    }
    PLOG_WARN("orderly: dead-lettering %s failed (%s); retrying locally", m->msg_id,
              petrel_strerror(err));
    return 0;
}

static void consume_orderly(petrel_push_consumer_t *c, pq_t *pq) {
    pthread_mutex_lock(&c->mu);
    pq->token_queued = 0;
    if (pq->orderly_busy) {
        pq_release_locked(pq);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pq->orderly_busy = 1;
    while (!c->stopping && !pq->dropped && pq->om_cnt && orderly_locked(c, pq, mono_ms())) {
        petrel_msg_t *m = pq->om[pq->om_head];
        pthread_mutex_unlock(&c->mu);
        petrel_consume_status_t st = c->fn(c, m, c->opaque);
        /* Java (checkReconsumeTimes): after maxReconsumeTimes local retries (-1: no limit) the
         * message goes to %DLQ%<group> and the queue moves on; if that fails, retry again. */
        if (st != PETREL_CONSUME_SUCCESS &&
            !(c->conf.maxReconsumeTimes >= 0 && m->reconsume_times >= c->conf.maxReconsumeTimes &&
              dead_letter(c, m))) {
            m->reconsume_times++;
            sleep_stoppable(c, 1000); /* Java: SUSPEND_CURRENT_QUEUE_A_MOMENT */
            pthread_mutex_lock(&c->mu);
            continue;
        }
        pthread_mutex_lock(&c->mu);
        pq->om_head = (pq->om_head + 1) % pq->om_cap;
        pq->om_cnt--;
        pq_done(pq, m->queue_offset, m->body_len);
        petrel_msg_destroy(m);
    }
    pq->orderly_busy = 0;
    pq_release_locked(pq);
    pthread_mutex_unlock(&c->mu);
}

static void *worker_main(void *arg) {
    thread_name("consume-worker");
    petrel_push_consumer_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stopping && c->t_cnt == 0)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping) break;
        task_t t = c->tasks[c->t_head];
        c->t_head = (c->t_head + 1) % c->t_cap;
        c->t_cnt--;
        pthread_mutex_unlock(&c->mu);
        if (t.msg)
            consume_one(c, t.pq, t.msg);
        else
            consume_orderly(c, t.pq);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- offsets ------------------------------------------------------------------- */

/* Persists every queue's consumed offset that changed (final: synchronously). */
static void persist_offsets(petrel_push_consumer_t *c, int final) {
    typedef struct {
        petrel_mq_t mq;
        int64_t off;
    } item_t;
    item_t *items = NULL;
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (pq_t *pq = c->pqs; pq; pq = pq->next) {
        int64_t off = pq_consumed(pq);
        if (off < 0 || off == pq->committed) continue;
        pq->committed = off;
        items = xrealloc(items, (size_t)(n + 1) * sizeof(*items));
        items[n++] = (item_t){pq->mq, off};
    }
    pthread_mutex_unlock(&c->mu);
    char dead[8][64]; /* final: brokers that did not answer (do not wait on them again) */
    int n_dead = 0;
    for (int i = 0; i < n; i++) {
        if (broadcasting(c)) {
            petrel__offtab_set(&c->offtab, &items[i].mq, items[i].off);
            c->offtab_dirty = 1;
            continue;
        }
        char addr[64];
        if (petrel__inst_broker_addr(c->inst, items[i].mq.broker_name, addr, sizeof(addr)) != 0)
            continue;
        int skip = 0;
        for (int d = 0; d < n_dead && !skip; d++)
            skip = strcmp(dead[d], addr) == 0;
        if (skip) continue;
        if (final) {
            petrel_err_t err = petrel__commit_offset(c->inst, addr, c->conf.groupName,
                                                     &items[i].mq, items[i].off, NULL);
            if (err != PETREL_OK) {
                PLOG_WARN("final offset commit to %s failed: %s", addr, petrel_strerror(err));
                if (n_dead < 8) snprintf(dead[n_dead++], 64, "%s", addr);
            }
        } else {
            petrel__update_offset(c->inst, addr, c->conf.groupName, &items[i].mq, items[i].off);
        }
    }
    free(items);
    if (broadcasting(c) && c->offtab_dirty && c->offpath) {
        if (petrel__offtab_save(&c->offtab, c->offpath) == PETREL_OK) c->offtab_dirty = 0;
    }
}

/* ---- orderly locks ------------------------------------------------------------- */

static void mq_json(buf_t *b, const petrel_mq_t *mq) {
    buf_append_str(b, "{\"brokerName\":");
    buf_json_str(b, mq->broker_name, strlen(mq->broker_name));
    buf_printf(b, ",\"queueId\":%d,\"topic\":", mq->queue_id);
    buf_json_str(b, mq->topic, strlen(mq->topic));
    buf_put_u8(b, '}');
}

/* LOCK_BATCH_MQ (lock=1) or UNLOCK_BATCH_MQ for mqs of one broker. For a lock, ok[i] tells
 * which were granted. */
static void lock_batch(petrel_push_consumer_t *c, const char *addr, const petrel_mq_t *mqs, int n,
                       int lock, int *ok, int sync) {
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, "{\"clientId\":");
    const char *cid = petrel__inst_client_id(c->inst);
    buf_json_str(&b, cid, strlen(cid));
    buf_append_str(&b, ",\"consumerGroup\":");
    buf_json_str(&b, c->conf.groupName, strlen(c->conf.groupName));
    buf_append_str(&b, ",\"mqSet\":[");
    for (int i = 0; i < n; i++) {
        if (i) buf_put_u8(&b, ',');
        mq_json(&b, &mqs[i]);
    }
    buf_append_str(&b, "],\"onlyThisBroker\":false}");
    static const char *const noext[] = {NULL};
    if (!lock && !sync) {
        rm_request_t req = {UNLOCK_BATCH_MQ, NULL, noext, b.data, (uint32_t)b.len};
        rm_client_invoke_oneway(petrel__inst_rm(c->inst), addr, &req);
        buf_free(&b);
        return;
    }
    rm_response_t *resp = NULL;
    petrel_err_t err = petrel__call(c->inst, addr, lock ? LOCK_BATCH_MQ : UNLOCK_BATCH_MQ, noext,
                                    b.data, (uint32_t)b.len, 3000, &resp);
    buf_free(&b);
    if (lock) memset(ok, 0, (size_t)n * sizeof(int));
    if (err != PETREL_OK) return;
    if (lock && resp->cmd.code == SUCCESS && resp->cmd.body) {
        cJSON *root = cJSON_ParseWithLength((const char *)resp->cmd.body, resp->cmd.body_len);
        cJSON *set = cJSON_GetObjectItemCaseSensitive(root, "lockOKMQSet"), *e;
        cJSON_ArrayForEach(e, set) {
            cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "topic");
            cJSON *bn = cJSON_GetObjectItemCaseSensitive(e, "brokerName");
            cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "queueId");
            if (!cJSON_IsString(t) || !cJSON_IsString(bn) || !cJSON_IsNumber(q)) continue;
            for (int i = 0; i < n; i++)
                if (mqs[i].queue_id == q->valueint && strcmp(mqs[i].topic, t->valuestring) == 0 &&
                    strcmp(mqs[i].broker_name, bn->valuestring) == 0)
                    ok[i] = 1;
        }
        cJSON_Delete(root);
    }
    rm_response_free(resp);
}

/* Locks every owned queue (per broker) and updates lock_until. */
static void relock_all(petrel_push_consumer_t *c) {
    petrel_mq_t *mqs = NULL;
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (pq_t *pq = c->pqs; pq; pq = pq->next) {
        mqs = xrealloc(mqs, (size_t)(n + 1) * sizeof(*mqs));
        mqs[n++] = pq->mq;
    }
    pthread_mutex_unlock(&c->mu);
    int *ok = xcalloc((size_t)n + 1, sizeof(int));
    int *done = xcalloc((size_t)n + 1, sizeof(int));
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        /* Group this broker's queues. */
        petrel_mq_t *grp = xmalloc((size_t)n * sizeof(*grp));
        int *idx = xmalloc((size_t)n * sizeof(int));
        int g = 0;
        for (int k = i; k < n; k++) {
            if (!done[k] && strcmp(mqs[k].broker_name, mqs[i].broker_name) == 0) {
                grp[g] = mqs[k];
                idx[g++] = k;
                done[k] = 1;
            }
        }
        char addr[64];
        int *gok = xcalloc((size_t)g, sizeof(int));
        if (petrel__inst_broker_addr(c->inst, mqs[i].broker_name, addr, sizeof(addr)) == 0)
            lock_batch(c, addr, grp, g, 1, gok, 1);
        for (int k = 0; k < g; k++)
            ok[idx[k]] = gok[k];
        free(gok);
        free(grp);
        free(idx);
    }
    int64_t until = mono_ms() + 30000;
    pthread_mutex_lock(&c->mu);
    for (pq_t *pq = c->pqs; pq; pq = pq->next) {
        for (int i = 0; i < n; i++) {
            if (petrel__mq_cmp(&pq->mq, &mqs[i]) != 0) continue;
            pq->lock_until = ok[i] ? until : 0;
            maybe_token(c, pq);
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(ok);
    free(done);
    free(mqs);
}

/* ---- rebalance ----------------------------------------------------------------- */

static void send_heartbeat(petrel_push_consumer_t *c) {
    static const char *const where[] = {"CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_FIRST_OFFSET",
                                        "CONSUME_FROM_TIMESTAMP"};
    petrel__consumer_heartbeat(c->inst, &c->conf, "CONSUME_PASSIVELY",
                               where[c->conf.consumeFromWhere], c->subs, c->n_subs);
}

static int start_offset(petrel_push_consumer_t *c, const petrel_mq_t *mq, int64_t *off) {
    char addr[64];
    if (petrel__inst_broker_addr(c->inst, mq->broker_name, addr, sizeof(addr)) != 0) return -1;
    if (broadcasting(c)) {
        int64_t v = petrel__offtab_get(&c->offtab, mq);
        if (v >= 0) {
            *off = v;
            return 0;
        }
    } else {
        petrel_err_t err = petrel__query_offset(c->inst, addr, c->conf.groupName, mq, off);
        if (err == PETREL_OK) return 0;
        if (err != PETREL_QUERY_NOT_FOUND) {
            PLOG_WARN("query offset %s:%s:%d: %s", mq->topic, mq->broker_name, mq->queue_id,
                      petrel_strerror(err));
            return -1;
        }
    }
    petrel_err_t err = petrel__offset_from_where(c->inst, &c->conf, addr, mq, off);
    if (err != PETREL_OK) {
        PLOG_WARN("start offset of %s:%s:%d: %s", mq->topic, mq->broker_name, mq->queue_id,
                  petrel_strerror(err));
        return -1;
    }
    return 0;
}

static void drop_pq(petrel_push_consumer_t *c, pq_t *pq) {
    /* Persist where consumption got to, then let the broker lock go. An orderly queue is
     * released only once the worker draining it has stopped (bounded), so the next owner
     * never consumes it at the same time. */
    int64_t off, deadline = mono_ms() + 2000;
    pthread_mutex_lock(&c->mu);
    while (pq->orderly_busy && mono_ms() < deadline) {
        pthread_mutex_unlock(&c->mu);
        usleep(1000);
        pthread_mutex_lock(&c->mu);
    }
    off = pq_consumed(pq);
    pq->committed = off;
    pthread_mutex_unlock(&c->mu);
    char addr[64];
    int have = petrel__inst_broker_addr(c->inst, pq->mq.broker_name, addr, sizeof(addr)) == 0;
    if (broadcasting(c)) {
        petrel__offtab_set(&c->offtab, &pq->mq, off);
        c->offtab_dirty = 1;
    } else if (have && off >= 0) {
        petrel__update_offset(c->inst, addr, c->conf.groupName, &pq->mq, off);
        if (c->orderly) lock_batch(c, addr, &pq->mq, 1, 0, NULL, 0);
    }
}

static int rebalance_topic(petrel_push_consumer_t *c, const petrel__sub_t *sub) {
    petrel__route_t *r = NULL;
    petrel_err_t err = petrel__inst_route(c->inst, sub->topic, 0, &r);
    if (err != PETREL_OK) {
        if (strncmp(sub->topic, "%RETRY%", 7) != 0)
            PLOG_WARN("rebalance: no route for %s: %s", sub->topic, petrel_strerror(err));
        return 0;
    }
    petrel_mq_t *all = NULL;
    int n = petrel__route_queues(r, sub->topic, 0, &all);
    int *mine = xcalloc((size_t)n + 1, sizeof(int));
    int k = 0;
    if (broadcasting(c)) {
        for (int i = 0; i < n; i++)
            mine[k++] = i;
    } else if (n > 0) {
        const char *addr = NULL;
        for (int i = 0; i < r->nb && !addr; i++)
            if (r->b[i].master[0]) addr = r->b[i].master;
        char **cids = NULL;
        int nc = 0;
        err = addr ? petrel__consumer_ids(c->inst, addr, c->conf.groupName, &cids, &nc)
                   : PETREL_ENOROUTE;
        if (err != PETREL_OK || nc == 0) {
            PLOG_WARN("rebalance %s: no consumer list (%s)", sub->topic, petrel_strerror(err));
            petrel__strv_free(cids, nc);
            petrel__route_release(r);
            free(all);
            free(mine);
            return 0;
        }
        const char *self = petrel__inst_client_id(c->inst);
        int known = 0;
        for (int i = 0; i < nc && !known; i++)
            known = strcmp(cids[i], self) == 0;
        if (!known) {
            /* The broker does not know us (it restarted, or our heartbeat is in flight):
             * keep what we have and heartbeat at once rather than give every queue away. */
            PLOG_WARN("rebalance %s: this client is not in the group yet; heartbeating",
                      sub->topic);
            c->next_hb = 0;
            int64_t soon = mono_ms() + 1000;
            if (c->next_rebalance > soon) c->next_rebalance = soon;
            petrel__strv_free(cids, nc);
            petrel__route_release(r);
            free(all);
            free(mine);
            return 0;
        }
        k = petrel__allocate(c->conf.allocateMessageQueueStrategy, all, n, cids, nc, self, mine);
        petrel__strv_free(cids, nc);
    }
    petrel__route_release(r);

    /* Drop the queues no longer ours. */
    int changed = 0;
    pq_t *gone = NULL;
    pthread_mutex_lock(&c->mu);
    for (pq_t **pp = &c->pqs; *pp;) {
        pq_t *pq = *pp;
        int keep = strcmp(pq->mq.topic, sub->topic) != 0;
        for (int i = 0; i < k && !keep; i++)
            keep = petrel__mq_cmp(&pq->mq, &all[mine[i]]) == 0;
        if (keep) {
            pp = &pq->next;
            continue;
        }
        *pp = pq->next;
        pq->dropped = 1;
        pq->next = gone;
        gone = pq;
        changed = 1;
    }
    pthread_mutex_unlock(&c->mu);
    while (gone) {
        pq_t *pq = gone;
        gone = pq->next;
        PLOG_INFO("rebalance: dropping %s:%s:%d", pq->mq.topic, pq->mq.broker_name,
                  pq->mq.queue_id);
        drop_pq(c, pq);
        pthread_mutex_lock(&c->mu);
        pq_release_locked(pq);
        pthread_mutex_unlock(&c->mu);
    }
    /* Add the new ones. */
    for (int i = 0; i < k; i++) {
        const petrel_mq_t *mq = &all[mine[i]];
        int have = 0;
        pthread_mutex_lock(&c->mu);
        for (pq_t *pq = c->pqs; pq && !have; pq = pq->next)
            have = petrel__mq_cmp(&pq->mq, mq) == 0;
        pthread_mutex_unlock(&c->mu);
        if (have) continue;
        /* Orderly: own the broker lock before reading the offset (as Java does), so the
         * offset is the one the previous owner stored before unlocking. */
        int64_t lock_until = 0;
        if (c->orderly && !broadcasting(c)) {
            char addr[64];
            int ok = 0;
            if (petrel__inst_broker_addr(c->inst, mq->broker_name, addr, sizeof(addr)) == 0)
                lock_batch(c, addr, mq, 1, 1, &ok, 1);
            if (!ok) {
                int64_t soon = mono_ms() + 1000;
                if (c->next_rebalance > soon) c->next_rebalance = soon;
                continue;
            }
            lock_until = mono_ms() + 30000;
        }
        int64_t off;
        if (start_offset(c, mq, &off) != 0) continue;
        pq_t *pq = xcalloc(1, sizeof(*pq));
        pq->mq = *mq;
        pq->refs = 1;
        pq->next_offset = pq->seen_end = off;
        pq->committed = off;
        pq->sub = sub;
        pq->lock_until = lock_until;
        PLOG_INFO("rebalance: taking %s:%s:%d at offset %lld", mq->topic, mq->broker_name,
                  mq->queue_id, (long long)off);
        pthread_mutex_lock(&c->mu);
        pq->next = c->pqs;
        c->pqs = pq;
        pthread_mutex_unlock(&c->mu);
        changed = 1;
    }
    free(all);
    free(mine);
    return changed;
}

static void rebalance(petrel_push_consumer_t *c) {
    int changed = 0;
    for (int i = 0; i < c->n_subs; i++)
        changed |= rebalance_topic(c, &c->subs[i]);
    if (changed && broadcasting(c)) persist_offsets(c, 0);
}

static void consumer_tick(void *owner, int64_t now) {
    petrel_push_consumer_t *c = owner;
    if (now >= c->next_hb) {
        send_heartbeat(c);
        c->next_hb = now + c->conf.heartbeatBrokerInterval;
    }
    if (atomic_exchange(&c->rebalance_now, 0) || now >= c->next_rebalance) {
        c->next_rebalance = now + c->conf.rebalanceInterval;
        rebalance(c);
    }
    if (c->orderly && !broadcasting(c) && now >= c->next_lock) {
        relock_all(c);
        c->next_lock = now + 20000;
        /* Queues we own but could not lock (the previous owner still held them): retry soon. */
        pthread_mutex_lock(&c->mu);
        for (pq_t *pq = c->pqs; pq; pq = pq->next)
            if (pq->lock_until <= now) c->next_lock = now + 1000;
        pthread_mutex_unlock(&c->mu);
    }
    if (now >= c->next_persist) {
        persist_offsets(c, 0);
        c->next_persist = now + c->conf.persistConsumerOffsetInterval;
    }
    /* Issue the pulls that are due. */
    pq_t **due = NULL;
    int n = 0;
    int64_t t = mono_ms();
    pthread_mutex_lock(&c->mu);
    for (pq_t *pq = c->pqs; pq; pq = pq->next) {
        if (pq->pull_state == PULL_IDLE || (pq->pull_state == PULL_WAIT && pq->pull_due <= t)) {
            pq->pull_state = PULL_IN_FLIGHT; /* reserved; issue_pull decides */
            pq->refs++;
            due = xrealloc(due, (size_t)(n + 1) * sizeof(*due));
            due[n++] = pq;
        }
        if (c->orderly) maybe_token(c, pq);
    }
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < n; i++)
        issue_pull(c, due[i]);
    free(due);
}

typedef struct reset_req_s {
    petrel_push_consumer_t *c;
    char *body;
} reset_req_t;

/*
 * RESET_CONSUMER_CLIENT_OFFSET (admin resetOffsetByTime): store the new offsets, drop the
 * affected queues, and let a rebalance take them again from there. Reads the list form
 * {"offsetTable":[{"brokerName","offset","queueId","topic"}]} that brokers send to non-Java
 * clients (Java's form has JSON objects as keys and is not JSON).
 */
static void run_reset(void *arg) {
    reset_req_t *rr = arg;
    petrel_push_consumer_t *c = rr->c;
    cJSON *root = cJSON_Parse(rr->body);
    cJSON *tab = cJSON_GetObjectItemCaseSensitive(root, "offsetTable"), *e;
    if (!cJSON_IsArray(tab)) {
        PLOG_WARN("offset reset: body not understood; ignored");
        tab = NULL;
    }
    cJSON_ArrayForEach(e, tab) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "topic");
        cJSON *bn = cJSON_GetObjectItemCaseSensitive(e, "brokerName");
        cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "queueId");
        cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "offset");
        if (!cJSON_IsString(t) || !cJSON_IsString(bn) || !cJSON_IsNumber(q) || !cJSON_IsNumber(o))
            continue;
        petrel_mq_t mq;
        memset(&mq, 0, sizeof(mq));
        snprintf(mq.topic, sizeof(mq.topic), "%s", t->valuestring);
        snprintf(mq.broker_name, sizeof(mq.broker_name), "%s", bn->valuestring);
        mq.queue_id = q->valueint;
        int64_t off = (int64_t)o->valuedouble;
        pq_t *gone = NULL;
        pthread_mutex_lock(&c->mu);
        for (pq_t **pp = &c->pqs; *pp; pp = &(*pp)->next) {
            if (petrel__mq_cmp(&(*pp)->mq, &mq) != 0) continue;
            gone = *pp;
            *pp = gone->next;
            gone->dropped = 1;
            break;
        }
        pthread_mutex_unlock(&c->mu);
        char addr[64];
        if (broadcasting(c)) {
            petrel__offtab_set(&c->offtab, &mq, off);
            c->offtab_dirty = 1;
        } else if (petrel__inst_broker_addr(c->inst, mq.broker_name, addr, sizeof(addr)) == 0) {
            char qid[16], os[24];
            snprintf(qid, sizeof(qid), "%d", mq.queue_id);
            snprintf(os, sizeof(os), "%lld", (long long)off);
            const char *ext[] = {"consumerGroup",
                                 c->conf.groupName,
                                 "topic",
                                 mq.topic,
                                 "queueId",
                                 qid,
                                 "commitOffset",
                                 os,
                                 NULL};
            rm_response_t *resp = NULL;
            if (petrel__call(c->inst, addr, UPDATE_CONSUMER_OFFSET, ext, NULL, 0, 3000, &resp) ==
                PETREL_OK)
                rm_response_free(resp);
        }
        PLOG_INFO("offset of %s:%s:%d reset to %lld", mq.topic, mq.broker_name, mq.queue_id,
                  (long long)off);
        if (gone) {
            pthread_mutex_lock(&c->mu);
            pq_release_locked(gone);
            pthread_mutex_unlock(&c->mu);
        }
    }
    cJSON_Delete(root);
    if (broadcasting(c) && c->offpath) petrel__offtab_save(&c->offtab, c->offpath);
    atomic_store(&c->rebalance_now, 1);
    free(rr->body);
    free(rr);
}

static void consumer_request(void *owner, const char *addr, rm_cmd_t *req) {
    petrel_push_consumer_t *c = owner;
    if (req->code == NOTIFY_CONSUMER_IDS_CHANGED) {
        atomic_store(&c->rebalance_now, 1);
        petrel__inst_kick(c->inst);
    } else if (req->code == RESET_CONSUMER_CLIENT_OFFSET && req->body_len) {
        const char *g = rm_ext_get(req, "group");
        if (g && strcmp(g, c->conf.groupName) != 0) return;
        reset_req_t *rr = xmalloc(sizeof(*rr));
        rr->c = c;
        rr->body = xmalloc(req->body_len + 1);
        memcpy(rr->body, req->body, req->body_len);
        rr->body[req->body_len] = 0;
        petrel__inst_defer(c->inst, 0, run_reset, rr);
    }
}

petrel_err_t petrel_push_consumer_start(petrel_push_consumer_t *c) {
    if (!c) return PETREL_EINVAL;
    if (c->started || !c->fn || c->n_subs == 0) return PETREL_ESTATE;
    if (!broadcasting(c)) {
        char retry[300];
        snprintf(retry, sizeof(retry), "%%RETRY%%%s", c->conf.groupName);
        petrel__sub_init(&c->subs[c->n_subs++], retry, "*");
    } else {
        c->offpath = petrel__offfile_path(&c->conf, petrel__inst_client_id(c->inst));
        petrel__offtab_load(&c->offtab, c->offpath);
    }
    c->started = 1;
    /* Routes first, so the first heartbeat reaches the brokers. */
    for (int i = 0; i < c->n_subs; i++) {
        petrel__route_t *r = NULL;
        petrel_err_t err = petrel__inst_route(c->inst, c->subs[i].topic, 1, &r);
        if (err == PETREL_OK)
            petrel__route_release(r);
        else if (i < c->n_subs - (broadcasting(c) ? 0 : 1))
            PLOG_WARN("no route for %s yet: %s", c->subs[i].topic, petrel_strerror(err));
    }
    send_heartbeat(c);
    int64_t now = mono_ms();
    c->next_hb = now + c->conf.heartbeatBrokerInterval;
    c->next_persist = now + c->conf.persistConsumerOffsetInterval;
    c->next_rebalance = 0;
    c->next_lock = now + 20000;
    c->n_workers = c->conf.consumeThreadNums;
    c->workers = xcalloc((size_t)c->n_workers, sizeof(pthread_t));
    for (int i = 0; i < c->n_workers; i++)
        pthread_create(&c->workers[i], NULL, worker_main, c);
    return petrel__inst_start(c->inst);
}

size_t petrel_push_consumer_assignment(petrel_push_consumer_t *c, petrel_mq_t *mqs, size_t max) {
    if (!c) return 0;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (pq_t *pq = c->pqs; pq; pq = pq->next) {
        if (n < max && mqs) mqs[n] = pq->mq;
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

void petrel_push_consumer_destroy(petrel_push_consumer_t *c) {
    if (!c) return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stopping = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        for (int i = 0; i < c->n_workers; i++)
            pthread_join(c->workers[i], NULL);
        petrel__inst_stop(c->inst);
        persist_offsets(c, 1);
        if (c->orderly && !broadcasting(c)) {
            pthread_mutex_lock(&c->mu);
            pq_t *pq = c->pqs;
            pthread_mutex_unlock(&c->mu);
            /* Oneway: the synchronous UNREGISTER_CLIENT below follows on the same connection,
             * so the broker has processed the unlocks when it answers. */
            for (; pq; pq = pq->next) {
                char addr[64];
                if (petrel__inst_broker_addr(c->inst, pq->mq.broker_name, addr, sizeof(addr)) == 0)
                    lock_batch(c, addr, &pq->mq, 1, 0, NULL, 0);
            }
        }
        petrel__inst_unregister(c->inst, NULL, c->conf.groupName);
    }
    petrel__inst_destroy(c->inst); /* fails pulls in flight: their callbacks release refs */
    pthread_mutex_lock(&c->mu);
    while (c->t_cnt) {
        task_t t = c->tasks[c->t_head];
        c->t_head = (c->t_head + 1) % c->t_cap;
        c->t_cnt--;
        petrel_msg_destroy(t.msg);
        pq_release_locked(t.pq);
    }
    while (c->pqs) {
        pq_t *pq = c->pqs;
        c->pqs = pq->next;
        pq->dropped = 1;
        pq_release_locked(pq);
    }
    pthread_mutex_unlock(&c->mu);
    free(c->tasks);
    free(c->workers);
    for (int i = 0; i < c->n_subs; i++)
        petrel__sub_free(&c->subs[i]);
    free(c->subs);
    petrel__offtab_free(&c->offtab);
    free(c->offpath);
    petrel__conf_free(&c->conf);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
