/*
 * tcp: the default client transport (ZooKeeper's NIOServerCnxnFactory role).
 * Non-blocking TCP sockets on the host's event loop; moves bytes between
 * clients and the core, which frames and decodes them.
 *
 * Design notes:
 * - Threads: none of its own. Everything runs on the loop thread, called
 *   from the host's fd callbacks, timers and one before_sleep hook.
 * - Reading: while a connection has no unconsumed bytes, recv goes into one
 *   scratch buffer shared by all connections and on_data sees the bytes
 *   there; only a leftover partial packet is copied into a per-connection
 *   buffer (at least 4 KiB, or what the core said it needs). The buffer grows
 *   when on_data consumes nothing and asks for more (*need), and is freed as
 *   soon as it is empty, so idle connections hold no read memory at all.
 *   Invariant: rbuf != NULL exactly when rlen > 0.
 * - Writing: send copies into a per-connection chunk queue and puts the
 *   connection on the dirty list. The before_sleep hook flushes every dirty
 *   connection with one sendmsg (a writev with MSG_NOSIGNAL) per batch of up
 *   to 64 chunks, so many replies cost one syscall; when the socket would
 *   block, write interest is armed and the next writable event flushes again.
 * - Closing: close() only marks the connection closing (reading stops, the
 *   output is dropped unless flush was asked). The hook closes the fd once the
 *   output is written (or after a 10 s linger), moves the connection to the
 *   dead list, and only then calls on_close, exactly once per accepted
 *   connection, then frees it. So on_close never runs inside close() or
 *   send(), and fds are only closed outside event dispatch. A connection
 *   refused by on_accept (NULL context) goes the same way without on_close.
 * - Limits: per-IP (zoo.cfg maxClientCnxns, default 60, 0 = none) and global
 *   (maxCnxns, default 0 = none); an over-limit connection is closed at once,
 *   logged as ZooKeeper does and counted in connection_rejected. IPv4-mapped
 *   IPv6 peers count as their IPv4 address.
 * - stop() closes every connection and listener silently: no callback into
 *   the core runs after it returns.
 * - Connecting out (connect, ABI 1.1): a non-blocking connect whose
 *   connection starts CONNECTING, watched for writability only; the first
 *   writable or error event reads SO_ERROR and either reports
 *   on_connected(ctx, 0) and starts reading, or fails. Failures (an
 *   immediate refusal, an error, the timeout timer) close the connection
 *   the normal way and the hook reports on_connected(ctx, -errno) instead of
 *   on_close. Bytes sent while connecting wait in the queue; a close while
 *   connecting drops them and ends with on_close. Outbound connections are
 *   not counted against the per-IP client limit. Host names are resolved
 *   with getaddrinfo on the loop thread (numeric addresses never block).
 *
 * Entry points: the descriptor's init/start/stop/fini and tcp_ops.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zkplug/plugin.h>

#define TCP_RBUF_MIN 4096u
#define TCP_RBUF_MAX (64u << 20) /* far above jute.maxbuffer: a core bug */
#define TCP_SCRATCH_SIZE 65536u
#define TCP_CHUNK_MIN 4096u
#define TCP_IOV_MAX 64
#define TCP_READ_BUDGET (256u * 1024) /* per readiness event, for fairness */
#define TCP_ACCEPT_BUDGET 1024        /* per readiness event */
#define TCP_LINGER_MS 10000
#define TCP_ACCEPT_PAUSE_MS 100 /* after EMFILE and friends */
#define TCP_IP_BUCKETS 1024
#define TCP_HOOK_ROUNDS 8

enum {
    TCP_CONN_CLOSING = 0x1,    /* close asked or error seen: no more reading */
    TCP_CONN_FLUSH = 0x2,      /* write the queue before closing the fd */
    TCP_CONN_PAUSED = 0x4,     /* pause_read */
    TCP_CONN_WANT_WRITE = 0x8, /* socket was full: write interest armed */
    TCP_CONN_DIRTY = 0x10,     /* on st->dirty */
    TCP_CONN_DEAD = 0x20,      /* fd closed, on st->dead, on_close pending */
    TCP_CONN_SILENT = 0x40,    /* refused by on_accept: no on_close */
    TCP_CONN_REDELIVER = 0x80, /* resumed with bytes buffered: offer them again */
    TCP_CONN_CONNECTING = 0x100,     /* outbound, connect not finished */
    TCP_CONN_OUTBOUND = 0x200,       /* made by connect: no per-IP count */
    TCP_CONN_CONNECT_FAILED = 0x400, /* report on_connected(status) instead of on_close */
};

#define TCP_CONNECT_TIMEOUT_MS 5000

struct tcp_ip {
    int family;
    uint8_t addr[16];
};

struct tcp_ip_count {
    struct tcp_ip_count *next;
    struct tcp_ip ip;
    int64_t count;
};

struct tcp_chunk {
    struct tcp_chunk *next;
    size_t off, len, cap; /* bytes [off, len) still to write */
    uint8_t data[];
};

struct tcp_state;

struct zkp_conn {
    struct tcp_state *st;
    struct zkp_conn *prev, *next; /* st->conns, until freed */
    struct zkp_conn *dirty_next;  /* st->dirty, while TCP_CONN_DIRTY */
    struct zkp_conn *dead_next;   /* st->dead, while TCP_CONN_DEAD */
    int fd;                       /* -1 once closed */
    unsigned flags;
    unsigned events; /* what the loop watches */
    enum zkp_close_reason reason;
    void *ctx;
    size_t (*on_data)(void *ctx, const uint8_t *data, size_t len, size_t *need);
    void (*on_close)(void *ctx, enum zkp_close_reason reason);
    uint8_t *rbuf;
    size_t rlen, rcap;
    struct tcp_chunk *out_head, *out_tail;
    size_t out_bytes;
    uint64_t linger_timer;
    struct tcp_ip ip;
    /* outbound (ABI 1.1) */
    void (*on_connected)(void *ctx, int status);
    int connect_status;
    uint64_t connect_timer;
};

