/*
 * Failover across a network partition, each broker in its own network
 * namespace (issue 9, multi-host on one machine): a bridge in the root
 * namespace (controllers, NameServer and this test on it), two namespaces
 * joined to it by veth pairs, one replica in each with its own 198.18.x.y
 * address. First the slave's link gets tc netem delay and loss for a while
 * (when the kernel has netem; the test says when not);
 * then the master's link is cut (ip link down on its bridge port): the
 * controllers elect the slave, the producer follows the route; the link is
 * healed: the old master, fenced by the new epoch, becomes the new master's
 * slave and catches up, and every SEND_OK message is on the new master.
 * Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking), by pid.
 * Needs root (ip netns); otherwise it is skipped and says so (the 127.0.0.x
 * fallback is 0071/0072).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../broker_client.h"
#include "../testutil.h"

#define TOPIC "TopicNetns"
#define MAXMSG 100000

static int tag, net_a, net_b, have_net;
static char *dir, nsarg[64], ip_host[32], ip_br[2][32];
static bc_ctls_t ctls;
static int ns_port, bport[2];
static pid_t ctl[3], nsrv, br[2];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[600];
    snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
    int rc = system(full);
    return rc == 0 ? 0 : -1;
}

static void net_down(void) {
    for (int i = 0; i < 2; i++) sh("ip netns del pn%c%d", 'a' + i, tag);
    sh("ip link del pbr%d", tag);
}

static int net_up(void) {
    if (sh("ip link add pbr%d type bridge", tag) != 0) return -1;
    if (sh("ip addr add %s/24 dev pbr%d", ip_host, tag) || sh("ip link set pbr%d up", tag))
        return -1;
    for (int i = 0; i < 2; i++) {
        char c = (char)('a' + i);
        if (sh("ip netns add pn%c%d", c, tag) ||
            sh("ip link add pv%c%d type veth peer name px%c%d", c, tag, c, tag) ||
            sh("ip link set px%c%d netns pn%c%d", c, tag, c, tag) ||
            sh("ip link set pv%c%d master pbr%d", c, tag, tag) || sh("ip link set pv%c%d up", c, tag) ||
            sh("ip netns exec pn%c%d ip addr add %s/24 dev px%c%d", c, tag, ip_br[i], c, tag) ||
            sh("ip netns exec pn%c%d ip link set px%c%d up", c, tag, c, tag) ||
            sh("ip netns exec pn%c%d ip link set lo up", c, tag))
            return -1;
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    tag = (int)(getpid() % 10000);
    /* 198.18.0.0/15 is reserved for network benchmarks (RFC 2544): never a real network */
    net_a = 18 + (tag / 250) % 2;
    net_b = tag % 250;
    snprintf(ip_host, sizeof(ip_host), "198.%d.%d.1", net_a, net_b);
    snprintf(ip_br[0], sizeof(ip_br[0]), "198.%d.%d.2", net_a, net_b);
    snprintf(ip_br[1], sizeof(ip_br[1]), "198.%d.%d.3", net_a, net_b);
    have_net = geteuid() == 0 && net_up() == 0;
    if (!have_net) {
        net_down();
        printf("SKIP: network namespaces not available (needs root and ip netns); "
               "the 127.0.0.x fallback runs in 0071/0072\n");
    } else {
        printf("network namespaces pna%d (%s), pnb%d (%s), bridge pbr%d (%s)\n", tag, ip_br[0],
               tag, ip_br[1], tag, ip_host);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < 2; i++)
        if (br[i] > 0) bc_stop(br[i], SIGKILL, 5000);
    if (nsrv > 0) bc_stop(nsrv, SIGKILL, 5000);
    for (int i = 0; i < 3; i++)
        if (ctl[i] > 0) bc_stop(ctl[i], SIGKILL, 5000);
    if (have_net) net_down();
    return 0;
}

