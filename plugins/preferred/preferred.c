/*
 * preferred: an example election plugin that picks a preferred leader. Among
 * the live servers that hold the newest data (highest epoch, then zxid), the
 * one with the highest zoo.cfg priority (preferred.priority.N, default 0;
 * ties go to the higher id) leads. It is the worked example of
 * docs/election-plugins.md: everything it does goes through struct zkp_host
 * (config, timers, the core's transport), none of it through the core's
 * symbols. It speaks its own small protocol, not ZooKeeper's, so every server
 * of an ensemble must use it.
 *
 * Wire format, on connections each server opens to every other server's
 * election port (a server only sends on the connections it opened and only
 * reads from the ones it accepted), every 200 ms:
 *
 *   offset  size  field (big-endian)
 *        0     4  frame length, 40
 *        4     4  magic 0x50524546 ("PREF")
 *        8     8  sender's server id
 *       16     4  sender's state: 0 LOOKING, 1 FOLLOWING, 2 LEADING
 *       20     8  the leader it follows or leads (its own id while LOOKING)
 *       28     8  its last zxid
 *       36     8  its current epoch
 *
 * Decision, on every 200 ms tick while looking, from the messages heard in
 * the last second (plus our own state):
 *   1. a majority of the participants follow or lead the same server L, and
 *      L itself says LEADING: follow L (joining a running ensemble); or a
 *      majority, counting us, names us: lead;
 *   2. otherwise, when a majority was heard and either every participant
 *      was heard or the majority has held for one second: the best of the
 *      servers looking or leading leads (newest data, then priority, then
 *      id).
 * Weaker than Fast Leader Election on purpose (no rounds, no acknowledgement
 * of the result): it shows the plugin interface, not a consensus protocol.
 *
 * Entry points: the descriptor and preferred_ops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkplug/plugin.h>

#define PREFERRED_MAGIC 0x50524546u
#define PREFERRED_MSG_LEN 40
#define PREFERRED_TICK_MS 200
#define PREFERRED_LIVE_MS 1000
#define PREFERRED_SETTLE_MS 1000
#define PREFERRED_MAX_SERVERS 64

struct preferred_peer;

/* One transport connection: outbound ones belong to a peer. */
struct preferred_link {
    struct preferred *st;
    struct preferred_peer *peer; /* NULL for inbound links */
    zkp_conn *conn;
    bool connected;
    struct preferred_link *prev, *next; /* st->inbound, inbound links only */
};

struct preferred_peer {
    int64_t id;
    char host[256];
    int port;
    bool observer;
    int64_t priority;
    struct preferred_link *out; /* our connection to it, NULL when none */
    /* what it last told us */
    uint64_t heard_ms;          /* 0 = never */
    int32_t state;
    int64_t leader, zxid, epoch;
};

struct preferred {
    const struct zkp_host *host;
    int64_t myid;
    struct preferred_peer peers[PREFERRED_MAX_SERVERS]; /* ourselves included */
    size_t npeers, nvoters;
    struct preferred_peer *me;
    zkp_listener *listener;
    struct preferred_link *inbound; /* accepted links, freed at stop */
    uint64_t tick_timer;
    bool started, looking;
    uint64_t quorum_since; /* when a looking majority was first heard; 0 = not yet */
    zkp_election_done_cb done_cb;
    void *done_arg;
};

static void preferred_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void preferred_put64(uint8_t *p, uint64_t v)
{
    preferred_put32(p, (uint32_t)(v >> 32));
    preferred_put32(p + 4, (uint32_t)v);
}

static uint32_t preferred_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t preferred_get64(const uint8_t *p)
{
    return (uint64_t)preferred_get32(p) << 32 | preferred_get32(p + 4);
}