struct zkp_listener {
    struct tcp_state *st;
    struct zkp_listener *prev, *next; /* st->listeners */
    struct zkp_listener *dead_next;   /* st->dead_listeners after unlisten */
    int fd;                           /* -1 after unlisten */
    int port;
    uint64_t pause_timer;
    struct zkp_transport_events events;
    void *core_arg;
};

struct tcp_state {
    const struct zkp_host *host;
    int64_t max_per_ip, max_total;
    int started, hook_set;
    struct zkp_listener *listeners, *dead_listeners;
    struct zkp_conn *conns;
    struct zkp_conn *dirty_head, *dirty_tail;
    struct zkp_conn *dead_head, *dead_tail;
    struct tcp_ip_count *ip_buckets[TCP_IP_BUCKETS];
    uint8_t *scratch;
    /* metrics */
    int64_t connections;       /* gauge: open fds */
    int64_t accepted;          /* counter */
    int64_t rejected;          /* counter: over a connection limit */
    int64_t bytes_received;    /* counter */
    int64_t bytes_sent;        /* counter */
    int64_t write_calls;       /* counter: sendmsg calls */
    int64_t read_buffer_bytes; /* gauge: per-connection read buffers */
    int64_t write_queue_bytes; /* gauge: queued output */
};

/* ------------------------------------------------------------------------- */
/* Per-IP connection counts                                                   */

static size_t tcp_ip_hash(const struct tcp_ip *ip)
{
    uint32_t h = 2166136261u;
    size_t n = ip->family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ip->addr[i]) * 16777619u;
    return h % TCP_IP_BUCKETS;
}

static int tcp_ip_equal(const struct tcp_ip *a, const struct tcp_ip *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static int64_t tcp_ip_count(struct tcp_state *st, const struct tcp_ip *ip)
{
    for (struct tcp_ip_count *e = st->ip_buckets[tcp_ip_hash(ip)]; e; e = e->next)
        if (tcp_ip_equal(&e->ip, ip))
            return e->count;
    return 0;
}

static int tcp_ip_add(struct tcp_state *st, const struct tcp_ip *ip)
{
    struct tcp_ip_count **b = &st->ip_buckets[tcp_ip_hash(ip)];
    for (struct tcp_ip_count *e = *b; e; e = e->next) {
        if (tcp_ip_equal(&e->ip, ip)) {
            e->count++;
            return 0;
        }
    }
    struct tcp_ip_count *e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    e->ip = *ip;
    e->count = 1;
    e->next = *b;
    *b = e;
    return 0;
}

static void tcp_ip_remove(struct tcp_state *st, const struct tcp_ip *ip)
{
    for (struct tcp_ip_count **p = &st->ip_buckets[tcp_ip_hash(ip)]; *p; p = &(*p)->next) {
        struct tcp_ip_count *e = *p;
        if (tcp_ip_equal(&e->ip, ip)) {
            if (--e->count == 0) {
                *p = e->next;
                free(e);
            }
            return;
        }
    }
}

/* Fills ip (IPv4-mapped IPv6 as IPv4), text and port from a peer address. */
static void tcp_ip_from_sockaddr(const struct sockaddr_storage *ss, struct tcp_ip *ip,
                                 char *text, size_t textlen, int *port)
{
    memset(ip, 0, sizeof *ip);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            ip->family = AF_INET;
            memcpy(ip->addr, &s6->sin6_addr.s6_addr[12], 4);
        } else {
            ip->family = AF_INET6;
            memcpy(ip->addr, &s6->sin6_addr, 16);
        }
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        *port = ntohs(s4->sin_port);
        ip->family = AF_INET;
        memcpy(ip->addr, &s4->sin_addr, 4);
    }
    if (inet_ntop(ip->family, ip->addr, text, (socklen_t)textlen) == NULL)
        snprintf(text, textlen, "?");
}

/* ------------------------------------------------------------------------- */
/* Connection state                                                           */

static void tcp_conn_mark_dirty(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    if (c->flags & (TCP_CONN_DIRTY | TCP_CONN_DEAD))
        return;
    c->flags |= TCP_CONN_DIRTY;
    c->dirty_next = NULL;
    if (st->dirty_tail)
        st->dirty_tail->dirty_next = c;
    else
        st->dirty_head = c;
    st->dirty_tail = c;
}

/* Makes the loop watch what the connection's flags call for. */
static void tcp_conn_update_events(struct zkp_conn *c)
{
    if (c->fd < 0)
        return;
    unsigned want = 0;
    if (c->flags & TCP_CONN_CONNECTING)
        want = (c->flags & TCP_CONN_CLOSING) ? 0 : ZKP_EV_WRITE;
    else if (!(c->flags & (TCP_CONN_CLOSING | TCP_CONN_PAUSED)))
        want |= ZKP_EV_READ;
    if ((c->flags & TCP_CONN_WANT_WRITE) && !(c->flags & TCP_CONN_CONNECTING))
        want |= ZKP_EV_WRITE;
    if (want == c->events)
        return;
    int rc = c->st->host->fd_modify(c->st->host, c->fd, want);
    if (rc == 0)
        c->events = want;
    else
        c->st->host->log(c->st->host, ZKP_LOG_WARN, "fd %d: cannot change watched events: %s",
                         c->fd, strerror(-rc));
}

