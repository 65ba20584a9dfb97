/*
 * nsmetrics: the NameServer's Prometheus endpoint (docs/metrics.md): RPC
 * latency, live brokers, clusters, topics, connections, process figures.
 * Everything is read on the NameServer's loop thread (pm_bridge).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_NSMETRICS_H
#define PETREL_NSMETRICS_H

#include <uv.h>

#include "namesrv/routes.h"
#include "remoting/remoting.h"

typedef struct nsmetrics_s nsmetrics_t;

/* On the loop thread once the server listens; NULL when port < 0 or on failure (logged). */
nsmetrics_t *nsm_start(uv_loop_t *loop, rm_server_t *srv, ns_routes_t *routes, const char *host,
                       int port, int ns_port);
int nsm_port(const nsmetrics_t *m);
/* On the loop thread, before the server closes: stops HTTP; memory goes once the loop
 * has closed the bridge handle. NULL ok. */
void nsm_stop(nsmetrics_t *m);

#endif
