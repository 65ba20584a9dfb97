/*
 * conn: one server connection's I/O. Input accumulates in one buffer that
 * holds partial frames and yields many frames per read; output (replies) is
 * encoded straight into a staging write request and leaves in a single
 * uv_write per read batch (or per loop iteration for replies produced
 * elsewhere), with zero-copy body references as extra uv_buf_t entries.
 *
 * Lifetime: the open socket holds one reference; uv_close's callback drops
 * it, so memory is never freed inside a callback of the connection itself.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "remoting/server_int.h"

#define READ_CHUNK 65536
#define KEEP_BUF_MAX (1u << 20) /* buffers above this are not kept between frames */

static _Atomic uint64_t g_conn_ids;

/* ---- write requests ---------------------------------------------------- */

static void wreq_release_refs(wreq_t *w) {
    for (uint32_t i = 0; i < w->nsegs; i++) {
        out_seg_t *s = &w->segs[i];
        if (s->ptr && s->release) s->release(s->arg);
    }
    w->nsegs = 0;
}

static void wreq_reset(wreq_t *w) {
    w->data.len = 0;
    w->cut = 0;
    w->ref_bytes = 0;
    w->nsegs = 0;
}

static void wreq_free(wreq_t *w) {
    if (!w) return;
    wreq_release_refs(w);
    buf_free(&w->data);
    free(w->segs);
    free(w->bufs);
    free(w);
}

static void wreq_recycle(rm_conn_t *conn, wreq_t *w) {
    wreq_release_refs(w);
    if (!conn->spare && w->data.cap <= KEEP_BUF_MAX) {
        wreq_reset(w);
        conn->spare = w;
    } else {
        wreq_free(w);
    }
}

static out_seg_t *push_seg(wreq_t *w) {
    if (w->nsegs == w->segcap) {
        w->segcap = w->segcap ? w->segcap * 2 : 8;
        w->segs = xrealloc(w->segs, w->segcap * sizeof(*w->segs));
    }
    return &w->segs[w->nsegs++];
}

static void cut_copy(wreq_t *w) {
    if (w->data.len > w->cut) {
        out_seg_t *s = push_seg(w);
        s->ptr = NULL;
        s->off = w->cut;
        s->len = w->data.len - w->cut;
        s->release = NULL;
        s->arg = NULL;
        w->cut = w->data.len;
    }
}

wreq_t *rm__conn_staging(rm_conn_t *conn) {
    if (!conn->staging) {
        wreq_t *w = conn->spare;
        if (w) conn->spare = NULL;
        else w = xcalloc(1, sizeof(*w));
        wreq_reset(w);
        w->conn = conn;
        conn->staging = w;
    }
    return conn->staging;
}

void rm__conn_body_ref(rm_conn_t *conn, const void *p, size_t n, void (*release)(void *),
                       void *arg) {
    wreq_t *w = conn->staging;
    PETREL_ASSERT(w != NULL);
    cut_copy(w);
    out_seg_t *s = push_seg(w);
    s->ptr = p;
    s->off = 0;
    s->len = n;
    s->release = release;
    s->arg = arg;
    w->ref_bytes += n;
}

void rm__conn_frame_done(rm_conn_t *conn) {
    if (!(conn->flags & CONN_IN_READ)) rm__server_queue_flush(conn);
}

static void on_write(uv_write_t *req, int status) {
    wreq_t *w = (wreq_t *)req;
    rm_conn_t *conn = w->conn;
    conn->writes_inflight--;
    conn->last_active = uv_now(conn->tcp.loop);
    wreq_recycle(conn, w);
    if (status < 0 && status != UV_ECANCELED && !(conn->flags & CONN_CLOSED)) {
        log_debug("%s: write to %s failed: %s", conn->srv->name, conn->peer, uv_strerror(status));
        rm__conn_close_now(conn);
        return;
    }
    if ((conn->flags & CONN_CLOSING) && !(conn->flags & CONN_CLOSED) && conn->writes_inflight == 0)
        rm__conn_close_now(conn);
}

