/*
 * admin: `petrel admin <subcommand>`, mqadmin's commands and flags in a
 * native binary. This file holds the dispatcher, option parsing and the
 * helpers every subcommand uses (calls, JSON, lookups, tables, records);
 * the subcommands themselves are in admin_cmds.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"

/* ---- calls ------------------------------------------------------------- */

static const char *code_name(int code) {
    switch (code) {
    case SUCCESS: return "SUCCESS";
    case SYSTEM_ERROR: return "SYSTEM_ERROR";
    case SYSTEM_BUSY: return "SYSTEM_BUSY";
    case REQUEST_CODE_NOT_SUPPORTED: return "REQUEST_CODE_NOT_SUPPORTED";
    case NO_PERMISSION: return "NO_PERMISSION";
    case TOPIC_NOT_EXIST: return "TOPIC_NOT_EXIST";
    case TOPIC_EXIST_ALREADY: return "TOPIC_EXIST_ALREADY";
    case PULL_NOT_FOUND: return "PULL_NOT_FOUND";
    case PULL_OFFSET_MOVED: return "PULL_OFFSET_MOVED";
    case QUERY_NOT_FOUND: return "QUERY_NOT_FOUND";
    case SUBSCRIPTION_GROUP_NOT_EXIST: return "SUBSCRIPTION_GROUP_NOT_EXIST";
    case CONSUMER_NOT_ONLINE: return "CONSUMER_NOT_ONLINE";
    case MESSAGE_ILLEGAL: return "MESSAGE_ILLEGAL";
    case SERVICE_NOT_AVAILABLE: return "SERVICE_NOT_AVAILABLE";
    case 29: return "INVALID_PARAMETER";
    default: return "ERROR";
    }
}

int adm_fail(const char *what, const rm_response_t *r) {
    int code = r->cmd.code;
    fprintf(stderr, "%s: %s (%s %d)\n", what, r->cmd.remark ? r->cmd.remark : "no remark",
            code_name(code), code);
    switch (code) {
    case TOPIC_NOT_EXIST:
    case QUERY_NOT_FOUND:
    case SUBSCRIPTION_GROUP_NOT_EXIST:
    case CONSUMER_NOT_ONLINE:
    case PULL_NOT_FOUND:
        return ADM_ENOTFOUND;
    default:
        return ADM_ESERVER;
    }
}

static const char *peer_kind(adm_t *a, const char *addr) {
    return a->ns && strstr(a->ns, addr) ? "NameServer" : "broker";
}

int adm_call(adm_t *a, const char *addr, int code, const char *const *ext, const void *body,
             uint32_t body_len, rm_response_t **resp) {
    rm_request_t req = {.code = code, .ext = ext, .body = body, .body_len = body_len};
    *resp = NULL;
    int rc = rm_client_invoke_sync(a->cli, addr, &req, a->timeout_ms, resp);
    if (rc == 0 && *resp) return 0;
    if (rc == RM_ECONNECT)
        fprintf(stderr, "connect to %s %s failed: connection refused\n", peer_kind(a, addr), addr);
    else if (rc == RM_ETIMEOUT)
        fprintf(stderr, "%s %s did not answer %s within %d ms\n", peer_kind(a, addr), addr,
                rm_request_code_name(code) ? rm_request_code_name(code) : "the request",
                a->timeout_ms);
    else
        fprintf(stderr, "request to %s %s failed: %s\n", peer_kind(a, addr), addr,
                rm_strerror(rc));
    return rc == RM_EPROTO ? ADM_EPROTO : ADM_EUNREACHABLE;
}

int adm_call_ns(adm_t *a, int code, const char *const *ext, const void *body, uint32_t body_len,
                rm_response_t **resp) {
    char list[512];
    snprintf(list, sizeof list, "%s", a->ns);
    int rc = ADM_EUNREACHABLE;
    char *save = NULL;
    for (char *addr = strtok_r(list, ";,", &save); addr; addr = strtok_r(NULL, ";,", &save)) {
        rc = adm_call(a, addr, code, ext, body, body_len, resp);
        if (rc != ADM_EUNREACHABLE) return rc;
    }
    return rc;
}

int adm_call_ok(adm_t *a, const char *addr, int code, const char *const *ext, const void *body,
                uint32_t body_len, rm_response_t **resp, const char *what) {
    int rc = adm_call(a, addr, code, ext, body, body_len, resp);
    if (rc) return rc;
    if ((*resp)->cmd.code != SUCCESS) {
        rc = adm_fail(what, *resp);
        rm_response_free(*resp);
        *resp = NULL;
    }
    return rc;
}

int adm_call_ns_ok(adm_t *a, int code, const char *const *ext, const void *body,
                   uint32_t body_len, rm_response_t **resp, const char *what) {
    int rc = adm_call_ns(a, code, ext, body, body_len, resp);
    if (rc) return rc;
    if ((*resp)->cmd.code != SUCCESS) {
        rc = adm_fail(what, *resp);
        rm_response_free(*resp);
        *resp = NULL;
    }
    return rc;
}

/* ---- JSON -------------------------------------------------------------- */

/* Copies the string literal starting at p[i] (a quote) to out; returns index after it. */
static size_t copy_string(const uint8_t *p, size_t n, size_t i, buf_t *out) {
    size_t s = i++;
    while (i < n && p[i] != '"') i += (p[i] == '\\') ? 2 : 1;
    if (i < n) i++;
    buf_append(out, p + s, (i > n ? n : i) - s);
    return i;
}

/* Index after the balanced {...} starting at p[i]. */
static size_t skip_object(const uint8_t *p, size_t n, size_t i) {
    int depth = 0;
    while (i < n) {
        if (p[i] == '"') {
            i++;
            while (i < n && p[i] != '"') i += (p[i] == '\\') ? 2 : 1;
            i++;
            continue;
        }
        if (p[i] == '{' || p[i] == '[') depth++;
        if (p[i] == '}' || p[i] == ']') {
            if (--depth == 0) return i + 1;
        }
        i++;
    }
    return n;
}

cJSON *adm_json_parse(const uint8_t *p, size_t n) {
    if (!p || n == 0) return NULL;
    buf_t out;
    buf_init(&out);
    char stack[256];
    int top = -1, expect_key = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"') {
            i = copy_string(p, n, i, &out);
            expect_key = 0;
            continue;
        }
        if (expect_key && top >= 0 && stack[top] == '{') {
            if (c == '-' || isdigit(c)) {
                size_t s = i;
                while (i < n && (isdigit(p[i]) || p[i] == '-' || p[i] == '.')) i++;
                buf_put_u8(&out, '"');
                buf_append(&out, p + s, i - s);
                buf_put_u8(&out, '"');
                expect_key = 0;
                continue;
            }
            if (c == '{') {
                size_t e = skip_object(p, n, i);
                buf_json_str(&out, (const char *)p + i, e - i);
                i = e;
                expect_key = 0;
                continue;
            }
        }
        if (c == '{' || c == '[') {
            if (top < (int)sizeof stack - 1) stack[++top] = (char)c;
            expect_key = (c == '{');
        } else if (c == '}' || c == ']') {
            if (top >= 0) top--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = top >= 0 && stack[top] == '{';
        } else if (c == ':') {
            expect_key = 0;
        }
        buf_put_u8(&out, c);
        i++;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)out.data, out.len);
    buf_free(&out);
    return j;
}

int64_t adm_json_i64(const cJSON *o, const char *key, int64_t def) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(x)) return (int64_t)x->valuedouble;
    if (cJSON_IsString(x)) return strtoll(x->valuestring, NULL, 10);
    if (cJSON_IsBool(x)) return cJSON_IsTrue(x);
    return def;
}

const char *adm_json_str(const cJSON *o, const char *key, const char *def) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : def;
}

void adm_json_print(const cJSON *j) {
    char *s = cJSON_Print(j);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

/* ---- lookups ----------------------------------------------------------- */

int adm_route(adm_t *a, const char *topic, cJSON **route) {
    const char *ext[] = {"topic", topic, NULL};
    rm_response_t *r;
    *route = NULL;
    int rc = adm_call_ns(a, GET_ROUTEINFO_BY_TOPIC, ext, NULL, 0, &r);
    if (rc) return rc;
    if (r->cmd.code == TOPIC_NOT_EXIST) {
        fprintf(stderr, "topic not found: %s\n", topic);
        rm_response_free(r);
        return ADM_ENOTFOUND;
    }
    if (r->cmd.code != SUCCESS) {
        rc = adm_fail("route", r);
        rm_response_free(r);
        return rc;
    }
    *route = adm_json_parse(r->cmd.body, r->cmd.body_len);
    rm_response_free(r);
    if (!*route) {
        fprintf(stderr, "route of %s: undecodable TopicRouteData body\n", topic);
        return ADM_EPROTO;
    }
    return 0;
}

const char *adm_master_addr(const cJSON *datas, const char *broker_name) {
    const cJSON *bd;
    if (cJSON_IsArray(datas)) {
        cJSON_ArrayForEach(bd, datas) {
            if (strcmp(adm_json_str(bd, "brokerName", ""), broker_name) == 0)
                return adm_json_str(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL);
        }
        return NULL;
    }
    bd = cJSON_GetObjectItemCaseSensitive(datas, broker_name);
    return bd ? adm_json_str(cJSON_GetObjectItem(bd, "brokerAddrs"), "0", NULL) : NULL;
}

int adm_cluster_info(adm_t *a, cJSON **info) {
    rm_response_t *r;
    *info = NULL;
    int rc = adm_call_ns_ok(a, GET_BROKER_CLUSTER_INFO, NULL, NULL, 0, &r, "cluster info");
    if (rc) return rc;
    *info = adm_json_parse(r->cmd.body, r->cmd.body_len);
    rm_response_free(r);
    if (!*info) {
        fprintf(stderr, "cluster info: undecodable ClusterInfo body\n");
        return ADM_EPROTO;
    }
    return 0;
}

int adm_cluster_masters(const cJSON *info, const char *cluster, char ***addrs, char ***names) {
    const cJSON *cat = cJSON_GetObjectItem(info, "clusterAddrTable");
    const cJSON *bat = cJSON_GetObjectItem(info, "brokerAddrTable");
    int n = 0, cap = 8;
    *addrs = xcalloc(cap, sizeof(char *));
    *names = xcalloc(cap, sizeof(char *));
    const cJSON *cl;
    cJSON_ArrayForEach(cl, cat) {
        if (cluster && strcmp(cl->string, cluster) != 0) continue;
        const cJSON *bn;
        cJSON_ArrayForEach(bn, cl) {
            if (!cJSON_IsString(bn)) continue;
            const char *addr = adm_master_addr(bat, bn->valuestring);
            if (!addr) continue;
            if (n == cap) {
                cap *= 2;
                *addrs = xrealloc(*addrs, cap * sizeof(char *));
                *names = xrealloc(*names, cap * sizeof(char *));
            }
            (*addrs)[n] = xstrdup(addr);
            (*names)[n] = xstrdup(bn->valuestring);
            n++;
        }
    }
    return n;
}

void adm_free_strv(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int adm_targets(adm_t *a, char ***addrs, char ***names, int *n) {
    *addrs = *names = NULL;
    *n = 0;
    if (a->opt['b']) {
        *addrs = xcalloc(1, sizeof(char *));
        *names = xcalloc(1, sizeof(char *));
        (*addrs)[0] = xstrdup(a->opt['b']);
        (*names)[0] = xstrdup(a->opt['b']);
        *n = 1;
        return 0;
    }
    if (!a->opt['c']) {
        fprintf(stderr, "petrel admin %s: give -b <broker addr> or -c <cluster>\n", a->sub);
        return ADM_EUSAGE;
    }
    cJSON *info;
    int rc = adm_cluster_info(a, &info);
    if (rc) return rc;
    *n = adm_cluster_masters(info, a->opt['c'], addrs, names);
    cJSON_Delete(info);
    if (*n == 0) {
        fprintf(stderr, "cluster not found: %s\n", a->opt['c']);
        adm_free_strv(*addrs, 0);
        adm_free_strv(*names, 0);
        *addrs = *names = NULL;
        return ADM_ENOTFOUND;
    }
    return 0;
}

/* ---- tables ------------------------------------------------------------ */

static void cell_text(const cJSON *v, char *out, size_t n) {
    if (!v || cJSON_IsNull(v)) snprintf(out, n, "-");
    else if (cJSON_IsString(v)) snprintf(out, n, "%s", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(int64_t)d) snprintf(out, n, "%lld", (long long)d);
        else snprintf(out, n, "%.2f", d);
    } else {
        char *s = cJSON_PrintUnformatted(v);
        snprintf(out, n, "%s", s ? s : "");
        free(s);
    }
}

void adm_table(FILE *f, const cJSON *rows, const adm_col_t *cols, int ncols) {
    int w[32] = {0}, right[32] = {0};
    char cell[1024];
    if (ncols > 32) ncols = 32;
    for (int c = 0; c < ncols; c++) {
        w[c] = (int)strlen(cols[c].title);
        right[c] = 1;
    }
    const cJSON *row;
    int any = 0;
    cJSON_ArrayForEach(row, rows) {
        any = 1;
        for (int c = 0; c < ncols; c++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, cols[c].key);
            cell_text(v, cell, sizeof cell);
            if ((int)strlen(cell) > w[c]) w[c] = (int)strlen(cell);
            if (v && !cJSON_IsNumber(v)) right[c] = 0;
        }
    }
    if (!any)
        for (int c = 0; c < ncols; c++) right[c] = 0;
    for (int c = 0; c < ncols; c++) {
        if (c + 1 < ncols) fprintf(f, right[c] ? "%*s  " : "%-*s  ", w[c], cols[c].title);
        else if (right[c]) fprintf(f, "%*s", w[c], cols[c].title);
        else fputs(cols[c].title, f);
    }
    fputc('\n', f);
    cJSON_ArrayForEach(row, rows) {
        for (int c = 0; c < ncols; c++) {
            cell_text(cJSON_GetObjectItemCaseSensitive(row, cols[c].key), cell, sizeof cell);
            if (c + 1 < ncols) fprintf(f, right[c] ? "%*s  " : "%-*s  ", w[c], cell);
            else if (right[c]) fprintf(f, "%*s", w[c], cell);
            else fputs(cell, f);
        }
        fputc('\n', f);
    }
}

/* ---- stored messages --------------------------------------------------- */

static void host_text(const uint8_t *p, int v6, char *out, size_t n) {
    if (v6) {
        char ip[64] = "";
        for (int i = 0; i < 16; i += 2)
            snprintf(ip + strlen(ip), sizeof ip - strlen(ip), i ? ":%x" : "%x", be16_get(p + i));
        snprintf(out, n, "[%s]:%u", ip, be32_get(p + 16));
    } else {
        snprintf(out, n, "%u.%u.%u.%u:%u", p[0], p[1], p[2], p[3], be32_get(p + 4));
    }
}

int adm_msg_decode(const uint8_t *p, size_t n, adm_msg_t *m) {
    record_view_t v;
    memset(m, 0, sizeof *m);
    if (record_decode(p, n, &v, 0) != RECORD_OK) return -1;
    m->total_size = v.total_size;
    m->queue_id = v.queue_id;
    m->flag = v.flag;
    m->queue_offset = v.queue_offset;
    m->phys_offset = v.phys_offset;
    m->sys_flag = v.sys_flag;
    m->born_ts = v.born_ts;
    m->store_ts = v.store_ts;
    host_text(v.born_host, v.born_host_len == 20, m->born_host, sizeof m->born_host);
    host_text(v.store_host, v.store_host_len == 20, m->store_host, sizeof m->store_host);
    record_msgid_encode_host(v.store_host, v.store_host_len, v.phys_offset, m->offset_msg_id);
    m->reconsume_times = v.reconsume_times;
    m->prepared_tx_offset = v.prepared_tx_offset;
    m->body = v.body;
    m->body_len = v.body_len;
    m->topic = v.topic;
    m->topic_len = v.topic_len;
    m->props = v.props;
    m->props_len = v.props_len;
    return (int)v.total_size;
}

int adm_msg_prop(const adm_msg_t *m, const char *key, char *out, size_t outlen) {
    const char *val;
    size_t vl;
    if (!msgprops_find(m->props, m->props_len, key, &val, &vl)) return -1;
    if (vl >= outlen) vl = outlen - 1;
    memcpy(out, val, vl);
    out[vl] = 0;
    return 0;
}

static void fmt_time(int64_t ms, char *out, size_t n) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    size_t l = strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + l, n - l, ".%03d", (int)(ms % 1000));
}

cJSON *adm_msg_json(const adm_msg_t *m, int with_body) {
    cJSON *o = cJSON_CreateObject();
    char tmp[256];
    cJSON_AddStringToObject(o, "offsetMsgId", m->offset_msg_id);
    if (adm_msg_prop(m, "UNIQ_KEY", tmp, sizeof tmp) == 0) cJSON_AddStringToObject(o, "msgId", tmp);
    else cJSON_AddStringToObject(o, "msgId", m->offset_msg_id);
    snprintf(tmp, sizeof tmp, "%.*s", (int)m->topic_len, m->topic);
    cJSON_AddStringToObject(o, "topic", tmp);
    cJSON_AddStringToObject(o, "tags", adm_msg_prop(m, "TAGS", tmp, sizeof tmp) ? "" : tmp);
    cJSON_AddStringToObject(o, "keys", adm_msg_prop(m, "KEYS", tmp, sizeof tmp) ? "" : tmp);
    cJSON_AddNumberToObject(o, "queueId", m->queue_id);
    cJSON_AddNumberToObject(o, "queueOffset", (double)m->queue_offset);
    cJSON_AddNumberToObject(o, "commitLogOffset", (double)m->phys_offset);
    cJSON_AddNumberToObject(o, "reconsumeTimes", m->reconsume_times);
    cJSON_AddNumberToObject(o, "bornTimestamp", (double)m->born_ts);
    fmt_time(m->born_ts, tmp, sizeof tmp);
    cJSON_AddStringToObject(o, "bornTime", tmp);
    cJSON_AddNumberToObject(o, "storeTimestamp", (double)m->store_ts);
    fmt_time(m->store_ts, tmp, sizeof tmp);
    cJSON_AddStringToObject(o, "storeTime", tmp);
    cJSON_AddStringToObject(o, "bornHost", m->born_host);
    cJSON_AddStringToObject(o, "storeHost", m->store_host);
    cJSON_AddNumberToObject(o, "sysFlag", m->sys_flag);
    cJSON_AddNumberToObject(o, "flag", m->flag);
    cJSON_AddNumberToObject(o, "bodyLength", m->body_len);
    cJSON *props = cJSON_AddObjectToObject(o, "properties");
    msgprops_iter_t it;
    const char *k, *v;
    size_t kl, vl;
    msgprops_iter_init(&it, m->props, m->props_len);
    while (msgprops_next(&it, &k, &kl, &v, &vl)) {
        char kb[256], *vb = xmalloc(vl + 1);
        snprintf(kb, sizeof kb, "%.*s", (int)kl, k);
        memcpy(vb, v, vl);
        vb[vl] = 0;
        cJSON_AddStringToObject(props, kb, vb);
        free(vb);
    }
    if (with_body) {
        int printable = (m->sys_flag & 1) == 0;
        for (uint32_t i = 0; i < m->body_len && printable; i++)
            if (m->body[i] < 0x20 && m->body[i] != '\n' && m->body[i] != '\r' && m->body[i] != '\t')
                printable = 0;
        char *s = xmalloc((size_t)m->body_len * 2 + 1);
        if (printable) {
            memcpy(s, m->body, m->body_len);
            s[m->body_len] = 0;
        } else {
            static const char hx[] = "0123456789ABCDEF";
            for (uint32_t i = 0; i < m->body_len; i++) {
                s[2 * i] = hx[m->body[i] >> 4];
                s[2 * i + 1] = hx[m->body[i] & 15];
            }
            s[2 * m->body_len] = 0;
        }
        cJSON_AddStringToObject(o, printable ? "body" : "bodyHex", s);
        free(s);
    }
    return o;
}

int adm_decode_offset_msg_id(const char *id, char *addr, size_t addrlen, int64_t *offset) {
    uint8_t host[20];
    uint32_t hl;
    if (record_msgid_decode(id, strlen(id), host, &hl, offset)) return -1;
    host_text(host, hl == 20, addr, addrlen);
    return 0;
}

/* ---- small parsers ----------------------------------------------------- */

int adm_str_bool(const char *s, int def) {
    if (!s) return def;
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) return 1;
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) return 0;
    return def;
}

int64_t adm_parse_time(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "now")) return now_ms();
    char *e;
    long long v = strtoll(s, &e, 10);
    if (*e == 0 && e != s) return v;
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(s, "%d-%d-%d#%d:%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) >= 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_isdst = -1;
        return (int64_t)mktime(&tm) * 1000 + ms;
    }
    return -1;
}

/* ---- dispatch ---------------------------------------------------------- */

static void usage_all(FILE *f) {
    fprintf(f, "usage: petrel admin <subcommand> [options] [--json]\n"
               "       petrel admin <subcommand> --help\n\n"
               "Common options: -n <namesrv addr[;addr]> (default $NAMESRV_ADDR or %s),\n"
               "  --json (machine-readable output), --timeout <ms>.\n"
               "Exit codes: 0 ok, 1 server error, 2 usage, 3 unreachable, 4 not found,\n"
               "  5 undecodable answer.\n\nSubcommands:\n",
            ADM_DEFAULT_NS);
    for (int i = 0; adm_cmds[i].name; i++)
        fprintf(f, "  %-22s %s\n", adm_cmds[i].name, adm_cmds[i].summary);
}

static void usage_one(FILE *f, const adm_cmd_t *c) {
    fprintf(f, "usage: petrel admin %s %s [--json]\n  %s\n\nOptions:\n%s", c->name, c->synopsis,
            c->summary, c->options);
    fprintf(f, "  -n <addr>   NameServer address(es), 'a:9876;b:9876' (default $NAMESRV_ADDR or %s)\n"
               "  --json      machine-readable output\n",
            ADM_DEFAULT_NS);
}

int admin_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage_all(argc < 2 ? stderr : stdout);
        return argc < 2 ? ADM_EUSAGE : ADM_OK;
    }
    const adm_cmd_t *cmd = NULL;
    for (int i = 0; adm_cmds[i].name; i++)
        if (!strcasecmp(argv[1], adm_cmds[i].name)) cmd = &adm_cmds[i];
    if (!cmd) {
        fprintf(stderr, "petrel admin: unknown subcommand '%s' (petrel admin --help lists them)\n",
                argv[1]);
        return ADM_EUSAGE;
    }
    /* one clear line per error: the remoting layer's own log lines stay quiet */
    if (!getenv("PETREL_LOG")) log_set_level(LOG_OFF);
    adm_t a;
    memset(&a, 0, sizeof a);
    a.sub = cmd->name;
    a.timeout_ms = ADM_TIMEOUT_MS;
    a.ns = getenv("NAMESRV_ADDR");
    static const struct option longs[] = {
        {"json", no_argument, NULL, 1001},
        {"help", no_argument, NULL, 'h'},
        {"timeout", required_argument, NULL, 1002},
        {NULL, 0, NULL, 0},
    };
    char optstr[160] = "+h";
    for (const char *p = cmd->flags; *p; p++) {
        size_t l = strlen(optstr);
        if (l + 3 >= sizeof optstr) break;
        optstr[l] = *p;
        optstr[l + 1] = ':';
        optstr[l + 2] = 0;
    }
    if (!strchr(cmd->flags, 'n')) strcat(optstr, "n:");
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(sub_argc, sub_argv, optstr, longs, NULL)) != -1) {
        if (c == 'h') {
            usage_one(stdout, cmd);
            return ADM_OK;
        } else if (c == 1001) {
            a.json = 1;
        } else if (c == 1002) {
            a.timeout_ms = atoi(optarg) > 0 ? atoi(optarg) : ADM_TIMEOUT_MS;
        } else if (c == '?' || c == ':') {
            if (optopt && optopt < 128)
                fprintf(stderr, "petrel admin %s: unknown option -%c or missing value\n",
                        cmd->name, optopt);
            else
                fprintf(stderr, "petrel admin %s: unknown option %s\n", cmd->name,
                        sub_argv[optind - 1]);
            usage_one(stderr, cmd);
            return ADM_EUSAGE;
        } else if (c > 0 && c < 128) {
            a.opt[c] = optarg;
        }
    }
    if (optind < sub_argc) {
        fprintf(stderr, "petrel admin %s: unexpected argument '%s'\n", cmd->name,
                sub_argv[optind]);
        return ADM_EUSAGE;
    }
    if (a.opt['n']) a.ns = a.opt['n'];
    if (!a.ns || !*a.ns) a.ns = ADM_DEFAULT_NS;
    for (const char *p = cmd->required; *p; p++) {
        if (!a.opt[(unsigned char)*p]) {
            fprintf(stderr, "petrel admin %s: missing required option -%c\n", cmd->name, *p);
            usage_one(stderr, cmd);
            return ADM_EUSAGE;
        }
    }
    rm_client_opts_t co = {.connect_timeout_ms = 3000, .language = LANG_JAVA};
    a.cli = rm_client_create(&co);
    if (!a.cli) {
        fprintf(stderr, "petrel admin: cannot create the remoting client\n");
        return ADM_EUNREACHABLE;
    }
    int rc = cmd->fn(&a);
    fflush(stdout);
    rm_client_destroy(a.cli);
    return rc;
}
