/*
 * client_int: libpetrel internals shared by the client's .c files (never
 * installed). Symbols here are petrel__* so users cannot collide with them.
 *
 * Threads of one producer/consumer: the remoting client's I/O thread (response
 * callbacks, server requests), one service thread per object (timers: route
 * refresh, heartbeats, rebalance, offset persistence; deferred work such as
 * re-pulls and async send retries, so nothing blocking runs on the I/O thread)
 * and, for push consumers, the consume threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CLIENT_INT_H
#define PETREL_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "petrel/petrel.h"
#include "remoting/remoting.h"

/* ---- logging (silent unless the user installed a callback) -------------- */

void petrel__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern _Atomic int petrel__log_min;
#define PLOG(lvl, ...)                                                                             \
    do {                                                                                           \
        if ((lvl) >= atomic_load_explicit(&petrel__log_min, memory_order_relaxed))                 \
            petrel__log((lvl), __VA_ARGS__);                                                       \
    } while (0)
#define PLOG_DEBUG(...) PLOG(PETREL_LOG_DEBUG, __VA_ARGS__)
#define PLOG_INFO(...) PLOG(PETREL_LOG_INFO, __VA_ARGS__)
#define PLOG_WARN(...) PLOG(PETREL_LOG_WARN, __VA_ARGS__)
#define PLOG_ERROR(...) PLOG(PETREL_LOG_ERROR, __VA_ARGS__)

/* ---- configuration ------------------------------------------------------- */

enum { PETREL__CLUSTERING = 0, PETREL__BROADCASTING = 1 };
enum { PETREL__FROM_LAST = 0, PETREL__FROM_FIRST = 1, PETREL__FROM_TIMESTAMP = 2 };
enum { PETREL__ALLOC_AVG = 0, PETREL__ALLOC_AVG_BY_CIRCLE = 1, PETREL__ALLOC_CONSISTENT_HASH = 2 };

struct petrel_conf_s {
    char *namesrvAddr;
    char *groupName;
    char *instanceName;
    char *unitName;
    int32_t sendMsgTimeout;
    int32_t retryTimesWhenSendFailed;
    int32_t compressMsgBodyOverHowmuch;
    int32_t maxMessageSize;
    int32_t pollNameServerInterval;
    int32_t heartbeatBrokerInterval;
    int messageModel;
    int consumeFromWhere;
    char *consumeTimestamp;
    int allocateMessageQueueStrategy;
    int32_t consumeThreadNums;
    int32_t pullBatchSize;
    int32_t pullThresholdForQueue;
    int32_t pullThresholdSizeForQueue;
    int32_t suspendTimeoutMillis;
    int32_t rebalanceInterval;
    int32_t persistConsumerOffsetInterval;
    int32_t maxReconsumeTimes;
    char *offsetStoreDir;
    int serializeType; /* RM_SER_JSON or RM_SER_ROCKETMQ headers */
};
/* Copies src into dst (dst uninitialised). */
void petrel__conf_copy(petrel_conf_t *dst, const petrel_conf_t *src);
void petrel__conf_free(petrel_conf_t *conf);

/* ---- messages ------------------------------------------------------------ */

typedef struct petrel__prop_s {
    char *name;
    char *value;
} petrel__prop_t;

typedef struct petrel__slab_s petrel__slab_t;

struct petrel_msg_s {
    char *topic;           /* owned (outgoing) or in the block (received) */
    petrel__prop_t *props; /* properties in order */
    size_t n_props;
    size_t cap_props;
    uint8_t *body; /* owned, or in the block, or inflated */
    size_t body_len;
    int32_t flag;
    uint8_t received;     /* read-only; strings live in the same allocation */
    uint8_t body_owned;   /* received: body was inflated into its own buffer */
    petrel__slab_t *slab; /* received: the shared block holding this message, or NULL */
    /* received-message attributes */
    int32_t queue_id;
    int32_t sys_flag;
    int32_t reconsume_times;
    int64_t queue_offset;
    int64_t commit_log_offset;
    int64_t born_ts;
    int64_t store_ts;
    int64_t prepared_tx_offset;
    char msg_id[PETREL_MSG_ID_MAX];
    char offset_id[PETREL_MSG_ID_MAX];
    char broker_name[128];
    char born_host[48];
    char store_host[48];
};

