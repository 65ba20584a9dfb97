/*
 * 0090-bench: `petrel bench` in short bounded runs (-N) against a real
 * `petrel namesrv` + `petrel broker` pair; each run's --json summary is parsed
 * and asserted (count == N, failures == 0). PETREL_TEST_NAMESRV=host:port runs
 * it against an already running NameServer instead.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../testutil.h"

static int failures;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);           \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static char ns_addr[64], tmp[512];
static char out[1 << 20], err[1 << 16];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs `petrel <args>` (space-separated, '~' stands for a space inside an
 * argument) with -n added; returns the exit code, output in out/err. */
static int petrel(const char *fmt, ...) {
    char line[2048], *argv[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int n = 0;
    argv[n++] = (char *)tu_bin();
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && n < 60; t = strtok_r(NULL, " ", &save)) {
        for (char *p = t; *p; p++)
            if (*p == '~') *p = ' ';
        argv[n++] = t;
    }
    int has_n = 0;
    for (int i = 1; i < n; i++) has_n |= !strcmp(argv[i], "-n");
    if (!has_n) {
        argv[n++] = "-n";
        argv[n++] = ns_addr;
    }
    argv[n] = NULL;
    char op[600], ep[600];
    snprintf(op, sizeof op, "%s/out", tmp);
    snprintf(ep, sizeof ep, "%s/err", tmp);
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
    slurp(op, out, sizeof out);
    slurp(ep, err, sizeof err);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (getenv("PETREL_TEST_VERBOSE"))
        fprintf(stderr, "$ petrel %s -> %d\n%s%s", argv[1], rc, out, err);
    return rc;
}

/* The summary is the last line of stdout. */
static cJSON *json_out(void) {
    size_t l = strlen(out);
    while (l && out[l - 1] == '\n') out[--l] = 0;
    char *last = strrchr(out, '\n');
    cJSON *j = cJSON_Parse(last ? last + 1 : out);
    if (!j) fprintf(stderr, "not JSON: %s\n", out);
    return j;
}

