/*
 * The standalone server: connections, sessions, the request pipeline and the
 * durability barrier.
 *
 * Pipeline (single event-loop thread):
 *   transport on_data -> framing -> decode -> for a read: answer from the tree;
 *   for a write: prep (validate against the tree, produce a txn with the next
 *   zxid) -> storage append -> apply the txn to the tree -> reply.
 * Durability barrier: every reply and notification is tagged with the tree's
 * zxid when it was produced and is released to the transport only once the
 * storage reports that zxid durable (storage sync, batched once per loop
 * iteration: group commit). No client ever observes a change that a crash
 * could lose, and replies on a connection stay in request order.
 *
 * Files: server.c (lifecycle, connections, framing, sessions, barrier),
 * request.c (one handler per opcode), txn.c (applying txns to the tree, shared
 * by live requests and recovery), fourlw.c (four-letter words).
 */
#ifndef ZKPLUG_SERVER_H
#define ZKPLUG_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zkplug/plugin.h>

#include "acl.h"
#include "config.h"
#include "hooks.h"
#include "jute.h"
#include "loop.h"
#include "plugin_loader.h"
#include "proto.h"
#include "tree.h"
#include "watch.h"

struct conn;

struct session {
    int64_t id;
    int32_t timeout;
    uint8_t passwd[16];
    uint64_t expire_at; /* monotonic ms, rounded up to a tick */
    struct conn *conn;  /* the connection holding it, or NULL */
    struct znode **ephemerals;
    size_t nephemerals, ephemerals_cap;
    bool closing;
    bool touched; /* activity since the last report to the leader (learners) */
    bool local;   /* a read-only mode session: never logged, ends with the mode */
    int64_t owner; /* ensemble leader: the server the client is connected to
                      (a learner's id, or the leader's own), 0 unknown */
    struct session *hash_next;
};

struct conn_stats {
    int64_t packets_received, packets_sent;
    const char *last_op;
    int64_t last_cxid, last_zxid;
    int64_t last_latency, min_latency, max_latency, total_latency, count;
    int64_t established; /* wall ms */
    uint64_t last_response; /* monotonic ms */
};

struct learner_conn;

struct conn {
    struct server *srv;
    zkp_conn *tc;
    struct conn *prev, *next;
    struct watcher watcher;
    struct session *session;
    struct acl_auth auth;
    char ip[INET6_ADDRSTRLEN];
    int port;
    uint64_t accepted_ms;
    uint32_t refs;    /* held replies pointing here, plus one while open */
    bool initialized; /* ConnectRequest processed */
    bool closing;
    bool old_client;  /* no readOnly byte in its ConnectRequest */
    bool read_only;
    bool read_paused; /* too many reply bytes queued: reading stopped */
    int32_t outstanding;
    struct conn_stats stats;
    struct learner_conn *lc; /* on a learner: forwarded requests in flight */
    struct zsasl_conn *sasl; /* SASL exchange state (sasl.c), NULL until a sasl request */
};

struct held_reply {
    struct held_reply *next;
    struct conn *conn;
    int64_t zxid;
    bool close_after;
    size_t len;
    uint8_t data[];
};

struct server_stats {
    int64_t packets_received, packets_sent;
    int64_t min_latency, max_latency, total_latency, count;
    int64_t auth_failed_count;
    int64_t connection_drop_count;
    int64_t sessionless_connections_expired;
    int64_t bytes_received_count;
    int64_t large_requests_rejected;
    int64_t last_client_response_size, min_client_response_size, max_client_response_size;
    int64_t digest_mismatches_count;
};

struct server {
    loop *loop;
    struct zk_config *cfg;
    char *plugin_dir;
    struct plugin_instance *transport, *storage;
    const struct zkp_transport_ops *tops;
    const struct zkp_storage_ops *sops;
    zkp_listener *listener;

    struct tree *tree;
    struct watch_table data_watches, child_watches;

    struct session **session_buckets;
    size_t session_nbuckets, nsessions;
    int64_t next_session_id;
    int64_t server_id; /* 1 standalone, as ZooKeeper uses for session ids */

