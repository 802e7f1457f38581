/*
 * Integration tests for znode operations through the official C client:
 * create in every mode (sequential suffixes, containers, TTL), create2's
 * Stat, delete/setData version checks, exists, getData/setData, the Stat
 * fields (zxids, versions, the client-visible cversion mapping), getACL /
 * setACL with aversion, getChildren/getChildren2 and sync.
 *
 * One server for the whole program; every test works under its own top-level
 * node so tests do not see each other's changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zkclient.h"

#define ZH(state) (((struct zkc_client *)*(state))->zh)

/* ctime/mtime must be a wall-clock time near now (server on this host). */
static void assert_time_plausible(int64_t t)
{
    int64_t now = zkh_wall_ms();
    assert_true(t > now - 120000);
    assert_true(t < now + 120000);
}

/* Field by field: struct Stat has padding that memcmp would see. */
static void assert_stat_equal(const struct Stat *a, const struct Stat *b)
{
    assert_int_equal(a->czxid, b->czxid);
    assert_int_equal(a->mzxid, b->mzxid);
    assert_int_equal(a->ctime, b->ctime);
    assert_int_equal(a->mtime, b->mtime);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->cversion, b->cversion);
    assert_int_equal(a->aversion, b->aversion);
    assert_int_equal(a->ephemeralOwner, b->ephemeralOwner);
    assert_int_equal(a->dataLength, b->dataLength);
    assert_int_equal(a->numChildren, b->numChildren);
    assert_int_equal(a->pzxid, b->pzxid);
}

static int64_t session_id(zhandle_t *zh)
{
    return zoo_client_id(zh)->client_id;
}

