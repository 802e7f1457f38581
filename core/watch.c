/*
 * Watch tables (see watch.h). Paths hash into chained buckets; a path entry
 * holds a small vector of (watcher, mode). Removing an entry swaps the last
 * one into its place and updates nothing else: watchers find their entries
 * by scanning the (short) vector of their path.
 */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static uint64_t watch_generation;

static uint32_t watch_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int watch_table_init(struct watch_table *t)
{
    memset(t, 0, sizeof *t);
    t->nbuckets = 256;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -ENOMEM;
}

void watch_table_fini(struct watch_table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct watch_path *p = t->buckets[i];
        while (p) {
            struct watch_path *next = p->next;
            free(p->entries);
            free(p);
            p = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static struct watch_path *watch_find(const struct watch_table *t, const char *path, size_t len, uint32_t h)
{
    for (struct watch_path *p = t->buckets[h & (t->nbuckets - 1)]; p; p = p->next)
        if (p->hash == h && p->len == len && memcmp(p->path, path, len) == 0)
            return p;
    return NULL;
}

static void watch_grow(struct watch_table *t)
{
    size_t n = t->nbuckets * 2;
    struct watch_path **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct watch_path *p = t->buckets[i];
        while (p) {
            struct watch_path *next = p->next;
            p->next = b[p->hash & (n - 1)];
            b[p->hash & (n - 1)] = p;
            p = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static void watch_path_free(struct watch_table *t, struct watch_path *p)
{
    struct watch_path **link = &t->buckets[p->hash & (t->nbuckets - 1)];
    while (*link != p)
        link = &(*link)->next;
    *link = p->next;
    t->npaths--;
    free(p->entries);
    free(p);
}

static void watch_ref_drop(struct watcher *w, struct watch_table *t, struct watch_path *p)
{
    for (size_t i = 0; i < w->nrefs; i++) {
        if (w->refs[i].table == t && w->refs[i].path == p) {
            w->refs[i] = w->refs[--w->nrefs];
            return;
        }
    }
}

/* Remove entry i of p; frees p when it empties (returns true then). */
static bool watch_entry_remove(struct watch_table *t, struct watch_path *p, uint32_t i, bool drop_ref)
{
    struct watch_entry e = p->entries[i];
    if (e.mode == WATCH_RECURSIVE)
        t->nrecursive--;
    t->nwatches--;
    if (drop_ref)
        watch_ref_drop(e.watcher, t, p);
    p->entries[i] = p->entries[--p->n];
    if (p->n == 0) {
        watch_path_free(t, p);
        return true;
    }
    return false;
}

int watch_add(struct watch_table *t, const char *path, size_t len, struct watcher *w, enum watch_mode mode)
{
    uint32_t h = watch_hash(path, len);
    struct watch_path *p = watch_find(t, path, len, h);
    if (p) {
        for (uint32_t i = 0; i < p->n; i++) {
            if (p->entries[i].watcher == w) {
                if (p->entries[i].mode == WATCH_RECURSIVE)
                    t->nrecursive--;
                if (mode == WATCH_RECURSIVE)
                    t->nrecursive++;
                p->entries[i].mode = (uint8_t)mode;
                return 0;
            }
        }
    }
    if (w->nrefs == w->refs_cap) {
        size_t cap = w->refs_cap ? w->refs_cap * 2 : 4;
        struct watch_ref *r = realloc(w->refs, cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        w->refs = r;
        w->refs_cap = cap;
    }
    if (p == NULL) {
        p = calloc(1, sizeof *p + len + 1);
        if (p == NULL)
            return -ENOMEM;
        memcpy(p->path, path, len);
        p->len = (uint32_t)len;
        p->hash = h;
        if (t->npaths >= t->nbuckets)
            watch_grow(t);
        p->next = t->buckets[h & (t->nbuckets - 1)];
        t->buckets[h & (t->nbuckets - 1)] = p;
        t->npaths++;
    }
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 2;
        struct watch_entry *e = realloc(p->entries, cap * sizeof *e);
        if (e == NULL) {
            if (p->n == 0)
                watch_path_free(t, p);
            return -ENOMEM;
        }
        p->entries = e;
        p->cap = cap;
    }
    p->entries[p->n++] = (struct watch_entry){.watcher = w, .mode = (uint8_t)mode};
    w->refs[w->nrefs++] = (struct watch_ref){.table = t, .path = p};
    t->nwatches++;
    if (mode == WATCH_RECURSIVE)
        t->nrecursive++;
    return 0;
}

bool watch_remove(struct watch_table *t, const char *path, size_t len, struct watcher *w)
{
    struct watch_path *p = watch_find(t, path, len, watch_hash(path, len));
    if (p == NULL)
        return false;
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->entries[i].watcher == w) {
            watch_entry_remove(t, p, i, true);
            return true;
        }
    }
    return false;
}

bool watch_contains(struct watch_table *t, const char *path, size_t len, const struct watcher *w)
{
    struct watch_path *p = watch_find(t, path, len, watch_hash(path, len));
    if (p == NULL)
        return false;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->entries[i].watcher == w)
            return true;
    return false;
}

void watch_remove_watcher(struct watcher *w)
{
    while (w->nrefs > 0) {
        struct watch_ref r = w->refs[--w->nrefs];
        for (uint32_t i = 0; i < r.path->n; i++) {
            if (r.path->entries[i].watcher == w) {
                watch_entry_remove(r.table, r.path, i, false);
                break;
            }
        }
    }
    free(w->refs);
    w->refs = NULL;
    w->refs_cap = 0;
}

uint64_t watch_begin_event(void) { return ++watch_generation; }

static int watch_hit(struct watch_hits *out, struct watcher *w, uint64_t generation)
{
    if (w->mark == generation)
        return 0;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        struct watcher **items = realloc(out->items, cap * sizeof *items);
        if (items == NULL)
            return -ENOMEM;
        out->items = items;
        out->cap = cap;
    }
    w->mark = generation;
    out->items[out->n++] = w;
    return 0;
}

