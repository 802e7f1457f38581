/*
 * Unit tests for core/acl.c: SHA-1 and base64 against their standard test
 * vectors, digest ids against values produced by ZooKeeper 3.8.0 itself,
 * and the matching, checking, validation, auth and masking rules of
 * ZooKeeper's checkACL, fixupACL and authentication providers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

#define U_P_DIGEST "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="
#define V_Q_DIGEST "v:Mfy8apI9YguGKmh+AxUmAFSwkII="
#define SUPER_DIGEST "super:0bX78nEegDzJM3ju0iLBEJdWzjg="

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void sha1_hex(const void *data, size_t len, char hex[41])
{
    uint8_t md[20];
    acl_sha1(data, len, md);
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static struct acl_id mkid(const char *scheme, const char *id)
{
    return (struct acl_id){.scheme = (char *)scheme, .id = (char *)id};
}

static struct acl_entry mkacl(int32_t perms, const char *scheme, const char *id)
{
    return (struct acl_entry){.perms = perms, .id = mkid(scheme, id)};
}

static bool ip_matches(const char *want, const char *have)
{
    struct acl_id w = mkid("ip", want), h = mkid("ip", have);
    return acl_id_matches(&w, &h);
}

static void add_cred(struct acl_auth *auth, const char *scheme, const char *cred, int expect)
{
    assert_int_equal(acl_auth_add(auth, scheme, (const uint8_t *)cred, strlen(cred)), expect);
}

static bool auth_has(const struct acl_auth *auth, const char *scheme, const char *id)
{
    for (size_t i = 0; i < auth->nids; i++)
        if (strcmp(auth->ids[i].scheme, scheme) == 0 && strcmp(auth->ids[i].id, id) == 0)
            return true;
    return false;
}

/* Runs acl_fixup on one entry without any caller identity. */
static int fixup_one(const char *scheme, const char *id)
{
    struct acl_entry in = mkacl(ZK_PERM_ALL, scheme, id);
    struct acl_entry *out = (struct acl_entry *)&in; /* must be reset */
    size_t nout = 99;
    int rc = acl_fixup(&in, 1, NULL, &out, &nout);
    if (rc == 0) {
        assert_int_equal(nout, 1);
        assert_string_equal(out[0].id.scheme, scheme);
        assert_string_equal(out[0].id.id, id);
        assert_ptr_not_equal(out[0].id.id, id);
    } else {
        assert_null(out);
        assert_int_equal(nout, 0);
    }
    acl_entries_free(out, nout);
    return rc;
}

/* A malloc'ed one-entry list, as getACL would hand to acl_mask_digest. */
static struct acl_entry *owned_entry(const char *scheme, const char *id)
{
    struct acl_entry *e = malloc(sizeof *e);
    assert_non_null(e);
    e->perms = ZK_PERM_READ;
    e->id.scheme = strdup(scheme);
    e->id.id = strdup(id);
    return e;
}

static void assert_masked(const char *scheme, const char *id, const char *expect)
{
    struct acl_entry *e = owned_entry(scheme, id);
    acl_mask_digest(e, 1);
    assert_string_equal(e->id.scheme, scheme);
    assert_string_equal(e->id.id, expect);
    assert_int_equal(e->perms, ZK_PERM_READ);
    acl_entries_free(e, 1);
}

/* ------------------------------------------------------------------------ */
/* SHA-1 and base64                                                          */
/* ------------------------------------------------------------------------ */

static void test_sha1_fips_vectors(void **state)
{
    (void)state;
    char hex[41];
    sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(m448, strlen(m448), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_sha1_million_a(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    char hex[41];
    sha1_hex(a, n, hex);
    free(a);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Lengths around the 56-byte padding boundary and the 64-byte block. */
static void test_sha1_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char buf[128];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hex[41];
        sha1_hex(buf, cases[i].len, hex);
        assert_string_equal(hex, cases[i].hex);
    }
}

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const expect[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
    };
    const uint8_t *in = (const uint8_t *)"foobar";
    for (size_t len = 0; len <= 6; len++) {
        char out[16];
        memset(out, '#', sizeof out);
        acl_base64(in, len, out);
        assert_string_equal(out, expect[len]);
        /* Exactly the documented size is used, NUL included. */
        assert_int_equal(out[4 * ((len + 2) / 3) + 1], '#');
    }
}

