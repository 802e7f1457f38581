/*
 * ZAB wire format: ZooKeeper 3.8's QuorumPacket and the records the learner
 * protocol carries (LearnerInfo, the PING session list, REVALIDATE, the
 * REQUEST header), byte for byte as ZooKeeper writes them.
 *
 *   QuorumPacket { int type; long zxid; buffer data; vector<Id> authinfo }
 *   Id { ustring scheme; ustring id }
 *
 * Packets follow each other on the quorum connection with no length prefix:
 * zab_packet_parse finds where one ends. A null buffer or vector is written
 * as length -1.
 */
#ifndef ZKPLUG_ZAB_H
#define ZKPLUG_ZAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acl.h"
#include "jute.h"

enum zab_packet_type {
    ZAB_REQUEST = 1,
    ZAB_PROPOSAL = 2,
    ZAB_ACK = 3,
    ZAB_COMMIT = 4,
    ZAB_PING = 5,
    ZAB_REVALIDATE = 6,
    ZAB_SYNC = 7,
    ZAB_INFORM = 8,
    ZAB_COMMITANDACTIVATE = 9,
    ZAB_NEWLEADER = 10,
    ZAB_FOLLOWERINFO = 11,
    ZAB_UPTODATE = 12,
    ZAB_DIFF = 13,
    ZAB_TRUNC = 14,
    ZAB_SNAP = 15,
    ZAB_OBSERVERINFO = 16,
    ZAB_LEADERINFO = 17,
    ZAB_ACKEPOCH = 18,
    ZAB_INFORMANDACTIVATE = 19,
};

/* The Zab 1.0 protocol version learners and leaders announce. */
#define ZAB_PROTOCOL_VERSION 0x10000

/* Most authinfo entries a packet may carry (more is malformed). */
#define ZAB_MAX_AUTH 64

/* A decoded packet. Spans point into the buffer that was parsed. */
struct zab_packet {
    int32_t type;
    int64_t zxid;
    jute_span data;                  /* len -1 when null */
    int32_t nauth;                   /* -1 when the vector is null */
    jute_span auth_scheme[ZAB_MAX_AUTH];
    jute_span auth_id[ZAB_MAX_AUTH];
};

/* Parse one packet from the front of buf. Returns the number of bytes it
 * takes (> 0) and fills *out; 0 when buf holds only part of it (then *need,
 * if not NULL, is the total length needed when known from what arrived,
 * else len + 1); -EBADMSG when malformed (negative lengths other than -1, a
 * data buffer longer than max_data, more than ZAB_MAX_AUTH ids, a string
 * longer than 4096 bytes in authinfo). */
ssize_t zab_packet_parse(const uint8_t *buf, size_t len, size_t max_data, struct zab_packet *out,
                         size_t *need);

/* Append one packet to w. data NULL = null buffer (whatever len is); auth
 * NULL = null authinfo vector (ZooKeeper writes null for packets other than
 * REQUEST), else every id of auth in order. */
void zab_packet_write(jute_writer *w, int32_t type, int64_t zxid, const void *data, int32_t len,
                      const struct acl_auth *auth);

/* Copy the authinfo of a parsed packet into auth (emptied first). 0 or
 * -ENOMEM. */
int zab_packet_auth(const struct zab_packet *p, struct acl_auth *auth);

/* LearnerInfo { long serverid; int protocolVersion; long configVersion }.
 * Reading accepts ZooKeeper's legacy lengths: 8 bytes (sid only: protocol
 * version 0, config version 0), 12 (no config version). */
struct zab_learner_info {
    int64_t sid;
    int32_t protocol_version;
    int64_t config_version;
};
void zab_learner_info_write(jute_writer *w, const struct zab_learner_info *li);
int zab_learner_info_read(jute_span data, struct zab_learner_info *out); /* 0 or -EBADMSG */

/* The REQUEST data: long sessionId, int cxid, int type, then the client's
 * request record bytes (the rest). */
struct zab_request {
    int64_t session_id;
    int32_t cxid;
    int32_t type;
    jute_span body; /* may be empty (len 0) */
};
void zab_request_write(jute_writer *w, int64_t session_id, int32_t cxid, int32_t type, const void *body,
                       size_t body_len);
int zab_request_read(jute_span data, struct zab_request *out); /* 0 or -EBADMSG */

/* REVALIDATE: learner -> leader `long sessionId, int timeout`; leader ->
 * learner `long sessionId, bool valid`. */
void zab_revalidate_request_write(jute_writer *w, int64_t session_id, int32_t timeout);
int zab_revalidate_request_read(jute_span data, int64_t *session_id, int32_t *timeout);
void zab_revalidate_reply_write(jute_writer *w, int64_t session_id, bool valid);
int zab_revalidate_reply_read(jute_span data, int64_t *session_id, bool *valid);

/* The session list of a learner's PING reply: repeated {long id, int
 * timeout} (12 bytes each) up to the end of data. zab_ping_sessions_next
 * reads the index-th entry: 1 and the values, 0 past the end, -EBADMSG when
 * data is not a whole number of entries. */
int zab_ping_sessions_next(jute_span data, size_t index, int64_t *session_id, int32_t *timeout);

/*
 * The database stream a leader sends after SNAP (ZooKeeper's
 * serializeSnapshot with no FileHeader, checksums or digest):
 *   int sessionCount, {long id, int timeout}*;
 *   int aclCount, {long id, vector<ACL>}*  (ACL = int perms, ustring scheme, ustring id);
 *   nodes: {ustring path, buffer data, long acl, StatPersisted (60 bytes)}*,
 *          ended by the path "/";
 *   ustring "BenWasHere".
 * It is not framed: zab_snap_scan finds its end while bytes arrive. buf is
 * always the whole stream received so far (from its first byte); the scan
 * resumes where the previous call stopped, so the cost is linear overall.
 */
struct zab_snap_scan {
    int phase;          /* private */
    int64_t remaining;  /* private */
    size_t pos;         /* bytes of buf known to be complete items */
};
#define ZAB_SNAP_SIGNATURE "BenWasHere"
void zab_snap_scan_init(struct zab_snap_scan *s);
/* 1 when the stream is complete (it is then s->pos bytes long, signature
 * included); 0 when more bytes are needed; -EBADMSG when malformed (a
 * negative count or length, a wrong signature, a string or buffer longer
 * than max_item). */
int zab_snap_scan(struct zab_snap_scan *s, const uint8_t *buf, size_t len, size_t max_item);

#endif
