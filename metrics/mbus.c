/*
 * The metrics bus (see mbus.h).
 *
 * Design notes:
 * - Publishing happens on the loop thread: the interval timer encodes each
 *   bean's attributes, compares them with what was last published and
 *   sends the bean when they differ; bean events are sent from the registry
 *   listener as they happen. PUB sends never block (nng drops for slow
 *   subscribers).
 * - Queries: one receive is outstanding on the REP socket at a time. Its
 *   callback (nng thread) parks the message under the lock and writes the
 *   eventfd; the loop answers and sends the reply with the send aio, whose
 *   callback posts the next receive. A query is therefore answered on the
 *   loop thread, where the beans live.
 * - /metrics: the HTTP handler (nng thread) queues its aio the same way;
 *   the loop renders the registry and finishes the aio.
 * - Closing sets `closing` under the lock first: from then on handlers
 *   answer 503 themselves and receive callbacks drop their message, so no
 *   aio waits on the loop after mbus_close returns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mbus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mbean.h"
#include "mbus_msg.h"
#include "metrics_prom.h"
#include "metrics_zk.h"

struct mbus_http_pending {
    struct mbus_http_pending *next;
    nng_aio *aio;
};

struct mbus {
    bool open;
    loop *loop;
    struct mbus_options opt;
    mbus_refresh_fn refresh;
    void *refresh_arg;
    nng_socket pub, rep;
    bool pub_open, rep_open;
    nng_aio *recv_aio, *send_aio;
    nng_tls_config *tls;
    nng_http_server *http;
    int http_port;
    int wakefd;
    uint64_t timer;
    uint64_t seq, published;
    struct metrics_buf out, attrs, scratch;

    pthread_mutex_t lock;
    bool closing;                             /* lock */
    nng_msg *query;                           /* lock: a received query */
    struct mbus_http_pending *http_head;      /* lock */
};

static struct mbus mbus_state = {.wakefd = -1};

/* ------------------------------------------------------------------ config */

static int mbus_opt_string(const struct zk_config *cfg, const char *key, const char *def, char *out, size_t outlen,
                           char *err, size_t errlen)
{
    const char *v = NULL;
    int rc = config_get_string(cfg, key, def, &v);
    if (rc < 0 || v == NULL)
        v = def;
    if (strlen(v) >= outlen) {
        const struct config_entry *e = config_find(cfg, key);
        snprintf(err, errlen, "%s:%d: key '%s': value longer than %zu bytes", e ? e->file : "zoo.cfg",
                 e ? e->line : 0, key, outlen - 1);
        return -EINVAL;
    }
    snprintf(out, outlen, "%s", v);
    return 0;
}

static int mbus_opt_fail(const struct zk_config *cfg, const char *key, const char *why, char *err, size_t errlen)
{
    const struct config_entry *e = config_find(cfg, key);
    snprintf(err, errlen, "%s:%d: key '%s': %s", e ? e->file : "zoo.cfg", e ? e->line : 0, key, why);
    return -EINVAL;
}

static bool mbus_env_true(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
           strcasecmp(v, "no") != 0;
}

