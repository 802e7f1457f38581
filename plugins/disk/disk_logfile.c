/*
 * disk_logfile: reading txn log files and listing the data directories,
 * shared by the plugin (disk_log.c), the tools and the tests. The log format
 * and the reading rules are documented at the top of disk_log.c, which
 * writes the files; disk_log_file_walk applies those rules to one file.
 *
 * No host, no locks: plain file I/O (mmap for reading).
 *
 * Entry points: disk_dir_list, disk_log_file_walk, disk_adler32, the name
 * parsers.
 */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE, asprintf */
#include "disk_fmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------------- */
/* Checksums and names                                                        */

uint32_t disk_adler32(const uint8_t *p, size_t len)
{
    uLong a = adler32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths. */
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        a = adler32(a, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)a;
}

static int disk_file_cmp(const void *a, const void *b)
{
    const struct disk_file *x = a, *y = b;
    return x->name_zxid < y->name_zxid ? -1 : x->name_zxid > y->name_zxid;
}

void disk_files_free(struct disk_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i].path);
    free(files);
}

/* log.<hex>: 1 to 16 lowercase or uppercase hex digits, nothing else. */
int disk_log_name_zxid(const char *name, int64_t *zxid)
{
    if (strncmp(name, "log.", 4) != 0)
        return -1;
    const char *h = name + 4;
    size_t n = strlen(h);
    if (n == 0 || n > 16 || strspn(h, "0123456789abcdefABCDEF") != n)
        return -1;
    *zxid = (int64_t)strtoull(h, NULL, 16);
    return 0;
}

/* The second '.'-separated part as hex (Long.parseLong(part, 16) accepts
 * 1 to 16 digits with a value that fits a signed long; we take the same). */
static int disk_hex_part(const char *h, size_t n, int64_t *zxid)
{
    if (n == 0 || n > 16)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789abcdefABCDEF", h[i]) == NULL || h[i] == '\0')
            return -1;
    char tmp[17];
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    uint64_t v = strtoull(tmp, NULL, 16);
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *zxid = (int64_t)v;
    return 0;
}

int disk_snap_name_zxid(const char *name, int64_t *zxid)
{
    if (strncmp(name, "snapshot.", 9) != 0)
        return -1;
    const char *h = name + 9;
    return disk_hex_part(h, strcspn(h, "."), zxid);
}

enum disk_codec disk_snap_codec(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return DISK_CODEC_PLAIN;
    if (strcasecmp(dot + 1, "gz") == 0)
        return DISK_CODEC_GZIP;
    if (strcasecmp(dot + 1, "snappy") == 0)
        return DISK_CODEC_SNAPPY;
    return DISK_CODEC_PLAIN;
}

static int disk_snap_file_cmp(const void *a, const void *b)
{
    const struct disk_file *x = a, *y = b;
    if (x->name_zxid != y->name_zxid)
        return x->name_zxid < y->name_zxid ? -1 : 1;
    return strcmp(x->path, y->path);
}

int disk_dir_list(const char *dir, enum disk_file_kind kind, struct disk_file **out, size_t *n,
                  char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot read the directory: %s", dir, strerror(-rc));
        return rc;
    }
    struct disk_file *files = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t zxid;
        int bad = kind == DISK_FILE_LOG ? disk_log_name_zxid(e->d_name, &zxid)
                                        : disk_snap_name_zxid(e->d_name, &zxid);
        if (bad)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct disk_file *f = realloc(files, ncap * sizeof *f);
            if (f == NULL)
                goto oom;
            files = f;
            cap = ncap;
        }
        if (asprintf(&files[count].path, "%s/%s", dir, e->d_name) < 0)
            goto oom;
        files[count].name_zxid = zxid;
        count++;
    }
    closedir(d);
    if (count > 1)
        qsort(files, count, sizeof *files,
              kind == DISK_FILE_LOG ? disk_file_cmp : disk_snap_file_cmp);
    *out = files;
    *n = count;
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory listing files", dir);
    closedir(d);
    disk_files_free(files, count);
    return -ENOMEM;
}

int disk_dir_fsync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    while (fsync(fd) != 0) {
        if (errno != EINTR) {
            rc = -errno;
            break;
        }
    }
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Reading one file                                                           */

enum disk_entry_status {
    DISK_ENTRY_OK = 0,
    DISK_ENTRY_END = 1,     /* checksum 0, length 0: padding */
    DISK_ENTRY_DAMAGED = 2, /* torn or corrupt */
    DISK_ENTRY_FATAL = 3,   /* checksummed but wrong: never a torn write */
};

