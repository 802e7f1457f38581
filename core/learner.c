/*
 * The follower and observer roles (ZooKeeper's Learner, Follower, Observer),
 * on the event-loop thread.
 *
 * Handshake: connect to the leader's quorum port, FOLLOWERINFO or
 * OBSERVERINFO, LEADERINFO -> ACKEPOCH (acceptedEpoch written), then the
 * sync the leader chose: DIFF (txns follow as PROPOSAL/COMMIT), TRUNC (the
 * log is cut back and the database reloaded) or SNAP (the database stream
 * follows, unframed); NEWLEADER (currentEpoch written, a snapshot taken
 * after a SNAP, ACK once everything logged is durable); UPTODATE: serving.
 *
 * Broadcast: a PROPOSAL is logged and applied at once and ACKed once
 * durable; a COMMIT moves committed_zxid, which releases the replies and
 * notifications its txn produced (server.h). Observers get INFORM (already
 * committed) instead and never ACK.
 *
 * Clients: reads are answered here; writes, sync, createSession and
 * closeSession are forwarded to the leader as REQUEST packets and answered
 * when their txn arrives. A client's later requests wait behind its
 * forwarded ones, so it reads its own writes.
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
#include "txn.h"
#include "zab.h"

#define LEARNER_CONNECT_TRIES 5
#define LEARNER_RETRY_MS 100 /* doubled after each failed try */

enum learner_state {
    L_CONNECTING,
    L_WAIT_LEADERINFO,
    L_WAIT_SYNC,     /* DIFF, TRUNC or SNAP next */
    L_SNAP_STREAM,   /* the database stream after SNAP */
    L_SYNCING,       /* PROPOSAL/COMMIT until NEWLEADER */
    L_WAIT_UPTODATE,
    L_BROADCAST,
};

/* A client request forwarded to the leader, waiting for its txn. */
struct learner_fwd {
    struct learner_fwd *next;
    int32_t xid;
    int32_t type;
    size_t len;
    uint8_t body[]; /* the request record after the header */
};

/* A client packet waiting behind forwarded ones. */
struct learner_queued {
    struct learner_queued *next;
    size_t len;
    uint8_t data[];
};

struct learner_conn {
    struct learner_fwd *fwd_head, *fwd_tail;
    struct learner_queued *q_head, *q_tail;
};

/* ConnectRequests in flight: a new session (createSession forwarded) or an
 * existing one (REVALIDATE). */
struct learner_connecting {
    struct learner_connecting *next;
    struct conn *conn; /* NULL once the connection closed */
    int64_t session_id;
    int32_t timeout;
    bool revalidate;
};

struct learner_ack {
    int64_t durable; /* sent once this zxid is durable */
    int64_t zxid;    /* what the ACK says */
};

struct learner {
    struct quorum_peer *qp;
    struct server *srv;
    int64_t leader_id;
    const struct fle_member *leader;
    zkp_conn *tc;
    enum learner_state state;
    int attempts;
    uint64_t retry_timer, watch_timer;
    uint64_t started_ms, last_heard_ms;
    int64_t new_epoch;
    bool snapshot_needed;
    bool closing;
    int64_t snap_zxid;
    int64_t sync_committed; /* what the leader's DIFF/TRUNC/SNAP says is committed */
    jute_writer snapbuf;
    struct zab_snap_scan scan;
    struct fifo acks;  /* struct learner_ack, in zxid order */
    struct fifo syncs; /* struct conn *: clients waiting for SYNC, in order (NULL: gone) */

    struct learner_connecting *connecting;
    jute_writer out, scratch;
};

static void learner_connect(struct learner *l);

/* ------------------------------------------------------------- sending */

static void learner_fail(struct learner *l, const char *why)
{
    if (l->closing)
        return;
    l->closing = true;
    quorum_role_ended(l->qp, why);
}

static void learner_send(struct learner *l, jute_writer *w)
{
    if (l->tc == NULL || l->closing || w->oom)
        return;
    if (l->srv->tops->send(l->tc, w->data, w->len) < 0)
        learner_fail(l, "cannot queue a packet for the leader");
}

