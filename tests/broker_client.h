/*
 * broker_client: a small blocking remoting client for the broker's tests
 * (header-only so it needs no CMake change): frames built with rm_enc_*,
 * replies decoded with rm_decode over a plain socket, plus helpers to start
 * a real `petrel broker` process (alone, or as a controller-managed group
 * with its NameServer and controllers) and to read its replies.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTS_BROKER_CLIENT_H
#define PETREL_TESTS_BROKER_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/record.h"
#include "remoting/remoting.h"
#include "testutil.h"

typedef struct bc_s {
    int fd;
    int32_t opaque;
    buf_t in, frame, scratch, out;
    int notifies;        /* NOTIFY_CONSUMER_IDS_CHANGED requests seen */
    int resets;          /* RESET_CONSUMER_CLIENT_OFFSET requests seen */
    char last_req_body[4096];
    int seen[1024];          /* server requests seen, by code */
    char last_clo[32], last_tso[32], last_topic[256];
    uint32_t last_body_len;
    uint8_t last_body[8192];
} bc_t;

static inline void bc_note_request(bc_t *c, const rm_cmd_t *cmd) {
    if (cmd->code >= 0 && cmd->code < 1024) c->seen[cmd->code]++;
    if (cmd->code == NOTIFY_CONSUMER_IDS_CHANGED) c->notifies++;
    if (cmd->code == RESET_CONSUMER_CLIENT_OFFSET) {
        c->resets++;
        snprintf(c->last_req_body, sizeof(c->last_req_body), "%.*s", (int)cmd->body_len,
                 cmd->body ? (const char *)cmd->body : "");
    }
    if (cmd->code == CHECK_TRANSACTION_STATE) {
        const char *v;
        snprintf(c->last_clo, sizeof(c->last_clo), "%s", (v = rm_ext_get(cmd, "commitLogOffset")) ? v : "");
        snprintf(c->last_tso, sizeof(c->last_tso), "%s", (v = rm_ext_get(cmd, "tranStateTableOffset")) ? v : "");
        snprintf(c->last_topic, sizeof(c->last_topic), "%s", (v = rm_ext_get(cmd, "topic")) ? v : "");
        c->last_body_len = cmd->body_len < sizeof(c->last_body) ? cmd->body_len : 0;
        if (c->last_body_len) memcpy(c->last_body, cmd->body, c->last_body_len);
    }
}

static inline int bc_connect(bc_t *c, int port) {
    memset(c, 0, sizeof(*c));
    c->opaque = 1;
    c->fd = tu_connect(port);
    return c->fd >= 0 ? 0 : -1;
}

static inline void bc_close(bc_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->frame);
    buf_free(&c->scratch);
    buf_free(&c->out);
}

