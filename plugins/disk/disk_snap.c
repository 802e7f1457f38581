/*
 * disk_snap: snapshot files of the disk storage plugin, written and read as
 * ZooKeeper 3.8 writes and reads them (FileSnap, SnapStream), so a dataDir
 * moves between the two servers with its snapshots.
 *
 * On-disk format
 * --------------
 * Directory: <dataDir>/version-2/ (snapshots never go to dataLogDir).
 * File name: "snapshot." + the zxid the core gave snapshot_open, lowercase
 * hex, no "0x", no padding, + a suffix naming the compression: none, ".gz"
 * or ".snappy" (snapshot.0, snapshot.1a2b, snapshot.100000003.gz). Readers
 * take the zxid from the second '.'-separated part and the decoder from the
 * last part ("gz" or "snappy" in any case, anything else: uncompressed).
 *
 * Contents: the logical snapshot stream the core produces (layout in
 * core/snapshot.h: FileHeader "ZKSN" v2, sessions, ACL cache, nodes, "/",
 * Adler-32 + "/", digest, Adler-32 + "/"), stored
 *   - uncompressed (snapshot.compression.method empty, the default);
 *   - gz: one gzip member (RFC 1952) exactly as java.util.zip.
 *     GZIPOutputStream writes it:
 *       offset 0  1f 8b        magic
 *              2  08           deflate
 *              3  00           flags: no name, no comment, no extra, no CRC16
 *              4  00 00 00 00  mtime 0
 *              8  00           extra flags
 *              9  ff           OS "unknown"
 *             10  raw deflate data (zlib level 6, 32 KiB window, memLevel 8)
 *        end - 8  CRC-32 of the stream, little-endian
 *        end - 4  stream length mod 2^32, little-endian
 *     A ZooKeeper gz snapshot and ours of the same stream are byte-identical.
 *   - snappy (read only): snappy-java's SnappyOutputStream framing: magic
 *     82 53 4e 41 50 50 59 00, int version, int minimum compatible version,
 *     then blocks of {int compressed length (big-endian), raw snappy block}.
 *     Writing it is refused when the configuration is read.
 *
 * Validity check before a file is tried (SnapStream.isValidSnapshot):
 * uncompressed: at least 10 bytes, ending in 00 00 00 01 2f (the last "/");
 * gz: starts 1f 8b; snappy: starts with the magic. The core then checks the
 * whole stream and both checksums (disk_snap_parse does the same for tools).
 *
 * Writing (crash safety): the body goes to ".snapshot.<zxid>.<pid>.tmp" in
 * the same directory (a name no reader takes for a snapshot); commit
 * fsyncs the file, renames it to the final name and fsyncs the directory.
 * A crash therefore leaves either nothing or a complete snapshot under the
 * final name; a leftover temporary is removed at the next start.
 *
 * Fork safety: the writer takes no lock, starts no thread, uses no host
 * service: only open/write/fsync/rename/unlink, malloc and zlib, so the core
 * may run it in a child forked while other threads held locks.
 *
 * Entry points: disk_snap_writer_open / _write / _commit / _abort,
 * disk_snap_looks_valid, disk_snap_read (and the decoders).
 */
#define _GNU_SOURCE /* asprintf */
#include "disk_fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define DISK_SNAP_BUF (64 * 1024)

static const uint8_t disk_gzip_header[10] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff};
static const uint8_t disk_snappy_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

/* ------------------------------------------------------------------------- */
/* Writer                                                                     */

struct disk_snap_writer {
    int fd;
    enum disk_codec codec;
    int failed;        /* negative errno once a write failed */
    char *dir;
    char *tmp_path;
    char *final_path;
    int64_t written;   /* bytes in the file so far */
    uint8_t *out;      /* pending file bytes */
    size_t out_len;
    z_stream z;        /* gz */
    int z_ready;
    uLong crc;         /* gz: CRC-32 of the stream */
    uint64_t in_len;   /* gz: stream length */
};

static int disk_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int disk_snap_flush(struct disk_snap_writer *w)
{
    if (w->out_len == 0)
        return 0;
    int rc = disk_write_all(w->fd, w->out, w->out_len);
    if (rc < 0)
        return rc;
    w->written += (int64_t)w->out_len;
    w->out_len = 0;
    return 0;
}

static void disk_snap_writer_free(struct disk_snap_writer *w)
{
    if (w->z_ready)
        deflateEnd(&w->z);
    if (w->fd >= 0)
        close(w->fd);
    free(w->out);
    free(w->dir);
    free(w->tmp_path);
    free(w->final_path);
    free(w);
}

