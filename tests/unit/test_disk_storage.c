/*
 * disk storage tests: the built disk.so (ZKPLUG_PLUGIN_DIR) loaded through
 * plugin_load and driven on a real loop, the way the server drives it, with
 * real files in a fresh temporary dataDir per test. Covers the ZooKeeper
 * byte format, group commit, forceSync=no, torn and zero-filled tails,
 * corruption refusing start-up, rolling, truncate, read_log, and replaying a
 * log written by ZooKeeper 3.8.0 (tests/unit/data/zk-3.8.0-log.bin).
 *
 * A loop runs at most once (loop_run returns at once after loop_stop), so
 * every "restart" unloads the plugin and loads it again on a new loop.
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
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fake_config.h"
#include "loop.h"
#include "plugin_loader.h"
#include "registry.h"

struct fixture {
    char dir[64];      /* dataDir */
    char log_dir[96];  /* dataDir/version-2 */
    loop *loop;
    struct plugin_instance *plugin;
    const struct zkp_storage_ops *ops;
    void *st;
    char err[512];
};

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */

static void stop_cb(void *arg) { loop_stop(arg); }

static void open_store(struct fixture *f)
{
    f->loop = loop_new();
    assert_non_null(f->loop);
    int rc = plugin_load(ZKPLUG_PLUGIN_DIR, "disk", ZKP_KIND_STORAGE, f->loop, FAKE_CONFIG,
                         &f->plugin, f->err, sizeof f->err);
    if (rc != 0)
        fail_msg("load: %s", f->err);
    if (plugin_start(f->plugin, f->err, sizeof f->err) != 0)
        fail_msg("start: %s", f->err);
    f->ops = plugin_ops(f->plugin);
    f->st = f->plugin->state;
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
    strcpy(f->dir, "/tmp/zkplug-disk-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log_dir, sizeof f->log_dir, "%s/version-2", f->dir);
    fake_config_reset();
    fake_config_set("dataDir", f->dir);
    fake_config_set("preAllocSize", "1"); /* 1 KiB steps keep test files small */
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

/* A txn as the core logs it: TxnHeader{clientId, cxid, zxid, time, type=5}
 * followed by tag-dependent filler. Returns its length. */
static size_t make_txn(uint8_t *buf, int64_t zxid, int tag)
{
    put64(buf, 0x100000f7fb00000ull);
    put32(buf + 8, (uint32_t)zxid);
    put64(buf + 12, (uint64_t)zxid);
    put64(buf + 20, 1700000000000ull + (uint64_t)zxid);
    put32(buf + 28, 5);
    size_t extra = (size_t)(zxid % 7) * 3 + (size_t)tag;
    for (size_t i = 0; i < extra; i++)
        buf[32 + i] = (uint8_t)(zxid * 31 + tag + (int64_t)i);
    return 32 + extra;
}

static void append(struct fixture *f, int64_t zxid, int tag)
{
    uint8_t txn[256];
    size_t len = make_txn(txn, zxid, tag);
    if (f->ops->append(f->st, zxid, txn, len, f->err, sizeof f->err) != 0)
        fail_msg("append 0x%" PRIx64 ": %s", zxid, f->err);
}

static int64_t metric(const char *name)
{
    int64_t v = -1;
    assert_int_equal(metrics_get(name, &v), 0);
    return v;
}

/* Sync callbacks: each records its order of arrival. */
struct syncs {
    struct fixture *f;
    int calls;
    int expect; /* stop the loop when calls reaches it */
    int order[64];
    int status[64];
    int64_t zxid[64];
};

struct sync_req {
    struct syncs *s;
    int id;
};

static void on_sync(void *arg, int status, int64_t zxid)
{
    struct sync_req *r = arg;
    struct syncs *s = r->s;
    assert_true(s->calls < 64);
    s->order[s->calls] = r->id;
    s->status[r->id] = status;
    s->zxid[r->id] = zxid;
    s->calls++;
    if (s->calls == s->expect)
        loop_stop(s->f->loop);
}

static void run_until_done(struct fixture *f, struct syncs *s, int expect)
{
    s->expect = expect;
    if (s->calls >= expect)
        return;
    assert_true(loop_timer_start(f->loop, 10000, stop_cb, f->loop) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    assert_int_equal(s->calls, expect);
}

/* Append zxids [from, to] and wait until they are durable. */
static void append_synced(struct fixture *f, int64_t from, int64_t to, int tag)
{
    for (int64_t z = from; z <= to; z++)
        append(f, z, tag);
    struct syncs s = {.f = f};
    struct sync_req r = {&s, 0};
    assert_int_equal(f->ops->sync(f->st, on_sync, &r), 0);
    run_until_done(f, &s, 1);
    assert_int_equal(s.status[0], 0);
    assert_int_equal(s.zxid[0], to);
}

/* Restore sink that keeps copies. */
struct restored {
    int n;
    int64_t zxids[256];
    size_t lens[256];
    uint8_t txns[256][256];
};

static int sink_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct restored *r = arg;
    assert_true(r->n < 256 && len <= 256);
    r->zxids[r->n] = zxid;
    r->lens[r->n] = len;
    memcpy(r->txns[r->n], txn, len);
    r->n++;
    return 0;
}

static const struct zkp_restore_sink sink = {sizeof sink, NULL, sink_txn};

static int restore_rc(struct fixture *f, struct restored *r, int64_t *last)
{
    memset(r, 0, sizeof *r);
    *last = -1;
    return f->ops->restore(f->st, &sink, r, last, f->err, sizeof f->err);
}

static int64_t restore(struct fixture *f, struct restored *r)
{
    int64_t last;
    if (restore_rc(f, r, &last) != 0)
        fail_msg("restore: %s", f->err);
    return last;
}

/* The restored entries are exactly zxids from..to made with tag. */
static void assert_restored(const struct restored *r, int first_index, int64_t from, int64_t to,
                            int tag)
{
    for (int64_t z = from; z <= to; z++) {
        int i = first_index + (int)(z - from);
        uint8_t want[256];
        size_t len = make_txn(want, z, tag);
        assert_true(i < r->n);
        assert_int_equal(r->zxids[i], z);
        assert_int_equal(r->lens[i], len);
        assert_memory_equal(r->txns[i], want, len);
    }
}

static void log_path(const struct fixture *f, int64_t zxid, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/log.%" PRIx64, f->log_dir, zxid);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
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

static off_t file_size(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    return sb.st_size;
}

/* Offsets of the entries of a log file (header at 0, entries from 16). */
static int entry_offsets(const uint8_t *b, size_t len, size_t *offs, int max)
{
    int n = 0;
    size_t off = 16;
    while (off + 12 <= len && n < max) {
        uint32_t l = get32(b + off + 8);
        if (l == 0)
            break;
        offs[n++] = off;
        off += 13 + l;
    }
    offs[n] = off;
    return n;
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */

static void test_file_format_matches_zookeeper(void **state)
{
    struct fixture *f = *state;
    fake_config_set("preAllocSize", NULL); /* ZooKeeper's default: 64 MiB steps */
    open_store(f);
    struct restored r;
    assert_int_equal(restore(f, &r), 0);
    append_synced(f, 1, 2, 0);
    close_store(f);

    char path[160];
    log_path(f, 1, path, sizeof path);
    assert_int_equal(file_size(path), 16 + 64 * 1024 * 1024);
    size_t len;
    uint8_t *b = read_file(path, &len);
    static const uint8_t header[16] = {0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(b, header, 16);
    uint8_t txn[256];
    size_t tl = make_txn(txn, 1, 0);
    assert_int_equal(get64(b + 16), adler32(adler32(0, NULL, 0), txn, (uInt)tl));
    assert_int_equal(get32(b + 24), tl);
    assert_memory_equal(b + 28, txn, tl);
    assert_int_equal(b[28 + tl], 'B');
    size_t second = 28 + tl + 1;
    size_t tl2 = make_txn(txn, 2, 0);
    assert_int_equal(get32(b + second + 8), tl2);
    assert_int_equal(b[second + 12 + tl2], 'B');
    /* After the last entry: the zero padding that ends the log. */
    for (size_t i = second + 13 + tl2; i < second + 13 + tl2 + 4096; i++)
        assert_int_equal(b[i], 0);
    free(b);
}

static void test_round_trip_across_restart(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r;
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(r.n, 0);
    append_synced(f, 1, 5, 0);
    assert_int_equal(metric("disk_txns_logged"), 5);
    assert_true(metric("disk_fsync_count") >= 1);

    reopen_store(f);
    assert_int_equal(restore(f, &r), 5);
    assert_int_equal(r.n, 5);
    assert_restored(&r, 0, 1, 5, 0);
    /* Appends continue in the same file after a restart. */
    append_synced(f, 6, 7, 1);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 7);
    assert_restored(&r, 0, 1, 5, 0);
    assert_restored(&r, 5, 6, 7, 1);
    char path[160];
    log_path(f, 6, path, sizeof path);
    assert_int_equal(file_size(path), -1);
}

static void test_append_rejects_bad_zxids(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    append(f, 3, 0);
    uint8_t txn[256];
    size_t len = make_txn(txn, 3, 0);
    assert_int_equal(f->ops->append(f->st, 3, txn, len, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "append: zxid 0x3 is not above the last logged 0x3");
    len = make_txn(txn, 4, 0);
    assert_int_equal(f->ops->append(f->st, 5, txn, len, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "append: zxid 0x5 but the TxnHeader says 0x4");
    assert_int_equal(f->ops->append(f->st, 5, txn, 10, f->err, sizeof f->err), -EINVAL);
    assert_int_equal(f->ops->sync(f->st, NULL, NULL), -EINVAL);
}

static void test_many_appends_one_sync_one_fsync(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r;
    restore(f, &r);
    struct syncs s = {.f = f};
    struct sync_req a = {&s, 0}, b = {&s, 1}, c = {&s, 2};
    for (int z = 1; z <= 50; z++)
        append(f, z, 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &a), 0);
    for (int z = 51; z <= 100; z++)
        append(f, z, 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &b), 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &c), 0);
    assert_int_equal(s.calls, 0); /* never from inside sync */
    run_until_done(f, &s, 3);
    /* One loop iteration, one fsync for all three requests. */
    assert_int_equal(metric("disk_fsync_count"), 1);
    assert_int_equal(metric("disk_sync_requests"), 3);
    assert_int_equal(s.order[0], 0);
    assert_int_equal(s.order[1], 1);
    assert_int_equal(s.order[2], 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.status[i], 0);
        assert_int_equal(s.zxid[i], 100);
    }
}

/* Syncs requested from a timer while the first fsync (of ~8 MiB) runs. */
struct during {
    struct fixture *f;
    struct syncs *s;
    struct sync_req *reqs;
    int64_t next_zxid;
};

static void during_tick(void *arg)
{
    struct during *d = arg;
    append(d->f, d->next_zxid++, 2);
    assert_int_equal(d->f->ops->sync(d->f->st, on_sync, &d->reqs[1]), 0);
    append(d->f, d->next_zxid++, 2);
    assert_int_equal(d->f->ops->sync(d->f->st, on_sync, &d->reqs[2]), 0);
}

static void test_sync_during_sync_delivers_each_callback_once_in_order(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r;
    restore(f, &r);
    /* Big entries so that the first fsync takes a while. */
    uint8_t big[64 * 1024];
    int64_t z = 1;
    for (; z <= 128; z++) {
        memset(big, (int)z, sizeof big);
        size_t len = make_txn(big, z, 0);
        (void)len;
        assert_int_equal(f->ops->append(f->st, z, big, sizeof big, f->err, sizeof f->err), 0);
    }
    struct syncs s = {.f = f};
    struct sync_req reqs[3] = {{&s, 0}, {&s, 1}, {&s, 2}};
    assert_int_equal(f->ops->sync(f->st, on_sync, &reqs[0]), 0);
    struct during d = {f, &s, reqs, z};
    assert_true(loop_timer_start(f->loop, 1, during_tick, &d) > 0);
    run_until_done(f, &s, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.order[i], i);
        assert_int_equal(s.status[i], 0);
    }
    assert_true(s.zxid[0] >= 128);
    assert_int_equal(s.zxid[1], 131 - 1);
    assert_int_equal(s.zxid[2], 130);
    /* The two later requests share one round (with the first one too when
     * the thread had not woken up before they came). */
    int64_t fsyncs = metric("disk_fsync_count");
    assert_true(fsyncs == 1 || fsyncs == 2);
    assert_int_equal(metric("disk_sync_requests"), 3);
}

static void test_force_sync_no_posts_without_fsync(void **state)
{
    struct fixture *f = *state;
    fake_config_set("forceSync", "no");
    open_store(f);
    struct restored r;
    restore(f, &r);
    struct syncs s = {.f = f};
    struct sync_req a = {&s, 0}, b = {&s, 1};
    append(f, 1, 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &a), 0);
    append(f, 2, 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &b), 0);
    assert_int_equal(s.calls, 0);
    run_until_done(f, &s, 2);
    assert_int_equal(s.order[0], 0);
    assert_int_equal(s.zxid[0], 1);
    assert_int_equal(s.zxid[1], 2);
    assert_int_equal(metric("disk_fsync_count"), 0);
    /* The entries were still written. */
    reopen_store(f);
    assert_int_equal(restore(f, &r), 2);
}

