/*
 * The leader role (ZooKeeper's Leader and LearnerHandler), on the event-loop
 * thread:
 *
 *   discovery  learners connect to the quorum port and send FOLLOWERINFO /
 *              OBSERVERINFO; once a quorum of participants (this server
 *              included) has, the new epoch is max(acceptedEpoch) + 1 and
 *              every learner gets LEADERINFO.
 *   sync       each ACKEPOCH gives the learner's last zxid; once a quorum
 *              acked the epoch, currentEpoch is written and each learner is
 *              brought up to date with DIFF (the txns it lacks, read from the
 *              log), TRUNC (it is ahead) or SNAP (the database), then
 *              NEWLEADER. A quorum of NEWLEADER acks starts broadcast.
 *   broadcast  every txn this server logs is sent as a PROPOSAL; when a
 *              quorum has logged it (this server's own durability counts as
 *              its ack) it is committed: COMMIT to followers, INFORM to
 *              observers, and the replies held for it are released.
 *
 * Learners forward their clients' writes as REQUEST packets: they run
 * through the ordinary request handlers with a stand-in connection that has
 * no socket (the learner answers its client when the txn reaches it).
 * Sessions are the leader's: learners report activity in PING replies and
 * ask about a reconnecting client with REVALIDATE; the leader expires them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "fifo.h"
#include "log.h"
#include "proto.h"
#include "quorum.h"
#include "reconfig.h"
#include "server.h"
#include "snapshot.h"
#include "zab.h"

/* A DIFF larger than this is replaced by a SNAP. */
#define LEADER_DIFF_MAX_BYTES (64u << 20)

enum leader_phase { LEADER_DISCOVERY, LEADER_SYNC, LEADER_BROADCAST };

enum lh_state {
    LH_WAIT_INFO,      /* nothing received yet */
    LH_WAIT_EPOCH,     /* FOLLOWERINFO in, the epoch is not decided */
    LH_WAIT_ACKEPOCH,  /* LEADERINFO sent */
    LH_WAIT_EPOCH_ACKS,/* ACKEPOCH in, waiting for a quorum of them */
    LH_WAIT_SNAP,      /* SNAP chosen, waiting until nothing is uncommitted */
    LH_WAIT_NEWLEADER, /* synced, NEWLEADER sent, its ACK not in */
    LH_WAIT_SERVING,   /* NEWLEADER acked, waiting for broadcast to start */
    LH_BROADCAST,      /* UPTODATE sent */
};

struct learner_handler {
    struct leader *ldr;
    struct learner_handler *next;
    zkp_conn *tc;
    char ip[INET6_ADDRSTRLEN];
    int port;
    enum lh_state state;
    int64_t sid;
    bool observer;
    int64_t accepted_epoch;
    int64_t peer_last_zxid;
    int64_t last_acked;
    bool forwarding; /* gets proposals and commits */
    bool closed;
    uint64_t last_heard_ms;
    struct conn proxy; /* stand-in client connection for forwarded requests */
};

struct proposal {
    int64_t zxid;
    uint8_t *data;
    size_t len;
    bool reconfig;
};

struct pending_sync {
    struct learner_handler *lh;
    int64_t zxid; /* answered once this is committed */
};

struct leader {
    struct quorum_peer *qp;
    struct server *srv;
    zkp_listener *listener;
    struct learner_handler *handlers;
    enum leader_phase phase;
    int64_t new_epoch;
    int64_t max_accepted;
    int64_t *connecting, *epoch_ackers, *newleader_ackers;
    size_t nconnecting, nepoch_ackers, nnewleader_ackers;
    struct fifo outstanding; /* struct proposal, oldest first */
    struct pending_sync *syncs;
    size_t nsyncs, syncs_cap;
    uint64_t ping_timer;
    uint64_t started_ms;
    unsigned ping_count;
    bool allowed_to_commit; /* false once a reconfig handed leadership on */
    int64_t proposal_last, proposal_min, proposal_max; /* srvr's "Proposal sizes" */
    jute_writer out, scratch;
};

static void leader_try_commit(struct leader *ldr);

/* ------------------------------------------------------------ helpers */

static bool leader_add_sid(int64_t **set, size_t *n, int64_t sid)
{
    for (size_t i = 0; i < *n; i++)
        if ((*set)[i] == sid)
            return true;
    int64_t *s = realloc(*set, (*n + 1) * sizeof *s);
    if (s == NULL)
        return false;
    s[(*n)++] = sid;
    *set = s;
    return true;
}

static bool leader_quorum(const struct leader *ldr, const int64_t *sids, size_t n)
{
    return fle_quorum_contains(&ldr->qp->verifier, sids, n);
}

bool leader_quorum_synced(const struct leader *ldr, const struct fle_quorum *q)
{
    int64_t ids[64];
    size_t n = 0;
    if (fle_quorum_is_voter(q, ldr->qp->myid))
        ids[n++] = ldr->qp->myid;
    for (const struct learner_handler *lh = ldr->handlers; lh && n < 64; lh = lh->next)
        if (!lh->closed && lh->state == LH_BROADCAST && fle_quorum_is_voter(q, lh->sid))
            ids[n++] = lh->sid;
    return fle_quorum_contains(q, ids, n);
}

static void lh_send(struct learner_handler *lh, jute_writer *w)
{
    struct server *srv = lh->ldr->srv;
    if (lh->closed || w->oom)
        return;
    if (srv->tops->send(lh->tc, w->data, w->len) < 0) {
        log_warn("cannot queue a packet for learner %" PRId64 "; closing its connection", lh->sid);
        lh->closed = true;
        srv->tops->close(lh->tc, 0);
    }
}

