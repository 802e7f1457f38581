/*
 * The currentEpoch / acceptedEpoch files (see epoch.h): read as ZooKeeper's
 * QuorumPeer.readLongFromFile, written as its AtomicFileWritingIdiom (tmp
 * file, fsync, rename, then the directory fsync'ed so the rename lasts),
 * checked at start as QuorumPeer.loadDataBase does.
 */
#define _GNU_SOURCE
#include "epoch.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* An epoch is at most 19 digits; a longer file is not one. */
#define EPOCH_READ_MAX 64

/* The content, quoted for an error message (printable ASCII kept). */
static void epoch_quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    out[o] = '\0';
}

int epoch_read(const char *dir, const char *name, int64_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "%s/%s: path too long", dir, name);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: open: %s", path, strerror(e));
        return -e;
    }
    char buf[EPOCH_READ_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            snprintf(err, errlen, "%s: read: %s", path, strerror(e));
            return -e;
        }
        n += (size_t)r;
        if (r == 0 || n == sizeof buf)
            break;
    }
    close(fd);

    char shown[EPOCH_READ_MAX * 4 + 8];
    epoch_quote(buf, n > EPOCH_READ_MAX ? EPOCH_READ_MAX : n, shown, sizeof shown);
    if (n > EPOCH_READ_MAX)
        strcat(shown, "...");
    size_t a = 0, b = n;
    while (a < b && isspace((unsigned char)buf[a]))
        a++;
    while (b > a && isspace((unsigned char)buf[b - 1]))
        b--;
    bool ok = n <= EPOCH_READ_MAX && a < b;
    uint64_t v = 0;
    for (size_t i = a; ok && i < b; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > ((uint64_t)INT64_MAX - (uint64_t)(buf[i] - '0')) / 10)
            ok = false;
        else
            v = v * 10 + (uint64_t)(buf[i] - '0');
    }
    if (!ok) {
        snprintf(err, errlen, "%s: not an epoch: '%s'", path, shown);
        return -EBADMSG;
    }
    *out = (int64_t)v;
    return 0;
}

/* mkdir -p. 0 or -errno. */
static int epoch_mkdirs(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return n ? -ENAMETOOLONG : 0;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int epoch_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int atomic_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';

    const char *step = "open";
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: open: %s", tmp, strerror(-rc));
        return rc;
    }
    rc = epoch_write_all(fd, data, len);
    if (rc < 0)
        step = "write";
    if (rc == 0 && fsync(fd) < 0) {
        rc = -errno;
        step = "fsync";
    }
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
        step = "close";
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s: %s", tmp, step, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: rename from %s: %s", path, tmp, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: open directory %s for fsync: %s", path, dir, strerror(-rc));
        return rc;
    }
    if (fsync(dfd) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: fsync directory %s: %s", path, dir, strerror(-rc));
    }
    close(dfd);
    return rc;
}

int epoch_write(const char *dir, const char *name, int64_t value, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "%s/%s: path too long", dir, name);
        return -ENAMETOOLONG;
    }
    if (value < 0) {
        snprintf(err, errlen, "%s: refusing to write negative epoch %" PRId64, path, value);
        return -EINVAL;
    }
    int rc = epoch_mkdirs(dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: create directory %s: %s", path, dir, strerror(-rc));
        return rc;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%" PRId64, value);
    return atomic_write_file(path, text, (size_t)len, err, errlen);
}

/* Reads name, creating it with def (and logging so, as ZooKeeper does)
 * when it does not exist. */
static int epoch_read_or_create(const char *dir, const char *name, int64_t def, int64_t *value, char *err,
                                size_t errlen)
{
    int rc = epoch_read(dir, name, value, err, errlen);
    if (rc != 1)
        return rc;
    log_info("%s not found! Creating with a reasonable default of %" PRId64
             ". This should only happen when you are upgrading your installation",
             name, def);
    *value = def;
    return epoch_write(dir, name, def, err, errlen);
}

int epoch_load(const char *dir, int64_t last_zxid, int64_t *current, int64_t *accepted, char *err, size_t errlen)
{
    int64_t zxid_epoch = (int64_t)((uint64_t)last_zxid >> 32);
    int64_t cur, acc;
    int rc = epoch_read_or_create(dir, EPOCH_CURRENT, zxid_epoch, &cur, err, errlen);
    if (rc < 0)
        return rc;
    if (cur < zxid_epoch) {
        /* A crash between writing currentEpoch.tmp and renaming it. */
        int64_t tmp;
        rc = epoch_read(dir, EPOCH_CURRENT ".tmp", &tmp, err, errlen);
        if (rc == 1) {
            snprintf(err, errlen,
                     "The current epoch, %" PRId64 ", is older than the last zxid, 0x%" PRIx64
                     " (%s/%s is behind the log)",
                     cur, (uint64_t)last_zxid, dir, EPOCH_CURRENT);
            return -EINVAL;
        }
        if (rc < 0)
            return rc;
        log_info("%s/%s.tmp holds epoch %" PRId64 ": using it", dir, EPOCH_CURRENT, tmp);
        if ((rc = epoch_write(dir, EPOCH_CURRENT, tmp, err, errlen)) < 0)
            return rc;
        cur = tmp;
    }
    rc = epoch_read_or_create(dir, EPOCH_ACCEPTED, zxid_epoch, &acc, err, errlen);
    if (rc < 0)
        return rc;
    if (acc < cur) {
        snprintf(err, errlen, "The accepted epoch, %" PRId64 " is less than the current epoch, %" PRId64, acc, cur);
        return -EINVAL;
    }
    *current = cur;
    *accepted = acc;
    return 0;
}
