/*
 * conf: petrel_conf_t, driven by one declarative table (common/config.h)
 * with RocketMQ's client option names and defaults.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/config.h"

static const char *const model_names[] = {"CLUSTERING", "BROADCASTING", NULL};
static const char *const where_names[] = {"CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_FIRST_OFFSET",
                                          "CONSUME_FROM_TIMESTAMP", NULL};
static const char *const ser_names[] = {"JSON", "ROCKETMQ", NULL};
static const char *const alloc_names[] = {"AVG", "AVG_BY_CIRCLE", "CONSISTENT_HASH", NULL};

#define F(x) CFG_FIELD(petrel_conf_t, x)
static const cfg_def_t conf_defs[] = {
    {"namesrvAddr", CFG_STR, F(namesrvAddr), "", 1, 0, NULL, 0,
     "NameServer list host:port;host:port"},
    {"groupName", CFG_STR, F(groupName), "", 1, 0, NULL, 0, "producer or consumer group"},
    {"instanceName", CFG_STR, F(instanceName), "", 1, 0, NULL, 0, "instance name (default: pid#n)"},
    {"unitName", CFG_STR, F(unitName), "", 1, 0, NULL, 0, "unit name appended to the client id"},
    {"sendMsgTimeout", CFG_INT, F(sendMsgTimeout), "3000", 1, 600000, NULL, 0, "send timeout, ms"},
    {"retryTimesWhenSendFailed", CFG_INT, F(retryTimesWhenSendFailed), "2", 0, 16, NULL, 0,
     "extra attempts on another broker"},
    {"compressMsgBodyOverHowmuch", CFG_INT, F(compressMsgBodyOverHowmuch), "4096", 0, 1 << 30, NULL,
     0, "zlib-compress bodies at least this large"},
    {"maxMessageSize", CFG_INT, F(maxMessageSize), "4194304", 1, 1 << 30, NULL, 0,
     "max body bytes"},
    {"pollNameServerInterval", CFG_INT, F(pollNameServerInterval), "30000", 100, 3600000, NULL, 0,
     "route refresh, ms"},
    {"heartbeatBrokerInterval", CFG_INT, F(heartbeatBrokerInterval), "30000", 100, 3600000, NULL, 0,
     "heartbeat period, ms"},
    {"messageModel", CFG_ENUM, F(messageModel), "CLUSTERING", 1, 0, model_names, 0,
     "CLUSTERING or BROADCASTING"},
    {"consumeFromWhere", CFG_ENUM, F(consumeFromWhere), "CONSUME_FROM_LAST_OFFSET", 1, 0,
     where_names, 0, "start position of a new group"},
    {"consumeTimestamp", CFG_STR, F(consumeTimestamp), "", 1, 0, NULL, 0,
     "yyyyMMddHHmmss for CONSUME_FROM_TIMESTAMP (default 30 min ago)"},
    {"allocateMessageQueueStrategy", CFG_ENUM, F(allocateMessageQueueStrategy), "AVG", 1, 0,
     alloc_names, 0, "AVG, AVG_BY_CIRCLE or CONSISTENT_HASH"},
    {"consumeThreadNums", CFG_INT, F(consumeThreadNums), "4", 1, 1024, NULL, 0, "consume threads"},
    {"pullBatchSize", CFG_INT, F(pullBatchSize), "32", 1, 1024, NULL, 0, "messages per pull"},
    {"pullThresholdForQueue", CFG_INT, F(pullThresholdForQueue), "1000", 1, 1 << 30, NULL, 0,
     "cached messages per queue before pulls pause"},
    {"pullThresholdSizeForQueue", CFG_INT, F(pullThresholdSizeForQueue), "100", 1, 1 << 20, NULL, 0,
     "cached MiB per queue before pulls pause"},
    {"suspendTimeoutMillis", CFG_INT, F(suspendTimeoutMillis), "15000", 0, 60000, NULL, 0,
     "long-poll hold time asked of the broker"},
    {"rebalanceInterval", CFG_INT, F(rebalanceInterval), "20000", 100, 3600000, NULL, 0,
     "rebalance period, ms"},
    {"persistConsumerOffsetInterval", CFG_INT, F(persistConsumerOffsetInterval), "5000", 100,
     3600000, NULL, 0, "offset commit period, ms"},
    {"maxReconsumeTimes", CFG_INT, F(maxReconsumeTimes), "-1", -1, 1000, NULL, 0,
     "retries before the DLQ (-1: 16 concurrent, no limit orderly)"},
    {"offsetStoreDir", CFG_STR, F(offsetStoreDir), "", 1, 0, NULL, 0,
     "broadcasting offsets dir (default $HOME/.rocketmq_offsets)"},
    {"serializeType", CFG_ENUM, F(serializeType), "JSON", 1, 0, ser_names, 0,
     "request header encoding: JSON or ROCKETMQ (binary)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL},
};
#undef F

petrel_conf_t *petrel_conf_new(void) {
    petrel_conf_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    cfg_defaults(conf_defs, c);
    return c;
}

void petrel__conf_free(petrel_conf_t *conf) {
    cfg_free(conf_defs, conf);
}

void petrel_conf_destroy(petrel_conf_t *conf) {
    if (!conf) return;
    petrel__conf_free(conf);
    free(conf);
}

petrel_err_t petrel_conf_set(petrel_conf_t *conf, const char *key, const char *value, char *errstr,
                             size_t errstr_size) {
    char err[256] = "";
    if (!conf || !key || !value) return PETREL_EINVAL;
    int rc = cfg_set(conf_defs, conf, key, value, err, sizeof(err));
    if (rc == 0) return PETREL_OK;
    if (rc == 1) snprintf(err, sizeof(err), "unknown configuration key '%s'", key);
    if (errstr && errstr_size) snprintf(errstr, errstr_size, "%s", err);
    return PETREL_ECONFIG;
}

petrel_err_t petrel_conf_get(const petrel_conf_t *conf, const char *key, char *out,
                             size_t out_size) {
    if (!conf || !key || !out) return PETREL_EINVAL;
    return cfg_get(conf_defs, conf, key, out, out_size) == 0 ? PETREL_OK : PETREL_ECONFIG;
}

void petrel__conf_copy(petrel_conf_t *dst, const petrel_conf_t *src) {
    memcpy(dst, src, sizeof(*dst));
    for (const cfg_def_t *d = conf_defs; d->key; d++) {
        if (d->type != CFG_STR) continue;
        char **s = (char **)((char *)dst + d->offset);
        if (*s) *s = strdup(*s);
    }
}

petrel_conf_t *petrel_conf_dup(const petrel_conf_t *conf) {
    if (!conf) return NULL;
    petrel_conf_t *c = malloc(sizeof(*c));
    if (!c) return NULL;
    petrel__conf_copy(c, conf);
    return c;
}
