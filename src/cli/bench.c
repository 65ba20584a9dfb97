/*
 * bench: `petrel bench produce|consume|e2e|store`, a load generator for any
 * RocketMQ-compatible NameServer + broker.
 *
 * Producers send pre-encoded SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frames
 * (ROCKETMQ binary header, so the opaque and the born timestamp sit at fixed
 * offsets and are patched in place; nothing is allocated per message).
 * Latency goes into per-connection log-linear histograms written only by the
 * connection's I/O thread (bench_hist.h). Consumers long-poll PULL_MESSAGE and
 * measure end-to-end latency from a microsecond stamp at the start of each body
 * (or the born timestamp when bodies are too small for it).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/bench_hist.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/store.h" /* store_bench_main: the local storage benchmark */


#define BORN_SENTINEL "8888888888888"  /* 13 digits: ms timestamps until 2286 */
#define OPAQUE_SENTINEL 0x7EADBEEF
#define STAMP_MAGIC "PTRL"
#define STAMP_LEN 12                   /* "PTRL" + be64 wall-clock microseconds */
#define MAX_TARGETS 256

enum { M_SYNC, M_ASYNC, M_ONEWAY, M_BATCH };
static const char *mode_names[] = {"sync", "async", "oneway", "batch"};

typedef struct target_s {
    char addr[64];
    char broker[64];
    int qid;
} target_t;

/* One pre-encoded request. */
typedef struct tmpl_s {
    uint8_t *frame;
    size_t len;
    size_t opaque_pos;
    size_t born_pos;
    long stamp_pos;     /* -1: no body stamp */
    size_t stamp_stride;/* batch: distance between records */
    int stamps;
} tmpl_t;

typedef struct bconn_s {
    rm_client_t *cli;
    bench_hist_t hist; /* send -> ack, written by this client's I/O thread */
    bench_hist_t e2e;  /* consumers: born -> received */
    uint64_t ok, fail, sent, recv, recv_bytes;
    sem_t window;
    int idx;
} bconn_t;

typedef struct sender_s {
    pthread_t th;
    int idx;
    bconn_t *conn;
    tmpl_t *tmpl;       /* one per target */
    tmpl_t *ack_tmpl;   /* oneway mode: acked templates for flow control */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int64_t t0;
    unsigned rr; /* event-driven sync producers: next target */
} sender_t;

typedef struct pq_s {
    int target;
    int64_t offset;
    int64_t retry_at;
} pq_t;

typedef struct consumer_s {
    pthread_t th;
    bconn_t *conn;
    pq_t *queues;
    int nq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int *ready;         /* ring of queue indices ready to pull */
    int rhead, rtail, rcap;
} consumer_t;

static struct {
    adm_t adm;
    const char *topic, *group, *from;
    int size, conns, threads, inflight, mode, batch, queues, consumers, json, quiet;
    int64_t count, rate;
    double duration, warmup;
    int do_produce, do_consume;
    int sync_threads; /* sync mode: one OS thread per producer instead of ack-driven sends */
    target_t targets[MAX_TARGETS];
    int ntargets;
    bconn_t *pconns, *cconns;
    sender_t *senders;
    consumer_t *cons;
    int64_t start_ns;
    uint64_t issued;       /* messages claimed by senders (count bound) */
    volatile int stop_send, stop_all;
    int timeout_ms;
    int64_t lag[600]; /* e2e: producer-consumer lag at each second after the warm-up */
    int nlag;
} B;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- setup ------------------------------------------------------------- */

static int load_targets(void) {
    cJSON *route;
    int rc = adm_route(&B.adm, B.topic, &route);
    if (rc) return rc;
    cJSON *qd, *bds = cJSON_GetObjectItem(route, "brokerDatas");
    B.ntargets = 0;
    cJSON_ArrayForEach(qd, cJSON_GetObjectItem(route, "queueDatas")) {
        const char *bn = adm_json_str(qd, "brokerName", "");
        const char *addr = adm_master_addr(bds, bn);
        int perm = (int)adm_json_i64(qd, "perm", 6);
        int n = (int)adm_json_i64(qd, B.do_produce ? "writeQueueNums" : "readQueueNums", 0);
        if (!addr || !(perm & (B.do_produce ? 2 : 4))) continue;
        for (int q = 0; q < n && B.ntargets < MAX_TARGETS; q++) {
            target_t *t = &B.targets[B.ntargets++];
            snprintf(t->addr, sizeof t->addr, "%s", addr);
            snprintf(t->broker, sizeof t->broker, "%s", bn);
            t->qid = q;
        }
    }
    cJSON_Delete(route);
    if (!B.ntargets) {
        fprintf(stderr, "bench: topic %s has no %s queue on a master broker\n", B.topic,
                B.do_produce ? "writable" : "readable");
        return ADM_ENOTFOUND;
    }
    return 0;
}

