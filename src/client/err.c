/*
 * err: error names and messages (generated from PETREL_ERR_MAP), the
 * library's log sink (silent unless the user installs a callback) and the
 * version string.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>

#include "client/client_int.h"

const char *petrel_strerror(int err) {
    switch (err) {
#define PETREL_ERR_STR_(name, val, retr, msg)                                                      \
    case val:                                                                                      \
        return msg;
        PETREL_ERR_MAP(PETREL_ERR_STR_)
#undef PETREL_ERR_STR_
    }
    return err < 0 ? "unknown client error" : "unknown broker response code";
}

const char *petrel_err_name(int err) {
    switch (err) {
#define PETREL_ERR_NAME_(name, val, retr, msg)                                                     \
    case val:                                                                                      \
        return "PETREL_" #name;
        PETREL_ERR_MAP(PETREL_ERR_NAME_)
#undef PETREL_ERR_NAME_
    }
    return "PETREL_UNKNOWN";
}

int petrel_err_is_retriable(int err) {
    switch (err) {
#define PETREL_ERR_RETR_(name, val, retr, msg)                                                     \
    case val:                                                                                      \
        return retr;
        PETREL_ERR_MAP(PETREL_ERR_RETR_)
#undef PETREL_ERR_RETR_
    }
    return 0;
}

const char *petrel_version(void) {
    return PETREL_VERSION_STR;
}

static petrel_log_cb log_cb;
static void *log_opaque;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
_Atomic int petrel__log_min = 99; /* silent */

void petrel_set_log_cb(petrel_log_cb cb, petrel_log_level_t min_level, void *opaque) {
    pthread_mutex_lock(&log_mu);
    log_cb = cb;
    log_opaque = opaque;
    atomic_store(&petrel__log_min, cb ? (int)min_level : 99);
    pthread_mutex_unlock(&log_mu);
}

void petrel_log_stderr(petrel_log_level_t level, const char *line, void *opaque) {
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    fprintf(stderr, "petrel %s %s\n", names[level & 3], line);
}

void petrel__log(int level, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    petrel_log_cb cb = log_cb;
    void *op = log_opaque;
    pthread_mutex_unlock(&log_mu);
    if (cb) cb((petrel_log_level_t)level, line, op);
}
