/*
 * ZAB wire format (see zab.h): QuorumPacket parsing and writing, the
 * learner records it carries, and the resumable scanner that finds the end
 * of the database stream following a SNAP packet.
 */
#include "zab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Longest scheme or id accepted in a packet's authinfo. */
#define ZAB_MAX_AUTH_STRING 4096

/* ----------------------------------------------------------------- packet */

/* The smallest packet: type, zxid, null data, null authinfo. */
#define ZAB_MIN_PACKET (4 + 8 + 4 + 4)

/* Partial packet: *need is the smallest total length the packet can have
 * given what arrived (always more than len). */
static ssize_t zab_partial(size_t *need, size_t min_total, size_t len)
{
    if (need)
        *need = min_total > len ? min_total : len + 1;
    return 0;
}

ssize_t zab_packet_parse(const uint8_t *buf, size_t len, size_t max_data, struct zab_packet *out,
                         size_t *need)
{
    if (len < 16)
        return zab_partial(need, ZAB_MIN_PACKET, len);
    int32_t type = (int32_t)jute_get_u32(buf);
    int64_t zxid = (int64_t)(((uint64_t)jute_get_u32(buf + 4) << 32) | jute_get_u32(buf + 8));
    int32_t dlen = (int32_t)jute_get_u32(buf + 12);
    if (dlen < -1 || (max_data && dlen > 0 && (size_t)dlen > max_data))
        return -EBADMSG;
    size_t pos = 16;
    jute_span data = {NULL, -1};
    if (dlen >= 0) {
        if (len - pos < (size_t)dlen + 4)
            return zab_partial(need, pos + (size_t)dlen + 4, len);
        data.ptr = buf + pos;
        data.len = dlen;
        pos += (size_t)dlen;
    }
    if (len - pos < 4)
        return zab_partial(need, pos + 4, len);
    int32_t nauth = (int32_t)jute_get_u32(buf + pos);
    pos += 4;
    if (nauth < -1 || nauth > ZAB_MAX_AUTH)
        return -EBADMSG;
    for (int32_t i = 0; i < nauth; i++) {
        for (int k = 0; k < 2; k++) {
            /* What follows at least: this string's length, the id's, then
             * two lengths per further id. */
            size_t rest = (k == 0 ? 8 : 4) + 8 * (size_t)(nauth - i - 1);
            if (len - pos < 4)
                return zab_partial(need, pos + rest, len);
            int32_t slen = (int32_t)jute_get_u32(buf + pos);
            if (slen < -1 || slen > ZAB_MAX_AUTH_STRING)
                return -EBADMSG;
            size_t body = slen > 0 ? (size_t)slen : 0;
            if (len - pos - 4 < body)
                return zab_partial(need, pos + 4 + body + (rest - 4), len);
            /* Ids become C strings (zab_packet_auth): a NUL would cut one. */
            if (body && memchr(buf + pos + 4, '\0', body) != NULL)
                return -EBADMSG;
            jute_span s = {slen >= 0 ? buf + pos + 4 : NULL, slen};
            if (out) {
                if (k == 0)
                    out->auth_scheme[i] = s;
                else
                    out->auth_id[i] = s;
            }
            pos += 4 + body;
        }
    }
    if (out) {
        out->type = type;
        out->zxid = zxid;
        out->data = data;
        out->nauth = nauth;
    }
    return (ssize_t)pos;
}

void zab_packet_write(jute_writer *w, int32_t type, int64_t zxid, const void *data, int32_t len,
                      const struct acl_auth *auth)
{
    jute_write_int(w, type);
    jute_write_long(w, zxid);
    if (data == NULL)
        jute_write_int(w, -1);
    else
        jute_write_bytes(w, data, len < 0 ? 0 : len);
    if (auth == NULL) {
        jute_write_int(w, -1);
        return;
    }
    jute_write_int(w, (int32_t)auth->nids);
    for (size_t i = 0; i < auth->nids; i++) {
        jute_write_string(w, auth->ids[i].scheme);
        jute_write_string(w, auth->ids[i].id);
    }
}

/* A span as a malloc'ed C string (null -> ""). */
static char *zab_span_dup(jute_span s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s.ptr, n);
    p[n] = '\0';
    return p;
}