/* Creates the topic (B.queues queues) on every master when the NameServer has no route. */
static int ensure_topic(void) {
    const char *ext[] = {"topic", B.topic, NULL};
    rm_response_t *r;
    int rc = adm_call_ns(&B.adm, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r);
    if (rc) return rc;
    int missing = r->cmd.code == TOPIC_NOT_EXIST;
    rm_response_free(r);
    if (!missing) return 0;
    cJSON *info;
    if ((rc = adm_cluster_info(&B.adm, &info))) return rc;
    char **addrs, **names;
    int n = adm_cluster_masters(info, NULL, &addrs, &names);
    cJSON_Delete(info);
    if (n == 0) {
        fprintf(stderr, "bench: no broker registered on the NameServer %s\n", B.adm.ns);
        return ADM_ENOTFOUND;
    }
    char qs[16];
    snprintf(qs, sizeof qs, "%d", B.queues);
    const char *cext[] = {"topic", B.topic, "defaultTopic", "TBW102", "readQueueNums", qs,
                          "writeQueueNums", qs, "perm", "6", "topicFilterType", "SINGLE_TAG",
                          "topicSysFlag", "0", "order", "false", NULL};
    for (int i = 0; i < n && !rc; i++) {
        rc = adm_call_ok(&B.adm, addrs[i], UPDATE_AND_CREATE_TOPIC, cext, NULL, 0, &r,
                         "create topic");
        if (!rc) rm_response_free(r);
    }
    adm_free_strv(addrs, n);
    adm_free_strv(names, n);
    if (rc) return rc;
    if (!B.json) fprintf(stderr, "bench: created topic %s with %d queues\n", B.topic, B.queues);
    /* the broker registers the new topic with the NameServer; wait for the route */
    int64_t deadline = mono_ms() + 15000;
    while (mono_ms() < deadline) {
        if (adm_call_ns(&B.adm, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r)) return ADM_EUNREACHABLE;
        int ok = r->cmd.code == SUCCESS;
        rm_response_free(r);
        if (ok) return 0;
        usleep(50 * 1000);
    }
    fprintf(stderr, "bench: topic %s created but no route appeared on the NameServer in 15 s\n",
            B.topic);
    return ADM_ENOTFOUND;
}

