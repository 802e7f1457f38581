/*
 * disk storage snapshot tests: the built disk.so loaded through plugin_load
 * on a real loop, with real files in a fresh temporary dataDir per test.
 * Covers writing snapshots (plain and gz, byte-compared with ZooKeeper
 * 3.8.0's), atomic commit and abort, writing from a forked child, restoring
 * dataDirs written by ZooKeeper 3.8.0 (plain, gz, snappy: tests/unit/data/
 * zk-3.8.0-datadir-*), falling back from a damaged newest snapshot, replaying
 * only the txns after the accepted snapshot, and purge through the plugin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "fake_config.h"
#include "loop.h"
#include "plugin_loader.h"
#include "registry.h"

struct fixture {
    char dir[64];     /* dataDir (= dataLogDir) */
    char vdir[96];    /* dataDir/version-2 */
    loop *loop;
    struct plugin_instance *plugin;
    const struct zkp_storage_ops *ops;
    void *st;
    char err[512];
};

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */

static void stop_cb(void *arg) { loop_stop(arg); }

static int open_store_rc(struct fixture *f)
{
    f->loop = loop_new();
    assert_non_null(f->loop);
    int rc = plugin_load(ZKPLUG_PLUGIN_DIR, "disk", ZKP_KIND_STORAGE, f->loop, FAKE_CONFIG,
                         &f->plugin, f->err, sizeof f->err);
    if (rc != 0) {
        loop_free(f->loop);
        f->loop = NULL;
        f->plugin = NULL;
        return rc;
    }
    if (plugin_start(f->plugin, f->err, sizeof f->err) != 0)
        fail_msg("start: %s", f->err);
    f->ops = plugin_ops(f->plugin);
    f->st = f->plugin->state;
    return 0;
}

static void open_store(struct fixture *f)
{
    if (open_store_rc(f) != 0)
        fail_msg("load: %s", f->err);
}

static void close_store(struct fixture *f)
{
    if (f->plugin == NULL)
        return;
    plugin_unload(f->plugin);
    f->plugin = NULL;
    metrics_clear();
    loop_free(f->loop);
    f->loop = NULL;
}

static void reopen_store(struct fixture *f)
{
    close_store(f);
    open_store(f);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/zkplug-snap-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->vdir, sizeof f->vdir, "%s/version-2", f->dir);
    fake_config_reset();
    fake_config_set("dataDir", f->dir);
    fake_config_set("preAllocSize", "1");
    *state = f;
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
    struct fixture *f = *state;
    close_store(f);
    remove_tree(f->dir);
    fake_config_reset();
    free(f);
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

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

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Names in version-2, sorted, joined with spaces. */
static void list_dir(const struct fixture *f, char *out, size_t outlen)
{
    struct dirent **names;
    int n = scandir(f->vdir, &names, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? " " : "",
                                     names[i]->d_name);
        free(names[i]);
    }
    free(names);
}

/* A txn as the core logs it: TxnHeader{clientId, cxid, zxid, time, type=5}
 * and a few bytes of record. */
static size_t make_txn(uint8_t *buf, int64_t zxid)
{
    put64(buf, 0x100000f7fb00000ull);
    put32(buf + 8, (uint32_t)zxid);
    put64(buf + 12, (uint64_t)zxid);
    put64(buf + 20, 1700000000000ull + (uint64_t)zxid);
    put32(buf + 28, 5);
    for (int i = 0; i < 8; i++)
        buf[32 + i] = (uint8_t)(zxid + i);
    return 40;
}

struct syncs {
    struct fixture *f;
    int calls;
    int status;
};

static void on_sync(void *arg, int status, int64_t zxid)
{
    struct syncs *s = arg;
    s->calls++;
    s->status = status;
    loop_stop(s->f->loop);
}

/* Appends zxids [from, to]. Not synced: a loop runs only once, so the tests
 * rely on stop, which makes everything appended durable, before reopening. */
