/*
 * zkplug plugin ABI: the one public header a plugin needs.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * ZKP_DESCRIPTOR_SYMBOL ("zkp_plugin_descriptor"), a const struct zkp_plugin.
 * The loader checks the descriptor (magic, ABI major, struct size, kind, name,
 * lifecycle functions, ops table size) before calling any plugin code.
 *
 * Lifecycle, always in this order, always on the event-loop thread:
 *   init(host, &state)  validate configuration (through host->config_*), register
 *                       metrics; no sockets, no threads, no files opened yet.
 *   start(state)        open resources (listen sockets, files, threads).
 *   stop(state)         stop activity; once it returns, the plugin makes no
 *                       further callback into the core and posts nothing.
 *   fini(state)         free everything; state is not used again.
 * init and start report failure by returning a negative errno and writing a
 * one-line reason into err (NUL-terminated, at most errlen bytes).
 *
 * Evolution: structures are append-only. Every structure that crosses the ABI
 * begins with its size; the core reads a member only when the size the plugin
 * declared covers it. ZKP_ABI_MAJOR changes only when something is removed or
 * changes meaning; a plugin built for another major is refused.
 *
 * Threads: every call from the core into a plugin happens on the event-loop
 * thread. A plugin that runs threads of its own reaches the loop again only
 * through host->post, the one host service that is thread-safe.
 */
#ifndef ZKPLUG_PLUGIN_H
#define ZKPLUG_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "zkp" followed by 0x01: high bits set so that garbage rarely matches. */
#define ZKP_ABI_MAGIC 0x7a6b7001u
#define ZKP_ABI_MAJOR 1
#define ZKP_ABI_MINOR 2 /* 1.1: outbound connect, network and ensemble host services;
                          1.2: election reconfigure */
#define ZKP_DESCRIPTOR_SYMBOL "zkp_plugin_descriptor"

enum zkp_kind {
    ZKP_KIND_ELECTION = 1,
    ZKP_KIND_TRANSPORT = 2,
    ZKP_KIND_STORAGE = 3,
};

enum zkp_log_level {
    ZKP_LOG_ERROR = 0,
    ZKP_LOG_WARN = 1,
    ZKP_LOG_INFO = 2,
    ZKP_LOG_DEBUG = 3,
};

/* fd_watch events */
#define ZKP_EV_READ 0x1u
#define ZKP_EV_WRITE 0x2u
#define ZKP_EV_ERROR 0x4u /* reported only: error or hang-up on the fd */

typedef void (*zkp_fd_cb)(void *arg, int fd, unsigned events);
typedef void (*zkp_timer_cb)(void *arg);
typedef void (*zkp_post_cb)(void *arg);

enum zkp_metric_type {
    ZKP_METRIC_COUNTER = 1, /* only grows; reset by srst */
    ZKP_METRIC_GAUGE = 2,   /* current value */
};

struct zkp_transport_events;
typedef struct zkp_conn zkp_conn;         /* opaque, owned by the transport */
typedef struct zkp_listener zkp_listener; /* opaque, owned by the transport */

/* ABI 1.1: one server.N line, as host->server_get decodes it. */
struct zkp_server {
    uint32_t size;        /* set by the caller: sizeof(struct zkp_server) */
    int64_t id;           /* N */
    const char *host;     /* quorum/election host */
    int quorum_port;
    int election_port;
    int observer;         /* 1 for :observer, 0 for a participant */
    const char *client_host; /* NULL when the line has no client part */
    int client_port;      /* 0 when absent */
};

/*
 * Services the core offers to plugins. Passed to init; valid until fini
 * returns. All but post must be called on the event-loop thread.
 */
struct zkp_host {
    uint32_t size; /* sizeof(struct zkp_host) as the core was built */
    uint32_t abi_major;

