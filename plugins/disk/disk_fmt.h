/*
 * disk_fmt: the file formats of the disk storage plugin without the plugin:
 * byte helpers, file names, reading and checking txn log files, reading,
 * decompressing, checking and writing snapshot files and the purge
 * selection. Nothing here uses the host, a lock or a thread, so the
 * same code serves the plugin (loop thread and the forked snapshot child),
 * the command-line tools in tools/ and the unit tests.
 *
 * The formats themselves are documented at the top of the file that writes
 * them: txn logs in disk_log.c, snapshots in disk_snap.c. Every error
 * message names the file and, where it applies, the byte offset.
 *
 * Ownership: functions that "return new" memory leave it to the caller to
 * free with the matching _free (or free() where stated).
 */
#ifndef ZKPLUG_DISK_DISK_FMT_H
#define ZKPLUG_DISK_DISK_FMT_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------- */
/* Bytes                                                                      */

static inline uint32_t disk_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t disk_be64(const uint8_t *p)
{
    return (uint64_t)disk_be32(p) << 32 | disk_be32(p + 4);
}

static inline void disk_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void disk_put64(uint8_t *p, uint64_t v)
{
    disk_put32(p, (uint32_t)(v >> 32));
    disk_put32(p + 4, (uint32_t)v);
}

/* Adler-32 (zlib) over any length. */
uint32_t disk_adler32(const uint8_t *p, size_t len);

/* ------------------------------------------------------------------------- */
/* File names and directory listings                                          */

/* log.<hex>: 1 to 16 hex digits and nothing else. 0 and *zxid, or -1. */
int disk_log_name_zxid(const char *name, int64_t *zxid);

/* snapshot.<hex>[.<anything>]: the zxid is the second '.'-separated part, as
 * ZooKeeper's Util.getZxidFromName reads it. 0 and *zxid, or -1. */
int disk_snap_name_zxid(const char *name, int64_t *zxid);

enum disk_codec {
    DISK_CODEC_PLAIN = 0,  /* no compression */
    DISK_CODEC_GZIP = 1,   /* gzip (RFC 1952) as java.util.zip.GZIPOutputStream writes it */
    DISK_CODEC_SNAPPY = 2, /* snappy-java's SnappyOutputStream framing */
};

/* The decoder for a snapshot file name: its last '.'-separated part, "gz"
 * or "snappy" (any case), else plain (SnapStream.getStreamMode). */
enum disk_codec disk_snap_codec(const char *name);

/* One file found in a directory. */
struct disk_file {
    char *path;
    int64_t name_zxid; /* from the name */
};

enum disk_file_kind {
    DISK_FILE_LOG = 1,      /* log.<hex> */
    DISK_FILE_SNAPSHOT = 2, /* snapshot.<hex>[.suffix] */
};

/* Every file of the kind in dir, sorted by zxid ascending (snapshots with the
 * same zxid and different suffixes by name). Returns new (disk_files_free). */
int disk_dir_list(const char *dir, enum disk_file_kind kind, struct disk_file **out, size_t *n,
                  char *err, size_t errlen);
void disk_files_free(struct disk_file *files, size_t n);

/* fsync a directory (after creating, renaming or removing a file in it). */
int disk_dir_fsync(const char *dir);

/* ------------------------------------------------------------------------- */
/* Txn log files (format: disk_log.c)                                         */

#define DISK_LOG_MAGIC 0x5a4b4c47u /* "ZKLG" */
#define DISK_LOG_VERSION 2
#define DISK_LOG_HEADER_SIZE 16
#define DISK_ENTRY_OVERHEAD 13 /* checksum 8 + length 4 + 'B' 1 */
#define DISK_EOR 0x42          /* 'B' */
#define DISK_TXN_HEADER_MIN 20 /* clientId 8 + cxid 4 + zxid 8 */

/* Sees one entry; a non-zero return stops the walk. */
typedef int (*disk_entry_fn)(void *arg, int64_t zxid, const uint8_t *txn, size_t len);

/* State carried across the files of one walk. */
struct disk_walker {
    int64_t prev_zxid;  /* highest zxid seen so far, across files */
    int64_t first_zxid; /* 0 until the first entry */
    int64_t from_zxid;  /* fn sees entries above it */
    disk_entry_fn fn;
    void *arg;
    /* Set by truncate: stop at the first entry above it, recording the end. */
    int64_t cut_zxid;   /* -1: not truncating */
    int64_t cut_off;
    /* Set by the walk for the entry fn is called with. */
    int64_t entry_off;
};

/* How one file ended. */
struct disk_file_end {
    int64_t size;    /* file size */
    int64_t off;     /* logical end: after the last valid entry */
    int64_t entries; /* valid entries */
    int torn;        /* the end is damage in the last file (repairable) */
    int no_header;   /* last file shorter than a header, or an all-zero header */
    char why[160];
};