/* Property value or NULL. */
const char *petrel__msg_prop(const petrel_msg_t *msg, const char *name);
/* Appends msg's properties as "k\1v\2..." to out. */
void petrel__props_encode(const petrel_msg_t *msg, buf_t *out);
/* Appends one "k\1v\2". */
void petrel__props_put(buf_t *out, const char *k, const char *v);

/*
 * Decodes one stored record at p (avail bytes) into a new received message (one
 * allocation, plus one for an inflated body). *used gets TOTALSIZE. Returns
 * PETREL_OK, PETREL_EPROTO (bad record) or PETREL_ENOMEM.
 */
petrel_err_t petrel__record_decode(const uint8_t *p, size_t avail, const char *broker_name,
                                   petrel_msg_t **out, size_t *used);
/*
 * Decoding a whole pull answer without an allocation per message: _open sizes its records
 * and allocates one block for them, _decode_in places each message in it (falling back to
 * its own allocation when sc is NULL or the block is full), _close drops the opener's
 * reference. The block is freed when it is closed and its last message destroyed.
 */
typedef struct petrel__slab_cur_s {
    petrel__slab_t *slab;
    uint8_t *cur, *end;
} petrel__slab_cur_t;
void petrel__slab_open(petrel__slab_cur_t *sc, const uint8_t *p, size_t len);
petrel_err_t petrel__record_decode_in(petrel__slab_cur_t *sc, const uint8_t *p, size_t avail,
                                      const char *broker_name, petrel_msg_t **out, size_t *used);
void petrel__slab_close(petrel__slab_cur_t *sc);
/* Frees a received message (its slab reference or its own allocation). */
void petrel__msg_free_received(petrel_msg_t *m);

/* ---- ids and codecs ------------------------------------------------------ */

/* A new UNIQ_KEY (MessageClientIDSetter layout, 32 uppercase hex digits). */
void petrel__uniq_id(char out[33]);
/* hex(ip4, port, offset) -> 32 chars. */
void petrel__offset_msg_id(const uint8_t ip4[4], int32_t port, int64_t offset, char out[33]);
/* Parses an offset msg id (32 or 56 hex digits, either case). 0 or -1. */
int petrel__decode_offset_msg_id(const char *id, char *addr, size_t addrlen, int64_t *offset);
/* zlib (RFC 1950). Return 0 or -1; *out is malloc'd. */
int petrel__zlib_compress(const void *in, size_t n, uint8_t **out, size_t *outn);
int petrel__zlib_inflate(const void *in, size_t n, uint8_t **out, size_t *outn);
/* Appends one batch record (remoting-protocol 7.5) for msg with properties text props. */
void petrel__batch_put(buf_t *out, const petrel_msg_t *msg, const uint8_t *props, size_t plen);
/* The local IPv4 address (first non-loopback, else 127.0.0.1). */
void petrel__local_ip(uint8_t ip[4], char *text, size_t textlen);

/* ---- routes ---------------------------------------------------------------- */

typedef struct petrel__qdata_s {
    char broker_name[128];
    int read_n;
    int write_n;
    int perm;
} petrel__qdata_t;

typedef struct petrel__bdata_s {
    char broker_name[128];
    char master[64]; /* id 0 address, "" when no master */
    char any[64];    /* some address (master preferred) */
} petrel__bdata_t;

typedef struct petrel__route_s {
    _Atomic int refs;
    petrel__qdata_t *q;
    int nq;
    petrel__bdata_t *b;
    int nb;
    char *order_conf; /* orderTopicConf or NULL */
} petrel__route_t;

/* Parses a TopicRouteData body (tolerates fastjson's bare numeric keys). NULL when bad. */
petrel__route_t *petrel__route_parse(const char *json, size_t len);
void petrel__route_release(petrel__route_t *r);
static inline petrel__route_t *petrel__route_retain(petrel__route_t *r) {
    atomic_fetch_add(&r->refs, 1);
    return r;
}
/* Writable (publish) or readable (subscribe) queues of topic, sorted by broker then id.
 * *mqs malloc'd (NULL when 0). */
