/*
 * tcp transport tests: the built tcp.so (ZKPLUG_PLUGIN_DIR) loaded through
 * plugin_load, driven by a fake core on a real loop, with real client
 * sockets on 127.0.0.1.
 *
 * The fake core frames packets as ZooKeeper does (4-byte big-endian length,
 * then the payload), records every frame and close, and can reply, pause,
 * close or refuse on demand.
 *
 * Threads: the loop runs on its own thread for the whole test (loop_run is
 * entered once per loop). Everything that touches the plugin or the fake
 * core's state runs on the loop thread through on_loop(), which posts a job
 * and waits for it; the test thread only drives client sockets. Callbacks
 * never assert (cmocka cannot fail from another thread): they count
 * violations in core->violations, which the tests check.
 *
 * Outbound connections (connect, ABI 1.1) are made from the plugin to its
 * own listener, to a closed port and to a listener whose queue is full; the
 * host's net_* services are called through the tcp instance's own host table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_config.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"
#include "registry.h"

#define MAX_CONNS 600
#define DEADLINE_MS 5000

struct tconn {
    struct core *core;
    zkp_conn *conn;
    uint8_t *got; /* payloads of every frame, concatenated */
    size_t got_len, got_cap;
    int frames;
    int data_calls;
    int closes;
    enum zkp_close_reason reason;
    char peer_ip[64];
    int peer_port;
};

struct core {
    loop *loop;
    pthread_t thread;
    struct plugin_instance *plugin;
    const struct zkp_transport_ops *ops;
    zkp_listener *listener;
    int port;
    struct zkp_transport_events events;
    struct tconn *conns[MAX_CONNS];
    int nconns;
    /* behaviour */
    int replies_per_frame;
    int pause_after_frame;
    int refuse_accept;
    size_t big_reply; /* on a frame "big": send this many bytes, then close */
    int big_flush;
    /* observations (loop thread) */
    int violations;
    int64_t max_read_buffer;
    size_t pending_after_big;
    int closes_seen_in_close; /* on_close count right after close() returned */
    int send_after_close;     /* send's result after close() */
    char logpath[64];
    int clients[MAX_CONNS];
    int nclients;
};

/* ------------------------------------------------------------------------- */
/* Running things on the loop thread                                          */

