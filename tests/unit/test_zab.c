/*
 * ZAB wire format tests: the QuorumPacket bytes captured from ZooKeeper 3.8
 * (FOLLOWERINFO, ACKEPOCH, LEADERINFO, DIFF, NEWLEADER, PING) written and
 * parsed byte for byte, partial and malformed packets, the learner records,
 * the resumable SNAP stream scanner, the currentEpoch/acceptedEpoch files,
 * and the SNAP database stream round trip through snapshot.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "epoch.h"
#include "server.h"
#include "snapshot.h"
#include "txn.h"
#include "zab.h"

/* ---------------------------------------------------------------- helpers */

/* Hex text (spaces ignored) to bytes; returns the length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ')
            continue;
        int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        assert_true(v >= 0);
        if (half < 0) {
            half = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    assert_int_equal(half, -1);
    return n;
}

static void assert_bytes(const jute_writer *w, const char *hex)
{
    uint8_t want[1024];
    size_t n = unhex(hex, want, sizeof want);
    assert_false(w->oom);
    assert_int_equal(w->len, n);
    assert_memory_equal(w->data, want, n);
}

/* Every proper prefix of a packet is partial, with a need that is more
 * than what arrived and no more than the whole packet. */
static void assert_partial_everywhere(const uint8_t *buf, size_t len)
{
    struct zab_packet p;
    for (size_t k = 0; k < len; k++) {
        size_t need = 0;
        assert_int_equal(zab_packet_parse(buf, k, 0, &p, &need), 0);
        assert_true(need > k);
        assert_true(need <= len);
        assert_int_equal(zab_packet_parse(buf, k, 0, &p, NULL), 0);
    }
    assert_int_equal(zab_packet_parse(buf, len, 0, &p, NULL), (ssize_t)len);
}

/* ----------------------------------------------------- captured packets */

#define FOLLOWERINFO_HEX "0000000b 0000000000000000 00000014 0000000000000001 00010000 0000000000000000 ffffffff"
#define ACKEPOCH_HEX "00000012 0000000000000000 00000004 00000000 ffffffff"
#define LEADERINFO_HEX "00000011 0000000100000000 00000004 00010000 ffffffff"
#define DIFF_HEX "0000000d 0000000000000000 ffffffff ffffffff"

static void test_captured_packets_written(void **state)
{
    (void)state;
    jute_writer w, d;
    jute_writer_init(&w, 64);
    jute_writer_init(&d, 64);

    struct zab_learner_info li = {.sid = 1, .protocol_version = ZAB_PROTOCOL_VERSION, .config_version = 0};
    zab_learner_info_write(&d, &li);
    zab_packet_write(&w, ZAB_FOLLOWERINFO, 0, d.data, (int32_t)d.len, NULL);
    assert_bytes(&w, FOLLOWERINFO_HEX);

    jute_writer_reset(&w);
    jute_writer_reset(&d);
    jute_write_int(&d, 0);
    zab_packet_write(&w, ZAB_ACKEPOCH, 0, d.data, (int32_t)d.len, NULL);
    assert_bytes(&w, ACKEPOCH_HEX);

    jute_writer_reset(&w);
    jute_writer_reset(&d);
    jute_write_int(&d, ZAB_PROTOCOL_VERSION);
    zab_packet_write(&w, ZAB_LEADERINFO, 1LL << 32, d.data, (int32_t)d.len, NULL);
    assert_bytes(&w, LEADERINFO_HEX);

    /* null data whatever the length says */
    jute_writer_reset(&w);
    zab_packet_write(&w, ZAB_DIFF, 0, NULL, 99, NULL);
    assert_bytes(&w, DIFF_HEX);

    /* NEWLEADER: 0xf2 bytes of config text. */
    char config[0xf2];
    memset(config, 'x', sizeof config);
    memcpy(config, "server.1=", 9);
    jute_writer_reset(&w);
    zab_packet_write(&w, ZAB_NEWLEADER, 1LL << 32, config, (int32_t)sizeof config, NULL);
    uint8_t prefix[32];
    size_t n = unhex("0000000a 0000000100000000 000000f2 7365727665722e313d", prefix, sizeof prefix);
    assert_int_equal(w.len, 16 + sizeof config + 4);
    assert_memory_equal(w.data, prefix, n);
    assert_memory_equal(w.data + w.len - 4, "\xff\xff\xff\xff", 4);
    struct zab_packet p;
    assert_int_equal(zab_packet_parse(w.data, w.len, 4096, &p, NULL), (ssize_t)w.len);
    assert_int_equal(p.type, ZAB_NEWLEADER);
    assert_int_equal(p.zxid, 1LL << 32);
    assert_int_equal(p.data.len, 0xf2);
    assert_memory_equal(p.data.ptr, config, sizeof config);
    assert_int_equal(p.nauth, -1);
    assert_partial_everywhere(w.data, w.len);
    /* A limit below the data length refuses it. */
    assert_int_equal(zab_packet_parse(w.data, w.len, 0xf1, &p, NULL), -EBADMSG);

    jute_writer_free(&w);
    jute_writer_free(&d);
}

