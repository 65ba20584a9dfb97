/*
 * console: `petrel console`, a web console for any RocketMQ-compatible
 * cluster. One process: a JSON API and the embedded static pages served by
 * libmicrohttpd (src/metrics/http), and an rm_client that speaks the
 * remoting protocol to the NameServer and every broker (so it also works
 * against a Java cluster). See docs/console.md.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CONSOLE_H
#define PETREL_CONSOLE_H

#include <stddef.h>
#include <stdio.h>

/* Entry point of `petrel console [options]`. Returns the process exit code. */
int console_main(int argc, char **argv);

/*
 * `petrel admin queryMsgTraceById` in one call: reads the trace records of the client message
 * id msg_id from trace_topic (NULL = RMQ_SYS_TRACE_TOPIC) through the NameServer(s) namesrv
 * and prints them, oldest first, as a table on out. Returns 0, 4 when there is no record,
 * 1 on an error (message on stderr).
 */
int console_query_trace(const char *namesrv, const char *msg_id, const char *trace_topic,
                        FILE *out);

/* fastjson output to strict JSON: every non-string object key ({0:..}, {{"brokerName":..}:..})
 * becomes a string. Returns a NUL-terminated malloc'd copy. */
char *console_json_fix_keys(const char *s, size_t n);

/* Embedded assets (console_assets.c, generated from src/console/assets/ at build time). */
typedef struct console_asset_s {
    const char *path;         /* "/index.html" */
    const char *ctype;
    const unsigned char *data;
    size_t len;
} console_asset_t;
extern const console_asset_t console_assets[];
extern const size_t console_assets_count;

#endif