    /* Log one line under the plugin's name. Never fails. */
    void (*log)(const struct zkp_host *host, enum zkp_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Typed lookups of zoo.cfg keys (trimmed values). Return 0 and set *out when
     * the key is present and valid, 1 (and *out = def) when absent, -EINVAL when
     * present but not of the type (the core has already logged file, line, key). */
    int (*config_string)(const struct zkp_host *host, const char *key, const char *def,
                         const char **out);
    int (*config_int)(const struct zkp_host *host, const char *key, int64_t def, int64_t *out);
    int (*config_bool)(const struct zkp_host *host, const char *key, int def, int *out);

    /* Event loop: watch an fd for ZKP_EV_READ / ZKP_EV_WRITE. One watch per fd;
     * fd_modify changes the events, fd_unwatch removes it (before close). */
    int (*fd_watch)(const struct zkp_host *host, int fd, unsigned events, zkp_fd_cb cb, void *arg);
    int (*fd_modify)(const struct zkp_host *host, int fd, unsigned events);
    void (*fd_unwatch)(const struct zkp_host *host, int fd);

    /* One-shot timer after ms milliseconds. Returns an id > 0, or 0 on failure.
     * timer_cancel of a fired or unknown id does nothing. */
    uint64_t (*timer_start)(const struct zkp_host *host, uint64_t ms, zkp_timer_cb cb, void *arg);
    void (*timer_cancel)(const struct zkp_host *host, uint64_t id);

    /* Run cb(arg) on the event-loop thread soon. Thread-safe; the only service
     * a plugin thread may call. Returns 0 or -ENOMEM. */
    int (*post)(const struct zkp_host *host, zkp_post_cb cb, void *arg);

    /* Run cb(arg) each loop iteration just before the loop waits for events
     * (where batched writes are flushed). */
    int (*before_sleep)(const struct zkp_host *host, zkp_post_cb cb, void *arg);

    /* Publish a metric whose value the plugin keeps at *value (plugin-owned,
     * valid until fini). Name as in mntr without the zk_ prefix. */
    int (*metric_register)(const struct zkp_host *host, const char *name,
                           enum zkp_metric_type type, const int64_t *value);

    /* Monotonic clock. */
    uint64_t (*now_ms)(const struct zkp_host *host);
    uint64_t (*now_ns)(const struct zkp_host *host);

    /* Plugin-private pointer the core never touches (set by the core to NULL). */
    void *core;

    /* ---- ABI 1.0 ends here. ABI 1.1: read only when size covers them. ---- */

    /* Network through the transport plugin the core routes server-to-server
     * traffic through (plugin.transport). Loop thread only. -ENOTSUP when no
     * transport is routed or it lacks the op. Same contracts as the
     * zkp_transport_ops members of the same names, with three differences
     * that make them safe for a plugin that can be stopped:
     *  - no callback for a conn runs once net_close returned for it, and no
     *    on_accept once net_unlisten returned (the handle is invalid then);
     *  - no callback at all runs after the calling plugin's stop returns; the
     *    core closes whatever the plugin left open when it is stopped;
     *  - events is copied; for net_connect, events->on_connected is
     *    mandatory and every callback receives ctx. */
    int (*net_listen)(const struct zkp_host *host, const char *address, int port, int backlog,
                      const struct zkp_transport_events *events, void *arg,
                      zkp_listener **out, char *err, size_t errlen);
    void (*net_unlisten)(const struct zkp_host *host, zkp_listener *listener);
    int (*net_connect)(const struct zkp_host *host, const char *address, int port,
                       int timeout_ms, const struct zkp_transport_events *events, void *ctx,
                       zkp_conn **out, char *err, size_t errlen);
    int (*net_send)(const struct zkp_host *host, zkp_conn *conn, const void *data, size_t len);
    void (*net_close)(const struct zkp_host *host, zkp_conn *conn, int flush);

    /* This server's id (zoo.cfg dataDir/myid as the core applied it), 0 when
     * the core runs standalone or has not set it. */
    int64_t (*my_id)(const struct zkp_host *host);
    /* The index-th server.N line of the ensemble (0-based, in file order),
     * decoded into *out (out->size set by the caller; members beyond it are
     * not written). 0, or -ENOENT past the last server. Strings are borrowed
     * until fini. */
    int (*server_get)(const struct zkp_host *host, size_t index, struct zkp_server *out);
    /* The index-th zoo.cfg entry (0-based, file order) whose canonical key
     * starts with prefix ("" = every entry): 0 and *key, *value (borrowed
     * until fini), or 1 past the last one. For keys not known in advance,
     * such as group.N and weight.N. */
    int (*config_entry)(const struct zkp_host *host, const char *prefix, size_t index,
                        const char **key, const char **value);
};

/* ------------------------------------------------------------------------- */
/* Transport: carries client connections (ZooKeeper's ServerCnxnFactory role).
 * The transport moves bytes; the core frames packets and decodes them.      */

enum zkp_close_reason {
    ZKP_CLOSE_PEER = 1,    /* peer closed or reset */
    ZKP_CLOSE_ERROR = 2,   /* socket error */
    ZKP_CLOSE_LOCAL = 3,   /* the core asked for it */
    ZKP_CLOSE_MEMORY = 4,  /* out of memory for buffers */
};

/* Callbacks from the transport into the core, on the loop thread. */
struct zkp_transport_events {
    uint32_t size;
    /* A connection was accepted. Return the core's context for it, or NULL to
     * refuse (the transport then closes it without any callback). */
    void *(*on_accept)(void *core_arg, zkp_conn *conn, const char *peer_ip, int peer_port);
    /* Bytes arrived. The core returns how many it consumed (0..len); the
     * transport keeps the rest at the front of its buffer and calls again when
     * more arrive. If the core consumed nothing, it may set *need to the total
     * number of bytes it waits for, so the transport can grow its buffer. */
    size_t (*on_data)(void *ctx, const uint8_t *data, size_t len, size_t *need);
    /* The connection is gone; the context is not used again by the transport. */
    void (*on_close)(void *ctx, enum zkp_close_reason reason);