static inline int bc_write_all(bc_t *c, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(c->fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ext: key, value, ..., NULL. Returns the opaque. */
static inline int32_t bc_send(bc_t *c, int32_t code, int oneway, const char *const *ext,
                              const void *body, size_t len) {
    buf_reset(&c->out);
    rm_enc_t e;
    int32_t op = c->opaque++;
    rm_enc_begin(&e, &c->out, RM_SER_JSON, code, op, oneway ? RM_FLAG_ONEWAY : 0, NULL);
    for (int i = 0; ext && ext[i]; i += 2) rm_enc_ext(&e, ext[i], ext[i + 1]);
    if (body && len) rm_enc_body(&e, body, len);
    rm_enc_end(&e);
    if (bc_write_all(c, c->out.data, c->out.len) != 0) return -1;
    return op;
}

/* Reads one frame: 0 ok, -1 timeout/EOF. cmd valid until the next read. */
static inline int bc_read(bc_t *c, rm_cmd_t *cmd, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    for (;;) {
        uint32_t flen;
        char err[128];
        if (c->in.len >= 4) {
            rm_status_t st = rm_frame_length(c->in.data, c->in.len, 64u << 20, &flen, err, sizeof(err));
            if (st == RM_OK && c->in.len >= 4 + (size_t)flen) {
                buf_reset(&c->frame);
                buf_append(&c->frame, c->in.data + 4, flen);
                memmove(c->in.data, c->in.data + 4 + flen, c->in.len - 4 - flen);
                c->in.len -= 4 + flen;
                if (rm_decode(c->frame.data, flen, &c->scratch, cmd, err, sizeof(err)) != RM_OK)
                    return -2;
                return 0;
            }
            if (st == RM_EFRAME) return -2;
        }
        int left = (int)(deadline - tu_now_ms());
        if (left <= 0) return -1;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0) continue;
        uint8_t *p = buf_reserve(&c->in, 65536);
        ssize_t r = read(c->fd, p, 65536);
        if (r <= 0) return -1;
        c->in.len += (size_t)r;
    }
}

/* Sends and reads until the response with the same opaque (server requests are counted). */
static inline int bc_call(bc_t *c, int32_t code, const char *const *ext, const void *body,
                          size_t len, rm_cmd_t *resp, int timeout_ms) {
    int32_t op = bc_send(c, code, 0, ext, body, len);
    if (op < 0) return -1;
    for (;;) {
        int rc = bc_read(c, resp, timeout_ms);
        if (rc != 0) return rc;
        if (!rm_is_response(resp)) {
            bc_note_request(c, resp);
            continue;
        }
        if (resp->opaque == op) return 0;
    }
}

/* Reads server requests for up to timeout_ms (to count notifications). */
/* bc_call without a body (5 s): the answer's code, with the answer in *resp, or -1. */
static inline int bc_code(bc_t *c, int32_t code, const char *const *ext, rm_cmd_t *resp) {
    return bc_call(c, code, ext, NULL, 0, resp, 5000) == 0 ? resp->code : -1;
}

static inline void bc_drain(bc_t *c, int timeout_ms) {
    rm_cmd_t cmd;
    while (bc_read(c, &cmd, timeout_ms) == 0)
        if (!rm_is_response(&cmd)) bc_note_request(c, &cmd);
}

static inline int64_t bc_ext_i64(const rm_cmd_t *c, const char *key) {
    int64_t v = -999999;
    rm_ext_i64(c, key, &v);
    return v;
}

/* The body as a NUL-terminated string in a static buffer (tests only). */
static inline const char *bc_body(const rm_cmd_t *c) {
    static char s[1 << 20];
    size_t n = c->body_len < sizeof(s) - 1 ? c->body_len : sizeof(s) - 1;
    if (n) memcpy(s, c->body, n);
    s[n] = 0;
    return s;
}

/* tu_stop that never signals pid <= 0 (kill(-1) would hit every process of the user). */
static inline int bc_stop(pid_t pid, int sig, int timeout_ms) {
    if (pid <= 0) return -1;
    return tu_stop(pid, sig, timeout_ms);
}

/* Starts `petrel broker` with store dir, port and extra --k=v args, its output in log (NULL:
 * <dir>/broker.log); waits for the port. */
static inline pid_t bc_spawn_broker(const char *dir, int port, const char *const *extra,
                                    const char *log) {
    char a_root[600], a_port[64], dlog[600];
    if (!log) {
        snprintf(dlog, sizeof(dlog), "%s/broker.log", dir);
        log = dlog;
    }
    snprintf(a_root, sizeof(a_root), "--storePathRootDir=%s", dir);
    snprintf(a_port, sizeof(a_port), "--listenPort=%d", port);
    char *argv[48] = {NULL, "broker", a_root, a_port, "--brokerIP1=127.0.0.1",
                      "--brokerName=broker-a", "--mappedFileSizeCommitLog=1048576"};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 46; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    pid_t pid = tu_spawn(argv, log);
    if (pid <= 0) return -1;
    if (tu_wait_port_pid(port, pid, 15000) != 0) {
        bc_stop(pid, 9, 5000);
        return -1;
    }
    return pid;
}

/* A broker of a test file's own, under a fresh tu_tmpdir(name) (*dir, with broker.log) on
 * *port: its pid, or -1. Three tries: a broker that lost its port to another process exits. */
static inline pid_t bc_solo_start(const char *name, const char *const *extra, char **dir,
                                  int *port) {
    *dir = tu_tmpdir(name);
    pid_t pid = -1;
    for (int i = 0; i < 3 && pid <= 0; i++) {
        *port = tu_free_port();
        pid = bc_spawn_broker(*dir, *port, extra, NULL);
    }
    return pid;
}

/* SIGTERM to a bc_solo_start broker: 0 when it exited cleanly (dir removed and freed), else
 * -1 with the log kept. */
static inline int bc_solo_stop(pid_t pid, char *dir) {
    return tu_stop_clean(pid, "broker", dir, 20000);
}

/* Sends one message with SEND_MESSAGE_V2. props e.g. "TAGS\001A\002KEYS\001k1\002". */
static inline int bc_send_msg(bc_t *c, const char *topic, int qid, const char *props,
                              const void *body, size_t len, rm_cmd_t *resp) {
    char q[16];
    snprintf(q, sizeof(q), "%d", qid);
    const char *ext[] = {"a", "PG", "b", topic, "c", "TBW102", "d", "4", "e", q, "f", "0",
                         "g", "1700000000000", "h", "0", "i", props ? props : "", "j", "0",
                         "k", "false", NULL};
    return bc_call(c, SEND_MESSAGE_V2, ext, body, len, resp, 10000);
}

/* PULL_MESSAGE with the subscription in the request (flag 4) plus extra flags. */
static inline int bc_pull(bc_t *c, const char *group, const char *topic, int qid, int64_t off,
                          int max, int sysflag, const char *sub, int64_t suspend_ms,
                          rm_cmd_t *resp, int timeout_ms) {
    char q[16], o[32], m[16], f[16], s[32];
    snprintf(q, sizeof(q), "%d", qid);
    snprintf(o, sizeof(o), "%lld", (long long)off);
    snprintf(m, sizeof(m), "%d", max);
    snprintf(f, sizeof(f), "%d", sysflag);
    snprintf(s, sizeof(s), "%lld", (long long)suspend_ms);
    const char *ext[] = {"consumerGroup", group, "topic", topic, "queueId", q, "queueOffset", o,
                         "maxMsgNums", m, "sysFlag", f, "commitOffset", "0",
                         "suspendTimeoutMillis", s, "subscription", sub ? sub : "*",
                         "subVersion", "0", "expressionType", "TAG", NULL};
    return bc_call(c, PULL_MESSAGE, ext, NULL, 0, resp, timeout_ms);
}

/* Counts the records in a pull body; checks each decodes. -1 on a bad record. */
static inline int bc_count_records(const rm_cmd_t *r) {
    size_t pos = 0;
    int n = 0;
    while (pos < r->body_len) {
        record_view_t v;
        if (record_decode(r->body + pos, r->body_len - pos, &v, RECORD_CHECK_CRC) != RECORD_OK)
            return -1;
        pos += v.total_size;
        n++;
    }
    return n;
}

/* ---- a controller-managed broker group (0072, 0073, bench/fault_run) ---- */

/* Sum of GET_MAX_OFFSET over queues 0..nq-1 of topic, or -1. */
static inline int64_t bc_total_max(bc_t *c, const char *topic, int nq) {
    int64_t t = 0;
    for (int q = 0; q < nq; q++) {
        char qs[16];
        snprintf(qs, sizeof(qs), "%d", q);
        const char *ext[] = {"topic", topic, "queueId", qs, NULL};
        rm_cmd_t r;
        if (bc_call(c, GET_MAX_OFFSET, ext, NULL, 0, &r, 3000) != 0 || r.code != SUCCESS)
            return -1;
        t += bc_ext_i64(&r, "offset");
    }
    return t;
}

/* GET_ROUTEINFO_BY_TOPIC from the NameServer on ns_port: the answer's code (body, when not
 * NULL, gets its text), or -1. */
static inline int bc_route_code(int ns_port, const char *topic, char *body, size_t n) {
    bc_t c;
    if (bc_connect(&c, ns_port) != 0) return -1;
    const char *ext[] = {"topic", topic, NULL};
    rm_cmd_t r;
    int code = -1;
    if (bc_call(&c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000) == 0) {
        code = r.code;
        if (body) snprintf(body, n, "%.*s", (int)(n - 1), bc_body(&r));
    }
    bc_close(&c);
    return code;
}

/* Sends body to queue 0 of topic on its own connection: the answer's code, or -1. */
static inline int bc_send_code(int port, const char *topic, const char *body) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return -1;
    rm_cmd_t r;
    int code = -1;
    if (bc_send_msg(&c, topic, 0, "", body, strlen(body), &r) == 0) code = r.code;
    bc_close(&c);
    return code;
}

