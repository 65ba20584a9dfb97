/*
 * Master/slave replication (issue 9): a slave (brokerId 1, brokerRole SLAVE)
 * learns its master's HA address from the NameServer, catches up from empty
 * and from behind, ends with a commit log byte-identical to the master's,
 * syncs topics (a deletion too) and consumer offsets, refuses sends (SERVICE_NOT_AVAILABLE)
 * and serves pulls while the master is down. SYNC_MASTER answers
 * SLAVE_NOT_AVAILABLE (11) without a slave and SUCCESS with one. The
 * multi-file run also gives back both page caches 1 MiB behind the writer
 * (commitLogCacheWindowMB=1), so replication and pulls read from disk.
 * Multi-host flavour without namespaces: the master advertises 127.0.0.2 and
 * the slave 127.0.0.3 (brokerIP1, so also their HA addresses); the slave
 * reaches its master through the address the NameServer hands out. Every
 * process still listens on all loopback addresses (no network namespaces).
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../broker_client.h"
#include "../testutil.h"

#define TOPIC "TopicRepl"

typedef struct cluster_s {
    char *dir;
    int ns_port, mport, sport;
    pid_t ns, master, slave;
    char nsarg[64];
} cluster_t;

static pid_t spawn_ns(cluster_t *c) {
    char p[64], kv[700], log[700];
    snprintf(p, sizeof(p), "--listenPort=%d", c->ns_port);
    snprintf(kv, sizeof(kv), "--kvConfigPath=%s/kv.json", c->dir);
    snprintf(log, sizeof(log), "%s/ns.log", c->dir);
    char *argv[] = {NULL, "namesrv", p, kv, NULL};
    pid_t pid = tu_spawn(argv, log);
    if (pid > 0 && tu_wait_port(c->ns_port, 5000) != 0) {
        bc_stop(pid, 9, 2000);
        return -1;
    }
    return pid;
}

static void cluster_init(cluster_t *c) {
    memset(c, 0, sizeof(*c));
    c->dir = tu_tmpdir("petrel-it-repl");
    c->ns_port = tu_free_port();
    c->ns = spawn_ns(c);
    assert_true(c->ns > 0);
    snprintf(c->nsarg, sizeof(c->nsarg), "--namesrvAddr=127.0.0.1:%d", c->ns_port);
    c->mport = tu_free_port();
    c->sport = tu_free_port();
}

static char window_arg[64] = "--commitLogCacheWindowMB=0"; /* test_files: 1 */

static pid_t start_master(cluster_t *c, const char *role) {
    char d[400], log[700], r[64];
    snprintf(d, sizeof(d), "%s/master", c->dir);
    snprintf(log, sizeof(log), "%s/master.log", c->dir);
    snprintf(r, sizeof(r), "--brokerRole=%s", role);
    const char *extra[] = {c->nsarg, "--brokerName=broker-r", r, "--syncFlushTimeout=3000",
                           "--brokerIP1=127.0.0.2", window_arg, NULL};
    c->master = bc_spawn_broker(d, c->mport, extra, log);
    assert_true(c->master > 0);
    return c->master;
}

static pid_t start_slave(cluster_t *c) {
    char d[400], log[700];
    snprintf(d, sizeof(d), "%s/slave", c->dir);
    snprintf(log, sizeof(log), "%s/slave.log", c->dir);
    const char *extra[] = {c->nsarg, "--brokerName=broker-r", "--brokerId=1", "--brokerRole=SLAVE",
                           "--brokerIP1=127.0.0.3", window_arg, NULL};
    c->slave = bc_spawn_broker(d, c->sport, extra, log);
    for (int i = 0; i < 3 && c->slave <= 0; i++) { /* the port was taken meanwhile */
        c->sport = tu_free_port();
        c->slave = bc_spawn_broker(d, c->sport, extra, log);
    }
    assert_true(c->slave > 0);
    return c->slave;
}

/* A clean stop exits 0 (under ASan: no leak, no error). */
static void clean_stop(pid_t *pid) {
    int st = bc_stop(*pid, SIGTERM, 20000);
    assert_true(tu_exited_ok(st));
    *pid = 0;
}

