/*
 * testutil: what integration tests share: temp dirs, free ports, starting
 * the real petrel binary (servers, or a command whose output is kept) and
 * waiting (with a bound) for conditions, loopback connections, counted checks.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTUTIL_H
#define PETREL_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Path of the petrel binary under test ($PETREL_BIN). */
const char *tu_bin(void);
/* A fresh directory under $TMPDIR (or /tmp); the caller frees the returned path. */
char *tu_tmpdir(const char *prefix);
/* Removes a directory tree (rm -rf). */
void tu_rmrf(const char *path);
/* A TCP port on 127.0.0.1 that was free a moment ago (and its port-2/+1 too). */
int tu_free_port(void);
/*
 * Starts argv[0..] (argv[0] may be NULL for the petrel binary) with stdout and
 * stderr appended to logpath (NULL: inherited). Returns the pid.
 */
pid_t tu_spawn(char *const argv[], const char *logpath);
/* Starts `petrel namesrv --listenPort=port <args>` (NULL-terminated list, may be NULL),
 * output to logpath: its pid once it listens (10 s), else -1 (killed). */
pid_t tu_spawn_namesrv(int port, const char *const *args, const char *logpath);
/* A TCP connection to 127.0.0.1:port (TCP_NODELAY): the fd, or -1. */
int tu_connect(int port);
/* Waits until 127.0.0.1:port accepts a connection. 0 or -1 on timeout. */
int tu_wait_port(int port, int timeout_ms);
/* As tu_wait_port, but gives up early when the child pid has exited. */
int tu_wait_port_pid(int port, pid_t pid, int timeout_ms);
/* Sends sig and waits up to timeout_ms for the exit. Returns the wait status or -1. */
int tu_stop(pid_t pid, int sig, int timeout_ms);
/* A wait status (tu_stop) of a process that exited with 0. */
int tu_exited_ok(int st);
/* SIGTERM to a server (what: "broker", "namesrv") and up to timeout_ms for its exit: 0 when
 * it exited with 0 (dir removed and freed), else -1 with the logs kept in dir. */
int tu_stop_clean(pid_t pid, const char *what, char *dir, int timeout_ms);
/* The file at path exists and contains needle. */
int tu_file_has(const char *path, const char *needle);
/* Scales a timeout by $PETREL_TEST_TIMEOUT_SCALE (sanitizer builds are slower). */
int tu_scaled(int ms);

/* Polls cond every 10 ms until true or the (scaled) bound expires; yields the final value. */
#define TU_WAIT_FOR(cond, timeout_ms)                                              \
    ({                                                                             \
        int64_t _deadline = tu_now_ms() + tu_scaled(timeout_ms);                   \
        int _ok;                                                                   \
        while (!(_ok = !!(cond)) && tu_now_ms() < _deadline) tu_sleep_ms(10);      \
        _ok;                                                                       \
    })
int64_t tu_now_ms(void);
void tu_sleep_ms(int ms);

/* ---- a NameServer + one broker (broker-a) on free loopback ports ---------------- */

struct rm_response_s;

typedef struct tu_pair_s {
    char *dir; /* data and logs (namesrv.log, broker.log) */
    pid_t ns_pid, br_pid;
    int ns_port, br_port;
    char ns_addr[64], br_addr[64];
} tu_pair_t;

/*
 * Starts both under a fresh tu_tmpdir(name), with extra arguments (NULL-terminated
 * lists, may be NULL), and waits for the broker's registration (TBW102 route).
 * 0, or -1 with whatever started still running (tu_pair_kill).
 */
int tu_pair_start(tu_pair_t *p, const char *name, const char *const *ns_extra,
                  const char *const *br_extra);
/* SIGTERM to both: 0 when both exit cleanly, else -1. dir is removed on 0 unless keep_dir. */
int tu_pair_stop(tu_pair_t *p, int keep_dir);
/* SIGKILL to whatever is running (a failed start). */
void tu_pair_kill(tu_pair_t *p);
/* One request over a private remoting client: 0 with *resp, or an RM_E* error. */
int tu_admin_call(const char *addr, int code, const char *const *ext, struct rm_response_s **resp);
/* The NameServer has a route for topic (with `queues` write queues when queues > 0). */
int tu_route_ready(const char *ns_addr, const char *topic, int queues);
/* UPDATE_AND_CREATE_TOPIC on the broker, then waits for the route: 0 or -1. */
int tu_create_topic(const tu_pair_t *p, const char *topic, int queues);


/* ---- tests that run the petrel command and count failed checks (0080, 0090) ---- */

/* Counts a failed check and goes on (for tests made of many independent checks). */
extern int tu_failures;
#define TU_CHECK(c)                                                                \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);           \
            tu_failures++;                                                         \
        }                                                                          \
    } while (0)

typedef struct tu_cmd_s {
    const char *dir;     /* where the out and err files go */
    const char *ns_addr; /* added as "-n ns_addr" unless the arguments have -n */
    char *out, *err;     /* the last run's stdout and stderr, NUL-terminated */
    size_t out_cap, err_cap;
} tu_cmd_t;
/*
 * Runs `petrel [sub] <args>` to its end (60 s at most); args is fmt: space-separated, '~'
 * stands for a space inside an argument. Returns the exit code, or -1.
 */
int tu_cmd_vrun(const tu_cmd_t *c, const char *sub, const char *fmt, va_list ap);

/*
 * The servers a command test talks to: tu_pair_start(p, name), or with
 * $PETREL_TEST_NAMESRV=host:port that running NameServer (nothing started; p->dir is a
 * fresh directory, p->ns_addr the address). 0, or -1 after stopping what started.
 */
int tu_pair_start_or_external(tu_pair_t *p, const char *name);
/* Stops what tu_pair_start_or_external started, removes p->dir unless tu_failures (then
 * says where it is); the test's exit code. */
int tu_pair_finish(tu_pair_t *p);

#endif
