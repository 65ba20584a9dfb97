/*
 * store_bench: `petrel bench store`. Measures the store in process: appends
 * (100 B and 1 KiB bodies, 1/16 writers, ASYNC_FLUSH; 1/16/64 writers,
 * SYNC_FLUSH), the read side through the consume queues, and in the same run
 * the disk's raw sequential-write bandwidth and single-fdatasync rate, so each
 * figure prints as a fraction of the physical limit.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store.h"

/* ---- latency histogram: 64 powers of two x 16 linear sub-buckets ---------------- */

#define HSUB 16
typedef struct hist_s {
    uint64_t b[64 * HSUB];
    uint64_t n;
} hist_t;

static void hist_add(hist_t *h, uint64_t ns) {
    int e = ns ? 63 - __builtin_clzll(ns) : 0;
    int sub = e >= 4 ? (int)((ns >> (e - 4)) & (HSUB - 1)) : (int)ns & (HSUB - 1);
    h->b[e * HSUB + sub]++;
    h->n++;
}

static void hist_merge(hist_t *d, const hist_t *s) {
    for (int i = 0; i < 64 * HSUB; i++)
        d->b[i] += s->b[i];
    d->n += s->n;
}

static double hist_pct(const hist_t *h, double p) {
    if (!h->n) return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n), acc = 0;
    for (int i = 0; i < 64 * HSUB; i++) {
        acc += h->b[i];
        if (acc > want) {
            int e = i / HSUB, sub = i % HSUB;
            if (e < 4) return sub;
            return (double)(((uint64_t)HSUB + (uint64_t)sub) << (e - 4));
        }
    }
    return 0;
}

/* ---- physical limits ------------------------------------------------------------- */

typedef struct phys_s {
    double seq_mbps; /* buffered 1 MiB writes + final fsync */
    double fds_rate; /* 4 KiB append + fdatasync per second */
    double fds_p50_us, fds_p99_us;
} phys_t;

static void measure_phys(const char *dir, int mb, double secs, phys_t *p) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/phys-seq", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    size_t bs = 1 << 20;
    char *buf = xmalloc(bs);
    memset(buf, 'p', bs);
    int64_t t0 = mono_ns();
    for (int i = 0; i < mb; i++)
        if (write(fd, buf, bs) != (ssize_t)bs) break;
    fsync(fd);
    int64_t t1 = mono_ns();
    close(fd);
    unlink(path);
    p->seq_mbps = (double)mb * bs / 1e6 / ((double)(t1 - t0) / 1e9);

    snprintf(path, sizeof(path), "%s/phys-fds", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    hist_t *h = xcalloc(1, sizeof(*h));
    int64_t end = mono_ns() + (int64_t)(secs * 1e9);
    uint64_t n = 0;
    t0 = mono_ns();
    while (mono_ns() < end) {
        int64_t a = mono_ns();
        if (write(fd, buf, 4096) != 4096) break;
        fdatasync(fd);
        hist_add(h, (uint64_t)(mono_ns() - a));
        n++;
    }
    t1 = mono_ns();
    close(fd);
    unlink(path);
    p->fds_rate = (double)n / ((double)(t1 - t0) / 1e9);
    p->fds_p50_us = hist_pct(h, 50) / 1e3;
    p->fds_p99_us = hist_pct(h, 99) / 1e3;
    free(h);
    free(buf);
}

/* ---- store cases -------------------------------------------------------------------- */

typedef struct bench_opts_s {
    const char *dir;
    double secs;
    int index;
    int64_t seg;
    int sync_threads; /* SYNC: one blocking thread per writer instead of callbacks */
} bench_opts_t;

typedef struct wctx_s {
    store_t *s;
    int id;
    int body;
    int sync;
    int inflight; /* SYNC: logical writers on this thread, each waiting through a callback */
    int64_t end_ns;
    _Atomic int *go;
    uint64_t n, bytes, fails;
    hist_t h;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ndone;
} wctx_t;

typedef struct slot_s {
    wctx_t *w;
    int64_t t0;
    int32_t bytes;
    int busy, done;
} slot_t;

