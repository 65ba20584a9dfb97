/*
 * Store crash test: a writer child (SYNC_FLUSH, several threads, single puts
 * and batches) reports every acknowledged message on a pipe and is SIGKILLed
 * at a random moment. The parent reopens the store (abnormal recovery) and
 * checks that every acknowledged message is present, intact (CRC), at its
 * queue offset, that the consume queues agree with the commit log, and that
 * the commit log holds only whole records.
 *
 * Iterations: PETREL_STORE_CRASH_ITERS (default 12; the documented long run
 * uses 300), seed: PETREL_STORE_CRASH_SEED.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"
#include "../testutil.h"

#define SEG (256 * 1024)
#define TOPIC "CrashTopic"
#define NQUEUES 3
#define NTHREADS 4

typedef struct ack_s {
    int64_t phys;
    int64_t qoff;
    int32_t size;
    int32_t qid;
    uint32_t writer, seq;
} ack_t;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "CHECK failed: %s at %s:%d (iteration %d, seed %u)\n", #c, __FILE__,   \
                    __LINE__, g_iter, g_seed);                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int g_iter;
static unsigned g_seed;
static const char *g_dir;
static int g_pipe;

static void config(store_config_t *c) {
    store_config_init(c);
    free(c->storePathRootDir);
    c->storePathRootDir = xstrdup(g_dir);
    c->mappedFileSizeCommitLog = SEG;
    c->mappedFileSizeConsumeQueue = 20 * 500;
    c->maxHashSlotNum = 512;
    c->maxIndexNum = 5000;
    c->flushDiskType = STORE_SYNC_FLUSH;
    c->flushIntervalConsumeQueue = 30;
    c->start_clean_thread = 0;
}

/* Body: "w<writer>-s<seq>-" then filler derived from both, so content is checkable. */
static size_t make_body(uint8_t *b, uint32_t writer, uint32_t seq) {
    size_t len = 16 + (size_t)((writer * 7919u + seq * 104729u) % 3000u);
    int n = snprintf((char *)b, len, "w%u-s%u-", writer, seq);
    for (size_t i = (size_t)n; i < len; i++)
        b[i] = (uint8_t)('a' + (writer + seq + i) % 26);
    return len;
}

typedef struct {
    store_t *s;
    uint32_t writer;
    uint32_t start_seq;
} wargs_t;

static void *writer_main(void *arg) {
    wargs_t *w = arg;
    uint8_t body[8][3100];
    char props[8][64];
    uint32_t seq = w->start_seq;
    for (;;) {
        int batch = w->writer % 2 ? 1 : 1 + (int)(seq % 5);
        store_msg_t m[8];
        store_put_result_t r[8];
        int32_t qid = (int32_t)((w->writer + seq) % NQUEUES);
        for (int i = 0; i < batch; i++) {
            memset(&m[i], 0, sizeof(m[i]));
            m[i].topic = TOPIC;
            m[i].topic_len = sizeof(TOPIC) - 1;
            m[i].queue_id = qid;
            m[i].born_ts = now_ms();
            m[i].store_ip = 0x7f000001;
            m[i].store_port = 10911;
            m[i].body = body[i];
            m[i].body_len = (uint32_t)make_body(body[i], w->writer, seq + (uint32_t)i);
            int pl = snprintf(props[i], sizeof(props[i]), "UNIQ_KEY\x01W%uS%u\x02TAGS\x01T%u\x02",
                              w->writer, seq + (uint32_t)i, w->writer);
            m[i].props = props[i];
            m[i].props_len = (uint32_t)pl;
        }
        int st = batch == 1 ? store_put(w->s, m, r) : store_put_batch(w->s, m, (size_t)batch, r);
        if (st != STORE_PUT_OK) _exit(10);
        int64_t upto = r[batch - 1].phys_offset + r[batch - 1].wrote_bytes;
        if (store_wait_flush_sync(w->s, upto) != STORE_PUT_OK) {
            seq += (uint32_t)batch;
            continue; /* stored but not acknowledged as durable */
        }
        for (int i = 0; i < batch; i++) {
            ack_t a = {r[i].phys_offset, r[i].queue_offset, r[i].wrote_bytes, qid,
                       w->writer,        seq + (uint32_t)i};
            if (write(g_pipe, &a, sizeof(a)) != (ssize_t)sizeof(a)) _exit(11);
        }
        seq += (uint32_t)batch;
    }
    return NULL;
}

static void child_run(int fd, uint32_t seq_base) {
    g_pipe = fd;
    store_config_t c;
    config(&c);
    store_t *s;
    char err[512];
    if (store_open(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "child store_open: %s\n", err);
        _exit(12);
    }
    pthread_t th[NTHREADS];
    wargs_t wa[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        wa[i] = (wargs_t){s, (uint32_t)i, seq_base};
        pthread_create(&th[i], NULL, writer_main, &wa[i]);
    }
    for (;;)
        pause();
}

static ack_t *acks;
static size_t nacks, capacks;