static void test_sync_pending_at_stop_never_calls_back(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    struct restored r;
    restore(f, &r);
    struct syncs s = {.f = f};
    struct sync_req a = {&s, 0};
    append(f, 1, 0);
    assert_int_equal(f->ops->sync(f->st, on_sync, &a), 0);
    plugin_unload(f->plugin);
    f->plugin = NULL;
    assert_true(loop_timer_start(f->loop, 20, stop_cb, f->loop) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    assert_int_equal(s.calls, 0);
    metrics_clear();
    loop_free(f->loop);
    /* stop still made the entry durable and readable. */
    open_store(f);
    assert_int_equal(restore(f, &r), 1);
}

/* Writes entries 1..3 and returns the file's bytes and entry offsets. */
static uint8_t *three_entries(struct fixture *f, size_t *len, size_t offs[4])
{
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 1, 3, 0);
    close_store(f);
    char path[160];
    log_path(f, 1, path, sizeof path);
    uint8_t *b = read_file(path, len);
    assert_int_equal(entry_offsets(b, *len, offs, 3), 3);
    return b;
}

static void test_torn_tail_at_every_offset_keeps_complete_entries(void **state)
{
    struct fixture *f = *state;
    size_t len, offs[4];
    uint8_t *orig = three_entries(f, &len, offs);
    char path[160];
    log_path(f, 1, path, sizeof path);
    uint8_t *img = malloc(len);
    assert_non_null(img);
    /* Cut inside the last entry (and right before it), both as a short file
     * and as a file whose rest is zero-filled preallocation. */
    for (size_t cut = offs[2]; cut < offs[3]; cut++) {
        for (int zero_fill = 0; zero_fill < 2; zero_fill++) {
            memcpy(img, orig, cut);
            memset(img + cut, 0, len - cut);
            write_file(path, img, zero_fill ? len : cut);
            open_store(f);
            struct restored r;
            if (restore(f, &r) != 2)
                fail_msg("cut at %zu (zero_fill %d): restore did not stop at zxid 2", cut,
                         zero_fill);
            assert_int_equal(r.n, 2);
            assert_restored(&r, 0, 1, 2, 0);
            /* New entries continue where the log ended. */
            append_synced(f, 3, 4, 7);
            reopen_store(f);
            assert_int_equal(restore(f, &r), 4);
            assert_restored(&r, 0, 1, 2, 0);
            assert_restored(&r, 2, 3, 4, 7);
            close_store(f);
            size_t nlen;
            uint8_t *now = read_file(path, &nlen);
            size_t noffs[5];
            assert_int_equal(entry_offsets(now, nlen, noffs, 4), 4);
            assert_int_equal(noffs[2], offs[2]);
            free(now);
        }
    }
    free(img);
    free(orig);
}

