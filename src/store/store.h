/*
 * store: Petrel's message store, RocketMQ's layout on disk
 * (storage-and-semantics.md §0-§6, §8.3).
 *
 *   {root}/commitlog/<20-digit start offset>   memory-mapped segments, all topics
 *   {root}/consumequeue/<topic>/<qid>/<20 digits>  20-byte entries (phys 8, size 4, tagsCode 8)
 *   {root}/index/<yyyyMMddHHmmssSSS>           hash index on KEYS / UNIQ_KEY
 *   {root}/checkpoint, {root}/abort, {root}/lock, {root}/config/ (left to the broker)
 *
 * Threads: callers append with store_put (one put lock; the record is encoded
 * straight into the mapped segment and its consume-queue entry written right
 * after it, so a message is readable as soon as store_put returns). Inside
 * the store run a flush thread (ASYNC periodic / SYNC group commit), an ack
 * thread (store_wait_flush callbacks), a dispatch thread (index, arrival
 * callbacks), a service thread (consume-queue/index flush, checkpoint, disk
 * usage, retention) and a warm thread (prefaults the commit log ahead of the
 * writer). Every function is thread-safe unless noted. docs/storage.md has more.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_STORE_H
#define PETREL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/record.h"

typedef struct store_s store_t;

typedef enum { STORE_ASYNC_FLUSH = 0, STORE_SYNC_FLUSH = 1 } store_flush_type_t;

/* RocketMQ names and defaults (§8.1); sizes in bytes, times in ms unless noted. */
typedef struct store_config_s {
    char *storePathRootDir;                /* default "$HOME/store" */
    char *storePathCommitLog;              /* "" = {root}/commitlog */
    int64_t mappedFileSizeCommitLog;       /* 1 GiB */
    int64_t mappedFileSizeConsumeQueue;    /* 300000 * 20; rounded down to a multiple of 20 */
    int flushDiskType;                     /* store_flush_type_t: ASYNC_FLUSH */
    int flushIntervalCommitLog;            /* 500 */
    int flushCommitLogTimed;               /* true */
    int flushCommitLogLeastPages;          /* 4 */
    int flushCommitLogThoroughInterval;    /* 10000 */
    int flushIntervalConsumeQueue;         /* 1000 */
    int syncFlushTimeout;                  /* 5000 */
    int maxMessageSize;                    /* 4 MiB: body limit and whole-record limit */
    int fileReservedTime;                  /* hours: 72 */
    char *deleteWhen;                      /* "04": local hours, ';'-separated */
    int diskMaxUsedSpaceRatio;             /* 75 (%) */
    int diskSpaceWarningLevelRatio;        /* 90: writes refused above it */
    int diskSpaceCleanForciblyRatio;       /* 85: delete regardless of age above it */
    int cleanResourceInterval;             /* 10000 */
    int deleteCommitLogFilesInterval;      /* 100 */
    int deleteFileBatchMax;                /* 10 */
    int messageIndexEnable;                /* true */
    int maxHashSlotNum;                    /* 5000000 */
    int maxIndexNum;                       /* 20000000 */
    int checkCRCOnRecover;                 /* true */
    int osPageCacheBusyTimeOutMills;       /* 1000 */
    int maxTransferBytesOnMessageInMemory; /* 262144 */
    int maxTransferCountOnMessageInMemory; /* 32 */
    int maxTransferBytesOnMessageInDisk;   /* 65536 */
    int maxTransferCountOnMessageInDisk;   /* 8 */
    int accessMessageInMemoryMaxRatio;     /* 40 */

    /*
     * How puts reach the commit log: 0 = auto (a put of at least 8 KiB, i.e. a
     * batch, is pwrite()n; smaller ones are copied into the mapping),
     * 1 = always through the mapping, 2 = always pwrite. Pages dirtied through a
     * mapping cost more to write back (write-protect, TLB shootdown, re-fault),
     * which a large put saves; a small pwrite costs more than its copy (block
     * mapping under ext4 locks that writeback also takes). Both write the page
     * cache the readers map. Env PETREL_CL_WRITE=auto|mmap|pwrite overrides.
     */
    int commitLogWriteMode;

    /*
     * 0 (default) keeps the commit log in the page cache as long as the kernel
     * does, as RocketMQ does. N > 0: the warm thread returns flushed and
     * dispatched pages more than N MiB behind the write position to the kernel
     * (unmap, then POSIX_FADV_DONTNEED) just before it faults fresh pages in
     * ahead of the writer, so the writer reuses recently freed memory. For
     * virtual machines whose host backs guest memory lazily and takes freed
     * memory back (first touch of a page there costs far more than a copy).
     * Readers further behind than N MiB read from disk, and pulls there get
     * the on-disk transfer limits.
     */
    int commitLogCacheWindowMB;

    /* Not from broker.conf: set by code. */
    /* Test hook: returns disk usage of path in percent (0..100); NULL = statvfs. */
    int (*disk_usage_fn)(const char *path, void *arg);
    void *disk_usage_arg;
    /*
     * tagsCode of a record when the store itself must compute it (recovery
     * re-dispatch, arrival callbacks). NULL = msgprops_tags_code(props). The
     * broker sets it to handle SCHEDULE_TOPIC_XXXX (delivery time).
     */
    int64_t (*tags_code_fn)(const record_view_t *rv, void *arg);
    void *tags_code_arg;
    /* Test hook: called instead of posix_fallocate for every new file. Returns 0 or errno. */
    int (*fallocate_fn)(int fd, int64_t len, void *arg);
    void *fallocate_arg;
    int start_clean_thread; /* default 1; tests call store_clean_now instead */
} store_config_t;

