/*
 * Data tree implementation (see tree.h for the layout and invariants).
 *
 * The (parent, name) hash table uses chaining through znode.hash_next and
 * doubles when the load factor passes 1. Child vectors use swap-remove with
 * each child's index_in_parent kept current, so removal is O(1).
 */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"

/* ------------------------------------------------------------------ hashing */

static uint32_t tree_hash(const struct znode *parent, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 1099511628211ULL;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static int tree_grow_buckets(struct tree *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 1024;
    struct znode **b = calloc(n, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct znode *z = t->buckets[i];
        while (z) {
            struct znode *next = z->hash_next;
            size_t slot = tree_hash(z->parent, z->name, z->name_len) & (n - 1);
            z->hash_next = b[slot];
            b[slot] = z;
            z = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

struct znode *tree_child(const struct tree *t, const struct znode *parent, const char *name, size_t len)
{
    uint32_t h = tree_hash(parent, name, len);
    for (struct znode *z = t->buckets[h & (t->nbuckets - 1)]; z; z = z->hash_next)
        if (z->parent == parent && z->name_len == len && memcmp(z->name, name, len) == 0)
            return z;
    return NULL;
}

struct znode *tree_lookup(const struct tree *t, const char *path, size_t len)
{
    if (len == 0 || (len == 1 && path[0] == '/'))
        return t->root;
    if (path[0] != '/')
        return NULL;
    struct znode *cur = t->root;
    size_t i = 1;
    while (i <= len) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        cur = tree_child(t, cur, path + i, j - i);
        if (cur == NULL)
            return NULL;
        i = j + 1;
    }
    return cur;
}

/* ------------------------------------------------------------------- paths */

size_t tree_node_path(const struct znode *node, char *buf, size_t cap)
{
    if (node->parent == NULL) {
        if (cap >= 2) {
            buf[0] = '/';
            buf[1] = '\0';
        }
        return 1;
    }
    size_t len = 0;
    for (const struct znode *z = node; z->parent; z = z->parent)
        len += 1 + z->name_len;
    if (len + 1 <= cap) {
        size_t pos = len;
        buf[len] = '\0';
        for (const struct znode *z = node; z->parent; z = z->parent) {
            pos -= z->name_len;
            memcpy(buf + pos, z->name, z->name_len);
            buf[--pos] = '/';
        }
    }
    return len;
}

char *tree_node_path_dup(const struct znode *node)
{
    size_t len = tree_node_path(node, NULL, 0);
    char *p = malloc(len + 1);
    if (p)
        tree_node_path(node, p, len + 1);
    return p;
}

/* ------------------------------------------------------------------ digest */

/* Is the node one ZooKeeper's digest skips (a descendant of /zookeeper)? */
static bool tree_digest_skips(const struct tree *t, const struct znode *node)
{
    const struct znode *z = node;
    if (z->parent == NULL || z->parent->parent == NULL)
        return false;
    while (z->parent->parent)
        z = z->parent;
    (void)t;
    return z->name_len == 9 && memcmp(z->name, "zookeeper", 9) == 0;
}

static uint32_t tree_path_crc(const struct znode *node)
{
    char stackbuf[512];
    size_t len = node->parent ? tree_node_path(node, stackbuf, sizeof stackbuf) : 0;
    char *p = stackbuf;
    if (len >= sizeof stackbuf) {
        p = tree_node_path_dup(node);
        if (p == NULL)
            return 0;
    }
    uint32_t crc = crc32_update(0, p, len);
    if (node->data_len)
        crc = crc32_update(crc, node->data, node->data_len);
    if (p != stackbuf)
        free(p);
    return crc;
}

static uint32_t tree_node_digest(struct znode *node)
{
    if (!node->crc_valid) {
        node->path_crc = tree_path_crc(node);
        node->crc_valid = true;
    }
    uint8_t block[60];
    jute_writer w = {.data = block, .len = 0, .cap = sizeof block, .oom = false};
    jute_write_long(&w, node->czxid);
    jute_write_long(&w, node->mzxid);
    jute_write_long(&w, node->pzxid);
    jute_write_long(&w, node->ctime);
    jute_write_long(&w, node->mtime);
    jute_write_int(&w, node->version);
    jute_write_int(&w, node->cversion);
    jute_write_int(&w, node->aversion);
    jute_write_long(&w, node->ephemeral_owner);
    /* Continuing a finished CRC: this is CRC-32(path, data, block). */
    return crc32_update(node->path_crc, block, sizeof block);
}

void tree_digest_remove(struct tree *t, struct znode *node)
{
    if (t->digest_enabled && !t->digest_deferred && !tree_digest_skips(t, node))
        t->digest -= tree_node_digest(node);
}

void tree_digest_add(struct tree *t, struct znode *node)
{
    if (t->digest_enabled && !t->digest_deferred && !tree_digest_skips(t, node))
        t->digest += tree_node_digest(node);
}

void tree_defer_digest_begin(struct tree *t)
{
    t->digest_deferred = true;
}

static int tree_digest_visit(void *arg, struct znode *z)
{
    tree_digest_add(arg, z);
    return 0;
}

void tree_defer_digest_end(struct tree *t, bool have_known, uint64_t known_digest)
{
    t->digest_deferred = false;
    if (!t->digest_enabled)
        return;
    if (have_known) {
        t->digest = known_digest;
        return;
    }
    t->digest = 0;
    tree_walk(t->root, tree_digest_visit, t);
}

/* --------------------------------------------------------------- ACL cache */

static uint32_t tree_acl_hash(const struct acl_entry *acl, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint32_t)acl[i].perms) * 16777619u;
        for (const char *s = acl[i].id.scheme; s && *s; s++)
            h = (h ^ (uint8_t)*s) * 16777619u;
        h = (h ^ ':') * 16777619u;
        for (const char *s = acl[i].id.id; s && *s; s++)
            h = (h ^ (uint8_t)*s) * 16777619u;
        h = (h ^ ';') * 16777619u;
    }
    return h;
}

