/*
 * store: the message store (see store.h). This file owns the commit log
 * (append, recovery, reads), the topic-queue table, the flush, dispatch and
 * service threads, and retention.
 *
 * Commit log files: {storePathCommitLog}/<20-digit start offset>, each
 * mappedFileSizeCommitLog bytes, holding RocketMQ stored-message records
 * (common/record.h) back to back. A record never spans two files: when the
 * next record (plus 8 bytes) does not fit, an 8-byte BLANK record
 * (TOTALSIZE = bytes left, MAGIC 0xcbd43194) ends the file and the record
 * goes to offset 0 of the next file. Bytes past the write position are zero
 * (fresh files; recovery zeroes whatever it cuts off), and TOTALSIZE is
 * stored last, so a torn record always fails validation.
 *
 * Other files: {root}/abort exists while the store is open (its presence at
 * start means a crash: abnormal recovery); {root}/lock holds an exclusive
 * flock for the store's lifetime.
 *
 * Visibility: under the put lock the record is copied into the mapping, the
 * readable end (cl_wrote) is published, then the consume-queue entry is
 * written and published, then cl_max (what dispatch follows). A reader can
 * therefore never reach a partial record.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgprops.h"
#include "common/util.h"
#include "store/store_internal.h"

/* ---- configuration ------------------------------------------------------------ */

const char *const store_flush_type_names[] = {"ASYNC_FLUSH", "SYNC_FLUSH", NULL};

#define F(field) CFG_FIELD(store_config_t, field)
const char *const store_write_mode_names[] = {"auto", "mmap", "pwrite", NULL};

const cfg_def_t store_cfg_defs[] = {
    {"storePathRootDir", CFG_STR, F(storePathRootDir), "", 0, -1, NULL, 0,
     "store root ($HOME/store when empty)"},
    {"storePathCommitLog", CFG_STR, F(storePathCommitLog), "", 0, -1, NULL, 0,
     "commit log dir ({root}/commitlog when empty)"},
    {"mappedFileSizeCommitLog", CFG_LONG, F(mappedFileSizeCommitLog), "1073741824", 4096, INT32_MAX,
     NULL, 0, "commit log segment size"},
    {"mappedFileSizeConsumeQueue", CFG_LONG, F(mappedFileSizeConsumeQueue), "6000000", 40,
     INT32_MAX, NULL, 0, "consume queue file size (multiple of 20)"},
    {"flushDiskType", CFG_ENUM, F(flushDiskType), "ASYNC_FLUSH", 0, -1, store_flush_type_names, 0,
     "ASYNC_FLUSH or SYNC_FLUSH"},
    {"flushIntervalCommitLog", CFG_INT, F(flushIntervalCommitLog), "500", 1, 60000, NULL, 1,
     "async flush interval (ms)"},
    {"flushCommitLogTimed", CFG_BOOL, F(flushCommitLogTimed), "true", 0, -1, NULL, 1,
     "async flush on a timer"},
    {"flushCommitLogLeastPages", CFG_INT, F(flushCommitLogLeastPages), "4", 0, 1 << 20, NULL, 1,
     "async flush when this many 4 KiB pages are dirty"},
    {"flushCommitLogThoroughInterval", CFG_INT, F(flushCommitLogThoroughInterval), "10000", 0,
     3600000, NULL, 1, "flush regardless of pages this often (ms)"},
    {"flushIntervalConsumeQueue", CFG_INT, F(flushIntervalConsumeQueue), "1000", 10, 60000, NULL, 1,
     "consume queue / index / checkpoint flush interval (ms)"},
    {"syncFlushTimeout", CFG_INT, F(syncFlushTimeout), "5000", 1, 600000, NULL, 1,
     "SYNC_FLUSH wait before FLUSH_DISK_TIMEOUT (ms)"},
    {"maxMessageSize", CFG_INT, F(maxMessageSize), "4194304", 1024, INT32_MAX, NULL, 1,
     "max body and record size"},
    {"fileReservedTime", CFG_INT, F(fileReservedTime), "72", 0, 100000, NULL, 1,
     "hours a commit log file is kept"},
    {"deleteWhen", CFG_STR, F(deleteWhen), "04", 0, -1, NULL, 1,
     "hours (;-separated) when expired files are deleted"},
    {"diskMaxUsedSpaceRatio", CFG_INT, F(diskMaxUsedSpaceRatio), "75", 10, 95, NULL, 1,
     "delete expired files at any hour above this usage (%)"},
    {"diskSpaceWarningLevelRatio", CFG_INT, F(diskSpaceWarningLevelRatio), "90", 10, 100, NULL, 1,
     "refuse writes above this usage (%)"},
    {"diskSpaceCleanForciblyRatio", CFG_INT, F(diskSpaceCleanForciblyRatio), "85", 10, 100, NULL, 1,
     "delete files regardless of age above this usage (%)"},
    {"cleanResourceInterval", CFG_INT, F(cleanResourceInterval), "10000", 10, 3600000, NULL, 1,
     "retention pass interval (ms)"},
    {"deleteCommitLogFilesInterval", CFG_INT, F(deleteCommitLogFilesInterval), "100", 0, 10000,
     NULL, 1, "pause between deletions (ms)"},
    {"deleteFileBatchMax", CFG_INT, F(deleteFileBatchMax), "10", 1, 1000, NULL, 1,
     "files deleted per pass at most"},
    {"messageIndexEnable", CFG_BOOL, F(messageIndexEnable), "true", 0, -1, NULL, 0,
     "build the key index"},
    {"maxHashSlotNum", CFG_INT, F(maxHashSlotNum), "5000000", 1, INT32_MAX, NULL, 0,
     "index slots per file"},
    {"maxIndexNum", CFG_INT, F(maxIndexNum), "20000000", 2, INT32_MAX / 20, NULL, 0,
     "index entries per file"},
    {"checkCRCOnRecover", CFG_BOOL, F(checkCRCOnRecover), "true", 0, -1, NULL, 0,
     "verify body CRCs during recovery"},
    {"osPageCacheBusyTimeOutMills", CFG_INT, F(osPageCacheBusyTimeOutMills), "1000", 10, 600000,
     NULL, 1, "put lock held longer = OS_PAGECACHE_BUSY"},
    {"maxTransferBytesOnMessageInMemory", CFG_INT, F(maxTransferBytesOnMessageInMemory), "262144",
     1, INT32_MAX, NULL, 1, "pull bytes limit, data in memory"},
    {"maxTransferCountOnMessageInMemory", CFG_INT, F(maxTransferCountOnMessageInMemory), "32", 1,
     65536, NULL, 1, "pull count limit, data in memory"},
    {"maxTransferBytesOnMessageInDisk", CFG_INT, F(maxTransferBytesOnMessageInDisk), "65536", 1,
     INT32_MAX, NULL, 1, "pull bytes limit, data on disk"},
    {"maxTransferCountOnMessageInDisk", CFG_INT, F(maxTransferCountOnMessageInDisk), "8", 1, 65536,
     NULL, 1, "pull count limit, data on disk"},
    {"accessMessageInMemoryMaxRatio", CFG_INT, F(accessMessageInMemoryMaxRatio), "40", 0, 100, NULL,
     1, "share of RAM considered in memory (%)"},
    {"commitLogWriteMode", CFG_ENUM, F(commitLogWriteMode), "auto", 1, 0, store_write_mode_names, 0,
     "auto (batches by pwrite, single messages through the mapping), mmap or pwrite"},
    {"commitLogCacheWindowMB", CFG_INT, F(commitLogCacheWindowMB), "0", 0, 1 << 30, NULL, 0,
     "drop the commit log's page cache this far behind the writer (0 = never)"},
    {NULL},
};
#undef F

void store_config_init(store_config_t *c) {
    memset(c, 0, sizeof(*c));
    cfg_defaults(store_cfg_defs, c);
    c->start_clean_thread = 1;
}

void store_config_free(store_config_t *c) {
    cfg_free(store_cfg_defs, c);
}

/* ---- the store ---------------------------------------------------------------- */

typedef struct waiter_s {
    int64_t upto;
    int64_t deadline;
    store_flush_cb cb;
    void *arg;
} waiter_t;

typedef struct wvec_s {
    waiter_t *v;
    size_t n, cap;
} wvec_t;

static void wvec_push(wvec_t *w, waiter_t x) {
    if (w->n == w->cap)
        w->v = xrealloc(w->v, sizeof(waiter_t) * (w->cap = w->cap ? w->cap * 2 : 64));
    w->v[w->n++] = x;
}

struct store_s {
    store_config_t cfg;
    char *root, *cl_dir;
    int lock_fd;
    int abnormal;

    mfq_t cl;
    _Atomic int64_t cl_wrote; /* readable end of the commit log */
    _Atomic int64_t cl_max;   /* end of records whose consume-queue entries are written */
    _Atomic int64_t cl_flushed;
    _Atomic int64_t last_store_ts;
    int64_t ts_last; /* put lock */

    pthread_mutex_t put_lock;
    _Atomic int64_t put_since; /* coarse ms when the holder took the put lock, 0 = free */
    size_t cl_pwrite_min;      /* puts of at least this many bytes are pwrite()n from wbuf */
    int cl_zero_fill;          /* the warm thread writes zeros ahead (SYNC_FLUSH) */
    uint8_t *wbuf;             /* put lock */
    size_t wbuf_cap;

    pthread_rwlock_t qt_lock; /* readers: lookups; writers: insert/delete (also hold put_lock) */
    cq_t **qt;
    size_t qt_cap, qt_n;
    cq_t **grave; /* deleted queues, freed at close */
    size_t grave_n;

    index_t *index;
    checkpoint_t ckpt;
    pthread_mutex_t ckpt_lock;

    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv, ack_cv;
    wvec_t wq, wr;       /* pending waiters (fl_mu); the ack thread's batch */
    int64_t wq_max_upto; /* fl_mu */
    int fl_stop, fl_done, ack_pending, ack_done;
    pthread_t fl_thread, ack_thread;

    pthread_mutex_t ds_mu;
    pthread_cond_t ds_cv;
    _Atomic int ds_idle;
    _Atomic int ds_kick; /* a deferring thread put records: wake at its store_kick */
    int ds_stop, ds_pause, ds_paused, ds_exited; /* ds_mu */
    _Atomic int64_t reput;
    pthread_t ds_thread;
    void (*_Atomic arrival_fn)(void *, const store_arrival_t *);
    void *_Atomic arrival_arg;

    pthread_mutex_t sv_mu;
    pthread_cond_t sv_cv;
    int sv_stop;
    pthread_t sv_thread;
    pthread_mutex_t clean_mu;

    pthread_t wm_thread;
    _Atomic int wm_stop;
    int threads_started;
    _Atomic int shut;
    _Atomic int raw_mode; /* a slave: the commit log is fed by store_append_raw */
    _Atomic int promoted; /* store_set_slave(0): append_raw refused (a late frame from a master) */
    _Atomic int disk_full;
    _Atomic int disk_usage;
    _Atomic int io_error;
    int64_t ram_in_memory; /* bytes of commit log distance considered "in memory" */
    int64_t cl_window;     /* commitLogCacheWindowMB in bytes, 0 = off */
    int64_t cl_dropped;    /* warm thread: page cache dropped below this offset */

