/*
 * Watches: ZooKeeper's WatchManager, twice (data watches and child watches).
 *
 * A watcher is a client connection (it embeds struct watcher). A table maps a
 * path to the watchers registered on it, each with a mode: standard (fires
 * once), persistent, or persistent-recursive (also fires for events below the
 * path, except NodeChildrenChanged). The watcher keeps back-references to its
 * entries so closing a connection removes its watches without scanning.
 *
 * watch_trigger collects the watchers to notify into a caller-owned list,
 * each at most once per trigger generation (see watch_begin_event), removing
 * standard watches as it goes; the caller sends the notifications.
 */
#ifndef ZKPLUG_WATCH_H
#define ZKPLUG_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum watch_mode {
    WATCH_STANDARD = 0,
    WATCH_PERSISTENT = 1,
    WATCH_RECURSIVE = 2,
};

struct watch_path;
struct watch_table;

struct watch_ref {
    struct watch_table *table;
    struct watch_path *path;
};

struct watcher {
    struct watch_ref *refs;
    size_t nrefs, refs_cap;
    uint64_t mark; /* last trigger generation that selected this watcher */
};

struct watch_entry {
    struct watcher *watcher;
    uint8_t mode;
};

struct watch_path {
    struct watch_path *next;
    struct watch_entry *entries;
    uint32_t n, cap;
    uint32_t hash;
    uint32_t len;
    char path[];
};

struct watch_table {
    struct watch_path **buckets;
    size_t nbuckets;
    size_t npaths;
    size_t nwatches;
    size_t nrecursive;
};

/* A growable list of watchers selected by triggers. */
struct watch_hits {
    struct watcher **items;
    size_t n, cap;
};

int watch_table_init(struct watch_table *t);
void watch_table_fini(struct watch_table *t);

/* Add or re-mode a watch (the latest mode wins, as in ZooKeeper). */
int watch_add(struct watch_table *t, const char *path, size_t len, struct watcher *w, enum watch_mode mode);
/* Remove w's watch on path: true if there was one. */
bool watch_remove(struct watch_table *t, const char *path, size_t len, struct watcher *w);
bool watch_contains(struct watch_table *t, const char *path, size_t len, const struct watcher *w);
/* Remove every watch of w (connection closed). */
void watch_remove_watcher(struct watcher *w);

/* Start a trigger generation: watchers already selected in it are not
 * selected again (ZooKeeper's suppression of a second NodeDeleted). */
uint64_t watch_begin_event(void);
/* Select the watchers for an event of `type` (ZK_EVENT_*) on path. */
int watch_trigger(struct watch_table *t, const char *path, size_t len, int type, uint64_t generation,
                  struct watch_hits *out);

/* Visit (path, watcher) pairs, e.g. for wchc/wchp. */
typedef void (*watch_visit_fn)(void *arg, const char *path, size_t len, struct watcher *w, enum watch_mode mode);
void watch_foreach(const struct watch_table *t, watch_visit_fn fn, void *arg);

#endif
