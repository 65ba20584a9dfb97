/*
 * route: TopicRouteData parsing (remoting-protocol 6.2), the queue lists
 * producers and consumers derive from it, and the allocation strategies of
 * client-side rebalance (average, average-by-circle, consistent hash).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/util.h"

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jint(const cJSON *o, const char *k, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v)) return v->valueint;
    if (cJSON_IsString(v)) return atoi(v->valuestring);
    return def;
}

petrel__route_t *petrel__route_parse(const char *json, size_t len) {
    char *fixed = json_quote_int_keys(json, len);
    cJSON *root = cJSON_Parse(fixed);
    free(fixed);
    if (!root) return NULL;
    petrel__route_t *r = xcalloc(1, sizeof(*r));
    atomic_store(&r->refs, 1);
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "queueDatas");
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "brokerDatas");
    int nq = cJSON_GetArraySize(qs), nb = cJSON_GetArraySize(bs);
    r->q = xcalloc((size_t)nq + 1, sizeof(*r->q));
    r->b = xcalloc((size_t)nb + 1, sizeof(*r->b));
    const cJSON *e;
    cJSON_ArrayForEach(e, qs) {
        const char *bn = jstr(e, "brokerName");
        if (!bn) continue;
        petrel__qdata_t *q = &r->q[r->nq++];
        snprintf(q->broker_name, sizeof(q->broker_name), "%s", bn);
        q->read_n = jint(e, "readQueueNums", 0);
        q->write_n = jint(e, "writeQueueNums", 0);
        q->perm = jint(e, "perm", 6);
    }
    cJSON_ArrayForEach(e, bs) {
        const char *bn = jstr(e, "brokerName");
        if (!bn) continue;
        petrel__bdata_t *b = &r->b[r->nb++];
        snprintf(b->broker_name, sizeof(b->broker_name), "%s", bn);
        const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(e, "brokerAddrs"), *a;
        cJSON_ArrayForEach(a, addrs) {
            if (!cJSON_IsString(a) || !a->string) continue;
            if (strcmp(a->string, "0") == 0) {
                snprintf(b->master, sizeof(b->master), "%s", a->valuestring);
                snprintf(b->any, sizeof(b->any), "%s", a->valuestring);
            } else if (!b->any[0]) {
                snprintf(b->any, sizeof(b->any), "%s", a->valuestring);
            }
        }
    }
    const char *oc = jstr(root, "orderTopicConf");
    if (oc && *oc) r->order_conf = xstrdup(oc);
    cJSON_Delete(root);
    return r;
}

void petrel__route_release(petrel__route_t *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    free(r->q);
    free(r->b);
    free(r->order_conf);
    free(r);
}

const char *petrel__route_master(const petrel__route_t *r, const char *bn) {
    for (int i = 0; i < r->nb; i++)
        if (strcmp(r->b[i].broker_name, bn) == 0) return r->b[i].master[0] ? r->b[i].master : NULL;
    return NULL;
}

int petrel__mq_cmp(const void *a, const void *b) {
    const petrel_mq_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c) return c;
    c = strcmp(x->broker_name, y->broker_name);
    if (c) return c;
    return (x->queue_id > y->queue_id) - (x->queue_id < y->queue_id);
}

int petrel__route_queues(const petrel__route_t *r, const char *topic, int for_write,
                         petrel_mq_t **mqs) {
    int n = 0, cap = 0;
    petrel_mq_t *v = NULL;
    if (for_write && r->order_conf) {
        /* "brokerName:n;brokerName:n": an ordered topic's fixed queue layout. */
        char *copy = xstrdup(r->order_conf), *save = NULL;
        for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
            char *c = strchr(t, ':');
            if (!c) continue;
            *c = 0;
            int k = atoi(c + 1);
            for (int i = 0; i < k; i++) {
                if (n == cap) v = xrealloc(v, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*v));
                memset(&v[n], 0, sizeof(v[n]));
                snprintf(v[n].topic, sizeof(v[n].topic), "%s", topic);
                snprintf(v[n].broker_name, sizeof(v[n].broker_name), "%s", t);
                v[n].queue_id = i;
                n++;
            }
        }
        free(copy);
    } else {
        for (int qi = 0; qi < r->nq; qi++) {
            const petrel__qdata_t *q = &r->q[qi];
            int k = for_write ? q->write_n : q->read_n;
            if (!(q->perm & (for_write ? 2 : 4))) continue;
            if (for_write && !petrel__route_master(r, q->broker_name)) continue;
            for (int i = 0; i < k; i++) {
                if (n == cap) v = xrealloc(v, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*v));
                memset(&v[n], 0, sizeof(v[n]));
                snprintf(v[n].topic, sizeof(v[n].topic), "%s", topic);
                snprintf(v[n].broker_name, sizeof(v[n].broker_name), "%s", q->broker_name);
                v[n].queue_id = i;
                n++;
            }
        }
    }
    if (n > 1) qsort(v, (size_t)n, sizeof(*v), petrel__mq_cmp);
    *mqs = v;
    return n;
}

