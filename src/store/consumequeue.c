/*
 * consumequeue: one per (topic, queueId), derived from the commit log
 * (storage-and-semantics.md §3.5, §5.2, §5.4).
 *
 * Files: {root}/consumequeue/<topic>/<queueId>/<20-digit byte offset>, each
 * mappedFileSizeConsumeQueue bytes (300000 entries). Entry q lives at byte
 * q*20 of the queue's space:
 *   0 commitLogOffset int64 | 8 size int32 | 12 tagsCode int64
 * A zero entry (size 0) ends the queue. Dummy entries {0, INT32_MAX, 0} fill
 * the space before the first real entry when a queue starts at a non-zero
 * offset (rebuilt after the commit log head was deleted). Entries are written
 * by the put path right after the record (under the put lock) and by
 * recovery; readers see entries below max_offset, published with release.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store_internal.h"

#define CQ_DUMMY_SIZE INT32_MAX

cq_t *cq_new(const char *root, const char *topic, uint32_t topic_len, int32_t qid,
             int64_t file_size) {
    cq_t *cq = xcalloc(1, sizeof(*cq));
    cq->topic = xmalloc(topic_len + 1);
    memcpy(cq->topic, topic, topic_len);
    cq->topic[topic_len] = 0;
    cq->topic_len = topic_len;
    cq->qid = qid;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/consumequeue/%s/%d", root, cq->topic, qid);
    mfq_init(&cq->files, dir, file_size);
    return cq;
}

void cq_free(cq_t *cq) {
    if (!cq) return;
    mfq_free(&cq->files);
    free(cq->topic);
    free(cq);
}

/* Entry at queue offset q, from the file table (caller guarantees it exists). */
static uint8_t *entry_ptr(cq_t *cq, int64_t q) {
    mfq_t *fq = &cq->files;
    int64_t pos = q * CQ_UNIT;
    if (fq->n == 0 || pos < fq->files[0]->from) return NULL;
    int64_t i = (pos - fq->files[0]->from) / fq->file_size;
    if (i >= fq->n) return NULL;
    mfile_t *f = fq->files[i];
    return f->base + (pos - f->from);
}

static int entry_real(const uint8_t *e) {
    int32_t size = (int32_t)be32_get(e + 8);
    return size > 0 && size != CQ_DUMMY_SIZE && (int64_t)be64_get(e) >= 0;
}

int cq_load(cq_t *cq, char *err, size_t errlen) {
    if (mfq_load(&cq->files, err, errlen) != 0) return -1;
    mfq_t *fq = &cq->files;
    if (fq->n == 0) return 0;
    int start = fq->n >= 3 ? fq->n - 3 : 0;
    int64_t end = fq->files[start]->from;
    int64_t max_phys = 0;
    for (int i = start; i < fq->n; i++) {
        mfile_t *f = fq->files[i];
        int64_t pos = 0;
        for (; pos + CQ_UNIT <= f->size; pos += CQ_UNIT) {
            const uint8_t *e = f->base + pos;
            int64_t phys = (int64_t)be64_get(e);
            int32_t size = (int32_t)be32_get(e + 8);
            if (phys < 0 || size <= 0) break;
            if (size != CQ_DUMMY_SIZE) max_phys = phys + size;
        }
        end = f->from + pos;
        if (pos < f->size) break;
    }
    mfq_truncate(fq, end);
    cq->max_phys = max_phys;
    atomic_store(&cq->max_offset, end / CQ_UNIT);
    atomic_store(&cq->min_offset, fq->n ? fq->files[0]->from / CQ_UNIT : end / CQ_UNIT);
    cq->flushed_bytes = end;
    return 0;
}

static int ensure_file(cq_t *cq, int64_t q, mfile_alloc_fn fn, void *fn_arg) {
    mfq_t *fq = &cq->files;
    int64_t pos = q * CQ_UNIT;
    mfile_t *last = mfq_last(fq);
    if (!last) {
        int64_t from = pos / fq->file_size * fq->file_size;
        int e = 0;
        if (!mfq_add(fq, from, fn, fn_arg, &e)) return -e;
        return 0;
    }
    while (pos >= last->from + last->size) {
        int e = 0;
        last = mfq_add(fq, last->from + last->size, fn, fn_arg, &e);
        if (!last) return -e;
    }
    return 0;
}

int cq_prepare(cq_t *cq, int64_t q, mfile_alloc_fn fn, void *fn_arg) {
    return ensure_file(cq, q, fn, fn_arg);
}

static void write_entry(cq_t *cq, int64_t q, int64_t phys, int32_t size, int64_t tags) {
    /* The writer normally writes into the last file, which is never deleted: no lock. */
    mfile_t *last = mfq_last(&cq->files);
    int64_t pos = q * CQ_UNIT;
    uint8_t *e;
    if (last && pos >= last->from && pos + CQ_UNIT <= last->from + last->size) {
        e = last->base + (pos - last->from);
    } else {
        pthread_mutex_lock(&cq->files.lock);
        e = entry_ptr(cq, q);
        pthread_mutex_unlock(&cq->files.lock);
    }
    PETREL_ASSERT(e != NULL);
    be64_put(e, (uint64_t)phys);
    be32_put(e + 8, (uint32_t)size);
    be64_put(e + 12, (uint64_t)tags);
}

