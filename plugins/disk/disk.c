/*
 * disk: durable storage (struct zkp_storage_ops) that keeps the transaction
 * log and the snapshots in ZooKeeper 3.8's own file formats, so a dataDir can
 * move between this server and ZooKeeper in either direction. The log format
 * is documented at the top of disk_log.c, snapshots at the top of
 * disk_snap.c; group commit is described in disk_sync.c, purge rules in
 * disk_purge.c. The epoch files of a quorum member are the core's
 * (core/epoch.c).
 *
 * Design notes:
 * - Configuration (zoo.cfg): dataDir (required), dataLogDir (default
 *   dataDir), forceSync (default yes), preAllocSize (KiB, default 65536),
 *   snapCount (default 100000, at least 2), snapshot.compression.method
 *   (empty or gz; snappy is refused at init). Logs live in
 *   <dataLogDir>/version-2, snapshots in <dataDir>/version-2; both are
 *   created at start when missing.
 * - restore offers the newest snapshot that passes the validity check to
 *   the core, then the next older one whenever the core refuses one (up to
 *   100, as FileSnap.deserialize), then replays every logged txn above the
 *   accepted snapshot's zxid. Snapshot files exist but none accepted: error.
 * - After restore, appends continue at the end of the last log file (after
 *   cutting a torn tail there); a roll opens a new file.
 * - Snapshot writing (disk_snap.c) is fork-safe: the four snapshot ops use
 *   no lock, no thread, no host service, only immutable fields of the state
 *   (snap_dir, codec), so the core may call them in a forked child.
 * - Threads: the loop thread runs every other op; the sync thread only
 *   fsyncs (disk_sync.c).
 *
 * Entry points: the descriptor's init/start/stop/fini and disk_ops.
 */
#define _GNU_SOURCE /* asprintf */
#include "disk_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------- */
/* Ops                                                                        */

struct disk_restore_ctx {
    const struct zkp_restore_sink *sink;
    void *arg;
};

static int disk_restore_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct disk_restore_ctx *c = arg;
    int rc = c->sink->txn(c->arg, zxid, txn, len);
    return rc > 0 ? -EIO : rc;
}

/* Removes temporaries of snapshots that were being written when the server
 * stopped (nothing writes snapshots before restore). */
static void disk_remove_snapshot_temps(struct disk_state *st)
{
    DIR *d = opendir(st->snap_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, DISK_SNAP_TMP_PREFIX, strlen(DISK_SNAP_TMP_PREFIX)) != 0 ||
            n < 4 || strcmp(e->d_name + n - 4, ".tmp") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", st->snap_dir, e->d_name);
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            st->host->log(st->host, ZKP_LOG_WARN, "%s: removed an unfinished snapshot", path);
    }
    closedir(d);
}

/* Maps a whole file read-only (0, or -errno; the caller falls back to
 * reading it). */
static int disk_snap_map(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        close(fd);
        return -EINVAL;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -errno;
    madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
    *out = p;
    *len = (size_t)sb.st_size;
    return 0;
}

/* Offers snapshots newest first until the core accepts one. Sets *zxid to
 * its zxid, or -1 when there is no snapshot at all. */
