/*
 * Broker <-> NameServer: registration at start (TBW102 and the system topics
 * routable), re-registration at once when a topic is created by admin or
 * auto-created by a send, and UNREGISTER_BROKER on a clean shutdown; two
 * NameServers in namesrvAddr both get it. Skipped (with a message) when the
 * NameServer is not built. bindAddress limits the listeners; threads are named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <dirent.h>

#include "../broker_client.h"
#include "../testutil.h"

static void test_register(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bns");
    int ns1 = tu_free_port(), ns2 = tu_free_port();
    pid_t n1 = bc_spawn_namesrv(dir, ns1, NULL);
    if (n1 <= 0) {
        printf("SKIP: petrel namesrv did not start (not built yet?)\n");
        tu_rmrf(dir);
        free(dir);
        return;
    }
    pid_t n2 = bc_spawn_namesrv(dir, ns2, NULL);
    assert_true(n2 > 0);
    int port = tu_free_port();
    char nsaddr[128];
    snprintf(nsaddr, sizeof(nsaddr), "--namesrvAddr=127.0.0.1:%d;127.0.0.1:%d", ns1, ns2);
    const char *extra[] = {nsaddr, NULL};
    pid_t b = bc_spawn_broker(dir, port, extra, NULL);
    assert_true(b > 0);
    char body[65536], want[128];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    assert_true(TU_WAIT_FOR(bc_route_code(ns1, "TBW102", body, sizeof(body)) == SUCCESS, 10000));
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "broker-a"));
    assert_true(TU_WAIT_FOR(bc_route_code(ns2, "TBW102", NULL, 0) == SUCCESS, 10000));
    /* a topic created by admin is routable at once */
    assert_int_equal(bc_route_code(ns1, "TopicNs", NULL, 0), TOPIC_NOT_EXIST);
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ct[] = {"topic", "TopicNs", "readQueueNums", "3", "writeQueueNums", "3",
                        "perm", "6", "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, ct, &r), SUCCESS);
    assert_true(TU_WAIT_FOR(bc_route_code(ns1, "TopicNs", body, sizeof(body)) == SUCCESS, 5000));
    assert_non_null(strstr(body, "\"writeQueueNums\":3"));
    assert_true(TU_WAIT_FOR(bc_route_code(ns2, "TopicNs", NULL, 0) == SUCCESS, 5000));
    /* a topic auto-created by a send too */
    assert_int_equal(bc_send_msg(&c, "TopicAuto", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    assert_true(TU_WAIT_FOR(bc_route_code(ns1, "TopicAuto", body, sizeof(body)) == SUCCESS, 5000));
    assert_non_null(strstr(body, "\"writeQueueNums\":4"));
    /* deletion is re-registered */
    const char *dt[] = {"topic", "TopicNs", NULL};
    assert_int_equal(bc_code(&c, DELETE_TOPIC_IN_BROKER, dt, &r), SUCCESS);
    bc_close(&c);
    /* clean shutdown unregisters: the routes go at once */
    int st = bc_stop(b, 15, 20000);
    assert_true(tu_exited_ok(st));
    assert_true(TU_WAIT_FOR(bc_route_code(ns1, "TopicAuto", NULL, 0) == TOPIC_NOT_EXIST, 5000));
    assert_true(TU_WAIT_FOR(bc_route_code(ns2, "TopicAuto", NULL, 0) == TOPIC_NOT_EXIST, 5000));
    bc_stop(n1, 15, 10000);
    bc_stop(n2, 15, 10000);
    tu_rmrf(dir);
    free(dir);
}

/* 1 when /proc/net/tcp has a listening socket on hexaddr:port ("0100007F" = 127.0.0.1) */
static int listening(const char *hexaddr, int port) {
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f) return -1;
    char line[512], want[32];
    snprintf(want, sizeof(want), "%s:%04X", hexaddr, port);
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        char local[64], remote[64], st[8];
        if (sscanf(line, " %*d: %63s %63s %7s", local, remote, st) == 3 && !strcmp(local, want) &&
            !strcmp(st, "0A"))
            found = 1;
    }
    fclose(f);
    return found;
}

/* 1 when process pid has a thread named name (/proc/<pid>/task/<tid>/comm) */
static int has_thread(pid_t pid, const char *name) {
    char path[128];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char cpath[400], comm[32] = "";
        snprintf(cpath, sizeof(cpath), "%s/%s/comm", path, e->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f) continue;
        if (fgets(comm, sizeof(comm), f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        found = strcmp(comm, name) == 0;
    }
    closedir(d);
    return found;
}

/* bindAddress (RocketMQ 5's NettyServerConfig key): the remoting, VIP and HA ports listen there
 * only; by default on every address */
static void test_bind_address(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-bind");
    int port = tu_free_port();
    const char *extra[] = {"--bindAddress=127.0.0.1", NULL};
    pid_t b = bc_spawn_broker(dir, port, extra, NULL);
    assert_true(b > 0);
    assert_true(TU_WAIT_FOR(listening("0100007F", port) == 1, 10000));
    assert_int_equal(listening("0100007F", port - 2), 1); /* VIP */
    assert_true(TU_WAIT_FOR(listening("0100007F", port + 1) == 1, 10000)); /* HA */
    assert_int_equal(listening("00000000", port), 0);
    /* the broker's threads carry names (top -H, perf) */
    assert_true(has_thread(b, "broker-loop"));
    assert_true(has_thread(b, "store-flush"));
    assert_true(has_thread(b, "store-dispatch"));
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&c, "TopicBind", 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SUCCESS);
    bc_close(&c);
    int st = bc_stop(b, 15, 20000);
    assert_true(tu_exited_ok(st));
    /* the default: every address */
    port = tu_free_port();
    b = bc_spawn_broker(dir, port, NULL, NULL);
    assert_true(b > 0);
    assert_true(TU_WAIT_FOR(listening("00000000", port) == 1, 10000));
    st = bc_stop(b, 15, 20000);
    assert_true(tu_exited_ok(st));
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_register),
                                       cmocka_unit_test(test_bind_address)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
