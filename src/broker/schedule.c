/*
 * schedule: delayed messages by level (Java ScheduleMessageService). A send
 * with DELAY=L is stored in SCHEDULE_TOPIC_XXXX queue L-1 with REAL_TOPIC /
 * REAL_QID and, as consume-queue tagsCode, its delivery time; a loop timer
 * walks each level's queue from the persisted offset and re-writes due
 * messages to their real topic and queue. Offsets live in delayOffset.json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"

#define DELAY_FILE "delayOffset.json"
#define TIMER_FILE "timerOffset.json"

typedef struct timer_ent_s {
    int64_t due, qoff, phys;
} timer_ent_t;

int schedule_level_of(const char *props, size_t len) {
    const char *v;
    size_t vl;
    if (!props || !msgprops_find(props, len, MSGPROP_DELAY, &v, &vl) || vl == 0 || vl > 9) return 0;
    int lvl = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9') return 0;
        lvl = lvl * 10 + (v[i] - '0');
    }
    return lvl;
}

int64_t schedule_deliver_time(broker_t *b, int level, int64_t store_ts) {
    if (level < 1) level = 1;
    if (level > b->n_delay_levels) level = b->n_delay_levels;
    return store_ts + b->delay_levels[level - 1];
}

/* store's tags_code_fn: schedule entries carry their delivery time. */
int64_t schedule_tags_code_fn(const record_view_t *rv, void *arg) {
    broker_t *b = arg;
    if (rv->topic_len == strlen(TIMER_TOPIC) && memcmp(rv->topic, TIMER_TOPIC, rv->topic_len) == 0) {
        const char *v;
        size_t vl;
        if (msgprops_find(rv->props, rv->props_len, "TIMER_OUT_MS", &v, &vl))
            return strtoll(v, NULL, 10);
    }
    if (rv->topic_len == strlen(SCHEDULE_TOPIC) && memcmp(rv->topic, SCHEDULE_TOPIC, rv->topic_len) == 0) {
        int lvl = schedule_level_of(rv->props, rv->props_len);
        if (lvl > 0) return schedule_deliver_time(b, lvl, rv->store_ts);
    }
    return msgprops_tags_code(rv->props, rv->props_len);
}

static void timer_persist(broker_t *b, int sync) {
    if (!b->timer_dirty && !sync) return;
    b->timer_dirty = 0;
    buf_t out;
    buf_init(&out);
    buf_printf(&out, "{\"lwm\":%" PRId64 ",\"done\":[", b->timer_lwm);
    int first = 1;
    STRMAP_FOREACH(&b->timer_done, e) {
        buf_printf(&out, "%s%s", first ? "" : ",", e->key);
        first = 0;
    }
    buf_append_str(&out, "]}");
    if (sync)
        bk_persist_sync(b, TIMER_FILE, &out);
    else
        bk_persist(b, TIMER_FILE, &out);
    buf_free(&out);
}

void schedule_persist(broker_t *b, int sync) {
    timer_persist(b, sync);
    if (!b->delay_dirty && !sync) return;
    b->delay_dirty = 0;
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"dataVersion\":");
    data_version_t dv = {b->put_total, now_ms()};
    bk_dv_json(&out, &dv);
    buf_append_str(&out, ",\"offsetTable\":{");
    for (int i = 0; i < b->n_delay_levels; i++)
        buf_printf(&out, "%s\"%d\":%" PRId64, i ? "," : "", i + 1, b->delay_offsets[i]);
    buf_append_str(&out, "}}");
    if (sync)
        bk_persist_sync(b, DELAY_FILE, &out);
    else
        bk_persist(b, DELAY_FILE, &out);
    buf_free(&out);
}

void schedule_json(broker_t *b, buf_t *out) {
    buf_append_str(out, "{\"offsetTable\":{");
    for (int i = 0; i < b->n_delay_levels; i++)
        buf_printf(out, "%s\"%d\":%" PRId64, i ? "," : "", i + 1, b->delay_offsets[i]);
    buf_append_str(out, "}}");
}

static void timer_load(broker_t *b) {
    strmap_init(&b->timer_done);
    char path[1300];
    snprintf(path, sizeof(path), "%s/" TIMER_FILE, b->config_dir);
    char *text;
    size_t len;
    if (file_read_all(path, &text, &len) != 0) return;
    cJSON *j = len ? bk_json_parse(text, len) : NULL;
    free(text);
    if (!j) return;
    b->timer_lwm = bk_json_i64(j, "lwm", 0);
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "done")) {
        if (!cJSON_IsNumber(it)) continue;
        char k[32];
        snprintf(k, sizeof(k), "%" PRId64, (int64_t)it->valuedouble);
        strmap_put(&b->timer_done, k, (void *)1);
    }
    cJSON_Delete(j);
}

void timer_free(broker_t *b) {
    free(b->theap);
    b->theap = NULL;
    strmap_free(&b->timer_done);
}