static bool tree_acl_equal(const struct acl_entry *a, size_t na, const struct acl_entry *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].perms != b[i].perms || strcmp(a[i].id.scheme, b[i].id.scheme) != 0 ||
            strcmp(a[i].id.id, b[i].id.id) != 0)
            return false;
    return true;
}

static int tree_acl_rehash(struct tree *t, size_t nb)
{
    uint32_t *b = calloc(nb, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->nacls; i++) {
        if (t->acls[i].acl == NULL && t->acls[i].refs == 0)
            continue;
        size_t slot = t->acls[i].hash & (nb - 1);
        t->acls[i].next = b[slot];
        b[slot] = (uint32_t)(i + 1);
    }
    free(t->acl_buckets);
    t->acl_buckets = b;
    t->acl_nbuckets = nb;
    return 0;
}

uint32_t tree_acl_intern(struct tree *t, const struct acl_entry *acl, size_t n)
{
    uint32_t h = tree_acl_hash(acl, n);
    for (uint32_t i = t->acl_buckets[h & (t->acl_nbuckets - 1)]; i; i = t->acls[i - 1].next) {
        struct tree_acl_slot *s = &t->acls[i - 1];
        if (s->refs && s->hash == h && tree_acl_equal(s->acl, s->nacl, acl, n)) {
            s->refs++;
            return i;
        }
    }
    struct acl_entry *copy = calloc(n ? n : 1, sizeof *copy);
    if (copy == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        copy[i].perms = acl[i].perms;
        copy[i].id.scheme = strdup(acl[i].id.scheme);
        copy[i].id.id = strdup(acl[i].id.id);
        if (copy[i].id.scheme == NULL || copy[i].id.id == NULL) {
            acl_entries_free(copy, i + 1);
            return 0;
        }
    }
    uint32_t ref;
    if (t->acl_free) {
        ref = t->acl_free;
        t->acl_free = t->acls[ref - 1].next;
    } else {
        if (t->nacls == t->acls_cap) {
            size_t cap = t->acls_cap ? t->acls_cap * 2 : 16;
            struct tree_acl_slot *s = realloc(t->acls, cap * sizeof *s);
            if (s == NULL) {
                acl_entries_free(copy, n);
                return 0;
            }
            t->acls = s;
            t->acls_cap = cap;
        }
        ref = (uint32_t)++t->nacls;
    }
    struct tree_acl_slot *s = &t->acls[ref - 1];
    *s = (struct tree_acl_slot){.acl = copy, .nacl = n, .refs = 1, .hash = h, .id = t->acl_next_id++};
    if (t->nacls > t->acl_nbuckets && tree_acl_rehash(t, t->acl_nbuckets * 2) == 0)
        return ref;
    size_t slot = h & (t->acl_nbuckets - 1);
    s->next = t->acl_buckets[slot];
    t->acl_buckets[slot] = ref;
    return ref;
}

