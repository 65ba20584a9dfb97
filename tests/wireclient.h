/*
 * wireclient: a blocking RocketMQ remoting client for tests and load
 * generators. Frames are built with the rm_enc_* encoder and replies decoded
 * with rm_frame_length/rm_decode, over a plain socket to 127.0.0.1, so tests
 * see exactly the bytes the server sends.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTS_WIRECLIENT_H
#define PETREL_TESTS_WIRECLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "remoting/remoting.h"

typedef struct wc_s {
    int fd;
    int32_t next_opaque;
    int ser;       /* RM_SER_JSON (default) or RM_SER_ROCKETMQ for requests */
    buf_t in;      /* bytes read, not yet consumed */
    buf_t frame;   /* the current reply frame (rm_cmd_t points here) */
    buf_t scratch; /* decoder scratch */
    buf_t out;     /* encoder output */
} wc_t;

/* Connects to 127.0.0.1:port. 0 or -1. */
int wc_connect(wc_t *c, int port);
void wc_close(wc_t *c);
/* Writes raw bytes (malformed-input tests). 0 or -1. */
int wc_send_raw(wc_t *c, const void *p, size_t n);
/* Encodes a request (ext = key, value, ..., NULL) and writes it; returns its opaque. */
int32_t wc_send(wc_t *c, int32_t code, int oneway, const char *const *ext, const void *body,
                size_t body_len);
/*
 * Reads the next frame within timeout_ms: 0 and *cmd (valid until the next
 * read on c), -1 on timeout/EOF/error, -2 when the frame does not decode.
 */
int wc_read(wc_t *c, rm_cmd_t *cmd, int timeout_ms);
/* wc_send + reads until the reply with that opaque. 0 or -1. */
int wc_call(wc_t *c, int32_t code, const char *const *ext, const void *body, size_t body_len,
            rm_cmd_t *resp, int timeout_ms);
/* Waits until the peer closes the connection: 1 closed, 0 still open at timeout. */
int wc_wait_closed(wc_t *c, int timeout_ms);
/* The body of cmd as a NUL-terminated malloc'd string (caller frees). */
char *wc_body_str(const rm_cmd_t *cmd);

/* Builds a RegisterBrokerBody JSON: topics "name:read:write:perm" entries, NULL-terminated. */
void wc_register_body(buf_t *out, int64_t counter, const char *const *topics);

/*
 * Starts `petrel namesrv` on port with kvConfigPath=kv (may be NULL) and the
 * extra --key=value args (NULL-terminated, may be NULL), logging to logpath;
 * waits until the port accepts. Returns the pid or -1.
 */
pid_t wc_spawn_namesrv(int port, const char *kv, const char *const *extra, const char *logpath);

#endif
