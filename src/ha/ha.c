/*
 * ha: the HA thread (see ha.h): master connections streaming raw commit log
 * slices straight from the mapped files (zero copy: the write holds the pin),
 * the slave's client appending what it receives, SYNC_MASTER waiters, and a
 * 100 ms tick for heartbeats, housekeeping, reconnects and wait deadlines.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "ha/ha.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/store.h"

#define HA_MAX_FRAME (64u << 20)

typedef struct waiter_s {
    struct waiter_s *next;
    int64_t upto, deadline;
    ha_wait_cb cb;
    void *arg;
} waiter_t;

/* A slave connected to this master. */
typedef struct hconn_s {
    uv_tcp_t tcp;
    ha_t *h;
    struct hconn_s *next;
    uint8_t rbuf[256];
    uint8_t part[8];
    int npart;
    int64_t next_off;    /* -1 until the first report */
    int64_t ack;
    int writing, closing;
    uv_write_t wr;
    uint8_t hdr[12];
    store_pinned_t pin;
    uint32_t sending;
    int64_t last_read, last_write;
    char peer[64];
} hconn_t;

struct ha_s {
    ha_opts_t o;
    char name[64];
    store_t *store;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t async;
    uv_timer_t tick;
    uv_tcp_t srv;
    int has_srv, port;
    _Atomic int stop;
    int stopped;         /* HA thread: closing */
    pthread_mutex_t mu;  /* guards the fields below it */
    waiter_t *incoming;
    char want_master[128];
    int master_changed;
    _Atomic int dead;    /* ha_wait after stop completes inline */
    int joined;

    /* HA thread */
    hconn_t *conns;
    waiter_t *wq_head, *wq_tail;
    _Atomic int nslaves;
    _Atomic int64_t ack_max;

    /* slave client (HA thread) */
    char master[128];
    uv_tcp_t cli;
    uv_connect_t creq;
    int cstate;          /* 0 idle, 1 connecting, 2 connected, 3 closing */
    buf_t cin;
    int64_t c_last_read, c_last_report, c_reported, c_last_try;
    uv_write_t rep_wr;
    uint8_t rep_buf[8];
    int rep_writing, rep_again;
    _Atomic int connected;

    _Atomic uint64_t bytes_sent, bytes_received, frames_sent, frames_received;
};

/* ---- waiters -------------------------------------------------------------------- */

static void complete_waiters(ha_t *h, int all) {
    int64_t ack = atomic_load(&h->ack_max);
    int64_t now = mono_ms();
    waiter_t **pp = &h->wq_head, *last = NULL;
    while (*pp) {
        waiter_t *w = *pp;
        int st = -1;
        if (w->upto <= ack) st = HA_OK;
        else if (all || now >= w->deadline) st = HA_TIMEOUT;
        if (st < 0) {
            last = w;
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->cb(w->arg, st);
        free(w);
    }
    h->wq_tail = last;
}

static void take_incoming(ha_t *h) {
    pthread_mutex_lock(&h->mu);
    waiter_t *in = h->incoming;
    h->incoming = NULL;
    pthread_mutex_unlock(&h->mu);
    waiter_t *rev = NULL; /* pushed LIFO: restore arrival order */
    while (in) {
        waiter_t *n = in->next;
        in->next = rev;
        rev = in;
        in = n;
    }
    while (rev) {
        waiter_t *n = rev->next;
        rev->next = NULL;
        if (h->wq_tail) h->wq_tail->next = rev;
        else h->wq_head = rev;
        h->wq_tail = rev;
        rev = n;
    }
}

static void recompute_ack(ha_t *h) {
    int64_t m = -1;
    int n = 0;
    for (hconn_t *c = h->conns; c; c = c->next) {
        if (c->closing) continue;
        n++;
        if (c->ack > m) m = c->ack;
    }
    atomic_store(&h->nslaves, n);
    atomic_store(&h->ack_max, m); /* a slave that left no longer vouches for anything */
}

/* ---- master side ---------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *hd) {
    hconn_t *c = hd->data;
    store_pinned_release(&c->pin);
    free(c);
}

static void conn_close(hconn_t *c, const char *why) {
    if (c->closing) return;
    c->closing = 1;
    ha_t *h = c->h;
    log_info("%s: slave %s disconnected (%s), acknowledged %lld", h->name, c->peer, why,
             (long long)c->ack);
    for (hconn_t **pp = &h->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    recompute_ack(h);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void pump(hconn_t *c);

static void on_frame_written(uv_write_t *w, int status) {
    hconn_t *c = w->data;
    store_pinned_release(&c->pin);
    c->writing = 0;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    c->next_off += c->sending;
    atomic_fetch_add(&c->h->bytes_sent, c->sending);
    atomic_fetch_add(&c->h->frames_sent, 1);
    c->last_write = mono_ms();
    pump(c);
}

static void pump(hconn_t *c) {
    ha_t *h = c->h;
    if (c->writing || c->closing || c->next_off < 0) return;
    int64_t max = store_commitlog_max_offset(h->store);
    uv_buf_t bufs[2];
    int nb = 1;
    c->sending = 0;
    if (c->next_off < max) {
        if (store_read_raw(h->store, c->next_off, (uint32_t)h->o.batch_bytes, &c->pin) != 0) {
            /* the newest record is visible a moment before it is readable raw: later */
            if (c->next_off >= store_commitlog_min_offset(h->store)) return;
            log_error("%s: slave %s needs offset %lld, not in the commit log (min %lld)", h->name,
                      c->peer, (long long)c->next_off,
                      (long long)store_commitlog_min_offset(h->store));
            conn_close(c, "offset not available");
            return;
        }
        c->sending = c->pin.len;
        bufs[1] = uv_buf_init((char *)c->pin.data, c->pin.len);
        nb = 2;
    } else if (mono_ms() - c->last_write < h->o.heartbeat_ms) {
        return;
    }
    be64_put(c->hdr, (uint64_t)c->next_off);
    be32_put(c->hdr + 8, c->sending);
    bufs[0] = uv_buf_init((char *)c->hdr, 12);
    c->wr.data = c;
    c->writing = 1;
    int rc = uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, (unsigned)nb, on_frame_written);
    if (rc != 0) {
        c->writing = 0;
        store_pinned_release(&c->pin);
        conn_close(c, uv_strerror(rc));
    }
}

