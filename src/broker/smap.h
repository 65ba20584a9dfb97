/*
 * smap: a small string-keyed hash map (chained) for the broker's tables
 * (topics, groups, offsets, clients). Keys are copied; values are owned by
 * the caller. Not thread-safe: every table lives on the loop thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_BROKER_SMAP_H
#define PETREL_BROKER_SMAP_H

#include <stddef.h>

typedef struct smap_ent_s {
    struct smap_ent_s *next;
    unsigned hash;
    void *val;
    char key[];
} smap_ent_t;

typedef struct smap_s {
    smap_ent_t **b;
    size_t nb;
    size_t n;
} smap_t;

void smap_init(smap_t *m);
/* Frees the entries (not the values). */
void smap_free(smap_t *m);
void *smap_get(const smap_t *m, const char *key);
void *smap_getn(const smap_t *m, const char *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *smap_put(smap_t *m, const char *key, void *val);
/* Removes; returns the value or NULL. */
void *smap_del(smap_t *m, const char *key);

/* Iteration: for (smap_ent_t *e = smap_first(m, &i); e; e = smap_next(m, &i, e)). Do not
 * insert while iterating; deleting the current entry is not allowed either (collect keys). */
smap_ent_t *smap_first(const smap_t *m, size_t *i);
smap_ent_t *smap_next(const smap_t *m, size_t *i, smap_ent_t *e);
#define SMAP_FOREACH(m, e, i) for (smap_ent_t *e = smap_first((m), &(i)); e; e = smap_next((m), &(i), e))

#endif
