/*
 * nsmap: see nsmap.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "namesrv/nsmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void nsmap_init(nsmap_t *m) { memset(m, 0, sizeof(*m)); }

void nsmap_free(nsmap_t *m) {
    for (size_t i = 0; i < m->nb; i++) {
        nsmap_ent_t *e = m->b[i];
        while (e) {
            nsmap_ent_t *nx = e->next;
            free(e);
            e = nx;
        }
    }
    free(m->b);
    memset(m, 0, sizeof(*m));
}

static nsmap_ent_t **find(const nsmap_t *m, const char *key, uint32_t h) {
    if (!m->nb) return NULL;
    nsmap_ent_t **pp = &m->b[h & (m->nb - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0)) pp = &(*pp)->next;
    return pp;
}

void *nsmap_get(const nsmap_t *m, const char *key) {
    nsmap_ent_t **pp = find(m, key, hash_str(key));
    return pp && *pp ? (*pp)->val : NULL;
}

static void grow(nsmap_t *m) {
    size_t nb = m->nb ? m->nb * 2 : 16;
    nsmap_ent_t **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nb; i++) {
        nsmap_ent_t *e = m->b[i];
        while (e) {
            nsmap_ent_t *nx = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = nx;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

void *nsmap_put(nsmap_t *m, const char *key, void *val) {
    uint32_t h = hash_str(key);
    nsmap_ent_t **pp = find(m, key, h);
    if (pp && *pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    if (m->n + 1 > m->nb) grow(m); /* load factor <= 1 */
    size_t kl = strlen(key);
    nsmap_ent_t *e = xmalloc(sizeof(*e) + kl + 1);
    memcpy(e->key, key, kl + 1);
    e->hash = h;
    e->val = val;
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return NULL;
}

void *nsmap_del(nsmap_t *m, const char *key) {
    nsmap_ent_t **pp = find(m, key, hash_str(key));
    if (!pp || !*pp) return NULL;
    nsmap_ent_t *e = *pp;
    void *v = e->val;
    *pp = e->next;
    free(e);
    m->n--;
    return v;
}

nsmap_ent_t *nsmap_first(const nsmap_t *m) {
    for (size_t i = 0; i < m->nb; i++)
        if (m->b[i]) return m->b[i];
    return NULL;
}

nsmap_ent_t *nsmap_next(const nsmap_t *m, const nsmap_ent_t *e) {
    if (e->next) return e->next;
    for (size_t i = (e->hash & (m->nb - 1)) + 1; i < m->nb; i++)
        if (m->b[i]) return m->b[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **nsmap_sorted_keys(const nsmap_t *m, size_t *n) {
    const char **k = xmalloc((m->n ? m->n : 1) * sizeof(*k));
    size_t i = 0;
    for (nsmap_ent_t *e = nsmap_first(m); e; e = nsmap_next(m, e)) k[i++] = e->key;
    qsort(k, i, sizeof(*k), cmp_str);
    *n = i;
    return k;
}
