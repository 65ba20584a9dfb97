/*
 * petrel.h: libpetrel, the C client library for Petrel and any broker that
 * speaks Apache RocketMQ's remoting protocol (4.x/5.x "remoting" SDK model).
 *
 * Objects (all opaque):
 *   petrel_conf_t           key/value configuration, RocketMQ's key names
 *   petrel_msg_t            a message to send, or a received message
 *   petrel_producer_t       sync / async / oneway / batch / ordered / transactional sends
 *   petrel_push_consumer_t  clustering or broadcasting consumer driving a listener
 *   petrel_pull_consumer_t  assign-or-subscribe, poll, commit
 *
 * Conventions:
 *   - Functions return a petrel_err_t (PETREL_OK = 0) and hand results back
 *     through out-parameters. Negative codes are client/transport errors,
 *     positive codes are the broker's RocketMQ ResponseCode.
 *   - Every _create/_new has a _destroy that accepts NULL.
 *   - Configuration objects are copied by _create: the caller may reuse or
 *     destroy its petrel_conf_t afterwards.
 *   - Thread safety is stated per function. Unless stated otherwise, a
 *     producer or consumer may be used from any thread concurrently; a message
 *     must not be modified while another thread reads or sends it.
 *   - The library is silent unless a log callback is installed
 *     (petrel_set_log_cb).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_PETREL_H
#define PETREL_PETREL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PETREL_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define PETREL_EXPORT __attribute__((visibility("default")))
#else
#define PETREL_EXPORT
#endif

#define PETREL_VERSION_STR "0.1.0"

/* ---- forward typedefs --------------------------------------------------- */

typedef struct petrel_conf_s petrel_conf_t;
typedef struct petrel_msg_s petrel_msg_t;
typedef struct petrel_producer_s petrel_producer_t;
typedef struct petrel_push_consumer_s petrel_push_consumer_t;
typedef struct petrel_pull_consumer_s petrel_pull_consumer_t;

/* ---- errors -------------------------------------------------------------- */

/*
 * X(name, value, retriable, message). Client and transport errors are
 * negative; positive values are RocketMQ ResponseCode numbers sent by a broker
 * or NameServer, so a grep for the Java name finds the counterpart.
 */
