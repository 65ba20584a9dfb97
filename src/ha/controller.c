/*
 * controller: `petrel controller`, automatic failover for master/slave
 * broker groups (RocketMQ 5's controller mode in spirit, docs/replication.md).
 *
 * A few controller processes form a Raft group (canonical raft, libraft, on
 * libuv). The replicated state is, per broker group (brokerName), the current
 * master's address, HA address and epoch. Brokers send BROKER_HEARTBEAT (904,
 * Petrel's own extFields) every second to every controller with their commit
 * log end and epoch; any controller answers with the group's committed state.
 * The Raft leader alone decides: a group without a master gets its brokerId 0
 * replica at epoch 1; when the master's heartbeats stop for brokerTimeout,
 * the live replica that followed it (same epoch) with the largest offset
 * becomes master at epoch + 1. Brokers switch roles on a higher epoch.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "remoting/remoting.h"

#define MAX_GROUPS 256
#define MAX_REPLICAS 1024

typedef struct cgroup_state_s {
    char name[128];
    int64_t epoch;
    int64_t start;   /* the master's commit log end when elected: where its epoch begins */
    char master[64], master_ha[64];
} cgroup_state_t;

typedef struct replica_s {
    char group[128];
    char addr[64], ha[64];
    int64_t id, offset, epoch, last_hb;
} replica_t;

typedef struct ctl_s {
    uv_loop_t loop;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport tr;
    struct raft_fsm fsm;
    rm_server_t *srv;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    cgroup_state_t groups[MAX_GROUPS];
    int ngroups;
    replica_t reps[MAX_REPLICAS];
    int nreps;
    int proposing;
    int was_leader;
    int64_t leader_since;
    int64_t broker_timeout;
    int stopping;
    struct raft_apply apply_req;
} ctl_t;

static cgroup_state_t *group_find(ctl_t *c, const char *name, int create) {
    for (int i = 0; i < c->ngroups; i++)
        if (strcmp(c->groups[i].name, name) == 0) return &c->groups[i];
    if (!create || c->ngroups >= MAX_GROUPS) return NULL;
    cgroup_state_t *g = &c->groups[c->ngroups++];
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    return g;
}

/* ---- the state machine --------------------------------------------------------------- */

/* "ELECT <group> <epoch> <addr> <ha> <start offset>" */
static int apply_line(ctl_t *c, const char *line) {
    char group[128], addr[64], ha[64];
    long long epoch, start = 0;
    if (sscanf(line, "ELECT %127s %lld %63s %63s %lld", group, &epoch, addr, ha, &start) < 4)
        return -1;
    cgroup_state_t *g = group_find(c, group, 1);
    if (!g || epoch <= g->epoch) return 0; /* stale proposal */
    g->epoch = epoch;
    g->start = start;
    snprintf(g->master, sizeof(g->master), "%s", addr);
    snprintf(g->master_ha, sizeof(g->master_ha), "%s", ha);
    log_info("group %s: master %s (HA %s), epoch %lld from offset %lld", group, addr, ha, epoch,
             start);
    return 0;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    ctl_t *c = fsm->data;
    char line[512];
    size_t n = buf->len < sizeof(line) - 1 ? buf->len : sizeof(line) - 1;
    memcpy(line, buf->base, n);
    line[n] = 0;
    *result = NULL;
    apply_line(c, line);
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs) {
    ctl_t *c = fsm->data;
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < c->ngroups; i++)
        buf_printf(&b, "ELECT %s %" PRId64 " %s %s %" PRId64 "\n", c->groups[i].name,
                   c->groups[i].epoch, c->groups[i].master, c->groups[i].master_ha,
                   c->groups[i].start);
    *bufs = raft_malloc(sizeof(struct raft_buffer));
    (*bufs)[0].len = b.len;
    (*bufs)[0].base = raft_malloc(b.len ? b.len : 1);
    if (b.len) memcpy((*bufs)[0].base, b.data, b.len);
    *n_bufs = 1;
    buf_free(&b);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    ctl_t *c = fsm->data;
    c->ngroups = 0;
    char *text = xmalloc(buf->len + 1);
    memcpy(text, buf->base, buf->len);
    text[buf->len] = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) apply_line(c, l);
    free(text);
    raft_free(buf->base);
    return 0;
}

