/*
 * Txn application (see txn.h). Mirrors ZooKeeper's DataTree.processTxn:
 * - create: parent's stored cversion becomes the txn's parentCVersion (when
 *   larger) and its pzxid the txn zxid; owner from the txn type;
 * - delete: parent's pzxid advances, cversion does not change;
 * - setData: data, version from the txn, mzxid and mtime;
 * - setACL: ACL and aversion from the txn;
 * - closeSession: the listed paths (and any other ephemeral of the session)
 *   are deleted, then the session is gone;
 * - multi: all sub-txns apply, unless one is an error txn, in which case none
 *   does and results report 0 before the error, its code, -2 after it.
 */
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics_zk.h"
#include "server.h"

/* ------------------------------------------------------------------ events */

static void txn_event_add(struct txn_events *ev, int32_t type, const char *path, size_t len)
{
    if (ev == NULL)
        return;
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 8;
        struct txn_event *items = realloc(ev->items, cap * sizeof *items);
        if (items == NULL)
            return;
        ev->items = items;
        ev->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, path, len);
    copy[len] = '\0';
    ev->items[ev->n++] = (struct txn_event){.type = type, .path = copy, .len = (uint32_t)len};
}

void txn_events_clear(struct txn_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->items[i].path);
    ev->n = 0;
}

void txn_events_free(struct txn_events *ev)
{
    txn_events_clear(ev);
    free(ev->items);
    ev->items = NULL;
    ev->cap = 0;
}

static void txn_notify(struct server *srv, int32_t type, const char *path, size_t len)
{
    for (size_t i = 0; i < srv->hits.n; i++) {
        struct conn *c = (struct conn *)((char *)srv->hits.items[i] - offsetof(struct conn, watcher));
        if (c->closing || c->tc == NULL)
            continue;
        server_reply_begin(srv, ZK_XID_NOTIFICATION, -1, ZK_OK);
        proto_write_watcher_event(&srv->out, type, ZK_STATE_SYNC_CONNECTED, path, len);
        server_reply_end(srv, c, srv->last_zxid, false);
    }
    srv->hits.n = 0;
}

void txn_fire_events(struct server *srv, struct txn_events *ev)
{
    for (size_t i = 0; i < ev->n; i++) {
        struct txn_event *e = &ev->items[i];
        uint64_t gen = watch_begin_event();
        srv->hits.n = 0;
        switch (e->type) {
        case ZK_EVENT_CREATED:
        case ZK_EVENT_DATA_CHANGED:
            watch_trigger(&srv->data_watches, e->path, e->len, e->type, gen, &srv->hits);
            break;
        case ZK_EVENT_DELETED:
            watch_trigger(&srv->data_watches, e->path, e->len, e->type, gen, &srv->hits);
            watch_trigger(&srv->child_watches, e->path, e->len, e->type, gen, &srv->hits);
            break;
        case ZK_EVENT_CHILDREN_CHANGED:
            watch_trigger(&srv->child_watches, e->path, e->len, e->type, gen, &srv->hits);
            break;
        }
        txn_notify(srv, e->type, e->path, e->len);
    }
    txn_events_clear(ev);
}

/* ----------------------------------------------------------------- results */

void txn_result_free(struct txn_result *res)
{
    free(res->path);
    for (size_t i = 0; i < res->nmulti; i++)
        free(res->multi[i].path);
    free(res->multi);
    memset(res, 0, sizeof *res);
}

/* -------------------------------------------------------------- ephemerals */

void txn_track_ephemeral(struct server *srv, struct znode *node)
{
    struct session *s = server_session_find(srv, node->ephemeral_owner);
    if (s == NULL)
        return;
    if (s->nephemerals == s->ephemerals_cap) {
        size_t cap = s->ephemerals_cap ? s->ephemerals_cap * 2 : 4;
        struct znode **e = realloc(s->ephemerals, cap * sizeof *e);
        if (e == NULL)
            return;
        s->ephemerals = e;
        s->ephemerals_cap = cap;
    }
    s->ephemerals[s->nephemerals++] = node;
}

static void txn_ephemeral_remove(struct server *srv, struct znode *node)
{
    struct session *s = server_session_find(srv, node->ephemeral_owner);
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nephemerals; i++) {
        if (s->ephemerals[i] == node) {
            s->ephemerals[i] = s->ephemerals[--s->nephemerals];
            return;
        }
    }
}

void txn_remove_node(struct server *srv, struct znode *node)
{
    if (tree_node_kind(srv->tree, node) == TREE_NODE_EPHEMERAL)
        txn_ephemeral_remove(srv, node);
    tree_remove(srv->tree, node);
}

/* ------------------------------------------------------------------- apply */