    /* ---- ABI 1.0 ends here. ABI 1.1: ---- */

    /* An outbound connection (ops->connect) finished connecting: status 0,
     * and on_data/on_close follow as for an accepted one; or a negative errno
     * (-ECONNREFUSED, -ETIMEDOUT, ...): the conn is gone and no on_close
     * follows. Never called from inside connect; not called when the conn
     * was closed before it finished (on_close comes instead). */
    void (*on_connected)(void *ctx, int status);
};

struct zkp_transport_ops {
    uint32_t size;
    /* Listen on address:port (address NULL or "" = all interfaces; backlog -1 =
     * OS default). Calls events on the loop thread until unlisten. */
    int (*listen)(void *state, const char *address, int port, int backlog,
                  const struct zkp_transport_events *events, void *core_arg,
                  zkp_listener **out, char *err, size_t errlen);
    /* The bound port (useful with port 0). */
    int (*listener_port)(zkp_listener *listener);
    void (*unlisten)(void *state, zkp_listener *listener);
    /* Queue bytes (copied). Batched: flushed before the loop sleeps or when the
     * socket is writable. Returns 0, -ENOMEM, or -EPIPE if the conn is closing. */
    int (*send)(zkp_conn *conn, const void *data, size_t len);
    /* Close: flush what was queued first when flush is non-zero. on_close is
     * still called, from the loop, never from inside close(). */
    void (*close)(zkp_conn *conn, int flush);
    /* Stop or resume reading (back-pressure). */
    void (*pause_read)(zkp_conn *conn, int paused);
    /* Bytes queued but not yet written. */
    size_t (*pending)(zkp_conn *conn);

    /* ---- ABI 1.0 ends here. ABI 1.1: optional, probed by size and NULL. ---- */

