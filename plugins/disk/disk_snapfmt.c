/*
 * disk_snapfmt: an independent reader of the logical snapshot stream (the
 * layout is in core/snapshot.h and disk_snap.c), for the tools: it walks
 * sessions, the ACL cache and every znode, and checks both Adler-32 seals
 * the way FileSnap.deserialize and SnapStream.checkSealIntegrity do. The
 * core has its own loader; this one never builds a tree.
 *
 * Entry point: disk_snap_parse.
 */
#include "disk_fmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct disk_snap_cursor {
    const uint8_t *s;
    size_t len, pos;
    int bad;
    char *why;
    size_t whylen;
};

static int disk_cur_need(struct disk_snap_cursor *c, size_t n, const char *what)
{
    if (c->bad)
        return -1;
    if (c->len - c->pos < n) {
        snprintf(c->why, c->whylen, "offset %zu: stream ends inside %s", c->pos, what);
        c->bad = 1;
        return -1;
    }
    return 0;
}

static int32_t disk_cur_int(struct disk_snap_cursor *c, const char *what)
{
    if (disk_cur_need(c, 4, what) < 0)
        return 0;
    int32_t v = (int32_t)disk_be32(c->s + c->pos);
    c->pos += 4;
    return v;
}

static int64_t disk_cur_long(struct disk_snap_cursor *c, const char *what)
{
    if (disk_cur_need(c, 8, what) < 0)
        return 0;
    int64_t v = (int64_t)disk_be64(c->s + c->pos);
    c->pos += 8;
    return v;
}

/* ustring or buffer: int length (-1 = null), bytes. */
static const uint8_t *disk_cur_bytes(struct disk_snap_cursor *c, int32_t *len, const char *what)
{
    size_t at = c->pos;
    int32_t n = disk_cur_int(c, what);
    if (c->bad)
        return NULL;
    if (n < -1) {
        snprintf(c->why, c->whylen, "offset %zu: negative length %" PRId32 " of %s", at, n, what);
        c->bad = 1;
        return NULL;
    }
    *len = n;
    if (n <= 0)
        return c->s + c->pos;
    if (disk_cur_need(c, (size_t)n, what) < 0)
        return NULL;
    const uint8_t *p = c->s + c->pos;
    c->pos += (size_t)n;
    return p;
}

/* A vector count that cannot promise more elements than bytes left. */
static int32_t disk_cur_count(struct disk_snap_cursor *c, size_t min_elem, const char *what)
{
    size_t at = c->pos;
    int32_t n = disk_cur_int(c, what);
    if (c->bad)
        return 0;
    if (n < -1 || (n > 0 && (size_t)n > (c->len - c->pos) / min_elem)) {
        snprintf(c->why, c->whylen, "offset %zu: impossible count %" PRId32 " of %s", at, n,
                 what);
        c->bad = 1;
        return 0;
    }
    return n < 0 ? 0 : n;
}

/* long checksum, ustring "/", the checksum covering everything before it. */
static int disk_cur_seal(struct disk_snap_cursor *c, const char *which, uint32_t *out)
{
    size_t at = c->pos;
    uint32_t want = disk_adler32(c->s, at);
    int64_t got = disk_cur_long(c, which);
    int32_t mlen;
    const uint8_t *m = disk_cur_bytes(c, &mlen, "the \"/\" after a checksum");
    if (c->bad)
        return -1;
    if ((uint64_t)got != want) {
        snprintf(c->why, c->whylen, "offset %zu: %s mismatch (stored 0x%08" PRIx64
                 ", computed 0x%08" PRIx32 "): CRC corruption", at, which, (uint64_t)got, want);
        c->bad = 1;
        return -1;
    }
    if (mlen != 1 || m[0] != '/') {
        snprintf(c->why, c->whylen, "offset %zu: missing \"/\" after the %s", at + 8, which);
        c->bad = 1;
        return -1;
    }
    *out = want;
    return 0;
}

int disk_snap_parse(const uint8_t *s, size_t len, const struct disk_snap_visitor *v,
                    struct disk_snap_summary *sum, char *why, size_t whylen)
{
    struct disk_snap_cursor c = {.s = s, .len = len, .why = why, .whylen = whylen};
    struct disk_snap_summary local;
    if (sum == NULL)
        sum = &local;
    memset(sum, 0, sizeof *sum);
    int rc;

