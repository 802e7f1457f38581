/*
 * mem storage tests: the built mem.so (ZKPLUG_PLUGIN_DIR) loaded through
 * plugin_load on a real loop. Covers append ordering, sync completing through
 * a post (never synchronously), snapshots, restore, truncate, purge and
 * read_log, and that a store lives on for its dataDir after an unload.
 *
 * Each test uses its own dataDir (fake config key), since mem keeps one store
 * per dataDir for the life of the process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_config.h"
#include "loop.h"
#include "plugin_loader.h"
#include "registry.h"

struct fixture {
    loop *loop;
    struct plugin_instance *plugin;
    const struct zkp_storage_ops *ops;
    void *st;
    char err[512];
};

static int test_counter;

static void stop_cb(void *arg) { loop_stop(arg); }

/* Runs the loop for about ms. loop_run returns at once once the loop has
 * been stopped, so each test runs it at most once (teardown's call drains
 * posts only when the test did not run it). */
static void run_loop(loop *l, uint64_t ms)
{
    assert_true(loop_timer_start(l, ms, stop_cb, l) > 0);
    assert_int_equal(loop_run(l), 0);
}

static void load(struct fixture *f)
{
    int rc = plugin_load(ZKPLUG_PLUGIN_DIR, "mem", ZKP_KIND_STORAGE, f->loop, FAKE_CONFIG,
                         &f->plugin, f->err, sizeof f->err);
    if (rc != 0)
        fail_msg("load: %s", f->err);
    assert_int_equal(plugin_start(f->plugin, f->err, sizeof f->err), 0);
    f->ops = plugin_ops(f->plugin);
    f->st = f->plugin->state;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->loop = loop_new();
    assert_non_null(f->loop);
    fake_config_reset();
    char dir[64];
    snprintf(dir, sizeof dir, "/mem-test/%d", ++test_counter);
    fake_config_set("dataDir", dir);
    load(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    plugin_unload(f->plugin);
    run_loop(f->loop, 1);
    loop_free(f->loop);
    metrics_clear();
    fake_config_reset();
    free(f);
    return 0;
}

/* Restore sink that records what it is given. */
struct restored {
    int snapshots;
    int64_t snap_zxid;
    char body[256];
    size_t body_len;
    int64_t zxids[64];
    char txns[64][32];
    int ntxns;
    int refuse_txn;
};

static int sink_snapshot(void *arg, int64_t zxid, const uint8_t *body, size_t len)
{
    struct restored *r = arg;
    r->snapshots++;
    r->snap_zxid = zxid;
    assert_true(len < sizeof r->body);
    memcpy(r->body, body, len);
    r->body_len = len;
    return 0;
}

static int sink_txn(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct restored *r = arg;
    if (r->refuse_txn)
        return -EBADMSG;
    assert_true(r->ntxns < 64 && len < 32);
    r->zxids[r->ntxns] = zxid;
    memcpy(r->txns[r->ntxns], txn, len);
    r->txns[r->ntxns][len] = '\0';
    r->ntxns++;
    return 0;
}

static const struct zkp_restore_sink sink = {sizeof sink, sink_snapshot, sink_txn};

static int64_t restore(struct fixture *f, struct restored *r)
{
    memset(r, 0, sizeof *r);
    int64_t last = -1;
    assert_int_equal(f->ops->restore(f->st, &sink, r, &last, f->err, sizeof f->err), 0);
    return last;
}

static void append(struct fixture *f, int64_t zxid)
{
    char txn[32];
    int n = snprintf(txn, sizeof txn, "txn-%lld", (long long)zxid);
    int rc = f->ops->append(f->st, zxid, (const uint8_t *)txn, (size_t)n, f->err, sizeof f->err);
    if (rc != 0)
        fail_msg("append %lld: %s", (long long)zxid, f->err);
}

static void snapshot(struct fixture *f, int64_t zxid, const char *body)
{
    zkp_snapshot_writer *w = NULL;
    assert_int_equal(f->ops->snapshot_open(f->st, zxid, &w, f->err, sizeof f->err), 0);
    /* In two pieces, as the core streams it. */
    size_t half = strlen(body) / 2;
    assert_int_equal(f->ops->snapshot_write(w, body, half), 0);
    assert_int_equal(f->ops->snapshot_write(w, body + half, strlen(body) - half), 0);
    assert_int_equal(f->ops->snapshot_commit(w, f->err, sizeof f->err), 0);
}

static void test_empty_store_restores_nothing(void **state)
{
    struct fixture *f = *state;
    struct restored r;
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(r.snapshots, 0);
    assert_int_equal(r.ntxns, 0);
}

static void test_append_keeps_order_and_rejects_old_zxids(void **state)
{
    struct fixture *f = *state;
    append(f, 1);
    append(f, 2);
    append(f, 5);
    assert_int_equal(f->ops->append(f->st, 5, (const uint8_t *)"x", 1, f->err, sizeof f->err),
                     -EINVAL);
    assert_string_equal(f->err, "append: zxid 0x5 is not above the last logged 0x5");
    assert_int_equal(f->ops->append(f->st, 3, (const uint8_t *)"x", 1, f->err, sizeof f->err),
                     -EINVAL);
    struct restored r;
    assert_int_equal(restore(f, &r), 5);
    assert_int_equal(r.ntxns, 3);
    assert_int_equal(r.zxids[0], 1);
    assert_int_equal(r.zxids[2], 5);
    assert_string_equal(r.txns[1], "txn-2");
    int64_t v;
    assert_int_equal(metrics_get("mem_log_txns", &v), 0);
    assert_int_equal(v, 3);
}

struct sync_seen {
    int calls;
    int status;
    int64_t zxid;
};

static void on_sync(void *arg, int status, int64_t zxid)
{
    struct sync_seen *s = arg;
    s->calls++;
    s->status = status;
    s->zxid = zxid;
}

static void test_sync_completes_later_through_the_loop(void **state)
{
    struct fixture *f = *state;
    struct sync_seen a = {0}, b = {0};
    append(f, 1);
    append(f, 2);
    assert_int_equal(f->ops->sync(f->st, on_sync, &a), 0);
    append(f, 3);
    assert_int_equal(f->ops->sync(f->st, on_sync, &b), 0);
    assert_int_equal(a.calls, 0); /* never from inside sync */
    assert_int_equal(b.calls, 0);
    run_loop(f->loop, 5);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.zxid, 2);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.zxid, 3);
    /* A sync without a callback is refused and posts nothing. */
    assert_int_equal(f->ops->sync(f->st, NULL, NULL), -EINVAL);
}

