/*
 * Unit tests for core/proto.c, the ZooKeeper 3.8 record codec.
 *
 * Most inputs are bytes captured from a real ZooKeeper 3.8.0 (Debian
 * 3.8.0-11+deb12u2, OpenJDK 17, standalone, extendedTypesEnabled=true) on
 * 127.0.0.1 with tests/tools/capture_proxy.py:
 *   - client packets: the proxy logged every frame (payload after the 4-byte
 *     length) between the server and kazoo 2.8.0 ("kazoo" mode), zkCli.sh
 *     3.8.0 (setWatches after the proxy dropped the connection) and a few
 *     hand-built requests no installed client sends ("raw" mode: an old
 *     ConnectRequest without the readOnly byte, createContainer, createTTL);
 *     the replies to all of them are the server's own;
 *   - txns: every entry of that server's dataDir/version-2/log.1, as printed
 *     by "capture_proxy.py txnlog": TxnHeader + record + TxnDigest (none on
 *     the error entry).
 * The tests decode them, check the fields, and re-encode them to the same
 * bytes. Truncated and hostile inputs are built from them; run under ASan
 * (ZKPLUG_SANITIZE=ON) to catch leaks and over-reads on those paths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

/* ------------------------------------------------------- captured bytes */

/* ConnectRequest, kazoo 2.8.0, new session, readOnly byte 0 [c2s] */
static const uint8_t cap_connect_req[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x0f, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ConnectResponse to it: timeout 4000, session 0x1000005d57e0000 [s2c] */
static const uint8_t cap_connect_resp[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xa0, 0x01, 0x00, 0x00, 0x05,
    0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x20, 0x4e, 0x58, 0x49,
    0x2d, 0x35, 0xdf, 0x22, 0xfe, 0xdd, 0x4c, 0x16, 0xbe, 0x01, 0xf7, 0x0d,
    0x00,
};

/* auth: xid -4, AuthPacket{0, "digest", "u:p"} [c2s] */
static const uint8_t cap_auth_req[] = {
    0xff, 0xff, 0xff, 0xfc, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x06, 0x64, 0x69, 0x67, 0x65, 0x73, 0x74, 0x00, 0x00,
    0x00, 0x03, 0x75, 0x3a, 0x70,
};

/* auth reply: xid -4, zxid 0, err 0 [s2c] */
static const uint8_t cap_auth_reply[] = {
    0xff, 0xff, 0xff, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};

/* create /a "hello", ACL [1 world:anyone, 31 digest:u:...], flags 0 [c2s] */
static const uint8_t cap_create_req[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x77,
    0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f,
    0x6e, 0x65, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x06, 0x64, 0x69,
    0x67, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00, 0x1e, 0x75, 0x3a, 0x4a, 0x71,
    0x37, 0x77, 0x4d, 0x79, 0x41, 0x2f, 0x77, 0x32, 0x56, 0x64, 0x35, 0x57,
    0x49, 0x44, 0x41, 0x4b, 0x64, 0x75, 0x34, 0x4f, 0x49, 0x49, 0x46, 0x45,
    0x51, 0x3d, 0x00, 0x00, 0x00, 0x00,
};

/* create reply: CreateResponse{"/a"} [s2c] */
static const uint8_t cap_create_reply[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x2f, 0x61,
};

/* create2 /b "xy", OPEN_ACL_UNSAFE, flags 0 [c2s] */
static const uint8_t cap_create2_req[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x62, 0x00, 0x00, 0x00, 0x02, 0x78, 0x79, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00,
    0x00, 0x00, 0x00,
};

/* create2 reply: Create2Response{"/b", stat} [s2c] */
static const uint8_t cap_create2_reply[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x2f, 0x62, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x03, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x47, 0x00, 0x00,
    0x01, 0xa2, 0x19, 0x82, 0x8e, 0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
};

/* getData /a, no watch [c2s] */
static const uint8_t cap_getdata_req[] = {
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00,
};

/* getData reply: "hello" + stat [s2c] */
static const uint8_t cap_getdata_reply[] = {
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c,
    0x6f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e,
    0x3c, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
};

/* setData /a "world", version -1 [c2s] */
static const uint8_t cap_setdata_req[] = {
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0xff,
    0xff, 0xff, 0xff,
};

/* setData reply: stat [s2c] */
static const uint8_t cap_setdata_reply[] = {
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x4c,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
};

/* getChildren2 /b, no watch [c2s] */
static const uint8_t cap_getchildren2_req[] = {
    0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x62, 0x00,
};

/* getChildren2 reply: ["c"] + stat [s2c] */
static const uint8_t cap_getchildren2_reply[] = {
    0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e,
    0x47, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x47, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
};

/* exists /nope, no watch [c2s] */
static const uint8_t cap_exists_req[] = {
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05,
    0x2f, 0x6e, 0x6f, 0x70, 0x65, 0x00,
};

/* exists reply: err -101, header only [s2c] */
static const uint8_t cap_exists_reply[] = {
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0xff, 0xff, 0xff, 0x9b,
};

/* getACL /a [c2s] */
static const uint8_t cap_getacl_req[] = {
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61,
};

/* getACL reply: the two ACL entries + stat [s2c] */
static const uint8_t cap_getacl_reply[] = {
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00,
    0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x1f, 0x00,
    0x00, 0x00, 0x06, 0x64, 0x69, 0x67, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00,
    0x1e, 0x75, 0x3a, 0x4a, 0x71, 0x37, 0x77, 0x4d, 0x79, 0x41, 0x2f, 0x77,
    0x32, 0x56, 0x64, 0x35, 0x57, 0x49, 0x44, 0x41, 0x4b, 0x64, 0x75, 0x34,
    0x4f, 0x49, 0x49, 0x46, 0x45, 0x51, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
    0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x01, 0xa2, 0x19,
    0x82, 0x8e, 0x4c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02,
};

/* setACL /a [31 world:anyone] version 0 [c2s] */
static const uint8_t cap_setacl_req[] = {
    0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00,
    0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61,
    0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00,
};

/* setACL reply: stat [s2c] */
static const uint8_t cap_setacl_reply[] = {
    0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e, 0x4c,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
};

/* multi: create /m1 "1", setData /a "multi" -1, check /b 0 [c2s] */
static const uint8_t cap_multi_req[] = {
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x01,
    0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x2f, 0x6d, 0x31,
    0x00, 0x00, 0x00, 0x01, 0x31, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00,
    0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x02, 0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x6d, 0x75, 0x6c, 0x74, 0x69,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x0d, 0x00, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x02, 0x2f, 0x62, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff,
};

/* multi reply (success): create "/m1", setData stat, check [s2c] */
static const uint8_t cap_multi_reply[] = {
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x03, 0x2f, 0x6d, 0x31, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x01,
    0xa2, 0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x8e,
    0x5f, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff,
};

/* multi: create /f1, delete /nonexist, create /f2 [c2s] */
static const uint8_t cap_multi_fail_req[] = {
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x01,
    0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x2f, 0x66, 0x31,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f,
    0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00,
    0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x09,
    0x2f, 0x6e, 0x6f, 0x6e, 0x65, 0x78, 0x69, 0x73, 0x74, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x03, 0x2f, 0x66, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72,
    0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff,
    0xff,
};

/* multi reply (failure): error 0, error -101, error -2 [s2c] */
static const uint8_t cap_multi_fail_reply[] = {
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff,
    0xff, 0x9b, 0xff, 0xff, 0xff, 0x9b, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff,
    0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x01,
    0xff, 0xff, 0xff, 0xff,
};

/* getData /w with watch [c2s] */
static const uint8_t cap_getdata_watch_req[] = {
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x77, 0x01,
};

/* watch notification: NodeDataChanged, SyncConnected, "/w" [s2c] */
static const uint8_t cap_notification[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x02, 0x2f, 0x77,
};

/* ping: xid -2, type 11 [c2s] */
static const uint8_t cap_ping_req[] = {
    0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x0b,
};

/* ping reply: xid -2, zxid 0xd, err 0 [s2c] */
static const uint8_t cap_ping_reply[] = {
    0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d,
    0x00, 0x00, 0x00, 0x00,
};

/* closeSession: xid 18, type -11 [c2s] */
static const uint8_t cap_close_req[] = {
    0x00, 0x00, 0x00, 0x12, 0xff, 0xff, 0xff, 0xf5,
};

/* closeSession reply [s2c] */
static const uint8_t cap_close_reply[] = {
    0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e,
    0x00, 0x00, 0x00, 0x00,
};

/* ConnectRequest without the readOnly byte (hand-built, "raw" mode) [c2s] */
static const uint8_t cap_old_connect_req[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ConnectResponse to it: no readOnly byte (36 bytes) [s2c] */
static const uint8_t cap_old_connect_resp[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0x30, 0x01, 0x00, 0x00, 0x05,
    0xd5, 0x7e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x33, 0x6f, 0x52, 0x49,
    0xcd, 0x80, 0xbe, 0x67, 0xf3, 0x20, 0xb4, 0x41, 0x92, 0x8a, 0x0b, 0xdb,
};

/* createContainer /ctr "c", OPEN_ACL_UNSAFE, flags 4 (hand-built) [c2s] */
static const uint8_t cap_container_req[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x63, 0x74, 0x72, 0x00, 0x00, 0x00, 0x01, 0x63, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72,
    0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65,
    0x00, 0x00, 0x00, 0x04,
};

/* createContainer reply: Create2Response [s2c] */
static const uint8_t cap_container_reply[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x2f, 0x63, 0x74, 0x72,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x9a, 0x93,
    0x00, 0x00, 0x01, 0xa2, 0x19, 0x82, 0x9a, 0x93, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

/* createTTL /ttl "t", flags 5, ttl 3600000 (hand-built) [c2s] */
static const uint8_t cap_ttl_req[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x74, 0x74, 0x6c, 0x00, 0x00, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72,
    0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x36, 0xee, 0x80,
};

/* ConnectRequest resuming session 0x1000005d57e0002, zkCli.sh 3.8.0 [c2s] */
static const uint8_t cap_resume_connect_req[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13,
    0x00, 0x00, 0x75, 0x30, 0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x10, 0xfa, 0x0b, 0x64, 0x49, 0xed, 0x9d, 0x20, 0x99,
    0x14, 0x58, 0x7e, 0xbf, 0x17, 0xf0, 0xcd, 0x73, 0x00,
};

/* ConnectResponse to it [s2c] */
static const uint8_t cap_resume_connect_resp[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0x30, 0x01, 0x00, 0x00, 0x05,
    0xd5, 0x7e, 0x00, 0x02, 0x00, 0x00, 0x00, 0x10, 0xfa, 0x0b, 0x64, 0x49,
    0xed, 0x9d, 0x20, 0x99, 0x14, 0x58, 0x7e, 0xbf, 0x17, 0xf0, 0xcd, 0x73,
    0x00,
};

/* setWatches after reconnect (zkCli.sh): relZxid 0x13, data ["/w"] [c2s] */
static const uint8_t cap_setwatches_req[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x65, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* setWatches reply: xid 2, header only [s2c] */
static const uint8_t cap_setwatches_reply[] = {
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13,
    0x00, 0x00, 0x00, 0x00,
};

/* txn log entry zxid 0x1, type -10, cxid 0 (TxnHeader + record + digest) */
static const uint8_t txn_01_create_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x2e, 0xff, 0xff, 0xff, 0xf6, 0x00, 0x00, 0x0f, 0xa0,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x51, 0xc6, 0xd6, 0x60,
};

/* txn log entry zxid 0x2, type 1, cxid 1 (TxnHeader + record + digest) */
static const uint8_t txn_02_create[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x3c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x77,
    0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f,
    0x6e, 0x65, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x06, 0x64, 0x69,
    0x67, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00, 0x1e, 0x75, 0x3a, 0x4a, 0x71,
    0x37, 0x77, 0x4d, 0x79, 0x41, 0x2f, 0x77, 0x32, 0x56, 0x64, 0x35, 0x57,
    0x49, 0x44, 0x41, 0x4b, 0x64, 0x75, 0x34, 0x4f, 0x49, 0x49, 0x46, 0x45,
    0x51, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x01, 0x3d, 0xa3, 0xb0, 0xa5,
};

/* txn log entry zxid 0x3, type 15, cxid 2 (TxnHeader + record + digest) */
static const uint8_t txn_03_create2[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x47, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x62, 0x00, 0x00, 0x00, 0x02, 0x78, 0x79, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
    0x93, 0x7c, 0xc4, 0x59,
};

/* txn log entry zxid 0x4, type 5, cxid 4 (TxnHeader + record + digest) */
static const uint8_t txn_04_set_data[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x4c, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x7b,
    0xe8, 0x75, 0x8d,
};

/* txn log entry zxid 0x5, type 1, cxid 5 (TxnHeader + record + digest) */
static const uint8_t txn_05_create[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x4f, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x62, 0x2f, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
    0xf4, 0xc6, 0x69, 0x38,
};

/* txn log entry zxid 0x6, type 7, cxid 9 (TxnHeader + record + digest) */
static const uint8_t txn_06_set_acl[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x59, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00,
    0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61,
    0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x01, 0xe1, 0xbf, 0x5d, 0x75,
};

/* txn log entry zxid 0x7, type 14, cxid 10 (TxnHeader + record + digest) */
static const uint8_t txn_07_multi[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x5f, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x03,
    0x2f, 0x6d, 0x31, 0x00, 0x00, 0x00, 0x01, 0x31, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x13,
    0x00, 0x00, 0x00, 0x02, 0x2f, 0x61, 0x00, 0x00, 0x00, 0x05, 0x6d, 0x75,
    0x6c, 0x74, 0x69, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x02, 0x2f, 0x62, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x4c, 0x44, 0x60,
    0x40,
};

/* txn log entry zxid 0x8, type 14, cxid 11 (TxnHeader + record + digest) */
static const uint8_t txn_08_multi[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x63, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x03,
    0x2f, 0x66, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64,
    0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00,
    0x00, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x04, 0xff,
    0xff, 0xff, 0x9b, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x04, 0xff,
    0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x4c,
    0x44, 0x60, 0x40,
};

/* txn log entry zxid 0x9, type 1, cxid 12 (TxnHeader + record + digest) */
static const uint8_t txn_09_create[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x66, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x77, 0x00, 0x00, 0x00, 0x01, 0x30, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64,
    0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x00, 0x00,
    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x32,
    0x59, 0xe1, 0x48,
};

/* txn log entry zxid 0xa, type 5, cxid 14 (TxnHeader + record + digest) */
static const uint8_t txn_10_set_data[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x6b, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x77, 0x00, 0x00, 0x00, 0x01, 0x31, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x0d, 0xca, 0xf3, 0xbe,
};

/* txn log entry zxid 0xb, type -1, cxid 15 (TxnHeader + record + digest) */
static const uint8_t txn_11_error[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x9a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x92,
};

/* txn log entry zxid 0xc, type 2, cxid 16 (TxnHeader + record + digest) */
static const uint8_t txn_12_delete[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x9c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x62, 0x2f, 0x63, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
    0xa9, 0xeb, 0x0b, 0x37,
};

/* txn log entry zxid 0xd, type 1, cxid 17 (TxnHeader + record + digest) */
static const uint8_t txn_13_create[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x8e, 0x9e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x2f, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00,
    0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65, 0x01, 0x00, 0x00,
    0x00, 0x05, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0xff, 0x7d,
    0x17, 0x5b,
};

/* txn log entry zxid 0xe, type -11, cxid 18 (TxnHeader + record + digest) */
static const uint8_t txn_14_close_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x9a, 0x5a, 0xff, 0xff, 0xff, 0xf5, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02, 0x2f, 0x65, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x00, 0x02, 0x82, 0x47, 0x9a, 0xdd,
};

/* txn log entry zxid 0xf, type -10, cxid 0 (TxnHeader + record + digest) */
static const uint8_t txn_15_create_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x9a, 0x90, 0xff, 0xff, 0xff, 0xf6, 0x00, 0x00, 0x75, 0x30,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x82, 0x47, 0x9a, 0xdd,
};

/* txn log entry zxid 0x10, type 19, cxid 1 (TxnHeader + record + digest) */
static const uint8_t txn_16_create_container[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x9a, 0x93, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x63, 0x74, 0x72, 0x00, 0x00, 0x00, 0x01, 0x63, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72,
    0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65,
    0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
    0x2a, 0xd2, 0xa1, 0xe8,
};

/* txn log entry zxid 0x11, type 21, cxid 2 (TxnHeader + record + digest) */
static const uint8_t txn_17_create_ttl[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x9a, 0x95, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x04,
    0x2f, 0x74, 0x74, 0x6c, 0x00, 0x00, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72,
    0x6c, 0x64, 0x00, 0x00, 0x00, 0x06, 0x61, 0x6e, 0x79, 0x6f, 0x6e, 0x65,
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x36, 0xee, 0x80,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x87, 0x33, 0xf3, 0x81,
};

/* txn log entry zxid 0x12, type -11, cxid 3 (TxnHeader + record + digest) */
static const uint8_t txn_18_close_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0x9a, 0x97, 0xff, 0xff, 0xff, 0xf5, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x87, 0x33, 0xf3, 0x81,
};