void rm__conn_flush(rm_conn_t *conn) {
    wreq_t *w = conn->staging;
    if (!w || (conn->flags & CONN_CLOSED)) return;
    if (w->data.len == 0 && w->nsegs == 0) return;
    conn->staging = NULL;
    uint32_t n;
    if (w->nsegs == 0) {
        if (w->bufcap < 1) {
            w->bufcap = 4;
            w->bufs = xrealloc(w->bufs, w->bufcap * sizeof(uv_buf_t));
        }
        w->bufs[0] = uv_buf_init((char *)w->data.data, (unsigned)w->data.len);
        n = 1;
    } else {
        cut_copy(w);
        if (w->bufcap < w->nsegs) {
            w->bufcap = w->nsegs;
            w->bufs = xrealloc(w->bufs, w->bufcap * sizeof(uv_buf_t));
        }
        for (n = 0; n < w->nsegs; n++) {
            out_seg_t *s = &w->segs[n];
            const uint8_t *p = s->ptr ? s->ptr : w->data.data + s->off;
            w->bufs[n] = uv_buf_init((char *)p, (unsigned)s->len);
        }
    }
    conn->writes_inflight++;
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, w->bufs, n, on_write);
    if (rc < 0) {
        conn->writes_inflight--;
        wreq_free(w);
        log_debug("%s: write to %s failed: %s", conn->srv->name, conn->peer, uv_strerror(rc));
        rm__conn_close_now(conn);
    }
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    rm_conn_t *conn = h->data;
    size_t want = READ_CHUNK;
    if (conn->in.len >= 4) {
        /* room for the rest of a large frame in one go */
        uint32_t l = be32_get(conn->in.data);
        if (l <= conn->srv->max_frame && (size_t)l + 4 > conn->in.len &&
            (size_t)l + 4 - conn->in.len > want)
            want = (size_t)l + 4 - conn->in.len;
    }
    uint8_t *p = buf_reserve(&conn->in, want);
    *out = uv_buf_init((char *)p, (unsigned)(conn->in.cap - conn->in.len));
}

static void process_input(rm_conn_t *conn) {
    rm_server_t *srv = conn->srv;
    size_t pos = 0;
    char err[160];
    while (!(conn->flags & (CONN_CLOSING | CONN_CLOSED))) {
        size_t avail = conn->in.len - pos;
        uint32_t l;
        rm_status_t st = rm_frame_length(conn->in.data + pos, avail, srv->max_frame, &l, err,
                                         sizeof(err));
        if (st == RM_NEED_MORE) break;
        if (st != RM_OK) {
            log_warn("%s: bad frame from %s, closing: %s", srv->name, conn->peer, err);
            rm__conn_close_graceful(conn);
            break;
        }
        if (avail < (size_t)l + 4) {
            buf_reserve(&conn->in, (size_t)l + 4 - avail);
            break;
        }
        rm__server_frame(conn, conn->in.data + pos + 4, l);
        pos += (size_t)l + 4;
    }
    if (pos) {
        memmove(conn->in.data, conn->in.data + pos, conn->in.len - pos);
        conn->in.len -= pos;
    }
    if (conn->in.cap > KEEP_BUF_MAX && conn->in.len < READ_CHUNK) {
        /* a big frame has passed: give the memory back */
        buf_t nb;
        buf_init(&nb);
        buf_append(&nb, conn->in.data, conn->in.len);
        buf_free(&conn->in);
        conn->in = nb;
    }
    if (conn->scratch.cap > KEEP_BUF_MAX) buf_free(&conn->scratch);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    rm_conn_t *conn = s->data;
    if (nread < 0) {
        if (nread == UV_EOF) {
            /* the peer is done sending: replies already queued still go out */
            rm__conn_close_graceful(conn);
            return;
        }
        log_debug("%s: read from %s failed: %s", conn->srv->name, conn->peer,
                  uv_strerror((int)nread));
        rm__conn_close_now(conn);
        return;
    }
    if (nread == 0) return;
    conn->in.len += (size_t)nread;
    conn->last_active = uv_now(conn->tcp.loop);
    rm_conn_retain(conn);
    conn->flags |= CONN_IN_READ;
    process_input(conn);
    conn->flags &= ~CONN_IN_READ;
    rm__conn_flush(conn);
    rm_conn_release(conn);
}

