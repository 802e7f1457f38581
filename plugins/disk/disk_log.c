/*
 * disk_log: the transaction log files of the disk storage plugin, written
 * byte for byte as ZooKeeper 3.8 writes them (FileTxnLog, FilePadding, Util),
 * so that either server can read the other's logs.
 *
 * On-disk format
 * --------------
 * Directory: <dataLogDir>/version-2/ (dataLogDir defaults to dataDir).
 * File name: "log." + the zxid of the first entry in the file, lowercase hex,
 * no "0x", no padding (log.1, log.100000001). Files are ordered by that
 * number, not by name.
 *
 * All integers are big-endian.
 *
 *   File header, 16 bytes (jute FileHeader):
 *     offset 0   4 bytes  magic   5a 4b 4c 47 ("ZKLG")
 *     offset 4   4 bytes  version 00 00 00 02
 *     offset 8   8 bytes  dbid    00 00 00 00 00 00 00 00
 *
 *   Entries follow at offset 16, back to back. One entry, 13 + N bytes:
 *     +0         8 bytes  checksum: Adler-32 of the N payload bytes, as an
 *                         unsigned 32-bit value in a long (bytes 0-3 are 0)
 *     +8         4 bytes  N, the payload length (> 0)
 *     +12        N bytes  payload: what the core passed to append, i.e.
 *                         TxnHeader{long clientId, int cxid, long zxid,
 *                         long time, int type} + txn record + optional
 *                         TxnDigest{int version, long digest}. The zxid of the
 *                         entry is read from payload bytes 12-19.
 *     +12+N      1 byte   end of record, 0x42 ('B')
 *
 *   Preallocation (FilePadding): before each entry is written, if the write
 *   position is within 4096 bytes of the padded size (or past it), the padded
 *   size grows by preAllocSize bytes (or, when the position is past it, to
 *   position + preAllocSize rounded down to a multiple of preAllocSize) and a
 *   single zero byte is written at padded size - 1. A new file therefore is
 *   16 + preAllocSize bytes long (sparse), and the region after the last
 *   entry reads as zeros.
 *
 *   End of log: a checksum of 0 and a length of 0 (the padding), or the end
 *   of the file exactly at an entry boundary. Readers then go on with the next
 *   file.
 *
 * Reading rules (disk_log_walk)
 * -----------------------------
 * - Every entry's checksum, length, 'B' and zxid (strictly increasing across
 *   all files) are checked.
 * - Damage (a length running past the end of the file, a missing 'B', a
 *   checksum mismatch, a zero length with a non-zero checksum, a short file
 *   header) in the last file, with no valid entry anywhere after it, is a torn
 *   write from a crash: the log ends there. At start-up (repair) the file is
 *   cut at that offset, preallocated again, and appends continue there; a
 *   warning names the file and offset. A last file without a single complete
 *   entry is removed, so that the next append names its new file correctly.
 * - Damage followed by a valid entry (found by scanning the non-zero regions
 *   after it), or damage in any file but the last, is an error naming the
 *   file and offset: logged transactions are never dropped silently. The same
 *   scan runs after a clean end of log, so a zeroed block in the middle of a
 *   file cannot hide the entries after it.
 *
 * Writing: entries are encoded into a buffer and written with pwrite when
 * the buffer fills, before a sync, a roll, a truncate or a read. A new file
 * is opened by the first append after a roll (every snapCount/2 +
 * random(snapCount/2) appends, as ZooKeeper's SyncRequestProcessor does).
 *
 * Threads: loop thread only; fds are handed to the sync thread through
 * disk_sync_set_fd / disk_sync_retire (disk_sync.c).
 *
 * Reading one file (the rules above) is in disk_logfile.c, shared with the
 * tools.
 *
 * Entry points: disk_log_ready (or disk_log_walk), disk_log_append,
 * disk_log_flush, disk_log_truncate, disk_log_release_fd.
 */
#define _GNU_SOURCE /* asprintf */
#include "disk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int disk_log_list(struct disk_state *st, struct disk_file **out, size_t *n, char *err,
                  size_t errlen)
{
    return disk_dir_list(st->log_dir, DISK_FILE_LOG, out, n, err, errlen);
}

/* ------------------------------------------------------------------------- */
/* Writing                                                                    */