/* txn log entry zxid 0x13, type -10, cxid 0 (TxnHeader + record + digest) */
static const uint8_t txn_19_create_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0xa3, 0xf7, 0xff, 0xff, 0xff, 0xf6, 0x00, 0x00, 0x75, 0x30,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x87, 0x33, 0xf3, 0x81,
};

/* txn log entry zxid 0x14, type -11, cxid 4 (TxnHeader + record + digest) */
static const uint8_t txn_20_close_session[] = {
    0x01, 0x00, 0x00, 0x05, 0xd5, 0x7e, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x01, 0xa2,
    0x19, 0x82, 0xce, 0x67, 0xff, 0xff, 0xff, 0xf5, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x87, 0x33, 0xf3, 0x81,
};

/* ------------------------------------------------------------- helpers */

#define SPAN_IS(s, str) span_is((s), (str), __FILE__, __LINE__)

static void
span_is(jute_span s, const char *str, const char *file, int line)
{
    if (str == NULL) {
        _assert_int_equal(s.len, -1, file, line);
        return;
    }
    _assert_int_equal(s.len, strlen(str), file, line);
    _assert_memory_equal(s.ptr, str, strlen(str), file, line);
}

static void
same_bytes(const jute_writer *w, const uint8_t *want, size_t len)
{
    assert_false(w->oom);
    assert_int_equal(w->len, len);
    assert_memory_equal(w->data, want, len);
}

