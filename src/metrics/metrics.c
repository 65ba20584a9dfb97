/*
 * metrics: the Prometheus text writer, histograms, the latency recorder,
 * process figures and the loop bridge (see metrics.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "metrics/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- text format 0.0.4 ---- */

void pm_escape(buf_t *o, const char *s) {
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!rep) continue;
        buf_append(o, run, (size_t)(s - run));
        buf_append_str(o, rep);
        run = s + 1;
    }
    buf_append(o, run, (size_t)(s - run));
}

void pm_family(buf_t *o, const char *name, const char *type, const char *help) {
    buf_printf(o, "# HELP %s ", name);
    /* HELP text escapes only backslash and newline. */
    for (const char *s = help; *s; s++) {
        if (*s == '\\') buf_append_str(o, "\\\\");
        else if (*s == '\n') buf_append_str(o, "\\n");
        else buf_append(o, s, 1);
    }
    buf_printf(o, "\n# TYPE %s %s\n", name, type);
}

static void labels(buf_t *o, const pm_label_t *a, int na, const pm_label_t *b, int nb) {
    if (na + nb == 0) return;
    buf_append_str(o, "{");
    int first = 1;
    for (int pass = 0; pass < 2; pass++) {
        const pm_label_t *l = pass ? b : a;
        int n = pass ? nb : na;
        for (int i = 0; i < n; i++) {
            if (!first) buf_append_str(o, ",");
            first = 0;
            buf_append_str(o, l[i].k);
            buf_append_str(o, "=\"");
            pm_escape(o, l[i].v ? l[i].v : "");
            buf_append_str(o, "\"");
        }
    }
    buf_append_str(o, "}");
}

void pm_sample_i64(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                   int nb, int64_t v) {
    buf_append_str(o, name);
    labels(o, a, na, b, nb);
    buf_printf(o, " %" PRId64 "\n", v);
}

static void fmt_double(buf_t *o, double v) {
    if (isnan(v)) buf_append_str(o, "NaN");
    else if (isinf(v)) buf_append_str(o, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(int64_t)v && fabs(v) < 9e15) buf_printf(o, "%" PRId64, (int64_t)v);
    else {
        char t[40];
        snprintf(t, sizeof(t), "%.15g", v);
        if (strtod(t, NULL) != v) snprintf(t, sizeof(t), "%.17g", v);
        buf_append_str(o, t);
    }
}

void pm_sample_f(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                 int nb, double v) {
    buf_append_str(o, name);
    labels(o, a, na, b, nb);
    buf_append_str(o, " ");
    fmt_double(o, v);
    buf_append_str(o, "\n");
}

/* ---- histograms ---- */

void pm_hist_init(pm_hist_t *h, const double *bounds, int nb) {
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->nb = nb > PM_HIST_MAX ? PM_HIST_MAX : nb;
}

void pm_hist_write(buf_t *o, const char *name, const pm_label_t *a, int na, const pm_label_t *b,
                   int nb, const pm_hist_t *h) {
    char nm[160], le[40];
    pm_label_t lb[17];
    int n = nb > 16 ? 16 : nb;
    for (int i = 0; i < n; i++) lb[i] = b[i];
    snprintf(nm, sizeof(nm), "%s_bucket", name);
    uint64_t cum = 0;
    for (int i = 0; i <= h->nb; i++) {
        cum += h->counts[i];
        if (i < h->nb) {
            buf_t t = {0};
            fmt_double(&t, h->bounds[i]);
            snprintf(le, sizeof(le), "%.*s", (int)t.len, (const char *)t.data);
            buf_free(&t);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        lb[n] = (pm_label_t){"le", le};
        pm_sample_i64(o, nm, a, na, lb, n + 1, (int64_t)cum);
    }
    snprintf(nm, sizeof(nm), "%s_sum", name);
    pm_sample_f(o, nm, a, na, b, nb, h->sum);
    snprintf(nm, sizeof(nm), "%s_count", name);
    pm_sample_i64(o, nm, a, na, b, nb, (int64_t)h->count);
}

/* Bucket i covers (ub(i-1), ub(i)]; 4 per octave: i = 4*msb + next two bits. */
static int lat_index(uint64_t us) {
    if (us < 4) return (int)us;
    int msb = 63 - __builtin_clzll(us);
    int sub = (int)((us >> (msb - 2)) & 3);
    int i = (msb - 1) * 4 + sub;
    return i >= PM_LAT_BUCKETS ? PM_LAT_BUCKETS - 1 : i;
}

static double lat_upper(int i) {
    if (i < 4) return (double)i;
    int msb = i / 4 + 1, sub = i % 4;
    return (double)((uint64_t)(4 + sub + 1) << (msb - 2)) - 1;
}

void pm_lat_observe(pm_lat_t *l, uint64_t us) {
    l->counts[lat_index(us)]++;
    l->count++;
    l->sum_us += us;
}

double pm_lat_quantile(const pm_lat_t *l, double q) {
    if (!l->count) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)l->count);
    if (want < 1) want = 1;
    uint64_t cum = 0;
    for (int i = 0; i < PM_LAT_BUCKETS; i++) {
        cum += l->counts[i];
        if (cum >= want) return lat_upper(i);
    }
    return lat_upper(PM_LAT_BUCKETS - 1);
}

