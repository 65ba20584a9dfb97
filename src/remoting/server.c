/*
 * server: the remoting server on one libuv loop: listening sockets, request
 * dispatch by code, replies, server-initiated requests with response
 * matching and timeouts, idle connection reaping.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "remoting/server_int.h"

#define PEND_TICK_MS 20
#define IDLE_TICK_MS 1000
#define DEFAULT_REQ_TIMEOUT_MS 3000

static void handle_closed(uv_handle_t *h);

/* ---- flushing replies produced outside a read batch --------------------- */

void rm__server_queue_flush(rm_conn_t *conn) {
    if (conn->flags & (CONN_QUEUED | CONN_CLOSED)) return;
    conn->flags |= CONN_QUEUED;
    rm_conn_retain(conn);
    conn->flush_next = conn->srv->flushq;
    conn->srv->flushq = conn;
}

static void flush_all(rm_server_t *srv) {
    while (srv->flushq) {
        rm_conn_t *conn = srv->flushq;
        srv->flushq = conn->flush_next;
        conn->flush_next = NULL;
        conn->flags &= ~CONN_QUEUED;
        rm__conn_flush(conn);
        rm_conn_release(conn);
    }
}

static void on_prepare(uv_prepare_t *h) { flush_all(h->data); }
static void on_check(uv_check_t *h) { flush_all(h->data); }

/* ---- pending server-initiated requests ---------------------------------- */

static void pend_unlink(rm_server_t *srv, rm_pending_t *p) {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    srv->npend--;
    if (srv->npend == 0) uv_timer_stop(&srv->pend_timer);
}

static void on_pend_timer(uv_timer_t *t) {
    rm_server_t *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    rm_pending_t *p = srv->pend.next;
    while (p != &srv->pend) {
        rm_pending_t *next = p->next;
        if (p->deadline <= now) {
            pend_unlink(srv, p);
            p->cb(RM_ETIMEOUT, NULL, p->arg);
            free(p);
        }
        p = next;
    }
}

static void pend_add(rm_server_t *srv, rm_pending_t *p) {
    p->prev = srv->pend.prev;
    p->next = &srv->pend;
    srv->pend.prev->next = p;
    srv->pend.prev = p;
    if (srv->npend++ == 0 && !srv->closing)
        uv_timer_start(&srv->pend_timer, on_pend_timer, PEND_TICK_MS, PEND_TICK_MS);
}

/* Fails the requests outstanding on conn (or all when conn is NULL). */
static void pend_fail_conn(rm_server_t *srv, rm_conn_t *conn) {
    rm_pending_t done = {.prev = &done, .next = &done};
    rm_pending_t *p = srv->pend.next;
    while (p != &srv->pend) {
        rm_pending_t *next = p->next;
        if (!conn || p->conn == conn) {
            pend_unlink(srv, p);
            p->prev = done.prev;
            p->next = &done;
            done.prev->next = p;
            done.prev = p;
        }
        p = next;
    }
    while (done.next != &done) {
        p = done.next;
        done.next = p->next;
        p->cb(RM_ECLOSED, NULL, p->arg);
        free(p);
    }
}

static void on_response(rm_conn_t *conn, rm_cmd_t *resp) {
    rm_server_t *srv = conn->srv;
    for (rm_pending_t *p = srv->pend.next; p != &srv->pend; p = p->next) {
        if (p->conn == conn && p->opaque == resp->opaque) {
            pend_unlink(srv, p);
            p->cb(0, resp, p->arg);
            free(p);
            return;
        }
    }
    log_info("%s: dropping response with unknown opaque %d (code %d) from %s", srv->name,
              (int)resp->opaque, (int)resp->code, conn->peer);
}

typedef struct late_fail_s {
    uv_timer_t t;
    rm_response_cb cb;
    void *arg;
} late_fail_t;

static void late_fail_closed(uv_handle_t *h) { free(h->data); }

static void late_fail_fire(uv_timer_t *t) {
    late_fail_t *f = t->data;
    f->cb(RM_ECLOSED, NULL, f->arg);
    uv_close((uv_handle_t *)t, late_fail_closed);
}

