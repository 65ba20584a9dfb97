/* Unit tests for src/store: append, reads, consume queues, index, flush, recovery, retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"
#include "../testutil.h"

#define SEG (64 * 1024)

static void small_config(store_config_t *c, const char *dir) {
    store_config_init(c);
    free(c->storePathRootDir);
    c->storePathRootDir = xstrdup(dir);
    c->mappedFileSizeCommitLog = SEG;
    c->mappedFileSizeConsumeQueue = 20 * 100;
    c->maxHashSlotNum = 64;
    c->maxIndexNum = 500;
    c->flushIntervalCommitLog = 20;
    c->flushIntervalConsumeQueue = 50;
    c->start_clean_thread = 0;
}

static store_t *open_store(const store_config_t *c) {
    char err[512] = "";
    store_t *s = NULL;
    int rc = store_open(c, &s, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "store_open: %s\n", err);
    assert_int_equal(rc, 0);
    return s;
}

static int put_msg(store_t *s, const char *topic, int qid, const char *body, const char *tag,
                   const char *keys, store_put_result_t *r) {
    buf_t p;
    buf_init(&p);
    if (tag) msgprops_append(&p, MSGPROP_TAGS, tag);
    if (keys) msgprops_append(&p, MSGPROP_KEYS, keys);
    msgprops_append(&p, MSGPROP_UNIQ_KEY, body);
    store_msg_t m = {0};
    m.topic = topic;
    m.topic_len = (uint32_t)strlen(topic);
    m.queue_id = qid;
    m.born_ts = now_ms();
    m.born_ip = 0x7f000001;
    m.born_port = 5555;
    m.store_ip = 0x7f000001;
    m.store_port = 10911;
    m.body = body;
    m.body_len = (uint32_t)strlen(body);
    m.props = (const char *)p.data;
    m.props_len = (uint32_t)p.len;
    m.tags_code = tag ? java_string_hash(tag, strlen(tag)) : 0;
    int st = store_put(s, &m, r);
    buf_free(&p);
    return st;
}

static void check_record(const uint8_t *d, uint32_t len, const char *topic, int qid, int64_t qoff) {
    record_view_t v;
    assert_int_equal(record_decode(d, len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_int_equal(v.total_size, len);
    assert_int_equal(v.topic_len, strlen(topic));
    assert_memory_equal(v.topic, topic, v.topic_len);
    assert_int_equal(v.queue_id, qid);
    assert_int_equal(v.queue_offset, qoff);
}

static int tag_filter(void *arg, int64_t tags) {
    return (int32_t)tags == *(int32_t *)arg;
}

static void test_put_get(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-putget");
    store_config_t c;
    small_config(&c, dir);
    store_t *s = open_store(&c);
    char body[64];
    store_put_result_t r;
    int64_t prev_phys = -1;
    for (int i = 0; i < 1000; i++) {
        snprintf(body, sizeof(body), "message-%04d", i);
        assert_int_equal(put_msg(s, "TopicA", i % 2, body, i % 3 == 0 ? "TagA" : "TagB",
                                 i == 500 ? "k500 shared" : "shared", &r),
                         STORE_PUT_OK);
        assert_int_equal(r.queue_offset, i / 2);
        assert_true(r.phys_offset > prev_phys);
        prev_phys = r.phys_offset;
        char id[33];
        record_msgid_encode(0x7f000001, 10911, r.phys_offset, id);
        assert_string_equal(r.msg_id, id);
    }
    /* records crossed several 64 KiB segments: a BLANK ends segment 0 */
    assert_true(store_commitlog_max_offset(s) > SEG);
    assert_int_equal(store_max_offset(s, "TopicA", 0), 500);
    assert_int_equal(store_max_offset(s, "TopicA", 1), 500);
    assert_int_equal(store_min_offset(s, "TopicA", 0), 0);

    /* read the whole queue 0 */
    int64_t off = 0;
    int total = 0;
    while (off < 500) {
        store_get_result_t g;
        assert_int_equal(store_get(s, "TopicA", 0, off, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
        assert_true(g.msg_count > 0 && g.msg_count <= 32);
        for (uint32_t i = 0; i < g.msg_count; i++) {
            check_record(g.msgs[i].data, g.msgs[i].len, "TopicA", 0, off + i);
            assert_int_equal(g.queue_offsets[i], off + i);
        }
        total += (int)g.msg_count;
        off = g.next_begin_offset;
        assert_int_equal(g.min_offset, 0);
        assert_int_equal(g.max_offset, 500);
        store_get_release(&g);
    }
    assert_int_equal(total, 500);

    store_get_result_t g;
    assert_int_equal(store_get(s, "TopicA", 0, 500, 32, 0, NULL, NULL, &g),
                     STORE_GET_OFFSET_OVERFLOW_ONE);
    assert_int_equal(g.next_begin_offset, 500);
    store_get_release(&g);
    assert_int_equal(store_get(s, "TopicA", 0, 900, 32, 0, NULL, NULL, &g),
                     STORE_GET_OFFSET_OVERFLOW_BADLY);
    assert_int_equal(g.next_begin_offset, 500);
    store_get_release(&g);
    assert_int_equal(store_get(s, "TopicA", 7, 0, 32, 0, NULL, NULL, &g),
                     STORE_GET_NO_MATCHED_LOGIC_QUEUE);
    assert_int_equal(g.next_begin_offset, 0);
    store_get_release(&g);
    assert_string_equal(store_get_status_name(STORE_GET_OFFSET_OVERFLOW_ONE),
                        "OFFSET_OVERFLOW_ONE");

    /* byte limit and tag filter */
    assert_int_equal(store_get(s, "TopicA", 1, 0, 32, 300, NULL, NULL, &g), STORE_GET_FOUND);
    assert_true(g.msg_count >= 1 && g.total_bytes <= 300);
    store_get_release(&g);
    int32_t want = java_string_hash("TagA", 4);
    store_filter_t flt = {tag_filter, NULL};
    assert_int_equal(store_get(s, "TopicA", 0, 0, 32, 0, &flt, &want, &g), STORE_GET_FOUND);
    for (uint32_t i = 0; i < g.msg_count; i++) {
        record_view_t v;
        record_decode(g.msgs[i].data, g.msgs[i].len, &v, 0);
        assert_int_equal(msgprops_tags_code(v.props, v.props_len), want);
    }
    store_get_release(&g);
    int32_t none = 12345;
    assert_int_equal(store_get(s, "TopicA", 0, 0, 32, 0, &flt, &none, &g),
                     STORE_GET_NO_MATCHED_MESSAGE);
    assert_true(g.next_begin_offset > 0);
    store_get_release(&g);

    /* cq entry, read_at, store time, offset by time */
    int64_t phys, tags;
    int32_t size;
    assert_int_equal(store_cq_entry(s, "TopicA", 1, 10, &phys, &size, &tags), 0);
    store_pinned_t p;
    assert_int_equal(store_read_at(s, phys, &p), 0);
    assert_int_equal(p.len, (uint32_t)size);
    check_record(p.data, p.len, "TopicA", 1, 10);
    store_pinned_release(&p);
    assert_int_equal(store_read_at(s, phys + 1, &p), -1);
    assert_int_equal(store_read_at(s, store_commitlog_max_offset(s) + 100, &p), -1);
    int64_t t10 = store_msg_store_time(s, "TopicA", 1, 10);
    assert_true(t10 > 0);
    assert_true(store_earliest_msg_time(s, "TopicA", 1) <= t10);
    int64_t ob = store_offset_by_time(s, "TopicA", 1, t10);
    assert_true(ob <= 10);
    assert_true(store_msg_store_time(s, "TopicA", 1, ob) >= t10);
    assert_int_equal(store_offset_by_time(s, "TopicA", 1, t10 + 3600000), 500);
    assert_int_equal(store_offset_by_time(s, "TopicA", 1, 0), 0);

    /* the index (built by the dispatch thread) */
    assert_true(TU_WAIT_FOR(store_dispatched_offset(s) == store_commitlog_max_offset(s), 5000));
    int64_t hits[64];
    int n = store_query_by_key(s, "TopicA", "k500", 32, 0, INT64_MAX, hits, NULL, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(store_read_at(s, hits[0], &p), 0);
    record_view_t v;
    record_decode(p.data, p.len, &v, 0);
    assert_memory_equal(v.body, "message-0500", 12);
    store_pinned_release(&p);
    n = store_query_by_key(s, "TopicA", "message-0007", 32, 0, INT64_MAX, hits, NULL, NULL);
    assert_int_equal(n, 1); /* UNIQ_KEY */
    n = store_query_by_key(s, "TopicA", "shared", 64, 0, INT64_MAX, hits, NULL, NULL);
    assert_int_equal(n, 64);
    n = store_query_by_key(s, "TopicB", "k500", 32, 0, INT64_MAX, hits, NULL, NULL);
    assert_int_equal(n, 0);

    store_stats_t st;
    store_get_stats(s, &st);
    assert_int_equal(st.put_msgs, 1000);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

static void test_illegal_and_batch(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-batch");
    store_config_t c;
    small_config(&c, dir);
    c.maxMessageSize = 4096;
    store_t *s = open_store(&c);
    store_put_result_t r;
    char longt[200];
    memset(longt, 'x', 128);
    longt[128] = 0;
    assert_int_equal(put_msg(s, longt, 0, "a", NULL, NULL, &r), STORE_MESSAGE_ILLEGAL);
    assert_non_null(r.reason);
    char *big = xmalloc(5000);
    memset(big, 'b', 4999);
    big[4999] = 0;
    assert_int_equal(put_msg(s, "T", 0, big, NULL, NULL, &r), STORE_MESSAGE_ILLEGAL);
    free(big);
    store_msg_t m = {0};
    m.topic = "T";
    m.topic_len = 1;
    m.body = "x";
    m.body_len = 1;
    char *props = xmalloc(40000);
    memset(props, 'p', 40000);
    m.props = props;
    m.props_len = 40000;
    assert_int_equal(store_put(s, &m, &r), STORE_MESSAGE_ILLEGAL);
    free(props);

    /* batch: contiguous queue offsets and records */
    store_msg_t b[10];
    store_put_result_t br[10];
    for (int i = 0; i < 10; i++) {
        b[i] = (store_msg_t){0};
        b[i].topic = "Batch";
        b[i].topic_len = 5;
        b[i].queue_id = 2;
        b[i].body = "0123456789";
        b[i].body_len = 10;
    }
    assert_int_equal(store_put_batch(s, b, 10, br), STORE_PUT_OK);
    assert_int_equal(store_put_batch(s, b, 10, br), STORE_PUT_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(br[i].queue_offset, 10 + i);
        if (i) assert_int_equal(br[i].phys_offset, br[i - 1].phys_offset + br[i - 1].wrote_bytes);
    }
    b[3].queue_id = 1;
    assert_int_equal(store_put_batch(s, b, 10, br), STORE_MESSAGE_ILLEGAL);

    /* PREPARED: queue offset 0, not in the consume queue */
    m = b[0];
    m.sys_flag = MSG_SYSFLAG_TRANSACTION_PREPARED;
    assert_int_equal(store_put(s, &m, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, 0);
    assert_int_equal(store_max_offset(s, "Batch", 2), 20);
    store_pinned_t p;
    assert_int_equal(store_read_at(s, r.phys_offset, &p), 0);
    store_pinned_release(&p);
    m.sys_flag = MSG_SYSFLAG_TRANSACTION_COMMIT;
    assert_int_equal(store_put(s, &m, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, 20);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

/* Reads every message of (topic, qid) back and checks body, CRC and queue offset. */
static void verify_queue(store_t *s, const char *topic, int qid, int64_t n, int body_len) {
    int64_t off = 0;
    while (off < n) {
        store_get_result_t g;
        assert_int_equal(store_get(s, topic, qid, off, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
        for (uint32_t i = 0; i < g.msg_count; i++) {
            record_view_t v;
            assert_int_equal(record_decode(g.msgs[i].data, g.msgs[i].len, &v, RECORD_CHECK_CRC),
                             RECORD_OK);
            assert_int_equal(v.queue_offset, off + (int64_t)i);
            assert_int_equal(v.body_len, (uint32_t)body_len);
            for (int k = 0; k < body_len; k++)
                assert_int_equal(v.body[k], (char)('a' + (v.queue_offset + k) % 26));
        }
        off += g.msg_count;
        store_get_release(&g);
    }
    assert_int_equal(store_max_offset(s, topic, qid), n);
}

/*
 * Puts reach the commit log through the mapping or with pwrite (large puts, or
 * all of them when forced): every mode reads back the same, across segment
 * ends, after a SYNC flush and after a reopen.
 */
static void test_write_modes(void **state) {
    (void)state;
    for (int mode = 0; mode <= 2; mode++) {
        char *dir = tu_tmpdir("store-wmode");
        store_config_t c;
        small_config(&c, dir);
        c.flushDiskType = STORE_SYNC_FLUSH;
        c.commitLogWriteMode = mode;
        store_t *s = open_store(&c);
        enum { BODY = 1000, BATCH = 12, ROUNDS = 20 };
        static char bodies[BATCH][BODY];
        store_msg_t b[BATCH];
        store_put_result_t br[BATCH];
        int64_t next = 0;
        for (int round = 0; round < ROUNDS; round++) {
            /* a batch (about 12 KiB: pwrite in auto mode), then one single message */
            int n = round % 2 ? BATCH : 1;
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < BODY; k++) bodies[i][k] = (char)('a' + (next + i + k) % 26);
                b[i] = (store_msg_t){0};
                b[i].topic = "W";
                b[i].topic_len = 1;
                b[i].queue_id = 0;
                b[i].body = bodies[i];
                b[i].body_len = BODY;
            }
            assert_int_equal(store_put_batch(s, b, (size_t)n, br), STORE_PUT_OK);
            assert_int_equal(br[0].queue_offset, next);
            assert_int_equal(store_wait_flush_sync(s, br[n - 1].phys_offset + br[n - 1].wrote_bytes),
                             STORE_PUT_OK);
            next += n;
        }
        /* 20 rounds of 12 KiB and 1 KiB records span several 64 KiB segments */
        assert_true(store_commitlog_max_offset(s) > 2 * SEG);
        verify_queue(s, "W", 0, next, BODY);
        int64_t end = store_commitlog_max_offset(s);
        store_close(s);
        s = open_store(&c);
        assert_int_equal(store_commitlog_max_offset(s), end);
        verify_queue(s, "W", 0, next, BODY);
        store_close(s);
        store_config_free(&c);
        tu_rmrf(dir);
        free(dir);
    }
}

/* pages of [from, from+len) of file path that are in the page cache */
static size_t resident_pages(const char *path, int64_t from, size_t len) {
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)from);
    assert_true(p != MAP_FAILED);
    size_t pages = len / 4096, n = 0;
    unsigned char *v = malloc(pages);
    assert_int_equal(mincore(p, len, v), 0);
    for (size_t i = 0; i < pages; i++) n += v[i] & 1;
    free(v);
    munmap(p, len);
    close(fd);
    return n;
}

/* commitLogCacheWindowMB: flushed pages far enough behind the writer leave the page cache and
 * read back intact from the file */
static void test_cache_window(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-window");
    store_config_t c;
    small_config(&c, dir);
    c.mappedFileSizeCommitLog = 4 << 20;
    c.commitLogCacheWindowMB = 1;
    store_t *s = open_store(&c);
    enum { BODY = 1000, N = 5000 }; /* about 5.5 MiB: two segments */
    static char body[BODY];
    int64_t end = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < BODY; k++) body[k] = (char)('a' + (i + k) % 26);
        store_msg_t m = {0};
        m.topic = "W";
        m.topic_len = 1;
        m.body = body;
        m.body_len = BODY;
        store_put_result_t r;
        assert_int_equal(store_put(s, &m, &r), STORE_PUT_OK);
        end = r.phys_offset + r.wrote_bytes;
    }
    assert_int_equal(store_wait_flush_sync(s, end), STORE_PUT_OK);
    char seg0[4096];
    snprintf(seg0, sizeof seg0, "%s/commitlog/00000000000000000000", dir);
    /* the first MiB is more than a window behind: the warm thread drops it (bounded wait) */
    size_t left = 1;
    for (int i = 0; i < 1000 && left; i++) {
        left = resident_pages(seg0, 0, 1 << 20);
        if (left) usleep(10 * 1000);
    }
    assert_int_equal(left, 0);
    /* messages behind the window count as on disk: the on-disk transfer limit (8) and a hint
     * to pull from a slave */
    store_get_result_t g;
    assert_int_equal(store_get(s, "W", 0, 0, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
    assert_int_equal(g.msg_count, 8);
    assert_true(g.suggest_pulling_from_slave);
    store_get_release(&g);
    verify_queue(s, "W", 0, N, BODY); /* faulted back in from the file */
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

typedef struct {
    pthread_mutex_t m;
    int n;
    int64_t last;
} arrivals_t;

static void on_arrival(void *arg, const store_arrival_t *a) {
    arrivals_t *x = arg;
    pthread_mutex_lock(&x->m);
    x->n++;
    x->last = a->queue_offset;
    pthread_mutex_unlock(&x->m);
}

static int arrivals(arrivals_t *a) {
    pthread_mutex_lock(&a->m);
    int n = a->n;
    pthread_mutex_unlock(&a->m);
    return n;
}

static void test_sync_flush_and_arrival(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-sync");
    store_config_t c;
    small_config(&c, dir);
    c.flushDiskType = STORE_SYNC_FLUSH;
    store_t *s = open_store(&c);
    arrivals_t a = {PTHREAD_MUTEX_INITIALIZER, 0, -1};
    store_set_arrival_cb(s, on_arrival, &a);
    store_put_result_t r;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(put_msg(s, "S", 0, "durable", NULL, NULL, &r), STORE_PUT_OK);
        assert_int_equal(store_wait_flush_sync(s, r.phys_offset + r.wrote_bytes), STORE_PUT_OK);
        assert_true(store_flushed_offset(s) >= r.phys_offset + r.wrote_bytes);
    }
    assert_true(TU_WAIT_FOR(arrivals(&a) == 50, 5000));
    assert_int_equal(a.last, 49);
    store_stats_t st;
    store_get_stats(s, &st);
    assert_true(st.flushes >= 1);
    assert_int_equal(st.flush_timeouts, 0);
    store_set_arrival_cb(s, NULL, NULL);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

static void test_reopen_normal(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-reopen");
    store_config_t c;
    small_config(&c, dir);
    store_t *s = open_store(&c);
    store_put_result_t r;
    for (int i = 0; i < 700; i++)
        assert_int_equal(put_msg(s, "R", i % 3, "reopen-me", "T", NULL, &r), STORE_PUT_OK);
    int64_t end = store_commitlog_max_offset(s);
    /* a second open of the same directory is refused */
    char err[256];
    store_t *s2 = NULL;
    assert_int_equal(store_open(&c, &s2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Lock failed"));
    store_close(s);
    char path[4096];
    snprintf(path, sizeof(path), "%s/abort", dir);
    assert_int_equal(access(path, F_OK), -1);
    s = open_store(&c);
    assert_int_equal(store_commitlog_max_offset(s), end);
    for (int q = 0; q < 3; q++)
        assert_true(store_max_offset(s, "R", q) >= 233);
    assert_int_equal(put_msg(s, "R", 0, "after", NULL, NULL, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, 234);
    assert_int_equal(r.phys_offset, end);
    int64_t hits[4];
    assert_int_equal(store_query_by_key(s, "R", "after", 4, 0, INT64_MAX, hits, NULL, NULL) >= 0,
                     1);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

/* A child appends and exits without closing: the abort file stays (a crash). */
static void crash_child(const store_config_t *c, int n, int64_t *end_out) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char err[256];
        store_t *s;
        if (store_open(c, &s, err, sizeof(err)) != 0) _exit(2);
        store_put_result_t r;
        for (int i = 0; i < n; i++)
            if (put_msg(s, "C", i % 2, "crash-body", "T", NULL, &r) != STORE_PUT_OK) _exit(3);
        int64_t end = store_commitlog_max_offset(s);
        if (write(fds[1], &end, 8) != 8) _exit(4);
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], end_out, 8), 8);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void rm_dir_files(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_abnormal_recovery_rebuilds(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-abn");
    store_config_t c;
    small_config(&c, dir);
    int64_t end;
    crash_child(&c, 600, &end);
    char path[4096];
    snprintf(path, sizeof(path), "%s/abort", dir);
    assert_int_equal(access(path, F_OK), 0);
    /* lose the consume queues and the index entirely: recovery must rebuild them */
    snprintf(path, sizeof(path), "%s/consumequeue", dir);
    rm_dir_files(path);
    snprintf(path, sizeof(path), "%s/index", dir);
    rm_dir_files(path);
    snprintf(path, sizeof(path), "%s/checkpoint", dir);
    unlink(path);
    store_t *s = open_store(&c);
    assert_int_equal(store_commitlog_max_offset(s), end);
    assert_int_equal(store_max_offset(s, "C", 0), 300);
    assert_int_equal(store_max_offset(s, "C", 1), 300);
    store_get_result_t g;
    assert_int_equal(store_get(s, "C", 1, 299, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
    check_record(g.msgs[0].data, g.msgs[0].len, "C", 1, 299);
    store_get_release(&g);
    int64_t hits[64];
    assert_int_equal(store_query_by_key(s, "C", "crash-body", 64, 0, INT64_MAX, hits, NULL, NULL),
                     64);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

static void test_torn_tail(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-torn");
    store_config_t c;
    small_config(&c, dir);
    store_t *s = open_store(&c);
    store_put_result_t r, last;
    for (int i = 0; i < 100; i++)
        assert_int_equal(put_msg(s, "Torn", 0, "body-body-body", NULL, NULL, &r), STORE_PUT_OK);
    last = r;
    store_close(s);
    /* corrupt the last record's body (CRC) and put garbage after it */
    char seg[4096];
    snprintf(seg, sizeof(seg), "%s/commitlog/%020lld", dir,
             (long long)(last.phys_offset / SEG * SEG));
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    int64_t pos = last.phys_offset % SEG;
    assert_int_equal(pwrite(fd, "ZZ", 2, pos + 90), 2);
    assert_int_equal(pwrite(fd, "garbage!", 8, pos + last.wrote_bytes + 10), 8);
    close(fd);
    snprintf(seg, sizeof(seg), "%s/abort", dir);
    close(open(seg, O_CREAT | O_WRONLY, 0644)); /* pretend a crash */
    s = open_store(&c);
    assert_int_equal(store_commitlog_max_offset(s), last.phys_offset);
    assert_int_equal(store_max_offset(s, "Torn", 0), 99);
    assert_int_equal(put_msg(s, "Torn", 0, "again", NULL, NULL, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, 99);
    assert_int_equal(r.phys_offset, last.phys_offset);
    store_close(s);
    /* the garbage after the cut was zeroed: a normal reopen sees exactly 100 */
    s = open_store(&c);
    assert_int_equal(store_max_offset(s, "Torn", 0), 100);
    store_get_result_t g;
    assert_int_equal(store_get(s, "Torn", 0, 99, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
    assert_int_equal(g.msg_count, 1);
    record_view_t v;
    assert_int_equal(record_decode(g.msgs[0].data, g.msgs[0].len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_memory_equal(v.body, "again", 5);
    store_get_release(&g);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

static int usage_value = 10;
static int fake_usage(const char *path, void *arg) {
    (void)path, (void)arg;
    return __atomic_load_n(&usage_value, __ATOMIC_SEQ_CST);
}

static int fail_alloc = 0;
static int fake_alloc(int fd, int64_t len, void *arg) {
    (void)arg;
    if (__atomic_load_n(&fail_alloc, __ATOMIC_SEQ_CST)) return ENOSPC;
    return posix_fallocate(fd, 0, len);
}

static void test_retention_and_disk_full(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-clean");
    store_config_t c;
    small_config(&c, dir);
    c.fileReservedTime = 0;
    c.deleteCommitLogFilesInterval = 0;
    c.disk_usage_fn = fake_usage;
    c.fallocate_fn = fake_alloc;
    free(c.deleteWhen);
    c.deleteWhen = xstrdup("99"); /* never by hour: only force / pressure */
    store_t *s = open_store(&c);
    store_put_result_t r;
    char body[1000];
    memset(body, 'r', sizeof(body) - 1);
    body[sizeof(body) - 1] = 0;
    for (int i = 0; i < 300; i++)
        assert_int_equal(put_msg(s, "Ret", 0, body, NULL, NULL, &r), STORE_PUT_OK);
    assert_true(TU_WAIT_FOR(store_dispatched_offset(s) == store_commitlog_max_offset(s), 5000));
    int64_t max = store_max_offset(s, "Ret", 0);
    assert_int_equal(store_clean_now(s, 0), 0); /* not the hour, no pressure */
    int del = store_clean_now(s, 1);
    assert_true(del >= 1);
    int64_t clmin = store_commitlog_min_offset(s);
    assert_true(clmin > 0);
    int64_t min = store_min_offset(s, "Ret", 0);
    assert_true(min > 0 && min < max);
    store_get_result_t g;
    assert_int_equal(store_get(s, "Ret", 0, 0, 32, 0, NULL, NULL, &g), STORE_GET_OFFSET_TOO_SMALL);
    assert_int_equal(g.next_begin_offset, min);
    store_get_release(&g);
    assert_int_equal(store_get(s, "Ret", 0, min, 32, 0, NULL, NULL, &g), STORE_GET_FOUND);
    store_get_release(&g);

    /* disk above the warning level: refused, stored data untouched */
    __atomic_store_n(&usage_value, 95, __ATOMIC_SEQ_CST);
    store_clean_now(s, 0);
    assert_false(store_is_writeable(s));
    assert_int_equal(put_msg(s, "Ret", 0, "x", NULL, NULL, &r), STORE_SERVICE_NOT_AVAILABLE);
    assert_non_null(strstr(r.reason, "disk"));
    __atomic_store_n(&usage_value, 10, __ATOMIC_SEQ_CST);
    store_clean_now(s, 0);
    assert_true(store_is_writeable(s));
    assert_int_equal(put_msg(s, "Ret", 0, "x", NULL, NULL, &r), STORE_PUT_OK);

    /* allocation of the next segment fails: clean refusal, nothing written */
    __atomic_store_n(&fail_alloc, 1, __ATOMIC_SEQ_CST);
    int64_t before = store_commitlog_max_offset(s), qbefore = store_max_offset(s, "Ret", 0);
    int refused = 0;
    for (int i = 0; i < 200 && !refused; i++) {
        int st = put_msg(s, "Ret", 0, body, NULL, NULL, &r);
        if (st == STORE_CREATE_MAPPED_FILE_FAILED)
            refused = 1;
        else {
            assert_int_equal(st, STORE_PUT_OK);
            before = store_commitlog_max_offset(s);
            qbefore = store_max_offset(s, "Ret", 0);
        }
    }
    assert_true(refused);
    assert_int_equal(store_commitlog_max_offset(s), before);
    assert_int_equal(store_max_offset(s, "Ret", 0), qbefore);
    __atomic_store_n(&fail_alloc, 0, __ATOMIC_SEQ_CST);
    assert_int_equal(put_msg(s, "Ret", 0, body, NULL, NULL, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, qbefore);
    store_close(s);
    s = open_store(&c);
    assert_int_equal(store_max_offset(s, "Ret", 0), qbefore + 1);
    assert_int_equal(store_delete_topic(s, "Ret"), 1);
    assert_int_equal(store_max_offset(s, "Ret", 0), 0);
    assert_int_equal(put_msg(s, "Ret", 0, "new", NULL, NULL, &r), STORE_PUT_OK);
    assert_int_equal(r.queue_offset, 0);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

/* Writers, readers and forced retention at once: no reader may see a bad record or a deleted map.
 */
typedef struct {
    store_t *s;
    int id;
    _Atomic int *stop;
    long n;
} conc_t;

static void *conc_writer(void *arg) {
    conc_t *c = arg;
    store_put_result_t r;
    char body[300];
    memset(body, 'w', sizeof(body) - 1);
    body[sizeof(body) - 1] = 0;
    while (!atomic_load(c->stop)) {
        int st = put_msg(c->s, "Conc", c->id % 2, body, "T", NULL, &r);
        assert_int_equal(st, STORE_PUT_OK);
        c->n++;
    }
    return NULL;
}

static void *conc_reader(void *arg) {
    conc_t *c = arg;
    int64_t off[2] = {0, 0};
    while (!atomic_load(c->stop)) {
        for (int q = 0; q < 2; q++) {
            store_get_result_t g;
            int st = store_get(c->s, "Conc", q, off[q], 32, 0, NULL, NULL, &g);
            if (st == STORE_GET_FOUND) {
                for (uint32_t i = 0; i < g.msg_count; i++) {
                    record_view_t v;
                    assert_int_equal(
                        record_decode(g.msgs[i].data, g.msgs[i].len, &v, RECORD_CHECK_CRC),
                        RECORD_OK);
                    assert_int_equal(v.queue_id, q);
                    assert_int_equal(v.queue_offset, g.queue_offsets[i]);
                }
                c->n += g.msg_count;
            }
            if (st == STORE_GET_FOUND || st == STORE_GET_OFFSET_TOO_SMALL ||
                st == STORE_GET_NO_MATCHED_MESSAGE || st == STORE_GET_MESSAGE_WAS_REMOVING ||
                st == STORE_GET_OFFSET_FOUND_NULL)
                off[q] = g.next_begin_offset;
            store_get_release(&g);
            int64_t phys, tags;
            int32_t size;
            int64_t min = store_min_offset(c->s, "Conc", q);
            if (store_cq_entry(c->s, "Conc", q, min, &phys, &size, &tags) == 0) {
                store_pinned_t p;
                if (store_read_at(c->s, phys, &p) == 0) {
                    record_view_t v;
                    assert_int_equal(record_decode(p.data, p.len, &v, RECORD_CHECK_CRC), RECORD_OK);
                    store_pinned_release(&p);
                }
            }
        }
    }
    return NULL;
}

static void test_concurrency(void **state) {
    (void)state;
    char *dir = tu_tmpdir("store-conc");
    store_config_t c;
    small_config(&c, dir);
    c.fileReservedTime = 0;
    c.deleteCommitLogFilesInterval = 0;
    c.deleteFileBatchMax = 3;
    store_t *s = open_store(&c);
    arrivals_t a = {PTHREAD_MUTEX_INITIALIZER, 0, -1};
    store_set_arrival_cb(s, on_arrival, &a);
    _Atomic int stop = 0;
    conc_t w[3], r[2];
    pthread_t tw[3], tr[2];
    for (int i = 0; i < 3; i++) {
        w[i] = (conc_t){s, i, &stop, 0};
        pthread_create(&tw[i], NULL, conc_writer, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        r[i] = (conc_t){s, i, &stop, 0};
        pthread_create(&tr[i], NULL, conc_reader, &r[i]);
    }
    int deleted = 0;
    int64_t end = tu_now_ms() + 1500;
    while (tu_now_ms() < end) {
        deleted += store_clean_now(s, 1);
        tu_sleep_ms(20);
    }
    atomic_store(&stop, 1);
    long written = 0, read = 0;
    for (int i = 0; i < 3; i++)
        pthread_join(tw[i], NULL), written += w[i].n;
    for (int i = 0; i < 2; i++)
        pthread_join(tr[i], NULL), read += r[i].n;
    assert_true(deleted > 0);
    assert_true(written > 0 && read > 0);
    assert_true(store_min_offset(s, "Conc", 0) > 0);
    assert_true(TU_WAIT_FOR(arrivals(&a) == (int)written, 5000));
    store_set_arrival_cb(s, NULL, NULL);
    store_close(s);
    /* and it recovers cleanly */
    s = open_store(&c);
    assert_int_equal(store_max_offset(s, "Conc", 0) + store_max_offset(s, "Conc", 1), written);
    store_close(s);
    store_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

/* Replication room: a slave store fed with the master's raw bytes in odd-sized chunks. */
static void test_append_raw(void **state) {
    (void)state;
    char *dm = tu_tmpdir("store-master"), *ds = tu_tmpdir("store-slave");
    store_config_t cm, cs;
    small_config(&cm, dm);
    small_config(&cs, ds);
    store_t *m = open_store(&cm), *sl = open_store(&cs);
    store_put_result_t r;
    char body[200];
    for (int i = 0; i < 400; i++) {
        snprintf(body, sizeof(body), "replicated-%d-%0*d", i, i % 150, 0);
        assert_int_equal(put_msg(m, "Rep", i % 3, body, "T", "rk", &r), STORE_PUT_OK);
    }
    int64_t end = store_commitlog_max_offset(m), off = 0;
    assert_int_equal(store_append_raw(sl, 100, (const uint8_t *)"x", 1), -1); /* not at the end */
    unsigned seed = 7;
    while (off < end) {
        store_pinned_t p;
        uint32_t want = 1 + (uint32_t)(rand_r(&seed) % 3000);
        assert_int_equal(store_read_raw(m, off, want, &p), 0);
        assert_int_equal(store_append_raw(sl, off, p.data, p.len), 0);
        off += p.len;
        store_pinned_release(&p);
    }
    assert_int_equal(store_commitlog_max_offset(sl), end);
    assert_true(TU_WAIT_FOR(store_dispatched_offset(sl) == end, 5000));
    assert_int_equal(put_msg(sl, "Rep", 0, "no", NULL, NULL, &r), STORE_SERVICE_NOT_AVAILABLE);
    for (int q = 0; q < 3; q++) {
        assert_int_equal(store_max_offset(sl, "Rep", q), store_max_offset(m, "Rep", q));
        for (int64_t o = 0; o < store_max_offset(m, "Rep", q); o++) {
            int64_t p1, p2, t1, t2;
            int32_t s1, s2;
            assert_int_equal(store_cq_entry(m, "Rep", q, o, &p1, &s1, &t1), 0);
            assert_int_equal(store_cq_entry(sl, "Rep", q, o, &p2, &s2, &t2), 0);
            assert_true(p1 == p2 && s1 == s2 && t1 == t2);
        }
    }
    int64_t hits[64];
    assert_int_equal(store_query_by_key(sl, "Rep", "rk", 64, 0, INT64_MAX, hits, NULL, NULL), 64);
    /* diverge: cut the slave back to queue 1's entry 50, then catch up again */
    int64_t cut, tags;
    int32_t size;
    assert_int_equal(store_cq_entry(m, "Rep", 1, 50, &cut, &size, &tags), 0);
    assert_int_equal(store_truncate(sl, cut), 0);
    assert_int_equal(store_commitlog_max_offset(sl), cut);
    assert_int_equal(store_max_offset(sl, "Rep", 1), 50);
    store_pinned_t pin;
    assert_int_equal(store_read_at(sl, cut, &pin), -1);
    for (off = cut; off < end;) {
        store_pinned_t p;
        assert_int_equal(store_read_raw(m, off, 5000, &p), 0);
        assert_int_equal(store_append_raw(sl, off, p.data, p.len), 0);
        off += p.len;
        store_pinned_release(&p);
    }
    assert_true(TU_WAIT_FOR(store_dispatched_offset(sl) == end, 5000));
    for (int q = 0; q < 3; q++)
        assert_int_equal(store_max_offset(sl, "Rep", q), store_max_offset(m, "Rep", q));
    store_close(sl);
    sl = open_store(&cs);
    assert_int_equal(store_commitlog_max_offset(sl), end);
    assert_int_equal(store_max_offset(sl, "Rep", 1), store_max_offset(m, "Rep", 1));
    store_close(sl);
    store_close(m);
    store_config_free(&cm);
    store_config_free(&cs);
    tu_rmrf(dm);
    tu_rmrf(ds);
    free(dm);
    free(ds);
}

int main(void) {
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_illegal_and_batch),
        cmocka_unit_test(test_write_modes),
        cmocka_unit_test(test_cache_window),
        cmocka_unit_test(test_sync_flush_and_arrival),
        cmocka_unit_test(test_reopen_normal),
        cmocka_unit_test(test_abnormal_recovery_rebuilds),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_retention_and_disk_full),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_append_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