static void append_txns(struct fixture *f, int64_t from, int64_t to)
{
    for (int64_t z = from; z <= to; z++) {
        uint8_t txn[64];
        size_t len = make_txn(txn, z);
        if (f->ops->append(f->st, z, txn, len, f->err, sizeof f->err) != 0)
            fail_msg("append 0x%" PRIx64 ": %s", z, f->err);
    }
}

/* What restore handed the core. */
struct restored {
    int nsnap;
    int64_t snap_zxids[8];
    uint8_t *snap_body[8];
    size_t snap_len[8];
    int reject_above; /* refuse snapshots with zxid > this (-1: accept all) */
    int reject_all;
    int ntxn;
    int64_t zxids[256];
};

static int sink_snapshot(void *arg, int64_t zxid, const uint8_t *body, size_t len)
{
    struct restored *r = arg;
    assert_true(r->nsnap < 8);
    r->snap_zxids[r->nsnap] = zxid;
    r->snap_body[r->nsnap] = malloc(len + 1);
    assert_non_null(r->snap_body[r->nsnap]);
    memcpy(r->snap_body[r->nsnap], body, len);
    r->snap_len[r->nsnap] = len;
    r->nsnap++;
    if (r->reject_all || (r->reject_above >= 0 && zxid > r->reject_above))
        return -EBADMSG;
    return 0;
}

static int sink_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct restored *r = arg;
    assert_true(r->ntxn < 256);
    assert_int_equal((int64_t)get64(txn + 12), zxid);
    r->zxids[r->ntxn++] = zxid;
    return 0;
}

static const struct zkp_restore_sink sink = {sizeof sink, sink_snapshot, sink_txn};

static void restored_free(struct restored *r)
{
    for (int i = 0; i < r->nsnap; i++)
        free(r->snap_body[i]);
    r->nsnap = 0;
}

static int restore_rc(struct fixture *f, struct restored *r, int64_t *last, int reject_above)
{
    restored_free(r);
    memset(r, 0, sizeof *r);
    r->reject_above = reject_above;
    *last = -1;
    return f->ops->restore(f->st, &sink, r, last, f->err, sizeof f->err);
}

static int64_t restore(struct fixture *f, struct restored *r)
{
    int64_t last;
    if (restore_rc(f, r, &last, -1) != 0)
        fail_msg("restore: %s", f->err);
    return last;
}

static uint8_t *zk_empty_snapshot(size_t *len)
{
    uint8_t *b = read_file(DISK_TEST_DATA "/zk-3.8.0-snapshot.0", len);
    assert_int_equal(*len, 457);
    return b;
}

/* Writes body as the snapshot at zxid in three pieces and commits it. */
static void take_snapshot(struct fixture *f, int64_t zxid, const uint8_t *body, size_t len)
{
    zkp_snapshot_writer *w = NULL;
    if (f->ops->snapshot_open(f->st, zxid, &w, f->err, sizeof f->err) != 0)
        fail_msg("snapshot_open: %s", f->err);
    assert_non_null(w);
    size_t a = len / 3, b = len / 2;
    assert_int_equal(f->ops->snapshot_write(w, body, a), 0);
    assert_int_equal(f->ops->snapshot_write(w, body + a, b - a), 0);
    assert_int_equal(f->ops->snapshot_write(w, body + b, len - b), 0);
    if (f->ops->snapshot_commit(w, f->err, sizeof f->err) != 0)
        fail_msg("snapshot_commit: %s", f->err);
}

static void copy_zk_datadir(struct fixture *f, const char *which)
{
    static const char *const names[] = {"log.1", "log.9", "snapshot.0", "snapshot.8",
                                        "snapshot.0.gz", "snapshot.8.gz",
                                        "snapshot.0.snappy", "snapshot.8.snappy"};
    mkdir(f->vdir, 0755);
    int copied = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[256], dst[256];
        snprintf(src, sizeof src, "%s/zk-3.8.0-datadir-%s/version-2/%s", DISK_TEST_DATA, which,
                 names[i]);
        if (!exists(src))
            continue;
        size_t len;
        uint8_t *b = read_file(src, &len);
        snprintf(dst, sizeof dst, "%s/%s", f->vdir, names[i]);
        write_file(dst, b, len);
        free(b);
        copied++;
    }
    assert_int_equal(copied, 4);
}

