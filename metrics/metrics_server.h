/*
 * The server's side of the metrics: the mntr gauges the registry still
 * lacks, ZooKeeper's catalog, the beans of a standalone server
 * (StandaloneServer_port<N>, its InMemoryDataTree, one Connections bean per
 * session-holding connection, and zkplug's Metrics and RequestLatency
 * beans) or of an ensemble member (ReplicatedServer_id<N>, its local and
 * remote peers, the LeaderElection bean and the Leader / Follower /
 * Observer / ReadOnlyServer bean of the current role with the data tree and
 * connections under it, registered and unregistered as the peer's state
 * changes, and the quorum's mntr gauges), and the bus.
 *
 * Call order (event-loop thread): metrics_server_open once the server
 * serves (after server_start has opened the client port), then
 * metrics_server_close when it stops (first thing in server_stop, while
 * the loop and connections still exist). Connection beans follow the
 * server's connections: they are reconciled before every publication and
 * every query, so a bean never outlives its connection when read.
 */
#ifndef ZKPLUG_METRICS_METRICS_SERVER_H
#define ZKPLUG_METRICS_METRICS_SERVER_H

#include <stddef.h>

struct server;

/* 0; -EINVAL for a bad metrics key in zoo.cfg (err says which). A socket
 * that cannot be bound is logged and the server runs without it. */
int metrics_server_open(struct server *srv, char *err, size_t errlen);
void metrics_server_close(struct server *srv);

/* Reconcile the connection beans with the server's connections now. */
void metrics_server_sync(struct server *srv);

/* The name of the server's bean (valid while open; on an ensemble member
 * the current role's bean, until the role ends), or NULL. */
const char *metrics_server_bean_name(void);

#endif
