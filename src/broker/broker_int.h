/*
 * broker_int: what the broker's modules share: the broker object, the
 * managers' types and every module's functions. All of it lives on the
 * broker's loop thread unless a comment says otherwise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_BROKER_INT_H
#define PETREL_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "broker/broker.h"
#include "common/strmap.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "remoting/remoting.h"

struct store_s;
struct cJSON;

#define SCHEDULE_TOPIC "SCHEDULE_TOPIC_XXXX"
#define TIMER_TOPIC "rmq_sys_wheel_timer"
#define TIMER_MAX_DELAY_MS (3LL * 86400 * 1000)
#define PERM_INHERIT 1
#define PERM_WRITE 2
#define PERM_READ 4
#define TOPIC_MAX 255
#define NAME_MAX_LEN 256

/* PullSysFlag */
#define PULL_FLAG_COMMIT 0x1
#define PULL_FLAG_SUSPEND 0x2
#define PULL_FLAG_SUBSCRIPTION 0x4

/* Message sysFlag */
#define MSG_FLAG_MULTI_TAGS 0x2
#define MSG_TX_MASK 0xC
#define MSG_TX_PREPARED 0x4
#define MSG_TX_COMMIT 0x8
#define MSG_TX_ROLLBACK 0xC

extern const cfg_def_t broker_cfg_defs[];
void broker_config_copy(broker_config_t *dst, const broker_config_t *src);
int broker_parse_delay_levels(const char *s, int64_t *out, int max);

typedef struct data_version_s {
    int64_t counter;
    int64_t timestamp;
} data_version_t;

typedef struct topic_cfg_s {
    char name[NAME_MAX_LEN];
    int32_t rq, wq, perm;
    int multi_tag;            /* topicFilterType MULTI_TAG */
    int32_t sysflag;
    int order;
    char *attrs;              /* attributes object as JSON text, or NULL */
    void *stats;              /* bmetrics counters for this topic, cached by bm_on_put */
} topic_cfg_t;

typedef struct group_cfg_s {
    char name[NAME_MAX_LEN];
    int consume_enable, from_min_enable, broadcast_enable, orderly;
    int32_t retry_queue_nums, retry_max_times;
    int64_t broker_id, slow_broker_id;
    int notify_enable;
    int32_t sysflag, timeout_minute;
} group_cfg_t;

typedef struct offset_tab_s {
    int32_t n;
    int64_t *off;             /* by queueId; -1 = none */
} offset_tab_t;

/* A client connection known from heartbeats (rm_conn data). */
typedef struct bclient_s {
    rm_conn_t *conn;
    char client_id[NAME_MAX_LEN];
    char addr[64];
    int lang, version;
    int nrefs;                /* groups it belongs to */
} bclient_t;

typedef struct sub_data_s {
    char topic[NAME_MAX_LEN];
    char *sub_string;
    char *expr_type;          /* "TAG" / "SQL92" */
    int64_t sub_version;
    int all;                  /* "*" or empty */
    int ntags;
    char **tags;
    int32_t *codes;
} sub_data_t;

typedef struct chan_s {
    bclient_t *cl;
    int64_t last_update;
} chan_t;

typedef struct cgroup_s {
    char name[NAME_MAX_LEN];
    int consume_type;         /* 0 CONSUME_ACTIVELY, 1 CONSUME_PASSIVELY, 2 POP */
    int message_model;        /* 0 BROADCASTING, 1 CLUSTERING */
    int cfw;                  /* ConsumeFromWhere ordinal */
    int nsubs;
    sub_data_t *subs;
    int nchans, cap;
    chan_t *chans;
} cgroup_t;

typedef struct pgroup_s {
    char name[NAME_MAX_LEN];
    int nchans, cap;
    chan_t *chans;
} pgroup_t;

/* A tag filter built from a subscription. */
typedef struct tag_filter_s {
    int all;
    int n;
    int32_t codes[64];
} tag_filter_t;

/* A parsed PULL_MESSAGE, kept while a long poll holds it. */
typedef struct pull_req_s {
    char group[NAME_MAX_LEN];
    char topic[NAME_MAX_LEN];
    int32_t qid;
    int64_t offset;
    int32_t max_nums;
    int32_t sysflag;
    int64_t commit_offset;
    int64_t suspend_ms;
    int64_t sub_version;
    int32_t max_bytes;
    tag_filter_t filter;
    const struct sql92_expr_s *sql; /* SQL92 subscription (owned by b->sql_cache) */
} pull_req_t;