static struct preferred_peer *preferred_peer(struct preferred *st, int64_t id)
{
    for (size_t i = 0; i < st->npeers; i++)
        if (st->peers[i].id == id)
            return &st->peers[i];
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Network                                                                   */

/* Frees a link; an inbound one leaves st->inbound first. */
static void preferred_link_free(struct preferred_link *l)
{
    if (l->peer == NULL) {
        if (l->prev)
            l->prev->next = l->next;
        else
            l->st->inbound = l->next;
        if (l->next)
            l->next->prev = l->prev;
    }
    free(l);
}

static size_t preferred_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct preferred_link *l = ctx;
    struct preferred *st = l->st;
    size_t off = 0;
    while (len - off >= 4 + PREFERRED_MSG_LEN) {
        const uint8_t *m = data + off;
        if (preferred_get32(m) != PREFERRED_MSG_LEN || preferred_get32(m + 4) != PREFERRED_MAGIC) {
            st->host->log(st->host, ZKP_LOG_WARN,
                          "election connection: not a preferred-plugin message; closing it");
            st->host->net_close(st->host, l->conn, 0);
            if (l->peer != NULL && l->peer->out == l)
                l->peer->out = NULL;
            preferred_link_free(l);
            return len;
        }
        struct preferred_peer *p = preferred_peer(st, (int64_t)preferred_get64(m + 8));
        if (p != NULL && p != st->me) {
            p->heard_ms = st->host->now_ms(st->host);
            p->state = (int32_t)preferred_get32(m + 16);
            p->leader = (int64_t)preferred_get64(m + 20);
            p->zxid = (int64_t)preferred_get64(m + 28);
            p->epoch = (int64_t)preferred_get64(m + 36);
        }
        off += 4 + PREFERRED_MSG_LEN;
    }
    if (off == 0)
        *need = 4 + PREFERRED_MSG_LEN;
    return off;
}

static void preferred_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct preferred_link *l = ctx;
    (void)reason;
    if (l->peer != NULL && l->peer->out == l)
        l->peer->out = NULL;
    preferred_link_free(l);
}

static void preferred_on_connected(void *ctx, int status)
{
    struct preferred_link *l = ctx;
    if (status < 0) {
        l->peer->out = NULL; /* retried on the next tick */
        free(l);
        return;
    }
    l->connected = true;
}

static void *preferred_on_accept(void *arg, zkp_conn *conn, const char *ip, int port)
{
    (void)ip;
    (void)port;
    struct preferred_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    struct preferred *st = arg;
    l->st = st;
    l->conn = conn;
    l->next = st->inbound;
    if (st->inbound)
        st->inbound->prev = l;
    st->inbound = l;
    return l;
}

static const struct zkp_transport_events preferred_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_accept = preferred_on_accept,
    .on_data = preferred_on_data,
    .on_close = preferred_on_close,
    .on_connected = preferred_on_connected,
};

/* Sends our state to every peer, connecting to those we have no link to. */
static void preferred_broadcast(struct preferred *st)
{
    uint8_t msg[4 + PREFERRED_MSG_LEN];
    struct preferred_peer *me = st->me;
    preferred_put32(msg, PREFERRED_MSG_LEN);
    preferred_put32(msg + 4, PREFERRED_MAGIC);
    preferred_put64(msg + 8, (uint64_t)st->myid);
    preferred_put32(msg + 16, (uint32_t)me->state);
    preferred_put64(msg + 20, (uint64_t)me->leader);
    preferred_put64(msg + 28, (uint64_t)me->zxid);
    preferred_put64(msg + 36, (uint64_t)me->epoch);
    for (size_t i = 0; i < st->npeers; i++) {
        struct preferred_peer *p = &st->peers[i];
        if (p == me)
            continue;
        if (p->out == NULL) {
            struct preferred_link *l = calloc(1, sizeof *l);
            if (l == NULL)
                continue;
            l->st = st;
            l->peer = p;
            char err[256];
            if (st->host->net_connect(st->host, p->host, p->port, 1000, &preferred_events, l,
                                      &l->conn, err, sizeof err) < 0) {
                st->host->log(st->host, ZKP_LOG_WARN, "server %" PRId64 ": %s", p->id, err);
                free(l);
                continue;
            }
            p->out = l;
        }
        /* Queued by the transport until connected. */
        st->host->net_send(st->host, p->out->conn, msg, sizeof msg);
    }
}

/* ------------------------------------------------------------------------- */
/* Decision                                                                  */

static bool preferred_live(const struct preferred *st, const struct preferred_peer *p,
                           uint64_t now)
{
    return p == st->me || (p->heard_ms != 0 && now - p->heard_ms <= PREFERRED_LIVE_MS);
}

/* Whether a beats b: newer data, then priority, then id. */
static bool preferred_better(const struct preferred_peer *a, const struct preferred_peer *b)
{
    if (a->epoch != b->epoch)
        return a->epoch > b->epoch;
    if (a->zxid != b->zxid)
        return a->zxid > b->zxid;
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->id > b->id;
}