#define PETREL_ERR_MAP(X)                                                                          \
    X(OK, 0, 0, "success")                                                                         \
    X(EINVAL, -1, 0, "invalid argument")                                                           \
    X(ENOMEM, -2, 0, "out of memory")                                                              \
    X(AGAIN, -3, 1, "would block, try again later")                                                \
    X(ESTATE, -4, 0, "object is in the wrong state for this call (not started, or closed)")        \
    X(ENOROUTE, -5, 1, "no route for the topic (unknown topic or no writable queue)")              \
    X(ECONFIG, -6, 0, "unknown configuration key or bad value")                                    \
    X(ETOOBIG, -7, 0, "message body or properties too large")                                      \
    X(EIO, -8, 0, "local file I/O failed")                                                         \
    X(ENOMSG, -9, 1, "no message available")                                                       \
    X(ETXUNKNOWN, -10, 0, "transaction state unknown: the broker will check back")                 \
    X(ETIMEOUT, -1001, 1, "request timed out")                                                     \
    X(ECONNECT, -1002, 1, "could not connect to the server")                                       \
    X(ECLOSED, -1003, 1, "connection closed before the response")                                  \
    X(ESHUTDOWN, -1004, 0, "client is shutting down")                                              \
    X(EPROTO, -1005, 0, "malformed or unexpected response")                                        \
    X(SYSTEM_ERROR, 1, 1, "broker: system error")                                                  \
    X(SYSTEM_BUSY, 2, 1, "broker: system busy")                                                    \
    X(REQUEST_CODE_NOT_SUPPORTED, 3, 0, "broker: request code not supported")                      \
    X(TRANSACTION_FAILED, 4, 0, "broker: transaction failed")                                      \
    X(FLUSH_DISK_TIMEOUT, 10, 0, "broker: stored, but flushing to disk timed out")                 \
    X(SLAVE_NOT_AVAILABLE, 11, 0, "broker: stored, but no slave available")                        \
    X(FLUSH_SLAVE_TIMEOUT, 12, 0, "broker: stored, but replication to the slave timed out")        \
    X(MESSAGE_ILLEGAL, 13, 0, "broker: message illegal (size, properties or topic)")               \
    X(SERVICE_NOT_AVAILABLE, 14, 1, "broker: service not available")                               \
    X(VERSION_NOT_SUPPORTED, 15, 0, "broker: version not supported")                               \
    X(NO_PERMISSION, 16, 0, "broker: no permission")                                               \
    X(TOPIC_NOT_EXIST, 17, 1, "topic does not exist")                                              \
    X(TOPIC_EXIST_ALREADY, 18, 0, "topic exists already")                                          \
    X(PULL_NOT_FOUND, 19, 1, "no new message")                                                     \
    X(PULL_RETRY_IMMEDIATELY, 20, 1, "no matched message, pull again")                             \
    X(PULL_OFFSET_MOVED, 21, 1, "pull offset illegal (moved)")                                     \
    X(QUERY_NOT_FOUND, 22, 0, "not found")                                                         \
    X(SUBSCRIPTION_PARSE_FAILED, 23, 0, "subscription expression could not be parsed")             \
    X(SUBSCRIPTION_NOT_EXIST, 24, 1, "subscription does not exist")                                \
    X(SUBSCRIPTION_NOT_LATEST, 25, 1, "subscription not latest")                                   \
    X(SUBSCRIPTION_GROUP_NOT_EXIST, 26, 0, "subscription group does not exist")                    \
    X(INVALID_PARAMETER, 29, 0, "broker: invalid parameter")                                       \
    X(TRANSACTION_SHOULD_COMMIT, 200, 0, "transaction should commit")                              \
    X(TRANSACTION_SHOULD_ROLLBACK, 201, 0, "transaction should roll back")                         \
    X(TRANSACTION_STATE_UNKNOW, 202, 0, "transaction state unknown")                               \
    X(CONSUMER_NOT_ONLINE, 206, 0, "consumer not online")                                          \
    X(NO_MESSAGE, 208, 0, "no message")

typedef enum {
#define PETREL_ERR_ENUM_(name, val, retr, msg) PETREL_##name = (val),
    PETREL_ERR_MAP(PETREL_ERR_ENUM_)
#undef PETREL_ERR_ENUM_
} petrel_err_t;

/** @brief Human-readable message for err ("broker: system busy"). Never NULL; static storage. */
PETREL_EXPORT const char *petrel_strerror(int err);
/** @brief Symbolic name for err ("PETREL_SYSTEM_BUSY"); "PETREL_UNKNOWN" for unlisted codes. */
PETREL_EXPORT const char *petrel_err_name(int err);
/** @brief 1 when retrying the same call later may succeed (timeouts, busy broker...). */
PETREL_EXPORT int petrel_err_is_retriable(int err);

/* ---- logging and version ------------------------------------------------- */

typedef enum {
    PETREL_LOG_DEBUG = 0,
    PETREL_LOG_INFO = 1,
    PETREL_LOG_WARN = 2,
    PETREL_LOG_ERROR = 3,
} petrel_log_level_t;

/** @brief Log callback: one line without a trailing newline. May be called from any library
 * thread; must not call back into the library. */
typedef void (*petrel_log_cb)(petrel_log_level_t level, const char *line, void *opaque);

/**
 * @brief Installs a process-wide log callback (NULL = silent, the default) and the minimum level.
 * @remark Thread-safe; affects every client in the process.
 */
PETREL_EXPORT void petrel_set_log_cb(petrel_log_cb cb, petrel_log_level_t min_level, void *opaque);
/** @brief Convenience callback printing to stderr; pass it to petrel_set_log_cb. */
PETREL_EXPORT void petrel_log_stderr(petrel_log_level_t level, const char *line, void *opaque);
/** @brief Library version string, e.g. "0.1.0". */
PETREL_EXPORT const char *petrel_version(void);

/* ---- configuration ------------------------------------------------------- */

