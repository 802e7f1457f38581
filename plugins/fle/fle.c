/*
 * fle: the default election plugin, ZooKeeper 3.8's Fast Leader Election
 * (FastLeaderElection.lookForLeader and its Messenger), wire-compatible with
 * ZooKeeper servers so a zkplug server can take part in their elections.
 * Election connections: fle_qcnx.c; wire formats: fle_wire.c; quorum
 * verifiers and vote order: fle_quorum.c.
 *
 * Design notes:
 * - ZooKeeper polls a notification queue in a thread; here each received
 *   notification is handled as it arrives, on the loop thread, and the poll
 *   timeout becomes a timer restarted after every handled notification:
 *   200 ms doubling up to 60 s (fastleader.minNotificationInterval /
 *   maxNotificationInterval). On expiry the votes are sent again when some
 *   peer took the last one, otherwise every peer is connected again.
 * - Finalize wait: once the votes equal to our proposal form a quorum, every
 *   further notification is dropped unless it beats the proposal, and 200 ms
 *   without one finishes the election (a beating one resumes it).
 * - Notifications to ourselves (sendNotifications includes our own sid) go
 *   through a local queue drained by a zero-delay timer, never re-entering.
 * - Not looking (before the first election, after one, or after cancel):
 *   LOOKING peers are answered with the current vote, which the election's
 *   outcome sets and set_current_vote overrides. Non-voters (observers,
 *   unknown sids) are always answered and otherwise ignored.
 * - Observers propose Long.MIN_VALUE for leader, zxid and epoch, send only to
 *   voters and end OBSERVING; no quorum ever counts them.
 * - done_cb runs from a timer or transport callback on the loop thread,
 *   never inside look_for_leader; nothing runs after cancel or stop.
 *
 * zoo.cfg keys read: server.N (through host->server_get), group.N,
 * weight.N, cnxTimeout (5000 ms), fastleader.minNotificationInterval (200),
 * fastleader.maxNotificationInterval (60000), quorumListenOnAllIPs (false).
 *
 * Entry points: the descriptor (init/start/stop/fini) and fle_ops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkplug/plugin.h>

#include "fle_int.h"
#include "fle_quorum.h"
#include "fle_wire.h"

#define FLE_FINALIZE_WAIT_MS 200
#define FLE_MIN_NOTIFICATION_MS 200
#define FLE_MAX_NOTIFICATION_MS 60000
#define FLE_CONNECT_TIMEOUT_MS 5000
#define FLE_CONFIG_TEXT_MAX 65536

struct fle_slot {
    bool used;
    struct fle_vote vote;
};

struct fle_self_msg {
    struct fle_self_msg *next;
    size_t len;
    uint8_t data[];
};

struct fle {
    const struct zkp_host *host;
    struct fle_quorum quorum;
    int64_t myid;
    bool observer;          /* our own line says :observer */
    char *config_text;      /* sent in every notification */
    uint32_t config_len;
    char my_addr[300];
    const char *listen_host;
    int listen_port;
    int64_t min_interval, max_interval, connect_timeout;
    struct qcnx *qcnx;
    bool started;

    /* the election in progress */
    bool looking;
    zkp_election_done_cb done_cb;
    void *done_arg;
    int64_t logicalclock;
    int64_t init_id, init_zxid, init_epoch;
    int64_t proposed_leader, proposed_zxid, proposed_epoch;
    struct fle_slot *recvset, *outofelection; /* indexed like quorum.members */
    int64_t not_timeout;
    uint64_t wait_timer;
    bool finalizing;
    uint64_t finalize_timer;

    /* what to answer while not looking */
    bool have_current;
    enum zkp_peer_state current_state;
    struct zkp_vote current;

    /* notifications to ourselves */
    struct fle_self_msg *self_head, *self_tail;
    uint64_t self_timer;
};