/* ---- decisions (leader) ---------------------------------------------------------------- */

static void on_applied(struct raft_apply *req, int status, void *result) {
    (void)result;
    ctl_t *c = req->data;
    c->proposing = 0;
    if (status != 0) log_warn("proposal failed: %s", raft_strerror(status));
}

static void propose(ctl_t *c, const char *group, int64_t epoch, const replica_t *r) {
    char line[512];
    int n = snprintf(line, sizeof(line), "ELECT %s %" PRId64 " %s %s %" PRId64, group, epoch,
                     r->addr, r->ha, r->offset);
    struct raft_buffer buf;
    buf.len = (size_t)n;
    buf.base = raft_malloc(buf.len);
    memcpy(buf.base, line, buf.len);
    c->apply_req.data = c;
    int rc = raft_apply(&c->raft, &c->apply_req, &buf, 1, on_applied);
    if (rc != 0) {
        raft_free(buf.base);
        log_warn("cannot propose %s: %s", line, raft_strerror(rc));
        return;
    }
    c->proposing = 1;
    log_info("proposing %s (offset %" PRId64 ")", line, r->offset);
}

static int alive(ctl_t *c, const replica_t *r, int64_t now) {
    return now - r->last_hb <= c->broker_timeout;
}

static void decide(ctl_t *c) {
    int64_t now = mono_ms();
    int leader = raft_state(&c->raft) == RAFT_LEADER;
    if (leader && !c->was_leader) {
        c->leader_since = now;
        log_info("this controller is the Raft leader");
    }
    c->was_leader = leader;
    /* a new leader first learns who is alive */
    if (!leader || c->proposing || now - c->leader_since < c->broker_timeout) return;
    for (int i = 0; i < c->nreps; i++) {
        const char *gname = c->reps[i].group;
        int seen = 0;
        for (int k = 0; k < i; k++)
            if (strcmp(c->reps[k].group, gname) == 0) seen = 1;
        if (seen) continue;
        cgroup_state_t *g = group_find(c, gname, 0);
        const replica_t *best = NULL, *master = NULL;
        for (int k = 0; k < c->nreps; k++) {
            const replica_t *r = &c->reps[k];
            if (strcmp(r->group, gname) != 0) continue;
            if (g && strcmp(r->addr, g->master) == 0) master = r;
        }
        if (!g || !g->epoch) {
            /* first master: the replica configured as brokerId 0 */
            for (int k = 0; k < c->nreps; k++) {
                const replica_t *r = &c->reps[k];
                if (strcmp(r->group, gname) == 0 && r->id == 0 && alive(c, r, now)) best = r;
            }
            if (best) {
                propose(c, gname, 1, best);
                return;
            }
            continue;
        }
        if (master && alive(c, master, now)) continue;
        /* the master is gone: the live follower of this epoch holding the most */
        for (int k = 0; k < c->nreps; k++) {
            const replica_t *r = &c->reps[k];
            if (strcmp(r->group, gname) != 0 || r == master || !alive(c, r, now)) continue;
            if (r->epoch != g->epoch) continue;
            if (!best || r->offset > best->offset) best = r;
        }
        if (best) {
            log_warn("group %s: master %s lost, electing %s", gname, g->master, best->addr);
            propose(c, gname, g->epoch + 1, best);
            return;
        }
    }
}

static void on_tick(uv_timer_t *t) { decide(t->data); }

/* ---- broker heartbeats ------------------------------------------------------------------ */

