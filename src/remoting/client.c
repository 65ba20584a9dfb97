/*
 * client: the remoting client. One I/O thread runs a libuv loop; callers on
 * any thread encode their request, hand it over through a mutex-protected
 * queue plus uv_async, and wait on a condition variable (sync) or get a
 * callback on the I/O thread (async). One connection per address, opened
 * lazily (with a connect timeout) and reopened by the next call after it
 * closed. Outstanding requests live in a hash by opaque and a min-heap by
 * deadline; one timer armed for the earliest deadline fails them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "remoting/rm_internal.h"

#define ADDR_MAX 64
#define READ_CHUNK 65536

typedef struct cconn_s cconn_t;

typedef struct pend_s {
    int32_t opaque;
    uint64_t deadline;          /* mono_ms */
    rm_response_cb cb;
    void *arg;
    cconn_t *conn;
    struct pend_s *hnext;       /* hash chain */
    struct pend_s *cprev, *cnext; /* the connection's list */
    uint32_t heap_idx;
} pend_t;

enum { OP_SEND, OP_CLOSE_ADDR };

typedef struct op_s {
    struct op_s *next;
    int kind;
    char addr[ADDR_MAX];
    uint8_t *frame;             /* owned */
    size_t len;
    int32_t opaque;
    uint64_t deadline;
    rm_response_cb cb;          /* NULL: no response expected */
    void *arg;
} op_t;

enum { CC_CONNECTING, CC_CONNECTED, CC_CLOSING };

struct cconn_s {
    uv_tcp_t tcp;               /* tcp.data = this */
    uv_connect_t creq;
    uv_timer_t ctimer;          /* connect timeout */
    rm_client_t *cli;
    char addr[ADDR_MAX];
    int state;                  /* CC_* */
    int open_handles;           /* freed when 0 */
    buf_t out;                  /* frames not yet handed to uv_write */
    int queued;                 /* in the client's flush list */
    cconn_t *flush_next;
    buf_t in;                   /* received bytes */
    buf_t scratch;              /* decoder scratch */
    pend_t *pend;               /* requests waiting on this connection */
    cconn_t *prev, *next;       /* the client's live connections */
};

typedef struct cwrite_s {
    uv_write_t req;
    buf_t data;
} cwrite_t;

struct rm_client_s {
    rm_client_opts_t opts;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t async;
    uv_timer_t timer;           /* earliest deadline */
    pthread_mutex_t mu;
    op_t *q_head, *q_tail;      /* guarded by mu */
    int stopping;               /* guarded by mu */
    int stopped;                /* I/O thread: shutdown done */
    _Atomic int32_t next_opaque;
    cconn_t *conns;
    cconn_t *flushq;
    pend_t **hash;
    uint32_t hmask;
    uint32_t npend;
    pend_t **heap;
    uint32_t heapcap;
};

/* ---- pending table ------------------------------------------------------ */

static inline uint32_t hslot(rm_client_t *c, int32_t opaque) {
    return ((uint32_t)opaque * 2654435761u) & c->hmask;
}

static void hash_grow(rm_client_t *c) {
    uint32_t n = (c->hmask + 1) * 2;
    pend_t **h = xcalloc(n, sizeof(*h));
    uint32_t old = c->hmask + 1;
    c->hmask = n - 1;
    for (uint32_t i = 0; i < old; i++) {
        pend_t *p = c->hash[i], *next;
        for (; p; p = next) {
            next = p->hnext;
            uint32_t s = hslot(c, p->opaque);
            p->hnext = h[s];
            h[s] = p;
        }
    }
    free(c->hash);
    c->hash = h;
}

static void heap_swap(rm_client_t *c, uint32_t a, uint32_t b) {
    pend_t *t = c->heap[a];
    c->heap[a] = c->heap[b];
    c->heap[b] = t;
    c->heap[a]->heap_idx = a;
    c->heap[b]->heap_idx = b;
}