static void learner_packet(struct learner *l, int32_t type, int64_t zxid, const void *data, int32_t len,
                           const struct acl_auth *auth)
{
    jute_writer *w = &l->out;
    w->len = 0;
    w->oom = false;
    zab_packet_write(w, type, zxid, data, len, auth);
    learner_send(l, w);
}

/* ACKs leave once what they acknowledge is durable here. */
static void learner_queue_ack(struct learner *l, int64_t durable, int64_t zxid)
{
    if (l->acks.len == 0 && durable <= l->srv->durable_zxid) {
        learner_packet(l, ZAB_ACK, zxid, NULL, -1, NULL);
        return;
    }
    if (fifo_push(&l->acks, &(struct learner_ack){durable, zxid}) < 0)
        learner_fail(l, "out of memory");
}

void learner_durable(struct learner *l)
{
    struct learner_ack *a;
    while ((a = fifo_front(&l->acks)) != NULL && a->durable <= l->srv->durable_zxid) {
        learner_packet(l, ZAB_ACK, a->zxid, NULL, -1, NULL);
        fifo_pop(&l->acks);
    }
}

/* ------------------------------------------------------- client queues */

static struct learner_conn *learner_conn_of(struct conn *c)
{
    if (c->lc == NULL)
        c->lc = calloc(1, sizeof *c->lc);
    return c->lc;
}

static void learner_conn_free(struct conn *c)
{
    struct learner_conn *lc = c->lc;
    if (lc == NULL)
        return;
    while (lc->fwd_head) {
        struct learner_fwd *f = lc->fwd_head;
        lc->fwd_head = f->next;
        free(f);
    }
    while (lc->q_head) {
        struct learner_queued *q = lc->q_head;
        lc->q_head = q->next;
        free(q);
    }
    free(lc);
    c->lc = NULL;
}

static bool learner_is_forwarded(int32_t type)
{
    return request_is_write(type) || type == ZK_OP_CLOSESESSION;
}

static void learner_push_sync(struct learner *l, struct conn *c)
{
    if (fifo_push(&l->syncs, &c) < 0)
        learner_fail(l, "out of memory");
}

/* Forward one client request (header xid/type already read). */
static void learner_forward(struct learner *l, struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                            size_t body_len)
{
    struct learner_conn *lc = learner_conn_of(c);
    struct learner_fwd *f = malloc(sizeof *f + body_len);
    if (lc == NULL || f == NULL) {
        free(f);
        server_close_conn(l->srv, c, "out of memory forwarding a request");
        return;
    }
    f->next = NULL;
    f->xid = xid;
    f->type = type;
    f->len = body_len;
    memcpy(f->body, body, body_len);
    if (lc->fwd_tail)
        lc->fwd_tail->next = f;
    else
        lc->fwd_head = f;
    lc->fwd_tail = f;
    if (type == ZK_OP_SYNC)
        learner_push_sync(l, c);
    jute_writer *d = &l->scratch;
    d->len = 0;
    d->oom = false;
    zab_request_write(d, c->session->id, xid, type, body, body_len);
    learner_packet(l, ZAB_REQUEST, -1, d->data, (int32_t)d->len, &c->auth);
}

static bool learner_enqueue(struct conn *c, const uint8_t *data, size_t len)
{
    struct learner_conn *lc = learner_conn_of(c);
    struct learner_queued *q = malloc(sizeof *q + len);
    if (lc == NULL || q == NULL) {
        free(q);
        return false;
    }
    q->next = NULL;
    q->len = len;
    memcpy(q->data, data, len);
    if (lc->q_tail)
        lc->q_tail->next = q;
    else
        lc->q_head = q;
    lc->q_tail = q;
    return true;
}

/* Decide for one client packet: forward, queue, or (false) process here. */
static bool learner_route(struct learner *l, struct conn *c, const uint8_t *data, size_t len, bool from_queue)
{
    if (len < 8)
        return false; /* request_process reports it */
    int32_t xid = (int32_t)jute_get_u32(data);
    int32_t type = (int32_t)jute_get_u32(data + 4);
    struct learner_conn *lc = c->lc;
    bool busy = lc && lc->fwd_head != NULL;
    bool queued = !from_queue && lc && lc->q_head != NULL;
    if (queued || (busy && !learner_is_forwarded(type))) {
        if (!learner_enqueue(c, data, len))
            server_close_conn(l->srv, c, "out of memory queueing a request");
        return true;
    }
    if (!learner_is_forwarded(type) || c->session == NULL)
        return false;
    server_session_touch(l->srv, c->session);
    learner_forward(l, c, xid, type, data + 8, len - 8);
    return true;
}

