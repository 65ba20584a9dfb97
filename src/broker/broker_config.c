/*
 * broker_config: the broker.conf key table (RocketMQ names and defaults) and
 * the derived defaults filled at start.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_int.h"
#include "store/store.h"
#include "common/config.h"
#include "common/util.h"

#define F(field) offsetof(broker_config_t, field)
#define NB 1, 0 /* no bounds */

static const char *const roles[] = {"ASYNC_MASTER", "SYNC_MASTER", "SLAVE", NULL};

const cfg_def_t broker_cfg_defs[] = {
    {"brokerClusterName", CFG_STR, F(brokerClusterName), "DefaultCluster", NB, NULL, 0, "cluster this broker belongs to"},
    {"brokerName", CFG_STR, F(brokerName), "", NB, NULL, 0, "broker name (default: host name)"},
    {"brokerId", CFG_LONG, F(brokerId), "0", 0, 1024, NULL, 0, "0 = master, >0 = slave"},
    {"brokerIP1", CFG_STR, F(brokerIP1), "", NB, NULL, 0, "advertised IP (default: first non-loopback IPv4)"},
    {"brokerIP2", CFG_STR, F(brokerIP2), "", NB, NULL, 0, "HA address (default: brokerIP1)"},
    {"bindAddress", CFG_STR, F(bindAddress), "0.0.0.0", NB, NULL, 0, "address the remoting, VIP and HA ports listen on (RocketMQ 5 NettyServerConfig)"},
    {"listenPort", CFG_INT, F(listenPort), "10911", 0, 65535, NULL, 0, "remoting port; listenPort-2 is the VIP port"},
    {"haListenPort", CFG_INT, F(haListenPort), "0", 0, 65535, NULL, 0, "HA port (default listenPort+1; advertised only)"},
    {"haMasterAddress", CFG_STR, F(haMasterAddress), "", NB, NULL, 0, "slave: master's HA ip:port (default: from the NameServer)"},
    {"controllerAddr", CFG_STR, F(controllerAddr), "", NB, NULL, 0, "failover controllers ip:port;ip:port (petrel controller)"},
    {"controllerLeaseMillis", CFG_INT, F(controllerLeaseMillis), "5000", 500, 600000, NULL, 0, "master without a controller confirmation this long stops writing (< the controllers' brokerTimeout)"},
    {"namesrvAddr", CFG_STR, F(namesrvAddr), "", NB, NULL, 0, "NameServers host:port;host:port (default $NAMESRV_ADDR)"},
    {"storePathRootDir", CFG_STR, F(storePathRootDir), "", NB, NULL, 0, "store root (default $HOME/store)"},
    {"storePathCommitLog", CFG_STR, F(storePathCommitLog), "", NB, NULL, 0, "commit log dir (default <root>/commitlog)"},
    {"flushDiskType", CFG_ENUM, F(flushDiskType), "ASYNC_FLUSH", NB, store_flush_type_names, 0, "ASYNC_FLUSH or SYNC_FLUSH"},
    {"brokerRole", CFG_ENUM, F(brokerRole), "ASYNC_MASTER", NB, roles, 0, "ASYNC_MASTER, SYNC_MASTER or SLAVE"},
    {"autoCreateTopicEnable", CFG_BOOL, F(autoCreateTopicEnable), "true", NB, NULL, 1, "create unknown topics on send (from TBW102)"},
    {"autoCreateSubscriptionGroup", CFG_BOOL, F(autoCreateSubscriptionGroup), "true", NB, NULL, 1, "create unknown groups on use"},
    {"defaultTopicQueueNums", CFG_INT, F(defaultTopicQueueNums), "8", 1, 1024, NULL, 1, "TBW102 queue count"},
    {"clusterTopicEnable", CFG_BOOL, F(clusterTopicEnable), "true", NB, NULL, 0, "cluster-name topic is read/write"},
    {"brokerTopicEnable", CFG_BOOL, F(brokerTopicEnable), "true", NB, NULL, 0, "broker-name topic is read/write"},
    {"brokerPermission", CFG_INT, F(brokerPermission), "6", 0, 7, NULL, 1, "broker perm bits: 4 read, 2 write"},
    {"fileReservedTime", CFG_INT, F(fileReservedTime), "72", 0, 100000, NULL, 1, "hours commit log files are kept"},
    {"deleteWhen", CFG_STR, F(deleteWhen), "04", NB, NULL, 1, "hours of day to delete expired files (04;16)"},
    {"diskMaxUsedSpaceRatio", CFG_INT, F(diskMaxUsedSpaceRatio), "75", 10, 95, NULL, 1, "% disk use that forces deletion"},
    {"mappedFileSizeCommitLog", CFG_LONG, F(mappedFileSizeCommitLog), "1073741824", 65536, 1LL << 40, NULL, 0, "commit log file size"},
    {"mappedFileSizeConsumeQueue", CFG_INT, F(mappedFileSizeConsumeQueue), "6000000", 20, 2000000000, NULL, 0, "consume queue file size"},
    {"maxMessageSize", CFG_INT, F(maxMessageSize), "4194304", 1024, 1073741824, NULL, 1, "max body bytes"},
    {"messageDelayLevel", CFG_STR, F(messageDelayLevel), "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", NB, NULL, 0, "delay levels"},
    {"flushIntervalCommitLog", CFG_INT, F(flushIntervalCommitLog), "500", 1, 600000, NULL, 0, "async flush period, ms"},
    {"flushIntervalConsumeQueue", CFG_INT, F(flushIntervalConsumeQueue), "1000", 1, 600000, NULL, 0, "consume queue flush period, ms"},
    {"syncFlushTimeout", CFG_INT, F(syncFlushTimeout), "5000", 1, 600000, NULL, 1, "SYNC_FLUSH wait before FLUSH_DISK_TIMEOUT, ms"},
    {"longPollingEnable", CFG_BOOL, F(longPollingEnable), "true", NB, NULL, 1, "hold pulls until a message arrives"},
    {"shortPollingTimeMills", CFG_LONG, F(shortPollingTimeMills), "1000", 0, 600000, NULL, 1, "hold time without long polling, ms"},
    {"slaveReadEnable", CFG_BOOL, F(slaveReadEnable), "false", NB, NULL, 1, "suggest slaves for lagging consumers"},
    {"flushConsumerOffsetInterval", CFG_INT, F(flushConsumerOffsetInterval), "5000", 100, 3600000, NULL, 0, "consumerOffset.json period, ms"},
    {"flushDelayOffsetInterval", CFG_INT, F(flushDelayOffsetInterval), "10000", 100, 3600000, NULL, 0, "delayOffset.json period, ms"},
    {"registerNameServerPeriod", CFG_INT, F(registerNameServerPeriod), "30000", 1000, 60000, NULL, 0, "REGISTER_BROKER period, ms"},
    {"registerBrokerTimeoutMills", CFG_INT, F(registerBrokerTimeoutMills), "6000", 100, 60000, NULL, 0, "REGISTER_BROKER timeout, ms"},
    {"transactionTimeOut", CFG_LONG, F(transactionTimeOut), "6000", 0, 86400000, NULL, 1, "half-message age before check-back, ms"},
    {"transactionCheckMax", CFG_INT, F(transactionCheckMax), "15", 0, 1000, NULL, 1, "check-backs before discard"},
    {"transactionCheckInterval", CFG_LONG, F(transactionCheckInterval), "60000", 100, 86400000, NULL, 1, "check-back period, ms"},
    {"rejectTransactionMessage", CFG_BOOL, F(rejectTransactionMessage), "false", NB, NULL, 1, "refuse half messages"},
    {"enablePropertyFilter", CFG_BOOL, F(enablePropertyFilter), "false", NB, NULL, 0, "SQL92 property filtering for consumers"},
    {"filterSupportRetry", CFG_BOOL, F(filterSupportRetry), "false", NB, NULL, 0, "SQL92 on retry topics"},
    {"notifyConsumerIdsChangedEnable", CFG_BOOL, F(notifyConsumerIdsChangedEnable), "true", NB, NULL, 1, "send NOTIFY_CONSUMER_IDS_CHANGED"},
    {"channelExpiredTimeout", CFG_LONG, F(channelExpiredTimeout), "120000", 1000, 86400000, NULL, 1, "client expiry without heartbeat, ms"},
    {"maxTransferBytesOnMessageInMemory", CFG_INT, F(maxTransferBytesOnMessageInMemory), "262144", 1, 1073741824, NULL, 1, "pull byte cap"},
    {"maxTransferCountOnMessageInMemory", CFG_INT, F(maxTransferCountOnMessageInMemory), "32", 1, 100000, NULL, 1, "pull count cap"},
    {"maxTransferBytesOnMessageInDisk", CFG_INT, F(maxTransferBytesOnMessageInDisk), "65536", 1, 1073741824, NULL, 1, "pull byte cap (cold)"},
    {"maxTransferCountOnMessageInDisk", CFG_INT, F(maxTransferCountOnMessageInDisk), "8", 1, 100000, NULL, 1, "pull count cap (cold)"},
    {"commitLogWriteMode", CFG_ENUM, F(commitLogWriteMode), "auto", NB, store_write_mode_names, 0, "auto (batches by pwrite, single messages through the mapping), mmap or pwrite"},
    {"commitLogCacheWindowMB", CFG_INT, F(commitLogCacheWindowMB), "0", 0, 1 << 30, NULL, 0, "give back the commit log's page cache this far behind the writer (0 = never)"},
    {"maxMsgsNumBatch", CFG_INT, F(maxMsgsNumBatch), "64", 1, 10000, NULL, 1, "QUERY_MESSAGE cap"},
    {"defaultQueryMaxNum", CFG_INT, F(defaultQueryMaxNum), "32", 1, 10000, NULL, 1, "QUERY_MESSAGE default for unique keys"},
    {"messageIndexEnable", CFG_BOOL, F(messageIndexEnable), "true", NB, NULL, 0, "index KEYS and UNIQ_KEY"},
    {"traceTopicEnable", CFG_BOOL, F(traceTopicEnable), "false", NB, NULL, 0, "create the trace topic"},
    {"msgTraceTopicName", CFG_STR, F(msgTraceTopicName), "RMQ_SYS_TRACE_TOPIC", NB, NULL, 0, "trace topic name"},
    {"regionId", CFG_STR, F(regionId), "DefaultRegion", NB, NULL, 0, "MSG_REGION in send replies"},
    {"traceOn", CFG_BOOL, F(traceOn), "true", NB, NULL, 1, "TRACE_ON in send replies"},
    {"aclEnable", CFG_BOOL, F(aclEnable), "false", NB, NULL, 0, "ACL (not supported; must be false)"},
    {"brokerFastFailureEnable", CFG_BOOL, F(brokerFastFailureEnable), "true", NB, NULL, 1, "answer SYSTEM_BUSY when overloaded"},
    {"waitTimeMillsInSendQueue", CFG_INT, F(waitTimeMillsInSendQueue), "200", 1, 600000, NULL, 1, "send queue wait before SYSTEM_BUSY"},
    {"logLevel", CFG_STR, F(logLevel), "info", NB, NULL, 1, "debug, info, warn, error (Petrel)"},
    {"metricsPort", CFG_INT, F(metricsPort), "5557", -1, 65535, NULL, 0, "Prometheus /metrics HTTP port; 0 = any free port, -1 = off (docs/metrics.md)"},
    {"metricsPromExporterPort", CFG_INT, F(metricsPort), "5557", -1, 65535, NULL, 0, "RocketMQ 5's name of metricsPort"},
    {"metricsPromExporterHost", CFG_STR, F(metricsHost), "", NB, NULL, 0, "address /metrics listens on (default all)"},
    {NULL},
};

