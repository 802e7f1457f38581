/*
 * disk format tests without the plugin: the host-free code of plugins/disk
 * (disk_fmt.h) linked directly. Covers the purge selection against
 * ZooKeeper's PurgeTxnLog rules (table-driven), snapshot names and codecs,
 * the gzip and snappy decoders on damaged input, the snapshot stream
 * checker, and the four tools in
 * ${CMAKE_BINARY_DIR}/tools run on ZooKeeper 3.8.0 data (output and exit
 * status).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk_fmt.h"

static char tmpdir[64];

static int setup(void **state)
{
    strcpy(tmpdir, "/tmp/zkplug-fmt-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

static int teardown(void **state)
{
    remove_tree(tmpdir);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void copy_file(const char *src, const char *dst)
{
    size_t len;
    uint8_t *b = read_file(src, &len);
    write_file(dst, b, len);
    free(b);
}

/* ------------------------------------------------------------------------- */
/* Purge selection                                                            */

/* One case: space-separated names; "!" before a snapshot marks it invalid.
 * want: the names that survive, in the order given. */
struct purge_case {
    const char *snaps;
    const char *logs;
    int retain;
    const char *want;
    int64_t least;
};

static size_t parse_names(const char *list, const char *prefix, struct disk_file *out,
                          uint8_t *valid, char names[][32])
{
    size_t n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        int bad = t[0] == '!';
        snprintf(names[n], 32, "%s.%s", prefix, t + bad);
        out[n].path = names[n];
        if (prefix[0] == 'l')
            assert_int_equal(disk_log_name_zxid(names[n], &out[n].name_zxid), 0);
        else
            assert_int_equal(disk_snap_name_zxid(names[n], &out[n].name_zxid), 0);
        if (valid)
            valid[n] = !bad;
        n++;
    }
    return n;
}

static void test_purge_selection_follows_purge_txn_log(void **state)
{
    static const struct purge_case cases[] = {
        /* Fewer snapshots than retained: nothing goes. */
        {"0 5", "1 6", 3, "snapshot.0 snapshot.5 log.1 log.6", 0},
        /* The classic: keep 3, the log that starts before the oldest kept
         * snapshot stays (it holds the txns right after it). */
        {"2 5 8 b e", "1 3 5 7 9 b d", 3,
         "snapshot.8 snapshot.b snapshot.e log.7 log.9 log.b log.d", 8},
        /* A log named exactly at the snapshot zxid is the one kept. */
        {"2 5 8 b e", "1 3 5 8 9 b d", 3,
         "snapshot.8 snapshot.b snapshot.e log.8 log.9 log.b log.d", 8},
        /* retain below 3 counts as 3. */
        {"10 20 30 40", "1 15 25 35", 1, "snapshot.20 snapshot.30 snapshot.40 log.15 log.25 log.35",
         0x20},
        /* Invalid snapshots do not count: the three valid ones are 10, 20,
         * 40; the invalid 30 survives (newer), the invalid 5 goes (older). */
        {"!5 10 20 !30 40", "1 12 22 32", 3,
         "snapshot.10 snapshot.20 snapshot.30 snapshot.40 log.1 log.12 log.22 log.32", 0x10},
        /* No log at or before the oldest kept snapshot: every log stays. */
        {"10 20 30 40", "25 35", 3, "snapshot.20 snapshot.30 snapshot.40 log.25 log.35", 0x20},
        /* One log for everything (a learner's logs may span snapshots). */
        {"10 20 30 40 50", "1", 3, "snapshot.30 snapshot.40 snapshot.50 log.1", 0x30},
        /* Epoch boundaries: zxids compare as numbers, not names. */
        {"100000005 200000000 200000010 300000000", "100000001 200000001 200000011 300000001", 3,
         "snapshot.200000000 snapshot.200000010 snapshot.300000000 log.100000001 log.200000001 "
         "log.200000011 log.300000001",
         0x200000000},
        /* Same zxid, two suffixes: both are snapshots of that zxid. */
        {"5 9 9.gz c d", "1 6 a", 4, "snapshot.9 snapshot.9.gz snapshot.c snapshot.d log.6 log.a",
         9},
        /* No valid snapshot at all: nothing is deleted. */
        {"!1 !2", "1 2", 3, "snapshot.1 snapshot.2 log.1 log.2", -1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct disk_file snaps[16], logs[16];
        uint8_t valid[16], del_snap[16], del_log[16];
        char snames[16][32], lnames[16][32];
        size_t ns = parse_names(cases[c].snaps, "snapshot", snaps, valid, snames);
        size_t nl = parse_names(cases[c].logs, "log", logs, NULL, lnames);
        int64_t least = disk_purge_select(snaps, valid, ns, logs, nl, cases[c].retain, -1,
                                          del_snap, del_log);
        char got[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < ns; i++)
            if (!del_snap[i])
                used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? " " : "",
                                         snames[i]);
        for (size_t i = 0; i < nl; i++)
            if (!del_log[i])
                used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? " " : "",
                                         lnames[i]);
        if (strcmp(got, cases[c].want) != 0 || least != cases[c].least)
            fail_msg("case %zu: kept \"%s\" (least 0x%" PRIx64 "), want \"%s\" (least 0x%"
                     PRIx64 ")", c, got, least, cases[c].want, cases[c].least);
    }
}