static void test_captured_packets_parsed(void **state)
{
    (void)state;
    uint8_t stream[512];
    size_t len = 0;
    len += unhex(FOLLOWERINFO_HEX, stream + len, sizeof stream - len);
    size_t ackepoch_at = len;
    len += unhex(ACKEPOCH_HEX, stream + len, sizeof stream - len);
    size_t leaderinfo_at = len;
    len += unhex(LEADERINFO_HEX, stream + len, sizeof stream - len);
    size_t diff_at = len;
    len += unhex(DIFF_HEX, stream + len, sizeof stream - len);

    struct zab_packet p;
    size_t at = 0;
    ssize_t n = zab_packet_parse(stream, len, 1024, &p, NULL);
    assert_int_equal(n, 40);
    assert_int_equal(p.type, ZAB_FOLLOWERINFO);
    assert_int_equal(p.zxid, 0);
    assert_int_equal(p.nauth, -1);
    assert_int_equal(p.data.len, 20);
    struct zab_learner_info li;
    assert_int_equal(zab_learner_info_read(p.data, &li), 0);
    assert_int_equal(li.sid, 1);
    assert_int_equal(li.protocol_version, ZAB_PROTOCOL_VERSION);
    assert_int_equal(li.config_version, 0);
    assert_partial_everywhere(stream, (size_t)n);
    at += (size_t)n;

    assert_int_equal(at, ackepoch_at);
    n = zab_packet_parse(stream + at, len - at, 1024, &p, NULL);
    assert_int_equal(n, 24);
    assert_int_equal(p.type, ZAB_ACKEPOCH);
    assert_int_equal(p.data.len, 4);
    assert_memory_equal(p.data.ptr, "\0\0\0\0", 4);
    assert_partial_everywhere(stream + at, (size_t)n);
    at += (size_t)n;

    assert_int_equal(at, leaderinfo_at);
    n = zab_packet_parse(stream + at, len - at, 1024, &p, NULL);
    assert_int_equal(n, 24);
    assert_int_equal(p.type, ZAB_LEADERINFO);
    assert_int_equal(p.zxid, 0x100000000LL);
    assert_int_equal(p.data.len, 4);
    assert_int_equal(jute_get_u32(p.data.ptr), ZAB_PROTOCOL_VERSION);
    assert_partial_everywhere(stream + at, (size_t)n);
    at += (size_t)n;

    assert_int_equal(at, diff_at);
    n = zab_packet_parse(stream + at, len - at, 1024, &p, NULL);
    assert_int_equal(n, 20);
    assert_int_equal(p.type, ZAB_DIFF);
    assert_int_equal(p.zxid, 0);
    assert_int_equal(p.data.len, -1);
    assert_int_equal(p.nauth, -1);
    assert_partial_everywhere(stream + at, (size_t)n);
    at += (size_t)n;
    assert_int_equal(at, len);

    /* Written again from the parsed fields: the same bytes. */
    jute_writer w;
    jute_writer_init(&w, 64);
    for (at = 0; at < len; at += (size_t)n) {
        n = zab_packet_parse(stream + at, len - at, 1024, &p, NULL);
        assert_true(n > 0);
        zab_packet_write(&w, p.type, p.zxid, p.data.ptr, p.data.len, NULL);
    }
    assert_int_equal(w.len, len);
    assert_memory_equal(w.data, stream, len);
    jute_writer_free(&w);
}

/* -------------------------------------------------------------- malformed */

static void put32(uint8_t *p, int32_t v) { jute_put_u32(p, (uint32_t)v); }

static void test_malformed_packets(void **state)
{
    (void)state;
    uint8_t buf[8192];
    struct zab_packet p;
    memset(buf, 0, sizeof buf);
    put32(buf, ZAB_PING);

    /* data length -2: refused as soon as the header is there */
    put32(buf + 12, -2);
    assert_int_equal(zab_packet_parse(buf, 16, 0, &p, NULL), -EBADMSG);
    put32(buf + 12, INT32_MIN);
    assert_int_equal(zab_packet_parse(buf, 16, 0, &p, NULL), -EBADMSG);
    /* data longer than max_data, before it arrives */
    put32(buf + 12, 1000);
    assert_int_equal(zab_packet_parse(buf, 16, 999, &p, NULL), -EBADMSG);
    size_t need = 0;
    assert_int_equal(zab_packet_parse(buf, 16, 1000, &p, &need), 0);
    assert_int_equal(need, 16 + 1000 + 4);

    /* authinfo count: -2, 65 refused; 64 accepted */
    put32(buf + 12, 0);
    put32(buf + 16, -2);
    assert_int_equal(zab_packet_parse(buf, 20, 0, &p, NULL), -EBADMSG);
    put32(buf + 16, ZAB_MAX_AUTH + 1);
    assert_int_equal(zab_packet_parse(buf, 20, 0, &p, NULL), -EBADMSG);
    put32(buf + 16, ZAB_MAX_AUTH);
    size_t at = 20;
    for (int i = 0; i < ZAB_MAX_AUTH; i++) {
        put32(buf + at, 2);
        memcpy(buf + at + 4, "ip", 2);
        put32(buf + at + 6, 1);
        buf[at + 10] = (uint8_t)('a' + i % 26);
        at += 11;
    }
    assert_int_equal(zab_packet_parse(buf, at, 0, &p, NULL), (ssize_t)at);
    assert_int_equal(p.nauth, ZAB_MAX_AUTH);
    assert_int_equal(p.auth_id[63].len, 1);
    assert_int_equal(p.auth_id[63].ptr[0], 'a' + 63 % 26);

    /* authinfo strings: negative, longer than 4096, with a NUL */
    put32(buf + 16, 1);
    put32(buf + 20, -5);
    assert_int_equal(zab_packet_parse(buf, 24, 0, &p, NULL), -EBADMSG);
    put32(buf + 20, 4097);
    assert_int_equal(zab_packet_parse(buf, 24, 0, &p, NULL), -EBADMSG);
    put32(buf + 20, 4096);
    memset(buf + 24, 'd', 4096);
    put32(buf + 24 + 4096, 3);
    memcpy(buf + 28 + 4096, "u:h", 3);
    assert_int_equal(zab_packet_parse(buf, 31 + 4096, 0, &p, NULL), 31 + 4096);
    put32(buf + 24 + 4096, -7);
    assert_int_equal(zab_packet_parse(buf, 31 + 4096, 0, &p, NULL), -EBADMSG);
    put32(buf + 24 + 4096, 3);
    buf[29 + 4096] = '\0';
    assert_int_equal(zab_packet_parse(buf, 31 + 4096, 0, &p, NULL), -EBADMSG);
}

/* --------------------------------------------------------- REQUEST & auth */