/**
 * @brief Creates a configuration with every default (see docs/client.md for the key list).
 * @returns NULL on out of memory. Free with petrel_conf_destroy.
 * @remark A petrel_conf_t is not thread-safe; _create functions copy it.
 *
 * Keys (RocketMQ's names): namesrvAddr ("host:port;host:port"), groupName, instanceName,
 * sendMsgTimeout (3000), retryTimesWhenSendFailed (2), compressMsgBodyOverHowmuch (4096),
 * maxMessageSize (4194304), pollNameServerInterval (30000), heartbeatBrokerInterval (30000),
 * messageModel (CLUSTERING|BROADCASTING), consumeFromWhere
 * (CONSUME_FROM_LAST_OFFSET|CONSUME_FROM_FIRST_OFFSET|CONSUME_FROM_TIMESTAMP),
 * consumeTimestamp (yyyyMMddHHmmss, default 30 minutes ago), allocateMessageQueueStrategy
 * (AVG|AVG_BY_CIRCLE|CONSISTENT_HASH), consumeThreadNums (4), pullBatchSize (32),
 * pullThresholdForQueue (1000), pullThresholdSizeForQueue (MiB, 100),
 * suspendTimeoutMillis (15000), rebalanceInterval (20000), persistConsumerOffsetInterval (5000),
 * maxReconsumeTimes (-1: 16 for concurrent listeners, no limit for orderly ones), offsetStoreDir
 * ($HOME/.rocketmq_offsets), unitName, serializeType (JSON|ROCKETMQ: request header encoding).
 */
PETREL_EXPORT petrel_conf_t *petrel_conf_new(void);
/** @brief Frees conf (NULL is fine). */
PETREL_EXPORT void petrel_conf_destroy(petrel_conf_t *conf);
/**
 * @brief Sets key to value (copied).
 * @param errstr receives a one-line reason on failure (may be NULL).
 * @returns PETREL_OK, or PETREL_ECONFIG for an unknown key or a bad value.
 */
PETREL_EXPORT petrel_err_t petrel_conf_set(petrel_conf_t *conf, const char *key, const char *value,
                                           char *errstr, size_t errstr_size);
/** @brief Copies the current value of key as text into out. PETREL_ECONFIG if unknown. */
PETREL_EXPORT petrel_err_t petrel_conf_get(const petrel_conf_t *conf, const char *key, char *out,
                                           size_t out_size);
/** @brief A deep copy, or NULL on out of memory. */
PETREL_EXPORT petrel_conf_t *petrel_conf_dup(const petrel_conf_t *conf);

/* ---- messages ------------------------------------------------------------ */

/** Property names the library and brokers use (RocketMQ MessageConst). */
#define PETREL_PROP_KEYS "KEYS"
#define PETREL_PROP_TAGS "TAGS"
#define PETREL_PROP_DELAY "DELAY"
#define PETREL_PROP_UNIQ_KEY "UNIQ_KEY"
#define PETREL_PROP_SHARDING_KEY "__SHARDINGKEY"
#define PETREL_PROP_WAIT "WAIT"
#define PETREL_PROP_RETRY_TOPIC "RETRY_TOPIC"

/** Longest message id text including the NUL (IPv6 offset ids are 56 hex digits). */
#define PETREL_MSG_ID_MAX 64

/**
 * @brief A new outgoing message for topic (copied).
 * @returns NULL on out of memory or a NULL/empty topic. Free with petrel_msg_destroy.
 */
PETREL_EXPORT petrel_msg_t *petrel_msg_new(const char *topic);
/** @brief Frees msg (NULL is fine). Received messages handed to a listener are owned by the
 * library and must not be destroyed; those returned by petrel_pull_consumer_poll must be. */
PETREL_EXPORT void petrel_msg_destroy(petrel_msg_t *msg);
/** @brief A deep, writable copy (also of a received message, to keep it past a callback). */
PETREL_EXPORT petrel_msg_t *petrel_msg_dup(const petrel_msg_t *msg);