static void heap_up(rm_client_t *c, uint32_t i) {
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (c->heap[p]->deadline <= c->heap[i]->deadline) break;
        heap_swap(c, p, i);
        i = p;
    }
}

static void heap_down(rm_client_t *c, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->npend && c->heap[l]->deadline < c->heap[m]->deadline) m = l;
        if (r < c->npend && c->heap[r]->deadline < c->heap[m]->deadline) m = r;
        if (m == i) return;
        heap_swap(c, i, m);
        i = m;
    }
}

static void pend_insert(rm_client_t *c, pend_t *p) {
    if (c->npend + 1 > c->hmask + 1) hash_grow(c);
    uint32_t s = hslot(c, p->opaque);
    p->hnext = c->hash[s];
    c->hash[s] = p;
    if (c->npend == c->heapcap) {
        c->heapcap = c->heapcap ? c->heapcap * 2 : 64;
        c->heap = xrealloc(c->heap, c->heapcap * sizeof(*c->heap));
    }
    p->heap_idx = c->npend;
    c->heap[c->npend++] = p;
    heap_up(c, p->heap_idx);
    cconn_t *conn = p->conn;
    p->cprev = NULL;
    p->cnext = conn->pend;
    if (conn->pend) conn->pend->cprev = p;
    conn->pend = p;
}

static void pend_remove(rm_client_t *c, pend_t *p) {
    pend_t **pp = &c->hash[hslot(c, p->opaque)];
    while (*pp != p) pp = &(*pp)->hnext;
    *pp = p->hnext;
    uint32_t i = p->heap_idx;
    c->npend--;
    if (i != c->npend) {
        c->heap[i] = c->heap[c->npend];
        c->heap[i]->heap_idx = i;
        heap_down(c, i);
        heap_up(c, i);
    }
    cconn_t *conn = p->conn;
    if (p->cprev) p->cprev->cnext = p->cnext;
    else conn->pend = p->cnext;
    if (p->cnext) p->cnext->cprev = p->cprev;
}

static pend_t *pend_find(rm_client_t *c, int32_t opaque) {
    for (pend_t *p = c->hash[hslot(c, opaque)]; p; p = p->hnext)
        if (p->opaque == opaque) return p;
    return NULL;
}

static void on_timer(uv_timer_t *t);

static void rearm(rm_client_t *c) {
    if (c->npend == 0 || c->stopped) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = (uint64_t)mono_ms(), d = c->heap[0]->deadline;
    uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0);
}

static void on_timer(uv_timer_t *t) {
    rm_client_t *c = t->data;
    uint64_t now = (uint64_t)mono_ms();
    while (c->npend && c->heap[0]->deadline <= now) {
        pend_t *p = c->heap[0];
        pend_remove(c, p);
        p->cb(RM_ETIMEOUT, NULL, p->arg);
        free(p);
    }
    rearm(c);
}

/* ---- connections -------------------------------------------------------- */

static void cconn_handle_closed(uv_handle_t *h) {
    cconn_t *conn = h->data;
    if (--conn->open_handles > 0) return;
    buf_free(&conn->out);
    buf_free(&conn->in);
    buf_free(&conn->scratch);
    free(conn);
}

/* Closes conn and fails everything waiting on it with status. */
static void cconn_fail(cconn_t *conn, int status) {
    if (conn->state == CC_CLOSING) return;
    rm_client_t *c = conn->cli;
    conn->state = CC_CLOSING;
    if (conn->prev) conn->prev->next = conn->next;
    else c->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    while (conn->pend) {
        pend_t *p = conn->pend;
        pend_remove(c, p);
        p->cb(status, NULL, p->arg);
        free(p);
    }
    uv_close((uv_handle_t *)&conn->tcp, cconn_handle_closed);
    uv_close((uv_handle_t *)&conn->ctimer, cconn_handle_closed);
}

static void on_cwrite(uv_write_t *req, int status) {
    cwrite_t *w = (cwrite_t *)req;
    cconn_t *conn = req->data;
    buf_free(&w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED && conn->state != CC_CLOSING) {
        log_debug("remoting client: write to %s failed: %s", conn->addr, uv_strerror(status));
        cconn_fail(conn, RM_ECLOSED);
    }
}