static void test_request_with_authinfo(void **state)
{
    (void)state;
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    assert_int_equal(acl_auth_add_id(&auth, "digest", "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="), 0);

    jute_writer d, w;
    jute_writer_init(&d, 64);
    jute_writer_init(&w, 64);
    /* createSession forwarded: body int timeout */
    uint8_t body[4] = {0x00, 0x00, 0x75, 0x30};
    zab_request_write(&d, 0x01000009f2f70000LL, 0, -10, body, sizeof body);
    assert_bytes(&d, "01000009f2f70000 00000000 fffffff6 00007530");
    zab_packet_write(&w, ZAB_REQUEST, -1, d.data, (int32_t)d.len, &auth);
    assert_bytes(&w, "00000001 ffffffffffffffff 00000014 01000009f2f70000 00000000 fffffff6 00007530"
                     " 00000002 00000002 6970 00000009 3132372e302e302e31"
                     " 00000006 646967657374 0000001e "
                     "753a4a7137774d79412f7732566435574944414b6475344f49494645513d");

    struct zab_packet p;
    assert_int_equal(zab_packet_parse(w.data, w.len, 1 << 20, &p, NULL), (ssize_t)w.len);
    assert_int_equal(p.type, ZAB_REQUEST);
    assert_int_equal(p.zxid, -1);
    assert_int_equal(p.nauth, 2);
    assert_partial_everywhere(w.data, w.len);

    struct zab_request rq;
    assert_int_equal(zab_request_read(p.data, &rq), 0);
    assert_int_equal(rq.session_id, 0x01000009f2f70000LL);
    assert_int_equal(rq.cxid, 0);
    assert_int_equal(rq.type, -10);
    assert_int_equal(rq.body.len, 4);
    assert_memory_equal(rq.body.ptr, body, 4);

    /* The copied identities; the set is emptied first. */
    struct acl_auth got = {0};
    assert_int_equal(acl_auth_add_id(&got, "stale", "x"), 0);
    assert_int_equal(zab_packet_auth(&p, &got), 0);
    assert_int_equal(got.nids, 2);
    assert_string_equal(got.ids[0].scheme, "ip");
    assert_string_equal(got.ids[0].id, "127.0.0.1");
    assert_string_equal(got.ids[1].scheme, "digest");
    assert_string_equal(got.ids[1].id, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    acl_auth_free(&got);

    /* An empty (not null) authinfo vector and a null one. */
    jute_writer_reset(&w);
    struct acl_auth none = {0};
    zab_packet_write(&w, ZAB_REQUEST, -1, d.data, (int32_t)d.len, &none);
    assert_int_equal(zab_packet_parse(w.data, w.len, 0, &p, NULL), (ssize_t)w.len);
    assert_int_equal(p.nauth, 0);
    assert_int_equal(zab_packet_auth(&p, &got), 0);
    assert_int_equal(got.nids, 0);
    jute_writer_reset(&w);
    zab_packet_write(&w, ZAB_REQUEST, -1, d.data, (int32_t)d.len, NULL);
    assert_int_equal(zab_packet_parse(w.data, w.len, 0, &p, NULL), (ssize_t)w.len);
    assert_int_equal(p.nauth, -1);
    assert_int_equal(zab_packet_auth(&p, &got), 0);
    assert_int_equal(got.nids, 0);

    /* closeSession: an empty body; too short a REQUEST is malformed. */
    jute_writer_reset(&d);
    zab_request_write(&d, 5, 7, -11, NULL, 0);
    assert_int_equal(d.len, 16);
    jute_span sp = {d.data, (int32_t)d.len};
    assert_int_equal(zab_request_read(sp, &rq), 0);
    assert_int_equal(rq.session_id, 5);
    assert_int_equal(rq.cxid, 7);
    assert_int_equal(rq.type, -11);
    assert_int_equal(rq.body.len, 0);
    sp.len = 15;
    assert_int_equal(zab_request_read(sp, &rq), -EBADMSG);
    sp.ptr = NULL;
    sp.len = -1;
    assert_int_equal(zab_request_read(sp, &rq), -EBADMSG);

    acl_auth_free(&auth);
    jute_writer_free(&d);
    jute_writer_free(&w);
}

/* ---------------------------------------------------- LearnerInfo, etc. */

static void test_learner_info_forms(void **state)
{
    (void)state;
    jute_writer w;
    jute_writer_init(&w, 32);
    struct zab_learner_info li = {.sid = 0x0102030405060708LL, .protocol_version = 0x10000,
                                  .config_version = 0x100000003LL};
    zab_learner_info_write(&w, &li);
    assert_bytes(&w, "0102030405060708 00010000 0000000100000003");
    struct zab_learner_info out;
    jute_span sp = {w.data, 20};
    assert_int_equal(zab_learner_info_read(sp, &out), 0);
    assert_int_equal(out.sid, li.sid);
    assert_int_equal(out.protocol_version, li.protocol_version);
    assert_int_equal(out.config_version, li.config_version);

    /* Legacy forms: sid only, no config version. */
    sp.len = 12;
    memset(&out, 0x55, sizeof out);
    assert_int_equal(zab_learner_info_read(sp, &out), 0);
    assert_int_equal(out.sid, li.sid);
    assert_int_equal(out.protocol_version, 0x10000);
    assert_int_equal(out.config_version, 0);
    sp.len = 8;
    memset(&out, 0x55, sizeof out);
    assert_int_equal(zab_learner_info_read(sp, &out), 0);
    assert_int_equal(out.sid, li.sid);
    assert_int_equal(out.protocol_version, 0);
    assert_int_equal(out.config_version, 0);
    /* Too short or null. */
    sp.len = 7;
    assert_int_equal(zab_learner_info_read(sp, &out), -EBADMSG);
    sp.len = 0;
    assert_int_equal(zab_learner_info_read(sp, &out), -EBADMSG);
    sp.ptr = NULL;
    sp.len = -1;
    assert_int_equal(zab_learner_info_read(sp, &out), -EBADMSG);
    jute_writer_free(&w);
}

static void test_revalidate(void **state)
{
    (void)state;
    jute_writer w;
    jute_writer_init(&w, 32);
    zab_revalidate_request_write(&w, 0x01000009f2f70000LL, 30000);
    assert_bytes(&w, "01000009f2f70000 00007530");
    int64_t id = 0;
    int32_t to = 0;
    jute_span sp = {w.data, (int32_t)w.len};
    assert_int_equal(zab_revalidate_request_read(sp, &id, &to), 0);
    assert_int_equal(id, 0x01000009f2f70000LL);
    assert_int_equal(to, 30000);
    sp.len = 11;
    assert_int_equal(zab_revalidate_request_read(sp, &id, &to), -EBADMSG);

    jute_writer_reset(&w);
    zab_revalidate_reply_write(&w, 0x01000009f2f70000LL, true);
    assert_bytes(&w, "01000009f2f70000 01");
    bool valid = false;
    sp = (jute_span){w.data, (int32_t)w.len};
    assert_int_equal(zab_revalidate_reply_read(sp, &id, &valid), 0);
    assert_int_equal(id, 0x01000009f2f70000LL);
    assert_true(valid);
    jute_writer_reset(&w);
    zab_revalidate_reply_write(&w, -3, false);
    assert_bytes(&w, "fffffffffffffffd 00");
    sp = (jute_span){w.data, (int32_t)w.len};
    assert_int_equal(zab_revalidate_reply_read(sp, &id, &valid), 0);
    assert_int_equal(id, -3);
    assert_false(valid);
    w.data[8] = 2; /* any non-zero byte is true, as in Java */
    assert_int_equal(zab_revalidate_reply_read(sp, &id, &valid), 0);
    assert_true(valid);
    sp.len = 8;
    assert_int_equal(zab_revalidate_reply_read(sp, &id, &valid), -EBADMSG);
    sp.len = 12;
    assert_int_equal(zab_revalidate_reply_read(sp, &id, &valid), -EBADMSG);

    /* In a packet, as the learner sends it. */
    jute_writer d;
    jute_writer_init(&d, 16);
    zab_revalidate_request_write(&d, 0x01000009f2f70000LL, 30000);
    jute_writer_reset(&w);
    zab_packet_write(&w, ZAB_REVALIDATE, -1, d.data, (int32_t)d.len, NULL);
    assert_bytes(&w, "00000006 ffffffffffffffff 0000000c 01000009f2f70000 00007530 ffffffff");
    jute_writer_free(&d);
    jute_writer_free(&w);
}

static void test_ping(void **state)
{
    (void)state;
    /* The learner's reply captured from ZooKeeper. */
    jute_writer d, w;
    jute_writer_init(&d, 32);
    jute_writer_init(&w, 64);
    jute_write_long(&d, 0x01000009f2f70000LL);
    jute_write_int(&d, 30000);
    assert_bytes(&d, "0100 0009 f2f7 0000 0000 7530");
    zab_packet_write(&w, ZAB_PING, 0x100000004LL, d.data, (int32_t)d.len, NULL);
    assert_bytes(&w, "00000005 0000000100000004 0000000c 0100 0009 f2f7 0000 0000 7530 ffffffff");
    struct zab_packet p;
    assert_int_equal(zab_packet_parse(w.data, w.len, 1024, &p, NULL), (ssize_t)w.len);
    assert_int_equal(p.type, ZAB_PING);
    assert_int_equal(p.zxid, 0x100000004LL);
    int64_t id;
    int32_t to;
    assert_int_equal(zab_ping_sessions_next(p.data, 0, &id, &to), 1);
    assert_int_equal(id, 0x01000009f2f70000LL);
    assert_int_equal(to, 30000);
    assert_int_equal(zab_ping_sessions_next(p.data, 1, &id, &to), 0);
    assert_partial_everywhere(w.data, w.len);

    /* Several sessions, in order. */
    jute_writer_reset(&d);
    for (int i = 0; i < 5; i++) {
        jute_write_long(&d, 100 + i);
        jute_write_int(&d, 4000 + i);
    }
    jute_span sp = {d.data, (int32_t)d.len};
    size_t i = 0;
    while (zab_ping_sessions_next(sp, i, &id, &to) == 1) {
        assert_int_equal(id, 100 + (int64_t)i);
        assert_int_equal(to, 4000 + (int32_t)i);
        i++;
    }
    assert_int_equal(i, 5);
    /* Not a whole number of entries. */
    sp.len = 13;
    assert_int_equal(zab_ping_sessions_next(sp, 0, &id, &to), -EBADMSG);
    /* Empty (no session touched) and null (the leader's ping). */
    sp.len = 0;
    assert_int_equal(zab_ping_sessions_next(sp, 0, &id, &to), 0);
    sp = (jute_span){NULL, -1};
    assert_int_equal(zab_ping_sessions_next(sp, 0, &id, &to), 0);

    /* The leader's PING: null data, leader's last proposed zxid. */
    jute_writer_reset(&w);
    zab_packet_write(&w, ZAB_PING, 0x100000004LL, NULL, 0, NULL);
    assert_bytes(&w, "00000005 0000000100000004 ffffffff ffffffff");
    jute_writer_free(&d);
    jute_writer_free(&w);
}

/* ------------------------------------------------------------ SNAP scan */

/* A hand-made stream: 2 sessions, 2 ACL cache entries (one empty, one with
 * a null scheme string), nodes with null, empty and some data. */
static void build_stream(jute_writer *w, const char *signature)
{
    jute_write_int(w, 2);
    jute_write_long(w, 11);
    jute_write_int(w, 3000);
    jute_write_long(w, 12);
    jute_write_int(w, 4000);
    jute_write_int(w, 2);
    jute_write_long(w, 1);
    jute_write_int(w, 0);
    jute_write_long(w, 2);
    jute_write_int(w, 2);
    jute_write_int(w, 31);
    jute_write_string(w, "world");
    jute_write_string(w, "anyone");
    jute_write_int(w, 1);
    jute_write_bytes(w, NULL, -1);
    jute_write_string(w, "x");
    const char *paths[] = {"", "/a", "/a/b", "/zookeeper"};
    for (int i = 0; i < 4; i++) {
        jute_write_string(w, paths[i]);
        if (i == 0)
            jute_write_bytes(w, NULL, -1);
        else if (i == 1)
            jute_write_bytes(w, "", 0);
        else
            jute_write_string(w, "some data");
        jute_write_long(w, -1);
        for (int k = 0; k < 60; k++)
            jute_write_raw(w, "\x7f", 1);
    }
    jute_write_string(w, "/");
    jute_write_string(w, signature);
}

/* Feed buf in chunks of the sizes next_chunk gives; the scan must say 0
 * until the last byte and then 1 with pos == len; pos never moves back. */
static void scan_in_chunks(const uint8_t *buf, size_t len, size_t extra, unsigned seed, size_t max_chunk)
{
    struct zab_snap_scan s;
    zab_snap_scan_init(&s);
    srand(seed);
    size_t have = 0, last_pos = 0;
    for (;;) {
        size_t step = max_chunk <= 1 ? 1 : 1 + (size_t)rand() % max_chunk;
        have = have + step > len + extra ? len + extra : have + step;
        int rc = zab_snap_scan(&s, buf, have, 1 << 20);
        assert_true(s.pos >= last_pos);
        assert_true(s.pos <= have);
        last_pos = s.pos;
        if (have < len) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(s.pos, len);
        /* Asking again changes nothing. */
        assert_int_equal(zab_snap_scan(&s, buf, have, 1 << 20), 1);
        assert_int_equal(s.pos, len);
        break;
    }
}

static void test_snap_scan(void **state)
{
    (void)state;
    jute_writer w;
    jute_writer_init(&w, 1024);
    build_stream(&w, ZAB_SNAP_SIGNATURE);
    size_t len = w.len;
    /* Bytes of the next packet after the stream must not be counted. */
    jute_write_raw(&w, "\0\0\0\x0a\0\0\0\x01\0\0\0\0", 12);
    assert_false(w.oom);
    scan_in_chunks(w.data, len, 0, 1, 1);
    scan_in_chunks(w.data, len, 12, 1, 1);
    for (unsigned seed = 1; seed < 50; seed++)
        scan_in_chunks(w.data, len, 12, seed, 1 + seed % 40);

    /* Whole at once. */
    struct zab_snap_scan s;
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, w.data, w.len, 0), 1);
    assert_int_equal(s.pos, len);

    /* A wrong signature, of the right length or not. */
    jute_writer b;
    jute_writer_init(&b, 1024);
    build_stream(&b, "BenWasHerf");
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, b.data, b.len - 1, 0), 0);
    assert_int_equal(zab_snap_scan(&s, b.data, b.len, 0), -EBADMSG);
    assert_int_equal(zab_snap_scan(&s, b.data, b.len, 0), -EBADMSG); /* stays refused */
    jute_writer_reset(&b);
    build_stream(&b, "BenWasHere!");
    zab_snap_scan_init(&s);
    /* Refused as soon as the length is there. */
    assert_int_equal(zab_snap_scan(&s, b.data, b.len - 11, 0), -EBADMSG);
    jute_writer_reset(&b);
    build_stream(&b, "Ben");
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, b.data, b.len, 0), -EBADMSG);

    /* Negative counts and lengths, and items over max_item. */
    uint8_t bad[256];
    memcpy(bad, w.data, 200);
    put32(bad, -1); /* session count */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, 200, 0), -EBADMSG);
    memcpy(bad, w.data, 200);
    put32(bad + 28, -1); /* ACL cache count */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, 200, 0), -EBADMSG);
    memcpy(bad, w.data, 200);
    put32(bad + 32 + 8, -1); /* first entry's ACL count */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, 200, 0), -EBADMSG);
    /* node path: offset after sessions (28), ACL count (4), entry 1 (12),
     * entry 2 (12 + 4+4+5+4+6 + 4+4+4+1) */
    size_t nodes_at = 28 + 4 + 12 + 12 + 23 + 13;
    assert_int_equal(jute_get_u32(w.data + nodes_at), 0); /* the root's "" */
    memcpy(bad, w.data, 200);
    put32(bad + nodes_at, -1); /* null path */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, 200, 0), -EBADMSG);
    memcpy(bad, w.data, 200);
    put32(bad + nodes_at + 4, -2); /* data length */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, 200, 0), -EBADMSG);
    /* a string longer than max_item: "anyone" is 6 bytes */
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, w.data, len, 5), -EBADMSG);
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, w.data, len, 10), 1);
    /* max_item is checked on the length, before the bytes arrive */
    memcpy(bad, w.data, 200);
    put32(bad + nodes_at + 4, 1 << 30);
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, nodes_at + 8, 1 << 20), -EBADMSG);
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, bad, nodes_at + 8, 0), 0);

    jute_writer_free(&b);
    jute_writer_free(&w);
}