static size_t find(const uint8_t *hay, size_t n, const void *needle, size_t m, size_t from) {
    for (size_t i = from; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return i;
    return (size_t)-1;
}

/* Builds the template for one target: header with sentinels, body, offsets found. */
static int build_tmpl(tmpl_t *t, const target_t *tg, int mode, int oneway) {
    buf_t out, body;
    buf_init(&out);
    buf_init(&body);
    int batch = mode == M_BATCH;
    size_t rec_len = 0;
    uint8_t *payload = xmalloc((size_t)B.size + 1);
    for (int i = 0; i < B.size; i++) payload[i] = (uint8_t)('a' + i % 26);
    int stamp = B.size >= STAMP_LEN;
    if (stamp) {
        memcpy(payload, STAMP_MAGIC, 4);
        memset(payload + 4, 0, 8);
    }
    if (batch) {
        /* records: TOTALSIZE MAGIC(0) BODYCRC(0) FLAG BODYLEN BODY PROPLEN PROPS */
        for (int i = 0; i < B.batch; i++) {
            char props[96];
            int pl = snprintf(props, sizeof props, "WAIT\001true\002");
            rec_len = 22 + (size_t)B.size + (size_t)pl;
            buf_put_be32(&body, (uint32_t)rec_len);
            buf_put_be32(&body, 0);
            buf_put_be32(&body, 0);
            buf_put_be32(&body, 0);
            buf_put_be32(&body, (uint32_t)B.size);
            buf_append(&body, payload, (size_t)B.size);
            buf_put_be16(&body, (uint16_t)pl);
            buf_append(&body, props, (size_t)pl);
        }
    } else {
        buf_append(&body, payload, (size_t)B.size);
    }
    free(payload);
    char qid[16];
    snprintf(qid, sizeof qid, "%d", tg->qid);
    rm_enc_t e;
    rm_enc_begin(&e, &out, RM_SER_ROCKETMQ, batch ? SEND_BATCH_MESSAGE : SEND_MESSAGE_V2,
                 OPAQUE_SENTINEL, oneway ? RM_FLAG_ONEWAY : 0, NULL);
    rm_enc_ext(&e, "a", "PETREL_BENCH_PRODUCER");
    rm_enc_ext(&e, "b", B.topic);
    rm_enc_ext(&e, "c", "TBW102");
    rm_enc_ext(&e, "d", "8");
    rm_enc_ext(&e, "e", qid);
    rm_enc_ext(&e, "f", "0");
    rm_enc_ext(&e, "g", BORN_SENTINEL);
    rm_enc_ext(&e, "h", "0");
    rm_enc_ext(&e, "i", "WAIT\001true\002");
    rm_enc_ext(&e, "j", "0");
    rm_enc_ext(&e, "k", "false");
    rm_enc_ext(&e, "m", batch ? "true" : "false");
    rm_enc_body(&e, body.data, body.len);
    rm_enc_end(&e);
    buf_free(&body);
    uint8_t ob[4];
    be32_put(ob, OPAQUE_SENTINEL);
    t->len = out.len;
    t->frame = buf_steal(&out, &t->len);
    t->opaque_pos = find(t->frame, t->len, ob, 4, 8);
    t->born_pos = find(t->frame, t->len, BORN_SENTINEL, 13, 8);
    if (t->opaque_pos == (size_t)-1 || t->born_pos == (size_t)-1) {
        fprintf(stderr, "bench: cannot locate opaque/bornTimestamp in the encoded frame\n");
        return -1;
    }
    t->stamps = 0;
    t->stamp_pos = -1;
    if (stamp) {
        size_t body_start = t->len - (batch ? (size_t)B.batch * rec_len : (size_t)B.size);
        t->stamp_pos = (long)(body_start + (batch ? 20 : 0));
        t->stamp_stride = rec_len;
        t->stamps = batch ? B.batch : 1;
    }
    return 0;
}

static void patch(tmpl_t *t, int32_t opaque) {
    be32_put(t->frame + t->opaque_pos, (uint32_t)opaque);
    int64_t us = wall_us();
    uint64_t ms = (uint64_t)(us / 1000);
    for (int i = 12; i >= 0; i--, ms /= 10) t->frame[t->born_pos + i] = (uint8_t)('0' + ms % 10);
    for (int i = 0; i < t->stamps; i++)
        be64_put(t->frame + t->stamp_pos + 4 + (size_t)i * t->stamp_stride, (uint64_t)us);
}

/* ---- producing --------------------------------------------------------- */

static int per_request(void) { return B.mode == M_BATCH ? B.batch : 1; }

/* Claims the next request; 0 when the count bound or the clock says stop. */
static int claim(void) {
    if (B.stop_send || interrupted) return 0;
    if (B.count > 0) {
        uint64_t t = __atomic_fetch_add(&B.issued, (uint64_t)per_request(), __ATOMIC_RELAXED);
        if ((int64_t)t >= B.count) return 0;
    }
    if (B.rate > 0) {
        /* pace: request k may leave at start + k/rate */
        static uint64_t paced;
        uint64_t k = __atomic_fetch_add(&paced, (uint64_t)per_request(), __ATOMIC_RELAXED);
        int64_t due = B.start_ns + (int64_t)((double)k * 1e9 / (double)B.rate);
        int64_t now;
        while ((now = mono_ns()) < due && !B.stop_send) {
            int64_t d = due - now;
            struct timespec ts = {0, d > 1000000 ? 1000000 : d};
            nanosleep(&ts, NULL);
        }
    }
    return 1;
}

static void record_ack(bconn_t *c, int status, rm_cmd_t *resp, int64_t t0) {
    int n = per_request();
    if (status == 0 && resp && resp->code == SUCCESS) {
        bh_record(&c->hist, (uint64_t)(mono_ns() - t0));
        __atomic_fetch_add(&c->ok, (uint64_t)n, __ATOMIC_RELAXED);
    } else {
        /* a send that raced the end of the run, cut off when the client shuts down: not a failure */
        if (status == RM_ESHUTDOWN && B.stop_all) return;
        __atomic_fetch_add(&c->fail, (uint64_t)n, __ATOMIC_RELAXED);
        static int warned;
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            fprintf(stderr, "bench: send failed: %s\n",
                    status ? rm_strerror(status)
                           : (resp && resp->remark ? resp->remark : "error response"));
    }
}

static void sync_cb(int status, rm_cmd_t *resp, void *arg) {
    sender_t *s = arg;
    record_ack(s->conn, status, resp, s->t0);
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void async_cb(int status, rm_cmd_t *resp, void *arg) {
    uintptr_t a = (uintptr_t)arg;
    bconn_t *c = &B.pconns[a >> 48];
    record_ack(c, status, resp, B.start_ns + (int64_t)(a & ((1ull << 48) - 1)));
    sem_post(&c->window);
}

/*
 * Sync producers without threads (the default, like redis-benchmark -c N -P 1):
 * producer s has one send in flight and issues its next one from the ack
 * callback, on its connection's I/O thread. The load is the same as N threads
 * each blocked in a sync send, without N thread wake-ups per round on the
 * machine the broker shares.
 */
static void chain_cb(int status, rm_cmd_t *resp, void *arg);

static void chain_next(sender_t *s) {
    while (claim()) {
        int ti = (int)(s->rr++ % (unsigned)B.ntargets);
        tmpl_t *t = &s->tmpl[ti];
        bconn_t *c = s->conn;
        int32_t op = rm_client_next_opaque(c->cli);
        patch(t, op);
        s->t0 = mono_ns();
        __atomic_fetch_add(&c->sent, 1, __ATOMIC_RELAXED);
        int rc = rm_client_send_frame(c->cli, B.targets[ti].addr, t->frame, t->len, op,
                                      B.timeout_ms, chain_cb, s);
        if (rc != 0) record_ack(c, rc, NULL, s->t0); /* client shut down: this producer stops */
        return;
    }
}

static void chain_cb(int status, rm_cmd_t *resp, void *arg) {
    sender_t *s = arg;
    record_ack(s->conn, status, resp, s->t0);
    if (status != 0) usleep(100 * 1000); /* transport error: do not spin on a dead broker */
    chain_next(s);
}

static int send_sync(sender_t *s, tmpl_t *t, const target_t *tg) {
    bconn_t *c = s->conn;
    int32_t op = rm_client_next_opaque(c->cli);
    patch(t, op);
    s->done = 0;
    s->t0 = mono_ns();
    __atomic_fetch_add(&c->sent, (uint64_t)per_request(), __ATOMIC_RELAXED);
    int rc = rm_client_send_frame(c->cli, tg->addr, t->frame, t->len, op, B.timeout_ms, sync_cb, s);
    if (rc) {
        record_ack(c, rc, NULL, s->t0);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->done) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void *sender_main(void *arg) {
    thread_name("bench-send");
    sender_t *s = arg;
    bconn_t *c = s->conn;
    unsigned rr = (unsigned)s->idx;
    uint64_t n = 0;
    while (claim()) {
        int ti = (int)(rr++ % (unsigned)B.ntargets);
        tmpl_t *t = &s->tmpl[ti];
        const target_t *tg = &B.targets[ti];
        if (B.mode == M_SYNC) {
            if (send_sync(s, t, tg) == RM_ECONNECT) usleep(100 * 1000);
            continue;
        }
        if (B.mode == M_ONEWAY) {
            /* every `inflight` oneway sends, one acked send keeps the queues bounded */
            if (++n % (uint64_t)B.inflight == 0) {
                send_sync(s, &s->ack_tmpl[ti], tg);
                continue;
            }
            int32_t op = rm_client_next_opaque(c->cli);
            patch(t, op);
            __atomic_fetch_add(&c->sent, 1, __ATOMIC_RELAXED);
            if (rm_client_send_frame(c->cli, tg->addr, t->frame, t->len, op, 0, NULL, NULL))
                __atomic_fetch_add(&c->fail, 1, __ATOMIC_RELAXED);
            else
                __atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
            continue;
        }
        /* async / batch: a window of `inflight` requests per connection */
        struct timespec ts;
        for (;;) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (sem_timedwait(&c->window, &ts) == 0) break;
            if (B.stop_all || interrupted) return NULL;
        }
        int32_t op = rm_client_next_opaque(c->cli);
        patch(t, op);
        int64_t t0 = mono_ns();
        uintptr_t a = ((uintptr_t)c->idx << 48) | (uintptr_t)((t0 - B.start_ns) & ((1ll << 48) - 1));
        __atomic_fetch_add(&c->sent, (uint64_t)per_request(), __ATOMIC_RELAXED);
        int rc = rm_client_send_frame(c->cli, tg->addr, t->frame, t->len, op, B.timeout_ms,
                                      async_cb, (void *)a);
        if (rc) {
            record_ack(c, rc, NULL, t0);
            sem_post(&c->window);
            if (rc == RM_ECONNECT) usleep(100 * 1000);
        }
    }
    return NULL;
}

/* ---- consuming --------------------------------------------------------- */

static void cons_push(consumer_t *k, int qi) {
    pthread_mutex_lock(&k->mu);
    k->ready[k->rtail++ % k->rcap] = qi;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

typedef struct pull_arg_s {
    consumer_t *k;
    int qi;
} pull_arg_t;

static int issue_pull(consumer_t *k, int qi, pull_arg_t *pa);

static void pull_cb(int status, rm_cmd_t *resp, void *arg) {
    pull_arg_t *pa = arg;
    consumer_t *k = pa->k;
    pq_t *q = &k->queues[pa->qi];
    bconn_t *c = k->conn;
    if (status == 0 && resp) {
        const char *nb = rm_ext_get(resp, "nextBeginOffset");
        if (resp->code == SUCCESS) {
            int64_t now_us = wall_us(), now_ms_ = now_us / 1000;
            size_t o = 0;
            adm_msg_t m;
            int sz;
            uint64_t cnt = 0, bytes = 0;
            while (o < resp->body_len &&
                   (sz = adm_msg_decode(resp->body + o, resp->body_len - o, &m)) > 0) {
                o += (size_t)sz;
                cnt++;
                bytes += m.body_len;
                int64_t lat_ns;
                if (m.body_len >= STAMP_LEN && memcmp(m.body, STAMP_MAGIC, 4) == 0)
                    lat_ns = (now_us - (int64_t)be64_get(m.body + 4)) * 1000;
                else
                    lat_ns = (now_ms_ - m.born_ts) * 1000000;
                bh_record(&c->e2e, (uint64_t)(lat_ns > 0 ? lat_ns : 0));
            }
            __atomic_fetch_add(&c->recv, cnt, __ATOMIC_RELAXED);
            __atomic_fetch_add(&c->recv_bytes, bytes, __ATOMIC_RELAXED);
        }
        if (nb) q->offset = atoll(nb);
        if (resp->code != SUCCESS && resp->code != PULL_NOT_FOUND &&
            resp->code != PULL_RETRY_IMMEDIATELY && resp->code != PULL_OFFSET_MOVED)
            q->retry_at = mono_ms() + 200;
    } else {
        q->retry_at = mono_ms() + 200;
    }
    /* the next pull leaves from here, as a client's pull service does: no thread hop */
    if (!B.stop_all && !interrupted && q->retry_at <= mono_ms() && issue_pull(k, pa->qi, pa) == 0)
        return;
    cons_push(k, pa->qi);
}

static int issue_pull(consumer_t *k, int qi, pull_arg_t *pa) {
    pq_t *q = &k->queues[qi];
    const target_t *tg = &B.targets[q->target];
    char qs[16], os[32];
    snprintf(qs, sizeof qs, "%d", tg->qid);
    snprintf(os, sizeof os, "%" PRId64, q->offset);
    const char *ext[] = {"consumerGroup", B.group, "topic", B.topic, "queueId", qs,
                         "queueOffset", os, "maxMsgNums", "32", "sysFlag", "6",
                         "commitOffset", "0", "suspendTimeoutMillis", "1000",
                         "subscription", "*", "subVersion", "0", "expressionType", "TAG",
                         NULL};
    rm_request_t req = {.code = PULL_MESSAGE, .ext = ext};
    if (rm_client_invoke_async(k->conn->cli, tg->addr, &req, 5000, pull_cb, pa) == 0) return 0;
    q->retry_at = mono_ms() + 200;
    return -1;
}

static void *consumer_main(void *arg) {
    thread_name("bench-pull");
    consumer_t *k = arg;
    pull_arg_t *args = xcalloc((size_t)k->nq, sizeof *args);
    for (int i = 0; i < k->nq; i++) {
        args[i].k = k;
        args[i].qi = i;
        cons_push(k, i);
    }
    int outstanding = k->nq;
    while (outstanding > 0) {
        pthread_mutex_lock(&k->mu);
        while (k->rhead == k->rtail) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        }
        int qi = k->ready[k->rhead++ % k->rcap];
        pthread_mutex_unlock(&k->mu);
        if (B.stop_all || interrupted) {
            outstanding--;
            continue;
        }
        pq_t *q = &k->queues[qi];
        int64_t wait = q->retry_at - mono_ms();
        if (wait > 0) usleep((useconds_t)wait * 1000);
        if (issue_pull(k, qi, &args[qi])) cons_push(k, qi);
    }
    free(args);
    return NULL;
}

static int64_t queue_offset(const target_t *tg, int code) {
    char qs[16];
    snprintf(qs, sizeof qs, "%d", tg->qid);
    const char *ext[] = {"topic", B.topic, "queueId", qs, NULL};
    rm_response_t *r;
    if (adm_call_ok(&B.adm, tg->addr, code, ext, NULL, 0, &r, "offset")) return -1;
    const char *v = rm_ext_get(&r->cmd, "offset");
    int64_t off = v ? atoll(v) : 0;
    rm_response_free(r);
    return off;
}

/* ---- reporting --------------------------------------------------------- */

typedef struct snap_s {
    uint64_t ok, fail, recv, recv_bytes;
    bench_hist_t hist, e2e;
} snap_t;

static void take(snap_t *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; B.pconns && i < B.conns; i++) {
        bconn_t *c = &B.pconns[i];
        s->ok += __atomic_load_n(&c->ok, __ATOMIC_RELAXED);
        s->fail += __atomic_load_n(&c->fail, __ATOMIC_RELAXED);
        bh_add(&s->hist, &c->hist);
    }
    for (int i = 0; B.cconns && i < B.consumers; i++) {
        bconn_t *c = &B.cconns[i];
        s->recv += __atomic_load_n(&c->recv, __ATOMIC_RELAXED);
        s->recv_bytes += __atomic_load_n(&c->recv_bytes, __ATOMIC_RELAXED);
        bh_add(&s->e2e, &c->e2e);
    }
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void lat_line(FILE *f, const char *what, const bench_hist_t *h) {
    fprintf(f, " %s avg=%.3f p50=%.3f p99=%.3f p999=%.3f max=%.3f ms", what,
            h->n ? ms(h->sum_ns) / (double)h->n : 0.0, ms(bh_quantile(h, 0.5)),
            ms(bh_quantile(h, 0.99)), ms(bh_quantile(h, 0.999)), ms(h->max_ns));
}

static void report_second(int sec, const snap_t *cur, const snap_t *prev, double dt) {
    FILE *f = B.json ? stderr : stdout;
    static bench_hist_t iv;
    fprintf(f, "[%4ds]", sec);
    if (B.do_produce) {
        double tps = (double)(cur->ok - prev->ok) / dt;
        bh_sub(&iv, &cur->hist, &prev->hist);
        fprintf(f, " send %.0f msg/s %.1f MB/s", tps, tps * B.size / 1e6);
        if (B.mode != M_ONEWAY) lat_line(f, "lat", &iv);
        fprintf(f, " fail=%" PRIu64, cur->fail - prev->fail);
    }
    if (B.do_consume) {
        double tps = (double)(cur->recv - prev->recv) / dt;
        bh_sub(&iv, &cur->e2e, &prev->e2e);
        fprintf(f, " | recv %.0f msg/s %.1f MB/s", tps,
                (double)(cur->recv_bytes - prev->recv_bytes) / dt / 1e6);
        lat_line(f, "e2e", &iv);
        if (B.do_produce) fprintf(f, " lag=%" PRId64, (int64_t)cur->ok - (int64_t)cur->recv);
    }
    fputc('\n', f);
    fflush(f);
}

static cJSON *lat_json(const bench_hist_t *h) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "avg", h->n ? ms(h->sum_ns) / (double)h->n : 0.0);
    cJSON_AddNumberToObject(o, "p50", ms(bh_quantile(h, 0.5)));
    cJSON_AddNumberToObject(o, "p99", ms(bh_quantile(h, 0.99)));
    cJSON_AddNumberToObject(o, "p999", ms(bh_quantile(h, 0.999)));
    cJSON_AddNumberToObject(o, "max", ms(h->max_ns));
    return o;
}

