/*
 * bench_hist: a log-linear latency histogram (HdrHistogram-like, 64 sub-buckets
 * per power of two, < 1.6% error) over nanoseconds. Fixed size, no malloc per
 * sample; one writer per histogram, readers sum snapshots.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CLI_BENCH_HIST_H
#define PETREL_CLI_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define BH_SUB_BITS 6
#define BH_SUB (1u << BH_SUB_BITS)
#define BH_BUCKETS (2 * BH_SUB + (64 - BH_SUB_BITS - 1) * BH_SUB)

typedef struct bench_hist_s {
    uint64_t count[BH_BUCKETS];
    uint64_t n;
    uint64_t sum_ns;
    uint64_t max_ns;
} bench_hist_t;

static inline unsigned bh_index(uint64_t v) {
    if (v < 2 * BH_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= BH_SUB_BITS + 1 */
    unsigned shift = e - BH_SUB_BITS;
    return 2 * BH_SUB + (e - BH_SUB_BITS - 1) * BH_SUB + (unsigned)((v >> shift) - BH_SUB);
}

/* Midpoint of bucket i. */
static inline uint64_t bh_value(unsigned i) {
    if (i < 2 * BH_SUB) return i;
    unsigned k = i - 2 * BH_SUB;
    unsigned e = k / BH_SUB + BH_SUB_BITS + 1, shift = e - BH_SUB_BITS;
    uint64_t m = (k % BH_SUB) + BH_SUB;
    return (m << shift) + ((1ull << shift) >> 1);
}

/* Single writer: plain relaxed stores keep concurrent readers well-defined. */
static inline void bh_record(bench_hist_t *h, uint64_t ns) {
    unsigned i = bh_index(ns);
    __atomic_store_n(&h->count[i], h->count[i] + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&h->sum_ns, h->sum_ns + ns, __ATOMIC_RELAXED);
    if (ns > h->max_ns) __atomic_store_n(&h->max_ns, ns, __ATOMIC_RELAXED);
    __atomic_store_n(&h->n, h->n + 1, __ATOMIC_RELAXED);
}

/* dst += src (reading src concurrently with its writer). */
static inline void bh_add(bench_hist_t *dst, const bench_hist_t *src) {
    for (unsigned i = 0; i < BH_BUCKETS; i++)
        dst->count[i] += __atomic_load_n(&src->count[i], __ATOMIC_RELAXED);
    dst->n += __atomic_load_n(&src->n, __ATOMIC_RELAXED);
    dst->sum_ns += __atomic_load_n(&src->sum_ns, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&src->max_ns, __ATOMIC_RELAXED);
    if (m > dst->max_ns) dst->max_ns = m;
}

/* a - b, bucket by bucket (an interval from two cumulative snapshots). max stays a's. */
static inline void bh_sub(bench_hist_t *out, const bench_hist_t *a, const bench_hist_t *b) {
    uint64_t n = 0;
    for (unsigned i = 0; i < BH_BUCKETS; i++) {
        out->count[i] = a->count[i] - b->count[i];
        n += out->count[i];
    }
    out->n = n;
    out->sum_ns = a->sum_ns - b->sum_ns;
    out->max_ns = 0;
    for (unsigned i = BH_BUCKETS; i-- > 0;)
        if (out->count[i]) {
            out->max_ns = bh_value(i);
            break;
        }
}

/* Value at quantile q (0..1) in ns; 0 when empty. */
static inline uint64_t bh_quantile(const bench_hist_t *h, double q) {
    uint64_t n = 0;
    for (unsigned i = 0; i < BH_BUCKETS; i++) n += h->count[i];
    if (!n) return 0;
    uint64_t rank = (uint64_t)(q * (double)n);
    if (rank >= n) rank = n - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BH_BUCKETS; i++) {
        seen += h->count[i];
        if (seen > rank) return h->max_ns && bh_value(i) > h->max_ns ? h->max_ns : bh_value(i);
    }
    return h->max_ns;
}

#endif
