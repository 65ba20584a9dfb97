/*
 * namesrv: the NameServer (`petrel namesrv`): broker registry, topic routes,
 * cluster info and the KV config store, on RocketMQ's remoting protocol.
 *
 * Embedding (petrel dev): either run it on a loop you own with
 * namesrv_start/namesrv_stop (all calls on that loop's thread), or let it own
 * a thread and a loop with namesrv_spawn/namesrv_shutdown (thread-safe).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NAMESRV_H
#define PETREL_NAMESRV_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/config.h"

/* NamesrvConfig + the server keys of NettyServerConfig that apply. */
typedef struct namesrv_config_s {
    char *rocketmqHome;
    char *kvConfigPath;        /* "" = <rocketmqHome or $HOME>/namesrv/kvConfig.json */
    char *configStorePath;
    char *productEnvName;
    int clusterTest;
    int orderMessageEnable;
    int returnOrderTopicConfigToBroker;
    int enableAllTopicList;
    int enableTopicList;
    int64_t scanNotActiveBrokerInterval;   /* ms */
    int64_t brokerChannelExpiredTime;      /* ms; a broker's heartbeatTimeoutMillis wins */
    char *configBlackList;
    char *listenAddr;                      /* petrel: bind address */
    int32_t listenPort;
    int32_t serverChannelMaxIdleTimeSeconds;
    int64_t maxFrameSize;                  /* petrel: frames above are refused */
    char *logLevel;                        /* petrel: debug, info, warn, error */
    int32_t metricsPort;                   /* petrel: Prometheus endpoint, -1 off */
    char *metricsHost;
} namesrv_config_t;

/* The table behind -c files, --key=value, --help-config and 318/319. */
extern const cfg_def_t namesrv_config_defs[];
/* Defaults (free with namesrv_config_free). */
void namesrv_config_init(namesrv_config_t *conf);
void namesrv_config_free(namesrv_config_t *conf);
/* Properties text of every key (GET_NAMESRV_CONFIG, -p). Caller frees. */
char *namesrv_config_text(const namesrv_config_t *conf);

typedef struct namesrv_s namesrv_t;

/*
 * Loads the KV config, listens on listenAddr:listenPort (0 = ephemeral, see
 * namesrv_port) and starts the expiry timer on `loop`. The config is copied.
 * Returns NULL with a message in err on failure.
 */
namesrv_t *namesrv_start(uv_loop_t *loop, const namesrv_config_t *conf, char *err, size_t errlen);
/* The port it listens on. */
int namesrv_port(const namesrv_t *ns);
/* Closes the server and every connection; done (may be NULL) runs on the loop
 * once all handles are closed, after which ns is freed. */
void namesrv_stop(namesrv_t *ns, void (*done)(void *arg), void *arg);

/* A NameServer on a thread of its own. */
typedef struct namesrv_thread_s namesrv_thread_t;
namesrv_thread_t *namesrv_spawn(const namesrv_config_t *conf, char *err, size_t errlen);
int namesrv_thread_port(const namesrv_thread_t *t);
/* Stops it, joins the thread and frees everything. NULL is fine. */
void namesrv_shutdown(namesrv_thread_t *t);

/* Entry point of `petrel namesrv [options]`. Returns the process exit code. */
int namesrv_main(int argc, char **argv);

#endif
