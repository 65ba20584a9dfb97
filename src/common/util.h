/*
 * util: small helpers every subsystem uses: clocks, checked allocation,
 * byte-order helpers, atomic file replacement, fastjson key quoting.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_UTIL_H
#define PETREL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Wall clock in milliseconds since the epoch (what RocketMQ stores). */
int64_t now_ms(void);
/* Monotonic clock in milliseconds / nanoseconds, for timeouts and latency. */
int64_t mono_ms(void);
int64_t mono_ns(void);

/* Names the calling thread (at most 15 characters shown) so `top -H` and perf tell threads apart. */
void thread_name(const char *name);

/* Allocation that aborts with file:line on OOM: the broker cannot go on without memory. */
void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t n, size_t m, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, m) xcalloc_at((n), (m), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_at((s), __FILE__, __LINE__)

/* An assertion that stays on in release builds, for cheap invariants. */
#define PETREL_ASSERT(c) ((c) ? (void)0 : petrel_assert_fail(#c, __FILE__, __LINE__))
void petrel_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* Big-endian loads and stores (the wire and the commit log are big-endian). */
static inline uint16_t be16_get(const void *p) {
    const uint8_t *b = p;
    return (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t be32_get(const void *p) {
    const uint8_t *b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static inline uint64_t be64_get(const void *p) {
    const uint8_t *b = p;
    return ((uint64_t)be32_get(b) << 32) | be32_get(b + 4);
}
static inline void be16_put(void *p, uint16_t v) {
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}
static inline void be32_put(void *p, uint32_t v) {
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}
static inline void be64_put(void *p, uint64_t v) {
    be32_put(p, (uint32_t)(v >> 32));
    be32_put((uint8_t *)p + 4, (uint32_t)v);
}

/*
 * Replaces `path` with `len` bytes durably: write a temp file (looping on
 * short writes and EINTR), fsync it, rename over `path`, fsync the directory.
 * Readers see either the old or the new content, never a half-written file.
 * Returns 0 or -errno.
 */
int file_write_atomic(const char *path, const void *data, size_t len);
/* Reads a whole file into a NUL-terminated malloc'd buffer. Returns 0 or -errno. */
int file_read_all(const char *path, char **out, size_t *len);
/* mkdir -p. Returns 0 or -errno. */
int mkdir_p(const char *path, int mode);

/*
 * Java's String.hashCode of UTF-8 text: decoded to UTF-16 as Java's decoder
 * does (malformed bytes become U+FFFD), h = 31*h + unit. Tag codes in
 * consume queues, subscriptions and index keys all use it, so a client, the
 * broker and the filter agree on any bytes.
 */
int32_t java_string_hash(const char *s, size_t len);

/* fastjson writes bare integer keys ({0:1}); quotes them ({"0":1}) so cJSON reads the text.
 * Returns a malloc'd NUL-terminated copy. */
char *json_quote_int_keys(const char *text, size_t len);

#endif
