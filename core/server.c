/*
 * Standalone server lifecycle, client connections, framing, sessions and the
 * durability barrier (see server.h for the pipeline).
 *
 * Entry points, in order: server_main -> server_init (config checks, plugins
 * loaded and initialised, tree created) -> server_start (plugins started,
 * storage restored, client port opened, timers armed) -> loop_run ->
 * server_stop -> server_fini.
 *
 * Connections: the transport owns sockets; struct conn is the core's side.
 * A conn is freed when the transport has reported on_close and no held reply
 * points at it any more (refs).
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "lua_host.h"
#include "metrics_server.h"
#include "quorum.h"
#include "registry.h"
#include "sasl.h"
#include "snapshot.h"
#include "stall.h"
#include "txn.h"

static void server_take_snapshot(struct server *srv);

static struct server *server_signal_target;
static volatile sig_atomic_t server_signal_count;

/* ---------------------------------------------------------------- sessions */

static size_t server_session_slot(const struct server *srv, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (srv->session_nbuckets - 1);
}

struct session *server_session_find(struct server *srv, int64_t id)
{
    for (struct session *s = srv->session_buckets[server_session_slot(srv, id)]; s; s = s->hash_next)
        if (s->id == id)
            return s;
    return NULL;
}

void session_generate_passwd(int64_t id, uint8_t out[16])
{
    /* java.util.Random seeded with id ^ 0xB3415C00, nextBytes(16): ZooKeeper's
     * password function, so any server of an ensemble computes the same. */
    const uint64_t mult = 0x5DEECE66DULL, mask = (1ULL << 48) - 1;
    uint64_t seed = ((uint64_t)id ^ 0xB3415C00ULL ^ mult) & mask;
    for (int i = 0; i < 16;) {
        seed = (seed * mult + 0xBULL) & mask;
        uint32_t v = (uint32_t)(seed >> 16);
        for (int n = 0; n < 4 && i < 16; n++, v >>= 8)
            out[i++] = (uint8_t)v;
    }
}

void server_session_touch(struct server *srv, struct session *s)
{
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    uint64_t when = loop_now_ms() + (uint64_t)s->timeout;
    s->expire_at = (when / tick + 1) * tick;
    s->touched = true;
}

struct session *server_session_add(struct server *srv, int64_t id, int32_t timeout)
{
    if (srv->nsessions >= srv->session_nbuckets) {
        size_t n = srv->session_nbuckets * 2;
        struct session **b = calloc(n, sizeof *b);
        if (b) {
            size_t old_n = srv->session_nbuckets;
            struct session **old = srv->session_buckets;
            srv->session_buckets = b;
            srv->session_nbuckets = n;
            for (size_t i = 0; i < old_n; i++) {
                struct session *s = old[i];
                while (s) {
                    struct session *next = s->hash_next;
                    size_t slot = server_session_slot(srv, s->id);
                    s->hash_next = b[slot];
                    b[slot] = s;
                    s = next;
                }
            }
            free(old);
        }
    }
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->id = id;
    s->timeout = timeout;
    session_generate_passwd(id, s->passwd);
    server_session_touch(srv, s);
    size_t slot = server_session_slot(srv, id);
    s->hash_next = srv->session_buckets[slot];
    srv->session_buckets[slot] = s;
    srv->nsessions++;
    return s;
}

void server_session_attach(struct server *srv, struct session *s, struct conn *c)
{
    if (s->conn && s->conn != c) {
        struct conn *old = s->conn;
        old->session = NULL;
        server_close_conn(srv, old, "session moved to another connection");
    }
    s->conn = c;
    c->session = s;
    server_session_touch(srv, s);
}

void server_session_remove(struct server *srv, struct session *s)
{
    struct session **link = &srv->session_buckets[server_session_slot(srv, s->id)];
    while (*link && *link != s)
        link = &(*link)->hash_next;
    if (*link)
        *link = s->hash_next;
    srv->nsessions--;
    if (s->conn)
        s->conn->session = NULL;
    free(s->ephemerals);
    free(s);
}

/* ------------------------------------------------------- durability barrier */

static void server_transmit(struct server *srv, struct conn *c, const uint8_t *data, size_t len, bool close_after)
{
    if (c->tc == NULL || c->closing)
        return;
    if (srv->tops->send(c->tc, data, len) < 0) {
        server_close_conn(srv, c, "cannot queue a reply");
        return;
    }
    c->stats.packets_sent++;
    srv->stats.packets_sent++;
    if (close_after) {
        c->closing = true;
        srv->tops->close(c->tc, 1);
    }
}

static void server_conn_unref(struct conn *c)
{
    if (--c->refs == 0)
        free(c);
}

void server_send(struct server *srv, struct conn *c, int64_t zxid, bool close_after)
{
    jute_writer *w = &srv->out;
    if (c->tc == NULL || c->closing)
        return; /* gone, or a leader's stand-in for a learner's client */
    if (w->oom) {
        server_close_conn(srv, c, "out of memory building a reply");
        return;
    }
    if (zxid <= server_release_zxid(srv)) {
        server_transmit(srv, c, w->data, w->len, close_after);
        return;
    }
    struct held_reply *h = malloc(sizeof *h + w->len);
    if (h == NULL) {
        server_close_conn(srv, c, "out of memory holding a reply");
        return;
    }
    h->next = NULL;
    h->conn = c;
    h->zxid = zxid;
    h->close_after = close_after;
    h->len = w->len;
    memcpy(h->data, w->data, w->len);
    c->refs++;
    if (srv->held_tail)
        srv->held_tail->next = h;
    else
        srv->held_head = h;
    srv->held_tail = h;
    srv->nheld++;
}