static void tcp_conn_free_rbuf(struct zkp_conn *c)
{
    c->st->read_buffer_bytes -= (int64_t)c->rcap;
    free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
}

/* Sets the read buffer's capacity to cap (>= rlen). Returns 0 or -ENOMEM. */
static int tcp_conn_resize_rbuf(struct zkp_conn *c, size_t cap)
{
    uint8_t *b = realloc(c->rbuf, cap);
    if (b == NULL)
        return -ENOMEM;
    c->st->read_buffer_bytes += (int64_t)cap - (int64_t)c->rcap;
    c->rbuf = b;
    c->rcap = cap;
    return 0;
}

static void tcp_conn_drop_output(struct zkp_conn *c)
{
    struct tcp_chunk *k = c->out_head;
    while (k) {
        struct tcp_chunk *n = k->next;
        free(k);
        k = n;
    }
    c->out_head = c->out_tail = NULL;
    c->st->write_queue_bytes -= (int64_t)c->out_bytes;
    c->out_bytes = 0;
}

/* Marks c closing. Reading stops at once; the fd is closed by the hook. */
static void tcp_conn_begin_close(struct zkp_conn *c, enum zkp_close_reason reason, int flush)
{
    if (c->flags & TCP_CONN_DEAD)
        return;
    if (!(c->flags & TCP_CONN_CLOSING)) {
        c->flags |= TCP_CONN_CLOSING;
        c->reason = reason;
        if (flush && !(c->flags & TCP_CONN_CONNECTING))
            c->flags |= TCP_CONN_FLUSH;
        if (c->rbuf)
            tcp_conn_free_rbuf(c);
    } else if (!flush) {
        c->flags &= ~TCP_CONN_FLUSH; /* a later hard close wins */
    }
    if (!(c->flags & TCP_CONN_FLUSH))
        tcp_conn_drop_output(c);
    tcp_conn_update_events(c);
    tcp_conn_mark_dirty(c);
}

static void tcp_conn_linger_expired(void *arg)
{
    struct zkp_conn *c = arg;
    c->linger_timer = 0;
    c->st->host->log(c->st->host, ZKP_LOG_WARN,
                     "fd %d: peer did not read %zu queued bytes within %d ms of close; dropping them",
                     c->fd, c->out_bytes, TCP_LINGER_MS);
    tcp_conn_begin_close(c, c->reason, 0);
}

/* Closes the fd and releases buffers and counts; c itself stays. */
static void tcp_conn_close_fd(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    if (c->linger_timer) {
        st->host->timer_cancel(st->host, c->linger_timer);
        c->linger_timer = 0;
    }
    if (c->connect_timer) {
        st->host->timer_cancel(st->host, c->connect_timer);
        c->connect_timer = 0;
    }
    st->host->fd_unwatch(st->host, c->fd);
    close(c->fd);
    c->fd = -1;
    st->connections--;
    if (!(c->flags & TCP_CONN_OUTBOUND))
        tcp_ip_remove(st, &c->ip);
    if (c->rbuf)
        tcp_conn_free_rbuf(c);
    tcp_conn_drop_output(c);
}

/* Closes the fd and moves c to the dead list (on_close comes from the hook). */
static void tcp_conn_finish(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    tcp_conn_close_fd(c);
    c->flags |= TCP_CONN_DEAD;
    c->dead_next = NULL;
    if (st->dead_tail)
        st->dead_tail->dead_next = c;
    else
        st->dead_head = c;
    st->dead_tail = c;
}

