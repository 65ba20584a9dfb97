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

/*
 * One code point of UTF-8 with Java's decoder rules (StandardCharsets.UTF_8,
 * REPLACE): a malformed sequence becomes one U+FFFD per "maximal subpart"
 * (an overlong or out-of-range second byte ends it after the lead byte; a
 * truncated sequence is one U+FFFD), except that an encoded surrogate
 * (ED A0-BF 80-BF) is one U+FFFD for all three bytes, as Java does.
 */
static uint32_t utf8_next_java(const uint8_t *s, size_t len, size_t *i) {
    uint8_t b = s[*i];
    int need;
    uint32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        cp = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) {
            if (*i + 2 < len && s[*i + 1] >= 0xA0 && s[*i + 1] <= 0xBF &&
                (s[*i + 2] & 0xC0) == 0x80) {
                *i += 3;
                return 0xFFFD;
            }
            hi = 0x9F;
        }
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        cp = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    (*i)++;
    for (int k = 0; k < need; k++) {
        if (*i >= len || s[*i] < lo || s[*i] > hi) return 0xFFFD;
        cp = (cp << 6) | (s[*i] & 0x3F);
        (*i)++;
        lo = 0x80;
        hi = 0xBF;
    }
    return cp;
}

int32_t java_string_hash(const char *s, size_t len) {
    const uint8_t *p = (const uint8_t *)s;
    uint32_t h = 0;
    size_t i = 0;
    while (i < len) {
        /* ASCII 8 bytes at a time: h = h*31^8 + sum c_j*31^(7-j) (mod 2^32) */
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                h = h * 2487512833u /* 31^8 mod 2^32 */ + p[i] * 1742810335u +
                    p[i + 1] * 887503681u + p[i + 2] * 28629151u + p[i + 3] * 923521u +
                    p[i + 4] * 29791u + p[i + 5] * 961u + p[i + 6] * 31u + p[i + 7];
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            h = 31 * h + p[i++];
            continue;
        }
        uint32_t cp = utf8_next_java(p, len, &i);
        if (cp >= 0x10000) { /* a surrogate pair in UTF-16 */
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
