/*
 * Election wire formats of ZooKeeper 3.8, byte by byte (all integers
 * big-endian, as Java's DataOutputStream and ByteBuffer write them).
 *
 * Initial message, sent unframed by the side that opens an election
 * connection (QuorumCnxManager.initiateConnection):
 *
 *   offset  size  field
 *        0     8  protocol version: -65536 (ff ff ff ff ff ff 00 00);
 *                 -65535 only with multiAddress.enabled
 *        8     8  sid of the connecting server
 *       16     4  n = length of the address text, 1..2048
 *       20     n  the connecting server's own election address "host:port"
 *                 (version -65535: several joined by '|'; the first is used)
 *
 *   Legacy header: a single non-negative 8-byte sid and nothing else.
 *   Example: ffffffffffff0000 0000000000000004 0000000f "127.0.0.1:13884".
 *
 * Every later message, in both directions, is framed:
 *
 *        0     4  length L, 1..524288 (else the connection is closed)
 *        4     L  payload
 *
 * Notification payload (FastLeaderElection.buildMsg), version 2:
 *
 *        0     4  state: 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING
 *        4     8  proposed (or current) leader sid
 *       12     8  that leader's last zxid
 *       20     8  election epoch (logical clock) of the vote
 *       28     8  peer epoch of the proposed leader
 *       36     4  notification version, 2
 *       40     4  c = length of the config text
 *       44     c  the sender's quorum configuration, "server.N=...\n" lines
 *                 and "version=<hex>", no trailing newline
 *
 *   Accepted on receipt as well: 28 bytes (up to the election epoch; peer
 *   epoch = zxid >> 32), exactly 40 bytes (the version field is not read:
 *   taken as 0), version 1 (no config).
 *   Fewer than 28 bytes, 29..39 bytes, a config length below zero or beyond
 *   the message: dropped, as ZooKeeper drops them.
 */
#include "fle_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fle_notification_encode(uint8_t *out, size_t cap, const struct fle_notification *n)
{
    size_t len = FLE_NOTIFICATION_HEADER + (size_t)n->config_len;
    if (cap < len)
        return 0;
    fle_put32(out, (uint32_t)n->state);
    fle_put64(out + 4, (uint64_t)n->leader);
    fle_put64(out + 12, (uint64_t)n->zxid);
    fle_put64(out + 20, (uint64_t)n->election_epoch);
    fle_put64(out + 28, (uint64_t)n->peer_epoch);
    fle_put32(out + 36, FLE_NOTIFICATION_VERSION);
    fle_put32(out + 40, n->config_len);
    if (n->config_len > 0)
        memcpy(out + 44, n->config, n->config_len);
    return len;
}

int fle_notification_decode(const uint8_t *msg, size_t len, struct fle_notification *n,
                            const char **why)
{
    memset(n, 0, sizeof *n);
    if (len < FLE_NOTIFICATION_MIN) {
        *why = "shorter than 28 bytes";
        return -EINVAL;
    }
    n->state = (int32_t)fle_get32(msg);
    n->leader = (int64_t)fle_get64(msg + 4);
    n->zxid = (int64_t)fle_get64(msg + 12);
    n->election_epoch = (int64_t)fle_get64(msg + 20);
    if (len == 28) {
        n->peer_epoch = (int64_t)((uint64_t)n->zxid >> 32);
        return 0;
    }
    if (len < 36) {
        *why = "truncated peer epoch";
        return -EINVAL;
    }
    n->peer_epoch = (int64_t)fle_get64(msg + 28);
    if (len == 40)
        return 0;
    if (len < 40) {
        *why = "truncated version";
        return -EINVAL;
    }
    n->version = (int32_t)fle_get32(msg + 36);
    if (n->version <= 1)
        return 0;
    if (len < 44) {
        *why = "truncated config length";
        return -EINVAL;
    }
    int32_t clen = (int32_t)fle_get32(msg + 40);
    if (clen < 0 || (size_t)clen > len - 44) {
        *why = "invalid config length";
        return -EINVAL;
    }
    n->config = msg + 44;
    n->config_len = (uint32_t)clen;
    return 0;
}

size_t fle_initial_encode(uint8_t *out, size_t cap, int64_t sid, const char *addr)
{
    size_t alen = strlen(addr);
    if (alen == 0 || alen > FLE_INITIAL_ADDR_MAX || cap < 20 + alen)
        return 0;
    fle_put64(out, (uint64_t)FLE_PROTOCOL_V1);
    fle_put64(out + 8, (uint64_t)sid);
    fle_put32(out + 16, (uint32_t)alen);
    memcpy(out + 20, addr, alen);
    return 20 + alen;
}

int fle_initial_parse(const uint8_t *buf, size_t len, int64_t *sid, char *addr, size_t addrcap,
                      size_t *need, const char **why)
{
    if (len < 8) {
        *need = 8;
        return 0;
    }
    int64_t version = (int64_t)fle_get64(buf);
    if (version >= 0) {
        *sid = version; /* legacy: the header is the sid */
        if (addrcap > 0)
            addr[0] = '\0';
        return 8;
    }
    if (version != FLE_PROTOCOL_V1 && version != FLE_PROTOCOL_V2) {
        *why = "unknown protocol version";
        return -EINVAL;
    }
    if (len < 20) {
        *need = 20;
        return 0;
    }
    int32_t alen = (int32_t)fle_get32(buf + 16);
    if (alen <= 0 || alen > FLE_INITIAL_ADDR_MAX) {
        *why = "unreasonable address length";
        return -EINVAL;
    }
    if (len < 20 + (size_t)alen) {
        *need = 20 + (size_t)alen;
        return 0;
    }
    *sid = (int64_t)fle_get64(buf + 8);
    size_t n = (size_t)alen;
    const uint8_t *bar = memchr(buf + 20, '|', n);
    if (bar != NULL)
        n = (size_t)(bar - (buf + 20)); /* several addresses: keep the first */
    if (addrcap > 0) {
        if (n >= addrcap)
            n = addrcap - 1;
        memcpy(addr, buf + 20, n);
        addr[n] = '\0';
    }
    return 20 + alen;
}

int fle_address_split(const char *addr, char *host, size_t hostcap, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr)
        return -EINVAL;
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535 || hlen == 0 || hlen >= hostcap)
        return -EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}