/* The broker.conf keys above, for cfg_load_file / cfg_apply_args. */
extern const cfg_def_t store_cfg_defs[];
/* Names of flushDiskType and commitLogWriteMode values, by index (NULL-terminated). */
extern const char *const store_flush_type_names[];
extern const char *const store_write_mode_names[];
/* Defaults (strings malloc'd); store_config_free releases them. */
void store_config_init(store_config_t *c);
void store_config_free(store_config_t *c);

/*
 * Opens (creating if needed) the store at c->storePathRootDir: takes the lock
 * file, loads and recovers (normal without an abort file, abnormal otherwise),
 * creates the abort file and starts the threads. c is copied.
 * Returns 0, or -1 with a message in err.
 */
int store_open(const store_config_t *c, store_t **out, char *err, size_t errlen);
/* Stops the threads, flushes everything, writes the checkpoint, deletes the abort file. NULL ok. */
void store_close(store_t *s);

/* ---- append ---------------------------------------------------------------- */

typedef struct store_msg_s {
    const char *topic;
    uint32_t topic_len; /* 1..127 */
    int32_t queue_id;
    int32_t flag;
    int32_t sys_flag;
    int64_t born_ts;
    uint32_t born_ip; /* IPv4, host order */
    int32_t born_port;
    uint32_t store_ip;  /* brokerIP1, host order */
    int32_t store_port; /* listenPort */
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const void *body;
    uint32_t body_len;
    const char *props; /* name\x01value\x02... (may be NULL when props_len is 0) */
    uint32_t props_len;
    int64_t tags_code; /* consume-queue tagsCode, computed by the broker */
} store_msg_t;

typedef enum {
    STORE_PUT_OK = 0,
    STORE_FLUSH_DISK_TIMEOUT,        /* from store_wait_flush: stored, not yet known durable */
    STORE_MESSAGE_ILLEGAL,           /* body/record > maxMessageSize, topic > 127, props > 32767 */
    STORE_SERVICE_NOT_AVAILABLE,     /* shut down, read-only, disk full (see reason) */
    STORE_OS_PAGECACHE_BUSY,         /* the put lock has been held > osPageCacheBusyTimeOutMills */
    STORE_CREATE_MAPPED_FILE_FAILED, /* new segment could not be created (e.g. ENOSPC) */
    STORE_UNKNOWN_ERROR,
} store_put_status_t;

