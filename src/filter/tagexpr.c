/*
 * tagexpr: TAG subscription expressions (hash codes: common/util.h java_string_hash).
 * See tagexpr.h for the exact rules (they follow FilterAPI.buildSubscriptionData).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "filter/tagexpr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

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
                    int32_t code = java_string_hash(t, len);
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