    /* stats (put_* under put_lock) */
    uint64_t put_msgs, put_bytes;
    uint64_t put_pwrite_bytes; /* of put_bytes, written with pwrite */
    uint64_t wm_seen_bytes, wm_seen_pwrite; /* put_lock; the warm thread's last look */
    int wm_writable;                        /* its last choice (mostly_mapped) */
    _Atomic uint64_t put_failures, get_calls, get_msgs, get_bytes, flushes, flush_waiters,
        flush_timeouts, seg_created, seg_deleted;
    _Atomic int64_t put_max_hold_ms;
};

static int alloc_hook(int fd, int64_t len, void *arg) {
    store_t *s = arg;
    if (s->cfg.fallocate_fn) return s->cfg.fallocate_fn(fd, len, s->cfg.fallocate_arg);
    int rc = posix_fallocate(fd, 0, len);
    return rc;
}

/* ---- topic-queue table ------------------------------------------------------------ */

static uint64_t qhash(const char *t, size_t n, int32_t qid) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)t[i]) * 1099511628211ULL;
    h ^= (uint64_t)(uint32_t)qid * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    return h;
}

static cq_t *qt_find(store_t *s, const char *t, size_t n, int32_t qid, uint64_t h) {
    if (!s->qt_cap) return NULL;
    size_t mask = s->qt_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        cq_t *c = s->qt[i];
        if (!c) return NULL;
        if (c->hash == h && c->qid == qid && c->topic_len == n && memcmp(c->topic, t, n) == 0)
            return c;
    }
}

static void qt_insert_raw(cq_t **tab, size_t cap, cq_t *cq) {
    size_t mask = cap - 1;
    size_t i = cq->hash & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = cq;
}

/* Caller holds the qt write lock. */
static void qt_insert(store_t *s, cq_t *cq) {
    if ((s->qt_n + 1) * 2 > s->qt_cap) {
        size_t cap = s->qt_cap ? s->qt_cap * 2 : 64;
        cq_t **tab = xcalloc(cap, sizeof(cq_t *));
        for (size_t i = 0; i < s->qt_cap; i++)
            if (s->qt[i]) qt_insert_raw(tab, cap, s->qt[i]);
        free(s->qt);
        s->qt = tab;
        s->qt_cap = cap;
    }
    qt_insert_raw(s->qt, s->qt_cap, cq);
    s->qt_n++;
}

static cq_t *cq_lookup_rd(store_t *s, const char *topic, int32_t qid) {
    size_t n = strlen(topic);
    return qt_find(s, topic, n, qid, qhash(topic, n, qid));
}

/* Put path / recovery (put lock held or single-threaded). */
static cq_t *cq_get_or_create(store_t *s, const char *t, size_t n, int32_t qid) {
    uint64_t h = qhash(t, n, qid);
    cq_t *cq = qt_find(s, t, n, qid, h);
    if (cq) return cq;
    cq = cq_new(s->root, t, (uint32_t)n, qid, s->cfg.mappedFileSizeConsumeQueue);
    cq->hash = h;
    pthread_rwlock_wrlock(&s->qt_lock);
    qt_insert(s, cq);
    pthread_rwlock_unlock(&s->qt_lock);
    return cq;
}

/* ---- names ---------------------------------------------------------------------------- */

const char *store_put_status_name(int st) {
    switch (st) {
    case STORE_PUT_OK:
        return "PUT_OK";
    case STORE_FLUSH_DISK_TIMEOUT:
        return "FLUSH_DISK_TIMEOUT";
    case STORE_MESSAGE_ILLEGAL:
        return "MESSAGE_ILLEGAL";
    case STORE_SERVICE_NOT_AVAILABLE:
        return "SERVICE_NOT_AVAILABLE";
    case STORE_OS_PAGECACHE_BUSY:
        return "OS_PAGECACHE_BUSY";
    case STORE_CREATE_MAPPED_FILE_FAILED:
        return "CREATE_MAPPED_FILE_FAILED";
    default:
        return "UNKNOWN_ERROR";
    }
}

const char *store_get_status_name(int st) {
    static const char *const names[] = {"FOUND",
                                        "NO_MATCHED_MESSAGE",
                                        "MESSAGE_WAS_REMOVING",
                                        "OFFSET_FOUND_NULL",
                                        "OFFSET_OVERFLOW_BADLY",
                                        "OFFSET_OVERFLOW_ONE",
                                        "OFFSET_TOO_SMALL",
                                        "NO_MATCHED_LOGIC_QUEUE",
                                        "NO_MESSAGE_IN_QUEUE"};
    return st >= 0 && st <= STORE_GET_NO_MESSAGE_IN_QUEUE ? names[st] : "UNKNOWN";
}

/* ---- append -------------------------------------------------------------------------- */

/*
 * Wakes the dispatcher only when it is parked: under load it never parks and
 * puts pay one atomic load; when idle the wake-up saves the up-to-1 ms poll
 * (Java's ReputMessageService) from every message's end-to-end latency. The
 * seq_cst fence pairs with the dispatcher's (store ds_idle, load cl_max); a
 * wake-up missed anyway is caught by its 1 ms timeout.
 */
static void wake_dispatch(store_t *s) {
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&s->ds_idle, memory_order_relaxed)) return;
    pthread_mutex_lock(&s->ds_mu);
    pthread_cond_signal(&s->ds_cv);
    pthread_mutex_unlock(&s->ds_mu);
}

/*
 * An event loop that puts many records per iteration defers the wake-up to the
 * iteration's end (store_kick): one wake-up per read batch instead of one per
 * put, and the woken dispatcher no longer preempts the loop before its replies
 * are written.
 */
static _Thread_local int t_defer_wake, t_woken;

void store_defer_wakeups(void) { t_defer_wake = 1; }

void store_kick(store_t *s) {
    t_woken = 0;
    if (atomic_load_explicit(&s->ds_kick, memory_order_relaxed) &&
        atomic_exchange_explicit(&s->ds_kick, 0, memory_order_relaxed))
        wake_dispatch(s);
}

/* the iteration's first put still wakes at once: a lone message's end-to-end latency does not
 * wait for its reply to be written */
static void put_done_wake(store_t *s) {
    if (!t_defer_wake || !t_woken) {
        t_woken = t_defer_wake;
        wake_dispatch(s);
    } else {
        atomic_store_explicit(&s->ds_kick, 1, memory_order_relaxed);
    }
}

/* pwrite of all len bytes at off; 0 or -errno (logged). A failed put publishes nothing and the
 * next one writes at the same position. */
static int pwrite_all(int fd, const uint8_t *p, size_t len, int64_t off) {
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            log_error("commit log pwrite at %lld: %s", (long long)off, strerror(e));
            return -e;
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

static int put_fail(store_t *s, store_put_result_t *res, size_t n, int st, const char *reason) {
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].status = st;
        res[i].reason = reason;
    }
    atomic_fetch_add_explicit(&s->put_failures, n, memory_order_relaxed);
    return st;
}

static int put_many(store_t *s, const store_msg_t *m, size_t n, store_put_result_t *res) {
    if (n == 0) return STORE_PUT_OK;
    int64_t seg_size = s->cfg.mappedFileSizeCommitLog;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const store_msg_t *x = &m[i];
        if (x->topic_len == 0 || x->topic_len > RECORD_MAX_TOPIC_V1)
            return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL, "topic length must be 1..127 bytes");
        if (x->props_len > RECORD_MAX_PROPS)
            return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL, "properties longer than 32767 bytes");
        if (x->body_len > (uint32_t)s->cfg.maxMessageSize)
            return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL,
                            "message body larger than maxMessageSize");
        uint32_t sz = record_size(x->body_len, x->topic_len, x->props_len);
        if (sz > (uint32_t)s->cfg.maxMessageSize)
            return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL,
                            "message record larger than maxMessageSize");
        if (i > 0 && (x->queue_id != m[0].queue_id || x->topic_len != m[0].topic_len ||
                      memcmp(x->topic, m[0].topic, x->topic_len) != 0))
            return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL,
                            "a batch must have one topic and queue");
        total += sz;
        res[i].wrote_bytes = (int32_t)sz;
        /* the CRC is computed outside the lock; parked in the result until used */
        res[i].store_ts = record_body_crc(x->body, x->body_len);
    }
    if ((int64_t)total + RECORD_BLANK_LEN > seg_size)
        return put_fail(s, res, n, STORE_MESSAGE_ILLEGAL, "batch larger than a commit log file");
    if (atomic_load_explicit(&s->shut, memory_order_relaxed))
        return put_fail(s, res, n, STORE_SERVICE_NOT_AVAILABLE, "message store has been shut down");
    if (atomic_load_explicit(&s->disk_full, memory_order_relaxed))
        return put_fail(s, res, n, STORE_SERVICE_NOT_AVAILABLE, "the broker's disk is full");
    if (atomic_load_explicit(&s->raw_mode, memory_order_relaxed))
        return put_fail(s, res, n, STORE_SERVICE_NOT_AVAILABLE,
                        "messages are put to the slave (replicated store)");
    if (atomic_load_explicit(&s->io_error, memory_order_relaxed))
        return put_fail(s, res, n, STORE_SERVICE_NOT_AVAILABLE,
                        "message store is not writeable (I/O error)");
    int64_t since = atomic_load_explicit(&s->put_since, memory_order_relaxed);
    if (since && store_coarse_ms() - since > s->cfg.osPageCacheBusyTimeOutMills)
        return put_fail(s, res, n, STORE_OS_PAGECACHE_BUSY,
                        "[PC_SYNCHRONIZED]broker busy, start flow control for a while");

    pthread_mutex_lock(&s->put_lock);
    int64_t t0 = store_coarse_ms();
    atomic_store_explicit(&s->put_since, t0 ? t0 : 1, memory_order_relaxed);
    int st = STORE_PUT_OK;
    const char *reason = NULL;
    int dispatched = record_tx_dispatched(m[0].sys_flag);
    cq_t *cq = NULL;
    int64_t q0 = 0;
    if (dispatched) {
        cq = cq_get_or_create(s, m[0].topic, m[0].topic_len, m[0].queue_id);
        q0 = atomic_load_explicit(&cq->max_offset, memory_order_relaxed);
        if (cq_prepare(cq, q0, alloc_hook, s) != 0 ||
            cq_prepare(cq, q0 + (int64_t)n - 1, alloc_hook, s) != 0) {
            st = STORE_CREATE_MAPPED_FILE_FAILED;
            reason = "create consume queue file failed (disk full?)";
            goto out;
        }
    }
    int64_t wpos = atomic_load_explicit(&s->cl_wrote, memory_order_relaxed);
    mfile_t *seg = mfq_last(&s->cl);
    if (!seg || wpos >= seg->from + seg->size) {
        int64_t from = seg ? seg->from + seg->size : wpos / seg_size * seg_size;
        int e = 0;
        seg = mfq_add(&s->cl, from, alloc_hook, s, &e);
        if (!seg) {
            st = STORE_CREATE_MAPPED_FILE_FAILED;
            reason = "create mapped file failed, server is busy or broken (disk full?)";
            goto out;
        }
        atomic_fetch_add_explicit(&s->seg_created, 1, memory_order_relaxed);
        wpos = from;
        atomic_store_explicit(&s->cl_wrote, wpos, memory_order_release);
        atomic_store_explicit(&s->cl_max, wpos, memory_order_release);
    }
    int64_t pos = wpos - seg->from;
    if (pos + (int64_t)total + RECORD_BLANK_LEN > seg->size) {
        /* Create the next file first: if that fails nothing has been written. */
        int e = 0;
        mfile_t *next = mfq_add(&s->cl, seg->from + seg->size, alloc_hook, s, &e);
        if (!next) {
            st = STORE_CREATE_MAPPED_FILE_FAILED;
            reason = "create mapped file failed, server is busy or broken (disk full?)";
            goto out;
        }
        atomic_fetch_add_explicit(&s->seg_created, 1, memory_order_relaxed);
        /* through the mapping even in pwrite mode: it cannot fail half way */
        record_encode_blank(seg->base + pos, (uint32_t)(seg->size - pos));
        atomic_store(&seg->wrote, seg->size);
        seg = next;
        pos = 0;
        wpos = seg->from;
        atomic_store_explicit(&s->cl_wrote, wpos, memory_order_release);
        atomic_store_explicit(&s->cl_max, wpos, memory_order_release);
    }
    int64_t ts = now_ms();
    if (ts < s->ts_last) ts = s->ts_last;
    s->ts_last = ts;
    record_fields_t f;
    f.store_ts = ts;
    uint8_t *dst = seg->base + pos; /* where record i is encoded */
    size_t dst_cap = (size_t)(seg->size - pos);
    int via_pwrite = total >= s->cl_pwrite_min;
    if (via_pwrite) {
        if (s->wbuf_cap < total) {
            free(s->wbuf);
            s->wbuf_cap = total < 65536 ? 65536 : total;
            s->wbuf = xmalloc(s->wbuf_cap);
        }
        dst = s->wbuf;
        dst_cap = total;
    }
    int64_t pos0 = pos;
    for (size_t i = 0; i < n; i++) {
        const store_msg_t *x = &m[i];
        f.queue_id = x->queue_id;
        f.flag = x->flag;
        f.queue_offset = dispatched ? q0 + (int64_t)i : 0;
        f.phys_offset = seg->from + pos;
        f.sys_flag = x->sys_flag;
        f.born_ts = x->born_ts;
        f.born_ip = x->born_ip;
        f.born_port = x->born_port;
        f.store_ip = x->store_ip;
        f.store_port = x->store_port;
        f.reconsume_times = x->reconsume_times;
        f.prepared_tx_offset = x->prepared_tx_offset;
        f.body = x->body;
        f.body_len = x->body_len;
        f.body_crc = (uint32_t)res[i].store_ts;
        f.topic = x->topic;
        f.topic_len = x->topic_len;
        f.props = x->props;
        f.props_len = x->props_len;
        uint32_t sz = record_encode(&f, dst, dst_cap);
        PETREL_ASSERT(sz == (uint32_t)res[i].wrote_bytes);
        dst += sz;
        dst_cap -= sz;
        res[i].status = STORE_PUT_OK;
        res[i].reason = NULL;
        res[i].phys_offset = f.phys_offset;
        res[i].queue_offset = f.queue_offset;
        res[i].store_ts = ts;
        pos += sz;
    }
    if (via_pwrite && pwrite_all(seg->fd, s->wbuf, total, pos0) != 0) {
        st = STORE_SERVICE_NOT_AVAILABLE; /* nothing published: readers never see the records */
        reason = "message store is not writeable (I/O error)";
        goto out;
    }
    atomic_store(&seg->wrote, pos);
    atomic_store_explicit(&s->cl_wrote, seg->from + pos, memory_order_release);
    if (dispatched) {
        for (size_t i = 0; i < n; i++) {
            int rc = cq_put(cq, q0 + (int64_t)i, res[i].phys_offset, res[i].wrote_bytes,
                            m[i].tags_code, alloc_hook, s);
            PETREL_ASSERT(rc == 0); /* the files were prepared above */
        }
    }
    atomic_store_explicit(&s->cl_max, seg->from + pos, memory_order_release);
    atomic_store_explicit(&s->last_store_ts, ts, memory_order_release);
    s->put_msgs += n;
    s->put_bytes += total;
    if (via_pwrite) s->put_pwrite_bytes += total;
