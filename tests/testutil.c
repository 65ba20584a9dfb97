/*
 * testutil: see testutil.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* memmem */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "remoting/remoting.h"

const char *tu_bin(void) {
    const char *b = getenv("PETREL_BIN");
    return b ? b : "./petrel";
}

char *tu_tmpdir(const char *prefix) {
    const char *base = getenv("TMPDIR");
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s-XXXXXX", base ? base : "/tmp", prefix);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void tu_rmrf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    int rc = system(cmd);
    (void)rc;
}

static int port_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int tu_free_port(void) {
    /* Pick from a range away from the ephemeral one, spread by pid so
     * parallel ctest processes rarely meet; check port, port-2 and port+1
     * (the broker's fast and HA ports). */
    /* Stay below the kernel's ephemeral range: an outgoing connection of any
     * process can take an ephemeral port between our check and the bind. */
    static int next = 0, lo = 10000, hi = 0;
    if (!next) {
        hi = 32000;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        int a = 0, b = 0;
        if (f) {
            if (fscanf(f, "%d %d", &a, &b) == 2 && a - 10 > lo + 5000) hi = a - 10;
            fclose(f);
        }
        int slots = (hi - lo) / 100;
        next = lo + 2 + (int)(getpid() % slots) * 100; /* 20 picks before the next pid's range */
    }
    for (int i = 0; i < 2000; i++) {
        int p = next;
        next += 5;
        if (next > hi) next = lo + 2;
        if (port_free(p) && port_free(p - 2) && port_free(p + 1)) return p;
    }
    abort();
}

pid_t tu_spawn(char *const argv[], const char *logpath) {
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        /* A failed assertion (or a ctest timeout) ends the test without its
         * clean-up: do not leave brokers running and holding ports. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        if (logpath) {
            int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        const char *bin = argv[0] ? argv[0] : tu_bin();
        if (argv[0]) execv(bin, argv);
        /* argv[0] NULL: the same vector with the petrel binary in front */
        int n = 0;
        while (argv[n + 1]) n++;
        char **v = calloc((size_t)n + 2, sizeof(char *));
        v[0] = (char *)bin;
        for (int i = 1; i <= n; i++) v[i] = argv[i];
        execv(bin, v);
        perror("execv");
        _exit(127);
    }
    return pid;
}

int64_t tu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tu_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int tu_exited_ok(int st) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

int tu_file_has(const char *path, const char *needle) {
    char *text = NULL;
    if (file_read_all(path, &text, NULL) != 0) return 0;
    int ok = strstr(text, needle) != NULL;
    free(text);
    return ok;
}

int tu_scaled(int ms) {
    const char *s = getenv("PETREL_TEST_TIMEOUT_SCALE");
    int k = s ? atoi(s) : 1;
    return ms * (k > 0 ? k : 1);
}

int tu_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int tu_wait_port(int port, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    for (;;) {
        int fd = tu_connect(port);
        if (fd >= 0) close(fd);
        if (fd >= 0) return 0;
        if (tu_now_ms() >= deadline) return -1;
        tu_sleep_ms(20);
    }
}