struct job {
    struct core *core;
    void (*fn)(struct core *c, void *arg);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void job_run(void *arg)
{
    struct job *j = arg;
    j->fn(j->core, j->arg);
    pthread_mutex_lock(&j->lock);
    j->done = 1;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

/* Runs fn(c, arg) on the loop thread and waits for it. */
static void on_loop(struct core *c, void (*fn)(struct core *c, void *arg), void *arg)
{
    struct job j = {.core = c, .fn = fn, .arg = arg};
    pthread_mutex_init(&j.lock, NULL);
    pthread_cond_init(&j.cond, NULL);
    assert_int_equal(loop_post(c->loop, job_run, &j), 0);
    pthread_mutex_lock(&j.lock);
    while (!j.done)
        pthread_cond_wait(&j.cond, &j.lock);
    pthread_mutex_unlock(&j.lock);
    pthread_mutex_destroy(&j.lock);
    pthread_cond_destroy(&j.cond);
}

static void *loop_thread(void *arg)
{
    loop_run(arg);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

typedef int (*pred_fn)(struct core *c, void *arg);

struct pred_job {
    pred_fn pred;
    void *arg;
    int result;
};

static void pred_run(struct core *c, void *arg)
{
    struct pred_job *p = arg;
    p->result = p->pred(c, p->arg);
}

/* Polls pred on the loop thread every millisecond until it holds (1) or ms
 * pass (0). */
static int run_until(struct core *c, pred_fn pred, void *arg, uint64_t ms)
{
    uint64_t deadline = loop_now_ms() + ms;
    struct pred_job p = {pred, arg, 0};
    for (;;) {
        on_loop(c, pred_run, &p);
        if (p.result)
            return 1;
        if (loop_now_ms() >= deadline)
            return 0;
        sleep_ms(1);
    }
}

struct metric_job {
    const char *name;
    int64_t value;
    int rc;
};

static void metric_run(struct core *c, void *arg)
{
    struct metric_job *m = arg;
    m->rc = metrics_get(m->name, &m->value);
}

static int64_t metric(struct core *c, const char *name)
{
    struct metric_job m = {name, -1, 0};
    on_loop(c, metric_run, &m);
    assert_int_equal(m.rc, 0);
    return m.value;
}

/* A copy of the fake core's observations, taken on the loop thread. */
struct conn_view {
    int frames, data_calls, closes;
    enum zkp_close_reason reason;
    size_t got_len;
    char peer_ip[64];
    int peer_port;
    size_t pending;
};

struct view {
    int nconns;
    int violations;
    int64_t max_read_buffer;
    size_t pending_after_big;
    int closes_seen_in_close;
    int send_after_close;
    struct conn_view conns[MAX_CONNS];
};

static void view_run(struct core *c, void *arg)
{
    struct view *v = arg;
    v->nconns = c->nconns;
    v->violations = c->violations;
    v->max_read_buffer = c->max_read_buffer;
    v->pending_after_big = c->pending_after_big;
    v->closes_seen_in_close = c->closes_seen_in_close;
    v->send_after_close = c->send_after_close;
    for (int i = 0; i < c->nconns; i++) {
        struct tconn *t = c->conns[i];
        struct conn_view *cv = &v->conns[i];
        cv->frames = t->frames;
        cv->data_calls = t->data_calls;
        cv->closes = t->closes;
        cv->reason = t->reason;
        cv->got_len = t->got_len;
        snprintf(cv->peer_ip, sizeof cv->peer_ip, "%s", t->peer_ip);
        cv->peer_port = t->peer_port;
        cv->pending = t->closes || c->plugin == NULL ? 0 : c->ops->pending(t->conn);
    }
}

static struct view *view(struct core *c)
{
    static struct view v;
    memset(&v, 0, sizeof v);
    on_loop(c, view_run, &v);
    assert_int_equal(v.violations, 0);
    return &v;
}

struct got_job {
    int conn;
    const void *expect;
    size_t len;
    int equal;
};

static void got_run(struct core *c, void *arg)
{
    struct got_job *g = arg;
    struct tconn *t = c->conns[g->conn];
    g->equal = t->got_len == g->len && memcmp(t->got, g->expect, g->len) == 0;
}

/* Whether connection i received exactly these payload bytes. */
static int got_equal(struct core *c, int i, const void *expect, size_t len)
{
    struct got_job g = {i, expect, len, 0};
    on_loop(c, got_run, &g);
    return g.equal;
}

/* ------------------------------------------------------------------------- */
/* Fake core (loop thread)                                                    */

static void *core_on_accept(void *core_arg, zkp_conn *conn, const char *peer_ip, int peer_port)
{
    struct core *c = core_arg;
    if (c->refuse_accept)
        return NULL;
    if (c->nconns >= MAX_CONNS) {
        c->violations++;
        return NULL;
    }
    struct tconn *t = calloc(1, sizeof *t);
    if (t == NULL) {
        c->violations++;
        return NULL;
    }
    t->core = c;
    t->conn = conn;
    snprintf(t->peer_ip, sizeof t->peer_ip, "%s", peer_ip);
    t->peer_port = peer_port;
    c->conns[c->nconns++] = t;
    return t;
}

static void core_send(struct tconn *t, const void *data, size_t len)
{
    if (t->core->ops->send(t->conn, data, len) != 0)
        t->core->violations++;
}

static void core_reply(struct tconn *t, const char *text)
{
    uint32_t n = htonl((uint32_t)strlen(text));
    core_send(t, &n, 4);
    core_send(t, text, strlen(text));
}

static void core_big_reply(struct tconn *t)
{
    struct core *c = t->core;
    static uint8_t chunk[65536];
    for (size_t off = 0; off < c->big_reply; off += sizeof chunk) {
        size_t n = c->big_reply - off < sizeof chunk ? c->big_reply - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((off + i) * 7);
        core_send(t, chunk, n);
    }
    c->pending_after_big = c->ops->pending(t->conn);
    c->ops->close(t->conn, c->big_flush);
    c->closes_seen_in_close = t->closes;
    c->send_after_close = c->ops->send(t->conn, "x", 1);
}

static size_t core_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct tconn *t = ctx;
    struct core *c = t->core;
    if (t->closes != 0 || len == 0)
        c->violations++;
    t->data_calls++;
    int64_t rb = 0;
    metrics_get("tcp_read_buffer_bytes", &rb);
    if (rb > c->max_read_buffer)
        c->max_read_buffer = rb;
    size_t off = 0;
    while (len - off >= 4) {
        uint32_t n;
        memcpy(&n, data + off, 4);
        n = ntohl(n);
        if (len - off - 4 < n) {
            *need = 4 + (size_t)n;
            break;
        }
        const uint8_t *payload = data + off + 4;
        if (t->got_len + n > t->got_cap) {
            t->got_cap = (t->got_len + n) * 2;
            uint8_t *g = realloc(t->got, t->got_cap);
            if (g == NULL) {
                c->violations++;
                return len;
            }
            t->got = g;
        }
        memcpy(t->got + t->got_len, payload, n);
        t->got_len += n;
        t->frames++;
        off += 4 + n;
        for (int i = 0; i < c->replies_per_frame; i++) {
            char text[64];
            snprintf(text, sizeof text, "reply %d.%d", t->frames, i);
            core_reply(t, text);
        }
        if (n == 3 && memcmp(payload, "big", 3) == 0 && c->big_reply > 0) {
            core_big_reply(t);
            return off;
        }
        if (c->pause_after_frame) {
            c->ops->pause_read(t->conn, 1);
            return off;
        }
    }
    if (off == 0 && len < 4)
        *need = 4;
    return off;
}

static void core_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct tconn *t = ctx;
    t->closes++;
    t->reason = reason;
}

struct start_job {
    const char *address;
    int rc;
    char err[512];
};

static void core_start_run(struct core *c, void *arg)
{
    struct start_job *s = arg;
    s->rc = plugin_load(ZKPLUG_PLUGIN_DIR, "tcp", ZKP_KIND_TRANSPORT, c->loop, FAKE_CONFIG,
                        &c->plugin, s->err, sizeof s->err);
    if (s->rc == 0)
        s->rc = plugin_start(c->plugin, s->err, sizeof s->err);
    if (s->rc != 0)
        return;
    c->ops = plugin_ops(c->plugin);
    c->events = (struct zkp_transport_events){
        .size = sizeof c->events,
        .on_accept = core_on_accept,
        .on_data = core_on_data,
        .on_close = core_on_close,
    };
    s->rc = c->ops->listen(c->plugin->state, s->address, 0, -1, &c->events, c, &c->listener,
                           s->err, sizeof s->err);
    if (s->rc == 0)
        c->port = c->ops->listener_port(c->listener);
}

/* Loads and starts tcp.so with the current fake config and listens on
 * 127.0.0.1:0. */
static void core_start(struct core *c)
{
    struct start_job s = {"127.0.0.1", 0, ""};
    on_loop(c, core_start_run, &s);
    if (s.rc != 0)
        fail_msg("start: %s", s.err);
    assert_true(c->port > 0);
}

static void core_unload_run(struct core *c, void *arg)
{
    plugin_unload(c->plugin);
    c->plugin = NULL;
}

/* ------------------------------------------------------------------------- */
/* Client side (test thread)                                                  */

static int client_connect_port(struct core *c, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    assert_true(c->nclients < MAX_CONNS);
    c->clients[c->nclients++] = fd;
    return fd;
}

static int client_connect(struct core *c)
{
    int fd = client_connect_port(c, c->port);
    assert_true(fd >= 0);
    return fd;
}

static void client_close(struct core *c, int fd)
{
    for (int i = 0; i < c->nclients; i++) {
        if (c->clients[i] == fd) {
            c->clients[i] = c->clients[--c->nclients];
            break;
        }
    }
    close(fd);
}

static size_t frame(uint8_t *out, const void *payload, uint32_t n)
{
    uint32_t be = htonl(n);
    memcpy(out, &be, 4);
    memcpy(out + 4, payload, n);
    return 4 + (size_t)n;
}

/* Writes everything, waiting while the socket is full. */
static void client_send(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t deadline = loop_now_ms() + DEADLINE_MS;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            assert_true(loop_now_ms() < deadline);
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 10);
            continue;
        }
        p += w;
        len -= (size_t)w;
    }
}

