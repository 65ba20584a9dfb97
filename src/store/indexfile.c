/*
 * indexfile: hash index from "topic#key" to commit log offsets, for
 * QUERY_MESSAGE (storage-and-semantics.md §3.6). Built by the dispatch thread.
 *
 * Files: {root}/index/<yyyyMMddHHmmssSSS> (creation time), each
 *   40-byte header: beginTimestamp 8 | endTimestamp 8 | beginPhyOffset 8 |
 *                   endPhyOffset 8 | hashSlotCount 4 | indexCount 4 (starts at 1)
 *   maxHashSlotNum slots of 4 bytes: number of the newest entry of the slot (0 = empty)
 *   maxIndexNum entries of 20 bytes: keyHash 4 | phyOffset 8 | timeDiff 4 (seconds
 *                   since beginTimestamp) | prevIndex 4 (older entry of the same slot)
 * keyHash = abs(Java hashCode("topic#key")), slot = keyHash % maxHashSlotNum.
 * Entries are appended in commit log order, so the entries past a recovery
 * cut are a suffix and can be unlinked from their slot chains newest first.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgprops.h"
#include "common/util.h"
#include "store/store_internal.h"

#define IH_BEGIN_TS 0
#define IH_END_TS 8
#define IH_BEGIN_PHYS 16
#define IH_END_PHYS 24
#define IH_SLOTS 32
#define IH_COUNT 36
#define IH_SIZE 40
#define IE_SIZE 20
#define INDEX_MAX_QUERY 64

struct index_s {
    pthread_mutex_t lock;
    char *dir;
    int slots, num;
    int64_t fsize;
    mfile_t **files;
    int n, cap;
    mfile_alloc_fn fn;
    void *fn_arg;
};

static int64_t h64(mfile_t *f, int off) {
    return (int64_t)be64_get(f->base + off);
}
static void h64_set(mfile_t *f, int off, int64_t v) {
    be64_put(f->base + off, (uint64_t)v);
}
static int32_t h32(mfile_t *f, int off) {
    return (int32_t)be32_get(f->base + off);
}
static void h32_set(mfile_t *f, int off, int32_t v) {
    be32_put(f->base + off, (uint32_t)v);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void push_file(index_t *ix, mfile_t *f) {
    if (ix->n == ix->cap)
        ix->files =
            xrealloc(ix->files, sizeof(mfile_t *) * (size_t)(ix->cap = ix->cap ? ix->cap * 2 : 8));
    ix->files[ix->n++] = f;
}

index_t *index_open(const char *dir, int slots, int num, mfile_alloc_fn fn, void *fn_arg, char *err,
                    size_t errlen) {
    index_t *ix = xcalloc(1, sizeof(*ix));
    pthread_mutex_init(&ix->lock, NULL);
    ix->dir = xstrdup(dir);
    ix->slots = slots > 0 ? slots : 1;
    ix->num = num > 1 ? num : 2;
    ix->fsize = IH_SIZE + (int64_t)ix->slots * 4 + (int64_t)ix->num * IE_SIZE;
    ix->fn = fn;
    ix->fn_arg = fn_arg;
    mkdir_p(dir, 0755);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "opendir %s: %s", dir, strerror(errno));
        index_close(ix);
        return NULL;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 17 || strspn(de->d_name, "0123456789") != 17) continue;
        if (n == cap) names = xrealloc(names, sizeof(char *) * (size_t)(cap = cap ? cap * 2 : 8));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (st.st_size != ix->fsize) {
            /* Derived data: a file of another geometry is rebuilt rather than refused. */
            log_warn("index file %s has size %lld, expected %lld: removing it", path,
                     (long long)st.st_size, (long long)ix->fsize);
            unlink(path);
            continue;
        }
        int e = 0;
        mfile_t *f = mfile_open(path, 0, ix->fsize, &e);
        if (f) push_file(ix, f);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ix;
}

void index_close(index_t *ix) {
    if (!ix) return;
    for (int i = 0; i < ix->n; i++)
        mfile_unref(ix->files[i]);
    free(ix->files);
    free(ix->dir);
    pthread_mutex_destroy(&ix->lock);
    free(ix);
}

static mfile_t *new_file(index_t *ix) {
    mfile_t *prev = ix->n ? ix->files[ix->n - 1] : NULL;
    if (prev) mfile_sync(prev);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int attempt = 0; attempt < 1000; attempt++, ms++) {
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&sec, &tm);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%04d%02d%02d%02d%02d%02d%03d", ix->dir, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        if (access(path, F_OK) == 0) continue;
        if (prev && strcmp(path, prev->path) <= 0) continue; /* keep names ordered */
        int e = 0;
        mfile_t *f = mfile_create(path, 0, ix->fsize, ix->fn, ix->fn_arg, &e);
        if (!f) return NULL;
        h64_set(f, IH_BEGIN_TS, prev ? h64(prev, IH_END_TS) : 0);
        h64_set(f, IH_END_TS, prev ? h64(prev, IH_END_TS) : 0);
        h64_set(f, IH_BEGIN_PHYS, prev ? h64(prev, IH_END_PHYS) : 0);
        h64_set(f, IH_END_PHYS, prev ? h64(prev, IH_END_PHYS) : 0);
        h32_set(f, IH_SLOTS, 0);
        h32_set(f, IH_COUNT, 1);
        push_file(ix, f);
        return f;
    }
    return NULL;
}

