/*
 * store_internal: what the store's .c files share (not for other modules).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_STORE_INTERNAL_H
#define PETREL_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/store.h"

/* ---- mapped files (mfile.c) ---------------------------------------------------- */

/*
 * One fixed-size file, mapped read-write. refs: 1 held by its queue, +1 per
 * reader pin. Deleting unlinks at once (Linux keeps the mapping valid) and
 * unmaps when the last reference goes.
 */
typedef struct mfile_s {
    char *path;
    int fd;
    uint8_t *base;
    int64_t size;
    int64_t from;          /* offset of byte 0 in the queue's space */
    _Atomic int64_t wrote; /* bytes written (position) */
    _Atomic int64_t flushed;
    _Atomic int refs;
} mfile_t;

typedef int (*mfile_alloc_fn)(int fd, int64_t len, void *arg);

/* Creates a new file of size bytes (fallocate'd) and maps it. NULL with *err = errno. */
mfile_t *mfile_create(const char *path, int64_t from, int64_t size, mfile_alloc_fn fn, void *fn_arg,
                      int *err);
/* Maps an existing file (its size must be `size`). positions = size. */
mfile_t *mfile_open(const char *path, int64_t from, int64_t size, int *err);
static inline void mfile_ref(mfile_t *f) {
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}
void mfile_unref(mfile_t *f);
/* Unlinks the file and drops the queue's reference. */
void mfile_destroy(mfile_t *f);
/* fdatasync; returns 0 or -errno. */
int mfile_sync(mfile_t *f);
/* Durably writes the bytes [from, to) of the file (msync MS_SYNC). 0 or -errno. */
int mfile_sync_range(mfile_t *f, int64_t from, int64_t to);
/*
 * Faults [from, to) in ahead of the writer, writable (MADV_POPULATE_WRITE) or
 * read-only (MADV_POPULATE_READ); no data change: page allocation, zeroing and
 * the fault happen here, not in a put. Writable, measured against
 * read-populating (readahead): 1 KiB pipelined sends 184-213k -> 324-331k
 * msgs/s; the cost is dearer write-back of mapped pages (batch puts via pwrite
 * lose some, p99 at full load doubles). SYNC_FLUSH's zero fill has already
 * allocated the pages and maps them read-only.
 */
void mfile_prefault(mfile_t *f, int64_t from, int64_t to, int writable);
/* Zeroes [pos, size) so stale bytes never look like data after a truncation. */
void mfile_zero_from(mfile_t *f, int64_t pos);

/* An ordered, contiguous list of mapped files (Java MappedFileQueue). */
typedef struct mfq_s {
    char *dir;
    int64_t file_size;
    pthread_mutex_t lock; /* guards files/n (not the file contents) */
    mfile_t **files;
    int n, cap;
    mfile_t *_Atomic last; /* files[n-1]: read without the lock by the single writer */
} mfq_t;

void mfq_init(mfq_t *q, const char *dir, int64_t file_size);
void mfq_free(mfq_t *q); /* drops every file's queue reference (does not delete) */
/* Loads the files in dir (names = 20-digit offsets). -1 with err on a size mismatch. */
int mfq_load(mfq_t *q, char *err, size_t errlen);
/* The file containing offset, pinned (mfile_unref when done), or NULL. */
mfile_t *mfq_find_pin(mfq_t *q, int64_t offset);
/* Last file, lock-free (unpinned: for the writer; the last file is never deleted). */
mfile_t *mfq_last(mfq_t *q);
/* Creates and appends the file starting at from. NULL with *err. */
mfile_t *mfq_add(mfq_t *q, int64_t from, mfile_alloc_fn fn, void *fn_arg, int *err);
/* Deletes the files starting after offset; sets positions of the one containing it. */
void mfq_truncate(mfq_t *q, int64_t offset);
int64_t mfq_min_offset(mfq_t *q); /* from of the first file, -1 when empty */
/* Removes the first file if it is not the last. Returns it (caller destroys) or NULL. */
mfile_t *mfq_pop_head(mfq_t *q);
/* Deletes every file and the directory. */
void mfq_destroy_all(mfq_t *q);
void store_offset_name(char out[21], int64_t off);