static int disk_restore_snapshot(struct disk_state *st, const struct zkp_restore_sink *sink,
                                 void *arg, int64_t *zxid, char *err, size_t errlen)
{
    *zxid = -1;
    struct disk_file *snaps;
    size_t n;
    int rc = disk_dir_list(st->snap_dir, DISK_FILE_SNAPSHOT, &snaps, &n, err, errlen);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    if (n == 0) {
        disk_files_free(snaps, n);
        return 0;
    }
    if (sink->size < offsetof(struct zkp_restore_sink, snapshot) + sizeof sink->snapshot ||
        sink->snapshot == NULL) {
        snprintf(err, errlen, "restore: %s holds snapshots but the core gave no snapshot "
                 "callback", st->snap_dir);
        disk_files_free(snaps, n);
        return -EINVAL;
    }
    int tried = 0;
    for (size_t i = n; i-- > 0 && tried < DISK_SNAP_CANDIDATES;) {
        char why[512];
        int valid = disk_snap_looks_valid(snaps[i].path, why, sizeof why);
        if (valid != 1) {
            st->host->log(st->host, ZKP_LOG_WARN, "skipping snapshot: %s", why);
            continue;
        }
        tried++;
        uint8_t *body;
        size_t len;
        bool mapped = false;
        const char *base = strrchr(snaps[i].path, '/');
        /* An uncompressed snapshot is handed over mapped, not copied: the
         * core parses it straight from the page cache. */
        if (disk_snap_codec(base ? base + 1 : snaps[i].path) == DISK_CODEC_PLAIN &&
            disk_snap_map(snaps[i].path, &body, &len) == 0)
            mapped = true;
        else if ((rc = disk_snap_read(snaps[i].path, &body, &len, why, sizeof why)) < 0) {
            st->host->log(st->host, ZKP_LOG_WARN, "snapshot unreadable, trying an older one: %s",
                          why);
            continue;
        }
        st->host->log(st->host, ZKP_LOG_INFO, "reading snapshot %s (%zu bytes)", snaps[i].path,
                      len);
        rc = sink->snapshot(arg, snaps[i].name_zxid, body, len);
        if (mapped)
            munmap(body, len);
        else
            free(body);
        if (rc < 0) {
            st->host->log(st->host, ZKP_LOG_WARN,
                          "%s: the core found the snapshot damaged (%d), trying an older one",
                          snaps[i].path, rc);
            continue;
        }
        *zxid = snaps[i].name_zxid;
        disk_files_free(snaps, n);
        return 0;
    }
    snprintf(err, errlen,
             "restore: not able to find a valid snapshot in %s (%zu snapshot files, %d tried); "
             "see the warnings above",
             st->snap_dir, n, tried);
    disk_files_free(snaps, n);
    return -EBADMSG;
}

static int disk_restore(void *state, const struct zkp_restore_sink *sink, void *arg,
                        int64_t *last_zxid, char *err, size_t errlen)
{
    struct disk_state *st = state;
    if (sink == NULL ||
        sink->size < offsetof(struct zkp_restore_sink, txn) + sizeof sink->txn ||
        sink->txn == NULL) {
        snprintf(err, errlen, "restore: incomplete restore sink");
        return -EINVAL;
    }
    disk_remove_snapshot_temps(st);
    int64_t snap_zxid;
    int rc = disk_restore_snapshot(st, sink, arg, &snap_zxid, err, errlen);
    if (rc < 0)
        return rc;
    struct disk_restore_ctx c = {.sink = sink, .arg = arg};
    rc = disk_log_walk(st, !st->scanned, snap_zxid < 0 ? 0 : snap_zxid, disk_restore_txn, &c,
                       err, errlen);
    if (rc < 0)
        return rc;
    *last_zxid = st->last_zxid > snap_zxid ? st->last_zxid : snap_zxid;
    if (snap_zxid >= 0)
        st->host->log(st->host, ZKP_LOG_INFO,
                      "restored snapshot 0x%" PRIx64 " and the txn log in %s up to zxid 0x%" PRIx64,
                      snap_zxid, st->log_dir, *last_zxid);
    else
        st->host->log(st->host, ZKP_LOG_INFO, "restored the txn log in %s up to zxid 0x%" PRIx64,
                      st->log_dir, *last_zxid);
    return 0;
}

static int disk_append(void *state, int64_t zxid, const uint8_t *txn, size_t len, char *err,
                       size_t errlen)
{
    return disk_log_append(state, zxid, txn, len, err, errlen);
}

static int disk_sync(void *state, zkp_sync_cb cb, void *arg)
{
    return disk_sync_request(state, cb, arg);
}

