/*
 * The quorum peer (ZooKeeper's QuorumPeer): a server with server.N lines
 * runs as one member of an ensemble. It loads the election plugin, keeps the
 * currentEpoch/acceptedEpoch files, and moves between the roles:
 *
 *   LOOKING --election done--> LEADING (leader.c) | FOLLOWING / OBSERVING (learner.c)
 *      ^                                   |
 *      +---------- the role ended ---------+
 *
 * While LOOKING no client is served, except in read-only mode
 * (readonlymode.enabled): after a grace period the peer answers reads from
 * clients that allow read-only and refuses their writes.
 *
 * Replication keeps one rule for every role: a txn is applied to the tree
 * as soon as it is logged here, and a reply or notification tagged with its
 * zxid waits until the txn is both durable here and committed by a quorum
 * (server.h: committed_zxid). When a role ends, everything held is dropped
 * and client connections are closed, so nothing uncommitted is ever seen.
 */
#ifndef ZKPLUG_QUORUM_H
#define ZKPLUG_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zkplug/plugin.h>

#include "fle_quorum.h"

struct server;
struct conn;
struct leader;
struct learner;
struct proto_txn_header;
struct txn_result;

struct quorum_peer {
    struct server *srv;
    int64_t myid;
    bool observer; /* this server's line says :observer */
    struct fle_quorum verifier;  /* the current config (its version too) */
    struct fle_quorum *pending;  /* a proposed reconfig's, until committed */
    struct plugin_instance *election;
    const struct zkp_election_ops *eops;
    enum zkp_peer_state state;
    struct zkp_vote vote; /* the current vote (leader, its zxid and epochs) */
    int64_t accepted_epoch, current_epoch;
    char *epoch_dir;      /* dataDir/version-2 */
    struct leader *leader;
    struct learner *learner;
    bool read_only;       /* serving reads while LOOKING */
    bool serving;         /* a role is established: clients served */
    uint64_t ro_timer, restart_timer;
    uint64_t looking_since_ms;
    bool stopping;
    int64_t elections;    /* elections run, for logs and metrics */
    uint64_t role_since_ms;
    uint64_t election_started_ms;
    int64_t last_election_ms;
};

/* Set up the peer for srv (config already has myid applied): the quorum
 * verifier from the server.N / group / weight lines, the election plugin
 * (loaded and initialised). Before server_start. */
int quorum_init(struct server *srv, char *err, size_t errlen);
/* After the database is restored: read or create the epoch files, start
 * the election plugin and begin LOOKING. */
int quorum_start(struct server *srv, char *err, size_t errlen);
void quorum_stop(struct server *srv);
void quorum_fini(struct server *srv);

/* /zookeeper/config holds the ensemble's config text (version -1, no
 * txn), as ZooKeeper sets it; again after a SNAP or reload replaced the
 * tree. */
void quorum_set_config_node(struct server *srv);
/* Is a client served now (leader, learner past UPTODATE, or read-only)? */
bool quorum_serving(const struct server *srv);
bool quorum_is_learner(const struct server *srv);
bool quorum_read_only(const struct server *srv);
/* "leader", "follower", "observer", "read-only" or "looking" (srvr's Mode). */
const char *quorum_mode_name(const struct server *srv);

/* For metrics and admin commands: the peer's state in one read. */
struct quorum_status {
    const char *state;     /* "looking", "leading", "following", "observing" */
    const char *zab_state; /* "election", "discovery", "synchronization", "broadcast" */
    bool read_only;
    int64_t myid, leader_id;
    int64_t current_epoch, accepted_epoch, config_version;
    size_t members, voters;
    int64_t elections, last_election_ms;
    uint64_t role_since_ms;   /* monotonic ms the current role (or LOOKING) began */
    /* leader only (0 otherwise) */
    size_t learners, synced_followers, synced_non_voting, synced_observers, pending_syncs, outstanding;
    int64_t proposal_last, proposal_min, proposal_max; /* txn bytes; -1 before any */
};
void quorum_get_status(const struct server *srv, struct quorum_status *out);

/* One learner connected to this leader. */
struct quorum_learner_info {
    int64_t sid;
    bool observer;
    bool voter;    /* in the current config as a participant */
    bool synced;   /* in broadcast (UPTODATE sent) */
    char ip[64];
    int port;
    int64_t last_acked;
    uint64_t last_heard_ms;
};
/* Fills up to cap entries; returns how many learners there are. */
size_t quorum_get_learners(const struct server *srv, struct quorum_learner_info *out, size_t cap);

/* Hooks from server.c. */
void quorum_txn_logged(struct server *srv, int64_t zxid, const uint8_t *txn, size_t len);
void quorum_durable(struct server *srv);
/* A client packet on a learner: forward it or queue it behind forwarded
 * ones. Returns false when the caller should process it locally now. */
bool quorum_client_packet(struct server *srv, struct conn *c, const uint8_t *data, size_t len);
void quorum_conn_closed(struct server *srv, struct conn *c);
/* A role ended (called by leader.c / learner.c): go back to LOOKING soon. */
void quorum_role_ended(struct quorum_peer *qp, const char *why);

/* learner.c, called from request.c's ConnectRequest handling. */
void learner_client_connect(struct server *srv, struct conn *c, int64_t session_id, int32_t timeout);

/* leader.c */
int leader_start(struct quorum_peer *qp, char *err, size_t errlen);
void leader_stop(struct quorum_peer *qp);
void leader_txn_logged(struct leader *ldr, int64_t zxid, const uint8_t *txn, size_t len);
void leader_durable(struct leader *ldr);
bool leader_serving(const struct leader *ldr);
/* ZooKeeper's isQuorumSynced: do the voters of q that are this leader or
 * learners in broadcast hold a quorum of q? */
bool leader_quorum_synced(const struct leader *ldr, const struct fle_quorum *q);
void leader_get_status(const struct leader *ldr, struct quorum_status *out);
size_t leader_get_learners(const struct leader *ldr, struct quorum_learner_info *out, size_t cap);
bool learner_syncing(const struct learner *l);

/* learner.c */
int learner_start(struct quorum_peer *qp, int64_t leader_id, char *err, size_t errlen);
void learner_stop(struct quorum_peer *qp);
void learner_durable(struct learner *l);
bool learner_serving(const struct learner *l);
bool learner_client_packet(struct learner *l, struct conn *c, const uint8_t *data, size_t len);
void learner_conn_closed(struct learner *l, struct conn *c);

#endif