/* Visit one path's watchers: at the event's own path every mode fires and
 * standard watches are consumed; at an ancestor only recursive ones fire. */
static int watch_trigger_at(struct watch_table *t, const char *path, size_t len, bool at_parent, int type,
                            uint64_t generation, struct watch_hits *out)
{
    struct watch_path *p = watch_find(t, path, len, watch_hash(path, len));
    if (p == NULL)
        return 0;
    uint32_t i = 0;
    while (i < p->n) {
        struct watch_entry e = p->entries[i];
        if (e.mode == WATCH_RECURSIVE) {
            if (type != ZK_EVENT_CHILDREN_CHANGED && watch_hit(out, e.watcher, generation) < 0)
                return -ENOMEM;
        } else if (!at_parent) {
            /* Suppressed watchers (already selected in this generation) still
             * lose their one-shot watch, as in ZooKeeper. */
            if (watch_hit(out, e.watcher, generation) < 0)
                return -ENOMEM;
            if (e.mode == WATCH_STANDARD) {
                if (watch_entry_remove(t, p, i, true))
                    return 0;
                continue;
            }
        }
        i++;
    }
    return 0;
}

int watch_trigger(struct watch_table *t, const char *path, size_t len, int type, uint64_t generation,
                  struct watch_hits *out)
{
    int rc = watch_trigger_at(t, path, len, false, type, generation, out);
    if (rc < 0 || t->nrecursive == 0)
        return rc;
    /* Walk up the ancestors for persistent-recursive watches. */
    size_t l = len;
    while (l > 1) {
        size_t k = l - 1;
        while (k > 0 && path[k] != '/')
            k--;
        l = k == 0 ? 1 : k;
        rc = watch_trigger_at(t, path, l, true, type, generation, out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void watch_foreach(const struct watch_table *t, watch_visit_fn fn, void *arg)
{
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct watch_path *p = t->buckets[b]; p; p = p->next)
            for (uint32_t i = 0; i < p->n; i++)
                fn(arg, p->path, p->len, p->entries[i].watcher, (enum watch_mode)p->entries[i].mode);
}
