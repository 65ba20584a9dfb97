/*
 * bench_remoting: round trips through the remoting client and server over
 * 127.0.0.1 (server loop on one thread, client I/O thread, the caller): a
 * SEND_MESSAGE_V2-shaped request with a small body, answered by a handler that
 * writes a three-field reply, with a window of requests in flight.
 * Built on demand: `cmake --build build --target bench_remoting`.
 * Usage: bench_remoting [requests] [window] [json|binary]
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "remoting/remoting.h"

static uv_loop_t g_loop;
static uv_async_t g_stop;
static rm_server_t *g_srv;
static atomic_int g_ready;

static void h_send(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "msgId", "7F00000100002A9F0000000000001234");
    rm_enc_ext(&e, "queueId", rm_ext_get(req, "e") ? rm_ext_get(req, "e") : "0");
    rm_enc_ext_i64(&e, "queueOffset", req->opaque);
    rm_enc_end(&e);
}

static void on_stop(uv_async_t *a) {
    rm_server_close(g_srv, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void server_main(void *arg) {
    rm_server_opts_t o = {.name = "bench"};
    g_srv = rm_server_create(&g_loop, &o);
    rm_server_handle(g_srv, SEND_MESSAGE_V2, h_send, NULL);
    if (rm_server_listen(g_srv, "127.0.0.1", 0) != 0) abort();
    atomic_store(&g_ready, 1);
    uv_run(&g_loop, UV_RUN_DEFAULT);
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static long g_inflight, g_done, g_errors;

static void on_resp(int status, rm_cmd_t *resp, void *arg) {
    pthread_mutex_lock(&g_mu);
    if (status != 0 || resp->code != SUCCESS) g_errors++;
    g_inflight--;
    g_done++;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long window = argc > 2 ? atol(argv[2]) : 256;
    int ser = argc > 3 && strcmp(argv[3], "binary") == 0 ? RM_SER_ROCKETMQ : RM_SER_JSON;
    uv_loop_init(&g_loop);
    uv_async_init(&g_loop, &g_stop, on_stop);
    uv_thread_t th;
    uv_thread_create(&th, server_main, NULL);
    while (!atomic_load(&g_ready)) uv_sleep(1);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", rm_server_port(g_srv, 0));
    rm_client_opts_t co = {.ser = ser};
    rm_client_t *cli = rm_client_create(&co);
    const char *ext[] = {"a", "bench_group", "b", "BenchTopic", "c", "TBW102", "d", "4", "e", "1",
                         "f", "0", "g", "1700000000000", "h", "0",
                         "i", "UNIQ_KEY\0017F0000010A2B18B4AAC2123456780000\002WAIT\001true\002",
                         "j", "0", "k", "false", NULL};
    char body[128];
    memset(body, 'x', sizeof(body));
    rm_request_t req = {.code = SEND_MESSAGE_V2, .ext = ext, .body = body, .body_len = sizeof(body)};
    int64_t t0 = mono_ns();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&g_mu);
        while (g_inflight >= window) pthread_cond_wait(&g_cv, &g_mu);
        g_inflight++;
        pthread_mutex_unlock(&g_mu);
        if (rm_client_invoke_async(cli, addr, &req, 30000, on_resp, NULL) != 0) abort();
    }
    pthread_mutex_lock(&g_mu);
    while (g_done < n) pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    int64_t t1 = mono_ns();
    double s = (double)(t1 - t0) / 1e9;
    printf("%ld %s requests, window %ld: %.2f s, %.0f req/s, %ld errors\n", n,
           ser ? "ROCKETMQ" : "JSON", window, s, n / s, g_errors);
    rm_client_destroy(cli);
    uv_async_send(&g_stop);
    uv_thread_join(&th);
    uv_loop_close(&g_loop);
    return g_errors ? 1 : 0;
}
