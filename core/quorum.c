/*
 * The quorum peer lifecycle (see quorum.h): verifier, epoch files, the
 * election plugin, role changes, read-only mode.
 */
#include "quorum.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "log.h"
#include "reconfig.h"
#include "server.h"

/* ZooKeeper's QuorumPeer: a LOOKING peer waits this long before it starts
 * serving read-only clients (max(2 s, tickTime)). */
#define QUORUM_RO_GRACE_MS 2000

static void quorum_look(struct quorum_peer *qp);

/* ------------------------------------------------------------- verifier */

static int quorum_read_verifier(struct quorum_peer *qp, char *err, size_t errlen)
{
    const struct zk_config *cfg = qp->srv->cfg;
    fle_quorum_init(&qp->verifier);
    for (size_t i = 0; i < cfg->nservers; i++) {
        const struct config_server *s = &cfg->servers[i];
        int rc = fle_quorum_add_server(&qp->verifier, s->id, s->host, s->quorum_port, s->election_port,
                                       s->type == CONFIG_OBSERVER, s->client_host, s->client_port);
        if (rc < 0) {
            snprintf(err, errlen, "%s: server.%" PRId64 ": %s", cfg->path ? cfg->path : "zoo.cfg", s->id,
                     rc == -EEXIST ? "listed twice" : strerror(-rc));
            return rc;
        }
    }
    for (size_t i = 0; i < cfg->nentries; i++) {
        const struct config_entry *e = &cfg->entries[i];
        char why[256];
        int rc = fle_quorum_set_entry(&qp->verifier, e->key, e->value, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "%s:%d: %s", e->file, e->line, why);
            return rc;
        }
    }
    return fle_quorum_finish(&qp->verifier, err, errlen);
}

/* ------------------------------------------------------------- lifecycle */