static void cconn_flush(cconn_t *conn) {
    if (conn->state != CC_CONNECTED || conn->out.len == 0) return;
    cwrite_t *w = xmalloc(sizeof(*w));
    w->data = conn->out;
    buf_init(&conn->out);
    w->req.data = conn;
    uv_buf_t b = uv_buf_init((char *)w->data.data, (unsigned)w->data.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_cwrite);
    if (rc < 0) {
        buf_free(&w->data);
        free(w);
        cconn_fail(conn, RM_ECLOSED);
    }
}

static void queue_flush(cconn_t *conn) {
    if (conn->queued) return;
    conn->queued = 1;
    conn->flush_next = conn->cli->flushq;
    conn->cli->flushq = conn;
}

static void flush_all(rm_client_t *c) {
    while (c->flushq) {
        cconn_t *conn = c->flushq;
        c->flushq = conn->flush_next;
        conn->queued = 0;
        cconn_flush(conn);
    }
}

static void handle_frame(cconn_t *conn, const uint8_t *f, uint32_t len) {
    rm_client_t *c = conn->cli;
    rm_cmd_t cmd;
    char err[160];
    rm_status_t st = rm_decode(f, len, &conn->scratch, &cmd, err, sizeof(err));
    if (st == RM_EHEADER) {
        log_warn("remoting client: undecodable frame from %s: %s", conn->addr, err);
        cconn_fail(conn, RM_EPROTO);
        return;
    }
    if (!rm_is_response(&cmd)) {
        if (st != RM_OK) {
            log_warn("remoting client: bad request from %s: %s", conn->addr, err);
            return;
        }
        if (c->opts.on_request) c->opts.on_request(c, conn->addr, &cmd, c->opts.ctx);
        return;
    }
    pend_t *p = pend_find(c, cmd.opaque);
    if (!p) {
        log_debug("remoting client: response with unknown opaque %d from %s", (int)cmd.opaque,
                  conn->addr);
        return;
    }
    pend_remove(c, p);
    if (st == RM_OK) p->cb(0, &cmd, p->arg);
    else p->cb(RM_EPROTO, NULL, p->arg);
    free(p);
}

static void on_calloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    cconn_t *conn = h->data;
    size_t want = READ_CHUNK;
    if (conn->in.len >= 4) {
        uint32_t l = be32_get(conn->in.data);
        if ((size_t)l + 4 > conn->in.len && (size_t)l + 4 - conn->in.len > want &&
            l <= conn->cli->opts.max_frame)
            want = (size_t)l + 4 - conn->in.len;
    }
    uint8_t *p = buf_reserve(&conn->in, want);
    *out = uv_buf_init((char *)p, (unsigned)(conn->in.cap - conn->in.len));
}

static void on_cread(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    cconn_t *conn = s->data;
    if (nread < 0) {
        cconn_fail(conn, RM_ECLOSED);
        return;
    }
    conn->in.len += (size_t)nread;
    size_t pos = 0;
    char err[160];
    while (conn->state == CC_CONNECTED) {
        uint32_t l;
        rm_status_t st = rm_frame_length(conn->in.data + pos, conn->in.len - pos,
                                         conn->cli->opts.max_frame, &l, err, sizeof(err));
        if (st == RM_NEED_MORE) break;
        if (st != RM_OK) {
            log_warn("remoting client: bad frame from %s: %s", conn->addr, err);
            cconn_fail(conn, RM_EPROTO);
            break;
        }
        if (conn->in.len - pos < (size_t)l + 4) break;
        handle_frame(conn, conn->in.data + pos + 4, l);
        pos += (size_t)l + 4;
    }
    if (conn->state == CC_CLOSING) return;
    if (pos) {
        memmove(conn->in.data, conn->in.data + pos, conn->in.len - pos);
        conn->in.len -= pos;
    }
    if (conn->in.cap > (1u << 20) && conn->in.len < READ_CHUNK) {
        buf_t nb;
        buf_init(&nb);
        buf_append(&nb, conn->in.data, conn->in.len);
        buf_free(&conn->in);
        conn->in = nb;
    }
    flush_all(conn->cli); /* replies from on_request */
    rearm(conn->cli);
}