typedef struct held_pull_s {
    struct held_pull_s *next, *prev;
    rm_conn_t *conn;
    rm_reqinfo_t ri;
    pull_req_t pr;
    int64_t deadline;
} held_pull_t;

/* An arrival posted by the store's dispatch thread. */
typedef struct arrival_s {
    char topic[NAME_MAX_LEN];
    int32_t qid;
    int64_t max_offset;
} arrival_t;

typedef struct tps_s {
    int64_t samples[64];      /* counter snapshot every 10 s, ring */
    int64_t times[64];
    int n, pos;
} tps_t;

struct broker_s {
    broker_config_t conf;
    uv_loop_t loop;
    uv_thread_t thread;
    int thread_started;
    uv_async_t stop_async;
    uv_async_t arrival_async;
    uv_async_t done_async;    /* deferred replies finished off-loop (SYNC_FLUSH) */
    uv_check_t kick_check;    /* wakes the store's dispatcher once per loop iteration */
    uv_timer_t t_register, t_offsets, t_scan, t_hold, t_stats;
    int stopping;
    _Atomic int loop_done;    /* set (under arr_mu and done_mu) before the asyncs close */
    rm_server_t *srv;
    int port;
    struct store_s *store;
    uint8_t store_ip[4];      /* brokerIP1, for offset msgIds */

    rm_client_t *ns;
    char **ns_addrs;
    int n_ns;

    strmap_t topics;
    data_version_t topics_ver;
    strmap_t groups;
    data_version_t groups_ver;
    strmap_t offsets;           /* "topic@group" -> offset_tab_t */
    int offsets_dirty;
    data_version_t offsets_ver;

    strmap_t cgroups;           /* consumer group -> cgroup_t */
    strmap_t pgroups;           /* producer group -> pgroup_t */

    strmap_t holds;             /* "topic@qid" -> held_pull_t list head (sentinel) */
    _Atomic int nholds;

    pthread_mutex_t arr_mu;   /* arrivals from the dispatch thread */
    arrival_t *arr;
    int narr, arr_cap;
    int arr_overflow;

    pthread_mutex_t done_mu;
    struct pending_send_s *done_head;

    int64_t boot_ts;
    int64_t put_total, get_total, get_found, get_miss;
    tps_t put_tps, get_tps;
    char config_dir[1100];
    int64_t delay_levels[32];
    int n_delay_levels;
    int64_t delay_offsets[32];  /* next offset per level (delayOffset.json) */
    int delay_dirty;
    uv_timer_t t_schedule, t_delay_persist;
    struct timer_ent_s *theap;  /* timer messages (TIMER_*), min-heap on due time */
    int ntheap, ctheap;
    int64_t timer_scan_off;   /* next timer-topic entry to load into the heap */
    int64_t timer_lwm;        /* every timer entry below it is delivered */
    strmap_t timer_done;        /* delivered entries >= timer_lwm */
    int timer_dirty;
    strmap_t locks;
    strmap_t txn_resolved;      /* half queue offsets committed/rolled back */
    strmap_t txn_checks;        /* half queue offset -> check count */
    int64_t txn_check_off;
    uv_timer_t t_txn;

    strmap_t sql_cache;         /* SQL92 text -> compiled sql92_expr_t (never replaced) */
    buf_t props_buf;          /* send: properties scratch, reused (loop thread) */
    struct store_msg_s *batch_ms; /* send: batch scratch, grown on demand */
    struct store_put_result_s *batch_rs;
    size_t *batch_poff;
    size_t batch_cap;
    struct pull_pin_s *pin_free; /* pull: pinned-result holders, reused */
    int npin_free;             /* "group@topic@broker@qid" -> mq_lock_t */

    struct bmetrics_s *metrics; /* bmetrics.c; NULL when metricsPort is -1 */
    struct ha_s *ha;          /* replication (src/ha), ha_glue.c */
    struct ha_glue_s *ha_glue;

    int startup_status;       /* for broker_start: 0 ok, -1 failed */
    char startup_err[512];
    uv_sem_t started;
};

