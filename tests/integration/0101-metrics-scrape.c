/*
 * 0101-metrics-scrape: a real broker, N sends and M pulls over the wire, then
 * /metrics scraped over HTTP and parsed by a real Prometheus text-format
 * parser (npm parse-prometheus-text-format, tests/console/prom2json.js).
 * Checks messages_in grows by exactly N, messages_out by M, and the lag
 * family as RocketMQ 5 defines it (absent while the group has no offset).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sys/wait.h>

#include "../broker_client.h"
#include "../testutil.h"
#include "metrics_scrape.h"

static int port;
static pid_t pid;

static int setup(void **state) {
    (void)state;
    char mp[64];
    mport = tu_free_port();
    snprintf(mp, sizeof(mp), "--metricsPort=%d", mport);
    const char *extra[] = {mp, "--metricsPromExporterHost=127.0.0.1", NULL};
    pid = bc_solo_start("petrel-it-metrics", extra, &dir, &port);
    if (pid <= 0 || tu_wait_port(mport, 10000) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return bc_solo_stop(pid, dir);
}

static void commit(bc_t *c, const char *group, const char *topic, int qid, int64_t off) {
    char q[16], o[32];
    snprintf(q, sizeof(q), "%d", qid);
    snprintf(o, sizeof(o), "%lld", (long long)off);
    const char *ext[] = {"consumerGroup", group, "topic", topic, "queueId", q, "commitOffset", o,
                         NULL};
    rm_cmd_t r;
    assert_int_equal(bc_code(c, UPDATE_CONSUMER_OFFSET, ext, &r), SUCCESS);
}

static int pull_n(bc_t *c, const char *group, const char *topic, int qid, int64_t off, int max) {
    rm_cmd_t r;
    assert_int_equal(bc_pull(c, group, topic, qid, off, max, 4, "*", 0, &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    return bc_count_records(&r);
}

static void test_counts_and_lag(void **state) {
    (void)state;
    const char *T = "MetricsTopic", *G = "MetricsGroup";
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    /* A first message creates the topic; the baseline is scraped after it. */
    assert_int_equal(bc_send_msg(&c, T, 0, "KEYS\001k0\002", "x", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    cJSON *before = scrape();
    double in0 = value(before, "rocketmq_messages_in_total", T, NULL);
    assert_true(in0 >= 1);
    /* No committed offset yet: the lag is unknown, so absent (never 0). */
    assert_null(sample(before, "rocketmq_consumer_lag_messages", T, G));
    assert_null(sample(before, "rocketmq_consumer_ready_messages", T, G));
    cJSON_Delete(before);

    const int N0 = 19, N1 = 5; /* queue 0 ends with 20 messages, queue 1 with 5 */
    char body[300];
    memset(body, 'b', sizeof(body));
    for (int i = 0; i < N0 + N1; i++) {
        assert_int_equal(bc_send_msg(&c, T, i < N0 ? 0 : 1, "KEYS\001k\002", body, sizeof(body), &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    /* M = 15 consumed: 10 pulled and committed, then 5 more pulled, not committed. */
    assert_int_equal(pull_n(&c, G, T, 0, 0, 10), 10);
    commit(&c, G, T, 0, 10);
    commit(&c, G, T, 1, 0);
    assert_int_equal(pull_n(&c, G, T, 0, 10, 5), 5);

    cJSON *after = scrape();
    assert_int_equal((int64_t)(value(after, "rocketmq_messages_in_total", T, NULL) - in0), N0 + N1);
    assert_int_equal((int64_t)value(after, "rocketmq_throughput_in_total", T, NULL),
                     1 + (N0 + N1) * (int64_t)sizeof(body));
    assert_int_equal((int64_t)value(after, "rocketmq_messages_out_total", T, G), 15);
    /* Unconsumed (uncommitted): (20 - 10) + (5 - 0). */
    assert_int_equal((int64_t)value(after, "rocketmq_consumer_lag_messages", T, G), 15);
    /* Ready = not yet pulled: (20 - 15) + (5 - 0); in flight = pulled, uncommitted. */
    assert_int_equal((int64_t)value(after, "rocketmq_consumer_ready_messages", T, G), 10);
    assert_int_equal((int64_t)value(after, "rocketmq_consumer_inflight_messages", T, G), 5);
    assert_true(value(after, "rocketmq_consumer_lag_latency", T, G) >= 0);
    assert_true(value(after, "rocketmq_consumer_queueing_latency", T, G) >= 0);
    /* The size histogram counted every message. */
    assert_string_equal(family_type(after, "rocketmq_message_size"), "histogram");
    assert_string_equal(family_type(after, "rocketmq_messages_in"), "counter");
    assert_string_equal(family_type(after, "rocketmq_consumer_ready_messages"), "gauge");
    assert_int_equal((int64_t)value(after, "rocketmq_message_size_count", T, NULL), 1 + N0 + N1);
    const cJSON *b1k = sample_le(after, "rocketmq_message_size_bucket", T, NULL, "1024");
    assert_non_null(b1k);
    assert_int_equal((int64_t)cJSON_GetObjectItem(b1k, "value")->valuedouble, 1 + N0 + N1);
    /* rpc latency by request and response code. */
    int seen_send = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(after, "samples")) {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, "rocketmq_rpc_latency_count") != 0)
            continue;
        if (strcmp(label(s, "request_code"), "send_message_v2") == 0 &&
            strcmp(label(s, "response_code"), "success") == 0) {
            assert_int_equal((int64_t)cJSON_GetObjectItem(s, "value")->valuedouble, 1 + N0 + N1);
            seen_send = 1;
        }
    }
    assert_true(seen_send);
    assert_true(value(after, "rocketmq_topic_number", NULL, NULL) >= 1);
    assert_true(value(after, "process_resident_memory_bytes", NULL, NULL) > 0);
    assert_true(value(after, "petrel_open_connections", NULL, NULL) >= 1);
    assert_true(value(after, "rocketmq_storage_flush_behind_bytes", NULL, NULL) >= 0);
    /* Timed sends were counted; the median itself may be 0 µs on a fast machine. */
    assert_true(value(after, "petrel_put_latency_microseconds_count", NULL, NULL) >= 1);
    assert_true(value(after, "petrel_put_latency_microseconds", NULL, NULL) >= 0);
    cJSON_Delete(after);

    /* message_type as RocketMQ 5 labels it: a delayed message counts as Delay. */
    assert_int_equal(bc_send_msg(&c, "MetricsDelay", 0, "DELAY\0013\002", "d", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    cJSON *mt = scrape();
    int delay_seen = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(mt, "samples")) {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, "rocketmq_messages_in_total") != 0 ||
            strcmp(label(s, "topic"), "MetricsDelay") != 0)
            continue;
        if (!strcmp(label(s, "message_type"), "Delay"))
            delay_seen = cJSON_GetObjectItem(s, "value")->valuedouble == 1;
    }
    assert_true(delay_seen);
    cJSON_Delete(mt);

    /* Everything committed: the lag falls to 0 (known, so present). */
    commit(&c, G, T, 0, 20);
    commit(&c, G, T, 1, 5);
    cJSON *done = scrape();
    assert_int_equal((int64_t)value(done, "rocketmq_consumer_lag_messages", T, G), 0);
    assert_int_equal((int64_t)value(done, "rocketmq_consumer_ready_messages", T, G), 0);
    assert_int_equal((int64_t)value(done, "rocketmq_consumer_lag_latency", T, G), 0);
    cJSON_Delete(done);
    bc_close(&c);
}

static void test_other_paths(void **state) {
    (void)state;
    char *text = NULL;
    assert_int_equal(http_get(mport, "/nope", &text, NULL, 0), 404);
    free(text);
    assert_int_equal(http_get(mport, "/", &text, NULL, 0), 200);
    assert_non_null(strstr(text, "/metrics"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_lag),
        cmocka_unit_test(test_other_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