/* Setters copy their arguments; they return PETREL_EINVAL on a received message. */
PETREL_EXPORT petrel_err_t petrel_msg_set_topic(petrel_msg_t *msg, const char *topic);
/** @brief Sets the tag (property TAGS); NULL removes it. */
PETREL_EXPORT petrel_err_t petrel_msg_set_tags(petrel_msg_t *msg, const char *tags);
/** @brief Sets business keys (property KEYS, several separated by one space). */
PETREL_EXPORT petrel_err_t petrel_msg_set_keys(petrel_msg_t *msg, const char *keys);
/** @brief Copies len body bytes. */
PETREL_EXPORT petrel_err_t petrel_msg_set_body(petrel_msg_t *msg, const void *body, size_t len);
/** @brief Sets (or, with value NULL, removes) a user property. Names and values must not
 * contain the bytes 0x01 or 0x02. */
PETREL_EXPORT petrel_err_t petrel_msg_set_property(petrel_msg_t *msg, const char *name,
                                                   const char *value);
/** @brief Delay level 1..18 (1s 5s 10s 30s 1m ... 2h); 0 = deliver at once. */
PETREL_EXPORT petrel_err_t petrel_msg_set_delay_level(petrel_msg_t *msg, int level);
/** @brief The user flag (an int the broker stores and returns untouched). */
PETREL_EXPORT petrel_err_t petrel_msg_set_flag(petrel_msg_t *msg, int32_t flag);

/* Getters: returned strings live as long as msg and are NULL when absent. */
PETREL_EXPORT const char *petrel_msg_topic(const petrel_msg_t *msg);
PETREL_EXPORT const char *petrel_msg_tags(const petrel_msg_t *msg);
PETREL_EXPORT const char *petrel_msg_keys(const petrel_msg_t *msg);
/** @brief Body bytes (decompressed for received messages) and their length in *len. */
PETREL_EXPORT const void *petrel_msg_body(const petrel_msg_t *msg, size_t *len);
PETREL_EXPORT const char *petrel_msg_property(const petrel_msg_t *msg, const char *name);
/** @brief Number of properties (user and system) and the i-th one. */
PETREL_EXPORT size_t petrel_msg_property_count(const petrel_msg_t *msg);
PETREL_EXPORT petrel_err_t petrel_msg_property_at(const petrel_msg_t *msg, size_t i,
                                                  const char **name, const char **value);
PETREL_EXPORT int petrel_msg_delay_level(const petrel_msg_t *msg);
PETREL_EXPORT int32_t petrel_msg_flag(const petrel_msg_t *msg);

/* Received-message attributes (0 / NULL on an outgoing message). */
/** @brief The client message id (UNIQ_KEY), or the offset id when the producer set none. */
PETREL_EXPORT const char *petrel_msg_id(const petrel_msg_t *msg);
/** @brief The store-based id: hex(store ip, port, commit-log offset). */
PETREL_EXPORT const char *petrel_msg_offset_id(const petrel_msg_t *msg);
PETREL_EXPORT const char *petrel_msg_broker_name(const petrel_msg_t *msg);
PETREL_EXPORT int petrel_msg_queue_id(const petrel_msg_t *msg);
PETREL_EXPORT int64_t petrel_msg_queue_offset(const petrel_msg_t *msg);
PETREL_EXPORT int64_t petrel_msg_commit_log_offset(const petrel_msg_t *msg);
PETREL_EXPORT int petrel_msg_reconsume_times(const petrel_msg_t *msg);
PETREL_EXPORT int64_t petrel_msg_born_timestamp(const petrel_msg_t *msg);
PETREL_EXPORT int64_t petrel_msg_store_timestamp(const petrel_msg_t *msg);
/** @brief "ip:port" of the producer and of the broker that stored the message. */
PETREL_EXPORT const char *petrel_msg_born_host(const petrel_msg_t *msg);
PETREL_EXPORT const char *petrel_msg_store_host(const petrel_msg_t *msg);
PETREL_EXPORT int32_t petrel_msg_sys_flag(const petrel_msg_t *msg);

/* ---- message queues ------------------------------------------------------ */

/** A queue of a topic on one broker (RocketMQ MessageQueue). Plain data, copyable. */
typedef struct petrel_mq_s {
    char topic[256];
    char broker_name[128];
    int queue_id;
} petrel_mq_t;

/* ---- producer ------------------------------------------------------------ */