static void test_base64_uses_plus_and_slash(void **state)
{
    (void)state;
    char out[16];
    acl_base64((const uint8_t *)"\xff\xfe\xfd", 3, out);
    assert_string_equal(out, "//79");
    acl_base64((const uint8_t *)"\xfb\xef", 2, out);
    assert_string_equal(out, "++8=");
    acl_base64((const uint8_t *)"\x00", 1, out);
    assert_string_equal(out, "AA==");
}

/* ------------------------------------------------------------------------ */
/* digest ids                                                                */
/* ------------------------------------------------------------------------ */

static void test_digest_generate_matches_zookeeper(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"u:p", U_P_DIGEST},
        {"super:pw", SUPER_DIGEST},
        {"u:", "u:IX23jg4I7W2/R//KoV8VL1UfuBM="},
        {":p", ":LlDE5iroUDDm9zdvmLsfjkUvn0k="},
        /* The user ends at the FIRST ':'; the hash covers all of it. */
        {"a:b:c", "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = acl_digest_generate(cases[i].in);
        assert_non_null(d);
        assert_string_equal(d, cases[i].out);
        free(d);
    }
}

static void test_digest_generate_refuses_missing_colon(void **state)
{
    (void)state;
    assert_null(acl_digest_generate("nocolon"));
    assert_null(acl_digest_generate(""));
    assert_null(acl_digest_generate(NULL));
}

/* ------------------------------------------------------------------------ */
/* acl_id_matches                                                            */
/* ------------------------------------------------------------------------ */

static void test_match_world_digest_and_exact_schemes(void **state)
{
    (void)state;
    struct acl_id anyone = mkid("world", "anyone"), nobody = mkid("world", "nobody");
    struct acl_id up = mkid("digest", U_P_DIGEST), vq = mkid("digest", V_Q_DIGEST);
    struct acl_id ip = mkid("ip", "127.0.0.1");
    assert_true(acl_id_matches(&anyone, &up));
    assert_true(acl_id_matches(&anyone, &ip));
    assert_false(acl_id_matches(&nobody, &ip));
    assert_true(acl_id_matches(&up, &up));
    assert_false(acl_id_matches(&up, &vq));

    /* Same id text, different scheme: never a match. */
    struct acl_id ip_as_digest = mkid("digest", "127.0.0.1");
    assert_false(acl_id_matches(&ip, &ip_as_digest));
    assert_false(acl_id_matches(&ip_as_digest, &ip));

    struct acl_id au = mkid("auth", "x"), au2 = mkid("auth", "x");
    assert_true(acl_id_matches(&au, &au2));
    struct acl_id foo = mkid("foo", "bar"), foo2 = mkid("foo", "bar");
    assert_false(acl_id_matches(&foo, &foo2));
}

static void test_match_ip_exact_and_cidr_v4(void **state)
{
    (void)state;
    assert_true(ip_matches("10.1.2.3", "10.1.2.3"));
    assert_false(ip_matches("10.1.2.3", "10.1.2.4"));
    assert_true(ip_matches("10.0.0.0/8", "10.200.3.4"));
    assert_false(ip_matches("10.0.0.0/8", "11.0.0.1"));
    /* Host bits in the ACL address are masked away too. */
    assert_true(ip_matches("10.9.9.9/8", "10.0.0.1"));
    /* Bit counts that do not fall on a byte boundary. */
    assert_true(ip_matches("1.2.3.4/31", "1.2.3.5"));
    assert_false(ip_matches("1.2.3.4/31", "1.2.3.6"));
    assert_true(ip_matches("192.168.0.0/23", "192.168.1.255"));
    assert_false(ip_matches("192.168.0.0/23", "192.168.2.0"));
}