static void cluster_free(cluster_t *c) {
    if (c->slave > 0) clean_stop(&c->slave);
    if (c->master > 0) clean_stop(&c->master);
    bc_stop(c->ns, SIGTERM, 10000);
    tu_rmrf(c->dir);
    free(c->dir);
}

static int64_t max_offset(int port, int qid) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return -1;
    char q[8];
    snprintf(q, sizeof(q), "%d", qid);
    const char *ext[] = {"topic", TOPIC, "queueId", q, NULL};
    rm_cmd_t r;
    int64_t v = -1;
    if (bc_call(&c, GET_MAX_OFFSET, ext, NULL, 0, &r, 5000) == 0 && r.code == SUCCESS)
        v = bc_ext_i64(&r, "offset");
    bc_close(&c);
    return v;
}

static int64_t total_offset(int port) {
    int64_t total = 0;
    for (int q = 0; q < 4; q++) total += max_offset(port, q);
    return total;
}

static int same_queues(cluster_t *c, int64_t want_total) {
    int64_t total = 0;
    for (int q = 0; q < 4; q++) {
        int64_t m = max_offset(c->mport, q), s = max_offset(c->sport, q);
        if (m < 0 || m != s) return 0;
        total += m;
    }
    return total == want_total;
}

static int body_pad = 0; /* extra body bytes (multi-file runs) */

