/*
 * testutil: what integration tests share: temp dirs, free ports, starting
 * the real petrel binary and waiting (with a bound) for conditions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTUTIL_H
#define PETREL_TESTUTIL_H

#include <stdint.h>
#include <sys/types.h>

/* Path of the petrel binary under test ($PETREL_BIN). */
const char *tu_bin(void);
/* A fresh directory under $TMPDIR (or /tmp); returns a static-lifetime copy. */
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
/* Waits until 127.0.0.1:port accepts a connection. 0 or -1 on timeout. */
int tu_wait_port(int port, int timeout_ms);
/* As tu_wait_port, but gives up early when the child pid has exited. */
int tu_wait_port_pid(int port, pid_t pid, int timeout_ms);
/* Sends sig and waits up to timeout_ms for the exit. Returns the wait status or -1. */
int tu_stop(pid_t pid, int sig, int timeout_ms);
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

#endif