int schedule_load(broker_t *b, char *err, size_t errlen) {
    timer_load(b);
    b->timer_scan_off = b->timer_lwm;
    char path[1300];
    snprintf(path, sizeof(path), "%s/" DELAY_FILE, b->config_dir);
    char *text;
    size_t len;
    int rc = file_read_all(path, &text, &len);
    if (rc == -ENOENT) return 0;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %.1000s: %s", path, strerror(-rc));
        return -1;
    }
    cJSON *j = len ? bk_json_parse(text, len) : NULL;
    free(text);
    if (!j) return 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "offsetTable")) {
        int lvl = it->string ? atoi(it->string) : 0;
        if (lvl >= 1 && lvl <= b->n_delay_levels && cJSON_IsNumber(it))
            b->delay_offsets[lvl - 1] = (int64_t)it->valuedouble;
    }
    cJSON_Delete(j);
    return 0;
}

/* Re-writes the record at phys to its real topic. 0 ok, -1 to retry later, 1 skip. */
static int deliver(broker_t *b, int64_t phys) {
    store_pinned_t p;
    if (store_read_at(b->store, phys, &p) != 0) return 1;
    record_view_t v;
    int rc = 1;
    if (record_decode(p.data, p.len, &v, 0) == RECORD_OK) {
        const char *rt, *rq;
        size_t rtl, rql;
        if (msgprops_find(v.props, v.props_len, MSGPROP_REAL_TOPIC, &rt, &rtl) &&
            msgprops_find(v.props, v.props_len, MSGPROP_REAL_QID, &rq, &rql) && rtl > 0 &&
            rtl < NAME_MAX_LEN) {
            char topic[NAME_MAX_LEN];
            memcpy(topic, rt, rtl);
            topic[rtl] = 0;
            int32_t qid = (int32_t)strtol(rq, NULL, 10);
            store_msg_t m;
            bk_msg_from_record(b, &m, &v);
            m.topic = topic;
            m.topic_len = (uint32_t)rtl;
            m.queue_id = qid;
            m.prepared_tx_offset = v.prepared_tx_offset;
            /* Java keeps DELAY, REAL_TOPIC and REAL_QID in the delivered record. */
            m.props = v.props;
            m.props_len = v.props_len;
            m.tags_code = msgprops_tags_code(v.props, v.props_len);
            if (!topics_get(b, topic) && strncmp(topic, "%RETRY%", 7) == 0)
                topics_create_sys(b, topic, 1, 6);
            store_put_result_t r;
            bk_props_trim(m.props, &m.props_len);
            store_put(b->store, &m, &r);
            if (r.status == STORE_PUT_OK) {
                b->put_total++;
                rc = 0;
            } else if (r.status == STORE_MESSAGE_ILLEGAL) {
                log_warn("delayed message at %" PRId64 " to %s dropped: %s", phys, topic,
                         store_put_status_name(r.status));
                rc = 1;
            } else {
                rc = -1;
            }
        } else {
            log_warn("delayed message at %" PRId64 " has no REAL_TOPIC/REAL_QID; skipped", phys);
        }
    }
    store_pinned_release(&p);
    return rc;
}

static void heap_push(broker_t *b, timer_ent_t t) {
    if (b->ntheap == b->ctheap) {
        b->ctheap = b->ctheap ? b->ctheap * 2 : 64;
        b->theap = xrealloc(b->theap, (size_t)b->ctheap * sizeof(timer_ent_t));
    }
    int i = b->ntheap++;
    while (i > 0 && b->theap[(i - 1) / 2].due > t.due) {
        b->theap[i] = b->theap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->theap[i] = t;
}

static timer_ent_t heap_pop(broker_t *b) {
    timer_ent_t top = b->theap[0], last = b->theap[--b->ntheap];
    int i = 0, n = b->ntheap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && b->theap[c + 1].due < b->theap[c].due) c++;
        if (last.due <= b->theap[c].due) break;
        b->theap[i] = b->theap[c];
        i = c;
    }
    if (n) b->theap[i] = last;
    return top;
}

static int deliver(broker_t *b, int64_t phys);

/* Timer messages: load new entries, deliver the due ones, advance the low-water mark. */
static int64_t timer_tick(broker_t *b, int64_t now, int64_t next_due) {
    int64_t max = store_max_offset(b->store, TIMER_TOPIC, 0);
    int budget = 10000;
    char k[32];
    while (b->timer_scan_off < max && budget-- > 0) {
        int64_t off = b->timer_scan_off++, phys, tags;
        int32_t size;
        snprintf(k, sizeof(k), "%" PRId64, off);
        if (strmap_get(&b->timer_done, k)) continue;
        if (store_cq_entry(b->store, TIMER_TOPIC, 0, off, &phys, &size, &tags) != 0) {
            strmap_put(&b->timer_done, k, (void *)1);
            continue;
        }
        heap_push(b, (timer_ent_t){tags, off, phys});
    }
    while (b->ntheap && b->theap[0].due <= now) {
        timer_ent_t t = b->theap[0];
        if (deliver(b, t.phys) < 0) break; /* store busy: retry next tick */
        heap_pop(b);
        snprintf(k, sizeof(k), "%" PRId64, t.qoff);
        strmap_put(&b->timer_done, k, (void *)1);
        b->timer_dirty = 1;
    }
    for (;;) {
        snprintf(k, sizeof(k), "%" PRId64, b->timer_lwm);
        if (b->timer_lwm >= b->timer_scan_off || !strmap_del(&b->timer_done, k)) break;
        b->timer_lwm++;
        b->timer_dirty = 1;
    }
    if (b->ntheap && b->theap[0].due < next_due) next_due = b->theap[0].due;
    if (budget <= 0) next_due = now;
    return next_due;
}