void rm_conn_request_begin(rm_conn_t *conn, rm_enc_t *e, int32_t code, int oneway,
                           rm_response_cb cb, void *arg, int timeout_ms) {
    if (conn->flags & (CONN_CLOSING | CONN_CLOSED)) {
        /* nothing is sent; cb still runs once, later, on the loop thread (the
         * server may already be gone, so no server state is used) */
        rm__enc_discard(e);
        if (cb) {
            late_fail_t *f = xmalloc(sizeof(*f));
            f->cb = cb;
            f->arg = arg;
            uv_timer_init(conn->tcp.loop, &f->t);
            f->t.data = f;
            uv_timer_start(&f->t, late_fail_fire, 0, 0);
        }
        return;
    }
    rm_server_t *srv = conn->srv;
    int32_t opaque = srv->next_opaque++;
    wreq_t *w = rm__conn_staging(conn);
    rm_enc_begin(e, &w->data, conn->ser, code, opaque, oneway ? RM_FLAG_ONEWAY : 0, NULL);
    e->conn = conn;
    if (cb) {
        rm_pending_t *p = xcalloc(1, sizeof(*p));
        p->conn = conn;
        p->opaque = opaque;
        p->deadline = uv_now(srv->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : DEFAULT_REQ_TIMEOUT_MS);
        p->cb = cb;
        p->arg = arg;
        pend_add(srv, p);
    }
}

/* ---- replies ------------------------------------------------------------ */

void rm_conn_reply_begin_info(rm_conn_t *conn, rm_enc_t *e, const rm_reqinfo_t *ri,
                              int32_t code, const char *remark) {
    if (conn->srv && conn->srv->cur_resp == -1) conn->srv->cur_resp = code;
    if (ri->oneway || (conn->flags & (CONN_CLOSING | CONN_CLOSED))) {
        rm__enc_discard(e);
        return;
    }
    wreq_t *w = rm__conn_staging(conn);
    rm_enc_begin(e, &w->data, ri->serialize, code, ri->opaque, RM_FLAG_RESPONSE, remark);
    e->conn = conn;
}

void rm_conn_reply_begin(rm_conn_t *conn, rm_enc_t *e, const rm_cmd_t *req, int32_t code,
                         const char *remark) {
    rm_reqinfo_t ri = rm_reqinfo(req);
    rm_conn_reply_begin_info(conn, e, &ri, code, remark);
}

void rm_conn_reply(rm_conn_t *conn, const rm_cmd_t *req, int32_t code, const char *remark) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, code, remark);
    rm_enc_end(&e);
}

/* ---- dispatch ------------------------------------------------------------ */

static const handler_t *find_handler(rm_server_t *srv, int code) {
    if (code >= 0 && code < RM_SMALL_CODES) return srv->small[code].fn ? &srv->small[code] : NULL;
    for (int i = 0; i < srv->nbig; i++)
        if (srv->big[i].code == code) return &srv->big[i].h;
    return NULL;
}

void rm__server_frame(rm_conn_t *conn, const uint8_t *frame, uint32_t len) {
    rm_server_t *srv = conn->srv;
    rm_cmd_t cmd;
    char err[160];
    rm_status_t st = rm_decode(frame, len, &conn->scratch, &cmd, err, sizeof(err));
    if (st == RM_EHEADER) {
        log_warn("%s: bad header from %s, closing: %s", srv->name, conn->peer, err);
        rm__conn_close_graceful(conn);
        return;
    }
    if (st == RM_EHEADER_REPLY) {
        log_warn("%s: bad header from %s (code %d, opaque %d): %s", srv->name, conn->peer,
                 (int)cmd.code, (int)cmd.opaque, err);
        if (!rm_is_response(&cmd)) rm_conn_reply(conn, &cmd, SYSTEM_ERROR, err);
        return;
    }
    if (rm_is_response(&cmd)) {
        on_response(conn, &cmd);
        return;
    }
    conn->lang = cmd.language;
    conn->version = cmd.version;
    conn->ser = cmd.serialize;
    const handler_t *h = find_handler(srv, cmd.code);
    if (!h && srv->deflt.fn) h = &srv->deflt;
    if (h) {
        if (!srv->observe) {
            h->fn(conn, &cmd, h->ctx);
            return;
        }
        int32_t code = cmd.code;
        srv->cur_resp = -1;
        uint64_t t0 = uv_hrtime();
        h->fn(conn, &cmd, h->ctx);
        uint64_t ns = uv_hrtime() - t0;
        int32_t resp = srv->cur_resp;
        srv->cur_resp = -2;
        srv->observe(code, resp, ns, srv->observe_ctx);
        return;
    }
    char remark[64];
    snprintf(remark, sizeof(remark), " request type %d not supported", (int)cmd.code);
    log_debug("%s: %s from %s", srv->name, remark, conn->peer);
    rm_conn_reply(conn, &cmd, REQUEST_CODE_NOT_SUPPORTED, remark);
}

