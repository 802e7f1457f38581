/*
 * Election connections (ZooKeeper 3.8's QuorumCnxManager) on the host's
 * transport: the election port listener, one connection per peer, the
 * initial message, framing, and the queue of one message per peer.
 * Wire formats: fle_wire.c.
 *
 * Design notes:
 * - Who keeps a connection: only one initiated by the larger sid. An
 *   initiator with the smaller sid writes its initial message and closes
 *   ("Have smaller server identifier"), expecting the peer to connect back; a
 *   receiver that hears from a smaller sid closes the socket and connects to
 *   that server itself (at its configured address, or the address the header
 *   advertised for a server not in the configuration). Equal sids are refused.
 * - One connection per peer: a newly established one replaces the old.
 *   Receiving a connection from a smaller sid also drops what we had with it,
 *   since the peer evidently lost its end.
 * - Sending: per peer, at most one message waits (a newer one replaces it,
 *   ZooKeeper's queue of capacity one); it is handed to the transport as soon
 *   as the connection is up. The last message handed over is remembered and
 *   sent again when a new connection comes up with nothing waiting, so a peer
 *   that lost a message on a dying connection still hears from us (duplicates
 *   are harmless to the election).
 * - Receiving: frames of a 4-byte length and a payload of 1..512 KiB; any
 *   other length, or a bad initial message, closes that connection with one
 *   log line naming the peer and the problem.
 * - Links (one per transport connection) are never freed inside a callback
 *   that may still use them: a closed link goes to a dead list freed by a
 *   zero-delay timer, or by qcnx_free.
 * - Threads: loop thread only.
 */
#define _GNU_SOURCE
#include "fle_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fle_wire.h"

struct qcnx_peer;

struct qcnx_link {
    struct qcnx *q;
    struct qcnx_link *next;  /* q->links or q->dead */
    zkp_conn *conn;
    struct qcnx_peer *peer;  /* NULL until an inbound header names it */
    bool inbound;
    bool established;        /* frames flow */
    bool dead;               /* closed: no more use */
    char remote[280];        /* for messages: "ip:port" or "host:port" */
};

struct qcnx_peer {
    struct qcnx_peer *next;
    int64_t sid;
    char host[256];
    int port;
    bool configured;           /* from server.N, not from a header */
    bool queued;               /* we have sent to it (queueSendMap has it) */
    struct qcnx_link *active;  /* the established connection */
    struct qcnx_link *connecting;
    uint8_t *pending;          /* framed, waiting for a connection */
    size_t pending_len;
    uint8_t *last;             /* framed, last handed over */
    size_t last_len;
};

struct qcnx {
    const struct zkp_host *host;
    int64_t myid;
    char my_addr[300];
    int connect_timeout_ms;
    qcnx_deliver_cb deliver;
    void *arg;
    zkp_listener *listener;
    struct qcnx_peer *peers;
    struct qcnx_link *links, *dead;
    uint64_t reap_timer;       /* frees the dead links, outside their callbacks */
};

static const struct zkp_transport_events qcnx_events;

/* ------------------------------------------------------------------------- */
/* Peers and links                                                           */

static struct qcnx_peer *qcnx_peer_find(const struct qcnx *q, int64_t sid)
{
    for (struct qcnx_peer *p = q->peers; p != NULL; p = p->next)
        if (p->sid == sid)
            return p;
    return NULL;
}

static struct qcnx_peer *qcnx_peer_add(struct qcnx *q, int64_t sid, const char *host, int port)
{
    struct qcnx_peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->sid = sid;
    snprintf(p->host, sizeof p->host, "%s", host ? host : "");
    p->port = port;
    p->next = q->peers;
    q->peers = p;
    return p;
}

int qcnx_add_peer(struct qcnx *q, int64_t sid, const char *host, int port)
{
    struct qcnx_peer *p = qcnx_peer_find(q, sid);
    if (p == NULL && (p = qcnx_peer_add(q, sid, host, port)) == NULL)
        return -ENOMEM;
    p->configured = true;
    return 0;
}