out:;
    int64_t held = store_coarse_ms() - t0;
    atomic_store_explicit(&s->put_since, 0, memory_order_relaxed);
    pthread_mutex_unlock(&s->put_lock);
    if (held > atomic_load_explicit(&s->put_max_hold_ms, memory_order_relaxed))
        atomic_store_explicit(&s->put_max_hold_ms, held, memory_order_relaxed);
    if (st != STORE_PUT_OK) return put_fail(s, res, n, st, reason);
    put_done_wake(s);
    for (size_t i = 0; i < n; i++)
        record_msgid_encode(m[i].store_ip, m[i].store_port, res[i].phys_offset, res[i].msg_id);
    return STORE_PUT_OK;
}

int store_put(store_t *s, const store_msg_t *m, store_put_result_t *res) {
    return put_many(s, m, 1, res);
}

int store_put_batch(store_t *s, const store_msg_t *m, size_t n, store_put_result_t *res) {
    return put_many(s, m, n, res);
}

/* ---- flush ------------------------------------------------------------------------- */

static int flush_range(store_t *s, int64_t from, int64_t to) {
    while (from < to) {
        mfile_t *f = mfq_find_pin(&s->cl, from);
        if (!f) {
            int64_t min = mfq_min_offset(&s->cl);
            if (min > from) { /* deleted meanwhile */
                from = min;
                continue;
            }
            return -EIO;
        }
        int64_t end = f->from + f->size;
        int rc = mfile_sync_range(f, from - f->from, (to < end ? to : end) - f->from);
        mfile_unref(f);
        if (rc != 0) return rc;
        from = end;
    }
    return 0;
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

/*
 * Flush thread. SYNC: whenever data is unflushed, make it durable at once
 * (writers arriving during an msync are covered by the next one: group
 * commit). ASYNC: every flushIntervalCommitLog, or at once when a waiter asks.
 * Acknowledging waiters is left to the ack thread, so waking many writers
 * overlaps with the next msync instead of delaying it.
 */
static void *flush_main(void *arg) {
    thread_name("store-flush");
    store_t *s = arg;
    int sync = s->cfg.flushDiskType == STORE_SYNC_FLUSH;
    int64_t last_thorough = mono_ms(), next_due = mono_ms() + s->cfg.flushIntervalCommitLog;
    for (;;) {
        pthread_mutex_lock(&s->fl_mu);
        for (;;) {
            int64_t flushed = atomic_load(&s->cl_flushed);
            if (s->fl_stop) break;
            if (sync && atomic_load_explicit(&s->cl_wrote, memory_order_acquire) > flushed) break;
            if (!sync && (s->wq_max_upto > flushed || mono_ms() >= next_due)) break;
            struct timespec ts;
            int wait = sync ? 10 : (int)(next_due - mono_ms());
            deadline_in(&ts, wait > 0 ? wait : 1);
            pthread_cond_timedwait(&s->fl_cv, &s->fl_mu, &ts);
        }
        int stop = s->fl_stop;
        int waiters = s->wq_max_upto > atomic_load(&s->cl_flushed);
        pthread_mutex_unlock(&s->fl_mu);

        int64_t target = atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
        int64_t ts = atomic_load_explicit(&s->last_store_ts, memory_order_acquire);
        int64_t flushed = atomic_load(&s->cl_flushed);
        int64_t now = mono_ms();
        int thorough = now - last_thorough >= s->cfg.flushCommitLogThoroughInterval;
        int pages = (int)(target / 4096 - flushed / 4096);
        if (!sync) next_due = now + s->cfg.flushIntervalCommitLog;
        if (target > flushed &&
            (sync || stop || waiters || thorough || pages >= s->cfg.flushCommitLogLeastPages)) {
            if (flush_range(s, flushed, target) == 0) {
                atomic_store_explicit(&s->cl_flushed, target, memory_order_release);
                pthread_mutex_lock(&s->ckpt_lock);
                s->ckpt.physic_ts = ts;
                pthread_mutex_unlock(&s->ckpt_lock);
                atomic_fetch_add_explicit(&s->flushes, 1, memory_order_relaxed);
            } else {
                usleep(10000); /* I/O error: waiters time out; do not spin */
            }
            if (thorough) last_thorough = now;
        }
        pthread_mutex_lock(&s->fl_mu);
        s->ack_pending = 1;
        if (stop) s->fl_done = 1;
        pthread_cond_signal(&s->ack_cv);
        pthread_mutex_unlock(&s->fl_mu);
        if (stop) break;
    }
    return NULL;
}

/* Ack thread: completes flush waiters (callbacks run here). */
static void *ack_main(void *arg) {
    thread_name("store-ack");
    store_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->fl_mu);
        if (!s->ack_pending && !s->fl_done) {
            struct timespec ts;
            deadline_in(&ts, 10);
            pthread_cond_timedwait(&s->ack_cv, &s->fl_mu, &ts);
        }
        s->ack_pending = 0;
        int done = s->fl_done;
        wvec_t tmp = s->wr;
        s->wr = s->wq;
        s->wq = tmp;
        s->wq.n = 0;
        s->wq_max_upto = 0;
        pthread_mutex_unlock(&s->fl_mu);

        int64_t flushed = atomic_load_explicit(&s->cl_flushed, memory_order_acquire);
        int64_t wall = mono_ms();
        size_t keep = 0;
        for (size_t i = 0; i < s->wr.n; i++) {
            waiter_t *w = &s->wr.v[i];
            if (w->upto <= flushed) {
                w->cb(w->arg, STORE_PUT_OK);
                atomic_fetch_add_explicit(&s->flush_waiters, 1, memory_order_relaxed);
            } else if (wall >= w->deadline || done) {
                w->cb(w->arg, STORE_FLUSH_DISK_TIMEOUT);
                atomic_fetch_add_explicit(&s->flush_waiters, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&s->flush_timeouts, 1, memory_order_relaxed);
            } else {
                s->wr.v[keep++] = *w;
            }
        }
        pthread_mutex_lock(&s->fl_mu);
        for (size_t i = 0; i < keep; i++) {
            wvec_push(&s->wq, s->wr.v[i]);
            if (s->wr.v[i].upto > s->wq_max_upto) s->wq_max_upto = s->wr.v[i].upto;
        }
        if (keep) pthread_cond_signal(&s->fl_cv); /* ASYNC: they still need a flush */
        int finished = done && s->wq.n == 0;
        if (finished) s->ack_done = 1;
        pthread_mutex_unlock(&s->fl_mu);
        s->wr.n = 0;
        if (finished) break;
    }
    return NULL;
}

void store_wait_flush(store_t *s, int64_t upto, store_flush_cb cb, void *arg) {
    waiter_t w = {upto, mono_ms() + s->cfg.syncFlushTimeout, cb, arg};
    pthread_mutex_lock(&s->fl_mu);
    if (s->ack_done) {
        pthread_mutex_unlock(&s->fl_mu);
        cb(arg, atomic_load(&s->cl_flushed) >= upto ? STORE_PUT_OK : STORE_FLUSH_DISK_TIMEOUT);
        return;
    }
    wvec_push(&s->wq, w);
    if (upto > s->wq_max_upto) s->wq_max_upto = upto;
    if (atomic_load_explicit(&s->cl_flushed, memory_order_acquire) >= upto) {
        s->ack_pending = 1; /* already durable: only the ack thread is needed */
        pthread_cond_signal(&s->ack_cv);
    } else {
        pthread_cond_signal(&s->fl_cv);
    }
    pthread_mutex_unlock(&s->fl_mu);
}

typedef struct syncw_s {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done, status;
} syncw_t;

