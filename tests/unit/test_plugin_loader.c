/*
 * Plugin loader tests: every refusal names the file and the reason, a good
 * plugin goes through init/start/stop/fini in order with working host
 * services, and nothing a plugin leaves queued (posts, timers, hooks, metrics)
 * reaches it after it is stopped or unloaded.
 *
 * The plugins come from tests/plugins (TEST_PLUGIN_DIR): test_plugin.c built
 * once per defect. The good plugin reports through metrics and its log lines,
 * which the tests read back through metrics_get and a captured log file.
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
#include <unistd.h>

#include "fake_config.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"
#include "registry.h"

struct fixture {
    loop *loop;
    char logpath[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->loop = loop_new();
    assert_non_null(f->loop);
    snprintf(f->logpath, sizeof f->logpath, "/tmp/zkplug-loader-%d.log", (int)getpid());
    unlink(f->logpath);
    assert_int_equal(log_open_file(f->logpath), 0);
    fake_config_reset();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    log_open_file(NULL);
    unlink(f->logpath);
    loop_free(f->loop);
    metrics_clear();
    fake_config_reset();
    free(f);
    return 0;
}

static void stop_cb(void *arg) { loop_stop(arg); }

/* Runs the loop for about ms milliseconds. */
static void run_loop(loop *l, uint64_t ms)
{
    assert_true(loop_timer_start(l, ms, stop_cb, l) > 0);
    assert_int_equal(loop_run(l), 0);
}

static int64_t metric(const char *name)
{
    int64_t v = -1;
    assert_int_equal(metrics_get(name, &v), 0);
    return v;
}

/* The captured log as one string (malloc'ed). */
static char *read_log(const struct fixture *f)
{
    FILE *fp = fopen(f->logpath, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_good_plugin_runs_lifecycle_in_order(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    fake_config_set("test.value", "42");
    int rc = plugin_load(TEST_PLUGIN_DIR, "good", ZKP_KIND_TRANSPORT, f->loop, FAKE_CONFIG, &p,
                         err, sizeof err);
    assert_int_equal(rc, 0);
    assert_non_null(p);
    assert_string_equal(p->desc->name, "good");
    assert_string_equal(p->path, TEST_PLUGIN_DIR "/good.so");
    assert_true(p->initialized);
    assert_false(p->started);
    assert_int_equal(metric("test_plugin_trace"), 1);
    assert_int_equal(metric("test_plugin_config"), 42);
    assert_ptr_equal(plugin_ops(p), p->desc->ops);

    assert_int_equal(plugin_start(p, err, sizeof err), 0);
    assert_true(p->started);
    assert_int_equal(metric("test_plugin_trace"), 12);
    /* Starting twice is a no-op, not a second start call. */
    assert_int_equal(plugin_start(p, err, sizeof err), 0);
    assert_int_equal(metric("test_plugin_trace"), 12);

    run_loop(f->loop, 30);
    assert_int_equal(metric("test_plugin_posts"), 1);
    assert_true(metric("test_plugin_hooks") >= 1);
    assert_int_equal(metric("test_plugin_timer"), 1);

    plugin_stop(p);
    assert_false(p->started);
    assert_int_equal(metric("test_plugin_trace"), 123);
    plugin_unload(p);

    /* The plugin's metrics pointed into its state: gone with it. */
    int64_t v;
    assert_int_equal(metrics_get("test_plugin_trace", &v), -ENOENT);
    assert_int_equal(metrics_get("test_plugin_posts", &v), -ENOENT);

    char *log = read_log(f);
    const char *init = strstr(log, "[good] lifecycle: init");
    const char *start = strstr(log, "[good] lifecycle: start");
    const char *stop = strstr(log, "[good] lifecycle: stop");
    const char *fini = strstr(log, "[good] lifecycle: fini");
    assert_non_null(init);
    assert_non_null(start);
    assert_non_null(stop);
    assert_non_null(fini);
    assert_true(init < start && start < stop && stop < fini);
    free(log);
}

static void test_null_config_reads_defaults(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "good", ZKP_KIND_TRANSPORT, f->loop, NULL, &p,
                                 err, sizeof err),
                     0);
    assert_int_equal(metric("test_plugin_config"), 7);
    plugin_unload(p);
}