/* Run what waited behind a client's forwarded requests. */
static void learner_drain(struct learner *l, struct conn *c)
{
    struct learner_conn *lc;
    while ((lc = c->lc) != NULL && lc->q_head && !c->closing && c->tc) {
        struct learner_queued *q = lc->q_head;
        int32_t type = q->len >= 8 ? (int32_t)jute_get_u32(q->data + 4) : 0;
        if (lc->fwd_head && !learner_is_forwarded(type))
            return;
        lc->q_head = q->next;
        if (lc->q_head == NULL)
            lc->q_tail = NULL;
        if (!learner_route(l, c, q->data, q->len, true))
            request_process(l->srv, c, q->data, q->len);
        free(q);
    }
}

bool learner_client_packet(struct learner *l, struct conn *c, const uint8_t *data, size_t len)
{
    if (l->state != L_BROADCAST)
        return false;
    return learner_route(l, c, data, len, false);
}

void learner_conn_closed(struct learner *l, struct conn *c)
{
    for (struct learner_connecting *p = l->connecting; p; p = p->next)
        if (p->conn == c)
            p->conn = NULL;
    for (size_t i = 0; i < l->syncs.len; i++) {
        struct conn **waiting = fifo_at(&l->syncs, i);
        if (*waiting == c)
            *waiting = NULL;
    }
    learner_conn_free(c);
}

/* ------------------------------------------------------------- sessions */

void learner_client_connect(struct server *srv, struct conn *c, int64_t session_id, int32_t timeout)
{
    struct learner *l = srv->qp->learner;
    struct learner_connecting *p = calloc(1, sizeof *p);
    if (p == NULL) {
        server_close_conn(srv, c, "out of memory");
        return;
    }
    p->conn = c;
    p->timeout = timeout;
    p->revalidate = session_id != 0;
    p->session_id = session_id ? session_id : server_new_session_id(srv);
    p->next = l->connecting;
    l->connecting = p;
    jute_writer *d = &l->scratch;
    d->len = 0;
    d->oom = false;
    if (p->revalidate) {
        zab_revalidate_request_write(d, session_id, timeout);
        learner_packet(l, ZAB_REVALIDATE, -1, d->data, (int32_t)d->len, NULL);
    } else {
        uint8_t t[4];
        jute_put_u32(t, (uint32_t)timeout);
        zab_request_write(d, p->session_id, 0, ZK_OP_CREATESESSION, t, 4);
        learner_packet(l, ZAB_REQUEST, -1, d->data, (int32_t)d->len, NULL);
    }
}

