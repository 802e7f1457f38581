/*
 * Applying transactions to the data tree, with ZooKeeper's DataTree
 * semantics (processTxn): node creation and deletion with the parent's
 * cversion/pzxid rules, ephemeral bookkeeping, session creation and close,
 * multi. Used by live writes and by recovery (replaying the log).
 *
 * Watch events are not sent here: they are collected into a txn_events list
 * that the caller fires (txn_fire_events) once the whole txn has applied, so
 * a multi notifies only if it succeeds.
 *
 * For multi, the request path validates and applies one op at a time and
 * must be able to roll back: txn_apply_op can fill a txn_undo that
 * txn_undo_apply reverts exactly (tree, stats, digest, ephemerals).
 */
#ifndef ZKPLUG_TXN_H
#define ZKPLUG_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "tree.h"

struct server;

struct txn_event {
    int32_t type; /* ZK_EVENT_* */
    char *path;
    uint32_t len;
};

struct txn_events {
    struct txn_event *items;
    size_t n, cap;
};

struct txn_sub_result {
    int32_t type; /* the op (create, create2, ...) or ZK_OP_ERROR */
    int32_t err;
    char *path;   /* create: the created path */
    struct zk_stat stat;
};

struct txn_result {
    int32_t err;
    char *path;
    struct zk_stat stat;
    struct txn_sub_result *multi;
    size_t nmulti;
};

struct txn_undo {
    int32_t type;
    struct znode *node;   /* create: the new node */
    struct znode *parent;
    int32_t parent_cversion;
    int64_t parent_pzxid;
    /* delete: everything needed to put the node back */
    char *name;
    uint32_t name_len;
    struct znode saved;   /* stat fields and acl reference (held) */
    uint8_t *data;
    uint32_t data_len;
};

/* Apply one non-multi txn (create*, delete*, setData, setACL, check, error,
 * createSession, closeSession). undo may be NULL. */
int txn_apply_op(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
                 struct txn_result *res, struct txn_events *ev, struct txn_undo *undo);
/* Apply any txn, multi included (recovery and the non-multi live path). */
int txn_apply(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
              struct txn_result *res, struct txn_events *ev);
void txn_undo_apply(struct server *srv, struct txn_undo *undo);
void txn_undo_release(struct server *srv, struct txn_undo *undo);

void txn_result_free(struct txn_result *res);
void txn_events_clear(struct txn_events *ev);
void txn_events_free(struct txn_events *ev);
/* Send the collected events to the watchers, then clear the list. */
void txn_fire_events(struct server *srv, struct txn_events *ev);

/* Record an ephemeral node in its owner session's list (if the session exists). */
void txn_track_ephemeral(struct server *srv, struct znode *node);

/* Delete a node and its ephemeral bookkeeping (used by apply and undo). */
void txn_remove_node(struct server *srv, struct znode *node);

#endif