static void syncw_cb(void *arg, int status) {
    syncw_t *w = arg;
    pthread_mutex_lock(&w->m);
    w->done = 1;
    w->status = status;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

int store_wait_flush_sync(store_t *s, int64_t upto) {
    if (atomic_load_explicit(&s->cl_flushed, memory_order_acquire) >= upto) return STORE_PUT_OK;
    syncw_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_mutex_lock(&w.m);
    store_wait_flush(s, upto, syncw_cb, &w);
    while (!w.done)
        pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    pthread_mutex_destroy(&w.m);
    pthread_cond_destroy(&w.c);
    return w.status;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static int64_t tags_code_of(store_t *s, const record_view_t *v) {
    if (s->cfg.tags_code_fn) return s->cfg.tags_code_fn(v, s->cfg.tags_code_arg);
    return msgprops_tags_code(v->props, v->props_len);
}

/* Index + arrival for records in [reput, end). Returns the new reput offset. */
static int64_t dispatch_range(store_t *s, int64_t reput, int64_t end) {
    int raw = atomic_load(&s->raw_mode), stalled = 0;
    while (reput < end && !stalled) {
        mfile_t *f = mfq_find_pin(&s->cl, reput);
        if (!f) {
            int64_t min = mfq_min_offset(&s->cl);
            if (min > reput) {
                reput = min;
                continue;
            }
            break;
        }
        int64_t fend = f->from + f->size < end ? f->from + f->size : end;
        void (*fn)(void *, const store_arrival_t *) = atomic_load(&s->arrival_fn);
        void *fn_arg = atomic_load(&s->arrival_arg);
        while (reput < fend) {
            record_view_t v;
            record_status_t rc =
                record_decode(f->base + (reput - f->from), (size_t)(fend - reput), &v, 0);
            if (rc == RECORD_OK) {
                if (raw && record_tx_dispatched(v.sys_flag)) {
                    /* a slave has no put path: its consume queues are built here */
                    pthread_mutex_lock(&s->put_lock);
                    cq_t *cq = cq_get_or_create(s, v.topic, v.topic_len, v.queue_id);
                    if (cq_put(cq, v.queue_offset, reput, (int32_t)v.total_size,
                               tags_code_of(s, &v), alloc_hook, s) != 0)
                        log_error("dispatch: consume queue %s/%d: cannot write entry %lld",
                                  cq->topic, cq->qid, (long long)v.queue_offset);
                    pthread_mutex_unlock(&s->put_lock);
                }
                if (raw) atomic_store(&s->last_store_ts, v.store_ts); /* a slave's checkpoint */
                if (s->index && s->cfg.messageIndexEnable) index_build(s->index, &v);
                if (fn && record_tx_dispatched(v.sys_flag)) {
                    store_arrival_t a = {v.topic,        v.topic_len, v.queue_id, v.queue_offset,
                                         v.store_ts,     v.props,     v.props_len};
                    fn(fn_arg, &a);
                }
                reput += v.total_size;
            } else if (rc == RECORD_BLANK) {
                reput = f->from + f->size;
                break;
            } else if (raw && rc == RECORD_TRUNCATED) {
                stalled = 1; /* the rest of the record has not arrived yet */
                break;
            } else {
                log_error("dispatch: bad record at %lld (status %d), skipping to %lld",
                          (long long)reput, rc, (long long)fend);
                reput = fend;
            }
        }
        mfile_unref(f);
    }
    return reput;
}

static void *dispatch_main(void *arg) {
    thread_name("store-dispatch");
    store_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->ds_mu);
        while (s->ds_pause && !s->ds_stop) { /* store_truncate */
            s->ds_paused = 1;
            pthread_cond_broadcast(&s->ds_cv);
            pthread_cond_wait(&s->ds_cv, &s->ds_mu);
        }
        s->ds_paused = 0;
        pthread_mutex_unlock(&s->ds_mu);
        /* a slave follows the received bytes; a master the records with consume-queue entries */
        int64_t end = atomic_load(&s->raw_mode)
                          ? atomic_load_explicit(&s->cl_wrote, memory_order_acquire)
                          : atomic_load_explicit(&s->cl_max, memory_order_acquire);
        int64_t reput = atomic_load(&s->reput), next = reput;
        if (reput < end) {
            next = dispatch_range(s, reput, end);
            atomic_store(&s->reput, next);
            if (next != reput) continue;
        }
        pthread_mutex_lock(&s->ds_mu);
        if (s->ds_stop) {
            s->ds_exited = 1;
            pthread_cond_broadcast(&s->ds_cv);
            pthread_mutex_unlock(&s->ds_mu);
            break; /* caught up, or stalled on a partial record */
        }
        if (s->ds_pause) {
            pthread_mutex_unlock(&s->ds_mu);
            continue;
        }
        atomic_store(&s->ds_idle, 1); /* seq_cst: see wake_dispatch */
        if (atomic_load(&s->cl_max) <= reput) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&s->ds_cv, &s->ds_mu, &ts);
        }
        atomic_store(&s->ds_idle, 0);
        pthread_mutex_unlock(&s->ds_mu);
    }
    return NULL;
}

void store_set_arrival_cb(store_t *s, void (*fn)(void *arg, const store_arrival_t *a), void *arg) {
    atomic_store(&s->arrival_fn, NULL);
    atomic_store(&s->arrival_arg, arg);
    atomic_store(&s->arrival_fn, fn);
}

/* ---- warm: fault the commit log in ahead of the writer ------------------------------ */

/*
 * Allocating and zeroing fresh page-cache pages costs more than encoding a
 * small record; doing it here, ahead of the write position, keeps it off the
 * put lock. Only the flushed range is ever msync'ed, so pages faulted in
 * ahead of the writer are not written back early.
 */
#define WARM_AHEAD (16 << 20)
#define WARM_CHUNK (256 << 10) /* zero fill: at most this much under the put lock */

/*
 * SYNC_FLUSH: writes real zeros ahead of the writer and starts their
 * writeback. A fallocated range is "unwritten" to ext4/xfs: the first write
 * back of each block converts the extent, metadata that every group commit
 * would otherwise write and wait for (measured: twice the msync time and half
 * the 64-producer SYNC throughput). Zeros are only written at or beyond
 * cl_wrote, under the put lock, so they can never cover a record. Costs one
 * extra sequential write of the log, in the background.
 */
/* Warm thread, under the put lock: did most bytes put since its last call go through the
 * mapping (single messages) rather than pwrite (batches)? */
static int mostly_mapped(store_t *s) {
    uint64_t d_all = s->put_bytes - s->wm_seen_bytes, d_pw = s->put_pwrite_bytes - s->wm_seen_pwrite;
    s->wm_seen_bytes = s->put_bytes;
    s->wm_seen_pwrite = s->put_pwrite_bytes;
    if (d_all > 0) s->wm_writable = d_pw * 2 < d_all;
    return s->wm_writable;
}

static void zero_fill(store_t *s, mfile_t *f, int64_t from, int64_t to) {
    static const uint8_t zeros[WARM_CHUNK];
    pthread_mutex_lock(&s->put_lock);
    int64_t w = atomic_load_explicit(&s->cl_wrote, memory_order_relaxed);
    int64_t a = from < w ? (w + 4095) & ~(int64_t)4095 : from; /* never the page being filled */
    int64_t rc = 0;
    if (a < to) rc = pwrite(f->fd, zeros, (size_t)(to - a), a - f->from);
    int writable = mostly_mapped(s);
    pthread_mutex_unlock(&s->put_lock);
    if (a < to && rc > 0) {
        (void)sync_file_range(f->fd, a - f->from, rc, SYNC_FILE_RANGE_WRITE);
        /* map them for a writer that stores through the mapping: writable when most recent
         * bytes came that way (single messages: no write fault per page; 1 KiB pipelined
         * 133-148k -> 162-184k msgs/s), read-only when most came by pwrite (batches: no
         * writable page-table entries for msync to write-protect with TLB shoot-downs;
         * 1 KiB batches 271-301 -> 327-412 MB/s) */
        if (s->cl_pwrite_min > 0) mfile_prefault(f, a - f->from, a - f->from + rc, writable);
    }
}

/*
 * commitLogCacheWindowMB: gives back the pages of flushed, dispatched records
 * more than cl_window behind the writer, 1 MiB at a time. The mapping is
 * unmapped first (a page still mapped stays cached); a later read of the range
 * faults it back in from the file.
 */
static void drop_behind(store_t *s) {
    int64_t flushed = atomic_load_explicit(&s->cl_flushed, memory_order_acquire);
    int64_t reput = atomic_load_explicit(&s->reput, memory_order_acquire);
    int64_t upto = ((flushed < reput ? flushed : reput) - s->cl_window) & ~(int64_t)((1 << 20) - 1);
    int64_t min = mfq_min_offset(&s->cl);
    if (s->cl_dropped < min) s->cl_dropped = min;
    /* at most 64 MiB a call: after a restart the whole old log is behind the window, and the
     * warming must not wait for it */
    if (upto > s->cl_dropped + (64 << 20)) upto = s->cl_dropped + (64 << 20);
    while (s->cl_dropped < upto) {
        mfile_t *f = mfq_find_pin(&s->cl, s->cl_dropped);
        if (!f) break;
        int64_t from = s->cl_dropped - f->from;
        int64_t end = f->from + f->size < upto ? f->size : upto - f->from;
        (void)madvise(f->base + from, (size_t)(end - from), MADV_DONTNEED);
        (void)posix_fadvise(f->fd, from, end - from, POSIX_FADV_DONTNEED);
        s->cl_dropped = f->from + end;
        mfile_unref(f);
    }
}

static void *warm_main(void *arg) {
    thread_name("store-warm");
    store_t *s = arg;
    int64_t done = -1;
    while (!atomic_load_explicit(&s->wm_stop, memory_order_relaxed)) {
        int64_t w = atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
        if (done < w) done = w;
        if (s->cl_window > 0) drop_behind(s); /* first, so the warming below reuses the pages */
        if (done - w < WARM_AHEAD) {
            mfile_t *f = mfq_find_pin(&s->cl, done);
            if (f) {
                int64_t end =
                    done + WARM_CHUNK < f->from + f->size ? done + WARM_CHUNK : f->from + f->size;
                if (s->cl_zero_fill)
                    zero_fill(s, f, done, end);
                else
                    mfile_prefault(f, done - f->from, end - f->from, 1);
                done = end;
                mfile_unref(f);
                continue;
            }
        }
        usleep(1000);
    }
    return NULL;
}

/* ---- service: consume queue/index flush, checkpoint, retention ------------------------- */

static int disk_usage(store_t *s) {
    if (s->cfg.disk_usage_fn) return s->cfg.disk_usage_fn(s->cl_dir, s->cfg.disk_usage_arg);
    struct statvfs v;
    if (statvfs(s->cl_dir, &v) != 0) return 0;
    uint64_t used = (uint64_t)(v.f_blocks - v.f_bfree), avail = v.f_bavail;
    if (used + avail == 0) return 0;
    return (int)((used * 100 + used + avail - 1) / (used + avail));
}

static void check_disk(store_t *s, int *immediately, int *space_to_delete) {
    int u = disk_usage(s);
    atomic_store(&s->disk_usage, u);
    *immediately = 0;
    if (u > s->cfg.diskSpaceWarningLevelRatio) {
        if (!atomic_exchange(&s->disk_full, 1))
            log_warn("disk usage %d%% > %d%%: refusing writes", u,
                     s->cfg.diskSpaceWarningLevelRatio);
        *immediately = 1;
    } else if (u > s->cfg.diskSpaceCleanForciblyRatio) {
        *immediately = 1;
    } else if (atomic_exchange(&s->disk_full, 0)) {
        log_info("disk usage %d%%: accepting writes again", u);
    }
    *space_to_delete = *immediately || u > s->cfg.diskMaxUsedSpaceRatio;
}

