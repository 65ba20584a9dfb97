/*
 * clients: the producer and consumer tables built from HEART_BEAT
 * (ProducerManager / ConsumerManager): channels, subscriptions, expiry,
 * NOTIFY_CONSUMER_IDS_CHANGED, and the requests that read them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/msgprops.h"
#include "common/util.h"

static const char *const consume_types[] = {"CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP", NULL};
static const char *const models[] = {"BROADCASTING", "CLUSTERING", NULL};
static const char *const cfws[] = {"CONSUME_FROM_LAST_OFFSET",
                                   "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                                   "CONSUME_FROM_MIN_OFFSET", "CONSUME_FROM_MAX_OFFSET",
                                   "CONSUME_FROM_FIRST_OFFSET", "CONSUME_FROM_TIMESTAMP", NULL};

const char *cfw_name(int v) { return v >= 0 && v <= 5 ? cfws[v] : cfws[0]; }

/* Enums arrive as names (Java, ali-ons) or ordinals (C++). */
static int json_enum(const cJSON *o, const char *key, const char *const *names, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return def;
    int n = 0;
    while (names[n]) n++;
    if (cJSON_IsNumber(v)) {
        int x = (int)v->valuedouble;
        return x >= 0 && x < n ? x : def;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], v->valuestring) == 0) return i;
        char *end;
        long x = strtol(v->valuestring, &end, 10);
        if (end != v->valuestring && *end == 0 && x >= 0 && x < n) return (int)x;
    }
    return def;
}

void clients_init(broker_t *b) {
    strmap_init(&b->cgroups);
    strmap_init(&b->pgroups);
}

static void free_sub(sub_data_t *s) {
    free(s->sub_string);
    free(s->expr_type);
    for (int i = 0; i < s->ntags; i++) free(s->tags[i]);
    free(s->tags);
    free(s->codes);
}

static void free_cgroup(cgroup_t *g) {
    for (int i = 0; i < g->nsubs; i++) free_sub(&g->subs[i]);
    free(g->subs);
    free(g->chans);
    free(g);
}

void clients_free(broker_t *b) {
    STRMAP_FOREACH(&b->cgroups, e) free_cgroup(e->val);
    STRMAP_FOREACH(&b->pgroups, e) {
        pgroup_t *p = e->val;
        free(p->chans);
        free(p);
    }
    strmap_free(&b->cgroups);
    strmap_free(&b->pgroups);
}

cgroup_t *clients_cgroup(broker_t *b, const char *group) { return strmap_get(&b->cgroups, group); }
pgroup_t *clients_pgroup(broker_t *b, const char *group) { return strmap_get(&b->pgroups, group); }

sub_data_t *cgroup_find_sub(cgroup_t *g, const char *topic) {
    for (int i = 0; i < g->nsubs; i++)
        if (strcmp(g->subs[i].topic, topic) == 0) return &g->subs[i];
    return NULL;
}

static void notify_ids_changed(broker_t *b, cgroup_t *g) {
    if (!b->conf.notifyConsumerIdsChangedEnable) return;
    group_cfg_t *gc = groups_get(b, g->name);
    if (gc && !gc->notify_enable) return;
    for (int i = 0; i < g->nchans; i++) {
        rm_conn_t *conn = g->chans[i].cl->conn;
        if (rm_conn_is_closed(conn)) continue;
        rm_enc_t e;
        rm_conn_request_begin(conn, &e, NOTIFY_CONSUMER_IDS_CHANGED, 1, NULL, NULL, 0);
        rm_enc_ext(&e, "consumerGroup", g->name);
        rm_enc_end(&e);
    }
}

/* Adds or refreshes a channel; returns 1 when it is new. */
static int chan_upsert(chan_t **chans, int *n, int *cap, bclient_t *cl, int64_t now) {
    for (int i = 0; i < *n; i++) {
        if ((*chans)[i].cl == cl) {
            (*chans)[i].last_update = now;
            return 0;
        }
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *chans = xrealloc(*chans, (size_t)*cap * sizeof(chan_t));
    }
    (*chans)[(*n)++] = (chan_t){cl, now};
    cl->nrefs++;
    return 1;
}

