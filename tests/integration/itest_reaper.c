/*
 * Integration tests for the container / TTL reaper: a container goes away
 * after its last child is deleted (and not before it ever had one); a TTL
 * node goes away once it has been unmodified and childless for its TTL, and
 * stays while it has children. Runs with znode.container.checkIntervalMs
 * lowered so the reaper runs every 100 ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "zkclient.h"

#define CLIENT(state) ((struct zkc_client *)*(state))
#define REAP_WAIT_MS 8000

/* Polls exists() until the node is gone; true if it went within the bound. */
static bool wait_gone(zhandle_t *zh, const char *path, int timeout_ms)
{
    int64_t deadline = zkh_now_ms() + timeout_ms;
    while (zkh_now_ms() < deadline) {
        if (zoo_exists(zh, path, 0, NULL) == ZNONODE)
            return true;
        zkh_sleep_ms(50);
    }
    return false;
}

static void test_container_removed_after_last_child_deleted(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create2(c->zh, "/ctr", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, NULL,
                                 0, NULL),
                     ZOK);
    assert_int_equal(zoo_create(c->zh, "/ctr/a", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_create(c->zh, "/ctr/b", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_exists(c->zh, "/ctr", 1, NULL), ZOK);
    assert_int_equal(zoo_delete(c->zh, "/ctr/a", -1), ZOK);
    /* Still one child: several reaper passes must leave it alone. */
    zkh_sleep_ms(600);
    assert_int_equal(zoo_exists(c->zh, "/ctr", 0, NULL), ZOK);
    assert_int_equal(zoo_delete(c->zh, "/ctr/b", -1), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/ctr", REAP_WAIT_MS, NULL));
    assert_int_equal(zoo_exists(c->zh, "/ctr", 0, NULL), ZNONODE);
}

static void test_container_without_children_ever_is_kept(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create2(c->zh, "/ctr-empty", "d", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER,
                                 NULL, 0, NULL),
                     ZOK);
    zkh_sleep_ms(800);
    assert_int_equal(zoo_exists(c->zh, "/ctr-empty", 0, NULL), ZOK);
}

static void test_container_emptied_by_session_close_is_removed(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create2(c->zh, "/ctr-eph", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER,
                                 NULL, 0, NULL),
                     ZOK);
    struct zkc_client *other = zkc_open(5000, NULL);
    assert_non_null(other);
    assert_int_equal(zoo_create(other->zh, "/ctr-eph/lock", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL, NULL, 0),
                     ZOK);
    zkc_close(other);
    assert_true(wait_gone(c->zh, "/ctr-eph", REAP_WAIT_MS));
}

static void test_ttl_node_removed_after_expiry(void **state)
{
    struct zkc_client *c = CLIENT(state);
    char name[64];
    assert_int_equal(zoo_create2_ttl(c->zh, "/ttl", "t", 1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_WITH_TTL, 500, NULL, 0, NULL),
                     ZOK);
    assert_int_equal(zoo_create2_ttl(c->zh, "/ttl-s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL, 500, name, sizeof name,
                                     NULL),
                     ZOK);
    int64_t t0 = zkh_now_ms();
    assert_int_equal(zoo_exists(c->zh, "/ttl", 1, NULL), ZOK);
    assert_true(zkc_wait_event(&c->ev, ZOO_DELETED_EVENT, "/ttl", REAP_WAIT_MS, NULL));
    assert_true(zkh_now_ms() - t0 >= 400); /* not before its TTL */
    assert_true(wait_gone(c->zh, name, REAP_WAIT_MS));
}

static void test_ttl_node_with_children_is_kept(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zoo_create2_ttl(c->zh, "/ttl-p", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_WITH_TTL, 300, NULL, 0, NULL),
                     ZOK);
    assert_int_equal(zoo_create(c->zh, "/ttl-p/kid", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    zkh_sleep_ms(1000);
    assert_int_equal(zoo_exists(c->zh, "/ttl-p", 0, NULL), ZOK);
    assert_int_equal(zoo_delete(c->zh, "/ttl-p/kid", -1), ZOK);
    assert_true(wait_gone(c->zh, "/ttl-p", REAP_WAIT_MS));
}

static void test_persistent_node_is_never_reaped(void **state)
{
    struct zkc_client *c = CLIENT(state);
    assert_int_equal(zkc_mkdir(c->zh, "/plain"), ZOK);
    assert_int_equal(zkc_mkdir(c->zh, "/plain/x"), ZOK);
    assert_int_equal(zoo_delete(c->zh, "/plain/x", -1), ZOK);
    zkh_sleep_ms(600);
    assert_int_equal(zoo_exists(c->zh, "/plain", 0, NULL), ZOK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_container_removed_after_last_child_deleted, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_container_without_children_ever_is_kept, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_container_emptied_by_session_close_is_removed,
                                        zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_ttl_node_removed_after_expiry, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_ttl_node_with_children_is_kept, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_node_is_never_reaped, zkc_setup, zkc_teardown),
    };
    static const char *const settings[] = {
        "zookeeper.extendedTypesEnabled=true", "znode.container.checkIntervalMs=100",
        "maxSessionTimeout=30000", NULL};
    return ZKH_RUN("itest_reaper", tests, settings);
}