static void test_create_persistent_and_ephemeral(void **state)
{
    zhandle_t *zh = ZH(state);
    char buf[256];
    assert_int_equal(zoo_create(zh, "/cpe", "top", 3, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf,
                                sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/cpe");
    assert_int_equal(zoo_create(zh, "/cpe/eph", "e", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, buf,
                                sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/cpe/eph");

    struct Stat st;
    assert_int_equal(zoo_exists(zh, "/cpe", 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, 0);
    assert_int_equal(st.dataLength, 3);
    assert_int_equal(st.numChildren, 1);
    assert_int_equal(zoo_exists(zh, "/cpe/eph", 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, session_id(zh));

    /* Error cases. */
    assert_int_equal(zoo_create(zh, "/cpe", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZNODEEXISTS);
    assert_int_equal(zoo_create(zh, "/cpe/eph/child", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT, NULL, 0),
                     ZNOCHILDRENFOREPHEMERALS);
    assert_int_equal(zoo_create(zh, "/cpe/missing/child", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT, NULL, 0),
                     ZNONODE);
    assert_int_equal(zoo_create(zh, "/cpe/a/../b", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZBADARGUMENTS);
}

static void test_create_sequential_suffix_from_parent_cversion(void **state)
{
    zhandle_t *zh = ZH(state);
    char buf[256];
    assert_int_equal(zkc_mkdir(zh, "/seq"), ZOK);
    assert_int_equal(zoo_create(zh, "/seq/s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT_SEQUENTIAL, buf, sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/seq/s-0000000000");
    assert_int_equal(zoo_create(zh, "/seq/s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT_SEQUENTIAL, buf, sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/seq/s-0000000001");
    /* Ephemeral sequential children share the parent's counter. */
    assert_int_equal(zoo_create(zh, "/seq/e-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL_SEQUENTIAL, buf, sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/seq/e-0000000002");
    struct Stat st;
    assert_int_equal(zoo_exists(zh, buf, 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, session_id(zh));

    /* A delete does not give the number back; a plain create advances it. */
    assert_int_equal(zoo_delete(zh, "/seq/s-0000000001", -1), ZOK);
    assert_int_equal(zoo_create(zh, "/seq/plain", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZOK);
    assert_int_equal(zoo_create(zh, "/seq/", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT_SEQUENTIAL, buf, sizeof buf),
                     ZOK);
    assert_string_equal(buf, "/seq/0000000004");

    /* Stored cversion is 5 (five creations); visible = 2 * 5 - 4 children. */
    assert_int_equal(zoo_exists(zh, "/seq", 0, &st), ZOK);
    assert_int_equal(st.numChildren, 4);
    assert_int_equal(st.cversion, 6);
}

static void test_create2_returns_stat(void **state)
{
    zhandle_t *zh = ZH(state);
    char buf[256];
    struct Stat st, st2;
    memset(&st, 0xab, sizeof st);
    assert_int_equal(zoo_create2(zh, "/c2", "hello", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf,
                                 sizeof buf, &st),
                     ZOK);
    assert_string_equal(buf, "/c2");
    assert_true(st.czxid > 0);
    assert_int_equal(st.mzxid, st.czxid);
    assert_int_equal(st.pzxid, st.czxid);
    assert_int_equal(st.ctime, st.mtime);
    assert_time_plausible(st.ctime);
    assert_int_equal(st.version, 0);
    assert_int_equal(st.cversion, 0);
    assert_int_equal(st.aversion, 0);
    assert_int_equal(st.ephemeralOwner, 0);
    assert_int_equal(st.dataLength, 5);
    assert_int_equal(st.numChildren, 0);
    assert_int_equal(zoo_exists(zh, "/c2", 0, &st2), ZOK);
    assert_stat_equal(&st, &st2);

    /* create2 of a sequential node returns the name and the new node's stat. */
    assert_int_equal(zoo_create2(zh, "/c2/q-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                 ZOO_EPHEMERAL_SEQUENTIAL, buf, sizeof buf, &st),
                     ZOK);
    assert_string_equal(buf, "/c2/q-0000000000");
    assert_int_equal(st.ephemeralOwner, session_id(zh));
    assert_int_equal(st.dataLength, 0);
    assert_int_equal(zoo_exists(zh, "/c2", 0, &st2), ZOK);
    assert_int_equal(st2.pzxid, st.czxid);
    assert_int_equal(st2.numChildren, 1);
}

static void test_create_container_and_ttl(void **state)
{
    zhandle_t *zh = ZH(state);
    char buf[256];
    struct Stat st;
    assert_int_equal(zoo_create2(zh, "/ctr", "c", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, buf,
                                 sizeof buf, &st),
                     ZOK);
    assert_string_equal(buf, "/ctr");
    assert_int_equal(st.ephemeralOwner, 0);
    assert_int_equal(zoo_exists(zh, "/ctr", 0, &st), ZOK);
    assert_int_equal(st.ephemeralOwner, 0);

    assert_int_equal(zoo_create2_ttl(zh, "/ttl", "t", 1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_WITH_TTL, 600000, buf, sizeof buf, &st),
                     ZOK);
    assert_string_equal(buf, "/ttl");
    assert_int_equal(st.ephemeralOwner, 0);
    assert_int_equal(zoo_create2_ttl(zh, "/ttl/s-", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL, 600000, buf, sizeof buf,
                                     &st),
                     ZOK);
    assert_string_equal(buf, "/ttl/s-0000000000");
    /* ttl must be positive. */
    assert_int_equal(zoo_create2_ttl(zh, "/ttl0", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                     ZOO_PERSISTENT_WITH_TTL, 0, buf, sizeof buf, &st),
                     ZBADARGUMENTS);
    assert_int_equal(zoo_exists(zh, "/ttl0", 0, &st), ZNONODE);
}

static void test_delete_checks_version_and_children(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zkc_mkdir(zh, "/del"), ZOK);
    assert_int_equal(zoo_create(zh, "/del/n", "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_int_equal(zoo_delete(zh, "/del/n", 1), ZBADVERSION);
    assert_int_equal(zoo_set(zh, "/del/n", "y", 1, 0), ZOK);
    assert_int_equal(zoo_delete(zh, "/del/n", 0), ZBADVERSION);
    assert_int_equal(zoo_delete(zh, "/del", -1), ZNOTEMPTY);
    assert_int_equal(zoo_delete(zh, "/del/n", 1), ZOK);
    assert_int_equal(zoo_delete(zh, "/del/n", -1), ZNONODE);
    assert_int_equal(zoo_exists(zh, "/del/n", 0, NULL), ZNONODE);
    assert_int_equal(zoo_delete(zh, "/del", -1), ZOK);
    assert_int_equal(zoo_exists(zh, "/del", 0, NULL), ZNONODE);
}

static void test_exists_present_and_missing(void **state)
{
    zhandle_t *zh = ZH(state);
    struct Stat st;
    assert_int_equal(zoo_exists(zh, "/", 0, &st), ZOK);
    assert_true(st.numChildren >= 1); /* at least /zookeeper */
    assert_int_equal(zoo_exists(zh, "/zookeeper", 0, &st), ZOK);
    assert_int_equal(zoo_exists(zh, "/no/such/node", 0, &st), ZNONODE);
    assert_int_equal(zoo_exists(zh, "/no-such-node", 0, &st), ZNONODE);
    assert_int_equal(zoo_exists(zh, "no-slash", 0, &st), ZBADARGUMENTS);
}

static void test_get_set_data_versions_and_stat(void **state)
{
    zhandle_t *zh = ZH(state);
    struct Stat c, st, st2;
    assert_int_equal(zoo_create2(zh, "/gs", "v0", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0,
                                 &c),
                     ZOK);
    char buf[64];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/gs", 0, buf, &len, &st), ZOK);
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "v0", 2);
    assert_stat_equal(&st, &c);

    zkh_sleep_ms(5); /* so mtime can move past ctime */
    assert_int_equal(zoo_set2(zh, "/gs", "value-1", 7, 0, &st), ZOK);
    assert_int_equal(st.version, 1);
    assert_int_equal(st.czxid, c.czxid);
    assert_true(st.mzxid > c.mzxid);
    assert_int_equal(st.pzxid, c.pzxid); /* data changes leave pzxid alone */
    assert_true(st.mtime >= c.ctime);
    assert_int_equal(st.ctime, c.ctime);
    assert_int_equal(st.dataLength, 7);
    assert_time_plausible(st.mtime);

    assert_int_equal(zoo_set(zh, "/gs", "stale", 5, 0), ZBADVERSION);
    assert_int_equal(zoo_set(zh, "/gs", "any", 3, -1), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/gs", 0, buf, &len, &st2), ZOK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "any", 3);
    assert_int_equal(st2.version, 2);

    /* Null data reads back as length -1 with dataLength 0. */
    assert_int_equal(zoo_set(zh, "/gs", NULL, -1, 2), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/gs", 0, buf, &len, &st2), ZOK);
    assert_int_equal(len, -1);
    assert_int_equal(st2.dataLength, 0);
    assert_int_equal(st2.version, 3);

    /* Large value round trip. */
    size_t big_len = 200000;
    char *big = malloc(big_len);
    char *back = malloc(big_len);
    assert_non_null(big);
    assert_non_null(back);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(zoo_set(zh, "/gs", big, (int)big_len, -1), ZOK);
    len = (int)big_len;
    assert_int_equal(zoo_get(zh, "/gs", 0, back, &len, &st2), ZOK);
    assert_int_equal(len, (int)big_len);
    assert_memory_equal(big, back, big_len);
    free(big);
    free(back);

    assert_int_equal(zoo_set(zh, "/gs-missing", "x", 1, -1), ZNONODE);
    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/gs-missing", 0, buf, &len, &st2), ZNONODE);
}

static void test_parent_stat_tracks_children(void **state)
{
    zhandle_t *zh = ZH(state);
    struct Stat p0, p, child;
    assert_int_equal(zoo_create2(zh, "/ps", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0,
                                 &p0),
                     ZOK);
    assert_int_equal(zoo_create2(zh, "/ps/a", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                 0, &child),
                     ZOK);
    assert_int_equal(zoo_create(zh, "/ps/b", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                0),
                     ZOK);
    assert_int_equal(zoo_exists(zh, "/ps", 0, &p), ZOK);
    assert_int_equal(p.numChildren, 2);
    assert_int_equal(p.cversion, 2);
    assert_int_equal(p.mzxid, p0.mzxid); /* child ops do not touch mzxid */
    assert_int_equal(p.version, 0);
    assert_true(p.pzxid > child.czxid);
    int64_t pz = p.pzxid;

    assert_int_equal(zoo_delete(zh, "/ps/a", -1), ZOK);
    assert_int_equal(zoo_exists(zh, "/ps", 0, &p), ZOK);
    assert_int_equal(p.numChildren, 1);
    assert_int_equal(p.cversion, 3); /* 2 * stored(2) - 1 */
    assert_true(p.pzxid > pz);
    assert_int_equal(p.mzxid, p0.mzxid);

    assert_int_equal(zoo_delete(zh, "/ps/b", -1), ZOK);
    assert_int_equal(zoo_exists(zh, "/ps", 0, &p), ZOK);
    assert_int_equal(p.numChildren, 0);
    assert_int_equal(p.cversion, 4);

    /* /zookeeper: nothing created through the tree, two children. */
    assert_int_equal(zoo_exists(zh, "/zookeeper", 0, &p), ZOK);
    assert_int_equal(p.numChildren, 2);
    assert_int_equal(p.cversion, -2);
}

static void test_acl_get_set_checks_aversion(void **state)
{
    zhandle_t *zh = ZH(state);
    struct ACL_vector acl;
    struct Stat st;
    assert_int_equal(zoo_create(zh, "/acl", "d", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_int_equal(zoo_get_acl(zh, "/acl", &acl, &st), ZOK);
    assert_int_equal(acl.count, 1);
    assert_int_equal(acl.data[0].perms, ZOO_PERM_ALL);
    assert_string_equal(acl.data[0].id.scheme, "world");
    assert_string_equal(acl.data[0].id.id, "anyone");
    assert_int_equal(st.aversion, 0);
    deallocate_ACL_vector(&acl);

    struct ACL entries[2] = {
        {ZOO_PERM_READ | ZOO_PERM_ADMIN, {"world", "anyone"}},
        {ZOO_PERM_ALL, {"ip", "127.0.0.1"}},
    };
    struct ACL_vector two = {2, entries};
    assert_int_equal(zoo_set_acl(zh, "/acl", 1, &two), ZBADVERSION);
    assert_int_equal(zoo_set_acl(zh, "/acl", 0, &two), ZOK);
    assert_int_equal(zoo_get_acl(zh, "/acl", &acl, &st), ZOK);
    assert_int_equal(acl.count, 2);
    assert_int_equal(acl.data[0].perms, ZOO_PERM_READ | ZOO_PERM_ADMIN);
    assert_string_equal(acl.data[1].id.scheme, "ip");
    assert_string_equal(acl.data[1].id.id, "127.0.0.1");
    assert_int_equal(st.aversion, 1);
    assert_int_equal(st.version, 0); /* ACL changes do not bump the data version */
    deallocate_ACL_vector(&acl);

    assert_int_equal(zoo_set_acl(zh, "/acl", 0, &ZOO_OPEN_ACL_UNSAFE), ZBADVERSION);
    assert_int_equal(zoo_set_acl(zh, "/acl", -1, &ZOO_OPEN_ACL_UNSAFE), ZOK);
    assert_int_equal(zoo_exists(zh, "/acl", 0, &st), ZOK);
    assert_int_equal(st.aversion, 2);
    assert_int_equal(zoo_get_acl(zh, "/acl-missing", &acl, &st), ZNONODE);
    assert_int_equal(zoo_set_acl(zh, "/acl-missing", -1, &ZOO_OPEN_ACL_UNSAFE), ZNONODE);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_get_children_and_children2(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zkc_mkdir(zh, "/gc"), ZOK);
    const char *names[] = {"c", "a", "b", "dd"};
    char path[64];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/gc/%s", names[i]);
        assert_int_equal(zkc_mkdir(zh, path), ZOK);
    }
    assert_int_equal(zkc_mkdir(zh, "/gc/a/nested"), ZOK);

    struct String_vector kids;
    assert_int_equal(zoo_get_children(zh, "/gc", 0, &kids), ZOK);
    assert_int_equal(kids.count, 4);
    qsort(kids.data, (size_t)kids.count, sizeof kids.data[0], cmp_str);
    assert_string_equal(kids.data[0], "a");
    assert_string_equal(kids.data[1], "b");
    assert_string_equal(kids.data[2], "c");
    assert_string_equal(kids.data[3], "dd");
    deallocate_String_vector(&kids);

    struct Stat st, st2;
    assert_int_equal(zoo_get_children2(zh, "/gc", 0, &kids, &st), ZOK);
    assert_int_equal(kids.count, 4);
    deallocate_String_vector(&kids);
    assert_int_equal(zoo_exists(zh, "/gc", 0, &st2), ZOK);
    assert_stat_equal(&st, &st2);
    assert_int_equal(st.numChildren, 4);

    assert_int_equal(zoo_get_children(zh, "/gc/b", 0, &kids), ZOK);
    assert_int_equal(kids.count, 0);
    deallocate_String_vector(&kids);
    assert_int_equal(zoo_get_children(zh, "/gc-missing", 0, &kids), ZNONODE);
    assert_int_equal(zoo_get_children2(zh, "/gc-missing", 0, &kids, &st), ZNONODE);
}

static void test_sync_echoes_path(void **state)
{
    zhandle_t *zh = ZH(state);
    char out[256];
    assert_int_equal(zkc_mkdir(zh, "/sync"), ZOK);
    assert_int_equal(zkc_sync(zh, "/sync", out, sizeof out), ZOK);
    assert_string_equal(out, "/sync");
    /* The path need not exist. */
    assert_int_equal(zkc_sync(zh, "/sync/not-there", out, sizeof out), ZOK);
    assert_string_equal(out, "/sync/not-there");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_persistent_and_ephemeral, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_create_sequential_suffix_from_parent_cversion, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_create2_returns_stat, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_create_container_and_ttl, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_delete_checks_version_and_children, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_exists_present_and_missing, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_get_set_data_versions_and_stat, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_parent_stat_tracks_children, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_acl_get_set_checks_aversion, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_get_children_and_children2, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_sync_echoes_path, zkc_setup, zkc_teardown),
    };
    static const char *const settings[] = {"zookeeper.extendedTypesEnabled=true", "maxSessionTimeout=30000", NULL};
    return ZKH_RUN("itest_nodes", tests, settings);
}