static const char *fle_state_name(int32_t s)
{
    switch (s) {
    case FLE_LOOKING: return "LOOKING";
    case FLE_FOLLOWING: return "FOLLOWING";
    case FLE_LEADING: return "LEADING";
    case FLE_OBSERVING: return "OBSERVING";
    }
    return "UNKNOWN";
}

static void fle_handle_message(void *arg, int64_t sid, const uint8_t *msg, size_t len);

/* ------------------------------------------------------------------------- */
/* Sending                                                                   */

static void fle_self_drain(void *arg)
{
    struct fle *st = arg;
    st->self_timer = 0;
    while (st->self_head != NULL && st->started) {
        struct fle_self_msg *m = st->self_head;
        st->self_head = m->next;
        if (st->self_head == NULL)
            st->self_tail = NULL;
        fle_handle_message(st, st->myid, m->data, m->len);
        free(m);
    }
}

static void fle_self_clear(struct fle *st)
{
    while (st->self_head != NULL) {
        struct fle_self_msg *m = st->self_head;
        st->self_head = m->next;
        free(m);
    }
    st->self_tail = NULL;
    if (st->self_timer != 0) {
        st->host->timer_cancel(st->host, st->self_timer);
        st->self_timer = 0;
    }
}

/* Sends one notification to sid (ourselves included). */
static void fle_send(struct fle *st, int64_t sid, int32_t state, int64_t leader, int64_t zxid,
                     int64_t election_epoch, int64_t peer_epoch)
{
    struct fle_notification n = {
        .state = state,
        .leader = leader,
        .zxid = zxid,
        .election_epoch = election_epoch,
        .peer_epoch = peer_epoch,
        .version = FLE_NOTIFICATION_VERSION,
        .config = (const uint8_t *)st->config_text,
        .config_len = st->config_len,
    };
    size_t len = FLE_NOTIFICATION_HEADER + st->config_len;
    if (sid == st->myid) {
        struct fle_self_msg *m = malloc(sizeof *m + len);
        if (m == NULL)
            return;
        m->next = NULL;
        m->len = fle_notification_encode(m->data, len, &n);
        if (st->self_tail)
            st->self_tail->next = m;
        else
            st->self_head = m;
        st->self_tail = m;
        if (st->self_timer == 0)
            st->self_timer = st->host->timer_start(st->host, 0, fle_self_drain, st);
        return;
    }
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return;
    fle_notification_encode(buf, len, &n);
    qcnx_send(st->qcnx, sid, buf, len);
    free(buf);
}

/* sendNotifications: our proposal to every voter. */
static void fle_send_notifications(struct fle *st)
{
    for (size_t i = 0; i < st->quorum.nmembers; i++) {
        const struct fle_member *m = &st->quorum.members[i];
        if (m->observer)
            continue;
        st->host->log(st->host, ZKP_LOG_DEBUG,
                      "Sending Notification: %" PRId64 " (n.leader), 0x%" PRIx64
                      " (n.zxid), 0x%" PRIx64 " (n.round), %" PRId64 " (recipient), %" PRId64
                      " (myid), 0x%" PRIx64 " (n.peerEpoch)",
                      st->proposed_leader, (uint64_t)st->proposed_zxid,
                      (uint64_t)st->logicalclock, m->id, st->myid, (uint64_t)st->proposed_epoch);
        fle_send(st, m->id, FLE_LOOKING, st->proposed_leader, st->proposed_zxid,
                 st->logicalclock, st->proposed_epoch);
    }
}

/* The current vote, to answer a peer while we are not looking (or a
 * non-voter at any time). */
static void fle_answer(struct fle *st, int64_t sid, bool use_logicalclock)
{
    if (st->have_current) {
        int32_t state = st->looking ? FLE_LOOKING : (int32_t)st->current_state;
        fle_send(st, sid, state, st->current.leader, st->current.zxid,
                 use_logicalclock ? st->logicalclock : st->current.election_epoch,
                 st->current.peer_epoch);
    } else if (st->looking) {
        fle_send(st, sid, FLE_LOOKING, st->proposed_leader, st->proposed_zxid, st->logicalclock,
                 st->proposed_epoch);
    }
}