static int connect_ip(bc_t *c, const char *ip, int port) {
    memset(c, 0, sizeof(*c));
    c->opaque = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    struct timeval tv = {2, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static int wait_ip_port(const char *ip, int port) {
    for (int i = 0; i < 200; i++) {
        bc_t c;
        if (connect_ip(&c, ip, port) == 0) {
            bc_close(&c);
            return 0;
        }
        tu_sleep_ms(50);
    }
    return -1;
}

static pid_t spawn_broker(int i) {
    char d[400], log[700], root[500], port[64], ip[64], ns[32];
    snprintf(d, sizeof(d), "%s/b%d", dir, i);
    snprintf(log, sizeof(log), "%s/b%d.log", dir, i);
    snprintf(root, sizeof(root), "--storePathRootDir=%s", d);
    snprintf(port, sizeof(port), "--listenPort=%d", bport[i]);
    snprintf(ip, sizeof(ip), "--brokerIP1=%s", ip_br[i]);
    snprintf(ns, sizeof(ns), "pn%c%d", 'a' + i, tag);
    char *argv[] = {"/usr/sbin/ip", "netns", "exec", ns, (char *)tu_bin(), "broker", root, port, ip,
                    nsarg, ctls.arg, "--brokerName=broker-n", "--mappedFileSizeCommitLog=1048576",
                    "--syncFlushTimeout=2000", "--controllerLeaseMillis=1500",
                    i ? "--brokerRole=SLAVE" : "--brokerRole=SYNC_MASTER",
                    i ? "--brokerId=1" : "--brokerId=0", NULL};
    pid_t p = tu_spawn(argv, log);
    if (p > 0 && wait_ip_port(ip_br[i], bport[i]) != 0) {
        bc_stop(p, SIGKILL, 2000);
        return -1;
    }
    return p;
}

static int route_master(void) {
    bc_t c;
    if (bc_connect(&c, ns_port) != 0) return -1;
    const char *ext[] = {"topic", "TBW102", NULL}; /* every master registers it */
    rm_cmd_t r;
    int who = -1;
    if (bc_call(&c, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r, 3000) == 0 && r.code == SUCCESS) {
        for (int i = 0; i < 2; i++) {
            char want[64];
            snprintf(want, sizeof(want), "\"0\":\"%s:%d\"", ip_br[i], bport[i]);
            if (strstr(bc_body(&r), want)) who = i;
        }
    }
    bc_close(&c);
    return who;
}

static int send_code(int i, const char *body) {
    bc_t c;
    if (connect_ip(&c, ip_br[i], bport[i]) != 0) return -1;
    rm_cmd_t r;
    int code = -1;
    if (bc_send_msg(&c, TOPIC, 0, "", body, strlen(body), &r) == 0) code = r.code;
    bc_close(&c);
    return code;
}

static int64_t total_max(int i) {
    bc_t c;
    if (connect_ip(&c, ip_br[i], bport[i]) != 0) return -1;
    int64_t t = bc_total_max(&c, TOPIC, 4);
    bc_close(&c);
    return t;
}

static void test_partition(void **state) {
    (void)state;
    if (!have_net) return;
    dir = tu_tmpdir("petrel-it-netns");
    bc_ctls_init(&ctls, ip_host);
    for (int i = 0; i < 3; i++) assert_int_equal(bc_ctl_spawn(&ctls, i, dir, &ctl[i]), 0);
    ns_port = tu_free_port();
    nsrv = bc_spawn_namesrv(dir, ns_port, NULL);
    assert_true(nsrv > 0);
    snprintf(nsarg, sizeof(nsarg), "--namesrvAddr=%s:%d", ip_host, ns_port);
    for (int i = 0; i < 2; i++) {
        bport[i] = tu_free_port();
        br[i] = spawn_broker(i);
        assert_true(br[i] > 0);
    }
    bc_t c;
    rm_cmd_t r;
    assert_true(TU_WAIT_FOR(route_master() == 0, 20000));
    assert_int_equal(connect_ip(&c, ip_br[0], bport[0]), 0);
    const char *ct[] = {"topic", TOPIC, "readQueueNums", "4", "writeQueueNums", "4", "perm", "6",
                        "topicFilterType", "SINGLE_TAG", NULL};
    assert_int_equal(bc_call(&c, UPDATE_AND_CREATE_TOPIC, ct, NULL, 0, &r, 5000), 0);
    bc_close(&c);
    assert_true(TU_WAIT_FOR(send_code(0, "sync") == SUCCESS, 20000));

    static char acked[MAXMSG];
    int next = 0, cur = 0, connected = 0, cut = 0, healed = 0, after = 0, netem = 0;
    int64_t deadline = tu_now_ms() + tu_scaled(60000), t_cut = 0, t_resume = 0;
    while (tu_now_ms() < deadline && next < MAXMSG && !(healed && after >= 300)) {
        if (!connected) {
            if (connect_ip(&c, ip_br[cur], bport[cur]) != 0) {
                tu_sleep_ms(50);
                int m = route_master();
                if (m >= 0) cur = m;
                continue;
            }
            connected = 1;
        }
        char body[32];
        int len = snprintf(body, sizeof(body), "n-%d", next);
        char q[8];
        snprintf(q, sizeof(q), "%d", next % 4);
        const char *ext[] = {"a", "PG", "b", TOPIC, "c", "TBW102", "d", "4", "e", q, "f", "0",
                             "g", "1700000000000", "h", "0", "i", "", "j", "0", "k", "false", NULL};
        int rc = bc_call(&c, SEND_MESSAGE_V2, ext, body, (size_t)len, &r, 2000);
        if (rc != 0 || (r.code != SUCCESS && r.code != SLAVE_NOT_AVAILABLE &&
                        r.code != FLUSH_SLAVE_TIMEOUT)) {
            bc_close(&c);
            connected = 0;
            tu_sleep_ms(50);
            int m = route_master();
            if (m >= 0) cur = m;
            continue;
        }
        if (cut && !t_resume) t_resume = tu_now_ms();
        acked[next++] = r.code == SUCCESS;
        if (cut) after++;
        /* a lossy, slow link to the slave for a while: acks slow down, nothing breaks */
        if (next == 50) {
            netem = sh("tc qdisc add dev pvb%d root netem delay 10ms loss 1%%", tag) == 0;
            if (!netem) printf("tc netem not available in this kernel: no delay/loss phase\n");
        }
        if (next == 150 && netem) assert_int_equal(sh("tc qdisc del dev pvb%d root", tag), 0);
        if (!cut && next == 200) {
            /* partition: the master's bridge port goes down */
            assert_int_equal(sh("ip link set pva%d down", tag), 0);
            cut = 1;
            t_cut = tu_now_ms();
            bc_close(&c);
            connected = 0;
        }
        if (cut && !healed && after == 100) {
            assert_int_equal(cur, 1);
            assert_int_equal(sh("ip link set pva%d up", tag), 0);
            healed = 1;
        }
    }
    if (connected) bc_close(&c);
    assert_true(healed && after >= 300);
    printf("partition: first send stored on the new master %lld ms after the cut\n",
           (long long)(t_resume - t_cut));
    /* healed: the old master follows the new one and SYNC_MASTER acks again */
    assert_true(TU_WAIT_FOR(send_code(1, "sync") == SUCCESS, 20000));
    assert_true(TU_WAIT_FOR(total_max(0) == total_max(1), 20000));
    assert_int_equal(send_code(0, "x"), SERVICE_NOT_AVAILABLE);
    static char seen[MAXMSG];
    memset(seen, 0, sizeof(seen));
    assert_int_equal(connect_ip(&c, ip_br[1], bport[1]), 0);
    bc_history_t h = {seen, next, "n-", 0, 0};
    for (int q = 0; q < 4; q++)
        assert_int_equal(bc_read_queue(&c, "GNet", TOPIC, q, bc_note_record, &h), 0);
    assert_int_equal(h.invented, 0); /* nothing consumed that was never sent */
    bc_close(&c);
    for (int i = 0; i < next; i++)
        if (acked[i]) assert_true(seen[i]);
    for (int i = 0; i < 2; i++) {
        int st = bc_stop(br[i], SIGTERM, 20000);
        br[i] = 0;
        assert_true(tu_exited_ok(st));
    }
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_partition)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