static void test_match_ip_prefix_edges(void **state)
{
    (void)state;
    assert_true(ip_matches("0.0.0.0/0", "255.255.255.255"));
    assert_true(ip_matches("9.9.9.9/0", "1.2.3.4"));
    assert_true(ip_matches("1.2.3.4/32", "1.2.3.4"));
    assert_false(ip_matches("1.2.3.4/32", "1.2.3.5"));
    assert_false(ip_matches("1.2.3.4/33", "1.2.3.4"));
    assert_false(ip_matches("1.2.3.4/-1", "1.2.3.4"));
    /* Integer.parseInt accepts a sign: "-0" is 0 bits, "+8" is 8. */
    assert_true(ip_matches("1.2.3.4/-0", "200.1.1.1"));
    assert_true(ip_matches("1.2.3.4/+8", "1.9.9.9"));
}

static void test_match_ip_java_number_syntax(void **state)
{
    (void)state;
    /* Octets are decimal Java ints: leading zeros and a sign are fine. */
    assert_true(ip_matches("010.2.3.4", "10.2.3.4"));
    assert_true(ip_matches("+1.2.3.4", "1.2.3.4"));
    assert_true(ip_matches("-0.0.0.0", "0.0.0.0"));
    assert_true(ip_matches("1.2.3.4", "001.002.003.004"));
}

static void test_match_ip_v6(void **state)
{
    (void)state;
    assert_true(ip_matches("::1", "0:0:0:0:0:0:0:1"));
    assert_true(ip_matches("::1/128", "::1"));
    assert_false(ip_matches("::1/128", "::2"));
    assert_false(ip_matches("::1/129", "::1"));
    assert_true(ip_matches("::/0", "2001:db8::1"));
    assert_true(ip_matches("2001:db8::/32", "2001:db8:ffff::5"));
    assert_false(ip_matches("2001:db8::/32", "2001:db9::1"));
    assert_true(ip_matches("2001:db8::/33", "2001:db8:7fff::1"));
    assert_false(ip_matches("2001:db8::/33", "2001:db8:8000::1"));
}

static void test_match_ip_families_never_mix(void **state)
{
    (void)state;
    assert_false(ip_matches("0.0.0.0/0", "::1"));
    assert_false(ip_matches("::/0", "127.0.0.1"));
    assert_false(ip_matches("1.2.3.4", "::ffff:1.2.3.4"));
    assert_false(ip_matches("::ffff:1.2.3.4", "1.2.3.4"));
}

static void test_match_ip_garbage_never_matches(void **state)
{
    (void)state;
    static const char *const bad_acl[] = {
        "", "/8", "1.2.3", "1.2.3.4.", ".1.2.3", "1..2.3", "256.0.0.1", "1.2.3.-1",
        "a.b.c.d", "1.2.3.4/", "1.2.3.4/8/9", "1.2.3.4/x", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.4/ 8", "1.2.3.4/99999999999", "99999999999.1.1.1", "+.1.2.3",
        "localhost", ":::1", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0",
    };
    for (size_t i = 0; i < sizeof bad_acl / sizeof bad_acl[0]; i++) {
        /* Even /0 of the right family would have matched these callers. */
        assert_false(ip_matches(bad_acl[i], "1.2.3.4"));
        assert_false(ip_matches(bad_acl[i], "::1"));
        assert_false(ip_matches(bad_acl[i], bad_acl[i]));
    }
    /* A malformed caller address never matches either. */
    assert_false(ip_matches("0.0.0.0/0", "garbage"));
    assert_false(ip_matches("0.0.0.0/0", "1.2.3.4/8"));
    assert_false(ip_matches("0.0.0.0/0", ""));
    assert_false(ip_matches("::/0", "::1/128"));
}

/* ------------------------------------------------------------------------ */
/* acl_check                                                                 */
/* ------------------------------------------------------------------------ */

static void test_check_empty_list_allows_anyone(void **state)
{
    (void)state;
    assert_true(acl_check(NULL, 0, ZK_PERM_ADMIN, NULL, NULL));
    struct acl_entry one = mkacl(ZK_PERM_READ, "digest", U_P_DIGEST);
    assert_true(acl_check(&one, 0, ZK_PERM_ADMIN, NULL, NULL));
}