static void preferred_finish(struct preferred *st, int64_t leader)
{
    struct preferred_peer *me = st->me;
    enum zkp_peer_state state = leader == st->myid ? ZKP_PEER_LEADING
                                : me->observer      ? ZKP_PEER_OBSERVING
                                                    : ZKP_PEER_FOLLOWING;
    struct preferred_peer *l = preferred_peer(st, leader);
    struct zkp_vote vote = {.leader = leader,
                            .zxid = l ? l->zxid : 0,
                            .election_epoch = 0,
                            .peer_epoch = l ? l->epoch : 0,
                            .state = state};
    st->looking = false;
    me->state = state == ZKP_PEER_OBSERVING ? ZKP_PEER_FOLLOWING : (int32_t)state;
    me->leader = leader;
    st->host->log(st->host, ZKP_LOG_INFO, "preferred leader: %" PRId64 "", leader);
    preferred_broadcast(st); /* tell the others at once */
    zkp_election_done_cb cb = st->done_cb;
    st->done_cb = NULL;
    if (cb)
        cb(st->done_arg, state, &vote);
}

static void preferred_decide(struct preferred *st)
{
    uint64_t now = st->host->now_ms(st->host);
    /* 1. A running ensemble: a majority agrees on a leader that leads, or on
     *    us (then we lead: the others decided while we were still looking). */
    for (size_t i = 0; i < st->npeers; i++) {
        struct preferred_peer *cand = &st->peers[i];
        if (cand != st->me &&
            (!preferred_live(st, cand, now) || cand->state != ZKP_PEER_LEADING))
            continue;
        size_t agree = cand == st->me && !st->me->observer ? 1 : 0;
        for (size_t k = 0; k < st->npeers; k++) {
            struct preferred_peer *p = &st->peers[k];
            if (!p->observer && p != st->me && preferred_live(st, p, now) &&
                p->state != ZKP_PEER_LOOKING && p->leader == cand->id)
                agree++;
        }
        if (agree > st->nvoters / 2) {
            preferred_finish(st, cand->id);
            return;
        }
    }
    /* 2. A fresh election: every live participant counts toward the
     *    majority; those looking or already leading are the candidates (one
     *    that decided a moment before us is still in the race). */
    size_t looking = 0;
    struct preferred_peer *best = NULL;
    for (size_t i = 0; i < st->npeers; i++) {
        struct preferred_peer *p = &st->peers[i];
        if (p->observer || !preferred_live(st, p, now))
            continue;
        looking++;
        if (p->state == ZKP_PEER_FOLLOWING)
            continue;
        if (best == NULL || preferred_better(p, best))
            best = p;
    }
    st->host->log(st->host, ZKP_LOG_DEBUG, "%zu of %zu participants heard", looking,
                  st->nvoters);
    if (looking <= st->nvoters / 2) {
        st->quorum_since = 0;
        return;
    }
    if (st->quorum_since == 0)
        st->quorum_since = now;
    if (best != NULL && (looking == st->nvoters || now - st->quorum_since >= PREFERRED_SETTLE_MS))
        preferred_finish(st, best->id);
}

static void preferred_tick(void *arg)
{
    struct preferred *st = arg;
    st->tick_timer = 0;
    if (!st->started)
        return;
    preferred_broadcast(st);
    if (st->looking)
        preferred_decide(st);
    st->tick_timer = st->host->timer_start(st->host, PREFERRED_TICK_MS, preferred_tick, st);
}

/* ------------------------------------------------------------------------- */
/* Election ops                                                              */

static int preferred_look_for_leader(void *state, const struct zkp_vote *own,
                                     zkp_election_done_cb done_cb, void *arg)
{
    struct preferred *st = state;
    if (!st->started || own == NULL || done_cb == NULL)
        return -EINVAL;
    if (st->looking)
        return -EBUSY;
    st->looking = true;
    st->quorum_since = 0;
    st->done_cb = done_cb;
    st->done_arg = arg;
    st->me->state = ZKP_PEER_LOOKING;
    st->me->leader = st->myid;
    st->me->zxid = own->zxid;
    st->me->epoch = own->peer_epoch;
    st->host->log(st->host, ZKP_LOG_INFO,
                  "looking: id %" PRId64 ", zxid 0x%" PRIx64 ", epoch %" PRId64
                  ", priority %" PRId64,
                  st->myid, (uint64_t)own->zxid, own->peer_epoch, st->me->priority);
    return 0; /* the next tick broadcasts and decides */
}

