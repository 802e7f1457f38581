/*
 * ZooKeeper 3.8 client protocol and txn records: one decoder and/or encoder
 * per zookeeper.jute record the server needs, plus opcode names.
 *
 * Design: decoders never copy strings or buffers (they return jute_span into
 * the packet) except where the result must outlive the packet: ACL lists,
 * which end up stored in the tree, and the arrays holding span lists and
 * multi sub-txns. Every decoder reads its fields unconditionally and checks
 * r->err once at the end, relying on jute_reader's sticky error; a decoder
 * that allocated checks before each allocation so it never sizes one from a
 * failed read. On failure the decoder frees what it allocated and zeroes
 * *out, so callers have a single rule: free only after success.
 *
 * Entry points: proto_read_connect_request, then per packet
 * proto_read_request_header and the request decoder for its type; replies
 * are built with proto_write_reply_header + record writers. The txn log and
 * quorum code use proto_{read,write}_txn_header, _txn_body and _txn_digest.
 */
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* TxnDigest{int version, long treeDigest}. */
#define PROTO_TXN_DIGEST_SIZE 12

/* Smallest encodings, used to bound vector counts before allocating:
 * ACL = perms + two ustring lengths; ustring = its length; Txn = type +
 * buffer length. */
#define PROTO_MIN_ACL_SIZE 12
#define PROTO_MIN_USTRING_SIZE 4
#define PROTO_MIN_SUBTXN_SIZE 8

static int
proto_malformed(jute_reader *r)
{
    r->err = true;
    return -EBADMSG;
}

static int
proto_check(jute_reader *r)
{
    return r->err ? -EBADMSG : 0;
}

/* A span with len < 0 is null; a {NULL, 0} span is empty, not null, so a
 * zeroed struct encodes as an empty string rather than a null one. */
static void
proto_write_span(jute_writer *w, jute_span s)
{
    if (s.len < 0) {
        jute_write_int(w, -1);
        return;
    }
    jute_write_int(w, s.len);
    jute_write_raw(w, s.ptr, (size_t)s.len);
}

/* ------------------------------------------------------------ session */