struct drain {
    size_t len;
    int eof; /* 1 EOF, 2 reset */
};

/* Reads into buf (NULL: count only) until want bytes (0: until EOF), EOF or
 * ms pass. */
static struct drain client_drain(int fd, uint8_t *buf, size_t cap, size_t want, int ms)
{
    struct drain d = {0, 0};
    uint64_t deadline = loop_now_ms() + (uint64_t)ms;
    while (want == 0 || d.len < want) {
        uint8_t tmp[65536];
        uint8_t *dst = buf ? buf + d.len : tmp;
        size_t room = buf ? cap - d.len : sizeof tmp;
        if (room == 0)
            break;
        ssize_t n = recv(fd, dst, room, 0);
        if (n == 0) {
            d.eof = 1;
            break;
        }
        if (n < 0) {
            if (errno == ECONNRESET) {
                d.eof = 2;
                break;
            }
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            uint64_t now = loop_now_ms();
            if (now >= deadline)
                break;
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            poll(&pfd, 1, (int)(deadline - now));
            continue;
        }
        d.len += (size_t)n;
    }
    return d;
}

static int pred_conns(struct core *c, void *arg) { return c->nconns >= *(int *)arg; }

static int pred_frames(struct core *c, void *arg)
{
    int total = 0;
    for (int i = 0; i < c->nconns; i++)
        total += c->conns[i]->frames;
    return total >= *(int *)arg;
}

static int pred_closes(struct core *c, void *arg)
{
    int total = 0;
    for (int i = 0; i < c->nconns; i++)
        total += c->conns[i]->closes;
    return total >= *(int *)arg;
}

struct metric_at_least {
    const char *name;
    int64_t value;
};

static int pred_metric_at_least(struct core *c, void *arg)
{
    const struct metric_at_least *m = arg;
    int64_t v = 0;
    metrics_get(m->name, &v);
    return v >= m->value;
}