int quorum_init(struct server *srv, char *err, size_t errlen)
{
    struct zk_config *cfg = srv->cfg;
    struct quorum_peer *qp = calloc(1, sizeof *qp);
    if (qp == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    srv->qp = qp;
    qp->srv = srv;
    qp->myid = cfg->myid;
    qp->state = ZKP_PEER_LOOKING;
    int rc = quorum_read_verifier(qp, err, errlen);
    if (rc < 0)
        return rc;
    const struct fle_member *me = fle_quorum_member(&qp->verifier, qp->myid);
    if (me == NULL) {
        snprintf(err, errlen, "%s: My id %" PRId64 " not in the peer list", cfg->path ? cfg->path : "zoo.cfg",
                 qp->myid);
        return -EINVAL;
    }
    qp->observer = me->observer;
    /* The config version: from the dynamic file's name (zoo.cfg.dynamic.<hex>). */
    const char *dyn = cfg->dynamic_config_path ? strrchr(cfg->dynamic_config_path, '.') : NULL;
    if (dyn && strstr(cfg->dynamic_config_path, ".dynamic.") != NULL) {
        char *end;
        unsigned long long v = strtoull(dyn + 1, &end, 16);
        if (*end == '\0')
            qp->verifier.version = (int64_t)v;
    }
    if (qp->observer != (cfg->peer_type == CONFIG_OBSERVER)) {
        snprintf(err, errlen, "%s: peerType=%s but server.%" PRId64 " says %s", cfg->path ? cfg->path : "zoo.cfg",
                 cfg->peer_type == CONFIG_OBSERVER ? "observer" : "participant", qp->myid,
                 qp->observer ? "observer" : "participant");
        return -EINVAL;
    }
    if (cfg->init_limit <= 0 || cfg->sync_limit <= 0) {
        snprintf(err, errlen, "%s: initLimit and syncLimit must be set for an ensemble",
                 cfg->path ? cfg->path : "zoo.cfg");
        return -EINVAL;
    }
    size_t dlen = strlen(cfg->data_dir) + sizeof "/version-2";
    qp->epoch_dir = malloc(dlen);
    if (qp->epoch_dir == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(qp->epoch_dir, dlen, "%s/version-2", cfg->data_dir);
    const char *name = cfg->plugin_election ? cfg->plugin_election : "fle";
    rc = plugin_load(srv->plugin_dir, name, ZKP_KIND_ELECTION, srv->loop, cfg, &qp->election, err, errlen);
    if (rc < 0)
        return rc;
    qp->eops = plugin_ops(qp->election);
    return 0;
}

void quorum_set_config_node(struct server *srv)
{
    struct quorum_peer *qp = srv->qp;
    char text[8192];
    size_t n = fle_quorum_text(&qp->verifier, text, sizeof text);
    if (n >= sizeof text)
        n = sizeof text - 1;
    struct znode *z = tree_lookup(srv->tree, "/zookeeper/config", 17);
    if (z == NULL || tree_set_data(srv->tree, z, (const uint8_t *)text, n) < 0) {
        log_warn("cannot set /zookeeper/config");
        return;
    }
    /* As ZooKeeper's QuorumPeer sets it at start: no txn, version -1. */
    z->czxid = z->mzxid = z->pzxid = 0;
    z->version = -1;
    z->aversion = -1;
    z->mtime = loop_wall_ms();
}

int quorum_start(struct server *srv, char *err, size_t errlen)
{
    struct quorum_peer *qp = srv->qp;
    int rc = epoch_load(qp->epoch_dir, srv->last_zxid, &qp->current_epoch, &qp->accepted_epoch, err, errlen);
    if (rc < 0)
        return rc;
    quorum_set_config_node(srv);
    plugin_loader_set_transport(srv->transport);
    rc = plugin_start(qp->election, err, errlen);
    if (rc < 0)
        return rc;
    srv->committed_zxid = srv->last_zxid;
    log_info("quorum peer %" PRId64 " (%s) of %zu servers, currentEpoch %" PRId64 ", acceptedEpoch %" PRId64
             ", last zxid 0x%" PRIx64,
             qp->myid, qp->observer ? "observer" : "participant", qp->verifier.nmembers, qp->current_epoch,
             qp->accepted_epoch, (uint64_t)srv->last_zxid);
    quorum_look(qp);
    return 0;
}

static void quorum_end_role(struct quorum_peer *qp)
{
    if (qp->leader)
        leader_stop(qp);
    if (qp->learner)
        learner_stop(qp);
    qp->serving = false;
}

void quorum_stop(struct server *srv)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL)
        return;
    qp->stopping = true;
    if (qp->ro_timer)
        loop_timer_cancel(srv->loop, qp->ro_timer);
    if (qp->restart_timer)
        loop_timer_cancel(srv->loop, qp->restart_timer);
    qp->ro_timer = qp->restart_timer = 0;
    if (qp->eops && qp->election && qp->election->started)
        qp->eops->cancel(qp->election->state);
    quorum_end_role(qp);
    plugin_stop(qp->election);
}

void quorum_fini(struct server *srv)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL)
        return;
    plugin_unload(qp->election);
    reconfig_free(srv);
    fle_quorum_fini(&qp->verifier);
    free(qp->epoch_dir);
    free(qp);
    srv->qp = NULL;
}

/* --------------------------------------------------------------- roles */

static const char *quorum_state_name(enum zkp_peer_state st)
{
    switch (st) {
    case ZKP_PEER_LOOKING: return "LOOKING";
    case ZKP_PEER_FOLLOWING: return "FOLLOWING";
    case ZKP_PEER_LEADING: return "LEADING";
    case ZKP_PEER_OBSERVING: return "OBSERVING";
    }
    return "?";
}

static void quorum_set_state(struct quorum_peer *qp, enum zkp_peer_state st, int64_t leader)
{
    struct server *srv = qp->srv;
    qp->role_since_ms = loop_now_ms();
    bool changed = qp->state != st;
    if (changed)
        log_info("peer state changed: %s -> %s", quorum_state_name(qp->state), quorum_state_name(st));
    qp->state = st;
    if ((changed || leader >= 0) && srv->hooks && srv->hooks->peer_state)
        srv->hooks->peer_state(srv->hooks_ctx,
                               st == ZKP_PEER_LEADING     ? "leading"
                               : st == ZKP_PEER_FOLLOWING ? "following"
                               : st == ZKP_PEER_OBSERVING ? "observing"
                                                          : "looking",
                               leader);
    log_set_role(st == ZKP_PEER_LEADING     ? "leader"
                 : st == ZKP_PEER_FOLLOWING ? "follower"
                 : st == ZKP_PEER_OBSERVING ? "observer"
                                            : "looking");
}