/* ---- allocation strategies -------------------------------------------------- */

/* MD5 (RFC 1321), only for the consistent-hash strategy, which must place nodes exactly
 * as Java's AllocateMessageQueueConsistentHash does so mixed groups agree. */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const uint8_t md5_r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t h[4], const uint8_t *p) {
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        uint32_t x = a + f + md5_k[i] + w[g];
        b = b + ((x << md5_r[i]) | (x >> (32 - md5_r[i])));
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void petrel__md5(const void *data, size_t n, uint8_t out[16]) {
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        md5_block(h, p + i);
    uint8_t tail[128];
    size_t rem = n - i;
    memcpy(tail, p + i, rem);
    tail[rem] = 0x80;
    size_t tl = rem + 1 <= 56 ? 64 : 128;
    memset(tail + rem + 1, 0, tl - rem - 1);
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        tail[tl - 8 + k] = (uint8_t)(bits >> (8 * k));
    md5_block(h, tail);
    if (tl == 128) md5_block(h, tail + 64);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++)
            out[4 * k + j] = (uint8_t)(h[k] >> (8 * j));
}

/* Java MD5Hash.hash: the first four digest bytes as an unsigned 32-bit big-endian number. */
static uint64_t java_md5_hash(const char *key) {
    uint8_t d[16];
    petrel__md5(key, strlen(key), d);
    return ((uint64_t)d[0] << 24) | ((uint64_t)d[1] << 16) | ((uint64_t)d[2] << 8) | d[3];
}

typedef struct {
    uint64_t h;
    int cid;
} ring_node_t;

static int ring_cmp(const void *a, const void *b) {
    const ring_node_t *x = a, *y = b;
    if (x->h != y->h) return (x->h > y->h) - (x->h < y->h);
    return (x->cid > y->cid) - (x->cid < y->cid);
}

int petrel__allocate(int strategy, const petrel_mq_t *mqs, int n, char *const *cids, int c,
                     const char *self, int *out) {
    int idx = -1;
    for (int i = 0; i < c; i++)
        if (strcmp(cids[i], self) == 0) idx = i;
    if (idx < 0 || n <= 0) return 0;
    int k = 0;
    if (strategy == PETREL__ALLOC_AVG_BY_CIRCLE) {
        for (int j = idx; j < n; j += c)
            out[k++] = j;
        return k;
    }
    if (strategy == PETREL__ALLOC_CONSISTENT_HASH) {
        /* Java's AllocateMessageQueueConsistentHash: 10 virtual nodes "<cid>-<i>" per
         * consumer on an MD5 ring; a queue ("MessageQueue [topic=.., brokerName=..,
         * queueId=..]") goes to the first node at or after its hash, wrapping around. On
         * equal hashes the consumer added last wins, as with Java's TreeMap.put. */
        enum { VNODES = 10 };
        int nr = c * VNODES;
        ring_node_t *ring = xmalloc(sizeof(*ring) * (size_t)nr);
        for (int i = 0; i < c; i++) {
            for (int v = 0; v < VNODES; v++) {
                char key[512];
                snprintf(key, sizeof(key), "%s-%d", cids[i], v);
                ring[i * VNODES + v].h = java_md5_hash(key);
                ring[i * VNODES + v].cid = i;
            }
        }
        qsort(ring, (size_t)nr, sizeof(*ring), ring_cmp);
        for (int j = 0; j < n; j++) {
            char key[512];
            snprintf(key, sizeof(key), "MessageQueue [topic=%s, brokerName=%s, queueId=%d]",
                     mqs[j].topic, mqs[j].broker_name, mqs[j].queue_id);
            uint64_t h = java_md5_hash(key);
            int lo = 0, hi = nr;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (ring[mid].h < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == nr) lo = 0;
            /* Among equal hashes the last inserted (highest cid index) wins. */
            int w = lo;
            while (w + 1 < nr && ring[w + 1].h == ring[lo].h)
                w++;
            if (ring[w].cid == idx) out[k++] = j;
        }
        free(ring);
        return k;
    }
    /* AllocateMessageQueueAveragely. */
    int mod = n % c;
    int size = n <= c ? 1 : (mod > 0 && idx < mod ? n / c + 1 : n / c);
    int start = (mod > 0 && idx < mod) ? idx * size : idx * size + mod;
    int range = n - start < size ? n - start : size;
    for (int i = 0; i < range; i++)
        out[k++] = (start + i) % n;
    return k;
}