int timer_due_of(const char *props, size_t len, int64_t now, int64_t *due) {
    static const char *const keys[] = {"TIMER_DELIVER_MS", "TIMER_DELAY_SEC", "TIMER_DELAY_MS"};
    for (int i = 0; i < 3; i++) {
        const char *v;
        size_t vl;
        if (!props || !msgprops_find(props, len, keys[i], &v, &vl)) continue;
        char tmp[32];
        if (vl == 0 || vl >= sizeof(tmp)) return -1;
        memcpy(tmp, v, vl);
        tmp[vl] = 0;
        char *end;
        long long x = strtoll(tmp, &end, 10);
        if (*end || x < 0) return -1;
        *due = i == 0 ? x : i == 1 ? now + x * 1000 : now + x;
        return 1;
    }
    return 0;
}

void timer_redirect(broker_t *b, store_msg_t *m, buf_t *props, int64_t due) {
    char t[NAME_MAX_LEN], q[16], d[32];
    snprintf(t, sizeof(t), "%.*s", (int)m->topic_len, m->topic);
    snprintf(q, sizeof(q), "%d", m->queue_id);
    snprintf(d, sizeof(d), "%" PRId64, due);
    msgprops_append(props, MSGPROP_REAL_TOPIC, t);
    msgprops_append(props, MSGPROP_REAL_QID, q);
    msgprops_append(props, "TIMER_OUT_MS", d);
    m->topic = TIMER_TOPIC;
    m->topic_len = (uint32_t)strlen(TIMER_TOPIC);
    m->queue_id = 0;
    m->props = (const char *)props->data;
    m->props_len = (uint32_t)props->len;
    m->tags_code = due;
}

int64_t schedule_tick(broker_t *b) {
    int64_t now = now_ms();
    int64_t next_due = timer_tick(b, now, now + 100);
    for (int lvl = 0; lvl < b->n_delay_levels; lvl++) {
        int64_t max = store_max_offset(b->store, SCHEDULE_TOPIC, lvl);
        int64_t off = b->delay_offsets[lvl];
        int64_t min = store_min_offset(b->store, SCHEDULE_TOPIC, lvl);
        if (off < min) off = min;
        int budget = 2000; /* per level per tick: keep the loop responsive */
        while (off < max && budget-- > 0) {
            int64_t phys, tags;
            int32_t size;
            if (store_cq_entry(b->store, SCHEDULE_TOPIC, lvl, off, &phys, &size, &tags) != 0) {
                off++;
                continue;
            }
            if (tags > now) {
                if (tags < next_due) next_due = tags;
                break;
            }
            if (deliver(b, phys) < 0) break;
            off++;
        }
        if (off != b->delay_offsets[lvl]) {
            b->delay_offsets[lvl] = off;
            b->delay_dirty = 1;
        }
        if (budget <= 0) next_due = now; /* more due right away */
    }
    return next_due;
}

/* Rewrites a send with DELAY=L into the schedule topic. props gets REAL_TOPIC/REAL_QID. */
void schedule_redirect(broker_t *b, store_msg_t *m, buf_t *props, int level, char *topic_buf) {
    if (level > b->n_delay_levels) level = b->n_delay_levels;
    char q[16];
    snprintf(q, sizeof(q), "%d", m->queue_id);
    const char *base = (const char *)props->data;
    const char *v;
    size_t vl;
    if (!msgprops_find(base ? base : "", props->len, MSGPROP_REAL_TOPIC, &v, &vl)) {
        char t[NAME_MAX_LEN];
        snprintf(t, sizeof(t), "%.*s", (int)m->topic_len, m->topic);
        msgprops_append(props, MSGPROP_REAL_TOPIC, t);
        msgprops_append(props, MSGPROP_REAL_QID, q);
    }
    strcpy(topic_buf, SCHEDULE_TOPIC);
    m->topic = topic_buf;
    m->topic_len = (uint32_t)strlen(SCHEDULE_TOPIC);
    m->queue_id = level - 1;
    m->props = (const char *)props->data;
    m->props_len = (uint32_t)props->len;
    m->tags_code = schedule_deliver_time(b, level, now_ms());
}