static void lh_packet(struct learner_handler *lh, int32_t type, int64_t zxid, const void *data, int32_t len)
{
    jute_writer *w = &lh->ldr->out;
    w->len = 0;
    w->oom = false;
    zab_packet_write(w, type, zxid, data, len, NULL);
    lh_send(lh, w);
}

static void lh_close(struct learner_handler *lh, const char *why)
{
    if (lh->closed)
        return;
    log_warn("closing the connection of learner %" PRId64 " (%s:%d): %s", lh->sid, lh->ip, lh->port, why);
    lh->closed = true;
    lh->forwarding = false;
    lh->ldr->srv->tops->close(lh->tc, 1);
}

static const char *lh_kind(const struct learner_handler *lh) { return lh->observer ? "observer" : "follower"; }

/* ---------------------------------------------------------------- sync */

struct leader_diff {
    jute_writer buf; /* zxid (8), len (4), bytes... per txn */
    size_t count;
    int64_t first;
    bool too_big;
};

static int leader_diff_collect(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct leader_diff *d = arg;
    if (d->count == 0)
        d->first = zxid;
    if (d->buf.len + len > LEADER_DIFF_MAX_BYTES) {
        d->too_big = true;
        return 1;
    }
    jute_write_long(&d->buf, zxid);
    jute_write_int(&d->buf, (int32_t)len);
    jute_write_raw(&d->buf, txn, len);
    d->count++;
    return d->buf.oom ? 1 : 0;
}

static int leader_snap_flush(void *arg, const uint8_t *data, size_t len)
{
    struct learner_handler *lh = arg;
    if (lh->closed)
        return -EPIPE;
    return lh->ldr->srv->tops->send(lh->tc, data, len);
}

static void lh_send_newleader(struct learner_handler *lh)
{
    struct leader *ldr = lh->ldr;
    char text[4096];
    size_t n = fle_quorum_text(&ldr->qp->verifier, text, sizeof text);
    if (n >= sizeof text)
        n = sizeof text - 1;
    lh_packet(lh, ZAB_NEWLEADER, ldr->new_epoch << 32, text, (int32_t)n);
    lh->state = LH_WAIT_NEWLEADER;
    lh->forwarding = true;
}

static void lh_send_snap(struct learner_handler *lh)
{
    struct server *srv = lh->ldr->srv;
    log_info("sending SNAP 0x%" PRIx64 " to %s %" PRId64, (uint64_t)srv->last_zxid, lh_kind(lh), lh->sid);
    lh_packet(lh, ZAB_SNAP, srv->last_zxid, NULL, -1);
    int rc = snapshot_stream_learner(srv, leader_snap_flush, lh);
    if (rc < 0) {
        lh_close(lh, "cannot send the database");
        return;
    }
    lh_send_newleader(lh);
}

/* ZooKeeper's LearnerHandler.syncFollower, with the log as the source of
 * DIFF: txns the learner lacks go as PROPOSAL (+ COMMIT when committed). */
static void lh_sync(struct learner_handler *lh)
{
    struct leader *ldr = lh->ldr;
    struct server *srv = ldr->srv;
    int64_t peer = lh->peer_last_zxid, last = srv->last_zxid;
    int64_t committed = ldr->phase == LEADER_BROADCAST ? srv->committed_zxid : last;
    bool truncated = false;
    if (peer == last) {
        log_info("sending DIFF 0x%" PRIx64 " to %s %" PRId64 " (in sync)", (uint64_t)committed, lh_kind(lh), lh->sid);
        lh_packet(lh, ZAB_DIFF, committed, NULL, -1);
        lh_send_newleader(lh);
        return;
    }
    if (peer > last && committed == last) {
        log_info("sending TRUNC 0x%" PRIx64 " to %s %" PRId64 " (its last zxid 0x%" PRIx64 ")", (uint64_t)last,
                 lh_kind(lh), lh->sid, (uint64_t)peer);
        lh_packet(lh, ZAB_TRUNC, last, NULL, -1);
        lh_send_newleader(lh);
        return;
    }
    if (peer > last) {
        /* Txns are outstanding: the learner keeps what is committed, and
         * the outstanding ones follow as proposals (the DIFF path below,
         * which sends only what is above the truncation point). */
        log_info("sending TRUNC 0x%" PRIx64 " to %s %" PRId64 " (its last zxid 0x%" PRIx64 ", 0x%" PRIx64
                 " outstanding here)",
                 (uint64_t)committed, lh_kind(lh), lh->sid, (uint64_t)peer, (uint64_t)last);
        lh_packet(lh, ZAB_TRUNC, committed, NULL, -1);
        peer = committed;
        truncated = true;
    }
    struct leader_diff d = {0};
    jute_writer_init(&d.buf, 4096);
    /* From just below the learner's last zxid: the first txn read must be
     * that very zxid, else the learner holds a txn this log lacks. */
    int rc = srv->sops->read_log(srv->storage->state, peer > 0 ? peer - 1 : 0, leader_diff_collect, &d);
    bool usable = rc == 0 && !d.too_big && !d.buf.oom;
    if (usable && peer > 0)
        usable = d.count > 0 && d.first == peer;
    if (!usable && truncated) {
        jute_writer_free(&d.buf);
        lh_close(lh, "the log does not reach the truncation point");
        return;
    }
    if (!usable) {
        jute_writer_free(&d.buf);
        if (ldr->phase == LEADER_BROADCAST && srv->committed_zxid < srv->last_zxid) {
            lh->state = LH_WAIT_SNAP; /* sent once nothing is uncommitted */
            return;
        }
        lh_send_snap(lh);
        return;
    }
    if (!truncated) {
        log_info("sending DIFF 0x%" PRIx64 " to %s %" PRId64 " (%zu txns after 0x%" PRIx64 ")",
                 (uint64_t)committed, lh_kind(lh), lh->sid, d.count - (peer > 0), (uint64_t)peer);
        lh_packet(lh, ZAB_DIFF, committed, NULL, -1);
    }
    jute_reader r;
    jute_reader_init(&r, d.buf.data, d.buf.len, 0);
    while (jute_remaining(&r) > 0 && !lh->closed) {
        int64_t zxid = jute_read_long(&r);
        int32_t len = jute_read_int(&r);
        const uint8_t *p = d.buf.data + r.pos;
        r.pos += (size_t)len;
        if (zxid <= peer)
            continue;
        lh_packet(lh, ZAB_PROPOSAL, zxid, p, len);
        if (zxid <= committed)
            lh_packet(lh, ZAB_COMMIT, zxid, NULL, -1);
    }
    jute_writer_free(&d.buf);
    lh_send_newleader(lh);
}

