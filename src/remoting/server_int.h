/*
 * server_int: the server's and connection's private structures, shared by
 * server.c (listening, dispatch, timers) and conn.c (connection I/O).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_RM_SERVER_INT_H
#define PETREL_RM_SERVER_INT_H

#include "remoting/rm_internal.h"

#define RM_SMALL_CODES 1024
#define RM_MAX_LISTEN 8
#define RM_CLOSE_GRACE_MS 5000 /* a graceful close that has not flushed by then is forced */

/* A piece of a write: bytes in the write's own buffer, or a zero-copy reference. */
typedef struct out_seg_s {
    const uint8_t *ptr;        /* reference, or NULL for bytes of data at off */
    size_t off;                /* offset into data (copy segments) */
    size_t len;                /* bytes */
    void (*release)(void *);   /* reference release, may be NULL */
    void *arg;                 /* its argument */
} out_seg_t;

/* Replies being coalesced, then one uv_write. */
typedef struct wreq_s {
    uv_write_t req;            /* the libuv request (req.data unused) */
    rm_conn_t *conn;           /* owner */
    buf_t data;                /* encoded frames */
    size_t cut;                /* start of the bytes not yet in a segment */
    size_t ref_bytes;          /* referenced bytes staged */
    out_seg_t *segs;           /* only when references are present */
    uint32_t nsegs;            /* segments used */
    uint32_t segcap;           /* segments allocated */
    uv_buf_t *bufs;            /* built at flush */
    uint32_t bufcap;           /* bufs allocated */
} wreq_t;

#define CONN_IN_READ 0x1       /* inside this connection's read batch: flush at its end */
#define CONN_CLOSING 0x2       /* no more input; close once the output is written */
#define CONN_CLOSED 0x4        /* uv_close issued */
#define CONN_QUEUED 0x8        /* in the server's flush list (holds a reference) */

struct rm_conn_s {
    uv_tcp_t tcp;              /* the socket; tcp.data = this */
    rm_server_t *srv;          /* owner; NULL once closed (the server may be gone) */
    uint64_t id;               /* process-unique id */
    int refs;                  /* 1 while open + rm_conn_retain + internal holds */
    unsigned flags;            /* CONN_* */
    rm_conn_t *prev, *next;    /* server's connection list */
    rm_conn_t *flush_next;     /* server's flush list */
    buf_t in;                  /* received bytes not yet consumed */
    buf_t scratch;             /* decoder scratch (unescaped strings) */
    wreq_t *staging;           /* output being built (NULL when none) */
    wreq_t *spare;             /* one recycled write request */
    int writes_inflight;       /* uv_write calls not yet completed */
    uint64_t last_active;      /* uv_now of the last read or write */
    uint64_t close_started;    /* uv_now of rm_conn_close */
    uint8_t lang;              /* of the latest request */
    uint8_t ser;               /* of the latest request (server requests use it) */
    int32_t version;           /* of the latest request */
    void *data;                /* user pointer */
    char peer[64];             /* "ip:port" */
    char local[64];            /* "ip:port" */
};

typedef struct handler_s {
    rm_handler_fn fn;
    void *ctx;
} handler_t;

typedef struct big_handler_s {
    int code;
    handler_t h;
} big_handler_t;

/* An outstanding server-initiated request waiting for its response. */
typedef struct rm_pending_s {
    struct rm_pending_s *prev, *next;
    rm_conn_t *conn;           /* not retained: failed when the connection closes */
    int32_t opaque;
    uint64_t deadline;         /* uv_now based */
    rm_response_cb cb;
    void *arg;
} rm_pending_t;

typedef struct listener_s {
    uv_tcp_t tcp;
    rm_server_t *srv;
} listener_t;

struct rm_server_s {
    uv_loop_t *loop;
    char name[32];
    uint32_t max_frame;
    int64_t idle_ms;           /* <= 0: never */
    handler_t small[RM_SMALL_CODES];
    big_handler_t *big;
    int nbig, bigcap;
    handler_t deflt;
    rm_close_fn on_close;
    void *on_close_ctx;
    rm_observe_fn observe;     /* metrics; NULL = none */
    void *observe_ctx;
    int32_t cur_resp;          /* first reply code of the running handler, -1 none */
    listener_t *listeners[RM_MAX_LISTEN];
    int ports[RM_MAX_LISTEN];
    int nlisten;
    rm_conn_t *conns;          /* list head */
    int nconns;
    rm_conn_t *flushq;         /* connections with output produced outside their read */
    uv_prepare_t prep;
    uv_check_t check;
    uv_timer_t idle_timer;
    uv_timer_t pend_timer;
    rm_pending_t pend;         /* sentinel of the pending list */
    int npend;
    int32_t next_opaque;
    int closing;
    int open_handles;
    void (*done)(rm_server_t *, void *);
    void *done_arg;
};

/* conn.c */
rm_conn_t *rm__conn_new(rm_server_t *srv);
void rm__conn_start(rm_conn_t *conn);
void rm__conn_close_now(rm_conn_t *conn);
/* rm_conn_close without the log line (the caller logged the reason). */
void rm__conn_close_graceful(rm_conn_t *conn);
void rm__conn_flush(rm_conn_t *conn);
wreq_t *rm__conn_staging(rm_conn_t *conn);
/* server.c */
void rm__server_frame(rm_conn_t *conn, const uint8_t *frame, uint32_t len);
void rm__server_conn_closed(rm_conn_t *conn);
void rm__server_queue_flush(rm_conn_t *conn);

#endif