static int disk_pwrite_all(int fd, const uint8_t *p, size_t len, int64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int disk_log_flush(struct disk_state *st)
{
    if (st->buf_len == 0)
        return 0;
    if (st->broken)
        return st->broken;
    int rc = disk_pwrite_all(st->fd, st->buf, st->buf_len, st->pos - (int64_t)st->buf_len);
    if (rc < 0) {
        st->broken = rc;
        st->host->log(st->host, ZKP_LOG_ERROR,
                  "%s offset %" PRId64 ": writing %zu bytes failed: %s; no more appends",
                  st->cur_path, st->pos - (int64_t)st->buf_len, st->buf_len,
                  strerror(-rc));
        return rc;
    }
    st->buf_len = 0;
    return 0;
}

/* FilePadding.calculateFileSizeWithPadding. */
static int64_t disk_padded_size(int64_t position, int64_t file_size, int64_t prealloc)
{
    if (prealloc > 0 && position + DISK_PAD_SLACK >= file_size) {
        if (position > file_size) {
            file_size = position + prealloc;
            file_size -= file_size % prealloc;
        } else {
            file_size += prealloc;
        }
    }
    return file_size;
}

static int disk_log_pad(struct disk_state *st)
{
    int64_t size = disk_padded_size(st->pos, st->file_size, st->prealloc);
    if (size == st->file_size)
        return 0;
    static const uint8_t zero = 0;
    int rc = disk_pwrite_all(st->fd, &zero, 1, size - 1);
    if (rc < 0)
        return rc;
    st->file_size = size;
    return 0;
}

static void disk_log_new_roll_limit(struct disk_state *st)
{
    /* xorshift64: the spread only needs to differ between servers. */
    uint64_t x = st->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    st->rng = x;
    int64_t half = st->snap_count / 2;
    st->roll_limit = half + (half > 0 ? (int64_t)(x % (uint64_t)half) : 0);
}

void disk_log_release_fd(struct disk_state *st)
{
    if (st->fd >= 0)
        disk_sync_retire(st, st->fd);
    st->fd = -1;
    free(st->cur_path);
    st->cur_path = NULL;
    st->buf_len = 0;
    st->pos = st->file_size = 0;
}

static int disk_buf_reserve(struct disk_state *st, size_t more)
{
    if (st->buf_cap - st->buf_len >= more)
        return 0;
    size_t cap = st->buf_cap ? st->buf_cap : DISK_WRITE_BUFFER;
    while (cap - st->buf_len < more)
        cap *= 2;
    uint8_t *b = realloc(st->buf, cap);
    if (b == NULL)
        return -ENOMEM;
    st->buf = b;
    st->buf_cap = cap;
    return 0;
}

static int disk_log_open_new(struct disk_state *st, int64_t zxid, char *err, size_t errlen)
{
    int rc = disk_log_flush(st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write buffered entries: %s", st->cur_path,
             strerror(-rc));
        return rc;
    }
    disk_log_release_fd(st);
    char *path;
    if (asprintf(&path, "%s/log.%" PRIx64, st->log_dir, zxid) < 0) {
        snprintf(err, errlen, "%s: out of memory", st->log_dir);
        return -ENOMEM;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot create log file: %s", path, strerror(-rc));
        free(path);
        return rc;
    }
    st->fd = fd;
    st->cur_path = path;
    st->pos = 0;
    st->file_size = 0;
    rc = disk_buf_reserve(st, DISK_LOG_HEADER_SIZE);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return rc;
    }
    uint8_t *h = st->buf;
    disk_put32(h, DISK_LOG_MAGIC);
    disk_put32(h + 4, DISK_LOG_VERSION);
    disk_put64(h + 8, 0);
    st->buf_len = DISK_LOG_HEADER_SIZE;
    st->pos = DISK_LOG_HEADER_SIZE;
    /* ZooKeeper writes the header, then starts padding from there. */
    st->file_size = DISK_LOG_HEADER_SIZE;
    st->roll_count = 0;
    st->roll_pending = 0;
    disk_log_new_roll_limit(st);
    st->m_log_files++;
    disk_sync_set_fd(st, fd, 1);
    st->host->log(st->host, ZKP_LOG_INFO, "creating new log file: %s", path);
    return 0;
}