/* Unlinks and frees c; no callback. */
static void tcp_conn_free(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    if (c->prev)
        c->prev->next = c->next;
    else
        st->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* ------------------------------------------------------------------------- */
/* Reading                                                                    */

/* Offers data to the core until it stops consuming. Returns bytes consumed;
 * *need is what the core last asked for (0 = no opinion). */
static size_t tcp_conn_deliver(struct zkp_conn *c, const uint8_t *data, size_t len, size_t *need)
{
    size_t done = 0;
    *need = 0;
    while (done < len && !(c->flags & (TCP_CONN_CLOSING | TCP_CONN_PAUSED))) {
        size_t want = 0;
        size_t n = c->on_data(c->ctx, data + done, len - done, &want);
        if (n > len - done)
            n = len - done; /* the core overstated: never read past the data */
        done += n;
        if (n == 0) {
            *need = want;
            break;
        }
    }
    return done;
}

/* Makes room for more bytes after rlen. Returns 0, or -ENOMEM / -EMSGSIZE. */
static int tcp_conn_reserve(struct zkp_conn *c, size_t need)
{
    if (c->rlen < c->rcap && need <= c->rcap)
        return 0;
    size_t cap = c->rcap * 2;
    if (cap < need)
        cap = need;
    if (cap < TCP_RBUF_MIN)
        cap = TCP_RBUF_MIN;
    if (cap > TCP_RBUF_MAX) {
        if (c->rcap >= TCP_RBUF_MAX || need > TCP_RBUF_MAX)
            return -EMSGSIZE;
        cap = TCP_RBUF_MAX;
    }
    return tcp_conn_resize_rbuf(c, cap);
}

/* After delivering from rbuf: drop consumed bytes, free or shrink. */
static void tcp_conn_compact(struct zkp_conn *c, size_t consumed, size_t need)
{
    if (consumed > 0) {
        memmove(c->rbuf, c->rbuf + consumed, c->rlen - consumed);
        c->rlen -= consumed;
    }
    if (c->rlen == 0) {
        tcp_conn_free_rbuf(c);
        return;
    }
    size_t target = c->rlen > need ? c->rlen : need;
    if (target < TCP_RBUF_MIN)
        target = TCP_RBUF_MIN;
    if (target <= c->rcap / 2)
        (void)tcp_conn_resize_rbuf(c, target); /* shrinking may fail harmlessly */
}

static void tcp_conn_fail(struct zkp_conn *c, int err)
{
    enum zkp_close_reason r =
        err == ECONNRESET || err == EPIPE || err == ETIMEDOUT ? ZKP_CLOSE_PEER : ZKP_CLOSE_ERROR;
    tcp_conn_begin_close(c, r, 0);
}

static void tcp_conn_read(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    size_t total = 0;
    while (!(c->flags & (TCP_CONN_CLOSING | TCP_CONN_PAUSED)) && total < TCP_READ_BUDGET) {
        uint8_t *dst;
        size_t room;
        if (c->rlen == 0) {
            dst = st->scratch;
            room = TCP_SCRATCH_SIZE;
        } else {
            int rc = tcp_conn_reserve(c, 0);
            if (rc < 0) {
                st->host->log(st->host, ZKP_LOG_WARN, "fd %d: read buffer: %s", c->fd,
                              strerror(-rc));
                tcp_conn_begin_close(c, ZKP_CLOSE_MEMORY, 0);
                return;
            }
            dst = c->rbuf + c->rlen;
            room = c->rcap - c->rlen;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                tcp_conn_fail(c, errno);
            return;
        }
        if (n == 0) {
            /* Peer finished sending; it may still read what we queued. */
            tcp_conn_begin_close(c, ZKP_CLOSE_PEER, 1);
            return;
        }
        st->bytes_received += n;
        total += (size_t)n;
        size_t need;
        if (dst == st->scratch) {
            size_t used = tcp_conn_deliver(c, dst, (size_t)n, &need);
            size_t left = (size_t)n - used;
            if (left == 0 || (c->flags & TCP_CONN_CLOSING))
                continue;
            size_t cap = left > need ? left : need;
            if (cap < TCP_RBUF_MIN)
                cap = TCP_RBUF_MIN;
            if (cap > TCP_RBUF_MAX || tcp_conn_resize_rbuf(c, cap) < 0) {
                st->host->log(st->host, ZKP_LOG_WARN, "fd %d: cannot buffer %zu bytes", c->fd,
                              cap);
                tcp_conn_begin_close(c, ZKP_CLOSE_MEMORY, 0);
                return;
            }
            memcpy(c->rbuf, dst + used, left);
            c->rlen = left;
        } else {
            c->rlen += (size_t)n;
            size_t used = tcp_conn_deliver(c, c->rbuf, c->rlen, &need);
            if (c->flags & TCP_CONN_CLOSING)
                return;
            tcp_conn_compact(c, used, need);
        }
        if (need > c->rcap && c->rlen > 0) {
            int rc = tcp_conn_reserve(c, need);
            if (rc < 0) {
                st->host->log(st->host, ZKP_LOG_WARN, "fd %d: the core needs %zu bytes: %s",
                              c->fd, need, strerror(-rc));
                tcp_conn_begin_close(c, ZKP_CLOSE_MEMORY, 0);
                return;
            }
        }
    }
}

/* Offers buffered bytes again after pause_read(conn, 0). */
static void tcp_conn_redeliver(struct zkp_conn *c)
{
    c->flags &= ~TCP_CONN_REDELIVER;
    if (c->rlen == 0 || (c->flags & (TCP_CONN_CLOSING | TCP_CONN_PAUSED)))
        return;
    size_t need;
    size_t used = tcp_conn_deliver(c, c->rbuf, c->rlen, &need);
    if (c->flags & TCP_CONN_CLOSING)
        return;
    tcp_conn_compact(c, used, need);
}

/* An outbound connection failed before it was established. */
static void tcp_conn_connect_fail(struct zkp_conn *c, int err)
{
    if (c->flags & (TCP_CONN_CLOSING | TCP_CONN_DEAD))
        return; /* closed by the core first: on_close reports it */
    c->flags |= TCP_CONN_CONNECT_FAILED;
    c->connect_status = -err;
    tcp_conn_begin_close(c, ZKP_CLOSE_ERROR, 0);
}

static void tcp_conn_connect_expired(void *arg)
{
    struct zkp_conn *c = arg;
    c->connect_timer = 0;
    if (c->flags & TCP_CONN_CONNECTING)
        tcp_conn_connect_fail(c, ETIMEDOUT);
}

/* Writable or error on a CONNECTING socket: connected or failed. */
static void tcp_conn_connect_done(struct zkp_conn *c, int fd)
{
    struct tcp_state *st = c->st;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr != 0) {
        tcp_conn_connect_fail(c, soerr);
        return;
    }
    c->flags &= ~TCP_CONN_CONNECTING;
    if (c->connect_timer) {
        st->host->timer_cancel(st->host, c->connect_timer);
        c->connect_timer = 0;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tcp_conn_update_events(c);
    if (c->out_bytes > 0)
        tcp_conn_mark_dirty(c);
    c->on_connected(c->ctx, 0);
}

static void tcp_conn_event(void *arg, int fd, unsigned events)
{
    struct zkp_conn *c = arg;
    if (c->flags & TCP_CONN_DEAD)
        return;
    if (c->flags & TCP_CONN_CONNECTING) {
        if (!(c->flags & TCP_CONN_CLOSING) && (events & (ZKP_EV_WRITE | ZKP_EV_ERROR)))
            tcp_conn_connect_done(c, fd);
        return;
    }
    if (events & ZKP_EV_WRITE)
        tcp_conn_mark_dirty(c);
    if (!(c->flags & (TCP_CONN_CLOSING | TCP_CONN_PAUSED))) {
        if (events & ZKP_EV_READ)
            tcp_conn_read(c);
    } else if (events & ZKP_EV_ERROR) {
        /* Not reading, so nothing else would notice: hang-up or error. */
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        tcp_conn_fail(c, soerr ? soerr : ECONNRESET);
    }
}

/* ------------------------------------------------------------------------- */
/* Writing and the before_sleep hook                                          */

/* Writes queued output. Returns 0 when all is written, -EAGAIN when the
 * socket is full, or another -errno. */
static int tcp_conn_flush(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    while (c->out_head) {
        struct iovec iov[TCP_IOV_MAX];
        int n = 0;
        for (struct tcp_chunk *k = c->out_head; k && n < TCP_IOV_MAX; k = k->next)
            iov[n++] = (struct iovec){k->data + k->off, k->len - k->off};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        st->write_calls++;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        st->bytes_sent += w;
        st->write_queue_bytes -= w;
        c->out_bytes -= (size_t)w;
        size_t left = (size_t)w;
        while (left > 0) {
            struct tcp_chunk *k = c->out_head;
            size_t avail = k->len - k->off;
            if (left < avail) {
                k->off += left;
                break;
            }
            left -= avail;
            c->out_head = k->next;
            if (c->out_head == NULL)
                c->out_tail = NULL;
            free(k);
        }
    }
    return 0;
}

static void tcp_conn_process(struct zkp_conn *c)
{
    struct tcp_state *st = c->st;
    if (c->flags & TCP_CONN_DEAD)
        return;
    if (c->flags & TCP_CONN_REDELIVER)
        tcp_conn_redeliver(c);
    if ((c->flags & TCP_CONN_CONNECTING) && !(c->flags & TCP_CONN_CLOSING)) {
        tcp_conn_update_events(c); /* output waits for the connection */
        return;
    }
    if (c->out_bytes > 0) {
        int rc = tcp_conn_flush(c);
        if (rc == -EAGAIN) {
            c->flags |= TCP_CONN_WANT_WRITE;
            if ((c->flags & TCP_CONN_CLOSING) && c->linger_timer == 0)
                c->linger_timer =
                    st->host->timer_start(st->host, TCP_LINGER_MS, tcp_conn_linger_expired, c);
        } else if (rc < 0) {
            /* Re-queues c; finished below, the queued entry then sees DEAD. */
            tcp_conn_fail(c, -rc);
        }
    }
    if (c->out_bytes == 0)
        c->flags &= ~TCP_CONN_WANT_WRITE;
    if ((c->flags & TCP_CONN_CLOSING) && (c->out_bytes == 0 || !(c->flags & TCP_CONN_FLUSH))) {
        tcp_conn_finish(c);
        return;
    }
    tcp_conn_update_events(c);
}

static void tcp_before_sleep(void *arg)
{
    struct tcp_state *st = arg;
    if (!st->started)
        return;
    /* Callbacks below may queue more work; a few rounds settle it. */
    for (int round = 0; round < TCP_HOOK_ROUNDS && (st->dirty_head || st->dead_head); round++) {
        while (st->dirty_head) {
            struct zkp_conn *c = st->dirty_head;
            st->dirty_head = c->dirty_next;
            if (st->dirty_head == NULL)
                st->dirty_tail = NULL;
            c->flags &= ~TCP_CONN_DIRTY;
            tcp_conn_process(c);
        }
        while (st->dead_head) {
            struct zkp_conn *c = st->dead_head;
            st->dead_head = c->dead_next;
            if (st->dead_head == NULL)
                st->dead_tail = NULL;
            if (c->flags & TCP_CONN_CONNECT_FAILED)
                c->on_connected(c->ctx, c->connect_status);
            else if (!(c->flags & TCP_CONN_SILENT))
                c->on_close(c->ctx, c->reason);
            tcp_conn_free(c);
        }
    }
    while (st->dead_listeners) {
        struct zkp_listener *l = st->dead_listeners;
        st->dead_listeners = l->dead_next;
        free(l);
    }
}

/* ------------------------------------------------------------------------- */
/* Accepting                                                                  */

static void tcp_listener_resume(void *arg)
{
    struct zkp_listener *l = arg;
    l->pause_timer = 0;
    if (l->fd >= 0)
        l->st->host->fd_modify(l->st->host, l->fd, ZKP_EV_READ);
}

static void tcp_accept_one(struct zkp_listener *l, int fd, const struct sockaddr_storage *ss)
{
    struct tcp_state *st = l->st;
    const struct zkp_host *h = st->host;
    struct tcp_ip ip;
    char ipstr[INET6_ADDRSTRLEN];
    int port;
    tcp_ip_from_sockaddr(ss, &ip, ipstr, sizeof ipstr, &port);

    if (st->max_per_ip > 0 && tcp_ip_count(st, &ip) >= st->max_per_ip) {
        h->log(h, ZKP_LOG_WARN, "Too many connections from /%s - max is %lld", ipstr,
               (long long)st->max_per_ip);
        st->rejected++;
        close(fd);
        return;
    }
    if (st->max_total > 0 && st->connections >= st->max_total) {
        h->log(h, ZKP_LOG_WARN, "Too many connections %lld - max is %lld",
               (long long)st->connections, (long long)st->max_total);
        st->rejected++;
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    struct zkp_conn *c = calloc(1, sizeof *c);
    if (c == NULL || tcp_ip_add(st, &ip) < 0) {
        h->log(h, ZKP_LOG_WARN, "out of memory accepting a connection from /%s", ipstr);
        free(c);
        close(fd);
        return;
    }
    int rc = h->fd_watch(h, fd, ZKP_EV_READ, tcp_conn_event, c);
    if (rc < 0) {
        h->log(h, ZKP_LOG_WARN, "cannot watch connection from /%s (fd %d): %s", ipstr, fd,
               strerror(-rc));
        tcp_ip_remove(st, &ip);
        free(c);
        close(fd);
        return;
    }
    c->st = st;
    c->fd = fd;
    c->ip = ip;
    c->events = ZKP_EV_READ;
    c->on_data = l->events.on_data;
    c->on_close = l->events.on_close;
    c->next = st->conns;
    if (st->conns)
        st->conns->prev = c;
    st->conns = c;
    st->connections++;
    st->accepted++;

    void *ctx = l->events.on_accept(l->core_arg, c, ipstr, port);
    if (ctx == NULL) {
        c->flags |= TCP_CONN_SILENT;
        tcp_conn_begin_close(c, ZKP_CLOSE_LOCAL, 0);
        return;
    }
    c->ctx = ctx;
}

static void tcp_listener_event(void *arg, int fd, unsigned events)
{
    struct zkp_listener *l = arg;
    struct tcp_state *st = l->st;
    for (int i = 0; i < TCP_ACCEPT_BUDGET && l->fd >= 0; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* Out of fds or memory: the level-triggered event would spin. */
            st->host->log(st->host, ZKP_LOG_WARN, "accept on port %d: %s; pausing %d ms",
                          l->port, strerror(errno), TCP_ACCEPT_PAUSE_MS);
            if (l->pause_timer == 0 && st->host->fd_modify(st->host, fd, 0) == 0)
                l->pause_timer =
                    st->host->timer_start(st->host, TCP_ACCEPT_PAUSE_MS, tcp_listener_resume, l);
            return;
        }
        tcp_accept_one(l, cfd, &ss);
    }
}

/* ------------------------------------------------------------------------- */
/* Transport ops                                                              */

static int tcp_bind_one(const struct addrinfo *ai, int wildcard6, int backlog, int *out,
                        const char **step)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *step = "socket";
        return -errno;
    }
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        *step = "SO_REUSEADDR";
        goto fail;
    }
    if (wildcard6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) {
        *step = "IPV6_V6ONLY";
        goto fail;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        *step = "bind";
        goto fail;
    }
    if (listen(fd, backlog) < 0) {
        *step = "listen";
        goto fail;
    }
    *out = fd;
    return 0;