static struct learner_connecting *learner_take_connecting(struct learner *l, int64_t id, bool revalidate)
{
    for (struct learner_connecting **pp = &l->connecting; *pp; pp = &(*pp)->next) {
        struct learner_connecting *p = *pp;
        if (p->session_id == id && p->revalidate == revalidate) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static void learner_attach_session(struct learner *l, struct conn *c, struct session *s, int64_t zxid)
{
    server_session_attach(l->srv, s, c);
    request_connect_answer(l->srv, c, s->id, s->timeout, zxid);
}

static void learner_revalidated(struct learner *l, const struct zab_packet *p)
{
    int64_t id;
    bool valid;
    if (zab_revalidate_reply_read(p->data, &id, &valid) < 0) {
        learner_fail(l, "malformed REVALIDATE reply");
        return;
    }
    struct learner_connecting *pc = learner_take_connecting(l, id, true);
    if (pc == NULL)
        return;
    struct conn *c = pc->conn;
    int32_t timeout = pc->timeout;
    free(pc);
    if (c == NULL || c->closing)
        return;
    struct session *s = valid ? server_session_find(l->srv, id) : NULL;
    if (s == NULL || s->closing) {
        request_connect_answer(l->srv, c, 0, 0, l->srv->last_zxid);
        return;
    }
    s->timeout = timeout;
    learner_attach_session(l, c, s, l->srv->last_zxid);
}

/* --------------------------------------------------------------- txns */

/* Log and apply a txn from the leader, and answer the client of this
 * server that asked for it. */
static int learner_apply(struct learner *l, int64_t zxid, jute_span data)
{
    struct server *srv = l->srv;
    if (data.len <= 0) {
        learner_fail(l, "empty txn from the leader");
        return -EBADMSG;
    }
    if (zxid <= srv->last_zxid) {
        /* Already here (a DIFF overlapping what this server logged). */
        return 0;
    }
    jute_reader r;
    jute_reader_init(&r, data.ptr, (size_t)data.len, 0);
    struct proto_txn_header hdr;
    if (proto_read_txn_header(&r, &hdr) < 0) {
        learner_fail(l, "malformed txn from the leader");
        return -EBADMSG;
    }
    /* The client connection, looked up before applying: a closeSession
     * removes the session. */
    struct session *s = server_session_find(srv, hdr.client_id);
    struct conn *c = s ? s->conn : NULL;
    struct txn_result res = {0};
    int32_t result = ZK_OK;
    int rc = server_apply_logged(srv, zxid, data.ptr, (size_t)data.len, &result, &res);
    if (rc < 0) {
        txn_result_free(&res);
        if (rc == -EBADMSG)
            learner_fail(l, "undecodable txn from the leader");
        return rc;
    }
    if (hdr.type == ZK_OP_RECONFIG) {
        const uint8_t *text;
        size_t tlen;
        if (reconfig_txn_text(data.ptr, (size_t)data.len, &text, &tlen))
            reconfig_seen(srv, text, tlen);
    }
    if (hdr.type == ZK_OP_CREATESESSION) {
        struct learner_connecting *pc = learner_take_connecting(l, hdr.client_id, false);
        if (pc) {
            struct session *ns = server_session_find(srv, hdr.client_id);
            if (pc->conn && !pc->conn->closing && ns) {
                log_info("established session 0x%" PRIx64 " with negotiated timeout %d for client %s:%d",
                         (uint64_t)ns->id, ns->timeout, pc->conn->ip, pc->conn->port);
                if (srv->hooks && srv->hooks->session_event)
                    srv->hooks->session_event(srv->hooks_ctx, ns->id, HOOKS_SESSION_CREATED);
                learner_attach_session(l, pc->conn, ns, zxid);
            }
            free(pc);
        }
        txn_result_free(&res);
        return 0;
    }
    struct learner_conn *lc = c ? c->lc : NULL;
    struct learner_fwd *f = lc ? lc->fwd_head : NULL;
    if (f && f->xid == hdr.cxid && f->type != ZK_OP_SYNC) {
        lc->fwd_head = f->next;
        if (lc->fwd_head == NULL)
            lc->fwd_tail = NULL;
        if (f->type == ZK_OP_CLOSESESSION) {
            c->session = NULL;
            server_reply_begin(srv, f->xid, zxid, ZK_OK);
            server_reply_end(srv, c, zxid, true);
        } else {
            request_reply_committed(srv, c, f->xid, f->type, f->body, f->len, zxid, result, &res);
        }
        free(f);
        learner_drain(l, c);
    }
    txn_result_free(&res);
    return 0;
}

static void learner_synced(struct learner *l)
{
    struct server *srv = l->srv;
    /* SYNC answers the oldest client sync: everything before it is here. */
    struct conn **front = fifo_front(&l->syncs);
    if (front == NULL)
        return;
    struct conn *c = *front;
    fifo_pop(&l->syncs);
    if (c == NULL || c->lc == NULL)
        return;
    struct learner_conn *lc = c->lc;
    struct learner_fwd *f = lc->fwd_head;
    if (f == NULL || f->type != ZK_OP_SYNC)
        return;
    lc->fwd_head = f->next;
    if (lc->fwd_head == NULL)
        lc->fwd_tail = NULL;
    jute_reader r;
    jute_reader_init(&r, f->body, f->len, 0);
    jute_span path = jute_read_bytes(&r);
    server_reply_begin(srv, f->xid, srv->last_zxid, ZK_OK);
    jute_write_bytes(&srv->out, path.ptr, path.len);
    server_reply_end(srv, c, srv->last_zxid, false);
    free(f);
    learner_drain(l, c);
}

/* ---------------------------------------------------------- handshake */

static void learner_leaderinfo(struct learner *l, const struct zab_packet *p)
{
    struct quorum_peer *qp = l->qp;
    char err[256];
    int64_t epoch = (int64_t)((uint64_t)p->zxid >> 32);
    uint8_t v[4];
    if (epoch > qp->accepted_epoch) {
        jute_put_u32(v, (uint32_t)qp->current_epoch);
        if (epoch_write(qp->epoch_dir, EPOCH_ACCEPTED, epoch, err, sizeof err) < 0) {
            learner_fail(l, err);
            return;
        }
        qp->accepted_epoch = epoch;
    } else if (epoch == qp->accepted_epoch) {
        jute_put_u32(v, 0xffffffffu);
    } else {
        snprintf(err, sizeof err, "Leaders epoch, %" PRId64 " is less than accepted epoch, %" PRId64, epoch,
                 qp->accepted_epoch);
        learner_fail(l, err);
        return;
    }
    l->new_epoch = epoch;
    learner_packet(l, ZAB_ACKEPOCH, l->srv->last_zxid, v, 4, NULL);
    l->state = L_WAIT_SYNC;
}

static void learner_newleader(struct learner *l, const struct zab_packet *p)
{
    struct quorum_peer *qp = l->qp;
    struct server *srv = l->srv;
    char err[256] = "";
    if ((int64_t)((uint64_t)p->zxid >> 32) != l->new_epoch) {
        learner_fail(l, "NEWLEADER for another epoch");
        return;
    }
    /* The leader's config: newer than ours when a reconfig passed us by. */
    if (p->data.len > 0 && !reconfig_adopt(srv, p->data.ptr, (size_t)p->data.len)) {
        learner_fail(l, "the leader's config changes this server's role");
        return;
    }
    if (l->snapshot_needed) {
        /* The database came whole from the leader: the log does not hold
         * it, so a snapshot must be durable before the ACK. */
        if (server_snapshot_now(srv, err, sizeof err) < 0) {
            learner_fail(l, err);
            return;
        }
        srv->appended_zxid = srv->durable_zxid = srv->sync_requested_zxid = srv->last_zxid;
        l->snapshot_needed = false;
    }
    if (epoch_write(qp->epoch_dir, EPOCH_CURRENT, l->new_epoch, err, sizeof err) < 0) {
        learner_fail(l, err);
        return;
    }
    qp->current_epoch = l->new_epoch;
    learner_queue_ack(l, srv->appended_zxid, p->zxid);
    l->state = L_WAIT_UPTODATE;
}

static void learner_uptodate(struct learner *l)
{
    struct quorum_peer *qp = l->qp;
    struct server *srv = l->srv;
    l->state = L_BROADCAST;
    /* Everything the sync brought up to the leader's commit point is
     * committed; what came after as proposals waits for its COMMIT. */
    server_committed(srv, l->sync_committed < srv->last_zxid ? l->sync_committed : srv->last_zxid);
    qp->serving = true;
    qp->vote.peer_epoch = l->new_epoch;
    qp->eops->set_current_vote(qp->election->state, qp->state, &qp->vote);
    log_info("%s leader %" PRId64 ": up to date at 0x%" PRIx64 " after %" PRIu64 " ms, serving clients",
             qp->observer ? "observing" : "following", l->leader_id, (uint64_t)srv->last_zxid,
             loop_now_ms() - l->started_ms);
    learner_packet(l, ZAB_ACK, l->new_epoch << 32, NULL, -1, NULL);
}

static void learner_trunc(struct learner *l, int64_t zxid)
{
    struct server *srv = l->srv;
    char err[256] = "";
    log_info("leader asks to truncate the log to 0x%" PRIx64 " (last zxid 0x%" PRIx64 ")", (uint64_t)zxid,
             (uint64_t)srv->last_zxid);
    if (srv->sops->truncate(srv->storage->state, zxid, err, sizeof err) < 0 ||
        server_reload_database(srv, err, sizeof err) < 0) {
        learner_fail(l, err[0] ? err : "truncating the log failed");
        return;
    }
    quorum_set_config_node(srv);
    if (srv->last_zxid != zxid) {
        snprintf(err, sizeof err, "Not able to truncate the log to 0x%" PRIx64 " (now at 0x%" PRIx64 ")",
                 (uint64_t)zxid, (uint64_t)srv->last_zxid);
        learner_fail(l, err);
    }
}

/* ----------------------------------------------------------- dispatch */

static void learner_ping(struct learner *l, const struct zab_packet *p)
{
    struct server *srv = l->srv;
    jute_writer *d = &l->scratch;
    d->len = 0;
    d->oom = false;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            if (s->touched && !s->local && s->conn) {
                jute_write_long(d, s->id);
                jute_write_int(d, s->timeout);
                s->touched = false;
            }
    learner_packet(l, ZAB_PING, p->zxid, d->data, (int32_t)d->len, NULL);
}

static void learner_dispatch(struct learner *l, const struct zab_packet *p)
{
    struct server *srv = l->srv;
    switch (l->state) {
    case L_WAIT_LEADERINFO:
        if (p->type == ZAB_LEADERINFO)
            learner_leaderinfo(l, p);
        else
            learner_fail(l, "expected LEADERINFO first");
        return;
    case L_WAIT_SYNC:
        l->sync_committed = p->zxid;
        if (p->type == ZAB_DIFF) {
            log_info("getting a DIFF from the leader 0x%" PRIx64, (uint64_t)p->zxid);
            l->state = L_SYNCING;
        } else if (p->type == ZAB_TRUNC) {
            learner_trunc(l, p->zxid);
            l->state = L_SYNCING;
        } else if (p->type == ZAB_SNAP) {
            log_info("getting a snapshot from the leader 0x%" PRIx64, (uint64_t)p->zxid);
            l->snap_zxid = p->zxid;
            l->snapbuf.len = 0;
            zab_snap_scan_init(&l->scan);
            l->state = L_SNAP_STREAM;
        } else {
            learner_fail(l, "expected DIFF, TRUNC or SNAP");
        }
        return;
    default:
        break;
    }
    switch (p->type) {
    case ZAB_PROPOSAL:
        /* Observers get proposals only while syncing (then COMMITs); they
         * never acknowledge one. */
        if (l->qp->observer && l->state == L_BROADCAST) {
            learner_fail(l, "PROPOSAL sent to an observer");
            return;
        }
        if (learner_apply(l, p->zxid, p->data) == 0 && l->state != L_SYNCING && !l->qp->observer)
            learner_queue_ack(l, p->zxid, p->zxid);
        break;
    case ZAB_COMMIT:
        if (p->zxid <= srv->last_zxid)
            server_committed(srv, p->zxid);
        break;
    case ZAB_INFORM:
        if (learner_apply(l, p->zxid, p->data) == 0)
            server_committed(srv, p->zxid);
        break;
    case ZAB_COMMITANDACTIVATE:
    case ZAB_INFORMANDACTIVATE: {
        if (p->data.len < 8) {
            learner_fail(l, "malformed reconfig commit from the leader");
            return;
        }
        int64_t designated = (int64_t)(((uint64_t)jute_get_u32(p->data.ptr) << 32) | jute_get_u32(p->data.ptr + 4));
        if (p->type == ZAB_INFORMANDACTIVATE &&
            learner_apply(l, p->zxid, (jute_span){p->data.ptr + 8, p->data.len - 8}) != 0)
            return;
        if (p->zxid <= srv->last_zxid)
            server_committed(srv, p->zxid);
        if (!reconfig_activate(srv, designated))
            learner_fail(l, "a reconfig changed this server's role or its leader");
        break;
    }
    case ZAB_NEWLEADER:
        if (l->state == L_SYNCING)
            learner_newleader(l, p);
        break;
    case ZAB_UPTODATE:
        if (l->state == L_WAIT_UPTODATE)
            learner_uptodate(l);
        break;
    case ZAB_PING:
        learner_ping(l, p);
        break;
    case ZAB_SYNC:
        learner_synced(l);
        break;
    case ZAB_REVALIDATE:
        learner_revalidated(l, p);
        break;
    default: {
        char why[64];
        snprintf(why, sizeof why, "unexpected packet type %d from the leader", p->type);
        learner_fail(l, why);
        break;
    }
    }
}

static size_t learner_snap_bytes(struct learner *l, const uint8_t *data, size_t len)
{
    struct server *srv = l->srv;
    size_t before = l->snapbuf.len;
    jute_write_raw(&l->snapbuf, data, len);
    if (l->snapbuf.oom) {
        learner_fail(l, "out of memory receiving the database");
        return len;
    }
    int rc = zab_snap_scan(&l->scan, l->snapbuf.data, l->snapbuf.len, (size_t)server_max_packet(srv) * 2 + 65536);
    if (rc < 0) {
        learner_fail(l, "malformed database stream from the leader");
        return len;
    }
    if (rc == 0)
        return len;
    size_t end = l->scan.pos;
    char err[256] = "";
    if (snapshot_load_learner(srv, l->snap_zxid, l->snapbuf.data, end, err, sizeof err) < 0) {
        learner_fail(l, err);
        return len;
    }
    srv->last_zxid = l->snap_zxid;
    quorum_set_config_node(srv);
    log_info("loaded the leader's database at 0x%" PRIx64 ": %zu znodes, %zu sessions", (uint64_t)l->snap_zxid,
             srv->tree->count, srv->nsessions);
    l->snapshot_needed = true;
    l->state = L_SYNCING;
    jute_writer_free(&l->snapbuf);
    jute_writer_init(&l->snapbuf, 0);
    return end - before; /* what follows is packets again */
}

static size_t learner_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct learner *l = ctx;
    if (l->closing || l->qp == NULL)
        return len;
    l->last_heard_ms = loop_now_ms();
    size_t max = (size_t)server_max_packet(l->srv) * 2 + 65536;
    size_t used = 0;
    while (used < len && !l->closing) {
        if (l->state == L_SNAP_STREAM) {
            used += learner_snap_bytes(l, data + used, len - used);
            continue;
        }
        struct zab_packet p;
        ssize_t n = zab_packet_parse(data + used, len - used, max, &p, need);
        if (n == 0)
            break;
        if (n < 0) {
            learner_fail(l, "malformed packet from the leader");
            return len;
        }
        used += (size_t)n;
        learner_dispatch(l, &p);
    }
    return l->closing ? len : used;
}

static void learner_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct learner *l = ctx;
    (void)reason;
    if (l->qp == NULL) { /* the role stopped first */
        free(l);
        return;
    }
    l->tc = NULL;
    learner_fail(l, "the connection to the leader closed");
}