static char *read_log(struct core *c)
{
    FILE *fp = fopen(c->logpath, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* ------------------------------------------------------------------------- */
/* Fixture                                                                    */

static int setup(void **state)
{
    struct core *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->loop = loop_new();
    assert_non_null(c->loop);
    fake_config_reset();
    snprintf(c->logpath, sizeof c->logpath, "/tmp/zkplug-tcp-%d.log", (int)getpid());
    unlink(c->logpath);
    assert_int_equal(log_open_file(c->logpath), 0);
    assert_int_equal(pthread_create(&c->thread, NULL, loop_thread, c->loop), 0);
    *state = c;
    return 0;
}

static void noop_run(struct core *c, void *arg) {}

static int teardown(void **state)
{
    struct core *c = *state;
    for (int i = 0; i < c->nclients; i++)
        close(c->clients[i]);
    on_loop(c, core_unload_run, NULL);
    on_loop(c, noop_run, NULL); /* posts the plugin dropped have run */
    loop_stop(c->loop);
    pthread_join(c->thread, NULL);
    loop_free(c->loop);
    for (int i = 0; i < c->nconns; i++) {
        free(c->conns[i]->got);
        free(c->conns[i]);
    }
    log_open_file(NULL);
    unlink(c->logpath);
    metrics_clear();
    fake_config_reset();
    free(c);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */

struct listen_job {
    const char *address;
    int port;
    struct zkp_transport_events events;
    zkp_listener *l;
    int rc;
    int bound_port;
    char err[512];
};

static void listen_run(struct core *c, void *arg)
{
    struct listen_job *j = arg;
    j->rc = c->ops->listen(c->plugin->state, j->address, j->port, 16, &j->events, c, &j->l, j->err,
                           sizeof j->err);
    if (j->rc == 0)
        j->bound_port = c->ops->listener_port(j->l);
}

static void unlisten_run(struct core *c, void *arg) { c->ops->unlisten(c->plugin->state, arg); }

static void load_only_run(struct core *c, void *arg)
{
    struct listen_job *j = arg;
    j->rc = plugin_load(ZKPLUG_PLUGIN_DIR, "tcp", ZKP_KIND_TRANSPORT, c->loop, NULL, &c->plugin,
                        j->err, sizeof j->err);
    if (j->rc != 0)
        return;
    c->ops = plugin_ops(c->plugin);
    listen_run(c, j);
    plugin_unload(c->plugin);
    c->plugin = NULL;
}

static void test_listen_reports_port_and_errors(void **state)
{
    struct core *c = *state;
    const struct zkp_transport_events ev = {.size = sizeof ev, .on_accept = core_on_accept,
                                            .on_data = core_on_data, .on_close = core_on_close};
    /* Loaded but not started: listen refuses. */
    struct listen_job j = {.address = "127.0.0.1", .events = ev};
    on_loop(c, load_only_run, &j);
    assert_int_equal(j.rc, -EINVAL);
    assert_string_equal(j.err, "listen on 127.0.0.1:0: transport not started");

    core_start(c);
    /* The same port again: the message names the address, port and reason. */
    j = (struct listen_job){.address = "127.0.0.1", .port = c->port, .events = ev};
    on_loop(c, listen_run, &j);
    assert_int_equal(j.rc, -EADDRINUSE);
    char expect[128];
    snprintf(expect, sizeof expect, "listen on 127.0.0.1:%d: bind: %s", c->port,
             strerror(EADDRINUSE));
    assert_string_equal(j.err, expect);
    assert_null(j.l);
    /* An incomplete events table, a port out of range. */
    j = (struct listen_job){.address = "127.0.0.1", .events = ev};
    j.events.size = 8;
    on_loop(c, listen_run, &j);
    assert_int_equal(j.rc, -EINVAL);
    assert_string_equal(j.err, "listen on 127.0.0.1:0: incomplete transport events table");
    j = (struct listen_job){.address = "127.0.0.1", .port = 70000, .events = ev};
    on_loop(c, listen_run, &j);
    assert_int_equal(j.rc, -EINVAL);
    assert_string_equal(j.err, "listen on 127.0.0.1:70000: port out of range 0-65535");

    /* A resolvable name works as well as a literal. */
    j = (struct listen_job){.address = "localhost", .events = ev};
    on_loop(c, listen_run, &j);
    assert_int_equal(j.rc, 0);
    assert_true(j.bound_port > 0 && j.bound_port != c->port);
    assert_true(client_connect_port(c, j.bound_port) >= 0);
    int one = 1;
    assert_true(run_until(c, pred_conns, &one, DEADLINE_MS));
    struct view *v = view(c);
    assert_string_equal(v->conns[0].peer_ip, "127.0.0.1");
    assert_true(v->conns[0].peer_port > 0);

    /* After unlisten the kernel refuses new connections. */
    on_loop(c, unlisten_run, j.l);
    assert_int_equal(client_connect_port(c, j.bound_port), -ECONNREFUSED);
    /* The first listener still works. */
    client_connect(c);
    int two = 2;
    assert_true(run_until(c, pred_conns, &two, DEADLINE_MS));
}

struct received {
    int64_t bytes;
};

static int pred_received(struct core *c, void *arg)
{
    int64_t v = 0;
    metrics_get("bytes_received_count", &v);
    return v >= *(int64_t *)arg;
}

static void test_frames_split_across_single_byte_reads(void **state)
{
    struct core *c = *state;
    core_start(c);
    int fd = client_connect(c);
    uint8_t msg[64];
    size_t len = frame(msg, "hello", 5);
    len += frame(msg + len, "zookeeper!", 10);
    for (size_t i = 0; i < len; i++) {
        client_send(fd, msg + i, 1);
        int64_t want = (int64_t)i + 1;
        assert_true(run_until(c, pred_received, &want, DEADLINE_MS));
    }
    struct view *v = view(c);
    assert_int_equal(v->conns[0].frames, 2);
    assert_true(got_equal(c, 0, "hellozookeeper!", 15));
    /* Each byte was offered as it came, with the bytes kept before it. */
    assert_true(v->conns[0].data_calls >= (int)len);
    assert_int_equal(metric(c, "bytes_received_count"), (int64_t)len);
    assert_int_equal(metric(c, "tcp_read_buffer_bytes"), 0);
}

static void test_large_message_grows_buffer_then_frees_it(void **state)
{
    struct core *c = *state;
    core_start(c);
    int fd = client_connect(c);
    size_t n = 300000;
    uint8_t *msg = malloc(4 + n);
    assert_non_null(msg);
    uint8_t *payload = malloc(n);
    assert_non_null(payload);
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    size_t len = frame(msg, payload, (uint32_t)n);
    client_send(fd, msg, len);
    int one = 1;
    assert_true(run_until(c, pred_frames, &one, DEADLINE_MS));
    assert_true(got_equal(c, 0, payload, n));
    /* The buffer grew to hold the whole packet, and was released after. */
    struct view *v = view(c);
    assert_true(v->max_read_buffer >= (int64_t)len);
    assert_int_equal(metric(c, "tcp_read_buffer_bytes"), 0);
    free(msg);
    free(payload);
}

static void test_replies_are_batched_into_one_write(void **state)
{
    struct core *c = *state;
    c->replies_per_frame = 3;
    core_start(c);
    int fd = client_connect(c);
    int one = 1;
    assert_true(run_until(c, pred_conns, &one, DEADLINE_MS));
    uint8_t msg[256];
    size_t len = 0;
    for (int i = 0; i < 10; i++)
        len += frame(msg + len, "ping", 4);
    int64_t writes_before = metric(c, "tcp_write_calls");
    client_send(fd, msg, len);

    char expect[4096];
    size_t expect_len = 0;
    for (int f = 1; f <= 10; f++) {
        for (int r = 0; r < 3; r++) {
            char text[64];
            int tl = snprintf(text, sizeof text, "reply %d.%d", f, r);
            expect_len += frame((uint8_t *)expect + expect_len, text, (uint32_t)tl);
        }
    }
    uint8_t buf[4096];
    struct drain d = client_drain(fd, buf, sizeof buf, expect_len, DEADLINE_MS);
    assert_int_equal(d.len, expect_len);
    assert_memory_equal(buf, expect, expect_len);
    struct view *v = view(c);
    assert_int_equal(v->conns[0].frames, 10);
    assert_int_equal(v->conns[0].data_calls, 1);
    assert_int_equal(v->conns[0].pending, 0);
    /* 60 send calls (30 replies), one sendmsg. */
    assert_int_equal(metric(c, "tcp_write_calls") - writes_before, 1);
    assert_int_equal(metric(c, "tcp_write_queue_bytes"), 0);
}

static void test_close_with_flush_delivers_everything_before_fin(void **state)
{
    struct core *c = *state;
    c->big_reply = 8u << 20;
    c->big_flush = 1;
    core_start(c);
    int fd = client_connect(c);
    uint8_t msg[16];
    client_send(fd, msg, frame(msg, "big", 3));
    /* Do not read yet: the queue cannot drain, so close has to wait. */
    int one = 1;
    assert_true(run_until(c, pred_frames, &one, DEADLINE_MS));
    struct view *v = view(c);
    assert_int_equal(v->pending_after_big, c->big_reply);
    /* close() did not call on_close itself, and the conn takes no more. */
    assert_int_equal(v->closes_seen_in_close, 0);
    assert_int_equal(v->send_after_close, -EPIPE);
    sleep_ms(20);
    assert_int_equal(view(c)->conns[0].closes, 0);

    uint8_t *buf = malloc(c->big_reply + 1);
    assert_non_null(buf);
    struct drain d = client_drain(fd, buf, c->big_reply + 1, 0, 20000);
    assert_int_equal(d.eof, 1);
    assert_int_equal(d.len, c->big_reply);
    for (size_t i = 0; i < d.len; i++)
        if (buf[i] != (uint8_t)(i * 7))
            fail_msg("byte %zu differs", i);
    free(buf);
    assert_true(run_until(c, pred_closes, &one, DEADLINE_MS));
    v = view(c);
    assert_int_equal(v->conns[0].closes, 1);
    assert_int_equal(v->conns[0].reason, ZKP_CLOSE_LOCAL);
    /* The socket filled up, so the queue went out in several writes. */
    assert_true(metric(c, "tcp_write_calls") > 1);
    assert_int_equal(metric(c, "tcp_write_queue_bytes"), 0);
    assert_int_equal(metric(c, "tcp_connections"), 0);
}

static void test_close_without_flush_drops_output(void **state)
{
    struct core *c = *state;
    c->big_reply = 1u << 20;
    c->big_flush = 0;
    core_start(c);
    int fd = client_connect(c);
    uint8_t msg[16];
    client_send(fd, msg, frame(msg, "big", 3));
    struct drain d = client_drain(fd, NULL, 0, 0, DEADLINE_MS);
    assert_true(d.eof > 0);
    assert_int_equal(d.len, 0);
    int one = 1;
    assert_true(run_until(c, pred_closes, &one, DEADLINE_MS));
    assert_int_equal(view(c)->conns[0].reason, ZKP_CLOSE_LOCAL);
    assert_int_equal(metric(c, "tcp_write_queue_bytes"), 0);
}

/* Connects n clients, waits until one was rejected, returns how many of them
 * saw the server hang up. */
static int connect_and_count_hangups(struct core *c, int n, int *fds)
{
    for (int i = 0; i < n; i++)
        fds[i] = client_connect(c);
    struct metric_at_least m = {"connection_rejected", 1};
    assert_true(run_until(c, pred_metric_at_least, &m, DEADLINE_MS));
    int accepted = n - 1;
    assert_true(run_until(c, pred_conns, &accepted, DEADLINE_MS));
    int hangups = 0;
    for (int i = 0; i < n; i++) {
        struct drain d = client_drain(fds[i], NULL, 0, 0, 20);
        if (d.eof)
            hangups++;
    }
    return hangups;
}

static void test_per_ip_limit_rejects_the_next_connection(void **state)
{
    struct core *c = *state;
    fake_config_set("maxClientCnxns", "3");
    core_start(c);
    int fds[4];
    assert_int_equal(connect_and_count_hangups(c, 4, fds), 1);
    assert_int_equal(view(c)->nconns, 3);
    assert_int_equal(metric(c, "connection_rejected"), 1);
    assert_int_equal(metric(c, "tcp_connections"), 3);
    char *log = read_log(c);
    assert_non_null(strstr(log, "[tcp] Too many connections from /127.0.0.1 - max is 3"));
    free(log);

    /* One leaves: a newcomer from the same address is accepted. */
    for (int i = 0; i < 4; i++) {
        struct drain d = client_drain(fds[i], NULL, 0, 0, 1);
        if (!d.eof) {
            client_close(c, fds[i]);
            break;
        }
    }
    int one = 1;
    assert_true(run_until(c, pred_closes, &one, DEADLINE_MS));
    client_connect(c);
    int four = 4;
    assert_true(run_until(c, pred_conns, &four, DEADLINE_MS));
    assert_int_equal(metric(c, "connection_rejected"), 1);
}

static void test_global_limit_rejects_over_max_cnxns(void **state)
{
    struct core *c = *state;
    fake_config_set("maxClientCnxns", "0");
    fake_config_set("maxCnxns", "2");
    core_start(c);
    int fds[3];
    assert_int_equal(connect_and_count_hangups(c, 3, fds), 1);
    assert_int_equal(view(c)->nconns, 2);
    char *log = read_log(c);
    assert_non_null(strstr(log, "[tcp] Too many connections 2 - max is 2"));
    free(log);
}

static void bad_config_run(struct core *c, void *arg)
{
    struct start_job *s = arg;
    s->rc = plugin_load(ZKPLUG_PLUGIN_DIR, "tcp", ZKP_KIND_TRANSPORT, c->loop, FAKE_CONFIG,
                        &c->plugin, s->err, sizeof s->err);
}

static void test_bad_limit_config_fails_init(void **state)
{
    struct core *c = *state;
    struct start_job s = {0};
    fake_config_set("maxClientCnxns", "-1");
    on_loop(c, bad_config_run, &s);
    assert_int_equal(s.rc, -EINVAL);
    assert_string_equal(s.err, ZKPLUG_PLUGIN_DIR "/tcp.so: init failed: maxClientCnxns: must be 0 "
                               "(unlimited) or more, got -1");
    fake_config_set("maxClientCnxns", "lots");
    on_loop(c, bad_config_run, &s);
    assert_int_equal(s.rc, -EINVAL);
    assert_string_equal(s.err, ZKPLUG_PLUGIN_DIR "/tcp.so: init failed: maxClientCnxns: not an integer");
}

struct close_job {
    int index;
    int flush_first;
    int closes_after;
    int send_rc;
};

/* The core closes twice (flush, then hard) and tries to send after. */
static void double_close_run(struct core *c, void *arg)
{
    struct close_job *j = arg;
    struct tconn *t = c->conns[j->index];
    c->ops->close(t->conn, j->flush_first);
    c->ops->close(t->conn, 0);
    j->closes_after = t->closes;
    j->send_rc = c->ops->send(t->conn, "x", 1);
}

static void test_on_close_runs_exactly_once(void **state)
{
    struct core *c = *state;
    core_start(c);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = client_connect(c);
        int n = i + 1;
        assert_true(run_until(c, pred_conns, &n, DEADLINE_MS));
    }
    /* conns[i] belongs to fds[i]: each was accepted before the next connect. */

    /* Peer hangs up. */
    client_close(c, fds[0]);
    int one = 1;
    assert_true(run_until(c, pred_closes, &one, DEADLINE_MS));
    assert_int_equal(view(c)->conns[0].reason, ZKP_CLOSE_PEER);

    /* The core closes twice while the peer hangs up as well. */
    struct close_job j = {.index = 1, .flush_first = 1};
    on_loop(c, double_close_run, &j);
    assert_int_equal(j.closes_after, 0);
    assert_int_equal(j.send_rc, -EPIPE);
    client_close(c, fds[1]);
    j = (struct close_job){.index = 2, .flush_first = 0};
    on_loop(c, double_close_run, &j);
    assert_int_equal(j.closes_after, 0);

    int all = 3;
    assert_true(run_until(c, pred_closes, &all, DEADLINE_MS));
    sleep_ms(30);
    struct view *v = view(c);
    for (int i = 0; i < 3; i++)
        assert_int_equal(v->conns[i].closes, 1);
    assert_int_equal(v->conns[1].reason, ZKP_CLOSE_LOCAL);
    assert_int_equal(v->conns[2].reason, ZKP_CLOSE_LOCAL);
    assert_int_equal(metric(c, "tcp_connections"), 0);
    /* The clients of the closed conns see the end of the stream. */
    struct drain d = client_drain(fds[2], NULL, 0, 0, DEADLINE_MS);
    assert_true(d.eof > 0);
}

static void resume_run(struct core *c, void *arg)
{
    c->pause_after_frame = 0;
    c->ops->pause_read(c->conns[0]->conn, 0);
}

static void test_pause_read_stops_and_resumes_delivery(void **state)
{
    struct core *c = *state;
    c->pause_after_frame = 1;
    core_start(c);
    int fd = client_connect(c);
    uint8_t msg[64];
    size_t len = frame(msg, "one", 3);
    len += frame(msg + len, "two", 3);
    client_send(fd, msg, len);
    int one = 1;
    assert_true(run_until(c, pred_frames, &one, DEADLINE_MS));
    sleep_ms(30);
    assert_int_equal(view(c)->conns[0].frames, 1); /* "two" waits in the buffer */
    client_send(fd, msg, frame(msg, "three", 5));
    sleep_ms(30);
    assert_int_equal(view(c)->conns[0].frames, 1);
    int64_t received = metric(c, "bytes_received_count");
    assert_int_equal(received, (int64_t)len); /* "three" is still in the kernel */

    on_loop(c, resume_run, NULL);
    int three = 3;
    assert_true(run_until(c, pred_frames, &three, DEADLINE_MS));
    assert_true(got_equal(c, 0, "onetwothree", 11));
    assert_true(metric(c, "bytes_received_count") > received);
}

static void test_refused_accept_closes_without_callback(void **state)
{
    struct core *c = *state;
    c->refuse_accept = 1;
    core_start(c);
    int fd = client_connect(c);
    struct drain d = client_drain(fd, NULL, 0, 0, DEADLINE_MS);
    assert_true(d.eof > 0);
    assert_int_equal(view(c)->nconns, 0);
    assert_int_equal(metric(c, "tcp_connections_accepted"), 1);
    assert_int_equal(metric(c, "tcp_connections"), 0);
}

static void test_idle_connections_hold_no_read_buffer(void **state)
{
    struct core *c = *state;
    fake_config_set("maxClientCnxns", "0");
    core_start(c);
    enum { N = 500 };
    int fds[N];
    uint8_t half[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        fds[i] = client_connect(c);
        client_send(fds[i], half, sizeof half);
    }
    struct metric_at_least m = {"bytes_received_count", 2 * N};
    assert_true(run_until(c, pred_metric_at_least, &m, DEADLINE_MS));
    /* Each partial packet costs the minimum buffer. */
    assert_int_equal(metric(c, "tcp_read_buffer_bytes"), (int64_t)N * 4096);
    uint8_t rest[4] = {0, 2, 'o', 'k'};
    for (int i = 0; i < N; i++)
        client_send(fds[i], rest, sizeof rest);
    int n = N;
    assert_true(run_until(c, pred_frames, &n, DEADLINE_MS));
    /* Idle again: no read memory held at all. */
    assert_int_equal(metric(c, "tcp_read_buffer_bytes"), 0);
    assert_int_equal(metric(c, "tcp_connections"), N);
}

static void queue_run(struct core *c, void *arg)
{
    if (c->ops->send(c->conns[0]->conn, "queued", 6) != 0)
        c->violations++;
}

static void test_stop_closes_everything_silently(void **state)
{
    struct core *c = *state;
    core_start(c);
    int a = client_connect(c);
    int b = client_connect(c);
    int two = 2;
    assert_true(run_until(c, pred_conns, &two, DEADLINE_MS));
    on_loop(c, queue_run, NULL);
    on_loop(c, core_unload_run, NULL);
    sleep_ms(10);
    struct view *v = view(c);
    assert_int_equal(v->conns[0].closes, 0);
    assert_int_equal(v->conns[1].closes, 0);
    assert_true(client_drain(a, NULL, 0, 0, DEADLINE_MS).eof > 0);
    assert_true(client_drain(b, NULL, 0, 0, DEADLINE_MS).eof > 0);
    assert_int_equal(client_connect_port(c, c->port), -ECONNREFUSED);
}

/* ------------------------------------------------------------------------- */
/* Outbound connections (connect, ABI 1.1)                                    */

struct outbound {
    zkp_conn *conn;
    int rc;
    char err[256];
    int connected_calls;
    int status;
    int closes;
    enum zkp_close_reason reason;
    uint8_t got[256];
    size_t got_len;
    int data_after_end; /* on_data after a failure or on_close */
};

static void out_on_connected(void *ctx, int status)
{
    struct outbound *o = ctx;
    o->connected_calls++;
    o->status = status;
}

static size_t out_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct outbound *o = ctx;
    if (o->closes || o->status < 0)
        o->data_after_end++;
    size_t n = len < sizeof o->got - o->got_len ? len : sizeof o->got - o->got_len;
    memcpy(o->got + o->got_len, data, n);
    o->got_len += n;
    return len;
}

static void out_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct outbound *o = ctx;
    o->closes++;
    o->reason = reason;
}