/* For ACL lists decoded straight with proto_read_acl_list. */
static void
test_acl_free(struct acl_entry *acl, size_t n)
{
    if (acl == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(acl[i].id.scheme);
        free(acl[i].id.id);
    }
    free(acl);
}

/* A reader positioned after a request's RequestHeader, checking the header. */
static void
open_request(jute_reader *r, const uint8_t *buf, size_t len, int32_t xid, int32_t type)
{
    struct proto_request_header h;
    jute_reader_init(r, buf, len, 0);
    assert_int_equal(proto_read_request_header(r, &h), 0);
    assert_int_equal(h.xid, xid);
    assert_int_equal(h.type, type);
}

/* Copies a reply header from r to w, checking it. */
static void
copy_reply_header(jute_reader *r, jute_writer *w, int32_t xid, int64_t zxid, int32_t err)
{
    struct proto_reply_header h;
    assert_int_equal(proto_read_reply_header(r, &h), 0);
    assert_int_equal(h.xid, xid);
    assert_int_equal(h.zxid, zxid);
    assert_int_equal(h.err, err);
    proto_write_reply_header(w, h.xid, h.zxid, h.err);
}

static void
copy_stat(jute_reader *r, jute_writer *w, struct zk_stat *st)
{
    assert_int_equal(proto_read_stat(r, st), 0);
    proto_write_stat(w, st);
}

static void
copy_span(jute_reader *r, jute_writer *w, const char *want)
{
    jute_span s = jute_read_bytes(r);
    assert_false(r->err);
    SPAN_IS(s, want);
    jute_write_bytes(w, s.ptr, s.len);
}

/* ------------------------------------------------------------ session */

static void
test_connect_request_from_kazoo_decodes(void **state)
{
    (void)state;
    struct proto_connect_request req;
    jute_reader r;
    static const uint8_t zero[16];

    jute_reader_init(&r, cap_connect_req, sizeof cap_connect_req, 0);
    assert_int_equal(proto_read_connect_request(&r, &req), 0);
    assert_int_equal(req.protocol_version, 0);
    assert_int_equal(req.last_zxid_seen, 0);
    assert_int_equal(req.timeout, 4000);
    assert_int_equal(req.session_id, 0);
    assert_int_equal(req.passwd.len, 16);
    assert_memory_equal(req.passwd.ptr, zero, 16);
    assert_true(req.has_read_only);
    assert_false(req.read_only);
    assert_int_equal(jute_remaining(&r), 0);
}

static void
test_connect_request_resuming_session_decodes(void **state)
{
    (void)state;
    struct proto_connect_request req;
    jute_reader r;

    jute_reader_init(&r, cap_resume_connect_req, sizeof cap_resume_connect_req, 0);
    assert_int_equal(proto_read_connect_request(&r, &req), 0);
    assert_int_equal(req.last_zxid_seen, 0x13);
    assert_int_equal(req.timeout, 30000);
    assert_int_equal(req.session_id, 0x1000005d57e0002LL);
    assert_int_equal(req.passwd.len, 16);
    /* The password the server handed out for that session. */
    assert_memory_equal(req.passwd.ptr, cap_resume_connect_resp + 20, 16);
    assert_true(req.has_read_only);
}

static void
test_connect_request_without_read_only_byte_is_old_client(void **state)
{
    (void)state;
    struct proto_connect_request req;
    jute_reader r;

    assert_int_equal(sizeof cap_old_connect_req, 44);
    jute_reader_init(&r, cap_old_connect_req, sizeof cap_old_connect_req, 0);
    assert_int_equal(proto_read_connect_request(&r, &req), 0);
    assert_false(req.has_read_only);
    assert_false(req.read_only);
    assert_int_equal(req.timeout, 30000);
    assert_int_equal(req.passwd.len, 16);
}

static void
test_connect_request_read_only_byte_set(void **state)
{
    (void)state;
    uint8_t buf[sizeof cap_connect_req];
    struct proto_connect_request req;
    jute_reader r;

    memcpy(buf, cap_connect_req, sizeof buf);
    buf[sizeof buf - 1] = 1;
    jute_reader_init(&r, buf, sizeof buf, 0);
    assert_int_equal(proto_read_connect_request(&r, &req), 0);
    assert_true(req.has_read_only);
    assert_true(req.read_only);
}

static void
test_connect_request_truncated_before_read_only_fails(void **state)
{
    (void)state;
    /* Every prefix shorter than the 44 mandatory bytes is an error; 44
     * itself is an old client. Each prefix is copied to its own heap
     * block so ASan sees any read past it. */
    for (size_t n = 0; n <= sizeof cap_connect_req; n++) {
        uint8_t *buf = malloc(n ? n : 1);
        struct proto_connect_request req;
        jute_reader r;
        memcpy(buf, cap_connect_req, n);
        jute_reader_init(&r, buf, n, 0);
        int rc = proto_read_connect_request(&r, &req);
        if (n < 44) {
            assert_int_equal(rc, -EBADMSG);
            assert_true(r.err);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(req.has_read_only, n == 45);
        }
        free(buf);
    }
}

static void
check_connect_response(const uint8_t *cap, size_t len, bool has_read_only)
{
    jute_reader r;
    jute_writer w;
    struct proto_connect_response resp = {0};

    /* Decode by hand: the response has no reader in proto.h. */
    jute_reader_init(&r, cap, len, 0);
    resp.protocol_version = jute_read_int(&r);
    resp.timeout = jute_read_int(&r);
    resp.session_id = jute_read_long(&r);
    jute_span pw = jute_read_bytes(&r);
    assert_int_equal(pw.len, 16);
    resp.passwd = pw.ptr;
    resp.has_read_only = has_read_only;
    if (has_read_only)
        resp.read_only = jute_read_bool(&r);
    assert_false(r.err);
    assert_int_equal(jute_remaining(&r), 0);

    jute_writer_init(&w, 0);
    proto_write_connect_response(&w, &resp);
    same_bytes(&w, cap, len);
    jute_writer_free(&w);
}

static void
test_connect_response_encodes_like_zookeeper(void **state)
{
    (void)state;
    check_connect_response(cap_connect_resp, sizeof cap_connect_resp, true);
    check_connect_response(cap_resume_connect_resp, sizeof cap_resume_connect_resp, true);
    /* Old client: ZooKeeper leaves the readOnly byte out. */
    check_connect_response(cap_old_connect_resp, sizeof cap_old_connect_resp, false);
}

static void
test_connect_response_null_passwd_is_zeros(void **state)
{
    (void)state;
    /* The "session expired" reply: timeout 0, session 0, zero password. */
    static const uint8_t want[] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0,
    };
    struct proto_connect_response resp = {.has_read_only = true};
    jute_writer w;

    jute_writer_init(&w, 0);
    proto_write_connect_response(&w, &resp);
    same_bytes(&w, want, sizeof want);
    jute_writer_free(&w);
}

/* ------------------------------------------------------------- requests */

