/*
 * Dynamic reconfiguration (ZooKeeper 3.5+'s reconfig, opcode 16), with
 * ZooKeeper 3.8's rules:
 *
 *   leader: reconfig_build checks the request and makes the new config text
 *           (version = the zxid of its txn); the txn is a SetDataTxn of
 *           /zookeeper/config. While it is outstanding every proposal needs
 *           a quorum of the old and of the new config. Its commit goes out as
 *           COMMITANDACTIVATE / INFORMANDACTIVATE with the designated leader.
 *   every server: a logged reconfig txn makes its config the "last seen"
 *           (written to zoo.cfg.dynamic.next); committing it activates it:
 *           zoo.cfg.dynamic.<version> written, zoo.cfg rewritten to point at
 *           it (server.N lines moved out), the election plugin told, and the
 *           role restarted when this server's type or leader changes.
 *
 * Only majority configs can be changed (as ZooKeeper: an incremental change
 * needs one; zkplug refuses non-incremental changes of hierarchical configs
 * too).
 */
#ifndef ZKPLUG_RECONFIG_H
#define ZKPLUG_RECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct conn;
struct proto_reconfig_request;
struct fle_quorum;

/* The leader's checks for a reconfig request in ZooKeeper's order
 * (ReconfigInProgress, BadVersion, BadArguments, NewConfigNoQuorum). Returns
 * ZK_OK and the new config text in *text (malloc'ed, *len bytes), or a
 * ZooKeeper error code. */
int reconfig_build(struct server *srv, const struct proto_reconfig_request *req, int64_t zxid, char **text,
                   size_t *len);

/* Is this logged txn (TxnHeader + record) a reconfig? Sets its config text. */
bool reconfig_txn_text(const uint8_t *txn, size_t len, const uint8_t **text, size_t *tlen);

/* A reconfig txn was logged here: its config becomes the last seen one. */
void reconfig_seen(struct server *srv, const uint8_t *text, size_t len);

/* A config is waiting for its commit (proposed, not activated). */
bool reconfig_pending(const struct server *srv);
const struct fle_quorum *reconfig_pending_verifier(const struct server *srv);

/* Do these servers hold a quorum of the current config and, while one is
 * pending, of the pending one too? */
bool reconfig_quorum(const struct server *srv, const int64_t *sids, size_t n);

/* The reconfig committed: activate the last seen config. designated is the
 * leader the old leader chose (-1: none given). Returns true when this
 * server's role carries on, false when it must go back to LOOKING. */
bool reconfig_activate(struct server *srv, int64_t designated);

/* A leader's config arrived with NEWLEADER: adopt it if it is newer.
 * Returns false when this server's role must restart. */
bool reconfig_adopt(struct server *srv, const uint8_t *text, size_t len);

void reconfig_free(struct server *srv);

#endif
