/*
 * msgprops: see msgprops.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/msgprops.h"

#include <string.h>

int msgprops_next(msgprops_iter_t *it, const char **key, size_t *klen, const char **val,
                  size_t *vlen) {
    while (it->pos < it->len) {
        const char *item = it->p + it->pos;
        size_t rest = it->len - it->pos;
        const char *end = memchr(item, MSGPROP_SEP, rest);
        size_t ilen = end ? (size_t)(end - item) : rest;
        it->pos += ilen + (end ? 1 : 0);
        if (ilen < 3) continue;
        const char *sep = memchr(item, MSGPROP_NAME_SEP, ilen);
        if (!sep || sep == item || sep == item + ilen - 1) continue;
        *key = item;
        *klen = (size_t)(sep - item);
        *val = sep + 1;
        *vlen = ilen - *klen - 1;
        return 1;
    }
    return 0;
}

int msgprops_find_n(const char *props, size_t len, const char *key, size_t klen, const char **val,
                    size_t *vlen) {
    if (!props || len == 0) return 0;
    if (klen == 0 || memchr(key, MSGPROP_NAME_SEP, klen) || memchr(key, MSGPROP_SEP, klen)) {
        /* degenerate keys: the general iterator */
        msgprops_iter_t it;
        msgprops_iter_init(&it, props, len);
        const char *k, *v;
        size_t kl, vl;
        while (msgprops_next(&it, &k, &kl, &v, &vl)) {
            if (kl == klen && memcmp(k, key, klen) == 0) {
                *val = v;
                *vlen = vl;
                return 1;
            }
        }
        return 0;
    }
    /* Hot path (several lookups per message): one pass, one memchr per item; an item matches
     * when it starts with key, NAME_SEP and has a non-empty value (as msgprops_next). */
    const char *p = props, *end = props + len;
    const char k0 = key[0];
    while (p < end) {
        size_t rest = (size_t)(end - p);
        if (*p == k0 && rest >= klen + 2 && p[klen] == MSGPROP_NAME_SEP && memcmp(p, key, klen) == 0) {
            const char *v = p + klen + 1;
            const char *e = memchr(v, MSGPROP_SEP, (size_t)(end - v));
            size_t vl = e ? (size_t)(e - v) : (size_t)(end - v);
            if (vl > 0) {
                *val = v;
                *vlen = vl;
                return 1;
            }
            p = e ? e + 1 : end;
            continue;
        }
        const char *e = memchr(p, MSGPROP_SEP, rest);
        p = e ? e + 1 : end;
    }
    return 0;
}

static int plain_key(const char *k, size_t l) {
    return l > 0 && !memchr(k, MSGPROP_NAME_SEP, l) && !memchr(k, MSGPROP_SEP, l);
}

int msgprops_find2(const char *props, size_t len, const char *k1, size_t l1, const char **v1,
                   size_t *vl1, const char *k2, size_t l2, const char **v2, size_t *vl2) {
    if (!props || len == 0) return 0;
    if (!plain_key(k1, l1) || !plain_key(k2, l2))
        return msgprops_find_n(props, len, k1, l1, v1, vl1) |
               msgprops_find_n(props, len, k2, l2, v2, vl2) << 1;
    int found = 0;
    const char *p = props, *end = props + len;
    while (p < end && found != 3) {
        const char *e = memchr(p, MSGPROP_SEP, (size_t)(end - p));
        if (!e) e = end;
        size_t il = (size_t)(e - p);
        if (!(found & 1) && il >= l1 + 2 && p[l1] == MSGPROP_NAME_SEP && memcmp(p, k1, l1) == 0) {
            *v1 = p + l1 + 1;
            *vl1 = il - l1 - 1;
            found |= 1;
        }
        if (!(found & 2) && il >= l2 + 2 && p[l2] == MSGPROP_NAME_SEP &&
                   memcmp(p, k2, l2) == 0) {
            *v2 = p + l2 + 1;
            *vl2 = il - l2 - 1;
            found |= 2;
        }
        p = e + 1;
    }
    return found;
}