static void on_connect(uv_connect_t *req, int status) {
    cconn_t *conn = req->data;
    if (conn->state == CC_CLOSING) return;
    if (status < 0) {
        log_debug("remoting client: connect to %s failed: %s", conn->addr, uv_strerror(status));
        cconn_fail(conn, RM_ECONNECT);
        rearm(conn->cli);
        return;
    }
    uv_timer_stop(&conn->ctimer);
    conn->state = CC_CONNECTED;
    uv_tcp_nodelay(&conn->tcp, 1);
    uv_read_start((uv_stream_t *)&conn->tcp, on_calloc, on_cread);
    cconn_flush(conn);
}

static void on_connect_timeout(uv_timer_t *t) {
    cconn_t *conn = t->data;
    log_debug("remoting client: connect to %s timed out", conn->addr);
    cconn_fail(conn, RM_ECONNECT);
    rearm(conn->cli);
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss) {
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr) return -1;
    char host[ADDR_MAX];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host)) return -1;
    memcpy(host, addr, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) return -1;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
}

static cconn_t *get_conn(rm_client_t *c, const char *addr) {
    for (cconn_t *conn = c->conns; conn; conn = conn->next)
        if (strcmp(conn->addr, addr) == 0) return conn;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (parse_addr(addr, &ss) < 0) {
        log_warn("remoting client: bad address '%s'", addr);
        return NULL;
    }
    cconn_t *conn = xcalloc(1, sizeof(*conn));
    conn->cli = c;
    snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
    buf_init(&conn->out);
    buf_init(&conn->in);
    buf_init(&conn->scratch);
    uv_tcp_init(&c->loop, &conn->tcp);
    conn->tcp.data = conn;
    uv_timer_init(&c->loop, &conn->ctimer);
    conn->ctimer.data = conn;
    conn->open_handles = 2;
    conn->creq.data = conn;
    conn->state = CC_CONNECTING;
    conn->next = c->conns;
    if (c->conns) c->conns->prev = conn;
    c->conns = conn;
    int rc = uv_tcp_connect(&conn->creq, &conn->tcp, (struct sockaddr *)&ss, on_connect);
    if (rc < 0) {
        log_debug("remoting client: connect to %s failed: %s", addr, uv_strerror(rc));
        cconn_fail(conn, RM_ECONNECT);
        return NULL;
    }
    uv_timer_start(&conn->ctimer, on_connect_timeout, (uint64_t)c->opts.connect_timeout_ms, 0);
    return conn;
}

/* ---- the I/O thread ------------------------------------------------------ */

static void op_fail(op_t *op, int status) {
    if (op->cb) op->cb(status, NULL, op->arg);
    free(op->frame);
    free(op);
}

static void run_op(rm_client_t *c, op_t *op) {
    if (op->kind == OP_CLOSE_ADDR) {
        for (cconn_t *conn = c->conns; conn; conn = conn->next)
            if (strcmp(conn->addr, op->addr) == 0) {
                cconn_fail(conn, RM_ECLOSED);
                break;
            }
        free(op);
        return;
    }
    cconn_t *conn = get_conn(c, op->addr);
    if (!conn) {
        op_fail(op, RM_ECONNECT);
        return;
    }
    if (op->cb) {
        if (pend_find(c, op->opaque)) { /* caller reused an opaque still in flight */
            op_fail(op, RM_EPROTO);
            return;
        }
        pend_t *p = xmalloc(sizeof(*p));
        p->opaque = op->opaque;
        p->deadline = op->deadline;
        p->cb = op->cb;
        p->arg = op->arg;
        p->conn = conn;
        pend_insert(c, p);
    }
    if (conn->out.len == 0 && conn->out.cap == 0) {
        conn->out.data = op->frame; /* take the bytes instead of copying them */
        conn->out.len = conn->out.cap = op->len;
        op->frame = NULL;
    } else {
        buf_append(&conn->out, op->frame, op->len);
    }
    if (conn->state == CC_CONNECTED) queue_flush(conn);
    free(op->frame);
    free(op);
}