/* ---- process ---- */

int64_t pm_process_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long size = 0, res = 0;
    int n = fscanf(f, "%lld %lld", &size, &res);
    fclose(f);
    if (n != 2) return -1;
    return (int64_t)res * sysconf(_SC_PAGESIZE);
}

int64_t pm_process_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

void pm_process_write(buf_t *o, const char *server, int64_t start_ms) {
    char help[128];
    pm_family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    pm_sample_i64(o, "process_resident_memory_bytes", NULL, 0, NULL, 0, pm_process_rss());
    pm_family(o, "process_open_fds", "gauge", "Open file descriptors.");
    pm_sample_i64(o, "process_open_fds", NULL, 0, NULL, 0, pm_process_open_fds());
    snprintf(help, sizeof(help), "Start time of the %s since the Unix epoch in seconds.", server);
    pm_family(o, "process_start_time_seconds", "gauge", help);
    pm_sample_f(o, "process_start_time_seconds", NULL, 0, NULL, 0, (double)start_ms / 1000.0);
}

/* ---- loop bridge ---- */

static void on_bridge_async(uv_async_t *a) {
    pm_bridge_t *br = a->data;
    pthread_mutex_lock(&br->mu);
    if (br->target && !br->done) {
        br->render(br->target, br->arg);
        br->done = 1;
        pthread_cond_broadcast(&br->cv);
    }
    pthread_mutex_unlock(&br->mu);
}

int pm_bridge_init(pm_bridge_t *br, uv_loop_t *loop, pm_render_fn render, void *arg) {
    memset(br, 0, sizeof(*br));
    pthread_mutex_init(&br->mu, NULL);
    pthread_mutex_init(&br->call_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&br->cv, &ca);
    pthread_condattr_destroy(&ca);
    br->render = render;
    br->arg = arg;
    br->async.data = br;
    return uv_async_init(loop, &br->async, on_bridge_async);
}

int pm_bridge_call(pm_bridge_t *br, buf_t *out, int timeout_ms) {
    pthread_mutex_lock(&br->call_mu);
    pthread_mutex_lock(&br->mu);
    if (br->closed) {
        pthread_mutex_unlock(&br->mu);
        pthread_mutex_unlock(&br->call_mu);
        return -1;
    }
    br->target = out;
    br->done = 0;
    uv_async_send(&br->async);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (!br->done && !br->closed)
        if (pthread_cond_timedwait(&br->cv, &br->mu, &dl) == ETIMEDOUT) break;
    int ok = br->done;
    br->target = NULL; /* withdrawn: a late async does nothing */
    pthread_mutex_unlock(&br->mu);
    pthread_mutex_unlock(&br->call_mu);
    return ok ? 0 : -1;
}

void pm_bridge_close(pm_bridge_t *br, uv_close_cb closed_cb) {
    pthread_mutex_lock(&br->mu);
    br->closed = 1;
    pthread_cond_broadcast(&br->cv);
    pthread_mutex_unlock(&br->mu);
    uv_close((uv_handle_t *)&br->async, closed_cb);
}

void pm_bridge_destroy(pm_bridge_t *br) {
    pthread_mutex_destroy(&br->mu);
    pthread_mutex_destroy(&br->call_mu);
    pthread_cond_destroy(&br->cv);
}