static void test_last_file_without_entries_is_replaced(void **state)
{
    struct fixture *f = *state;
    char path[160];
    assert_int_equal(mkdir(f->log_dir, 0755), 0);
    /* A crash right after creating log.1: a torn header. */
    log_path(f, 1, path, sizeof path);
    static const uint8_t torn[7] = {0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0};
    write_file(path, torn, sizeof torn);
    open_store(f);
    struct restored r;
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(file_size(path), -1);
    append_synced(f, 5, 6, 0);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 6);
    assert_restored(&r, 0, 5, 6, 0);
    log_path(f, 5, path, sizeof path);
    assert_true(file_size(path) > 0);
}

static void test_corrupt_checksum_in_the_middle_refuses_start_up(void **state)
{
    struct fixture *f = *state;
    size_t len, offs[4];
    uint8_t *b = three_entries(f, &len, offs);
    char path[160];
    log_path(f, 1, path, sizeof path);
    b[offs[1] + 12 + 20] ^= 0x40; /* a payload byte of entry 2 */
    write_file(path, b, len);
    open_store(f);
    struct restored r;
    int64_t last;
    assert_int_equal(restore_rc(f, &r, &last), -EBADMSG);
    char want[300];
    snprintf(want, sizeof want, "%s offset %zu: checksum mismatch", path, offs[1]);
    if (strstr(f->err, want) == NULL)
        fail_msg("unexpected error: %s", f->err);
    snprintf(want, sizeof want, "follows at offset %zu", offs[2]);
    assert_non_null(strstr(f->err, want));
    /* Appending does not paper over it either. */
    uint8_t txn[256];
    size_t tl = make_txn(txn, 9, 0);
    assert_int_equal(f->ops->append(f->st, 9, txn, tl, f->err, sizeof f->err), -EBADMSG);
    close_store(f);
    /* The file was not modified. */
    size_t nlen;
    uint8_t *now = read_file(path, &nlen);
    assert_int_equal(nlen, len);
    assert_memory_equal(now, b, len);
    free(now);
    free(b);
}