static void qcnx_reap(void *arg)
{
    struct qcnx *q = arg;
    q->reap_timer = 0;
    while (q->dead != NULL) {
        struct qcnx_link *l = q->dead;
        q->dead = l->next;
        free(l);
    }
}

static struct qcnx_link *qcnx_link_new(struct qcnx *q, bool inbound)
{
    struct qcnx_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->q = q;
    l->inbound = inbound;
    l->next = q->links;
    q->links = l;
    return l;
}

/* Moves l to the dead list; the transport is told nothing (see callers). */
static void qcnx_link_bury(struct qcnx_link *l)
{
    struct qcnx *q = l->q;
    if (l->dead)
        return;
    l->dead = true;
    struct qcnx_peer *p = l->peer;
    if (p != NULL) {
        if (p->active == l)
            p->active = NULL;
        if (p->connecting == l)
            p->connecting = NULL;
    }
    for (struct qcnx_link **pp = &q->links; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    l->next = q->dead;
    q->dead = l;
    if (q->reap_timer == 0)
        q->reap_timer = q->host->timer_start(q->host, 0, qcnx_reap, q);
}

/* Closes l ourselves: no transport callback comes for it afterwards. */
static void qcnx_link_close(struct qcnx_link *l, int flush)
{
    if (l->dead)
        return;
    l->q->host->net_close(l->q->host, l->conn, flush);
    qcnx_link_bury(l);
}

/* ------------------------------------------------------------------------- */
/* Sending                                                                   */

static void qcnx_flush(struct qcnx_peer *p)
{
    struct qcnx_link *l = p->active;
    if (l == NULL)
        return;
    struct qcnx *q = l->q;
    if (p->pending != NULL) {
        int rc = q->host->net_send(q->host, l->conn, p->pending, p->pending_len);
        if (rc < 0) {
            q->host->log(q->host, ZKP_LOG_WARN, "election message to server %" PRId64 ": %s",
                         p->sid, strerror(-rc));
            return;
        }
        free(p->last);
        p->last = p->pending;
        p->last_len = p->pending_len;
        p->pending = NULL;
        p->pending_len = 0;
    }
}

static void qcnx_activate(struct qcnx_peer *p, struct qcnx_link *l)
{
    struct qcnx *q = l->q;
    if (p->active != NULL && p->active != l) {
        q->host->log(q->host, ZKP_LOG_INFO,
                     "replacing the election connection with server %" PRId64, p->sid);
        qcnx_link_close(p->active, 0);
    }
    l->peer = p;
    l->established = true;
    p->active = l;
    if (p->pending == NULL && p->last != NULL) {
        /* Nothing new: say the last thing again (SendWorker does the same). */
        p->pending = malloc(p->last_len);
        if (p->pending != NULL) {
            memcpy(p->pending, p->last, p->last_len);
            p->pending_len = p->last_len;
        }
    }
    qcnx_flush(p);
}

static void qcnx_connect_one(struct qcnx *q, struct qcnx_peer *p)
{
    if (p->active != NULL || p->connecting != NULL || p->port <= 0)
        return;
    struct qcnx_link *l = qcnx_link_new(q, false);
    if (l == NULL)
        return;
    l->peer = p;
    snprintf(l->remote, sizeof l->remote, "%s:%d", p->host, p->port);
    char err[256] = "";
    int rc = q->host->net_connect(q->host, p->host, p->port, q->connect_timeout_ms, &qcnx_events,
                                  l, &l->conn, err, sizeof err);
    if (rc < 0) {
        q->host->log(q->host, ZKP_LOG_WARN,
                     "Cannot open channel to %" PRId64 " at election address %s: %s", p->sid,
                     l->remote, err);
        qcnx_link_bury(l);
        return;
    }
    p->connecting = l;
}

void qcnx_send(struct qcnx *q, int64_t sid, const uint8_t *msg, size_t len)
{
    struct qcnx_peer *p = qcnx_peer_find(q, sid);
    if (p == NULL || len == 0 || len > FLE_FRAME_MAX)
        return;
    uint8_t *f = malloc(4 + len);
    if (f == NULL)
        return;
    fle_put32(f, (uint32_t)len);
    memcpy(f + 4, msg, len);
    free(p->pending);
    p->pending = f;
    p->pending_len = 4 + len;
    p->queued = true;
    if (p->active != NULL)
        qcnx_flush(p);
    else
        qcnx_connect_one(q, p);
}

bool qcnx_have_delivered(const struct qcnx *q)
{
    for (const struct qcnx_peer *p = q->peers; p != NULL; p = p->next)
        if (p->queued && p->pending == NULL)
            return true;
    return false;
}

void qcnx_connect_all(struct qcnx *q)
{
    for (struct qcnx_peer *p = q->peers; p != NULL; p = p->next)
        if (p->queued)
            qcnx_connect_one(q, p);
}

bool qcnx_connected(const struct qcnx *q, int64_t sid)
{
    const struct qcnx_peer *p = qcnx_peer_find(q, sid);
    return p != NULL && p->active != NULL;
}

/* ------------------------------------------------------------------------- */
/* Transport events                                                          */

static void qcnx_on_connected(void *ctx, int status)
{
    struct qcnx_link *l = ctx;
    struct qcnx *q = l->q;
    struct qcnx_peer *p = l->peer;
    if (status < 0) {
        q->host->log(q->host, ZKP_LOG_WARN,
                     "Cannot open channel to %" PRId64 " at election address %s: %s", p->sid,
                     l->remote, strerror(-status));
        qcnx_link_bury(l); /* the transport forgot the conn already */
        return;
    }
    uint8_t hdr[20 + FLE_INITIAL_ADDR_MAX];
    size_t n = fle_initial_encode(hdr, sizeof hdr, q->myid, q->my_addr);
    if (n == 0 || q->host->net_send(q->host, l->conn, hdr, n) < 0) {
        q->host->log(q->host, ZKP_LOG_WARN, "cannot send the initial message to server %" PRId64,
                     p->sid);
        qcnx_link_close(l, 0);
        return;
    }
    p->connecting = NULL;
    if (p->sid > q->myid) {
        q->host->log(q->host, ZKP_LOG_INFO,
                     "Have smaller server identifier, so dropping the connection: (myId:%" PRId64
                     " --> sid:%" PRId64 ")",
                     q->myid, p->sid);
        qcnx_link_close(l, 1);
        return;
    }
    qcnx_activate(p, l);
}

static void *qcnx_on_accept(void *arg, zkp_conn *conn, const char *ip, int port)
{
    struct qcnx *q = arg;
    struct qcnx_link *l = qcnx_link_new(q, true);
    if (l == NULL)
        return NULL;
    l->conn = conn;
    snprintf(l->remote, sizeof l->remote, "%s:%d", ip, port);
    return l;
}

/* The initial message named sid: decide who keeps the connection. Returns
 * false when l was closed. */
static bool qcnx_handle_header(struct qcnx_link *l, int64_t sid, const char *addr)
{
    struct qcnx *q = l->q;
    struct qcnx_peer *p = qcnx_peer_find(q, sid);
    if (p == NULL) {
        char host[256];
        int port = 0;
        if (addr[0] == '\0' || fle_address_split(addr, host, sizeof host, &port) < 0)
            host[0] = '\0';
        p = qcnx_peer_add(q, sid, host, port);
        if (p == NULL) {
            qcnx_link_close(l, 0);
            return false;
        }
    }
    if (sid == q->myid) {
        q->host->log(q->host, ZKP_LOG_WARN,
                     "election connection from %s claims our own id %" PRId64 "; closing it",
                     l->remote, sid);
        qcnx_link_close(l, 0);
        return false;
    }
    if (sid < q->myid) {
        /* Only the larger sid initiates: drop this one and call back. */
        q->host->log(q->host, ZKP_LOG_INFO,
                     "Create new connection to server: %" PRId64 " (it has the smaller id)", sid);
        qcnx_link_close(l, 0);
        if (p->active != NULL)
            qcnx_link_close(p->active, 0);
        qcnx_connect_one(q, p);
        return false;
    }
    qcnx_activate(p, l);
    return true;
}

static size_t qcnx_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct qcnx_link *l = ctx;
    struct qcnx *q = l->q;
    size_t off = 0;
    if (!l->established) {
        if (!l->inbound) {
            /* An outbound link not yet activated: nothing should arrive. */
            return len;
        }
        int64_t sid = 0;
        char addr[FLE_INITIAL_ADDR_MAX + 1];
        const char *why = NULL;
        int n = fle_initial_parse(data, len, &sid, addr, sizeof addr, need, &why);
        if (n == 0)
            return 0;
        if (n < 0) {
            q->host->log(q->host, ZKP_LOG_WARN,
                         "election connection from %s: bad initial message (%s); closing it",
                         l->remote, why);
            qcnx_link_close(l, 0);
            return len;
        }
        off = (size_t)n;
        if (!qcnx_handle_header(l, sid, addr))
            return len;
    }
    while (len - off >= 4 && !l->dead) {
        int32_t flen = (int32_t)fle_get32(data + off);
        if (flen <= 0 || flen > FLE_FRAME_MAX) {
            q->host->log(q->host, ZKP_LOG_WARN,
                         "election connection with server %" PRId64
                         " (%s): invalid message length %d (must be 1..%d); closing it",
                         l->peer ? l->peer->sid : -1, l->remote, flen, FLE_FRAME_MAX);
            qcnx_link_close(l, 0);
            return len;
        }
        if (len - off - 4 < (size_t)flen) {
            if (off == 0)
                *need = 4 + (size_t)flen;
            break;
        }
        q->deliver(q->arg, l->peer->sid, data + off + 4, (size_t)flen);
        off += 4 + (size_t)flen;
    }
    if (l->dead)
        return len;
    if (off == 0 && len < 4)
        *need = 4;
    return off;
}

