/*
 * testutil: see testutil.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tu_bin(void) {
    const char *b = getenv("PETREL_BIN");
    return b ? b : "./petrel";
}

char *tu_tmpdir(const char *prefix) {
    const char *base = getenv("TMPDIR");
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s-XXXXXX", base ? base : "/tmp", prefix);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void tu_rmrf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    int rc = system(cmd);
    (void)rc;
}

static int port_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int tu_free_port(void) {
    /* Pick from a range away from the ephemeral one, spread by pid so
     * parallel ctest processes rarely meet; check port, port-2 and port+1
     * (the broker's fast and HA ports). */
    static int next = 0;
    if (!next) next = 20000 + (int)(getpid() % 400) * 100; /* 20 picks before the next pid's range */
    for (int i = 0; i < 2000; i++) {
        int p = next;
        next += 5;
        if (next > 60000) next = 20000;
        if (port_free(p) && port_free(p - 2) && port_free(p + 1)) return p;
    }
    abort();
}

pid_t tu_spawn(char *const argv[], const char *logpath) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        if (logpath) {
            int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        const char *bin = argv[0] ? argv[0] : tu_bin();
        if (argv[0]) execv(bin, argv);
        /* argv[0] NULL: the same vector with the petrel binary in front */
        int n = 0;
        while (argv[n + 1]) n++;
        char **v = calloc((size_t)n + 2, sizeof(char *));
        v[0] = (char *)bin;
        for (int i = 1; i <= n; i++) v[i] = argv[i];
        execv(bin, v);
        perror("execv");
        _exit(127);
    }
    return pid;
}

int64_t tu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tu_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int tu_scaled(int ms) {
    const char *s = getenv("PETREL_TEST_TIMEOUT_SCALE");
    int k = s ? atoi(s) : 1;
    return ms * (k > 0 ? k : 1);
}

int tu_wait_port(int port, int timeout_ms) {
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    while (tu_now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok) return 0;
        tu_sleep_ms(20);
    }
    return -1;
}

int tu_stop(pid_t pid, int sig, int timeout_ms) {
    /* kill(0 or -1, sig) would signal our process group or every process we
     * may signal: never. */
    if (pid <= 0) return -1;
    if (sig) kill(pid, sig);
    int64_t deadline = tu_now_ms() + tu_scaled(timeout_ms);
    int status;
    while (tu_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        tu_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}