typedef enum {
    PETREL_SEND_OK = 0,
    PETREL_SEND_FLUSH_DISK_TIMEOUT = 1,
    PETREL_SEND_FLUSH_SLAVE_TIMEOUT = 2,
    PETREL_SEND_SLAVE_NOT_AVAILABLE = 3,
} petrel_send_status_t;

/** What a successful send reports. For a batch: the first message's ids, and count (every
 * message's ids: petrel_producer_send_batch_ids). */
typedef struct petrel_send_result_s {
    petrel_send_status_t status;
    char msg_id[PETREL_MSG_ID_MAX];        /* UNIQ_KEY of the (first) message */
    char offset_msg_id[PETREL_MSG_ID_MAX]; /* store-based id of the (first) message */
    petrel_mq_t mq;                        /* queue written */
    int64_t queue_offset;                  /* queue offset of the (first) message */
    int count;                             /* messages stored (1, or the batch size) */
} petrel_send_result_t;

/**
 * @brief Creates a producer from conf (copied). Needs namesrvAddr and groupName.
 * @param errstr receives a reason on failure (may be NULL).
 * @returns PETREL_OK and *out, PETREL_ECONFIG, PETREL_EINVAL or PETREL_ENOMEM.
 */
PETREL_EXPORT petrel_err_t petrel_producer_create(const petrel_conf_t *conf,
                                                  petrel_producer_t **out, char *errstr,
                                                  size_t errstr_size);
/** @brief Starts the I/O and timer threads (route refresh, heartbeats). Call once. */
PETREL_EXPORT petrel_err_t petrel_producer_start(petrel_producer_t *producer);
/**
 * @brief Stops (UNREGISTER_CLIENT to every broker), fails pending async sends with
 * PETREL_ESHUTDOWN after their callbacks ran or were cancelled, and frees. NULL is fine.
 * @remark Must not be called from a send callback.
 */
PETREL_EXPORT void petrel_producer_destroy(petrel_producer_t *producer);

/**
 * @brief Sends msg and waits for the broker's answer, retrying on another broker up to
 * retryTimesWhenSendFailed times on retriable errors.
 * @param result filled on success (may be NULL).
 * @returns PETREL_OK (result->status may still report a flush/slave timeout), or an error.
 * @remark Thread-safe. msg is not modified and may be reused at once.
 */
PETREL_EXPORT petrel_err_t petrel_producer_send(petrel_producer_t *producer,
                                                const petrel_msg_t *msg,
                                                petrel_send_result_t *result);

/** @brief Completion of an async send: result valid only during the call. Runs on the
 * library's I/O thread: do not block in it (sending more messages is fine). */
typedef void (*petrel_send_cb)(petrel_producer_t *producer, petrel_err_t err,
                               const petrel_send_result_t *result, void *opaque);
/**
 * @brief Sends msg without waiting; cb runs exactly once (also on errors, after retries).
 * @returns PETREL_OK when queued (cb will run) or an error (cb will not run).
 * @remark Thread-safe. msg is encoded before the call returns; the caller keeps ownership.
 * The first send to a topic looks its route up on a NameServer synchronously (bounded by
 * the request timeout); later sends never block on the network.
 */
PETREL_EXPORT petrel_err_t petrel_producer_send_async(petrel_producer_t *producer,
                                                      const petrel_msg_t *msg, petrel_send_cb cb,
                                                      void *opaque);
/** @brief Fire-and-forget send (no answer, no retry). */
PETREL_EXPORT petrel_err_t petrel_producer_send_oneway(petrel_producer_t *producer,
                                                       const petrel_msg_t *msg);
/**
 * @brief Sends n messages of the same topic as one SEND_BATCH_MESSAGE (one queue, consecutive
 * offsets). Messages must not carry a delay level. Not compressed (like Java).
 */
PETREL_EXPORT petrel_err_t petrel_producer_send_batch(petrel_producer_t *producer,
                                                      petrel_msg_t *const *msgs, size_t n,
                                                      petrel_send_result_t *result);

/** The ids of one message of a batch (petrel_producer_send_batch_ids). */
typedef struct petrel_msg_ids_s {
    char msg_id[PETREL_MSG_ID_MAX];        /* UNIQ_KEY */
    char offset_msg_id[PETREL_MSG_ID_MAX]; /* store-based id ("" if the broker sent none) */
    int64_t queue_offset;                  /* result->queue_offset + i */
} petrel_msg_ids_t;
/**
 * @brief As petrel_producer_send_batch, and fills ids[i] for msgs[i] (i < n) on success.
 * @param ids caller's array of n entries (may be NULL); nothing to free.
 */