static void test_check_world_anyone_needs_the_bit(void **state)
{
    (void)state;
    struct acl_entry acl[] = {mkacl(ZK_PERM_READ, "world", "anyone")};
    assert_true(acl_check(acl, 1, ZK_PERM_READ, NULL, NULL));
    assert_false(acl_check(acl, 1, ZK_PERM_WRITE, NULL, NULL));
    /* getACL asks for READ|ADMIN: any one of the bits is enough. */
    assert_true(acl_check(acl, 1, ZK_PERM_READ | ZK_PERM_ADMIN, NULL, NULL));
    struct acl_entry other[] = {mkacl(ZK_PERM_ALL, "world", "someone")};
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "world", "someone"), 0);
    /* world has no provider: only the literal world:anyone grants. */
    assert_false(acl_check(other, 1, ZK_PERM_READ, &auth, NULL));
    acl_auth_free(&auth);
}

static void test_check_digest_and_ip_identities(void **state)
{
    (void)state;
    struct acl_entry acl[] = {
        mkacl(ZK_PERM_READ, "ip", "10.0.0.0/8"),
        mkacl(ZK_PERM_ALL, "digest", U_P_DIGEST),
    };
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "10.1.1.1"), 0);
    assert_true(acl_check(acl, 2, ZK_PERM_READ, &auth, NULL));
    assert_false(acl_check(acl, 2, ZK_PERM_WRITE, &auth, NULL));

    add_cred(&auth, "digest", "v:q", 0);
    assert_false(acl_check(acl, 2, ZK_PERM_WRITE, &auth, NULL));
    add_cred(&auth, "digest", "u:p", 0);
    assert_true(acl_check(acl, 2, ZK_PERM_WRITE, &auth, NULL));
    acl_auth_free(&auth);

    assert_int_equal(acl_auth_add_id(&auth, "ip", "192.168.1.1"), 0);
    assert_false(acl_check(acl, 2, ZK_PERM_READ, &auth, NULL));
    acl_auth_free(&auth);
    assert_false(acl_check(acl, 2, ZK_PERM_READ, NULL, NULL));
}

static void test_check_super_identity_passes_everything(void **state)
{
    (void)state;
    struct acl_entry acl[] = {mkacl(ZK_PERM_READ, "digest", U_P_DIGEST)};
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "super", ""), 0);
    assert_true(acl_check(acl, 1, ZK_PERM_ADMIN, &auth, NULL));
    acl_auth_free(&auth);
}

static void test_check_super_digest_passes(void **state)
{
    (void)state;
    struct acl_entry acl[] = {mkacl(ZK_PERM_READ, "digest", U_P_DIGEST)};
    struct acl_auth auth = {0};
    add_cred(&auth, "digest", "super:pw", 0);
    assert_true(acl_check(acl, 1, ZK_PERM_ADMIN, &auth, SUPER_DIGEST));
    /* Without the configured value, "super" is just another user. */
    assert_false(acl_check(acl, 1, ZK_PERM_ADMIN, &auth, NULL));
    acl_auth_free(&auth);

    add_cred(&auth, "digest", "super:wrong", 0);
    assert_false(acl_check(acl, 1, ZK_PERM_ADMIN, &auth, SUPER_DIGEST));
    acl_auth_free(&auth);
}

/* ------------------------------------------------------------------------ */
/* acl_fixup                                                                 */
/* ------------------------------------------------------------------------ */

static void test_fixup_empty_list_is_invalid(void **state)
{
    (void)state;
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(NULL, 0, NULL, &out, &nout), -1);
    struct acl_entry one = mkacl(ZK_PERM_ALL, "world", "anyone");
    assert_int_equal(acl_fixup(&one, 0, NULL, &out, &nout), -1);
    assert_null(out);
}