static void summary(const char *what, const snap_t *s, const snap_t *all, double send_secs,
                    double recv_secs) {
    if (B.json) {
        cJSON *o = cJSON_CreateObject();
        /* with the warm-up: per-message costs measured from outside (CPU time) divide by these */
        cJSON_AddNumberToObject(o, "countAll", (double)(B.do_produce ? all->ok : all->recv));
        if (B.do_produce && B.do_consume) cJSON_AddNumberToObject(o, "receivedAll", (double)all->recv);
        cJSON_AddStringToObject(o, "bench", what);
        cJSON_AddStringToObject(o, "topic", B.topic);
        cJSON_AddNumberToObject(o, "size", B.size);
        if (B.do_produce) {
            cJSON_AddStringToObject(o, "mode", mode_names[B.mode]);
            cJSON_AddNumberToObject(o, "connections", B.conns);
            cJSON_AddNumberToObject(o, "threads", B.mode == M_SYNC ? B.threads : B.conns);
            cJSON_AddNumberToObject(o, "inflight", B.mode == M_SYNC ? 1 : B.inflight);
            if (B.mode == M_BATCH) cJSON_AddNumberToObject(o, "batch", B.batch);
            cJSON_AddNumberToObject(o, "count", (double)s->ok);
            cJSON_AddNumberToObject(o, "failures", (double)s->fail);
            cJSON_AddNumberToObject(o, "seconds", send_secs);
            cJSON_AddNumberToObject(o, "tps", send_secs > 0 ? (double)s->ok / send_secs : 0);
            cJSON_AddNumberToObject(o, "mbps",
                                    send_secs > 0 ? (double)s->ok * B.size / send_secs / 1e6 : 0);
            if (B.mode != M_ONEWAY) cJSON_AddItemToObject(o, "latencyMs", lat_json(&s->hist));
        }
        if (B.do_consume) {
            cJSON_AddNumberToObject(o, "received", (double)s->recv);
            cJSON_AddNumberToObject(o, "recvSeconds", recv_secs);
            cJSON_AddNumberToObject(o, "recvTps",
                                    recv_secs > 0 ? (double)s->recv / recv_secs : 0);
            cJSON_AddNumberToObject(o, "recvMbps",
                                    recv_secs > 0 ? (double)s->recv_bytes / recv_secs / 1e6 : 0);
            cJSON_AddItemToObject(o, "e2eMs", lat_json(&s->e2e));
            if (!B.do_produce) cJSON_AddNumberToObject(o, "count", (double)s->recv);
            else {
                cJSON_AddNumberToObject(o, "lag", (double)((int64_t)s->ok - (int64_t)s->recv));
                /* lag at every second of the measured run: growth = a consumer falling behind */
                cJSON *a = cJSON_AddArrayToObject(o, "lagPerSecond");
                int64_t mx = 0;
                for (int i = 0; i < B.nlag; i++) {
                    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)B.lag[i]));
                    if (B.lag[i] > mx) mx = B.lag[i];
                }
                cJSON_AddNumberToObject(o, "lagMax", (double)mx);
            }
        }
        char *t = cJSON_PrintUnformatted(o);
        puts(t);
        free(t);
        cJSON_Delete(o);
        return;
    }
    printf("\n== summary: %s topic=%s size=%d\n", what, B.topic, B.size);
    if (B.do_produce) {
        printf("send:  mode=%s connections=%d threads=%d inflight=%d%s\n", mode_names[B.mode],
               B.conns, B.mode == M_SYNC ? B.threads : B.conns,
               B.mode == M_SYNC ? 1 : B.inflight, B.mode == M_BATCH ? " (batch)" : "");
        printf("       %" PRIu64 " ok, %" PRIu64 " failed in %.2f s: %.0f msg/s, %.1f MB/s\n",
               s->ok, s->fail, send_secs, send_secs > 0 ? (double)s->ok / send_secs : 0,
               send_secs > 0 ? (double)s->ok * B.size / send_secs / 1e6 : 0);
        if (B.mode != M_ONEWAY) {
            printf("      ");
            lat_line(stdout, "send-ack", &s->hist);
            printf("\n");
        }
    }
    if (B.do_consume) {
        printf("recv:  %" PRIu64 " messages in %.2f s: %.0f msg/s, %.1f MB/s\n", s->recv,
               recv_secs, recv_secs > 0 ? (double)s->recv / recv_secs : 0,
               recv_secs > 0 ? (double)s->recv_bytes / recv_secs / 1e6 : 0);
        printf("      ");
        lat_line(stdout, "end-to-end", &s->e2e);
        printf("\n");
    }
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: petrel bench produce|consume|e2e [options] [--json]\n"
            "       petrel bench store [store options]   (local storage benchmark)\n\n"
            "  -n <addr>        NameServer (default $NAMESRV_ADDR or 127.0.0.1:9876)\n"
            "  -t <topic>       topic, created with -q queues if absent (BenchTopic)\n"
            "  -q <n>           queues when creating the topic (8)\n"
            "  -s <bytes>       message size (100)\n"
            "  -c <n>           producer connections (4)\n"
            "  -w <n>           sync mode: producers, one send in flight each (64); each\n"
            "                   sends its next message from its ack (no thread per producer)\n"
            "  --threads        sync mode: one OS thread per producer, blocked in each send\n"
            "  --inflight <n>   async/batch: requests in flight per connection (256);\n"
            "                   oneway: an acked send every n sends\n"
            "  --mode <m>       sync | async | oneway | batch (async)\n"
            "  --batch <n>      messages per batch request (32)\n"
            "  --rate <n>       limit to n msgs/s (0 = unlimited)\n"
            "  -d <seconds>     duration (10 unless -N)\n"
            "  --warmup <s>     run s seconds first and leave them out of the figures\n"
            "                   (first sends create consume queue files, routes, etc.)\n"
            "  -N <count>       stop after count messages (batch: whole batches)\n"
            "  -g <group>       consumer group (BenchConsumer)\n"
            "  --consumers <n>  consumer connections (1)\n"
            "  --from <where>   consume: min | max (min)\n"
            "  --timeout <ms>   request timeout (5000)\n"
            "  --quiet          no per-second lines\n"
            "  --json           one JSON summary line on stdout (per-second lines on stderr)\n"
            "Exit: 0 ok, 1 failures during the run, 2 usage, 3 unreachable, 4 not found.\n");
}