/* ---------------------------------------------------------- discovery */

static void leader_send_leaderinfo(struct learner_handler *lh)
{
    uint8_t v[4];
    jute_put_u32(v, ZAB_PROTOCOL_VERSION);
    lh_packet(lh, ZAB_LEADERINFO, lh->ldr->new_epoch << 32, v, 4);
    lh->state = LH_WAIT_ACKEPOCH;
}

static void leader_epoch_decided(struct leader *ldr)
{
    struct quorum_peer *qp = ldr->qp;
    char err[256];
    ldr->new_epoch = ldr->max_accepted + 1;
    if (epoch_write(qp->epoch_dir, EPOCH_ACCEPTED, ldr->new_epoch, err, sizeof err) < 0) {
        quorum_role_ended(qp, err);
        return;
    }
    qp->accepted_epoch = ldr->new_epoch;
    ldr->phase = LEADER_SYNC;
    log_info("new epoch %" PRId64 " agreed by a quorum of learners", ldr->new_epoch);
    for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
        if (!lh->closed && lh->state == LH_WAIT_EPOCH)
            leader_send_leaderinfo(lh);
}

static void leader_start_broadcast(struct leader *ldr)
{
    struct server *srv = ldr->srv;
    struct quorum_peer *qp = ldr->qp;
    ldr->phase = LEADER_BROADCAST;
    srv->zxid_epoch = ldr->new_epoch;
    /* The leader's history is now the ensemble's: all of it is committed. */
    server_committed(srv, srv->last_zxid);
    /* Sessions start afresh under the new leader (ZooKeeper's tracker does). */
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            server_session_touch(srv, s);
    qp->serving = true;
    qp->vote.peer_epoch = ldr->new_epoch;
    qp->eops->set_current_vote(qp->election->state, ZKP_PEER_LEADING, &qp->vote);
    log_info("leading epoch %" PRId64 ": serving clients after %" PRIu64 " ms (last zxid 0x%" PRIx64 ")",
             ldr->new_epoch, loop_now_ms() - ldr->started_ms, (uint64_t)srv->last_zxid);
    for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
        if (!lh->closed && lh->state == LH_WAIT_SERVING) {
            lh_packet(lh, ZAB_UPTODATE, -1, NULL, -1);
            lh->state = LH_BROADCAST;
        }
}

static void leader_epoch_acked(struct leader *ldr)
{
    struct quorum_peer *qp = ldr->qp;
    char err[256];
    if (epoch_write(qp->epoch_dir, EPOCH_CURRENT, ldr->new_epoch, err, sizeof err) < 0) {
        quorum_role_ended(qp, err);
        return;
    }
    qp->current_epoch = ldr->new_epoch;
    for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
        if (!lh->closed && lh->state == LH_WAIT_EPOCH_ACKS)
            lh_sync(lh);
}

static bool leader_epoch_quorum(const struct leader *ldr)
{
    return ldr->nepoch_ackers > 0 && leader_quorum(ldr, ldr->epoch_ackers, ldr->nepoch_ackers) &&
           ldr->qp->current_epoch == ldr->new_epoch;
}

/* ---------------------------------------------------------- packets in */

static void lh_info(struct learner_handler *lh, const struct zab_packet *p)
{
    struct leader *ldr = lh->ldr;
    struct zab_learner_info li;
    if (zab_learner_info_read(p->data, &li) < 0) {
        lh_close(lh, "malformed LearnerInfo");
        return;
    }
    const struct fle_member *m = fle_quorum_member(&ldr->qp->verifier, li.sid);
    lh->sid = li.sid;
    lh->observer = p->type == ZAB_OBSERVERINFO;
    /* A server outside the config may sync and follow (it is joining, to be
     * added by a reconfig); its acks count only once a config has it. */
    if (m == NULL)
        log_info("learner %" PRId64 " is not in the current config: it follows without a vote", li.sid);
    else if (lh->observer != m->observer)
        log_warn("learner %" PRId64 " connects as %s but the config says %s", li.sid, lh_kind(lh),
                 m->observer ? "observer" : "participant");
    /* A learner reconnecting replaces its older connection. */
    for (struct learner_handler *o = ldr->handlers; o; o = o->next)
        if (o != lh && !o->closed && o->sid == lh->sid)
            lh_close(o, "the learner connected again");
    lh->accepted_epoch = (int64_t)((uint64_t)p->zxid >> 32);
    log_info("%s %" PRId64 " connected from %s:%d (accepted epoch %" PRId64 ")", lh_kind(lh), lh->sid, lh->ip,
             lh->port, lh->accepted_epoch);
    if (ldr->phase != LEADER_DISCOVERY) {
        leader_send_leaderinfo(lh);
        return;
    }
    lh->state = LH_WAIT_EPOCH;
    if (lh->accepted_epoch > ldr->max_accepted)
        ldr->max_accepted = lh->accepted_epoch;
    if (fle_quorum_is_voter(&ldr->qp->verifier, lh->sid))
        leader_add_sid(&ldr->connecting, &ldr->nconnecting, lh->sid);
    if (leader_quorum(ldr, ldr->connecting, ldr->nconnecting))
        leader_epoch_decided(ldr);
}