static int chan_remove(chan_t *chans, int *n, bclient_t *cl) {
    for (int i = 0; i < *n; i++) {
        if (chans[i].cl == cl) {
            chans[i] = chans[--*n];
            cl->nrefs--;
            return 1;
        }
    }
    return 0;
}

static bclient_t *client_of(rm_conn_t *conn, rm_cmd_t *req, const char *client_id) {
    bclient_t *cl = rm_conn_get_data(conn);
    if (!cl) {
        cl = xcalloc(1, sizeof(*cl));
        cl->conn = conn;
        snprintf(cl->addr, sizeof(cl->addr), "%s", rm_conn_peer(conn));
        rm_conn_set_data(conn, cl);
    }
    if (client_id) snprintf(cl->client_id, sizeof(cl->client_id), "%s", client_id);
    cl->lang = req->language;
    cl->version = req->version;
    return cl;
}

static void parse_sub(sub_data_t *s, const cJSON *o) {
    memset(s, 0, sizeof(*s));
    snprintf(s->topic, sizeof(s->topic), "%s", bk_json_str(o, "topic", ""));
    s->sub_string = xstrdup(bk_json_str(o, "subString", "*"));
    s->expr_type = xstrdup(bk_json_str(o, "expressionType", "TAG"));
    s->sub_version = bk_json_i64(o, "subVersion", 0);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tagsSet");
    int n = cJSON_IsArray(tags) ? cJSON_GetArraySize(tags) : 0;
    s->tags = xcalloc((size_t)n + 1, sizeof(char *));
    s->codes = xcalloc((size_t)n + 1, sizeof(int32_t));
    const cJSON *t;
    cJSON_ArrayForEach(t, tags) {
        if (!cJSON_IsString(t) || !t->valuestring) continue;
        s->tags[s->ntags] = xstrdup(t->valuestring);
        s->codes[s->ntags] = java_string_hash(t->valuestring, strlen(t->valuestring));
        s->ntags++;
    }
    const char *ss = s->sub_string;
    s->all = strcmp(ss, "*") == 0 || *ss == 0 || (s->ntags == 0 && strcmp(s->expr_type, "TAG") == 0);
    if (s->ntags == 0 && !s->all && strcmp(s->expr_type, "TAG") == 0) {
        tag_filter_t f;
        tag_filter_from_string(&f, ss);
        s->all = f.all;
    }
}

static int subs_differ(cgroup_t *g, sub_data_t *subs, int n) {
    if (g->nsubs != n) return 1;
    for (int i = 0; i < n; i++) {
        sub_data_t *o = cgroup_find_sub(g, subs[i].topic);
        if (!o || strcmp(o->sub_string, subs[i].sub_string) != 0) return 1;
    }
    return 0;
}

