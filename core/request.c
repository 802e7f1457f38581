/*
 * One handler per client opcode, with ZooKeeper 3.8's checks in ZooKeeper's
 * order (PrepRequestProcessor for writes, FinalRequestProcessor for reads),
 * so the same bad request fails with the same error code.
 *
 * Writes: a prep function validates against the tree and fills a txn; a
 * failed prep still consumes a zxid as an error txn, as ZooKeeper logs one.
 * multi preps and applies op by op (later ops see earlier ones), and rolls
 * the applied ops back when one fails.
 *
 * Differences from ZooKeeper 3.8, on purpose:
 * - a top-level `check` (opcode 13) that succeeds is logged as an error txn
 *   with code 0 and answered with the node's stat; ZooKeeper 3.8 logs a txn
 *   it cannot read back and never answers;
 * - a reconnect with a wrong password leaves the connection that holds the
 *   session alone (ZooKeeper 3.8 drops it before checking the password, so
 *   anyone who knows a session id can disconnect its owner);
 * - checkWatches reports a watch only if this connection has one on the path
 *   (ZooKeeper 3.8 answers yes when any connection has one there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics_zk.h"
#include "server.h"
#include "quorum.h"
#include "sasl.h"
#include "reconfig.h"
#include "txn.h"

/* A request whose frame is sound but whose body cannot be decoded is answered
 * MARSHALLINGERROR and the connection stays, as in ZooKeeper; a frame that
 * cannot be read (bad length, truncated header) closes the connection. */

/* ----------------------------------------------------------------- helpers */

static bool request_allowed(struct server *srv, struct conn *c, uint32_t acl_ref, int32_t perm)
{
    if (srv->cfg->skip_acl)
        return true;
    size_t n;
    const struct acl_entry *acl = tree_acl_get(srv->tree, acl_ref, &n);
    return acl_check(acl, n, perm, &c->auth, srv->cfg->super_digest) ||
           zsasl_acl_allows(srv->cfg, acl, n, perm, &c->auth);
}

static const char *request_path_str(jute_span path, char *buf, size_t cap);

/* Hand an audited operation to the extension host, if any (hooks.h). */
static void request_audit(struct server *srv, struct conn *c, int64_t session, const char *op, const char *znode,
                          const char *znode_type, const struct acl_entry *acl, size_t nacl, int32_t err)
{
    if (srv->hooks == NULL || srv->hooks->audit == NULL)
        return;
    struct hooks_audit_event ev = {
        .operation = op,
        .session = session,
        .auth = c ? &c->auth : NULL,
        .ip = c ? c->ip : NULL,
        .znode = znode,
        .znode_type = znode_type,
        .acl = acl,
        .nacl = nacl,
        .err = err,
        .result = err == ZK_OK ? HOOKS_RESULT_SUCCESS : HOOKS_RESULT_FAILURE,
    };
    srv->hooks->audit(srv->hooks_ctx, &ev);
}

static void request_audit_span(struct server *srv, struct conn *c, const char *op, jute_span path,
                               const char *znode_type, const struct acl_entry *acl, size_t nacl, int32_t err)
{
    if (srv->hooks == NULL || srv->hooks->audit == NULL)
        return;
    char stackbuf[512];
    size_t n = path.len > 0 ? (size_t)path.len : 0;
    char *p = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (p == NULL)
        return;
    request_path_str(path, p, n + 1);
    request_audit(srv, c, c->session ? c->session->id : 0, op, p, znode_type, acl, nacl, err);
    if (p != stackbuf)
        free(p);
}

static const char *request_create_mode_name(int32_t flags)
{
    static const char *const names[] = {"persistent", "ephemeral", "persistent_sequential", "ephemeral_sequential",
                                        "container", "persistent_with_ttl", "persistent_sequential_with_ttl"};
    return flags >= 0 && flags <= 6 ? names[flags] : NULL;
}

/* The request's path as a C string for messages (truncated if huge). */
static const char *request_path_str(jute_span path, char *buf, size_t cap)
{
    size_t n = path.len > 0 ? (size_t)path.len : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, path.ptr ? (const char *)path.ptr : "", n);
    buf[n] = '\0';
    return buf;
}

static void request_reply_header(struct server *srv, struct conn *c, int32_t xid, int32_t err)
{
    server_reply_begin(srv, xid, srv->last_zxid, err);
    server_reply_end(srv, c, srv->last_zxid, false);
}

/* A write that failed before it became a txn still consumes a zxid with an
 * error txn, which is what the reply header reports. */
static void request_fail_write(struct server *srv, struct conn *c, int32_t xid, int32_t err)
{
    struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = ZK_OP_ERROR};
    struct proto_txn txn = {.type = ZK_OP_ERROR, .err = err};
    server_commit_txn(srv, &hdr, &txn, NULL);
    server_reply_begin(srv, xid, hdr.zxid, err);
    server_reply_end(srv, c, hdr.zxid, false);
}

static void request_malformed(struct server *srv, struct conn *c, int32_t xid, int32_t type, bool write)
{
    char why[96];
    snprintf(why, sizeof why, "malformed %s request (opcode %d)", proto_op_name(type), type);
    log_warn("%s:%d: %s", c->ip, c->port, why);
    if (write)
        request_fail_write(srv, c, xid, ZK_MARSHALLINGERROR);
    else
        request_reply_header(srv, c, xid, ZK_MARSHALLINGERROR);
}

static bool span_has_nul(jute_span s)
{
    return s.len > 0 && memchr(s.ptr, '\0', (size_t)s.len) != NULL;
}

static size_t span_len(jute_span s) { return s.len > 0 ? (size_t)s.len : 0; }

static struct znode *request_lookup(struct server *srv, jute_span path)
{
    if (path.len < 0)
        return NULL;
    return tree_lookup(srv->tree, (const char *)path.ptr, (size_t)path.len);
}

/* The index of the last '/' or -1. */
static ssize_t request_last_slash(jute_span path)
{
    for (ssize_t i = (ssize_t)span_len(path) - 1; i >= 0; i--)
        if (path.ptr[i] == '/')
            return i;
    return -1;
}

/* The reply to reconfig: GetDataResponse of /zookeeper/config. */
static void request_reconfig_reply(struct server *srv, struct conn *c, int32_t xid, int64_t zxid, int32_t err)
{
    server_reply_begin(srv, xid, zxid, err);
    if (err == ZK_OK) {
        struct znode *z = tree_lookup(srv->tree, "/zookeeper/config", 17);
        struct zk_stat st = {0};
        if (z) {
            tree_node_stat(z, &st);
            jute_write_bytes(&srv->out, z->data, (int32_t)z->data_len);
        } else {
            jute_write_bytes(&srv->out, "", 0);
        }
        proto_write_stat(&srv->out, &st);
    }
    server_reply_end(srv, c, zxid, false);
}

/* ------------------------------------------------------------- write preps */

/* Everything a prepared write owns besides the request packet. */
struct request_prep {
    struct proto_txn txn;
    char *path; /* the final path (sequential suffix added) */
    struct acl_entry *acl;
    size_t nacl;
};

static void request_prep_free(struct request_prep *p)
{
    free(p->path);
    acl_entries_free(p->acl, p->nacl);
    memset(p, 0, sizeof *p);
}