    int64_t last_zxid;     /* applied */
    int64_t appended_zxid; /* given to storage */
    int64_t durable_zxid;  /* reported durable by storage */
    int64_t sync_requested_zxid; /* highest zxid a sync was asked for */
    /* Replies wait for min(durable_zxid, committed_zxid). Standalone: every
     * txn is committed once logged (INT64_MAX). Quorum: the zxid a quorum
     * acknowledged (leader) or the leader committed (learner). */
    int64_t committed_zxid;
    int64_t zxid_epoch;    /* quorum: the epoch new zxids belong to */
    bool snapshot_deferred; /* a snapshot waits until no txn is uncommitted */
    int64_t last_snapshot_zxid, last_snapshot_time; /* -1 / -1 none; wall seconds */
    struct quorum_peer *qp; /* NULL when standalone */
    struct held_reply *held_head, *held_tail;
    size_t nheld;

    struct conn *conns;
    size_t nconns;
    size_t npaused; /* connections with read_paused */

    jute_writer out;   /* scratch for replies */
    jute_writer txnbuf; /* scratch for txns */
    struct watch_hits hits;

    uint64_t start_ms;
    int64_t trace_mask;
    bool serving;
    bool stopping;
    int exit_code;
    uint64_t tick_timer, reaper_timer;
    struct server_stats stats;
    int64_t txns_since_snapshot, snapshot_due;
    bool snapshots_unsupported;
    pid_t snapshot_pid; /* background snapshot writer, 0 when none */
    int64_t snapshot_zxid;
    uint64_t snapshot_started_ms, snapshot_timer, purge_timer;

    /* Extension host (Lua), optional: see hooks.h. */
    const struct hooks_ops *hooks;
    void *hooks_ctx;
};

/* The zxid the next txn gets: last + 1, or the first of a newer epoch. */
static inline int64_t server_next_zxid(const struct server *srv)
{
    int64_t z = srv->last_zxid + 1;
    if (srv->zxid_epoch > (int64_t)((uint64_t)z >> 32))
        z = (int64_t)(((uint64_t)srv->zxid_epoch << 32) | 1u);
    return z;
}

/* Replies tagged with a zxid up to this one may be sent. */
static inline int64_t server_release_zxid(const struct server *srv)
{
    return srv->durable_zxid < srv->committed_zxid ? srv->durable_zxid : srv->committed_zxid;
}

/* Run a standalone server until SIGTERM/SIGINT: load config and plugins,
 * restore, listen, loop. Returns the process exit code. */
int server_main(const char *cfg_path, const char *plugin_dir, int verbose);

/* Is the server answering clients (started, and in an ensemble: in a role
 * that serves, or read-only)? */
bool server_serving(const struct server *srv);

/* Lifecycle pieces (also used by tests). */
int server_init(struct server *srv, struct zk_config *cfg, const char *plugin_dir, char *err, size_t errlen);
int server_start(struct server *srv, char *err, size_t errlen);
void server_stop(struct server *srv);
void server_fini(struct server *srv);

/* ---- used by request.c / txn.c / fourlw.c ---- */

/* Queue a framed packet (built in srv->out from offset 0) for conn, behind
 * the durability barrier at zxid. */
void server_send(struct server *srv, struct conn *c, int64_t zxid, bool close_after);
/* Start a reply in srv->out: frame length placeholder + ReplyHeader. */
void server_reply_begin(struct server *srv, int32_t xid, int64_t zxid, int32_t err);
/* Finish the frame length and send it. */
void server_reply_end(struct server *srv, struct conn *c, int64_t zxid, bool close_after);
void server_close_conn(struct server *srv, struct conn *c, const char *why);

struct session *server_session_find(struct server *srv, int64_t id);
struct session *server_session_add(struct server *srv, int64_t id, int32_t timeout);
void server_session_remove(struct server *srv, struct session *s);
/* A connection takes a session over (a reconnect): the previous connection
 * holding it is closed, the session touched. */
void server_session_attach(struct server *srv, struct session *s, struct conn *c);
void server_session_touch(struct server *srv, struct session *s);
void session_generate_passwd(int64_t id, uint8_t out[16]);

/* Log and apply a txn produced by a request handler (header + body): fills
 * in the zxid and time, appends it to storage, applies it to the tree and
 * fires watches. Returns the applied result code (ZK_OK or a ZooKeeper error
 * the apply step found). */
