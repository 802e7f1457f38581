/*
 * Snapshot serialisation and loading (format in snapshot.h).
 *
 * Writing walks the tree in pre-order without recursion and emits full
 * paths, as ZooKeeper does, so every parent precedes its children. Loading
 * builds a new tree and session table aside and swaps them in only when the
 * whole stream has parsed and both checksums match.
 *
 * The same code writes and reads the database stream a leader sends after
 * SNAP (zab.h): a format flag drops the FileHeader, the checksums and the
 * digest and adds the "BenWasHere" signature.
 */
#include "snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto.h"
#include "server.h"
#include "txn.h"
#include "zab.h"

/* The two streams: a snapshot file's, and the one following a SNAP packet. */
enum snapshot_format {
    SNAPSHOT_FILE,
    SNAPSHOT_LEARNER,
};

/* ------------------------------------------------------------------ write */

#define SNAPSHOT_CHUNK (1u << 20)

/* Buffered output with a running Adler-32 over everything flushed (file
 * format only). */
struct snapshot_out {
    jute_writer w;
    bool sealed;
    uLong adler;
    snapshot_flush_fn flush;
    void *arg;
    int error;
    struct tree *t;
    char *path;
    size_t path_cap;
};

static void snapshot_out_flush(struct snapshot_out *o)
{
    if (o->error == 0 && o->w.oom)
        o->error = -ENOMEM;
    if (o->w.len == 0 || o->error)
        return;
    if (o->sealed)
        o->adler = adler32(o->adler, o->w.data, (uInt)o->w.len);
    int rc = o->flush(o->arg, o->w.data, o->w.len);
    if (rc < 0)
        o->error = rc;
    o->w.len = 0;
}

/* Checksum of everything written so far, then the "/" marker. */
static void snapshot_out_seal(struct snapshot_out *o)
{
    uLong sum = adler32(o->adler, o->w.data, (uInt)o->w.len);
    jute_write_long(&o->w, (int64_t)sum);
    jute_write_string(&o->w, "/");
}

static int64_t snapshot_acl_id(const struct tree *t, uint32_t ref)
{
    return ref == TREE_ACL_OPEN ? -1 : t->acls[ref - 1].id;
}

static void snapshot_write_node(struct snapshot_out *o, const struct znode *z, size_t path_len)
{
    jute_writer *w = &o->w;
    jute_write_bytes(w, o->path, (int32_t)path_len);
    jute_write_bytes(w, z->data_null ? NULL : (z->data ? (const void *)z->data : ""), (int32_t)z->data_len);
    jute_write_long(w, snapshot_acl_id(o->t, z->acl));
    jute_write_long(w, z->czxid);
    jute_write_long(w, z->mzxid);
    jute_write_long(w, z->ctime);
    jute_write_long(w, z->mtime);
    jute_write_int(w, z->version);
    jute_write_int(w, z->cversion);
    jute_write_int(w, z->aversion);
    jute_write_long(w, z->ephemeral_owner);
    jute_write_long(w, z->pzxid);
    if (w->len >= SNAPSHOT_CHUNK)
        snapshot_out_flush(o);
}

struct snapshot_frame {
    const struct znode *z;
    uint32_t next_child;
    size_t path_len;
};

/* Pre-order walk keeping the current path in o->path, so each node's path
 * costs one append instead of a walk up to the root. */
static int snapshot_write_nodes(struct snapshot_out *o, const struct znode *root)
{
    size_t cap = 64, n = 0;
    struct snapshot_frame *stack = malloc(cap * sizeof *stack);
    if (stack == NULL || (o->path == NULL && (o->path = malloc(o->path_cap = 4096)) == NULL)) {
        free(stack);
        return -ENOMEM;
    }
    snapshot_write_node(o, root, 0);
    stack[n++] = (struct snapshot_frame){root, 0, 0};
    while (n > 0 && o->error == 0) {
        struct snapshot_frame *f = &stack[n - 1];
        if (f->next_child >= f->z->nchildren) {
            n--;
            continue;
        }
        const struct znode *c = f->z->children[f->next_child++];
        size_t len = f->path_len + 1 + c->name_len;
        if (len + 1 > o->path_cap) {
            size_t pc = (len + 1) * 2;
            char *p = realloc(o->path, pc);
            if (p == NULL) {
                free(stack);
                return -ENOMEM;
            }
            o->path = p;
            o->path_cap = pc;
        }
        o->path[f->path_len] = '/';
        memcpy(o->path + f->path_len + 1, c->name, c->name_len);
        snapshot_write_node(o, c, len);
        if (n == cap) {
            cap *= 2;
            struct snapshot_frame *st = realloc(stack, cap * sizeof *st);
            if (st == NULL) {
                free(stack);
                return -ENOMEM;
            }
            stack = st;
        }
        stack[n++] = (struct snapshot_frame){c, 0, len};
    }
    free(stack);
    return o->error;
}