static void h_heartbeat(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    ctl_t *c = ctx;
    const char *group = rm_ext_get(req, "brokerName");
    const char *addr = rm_ext_get(req, "brokerAddr");
    const char *ha = rm_ext_get(req, "haServerAddr");
    if (!group || !*group) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "brokerName missing");
        return;
    }
    if (addr && *addr) { /* without an address: a query */
        replica_t *r = NULL;
        for (int i = 0; i < c->nreps; i++)
            if (strcmp(c->reps[i].addr, addr) == 0) r = &c->reps[i];
        if (!r && c->nreps < MAX_REPLICAS) {
            r = &c->reps[c->nreps++];
            memset(r, 0, sizeof(*r));
            snprintf(r->addr, sizeof(r->addr), "%s", addr);
        }
        if (r) {
            snprintf(r->group, sizeof(r->group), "%s", group);
            snprintf(r->ha, sizeof(r->ha), "%s", ha ? ha : addr);
            int64_t v;
            if (rm_ext_i64(req, "brokerId", &v) == 0) r->id = v;
            if (rm_ext_i64(req, "maxOffset", &v) == 0) r->offset = v;
            if (rm_ext_i64(req, "epoch", &v) == 0) r->epoch = v;
            r->last_hb = mono_ms();
        }
    }
    cgroup_state_t *g = group_find(c, group, 0);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext_i64(&e, "epoch", g ? g->epoch : 0);
    rm_enc_ext(&e, "masterAddr", g ? g->master : "");
    rm_enc_ext(&e, "masterHaAddr", g ? g->master_ha : "");
    rm_enc_ext_i64(&e, "epochStartOffset", g ? g->start : 0);
    rm_enc_ext(&e, "isLeader", raft_state(&c->raft) == RAFT_LEADER ? "true" : "false");
    rm_enc_end(&e);
}

/* ---- process ---------------------------------------------------------------------------- */

static void on_closed(uv_handle_t *h) { (void)h; }

static void on_raft_closed(struct raft *r) {
    ctl_t *c = r->data;
    raft_uv_close(&c->io);
    raft_uv_tcp_close(&c->tr);
}

static void on_srv_closed(rm_server_t *s, void *arg) {
    (void)s;
    ctl_t *c = arg;
    c->srv = NULL;
}

static void on_signal(uv_signal_t *s, int sig) {
    ctl_t *c = s->data;
    if (c->stopping) return;
    c->stopping = 1;
    log_info("got signal %d, stopping", sig);
    uv_timer_stop(&c->tick);
    uv_close((uv_handle_t *)&c->tick, on_closed);
    uv_close((uv_handle_t *)&c->sigterm, on_closed);
    uv_close((uv_handle_t *)&c->sigint, on_closed);
    if (c->srv) rm_server_close(c->srv, on_srv_closed, c);
    raft_close(&c->raft, on_raft_closed);
}

static const char *arg_val(int argc, char **argv, const char *key, const char *def) {
    size_t kl = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, key, kl) == 0 &&
            argv[i][2 + kl] == '=')
            return argv[i] + 3 + kl;
    return def;
}

