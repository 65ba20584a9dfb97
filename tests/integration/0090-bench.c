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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../testutil.h"

#define CHECK(c) TU_CHECK(c)

static tu_pair_t pair; /* the servers (or $PETREL_TEST_NAMESRV), the data dir */
static char out[1 << 20], err[1 << 16];

/* Runs `petrel <args>` (space-separated, '~' stands for a space inside an
 * argument) with -n added; returns the exit code, output in out/err. */
static int petrel(const char *fmt, ...) {
    tu_cmd_t c = {pair.dir, pair.ns_addr, out, err, sizeof out, sizeof err};
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_cmd_vrun(&c, NULL, fmt, ap);
    va_end(ap);
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
    if (tu_pair_start_or_external(&pair, "petrel-bench") != 0) return 1;
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

    return tu_pair_finish(&pair);
}