int tu_wait_port_pid(int port, pid_t pid, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    while (tu_now_ms() < deadline) {
        if (tu_wait_port(port, 0) == 0) return 0;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* WNOWAIT: leave the zombie for the caller's tu_stop to reap */
        if (pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return -1;
        tu_sleep_ms(20);
    }
    return -1;
}

int tu_stop(pid_t pid, int sig, int timeout_ms) {
    /* kill(0 or -1, sig) would signal our process group or every process we
     * may signal: never. */
    if (pid <= 0) return -1;
    if (sig) kill(pid, sig);
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    int status;
    while (tu_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        tu_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* ---- a NameServer + one broker ------------------------------------------------ */

static void add_args(char **argv, int *n, const char *const *extra) {
    for (; extra && *extra; extra++) argv[(*n)++] = (char *)*extra;
}

int tu_pair_start(tu_pair_t *p, const char *name, const char *const *ns_extra,
                  const char *const *br_extra) {
    memset(p, 0, sizeof(*p));
    p->dir = tu_tmpdir(name);
    char log[700], port[64], kv[700], *argv[64];
    int n = 0;
    p->ns_port = tu_free_port();
    snprintf(log, sizeof(log), "%s/namesrv.log", p->dir);
    snprintf(port, sizeof(port), "--listenPort=%d", p->ns_port);
    snprintf(kv, sizeof(kv), "--kvConfigPath=%s/kvConfig.json", p->dir);
    argv[n++] = NULL;
    argv[n++] = "namesrv";
    argv[n++] = port;
    argv[n++] = kv;
    add_args(argv, &n, ns_extra);
    argv[n] = NULL;
    p->ns_pid = tu_spawn(argv, log);
    if (tu_wait_port_pid(p->ns_port, p->ns_pid, 15000) != 0) return -1;
    snprintf(p->ns_addr, sizeof(p->ns_addr), "127.0.0.1:%d", p->ns_port);

    p->br_port = tu_free_port();
    snprintf(p->br_addr, sizeof(p->br_addr), "127.0.0.1:%d", p->br_port);
    char root[700], nsa[128];
    snprintf(root, sizeof(root), "--storePathRootDir=%s/store", p->dir);
    snprintf(port, sizeof(port), "--listenPort=%d", p->br_port);
    snprintf(nsa, sizeof(nsa), "--namesrvAddr=%s", p->ns_addr);
    snprintf(log, sizeof(log), "%s/broker.log", p->dir);
    n = 0;
    argv[n++] = NULL;
    argv[n++] = "broker";
    argv[n++] = root;
    argv[n++] = port;
    argv[n++] = nsa;
    argv[n++] = "--brokerIP1=127.0.0.1";
    argv[n++] = "--brokerName=broker-a";
    add_args(argv, &n, br_extra);
    argv[n] = NULL;
    p->br_pid = tu_spawn(argv, log);
    if (tu_wait_port_pid(p->br_port, p->br_pid, 15000) != 0) return -1;
    return TU_WAIT_FOR(tu_route_ready(p->ns_addr, "TBW102", 0), 15000) ? 0 : -1;
}

int tu_pair_stop(tu_pair_t *p, int keep_dir) {
    int st1 = tu_stop(p->br_pid, SIGTERM, 15000), st2 = tu_stop(p->ns_pid, SIGTERM, 15000);
    if (!(st1 >= 0 && WIFEXITED(st1) && st2 >= 0 && WIFEXITED(st2))) {
        fprintf(stderr, "server exit status %d/%d, logs in %s\n", st1, st2, p->dir);
        return -1;
    }
    if (keep_dir) return 0;
    tu_rmrf(p->dir);
    free(p->dir);
    p->dir = NULL;
    return 0;
}

void tu_pair_kill(tu_pair_t *p) {
    if (p->br_pid > 0) tu_stop(p->br_pid, SIGKILL, 5000);
    if (p->ns_pid > 0) tu_stop(p->ns_pid, SIGKILL, 5000);
}

int tu_admin_call(const char *addr, int code, const char *const *ext, rm_response_t **resp) {
    rm_client_opts_t o = {0};
    rm_client_t *cli = rm_client_create(&o);
    rm_request_t req = {code, NULL, ext, NULL, 0};
    int rc = rm_client_invoke_sync(cli, addr, &req, 5000, resp);
    rm_client_destroy(cli);
    return rc;
}

int tu_route_ready(const char *ns_addr, const char *topic, int queues) {
    const char *ext[] = {"topic", topic, NULL};
    rm_response_t *r = NULL;
    if (tu_admin_call(ns_addr, GET_ROUTEINFO_BY_TOPIC, ext, &r) != 0) return 0;
    int ok = r->cmd.code == SUCCESS;
    if (ok && queues) {
        char want[64];
        snprintf(want, sizeof(want), "\"writeQueueNums\":%d", queues);
        ok = r->cmd.body && memmem(r->cmd.body, r->cmd.body_len, want, strlen(want)) != NULL;
    }
    rm_response_free(r);
    return ok;
}

int tu_create_topic(const tu_pair_t *p, const char *topic, int queues) {
    char q[16];
    snprintf(q, sizeof(q), "%d", queues);
    const char *ext[] = {"topic", topic, "defaultTopic", "TBW102", "readQueueNums", q,
                         "writeQueueNums", q, "perm", "6", "topicFilterType", "SINGLE_TAG",
                         "topicSysFlag", "0", "order", "false", NULL};
    rm_response_t *r = NULL;
    if (tu_admin_call(p->br_addr, UPDATE_AND_CREATE_TOPIC, ext, &r) != 0) return -1;
    int ok = r->cmd.code == SUCCESS;
    rm_response_free(r);
    return ok && TU_WAIT_FOR(tu_route_ready(p->ns_addr, topic, queues), 15000) ? 0 : -1;
}

/* ---- tests that run the petrel command ---- */

int tu_failures;

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

int tu_cmd_vrun(const tu_cmd_t *c, const char *sub, const char *fmt, va_list ap) {
    char line[2048], *argv[64];
    vsnprintf(line, sizeof line, fmt, ap);
    int n = 0;
    argv[n++] = (char *)tu_bin();
    if (sub) argv[n++] = (char *)sub;
    int first = n;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && n < 60; t = strtok_r(NULL, " ", &save)) {
        for (char *p = t; *p; p++)
            if (*p == '~') *p = ' ';
        argv[n++] = t;
    }
    int has_n = 0;
    for (int i = first; i < n; i++) has_n |= !strcmp(argv[i], "-n");
    if (!has_n) {
        argv[n++] = "-n";
        argv[n++] = (char *)c->ns_addr;
    }
    argv[n] = NULL;
    char op[600], ep[600];
    snprintf(op, sizeof op, "%s/out", c->dir);
    snprintf(ep, sizeof ep, "%s/err", c->dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = tu_stop(pid, 0, 60000);
    slurp(op, c->out, c->out_cap);
    slurp(ep, c->err, c->err_cap);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (getenv("PETREL_TEST_VERBOSE"))
        fprintf(stderr, "$ petrel %s %s -> %d\n%s%s", sub ? sub : "", argv[first], rc, c->out,
                c->err);
    return rc;
}

int tu_pair_start_or_external(tu_pair_t *p, const char *name) {
    const char *ext = getenv("PETREL_TEST_NAMESRV");
    if (ext) {
        memset(p, 0, sizeof(*p));
        p->dir = tu_tmpdir(name);
        snprintf(p->ns_addr, sizeof(p->ns_addr), "%s", ext);
        return 0;
    }
    if (tu_pair_start(p, name, NULL, NULL) == 0) return 0;
    fprintf(stderr, "FAIL: petrel namesrv/broker did not start (logs in %s)\n", p->dir);
    tu_pair_kill(p);
    return -1;
}

int tu_pair_finish(tu_pair_t *p) {
    tu_stop(p->br_pid, SIGTERM, 10000);
    tu_stop(p->ns_pid, SIGTERM, 10000);
    if (!tu_failures) tu_rmrf(p->dir);
    else fprintf(stderr, "%d checks failed (files in %s)\n", tu_failures, p->dir);
    free(p->dir);
    p->dir = NULL;
    return tu_failures ? 1 : 0;
}