const char *store_put_status_name(int status);

typedef struct store_put_result_s {
    int status;           /* store_put_status_t */
    int64_t phys_offset;  /* commit log offset of the record */
    int32_t wrote_bytes;  /* record size; phys_offset + wrote_bytes is what to wait for */
    int64_t queue_offset; /* logical offset in the consume queue (0 for PREPARED/ROLLBACK) */
    int64_t store_ts;
    char msg_id[RECORD_MSGID_V4_LEN + 1]; /* offset message id */
    const char *reason;                   /* static text for non-OK statuses, else NULL */
} store_put_result_t;

/* Appends one message. Never fsyncs on the caller's thread. Returns res->status. */
int store_put(store_t *s, const store_msg_t *m, store_put_result_t *res);
/*
 * Appends n messages of the same topic and queue under one lock: contiguous
 * records and queue offsets, all-or-nothing (one segment). res[i] per message;
 * returns the common status.
 */
int store_put_batch(store_t *s, const store_msg_t *m, size_t n, store_put_result_t *res);

/*
 * For an event-loop thread: the first put after each store_kick wakes a parked
 * dispatcher at once (a lone message's latency); later ones leave the wake-up
 * to the next store_kick, which the loop calls once per iteration after its
 * replies are written. Other threads' puts wake the dispatcher at once; a
 * missed kick costs at most the dispatcher's 1 ms poll.
 */
void store_defer_wakeups(void);
void store_kick(store_t *s);

/* ---- durability (SYNC_FLUSH) --------------------------------------------------- */

typedef void (*store_flush_cb)(void *arg, int status); /* STORE_PUT_OK / STORE_FLUSH_DISK_TIMEOUT */
/*
 * Calls cb from the store's ack thread once an fsync covers every byte below
 * upto_phys_offset (= phys_offset + wrote_bytes), or with
 * STORE_FLUSH_DISK_TIMEOUT after syncFlushTimeout. cb is always called exactly
 * once, and never from inside this function while the store is open; it must
 * be short (it runs on the ack thread). Works in both flush modes (in ASYNC it
 * asks for a flush now). At store_close, waiters are completed after the final
 * flush (a call after store_close has begun may run cb inline).
 */
void store_wait_flush(store_t *s, int64_t upto_phys_offset, store_flush_cb cb, void *arg);
/* Blocking form (tests, bench). Returns STORE_PUT_OK or STORE_FLUSH_DISK_TIMEOUT. */
int store_wait_flush_sync(store_t *s, int64_t upto_phys_offset);

/* ---- reads (zero copy) ------------------------------------------------------- */

typedef enum {
    STORE_GET_FOUND = 0,
    STORE_GET_NO_MATCHED_MESSAGE,
    STORE_GET_MESSAGE_WAS_REMOVING,
    STORE_GET_OFFSET_FOUND_NULL,
    STORE_GET_OFFSET_OVERFLOW_BADLY,
    STORE_GET_OFFSET_OVERFLOW_ONE,
    STORE_GET_OFFSET_TOO_SMALL,
    STORE_GET_NO_MATCHED_LOGIC_QUEUE,
    STORE_GET_NO_MESSAGE_IN_QUEUE,
} store_get_status_t;

/* RocketMQ's GetMessageStatus name ("FOUND", "OFFSET_OVERFLOW_ONE", ...), used as the pull remark.
 */
const char *store_get_status_name(int status);

/* A record in the mapped commit log. */
typedef struct store_slice_s {
    const uint8_t *data;
    uint32_t len;
} store_slice_t;

/*
 * Filter hooks; either may be NULL (= match). match_cq sees the consume-queue
 * tagsCode (cheap); match_record the whole record (SQL92).
 */
typedef struct store_filter_s {
    int (*match_cq)(void *arg, int64_t tags_code);
    int (*match_record)(void *arg, const uint8_t *rec, uint32_t len);
} store_filter_t;

#define STORE_GET_INLINE 32
#define STORE_GET_MAX_PINS 8

