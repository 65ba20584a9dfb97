/*
 * Several broker groups and NameServers (issue 9, part 1): two NameServers,
 * two broker groups (broker-a, broker-b) registered with both; the route of a
 * topic created on both merges the queues of both groups. broker-b is then
 * SIGKILLed: both NameServers drop its queues when its connections close
 * (no clean UNREGISTER_BROKER), while sends to broker-a keep succeeding.
 * `petrel admin clusterList` against either NameServer lists both groups.
 * All processes on 127.0.0.1 (no network namespaces).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../broker_client.h"
#include "../testutil.h"

static const char *const ns_extra[] = {"--scanNotActiveBrokerInterval=500", NULL};

/* Route of topic on ns has both groups (want_b) or only broker-a (!want_b). */
static int route_has(int ns_port, const char *topic, int want_b) {
    static char body[65536];
    if (bc_route_code(ns_port, topic, body, sizeof(body)) != SUCCESS) return 0;
    int a = strstr(body, "\"brokerName\":\"broker-a\"") != NULL;
    int b = strstr(body, "\"brokerName\":\"broker-b\"") != NULL;
    return a && b == want_b;
}

/* `petrel admin clusterList` lists both groups. */
static int cluster_list_has_both(int ns_port) {
    char cmd[1200], line[512];
    snprintf(cmd, sizeof(cmd), "'%s' admin clusterList -n 127.0.0.1:%d 2>&1", tu_bin(), ns_port);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    int a = 0, b = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "broker-a")) a = 1;
        if (strstr(line, "broker-b")) b = 1;
    }
    return pclose(f) == 0 && a && b;
}

static void create_topic(int port, const char *topic) {
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ct[] = {"topic", topic, "readQueueNums", "4", "writeQueueNums", "4",
                        "perm", "6", "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, ct, &r), SUCCESS);
    bc_close(&c);
}

static void test_groups(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-grp");
    char da[400], db[400];
    snprintf(da, sizeof(da), "%s/a", dir);
    snprintf(db, sizeof(db), "%s/b", dir);
    int ns1 = tu_free_port(), ns2 = tu_free_port();
    pid_t n1 = bc_spawn_namesrv(dir, ns1, ns_extra);
    assert_true(n1 > 0);
    pid_t n2 = bc_spawn_namesrv(dir, ns2, ns_extra);
    assert_true(n2 > 0);
    char nsaddr[128];
    snprintf(nsaddr, sizeof(nsaddr), "--namesrvAddr=127.0.0.1:%d;127.0.0.1:%d", ns1, ns2);
    int pa = tu_free_port(), pb = tu_free_port();
    char bla[700], blb[700];
    snprintf(bla, sizeof(bla), "%s/broker-a.log", dir);
    snprintf(blb, sizeof(blb), "%s/broker-b.log", dir);
    const char *ea[] = {nsaddr, "--brokerName=broker-a", NULL};
    const char *eb[] = {nsaddr, "--brokerName=broker-b", NULL};
    pid_t ba = bc_spawn_broker(da, pa, ea, bla);
    assert_true(ba > 0);
    pid_t bb = bc_spawn_broker(db, pb, eb, blb);
    assert_true(bb > 0);
    create_topic(pa, "TopicGrp");
    create_topic(pb, "TopicGrp");
    /* both NameServers merge the queues of both groups */
    assert_true(TU_WAIT_FOR(route_has(ns1, "TopicGrp", 1), 10000));
    assert_true(TU_WAIT_FOR(route_has(ns2, "TopicGrp", 1), 10000));
    char body[65536];
    assert_int_equal(bc_route_code(ns1, "TopicGrp", body, sizeof(body)), SUCCESS);
    char wa[64], wb[64];
    snprintf(wa, sizeof(wa), "127.0.0.1:%d", pa);
    snprintf(wb, sizeof(wb), "127.0.0.1:%d", pb);
    assert_non_null(strstr(body, wa));
    assert_non_null(strstr(body, wb));
    assert_true(cluster_list_has_both(ns1));
    assert_true(cluster_list_has_both(ns2));

    bc_t c;
    assert_int_equal(bc_connect(&c, pa), 0);
    rm_cmd_t r;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicGrp", i % 4, "", "a", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    /* broker-b dies without unregistering: its routes go when its channels close */
    assert_true(bc_stop(bb, SIGKILL, 10000) >= 0);
    assert_true(TU_WAIT_FOR(route_has(ns1, "TopicGrp", 0), 15000));
    assert_true(TU_WAIT_FOR(route_has(ns2, "TopicGrp", 0), 15000));
    assert_int_equal(bc_route_code(ns2, "TopicGrp", body, sizeof(body)), SUCCESS);
    assert_null(strstr(body, wb));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(bc_send_msg(&c, "TopicGrp", i % 4, "", "a", 1, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    /* 40 messages in broker-a's four queues */
    int64_t total = 0;
    for (int q = 0; q < 4; q++) {
        char qs[8];
        snprintf(qs, sizeof(qs), "%d", q);
        const char *ext[] = {"topic", "TopicGrp", "queueId", qs, NULL};
        assert_int_equal(bc_code(&c, GET_MAX_OFFSET, ext, &r), SUCCESS);
        total += bc_ext_i64(&r, "offset");
    }
    assert_int_equal(total, 40);
    bc_close(&c);
    assert_true(bc_stop(ba, SIGTERM, 20000) >= 0);
    bc_stop(n1, SIGTERM, 10000);
    bc_stop(n2, SIGTERM, 10000);
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_groups)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