int petrel__route_queues(const petrel__route_t *r, const char *topic, int for_write,
                         petrel_mq_t **mqs);
/* Master address of a broker name, or NULL. */
const char *petrel__route_master(const petrel__route_t *r, const char *broker_name);

/* ---- allocation strategies ------------------------------------------------ */

/*
 * Computes the queues (indices into mqs, which must be sorted) that cid `self` owns among
 * the sorted cids. Writes up to n_mqs indices into out, returns the count (0 when self is
 * not among cids).
 */
int petrel__allocate(int strategy, const petrel_mq_t *mqs, int n_mqs, char *const *cids, int n_cids,
                     const char *self, int *out);
int petrel__mq_cmp(const void *a, const void *b);
/* MD5 digest (RFC 1321). */
void petrel__md5(const void *data, size_t n, uint8_t out[16]);

/* ---- local offset file (broadcasting) ------------------------------------ */

typedef struct petrel__offent_s {
    petrel_mq_t mq;
    int64_t offset;
} petrel__offent_t;

typedef struct petrel__offtab_s {
    petrel__offent_t *e;
    size_t n, cap;
} petrel__offtab_t;

void petrel__offtab_set(petrel__offtab_t *t, const petrel_mq_t *mq, int64_t offset);
int64_t petrel__offtab_get(const petrel__offtab_t *t, const petrel_mq_t *mq); /* -1: none */
void petrel__offtab_free(petrel__offtab_t *t);
/* JSON: {"offsetTable":[{"topic":..,"brokerName":..,"queueId":..,"offset":..}]}, written with
 * file_write_atomic. Load of a missing file is PETREL_OK with an empty table. */
petrel_err_t petrel__offtab_save(const petrel__offtab_t *t, const char *path);
petrel_err_t petrel__offtab_load(petrel__offtab_t *t, const char *path);

/* ---- the client instance (one per producer/consumer) ---------------------- */

typedef struct petrel__inst_s petrel__inst_t;
typedef void (*petrel__task_fn)(void *arg);

typedef struct petrel__inst_cbs_s {
    void (*tick)(void *owner, int64_t now_ms); /* service thread, every ~50 ms */
    void (*on_request)(void *owner, const char *addr, rm_cmd_t *req); /* I/O thread */
    void *owner;
} petrel__inst_cbs_t;

/* Creates the remoting client and parses namesrvAddr; the service thread starts in _start. */
petrel_err_t petrel__inst_create(const petrel_conf_t *conf, const petrel__inst_cbs_t *cbs,
                                 petrel__inst_t **out, char *errstr, size_t errlen);
/* What every client's create does: copies conf into *own and creates the instance on that
 * copy; on failure the copy is freed again. */
petrel_err_t petrel__inst_open(petrel_conf_t *own, const petrel_conf_t *conf,
                               const petrel__inst_cbs_t *cbs, petrel__inst_t **out, char *errstr,
                               size_t errlen);
petrel_err_t petrel__inst_start(petrel__inst_t *inst);
/* Stops the service thread (runs no more ticks). Idempotent. */
void petrel__inst_stop(petrel__inst_t *inst);
/* Destroys the remoting client (fails pending calls) and frees. */
void petrel__inst_destroy(petrel__inst_t *inst);
rm_client_t *petrel__inst_rm(petrel__inst_t *inst);
const char *petrel__inst_client_id(const petrel__inst_t *inst);
/* Runs fn(arg) on the service thread soon (after delay_ms). Returns -1 when stopped. */
int petrel__inst_defer(petrel__inst_t *inst, int delay_ms, petrel__task_fn fn, void *arg);
/* Wakes the service thread so it ticks at once. */
void petrel__inst_kick(petrel__inst_t *inst);

/*
 * The route of topic, retained (release with petrel__route_release): from the cache unless
 * force or absent, then from a NameServer. PETREL_TOPIC_NOT_EXIST when the NameServer has none.
 */
