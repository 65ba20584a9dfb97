/*
 * admin: what `petrel admin` subcommands (admin*.c) and `petrel bench`
 * share: the call context, exit codes, NameServer/broker lookups, a
 * fastjson-tolerant JSON reader, aligned tables and stored-record decoding.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CLI_ADMIN_H
#define PETREL_CLI_ADMIN_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "remoting/remoting.h"

/* Exit codes scripts can trust (docs/admin.md). */
enum {
    ADM_OK = 0,
    ADM_ESERVER = 1,      /* the server answered with an error code */
    ADM_EUSAGE = 2,       /* bad or missing option */
    ADM_EUNREACHABLE = 3, /* NameServer or broker unreachable / timed out */
    ADM_ENOTFOUND = 4,    /* topic, group, message or key not found */
    ADM_EPROTO = 5,       /* the answer could not be understood */
};

#define ADM_DEFAULT_NS "127.0.0.1:9876"
#define ADM_TIMEOUT_MS 5000

typedef struct adm_s {
    rm_client_t *cli;
    const char *ns;      /* -n, $NAMESRV_ADDR or the default; may be "a;b" */
    int json;            /* --json */
    int timeout_ms;
    const char *opt[128];/* single-letter options: opt['t'] etc., NULL when absent */
    const char *sub;     /* the subcommand name, for messages */
} adm_t;

/* ---- calls ---- */
/* One request; *resp is set (free it) even when the code is not SUCCESS.
 * Returns 0, or ADM_EUNREACHABLE / ADM_EPROTO after printing one line. */
int adm_call(adm_t *a, const char *addr, int code, const char *const *ext, const void *body,
             uint32_t body_len, rm_response_t **resp);
/* Same to the NameServer(s): tries each address of -n in turn while unreachable. */
int adm_call_ns(adm_t *a, int code, const char *const *ext, const void *body, uint32_t body_len,
                rm_response_t **resp);
/* Maps a non-SUCCESS response to an exit code after printing "<what>: <remark> (CODE)". */
int adm_fail(const char *what, const rm_response_t *r);
/* Convenience: call and require SUCCESS (prints and returns the exit code otherwise). */
int adm_call_ok(adm_t *a, const char *addr, int code, const char *const *ext, const void *body,
                uint32_t body_len, rm_response_t **resp, const char *what);
int adm_call_ns_ok(adm_t *a, int code, const char *const *ext, const void *body,
                   uint32_t body_len, rm_response_t **resp, const char *what);

/* ---- JSON ---- */
/* Parses a Java body: bare numeric keys are quoted and object keys (fastjson's
 * MessageQueue keys) become strings holding the key object's JSON. NULL on error. */
cJSON *adm_json_parse(const uint8_t *p, size_t n);
int64_t adm_json_i64(const cJSON *o, const char *key, int64_t def);
const char *adm_json_str(const cJSON *o, const char *key, const char *def);
/* Prints j (pretty) and a newline to stdout. */
void adm_json_print(const cJSON *j);

/* ---- NameServer lookups ---- */
/* GET_ROUTEINFO_BY_TOPIC; returns 0 and the parsed route, or an exit code (printed). */
int adm_route(adm_t *a, const char *topic, cJSON **route);
/* Master address of brokerName inside a route or cluster info (NULL when none). */
const char *adm_master_addr(const cJSON *broker_datas_or_table, const char *broker_name);
/* GET_BROKER_CLUSTER_INFO parsed. */
int adm_cluster_info(adm_t *a, cJSON **info);
/* Master addresses of a cluster (NULL cluster: all clusters); returns count, addrs strdup'd. */
int adm_cluster_masters(const cJSON *info, const char *cluster, char ***addrs, char ***names);
void adm_free_strv(char **v, int n);
/* Broker targets from -b addr or -c cluster (one of them required). */
int adm_targets(adm_t *a, char ***addrs, char ***names, int *n);

/* ---- tables ---- */
typedef struct adm_col_s {
    const char *key;   /* JSON member of each row */
    const char *title; /* column header */
} adm_col_t;
/* Prints rows (array of objects) as an aligned table; numbers right-aligned. */
void adm_table(FILE *f, const cJSON *rows, const adm_col_t *cols, int ncols);

/* ---- stored messages ---- */
typedef struct adm_msg_s {
    uint32_t total_size;
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t phys_offset;
    int32_t sys_flag;
    int64_t born_ts;
    int64_t store_ts;
    char born_host[64];
    char store_host[64];
    char offset_msg_id[64];
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const uint8_t *body;
    uint32_t body_len;
    const char *topic;   /* not NUL-terminated: topic_len */
    uint32_t topic_len;
    const char *props;   /* not NUL-terminated: props_len */
    uint32_t props_len;
} adm_msg_t;
/* Decodes the record at p (n bytes available). Returns its size, or -1 if malformed. */
int adm_msg_decode(const uint8_t *p, size_t n, adm_msg_t *m);
/* Value of property key (copied into out, NUL-terminated); 0 if found, -1 if not. */
int adm_msg_prop(const adm_msg_t *m, const char *key, char *out, size_t outlen);
/* A message as a JSON object (body as text when printable, else base16 when with_body). */
cJSON *adm_msg_json(const adm_msg_t *m, int with_body);
/* Decodes an offset message id into "ip:port" and the commit-log offset. 0 or -1. */
int adm_decode_offset_msg_id(const char *id, char *addr, size_t addrlen, int64_t *offset);

/* ---- subcommands ---- */
typedef int (*adm_fn)(adm_t *a);
int adm_str_bool(const char *s, int def);
int64_t adm_parse_time(const char *s); /* ms, "now", or yyyy-MM-dd#HH:mm:ss:SSS; -1 bad */

#endif