static void server_release_held(struct server *srv)
{
    int64_t release = server_release_zxid(srv);
    while (srv->held_head && srv->held_head->zxid <= release) {
        struct held_reply *h = srv->held_head;
        srv->held_head = h->next;
        if (srv->held_head == NULL)
            srv->held_tail = NULL;
        srv->nheld--;
        server_transmit(srv, h->conn, h->data, h->len, h->close_after);
        server_conn_unref(h->conn);
        free(h);
    }
}

static void server_sync_done(void *arg, int status, int64_t durable_zxid)
{
    struct server *srv = arg;
    if (status < 0) {
        log_error("storage could not make txns durable (%s); stopping: no write may be acknowledged",
                  strerror(-status));
        srv->exit_code = 1;
        loop_stop(srv->loop);
        return;
    }
    if (durable_zxid > srv->durable_zxid)
        srv->durable_zxid = durable_zxid;
    if (srv->qp)
        quorum_durable(srv);
    server_release_held(srv);
}

void server_committed(struct server *srv, int64_t zxid)
{
    if (zxid <= srv->committed_zxid)
        return;
    srv->committed_zxid = zxid;
    server_release_held(srv);
    if (srv->snapshot_deferred && srv->committed_zxid >= srv->last_zxid && !srv->stopping) {
        srv->snapshot_deferred = false;
        server_take_snapshot(srv);
    }
}

void server_drop_clients(struct server *srv, const char *why)
{
    while (srv->held_head) {
        struct held_reply *h = srv->held_head;
        srv->held_head = h->next;
        server_conn_unref(h->conn);
        free(h);
    }
    srv->held_tail = NULL;
    srv->nheld = 0;
    for (struct conn *c = srv->conns; c; c = c->next)
        server_close_conn(srv, c, why);
}

/* Before the loop sleeps: ask storage to sync what this iteration appended
 * (one sync for all of them: group commit). */
/* A client that sends requests without reading the replies must not make
 * the server queue without bound: past this many queued bytes its connection
 * stops being read until the queue drains below half of it. */
#define SERVER_MAX_QUEUED_BYTES (16u << 20)

static void server_resume_paused(struct server *srv)
{
    for (struct conn *c = srv->conns; c && srv->npaused > 0; c = c->next) {
        if (c->read_paused && c->tc && srv->tops->pending(c->tc) < SERVER_MAX_QUEUED_BYTES / 2) {
            c->read_paused = false;
            srv->npaused--;
            srv->tops->pause_read(c->tc, 0);
        }
    }
}

static void server_before_sleep(void *arg)
{
    struct server *srv = arg;
    if (srv->npaused > 0)
        server_resume_paused(srv);
    /* A new sync may start while an earlier one is still running: the storage
     * coalesces them, so writes that arrive during an fsync ride the next one
     * instead of waiting for the first to come back. */
    if (srv->appended_zxid > srv->sync_requested_zxid && !srv->stopping) {
        srv->sync_requested_zxid = srv->appended_zxid;
        int rc = srv->sops->sync(srv->storage->state, server_sync_done, srv);
        if (rc < 0)
            server_sync_done(srv, rc, 0);
    }
}

/* ------------------------------------------------------------------ replies */

void server_reply_begin(struct server *srv, int32_t xid, int64_t zxid, int32_t err)
{
    jute_writer *w = &srv->out;
    w->len = 0;
    w->oom = false;
    jute_write_int(w, 0);
    proto_write_reply_header(w, xid, zxid, err);
}

void server_reply_end(struct server *srv, struct conn *c, int64_t zxid, bool close_after)
{
    jute_patch_int(&srv->out, 0, (int32_t)(srv->out.len - 4));
    server_send(srv, c, zxid, close_after);
}

/* Hand an applied txn to storage (TxnHeader + record + digest); a storage
 * failure stops the server, as no write may be acknowledged after it. */
void server_log_txn(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn)
{
    jute_writer *w = &srv->txnbuf;
    w->len = 0;
    w->oom = false;
    proto_write_txn_header(w, hdr);
    proto_write_txn_body(w, txn);
    if (srv->tree->digest_enabled)
        proto_write_txn_digest(w, &(struct proto_txn_digest){.version = 2, .tree_digest = (int64_t)srv->tree->digest});
    char err[256] = "out of memory";
    if (w->oom || srv->sops->append(srv->storage->state, hdr->zxid, w->data, w->len, err, sizeof err) < 0) {
        log_error("cannot log txn 0x%llx: %s; stopping", (unsigned long long)hdr->zxid, err);
        srv->exit_code = 1;
        srv->stopping = true;
        loop_stop(srv->loop);
        return;
    }
    srv->appended_zxid = hdr->zxid;
    if (srv->qp)
        quorum_txn_logged(srv, hdr->zxid, w->data, w->len);
    server_txn_logged(srv);
}

int server_apply_logged(struct server *srv, int64_t zxid, const uint8_t *data, size_t len,
                        int32_t *result, struct txn_result *res)
{
    jute_reader r;
    jute_reader_init(&r, data, len, 0);
    struct proto_txn_header hdr;
    struct proto_txn txn;
    if (proto_read_txn_header(&r, &hdr) < 0 || hdr.zxid != zxid || proto_read_txn_body(&r, hdr.type, &txn) < 0) {
        log_error("txn 0x%llx from the leader cannot be decoded", (unsigned long long)zxid);
        return -EBADMSG;
    }
    char err[256] = "out of memory";
    if (srv->sops->append(srv->storage->state, zxid, data, len, err, sizeof err) < 0) {
        log_error("cannot log txn 0x%llx: %s; stopping", (unsigned long long)zxid, err);
        proto_txn_free(&txn);
        srv->exit_code = 1;
        srv->stopping = true;
        loop_stop(srv->loop);
        return -EIO;
    }
    srv->appended_zxid = zxid;
    struct txn_events ev = {0};
    int32_t rc = txn_apply(srv, &hdr, &txn, res, &ev);
    srv->last_zxid = zxid;
    txn_fire_events(srv, &ev);
    txn_events_free(&ev);
    proto_txn_free(&txn);
    if (result)
        *result = rc;
    server_txn_logged(srv);
    return 0;
}

