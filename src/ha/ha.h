/*
 * ha: master/slave commit log replication on RocketMQ's classic HA protocol
 * (storage-and-semantics.md §7.11), on a loop thread of its own.
 *
 *   slave -> master: [maxPhyOffset int64 BE], on connect, after data, every heartbeat
 *   master -> slave: [phyOffset int64 BE][bodySize int32 BE][body: raw commit log]
 *
 * Master side: a server on haListenPort streams the store's commit log to
 * every connected slave from the offset of its first report (an empty slave
 * gets the master's last file from its start) and keeps each slave's
 * acknowledged offset, which SYNC_MASTER sends wait for (ha_wait).
 * Slave side: a client connects to the master's HA address, appends what it
 * receives with store_append_raw (byte for byte) and reports its end.
 * Every function is thread-safe; callbacks run on the HA thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_HA_H
#define PETREL_HA_H

#include <stddef.h>
#include <stdint.h>

struct store_s;
typedef struct ha_s ha_t;

typedef struct ha_opts_s {
    struct store_s *store;
    const char *listen_host;   /* default "0.0.0.0" */
    int listen_port;           /* 0 = any free port; -1 = no server */
    int64_t file_size;         /* mappedFileSizeCommitLog */
    int batch_bytes;           /* haTransferBatchSize: 32768 */
    int heartbeat_ms;          /* haSendHeartbeatInterval: 5000 */
    int housekeeping_ms;       /* haHousekeepingInterval: 20000 */
    int reconnect_ms;          /* slave reconnect period: 1000 */
    int64_t fallbehind_max;    /* haSlaveFallbehindMax: 256 MiB */
    const char *name;          /* for logs */
} ha_opts_t;

enum { HA_OK = 0, HA_TIMEOUT = 1 };

/* Starts the HA thread (and its server unless listen_port is -1). NULL with err. */
ha_t *ha_start(const ha_opts_t *o, char *err, size_t errlen);
/*
 * Closes every connection, completes pending waits with HA_TIMEOUT and joins
 * the thread; later ha_wait calls complete inline. Call before closing the
 * store; ha_free (after the store is closed: its flush thread may still call
 * ha_wait) releases the memory. NULL ok.
 */
void ha_stop(ha_t *h);
void ha_free(ha_t *h);
int ha_port(const ha_t *h);

/* Master: the commit log grew (any thread, cheap, coalesced). */
void ha_notify(ha_t *h);
/* Master: slaves connected, and the largest offset a connected slave acknowledged. */
int ha_slave_count(ha_t *h);
int64_t ha_ack_offset(ha_t *h);
/* Master: SYNC_MASTER may wait (a slave is connected and lags < fallbehind_max behind put_where). */
int ha_slave_ok(ha_t *h, int64_t put_where);
typedef void (*ha_wait_cb)(void *arg, int status);
/* Master: cb(arg, HA_OK) once a slave acknowledged upto, HA_TIMEOUT after timeout_ms.
 * cb runs on the HA thread (or inline after ha_stop). */
void ha_wait(ha_t *h, int64_t upto, int timeout_ms, ha_wait_cb cb, void *arg);

/* Slave: the master's HA address "ip:port" ("" = none); reconnects when it changes. */
void ha_set_master(ha_t *h, const char *addr);
/* Slave: connected to a master. */
int ha_connected(ha_t *h);

typedef struct ha_stats_s {
    uint64_t bytes_sent, bytes_received, frames_sent, frames_received;
    int slaves;
    int64_t ack_offset;
    int connected;
} ha_stats_t;
void ha_get_stats(ha_t *h, ha_stats_t *st);

/* `petrel controller` (controller.c): Raft-replicated master election. */
int controller_main(int argc, char **argv);

#endif