    uint32_t magic = (uint32_t)disk_cur_int(&c, "the file header");
    int32_t version = disk_cur_int(&c, "the file header");
    disk_cur_long(&c, "the file header");
    if (c.bad)
        return -EBADMSG;
    if (magic != DISK_SNAP_MAGIC) {
        snprintf(why, whylen, "offset 0: bad magic 0x%08" PRIx32 " (not a snapshot)", magic);
        return -EBADMSG;
    }
    if (version != 2) {
        snprintf(why, whylen, "offset 4: unsupported snapshot version %" PRId32, version);
        return -EBADMSG;
    }

    sum->sessions = disk_cur_count(&c, 12, "the session count");
    for (int32_t i = 0; i < sum->sessions && !c.bad; i++) {
        int64_t id = disk_cur_long(&c, "a session");
        int32_t timeout = disk_cur_int(&c, "a session");
        if (!c.bad && v && v->session && (rc = v->session(v->arg, id, timeout)) != 0)
            return rc;
    }

    sum->acls = disk_cur_count(&c, 12, "the ACL cache count");
    for (int32_t i = 0; i < sum->acls && !c.bad; i++) {
        int64_t id = disk_cur_long(&c, "an ACL cache entry");
        int32_t n = disk_cur_count(&c, 12, "an ACL list");
        for (int32_t j = 0; j < n && !c.bad; j++) {
            int32_t l;
            disk_cur_int(&c, "an ACL");
            disk_cur_bytes(&c, &l, "an ACL scheme");
            disk_cur_bytes(&c, &l, "an ACL id");
        }
        if (!c.bad && v && v->acl && (rc = v->acl(v->arg, id, n)) != 0)
            return rc;
    }

    for (;;) {
        if (c.bad)
            return -EBADMSG;
        size_t at = c.pos;
        struct disk_snap_node nd;
        nd.path = disk_cur_bytes(&c, &nd.path_len, "a znode path");
        if (c.bad)
            return -EBADMSG;
        if (nd.path_len == 1 && nd.path[0] == '/')
            break;
        if (nd.path_len < 0) {
            snprintf(why, whylen, "offset %zu: null znode path", at);
            return -EBADMSG;
        }
        nd.data = disk_cur_bytes(&c, &nd.data_len, "znode data");
        nd.acl = disk_cur_long(&c, "a znode");
        nd.czxid = disk_cur_long(&c, "a znode stat");
        nd.mzxid = disk_cur_long(&c, "a znode stat");
        nd.ctime = disk_cur_long(&c, "a znode stat");
        nd.mtime = disk_cur_long(&c, "a znode stat");
        nd.version = disk_cur_int(&c, "a znode stat");
        nd.cversion = disk_cur_int(&c, "a znode stat");
        nd.aversion = disk_cur_int(&c, "a znode stat");
        nd.ephemeral_owner = disk_cur_long(&c, "a znode stat");
        nd.pzxid = disk_cur_long(&c, "a znode stat");
        if (c.bad)
            return -EBADMSG;
        if (nd.path_len > 0 && nd.path[0] != '/') {
            snprintf(why, whylen, "offset %zu: znode path does not start with '/'", at);
            return -EBADMSG;
        }
        sum->nodes++;
        if (v && v->node && (rc = v->node(v->arg, &nd)) != 0)
            return rc;
    }

    if (disk_cur_seal(&c, "first checksum", &sum->checksum1) < 0)
        return -EBADMSG;
    if (c.pos == c.len)
        return 0; /* written without a digest (older servers, digests off) */
    sum->digest_zxid = disk_cur_long(&c, "the digest");
    sum->digest_version = disk_cur_int(&c, "the digest");
    if (c.bad)
        return -EBADMSG;
    if (sum->digest_version < 2) {
        int32_t l;
        disk_cur_bytes(&c, &l, "the digest"); /* old versions: hex ustring */
    } else {
        sum->digest = disk_cur_long(&c, "the digest");
    }
    if (c.bad)
        return -EBADMSG;
    sum->has_digest = 1;
    if (disk_cur_seal(&c, "second checksum", &sum->checksum2) < 0)
        return -EBADMSG;
    if (c.pos != c.len) {
        snprintf(why, whylen, "offset %zu: %zu bytes after the end of the snapshot", c.pos,
                 c.len - c.pos);
        return -EBADMSG;
    }
    return 0;
}