static void shutdown_all(rm_client_t *c) {
    c->stopped = 1;
    while (c->conns) cconn_fail(c->conns, RM_ESHUTDOWN);
    while (c->npend) { /* none should remain: every pending belongs to a connection */
        pend_t *p = c->heap[0];
        pend_remove(c, p);
        p->cb(RM_ESHUTDOWN, NULL, p->arg);
        free(p);
    }
    uv_close((uv_handle_t *)&c->async, NULL);
    uv_close((uv_handle_t *)&c->timer, NULL);
}

static void on_async(uv_async_t *a) {
    rm_client_t *c = a->data;
    if (c->stopped) return;
    pthread_mutex_lock(&c->mu);
    op_t *ops = c->q_head;
    c->q_head = c->q_tail = NULL;
    int stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    while (ops) {
        op_t *op = ops;
        ops = op->next;
        if (stopping) {
            if (op->kind == OP_SEND) op_fail(op, RM_ESHUTDOWN);
            else free(op);
        } else {
            run_op(c, op);
        }
    }
    if (stopping) {
        shutdown_all(c);
        return;
    }
    flush_all(c);
    rearm(c);
}

static void io_main(void *arg) {
    thread_name("remoting-io");
    rm_client_t *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* ---- public API ---------------------------------------------------------- */

rm_client_t *rm_client_create(const rm_client_opts_t *opts) {
    rm_client_t *c = xcalloc(1, sizeof(*c));
    if (opts) c->opts = *opts;
    if (c->opts.connect_timeout_ms <= 0) c->opts.connect_timeout_ms = 3000;
    if (c->opts.max_frame == 0) c->opts.max_frame = RM_DEFAULT_MAX_FRAME;
    if (c->opts.language == 0) c->opts.language = LANG_OTHER; /* the header's default */
    if (c->opts.version == 0) c->opts.version = RM_VERSION_PETREL;
    if (uv_loop_init(&c->loop) < 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    uv_async_init(&c->loop, &c->async, on_async);
    c->async.data = c;
    uv_timer_init(&c->loop, &c->timer);
    c->timer.data = c;
    c->hmask = 255;
    c->hash = xcalloc(c->hmask + 1, sizeof(*c->hash));
    atomic_store(&c->next_opaque, 1);
    if (uv_thread_create(&c->thread, io_main, c) != 0) {
        uv_close((uv_handle_t *)&c->async, NULL);
        uv_close((uv_handle_t *)&c->timer, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        free(c->hash);
        free(c);
        return NULL;
    }
    return c;
}

void rm_client_destroy(rm_client_t *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    uv_thread_join(&c->thread);
    /* ops that raced with the last drain cannot exist (enqueue checks stopping under mu) */
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->mu);
    free(c->hash);
    free(c->heap);
    free(c);
}

static int enqueue(rm_client_t *c, op_t *op) {
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        free(op->frame);
        free(op);
        return RM_ESHUTDOWN;
    }
    op->next = NULL;
    if (c->q_tail) c->q_tail->next = op;
    else c->q_head = op;
    c->q_tail = op;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    return 0;
}

int32_t rm_client_next_opaque(rm_client_t *c) {
    int32_t o;
    do {
        o = atomic_fetch_add(&c->next_opaque, 1);
    } while (o == 0);
    return o;
}

static op_t *new_op(const char *addr, int timeout_ms, rm_response_cb cb, void *arg) {
    op_t *op = xcalloc(1, sizeof(*op));
    op->kind = OP_SEND;
    snprintf(op->addr, sizeof(op->addr), "%s", addr);
    op->deadline = (uint64_t)mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3000);
    op->cb = cb;
    op->arg = arg;
    return op;
}

