/*
 * strmap: see strmap.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static uint32_t hash_n(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

void strmap_init(strmap_t *m) { memset(m, 0, sizeof(*m)); }

void strmap_free(strmap_t *m) {
    for (size_t i = 0; i < m->nb; i++) {
        strmap_ent_t *e = m->b[i];
        while (e) {
            strmap_ent_t *nx = e->next;
            free(e);
            e = nx;
        }
    }
    free(m->b);
    memset(m, 0, sizeof(*m));
}

/* The link that points at key's entry (or the chain's NULL end); NULL while the map is empty. */
static strmap_ent_t **find(const strmap_t *m, const char *key, size_t klen, uint32_t h) {
    if (!m->nb) return NULL;
    strmap_ent_t **pp = &m->b[h & (m->nb - 1)];
    while (*pp && ((*pp)->hash != h || strncmp((*pp)->key, key, klen) != 0 || (*pp)->key[klen]))
        pp = &(*pp)->next;
    return pp;
}

void *strmap_getn(const strmap_t *m, const char *key, size_t klen) {
    strmap_ent_t **pp = find(m, key, klen, hash_n(key, klen));
    return pp && *pp ? (*pp)->val : NULL;
}

void *strmap_get(const strmap_t *m, const char *key) { return strmap_getn(m, key, strlen(key)); }

static void grow(strmap_t *m) {
    size_t nb = m->nb ? m->nb * 2 : 16;
    strmap_ent_t **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nb; i++) {
        strmap_ent_t *e = m->b[i];
        while (e) {
            strmap_ent_t *nx = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = nx;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

void *strmap_put(strmap_t *m, const char *key, void *val) {
    size_t klen = strlen(key);
    uint32_t h = hash_n(key, klen);
    strmap_ent_t **pp = find(m, key, klen, h);
    if (pp && *pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    if (m->n + 1 > m->nb) grow(m); /* load factor <= 1 */
    strmap_ent_t *e = xmalloc(sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->val = val;
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return NULL;
}

void *strmap_del(strmap_t *m, const char *key) {
    size_t klen = strlen(key);
    strmap_ent_t **pp = find(m, key, klen, hash_n(key, klen));
    if (!pp || !*pp) return NULL;
    strmap_ent_t *e = *pp;
    void *v = e->val;
    *pp = e->next;
    free(e);
    m->n--;
    return v;
}

strmap_ent_t *strmap_first(const strmap_t *m) {
    for (size_t i = 0; i < m->nb; i++)
        if (m->b[i]) return m->b[i];
    return NULL;
}

strmap_ent_t *strmap_next(const strmap_t *m, const strmap_ent_t *e) {
    if (e->next) return e->next;
    for (size_t i = (e->hash & (m->nb - 1)) + 1; i < m->nb; i++)
        if (m->b[i]) return m->b[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **strmap_sorted_keys(const strmap_t *m, size_t *n) {
    const char **k = xmalloc((m->n ? m->n : 1) * sizeof(*k));
    size_t i = 0;
    STRMAP_FOREACH(m, e) k[i++] = e->key;
    qsort(k, i, sizeof(*k), cmp_str);
    *n = i;
    return k;
}