static void
test_create_request_with_acl_decodes(void **state)
{
    (void)state;
    struct proto_create_request req;
    jute_reader r;

    open_request(&r, cap_create_req, sizeof cap_create_req, 1, ZK_OP_CREATE);
    assert_int_equal(proto_read_create_request(&r, false, &req), 0);
    assert_int_equal(jute_remaining(&r), 0);
    SPAN_IS(req.path, "/a");
    SPAN_IS(req.data, "hello");
    assert_int_equal(req.flags, ZK_CREATE_PERSISTENT);
    assert_int_equal(req.ttl, 0);
    assert_int_equal(req.nacl, 2);
    assert_int_equal(req.acl[0].perms, ZK_PERM_READ);
    assert_string_equal(req.acl[0].id.scheme, "world");
    assert_string_equal(req.acl[0].id.id, "anyone");
    assert_int_equal(req.acl[1].perms, ZK_PERM_ALL);
    assert_string_equal(req.acl[1].id.scheme, "digest");
    assert_string_equal(req.acl[1].id.id, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");

    /* The ACL list writes back to the same bytes: it sits between the
     * data and the 4-byte flags at the end. */
    jute_writer w;
    jute_writer_init(&w, 0);
    proto_write_acl_list(&w, req.acl, req.nacl);
    size_t acl_at = sizeof cap_create_req - 4 - w.len;
    assert_memory_equal(w.data, cap_create_req + acl_at, w.len);
    jute_writer_free(&w);

    proto_create_request_free(&req);
    assert_null(req.acl);
    assert_int_equal(req.nacl, 0);
}

static void
test_create2_container_and_ttl_requests_decode(void **state)
{
    (void)state;
    struct proto_create_request req;
    jute_reader r;

    open_request(&r, cap_create2_req, sizeof cap_create2_req, 2, ZK_OP_CREATE2);
    assert_int_equal(proto_read_create_request(&r, false, &req), 0);
    SPAN_IS(req.path, "/b");
    SPAN_IS(req.data, "xy");
    assert_int_equal(req.nacl, 1);
    assert_int_equal(req.acl[0].perms, ZK_PERM_ALL);
    assert_string_equal(req.acl[0].id.id, "anyone");
    assert_int_equal(jute_remaining(&r), 0);
    proto_create_request_free(&req);

    open_request(&r, cap_container_req, sizeof cap_container_req, 1, ZK_OP_CREATECONTAINER);
    assert_int_equal(proto_read_create_request(&r, false, &req), 0);
    SPAN_IS(req.path, "/ctr");
    assert_int_equal(req.flags, ZK_CREATE_CONTAINER);
    assert_int_equal(jute_remaining(&r), 0);
    proto_create_request_free(&req);

    open_request(&r, cap_ttl_req, sizeof cap_ttl_req, 2, ZK_OP_CREATETTL);
    assert_int_equal(proto_read_create_request(&r, true, &req), 0);
    SPAN_IS(req.path, "/ttl");
    SPAN_IS(req.data, "t");
    assert_int_equal(req.flags, ZK_CREATE_PERSISTENT_WITH_TTL);
    assert_int_equal(req.ttl, 3600000);
    assert_int_equal(jute_remaining(&r), 0);
    proto_create_request_free(&req);

    /* Read without the ttl, the TTL request leaves its 8 bytes unread. */
    open_request(&r, cap_ttl_req, sizeof cap_ttl_req, 2, ZK_OP_CREATETTL);
    assert_int_equal(proto_read_create_request(&r, false, &req), 0);
    assert_int_equal(req.ttl, 0);
    assert_int_equal(jute_remaining(&r), 8);
    proto_create_request_free(&req);
}

static void
test_simple_requests_decode(void **state)
{
    (void)state;
    jute_reader r;
    struct proto_path_watch_request pw;
    struct proto_path_version_request pv;
    jute_span path;

    open_request(&r, cap_getdata_req, sizeof cap_getdata_req, 3, ZK_OP_GETDATA);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), 0);
    SPAN_IS(pw.path, "/a");
    assert_false(pw.watch);

    open_request(&r, cap_getdata_watch_req, sizeof cap_getdata_watch_req, 13, ZK_OP_GETDATA);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), 0);
    SPAN_IS(pw.path, "/w");
    assert_true(pw.watch);

    open_request(&r, cap_getchildren2_req, sizeof cap_getchildren2_req, 6, ZK_OP_GETCHILDREN2);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), 0);
    SPAN_IS(pw.path, "/b");

    open_request(&r, cap_exists_req, sizeof cap_exists_req, 7, ZK_OP_EXISTS);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), 0);
    SPAN_IS(pw.path, "/nope");
    assert_int_equal(jute_remaining(&r), 0);

    open_request(&r, cap_setdata_req, sizeof cap_setdata_req, 4, ZK_OP_SETDATA);
    assert_int_equal(proto_read_set_data_request(&r, &pv), 0);
    SPAN_IS(pv.path, "/a");
    SPAN_IS(pv.data, "world");
    assert_int_equal(pv.version, -1);
    assert_int_equal(jute_remaining(&r), 0);

    open_request(&r, cap_getacl_req, sizeof cap_getacl_req, 8, ZK_OP_GETACL);
    assert_int_equal(proto_read_path_request(&r, &path), 0);
    SPAN_IS(path, "/a");
    assert_int_equal(jute_remaining(&r), 0);

    open_request(&r, cap_ping_req, sizeof cap_ping_req, ZK_XID_PING, ZK_OP_PING);
    assert_int_equal(jute_remaining(&r), 0);
    open_request(&r, cap_close_req, sizeof cap_close_req, 18, ZK_OP_CLOSESESSION);
    assert_int_equal(jute_remaining(&r), 0);
}

static void
test_set_acl_request_decodes(void **state)
{
    (void)state;
    struct proto_set_acl_request req;
    jute_reader r;

    open_request(&r, cap_setacl_req, sizeof cap_setacl_req, 9, ZK_OP_SETACL);
    assert_int_equal(proto_read_set_acl_request(&r, &req), 0);
    SPAN_IS(req.path, "/a");
    assert_int_equal(req.nacl, 1);
    assert_int_equal(req.acl[0].perms, ZK_PERM_ALL);
    assert_string_equal(req.acl[0].id.scheme, "world");
    assert_string_equal(req.acl[0].id.id, "anyone");
    assert_int_equal(req.version, 0);
    assert_int_equal(jute_remaining(&r), 0);
    test_acl_free(req.acl, req.nacl);
}

static void
test_auth_request_decodes(void **state)
{
    (void)state;
    struct proto_auth_request req;
    jute_reader r;

    open_request(&r, cap_auth_req, sizeof cap_auth_req, ZK_XID_AUTH, ZK_OP_AUTH);
    assert_int_equal(proto_read_auth_request(&r, &req), 0);
    assert_int_equal(req.type, 0);
    SPAN_IS(req.scheme, "digest");
    SPAN_IS(req.auth, "u:p");
    assert_int_equal(jute_remaining(&r), 0);
}

static void
test_set_watches_request_decodes(void **state)
{
    (void)state;
    struct proto_set_watches_request req;
    jute_reader r;

    /* zkCli sent it with xid 2, not -8. */
    open_request(&r, cap_setwatches_req, sizeof cap_setwatches_req, 2, ZK_OP_SETWATCHES);
    assert_int_equal(proto_read_set_watches_request(&r, false, &req), 0);
    assert_int_equal(req.relative_zxid, 0x13);
    assert_int_equal(req.data.n, 1);
    SPAN_IS(req.data.items[0], "/w");
    assert_int_equal(req.exist.n, 0);
    assert_int_equal(req.child.n, 0);
    assert_int_equal(req.persistent.n, 0);
    assert_int_equal(req.persistent_recursive.n, 0);
    assert_int_equal(jute_remaining(&r), 0);
    proto_set_watches_request_free(&req);
    assert_null(req.data.items);

    /* As setWatches2 the same bytes lack the two persistent lists. */
    open_request(&r, cap_setwatches_req, sizeof cap_setwatches_req, 2, ZK_OP_SETWATCHES);
    assert_int_equal(proto_read_set_watches_request(&r, true, &req), -EBADMSG);
    assert_true(r.err);
    assert_null(req.data.items);
}

static void
test_set_watches2_request_decodes(void **state)
{
    (void)state;
    /* Built with the writer: no installed client sends setWatches2 unless
     * persistent watches exist. */
    jute_writer w;
    jute_reader r;
    struct proto_set_watches_request req;

    jute_writer_init(&w, 0);
    jute_write_long(&w, 0x100000005LL);
    jute_write_int(&w, 0);
    jute_write_int(&w, 1);
    jute_write_string(&w, "/e");
    jute_write_int(&w, -1);
    jute_write_int(&w, 2);
    jute_write_string(&w, "/p");
    jute_write_string(&w, "/q");
    jute_write_int(&w, 1);
    jute_write_string(&w, "/");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_set_watches_request(&r, true, &req), 0);
    assert_int_equal(req.relative_zxid, 0x100000005LL);
    assert_int_equal(req.data.n, 0);
    assert_int_equal(req.exist.n, 1);
    SPAN_IS(req.exist.items[0], "/e");
    assert_int_equal(req.child.n, -1);
    assert_null(req.child.items);
    assert_int_equal(req.persistent.n, 2);
    SPAN_IS(req.persistent.items[1], "/q");
    assert_int_equal(req.persistent_recursive.n, 1);
    SPAN_IS(req.persistent_recursive.items[0], "/");
    assert_int_equal(jute_remaining(&r), 0);
    proto_set_watches_request_free(&req);
    jute_writer_free(&w);
}

static void
test_multi_request_decodes(void **state)
{
    (void)state;
    jute_reader r;
    struct proto_multi_header mh;
    struct proto_create_request cr;
    struct proto_path_version_request pv;

    open_request(&r, cap_multi_req, sizeof cap_multi_req, 10, ZK_OP_MULTI);
    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(mh.type, ZK_OP_CREATE);
    assert_false(mh.done);
    assert_int_equal(mh.err, -1);
    assert_int_equal(proto_read_create_request(&r, false, &cr), 0);
    SPAN_IS(cr.path, "/m1");
    SPAN_IS(cr.data, "1");
    proto_create_request_free(&cr);

    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(mh.type, ZK_OP_SETDATA);
    assert_int_equal(proto_read_set_data_request(&r, &pv), 0);
    SPAN_IS(pv.path, "/a");
    SPAN_IS(pv.data, "multi");
    assert_int_equal(pv.version, -1);

    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(mh.type, ZK_OP_CHECK);
    assert_int_equal(proto_read_check_version_request(&r, &pv), 0);
    SPAN_IS(pv.path, "/b");
    assert_int_equal(pv.data.len, -1);
    assert_int_equal(pv.version, 0);

    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(mh.type, -1);
    assert_true(mh.done);
    assert_int_equal(mh.err, -1);
    assert_int_equal(jute_remaining(&r), 0);

    /* The failing multi: create /f1, delete /nonexist, create /f2. */
    open_request(&r, cap_multi_fail_req, sizeof cap_multi_fail_req, 11, ZK_OP_MULTI);
    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(proto_read_create_request(&r, false, &cr), 0);
    SPAN_IS(cr.path, "/f1");
    proto_create_request_free(&cr);
    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(mh.type, ZK_OP_DELETE);
    assert_int_equal(proto_read_delete_request(&r, &pv), 0);
    SPAN_IS(pv.path, "/nonexist");
    assert_int_equal(pv.version, -1);
    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_int_equal(proto_read_create_request(&r, false, &cr), 0);
    SPAN_IS(cr.path, "/f2");
    proto_create_request_free(&cr);
    assert_int_equal(proto_read_multi_header(&r, &mh), 0);
    assert_true(mh.done);
    assert_int_equal(jute_remaining(&r), 0);
}