static void on_report(hconn_t *c, int64_t v) {
    ha_t *h = c->h;
    if (c->next_off < 0) {
        int64_t start = v;
        if (v == 0) {
            int64_t max = store_commitlog_max_offset(h->store);
            start = max - max % h->o.file_size;
        }
        c->next_off = start;
        log_info("%s: slave %s reports %lld, streaming from %lld", h->name, c->peer, (long long)v,
                 (long long)start);
        if (v > store_commitlog_max_offset(h->store))
            log_warn("%s: slave %s is ahead of this master (%lld > %lld): it gets nothing until "
                     "the master passes it", h->name, c->peer, (long long)v,
                     (long long)store_commitlog_max_offset(h->store));
    }
    if (v > c->ack) c->ack = v;
    if (v > atomic_load(&h->ack_max)) atomic_store(&h->ack_max, v);
    if (h->wq_head) complete_waiters(h, 0);
}

static void conn_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *b) {
    (void)sz;
    hconn_t *c = hd->data;
    *b = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    hconn_t *c = s->data;
    if (n < 0) {
        conn_close(c, n == UV_EOF ? "closed by the slave" : uv_strerror((int)n));
        return;
    }
    c->last_read = mono_ms();
    int64_t last = -1;
    for (ssize_t i = 0; i < n; i++) {
        c->part[c->npart++] = (uint8_t)b->base[i];
        if (c->npart == 8) {
            last = (int64_t)be64_get(c->part);
            c->npart = 0;
        }
    }
    if (last >= 0) on_report(c, last);
    pump(c);
}

static void on_accept(uv_stream_t *srv, int status) {
    ha_t *h = srv->data;
    if (status < 0) return;
    hconn_t *c = xcalloc(1, sizeof(*c));
    c->h = h;
    c->next_off = -1;
    c->ack = -1;
    uv_tcp_init(&h->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
        char ip[32];
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, ntohs(a->sin_port));
    }
    c->last_read = c->last_write = mono_ms();
    c->next = h->conns;
    h->conns = c;
    atomic_fetch_add(&h->nslaves, 1);
    log_info("%s: slave %s connected", h->name, c->peer);
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

/* ---- slave side ----------------------------------------------------------------- */

static void cli_connect(ha_t *h);

static void on_cli_closed(uv_handle_t *hd) {
    ha_t *h = hd->data;
    h->cstate = 0;
    h->rep_writing = 0;
    buf_reset(&h->cin);
}

static void cli_close(ha_t *h, const char *why) {
    if (h->cstate == 0 || h->cstate == 3) return;
    if (h->cstate == 2) log_info("%s: disconnected from master %s (%s)", h->name, h->master, why);
    h->cstate = 3;
    atomic_store(&h->connected, 0);
    uv_close((uv_handle_t *)&h->cli, on_cli_closed);
}

