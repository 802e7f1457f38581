/*
 * The data tree: znodes, their stats, the ACL cache and the tree digest.
 *
 * Layout: each znode stores only its own name (not its full path), a parent
 * pointer and a vector of child pointers; the data it was created with shares
 * its allocation. Lookup by path walks the segments
 * through one hash table keyed by (parent, name), so every name is stored
 * once and a lookup costs one probe per path segment. Full paths are built on
 * demand (tree_node_path) for replies, notifications and the digest.
 *
 * Stats are stored as ZooKeeper persists them (StatPersisted): cversion counts
 * child creations; the client-visible cversion is cversion*2 - numChildren
 * (tree_node_stat does the mapping).
 *
 * ACLs: identical lists are shared through a reference-counted cache, as in
 * ZooKeeper's ReferenceCountedACLCache; a node holds an acl reference
 * (TREE_ACL_OPEN = the built-in OPEN_ACL_UNSAFE of /, /zookeeper and
 * /zookeeper/quota, ZooKeeper's id -1).
 *
 * Digest: ZooKeeper's tree digest (version 2), the wrapping sum over nodes
 * (except those under /zookeeper/) of CRC-32(path, data, stat block). Callers
 * that change a node's stat or data bracket the change with
 * tree_digest_remove / tree_digest_add; the tree functions that add, remove
 * or change data do it themselves.
 *
 * The tree knows nothing of sessions or watches; the txn layer (txn.c) applies
 * ZooKeeper's semantics on top of these primitives.
 */
#ifndef ZKPLUG_TREE_H
#define ZKPLUG_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "proto.h"

#define TREE_ACL_OPEN 0u

/* Ephemeral owner markers (ZooKeeper's EphemeralType). */
#define TREE_OWNER_CONTAINER ((int64_t)0x8000000000000000ULL)
#define TREE_OWNER_TTL_MASK ((int64_t)0xFF00000000000000ULL)
#define TREE_TTL_MAX ((int64_t)0xFFFFFFFFFFLL) /* 2^40 - 1 ms */

enum tree_node_kind {
    TREE_NODE_PERSISTENT, /* ephemeral owner 0 */
    TREE_NODE_EPHEMERAL,  /* owned by a session */
    TREE_NODE_CONTAINER,
    TREE_NODE_TTL,
};

struct znode {
    struct znode *parent;
    struct znode *hash_next;
    struct znode **children;
    uint8_t *data;
    int64_t czxid, mzxid, ctime, mtime, ephemeral_owner, pzxid;
    int32_t version, cversion, aversion;
    uint32_t data_len;
    uint32_t nchildren, children_cap;
    uint32_t index_in_parent;
    uint32_t acl;      /* acl cache reference */
    uint32_t path_crc; /* CRC-32 of full path then data, for the digest */
    uint32_t name_len;
    uint32_t inline_cap; /* bytes after the name reserved for data (see tree.c) */
    bool data_null; /* created or set with null data (read back as null) */
    bool crc_valid; /* path_crc computed (it is filled in lazily after a snapshot load) */
    char name[];
};

struct tree_acl_slot {
    struct acl_entry *acl;
    size_t nacl;
    uint32_t refs;
    uint32_t hash;
    uint32_t next; /* hash chain, index + 1, 0 = end */
    int64_t id;    /* ZooKeeper's long id (snapshot ACL cache) */
};

struct tree {
    struct znode *root;
    struct znode **buckets;
    size_t nbuckets;
    size_t count; /* nodes, root included */
    int64_t data_size;
    bool digest_enabled;
    uint64_t digest;
    bool extended_types; /* TTL owners recognised (extendedTypesEnabled) */
    bool digest_deferred; /* bulk load in progress: see tree_defer_digest_begin */

    struct tree_acl_slot *acls; /* index = reference - 1 */
    size_t nacls, acls_cap;
    uint32_t *acl_buckets;
    size_t acl_nbuckets;
    uint32_t acl_free; /* free list of slots, index + 1 */
    int64_t acl_next_id;