/* ------------------------------------------------------------------------- */
/* The election                                                              */

static void fle_wait_expired(void *arg);
static void fle_finalize_expired(void *arg);

static void fle_timers_cancel(struct fle *st)
{
    if (st->wait_timer != 0)
        st->host->timer_cancel(st->host, st->wait_timer);
    if (st->finalize_timer != 0)
        st->host->timer_cancel(st->host, st->finalize_timer);
    st->wait_timer = st->finalize_timer = 0;
}

static void fle_wait_restart(struct fle *st)
{
    if (st->wait_timer != 0)
        st->host->timer_cancel(st->host, st->wait_timer);
    st->wait_timer = st->host->timer_start(st->host, (uint64_t)st->not_timeout, fle_wait_expired,
                                           st);
}

static void fle_update_proposal(struct fle *st, int64_t leader, int64_t zxid, int64_t epoch)
{
    st->host->log(st->host, ZKP_LOG_DEBUG,
                  "Updating proposal: %" PRId64 " (newleader), 0x%" PRIx64 " (newzxid), %" PRId64
                  " (oldleader), 0x%" PRIx64 " (oldzxid)",
                  leader, (uint64_t)zxid, st->proposed_leader, (uint64_t)st->proposed_zxid);
    st->proposed_leader = leader;
    st->proposed_zxid = zxid;
    st->proposed_epoch = epoch;
}

static bool fle_beats(const struct fle *st, int64_t id, int64_t zxid, int64_t epoch)
{
    return fle_vote_beats(&st->quorum, id, zxid, epoch, st->proposed_leader, st->proposed_zxid,
                          st->proposed_epoch);
}

static void fle_slots_clear(struct fle_slot *set, size_t n)
{
    memset(set, 0, n * sizeof *set);
}

static void fle_slot_put(struct fle *st, struct fle_slot *set, int64_t sid,
                         const struct fle_vote *v)
{
    const struct fle_member *m = fle_quorum_member(&st->quorum, sid);
    if (m == NULL)
        return;
    struct fle_slot *s = &set[m - st->quorum.members];
    s->used = true;
    s->vote = *v;
}

static const struct fle_vote *fle_slot_get(const struct fle *st, const struct fle_slot *set,
                                           int64_t sid)
{
    const struct fle_member *m = fle_quorum_member(&st->quorum, sid);
    if (m == NULL || !set[m - st->quorum.members].used)
        return NULL;
    return &set[m - st->quorum.members].vote;
}

/* getVoteTracker(...).hasAllQuorums(): the sids whose vote equals v form a
 * quorum. */
static bool fle_has_quorum(const struct fle *st, const struct fle_slot *set,
                           const struct fle_vote *v)
{
    int64_t sids[256];
    size_t n = 0;
    for (size_t i = 0; i < st->quorum.nmembers && n < 256; i++)
        if (set[i].used && fle_vote_equal(&set[i].vote, v))
            sids[n++] = st->quorum.members[i].id;
    return fle_quorum_contains(&st->quorum, sids, n);
}

/* checkLeader: a leader other than us must have told us it leads; if it is
 * us, the round must be ours. */
static bool fle_check_leader(const struct fle *st, const struct fle_slot *set, int64_t leader,
                             int64_t election_epoch)
{
    if (leader != st->myid) {
        const struct fle_vote *v = fle_slot_get(st, set, leader);
        return v != NULL && v->state == FLE_LEADING;
    }
    return st->logicalclock == election_epoch;
}