static void test_sync_pending_at_unload_never_calls_back(void **state)
{
    struct fixture *f = *state;
    struct sync_seen a = {0};
    append(f, 1);
    assert_int_equal(f->ops->sync(f->st, on_sync, &a), 0);
    plugin_unload(f->plugin);
    f->plugin = NULL;
    run_loop(f->loop, 5);
    assert_int_equal(a.calls, 0);
}

static void test_restore_gives_newest_snapshot_then_later_txns(void **state)
{
    struct fixture *f = *state;
    append(f, 1);
    append(f, 2);
    snapshot(f, 1, "old tree");
    snapshot(f, 2, "tree as of zxid 2");
    append(f, 3);
    append(f, 4);
    /* An aborted snapshot leaves nothing. */
    zkp_snapshot_writer *w = NULL;
    assert_int_equal(f->ops->snapshot_open(f->st, 4, &w, f->err, sizeof f->err), 0);
    assert_int_equal(f->ops->snapshot_write(w, "partial", 7), 0);
    f->ops->snapshot_abort(w);

    struct restored r;
    assert_int_equal(restore(f, &r), 4);
    assert_int_equal(r.snapshots, 1);
    assert_int_equal(r.snap_zxid, 2);
    assert_int_equal(r.body_len, strlen("tree as of zxid 2"));
    assert_memory_equal(r.body, "tree as of zxid 2", r.body_len);
    assert_int_equal(r.ntxns, 2);
    assert_int_equal(r.zxids[0], 3);
    assert_int_equal(r.zxids[1], 4);

    /* A sink that refuses stops the restore with a message. */
    memset(&r, 0, sizeof r);
    r.refuse_txn = 1;
    int64_t last;
    assert_int_equal(f->ops->restore(f->st, &sink, &r, &last, f->err, sizeof f->err), -EBADMSG);
    assert_non_null(strstr(f->err, "restore: txn 0x3 refused"));
}