static const struct zkp_transport_events out_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_data = out_on_data,
    .on_close = out_on_close,
    .on_connected = out_on_connected,
};

struct connect_job {
    struct outbound *o;
    const char *address;
    int port;
    int timeout_ms;
    const struct zkp_transport_events *events;
    const char *send; /* framed and sent right after connect returns */
    int close_at_once;
};

static void connect_run(struct core *c, void *arg)
{
    struct connect_job *j = arg;
    struct outbound *o = j->o;
    o->rc = c->ops->connect(c->plugin->state, j->address, j->port, j->timeout_ms, j->events, o,
                            &o->conn, o->err, sizeof o->err);
    if (o->rc != 0)
        return;
    if (j->send != NULL) {
        uint8_t buf[128];
        size_t n = frame(buf, j->send, (uint32_t)strlen(j->send));
        if (c->ops->send(o->conn, buf, n) != 0)
            c->violations++;
    }
    if (j->close_at_once)
        c->ops->close(o->conn, 1);
}

static int out_done(struct core *c, void *arg)
{
    struct outbound *o = arg;
    return o->connected_calls > 0 || o->closes > 0;
}

static int out_closed(struct core *c, void *arg)
{
    struct outbound *o = arg;
    return o->closes > 0;
}

static int out_got_reply(struct core *c, void *arg)
{
    struct outbound *o = arg;
    return o->got_len >= 4 + strlen("reply 1.0");
}

