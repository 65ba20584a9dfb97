/*
 * tagexpr: TAG subscription expressions and Java-compatible tag hash codes.
 * See tagexpr.h for the exact rules (they follow FilterAPI.buildSubscriptionData).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "filter/tagexpr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Decodes one code point with Unicode "maximal subpart" replacement, as Java's UTF-8 decoder. */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *i) {
    uint8_t b = s[*i];
    if (b < 0x80) {
        (*i)++;
        return b;
    }
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
            /* An encoded surrogate: Java's decoder replaces all three bytes with one U+FFFD. */
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

int32_t tag_hash_code(const char *s, size_t len) {
    const uint8_t *u = (const uint8_t *)s;
    uint32_t h = 0;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) { /* fast path */
            h = 31 * h + u[i++];
            continue;
        }
        uint32_t cp = utf8_next(u, len, &i);
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

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

int tag_expr_parse(const char *sub, tag_expr_t **out, char *err, size_t errlen) {
    *out = NULL;
    tag_expr_t *te = xcalloc(1, sizeof(*te));
    if (sub == NULL || sub[0] == '\0' || strcmp(sub, "*") == 0) {
        te->all = 1;
        *out = te;
        return 0;
    }
    size_t n = strlen(sub);
    /* Java split("\\|\\|"): parts between non-overlapping "||", trailing empty parts dropped. */
    size_t nparts = 0, last_nonempty = 0;
    for (size_t i = 0, start = 0;; i++) {
        if (i >= n || (sub[i] == '|' && i + 1 < n && sub[i + 1] == '|')) {
            nparts++;
            if (i > start) last_nonempty = nparts;
            if (i >= n) break;
            start = i + 2;
            i++;
        }
    }
    if (last_nonempty == 0) {
        set_err(err, errlen, "subString split error");
        free(te);
        return -1;
    }
    char **tags = xcalloc(nparts, sizeof(char *));
    size_t *lens = xcalloc(nparts, sizeof(size_t));
    int32_t *codes = xcalloc(nparts, sizeof(int32_t));
    size_t part = 0;
    for (size_t i = 0, start = 0; part < last_nonempty; i++) {
        if (i >= n || (sub[i] == '|' && i + 1 < n && sub[i + 1] == '|')) {
            size_t a = start, b = i;
            part++;
            /* Java String.trim: strip chars <= ' ' at both ends. */
            while (a < b && (uint8_t)sub[a] <= ' ')
                a++;
            while (b > a && (uint8_t)sub[b - 1] <= ' ')
                b--;
            if (b > a) {
                size_t len = b - a, k;
                for (k = 0; k < te->ntags; k++)
                    if (lens[k] == len && memcmp(tags[k], sub + a, len) == 0) break;
                if (k == te->ntags) {
                    char *t = xmalloc(len + 1);
                    memcpy(t, sub + a, len);
                    t[len] = '\0';
                    tags[te->ntags] = t;
                    lens[te->ntags++] = len;
                    int32_t code = tag_hash_code(t, len);
                    size_t c;
                    for (c = 0; c < te->ncodes; c++)
                        if (codes[c] == code) break;
                    if (c == te->ncodes) codes[te->ncodes++] = code;
                }
            }
            if (i >= n) break;
            start = i + 2;
            i++;
        }
    }
    te->tags = (const char **)tags;
    te->lens = lens;
    te->codes = codes;
    *out = te;
    return 0;
}

void tag_expr_free(tag_expr_t *te) {
    if (!te) return;
    for (size_t i = 0; i < te->ntags; i++)
        free((void *)te->tags[i]);
    free((void *)te->tags);
    free((void *)te->lens);
    free((void *)te->codes);
    free(te);
}

int tag_expr_match_code(const tag_expr_t *te, int64_t tags_code) {
    if (te->all) return 1;
    int32_t code = (int32_t)(uint32_t)(uint64_t)tags_code;
    for (size_t i = 0; i < te->ncodes; i++)
        if (te->codes[i] == code) return 1;
    return 0;
}

int tag_expr_match_tag(const tag_expr_t *te, const char *tag, size_t len) {
    if (te->all) return 1;
    if (!tag) return 0;
    for (size_t i = 0; i < te->ntags; i++)
        if (te->lens[i] == len && memcmp(te->tags[i], tag, len) == 0) return 1;
    return 0;
}
