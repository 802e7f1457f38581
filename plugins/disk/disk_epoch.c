/*
 * disk_epoch: the epoch files a quorum member keeps in dataDir, as
 * ZooKeeper 3.8's QuorumPeer reads and writes them.
 *
 * On-disk format
 * --------------
 * <dataDir>/version-2/currentEpoch   the epoch of the last NEWLEADER acked
 * <dataDir>/version-2/acceptedEpoch  the last epoch accepted from a leader
 * Each holds the value as decimal ASCII (Long.toString: an optional '-',
 * digits), no newline (readers take the first line, so a trailing newline
 * is accepted too).
 *
 * Writing (AtomicFileWritingIdiom): the text goes to "<name>.tmp", which is
 * fsynced and renamed over <name>; then the directory is fsynced. A crash
 * leaves the old or the new value, and possibly a complete or partial .tmp.
 *
 * Loading (QuorumPeer.loadDataBase), for a database restored up to zxid Z
 * whose epoch is E = Z >> 32:
 * - a missing currentEpoch is created with E (first start of an upgraded
 *   installation); likewise acceptedEpoch;
 * - currentEpoch < E: the crash happened between logging the new epoch's
 *   txns and renaming currentEpoch.tmp; the value in currentEpoch.tmp is
 *   taken (and written to currentEpoch). Without it: "The current epoch, N,
 *   is older than the last zxid, Z" and the server must not start;
 * - acceptedEpoch < currentEpoch is an error too.
 *
 * Entry points: disk_epoch_read, disk_epoch_write, disk_epoch_load.
 */
#define _GNU_SOURCE /* asprintf */
#include "disk_fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int disk_epoch_read(const char *dir, const char *name, int64_t *value, char *err,
                    size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    char buf[64];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    int rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "%s offset 0: read failed: %s", path, strerror(-rc));
        return rc;
    }
    buf[n] = '\0';
    /* BufferedReader.readLine: up to the first \n or \r. */
    size_t line = strcspn(buf, "\r\n");
    buf[line] = '\0';
    /* Long.parseLong: optional sign, 1 to 19 digits, fits a long. */
    const char *d = buf + (buf[0] == '-' || buf[0] == '+');
    size_t nd = strspn(d, "0123456789");
    errno = 0;
    char *end;
    long long v = nd > 0 && d[nd] == '\0' ? strtoll(buf, &end, 10) : 0;
    if (nd == 0 || d[nd] != '\0' || errno == ERANGE) {
        size_t at = (size_t)(d - buf) + nd;
        snprintf(err, errlen, "%s offset %zu: found \"%.32s\", expected a decimal number", path,
                 at, buf);
        return -EBADMSG;
    }
    *value = (int64_t)v;
    return 0;
}

int disk_epoch_write(const char *dir, const char *name, int64_t value, char *err,
                     size_t errlen)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char text[32];
    int len = snprintf(text, sizeof text, "%" PRId64, value);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(-rc));
        return rc;
    }
    const char *what = "write";
    int rc = 0;
    ssize_t n;
    do
        n = write(fd, text, (size_t)len);
    while (n < 0 && errno == EINTR);
    if (n != len)
        rc = n < 0 ? -errno : -EIO;
    if (rc == 0) {
        what = "fsync";
        while (fsync(fd) != 0) {
            if (errno != EINTR) {
                rc = -errno;
                break;
            }
        }
    }
    if (close(fd) != 0 && rc == 0) {
        what = "close";
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        what = "rename";
        rc = -errno;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s offset 0: %s failed: %s", tmp, what, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    rc = disk_dir_fsync(dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: fsync of the directory after writing %s failed: %s", dir,
                 name, strerror(-rc));
        return rc;
    }
    return 0;
}

/* Reads name, creating it with def when it does not exist. */
static int disk_epoch_read_or_create(const char *dir, const char *name, int64_t def,
                                     int64_t *value, char *err, size_t errlen)
{
    int rc = disk_epoch_read(dir, name, value, err, errlen);
    if (rc != -ENOENT)
        return rc;
    *value = def;
    return disk_epoch_write(dir, name, def, err, errlen);
}

int disk_epoch_load(const char *dir, int64_t last_zxid, int64_t *current, int64_t *accepted,
                    char *err, size_t errlen)
{
    int64_t zxid_epoch = (int64_t)((uint64_t)last_zxid >> 32);
    int64_t cur, acc;
    int rc = disk_epoch_read_or_create(dir, DISK_CURRENT_EPOCH, zxid_epoch, &cur, err, errlen);
    if (rc < 0)
        return rc;
    if (zxid_epoch > cur) {
        int64_t tmp;
        rc = disk_epoch_read(dir, DISK_CURRENT_EPOCH ".tmp", &tmp, err, errlen);
        if (rc == -ENOENT) {
            snprintf(err, errlen,
                     "%s/%s: the current epoch, %" PRId64 " (0x%" PRIx64 "), is older than the "
                     "last zxid, 0x%" PRIx64 " (epoch %" PRId64 ")",
                     dir, DISK_CURRENT_EPOCH, cur, cur, last_zxid, zxid_epoch);
            return -EINVAL;
        }
        if (rc < 0)
            return rc;
        rc = disk_epoch_write(dir, DISK_CURRENT_EPOCH, tmp, err, errlen);
        if (rc < 0)
            return rc;
        cur = tmp;
    }
    rc = disk_epoch_read_or_create(dir, DISK_ACCEPTED_EPOCH, zxid_epoch, &acc, err, errlen);
    if (rc < 0)
        return rc;
    if (acc < cur) {
        snprintf(err, errlen,
                 "%s/%s: the accepted epoch, %" PRId64 ", is less than the current epoch, "
                 "%" PRId64, dir, DISK_ACCEPTED_EPOCH, acc, cur);
        return -EINVAL;
    }
    *current = cur;
    *accepted = acc;
    return 0;
}