static void test_truncate_drops_later_txns_and_snapshots(void **state)
{
    struct fixture *f = *state;
    for (int z = 1; z <= 5; z++)
        append(f, z);
    snapshot(f, 4, "four");
    assert_int_equal(f->ops->truncate(f->st, 2, f->err, sizeof f->err), 0);
    struct restored r;
    assert_int_equal(restore(f, &r), 2);
    assert_int_equal(r.snapshots, 0);
    assert_int_equal(r.ntxns, 2);
    /* The log continues right after the truncation point. */
    append(f, 3);
    assert_int_equal(restore(f, &r), 3);
    assert_string_equal(r.txns[2], "txn-3");
}

static int collect(void *arg, int64_t zxid, const uint8_t *txn, size_t len)
{
    struct restored *r = arg;
    r->zxids[r->ntxns++] = zxid;
    return r->ntxns == r->refuse_txn; /* stop after refuse_txn entries */
}

static void test_purge_and_read_log(void **state)
{
    struct fixture *f = *state;
    for (int z = 1; z <= 7; z++) {
        append(f, z);
        if (z % 2 == 0)
            snapshot(f, z, "tree");
    }
    struct restored r = {0};
    assert_int_equal(f->ops->read_log(f->st, 0, collect, &r), 0);
    assert_int_equal(r.ntxns, 7);

    assert_int_equal(f->ops->purge(f->st, 0, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "purge: must retain at least 1 snapshot, asked for 0");
    /* Snapshots at 2, 4, 6: keeping two drops snapshot 2 and txns <= 4. */
    assert_int_equal(f->ops->purge(f->st, 2, f->err, sizeof f->err), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(f->ops->read_log(f->st, 3, collect, &r), -ENOENT);
    assert_int_equal(f->ops->read_log(f->st, 0, collect, &r), -ENOENT);
    assert_int_equal(r.ntxns, 0);
    assert_int_equal(f->ops->read_log(f->st, 4, collect, &r), 0);
    assert_int_equal(r.ntxns, 3);
    assert_int_equal(r.zxids[0], 5);
    assert_int_equal(r.zxids[2], 7);
    /* The callback stops the walk. */
    memset(&r, 0, sizeof r);
    r.refuse_txn = 1;
    assert_int_equal(f->ops->read_log(f->st, 4, collect, &r), 0);
    assert_int_equal(r.ntxns, 1);
    /* Truncating below what purge dropped is refused. */
    assert_int_equal(f->ops->truncate(f->st, 3, f->err, sizeof f->err), -EINVAL);
    assert_non_null(strstr(f->err, "txns up to 0x4 were purged"));

    assert_int_equal(restore(f, &r), 7);
    assert_int_equal(r.snap_zxid, 6);
    assert_int_equal(r.ntxns, 1);
    int64_t v;
    assert_int_equal(metrics_get("mem_log_txns", &v), 0);
    assert_int_equal(v, 3);
}

static void test_store_outlives_unload_per_data_dir(void **state)
{
    struct fixture *f = *state;
    append(f, 1);
    snapshot(f, 1, "kept");
    append(f, 2);
    /* A second instance on the same dataDir is refused while the first runs. */
    struct plugin_instance *other = NULL;
    assert_int_equal(plugin_load(ZKPLUG_PLUGIN_DIR, "mem", ZKP_KIND_STORAGE, f->loop, FAKE_CONFIG,
                                 &other, f->err, sizeof f->err),
                     -EBUSY);
    assert_non_null(strstr(f->err, "init failed: dataDir '/mem-test/"));
    assert_non_null(strstr(f->err, "' is already used by another mem storage instance"));

    plugin_unload(f->plugin);
    load(f);
    struct restored r;
    assert_int_equal(restore(f, &r), 2);
    assert_int_equal(r.snapshots, 1);
    assert_memory_equal(r.body, "kept", 4);
    assert_int_equal(r.ntxns, 1);
    assert_int_equal(r.zxids[0], 2);

    /* Another dataDir is another, empty store. */
    plugin_unload(f->plugin);
    fake_config_set("dataDir", "/mem-test/elsewhere");
    load(f);
    assert_int_equal(restore(f, &r), 0);
    assert_int_equal(r.ntxns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_store_restores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_keeps_order_and_rejects_old_zxids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_completes_later_through_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_pending_at_unload_never_calls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_gives_newest_snapshot_then_later_txns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncate_drops_later_txns_and_snapshots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_purge_and_read_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_outlives_unload_per_data_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