typedef struct store_get_result_s {
    int status; /* store_get_status_t */
    int64_t next_begin_offset;
    int64_t min_offset;
    int64_t max_offset;
    int suggest_pulling_from_slave;
    uint32_t msg_count;
    uint32_t total_bytes;
    store_slice_t *msgs;    /* msg_count slices, in queue order */
    int64_t *queue_offsets; /* queue offset of each slice */
    /* private: */
    store_slice_t inline_msgs[STORE_GET_INLINE];
    int64_t inline_qoffs[STORE_GET_INLINE];
    void *pins[STORE_GET_MAX_PINS];
    int npins;
} store_get_result_t;

/*
 * Reads up to max_msgs messages of (topic, queue_id) from `offset`, at most
 * max_bytes bytes (0 = only RocketMQ's in-memory/on-disk transfer limits).
 * The slices stay valid until store_get_release(res), which must always be
 * called (also for non-FOUND statuses). Next-offset rules: §6.2.
 */
int store_get(store_t *s, const char *topic, int32_t queue_id, int64_t offset, int32_t max_msgs,
              int32_t max_bytes, const store_filter_t *filter, void *filter_arg,
              store_get_result_t *res);
void store_get_release(store_get_result_t *res);

/* A pinned single record or raw range. */
typedef struct store_pinned_s {
    const uint8_t *data;
    uint32_t len;
    void *pin;
} store_pinned_t;

/*
 * The whole record starting at commit log offset phys (VIEW_MESSAGE_BY_ID).
 * Returns 0, or -1 when there is no valid record there (deleted, beyond the
 * end, not a record boundary). On 0, release with store_pinned_release.
 */
int store_read_at(store_t *s, int64_t phys, store_pinned_t *out);
void store_pinned_release(store_pinned_t *p);

/* Consume-queue offsets: max = the offset the next message gets; 0 when the queue is unknown. */
int64_t store_max_offset(store_t *s, const char *topic, int32_t queue_id);
int64_t store_min_offset(store_t *s, const char *topic, int32_t queue_id);
/*
 * First queue offset whose store time >= ts_ms (RocketMQ 5.x BoundaryType.LOWER;
 * 4.x picked the nearer neighbour): the max offset when all are older, the min
 * offset when all are newer. 0 for an unknown queue.
 */
int64_t store_offset_by_time(store_t *s, const char *topic, int32_t queue_id, int64_t ts_ms);
/* Store time of the first message in the queue, or -1. */
int64_t store_earliest_msg_time(store_t *s, const char *topic, int32_t queue_id);
/* Store time of the message at a queue offset, or -1. */
int64_t store_msg_store_time(store_t *s, const char *topic, int32_t queue_id, int64_t offset);
/* The consume-queue entry at offset. Returns 0 or -1. */
int store_cq_entry(store_t *s, const char *topic, int32_t queue_id, int64_t offset, int64_t *phys,
                   int32_t *size, int64_t *tags_code);

/*
 * Index lookup (QUERY_MESSAGE): phys offsets of records whose key hash matches
 * topic#key with begin_ts <= store time <= end_ts, newest first, at most
 * max_num (capped at 64). Keys come from KEYS (split on ' ') and UNIQ_KEY.
 * Hash collisions are not filtered. Returns the count; *last_update_ts /
 * *last_update_phys (may be NULL) get the newest index file's end values.
 */
int store_query_by_key(store_t *s, const char *topic, const char *key, int max_num,
                       int64_t begin_ts, int64_t end_ts, int64_t *phys_out, int64_t *last_update_ts,
                       int64_t *last_update_phys);

/* Deletes a topic's consume queues and queue offsets (commit log records stay). */
int store_delete_topic(store_t *s, const char *topic);

/* ---- arrival notification -------------------------------------------------------- */

typedef struct store_arrival_s {
    const char *topic;
    uint32_t topic_len;
    int32_t queue_id;
    int64_t queue_offset; /* offset of the new message; the queue's max is queue_offset + 1 */
    int64_t store_ts;     /* (its tags code is in the consume queue entry: not recomputed here) */
    const char *props;
    uint32_t props_len;
} store_arrival_t;