static void fle_finish(struct fle *st, int64_t leader, int64_t zxid, int64_t election_epoch,
                       int64_t peer_epoch)
{
    enum zkp_peer_state state = leader == st->myid ? ZKP_PEER_LEADING
                                : st->observer     ? ZKP_PEER_OBSERVING
                                                   : ZKP_PEER_FOLLOWING;
    struct zkp_vote vote = {
        .leader = leader,
        .zxid = zxid,
        .election_epoch = election_epoch,
        .peer_epoch = peer_epoch,
        .state = state,
    };
    st->looking = false;
    st->finalizing = false;
    fle_timers_cancel(st);
    st->have_current = true;
    st->current_state = state;
    st->current = vote;
    st->host->log(st->host, ZKP_LOG_INFO,
                  "election done: %s, leader %" PRId64 ", zxid 0x%" PRIx64 ", round 0x%" PRIx64
                  ", peer epoch 0x%" PRIx64,
                  fle_state_name((int32_t)state), leader, (uint64_t)zxid,
                  (uint64_t)election_epoch, (uint64_t)peer_epoch);
    zkp_election_done_cb cb = st->done_cb;
    st->done_cb = NULL;
    if (cb != NULL)
        cb(st->done_arg, state, &vote);
}

static void fle_finalize_expired(void *arg)
{
    struct fle *st = arg;
    st->finalize_timer = 0;
    if (!st->looking || !st->finalizing)
        return;
    fle_finish(st, st->proposed_leader, st->proposed_zxid, st->logicalclock,
               st->proposed_epoch);
}

static void fle_wait_expired(void *arg)
{
    struct fle *st = arg;
    st->wait_timer = 0;
    if (!st->looking || st->finalizing)
        return;
    if (qcnx_have_delivered(st->qcnx))
        fle_send_notifications(st);
    else
        qcnx_connect_all(st->qcnx);
    st->not_timeout = st->not_timeout * 2 < st->max_interval ? st->not_timeout * 2
                                                             : st->max_interval;
    st->host->log(st->host, ZKP_LOG_INFO, "Notification time out: %" PRId64 " ms",
                  st->not_timeout);
    fle_wait_restart(st);
}

/* receivedFollowingNotification (LEADING notifications take the same path). */
static void fle_following(struct fle *st, int64_t sid, const struct fle_notification *n)
{
    struct fle_vote v = {
        .leader = n->leader,
        .zxid = n->zxid,
        .election_epoch = n->election_epoch,
        .peer_epoch = n->peer_epoch,
        .state = (enum fle_state)n->state,
        .version = n->version,
    };
    if (n->election_epoch == st->logicalclock) {
        fle_slot_put(st, st->recvset, sid, &v);
        if (fle_has_quorum(st, st->recvset, &v) &&
            fle_check_leader(st, st->recvset, n->leader, n->election_epoch)) {
            fle_finish(st, n->leader, n->zxid, n->election_epoch, n->peer_epoch);
            return;
        }
    }
    /* Joining an established ensemble: a quorum outside the election agrees. */
    fle_slot_put(st, st->outofelection, sid, &v);
    if (fle_has_quorum(st, st->outofelection, &v) &&
        fle_check_leader(st, st->outofelection, n->leader, n->election_epoch)) {
        st->logicalclock = n->election_epoch;
        fle_finish(st, n->leader, n->zxid, n->election_epoch, n->peer_epoch);
    }
}

/* One notification from a voter while looking: the body of lookForLeader's
 * loop. */