void rm_server_handle(rm_server_t *srv, int code, rm_handler_fn fn, void *ctx) {
    if (code >= 0 && code < RM_SMALL_CODES) {
        srv->small[code].fn = fn;
        srv->small[code].ctx = ctx;
        return;
    }
    for (int i = 0; i < srv->nbig; i++) {
        if (srv->big[i].code == code) {
            srv->big[i].h.fn = fn;
            srv->big[i].h.ctx = ctx;
            return;
        }
    }
    if (srv->nbig == srv->bigcap) {
        srv->bigcap = srv->bigcap ? srv->bigcap * 2 : 8;
        srv->big = xrealloc(srv->big, (size_t)srv->bigcap * sizeof(*srv->big));
    }
    srv->big[srv->nbig].code = code;
    srv->big[srv->nbig].h.fn = fn;
    srv->big[srv->nbig].h.ctx = ctx;
    srv->nbig++;
}

void rm_server_handle_default(rm_server_t *srv, rm_handler_fn fn, void *ctx) {
    srv->deflt.fn = fn;
    srv->deflt.ctx = ctx;
}

void rm_server_observe(rm_server_t *srv, rm_observe_fn fn, void *ctx) {
    srv->observe = fn;
    srv->observe_ctx = ctx;
    srv->cur_resp = -2;
}

void rm_server_on_close(rm_server_t *srv, rm_close_fn fn, void *ctx) {
    srv->on_close = fn;
    srv->on_close_ctx = ctx;
}

/* ---- connections ---------------------------------------------------------- */

/* One of the server's handles (a connection, a listener, a timer) has closed; the last one
 * finishes a server close (a closing connection is still referenced by its on_closed). */
static void server_handle_gone(rm_server_t *srv) {
    srv->open_handles--;
    if (srv->closing && srv->open_handles == 0) {
        pend_fail_conn(srv, NULL);
        if (srv->done) srv->done(srv, srv->done_arg);
        free(srv->big);
        free(srv);
    }
}

void rm__server_conn_closed(rm_conn_t *conn) {
    rm_server_t *srv = conn->srv;
    pend_fail_conn(srv, conn);
    if (srv->on_close) srv->on_close(conn, srv->on_close_ctx);
    if (conn->prev) conn->prev->next = conn->next;
    else srv->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    conn->srv = NULL; /* closed connections never touch the server again */
    srv->nconns--;
    server_handle_gone(srv);
}

static void on_connection(uv_stream_t *ls, int status) {
    listener_t *l = ls->data;
    rm_server_t *srv = l->srv;
    if (status < 0) {
        log_warn("%s: accept failed: %s", srv->name, uv_strerror(status));
        return;
    }
    if (srv->closing) return;
    rm_conn_t *conn = rm__conn_new(srv);
    srv->open_handles++;
    conn->next = srv->conns;
    if (srv->conns) srv->conns->prev = conn;
    srv->conns = conn;
    srv->nconns++;
    int rc = uv_accept(ls, (uv_stream_t *)&conn->tcp);
    if (rc < 0) {
        log_warn("%s: accept failed: %s", srv->name, uv_strerror(rc));
        rm__conn_close_now(conn);
        return;
    }
    rm__conn_start(conn);
    log_debug("%s: connection from %s", srv->name, conn->peer);
}

