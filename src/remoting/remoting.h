/*
 * remoting: RocketMQ's "remoting" protocol. This header is the whole
 * interface of src/remoting: the command model, the frame and header codecs
 * (JSON, T=0, and ROCKETMQ binary, T=1), the server and the client.
 *
 * Frame: [int32 L][int32 (T<<24)|H][header H bytes][body L-4-H bytes], all
 * big-endian, L excluding itself (remoting-protocol.md 1.2).
 *
 * Threading: the server runs on one libuv loop and calls every handler on
 * that loop's thread; rm_conn_* functions must be called on that thread. The
 * client owns an I/O thread of its own and its functions are thread-safe
 * unless stated otherwise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_REMOTING_H
#define PETREL_REMOTING_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "remoting/codes.h"

/* ---- the command model ------------------------------------------------- */

#define RM_SER_JSON 0
#define RM_SER_ROCKETMQ 1
#define RM_FLAG_RESPONSE 0x1
#define RM_FLAG_ONEWAY 0x2
#define RM_MAX_EXT 128                      /* extFields per header */
#define RM_DEFAULT_MAX_FRAME (16u << 20)    /* 16 MiB, Java's frameMaxLength */

/* One extFields entry. key and val are NUL-terminated; vlen excludes the NUL. */
typedef struct rm_ext_s {
    const char *key;
    const char *val;
    uint32_t vlen;
} rm_ext_t;

/*
 * A decoded RemotingCommand. Every pointer points into the frame buffer or the
 * decoder's scratch buffer: valid only while those live (for a server handler:
 * until the handler returns). Numbers and booleans that arrived as JSON
 * numbers/booleans in extFields are presented as their text ("3", "false").
 */
typedef struct rm_cmd_s {
    int32_t code;          /* request code, or response code for responses */
    int32_t opaque;        /* correlation id */
    int32_t flag;          /* RM_FLAG_* bits */
    int32_t version;       /* sender's MQVersion ordinal */
    uint8_t language;      /* LanguageCode */
    uint8_t serialize;     /* RM_SER_JSON or RM_SER_ROCKETMQ, as received */
    const char *remark;    /* NULL when absent or empty */
    uint32_t ext_count;
    rm_ext_t ext[RM_MAX_EXT];
    const uint8_t *body;   /* NULL when body_len == 0 */
    uint32_t body_len;
} rm_cmd_t;

static inline int rm_is_response(const rm_cmd_t *c) { return (c->flag & RM_FLAG_RESPONSE) != 0; }
static inline int rm_is_oneway(const rm_cmd_t *c) { return (c->flag & RM_FLAG_ONEWAY) != 0; }

/* extFields lookups (linear; headers are small). */
const char *rm_ext_get(const rm_cmd_t *c, const char *key);              /* NULL if absent */
/* 0 = ok, -1 = absent, -2 = present but not a valid integer / boolean. */
int rm_ext_i64(const rm_cmd_t *c, const char *key, int64_t *out);
int rm_ext_i32(const rm_cmd_t *c, const char *key, int32_t *out);
/* Booleans: "true"/"1" are true, "false"/"0" false (C++ clients send "1"/"0"). */
int rm_ext_bool(const rm_cmd_t *c, const char *key, int *out);

/* ---- decoding ---------------------------------------------------------- */

typedef enum {
    RM_OK = 0,
    RM_NEED_MORE = 1,        /* rm_frame_length: not enough bytes yet */
    RM_EFRAME = -1,          /* length word invalid: close the connection */
    RM_EHEADER = -2,         /* header undecodable: close (opaque unknown) */
    RM_EHEADER_REPLY = -3,   /* header bad but code/opaque known: answer SYSTEM_ERROR, go on */
} rm_status_t;

/*
 * Looks at the first bytes of a stream. On RM_OK, *frame_len is L (bytes after
 * the 4-byte length word). RM_EFRAME when L < 4 or L > max_frame (the message
 * in err says which).
 */
rm_status_t rm_frame_length(const uint8_t *p, size_t avail, uint32_t max_frame,
                            uint32_t *frame_len, char *err, size_t errlen);

