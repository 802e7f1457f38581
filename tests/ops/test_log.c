/*
 * Server log (core/log.c): line format with the myid and thread columns,
 * levels, reopening after logrotate's rename (on log_reopen and on its own),
 * and log_parse_level.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char log_path[64], rotated_path[80];

static int setup(void **state)
{
    (void)state;
    snprintf(log_path, sizeof log_path, "/tmp/test_log.%d.log", (int)getpid());
    snprintf(rotated_path, sizeof rotated_path, "%s.1", log_path);
    unlink(log_path);
    unlink(rotated_path);
    assert_int_equal(log_open_file(log_path), 0);
    log_set_level(ZKP_LOG_INFO);
    log_set_role("standalone");
    log_set_myid(0);
    log_set_thread(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_open_file(NULL);
    unlink(log_path);
    unlink(rotated_path);
    return 0;
}

static char *slurp(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_line_has_time_level_myid_role_and_thread(void **state)
{
    (void)state;
    log_info("first %d", 1);
    log_set_myid(3);
    log_set_thread("worker");
    log_warn("second");
    log_debug("not shown at info");
    const char *text = slurp(log_path);
    int y, mo, d, h, mi, s, ms;
    assert_int_equal(sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d,%3d ", &y, &mo, &d, &h, &mi, &s, &ms), 7);
    assert_non_null(strstr(text, " INFO  [standalone] first 1\n"));
    assert_non_null(strstr(text, " WARN  [myid:3] [standalone:worker] second\n"));
    assert_null(strstr(text, "not shown"));
}

static void test_reopen_after_rename_writes_to_the_new_file(void **state)
{
    (void)state;
    log_info("before rotation");
    assert_int_equal(rename(log_path, rotated_path), 0);
    log_info("still to the renamed file");
    assert_int_equal(log_reopen(), 0);
    log_info("after reopen");
    assert_non_null(strstr(slurp(rotated_path), "still to the renamed file"));
    const char *now = slurp(log_path);
    assert_non_null(now);
    assert_non_null(strstr(now, "after reopen"));
    assert_null(strstr(now, "before rotation"));
}

static void test_rename_is_noticed_without_a_signal(void **state)
{
    (void)state;
    log_info("before rotation");
    assert_int_equal(rename(log_path, rotated_path), 0);
    struct timespec ts = {1, 200000000L}; /* past the 1 s check interval */
    nanosleep(&ts, NULL);
    log_info("after rotation");
    const char *now = slurp(log_path);
    assert_non_null(now);
    assert_non_null(strstr(now, "after rotation"));
    assert_null(strstr(slurp(rotated_path), "after rotation"));
}

static void test_parse_level(void **state)
{
    (void)state;
    enum zkp_log_level l;
    assert_int_equal(log_parse_level("DEBUG", &l), 0);
    assert_int_equal(l, ZKP_LOG_DEBUG);
    assert_int_equal(log_parse_level("warn", &l), 0);
    assert_int_equal(l, ZKP_LOG_WARN);
    assert_int_equal(log_parse_level("Error", &l), 0);
    assert_int_equal(l, ZKP_LOG_ERROR);
    assert_int_equal(log_parse_level("loud", &l), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_has_time_level_myid_role_and_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rename_writes_to_the_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_is_noticed_without_a_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_level, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
