/*
 * mfile: fixed-size memory-mapped files and ordered lists of them (Java's
 * MappedFile / MappedFileQueue), shared by the commit log, the consume queues
 * and the index. A file is created at its full size with fallocate before it
 * is mapped, so writing into the mapping can never hit ENOSPC (SIGBUS); when
 * the allocation fails the file is removed and the caller refuses the write.
 * File names are the 20-digit decimal offset of the file's first byte.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store_internal.h"

int64_t store_coarse_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_offset_name(char out[21], int64_t off) {
    snprintf(out, 21, "%020lld", (long long)off);
}

static mfile_t *mfile_map(const char *path, int fd, int64_t from, int64_t size, int *err) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        *err = errno;
        log_error("mmap %s (%lld bytes): %s", path, (long long)size, strerror(errno));
        return NULL;
    }
    mfile_t *f = xcalloc(1, sizeof(*f));
    f->path = xstrdup(path);
    f->fd = fd;
    f->base = p;
    f->size = size;
    f->from = from;
    atomic_init(&f->refs, 1);
    return f;
}

mfile_t *mfile_create(const char *path, int64_t from, int64_t size, mfile_alloc_fn fn, void *fn_arg,
                      int *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err = errno;
        log_error("create %s: %s", path, strerror(errno));
        return NULL;
    }
    int rc = fn ? fn(fd, size, fn_arg) : posix_fallocate(fd, 0, size);
    if (rc != 0) {
        *err = rc;
        static _Atomic int64_t last_log; /* a full disk fails every put: log once a second */
        int64_t now = store_coarse_ms(), prev = atomic_load(&last_log);
        if (now - prev >= 1000 && atomic_compare_exchange_strong(&last_log, &prev, now))
            log_error("allocate %s (%lld bytes): %s", path, (long long)size, strerror(rc));
        close(fd);
        unlink(path);
        return NULL;
    }
    mfile_t *f = mfile_map(path, fd, from, size, err);
    if (!f) {
        close(fd);
        unlink(path);
    }
    return f;
}

mfile_t *mfile_open(const char *path, int64_t from, int64_t size, int *err) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    mfile_t *f = mfile_map(path, fd, from, size, err);
    if (!f) {
        close(fd);
        return NULL;
    }
    atomic_store(&f->wrote, size);
    atomic_store(&f->flushed, size);
    return f;
}

void mfile_unref(mfile_t *f) {
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
    munmap(f->base, (size_t)f->size);
    close(f->fd);
    free(f->path);
    free(f);
}

void mfile_destroy(mfile_t *f) {
    if (unlink(f->path) != 0) log_warn("unlink %s: %s", f->path, strerror(errno));
    mfile_unref(f);
}

int mfile_sync_range(mfile_t *f, int64_t from, int64_t to) {
    /* msync(MS_SYNC) of a range = fdatasync limited to it: pages prefaulted ahead stay dirty. */
    int64_t a = from & ~(int64_t)4095;
    if (to > f->size) to = f->size;
    if (to <= a) return 0;
    if (msync(f->base + a, (size_t)(to - a), MS_SYNC) != 0) {
        int e = errno;
        log_error("msync %s: %s", f->path, strerror(e));
        return -e;
    }
    return 0;
}

void mfile_prefault(mfile_t *f, int64_t from, int64_t to, int writable) {
    int64_t a = from & ~(int64_t)4095;
    if (to > f->size) to = f->size;
    /* 64 KiB per call: the mmap lock is not held across a long run of (in a VM slow)
     * first touches of fresh pages */
    for (int64_t x = a; x < to; x += 65536)
        (void)madvise(f->base + x, (size_t)(to - x < 65536 ? to - x : 65536),
                      writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
}

int mfile_sync(mfile_t *f) {
    if (fdatasync(f->fd) != 0) {
        int e = errno;
        log_error("fdatasync %s: %s", f->path, strerror(e));
        return -e;
    }
    return 0;
}

void mfile_zero_from(mfile_t *f, int64_t pos) {
    if (pos >= f->size) return;
    int64_t len = f->size - pos;
    if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE, pos, len) == 0) return;
    /* tmpfs and others: write zeros through the mapping (only on recovery paths). */
    memset(f->base + pos, 0, (size_t)len);
}

static void set_last(mfq_t *q) {
    atomic_store_explicit(&q->last, q->n ? q->files[q->n - 1] : NULL, memory_order_release);
}

void mfq_init(mfq_t *q, const char *dir, int64_t file_size) {
    memset(q, 0, sizeof(*q));
    q->dir = xstrdup(dir);
    q->file_size = file_size;
    pthread_mutex_init(&q->lock, NULL);
}

void mfq_free(mfq_t *q) {
    for (int i = 0; i < q->n; i++)
        mfile_unref(q->files[i]);
    free(q->files);
    atomic_store(&q->last, NULL);
    free(q->dir);
    pthread_mutex_destroy(&q->lock);
    q->files = NULL;
    q->n = q->cap = 0;
}

