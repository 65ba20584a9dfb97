/*
 * nsmap: a small string-keyed hash map (chained, power-of-two buckets) for
 * the NameServer's tables. Keys are copied; values are opaque pointers the
 * caller owns. Not thread-safe: the NameServer touches it on its loop only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NAMESRV_NSMAP_H
#define PETREL_NAMESRV_NSMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct nsmap_ent_s {
    struct nsmap_ent_s *next;
    uint32_t hash;
    void *val;
    char key[]; /* NUL-terminated copy */
} nsmap_ent_t;

typedef struct nsmap_s {
    nsmap_ent_t **b;
    size_t nb;   /* buckets, power of two (0 while empty) */
    size_t n;    /* entries */
} nsmap_t;

void nsmap_init(nsmap_t *m);
/* Frees the entries; values are the caller's (free them first with nsmap_each). */
void nsmap_free(nsmap_t *m);
void *nsmap_get(const nsmap_t *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *nsmap_put(nsmap_t *m, const char *key, void *val);
/* Removes; returns the value or NULL. */
void *nsmap_del(nsmap_t *m, const char *key);
static inline size_t nsmap_len(const nsmap_t *m) { return m->n; }

/* Iteration: for (it = nsmap_first(m); it; it = nsmap_next(m, it)). Do not
 * insert while iterating; deleting the current entry is not allowed either
 * (collect keys first). */
nsmap_ent_t *nsmap_first(const nsmap_t *m);
nsmap_ent_t *nsmap_next(const nsmap_t *m, const nsmap_ent_t *e);

/* Keys in byte order (strcmp), for stable output. Caller frees the array
 * (not the strings, which belong to the map). */
const char **nsmap_sorted_keys(const nsmap_t *m, size_t *n);

#endif