PETREL_EXPORT petrel_err_t petrel_producer_send_batch_ids(petrel_producer_t *producer,
                                                          petrel_msg_t *const *msgs, size_t n,
                                                          petrel_send_result_t *result,
                                                          petrel_msg_ids_t *ids);

/** @brief Picks a queue index in [0, n_queues) for msg; the queues are ordered by broker
 * name then queue id. */
typedef int (*petrel_queue_selector_fn)(int n_queues, const petrel_msg_t *msg, void *arg);
/** @brief Sync send to the queue chosen by selector (ordered messages). No retry on another
 * queue, so per-key order holds. */
PETREL_EXPORT petrel_err_t petrel_producer_send_select(petrel_producer_t *producer,
                                                       const petrel_msg_t *msg,
                                                       petrel_queue_selector_fn selector, void *arg,
                                                       petrel_send_result_t *result);
/** @brief Ordered send by sharding key: queue = hash(key) mod queue count (stable while the
 * route is). */
PETREL_EXPORT petrel_err_t petrel_producer_send_orderly(petrel_producer_t *producer,
                                                        const petrel_msg_t *msg,
                                                        const char *sharding_key,
                                                        petrel_send_result_t *result);

/* Transactions. */
typedef enum {
    PETREL_TX_COMMIT = 0,
    PETREL_TX_ROLLBACK = 1,
    PETREL_TX_UNKNOWN = 2,
} petrel_tx_state_t;

/** @brief Runs the local transaction for the half message msg (its id is petrel_msg_id). */
typedef petrel_tx_state_t (*petrel_tx_execute_fn)(petrel_producer_t *producer,
                                                  const petrel_msg_t *msg, void *arg);
/** @brief Answers the broker's check-back for a half message whose outcome was UNKNOWN.
 * Runs on a library thread; msg is valid during the call. */
typedef petrel_tx_state_t (*petrel_tx_check_fn)(petrel_producer_t *producer,
                                                const petrel_msg_t *msg, void *opaque);
/** @brief Installs the check-back listener. Call before petrel_producer_start. */
PETREL_EXPORT petrel_err_t petrel_producer_set_tx_checker(petrel_producer_t *producer,
                                                          petrel_tx_check_fn check, void *opaque);
/**
 * @brief Sends msg as a half message, runs execute, and ends the transaction with its answer.
 * @param state receives what execute returned (may be NULL).
 * @returns PETREL_OK when the half message was stored and END_TRANSACTION sent.
 */
PETREL_EXPORT petrel_err_t petrel_producer_send_tx(petrel_producer_t *producer,
                                                   const petrel_msg_t *msg,
                                                   petrel_tx_execute_fn execute, void *arg,
                                                   petrel_send_result_t *result,
                                                   petrel_tx_state_t *state);

/* ---- push consumer ------------------------------------------------------- */

typedef enum {
    PETREL_CONSUME_SUCCESS = 0,
    PETREL_RECONSUME_LATER = 1, /* concurrent: send back for retry; orderly: retry in 1 s */
} petrel_consume_status_t;

/** @brief Called once per message from a consume thread; msg is valid during the call only
 * (petrel_msg_dup to keep it). Concurrent listeners run on several threads at once; orderly
 * ones see one queue from one thread at a time, in queue order. */
typedef petrel_consume_status_t (*petrel_listener_fn)(petrel_push_consumer_t *consumer,
                                                      const petrel_msg_t *msg, void *opaque);

/** @brief Creates a push consumer. Needs namesrvAddr and groupName. */
PETREL_EXPORT petrel_err_t petrel_push_consumer_create(const petrel_conf_t *conf,
                                                       petrel_push_consumer_t **out, char *errstr,
                                                       size_t errstr_size);
/** @brief Subscribes topic with a tag expression ("*", "TagA || TagB"). Before start. */
PETREL_EXPORT petrel_err_t petrel_push_consumer_subscribe(petrel_push_consumer_t *consumer,
                                                          const char *topic,
                                                          const char *expression);
