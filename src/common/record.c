/*
 * record: see record.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/record.h"

#include <stdatomic.h>
#include <string.h>
#include <zlib.h>

#include "common/util.h"

/*
 * CRC-32 (IEEE, reflected 0xEDB88320, as zlib and java.util.zip.CRC32),
 * slicing-by-8 for small bodies: the system zlib has a fixed cost per call
 * (~300 ns here) larger than the rest of a 100-byte append; zlib's braided
 * code is used for large bodies, where it is faster per byte.
 */
static uint32_t crc_tab[8][256];

__attribute__((constructor)) static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

#if defined(__x86_64__)
#include <immintrin.h>
#define CRC_HAVE_CLMUL 1
static int crc_clmul; /* the CPU has PCLMULQDQ and SSE4.1 */

/* One folding step: x (128 bits) times the constant pair k, plus the next 16 bytes y. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i crc_fold(__m128i x, __m128i k,
                                                                        __m128i y) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), y);
}

/*
 * Carry-less multiplication folding (Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ"), with the bit-reflected constants of
 * 0xEDB88320. Takes and returns the running (uninverted) CRC state; len >= 64
 * and a multiple of 16.
 */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_clmul_fold(const uint8_t *p, size_t len, uint32_t state) {
    const __m128i k12 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
    const __m128i k34 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);
    const __m128i pmu = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL); /* P', mu */
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i a = _mm_loadu_si128((const __m128i *)p), b = _mm_loadu_si128((const __m128i *)(p + 16)),
            c = _mm_loadu_si128((const __m128i *)(p + 32)),
            d = _mm_loadu_si128((const __m128i *)(p + 48));
    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)state));
    p += 64;
    len -= 64;
    for (; len >= 64; p += 64, len -= 64) {
        a = crc_fold(a, k12, _mm_loadu_si128((const __m128i *)p));
        b = crc_fold(b, k12, _mm_loadu_si128((const __m128i *)(p + 16)));
        c = crc_fold(c, k12, _mm_loadu_si128((const __m128i *)(p + 32)));
        d = crc_fold(d, k12, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    a = crc_fold(a, k34, b);
    a = crc_fold(a, k34, c);
    a = crc_fold(a, k34, d);
    for (; len >= 16; p += 16, len -= 16)
        a = crc_fold(a, k34, _mm_loadu_si128((const __m128i *)p));
    /* 128 -> 64 -> 32 bits, then Barrett reduction */
    a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k34, 0x10));
    __m128i t = _mm_srli_si128(a, 4);
    a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);
    t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), pmu, 0x10), low32);
    a = _mm_xor_si128(a, _mm_clmulepi64_si128(t, pmu, 0x00));
    return (uint32_t)_mm_extract_epi32(a, 1);
}