static void quorum_ro_start(void *arg)
{
    struct quorum_peer *qp = arg;
    qp->ro_timer = 0;
    if (qp->state != ZKP_PEER_LOOKING || qp->stopping)
        return;
    struct server *srv = qp->srv;
    log_info("Attempting to start ReadOnlyZooKeeperServer: no quorum for %" PRIu64 " ms",
             loop_now_ms() - qp->looking_since_ms);
    /* Everything this server holds is all it can offer: it answers reads
     * from it and refuses writes. */
    srv->committed_zxid = srv->last_zxid;
    qp->read_only = true;
    if (srv->hooks && srv->hooks->peer_state)
        srv->hooks->peer_state(srv->hooks_ctx, "read-only", -1);
}

static void quorum_ro_end(struct quorum_peer *qp)
{
    struct server *srv = qp->srv;
    if (!qp->read_only)
        return;
    qp->read_only = false;
    server_drop_clients(srv, "read-only mode ended");
    /* Read-only sessions were never logged: they end with the mode. */
    for (size_t b = 0; b < srv->session_nbuckets; b++) {
        struct session *s = srv->session_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            if (s->local)
                server_session_remove(srv, s);
            s = next;
        }
    }
}

static void quorum_election_done(void *arg, enum zkp_peer_state state, const struct zkp_vote *vote)
{
    struct quorum_peer *qp = arg;
    struct server *srv = qp->srv;
    if (qp->stopping)
        return;
    if (qp->ro_timer) {
        loop_timer_cancel(srv->loop, qp->ro_timer);
        qp->ro_timer = 0;
    }
    quorum_ro_end(qp);
    /* A server outside the config (removed by a reconfig, or joining)
     * follows without a vote, as in ZooKeeper; the election plugin counts
     * it as a non-voter. */
    if (state == ZKP_PEER_OBSERVING && !qp->observer && fle_quorum_member(&qp->verifier, qp->myid) == NULL)
        state = ZKP_PEER_FOLLOWING;
    qp->vote = *vote;
    qp->last_election_ms = (int64_t)(loop_now_ms() - qp->election_started_ms);
    log_info("election done in %" PRId64 " ms: leader %" PRId64 ", zxid 0x%" PRIx64 ", state %s",
             qp->last_election_ms, vote->leader, (uint64_t)vote->zxid, quorum_state_name(state));
    quorum_set_state(qp, state, vote->leader);
    qp->eops->set_current_vote(qp->election->state, state, vote);
    char err[256] = "";
    int rc;
    if (state == ZKP_PEER_LEADING)
        rc = leader_start(qp, err, sizeof err);
    else
        rc = learner_start(qp, vote->leader, err, sizeof err);
    if (rc < 0)
        quorum_role_ended(qp, err);
}

static void quorum_look(struct quorum_peer *qp)
{
    struct server *srv = qp->srv;
    if (qp->stopping)
        return;
    quorum_set_state(qp, ZKP_PEER_LOOKING, -1);
    qp->looking_since_ms = qp->election_started_ms = loop_now_ms();
    qp->elections++;
    struct zkp_vote own = {
        .leader = qp->myid,
        .zxid = srv->last_zxid,
        .peer_epoch = qp->current_epoch,
        .state = ZKP_PEER_LOOKING,
    };
    qp->vote = own;
    int rc = qp->eops->look_for_leader(qp->election->state, &own, quorum_election_done, qp);
    if (rc < 0) {
        log_error("the election plugin could not start an election: %s; stopping", strerror(-rc));
        srv->exit_code = 1;
        loop_stop(srv->loop);
        return;
    }
    if (srv->cfg->readonly_mode_enabled && !qp->observer) {
        uint64_t grace = (uint64_t)srv->cfg->tick_time > QUORUM_RO_GRACE_MS ? (uint64_t)srv->cfg->tick_time
                                                                             : QUORUM_RO_GRACE_MS;
        qp->ro_timer = loop_timer_start(srv->loop, grace, quorum_ro_start, qp);
    }
}

static void quorum_restart(void *arg)
{
    struct quorum_peer *qp = arg;
    qp->restart_timer = 0;
    quorum_end_role(qp);
    server_drop_clients(qp->srv, "the quorum role ended");
    quorum_look(qp);
}

