/*
 * broker: the Broker (`petrel broker`): send, pull, offsets, topic and
 * group management on RocketMQ's remoting protocol, over the store.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_BROKER_H
#define PETREL_BROKER_H

/* Entry point of `petrel broker [options]`. Returns the process exit code. */
int broker_main(int argc, char **argv);

#endif