void h_heart_beat(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    cJSON *j = req->body_len ? bk_json_parse((const char *)req->body, req->body_len) : NULL;
    if (!j) {
        rm_conn_reply(conn, req, SYSTEM_ERROR, "HeartbeatData body is missing or not JSON");
        return;
    }
    int64_t now = now_ms();
    bclient_t *cl = client_of(conn, req, bk_json_str(j, "clientID", ""));
    const cJSON *cd;
    cJSON_ArrayForEach(cd, cJSON_GetObjectItemCaseSensitive(j, "consumerDataSet")) {
        const char *gname = bk_json_str(cd, "groupName", "");
        if (!*gname || strlen(gname) >= NAME_MAX_LEN) continue;
        group_cfg_t *gc = groups_find_or_create(b, gname);
        if (!gc) continue;
        char retry[NAME_MAX_LEN + 8];
        snprintf(retry, sizeof(retry), "%%RETRY%%%s", gname);
        if (strlen(retry) <= TOPIC_MAX && !topics_get(b, retry))
            topics_create_sys(b, retry, gc->retry_queue_nums > 0 ? gc->retry_queue_nums : 1, 6);
        cgroup_t *g = strmap_get(&b->cgroups, gname);
        int is_new_group = 0;
        if (!g) {
            g = xcalloc(1, sizeof(*g));
            snprintf(g->name, sizeof(g->name), "%s", gname);
            strmap_put(&b->cgroups, gname, g);
            is_new_group = 1;
        }
        g->consume_type = json_enum(cd, "consumeType", consume_types, 1);
        g->message_model = json_enum(cd, "messageModel", models, 1);
        g->cfw = json_enum(cd, "consumeFromWhere", cfws, 0);
        /* Replace the subscription table, keeping entries whose version is newer. */
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(cd, "subscriptionDataSet");
        int withoutSub = bk_json_bool(j, "withoutSub", 0);
        int sub_changed = 0;
        if (!withoutSub) {
            int n = cJSON_IsArray(subs) ? cJSON_GetArraySize(subs) : 0;
            sub_data_t *ns = xcalloc((size_t)n + 1, sizeof(sub_data_t));
            int k = 0;
            const cJSON *s;
            cJSON_ArrayForEach(s, subs) {
                parse_sub(&ns[k], s);
                if (!ns[k].topic[0]) {
                    free_sub(&ns[k]);
                    continue;
                }
                sub_data_t *old = cgroup_find_sub(g, ns[k].topic);
                if (old && old->sub_version > ns[k].sub_version) ns[k].sub_version = old->sub_version;
                k++;
            }
            sub_changed = !is_new_group && subs_differ(g, ns, k);
            for (int i = 0; i < g->nsubs; i++) free_sub(&g->subs[i]);
            free(g->subs);
            g->subs = ns;
            g->nsubs = k;
            if (sub_changed) log_info("subscription of group %s changed", gname);
        }
        int joined = chan_upsert(&g->chans, &g->nchans, &g->cap, cl, now);
        if (joined) log_info("consumer %s (%s) joined group %s", cl->client_id, cl->addr, gname);
        /* Java notifies on a new channel and on a subscription change. */
        if (joined || sub_changed) notify_ids_changed(b, g);
    }
    const cJSON *pd;
    cJSON_ArrayForEach(pd, cJSON_GetObjectItemCaseSensitive(j, "producerDataSet")) {
        const char *gname = bk_json_str(pd, "groupName", "");
        if (!*gname || strlen(gname) >= NAME_MAX_LEN) continue;
        pgroup_t *p = strmap_get(&b->pgroups, gname);
        if (!p) {
            p = xcalloc(1, sizeof(*p));
            snprintf(p->name, sizeof(p->name), "%s", gname);
            strmap_put(&b->pgroups, gname, p);
        }
        chan_upsert(&p->chans, &p->nchans, &p->cap, cl, now);
    }
    cJSON_Delete(j);
    rm_enc_t e;
    rm_conn_reply_begin(conn, &e, req, SUCCESS, NULL);
    rm_enc_ext(&e, "IS_SUPPORT_HEART_BEAT_V2", "false");
    rm_enc_ext(&e, "IS_SUB_CHANGE", "false");
    rm_enc_end(&e);
}

static void drop_from_cgroup(broker_t *b, const char *gname, bclient_t *cl, int notify) {
    cgroup_t *g = strmap_get(&b->cgroups, gname);
    if (!g || !chan_remove(g->chans, &g->nchans, cl)) return;
    log_info("consumer %s (%s) left group %s", cl->client_id, cl->addr, gname);
    if (g->nchans == 0) {
        strmap_del(&b->cgroups, gname);
        free_cgroup(g);
        return;
    }
    if (notify) notify_ids_changed(b, g);
}

static void drop_from_pgroup(broker_t *b, const char *gname, bclient_t *cl) {
    pgroup_t *p = strmap_get(&b->pgroups, gname);
    if (!p || !chan_remove(p->chans, &p->nchans, cl)) return;
    if (p->nchans == 0) {
        strmap_del(&b->pgroups, gname);
        free(p->chans);
        free(p);
    }
}