static void lh_ackepoch(struct learner_handler *lh, const struct zab_packet *p)
{
    struct leader *ldr = lh->ldr;
    struct server *srv = ldr->srv;
    if (p->data.len != 4) {
        lh_close(lh, "malformed ACKEPOCH");
        return;
    }
    int32_t peer_epoch = (int32_t)jute_get_u32(p->data.ptr);
    lh->peer_last_zxid = p->zxid;
    if (peer_epoch != -1) {
        bool ahead = peer_epoch > ldr->qp->current_epoch ||
                     (peer_epoch == ldr->qp->current_epoch && p->zxid > srv->last_zxid);
        if (ahead && ldr->phase != LEADER_BROADCAST) {
            char why[160];
            snprintf(why, sizeof why, "Follower is ahead of the leader (its epoch %d, zxid 0x%" PRIx64 ")",
                     peer_epoch, (uint64_t)p->zxid);
            lh_close(lh, why);
            return;
        }
    }
    if (ldr->phase == LEADER_BROADCAST || leader_epoch_quorum(ldr)) {
        lh_sync(lh);
        return;
    }
    lh->state = LH_WAIT_EPOCH_ACKS;
    if (fle_quorum_is_voter(&ldr->qp->verifier, lh->sid))
        leader_add_sid(&ldr->epoch_ackers, &ldr->nepoch_ackers, lh->sid);
    if (leader_quorum(ldr, ldr->epoch_ackers, ldr->nepoch_ackers))
        leader_epoch_acked(ldr);
}

static void lh_ack(struct learner_handler *lh, const struct zab_packet *p)
{
    struct leader *ldr = lh->ldr;
    if (lh->state == LH_WAIT_NEWLEADER && p->zxid == ldr->new_epoch << 32) {
        if (ldr->phase == LEADER_BROADCAST) {
            lh_packet(lh, ZAB_UPTODATE, -1, NULL, -1);
            lh->state = LH_BROADCAST;
            log_info("%s %" PRId64 " is up to date", lh_kind(lh), lh->sid);
        } else {
            lh->state = LH_WAIT_SERVING;
            if (fle_quorum_is_voter(&ldr->qp->verifier, lh->sid))
                leader_add_sid(&ldr->newleader_ackers, &ldr->nnewleader_ackers, lh->sid);
            if (leader_quorum(ldr, ldr->newleader_ackers, ldr->nnewleader_ackers))
                leader_start_broadcast(ldr);
        }
        return;
    }
    if (lh->observer)
        return;
    if (p->zxid > lh->last_acked)
        lh->last_acked = p->zxid;
    leader_try_commit(ldr);
}

static void lh_ping(struct learner_handler *lh, const struct zab_packet *p)
{
    struct server *srv = lh->ldr->srv;
    if (p->data.len <= 0)
        return;
    for (size_t i = 0;; i++) {
        int64_t id;
        int32_t timeout;
        int rc = zab_ping_sessions_next(p->data, i, &id, &timeout);
        if (rc <= 0) {
            if (rc < 0)
                log_warn("malformed session list in a PING from learner %" PRId64, lh->sid);
            break;
        }
        struct session *s = server_session_find(srv, id);
        if (s && !s->closing)
            server_session_touch(srv, s);
    }
}

static void lh_revalidate(struct learner_handler *lh, const struct zab_packet *p)
{
    struct leader *ldr = lh->ldr;
    struct server *srv = ldr->srv;
    int64_t id;
    int32_t timeout;
    if (zab_revalidate_request_read(p->data, &id, &timeout) < 0) {
        lh_close(lh, "malformed REVALIDATE");
        return;
    }
    struct session *s = server_session_find(srv, id);
    bool valid = s && !s->closing && !s->local;
    if (valid) {
        s->timeout = timeout;
        s->owner = lh->sid; /* the client reconnected there */
        server_session_touch(srv, s);
    }
    jute_writer *d = &ldr->scratch;
    d->len = 0;
    d->oom = false;
    zab_revalidate_reply_write(d, id, valid);
    jute_writer *w = &ldr->out;
    w->len = 0;
    w->oom = false;
    zab_packet_write(w, ZAB_REVALIDATE, -1, d->data, (int32_t)d->len, NULL);
    lh_send(lh, w);
}

/* A forwarded request whose session is gone is answered with an error txn,
 * as ZooKeeper's PrepRequestProcessor does. */
static void leader_fail_forwarded(struct leader *ldr, int64_t session, int32_t cxid, int32_t err)
{
    struct proto_txn_header hdr = {.client_id = session, .cxid = cxid, .type = ZK_OP_ERROR};
    struct proto_txn txn = {.type = ZK_OP_ERROR, .err = err};
    server_commit_txn(ldr->srv, &hdr, &txn, NULL);
}