static void
test_other_path_requests_decode(void **state)
{
    (void)state;
    jute_writer w;
    jute_reader r;
    struct proto_path_int_request pi;
    struct proto_reconfig_request rc;

    jute_writer_init(&w, 0);
    jute_write_string(&w, "/x");
    jute_write_int(&w, ZK_ADDWATCH_PERSISTENT_RECURSIVE);
    jute_write_string(&w, "server.4=h:1:2");
    jute_write_string(&w, NULL);
    jute_write_string(&w, "");
    jute_write_long(&w, -1);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_path_int_request(&r, &pi), 0);
    SPAN_IS(pi.path, "/x");
    assert_int_equal(pi.value, ZK_ADDWATCH_PERSISTENT_RECURSIVE);
    assert_int_equal(proto_read_reconfig_request(&r, &rc), 0);
    SPAN_IS(rc.joining, "server.4=h:1:2");
    SPAN_IS(rc.leaving, NULL);
    SPAN_IS(rc.new_members, "");
    assert_int_equal(rc.cur_config_id, -1);
    assert_int_equal(jute_remaining(&r), 0);
    jute_writer_free(&w);
}

/* -------------------------------------------------------------- replies */

static void
test_create_replies_reencode(void **state)
{
    (void)state;
    jute_reader r;
    jute_writer w;
    struct zk_stat st;

    jute_writer_init(&w, 0);
    jute_reader_init(&r, cap_create_reply, sizeof cap_create_reply, 0);
    copy_reply_header(&r, &w, 1, 2, ZK_OK);
    copy_span(&r, &w, "/a");
    same_bytes(&w, cap_create_reply, sizeof cap_create_reply);

    jute_writer_reset(&w);
    jute_reader_init(&r, cap_create2_reply, sizeof cap_create2_reply, 0);
    copy_reply_header(&r, &w, 2, 3, ZK_OK);
    copy_span(&r, &w, "/b");
    copy_stat(&r, &w, &st);
    assert_int_equal(st.czxid, 3);
    assert_int_equal(st.mzxid, 3);
    assert_int_equal(st.ctime, 0x1a219828e47LL);
    assert_int_equal(st.mtime, st.ctime);
    assert_int_equal(st.version, 0);
    assert_int_equal(st.cversion, 0);
    assert_int_equal(st.aversion, 0);
    assert_int_equal(st.ephemeral_owner, 0);
    assert_int_equal(st.data_length, 2);
    assert_int_equal(st.num_children, 0);
    assert_int_equal(st.pzxid, 3);
    same_bytes(&w, cap_create2_reply, sizeof cap_create2_reply);

    /* createContainer answers with Create2Response too. */
    jute_writer_reset(&w);
    jute_reader_init(&r, cap_container_reply, sizeof cap_container_reply, 0);
    copy_reply_header(&r, &w, 1, 0x10, ZK_OK);
    copy_span(&r, &w, "/ctr");
    copy_stat(&r, &w, &st);
    assert_int_equal(st.ephemeral_owner, 0);
    assert_int_equal(st.data_length, 1);
    same_bytes(&w, cap_container_reply, sizeof cap_container_reply);
    jute_writer_free(&w);
}

static void
test_data_replies_reencode(void **state)
{
    (void)state;
    jute_reader r;
    jute_writer w;
    struct zk_stat st;

    jute_writer_init(&w, 0);
    jute_reader_init(&r, cap_getdata_reply, sizeof cap_getdata_reply, 0);
    copy_reply_header(&r, &w, 3, 3, ZK_OK);
    copy_span(&r, &w, "hello");
    copy_stat(&r, &w, &st);
    assert_int_equal(st.czxid, 2);
    assert_int_equal(st.data_length, 5);
    same_bytes(&w, cap_getdata_reply, sizeof cap_getdata_reply);

    jute_writer_reset(&w);
    jute_reader_init(&r, cap_setdata_reply, sizeof cap_setdata_reply, 0);
    copy_reply_header(&r, &w, 4, 4, ZK_OK);
    copy_stat(&r, &w, &st);
    assert_int_equal(st.mzxid, 4);
    assert_int_equal(st.version, 1);
    same_bytes(&w, cap_setdata_reply, sizeof cap_setdata_reply);

    jute_writer_reset(&w);
    jute_reader_init(&r, cap_setacl_reply, sizeof cap_setacl_reply, 0);
    copy_reply_header(&r, &w, 9, 6, ZK_OK);
    copy_stat(&r, &w, &st);
    assert_int_equal(st.aversion, 1);
    same_bytes(&w, cap_setacl_reply, sizeof cap_setacl_reply);

    jute_writer_reset(&w);
    jute_reader_init(&r, cap_getchildren2_reply, sizeof cap_getchildren2_reply, 0);
    copy_reply_header(&r, &w, 6, 5, ZK_OK);
    int32_t n = jute_read_count(&r, 4);
    assert_int_equal(n, 1);
    proto_write_string_count(&w, n);
    copy_span(&r, &w, "c");
    copy_stat(&r, &w, &st);
    assert_int_equal(st.num_children, 1);
    assert_int_equal(st.cversion, 1);
    assert_int_equal(st.pzxid, 5);
    same_bytes(&w, cap_getchildren2_reply, sizeof cap_getchildren2_reply);
    jute_writer_free(&w);
}

static void
test_getacl_reply_reencodes(void **state)
{
    (void)state;
    jute_reader r;
    jute_writer w;
    struct zk_stat st;
    struct acl_entry *acl;
    size_t nacl;

    jute_writer_init(&w, 0);
    jute_reader_init(&r, cap_getacl_reply, sizeof cap_getacl_reply, 0);
    copy_reply_header(&r, &w, 8, 5, ZK_OK);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), 0);
    assert_int_equal(nacl, 2);
    assert_string_equal(acl[1].id.scheme, "digest");
    assert_string_equal(acl[1].id.id, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    proto_write_acl_list(&w, acl, nacl);
    copy_stat(&r, &w, &st);
    assert_int_equal(jute_remaining(&r), 0);
    same_bytes(&w, cap_getacl_reply, sizeof cap_getacl_reply);
    test_acl_free(acl, nacl);
    jute_writer_free(&w);
}