int controller_main(int argc, char **argv) {
    log_set_component("controller");
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: petrel controller --controllerId=N --controllerPeers=1@ip:port;2@ip:port;...\n"
                   "         --listenPort=P [--storePath=DIR] [--brokerTimeout=MS]\n"
                   "  controllerPeers  every controller's Raft id and address (the same on all)\n"
                   "  listenPort       remoting port brokers send BROKER_HEARTBEAT to (default 9878)\n"
                   "  storePath        Raft log and snapshots (default $HOME/controller-<id>)\n"
                   "  brokerTimeout    heartbeat silence that makes a master lost (default 10000)\n");
            return 0;
        }
    int id = atoi(arg_val(argc, argv, "controllerId", "1"));
    const char *peers = arg_val(argc, argv, "controllerPeers", NULL);
    int port = atoi(arg_val(argc, argv, "listenPort", "9878"));
    char defdir[512];
    snprintf(defdir, sizeof(defdir), "%s/controller-%d", getenv("HOME") ? getenv("HOME") : ".", id);
    const char *dir = arg_val(argc, argv, "storePath", defdir);
    const char *lvl = arg_val(argc, argv, "logLevel", NULL);
    if (lvl && log_parse_level(lvl) >= 0) log_set_level((log_level_t)log_parse_level(lvl));
    if (!peers || id <= 0) {
        fprintf(stderr, "petrel controller: --controllerId=N and --controllerPeers=... are required\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ctl_t *c = xcalloc(1, sizeof(*c));
    c->broker_timeout = atoll(arg_val(argc, argv, "brokerTimeout", "10000"));
    if (mkdir_p(dir, 0755) != 0) {
        fprintf(stderr, "petrel controller: cannot create %s\n", dir);
        return 1;
    }
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    char self[128] = "";
    char *copy = xstrdup(peers), *save = NULL;
    for (char *t = strtok_r(copy, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
        char *at = strchr(t, '@');
        if (!at) {
            fprintf(stderr, "petrel controller: bad peer '%s' (want id@ip:port)\n", t);
            return 2;
        }
        *at = 0;
        int pid = atoi(t);
        raft_configuration_add(&conf, (raft_id)pid, at + 1, RAFT_VOTER);
        if (pid == id) snprintf(self, sizeof(self), "%s", at + 1);
    }
    free(copy);
    if (!self[0]) {
        fprintf(stderr, "petrel controller: controllerId %d is not in controllerPeers\n", id);
        return 2;
    }
    uv_loop_init(&c->loop);
    int rc = raft_uv_tcp_init(&c->tr, &c->loop);
    if (rc == 0) rc = raft_uv_init(&c->io, &c->loop, dir, &c->tr);
    if (rc != 0) {
        fprintf(stderr, "petrel controller: raft I/O: %s\n", raft_strerror(rc));
        return 1;
    }
    c->fsm.version = 1;
    c->fsm.data = c;
    c->fsm.apply = fsm_apply;
    c->fsm.snapshot = fsm_snapshot;
    c->fsm.restore = fsm_restore;
    rc = raft_init(&c->raft, &c->io, &c->fsm, (raft_id)id, self);
    if (rc != 0) {
        fprintf(stderr, "petrel controller: raft_init: %s\n", raft_strerror(rc));
        return 1;
    }
    c->raft.data = c;
    rc = raft_bootstrap(&c->raft, &conf);
    if (rc != 0 && rc != RAFT_CANTBOOTSTRAP) {
        fprintf(stderr, "petrel controller: raft_bootstrap: %s\n", raft_strerror(rc));
        return 1;
    }
    raft_configuration_close(&conf);
    raft_set_election_timeout(&c->raft, 1000);
    raft_set_heartbeat_timeout(&c->raft, 100);
    raft_set_snapshot_threshold(&c->raft, 1024);
    rc = raft_start(&c->raft);
    if (rc != 0) {
        fprintf(stderr, "petrel controller: raft_start: %s\n", raft_strerror(rc));
        return 1;
    }
    rm_server_opts_t so = {.name = "controller"};
    c->srv = rm_server_create(&c->loop, &so);
    rm_server_handle(c->srv, BROKER_HEARTBEAT, h_heartbeat, c);
    if (!c->srv || rm_server_listen(c->srv, "0.0.0.0", port) != 0) {
        fprintf(stderr, "petrel controller: cannot listen on port %d\n", port);
        return 1;
    }
    uv_timer_init(&c->loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, 200, 200);
    uv_signal_init(&c->loop, &c->sigterm);
    uv_signal_init(&c->loop, &c->sigint);
    c->sigterm.data = c->sigint.data = c;
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    log_info("controller %d: raft %s, brokers on port %d, store %s, broker timeout %" PRId64 " ms",
             id, self, port, dir, c->broker_timeout);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    free(c);
    log_info("controller stopped");
    return 0;
}