/*
 * Decodes one frame given the L bytes after the length word. Strings are
 * unescaped into `scratch` (grown once per frame to fit; never per field).
 * On RM_EHEADER_REPLY, cmd->code/opaque/flag/serialize are valid so the
 * caller can answer. err gets a one-line reason on failure.
 */
rm_status_t rm_decode(const uint8_t *frame, uint32_t len, buf_t *scratch, rm_cmd_t *cmd,
                      char *err, size_t errlen);

/* ---- encoding ---------------------------------------------------------- */

/*
 * Streaming encoder: writes one frame at the end of `out`. Sequence:
 *   rm_enc_begin, rm_enc_ext* , (rm_enc_body | rm_enc_body_ref)*, rm_enc_end.
 * JSON output is strict JSON with every extFields value a string; language
 * "JAVA" and version RM_VERSION_PETREL unless rm_enc_begin_ex says otherwise.
 * rm_enc_body_ref is only for encoders from rm_conn_reply_begin (zero copy).
 */
typedef struct rm_enc_s {
    buf_t *out;            /* where bytes go */
    size_t start;          /* offset of the frame's length word in out */
    size_t hdr_start;      /* offset of the header bytes */
    size_t ext_pos;        /* binary: offset of the extLen word */
    uint32_t body_len;     /* body bytes so far (copied and referenced) */
    uint32_t n_ext;        /* extFields written */
    uint8_t ser;           /* RM_SER_* */
    uint8_t hdr_done;      /* header closed (first body byte or end) */
    uint8_t discard;       /* reply to a oneway request / closed connection: drop */
    struct rm_conn_s *conn;/* set for connection replies (zero-copy bodies) */
} rm_enc_t;

void rm_enc_begin(rm_enc_t *e, buf_t *out, int ser, int32_t code, int32_t opaque, int32_t flag,
                  const char *remark);
void rm_enc_begin_ex(rm_enc_t *e, buf_t *out, int ser, int32_t code, int32_t opaque,
                     int32_t flag, const char *remark, int language, int version);
void rm_enc_ext(rm_enc_t *e, const char *key, const char *val);
void rm_enc_extn(rm_enc_t *e, const char *key, const char *val, size_t vlen);
void rm_enc_ext_i64(rm_enc_t *e, const char *key, int64_t v);
void rm_enc_ext_bool(rm_enc_t *e, const char *key, int v);
/* The same with the key's length given (hot reply paths: literal keys, no strlen). */
void rm_enc_extkn(rm_enc_t *e, const char *key, size_t klen, const char *val, size_t vlen);
void rm_enc_extk_i64(rm_enc_t *e, const char *key, size_t klen, int64_t v);
/* Copies body bytes into the frame. */
void rm_enc_body(rm_enc_t *e, const void *p, size_t n);
/*
 * Adds body bytes by reference (no copy): p..p+n must stay valid until
 * release(arg) is called, which happens once the bytes are written to the
 * socket, or at once if the reply is discarded or the connection closes.
 */
void rm_enc_body_ref(rm_enc_t *e, const void *p, size_t n, void (*release)(void *), void *arg);
/* Closes the frame (patches the length words) and, for a connection reply, queues it. */
void rm_enc_end(rm_enc_t *e);

/* ---- server ------------------------------------------------------------ */

typedef struct rm_server_s rm_server_t;
typedef struct rm_conn_s rm_conn_t;