static void on_idle_timer(uv_timer_t *t) {
    rm_server_t *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    rm_conn_t *next;
    for (rm_conn_t *conn = srv->conns; conn; conn = next) {
        next = conn->next;
        if (conn->flags & CONN_CLOSED) continue;
        if (conn->flags & CONN_CLOSING) {
            if (now - conn->close_started > RM_CLOSE_GRACE_MS) rm__conn_close_now(conn);
        } else if (srv->idle_ms > 0 && now - conn->last_active > (uint64_t)srv->idle_ms) {
            rm_conn_close(conn, "idle");
        }
    }
}

/* ---- server lifetime ------------------------------------------------------ */

rm_server_t *rm_server_create(uv_loop_t *loop, const rm_server_opts_t *opts) {
    rm_server_t *srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    snprintf(srv->name, sizeof(srv->name), "%s", opts && opts->name ? opts->name : "remoting");
    srv->max_frame = opts && opts->max_frame ? opts->max_frame : RM_DEFAULT_MAX_FRAME;
    int idle = opts ? opts->idle_timeout_s : 0;
    srv->idle_ms = idle == 0 ? 120000 : idle < 0 ? 0 : (int64_t)idle * 1000;
    srv->pend.prev = srv->pend.next = &srv->pend;
    srv->next_opaque = 1;
    uv_prepare_init(loop, &srv->prep);
    srv->prep.data = srv;
    uv_prepare_start(&srv->prep, on_prepare);
    uv_unref((uv_handle_t *)&srv->prep);
    uv_check_init(loop, &srv->check);
    srv->check.data = srv;
    uv_check_start(&srv->check, on_check);
    uv_unref((uv_handle_t *)&srv->check);
    uv_timer_init(loop, &srv->idle_timer);
    srv->idle_timer.data = srv;
    uv_timer_start(&srv->idle_timer, on_idle_timer, IDLE_TICK_MS, IDLE_TICK_MS);
    uv_unref((uv_handle_t *)&srv->idle_timer);
    uv_timer_init(loop, &srv->pend_timer);
    srv->pend_timer.data = srv;
    srv->open_handles = 4;
    return srv;
}

int rm_server_listen(rm_server_t *srv, const char *host, int port) {
    if (srv->nlisten >= RM_MAX_LISTEN) return -1;
    struct sockaddr_storage ss;
    int rc;
    if (!host || !*host) host = "0.0.0.0";
    if (strchr(host, ':')) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0) return rc;
    listener_t *l = xcalloc(1, sizeof(*l));
    l->srv = srv;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc < 0) {
        srv->open_handles++;
        uv_close((uv_handle_t *)&l->tcp, handle_closed);
        log_debug("%s: cannot listen on %s:%d: %s", srv->name, host, port, uv_strerror(rc));
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen);
    int bport = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    srv->listeners[srv->nlisten] = l;
    srv->ports[srv->nlisten] = bport;
    srv->nlisten++;
    srv->open_handles++;
    log_info("%s: listening on %s:%d", srv->name, host, bport);
    return 0;
}

int rm_server_port(rm_server_t *srv, int n) {
    if (n < 0 || n >= srv->nlisten) return -1;
    return srv->ports[n];
}

int rm_server_conn_count(rm_server_t *srv) { return srv->nconns; }

/* Close callback of the server's own handles (listeners, timers, prepare/check). */
static void handle_closed(uv_handle_t *h) {
    rm_server_t *srv;
    if (h->type == UV_TCP) {
        listener_t *l = h->data;
        srv = l->srv;
        free(l);
    } else {
        srv = h->data;
    }
    server_handle_gone(srv);
}

void rm_server_close(rm_server_t *srv, void (*done)(rm_server_t *srv, void *arg), void *arg) {
    if (srv->closing) return;
    srv->closing = 1;
    srv->done = done;
    srv->done_arg = arg;
    for (int i = 0; i < srv->nlisten; i++) uv_close((uv_handle_t *)&srv->listeners[i]->tcp, handle_closed);
    srv->nlisten = 0;
    for (rm_conn_t *conn = srv->conns; conn; conn = conn->next) rm__conn_close_now(conn);
    uv_close((uv_handle_t *)&srv->prep, handle_closed);
    uv_close((uv_handle_t *)&srv->check, handle_closed);
    uv_close((uv_handle_t *)&srv->idle_timer, handle_closed);
    uv_close((uv_handle_t *)&srv->pend_timer, handle_closed);
    flush_all(srv);
}