int disk_snap_writer_open(const char *dir, int64_t zxid, enum disk_codec codec,
                          struct disk_snap_writer **out, char *err, size_t errlen)
{
    *out = NULL;
    if (codec == DISK_CODEC_SNAPPY) {
        snprintf(err, errlen, "snapshot 0x%" PRIx64 ": writing snappy snapshots is not supported",
                 zxid);
        return -ENOTSUP;
    }
    if (zxid < 0) {
        snprintf(err, errlen, "snapshot: negative zxid %" PRId64, zxid);
        return -EINVAL;
    }
    struct disk_snap_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        goto oom;
    w->fd = -1;
    w->codec = codec;
    w->out = malloc(DISK_SNAP_BUF);
    w->dir = strdup(dir);
    if (w->out == NULL || w->dir == NULL ||
        asprintf(&w->tmp_path, "%s/" DISK_SNAP_TMP_PREFIX "%" PRIx64 ".%ld.tmp", dir, zxid,
                 (long)getpid()) < 0) {
        w->tmp_path = NULL;
        goto oom;
    }
    if (asprintf(&w->final_path, "%s/snapshot.%" PRIx64 "%s", dir, zxid,
                 codec == DISK_CODEC_GZIP ? ".gz" : "") < 0) {
        w->final_path = NULL;
        goto oom;
    }
    if (codec == DISK_CODEC_GZIP) {
        /* Raw deflate with java.util.zip.Deflater's defaults (level 6,
         * 32 KiB window, memLevel 8); the gzip header and trailer are ours,
         * so they match GZIPOutputStream's bytes. */
        if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            goto oom;
        w->z_ready = 1;
        w->crc = crc32(0L, Z_NULL, 0);
        memcpy(w->out, disk_gzip_header, sizeof disk_gzip_header);
        w->out_len = sizeof disk_gzip_header;
    }
    /* O_EXCL: a temporary of the same name belongs to someone else. */
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot create: %s", w->tmp_path, strerror(-rc));
        disk_snap_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
oom:
    snprintf(err, errlen, "snapshot 0x%" PRIx64 " in %s: out of memory", zxid, dir);
    if (w != NULL)
        disk_snap_writer_free(w);
    return -ENOMEM;
}

/* Runs deflate over the input (flush = Z_NO_FLUSH or Z_FINISH), writing
 * whenever the output buffer fills. */
static int disk_snap_deflate(struct disk_snap_writer *w, const uint8_t *p, size_t len, int flush)
{
    for (;;) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        int last_piece = n == len;
        w->z.next_in = (Bytef *)(uintptr_t)p;
        w->z.avail_in = n;
        int f = last_piece ? flush : Z_NO_FLUSH;
        for (;;) {
            if (w->out_len == DISK_SNAP_BUF) {
                int rc = disk_snap_flush(w);
                if (rc < 0)
                    return rc;
            }
            w->z.next_out = w->out + w->out_len;
            w->z.avail_out = (uInt)(DISK_SNAP_BUF - w->out_len);
            int zr = deflate(&w->z, f);
            if (zr == Z_STREAM_ERROR)
                return -EIO;
            w->out_len = DISK_SNAP_BUF - w->z.avail_out;
            if (f == Z_FINISH ? zr == Z_STREAM_END : w->z.avail_in == 0 && w->z.avail_out > 0)
                break;
        }
        p += n;
        len -= n;
        if (last_piece)
            return 0;
    }
}

int disk_snap_writer_write(struct disk_snap_writer *w, const void *data, size_t len)
{
    if (w == NULL)
        return -EINVAL;
    if (w->failed)
        return w->failed;
    const uint8_t *p = data;
    int rc = 0;
    if (w->codec == DISK_CODEC_GZIP) {
        for (size_t done = 0; done < len;) {
            uInt n = len - done > 0x40000000u ? 0x40000000u : (uInt)(len - done);
            w->crc = crc32(w->crc, p + done, n);
            done += n;
        }
        w->in_len += len;
        rc = disk_snap_deflate(w, p, len, Z_NO_FLUSH);
    } else {
        while (len > 0 && rc == 0) {
            size_t n = DISK_SNAP_BUF - w->out_len;
            if (n > len)
                n = len;
            memcpy(w->out + w->out_len, p, n);
            w->out_len += n;
            p += n;
            len -= n;
            if (w->out_len == DISK_SNAP_BUF)
                rc = disk_snap_flush(w);
        }
    }
    if (rc < 0)
        w->failed = rc;
    return rc;
}