static void fle_process(struct fle *st, int64_t sid, const struct fle_notification *n)
{
    if (st->finalizing) {
        if (!fle_beats(st, n->leader, n->zxid, n->peer_epoch)) {
            /* Drained and dropped; the 200 ms wait starts again. */
            st->host->timer_cancel(st->host, st->finalize_timer);
            st->finalize_timer = st->host->timer_start(st->host, FLE_FINALIZE_WAIT_MS,
                                                       fle_finalize_expired, st);
            return;
        }
        st->finalizing = false;
        st->host->timer_cancel(st->host, st->finalize_timer);
        st->finalize_timer = 0;
    }
    if (!fle_quorum_is_voter(&st->quorum, sid) || !fle_quorum_is_voter(&st->quorum, n->leader)) {
        if (!fle_quorum_is_voter(&st->quorum, n->leader))
            st->host->log(st->host, ZKP_LOG_WARN,
                          "Ignoring notification for non-cluster member sid %" PRId64
                          " from sid %" PRId64, n->leader, sid);
        fle_wait_restart(st);
        return;
    }
    switch (n->state) {
    case FLE_LOOKING: {
        if (st->init_zxid == -1 || n->zxid == -1)
            break;
        if (n->election_epoch > st->logicalclock) {
            st->logicalclock = n->election_epoch;
            fle_slots_clear(st->recvset, st->quorum.nmembers);
            if (fle_vote_beats(&st->quorum, n->leader, n->zxid, n->peer_epoch, st->init_id,
                               st->init_zxid, st->init_epoch))
                fle_update_proposal(st, n->leader, n->zxid, n->peer_epoch);
            else
                fle_update_proposal(st, st->init_id, st->init_zxid, st->init_epoch);
            fle_send_notifications(st);
        } else if (n->election_epoch < st->logicalclock) {
            break;
        } else if (fle_beats(st, n->leader, n->zxid, n->peer_epoch)) {
            fle_update_proposal(st, n->leader, n->zxid, n->peer_epoch);
            fle_send_notifications(st);
        }
        struct fle_vote got = {n->leader, n->zxid, n->election_epoch, n->peer_epoch,
                               FLE_LOOKING, 0};
        fle_slot_put(st, st->recvset, sid, &got);
        struct fle_vote mine = {st->proposed_leader, st->proposed_zxid, st->logicalclock,
                                st->proposed_epoch, FLE_LOOKING, 0};
        if (fle_has_quorum(st, st->recvset, &mine)) {
            st->finalizing = true;
            if (st->wait_timer != 0) {
                st->host->timer_cancel(st->host, st->wait_timer);
                st->wait_timer = 0;
            }
            st->finalize_timer = st->host->timer_start(st->host, FLE_FINALIZE_WAIT_MS,
                                                       fle_finalize_expired, st);
            return;
        }
        break;
    }
    case FLE_OBSERVING:
        break;
    case FLE_FOLLOWING:
    case FLE_LEADING:
        fle_following(st, sid, n);
        if (!st->looking)
            return;
        break;
    default:
        break;
    }
    fle_wait_restart(st);
}

/* WorkerReceiver: every message from a peer (or ourselves). */
static void fle_handle_message(void *arg, int64_t sid, const uint8_t *msg, size_t len)
{
    struct fle *st = arg;
    struct fle_notification n;
    const char *why = NULL;
    if (fle_notification_decode(msg, len, &n, &why) < 0) {
        st->host->log(st->host, ZKP_LOG_WARN,
                      "Skipping a malformed notification from sid=%" PRId64
                      " (message length: %zu): %s",
                      sid, len, why);
        return;
    }
    if (!fle_quorum_is_voter(&st->quorum, sid)) {
        /* An observer or a stranger: tell it what we believe, nothing else. */
        fle_answer(st, sid, true);
        return;
    }
    if (n.state < FLE_LOOKING || n.state > FLE_OBSERVING)
        return;
    if (st->looking) {
        st->host->log(st->host, sid == st->myid ? ZKP_LOG_DEBUG : ZKP_LOG_INFO,
                      "Notification: my state:LOOKING; n.sid:%" PRId64
                      ", n.state:%s, n.leader:%" PRId64 ", n.round:0x%" PRIx64
                      ", n.peerEpoch:0x%" PRIx64 ", n.zxid:0x%" PRIx64
                      ", message format version:0x%x",
                      sid, fle_state_name(n.state), n.leader, (uint64_t)n.election_epoch,
                      (uint64_t)n.peer_epoch, (uint64_t)n.zxid, (unsigned)n.version);
        if (n.state == FLE_LOOKING && n.election_epoch < st->logicalclock && sid != st->myid)
            fle_send(st, sid, FLE_LOOKING, st->proposed_leader, st->proposed_zxid,
                     st->logicalclock, st->proposed_epoch);
        fle_process(st, sid, &n);
    } else if (n.state == FLE_LOOKING && sid != st->myid) {
        fle_answer(st, sid, false);
    }
}

