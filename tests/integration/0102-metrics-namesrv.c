/*
 * 0102-metrics-namesrv: the NameServer's /metrics (metricsPort) with a real
 * broker registered: parsed by the reference Prometheus parser; live brokers,
 * topics and the REGISTER_BROKER latency are there. Also metricsPort=-1 on
 * the broker leaves its port closed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "../broker_client.h"
#include "../testutil.h"
#include "metrics_scrape.h"

static int ns_port, br_port, br_mport;
static pid_t ns_pid, br_pid;

static int setup(void **state) {
    (void)state;
    dir = tu_tmpdir("petrel-it-nsmetrics");
    char log[600], a_port[64], a_mp[64], a_home[600], a_ns[64], a_bmp[64];
    ns_port = tu_free_port();
    mport = tu_free_port();
    br_port = tu_free_port();
    br_mport = tu_free_port();
    snprintf(log, sizeof(log), "%s/namesrv.log", dir);
    snprintf(a_port, sizeof(a_port), "--listenPort=%d", ns_port);
    snprintf(a_mp, sizeof(a_mp), "--metricsPort=%d", mport);
    snprintf(a_home, sizeof(a_home), "--rocketmqHome=%s", dir);
    char *argv[] = {NULL, "namesrv", a_port, a_mp, "--metricsHost=127.0.0.1", a_home, NULL};
    ns_pid = tu_spawn(argv, log);
    if (ns_pid <= 0 || tu_wait_port(ns_port, 10000) != 0 || tu_wait_port(mport, 10000) != 0) return -1;
    snprintf(log, sizeof(log), "%s/broker.log", dir);
    snprintf(a_ns, sizeof(a_ns), "--namesrvAddr=127.0.0.1:%d", ns_port);
    snprintf(a_bmp, sizeof(a_bmp), "--metricsPort=-1");
    const char *extra[] = {a_ns, a_bmp, NULL};
    char sub[480];
    snprintf(sub, sizeof(sub), "%s/store", dir);
    br_pid = bc_spawn_broker(sub, br_port, extra, log);
    return br_pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int a = bc_stop(br_pid, 15, 15000), b = bc_stop(ns_pid, 15, 15000);
    if (!(a >= 0 && WIFEXITED(a) && WEXITSTATUS(a) == 0 && b >= 0 && WIFEXITED(b) &&
          WEXITSTATUS(b) == 0)) {
        fprintf(stderr, "a server did not exit cleanly (%d, %d), logs in %s\n", a, b, dir);
        return -1;
    }
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static int live_brokers(void) {
    cJSON *j = scrape();
    int n = (int)value(j, "petrel_namesrv_live_brokers", NULL, NULL);
    cJSON_Delete(j);
    return n;
}

static void test_namesrv_metrics(void **state) {
    (void)state;
    assert_true(TU_WAIT_FOR(live_brokers() == 1, 10000));
    cJSON *j = scrape();
    assert_string_equal(family_type(j, "rocketmq_rpc_latency"), "histogram");
    assert_true(value(j, "rocketmq_topic_number", NULL, NULL) >= 1);
    assert_int_equal((int64_t)value(j, "petrel_namesrv_clusters", NULL, NULL), 1);
    assert_true(value(j, "petrel_open_connections", NULL, NULL) >= 1);
    assert_true(value(j, "process_resident_memory_bytes", NULL, NULL) > 0);
    int seen = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, "rocketmq_rpc_latency_count") == 0 &&
            strcmp(label(s, "request_code"), "register_broker") == 0 &&
            strcmp(label(s, "response_code"), "success") == 0 &&
            strcmp(label(s, "node_type"), "nameserver") == 0)
            seen = cJSON_GetObjectItem(s, "value")->valuedouble >= 1;
    }
    assert_true(seen);
    cJSON_Delete(j);
}

static void test_broker_metrics_off(void **state) {
    (void)state;
    char *text = NULL;
    assert_int_equal(http_get(br_mport, "/metrics", &text, NULL, 0), -1); /* nothing listens */
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namesrv_metrics),
        cmocka_unit_test(test_broker_metrics_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
