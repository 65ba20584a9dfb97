/*
 * butil: small helpers the broker's handlers share: request field access
 * and replies (RocketMQ's error remarks, JSON bodies, handler tables), name
 * validation, message ids, JSON helpers, re-put messages from stored records,
 * and the config files: loading (with the .bak fallback) and off-loop saving.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"

int bk_valid_topic(const char *t, char *err, size_t errlen) {
    size_t n = strlen(t);
    if (n == 0) {
        snprintf(err, errlen, "The specified topic is blank.");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!(isalnum((unsigned char)c) || c == '%' || c == '|' || c == '_' || c == '-')) {
            snprintf(err, errlen,
                     "The specified topic[%.200s] contains illegal characters, allowing only "
                     "^[%%|a-zA-Z0-9_-]+$",
                     t);
            return -1;
        }
    }
    size_t max = n <= 127 ? 127 /* the common case: no prefix checks */
                 : (strncmp(t, "%RETRY%", 7) == 0 || strncmp(t, "%DLQ%", 5) == 0) ? 255 : 127;
    if (n > max) {
        snprintf(err, errlen, "The specified topic is longer than topic max length %zu.", max);
        return -1;
    }
    return 0;
}

int bk_is_forbidden_send_topic(const char *t) {
    static const char *const f[] = {"SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC",
                                    "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC",
                                    "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT", NULL};
    if (t[0] != 'S' && t[0] != 'R' && t[0] != 'T' && t[0] != 'O') return 0; /* the common case */
    for (int i = 0; f[i]; i++)
        if (strcmp(t, f[i]) == 0) return 1;
    return 0;
}

int bk_req_str(rm_conn_t *conn, rm_cmd_t *req, const char *key, char *out, size_t n) {
    const char *v = rm_ext_get(req, key);
    if (!v) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is null", key);
        return -1;
    }
    if (strlen(v) >= n) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is too long", key);
        return -1;
    }
    strcpy(out, v);
    return 0;
}

int bk_req_i64(rm_conn_t *conn, rm_cmd_t *req, const char *key, int64_t *out) {
    int rc = rm_ext_i64(req, key, out);
    if (rc == 0) return 0;
    if (rc == -1)
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is null", key);
    else
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is not a number: %.64s", key,
                      rm_ext_get(req, key));
    return -1;
}