static int disk_fsync_fd(int fd)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int disk_snap_writer_commit(struct disk_snap_writer *w, char *err, size_t errlen)
{
    if (w == NULL) {
        snprintf(err, errlen, "snapshot commit: no writer");
        return -EINVAL;
    }
    int rc = w->failed;
    const char *what = "writing";
    if (rc == 0 && w->codec == DISK_CODEC_GZIP) {
        rc = disk_snap_deflate(w, NULL, 0, Z_FINISH);
        if (rc == 0) {
            uint8_t trailer[8];
            uint32_t crc = (uint32_t)w->crc, isize = (uint32_t)w->in_len;
            for (int i = 0; i < 4; i++) {
                trailer[i] = (uint8_t)(crc >> (8 * i));
                trailer[4 + i] = (uint8_t)(isize >> (8 * i));
            }
            if (DISK_SNAP_BUF - w->out_len < sizeof trailer)
                rc = disk_snap_flush(w);
            if (rc == 0) {
                memcpy(w->out + w->out_len, trailer, sizeof trailer);
                w->out_len += sizeof trailer;
            }
        }
    }
    if (rc == 0)
        rc = disk_snap_flush(w);
    if (rc == 0) {
        what = "fsync";
        rc = disk_fsync_fd(w->fd);
    }
    if (rc == 0) {
        what = "close";
        rc = close(w->fd) == 0 ? 0 : -errno;
        w->fd = -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s offset %" PRId64 ": %s failed: %s; snapshot abandoned",
                 w->tmp_path, w->written + (int64_t)w->out_len, what, strerror(-rc));
        disk_snap_writer_abort(w);
        return rc;
    }
    if (rename(w->tmp_path, w->final_path) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot rename to %s: %s", w->tmp_path, w->final_path,
                 strerror(-rc));
        disk_snap_writer_abort(w);
        return rc;
    }
    rc = disk_dir_fsync(w->dir);
    if (rc < 0) {
        /* The file is complete under its final name; only its directory
         * entry may not be durable yet. */
        snprintf(err, errlen, "%s: fsync of the directory after creating %s failed: %s",
                 w->dir, w->final_path, strerror(-rc));
        disk_snap_writer_free(w);
        return rc;
    }
    disk_snap_writer_free(w);
    return 0;
}

void disk_snap_writer_abort(struct disk_snap_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp_path);
    disk_snap_writer_free(w);
}

/* ------------------------------------------------------------------------- */
/* Reading                                                                    */

static int disk_read_whole(const char *path, uint8_t **out, size_t *len, char *err,
                           size_t errlen)
{
    *out = NULL;
    *len = 0;
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
    size_t size = (size_t)sb.st_size;
    uint8_t *b = malloc(size ? size : 1);
    if (b == NULL) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path, size);
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, b + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int rc = n < 0 ? -errno : -EIO;
            snprintf(err, errlen, "%s offset %zu: read failed: %s", path, got,
                     n < 0 ? strerror(-rc) : "file shrank while reading");
            free(b);
            close(fd);
            return rc;
        }
        got += (size_t)n;
    }
    close(fd);
    *out = b;
    *len = size;
    return 0;
}

