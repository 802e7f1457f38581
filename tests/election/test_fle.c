/*
 * Unit tests of the fle plugin's host-free code (plugins/fle/fle_wire.c and
 * fle_quorum.c): notification and initial-message bytes checked against the
 * captures in ZooKeeper's election protocol notes (a leader's answer to a
 * looking observer, 286 bytes; a connecting server's header), the legacy
 * forms, vote order and equality, and the majority and hierarchical quorum
 * verifiers with the config text they print.
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

#include "fle_quorum.h"
#include "fle_wire.h"

/* Parses "00 0a ff..." (spaces ignored) into out; returns the byte count. */
static size_t hex(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\n') {
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* The 3 participants + 1 observer ensemble of the capture. */
static void capture_quorum(struct fle_quorum *q)
{
    fle_quorum_init(q);
    for (int id = 1; id <= 4; id++)
        assert_int_equal(fle_quorum_add_server(q, id, "127.0.0.1", 22880 + id, 23880 + id,
                                               id == 4, "127.0.0.1", 12190 + id),
                         0);
    char err[128];
    assert_int_equal(fle_quorum_finish(q, err, sizeof err), 0);
}

static void test_notification_matches_capture_byte_for_byte(void **state)
{
    struct fle_quorum q;
    capture_quorum(&q);
    char text[512];
    size_t tlen = fle_quorum_text(&q, text, sizeof text);
    assert_int_equal(tlen, 0xf2);
    assert_string_equal(text, "server.1=127.0.0.1:22881:23881:participant;127.0.0.1:12191\n"
                              "server.2=127.0.0.1:22882:23882:participant;127.0.0.1:12192\n"
                              "server.3=127.0.0.1:22883:23883:participant;127.0.0.1:12193\n"
                              "server.4=127.0.0.1:22884:23884:observer;127.0.0.1:12194\n"
                              "version=0");
    struct fle_notification n = {
        .state = FLE_LEADING,
        .leader = 2,
        .zxid = 0,
        .election_epoch = 1,
        .peer_epoch = 1,
        .config = (const uint8_t *)text,
        .config_len = (uint32_t)tlen,
    };
    uint8_t msg[600];
    size_t len = fle_notification_encode(msg, sizeof msg, &n);
    assert_int_equal(len, 286); /* the capture's frame length, 0x11e */
    uint8_t expect[64];
    size_t elen = hex("00000002 0000000000000002 0000000000000000 0000000000000001"
                      " 0000000000000001 00000002 000000f2",
                      expect);
    assert_int_equal(elen, 44);
    assert_memory_equal(msg, expect, 44);
    assert_memory_equal(msg + 44, "server.1=127.0.0.1:22881:23881:participant;127.0.0.1:12191\n",
                        59);
    assert_memory_equal(msg + len - 9, "version=0", 9);
    /* Too small a buffer writes nothing. */
    assert_int_equal(fle_notification_encode(msg, 285, &n), 0);

    struct fle_notification d;
    const char *why = NULL;
    assert_int_equal(fle_notification_decode(msg, len, &d, &why), 0);
    assert_int_equal(d.state, FLE_LEADING);
    assert_int_equal(d.leader, 2);
    assert_int_equal(d.election_epoch, 1);
    assert_int_equal(d.peer_epoch, 1);
    assert_int_equal(d.version, 2);
    assert_int_equal(d.config_len, 0xf2);
    assert_memory_equal(d.config, text, 0xf2);
    fle_quorum_fini(&q);
}

static void test_notification_legacy_forms_decode(void **state)
{
    uint8_t msg[64];
    struct fle_notification d;
    const char *why = NULL;
    /* 28 bytes: no peer epoch, taken from the zxid's high half. */
    hex("00000000 0000000000000003 0000000500000007 0000000000000009", msg);
    assert_int_equal(fle_notification_decode(msg, 28, &d, &why), 0);
    assert_int_equal(d.leader, 3);
    assert_int_equal(d.zxid, 0x500000007LL);
    assert_int_equal(d.election_epoch, 9);
    assert_int_equal(d.peer_epoch, 5);
    assert_int_equal(d.version, 0);
    /* 40 bytes: peer epoch, no version. */
    hex("00000001 0000000000000003 0000000500000007 0000000000000009 0000000000000004"
        " 00000002",
        msg);
    assert_int_equal(fle_notification_decode(msg, 40, &d, &why), 0);
    assert_int_equal(d.state, FLE_FOLLOWING);
    assert_int_equal(d.peer_epoch, 4);
    assert_int_equal(d.version, 0);
    assert_null(d.config);
    /* Version 1: no config even with bytes after the version. */
    hex("00000001 0000000000000003 0000000500000007 0000000000000009 0000000000000004"
        " 00000001 00000010",
        msg);
    assert_int_equal(fle_notification_decode(msg, 44, &d, &why), 0);
    assert_int_equal(d.version, 1);
    assert_null(d.config);
}

static void test_notification_malformed_is_refused(void **state)
{
    uint8_t msg[64] = {0};
    struct fle_notification d;
    const char *why = NULL;
    assert_int_equal(fle_notification_decode(msg, 27, &d, &why), -EINVAL);
    assert_string_equal(why, "shorter than 28 bytes");
    assert_int_equal(fle_notification_decode(msg, 35, &d, &why), -EINVAL);
    assert_int_equal(fle_notification_decode(msg, 39, &d, &why), -EINVAL);
    /* Version 2 with a config length beyond the message. */
    hex("00000000 0000000000000001 0000000000000000 0000000000000001 0000000000000000"
        " 00000002 00000005 41424344",
        msg);
    assert_int_equal(fle_notification_decode(msg, 48, &d, &why), -EINVAL);
    assert_string_equal(why, "invalid config length");
    /* ... or negative. */
    fle_put32(msg + 40, 0xffffffffu);
    assert_int_equal(fle_notification_decode(msg, 48, &d, &why), -EINVAL);
    /* Version 2 cut before the config length. */
    assert_int_equal(fle_notification_decode(msg, 42, &d, &why), -EINVAL);
    /* A fitting length, trailing bytes ignored. */
    fle_put32(msg + 40, 3);
    assert_int_equal(fle_notification_decode(msg, 48, &d, &why), 0);
    assert_int_equal(d.config_len, 3);
    assert_memory_equal(d.config, "ABC", 3);
}

static void test_initial_message_matches_capture(void **state)
{
    uint8_t out[64], expect[64];
    size_t n = fle_initial_encode(out, sizeof out, 4, "127.0.0.1:13884");
    size_t e = hex("ffffffffffff0000 0000000000000004 0000000f", expect);
    memcpy(expect + e, "127.0.0.1:13884", 15);
    assert_int_equal(n, e + 15);
    assert_memory_equal(out, expect, n);

    int64_t sid = 0;
    char addr[64];
    size_t need = 0;
    const char *why = NULL;
    /* Byte by byte: more is needed until the whole header is there. */
    for (size_t len = 0; len < n; len++) {
        need = 0;
        assert_int_equal(fle_initial_parse(out, len, &sid, addr, sizeof addr, &need, &why), 0);
        assert_true(need > len);
    }
    assert_int_equal(fle_initial_parse(out, n, &sid, addr, sizeof addr, &need, &why), (int)n);
    assert_int_equal(sid, 4);
    assert_string_equal(addr, "127.0.0.1:13884");
    /* Empty or oversized addresses are not written. */
    assert_int_equal(fle_initial_encode(out, sizeof out, 4, ""), 0);
    assert_int_equal(fle_initial_encode(out, 20, 4, "127.0.0.1:1"), 0);
}

static void test_initial_message_legacy_and_bad_forms(void **state)
{
    uint8_t buf[64];
    int64_t sid = 0;
    char addr[64] = "x";
    size_t need = 0;
    const char *why = NULL;
    /* Legacy: a non-negative sid alone. */
    hex("0000000000000007 00000004", buf);
    assert_int_equal(fle_initial_parse(buf, 12, &sid, addr, sizeof addr, &need, &why), 8);
    assert_int_equal(sid, 7);
    assert_string_equal(addr, "");
    /* Unknown protocol version. */
    hex("fffffffffffe0000 0000000000000007", buf);
    assert_int_equal(fle_initial_parse(buf, 16, &sid, addr, sizeof addr, &need, &why), -EINVAL);
    assert_string_equal(why, "unknown protocol version");
    /* Address length 0 and 2049. */
    hex("ffffffffffff0000 0000000000000007 00000000", buf);
    assert_int_equal(fle_initial_parse(buf, 20, &sid, addr, sizeof addr, &need, &why), -EINVAL);
    assert_string_equal(why, "unreasonable address length");
    hex("ffffffffffff0000 0000000000000007 00000801", buf);
    assert_int_equal(fle_initial_parse(buf, 20, &sid, addr, sizeof addr, &need, &why), -EINVAL);
    /* Version 2 with two addresses: the first is used. */
    size_t n = hex("ffffffffffff0001 0000000000000009 00000017", buf);
    memcpy(buf + n, "10.0.0.1:3888|[::1]:3888", 23);
    assert_int_equal(fle_initial_parse(buf, n + 23, &sid, addr, sizeof addr, &need, &why),
                     (int)(n + 23));
    assert_int_equal(sid, 9);
    assert_string_equal(addr, "10.0.0.1:3888");
    char host[64];
    int port = 0;
    assert_int_equal(fle_address_split(addr, host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 3888);
    assert_int_equal(fle_address_split("[::1]:3888", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(fle_address_split("nohostport", host, sizeof host, &port), -EINVAL);
    assert_int_equal(fle_address_split("h:99999", host, sizeof host, &port), -EINVAL);
}

static void test_vote_order_is_epoch_then_zxid_then_sid(void **state)
{
    struct fle_quorum q;
    capture_quorum(&q);
    /* (id, zxid, epoch) against (id, zxid, epoch) */
    assert_true(fle_vote_beats(&q, 1, 0, 2, 3, 0x100000009LL, 1));  /* epoch wins */
    assert_false(fle_vote_beats(&q, 3, 0x100000009LL, 1, 1, 0, 2));
    assert_true(fle_vote_beats(&q, 1, 0x100000005LL, 1, 3, 0x100000004LL, 1)); /* zxid */
    assert_false(fle_vote_beats(&q, 3, 0x100000004LL, 1, 1, 0x100000005LL, 1));
    assert_true(fle_vote_beats(&q, 3, 5, 1, 2, 5, 1)); /* sid */
    assert_false(fle_vote_beats(&q, 2, 5, 1, 3, 5, 1));
    assert_false(fle_vote_beats(&q, 2, 5, 1, 2, 5, 1)); /* equal: no */
    /* An observer's Long.MIN_VALUE vote loses to anything. */
    assert_true(fle_vote_beats(&q, 1, 0, 0, INT64_MIN, INT64_MIN, INT64_MIN));
    fle_quorum_fini(&q);

    /* Hierarchical: a server of weight 0 never wins. */
    fle_quorum_init(&q);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(fle_quorum_add_server(&q, id, "h", 1, 2, false, NULL, 0), 0);
    char err[128];
    assert_int_equal(fle_quorum_set_group(&q, 1, "1:2:3", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_weight(&q, 3, 0, err, sizeof err), 0);
    assert_int_equal(fle_quorum_finish(&q, err, sizeof err), 0);
    assert_false(fle_vote_beats(&q, 3, 9, 9, 1, 0, 0));
    assert_true(fle_vote_beats(&q, 2, 9, 9, 1, 0, 0));
    fle_quorum_fini(&q);
}

static void test_vote_equality_follows_state_and_version(void **state)
{
    struct fle_vote a = {2, 0x100000003LL, 1, 1, FLE_LOOKING, 0};
    struct fle_vote b = a;
    assert_true(fle_vote_equal(&a, &b));
    b.election_epoch = 2; /* LOOKING: every field counts */
    assert_false(fle_vote_equal(&a, &b));
    /* Neither LOOKING: leader and peer epoch only. */
    a.state = FLE_FOLLOWING;
    b.state = FLE_LEADING;
    a.version = b.version = 2;
    b.zxid = 77;
    assert_true(fle_vote_equal(&a, &b));
    b.peer_epoch = 2;
    assert_false(fle_vote_equal(&a, &b));
    /* Exactly one side of version 0: the leader alone. */
    a.version = 0;
    assert_true(fle_vote_equal(&a, &b));
    b.leader = 3;
    assert_false(fle_vote_equal(&a, &b));
}

static void test_majority_quorum_counts_participants_only(void **state)
{
    struct fle_quorum q;
    capture_quorum(&q); /* voters 1, 2, 3; observer 4 */
    assert_true(fle_quorum_is_voter(&q, 1));
    assert_false(fle_quorum_is_voter(&q, 4));
    assert_false(fle_quorum_is_voter(&q, 9));
    int64_t two[] = {1, 2}, one_obs[] = {1, 4}, dup[] = {3, 3, 3}, three[] = {1, 2, 3};
    assert_true(fle_quorum_contains(&q, two, 2));
    assert_false(fle_quorum_contains(&q, one_obs, 2));
    assert_false(fle_quorum_contains(&q, dup, 3));
    assert_true(fle_quorum_contains(&q, three, 3));
    assert_false(fle_quorum_contains(&q, NULL, 0));
    fle_quorum_fini(&q);

    /* Four voters: two is not more than half. */
    fle_quorum_init(&q);
    for (int id = 1; id <= 4; id++)
        assert_int_equal(fle_quorum_add_server(&q, id, "h", 1, 2, false, NULL, 0), 0);
    char err[64];
    assert_int_equal(fle_quorum_finish(&q, err, sizeof err), 0);
    int64_t three4[] = {4, 2, 1};
    assert_false(fle_quorum_contains(&q, two, 2));
    assert_true(fle_quorum_contains(&q, three4, 3));
    assert_int_equal(fle_quorum_add_server(&q, 4, "h", 1, 2, false, NULL, 0), -EEXIST);
    fle_quorum_fini(&q);
}

/* Nine servers in three groups of three (the example of ZooKeeper's admin
 * guide), optionally with group 3 weighted 0. */
static void hier_quorum(struct fle_quorum *q, int zero_group3)
{
    char err[128];
    fle_quorum_init(q);
    for (int id = 1; id <= 9; id++)
        assert_int_equal(fle_quorum_add_server(q, id, "127.0.0.1", 2000 + id, 3000 + id, false,
                                               NULL, 0),
                         0);
    assert_int_equal(fle_quorum_set_group(q, 1, "1:2:3", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_group(q, 2, "4:5:6", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_group(q, 3, "7:8:9", err, sizeof err), 0);
    for (int id = 7; zero_group3 && id <= 9; id++)
        assert_int_equal(fle_quorum_set_weight(q, id, 0, err, sizeof err), 0);
    assert_int_equal(fle_quorum_finish(q, err, sizeof err), 0);
}

static void test_hierarchical_quorum_needs_a_majority_of_groups(void **state)
{
    struct fle_quorum q;
    hier_quorum(&q, 0);
    int64_t two_groups[] = {1, 2, 4, 5}, one_group[] = {1, 2, 3}, thin[] = {1, 2, 4, 7},
            spread[] = {1, 4, 7};
    assert_true(fle_quorum_contains(&q, two_groups, 4));
    assert_false(fle_quorum_contains(&q, one_group, 3));
    assert_false(fle_quorum_contains(&q, thin, 4));
    assert_false(fle_quorum_contains(&q, spread, 3));
    assert_int_equal(fle_quorum_weight(&q, 5), 1);
    char text[1024];
    fle_quorum_text(&q, text, sizeof text);
    assert_non_null(strstr(text, "server.9=127.0.0.1:2009:3009:participant\n"));
    assert_non_null(strstr(text, "group.2=4:5:6\n"));
    assert_non_null(strstr(text, "weight.7=1\n"));
    assert_int_equal(strcmp(text + strlen(text) - 10, "\nversion=0"), 0);
    fle_quorum_fini(&q);

    /* Group 3 weighs nothing: two groups remain and both are needed. */
    hier_quorum(&q, 1);
    int64_t g1g2[] = {1, 2, 4, 5}, g1g3[] = {1, 2, 7, 8, 9};
    assert_true(fle_quorum_contains(&q, g1g2, 4));
    assert_false(fle_quorum_contains(&q, g1g3, 5));
    assert_int_equal(q.nonzero_groups, 2);
    fle_quorum_fini(&q);
}

static void test_hierarchical_config_errors(void **state)
{
    struct fle_quorum q;
    char err[128];
    fle_quorum_init(&q);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(fle_quorum_add_server(&q, id, "h", 1, 2, false, NULL, 0), 0);
    assert_int_equal(fle_quorum_set_group(&q, 1, "1:2", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_group(&q, 2, "2:3", err, sizeof err), -EINVAL);
    assert_string_equal(err, "group.2: server 2 is in multiple groups");
    assert_int_equal(fle_quorum_set_group(&q, 3, "4", err, sizeof err), -EINVAL);
    assert_string_equal(err, "group.3: server 4 has no server.4 line");
    assert_int_equal(fle_quorum_set_group(&q, 3, "x", err, sizeof err), -EINVAL);
    assert_int_equal(fle_quorum_set_weight(&q, 9, 1, err, sizeof err), -EINVAL);
    assert_string_equal(err, "weight.9=1: no such server");
    assert_int_equal(fle_quorum_finish(&q, err, sizeof err), -EINVAL);
    assert_string_equal(err, "server 3 is not in a group");
    fle_quorum_fini(&q);
}

/* zoo.cfg's group.N / weight.N lines, as the core, fle and reconfig read them. */
static void test_group_and_weight_lines(void **state)
{
    struct fle_quorum q;
    char err[128];
    fle_quorum_init(&q);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(fle_quorum_add_server(&q, id, "h", 1, 2, false, NULL, 0), 0);
    assert_int_equal(fle_quorum_set_entry(&q, "tickTime", "2000", err, sizeof err), 1);
    assert_int_equal(fle_quorum_set_entry(&q, "group.1", "1:2:3", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_entry(&q, "weight.2", "0", err, sizeof err), 0);
    assert_int_equal(fle_quorum_set_entry(&q, "group.x", "1", err, sizeof err), -EINVAL);
    assert_string_equal(err, "group.x: group id is not a positive integer");
    assert_int_equal(fle_quorum_set_entry(&q, "weight.3", "heavy", err, sizeof err), -EINVAL);
    assert_string_equal(err, "weight.3=heavy: not a server id and a weight");
    assert_int_equal(fle_quorum_finish(&q, err, sizeof err), 0);
    assert_true(q.hierarchical);
    assert_int_equal(fle_quorum_weight(&q, 2), 0);
    assert_int_equal(fle_quorum_weight(&q, 3), 1);
    fle_quorum_fini(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notification_matches_capture_byte_for_byte),
        cmocka_unit_test(test_notification_legacy_forms_decode),
        cmocka_unit_test(test_notification_malformed_is_refused),
        cmocka_unit_test(test_initial_message_matches_capture),
        cmocka_unit_test(test_initial_message_legacy_and_bad_forms),
        cmocka_unit_test(test_vote_order_is_epoch_then_zxid_then_sid),
        cmocka_unit_test(test_vote_equality_follows_state_and_version),
        cmocka_unit_test(test_majority_quorum_counts_participants_only),
        cmocka_unit_test(test_hierarchical_quorum_needs_a_majority_of_groups),
        cmocka_unit_test(test_hierarchical_config_errors),
        cmocka_unit_test(test_group_and_weight_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
