/*
 * log: levelled, timestamped log lines to stderr, safe from any thread.
 * One line per call, written with a single write(2) so lines from several
 * threads never interleave.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_LOG_H
#define PETREL_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int log_parse_level(const char *name);
/* Sets a short component name printed on every line ("namesrv", "broker"). */
void log_set_component(const char *name);

void log_write(log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, ...)                                                   \
    do {                                                                   \
        if ((lvl) >= log_get_level()) log_write((lvl), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif
