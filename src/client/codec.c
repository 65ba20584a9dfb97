/*
 * codec: message ids (UNIQ_KEY and offset ids), zlib bodies, batch records,
 * the local address, subscriptions (and the consumer heartbeat that carries
 * them) and the broadcasting offsets file.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "client/client_int.h"
#include "common/util.h"

static const char HEX[] = "0123456789ABCDEF";

static void hex_upper(const uint8_t *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[p[i] >> 4];
        out[2 * i + 1] = HEX[p[i] & 15];
    }
    out[2 * n] = 0;
}

static uint8_t ip_cache[4] = {127, 0, 0, 1};
static pthread_once_t ip_once = PTHREAD_ONCE_INIT;

static void init_ip(void) {
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
        const uint8_t *b = (const uint8_t *)&a->sin_addr.s_addr;
        if (b[0] == 127) continue;
        memcpy(ip_cache, b, 4);
        break;
    }
    freeifaddrs(ifs);
}

void petrel__local_ip(uint8_t ip[4], char *text, size_t textlen) {
    pthread_once(&ip_once, init_ip);
    memcpy(ip, ip_cache, 4);
    if (text) snprintf(text, textlen, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
}

/* UNIQ_KEY: ip(4) pid(2) random(4) | ms since start of month (4) counter (2). */
static pthread_mutex_t uniq_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t uniq_fix[10];
static int uniq_init;
static int64_t month_start_ms, next_month_ms;
static uint16_t uniq_counter;

static void month_bounds(int64_t now) {
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    month_start_ms = (int64_t)mktime(&tm) * 1000;
    tm.tm_mon += 1;
    tm.tm_isdst = -1;
    next_month_ms = (int64_t)mktime(&tm) * 1000;
}

void petrel__uniq_id(char out[33]) {
    uint8_t raw[16];
    int64_t now = now_ms();
    pthread_mutex_lock(&uniq_mu);
    if (!uniq_init) {
        petrel__local_ip(uniq_fix, NULL, 0);
        be16_put(uniq_fix + 4, (uint16_t)getpid());
        uint32_t r;
        if (getrandom(&r, sizeof(r), 0) != sizeof(r)) r = (uint32_t)mono_ns();
        be32_put(uniq_fix + 6, r);
        uniq_counter = (uint16_t)r;
        uniq_init = 1;
    }
    if (now >= next_month_ms || now < month_start_ms) month_bounds(now);
    memcpy(raw, uniq_fix, 10);
    be32_put(raw + 10, (uint32_t)(now - month_start_ms));
    be16_put(raw + 14, uniq_counter++);
    pthread_mutex_unlock(&uniq_mu);
    hex_upper(raw, 16, out);
}

void petrel__offset_msg_id(const uint8_t ip4[4], int32_t port, int64_t offset, char out[33]) {
    uint8_t raw[16];
    memcpy(raw, ip4, 4);
    be32_put(raw + 4, (uint32_t)port);
    be64_put(raw + 8, (uint64_t)offset);
    hex_upper(raw, 16, out);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = toupper(c);
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int petrel__decode_offset_msg_id(const char *id, char *addr, size_t addrlen, int64_t *offset) {
    size_t n = id ? strlen(id) : 0;
    if (n != 32 && n != 56) return -1;
    uint8_t raw[28];
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval(id[2 * i]), l = hexval(id[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        raw[i] = (uint8_t)(h << 4 | l);
    }
    int v6 = n == 56;
    size_t ipn = v6 ? 16 : 4;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, raw, ip, sizeof(ip));
    if (addr) snprintf(addr, addrlen, "%s:%u", ip, be32_get(raw + ipn));
    if (offset) *offset = (int64_t)be64_get(raw + ipn + 4);
    return 0;
}

int petrel__zlib_compress(const void *in, size_t n, uint8_t **out, size_t *outn) {
    uLongf cap = compressBound((uLong)n);
    uint8_t *b = malloc(cap);
    if (!b) return -1;
    if (compress2(b, &cap, in, (uLong)n, 5) != Z_OK) {
        free(b);
        return -1;
    }
    *out = b;
    *outn = cap;
    return 0;
}

int petrel__zlib_inflate(const void *in, size_t n, uint8_t **out, size_t *outn) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) return -1;
    size_t cap = n * 4 + 64, len = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        inflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    for (;;) {
        if (len == cap) {
            uint8_t *nb = cap > ((size_t)1 << 30) ? NULL : realloc(b, cap * 2);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        zs.next_out = b + len;
        zs.avail_out = (uInt)(cap - len);
        int rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (rc == Z_STREAM_END) {
            inflateEnd(&zs);
            *out = b;
            *outn = len;
            return 0;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
        if (zs.avail_in == 0 && zs.avail_out != 0) break; /* truncated stream */
    }
    inflateEnd(&zs);
    free(b);
    return -1;
}

void petrel__batch_put(buf_t *out, const petrel_msg_t *m, const uint8_t *props, size_t plen) {
    buf_put_be32(out, (uint32_t)(22 + m->body_len + plen));
    buf_put_be32(out, 0);
    buf_put_be32(out, 0);
    buf_put_be32(out, (uint32_t)m->flag);
    buf_put_be32(out, (uint32_t)m->body_len);
    buf_append(out, m->body, m->body_len);
    buf_put_be16(out, (uint16_t)plen);
    buf_append(out, props, plen);
}

/* ---- subscriptions ----------------------------------------------------------- */

petrel_err_t petrel__sub_init(petrel__sub_t *s, const char *topic, const char *expr) {
    memset(s, 0, sizeof(*s));
    if (!topic || !*topic) return PETREL_EINVAL;
    if (!expr || !*expr) expr = "*";
    s->topic = xstrdup(topic);
    s->expr = xstrdup(expr);
    s->version = now_ms();
    if (strcmp(expr, "*") == 0) return PETREL_OK;
    char *copy = xstrdup(expr), *save = NULL;
    for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        char *e = t + strlen(t);
        while (e > t && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*t) continue;
        s->tags = xrealloc(s->tags, (size_t)(s->n_tags + 1) * sizeof(char *));
        s->tags[s->n_tags++] = xstrdup(t);
    }
    free(copy);
    return PETREL_OK;
}

void petrel__sub_free(petrel__sub_t *s) {
    for (int i = 0; i < s->n_tags; i++)
        free(s->tags[i]);
    free(s->tags);
    free(s->topic);
    free(s->expr);
    memset(s, 0, sizeof(*s));
}

int petrel__sub_match(const petrel__sub_t *s, const char *tag) {
    if (s->n_tags == 0) return 1;
    if (!tag) return 0;
    for (int i = 0; i < s->n_tags; i++)
        if (strcmp(s->tags[i], tag) == 0) return 1;
    return 0;
}

void petrel__sub_json(buf_t *b, const petrel__sub_t *s) {
    buf_append_str(b, "{\"classFilterMode\":false,\"codeSet\":[");
    for (int i = 0; i < s->n_tags; i++)
        buf_printf(b, "%s%d", i ? "," : "", java_string_hash(s->tags[i], strlen(s->tags[i])));
    buf_append_str(b, "],\"expressionType\":\"TAG\",\"subString\":");
    buf_json_str(b, s->expr, strlen(s->expr));
    buf_printf(b, ",\"subVersion\":%lld,\"tagsSet\":[", (long long)s->version);
    for (int i = 0; i < s->n_tags; i++) {
        if (i) buf_put_u8(b, ',');
        buf_json_str(b, s->tags[i], strlen(s->tags[i]));
    }
    buf_append_str(b, "],\"topic\":");
    buf_json_str(b, s->topic, strlen(s->topic));
    buf_put_u8(b, '}');
}

void petrel__consumer_heartbeat(petrel__inst_t *inst, const petrel_conf_t *conf,
                                const char *consume_type, const char *from_where,
                                const petrel__sub_t *subs, int n_subs) {
    buf_t b;
    buf_init(&b);
    const char *cid = petrel__inst_client_id(inst);
    buf_append_str(&b, "{\"clientID\":");
    buf_json_str(&b, cid, strlen(cid));
    buf_printf(&b, ",\"consumerDataSet\":[{\"consumeFromWhere\":\"%s\",\"consumeType\":\"%s\","
                   "\"groupName\":",
               from_where, consume_type);
    buf_json_str(&b, conf->groupName, strlen(conf->groupName));
    buf_printf(&b, ",\"messageModel\":\"%s\",\"subscriptionDataSet\":[",
               conf->messageModel == PETREL__BROADCASTING ? "BROADCASTING" : "CLUSTERING");
    for (int i = 0; i < n_subs; i++) {
        if (i) buf_put_u8(&b, ',');
        petrel__sub_json(&b, &subs[i]);
    }
    buf_append_str(&b, "],\"unitMode\":false}],\"producerDataSet\":[]}");
    petrel__inst_heartbeat(inst, (const char *)b.data, b.len);
    buf_free(&b);
}

/* ---- broadcasting offsets table and file ------------------------------------- */

static int mq_eq(const petrel_mq_t *a, const petrel_mq_t *b) {
    return a->queue_id == b->queue_id && strcmp(a->topic, b->topic) == 0 &&
           strcmp(a->broker_name, b->broker_name) == 0;
}

void petrel__offtab_set(petrel__offtab_t *t, const petrel_mq_t *mq, int64_t off) {
    for (size_t i = 0; i < t->n; i++) {
        if (mq_eq(&t->e[i].mq, mq)) {
            t->e[i].offset = off;
            return;
        }
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->e = xrealloc(t->e, t->cap * sizeof(*t->e));
    }
    t->e[t->n].mq = *mq;
    t->e[t->n].offset = off;
    t->n++;
}

int64_t petrel__offtab_get(const petrel__offtab_t *t, const petrel_mq_t *mq) {
    for (size_t i = 0; i < t->n; i++)
        if (mq_eq(&t->e[i].mq, mq)) return t->e[i].offset;
    return -1;
}

void petrel__offtab_free(petrel__offtab_t *t) {
    free(t->e);
    memset(t, 0, sizeof(*t));
}

petrel_err_t petrel__offtab_save(const petrel__offtab_t *t, const char *path) {
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, "{\"offsetTable\":[");
    for (size_t i = 0; i < t->n; i++) {
        buf_append_str(&b, i ? ",\n{\"topic\":" : "\n{\"topic\":");
        buf_json_str(&b, t->e[i].mq.topic, strlen(t->e[i].mq.topic));
        buf_append_str(&b, ",\"brokerName\":");
        buf_json_str(&b, t->e[i].mq.broker_name, strlen(t->e[i].mq.broker_name));
        buf_printf(&b, ",\"queueId\":%d,\"offset\":%lld}", t->e[i].mq.queue_id,
                   (long long)t->e[i].offset);
    }
    buf_append_str(&b, "\n]}\n");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdir_p(dir, 0755);
    }
    int rc = file_write_atomic(path, b.data, b.len);
    buf_free(&b);
    if (rc != 0) {
        PLOG_ERROR("cannot write offsets file %s: %s", path, strerror(-rc));
        return PETREL_EIO;
    }
    return PETREL_OK;
}

petrel_err_t petrel__offtab_load(petrel__offtab_t *t, const char *path) {
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &text, &len);
    if (rc == -ENOENT) return PETREL_OK;
    if (rc != 0) return PETREL_EIO;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) {
        PLOG_ERROR("offsets file %s is not valid JSON; ignoring it", path);
        return PETREL_EIO;
    }
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "offsetTable"), *e;
    cJSON_ArrayForEach(e, arr) {
        cJSON *tp = cJSON_GetObjectItemCaseSensitive(e, "topic");
        cJSON *bn = cJSON_GetObjectItemCaseSensitive(e, "brokerName");
        cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "queueId");
        cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "offset");
        if (!cJSON_IsString(tp) || !cJSON_IsString(bn) || !cJSON_IsNumber(q) || !cJSON_IsNumber(o))
            continue;
        petrel_mq_t mq;
        memset(&mq, 0, sizeof(mq));
        snprintf(mq.topic, sizeof(mq.topic), "%s", tp->valuestring);
        snprintf(mq.broker_name, sizeof(mq.broker_name), "%s", bn->valuestring);
        mq.queue_id = q->valueint;
        petrel__offtab_set(t, &mq, (int64_t)o->valuedouble);
    }
    cJSON_Delete(root);
    return PETREL_OK;
}

char *petrel__offfile_path(const petrel_conf_t *conf, const char *client_key) {
    char path[2048];
    const char *dir = conf->offsetStoreDir && *conf->offsetStoreDir ? conf->offsetStoreDir : NULL;
    if (dir)
        snprintf(path, sizeof(path), "%s/%s/%s/offsets.json", dir, client_key, conf->groupName);
    else
        snprintf(path, sizeof(path), "%s/.rocketmq_offsets/%s/%s/offsets.json",
                 getenv("HOME") ? getenv("HOME") : "/tmp", client_key, conf->groupName);
    return xstrdup(path);
}