petrel_err_t petrel__inst_route(petrel__inst_t *inst, const char *topic, int force,
                                petrel__route_t **out);
/* Cached route only (no I/O): NULL if absent. Retained. */
petrel__route_t *petrel__inst_route_cached(petrel__inst_t *inst, const char *topic);
/* Re-fetches every cached topic's route. */
void petrel__inst_refresh_routes(petrel__inst_t *inst);
/* Master address of broker_name from any cached route. 0 or -1. */
int petrel__inst_broker_addr(petrel__inst_t *inst, const char *broker_name, char *out,
                             size_t outlen);
/* All known master addresses (deduplicated). *addrs malloc'd array of char[64]. */
int petrel__inst_brokers(petrel__inst_t *inst, char (**addrs)[64]);
/* Sends a HEART_BEAT body to every known master (sync, short timeout). */
void petrel__inst_heartbeat(petrel__inst_t *inst, const char *body, size_t len);
/* UNREGISTER_CLIENT to every known master. */
void petrel__inst_unregister(petrel__inst_t *inst, const char *producer_group,
                             const char *consumer_group);

/* Synchronous call helper: maps transport statuses to petrel errors; *resp on PETREL_OK
 * (any response code; the caller checks resp->cmd.code). */
petrel_err_t petrel__call(petrel__inst_t *inst, const char *addr, int32_t code,
                          const char *const *ext, const void *body, uint32_t body_len,
                          int timeout_ms, rm_response_t **resp);
/* Maps an rm status or a response code to petrel_err_t. */
static inline petrel_err_t petrel__err_from_rm(int status) {
    return (petrel_err_t)status;
}

/* GET_CONSUMER_LIST_BY_GROUP: sorted malloc'd strings (free with petrel__strv_free). */
petrel_err_t petrel__consumer_ids(petrel__inst_t *inst, const char *addr, const char *group,
                                  char ***ids, int *n);
void petrel__strv_free(char **v, int n);

/* Subscription expression "A || B" split into tags (none for "*"). */
typedef struct petrel__sub_s {
    char *topic;
    char *expr;
    char **tags;
    int n_tags;
    int64_t version;
} petrel__sub_t;
petrel_err_t petrel__sub_init(petrel__sub_t *s, const char *topic, const char *expr);
void petrel__sub_free(petrel__sub_t *s);
int petrel__sub_match(const petrel__sub_t *s, const char *tag);
/* Appends a SubscriptionData JSON object. */
void petrel__sub_json(buf_t *b, const petrel__sub_t *s);
/* Sends a consumer's HEART_BEAT (one ConsumerData of conf's group and subs, no producers). */
void petrel__consumer_heartbeat(petrel__inst_t *inst, const petrel_conf_t *conf,
                                const char *consume_type, const char *from_where,
                                const petrel__sub_t *subs, int n_subs);

/* Starting offset of a newly assigned queue from consumeFromWhere (after a QUERY miss). */
petrel_err_t petrel__offset_from_where(petrel__inst_t *inst, const petrel_conf_t *conf,
                                       const char *addr, const petrel_mq_t *mq, int64_t *off);
/* QUERY_CONSUMER_OFFSET: PETREL_OK and *off, or PETREL_QUERY_NOT_FOUND, or an error. */
petrel_err_t petrel__query_offset(petrel__inst_t *inst, const char *addr, const char *group,
                                  const petrel_mq_t *mq, int64_t *off);
/* UPDATE_CONSUMER_OFFSET (oneway). */
void petrel__update_offset(petrel__inst_t *inst, const char *addr, const char *group,
                           const petrel_mq_t *mq, int64_t off);
/* UPDATE_CONSUMER_OFFSET, waiting up to 3 s: the call's error, else PETREL_OK and the
 * broker's answer code in *code (if code is not NULL). */
petrel_err_t petrel__commit_offset(petrel__inst_t *inst, const char *addr, const char *group,
                                   const petrel_mq_t *mq, int64_t off, int *code);
/* Path of the broadcasting offsets file for this client and group (malloc'd). */
char *petrel__offfile_path(const petrel_conf_t *conf, const char *client_key);

#endif