/* ------------------------------------------------------------------------- */
/* Election ops                                                              */

static int fle_look_for_leader(void *state, const struct zkp_vote *own,
                               zkp_election_done_cb done_cb, void *arg)
{
    struct fle *st = state;
    if (!st->started || own == NULL || done_cb == NULL)
        return -EINVAL;
    if (st->looking)
        return -EBUSY;
    bool voter = fle_quorum_is_voter(&st->quorum, st->myid);
    st->looking = true;
    st->finalizing = false;
    st->done_cb = done_cb;
    st->done_arg = arg;
    st->logicalclock++;
    st->init_id = voter ? st->myid : INT64_MIN;
    st->init_zxid = st->observer ? INT64_MIN : own->zxid;
    st->init_epoch = st->observer ? INT64_MIN : own->peer_epoch;
    fle_update_proposal(st, st->init_id, st->init_zxid, st->init_epoch);
    fle_slots_clear(st->recvset, st->quorum.nmembers);
    fle_slots_clear(st->outofelection, st->quorum.nmembers);
    st->not_timeout = st->min_interval;
    st->host->log(st->host, ZKP_LOG_INFO,
                  "New election. My id = %" PRId64 ", proposed zxid=0x%" PRIx64, st->myid,
                  (uint64_t)st->proposed_zxid);
    fle_send_notifications(st);
    fle_wait_restart(st);
    return 0;
}

static void fle_cancel(void *state)
{
    struct fle *st = state;
    st->looking = false;
    st->finalizing = false;
    st->done_cb = NULL;
    fle_timers_cancel(st);
}

static void fle_set_current_vote(void *state, enum zkp_peer_state ps, const struct zkp_vote *vote)
{
    struct fle *st = state;
    if (vote == NULL)
        return;
    st->have_current = true;
    st->current_state = ps;
    st->current = *vote;
}

static int fle_read_quorum_into(struct fle *st, struct fle_quorum *q, char *err, size_t errlen);

/* A committed reconfig: the members come again from the host; the version
 * from the text's "version=" line. Election state restarts empty. */
static void fle_reconfigure(void *state, const char *config_text)
{
    struct fle *st = state;
    char err[256] = "";
    struct fle_quorum q;
    if (fle_read_quorum_into(st, &q, err, sizeof err) < 0) {
        st->host->log(st->host, ZKP_LOG_ERROR, "reconfigure: %s; keeping the old members", err);
        fle_quorum_fini(&q);
        return;
    }
    const char *v = config_text ? strstr(config_text, "version=") : NULL;
    if (v)
        q.version = (int64_t)strtoull(v + 8, NULL, 16);
    size_t tlen = fle_quorum_text(&q, NULL, 0);
    char *text = malloc(tlen + 1);
    struct fle_slot *recv = calloc(q.nmembers, sizeof *recv);
    struct fle_slot *out = calloc(q.nmembers, sizeof *out);
    if (text == NULL || recv == NULL || out == NULL || tlen > FLE_CONFIG_TEXT_MAX) {
        st->host->log(st->host, ZKP_LOG_ERROR, "reconfigure: %s; keeping the old members",
                      tlen > FLE_CONFIG_TEXT_MAX ? "configuration too large" : "out of memory");
        free(text);
        free(recv);
        free(out);
        fle_quorum_fini(&q);
        return;
    }
    fle_quorum_text(&q, text, tlen + 1);
    fle_quorum_fini(&st->quorum);
    st->quorum = q;
    free(st->config_text);
    st->config_text = text;
    st->config_len = (uint32_t)tlen;
    free(st->recvset);
    free(st->outofelection);
    st->recvset = recv;
    st->outofelection = out;
    const struct fle_member *me = fle_quorum_member(&st->quorum, st->myid);
    st->observer = me == NULL || me->observer;
    for (size_t i = 0; st->qcnx && i < st->quorum.nmembers; i++) {
        const struct fle_member *m = &st->quorum.members[i];
        if (m->id != st->myid)
            qcnx_add_peer(st->qcnx, m->id, m->host, m->election_port);
    }
    st->host->log(st->host, ZKP_LOG_INFO, "reconfigured: %zu members, version 0x%" PRIx64,
                  st->quorum.nmembers, (uint64_t)st->quorum.version);
}