static void test_purge_never_deletes_the_log_being_written(void **state)
{
    struct disk_file snaps[8], logs[8];
    uint8_t valid[8], del_snap[8], del_log[8];
    char snames[8][32], lnames[8][32];
    size_t ns = parse_names("10 20 30", "snapshot", snaps, valid, snames);
    size_t nl = parse_names("1 5 15", "log", logs, NULL, lnames);
    disk_purge_select(snaps, valid, ns, logs, nl, 3, 5, del_snap, del_log);
    assert_int_equal(del_log[0], 1);
    assert_int_equal(del_log[1], 0); /* log.5 is being written: kept */
    assert_int_equal(del_log[2], 0);
}

/* ------------------------------------------------------------------------- */
/* Names, codecs, stream checks                                               */

static void test_snapshot_names_and_codecs(void **state)
{
    int64_t z;
    assert_int_equal(disk_snap_name_zxid("snapshot.0", &z), 0);
    assert_int_equal(z, 0);
    assert_int_equal(disk_snap_name_zxid("snapshot.100000003.gz", &z), 0);
    assert_int_equal(z, 0x100000003);
    assert_int_equal(disk_snap_name_zxid("snapshot.E.snappy", &z), 0);
    assert_int_equal(z, 0xe);
    assert_int_equal(disk_snap_name_zxid("snapshot.", &z), -1);
    assert_int_equal(disk_snap_name_zxid("snapshot.xyz", &z), -1);
    assert_int_equal(disk_snap_name_zxid(".snapshot.5.99.tmp", &z), -1);
    assert_int_equal(disk_snap_name_zxid("snapshot.8000000000000000", &z), -1);
    assert_int_equal(disk_snap_codec("snapshot.5"), DISK_CODEC_PLAIN);
    assert_int_equal(disk_snap_codec("snapshot.5.gz"), DISK_CODEC_GZIP);
    assert_int_equal(disk_snap_codec("snapshot.5.GZ"), DISK_CODEC_GZIP);
    assert_int_equal(disk_snap_codec("snapshot.5.snappy"), DISK_CODEC_SNAPPY);
    assert_int_equal(disk_snap_codec("snapshot.5.lz4"), DISK_CODEC_PLAIN);
}

static void test_gzip_decoder_rejects_damage(void **state)
{
    size_t len;
    uint8_t *gz = read_file(DISK_TEST_DATA "/zk-3.8.0-datadir-gz/version-2/snapshot.0.gz", &len);
    size_t plen;
    uint8_t *plain = read_file(DISK_TEST_DATA "/zk-3.8.0-snapshot.0", &plen);
    uint8_t *out;
    size_t outlen;
    char why[256];
    assert_int_equal(disk_gzip_decode(gz, len, &out, &outlen, why, sizeof why), 0);
    assert_int_equal(outlen, plen);
    assert_memory_equal(out, plain, plen);
    free(out);
    /* Cut short. */
    assert_int_equal(disk_gzip_decode(gz, len - 3, &out, &outlen, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "cut short"));
    /* CRC-32 in the trailer wrong. */
    gz[len - 8] ^= 1;
    assert_int_equal(disk_gzip_decode(gz, len, &out, &outlen, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "offset"));
    gz[len - 8] ^= 1;
    /* Garbage after the member. */
    uint8_t *more = malloc(len + 4);
    memcpy(more, gz, len);
    memcpy(more + len, "junk", 4);
    assert_int_equal(disk_gzip_decode(more, len + 4, &out, &outlen, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "garbage"));
    free(more);
    free(gz);
    free(plain);
}