struct txn_result;
int server_commit_txn(struct server *srv, struct proto_txn_header *hdr, struct proto_txn *txn,
                      struct txn_result *res);

/* Append an applied txn to storage (stops the server if storage fails). */
void server_log_txn(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn);
/* Count a logged txn; takes a snapshot when snapCount says so. */
void server_txn_logged(struct server *srv);
/* Append txn bytes received from a leader (already encoded) and apply them:
 * the learner's side of server_commit_txn. *result (may be NULL) gets the
 * applied result code (ZK_OK or a ZooKeeper error), res (may be NULL) the
 * details. Returns 0, -EBADMSG when the bytes do not decode, -EIO when
 * storage failed (the server is stopping). */
int server_apply_logged(struct server *srv, int64_t zxid, const uint8_t *data, size_t len,
                        int32_t *result, struct txn_result *res);
/* committed_zxid moved: release held replies (and a deferred snapshot). */
void server_committed(struct server *srv, int64_t zxid);
/* Drop every held reply and close every client connection (a quorum role
 * ended: nothing uncommitted may reach a client). */
void server_drop_clients(struct server *srv, const char *why);
/* Replace the tree and sessions with what storage holds (after a TRUNC). */
int server_reload_database(struct server *srv, char *err, size_t errlen);
/* Write a snapshot of the current state now, on the loop thread. */
int server_snapshot_now(struct server *srv, char *err, size_t errlen);
/* Transport events for client connections (the learner reuses them). */
extern const struct zkp_transport_events server_client_events;

/* Ensemble leader: may a request of session s come through owner (a
 * learner's id or the leader's)? ZooKeeper's checkSession: a session with no
 * known owner takes this one. */
bool request_owner_ok(struct server *srv, struct session *s, int64_t owner);
/* Does this opcode change state (forwarded to the leader by a learner,
 * refused in read-only mode)? */
bool request_is_write(int32_t type);
/* Dispatch one request packet (after the ConnectRequest). */
void request_process(struct server *srv, struct conn *c, const uint8_t *data, size_t len);
/* ZooKeeper's AuthenticationHelper.enforceAuthentication, for a client packet
 * before it is processed or forwarded: with enforce.auth.enabled (or
 * sessionRequireClientSASLAuth), any request but auth and sasl from a
 * connection without an id of an enforced scheme is answered
 * SessionClosedRequireSaslAuth and the connection closed; false then. */
bool request_enforce_auth(struct server *srv, struct conn *c, const uint8_t *data, size_t len);
/* The ConnectRequest. */
void request_connect(struct server *srv, struct conn *c, const uint8_t *data, size_t len);
/* Answer a ConnectRequest: the session (its password derived from the id),
 * or, with session_id 0, the "expired" answer followed by a close. */
void request_connect_answer(struct server *srv, struct conn *c, int64_t session_id, int32_t timeout, int64_t zxid);
/* The reply to a write a learner forwarded, once its txn applied here: req_type
 * and body are the client's request, err and res what applying gave. */
struct txn_result;
void request_reply_committed(struct server *srv, struct conn *c, int32_t xid, int32_t req_type, const uint8_t *body,
                             size_t body_len, int64_t zxid, int32_t err, const struct txn_result *res);
/* The session of c moved to another server: close c, after the replies
 * already queued for it (SessionMoved, as ZooKeeper handles it). */
void request_close_moved(struct server *srv, struct conn *c, int64_t zxid);
/* A fresh session id of this server. */
int64_t server_new_session_id(struct server *srv);
/* Session expiry / close: the closeSession txn. */
void request_close_session(struct server *srv, struct session *s, struct conn *reply_to, int32_t xid);
/* Container and TTL reaper pass. */
void request_reap_containers(struct server *srv);

/* Four-letter words: is this 4-byte code one? Run it into out. */
bool fourlw_is_command(uint32_t code);
void fourlw_run(struct server *srv, struct conn *c, uint32_t code, jute_writer *out);
/* stmk: the 8 bytes after the word are the new trace mask. */
void fourlw_run_with_arg(struct server *srv, struct conn *c, uint32_t code, const uint8_t *arg, size_t arglen,
                         jute_writer *out);

static inline int64_t server_max_packet(const struct server *srv)
{
    return srv->cfg->jute_maxbuffer;
}

#endif