static void test_post_queued_before_stop_is_dropped(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "good", ZKP_KIND_TRANSPORT, f->loop, NULL, &p,
                                 err, sizeof err),
                     0);
    assert_int_equal(plugin_start(p, err, sizeof err), 0);
    /* start posted a callback; the loop has not run it yet. */
    plugin_stop(p);
    run_loop(f->loop, 10);
    assert_int_equal(metric("test_plugin_posts"), 0);
    plugin_unload(p);
}

static void test_unload_disarms_posts_timers_and_hooks(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "good", ZKP_KIND_TRANSPORT, f->loop, NULL, &p,
                                 err, sizeof err),
                     0);
    assert_int_equal(plugin_start(p, err, sizeof err), 0);
    /* A post, a 1 ms timer, a one-hour timer and a hook are pending; each
     * would touch freed state (or unmapped code) if it ran now. */
    plugin_unload(p);
    run_loop(f->loop, 20);
    /* Loading again works and starts from fresh state. */
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "good", ZKP_KIND_TRANSPORT, f->loop, NULL, &p,
                                 err, sizeof err),
                     0);
    assert_int_equal(metric("test_plugin_trace"), 1);
    assert_int_equal(metric("test_plugin_posts"), 0);
    plugin_unload(p);
}

struct load_case {
    const char *name;
    enum zkp_kind kind;
    int rc;
    const char *reason; /* expected text after "PATH: " (prefix match) */
};

static void check_refused(struct fixture *f, const struct load_case *c)
{
    struct plugin_instance *p = (struct plugin_instance *)(uintptr_t)1;
    char err[512] = "";
    int rc = plugin_load(TEST_PLUGIN_DIR, c->name, c->kind, f->loop, NULL, &p, err, sizeof err);
    char expect[512];
    snprintf(expect, sizeof expect, "%s/%s.so: %s", TEST_PLUGIN_DIR, c->name, c->reason);
    if (rc != c->rc || strncmp(err, expect, strlen(expect)) != 0)
        fail_msg("%s: rc %d (want %d), message\n  '%s'\nwant prefix\n  '%s'", c->name, rc, c->rc,
                 err, expect);
    assert_null(p);
}

static void test_refusals_name_file_and_reason(void **state)
{
    struct fixture *f = *state;
    char small_desc[128], small_ops[128];
    snprintf(small_desc, sizeof small_desc, "descriptor declares 16 bytes, at least %zu needed",
             offsetof(struct zkp_plugin, ops) + sizeof(void *));
    snprintf(small_ops, sizeof small_ops,
             "transport ops table declares 16 bytes, at least %zu needed (lacks pending)",
             offsetof(struct zkp_transport_ops, pending) + sizeof(void *));
    const struct load_case cases[] = {
        {"nosuch", ZKP_KIND_TRANSPORT, -ENOENT, "no such plugin file"},
        {"garbage", ZKP_KIND_TRANSPORT, -ENOEXEC, "not a loadable object: "},
        {"dir", ZKP_KIND_TRANSPORT, -ENOEXEC, "not a regular file"},
        {"no_descriptor", ZKP_KIND_TRANSPORT, -ENOEXEC, "no zkp_plugin_descriptor symbol"},
        {"tiny_descriptor", ZKP_KIND_TRANSPORT, -ENOEXEC,
         "zkp_plugin_descriptor is 2 bytes, too small for a plugin descriptor"},
        {"bad_magic", ZKP_KIND_TRANSPORT, -ENOEXEC, "bad magic 0xdeadbeef (not a zkplug plugin)"},
        {"bad_abi", ZKP_KIND_TRANSPORT, -ENOTSUP,
         "built for plugin ABI 2, this server speaks ABI 1"},
        {"small_descriptor", ZKP_KIND_TRANSPORT, -ENOEXEC, small_desc},
        {"bad_kind", ZKP_KIND_TRANSPORT, -EINVAL,
         "is a storage plugin, a transport plugin is needed"},
        {"good", ZKP_KIND_STORAGE, -EINVAL, "is a transport plugin, a storage plugin is needed"},
        {"good", ZKP_KIND_ELECTION, -EINVAL,
         "is a transport plugin, an election plugin is needed"},
        {"unknown_kind", ZKP_KIND_TRANSPORT, -EINVAL, "unknown plugin kind 9"},
        {"bad_name", ZKP_KIND_TRANSPORT, -EINVAL,
         "descriptor names plugin 'other', the file name says 'bad_name'"},
        {"no_init", ZKP_KIND_TRANSPORT, -ENOEXEC, "descriptor lacks init"},
        {"small_ops", ZKP_KIND_TRANSPORT, -ENOEXEC, small_ops},
        {"null_op", ZKP_KIND_TRANSPORT, -ENOEXEC, "transport ops table lacks pending"},
        {"init_fails", ZKP_KIND_TRANSPORT, -EACCES, "init failed: test.value: refused on purpose"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_refused(f, &cases[i]);
    /* None of the refused plugins left a metric or a callback behind. */
    int64_t v;
    assert_int_equal(metrics_get("test_plugin_trace", &v), -ENOENT);
    run_loop(f->loop, 5);
}

static void test_garbage_message_carries_dlerror_text(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "garbage", ZKP_KIND_TRANSPORT, f->loop, NULL,
                                 &p, err, sizeof err),
                     -ENOEXEC);
    const char *why = strstr(err, "not a loadable object: ");
    assert_non_null(why);
    why += strlen("not a loadable object: ");
    /* dlerror names the file and says why (glibc: "invalid ELF header" or
     * "file too short"). */
    assert_true(strlen(why) > 0);
    assert_non_null(strstr(why, "garbage.so"));
}

