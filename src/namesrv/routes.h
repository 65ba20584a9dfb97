/*
 * routes: the NameServer's route state (RocketMQ's RouteInfoManager):
 * clusterAddrTable, brokerAddrTable, topicQueueTable, brokerLiveTable and
 * filterServerTable, plus the JSON bodies built from them (TopicRouteData,
 * ClusterInfo, TopicList, BrokerMemberGroup) and the parser of the
 * REGISTER_BROKER body (JSON or the zlib-compressed form).
 *
 * Pure data: no sockets. Not thread-safe by design: the NameServer owns it on
 * its loop thread (every handler and the expiry timer run there).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NAMESRV_ROUTES_H
#define PETREL_NAMESRV_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define NS_PERM_INHERIT 1
#define NS_PERM_WRITE 2
#define NS_PERM_READ 4
#define NS_FLAG_UNIT 0x1
#define NS_FLAG_UNIT_SUB 0x2
#define NS_MASTER_ID 0

typedef struct ns_routes_s ns_routes_t;

/* DataVersion; equality is on all three fields (Java DataVersion.equals). */
typedef struct ns_dv_s {
    int64_t counter;
    int64_t timestamp;
    int64_t state;
} ns_dv_t;
void ns_dv_json(const ns_dv_t *dv, buf_t *out);
/* Parses {"counter":..,"timestamp":..,"stateVersion":..}. 0 or -1. */
int ns_dv_parse(const char *json, size_t len, ns_dv_t *dv);

/* One topic of a RegisterBrokerBody's topicConfigTable. */
typedef struct ns_topic_cfg_s {
    char *name;
    int32_t read_queues, write_queues, perm, sysflag;
} ns_topic_cfg_t;

/* A decoded RegisterBrokerBody (or bare TopicConfigSerializeWrapper). */
typedef struct ns_reg_body_s {
    ns_dv_t dv;
    ns_topic_cfg_t *topics;
    size_t ntopics;
    char **filters;      /* filterServerList */
    size_t nfilters;
} ns_reg_body_t;

/*
 * Decodes a REGISTER_BROKER body: compressed = the header's `compressed`
 * (zlib stream of length-prefixed parts, remoting-protocol.md 3.2), else
 * JSON (fastjson's bare numeric map keys are accepted). An empty body gives
 * no topics and DataVersion 0. 0, or -1 with a reason in err.
 */
int ns_reg_body_parse(const uint8_t *body, size_t len, int compressed, ns_reg_body_t *out,
                      char *err, size_t errlen);
void ns_reg_body_free(ns_reg_body_t *b);

/*
 * Rewrites fastjson's relaxed object keys ({0:"a"}) as strict JSON
 * ({"0":"a"}) into out (NUL-terminated), so cJSON can parse it. -1 when the
 * nesting is absurdly deep.
 */
int ns_json_strict(const char *in, size_t len, buf_t *out);

ns_routes_t *ns_routes_create(void);
void ns_routes_destroy(ns_routes_t *r);

typedef struct ns_reg_req_s {
    const char *cluster;
    const char *broker_name;
    const char *broker_addr;
    const char *ha_addr;       /* may be NULL */
    const char *zone;          /* __ZONE_NAME, may be NULL */
    int64_t broker_id;
    int64_t timeout_ms;        /* liveness timeout for this broker */
    int acting_master;         /* enableActingMaster */
    uint64_t conn_id;          /* the registering connection (0: none) */
    void *conn;                /* its handle, given back by ns_routes_scan (may be NULL);
                                * valid as long as the entry: closing it removes the entry */
} ns_reg_req_t;

typedef struct ns_reg_result_s {
    char master_addr[256];     /* "" when none (a master, or a slave without master) */
    char ha_addr[256];
} ns_reg_result_t;