static int hour_in(const char *when) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    const char *p = when;
    while (p && *p) {
        char *end;
        long h = strtol(p, &end, 10);
        if (end != p && h == tm.tm_hour) return 1;
        p = strchr(end, ';');
        if (p) p++;
    }
    return 0;
}

static void snapshot_cqs(store_t *s, cq_t ***out, size_t *n) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t **v = xmalloc(sizeof(cq_t *) * (s->qt_n + 1));
    size_t k = 0;
    for (size_t i = 0; i < s->qt_cap; i++)
        if (s->qt[i]) v[k++] = s->qt[i];
    pthread_rwlock_unlock(&s->qt_lock);
    *out = v;
    *n = k;
}

static int clean_pass(store_t *s, int force, int allow_time) {
    pthread_mutex_lock(&s->clean_mu);
    int immediately, space;
    check_disk(s, &immediately, &space);
    int deleted = 0;
    int64_t old_min = mfq_min_offset(&s->cl);
    if (force || space || (allow_time && hour_in(s->cfg.deleteWhen))) {
        int64_t keep_ms = (int64_t)s->cfg.fileReservedTime * 3600 * 1000;
        while (deleted < s->cfg.deleteFileBatchMax) {
            pthread_mutex_lock(&s->cl.lock);
            mfile_t *f = s->cl.n > 1 ? s->cl.files[0] : NULL;
            /* never ahead of the dispatcher: its records still need index entries and wake-ups */
            if (f && f->from + f->size > atomic_load(&s->reput)) f = NULL;
            int expired = 0;
            if (f) {
                struct stat st;
                expired = immediately || (stat(f->path, &st) == 0 &&
                                          now_ms() >= (int64_t)st.st_mtime * 1000 +
                                                          st.st_mtim.tv_nsec / 1000000 + keep_ms);
            }
            pthread_mutex_unlock(&s->cl.lock);
            if (!expired) break;
            f = mfq_pop_head(&s->cl);
            if (!f) break;
            log_info("retention: deleting commit log file %s", f->path);
            mfile_destroy(f);
            atomic_fetch_add_explicit(&s->seg_deleted, 1, memory_order_relaxed);
            deleted++;
            if (s->cfg.deleteCommitLogFilesInterval > 0 && deleted < s->cfg.deleteFileBatchMax &&
                !s->sv_stop)
                usleep((useconds_t)s->cfg.deleteCommitLogFilesInterval * 1000);
        }
    }
    int64_t new_min = mfq_min_offset(&s->cl);
    if (new_min > old_min) {
        cq_t **v;
        size_t n;
        snapshot_cqs(s, &v, &n);
        for (size_t i = 0; i < n; i++)
            cq_delete_expired(v[i], new_min);
        free(v);
        if (s->index) index_delete_expired(s->index, new_min);
    }
    pthread_mutex_unlock(&s->clean_mu);
    return deleted;
}

int store_clean_now(store_t *s, int force) {
    return clean_pass(s, force, 1);
}

/*
 * Consume queues are flushed when 2 pages are dirty (flushConsumeQueueLeastPages)
 * and all of them every 60 s (thorough); only a thorough pass may move
 * logicsMsgTimestamp, so abnormal recovery re-dispatches at most ~60 s of log.
 */
#define CQ_THOROUGH_MS 60000

static void flush_logics(store_t *s, int thorough) {
    int64_t ts = atomic_load_explicit(&s->last_store_ts, memory_order_acquire);
    cq_t **v;
    size_t n;
    snapshot_cqs(s, &v, &n);
    for (size_t i = 0; i < n; i++)
        cq_flush(v[i], thorough ? 0 : 2 * 4096);
    free(v);
    int64_t its = s->index ? index_flush(s->index) : 0;
    pthread_mutex_lock(&s->ckpt_lock);
    if (thorough) s->ckpt.logics_ts = ts;
    if (s->index) s->ckpt.index_ts = its;
    checkpoint_write(&s->ckpt);
    pthread_mutex_unlock(&s->ckpt_lock);
}

void store_flush_all(store_t *s) {
    int64_t target = atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
    store_wait_flush_sync(s, target);
    flush_logics(s, 1);
}

static void *service_main(void *arg) {
    thread_name("store-service");
    store_t *s = arg;
    int64_t last_flush = mono_ms(), last_clean = mono_ms(), last_thorough = mono_ms();
    /* Java waits 60 s before the first clean; a fraction of the interval is enough here. */
    for (;;) {
        pthread_mutex_lock(&s->sv_mu);
        if (!s->sv_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&s->sv_cv, &s->sv_mu, &ts);
        }
        int stop = s->sv_stop;
        pthread_mutex_unlock(&s->sv_mu);
        if (stop) break;
        int64_t now = mono_ms();
        if (now - last_flush >= s->cfg.flushIntervalConsumeQueue) {
            int thorough = now - last_thorough >= CQ_THOROUGH_MS;
            flush_logics(s, thorough);
            if (thorough) last_thorough = now;
            int im, sp;
            if (!s->cfg.start_clean_thread) {
                pthread_mutex_lock(&s->clean_mu);
                check_disk(s, &im, &sp);
                pthread_mutex_unlock(&s->clean_mu);
            }
            last_flush = now;
        }
        if (s->cfg.start_clean_thread && now - last_clean >= s->cfg.cleanResourceInterval) {
            clean_pass(s, 0, 1);
            last_clean = now;
        }
    }
    return NULL;
}

/* ---- recovery ----------------------------------------------------------------------- */

static int load_cqs(store_t *s, char *err, size_t errlen) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/consumequeue", s->root);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *te;
    int rc = 0;
    while (rc == 0 && (te = readdir(d))) {
        if (te->d_name[0] == '.') continue;
        char tdir[8192];
        snprintf(tdir, sizeof(tdir), "%s/%s", dir, te->d_name);
        DIR *qd = opendir(tdir);
        if (!qd) continue;
        struct dirent *qe;
        while ((qe = readdir(qd))) {
            char *end;
            long qid = strtol(qe->d_name, &end, 10);
            if (qe->d_name[0] == '.' || *end || qid < 0 || qid > INT32_MAX) continue;
            size_t tl = strlen(te->d_name);
            if (tl > RECORD_MAX_TOPIC_V1) continue;
            cq_t *cq = cq_new(s->root, te->d_name, (uint32_t)tl, (int32_t)qid,
                              s->cfg.mappedFileSizeConsumeQueue);
            cq->hash = qhash(te->d_name, tl, (int32_t)qid);
            if (cq_load(cq, err, errlen) != 0) {
                cq_free(cq);
                rc = -1;
                break;
            }
            qt_insert(s, cq);
        }
        closedir(qd);
    }
    closedir(d);
    return rc;
}

/* Abnormal recovery start (§5.3): newest file whose first record is older than the checkpoint. */
static int abnormal_start(store_t *s) {
    int64_t min_ts = s->ckpt.physic_ts < s->ckpt.logics_ts ? s->ckpt.physic_ts : s->ckpt.logics_ts;
    min_ts -= 3000;
    if (min_ts < 0) min_ts = 0;
    for (int i = s->cl.n - 1; i >= 0; i--) {
        mfile_t *f = s->cl.files[i];
        record_view_t v;
        if (record_decode(f->base, (size_t)f->size, &v, 0) != RECORD_OK) continue;
        if (v.store_ts != 0 && v.store_ts <= min_ts) return i;
    }
    return 0;
}

/* Scans from file `start`; returns the end of the last valid record. */
static int64_t scan_commitlog(store_t *s, int start, int64_t *last_ts) {
    int flags = s->cfg.checkCRCOnRecover ? RECORD_CHECK_CRC : 0;
    int64_t process = s->cl.files[start]->from;
    for (int i = start; i < s->cl.n; i++) {
        mfile_t *f = s->cl.files[i];
        int64_t pos = 0;
        int next = 0;
        process = f->from;
        while (pos < f->size) {
            record_view_t v;
            record_status_t rc = record_decode(f->base + pos, (size_t)(f->size - pos), &v, flags);
            if (rc == RECORD_OK && v.phys_offset == f->from + pos) {
                pos += v.total_size;
                *last_ts = v.store_ts;
                continue;
            }
            if (rc == RECORD_BLANK && v.total_size == f->size - pos)
                next = 1;
            else if (v.total_size == 0 && v.magic == 0)
                ; /* zeroed space: the clean end */
            else if (rc != RECORD_BLANK || pos + 8 > f->size)
                log_warn("recovery: commit log ends at %lld (%s)", (long long)(f->from + pos),
                         rc == RECORD_TRUNCATED ? "truncated record" : "invalid record");
            break;
        }
        process = f->from + pos;
        if (!next || i + 1 >= s->cl.n) break;
    }
    return process;
}

static void redispatch(store_t *s, int64_t from, int64_t to) {
    int64_t n = 0;
    while (from < to) {
        mfile_t *f = mfq_find_pin(&s->cl, from);
        if (!f) break;
        int64_t fend = f->from + f->size < to ? f->from + f->size : to;
        while (from < fend) {
            record_view_t v;
            record_status_t rc =
                record_decode(f->base + (from - f->from), (size_t)(fend - from), &v, 0);
            if (rc == RECORD_BLANK) {
                from = f->from + f->size;
                break;
            }
            if (rc != RECORD_OK) {
                from = fend;
                break;
            }
            if (record_tx_dispatched(v.sys_flag)) {
                cq_t *cq = cq_get_or_create(s, v.topic, v.topic_len, v.queue_id);
                if (cq_put(cq, v.queue_offset, from, (int32_t)v.total_size, tags_code_of(s, &v),
                           alloc_hook, s) != 0)
                    log_error("recovery: consume queue %s/%d: cannot write entry %lld", cq->topic,
                              cq->qid, (long long)v.queue_offset);
            }
            if (s->index && s->cfg.messageIndexEnable) index_build(s->index, &v);
            from += v.total_size;
            n++;
        }
        mfile_unref(f);
    }
    if (n) log_info("recovery: re-dispatched %lld records", (long long)n);
}

static int recover(store_t *s, char *err, size_t errlen) {
    if (s->cl.n == 0) {
        if (s->qt_n > 0) {
            log_warn("commit log is empty: removing %zu consume queues", s->qt_n);
            for (size_t i = 0; i < s->qt_cap; i++) {
                cq_t *cq = s->qt[i];
                if (!cq) continue;
                mfq_destroy_all(&cq->files);
                char tdir[4096];
                snprintf(tdir, sizeof(tdir), "%s/consumequeue/%s", s->root, cq->topic);
                rmdir(tdir);
                cq_free(cq);
                s->qt[i] = NULL;
            }
            s->qt_n = 0;
        }
        return 0;
    }
    int64_t cl_min = s->cl.files[0]->from;
    int start = s->abnormal ? abnormal_start(s) : (s->cl.n >= 3 ? s->cl.n - 3 : 0);
    int64_t last_ts = 0;
    int64_t process = scan_commitlog(s, start, &last_ts);
    log_info("recovery (%s): commit log %lld..%lld, scanned from file %d",
             s->abnormal ? "abnormal" : "normal", (long long)cl_min, (long long)process, start);
    mfq_truncate(&s->cl, process);
    atomic_store(&s->cl_wrote, process);
    atomic_store(&s->cl_max, process);
    atomic_store(&s->cl_flushed, process);
    s->ts_last = last_ts;
    atomic_store(&s->last_store_ts, last_ts);

    int64_t max_cq_phys = 0;
    for (size_t i = 0; i < s->qt_cap; i++) {
        cq_t *cq = s->qt[i];
        if (!cq) continue;
        cq_truncate_phys(cq, process);
        if (cq->max_phys > max_cq_phys) max_cq_phys = cq->max_phys;
    }
    if (s->index) index_truncate_phys(s->index, process);

    int64_t from = max_cq_phys > cl_min ? max_cq_phys : cl_min;
    if (s->abnormal && s->cl.files[start]->from < from) from = s->cl.files[start]->from;
    if (s->index && s->cfg.messageIndexEnable) {
        int64_t ie = index_end_phys(s->index);
        if (ie < cl_min) ie = cl_min;
        if (ie < from) from = ie;
    }
    if (from > process) from = process;
    redispatch(s, from, process);
    for (size_t i = 0; i < s->qt_cap; i++)
        if (s->qt[i]) cq_correct_min(s->qt[i], cl_min);
    (void)err;
    (void)errlen;
    return 0;
}