static void learner_retry(void *arg)
{
    struct learner *l = arg;
    l->retry_timer = 0;
    learner_connect(l);
}

static void learner_on_connected(void *ctx, int status)
{
    struct learner *l = ctx;
    if (l->qp == NULL) {
        free(l);
        return;
    }
    if (status < 0) {
        l->tc = NULL;
        if (++l->attempts >= LEARNER_CONNECT_TRIES) {
            char why[160];
            snprintf(why, sizeof why, "cannot connect to leader %" PRId64 " at %s:%d: %s", l->leader_id,
                     l->leader->host, l->leader->quorum_port, strerror(-status));
            learner_fail(l, why);
            return;
        }
        l->retry_timer = loop_timer_start(l->srv->loop, (uint64_t)LEARNER_RETRY_MS << l->attempts, learner_retry, l);
        return;
    }
    struct zab_learner_info li = {.sid = l->qp->myid, .protocol_version = ZAB_PROTOCOL_VERSION,
                                  .config_version = 0};
    jute_writer *d = &l->scratch;
    d->len = 0;
    d->oom = false;
    zab_learner_info_write(d, &li);
    learner_packet(l, l->qp->observer ? ZAB_OBSERVERINFO : ZAB_FOLLOWERINFO, l->qp->accepted_epoch << 32, d->data,
                   (int32_t)d->len, NULL);
    l->state = L_WAIT_LEADERINFO;
    l->last_heard_ms = loop_now_ms();
}