int disk_snap_looks_valid(const char *path, char *why, size_t whylen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(why, whylen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int rc = -errno;
        snprintf(why, whylen, "%s: cannot stat: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    uint8_t b[8];
    int valid = 0;
    switch (disk_snap_codec(base)) {
    case DISK_CODEC_GZIP:
        valid = sb.st_size >= 2 && pread(fd, b, 2, 0) == 2 && b[0] == 0x1f && b[1] == 0x8b;
        if (!valid)
            snprintf(why, whylen, "%s offset 0: not a gzip stream (no 1f 8b)", path);
        break;
    case DISK_CODEC_SNAPPY:
        valid = sb.st_size >= 8 && pread(fd, b, 8, 0) == 8 &&
                memcmp(b, disk_snappy_magic, 8) == 0;
        if (!valid)
            snprintf(why, whylen, "%s offset 0: no snappy-java magic", path);
        break;
    case DISK_CODEC_PLAIN:
        valid = sb.st_size >= 10 && pread(fd, b, 5, sb.st_size - 5) == 5 &&
                memcmp(b, "\0\0\0\1/", 5) == 0;
        if (!valid)
            snprintf(why, whylen,
                     sb.st_size < 10 ? "%s: %" PRId64 " bytes is too short for a snapshot"
                                     : "%s offset %" PRId64 ": does not end with the \"/\" "
                                       "marker (incomplete snapshot)",
                     path, (int64_t)(sb.st_size < 10 ? sb.st_size : sb.st_size - 5));
        break;
    }
    close(fd);
    return valid;
}

/* Appends to a growing buffer. */
struct disk_growbuf {
    uint8_t *p;
    size_t len, cap;
};

static int disk_grow(struct disk_growbuf *g, size_t more)
{
    if (g->cap - g->len >= more)
        return 0;
    size_t cap = g->cap ? g->cap : 64 * 1024;
    while (cap - g->len < more) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(g->p, cap);
    if (p == NULL)
        return -ENOMEM;
    g->p = p;
    g->cap = cap;
    return 0;
}

int disk_gzip_decode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen, char *why,
                     size_t whylen)
{
    *out = NULL;
    *outlen = 0;
    struct disk_growbuf g = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 16 + 15: gzip wrapper, 32 KiB window; zlib checks CRC-32 and ISIZE. */
    if (inflateInit2(&z, 16 + 15) != Z_OK) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    size_t pos = 0;
    int rc = 0;
    int members = 0;
    while (pos < inlen) {
        if (members > 0) {
            /* GZIPInputStream reads concatenated members; anything else
             * after the first member is damage. */
            if (inlen - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
                snprintf(why, whylen, "offset %zu: %zu bytes of garbage after the gzip stream",
                         pos, inlen - pos);
                rc = -EBADMSG;
                break;
            }
            inflateReset(&z);
        }
        int zr = Z_OK;
        while (zr != Z_STREAM_END) {
            if (disk_grow(&g, 64 * 1024) < 0) {
                snprintf(why, whylen, "out of memory after %zu decompressed bytes", g.len);
                rc = -ENOMEM;
                goto out;
            }
            size_t avail = inlen - pos;
            z.next_in = (Bytef *)(uintptr_t)(in + pos);
            z.avail_in = avail > 0x40000000u ? 0x40000000u : (uInt)avail;
            uInt in_before = z.avail_in;
            size_t room = g.cap - g.len;
            z.next_out = g.p + g.len;
            z.avail_out = room > 0x40000000u ? 0x40000000u : (uInt)room;
            uInt out_before = z.avail_out;
            zr = inflate(&z, Z_NO_FLUSH);
            pos += in_before - z.avail_in;
            g.len += out_before - z.avail_out;
            if (zr == Z_STREAM_END)
                break;
            if (zr == Z_BUF_ERROR && pos == inlen) {
                snprintf(why, whylen, "offset %zu: the gzip stream is cut short (after %zu "
                         "decompressed bytes)", pos, g.len);
                rc = -EBADMSG;
                goto out;
            }
            if (zr != Z_OK && zr != Z_BUF_ERROR) {
                snprintf(why, whylen, "offset %zu: gzip data is corrupt: %s", pos,
                         z.msg ? z.msg : "inflate failed");
                rc = -EBADMSG;
                goto out;
            }
        }
        members++;
    }
    if (rc == 0 && members == 0) {
        snprintf(why, whylen, "offset 0: empty file");
        rc = -EBADMSG;
    }
out:
    inflateEnd(&z);
    if (rc < 0) {
        free(g.p);
        return rc;
    }
    *out = g.p;
    *outlen = g.len;
    return 0;
}

/* One raw snappy block (the format of google/snappy's format_description.txt):
 * a varint uncompressed length, then literals and back-references. */
static int disk_snappy_block(const uint8_t *in, size_t inlen, size_t base, struct disk_growbuf *g,
                             char *why, size_t whylen)
{
    size_t pos = 0;
    uint64_t ulen = 0;
    for (int shift = 0;; shift += 7) {
        if (pos == inlen || shift > 28) {
            snprintf(why, whylen, "offset %zu: bad snappy block length", base);
            return -EBADMSG;
        }
        uint8_t b = in[pos++];
        ulen |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if (disk_grow(g, (size_t)ulen) < 0) {
        snprintf(why, whylen, "offset %zu: out of memory for %" PRIu64 " bytes", base, ulen);
        return -ENOMEM;
    }
    size_t start = g->len, end = g->len + (size_t)ulen;
    uint8_t *o = g->p;
    size_t op = start;
    while (pos < inlen) {
        size_t at = base + pos;
        uint8_t tag = in[pos++];
        size_t len, off = 0;
        switch (tag & 3) {
        case 0: /* literal */
            len = tag >> 2;
            if (len >= 60) {
                size_t nb = len - 59;
                if (inlen - pos < nb)
                    goto truncated;
                len = 0;
                for (size_t i = 0; i < nb; i++)
                    len |= (size_t)in[pos + i] << (8 * i);
                pos += nb;
            }
            len += 1;
            if (inlen - pos < len || end - op < len)
                goto overrun;
            memcpy(o + op, in + pos, len);
            pos += len;
            op += len;
            continue;
        case 1:
            if (inlen - pos < 1)
                goto truncated;
            len = 4 + ((tag >> 2) & 7);
            off = (size_t)(tag >> 5) << 8 | in[pos];
            pos += 1;
            break;
        case 2:
            if (inlen - pos < 2)
                goto truncated;
            len = 1 + (tag >> 2);
            off = (size_t)in[pos] | (size_t)in[pos + 1] << 8;
            pos += 2;
            break;
        default:
            if (inlen - pos < 4)
                goto truncated;
            len = 1 + (tag >> 2);
            off = (size_t)in[pos] | (size_t)in[pos + 1] << 8 | (size_t)in[pos + 2] << 16 |
                  (size_t)in[pos + 3] << 24;
            pos += 4;
            break;
        }
        if (off == 0 || off > op - start || end - op < len) {
            snprintf(why, whylen, "offset %zu: bad snappy copy (offset %zu, length %zu)", at,
                     off, len);
            return -EBADMSG;
        }
        /* Byte by byte: a copy may overlap what it produces. */
        for (size_t i = 0; i < len; i++, op++)
            o[op] = o[op - off];
        continue;
    overrun:
        snprintf(why, whylen, "offset %zu: snappy literal runs past the block", at);
        return -EBADMSG;
    truncated:
        snprintf(why, whylen, "offset %zu: snappy block cut short", at);
        return -EBADMSG;
    }
    if (op != end) {
        snprintf(why, whylen, "offset %zu: snappy block decodes to %zu bytes, header says %" PRIu64,
                 base, op - start, ulen);
        return -EBADMSG;
    }
    g->len = end;
    return 0;
}

int disk_snappy_decode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen,
                       char *why, size_t whylen)
{
    *out = NULL;
    *outlen = 0;
    if (inlen < 16 || memcmp(in, disk_snappy_magic, 8) != 0) {
        snprintf(why, whylen, "offset 0: no snappy-java header");
        return -EBADMSG;
    }
    struct disk_growbuf g = {0};
    size_t pos = 16;
    while (pos < inlen) {
        if (inlen - pos < 4) {
            snprintf(why, whylen, "offset %zu: partial snappy block length", pos);
            free(g.p);
            return -EBADMSG;
        }
        uint32_t n = disk_be32(in + pos);
        /* snappy-java writes the header again when streams are concatenated. */
        if (inlen - pos >= 16 && memcmp(in + pos, disk_snappy_magic, 8) == 0) {
            pos += 16;
            continue;
        }
        if (n > inlen - pos - 4) {
            snprintf(why, whylen, "offset %zu: snappy block of %" PRIu32
                     " bytes runs past the end of the file", pos, n);
            free(g.p);
            return -EBADMSG;
        }
        int rc = disk_snappy_block(in + pos + 4, n, pos + 4, &g, why, whylen);
        if (rc < 0) {
            free(g.p);
            return rc;
        }
        pos += 4 + (size_t)n;
    }
    if (g.p == NULL)
        g.p = malloc(1);
    if (g.p == NULL)
        return -ENOMEM;
    *out = g.p;
    *outlen = g.len;
    return 0;
}

int disk_snap_read(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    uint8_t *raw;
    size_t rawlen;
    int rc = disk_read_whole(path, &raw, &rawlen, err, errlen);
    if (rc < 0)
        return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char why[256];
    switch (disk_snap_codec(base)) {
    case DISK_CODEC_PLAIN:
        *out = raw;
        *len = rawlen;
        return 0;
    case DISK_CODEC_GZIP:
        rc = disk_gzip_decode(raw, rawlen, out, len, why, sizeof why);
        break;
    case DISK_CODEC_SNAPPY:
        rc = disk_snappy_decode(raw, rawlen, out, len, why, sizeof why);
        break;
    }
    free(raw);
    if (rc < 0)
        snprintf(err, errlen, "%s %s", path, why);
    return rc;
}