static int request_prep_create(struct server *srv, struct conn *c, int32_t type,
                               const struct proto_create_request *req, struct request_prep *out)
{
    int32_t flags = req->flags;
    if (flags < ZK_CREATE_PERSISTENT || flags > ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL)
        return ZK_BADARGUMENTS;
    bool ttl_mode = flags == ZK_CREATE_PERSISTENT_WITH_TTL || flags == ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    bool sequential = flags == ZK_CREATE_PERSISTENT_SEQUENTIAL || flags == ZK_CREATE_EPHEMERAL_SEQUENTIAL ||
                      flags == ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    bool ephemeral = flags == ZK_CREATE_EPHEMERAL || flags == ZK_CREATE_EPHEMERAL_SEQUENTIAL;
    int64_t ttl = type == ZK_OP_CREATETTL ? req->ttl : -1;
    if (ttl_mode && !srv->cfg->extended_types_enabled)
        return ZK_UNIMPLEMENTED;
    if (ttl_mode ? (ttl <= 0 || ttl > TREE_TTL_MAX) : ttl >= 0)
        return ZK_BADARGUMENTS;

    ssize_t slash = request_last_slash(req->path);
    if (slash < 0 || span_has_nul(req->path))
        return ZK_BADARGUMENTS;
    if (zsasl_acl_fixup(srv->cfg, req->acl, req->nacl, &c->auth, &out->acl, &out->nacl) != 0)
        return ZK_INVALIDACL;
    struct znode *parent = tree_lookup(srv->tree, (const char *)req->path.ptr, (size_t)slash);
    if (parent == NULL)
        return ZK_NONODE;
    if (!request_allowed(srv, c, parent->acl, ZK_PERM_CREATE))
        return ZK_NOAUTH;

    size_t len = span_len(req->path);
    out->path = malloc(len + 12);
    if (out->path == NULL)
        return ZK_SYSTEMERROR;
    memcpy(out->path, req->path.ptr, len);
    if (sequential)
        len += (size_t)snprintf(out->path + len, 12, "%010d", parent->cversion);
    out->path[len] = '\0';
    if (tree_validate_path(out->path, len) < 0)
        return ZK_BADARGUMENTS;
    if (tree_child(srv->tree, parent, out->path + slash + 1, len - (size_t)slash - 1))
        return ZK_NODEEXISTS;
    if (tree_node_kind(srv->tree, parent) == TREE_NODE_EPHEMERAL)
        return ZK_NOCHILDRENFOREPHEMERALS;

    struct proto_txn *t = &out->txn;
    t->type = type;
    t->path = (jute_span){(const uint8_t *)out->path, (int32_t)len};
    t->data = req->data;
    t->acl = out->acl;
    t->nacl = out->nacl;
    t->ephemeral = ephemeral;
    t->parent_cversion = parent->cversion + 1;
    t->ttl = ttl;
    return ZK_OK;
}

static bool request_special_path(jute_span path)
{
    static const char *const special[] = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (span_len(path) == strlen(special[i]) && memcmp(path.ptr, special[i], span_len(path)) == 0)
            return true;
    return false;
}

static int request_prep_delete(struct server *srv, struct conn *c, const struct proto_path_version_request *req,
                               struct request_prep *out)
{
    ssize_t slash = request_last_slash(req->path);
    if (slash < 0 || span_has_nul(req->path) || request_special_path(req->path))
        return ZK_BADARGUMENTS;
    struct znode *parent = tree_lookup(srv->tree, (const char *)req->path.ptr, (size_t)slash);
    if (parent == NULL)
        return ZK_NONODE;
    if (!request_allowed(srv, c, parent->acl, ZK_PERM_DELETE))
        return ZK_NOAUTH;
    struct znode *node = request_lookup(srv, req->path);
    if (node == NULL || node->parent != parent)
        return ZK_NONODE;
    if (req->version != -1 && req->version != node->version)
        return ZK_BADVERSION;
    if (node->nchildren > 0)
        return ZK_NOTEMPTY;
    out->txn.type = ZK_OP_DELETE;
    out->txn.path = req->path;
    return ZK_OK;
}

/* setData and check: the same checks, WRITE or READ permission; the txn
 * carries the next data version (setData also the data). */
static int request_prep_versioned(struct server *srv, struct conn *c, const struct proto_path_version_request *req,
                                  int32_t type, struct request_prep *out)
{
    if (tree_validate_path((const char *)req->path.ptr, span_len(req->path)) < 0)
        return ZK_BADARGUMENTS;
    struct znode *node = request_lookup(srv, req->path);
    if (node == NULL)
        return ZK_NONODE;
    if (!request_allowed(srv, c, node->acl, type == ZK_OP_SETDATA ? ZK_PERM_WRITE : ZK_PERM_READ))
        return ZK_NOAUTH;
    if (req->version != -1 && req->version != node->version)
        return ZK_BADVERSION;
    out->txn.type = type;
    out->txn.path = req->path;
    if (type == ZK_OP_SETDATA)
        out->txn.data = req->data;
    out->txn.version = node->version + 1;
    return ZK_OK;
}

/* ------------------------------------------------------------ single writes */

static void request_create(struct server *srv, struct conn *c, int32_t xid, int32_t type, jute_reader *r)
{
    struct proto_create_request req;
    if (proto_read_create_request(r, type == ZK_OP_CREATETTL, &req) < 0) {
        request_malformed(srv, c, xid, type, true);
        return;
    }
    struct request_prep prep = {0};
    int err = request_prep_create(srv, c, type, &req, &prep);
    if (err != ZK_OK) {
        request_fail_write(srv, c, xid, err);
        request_audit_span(srv, c, "create", req.path, request_create_mode_name(req.flags), NULL, 0, err);
    } else {
        struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = type};
        struct txn_result res = {0};
        err = server_commit_txn(srv, &hdr, &prep.txn, &res);
        server_reply_begin(srv, xid, hdr.zxid, err);
        if (err == ZK_OK) {
            jute_write_string(&srv->out, res.path);
            if (type != ZK_OP_CREATE)
                proto_write_stat(&srv->out, &res.stat);
        }
        server_reply_end(srv, c, hdr.zxid, false);
        request_audit(srv, c, c->session ? c->session->id : 0, "create", err == ZK_OK ? res.path : prep.path,
                      request_create_mode_name(req.flags), NULL, 0, err);
        txn_result_free(&res);
    }
    request_prep_free(&prep);
    proto_create_request_free(&req);
}

static void request_path_version_write(struct server *srv, struct conn *c, int32_t xid, int32_t type,
                                       jute_reader *r)
{
    struct proto_path_version_request req;
    int rc = type == ZK_OP_DELETE  ? proto_read_delete_request(r, &req)
             : type == ZK_OP_CHECK ? proto_read_check_version_request(r, &req)
                                   : proto_read_set_data_request(r, &req);
    if (rc < 0) {
        request_malformed(srv, c, xid, type, true);
        return;
    }
    struct request_prep prep = {0};
    int err = type == ZK_OP_DELETE ? request_prep_delete(srv, c, &req, &prep)
                                   : request_prep_versioned(srv, c, &req, type, &prep);
    const char *audit_op = type == ZK_OP_DELETE ? "delete" : type == ZK_OP_SETDATA ? "setData" : NULL;
    if (err != ZK_OK) {
        request_fail_write(srv, c, xid, err);
        if (audit_op)
            request_audit_span(srv, c, audit_op, req.path, NULL, NULL, 0, err);
        request_prep_free(&prep);
        return;
    }
    struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = type};
    struct txn_result res = {0};
    if (type == ZK_OP_CHECK) {
        /* Logged as a no-op error txn (code 0) so the log stays readable by
         * ZooKeeper; answered with the node's stat. */
        hdr.type = ZK_OP_ERROR;
        prep.txn.type = ZK_OP_ERROR;
        prep.txn.err = ZK_OK;
        err = server_commit_txn(srv, &hdr, &prep.txn, &res);
        struct znode *node = request_lookup(srv, req.path);
        if (node)
            tree_node_stat(node, &res.stat);
    } else {
        err = server_commit_txn(srv, &hdr, &prep.txn, &res);
    }
    server_reply_begin(srv, xid, hdr.zxid, err);
    if (err == ZK_OK && type != ZK_OP_DELETE)
        proto_write_stat(&srv->out, &res.stat);
    server_reply_end(srv, c, hdr.zxid, false);
    if (audit_op)
        request_audit_span(srv, c, audit_op, req.path, NULL, NULL, 0, err);
    txn_result_free(&res);
    request_prep_free(&prep);
}