/* ---- open / close ---------------------------------------------------------------- */

static void path_join(char *out, size_t n, const char *a, const char *b) {
    snprintf(out, n, "%s/%s", a, b);
}

int store_open(const store_config_t *c, store_t **out, char *err, size_t errlen) {
    *out = NULL;
    store_t *s = xcalloc(1, sizeof(*s));
    s->wm_writable = 1;
    s->cfg = *c;
    s->cfg.storePathRootDir = NULL;
    s->cfg.storePathCommitLog = NULL;
    s->cfg.deleteWhen = xstrdup(c->deleteWhen ? c->deleteWhen : "04");
    s->lock_fd = -1;
    s->ckpt.fd = -1;
    if (s->cfg.mappedFileSizeConsumeQueue < CQ_UNIT * 2)
        s->cfg.mappedFileSizeConsumeQueue = 300000 * CQ_UNIT;
    s->cfg.mappedFileSizeConsumeQueue -= s->cfg.mappedFileSizeConsumeQueue % CQ_UNIT;
    if (s->cfg.mappedFileSizeCommitLog < 4096) s->cfg.mappedFileSizeCommitLog = 1073741824LL;
    if (s->cfg.maxMessageSize <= 0) s->cfg.maxMessageSize = 4194304;
    if (s->cfg.maxTransferCountOnMessageInMemory <= 0)
        s->cfg.maxTransferCountOnMessageInMemory = 32;
    if (s->cfg.maxTransferCountOnMessageInDisk <= 0) s->cfg.maxTransferCountOnMessageInDisk = 8;
    if (s->cfg.maxTransferBytesOnMessageInMemory <= 0)
        s->cfg.maxTransferBytesOnMessageInMemory = 262144;
    if (s->cfg.maxTransferBytesOnMessageInDisk <= 0) s->cfg.maxTransferBytesOnMessageInDisk = 65536;
    if (s->cfg.syncFlushTimeout <= 0) s->cfg.syncFlushTimeout = 5000;
    if (s->cfg.flushIntervalCommitLog <= 0) s->cfg.flushIntervalCommitLog = 500;
    if (s->cfg.flushIntervalConsumeQueue <= 0) s->cfg.flushIntervalConsumeQueue = 1000;
    if (s->cfg.cleanResourceInterval <= 0) s->cfg.cleanResourceInterval = 10000;
    if (s->cfg.deleteFileBatchMax <= 0) s->cfg.deleteFileBatchMax = 10;
    if (s->cfg.osPageCacheBusyTimeOutMills <= 0) s->cfg.osPageCacheBusyTimeOutMills = 1000;
    if (s->cfg.diskSpaceWarningLevelRatio <= 0) s->cfg.diskSpaceWarningLevelRatio = 90;
    if (s->cfg.diskSpaceCleanForciblyRatio <= 0) s->cfg.diskSpaceCleanForciblyRatio = 85;
    if (s->cfg.diskMaxUsedSpaceRatio <= 0) s->cfg.diskMaxUsedSpaceRatio = 75;
    int wmode = s->cfg.commitLogWriteMode;
    const char *wm = getenv("PETREL_CL_WRITE");
    if (wm) wmode = !strcmp(wm, "mmap") ? 1 : !strcmp(wm, "pwrite") ? 2 : 0;
    s->cl_pwrite_min = wmode == 1 ? SIZE_MAX : wmode == 2 ? 0 : 8192;
    s->cl_zero_fill = s->cfg.flushDiskType == STORE_SYNC_FLUSH;
    if (getenv("PETREL_CL_ZERO_FILL")) s->cl_zero_fill = atoi(getenv("PETREL_CL_ZERO_FILL")) != 0;
    if (c->storePathRootDir && *c->storePathRootDir) {
        s->root = xstrdup(c->storePathRootDir);
    } else {
        const char *home = getenv("HOME");
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s/store", home ? home : ".");
        s->root = xstrdup(buf);
    }
    char buf[4096];
    if (c->storePathCommitLog && *c->storePathCommitLog) {
        s->cl_dir = xstrdup(c->storePathCommitLog);
    } else {
        path_join(buf, sizeof(buf), s->root, "commitlog");
        s->cl_dir = xstrdup(buf);
    }
    pthread_mutexattr_t ma; /* the put lock is held for ~100 ns: spin briefly before sleeping */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&s->put_lock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_rwlock_init(&s->qt_lock, NULL);
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_mutex_init(&s->fl_mu, NULL);
    pthread_mutex_init(&s->ds_mu, NULL);
    pthread_mutex_init(&s->sv_mu, NULL);
    pthread_mutex_init(&s->clean_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->fl_cv, &ca);
    pthread_cond_init(&s->ack_cv, &ca);
    pthread_cond_init(&s->ds_cv, &ca);
    pthread_cond_init(&s->sv_cv, &ca);
    pthread_condattr_destroy(&ca);
    mfq_init(&s->cl, s->cl_dir, s->cfg.mappedFileSizeCommitLog);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    s->ram_in_memory = (int64_t)pages * psz / 100 * s->cfg.accessMessageInMemoryMaxRatio;
    s->cl_window = (int64_t)s->cfg.commitLogCacheWindowMB << 20;
    if (s->cl_window > 0 && s->cl_window < s->ram_in_memory) s->ram_in_memory = s->cl_window;

    int rc;
    if ((rc = mkdir_p(s->root, 0755)) != 0 || (rc = mkdir_p(s->cl_dir, 0755)) != 0) {
        snprintf(err, errlen, "mkdir %s: %s", s->root, strerror(-rc));
        goto fail;
    }
    path_join(buf, sizeof(buf), s->root, "config");
    mkdir_p(buf, 0755);
    path_join(buf, sizeof(buf), s->root, "lock");
    s->lock_fd = open(buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "Lock failed, MQ already started (%s: %s)", buf, strerror(errno));
        goto fail;
    }
    if (pwrite(s->lock_fd, "lock", 4, 0) == 4) fdatasync(s->lock_fd);
    path_join(buf, sizeof(buf), s->root, "abort");
    s->abnormal = access(buf, F_OK) == 0;
    path_join(buf, sizeof(buf), s->root, "checkpoint");
    if ((rc = checkpoint_open(&s->ckpt, buf)) != 0) {
        snprintf(err, errlen, "checkpoint %s: %s", buf, strerror(-rc));
        goto fail;
    }
    if (mfq_load(&s->cl, err, errlen) != 0) goto fail;
    if (load_cqs(s, err, errlen) != 0) goto fail;
    if (s->cfg.messageIndexEnable) {
        path_join(buf, sizeof(buf), s->root, "index");
        s->index =
            index_open(buf, s->cfg.maxHashSlotNum, s->cfg.maxIndexNum, alloc_hook, s, err, errlen);
        if (!s->index) goto fail;
    }
    if (recover(s, err, errlen) != 0) goto fail;
    atomic_store(&s->reput, atomic_load(&s->cl_max));
    int im, sp;
    check_disk(s, &im, &sp);

    path_join(buf, sizeof(buf), s->root, "abort");
    int afd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (afd < 0) {
        snprintf(err, errlen, "create %s: %s", buf, strerror(errno));
        goto fail;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (write(afd, pid, (size_t)pl) < 0) { /* content is informational */
    }
    fsync(afd);
    close(afd);
    /* the checkpoint must describe the recovered state before new writes */
    pthread_mutex_lock(&s->ckpt_lock);
    s->ckpt.physic_ts = s->ckpt.logics_ts = s->ts_last;
    pthread_mutex_unlock(&s->ckpt_lock);
    {
        cq_t **v;
        size_t n;
        snapshot_cqs(s, &v, &n);
        for (size_t i = 0; i < n; i++)
            cq_flush(v[i], 0);
        free(v);
        flush_range(s, mfq_min_offset(&s->cl) < 0 ? 0 : mfq_min_offset(&s->cl),
                    atomic_load(&s->cl_wrote));
        checkpoint_write(&s->ckpt);
    }
    if (pthread_create(&s->fl_thread, NULL, flush_main, s) != 0 ||
        pthread_create(&s->ack_thread, NULL, ack_main, s) != 0 ||
        pthread_create(&s->ds_thread, NULL, dispatch_main, s) != 0 ||
        pthread_create(&s->sv_thread, NULL, service_main, s) != 0 ||
        pthread_create(&s->wm_thread, NULL, warm_main, s) != 0) {
        snprintf(err, errlen, "cannot start store threads");
        goto fail; /* not reached in practice; threads would leak */
    }
    s->threads_started = 1;
    log_info("store open at %s: commit log [%lld, %lld), %zu queues", s->root,
             (long long)mfq_min_offset(&s->cl), (long long)atomic_load(&s->cl_max), s->qt_n);
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

void store_close(store_t *s) {
    if (!s) return;
    atomic_store(&s->shut, 1);
    pthread_mutex_lock(&s->put_lock);
    pthread_mutex_unlock(&s->put_lock);
    int clean = 1;
    if (s->threads_started) {
        pthread_mutex_lock(&s->ds_mu);
        s->ds_stop = 1;
        pthread_cond_signal(&s->ds_cv);
        pthread_mutex_unlock(&s->ds_mu);
        pthread_join(s->ds_thread, NULL);
        pthread_mutex_lock(&s->fl_mu);
        s->fl_stop = 1;
        pthread_cond_signal(&s->fl_cv);
        pthread_mutex_unlock(&s->fl_mu);
        pthread_join(s->fl_thread, NULL);
        pthread_join(s->ack_thread, NULL);
        pthread_mutex_lock(&s->sv_mu);
        s->sv_stop = 1;
        pthread_cond_signal(&s->sv_cv);
        pthread_mutex_unlock(&s->sv_mu);
        pthread_join(s->sv_thread, NULL);
        atomic_store(&s->wm_stop, 1);
        pthread_join(s->wm_thread, NULL);
        int64_t w = atomic_load(&s->cl_wrote);
        if (atomic_load(&s->cl_flushed) < w) {
            int64_t f = atomic_load(&s->cl_flushed);
            if (flush_range(s, f, w) == 0) atomic_store(&s->cl_flushed, w);
        }
        clean = atomic_load(&s->cl_flushed) >= w && !atomic_load(&s->io_error);
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt.physic_ts = atomic_load(&s->last_store_ts);
        pthread_mutex_unlock(&s->ckpt_lock);
        flush_logics(s, 1);
        char buf[4096];
        path_join(buf, sizeof(buf), s->root, "abort");
        if (clean) unlink(buf);
        log_info("store closed at %s (commit log end %lld)", s->root, (long long)w);
    }
    checkpoint_close(&s->ckpt);
    for (size_t i = 0; i < s->qt_cap; i++)
        cq_free(s->qt[i]);
    free(s->qt);
    for (size_t i = 0; i < s->grave_n; i++)
        cq_free(s->grave[i]);
    free(s->grave);
    index_close(s->index);
    if (s->cl.dir) mfq_free(&s->cl);
    free(s->wq.v);
    free(s->wr.v);
    if (s->lock_fd >= 0) close(s->lock_fd);
    pthread_mutex_destroy(&s->put_lock);
    pthread_rwlock_destroy(&s->qt_lock);
    pthread_mutex_destroy(&s->ckpt_lock);
    pthread_mutex_destroy(&s->fl_mu);
    pthread_mutex_destroy(&s->ds_mu);
    pthread_mutex_destroy(&s->sv_mu);
    pthread_mutex_destroy(&s->clean_mu);
    pthread_cond_destroy(&s->fl_cv);
    pthread_cond_destroy(&s->ack_cv);
    pthread_cond_destroy(&s->ds_cv);
    pthread_cond_destroy(&s->sv_cv);
    free(s->cfg.deleteWhen);
    free(s->root);
    free(s->cl_dir);
    free(s->wbuf);
    free(s);
}

/* ---- reads ------------------------------------------------------------------------ */

static int batch_full(store_t *s, uint32_t size, int32_t max_msgs, int32_t max_bytes,
                      uint32_t bytes, uint32_t count, int in_disk) {
    if (bytes == 0 || count == 0) return 0;
    if ((uint32_t)max_msgs <= count) return 1;
    if (max_bytes > 0 && (uint64_t)bytes + size > (uint32_t)max_bytes) return 1;
    if (in_disk) {
        if ((uint64_t)bytes + size > (uint32_t)s->cfg.maxTransferBytesOnMessageInDisk) return 1;
        if (count > (uint32_t)s->cfg.maxTransferCountOnMessageInDisk - 1) return 1;
    } else {
        if ((uint64_t)bytes + size > (uint32_t)s->cfg.maxTransferBytesOnMessageInMemory) return 1;
        if (count > (uint32_t)s->cfg.maxTransferCountOnMessageInMemory - 1) return 1;
    }
    return 0;
}

static void get_init(store_get_result_t *res) {
    res->status = STORE_GET_NO_MATCHED_LOGIC_QUEUE;
    res->next_begin_offset = res->min_offset = res->max_offset = 0;
    res->suggest_pulling_from_slave = 0;
    res->msg_count = res->total_bytes = 0;
    res->msgs = res->inline_msgs;
    res->queue_offsets = res->inline_qoffs;
    res->npins = 0;
}

int store_get(store_t *s, const char *topic, int32_t queue_id, int64_t offset, int32_t max_msgs,
              int32_t max_bytes, const store_filter_t *filter, void *filter_arg,
              store_get_result_t *res) {
    get_init(res);
    if (max_msgs <= 0) max_msgs = 1;
    atomic_fetch_add_explicit(&s->get_calls, 1, memory_order_relaxed);
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, queue_id);
    if (!cq) {
        pthread_rwlock_unlock(&s->qt_lock);
        return res->status = STORE_GET_NO_MATCHED_LOGIC_QUEUE;
    }
    int64_t max = atomic_load_explicit(&cq->max_offset, memory_order_acquire);
    int64_t min = atomic_load(&cq->min_offset);
    res->min_offset = min;
    res->max_offset = max;
    if (max == 0) {
        res->status = STORE_GET_NO_MESSAGE_IN_QUEUE;
    } else if (offset < min) {
        res->status = STORE_GET_OFFSET_TOO_SMALL;
        res->next_begin_offset = min;
    } else if (offset == max) {
        res->status = STORE_GET_OFFSET_OVERFLOW_ONE;
        res->next_begin_offset = offset;
    } else if (offset > max) {
        res->status = STORE_GET_OFFSET_OVERFLOW_BADLY;
        res->next_begin_offset = max;
    } else {
        uint32_t cap = (uint32_t)max_msgs;
        uint32_t lim = (uint32_t)(s->cfg.maxTransferCountOnMessageInMemory >
                                          s->cfg.maxTransferCountOnMessageInDisk
                                      ? s->cfg.maxTransferCountOnMessageInMemory
                                      : s->cfg.maxTransferCountOnMessageInDisk);
        if (cap > lim) cap = lim;
        if (cap > STORE_GET_INLINE) {
            res->msgs = xmalloc(sizeof(store_slice_t) * cap);
            res->queue_offsets = xmalloc(sizeof(int64_t) * cap);
        }
        int64_t cl_top = atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
        int64_t scan =
            (16000 > (int64_t)max_msgs * CQ_UNIT ? 16000 : (int64_t)max_msgs * CQ_UNIT) / CQ_UNIT;
        int64_t fsz = cq->files.file_size;
        int64_t seg_size = s->cfg.mappedFileSizeCommitLog;
        int64_t removed_lo = -1, removed_hi = -1, last_phys = -1;
        mfile_t *cqf = NULL, *seg = NULL;
        int status = STORE_GET_NO_MATCHED_MESSAGE;
        int64_t next = offset;
        for (int64_t q = offset; q < max && q - offset < scan; q++) {
            if (!cqf || q * CQ_UNIT >= cqf->from + cqf->size) {
                if (cqf) mfile_unref(cqf);
                cqf = mfq_find_pin(&cq->files, q * CQ_UNIT);
                if (!cqf) {
                    if (q == offset) {
                        status = STORE_GET_OFFSET_FOUND_NULL;
                        next = (q * CQ_UNIT / fsz + 1) * fsz / CQ_UNIT;
                    }
                    break;
                }
            }
            const uint8_t *e = cqf->base + (q * CQ_UNIT - cqf->from);
            int64_t phys = (int64_t)be64_get(e);
            int32_t size = (int32_t)be32_get(e + 8);
            int64_t tags = (int64_t)be64_get(e + 12);
            int in_disk = cl_top - phys > s->ram_in_memory;
            if (batch_full(s, (uint32_t)size, max_msgs, max_bytes, res->total_bytes, res->msg_count,
                           in_disk))
                break;
            next = q + 1;
            if (size <= 0 || size == INT32_MAX) continue; /* dummy entry */
            last_phys = phys;
            if (phys >= removed_lo && phys < removed_hi) continue;
            if (filter && filter->match_cq && !filter->match_cq(filter_arg, tags)) continue;
            if (!seg || phys < seg->from || phys >= seg->from + seg->size) {
                seg = NULL;
                for (int k = 0; k < res->npins; k++) {
                    mfile_t *p = res->pins[k];
                    if (phys >= p->from && phys < p->from + p->size) seg = p;
                }
                if (!seg) {
                    if (res->npins == STORE_GET_MAX_PINS) {
                        next = q;
                        break;
                    }
                    seg = mfq_find_pin(&s->cl, phys);
                    if (!seg) {
                        if (status != STORE_GET_FOUND) status = STORE_GET_MESSAGE_WAS_REMOVING;
                        removed_lo = phys / seg_size * seg_size;
                        removed_hi = removed_lo + seg_size;
                        continue;
                    }
                    res->pins[res->npins++] = seg;
                }
            }
            if (phys + size > seg->from + seg->size || phys + size > cl_top) continue;
            const uint8_t *rec = seg->base + (phys - seg->from);
            if (filter && filter->match_record &&
                !filter->match_record(filter_arg, rec, (uint32_t)size))
                continue;
            res->msgs[res->msg_count].data = rec;
            res->msgs[res->msg_count].len = (uint32_t)size;
            res->queue_offsets[res->msg_count] = q;
            res->msg_count++;
            res->total_bytes += (uint32_t)size;
            status = STORE_GET_FOUND;
        }
        if (cqf) mfile_unref(cqf);
        res->status = status;
        res->next_begin_offset = next;
        if (last_phys >= 0) res->suggest_pulling_from_slave = cl_top - last_phys > s->ram_in_memory;
    }
    pthread_rwlock_unlock(&s->qt_lock);
    if (res->msg_count) {
        atomic_fetch_add_explicit(&s->get_msgs, res->msg_count, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->get_bytes, res->total_bytes, memory_order_relaxed);
    }
    return res->status;
}