int disk_log_append(struct disk_state *st, int64_t zxid, const uint8_t *txn, size_t len, char *err,
        size_t errlen)
{
    if (st->broken) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 ": the log is unusable after a write "
             "error in %s: %s", zxid, st->cur_path ? st->cur_path : st->log_dir,
             strerror(-st->broken));
        return st->broken;
    }
    int rc = disk_log_ready(st, err, errlen);
    if (rc < 0)
        return rc;
    if (zxid <= st->last_zxid) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 " is not above the last logged 0x%" PRIx64,
             zxid, st->last_zxid);
        return -EINVAL;
    }
    if (txn == NULL || len < DISK_TXN_HEADER_MIN || len > INT32_MAX - DISK_ENTRY_OVERHEAD) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 ": %zu bytes is not a txn (a TxnHeader "
             "alone is %d)", zxid, txn ? len : 0, DISK_TXN_HEADER_MIN);
        return -EINVAL;
    }
    int64_t hdr_zxid = (int64_t)disk_be64(txn + 12);
    if (hdr_zxid != zxid) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 " but the TxnHeader says 0x%" PRIx64,
             zxid, hdr_zxid);
        return -EINVAL;
    }
    if (st->fd < 0 || st->roll_pending) {
        rc = disk_log_open_new(st, zxid, err, errlen);
        if (rc < 0)
            return rc;
    }
    rc = disk_log_pad(st);
    if (rc < 0) {
        st->broken = rc;
        snprintf(err, errlen, "%s offset %" PRId64 ": preallocating failed: %s", st->cur_path,
             st->file_size, strerror(-rc));
        return rc;
    }
    size_t need = len + DISK_ENTRY_OVERHEAD;
    if (st->buf_len > 0 && st->buf_len + need > DISK_WRITE_BUFFER) {
        rc = disk_log_flush(st);
        if (rc < 0) {
            snprintf(err, errlen, "%s offset %" PRId64 ": write failed: %s", st->cur_path,
                 st->pos - (int64_t)st->buf_len, strerror(-rc));
            return rc;
        }
    }
    if (disk_buf_reserve(st, need) < 0) {
        snprintf(err, errlen, "append: zxid 0x%" PRIx64 ": out of memory for %zu bytes", zxid,
             len);
        return -ENOMEM;
    }
    uint8_t *p = st->buf + st->buf_len;
    disk_put64(p, disk_adler32(txn, len));
    disk_put32(p + 8, (uint32_t)len);
    memcpy(p + 12, txn, len);
    p[12 + len] = DISK_EOR;
    st->buf_len += need;
    st->pos += (int64_t)need;
    if (st->first_zxid == 0)
        st->first_zxid = zxid;
    st->last_zxid = zxid;
    st->m_txns++;
    st->m_bytes += (int64_t)need;
    if (++st->roll_count > st->roll_limit)
        st->roll_pending = 1;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Walking the whole log                                                      */

static void disk_dir_sync(struct disk_state *st)
{
    if (st->force_sync && st->dir_fd >= 0 && fsync(st->dir_fd) != 0)
        st->host->log(st->host, ZKP_LOG_WARN, "%s: fsync of the directory failed: %s",
                  st->log_dir, strerror(errno));
}

