/*
 * Raw-protocol test client (see raw.h).
 *
 * Frames are read whole into a malloc'ed buffer; lengths above 16 MiB are
 * treated as a protocol error so a confused peer cannot make the test
 * allocate without bound. Replies must come in request order; a reply with
 * an unexpected xid fails the call with -EPROTO.
 */
#include "raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ZKR_MAX_FRAME (16 * 1024 * 1024)
#define ZKR_CALL_TIMEOUT_MS 10000

static const char zkr_world[] = "world";
static const char zkr_anyone[] = "anyone";

int zkr_open(struct zkr_conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->next_xid = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    c->fd = fd;
    return 0;
}

void zkr_close(struct zkr_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int zkr_send_raw(struct zkr_conn *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int zkr_send_frame(struct zkr_conn *c, const void *payload, size_t n)
{
    uint8_t hdr[4];
    jute_put_u32(hdr, (uint32_t)n);
    int rc = zkr_send_raw(c, hdr, 4);
    return rc ? rc : zkr_send_raw(c, payload, n);
}

/* Reads exactly n bytes before the deadline. */
static int zkr_read_full(struct zkr_conn *c, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int64_t left = deadline - zkh_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return -ETIMEDOUT;
        ssize_t r = recv(c->fd, p, n, 0);
        if (r == 0)
            return -ECONNRESET;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? -ECONNRESET : -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int zkr_recv_frame(struct zkr_conn *c, uint8_t **out, size_t *n, int timeout_ms)
{
    int64_t deadline = zkh_now_ms() + timeout_ms;
    uint8_t hdr[4];
    int rc = zkr_read_full(c, hdr, 4, deadline);
    if (rc)
        return rc;
    int32_t len = (int32_t)jute_get_u32(hdr);
    if (len < 0 || len > ZKR_MAX_FRAME)
        return -EPROTO;
    uint8_t *buf = malloc((size_t)len + 1);
    if (buf == NULL)
        return -ENOMEM;
    rc = zkr_read_full(c, buf, (size_t)len, deadline + ZKR_CALL_TIMEOUT_MS);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *n = (size_t)len;
    return 0;
}

int zkr_read_until_closed(struct zkr_conn *c, void *buf, size_t cap, int timeout_ms, size_t *got)
{
    int64_t deadline = zkh_now_ms() + timeout_ms;
    size_t n = 0;
    int rc = -ETIMEDOUT;
    for (;;) {
        uint8_t byte;
        int r = zkr_read_full(c, &byte, 1, deadline);
        if (r == -ETIMEDOUT)
            break;
        if (r < 0) { /* EOF, reset or any other error: the peer is gone */
            rc = 0;
            break;
        }
        if (buf && n < cap)
            ((uint8_t *)buf)[n] = byte;
        n++;
    }
    if (got)
        *got = n;
    return rc;
}

int zkr_wait_closed(struct zkr_conn *c, int timeout_ms, size_t *junk)
{
    return zkr_read_until_closed(c, NULL, 0, timeout_ms, junk);
}

int zkr_connect(struct zkr_conn *c, int port, int32_t timeout_ms, int64_t session_id,
                const uint8_t *passwd, int wait_ms)
{
    int rc = zkr_open(c, port);
    if (rc)
        return rc;
    static const uint8_t zeros[16];
    jute_writer w;
    jute_writer_init(&w, 64);
    jute_write_int(&w, 0);
    jute_write_long(&w, 0);
    jute_write_int(&w, timeout_ms);
    jute_write_long(&w, session_id);
    jute_write_bytes(&w, passwd ? passwd : zeros, 16);
    jute_write_bool(&w, false);
    rc = w.oom ? -ENOMEM : zkr_send_frame(c, w.data, w.len);
    jute_writer_free(&w);
    uint8_t *frame = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = zkr_recv_frame(c, &frame, &n, wait_ms);
    if (rc) {
        zkr_close(c);
        return rc;
    }
    jute_reader r;
    jute_reader_init(&r, frame, n, 0);
    (void)jute_read_int(&r);
    c->timeout = jute_read_int(&r);
    c->session_id = jute_read_long(&r);
    jute_span pw = jute_read_bytes(&r);
    if (r.err || pw.len != 16) {
        free(frame);
        zkr_close(c);
        return -EPROTO;
    }
    memcpy(c->passwd, pw.ptr, 16);
    free(frame);
    if (c->timeout <= 0) {
        zkr_close(c);
        return -ESTALE;
    }
    return 0;
}

/* ---------------------------------------------------------------- request */

static int32_t zkr_begin_xid(jute_writer *w, int32_t xid, int32_t type)
{
    jute_writer_init(w, 128);
    jute_write_int(w, xid);
    jute_write_int(w, type);
    return xid;
}

int32_t zkr_begin(struct zkr_conn *c, jute_writer *w, int32_t type)
{
    return zkr_begin_xid(w, c->next_xid++, type);
}

static void zkr_queue_event(struct zkr_conn *c, jute_reader *r)
{
    struct zkr_event ev = {0};
    ev.type = jute_read_int(r);
    ev.state = jute_read_int(r);
    jute_span p = jute_read_bytes(r);
    if (p.len > 0) {
        size_t n = (size_t)p.len < sizeof ev.path - 1 ? (size_t)p.len : sizeof ev.path - 1;
        memcpy(ev.path, p.ptr, n);
    }
    if (c->nevents < ZKR_MAX_EVENTS)
        c->events[c->nevents++] = ev;
}

int zkr_finish(struct zkr_conn *c, jute_writer *w, int32_t xid, struct zkr_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    int rc = w->oom ? -ENOMEM : zkr_send_frame(c, w->data, w->len);
    jute_writer_free(w);
    if (rc)
        return rc;
    return zkr_await_reply(c, xid, rep);
}

int zkr_await_reply(struct zkr_conn *c, int32_t xid, struct zkr_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    int rc;
    int64_t deadline = zkh_now_ms() + ZKR_CALL_TIMEOUT_MS;
    for (;;) {
        uint8_t *frame;
        size_t n;
        int64_t left = deadline - zkh_now_ms();
        rc = zkr_recv_frame(c, &frame, &n, left > 0 ? (int)left : 0);
        if (rc)
            return rc;
        jute_reader r;
        jute_reader_init(&r, frame, n, 0);
        int32_t rxid = jute_read_int(&r);
        int64_t zxid = jute_read_long(&r);
        int32_t err = jute_read_int(&r);
        if (r.err) {
            free(frame);
            return -EPROTO;
        }
        if (rxid == -1) {
            zkr_queue_event(c, &r);
            free(frame);
            continue;
        }
        if (rxid != xid) {
            fprintf(stderr, "raw: reply xid %d while waiting for %d\n", rxid, xid);
            free(frame);
            return -EPROTO;
        }
        rep->xid = rxid;
        rep->zxid = zxid;
        rep->err = err;
        rep->frame = frame;
        rep->len = n;
        rep->body = r;
        if (zxid > 0)
            c->last_zxid = zxid;
        return 0;
    }
}

void zkr_reply_free(struct zkr_reply *rep)
{
    free(rep->frame);
    rep->frame = NULL;
}

int zkr_next_event(struct zkr_conn *c, struct zkr_event *ev, int timeout_ms)
{
    if (c->nevents == 0) {
        uint8_t *frame;
        size_t n;
        int rc = zkr_recv_frame(c, &frame, &n, timeout_ms);
        if (rc)
            return rc;
        jute_reader r;
        jute_reader_init(&r, frame, n, 0);
        int32_t xid = jute_read_int(&r);
        (void)jute_read_long(&r);
        (void)jute_read_int(&r);
        if (xid != -1) {
            free(frame);
            return -EPROTO;
        }
        zkr_queue_event(c, &r);
        free(frame);
    }
    *ev = c->events[0];
    memmove(c->events, c->events + 1, (size_t)(c->nevents - 1) * sizeof c->events[0]);
    c->nevents--;
    return 0;
}

int zkr_drain(struct zkr_conn *c)
{
    int rc = zkr_ping(c);
    return rc < 0 ? rc : c->nevents;
}

/* ------------------------------------------------------- one-call requests */

/* Sends and returns the reply err (body discarded). */
static int zkr_simple(struct zkr_conn *c, jute_writer *w, int32_t xid)
{
    struct zkr_reply rep;
    int rc = zkr_finish(c, w, xid, &rep);
    if (rc)
        return ZKR_IOERR + rc;
    rc = rep.err;
    zkr_reply_free(&rep);
    return rc;
}

int zkr_ping(struct zkr_conn *c)
{
    jute_writer w;
    zkr_begin_xid(&w, -2, 11);
    return zkr_simple(c, &w, -2);
}

int zkr_close_session(struct zkr_conn *c)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, -11);
    return zkr_simple(c, &w, xid);
}

static void zkr_write_open_acl(jute_writer *w)
{
    jute_write_int(w, 1);
    jute_write_int(w, 31);
    jute_write_string(w, zkr_world);
    jute_write_string(w, zkr_anyone);
}

static int zkr_create_common(struct zkr_conn *c, int32_t op, const char *path, const char *data,
                             int32_t flags, int64_t ttl, char *out_path, size_t out_len)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, op);
    jute_write_string(&w, path);
    jute_write_bytes(&w, data, data ? (int32_t)strlen(data) : -1);
    zkr_write_open_acl(&w);
    jute_write_int(&w, flags);
    if (op == 21)
        jute_write_long(&w, ttl);
    struct zkr_reply rep;
    int rc = zkr_finish(c, &w, xid, &rep);
    if (rc)
        return ZKR_IOERR + rc;
    rc = rep.err;
    if (rc == 0 && out_path && out_len) {
        jute_span p = jute_read_bytes(&rep.body);
        size_t n = p.len > 0 ? (size_t)p.len : 0;
        if (n >= out_len)
            n = out_len - 1;
        memcpy(out_path, p.ptr ? (const char *)p.ptr : "", n);
        out_path[n] = '\0';
    }
    zkr_reply_free(&rep);
    return rc;
}