static void send_n(int port, int n, int base) {
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    static char body[8192];
    for (int i = 0; i < n; i++) {
        int len = snprintf(body, sizeof(body), "replicated message %d", base + i);
        memset(body + len, 'p', (size_t)body_pad);
        len += body_pad;
        assert_int_equal(bc_send_msg(&c, TOPIC, i % 4, "TAGS\001t\002", body, (size_t)len, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    bc_close(&c);
}

/* Files in master/commitlog and slave/commitlog with the same name are identical. */
static int commitlogs_identical(cluster_t *c) {
    char md[800], sd[800];
    snprintf(md, sizeof(md), "%s/slave/commitlog", c->dir);
    DIR *d = opendir(md);
    if (!d) return 0;
    int files = 0, ok = 1;
    struct dirent *e;
    while ((e = readdir(d)) && ok) {
        if (e->d_name[0] == '.') continue;
        char a[1100], b[1100];
        snprintf(a, sizeof(a), "%s/master/commitlog/%s", c->dir, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", md, e->d_name);
        FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
        if (!fa || !fb) ok = 0;
        static char ba[65536], bb[65536];
        while (ok) {
            size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
            if (na != nb || memcmp(ba, bb, na) != 0) ok = 0;
            if (na == 0) break;
        }
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        files++;
    }
    closedir(d);
    (void)sd;
    return ok && files > 0;
}

static void create_topic(int port) {
    bc_t c;
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *ct[] = {"topic", TOPIC, "readQueueNums", "4", "writeQueueNums", "4",
                        "perm", "6", "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, ct, &r), SUCCESS);
    const char *cg[] = {"topic", "TopicGone", "readQueueNums", "1", "writeQueueNums", "1",
                        "perm", "6", "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_code(&c, UPDATE_AND_CREATE_TOPIC, cg, &r), SUCCESS);
    const char *uo[] = {"consumerGroup", "GReplica", "topic", TOPIC, "queueId", "2",
                        "commitOffset", "7", NULL};
    assert_int_equal(bc_code(&c, UPDATE_CONSUMER_OFFSET, uo, &r), SUCCESS);
    bc_close(&c);
}

static int slave_has_topic(int port, const char *topic) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return -1;
    rm_cmd_t r;
    char want[300];
    snprintf(want, sizeof(want), "\"%s\"", topic);
    int has = -1;
    if (bc_call(&c, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000) == 0 && r.code == SUCCESS)
        has = strstr(bc_body(&r), want) != NULL;
    bc_close(&c);
    return has;
}

static int slave_has_config(int port) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return 0;
    rm_cmd_t r;
    int ok = bc_call(&c, GET_ALL_TOPIC_CONFIG, NULL, NULL, 0, &r, 5000) == 0 &&
             strstr(bc_body(&r), "\"" TOPIC "\"") != NULL;
    const char *qo[] = {"consumerGroup", "GReplica", "topic", TOPIC, "queueId", "2", NULL};
    ok = ok && bc_call(&c, QUERY_CONSUMER_OFFSET, qo, NULL, 0, &r, 5000) == 0 &&
         r.code == SUCCESS && bc_ext_i64(&r, "offset") == 7;
    bc_close(&c);
    return ok;
}

/* The NameServer's route lists the master as id 0 and the slave as id 1. */
static int route_has_slave(cluster_t *c) {
    bc_t b;
    if (bc_connect(&b, c->ns_port) != 0) return 0;
    const char *ext[] = {"topic", TOPIC, NULL};
    rm_cmd_t r;
    char m[64], s[64];
    snprintf(m, sizeof(m), "\"0\":\"127.0.0.2:%d\"", c->mport);
    snprintf(s, sizeof(s), "\"1\":\"127.0.0.3:%d\"", c->sport);
    int ok = bc_call(&b, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 5000) == 0 &&
             r.code == SUCCESS && strstr(bc_body(&r), m) && strstr(bc_body(&r), s);
    bc_close(&b);
    return ok;
}

static void test_catch_up(void **state) {
    (void)state;
    cluster_t c;
    cluster_init(&c);
    start_master(&c, "ASYNC_MASTER");
    create_topic(c.mport);
    /* from empty: the slave starts with nothing after 50 messages, then 50 more */
    send_n(c.mport, 50, 0);
    start_slave(&c);
    send_n(c.mport, 50, 50);
    assert_true(TU_WAIT_FOR(same_queues(&c, 100), 15000));
    assert_true(TU_WAIT_FOR(commitlogs_identical(&c), 10000));
    /* the slave refuses sends */
    bc_t s;
    assert_int_equal(bc_connect(&s, c.sport), 0);
    rm_cmd_t r;
    assert_int_equal(bc_send_msg(&s, TOPIC, 0, "", "x", 1, &r), 0);
    assert_int_equal(r.code, SERVICE_NOT_AVAILABLE);
    bc_close(&s);
    /* from behind: the slave stops, the master goes on, the slave comes back */
    clean_stop(&c.slave);
    send_n(c.mport, 150, 100);
    start_slave(&c);
    send_n(c.mport, 50, 250);
    assert_true(TU_WAIT_FOR(same_queues(&c, 300), 15000));
    assert_true(TU_WAIT_FOR(commitlogs_identical(&c), 10000));
    /* topics and consumer offsets synced from the master */
    assert_true(TU_WAIT_FOR(slave_has_config(c.sport), 15000));
    assert_true(TU_WAIT_FOR(route_has_slave(&c), 15000));
    /* a topic deleted on the master goes on the slave at the next sync (every 10 s) */
    assert_true(TU_WAIT_FOR(slave_has_topic(c.sport, "TopicGone") == 1, 15000));
    bc_t m;
    assert_int_equal(bc_connect(&m, c.mport), 0);
    const char *dt[] = {"topic", "TopicGone", NULL};
    assert_int_equal(bc_code(&m, DELETE_TOPIC_IN_BROKER, dt, &r), SUCCESS);
    bc_close(&m);
    assert_true(TU_WAIT_FOR(slave_has_topic(c.sport, "TopicGone") == 0, 25000));
    /* the master dies: the slave serves every message */
    assert_true(bc_stop(c.master, SIGKILL, 10000) >= 0);
    c.master = 0;
    assert_int_equal(bc_connect(&s, c.sport), 0);
    int total = 0;
    for (int q = 0; q < 4; q++) {
        int64_t off = 0;
        for (int guard = 0; guard < 100; guard++) {
            assert_int_equal(bc_pull(&s, "GReplica", TOPIC, q, off, 32, 4, "*", 0, &r, 5000), 0);
            if (r.code != SUCCESS) {
                break;
            }
            int n = bc_count_records(&r);
            assert_true(n > 0);
            total += n;
            off = bc_ext_i64(&r, "nextBeginOffset");
        }
    }
    assert_int_equal(total, 300);
    bc_close(&s);
    cluster_free(&c);
}

/* A SYNC_MASTER's answer to one message: SUCCESS once its slave acknowledges. */
static int sync_send_code(int port) { return bc_send_code(port, TOPIC, "sync"); }

static void test_sync_master(void **state) {
    (void)state;
    cluster_t c;
    cluster_init(&c);
    start_master(&c, "SYNC_MASTER");
    create_topic(c.mport);
    /* no slave: stored, but SLAVE_NOT_AVAILABLE */
    assert_int_equal(sync_send_code(c.mport), SLAVE_NOT_AVAILABLE);
    start_slave(&c);
    assert_true(TU_WAIT_FOR(sync_send_code(c.mport) == SUCCESS, 15000));
    bc_t m;
    assert_int_equal(bc_connect(&m, c.mport), 0);
    rm_cmd_t r;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(bc_send_msg(&m, TOPIC, i % 4, "", "acked", 5, &r), 0);
        assert_int_equal(r.code, SUCCESS);
    }
    bc_close(&m);
    /* every acknowledged message is on the slave when the master dies */
    int64_t want = 0;
    for (int q = 0; q < 4; q++) want += max_offset(c.mport, q);
    assert_true(bc_stop(c.master, SIGKILL, 10000) >= 0);
    c.master = 0;
    /* The bytes are on the slave; its consume queues are built asynchronously. */
    assert_true(TU_WAIT_FOR(total_offset(c.sport) == want, 15000));
    assert_int_equal(total_offset(c.sport), want);
    cluster_free(&c);
}

static int count_files(cluster_t *c, const char *who) {
    char d[800];
    snprintf(d, sizeof(d), "%s/%s/commitlog", c->dir, who);
    DIR *dd = opendir(d);
    if (!dd) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (e->d_name[0] != '.') n++;
    closedir(dd);
    return n;
}

/* Records split across 32 KiB frames and blank fillers at 1 MiB file ends. */
static void test_files(void **state) {
    (void)state;
    cluster_t c;
    cluster_init(&c);
    /* both give back their page cache 1 MiB behind the writer: replication and pulls then read
     * the older files back from disk */
    snprintf(window_arg, sizeof(window_arg), "--commitLogCacheWindowMB=1");
    start_master(&c, "ASYNC_MASTER");
    create_topic(c.mport);
    start_slave(&c);
    body_pad = 3000;
    send_n(c.mport, 1, 0);
    /* connected from the first file (an empty slave joining later gets the last file only) */
    assert_true(TU_WAIT_FOR(same_queues(&c, 1), 15000));
    send_n(c.mport, 1199, 1);
    assert_true(TU_WAIT_FOR(same_queues(&c, 1200), 20000));
    assert_true(count_files(&c, "master") >= 3);
    assert_int_equal(count_files(&c, "slave"), count_files(&c, "master"));
    assert_true(TU_WAIT_FOR(commitlogs_identical(&c), 10000));
    assert_true(TU_WAIT_FOR(slave_has_config(c.sport), 15000));
    /* every message readable on the slave, in order, intact (CRC checked) */
    bc_t s;
    assert_int_equal(bc_connect(&s, c.sport), 0);
    rm_cmd_t r;
    int total = 0;
    for (int q = 0; q < 4; q++) {
        int64_t off = 0;
        for (int guard = 0; guard < 1000; guard++) {
            assert_int_equal(bc_pull(&s, "GFiles", TOPIC, q, off, 32, 4, "*", 0, &r, 5000), 0);
            if (r.code != SUCCESS) {
                if (getenv("HA_DEBUG")) printf("q%d off %lld: %d %s\n", q, (long long)off, r.code, r.remark ? r.remark : "");
                break;
            }
            int n = bc_count_records(&r);
            assert_true(n > 0);
            total += n;
            off = bc_ext_i64(&r, "nextBeginOffset");
        }
    }
    assert_int_equal(total, 1200);
    bc_close(&s);
    body_pad = 0;
    snprintf(window_arg, sizeof(window_arg), "--commitLogCacheWindowMB=0");
    cluster_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_catch_up),
                                       cmocka_unit_test(test_sync_master),
                                       cmocka_unit_test(test_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