/* Reads one log file, checking every entry (rules at the top of disk_log.c).
 * is_last: damage at the end is a torn tail (reported in end) rather than an
 * error. Returns 0, 1 when fn or the cut stopped the walk, or a negative
 * errno with err naming the file and offset. */
int disk_log_file_walk(const char *path, int is_last, struct disk_walker *w,
                       struct disk_file_end *end, char *err, size_t errlen);

/* ------------------------------------------------------------------------- */
/* Snapshot files (format: disk_snap.c)                                       */

#define DISK_SNAP_MAGIC 0x5a4b534eu /* "ZKSN" */

/* SnapStream.isValidSnapshot for a file: plain: at least 10 bytes ending in
 * 00 00 00 01 2f; gz: starts 1f 8b; snappy: starts with snappy-java's magic.
 * Returns 1 when it looks valid, 0 when not (why says what), negative errno
 * when it cannot be read. */
int disk_snap_looks_valid(const char *path, char *why, size_t whylen);

/* Reads and decompresses a whole snapshot file into new memory (free()).
 * Errors name the file and the offset in it (compressed offset for gz). */
int disk_snap_read(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen);

/* Decoders on memory, for the above and the tests. */
int disk_gzip_decode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen, char *why,
                     size_t whylen);
int disk_snappy_decode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen,
                       char *why, size_t whylen);

/* Parsed view of a logical snapshot stream, for the tools. Callbacks may be
 * NULL; a non-zero return stops the parse (returned). */
struct disk_snap_node {
    const uint8_t *path; /* not NUL-terminated; root is "" */
    int32_t path_len;
    int32_t data_len;    /* -1 = null */
    const uint8_t *data;
    int64_t acl;
    int64_t czxid, mzxid, ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t ephemeral_owner, pzxid;
};

struct disk_snap_visitor {
    int (*session)(void *arg, int64_t id, int32_t timeout);
    int (*acl)(void *arg, int64_t id, int32_t count);
    int (*node)(void *arg, const struct disk_snap_node *node);
    void *arg;
};

struct disk_snap_summary {
    int32_t sessions;
    int32_t acls;
    int64_t nodes;
    int has_digest;
    int64_t digest_zxid;
    int32_t digest_version;
    int64_t digest;
    uint32_t checksum1, checksum2;
};

/* Parses the whole stream and checks its structure and both Adler-32
 * checksums. 0, a callback's non-zero return, or -EBADMSG with why naming
 * the offset in the stream. */
int disk_snap_parse(const uint8_t *s, size_t len, const struct disk_snap_visitor *v,
                    struct disk_snap_summary *sum, char *why, size_t whylen);

/* Writing: fork-safe (no locks, no threads, no host: files and zlib only).
 * The body goes to a hidden temporary file in dir; commit fsyncs it, renames
 * it to snapshot.<zxid hex>[.gz] and fsyncs dir; abort removes it. */
struct disk_snap_writer;
int disk_snap_writer_open(const char *dir, int64_t zxid, enum disk_codec codec,
                          struct disk_snap_writer **out, char *err, size_t errlen);
int disk_snap_writer_write(struct disk_snap_writer *w, const void *data, size_t len);
/* Frees w whatever happens. */
int disk_snap_writer_commit(struct disk_snap_writer *w, char *err, size_t errlen);
void disk_snap_writer_abort(struct disk_snap_writer *w);

/* The temporary name a writer uses starts with this (never "snapshot."). */
#define DISK_SNAP_TMP_PREFIX ".snapshot."

/* ------------------------------------------------------------------------- */
/* Purge (PurgeTxnLog)                                                        */

/* Marks what ZooKeeper's PurgeTxnLog.purge(retain) deletes. snaps and logs
 * are sorted ascending (disk_dir_list); valid[i] says whether snapshot i
 * passes the validity check. retain below 3 counts as 3. keep_log_zxid: a
 * log that must survive whatever (the one being written), or -1. Sets
 * del_snap[i] / del_log[i] to 1 for the files to delete. Returns the zxid of
 * the oldest retained snapshot, or -1 when there is no valid snapshot (then
 * nothing is marked). */
int64_t disk_purge_select(const struct disk_file *snaps, const uint8_t *valid, size_t nsnaps,
                          const struct disk_file *logs, size_t nlogs, int retain,
                          int64_t keep_log_zxid, uint8_t *del_snap, uint8_t *del_log);

/* Lists, selects and deletes. print (may be NULL) is called for each file
 * removed. Returns the number of files removed or a negative errno. */
int disk_purge_dirs(const char *snap_dir, const char *log_dir, int retain, int64_t keep_log_zxid,
                    void (*print)(void *arg, const char *path), void *arg, char *err,
                    size_t errlen);

#endif
