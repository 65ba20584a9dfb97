/*
 * kvconfig: the NameServer's KV config store (RocketMQ's KVConfigManager):
 * namespace -> key -> value, persisted as {"configTable":{ns:{k:v}}} to
 * kvConfigPath with an atomic replace after every change, loaded at start.
 * Owned by the NameServer loop thread (not thread-safe).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NAMESRV_KVCONFIG_H
#define PETREL_NAMESRV_KVCONFIG_H

#include <stddef.h>

#include "common/buf.h"

#define NS_KV_ORDER_TOPIC_CONFIG "ORDER_TOPIC_CONFIG"

typedef struct ns_kv_s ns_kv_t;

/* path may be NULL (memory only). */
ns_kv_t *ns_kv_create(const char *path);
void ns_kv_destroy(ns_kv_t *kv);
/* Loads the file; a missing file is an empty store. 0, or -1 with err (bad JSON). */
int ns_kv_load(ns_kv_t *kv, char *err, size_t errlen);
/* Put/delete persist at once; they return 0, or -errno when the write failed
 * (the change stays in memory, as in RocketMQ). */
int ns_kv_put(ns_kv_t *kv, const char *ns, const char *key, const char *val);
int ns_kv_del(ns_kv_t *kv, const char *ns, const char *key);
/* NULL when absent; valid until the next change. */
const char *ns_kv_get(const ns_kv_t *kv, const char *ns, const char *key);
/* KVTable JSON {"table":{..}} of a namespace; -1 when the namespace is absent. */
int ns_kv_table_json(const ns_kv_t *kv, const char *ns, buf_t *out);
/* Bumped on every change (lets callers cache things derived from it). */
unsigned long ns_kv_version(const ns_kv_t *kv);

#endif