static void slot_cb(void *arg, int status) {
    slot_t *sl = arg;
    (void)status;
    pthread_mutex_lock(&sl->w->mu);
    sl->done = 1;
    sl->w->ndone++;
    pthread_cond_signal(&sl->w->cv);
    pthread_mutex_unlock(&sl->w->mu);
}

static const char HEXD[] = "0123456789ABCDEF";

static void *bench_writer(void *arg) {
    wctx_t *w = arg;
    char body[4096];
    memset(body, 'm', sizeof(body));
    char props[128];
    int pl = snprintf(props, sizeof(props),
                      "TAGS\x01TagA\x02WAIT\x01true\x02UNIQ_KEY\x01%08X%08X0000000000000000\x02",
                      (unsigned)getpid(), (unsigned)w->id);
    char *ctr = props + pl - 17; /* the 16 counter digits */
    store_msg_t m = {0};
    m.topic = "BenchTopic";
    m.topic_len = 10;
    m.queue_id = w->id % 8;
    m.born_ip = 0x7f000001;
    m.born_port = 40000;
    m.store_ip = 0x7f000001;
    m.store_port = 10911;
    m.body = body;
    m.body_len = (uint32_t)w->body;
    m.props = props;
    m.props_len = (uint32_t)pl;
    m.tags_code = 2598919;
    while (!atomic_load(w->go)) {
    }
    store_put_result_t r;
    uint64_t i = 0;
    if (w->inflight > 1) {
        /* like the broker: many requests in flight on one thread, acknowledged by callbacks */
        slot_t *sl = xcalloc((size_t)w->inflight, sizeof(slot_t));
        int busy = 0;
        for (;;) {
            int more = mono_ns() < w->end_ns;
            for (int k = 0; k < w->inflight && more; k++) {
                if (sl[k].busy) continue;
                uint64_t c = i++;
                for (int d = 15; d >= 0; d--, c >>= 4)
                    ctr[d] = HEXD[c & 15];
                m.queue_id = (w->id + k) % 8;
                sl[k].w = w;
                sl[k].t0 = mono_ns();
                if (store_put(w->s, &m, &r) != STORE_PUT_OK) {
                    w->fails++;
                    continue;
                }
                sl[k].busy = 1;
                sl[k].bytes = r.wrote_bytes;
                busy++;
                store_wait_flush(w->s, r.phys_offset + r.wrote_bytes, slot_cb, &sl[k]);
            }
            if (!busy) break;
            pthread_mutex_lock(&w->mu);
            while (w->ndone == 0)
                pthread_cond_wait(&w->cv, &w->mu);
            w->ndone = 0;
            pthread_mutex_unlock(&w->mu);
            int64_t now = mono_ns();
            for (int k = 0; k < w->inflight; k++) {
                pthread_mutex_lock(&w->mu);
                int d = sl[k].done;
                sl[k].done = 0;
                pthread_mutex_unlock(&w->mu);
                if (!sl[k].busy || !d) continue;
                hist_add(&w->h, (uint64_t)(now - sl[k].t0));
                w->n++;
                w->bytes += (uint64_t)sl[k].bytes;
                sl[k].busy = 0;
                busy--;
            }
        }
        free(sl);
        return NULL;
    }
    for (;; i++) {
        if ((i & 63) == 0 && mono_ns() >= w->end_ns) break;
        uint64_t c = i;
        for (int k = 15; k >= 0; k--, c >>= 4)
            ctr[k] = HEXD[c & 15];
        int timed = w->sync || (i & 7) == 0;
        int64_t t0 = timed ? mono_ns() : 0;
        m.born_ts = 0;
        if (store_put(w->s, &m, &r) != STORE_PUT_OK) {
            w->fails++;
            continue;
        }
        if (w->sync) store_wait_flush_sync(w->s, r.phys_offset + r.wrote_bytes);
        if (timed) hist_add(&w->h, (uint64_t)(mono_ns() - t0));
        w->n++;
        w->bytes += (uint64_t)r.wrote_bytes;
    }
    return NULL;
}

typedef struct result_s {
    char name[64];
    int body, writers, sync;
    double msgs_per_s, mb_per_s, mb_per_s_flushed, p50_us, p99_us, frac;
    const char *frac_of;
    uint64_t msgs;
    int64_t dispatch_lag;
    double msgs_per_flush;
} result_t;