/* Called on the loop thread for each request; req is valid until it returns. */
typedef void (*rm_handler_fn)(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
/* Called when a connection closes, before its memory is released. */
typedef void (*rm_close_fn)(rm_conn_t *conn, void *ctx);

typedef struct rm_server_opts_s {
    const char *name;        /* for log lines: "namesrv", "broker" */
    uint32_t max_frame;      /* 0 = RM_DEFAULT_MAX_FRAME */
    int idle_timeout_s;      /* close connections idle this long; 0 = 120 s; <0 = never */
} rm_server_opts_t;

rm_server_t *rm_server_create(uv_loop_t *loop, const rm_server_opts_t *opts);
/* Listens on host:port (port 0 = ephemeral, see rm_server_port). May be called
 * several times (the broker listens on listenPort and listenPort-2). 0 or -errno. */
int rm_server_listen(rm_server_t *srv, const char *host, int port);
/* The port of the n-th successful listen (useful with port 0). */
int rm_server_port(rm_server_t *srv, int n);
/* Routes a request code to a handler. Unknown codes get REQUEST_CODE_NOT_SUPPORTED. */
void rm_server_handle(rm_server_t *srv, int code, rm_handler_fn fn, void *ctx);
/* Optional default handler for codes without one (instead of NOT_SUPPORTED). */
void rm_server_handle_default(rm_server_t *srv, rm_handler_fn fn, void *ctx);
void rm_server_on_close(rm_server_t *srv, rm_close_fn fn, void *ctx);
/* Stops listening and closes every connection; done runs when all handles are closed. */
void rm_server_close(rm_server_t *srv, void (*done)(rm_server_t *srv, void *arg), void *arg);
/* Number of open connections. */
int rm_server_conn_count(rm_server_t *srv);
/*
 * Observer of dispatched requests (metrics): the request code, the code of the
 * first reply begun while the handler ran (-1 when it deferred or sent none)
 * and the handler's time in ns. Runs on the loop thread after each handler.
 */
typedef void (*rm_observe_fn)(int32_t req_code, int32_t resp_code, uint64_t ns, void *ctx);
void rm_server_observe(rm_server_t *srv, rm_observe_fn fn, void *ctx);

/*
 * Begins a reply to req encoded straight into the connection's output queue
 * (coalesced: many replies leave in one write). For a oneway request the
 * encoder discards everything. Finish with rm_enc_end.
 */
void rm_conn_reply_begin(rm_conn_t *conn, rm_enc_t *e, const rm_cmd_t *req, int32_t code,
                         const char *remark);
/* A reply with only a code and a remark. */
void rm_conn_reply(rm_conn_t *conn, const rm_cmd_t *req, int32_t code, const char *remark);

/* What a deferred reply needs to remember of its request. */
typedef struct rm_reqinfo_s {
    int32_t code;
    int32_t opaque;
    uint8_t serialize;
    uint8_t oneway;
} rm_reqinfo_t;
static inline rm_reqinfo_t rm_reqinfo(const rm_cmd_t *req) {
    rm_reqinfo_t ri = {req->code, req->opaque, req->serialize, (uint8_t)rm_is_oneway(req)};
    return ri;
}
/* Deferred reply (long polling, SYNC_FLUSH): the caller holds a reference
 * (rm_conn_retain). Discarded when the connection has closed meanwhile. */
void rm_conn_reply_begin_info(rm_conn_t *conn, rm_enc_t *e, const rm_reqinfo_t *ri,
                              int32_t code, const char *remark);

/* Server-initiated request (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE):
 * encoded in the serialization last seen on the connection (JSON by default),
 * with a fresh opaque. Oneway unless cb is given; cb(status, resp, arg) runs on
 * the loop thread with status 0 and the response, or RM_ETIMEOUT/RM_ECLOSED. */
typedef void (*rm_response_cb)(int status, rm_cmd_t *resp, void *arg);
void rm_conn_request_begin(rm_conn_t *conn, rm_enc_t *e, int32_t code, int oneway,
                           rm_response_cb cb, void *arg, int timeout_ms);

void rm_conn_retain(rm_conn_t *conn);
void rm_conn_release(rm_conn_t *conn);
int rm_conn_is_closed(const rm_conn_t *conn);
/* Closes after flushing what is queued; logs reason. */
void rm_conn_close(rm_conn_t *conn, const char *reason);
/* "ip:port" of the peer, and of our side. */
const char *rm_conn_peer(const rm_conn_t *conn);
const char *rm_conn_local(const rm_conn_t *conn);
/* Language and version of the latest request seen on the connection. */
int rm_conn_language(const rm_conn_t *conn);
int rm_conn_version(const rm_conn_t *conn);
/* A user pointer (the broker's per-client state). */
void rm_conn_set_data(rm_conn_t *conn, void *data);
void *rm_conn_get_data(const rm_conn_t *conn);
/* A process-unique id for the connection (never reused). */
uint64_t rm_conn_id(const rm_conn_t *conn);
/* Bytes queued but not yet written (flow control of long replies). */
size_t rm_conn_pending_bytes(const rm_conn_t *conn);

/* ---- client ------------------------------------------------------------ */

/* Client-side statuses (negative, like every transport error in Petrel). */
#define RM_ETIMEOUT (-1001)   /* no response in time */
#define RM_ECONNECT (-1002)   /* could not connect */
#define RM_ECLOSED  (-1003)   /* connection closed before the response */
#define RM_ESHUTDOWN (-1004)  /* client destroyed */
#define RM_EPROTO   (-1005)   /* undecodable response */
const char *rm_strerror(int status);

typedef struct rm_client_s rm_client_t;

/* A response that owns its memory (from rm_client_invoke_sync / rm_cmd_clone). */
typedef struct rm_response_s {
    rm_cmd_t cmd;
    uint8_t *storage;  /* private */
} rm_response_t;
rm_response_t *rm_cmd_clone(const rm_cmd_t *c);
void rm_response_free(rm_response_t *r);

/* A request from the server (broker -> client callbacks). Runs on the client's
 * I/O thread; answer with rm_client_reply (may be called from any thread). */
typedef void (*rm_client_request_fn)(rm_client_t *cli, const char *addr, rm_cmd_t *req,
                                     void *ctx);

typedef struct rm_client_opts_s {
    int connect_timeout_ms;       /* 0 = 3000 */
    uint32_t max_frame;           /* 0 = RM_DEFAULT_MAX_FRAME */
    int language;                 /* LanguageCode sent in requests; default LANG_OTHER */
    int version;                  /* 0 = RM_VERSION_PETREL */
    int ser;                      /* RM_SER_JSON (default) or RM_SER_ROCKETMQ */
    rm_client_request_fn on_request; /* NULL: server requests are dropped */
    void *ctx;
} rm_client_opts_t;

rm_client_t *rm_client_create(const rm_client_opts_t *opts);
/* Fails pending requests with RM_ESHUTDOWN, closes sockets, joins the thread. */
void rm_client_destroy(rm_client_t *cli);

/*
 * A request to build: code, extFields and body. The client encodes it with a
 * fresh opaque. Strings are copied before the call returns; the body too.
 */
typedef struct rm_request_s {
    int32_t code;
    const char *remark;
    const char *const *ext;  /* key, value, key, value, ..., NULL */
    const void *body;
    uint32_t body_len;
} rm_request_t;

/* Blocking call: 0 and *resp (free with rm_response_free), or an RM_E* status. */
int rm_client_invoke_sync(rm_client_t *cli, const char *addr, const rm_request_t *req,
                          int timeout_ms, rm_response_t **resp);
/* Asynchronous call: cb runs once on the I/O thread (resp valid during cb). */
int rm_client_invoke_async(rm_client_t *cli, const char *addr, const rm_request_t *req,
                           int timeout_ms, rm_response_cb cb, void *arg);
int rm_client_invoke_oneway(rm_client_t *cli, const char *addr, const rm_request_t *req);
/*
 * Pre-encoded variant for hot paths (bench, producer): frame must be a whole
 * frame built with rm_enc_* whose opaque came from rm_client_next_opaque.
 * The frame bytes are copied.
 */
int32_t rm_client_next_opaque(rm_client_t *cli);
int rm_client_send_frame(rm_client_t *cli, const char *addr, const uint8_t *frame, size_t len,
                         int32_t opaque, int timeout_ms, rm_response_cb cb, void *arg);
/* Answers a server request received by on_request. */
void rm_client_reply(rm_client_t *cli, const char *addr, int32_t opaque, int ser, int32_t code,
                     const char *remark, const char *const *ext, const void *body,
                     uint32_t body_len);
/* Closes the connection to addr (the next call reconnects). */
void rm_client_close_addr(rm_client_t *cli, const char *addr);

#endif
