/*
 * broker: the Broker (`petrel broker`): send, pull, offsets, topic and
 * group management on RocketMQ's remoting protocol, over the store.
 *
 * Embedding (`petrel dev`): fill a broker_config_t with broker_config_defaults
 * and broker_config_set (the same keys as broker.conf), then broker_start runs
 * the broker on a loop thread of its own until broker_stop.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_BROKER_H
#define PETREL_BROKER_H

#include <stddef.h>
#include <stdint.h>

/* Broker settings, keyed as RocketMQ's broker.conf (see docs/broker.md). */
typedef struct broker_config_s {
    char *brokerClusterName;
    char *brokerName;
    int64_t brokerId;
    char *brokerIP1;
    char *bindAddress;   /* listen address of the remoting, VIP and HA ports */
    char *brokerIP2;
    int32_t listenPort;
    int32_t haListenPort;
    char *namesrvAddr;
    char *storePathRootDir;
    char *storePathCommitLog;
    int flushDiskType;        /* 0 ASYNC_FLUSH, 1 SYNC_FLUSH */
    int brokerRole;           /* 0 ASYNC_MASTER, 1 SYNC_MASTER, 2 SLAVE */
    int autoCreateTopicEnable;
    int autoCreateSubscriptionGroup;
    int32_t defaultTopicQueueNums;
    int clusterTopicEnable;
    int brokerTopicEnable;
    int32_t brokerPermission;
    int32_t fileReservedTime;
    char *deleteWhen;
    int32_t diskMaxUsedSpaceRatio;
    int64_t mappedFileSizeCommitLog;
    int32_t mappedFileSizeConsumeQueue;
    int32_t maxMessageSize;
    char *messageDelayLevel;
    int32_t flushIntervalCommitLog;
    int32_t flushIntervalConsumeQueue;
    int32_t syncFlushTimeout;
    int longPollingEnable;
    int64_t shortPollingTimeMills;
    int slaveReadEnable;
    int32_t flushConsumerOffsetInterval;
    int32_t flushDelayOffsetInterval;
    int32_t registerNameServerPeriod;
    int32_t registerBrokerTimeoutMills;
    int64_t transactionTimeOut;
    int32_t transactionCheckMax;
    int64_t transactionCheckInterval;
    int rejectTransactionMessage;
    int enablePropertyFilter;
    int filterSupportRetry;
    int notifyConsumerIdsChangedEnable;
    char *haMasterAddress;    /* slave: master's HA address (default: from the NameServer) */
    char *controllerAddr;     /* failover controllers ip:port;ip:port ("" = classic roles) */
    int32_t controllerLeaseMillis; /* master stops writing without a confirmation this long */
    int64_t channelExpiredTimeout;
    int32_t maxTransferBytesOnMessageInMemory;
    int32_t maxTransferCountOnMessageInMemory;
    int32_t maxTransferBytesOnMessageInDisk;
    int32_t maxTransferCountOnMessageInDisk;
    int commitLogWriteMode;        /* auto, mmap, pwrite (store.h) */
    int32_t commitLogCacheWindowMB; /* 0 = keep the page cache (store.h) */
    int32_t maxMsgsNumBatch;
    int32_t defaultQueryMaxNum;
    int messageIndexEnable;
    int traceTopicEnable;
    char *msgTraceTopicName;
    char *regionId;
    int traceOn;
    int aclEnable;
    int brokerFastFailureEnable;
    int32_t waitTimeMillsInSendQueue;
    char *logLevel;
    int32_t metricsPort;      /* Prometheus endpoint (src/metrics); -1 off */
    char *metricsHost;
} broker_config_t;

/* Sets every key to its default (RocketMQ's). */
void broker_config_defaults(broker_config_t *c);
void broker_config_free(broker_config_t *c);
/* Sets one key: 0, 1 unknown key, -1 bad value (message in err). */
int broker_config_set(broker_config_t *c, const char *key, const char *value, char *err,
                      size_t errlen);
/* Fills derived defaults (brokerName = host name, brokerIP1 = first non-loopback IPv4,
 * storePathRootDir = $HOME/store, namesrvAddr = $NAMESRV_ADDR...) and checks
 * cross-key rules. 0, or -1 with a message in err. broker_start calls it. */
int broker_config_finish(broker_config_t *c, char *err, size_t errlen);

typedef struct broker_s broker_t;

/*
 * Opens the store, loads the config files, listens on listenPort and
 * listenPort-2 and starts registering with the NameServers; all of it on a new
 * loop thread. The config is copied. Returns NULL with a message in err.
 */
broker_t *broker_start(const broker_config_t *conf, char *err, size_t errlen);
/* Actual listen port (useful with listenPort=0 in tests). */
int broker_port(const broker_t *b);
/* Port of the Prometheus endpoint, 0 when off (useful with metricsPort=0). */
int broker_metrics_port(const broker_t *b);
/* Unregisters from the NameServers, flushes offsets and config, closes the
 * store, joins the thread and frees everything. Accepts NULL. */
void broker_stop(broker_t *b);

/* Entry point of `petrel broker [options]`. Returns the process exit code. */
int broker_main(int argc, char **argv);

#endif