static void
test_header_only_replies_reencode(void **state)
{
    (void)state;
    static const struct {
        const uint8_t *cap;
        size_t len;
        int32_t xid;
        int64_t zxid;
        int32_t err;
    } cases[] = {
        {cap_exists_reply, sizeof cap_exists_reply, 7, 5, ZK_NONODE},
        {cap_auth_reply, sizeof cap_auth_reply, ZK_XID_AUTH, 0, ZK_OK},
        {cap_ping_reply, sizeof cap_ping_reply, ZK_XID_PING, 0xd, ZK_OK},
        {cap_close_reply, sizeof cap_close_reply, 18, 0xe, ZK_OK},
        {cap_setwatches_reply, sizeof cap_setwatches_reply, 2, 0x13, ZK_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jute_reader r;
        jute_writer w;
        jute_writer_init(&w, 0);
        jute_reader_init(&r, cases[i].cap, cases[i].len, 0);
        copy_reply_header(&r, &w, cases[i].xid, cases[i].zxid, cases[i].err);
        assert_int_equal(jute_remaining(&r), 0);
        same_bytes(&w, cases[i].cap, cases[i].len);
        jute_writer_free(&w);
    }
}

static void
test_notification_reencodes(void **state)
{
    (void)state;
    jute_reader r;
    jute_writer w;

    jute_writer_init(&w, 0);
    jute_reader_init(&r, cap_notification, sizeof cap_notification, 0);
    copy_reply_header(&r, &w, ZK_XID_NOTIFICATION, -1, ZK_OK);
    assert_int_equal(jute_read_int(&r), ZK_EVENT_DATA_CHANGED);
    assert_int_equal(jute_read_int(&r), ZK_STATE_SYNC_CONNECTED);
    jute_span path = jute_read_bytes(&r);
    SPAN_IS(path, "/w");
    proto_write_watcher_event(&w, ZK_EVENT_DATA_CHANGED, ZK_STATE_SYNC_CONNECTED, "/w", 2);
    same_bytes(&w, cap_notification, sizeof cap_notification);
    jute_writer_free(&w);
}

/* Re-encodes a multi reply result by result; returns the result types. */
static size_t
reencode_multi_reply(const uint8_t *cap, size_t len, int32_t xid, int64_t zxid,
                     int32_t *types, int32_t *errs, size_t max)
{
    jute_reader r;
    jute_writer w;
    struct proto_multi_header mh;
    struct zk_stat st;
    size_t n = 0;

    jute_writer_init(&w, 0);
    jute_reader_init(&r, cap, len, 0);
    copy_reply_header(&r, &w, xid, zxid, ZK_OK);
    for (;;) {
        assert_int_equal(proto_read_multi_header(&r, &mh), 0);
        proto_write_multi_header(&w, mh.type, mh.done, mh.err);
        if (mh.done)
            break;
        assert_true(n < max);
        types[n] = mh.type;
        errs[n] = mh.err;
        n++;
        switch (mh.type) {
        case ZK_OP_CREATE:
            copy_span(&r, &w, "/m1");
            break;
        case ZK_OP_SETDATA:
            copy_stat(&r, &w, &st);
            assert_int_equal(st.version, 2);
            break;
        case ZK_OP_CHECK:
        case ZK_OP_DELETE:
            break;
        case ZK_OP_ERROR: {
            int32_t err = jute_read_int(&r);
            assert_int_equal(err, mh.err);
            jute_write_int(&w, err);
            break;
        }
        default:
            fail_msg("unexpected multi result type %d", mh.type);
        }
    }
    assert_true(mh.done);
    assert_int_equal(mh.type, -1);
    assert_int_equal(mh.err, -1);
    assert_int_equal(jute_remaining(&r), 0);
    same_bytes(&w, cap, len);
    jute_writer_free(&w);
    return n;
}

static void
test_multi_replies_reencode(void **state)
{
    (void)state;
    int32_t types[4], errs[4];

    assert_int_equal(reencode_multi_reply(cap_multi_reply, sizeof cap_multi_reply, 10, 7,
                                          types, errs, 4), 3);
    assert_int_equal(types[0], ZK_OP_CREATE);
    assert_int_equal(types[1], ZK_OP_SETDATA);
    assert_int_equal(types[2], ZK_OP_CHECK);
    assert_int_equal(errs[0], 0);

    assert_int_equal(reencode_multi_reply(cap_multi_fail_reply, sizeof cap_multi_fail_reply,
                                          11, 8, types, errs, 4), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(types[i], ZK_OP_ERROR);
    assert_int_equal(errs[0], ZK_OK);
    assert_int_equal(errs[1], ZK_NONODE);
    assert_int_equal(errs[2], ZK_RUNTIMEINCONSISTENCY);
}

/* ------------------------------------------------------------------ txns */

struct txn_case {
    const uint8_t *bytes;
    size_t len;
    int64_t zxid;
    int32_t type;
    int32_t cxid;
    bool digest;
};

#define TXN(arr, z, t, c, d) {arr, sizeof arr, z, t, c, d}

static const struct txn_case txn_cases[] = {
    TXN(txn_01_create_session, 1, ZK_OP_CREATESESSION, 0, true),
    TXN(txn_02_create, 2, ZK_OP_CREATE, 1, true),
    TXN(txn_03_create2, 3, ZK_OP_CREATE2, 2, true),
    TXN(txn_04_set_data, 4, ZK_OP_SETDATA, 4, true),
    TXN(txn_05_create, 5, ZK_OP_CREATE, 5, true),
    TXN(txn_06_set_acl, 6, ZK_OP_SETACL, 9, true),
    TXN(txn_07_multi, 7, ZK_OP_MULTI, 10, true),
    TXN(txn_08_multi, 8, ZK_OP_MULTI, 11, true),
    TXN(txn_09_create, 9, ZK_OP_CREATE, 12, true),
    TXN(txn_10_set_data, 10, ZK_OP_SETDATA, 14, true),
    TXN(txn_11_error, 11, ZK_OP_ERROR, 15, false),
    TXN(txn_12_delete, 12, ZK_OP_DELETE, 16, true),
    TXN(txn_13_create, 13, ZK_OP_CREATE, 17, true),
    TXN(txn_14_close_session, 14, ZK_OP_CLOSESESSION, 18, true),
    TXN(txn_15_create_session, 15, ZK_OP_CREATESESSION, 0, true),
    TXN(txn_16_create_container, 16, ZK_OP_CREATECONTAINER, 1, true),
    TXN(txn_17_create_ttl, 17, ZK_OP_CREATETTL, 2, true),
    TXN(txn_18_close_session, 18, ZK_OP_CLOSESESSION, 3, true),
    TXN(txn_19_create_session, 19, ZK_OP_CREATESESSION, 0, true),
    TXN(txn_20_close_session, 20, ZK_OP_CLOSESESSION, 4, true),
};

/* Decodes a whole log entry payload; returns the decoder's result. */
static int
decode_entry(const uint8_t *buf, size_t len, struct proto_txn_header *h, struct proto_txn *txn,
             struct proto_txn_digest *d, bool *has_digest)
{
    jute_reader r;
    int rc;

    jute_reader_init(&r, buf, len, 0);
    memset(txn, 0, sizeof *txn);
    if ((rc = proto_read_txn_header(&r, h)) != 0)
        return rc;
    if ((rc = proto_read_txn_body(&r, h->type, txn)) != 0)
        return rc;
    if ((rc = proto_read_txn_digest(&r, d, has_digest)) != 0) {
        proto_txn_free(txn);
        return rc;
    }
    if (jute_remaining(&r) != 0) {
        proto_txn_free(txn);
        return -EMSGSIZE;
    }
    return 0;
}

static void
test_txn_log_entries_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof txn_cases / sizeof txn_cases[0]; i++) {
        const struct txn_case *c = &txn_cases[i];
        struct proto_txn_header h;
        struct proto_txn txn;
        struct proto_txn_digest d;
        bool has_digest;
        jute_writer w;

        assert_int_equal(decode_entry(c->bytes, c->len, &h, &txn, &d, &has_digest), 0);
        assert_int_equal(h.client_id >> 56, 1);
        assert_int_equal(h.zxid, c->zxid);
        assert_int_equal(h.type, c->type);
        assert_int_equal(h.cxid, c->cxid);
        assert_int_equal(txn.type, c->type);
        assert_int_equal(has_digest, c->digest);
        if (has_digest)
            assert_int_equal(d.version, 2);

        jute_writer_init(&w, 0);
        proto_write_txn_header(&w, &h);
        proto_write_txn_body(&w, &txn);
        if (has_digest)
            proto_write_txn_digest(&w, &d);
        same_bytes(&w, c->bytes, c->len);
        jute_writer_free(&w);
        proto_txn_free(&txn);
    }
}

static void
test_txn_fields_decode(void **state)
{
    (void)state;
    struct proto_txn_header h;
    struct proto_txn t;
    struct proto_txn_digest d;
    bool dg;

    assert_int_equal(decode_entry(txn_01_create_session, sizeof txn_01_create_session, &h, &t, &d, &dg), 0);
    assert_int_equal(t.timeout, 4000);
    /* The empty tree's digest (facts 6.5). */
    assert_int_equal(d.tree_digest, 0x51c6d660);
    assert_int_equal(h.cxid, 0);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_02_create, sizeof txn_02_create, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/a");
    SPAN_IS(t.data, "hello");
    assert_int_equal(t.nacl, 2);
    assert_string_equal(t.acl[1].id.id, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    assert_false(t.ephemeral);
    assert_int_equal(t.parent_cversion, 1);
    assert_int_equal(h.client_id, 0x1000005d57e0000LL);
    proto_txn_free(&t);
    assert_null(t.acl);

    assert_int_equal(decode_entry(txn_06_set_acl, sizeof txn_06_set_acl, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/a");
    assert_int_equal(t.nacl, 1);
    assert_int_equal(t.acl[0].perms, ZK_PERM_ALL);
    assert_int_equal(t.version, 1);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_04_set_data, sizeof txn_04_set_data, &h, &t, &d, &dg), 0);
    SPAN_IS(t.data, "world");
    assert_int_equal(t.version, 1);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_11_error, sizeof txn_11_error, &h, &t, &d, &dg), 0);
    assert_int_equal(t.err, ZK_NODEEXISTS);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_12_delete, sizeof txn_12_delete, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/b/c");
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_13_create, sizeof txn_13_create, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/e");
    assert_true(t.ephemeral);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_14_close_session, sizeof txn_14_close_session, &h, &t, &d, &dg), 0);
    assert_int_equal(t.paths.n, 1);
    SPAN_IS(t.paths.items[0], "/e");
    proto_txn_free(&t);
    assert_null(t.paths.items);

    assert_int_equal(decode_entry(txn_18_close_session, sizeof txn_18_close_session, &h, &t, &d, &dg), 0);
    assert_int_equal(t.paths.n, 0);
    assert_true(dg);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_16_create_container, sizeof txn_16_create_container, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/ctr");
    SPAN_IS(t.data, "c");
    assert_int_equal(t.parent_cversion, 6);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(txn_17_create_ttl, sizeof txn_17_create_ttl, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/ttl");
    assert_int_equal(t.parent_cversion, 7);
    assert_int_equal(t.ttl, 3600000);
    proto_txn_free(&t);
}

static void
test_multi_txns_decode_recursively(void **state)
{
    (void)state;
    struct proto_txn_header h;
    struct proto_txn t;
    struct proto_txn_digest d;
    bool dg;

    assert_int_equal(decode_entry(txn_07_multi, sizeof txn_07_multi, &h, &t, &d, &dg), 0);
    assert_int_equal(t.nmulti, 3);
    assert_int_equal(t.multi[0].type, ZK_OP_CREATE);
    SPAN_IS(t.multi[0].path, "/m1");
    SPAN_IS(t.multi[0].data, "1");
    assert_int_equal(t.multi[0].nacl, 1);
    assert_int_equal(t.multi[0].parent_cversion, 3);
    assert_int_equal(t.multi[1].type, ZK_OP_SETDATA);
    SPAN_IS(t.multi[1].path, "/a");
    SPAN_IS(t.multi[1].data, "multi");
    assert_int_equal(t.multi[1].version, 2);
    /* CheckVersionTxn logs the node's version + 1. */
    assert_int_equal(t.multi[2].type, ZK_OP_CHECK);
    SPAN_IS(t.multi[2].path, "/b");
    assert_int_equal(t.multi[2].version, 1);
    proto_txn_free(&t);
    assert_null(t.multi);
    assert_int_equal(t.nmulti, 0);

    /* A failed multi: the prepared create, then error sub-txns. */
    assert_int_equal(decode_entry(txn_08_multi, sizeof txn_08_multi, &h, &t, &d, &dg), 0);
    assert_int_equal(t.nmulti, 3);
    assert_int_equal(t.multi[0].type, ZK_OP_CREATE);
    SPAN_IS(t.multi[0].path, "/f1");
    assert_int_equal(t.multi[1].type, ZK_OP_ERROR);
    assert_int_equal(t.multi[1].err, ZK_NONODE);
    assert_int_equal(t.multi[2].type, ZK_OP_ERROR);
    assert_int_equal(t.multi[2].err, ZK_RUNTIMEINCONSISTENCY);
    proto_txn_free(&t);
}