/* ---- consume queues (consumequeue.c) ----------------------------------------- */

#define CQ_UNIT 20

typedef struct cq_s {
    char *topic;
    uint32_t topic_len;
    int32_t qid;
    uint64_t hash;
    mfq_t files;
    _Atomic int64_t max_offset; /* entries = next queue offset (published after the write) */
    _Atomic int64_t min_offset;
    int64_t max_phys;      /* phys + size of the last entry (writer side) */
    int64_t flushed_bytes; /* service thread */
} cq_t;

cq_t *cq_new(const char *root, const char *topic, uint32_t topic_len, int32_t qid,
             int64_t file_size);
void cq_free(cq_t *cq);
/* Loads and recovers (§5.2). */
int cq_load(cq_t *cq, char *err, size_t errlen);
/*
 * Writes the entry for queue offset q (writer thread / recovery only). Idempotent:
 * q < max is ignored; q > max fills the gap with dummy entries. 0 or -errno.
 */
int cq_put(cq_t *cq, int64_t q, int64_t phys, int32_t size, int64_t tags, mfile_alloc_fn fn,
           void *fn_arg);
/* Makes sure the entry for q has a file (so cq_put cannot fail after the record is written). */
int cq_prepare(cq_t *cq, int64_t q, mfile_alloc_fn fn, void *fn_arg);
/* Reads entry q (q in [min, max)). 0 or -1. */
int cq_read(cq_t *cq, int64_t q, int64_t *phys, int32_t *size, int64_t *tags);
/* Removes entries pointing at phys >= cut (§5.4). */
void cq_truncate_phys(cq_t *cq, int64_t cut);
/* min offset = first entry with phys >= cl_min (§8.3 correctMinOffset). */
void cq_correct_min(cq_t *cq, int64_t cl_min);
/* Deletes leading files whose last entry < cl_min (never the last). Returns files deleted. */
int cq_delete_expired(cq_t *cq, int64_t cl_min);
/* Flushes the unflushed entries when there are at least least_bytes of them (0: any). */
void cq_flush(cq_t *cq, int least_bytes);

/* ---- index (indexfile.c) ------------------------------------------------------ */

typedef struct index_s index_t;
index_t *index_open(const char *dir, int slots, int num, mfile_alloc_fn fn, void *fn_arg, char *err,
                    size_t errlen);
void index_close(index_t *ix);
/* Indexes the keys of one dispatched record (lock held inside). */
void index_build(index_t *ix, const record_view_t *rv);
int index_query(index_t *ix, const char *topic, const char *key, int max_num, int64_t begin,
                int64_t end, int64_t *out, int64_t *last_ts, int64_t *last_phys);
/* Removes entries with phys >= cut (abnormal recovery). */
void index_truncate_phys(index_t *ix, int64_t cut);
/* Deletes files (never the last) whose end phys < cl_min. */
int index_delete_expired(index_t *ix, int64_t cl_min);
/* Flushes; returns the end timestamp of the newest file (for the checkpoint). */
int64_t index_flush(index_t *ix);
int64_t index_end_phys(index_t *ix);

/* ---- checkpoint (checkpoint.c) ------------------------------------------------ */

typedef struct checkpoint_s {
    int fd;
    int64_t physic_ts, logics_ts, index_ts;
} checkpoint_t;
int checkpoint_open(checkpoint_t *c, const char *path);
int checkpoint_write(checkpoint_t *c);
void checkpoint_close(checkpoint_t *c);

/* ---- helpers ------------------------------------------------------------------ */

int64_t store_coarse_ms(void);

#endif