static void test_damage_in_an_earlier_file_refuses_start_up(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "2"); /* roll after every second entry */
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 1, 6, 0); /* log.1 (1, 2), log.3 (3, 4), log.5 (5, 6) */
    close_store(f);
    char path[160];
    log_path(f, 3, path, sizeof path);
    size_t len;
    uint8_t *b = read_file(path, &len);
    size_t offs[3];
    assert_int_equal(entry_offsets(b, len, offs, 2), 2);
    /* A torn tail, but log.5 follows: log.3 is not the last file. */
    memset(b + offs[1] + 20, 0, offs[2] - offs[1] - 20);
    write_file(path, b, len);
    free(b);
    open_store(f);
    int64_t last;
    assert_int_equal(restore_rc(f, &r, &last), -EBADMSG);
    char want[300];
    snprintf(want, sizeof want, "%s offset %zu: ", path, offs[1]);
    if (strstr(f->err, want) == NULL || strstr(f->err, "not the last one") == NULL)
        fail_msg("unexpected error: %s", f->err);
}

static int count_logs(const struct fixture *f, int64_t *names, int max)
{
    DIR *d = opendir(f->log_dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "log.", 4) == 0 && n < max)
            names[n++] = (int64_t)strtoll(e->d_name + 4, NULL, 16);
    closedir(d);
    return n;
}