static int bench_store(int argc, char **argv) { return store_bench_main(argc, argv); }

int bench_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ADM_EUSAGE : 0;
    }
    const char *what = argv[1];
    if (!strcmp(what, "store")) return bench_store(argc - 1, argv + 1);
    memset(&B, 0, sizeof B);
    if (!strcmp(what, "produce")) B.do_produce = 1;
    else if (!strcmp(what, "consume")) B.do_consume = 1;
    else if (!strcmp(what, "e2e")) B.do_produce = B.do_consume = 1;
    else {
        fprintf(stderr, "petrel bench: unknown mode '%s' (produce, consume, e2e, store)\n", what);
        return ADM_EUSAGE;
    }
    B.topic = "BenchTopic";
    B.group = "BenchConsumer";
    B.from = "min";
    B.size = 100;
    B.conns = 4;
    B.threads = 64;
    B.inflight = 256;
    B.mode = M_ASYNC;
    B.batch = 32;
    B.queues = 8;
    B.consumers = 1;
    B.timeout_ms = 5000;
    B.adm.ns = getenv("NAMESRV_ADDR");
    B.adm.timeout_ms = ADM_TIMEOUT_MS;
    B.adm.sub = "bench";
    static const struct option longs[] = {
        {"inflight", required_argument, NULL, 1001}, {"mode", required_argument, NULL, 1002},
        {"batch", required_argument, NULL, 1003},    {"rate", required_argument, NULL, 1004},
        {"json", no_argument, NULL, 1005},           {"consumers", required_argument, NULL, 1006},
        {"from", required_argument, NULL, 1007},     {"timeout", required_argument, NULL, 1008},
        {"quiet", no_argument, NULL, 1009},          {"warmup", required_argument, NULL, 1010},
        {"threads", no_argument, NULL, 1011},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    int c;
    char **av = argv + 1;
    int ac = argc - 1;
    while ((c = getopt_long(ac, av, "+n:t:q:s:c:w:d:N:g:h", longs, NULL)) != -1) {
        switch (c) {
        case 'n': B.adm.ns = optarg; break;
        case 't': B.topic = optarg; break;
        case 'q': B.queues = atoi(optarg); break;
        case 's': B.size = atoi(optarg); break;
        case 'c': B.conns = atoi(optarg); break;
        case 'w': B.threads = atoi(optarg); break;
        case 'd': B.duration = atof(optarg); break;
        case 'N': B.count = atoll(optarg); break;
        case 'g': B.group = optarg; break;
        case 1001: B.inflight = atoi(optarg); break;
        case 1002:
            B.mode = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(optarg, mode_names[i])) B.mode = i;
            if (B.mode < 0) {
                fprintf(stderr, "petrel bench: --mode must be sync, async, oneway or batch\n");
                return ADM_EUSAGE;
            }
            break;
        case 1003: B.batch = atoi(optarg); break;
        case 1004: B.rate = atoll(optarg); break;
        case 1005: B.json = 1; break;
        case 1006: B.consumers = atoi(optarg); break;
        case 1007: B.from = optarg; break;
        case 1008: B.timeout_ms = atoi(optarg); break;
        case 1009: B.quiet = 1; break;
        case 1010: B.warmup = atof(optarg); break;
        case 1011: B.sync_threads = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "petrel bench: bad option %s\n", av[optind - 1]);
            usage(stderr);
            return ADM_EUSAGE;
        }
    }
    if (optind < ac) {
        fprintf(stderr, "petrel bench: unexpected argument '%s'\n", av[optind]);
        return ADM_EUSAGE;
    }
    if (B.size < 1 || B.conns < 1 || B.conns > 4096 || B.threads < 1 || B.inflight < 1 ||
        B.batch < 1 || B.queues < 1 || B.consumers < 1 || B.count < 0 || B.duration < 0 || B.warmup < 0 ||
        B.size > 4 * 1024 * 1024) {
        fprintf(stderr, "petrel bench: sizes and counts must be positive\n");
        return ADM_EUSAGE;
    }
    if (B.mode == M_BATCH && (int64_t)B.batch * (B.size + 40) > 4 * 1024 * 1024) {
        fprintf(stderr, "petrel bench: a batch (--batch x -s) must stay under the 4 MiB message limit\n");
        return ADM_EUSAGE;
    }
    if (B.duration == 0 && B.count == 0) B.duration = 10;
    if (!B.adm.ns || !*B.adm.ns) B.adm.ns = ADM_DEFAULT_NS;
    if (B.json) B.adm.json = 1;

    if (!getenv("PETREL_LOG")) log_set_level(LOG_ERROR);
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    rm_client_opts_t co = {.connect_timeout_ms = 3000, .language = LANG_JAVA};
    B.adm.cli = rm_client_create(&co);
    int rc = B.do_produce ? ensure_topic() : 0;
    if (!rc) rc = load_targets();
    if (rc) {
        rm_client_destroy(B.adm.cli);
        return rc;
    }
    int nthreads = B.mode == M_SYNC ? B.threads : B.conns;
    int chained = B.mode == M_SYNC && !B.sync_threads && B.rate == 0;
    if (B.do_produce) {
        B.pconns = xcalloc((size_t)B.conns, sizeof(bconn_t));
        for (int i = 0; i < B.conns; i++) {
            B.pconns[i].cli = rm_client_create(&co);
            B.pconns[i].idx = i;
            sem_init(&B.pconns[i].window, 0, (unsigned)B.inflight);
        }
        B.senders = xcalloc((size_t)nthreads, sizeof(sender_t));
        for (int i = 0; i < nthreads; i++) {
            sender_t *s = &B.senders[i];
            s->idx = i;
            s->conn = &B.pconns[i % B.conns];
            pthread_mutex_init(&s->mu, NULL);
            pthread_cond_init(&s->cv, NULL);
            s->tmpl = xcalloc((size_t)B.ntargets, sizeof(tmpl_t));
            if (B.mode == M_ONEWAY) s->ack_tmpl = xcalloc((size_t)B.ntargets, sizeof(tmpl_t));
            for (int t = 0; t < B.ntargets && !rc; t++) {
                if (build_tmpl(&s->tmpl[t], &B.targets[t], B.mode, B.mode == M_ONEWAY)) rc = 5;
                if (B.mode == M_ONEWAY && build_tmpl(&s->ack_tmpl[t], &B.targets[t], M_ASYNC, 0))
                    rc = 5;
            }
        }
    }
    if (!rc && B.do_consume) {
        B.cconns = xcalloc((size_t)B.consumers, sizeof(bconn_t));
        B.cons = xcalloc((size_t)B.consumers, sizeof(consumer_t));
        int from_max = B.do_produce || !strcmp(B.from, "max");
        for (int i = 0; i < B.consumers; i++) {
            B.cconns[i].cli = rm_client_create(&co);
            consumer_t *k = &B.cons[i];
            k->conn = &B.cconns[i];
            k->queues = xcalloc((size_t)B.ntargets, sizeof(pq_t));
            k->rcap = B.ntargets * 2 + 2;
            k->ready = xcalloc((size_t)k->rcap, sizeof(int));
            pthread_mutex_init(&k->mu, NULL);
            pthread_cond_init(&k->cv, NULL);
        }
        for (int t = 0; t < B.ntargets; t++) {
            consumer_t *k = &B.cons[t % B.consumers];
            int64_t off = queue_offset(&B.targets[t], from_max ? GET_MAX_OFFSET : GET_MIN_OFFSET);
            if (off < 0) {
                rc = ADM_EUNREACHABLE;
                break;
            }
            k->queues[k->nq].target = t;
            k->queues[k->nq].offset = off;
            k->nq++;
        }
        if (!rc && B.count == 0 && !B.do_produce && !B.quiet && !B.json)
            fprintf(stderr, "bench: consuming for %.0f s\n", B.duration);
    }
    if (rc) {
        rm_client_destroy(B.adm.cli);
        return rc;
    }

    B.start_ns = mono_ns();
    if (B.do_consume)
        for (int i = 0; i < B.consumers; i++)
            if (B.cons[i].nq) pthread_create(&B.cons[i].th, NULL, consumer_main, &B.cons[i]);
    for (int i = 0; B.do_produce && i < nthreads; i++) {
        if (chained)
            chain_next(&B.senders[i]);
        else
            pthread_create(&B.senders[i].th, NULL, sender_main, &B.senders[i]);
    }

    snap_t prev, cur;
    memset(&prev, 0, sizeof prev);
    int64_t warm_ns = B.start_ns + (int64_t)(B.warmup * 1e9);
    int64_t end_ns = B.duration > 0 ? warm_ns + (int64_t)(B.duration * 1e9) : INT64_MAX;
    snap_t base; /* the figures count from the end of the warm-up */
    memset(&base, 0, sizeof base);
    int warm = B.warmup <= 0;
    int64_t last = B.start_ns, send_end = 0, recv_end = 0, recv_first = 0;
    int sec = 0;
    int64_t grace_end = INT64_MAX;
    /* a run that makes no progress for idle_ns ends: every run is bounded */
    int64_t idle_ns = (int64_t)(B.timeout_ms * 2 + 10000) * 1000000, progress_at = B.start_ns;
    uint64_t progress = 0;
    for (;;) {
        int64_t next = last + 1000000000LL;
        while (mono_ns() < next) {
            usleep(10 * 1000);
            take(&cur);
            int64_t now = mono_ns();
            if (!warm && now >= warm_ns) {
                warm = 1;
                base = cur;
                warm_ns = now;
            }
            uint64_t sent = 0;
            for (int i = 0; B.pconns && i < B.conns; i++)
                sent += __atomic_load_n(&B.pconns[i].sent, __ATOMIC_RELAXED);
            int send_done = !B.do_produce ||
                            (B.stop_send && cur.ok + cur.fail >= sent) ||
                            (B.count > 0 && (int64_t)(cur.ok + cur.fail) >= B.count);
            if (B.do_produce && !send_end && send_done) send_end = now;
            if (B.do_consume && !recv_first && cur.recv) recv_first = now;
            int recv_done = !B.do_consume ||
                            (B.count > 0 && (int64_t)cur.recv >= B.count) ||
                            (B.do_produce && send_end && cur.recv >= cur.ok);
            if (B.do_consume && recv_done && !recv_end) recv_end = now;
            if (now >= end_ns && !B.stop_send) {
                B.stop_send = 1;
                grace_end = now + (int64_t)(B.timeout_ms + 2000) * 1000000;
            }
            if (interrupted && !B.stop_send) {
                B.stop_send = 1;
                grace_end = now + 2000000000LL;
            }
            if (cur.ok + cur.fail + cur.recv != progress) {
                progress = cur.ok + cur.fail + cur.recv;
                progress_at = now;
            }
            if (now - progress_at > idle_ns) {
                fprintf(stderr, "bench: no progress for %d s, stopping\n", (int)(idle_ns / 1000000000));
                goto finished;
            }
            if ((send_done && recv_done) || now >= grace_end) goto finished;
            if (B.do_consume && !B.do_produce && now >= end_ns) goto finished;
        }
        take(&cur);
        sec++;
        if (B.do_produce && B.do_consume && warm && !B.stop_send &&
            B.nlag < (int)(sizeof B.lag / sizeof B.lag[0]))
            B.lag[B.nlag++] = cur.ok > cur.recv ? (int64_t)(cur.ok - cur.recv) : 0;
        if (!B.quiet) report_second(sec, &cur, &prev, (double)(mono_ns() - last) / 1e9);
        prev = cur;
        last = next;
    }