int zab_packet_auth(const struct zab_packet *p, struct acl_auth *auth)
{
    acl_auth_free(auth);
    for (int32_t i = 0; i < p->nauth; i++) {
        char *scheme = zab_span_dup(p->auth_scheme[i]);
        char *id = zab_span_dup(p->auth_id[i]);
        int rc = scheme && id ? acl_auth_add_id(auth, scheme, id) : -ENOMEM;
        free(scheme);
        free(id);
        if (rc < 0) {
            acl_auth_free(auth);
            return -ENOMEM;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- records */

void zab_learner_info_write(jute_writer *w, const struct zab_learner_info *li)
{
    jute_write_long(w, li->sid);
    jute_write_int(w, li->protocol_version);
    jute_write_long(w, li->config_version);
}

/* As LearnerHandler reads it: each field when the data is long enough for
 * it (8, 12, 20 bytes), anything after the last one ignored. */
int zab_learner_info_read(jute_span data, struct zab_learner_info *out)
{
    if (data.len < 8)
        return -EBADMSG;
    jute_reader r;
    jute_reader_init(&r, data.ptr, (size_t)data.len, 0);
    out->sid = jute_read_long(&r);
    out->protocol_version = data.len >= 12 ? jute_read_int(&r) : 0;
    out->config_version = data.len >= 20 ? jute_read_long(&r) : 0;
    return r.err ? -EBADMSG : 0;
}

void zab_request_write(jute_writer *w, int64_t session_id, int32_t cxid, int32_t type, const void *body,
                       size_t body_len)
{
    jute_write_long(w, session_id);
    jute_write_int(w, cxid);
    jute_write_int(w, type);
    if (body && body_len)
        jute_write_raw(w, body, body_len);
}

int zab_request_read(jute_span data, struct zab_request *out)
{
    if (data.len < 16)
        return -EBADMSG;
    jute_reader r;
    jute_reader_init(&r, data.ptr, (size_t)data.len, 0);
    out->session_id = jute_read_long(&r);
    out->cxid = jute_read_int(&r);
    out->type = jute_read_int(&r);
    out->body.ptr = data.ptr + 16;
    out->body.len = data.len - 16;
    return 0;
}

void zab_revalidate_request_write(jute_writer *w, int64_t session_id, int32_t timeout)
{
    jute_write_long(w, session_id);
    jute_write_int(w, timeout);
}

int zab_revalidate_request_read(jute_span data, int64_t *session_id, int32_t *timeout)
{
    if (data.len != 12)
        return -EBADMSG;
    jute_reader r;
    jute_reader_init(&r, data.ptr, 12, 0);
    *session_id = jute_read_long(&r);
    *timeout = jute_read_int(&r);
    return 0;
}

void zab_revalidate_reply_write(jute_writer *w, int64_t session_id, bool valid)
{
    jute_write_long(w, session_id);
    jute_write_bool(w, valid);
}

int zab_revalidate_reply_read(jute_span data, int64_t *session_id, bool *valid)
{
    if (data.len != 9)
        return -EBADMSG;
    jute_reader r;
    jute_reader_init(&r, data.ptr, 9, 0);
    *session_id = jute_read_long(&r);
    *valid = jute_read_bool(&r); /* any non-zero byte, as DataInputStream */
    return 0;
}

/* A null buffer (the leader's PING) holds no sessions. */
int zab_ping_sessions_next(jute_span data, size_t index, int64_t *session_id, int32_t *timeout)
{
    size_t n = data.len > 0 ? (size_t)data.len : 0;
    if (n % 12 != 0)
        return -EBADMSG;
    if (index >= n / 12)
        return 0;
    const uint8_t *p = data.ptr + index * 12;
    *session_id = (int64_t)(((uint64_t)jute_get_u32(p) << 32) | jute_get_u32(p + 4));
    *timeout = (int32_t)jute_get_u32(p + 8);
    return 1;
}

/* --------------------------------------------------------- SNAP stream */

/*
 * The scanner moves over whole fields, so a retry only re-reads the length
 * of a string that is still arriving. remaining counts what is left of the
 * current list; in the ACL cache it packs the entries left (high 32 bits)
 * and the ACLs left in the current entry (low 32 bits).
 */
enum {
    SNAP_SESSION_COUNT,
    SNAP_SESSIONS,
    SNAP_ACL_COUNT,
    SNAP_ACL_ENTRY, /* long id, int count of ACLs */
    SNAP_ACL_PERMS,
    SNAP_ACL_SCHEME,
    SNAP_ACL_ID,
    SNAP_NODE_PATH,
    SNAP_NODE_DATA,
    SNAP_NODE_REST, /* long acl, StatPersisted */
    SNAP_SIGNATURE,
    SNAP_DONE,
    SNAP_BAD,
};

#define SNAP_NODE_REST_LEN (8 + 60)

void zab_snap_scan_init(struct zab_snap_scan *s)
{
    s->phase = SNAP_SESSION_COUNT;
    s->remaining = 0;
    s->pos = 0;
}

/* A length-prefixed string or buffer at p (avail bytes). Returns 1 and its
 * length (-1 for null) when it arrived whole, 0 when not yet, -EBADMSG when
 * its length is impossible. */
static int snap_string(const uint8_t *p, size_t avail, size_t max_item, bool null_ok, int32_t *len)
{
    *len = -2; /* not known yet */
    if (avail < 4)
        return 0;
    int32_t n = (int32_t)jute_get_u32(p);
    if (n < -1 || (n == -1 && !null_ok) || (max_item && n > 0 && (size_t)n > max_item))
        return -EBADMSG;
    *len = n;
    if (n > 0 && avail - 4 < (size_t)n)
        return 0;
    return 1;
}

static int snap_bad(struct zab_snap_scan *s)
{
    s->phase = SNAP_BAD;
    return -EBADMSG;
}

int zab_snap_scan(struct zab_snap_scan *s, const uint8_t *buf, size_t len, size_t max_item)
{
    for (;;) {
        if (s->phase == SNAP_DONE)
            return 1;
        if (s->phase == SNAP_BAD || s->pos > len)
            return snap_bad(s);
        const uint8_t *p = buf + s->pos;
        size_t avail = len - s->pos;
        int32_t n = 0;
        int rc;
        switch (s->phase) {
        case SNAP_SESSION_COUNT:
        case SNAP_ACL_COUNT:
            if (avail < 4)
                return 0;
            n = (int32_t)jute_get_u32(p);
            if (n < 0)
                return snap_bad(s);
            s->pos += 4;
            if (s->phase == SNAP_SESSION_COUNT) {
                s->remaining = n;
                s->phase = SNAP_SESSIONS;
            } else {
                s->remaining = (int64_t)n << 32;
                s->phase = SNAP_ACL_ENTRY;
            }
            break;
        case SNAP_SESSIONS: {
            size_t whole = avail / 12;
            if ((int64_t)whole > s->remaining)
                whole = (size_t)s->remaining;
            s->pos += whole * 12;
            s->remaining -= (int64_t)whole;
            if (s->remaining > 0)
                return 0;
            s->phase = SNAP_ACL_COUNT;
            break;
        }
        case SNAP_ACL_ENTRY:
            if ((s->remaining >> 32) == 0) {
                s->phase = SNAP_NODE_PATH;
                break;
            }
            if (avail < 12)
                return 0;
            n = (int32_t)jute_get_u32(p + 8);
            if (n < 0) /* ZooKeeper refuses a null list in the cache */
                return snap_bad(s);
            s->pos += 12;
            s->remaining = (((s->remaining >> 32) - 1) << 32) | (int64_t)n;
            s->phase = SNAP_ACL_PERMS;
            break;
        case SNAP_ACL_PERMS:
            if ((s->remaining & 0xffffffff) == 0) {
                s->phase = SNAP_ACL_ENTRY;
                break;
            }
            if (avail < 4)
                return 0;
            s->pos += 4;
            s->phase = SNAP_ACL_SCHEME;
            break;
        case SNAP_ACL_SCHEME:
        case SNAP_ACL_ID:
        case SNAP_NODE_PATH:
        case SNAP_NODE_DATA:
        case SNAP_SIGNATURE: {
            /* Null: harmless in ACLs (read as ""), null data is normal; a
             * null path or signature is not a stream ZooKeeper accepts. */
            bool null_ok = s->phase != SNAP_NODE_PATH && s->phase != SNAP_SIGNATURE;
            size_t limit = max_item;
            if (s->phase == SNAP_SIGNATURE)
                limit = sizeof ZAB_SNAP_SIGNATURE - 1;
            rc = snap_string(p, avail, limit, null_ok, &n);
            if (rc < 0)
                return snap_bad(s);
            if (s->phase == SNAP_SIGNATURE && n != -2 && n != (int32_t)(sizeof ZAB_SNAP_SIGNATURE - 1))
                return snap_bad(s);
            if (rc == 0)
                return 0;
            const uint8_t *str = p + 4;
            s->pos += 4 + (n > 0 ? (size_t)n : 0);
            switch (s->phase) {
            case SNAP_ACL_SCHEME:
                s->phase = SNAP_ACL_ID;
                break;
            case SNAP_ACL_ID:
                s->remaining--;
                s->phase = SNAP_ACL_PERMS;
                break;
            case SNAP_NODE_PATH:
                s->phase = n == 1 && str[0] == '/' ? SNAP_SIGNATURE : SNAP_NODE_DATA;
                break;
            case SNAP_NODE_DATA:
                s->phase = SNAP_NODE_REST;
                break;
            default:
                if (memcmp(str, ZAB_SNAP_SIGNATURE, (size_t)n) != 0)
                    return snap_bad(s);
                s->phase = SNAP_DONE;
                break;
            }
            break;
        }
        case SNAP_NODE_REST:
            if (avail < SNAP_NODE_REST_LEN)
                return 0;
            s->pos += SNAP_NODE_REST_LEN;
            s->phase = SNAP_NODE_PATH;
            break;
        default:
            return snap_bad(s);
        }
    }
}