/* The stream ends with "/", and both seals are right (an independent check
 * of what restore hands the core). */
static void assert_stream_sealed(const uint8_t *s, size_t len)
{
    assert_true(len > 45);
    assert_int_equal(get32(s), 0x5a4b534e);
    assert_memory_equal(s + len - 5, "\0\0\0\1/", 5);
    /* Second seal: Adler-32 of everything before it. */
    uint32_t a = (uint32_t)adler32(adler32(0, NULL, 0), s, (uInt)(len - 13));
    assert_int_equal(get64(s + len - 13), a);
    /* First seal: 20 bytes of digest and 13 of seal before the second. */
    size_t c1 = len - 13 - 20 - 13;
    assert_memory_equal(s + c1 + 8, "\0\0\0\1/", 5);
    assert_int_equal(get64(s + c1), (uint32_t)adler32(adler32(0, NULL, 0), s, (uInt)c1));
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */

static void test_snapshot_commit_then_restore_offers_it(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r = {0};
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(r.nsnap, 0);
    append_txns(f, 1, 5);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    take_snapshot(f, 0x5, body, len);
    char path[160];
    snprintf(path, sizeof path, "%s/snapshot.5", f->vdir);
    size_t flen;
    uint8_t *file = read_file(path, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(file, body, len);
    free(file);
    /* A zxid with letters: lowercase hex, no padding. */
    append_txns(f, 6, 0x1a);
    take_snapshot(f, 0x1a, body, len);
    snprintf(path, sizeof path, "%s/snapshot.1a", f->vdir);
    assert_true(exists(path));

    reopen_store(f);
    assert_int_equal(restore(f, &r), 0x1a);
    assert_int_equal(r.nsnap, 1);
    assert_int_equal(r.snap_zxids[0], 0x1a);
    assert_int_equal(r.snap_len[0], len);
    assert_memory_equal(r.snap_body[0], body, len);
    assert_int_equal(r.ntxn, 0);
    restored_free(&r);
    free(body);
}

static void test_gz_snapshot_is_byte_identical_to_zookeeper(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapshot.compression.method", "gz");
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    take_snapshot(f, 0, body, len);
    char path[160];
    snprintf(path, sizeof path, "%s/snapshot.0.gz", f->vdir);
    size_t ours_len, zk_len;
    uint8_t *ours = read_file(path, &ours_len);
    uint8_t *zk = read_file(DISK_TEST_DATA "/zk-3.8.0-datadir-gz/version-2/snapshot.0.gz",
                            &zk_len);
    /* GZIPOutputStream's header: no name, mtime 0, OS 255. */
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    assert_memory_equal(ours, header, 10);
    assert_memory_equal(zk, header, 10);
    /* The whole file: ZooKeeper 3.8.0 wrote the same stream to this file. */
    assert_int_equal(ours_len, zk_len);
    assert_memory_equal(ours, zk, zk_len);
    free(zk);
    free(ours);

    /* A bigger body in many pieces (several deflate buffers) round-trips. */
    size_t big_len = 3 * 1024 * 1024 + 7;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    uint32_t x = 12345;
    for (size_t i = 0; i < big_len; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(i % 3 == 0 ? x >> 24 : 'a' + i % 7);
    }
    memcpy(big + big_len - 5, "\0\0\0\1/", 5);
    zkp_snapshot_writer *w;
    assert_int_equal(f->ops->snapshot_open(f->st, 0x100000001, &w, f->err, sizeof f->err), 0);
    for (size_t off = 0; off < big_len; off += 70001)
        assert_int_equal(f->ops->snapshot_write(w, big + off,
                                                big_len - off < 70001 ? big_len - off : 70001),
                         0);
    assert_int_equal(f->ops->snapshot_commit(w, f->err, sizeof f->err), 0);
    snprintf(path, sizeof path, "%s/snapshot.100000001.gz", f->vdir);
    /* Independent decoder: zlib's gzip mode. */
    uint8_t *gz = read_file(path, &ours_len);
    uint8_t *plain = malloc(big_len + 16);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)ours_len;
    z.next_out = plain;
    z.avail_out = (uInt)big_len + 16;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, big_len);
    inflateEnd(&z);
    assert_memory_equal(plain, big, big_len);
    free(gz);
    free(plain);

    reopen_store(f);
    assert_int_equal(restore(f, &r), 0x100000001);
    assert_int_equal(r.nsnap, 1);
    assert_int_equal(r.snap_len[0], big_len);
    assert_memory_equal(r.snap_body[0], big, big_len);
    restored_free(&r);
    free(big);
    free(body);
}

