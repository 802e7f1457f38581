/*
 * Election wire formats of ZooKeeper 3.8 (QuorumCnxManager and
 * FastLeaderElection), encoded and decoded without any host service so unit
 * tests link this file alone. The byte layouts are documented in fle_wire.c,
 * which writes them.
 *
 * Entry points: fle_initial_encode / fle_initial_parse (the first bytes of
 * an election connection), fle_notification_encode / fle_notification_decode
 * (one framed election message), fle_be32/fle_be64 helpers.
 */
#ifndef ZKPLUG_PLUGINS_FLE_WIRE_H
#define ZKPLUG_PLUGINS_FLE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define FLE_PROTOCOL_V1 (-65536LL)      /* 0xffffffffffff0000 */
#define FLE_PROTOCOL_V2 (-65535LL)      /* multiAddress.enabled only */
#define FLE_INITIAL_ADDR_MAX 2048       /* QuorumCnxManager.maxBuffer */
#define FLE_FRAME_MAX (512 * 1024)      /* QuorumCnxManager.PACKETMAXSIZE */
#define FLE_NOTIFICATION_VERSION 2
#define FLE_NOTIFICATION_MIN 28         /* shorter messages are dropped */
#define FLE_NOTIFICATION_HEADER 44      /* version 2, before the config text */

/* One notification (FastLeaderElection.Notification on the wire). */
struct fle_notification {
    int32_t state;          /* 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING */
    int64_t leader;
    int64_t zxid;
    int64_t election_epoch;
    int64_t peer_epoch;
    int32_t version;        /* 0 for the 28/40-byte forms */
    const uint8_t *config;  /* borrowed from the decoded message, NULL if none */
    uint32_t config_len;
};

static inline uint32_t fle_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t fle_get64(const uint8_t *p)
{
    return (uint64_t)fle_get32(p) << 32 | fle_get32(p + 4);
}

static inline void fle_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void fle_put64(uint8_t *p, uint64_t v)
{
    fle_put32(p, (uint32_t)(v >> 32));
    fle_put32(p + 4, (uint32_t)v);
}

/* Writes the version-2 notification n (with n->config, n->config_len) into
 * out. Returns its length (44 + config_len), or 0 when cap is too small. */
size_t fle_notification_encode(uint8_t *out, size_t cap, const struct fle_notification *n);

/* Decodes one message payload as FastLeaderElection's WorkerReceiver does:
 * 28 bytes (no peer epoch: taken from the zxid), 40 bytes (no version),
 * otherwise state..version and, for version > 1, the config text. Returns 0,
 * or -EINVAL with a reason in why (a static string) for a message
 * ZooKeeper would drop. n->config points into msg. */
int fle_notification_decode(const uint8_t *msg, size_t len, struct fle_notification *n,
                            const char **why);

/* Writes the initial message of a connecting server: protocol version
 * -65536, sid, address length and "host:port". Returns the length, or 0
 * when cap is too small or addr is empty or longer than 2048 bytes. */
size_t fle_initial_encode(uint8_t *out, size_t cap, int64_t sid, const char *addr);

/* Parses the initial message at the start of buf (len bytes so far).
 * Returns the bytes it used (> 0) with *sid and addr (NUL-terminated, ""
 * for the legacy sid-only header) set; 0 when more bytes are needed (*need
 * is then the total wanted); -EINVAL with why set for a header ZooKeeper
 * refuses. */
int fle_initial_parse(const uint8_t *buf, size_t len, int64_t *sid, char *addr, size_t addrcap,
                      size_t *need, const char **why);

/* Splits "host:port" (also "[v6]:port") into host and port. 0 or -EINVAL. */
int fle_address_split(const char *addr, char *host, size_t hostcap, int *port);

#endif
