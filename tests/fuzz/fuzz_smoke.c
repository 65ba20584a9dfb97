/*
 * fuzz_smoke: a libFuzzer-free driver for fuzz_frame.c so every ctest run
 * fuzzes a little: the seed corpus, then deterministic random mutations of
 * it (bit flips, byte sets, interesting integers, inserts, deletes,
 * truncation, splices), bounded by iterations and by time.
 *
 * Usage: fuzz_smoke [seed-dir] [iterations] [seconds]
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t *p;
    size_t n;
} blob_t;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const uint32_t k_interesting[] = {0, 1, 3, 4, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                         0x00ffffff, 0x01000000, 0x7fffffff, 0x80000000u,
                                         0xffffffffu, 21, 13, 17};

static size_t mutate(uint8_t *b, size_t n, size_t cap, const blob_t *seeds, int nseeds) {
    int k = 1 + (int)(rnd() % 4);
    while (k--) {
        switch (rnd() % 8) {
        case 0: if (n) b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: if (n) b[rnd() % n] = (uint8_t)rnd(); break;
        case 2:
            if (n >= 4) {
                uint32_t v = k_interesting[rnd() % (sizeof(k_interesting) / 4)];
                size_t at = rnd() % (n - 3);
                b[at] = (uint8_t)(v >> 24); b[at + 1] = (uint8_t)(v >> 16);
                b[at + 2] = (uint8_t)(v >> 8); b[at + 3] = (uint8_t)v;
            }
            break;
        case 3: if (n < cap) {
                size_t at = rnd() % (n + 1);
                memmove(b + at + 1, b + at, n - at);
                b[at] = "{}[]\":,\\u0tfn-1e."[rnd() % 17];
                n++;
            }
            break;
        case 4: if (n) {
                size_t at = rnd() % n, len = 1 + rnd() % 8;
                if (len > n - at) len = n - at;
                memmove(b + at, b + at + len, n - at - len);
                n -= len;
            }
            break;
        case 5: if (n) n = rnd() % n; break;
        case 6: { /* splice a piece of another seed */
            const blob_t *s = &seeds[rnd() % (size_t)nseeds];
            if (!s->n) break;
            size_t from = rnd() % s->n, len = 1 + rnd() % 32;
            if (len > s->n - from) len = s->n - from;
            size_t at = n ? rnd() % n : 0;
            if (at + len > cap) break;
            memcpy(b + at, s->p + from, len);
            if (at + len > n) n = at + len;
            break;
        }
        case 7: /* fix up the length word so the frame is consistent */
            if (n >= 4) {
                uint32_t l = (uint32_t)(n - 4);
                b[0] = (uint8_t)(l >> 24); b[1] = (uint8_t)(l >> 16);
                b[2] = (uint8_t)(l >> 8); b[3] = (uint8_t)l;
            }
            break;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/seeds";
    long iters = argc > 2 ? atol(argv[2]) : 300000;
    double secs = argc > 3 ? atof(argv[3]) : 10.0;
    blob_t seeds[256];
    int nseeds = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_smoke: cannot open %s\n", dir);
        return 1;
    }
    struct dirent *de;
    while ((de = readdir(d)) && nseeds < 256) {
        if (de->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t *p = malloc(1 << 16);
        size_t n = fread(p, 1, 1 << 16, f);
        fclose(f);
        seeds[nseeds].p = p;
        seeds[nseeds].n = n;
        nseeds++;
        LLVMFuzzerTestOneInput(p, n);
    }
    closedir(d);
    if (nseeds == 0) {
        fprintf(stderr, "fuzz_smoke: no seeds in %s\n", dir);
        return 1;
    }
    size_t cap = 1 << 17;
    uint8_t *b = malloc(cap);
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; i++) {
        if ((i & 1023) == 0 && now_s() - t0 > secs) break;
        const blob_t *s = &seeds[rnd() % (size_t)nseeds];
        memcpy(b, s->p, s->n);
        size_t n = mutate(b, s->n, cap, seeds, nseeds);
        LLVMFuzzerTestOneInput(b, n);
    }
    printf("fuzz_smoke: %d seeds, %ld mutated inputs in %.1f s, no failure\n", nseeds, i,
           now_s() - t0);
    free(b);
    for (int k = 0; k < nseeds; k++) free(seeds[k].p);
    return 0;
}