uint64_t msgprops_sig(const char *props, size_t len) {
    uint64_t sig = 0;
    if (!props) return 0;
    msgprops_iter_t it;
    msgprops_iter_init(&it, props, len);
    const char *k, *v;
    size_t kl, vl;
    while (msgprops_next(&it, &k, &kl, &v, &vl)) sig |= msgprops_sig_bit(k, kl);
    return sig;
}

int msgprops_find(const char *props, size_t len, const char *key, const char **val, size_t *vlen) {
    return msgprops_find_n(props, len, key, strlen(key), val, vlen);
}

void msgprops_append_n(buf_t *b, const char *key, size_t klen, const char *val, size_t vlen) {
    uint8_t *d = buf_reserve(b, klen + vlen + 2);
    memcpy(d, key, klen);
    d[klen] = MSGPROP_NAME_SEP;
    memcpy(d + klen + 1, val, vlen);
    d[klen + 1 + vlen] = MSGPROP_SEP;
    b->len += klen + vlen + 2;
}

void msgprops_append(buf_t *b, const char *key, const char *val) {
    msgprops_append_n(b, key, strlen(key), val, strlen(val));
}

void msgprops_copy_without(buf_t *b, const char *props, size_t len, const char *key) {
    size_t kl0 = key ? strlen(key) : 0;
    msgprops_iter_t it;
    msgprops_iter_init(&it, props, len);
    const char *k, *v;
    size_t kl, vl;
    while (msgprops_next(&it, &k, &kl, &v, &vl)) {
        if (key && kl == kl0 && memcmp(k, key, kl) == 0) continue;
        msgprops_append_n(b, k, kl, v, vl);
    }
}

size_t msgprops_remove(char *props, size_t len, const char *key) {
    size_t klen = strlen(key);
    size_t r = 0, w = 0;
    while (r < len) {
        const char *end = memchr(props + r, MSGPROP_SEP, len - r);
        size_t ilen = end ? (size_t)(end - (props + r)) : len - r;
        size_t step = ilen + (end ? 1 : 0);
        int drop =
            ilen > klen && props[r + klen] == MSGPROP_NAME_SEP && memcmp(props + r, key, klen) == 0;
        if (!drop) {
            memmove(props + w, props + r, step);
            w += step;
        }
        r += step;
    }
    return w;
}

int32_t msgprops_java_hash(const char *s, size_t len) {
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    /* ASCII runs 8 bytes at a time: h = h*31^8 + sum c_j*31^(7-j) (mod 2^32) */
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull) break;
        h = h * 2487512833u /* 31^8 mod 2^32 */ + p[i] * 1742810335u + p[i + 1] * 887503681u +
            p[i + 2] * 28629151u + p[i + 3] * 923521u + p[i + 4] * 29791u + p[i + 5] * 961u +
            p[i + 6] * 31u + p[i + 7];
        i += 8;
    }
    while (i < len) {
        uint32_t c = p[i];
        if (c < 0x80) {
            h = 31 * h + c;
            i++;
            continue;
        }
        /* UTF-8 to a code point, then UTF-16 units; invalid bytes count as U+FFFD (Java). */
        uint32_t cp = 0xfffd;
        size_t n = 1;
        if ((c & 0xe0) == 0xc0 && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
            cp = ((c & 0x1f) << 6) | (p[i + 1] & 0x3f);
            n = 2;
        } else if ((c & 0xf0) == 0xe0 && i + 2 < len && (p[i + 1] & 0xc0) == 0x80 &&
                   (p[i + 2] & 0xc0) == 0x80) {
            cp = ((c & 0x0f) << 12) | ((p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f);
            n = 3;
        } else if ((c & 0xf8) == 0xf0 && i + 3 < len && (p[i + 1] & 0xc0) == 0x80 &&
                   (p[i + 2] & 0xc0) == 0x80 && (p[i + 3] & 0xc0) == 0x80) {
            cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3f) << 12) | ((p[i + 2] & 0x3f) << 6) |
                 (p[i + 3] & 0x3f);
            n = 4;
        }
        i += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int64_t msgprops_tags_code(const char *props, size_t len) {
    const char *v;
    size_t vl;
    if (!msgprops_find_n(props, len, MSGPROP_TAGS, 4, &v, &vl)) return 0;
    return (int64_t)msgprops_java_hash(v, vl);
}