void quorum_role_ended(struct quorum_peer *qp, const char *why)
{
    if (qp->stopping || qp->restart_timer)
        return;
    log_warn("leaving the %s role: %s", quorum_state_name(qp->state), why);
    qp->serving = false;
    /* Not from inside a role's own callback: soon, from the loop. */
    qp->restart_timer = loop_timer_start(qp->srv->loop, 1, quorum_restart, qp);
}

/* ---------------------------------------------------------------- queries */

bool quorum_serving(const struct server *srv)
{
    const struct quorum_peer *qp = srv->qp;
    return qp == NULL || qp->serving || qp->read_only;
}

bool quorum_is_learner(const struct server *srv)
{
    const struct quorum_peer *qp = srv->qp;
    return qp && qp->learner && qp->serving;
}

bool quorum_read_only(const struct server *srv)
{
    return srv->qp && srv->qp->read_only;
}

const char *quorum_mode_name(const struct server *srv)
{
    const struct quorum_peer *qp = srv->qp;
    if (qp == NULL)
        return "standalone";
    if (qp->read_only)
        return "read-only";
    switch (qp->state) {
    case ZKP_PEER_LEADING: return "leader";
    case ZKP_PEER_FOLLOWING: return "follower";
    case ZKP_PEER_OBSERVING: return "observer";
    default: return "looking";
    }
}

/* ------------------------------------------------------------------ hooks */

void quorum_txn_logged(struct server *srv, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct quorum_peer *qp = srv->qp;
    if (qp && qp->leader)
        leader_txn_logged(qp->leader, zxid, txn, len);
}

void quorum_durable(struct server *srv)
{
    struct quorum_peer *qp = srv->qp;
    if (qp == NULL)
        return;
    if (qp->leader)
        leader_durable(qp->leader);
    else if (qp->learner)
        learner_durable(qp->learner);
}

bool quorum_client_packet(struct server *srv, struct conn *c, const uint8_t *data, size_t len)
{
    struct quorum_peer *qp = srv->qp;
    if (qp && qp->learner && qp->serving)
        return learner_client_packet(qp->learner, c, data, len);
    return false;
}

void quorum_conn_closed(struct server *srv, struct conn *c)
{
    struct quorum_peer *qp = srv->qp;
    if (qp && qp->learner)
        learner_conn_closed(qp->learner, c);
}

/* ------------------------------------------------------------------ status */

void quorum_get_status(const struct server *srv, struct quorum_status *out)
{
    memset(out, 0, sizeof *out);
    out->proposal_last = out->proposal_min = out->proposal_max = -1;
    const struct quorum_peer *qp = srv->qp;
    if (qp == NULL) {
        out->state = "standalone";
        out->zab_state = "broadcast";
        return;
    }
    switch (qp->state) {
    case ZKP_PEER_LEADING: out->state = "leading"; break;
    case ZKP_PEER_FOLLOWING: out->state = "following"; break;
    case ZKP_PEER_OBSERVING: out->state = "observing"; break;
    default: out->state = "looking"; break;
    }
    if (qp->state == ZKP_PEER_LOOKING)
        out->zab_state = "election";
    else if (qp->serving)
        out->zab_state = "broadcast";
    else if (qp->learner)
        out->zab_state = learner_syncing(qp->learner) ? "synchronization" : "discovery";
    else
        out->zab_state = "discovery"; /* a leader refines it below */
    out->read_only = qp->read_only;
    out->myid = qp->myid;
    out->leader_id = qp->state == ZKP_PEER_LOOKING ? -1 : qp->vote.leader;
    out->current_epoch = qp->current_epoch;
    out->accepted_epoch = qp->accepted_epoch;
    out->config_version = qp->verifier.version;
    out->members = qp->verifier.nmembers;
    out->voters = qp->verifier.nvoters;
    out->elections = qp->elections;
    out->last_election_ms = qp->last_election_ms;
    out->role_since_ms = qp->role_since_ms;
    if (qp->leader)
        leader_get_status(qp->leader, out);
}

size_t quorum_get_learners(const struct server *srv, struct quorum_learner_info *out, size_t cap)
{
    const struct quorum_peer *qp = srv->qp;
    if (qp == NULL || qp->leader == NULL)
        return 0;
    return leader_get_learners(qp->leader, out, cap);
}