static void report(ha_t *h);

static void on_report_written(uv_write_t *w, int status) {
    ha_t *h = w->data;
    h->rep_writing = 0;
    if (h->cstate != 2) return;
    if (status < 0) {
        cli_close(h, uv_strerror(status));
        return;
    }
    if (h->rep_again) report(h);
}

static void report(ha_t *h) {
    if (h->cstate != 2) return;
    if (h->rep_writing) {
        h->rep_again = 1;
        return;
    }
    h->rep_again = 0;
    int64_t v = store_commitlog_max_offset(h->store);
    be64_put(h->rep_buf, (uint64_t)v);
    uv_buf_t b = uv_buf_init((char *)h->rep_buf, 8);
    h->rep_wr.data = h;
    h->rep_writing = 1;
    h->c_reported = v;
    h->c_last_report = mono_ms();
    if (uv_write(&h->rep_wr, (uv_stream_t *)&h->cli, &b, 1, on_report_written) != 0) {
        h->rep_writing = 0;
        cli_close(h, "write failed");
    }
}

static void cli_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *b) {
    (void)sz;
    ha_t *h = hd->data;
    uint8_t *p = buf_reserve(&h->cin, 65536);
    *b = uv_buf_init((char *)p, 65536);
}

/* Appends every complete frame in cin. 0, or -1 after closing. */
static int cli_frames(ha_t *h) {
    size_t pos = 0;
    const uint8_t *d = h->cin.data;
    while (h->cin.len - pos >= 12) {
        int64_t phy = (int64_t)be64_get(d + pos);
        uint32_t size = be32_get(d + pos + 8);
        if (size > HA_MAX_FRAME) {
            cli_close(h, "frame too large");
            return -1;
        }
        if (h->cin.len - pos < 12 + (size_t)size) break;
        int64_t end = store_commitlog_max_offset(h->store);
        int empty = end == 0;
        if (size == 0) {
            if (phy != end && !empty) {
                log_warn("%s: master at %lld, slave at %lld", h->name, (long long)phy,
                         (long long)end);
                cli_close(h, "offset mismatch");
                return -1;
            }
        } else if (store_append_raw(h->store, phy, d + pos + 12, size) != 0) {
            cli_close(h, "append failed");
            return -1;
        }
        atomic_fetch_add(&h->bytes_received, size);
        atomic_fetch_add(&h->frames_received, 1);
        pos += 12 + size;
    }
    if (pos) {
        memmove(h->cin.data, h->cin.data + pos, h->cin.len - pos);
        h->cin.len -= pos;
    }
    return 0;
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    (void)b;
    ha_t *h = s->data;
    if (n < 0) {
        cli_close(h, n == UV_EOF ? "closed by the master" : uv_strerror((int)n));
        return;
    }
    if (n == 0) return;
    h->cin.len += (size_t)n;
    h->c_last_read = mono_ms();
    if (cli_frames(h) != 0) return;
    if (store_commitlog_max_offset(h->store) != h->c_reported) report(h);
}

static void on_cli_connected(uv_connect_t *req, int status) {
    ha_t *h = req->data;
    if (h->cstate != 1) return;
    if (status < 0) {
        log_debug("%s: cannot connect to master %s: %s", h->name, h->master, uv_strerror(status));
        h->cstate = 3;
        uv_close((uv_handle_t *)&h->cli, on_cli_closed);
        return;
    }
    h->cstate = 2;
    atomic_store(&h->connected, 1);
    uv_tcp_nodelay(&h->cli, 1);
    /* a partial record may come from another master: resume at a record boundary */
    store_drop_partial(h->store);
    h->c_last_read = mono_ms();
    log_info("%s: connected to master %s, reporting %lld", h->name, h->master,
             (long long)store_commitlog_max_offset(h->store));
    report(h);
    uv_read_start((uv_stream_t *)&h->cli, cli_alloc, cli_read);
}

static void cli_connect(ha_t *h) {
    if (h->cstate != 0 || !h->master[0]) return;
    h->c_last_try = mono_ms();
    char ip[128];
    snprintf(ip, sizeof(ip), "%s", h->master);
    char *colon = strrchr(ip, ':');
    if (!colon) return;
    *colon = 0;
    struct sockaddr_in a;
    if (uv_ip4_addr(ip, atoi(colon + 1), &a) != 0) {
        log_warn("%s: bad master HA address '%s'", h->name, h->master);
        return;
    }
    uv_tcp_init(&h->loop, &h->cli);
    h->cli.data = h;
    h->creq.data = h;
    h->cstate = 1;
    if (uv_tcp_connect(&h->creq, &h->cli, (struct sockaddr *)&a, on_cli_connected) != 0) {
        h->cstate = 2;
        cli_close(h, "connect failed");
    }
}