static int name_is_offset(const char *s) {
    if (strlen(s) != 20) return 0;
    for (int i = 0; i < 20; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mfq_load(mfq_t *q, char *err, size_t errlen) {
    DIR *d = opendir(q->dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : (snprintf(err, errlen, "opendir %s: %s", q->dir, strerror(errno)), -1);
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!name_is_offset(de->d_name)) continue;
        if (n == cap) names = xrealloc(names, sizeof(char *) * (size_t)(cap = cap ? cap * 2 : 16));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof(char *), cmp_str);
    int rc = 0;
    char path[4096];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", q->dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        int64_t from = strtoll(names[i], NULL, 10);
        if (st.st_size == 0 && i == n - 1) {
            log_warn("removing empty last file %s", path);
            unlink(path);
            continue;
        }
        if (i == n - 1 && st.st_size < q->file_size) {
            /* a last file cut short (crash while it was being created): the rest is zeros */
            log_warn("%s: size %lld < %lld, extending the last file", path, (long long)st.st_size,
                     (long long)q->file_size);
            if (truncate(path, q->file_size) == 0) st.st_size = q->file_size;
        }
        if (st.st_size != q->file_size) {
            snprintf(err, errlen, "%s: size %lld, expected %lld (file size changed in the config?)",
                     path, (long long)st.st_size, (long long)q->file_size);
            rc = -1;
            break;
        }
        if (q->n > 0 && q->files[q->n - 1]->from + q->file_size != from) {
            snprintf(err, errlen, "%s: not contiguous with the previous file", path);
            rc = -1;
            break;
        }
        int e = 0;
        mfile_t *f = mfile_open(path, from, q->file_size, &e);
        if (!f) {
            snprintf(err, errlen, "open %s: %s", path, strerror(e));
            rc = -1;
            break;
        }
        if (q->n == q->cap)
            q->files =
                xrealloc(q->files, sizeof(mfile_t *) * (size_t)(q->cap = q->cap ? q->cap * 2 : 16));
        q->files[q->n++] = f;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    set_last(q);
    return rc;
}

mfile_t *mfq_find_pin(mfq_t *q, int64_t offset) {
    mfile_t *f = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->n > 0 && offset >= q->files[0]->from) {
        int64_t i = (offset - q->files[0]->from) / q->file_size;
        if (i < q->n) {
            f = q->files[i];
            mfile_ref(f);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return f;
}

mfile_t *mfq_last(mfq_t *q) {
    return atomic_load_explicit(&q->last, memory_order_acquire);
}

mfile_t *mfq_add(mfq_t *q, int64_t from, mfile_alloc_fn fn, void *fn_arg, int *err) {
    char path[4096], name[21];
    store_offset_name(name, from);
    snprintf(path, sizeof(path), "%s/%s", q->dir, name);
    int rc = mkdir_p(q->dir, 0755);
    if (rc != 0) {
        *err = -rc;
        return NULL;
    }
    mfile_t *f = mfile_create(path, from, q->file_size, fn, fn_arg, err);
    if (!f) return NULL;
    pthread_mutex_lock(&q->lock);
    if (q->n == q->cap)
        q->files =
            xrealloc(q->files, sizeof(mfile_t *) * (size_t)(q->cap = q->cap ? q->cap * 2 : 16));
    q->files[q->n++] = f;
    set_last(q);
    pthread_mutex_unlock(&q->lock);
    return f;
}

void mfq_truncate(mfq_t *q, int64_t offset) {
    pthread_mutex_lock(&q->lock);
    int keep = q->n;
    for (int i = 0; i < q->n; i++) {
        mfile_t *f = q->files[i];
        if (f->from + f->size > offset) {
            if (offset >= f->from) {
                int64_t pos = offset - f->from;
                atomic_store(&f->wrote, pos);
                atomic_store(&f->flushed, pos);
                mfile_zero_from(f, pos);
                keep = i + 1;
            } else {
                keep = i;
            }
            break;
        }
    }
    int n = q->n;
    q->n = keep;
    set_last(q);
    pthread_mutex_unlock(&q->lock);
    for (int i = keep; i < n; i++) {
        log_info("recovery: deleting %s (beyond offset %lld)", q->files[i]->path,
                 (long long)offset);
        mfile_destroy(q->files[i]);
    }
}

int64_t mfq_min_offset(mfq_t *q) {
    pthread_mutex_lock(&q->lock);
    int64_t v = q->n ? q->files[0]->from : -1;
    pthread_mutex_unlock(&q->lock);
    return v;
}

mfile_t *mfq_pop_head(mfq_t *q) {
    mfile_t *f = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->n > 1) {
        f = q->files[0];
        memmove(q->files, q->files + 1, sizeof(mfile_t *) * (size_t)(q->n - 1));
        q->n--;
    }
    pthread_mutex_unlock(&q->lock);
    return f;
}

void mfq_destroy_all(mfq_t *q) {
    pthread_mutex_lock(&q->lock);
    int n = q->n;
    mfile_t **fs = q->files;
    q->files = NULL;
    q->n = q->cap = 0;
    set_last(q);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < n; i++)
        mfile_destroy(fs[i]);
    free(fs);
    rmdir(q->dir);
}
