/*
 * dev: `petrel dev`, a NameServer and a broker for development in one
 * command, with data under ./data. It supervises two child processes (the
 * same binary, re-executed as `petrel namesrv` and `petrel broker`) rather
 * than running both servers in one process, so each keeps its own signal
 * handling and logs, and a crash in one is reported instead of taking the
 * other down silently. SIGINT/SIGTERM are forwarded and both children are
 * waited for.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"

static volatile sig_atomic_t g_stop_signal;

static void on_signal(int sig) { g_stop_signal = sig; }

static void dev_usage(void) {
    printf("usage: petrel dev [--data DIR] [--namesrvPort N] [--listenPort N] [--consolePort N]\n"
           "                 [--noConsole] [--key=value ...]\n\n"
           "Runs a NameServer and a broker (cluster DefaultCluster, broker broker-a) on 127.0.0.1,\n"
           "data under DIR (default ./data). Other --key=value options are broker config keys\n"
           "(see `petrel broker --help-config`), e.g. --flushDiskType=SYNC_FLUSH.\n"
           "The web console (`petrel console`) runs on 127.0.0.1:8080 unless --noConsole.\n");
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static pid_t spawn(char **argv) {
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "petrel dev: exec failed: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for a child with a bound; returns its status, or -1 after SIGKILL. */
static int reap(pid_t pid, int timeout_ms) {
    int64_t end = mono_ms() + timeout_ms;
    int st;
    while (mono_ms() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0) return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int dev_main(int argc, char **argv) {
    const char *data = "./data";
    int ns_port = 9876, broker_port = 10911, console_port = 8080, console_on = 1;
    char *extra[64];
    int n_extra = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            dev_usage();
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strncmp(argv[i], "--data=", 7)) {
            data = argv[i] + 7;
        } else if (!strncmp(argv[i], "--namesrvPort=", 14)) {
            ns_port = atoi(argv[i] + 14);
        } else if (!strncmp(argv[i], "--listenPort=", 13)) {
            broker_port = atoi(argv[i] + 13);
        } else if (!strncmp(argv[i], "--consolePort=", 14)) {
            console_port = atoi(argv[i] + 14);
        } else if (!strcmp(argv[i], "--noConsole")) {
            console_on = 0;
        } else if (!strncmp(argv[i], "--", 2) && strchr(argv[i], '=') && n_extra < 60) {
            extra[n_extra++] = argv[i];
        } else {
            fprintf(stderr, "petrel dev: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    int rc = mkdir_p(data, 0755);
    if (rc != 0) {
        fprintf(stderr, "petrel dev: cannot create %s: %s\n", data, strerror(-rc));
        return 1;
    }
    char abs[PATH_MAX];
    if (!realpath(data, abs)) {
        fprintf(stderr, "petrel dev: %s: %s\n", data, strerror(errno));
        return 1;
    }

    char a_ns_port[32], a_home[PATH_MAX + 32], a_store[PATH_MAX + 32], a_ns[64], a_bport[32];
    snprintf(a_ns_port, sizeof(a_ns_port), "--listenPort=%d", ns_port);
    snprintf(a_home, sizeof(a_home), "--rocketmqHome=%s", abs);
    snprintf(a_store, sizeof(a_store), "--storePathRootDir=%s/store", abs);
    snprintf(a_ns, sizeof(a_ns), "--namesrvAddr=127.0.0.1:%d", ns_port);
    snprintf(a_bport, sizeof(a_bport), "--listenPort=%d", broker_port);

    char *ns_argv[] = {"petrel", "namesrv", a_ns_port, a_home, NULL};
    char *br_argv[80] = {"petrel", "broker", a_ns, a_bport, a_store, "--brokerIP1=127.0.0.1",
                         "--brokerName=broker-a", NULL};
    int nb = 7; /* later --key=value options override these */
    for (int i = 0; i < n_extra; i++) br_argv[nb++] = extra[i];
    br_argv[nb] = NULL;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pid_t ns = spawn(ns_argv);
    int64_t deadline = mono_ms() + 10000;
    while (!port_open(ns_port) && mono_ms() < deadline && !g_stop_signal &&
           waitpid(ns, NULL, WNOHANG) == 0) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!port_open(ns_port)) {
        fprintf(stderr, "petrel dev: the NameServer did not start on port %d\n", ns_port);
        kill(ns, SIGTERM);
        reap(ns, 5000);
        return 1;
    }
    pid_t br = spawn(br_argv);
    deadline = mono_ms() + 15000;
    while (!port_open(broker_port) && mono_ms() < deadline && !g_stop_signal &&
           waitpid(br, NULL, WNOHANG) == 0) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!port_open(broker_port)) {
        fprintf(stderr, "petrel dev: the broker did not start on port %d\n", broker_port);
        kill(br, SIGTERM);
        kill(ns, SIGTERM);
        reap(br, 5000);
        reap(ns, 5000);
        return 1;
    }
    /* The console is optional: if it cannot start (port taken) the servers keep running. */
    pid_t con = 0;
    char a_cns[64], a_cport[32];
    if (console_on) {
        snprintf(a_cns, sizeof(a_cns), "--namesrvAddr=127.0.0.1:%d", ns_port);
        snprintf(a_cport, sizeof(a_cport), "--port=%d", console_port);
        char *con_argv[] = {"petrel", "console", a_cns, a_cport, NULL};
        con = spawn(con_argv);
        int64_t cdl = mono_ms() + 5000;
        while (con && !port_open(console_port) && mono_ms() < cdl && !g_stop_signal) {
            if (waitpid(con, NULL, WNOHANG) == con) { /* reaped: never signal it later */
                fprintf(stderr, "petrel dev: the console did not start (port %d taken?); "
                                "the servers keep running\n", console_port);
                con = 0;
                break;
            }
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    printf("petrel dev: NameServer 127.0.0.1:%d, broker broker-a 127.0.0.1:%d (cluster "
           "DefaultCluster), data in %s\n",
           ns_port, broker_port, abs);
    printf("try: petrel admin sendMessage -n 127.0.0.1:%d -t TopicTest -p 'hello petrel'\n",
           ns_port);
    if (con && port_open(console_port)) printf("console: http://127.0.0.1:%d/\n", console_port);
    printf("stop with Ctrl-C\n");
    fflush(stdout);

    int exit_code = 0;
    while (!g_stop_signal) {
        int st;
        pid_t r = waitpid(-1, &st, 0);
        if (r < 0 && errno == EINTR) continue;
        if (con && r == con) {
            fprintf(stderr, "petrel dev: the console exited (%s %d); the servers keep running\n",
                    WIFSIGNALED(st) ? "signal" : "status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            con = 0;
            continue;
        }
        if (r == ns || r == br) {
            fprintf(stderr, "petrel dev: the %s exited (%s %d); stopping\n",
                    r == ns ? "NameServer" : "broker",
                    WIFSIGNALED(st) ? "signal" : "status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            if (r == ns) ns = 0; else br = 0;
            exit_code = 1;
            break;
        }
        if (r < 0) break;
    }
    if (con) {
        kill(con, SIGTERM);
        reap(con, 10000);
    }
    /* The broker first, so it can unregister from the NameServer. */
    if (br) {
        kill(br, SIGTERM);
        reap(br, 30000);
    }
    if (ns) {
        kill(ns, SIGTERM);
        reap(ns, 10000);
    }
    return exit_code;
}