finished:
    B.stop_send = 1;
    B.stop_all = 1;
    int64_t fin = mono_ns();
    if (!send_end) send_end = fin;
    if (!recv_end) recv_end = fin;
    for (int i = 0; B.senders && !chained && i < nthreads; i++) pthread_join(B.senders[i].th, NULL);
    take(&cur);
    int64_t from_ns = B.start_ns;
    snap_t all = cur; /* the whole run, warm-up included: for the exit status */
    if (B.warmup > 0 && warm) {
        cur.ok = all.ok - base.ok;
        cur.fail = all.fail - base.fail;
        cur.recv = all.recv - base.recv;
        cur.recv_bytes = all.recv_bytes - base.recv_bytes;
        bh_sub(&cur.hist, &all.hist, &base.hist);
        bh_sub(&cur.e2e, &all.e2e, &base.e2e);
        from_ns = warm_ns;
    }
    double send_secs = (double)(send_end - from_ns) / 1e9;
    double recv_secs = (double)(recv_end - from_ns) / 1e9;
    summary(what, &cur, &all, send_secs, recv_secs);
    fflush(stdout);
    /* consumers end once their outstanding long polls (<= 1 s + timeout) come back */
    for (int i = 0; B.cons && i < B.consumers; i++)
        if (B.cons[i].nq) pthread_join(B.cons[i].th, NULL);
    for (int i = 0; B.pconns && i < B.conns; i++) rm_client_destroy(B.pconns[i].cli);
    for (int i = 0; B.cconns && i < B.consumers; i++) rm_client_destroy(B.cconns[i].cli);
    int failed = all.fail > 0 || (B.count > 0 && B.do_produce && (int64_t)all.ok < B.count) ||
                 (B.count > 0 && B.do_consume && (int64_t)all.recv < B.count);
    for (int i = 0; B.senders && i < nthreads; i++) {
        for (int t = 0; t < B.ntargets; t++) {
            free(B.senders[i].tmpl[t].frame);
            if (B.senders[i].ack_tmpl) free(B.senders[i].ack_tmpl[t].frame);
        }
        free(B.senders[i].tmpl);
        free(B.senders[i].ack_tmpl);
    }
    for (int i = 0; B.cons && i < B.consumers; i++) {
        free(B.cons[i].queues);
        free(B.cons[i].ready);
    }
    free(B.senders);
    free(B.cons);
    free(B.pconns);
    free(B.cconns);
    rm_client_destroy(B.adm.cli);
    return failed ? ADM_ESERVER : 0;
}