/* Collects group names first: removal frees entries. */
static void drop_everywhere(broker_t *b, bclient_t *cl, int64_t older_than) {
    for (int pass = 0; pass < 2; pass++) {
        strmap_t *m = pass == 0 ? &b->cgroups : &b->pgroups;
        char **names = xcalloc(m->n + 1, sizeof(char *));
        size_t cnt = 0;
        STRMAP_FOREACH(m, e) {
            chan_t *ch = pass == 0 ? ((cgroup_t *)e->val)->chans : ((pgroup_t *)e->val)->chans;
            int n = pass == 0 ? ((cgroup_t *)e->val)->nchans : ((pgroup_t *)e->val)->nchans;
            for (int k = 0; k < n; k++) {
                if ((cl && ch[k].cl == cl) || (!cl && ch[k].last_update < older_than)) {
                    names[cnt++] = xstrdup(e->key);
                    break;
                }
            }
        }
        for (size_t k = 0; k < cnt; k++) {
            if (cl) {
                if (pass == 0) drop_from_cgroup(b, names[k], cl, 1);
                else drop_from_pgroup(b, names[k], cl);
            } else {
                /* expiry: remove every stale channel of this group */
                for (;;) {
                    bclient_t *victim = NULL;
                    if (pass == 0) {
                        cgroup_t *g = strmap_get(m, names[k]);
                        for (int x = 0; g && x < g->nchans; x++)
                            if (g->chans[x].last_update < older_than) victim = g->chans[x].cl;
                        if (!victim) break;
                        log_info("consumer %s expired (no heartbeat)", victim->client_id);
                        drop_from_cgroup(b, names[k], victim, 1);
                    } else {
                        pgroup_t *p = strmap_get(m, names[k]);
                        for (int x = 0; p && x < p->nchans; x++)
                            if (p->chans[x].last_update < older_than) victim = p->chans[x].cl;
                        if (!victim) break;
                        drop_from_pgroup(b, names[k], victim);
                    }
                }
            }
            free(names[k]);
        }
        free(names);
    }
}

void clients_on_close(rm_conn_t *conn, void *ctx) {
    broker_t *b = ctx;
    bclient_t *cl = rm_conn_get_data(conn);
    if (!cl) return;
    drop_everywhere(b, cl, 0);
    rm_conn_set_data(conn, NULL);
    free(cl);
}

void clients_scan_expired(broker_t *b) {
    drop_everywhere(b, NULL, now_ms() - b->conf.channelExpiredTimeout);
}

void h_unregister_client(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    bclient_t *cl = rm_conn_get_data(conn);
    const char *pg = rm_ext_get(req, "producerGroup");
    const char *cg = rm_ext_get(req, "consumerGroup");
    if (cl) {
        if (pg && *pg) drop_from_pgroup(b, pg, cl);
        if (cg && *cg) drop_from_cgroup(b, cg, cl, 1);
    }
    rm_conn_reply(conn, req, SUCCESS, NULL);
}