static void test_snappy_decoder_handles_copies_and_damage(void **state)
{
    /* Hand-made: header, one block "abcabcabcab" = literal "abc" + copy
     * (1-byte offset 3, length 8). */
    static const uint8_t s[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
                                0, 0, 0, 7, 11, 0x08, 'a', 'b', 'c', 0x11, 0x03};
    uint8_t *out;
    size_t outlen;
    char why[256];
    assert_int_equal(disk_snappy_decode(s, sizeof s, &out, &outlen, why, sizeof why), 0);
    assert_int_equal(outlen, 11);
    assert_memory_equal(out, "abcabcabcab", 11);
    free(out);
    /* A copy reaching before the start. */
    uint8_t bad[sizeof s];
    memcpy(bad, s, sizeof s);
    bad[sizeof s - 1] = 0x09;
    assert_int_equal(disk_snappy_decode(bad, sizeof bad, &out, &outlen, why, sizeof why),
                     -EBADMSG);
    assert_non_null(strstr(why, "offset 25: bad snappy copy"));
    /* Block length past the end. */
    assert_int_equal(disk_snappy_decode(s, sizeof s - 1, &out, &outlen, why, sizeof why),
                     -EBADMSG);
    assert_non_null(strstr(why, "offset 16: snappy block of 7 bytes runs past"));
    /* A real ZooKeeper snappy snapshot decodes to a sealed stream. */
    uint8_t *snap;
    size_t snaplen;
    assert_int_equal(disk_snap_read(DISK_TEST_DATA
                                    "/zk-3.8.0-datadir-snappy/version-2/snapshot.8.snappy",
                                    &snap, &snaplen, why, sizeof why),
                     0);
    struct disk_snap_summary sum;
    assert_int_equal(disk_snap_parse(snap, snaplen, NULL, &sum, why, sizeof why), 0);
    assert_int_equal(sum.nodes, 7);
    assert_true(sum.has_digest);
    free(snap);
}

static int count_nodes(void *arg, const struct disk_snap_node *n)
{
    int *count = arg;
    (*count)++;
    return 0;
}

static void test_stream_checker_finds_checksum_damage(void **state)
{
    size_t len;
    uint8_t *s = read_file(DISK_TEST_DATA "/zk-3.8.0-snapshot.8", &len);
    char why[256];
    int nodes = 0;
    struct disk_snap_visitor v = {.node = count_nodes, .arg = &nodes};
    struct disk_snap_summary sum;
    assert_int_equal(disk_snap_parse(s, len, &v, &sum, why, sizeof why), 0);
    assert_int_equal(nodes, (int)sum.nodes);
    assert_true(nodes >= 9);
    /* One flipped byte in a node's data (the 100 "x" of a sequential
     * child): the first seal no longer matches. */
    uint8_t *x = memmem(s, len, "xxxxxxxxxx", 10);
    assert_non_null(x);
    x[5] ^= 0x40;
    assert_int_equal(disk_snap_parse(s, len, NULL, &sum, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "first checksum mismatch"));
    x[5] ^= 0x40;
    /* Damage in the digest: the second seal catches it. */
    s[len - 20] ^= 1;
    assert_int_equal(disk_snap_parse(s, len, NULL, &sum, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "second checksum mismatch"));
    s[len - 20] ^= 1;
    /* Cut in the middle. */
    assert_int_equal(disk_snap_parse(s, 100, NULL, &sum, why, sizeof why), -EBADMSG);
    assert_non_null(strstr(why, "stream ends inside"));
    free(s);
}

/* ------------------------------------------------------------------------- */
/* Tools                                                                      */