/* Log a txn and apply it (see server.h). */
int server_commit_txn(struct server *srv, struct proto_txn_header *hdr, struct proto_txn *txn,
                      struct txn_result *res)
{
    hdr->zxid = server_next_zxid(srv);
    hdr->time = loop_wall_ms();
    struct txn_events ev = {0};
    int rc = txn_apply(srv, hdr, txn, res, &ev);
    srv->last_zxid = hdr->zxid;
    log_debug("txn 0x%llx type %d session 0x%llx cxid %d: %d", (unsigned long long)hdr->zxid, hdr->type,
              (unsigned long long)hdr->client_id, hdr->cxid, rc);

    server_log_txn(srv, hdr, txn);
    txn_fire_events(srv, &ev);
    txn_events_free(&ev);
    return rc;
}

/* -------------------------------------------------------------- connections */

void server_close_conn(struct server *srv, struct conn *c, const char *why)
{
    if (c->closing || c->tc == NULL)
        return;
    if (why && c->session)
        log_info("closing connection from %s:%d session 0x%llx: %s", c->ip, c->port,
                 (unsigned long long)c->session->id, why);
    else if (why)
        log_info("closing connection from %s:%d: %s", c->ip, c->port, why);
    c->closing = true;
    srv->tops->close(c->tc, 1);
}

static void *server_on_accept(void *arg, zkp_conn *tc, const char *ip, int port)
{
    struct server *srv = arg;
    if (srv->stopping)
        return NULL;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->tc = tc;
    c->refs = 1;
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    c->port = port;
    c->accepted_ms = loop_now_ms();
    c->stats.established = loop_wall_ms();
    c->stats.last_op = "NA";
    c->stats.min_latency = INT64_MAX;
    c->stats.last_cxid = -1;
    c->stats.last_zxid = -1;
    if (acl_auth_add_id(&c->auth, "ip", ip) < 0) {
        free(c);
        return NULL;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    return c;
}

static void server_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct conn *c = ctx;
    struct server *srv = c->srv;
    (void)reason;
    if (srv->qp)
        quorum_conn_closed(srv, c);
    if (c->session && c->session->conn == c)
        c->session->conn = NULL;
    c->session = NULL;
    if (c->read_paused) {
        c->read_paused = false;
        srv->npaused--;
    }
    watch_remove_watcher(&c->watcher);
    acl_auth_free(&c->auth);
    zsasl_conn_free(c->sasl);
    c->sasl = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    c->tc = NULL;
    c->closing = true;
    server_conn_unref(c);
}

#define SERVER_FOURLW_STMK 0x73746d6bu

static size_t server_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct conn *c = ctx;
    struct server *srv = c->srv;
    size_t consumed = 0;
    srv->stats.bytes_received_count += (int64_t)len;
    while (consumed < len) {
        if (c->closing)
            return len; /* discard whatever else arrives */
        size_t avail = len - consumed;
        if (avail < 4) {
            *need = 4;
            break;
        }
        const uint8_t *p = data + consumed;
        uint32_t code = jute_get_u32(p);
        if (!c->initialized && c->stats.packets_received == 0 && fourlw_is_command(code)) {
            if (code == SERVER_FOURLW_STMK && avail < 12) {
                *need = 12;
                break;
            }
            jute_writer *w = &srv->out;
            w->len = 0;
            w->oom = false;
            if (code == SERVER_FOURLW_STMK)
                fourlw_run_with_arg(srv, c, code, p + 4, 8, w);
            else
                fourlw_run(srv, c, code, w);
            /* Four-letter words are answered at once, outside the barrier,
             * as ZooKeeper does: they report state, they change none. */
            if (!w->oom && w->len)
                srv->tops->send(c->tc, w->data, w->len);
            c->closing = true;
            srv->tops->close(c->tc, 1);
            return len;
        }
        int32_t frame = (int32_t)code;
        if (frame < 0 || frame > server_max_packet(srv)) {
            char why[160];
            snprintf(why, sizeof why,
                     "packet length %d is out of range (jute.maxbuffer=%lld)", frame,
                     (long long)server_max_packet(srv));
            srv->stats.large_requests_rejected += frame > 0;
            server_close_conn(srv, c, why);
            return len;
        }
        if (avail - 4 < (size_t)frame) {
            *need = 4 + (size_t)frame;
            break;
        }
        c->stats.packets_received++;
        srv->stats.packets_received++;
        if (srv->qp && !quorum_serving(srv)) {
            server_close_conn(srv, c, "ZooKeeperServer not running");
            return len;
        }
        if (!c->initialized)
            request_connect(srv, c, p + 4, (size_t)frame);
        else if (!request_enforce_auth(srv, c, p + 4, (size_t)frame)) {
            /* refused before it is processed or forwarded; closing */
        } else if (!srv->qp || !quorum_client_packet(srv, c, p + 4, (size_t)frame))
            request_process(srv, c, p + 4, (size_t)frame);
        consumed += 4 + (size_t)frame;
        if (c->tc && !c->closing && srv->tops->pending(c->tc) > SERVER_MAX_QUEUED_BYTES) {
            c->read_paused = true;
            srv->npaused++;
            srv->tops->pause_read(c->tc, 1);
            break;
        }
    }
    return consumed;
}