/* Port of brokerId 0 (on 127.0.0.1) in the NameServer's route of topic, or -1. */
static inline int bc_route_master_port(int ns_port, const char *topic) {
    bc_t c;
    if (bc_connect(&c, ns_port) != 0) return -1;
    const char *ext[] = {"topic", topic, NULL};
    rm_cmd_t r;
    int port = -1;
    if (bc_call(&c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 3000) == 0 && r.code == SUCCESS) {
        const char *p = strstr(bc_body(&r), "\"0\":\"127.0.0.1:");
        if (p) port = atoi(p + 15);
    }
    bc_close(&c);
    return port;
}

/*
 * Reads queue qid of topic (as group) from offset 0 to its end: fn(arg, text) for every
 * record, text its body's first 31 bytes. Returns 0, -1 when a pull fails, or how many
 * answers held a record that does not decode (the rest of such an answer is skipped).
 */
static inline int bc_read_queue(bc_t *c, const char *group, const char *topic, int qid,
                                void (*fn)(void *arg, const char *text), void *arg) {
    int64_t off = 0;
    int bad = 0;
    for (int guard = 0; guard < (1 << 20); guard++) {
        rm_cmd_t r;
        if (bc_pull(c, group, topic, qid, off, 32, 4, "*", 0, &r, 5000) != 0) return -1;
        if (r.code != SUCCESS) break;
        size_t pos = 0;
        while (pos < r.body_len) {
            record_view_t v;
            if (record_decode(r.body + pos, r.body_len - pos, &v, RECORD_CHECK_CRC) != RECORD_OK) {
                bad++;
                break;
            }
            char b[32];
            snprintf(b, sizeof(b), "%.*s", (int)(v.body_len < 31 ? v.body_len : 31),
                     (const char *)v.body);
            fn(arg, b);
            pos += v.total_size;
        }
        off = bc_ext_i64(&r, "nextBeginOffset");
    }
    return bad;
}