static size_t txn_last_slash(const jute_span *path)
{
    size_t i = (size_t)path->len;
    while (i > 0 && path->ptr[i - 1] != '/')
        i--;
    return i == 0 ? 0 : i - 1;
}

static void txn_set_parent(struct tree *t, struct znode *parent, int32_t cversion, int64_t pzxid)
{
    tree_digest_remove(t, parent);
    parent->cversion = cversion;
    parent->pzxid = pzxid;
    tree_digest_add(t, parent);
}

static int txn_apply_create(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
                            struct txn_result *res, struct txn_events *ev, struct txn_undo *undo)
{
    struct tree *t = srv->tree;
    if (txn->path.len <= 0 || txn->path.ptr[0] != '/')
        return ZK_BADARGUMENTS;
    const char *path = (const char *)txn->path.ptr;
    size_t len = (size_t)txn->path.len;
    size_t slash = txn_last_slash(&txn->path);
    struct znode *parent = tree_lookup(t, path, slash);
    if (parent == NULL)
        return ZK_NONODE;
    const char *name = path + slash + 1;
    size_t name_len = len - slash - 1;
    if (tree_child(t, parent, name, name_len))
        return ZK_NODEEXISTS;

    struct znode st = {0};
    st.czxid = st.mzxid = st.pzxid = hdr->zxid;
    st.ctime = st.mtime = hdr->time;
    switch (txn->type) {
    case ZK_OP_CREATECONTAINER:
        st.ephemeral_owner = TREE_OWNER_CONTAINER;
        break;
    case ZK_OP_CREATETTL:
        st.ephemeral_owner = TREE_OWNER_TTL_MASK | (txn->ttl & TREE_TTL_MAX);
        break;
    default:
        st.ephemeral_owner = txn->ephemeral ? hdr->client_id : 0;
        break;
    }
    uint32_t acl = tree_acl_intern(t, txn->acl, txn->nacl);
    if (acl == 0)
        return ZK_SYSTEMERROR;
    int32_t parent_cversion = txn->parent_cversion == -1 ? parent->cversion + 1 : txn->parent_cversion;
    int32_t old_cversion = parent->cversion;
    int64_t old_pzxid = parent->pzxid;
    struct znode *node = tree_insert_path(t, parent, name, name_len, path, len, txn->data.ptr,
                                          txn->data.len > 0 ? (size_t)txn->data.len : 0, acl, &st);
    if (node == NULL) {
        tree_acl_unref(t, acl);
        return ZK_SYSTEMERROR;
    }
    if (parent_cversion > parent->cversion)
        txn_set_parent(t, parent, parent_cversion, hdr->zxid);
    if (tree_node_kind(t, node) == TREE_NODE_EPHEMERAL)
        txn_track_ephemeral(srv, node);
    if (undo) {
        undo->type = txn->type;
        undo->node = node;
        undo->parent = parent;
        undo->parent_cversion = old_cversion;
        undo->parent_pzxid = old_pzxid;
    }
    if (res) {
        res->path = malloc(len + 1);
        if (res->path) {
            memcpy(res->path, path, len);
            res->path[len] = '\0';
        }
        tree_node_stat(node, &res->stat);
    }
    if (undo == NULL) /* else request.c counts it once the multi stands */
        metrics_namespace_write(path, len, txn->data.len > 0 ? txn->data.len : 0); /* DataTree.createNode */
    txn_event_add(ev, ZK_EVENT_CREATED, path, len);
    txn_event_add(ev, ZK_EVENT_CHILDREN_CHANGED, slash ? path : "/", slash ? slash : 1);
    return ZK_OK;
}

static int txn_delete_node(struct server *srv, struct znode *node, int64_t zxid, struct txn_events *ev,
                           struct txn_undo *undo)
{
    struct tree *t = srv->tree;
    struct znode *parent = node->parent;
    if (parent == NULL)
        return ZK_BADARGUMENTS;
    if (node->nchildren > 0)
        return ZK_NOTEMPTY;
    char *path = tree_node_path_dup(node);
    if (path == NULL)
        return ZK_SYSTEMERROR;
    size_t len = strlen(path);
    if (undo) {
        undo->type = ZK_OP_DELETE;
        undo->parent = parent;
        undo->parent_pzxid = parent->pzxid;
        undo->parent_cversion = parent->cversion;
        undo->name_len = node->name_len;
        undo->name = malloc(node->name_len + 1);
        undo->data_len = node->data_len;
        undo->data = node->data_len ? malloc(node->data_len) : NULL;
        if (undo->name == NULL || (node->data_len && undo->data == NULL)) {
            free(undo->name);
            free(undo->data);
            free(path);
            memset(undo, 0, sizeof *undo);
            return ZK_SYSTEMERROR;
        }
        memcpy(undo->name, node->name, node->name_len);
        if (node->data_len)
            memcpy(undo->data, node->data, node->data_len);
        undo->saved = *node;
        tree_acl_ref(t, node->acl);
    }
    txn_remove_node(srv, node);
    if (zxid > parent->pzxid)
        txn_set_parent(t, parent, parent->cversion, zxid);
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/')
        slash--;
    slash = slash ? slash - 1 : 0;
    if (undo == NULL)
        metrics_namespace_write(path, len, 0); /* DataTree.deleteNode */
    txn_event_add(ev, ZK_EVENT_DELETED, path, len);
    txn_event_add(ev, ZK_EVENT_CHILDREN_CHANGED, slash ? path : "/", slash ? slash : 1);
    free(path);
    return ZK_OK;
}