static void lh_request(struct learner_handler *lh, const struct zab_packet *p)
{
    struct leader *ldr = lh->ldr;
    struct server *srv = ldr->srv;
    struct zab_request req;
    if (zab_request_read(p->data, &req) < 0) {
        lh_close(lh, "malformed REQUEST");
        return;
    }
    if (ldr->phase != LEADER_BROADCAST)
        return; /* cannot happen: learners forward only once up to date */
    if (req.type == ZK_OP_CREATESESSION) {
        jute_reader r;
        jute_reader_init(&r, req.body.ptr, (size_t)req.body.len, 0);
        int32_t timeout = jute_read_int(&r);
        if (r.err) {
            lh_close(lh, "malformed createSession REQUEST");
            return;
        }
        struct proto_txn_header hdr = {.client_id = req.session_id, .cxid = req.cxid, .type = ZK_OP_CREATESESSION};
        struct proto_txn txn = {.type = ZK_OP_CREATESESSION, .timeout = timeout};
        server_commit_txn(srv, &hdr, &txn, NULL);
        struct session *ns = server_session_find(srv, req.session_id);
        if (ns)
            ns->owner = lh->sid;
        return;
    }
    struct session *s = server_session_find(srv, req.session_id);
    if (s == NULL || s->closing || s->local) {
        leader_fail_forwarded(ldr, req.session_id, req.cxid, ZK_SESSIONEXPIRED);
        return;
    }
    if (req.type == ZK_OP_SYNC) {
        int64_t target = srv->last_zxid;
        if (srv->committed_zxid >= target) {
            lh_packet(lh, ZAB_SYNC, 0, NULL, -1);
            return;
        }
        if (ldr->nsyncs == ldr->syncs_cap) {
            size_t cap = ldr->syncs_cap ? ldr->syncs_cap * 2 : 16;
            struct pending_sync *ns = realloc(ldr->syncs, cap * sizeof *ns);
            if (ns == NULL) {
                lh_close(lh, "out of memory");
                return;
            }
            ldr->syncs = ns;
            ldr->syncs_cap = cap;
        }
        ldr->syncs[ldr->nsyncs++] = (struct pending_sync){lh, target};
        return;
    }
    /* A stale connection on a server the client has left (ZooKeeper's
     * SessionMovedException). */
    if (req.type != ZK_OP_CLOSESESSION && !request_owner_ok(srv, s, lh->sid)) {
        leader_fail_forwarded(ldr, req.session_id, req.cxid, ZK_SESSIONMOVED);
        return;
    }
    if (req.type == ZK_OP_CLOSESESSION) {
        lh->proxy.session = s;
        request_close_session(srv, s, &lh->proxy, req.cxid);
        lh->proxy.session = NULL;
        return;
    }
    struct conn *c = &lh->proxy;
    acl_auth_free(&c->auth);
    if (zab_packet_auth(p, &c->auth) < 0) {
        lh_close(lh, "out of memory");
        return;
    }
    snprintf(c->ip, sizeof c->ip, "%s", lh->ip);
    for (size_t i = 0; i < c->auth.nids; i++)
        if (strcmp(c->auth.ids[i].scheme, "ip") == 0)
            snprintf(c->ip, sizeof c->ip, "%s", c->auth.ids[i].id);
    c->session = s;
    jute_writer *w = &ldr->scratch;
    w->len = 0;
    w->oom = false;
    jute_write_int(w, req.cxid);
    jute_write_int(w, req.type);
    jute_write_raw(w, req.body.ptr, (size_t)(req.body.len > 0 ? req.body.len : 0));
    if (!w->oom)
        request_process(srv, c, w->data, w->len);
    c->session = NULL;
}

static void lh_dispatch(struct learner_handler *lh, const struct zab_packet *p)
{
    lh->last_heard_ms = loop_now_ms();
    switch (lh->state) {
    case LH_WAIT_INFO:
        if (p->type == ZAB_FOLLOWERINFO || p->type == ZAB_OBSERVERINFO)
            lh_info(lh, p);
        else
            lh_close(lh, "first packet is not FOLLOWERINFO or OBSERVERINFO");
        return;
    case LH_WAIT_ACKEPOCH:
        if (p->type == ZAB_ACKEPOCH)
            lh_ackepoch(lh, p);
        else
            lh_close(lh, "expected ACKEPOCH");
        return;
    default:
        break;
    }
    switch (p->type) {
    case ZAB_ACK:
        lh_ack(lh, p);
        break;
    case ZAB_PING:
        lh_ping(lh, p);
        break;
    case ZAB_REVALIDATE:
        lh_revalidate(lh, p);
        break;
    case ZAB_REQUEST:
        lh_request(lh, p);
        break;
    default: {
        char why[64];
        snprintf(why, sizeof why, "unexpected packet type %d", p->type);
        lh_close(lh, why);
        break;
    }
    }
}

/* ---------------------------------------------------------- transport */

static void *leader_on_accept(void *arg, zkp_conn *tc, const char *ip, int port)
{
    struct leader *ldr = arg;
    struct learner_handler *lh = calloc(1, sizeof *lh);
    if (lh == NULL)
        return NULL;
    lh->ldr = ldr;
    lh->tc = tc;
    snprintf(lh->ip, sizeof lh->ip, "%s", ip);
    lh->port = port;
    lh->state = LH_WAIT_INFO;
    lh->last_heard_ms = loop_now_ms();
    lh->proxy.srv = ldr->srv;
    lh->proxy.refs = 1;
    lh->proxy.initialized = true;
    lh->proxy.stats.last_op = "NA";
    lh->next = ldr->handlers;
    ldr->handlers = lh;
    return lh;
}