int zkr_create(struct zkr_conn *c, const char *path, const char *data, int32_t flags,
               char *out_path, size_t out_len)
{
    return zkr_create_common(c, 1, path, data, flags, 0, out_path, out_len);
}

int zkr_create_ttl(struct zkr_conn *c, const char *path, const char *data, int32_t flags,
                   int64_t ttl, char *out_path, size_t out_len)
{
    return zkr_create_common(c, 21, path, data, flags, ttl, out_path, out_len);
}

int zkr_delete(struct zkr_conn *c, const char *path, int32_t version)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, 2);
    jute_write_string(&w, path);
    jute_write_int(&w, version);
    return zkr_simple(c, &w, xid);
}

int zkr_set_data(struct zkr_conn *c, const char *path, const char *data, int32_t version)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, 5);
    jute_write_string(&w, path);
    jute_write_bytes(&w, data, data ? (int32_t)strlen(data) : -1);
    jute_write_int(&w, version);
    return zkr_simple(c, &w, xid);
}

int zkr_get_data(struct zkr_conn *c, const char *path, bool watch, char *buf, size_t len,
                 int32_t *version)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, 4);
    jute_write_string(&w, path);
    jute_write_bool(&w, watch);
    struct zkr_reply rep;
    int rc = zkr_finish(c, &w, xid, &rep);
    if (rc)
        return ZKR_IOERR + rc;
    rc = rep.err;
    if (rc == 0) {
        jute_span d = jute_read_bytes(&rep.body);
        if (buf && len) {
            size_t n = d.len > 0 ? (size_t)d.len : 0;
            if (n >= len)
                n = len - 1;
            memcpy(buf, d.ptr ? (const char *)d.ptr : "", n);
            buf[n] = '\0';
        }
        /* Stat: czxid, mzxid, ctime, mtime, then version. */
        for (int i = 0; i < 4; i++)
            (void)jute_read_long(&rep.body);
        int32_t v = jute_read_int(&rep.body);
        if (version)
            *version = v;
        if (rep.body.err)
            rc = ZKR_IOERR - EPROTO;
    }
    zkr_reply_free(&rep);
    return rc;
}