static const struct zkp_transport_events learner_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_data = learner_on_data,
    .on_close = learner_on_close,
    .on_connected = learner_on_connected,
};

static void learner_connect(struct learner *l)
{
    struct server *srv = l->srv;
    char err[256] = "";
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    int timeout = (int)(tick * (uint64_t)srv->cfg->init_limit);
    if (srv->tops->size < offsetof(struct zkp_transport_ops, connect) + sizeof srv->tops->connect ||
        srv->tops->connect == NULL) {
        learner_fail(l, "the transport plugin cannot open connections (needs ABI 1.1 connect)");
        return;
    }
    l->state = L_CONNECTING;
    int rc = srv->tops->connect(srv->transport->state, l->leader->host, l->leader->quorum_port, timeout,
                                &learner_events, l, &l->tc, err, sizeof err);
    if (rc < 0)
        learner_fail(l, err);
}

/* Read timeouts: initLimit ticks until synced, syncLimit ticks after. */
static void learner_watch(void *arg)
{
    struct learner *l = arg;
    struct server *srv = l->srv;
    l->watch_timer = 0;
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    uint64_t now = loop_now_ms();
    if (l->state != L_CONNECTING) {
        uint64_t limit = tick * (uint64_t)(l->state == L_BROADCAST ? srv->cfg->sync_limit : srv->cfg->init_limit);
        if (now - l->last_heard_ms > limit) {
            learner_fail(l, "Read timed out: no packet from the leader within the time limit");
            return;
        }
    }
    l->watch_timer = loop_timer_start(srv->loop, tick / 2 ? tick / 2 : 1, learner_watch, l);
}