static const struct zkp_election_ops fle_ops = {
    .size = sizeof(struct zkp_election_ops),
    .look_for_leader = fle_look_for_leader,
    .cancel = fle_cancel,
    .set_current_vote = fle_set_current_vote,
    .reconfigure = fle_reconfigure,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                 */

static void fle_free(struct fle *st)
{
    fle_quorum_fini(&st->quorum);
    free(st->config_text);
    free(st->recvset);
    free(st->outofelection);
    free(st);
}

static int fle_config_ms(const struct zkp_host *h, const char *key, int64_t def, int64_t *out,
                         char *err, size_t errlen)
{
    int rc = h->config_int(h, key, def, out);
    if (rc < 0 || *out <= 0) {
        snprintf(err, errlen, "%s: must be a positive number of milliseconds", key);
        return -EINVAL;
    }
    return 0;
}

/* Reads server.N, group.N and weight.N into st->quorum. */
static int fle_read_quorum_into(struct fle *st, struct fle_quorum *q, char *err, size_t errlen);

static int fle_read_quorum(struct fle *st, char *err, size_t errlen)
{
    return fle_read_quorum_into(st, &st->quorum, err, errlen);
}

static int fle_read_quorum_into(struct fle *st, struct fle_quorum *q, char *err, size_t errlen)
{
    const struct zkp_host *h = st->host;
    fle_quorum_init(q);
    for (size_t i = 0;; i++) {
        struct zkp_server s = {.size = sizeof s};
        if (h->server_get(h, i, &s) != 0)
            break;
        int rc = fle_quorum_add_server(q, s.id, s.host, s.quorum_port, s.election_port,
                                       s.observer != 0, s.client_host, s.client_port);
        if (rc < 0) {
            snprintf(err, errlen, "server.%" PRId64 ": %s", s.id,
                     rc == -EEXIST ? "listed twice" : strerror(-rc));
            return rc;
        }
    }
    if (q->nmembers == 0) {
        snprintf(err, errlen, "no server.N lines: an election needs an ensemble");
        return -EINVAL;
    }
    const char *key, *value;
    for (size_t i = 0; h->config_entry(h, "", i, &key, &value) == 0; i++) {
        int rc = fle_quorum_set_entry(q, key, value, err, errlen);
        if (rc < 0)
            return rc;
    }
    return fle_quorum_finish(q, err, errlen);
}

static int fle_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    if (host->size < offsetof(struct zkp_host, config_entry) + sizeof host->config_entry) {
        snprintf(err, errlen, "host service table too old (%u bytes): needs ABI 1.1", host->size);
        return -ENOTSUP;
    }
    struct fle *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->host = host;
    int rc = fle_read_quorum(st, err, errlen);
    if (rc < 0)
        goto fail;
    st->myid = host->my_id(host);
    const struct fle_member *me = fle_quorum_member(&st->quorum, st->myid);
    if (me == NULL) {
        snprintf(err, errlen, "myid %" PRId64 " has no server.%" PRId64 " line", st->myid,
                 st->myid);
        rc = -EINVAL;
        goto fail;
    }
    st->observer = me->observer;
    if ((rc = fle_config_ms(host, "fastleader.minNotificationInterval", FLE_MIN_NOTIFICATION_MS,
                            &st->min_interval, err, errlen)) < 0 ||
        (rc = fle_config_ms(host, "fastleader.maxNotificationInterval", FLE_MAX_NOTIFICATION_MS,
                            &st->max_interval, err, errlen)) < 0 ||
        (rc = fle_config_ms(host, "cnxTimeout", FLE_CONNECT_TIMEOUT_MS, &st->connect_timeout,
                            err, errlen)) < 0)
        goto fail;
    if (st->max_interval < st->min_interval)
        st->max_interval = st->min_interval;
    int all_ips = 0;
    if (host->config_bool(host, "quorumListenOnAllIPs", 0, &all_ips) < 0) {
        snprintf(err, errlen, "quorumListenOnAllIPs: not a boolean");
        rc = -EINVAL;
        goto fail;
    }
    st->listen_host = all_ips ? "" : me->host;
    st->listen_port = me->election_port;
    snprintf(st->my_addr, sizeof st->my_addr, "%s:%d", me->host, me->election_port);

    size_t tlen = fle_quorum_text(&st->quorum, NULL, 0);
    st->config_text = malloc(tlen + 1);
    st->recvset = calloc(st->quorum.nmembers, sizeof *st->recvset);
    st->outofelection = calloc(st->quorum.nmembers, sizeof *st->outofelection);
    if (st->config_text == NULL || st->recvset == NULL || st->outofelection == NULL ||
        tlen > FLE_CONFIG_TEXT_MAX) {
        snprintf(err, errlen, tlen > FLE_CONFIG_TEXT_MAX ? "quorum configuration too large"
                                                          : "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    fle_quorum_text(&st->quorum, st->config_text, tlen + 1);
    st->config_len = (uint32_t)tlen;
    *state = st;
    return 0;
fail:
    fle_free(st);
    return rc;
}

static int fle_start(void *state, char *err, size_t errlen)
{
    struct fle *st = state;
    st->qcnx = qcnx_new(st->host, st->myid, st->my_addr, (int)st->connect_timeout,
                        fle_handle_message, st);
    if (st->qcnx == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < st->quorum.nmembers; i++) {
        const struct fle_member *m = &st->quorum.members[i];
        if (m->id != st->myid && qcnx_add_peer(st->qcnx, m->id, m->host, m->election_port) < 0) {
            snprintf(err, errlen, "out of memory");
            qcnx_free(st->qcnx);
            st->qcnx = NULL;
            return -ENOMEM;
        }
    }
    char lerr[256] = "";
    int rc = qcnx_listen(st->qcnx, st->listen_host, st->listen_port, lerr, sizeof lerr);
    if (rc < 0) {
        snprintf(err, errlen, "election port of server.%" PRId64 ": %s", st->myid, lerr);
        qcnx_free(st->qcnx);
        st->qcnx = NULL;
        return rc;
    }
    st->started = true;
    st->host->log(st->host, ZKP_LOG_INFO,
                  "server %" PRId64 " (%s) listening for election connections on %s", st->myid,
                  st->observer ? "observer" : "participant", st->my_addr);
    return 0;
}

static void fle_stop(void *state)
{
    struct fle *st = state;
    st->started = false;
    fle_cancel(st);
    fle_self_clear(st);
    qcnx_free(st->qcnx);
    st->qcnx = NULL;
}

static void fle_fini(void *state)
{
    struct fle *st = state;
    if (st->qcnx != NULL)
        fle_stop(st);
    fle_free(st);
}

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_ELECTION,
    .name = "fle",
    .version = "1.0",
    .description = "Fast Leader Election, wire-compatible with ZooKeeper 3.8",
    .init = fle_init,
    .start = fle_start,
    .stop = fle_stop,
    .fini = fle_fini,
    .ops = &fle_ops,
};