static store_t *bench_open(const bench_opts_t *o, const char *sub, int sync, char *dir_out) {
    snprintf(dir_out, 4200, "%s/%s", o->dir, sub);
    store_config_t c;
    store_config_init(&c);
    free(c.storePathRootDir);
    c.storePathRootDir = xstrdup(dir_out);
    c.mappedFileSizeCommitLog = o->seg;
    c.flushDiskType = sync ? STORE_SYNC_FLUSH : STORE_ASYNC_FLUSH;
    c.messageIndexEnable = o->index;
    c.start_clean_thread = 0;
    store_t *s = NULL;
    char err[512];
    if (store_open(&c, &s, err, sizeof(err)) != 0) fprintf(stderr, "bench: store_open: %s\n", err);
    store_config_free(&c);
    return s;
}

static void rmrf(const char *d) {
    char cmd[8320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", d);
}

static int run_case(const bench_opts_t *o, int body, int writers, int sync, const phys_t *ph,
                    result_t *res, int keep, store_t **kept, char *kept_dir) {
    char dir[4200], sub[64];
    snprintf(sub, sizeof(sub), "case-%s-%d-%d", sync ? "sync" : "async", body, writers);
    store_t *s = bench_open(o, sub, sync, dir);
    if (!s) return -1;
    /* SYNC with many writers: 16 in-flight writers per thread (callbacks), unless --sync-threads */
    int per = sync && writers > 1 && !o->sync_threads ? 16 : 1;
    int nth = (writers + per - 1) / per;
    wctx_t *w = xcalloc((size_t)nth, sizeof(wctx_t));
    pthread_t *th = xcalloc((size_t)nth, sizeof(pthread_t));
    _Atomic int go = 0;
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(o->secs * 1e9);
    for (int i = 0; i < nth; i++) {
        w[i] = (wctx_t){.s = s,
                        .id = i * per,
                        .body = body,
                        .sync = sync,
                        .end_ns = end,
                        .go = &go,
                        .inflight = per};
        pthread_mutex_init(&w[i].mu, NULL);
        pthread_cond_init(&w[i].cv, NULL);
        pthread_create(&th[i], NULL, bench_writer, &w[i]);
    }
    t0 = mono_ns();
    atomic_store(&go, 1);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = mono_ns();
    store_flush_all(s);
    int64_t t2 = mono_ns();
    hist_t *h = xcalloc(1, sizeof(*h));
    uint64_t n = 0, bytes = 0;
    for (int i = 0; i < nth; i++) {
        pthread_mutex_destroy(&w[i].mu);
        pthread_cond_destroy(&w[i].cv);
        hist_merge(h, &w[i].h);
        n += w[i].n;
        bytes += w[i].bytes;
    }
    memset(res, 0, sizeof(*res));
    snprintf(res->name, sizeof(res->name), "%s %dB %dw", sync ? "SYNC_FLUSH" : "ASYNC_FLUSH", body,
             writers);
    res->body = body;
    res->writers = writers;
    res->sync = sync;
    res->msgs = n;
    res->msgs_per_s = (double)n / ((double)(t1 - t0) / 1e9);
    res->mb_per_s = (double)bytes / 1e6 / ((double)(t1 - t0) / 1e9);
    res->mb_per_s_flushed = (double)bytes / 1e6 / ((double)(t2 - t0) / 1e9);
    res->p50_us = hist_pct(h, 50) / 1e3;
    res->p99_us = hist_pct(h, 99) / 1e3;
    store_stats_t st;
    store_get_stats(s, &st);
    res->dispatch_lag = st.dispatch_behind_bytes;
    res->msgs_per_flush = st.flushes ? (double)n / (double)st.flushes : 0;
    if (sync) {
        res->frac = ph->fds_rate > 0 ? res->msgs_per_s / ph->fds_rate : 0;
        res->frac_of = "x fdatasync rate";
    } else {
        res->frac = ph->seq_mbps > 0 ? res->mb_per_s_flushed / ph->seq_mbps : 0;
        res->frac_of = "of seq-write MB/s (incl. final flush)";
    }
    free(h);
    free(w);
    free(th);
    if (keep) {
        *kept = s;
        snprintf(kept_dir, 4200, "%s", dir);
    } else {
        store_close(s);
        rmrf(dir);
    }
    return 0;
}

typedef struct rctx_s {
    store_t *s;
    int32_t qid;
    int64_t max;
    uint64_t n, bytes;
} rctx_t;

static void *bench_reader(void *arg) {
    rctx_t *r = arg;
    int64_t off = 0;
    volatile uint32_t sink = 0;
    while (off < r->max) {
        store_get_result_t g;
        if (store_get(r->s, "BenchTopic", r->qid, off, 32, 0, NULL, NULL, &g) != STORE_GET_FOUND) {
            store_get_release(&g);
            break;
        }
        for (uint32_t i = 0; i < g.msg_count; i++)
            sink += g.msgs[i].data[3];
        r->n += g.msg_count;
        r->bytes += g.total_bytes;
        off = g.next_begin_offset;
        store_get_release(&g);
    }
    (void)sink;
    return NULL;
}

static void usage(void) {
    fprintf(
        stderr,
        "usage: petrel bench store [--dir DIR] [--seconds S] [--json] [--no-index]\n"
        "                          [--segment-mb N] [--phys-mb N] [--quick] [--only PREFIX]\n"
        "                          [--sync-threads]\n"
        "  Appends (100 B / 1 KiB, 1 and 16 writers ASYNC_FLUSH; 1, 16, 64 writers\n"
        "  SYNC_FLUSH), reads through the consume queues, and the disk's sequential\n"
        "  write bandwidth and fdatasync rate, in one run. DIR defaults to $TMPDIR or /tmp.\n"
        "  --only PREFIX runs the cases whose name starts with PREFIX (e.g. \"SYNC_FLUSH 100B\").\n"
        "  SYNC writers are in-flight requests, 16 per thread, acknowledged by callbacks as in\n"
        "  the broker; --sync-threads uses one blocking thread per writer instead.\n");
}

int store_bench_main(int argc, char **argv) {
    bench_opts_t o = {NULL, 3.0, 1, 1073741824LL, 0};
    int json = 0, phys_mb = 1024, quick = 0;
    const char *only = NULL;
    static const struct option lo[] = {{"dir", 1, 0, 'd'},
                                       {"seconds", 1, 0, 's'},
                                       {"json", 0, 0, 'j'},
                                       {"no-index", 0, 0, 'n'},
                                       {"segment-mb", 1, 0, 'g'},
                                       {"phys-mb", 1, 0, 'p'},
                                       {"quick", 0, 0, 'q'},
                                       {"help", 0, 0, 'h'},
                                       {"only", 1, 0, 'o'},
                                       {"sync-threads", 0, 0, 't'},
                                       {0, 0, 0, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "d:s:jng:p:qho:t", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o.dir = optarg;
            break;
        case 's':
            o.secs = atof(optarg);
            break;
        case 'j':
            json = 1;
            break;
        case 'n':
            o.index = 0;
            break;
        case 'g':
            o.seg = atoll(optarg) * 1024 * 1024;
            break;
        case 'p':
            phys_mb = atoi(optarg);
            break;
        case 'q':
            quick = 1;
            break;
        case 'o':
            only = optarg;
            break;
        case 't':
            o.sync_threads = 1;
            break;
        default:
            usage();
            return ch == 'h' ? 0 : 2;
        }
    }
    if (quick) {
        o.secs = 0.5;
        phys_mb = 128;
        if (o.seg > 64 << 20) o.seg = 64 << 20;
    }
    log_set_level(LOG_WARN);
    char base[4096];
    const char *tmp = o.dir ? o.dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(base, sizeof(base), "%s/petrel-store-bench-%d", tmp, (int)getpid());
    if (mkdir_p(base, 0755) != 0) {
        fprintf(stderr, "bench: cannot create %s\n", base);
        return 1;
    }
    o.dir = base;
    phys_t ph = {0};
    if (!json) fprintf(stderr, "measuring the disk under %s ...\n", base);
    measure_phys(base, phys_mb, quick ? 0.5 : 2.0, &ph);
    if (!json)
        printf("physical: sequential write %.0f MB/s (1 MiB writes + fsync), fdatasync %.0f/s "
               "(4 KiB appends; p50 %.0f us, p99 %.0f us)\n",
               ph.seq_mbps, ph.fds_rate, ph.fds_p50_us, ph.fds_p99_us);

    static const int cases[][3] = {/* body, writers, sync */
                                   {100, 1, 0},   {100, 16, 0}, {1024, 1, 0}, {1024, 16, 0},
                                   {100, 1, 1},   {100, 16, 1}, {100, 64, 1}, {1024, 1, 1},
                                   {1024, 16, 1}, {1024, 64, 1}};
    int ncases = (int)(sizeof(cases) / sizeof(cases[0]));
    result_t *res = xcalloc((size_t)ncases, sizeof(result_t));
    store_t *kept = NULL;
    char kept_dir[4200] = "";
    for (int i = 0; i < ncases; i++) {
        int keep = i == 0;
        char nm[64];
        snprintf(nm, sizeof(nm), "%s %dB %dw", cases[i][2] ? "SYNC_FLUSH" : "ASYNC_FLUSH",
                 cases[i][0], cases[i][1]);
        if (only && strncmp(nm, only, strlen(only)) != 0 && !keep) {
            snprintf(res[i].name, sizeof(res[i].name), "%s", nm);
            continue;
        }
        if (run_case(&o, cases[i][0], cases[i][1], cases[i][2], &ph, &res[i], keep, &kept,
                     kept_dir) != 0)
            return 1;
        if (!json) {
            result_t *r = &res[i];
            printf("%-22s %10.0f msgs/s %8.1f MB/s (%.1f with final flush)  p50 %7.1f us  p99 "
                   "%8.1f us  = %.2f %s",
                   r->name, r->msgs_per_s, r->mb_per_s, r->mb_per_s_flushed, r->p50_us, r->p99_us,
                   r->frac, r->frac_of);
            if (r->sync) printf("  [%.1f msgs/flush]", r->msgs_per_flush);
            printf("\n");
            fflush(stdout);
        }
    }
    /* read side: the 100 B single-writer data, through the consume queue */
    double read_rate = 0, read_mbps = 0;
    uint64_t read_n = 0;
    if (kept) {
        rctx_t r = {kept, 0, store_max_offset(kept, "BenchTopic", 0), 0, 0};
        int64_t t0 = mono_ns();
        bench_reader(&r);
        int64_t t1 = mono_ns();
        read_n = r.n;
        read_rate = (double)r.n / ((double)(t1 - t0) / 1e9);
        read_mbps = (double)r.bytes / 1e6 / ((double)(t1 - t0) / 1e9);
        store_close(kept);
        rmrf(kept_dir);
    }
    if (!json) {
        printf("%-22s %10.0f msgs/s %8.1f MB/s  (%llu messages, 1 reader, 32 per get)\n",
               "read 100B (CQ)", read_rate, read_mbps, (unsigned long long)read_n);
    } else {
        printf("{\"physical\":{\"seq_write_mbps\":%.1f,\"fdatasync_per_s\":%.1f,\"fdatasync_p50_"
               "us\":%.1f,"
               "\"fdatasync_p99_us\":%.1f},\"cases\":[",
               ph.seq_mbps, ph.fds_rate, ph.fds_p50_us, ph.fds_p99_us);
        for (int i = 0; i < ncases; i++) {
            result_t *r = &res[i];
            printf("%s{\"flush\":\"%s\",\"body\":%d,\"writers\":%d,\"msgs_per_s\":%.0f,\"mb_per_"
                   "s\":%.1f,"
                   "\"mb_per_s_with_flush\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"fraction\":%.3f,"
                   "\"fraction_of\":\"%s\",\"msgs_per_flush\":%.1f}",
                   i ? "," : "", r->sync ? "SYNC_FLUSH" : "ASYNC_FLUSH", r->body, r->writers,
                   r->msgs_per_s, r->mb_per_s, r->mb_per_s_flushed, r->p50_us, r->p99_us, r->frac,
                   r->frac_of, r->msgs_per_flush);
        }
        printf(
            "],\"read\":{\"body\":100,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,\"messages\":%llu}}\n",
            read_rate, read_mbps, (unsigned long long)read_n);
    }
    free(res);
    rmdir(base);
    return 0;
}