static void test_fixup_schemes(void **state)
{
    (void)state;
    assert_int_equal(fixup_one("world", "anyone"), 0);
    assert_int_equal(fixup_one("world", "foo"), -1);
    assert_int_equal(fixup_one("world", ""), -1);
    assert_int_equal(fixup_one("super", ""), -1);
    assert_int_equal(fixup_one("foo", "bar"), -1);
    assert_int_equal(fixup_one("", ""), -1);
    struct acl_entry *out = NULL;
    size_t nout = 0;
    struct acl_entry nulls = mkacl(ZK_PERM_ALL, NULL, "x");
    assert_int_equal(acl_fixup(&nulls, 1, NULL, &out, &nout), -1);
    nulls = mkacl(ZK_PERM_ALL, "digest", NULL);
    assert_int_equal(acl_fixup(&nulls, 1, NULL, &out, &nout), -1);
}

/* Java's id.split(":").length == 2 drops trailing empty fields. */
static void test_fixup_digest_id_syntax(void **state)
{
    (void)state;
    assert_int_equal(fixup_one("digest", U_P_DIGEST), 0);
    assert_int_equal(fixup_one("digest", "u:h"), 0);
    assert_int_equal(fixup_one("digest", "u:h:"), 0);
    assert_int_equal(fixup_one("digest", "a:b::"), 0);
    assert_int_equal(fixup_one("digest", ":h"), 0);
    assert_int_equal(fixup_one("digest", "u:"), -1);
    assert_int_equal(fixup_one("digest", "u:h:x"), -1);
    assert_int_equal(fixup_one("digest", "u::h"), -1);
    assert_int_equal(fixup_one("digest", "nocolon"), -1);
    assert_int_equal(fixup_one("digest", ""), -1);
    assert_int_equal(fixup_one("digest", ":"), -1);
    assert_int_equal(fixup_one("digest", ":::"), -1);
}

static void test_fixup_ip_id_syntax(void **state)
{
    (void)state;
    static const char *const good[] = {
        "127.0.0.1", "127.0.0.1/0", "127.0.0.1/32", "1.2.3.4/-0", "+1.2.3.4",
        "01.2.3.4", "-0.0.0.0", "::1", "::1/128", "2001:db8::/32", "::/0",
    };
    static const char *const bad[] = {
        "127.0.0.1/33", "1.2.3", "1.2.3.4/", "1.2.3.4/8/9", "1.2.3.4 ", "1.2.3.4/ 8",
        "1.2.3.4.", "256.1.1.1", "", "::1/129", "::1/-1", "host", "1.2.3.4/x",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(fixup_one("ip", good[i]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fixup_one("ip", bad[i]), -1);
}

static void test_fixup_keeps_any_perms(void **state)
{
    (void)state;
    struct acl_entry in[] = {
        mkacl(0, "world", "anyone"),
        mkacl(64, "ip", "1.2.3.4"),
        mkacl(-1, "digest", "u:h"),
    };
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 3, NULL, &out, &nout), 0);
    assert_int_equal(nout, 3);
    assert_int_equal(out[0].perms, 0);
    assert_int_equal(out[1].perms, 64);
    assert_int_equal(out[2].perms, -1);
    acl_entries_free(out, nout);
}

static void test_fixup_removes_exact_duplicates_only(void **state)
{
    (void)state;
    struct acl_entry in[] = {
        mkacl(ZK_PERM_ALL, "world", "anyone"),
        mkacl(ZK_PERM_ALL, "world", "anyone"),
        mkacl(ZK_PERM_READ, "world", "anyone"),
        mkacl(ZK_PERM_ALL, "world", "anyone"),
    };
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 4, NULL, &out, &nout), 0);
    assert_int_equal(nout, 2);
    assert_int_equal(out[0].perms, ZK_PERM_ALL);
    assert_int_equal(out[1].perms, ZK_PERM_READ);
    assert_string_equal(out[1].id.id, "anyone");
    acl_entries_free(out, nout);
}

