/*
 * buf: see buf.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

void buf_init(buf_t *b) {
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free(buf_t *b) {
    free(b->data);
    buf_init(b);
}

uint8_t *buf_reserve(buf_t *b, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void buf_append(buf_t *b, const void *p, size_t n) {
    if (n == 0) return;
    memcpy(buf_reserve(b, n), p, n);
    b->len += n;
}

void buf_append_str(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        buf_append(b, small, (size_t)n);
        return;
    }
    uint8_t *dst = buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_put_be32(buf_t *b, uint32_t v) {
    be32_put(buf_reserve(b, 4), v);
    b->len += 4;
}

void buf_put_be16(buf_t *b, uint16_t v) {
    be16_put(buf_reserve(b, 2), v);
    b->len += 2;
}

void buf_put_be64(buf_t *b, uint64_t v) {
    be64_put(buf_reserve(b, 8), v);
    b->len += 8;
}

void buf_json_str(buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *d = buf_reserve(b, n * 6 + 2);
    size_t o = 0;
    d[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        switch (c) {
        case '"': d[o++] = '\\'; d[o++] = '"'; break;
        case '\\': d[o++] = '\\'; d[o++] = '\\'; break;
        case '\n': d[o++] = '\\'; d[o++] = 'n'; break;
        case '\r': d[o++] = '\\'; d[o++] = 'r'; break;
        case '\t': d[o++] = '\\'; d[o++] = 't'; break;
        default:
            if (c < 0x20) {
                d[o++] = '\\'; d[o++] = 'u'; d[o++] = '0'; d[o++] = '0';
                d[o++] = hex[c >> 4]; d[o++] = hex[c & 15];
            } else {
                d[o++] = c;
            }
        }
    }
    d[o++] = '"';
    b->len += o;
}

uint8_t *buf_steal(buf_t *b, size_t *len) {
    uint8_t *p = b->data;
    if (len) *len = b->len;
    buf_init(b);
    return p;
}