static int txn_apply_delete(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
                            struct txn_events *ev, struct txn_undo *undo)
{
    struct znode *node = tree_lookup(srv->tree, (const char *)txn->path.ptr, txn->path.len > 0 ? (size_t)txn->path.len : 0);
    if (node == NULL || txn->path.len <= 1)
        return node == NULL ? ZK_NONODE : ZK_BADARGUMENTS;
    return txn_delete_node(srv, node, hdr->zxid, ev, undo);
}

static int txn_apply_set_data(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
                              struct txn_result *res, struct txn_events *ev, struct txn_undo *undo)
{
    struct tree *t = srv->tree;
    size_t len = txn->path.len > 0 ? (size_t)txn->path.len : 0;
    struct znode *node = tree_lookup(t, (const char *)txn->path.ptr, len);
    if (node == NULL || len == 0)
        return ZK_NONODE;
    if (undo) {
        undo->type = ZK_OP_SETDATA;
        undo->node = node;
        undo->saved = *node;
        undo->data_len = node->data_len;
        undo->data = node->data_len ? malloc(node->data_len) : NULL;
        if (node->data_len && undo->data == NULL)
            return ZK_SYSTEMERROR;
        if (node->data_len)
            memcpy(undo->data, node->data, node->data_len);
    }
    tree_digest_remove(t, node);
    if (tree_replace_data(t, node, txn->data.ptr, txn->data.len > 0 ? (size_t)txn->data.len : 0) < 0) {
        tree_digest_add(t, node);
        return ZK_SYSTEMERROR;
    }
    node->version = txn->version;
    node->mzxid = hdr->zxid;
    node->mtime = hdr->time;
    tree_digest_add(t, node);
    if (res)
        tree_node_stat(node, &res->stat);
    if (undo == NULL)
        metrics_namespace_write((const char *)txn->path.ptr, len,
                                txn->data.len > 0 ? txn->data.len : 0); /* DataTree.setData */
    txn_event_add(ev, ZK_EVENT_DATA_CHANGED, (const char *)txn->path.ptr, len);
    return ZK_OK;
}

static int txn_apply_set_acl(struct server *srv, const struct proto_txn *txn, struct txn_result *res)
{
    struct tree *t = srv->tree;
    size_t len = txn->path.len > 0 ? (size_t)txn->path.len : 0;
    struct znode *node = tree_lookup(t, (const char *)txn->path.ptr, len);
    if (node == NULL || len == 0)
        return ZK_NONODE;
    uint32_t acl = tree_acl_intern(t, txn->acl, txn->nacl);
    if (acl == 0)
        return ZK_SYSTEMERROR;
    tree_set_acl(t, node, acl);
    tree_digest_remove(t, node);
    node->aversion = txn->version;
    tree_digest_add(t, node);
    if (res)
        tree_node_stat(node, &res->stat);
    return ZK_OK;
}

static int txn_apply_close_session(struct server *srv, const struct proto_txn_header *hdr,
                                   const struct proto_txn *txn, struct txn_events *ev)
{
    struct session *s = server_session_find(srv, hdr->client_id);
    for (int32_t i = 0; i < txn->paths.n; i++) {
        const jute_span *p = &txn->paths.items[i];
        struct znode *node = tree_lookup(srv->tree, (const char *)p->ptr, p->len > 0 ? (size_t)p->len : 0);
        if (node && node->parent && node->ephemeral_owner == hdr->client_id)
            txn_delete_node(srv, node, hdr->zxid, ev, NULL);
    }
    /* Ephemerals the txn did not list (an old-format txn, or created after
     * the close was prepared) go too, as ZooKeeper's killSession does. */
    while (s && s->nephemerals > 0)
        if (txn_delete_node(srv, s->ephemerals[s->nephemerals - 1], hdr->zxid, ev, NULL) != ZK_OK)
            s->nephemerals--;
    if (s)
        server_session_remove(srv, s);
    return ZK_OK;
}

