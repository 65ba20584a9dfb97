/*
 * http: a small wrapper over libmicrohttpd for the metrics endpoint and the
 * console: one handler function per server, request bodies collected up to
 * HTTP_MAX_BODY, responses built in a buf_t.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"

#define HTTP_MAX_BODY (8u << 20)

struct http_server_s {
    struct MHD_Daemon *d;
    http_handler_fn fn;
    void *arg;
    int port;
};

typedef struct conn_state_s {
    buf_t body;
    int too_big;
} conn_state_t;

const char *http_arg(const http_req_t *r, const char *key) {
    return MHD_lookup_connection_value((struct MHD_Connection *)r->mhd_conn, MHD_GET_ARGUMENT_KIND,
                                       key);
}

const char *http_header(const http_req_t *r, const char *key) {
    return MHD_lookup_connection_value((struct MHD_Connection *)r->mhd_conn, MHD_HEADER_KIND, key);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    http_server_t *s = cls;
    conn_state_t *st = *con_cls;
    if (!st) {
        st = xcalloc(1, sizeof(*st));
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (st->body.len + *upload_data_size > HTTP_MAX_BODY) st->too_big = 1;
        else buf_append(&st->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    http_resp_t resp = {.status = 200, .ctype = "text/plain; charset=utf-8"};
    buf_init(&resp.body);
    if (st->too_big) {
        resp.status = 413;
        buf_append_str(&resp.body, "request body too large\n");
    } else {
        buf_put_u8(&st->body, 0);
        st->body.len--;
        http_req_t r = {method, url, st->body.data, st->body.len, c};
        s->fn(&r, &resp, s->arg);
    }
    struct MHD_Response *mr;
    if (resp.static_body) {
        mr = MHD_create_response_from_buffer(resp.static_len, (void *)resp.static_body,
                                             MHD_RESPMEM_PERSISTENT);
        buf_free(&resp.body);
    } else {
        size_t len = resp.body.len;
        uint8_t *data = buf_steal(&resp.body, &len);
        mr = MHD_create_response_from_buffer(len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE
                                                                        : MHD_RESPMEM_PERSISTENT);
    }
    if (!mr) return MHD_NO;
    MHD_add_response_header(mr, "Content-Type", resp.ctype);
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)resp.status, mr);
    MHD_destroy_response(mr);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    conn_state_t *st = *con_cls;
    if (!st) return;
    buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    log_debug("http: %s", msg);
}

http_server_t *http_start(const char *host, int port, int flags, http_handler_fn fn, void *arg,
                          char *err, size_t errlen) {
    http_server_t *s = xcalloc(1, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (host && *host && inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "bad HTTP listen address %s", host);
        free(s);
        return NULL;
    }
    /* poll(), not select(): a broker may hold far more than FD_SETSIZE descriptors. */
    unsigned mf = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (flags & HTTP_THREAD_PER_CONNECTION) mf |= MHD_USE_THREAD_PER_CONNECTION;
    s->d = MHD_start_daemon(mf, (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%d", host && *host ? host : "0.0.0.0",
                 port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    return s;
}

int http_port(const http_server_t *s) { return s ? s->port : 0; }

void http_stop(http_server_t *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}
