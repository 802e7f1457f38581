/*
 * Quorum verifiers and vote logic of ZooKeeper 3.8, without host services:
 * QuorumMaj (more than half of the participants) and QuorumHierarchical
 * (group.N / weight.N: a majority of the groups of non-zero weight, each by
 * more than half of its weight), the vote order (totalOrderPredicate) and vote
 * equality (Vote.equals), and the quorum config text carried in
 * notifications.
 *
 * Call order: fle_quorum_init, fle_quorum_add_server for each server.N,
 * optionally fle_quorum_set_group / fle_quorum_set_weight, then
 * fle_quorum_finish (checks and computes group weights); then the queries;
 * fle_quorum_fini at the end.
 */
#ifndef ZKPLUG_PLUGINS_FLE_QUORUM_H
#define ZKPLUG_PLUGINS_FLE_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLE_QUORUM_MAX_GROUPS 64

enum fle_state {
    FLE_LOOKING = 0,
    FLE_FOLLOWING = 1,
    FLE_LEADING = 2,
    FLE_OBSERVING = 3,
};

struct fle_member {
    int64_t id;
    char *host;
    int quorum_port, election_port;
    bool observer;
    char *client_host; /* NULL: no client part on the line */
    int client_port;
    int64_t weight;    /* 1 unless weight.N says otherwise */
    int64_t group;     /* 0 = none (hierarchical only) */
    bool has_weight;
};

struct fle_quorum {
    struct fle_member *members; /* in id order after finish */
    size_t nmembers;
    size_t nvoters;
    bool hierarchical;
    int64_t *group_ids, *group_weights;
    size_t ngroups;
    size_t nonzero_groups;      /* QuorumHierarchical.numGroups after pruning */
    int64_t version;            /* the config version, 0 without reconfig */
};

/* A vote as FastLeaderElection compares them (Vote). */
struct fle_vote {
    int64_t leader, zxid, election_epoch, peer_epoch;
    enum fle_state state;
    int32_t version; /* notification format version it came with */
};

void fle_quorum_init(struct fle_quorum *q);
void fle_quorum_fini(struct fle_quorum *q);
/* Copies the strings. 0, -EEXIST (duplicate id) or -ENOMEM. */
int fle_quorum_add_server(struct fle_quorum *q, int64_t id, const char *host, int quorum_port,
                          int election_port, bool observer, const char *client_host,
                          int client_port);
/* group.gid = "a:b:c". 0, or -EINVAL with err (server in two groups, bad id). */
int fle_quorum_set_group(struct fle_quorum *q, int64_t gid, const char *value, char *err,
                         size_t errlen);
/* weight.sid = w. 0, or -EINVAL with err (unknown server, negative weight). */
int fle_quorum_set_weight(struct fle_quorum *q, int64_t sid, int64_t weight, char *err,
                          size_t errlen);
/* A group.N or weight.N line as zoo.cfg writes it: 0 applied, 1 when key is
 * neither, -EINVAL with err naming the key (a bad id or weight, or what
 * fle_quorum_set_group / _set_weight refuse). */
int fle_quorum_set_entry(struct fle_quorum *q, const char *key, const char *value, char *err,
                         size_t errlen);
/* Sorts members, counts voters, checks that every participant of a
 * hierarchical config is in a group, computes the group weights. */
int fle_quorum_finish(struct fle_quorum *q, char *err, size_t errlen);

/* The member with this id, or NULL. */
const struct fle_member *fle_quorum_member(const struct fle_quorum *q, int64_t id);
/* validVoter: a participant of this configuration. */
bool fle_quorum_is_voter(const struct fle_quorum *q, int64_t id);
/* getWeight: QuorumMaj gives every id 1; hierarchical the server's weight (0
 * for an unknown id). */
int64_t fle_quorum_weight(const struct fle_quorum *q, int64_t id);
/* containsQuorum over a set of sids (duplicates and non-voters ignored). */
bool fle_quorum_contains(const struct fle_quorum *q, const int64_t *sids, size_t n);

/* totalOrderPredicate: whether (new_id, new_zxid, new_epoch) beats the
 * current proposal: new_id has weight, then peer epoch, zxid, sid. */
bool fle_vote_beats(const struct fle_quorum *q, int64_t new_id, int64_t new_zxid,
                    int64_t new_epoch, int64_t cur_id, int64_t cur_zxid, int64_t cur_epoch);
/* Vote.equals: all four numbers when either side is LOOKING; otherwise the
 * leader and peer epoch (only the leader when exactly one has version 0). */
bool fle_vote_equal(const struct fle_vote *a, const struct fle_vote *b);

/* The configuration as QuorumVerifier.toString writes it: "server.N=host:
 * qport:eport:participant|observer[;chost:cport]\n" per member in id order,
 * for hierarchical configs "group.G=a:b\n" and "weight.N=w\n" lines, then
 * "version=<hex>" without a newline. Returns the length (excluding the NUL
 * written when it fits); output is truncated to cap. */
size_t fle_quorum_text(const struct fle_quorum *q, char *out, size_t cap);

#endif