/*
 * fn is called from the dispatch thread once per dispatched message (after
 * its consume-queue entry is readable). It must be cheap and must not call
 * back into the store's put path. NULL disables.
 */
void store_set_arrival_cb(store_t *s, void (*fn)(void *arg, const store_arrival_t *a), void *arg);

/* ---- runtime info ------------------------------------------------------------ */

int64_t store_commitlog_min_offset(store_t *s);
int64_t store_commitlog_max_offset(store_t *s); /* end of the written bytes */
int64_t store_confirm_offset(store_t *s);       /* = max offset (no controller mode) */
int64_t store_flushed_offset(store_t *s);
int64_t store_dispatched_offset(store_t *s); /* index/arrival dispatch position */
int store_disk_usage_percent(store_t *s);    /* commit log partition, as last measured */
int store_is_writeable(store_t *s);

typedef struct store_stats_s {
    uint64_t put_msgs, put_bytes, put_failures;
    uint64_t get_calls, get_msgs, get_bytes;
    uint64_t flushes;       /* fsyncs of the commit log */
    uint64_t flush_waiters; /* store_wait_flush calls completed */
    uint64_t flush_timeouts;
    uint64_t segments_created, segments_deleted;
    int64_t dispatch_behind_bytes;
    int64_t put_max_latency_ns; /* longest put-lock hold since open */
} store_stats_t;
void store_get_stats(store_t *s, store_stats_t *st);

/*
 * Runs one retention pass now (what the clean thread does every
 * cleanResourceInterval): disk usage check, expired/forced commit log
 * deletion, then consume queue and index files below the new min offset.
 * force = delete expired files regardless of deleteWhen (admin
 * DELETE_EXPIRED_COMMITLOG). Returns the number of commit log segments deleted.
 */
int store_clean_now(store_t *s, int force);
/* Flushes the commit log, consume queues, index and checkpoint now (tests). */
void store_flush_all(store_t *s);

/* ---- replication room (issue 9) ----------------------------------------------- */

/*
 * Raw commit log bytes from phys up to the readable end of its segment (at
 * most max_len): what a master sends to a slave (a BLANK's segment tail
 * included, so offsets line up). Returns 0 (out set, release with
 * store_pinned_release) or -1 when phys is outside [min, max).
 */
int store_read_raw(store_t *s, int64_t phys, uint32_t max_len, store_pinned_t *out);
/*
 * Slave side: appends bytes received from a master at phys, which must equal
 * store_commitlog_max_offset (else -1: re-sync from there). Chunks may end in
 * the middle of a record; the dispatch thread then builds consume-queue and
 * index entries for each complete record. The first call puts the store in
 * slave mode: store_put answers SERVICE_NOT_AVAILABLE from then on.
 * Returns 0 or -1 (offset mismatch, cannot create a segment).
 */
int store_append_raw(store_t *s, int64_t phys, const uint8_t *data, size_t len);
/*
 * Cuts the commit log back to phys (a record boundary in [min, max]), with the
 * consume-queue and index entries that point at or past it (a slave that
 * diverged from its master). Readers still holding slices of the cut range
 * see zeros. Returns 0 or -1.
 */
int store_truncate(store_t *s, int64_t phys);

/*
 * Slave mode on (store_put refused, append_raw accepted: also how a fenced
 * master stops writing) or off (a promoted slave: a partial record at the end
 * is cut, the dispatcher finishes the received records, then store_put works
 * and append_raw is refused until slave mode is set again). Not on hot paths.
 */
void store_set_slave(store_t *s, int on);
/* End of the last whole record (<= store_commitlog_max_offset on a slave mid-record). */
int64_t store_whole_end(store_t *s);
/* Cuts a partial record at the end (before following another master). */
void store_drop_partial(store_t *s);

/* `petrel bench store` (store_bench.c). */
int store_bench_main(int argc, char **argv);

#endif