static void test_fixup_auth_expands_to_digest_identities(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    add_cred(&auth, "digest", "u:p", 0);
    add_cred(&auth, "digest", "v:q", 0);
    struct acl_entry in[] = {
        mkacl(ZK_PERM_READ, "world", "anyone"),
        mkacl(ZK_PERM_ALL, "auth", "ignored"),
    };
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 2, &auth, &out, &nout), 0);
    assert_int_equal(nout, 3);
    assert_string_equal(out[0].id.scheme, "world");
    assert_int_equal(out[1].perms, ZK_PERM_ALL);
    assert_string_equal(out[1].id.scheme, "digest");
    assert_string_equal(out[1].id.id, U_P_DIGEST);
    assert_int_equal(out[2].perms, ZK_PERM_ALL);
    assert_string_equal(out[2].id.id, V_Q_DIGEST);
    /* The output owns copies, not the caller's strings. */
    assert_ptr_not_equal(out[1].id.id, auth.ids[1].id);
    acl_entries_free(out, nout);
    acl_auth_free(&auth);
}

/* Duplicates are removed before expansion, so expansion can add one back. */
static void test_fixup_auth_duplicates_follow_zookeeper(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    add_cred(&auth, "digest", "u:p", 0);
    add_cred(&auth, "digest", "v:q", 0);
    struct acl_entry in[] = {
        mkacl(ZK_PERM_ALL, "auth", ""),
        mkacl(ZK_PERM_ALL, "digest", U_P_DIGEST),
        mkacl(ZK_PERM_ALL, "auth", ""),
    };
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 3, &auth, &out, &nout), 0);
    assert_int_equal(nout, 3);
    assert_string_equal(out[0].id.id, U_P_DIGEST);
    assert_string_equal(out[1].id.id, V_Q_DIGEST);
    assert_string_equal(out[2].id.id, U_P_DIGEST);
    acl_entries_free(out, nout);
    acl_auth_free(&auth);
}

static void test_fixup_auth_without_authenticated_id_is_invalid(void **state)
{
    (void)state;
    struct acl_entry in[] = {mkacl(ZK_PERM_ALL, "auth", "")};
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 1, NULL, &out, &nout), -1);

    /* ip and super identities are not "authenticated" ones. */
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    assert_int_equal(acl_auth_add_id(&auth, "super", ""), 0);
    assert_int_equal(acl_fixup(in, 1, &auth, &out, &nout), -1);
    assert_null(out);
    assert_int_equal(nout, 0);
    acl_auth_free(&auth);
}

static void test_fixup_one_bad_entry_fails_the_list(void **state)
{
    (void)state;
    struct acl_entry in[] = {
        mkacl(ZK_PERM_ALL, "world", "anyone"),
        mkacl(ZK_PERM_ALL, "ip", "1.2.3.4/40"),
    };
    struct acl_entry *out = NULL;
    size_t nout = 0;
    assert_int_equal(acl_fixup(in, 2, NULL, &out, &nout), -1);
    assert_null(out);
}

/* ------------------------------------------------------------------------ */
/* acl_auth_add                                                              */
/* ------------------------------------------------------------------------ */

static void test_auth_digest_adds_generated_id(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    add_cred(&auth, "digest", "u:p", 0);
    assert_int_equal(auth.nids, 1);
    assert_string_equal(auth.ids[0].scheme, "digest");
    assert_string_equal(auth.ids[0].id, U_P_DIGEST);
    acl_auth_free(&auth);
    assert_null(auth.ids);
    assert_int_equal(auth.nids, 0);
}