/* closeSession bodies may be missing; both shapes must read as n = -1. */
static void
test_close_session_without_body(void **state)
{
    (void)state;
    /* txn_18 is header (32) + empty vector (4) + digest (12). */
    uint8_t buf[sizeof txn_18_close_session - 4];
    struct proto_txn_header h;
    struct proto_txn t;
    struct proto_txn_digest d, d18;
    bool dg;
    jute_writer w;

    assert_int_equal(decode_entry(txn_18_close_session, sizeof txn_18_close_session, &h, &t, &d18, &dg), 0);
    proto_txn_free(&t);

    memcpy(buf, txn_18_close_session, 32);
    memcpy(buf + 32, txn_18_close_session + 36, 12);
    assert_int_equal(decode_entry(buf, sizeof buf, &h, &t, &d, &dg), 0);
    assert_int_equal(t.paths.n, -1);
    assert_null(t.paths.items);
    assert_true(dg);
    assert_int_equal(d.tree_digest, d18.tree_digest);
    jute_writer_init(&w, 0);
    proto_write_txn_header(&w, &h);
    proto_write_txn_body(&w, &t);
    proto_write_txn_digest(&w, &d);
    same_bytes(&w, buf, sizeof buf);
    proto_txn_free(&t);

    assert_int_equal(decode_entry(buf, 32, &h, &t, &d, &dg), 0);
    assert_int_equal(t.paths.n, -1);
    assert_false(dg);
    jute_writer_reset(&w);
    proto_write_txn_header(&w, &h);
    proto_write_txn_body(&w, &t);
    same_bytes(&w, buf, 32);
    proto_txn_free(&t);
    jute_writer_free(&w);
}

static void
test_create_txn_v0_reads_parent_cversion_minus_one(void **state)
{
    (void)state;
    /* txn_02 without its parentCVersion and digest is a 3.4 CreateTxnV0. */
    size_t len = sizeof txn_02_create - 12 - 4;
    struct proto_txn_header h;
    struct proto_txn t;
    struct proto_txn_digest d;
    bool dg;

    assert_int_equal(decode_entry(txn_02_create, len, &h, &t, &d, &dg), 0);
    SPAN_IS(t.path, "/a");
    assert_int_equal(t.nacl, 2);
    assert_false(t.ephemeral);
    assert_int_equal(t.parent_cversion, -1);
    assert_false(dg);
    proto_txn_free(&t);
}

/* ---------------------------------------------------- malformed inputs */

typedef int (*decode_fn)(const uint8_t *buf, size_t len);

static int
decode_create_body(const uint8_t *buf, size_t len)
{
    jute_reader r;
    struct proto_create_request req;
    jute_reader_init(&r, buf, len, 0);
    int rc = proto_read_create_request(&r, true, &req);
    if (rc == 0)
        proto_create_request_free(&req);
    else
        assert_true(r.err);
    return rc;
}

static int
decode_set_acl_body(const uint8_t *buf, size_t len)
{
    jute_reader r;
    struct proto_set_acl_request req;
    jute_reader_init(&r, buf, len, 0);
    int rc = proto_read_set_acl_request(&r, &req);
    if (rc == 0)
        test_acl_free(req.acl, req.nacl);
    else
        assert_true(r.err);
    return rc;
}

static int
decode_set_watches_body(const uint8_t *buf, size_t len)
{
    jute_reader r;
    struct proto_set_watches_request req;
    jute_reader_init(&r, buf, len, 0);
    int rc = proto_read_set_watches_request(&r, false, &req);
    if (rc == 0)
        proto_set_watches_request_free(&req);
    else
        assert_true(r.err);
    return rc;
}

static int
decode_txn_entry(const uint8_t *buf, size_t len)
{
    struct proto_txn_header h;
    struct proto_txn t;
    struct proto_txn_digest d;
    bool dg;
    int rc = decode_entry(buf, len, &h, &t, &d, &dg);
    if (rc == 0)
        proto_txn_free(&t);
    return rc;
}

/* Feeds every prefix of buf (each in its own exact-size heap block, so
 * ASan catches over-reads) and returns how many decoded successfully;
 * accepted[] receives those prefix lengths. */
static size_t
decode_prefixes(const uint8_t *buf, size_t len, decode_fn fn, size_t *accepted, size_t max)
{
    size_t n_ok = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, buf, n);
        int rc = fn(p, n);
        free(p);
        if (rc == 0) {
            assert_true(n_ok < max);
            accepted[n_ok++] = n;
        } else {
            assert_int_equal(rc, -EBADMSG);
        }
    }
    return n_ok;
}

static void
test_truncated_requests_fail(void **state)
{
    (void)state;
    size_t ok[4];

    /* Request bodies start after the 8-byte RequestHeader. */
    assert_int_equal(decode_prefixes(cap_ttl_req + 8, sizeof cap_ttl_req - 8,
                                     decode_create_body, ok, 4), 0);
    assert_int_equal(decode_prefixes(cap_create_req + 8, sizeof cap_create_req - 8,
                                     decode_create_body, ok, 4), 0);
    assert_int_equal(decode_prefixes(cap_setacl_req + 8, sizeof cap_setacl_req - 8,
                                     decode_set_acl_body, ok, 4), 0);
    assert_int_equal(decode_prefixes(cap_setwatches_req + 8, sizeof cap_setwatches_req - 8,
                                     decode_set_watches_body, ok, 4), 0);
    /* And the full bodies do decode. */
    assert_int_equal(decode_create_body(cap_ttl_req + 8, sizeof cap_ttl_req - 8), 0);
    assert_int_equal(decode_set_acl_body(cap_setacl_req + 8, sizeof cap_setacl_req - 8), 0);
}

static void
test_truncated_txns_fail(void **state)
{
    (void)state;
    size_t ok[4];

    /* The digest is optional, so the one accepted prefix is the entry
     * without it; a partial digest is an error. */
    const struct txn_case *plain[] = {&txn_cases[6], &txn_cases[7], &txn_cases[5],
                                      &txn_cases[16], &txn_cases[15], &txn_cases[3]};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        assert_int_equal(decode_prefixes(plain[i]->bytes, plain[i]->len, decode_txn_entry, ok, 4), 1);
        assert_int_equal(ok[0], plain[i]->len - 12);
    }
    /* A create also reads as CreateTxnV0 when cut before parentCVersion. */
    assert_int_equal(decode_prefixes(txn_02_create, sizeof txn_02_create, decode_txn_entry, ok, 4), 2);
    assert_int_equal(ok[0], sizeof txn_02_create - 16);
    assert_int_equal(ok[1], sizeof txn_02_create - 12);
    /* The error entry has no digest: only the whole entry is valid. */
    assert_int_equal(decode_prefixes(txn_11_error, sizeof txn_11_error, decode_txn_entry, ok, 4), 0);
}

static void
test_hostile_counts_fail_cleanly(void **state)
{
    (void)state;
    jute_writer w;
    jute_reader r;
    struct proto_create_request cr;
    struct proto_set_watches_request sw;
    struct proto_txn t;
    struct acl_entry *acl;
    size_t nacl;

    jute_writer_init(&w, 0);

    /* ACL count 0x7fffffff followed by one real entry. */
    jute_write_string(&w, "/x");
    jute_write_bytes(&w, "", 0);
    jute_write_int(&w, 0x7fffffff);
    jute_write_int(&w, 31);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 0);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_create_request(&r, false, &cr), -EBADMSG);
    assert_true(r.err);
    assert_null(cr.acl);

    /* A count below -1. */
    jute_writer_reset(&w);
    jute_write_int(&w, -2);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), -EBADMSG);
    assert_null(acl);

    /* setWatches with a huge exist list. */
    jute_writer_reset(&w);
    jute_write_long(&w, 0);
    jute_write_int(&w, 1);
    jute_write_string(&w, "/w");
    jute_write_int(&w, 0x7fffffff);
    jute_write_string(&w, "/w");
    jute_write_int(&w, 0);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_set_watches_request(&r, false, &sw), -EBADMSG);
    assert_null(sw.data.items);

    /* multi txn with a huge sub-txn count. */
    jute_writer_reset(&w);
    jute_write_int(&w, 0x7fffffff);
    jute_write_int(&w, ZK_OP_DELETE);
    jute_write_int(&w, 6);
    jute_write_string(&w, "/x");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_MULTI, &t), -EBADMSG);
    assert_null(t.multi);

    /* multi txn whose sub-txn buffer claims more bytes than there are. */
    jute_writer_reset(&w);
    jute_write_int(&w, 1);
    jute_write_int(&w, ZK_OP_DELETE);
    jute_write_int(&w, 0x7fffffff);
    jute_write_string(&w, "/x");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_MULTI, &t), -EBADMSG);

    /* closeSession with a huge path count. */
    jute_writer_reset(&w);
    jute_write_int(&w, 0x7fffffff);
    jute_write_string(&w, "/e");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_CLOSESESSION, &t), -EBADMSG);
    assert_null(t.paths.items);

    jute_writer_free(&w);
}