static void test_names_leaving_the_directory_are_refused(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"../plugins/good", "sub/good", "/good", "..", "good..x", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct plugin_instance *p = NULL;
        char err[512] = "";
        int rc = plugin_load(TEST_PLUGIN_DIR, names[i], ZKP_KIND_TRANSPORT, f->loop, NULL, &p, err,
                             sizeof err);
        assert_int_equal(rc, -EINVAL);
        assert_null(p);
        char expect[512];
        snprintf(expect, sizeof expect,
                 "%s: invalid transport plugin name '%s': must be a plain file name", TEST_PLUGIN_DIR,
                 names[i]);
        if (strncmp(err, expect, strlen(expect)) != 0)
            fail_msg("'%s' gave '%s'", names[i], err);
    }
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, NULL, ZKP_KIND_TRANSPORT, f->loop, NULL, &p, err,
                                 sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "invalid transport plugin name '(null)'"));
}

static void test_trailing_slash_in_dir_is_normalised(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR "//", "nosuch", ZKP_KIND_TRANSPORT, f->loop, NULL,
                                 &p, err, sizeof err),
                     -ENOENT);
    assert_string_equal(err, TEST_PLUGIN_DIR "/nosuch.so: no such plugin file");
}

static void test_start_failure_names_file_and_skips_stop(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "start_fails", ZKP_KIND_TRANSPORT, f->loop, NULL,
                                 &p, err, sizeof err),
                     0);
    int rc = plugin_start(p, err, sizeof err);
    assert_int_equal(rc, -EADDRINUSE);
    assert_string_equal(err, TEST_PLUGIN_DIR "/start_fails.so: start failed: port 2181 refused on purpose");
    assert_false(p->started);
    plugin_unload(p);
    char *log = read_log(f);
    assert_non_null(strstr(log, "[start_fails] lifecycle: init"));
    assert_non_null(strstr(log, "[start_fails] lifecycle: start-failed"));
    assert_null(strstr(log, "[start_fails] lifecycle: stop"));
    assert_non_null(strstr(log, "[start_fails] lifecycle: fini"));
    free(log);
}

static void test_short_error_buffer_is_truncated_not_overrun(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[24];
    memset(err, 'x', sizeof err);
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "bad_magic", ZKP_KIND_TRANSPORT, f->loop, NULL,
                                 &p, err, 16),
                     -ENOEXEC);
    assert_int_equal(strlen(err), 15);
    assert_int_equal(err[16], 'x');
    /* No buffer at all is allowed too. */
    assert_int_equal(plugin_load(TEST_PLUGIN_DIR, "bad_magic", ZKP_KIND_TRANSPORT, f->loop, NULL,
                                 &p, NULL, 0),
                     -ENOEXEC);
}