/* Checks the entry at off. On OK sets *len and *zxid. */
static enum disk_entry_status disk_entry_check(const uint8_t *m, int64_t size, int64_t off, int64_t prev_zxid, uint32_t *len,
         int64_t *zxid, char *why, size_t whylen)
{
    int64_t left = size - off;
    if (left < 12) {
        for (int64_t i = 0; i < left; i++)
            if (m[off + i] != 0) {
                snprintf(why, whylen, "partial entry header (%" PRId64 " bytes)", left);
                return DISK_ENTRY_DAMAGED;
            }
        /* Only zeros up to the end: the padding ends the log. */
        return DISK_ENTRY_END;
    }
    uint64_t ck = disk_be64(m + off);
    int32_t n = (int32_t)disk_be32(m + off + 8);
    if (n == 0) {
        if (ck == 0)
            return DISK_ENTRY_END;
        snprintf(why, whylen, "zero length with checksum 0x%08" PRIx64, ck);
        return DISK_ENTRY_DAMAGED;
    }
    if (n < 0 || (int64_t)n > left - DISK_ENTRY_OVERHEAD) {
        snprintf(why, whylen, "entry length %" PRId32 " runs past the end of the file", n);
        return DISK_ENTRY_DAMAGED;
    }
    const uint8_t *p = m + off + 12;
    if (p[n] != DISK_EOR) {
        snprintf(why, whylen, "missing end-of-record byte 'B' after %" PRId32 " bytes (found 0x%02x)",
             n, p[n]);
        return DISK_ENTRY_DAMAGED;
    }
    uint32_t sum = disk_adler32(p, (size_t)n);
    if (ck != sum) {
        snprintf(why, whylen, "checksum mismatch (stored 0x%08" PRIx64 ", computed 0x%08" PRIx32 ")",
             ck, sum);
        return DISK_ENTRY_DAMAGED;
    }
    if (n < DISK_TXN_HEADER_MIN) {
        snprintf(why, whylen, "entry of %" PRId32 " bytes is too short for a TxnHeader", n);
        return DISK_ENTRY_FATAL;
    }
    int64_t z = (int64_t)disk_be64(p + 12);
    if (z <= prev_zxid) {
        snprintf(why, whylen, "zxid 0x%" PRIx64 " is not above the previous zxid 0x%" PRIx64, z,
             prev_zxid);
        return DISK_ENTRY_FATAL;
    }
    *len = (uint32_t)n;
    *zxid = z;
    return DISK_ENTRY_OK;
}

/* Looks for a valid entry starting anywhere in [from, size) with a zxid above
 * prev_zxid, visiting only the regions that hold data (holes read as zeros
 * and cannot start an entry). Returns its offset, or -1. */
static int64_t disk_find_entry_after(int fd, const uint8_t *m, int64_t size, int64_t from, int64_t prev_zxid,
              int64_t *zxid)
{
    int64_t p = from;
    while (p < size) {
        off_t data = lseek(fd, p, SEEK_DATA);
        if (data < 0)
            return -1; /* ENXIO: no data after p (or no SEEK_DATA: give up) */
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || hole > size)
            hole = size;
        for (int64_t q = data; q < hole && q + DISK_ENTRY_OVERHEAD <= size; q++) {
            /* Cheap filters first: zero high checksum bytes, sane length. */
            if (m[q] | m[q + 1] | m[q + 2] | m[q + 3])
                continue;
            int32_t n = (int32_t)disk_be32(m + q + 8);
            if (n < DISK_TXN_HEADER_MIN || (int64_t)n > size - q - DISK_ENTRY_OVERHEAD)
                continue;
            uint32_t len;
            char why[8];
            if (disk_entry_check(m, size, q, prev_zxid, &len, zxid, why, sizeof why) ==
                DISK_ENTRY_OK)
                return q;
        }
        p = hole > data ? hole : data + 1;
    }
    return -1;
}