/* ---- the loop ------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *hd) { (void)hd; }

static void shutdown_all(ha_t *h) {
    h->stopped = 1;
    uv_timer_stop(&h->tick);
    uv_close((uv_handle_t *)&h->tick, on_handle_closed);
    uv_close((uv_handle_t *)&h->async, on_handle_closed);
    if (h->has_srv) uv_close((uv_handle_t *)&h->srv, on_handle_closed);
    while (h->conns) conn_close(h->conns, "shutting down");
    if (h->cstate == 1) h->cstate = 2;
    cli_close(h, "shutting down");
    atomic_store(&h->dead, 1);
    take_incoming(h);
    complete_waiters(h, 1);
}

static void on_async(uv_async_t *a) {
    ha_t *h = a->data;
    if (h->stopped) return;
    if (atomic_load(&h->stop)) {
        shutdown_all(h);
        return;
    }
    take_incoming(h);
    pthread_mutex_lock(&h->mu);
    int changed = h->master_changed;
    h->master_changed = 0;
    char want[128];
    snprintf(want, sizeof(want), "%s", h->want_master);
    pthread_mutex_unlock(&h->mu);
    if (changed && strcmp(want, h->master) != 0) {
        log_info("%s: master HA address %s", h->name, want[0] ? want : "(none)");
        snprintf(h->master, sizeof(h->master), "%s", want);
        if (h->cstate == 1) h->cstate = 2;
        cli_close(h, "master changed");
        h->c_last_try = 0;
    }
    for (hconn_t *c = h->conns, *n; c; c = n) {
        n = c->next;
        pump(c);
    }
    if (h->wq_head) complete_waiters(h, 0);
}

static void on_tick(uv_timer_t *t) {
    ha_t *h = t->data;
    int64_t now = mono_ms();
    for (hconn_t *c = h->conns, *n; c; c = n) {
        n = c->next;
        if (now - c->last_read > h->o.housekeeping_ms) conn_close(c, "no report for too long");
        else pump(c);
    }
    if (h->cstate == 2) {
        if (now - h->c_last_read > h->o.housekeeping_ms) cli_close(h, "no data for too long");
        else if (now - h->c_last_report >= h->o.heartbeat_ms) report(h);
    } else if (h->cstate == 0 && h->master[0] && now - h->c_last_try >= h->o.reconnect_ms) {
        cli_connect(h);
    }
    if (h->wq_head) complete_waiters(h, 0);
}

static void ha_thread(void *arg) {
    thread_name("ha");
    ha_t *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
}

ha_t *ha_start(const ha_opts_t *o, char *err, size_t errlen) {
    ha_t *h = xcalloc(1, sizeof(*h));
    h->o = *o;
    h->store = o->store;
    if (h->o.file_size <= 0) h->o.file_size = 1LL << 30;
    if (h->o.batch_bytes <= 0) h->o.batch_bytes = 32768;
    if (h->o.heartbeat_ms <= 0) h->o.heartbeat_ms = 5000;
    if (h->o.housekeeping_ms <= 0) h->o.housekeeping_ms = 20000;
    if (h->o.reconnect_ms <= 0) h->o.reconnect_ms = 1000;
    if (h->o.fallbehind_max <= 0) h->o.fallbehind_max = 256LL << 20;
    snprintf(h->name, sizeof(h->name), "ha %s", o->name ? o->name : "");
    h->o.name = NULL;
    h->o.listen_host = NULL;
    h->c_reported = -1;
    atomic_store(&h->ack_max, -1);
    pthread_mutex_init(&h->mu, NULL);
    buf_init(&h->cin);
    uv_loop_init(&h->loop);
    uv_async_init(&h->loop, &h->async, on_async);
    h->async.data = h;
    uv_timer_init(&h->loop, &h->tick);
    h->tick.data = h;
    uv_timer_start(&h->tick, on_tick, 100, 100);
    if (o->listen_port >= 0) {
        struct sockaddr_in a;
        uv_ip4_addr(o->listen_host ? o->listen_host : "0.0.0.0", o->listen_port, &a);
        uv_tcp_init(&h->loop, &h->srv);
        h->srv.data = h;
        h->has_srv = 1;
        int rc = uv_tcp_bind(&h->srv, (struct sockaddr *)&a, 0);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&h->srv, 16, on_accept);
        if (rc != 0) {
            snprintf(err, errlen, "HA: cannot listen on port %d: %s", o->listen_port,
                     uv_strerror(rc));
            h->stopped = 1;
            uv_close((uv_handle_t *)&h->srv, on_handle_closed);
            uv_close((uv_handle_t *)&h->tick, on_handle_closed);
            uv_close((uv_handle_t *)&h->async, on_handle_closed);
            uv_run(&h->loop, UV_RUN_DEFAULT);
            uv_loop_close(&h->loop);
            buf_free(&h->cin);
            pthread_mutex_destroy(&h->mu);
            free(h);
            return NULL;
        }
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        uv_tcp_getsockname(&h->srv, (struct sockaddr *)&ss, &len);
        h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (uv_thread_create(&h->thread, ha_thread, h) != 0) {
        snprintf(err, errlen, "HA: cannot create the thread");
        atomic_store(&h->stop, 1);
        on_async(&h->async);
        uv_run(&h->loop, UV_RUN_DEFAULT);
        uv_loop_close(&h->loop);
        buf_free(&h->cin);
        free(h);
        return NULL;
    }
    return h;
}

void ha_stop(ha_t *h) {
    if (!h || h->joined) return;
    atomic_store(&h->stop, 1);
    uv_async_send(&h->async);
    uv_thread_join(&h->thread);
    h->joined = 1;
    if (uv_loop_close(&h->loop) != 0) log_warn("%s: loop closed with handles open", h->name);
    /* waits queued after the thread's last look */
    take_incoming(h);
    complete_waiters(h, 1);
}