void tree_acl_ref(struct tree *t, uint32_t ref)
{
    if (ref != TREE_ACL_OPEN)
        t->acls[ref - 1].refs++;
}

void tree_acl_unref(struct tree *t, uint32_t ref)
{
    if (ref == TREE_ACL_OPEN)
        return;
    struct tree_acl_slot *s = &t->acls[ref - 1];
    if (--s->refs > 0)
        return;
    /* Unlink from its hash chain, then put the slot on the free list. */
    uint32_t *link = &t->acl_buckets[s->hash & (t->acl_nbuckets - 1)];
    while (*link && *link != ref)
        link = &t->acls[*link - 1].next;
    if (*link == ref)
        *link = s->next;
    acl_entries_free(s->acl, s->nacl);
    s->acl = NULL;
    s->nacl = 0;
    s->next = t->acl_free;
    t->acl_free = ref;
}

static struct acl_entry tree_open_acl = {.perms = ZK_PERM_ALL, .id = {.scheme = "world", .id = "anyone"}};

const struct acl_entry *tree_acl_get(const struct tree *t, uint32_t ref, size_t *n)
{
    if (ref == TREE_ACL_OPEN) {
        *n = 1;
        return &tree_open_acl;
    }
    *n = t->acls[ref - 1].nacl;
    return t->acls[ref - 1].acl;
}

void tree_set_acl(struct tree *t, struct znode *node, uint32_t ref)
{
    uint32_t old = node->acl;
    node->acl = ref;
    tree_acl_unref(t, old);
}

/* ------------------------------------------------------------------- nodes */

static void tree_special_add(struct tree *t, struct znode *z)
{
    if (t->nspecial == t->special_cap) {
        size_t cap = t->special_cap ? t->special_cap * 2 : 16;
        struct znode **s = realloc(t->special, cap * sizeof *s);
        if (s == NULL)
            return; /* the reaper will miss it; nothing else breaks */
        t->special = s;
        t->special_cap = cap;
    }
    t->special[t->nspecial++] = z;
}

static void tree_special_remove(struct tree *t, struct znode *z)
{
    for (size_t i = 0; i < t->nspecial; i++) {
        if (t->special[i] == z) {
            t->special[i] = t->special[--t->nspecial];
            return;
        }
    }
}

enum tree_node_kind tree_node_kind(const struct tree *t, const struct znode *node)
{
    int64_t owner = node->ephemeral_owner;
    if (owner == 0)
        return TREE_NODE_PERSISTENT;
    if (owner == TREE_OWNER_CONTAINER)
        return TREE_NODE_CONTAINER;
    if (t->extended_types && (owner & TREE_OWNER_TTL_MASK) == TREE_OWNER_TTL_MASK)
        return TREE_NODE_TTL;
    return TREE_NODE_EPHEMERAL;
}

/* The data a node was created with lives in the same allocation, after its
 * name (one malloc per node, not two); data set later that fits there is
 * copied in place, larger data gets its own block. */