int txn_apply_op(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
                 struct txn_result *res, struct txn_events *ev, struct txn_undo *undo)
{
    if (undo)
        memset(undo, 0, sizeof *undo);
    int rc;
    switch (txn->type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        rc = txn_apply_create(srv, hdr, txn, res, ev, undo);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        rc = txn_apply_delete(srv, hdr, txn, ev, undo);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG: /* a SetDataTxn of /zookeeper/config (version -1) */
        rc = txn_apply_set_data(srv, hdr, txn, res, ev, undo);
        break;
    case ZK_OP_SETACL:
        rc = txn_apply_set_acl(srv, txn, res);
        break;
    case ZK_OP_CHECK:
        rc = ZK_OK;
        break;
    case ZK_OP_ERROR:
        rc = txn->err;
        break;
    case ZK_OP_CREATESESSION:
        if (server_session_find(srv, hdr->client_id) == NULL &&
            server_session_add(srv, hdr->client_id, txn->timeout) == NULL)
            rc = ZK_SYSTEMERROR;
        else
            rc = ZK_OK;
        break;
    case ZK_OP_CLOSESESSION:
        rc = txn_apply_close_session(srv, hdr, txn, ev);
        break;
    default:
        log_warn("txn 0x%llx: unknown txn type %d ignored", (unsigned long long)hdr->zxid, txn->type);
        rc = ZK_OK;
        break;
    }
    if (res)
        res->err = rc;
    return rc;
}

int txn_apply(struct server *srv, const struct proto_txn_header *hdr, const struct proto_txn *txn,
              struct txn_result *res, struct txn_events *ev)
{
    if (txn->type != ZK_OP_MULTI)
        return txn_apply_op(srv, hdr, txn, res, ev, NULL);

    bool failed = false;
    for (int32_t i = 0; i < txn->nmulti; i++)
        if (txn->multi[i].type == ZK_OP_ERROR)
            failed = true;
    if (res) {
        res->err = ZK_OK;
        res->nmulti = (size_t)(txn->nmulti > 0 ? txn->nmulti : 0);
        res->multi = res->nmulti ? calloc(res->nmulti, sizeof *res->multi) : NULL;
        if (res->nmulti && res->multi == NULL)
            res->nmulti = 0;
    }
    bool post_failed = false;
    for (int32_t i = 0; i < txn->nmulti; i++) {
        const struct proto_txn *sub = &txn->multi[i];
        struct txn_sub_result *sr = res && (size_t)i < res->nmulti ? &res->multi[i] : NULL;
        if (failed) {
            int32_t err;
            if (sub->type == ZK_OP_ERROR) {
                err = sub->err;
                post_failed = true;
            } else {
                err = post_failed ? ZK_RUNTIMEINCONSISTENCY : ZK_OK;
            }
            if (sr) {
                sr->type = ZK_OP_ERROR;
                sr->err = err;
            }
            continue;
        }
        struct txn_result one = {0};
        int rc = txn_apply_op(srv, hdr, sub, &one, ev, NULL);
        if (sr) {
            sr->type = rc == ZK_OK ? sub->type : ZK_OP_ERROR;
            sr->err = rc;
            sr->path = one.path;
            one.path = NULL;
            sr->stat = one.stat;
        }
        txn_result_free(&one);
    }
    return ZK_OK;
}

/* -------------------------------------------------------------------- undo */

void txn_undo_apply(struct server *srv, struct txn_undo *u)
{
    struct tree *t = srv->tree;
    switch (u->type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        txn_remove_node(srv, u->node);
        txn_set_parent(t, u->parent, u->parent_cversion, u->parent_pzxid);
        break;
    case ZK_OP_DELETE: {
        struct znode *node = tree_insert(t, u->parent, u->name, u->name_len, u->data, u->data_len,
                                         u->saved.acl, &u->saved);
        if (node) {
            node->data_null = u->saved.data_null;
            u->saved.acl = TREE_ACL_OPEN; /* the reference now belongs to the node */
            if (tree_node_kind(t, node) == TREE_NODE_EPHEMERAL)
                txn_track_ephemeral(srv, node);
        }
        txn_set_parent(t, u->parent, u->parent_cversion, u->parent_pzxid);
        break;
    }
    case ZK_OP_SETDATA:
        tree_set_data(t, u->node, u->data, u->data_len);
        u->node->data_null = u->saved.data_null;
        tree_digest_remove(t, u->node);
        u->node->version = u->saved.version;
        u->node->mzxid = u->saved.mzxid;
        u->node->mtime = u->saved.mtime;
        tree_digest_add(t, u->node);
        break;
    default:
        break;
    }
    txn_undo_release(srv, u);
}

void txn_undo_release(struct server *srv, struct txn_undo *u)
{
    if (u->type == ZK_OP_DELETE)
        tree_acl_unref(srv->tree, u->saved.acl);
    free(u->name);
    free(u->data);
    memset(u, 0, sizeof *u);
}