static void request_set_acl(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct proto_set_acl_request req;
    if (proto_read_set_acl_request(r, &req) < 0) {
        request_malformed(srv, c, xid, ZK_OP_SETACL, true);
        return;
    }
    struct request_prep prep = {0};
    int err = ZK_OK;
    struct znode *node = NULL;
    if (tree_validate_path((const char *)req.path.ptr, span_len(req.path)) < 0)
        err = ZK_BADARGUMENTS;
    else if (zsasl_acl_fixup(srv->cfg, req.acl, req.nacl, &c->auth, &prep.acl, &prep.nacl) != 0)
        err = ZK_INVALIDACL;
    else if ((node = request_lookup(srv, req.path)) == NULL)
        err = ZK_NONODE;
    else if (!request_allowed(srv, c, node->acl, ZK_PERM_ADMIN))
        err = ZK_NOAUTH;
    else if (req.version != -1 && req.version != node->aversion)
        err = ZK_BADVERSION;
    if (err != ZK_OK) {
        request_fail_write(srv, c, xid, err);
        request_audit_span(srv, c, "setAcl", req.path, NULL, req.acl, req.nacl, err);
    } else {
        prep.txn.type = ZK_OP_SETACL;
        prep.txn.path = req.path;
        prep.txn.acl = prep.acl;
        prep.txn.nacl = prep.nacl;
        prep.txn.version = node->aversion + 1;
        struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = ZK_OP_SETACL};
        struct txn_result res = {0};
        err = server_commit_txn(srv, &hdr, &prep.txn, &res);
        server_reply_begin(srv, xid, hdr.zxid, err);
        if (err == ZK_OK)
            proto_write_stat(&srv->out, &res.stat);
        server_reply_end(srv, c, hdr.zxid, false);
        request_audit_span(srv, c, "setAcl", req.path, NULL, req.acl, req.nacl, err);
        txn_result_free(&res);
    }
    request_prep_free(&prep);
    acl_entries_free(req.acl, req.nacl);
}

/* -------------------------------------------------------------------- multi */

struct request_multi_op {
    int32_t type;
    struct proto_create_request create;
    struct proto_path_version_request pv;
    bool has_create;
};

static void request_multi_ops_free(struct request_multi_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].has_create)
            proto_create_request_free(&ops[i].create);
    free(ops);
}

/* Decode a multi body. Returns 0, or ZK_MARSHALLINGERROR for a malformed or
 * mixed (read and write) request. */
static int request_multi_decode(jute_reader *r, bool reads, struct request_multi_op **out, size_t *nout)
{
    size_t n = 0, cap = 0;
    struct request_multi_op *ops = NULL;
    int rc = 0;
    for (;;) {
        struct proto_multi_header mh;
        if (proto_read_multi_header(r, &mh) < 0) {
            rc = ZK_MARSHALLINGERROR;
            break;
        }
        if (mh.done)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct request_multi_op *o = realloc(ops, cap * sizeof *o);
            if (o == NULL) {
                rc = ZK_MARSHALLINGERROR;
                break;
            }
            ops = o;
        }
        struct request_multi_op *op = &ops[n];
        memset(op, 0, sizeof *op);
        op->type = mh.type;
        int drc;
        switch (mh.type) {
        case ZK_OP_CREATE:
        case ZK_OP_CREATE2:
        case ZK_OP_CREATECONTAINER:
        case ZK_OP_CREATETTL:
            drc = reads ? -1 : proto_read_create_request(r, mh.type == ZK_OP_CREATETTL, &op->create);
            op->has_create = drc == 0;
            break;
        case ZK_OP_DELETE:
            drc = reads ? -1 : proto_read_delete_request(r, &op->pv);
            break;
        case ZK_OP_SETDATA:
            drc = reads ? -1 : proto_read_set_data_request(r, &op->pv);
            break;
        case ZK_OP_CHECK:
            drc = reads ? -1 : proto_read_check_version_request(r, &op->pv);
            break;
        case ZK_OP_GETDATA:
        case ZK_OP_GETCHILDREN: {
            struct proto_path_watch_request pw;
            drc = reads ? proto_read_path_watch_request(r, &pw) : -1;
            op->pv.path = pw.path;
            break;
        }
        default:
            drc = -1;
            break;
        }
        n++;
        if (drc < 0) {
            rc = ZK_MARSHALLINGERROR;
            break;
        }
    }
    *out = ops;
    *nout = n;
    return rc;
}

/* The reply to a multi from its per-op results. */
static void request_write_multi_reply(struct server *srv, struct conn *c, int32_t xid, int64_t zxid,
                                      const struct txn_sub_result *results, size_t n)
{
    server_reply_begin(srv, xid, zxid, ZK_OK);
    jute_writer *o = &srv->out;
    for (size_t i = 0; i < n; i++) {
        const struct txn_sub_result *sr = &results[i];
        if (sr->type == ZK_OP_ERROR) {
            proto_write_multi_header(o, ZK_OP_ERROR, false, sr->err);
            jute_write_int(o, sr->err);
            continue;
        }
        switch (sr->type) {
        case ZK_OP_CREATE:
            proto_write_multi_header(o, ZK_OP_CREATE, false, 0);
            jute_write_string(o, sr->path);
            break;
        case ZK_OP_CREATE2:
        case ZK_OP_CREATECONTAINER:
        case ZK_OP_CREATETTL:
            proto_write_multi_header(o, ZK_OP_CREATE2, false, 0);
            jute_write_string(o, sr->path);
            proto_write_stat(o, &sr->stat);
            break;
        case ZK_OP_SETDATA:
            proto_write_multi_header(o, ZK_OP_SETDATA, false, 0);
            proto_write_stat(o, &sr->stat);
            break;
        default: /* delete, check */
            proto_write_multi_header(o, sr->type, false, 0);
            break;
        }
    }
    proto_write_multi_header(o, -1, true, -1);
    server_reply_end(srv, c, zxid, false);
}

/* reconfig (ZooKeeper's PrepRequestProcessor order: disabled, standalone,
 * the config checks, then the ACL of /zookeeper/config, which only a super
 * user passes unless skipACL). */
static void request_reconfig(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct proto_reconfig_request req;
    if (proto_read_reconfig_request(r, &req) < 0) {
        request_malformed(srv, c, xid, ZK_OP_RECONFIG, true);
        return;
    }
    int32_t err = ZK_OK;
    char *text = NULL;
    size_t len = 0;
    int64_t zxid = server_next_zxid(srv);
    if (!srv->cfg->reconfig_enabled) {
        log_error("Reconfig operation requested but reconfig feature is disabled.");
        err = ZK_RECONFIGDISABLED;
    } else if (srv->qp == NULL || srv->qp->leader == NULL) {
        err = ZK_UNIMPLEMENTED; /* standalone: as ZooKeeper */
    } else {
        err = reconfig_build(srv, &req, zxid, &text, &len);
        if (err == ZK_OK) {
            struct znode *cfgnode = tree_lookup(srv->tree, "/zookeeper/config", 17);
            if (!srv->cfg->skip_acl && (cfgnode == NULL || !request_allowed(srv, c, cfgnode->acl, ZK_PERM_WRITE)))
                err = ZK_NOAUTH;
        }
    }
    if (err != ZK_OK) {
        free(text);
        request_fail_write(srv, c, xid, err);
        request_audit(srv, c, c->session->id, "reconfig", NULL, NULL, NULL, 0, err);
        return;
    }
    static const char config_path[] = "/zookeeper/config";
    struct proto_txn txn = {.type = ZK_OP_RECONFIG,
                            .path = {(const uint8_t *)config_path, (int32_t)(sizeof config_path - 1)},
                            .data = {(const uint8_t *)text, (int32_t)len},
                            .version = -1};
    struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = ZK_OP_RECONFIG};
    struct txn_result res = {0};
    err = server_commit_txn(srv, &hdr, &txn, &res);
    txn_result_free(&res);
    free(text);
    request_reconfig_reply(srv, c, xid, hdr.zxid, err);
    request_audit(srv, c, c->session->id, "reconfig", NULL, NULL, NULL, 0, err);
}