static void verify(void) {
    store_config_t c;
    config(&c);
    store_t *s;
    char err[512];
    if (store_open(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_open after crash: %s\n", err);
        CHECK(0);
    }
    /* 1. every acknowledged message, intact and where it was acknowledged */
    for (size_t i = 0; i < nacks; i++) {
        ack_t *a = &acks[i];
        store_pinned_t p;
        CHECK(store_read_at(s, a->phys, &p) == 0);
        record_view_t v;
        CHECK(record_decode(p.data, p.len, &v, RECORD_CHECK_CRC) == RECORD_OK);
        CHECK((int32_t)v.total_size == a->size);
        CHECK(v.queue_id == a->qid && v.queue_offset == a->qoff);
        uint8_t want[3100];
        size_t wl = make_body(want, a->writer, a->seq);
        CHECK(v.body_len == wl && memcmp(v.body, want, wl) == 0);
        store_pinned_release(&p);
        int64_t phys, tags;
        int32_t size;
        CHECK(store_cq_entry(s, TOPIC, a->qid, a->qoff, &phys, &size, &tags) == 0);
        CHECK(phys == a->phys && size == a->size);
    }
    /* 2. consume queues agree with the commit log, in order */
    int64_t total = 0;
    for (int q = 0; q < NQUEUES; q++) {
        int64_t max = store_max_offset(s, TOPIC, q), prev = -1;
        for (int64_t o = store_min_offset(s, TOPIC, q); o < max; o++) {
            int64_t phys, tags;
            int32_t size;
            CHECK(store_cq_entry(s, TOPIC, q, o, &phys, &size, &tags) == 0);
            CHECK(phys > prev);
            prev = phys;
            store_pinned_t p;
            CHECK(store_read_at(s, phys, &p) == 0);
            record_view_t v;
            CHECK(record_decode(p.data, p.len, &v, RECORD_CHECK_CRC) == RECORD_OK);
            CHECK(v.queue_id == q && v.queue_offset == o && (int32_t)p.len == size);
            store_pinned_release(&p);
            total++;
        }
    }
    /* 3. the commit log is whole records (and BLANKs) up to its end */
    int64_t off = store_commitlog_min_offset(s), end = store_commitlog_max_offset(s), recs = 0;
    while (off < end) {
        store_pinned_t p;
        if (store_read_at(s, off, &p) == 0) {
            record_view_t v;
            CHECK(record_decode(p.data, p.len, &v, RECORD_CHECK_CRC) == RECORD_OK);
            off += p.len;
            store_pinned_release(&p);
            recs++;
            continue;
        }
        CHECK(store_read_raw(s, off, 8, &p) == 0 && p.len == 8);
        CHECK(be32_get(p.data + 4) == RECORD_MAGIC_BLANK);
        store_pinned_release(&p);
        off = (off / SEG + 1) * SEG;
    }
    CHECK(off == end);
    CHECK(recs == total);
    fprintf(stderr, "iteration %d: %zu acknowledged messages verified, %lld records, end %lld\n",
            g_iter, nacks, (long long)recs, (long long)end);
    store_close(s);
    store_config_free(&c);
}

int main(void) {
    log_set_level(LOG_ERROR);
    const char *e = getenv("PETREL_STORE_CRASH_ITERS");
    int iters = e ? atoi(e) : 12;
    e = getenv("PETREL_STORE_CRASH_SEED");
    g_seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(g_seed);
    fprintf(stderr, "store crash test: %d iterations, seed %u\n", iters, g_seed);
    char *dir = tu_tmpdir("store-crash");
    g_dir = dir;
    for (g_iter = 0; g_iter < iters; g_iter++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(fds[1], (uint32_t)g_iter * 1000000u);
        }
        close(fds[1]);
        /* let it acknowledge something, then kill it at a random moment */
        int64_t first = 0, kill_after = 5 + rand() % 150, deadline = tu_now_ms() + tu_scaled(20000);
        int killed = 0;
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        for (;;) {
            ack_t a;
            ssize_t n = read(fds[0], &a, sizeof(a));
            if (n == (ssize_t)sizeof(a)) {
                if (nacks == capacks)
                    acks = xrealloc(acks, sizeof(ack_t) * (capacks = capacks ? capacks * 2 : 4096));
                acks[nacks++] = a;
                if (!first) first = tu_now_ms();
                continue;
            }
            if (n == 0) break; /* child gone */
            CHECK(n < 0 && (errno == EAGAIN || errno == EINTR));
            if (!killed &&
                ((first && tu_now_ms() - first >= kill_after) || tu_now_ms() > deadline)) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            tu_sleep_ms(1);
        }
        close(fds[0]);
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        CHECK(first != 0);
        /* crash after crash every third round: the next child recovers first */
        if (g_iter % 3 != 1 || g_iter == iters - 1) verify();
    }
    free(acks);
    tu_rmrf(dir);
    free(dir);
    fprintf(stderr, "store crash test passed\n");
    return 0;
}
