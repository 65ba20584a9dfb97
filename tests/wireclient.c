/*
 * wireclient: see wireclient.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "wireclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

int wc_connect(wc_t *c, int port) {
    memset(c, 0, sizeof(*c));
    c->next_opaque = 1;
    buf_init(&c->in);
    buf_init(&c->frame);
    buf_init(&c->scratch);
    buf_init(&c->out);
    c->fd = tu_connect(port);
    return c->fd >= 0 ? 0 : -1;
}

void wc_close(wc_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->frame);
    buf_free(&c->scratch);
    buf_free(&c->out);
}

int wc_send_raw(wc_t *c, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int32_t wc_send(wc_t *c, int32_t code, int oneway, const char *const *ext, const void *body,
                size_t body_len) {
    int32_t opaque = c->next_opaque++;
    rm_enc_t e;
    buf_reset(&c->out);
    rm_enc_begin(&e, &c->out, c->ser, code, opaque, oneway ? RM_FLAG_ONEWAY : 0, NULL);
    for (int i = 0; ext && ext[i]; i += 2) rm_enc_ext(&e, ext[i], ext[i + 1]);
    if (body_len) rm_enc_body(&e, body, body_len);
    rm_enc_end(&e);
    if (wc_send_raw(c, c->out.data, c->out.len) != 0) return -1;
    return opaque;
}

/* Fills c->in up to at least `need` bytes. 0, or -1 on timeout/EOF. */
static int fill(wc_t *c, size_t need, int64_t deadline) {
    while (c->in.len < need) {
        int left = (int)(deadline - tu_now_ms());
        if (left <= 0) return -1;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        uint8_t *dst = buf_reserve(&c->in, 65536);
        ssize_t r = recv(c->fd, dst, 65536, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c->in.len += (size_t)r;
    }
    return 0;
}

int wc_read(wc_t *c, rm_cmd_t *cmd, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    if (fill(c, 4, deadline) != 0) return -1;
    uint32_t flen;
    char err[256];
    if (rm_frame_length(c->in.data, c->in.len, RM_DEFAULT_MAX_FRAME, &flen, err, sizeof(err)) ==
        RM_EFRAME)
        return -2;
    if (fill(c, 4 + (size_t)flen, deadline) != 0) return -1;
    buf_reset(&c->frame);
    buf_append(&c->frame, c->in.data + 4, flen);
    memmove(c->in.data, c->in.data + 4 + flen, c->in.len - 4 - flen);
    c->in.len -= 4 + (size_t)flen;
    rm_status_t st = rm_decode(c->frame.data, flen, &c->scratch, cmd, err, sizeof(err));
    if (st != RM_OK) {
        fprintf(stderr, "wireclient: undecodable frame: %s\n", err);
        return -2;
    }
    return 0;
}

int wc_call(wc_t *c, int32_t code, const char *const *ext, const void *body, size_t body_len,
            rm_cmd_t *resp, int timeout_ms) {
    int32_t op = wc_send(c, code, 0, ext, body, body_len);
    if (op < 0) return -1;
    for (;;) {
        int rc = wc_read(c, resp, timeout_ms);
        if (rc != 0) return -1;
        if (rm_is_response(resp) && resp->opaque == op) return 0;
    }
}

int wc_wait_closed(wc_t *c, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    uint8_t tmp[4096];
    while (tu_now_ms() < deadline) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(deadline - tu_now_ms()));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return 0;
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) return 1;
    }
    return 0;
}

char *wc_body_str(const rm_cmd_t *cmd) {
    char *s = malloc(cmd->body_len + 1);
    if (cmd->body_len) memcpy(s, cmd->body, cmd->body_len);
    s[cmd->body_len] = 0;
    return s;
}

void wc_register_body(buf_t *out, int64_t counter, const char *const *topics) {
    buf_printf(out,
               "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":"
               "{\"counter\":%lld,\"stateVersion\":0,\"timestamp\":1700000000000},"
               "\"topicConfigTable\":{",
               (long long)counter);
    for (int i = 0; topics && topics[i]; i++) {
        char name[256];
        int r = 4, w = 4, perm = 6;
        if (sscanf(topics[i], "%255[^:]:%d:%d:%d", name, &r, &w, &perm) < 1) continue;
        buf_printf(out,
                   "%s\"%s\":{\"attributes\":{},\"order\":false,\"perm\":%d,\"readQueueNums\":%d,"
                   "\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"%s\",\"topicSysFlag\":0,"
                   "\"writeQueueNums\":%d}",
                   i ? "," : "", name, perm, r, name, w);
    }
    buf_append_str(out, "},\"topicQueueMappingInfoMap\":{}}}");
}

pid_t wc_spawn_namesrv(int port, const char *kv, const char *const *extra, const char *logpath) {
    char portarg[64], kvarg[1024];
    const char *argv[32];
    int n = 0;
    argv[n++] = tu_bin();
    argv[n++] = "namesrv";
    snprintf(portarg, sizeof(portarg), "--listenPort=%d", port);
    argv[n++] = portarg;
    argv[n++] = "--listenAddr=127.0.0.1";
    if (kv) {
        snprintf(kvarg, sizeof(kvarg), "--kvConfigPath=%s", kv);
        argv[n++] = kvarg;
    }
    for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = tu_spawn((char *const *)argv, logpath);
    if (tu_wait_port(port, 10000) != 0) {
        tu_stop(pid, 9, 2000);
        return -1;
    }
    return pid;
}
