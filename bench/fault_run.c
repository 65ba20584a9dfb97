/*
 * fault_run: a longer Jepsen-style run of a controller-managed broker group
 * (docs/replication.md): three controllers, a NameServer, two replicas; a
 * producer sends continuously (SYNC_MASTER) while faults hit the current
 * master in turn: SIGKILL (restarted 3 s later), SIGSTOP for 5 s (longer than
 * the controllers' brokerTimeout, so it is replaced while paused, then
 * SIGCONT), and SIGKILL of a controller (restarted). At the end both replicas
 * are brought in sync and everything is read back from the master: every
 * SEND_OK message must be there, nothing that was not sent may be.
 *
 *   fault_run [rounds=6] [seconds between faults=6]
 *
 * Build (repo root, after make build):
 *   cc -O2 -std=gnu11 -Isrc -Itests bench/fault_run.c tests/testutil.c \
 *      build/src/remoting/libpetrel_remoting.a build/src/common/libpetrel_common.a \
 *      -luv -lcjson -lz -lpthread -o build/fault_run
 *   PETREL_BIN=build/petrel build/fault_run 6 6
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "broker_client.h"

#define TOPIC "TopicFault"
#define MAXMSG 1000000

static char *dir, nsarg[64];
static bc_ctls_t ctls;
static int ns_port, bport[2];
static pid_t ctl[3], br[2];

static pid_t spawn_ctl(int i) {
    pid_t p;
    bc_ctl_spawn(&ctls, i, dir, &p);
    return p;
}

static pid_t spawn_broker(int i) {
    char name[8];
    snprintf(name, sizeof(name), "b%d", i);
    return bc_spawn_replica(dir, name, bport[i], i, "broker-x", nsarg, ctls.arg);
}

static int route_master(void) { return bc_route_master_port(ns_port, TOPIC); }

static int64_t total_max(int port) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return -1;
    int64_t t = bc_total_max(&c, TOPIC, 4);
    bc_close(&c);
    return t;
}

static int which(int port) { return port == bport[0] ? 0 : port == bport[1] ? 1 : -1; }

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 6, gap = argc > 2 ? atoi(argv[2]) : 6;
    signal(SIGPIPE, SIG_IGN);
    dir = tu_tmpdir("petrel-fault");
    bc_ctls_init(&ctls, "127.0.0.1");
    for (int i = 0; i < 3; i++) ctl[i] = spawn_ctl(i);
    ns_port = tu_free_port();
    pid_t ns = bc_spawn_namesrv(dir, ns_port, NULL);
    snprintf(nsarg, sizeof(nsarg), "--namesrvAddr=127.0.0.1:%d", ns_port);
    for (int i = 0; i < 2; i++) {
        bport[i] = tu_free_port();
        br[i] = spawn_broker(i);
    }
    printf("store and logs: %s\n", dir);
    /* the clock starts once the controllers have elected a master (a run shorter than the first
     * election would otherwise only count refusals) */
    int first = -1;
    for (int i = 0; i < 300 && first <= 0; i++) {
        first = bc_route_master_port(ns_port, "TBW102");
        if (first <= 0) tu_sleep_ms(100);
    }
    if (first <= 0) {
        fprintf(stderr, "no master elected within 30 s; logs in %s\n", dir);
        return 2;
    }
    static char acked[MAXMSG], stored[MAXMSG];
    int next = 0, port = first, connected = 0, round = 0;
    long n_ok = 0, n_11 = 0, n_err = 0, n_timeout = 0;
    int64_t t0 = tu_now_ms(), next_fault = t0 + gap * 1000, fault_at = 0, restart_at = 0;
    int stopped = -1, killed = -1, killed_ctl = -1;
    int64_t worst = 0, sum = 0;
    int nfail = 0;
    bc_t c;
    while (next < MAXMSG) {
        int64_t now = tu_now_ms();
        if (restart_at && now >= restart_at) {
            if (killed >= 0) br[killed] = spawn_broker(killed), killed = -1;
            if (stopped >= 0) kill(br[stopped], SIGCONT), stopped = -1;
            if (killed_ctl >= 0) ctl[killed_ctl] = spawn_ctl(killed_ctl), killed_ctl = -1;
            restart_at = 0;
        }
        if (round >= rounds && !restart_at && now >= next_fault) break;
        if (round < rounds && now >= next_fault && !restart_at) {
            int m = which(route_master());
            int kind = round % 3;
            if (m < 0) m = 0;
            if (kind == 0) {
                printf("round %d: SIGKILL broker %d (master)\n", round, m);
                kill(br[m], SIGKILL);
                waitpid(br[m], NULL, 0);
                killed = m;
                restart_at = now + 3000;
            } else if (kind == 1) {
                printf("round %d: SIGSTOP broker %d (master) for 5 s\n", round, m);
                kill(br[m], SIGSTOP);
                stopped = m;
                restart_at = now + 5000;
            } else {
                int k = (round / 3) % 3;
                printf("round %d: SIGKILL controller %d\n", round, k + 1);
                kill(ctl[k], SIGKILL);
                waitpid(ctl[k], NULL, 0);
                killed_ctl = k;
                restart_at = now + 3000;
            }
            fflush(stdout);
            if (kind != 2) fault_at = now;
            round++;
            next_fault = now + gap * 1000;
        }
        if (!connected) {
            if (bc_connect(&c, port) != 0) {
                tu_sleep_ms(50);
                int m = route_master();
                if (m > 0) port = m;
                continue;
            }
            connected = 1;
        }
        char body[32], q[8];
        int len = snprintf(body, sizeof(body), "x-%d", next);
        snprintf(q, sizeof(q), "%d", next % 4);
        const char *ext[] = {"a", "PG", "b", TOPIC, "c", "TBW102", "d", "4", "e", q, "f", "0",
                             "g", "1700000000000", "h", "0", "i", "", "j", "0", "k", "false", NULL};
        rm_cmd_t r;
        int rc = bc_call(&c, SEND_MESSAGE_V2, ext, body, (size_t)len, &r, 3000);
        if (rc != 0 || (r.code != SUCCESS && r.code != SLAVE_NOT_AVAILABLE &&
                        r.code != FLUSH_SLAVE_TIMEOUT)) {
            if (rc != 0) n_timeout++;
            else n_err++;
            bc_close(&c);
            connected = 0;
            tu_sleep_ms(50);
            int m = route_master();
            if (m > 0) port = m;
            continue; /* the same message again: at least once */
        }
        if (fault_at) {
            int64_t d = tu_now_ms() - fault_at;
            if (r.code == SUCCESS) { /* recovered: replicated sends again */
                if (d > worst) worst = d;
                sum += d;
                nfail++;
                fault_at = 0;
            }
        }
        stored[next] = 1;
        if (r.code == SUCCESS) acked[next] = 1, n_ok++;
        else n_11++;
        next++;
    }
    if (connected) bc_close(&c);
    /* quiesce: both replicas up and in sync */
    int m = -1;
    for (int i = 0; i < 300 && m < 0; i++) {
        m = route_master();
        if (m > 0 && (total_max(bport[0]) != total_max(bport[1]) || total_max(m) < 0)) m = -1;
        if (m < 0) tu_sleep_ms(100);
    }
    printf("final master: broker %d; replicas in sync: %s\n", which(m),
           total_max(bport[0]) == total_max(bport[1]) ? "yes" : "NO");
    static char seen[MAXMSG];
    bc_history_t h = {seen, next, "x-", 0, 0};
    if (m > 0 && bc_connect(&c, m) == 0) {
        for (int qq = 0; qq < 4; qq++) {
            int bad = bc_read_queue(&c, "GFault", TOPIC, qq, bc_note_record, &h);
            if (bad > 0) h.invented += bad; /* answers with a record that does not decode */
        }
        bc_close(&c);
    }
    long invented = h.invented, consumed = h.consumed;
    long lost = 0, lost11 = 0;
    for (int i = 0; i < next; i++) {
        if (acked[i] && !seen[i]) lost++;
        if (stored[i] && !acked[i] && !seen[i]) lost11++;
    }
    printf("run %.1f s, %d faults: %d messages sent, %ld SEND_OK, %ld stored without a slave "
           "(SLAVE_NOT_AVAILABLE/FLUSH_SLAVE_TIMEOUT), %ld refused, %ld timeouts (retried)\n",
           (double)(tu_now_ms() - t0) / 1000.0, rounds, next, n_ok, n_11, n_err, n_timeout);
    printf("recovery to SEND_OK after a broker fault: mean %lld ms, worst %lld ms (%d faults)\n",
           nfail ? (long long)(sum / nfail) : 0LL, (long long)worst, nfail);
    printf("history: %ld records read back; SEND_OK lost: %ld; invented: %ld; "
           "non-OK stored then lost: %ld\n", consumed, lost, invented, lost11);
    for (int i = 0; i < 2; i++) tu_stop(br[i], SIGTERM, 20000);
    tu_stop(ns, SIGTERM, 10000);
    for (int i = 0; i < 3; i++) tu_stop(ctl[i], SIGTERM, 10000);
    int bad = lost || invented;
    if (!bad) tu_rmrf(dir);
    return bad ? 1 : 0;
}