/* A big stream fed one byte at a time: quadratic rescanning would take
 * hours; the resumable scan takes a moment. */
static void test_snap_scan_is_linear(void **state)
{
    (void)state;
    jute_writer w;
    jute_writer_init(&w, 1 << 20);
    int nsessions = 20000, nodes = 20000;
    jute_write_int(&w, nsessions);
    for (int i = 0; i < nsessions; i++) {
        jute_write_long(&w, i);
        jute_write_int(&w, 4000);
    }
    jute_write_int(&w, 1);
    jute_write_long(&w, 1);
    jute_write_int(&w, 3000);
    for (int i = 0; i < 3000; i++) {
        jute_write_int(&w, 31);
        jute_write_string(&w, "digest");
        jute_write_string(&w, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    }
    char path[32];
    for (int i = 0; i < nodes; i++) {
        snprintf(path, sizeof path, "/n%d", i);
        jute_write_string(&w, path);
        jute_write_bytes(&w, i == 7 ? w.data : NULL, i == 7 ? 100000 : -1);
        jute_write_long(&w, 1);
        for (int k = 0; k < 15; k++)
            jute_write_int(&w, k);
    }
    jute_write_string(&w, "/");
    jute_write_string(&w, ZAB_SNAP_SIGNATURE);
    assert_false(w.oom);
    struct zab_snap_scan s;
    zab_snap_scan_init(&s);
    for (size_t have = 0; have < w.len; have++)
        assert_int_equal(zab_snap_scan(&s, w.data, have, 1 << 20), 0);
    assert_int_equal(zab_snap_scan(&s, w.data, w.len, 1 << 20), 1);
    assert_int_equal(s.pos, w.len);
    jute_writer_free(&w);
}

/* ---------------------------------------------------------------- epochs */

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/zab-epoch-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void write_file(const char *dir, const char *name, const char *content, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, len, fp), len);
    fclose(fp);
}

