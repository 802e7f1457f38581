/*
 * zkplug-logdump: prints a ZooKeeper 3.8 txn log file (written by zkplug's
 * disk plugin or by ZooKeeper), one line per txn, as ZooKeeper's
 * LogFormatter does: time, session, cxid, zxid, type, then the decoded
 * record and the TxnDigest when there is one. Every entry's checksum is
 * checked on the way (disk_log_file_walk); damage stops the dump with the
 * file and offset.
 *
 * Usage: zkplug-logdump FILE
 * Exit status: 0 when the whole file was read, 1 on damage or a record that
 * does not decode, 2 on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disk_fmt.h"
#include "jute.h"
#include "proto.h"

static void logdump_bytes(const char *label, jute_span s)
{
    if (s.len < 0) {
        printf(" %s=null", label);
        return;
    }
    printf(" %s=\"", label);
    int n = s.len > 64 ? 64 : s.len;
    for (int i = 0; i < n; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("\"%s", s.len > 64 ? "..." : "");
}

static void logdump_acl(const struct acl_entry *acl, size_t n)
{
    printf(" acl=[");
    for (size_t i = 0; i < n; i++)
        printf("%s%" PRId32 " %s:%s", i ? ", " : "", acl[i].perms, acl[i].id.scheme,
               acl[i].id.id);
    printf("]");
}

static void logdump_body(const struct proto_txn *t)
{
    switch (t->type) {
    case ZK_OP_CREATESESSION:
        printf(" timeout=%" PRId32, t->timeout);
        break;
    case ZK_OP_CLOSESESSION:
        if (t->paths.n < 0)
            break;
        printf(" ephemerals=[");
        for (int32_t i = 0; i < t->paths.n; i++)
            printf("%s%.*s", i ? ", " : "", (int)t->paths.items[i].len,
                   (const char *)t->paths.items[i].ptr);
        printf("]");
        break;
    case ZK_OP_ERROR:
        printf(" err=%" PRId32, t->err);
        break;
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        logdump_bytes("path", t->path);
        logdump_bytes("data", t->data);
        logdump_acl(t->acl, t->nacl);
        if (t->type != ZK_OP_CREATECONTAINER && t->type != ZK_OP_CREATETTL)
            printf(" ephemeral=%s", t->ephemeral ? "true" : "false");
        printf(" parentCVersion=%" PRId32, t->parent_cversion);
        if (t->type == ZK_OP_CREATETTL)
            printf(" ttl=%" PRId64, t->ttl);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        logdump_bytes("path", t->path);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG:
        logdump_bytes("path", t->path);
        logdump_bytes("data", t->data);
        printf(" version=%" PRId32, t->version);
        break;
    case ZK_OP_SETACL:
        logdump_bytes("path", t->path);
        logdump_acl(t->acl, t->nacl);
        printf(" version=%" PRId32, t->version);
        break;
    case ZK_OP_CHECK:
        logdump_bytes("path", t->path);
        printf(" version=%" PRId32, t->version);
        break;
    case ZK_OP_MULTI:
        printf(" ops=[");
        for (int32_t i = 0; i < t->nmulti; i++) {
            printf("%s{%s", i ? ", " : "", proto_op_name(t->multi[i].type));
            logdump_body(&t->multi[i]);
            printf("}");
        }
        printf("]");
        break;
    default:
        break;
    }
}

struct logdump {
    const char *path;
    int64_t count;
    int bad;
};

static int logdump_entry(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct logdump *d = arg;
    jute_reader r;
    jute_reader_init(&r, txn, len, 0);
    struct proto_txn_header h;
    struct proto_txn t;
    memset(&t, 0, sizeof t);
    if (proto_read_txn_header(&r, &h) != 0) {
        fprintf(stderr, "%s: zxid 0x%" PRIx64 ": cannot decode the TxnHeader\n", d->path, zxid);
        d->bad = 1;
        return 1;
    }
    time_t secs = (time_t)(h.time / 1000);
    struct tm tm;
    char when[64];
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s.%03d UTC session 0x%" PRIx64 " cxid 0x%" PRIx32 " zxid 0x%" PRIx64 " %s", when,
           (int)(h.time % 1000), (uint64_t)h.client_id, (uint32_t)h.cxid, (uint64_t)h.zxid,
           proto_op_name(h.type));
    if (proto_read_txn_body(&r, h.type, &t) != 0) {
        printf("\n");
        fprintf(stderr, "%s: zxid 0x%" PRIx64 ": cannot decode the %s record (type %" PRId32
                ")\n", d->path, zxid, proto_op_name(h.type), h.type);
        d->bad = 1;
        return 1;
    }
    logdump_body(&t);
    proto_txn_free(&t);
    struct proto_txn_digest dg;
    bool present = false;
    if (proto_read_txn_digest(&r, &dg, &present) == 0 && present)
        printf(" digest=v%" PRId32 ":0x%" PRIx64, dg.version, (uint64_t)dg.tree_digest);
    printf("\n");
    d->count++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: zkplug-logdump FILE\n"
                        "Prints every txn of a ZooKeeper 3.8 txn log file (log.<zxid>).\n");
        return 2;
    }
    struct logdump d = {.path = argv[1]};
    struct disk_walker w = {.fn = logdump_entry, .arg = &d, .cut_zxid = -1};
    struct disk_file_end end;
    char err[512];
    printf("ZooKeeper Transactional Log File with dbid 0 txnlog format version %d: %s\n",
           DISK_LOG_VERSION, d.path);
    int rc = disk_log_file_walk(d.path, 1, &w, &end, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (d.bad)
        return 1;
    if (end.no_header) {
        fprintf(stderr, "%s offset 0: %s\n", d.path, end.why);
        return 1;
    }
    if (end.torn)
        printf("%s offset %" PRId64 ": %s (a torn write: the log ends here)\n", d.path, end.off,
               end.why);
    printf("EOF reached after %" PRId64 " txns.\n", d.count);
    return 0;
}