static void test_rolls_to_new_files_and_restores_across_them(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "4"); /* roll after 3 or 4 entries */
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 1, 20, 0);
    int64_t names[16];
    int n = count_logs(f, names, 16);
    assert_true(n >= 5 && n <= 7);
    assert_int_equal(metric("disk_log_files_created"), n);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 20);
    assert_restored(&r, 0, 1, 20, 0);
    /* Each file is named after its first entry. */
    for (int i = 0; i < n; i++) {
        char path[160];
        log_path(f, names[i], path, sizeof path);
        size_t len;
        uint8_t *b = read_file(path, &len);
        assert_int_equal(get64(b + 16 + 12 + 12), names[i]);
        free(b);
    }
}

static int collect(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct restored *r = arg;
    sink_txn(r, zxid, txn, len);
    return r->n == 3 && r->zxids[0] == 11; /* the stop test below */
}

static void test_truncate_drops_later_entries_and_files(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "4");
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 1, 12, 0);
    reopen_store(f); /* a loop runs once: a new one for the next wait */
    assert_int_equal(restore(f, &r), 12);
    int64_t names[16];
    int before = count_logs(f, names, 16);
    assert_int_equal(f->ops->truncate(f->st, 5, f->err, sizeof f->err), 0);
    int after = count_logs(f, names, 16);
    assert_true(after < before);
    for (int i = 0; i < after; i++)
        assert_true(names[i] <= 5);
    assert_int_equal(restore(f, &r), 5);
    assert_restored(&r, 0, 1, 5, 0);
    /* The log goes on from the truncation point, also after a restart. */
    append_synced(f, 6, 8, 3);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 8);
    assert_restored(&r, 0, 1, 5, 0);
    assert_restored(&r, 5, 6, 8, 3);
    assert_int_equal(f->ops->truncate(f->st, 0, f->err, sizeof f->err), 0);
    assert_int_equal(count_logs(f, names, 16), 0);
    assert_int_equal(restore(f, &r), 0);
}

