/*
 * offsets: the ConsumerOffsetManager: "topic@group" -> {queueId: next
 * offset}, kept in memory and written to consumerOffset.json every
 * flushConsumerOffsetInterval and at shutdown.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"

#define OFFSETS_FILE "consumerOffset.json"

void offsets_init(broker_t *b) {
    strmap_init(&b->offsets);
    b->offsets_ver.timestamp = now_ms();
}

static void free_tab(offset_tab_t *t) {
    if (!t) return;
    free(t->off);
    free(t);
}

void offsets_free(broker_t *b) {
    STRMAP_FOREACH(&b->offsets, e) free_tab(e->val);
    strmap_free(&b->offsets);
}

static void key_of(char *k, size_t n, const char *topic, const char *group) {
    snprintf(k, n, "%s@%s", topic, group);
}

int64_t offsets_get(broker_t *b, const char *topic, const char *group, int32_t qid) {
    char k[NAME_MAX_LEN * 2 + 2];
    key_of(k, sizeof(k), topic, group);
    offset_tab_t *t = strmap_get(&b->offsets, k);
    if (!t || qid < 0 || qid >= t->n) return -1;
    return t->off[qid];
}

static void set_raw(broker_t *b, const char *key, int32_t qid, int64_t off) {
    if (qid < 0 || qid > 65535) return;
    offset_tab_t *t = strmap_get(&b->offsets, key);
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        strmap_put(&b->offsets, key, t);
    }
    if (qid >= t->n) {
        int32_t n = qid + 1 > 8 ? qid + 1 : 8;
        t->off = xrealloc(t->off, (size_t)n * sizeof(int64_t));
        for (int32_t i = t->n; i < n; i++) t->off[i] = -1;
        t->n = n;
    }
    t->off[qid] = off;
}

void offsets_set(broker_t *b, const char *topic, const char *group, int32_t qid, int64_t off) {
    char k[NAME_MAX_LEN * 2 + 2];
    key_of(k, sizeof(k), topic, group);
    set_raw(b, k, qid, off);
    b->offsets_dirty = 1;
}

void offsets_each(broker_t *b, void (*fn)(const char *, const char *, offset_tab_t *, void *),
                  void *arg) {
    STRMAP_FOREACH(&b->offsets, e) {
        const char *at = strrchr(e->key, '@');
        if (!at) continue;
        char topic[NAME_MAX_LEN * 2];
        snprintf(topic, sizeof(topic), "%.*s", (int)(at - e->key), e->key);
        fn(topic, at + 1, e->val, arg);
    }
}

void offsets_json(broker_t *b, buf_t *out) {
    buf_append_str(out, "{\"dataVersion\":");
    bk_dv_json(out, &b->offsets_ver);
    buf_append_str(out, ",\"offsetTable\":{");
    int first = 1;
    STRMAP_FOREACH(&b->offsets, e) {
        offset_tab_t *t = e->val;
        if (!first) buf_append_str(out, ",");
        first = 0;
        buf_json_str(out, e->key, strlen(e->key));
        buf_append_str(out, ":{");
        int f2 = 1;
        for (int32_t q = 0; q < t->n; q++) {
            if (t->off[q] < 0) continue;
            buf_printf(out, "%s\"%d\":%" PRId64, f2 ? "" : ",", q, t->off[q]);
            f2 = 0;
        }
        buf_append_str(out, "}");
    }
    buf_append_str(out, "}}");
}

void offsets_persist(broker_t *b, int sync) {
    if (!b->offsets_dirty && !sync) return;
    b->offsets_dirty = 0;
    bk_dv_bump(&b->offsets_ver);
    bk_persist_json(b, OFFSETS_FILE, offsets_json, sync);
}

/* "topic@group" keys: is the topic part topic, or the group part group (whichever is set)? */
static int key_matches(const char *key, const char *topic, const char *group) {
    if (topic) {
        size_t tl = strlen(topic);
        return strncmp(key, topic, tl) == 0 && key[tl] == '@';
    }
    const char *at = strrchr(key, '@');
    return at && strcmp(at + 1, group) == 0;
}

/* Drops the tables key_matches picks, one at a time: the map must not change while walked. */
static void delete_matching(broker_t *b, const char *topic, const char *group) {
    for (;;) {
        char *victim = NULL;
        STRMAP_FOREACH(&b->offsets, e) {
            if (key_matches(e->key, topic, group)) {
                victim = xstrdup(e->key);
                break;
            }
        }
        if (!victim) break;
        free_tab(strmap_del(&b->offsets, victim));
        free(victim);
        b->offsets_dirty = 1;
    }
}

void offsets_delete_topic(broker_t *b, const char *topic) { delete_matching(b, topic, NULL); }

void offsets_delete_group(broker_t *b, const char *group) { delete_matching(b, NULL, group); }

static void apply_file(broker_t *b, const cJSON *j) {
    const cJSON *it, *q;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "offsetTable")) {
        if (!it->string || !strchr(it->string, '@')) continue;
        cJSON_ArrayForEach(q, it) {
            if (!q->string || !cJSON_IsNumber(q)) continue;
            set_raw(b, it->string, atoi(q->string), (int64_t)q->valuedouble);
        }
    }
}

int offsets_load(broker_t *b, char *err, size_t errlen) {
    return bk_load_json(b, OFFSETS_FILE, apply_file, 0, err, errlen);
}