/* Runs a command line, returns its exit status and its stdout (+ stderr). */
static int run(const char *cmd, char *out, size_t outlen)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_logdump_prints_every_txn(void **state)
{
    static char out[65536];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/zkplug-logdump %s/zk-3.8.0-log.bin", DISK_TOOLS_DIR,
             DISK_TEST_DATA);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    /* One line per txn of ZooKeeper's log (types -10, 1, 5, 1, 14, -1, 2, -11). */
    assert_non_null(strstr(out, "zxid 0x1 createSession timeout="));
    assert_non_null(strstr(out, "zxid 0x2 create path=\"/a\" data=\"hello\" acl=[31 world:anyone]"
                                " ephemeral=false"));
    assert_non_null(strstr(out, "zxid 0x3 setData path=\"/a\" data=\"world\" version=1"));
    assert_non_null(strstr(out, "zxid 0x5 multi ops=[{create path=\"/m1\""));
    assert_non_null(strstr(out, "zxid 0x6 error err=-110"));
    assert_non_null(strstr(out, "zxid 0x7 delete path=\"/m1\""));
    assert_non_null(strstr(out, "zxid 0x8 closeSession"));
    assert_non_null(strstr(out, "digest=v2:0x"));
    assert_non_null(strstr(out, "EOF reached after 8 txns."));
    int lines = 0;
    for (char *p = out; (p = strstr(p, " session 0x")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 8);

    /* A flipped byte inside the fourth entry: the dump stops there, naming
     * the file and the offset, with status 1. */
    char path[256];
    snprintf(path, sizeof path, "%s/log.1", tmpdir);
    size_t len;
    uint8_t *b = read_file(DISK_TEST_DATA "/zk-3.8.0-log.bin", &len);
    b[16 + 61 + 104 + 76 + 40] ^= 0x01;
    write_file(path, b, len);
    free(b);
    snprintf(cmd, sizeof cmd, "%s/zkplug-logdump %s", DISK_TOOLS_DIR, path);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "log.1 offset 257: checksum mismatch"));
    snprintf(cmd, sizeof cmd, "%s/zkplug-logdump", DISK_TOOLS_DIR);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "usage: zkplug-logdump FILE"));
}

static void test_snapdump_prints_sessions_and_znodes(void **state)
{
    static char out[65536];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/zkplug-snapdump %s/zk-3.8.0-datadir-gz/version-2/snapshot.8.gz",
             DISK_TOOLS_DIR, DISK_TEST_DATA);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    char *sessions = strstr(out, "Session Details (sid, timeout):\n0x");
    char *app = strstr(out, "----\n/app\n  cZxid = 0x0000000000000002\n");
    assert_non_null(sessions);
    assert_non_null(app);
    assert_true(sessions < app);
    assert_non_null(strstr(app, "  dataVersion = 1\n"));
    assert_non_null(strstr(app, "  dataLength = 2\n")); /* "v2" */
    assert_non_null(strstr(out, "----\n/eph\n"));
    assert_non_null(strstr(out, "Sessions: 4, ACL cache entries: 2, znodes: 7\n"));
    assert_non_null(strstr(out, "(both match)"));
    assert_non_null(strstr(out, "Last zxid: 0x8\n"));

    /* A damaged stream: status 1 with the offset. */
    char path[256];
    snprintf(path, sizeof path, "%s/snapshot.8", tmpdir);
    size_t len;
    uint8_t *b = read_file(DISK_TEST_DATA "/zk-3.8.0-datadir-plain/version-2/snapshot.8", &len);
    b[300] ^= 0x20;
    write_file(path, b, len);
    free(b);
    snprintf(cmd, sizeof cmd, "%s/zkplug-snapdump %s", DISK_TOOLS_DIR, path);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "snapshot.8: stream offset"));
}

static void make_datadir(const char *which, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "%s/%s", tmpdir, which);
    char v2[300];
    snprintf(v2, sizeof v2, "%s/version-2", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(v2, 0755), 0);
    char src[256];
    snprintf(src, sizeof src, "%s/zk-3.8.0-datadir-%s/version-2", DISK_TEST_DATA, which);
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", v2, e->d_name);
        copy_file(a, b);
    }
    closedir(d);
}

