/*
 * tagexpr: RocketMQ's TAG subscription expressions ("*", "TagA || TagB").
 *
 * Parsed exactly as the Java client/broker build a SubscriptionData
 * (FilterAPI.buildSubscriptionData): NULL, "" or exactly "*" subscribe to
 * everything; otherwise the string is split on "||" (Java String.split:
 * trailing empty parts dropped), each part trimmed (Java String.trim), empty
 * parts ignored. Hash codes are Java String.hashCode() of the tag, i.e. over
 * the UTF-16 code units of the UTF-8 decoded tag, which is what the consume
 * queue stores as tagsCode.
 *
 * A parsed expression is immutable: share it between threads freely.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_FILTER_TAGEXPR_H
#define PETREL_FILTER_TAGEXPR_H

#include <stddef.h>
#include <stdint.h>

typedef struct tag_expr_s {
    int all;            /* 1: "*" / empty / NULL: every message matches */
    size_t ntags;       /* distinct tags, in order of first appearance */
    const char **tags;  /* NUL-terminated; owned by the expression */
    const size_t *lens; /* byte length of each tag */
    size_t ncodes;      /* distinct hash codes (the JSON codeSet) */
    const int32_t *codes;
} tag_expr_t;

/*
 * Parses a TAG subscription string. Returns 0 and *out (free with
 * tag_expr_free), or -1 with a message in err when Java would throw
 * ("subString split error", e.g. for "||"). NULL means "*".
 */
int tag_expr_parse(const char *sub, tag_expr_t **out, char *err, size_t errlen);
void tag_expr_free(tag_expr_t *te);

/*
 * Broker-side consume-queue check: 1 if a message whose consume-queue
 * tagsCode is tags_code passes (truncated to int32 as Java does), else 0.
 */
int tag_expr_match_code(const tag_expr_t *te, int64_t tags_code);

/* Exact check of a message's TAGS value (what the Java client re-checks). */
int tag_expr_match_tag(const tag_expr_t *te, const char *tag, size_t len);


#endif
