/*
 * Stall monitor (core/stall.c): a blocked event loop, a long worker job and
 * a pause of the whole process are each reported once, with the right
 * counter, and an idle loop reports nothing. The log goes to a temp file
 * that the tests read back.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "loop.h"
#include "stall.h"

struct fixture {
    loop *l;
    char log_path[64];
};

static const struct stall_options test_opts = {.enabled = true, .info_ms = 300, .warn_ms = 600, .sleep_ms = 50};

static void test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->log_path, sizeof f->log_path, "/tmp/test_stall.%d.log", (int)getpid());
    unlink(f->log_path);
    assert_int_equal(log_open_file(f->log_path), 0);
    f->l = loop_new();
    assert_non_null(f->l);
    assert_int_equal(stall_start_options(f->l, &test_opts), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stall_stop();
    loop_free(f->l);
    log_open_file(NULL);
    unlink(f->log_path);
    free(f);
    return 0;
}

static char *read_log(const struct fixture *f)
{
    FILE *fp = fopen(f->log_path, "r");
    assert_non_null(fp);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void stop_cb(void *arg) { loop_stop(arg); }
static void block_cb(void *arg) { test_sleep_ms((long)(intptr_t)arg); }

/* Run the loop for total_ms; block it for block_ms after 200 ms. */
static void run_loop(struct fixture *f, long block_ms, long total_ms)
{
    if (block_ms > 0)
        loop_timer_start(f->l, 200, block_cb, (void *)(intptr_t)block_ms);
    loop_timer_start(f->l, (uint64_t)total_ms, stop_cb, f->l);
    assert_int_equal(loop_run(f->l), 0);
}

static void test_blocked_loop_is_reported_with_its_length(void **state)
{
    struct fixture *f = *state;
    run_loop(f, 800, 1500);
    test_sleep_ms(150); /* the monitor reports finished stalls on its next wake */
    struct stall_counters c;
    stall_get_counters(&c);
    assert_int_equal(c.loop_stalls, 1);
    assert_int_equal(c.process_pauses, 0);
    assert_true(c.max_loop_stall_ms >= 650 && c.max_loop_stall_ms <= 1000);
    const char *log = read_log(f);
    /* While it lasts (INFO past 300 ms, WARN past 600 ms), then the total. */
    assert_int_equal(count(log, "event loop blocked for at least"), 2);
    assert_non_null(strstr(log, "WARN  [main:stall-monitor] event loop was blocked for"));
    assert_int_equal(count(log, "event loop was blocked for"), 1);
}

static void test_idle_loop_reports_nothing(void **state)
{
    struct fixture *f = *state;
    run_loop(f, 0, 1000);
    test_sleep_ms(100);
    struct stall_counters c;
    stall_get_counters(&c);
    assert_int_equal(c.loop_stalls + c.worker_stalls + c.process_pauses, 0);
    assert_null(strstr(read_log(f), "blocked"));
}

static void test_short_block_below_threshold_is_not_reported(void **state)
{
    struct fixture *f = *state;
    run_loop(f, 150, 800);
    test_sleep_ms(100);
    struct stall_counters c;
    stall_get_counters(&c);
    assert_int_equal(c.loop_stalls, 0);
}

static void test_long_worker_job_is_reported(void **state)
{
    struct fixture *f = *state;
    struct stall_watch *w = stall_watch_new("sync-thread");
    assert_non_null(w);
    stall_watch_enter(w);
    stall_watch_leave(w); /* a short job: nothing */
    stall_watch_enter(w);
    run_loop(f, 0, 450); /* the job runs while the loop is fine */
    stall_watch_leave(w);
    test_sleep_ms(150);
    stall_watch_free(w);
    struct stall_counters c;
    stall_get_counters(&c);
    assert_int_equal(c.worker_stalls, 1);
    assert_int_equal(c.loop_stalls, 0);
    const char *log = read_log(f);
    assert_non_null(strstr(log, "worker sync-thread busy with one job for at least"));
    assert_non_null(strstr(log, "INFO  [main:stall-monitor] worker sync-thread was busy with one job for"));
}

/* The whole process stopped (SIGSTOP, continued by a child): one pause,
 * and the loop is not blamed for it. */
static void test_process_pause_is_not_blamed_on_the_loop(void **state)
{
    struct fixture *f = *state;
    pid_t parent = getpid();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        test_sleep_ms(900);
        kill(parent, SIGCONT);
        _exit(0);
    }
    test_sleep_ms(100);
    raise(SIGSTOP);
    waitpid(child, NULL, 0);
    run_loop(f, 0, 400);
    test_sleep_ms(100);
    struct stall_counters c;
    stall_get_counters(&c);
    assert_int_equal(c.process_pauses, 1);
    assert_int_equal(c.loop_stalls, 0);
    const char *log = read_log(f);
    assert_non_null(strstr(log, "detected a pause of the whole process or host"));
    assert_null(strstr(log, "event loop was blocked"));
}

static void test_options_from_config_defaults(void **state)
{
    (void)state;
    struct stall_options o;
    char err[128];
    assert_int_equal(stall_options_from_config(NULL, &o, err, sizeof err), 0);
    assert_true(o.enabled);
    assert_int_equal(o.info_ms, 1000);
    assert_int_equal(o.warn_ms, 10000);
    assert_int_equal(o.sleep_ms, 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocked_loop_is_reported_with_its_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_loop_reports_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_block_below_threshold_is_not_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_worker_job_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_pause_is_not_blamed_on_the_loop, setup, teardown),
        cmocka_unit_test(test_options_from_config_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