void ha_free(ha_t *h) {
    if (!h) return;
    ha_stop(h);
    buf_free(&h->cin);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int ha_port(const ha_t *h) { return h ? h->port : 0; }

void ha_notify(ha_t *h) {
    if (h && atomic_load_explicit(&h->nslaves, memory_order_relaxed) > 0 && !atomic_load(&h->dead))
        uv_async_send(&h->async);
}

int ha_slave_count(ha_t *h) { return h ? atomic_load(&h->nslaves) : 0; }
int64_t ha_ack_offset(ha_t *h) { return h ? atomic_load(&h->ack_max) : -1; }

int ha_slave_ok(ha_t *h, int64_t put_where) {
    if (!h || atomic_load(&h->nslaves) == 0) return 0;
    return put_where - atomic_load(&h->ack_max) < h->o.fallbehind_max;
}

void ha_wait(ha_t *h, int64_t upto, int timeout_ms, ha_wait_cb cb, void *arg) {
    if (upto <= atomic_load(&h->ack_max)) {
        cb(arg, HA_OK);
        return;
    }
    waiter_t *w = xcalloc(1, sizeof(*w));
    w->upto = upto;
    w->deadline = mono_ms() + timeout_ms;
    w->cb = cb;
    w->arg = arg;
    pthread_mutex_lock(&h->mu);
    int dead = atomic_load(&h->dead);
    if (!dead) {
        w->next = h->incoming;
        h->incoming = w;
    }
    pthread_mutex_unlock(&h->mu);
    if (dead) {
        cb(arg, HA_TIMEOUT);
        free(w);
        return;
    }
    uv_async_send(&h->async);
}

void ha_set_master(ha_t *h, const char *addr) {
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    int changed = strcmp(h->want_master, addr ? addr : "") != 0;
    if (changed) {
        snprintf(h->want_master, sizeof(h->want_master), "%s", addr ? addr : "");
        h->master_changed = 1;
    }
    pthread_mutex_unlock(&h->mu);
    if (changed) uv_async_send(&h->async);
}

int ha_connected(ha_t *h) { return h ? atomic_load(&h->connected) : 0; }

void ha_get_stats(ha_t *h, ha_stats_t *st) {
    memset(st, 0, sizeof(*st));
    if (!h) return;
    st->bytes_sent = atomic_load(&h->bytes_sent);
    st->bytes_received = atomic_load(&h->bytes_received);
    st->frames_sent = atomic_load(&h->frames_sent);
    st->frames_received = atomic_load(&h->frames_received);
    st->slaves = atomic_load(&h->nslaves);
    st->ack_offset = atomic_load(&h->ack_max);
    st->connected = atomic_load(&h->connected);
}