static uint8_t *tree_inline_data(struct znode *z)
{
    return (uint8_t *)z->name + z->name_len + 1;
}

static void tree_free_data(struct znode *z)
{
    if (z->data != tree_inline_data(z))
        free(z->data);
}

static struct znode *tree_node_alloc(const char *name, size_t name_len, const uint8_t *data, size_t data_len)
{
    struct znode *z = calloc(1, sizeof *z + name_len + 1 + data_len);
    if (z == NULL)
        return NULL;
    z->name_len = (uint32_t)name_len;
    z->inline_cap = (uint32_t)data_len;
    if (data_len) {
        z->data = tree_inline_data(z);
        memcpy(z->data, data, data_len);
    }
    z->data_len = (uint32_t)data_len;
    z->data_null = data == NULL;
    memcpy(z->name, name, name_len);
    return z;
}

struct znode *tree_insert(struct tree *t, struct znode *parent, const char *name, size_t name_len,
                          const uint8_t *data, size_t data_len, uint32_t acl_ref, const struct znode *st)
{
    return tree_insert_path(t, parent, name, name_len, NULL, 0, data, data_len, acl_ref, st);
}

struct znode *tree_insert_path(struct tree *t, struct znode *parent, const char *name, size_t name_len,
                               const char *path, size_t path_len, const uint8_t *data, size_t data_len,
                               uint32_t acl_ref, const struct znode *st)
{
    if (parent->nchildren == parent->children_cap) {
        uint32_t cap = parent->children_cap ? parent->children_cap * 2 : 2;
        struct znode **c = realloc(parent->children, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        parent->children = c;
        parent->children_cap = cap;
    }
    if (t->count >= t->nbuckets && tree_grow_buckets(t) < 0)
        return NULL;
    struct znode *z = tree_node_alloc(name, name_len, data, data_len);
    if (z == NULL)
        return NULL;
    z->czxid = st->czxid;
    z->mzxid = st->mzxid;
    z->ctime = st->ctime;
    z->mtime = st->mtime;
    z->ephemeral_owner = st->ephemeral_owner;
    z->pzxid = st->pzxid;
    z->version = st->version;
    z->cversion = st->cversion;
    z->aversion = st->aversion;
    z->acl = acl_ref;
    z->parent = parent;
    size_t slot = tree_hash(parent, name, name_len) & (t->nbuckets - 1);
    z->hash_next = t->buckets[slot];
    t->buckets[slot] = z;
    z->index_in_parent = parent->nchildren;
    parent->children[parent->nchildren++] = z;
    t->count++;
    if (path == NULL)
        path_len = tree_node_path(z, NULL, 0);
    if (t->digest_deferred) {
        z->crc_valid = false; /* computed when first needed */
    } else if (path) {
        uint32_t crc = crc32_update(0, path, path_len);
        z->path_crc = data_len ? crc32_update(crc, data, data_len) : crc;
        z->crc_valid = true;
    } else {
        z->path_crc = tree_path_crc(z);
        z->crc_valid = true;
    }
    t->data_size += (int64_t)(path_len + data_len);
    tree_digest_add(t, z);
    enum tree_node_kind kind = tree_node_kind(t, z);
    if (kind == TREE_NODE_CONTAINER || kind == TREE_NODE_TTL)
        tree_special_add(t, z);
    return z;
}

void tree_remove(struct tree *t, struct znode *z)
{
    struct znode *parent = z->parent;
    tree_digest_remove(t, z);
    enum tree_node_kind kind = tree_node_kind(t, z);
    if (kind == TREE_NODE_CONTAINER || kind == TREE_NODE_TTL)
        tree_special_remove(t, z);
    t->data_size -= (int64_t)(tree_node_path(z, NULL, 0) + z->data_len);
    struct znode **link = &t->buckets[tree_hash(parent, z->name, z->name_len) & (t->nbuckets - 1)];
    while (*link != z)
        link = &(*link)->hash_next;
    *link = z->hash_next;
    struct znode *last = parent->children[--parent->nchildren];
    parent->children[z->index_in_parent] = last;
    last->index_in_parent = z->index_in_parent;
    t->count--;
    tree_acl_unref(t, z->acl);
    free(z->children);
    tree_free_data(z);
    free(z);
}

int tree_set_data(struct tree *t, struct znode *z, const uint8_t *data, size_t len)
{
    tree_digest_remove(t, z);
    int rc = tree_replace_data(t, z, data, len);
    tree_digest_add(t, z);
    return rc;
}

int tree_replace_data(struct tree *t, struct znode *z, const uint8_t *data, size_t len)
{
    uint8_t *copy = NULL;
    bool in_place = len > 0 && len <= z->inline_cap;
    if (len && !in_place) {
        copy = malloc(len);
        if (copy == NULL)
            return -ENOMEM;
        memcpy(copy, data, len);
    }
    t->data_size += (int64_t)len - (int64_t)z->data_len;
    tree_free_data(z);
    if (in_place) {
        copy = tree_inline_data(z);
        memmove(copy, data, len);
    }
    z->data = copy;
    z->data_len = (uint32_t)len;
    z->data_null = data == NULL;
    z->path_crc = tree_path_crc(z);
    z->crc_valid = true;
    return 0;
}

void tree_node_stat(const struct znode *z, struct zk_stat *out)
{
    out->czxid = z->czxid;
    out->mzxid = z->mzxid;
    out->ctime = z->ctime;
    out->mtime = z->mtime;
    out->version = z->version;
    out->cversion = z->cversion * 2 - (int32_t)z->nchildren;
    out->aversion = z->aversion;
    /* Containers and TTL nodes keep a marker on disk but show owner 0. */
    int64_t owner = z->ephemeral_owner;
    if (owner == TREE_OWNER_CONTAINER || (owner & TREE_OWNER_TTL_MASK) == TREE_OWNER_TTL_MASK)
        owner = 0;
    out->ephemeral_owner = owner;
    out->data_length = (int32_t)z->data_len;
    out->num_children = (int32_t)z->nchildren;
    out->pzxid = z->pzxid;
}

int tree_walk(struct znode *from, tree_visit_fn fn, void *arg)
{
    size_t cap = 64, n = 0;
    struct znode **stack = malloc(cap * sizeof *stack);
    if (stack == NULL)
        return -ENOMEM;
    stack[n++] = from;
    int rc = 0;
    while (n > 0) {
        struct znode *z = stack[--n];
        rc = fn(arg, z);
        if (rc)
            break;
        if (n + z->nchildren > cap) {
            while (n + z->nchildren > cap)
                cap *= 2;
            struct znode **s = realloc(stack, cap * sizeof *s);
            if (s == NULL) {
                rc = -ENOMEM;
                break;
            }
            stack = s;
        }
        for (uint32_t i = z->nchildren; i > 0; i--)
            stack[n++] = z->children[i - 1];
    }
    free(stack);
    return rc;
}

static int tree_count_visit(void *arg, struct znode *z)
{
    (void)z;
    (*(int64_t *)arg)++;
    return 0;
}

int64_t tree_count_descendants(const struct znode *node)
{
    int64_t n = 0;
    tree_walk((struct znode *)node, tree_count_visit, &n);
    return n - 1;
}

/* --------------------------------------------------------------- lifecycle */

struct tree *tree_new(bool digest_enabled, bool extended_types)
{
    struct tree *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->digest_enabled = digest_enabled;
    t->extended_types = extended_types;
    t->acl_next_id = 1;
    if (tree_grow_buckets(t) < 0 || tree_acl_rehash(t, 16) < 0)
        goto fail;
    t->root = tree_node_alloc("", 0, NULL, 0);
    if (t->root == NULL)
        goto fail;
    t->root->data_null = false;
    t->count = 1;
    t->root->path_crc = tree_path_crc(t->root);
    t->root->crc_valid = true;
    tree_digest_add(t, t->root);
    /* /zookeeper, /zookeeper/quota and /zookeeper/config as a 3.8 server has
     * them: zero stats, config readable by anyone, config aversion -1. */
    struct znode st = {0};
    struct znode *zk = tree_insert(t, t->root, "zookeeper", 9, (const uint8_t *)"", 0, TREE_ACL_OPEN, &st);
    struct acl_entry read_unsafe = {.perms = ZK_PERM_READ, .id = {.scheme = "world", .id = "anyone"}};
    uint32_t ref = tree_acl_intern(t, &read_unsafe, 1);
    struct znode config_st = st;
    config_st.aversion = -1;
    /* config before quota: the order ZooKeeper's snapshots list them in. */
    if (zk == NULL || ref == 0 || tree_insert(t, zk, "config", 6, (const uint8_t *)"", 0, ref, &config_st) == NULL ||
        tree_insert(t, zk, "quota", 5, (const uint8_t *)"", 0, TREE_ACL_OPEN, &st) == NULL)
        goto fail;
    return t;
fail:
    tree_free(t);
    return NULL;
}

static int tree_free_visit(void *arg, struct znode *z)
{
    struct znode ***list = arg;
    **list = z;
    (*list)++;
    return 0;
}

void tree_free(struct tree *t)
{
    if (t == NULL)
        return;
    if (t->root) {
        struct znode **all = malloc(t->count * sizeof *all);
        if (all) {
            struct znode **cursor = all;
            tree_walk(t->root, tree_free_visit, &cursor);
            for (struct znode **p = all; p < cursor; p++) {
                free((*p)->children);
                tree_free_data(*p);
                free(*p);
            }
            free(all);
        }
    }
    for (size_t i = 0; i < t->nacls; i++)
        acl_entries_free(t->acls[i].acl, t->acls[i].nacl);
    free(t->acls);
    free(t->acl_buckets);
    free(t->buckets);
    free(t->special);
    free(t);
}

/* ------------------------------------------------------------- validation */

/* Decode one UTF-8 sequence; invalid input yields U+FFFD, as Java's decoder
 * does, so it is rejected below like ZooKeeper rejects it. */
static uint32_t tree_utf8_next(const uint8_t *s, size_t len, size_t *i)
{
    uint8_t c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
    if (n < 0 || *i + (size_t)n >= len) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = c & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
        uint8_t cc = s[*i + (size_t)k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    *i += (size_t)n + 1;
    if (n == 3)
        return 0xD800; /* a supplementary character: surrogates in Java */
    return cp;
}

int tree_validate_path(const char *path, size_t len)
{
    if (path == NULL || len == 0 || path[0] != '/')
        return -EINVAL;
    if (len == 1)
        return 0;
    if (path[len - 1] == '/')
        return -EINVAL;
    const uint8_t *s = (const uint8_t *)path;
    size_t i = 1;
    uint32_t last = '/';
    size_t seg_start = 1;
    while (i < len) {
        uint32_t c = tree_utf8_next(s, len, &i);
        if (c == 0)
            return -EINVAL;
        if (c == '/') {
            if (last == '/')
                return -EINVAL;
            size_t seg_len = i - 1 - seg_start;
            if ((seg_len == 1 && path[seg_start] == '.') ||
                (seg_len == 2 && path[seg_start] == '.' && path[seg_start + 1] == '.'))
                return -EINVAL;
            seg_start = i;
        } else if ((c > 0 && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xF8FF) ||
                   (c >= 0xFFF0 && c <= 0xFFFF)) {
            return -EINVAL;
        }
        last = c;
    }
    size_t seg_len = len - seg_start;
    if ((seg_len == 1 && path[seg_start] == '.') ||
        (seg_len == 2 && path[seg_start] == '.' && path[seg_start + 1] == '.'))
        return -EINVAL;
    return 0;
}