static void qcnx_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct qcnx_link *l = ctx;
    struct qcnx *q = l->q;
    if (l->established && l->peer != NULL)
        q->host->log(q->host, ZKP_LOG_INFO, "election connection with server %" PRId64
                     " (%s) closed", l->peer->sid, l->remote);
    qcnx_link_bury(l);
}

static const struct zkp_transport_events qcnx_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_accept = qcnx_on_accept,
    .on_data = qcnx_on_data,
    .on_close = qcnx_on_close,
    .on_connected = qcnx_on_connected,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                 */

struct qcnx *qcnx_new(const struct zkp_host *host, int64_t myid, const char *my_addr,
                      int connect_timeout_ms, qcnx_deliver_cb deliver, void *arg)
{
    struct qcnx *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->host = host;
    q->myid = myid;
    snprintf(q->my_addr, sizeof q->my_addr, "%s", my_addr);
    q->connect_timeout_ms = connect_timeout_ms;
    q->deliver = deliver;
    q->arg = arg;
    return q;
}

int qcnx_listen(struct qcnx *q, const char *address, int port, char *err, size_t errlen)
{
    return q->host->net_listen(q->host, address, port, -1, &qcnx_events, q, &q->listener, err,
                               errlen);
}

void qcnx_free(struct qcnx *q)
{
    if (q == NULL)
        return;
    if (q->listener != NULL)
        q->host->net_unlisten(q->host, q->listener);
    while (q->links != NULL)
        qcnx_link_close(q->links, 0);
    if (q->reap_timer != 0) {
        q->host->timer_cancel(q->host, q->reap_timer);
        q->reap_timer = 0;
    }
    while (q->dead != NULL) {
        struct qcnx_link *l = q->dead;
        q->dead = l->next;
        free(l);
    }
    while (q->peers != NULL) {
        struct qcnx_peer *p = q->peers;
        q->peers = p->next;
        free(p->pending);
        free(p->last);
        free(p);
    }
    if (q->reap_timer != 0)
        q->host->timer_cancel(q->host, q->reap_timer);
    free(q);
}