    struct znode **special; /* containers and TTL nodes (ZooKeeper's containers/ttls sets) */
    size_t nspecial, special_cap;
};

struct tree *tree_new(bool digest_enabled, bool extended_types);
void tree_free(struct tree *t);

/* Lookup by full path ("/" and "" are the root). NULL when absent or when
 * path is not absolute. */
struct znode *tree_lookup(const struct tree *t, const char *path, size_t len);
struct znode *tree_child(const struct tree *t, const struct znode *parent, const char *name, size_t len);

/* Add a child with the given stat fields (children counts ignored). Data is
 * copied; data == NULL means null data. The node takes over one reference of
 * acl_ref. Returns NULL on allocation failure (the reference stays the
 * caller's). */
struct znode *tree_insert(struct tree *t, struct znode *parent, const char *name, size_t name_len,
                          const uint8_t *data, size_t data_len, uint32_t acl_ref,
                          const struct znode *stat_from);
/* The same when the caller already has the node's full path (path_len bytes,
 * not necessarily NUL-terminated): saves rebuilding it (snapshot load). */
struct znode *tree_insert_path(struct tree *t, struct znode *parent, const char *name, size_t name_len,
                               const char *path, size_t path_len, const uint8_t *data, size_t data_len,
                               uint32_t acl_ref, const struct znode *st);
/* Remove a childless node (releases its ACL reference). */
void tree_remove(struct tree *t, struct znode *node);
/* Replace a node's data (digest maintained). -ENOMEM leaves it unchanged. */
int tree_set_data(struct tree *t, struct znode *node, const uint8_t *data, size_t len);
/* The same without the digest: for a caller that changes the stat too and
 * brackets both with tree_digest_remove / tree_digest_add. */
int tree_replace_data(struct tree *t, struct znode *node, const uint8_t *data, size_t len);

void tree_digest_remove(struct tree *t, struct znode *node);
void tree_digest_add(struct tree *t, struct znode *node);
/* Bulk loading: while deferred, inserted nodes are not hashed for the digest
 * (their path CRC is computed when first needed). tree_defer_digest_end sets
 * the digest to known_digest when have_known, else computes it by a walk. */
void tree_defer_digest_begin(struct tree *t);
void tree_defer_digest_end(struct tree *t, bool have_known, uint64_t known_digest);

/* Full path into buf (NUL-terminated when it fits); returns its length. The
 * root is "/". */
size_t tree_node_path(const struct znode *node, char *buf, size_t cap);
/* The same, malloc'ed. */
char *tree_node_path_dup(const struct znode *node);

void tree_node_stat(const struct znode *node, struct zk_stat *out);
enum tree_node_kind tree_node_kind(const struct tree *t, const struct znode *node);
/* Descendants, the node itself excluded. */
int64_t tree_count_descendants(const struct znode *node);

/* ACL cache. tree_acl_intern returns a reference holding one count (the list
 * is copied), 0 on allocation failure (never for TREE_ACL_OPEN). */
uint32_t tree_acl_intern(struct tree *t, const struct acl_entry *acl, size_t n);
void tree_acl_ref(struct tree *t, uint32_t ref);
void tree_acl_unref(struct tree *t, uint32_t ref);
/* The list behind a reference (OPEN: world:anyone ALL). */
const struct acl_entry *tree_acl_get(const struct tree *t, uint32_t ref, size_t *n);
/* Replace a node's ACL (takes over the reference given). */
void tree_set_acl(struct tree *t, struct znode *node, uint32_t ref);

/* Containers and TTL nodes, for the reaper. */
static inline size_t tree_special_count(const struct tree *t) { return t->nspecial; }

/* Pre-order walk without recursion (clients control depth). fn returns
 * non-zero to stop; that value is returned. */
typedef int (*tree_visit_fn)(void *arg, struct znode *node);
int tree_walk(struct znode *from, tree_visit_fn fn, void *arg);

/* Path validity as ZooKeeper's PathUtils.validatePath: 0 or -EINVAL. */
int tree_validate_path(const char *path, size_t len);

#endif