static void request_multi(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct request_multi_op *ops;
    size_t n;
    if (request_multi_decode(r, false, &ops, &n) != 0) {
        request_multi_ops_free(ops, n);
        log_warn("%s:%d: malformed or mixed multi request", c->ip, c->port);
        request_fail_write(srv, c, xid, ZK_MARSHALLINGERROR);
        return;
    }
    struct proto_txn_header hdr = {.client_id = c->session->id, .cxid = xid, .type = ZK_OP_MULTI,
                                   .zxid = server_next_zxid(srv), .time = loop_wall_ms()};
    struct request_prep *preps = calloc(n ? n : 1, sizeof *preps);
    struct proto_txn *subs = calloc(n ? n : 1, sizeof *subs);
    struct txn_undo *undos = calloc(n ? n : 1, sizeof *undos);
    struct txn_sub_result *results = calloc(n ? n : 1, sizeof *results);
    struct txn_events ev = {0};
    if (!preps || !subs || !undos || !results) {
        free(preps);
        free(subs);
        free(undos);
        free(results);
        request_multi_ops_free(ops, n);
        request_fail_write(srv, c, xid, ZK_SYSTEMERROR);
        return;
    }
    size_t failed_at = n;
    for (size_t i = 0; i < n; i++) {
        int err;
        switch (ops[i].type) {
        case ZK_OP_DELETE:
            err = request_prep_delete(srv, c, &ops[i].pv, &preps[i]);
            break;
        case ZK_OP_SETDATA:
        case ZK_OP_CHECK:
            err = request_prep_versioned(srv, c, &ops[i].pv, ops[i].type, &preps[i]);
            break;
        default:
            err = request_prep_create(srv, c, ops[i].type, &ops[i].create, &preps[i]);
            break;
        }
        if (err == ZK_OK) {
            struct txn_result res = {0};
            err = txn_apply_op(srv, &hdr, &preps[i].txn, &res, &ev, &undos[i]);
            results[i].path = res.path;
            res.path = NULL;
            results[i].stat = res.stat;
            txn_result_free(&res);
        }
        if (err != ZK_OK) {
            failed_at = i;
            results[i].err = err;
            break;
        }
        subs[i] = preps[i].txn;
    }
    if (failed_at < n) {
        for (size_t i = failed_at; i-- > 0;)
            txn_undo_apply(srv, &undos[i]);
        txn_events_clear(&ev);
        for (size_t i = 0; i < n; i++) {
            subs[i] = (struct proto_txn){.type = ZK_OP_ERROR,
                                         .err = i < failed_at ? ZK_OK
                                                : i == failed_at ? results[failed_at].err
                                                                 : ZK_RUNTIMEINCONSISTENCY};
            /* The log keeps the prepared txns before the failure, as ZooKeeper's does. */
            if (i < failed_at)
                subs[i] = preps[i].txn;
            results[i].type = ZK_OP_ERROR;
            results[i].err = i < failed_at ? ZK_OK : i == failed_at ? results[i].err : ZK_RUNTIMEINCONSISTENCY;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            txn_undo_release(srv, &undos[i]);
            results[i].type = ops[i].type;
            /* Applied op by op with undo, so counted here, once the multi
             * stands (txn.c counts every other applied txn). */
            if (ops[i].type != ZK_OP_CHECK)
                metrics_namespace_write((const char *)preps[i].txn.path.ptr, span_len(preps[i].txn.path),
                                        (int64_t)span_len(preps[i].txn.data)); /* delete: none */
        }
    }
    /* Log the multi txn (already applied op by op). */
    struct proto_txn multi = {.type = ZK_OP_MULTI, .multi = subs, .nmulti = (int32_t)n};
    srv->last_zxid = hdr.zxid;
    server_log_txn(srv, &hdr, &multi);
    txn_fire_events(srv, &ev);
    txn_events_free(&ev);

    request_write_multi_reply(srv, c, xid, hdr.zxid, results, n);

    /* Audit as ZooKeeper does: each op of a successful multi, or one
     * failed multiOperation. */
    if (failed_at < n) {
        request_audit(srv, c, c->session->id, "multiOperation", NULL, NULL, NULL, 0, results[failed_at].err);
    } else {
        for (size_t i = 0; i < n; i++) {
            int32_t t = ops[i].type;
            if (t == ZK_OP_CHECK)
                continue;
            if (t == ZK_OP_DELETE || t == ZK_OP_SETDATA)
                request_audit_span(srv, c, t == ZK_OP_DELETE ? "delete" : "setData", ops[i].pv.path, NULL, NULL, 0,
                                   ZK_OK);
            else
                request_audit(srv, c, c->session->id, "create", results[i].path,
                              request_create_mode_name(ops[i].create.flags), NULL, 0, ZK_OK);
        }
    }

    for (size_t i = 0; i < n; i++) {
        free(results[i].path);
        request_prep_free(&preps[i]);
    }
    free(preps);
    free(subs);
    free(undos);
    free(results);
    request_multi_ops_free(ops, n);
}

/* -------------------------------------------------------------------- reads */

static void request_exists(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct proto_path_watch_request req;
    if (proto_read_path_watch_request(r, &req) < 0) {
        request_malformed(srv, c, xid, ZK_OP_EXISTS, false);
        return;
    }
    if (span_has_nul(req.path)) {
        request_reply_header(srv, c, xid, ZK_BADARGUMENTS);
        return;
    }
    struct znode *node = request_lookup(srv, req.path);
    if (req.watch)
        watch_add(&srv->data_watches, (const char *)req.path.ptr, span_len(req.path), &c->watcher, WATCH_STANDARD);
    if (node == NULL) {
        request_reply_header(srv, c, xid, ZK_NONODE);
        return;
    }
    metrics_namespace_read((const char *)req.path.ptr, span_len(req.path), 0); /* DataTree.statNode */
    struct zk_stat st;
    tree_node_stat(node, &st);
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    proto_write_stat(&srv->out, &st);
    server_reply_end(srv, c, srv->last_zxid, false);
}

/* getData body for a node the caller may read; also used by multiRead. */
/* The node at path if the caller holds perm on it; else NULL and *err says
 * why (NoNode before NoAuth, as ZooKeeper checks). */
static struct znode *request_node_for(struct server *srv, struct conn *c, jute_span path, int32_t perm, int *err)
{
    struct znode *node = request_lookup(srv, path);
    *err = node == NULL ? ZK_NONODE : !request_allowed(srv, c, node->acl, perm) ? ZK_NOAUTH : ZK_OK;
    return *err == ZK_OK ? node : NULL;
}

static int request_get_data_body(struct server *srv, struct conn *c, jute_span path, bool watch, jute_writer *w)
{
    int err;
    struct znode *node = request_node_for(srv, c, path, ZK_PERM_READ, &err);
    if (node == NULL)
        return err;
    if (watch)
        watch_add(&srv->data_watches, (const char *)path.ptr, span_len(path), &c->watcher, WATCH_STANDARD);
    metrics_namespace_read((const char *)path.ptr, span_len(path), node->data_len); /* DataTree.getData */
    struct zk_stat st;
    tree_node_stat(node, &st);
    if (w) {
        jute_write_bytes(w, node->data_null ? NULL : (node->data ? (const void *)node->data : ""), (int32_t)node->data_len);
        proto_write_stat(w, &st);
    }
    return ZK_OK;
}

static int request_get_children_body(struct server *srv, struct conn *c, jute_span path, bool watch, bool with_stat,
                                     jute_writer *w)
{
    int err;
    struct znode *node = request_node_for(srv, c, path, ZK_PERM_READ, &err);
    if (node == NULL)
        return err;
    if (watch)
        watch_add(&srv->child_watches, (const char *)path.ptr, span_len(path), &c->watcher, WATCH_STANDARD);
    proto_write_string_count(w, (int32_t)node->nchildren);
    bool count = metrics_zk_enabled();
    int64_t names = 0;
    for (uint32_t i = 0; i < node->nchildren; i++) {
        jute_write_bytes(w, node->children[i]->name, (int32_t)node->children[i]->name_len);
        if (count)
            names += (int64_t)metrics_java_length(node->children[i]->name, node->children[i]->name_len);
    }
    metrics_namespace_read((const char *)path.ptr, span_len(path), names); /* DataTree.getChildren */
    if (with_stat) {
        struct zk_stat st;
        tree_node_stat(node, &st);
        proto_write_stat(w, &st);
    }
    return ZK_OK;
}