const struct zkp_transport_events server_client_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_accept = server_on_accept,
    .on_data = server_on_data,
    .on_close = server_on_close,
};

/* ------------------------------------------------------------------- timers */

static void server_arm_tick(struct server *srv);

static void server_tick(void *arg)
{
    struct server *srv = arg;
    srv->tick_timer = 0;
    uint64_t now = loop_now_ms();
    /* Expire sessions whose deadline passed. Collect first: closing a session
     * changes the table. */
    size_t nexpired = 0, cap = 0;
    int64_t *expired = NULL;
    /* In an ensemble the serving leader alone expires sessions (learners
     * report their clients' activity to it); a read-only server expires
     * its own local sessions. */
    bool expire_global = srv->qp == NULL || (srv->qp->leader && srv->qp->serving);
    bool expire_local = srv->qp && srv->qp->read_only;
    for (size_t b = 0; (expire_global || expire_local) && b < srv->session_nbuckets; b++) {
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next) {
            if (s->expire_at <= now && !s->closing && (s->local ? expire_local : expire_global)) {
                if (nexpired == cap) {
                    cap = cap ? cap * 2 : 16;
                    int64_t *e = realloc(expired, cap * sizeof *e);
                    if (e == NULL)
                        break;
                    expired = e;
                }
                expired[nexpired++] = s->id;
            }
        }
    }
    for (size_t i = 0; i < nexpired; i++) {
        struct session *s = server_session_find(srv, expired[i]);
        if (s == NULL)
            continue;
        log_info("Expiring session 0x%llx, timeout of %dms exceeded", (unsigned long long)s->id, s->timeout);
        struct conn *c = s->conn;
        if (srv->hooks && srv->hooks->session_event)
            srv->hooks->session_event(srv->hooks_ctx, s->id, HOOKS_SESSION_EXPIRED);
        if (s->local) {
            if (c)
                c->session = NULL;
            server_session_remove(srv, s);
        } else {
            request_close_session(srv, s, NULL, 0);
        }
        if (c)
            server_close_conn(srv, c, NULL);
    }
    free(expired);
    /* Connections that never sent a ConnectRequest. */
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (!c->initialized && !c->closing &&
            now - c->accepted_ms >= (uint64_t)srv->cfg->nio_sessionless_cnxn_timeout_ms) {
            srv->stats.sessionless_connections_expired++;
            server_close_conn(srv, c, "no session established in time");
        }
    }
    server_arm_tick(srv);
}

static void server_arm_tick(struct server *srv)
{
    if (srv->stopping)
        return;
    uint64_t tick = (uint64_t)srv->cfg->tick_time;
    uint64_t now = loop_now_ms();
    uint64_t next = (now / tick + 1) * tick;
    srv->tick_timer = loop_timer_start(srv->loop, next - now, server_tick, srv);
}

static void server_reaper(void *arg)
{
    struct server *srv = arg;
    srv->reaper_timer = 0;
    /* Like session expiry, the leader's job in an ensemble. */
    if (srv->qp == NULL || (srv->qp->leader && srv->qp->serving))
        request_reap_containers(srv);
    if (!srv->stopping)
        srv->reaper_timer = loop_timer_start(srv->loop, (uint64_t)srv->cfg->container_check_interval_ms,
                                             server_reaper, srv);
}

/* ------------------------------------------------------------------ restore */

static int server_restore_snapshot(void *arg, int64_t zxid, const uint8_t *body, size_t len)
{
    struct server *srv = arg;
    char err[256];
    int rc = snapshot_load(srv, zxid, body, len, err, sizeof err);
    if (rc < 0) {
        log_warn("snapshot 0x%llx: %s", (unsigned long long)zxid, err);
        return rc;
    }
    srv->last_zxid = zxid;
    srv->last_snapshot_zxid = zxid;
    srv->last_snapshot_time = loop_wall_ms() / 1000;
    log_info("loaded snapshot 0x%llx: %zu znodes, %zu sessions", (unsigned long long)zxid, srv->tree->count,
             srv->nsessions);
    return 0;
}

/* Ephemerals whose session did not survive (no session in the snapshot or
 * the log) go at start-up, as ZooKeeper's loadData kills dead sessions. */
static int server_collect_orphans(void *arg, struct znode *z)
{
    struct server *srv = ((void **)arg)[0];
    struct znode ***list = ((void **)arg)[1];
    if (tree_node_kind(srv->tree, z) == TREE_NODE_EPHEMERAL && server_session_find(srv, z->ephemeral_owner) == NULL)
        *(*list)++ = z;
    return 0;
}

static void server_remove_orphan_ephemerals(struct server *srv)
{
    struct znode **all = malloc(srv->tree->count * sizeof *all);
    if (all == NULL)
        return;
    struct znode **cursor = all;
    void *arg[2] = {srv, &cursor};
    tree_walk(srv->tree->root, server_collect_orphans, arg);
    for (struct znode **p = all; p < cursor; p++)
        if ((*p)->nchildren == 0)
            tree_remove(srv->tree, *p);
    if (cursor > all)
        log_info("removed %zu ephemeral znodes of sessions that no longer exist", (size_t)(cursor - all));
    free(all);
}

/* ---------------------------------------------------------------- snapshots */

