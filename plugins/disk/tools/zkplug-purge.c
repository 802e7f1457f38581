/*
 * zkplug-purge: removes old snapshots and txn logs from a dataDir, keeping
 * the newest COUNT valid snapshots and every log they need (zkCleanup.sh /
 * PurgeTxnLog; the rules are at the top of disk_purge.c and the same code
 * serves the server's autopurge). Run it while the server is stopped, or
 * while it runs: the log being written is always newer than every file
 * selected.
 *
 * Usage: zkplug-purge DATADIR [DATALOGDIR] -n COUNT   (COUNT >= 3)
 * Exit status: 0 (prints each file removed), 1 on errors, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_fmt.h"

static void purge_usage(void)
{
    fprintf(stderr, "usage: zkplug-purge DATADIR [DATALOGDIR] -n COUNT\n"
                    "Keeps the newest COUNT (at least 3) snapshots and the logs they need.\n");
}

static void purge_print(void *arg, const char *path)
{
    (void)arg;
    printf("Removing file: %s\n", path);
}

int main(int argc, char **argv)
{
    if ((argc != 4 && argc != 5) || strcmp(argv[argc - 2], "-n") != 0) {
        purge_usage();
        return 2;
    }
    char *end;
    long count = strtol(argv[argc - 1], &end, 10);
    if (*argv[argc - 1] == '\0' || *end != '\0' || count < 3 || count > 1000000) {
        fprintf(stderr, "zkplug-purge: COUNT must be a number of at least 3, got \"%s\"\n",
                argv[argc - 1]);
        purge_usage();
        return 2;
    }
    char *snap_dir, *log_dir;
    if (asprintf(&snap_dir, "%s/version-2", argv[1]) < 0 ||
        asprintf(&log_dir, "%s/version-2", argc == 5 ? argv[2] : argv[1]) < 0)
        return 1;
    char err[512];
    int rc = disk_purge_dirs(snap_dir, log_dir, (int)count, -1, purge_print, NULL, err,
                             sizeof err);
    free(snap_dir);
    free(log_dir);
    if (rc < 0) {
        fprintf(stderr, "zkplug-purge: %s\n", err);
        return 1;
    }
    printf("%d files removed\n", rc);
    return 0;
}
