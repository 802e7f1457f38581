/*
 * zkplug-verify: checks a dataDir offline: every txn log entry (checksum,
 * length, end-of-record byte, increasing zxids across files, with the same
 * rules the server applies at start-up) and every snapshot (validity check,
 * decompression, structure, both checksums). Prints one line per file and
 * one per problem, naming the file and offset.
 *
 * Usage: zkplug-verify DATADIR [DATALOGDIR]
 *   Snapshots are read from DATADIR/version-2, logs from
 *   DATALOGDIR/version-2 (DATALOGDIR defaults to DATADIR).
 * Exit status: 0 when everything checks out (a torn tail at the end of the
 * last log, which the server cuts at start, is reported but not an error),
 * 1 when something is damaged, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_fmt.h"

static int verify_snapshots(const char *dir)
{
    struct disk_file *snaps;
    size_t n;
    char err[512];
    int rc = disk_dir_list(dir, DISK_FILE_SNAPSHOT, &snaps, &n, err, sizeof err);
    if (rc == -ENOENT) {
        printf("%s: no snapshot directory\n", dir);
        return 0;
    }
    if (rc < 0) {
        printf("FAIL %s\n", err);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = snaps[i].path;
        int valid = disk_snap_looks_valid(p, err, sizeof err);
        if (valid != 1) {
            printf("FAIL %s\n", err);
            bad = 1;
            continue;
        }
        uint8_t *s;
        size_t len;
        if (disk_snap_read(p, &s, &len, err, sizeof err) < 0) {
            printf("FAIL %s\n", err);
            bad = 1;
            continue;
        }
        struct disk_snap_summary sum;
        rc = disk_snap_parse(s, len, NULL, &sum, err, sizeof err);
        free(s);
        if (rc != 0) {
            printf("FAIL %s: stream %s\n", p, err);
            bad = 1;
            continue;
        }
        printf("ok   %s: %zu bytes, %" PRId64 " znodes, %" PRId32 " sessions, checksums "
               "0x%08" PRIx32 "%s\n", p, len, sum.nodes, sum.sessions, sum.checksum1,
               sum.has_digest ? " + digest" : "");
    }
    disk_files_free(snaps, n);
    return bad;
}

static int verify_logs(const char *dir)
{
    struct disk_file *logs;
    size_t n;
    char err[512];
    int rc = disk_dir_list(dir, DISK_FILE_LOG, &logs, &n, err, sizeof err);
    if (rc == -ENOENT) {
        printf("%s: no log directory\n", dir);
        return 0;
    }
    if (rc < 0) {
        printf("FAIL %s\n", err);
        return 1;
    }
    int bad = 0;
    struct disk_walker w = {.cut_zxid = -1};
    for (size_t i = 0; i < n; i++) {
        struct disk_file_end end;
        int64_t before = w.prev_zxid;
        rc = disk_log_file_walk(logs[i].path, i + 1 == n, &w, &end, err, sizeof err);
        if (rc < 0) {
            printf("FAIL %s\n", err);
            bad = 1;
            /* Go on with the next file from its own first entry. */
            w.prev_zxid = before;
            continue;
        }
        if (end.no_header) {
            printf("warn %s offset 0: %s (the server removes it at start)\n", logs[i].path,
                   end.why);
            continue;
        }
        if (end.entries > 0 && before >= logs[i].name_zxid) {
            printf("FAIL %s: named for zxid 0x%" PRIx64 " but the previous file reaches 0x%"
                   PRIx64 "\n", logs[i].path, logs[i].name_zxid, before);
            bad = 1;
        }
        printf("ok   %s: %" PRId64 " txns", logs[i].path, end.entries);
        if (end.entries > 0)
            printf(", up to zxid 0x%" PRIx64, w.prev_zxid);
        printf("\n");
        if (end.torn)
            printf("warn %s offset %" PRId64 ": %s (torn tail: the server cuts it at start)\n",
                   logs[i].path, end.off, end.why);
    }
    disk_files_free(logs, n);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: zkplug-verify DATADIR [DATALOGDIR]\n"
                        "Checks every snapshot and txn log entry of a dataDir.\n");
        return 2;
    }
    char *snap_dir, *log_dir;
    if (asprintf(&snap_dir, "%s/version-2", argv[1]) < 0 ||
        asprintf(&log_dir, "%s/version-2", argc == 3 ? argv[2] : argv[1]) < 0)
        return 2;
    int bad = verify_snapshots(snap_dir);
    bad |= verify_logs(log_dir);
    printf("%s\n", bad ? "DAMAGED" : "OK");
    free(snap_dir);
    free(log_dir);
    return bad ? 1 : 0;
}