/* ZooKeeper's randomised trigger: snapCount/2 + random(snapCount/2) txns. */
static void server_schedule_snapshot(struct server *srv)
{
    int64_t half = srv->cfg->snap_count / 2;
    if (half < 1)
        half = 1;
    srv->snapshot_due = half + (int64_t)((uint64_t)random() % (uint64_t)half);
    srv->txns_since_snapshot = 0;
}

struct server_snapshot_sink {
    const struct zkp_storage_ops *sops;
    zkp_snapshot_writer *w;
};

static int server_snapshot_flush(void *arg, const uint8_t *data, size_t len)
{
    struct server_snapshot_sink *sink = arg;
    return sink->sops->snapshot_write(sink->w, data, len);
}

/* Write the current state as snapshot zxid through the storage plugin. */
static int server_write_snapshot(struct server *srv, int64_t zxid, char *err, size_t errlen)
{
    struct server_snapshot_sink sink = {.sops = srv->sops};
    int rc = srv->sops->snapshot_open(srv->storage->state, zxid, &sink.w, err, errlen);
    if (rc < 0)
        return rc;
    rc = snapshot_stream(srv, server_snapshot_flush, &sink);
    if (rc < 0) {
        snprintf(err, errlen, "writing the snapshot stream failed: %s", strerror(-rc));
        srv->sops->snapshot_abort(sink.w);
        return rc;
    }
    return srv->sops->snapshot_commit(sink.w, err, errlen);
}

static bool server_snapshot_fork_safe(const struct server *srv)
{
    return srv->sops->size >= offsetof(struct zkp_storage_ops, flags) + sizeof(uint32_t) &&
           (srv->sops->flags & ZKP_STORAGE_SNAPSHOT_FORK_SAFE);
}

static void server_snapshot_result(struct server *srv, int rc, const char *err)
{
    if (rc == -ENOTSUP) {
        srv->snapshots_unsupported = true;
        log_info("storage plugin %s keeps no snapshots: %s", srv->storage->desc->name, err);
    } else if (rc < 0) {
        log_error("snapshot 0x%llx failed: %s", (unsigned long long)srv->snapshot_zxid, err);
    } else {
        srv->last_snapshot_zxid = srv->snapshot_zxid;
        srv->last_snapshot_time = loop_wall_ms() / 1000;
        log_info("snapshot 0x%llx written: %zu znodes in %llu ms", (unsigned long long)srv->snapshot_zxid,
                 srv->tree->count, (unsigned long long)(loop_now_ms() - srv->snapshot_started_ms));
    }
}

/* The background writer exits 0 (done), 3 (storage keeps no snapshots) or
 * 1 (failed; it logged why). */
static void server_snapshot_reap(struct server *srv, bool block)
{
    int status;
    pid_t r = waitpid(srv->snapshot_pid, &status, block ? 0 : WNOHANG);
    if (r == 0)
        return;
    srv->snapshot_pid = 0;
    int code = r < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code == 0)
        server_snapshot_result(srv, 0, "");
    else if (code == 3)
        server_snapshot_result(srv, -ENOTSUP, "snapshots not supported");
    else
        log_error("background snapshot 0x%llx failed (%s %d)", (unsigned long long)srv->snapshot_zxid,
                  r > 0 && WIFSIGNALED(status) ? "signal" : "exit status",
                  r > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : code);
}

static void server_snapshot_poll(void *arg)
{
    struct server *srv = arg;
    srv->snapshot_timer = 0;
    server_snapshot_reap(srv, false);
    if (srv->snapshot_pid > 0 && !srv->stopping)
        srv->snapshot_timer = loop_timer_start(srv->loop, 50, server_snapshot_poll, srv);
}

/* Snapshot the current state. With a storage plugin that allows it, a forked
 * child writes it (a consistent point-in-time copy through copy-on-write
 * pages) while this process keeps serving; otherwise it is written here. */
static void server_take_snapshot(struct server *srv)
{
    if (srv->snapshots_unsupported || srv->snapshot_pid > 0)
        return;
    /* A snapshot never holds a txn a quorum has not committed: such a txn
     * may still be truncated away by the next leader. */
    if (srv->committed_zxid < srv->last_zxid) {
        srv->snapshot_deferred = true;
        return;
    }
    srv->snapshot_zxid = srv->last_zxid;
    srv->snapshot_started_ms = loop_now_ms();
    char err[256] = "";
    if (server_snapshot_fork_safe(srv)) {
        pid_t pid = fork();
        if (pid == 0) {
            log_set_role("snapshot");
            /* Serving comes first: the writer yields the CPU to it. */
            errno = 0;
            if (nice(10) == -1 && errno != 0)
                log_debug("snapshot writer: nice: %s", strerror(errno));
            int rc = server_write_snapshot(srv, srv->snapshot_zxid, err, sizeof err);
            if (rc < 0 && rc != -ENOTSUP)
                log_error("snapshot 0x%llx failed: %s", (unsigned long long)srv->snapshot_zxid, err);
            _exit(rc == -ENOTSUP ? 3 : rc < 0 ? 1 : 0);
        }
        if (pid > 0) {
            uint64_t fork_ms = loop_now_ms() - srv->snapshot_started_ms;
            if (fork_ms > 10)
                log_info("snapshot 0x%llx: forking the writer took %llu ms", (unsigned long long)srv->snapshot_zxid,
                         (unsigned long long)fork_ms);
            srv->snapshot_pid = pid;
            srv->snapshot_timer = loop_timer_start(srv->loop, 50, server_snapshot_poll, srv);
            return;
        }
        log_warn("cannot fork a snapshot writer (%s); writing the snapshot in the foreground", strerror(errno));
    }
    int rc = server_write_snapshot(srv, srv->snapshot_zxid, err, sizeof err);
    server_snapshot_result(srv, rc, err);
}