int bk_req_i32(rm_conn_t *conn, rm_cmd_t *req, const char *key, int32_t *out) {
    int64_t v;
    if (bk_req_i64(conn, req, key, &v) != 0) return -1;
    if (v < INT32_MIN || v > INT32_MAX) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the custom field <%s> is out of range", key);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

void bk_reply_json(rm_conn_t *conn, rm_cmd_t *req, buf_t *body) {
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    if (body && body->len) rm_enc_body(&e, body->data, body->len);
    rm_enc_end(&e);
}

void bk_reply_errf(rm_conn_t *conn, rm_cmd_t *req, int code, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rm_conn_reply(conn, req, code, msg);
}

void bk_reply_filled(rm_conn_t *conn, rm_cmd_t *req, broker_t *b, bk_fill_fn fill) {
    buf_t out;
    buf_init(&out);
    fill(b, &out);
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

void bk_json_open_broker_addr(buf_t *out, const broker_t *b) {
    char addr[128];
    snprintf(addr, sizeof(addr), "%s:%d", b->conf.brokerIP1, b->port);
    buf_append_str(out, "{\"brokerAddr\":");
    buf_json_str(out, addr, strlen(addr));
}

void bk_route(broker_t *b, const bk_route_t *routes, size_t n) {
    for (size_t i = 0; i < n; i++) rm_server_handle(b->srv, routes[i].code, routes[i].fn, b);
}

void bk_offset_msg_id(broker_t *b, int64_t phys, char out[33]) {
    static const char hex[] = "0123456789ABCDEF";
    uint8_t raw[16];
    memcpy(raw, b->store_ip, 4);
    be32_put(raw + 4, (uint32_t)b->port);
    be64_put(raw + 8, (uint64_t)phys);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = 0;
}

int64_t bk_decode_offset_msg_id(const char *id) {
    size_t n = strlen(id);
    if (n != 32 && n != 56) return -1;
    uint64_t v = 0;
    for (size_t i = n - 16; i < n; i++) {
        int c = id[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else return -1;
        v = (v << 4) | (uint64_t)d;
    }
    return (int64_t)v;
}

void bk_dv_json(buf_t *out, const data_version_t *dv) {
    buf_printf(out, "{\"counter\":%" PRId64 ",\"stateVersion\":0,\"timestamp\":%" PRId64 "}",
               dv->counter, dv->timestamp);
}

void bk_dv_bump(data_version_t *dv) {
    dv->counter++;
    dv->timestamp = now_ms();
}

void bk_dv_from_json(data_version_t *dv, const cJSON *file) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(file, "dataVersion");
    if (!v) return;
    dv->counter = bk_json_i64(v, "counter", 0);
    dv->timestamp = bk_json_i64(v, "timestamp", now_ms());
}

void bk_json_map(buf_t *out, const strmap_t *m, void (*item)(buf_t *out, const void *val)) {
    buf_append_str(out, "{");
    int first = 1;
    STRMAP_FOREACH(m, e) {
        if (!first) buf_append_str(out, ",");
        first = 0;
        buf_json_str(out, e->key, strlen(e->key));
        buf_append_str(out, ":");
        item(out, e->val);
    }
    buf_append_str(out, "}");
}

cJSON *bk_json_parse(const char *text, size_t len) {
    char *fixed = json_quote_int_keys(text, len);
    cJSON *j = cJSON_Parse(fixed);
    free(fixed);
    return j;
}

int64_t bk_json_i64(const cJSON *o, const char *key, int64_t def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return def;
    if (cJSON_IsNumber(v)) {
        /* cJSON keeps a double; exact for |v| < 2^53, enough for counts and ms. */
        return (int64_t)v->valuedouble;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        char *end;
        long long x = strtoll(v->valuestring, &end, 10);
        return end != v->valuestring ? (int64_t)x : def;
    }
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return def;
}

int bk_json_bool(const cJSON *o, const char *key, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return def;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsString(v) && v->valuestring)
        return strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0;
    return def;
}

const char *bk_json_str(const cJSON *o, const char *key, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v && cJSON_IsString(v) && v->valuestring) return v->valuestring;
    return def;
}

void bk_msg_from_record(broker_t *b, store_msg_t *m, const record_view_t *v) {
    memset(m, 0, sizeof(*m));
    m->flag = v->flag;
    m->sys_flag = v->sys_flag & ~(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6);
    m->born_ts = v->born_ts;
    m->born_ip = v->born_host_len == 8 ? be32_get(v->born_host) : 0;
    m->born_port = record_host_port(v->born_host, v->born_host_len);
    m->store_ip = be32_get(b->store_ip);
    m->store_port = b->port;
    m->reconsume_times = v->reconsume_times;
    m->body = v->body;
    m->body_len = v->body_len;
}

/* ---- persistence off the loop ---- */

typedef struct persist_job_s {
    uv_work_t w;
    char path[1200];
    uint8_t *data;
    size_t len;
    uint64_t seq;
} persist_job_t;

/* Thread-pool jobs may finish out of order: never let an older snapshot of a
 * file replace a newer one. */
static pthread_mutex_t persist_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t persist_seq;
static struct {
    char path[1200];
    uint64_t seq;
} persist_last[32];

static void persist_work(uv_work_t *w) {
    persist_job_t *j = (persist_job_t *)w;
    pthread_mutex_lock(&persist_mu);
    int slot = -1, free_slot = -1;
    for (int i = 0; i < 32; i++) {
        if (strcmp(persist_last[i].path, j->path) == 0) slot = i;
        else if (!persist_last[i].path[0] && free_slot < 0) free_slot = i;
    }
    if (slot < 0 && free_slot >= 0) {
        slot = free_slot;
        snprintf(persist_last[slot].path, sizeof(persist_last[slot].path), "%s", j->path);
    }
    if (slot >= 0 && persist_last[slot].seq > j->seq) {
        pthread_mutex_unlock(&persist_mu);
        return;
    }
    int rc = file_write_atomic(j->path, j->data ? j->data : (const uint8_t *)"", j->len);
    if (slot >= 0) persist_last[slot].seq = j->seq;
    pthread_mutex_unlock(&persist_mu);
    if (rc != 0) log_error("cannot write %s: %s", j->path, strerror(-rc));
}