static void encode_req(rm_client_t *c, op_t *op, const rm_request_t *req, int32_t flag,
                       int32_t opaque) {
    buf_t b;
    buf_init(&b);
    buf_reserve(&b, 256 + req->body_len);
    rm_enc_t e;
    rm_enc_begin_ex(&e, &b, c->opts.ser, req->code, opaque, flag, req->remark, c->opts.language,
                    c->opts.version);
    if (req->ext)
        for (const char *const *kv = req->ext; kv[0] && kv[1]; kv += 2) rm_enc_ext(&e, kv[0], kv[1]);
    if (req->body_len) rm_enc_body(&e, req->body, req->body_len);
    rm_enc_end(&e);
    op->opaque = opaque;
    op->frame = buf_steal(&b, &op->len);
}

int rm_client_invoke_async(rm_client_t *c, const char *addr, const rm_request_t *req,
                           int timeout_ms, rm_response_cb cb, void *arg) {
    op_t *op = new_op(addr, timeout_ms, cb, arg);
    encode_req(c, op, req, 0, rm_client_next_opaque(c));
    return enqueue(c, op);
}

int rm_client_invoke_oneway(rm_client_t *c, const char *addr, const rm_request_t *req) {
    op_t *op = new_op(addr, 0, NULL, NULL);
    encode_req(c, op, req, RM_FLAG_ONEWAY, rm_client_next_opaque(c));
    return enqueue(c, op);
}

typedef struct waiter_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int status;
    rm_response_t *resp;
} waiter_t;

static void sync_cb(int status, rm_cmd_t *resp, void *arg) {
    waiter_t *w = arg;
    rm_response_t *r = status == 0 ? rm_cmd_clone(resp) : NULL;
    pthread_mutex_lock(&w->mu);
    w->status = status;
    w->resp = r;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int rm_client_invoke_sync(rm_client_t *c, const char *addr, const rm_request_t *req,
                          int timeout_ms, rm_response_t **resp) {
    *resp = NULL;
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &c->thread)) {
        log_error("remoting client: invoke_sync called on the client's I/O thread");
        return RM_EPROTO;
    }
    waiter_t w = {.done = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = rm_client_invoke_async(c, addr, req, timeout_ms, sync_cb, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
        *resp = w.resp;
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int rm_client_send_frame(rm_client_t *c, const char *addr, const uint8_t *frame, size_t len,
                         int32_t opaque, int timeout_ms, rm_response_cb cb, void *arg) {
    op_t *op = new_op(addr, timeout_ms, cb, arg);
    op->frame = xmalloc(len ? len : 1);
    memcpy(op->frame, frame, len);
    op->len = len;
    op->opaque = opaque;
    return enqueue(c, op);
}

void rm_client_reply(rm_client_t *c, const char *addr, int32_t opaque, int ser, int32_t code,
                     const char *remark, const char *const *ext, const void *body,
                     uint32_t body_len) {
    op_t *op = new_op(addr, 0, NULL, NULL);
    buf_t b;
    buf_init(&b);
    rm_enc_t e;
    rm_enc_begin_ex(&e, &b, ser, code, opaque, RM_FLAG_RESPONSE, remark, c->opts.language,
                    c->opts.version);
    if (ext)
        for (const char *const *kv = ext; kv[0] && kv[1]; kv += 2) rm_enc_ext(&e, kv[0], kv[1]);
    if (body_len) rm_enc_body(&e, body, body_len);
    rm_enc_end(&e);
    op->opaque = opaque;
    op->frame = buf_steal(&b, &op->len);
    enqueue(c, op);
}

void rm_client_close_addr(rm_client_t *c, const char *addr) {
    op_t *op = xcalloc(1, sizeof(*op));
    op->kind = OP_CLOSE_ADDR;
    snprintf(op->addr, sizeof(op->addr), "%s", addr);
    enqueue(c, op);
}