int mbus_options_load(const struct zk_config *cfg, struct mbus_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    int b;
    int64_t n;
    if (config_get_bool(cfg, "metrics.enabled", 1, &b) < 0)
        return mbus_opt_fail(cfg, "metrics.enabled", "expected true or false", err, errlen);
    o->record = b;
    if (config_get_bool(cfg, "metrics.bus.enabled", 1, &b) < 0)
        return mbus_opt_fail(cfg, "metrics.bus.enabled", "expected true or false", err, errlen);
    o->bus = b;
    if (mbus_env_true("METRICSDISABLE"))
        o->record = o->bus = false;
    if (mbus_opt_string(cfg, "metrics.bus.publishAddress", MBUS_DEFAULT_PUBLISH, o->publish_url,
                        sizeof o->publish_url, err, errlen) < 0 ||
        mbus_opt_string(cfg, "metrics.bus.queryAddress", MBUS_DEFAULT_QUERY, o->query_url, sizeof o->query_url,
                        err, errlen) < 0 ||
        mbus_opt_string(cfg, "metrics.bus.tls.certFile", "", o->tls_cert, sizeof o->tls_cert, err, errlen) < 0 ||
        mbus_opt_string(cfg, "metrics.bus.tls.keyFile", "", o->tls_key, sizeof o->tls_key, err, errlen) < 0 ||
        mbus_opt_string(cfg, "metrics.bus.tls.keyPassword", "", o->tls_key_password, sizeof o->tls_key_password,
                        err, errlen) < 0 ||
        mbus_opt_string(cfg, "metrics.bus.tls.caFile", "", o->tls_ca, sizeof o->tls_ca, err, errlen) < 0 ||
        mbus_opt_string(cfg, "metricsProvider.httpHost", "127.0.0.1", o->http_host, sizeof o->http_host, err,
                        errlen) < 0)
        return -EINVAL;
    if (config_get_int(cfg, "metrics.bus.interval", MBUS_DEFAULT_INTERVAL_MS, &n) < 0 || n < 10 || n > 86400000)
        return mbus_opt_fail(cfg, "metrics.bus.interval", "expected milliseconds between 10 and 86400000", err,
                             errlen);
    o->interval_ms = n;
    bool tls_pub = strncmp(o->publish_url, "tls+", 4) == 0, tls_query = strncmp(o->query_url, "tls+", 4) == 0;
    if ((tls_pub || tls_query) && (o->tls_cert[0] == '\0' || o->tls_key[0] == '\0'))
        return mbus_opt_fail(cfg, tls_pub ? "metrics.bus.publishAddress" : "metrics.bus.queryAddress",
                             "a tls+tcp:// address needs metrics.bus.tls.certFile and metrics.bus.tls.keyFile", err,
                             errlen);
    /* ZooKeeper serves /metrics when its Prometheus provider is chosen
     * (port 7000 unless httpPort says otherwise); zkplug also when httpPort
     * alone is given. */
    const char *cls = NULL;
    bool prometheus = config_get_string(cfg, "metricsProvider.className", NULL, &cls) == 0 && cls != NULL &&
                      strstr(cls, "PrometheusMetricsProvider") != NULL;
    int rc = config_get_int(cfg, "metricsProvider.httpPort", prometheus ? MBUS_DEFAULT_PROMETHEUS_PORT : 0, &n);
    if (rc < 0 || n < 0 || n > 65535)
        return mbus_opt_fail(cfg, "metricsProvider.httpPort", "expected a port number", err, errlen);
    if (rc == 0 && n == 0)
        return mbus_opt_fail(cfg, "metricsProvider.httpPort", "expected a port number", err, errlen);
    o->http_port = (int)n;
    return 0;
}

/* ---------------------------------------------------------------- publish */

static void mbus_send(struct mbus *m, const struct metrics_buf *b)
{
    if (!m->pub_open || b->oom || b->len == 0)
        return;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0)
        return;
    if (nng_msg_append(msg, b->data, b->len) != 0 || nng_sendmsg(m->pub, msg, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(msg);
        return;
    }
    m->published++;
}

/* Remember what was published for b; returns whether it changed. */
static bool mbus_remember(struct mbean *b, const struct metrics_buf *attrs)
{
    if (attrs->oom)
        return false;
    if (b->published && b->published_len == attrs->len && memcmp(b->published, attrs->data, attrs->len) == 0)
        return false;
    char *copy = malloc(attrs->len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, attrs->data, attrs->len + 1);
    free(b->published);
    b->published = copy;
    b->published_len = attrs->len;
    return true;
}