fail:;
    int rc = -errno;
    close(fd);
    return rc;
}

static int tcp_listen(void *state, const char *address, int port, int backlog,
                      const struct zkp_transport_events *events, void *core_arg,
                      zkp_listener **out, char *err, size_t errlen)
{
    struct tcp_state *st = state;
    int wildcard = address == NULL || address[0] == '\0';
    const char *shown = wildcard ? "0.0.0.0" : address;
    *out = NULL;
    if (!st->started) {
        snprintf(err, errlen, "listen on %s:%d: transport not started", shown, port);
        return -EINVAL;
    }
    if (events == NULL ||
        events->size < offsetof(struct zkp_transport_events, on_close) + sizeof events->on_close ||
        events->on_accept == NULL || events->on_data == NULL || events->on_close == NULL) {
        snprintf(err, errlen, "listen on %s:%d: incomplete transport events table", shown, port);
        return -EINVAL;
    }
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "listen on %s:%d: port out of range 0-65535", shown, port);
        return -EINVAL;
    }
    if (backlog <= 0)
        backlog = SOMAXCONN;

    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc;
    int fd = -1;
    const char *step = "resolve";
    if (wildcard) {
        /* One dual-stack socket; plain IPv4 when the host has no IPv6. */
        hints.ai_flags |= AI_NUMERICHOST;
        hints.ai_family = AF_INET6;
        rc = getaddrinfo("::", portstr, &hints, &res);
        if (rc == 0) {
            rc = tcp_bind_one(res, 1, backlog, &fd, &step);
            freeaddrinfo(res);
            res = NULL;
        } else {
            rc = -EAFNOSUPPORT;
        }
        if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) {
            hints.ai_family = AF_INET;
            if (getaddrinfo("0.0.0.0", portstr, &hints, &res) == 0) {
                rc = tcp_bind_one(res, 0, backlog, &fd, &step);
                freeaddrinfo(res);
            }
        }
    } else {
        hints.ai_family = AF_UNSPEC;
        int gai = getaddrinfo(address, portstr, &hints, &res);
        if (gai != 0) {
            snprintf(err, errlen, "listen on %s:%d: cannot resolve address: %s", address, port,
                     gai_strerror(gai));
            return -EINVAL;
        }
        rc = -EADDRNOTAVAIL;
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
            rc = tcp_bind_one(ai, 0, backlog, &fd, &step);
        freeaddrinfo(res);
    }
    if (fd < 0) {
        snprintf(err, errlen, "listen on %s:%d: %s: %s", shown, port, step, strerror(-rc));
        return rc < 0 ? rc : -EIO;
    }

    struct zkp_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        close(fd);
        snprintf(err, errlen, "listen on %s:%d: out of memory", shown, port);
        return -ENOMEM;
    }
    l->st = st;
    l->fd = fd;
    l->core_arg = core_arg;
    memcpy(&l->events, events, sizeof l->events < events->size ? sizeof l->events : events->size);
    l->events.size = sizeof l->events;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    rc = st->host->fd_watch(st->host, fd, ZKP_EV_READ, tcp_listener_event, l);
    if (rc < 0) {
        close(fd);
        free(l);
        snprintf(err, errlen, "listen on %s:%d: cannot watch the socket: %s", shown, port,
                 strerror(-rc));
        return rc;
    }
    l->next = st->listeners;
    if (st->listeners)
        st->listeners->prev = l;
    st->listeners = l;
    st->host->log(st->host, ZKP_LOG_INFO, "binding to port %s:%d", shown, l->port);
    *out = l;
    return 0;
}

