/*
 * smap: see smap.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "broker/smap.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static unsigned hash_n(const char *s, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

void smap_init(smap_t *m) {
    m->nb = 16;
    m->n = 0;
    m->b = xcalloc(m->nb, sizeof(*m->b));
}

void smap_free(smap_t *m) {
    if (!m->b) return;
    for (size_t i = 0; i < m->nb; i++) {
        smap_ent_t *e = m->b[i];
        while (e) {
            smap_ent_t *nx = e->next;
            free(e);
            e = nx;
        }
    }
    free(m->b);
    m->b = NULL;
    m->n = m->nb = 0;
}

void *smap_getn(const smap_t *m, const char *key, size_t klen) {
    unsigned h = hash_n(key, klen);
    for (smap_ent_t *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && strncmp(e->key, key, klen) == 0 && e->key[klen] == 0) return e->val;
    return NULL;
}

void *smap_get(const smap_t *m, const char *key) { return smap_getn(m, key, strlen(key)); }

static void grow(smap_t *m) {
    size_t nb = m->nb * 2;
    smap_ent_t **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nb; i++) {
        smap_ent_t *e = m->b[i];
        while (e) {
            smap_ent_t *nx = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = nx;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

void *smap_put(smap_t *m, const char *key, void *val) {
    size_t klen = strlen(key);
    unsigned h = hash_n(key, klen);
    for (smap_ent_t *e = m->b[h & (m->nb - 1)]; e; e = e->next) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void *old = e->val;
            e->val = val;
            return old;
        }
    }
    if (m->n + 1 > m->nb) grow(m);
    smap_ent_t *e = xmalloc(sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->val = val;
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return NULL;
}

void *smap_del(smap_t *m, const char *key) {
    unsigned h = hash_n(key, strlen(key));
    for (smap_ent_t **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
        smap_ent_t *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void *v = e->val;
            *pp = e->next;
            free(e);
            m->n--;
            return v;
        }
    }
    return NULL;
}

smap_ent_t *smap_first(const smap_t *m, size_t *i) {
    for (*i = 0; *i < m->nb; (*i)++)
        if (m->b[*i]) return m->b[*i];
    return NULL;
}

smap_ent_t *smap_next(const smap_t *m, size_t *i, smap_ent_t *e) {
    if (e->next) return e->next;
    for ((*i)++; *i < m->nb; (*i)++)
        if (m->b[*i]) return m->b[*i];
    return NULL;
}
