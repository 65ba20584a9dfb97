/*
 * namesrv: the NameServer (`petrel namesrv`): broker registry, topic routes,
 * cluster info and the KV config store, on RocketMQ's remoting protocol.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NAMESRV_H
#define PETREL_NAMESRV_H

/* Entry point of `petrel namesrv [options]`. Returns the process exit code. */
int namesrv_main(int argc, char **argv);

#endif