/* The four snapshot ops may run in a forked child: they read only fields
 * fixed at init (snap_dir, codec) and call nothing but disk_snap.c. A
 * zkp_snapshot_writer is a struct disk_snap_writer. */
static int disk_snapshot_open(void *state, int64_t zxid, zkp_snapshot_writer **out, char *err,
                              size_t errlen)
{
    struct disk_state *st = state;
    struct disk_snap_writer *w;
    int rc = disk_snap_writer_open(st->snap_dir, zxid, st->codec, &w, err, errlen);
    *out = rc == 0 ? (zkp_snapshot_writer *)w : NULL;
    return rc;
}

static int disk_snapshot_write(zkp_snapshot_writer *w, const void *data, size_t len)
{
    return disk_snap_writer_write((struct disk_snap_writer *)w, data, len);
}

static int disk_snapshot_commit(zkp_snapshot_writer *w, char *err, size_t errlen)
{
    return disk_snap_writer_commit((struct disk_snap_writer *)w, err, errlen);
}

static void disk_snapshot_abort(zkp_snapshot_writer *w)
{
    disk_snap_writer_abort((struct disk_snap_writer *)w);
}

static int disk_truncate(void *state, int64_t zxid, char *err, size_t errlen)
{
    return disk_log_truncate(state, zxid, err, errlen);
}

static void disk_purge_print(void *arg, const char *path)
{
    struct disk_state *st = arg;
    st->host->log(st->host, ZKP_LOG_INFO, "purge: removed %s", path);
}

static int disk_purge(void *state, int retain, char *err, size_t errlen)
{
    struct disk_state *st = state;
    if (retain < 3) {
        st->host->log(st->host, ZKP_LOG_WARN, "purge: retaining %d snapshots is below the "
                      "minimum, keeping 3", retain);
        retain = 3;
    }
    int rc = disk_log_flush(st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write buffered entries: %s", st->cur_path,
                 strerror(-rc));
        return rc;
    }
    int64_t current = -1;
    if (st->cur_path != NULL) {
        const char *base = strrchr(st->cur_path, '/');
        disk_log_name_zxid(base ? base + 1 : st->cur_path, &current);
    }
    rc = disk_purge_dirs(st->snap_dir, st->log_dir, retain, current, disk_purge_print, st, err,
                         errlen);
    if (rc <= 0)
        return rc;
    /* The log now starts at the first file left. */
    struct disk_file *logs;
    size_t n;
    if (disk_log_list(st, &logs, &n, err, errlen) == 0) {
        if (n > 0 && st->first_zxid != 0 && logs[0].name_zxid > st->first_zxid)
            st->first_zxid = logs[0].name_zxid;
        disk_files_free(logs, n);
    }
    return 0;
}

struct disk_read_ctx {
    int (*cb)(void *arg, int64_t zxid, const uint8_t *txn, size_t len);
    void *arg;
};

static int disk_read_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct disk_read_ctx *c = arg;
    return c->cb(c->arg, zxid, txn, len) != 0 ? 1 : 0;
}

static int disk_read_log(void *state, int64_t from_zxid,
                         int (*cb)(void *arg, int64_t zxid, const uint8_t *txn, size_t len),
                         void *arg)
{
    struct disk_state *st = state;
    char err[512];
    if (cb == NULL)
        return -EINVAL;
    int rc = disk_log_ready(st, err, sizeof err);
    if (rc < 0) {
        st->host->log(st->host, ZKP_LOG_ERROR, "read_log: %s", err);
        return rc;
    }
    if (st->first_zxid != 0 && from_zxid < st->first_zxid - 1)
        return -ENOENT;
    struct disk_read_ctx c = {.cb = cb, .arg = arg};
    rc = disk_log_walk(st, 0, from_zxid, disk_read_txn, &c, err, sizeof err);
    if (rc < 0) {
        st->host->log(st->host, ZKP_LOG_ERROR, "read_log from 0x%" PRIx64 ": %s", from_zxid,
                      err);
        return rc;
    }
    return 0;
}