static void preferred_cancel(void *state)
{
    struct preferred *st = state;
    st->looking = false;
    st->done_cb = NULL;
}

static void preferred_set_current_vote(void *state, enum zkp_peer_state ps,
                                       const struct zkp_vote *vote)
{
    struct preferred *st = state;
    if (vote == NULL || st->looking)
        return;
    st->me->state = ps == ZKP_PEER_OBSERVING ? ZKP_PEER_FOLLOWING : (int32_t)ps;
    st->me->leader = vote->leader;
}

static const struct zkp_election_ops preferred_ops = {
    .size = sizeof(struct zkp_election_ops),
    .look_for_leader = preferred_look_for_leader,
    .cancel = preferred_cancel,
    .set_current_vote = preferred_set_current_vote,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                 */

static int preferred_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    /* The ABI 1.1 services this plugin needs: net_*, my_id, server_get. */
    if (host->size < offsetof(struct zkp_host, server_get) + sizeof host->server_get) {
        snprintf(err, errlen, "host service table too old (%u bytes): needs ABI 1.1",
                 host->size);
        return -ENOTSUP;
    }
    struct preferred *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->host = host;
    st->myid = host->my_id(host);
    for (size_t i = 0;; i++) {
        struct zkp_server s = {.size = sizeof s};
        if (host->server_get(host, i, &s) != 0)
            break;
        if (st->npeers == PREFERRED_MAX_SERVERS) {
            snprintf(err, errlen, "more than %d servers", PREFERRED_MAX_SERVERS);
            free(st);
            return -EINVAL;
        }
        struct preferred_peer *p = &st->peers[st->npeers++];
        p->id = s.id;
        snprintf(p->host, sizeof p->host, "%s", s.host);
        p->port = s.election_port;
        p->observer = s.observer != 0;
        if (!p->observer)
            st->nvoters++;
        char key[64];
        snprintf(key, sizeof key, "preferred.priority.%" PRId64, s.id);
        if (host->config_int(host, key, 0, &p->priority) < 0) {
            snprintf(err, errlen, "%s: not an integer", key);
            free(st);
            return -EINVAL;
        }
    }
    st->me = preferred_peer(st, st->myid);
    if (st->me == NULL) {
        snprintf(err, errlen, "myid %" PRId64 " has no server.%" PRId64 " line", st->myid,
                 st->myid);
        free(st);
        return -EINVAL;
    }
    *state = st;
    return 0;
}

static int preferred_start(void *state, char *err, size_t errlen)
{
    struct preferred *st = state;
    int rc = st->host->net_listen(st->host, st->me->host, st->me->port, -1, &preferred_events, st,
                                  &st->listener, err, errlen);
    if (rc < 0)
        return rc;
    st->tick_timer = st->host->timer_start(st->host, PREFERRED_TICK_MS, preferred_tick, st);
    st->started = true;
    return 0;
}

static void preferred_stop(void *state)
{
    struct preferred *st = state;
    st->started = false;
    st->looking = false;
    if (st->tick_timer != 0)
        st->host->timer_cancel(st->host, st->tick_timer);
    st->tick_timer = 0;
    /* Outbound links: close them (no callback follows) and free them. */
    for (size_t i = 0; i < st->npeers; i++) {
        struct preferred_link *l = st->peers[i].out;
        if (l != NULL) {
            st->host->net_close(st->host, l->conn, 0);
            free(l);
            st->peers[i].out = NULL;
        }
    }
    /* Accepted links and the listener: no callback comes after these calls,
     * so the contexts are ours to free. */
    while (st->inbound != NULL) {
        struct preferred_link *l = st->inbound;
        st->host->net_close(st->host, l->conn, 0);
        preferred_link_free(l);
    }
    if (st->listener != NULL)
        st->host->net_unlisten(st->host, st->listener);
    st->listener = NULL;
}

static void preferred_fini(void *state) { free(state); }

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_ELECTION,
    .name = "preferred",
    .version = "1.0",
    .description = "example: the live server with the newest data and the highest priority leads",
    .init = preferred_init,
    .start = preferred_start,
    .stop = preferred_stop,
    .fini = preferred_fini,
    .ops = &preferred_ops,
};
