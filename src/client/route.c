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

char *petrel__json_quote_keys(const char *j, size_t len) {
    char *out = xmalloc(len * 2 + 1);
    size_t o = 0;
    int in_str = 0;
    char prev = 0; /* last non-space char outside strings */
    for (size_t i = 0; i < len; i++) {
        char c = j[i];
        if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < len)
                out[o++] = j[++i];
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            out[o++] = c;
            prev = c;
            continue;
        }
        if ((prev == '{' || prev == ',') && (isdigit((unsigned char)c) || c == '-')) {
            size_t k = i + 1;
            while (k < len && isdigit((unsigned char)j[k]))
                k++;
            size_t m = k;
            while (m < len && isspace((unsigned char)j[m]))
                m++;
            if (m < len && j[m] == ':') {
                out[o++] = '"';
                memcpy(out + o, j + i, k - i);
                o += k - i;
                out[o++] = '"';
                i = k - 1;
                prev = '"';
                continue;
            }
        }
        out[o++] = c;
        if (!isspace((unsigned char)c)) prev = c;
    }
    out[o] = 0;
    return out;
}

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
    char *fixed = petrel__json_quote_keys(json, len);
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

static uint64_t fnv1a(const char *s, uint64_t h) {
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

typedef struct {
    uint64_t h;
    int cid;
} ring_node_t;

static int ring_cmp(const void *a, const void *b) {
    const ring_node_t *x = a, *y = b;
    return (x->h > y->h) - (x->h < y->h);
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
        /* 10 virtual nodes per consumer on a 64-bit FNV-1a ring; each queue goes to the
         * first node clockwise of its hash. Stable under membership changes. */
        enum { VNODES = 10 };
        ring_node_t *ring = xmalloc(sizeof(*ring) * (size_t)c * VNODES);
        for (int i = 0; i < c; i++) {
            for (int v = 0; v < VNODES; v++) {
                char key[64];
                snprintf(key, sizeof(key), "-%d", v);
                ring[i * VNODES + v].h = fnv1a(key, fnv1a(cids[i], 14695981039346656037ull));
                ring[i * VNODES + v].cid = i;
            }
        }
        qsort(ring, (size_t)c * VNODES, sizeof(*ring), ring_cmp);
        for (int j = 0; j < n; j++) {
            char key[512];
            snprintf(key, sizeof(key), "%s@%s@%d", mqs[j].topic, mqs[j].broker_name,
                     mqs[j].queue_id);
            uint64_t h = fnv1a(key, 14695981039346656037ull);
            int lo = 0, hi = c * VNODES;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (ring[mid].h < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == c * VNODES) lo = 0;
            if (ring[lo].cid == idx) out[k++] = j;
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