static const struct zkp_storage_ops disk_ops = {
    .size = sizeof(struct zkp_storage_ops),
    .restore = disk_restore,
    .append = disk_append,
    .sync = disk_sync,
    .snapshot_open = disk_snapshot_open,
    .snapshot_write = disk_snapshot_write,
    .snapshot_commit = disk_snapshot_commit,
    .snapshot_abort = disk_snapshot_abort,
    .truncate = disk_truncate,
    .purge = disk_purge,
    .read_log = disk_read_log,
    /* The snapshot writer only writes files (docs/storage.md): the core may
     * run it in a forked child. */
    .flags = ZKP_STORAGE_SNAPSHOT_FORK_SAFE,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                  */

static void disk_free(struct disk_state *st)
{
    if (st == NULL)
        return;
    disk_sync_free_requests(st);
    if (st->fd >= 0)
        close(st->fd);
    if (st->dir_fd >= 0)
        close(st->dir_fd);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->buf);
    free(st->cur_path);
    free(st->data_dir);
    free(st->log_root);
    free(st->log_dir);
    free(st->snap_dir);
    free(st);
}

static int disk_register_metrics(struct disk_state *st)
{
    const struct zkp_host *h = st->host;
    const struct {
        const char *name;
        enum zkp_metric_type type;
        const int64_t *value;
    } m[] = {
        {"disk_fsync_count", ZKP_METRIC_COUNTER, &st->m_fsyncs},
        {"disk_fsync_time_ms", ZKP_METRIC_GAUGE, &st->m_fsync_ms},
        {"disk_fsync_total_us", ZKP_METRIC_COUNTER, &st->m_fsync_total_us},
        {"disk_txns_logged", ZKP_METRIC_COUNTER, &st->m_txns},
        {"disk_log_bytes_written", ZKP_METRIC_COUNTER, &st->m_bytes},
        {"disk_sync_requests", ZKP_METRIC_COUNTER, &st->m_sync_requests},
        {"disk_log_files_created", ZKP_METRIC_COUNTER, &st->m_log_files},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        int rc = h->metric_register(h, m[i].name, m[i].type, m[i].value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int disk_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    const char *data_dir = NULL, *log_dir = NULL;
    int force_sync = 1;
    int64_t prealloc_kb = 65536, snap_count = 100000;
    if (host->config_string(host, "dataDir", NULL, &data_dir) < 0 || data_dir == NULL ||
        data_dir[0] == '\0') {
        snprintf(err, errlen, "dataDir is not set: the disk storage plugin needs a directory");
        return -EINVAL;
    }
    if (host->config_string(host, "dataLogDir", data_dir, &log_dir) < 0 || log_dir == NULL ||
        log_dir[0] == '\0') {
        snprintf(err, errlen, "dataLogDir: invalid value");
        return -EINVAL;
    }
    if (host->config_bool(host, "forceSync", 1, &force_sync) < 0) {
        snprintf(err, errlen, "forceSync: expected yes or no");
        return -EINVAL;
    }
    if (host->config_int(host, "preAllocSize", 65536, &prealloc_kb) < 0 ||
        prealloc_kb > INT64_MAX / 1024) {
        snprintf(err, errlen, "preAllocSize: expected a size in KiB");
        return -EINVAL;
    }
    if (host->config_int(host, "snapCount", 100000, &snap_count) < 0) {
        snprintf(err, errlen, "snapCount: expected a number");
        return -EINVAL;
    }
    const char *method = NULL;
    if (host->config_string(host, "snapshot.compression.method", "", &method) < 0) {
        snprintf(err, errlen, "snapshot.compression.method: invalid value");
        return -EINVAL;
    }
    enum disk_codec codec;
    if (method == NULL || method[0] == '\0') {
        codec = DISK_CODEC_PLAIN;
    } else if (strcasecmp(method, "gz") == 0) {
        codec = DISK_CODEC_GZIP;
    } else if (strcasecmp(method, "snappy") == 0) {
        snprintf(err, errlen, "snapshot.compression.method=snappy: the disk storage plugin "
                 "cannot write snappy snapshots (it reads them); use gz or leave it empty");
        return -ENOTSUP;
    } else {
        /* ZooKeeper's SnapStream falls back to uncompressed snapshots. */
        host->log(host, ZKP_LOG_WARN,
                  "snapshot.compression.method=%s: unknown method, snapshots are not "
                  "compressed", method);
        codec = DISK_CODEC_PLAIN;
    }
    if (snap_count < 2) {
        host->log(host, ZKP_LOG_WARN, "snapCount %" PRId64 " is below the minimum, using 2",
                  snap_count);
        snap_count = 2;
    }
    struct disk_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->host = host;
    st->fd = st->dir_fd = st->sync_fd = -1;
    st->force_sync = force_sync;
    st->prealloc = prealloc_kb * 1024;
    st->snap_count = snap_count;
    st->codec = codec;
    st->rng = host->now_ns(host) | 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->data_dir = strdup(data_dir);
    st->log_root = strdup(log_dir);
    if (st->data_dir == NULL || st->log_root == NULL ||
        asprintf(&st->log_dir, "%s/version-2", log_dir) < 0 ||
        asprintf(&st->snap_dir, "%s/version-2", data_dir) < 0) {
        snprintf(err, errlen, "out of memory");
        disk_free(st);
        return -ENOMEM;
    }
    int rc = disk_register_metrics(st);
    if (rc < 0) {
        snprintf(err, errlen, "cannot register metrics: %s", strerror(-rc));
        disk_free(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* mkdir for one level (dataDir or dataLogDir, then version-2 below it). */
static int disk_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return 0;
        snprintf(err, errlen, "%s: exists and is not a directory", path);
        return -ENOTDIR;
    }
    int rc = -errno;
    snprintf(err, errlen, "%s: cannot create directory: %s", path, strerror(-rc));
    return rc;
}

static int disk_start(void *state, char *err, size_t errlen)
{
    struct disk_state *st = state;
    int rc = disk_mkdir(st->log_root, err, errlen);
    if (rc == 0)
        rc = disk_mkdir(st->log_dir, err, errlen);
    if (rc == 0)
        rc = disk_mkdir(st->data_dir, err, errlen);
    if (rc == 0)
        rc = disk_mkdir(st->snap_dir, err, errlen);
    if (rc < 0)
        return rc;
    st->dir_fd = open(st->log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dir_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open directory: %s", st->log_dir, strerror(-rc));
        return rc;
    }
    rc = disk_sync_start(st, err, errlen);
    if (rc < 0)
        return rc;
    st->started = 1;
    st->host->log(st->host, ZKP_LOG_INFO,
                  "txn log in %s, snapshots in %s (forceSync=%s, preAllocSize=%" PRId64
                  " KiB, snapCount=%" PRId64 ", snapshot.compression.method=%s)",
                  st->log_dir, st->snap_dir, st->force_sync ? "yes" : "no", st->prealloc / 1024,
                  st->snap_count, st->codec == DISK_CODEC_GZIP ? "gz" : "none");
    return 0;
}

static void disk_stop(void *state)
{
    struct disk_state *st = state;
    if (!st->started)
        return;
    if (!st->force_sync && disk_log_flush(st) < 0)
        st->host->log(st->host, ZKP_LOG_ERROR, "%s: buffered entries lost at stop",
                      st->cur_path);
    disk_sync_stop(st);
    disk_log_release_fd(st);
    disk_sync_free_requests(st);
    st->started = 0;
}

static void disk_fini(void *state)
{
    disk_free(state);
}

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_STORAGE,
    .name = "disk",
    .version = "1.0",
    .description = "durable txn log in ZooKeeper 3.8's file format, group-committed fsync",
    .init = disk_init,
    .start = disk_start,
    .stop = disk_stop,
    .fini = disk_fini,
    .ops = &disk_ops,
};