static size_t leader_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct learner_handler *lh = ctx;
    if (lh->ldr == NULL)
        return len;
    struct server *srv = lh->ldr->srv;
    size_t max = (size_t)server_max_packet(srv) * 2 + 65536;
    size_t used = 0;
    while (used < len && !lh->closed) {
        struct zab_packet p;
        ssize_t n = zab_packet_parse(data + used, len - used, max, &p, need);
        if (n == 0)
            break;
        if (n < 0) {
            lh_close(lh, "malformed quorum packet");
            return len;
        }
        used += (size_t)n;
        lh_dispatch(lh, &p);
    }
    return lh->closed ? len : used;
}

static void leader_remove_handler(struct leader *ldr, struct learner_handler *lh)
{
    for (struct learner_handler **pp = &ldr->handlers; *pp; pp = &(*pp)->next)
        if (*pp == lh) {
            *pp = lh->next;
            break;
        }
    size_t j = 0;
    for (size_t i = 0; i < ldr->nsyncs; i++)
        if (ldr->syncs[i].lh != lh)
            ldr->syncs[j++] = ldr->syncs[i];
    ldr->nsyncs = j;
    acl_auth_free(&lh->proxy.auth);
    free(lh);
}

static void leader_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct learner_handler *lh = ctx;
    struct leader *ldr = lh->ldr;
    if (ldr == NULL) { /* the leader stopped first */
        acl_auth_free(&lh->proxy.auth);
        free(lh);
        return;
    }
    if (!lh->closed)
        log_warn("%s %" PRId64 " (%s:%d) disconnected", lh->sid ? lh_kind(lh) : "learner", lh->sid, lh->ip,
                 lh->port);
    (void)reason;
    leader_remove_handler(ldr, lh);
}

static const struct zkp_transport_events leader_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_accept = leader_on_accept,
    .on_data = leader_on_data,
    .on_close = leader_on_close,
};

/* ---------------------------------------------------------- broadcast */

void leader_txn_logged(struct leader *ldr, int64_t zxid, const uint8_t *txn, size_t len)
{
    if (ldr->phase != LEADER_BROADCAST)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    const uint8_t *text;
    size_t tlen;
    bool reconfig = reconfig_txn_text(txn, len, &text, &tlen);
    struct proposal p = {zxid, copy, len, reconfig};
    if (copy == NULL || fifo_push(&ldr->outstanding, &p) < 0) {
        free(copy);
        quorum_role_ended(ldr->qp, "out of memory for proposals");
        return;
    }
    memcpy(copy, txn, len);
    if (reconfig)
        reconfig_seen(ldr->srv, text, tlen);
    ldr->proposal_last = (int64_t)len;
    if (ldr->proposal_min < 0 || (int64_t)len < ldr->proposal_min)
        ldr->proposal_min = (int64_t)len;
    if ((int64_t)len > ldr->proposal_max)
        ldr->proposal_max = (int64_t)len;
    jute_writer *w = &ldr->out;
    w->len = 0;
    w->oom = false;
    zab_packet_write(w, ZAB_PROPOSAL, zxid, txn, (int32_t)len, NULL);
    for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
        if (lh->forwarding && !lh->observer && !lh->closed)
            lh_send(lh, w);
    /* Zxid counter exhaustion: ZooKeeper forces an election when the low
     * 32 bits roll over; stepping down one txn early loses nothing (every
     * txn logged so far is proposed and will be committed by the next
     * leader's sync). */
    if (((uint64_t)zxid & 0xffffffffu) >= 0xfffffffdu)
        quorum_role_ended(ldr->qp, "zxid counter exhausted: a new epoch is needed");
}

static void leader_answer_syncs(struct leader *ldr)
{
    size_t j = 0;
    for (size_t i = 0; i < ldr->nsyncs; i++) {
        struct pending_sync *ps = &ldr->syncs[i];
        if (ps->zxid <= ldr->srv->committed_zxid)
            lh_packet(ps->lh, ZAB_SYNC, 0, NULL, -1);
        else
            ldr->syncs[j++] = *ps;
    }
    ldr->nsyncs = j;
}

/* ZooKeeper's getDesignatedLeader: this leader if it stays a voter, else
 * the new-config voter that acked the reconfig and the most proposals
 * after it. */
