/*
 * GET_ROUTEINFO_BY_TOPIC load generator (and, run without arguments by ctest,
 * a 1-second smoke run of it). Registers two brokers with --topics topics on
 * a held connection, then --conns connections each keep --depth requests in
 * flight (pipelined) for --seconds, over 127.0.0.1. Prints requests/s and
 * latency percentiles. Every answer must be SUCCESS.
 *
 *   it_0019_namesrv_bench [--port P] [--seconds 10] [--conns 8] [--depth 32] [--topics 100]
 * Without --port it starts `petrel namesrv` ($PETREL_BIN) on a free port.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "../testutil.h"
#include "../wireclient.h"

#define MAX_DEPTH 4096

typedef struct {
    int port, depth, ntopics;
    int64_t end_ns;
    uint64_t done, errors;
    int64_t *lat; /* ns */
    size_t nlat, caplat;
    int fail;
} worker_t;

static void topic_name(char *out, size_t n, int i) { snprintf(out, n, "BenchTopic%04d", i); }

static void *worker(void *arg) {
    worker_t *w = arg;
    wc_t c;
    if (wc_connect(&c, w->port) != 0) {
        w->fail = 1;
        return NULL;
    }
    int64_t *sent = calloc(MAX_DEPTH, sizeof(int64_t));
    char topic[64];
    const char *ext[] = {"topic", topic, NULL};
    unsigned seq = 0;
    int inflight = 0;
    for (; inflight < w->depth; inflight++) {
        topic_name(topic, sizeof(topic), (int)(seq++ % (unsigned)w->ntopics));
        int32_t op = wc_send(&c, GET_ROUTEINFO_BY_TOPIC, 0, ext, NULL, 0);
        sent[op & (MAX_DEPTH - 1)] = mono_ns();
    }
    while (inflight > 0) {
        rm_cmd_t r;
        if (wc_read(&c, &r, 10000) != 0) {
            w->fail = 1;
            break;
        }
        int64_t now = mono_ns();
        inflight--;
        if (r.code != SUCCESS || r.body_len == 0) w->errors++;
        w->done++;
        if (w->nlat == w->caplat) {
            w->caplat = w->caplat ? w->caplat * 2 : 1 << 16;
            w->lat = realloc(w->lat, w->caplat * sizeof(int64_t));
        }
        w->lat[w->nlat++] = now - sent[r.opaque & (MAX_DEPTH - 1)];
        if (now < w->end_ns) {
            topic_name(topic, sizeof(topic), (int)(seq++ % (unsigned)w->ntopics));
            int32_t op = wc_send(&c, GET_ROUTEINFO_BY_TOPIC, 0, ext, NULL, 0);
            if (op < 0) {
                w->fail = 1;
                break;
            }
            sent[op & (MAX_DEPTH - 1)] = mono_ns();
            inflight++;
        }
    }
    free(sent);
    wc_close(&c);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int register_brokers(wc_t *c, int ntopics) {
    for (int b = 0; b < 2; b++) {
        buf_t body;
        buf_init(&body);
        char **names = calloc((size_t)ntopics + 1, sizeof(char *));
        for (int i = 0; i < ntopics; i++) {
            names[i] = malloc(64);
            char t[48];
            topic_name(t, sizeof(t), i);
            snprintf(names[i], 64, "%s:8:8:6", t);
        }
        wc_register_body(&body, 1, (const char *const *)names);
        char name[32], addr[32];
        snprintf(name, sizeof(name), "bench-%c", 'a' + b);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 36001 + b);
        const char *ext[] = {"brokerName", name, "brokerAddr", addr, "clusterName", "BenchCluster",
                             "haServerAddr", addr, "brokerId", "0", NULL};
        rm_cmd_t r;
        int rc = wc_call(c, REGISTER_BROKER, ext, body.data, body.len, &r, 10000);
        for (int i = 0; i < ntopics; i++) free(names[i]);
        free(names);
        buf_free(&body);
        if (rc != 0 || r.code != SUCCESS) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = 0, conns = 4, depth = 16, ntopics = 100;
    double seconds = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--depth")) depth = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--topics")) ntopics = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (conns < 1 || conns > 256 || depth < 1 || depth > MAX_DEPTH / 2 || ntopics < 1 ||
        seconds <= 0 || seconds > 600) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    pid_t pid = 0;
    char *dir = NULL;
    if (!port) {
        dir = tu_tmpdir("petrel-nsbench");
        char log[600];
        snprintf(log, sizeof(log), "%s/namesrv.log", dir);
        port = tu_free_port();
        const char *extra[] = {"--logLevel=warn", NULL};
        pid = wc_spawn_namesrv(port, NULL, extra, log);
        if (pid <= 0) {
            fprintf(stderr, "cannot start namesrv\n");
            return 1;
        }
    }
    wc_t reg;
    if (wc_connect(&reg, port) != 0 || register_brokers(&reg, ntopics) != 0) {
        fprintf(stderr, "cannot register the bench brokers on port %d\n", port);
        return 1;
    }
    worker_t *w = calloc((size_t)conns, sizeof(*w));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(seconds * 1e9);
    for (int i = 0; i < conns; i++) {
        w[i] = (worker_t){.port = port, .depth = depth, .ntopics = ntopics, .end_ns = end};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    uint64_t done = 0, errors = 0;
    size_t nlat = 0;
    int fail = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        done += w[i].done;
        errors += w[i].errors;
        nlat += w[i].nlat;
        fail |= w[i].fail;
    }
    double el = (double)(mono_ns() - t0) / 1e9;
    int64_t *all = malloc((nlat ? nlat : 1) * sizeof(int64_t));
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof(int64_t));
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(all, nlat, sizeof(int64_t), cmp64);
#define PCT(p) (nlat ? (double)all[(size_t)((double)(nlat - 1) * (p))] / 1000.0 : 0.0)
    printf("GET_ROUTEINFO_BY_TOPIC: %d conns x depth %d, %d topics on 2 brokers, %.1f s\n", conns,
           depth, ntopics, el);
    printf("  %" PRIu64 " requests, %.0f req/s, errors %" PRIu64 "\n", done, (double)done / el,
           errors);
    printf("  latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n", PCT(0.50),
           PCT(0.90), PCT(0.99), PCT(0.999), PCT(1.0));
    free(all);
    free(w);
    free(th);
    wc_close(&reg);
    if (pid > 0) {
        tu_stop(pid, 15, 10000);
        if (!fail && !errors) tu_rmrf(dir);
        free(dir);
    }
    return fail || errors || done == 0 ? 1 : 0;
}