static void restore_zk_datadir(struct fixture *f, const char *which)
{
    copy_zk_datadir(f, which);
    open_store(f);
    struct restored r = {0};
    /* ZooKeeper wrote snapshot.8 at its restart, then zxids 9 to 0xe. */
    assert_int_equal(restore(f, &r), 0xe);
    assert_int_equal(r.nsnap, 1);
    assert_int_equal(r.snap_zxids[0], 8);
    assert_int_equal(r.snap_len[0], 789);
    assert_stream_sealed(r.snap_body[0], r.snap_len[0]);
    assert_int_equal(r.ntxn, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(r.zxids[i], 9 + i);
    restored_free(&r);
    /* And our appends go on after it. */
    append_txns(f, 0xf, 0x10);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 0x10);
    assert_int_equal(r.ntxn, 8);
    restored_free(&r);
}

static void test_restores_a_zookeeper_plain_datadir(void **state)
{
    struct fixture *f = *state;
    restore_zk_datadir(f, "plain");
    /* The plain snapshot is handed over exactly as stored. */
    char path[160];
    snprintf(path, sizeof path, "%s/snapshot.8", f->vdir);
    size_t len;
    uint8_t *b = read_file(path, &len);
    assert_int_equal(len, 789);
    free(b);
}

static void test_restores_a_zookeeper_gz_datadir(void **state)
{
    restore_zk_datadir(*state, "gz");
}

static void test_restores_a_zookeeper_snappy_datadir(void **state)
{
    restore_zk_datadir(*state, "snappy");
}

static void test_damaged_newest_snapshot_falls_back_to_an_older_one(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "2"); /* log.1, log.3, log.5, ...: two txns each */
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    append_txns(f, 1, 4);
    take_snapshot(f, 4, body, len);
    append_txns(f, 5, 8);
    take_snapshot(f, 8, body, len);
    append_txns(f, 9, 12);
    take_snapshot(f, 12, body, len);
    append_txns(f, 13, 14);

    /* The core refuses snapshot.c: snapshot.8 is offered next, and the log
     * replays from 9. */
    reopen_store(f);
    int64_t last;
    assert_int_equal(restore_rc(f, &r, &last, 8), 0);
    assert_int_equal(last, 14);
    assert_int_equal(r.nsnap, 2);
    assert_int_equal(r.snap_zxids[0], 12);
    assert_int_equal(r.snap_zxids[1], 8);
    assert_int_equal(r.ntxn, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(r.zxids[i], 9 + i);

    /* A newest snapshot cut short fails the validity check and is never
     * offered; a gz one with broken data is skipped too. */
    char path[160];
    snprintf(path, sizeof path, "%s/snapshot.e", f->vdir);
    write_file(path, body, len - 1);
    snprintf(path, sizeof path, "%s/snapshot.d.gz", f->vdir);
    static const uint8_t bad_gz[16] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff};
    write_file(path, bad_gz, sizeof bad_gz);
    reopen_store(f);
    assert_int_equal(restore_rc(f, &r, &last, -1), 0);
    assert_int_equal(r.nsnap, 1);
    assert_int_equal(r.snap_zxids[0], 12);
    assert_int_equal(r.ntxn, 2);
    assert_int_equal(last, 14);

    /* Nothing acceptable: an error naming the snapshot directory. */
    reopen_store(f);
    restored_free(&r);
    memset(&r, 0, sizeof r);
    r.reject_all = 1;
    r.reject_above = -1;
    assert_int_equal(f->ops->restore(f->st, &sink, &r, &last, f->err, sizeof f->err),
                     -EBADMSG);
    assert_int_equal(r.nsnap, 3);
    assert_non_null(strstr(f->err, f->vdir));
    assert_non_null(strstr(f->err, "not able to find a valid snapshot"));
    restored_free(&r);
    free(body);
}

