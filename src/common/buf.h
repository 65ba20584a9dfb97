/*
 * buf: a growable byte buffer used by encoders (frames, JSON bodies).
 * Growth aborts on OOM like every broker allocation (util.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_BUF_H
#define PETREL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct buf_s {
    uint8_t *data; /* bytes, or NULL while empty */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
/* Makes room for n more bytes; returns a pointer to the first free byte. */
uint8_t *buf_reserve(buf_t *b, size_t n);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_append_str(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_be32(buf_t *b, uint32_t v);
void buf_put_be16(buf_t *b, uint16_t v);
void buf_put_be64(buf_t *b, uint64_t v);
static inline void buf_put_u8(buf_t *b, uint8_t v) { buf_append(b, &v, 1); }
/* Appends s as a JSON string literal with quotes, escaping as JSON requires. */
void buf_json_str(buf_t *b, const char *s, size_t n);
/* Takes the bytes out of the buffer: the caller frees the result; b is emptied. */
uint8_t *buf_steal(buf_t *b, size_t *len);
static inline void buf_reset(buf_t *b) { b->len = 0; }

#endif