/* Sets up appends at the end of the last file after a repairing walk. */
static int disk_log_open_end(struct disk_state *st, const char *path, const struct disk_file_end *end,
          char *err, size_t errlen)
{
    if (end->no_header || end->entries == 0) {
        st->host->log(st->host, ZKP_LOG_WARN,
                  "%s offset %" PRId64 ": %s; the last log file holds no complete "
                  "entry, removing it",
                  path, end->no_header ? (int64_t)0 : end->off,
                  end->why[0] ? end->why : "no entries");
        if (unlink(path) != 0) {
            int rc = -errno;
            snprintf(err, errlen, "%s: cannot remove the empty log file: %s", path,
                 strerror(-rc));
            return rc;
        }
        disk_dir_sync(st);
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot open for appending: %s", path, strerror(-rc));
        return rc;
    }
    int64_t size = end->size;
    if (end->torn) {
        st->host->log(st->host, ZKP_LOG_WARN,
                  "%s offset %" PRId64 ": %s; the log ends there (torn write), "
                  "new entries continue at that offset",
                  path, end->off, end->why);
        if (ftruncate(fd, (off_t)end->off) != 0 || (st->force_sync && fdatasync(fd) != 0)) {
            int rc = -errno;
            snprintf(err, errlen, "%s offset %" PRId64 ": cannot cut the torn tail: %s",
                 path, end->off, strerror(-rc));
            close(fd);
            return rc;
        }
        size = end->off;
    }
    st->cur_path = strdup(path);
    if (st->cur_path == NULL) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    st->fd = fd;
    st->pos = end->off;
    st->file_size = size;
    st->roll_count = end->entries;
    disk_log_new_roll_limit(st);
    if (st->roll_count > st->roll_limit)
        st->roll_pending = 1;
    disk_sync_set_fd(st, fd, 0);
    if (end->torn) {
        int rc = disk_log_pad(st);
        if (rc < 0) {
            snprintf(err, errlen, "%s offset %" PRId64 ": preallocating failed: %s", path,
                 st->pos, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static int disk_log_walk_int(struct disk_state *st, int repair, struct disk_walker *w, char *err,
          size_t errlen)
{
    struct disk_file *files;
    size_t n;
    int rc = disk_log_list(st, &files, &n, err, errlen);
    if (rc < 0)
        return rc;
    struct disk_file_end end = {0};
    size_t i;
    for (i = 0; i < n; i++) {
        /* A file whose successor starts at or below from + 1 holds nothing
         * the caller wants. Start-up skips those too, as ZooKeeper does: only
         * the logs after the snapshot are read (and the last one repaired);
         * older ones are checked when something reads them (read_log). */
        if (w->cut_zxid < 0 && i + 1 < n &&
            files[i + 1].name_zxid - 1 <= w->from_zxid && w->prev_zxid < files[i + 1].name_zxid) {
            w->prev_zxid = files[i + 1].name_zxid - 1;
            if (w->first_zxid == 0)
                w->first_zxid = files[i].name_zxid;
            continue;
        }
        rc = disk_log_file_walk(files[i].path, i + 1 == n, w, &end, err, errlen);
        if (rc != 0)
            break;
    }
    if (rc == 1 && w->cut_zxid >= 0) {
        /* Truncate: cut files[i] at w->cut_off, remove every later file. */
        for (size_t j = n; j-- > i + 1;) {
            if (unlink(files[j].path) != 0) {
                rc = -errno;
                snprintf(err, errlen, "%s: cannot remove: %s", files[j].path,
                     strerror(-rc));
                goto out;
            }
            st->host->log(st->host, ZKP_LOG_INFO, "truncate: removed %s", files[j].path);
        }
        int fd = open(files[i].path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)w->cut_off) != 0 ||
            (st->force_sync && fdatasync(fd) != 0)) {
            rc = -errno;
            snprintf(err, errlen, "%s offset %" PRId64 ": cannot truncate: %s",
                 files[i].path, w->cut_off, strerror(-rc));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
        disk_dir_sync(st);
        rc = 0;
        goto out;
    }
    if (rc == 0 && repair && n > 0)
        rc = disk_log_open_end(st, files[n - 1].path, &end, err, errlen);
out:
    disk_files_free(files, n);
    return rc;
}

int disk_log_walk(struct disk_state *st, int repair, int64_t from_zxid, disk_entry_fn fn, void *arg,
          char *err, size_t errlen)
{
    if (repair)
        disk_log_release_fd(st);
    else {
        int rc = disk_log_flush(st);
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot write buffered entries: %s", st->cur_path,
                 strerror(-rc));
            return rc;
        }
    }
    struct disk_walker w = {.from_zxid = from_zxid, .fn = fn, .arg = arg, .cut_zxid = -1};
    int rc = disk_log_walk_int(st, repair, &w, err, errlen);
    if (rc < 0)
        return rc;
    if (repair) {
        st->first_zxid = w.first_zxid;
        st->last_zxid = w.prev_zxid;
        st->scanned = 1;
    }
    return rc;
}

int disk_log_ready(struct disk_state *st, char *err, size_t errlen)
{
    if (st->scanned)
        return 0;
    return disk_log_walk(st, 1, INT64_MAX, NULL, NULL, err, errlen);
}

int disk_log_truncate(struct disk_state *st, int64_t zxid, char *err, size_t errlen)
{
    int rc = disk_log_ready(st, err, errlen);
    if (rc < 0)
        return rc;
    if (zxid >= st->last_zxid)
        return 0;
    rc = disk_log_flush(st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write buffered entries: %s", st->cur_path,
             strerror(-rc));
        return rc;
    }
    disk_log_release_fd(st);
    struct disk_walker w = {.from_zxid = INT64_MAX, .cut_zxid = zxid < 0 ? 0 : zxid};
    rc = disk_log_walk_int(st, 0, &w, err, errlen);
    if (rc < 0)
        return rc;
    /* Find the new end (and drop a file left without entries). */
    st->scanned = 0;
    return disk_log_ready(st, err, errlen);
}
