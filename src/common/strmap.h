/*
 * strmap: a small string-keyed hash map (chained, power-of-two buckets,
 * FNV-1a) for the broker's and the NameServer's tables. Keys are copied;
 * values are opaque pointers the caller owns. Not thread-safe: each table
 * lives on one loop thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_COMMON_STRMAP_H
#define PETREL_COMMON_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_ent_s {
    struct strmap_ent_s *next;
    uint32_t hash;
    void *val;
    char key[]; /* NUL-terminated copy */
} strmap_ent_t;

typedef struct strmap_s {
    strmap_ent_t **b;
    size_t nb; /* buckets, power of two (0 while empty) */
    size_t n;  /* entries */
} strmap_t;

void strmap_init(strmap_t *m);
/* Frees the entries; values are the caller's (free them first). The map may be reused. */
void strmap_free(strmap_t *m);
void *strmap_get(const strmap_t *m, const char *key);
/* Looks up the first klen bytes of key (which need not be NUL-terminated). */
void *strmap_getn(const strmap_t *m, const char *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *strmap_put(strmap_t *m, const char *key, void *val);
/* Removes; returns the value or NULL. */
void *strmap_del(strmap_t *m, const char *key);
static inline size_t strmap_len(const strmap_t *m) { return m->n; }

/* Iteration in bucket order: for (e = strmap_first(m); e; e = strmap_next(m, e)), or
 * STRMAP_FOREACH. Do not insert while iterating; deleting the current entry is not
 * allowed either (collect keys first). */
strmap_ent_t *strmap_first(const strmap_t *m);
strmap_ent_t *strmap_next(const strmap_t *m, const strmap_ent_t *e);
#define STRMAP_FOREACH(m, e) \
    for (strmap_ent_t *e = strmap_first(m); e; e = strmap_next((m), e))

/* Keys in byte order (strcmp), for stable output. Caller frees the array
 * (not the strings, which belong to the map). */
const char **strmap_sorted_keys(const strmap_t *m, size_t *n);

#endif