/* autopurge: keep the newest autopurge.snapRetainCount snapshots and the logs
 * they need, every autopurge.purgeInterval hours (first run at start). */
static void server_purge(void *arg)
{
    struct server *srv = arg;
    srv->purge_timer = 0;
    char err[256] = "";
    int rc = srv->sops->purge(srv->storage->state, srv->cfg->autopurge_snap_retain_count, err, sizeof err);
    if (rc < 0)
        log_warn("purge failed: %s", err);
    if (!srv->stopping)
        srv->purge_timer = loop_timer_start(srv->loop, (uint64_t)srv->cfg->autopurge_purge_interval * 3600000u,
                                            server_purge, srv);
}

void server_txn_logged(struct server *srv)
{
    if (++srv->txns_since_snapshot >= srv->snapshot_due) {
        server_schedule_snapshot(srv);
        server_take_snapshot(srv);
    }
}

static int server_restore_txn(void *arg, int64_t zxid, const uint8_t *data, size_t len)
{
    struct server *srv = arg;
    jute_reader r;
    jute_reader_init(&r, data, len, 0);
    struct proto_txn_header hdr;
    struct proto_txn txn;
    if (proto_read_txn_header(&r, &hdr) < 0 || proto_read_txn_body(&r, hdr.type, &txn) < 0) {
        log_error("txn 0x%llx cannot be decoded", (unsigned long long)zxid);
        return -EBADMSG;
    }
    struct txn_result res = {0};
    txn_apply(srv, &hdr, &txn, &res, NULL);
    txn_result_free(&res);
    proto_txn_free(&txn);
    if (zxid > srv->last_zxid)
        srv->last_zxid = zxid;
    return 0;
}

/* --------------------------------------------------------------- lifecycle */

/* ZooKeeper counts the root twice (as "" and "/"); so does znode_count. */
static int64_t server_gauge_znodes(void *arg) { return (int64_t)((struct server *)arg)->tree->count + 1; }
static int64_t server_gauge_sessions(void *arg) { return (int64_t)((struct server *)arg)->nsessions; }
static int64_t server_gauge_conns(void *arg) { return (int64_t)((struct server *)arg)->nconns; }
/* ZooKeeper's DataTree holds the root twice (as "" and "/"): one byte more. */
static int64_t server_gauge_data_size(void *arg) { return ((struct server *)arg)->tree->data_size + 1; }
static int64_t server_gauge_watches(void *arg)
{
    struct server *srv = arg;
    return (int64_t)(srv->data_watches.nwatches + srv->child_watches.nwatches);
}
static int64_t server_gauge_uptime(void *arg) { return (int64_t)(loop_now_ms() - ((struct server *)arg)->start_ms); }

static void server_register_metrics(struct server *srv)
{
    metrics_register_fn("znode_count", server_gauge_znodes, srv);
    metrics_register_fn("global_sessions", server_gauge_sessions, srv);
    metrics_register_fn("num_alive_connections", server_gauge_conns, srv);
    metrics_register_fn("approximate_data_size", server_gauge_data_size, srv);
    metrics_register_fn("watch_count", server_gauge_watches, srv);
    metrics_register_fn("uptime", server_gauge_uptime, srv);
    metrics_register("packets_received", ZKP_METRIC_COUNTER, &srv->stats.packets_received);
    metrics_register("packets_sent", ZKP_METRIC_COUNTER, &srv->stats.packets_sent);
    metrics_register("auth_failed_count", ZKP_METRIC_COUNTER, &srv->stats.auth_failed_count);
    metrics_register("bytes_received_count", ZKP_METRIC_COUNTER, &srv->stats.bytes_received_count);
    metrics_register("sessionless_connections_expired", ZKP_METRIC_COUNTER,
                     &srv->stats.sessionless_connections_expired);
    metrics_register("large_requests_rejected", ZKP_METRIC_COUNTER, &srv->stats.large_requests_rejected);
    metrics_register("digest_mismatches_count", ZKP_METRIC_COUNTER, &srv->stats.digest_mismatches_count);
}