int disk_log_file_walk(const char *path, int is_last, struct disk_walker *w, struct disk_file_end *end,
           char *err, size_t errlen)
{
    memset(end, 0, sizeof *end);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    int64_t size = sb.st_size;
    end->size = size;
    const uint8_t *m = NULL;
    if (size > 0) {
        m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int rc = -errno;
            snprintf(err, errlen, "%s: cannot map %" PRId64 " bytes: %s", path, size,
                 strerror(-rc));
            close(fd);
            return rc;
        }
    }
    int rc = 0;
    int64_t off = 0;
    char why[160];

    /* Header. A last file cut short while it was being created holds no
     * entry that anyone was told about. */
    int header_zero = 1;
    for (int64_t i = 0; i < size && i < DISK_LOG_HEADER_SIZE; i++)
        header_zero &= m[i] == 0;
    if (size < DISK_LOG_HEADER_SIZE || header_zero) {
        int64_t z;
        int64_t later = size > DISK_LOG_HEADER_SIZE
                    ? disk_find_entry_after(fd, m, size, 0, w->prev_zxid, &z)
                    : -1;
        if (is_last && later < 0) {
            end->no_header = 1;
            snprintf(end->why, sizeof end->why, "%s", size < DISK_LOG_HEADER_SIZE
                                ? "file shorter than its 16-byte header"
                                : "file header is all zeros");
            goto out;
        }
        snprintf(err, errlen, "%s offset 0: %s", path,
             size < DISK_LOG_HEADER_SIZE ? "file shorter than its 16-byte header"
                             : "file header is all zeros");
        rc = -EBADMSG;
        goto out;
    }
    if (disk_be32(m) != DISK_LOG_MAGIC) {
        snprintf(err, errlen, "%s offset 0: bad magic 0x%08" PRIx32 " (not a txn log file)",
             path, disk_be32(m));
        rc = -EBADMSG;
        goto out;
    }
    if (disk_be32(m + 4) != DISK_LOG_VERSION) {
        snprintf(err, errlen, "%s offset 4: unsupported txn log version %" PRIu32, path,
             disk_be32(m + 4));
        rc = -EBADMSG;
        goto out;
    }

    off = DISK_LOG_HEADER_SIZE;
    for (;;) {
        if (off == size)
            break; /* the file ends right after an entry */
        uint32_t len;
        int64_t zxid;
        enum disk_entry_status s =
            disk_entry_check(m, size, off, w->prev_zxid, &len, &zxid, why, sizeof why);
        if (s == DISK_ENTRY_FATAL) {
            snprintf(err, errlen, "%s offset %" PRId64 ": %s", path, off, why);
            rc = -EBADMSG;
            goto out;
        }
        if (s == DISK_ENTRY_OK && w->cut_zxid >= 0 && zxid > w->cut_zxid) {
            w->cut_off = off;
            rc = 1;
            goto out;
        }
        if (s != DISK_ENTRY_OK) {
            /* The log ends here: make sure nothing valid follows. */
            int64_t next_zxid;
            int64_t next = disk_find_entry_after(fd, m, size, off + 1, w->prev_zxid,
                                 &next_zxid);
            if (next >= 0) {
                snprintf(err, errlen,
                     "%s offset %" PRId64 ": %s, but a valid entry (zxid 0x%" PRIx64
                     ") follows at offset %" PRId64
                     "; refusing to drop logged transactions",
                     path, off,
                     s == DISK_ENTRY_END ? "zero-filled gap in the log" : why,
                     next_zxid, next);
                rc = -EBADMSG;
                goto out;
            }
            if (s == DISK_ENTRY_DAMAGED) {
                if (!is_last) {
                    snprintf(err, errlen,
                         "%s offset %" PRId64
                         ": %s, in a log file that is not the last one",
                         path, off, why);
                    rc = -EBADMSG;
                    goto out;
                }
                end->torn = 1;
                snprintf(end->why, sizeof end->why, "%s", why);
            }
            break;
        }
        if (w->first_zxid == 0)
            w->first_zxid = zxid;
        w->prev_zxid = zxid;
        end->entries++;
        if (w->fn != NULL && zxid > w->from_zxid) {
            w->entry_off = off;
            int r = w->fn(w->arg, zxid, m + off + 12, len);
            if (r != 0) {
                rc = r < 0 ? r : 1;
                if (r < 0)
                    snprintf(err, errlen, "%s offset %" PRId64
                         ": txn 0x%" PRIx64 " refused by the core (%d)",
                         path, off, zxid, r);
                off += DISK_ENTRY_OVERHEAD + len;
                goto out;
            }
        }
        off += DISK_ENTRY_OVERHEAD + (int64_t)len;
    }
out:
    end->off = off;
    if (m != NULL)
        munmap((void *)(uintptr_t)m, (size_t)size);
    close(fd);
    return rc;
}