/* REGISTER_BROKER (body may be NULL: no topic configs, DataVersion 0). */
void ns_routes_register(ns_routes_t *r, const ns_reg_req_t *req, const ns_reg_body_t *body,
                        int64_t now, ns_reg_result_t *res);
/* UNREGISTER_BROKER. Returns 1 when something was removed. */
int ns_routes_unregister(ns_routes_t *r, const char *cluster, const char *addr,
                         const char *broker_name, int64_t broker_id);
/*
 * QUERY_DATA_VERSION: returns 1 when changed (unknown broker or different
 * version), refreshes the live timestamp; *known and *stored tell whether a
 * stored version exists and what it is.
 */
int ns_routes_query_dv(ns_routes_t *r, const char *cluster, const char *addr,
                       const ns_dv_t *dv, int64_t now, int *known, ns_dv_t *stored);
/* BROKER_HEARTBEAT: refreshes the live timestamp. 0, or -1 when unknown. */
int ns_routes_heartbeat(ns_routes_t *r, const char *cluster, const char *addr, int64_t now);
/* Removes brokers whose last registration is older than their timeout and
 * calls expired(conn) once per connection they had registered on (RocketMQ
 * closes it). Returns how many addresses were removed. */
size_t ns_routes_scan(ns_routes_t *r, int64_t now, void (*expired)(void *conn, void *arg),
                      void *arg);
/* The connection conn_id closed: removes the brokers that registered on it. */
size_t ns_routes_conn_closed(ns_routes_t *r, uint64_t conn_id);
/* Number of live brokers (addresses). */
size_t ns_routes_live_count(const ns_routes_t *r);

/*
 * GET_ROUTEINFO_BY_TOPIC: the TopicRouteData JSON, or -1 (TOPIC_NOT_EXIST).
 * order_conf (may be NULL) becomes orderTopicConf. The bytes are cached and
 * valid until the next change of the route state.
 */
int ns_routes_topic_route(ns_routes_t *r, const char *topic, const char *order_conf,
                          const uint8_t **json, size_t *len);
/* ClusterInfo JSON. */
void ns_routes_cluster_info(ns_routes_t *r, buf_t *out);
/* TopicList JSON of every topic. */
void ns_routes_all_topics(ns_routes_t *r, buf_t *out);
/* TopicList of the topics with queues on brokers of the cluster. */
void ns_routes_topics_by_cluster(ns_routes_t *r, const char *cluster, buf_t *out);
/* TopicList of cluster and broker names, with brokerAddr of some broker. */
void ns_routes_system_topics(ns_routes_t *r, buf_t *out);
/* 311 (want_unit=1,want_sub=-1), 312 (-1,1), 313 (0,1): topics filtered by the
 * first QueueData's topicSysFlag (-1 = don't care). */
void ns_routes_unit_topics(ns_routes_t *r, int want_unit, int want_sub, buf_t *out);
/* DELETE_TOPIC_IN_NAMESRV (cluster NULL/"": everywhere). Returns 1 if the topic existed. */
int ns_routes_delete_topic(ns_routes_t *r, const char *topic, const char *cluster);
/* REGISTER_TOPIC_IN_NAMESRV: merges the queueDatas of a TopicRouteData body
 * when every broker it names is registered (else nothing changes). 0, or -1
 * with err when the body is not a JSON object. */
int ns_routes_register_topic(ns_routes_t *r, const char *topic, const uint8_t *body, size_t len,
                             char *err, size_t errlen);
/* WIPE (wipe=1: clear WRITE) / ADD (perm = READ|WRITE) on every queue of broker_name;
 * returns the count. */
int ns_routes_write_perm(ns_routes_t *r, const char *broker_name, int wipe);
/* GET_BROKER_MEMBER_GROUP body. */
void ns_routes_member_group(ns_routes_t *r, const char *cluster, const char *broker_name,
                            buf_t *out);
/* True when the topic has a route. */
int ns_routes_has_topic(const ns_routes_t *r, const char *topic);

#endif