static void out_close_run(struct core *c, void *arg)
{
    struct outbound *o = arg;
    c->ops->close(o->conn, 1);
}

static int first_conn_has_frame(struct core *c, void *arg)
{
    return c->nconns > 0 && c->conns[0]->frames > 0;
}

/* A port nothing listens on: bound, then closed. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_connect_queues_until_connected_then_talks_both_ways(void **state)
{
    struct core *c = *state;
    c->replies_per_frame = 1;
    core_start(c);
    int64_t before = metric(c, "tcp_connections");
    struct outbound o = {0};
    /* Sent before the connection is up: waits in the queue. */
    struct connect_job j = {&o, "127.0.0.1", c->port, 2000, &out_events, "hello", 0};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, 0);
    assert_true(run_until(c, out_done, &o, DEADLINE_MS));
    assert_true(run_until(c, first_conn_has_frame, NULL, DEADLINE_MS));
    assert_true(got_equal(c, 0, "hello", 5));
    assert_true(run_until(c, out_got_reply, &o, DEADLINE_MS));
    uint8_t expect[64];
    size_t n = frame(expect, "reply 1.0", 9);
    on_loop(c, noop_run, NULL);
    assert_int_equal(o.connected_calls, 1);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.got_len, n);
    assert_memory_equal(o.got, expect, n);
    /* Both ends are open connections; the outbound one is not a client for
     * the per-IP count but is one for the gauge. */
    assert_int_equal(metric(c, "tcp_connections"), before + 2);
    on_loop(c, out_close_run, &o);
    assert_true(run_until(c, out_closed, &o, DEADLINE_MS));
    struct view *v = view(c);
    assert_int_equal(o.closes, 1);
    assert_int_equal(o.reason, ZKP_CLOSE_LOCAL);
    assert_int_equal(o.data_after_end, 0);
    assert_int_equal(v->nconns, 1);
}

