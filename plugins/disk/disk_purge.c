/*
 * disk_purge: which snapshots and txn logs may be deleted, with the rules of
 * ZooKeeper's PurgeTxnLog (used by autopurge and zkCleanup.sh), and the
 * deletion itself. Shared by the plugin's purge op and zkplug-purge.
 *
 * Rules (PurgeTxnLog.purge and purgeOlderSnapshots, FileTxnLog.getLogFiles):
 * - retain below 3 counts as 3.
 * - Snapshots are taken newest first; only those passing the validity check
 *   (disk_snap_looks_valid) count, until retain of them are found. The
 *   oldest of those is the oldest retained snapshot, at zxid Z. Without any
 *   valid snapshot nothing is deleted.
 * - Kept logs: the latest log whose name zxid is <= Z (it may hold the txns
 *   right after Z) and every later log. Without such a log, every log.
 * - Deleted: every snapshot and every log not kept whose name zxid is < Z.
 *   Snapshots newer than Z stay, valid or not.
 * - Differences from ZooKeeper, on purpose: files whose name does not parse
 *   (ZooKeeper reads their zxid as -1 and deletes them) are left alone, and
 *   the log being written (keep_log_zxid) is never deleted.
 *
 * Entry points: disk_purge_select (pure, table-tested), disk_purge_dirs.
 */
#include "disk_fmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int64_t disk_purge_select(const struct disk_file *snaps, const uint8_t *valid, size_t nsnaps,
                          const struct disk_file *logs, size_t nlogs, int retain,
                          int64_t keep_log_zxid, uint8_t *del_snap, uint8_t *del_log)
{
    memset(del_snap, 0, nsnaps);
    memset(del_log, 0, nlogs);
    if (retain < 3)
        retain = 3;
    int found = 0;
    int64_t least = -1;
    for (size_t i = nsnaps; i-- > 0 && found < retain;) {
        if (!valid[i])
            continue;
        found++;
        least = snaps[i].name_zxid;
    }
    if (found == 0)
        return -1;
    /* getLogFiles(least): the latest log starting at or before it. */
    int64_t log_zxid = 0;
    for (size_t i = 0; i < nlogs; i++) {
        if (logs[i].name_zxid > least)
            break;
        if (logs[i].name_zxid > log_zxid)
            log_zxid = logs[i].name_zxid;
    }
    for (size_t i = 0; i < nlogs; i++)
        del_log[i] = logs[i].name_zxid < log_zxid && logs[i].name_zxid < least &&
                     logs[i].name_zxid != keep_log_zxid;
    for (size_t i = 0; i < nsnaps; i++)
        del_snap[i] = snaps[i].name_zxid < least;
    return least;
}

int disk_purge_dirs(const char *snap_dir, const char *log_dir, int retain, int64_t keep_log_zxid,
                    void (*print)(void *arg, const char *path), void *arg, char *err,
                    size_t errlen)
{
    struct disk_file *snaps = NULL, *logs = NULL;
    size_t nsnaps = 0, nlogs = 0;
    uint8_t *valid = NULL, *del_snap = NULL, *del_log = NULL;
    int removed = 0;
    int rc = disk_dir_list(snap_dir, DISK_FILE_SNAPSHOT, &snaps, &nsnaps, err, errlen);
    if (rc < 0)
        goto out;
    rc = disk_dir_list(log_dir, DISK_FILE_LOG, &logs, &nlogs, err, errlen);
    if (rc < 0)
        goto out;
    valid = calloc(nsnaps + 1, 1);
    del_snap = calloc(nsnaps + 1, 1);
    del_log = calloc(nlogs + 1, 1);
    if (valid == NULL || del_snap == NULL || del_log == NULL) {
        snprintf(err, errlen, "%s: out of memory", snap_dir);
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nsnaps; i++) {
        char why[512];
        valid[i] = disk_snap_looks_valid(snaps[i].path, why, sizeof why) == 1;
    }
    disk_purge_select(snaps, valid, nsnaps, logs, nlogs, retain, keep_log_zxid, del_snap,
                      del_log);
    /* Logs first: a snapshot is never left without the logs after it. */
    for (int pass = 0; pass < 2; pass++) {
        const struct disk_file *f = pass == 0 ? logs : snaps;
        const uint8_t *del = pass == 0 ? del_log : del_snap;
        size_t n = pass == 0 ? nlogs : nsnaps;
        for (size_t i = 0; i < n; i++) {
            if (!del[i])
                continue;
            if (unlink(f[i].path) != 0 && errno != ENOENT) {
                rc = -errno;
                snprintf(err, errlen, "%s: cannot remove: %s", f[i].path, strerror(-rc));
                goto out;
            }
            removed++;
            if (print != NULL)
                print(arg, f[i].path);
        }
    }
    if (removed > 0) {
        disk_dir_fsync(log_dir);
        if (strcmp(log_dir, snap_dir) != 0)
            disk_dir_fsync(snap_dir);
    }
    rc = removed;
out:
    free(valid);
    free(del_snap);
    free(del_log);
    disk_files_free(snaps, nsnaps);
    disk_files_free(logs, nlogs);
    return rc;
}
