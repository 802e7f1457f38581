/*
 * Integration tests for multi (opcode 14) through the official C client:
 * a successful transaction applies every op at one zxid; a failing one
 * applies nothing and reports per-op results (0 before the failing op, its
 * error for it, RUNTIMEINCONSISTENCY after it); check ops guard versions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "harness.h"
#include "zkclient.h"

#define ZH(state) (((struct zkc_client *)*(state))->zh)

static void test_multi_success_applies_all_at_one_zxid(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zkc_mkdir(zh, "/ms"), ZOK);
    assert_int_equal(zoo_create(zh, "/ms/old", "o", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_int_equal(zoo_create(zh, "/ms/gone", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);

    char created[64], seq[64];
    struct Stat set_stat;
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    zoo_create_op_init(&ops[0], "/ms/new", "n", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created,
                       sizeof created);
    zoo_set_op_init(&ops[1], "/ms/old", "changed", 7, 0, &set_stat);
    zoo_check_op_init(&ops[2], "/ms/old", 1); /* sees the set before it */
    zoo_delete_op_init(&ops[3], "/ms/gone", 0);
    zoo_create_op_init(&ops[4], "/ms/s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_PERSISTENT_SEQUENTIAL, seq, sizeof seq);
    memset(res, 0x55, sizeof res);
    assert_int_equal(zoo_multi(zh, 5, ops, res), ZOK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i].err, ZOK);
    assert_string_equal(created, "/ms/new");
    assert_string_equal(seq, "/ms/s-0000000003"); /* parent had 2 creates, +1 here */
    assert_int_equal(set_stat.version, 1);

    struct Stat st_new, st_old, st_seq;
    assert_int_equal(zoo_exists(zh, "/ms/new", 0, &st_new), ZOK);
    assert_int_equal(zoo_exists(zh, "/ms/old", 0, &st_old), ZOK);
    assert_int_equal(zoo_exists(zh, "/ms/s-0000000003", 0, &st_seq), ZOK);
    assert_int_equal(zoo_exists(zh, "/ms/gone", 0, NULL), ZNONODE);
    assert_int_equal(st_new.czxid, st_old.mzxid);
    assert_int_equal(st_new.czxid, st_seq.czxid);
    assert_int_equal(set_stat.mzxid, st_old.mzxid);
}

static void test_multi_failure_reports_per_op_errors(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zkc_mkdir(zh, "/mf"), ZOK);
    struct Stat before, after;
    assert_int_equal(zoo_exists(zh, "/mf", 0, &before), ZOK);

    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    char p1[64], p2[64];
    zoo_create_op_init(&ops[0], "/mf/f1", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1,
                       sizeof p1);
    zoo_delete_op_init(&ops[1], "/mf/nonexistent", -1);
    zoo_create_op_init(&ops[2], "/mf/f2", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2,
                       sizeof p2);
    memset(res, 0x55, sizeof res);
    assert_int_equal(zoo_multi(zh, 3, ops, res), ZNONODE);
    assert_int_equal(res[0].err, ZOK);
    assert_int_equal(res[1].err, ZNONODE);
    assert_int_equal(res[2].err, ZRUNTIMEINCONSISTENCY);
    assert_int_equal(zoo_exists(zh, "/mf/f1", 0, NULL), ZNONODE);
    assert_int_equal(zoo_exists(zh, "/mf/f2", 0, NULL), ZNONODE);
    assert_int_equal(zoo_exists(zh, "/mf", 0, &after), ZOK);
    assert_int_equal(after.cversion, before.cversion);
    assert_int_equal(after.numChildren, 0);

    /* Failure at the first op: everything after it is -2. */
    zoo_create_op_init(&ops[0], "/mf", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1,
                       sizeof p1);
    zoo_create_op_init(&ops[1], "/mf/a", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2,
                       sizeof p2);
    zoo_delete_op_init(&ops[2], "/mf", -1);
    assert_int_equal(zoo_multi(zh, 3, ops, res), ZNODEEXISTS);
    assert_int_equal(res[0].err, ZNODEEXISTS);
    assert_int_equal(res[1].err, ZRUNTIMEINCONSISTENCY);
    assert_int_equal(res[2].err, ZRUNTIMEINCONSISTENCY);
    assert_int_equal(zoo_exists(zh, "/mf/a", 0, NULL), ZNONODE);

    /* Failure at the last op: earlier ops report 0 and are rolled back. */
    zoo_create_op_init(&ops[0], "/mf/x", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1,
                       sizeof p1);
    zoo_create_op_init(&ops[1], "/mf/x/y", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2,
                       sizeof p2);
    zoo_delete_op_init(&ops[2], "/mf/x", -1); /* not empty at this point */
    assert_int_equal(zoo_multi(zh, 3, ops, res), ZNOTEMPTY);
    assert_int_equal(res[0].err, ZOK);
    assert_int_equal(res[1].err, ZOK);
    assert_int_equal(res[2].err, ZNOTEMPTY);
    assert_int_equal(zoo_exists(zh, "/mf/x", 0, NULL), ZNONODE);
}

static void test_multi_check_guards_version(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zoo_create(zh, "/mc", "v", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_int_equal(zoo_set(zh, "/mc", "w", 1, 0), ZOK); /* version 1 now */

    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    struct Stat st;
    zoo_check_op_init(&ops[0], "/mc", 0);
    zoo_set_op_init(&ops[1], "/mc", "lost", 4, -1, &st);
    assert_int_equal(zoo_multi(zh, 2, ops, res), ZBADVERSION);
    assert_int_equal(res[0].err, ZBADVERSION);
    assert_int_equal(res[1].err, ZRUNTIMEINCONSISTENCY);
    char buf[16];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/mc", 0, buf, &len, &st), ZOK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], 'w');
    assert_int_equal(st.version, 1);

    zoo_check_op_init(&ops[0], "/mc", 1);
    zoo_set_op_init(&ops[1], "/mc", "won", 3, 1, &st);
    assert_int_equal(zoo_multi(zh, 2, ops, res), ZOK);
    assert_int_equal(res[0].err, ZOK);
    assert_int_equal(res[1].err, ZOK);
    assert_int_equal(st.version, 2);

    /* check of a missing node fails with NONODE. */
    zoo_check_op_init(&ops[0], "/mc-missing", -1);
    assert_int_equal(zoo_multi(zh, 1, ops, res), ZNONODE);
    assert_int_equal(res[0].err, ZNONODE);
}

static void test_multi_empty_succeeds(void **state)
{
    zhandle_t *zh = ZH(state);
    zoo_op_result_t res[1];
    assert_int_equal(zoo_multi(zh, 0, NULL, res), ZOK);
    /* The session is still usable afterwards. */
    assert_int_equal(zoo_exists(zh, "/", 0, NULL), ZOK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_multi_success_applies_all_at_one_zxid, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_multi_failure_reports_per_op_errors, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_multi_check_guards_version, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_multi_empty_succeeds, zkc_setup, zkc_teardown),
    };
    static const char *const settings[] = {"maxSessionTimeout=30000", NULL};
    return ZKH_RUN("itest_multi", tests, settings);
}