int server_init(struct server *srv, struct zk_config *cfg, const char *plugin_dir, char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    srv->cfg = cfg;
    srv->server_id = cfg->myid > 0 ? cfg->myid : 1;
    srv->committed_zxid = INT64_MAX;
    srv->last_snapshot_zxid = srv->last_snapshot_time = -1;
    srv->trace_mask = 306;
    srv->stats.last_client_response_size = -1;
    srv->stats.min_client_response_size = -1;
    srv->stats.max_client_response_size = -1;
    srv->start_ms = loop_now_ms();
    srv->plugin_dir = strdup(plugin_dir);
    srv->loop = loop_new();
    srv->session_nbuckets = 256;
    srv->session_buckets = calloc(srv->session_nbuckets, sizeof *srv->session_buckets);
    srv->tree = tree_new(cfg->digest_enabled, cfg->extended_types_enabled);
    if (srv->plugin_dir == NULL || srv->loop == NULL || srv->session_buckets == NULL || srv->tree == NULL ||
        watch_table_init(&srv->data_watches) < 0 || watch_table_init(&srv->child_watches) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    jute_writer_init(&srv->out, 4096);
    jute_writer_init(&srv->txnbuf, 4096);
    /* ZooKeeper's session id seed: server id in the top byte, then the low
     * 40 bits of a millisecond clock, low 16 bits zero. */
    srv->next_session_id = (int64_t)(((uint64_t)srv->server_id << 56) |
                                     (((uint64_t)loop_now_ms() << 24) >> 8));
    if (srv->next_session_id == INT64_MIN)
        srv->next_session_id++;

    /* Registered before any plugin's hook: the sync this hook requests is then
     * seen by the storage plugin's own before-sleep work in the same pass. */
    loop_before_sleep(srv->loop, server_before_sleep, srv);

    const char *names[2] = {cfg->plugin_transport, cfg->plugin_storage};
    enum zkp_kind kinds[2] = {ZKP_KIND_TRANSPORT, ZKP_KIND_STORAGE};
    struct plugin_instance **slots[2] = {&srv->transport, &srv->storage};
    for (int i = 0; i < 2; i++) {
        int rc = plugin_load(plugin_dir, names[i], kinds[i], srv->loop, cfg, slots[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    srv->tops = plugin_ops(srv->transport);
    srv->sops = plugin_ops(srv->storage);
    server_register_metrics(srv);
    return 0;
}

static int server_restore(struct server *srv, char *err, size_t errlen)
{
    struct zkp_restore_sink sink = {
        .size = sizeof sink,
        .snapshot = server_restore_snapshot,
        .txn = server_restore_txn,
    };
    int64_t last = 0;
    char perr[256] = "";
    int rc = srv->sops->restore(srv->storage->state, &sink, srv, &last, perr, sizeof perr);
    if (rc < 0) {
        snprintf(err, errlen, "restoring the database failed: %s", perr);
        return rc;
    }
    if (last > srv->last_zxid)
        srv->last_zxid = last;
    srv->appended_zxid = srv->durable_zxid = srv->sync_requested_zxid = srv->last_zxid;
    return 0;
}

int server_reload_database(struct server *srv, char *err, size_t errlen)
{
    struct tree *t = tree_new(srv->cfg->digest_enabled, srv->cfg->extended_types_enabled);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t b = 0; b < srv->session_nbuckets; b++) {
        struct session *s = srv->session_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            if (s->conn)
                s->conn->session = NULL;
            free(s->ephemerals);
            free(s);
            s = next;
        }
        srv->session_buckets[b] = NULL;
    }
    srv->nsessions = 0;
    tree_free(srv->tree);
    srv->tree = t;
    srv->last_zxid = 0;
    int rc = server_restore(srv, err, errlen);
    if (rc == 0)
        log_info("reloaded the database: last zxid 0x%llx, %zu znodes, %zu sessions",
                 (unsigned long long)srv->last_zxid, srv->tree->count, srv->nsessions);
    return rc;
}

int server_snapshot_now(struct server *srv, char *err, size_t errlen)
{
    if (srv->snapshots_unsupported)
        return 0;
    if (srv->snapshot_pid > 0)
        server_snapshot_reap(srv, true);
    srv->snapshot_zxid = srv->last_zxid;
    srv->snapshot_started_ms = loop_now_ms();
    int rc = server_write_snapshot(srv, srv->last_zxid, err, errlen);
    server_snapshot_result(srv, rc, err);
    if (rc == -ENOTSUP)
        rc = 0;
    if (rc == 0) {
        srv->snapshot_deferred = false;
        server_schedule_snapshot(srv);
    }
    return rc;
}

bool server_serving(const struct server *srv)
{
    return srv->serving && quorum_serving(srv);
}

int64_t server_new_session_id(struct server *srv)
{
    int64_t id;
    do
        id = srv->next_session_id++;
    while (id == 0 || server_session_find(srv, id) != NULL);
    return id;
}

int server_start(struct server *srv, char *err, size_t errlen)
{
    int rc = plugin_start(srv->storage, err, errlen);
    if (rc < 0)
        return rc;
    rc = server_restore(srv, err, errlen);
    if (rc < 0)
        return rc;
    /* In an ensemble nothing restored counts as committed until a leader
     * says so (the log's tail may be a txn no quorum accepted). */
    if (srv->qp)
        srv->committed_zxid = 0;
    server_remove_orphan_ephemerals(srv);
    server_schedule_snapshot(srv);
    /* As ZooKeeper does at start: a snapshot of the restored state, so the
     * data directory always holds one (ZooKeeper refuses a log without). */
    server_take_snapshot(srv);
    if (srv->cfg->autopurge_purge_interval > 0)
        server_purge(srv);
    /* Sessions restored from the log get a full timeout from now. New ids
     * must not collide with them: the clock the id seed comes from restarts
     * at boot, so start above the highest restored id of this server. */
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next) {
            server_session_touch(srv, s);
            if ((uint64_t)s->id >> 56 == (uint64_t)srv->server_id && s->id >= srv->next_session_id)
                srv->next_session_id = s->id + 1;
        }

    rc = plugin_start(srv->transport, err, errlen);
    if (rc < 0)
        return rc;
    if (srv->cfg->client_port <= 0) {
        snprintf(err, errlen, "%s: clientPort is not set", srv->cfg->path ? srv->cfg->path : "zoo.cfg");
        return -EINVAL;
    }
    rc = srv->tops->listen(srv->transport->state, srv->cfg->client_port_address, srv->cfg->client_port,
                           srv->cfg->client_port_listen_backlog, &server_client_events, srv, &srv->listener,
                           err, errlen);
    if (rc < 0)
        return rc;
    server_arm_tick(srv);
    srv->reaper_timer = loop_timer_start(srv->loop, (uint64_t)srv->cfg->container_check_interval_ms,
                                         server_reaper, srv);
    srv->serving = true;
    rc = metrics_server_open(srv, err, errlen);
    if (rc < 0)
        return rc;
    if (srv->qp) {
        rc = quorum_start(srv, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (srv->hooks && srv->hooks->server_started)
        srv->hooks->server_started(srv->hooks_ctx, srv);
    log_info("binding to port %s:%d", srv->cfg->client_port_address ? srv->cfg->client_port_address : "0.0.0.0",
             srv->tops->listener_port(srv->listener));
    return 0;
}

void server_stop(struct server *srv)
{
    if (srv->serving && srv->hooks && srv->hooks->server_stopping)
        srv->hooks->server_stopping(srv->hooks_ctx, srv);
    metrics_server_close(srv);
    srv->stopping = true;
    srv->serving = false;
    if (srv->tick_timer)
        loop_timer_cancel(srv->loop, srv->tick_timer);
    if (srv->reaper_timer)
        loop_timer_cancel(srv->loop, srv->reaper_timer);
    if (srv->purge_timer)
        loop_timer_cancel(srv->loop, srv->purge_timer);
    if (srv->snapshot_timer)
        loop_timer_cancel(srv->loop, srv->snapshot_timer);
    if (srv->snapshot_pid > 0) {
        /* The writer renames its file into place only when complete, and the
         * storage removes a leftover temporary at the next start: stopping
         * it loses nothing (the previous snapshot and the log still hold
         * everything) and keeps shutdown quick. */
        log_info("stopping the snapshot writer (pid %ld)", (long)srv->snapshot_pid);
        kill(srv->snapshot_pid, SIGKILL);
        int status;
        waitpid(srv->snapshot_pid, &status, 0);
        srv->snapshot_pid = 0;
    }
    if (srv->listener) {
        srv->tops->unlisten(srv->transport->state, srv->listener);
        srv->listener = NULL;
    }
    quorum_stop(srv);
    plugin_stop(srv->transport);
    plugin_stop(srv->storage);
}

void server_fini(struct server *srv)
{
    quorum_fini(srv);
    plugin_unload(srv->transport);
    plugin_unload(srv->storage);
    srv->transport = srv->storage = NULL;
    /* Connections the transport dropped silently at stop. */
    while (srv->conns) {
        struct conn *c = srv->conns;
        srv->conns = c->next;
        watch_remove_watcher(&c->watcher);
        acl_auth_free(&c->auth);
        zsasl_conn_free(c->sasl);
        c->tc = NULL;
        c->refs = 1;
        server_conn_unref(c);
    }
    while (srv->held_head) {
        struct held_reply *h = srv->held_head;
        srv->held_head = h->next;
        free(h);
    }
    for (size_t b = 0; b < srv->session_nbuckets; b++) {
        struct session *s = srv->session_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            free(s->ephemerals);
            free(s);
            s = next;
        }
    }
    free(srv->session_buckets);
    watch_table_fini(&srv->data_watches);
    watch_table_fini(&srv->child_watches);
    free(srv->hits.items);
    tree_free(srv->tree);
    jute_writer_free(&srv->out);
    jute_writer_free(&srv->txnbuf);
    loop_free(srv->loop);
    free(srv->plugin_dir);
    metrics_clear();
}

static void server_on_signal(int sig)
{
    (void)sig;
    if (++server_signal_count > 1)
        _exit(1);
    if (server_signal_target)
        loop_stop(server_signal_target->loop);
}

int server_main(const char *cfg_path, const char *plugin_dir, int verbose)
{
    if (verbose)
        log_set_level(ZKP_LOG_DEBUG);
    log_set_role("standalone");
    char err[1024] = "";
    struct zk_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (config_load(cfg_path, &cfg, err, sizeof err) < 0) {
        log_error("%s", err);
        return 2;
    }
    bool ensemble = !config_is_standalone(&cfg);
    if (ensemble) {
        int64_t myid = 0;
        if (config_read_myid(&cfg, &myid, err, sizeof err) < 0 || config_apply_myid(&cfg, myid, err, sizeof err) < 0) {
            log_error("%s", err);
            config_free(&cfg);
            return 2;
        }
        log_set_myid(myid);
        log_set_role("looking");
    }
    /* The Lua config hook runs before anything starts and may reject. */
    struct luahost *lua = NULL;
    if (luahost_open(&cfg, &lua, err, sizeof err) < 0) {
        log_error("%s", err);
        config_free(&cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct server srv;
    int rc = server_init(&srv, &cfg, plugin_dir, err, sizeof err);
    if (rc == 0 && ensemble)
        rc = quorum_init(&srv, err, sizeof err);
    if (rc == 0)
        rc = luahost_attach(lua, &srv, err, sizeof err);
    if (rc == 0)
        rc = server_start(&srv, err, sizeof err);
    if (rc < 0) {
        log_error("%s", err);
        server_stop(&srv);
        luahost_close(lua);
        server_fini(&srv);
        config_free(&cfg);
        return 1;
    }
    log_info("zkplug %s (ZooKeeper %s protocol) serving on port %d, dataDir %s", ZKPLUG_VERSION,
             ZKPLUG_ZK_VERSION, srv.tops->listener_port(srv.listener), cfg.data_dir ? cfg.data_dir : "-");
    server_signal_target = &srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = server_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    stall_start(srv.loop, &cfg);
    rc = loop_run(srv.loop);
    stall_stop();
    if (rc < 0)
        log_error("event loop failed: %s", strerror(-rc));
    log_info("shutting down");
    server_stop(&srv);
    luahost_close(lua);
    int code = srv.exit_code;
    server_signal_target = NULL;
    server_fini(&srv);
    config_free(&cfg);
    return code;
}