/* A failover run's read-back (bc_read_queue's fn): records "<prefix><id>" mark seen[id]; any
 * other record but "sync" (the SYNC_MASTER probes), or an id never sent, is invented. */
typedef struct bc_history_s {
    char *seen;         /* one flag per id sent */
    int next;           /* ids sent: 0..next-1 */
    const char *prefix; /* "x-" */
    long invented, consumed;
} bc_history_t;

static inline void bc_note_record(void *arg, const char *text) {
    bc_history_t *h = arg;
    size_t pl = strlen(h->prefix);
    h->consumed++;
    if (strncmp(text, h->prefix, pl) == 0) {
        int id = atoi(text + pl);
        if (id >= 0 && id < h->next) h->seen[id] = 1;
        else h->invented++;
    } else if (strcmp(text, "sync") != 0) {
        h->invented++;
    }
}

/* Three `petrel controller`s (Raft among themselves on 127.0.0.1). */
typedef struct bc_ctls_s {
    int ports[3];    /* their remoting ports */
    char peers[200]; /* the --controllerPeers value */
    char arg[200];   /* --controllerAddr=... for the brokers, which reach them at host */
} bc_ctls_t;

static inline void bc_ctls_init(bc_ctls_t *g, const char *host) {
    int rp[3];
    for (int i = 0; i < 3; i++) rp[i] = tu_free_port(), g->ports[i] = tu_free_port();
    snprintf(g->peers, sizeof(g->peers), "1@127.0.0.1:%d;2@127.0.0.1:%d;3@127.0.0.1:%d", rp[0],
             rp[1], rp[2]);
    snprintf(g->arg, sizeof(g->arg), "--controllerAddr=%s:%d;%s:%d;%s:%d", host, g->ports[0],
             host, g->ports[1], host, g->ports[2]);
}

