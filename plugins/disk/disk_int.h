/*
 * disk storage plugin, private declarations shared by disk.c (plugin
 * lifecycle and ops), disk_log.c (the txn log files) and disk_sync.c (the
 * group-commit thread). Host-free format code (log reading, snapshots,
 * purge) is declared in disk_fmt.h. Not included from outside
 * plugins/disk.
 *
 * Threads: every field is owned by the loop thread unless it is listed under
 * "shared with the sync thread", which are read and written only with mu held.
 */
#ifndef ZKPLUG_DISK_DISK_INT_H
#define ZKPLUG_DISK_DISK_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <zkplug/plugin.h>

#include "disk_fmt.h"

#define DISK_SNAP_CANDIDATES 100 /* snapshots tried at restore, as FileSnap */
#define DISK_PAD_SLACK 4096    /* FilePadding: extend when within 4 KiB of the end */
#define DISK_WRITE_BUFFER (64 * 1024)

/* A sync request waiting for its callback (loop thread only). */
struct disk_sync_req {
    struct disk_sync_req *next;
    uint64_t seq;
    int64_t zxid; /* forceSync=no: last appended at the request; else -1 */
    zkp_sync_cb cb;
    void *arg;
};

struct disk_state {
    const struct zkp_host *host;
    char *data_dir;  /* dataDir */
    char *log_root;  /* dataLogDir (or dataDir) */
    char *log_dir;   /* <dataLogDir>/version-2 */
    char *snap_dir;  /* <dataDir>/version-2 */
    int force_sync;
    int64_t prealloc;   /* bytes, <= 0: no preallocation */
    int64_t snap_count; /* >= 2 */
    enum disk_codec codec; /* snapshot.compression.method; fixed after init */
    int dir_fd;         /* log_dir, for fsync after creating or removing files */
    int started;

    /* The log end, known once scanned (restore, or lazily by append/read_log). */
    int scanned;
    int broken;           /* negative errno once a write failed: refuse more */
    int fd;               /* current log file, -1 when the next append opens one */
    char *cur_path;
    int64_t pos;          /* logical end: file offset after the last buffered entry */
    int64_t file_size;    /* FilePadding.currentSize */
    uint8_t *buf;         /* bytes at [pos - buf_len, pos) not yet written */
    size_t buf_len, buf_cap;
    int64_t first_zxid;   /* first zxid in the log, 0 when empty */
    int64_t last_zxid;    /* highest zxid appended or restored */
    int64_t roll_count;   /* appends in the current file */
    int64_t roll_limit;   /* roll after more than this many */
    int roll_pending;     /* next append opens a new file */
    uint64_t rng;

    /* Sync requests, in order (loop thread). */
    struct disk_sync_req *req_head, *req_tail;
    uint64_t queued_seq;  /* last seq handed out by sync */
    uint64_t kicked_seq;  /* last seq handed to the sync thread */

    /* Shared with the sync thread, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int thread_running;
    int stopping;
    uint64_t req_seq;      /* highest seq the thread must cover */
    int64_t req_zxid;      /* everything up to it was written when req_seq was set */
    uint64_t done_seq;     /* highest seq covered by a finished fsync */
    int64_t durable_zxid;
    int sync_status;       /* 0, or the first fsync error (sticky) */
    int sync_fd;           /* the file the thread fsyncs, -1 none */
    int *retired;          /* rolled-away files: fsync, then close */
    size_t nretired, retired_cap;
    int dir_dirty;         /* a file was created: fsync the directory */
    int drain_posted;      /* a disk_sync_drain is queued and has not started */
    int64_t sh_fsyncs, sh_fsync_ms, sh_fsync_total_us;

    /* Metrics (loop thread; copied from the shared fields in disk_sync_drain). */
    int64_t m_fsyncs;
    int64_t m_fsync_ms;
    int64_t m_fsync_total_us;
    int64_t m_txns;
    int64_t m_bytes;
    int64_t m_sync_requests;
    int64_t m_log_files;
};

/* disk_log.c ------------------------------------------------------------- */

/* Reads the log directory: every log.<hex> file, sorted by zxid. Returns new
 * (free with disk_files_free). */
int disk_log_list(struct disk_state *st, struct disk_file **out, size_t *n, char *err,
                  size_t errlen);

/* Walks the whole log. With repair (start-up, first scan), a torn tail of
 * the last file is cut off and the log end is set up for appends; without,
 * any damage is an error. fn (may be NULL) sees every entry with zxid >
 * from_zxid; a non-zero return stops the walk (returned as 1). */
int disk_log_walk(struct disk_state *st, int repair, int64_t from_zxid, disk_entry_fn fn,
                  void *arg, char *err, size_t errlen);

/* Makes sure the log end is known (scans with repair once). */
int disk_log_ready(struct disk_state *st, char *err, size_t errlen);

int disk_log_append(struct disk_state *st, int64_t zxid, const uint8_t *txn, size_t len,
                    char *err, size_t errlen);
/* Writes the buffered entries with pwrite. */
int disk_log_flush(struct disk_state *st);
int disk_log_truncate(struct disk_state *st, int64_t zxid, char *err, size_t errlen);
/* Hands the current file to the sync thread (or closes it) and forgets it. */
void disk_log_release_fd(struct disk_state *st);

/* disk_sync.c ------------------------------------------------------------ */

int disk_sync_start(struct disk_state *st, char *err, size_t errlen);
/* Finishes pending syncs (one last fsync of everything written), joins the
 * thread, drops callbacks not yet delivered. */
void disk_sync_stop(struct disk_state *st);
int disk_sync_request(struct disk_state *st, zkp_sync_cb cb, void *arg);
/* before_sleep hook: flushes and wakes the thread for new requests. */
void disk_sync_kick(void *arg);
/* Retire fd: fsync then close it on the sync thread (or at once without one). */
void disk_sync_retire(struct disk_state *st, int fd);
void disk_sync_set_fd(struct disk_state *st, int fd, int created);
void disk_sync_free_requests(struct disk_state *st);

#endif