static int tcp_listener_port(zkp_listener *l) { return l ? l->port : -EINVAL; }

static void tcp_listener_close(struct zkp_listener *l)
{
    struct tcp_state *st = l->st;
    if (l->pause_timer) {
        st->host->timer_cancel(st->host, l->pause_timer);
        l->pause_timer = 0;
    }
    st->host->fd_unwatch(st->host, l->fd);
    close(l->fd);
    l->fd = -1;
    if (l->prev)
        l->prev->next = l->next;
    else
        st->listeners = l->next;
    if (l->next)
        l->next->prev = l->prev;
}

static void tcp_unlisten(void *state, zkp_listener *l)
{
    if (l == NULL || l->fd < 0)
        return;
    tcp_listener_close(l);
    /* Freed by the hook: we may be inside this listener's accept loop. */
    l->dead_next = l->st->dead_listeners;
    l->st->dead_listeners = l;
}

static int tcp_send(zkp_conn *c, const void *data, size_t len)
{
    if (c->flags & (TCP_CONN_CLOSING | TCP_CONN_DEAD))
        return -EPIPE;
    if (len == 0)
        return 0;
    struct tcp_chunk *t = c->out_tail;
    if (t && t->cap - t->len >= len) {
        memcpy(t->data + t->len, data, len);
        t->len += len;
    } else {
        size_t cap = len < TCP_CHUNK_MIN ? TCP_CHUNK_MIN : len;
        struct tcp_chunk *k = malloc(sizeof *k + cap);
        if (k == NULL)
            return -ENOMEM;
        k->next = NULL;
        k->off = 0;
        k->len = len;
        k->cap = cap;
        memcpy(k->data, data, len);
        if (t)
            t->next = k;
        else
            c->out_head = k;
        c->out_tail = k;
    }
    c->out_bytes += len;
    c->st->write_queue_bytes += (int64_t)len;
    tcp_conn_mark_dirty(c);
    return 0;
}