static void test_restore_replays_only_txns_after_the_snapshot(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "2");
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    append_txns(f, 1, 20);
    /* snapshot 0xb sits inside log.b (zxids 0xb and 0xc): the replay starts
     * in that file and skips 0xb. */
    take_snapshot(f, 0xb, body, len);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 20);
    assert_int_equal(r.snap_zxids[0], 0xb);
    assert_int_equal(r.ntxn, 9);
    for (int i = 0; i < 9; i++)
        assert_int_equal(r.zxids[i], 0xc + i);

    /* A snapshot newer than the whole log: nothing to replay, and the last
     * zxid is the snapshot's. */
    take_snapshot(f, 0x30, body, len);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 0x30);
    assert_int_equal(r.ntxn, 0);
    restored_free(&r);
    free(body);
}

static void test_temporary_files_never_carry_the_final_name(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    char names[512];
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "");

    zkp_snapshot_writer *w;
    assert_int_equal(f->ops->snapshot_open(f->st, 7, &w, f->err, sizeof f->err), 0);
    assert_int_equal(f->ops->snapshot_write(w, body, len), 0);
    /* Written but not committed: only a hidden temporary exists. */
    list_dir(f, names, sizeof names);
    char want[128];
    snprintf(want, sizeof want, ".snapshot.7.%ld.tmp", (long)getpid());
    assert_string_equal(names, want);
    f->ops->snapshot_abort(w);
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "");

    /* A temporary left by a crash is removed at the next start and never
     * offered. */
    char path[160];
    snprintf(path, sizeof path, "%s/.snapshot.9.4242.tmp", f->vdir);
    write_file(path, body, len);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(r.nsnap, 0);
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "");

    /* Commit: the final name appears, the temporary is gone. */
    take_snapshot(f, 7, body, len);
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "snapshot.7");
    restored_free(&r);
    free(body);
}

struct fork_ctx {
    struct fixture *f;
    const uint8_t *body;
    size_t len;
    int status;
};

/* Runs from a loop timer, after the loop handed the pending sync to the sync
 * thread: the fork happens while that thread may hold the plugin's lock or
 * sit in fdatasync, as with the core's background save. */
static void fork_and_snapshot(void *arg)
{
    struct fork_ctx *c = arg;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        zkp_snapshot_writer *w;
        int rc = c->f->ops->snapshot_open(c->f->st, 3, &w, err, sizeof err);
        if (rc == 0)
            rc = c->f->ops->snapshot_write(w, c->body, c->len);
        if (rc == 0)
            rc = c->f->ops->snapshot_commit(w, err, sizeof err);
        _exit(rc == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &c->status, 0), pid);
}