static int64_t leader_designated(const struct leader *ldr, const struct proposal *p)
{
    const struct fle_quorum *next = reconfig_pending_verifier(ldr->srv);
    if (next == NULL)
        return ldr->qp->myid;
    const struct fle_member *me = fle_quorum_member(next, ldr->qp->myid);
    const struct fle_member *now = fle_quorum_member(&ldr->qp->verifier, ldr->qp->myid);
    if (me && fle_quorum_is_voter(next, me->id) && now && me->quorum_port == now->quorum_port &&
        strcmp(me->host, now->host) == 0)
        return ldr->qp->myid;
    int64_t best = -1, best_acked = -1;
    for (const struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
        if (!lh->closed && !lh->observer && fle_quorum_is_voter(next, lh->sid) && lh->last_acked >= p->zxid &&
            lh->last_acked > best_acked) {
            best = lh->sid;
            best_acked = lh->last_acked;
        }
    return best >= 0 ? best : ldr->qp->myid;
}

static void leader_try_commit(struct leader *ldr)
{
    struct server *srv = ldr->srv;
    if (ldr->phase != LEADER_BROADCAST)
        return;
    int64_t sids[64];
    int64_t committed = -1;
    bool handed_over = false;
    struct proposal *p;
    while ((p = fifo_front(&ldr->outstanding)) != NULL && ldr->allowed_to_commit) {
        size_t n = 0;
        if (srv->durable_zxid >= p->zxid)
            sids[n++] = ldr->qp->myid;
        for (struct learner_handler *lh = ldr->handlers; lh && n < 64; lh = lh->next)
            if (lh->forwarding && !lh->observer && !lh->closed && lh->last_acked >= p->zxid)
                sids[n++] = lh->sid;
        /* While a reconfig is outstanding, a quorum of both configs. */
        if (!reconfig_quorum(srv, sids, n))
            break;
        jute_writer *w = &ldr->out;
        w->len = 0;
        w->oom = false;
        size_t commit_len;
        int64_t designated = -1;
        if (p->reconfig) {
            designated = leader_designated(ldr, p);
            uint8_t d[8];
            jute_put_u32(d, (uint32_t)((uint64_t)designated >> 32));
            jute_put_u32(d + 4, (uint32_t)designated);
            zab_packet_write(w, ZAB_COMMITANDACTIVATE, p->zxid, d, 8, NULL);
            commit_len = w->len;
            jute_writer *sc = &ldr->scratch;
            sc->len = 0;
            sc->oom = false;
            jute_write_raw(sc, d, 8);
            jute_write_raw(sc, p->data, p->len);
            zab_packet_write(w, ZAB_INFORMANDACTIVATE, p->zxid, sc->data, (int32_t)sc->len, NULL);
        } else {
            zab_packet_write(w, ZAB_COMMIT, p->zxid, NULL, -1, NULL);
            commit_len = w->len;
            zab_packet_write(w, ZAB_INFORM, p->zxid, p->data, (int32_t)p->len, NULL);
        }
        for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next) {
            if (!lh->forwarding || lh->closed)
                continue;
            if (srv->tops->send(lh->tc, lh->observer ? w->data + commit_len : w->data,
                                lh->observer ? w->len - commit_len : commit_len) < 0)
                lh_close(lh, "cannot queue a packet");
        }
        committed = p->zxid;
        bool reconfig = p->reconfig;
        free(p->data);
        fifo_pop(&ldr->outstanding);
        if (reconfig) {
            server_committed(srv, committed);
            /* The followers close their connection when the leader changes,
             * so a quorum of them got the commit. */
            if (!reconfig_activate(srv, designated)) {
                ldr->allowed_to_commit = false;
                handed_over = true;
            }
        }
    }
    if (committed < 0)
        return;
    server_committed(srv, committed);
    if (handed_over)
        quorum_role_ended(ldr->qp, "a reconfig committed: this server no longer leads");
    if (ldr->nsyncs)
        leader_answer_syncs(ldr);
    if (srv->committed_zxid >= srv->last_zxid)
        for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next)
            if (lh->state == LH_WAIT_SNAP && !lh->closed)
                lh_send_snap(lh);
}

void leader_durable(struct leader *ldr) { leader_try_commit(ldr); }

bool leader_serving(const struct leader *ldr) { return ldr->phase == LEADER_BROADCAST; }

/* ---------------------------------------------------------------- pings */

static void leader_ping(void *arg)
{
    struct leader *ldr = arg;
    struct server *srv = ldr->srv;
    struct quorum_peer *qp = ldr->qp;
    ldr->ping_timer = 0;
    uint64_t now = loop_now_ms();
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    if (ldr->phase != LEADER_BROADCAST) {
        if (now - ldr->started_ms > tick * (uint64_t)srv->cfg->init_limit) {
            quorum_role_ended(qp, ldr->phase == LEADER_DISCOVERY ? "Timeout while waiting for epoch from quorum"
                                                                 : "Timeout while waiting for a quorum to sync");
            return;
        }
    }
    uint64_t sync_ms = tick * (uint64_t)srv->cfg->sync_limit;
    int64_t synced[64];
    size_t n = 0;
    synced[n++] = qp->myid;
    for (struct learner_handler *lh = ldr->handlers; lh; lh = lh->next) {
        if (lh->closed)
            continue;
        uint64_t limit = lh->state == LH_BROADCAST ? sync_ms : tick * (uint64_t)srv->cfg->init_limit;
        if (now - lh->last_heard_ms > limit) {
            lh_close(lh, "no packet within the time limit");
            continue;
        }
        if (lh->state == LH_BROADCAST || lh->state == LH_WAIT_NEWLEADER || lh->state == LH_WAIT_SERVING)
            lh_packet(lh, ZAB_PING, srv->last_zxid, NULL, -1);
        if (lh->state == LH_BROADCAST && !lh->observer && n < 64)
            synced[n++] = lh->sid;
    }
    /* Once per tick: without a quorum of synced followers, step down. */
    if (ldr->phase == LEADER_BROADCAST && (++ldr->ping_count & 1) == 0 && !leader_quorum(ldr, synced, n)) {
        char why[160];
        int off = snprintf(why, sizeof why, "Not sufficient followers synced, only synced with sids: [");
        for (size_t i = 0; i < n && off < (int)sizeof why - 24; i++)
            off += snprintf(why + off, sizeof why - (size_t)off, "%s%" PRId64, i ? ", " : "", synced[i]);
        snprintf(why + off, sizeof why - (size_t)off, "]");
        quorum_role_ended(qp, why);
        return;
    }
    ldr->ping_timer = loop_timer_start(srv->loop, tick / 2 ? tick / 2 : 1, leader_ping, ldr);
}

