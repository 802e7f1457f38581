/*
 * Integration tests for authentication and ACLs through the official C
 * client (plus the raw client for the auth-failure close): digest auth,
 * the world / digest / ip / auth schemes, NOAUTH per operation, INVALIDACL
 * cases, ADMIN for setACL, DELETE on the parent, and a superDigest user who
 * may do everything.
 *
 * Digests are base64(sha1("user:password")), the form ZooKeeper stores.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "harness.h"
#include "raw.h"
#include "zkclient.h"

#define ZH(state) (((struct zkc_client *)*(state))->zh)

/* u:p and super:secret */
#define DIGEST_U "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="
#define SUPER_DIGEST "super:lK75jTNcA+U9vtVEw5vB51mj/w4="

static struct ACL_vector one_acl(struct ACL *a, int perms, char *scheme, char *id)
{
    a->perms = perms;
    a->id.scheme = scheme;
    a->id.id = id;
    struct ACL_vector v = {1, a};
    return v;
}

static void test_digest_acl_requires_matching_auth(void **state)
{
    zhandle_t *owner = ZH(state);
    assert_int_equal(zkc_add_auth(owner, "digest", "u:p"), ZOK);
    struct ACL a;
    struct ACL_vector acl = one_acl(&a, ZOO_PERM_ALL, "digest", DIGEST_U);
    assert_int_equal(zoo_create(owner, "/dg", "secret", 6, &acl, ZOO_PERSISTENT, NULL, 0), ZOK);
    char buf[32];
    int len = sizeof buf;
    assert_int_equal(zoo_get(owner, "/dg", 0, buf, &len, NULL), ZOK);

    struct zkc_client *other = zkc_open(10000, NULL);
    assert_non_null(other);
    struct Stat st;
    len = sizeof buf;
    assert_int_equal(zoo_get(other->zh, "/dg", 0, buf, &len, NULL), ZNOAUTH);
    assert_int_equal(zoo_set(other->zh, "/dg", "x", 1, -1), ZNOAUTH);
    struct String_vector kids;
    assert_int_equal(zoo_get_children(other->zh, "/dg", 0, &kids), ZNOAUTH);
    assert_int_equal(zoo_create(other->zh, "/dg/c", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZNOAUTH);
    assert_int_equal(zoo_set_acl(other->zh, "/dg", -1, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH);
    struct ACL_vector got;
    assert_int_equal(zoo_get_acl(other->zh, "/dg", &got, &st), ZNOAUTH);
    /* exists and sync do no ACL check. */
    assert_int_equal(zoo_exists(other->zh, "/dg", 0, &st), ZOK);
    assert_int_equal(st.dataLength, 6);

    /* A wrong password is accepted as an identity but does not match. */
    assert_int_equal(zkc_add_auth(other->zh, "digest", "u:wrong"), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(other->zh, "/dg", 0, buf, &len, NULL), ZNOAUTH);
    /* The right one does (identities accumulate). */
    assert_int_equal(zkc_add_auth(other->zh, "digest", "u:p"), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(other->zh, "/dg", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "secret", 6);
    zkc_close(other);

    /* The owner can hand the node back to everyone. */
    assert_int_equal(zoo_set_acl(owner, "/dg", -1, &ZOO_OPEN_ACL_UNSAFE), ZOK);
}

static void test_auth_scheme_expands_to_caller_identities(void **state)
{
    zhandle_t *zh = ZH(state);
    /* Without any identity the auth scheme has nothing to expand to. */
    assert_int_equal(zoo_create(zh, "/au-none", NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT,
                                NULL, 0),
                     ZINVALIDACL);
    assert_int_equal(zkc_add_auth(zh, "digest", "u:p"), ZOK);
    assert_int_equal(zoo_create(zh, "/au", NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    struct ACL_vector got;
    struct Stat st;
    assert_int_equal(zoo_get_acl(zh, "/au", &got, &st), ZOK);
    assert_int_equal(got.count, 1);
    assert_int_equal(got.data[0].perms, ZOO_PERM_ALL);
    assert_string_equal(got.data[0].id.scheme, "digest");
    assert_string_equal(got.data[0].id.id, DIGEST_U);
    deallocate_ACL_vector(&got);

    struct zkc_client *other = zkc_open(10000, NULL);
    assert_non_null(other);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(other->zh, "/au", 0, buf, &len, NULL), ZNOAUTH);
    zkc_close(other);
}

static void test_ip_acl_matches_client_address(void **state)
{
    zhandle_t *zh = ZH(state);
    struct ACL a;
    struct ACL_vector local = one_acl(&a, ZOO_PERM_READ, "ip", "127.0.0.1");
    assert_int_equal(zoo_create(zh, "/ip-local", "l", 1, &local, ZOO_PERSISTENT, NULL, 0), ZOK);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/ip-local", 0, buf, &len, NULL), ZOK);
    assert_int_equal(zoo_set(zh, "/ip-local", "x", 1, -1), ZNOAUTH); /* READ only */

    struct ACL b;
    struct ACL_vector subnet = one_acl(&b, ZOO_PERM_ALL, "ip", "127.0.0.0/8");
    assert_int_equal(zoo_create(zh, "/ip-net", NULL, -1, &subnet, ZOO_PERSISTENT, NULL, 0), ZOK);
    assert_int_equal(zoo_set(zh, "/ip-net", "x", 1, -1), ZOK);

    struct ACL c;
    struct ACL_vector remote = one_acl(&c, ZOO_PERM_ALL, "ip", "10.1.2.3");
    assert_int_equal(zoo_create(zh, "/ip-remote", NULL, -1, &remote, ZOO_PERSISTENT, NULL, 0), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/ip-remote", 0, buf, &len, NULL), ZNOAUTH);
    assert_int_equal(zoo_exists(zh, "/ip-remote", 0, NULL), ZOK);
}

static void test_world_read_only_acl(void **state)
{
    zhandle_t *zh = ZH(state);
    assert_int_equal(zoo_create(zh, "/ro", "r", 1, &ZOO_READ_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    char buf[8];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/ro", 0, buf, &len, NULL), ZOK);
    assert_int_equal(zoo_set(zh, "/ro", "w", 1, -1), ZNOAUTH);
    assert_int_equal(zoo_create(zh, "/ro/child", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                NULL, 0),
                     ZNOAUTH);
    assert_int_equal(zoo_set_acl(zh, "/ro", -1, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH);
    struct ACL_vector got;
    struct Stat st;
    assert_int_equal(zoo_get_acl(zh, "/ro", &got, &st), ZOK); /* READ suffices */
    assert_int_equal(got.count, 1);
    assert_int_equal(got.data[0].perms, ZOO_PERM_READ);
    deallocate_ACL_vector(&got);
    /* Deleting the node itself needs DELETE on the parent (/), which is open. */
    assert_int_equal(zoo_delete(zh, "/ro", -1), ZOK);
}

static void test_delete_needs_delete_on_parent(void **state)
{
    zhandle_t *zh = ZH(state);
    struct ACL a;
    struct ACL_vector no_delete = one_acl(&a, ZOO_PERM_ALL & ~ZOO_PERM_DELETE, "world", "anyone");
    assert_int_equal(zoo_create(zh, "/nd", NULL, -1, &no_delete, ZOO_PERSISTENT, NULL, 0), ZOK);
    assert_int_equal(zoo_create(zh, "/nd/c", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                0),
                     ZOK);
    assert_int_equal(zoo_delete(zh, "/nd/c", -1), ZNOAUTH);
    assert_int_equal(zoo_exists(zh, "/nd/c", 0, NULL), ZOK);

    struct ACL b;
    struct ACL_vector no_create = one_acl(&b, ZOO_PERM_ALL & ~ZOO_PERM_CREATE, "world", "anyone");
    assert_int_equal(zoo_set_acl(zh, "/nd", -1, &no_create), ZOK);
    assert_int_equal(zoo_create(zh, "/nd/d", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                0),
                     ZNOAUTH);
    assert_int_equal(zoo_delete(zh, "/nd/c", -1), ZOK);
}

static void test_invalid_acls_are_rejected(void **state)
{
    zhandle_t *zh = ZH(state);
    struct ACL_vector empty = {0, NULL};
    assert_int_equal(zoo_create(zh, "/inv", NULL, -1, &empty, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);

    struct ACL a;
    struct ACL_vector v = one_acl(&a, ZOO_PERM_ALL, "nosuchscheme", "x");
    assert_int_equal(zoo_create(zh, "/inv", NULL, -1, &v, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);
    v = one_acl(&a, ZOO_PERM_ALL, "ip", "not-an-address");
    assert_int_equal(zoo_create(zh, "/inv", NULL, -1, &v, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);
    v = one_acl(&a, ZOO_PERM_ALL, "digest", "no-colon-here");
    assert_int_equal(zoo_create(zh, "/inv", NULL, -1, &v, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);
    v = one_acl(&a, ZOO_PERM_ALL, "world", "someone");
    assert_int_equal(zoo_create(zh, "/inv", NULL, -1, &v, ZOO_PERSISTENT, NULL, 0), ZINVALIDACL);
    assert_int_equal(zoo_exists(zh, "/inv", 0, NULL), ZNONODE);

    /* setACL validates the same way and leaves the ACL alone. */
    assert_int_equal(zoo_create(zh, "/inv2", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                                0),
                     ZOK);
    assert_int_equal(zoo_set_acl(zh, "/inv2", -1, &empty), ZINVALIDACL);
    v = one_acl(&a, ZOO_PERM_ALL, "ip", "999.1.1.1");
    assert_int_equal(zoo_set_acl(zh, "/inv2", -1, &v), ZINVALIDACL);
    struct Stat st;
    assert_int_equal(zoo_exists(zh, "/inv2", 0, &st), ZOK);
    assert_int_equal(st.aversion, 0);
}

static void test_super_digest_bypasses_acls(void **state)
{
    zhandle_t *zh = ZH(state);
    struct ACL a;
    struct ACL_vector remote = one_acl(&a, ZOO_PERM_READ, "ip", "10.9.9.9");
    assert_int_equal(zoo_create(zh, "/sup", "locked", 6, &remote, ZOO_PERSISTENT, NULL, 0), ZOK);
    char buf[16];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/sup", 0, buf, &len, NULL), ZNOAUTH);

    struct zkc_client *root = zkc_open(10000, NULL);
    assert_non_null(root);
    assert_int_equal(zkc_add_auth(root->zh, "digest", "super:secret"), ZOK);
    len = sizeof buf;
    assert_int_equal(zoo_get(root->zh, "/sup", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 6);
    assert_int_equal(zoo_set(root->zh, "/sup", "open", 4, -1), ZOK);
    assert_int_equal(zoo_create(root->zh, "/sup/kid", NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT, NULL, 0),
                     ZOK);
    assert_int_equal(zoo_set_acl(root->zh, "/sup", -1, &ZOO_OPEN_ACL_UNSAFE), ZOK);
    zkc_close(root);

    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/sup", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "open", 4);
}

static void test_unknown_auth_scheme_fails_and_closes(void **state)
{
    (void)state;
    struct zkr_conn good, bad;
    assert_int_equal(zkr_connect(&good, zkh_server_port(zkh_current), 10000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_connect(&bad, zkh_server_port(zkh_current), 10000, 0, NULL, 5000), 0);
    assert_int_equal(zkr_auth(&bad, "nosuchscheme", "whatever"), -115); /* AUTHFAILED */
    assert_int_equal(zkr_wait_closed(&bad, 5000, NULL), 0);
    zkr_close(&bad);
    /* A good digest auth works on the other connection. */
    assert_int_equal(zkr_auth(&good, "digest", "u:p"), 0);
    assert_int_equal(zkr_ping(&good), 0);
    assert_int_equal(zkr_close_session(&good), 0);
    zkr_close(&good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digest_acl_requires_matching_auth, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_auth_scheme_expands_to_caller_identities, zkc_setup,
                                        zkc_teardown),
        cmocka_unit_test_setup_teardown(test_ip_acl_matches_client_address, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_world_read_only_acl, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_delete_needs_delete_on_parent, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_acls_are_rejected, zkc_setup, zkc_teardown),
        cmocka_unit_test_setup_teardown(test_super_digest_bypasses_acls, zkc_setup, zkc_teardown),
        cmocka_unit_test(test_unknown_auth_scheme_fails_and_closes),
    };
    static const char *const settings[] = {
        "zookeeper.DigestAuthenticationProvider.superDigest=" SUPER_DIGEST,
        "maxSessionTimeout=60000", NULL};
    return ZKH_RUN("itest_acl", tests, settings);
}
