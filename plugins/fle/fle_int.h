/*
 * Private declarations of the fle plugin: the election connection manager
 * (fle_qcnx.c, ZooKeeper's QuorumCnxManager) as used by the election itself
 * (fle.c). Not included from outside plugins/fle.
 *
 * Call order: qcnx_new, qcnx_add_peer for every other server, qcnx_listen
 * (from the plugin's start), then qcnx_send / qcnx_connect_all /
 * qcnx_have_delivered from the loop thread, qcnx_free (from stop).
 */
#ifndef ZKPLUG_PLUGINS_FLE_INT_H
#define ZKPLUG_PLUGINS_FLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zkplug/plugin.h>

struct qcnx;

/* A complete framed message from server sid (payload only, borrowed for the
 * call). Runs on the loop thread from the transport's on_data. */
typedef void (*qcnx_deliver_cb)(void *arg, int64_t sid, const uint8_t *msg, size_t len);

/* Returns new (free with qcnx_free). my_addr is "host:port" of this server's
 * election address, sent in the initial message. */
struct qcnx *qcnx_new(const struct zkp_host *host, int64_t myid, const char *my_addr,
                      int connect_timeout_ms, qcnx_deliver_cb deliver, void *arg);
/* Closes every connection and the listener; no callback after it returns. */
void qcnx_free(struct qcnx *q);
/* A server we may connect to (known from the configuration). 0 or -ENOMEM. */
int qcnx_add_peer(struct qcnx *q, int64_t sid, const char *host, int port);
/* Listens on address:port through the host's transport. 0 or -errno + err. */
int qcnx_listen(struct qcnx *q, const char *address, int port, char *err, size_t errlen);
/* Queues msg (copied) for sid, replacing a message not yet handed over (a
 * queue of one, as ZooKeeper's), and connects if needed. */
void qcnx_send(struct qcnx *q, int64_t sid, const uint8_t *msg, size_t len);
/* haveDelivered: some peer we queued for has nothing waiting. */
bool qcnx_have_delivered(const struct qcnx *q);
/* connectAll: connect to every peer we have queued for. */
void qcnx_connect_all(struct qcnx *q);
/* Whether a connection with sid is established (tests, logs). */
bool qcnx_connected(const struct qcnx *q, int64_t sid);

#endif