/* ZooKeeper accepts these; the values come from its generateDigest. */
static void test_auth_digest_odd_credentials_accepted(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    add_cred(&auth, "digest", "nocolon", 0);
    add_cred(&auth, "digest", "u:", 0);
    add_cred(&auth, "digest", "", 0);
    add_cred(&auth, "digest", "a:b:c", 0);
    assert_int_equal(auth.nids, 4);
    assert_true(auth_has(&auth, "digest", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="));
    assert_true(auth_has(&auth, "digest", "u:IX23jg4I7W2/R//KoV8VL1UfuBM="));
    assert_true(auth_has(&auth, "digest", ":2jmj7l5rSw0yVb/vlWAYkK/YBwk="));
    assert_true(auth_has(&auth, "digest", "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0="));
    assert_int_equal(acl_auth_add(&auth, "digest", NULL, 0), 0);
    assert_int_equal(auth.nids, 4);
    acl_auth_free(&auth);
}

static void test_auth_duplicates_not_added_twice(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    add_cred(&auth, "digest", "u:p", 0);
    add_cred(&auth, "digest", "u:p", 0);
    add_cred(&auth, "digest", "v:q", 0);
    assert_int_equal(auth.nids, 3);
    assert_true(auth_has(&auth, "ip", "127.0.0.1"));
    assert_true(auth_has(&auth, "digest", U_P_DIGEST));
    assert_true(auth_has(&auth, "digest", V_Q_DIGEST));
    acl_auth_free(&auth);
}

static void test_auth_ip_succeeds_without_adding(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    add_cred(&auth, "ip", "whatever", 0);
    assert_int_equal(auth.nids, 0);
    acl_auth_free(&auth);
}

static void test_auth_unknown_schemes_fail(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    add_cred(&auth, "foo", "bar", -1);
    add_cred(&auth, "world", "anyone", -1);
    add_cred(&auth, "super", "x", -1);
    add_cred(&auth, "auth", "u:p", -1);
    add_cred(&auth, "", "u:p", -1);
    assert_int_equal(acl_auth_add(&auth, NULL, (const uint8_t *)"u:p", 3), -1);
    /* A NUL cannot be kept in a C-string id. */
    assert_int_equal(acl_auth_add(&auth, "digest", (const uint8_t *)"u:p\0x", 5), -1);
    assert_int_equal(auth.nids, 1);
    acl_auth_free(&auth);
}

static void test_auth_super_digest_adds_super_identity(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    const char *cred = "super:pw";
    assert_int_equal(acl_auth_add_with_super(&auth, "digest", (const uint8_t *)cred,
                                             strlen(cred), SUPER_DIGEST), 0);
    assert_int_equal(auth.nids, 2);
    assert_true(auth_has(&auth, "super", ""));
    assert_true(auth_has(&auth, "digest", SUPER_DIGEST));
    /* Again: still one of each. */
    assert_int_equal(acl_auth_add_with_super(&auth, "digest", (const uint8_t *)cred,
                                             strlen(cred), SUPER_DIGEST), 0);
    assert_int_equal(auth.nids, 2);
    acl_auth_free(&auth);

    cred = "super:other";
    assert_int_equal(acl_auth_add_with_super(&auth, "digest", (const uint8_t *)cred,
                                             strlen(cred), SUPER_DIGEST), 0);
    assert_int_equal(auth.nids, 1);
    assert_false(auth_has(&auth, "super", ""));
    acl_auth_free(&auth);

    /* acl_auth_add knows no super digest. */
    add_cred(&auth, "digest", "super:pw", 0);
    assert_int_equal(auth.nids, 1);
    assert_false(auth_has(&auth, "super", ""));
    acl_auth_free(&auth);
}

static void test_free_functions_are_null_safe(void **state)
{
    (void)state;
    acl_auth_free(NULL);
    acl_entries_free(NULL, 3);
    acl_mask_digest(NULL, 3);
    struct acl_auth empty = {0};
    acl_auth_free(&empty);
    acl_auth_free(&empty);
    assert_int_equal(empty.nids, 0);
}

/* ------------------------------------------------------------------------ */
/* acl_mask_digest                                                           */
/* ------------------------------------------------------------------------ */

static void test_mask_digest_hides_hash_keeps_user(void **state)
{
    (void)state;
    assert_masked("digest", U_P_DIGEST, "u:x");
    assert_masked("digest", "a:b:", "a:x");
    assert_masked("digest", ":h", ":x");
    assert_masked("digest", "u:", "u:x");
    assert_masked("digest", "nocolon", "nocolon");
}

static void test_mask_leaves_other_schemes(void **state)
{
    (void)state;
    assert_masked("ip", "::1", "::1");
    assert_masked("world", "anyone", "anyone");
    assert_masked("x509", "CN=a:b", "CN=a:b");
}

/* Java's ".*" stops at a line terminator and replaceAll carries on after it. */
static void test_mask_follows_java_regex_lines(void **state)
{
    (void)state;
    assert_masked("digest", "a:b\nc:d", "a:x\nc:x");
    assert_masked("digest", "a:b\r\nc", "a:x\r\nc");
    assert_masked("digest", "a:\nb", "a:x\nb");
    assert_masked("digest", "a:b\xe2\x80\xa8" "c:d", "a:x\xe2\x80\xa8" "c:x");
    assert_masked("digest", "a:b\xc2\x85" "c", "a:x\xc2\x85" "c");
    /* Other non-ASCII text is part of the line and is masked. */
    assert_masked("digest", "u:\xc3\xa9t\xc3\xa9", "u:x");
}

static void test_mask_whole_list(void **state)
{
    (void)state;
    struct acl_entry *acl = calloc(3, sizeof *acl);
    assert_non_null(acl);
    acl[0] = (struct acl_entry){ZK_PERM_READ, {strdup("world"), strdup("anyone")}};
    acl[1] = (struct acl_entry){ZK_PERM_ALL, {strdup("digest"), strdup(U_P_DIGEST)}};
    acl[2] = (struct acl_entry){ZK_PERM_READ, {strdup("digest"), strdup(V_Q_DIGEST)}};
    acl_mask_digest(acl, 3);
    assert_string_equal(acl[0].id.id, "anyone");
    assert_string_equal(acl[1].id.id, "u:x");
    assert_int_equal(acl[1].perms, ZK_PERM_ALL);
    assert_string_equal(acl[2].id.id, "v:x");
    acl_entries_free(acl, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_fips_vectors),
        cmocka_unit_test(test_sha1_million_a),
        cmocka_unit_test(test_sha1_padding_boundaries),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_uses_plus_and_slash),
        cmocka_unit_test(test_digest_generate_matches_zookeeper),
        cmocka_unit_test(test_digest_generate_refuses_missing_colon),
        cmocka_unit_test(test_match_world_digest_and_exact_schemes),
        cmocka_unit_test(test_match_ip_exact_and_cidr_v4),
        cmocka_unit_test(test_match_ip_prefix_edges),
        cmocka_unit_test(test_match_ip_java_number_syntax),
        cmocka_unit_test(test_match_ip_v6),
        cmocka_unit_test(test_match_ip_families_never_mix),
        cmocka_unit_test(test_match_ip_garbage_never_matches),
        cmocka_unit_test(test_check_empty_list_allows_anyone),
        cmocka_unit_test(test_check_world_anyone_needs_the_bit),
        cmocka_unit_test(test_check_digest_and_ip_identities),
        cmocka_unit_test(test_check_super_identity_passes_everything),
        cmocka_unit_test(test_check_super_digest_passes),
        cmocka_unit_test(test_fixup_empty_list_is_invalid),
        cmocka_unit_test(test_fixup_schemes),
        cmocka_unit_test(test_fixup_digest_id_syntax),
        cmocka_unit_test(test_fixup_ip_id_syntax),
        cmocka_unit_test(test_fixup_keeps_any_perms),
        cmocka_unit_test(test_fixup_removes_exact_duplicates_only),
        cmocka_unit_test(test_fixup_auth_expands_to_digest_identities),
        cmocka_unit_test(test_fixup_auth_duplicates_follow_zookeeper),
        cmocka_unit_test(test_fixup_auth_without_authenticated_id_is_invalid),
        cmocka_unit_test(test_fixup_one_bad_entry_fails_the_list),
        cmocka_unit_test(test_auth_digest_adds_generated_id),
        cmocka_unit_test(test_auth_digest_odd_credentials_accepted),
        cmocka_unit_test(test_auth_duplicates_not_added_twice),
        cmocka_unit_test(test_auth_ip_succeeds_without_adding),
        cmocka_unit_test(test_auth_unknown_schemes_fail),
        cmocka_unit_test(test_auth_super_digest_adds_super_identity),
        cmocka_unit_test(test_free_functions_are_null_safe),
        cmocka_unit_test(test_mask_digest_hides_hash_keeps_user),
        cmocka_unit_test(test_mask_leaves_other_schemes),
        cmocka_unit_test(test_mask_follows_java_regex_lines),
        cmocka_unit_test(test_mask_whole_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