    /* Open a connection to address:port (a numeric address or a host name)
     * without blocking on the connect itself. On 0, *out is the conn at once:
     * send may queue bytes (written once connected) and close may be called;
     * events->on_connected(ctx, status) follows from the loop within about
     * timeout_ms (<= 0: 5000 ms). events (size first, on_connected and
     * on_data and on_close set; on_accept unused) is copied. Errors returned
     * here (bad arguments, unresolvable name, no socket) never call back;
     * everything else, an immediate refusal included, comes through
     * on_connected. Outbound connections do not count against client limits. */
    int (*connect)(void *state, const char *address, int port, int timeout_ms,
                   const struct zkp_transport_events *events, void *ctx,
                   zkp_conn **out, char *err, size_t errlen);
};

/* ------------------------------------------------------------------------- */
/* Storage: the transaction log and snapshots. The core produces and consumes
 * the jute bytes of txns and the whole logical snapshot stream (ZooKeeper's
 * snapshot format before compression, its checksums included); the storage
 * plugin owns files, log framing and checksums, compression, fsync and purge. */

typedef struct zkp_snapshot_writer zkp_snapshot_writer;

/* Called on the loop thread when everything appended up to durable_zxid is on
 * stable storage (or with status < 0 when syncing failed: the core stops). */
typedef void (*zkp_sync_cb)(void *arg, int status, int64_t durable_zxid);

/* Restore callbacks. */
struct zkp_restore_sink {
    uint32_t size;
    /* The newest snapshot's stream (everything the core wrote with
     * snapshot_write, in one piece, decompressed). Not called when there is
     * no snapshot. A negative return means the core found it damaged: the
     * storage then offers the next older snapshot (as ZooKeeper tries up to
     * 100), and replays the log from the one the core accepted. */
    int (*snapshot)(void *arg, int64_t zxid, const uint8_t *body, size_t len);
    /* Each logged txn after the snapshot, in zxid order: the bytes given to
     * append. */
    int (*txn)(void *arg, int64_t zxid, const uint8_t *txn, size_t len);
};

struct zkp_storage_ops {
    uint32_t size;
    /* Load the newest snapshot, then every logged txn after it. Sets
     * *last_zxid to the highest zxid seen (0 for an empty store). */
    int (*restore)(void *state, const struct zkp_restore_sink *sink, void *arg,
                   int64_t *last_zxid, char *err, size_t errlen);
    /* Append a txn (TxnHeader + record + digest, as ZooKeeper logs it) with
     * the given zxid; zxids strictly increase. Not durable until sync. */
    int (*append)(void *state, int64_t zxid, const uint8_t *txn, size_t len,
                  char *err, size_t errlen);
    /* Ask for everything appended so far to become durable; cb follows once
     * (possibly before sync returns, always on the loop thread). Several
     * appends may share one sync (group commit). */
    int (*sync)(void *state, zkp_sync_cb cb, void *arg);
    /* Snapshots: open a writer for the tree as of zxid, write the body in
     * pieces, then commit (made durable and visible atomically) or abort.
     * Fork safety (with ZKP_STORAGE_SNAPSHOT_FORK_SAFE): the core may call
     * these four in a child process it forked for a background save, while
     * other threads of the parent (the plugin's own included) held locks.
     * They must then take no lock, must not use or wait for the plugin's
     * threads, must not post to the loop, and may call no host service except
     * log; they may read only plugin state that is fixed once init has
     * returned. The writer belongs to the process that opened it, which
     * commits or aborts it. */
    int (*snapshot_open)(void *state, int64_t zxid, zkp_snapshot_writer **out,
                         char *err, size_t errlen);
    int (*snapshot_write)(zkp_snapshot_writer *w, const void *data, size_t len);
    int (*snapshot_commit)(zkp_snapshot_writer *w, char *err, size_t errlen);
    void (*snapshot_abort)(zkp_snapshot_writer *w);
    /* Drop every logged txn with zxid > zxid (a learner ahead of its leader). */
    int (*truncate)(void *state, int64_t zxid, char *err, size_t errlen);
    /* Keep the newest retain snapshots and the logs they need. */
    int (*purge)(void *state, int retain, char *err, size_t errlen);
    /* Read logged txns with zxid > from_zxid in order, until cb returns non-zero
     * or the log ends (leader DIFF sync). Returns -ENOENT if from_zxid is older
     * than the log reaches. */
    int (*read_log)(void *state, int64_t from_zxid,
                    int (*cb)(void *arg, int64_t zxid, const uint8_t *txn, size_t len),
                    void *arg);