static void mbus_on_event(void *arg, const struct mbean_event *ev)
{
    struct mbus *m = arg;
    if (!m->pub_open)
        return;
    if (ev->type == MBEAN_EVENT_REGISTERED) {
        metrics_buf_reset(&m->attrs);
        mbus_encode_attributes(&m->attrs, (struct mbean *)ev->bean, &m->scratch);
        mbus_remember((struct mbean *)ev->bean, &m->attrs);
    }
    metrics_buf_reset(&m->out);
    mbus_encode_event(&m->out, ev, &m->scratch, ++m->seq, loop_wall_ms());
    mbus_send(m, &m->out);
}

void mbus_publish_changes(void)
{
    struct mbus *m = &mbus_state;
    if (!m->open || !m->pub_open)
        return;
    if (m->refresh)
        m->refresh(m->refresh_arg);
    int64_t now = loop_wall_ms();
    for (size_t i = 0; i < mbean_count(); i++) {
        struct mbean *b = mbean_at(i);
        metrics_buf_reset(&m->attrs);
        mbus_encode_attributes(&m->attrs, b, &m->scratch);
        if (!mbus_remember(b, &m->attrs))
            continue;
        metrics_buf_reset(&m->out);
        mbus_encode_update(&m->out, b, m->attrs.data, m->attrs.len, ++m->seq, now);
        mbus_send(m, &m->out);
    }
}

static void mbus_tick(void *arg)
{
    struct mbus *m = arg;
    m->timer = 0;
    if (!m->open)
        return;
    mbus_publish_changes();
    m->timer = loop_timer_start(m->loop, (uint64_t)m->opt.interval_ms, mbus_tick, m);
}

/* ----------------------------------------------------------------- queries */

static void mbus_wake(struct mbus *m)
{
    uint64_t one = 1;
    ssize_t w = write(m->wakefd, &one, sizeof one);
    (void)w;
}

/* nng thread. */
static void mbus_recv_cb(void *arg)
{
    struct mbus *m = arg;
    int rc = nng_aio_result(m->recv_aio);
    if (rc == NNG_ECLOSED || rc == NNG_ECANCELED)
        return;
    pthread_mutex_lock(&m->lock);
    bool closing = m->closing;
    if (rc == 0 && !closing) {
        m->query = nng_aio_get_msg(m->recv_aio);
        nng_aio_set_msg(m->recv_aio, NULL);
    } else if (rc == 0) {
        nng_msg_free(nng_aio_get_msg(m->recv_aio));
        nng_aio_set_msg(m->recv_aio, NULL);
    }
    pthread_mutex_unlock(&m->lock);
    if (closing)
        return;
    if (rc == 0)
        mbus_wake(m);
    else
        nng_recv_aio(m->rep, m->recv_aio); /* a transient error: keep listening */
}

/* nng thread. */
static void mbus_send_cb(void *arg)
{
    struct mbus *m = arg;
    int rc = nng_aio_result(m->send_aio);
    if (rc != 0) {
        nng_msg *msg = nng_aio_get_msg(m->send_aio);
        nng_aio_set_msg(m->send_aio, NULL);
        if (msg)
            nng_msg_free(msg);
    }
    if (rc == NNG_ECLOSED || rc == NNG_ECANCELED)
        return;
    pthread_mutex_lock(&m->lock);
    bool closing = m->closing;
    pthread_mutex_unlock(&m->lock);
    if (!closing)
        nng_recv_aio(m->rep, m->recv_aio);
}

static void mbus_answer(struct mbus *m, nng_msg *req)
{
    if (m->refresh)
        m->refresh(m->refresh_arg);
    mbus_query(nng_msg_body(req), nng_msg_len(req), &m->out);
    nng_msg_free(req);
    nng_msg *reply;
    if (m->out.oom || nng_msg_alloc(&reply, 0) != 0) {
        nng_recv_aio(m->rep, m->recv_aio);
        return;
    }
    if (nng_msg_append(reply, m->out.data, m->out.len) != 0) {
        nng_msg_free(reply);
        nng_recv_aio(m->rep, m->recv_aio);
        return;
    }
    nng_aio_set_msg(m->send_aio, reply);
    nng_send_aio(m->rep, m->send_aio);
}