static void test_connect_refused_reports_status_without_on_close(void **state)
{
    struct core *c = *state;
    core_start(c);
    int64_t before = metric(c, "tcp_connections");
    struct outbound o = {0};
    struct connect_job j = {&o, "127.0.0.1", dead_port(), 2000, &out_events, "lost", 0};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, 0);
    assert_true(run_until(c, out_done, &o, DEADLINE_MS));
    sleep_ms(50);
    on_loop(c, noop_run, NULL);
    assert_int_equal(o.connected_calls, 1);
    assert_int_equal(o.status, -ECONNREFUSED);
    assert_int_equal(o.closes, 0);
    assert_int_equal(metric(c, "tcp_connections"), before);
}

static void test_connect_times_out(void **state)
{
    struct core *c = *state;
    core_start(c);
    /* A listener that never accepts, its queue filled by one connection:
     * further SYNs are dropped, so the next connect cannot finish. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    int port = ntohs(sa.sin_port);
    int filler[2];
    for (int i = 0; i < 2; i++) {
        filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(filler[i], (struct sockaddr *)&sa, sizeof sa);
    }
    sleep_ms(50);
    struct outbound o = {0};
    struct connect_job j = {&o, "127.0.0.1", port, 300, &out_events, NULL, 0};
    uint64_t t0 = loop_now_ms();
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, 0);
    assert_true(run_until(c, out_done, &o, DEADLINE_MS));
    uint64_t took = loop_now_ms() - t0;
    assert_int_equal(o.status, -ETIMEDOUT);
    assert_int_equal(o.closes, 0);
    assert_true(took >= 250 && took < 3000);
    for (int i = 0; i < 2; i++)
        close(filler[i]);
    close(lfd);
}

static void test_close_while_connecting_ends_with_on_close(void **state)
{
    struct core *c = *state;
    core_start(c);
    struct outbound o = {0};
    struct connect_job j = {&o, "127.0.0.1", c->port, 2000, &out_events, "never", 1};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, 0);
    assert_true(run_until(c, out_closed, &o, DEADLINE_MS));
    sleep_ms(50);
    on_loop(c, noop_run, NULL);
    assert_int_equal(o.closes, 1);
    assert_int_equal(o.reason, ZKP_CLOSE_LOCAL);
    assert_int_equal(o.connected_calls, 0);
}

static void test_connect_rejects_bad_arguments(void **state)
{
    struct core *c = *state;
    core_start(c);
    struct outbound o = {0};
    struct zkp_transport_events old = out_events;
    old.size = offsetof(struct zkp_transport_events, on_connected); /* an ABI 1.0 table */
    struct connect_job j = {&o, "127.0.0.1", c->port, 0, &old, NULL, 0};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, -EINVAL);
    assert_non_null(strstr(o.err, "incomplete transport events table"));
    j = (struct connect_job){&o, "127.0.0.1", 0, 0, &out_events, NULL, 0};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, -EINVAL);
    assert_string_equal(o.err, "connect to 127.0.0.1:0: need an address and a port 1-65535");
    j = (struct connect_job){&o, "no such host.invalid", 2181, 0, &out_events, NULL, 0};
    on_loop(c, connect_run, &j);
    assert_int_equal(o.rc, -EINVAL);
    assert_non_null(strstr(o.err, "connect to no such host.invalid:2181: cannot resolve address"));
    on_loop(c, noop_run, NULL);
    assert_int_equal(o.connected_calls, 0);
}