static int64_t num(cJSON *j, const char *k) {
    cJSON *v = cJSON_GetObjectItem(j, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* Runs one bounded bench and checks its summary; returns the parsed summary. */
static cJSON *bench(int expect_rc, const char *fmt, const char *topic, const char *extra) {
    int rc = petrel(fmt, topic, extra);
    CHECK(rc == expect_rc);
    if (rc != expect_rc) fprintf(stderr, "bench output: %s\n%s\n", out, err);
    cJSON *j = json_out();
    CHECK(j != NULL);
    return j;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    char *td = tu_tmpdir("petrel-bench");
    snprintf(tmp, sizeof tmp, "%s", td);
    free(td); /* malloc'd by testutil */
    pid_t ns_pid = 0, br_pid = 0;
    const char *ext = getenv("PETREL_TEST_NAMESRV");
    if (ext) {
        snprintf(ns_addr, sizeof ns_addr, "%s", ext);
    } else {
        int np = tu_free_port(), bp = tu_free_port();
        char a1[64], a2[600], a3[64], a4[128], a5[600], log[600];
        snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", np);
        snprintf(a1, sizeof a1, "--listenPort=%d", np);
        snprintf(a2, sizeof a2, "--kvConfigPath=%s/kvConfig.json", tmp);
        snprintf(log, sizeof log, "%s/namesrv.log", tmp);
        char *nargv[] = {NULL, "namesrv", a1, a2, NULL};
        ns_pid = tu_spawn(nargv, log);
        /* the broker registers once at start, then every 30 s: let the NameServer listen first */
        if (tu_wait_port(np, 10000)) {
            fprintf(stderr, "FAIL: petrel namesrv did not start (log in %s)\n", tmp);
            tu_stop(ns_pid, SIGKILL, 5000);
            return 1;
        }
        snprintf(a3, sizeof a3, "--listenPort=%d", bp);
        snprintf(a4, sizeof a4, "--namesrvAddr=%s", ns_addr);
        snprintf(a5, sizeof a5, "--storePathRootDir=%s/store", tmp);
        snprintf(log, sizeof log, "%s/broker.log", tmp);
        char *bargv[] = {NULL, "broker", a3, a4, a5, "--brokerName=broker-a",
                         "--brokerIP1=127.0.0.1", NULL};
        br_pid = tu_spawn(bargv, log);
        if (tu_wait_port(bp, 10000)) {
            fprintf(stderr, "FAIL: petrel namesrv/broker did not start (logs in %s)\n", tmp);
            if (ns_pid) tu_stop(ns_pid, SIGKILL, 5000);
            if (br_pid) tu_stop(br_pid, SIGKILL, 5000);
            return 1;
        }
    }
    char topic[64];
    snprintf(topic, sizeof topic, "BenchT%d", (int)getpid());
    CHECK(petrel("bench --help") == 0 && strstr(out, "--inflight"));
    CHECK(petrel("bench produce --mode nope") == 2);
    /* the broker registers with the NameServer shortly after it starts */
    CHECK(TU_WAIT_FOR(petrel("admin clusterList --json") == 0 && strstr(out, "\"ok\""), 15000));

    /* async, pipelined: the topic is created (8 queues) on first use */
    cJSON *j = bench(0, "bench produce -t %s -N 2000 -s 100 -c 2 --inflight 32 --json %s", topic, "");
    CHECK(num(j, "count") == 2000 && num(j, "failures") == 0 && num(j, "tps") > 0);
    CHECK(cJSON_GetObjectItem(j, "latencyMs") && num(cJSON_GetObjectItem(j, "latencyMs"), "max") >= 0);
    cJSON_Delete(j);
    CHECK(petrel("admin topicRoute -t %s --json", topic) == 0 && strstr(out, "\"writeQueueNums\":\t8"));

    j = bench(0, "bench produce -t %s -N 500 --mode sync -w 8 -c 2 -s 1024 --json %s", topic, "");
    CHECK(num(j, "count") == 500 && num(j, "failures") == 0 && num(j, "size") == 1024);
    cJSON_Delete(j);

    /* the same with one OS thread per sync producer */
    j = bench(0, "bench produce -t %s -N 200 --mode sync --threads -w 4 -c 1 --json %s", topic, "");
    CHECK(num(j, "count") == 200 && num(j, "failures") == 0);
    cJSON_Delete(j);

    j = bench(0, "bench produce -t %s -N 640 --mode batch --batch 32 --inflight 4 -c 1 --json %s", topic, "");
    CHECK(num(j, "count") == 640 && num(j, "failures") == 0);
    cJSON_Delete(j);

    j = bench(0, "bench produce -t %s -N 300 --mode oneway --inflight 50 -c 1 --json %s", topic, "");
    CHECK(num(j, "count") == 300 && num(j, "failures") == 0);
    cJSON_Delete(j);

    /* everything above is there to consume: 2000 + 500 + 200 + 640 + 300 */
    j = bench(0, "bench consume -t %s -N 3640 -g BenchG --json %s", topic, "");
    CHECK(num(j, "received") >= 3640);
    cJSON_Delete(j);

    /* end to end at a fixed rate, bounded by count */
    j = bench(0, "bench e2e -t %s -N 1000 --rate 2000 -c 1 --inflight 16 --json %s", topic, "");
    CHECK(num(j, "count") == 1000 && num(j, "failures") == 0 && num(j, "received") == 1000);
    CHECK(cJSON_GetObjectItem(j, "e2eMs") != NULL);
    cJSON_Delete(j);

    /* a warm-up is left out of the figures; the lag is sampled at every measured second */
    j = bench(0, "bench e2e -t %s -d 2 --warmup 1 --rate 1000 -c 1 --inflight 16 --json %s", topic, "");
    CHECK(num(j, "failures") == 0 && num(j, "count") > 0 && num(j, "countAll") >= num(j, "count"));
    cJSON *lag = cJSON_GetObjectItem(j, "lagPerSecond");
    CHECK(cJSON_IsArray(lag) && cJSON_GetArraySize(lag) >= 1 && num(j, "lagMax") >= 0);
    cJSON_Delete(j);

    /* duration bound, table output */
    CHECK(petrel("bench produce -t %s -d 1 -c 1 --inflight 8", topic) == 0 && strstr(out, "summary") &&
          strstr(out, "msg/s"));

    /* unreachable NameServer */
    int dead = tu_free_port();
    CHECK(petrel("bench produce -n 127.0.0.1:%d -N 10 --json", dead) == 3);

    if (br_pid) tu_stop(br_pid, SIGTERM, 10000);
    if (ns_pid) tu_stop(ns_pid, SIGTERM, 10000);
    if (!failures) tu_rmrf(tmp);
    else fprintf(stderr, "%d checks failed (files in %s)\n", failures, tmp);
    return failures ? 1 : 0;
}