static size_t read_whole(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

/* ZooKeeper's QuorumPeer.loadDataBase rules on the epoch files. */
static void test_epoch_load_follows_quorum_peer(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char err[512], path[512], text[64];
    int64_t cur = -1, acc = -1;
    /* Missing files: created from the last zxid's epoch. */
    assert_int_equal(epoch_load(dir, 0x300000007, &cur, &acc, err, sizeof err), 0);
    assert_int_equal(cur, 3);
    assert_int_equal(acc, 3);
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_CURRENT);
    assert_int_equal(read_whole(path, text, sizeof text), 1);
    assert_memory_equal(text, "3", 1);
    /* The log reached epoch 4 but currentEpoch says 3: a leftover
     * currentEpoch.tmp holds the value that was being written. */
    write_file(dir, "currentEpoch.tmp", "4", 1);
    write_file(dir, EPOCH_ACCEPTED, "4", 1);
    assert_int_equal(epoch_load(dir, 0x400000001, &cur, &acc, err, sizeof err), 0);
    assert_int_equal(cur, 4);
    assert_int_equal(acc, 4);
    assert_int_equal(read_whole(path, text, sizeof text), 1);
    assert_memory_equal(text, "4", 1);
    /* Without it the server must not start. */
    snprintf(path, sizeof path, "%s/currentEpoch.tmp", dir);
    unlink(path);
    assert_int_equal(epoch_load(dir, 0x500000001, &cur, &acc, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "The current epoch, 4, is older than the last zxid, 0x500000001"));
    assert_non_null(strstr(err, "currentEpoch"));
    /* accepted < current. */
    write_file(dir, EPOCH_ACCEPTED, "3", 1);
    assert_int_equal(epoch_load(dir, 0x400000001, &cur, &acc, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "The accepted epoch, 3 is less than the current epoch, 4"));
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_CURRENT);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_ACCEPTED);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static void test_epoch_files(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char err[512];
    char path[512];
    int64_t v = -5;

    assert_int_equal(epoch_read(dir, EPOCH_CURRENT, &v, err, sizeof err), 1);
    assert_int_equal(v, -5);

    err[0] = '\0';
    assert_int_equal(epoch_write(dir, EPOCH_CURRENT, 1, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_CURRENT);
    char buf[64];
    assert_int_equal(read_whole(path, buf, sizeof buf), 1);
    assert_int_equal(buf[0], '1');
    snprintf(path, sizeof path, "%s/%s.tmp", dir, EPOCH_CURRENT);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(epoch_read(dir, EPOCH_CURRENT, &v, err, sizeof err), 0);
    assert_int_equal(v, 1);

    /* Replacing a longer value leaves no stale digits. */
    assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, 123456789012LL, err, sizeof err), 0);
    assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, 7, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/%s", dir, EPOCH_ACCEPTED);
    assert_int_equal(read_whole(path, buf, sizeof buf), 1);
    assert_int_equal(epoch_read(dir, EPOCH_ACCEPTED, &v, err, sizeof err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, INT64_MAX, err, sizeof err), 0);
    assert_int_equal(epoch_read(dir, EPOCH_ACCEPTED, &v, err, sizeof err), 0);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(read_whole(path, buf, sizeof buf), 19);
    assert_memory_equal(buf, "9223372036854775807", 19);
    assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, 0, err, sizeof err), 0);
    assert_int_equal(epoch_read(dir, EPOCH_ACCEPTED, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);

    /* White space around the number is tolerated (ZooKeeper reads a line). */
    write_file(dir, "ws", " 42\n", 4);
    assert_int_equal(epoch_read(dir, "ws", &v, err, sizeof err), 0);
    assert_int_equal(v, 42);

    /* Garbage is refused, naming the file and showing the content. */
    static const char *const garbage[] = {"abc", "", "\n", "-1", "1x", "1 2", "+3",
                                          "9223372036854775808", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        write_file(dir, "bad", garbage[i], strlen(garbage[i]));
        err[0] = '\0';
        v = -5;
        assert_int_equal(epoch_read(dir, "bad", &v, err, sizeof err), -EBADMSG);
        assert_int_equal(v, -5);
        assert_non_null(strstr(err, "/bad: not an epoch: '"));
        assert_non_null(strstr(err, dir));
    }
    write_file(dir, "bad", "abc", 3);
    assert_int_equal(epoch_read(dir, "bad", &v, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "not an epoch: 'abc'"));
    char big[200];
    memset(big, '1', sizeof big);
    write_file(dir, "bad", big, sizeof big);
    assert_int_equal(epoch_read(dir, "bad", &v, err, sizeof err), -EBADMSG);
    write_file(dir, "bad", "1\0", 2);
    assert_int_equal(epoch_read(dir, "bad", &v, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "\\x00"));

    /* A missing directory is created. */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/data/version-2", dir);
    assert_int_equal(epoch_write(sub, EPOCH_CURRENT, 3, err, sizeof err), 0);
    assert_int_equal(epoch_read(sub, EPOCH_CURRENT, &v, err, sizeof err), 0);
    assert_int_equal(v, 3);

    /* Failures name the file and the step. */
    snprintf(sub, sizeof sub, "%s/ws/x", dir); /* a file as a directory */
    err[0] = '\0';
    assert_true(epoch_write(sub, EPOCH_CURRENT, 3, err, sizeof err) < 0);
    assert_non_null(strstr(err, EPOCH_CURRENT));
    assert_non_null(strstr(err, "directory"));
    assert_true(epoch_write(dir, EPOCH_CURRENT, -1, err, sizeof err) < 0);
    assert_true(epoch_read(sub, EPOCH_CURRENT, &v, err, sizeof err) < 0);
    assert_non_null(strstr(err, EPOCH_CURRENT));

    /* Clean up. */
    const char *files[] = {"currentEpoch", "acceptedEpoch", "ws", "bad", "data/version-2/currentEpoch"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/data/version-2", dir);
    assert_int_equal(rmdir(path), 0);
    snprintf(path, sizeof path, "%s/data", dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* --------------------------------------------------- SNAP stream load */

struct fixture {
    struct server srv;
    struct zk_config cfg;
};

static struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->cfg.tick_time = 2000;
    f->cfg.digest_enabled = true;
    f->srv.cfg = &f->cfg;
    f->srv.tree = tree_new(true, true);
    f->srv.session_nbuckets = 64;
    f->srv.session_buckets = calloc(f->srv.session_nbuckets, sizeof *f->srv.session_buckets);
    assert_non_null(f->srv.tree);
    assert_non_null(f->srv.session_buckets);
    return f;
}

static void fixture_free(struct fixture *f)
{
    for (size_t b = 0; b < f->srv.session_nbuckets; b++) {
        struct session *s = f->srv.session_buckets[b];
        while (s) {
            struct session *next = s->hash_next;
            free(s->ephemerals);
            free(s);
            s = next;
        }
    }
    free(f->srv.session_buckets);
    tree_free(f->srv.tree);
    free(f);
}

static struct znode *add(struct fixture *f, const char *path, const char *data, int64_t owner,
                         const struct acl_entry *acl, size_t nacl)
{
    struct tree *t = f->srv.tree;
    const char *slash = strrchr(path, '/');
    struct znode *parent = tree_lookup(t, path, (size_t)(slash - path));
    assert_non_null(parent);
    struct znode st = {.czxid = 5, .mzxid = 6, .pzxid = 7, .ctime = 1000, .mtime = 2000, .version = 3,
                       .cversion = 1, .aversion = 2, .ephemeral_owner = owner};
    uint32_t ref = acl ? tree_acl_intern(t, acl, nacl) : TREE_ACL_OPEN;
    struct znode *z = tree_insert(t, parent, slash + 1, strlen(slash + 1), (const uint8_t *)data,
                                  data ? strlen(data) : 0, ref, &st);
    assert_non_null(z);
    if (tree_node_kind(t, z) == TREE_NODE_EPHEMERAL)
        txn_track_ephemeral(&f->srv, z);
    return z;
}

static void assert_same_node(struct fixture *a, struct fixture *b, const char *path)
{
    struct znode *x = tree_lookup(a->srv.tree, path, strlen(path));
    struct znode *y = tree_lookup(b->srv.tree, path, strlen(path));
    assert_non_null(x);
    assert_non_null(y);
    struct zk_stat sx, sy;
    memset(&sx, 0, sizeof sx);
    memset(&sy, 0, sizeof sy);
    tree_node_stat(x, &sx);
    tree_node_stat(y, &sy);
    assert_memory_equal(&sx, &sy, sizeof sx);
    assert_int_equal(x->data_null, y->data_null);
    assert_int_equal(x->data_len, y->data_len);
    if (x->data_len)
        assert_memory_equal(x->data, y->data, x->data_len);
    size_t nx, ny;
    const struct acl_entry *ax = tree_acl_get(a->srv.tree, x->acl, &nx);
    const struct acl_entry *ay = tree_acl_get(b->srv.tree, y->acl, &ny);
    assert_int_equal(nx, ny);
    for (size_t i = 0; i < nx; i++) {
        assert_int_equal(ax[i].perms, ay[i].perms);
        assert_string_equal(ax[i].id.scheme, ay[i].id.scheme);
        assert_string_equal(ax[i].id.id, ay[i].id.id);
    }
}

static int collect(void *arg, const uint8_t *data, size_t len)
{
    jute_writer *w = arg;
    jute_write_raw(w, data, len);
    return w->oom ? -ENOMEM : 0;
}

static struct fixture *populated(void)
{
    struct fixture *a = fixture_new();
    struct acl_entry digest = {.perms = ZK_PERM_ALL,
                               .id = {.scheme = "digest", .id = "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="}};
    struct acl_entry two[2] = {{.perms = ZK_PERM_READ, .id = {.scheme = "world", .id = "anyone"}},
                               {.perms = ZK_PERM_ALL, .id = {.scheme = "ip", .id = "10.0.0.0/8"}}};
    assert_non_null(server_session_add(&a->srv, 0x0100000000000001LL, 30000));
    assert_non_null(server_session_add(&a->srv, 0x0100000000000002LL, 4000));
    assert_non_null(server_session_add(&a->srv, 0x0200000000000003LL, 6000));
    add(a, "/app", "hello", 0, NULL, 0);
    add(a, "/app/null", NULL, 0, &digest, 1);
    add(a, "/app/eph", "e", 0x0100000000000001LL, &digest, 1);
    add(a, "/app/eph2", "", 0x0100000000000001LL, two, 2);
    add(a, "/app/deep", "d", 0, two, 2);
    add(a, "/app/deep/er", "dd", 0x0200000000000003LL, NULL, 0);
    add(a, "/cont", "", TREE_OWNER_CONTAINER, NULL, 0);
    add(a, "/ttl", "t", TREE_OWNER_TTL_MASK | 5000, NULL, 0);
    a->srv.last_zxid = 0x300000006LL;
    return a;
}

static const char *const populated_paths[] = {"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota",
                                              "/app", "/app/null", "/app/eph", "/app/eph2", "/app/deep",
                                              "/app/deep/er", "/cont", "/ttl"};

static void test_learner_stream_round_trip(void **state)
{
    (void)state;
    struct fixture *a = populated();
    jute_writer w;
    jute_writer_init(&w, 256);
    assert_int_equal(snapshot_stream_learner(&a->srv, collect, &w), 0);
    assert_false(w.oom);
    /* No FileHeader: it starts with the session count; it ends with the
     * "/" marker and the signature. */
    assert_int_equal(jute_get_u32(w.data), 3);
    assert_true(w.len > 19);
    assert_memory_equal(w.data + w.len - 19, "\0\0\0\x01/\0\0\0\x0a" ZAB_SNAP_SIGNATURE, 19);

    /* The same sessions, ACL cache and nodes as in a snapshot file: the
     * file's bytes after its 16-byte header up to its first seal. */
    jute_writer f;
    jute_writer_init(&f, 256);
    assert_int_equal(snapshot_write(&a->srv, &f), 0);
    assert_true(f.len > 16 + w.len - 14);
    assert_memory_equal(f.data + 16, w.data, w.len - 14);

    /* The scanner finds its end, byte by byte, with a packet behind it. */
    jute_writer s;
    jute_writer_init(&s, w.len + 64);
    jute_write_raw(&s, w.data, w.len);
    zab_packet_write(&s, ZAB_NEWLEADER, 4LL << 32, "cfg", 3, NULL);
    assert_false(s.oom);
    scan_in_chunks(s.data, w.len, s.len - w.len, 7, 1);
    scan_in_chunks(s.data, w.len, s.len - w.len, 8, 17);

    struct fixture *b = fixture_new();
    add(b, "/old", "gone", 0, NULL, 0);
    char err[256] = "";
    assert_int_equal(snapshot_load_learner(&b->srv, a->srv.last_zxid, s.data, w.len, err, sizeof err), 0);
    assert_null(tree_lookup(b->srv.tree, "/old", 4));
    assert_int_equal(b->srv.tree->count, a->srv.tree->count);
    assert_int_equal(b->srv.tree->data_size, a->srv.tree->data_size);
    /* The digest was computed from the nodes. */
    assert_int_equal(b->srv.tree->digest, a->srv.tree->digest);
    for (size_t i = 0; i < sizeof populated_paths / sizeof populated_paths[0]; i++)
        assert_same_node(a, b, populated_paths[i]);
    assert_int_equal(b->srv.nsessions, 3);
    struct session *s1 = server_session_find(&b->srv, 0x0100000000000001LL);
    assert_non_null(s1);
    assert_int_equal(s1->timeout, 30000);
    assert_int_equal(s1->nephemerals, 2);
    struct session *s3 = server_session_find(&b->srv, 0x0200000000000003LL);
    assert_non_null(s3);
    assert_int_equal(s3->timeout, 6000);
    assert_int_equal(s3->nephemerals, 1);
    assert_int_equal(server_session_find(&b->srv, 0x0100000000000002LL)->timeout, 4000);
    assert_int_equal(tree_special_count(b->srv.tree), 2);

    /* Streamed again from the loaded state: the same bytes (the session
     * order follows the hash table, which both fixtures size alike only
     * for the file; compare the length and the node part). */
    jute_writer w2;
    jute_writer_init(&w2, 256);
    assert_int_equal(snapshot_stream_learner(&b->srv, collect, &w2), 0);
    assert_int_equal(w2.len, w.len);
    size_t sessions_end = 4 + 3 * 12;
    assert_memory_equal(w2.data + sessions_end, w.data + sessions_end, w.len - sessions_end);

    jute_writer_free(&w2);
    jute_writer_free(&s);
    jute_writer_free(&f);
    jute_writer_free(&w);
    fixture_free(a);
    fixture_free(b);
}

static void test_learner_stream_damage_refused(void **state)
{
    (void)state;
    struct fixture *a = populated();
    jute_writer w;
    jute_writer_init(&w, 256);
    assert_int_equal(snapshot_stream_learner(&a->srv, collect, &w), 0);
    uint8_t *bad = malloc(w.len + 1);
    assert_non_null(bad);

    struct fixture *b = fixture_new();
    assert_non_null(server_session_add(&b->srv, 77, 5000));
    add(b, "/mine", "keep", 0, NULL, 0);
    uint64_t digest = b->srv.tree->digest;
    size_t count = b->srv.tree->count;
    struct tree *tree = b->srv.tree;
    char err[256];

#define ASSERT_KEPT()                                                                                        \
    do {                                                                                                     \
        assert_true(strlen(err) > 0);                                                                        \
        assert_ptr_equal(b->srv.tree, tree);                                                                 \
        assert_int_equal(b->srv.tree->digest, digest);                                                       \
        assert_int_equal(b->srv.tree->count, count);                                                         \
        assert_non_null(tree_lookup(b->srv.tree, "/mine", 5));                                               \
        assert_int_equal(b->srv.nsessions, 1);                                                               \
        assert_non_null(server_session_find(&b->srv, 77));                                                   \
    } while (0)

    /* Every truncation. */
    for (size_t cut = 0; cut < w.len; cut++) {
        memcpy(bad, w.data, cut);
        err[0] = '\0';
        assert_int_equal(snapshot_load_learner(&b->srv, 1, bad, cut, err, sizeof err), -EBADMSG);
        ASSERT_KEPT();
    }
    /* A wrong signature. */
    memcpy(bad, w.data, w.len);
    bad[w.len - 1] ^= 1;
    err[0] = '\0';
    assert_int_equal(snapshot_load_learner(&b->srv, 1, bad, w.len, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "signature"));
    ASSERT_KEPT();
    /* A stray byte after it. */
    memcpy(bad, w.data, w.len);
    bad[w.len] = 0;
    err[0] = '\0';
    assert_int_equal(snapshot_load_learner(&b->srv, 1, bad, w.len + 1, err, sizeof err), -EBADMSG);
    ASSERT_KEPT();
    /* A node naming an ACL the cache lacks (the first node with acl id 1:
     * find "/app/null" and patch the long after its data). */
    memcpy(bad, w.data, w.len);
    uint8_t *hit = memmem(bad, w.len, "/app/null", 9);
    assert_non_null(hit);
    uint8_t *acl = hit + 9 + 4; /* null data: just its length */
    assert_int_equal(jute_get_u32(acl - 4), 0xffffffffu);
    jute_put_u32(acl, 0x7fffffff);
    err[0] = '\0';
    assert_int_equal(snapshot_load_learner(&b->srv, 1, bad, w.len, err, sizeof err), -EBADMSG);
    assert_non_null(strstr(err, "ACL"));
    ASSERT_KEPT();
    /* A snapshot file is not a SNAP stream. */
    jute_writer f;
    jute_writer_init(&f, 256);
    assert_int_equal(snapshot_write(&a->srv, &f), 0);
    err[0] = '\0';
    assert_int_equal(snapshot_load_learner(&b->srv, 1, f.data, f.len, err, sizeof err), -EBADMSG);
    ASSERT_KEPT();
    /* Nor the reverse. */
    err[0] = '\0';
    assert_int_equal(snapshot_load(&b->srv, 1, w.data, w.len, err, sizeof err), -EBADMSG);
    ASSERT_KEPT();
#undef ASSERT_KEPT

    jute_writer_free(&f);
    free(bad);
    jute_writer_free(&w);
    fixture_free(a);
    fixture_free(b);
}

/* An empty database streams as ZooKeeper's fresh one would and loads. */
static void test_learner_stream_empty(void **state)
{
    (void)state;
    struct fixture *a = fixture_new();
    jute_writer w;
    jute_writer_init(&w, 256);
    assert_int_equal(snapshot_stream_learner(&a->srv, collect, &w), 0);
    assert_int_equal(jute_get_u32(w.data), 0);
    struct zab_snap_scan s;
    zab_snap_scan_init(&s);
    assert_int_equal(zab_snap_scan(&s, w.data, w.len, 1 << 20), 1);
    assert_int_equal(s.pos, w.len);
    struct fixture *b = fixture_new();
    char err[256];
    assert_int_equal(snapshot_load_learner(&b->srv, 0, w.data, w.len, err, sizeof err), 0);
    assert_int_equal(b->srv.tree->count, 4);
    assert_int_equal(b->srv.tree->digest, 0x51c6d660u);
    jute_writer_free(&w);
    fixture_free(a);
    fixture_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captured_packets_written),
        cmocka_unit_test(test_captured_packets_parsed),
        cmocka_unit_test(test_malformed_packets),
        cmocka_unit_test(test_request_with_authinfo),
        cmocka_unit_test(test_learner_info_forms),
        cmocka_unit_test(test_revalidate),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_snap_scan),
        cmocka_unit_test(test_snap_scan_is_linear),
        cmocka_unit_test(test_epoch_files),
        cmocka_unit_test(test_epoch_load_follows_quorum_peer),
        cmocka_unit_test(test_learner_stream_round_trip),
        cmocka_unit_test(test_learner_stream_damage_refused),
        cmocka_unit_test(test_learner_stream_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