static int snapshot_stream_format(struct server *srv, snapshot_flush_fn flush, void *arg,
                                  enum snapshot_format fmt)
{
    struct tree *t = srv->tree;
    bool file = fmt == SNAPSHOT_FILE;
    struct snapshot_out o = {.sealed = file, .adler = adler32(0L, Z_NULL, 0), .flush = flush, .arg = arg, .t = t};
    jute_writer_init(&o.w, SNAPSHOT_CHUNK + 4096);
    jute_writer *w = &o.w;
    if (file) {
        jute_write_int(w, SNAPSHOT_MAGIC);
        jute_write_int(w, 2);
        jute_write_long(w, -1);
    }

    jute_write_int(w, (int32_t)srv->nsessions);
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next) {
            jute_write_long(w, s->id);
            jute_write_int(w, s->timeout);
        }

    int32_t nacls = 0;
    for (size_t i = 0; i < t->nacls; i++)
        nacls += t->acls[i].refs > 0;
    jute_write_int(w, nacls);
    for (size_t i = 0; i < t->nacls; i++) {
        if (t->acls[i].refs == 0)
            continue;
        jute_write_long(w, t->acls[i].id);
        proto_write_acl_list(w, t->acls[i].acl, t->acls[i].nacl);
        if (w->len >= SNAPSHOT_CHUNK)
            snapshot_out_flush(&o);
    }

    int rc = snapshot_write_nodes(&o, t->root);
    if (rc < 0 && o.error == 0)
        o.error = rc;
    jute_write_string(w, "/");
    if (!file)
        jute_write_string(w, ZAB_SNAP_SIGNATURE);
    else
        snapshot_out_seal(&o);
    if (file && t->digest_enabled) {
        /* Before any txn there is no recorded digest: ZooKeeper writes an
         * empty one (zxid 0, digest 0). */
        jute_write_long(w, srv->last_zxid);
        jute_write_int(w, 2);
        jute_write_long(w, srv->last_zxid ? (int64_t)t->digest : 0);
        snapshot_out_seal(&o);
    }
    snapshot_out_flush(&o);
    free(o.path);
    jute_writer_free(&o.w);
    return o.error;
}

int snapshot_stream(struct server *srv, snapshot_flush_fn flush, void *arg)
{
    return snapshot_stream_format(srv, flush, arg, SNAPSHOT_FILE);
}

int snapshot_stream_learner(struct server *srv, snapshot_flush_fn flush, void *arg)
{
    return snapshot_stream_format(srv, flush, arg, SNAPSHOT_LEARNER);
}

static int snapshot_append_flush(void *arg, const uint8_t *data, size_t len)
{
    jute_writer *w = arg;
    jute_write_raw(w, data, len);
    return w->oom ? -ENOMEM : 0;
}

int snapshot_write(struct server *srv, jute_writer *w)
{
    return snapshot_stream(srv, snapshot_append_flush, w);
}

/* ------------------------------------------------------------------- load */

struct snapshot_acl_map {
    int64_t id;
    uint32_t ref;
};

static int snapshot_acl_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct snapshot_acl_map *)a)->id, y = ((const struct snapshot_acl_map *)b)->id;
    return x < y ? -1 : x > y;
}

