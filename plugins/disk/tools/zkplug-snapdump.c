/*
 * zkplug-snapdump: prints a ZooKeeper 3.8 snapshot file (plain, .gz or
 * .snappy, chosen by the last part of the name as ZooKeeper does), in the
 * spirit of ZooKeeper's SnapshotFormatter: the sessions, then every znode
 * with its stat and data length, then the digest and the checksums, which
 * are verified.
 *
 * Usage: zkplug-snapdump FILE
 * Exit status: 0 when the snapshot is complete and both checksums match, 1
 * otherwise (the message names the file and the offset), 2 on usage errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disk_fmt.h"

static void snapdump_time(const char *label, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    gmtime_r(&secs, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    printf("  %s = %s.%03d UTC\n", label, buf, (int)(ms % 1000 < 0 ? 0 : ms % 1000));
}

static int snapdump_session(void *arg, int64_t id, int32_t timeout)
{
    int *first = arg;
    if (*first) {
        printf("Session Details (sid, timeout):\n");
        *first = 0;
    }
    printf("0x%" PRIx64 ", %" PRId32 "\n", (uint64_t)id, timeout);
    return 0;
}

static int snapdump_node(void *arg, const struct disk_snap_node *n)
{
    (void)arg;
    printf("----\n");
    if (n->path_len == 0)
        printf("/\n");
    else
        printf("%.*s\n", (int)n->path_len, (const char *)n->path);
    printf("  cZxid = 0x%016" PRIx64 "\n", (uint64_t)n->czxid);
    snapdump_time("ctime", n->ctime);
    printf("  mZxid = 0x%016" PRIx64 "\n", (uint64_t)n->mzxid);
    snapdump_time("mtime", n->mtime);
    printf("  pZxid = 0x%016" PRIx64 "\n", (uint64_t)n->pzxid);
    printf("  cversion = %" PRId32 "\n", n->cversion);
    printf("  dataVersion = %" PRId32 "\n", n->version);
    printf("  aclVersion = %" PRId32 "\n", n->aversion);
    printf("  aclId = %" PRId64 "\n", n->acl);
    printf("  ephemeralOwner = 0x%016" PRIx64 "\n", (uint64_t)n->ephemeral_owner);
    printf("  dataLength = %" PRId32 "\n", n->data_len < 0 ? 0 : n->data_len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: zkplug-snapdump FILE\n"
                        "Prints a ZooKeeper 3.8 snapshot (snapshot.<zxid>[.gz|.snappy]).\n");
        return 2;
    }
    const char *path = argv[1];
    char err[512];
    uint8_t *s;
    size_t len;
    if (disk_snap_read(path, &s, &len, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("Snapshot %s: %zu bytes of stream\n", path, len);
    int first = 1;
    struct disk_snap_visitor v = {.session = snapdump_session, .node = snapdump_node,
                                  .arg = &first};
    struct disk_snap_summary sum;
    int rc = disk_snap_parse(s, len, &v, &sum, err, sizeof err);
    free(s);
    if (rc != 0) {
        printf("----\n");
        fprintf(stderr, "%s: stream %s\n", path, err);
        return 1;
    }
    if (first)
        printf("Session Details (sid, timeout):\n");
    printf("----\n");
    printf("Sessions: %" PRId32 ", ACL cache entries: %" PRId32 ", znodes: %" PRId64 "\n",
           sum.sessions, sum.acls, sum.nodes);
    if (sum.has_digest)
        printf("Digest: zxid 0x%" PRIx64 ", version %" PRId32 ", digest 0x%" PRIx64 "\n",
               (uint64_t)sum.digest_zxid, sum.digest_version, (uint64_t)sum.digest);
    else
        printf("Digest: none\n");
    printf("Checksums: 0x%08" PRIx32 ", 0x%08" PRIx32 " (both match)\n", sum.checksum1,
           sum.checksum2);
    int64_t zxid;
    const char *base = strrchr(path, '/');
    if (disk_snap_name_zxid(base ? base + 1 : path, &zxid) == 0)
        printf("Last zxid: 0x%" PRIx64 "\n", (uint64_t)zxid);
    return 0;
}