static int zkr_path_bool_op(struct zkr_conn *c, int32_t op, const char *path, bool flag)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, op);
    jute_write_string(&w, path);
    jute_write_bool(&w, flag);
    return zkr_simple(c, &w, xid);
}

int zkr_exists(struct zkr_conn *c, const char *path, bool watch)
{
    return zkr_path_bool_op(c, 3, path, watch);
}

int zkr_get_children(struct zkr_conn *c, const char *path, bool watch)
{
    return zkr_path_bool_op(c, 8, path, watch);
}

int zkr_path_int_op(struct zkr_conn *c, int32_t op, const char *path, int32_t value)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, op);
    jute_write_string(&w, path);
    jute_write_int(&w, value);
    return zkr_simple(c, &w, xid);
}

int zkr_add_watch(struct zkr_conn *c, const char *path, int32_t mode)
{
    jute_writer w;
    int32_t xid = zkr_begin(c, &w, 106);
    jute_write_string(&w, path);
    jute_write_int(&w, mode);
    struct zkr_reply rep;
    int rc = zkr_finish(c, &w, xid, &rep);
    if (rc)
        return ZKR_IOERR + rc;
    rc = rep.err;
    /* Success carries ErrorResponse{err = 0}: exactly four zero bytes. */
    if (rc == 0 && (jute_remaining(&rep.body) != 4 || jute_read_int(&rep.body) != 0))
        rc = ZKR_IOERR - EPROTO;
    zkr_reply_free(&rep);
    return rc;
}

int zkr_auth(struct zkr_conn *c, const char *scheme, const char *auth)
{
    jute_writer w;
    zkr_begin_xid(&w, -4, 100);
    jute_write_int(&w, 0);
    jute_write_string(&w, scheme);
    jute_write_bytes(&w, auth, (int32_t)strlen(auth));
    return zkr_simple(c, &w, -4);
}