void broker_config_defaults(broker_config_t *c) {
    memset(c, 0, sizeof(*c));
    cfg_defaults(broker_cfg_defs, c);
}

void broker_config_free(broker_config_t *c) { cfg_free(broker_cfg_defs, c); }

int broker_config_set(broker_config_t *c, const char *key, const char *value, char *err,
                      size_t errlen) {
    return cfg_set(broker_cfg_defs, c, key, value, err, errlen);
}

void broker_config_copy(broker_config_t *dst, const broker_config_t *src) {
    memcpy(dst, src, sizeof(*dst));
    for (const cfg_def_t *d = broker_cfg_defs; d->key; d++) {
        if (d->type != CFG_STR) continue;
        char **p = (char **)((char *)dst + d->offset);
        if (*p) *p = xstrdup(*p);
    }
}

static void set_str(char **p, const char *v) {
    free(*p);
    *p = xstrdup(v);
}

static int first_ipv4(char *out, size_t n) {
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0) return -1;
    int found = -1;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if (i->ifa_flags & IFF_LOOPBACK) continue;
        struct sockaddr_in *a = (struct sockaddr_in *)i->ifa_addr;
        if (inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n)) {
            found = 0;
            break;
        }
    }
    freeifaddrs(ifa);
    return found;
}

int broker_config_finish(broker_config_t *c, char *err, size_t errlen) {
    if (!c->brokerName || !*c->brokerName) {
        char host[256] = "broker-a";
        if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "broker-a");
        host[sizeof(host) - 1] = 0;
        set_str(&c->brokerName, host);
    }
    if (!c->brokerIP1 || !*c->brokerIP1) {
        char ip[64];
        set_str(&c->brokerIP1, first_ipv4(ip, sizeof(ip)) == 0 ? ip : "127.0.0.1");
    }
    struct in_addr a;
    if (inet_pton(AF_INET, c->brokerIP1, &a) != 1) {
        snprintf(err, errlen, "brokerIP1: '%s' is not an IPv4 address", c->brokerIP1);
        return -1;
    }
    if (!c->brokerIP2 || !*c->brokerIP2) set_str(&c->brokerIP2, c->brokerIP1);
    if (c->listenPort != 0 && c->listenPort < 3) {
        snprintf(err, errlen, "listenPort: %d leaves no room for the VIP port listenPort-2",
                 c->listenPort);
        return -1;
    }
    if (!c->haListenPort) c->haListenPort = c->listenPort ? c->listenPort + 1 : 0;
    if ((!c->namesrvAddr || !*c->namesrvAddr) && getenv("NAMESRV_ADDR"))
        set_str(&c->namesrvAddr, getenv("NAMESRV_ADDR"));
    if (!c->storePathRootDir || !*c->storePathRootDir) {
        const char *home = getenv("HOME");
        char p[1024];
        snprintf(p, sizeof(p), "%s/store", home && *home ? home : ".");
        set_str(&c->storePathRootDir, p);
    }
    if (!c->storePathCommitLog || !*c->storePathCommitLog) {
        char p[1200];
        snprintf(p, sizeof(p), "%s/commitlog", c->storePathRootDir);
        set_str(&c->storePathCommitLog, p);
    }
    if (c->brokerRole == 2 && c->brokerId <= 0) {
        snprintf(err, errlen, "brokerRole=SLAVE needs brokerId > 0");
        return -1;
    }
    if (c->brokerRole != 2) c->brokerId = 0; /* masters are always 0 */
    if (c->aclEnable) {
        snprintf(err, errlen, "aclEnable=true: ACL is not supported");
        return -1;
    }
    int64_t levels[32];
    if (broker_parse_delay_levels(c->messageDelayLevel, levels, 32) < 0) {
        snprintf(err, errlen, "messageDelayLevel: cannot parse '%s' (e.g. \"1s 5s 1m 2h\")",
                 c->messageDelayLevel);
        return -1;
    }
    if (log_parse_level(c->logLevel) < 0) {
        snprintf(err, errlen, "logLevel: '%s' is not debug, info, warn or error", c->logLevel);
        return -1;
    }
    return 0;
}

int broker_parse_delay_levels(const char *s, int64_t *out, int max) {
    int n = 0;
    while (s && *s) {
        while (*s == ' ') s++;
        if (!*s) break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0) return -1;
        int64_t mul;
        switch (*end) {
        case 's': mul = 1000; break;
        case 'm': mul = 60000; break;
        case 'h': mul = 3600000; break;
        case 'd': mul = 86400000; break;
        default: return -1;
        }
        if (n >= max) return -1;
        out[n++] = v * mul;
        s = end + 1;
        if (*s && *s != ' ') return -1;
    }
    return n > 0 ? n : -1;
}