void store_get_release(store_get_result_t *res) {
    for (int i = 0; i < res->npins; i++)
        mfile_unref(res->pins[i]);
    res->npins = 0;
    if (res->msgs && res->msgs != res->inline_msgs) free(res->msgs);
    if (res->queue_offsets && res->queue_offsets != res->inline_qoffs) free(res->queue_offsets);
    res->msgs = res->inline_msgs;
    res->queue_offsets = res->inline_qoffs;
    res->msg_count = 0;
}

int store_read_at(store_t *s, int64_t phys, store_pinned_t *out) {
    memset(out, 0, sizeof(*out));
    int64_t top = atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
    if (phys < 0 || phys >= top) return -1;
    mfile_t *f = mfq_find_pin(&s->cl, phys);
    if (!f) return -1;
    int64_t end = f->from + f->size < top ? f->from + f->size : top;
    record_view_t v;
    if (record_decode(f->base + (phys - f->from), (size_t)(end - phys), &v, 0) != RECORD_OK ||
        v.phys_offset != phys) {
        mfile_unref(f);
        return -1;
    }
    out->data = f->base + (phys - f->from);
    out->len = v.total_size;
    out->pin = f;
    return 0;
}

void store_pinned_release(store_pinned_t *p) {
    if (p && p->pin) mfile_unref(p->pin);
    if (p) p->pin = NULL;
}

int store_read_raw(store_t *s, int64_t phys, uint32_t max_len, store_pinned_t *out) {
    memset(out, 0, sizeof(*out));
    int64_t top = atomic_load_explicit(&s->cl_max, memory_order_acquire);
    if (phys < 0 || phys >= top) return -1;
    mfile_t *f = mfq_find_pin(&s->cl, phys);
    if (!f) return -1;
    int64_t end = f->from + f->size < top ? f->from + f->size : top;
    int64_t len = end - phys;
    if (len > max_len) len = max_len;
    out->data = f->base + (phys - f->from);
    out->len = (uint32_t)len;
    out->pin = f;
    return 0;
}

int store_append_raw(store_t *s, int64_t phys, const uint8_t *data, size_t len) {
    if (atomic_load(&s->shut)) return -1;
    int64_t seg_size = s->cfg.mappedFileSizeCommitLog;
    pthread_mutex_lock(&s->put_lock);
    if (atomic_load(&s->promoted)) {
        pthread_mutex_unlock(&s->put_lock);
        log_warn("append_raw: refused, this store left slave mode");
        return -1;
    }
    atomic_store(&s->raw_mode, 1);
    int64_t wpos = atomic_load_explicit(&s->cl_wrote, memory_order_relaxed);
    int rc = 0;
    if (!mfq_last(&s->cl) && phys != wpos && phys % seg_size == 0) {
        /* an empty slave: the master starts at the start of its last file (§7.11) */
        wpos = phys;
        atomic_store(&s->cl_wrote, wpos);
        atomic_store(&s->cl_max, wpos);
        atomic_store(&s->cl_flushed, wpos);
        atomic_store(&s->reput, wpos);
    }
    if (phys != wpos) {
        log_warn("append_raw: offset %lld, but the commit log ends at %lld", (long long)phys,
                 (long long)wpos);
        rc = -1;
    }
    while (rc == 0 && len > 0) {
        mfile_t *seg = mfq_last(&s->cl);
        if (!seg || wpos >= seg->from + seg->size) {
            int64_t from = seg ? seg->from + seg->size : wpos / seg_size * seg_size;
            int e = 0;
            if (!(seg = mfq_add(&s->cl, from, alloc_hook, s, &e))) {
                rc = -1;
                break;
            }
            atomic_fetch_add_explicit(&s->seg_created, 1, memory_order_relaxed);
        }
        int64_t pos = wpos - seg->from;
        size_t n = (size_t)(seg->size - pos) < len ? (size_t)(seg->size - pos) : len;
        memcpy(seg->base + pos, data, n);
        atomic_store(&seg->wrote, pos + (int64_t)n);
        wpos += (int64_t)n;
        data += n;
        len -= n;
        atomic_store_explicit(&s->cl_wrote, wpos, memory_order_release);
    }
    pthread_mutex_unlock(&s->put_lock);
    return rc;
}