static uint32_t key_hash(const char *topic, size_t tl, const char *key, size_t kl) {
    char small[512];
    size_t n = tl + 1 + kl;
    char *b = n <= sizeof(small) ? small : xmalloc(n);
    memcpy(b, topic, tl);
    b[tl] = '#';
    memcpy(b + tl + 1, key, kl);
    int32_t h = java_string_hash(b, n);
    if (b != small) free(b);
    if (h == INT32_MIN) return 0;
    return (uint32_t)(h < 0 ? -h : h);
}

static void put_key(index_t *ix, const char *topic, size_t tl, const char *key, size_t kl,
                    int64_t phys, int64_t store_ts) {
    mfile_t *f = ix->n ? ix->files[ix->n - 1] : NULL;
    if (!f || h32(f, IH_COUNT) >= ix->num) {
        f = new_file(ix);
        if (!f) {
            log_error("index: cannot create a new index file in %s", ix->dir);
            return;
        }
    }
    uint32_t hash = key_hash(topic, tl, key, kl);
    int64_t slot_pos = IH_SIZE + (int64_t)(hash % (uint32_t)ix->slots) * 4;
    int32_t count = h32(f, IH_COUNT);
    int32_t v = (int32_t)be32_get(f->base + slot_pos);
    if (v <= 0 || v > count) v = 0;
    int64_t begin = h64(f, IH_BEGIN_TS);
    int64_t diff = (store_ts - begin) / 1000;
    if (begin <= 0 || diff < 0) diff = 0;
    if (diff > INT32_MAX) diff = INT32_MAX;
    uint8_t *e = f->base + IH_SIZE + (int64_t)ix->slots * 4 + (int64_t)count * IE_SIZE;
    be32_put(e, hash);
    be64_put(e + 4, (uint64_t)phys);
    be32_put(e + 12, (uint32_t)diff);
    be32_put(e + 16, (uint32_t)v);
    be32_put(f->base + slot_pos, (uint32_t)count);
    if (count <= 1) {
        h64_set(f, IH_BEGIN_PHYS, phys);
        h64_set(f, IH_BEGIN_TS, store_ts);
    }
    if (v == 0) h32_set(f, IH_SLOTS, h32(f, IH_SLOTS) + 1);
    h32_set(f, IH_COUNT, count + 1);
    h64_set(f, IH_END_PHYS, phys);
    h64_set(f, IH_END_TS, store_ts);
}

void index_build(index_t *ix, const record_view_t *rv) {
    if ((rv->sys_flag & MSG_SYSFLAG_TRANSACTION_MASK) == MSG_SYSFLAG_TRANSACTION_ROLLBACK) return;
    const char *uk = NULL, *keys = NULL;
    size_t ukl = 0, kl = 0;
    int f = msgprops_find2(rv->props, rv->props_len, MSGPROP_UNIQ_KEY, 8, &uk, &ukl, MSGPROP_KEYS,
                           4, &keys, &kl);
    int has_uk = f & 1, has_keys = (f & 2) != 0;
    if (!has_uk && !has_keys) return;
    pthread_mutex_lock(&ix->lock);
    mfile_t *last = ix->n ? ix->files[ix->n - 1] : NULL;
    /* already indexed (re-dispatch after a restart) */
    if (last && (h32(last, IH_COUNT) > 1 || h64(last, IH_END_PHYS) > 0) &&
        rv->phys_offset <= h64(last, IH_END_PHYS))
        goto out;
    if (has_uk) put_key(ix, rv->topic, rv->topic_len, uk, ukl, rv->phys_offset, rv->store_ts);
    if (has_keys) {
        size_t i = 0;
        while (i < kl) {
            size_t j = i;
            while (j < kl && keys[j] != ' ')
                j++;
            if (j > i)
                put_key(ix, rv->topic, rv->topic_len, keys + i, j - i, rv->phys_offset,
                        rv->store_ts);
            i = j + 1;
        }
    }
out:
    pthread_mutex_unlock(&ix->lock);
}