/* ---- lifetime ---------------------------------------------------------- */

rm_conn_t *rm__conn_new(rm_server_t *srv) {
    rm_conn_t *conn = xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->id = atomic_fetch_add(&g_conn_ids, 1) + 1;
    conn->refs = 1;
    conn->lang = LANG_OTHER;
    conn->ser = RM_SER_JSON;
    buf_init(&conn->in);
    buf_init(&conn->scratch);
    uv_tcp_init(srv->loop, &conn->tcp);
    conn->tcp.data = conn;
    return conn;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t n) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

void rm__conn_start(rm_conn_t *conn) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&ss, &len) == 0)
        addr_str(&ss, conn->peer, sizeof(conn->peer));
    len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (uv_tcp_getsockname(&conn->tcp, (struct sockaddr *)&ss, &len) == 0)
        addr_str(&ss, conn->local, sizeof(conn->local));
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->last_active = uv_now(conn->tcp.loop);
    uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
}

static void on_closed(uv_handle_t *h) {
    rm_conn_t *conn = h->data;
    rm__server_conn_closed(conn);
    rm_conn_release(conn);
}

void rm__conn_close_now(rm_conn_t *conn) {
    if (conn->flags & CONN_CLOSED) return;
    conn->flags |= CONN_CLOSED | CONN_CLOSING;
    uv_read_stop((uv_stream_t *)&conn->tcp);
    if (conn->staging) {
        wreq_free(conn->staging); /* releases zero-copy references */
        conn->staging = NULL;
    }
    uv_close((uv_handle_t *)&conn->tcp, on_closed);
}

void rm_conn_close(rm_conn_t *conn, const char *reason) {
    if (conn->flags & (CONN_CLOSING | CONN_CLOSED)) return;
    log_info("%s: closing connection %s: %s", conn->srv->name, conn->peer,
             reason ? reason : "closed");
    rm__conn_close_graceful(conn);
}

void rm__conn_close_graceful(rm_conn_t *conn) {
    if (conn->flags & (CONN_CLOSING | CONN_CLOSED)) return;
    conn->flags |= CONN_CLOSING;
    conn->close_started = uv_now(conn->tcp.loop);
    uv_read_stop((uv_stream_t *)&conn->tcp);
    rm__conn_flush(conn);
    if (conn->writes_inflight == 0) rm__conn_close_now(conn);
}

void rm_conn_retain(rm_conn_t *conn) { conn->refs++; }

void rm_conn_release(rm_conn_t *conn) {
    if (--conn->refs > 0) return;
    PETREL_ASSERT(conn->flags & CONN_CLOSED);
    wreq_free(conn->staging);
    wreq_free(conn->spare);
    buf_free(&conn->in);
    buf_free(&conn->scratch);
    free(conn);
}

int rm_conn_is_closed(const rm_conn_t *conn) {
    return (conn->flags & (CONN_CLOSING | CONN_CLOSED)) != 0;
}
const char *rm_conn_peer(const rm_conn_t *conn) { return conn->peer; }
const char *rm_conn_local(const rm_conn_t *conn) { return conn->local; }
int rm_conn_language(const rm_conn_t *conn) { return conn->lang; }
int rm_conn_version(const rm_conn_t *conn) { return conn->version; }
void rm_conn_set_data(rm_conn_t *conn, void *data) { conn->data = data; }
void *rm_conn_get_data(const rm_conn_t *conn) { return conn->data; }
uint64_t rm_conn_id(const rm_conn_t *conn) { return conn->id; }

size_t rm_conn_pending_bytes(const rm_conn_t *conn) {
    size_t n = conn->tcp.write_queue_size;
    if (conn->staging) n += conn->staging->data.len + conn->staging->ref_bytes;
    return n;
}