/* ----------------------------------------------------------- lifecycle */

int learner_start(struct quorum_peer *qp, int64_t leader_id, char *err, size_t errlen)
{
    struct server *srv = qp->srv;
    const struct fle_member *m = fle_quorum_member(&qp->verifier, leader_id);
    if (m == NULL || leader_id == qp->myid) {
        snprintf(err, errlen, "the elected leader %" PRId64 " is not a server of the ensemble", leader_id);
        return -EINVAL;
    }
    struct learner *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    l->qp = qp;
    l->srv = srv;
    l->leader_id = leader_id;
    l->leader = m;
    l->started_ms = l->last_heard_ms = loop_now_ms();
    fifo_init(&l->acks, sizeof(struct learner_ack));
    fifo_init(&l->syncs, sizeof(struct conn *));
    jute_writer_init(&l->out, 4096);
    jute_writer_init(&l->scratch, 4096);
    jute_writer_init(&l->snapbuf, 0);
    qp->learner = l;
    log_info("%s leader %" PRId64 " at %s:%d", qp->observer ? "OBSERVING" : "FOLLOWING", leader_id, m->host,
             m->quorum_port);
    learner_connect(l);
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    l->watch_timer = loop_timer_start(srv->loop, tick / 2 ? tick / 2 : 1, learner_watch, l);
    return 0;
}

void learner_stop(struct quorum_peer *qp)
{
    struct learner *l = qp->learner;
    if (l == NULL)
        return;
    struct server *srv = qp->srv;
    if (l->retry_timer)
        loop_timer_cancel(srv->loop, l->retry_timer);
    if (l->watch_timer)
        loop_timer_cancel(srv->loop, l->watch_timer);
    for (struct conn *c = srv->conns; c; c = c->next)
        learner_conn_free(c);
    while (l->connecting) {
        struct learner_connecting *p = l->connecting;
        l->connecting = p->next;
        free(p);
    }
    fifo_free(&l->acks);
    fifo_free(&l->syncs);
    jute_writer_free(&l->out);
    jute_writer_free(&l->scratch);
    jute_writer_free(&l->snapbuf);
    qp->learner = NULL;
    l->qp = NULL;
    if (l->tc) {
        srv->tops->close(l->tc, 0);
        /* on_close still comes from the loop and frees l, unless the server
         * is stopping: the transport then drops connections silently. */
        if (!qp->stopping)
            return;
    }
    free(l);
}

bool learner_serving(const struct learner *l) { return l->state == L_BROADCAST; }

bool learner_syncing(const struct learner *l) { return l->state >= L_WAIT_SYNC; }
