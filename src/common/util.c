/*
 * util: see util.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void thread_name(const char *name) {
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    (void)pthread_setname_np(pthread_self(), n);
}

static void oom(size_t n, const char *file, int line) {
    fprintf(stderr, "fatal: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n, file, line);
    return p;
}

void *xcalloc_at(size_t n, size_t m, const char *file, int line) {
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom(n * m, file, line);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n, file, line);
    return q;
}

char *xstrdup_at(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

void petrel_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "fatal: assertion failed: %s at %s:%d\n", expr, file, line);
    abort();
}

int file_write_atomic(const char *path, const void *data, size_t len) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int file_read_all(const char *path, char **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int mkdir_p(const char *path, int mode) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) return -errno;
            buf[i] = c;
        }
    }
    return 0;
}

int32_t java_string_hash(const char *s, size_t len) {
    /* Java hashes UTF-16 code units: decode UTF-8, split supplementary code
     * points into surrogate pairs, and hash malformed bytes as U+FFFD like
     * Java's decoder, so non-ASCII tags get the codes Java clients compute. */
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    uint32_t h = 0;
    while (p < end) {
        uint32_t cp = *p, need = 0, min = 0;
        if (cp < 0x80) {
            p++;
            h = 31 * h + cp;
            continue;
        } else if ((cp & 0xE0) == 0xC0) {
            cp &= 0x1F, need = 1, min = 0x80;
        } else if ((cp & 0xF0) == 0xE0) {
            cp &= 0x0F, need = 2, min = 0x800;
        } else if ((cp & 0xF8) == 0xF0) {
            cp &= 0x07, need = 3, min = 0x10000;
        } else {
            p++;
            h = 31 * h + 0xFFFD;
            continue;
        }
        const uint8_t *q = p + 1;
        uint32_t i = 0;
        for (; i < need && q < end && (*q & 0xC0) == 0x80; i++, q++) cp = (cp << 6) | (*q & 0x3F);
        if (i < need || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            p++;
            h = 31 * h + 0xFFFD;
            continue;
        }
        p = q;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

char *json_quote_int_keys(const char *text, size_t n) {
    char *out = xmalloc(n * 2 + 1);
    size_t o = 0;
    int in_str = 0;
    char prev = 0; /* last non-space structural char outside strings */
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < n) out[o++] = text[++i];
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            out[o++] = c;
            prev = c;
            continue;
        }
        if ((prev == '{' || prev == ',') && (isdigit((unsigned char)c) || c == '-')) {
            /* Is this a bare key (digits then ':')? */
            size_t j = i + 1;
            while (j < n && isdigit((unsigned char)text[j])) j++;
            size_t k = j;
            while (k < n && isspace((unsigned char)text[k])) k++;
            if (k < n && text[k] == ':') {
                out[o++] = '"';
                memcpy(out + o, text + i, j - i);
                o += j - i;
                out[o++] = '"';
                i = j - 1;
                prev = '"';
                continue;
            }
        }
        out[o++] = c;
        if (!isspace((unsigned char)c)) prev = c;
    }
    out[o] = 0;
    return out;
}