/* ---- helpers (util) ---- */
int bk_valid_topic(const char *t, char *err, size_t errlen);
int bk_is_forbidden_send_topic(const char *t);
int bk_ext_str(const rm_cmd_t *c, const char *key, const char *alt, const char **out);
/* Copies a required extField into out; replies with an error and returns -1 when missing. */
int bk_req_str(rm_conn_t *conn, rm_cmd_t *req, const char *key, char *out, size_t n);
int bk_req_i64(rm_conn_t *conn, rm_cmd_t *req, const char *key, int64_t *out);
int bk_req_i32(rm_conn_t *conn, rm_cmd_t *req, const char *key, int32_t *out);
void bk_reply_json(rm_conn_t *conn, rm_cmd_t *req, buf_t *body);
/* Replies code with a formatted remark: the handlers' early-exit errors. */
void bk_reply_errf(rm_conn_t *conn, rm_cmd_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes one of the broker's JSON documents (a table dump, a config file). */
typedef void (*bk_fill_fn)(broker_t *b, buf_t *out);
/* Replies SUCCESS with the JSON fill(b, body) writes. */
void bk_reply_filled(rm_conn_t *conn, rm_cmd_t *req, broker_t *b, bk_fill_fn fill);
/* Opens a JSON object with "brokerAddr": this broker's ip:port (the caller closes it). */
void bk_json_open_broker_addr(buf_t *out, const broker_t *b);
/* A request code and its handler; bk_route registers a table of them with ctx b. */
typedef struct bk_route_s {
    int code;
    rm_handler_fn fn;
} bk_route_t;
void bk_route(broker_t *b, const bk_route_t *routes, size_t n);
void bk_offset_msg_id(broker_t *b, int64_t phys, char out[33]);
int64_t bk_decode_offset_msg_id(const char *id);
void bk_dv_json(buf_t *out, const data_version_t *dv);
void bk_dv_bump(data_version_t *dv);
/* Parses JSON as RocketMQ's fastjson writes it (bare integer keys, json_quote_int_keys). */
struct cJSON *bk_json_parse(const char *text, size_t len);
int64_t bk_json_i64(const struct cJSON *o, const char *key, int64_t def);
int bk_json_bool(const struct cJSON *o, const char *key, int def);
const char *bk_json_str(const struct cJSON *o, const char *key, const char *def);
/* Persists text to <config_dir>/<name> off the loop (thread pool), atomically. */
void bk_persist(broker_t *b, const char *name, buf_t *text);
void bk_persist_sync(broker_t *b, const char *name, buf_t *text);
/* Writes <config_dir>/name with what fill writes, off the loop or (sync) at once. */
void bk_persist_json(broker_t *b, const char *name, bk_fill_fn fill, int sync);
/* Hands <config_dir>/name, parsed, to apply; falls back to name.bak when name is missing,
 * empty or not JSON (warn_bad: say so in the log). 0 also when neither exists; -1 with
 * err set when a file cannot be read. */
int bk_load_json(broker_t *b, const char *name, void (*apply)(broker_t *b, const struct cJSON *j),
                 int warn_bad, char *err, size_t errlen);
/* Reads a table file's "dataVersion", if it has one. */
void bk_dv_from_json(data_version_t *dv, const struct cJSON *file);
/* Appends {"key":item,...} for a table whose values item writes (keyed by their names). */
void bk_json_map(buf_t *out, const strmap_t *m, void (*item)(buf_t *out, const void *val));
void tag_filter_from_string(tag_filter_t *f, const char *sub);
int tag_filter_match(const tag_filter_t *f, int64_t tags_code);

/* Java 4.9 stores properties without a trailing 0x02 (ali-ons reads a trailing separator
 * as an empty-named property): drop it from what is about to be stored. */
static inline void bk_props_trim(const char *props, uint32_t *len) {
    while (*len && props[*len - 1] == '\x02') (*len)--;
}

/* ---- topics.c ---- */
void topics_init(broker_t *b);
int topics_load(broker_t *b, char *err, size_t errlen);
void topics_free(broker_t *b);
topic_cfg_t *topics_get(broker_t *b, const char *name);
/* Creates or replaces; persists; registers with the NameServers when `reg`. */
topic_cfg_t *topics_put(broker_t *b, const topic_cfg_t *tc, int reg);
int topics_delete(broker_t *b, const char *name);
/* Auto-creation on send (TBW102 inheritance), retry/DLQ creation. NULL if impossible. */
topic_cfg_t *topics_create_on_send(broker_t *b, const char *topic, const char *def_topic,
                                   int32_t queue_nums, int32_t sysflag);
topic_cfg_t *topics_create_sys(broker_t *b, const char *topic, int32_t qn, int32_t perm);
void topics_json(broker_t *b, buf_t *out, int with_mapping);
void topic_cfg_json(buf_t *out, const topic_cfg_t *t);
void topics_persist(broker_t *b);
int topics_is_system(broker_t *b, const char *t);
void topic_cfg_describe(const topic_cfg_t *t, char *out, size_t n);

/* ---- groups.c ---- */
void groups_init(broker_t *b);
int groups_load(broker_t *b, char *err, size_t errlen);
void groups_free(broker_t *b);
group_cfg_t *groups_get(broker_t *b, const char *name);
/* Finds, or auto-creates when autoCreateSubscriptionGroup (NULL otherwise). */
group_cfg_t *groups_find_or_create(broker_t *b, const char *name);
void groups_put(broker_t *b, const group_cfg_t *g);
int groups_delete(broker_t *b, const char *name);
void group_cfg_defaults(group_cfg_t *g, const char *name);
void group_cfg_json(buf_t *out, const group_cfg_t *g);
int group_cfg_from_json(group_cfg_t *g, const struct cJSON *o);
void groups_json(broker_t *b, buf_t *out);

/* ---- offsets.c ---- */
void offsets_init(broker_t *b);
int offsets_load(broker_t *b, char *err, size_t errlen);
void offsets_free(broker_t *b);
int64_t offsets_get(broker_t *b, const char *topic, const char *group, int32_t qid);
void offsets_set(broker_t *b, const char *topic, const char *group, int32_t qid, int64_t off);
void offsets_json(broker_t *b, buf_t *out);
void offsets_persist(broker_t *b, int sync);
void offsets_delete_topic(broker_t *b, const char *topic);
void offsets_delete_group(broker_t *b, const char *group);
/* Calls fn for every (topic, group) table. */
void offsets_each(broker_t *b, void (*fn)(const char *topic, const char *group,
                                          offset_tab_t *t, void *arg), void *arg);

/* ---- clients.c ---- */
void clients_init(broker_t *b);
void clients_free(broker_t *b);
void clients_on_close(rm_conn_t *conn, void *ctx);
void clients_scan_expired(broker_t *b);
cgroup_t *clients_cgroup(broker_t *b, const char *group);
pgroup_t *clients_pgroup(broker_t *b, const char *group);
sub_data_t *cgroup_find_sub(cgroup_t *g, const char *topic);
void sub_data_json(buf_t *out, const sub_data_t *s); /* SubscriptionData */
void h_heart_beat(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_unregister_client(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_consumer_list_by_group(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_consumer_connection_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_producer_connection_list(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_check_client_config(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
const char *cfw_name(int v);

/* ---- register.c ---- */
int register_init(broker_t *b, char *err, size_t errlen);
void register_all(broker_t *b);
void unregister_all(broker_t *b);
void register_free(broker_t *b);

/* ---- send.c ---- */
void h_send_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_send_reply_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void send_drain_done(broker_t *b);

/* ---- pull.c ---- */
void h_pull_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void pull_init(broker_t *b);
void pull_on_arrivals(broker_t *b);
void pull_check_holds(broker_t *b, int all_expired);
void pull_free(broker_t *b);
/* Store dispatch thread: a message reached (topic, qid); max_offset = new max. */
struct store_arrival_s;
void pull_arrival_cb(void *arg, const struct store_arrival_s *a);

/* ---- query.c (offsets, messages) ---- */
void h_query_consumer_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_update_consumer_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_max_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_min_offset(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_search_offset_by_timestamp(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_get_earliest_msg_storetime(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_query_message(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_view_message_by_id(rm_conn_t *conn, rm_cmd_t *req, void *ctx);

/* ---- schedule.c / sendback.c / locks.c ---- */
struct record_view_s;
struct store_msg_s;
/* A message that puts the stored record v again (delay delivery, send-back, commit): its
 * flags, born host and time, reconsume count and body, with this broker as the (IPv4) store
 * host. The caller sets topic, queue, props and whatever else differs. */
void bk_msg_from_record(broker_t *b, struct store_msg_s *m, const struct record_view_s *v);
int schedule_level_of(const char *props, size_t len);
int64_t schedule_deliver_time(broker_t *b, int level, int64_t store_ts);
int64_t schedule_tags_code_fn(const struct record_view_s *rv, void *arg);
void schedule_persist(broker_t *b, int sync);
void schedule_json(broker_t *b, buf_t *out);
int schedule_load(broker_t *b, char *err, size_t errlen);
/* Delivers what is due; returns the time (ms) the next known message is due. */
int64_t schedule_tick(broker_t *b);
void schedule_redirect(broker_t *b, struct store_msg_s *m, buf_t *props, int level,
                       char *topic_buf);
/* TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS: 0 none, 1 due time in *due, -1 bad. */
int timer_due_of(const char *props, size_t len, int64_t now, int64_t *due);
void timer_redirect(broker_t *b, struct store_msg_s *m, buf_t *props, int64_t due);
void timer_free(broker_t *b);
void h_consumer_send_msg_back(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_lock_batch_mq(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_unlock_batch_mq(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void locks_free(broker_t *b);
void txn_init(broker_t *b);
void txn_free(broker_t *b);
void txn_load(broker_t *b);
void txn_redirect_half(broker_t *b, struct store_msg_s *m, buf_t *props);
void h_end_transaction(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void txn_check_tick(broker_t *b);

/* Compiled SQL92 expression for text (cached), or NULL with a message in err. */
const struct sql92_expr_s *sql_cache_get(broker_t *b, const char *text, char *err, size_t errlen);
void sql_cache_free(broker_t *b);

void h_get_consumer_running_info(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_consume_message_directly(rm_conn_t *conn, rm_cmd_t *req, void *ctx);
void h_invoke_broker_to_get_consumer_status(rm_conn_t *conn, rm_cmd_t *req, void *ctx);

/* ---- admin.c ---- */
void admin_register_handlers(broker_t *b);
void stats_tick(broker_t *b);

/* ---- bmetrics.c: Prometheus metrics (loop thread unless noted) ---- */
void bm_start(broker_t *b);          /* end of setup */
void bm_close_handles(broker_t *b);  /* stop, on the loop */
void bm_stop_http(broker_t *b);      /* broker_stop, before the loop stops */
void bm_free(broker_t *b);
int bm_port(const broker_t *b);
/* stored_topic = the topic the record went to (half / schedule topics give message_type). */
/* tc: the topic config; its stats pointer caches the counters lookup. */
void bm_on_put(broker_t *b, topic_cfg_t *tc, const char *stored_topic, uint32_t body_len);
void bm_on_put_batch(broker_t *b, const char *topic, const struct store_msg_s *ms, size_t n);
void bm_on_pull(broker_t *b, const char *topic, const char *group, int32_t qid, uint32_t nmsgs,
                uint32_t bytes, int64_t next_offset);
void bm_on_dlq(broker_t *b, const char *topic, const char *group);
/* ---- ha_glue.c: replication (issue 9) ---- */
typedef struct ha_glue_s ha_glue_t;
/* After bs_open, on the loop thread: HA thread, slave sync timer. */
int ha_glue_start(broker_t *b, char *err, size_t errlen);
void ha_glue_loop_close(broker_t *b);  /* on_stop_async */
void ha_glue_stop(broker_t *b);        /* before the store closes */
void ha_glue_free(broker_t *b);        /* after the store closed */
void ha_glue_on_registered(broker_t *b, const rm_cmd_t *resp); /* any thread */
int ha_glue_sync_master(const broker_t *b);
int ha_glue_slave_ok(broker_t *b, int64_t upto);
/* cb(arg, 0) once a slave holds upto, cb(arg, 1) on timeout; from another thread. */
void ha_glue_wait(broker_t *b, int64_t upto, void (*cb)(void *arg, int status), void *arg);
void ha_glue_notify(broker_t *b);
int ha_glue_may_register(const broker_t *b);

/* ---- bstore.c: the broker's view of the store ---- */
int bs_open(broker_t *b, char *err, size_t errlen);
void bs_close(broker_t *b);
int64_t bs_min_offset(broker_t *b, const char *topic, int32_t qid);
int64_t bs_max_offset(broker_t *b, const char *topic, int32_t qid);
int64_t bs_offset_by_time(broker_t *b, const char *topic, int32_t qid, int64_t ts, int upper);
/* Store time of the message at queue offset `off`, or -1. */
int64_t bs_store_time(broker_t *b, const char *topic, int32_t qid, int64_t off);
void bs_delete_topic(broker_t *b, const char *topic);

#endif