/* ------------------------------------------------------------- prometheus */

static void mbus_http_reply(nng_aio *aio, uint16_t status, const char *body, size_t len)
{
    nng_http_res *res = NULL;
    int rc = status == 200 ? nng_http_res_alloc(&res) : nng_http_res_alloc_error(&res, status);
    if (rc != 0) {
        nng_aio_finish(aio, rc);
        return;
    }
    if (status == 200) {
        nng_http_res_set_header(res, "Content-Type", METRICS_PROM_CONTENT_TYPE);
        if (nng_http_res_copy_data(res, body, len) != 0) {
            nng_http_res_free(res);
            nng_aio_finish(aio, NNG_ENOMEM);
            return;
        }
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* nng thread. */
static void mbus_http_handle(nng_aio *aio)
{
    struct mbus *m = &mbus_state;
    struct mbus_http_pending *p = malloc(sizeof *p);
    if (p == NULL) {
        mbus_http_reply(aio, 500, NULL, 0);
        return;
    }
    p->aio = aio;
    pthread_mutex_lock(&m->lock);
    if (m->closing) {
        pthread_mutex_unlock(&m->lock);
        free(p);
        mbus_http_reply(aio, 503, NULL, 0);
        return;
    }
    p->next = m->http_head;
    m->http_head = p;
    pthread_mutex_unlock(&m->lock);
    mbus_wake(m);
}

/* Loop thread: answer what nng queued. */
static void mbus_on_wake(void *arg, int fd, unsigned events)
{
    struct mbus *m = arg;
    (void)events;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&m->lock);
    nng_msg *query = m->query;
    m->query = NULL;
    struct mbus_http_pending *list = m->http_head;
    m->http_head = NULL;
    pthread_mutex_unlock(&m->lock);
    if (query)
        mbus_answer(m, query);
    if (list) {
        metrics_buf_reset(&m->out);
        metrics_prom_render(&m->out);
    }
    while (list) {
        struct mbus_http_pending *p = list;
        list = p->next;
        if (m->out.oom)
            mbus_http_reply(p->aio, 500, NULL, 0);
        else
            mbus_http_reply(p->aio, 200, m->out.data, m->out.len);
        free(p);
    }
}

/* ------------------------------------------------------------------- open */

static char *mbus_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct metrics_buf b;
    metrics_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        metrics_buf_append(&b, chunk, n);
    fclose(f);
    if (b.oom || b.data == NULL) {
        snprintf(err, errlen, "%s: empty or unreadable", path);
        metrics_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int mbus_tls_setup(struct mbus *m, char *err, size_t errlen)
{
    int rc = nng_tls_config_alloc(&m->tls, NNG_TLS_MODE_SERVER);
    if (rc != 0) {
        snprintf(err, errlen, "TLS: %s", nng_strerror(rc));
        return -EIO;
    }
    char *cert = mbus_read_file(m->opt.tls_cert, err, errlen);
    char *key = cert ? mbus_read_file(m->opt.tls_key, err, errlen) : NULL;
    if (cert == NULL || key == NULL) {
        free(cert);
        return -EINVAL;
    }
    rc = nng_tls_config_own_cert(m->tls, cert, key, m->opt.tls_key_password[0] ? m->opt.tls_key_password : NULL);
    free(cert);
    free(key);
    if (rc != 0) {
        snprintf(err, errlen, "TLS certificate %s / key %s: %s", m->opt.tls_cert, m->opt.tls_key, nng_strerror(rc));
        return -EINVAL;
    }
    if (m->opt.tls_ca[0]) {
        rc = nng_tls_config_ca_file(m->tls, m->opt.tls_ca);
        if (rc == 0)
            rc = nng_tls_config_auth_mode(m->tls, NNG_TLS_AUTH_MODE_REQUIRED);
        if (rc != 0) {
            snprintf(err, errlen, "TLS CA file %s: %s", m->opt.tls_ca, nng_strerror(rc));
            return -EINVAL;
        }
    } else {
        nng_tls_config_auth_mode(m->tls, NNG_TLS_AUTH_MODE_NONE);
    }
    return 0;
}

static int mbus_listen(struct mbus *m, nng_socket s, const char *url, char *err, size_t errlen)
{
    nng_listener l;
    int rc = nng_listener_create(&l, s, url);
    if (rc == 0 && strncmp(url, "tls+", 4) == 0)
        rc = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, m->tls);
    if (rc == 0)
        rc = nng_listener_start(l, 0);
    if (rc != 0) {
        snprintf(err, errlen, "metrics bus %s: %s", url, nng_strerror(rc));
        return rc == NNG_EADDRINUSE ? -EADDRINUSE : -EIO;
    }
    return 0;
}

static int mbus_http_open(struct mbus *m, char *err, size_t errlen)
{
    const char *host = m->opt.http_host[0] ? m->opt.http_host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    char urlstr[400];
    snprintf(urlstr, sizeof urlstr, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", m->opt.http_port);
    nng_url *url = NULL;
    nng_http_handler *h = NULL;
    int rc = nng_url_parse(&url, urlstr);
    if (rc == 0)
        rc = nng_http_server_hold(&m->http, url);
    if (url)
        nng_url_free(url);
    if (rc == 0)
        rc = nng_http_handler_alloc(&h, "/metrics", mbus_http_handle);
    if (rc == 0)
        rc = nng_http_handler_set_method(h, "GET");
    if (rc == 0) {
        rc = nng_http_server_add_handler(m->http, h);
        if (rc != 0)
            nng_http_handler_free(h);
    }
    if (rc == 0)
        rc = nng_http_server_start(m->http);
    if (rc != 0) {
        snprintf(err, errlen, "metricsProvider.httpPort %s: %s", urlstr, nng_strerror(rc));
        if (m->http)
            nng_http_server_release(m->http);
        m->http = NULL;
        return rc == NNG_EADDRINUSE ? -EADDRINUSE : -EIO;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(m->http, &sa) == 0)
        m->http_port = sa.s_family == NNG_AF_INET6 ? ntohs(sa.s_in6.sa_port) : ntohs(sa.s_in.sa_port);
    else
        m->http_port = m->opt.http_port;
    log_info("Prometheus metrics at http://%s%s%s:%d/metrics", v6 ? "[" : "", host, v6 ? "]" : "", m->http_port);
    return 0;
}

int mbus_open(loop *l, const struct mbus_options *o, mbus_refresh_fn refresh, void *arg, char *err,
              size_t errlen)
{
    struct mbus *m = &mbus_state;
    if (m->open) {
        snprintf(err, errlen, "the metrics bus is already open");
        return -EBUSY;
    }
    memset(m, 0, sizeof *m);
    m->wakefd = -1;
    m->loop = l;
    m->opt = *o;
    m->refresh = refresh;
    m->refresh_arg = arg;
    pthread_mutex_init(&m->lock, NULL);
    metrics_zk_set_enabled(o->record);
    int rc = 0;
    m->open = true; /* from here mbus_close undoes whatever was done */
    if (!o->bus && o->http_port == 0)
        return 0;
    m->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->wakefd < 0 || loop_fd_add(l, m->wakefd, LOOP_READ, mbus_on_wake, m) < 0) {
        snprintf(err, errlen, "metrics bus: cannot create the wake-up descriptor: %s", strerror(errno));
        if (m->wakefd >= 0)
            close(m->wakefd);
        m->wakefd = -1;
        rc = -EIO;
        goto fail;
    }
    if (o->bus) {
        if ((strncmp(o->publish_url, "tls+", 4) == 0 || strncmp(o->query_url, "tls+", 4) == 0) &&
            (rc = mbus_tls_setup(m, err, errlen)) < 0)
            goto fail;
        int nrc = nng_pub0_open(&m->pub);
        if (nrc != 0) {
            snprintf(err, errlen, "metrics bus: %s", nng_strerror(nrc));
            rc = -EIO;
            goto fail;
        }
        m->pub_open = true;
        if ((rc = mbus_listen(m, m->pub, o->publish_url, err, errlen)) < 0)
            goto fail;
        nrc = nng_rep0_open(&m->rep);
        if (nrc == 0) {
            m->rep_open = true;
            nrc = nng_aio_alloc(&m->recv_aio, mbus_recv_cb, m);
        }
        if (nrc == 0)
            nrc = nng_aio_alloc(&m->send_aio, mbus_send_cb, m);
        if (nrc != 0) {
            snprintf(err, errlen, "metrics bus: %s", nng_strerror(nrc));
            rc = -EIO;
            goto fail;
        }
        if ((rc = mbus_listen(m, m->rep, o->query_url, err, errlen)) < 0)
            goto fail;
        nng_recv_aio(m->rep, m->recv_aio);
        mbean_set_listener(mbus_on_event, m);
        m->timer = loop_timer_start(l, (uint64_t)o->interval_ms, mbus_tick, m);
        log_info("metrics bus: publishing on %s every %lld ms, queries on %s", o->publish_url,
                 (long long)o->interval_ms, o->query_url);
    }
    if (o->http_port > 0 && (rc = mbus_http_open(m, err, errlen)) < 0)
        goto fail;
    return 0;
fail:
    mbus_close();
    return rc;
}

bool mbus_is_open(void)
{
    return mbus_state.open;
}

void mbus_close(void)
{
    struct mbus *m = &mbus_state;
    if (!m->open)
        return;
    mbean_set_listener(NULL, NULL);
    pthread_mutex_lock(&m->lock);
    m->closing = true;
    struct mbus_http_pending *list = m->http_head;
    m->http_head = NULL;
    nng_msg *query = m->query;
    m->query = NULL;
    pthread_mutex_unlock(&m->lock);
    while (list) {
        struct mbus_http_pending *p = list;
        list = p->next;
        mbus_http_reply(p->aio, 503, NULL, 0);
        free(p);
    }
    if (query)
        nng_msg_free(query);
    if (m->http) {
        nng_http_server_stop(m->http);
        nng_http_server_release(m->http);
    }
    if (m->timer)
        loop_timer_cancel(m->loop, m->timer);
    if (m->rep_open)
        nng_close(m->rep);
    /* nng_aio_free waits for a running callback to return. */
    if (m->recv_aio)
        nng_aio_free(m->recv_aio);
    if (m->send_aio)
        nng_aio_free(m->send_aio);
    pthread_mutex_lock(&m->lock);
    if (m->query)
        nng_msg_free(m->query);
    m->query = NULL;
    pthread_mutex_unlock(&m->lock);
    if (m->pub_open) {
        /* Let the last events (unregistrations, the state change) leave. */
        if (m->published > 0)
            nng_msleep(100);
        nng_close(m->pub);
    }
    if (m->tls)
        nng_tls_config_free(m->tls);
    if (m->wakefd >= 0) {
        loop_fd_remove(m->loop, m->wakefd);
        close(m->wakefd);
    }
    metrics_buf_free(&m->out);
    metrics_buf_free(&m->attrs);
    metrics_buf_free(&m->scratch);
    pthread_mutex_destroy(&m->lock);
    memset(m, 0, sizeof *m);
    m->wakefd = -1;
}

int mbus_http_port(void)
{
    return mbus_state.http_port;
}

uint64_t mbus_published(void)
{
    return mbus_state.published;
}
