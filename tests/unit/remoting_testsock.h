/* Raw-socket peer helpers shared by the remoting tests (header-only). */
#ifndef PETREL_REMOTING_TESTSOCK_H
#define PETREL_REMOTING_TESTSOCK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "remoting/remoting.h"
#include "../testutil.h"

typedef struct tsock_s {
    int fd;
    uint8_t *buf;   /* received, not yet returned */
    size_t len;
    size_t cap;
    buf_t scratch;
    uint8_t *frame; /* the last frame returned by ts_read */
} tsock_t;

static inline tsock_t *ts_connect(int port) {
    int fd = tu_connect(port);
    if (fd < 0) return NULL;
    tsock_t *s = calloc(1, sizeof(*s));
    s->fd = fd;
    s->cap = 1 << 16;
    s->buf = malloc(s->cap);
    buf_init(&s->scratch);
    return s;
}

static inline void ts_close(tsock_t *s) {
    if (!s) return;
    close(s->fd);
    free(s->buf);
    free(s->frame);
    buf_free(&s->scratch);
    free(s);
}

static inline void ts_send(tsock_t *s, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(s->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        b += w;
        n -= (size_t)w;
    }
}

/* Reads more bytes within timeout_ms; returns >0 bytes, 0 on EOF, -1 on timeout/error. */
static inline int ts_fill(tsock_t *s, int timeout_ms) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc <= 0) return -1;
    if (s->len == s->cap) {
        s->cap *= 2;
        s->buf = realloc(s->buf, s->cap);
    }
    ssize_t r = recv(s->fd, s->buf + s->len, s->cap - s->len, 0);
    if (r < 0) return errno == ECONNRESET ? 0 : -1;
    s->len += (size_t)r;
    return (int)r;
}

/* Reads one frame and decodes it into c. 0 ok, 1 peer closed, -1 timeout/undecodable. */
static inline int ts_read(tsock_t *s, rm_cmd_t *c, int timeout_ms) {
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (s->len >= 4) {
            uint32_t l = be32_get(s->buf);
            if (s->len >= 4 + (size_t)l) {
                free(s->frame);
                s->frame = malloc(l + 1);
                memcpy(s->frame, s->buf + 4, l);
                memmove(s->buf, s->buf + 4 + l, s->len - 4 - l);
                s->len -= 4 + l;
                char err[160];
                return rm_decode(s->frame, l, &s->scratch, c, err, sizeof(err)) == RM_OK ? 0 : -1;
            }
        }
        int left = (int)(deadline - mono_ms());
        if (left <= 0) return -1;
        int r = ts_fill(s, left);
        if (r == 0) return 1;
        if (r < 0) return -1;
    }
}

/* Waits for the peer to close (EOF) within timeout_ms, discarding any data. */
static inline int ts_wait_closed(tsock_t *s, int timeout_ms) {
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0) return 0;
        s->len = 0;
        int r = ts_fill(s, left);
        if (r == 0) return 1;
        if (r < 0 && mono_ms() >= deadline) return 0;
    }
}

/* Encodes a request frame into b (reset first). */
static inline void ts_req(buf_t *b, int ser, int32_t code, int32_t opaque, int32_t flag,
                          const char *k, const char *v, const char *body) {
    b->len = 0;
    rm_enc_t e;
    rm_enc_begin_ex(&e, b, ser, code, opaque, flag, NULL, LANG_GO, 317);
    if (k) rm_enc_ext(&e, k, v);
    if (body) rm_enc_body(&e, body, strlen(body));
    rm_enc_end(&e);
}

#endif