static void test_snapshot_written_in_a_forked_child(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    append_txns(f, 1, 4);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    struct syncs s = {.f = f};
    assert_int_equal(f->ops->sync(f->st, on_sync, &s), 0);
    struct fork_ctx c = {.f = f, .body = body, .len = len, .status = -1};
    assert_true(loop_timer_start(f->loop, 0, fork_and_snapshot, &c) > 0);
    assert_true(loop_timer_start(f->loop, 10000, stop_cb, f->loop) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 0);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 4);
    assert_int_equal(r.snap_zxids[0], 3);
    assert_memory_equal(r.snap_body[0], body, len);
    assert_int_equal(r.ntxn, 1);
    assert_int_equal(r.zxids[0], 4);
    restored_free(&r);
    free(body);
}

static void test_purge_keeps_three_snapshots_and_the_logs_they_need(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "2");
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    /* Logs log.1, log.3, ..., log.13 (two txns each, names in hex);
     * snapshots at 2, 5, 8, 0xb and 0xe. */
    for (int64_t z = 1; z <= 20; z++) {
        append_txns(f, z, z);
        if (z % 3 == 2 && z <= 14)
            take_snapshot(f, z, body, len);
    }
    char names[1024];
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "log.1 log.11 log.13 log.3 log.5 log.7 log.9 log.b log.d log.f "
                               "snapshot.2 snapshot.5 snapshot.8 snapshot.b snapshot.e");
    /* retain 1 counts as 3: the oldest kept snapshot is 8; log.7 (first zxid
     * 7 <= 8) and everything after it stay. */
    assert_int_equal(f->ops->purge(f->st, 1, f->err, sizeof f->err), 0);
    list_dir(f, names, sizeof names);
    assert_string_equal(names, "log.11 log.13 log.7 log.9 log.b log.d log.f snapshot.8 "
                               "snapshot.b snapshot.e");
    /* read_log knows the log now starts at 7. */
    assert_int_equal(f->ops->read_log(f->st, 5, sink_txn, &r), -ENOENT);
    assert_int_equal(f->ops->read_log(f->st, 6, sink_txn, &r), 0);
    assert_int_equal(r.ntxn, 14);
    /* The log being written survives and appends go on. */
    append_txns(f, 21, 22);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 22);
    assert_int_equal(r.snap_zxids[0], 0xe);
    assert_int_equal(r.ntxn, 8);
    /* read_log now knows the log starts at 7. */
    assert_int_equal(f->ops->read_log(f->st, 5, sink_txn, &r), -ENOENT);
    restored_free(&r);
    free(body);
}

static void test_compression_method_gz_any_case_snappy_refused(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapshot.compression.method", "snappy");
    assert_int_equal(open_store_rc(f), -ENOTSUP);
    assert_non_null(strstr(f->err, "snapshot.compression.method=snappy"));
    assert_non_null(strstr(f->err, "cannot write snappy snapshots"));
    /* Any case, as ZooKeeper compares it. */
    fake_config_set("snapshot.compression.method", "GZ");
    open_store(f);
    struct restored r = {0};
    restore(f, &r);
    size_t len;
    uint8_t *body = zk_empty_snapshot(&len);
    take_snapshot(f, 1, body, len);
    char path[160];
    snprintf(path, sizeof path, "%s/snapshot.1.gz", f->vdir);
    assert_true(exists(path));
    /* An unknown method means no compression (SnapStream's fallback). */
    close_store(f);
    fake_config_set("snapshot.compression.method", "lz4");
    open_store(f);
    restore(f, &r);
    take_snapshot(f, 2, body, len);
    snprintf(path, sizeof path, "%s/snapshot.2", f->vdir);
    assert_true(exists(path));
    restored_free(&r);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_commit_then_restore_offers_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gz_snapshot_is_byte_identical_to_zookeeper, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restores_a_zookeeper_plain_datadir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restores_a_zookeeper_gz_datadir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restores_a_zookeeper_snappy_datadir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_newest_snapshot_falls_back_to_an_older_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_replays_only_txns_after_the_snapshot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_temporary_files_never_carry_the_final_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_written_in_a_forked_child, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_purge_keeps_three_snapshots_and_the_logs_they_need,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compression_method_gz_any_case_snappy_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