/* Starts controller i (store and log ctl<i+1> under dir) into *pid; 0 once it listens. */
static inline int bc_ctl_spawn(const bc_ctls_t *g, int i, const char *dir, pid_t *pid) {
    char id[32], pa[300], lp[64], sp[700], log[700];
    snprintf(id, sizeof(id), "--controllerId=%d", i + 1);
    snprintf(pa, sizeof(pa), "--controllerPeers=%s", g->peers);
    snprintf(lp, sizeof(lp), "--listenPort=%d", g->ports[i]);
    snprintf(sp, sizeof(sp), "--storePath=%s/ctl%d", dir, i + 1);
    snprintf(log, sizeof(log), "%s/ctl%d.log", dir, i + 1);
    char *argv[] = {NULL, "controller", id, pa, lp, sp, "--brokerTimeout=2000", NULL};
    *pid = tu_spawn(argv, log);
    return tu_wait_port(g->ports[i], 10000);
}

/* Starts `petrel namesrv` on port with extra arguments (kv-<port>.json and ns.log, shared
 * by every NameServer there, under dir): its pid once it listens, else -1 (killed). */
static inline pid_t bc_spawn_namesrv(const char *dir, int port, const char *const *extra) {
    char kv[700], log[700];
    snprintf(kv, sizeof(kv), "--kvConfigPath=%s/kv-%d.json", dir, port);
    snprintf(log, sizeof(log), "%s/ns.log", dir);
    const char *args[16] = {kv};
    int n = 1;
    for (int i = 0; extra && extra[i] && n < 15; i++) args[n++] = extra[i];
    args[n] = NULL;
    return tu_spawn_namesrv(port, args, log);
}

/* Starts a replica of broker_name (store dir/name, log dir/name.log) that follows the
 * controllers: the SYNC_MASTER, or with slave the SLAVE brokerId 1. nsarg and ctlarg are
 * its --namesrvAddr= and --controllerAddr= arguments. */
static inline pid_t bc_spawn_replica(const char *dir, const char *name, int port, int slave,
                                     const char *broker_name, const char *nsarg,
                                     const char *ctlarg) {
    char d[400], log[700], bn[300];
    snprintf(d, sizeof(d), "%s/%s", dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    snprintf(bn, sizeof(bn), "--brokerName=%s", broker_name);
    const char *m[] = {nsarg, ctlarg, bn, "--brokerRole=SYNC_MASTER", "--syncFlushTimeout=2000",
                       "--controllerLeaseMillis=1500", NULL};
    const char *s[] = {nsarg, ctlarg, bn, "--brokerRole=SLAVE", "--brokerId=1",
                       "--syncFlushTimeout=2000", "--controllerLeaseMillis=1500", NULL};
    return bc_spawn_broker(d, port, slave ? s : m, log);
}

#endif