void h_get_consumer_list_by_group(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "consumerGroup", group, sizeof(group)) != 0) return;
    cgroup_t *g = strmap_get(&b->cgroups, group);
    if (!g || g->nchans == 0) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "no consumer for this group, %s", group);
        return;
    }
    buf_t out;
    buf_init(&out);
    buf_append_str(&out, "{\"consumerIdList\":[");
    int first = 1;
    for (int i = 0; i < g->nchans; i++) {
        const char *id = g->chans[i].cl->client_id;
        int dup = 0;
        for (int k = 0; k < i && !dup; k++) dup = strcmp(g->chans[k].cl->client_id, id) == 0;
        if (dup) continue; /* one client, several connections: rebalancing needs it once */
        if (!first) buf_append_str(&out, ",");
        first = 0;
        buf_json_str(&out, id, strlen(id));
    }
    buf_append_str(&out, "]}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

static void conn_json(buf_t *out, const chan_t *c) {
    buf_append_str(out, "{\"clientAddr\":");
    buf_json_str(out, c->cl->addr, strlen(c->cl->addr));
    buf_append_str(out, ",\"clientId\":");
    buf_json_str(out, c->cl->client_id, strlen(c->cl->client_id));
    buf_printf(out, ",\"language\":\"%s\",\"version\":%d}", rm_language_name(c->cl->lang),
               c->cl->version);
}

/* Opens a ConsumerConnection / ProducerConnection body: {"connectionSet":[...] */
static void conn_set_json(buf_t *out, const chan_t *chans, int n) {
    buf_append_str(out, "{\"connectionSet\":[");
    for (int i = 0; i < n; i++) {
        if (i) buf_append_str(out, ",");
        conn_json(out, &chans[i]);
    }
}

void sub_data_json(buf_t *out, const sub_data_t *s) {
    buf_append_str(out, "{\"classFilterMode\":false,\"codeSet\":[");
    for (int i = 0; i < s->ntags; i++) buf_printf(out, "%s%d", i ? "," : "", s->codes[i]);
    buf_append_str(out, "],\"expressionType\":");
    buf_json_str(out, s->expr_type, strlen(s->expr_type));
    buf_append_str(out, ",\"subString\":");
    buf_json_str(out, s->sub_string, strlen(s->sub_string));
    buf_printf(out, ",\"subVersion\":%" PRId64 ",\"tagsSet\":[", s->sub_version);
    for (int i = 0; i < s->ntags; i++) {
        if (i) buf_append_str(out, ",");
        buf_json_str(out, s->tags[i], strlen(s->tags[i]));
    }
    buf_append_str(out, "],\"topic\":");
    buf_json_str(out, s->topic, strlen(s->topic));
    buf_append_str(out, "}");
}

void h_get_consumer_connection_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "consumerGroup", group, sizeof(group)) != 0) return;
    cgroup_t *g = strmap_get(&b->cgroups, group);
    if (!g || g->nchans == 0) {
        bk_reply_errf(conn, req, CONSUMER_NOT_ONLINE, "the consumer group[%s] not online", group);
        return;
    }
    buf_t out;
    buf_init(&out);
    conn_set_json(&out, g->chans, g->nchans);
    buf_printf(&out, "],\"consumeFromWhere\":\"%s\",\"consumeType\":\"%s\",\"messageModel\":\"%s\","
                     "\"subscriptionTable\":{",
               cfw_name(g->cfw), consume_types[g->consume_type], models[g->message_model]);
    for (int i = 0; i < g->nsubs; i++) {
        if (i) buf_append_str(&out, ",");
        buf_json_str(&out, g->subs[i].topic, strlen(g->subs[i].topic));
        buf_append_str(&out, ":");
        sub_data_json(&out, &g->subs[i]);
    }
    buf_append_str(&out, "}}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

void h_get_producer_connection_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    char group[NAME_MAX_LEN];
    if (bk_req_str(conn, req, "producerGroup", group, sizeof(group)) != 0) return;
    pgroup_t *p = strmap_get(&b->pgroups, group);
    if (!p || p->nchans == 0) {
        bk_reply_errf(conn, req, SYSTEM_ERROR, "the producer group[%s] not exist", group);
        return;
    }
    buf_t out;
    buf_init(&out);
    conn_set_json(&out, p->chans, p->nchans);
    buf_append_str(&out, "]}");
    bk_reply_json(conn, req, &out);
    buf_free(&out);
}

void h_check_client_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx) {
    broker_t *b = ctx;
    cJSON *j = req->body_len ? bk_json_parse((const char *)req->body, req->body_len) : NULL;
    const char *type = "TAG";
    const cJSON *sd = j ? cJSON_GetObjectItemCaseSensitive(j, "subscriptionData") : NULL;
    if (sd) type = bk_json_str(sd, "expressionType", "TAG");
    if (strcmp(type, "TAG") != 0 && (!b->conf.enablePropertyFilter || strcmp(type, "SQL92") != 0)) {
        rm_conn_reply(conn, req, SYSTEM_ERROR,
                      "The broker does not support consumer to filter message by SQL92");
    } else if (strcmp(type, "TAG") != 0) {
        char err[300];
        if (sql_cache_get(b, bk_json_str(sd, "subString", ""), err, sizeof(err)))
            rm_conn_reply(conn, req, SUCCESS, NULL);
        else
            rm_conn_reply(conn, req, SUBSCRIPTION_PARSE_FAILED, err);
    } else {
        rm_conn_reply(conn, req, SUCCESS, NULL);
    }
    cJSON_Delete(j);
}