static void persist_done(uv_work_t *w, int status) {
    persist_job_t *j = (persist_job_t *)w;
    free(j->data);
    free(j);
}

void bk_persist(broker_t *b, const char *name, buf_t *text) {
    if (b->stopping) {
        bk_persist_sync(b, name, text);
        return;
    }
    persist_job_t *j = xcalloc(1, sizeof(*j));
    snprintf(j->path, sizeof(j->path), "%s/%s", b->config_dir, name);
    j->data = buf_steal(text, &j->len);
    pthread_mutex_lock(&persist_mu);
    j->seq = ++persist_seq;
    pthread_mutex_unlock(&persist_mu);
    if (uv_queue_work(&b->loop, &j->w, persist_work, persist_done) != 0) {
        persist_work(&j->w);
        persist_done(&j->w, 0);
    }
}

void bk_persist_sync(broker_t *b, const char *name, buf_t *text) {
    persist_job_t j;
    memset(&j, 0, sizeof(j));
    snprintf(j.path, sizeof(j.path), "%s/%s", b->config_dir, name);
    j.data = text->data;
    j.len = text->len;
    pthread_mutex_lock(&persist_mu);
    j.seq = ++persist_seq;
    pthread_mutex_unlock(&persist_mu);
    persist_work(&j.w);
    buf_reset(text);
}

void bk_persist_json(broker_t *b, const char *name, bk_fill_fn fill, int sync) {
    buf_t out;
    buf_init(&out);
    fill(b, &out);
    if (sync)
        bk_persist_sync(b, name, &out);
    else
        bk_persist(b, name, &out);
    buf_free(&out);
}

/* 0 applied, 1 nothing usable there (missing, empty, not JSON), -1 unreadable. */
static int load_json_file(broker_t *b, const char *path, void (*apply)(broker_t *, const cJSON *),
                          int warn_bad, char *err, size_t errlen) {
    char *text;
    size_t len;
    int rc = file_read_all(path, &text, &len);
    if (rc == -ENOENT) return 1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return -1;
    }
    cJSON *j = len ? bk_json_parse(text, len) : NULL;
    free(text);
    if (!j) {
        if (len && warn_bad) log_warn("%s is not valid JSON; trying the backup", path);
        return 1;
    }
    apply(b, j);
    cJSON_Delete(j);
    return 0;
}

int bk_load_json(broker_t *b, const char *name, void (*apply)(broker_t *b, const cJSON *j),
                 int warn_bad, char *err, size_t errlen) {
    char path[1300];
    snprintf(path, sizeof(path), "%s/%s", b->config_dir, name);
    int rc = load_json_file(b, path, apply, warn_bad, err, errlen);
    if (rc == 1) {
        snprintf(path, sizeof(path), "%s/%s.bak", b->config_dir, name);
        rc = load_json_file(b, path, apply, warn_bad, err, errlen);
    }
    return rc < 0 ? -1 : 0;
}

/* ---- tag filters ---- */

void tag_filter_from_string(tag_filter_t *f, const char *sub) {
    memset(f, 0, sizeof(*f));
    if (!sub) {
        f->all = 1;
        return;
    }
    const char *p = sub;
    while (*p == ' ') p++;
    if (*p == 0 || strcmp(p, "*") == 0) {
        f->all = 1;
        return;
    }
    while (*p) {
        const char *sep = strstr(p, "||");
        const char *end = sep ? sep : p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e > s && f->n < (int)(sizeof(f->codes) / sizeof(f->codes[0])))
            f->codes[f->n++] = java_string_hash(s, (size_t)(e - s));
        if (!sep) break;
        p = sep + 2;
    }
    if (f->n == 0) f->all = 1;
}

int tag_filter_match(const tag_filter_t *f, int64_t tags_code) {
    if (f->all) return 1;
    for (int i = 0; i < f->n; i++)
        if ((int32_t)tags_code == f->codes[i]) return 1;
    return 0;
}