/* The nodes a new tree already has: the root and /zookeeper's. */
static bool snapshot_is_builtin(jute_span path)
{
    static const char *const builtin[] = {"", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if ((size_t)path.len == strlen(builtin[i]) && memcmp(path.ptr, builtin[i], (size_t)path.len) == 0)
            return true;
    return false;
}

/* Read a seal (checksum + "/") at r->pos, comparing with the Adler-32 of
 * data[0..r->pos). running and summed carry the checksum between seals, so
 * the stream is summed once. */
static int snapshot_check_seal(jute_reader *r, uLong *running, size_t *summed, const char *what, char *err,
                               size_t errlen)
{
    size_t at = r->pos;
    *running = adler32_z(*running, r->data + *summed, at - *summed);
    *summed = at;
    uLong sum = *running;
    int64_t stored = jute_read_long(r);
    jute_span slash = jute_read_bytes(r);
    if (r->err || slash.len != 1 || slash.ptr[0] != '/') {
        snprintf(err, errlen, "snapshot truncated or malformed at offset %zu (%s)", at, what);
        return -EBADMSG;
    }
    if ((uint64_t)stored != (uint64_t)sum) {
        snprintf(err, errlen, "snapshot %s mismatch at offset %zu: stored 0x%llx, computed 0x%llx", what, at,
                 (unsigned long long)stored, (unsigned long long)sum);
        return -EBADMSG;
    }
    return 0;
}

/* After the nodes of a snapshot file: the checksum seal, then the digest
 * and its seal when present. *have_digest when the digest holds for the
 * tree as loaded. */
static int snapshot_read_trailer(jute_reader *r, int64_t zxid, bool *have_digest, uint64_t *known_digest,
                                 char *err, size_t errlen)
{
    uLong running = adler32(0L, Z_NULL, 0);
    size_t summed = 0;
    if (snapshot_check_seal(r, &running, &summed, "checksum", err, errlen) < 0)
        return -EBADMSG;
    if (jute_remaining(r) > 0) {
        int64_t digest_zxid = jute_read_long(r);
        int32_t digest_version = jute_read_int(r);
        int64_t digest = jute_read_long(r);
        if (r->err || snapshot_check_seal(r, &running, &summed, "second checksum", err, errlen) < 0) {
            if (r->err)
                snprintf(err, errlen, "snapshot digest trailer truncated at offset %zu", r->pos);
            return -EBADMSG;
        }
        /* The digest holds for the tree as loaded only when it was recorded
         * at the snapshot's own zxid (zkplug's snapshots are exact; a fuzzy
         * one's digest holds once the log is replayed to its zxid). */
        if (digest_version == 2 && digest_zxid == zxid && digest_zxid > 0) {
            *have_digest = true;
            *known_digest = (uint64_t)digest;
        }
    }
    return 0;
}

/* After the nodes of a SNAP stream: the signature, which must end it. */
static int snapshot_read_signature(jute_reader *r, char *err, size_t errlen)
{
    size_t at = r->pos;
    jute_span sig = jute_read_bytes(r);
    size_t siglen = sizeof ZAB_SNAP_SIGNATURE - 1;
    if (r->err || sig.len != (int32_t)siglen || memcmp(sig.ptr, ZAB_SNAP_SIGNATURE, siglen) != 0) {
        snprintf(err, errlen, "snapshot stream signature missing or wrong at offset %zu", at);
        return -EBADMSG;
    }
    if (r->pos != r->len) {
        snprintf(err, errlen, "snapshot stream has %zu stray bytes after the signature at offset %zu",
                 r->len - r->pos, r->pos);
        return -EBADMSG;
    }
    return 0;
}

static int snapshot_load_format(struct server *srv, int64_t zxid, const uint8_t *data, size_t len,
                                enum snapshot_format fmt, char *err, size_t errlen)
{
    jute_reader r;
    jute_reader_init(&r, data, len, 0);
    bool file = fmt == SNAPSHOT_FILE;
    if (file) {
        int32_t magic = jute_read_int(&r);
        int32_t version = jute_read_int(&r);
        jute_read_long(&r);
        if (r.err || magic != SNAPSHOT_MAGIC || version != 2) {
            snprintf(err, errlen, "not a snapshot: magic 0x%08x version %d at offset 0", (unsigned)magic,
                     version);
            return -EBADMSG;
        }
    }

    struct tree *t = tree_new(srv->tree->digest_enabled, srv->tree->extended_types);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Build the session table aside: swap the server's out while loading. */
    struct session **old_buckets = srv->session_buckets;
    size_t old_nbuckets = srv->session_nbuckets, old_nsessions = srv->nsessions;
    struct tree *old_tree = srv->tree;
    srv->session_nbuckets = 256;
    srv->session_buckets = calloc(srv->session_nbuckets, sizeof *srv->session_buckets);
    srv->nsessions = 0;
    srv->tree = t;
    /* Hashing a million nodes for the digest is most of a load's work; the
     * digest stored in the snapshot stands in for it when it is exact. */
    tree_defer_digest_begin(t);
    struct snapshot_acl_map *map = NULL;
    int32_t nmap = 0;
    int rc = -EBADMSG;
    if (srv->session_buckets == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }

    int32_t nsessions = jute_read_count(&r, 12);
    for (int32_t i = 0; i < nsessions && !r.err; i++) {
        int64_t id = jute_read_long(&r);
        int32_t timeout = jute_read_int(&r);
        if (!r.err && server_session_add(srv, id, timeout) == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto fail;
        }
    }
    nmap = jute_read_count(&r, 12);
    if (r.err) {
        snprintf(err, errlen, "snapshot sessions or ACL cache truncated at offset %zu", r.pos);
        goto fail;
    }
    map = calloc(nmap > 0 ? (size_t)nmap : 1, sizeof *map);
    if (map == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    for (int32_t i = 0; i < nmap; i++) {
        map[i].id = jute_read_long(&r);
        struct acl_entry *acl;
        size_t n;
        if (r.err || proto_read_acl_list(&r, &acl, &n) < 0) {
            nmap = i;
            snprintf(err, errlen, "snapshot ACL cache entry %d malformed at offset %zu", i, r.pos);
            goto fail;
        }
        map[i].ref = tree_acl_intern(t, acl, n);
        acl_entries_free(acl, n);
        if (map[i].ref == 0) {
            nmap = i;
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto fail;
        }
    }
    qsort(map, (size_t)nmap, sizeof *map, snapshot_acl_cmp);

    struct znode *prev = NULL; /* the node loaded last, and its path */
    const uint8_t *prev_path = NULL;
    size_t prev_len = 0;

    for (;;) {
        size_t at = r.pos;
        jute_span path = jute_read_bytes(&r);
        if (r.err || path.len < 0) {
            snprintf(err, errlen, "snapshot node path malformed at offset %zu", at);
            goto fail;
        }
        if (path.len == 1 && path.ptr[0] == '/')
            break;
        jute_span nd = jute_read_bytes(&r);
        int64_t acl_id = jute_read_long(&r);
        struct znode st = {0};
        st.czxid = jute_read_long(&r);
        st.mzxid = jute_read_long(&r);
        st.ctime = jute_read_long(&r);
        st.mtime = jute_read_long(&r);
        st.version = jute_read_int(&r);
        st.cversion = jute_read_int(&r);
        st.aversion = jute_read_int(&r);
        st.ephemeral_owner = jute_read_long(&r);
        st.pzxid = jute_read_long(&r);
        if (r.err) {
            snprintf(err, errlen, "snapshot node '%.*s' truncated at offset %zu", path.len > 200 ? 200 : path.len,
                     (const char *)path.ptr, at);
            goto fail;
        }
        uint32_t ref = TREE_ACL_OPEN;
        if (acl_id != -1) {
            struct snapshot_acl_map key = {.id = acl_id};
            struct snapshot_acl_map *m = bsearch(&key, map, (size_t)nmap, sizeof *map, snapshot_acl_cmp);
            if (m == NULL) {
                snprintf(err, errlen, "snapshot node '%.*s' at offset %zu names ACL %lld, absent from the cache",
                         path.len > 200 ? 200 : path.len, (const char *)path.ptr, at, (long long)acl_id);
                goto fail;
            }
            ref = m->ref;
        }
        /* Only the root and the /zookeeper nodes exist before loading. */
        struct znode *node = snapshot_is_builtin(path) ? tree_lookup(t, (const char *)path.ptr, (size_t)path.len)
                                                       : NULL;
        if (node) {
            /* The root and the /zookeeper nodes exist already. */
            tree_acl_ref(t, ref);
            tree_set_acl(t, node, ref);
            tree_set_data(t, node, nd.ptr, nd.len > 0 ? (size_t)nd.len : 0);
            node->data_null = nd.len < 0;
            tree_digest_remove(t, node);
            node->czxid = st.czxid;
            node->mzxid = st.mzxid;
            node->ctime = st.ctime;
            node->mtime = st.mtime;
            node->version = st.version;
            node->cversion = st.cversion;
            node->aversion = st.aversion;
            node->ephemeral_owner = st.ephemeral_owner;
            node->pzxid = st.pzxid;
            tree_digest_add(t, node);
            prev = node;
            prev_path = path.ptr;
            prev_len = (size_t)path.len;
            continue;
        }
        size_t slash = (size_t)path.len;
        while (slash > 0 && path.ptr[slash - 1] != '/')
            slash--;
        /* Pre-order: the parent is the previous node or one of its
         * ancestors, so look there before the hash table. */
        struct znode *parent = NULL;
        if (slash && prev && prev_len >= slash - 1 && memcmp(prev_path, path.ptr, slash - 1) == 0) {
            /* Walk up from the previous node to the ancestor whose path is
             * slash - 1 bytes long (paths are the parent's plus "/name"). */
            struct znode *z = prev;
            size_t l = prev_len;
            while (z && l > slash - 1) {
                l -= 1 + z->name_len;
                z = z->parent;
            }
            if (z && l == slash - 1)
                parent = z;
        }
        if (parent == NULL && slash)
            parent = tree_lookup(t, (const char *)path.ptr, slash - 1);
        if (parent == NULL) {
            snprintf(err, errlen, "snapshot node '%.*s' at offset %zu has no parent before it",
                     path.len > 200 ? 200 : path.len, (const char *)path.ptr, at);
            goto fail;
        }
        tree_acl_ref(t, ref);
        node = tree_insert_path(t, parent, (const char *)path.ptr + slash, (size_t)path.len - slash,
                                (const char *)path.ptr, (size_t)path.len,
                                nd.len >= 0 ? (nd.ptr ? nd.ptr : (const uint8_t *)"") : NULL,
                                nd.len > 0 ? (size_t)nd.len : 0, ref, &st);
        if (node == NULL) {
            tree_acl_unref(t, ref);
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto fail;
        }
        if (tree_node_kind(t, node) == TREE_NODE_EPHEMERAL)
            txn_track_ephemeral(srv, node);
        prev = node;
        prev_path = path.ptr;
        prev_len = (size_t)path.len;
    }
    bool have_digest = false;
    uint64_t known_digest = 0;
    if ((file ? snapshot_read_trailer(&r, zxid, &have_digest, &known_digest, err, errlen)
              : snapshot_read_signature(&r, err, errlen)) < 0)
        goto fail;
    tree_defer_digest_end(t, have_digest, known_digest);
    for (int32_t i = 0; i < nmap; i++)
        tree_acl_unref(t, map[i].ref); /* drop the cache's own count: unused lists go */
    free(map);
    tree_free(old_tree);
    for (size_t b = 0; b < old_nbuckets; b++) {
        struct session *s = old_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            free(s->ephemerals);
            free(s);
            s = next;
        }
    }
    free(old_buckets);
    (void)old_nsessions;
    return 0;

fail:
    for (int32_t i = 0; i < nmap; i++)
        tree_acl_unref(t, map[i].ref);
    free(map);
    for (size_t b = 0; srv->session_buckets && b < srv->session_nbuckets; b++) {
        struct session *s = srv->session_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            free(s->ephemerals);
            free(s);
            s = next;
        }
    }
    free(srv->session_buckets);
    srv->session_buckets = old_buckets;
    srv->session_nbuckets = old_nbuckets;
    srv->nsessions = old_nsessions;
    srv->tree = old_tree;
    tree_free(t);
    return rc;
}

int snapshot_load(struct server *srv, int64_t zxid, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    return snapshot_load_format(srv, zxid, data, len, SNAPSHOT_FILE, err, errlen);
}

int snapshot_load_learner(struct server *srv, int64_t zxid, const uint8_t *data, size_t len, char *err,
                          size_t errlen)
{
    return snapshot_load_format(srv, zxid, data, len, SNAPSHOT_LEARNER, err, errlen);
}