int cq_put(cq_t *cq, int64_t q, int64_t phys, int32_t size, int64_t tags, mfile_alloc_fn fn,
           void *fn_arg) {
    int64_t max = atomic_load_explicit(&cq->max_offset, memory_order_relaxed);
    if (q < max) return 0; /* already built (re-dispatch) */
    int rc;
    if (q > max) {
        if (max == 0 && cq->files.n == 0) {
            /* A queue rebuilt from the middle: dummies before q in its first file. */
            int64_t from = q * CQ_UNIT / cq->files.file_size * cq->files.file_size;
            if ((rc = ensure_file(cq, q, fn, fn_arg)) != 0) return rc;
            for (int64_t d = from / CQ_UNIT; d < q; d++)
                write_entry(cq, d, 0, CQ_DUMMY_SIZE, 0);
            atomic_store(&cq->min_offset, q);
        } else {
            log_warn("consume queue %s/%d: gap %lld..%lld filled with dummy entries", cq->topic,
                     cq->qid, (long long)max, (long long)q);
            for (int64_t d = max; d < q; d++) {
                if ((rc = ensure_file(cq, d, fn, fn_arg)) != 0) return rc;
                write_entry(cq, d, 0, CQ_DUMMY_SIZE, 0);
            }
        }
    }
    if ((rc = ensure_file(cq, q, fn, fn_arg)) != 0) return rc;
    write_entry(cq, q, phys, size, tags);
    cq->max_phys = phys + size;
    atomic_store_explicit(&cq->max_offset, q + 1, memory_order_release);
    return 0;
}

int cq_read(cq_t *cq, int64_t q, int64_t *phys, int32_t *size, int64_t *tags) {
    if (q < atomic_load(&cq->min_offset) ||
        q >= atomic_load_explicit(&cq->max_offset, memory_order_acquire))
        return -1;
    mfile_t *f = mfq_find_pin(&cq->files, q * CQ_UNIT);
    if (!f) return -1;
    const uint8_t *e = f->base + (q * CQ_UNIT - f->from);
    *phys = (int64_t)be64_get(e);
    *size = (int32_t)be32_get(e + 8);
    *tags = (int64_t)be64_get(e + 12);
    mfile_unref(f);
    return 0;
}

/* First q in [lo, hi) whose entry is real with phys >= cut (hi when none). Single-threaded use. */
static int64_t search_phys(cq_t *cq, int64_t lo, int64_t hi, int64_t cut) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const uint8_t *e = entry_ptr(cq, mid);
        if (e && entry_real(e) && (int64_t)be64_get(e) >= cut)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void cq_truncate_phys(cq_t *cq, int64_t cut) {
    mfq_t *fq = &cq->files;
    if (fq->n == 0) return;
    int64_t lo = fq->files[0]->from / CQ_UNIT;
    int64_t max = atomic_load(&cq->max_offset);
    if (max <= lo || cq->max_phys <= cut) return;
    int64_t q0 = search_phys(cq, lo, max, cut);
    if (q0 >= max) return;
    log_info("consume queue %s/%d: truncated %lld -> %lld (commit log cut at %lld)", cq->topic,
             cq->qid, (long long)max, (long long)q0, (long long)cut);
    mfq_truncate(fq, q0 * CQ_UNIT);
    atomic_store(&cq->max_offset, q0);
    if (atomic_load(&cq->min_offset) > q0) atomic_store(&cq->min_offset, q0);
    cq->max_phys = 0;
    if (q0 > lo) {
        const uint8_t *e = entry_ptr(cq, q0 - 1);
        if (e && entry_real(e)) cq->max_phys = (int64_t)be64_get(e) + (int32_t)be32_get(e + 8);
    }
    if (cq->flushed_bytes > q0 * CQ_UNIT) cq->flushed_bytes = q0 * CQ_UNIT;
}

void cq_correct_min(cq_t *cq, int64_t cl_min) {
    pthread_mutex_lock(&cq->files.lock);
    mfq_t *fq = &cq->files;
    if (fq->n > 0) {
        int64_t lo = fq->files[0]->from / CQ_UNIT;
        int64_t max = atomic_load_explicit(&cq->max_offset, memory_order_acquire);
        int64_t cur = atomic_load(&cq->min_offset);
        if (cur > lo) lo = cur;
        int64_t q = search_phys(cq, lo, max, cl_min);
        atomic_store(&cq->min_offset, q);
    }
    pthread_mutex_unlock(&cq->files.lock);
}

int cq_delete_expired(cq_t *cq, int64_t cl_min) {
    int deleted = 0;
    for (;;) {
        mfq_t *fq = &cq->files;
        pthread_mutex_lock(&fq->lock);
        int del = 0;
        if (fq->n > 1) {
            mfile_t *f = fq->files[0];
            const uint8_t *e = f->base + f->size - CQ_UNIT;
            del = (int64_t)be64_get(e) < cl_min || !entry_real(e);
        }
        pthread_mutex_unlock(&fq->lock);
        if (!del) break;
        mfile_t *f = mfq_pop_head(fq);
        if (!f) break;
        if (atomic_load(&cq->min_offset) < (f->from + f->size) / CQ_UNIT)
            atomic_store(&cq->min_offset, (f->from + f->size) / CQ_UNIT);
        mfile_destroy(f);
        deleted++;
    }
    cq_correct_min(cq, cl_min);
    return deleted;
}

void cq_flush(cq_t *cq, int least_bytes) {
    int64_t end = atomic_load_explicit(&cq->max_offset, memory_order_acquire) * CQ_UNIT;
    if (end - cq->flushed_bytes < least_bytes) return;
    while (cq->flushed_bytes < end) {
        mfile_t *f = mfq_find_pin(&cq->files, cq->flushed_bytes);
        if (!f) break;
        mfile_sync(f);
        int64_t fend = f->from + f->size;
        mfile_unref(f);
        cq->flushed_bytes = fend < end ? fend : end;
    }
}