/* The host's net_* services route through the transport the core names. */
struct net_job {
    struct outbound *o;
    int port;
    int rc;
    char err[256];
};

static void net_unrouted_run(struct core *c, void *arg)
{
    struct net_job *j = arg;
    plugin_loader_set_transport(NULL);
    const struct zkp_host *h = &c->plugin->host;
    j->rc = h->net_connect(h, "127.0.0.1", j->port, 1000, &out_events, j->o, &j->o->conn, j->err,
                           sizeof j->err);
}

static void net_connect_run(struct core *c, void *arg)
{
    struct net_job *j = arg;
    plugin_loader_set_transport(c->plugin);
    const struct zkp_host *h = &c->plugin->host;
    j->rc = h->net_connect(h, "127.0.0.1", j->port, 1000, &out_events, j->o, &j->o->conn, j->err,
                           sizeof j->err);
    if (j->rc == 0) {
        uint8_t buf[32];
        size_t n = frame(buf, "via host", 8);
        if (h->net_send(h, j->o->conn, buf, n) != 0)
            c->violations++;
    }
}

static void net_close_run(struct core *c, void *arg)
{
    struct net_job *j = arg;
    const struct zkp_host *h = &c->plugin->host;
    h->net_close(h, j->o->conn, 1);
    /* The handle is gone for the caller: sending on it is refused. */
    j->rc = h->net_send(h, j->o->conn, "x", 1);
}

static int first_conn_closed(struct core *c, void *arg)
{
    return c->nconns > 0 && c->conns[0]->closes > 0;
}

static void test_host_net_services_route_through_the_transport(void **state)
{
    struct core *c = *state;
    core_start(c);
    struct outbound o = {0};
    struct net_job j = {&o, c->port, 0, ""};
    on_loop(c, net_unrouted_run, &j);
    assert_int_equal(j.rc, -ENOTSUP);
    assert_non_null(strstr(j.err, "no transport plugin to route through"));

    on_loop(c, net_connect_run, &j);
    assert_int_equal(j.rc, 0);
    assert_true(run_until(c, out_done, &o, DEADLINE_MS));
    assert_int_equal(o.status, 0);
    assert_true(run_until(c, first_conn_has_frame, NULL, DEADLINE_MS));
    assert_true(got_equal(c, 0, "via host", 8));
    on_loop(c, net_close_run, &j);
    assert_int_equal(j.rc, -EPIPE);
    assert_true(run_until(c, first_conn_closed, NULL, DEADLINE_MS));
    sleep_ms(50);
    on_loop(c, noop_run, NULL);
    /* net_close means no callback at all for that conn afterwards. */
    assert_int_equal(o.closes, 0);
    assert_int_equal(o.connected_calls, 1);
    on_loop(c, net_unrouted_run, &j); /* leaves the route unset for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listen_reports_port_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_split_across_single_byte_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_message_grows_buffer_then_frees_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replies_are_batched_into_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_flush_delivers_everything_before_fin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_without_flush_drops_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_ip_limit_rejects_the_next_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_global_limit_rejects_over_max_cnxns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_limit_config_fails_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_close_runs_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_read_stops_and_resumes_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_accept_closes_without_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_connections_hold_no_read_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_closes_everything_silently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_queues_until_connected_then_talks_both_ways,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_reports_status_without_on_close,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_connecting_ends_with_on_close, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_net_services_route_through_the_transport, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