__attribute__((constructor)) static void crc_detect(void) {
    __builtin_cpu_init();
    crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#endif

static uint32_t crc32_ieee(const uint8_t *p, size_t len) {
    uint32_t c = 0xffffffffu;
#ifdef CRC_HAVE_CLMUL
    if (crc_clmul && len >= 64) {
        size_t n = len & ~(size_t)15;
        c = crc_clmul_fold(p, n, c);
        p += n;
        len -= n;
    }
#endif
    while (len && ((uintptr_t)p & 7)) {
        c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
            crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
            crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t record_body_crc(const void *body, size_t len) {
    if (len == 0) return 0;
#ifdef CRC_HAVE_CLMUL
    if (crc_clmul) return crc32_ieee(body, len) & 0x7fffffffu;
#endif
    if (len <= 512) return crc32_ieee(body, len) & 0x7fffffffu;
    uLong c = crc32(0L, Z_NULL, 0);
    const uint8_t *p = body;
    while (len > 0) { /* zlib takes uInt lengths */
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c & 0x7fffffffu;
}

uint32_t record_encode(const record_fields_t *f, uint8_t *dst, size_t cap) {
    if (f->topic_len == 0 || f->topic_len > RECORD_MAX_TOPIC_V1) return 0;
    if (f->props_len > RECORD_MAX_PROPS) return 0;
    uint64_t total = (uint64_t)RECORD_FIXED_V4 + f->body_len + f->topic_len + f->props_len;
    if (total > cap || total > INT32_MAX) return 0;
    uint8_t *p = dst + 4;
    be32_put(p, RECORD_MAGIC_V1), p += 4;
    be32_put(p, f->body_crc), p += 4;
    be32_put(p, (uint32_t)f->queue_id), p += 4;
    be32_put(p, (uint32_t)f->flag), p += 4;
    be64_put(p, (uint64_t)f->queue_offset), p += 8;
    be64_put(p, (uint64_t)f->phys_offset), p += 8;
    be32_put(p, (uint32_t)f->sys_flag &
                    ~(uint32_t)(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6)),
        p += 4;
    be64_put(p, (uint64_t)f->born_ts), p += 8;
    be32_put(p, f->born_ip), p += 4;
    be32_put(p, (uint32_t)f->born_port), p += 4;
    be64_put(p, (uint64_t)f->store_ts), p += 8;
    be32_put(p, f->store_ip), p += 4;
    be32_put(p, (uint32_t)f->store_port), p += 4;
    be32_put(p, (uint32_t)f->reconsume_times), p += 4;
    be64_put(p, (uint64_t)f->prepared_tx_offset), p += 8;
    be32_put(p, f->body_len), p += 4;
    if (f->body_len) memcpy(p, f->body, f->body_len);
    p += f->body_len;
    *p++ = (uint8_t)f->topic_len;
    memcpy(p, f->topic, f->topic_len);
    p += f->topic_len;
    be16_put(p, (uint16_t)f->props_len), p += 2;
    if (f->props_len) memcpy(p, f->props, f->props_len);
    /* TOTALSIZE last: a record torn mid-copy into zeroed space reads as size 0. */
    atomic_signal_fence(memory_order_release);
    be32_put(dst, (uint32_t)total);
    return (uint32_t)total;
}

void record_encode_blank(uint8_t *dst, uint32_t remaining) {
    be32_put(dst + 4, RECORD_MAGIC_BLANK);
    atomic_signal_fence(memory_order_release);
    be32_put(dst, remaining);
}

record_status_t record_decode(const uint8_t *p, size_t len, record_view_t *v, int flags) {
    memset(v, 0, sizeof(*v));
    v->base = p;
    if (len < 8) return RECORD_TRUNCATED;
    uint32_t total = be32_get(p);
    uint32_t magic = be32_get(p + 4);
    v->total_size = total;
    v->magic = magic;
    if (magic == RECORD_MAGIC_BLANK) return RECORD_BLANK;
    if (magic != RECORD_MAGIC_V1 && magic != RECORD_MAGIC_V2) return RECORD_CORRUPT;
    if (total < RECORD_FIXED_V4 || total > INT32_MAX) return RECORD_CORRUPT;
    if (total > len) return RECORD_TRUNCATED;
    v->body_crc = be32_get(p + RECORD_POS_BODYCRC);
    v->queue_id = (int32_t)be32_get(p + RECORD_POS_QUEUEID);
    v->flag = (int32_t)be32_get(p + RECORD_POS_FLAG);
    v->queue_offset = (int64_t)be64_get(p + RECORD_POS_QUEUEOFFSET);
    v->phys_offset = (int64_t)be64_get(p + RECORD_POS_PHYSOFFSET);
    v->sys_flag = (int32_t)be32_get(p + RECORD_POS_SYSFLAG);
    v->born_ts = (int64_t)be64_get(p + RECORD_POS_BORNTS);
    uint32_t bh = (v->sys_flag & MSG_SYSFLAG_BORNHOST_V6) ? 20 : 8;
    uint32_t sh = (v->sys_flag & MSG_SYSFLAG_STOREHOST_V6) ? 20 : 8;
    uint32_t tl_w = magic == RECORD_MAGIC_V2 ? 2 : 1;
    /* fixed part up to and including BODYLEN */
    size_t pos = RECORD_POS_BORNHOST;
    if ((size_t)pos + bh + 8 + sh + 4 + 8 + 4 > total) return RECORD_CORRUPT;
    v->born_host = p + pos, v->born_host_len = bh, pos += bh;
    v->store_ts = (int64_t)be64_get(p + pos), pos += 8;
    v->store_host = p + pos, v->store_host_len = sh, pos += sh;
    v->reconsume_times = (int32_t)be32_get(p + pos), pos += 4;
    v->prepared_tx_offset = (int64_t)be64_get(p + pos), pos += 8;
    uint32_t body_len = be32_get(p + pos);
    pos += 4;
    if (body_len > total || pos + body_len + tl_w > total) return RECORD_CORRUPT;
    v->body = p + pos, v->body_len = body_len, pos += body_len;
    uint32_t tl = tl_w == 2 ? be16_get(p + pos) : p[pos];
    pos += tl_w;
    if (pos + tl + 2 > total) return RECORD_CORRUPT;
    v->topic = (const char *)p + pos, v->topic_len = tl, pos += tl;
    uint32_t pl = be16_get(p + pos);
    pos += 2;
    if (pos + pl != total) return RECORD_CORRUPT;
    v->props = (const char *)p + pos, v->props_len = pl;
    if ((flags & RECORD_CHECK_CRC) && record_body_crc(v->body, body_len) != v->body_crc)
        return RECORD_CORRUPT;
    return RECORD_OK;
}

static const char HEX[] = "0123456789ABCDEF";

static char *hex_put(char *o, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *o++ = HEX[b[i] >> 4];
        *o++ = HEX[b[i] & 15];
    }
    return o;
}

/* 8 uppercase hex digits of 32-bit v, most significant first (nibbles spread into bytes). */
static inline uint64_t hex32_swar(uint64_t x) {
    x = ((x & 0xFFFF0000u) << 16) | (x & 0xFFFFu);
    x = ((x & 0x0000FF000000FF00ull) << 8) | (x & 0x000000FF000000FFull);
    x = ((x & 0x00F000F000F000F0ull) << 4) | (x & 0x000F000F000F000Full);
    uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull; /* nibble >= 10 */
    return __builtin_bswap64(x + 0x3030303030303030ull + letters * 7);
}

/* The message id's offset half, once per stored message: no loop, no table. */
void record_hex64(char *o, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t hi = hex32_swar(v >> 32), lo = hex32_swar(v & 0xFFFFFFFFu);
    memcpy(o, &hi, 8);
    memcpy(o + 8, &lo, 8);
#else
    uint8_t b[8];
    be64_put(b, v);
    hex_put(o, b, 8);
#endif
}

void record_msgid_encode(uint32_t store_ip, int32_t store_port, int64_t phys_offset, char *out) {
    /* the host half is the same for every message a broker stores: hex it once per thread */
    static __thread uint32_t c_ip, c_port;
    static __thread char c_hex[16];
    static __thread int c_ok;
    if (!c_ok || c_ip != store_ip || c_port != (uint32_t)store_port) {
        uint8_t h[8];
        be32_put(h, store_ip);
        be32_put(h + 4, (uint32_t)store_port);
        hex_put(c_hex, h, 8);
        c_ip = store_ip;
        c_port = (uint32_t)store_port;
        c_ok = 1;
    }
    memcpy(out, c_hex, 16);
    record_hex64(out + 16, (uint64_t)phys_offset);
    out[32] = 0;
}

size_t record_msgid_encode_host(const uint8_t *host, uint32_t host_len, int64_t phys_offset,
                                char *out) {
    uint8_t off[8];
    be64_put(off, (uint64_t)phys_offset);
    char *o = hex_put(out, host, host_len);
    o = hex_put(o, off, 8);
    *o = 0;
    return (size_t)(o - out);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int record_msgid_decode(const char *s, size_t len, uint8_t host[20], uint32_t *host_len,
                        int64_t *phys_offset) {
    if (len != 32 && len != 56) return -1;
    uint8_t b[28];
    for (size_t i = 0; i < len / 2; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        b[i] = (uint8_t)(h << 4 | l);
    }
    uint32_t hl = len == 32 ? 8 : 20;
    memcpy(host, b, hl);
    *host_len = hl;
    *phys_offset = (int64_t)be64_get(b + hl);
    return 0;
}

int record_batch_next(const uint8_t *p, size_t len, size_t *pos, record_batch_member_t *m) {
    size_t o = *pos;
    if (o >= len) return 0;
    if (len - o < 22) return -1;
    uint32_t total = be32_get(p + o);
    if (total < 22 || total > len - o) return -1;
    m->flag = (int32_t)be32_get(p + o + 12);
    uint32_t bl = be32_get(p + o + 16);
    if (bl > total - 22) return -1;
    m->body = p + o + 20;
    m->body_len = bl;
    uint32_t pl = be16_get(p + o + 20 + bl);
    if (22 + (uint64_t)bl + pl != total) return -1;
    m->props = (const char *)p + o + 22 + bl;
    m->props_len = pl;
    *pos = o + total;
    return 1;
}

size_t record_batch_encode(const record_batch_member_t *m, uint8_t *out, size_t cap) {
    if (m->props_len > RECORD_MAX_PROPS) return 0;
    uint64_t total = 22 + (uint64_t)m->body_len + m->props_len;
    if (total > cap || total > INT32_MAX) return 0;
    be32_put(out, (uint32_t)total);
    be32_put(out + 4, 0);
    be32_put(out + 8, 0);
    be32_put(out + 12, (uint32_t)m->flag);
    be32_put(out + 16, m->body_len);
    if (m->body_len) memcpy(out + 20, m->body, m->body_len);
    be16_put(out + 20 + m->body_len, (uint16_t)m->props_len);
    if (m->props_len) memcpy(out + 22 + m->body_len, m->props, m->props_len);
    return (size_t)total;
}