int
proto_read_connect_request(jute_reader *r, struct proto_connect_request *out)
{
    memset(out, 0, sizeof *out);
    out->protocol_version = jute_read_int(r);
    out->last_zxid_seen = jute_read_long(r);
    out->timeout = jute_read_int(r);
    out->session_id = jute_read_long(r);
    out->passwd = jute_read_bytes(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    /* Clients older than 3.3 end the packet after passwd; ZooKeeper then
     * treats them as "old clients" and leaves the byte out of its reply. */
    if (jute_remaining(r) > 0) {
        out->read_only = jute_read_bool(r);
        out->has_read_only = true;
    }
    return 0;
}

void
proto_write_connect_response(jute_writer *w, const struct proto_connect_response *resp)
{
    static const uint8_t zero_passwd[16];

    jute_write_int(w, resp->protocol_version);
    jute_write_int(w, resp->timeout);
    jute_write_long(w, resp->session_id);
    jute_write_bytes(w, resp->passwd ? resp->passwd : zero_passwd, 16);
    if (resp->has_read_only)
        jute_write_bool(w, resp->read_only);
}

/* ------------------------------------------------------------ headers */

int
proto_read_request_header(jute_reader *r, struct proto_request_header *out)
{
    out->xid = jute_read_int(r);
    out->type = jute_read_int(r);
    return proto_check(r);
}

void
proto_write_request_header(jute_writer *w, int32_t xid, int32_t type)
{
    jute_write_int(w, xid);
    jute_write_int(w, type);
}

void
proto_write_reply_header(jute_writer *w, int32_t xid, int64_t zxid, int32_t err)
{
    jute_write_int(w, xid);
    jute_write_long(w, zxid);
    jute_write_int(w, err);
}

int
proto_read_reply_header(jute_reader *r, struct proto_reply_header *out)
{
    out->xid = jute_read_int(r);
    out->zxid = jute_read_long(r);
    out->err = jute_read_int(r);
    return proto_check(r);
}

void
proto_write_stat(jute_writer *w, const struct zk_stat *stat)
{
    jute_write_long(w, stat->czxid);
    jute_write_long(w, stat->mzxid);
    jute_write_long(w, stat->ctime);
    jute_write_long(w, stat->mtime);
    jute_write_int(w, stat->version);
    jute_write_int(w, stat->cversion);
    jute_write_int(w, stat->aversion);
    jute_write_long(w, stat->ephemeral_owner);
    jute_write_int(w, stat->data_length);
    jute_write_int(w, stat->num_children);
    jute_write_long(w, stat->pzxid);
}

int
proto_read_stat(jute_reader *r, struct zk_stat *out)
{
    out->czxid = jute_read_long(r);
    out->mzxid = jute_read_long(r);
    out->ctime = jute_read_long(r);
    out->mtime = jute_read_long(r);
    out->version = jute_read_int(r);
    out->cversion = jute_read_int(r);
    out->aversion = jute_read_int(r);
    out->ephemeral_owner = jute_read_long(r);
    out->data_length = jute_read_int(r);
    out->num_children = jute_read_int(r);
    out->pzxid = jute_read_long(r);
    return proto_check(r);
}

/* ---------------------------------------------------------------- ACLs */

void
proto_write_acl_list(jute_writer *w, const struct acl_entry *acl, size_t n)
{
    if (acl == NULL) {
        jute_write_int(w, -1);
        return;
    }
    jute_write_int(w, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        jute_write_int(w, acl[i].perms);
        jute_write_string(w, acl[i].id.scheme);
        jute_write_string(w, acl[i].id.id);
    }
}

/* Copies a ustring into a new C string; *out stays NULL on failure. */
static int
proto_read_cstring(jute_reader *r, char **out)
{
    jute_span s = jute_read_bytes(r);

    *out = NULL;
    if (r->err)
        return -EBADMSG;
    if (s.len < 0)
        s.len = 0;
    if (s.len > 0 && memchr(s.ptr, '\0', (size_t)s.len) != NULL)
        return proto_malformed(r);
    char *p = malloc((size_t)s.len + 1);
    if (p == NULL)
        return -ENOMEM;
    if (s.len > 0)
        memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    *out = p;
    return 0;
}

int
proto_read_acl_list(jute_reader *r, struct acl_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int32_t count = jute_read_count(r, PROTO_MIN_ACL_SIZE);
    if (r->err)
        return -EBADMSG;
    if (count < 0)
        return 0;
    /* One spare element keeps an empty list distinct from a null one. */
    struct acl_entry *acl = calloc((size_t)count + 1, sizeof *acl);
    if (acl == NULL)
        return -ENOMEM;
    size_t done = 0;
    int rc = 0;
    for (; done < (size_t)count; done++) {
        struct acl_entry *e = &acl[done];
        e->perms = jute_read_int(r);
        rc = proto_read_cstring(r, &e->id.scheme);
        if (rc == 0)
            rc = proto_read_cstring(r, &e->id.id);
        if (rc != 0) {
            /* Partly read entries count too, so their strings are freed. */
            done++;
            break;
        }
    }
    if (rc != 0) {
        acl_entries_free(acl, done);
        return rc;
    }
    *out = acl;
    *n = (size_t)count;
    return 0;
}

void
proto_write_watcher_event(jute_writer *w, int32_t type, int32_t state, const char *path, size_t pathlen)
{
    jute_write_int(w, type);
    jute_write_int(w, state);
    jute_write_bytes(w, path, (int32_t)pathlen);
}

/* ------------------------------------------------------------ requests */

int
proto_read_create_request(jute_reader *r, bool with_ttl, struct proto_create_request *out)
{
    memset(out, 0, sizeof *out);
    out->path = jute_read_bytes(r);
    out->data = jute_read_bytes(r);
    int rc = proto_read_acl_list(r, &out->acl, &out->nacl);
    if (rc != 0)
        goto fail;
    out->flags = jute_read_int(r);
    if (with_ttl)
        out->ttl = jute_read_long(r);
    if (r->err) {
        rc = -EBADMSG;
        goto fail;
    }
    return 0;
fail:
    proto_create_request_free(out);
    return rc;
}

void
proto_create_request_free(struct proto_create_request *req)
{
    if (req->acl != NULL)
        acl_entries_free(req->acl, req->nacl);
    memset(req, 0, sizeof *req);
}

static int
proto_read_path_version(jute_reader *r, bool with_data, struct proto_path_version_request *out)
{
    memset(out, 0, sizeof *out);
    out->path = jute_read_bytes(r);
    out->data.len = -1;
    if (with_data)
        out->data = jute_read_bytes(r);
    out->version = jute_read_int(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

int
proto_read_delete_request(jute_reader *r, struct proto_path_version_request *out)
{
    return proto_read_path_version(r, false, out);
}

int
proto_read_set_data_request(jute_reader *r, struct proto_path_version_request *out)
{
    return proto_read_path_version(r, true, out);
}

int
proto_read_check_version_request(jute_reader *r, struct proto_path_version_request *out)
{
    return proto_read_path_version(r, false, out);
}

int
proto_read_path_watch_request(jute_reader *r, struct proto_path_watch_request *out)
{
    out->path = jute_read_bytes(r);
    out->watch = jute_read_bool(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

int
proto_read_path_request(jute_reader *r, jute_span *path)
{
    *path = jute_read_bytes(r);
    return proto_check(r);
}

int
proto_read_set_acl_request(jute_reader *r, struct proto_set_acl_request *out)
{
    memset(out, 0, sizeof *out);
    out->path = jute_read_bytes(r);
    int rc = proto_read_acl_list(r, &out->acl, &out->nacl);
    if (rc != 0)
        goto fail;
    out->version = jute_read_int(r);
    if (r->err) {
        rc = -EBADMSG;
        goto fail;
    }
    return 0;
fail:
    if (out->acl != NULL)
        acl_entries_free(out->acl, out->nacl);
    memset(out, 0, sizeof *out);
    return rc;
}

int
proto_read_path_int_request(jute_reader *r, struct proto_path_int_request *out)
{
    out->path = jute_read_bytes(r);
    out->value = jute_read_int(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

int
proto_read_auth_request(jute_reader *r, struct proto_auth_request *out)
{
    out->type = jute_read_int(r);
    out->scheme = jute_read_bytes(r);
    out->auth = jute_read_bytes(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

static void
proto_span_list_free(struct proto_span_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int
proto_read_span_list(jute_reader *r, struct proto_span_list *out)
{
    out->items = NULL;
    out->n = jute_read_count(r, PROTO_MIN_USTRING_SIZE);
    if (r->err) {
        out->n = 0;
        return -EBADMSG;
    }
    if (out->n <= 0)
        return 0;
    out->items = calloc((size_t)out->n, sizeof *out->items);
    if (out->items == NULL) {
        out->n = 0;
        return -ENOMEM;
    }
    for (int32_t i = 0; i < out->n; i++)
        out->items[i] = jute_read_bytes(r);
    if (r->err) {
        proto_span_list_free(out);
        return -EBADMSG;
    }
    return 0;
}

static void
proto_write_span_list(jute_writer *w, const struct proto_span_list *l)
{
    if (l->n < 0) {
        jute_write_int(w, -1);
        return;
    }
    jute_write_int(w, l->n);
    for (int32_t i = 0; i < l->n; i++)
        proto_write_span(w, l->items[i]);
}

int
proto_read_set_watches_request(jute_reader *r, bool v2, struct proto_set_watches_request *out)
{
    memset(out, 0, sizeof *out);
    out->relative_zxid = jute_read_long(r);
    struct proto_span_list *lists[] = {
        &out->data, &out->exist, &out->child, &out->persistent, &out->persistent_recursive,
    };
    size_t nlists = v2 ? 5 : 3;
    int rc = proto_check(r);
    for (size_t i = 0; rc == 0 && i < nlists; i++)
        rc = proto_read_span_list(r, lists[i]);
    if (rc != 0) {
        proto_set_watches_request_free(out);
        return rc;
    }
    return 0;
}

void
proto_set_watches_request_free(struct proto_set_watches_request *req)
{
    proto_span_list_free(&req->data);
    proto_span_list_free(&req->exist);
    proto_span_list_free(&req->child);
    proto_span_list_free(&req->persistent);
    proto_span_list_free(&req->persistent_recursive);
    memset(req, 0, sizeof *req);
}

int
proto_read_reconfig_request(jute_reader *r, struct proto_reconfig_request *out)
{
    out->joining = jute_read_bytes(r);
    out->leaving = jute_read_bytes(r);
    out->new_members = jute_read_bytes(r);
    out->cur_config_id = jute_read_long(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

int
proto_read_multi_header(jute_reader *r, struct proto_multi_header *out)
{
    out->type = jute_read_int(r);
    out->done = jute_read_bool(r);
    out->err = jute_read_int(r);
    return proto_check(r);
}

void
proto_write_multi_header(jute_writer *w, int32_t type, bool done, int32_t err)
{
    jute_write_int(w, type);
    jute_write_bool(w, done);
    jute_write_int(w, err);
}

void
proto_write_string_count(jute_writer *w, int32_t n)
{
    jute_write_int(w, n);
}

/* ----------------------------------------------------------------- txns */

void
proto_write_txn_header(jute_writer *w, const struct proto_txn_header *h)
{
    jute_write_long(w, h->client_id);
    jute_write_int(w, h->cxid);
    jute_write_long(w, h->zxid);
    jute_write_long(w, h->time);
    jute_write_int(w, h->type);
}

int
proto_read_txn_header(jute_reader *r, struct proto_txn_header *out)
{
    out->client_id = jute_read_long(r);
    out->cxid = jute_read_int(r);
    out->zxid = jute_read_long(r);
    out->time = jute_read_long(r);
    out->type = jute_read_int(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    return 0;
}

void
proto_write_txn_digest(jute_writer *w, const struct proto_txn_digest *d)
{
    jute_write_int(w, d->version);
    jute_write_long(w, d->tree_digest);
}

int
proto_read_txn_digest(jute_reader *r, struct proto_txn_digest *out, bool *present)
{
    memset(out, 0, sizeof *out);
    *present = false;
    if (!r->err && jute_remaining(r) == 0)
        return 0;
    out->version = jute_read_int(r);
    out->tree_digest = jute_read_long(r);
    if (r->err) {
        memset(out, 0, sizeof *out);
        return -EBADMSG;
    }
    *present = true;
    return 0;
}

static bool
proto_txn_allowed_in_multi(int32_t type)
{
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
    case ZK_OP_SETDATA:
    case ZK_OP_CHECK:
    case ZK_OP_ERROR:
        return true;
    default:
        return false;
    }
}

static int proto_read_txn_record(jute_reader *r, int32_t type, bool in_multi, struct proto_txn *out);

static int
proto_read_multi_txn(jute_reader *r, struct proto_txn *out)
{
    int32_t n = jute_read_count(r, PROTO_MIN_SUBTXN_SIZE);
    if (r->err)
        return -EBADMSG;
    /* ZooKeeper would fail on a null txn list with a NullPointerException. */
    if (n < 0)
        return proto_malformed(r);
    if (n == 0)
        return 0;
    out->multi = calloc((size_t)n, sizeof *out->multi);
    if (out->multi == NULL)
        return -ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        int32_t type = jute_read_int(r);
        jute_span body = jute_read_bytes(r);
        if (r->err)
            return -EBADMSG;
        if (body.len < 0 || !proto_txn_allowed_in_multi(type))
            return proto_malformed(r);
        jute_reader sub;
        jute_reader_init(&sub, body.ptr, (size_t)body.len, r->max_len);
        int rc = proto_read_txn_record(&sub, type, true, &out->multi[i]);
        if (rc != 0) {
            /* The sub-reader's error is ours: the packet is malformed. */
            if (rc == -EBADMSG)
                r->err = true;
            return rc;
        }
        out->nmulti = i + 1;
    }
    return 0;
}

/* A closeSession body is optional (see proto.h). The body is read on a copy
 * of the reader and kept only if what follows it is nothing or exactly a
 * TxnDigest; otherwise the entry must be body-less, i.e. hold nothing or
 * just the digest. */
static int
proto_read_close_session_txn(jute_reader *r, struct proto_txn *out)
{
    size_t left = jute_remaining(r);
    jute_reader trial = *r;
    struct proto_span_list paths;
    int rc = proto_read_span_list(&trial, &paths);

    if (rc == -ENOMEM)
        return rc;
    if (rc == 0) {
        size_t after = jute_remaining(&trial);
        if (after == 0 || after == PROTO_TXN_DIGEST_SIZE) {
            *r = trial;
            out->paths = paths;
            return 0;
        }
    }
    if (rc == 0)
        proto_span_list_free(&paths);
    if (left == 0 || left == PROTO_TXN_DIGEST_SIZE) {
        out->paths.n = -1;
        return 0;
    }
    return proto_malformed(r);
}

/* Reads the record; on failure the caller frees out with proto_txn_free. */
static int
proto_read_txn_fields(jute_reader *r, int32_t type, bool in_multi, struct proto_txn *out)
{
    int rc;

    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        out->path = jute_read_bytes(r);
        out->data = jute_read_bytes(r);
        rc = proto_read_acl_list(r, &out->acl, &out->nacl);
        if (rc != 0)
            return rc;
        if (type == ZK_OP_CREATE || type == ZK_OP_CREATE2) {
            out->ephemeral = jute_read_bool(r);
            /* CreateTxnV0 (3.4) ends here; ZooKeeper reads it with
             * parentCVersion -1, meaning "increment the parent's". */
            if (!r->err && jute_remaining(r) == 0) {
                out->parent_cversion = -1;
                break;
            }
        }
        out->parent_cversion = jute_read_int(r);
        if (type == ZK_OP_CREATETTL)
            out->ttl = jute_read_long(r);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        out->path = jute_read_bytes(r);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG:
        out->path = jute_read_bytes(r);
        out->data = jute_read_bytes(r);
        out->version = jute_read_int(r);
        break;
    case ZK_OP_SETACL:
        out->path = jute_read_bytes(r);
        rc = proto_read_acl_list(r, &out->acl, &out->nacl);
        if (rc != 0)
            return rc;
        out->version = jute_read_int(r);
        break;
    case ZK_OP_CHECK:
        out->path = jute_read_bytes(r);
        out->version = jute_read_int(r);
        break;
    case ZK_OP_ERROR:
        out->err = jute_read_int(r);
        break;
    case ZK_OP_CREATESESSION:
        out->timeout = jute_read_int(r);
        break;
    case ZK_OP_CLOSESESSION:
        return proto_read_close_session_txn(r, out);
    case ZK_OP_MULTI:
        if (in_multi)
            return proto_malformed(r);
        return proto_read_multi_txn(r, out);
    default:
        return proto_malformed(r);
    }
    return proto_check(r);
}

static int
proto_read_txn_record(jute_reader *r, int32_t type, bool in_multi, struct proto_txn *out)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    int rc = proto_read_txn_fields(r, type, in_multi, out);
    if (rc != 0)
        proto_txn_free(out);
    return rc;
}

int
proto_read_txn_body(jute_reader *r, int32_t type, struct proto_txn *out)
{
    return proto_read_txn_record(r, type, false, out);
}

void
proto_write_txn_body(jute_writer *w, const struct proto_txn *txn)
{
    switch (txn->type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        proto_write_span(w, txn->path);
        proto_write_span(w, txn->data);
        proto_write_acl_list(w, txn->acl, txn->nacl);
        if (txn->type == ZK_OP_CREATE || txn->type == ZK_OP_CREATE2)
            jute_write_bool(w, txn->ephemeral);
        jute_write_int(w, txn->parent_cversion);
        if (txn->type == ZK_OP_CREATETTL)
            jute_write_long(w, txn->ttl);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        proto_write_span(w, txn->path);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG:
        proto_write_span(w, txn->path);
        proto_write_span(w, txn->data);
        jute_write_int(w, txn->version);
        break;
    case ZK_OP_SETACL:
        proto_write_span(w, txn->path);
        proto_write_acl_list(w, txn->acl, txn->nacl);
        jute_write_int(w, txn->version);
        break;
    case ZK_OP_CHECK:
        proto_write_span(w, txn->path);
        jute_write_int(w, txn->version);
        break;
    case ZK_OP_ERROR:
        jute_write_int(w, txn->err);
        break;
    case ZK_OP_CREATESESSION:
        jute_write_int(w, txn->timeout);
        break;
    case ZK_OP_CLOSESESSION:
        if (txn->paths.n >= 0)
            proto_write_span_list(w, &txn->paths);
        break;
    case ZK_OP_MULTI:
        jute_write_int(w, txn->nmulti);
        for (int32_t i = 0; i < txn->nmulti; i++) {
            jute_write_int(w, txn->multi[i].type);
            /* Each sub-txn is a buffer: reserve its length, write the body
             * in place, then patch the length in. */
            size_t at = w->len;
            jute_write_int(w, 0);
            proto_write_txn_body(w, &txn->multi[i]);
            jute_patch_int(w, at, (int32_t)(w->len - at - 4));
        }
        break;
    default:
        /* Types with no body: nothing to write. */
        break;
    }
}

void
proto_txn_free(struct proto_txn *txn)
{
    if (txn->acl != NULL)
        acl_entries_free(txn->acl, txn->nacl);
    free(txn->paths.items);
    if (txn->multi != NULL) {
        /* Nested multis are rejected on read, so this is one level deep. */
        for (int32_t i = 0; i < txn->nmulti; i++)
            proto_txn_free(&txn->multi[i]);
        free(txn->multi);
    }
    memset(txn, 0, sizeof *txn);
}

/* ---------------------------------------------------------------- names */

const char *
proto_op_name(int32_t op)
{
    switch (op) {
    case ZK_OP_NOTIFICATION: return "notification";
    case ZK_OP_CREATE: return "create";
    case ZK_OP_DELETE: return "delete";
    case ZK_OP_EXISTS: return "exists";
    case ZK_OP_GETDATA: return "getData";
    case ZK_OP_SETDATA: return "setData";
    case ZK_OP_GETACL: return "getACL";
    case ZK_OP_SETACL: return "setACL";
    case ZK_OP_GETCHILDREN: return "getChildren";
    case ZK_OP_SYNC: return "sync";
    case ZK_OP_PING: return "ping";
    case ZK_OP_GETCHILDREN2: return "getChildren2";
    case ZK_OP_CHECK: return "check";
    case ZK_OP_MULTI: return "multi";
    case ZK_OP_CREATE2: return "create2";
    case ZK_OP_RECONFIG: return "reconfig";
    case ZK_OP_CHECKWATCHES: return "checkWatches";
    case ZK_OP_REMOVEWATCHES: return "removeWatches";
    case ZK_OP_CREATECONTAINER: return "createContainer";
    case ZK_OP_DELETECONTAINER: return "deleteContainer";
    case ZK_OP_CREATETTL: return "createTtl";
    case ZK_OP_MULTIREAD: return "multiRead";
    case ZK_OP_AUTH: return "auth";
    case ZK_OP_SETWATCHES: return "setWatches";
    case ZK_OP_SASL: return "sasl";
    case ZK_OP_GETEPHEMERALS: return "getEphemerals";
    case ZK_OP_GETALLCHILDRENNUMBER: return "getAllChildrenNumber";
    case ZK_OP_SETWATCHES2: return "setWatches2";
    case ZK_OP_ADDWATCH: return "addWatch";
    case ZK_OP_WHOAMI: return "whoAmI";
    case ZK_OP_CREATESESSION: return "createSession";
    case ZK_OP_CLOSESESSION: return "closeSession";
    case ZK_OP_ERROR: return "error";
    default: return "unknown";
    }
}

const char *
proto_op_tag(int32_t op)
{
    switch (op) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        return "CREA";
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        return "DELE";
    case ZK_OP_EXISTS: return "EXIS";
    case ZK_OP_GETDATA: return "GETD";
    case ZK_OP_SETDATA: return "SETD";
    case ZK_OP_GETACL: return "GETA";
    case ZK_OP_SETACL: return "SETA";
    case ZK_OP_GETCHILDREN:
    case ZK_OP_GETCHILDREN2:
        return "GETC";
    case ZK_OP_SYNC: return "SYNC";
    case ZK_OP_PING: return "PING";
    case ZK_OP_CHECK: return "CHEC";
    case ZK_OP_MULTI: return "MULT";
    case ZK_OP_MULTIREAD: return "MLTR";
    case ZK_OP_RECONFIG: return "RECO";
    case ZK_OP_CHECKWATCHES: return "CHKW";
    case ZK_OP_REMOVEWATCHES: return "REMW";
    case ZK_OP_SETWATCHES: return "SETW";
    case ZK_OP_SETWATCHES2: return "STW2";
    case ZK_OP_GETEPHEMERALS: return "GETE";
    case ZK_OP_GETALLCHILDRENNUMBER: return "GETACN";
    case ZK_OP_ADDWATCH: return "ADDW";
    case ZK_OP_WHOAMI: return "HOMI";
    case ZK_OP_CREATESESSION: return "SESS";
    case ZK_OP_CLOSESESSION: return "CLOS";
    default: return "NA";
    }
}