static void request_path_watch_read(struct server *srv, struct conn *c, int32_t xid, int32_t type, jute_reader *r)
{
    struct proto_path_watch_request req;
    if (proto_read_path_watch_request(r, &req) < 0) {
        request_malformed(srv, c, xid, type, false);
        return;
    }
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    int err = type == ZK_OP_GETDATA
                  ? request_get_data_body(srv, c, req.path, req.watch, &srv->out)
                  : request_get_children_body(srv, c, req.path, req.watch, type == ZK_OP_GETCHILDREN2, &srv->out);
    if (err != ZK_OK) {
        request_reply_header(srv, c, xid, err);
        return;
    }
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_get_acl(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    jute_span path;
    if (proto_read_path_request(r, &path) < 0) {
        request_malformed(srv, c, xid, ZK_OP_GETACL, false);
        return;
    }
    int err;
    struct znode *node = request_node_for(srv, c, path, ZK_PERM_READ | ZK_PERM_ADMIN, &err);
    if (node == NULL) {
        request_reply_header(srv, c, xid, err);
        return;
    }
    size_t n;
    const struct acl_entry *acl = tree_acl_get(srv->tree, node->acl, &n);
    struct zk_stat st;
    tree_node_stat(node, &st);
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    if (request_allowed(srv, c, node->acl, ZK_PERM_ADMIN)) {
        proto_write_acl_list(&srv->out, acl, n);
    } else {
        /* Without ADMIN the digest hashes are masked, as ZooKeeper does. */
        struct acl_entry *copy = calloc(n ? n : 1, sizeof *copy);
        bool ok = copy != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            copy[i].perms = acl[i].perms;
            copy[i].id.scheme = strdup(acl[i].id.scheme);
            copy[i].id.id = strdup(acl[i].id.id);
            ok = copy[i].id.scheme && copy[i].id.id;
        }
        if (ok) {
            acl_mask_digest(copy, n);
            proto_write_acl_list(&srv->out, copy, n);
        } else {
            srv->out.oom = true;
        }
        acl_entries_free(copy, n);
    }
    proto_write_stat(&srv->out, &st);
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_get_all_children_number(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    jute_span path;
    if (proto_read_path_request(r, &path) < 0) {
        request_malformed(srv, c, xid, ZK_OP_GETALLCHILDRENNUMBER, false);
        return;
    }
    int err;
    struct znode *node = request_node_for(srv, c, path, ZK_PERM_READ, &err);
    if (node == NULL) {
        request_reply_header(srv, c, xid, err);
        return;
    }
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    jute_write_int(&srv->out, (int32_t)tree_count_descendants(node));
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_sync(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    jute_span path;
    if (proto_read_path_request(r, &path) < 0) {
        request_malformed(srv, c, xid, ZK_OP_SYNC, false);
        return;
    }
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    jute_write_bytes(&srv->out, path.ptr, path.len);
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_get_ephemerals(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    jute_span prefix;
    if (proto_read_path_request(r, &prefix) < 0) {
        request_malformed(srv, c, xid, ZK_OP_GETEPHEMERALS, false);
        return;
    }
    /* null, blank or "/" means all of the caller's ephemerals. */
    size_t plen = span_len(prefix);
    const char *p = (const char *)prefix.ptr;
    size_t start = 0, end = plen;
    while (start < end && (unsigned char)p[start] <= ' ')
        start++;
    while (end > start && (unsigned char)p[end - 1] <= ' ')
        end--;
    bool all = prefix.len < 0 || end == start || (end - start == 1 && p[start] == '/');
    struct session *s = c->session;
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    size_t count_at = srv->out.len;
    proto_write_string_count(&srv->out, 0);
    int32_t count = 0;
    for (size_t i = 0; s && i < s->nephemerals; i++) {
        char *path = tree_node_path_dup(s->ephemerals[i]);
        if (path == NULL) {
            srv->out.oom = true;
            break;
        }
        size_t len = strlen(path);
        if (all || (len >= plen && memcmp(path, p, plen) == 0)) {
            jute_write_bytes(&srv->out, path, (int32_t)len);
            count++;
        }
        free(path);
    }
    jute_patch_int(&srv->out, count_at, count);
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_watch_op(struct server *srv, struct conn *c, int32_t xid, int32_t type, jute_reader *r)
{
    struct proto_path_int_request req;
    if (proto_read_path_int_request(r, &req) < 0) {
        request_malformed(srv, c, xid, type, false);
        return;
    }
    const char *path = (const char *)req.path.ptr;
    size_t len = span_len(req.path);
    if (type == ZK_OP_ADDWATCH) {
        if (req.value != ZK_ADDWATCH_PERSISTENT && req.value != ZK_ADDWATCH_PERSISTENT_RECURSIVE) {
            request_reply_header(srv, c, xid, ZK_MARSHALLINGERROR);
            return;
        }
        enum watch_mode mode = req.value == ZK_ADDWATCH_PERSISTENT ? WATCH_PERSISTENT : WATCH_RECURSIVE;
        watch_add(&srv->child_watches, path, len, &c->watcher, mode);
        watch_add(&srv->data_watches, path, len, &c->watcher, mode);
        server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
        jute_write_int(&srv->out, 0);
        server_reply_end(srv, c, srv->last_zxid, false);
        return;
    }
    bool children = req.value == ZK_WATCHER_CHILDREN || req.value == ZK_WATCHER_ANY;
    bool data = req.value == ZK_WATCHER_DATA || req.value == ZK_WATCHER_ANY;
    bool found = false;
    if (type == ZK_OP_CHECKWATCHES) {
        found = (children && watch_contains(&srv->child_watches, path, len, &c->watcher)) ||
                (data && watch_contains(&srv->data_watches, path, len, &c->watcher));
    } else {
        if (children && watch_remove(&srv->child_watches, path, len, &c->watcher))
            found = true;
        if (data && watch_remove(&srv->data_watches, path, len, &c->watcher))
            found = true;
    }
    request_reply_header(srv, c, xid, found ? ZK_OK : ZK_NOWATCHER);
}

static void request_notify_one(struct server *srv, struct conn *c, int32_t type, jute_span path)
{
    server_reply_begin(srv, ZK_XID_NOTIFICATION, -1, ZK_OK);
    proto_write_watcher_event(&srv->out, type, ZK_STATE_SYNC_CONNECTED, (const char *)path.ptr, span_len(path));
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_set_watches(struct server *srv, struct conn *c, int32_t xid, int32_t type, jute_reader *r)
{
    struct proto_set_watches_request req;
    if (proto_read_set_watches_request(r, type == ZK_OP_SETWATCHES2, &req) < 0) {
        request_malformed(srv, c, xid, type, false);
        return;
    }
    int64_t rz = req.relative_zxid;
    for (int32_t i = 0; i < req.data.n; i++) {
        jute_span p = req.data.items[i];
        struct znode *node = request_lookup(srv, p);
        if (node == NULL)
            request_notify_one(srv, c, ZK_EVENT_DELETED, p);
        else if (node->mzxid > rz)
            request_notify_one(srv, c, ZK_EVENT_DATA_CHANGED, p);
        else
            watch_add(&srv->data_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_STANDARD);
    }
    for (int32_t i = 0; i < req.exist.n; i++) {
        jute_span p = req.exist.items[i];
        if (request_lookup(srv, p) != NULL)
            request_notify_one(srv, c, ZK_EVENT_CREATED, p);
        else
            watch_add(&srv->data_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_STANDARD);
    }
    for (int32_t i = 0; i < req.child.n; i++) {
        jute_span p = req.child.items[i];
        struct znode *node = request_lookup(srv, p);
        if (node == NULL)
            request_notify_one(srv, c, ZK_EVENT_DELETED, p);
        else if (node->pzxid > rz)
            request_notify_one(srv, c, ZK_EVENT_CHILDREN_CHANGED, p);
        else
            watch_add(&srv->child_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_STANDARD);
    }
    for (int32_t i = 0; i < req.persistent.n; i++) {
        jute_span p = req.persistent.items[i];
        watch_add(&srv->child_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_PERSISTENT);
        watch_add(&srv->data_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_PERSISTENT);
    }
    for (int32_t i = 0; i < req.persistent_recursive.n; i++) {
        jute_span p = req.persistent_recursive.items[i];
        watch_add(&srv->child_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_RECURSIVE);
        watch_add(&srv->data_watches, (const char *)p.ptr, span_len(p), &c->watcher, WATCH_RECURSIVE);
    }
    proto_set_watches_request_free(&req);
    request_reply_header(srv, c, xid, ZK_OK);
}

static void request_who_am_i(struct server *srv, struct conn *c, int32_t xid)
{
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    jute_write_int(&srv->out, (int32_t)c->auth.nids);
    for (size_t i = 0; i < c->auth.nids; i++) {
        const struct acl_id *id = &c->auth.ids[i];
        jute_write_string(&srv->out, id->scheme);
        if (strcmp(id->scheme, "digest") == 0) {
            const char *colon = strchr(id->id, ':');
            jute_write_bytes(&srv->out, id->id, colon ? (int32_t)(colon - id->id) : (int32_t)strlen(id->id));
        } else if (strcmp(id->scheme, "ip") == 0 || (strcmp(id->scheme, "sasl") == 0 && srv->cfg->sasl_provider)) {
            jute_write_string(&srv->out, id->id);
        } else {
            /* AuthUtil.getClientInfos: "" when the scheme has no provider. */
            jute_write_string(&srv->out, "");
        }
    }
    server_reply_end(srv, c, srv->last_zxid, false);
}

static void request_multi_read(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct request_multi_op *ops;
    size_t n;
    if (request_multi_decode(r, true, &ops, &n) != 0) {
        request_multi_ops_free(ops, n);
        request_malformed(srv, c, xid, ZK_OP_MULTIREAD, false);
        return;
    }
    server_reply_begin(srv, xid, srv->last_zxid, ZK_OK);
    jute_writer *o = &srv->out;
    for (size_t i = 0; i < n; i++) {
        size_t mark = o->len;
        proto_write_multi_header(o, ops[i].type, false, 0);
        int err = ops[i].type == ZK_OP_GETDATA ? request_get_data_body(srv, c, ops[i].pv.path, false, o)
                                               : request_get_children_body(srv, c, ops[i].pv.path, false, false, o);
        if (err != ZK_OK) {
            o->len = mark;
            proto_write_multi_header(o, ZK_OP_ERROR, false, err);
            jute_write_int(o, err);
        }
    }
    proto_write_multi_header(o, -1, true, -1);
    server_reply_end(srv, c, srv->last_zxid, false);
    request_multi_ops_free(ops, n);
}

static void request_auth(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    struct proto_auth_request req;
    if (proto_read_auth_request(r, &req) < 0) {
        request_malformed(srv, c, xid, ZK_OP_AUTH, false);
        return;
    }
    char scheme[64];
    size_t sl = span_len(req.scheme);
    int rc = -1;
    if (sl < sizeof scheme && !span_has_nul(req.scheme)) {
        memcpy(scheme, req.scheme.ptr, sl);
        scheme[sl] = '\0';
        rc = acl_auth_add_with_super(&c->auth, scheme, req.auth.ptr, span_len(req.auth), srv->cfg->super_digest);
    }
    if (rc == 0) {
        log_info("session 0x%llx: auth success for scheme %s and address %s",
                 (unsigned long long)c->session->id, scheme, c->ip);
        server_reply_begin(srv, xid, 0, ZK_OK);
        server_reply_end(srv, c, srv->last_zxid, false);
        return;
    }
    srv->stats.auth_failed_count++;
    log_warn("authentication failed for scheme %.*s from %s:%d", (int)(sl < 64 ? sl : 64),
             (const char *)req.scheme.ptr, c->ip, c->port);
    server_reply_begin(srv, xid, 0, ZK_AUTHFAILED);
    server_reply_end(srv, c, srv->last_zxid, true);
}

/* ZooKeeperServer.processSasl: one DIGEST-MD5 step per request; the reply
 * header's zxid is 0 as in ZooKeeper. A failure answers AuthFailed (or
 * SessionClosedRequireSaslAuth when SASL is enforced) with a null token and
 * closes the connection, unless allowSaslFailedClients keeps it. */
static void request_sasl(struct server *srv, struct conn *c, int32_t xid, jute_reader *r)
{
    jute_span token = jute_read_bytes(r);
    if (r->err) {
        request_malformed(srv, c, xid, ZK_OP_SASL, false);
        return;
    }
    const struct zk_config *cfg = srv->cfg;
    const uint8_t *out;
    int32_t outlen;
    const char *id = NULL;
    enum zsasl_result res = zsasl_step(&c->sasl, cfg, token.ptr, span_len(token), &out, &outlen, &id);
    if (res == ZSASL_DONE) {
        log_info("session 0x%llx: adding SASL authorization for authorizationID: %s",
                 (unsigned long long)c->session->id, id);
        int rc = acl_auth_add_id(&c->auth, "sasl", id);
        if (rc == 0 && zsasl_is_super_user(cfg, id)) {
            rc = acl_auth_add_id(&c->auth, "super", "");
            log_info("session 0x%llx: authenticated id '%s' as super user", (unsigned long long)c->session->id,
                     id);
        }
        if (rc != 0) {
            server_close_conn(srv, c, "out of memory adding a SASL identity");
            return;
        }
    } else if (res == ZSASL_FAILED) {
        srv->stats.auth_failed_count++;
        log_warn("client %s:%d failed to SASL authenticate", c->ip, c->port);
        if (!(cfg->allow_sasl_failed_clients && !cfg->sasl_auth_required)) {
            int32_t err = cfg->sasl_auth_required ? ZK_SESSIONCLOSEDREQUIRESASLAUTH : ZK_AUTHFAILED;
            log_warn("closing client connection due to SASL authentication failure");
            server_reply_begin(srv, xid, 0, err);
            jute_write_bytes(&srv->out, NULL, -1);
            server_reply_end(srv, c, srv->last_zxid, true);
            return;
        }
        log_warn("maintaining client connection despite SASL authentication failure");
    }
    server_reply_begin(srv, xid, 0, ZK_OK);
    jute_write_bytes(&srv->out, out, outlen);
    server_reply_end(srv, c, srv->last_zxid, false);
}

bool request_enforce_auth(struct server *srv, struct conn *c, const uint8_t *data, size_t len)
{
    const struct zk_config *cfg = srv->cfg;
    if (!cfg->enforce_auth_enabled || len < 8)
        return true;
    int32_t xid = (int32_t)jute_get_u32(data);
    int32_t type = (int32_t)jute_get_u32(data + 4);
    if (type == ZK_OP_AUTH || type == ZK_OP_SASL)
        return true;
    for (size_t i = 0; i < c->auth.nids; i++)
        for (size_t j = 0; j < cfg->nenforce_auth_schemes; j++)
            if (strcmp(c->auth.ids[i].scheme, cfg->enforce_auth_schemes[j]) == 0)
                return true;
    log_error("client %s:%d: no identity of the enforced authentication scheme(s), closing session", c->ip,
              c->port);
    server_reply_begin(srv, xid, 0, ZK_SESSIONCLOSEDREQUIRESASLAUTH);
    server_reply_end(srv, c, srv->last_zxid, true);
    return false;
}

/* ----------------------------------------------------------------- sessions */

static void request_connect_reply(struct server *srv, struct conn *c, int32_t timeout, int64_t id,
                                  const uint8_t *passwd, int64_t zxid, bool close_after)
{
    static const uint8_t zero[16];
    jute_writer *w = &srv->out;
    w->len = 0;
    w->oom = false;
    jute_write_int(w, 0);
    struct proto_connect_response resp = {
        .protocol_version = 0,
        .timeout = timeout,
        .session_id = id,
        .passwd = passwd ? passwd : zero,
        .read_only = quorum_read_only(srv),
        .has_read_only = !c->old_client,
    };
    proto_write_connect_response(w, &resp);
    jute_patch_int(w, 0, (int32_t)(w->len - 4));
    server_send(srv, c, zxid, close_after);
}

void request_connect_answer(struct server *srv, struct conn *c, int64_t session_id, int32_t timeout, int64_t zxid)
{
    if (session_id == 0) {
        log_info("invalid session for client %s:%d, probably expired", c->ip, c->port);
        request_connect_reply(srv, c, 0, 0, NULL, zxid, true);
        return;
    }
    uint8_t passwd[16];
    session_generate_passwd(session_id, passwd);
    request_connect_reply(srv, c, timeout, session_id, passwd, zxid, false);
}

void request_close_moved(struct server *srv, struct conn *c, int64_t zxid)
{
    /* ZooKeeper's FinalRequestProcessor tears the connection down on
     * SessionMoved: no reply, the connection closes once the replies before
     * it are out. */
    log_info("closing connection from %s:%d: its session moved to another server", c->ip, c->port);
    srv->out.len = 0;
    srv->out.oom = false;
    server_send(srv, c, zxid, true);
}

void request_reply_committed(struct server *srv, struct conn *c, int32_t xid, int32_t req_type, const uint8_t *body,
                             size_t body_len, int64_t zxid, int32_t err, const struct txn_result *res)
{
    if (err == ZK_SESSIONMOVED) {
        request_close_moved(srv, c, zxid);
        return;
    }
    switch (req_type) {
    case ZK_OP_MULTI:
        if (res && res->multi) {
            request_write_multi_reply(srv, c, xid, zxid, res->multi, res->nmulti);
            return;
        }
        break;
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        server_reply_begin(srv, xid, zxid, err);
        if (err == ZK_OK && res && res->path) {
            jute_write_string(&srv->out, res->path);
            if (req_type != ZK_OP_CREATE)
                proto_write_stat(&srv->out, &res->stat);
        }
        server_reply_end(srv, c, zxid, false);
        return;
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
        server_reply_begin(srv, xid, zxid, err);
        if (err == ZK_OK && res)
            proto_write_stat(&srv->out, &res->stat);
        server_reply_end(srv, c, zxid, false);
        return;
    case ZK_OP_RECONFIG:
        request_reconfig_reply(srv, c, xid, zxid, err);
        return;
    case ZK_OP_CHECK: {
        server_reply_begin(srv, xid, zxid, err);
        jute_reader r;
        jute_reader_init(&r, body, body_len, (size_t)server_max_packet(srv));
        struct proto_path_version_request req;
        if (err == ZK_OK && proto_read_check_version_request(&r, &req) == 0) {
            struct znode *node = request_lookup(srv, req.path);
            struct zk_stat st = {0};
            if (node)
                tree_node_stat(node, &st);
            proto_write_stat(&srv->out, &st);
        }
        server_reply_end(srv, c, zxid, false);
        return;
    }
    default:
        break;
    }
    server_reply_begin(srv, xid, zxid, err);
    server_reply_end(srv, c, zxid, false);
}

void request_connect(struct server *srv, struct conn *c, const uint8_t *data, size_t len)
{
    jute_reader r;
    jute_reader_init(&r, data, len, (size_t)server_max_packet(srv));
    struct proto_connect_request req;
    if (proto_read_connect_request(&r, &req) < 0) {
        server_close_conn(srv, c, "malformed ConnectRequest");
        return;
    }
    c->old_client = !req.has_read_only;
    c->read_only = req.read_only;
    if (req.last_zxid_seen > srv->last_zxid) {
        char why[160];
        snprintf(why, sizeof why,
                 "refusing session request: client has seen zxid 0x%llx, our last zxid is 0x%llx; "
                 "client must try another server",
                 (unsigned long long)req.last_zxid_seen, (unsigned long long)srv->last_zxid);
        server_close_conn(srv, c, why);
        return;
    }
    int32_t timeout = req.timeout;
    if (timeout < srv->cfg->min_session_timeout)
        timeout = srv->cfg->min_session_timeout;
    if (timeout > srv->cfg->max_session_timeout)
        timeout = srv->cfg->max_session_timeout;
    c->initialized = true;

    if (quorum_read_only(srv)) {
        /* ZooKeeper's ReadOnlyZooKeeperServer: only clients that allow
         * read-only mode, with sessions local to this server. */
        if (!c->read_only) {
            server_close_conn(srv, c, "Refusing session request for not-read-only client");
            return;
        }
        struct session *s = req.session_id ? server_session_find(srv, req.session_id) : NULL;
        if (s && (req.passwd.len != 16 || memcmp(req.passwd.ptr, s->passwd, 16) != 0))
            s = NULL;
        if (req.session_id != 0 && s == NULL) {
            request_connect_answer(srv, c, 0, 0, srv->last_zxid);
            return;
        }
        if (s == NULL) {
            s = server_session_add(srv, server_new_session_id(srv), timeout);
            if (s == NULL) {
                server_close_conn(srv, c, "cannot create a session");
                return;
            }
            s->local = true;
        }
        server_session_attach(srv, s, c);
        request_connect_answer(srv, c, s->id, timeout, srv->last_zxid);
        return;
    }

    if (srv->qp && quorum_is_learner(srv)) {
        /* The leader owns sessions: a new one is created by a txn it
         * commits, an existing one is revalidated with it. */
        if (req.session_id != 0) {
            uint8_t expect[16];
            session_generate_passwd(req.session_id, expect);
            if (req.passwd.len != 16 || memcmp(req.passwd.ptr, expect, 16) != 0) {
                request_connect_answer(srv, c, 0, 0, srv->last_zxid);
                return;
            }
        }
        learner_client_connect(srv, c, req.session_id, timeout);
        return;
    }

    if (req.session_id != 0) {
        struct session *s = server_session_find(srv, req.session_id);
        bool ok = s && !s->closing && req.passwd.len == 16 && memcmp(req.passwd.ptr, s->passwd, 16) == 0;
        if (!ok) {
            log_info("invalid session 0x%llx for client %s:%d, probably expired",
                     (unsigned long long)req.session_id, c->ip, c->port);
            request_connect_reply(srv, c, 0, 0, NULL, srv->last_zxid, true);
            return;
        }
        s->timeout = timeout;
        s->owner = srv->server_id;
        server_session_attach(srv, s, c);
        request_connect_reply(srv, c, timeout, s->id, s->passwd, srv->last_zxid, false);
        return;
    }

    int64_t id = server_new_session_id(srv);
    struct proto_txn_header hdr = {.client_id = id, .cxid = 0, .type = ZK_OP_CREATESESSION};
    struct proto_txn txn = {.type = ZK_OP_CREATESESSION, .timeout = timeout};
    int err = server_commit_txn(srv, &hdr, &txn, NULL);
    struct session *s = err == ZK_OK ? server_session_find(srv, id) : NULL;
    if (s == NULL) {
        server_close_conn(srv, c, "cannot create a session");
        return;
    }
    s->conn = c;
    s->owner = srv->server_id;
    c->session = s;
    log_info("established session 0x%llx with negotiated timeout %d for client %s:%d",
             (unsigned long long)id, timeout, c->ip, c->port);
    if (srv->hooks && srv->hooks->session_event)
        srv->hooks->session_event(srv->hooks_ctx, id, HOOKS_SESSION_CREATED);
    request_connect_reply(srv, c, timeout, id, s->passwd, hdr.zxid, false);
}

void request_close_session(struct server *srv, struct session *s, struct conn *reply_to, int32_t xid)
{
    s->closing = true;
    jute_span *paths = calloc(s->nephemerals ? s->nephemerals : 1, sizeof *paths);
    char **owned = calloc(s->nephemerals ? s->nephemerals : 1, sizeof *owned);
    int32_t n = 0;
    for (size_t i = 0; paths && owned && i < s->nephemerals; i++) {
        owned[n] = tree_node_path_dup(s->ephemerals[i]);
        if (owned[n] == NULL)
            continue;
        paths[n] = (jute_span){(const uint8_t *)owned[n], (int32_t)strlen(owned[n])};
        n++;
    }
    struct proto_txn_header hdr = {.client_id = s->id, .cxid = reply_to ? xid : 0, .type = ZK_OP_CLOSESESSION};
    struct proto_txn txn = {.type = ZK_OP_CLOSESESSION};
    if (srv->cfg->close_session_txn_enabled) {
        txn.paths.items = paths;
        txn.paths.n = n;
    } else {
        txn.paths.n = -1;
    }
    int64_t id = s->id;
    if (reply_to && srv->hooks && srv->hooks->session_event)
        srv->hooks->session_event(srv->hooks_ctx, id, HOOKS_SESSION_CLOSED);
    server_commit_txn(srv, &hdr, &txn, NULL); /* frees s */
    for (int32_t i = 0; i < n; i++)
        request_audit(srv, NULL, id, "ephemeralZNodeDeletionOnSessionCloseOrExpire", owned[i], NULL, NULL, 0,
                      tree_lookup(srv->tree, owned[i], strlen(owned[i])) == NULL ? ZK_OK : ZK_NONODE);
    for (int32_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(paths);
    log_info("closed session 0x%llx", (unsigned long long)id);
    if (reply_to) {
        reply_to->session = NULL;
        server_reply_begin(srv, xid, hdr.zxid, ZK_OK);
        server_reply_end(srv, reply_to, hdr.zxid, true);
    }
}

/* ------------------------------------------------------------------- reaper */

void request_reap_containers(struct server *srv)
{
    struct tree *t = srv->tree;
    int64_t now = loop_wall_ms();
    int64_t max_never_used = srv->cfg->container_max_never_used_ms;
    /* Spread deletions as ZooKeeper's maxPerMinute does, per pass. */
    int64_t budget = srv->cfg->container_max_per_minute * srv->cfg->container_check_interval_ms / 60000;
    if (budget < 1)
        budget = 1;
    size_t n = tree_special_count(t);
    char **candidates = calloc(n ? n : 1, sizeof *candidates);
    size_t nc = 0;
    for (size_t i = 0; candidates && i < n && (int64_t)nc < budget; i++) {
        struct znode *z = t->special[i];
        if (z->nchildren > 0)
            continue;
        bool reap = false;
        if (tree_node_kind(t, z) == TREE_NODE_CONTAINER) {
            reap = z->cversion > 0 || (max_never_used != 0 && now - z->mtime > max_never_used);
        } else {
            int64_t ttl = z->ephemeral_owner & TREE_TTL_MAX;
            reap = ttl != 0 && now - z->mtime > ttl;
        }
        if (reap)
            candidates[nc++] = tree_node_path_dup(z);
    }
    for (size_t i = 0; i < nc; i++) {
        if (candidates[i] == NULL)
            continue;
        struct znode *z = tree_lookup(t, candidates[i], strlen(candidates[i]));
        if (z && z->nchildren == 0) {
            struct proto_txn_header hdr = {.client_id = 0, .cxid = 0, .type = ZK_OP_DELETECONTAINER};
            struct proto_txn txn = {.type = ZK_OP_DELETECONTAINER,
                                    .path = {(const uint8_t *)candidates[i], (int32_t)strlen(candidates[i])}};
            server_commit_txn(srv, &hdr, &txn, NULL);
        }
        free(candidates[i]);
    }
    free(candidates);
}

/* ----------------------------------------------------------------- dispatch */

static void request_record_stats(struct server *srv, struct conn *c, int32_t type, int32_t xid, uint64_t start_ns)
{
    uint64_t elapsed_ns = loop_now_ns() - start_ns;
    int64_t latency = (int64_t)(elapsed_ns / 1000000u);
    metrics_request_record(type, elapsed_ns);
    struct conn_stats *st = &c->stats;
    st->last_op = proto_op_tag(type);
    st->last_cxid = xid;
    st->last_zxid = srv->last_zxid;
    st->last_latency = latency;
    st->last_response = loop_now_ms();
    if (latency < st->min_latency)
        st->min_latency = latency;
    if (latency > st->max_latency)
        st->max_latency = latency;
    st->total_latency += latency;
    st->count++;
    struct server_stats *ss = &srv->stats;
    if (ss->count == 0 || latency < ss->min_latency)
        ss->min_latency = latency;
    if (latency > ss->max_latency)
        ss->max_latency = latency;
    ss->total_latency += latency;
    ss->count++;
}

bool request_owner_ok(struct server *srv, struct session *s, int64_t owner)
{
    (void)srv;
    if (s->owner == 0)
        s->owner = owner; /* unknown since the election: the first one owns it */
    return s->owner == owner;
}

bool request_is_write(int32_t type)
{
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
    case ZK_OP_CHECK:
    case ZK_OP_MULTI:
    case ZK_OP_RECONFIG:
    case ZK_OP_SYNC:
        return true;
    default:
        return false;
    }
}

void request_process(struct server *srv, struct conn *c, const uint8_t *data, size_t len)
{
    jute_reader r;
    jute_reader_init(&r, data, len, (size_t)server_max_packet(srv));
    struct proto_request_header h;
    if (proto_read_request_header(&r, &h) < 0) {
        server_close_conn(srv, c, "malformed request header");
        return;
    }
    if (c->session == NULL) {
        /* The session expired or was closed while this connection stayed. */
        request_reply_header(srv, c, h.xid, ZK_SESSIONEXPIRED);
        server_close_conn(srv, c, "request on a closed session");
        return;
    }
    server_session_touch(srv, c->session);
    uint64_t start = loop_now_ns();
    if (srv->qp && srv->qp->leader && c->tc && !request_owner_ok(srv, c->session, srv->server_id)) {
        /* The client has moved to another server (ZooKeeper's
         * SessionMovedException): this connection is stale. */
        request_close_moved(srv, c, srv->last_zxid);
        request_record_stats(srv, c, h.type, h.xid, start);
        return;
    }
    if (quorum_read_only(srv) && request_is_write(h.type)) {
        /* ZooKeeper's ReadOnlyRequestProcessor. */
        request_reply_header(srv, c, h.xid, ZK_NOTREADONLY);
        request_record_stats(srv, c, h.type, h.xid, start);
        return;
    }
    switch (h.type) {
    case ZK_OP_PING:
        server_reply_begin(srv, ZK_XID_PING, srv->last_zxid, ZK_OK);
        server_reply_end(srv, c, srv->last_zxid, false);
        break;
    case ZK_OP_AUTH:
        request_auth(srv, c, h.xid, &r);
        break;
    case ZK_OP_CLOSESESSION:
        if (quorum_read_only(srv)) {
            /* Nothing is logged in read-only mode: a local session just
             * ends; a resumed one stays for the leader to expire. */
            struct session *s = c->session;
            c->session = NULL;
            s->conn = NULL;
            if (s->local)
                server_session_remove(srv, s);
            server_reply_begin(srv, h.xid, srv->last_zxid, ZK_OK);
            server_reply_end(srv, c, srv->last_zxid, true);
            break;
        }
        request_close_session(srv, c->session, c, h.xid);
        break;
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        request_create(srv, c, h.xid, h.type, &r);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_SETDATA:
    case ZK_OP_CHECK:
        request_path_version_write(srv, c, h.xid, h.type, &r);
        break;
    case ZK_OP_SETACL:
        request_set_acl(srv, c, h.xid, &r);
        break;
    case ZK_OP_MULTI:
        request_multi(srv, c, h.xid, &r);
        break;
    case ZK_OP_RECONFIG:
        request_reconfig(srv, c, h.xid, &r);
        break;
    case ZK_OP_EXISTS:
        request_exists(srv, c, h.xid, &r);
        break;
    case ZK_OP_GETDATA:
    case ZK_OP_GETCHILDREN:
    case ZK_OP_GETCHILDREN2:
        request_path_watch_read(srv, c, h.xid, h.type, &r);
        break;
    case ZK_OP_GETACL:
        request_get_acl(srv, c, h.xid, &r);
        break;
    case ZK_OP_SYNC:
        request_sync(srv, c, h.xid, &r);
        break;
    case ZK_OP_GETALLCHILDRENNUMBER:
        request_get_all_children_number(srv, c, h.xid, &r);
        break;
    case ZK_OP_GETEPHEMERALS:
        request_get_ephemerals(srv, c, h.xid, &r);
        break;
    case ZK_OP_CHECKWATCHES:
    case ZK_OP_REMOVEWATCHES:
    case ZK_OP_ADDWATCH:
        request_watch_op(srv, c, h.xid, h.type, &r);
        break;
    case ZK_OP_SETWATCHES:
    case ZK_OP_SETWATCHES2:
        request_set_watches(srv, c, h.xid, h.type, &r);
        break;
    case ZK_OP_WHOAMI:
        request_who_am_i(srv, c, h.xid);
        break;
    case ZK_OP_MULTIREAD:
        request_multi_read(srv, c, h.xid, &r);
        break;
    case ZK_OP_SASL:
        request_sasl(srv, c, h.xid, &r);
        break;
    default: {
        char why[64];
        snprintf(why, sizeof why, "unknown opcode %d", h.type);
        server_reply_begin(srv, h.xid, -1, ZK_UNIMPLEMENTED);
        server_reply_end(srv, c, srv->last_zxid, false);
        server_close_conn(srv, c, why);
        return;
    }
    }
    request_record_stats(srv, c, h.type, h.xid, start);
}