static void tcp_close(zkp_conn *c, int flush)
{
    tcp_conn_begin_close(c, ZKP_CLOSE_LOCAL, flush);
}

static void tcp_pause_read(zkp_conn *c, int paused)
{
    if (c->flags & (TCP_CONN_CLOSING | TCP_CONN_DEAD))
        return;
    if (paused) {
        c->flags |= TCP_CONN_PAUSED;
    } else if (c->flags & TCP_CONN_PAUSED) {
        c->flags &= ~TCP_CONN_PAUSED;
        if (c->rlen > 0) {
            c->flags |= TCP_CONN_REDELIVER;
            tcp_conn_mark_dirty(c);
        }
    }
    tcp_conn_update_events(c);
}

static size_t tcp_pending(zkp_conn *c) { return c->out_bytes; }

static int tcp_connect(void *state, const char *address, int port, int timeout_ms,
                       const struct zkp_transport_events *events, void *ctx, zkp_conn **out,
                       char *err, size_t errlen)
{
    struct tcp_state *st = state;
    const struct zkp_host *h = st->host;
    const char *shown = address ? address : "(null)";
    *out = NULL;
    if (!st->started) {
        snprintf(err, errlen, "connect to %s:%d: transport not started", shown, port);
        return -EINVAL;
    }
    if (events == NULL ||
        events->size < offsetof(struct zkp_transport_events, on_connected) +
                           sizeof events->on_connected ||
        events->on_data == NULL || events->on_close == NULL || events->on_connected == NULL) {
        snprintf(err, errlen, "connect to %s:%d: incomplete transport events table", shown, port);
        return -EINVAL;
    }
    if (address == NULL || address[0] == '\0' || port <= 0 || port > 65535) {
        snprintf(err, errlen, "connect to %s:%d: need an address and a port 1-65535", shown,
                 port);
        return -EINVAL;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(address, portstr, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(err, errlen, "connect to %s:%d: cannot resolve address: %s", address, port,
                 gai ? gai_strerror(gai) : "no address");
        return -EINVAL;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    res->ai_protocol);
    if (fd < 0) {
        int rc = -errno;
        freeaddrinfo(res);
        snprintf(err, errlen, "connect to %s:%d: socket: %s", address, port, strerror(-rc));
        return rc;
    }
    int cerr = 0;
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)
        cerr = errno;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    struct zkp_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        snprintf(err, errlen, "connect to %s:%d: out of memory", address, port);
        return -ENOMEM;
    }
    int rc = h->fd_watch(h, fd, ZKP_EV_WRITE, tcp_conn_event, c);
    if (rc < 0) {
        free(c);
        close(fd);
        snprintf(err, errlen, "connect to %s:%d: cannot watch the socket: %s", address, port,
                 strerror(-rc));
        return rc;
    }
    char ipstr[INET6_ADDRSTRLEN];
    int peer_port;
    tcp_ip_from_sockaddr(&ss, &c->ip, ipstr, sizeof ipstr, &peer_port);
    c->st = st;
    c->fd = fd;
    c->flags = TCP_CONN_CONNECTING | TCP_CONN_OUTBOUND;
    c->events = ZKP_EV_WRITE;
    c->ctx = ctx;
    c->on_data = events->on_data;
    c->on_close = events->on_close;
    c->on_connected = events->on_connected;
    c->next = st->conns;
    if (st->conns)
        st->conns->prev = c;
    st->conns = c;
    st->connections++;
    if (cerr != 0) {
        tcp_conn_connect_fail(c, cerr);
    } else {
        c->connect_timer = h->timer_start(h, timeout_ms > 0 ? (uint64_t)timeout_ms
                                                            : TCP_CONNECT_TIMEOUT_MS,
                                          tcp_conn_connect_expired, c);
        if (c->connect_timer == 0)
            h->log(h, ZKP_LOG_WARN, "connect to %s:%d: no timer; relying on the TCP timeout",
                   address, port);
    }
    *out = c;
    return 0;
}