/* ------------------------------------------------------------ lifecycle */

int leader_start(struct quorum_peer *qp, char *err, size_t errlen)
{
    struct server *srv = qp->srv;
    struct leader *ldr = calloc(1, sizeof *ldr);
    if (ldr == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ldr->qp = qp;
    ldr->srv = srv;
    ldr->phase = LEADER_DISCOVERY;
    ldr->started_ms = loop_now_ms();
    ldr->max_accepted = qp->accepted_epoch;
    fifo_init(&ldr->outstanding, sizeof(struct proposal));
    ldr->allowed_to_commit = true;
    ldr->proposal_last = ldr->proposal_min = ldr->proposal_max = -1;
    jute_writer_init(&ldr->out, 4096);
    jute_writer_init(&ldr->scratch, 4096);
    qp->leader = ldr;
    leader_add_sid(&ldr->connecting, &ldr->nconnecting, qp->myid);
    leader_add_sid(&ldr->epoch_ackers, &ldr->nepoch_ackers, qp->myid);
    leader_add_sid(&ldr->newleader_ackers, &ldr->nnewleader_ackers, qp->myid);
    const struct fle_member *me = fle_quorum_member(&qp->verifier, qp->myid);
    const char *addr = srv->cfg->quorum_listen_on_all_ips ? NULL : me->host;
    int rc = srv->tops->listen(srv->transport->state, addr, me->quorum_port, -1, &leader_events, ldr, &ldr->listener,
                               err, errlen);
    if (rc < 0)
        return rc;
    log_info("LEADING: listening for learners on %s:%d", addr ? addr : "0.0.0.0", me->quorum_port);
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    ldr->ping_timer = loop_timer_start(srv->loop, tick / 2 ? tick / 2 : 1, leader_ping, ldr);
    return 0;
}

void leader_stop(struct quorum_peer *qp)
{
    struct leader *ldr = qp->leader;
    if (ldr == NULL)
        return;
    struct server *srv = qp->srv;
    if (ldr->ping_timer)
        loop_timer_cancel(srv->loop, ldr->ping_timer);
    if (ldr->listener)
        srv->tops->unlisten(srv->transport->state, ldr->listener);
    /* Connections: closed now; their on_close frees them, but the leader
     * goes away first, so detach them. */
    struct learner_handler *lh = ldr->handlers;
    while (lh) {
        struct learner_handler *next = lh->next;
        if (!lh->closed) {
            lh->closed = true;
            srv->tops->close(lh->tc, 1);
        }
        lh->ldr = NULL;
        if (qp->stopping) { /* no on_close will come */
            acl_auth_free(&lh->proxy.auth);
            free(lh);
        }
        lh = next;
    }
    ldr->handlers = NULL;
    for (size_t i = 0; i < ldr->outstanding.len; i++)
        free(((struct proposal *)fifo_at(&ldr->outstanding, i))->data);
    fifo_free(&ldr->outstanding);
    free(ldr->syncs);
    free(ldr->connecting);
    free(ldr->epoch_ackers);
    free(ldr->newleader_ackers);
    jute_writer_free(&ldr->out);
    jute_writer_free(&ldr->scratch);
    srv->zxid_epoch = 0;
    /* Txns proposed but not committed stay in the log; the next leader
     * decides their fate (DIFF keeps them, TRUNC drops them). */
    free(ldr);
    qp->leader = NULL;
}

/* ------------------------------------------------------------------ status */

void leader_get_status(const struct leader *ldr, struct quorum_status *out)
{
    const struct fle_quorum *v = &ldr->qp->verifier;
    out->zab_state = ldr->phase == LEADER_DISCOVERY ? "discovery"
                     : ldr->phase == LEADER_SYNC    ? "synchronization"
                                                    : "broadcast";
    for (const struct learner_handler *lh = ldr->handlers; lh; lh = lh->next) {
        if (lh->closed)
            continue;
        out->learners++;
        if (lh->state != LH_BROADCAST)
            continue;
        if (lh->observer)
            out->synced_observers++;
        else if (fle_quorum_is_voter(v, lh->sid))
            out->synced_followers++;
        else
            out->synced_non_voting++;
    }
    out->pending_syncs = ldr->nsyncs;
    out->outstanding = ldr->outstanding.len;
    out->proposal_last = ldr->proposal_last;
    out->proposal_min = ldr->proposal_min;
    out->proposal_max = ldr->proposal_max;
}

size_t leader_get_learners(const struct leader *ldr, struct quorum_learner_info *out, size_t cap)
{
    size_t n = 0;
    for (const struct learner_handler *lh = ldr->handlers; lh; lh = lh->next) {
        if (lh->closed)
            continue;
        if (n < cap) {
            struct quorum_learner_info *i = &out[n];
            memset(i, 0, sizeof *i);
            i->sid = lh->sid;
            i->observer = lh->observer;
            i->voter = fle_quorum_is_voter(&ldr->qp->verifier, lh->sid);
            i->synced = lh->state == LH_BROADCAST;
            snprintf(i->ip, sizeof i->ip, "%s", lh->ip);
            i->port = lh->port;
            i->last_acked = lh->last_acked;
            i->last_heard_ms = lh->last_heard_ms;
        }
        n++;
    }
    return n;
}