static void test_read_log_from_a_zxid(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "4");
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 10, 20, 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 14, collect, &r), 0);
    assert_int_equal(r.n, 6);
    assert_restored(&r, 0, 15, 20, 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 9, collect, &r), 0);
    assert_int_equal(r.n, 11);
    /* Older than the log reaches. */
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 8, collect, &r), -ENOENT);
    assert_int_equal(r.n, 0);
    /* The callback stops the walk. */
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 10, collect, &r), 0);
    assert_int_equal(r.n, 3);
    /* Unsynced appends are visible too. */
    append(f, 21, 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 20, collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.zxids[0], 21);
}

static void test_restores_a_log_written_by_zookeeper(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->log_dir, 0755), 0);
    size_t len;
    uint8_t *zk = read_file(DISK_TEST_DATA "/zk-3.8.0-log.bin", &len);
    assert_int_equal(len, 5136);
    char path[160];
    log_path(f, 1, path, sizeof path);
    write_file(path, zk, len);
    open_store(f);
    struct restored r;
    assert_int_equal(restore(f, &r), 8);
    assert_int_equal(r.n, 8);
    /* createSession, create /a, setData /a, create /a/b (ephemeral), multi,
     * error (create of an existing node), delete /m1, closeSession. */
    static const size_t lens[8] = {48, 91, 63, 88, 123, 36, 51, 56};
    static const int32_t types[8] = {-10, 1, 5, 1, 14, -1, 2, -11};
    size_t off = 16;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r.zxids[i], i + 1);
        assert_int_equal(r.lens[i], lens[i]);
        assert_int_equal((int32_t)get32(r.txns[i] + 28), types[i]);
        assert_memory_equal(r.txns[i], zk + off + 12, lens[i]);
        off += 13 + lens[i];
    }
    assert_memory_equal(r.txns[1] + 36, "/a", 2);
    /* Our entries follow ZooKeeper's in the same file. */
    append_synced(f, 9, 9, 0);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 9);
    assert_restored(&r, 8, 9, 9, 0);
    close_store(f);
    size_t nlen;
    uint8_t *now = read_file(path, &nlen);
    assert_memory_equal(now, zk, off);
    free(now);
    free(zk);
}

static void test_purge_without_snapshots_keeps_every_log(void **state)
{
    struct fixture *f = *state;
    fake_config_set("snapCount", "2"); /* a new file every second entry */
    open_store(f);
    struct restored r;
    restore(f, &r);
    append_synced(f, 1, 6, 0);
    int64_t names[8];
    assert_int_equal(count_logs(f, names, 8), 3);
    /* Without a snapshot every log is the database: nothing goes, whatever
     * the count (below 3 counts as 3, as ZooKeeper's autopurge does). */
    assert_int_equal(f->ops->purge(f->st, 3, f->err, sizeof f->err), 0);
    assert_int_equal(f->ops->purge(f->st, 0, f->err, sizeof f->err), 0);
    assert_int_equal(count_logs(f, names, 8), 3);
    reopen_store(f);
    assert_int_equal(restore(f, &r), 6);
    assert_restored(&r, 0, 1, 6, 0);
}