    /* ---- ABI 1.0 ends here; members below are read only when size covers them. */

    /* ZKP_STORAGE_* capability bits. */
    uint32_t flags;
};

/* snapshot_open/write/commit/abort may run in a forked child process (the
 * core then writes snapshots in the background, Redis-style): they take no
 * lock, start or touch no thread, post nothing and call no host service but
 * log; they only write files. Without this bit the core writes snapshots on
 * the loop thread. */
#define ZKP_STORAGE_SNAPSHOT_FORK_SAFE 0x1u

/* ------------------------------------------------------------------------- */
/* Election: finds a leader (ZooKeeper's lookForLeader), asynchronously.     */

enum zkp_peer_state {
    ZKP_PEER_LOOKING = 0,
    ZKP_PEER_FOLLOWING = 1,
    ZKP_PEER_LEADING = 2,
    ZKP_PEER_OBSERVING = 3,
};

struct zkp_vote {
    int64_t leader;     /* proposed leader's server id */
    int64_t zxid;       /* its last logged zxid */
    int64_t election_epoch;
    int64_t peer_epoch; /* its current epoch */
    enum zkp_peer_state state;
};

/* The election's outcome: the state this peer takes and the agreed vote. */
typedef void (*zkp_election_done_cb)(void *arg, enum zkp_peer_state state,
                                     const struct zkp_vote *vote);

struct zkp_election_ops {
    uint32_t size;
    /* Start looking with this peer's own vote; done_cb follows once on the
     * loop thread unless cancel is called first. */
    int (*look_for_leader)(void *state, const struct zkp_vote *own,
                           zkp_election_done_cb done_cb, void *arg);
    void (*cancel)(void *state);
    /* This peer's current vote and state, to answer peers while not looking. */
    void (*set_current_vote)(void *state, enum zkp_peer_state st, const struct zkp_vote *vote);

    /* ---- ABI 1.1 ends here. ABI 1.2: optional, probed by size and NULL. ---- */

    /* The ensemble changed (a reconfig was committed): host->server_get now
     * describes the new members (config_entry keeps returning the zoo.cfg
     * entries read at start-up; reconfig never changes group/weight lines,
     * which it refuses for hierarchical configs). config_text is the
     * new configuration in ZooKeeper's text form (server.N lines, then
     * "version=<hex>"), as notifications carry it. Not called while a
     * look_for_leader is running; the core starts a new election after it
     * when this server's role changes. */
    void (*reconfigure)(void *state, const char *config_text);
};

/* ------------------------------------------------------------------------- */
/* The descriptor. */

struct zkp_plugin {
    uint32_t magic;      /* ZKP_ABI_MAGIC */
    uint16_t abi_major;  /* ZKP_ABI_MAJOR */
    uint16_t abi_minor;  /* ZKP_ABI_MINOR the plugin was built with */
    uint32_t size;       /* sizeof(struct zkp_plugin) */
    uint32_t kind;       /* enum zkp_kind */
    const char *name;    /* matches the file name without .so */
    const char *version; /* the plugin's own version, free form */
    const char *description;

    int (*init)(const struct zkp_host *host, void **state, char *err, size_t errlen);
    int (*start)(void *state, char *err, size_t errlen);
    void (*stop)(void *state);
    void (*fini)(void *state);

    /* struct zkp_transport_ops / zkp_storage_ops / zkp_election_ops, by kind;
     * its first member is its size. */
    const void *ops;
};

/* Declare the plugin's descriptor: ZKP_PLUGIN_EXPORT(my_plugin) = { ... }; */
#define ZKP_PLUGIN_EXPORT __attribute__((visibility("default"))) const struct zkp_plugin zkp_plugin_descriptor

#ifdef __cplusplus
}
#endif
#endif