int index_query(index_t *ix, const char *topic, const char *key, int max_num, int64_t begin,
                int64_t end, int64_t *out, int64_t *last_ts, int64_t *last_phys) {
    if (max_num > INDEX_MAX_QUERY) max_num = INDEX_MAX_QUERY;
    uint32_t hash = key_hash(topic, strlen(topic), key, strlen(key));
    int found = 0;
    pthread_mutex_lock(&ix->lock);
    if (ix->n) {
        mfile_t *l = ix->files[ix->n - 1];
        if (last_ts) *last_ts = h64(l, IH_END_TS);
        if (last_phys) *last_phys = h64(l, IH_END_PHYS);
    } else {
        if (last_ts) *last_ts = 0;
        if (last_phys) *last_phys = 0;
    }
    for (int i = ix->n - 1; i >= 0 && found < max_num; i--) {
        mfile_t *f = ix->files[i];
        int64_t fb = h64(f, IH_BEGIN_TS), fe = h64(f, IH_END_TS);
        int matched =
            (begin < fb && end > fe) || (begin >= fb && begin <= fe) || (end >= fb && end <= fe);
        if (matched) {
            int32_t count = h32(f, IH_COUNT);
            int32_t idx =
                (int32_t)be32_get(f->base + IH_SIZE + (int64_t)(hash % (uint32_t)ix->slots) * 4);
            if (idx > 0 && idx <= count) {
                int guard = 0;
                while (found < max_num && guard++ < ix->num) {
                    const uint8_t *e =
                        f->base + IH_SIZE + (int64_t)ix->slots * 4 + (int64_t)idx * IE_SIZE;
                    uint32_t kh = be32_get(e);
                    int64_t phys = (int64_t)be64_get(e + 4);
                    int64_t t = fb + (int64_t)be32_get(e + 12) * 1000;
                    int32_t prev = (int32_t)be32_get(e + 16);
                    if (kh == hash && t >= begin && t <= end) {
                        int dup = 0;
                        for (int k = 0; k < found; k++)
                            dup |= out[k] == phys;
                        if (!dup) out[found++] = phys;
                    }
                    if (prev <= 0 || prev > count || prev == idx || t < begin) break;
                    idx = prev;
                }
            }
        }
        if (fb < begin) break;
    }
    pthread_mutex_unlock(&ix->lock);
    return found;
}

void index_truncate_phys(index_t *ix, int64_t cut) {
    pthread_mutex_lock(&ix->lock);
    while (ix->n > 0) {
        mfile_t *f = ix->files[ix->n - 1];
        int32_t count = h32(f, IH_COUNT);
        uint8_t *ents = f->base + IH_SIZE + (int64_t)ix->slots * 4;
        int removed = 0;
        while (count > 1) {
            uint8_t *e = ents + (int64_t)(count - 1) * IE_SIZE;
            if ((int64_t)be64_get(e + 4) < cut) break;
            uint8_t *slot = f->base + IH_SIZE + (int64_t)(be32_get(e) % (uint32_t)ix->slots) * 4;
            if ((int32_t)be32_get(slot) == count - 1) memcpy(slot, e + 16, 4);
            memset(e, 0, IE_SIZE);
            count--;
            removed++;
        }
        h32_set(f, IH_COUNT, count);
        if (count > 1) {
            uint8_t *e = ents + (int64_t)(count - 1) * IE_SIZE;
            h64_set(f, IH_END_PHYS, (int64_t)be64_get(e + 4));
            if (removed)
                log_info("index: removed %d entries at or past %lld", removed, (long long)cut);
            break;
        }
        /* emptied: drop it unless it is the only file */
        if (ix->n == 1) {
            h64_set(f, IH_END_PHYS, 0);
            h64_set(f, IH_BEGIN_PHYS, 0);
            break;
        }
        ix->n--;
        mfile_destroy(f);
    }
    pthread_mutex_unlock(&ix->lock);
}

int index_delete_expired(index_t *ix, int64_t cl_min) {
    int deleted = 0;
    pthread_mutex_lock(&ix->lock);
    while (ix->n > 1 && h64(ix->files[0], IH_END_PHYS) < cl_min) {
        mfile_t *f = ix->files[0];
        memmove(ix->files, ix->files + 1, sizeof(mfile_t *) * (size_t)(ix->n - 1));
        ix->n--;
        mfile_destroy(f);
        deleted++;
    }
    pthread_mutex_unlock(&ix->lock);
    return deleted;
}

int64_t index_flush(index_t *ix) {
    pthread_mutex_lock(&ix->lock);
    mfile_t *f = ix->n ? ix->files[ix->n - 1] : NULL;
    int64_t ts = f ? h64(f, IH_END_TS) : 0;
    if (f) mfile_ref(f);
    pthread_mutex_unlock(&ix->lock);
    if (f) {
        mfile_sync(f);
        mfile_unref(f);
    }
    return ts;
}

int64_t index_end_phys(index_t *ix) {
    pthread_mutex_lock(&ix->lock);
    int64_t v = ix->n ? h64(ix->files[ix->n - 1], IH_END_PHYS) : 0;
    pthread_mutex_unlock(&ix->lock);
    return v;
}