/* A built-in descriptor, as the core would register one without a file. */
static int builtin_inits;
static int builtin_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    builtin_inits++;
    *state = &builtin_inits;
    return host->size == sizeof *host ? 0 : -EINVAL;
}
static int builtin_start(void *state, char *err, size_t errlen) { return 0; }
static void builtin_stop(void *state) {}
static void builtin_fini(void *state) { (*(int *)state) += 100; }
static int builtin_look(void *state, const struct zkp_vote *own, zkp_election_done_cb cb, void *arg)
{
    return 0;
}
static void builtin_cancel(void *state) {}
static void builtin_set_vote(void *state, enum zkp_peer_state st, const struct zkp_vote *vote) {}
static const struct zkp_election_ops builtin_ops = {
    .size = sizeof builtin_ops,
    .look_for_leader = builtin_look,
    .cancel = builtin_cancel,
    .set_current_vote = builtin_set_vote,
};
static const struct zkp_plugin builtin_desc = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .size = sizeof builtin_desc,
    .kind = ZKP_KIND_ELECTION,
    .name = "builtin",
    .init = builtin_init,
    .start = builtin_start,
    .stop = builtin_stop,
    .fini = builtin_fini,
    .ops = &builtin_ops,
};

static void test_builtin_descriptor_is_validated_and_driven(void **state)
{
    struct fixture *f = *state;
    struct plugin_instance *p = NULL;
    char err[512] = "";
    builtin_inits = 0;
    assert_int_equal(plugin_load_descriptor(&builtin_desc, "built-in fle", ZKP_KIND_ELECTION,
                                            f->loop, NULL, &p, err, sizeof err),
                     0);
    assert_null(p->handle);
    assert_int_equal(builtin_inits, 1);
    assert_int_equal(plugin_start(p, err, sizeof err), 0);
    plugin_unload(p);
    assert_int_equal(builtin_inits, 101);

    struct zkp_plugin broken = builtin_desc;
    broken.ops = NULL;
    assert_int_equal(plugin_load_descriptor(&broken, "built-in fle", ZKP_KIND_ELECTION, f->loop,
                                            NULL, &p, err, sizeof err),
                     -ENOEXEC);
    assert_string_equal(err, "built-in fle: descriptor lacks ops");
    assert_null(p);

    struct zkp_election_ops half = builtin_ops;
    half.cancel = NULL;
    broken = builtin_desc;
    broken.ops = &half;
    assert_int_equal(plugin_load_descriptor(&broken, "built-in fle", ZKP_KIND_ELECTION, f->loop,
                                            NULL, &p, err, sizeof err),
                     -ENOEXEC);
    assert_string_equal(err, "built-in fle: election ops table lacks cancel");

    broken = builtin_desc;
    broken.name = NULL;
    assert_int_equal(plugin_load_descriptor(&broken, "built-in fle", ZKP_KIND_ELECTION, f->loop,
                                            NULL, &p, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "built-in fle: descriptor has no plugin name");
    assert_int_equal(builtin_inits, 101);
}

static void test_kind_names(void **state)
{
    assert_string_equal(plugin_kind_name(ZKP_KIND_TRANSPORT), "transport");
    assert_string_equal(plugin_kind_name(ZKP_KIND_STORAGE), "storage");
    assert_string_equal(plugin_kind_name(ZKP_KIND_ELECTION), "election");
    assert_null(plugin_kind_name((enum zkp_kind)0));
    plugin_unload(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_plugin_runs_lifecycle_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_config_reads_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_queued_before_stop_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_disarms_posts_timers_and_hooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_name_file_and_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_message_carries_dlerror_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_leaving_the_directory_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash_in_dir_is_normalised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_failure_names_file_and_skips_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_error_buffer_is_truncated_not_overrun, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_builtin_descriptor_is_validated_and_driven, setup,
                                        teardown),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