static void
test_bad_multi_txns_fail(void **state)
{
    (void)state;
    jute_writer w;
    jute_reader r;
    struct proto_txn t;

    /* A multi inside a multi. */
    jute_writer_init(&w, 0);
    jute_write_int(&w, 1);
    jute_write_int(&w, ZK_OP_MULTI);
    jute_write_int(&w, 4);
    jute_write_int(&w, 0);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_MULTI, &t), -EBADMSG);
    assert_true(r.err);

    /* createSession is not a multi sub-txn. */
    jute_writer_reset(&w);
    jute_write_int(&w, 1);
    jute_write_int(&w, ZK_OP_CREATESESSION);
    jute_write_int(&w, 4);
    jute_write_int(&w, 30000);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_MULTI, &t), -EBADMSG);

    /* The second sub-txn is cut short inside its own buffer: the first,
     * already decoded (with an ACL), must be freed (ASan checks). */
    jute_writer_reset(&w);
    jute_write_int(&w, 2);
    jute_write_int(&w, ZK_OP_SETACL);
    size_t at = w.len;
    jute_write_int(&w, 0);
    jute_write_string(&w, "/a");
    jute_write_int(&w, 1);
    jute_write_int(&w, 31);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 0);
    jute_patch_int(&w, at, (int32_t)(w.len - at - 4));
    jute_write_int(&w, ZK_OP_SETDATA);
    jute_write_int(&w, 6);
    jute_write_string(&w, "/a");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, ZK_OP_MULTI, &t), -EBADMSG);
    assert_true(r.err);
    assert_null(t.multi);

    /* Unknown txn type. */
    jute_writer_reset(&w);
    jute_write_int(&w, 0);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_txn_body(&r, 99, &t), -EBADMSG);
    jute_writer_free(&w);
}

static void
test_acl_list_null_empty_and_nul(void **state)
{
    (void)state;
    jute_writer w;
    jute_reader r;
    struct acl_entry *acl;
    size_t nacl;
    static const uint8_t null_vec[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t empty_vec[] = {0, 0, 0, 0};

    jute_writer_init(&w, 0);
    proto_write_acl_list(&w, NULL, 0);
    same_bytes(&w, null_vec, 4);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), 0);
    assert_null(acl);
    assert_int_equal(nacl, 0);

    jute_writer_reset(&w);
    jute_reader_init(&r, empty_vec, 4, 0);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), 0);
    assert_non_null(acl);
    assert_int_equal(nacl, 0);
    proto_write_acl_list(&w, acl, nacl);
    same_bytes(&w, empty_vec, 4);
    test_acl_free(acl, nacl);

    /* A null id reads as "" and a NUL inside an id is refused. */
    jute_writer_reset(&w);
    jute_write_int(&w, 2);
    jute_write_int(&w, 1);
    jute_write_string(&w, "world");
    jute_write_string(&w, NULL);
    jute_write_int(&w, 1);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), 0);
    assert_string_equal(acl[0].id.id, "");
    test_acl_free(acl, nacl);

    jute_writer_reset(&w);
    jute_write_int(&w, 2);
    jute_write_int(&w, 1);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 1);
    jute_write_string(&w, "world");
    jute_write_bytes(&w, "anyone\0x", 8);
    jute_reader_init(&r, w.data, w.len, 0);
    assert_int_equal(proto_read_acl_list(&r, &acl, &nacl), -EBADMSG);
    assert_true(r.err);
    assert_null(acl);
    jute_writer_free(&w);
}

static void
test_max_len_limits_strings(void **state)
{
    (void)state;
    struct proto_path_watch_request pw;
    jute_reader r;

    /* "/nope" is 5 bytes: a 4-byte limit refuses it, 5 accepts it. */
    jute_reader_init(&r, cap_exists_req + 8, sizeof cap_exists_req - 8, 4);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), -EBADMSG);
    jute_reader_init(&r, cap_exists_req + 8, sizeof cap_exists_req - 8, 5);
    assert_int_equal(proto_read_path_watch_request(&r, &pw), 0);
}

static void
test_op_names_and_tags(void **state)
{
    (void)state;
    /* Tags from FinalRequestProcessor in the 3.8.0 jar. */
    static const struct {
        int32_t op;
        const char *tag;
        const char *name;
    } ops[] = {
        {ZK_OP_CREATE, "CREA", "create"},
        {ZK_OP_CREATE2, "CREA", "create2"},
        {ZK_OP_CREATECONTAINER, "CREA", "createContainer"},
        {ZK_OP_CREATETTL, "CREA", "createTtl"},
        {ZK_OP_DELETE, "DELE", "delete"},
        {ZK_OP_DELETECONTAINER, "DELE", "deleteContainer"},
        {ZK_OP_EXISTS, "EXIS", "exists"},
        {ZK_OP_GETDATA, "GETD", "getData"},
        {ZK_OP_SETDATA, "SETD", "setData"},
        {ZK_OP_GETACL, "GETA", "getACL"},
        {ZK_OP_SETACL, "SETA", "setACL"},
        {ZK_OP_GETCHILDREN, "GETC", "getChildren"},
        {ZK_OP_GETCHILDREN2, "GETC", "getChildren2"},
        {ZK_OP_SYNC, "SYNC", "sync"},
        {ZK_OP_PING, "PING", "ping"},
        {ZK_OP_CHECK, "CHEC", "check"},
        {ZK_OP_MULTI, "MULT", "multi"},
        {ZK_OP_MULTIREAD, "MLTR", "multiRead"},
        {ZK_OP_RECONFIG, "RECO", "reconfig"},
        {ZK_OP_CHECKWATCHES, "CHKW", "checkWatches"},
        {ZK_OP_REMOVEWATCHES, "REMW", "removeWatches"},
        {ZK_OP_SETWATCHES, "SETW", "setWatches"},
        {ZK_OP_SETWATCHES2, "STW2", "setWatches2"},
        {ZK_OP_GETEPHEMERALS, "GETE", "getEphemerals"},
        {ZK_OP_GETALLCHILDRENNUMBER, "GETACN", "getAllChildrenNumber"},
        {ZK_OP_ADDWATCH, "ADDW", "addWatch"},
        {ZK_OP_WHOAMI, "HOMI", "whoAmI"},
        {ZK_OP_CREATESESSION, "SESS", "createSession"},
        {ZK_OP_CLOSESESSION, "CLOS", "closeSession"},
        {ZK_OP_AUTH, "NA", "auth"},
        {ZK_OP_SASL, "NA", "sasl"},
        {ZK_OP_ERROR, "NA", "error"},
        {ZK_OP_NOTIFICATION, "NA", "notification"},
        {10, "NA", "unknown"},
        {12345, "NA", "unknown"},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        assert_string_equal(proto_op_tag(ops[i].op), ops[i].tag);
        assert_string_equal(proto_op_name(ops[i].op), ops[i].name);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_request_from_kazoo_decodes),
        cmocka_unit_test(test_connect_request_resuming_session_decodes),
        cmocka_unit_test(test_connect_request_without_read_only_byte_is_old_client),
        cmocka_unit_test(test_connect_request_read_only_byte_set),
        cmocka_unit_test(test_connect_request_truncated_before_read_only_fails),
        cmocka_unit_test(test_connect_response_encodes_like_zookeeper),
        cmocka_unit_test(test_connect_response_null_passwd_is_zeros),
        cmocka_unit_test(test_create_request_with_acl_decodes),
        cmocka_unit_test(test_create2_container_and_ttl_requests_decode),
        cmocka_unit_test(test_simple_requests_decode),
        cmocka_unit_test(test_set_acl_request_decodes),
        cmocka_unit_test(test_auth_request_decodes),
        cmocka_unit_test(test_set_watches_request_decodes),
        cmocka_unit_test(test_set_watches2_request_decodes),
        cmocka_unit_test(test_multi_request_decodes),
        cmocka_unit_test(test_other_path_requests_decode),
        cmocka_unit_test(test_create_replies_reencode),
        cmocka_unit_test(test_data_replies_reencode),
        cmocka_unit_test(test_getacl_reply_reencodes),
        cmocka_unit_test(test_header_only_replies_reencode),
        cmocka_unit_test(test_notification_reencodes),
        cmocka_unit_test(test_multi_replies_reencode),
        cmocka_unit_test(test_txn_log_entries_roundtrip),
        cmocka_unit_test(test_txn_fields_decode),
        cmocka_unit_test(test_multi_txns_decode_recursively),
        cmocka_unit_test(test_close_session_without_body),
        cmocka_unit_test(test_create_txn_v0_reads_parent_cversion_minus_one),
        cmocka_unit_test(test_truncated_requests_fail),
        cmocka_unit_test(test_truncated_txns_fail),
        cmocka_unit_test(test_hostile_counts_fail_cleanly),
        cmocka_unit_test(test_bad_multi_txns_fail),
        cmocka_unit_test(test_acl_list_null_empty_and_nul),
        cmocka_unit_test(test_max_len_limits_strings),
        cmocka_unit_test(test_op_names_and_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