static const struct zkp_transport_ops tcp_ops = {
    .size = sizeof(struct zkp_transport_ops),
    .listen = tcp_listen,
    .listener_port = tcp_listener_port,
    .unlisten = tcp_unlisten,
    .send = tcp_send,
    .close = tcp_close,
    .pause_read = tcp_pause_read,
    .pending = tcp_pending,
    .connect = tcp_connect,
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                  */

static int tcp_config_limit(const struct zkp_host *h, const char *key, int64_t def, int64_t *out,
                            char *err, size_t errlen)
{
    int rc = h->config_int(h, key, def, out);
    if (rc < 0) {
        snprintf(err, errlen, "%s: not an integer", key);
        return rc;
    }
    if (*out < 0) {
        snprintf(err, errlen, "%s: must be 0 (unlimited) or more, got %lld", key, (long long)*out);
        return -EINVAL;
    }
    return 0;
}

static int tcp_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
    if (host->size < offsetof(struct zkp_host, now_ns) + sizeof host->now_ns) {
        snprintf(err, errlen, "host service table too old (%u bytes)", host->size);
        return -ENOTSUP;
    }
    struct tcp_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->host = host;
    int rc = tcp_config_limit(host, "maxClientCnxns", 60, &st->max_per_ip, err, errlen);
    if (rc == 0)
        rc = tcp_config_limit(host, "maxCnxns", 0, &st->max_total, err, errlen);
    if (rc < 0) {
        free(st);
        return rc;
    }
    const struct {
        const char *name;
        enum zkp_metric_type type;
        const int64_t *value;
    } metrics[] = {
        {"connection_rejected", ZKP_METRIC_COUNTER, &st->rejected},
        {"bytes_received_count", ZKP_METRIC_COUNTER, &st->bytes_received},
        {"tcp_bytes_sent_count", ZKP_METRIC_COUNTER, &st->bytes_sent},
        {"tcp_connections", ZKP_METRIC_GAUGE, &st->connections},
        {"tcp_connections_accepted", ZKP_METRIC_COUNTER, &st->accepted},
        {"tcp_write_calls", ZKP_METRIC_COUNTER, &st->write_calls},
        {"tcp_read_buffer_bytes", ZKP_METRIC_GAUGE, &st->read_buffer_bytes},
        {"tcp_write_queue_bytes", ZKP_METRIC_GAUGE, &st->write_queue_bytes},
    };
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        rc = host->metric_register(host, metrics[i].name, metrics[i].type, metrics[i].value);
        if (rc < 0) {
            snprintf(err, errlen, "cannot register metric %s: %s", metrics[i].name, strerror(-rc));
            free(st);
            return rc;
        }
    }
    *state = st;
    return 0;
}

static int tcp_start(void *state, char *err, size_t errlen)
{
    struct tcp_state *st = state;
    if (st->scratch == NULL) {
        st->scratch = malloc(TCP_SCRATCH_SIZE);
        if (st->scratch == NULL) {
            snprintf(err, errlen, "out of memory for the read buffer");
            return -ENOMEM;
        }
    }
    if (!st->hook_set) {
        int rc = st->host->before_sleep(st->host, tcp_before_sleep, st);
        if (rc < 0) {
            snprintf(err, errlen, "cannot register the write flush hook: %s", strerror(-rc));
            return rc;
        }
        st->hook_set = 1;
    }
    st->started = 1;
    return 0;
}

static void tcp_stop(void *state)
{
    struct tcp_state *st = state;
    st->started = 0;
    while (st->listeners) {
        struct zkp_listener *l = st->listeners;
        tcp_listener_close(l);
        free(l);
    }
    while (st->dead_listeners) {
        struct zkp_listener *l = st->dead_listeners;
        st->dead_listeners = l->dead_next;
        free(l);
    }
    st->dirty_head = st->dirty_tail = NULL;
    st->dead_head = st->dead_tail = NULL;
    while (st->conns) {
        struct zkp_conn *c = st->conns;
        if (c->fd >= 0)
            tcp_conn_close_fd(c);
        tcp_conn_free(c);
    }
}

static void tcp_fini(void *state)
{
    struct tcp_state *st = state;
    tcp_stop(st);
    for (size_t i = 0; i < TCP_IP_BUCKETS; i++) {
        while (st->ip_buckets[i]) {
            struct tcp_ip_count *e = st->ip_buckets[i];
            st->ip_buckets[i] = e->next;
            free(e);
        }
    }
    free(st->scratch);
    free(st);
}

ZKP_PLUGIN_EXPORT = {
    .magic = ZKP_ABI_MAGIC,
    .abi_major = ZKP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = sizeof(struct zkp_plugin),
    .kind = ZKP_KIND_TRANSPORT,
    .name = "tcp",
    .version = "1.0",
    .description = "TCP client transport on the event loop (NIOServerCnxnFactory)",
    .init = tcp_init,
    .start = tcp_start,
    .stop = tcp_stop,
    .fini = tcp_fini,
    .ops = &tcp_ops,
};
