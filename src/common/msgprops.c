/*
 * msgprops: see msgprops.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/msgprops.h"

#include "common/util.h"

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

int64_t msgprops_tags_code(const char *props, size_t len) {
    const char *v;
    size_t vl;
    if (!msgprops_find_n(props, len, MSGPROP_TAGS, 4, &v, &vl)) return 0;
    return (int64_t)java_string_hash(v, vl);
}