static void test_missing_data_dir_fails_init(void **state)
{
    struct fixture *f = *state;
    fake_config_set("dataDir", NULL);
    f->loop = loop_new();
    assert_int_equal(plugin_load(ZKPLUG_PLUGIN_DIR, "disk", ZKP_KIND_STORAGE, f->loop,
                                 FAKE_CONFIG, &f->plugin, f->err, sizeof f->err),
                     -EINVAL);
    assert_non_null(strstr(f->err, "dataDir is not set"));
    loop_free(f->loop);
    f->loop = NULL;
}

/* A burst: `depth` clients, each appends one txn and waits for its sync
 * before sending the next, for about a second. */
struct burst {
    struct fixture *f;
    int64_t next_zxid;
    int64_t acked;
    int64_t last_durable;
    int stopping;
    int outstanding;
};

static void burst_send(struct burst *b);

static void burst_done(void *arg, int status, int64_t zxid)
{
    struct burst *b = arg;
    assert_int_equal(status, 0);
    assert_true(zxid >= b->last_durable);
    b->last_durable = zxid;
    b->acked++;
    b->outstanding--;
    if (!b->stopping)
        burst_send(b);
    else if (b->outstanding == 0)
        loop_stop(b->f->loop);
}

static void burst_send(struct burst *b)
{
    append(b->f, b->next_zxid++, 1);
    b->outstanding++;
    assert_int_equal(b->f->ops->sync(b->f->st, burst_done, b), 0);
}

static void burst_stop(void *arg)
{
    struct burst *b = arg;
    b->stopping = 1;
}

static int count_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    int64_t *count = arg;
    return ++*count == zxid ? 0 : -EBADMSG;
}

static void test_burst_group_commit_figures(void **state)
{
    struct fixture *f = *state;
    fake_config_set("preAllocSize", NULL);
    open_store(f);
    struct restored r;
    restore(f, &r);
    struct burst b = {.f = f, .next_zxid = 1};
    for (int i = 0; i < 64; i++)
        burst_send(&b);
    assert_true(loop_timer_start(f->loop, 1000, burst_stop, &b) > 0);
    assert_true(loop_timer_start(f->loop, 20000, stop_cb, f->loop) > 0);
    uint64_t t0 = loop_now_ms();
    assert_int_equal(loop_run(f->loop), 0);
    uint64_t ms = loop_now_ms() - t0;
    assert_int_equal(b.outstanding, 0);
    int64_t fsyncs = metric("disk_fsync_count");
    assert_int_equal(b.acked, b.next_zxid - 1);
    assert_true(fsyncs > 0);
    /* 64 clients waiting on one disk must share fsyncs. */
    assert_true(b.acked > fsyncs);
    print_message("burst: 64 clients, %" PRId64 " appends in %" PRIu64 " ms, %" PRId64
                  " fsyncs (%.0f fsyncs/s, %.1f appends per fsync, mean fsync %.0f us)\n",
                  b.acked, ms, fsyncs, fsyncs * 1000.0 / (double)(ms ? ms : 1),
                  (double)b.acked / (double)fsyncs,
                  (double)metric("disk_fsync_total_us") / (double)fsyncs);
    reopen_store(f);
    int64_t count = 0, last = -1;
    const struct zkp_restore_sink counting = {sizeof counting, NULL, count_txn};
    assert_int_equal(f->ops->restore(f->st, &counting, &count, &last, f->err, sizeof f->err), 0);
    assert_int_equal(last, b.acked);
    assert_int_equal(count, b.acked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_format_matches_zookeeper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_rejects_bad_zxids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_appends_one_sync_one_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_during_sync_delivers_each_callback_once_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_sync_no_posts_without_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_pending_at_stop_never_calls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_at_every_offset_keeps_complete_entries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_file_without_entries_is_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_checksum_in_the_middle_refuses_start_up,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_in_an_earlier_file_refuses_start_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rolls_to_new_files_and_restores_across_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncate_drops_later_entries_and_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_log_from_a_zxid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restores_a_log_written_by_zookeeper, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_purge_without_snapshots_keeps_every_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_data_dir_fails_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_group_commit_figures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