/** @brief Sets a concurrent listener. Before start. */
PETREL_EXPORT petrel_err_t petrel_push_consumer_set_listener(petrel_push_consumer_t *consumer,
                                                             petrel_listener_fn fn, void *opaque);
/** @brief Sets an orderly listener (queues locked on the broker in clustering mode). */
PETREL_EXPORT petrel_err_t petrel_push_consumer_set_orderly_listener(
    petrel_push_consumer_t *consumer, petrel_listener_fn fn, void *opaque);
/** @brief Starts rebalancing, pulling and consuming. */
PETREL_EXPORT petrel_err_t petrel_push_consumer_start(petrel_push_consumer_t *consumer);
/**
 * @brief Graceful shutdown: stops pulling, waits for listeners in progress, persists offsets
 * (broker or local file), unlocks orderly queues, unregisters, and frees. NULL is fine.
 * @remark Must not be called from a listener.
 */
PETREL_EXPORT void petrel_push_consumer_destroy(petrel_push_consumer_t *consumer);
/** @brief The client id the consumer reports to brokers ("ip@instance"). */
PETREL_EXPORT const char *petrel_push_consumer_client_id(const petrel_push_consumer_t *consumer);
/**
 * @brief Copies up to max currently owned queues into mqs.
 * @returns the number of owned queues (may exceed max).
 */
PETREL_EXPORT size_t petrel_push_consumer_assignment(petrel_push_consumer_t *consumer,
                                                     petrel_mq_t *mqs, size_t max);

/* ---- pull consumer ------------------------------------------------------- */

/** @brief Creates a pull consumer (groupName, namesrvAddr; messageModel decides whether
 * subscribe rebalances with the group (CLUSTERING) or takes every queue). */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_create(const petrel_conf_t *conf,
                                                       petrel_pull_consumer_t **out, char *errstr,
                                                       size_t errstr_size);
/** @brief Subscribes (queues assigned by rebalance). Before start. */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_subscribe(petrel_pull_consumer_t *consumer,
                                                          const char *topic,
                                                          const char *expression);
PETREL_EXPORT petrel_err_t petrel_pull_consumer_start(petrel_pull_consumer_t *consumer);
/**
 * @brief Lists the queues of topic (from the NameServer). *mqs is malloc'd: free() it.
 */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_fetch_queues(petrel_pull_consumer_t *consumer,
                                                             const char *topic, petrel_mq_t **mqs,
                                                             size_t *n);
/** @brief Replaces the assignment with exactly these queues (no rebalance). Positions start
 * at the committed offset (or consumeFromWhere). After start. */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_assign(petrel_pull_consumer_t *consumer,
                                                       const petrel_mq_t *mqs, size_t n);
/** @brief Moves the position of an assigned queue. */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_seek(petrel_pull_consumer_t *consumer,
                                                     const petrel_mq_t *mq, int64_t offset);
/**
 * @brief Returns up to max messages from the assigned queues, waiting up to timeout_ms.
 * @param msgs array of at least max pointers; each returned message is owned by the caller
 * (petrel_msg_destroy).
 * @param n receives the count (0 on timeout, with PETREL_OK).
 * @remark Not thread-safe with itself: poll from one thread.
 */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_poll(petrel_pull_consumer_t *consumer,
                                                     int timeout_ms, petrel_msg_t **msgs,
                                                     size_t max, size_t *n);
/** @brief Commits the positions after the messages returned so far (UPDATE_CONSUMER_OFFSET,
 * or the local file in BROADCASTING mode). */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_commit(petrel_pull_consumer_t *consumer);
/** @brief Reads the broker-committed offset of mq (-1 when none). */
PETREL_EXPORT petrel_err_t petrel_pull_consumer_committed(petrel_pull_consumer_t *consumer,
                                                          const petrel_mq_t *mq, int64_t *offset);
/** @brief Commits, unregisters and frees. NULL is fine. */
PETREL_EXPORT void petrel_pull_consumer_destroy(petrel_pull_consumer_t *consumer);

#ifdef __cplusplus
}
#endif

#endif