static void test_verify_reports_damage_with_file_and_offset(void **state)
{
    static char out[65536];
    char cmd[512], dir[256];
    const char *kinds[] = {"plain", "gz", "snappy"};
    for (int i = 0; i < 3; i++) {
        make_datadir(kinds[i], dir, sizeof dir);
        snprintf(cmd, sizeof cmd, "%s/zkplug-verify %s", DISK_TOOLS_DIR, dir);
        assert_int_equal(run(cmd, out, sizeof out), 0);
        assert_non_null(strstr(out, "log.9: 6 txns, up to zxid 0xe"));
        assert_non_null(strstr(out, "znodes"));
        assert_non_null(strstr(out, "\nOK\n"));
    }
    /* Separate dataLogDir argument. */
    snprintf(cmd, sizeof cmd, "%s/zkplug-verify %s/plain %s/gz", DISK_TOOLS_DIR, tmpdir, tmpdir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "gz/version-2/log.9"));
    assert_non_null(strstr(out, "plain/version-2/snapshot.8:"));

    /* Damage in log.1 (not the last file) and in snapshot.8.gz. */
    char path[512];
    snprintf(path, sizeof path, "%s/gz/version-2/log.1", tmpdir);
    size_t len;
    uint8_t *b = read_file(path, &len);
    b[100] ^= 0x10;
    write_file(path, b, len);
    free(b);
    snprintf(path, sizeof path, "%s/gz/version-2/snapshot.8.gz", tmpdir);
    b = read_file(path, &len);
    b[len - 6] ^= 0x10; /* in the CRC-32 of the trailer */
    write_file(path, b, len);
    free(b);
    snprintf(cmd, sizeof cmd, "%s/zkplug-verify %s/gz", DISK_TOOLS_DIR, tmpdir);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "FAIL "));
    assert_non_null(strstr(out, "gz/version-2/log.1 offset 77: checksum mismatch"));
    assert_non_null(strstr(out, "snapshot.8.gz offset"));
    assert_non_null(strstr(out, "\nDAMAGED\n"));
    snprintf(cmd, sizeof cmd, "%s/zkplug-verify", DISK_TOOLS_DIR);
    assert_int_equal(run(cmd, out, sizeof out), 2);
}

static void test_purge_tool_keeps_count_snapshots(void **state)
{
    static char out[65536];
    char cmd[512], v2[256];
    snprintf(v2, sizeof v2, "%s/version-2", tmpdir);
    assert_int_equal(mkdir(v2, 0755), 0);
    size_t len;
    uint8_t *snap = read_file(DISK_TEST_DATA "/zk-3.8.0-snapshot.0", &len);
    const char *snaps[] = {"snapshot.2", "snapshot.5", "snapshot.8", "snapshot.b", "snapshot.e"};
    const char *logs[] = {"log.1", "log.3", "log.7", "log.c"};
    char path[512];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", v2, snaps[i]);
        write_file(path, snap, len);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", v2, logs[i]);
        write_file(path, "ZKLG", 4);
    }
    free(snap);
    snprintf(cmd, sizeof cmd, "%s/zkplug-purge %s -n 2", DISK_TOOLS_DIR, tmpdir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "COUNT must be a number of at least 3"));
    snprintf(cmd, sizeof cmd, "%s/zkplug-purge %s %s -n 3", DISK_TOOLS_DIR, tmpdir, tmpdir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Removing file: "));
    assert_non_null(strstr(out, "4 files removed"));
    const char *gone[] = {"snapshot.2", "snapshot.5", "log.1", "log.3"};
    const char *kept[] = {"snapshot.8", "snapshot.b", "snapshot.e", "log.7", "log.c"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", v2, gone[i]);
        assert_int_equal(access(path, F_OK), -1);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", v2, kept[i]);
        assert_int_equal(access(path, F_OK), 0);
    }
    /* Nothing more to do the second time. */
    snprintf(cmd, sizeof cmd, "%s/zkplug-purge %s -n 3", DISK_TOOLS_DIR, tmpdir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "0 files removed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purge_selection_follows_purge_txn_log),
        cmocka_unit_test(test_purge_never_deletes_the_log_being_written),
        cmocka_unit_test(test_snapshot_names_and_codecs),
        cmocka_unit_test(test_gzip_decoder_rejects_damage),
        cmocka_unit_test(test_snappy_decoder_handles_copies_and_damage),
        cmocka_unit_test(test_stream_checker_finds_checksum_damage),
        cmocka_unit_test_setup_teardown(test_logdump_prints_every_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapdump_prints_sessions_and_znodes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_reports_damage_with_file_and_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_purge_tool_keeps_count_snapshots, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