int store_truncate(store_t *s, int64_t phys) {
    if (!s->threads_started || atomic_load(&s->shut)) return -1;
    int64_t min = store_commitlog_min_offset(s);
    if (phys < min || phys > atomic_load(&s->cl_wrote)) return -1;
    /* stop the dispatcher between two records, then exclude retention, writers and readers */
    pthread_mutex_lock(&s->ds_mu);
    s->ds_pause = 1;
    pthread_cond_broadcast(&s->ds_cv);
    while (!s->ds_paused && !s->ds_exited)
        pthread_cond_wait(&s->ds_cv, &s->ds_mu);
    int ok = s->ds_paused;
    pthread_mutex_unlock(&s->ds_mu);
    if (ok) {
        pthread_mutex_lock(&s->clean_mu);
        pthread_mutex_lock(&s->put_lock);
        pthread_rwlock_wrlock(&s->qt_lock);
        log_warn("truncating the commit log from %lld to %lld",
                 (long long)atomic_load(&s->cl_wrote), (long long)phys);
        mfq_truncate(&s->cl, phys);
        atomic_store(&s->cl_wrote, phys);
        atomic_store(&s->cl_max, phys);
        if (atomic_load(&s->cl_flushed) > phys) atomic_store(&s->cl_flushed, phys);
        if (atomic_load(&s->reput) > phys) atomic_store(&s->reput, phys);
        for (size_t i = 0; i < s->qt_cap; i++)
            if (s->qt[i]) cq_truncate_phys(s->qt[i], phys);
        if (s->index) index_truncate_phys(s->index, phys);
        pthread_rwlock_unlock(&s->qt_lock);
        pthread_mutex_unlock(&s->put_lock);
        pthread_mutex_unlock(&s->clean_mu);
    }
    pthread_mutex_lock(&s->ds_mu);
    s->ds_pause = 0;
    pthread_cond_broadcast(&s->ds_cv);
    pthread_mutex_unlock(&s->ds_mu);
    return ok ? 0 : -1;
}

/* End of the last whole record at or after the dispatch position (put lock held). */
static int64_t whole_records_end(store_t *s) {
    int64_t pos = atomic_load(&s->reput), top = atomic_load(&s->cl_wrote);
    while (pos < top) {
        mfile_t *f = mfq_find_pin(&s->cl, pos);
        if (!f) break;
        int64_t fend = f->from + f->size < top ? f->from + f->size : top;
        int more = 0;
        while (pos < fend) {
            record_view_t v;
            record_status_t rc = record_decode(f->base + (pos - f->from), (size_t)(fend - pos), &v, 0);
            if (rc == RECORD_OK) {
                pos += v.total_size;
            } else if (rc == RECORD_BLANK && f->from + f->size <= top) {
                pos = f->from + f->size;
                more = 1;
                break;
            } else {
                break;
            }
        }
        mfile_unref(f);
        if (!more) break;
    }
    return pos;
}

int64_t store_whole_end(store_t *s) {
    pthread_mutex_lock(&s->put_lock);
    int64_t end = whole_records_end(s);
    pthread_mutex_unlock(&s->put_lock);
    return end;
}

void store_drop_partial(store_t *s) {
    pthread_mutex_lock(&s->put_lock);
    int64_t end = whole_records_end(s), top = atomic_load(&s->cl_wrote);
    pthread_mutex_unlock(&s->put_lock);
    if (end < top) store_truncate(s, end);
}

void store_set_slave(store_t *s, int on) {
    if (on) {
        atomic_store(&s->promoted, 0);
        atomic_store(&s->raw_mode, 1);
        return;
    }
    if (!atomic_load(&s->raw_mode)) return;
    atomic_store(&s->promoted, 1); /* no more bytes from a master from here on */
    store_drop_partial(s);
    /* the dispatcher builds the consume queues of what was received: let it finish */
    int64_t end = atomic_load(&s->cl_wrote);
    for (int i = 0; i < 30000 && atomic_load(&s->reput) < end; i++) usleep(1000);
    pthread_mutex_lock(&s->put_lock);
    atomic_store(&s->cl_max, atomic_load(&s->cl_wrote));
    atomic_store(&s->raw_mode, 0);
    pthread_mutex_unlock(&s->put_lock);
}

int64_t store_max_offset(store_t *s, const char *topic, int32_t qid) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int64_t v = cq ? atomic_load_explicit(&cq->max_offset, memory_order_acquire) : 0;
    pthread_rwlock_unlock(&s->qt_lock);
    return v;
}

int64_t store_min_offset(store_t *s, const char *topic, int32_t qid) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int64_t v = cq ? atomic_load(&cq->min_offset) : 0;
    pthread_rwlock_unlock(&s->qt_lock);
    return v;
}

int store_cq_entry(store_t *s, const char *topic, int32_t qid, int64_t offset, int64_t *phys,
                   int32_t *size, int64_t *tags) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int rc = cq ? cq_read(cq, offset, phys, size, tags) : -1;
    pthread_rwlock_unlock(&s->qt_lock);
    return rc;
}

/* Store time of the record at phys, or -1. */
static int64_t record_store_ts(store_t *s, int64_t phys) {
    store_pinned_t p;
    if (store_read_at(s, phys, &p) != 0) return -1;
    record_view_t v;
    int64_t ts = record_decode(p.data, p.len, &v, 0) == RECORD_OK ? v.store_ts : -1;
    store_pinned_release(&p);
    return ts;
}

static int64_t cq_store_ts(store_t *s, cq_t *cq, int64_t q) {
    int64_t phys, tags;
    int32_t size;
    if (cq_read(cq, q, &phys, &size, &tags) != 0 || size <= 0 || size == INT32_MAX) return -1;
    return record_store_ts(s, phys);
}

int64_t store_msg_store_time(store_t *s, const char *topic, int32_t qid, int64_t offset) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int64_t ts = cq ? cq_store_ts(s, cq, offset) : -1;
    pthread_rwlock_unlock(&s->qt_lock);
    return ts;
}

int64_t store_earliest_msg_time(store_t *s, const char *topic, int32_t qid) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int64_t ts = -1;
    if (cq) {
        int64_t max = atomic_load_explicit(&cq->max_offset, memory_order_acquire);
        for (int64_t q = atomic_load(&cq->min_offset);
             q < max && ts < 0 && q < atomic_load(&cq->min_offset) + 64; q++)
            ts = cq_store_ts(s, cq, q);
    }
    pthread_rwlock_unlock(&s->qt_lock);
    return ts;
}

int64_t store_offset_by_time(store_t *s, const char *topic, int32_t qid, int64_t ts_ms) {
    pthread_rwlock_rdlock(&s->qt_lock);
    cq_t *cq = cq_lookup_rd(s, topic, qid);
    int64_t lo = 0;
    if (cq) {
        lo = atomic_load(&cq->min_offset);
        int64_t hi = atomic_load_explicit(&cq->max_offset, memory_order_acquire);
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            int64_t t = cq_store_ts(s, cq, mid);
            if (t >= ts_ms)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    pthread_rwlock_unlock(&s->qt_lock);
    return lo;
}

int store_query_by_key(store_t *s, const char *topic, const char *key, int max_num,
                       int64_t begin_ts, int64_t end_ts, int64_t *phys_out, int64_t *last_update_ts,
                       int64_t *last_update_phys) {
    if (!s->index) {
        if (last_update_ts) *last_update_ts = 0;
        if (last_update_phys) *last_update_phys = 0;
        return 0;
    }
    return index_query(s->index, topic, key, max_num, begin_ts, end_ts, phys_out, last_update_ts,
                       last_update_phys);
}

int store_delete_topic(store_t *s, const char *topic) {
    size_t tl = strlen(topic);
    int n = 0;
    pthread_mutex_lock(&s->put_lock);
    pthread_rwlock_wrlock(&s->qt_lock);
    cq_t **keep = xcalloc(s->qt_cap ? s->qt_cap : 1, sizeof(cq_t *));
    for (size_t i = 0; i < s->qt_cap; i++) {
        cq_t *cq = s->qt[i];
        if (!cq) continue;
        if (cq->topic_len == tl && memcmp(cq->topic, topic, tl) == 0) {
            mfq_destroy_all(&cq->files);
            atomic_store(&cq->max_offset, 0);
            atomic_store(&cq->min_offset, 0);
            s->grave = xrealloc(s->grave, sizeof(cq_t *) * (s->grave_n + 1));
            s->grave[s->grave_n++] = cq;
            n++;
        } else {
            qt_insert_raw(keep, s->qt_cap, cq);
        }
    }
    free(s->qt);
    s->qt = keep;
    s->qt_n -= (size_t)n;
    pthread_rwlock_unlock(&s->qt_lock);
    pthread_mutex_unlock(&s->put_lock);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/consumequeue/%s", s->root, topic);
    rmdir(dir);
    return n;
}

/* ---- runtime info ------------------------------------------------------------------ */

int64_t store_commitlog_min_offset(store_t *s) {
    int64_t v = mfq_min_offset(&s->cl);
    return v < 0 ? atomic_load(&s->cl_max) : v;
}
int64_t store_commitlog_max_offset(store_t *s) {
    return atomic_load_explicit(&s->cl_wrote, memory_order_acquire);
}
int64_t store_confirm_offset(store_t *s) {
    return store_commitlog_max_offset(s);
}
int64_t store_flushed_offset(store_t *s) {
    return atomic_load(&s->cl_flushed);
}
int64_t store_dispatched_offset(store_t *s) {
    return atomic_load(&s->reput);
}
int store_disk_usage_percent(store_t *s) {
    return atomic_load(&s->disk_usage);
}
int store_is_writeable(store_t *s) {
    return !atomic_load(&s->shut) && !atomic_load(&s->disk_full) && !atomic_load(&s->io_error);
}

void store_get_stats(store_t *s, store_stats_t *st) {
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&s->put_lock);
    st->put_msgs = s->put_msgs;
    st->put_bytes = s->put_bytes;
    pthread_mutex_unlock(&s->put_lock);
    st->put_failures = atomic_load(&s->put_failures);
    st->get_calls = atomic_load(&s->get_calls);
    st->get_msgs = atomic_load(&s->get_msgs);
    st->get_bytes = atomic_load(&s->get_bytes);
    st->flushes = atomic_load(&s->flushes);
    st->flush_waiters = atomic_load(&s->flush_waiters);
    st->flush_timeouts = atomic_load(&s->flush_timeouts);
    st->segments_created = atomic_load(&s->seg_created);
    st->segments_deleted = atomic_load(&s->seg_deleted);
    st->dispatch_behind_bytes = atomic_load(&s->cl_max) - atomic_load(&s->reput);
    st->put_max_latency_ns = atomic_load(&s->put_max_hold_ms) * 1000000;
}
