/*
 * metrics: Prometheus exposition for Petrel's servers. Four pieces:
 *   - the text format 0.0.4 writer (HELP/TYPE lines, escaped labels),
 *   - fixed-bucket histograms and a log-bucket latency recorder with
 *     quantiles, both plain structs owned by one thread (no locks, no atomics:
 *     the broker counts on its loop thread and renders there too),
 *   - an embedded HTTP server (libmicrohttpd, threads of its own), shared
 *     with the console,
 *   - a bridge that runs a render function on a libuv loop thread and hands
 *     the text to the HTTP thread, so scrape-time gauges read loop-owned
 *     state without locks.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_METRICS_H
#define PETREL_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

/* ---- text format ---- */

typedef struct pm_label_s {
    const char *k;
    const char *v;
} pm_label_t;

/* "# HELP name help\n# TYPE name type\n" (help escaped as the format says). */
void pm_family(buf_t *o, const char *name, const char *type, const char *help);
/* name{k="v",...} value; labels a then b (either may be NULL/0), values escaped. */
void pm_sample_i64(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                   int nb, int64_t v);
void pm_sample_f(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                 int nb, double v);
/* Appends s with \\, \" and \n escaped (label values). */
void pm_escape(buf_t *o, const char *s);

/* ---- histograms (single-owner) ---- */

#define PM_HIST_MAX 16
typedef struct pm_hist_s {
    const double *bounds;     /* upper bounds, ascending, nb of them (+Inf implied) */
    int nb;
    uint64_t counts[PM_HIST_MAX + 1]; /* per bucket, not cumulative; last = overflow */
    uint64_t count;
    double sum;
} pm_hist_t;

void pm_hist_init(pm_hist_t *h, const double *bounds, int nb);
static inline void pm_hist_observe(pm_hist_t *h, double v) {
    int i = 0;
    while (i < h->nb && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}
/* name_bucket{...,le="x"} (cumulative), name_sum, name_count. */
void pm_hist_write(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                   int nb, const pm_hist_t *h);

/* Latency recorder: 4 buckets per power of two of microseconds, for quantiles. */
#define PM_LAT_BUCKETS 112
typedef struct pm_lat_s {
    uint64_t counts[PM_LAT_BUCKETS];
    uint64_t count;
    uint64_t sum_us;
} pm_lat_t;
void pm_lat_observe(pm_lat_t *l, uint64_t us);
/* Upper bound (µs) of the bucket holding quantile q (0..1); 0 when empty. */
double pm_lat_quantile(const pm_lat_t *l, double q);

/* ---- rocketmq_rpc_latency (single-owner) ---- */

/* Request handling time by (request code, response code), RocketMQ 5's buckets (ms). */
typedef struct pm_rpc_s pm_rpc_t;
pm_rpc_t *pm_rpc_new(void);
void pm_rpc_free(pm_rpc_t *r);
/* Feed from an rm_observe_fn; resp < 0 (deferred reply) is ignored. */
void pm_rpc_observe(pm_rpc_t *r, int32_t req, int32_t resp, uint64_t ns);
/* The whole rocketmq_rpc_latency family (labels: a, protocol_type, request_code, response_code). */
void pm_rpc_write(buf_t *o, const pm_rpc_t *r, const pm_label_t *a, int na);

/* ---- process ---- */

/* Resident set size in bytes (/proc/self/statm), or -1. */
int64_t pm_process_rss(void);
/* Open file descriptors (/proc/self/fd), or -1. */
int64_t pm_process_open_fds(void);
/* The process_* families (memory, descriptors, start time) of a server ("broker",
 * "NameServer": its name in the help text) started at start_ms. */
void pm_process_write(buf_t *o, const char *server, int64_t start_ms);

/* ---- HTTP (libmicrohttpd) ---- */

typedef struct http_server_s http_server_t;

typedef struct http_req_s {
    const char *method;       /* "GET", "POST", ... */
    const char *url;          /* path, without the query string */
    const uint8_t *body;      /* request body (POST/PUT), NUL-terminated; len in body_len */
    size_t body_len;
    void *mhd_conn;           /* private */
} http_req_t;

typedef struct http_resp_s {
    int status;               /* default 200 */
    const char *ctype;        /* default "text/plain; charset=utf-8" */
    buf_t body;
    const void *static_body;  /* instead of body: bytes that outlive the response */
    size_t static_len;
} http_resp_t;

/* Query-string argument, or NULL. */
const char *http_arg(const http_req_t *r, const char *key);
/* Request header, or NULL. */
const char *http_header(const http_req_t *r, const char *key);

/* Runs on an HTTP thread; fill resp. */
typedef void (*http_handler_fn)(const http_req_t *r, http_resp_t *resp, void *arg);

#define HTTP_THREAD_PER_CONNECTION 1 /* handlers may block (the console); else one thread */
/*
 * Listens on host:port (host NULL = all addresses; port 0 = ephemeral) and
 * serves every request with fn. Returns NULL with a message in err.
 */
http_server_t *http_start(const char *host, int port, int flags, http_handler_fn fn, void *arg,
                          char *err, size_t errlen);
int http_port(const http_server_t *s);
/* Stops listening, waits for the running handlers, frees. NULL ok. */
void http_stop(http_server_t *s);

/* ---- loop bridge ---- */

typedef void (*pm_render_fn)(buf_t *out, void *arg);

typedef struct pm_bridge_s {
    uv_async_t async;
    pthread_mutex_t mu;       /* guards everything below */
    pthread_cond_t cv;
    pthread_mutex_t call_mu;  /* one call at a time */
    int closed;
    buf_t *target;            /* the pending call's output, NULL when none */
    int done;
    pm_render_fn render;
    void *arg;
} pm_bridge_t;

/* On the loop thread. 0 or a libuv error. */
int pm_bridge_init(pm_bridge_t *br, uv_loop_t *loop, pm_render_fn render, void *arg);
/* Any other thread: runs render(out, arg) on the loop thread and waits for it.
 * 0, or -1 when the loop did not answer in timeout_ms or the bridge is closed. */
int pm_bridge_call(pm_bridge_t *br, buf_t *out, int timeout_ms);
/* On the loop thread: closes the async handle (closed_cb, may be NULL, gets &br->async
 * once it is closed); later and waiting calls fail at once. */
void pm_bridge_close(pm_bridge_t *br, uv_close_cb closed_cb);
/* After the loop has ended (handle closed): frees the locks. */
void pm_bridge_destroy(pm_bridge_t *br);

#endif
