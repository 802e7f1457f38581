/*
 * Plugin loader (see plugin_loader.h): opens DIR/<name>.so, checks the
 * exported descriptor, hands the plugin its struct zkp_host service table and
 * drives init/start/stop/fini.
 *
 * Design notes:
 * - Nothing outside DIR loads: a name containing '/' or ".." is refused
 *   before any file is touched. dlopen runs with RTLD_NOW | RTLD_LOCAL, so an
 *   unresolved symbol fails the load instead of crashing later, and plugins
 *   cannot see each other's symbols. (ELF constructors in the object run
 *   inside dlopen; zkplug plugins have none, and no plugin function is called
 *   before the descriptor passed every check.)
 * - The descriptor is checked in a fixed order, each check with its own
 *   message: the symbol is a data object large enough for the header fields,
 *   magic, ABI major, declared size, kind, name, lifecycle functions, ops
 *   table size, mandatory ops. Only then is init called.
 * - struct plugin_instance is embedded first in a private struct
 *   plugin_loaded; every host service recovers it from the `const struct
 *   zkp_host *` it receives with container_of (the host table is embedded in
 *   the instance, so it lives exactly as long as the plugin may use it).
 * - What a plugin leaves behind cannot call into unloaded code:
 *     posts      are wrapped in a record carrying a generation number; the
 *                generation moves on when the plugin is stopped, so a post
 *                still queued then is dropped instead of run (a plugin that
 *                posts allocated arguments keeps track of them and frees them
 *                in fini);
 *     timers     are tracked per instance and cancelled at unload;
 *     hooks      (before_sleep) go through a trampoline whose entry lives in
 *                a process-wide list and is disarmed at unload, because the
 *                loop has no way to remove a hook;
 *     metrics    registered by the plugin are unregistered before fini, since
 *                their values live in plugin memory.
 *   fd watches are the plugin's own business: it unwatches in stop.
 * - Network services (net_listen, net_connect, net_send, net_close, ABI 1.1)
 *   go through one routed transport (plugin_loader_set_transport). Each
 *   listener and connection opened through them gets a struct plugin_net
 *   record that the transport sees as its context; the record forwards
 *   events to the plugin while it is armed. net_close, net_unlisten and
 *   plugin_stop disarm records, so nothing reaches a plugin after it closed a
 *   handle or was stopped; a disarmed connection record lives on until the
 *   transport's on_close (or failed on_connected) frees it, and records left
 *   when the routed transport is unloaded are freed with it.
 * - Threads: everything here runs on the loop thread except the post service
 *   (plugin_host_post), which any plugin thread may call; it touches only the
 *   instance's refcounted token, whose fields are atomic.
 * - Sanitizer builds skip dlclose so leak and error reports keep the
 *   plugin's symbol names.
 *
 * Entry points: plugin_load (or plugin_load_descriptor), plugin_start,
 * plugin_stop, plugin_unload.
 */
#define _GNU_SOURCE /* dladdr1, asprintf */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "registry.h"

#if defined(__SANITIZE_ADDRESS__)
#define PLUGIN_SKIP_DLCLOSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLUGIN_SKIP_DLCLOSE 1
#endif
#endif
#ifndef PLUGIN_SKIP_DLCLOSE
#define PLUGIN_SKIP_DLCLOSE 0
#endif

_Static_assert(ZKP_EV_READ == LOOP_READ && ZKP_EV_WRITE == LOOP_WRITE && ZKP_EV_ERROR == LOOP_ERROR,
               "plugin fd events must equal loop events");

/* The descriptor fields the core reads: everything up to and including ops. */
#define PLUGIN_DESC_MIN_SIZE (offsetof(struct zkp_plugin, ops) + sizeof(const void *))
/* magic, abi_major, abi_minor, size: readable in any descriptor version. */
#define PLUGIN_DESC_HEADER_SIZE (offsetof(struct zkp_plugin, size) + sizeof(uint32_t))

#define PLUGIN_ERRLEN 256

/* ------------------------------------------------------------------------- */
/* Private instance state                                                     */

/* Shared between the instance and its queued posts; freed by the last one. */
struct plugin_token {
    atomic_uint refs;
    atomic_uint generation;
};

struct plugin_post {
    struct plugin_token *token;
    unsigned generation;
    zkp_post_cb cb;
    void *arg;
};

struct plugin_timer {
    struct plugin_timer *prev, *next;
    struct plugin_loaded *owner;
    uint64_t id;
    zkp_timer_cb cb;
    void *arg;
};

/* Process-wide: the loop keeps calling plugin_hook_run(entry) after unload. */
struct plugin_hook {
    struct plugin_hook *next;
    struct plugin_loaded *owner; /* NULL once disarmed */
    zkp_post_cb cb;
    void *arg;
};

struct plugin_metric_name {
    struct plugin_metric_name *next;
    char name[];
};

struct plugin_loaded {
    struct plugin_instance pub; /* first: plugin_instance * converts both ways */
    const char *label;          /* name used as log origin */
    struct plugin_token *token;
    struct plugin_timer *timers;
    struct plugin_metric_name *metrics;
};

static struct plugin_hook *plugin_hooks; /* loop thread only */

/* A listener or connection a plugin opened through the net_* services. */
struct plugin_net {
    struct plugin_net *prev, *next;     /* plugin_nets */
    struct plugin_loaded *owner;        /* NULL once disarmed: events dropped */
    struct plugin_instance *transport;  /* the transport that carries it */
    struct zkp_transport_events events; /* the plugin's callbacks */
    void *arg;                          /* the plugin's ctx or listen arg */
    zkp_conn *conn;                     /* set for a connection */
    zkp_listener *listener;             /* set for a listener */
};

static struct plugin_net *plugin_nets;             /* loop thread only */
static struct plugin_instance *plugin_net_transport; /* routed transport */

#define plugin_from_host(h)                                                                        \
    ((struct plugin_loaded *)(void *)((char *)(uintptr_t)(h) -                                     \
                                      offsetof(struct plugin_loaded, pub.host)))

const char *plugin_kind_name(enum zkp_kind kind)
{
    switch (kind) {
    case ZKP_KIND_ELECTION: return "election";
    case ZKP_KIND_TRANSPORT: return "transport";
    case ZKP_KIND_STORAGE: return "storage";
    }
    return NULL;
}

static const char *plugin_kind_article(const char *kind_name)
{
    return kind_name[0] == 'e' ? "an" : "a";
}

static void plugin_token_unref(struct plugin_token *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

/* ------------------------------------------------------------------------- */
/* Host services                                                              */

__attribute__((format(printf, 3, 4))) static void
plugin_host_log(const struct zkp_host *host, enum zkp_log_level level, const char *fmt, ...)
{
    struct plugin_loaded *p = plugin_from_host(host);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, p->label, fmt, ap);
    va_end(ap);
}

static int plugin_host_config_string(const struct zkp_host *host, const char *key, const char *def,
                                     const char **out)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    if (cfg == NULL) {
        *out = def;
        return 1;
    }
    return config_get_string(cfg, key, def, out);
}

static int plugin_host_config_int(const struct zkp_host *host, const char *key, int64_t def,
                                  int64_t *out)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    if (cfg == NULL) {
        *out = def;
        return 1;
    }
    return config_get_int(cfg, key, def, out);
}

static int plugin_host_config_bool(const struct zkp_host *host, const char *key, int def, int *out)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    if (cfg == NULL) {
        *out = def;
        return 1;
    }
    return config_get_bool(cfg, key, def, out);
}

static int plugin_host_fd_watch(const struct zkp_host *host, int fd, unsigned events, zkp_fd_cb cb,
                                void *arg)
{
    return loop_fd_add(plugin_from_host(host)->pub.loop, fd, events, cb, arg);
}

static int plugin_host_fd_modify(const struct zkp_host *host, int fd, unsigned events)
{
    return loop_fd_modify(plugin_from_host(host)->pub.loop, fd, events);
}

static void plugin_host_fd_unwatch(const struct zkp_host *host, int fd)
{
    loop_fd_remove(plugin_from_host(host)->pub.loop, fd);
}

static void plugin_timer_unlink(struct plugin_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        t->owner->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void plugin_timer_fire(void *arg)
{
    struct plugin_timer *t = arg;
    zkp_timer_cb cb = t->cb;
    void *cb_arg = t->arg;
    /* Freed first: the callback may start or cancel timers. */
    plugin_timer_unlink(t);
    free(t);
    cb(cb_arg);
}

static uint64_t plugin_host_timer_start(const struct zkp_host *host, uint64_t ms, zkp_timer_cb cb,
                                        void *arg)
{
    struct plugin_loaded *p = plugin_from_host(host);
    if (cb == NULL)
        return 0;
    struct plugin_timer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return 0;
    t->owner = p;
    t->cb = cb;
    t->arg = arg;
    t->id = loop_timer_start(p->pub.loop, ms, plugin_timer_fire, t);
    if (t->id == 0) {
        free(t);
        return 0;
    }
    t->next = p->timers;
    if (p->timers)
        p->timers->prev = t;
    p->timers = t;
    return t->id;
}

static void plugin_host_timer_cancel(const struct zkp_host *host, uint64_t id)
{
    struct plugin_loaded *p = plugin_from_host(host);
    for (struct plugin_timer *t = p->timers; t != NULL; t = t->next) {
        if (t->id == id) {
            loop_timer_cancel(p->pub.loop, id);
            plugin_timer_unlink(t);
            free(t);
            return;
        }
    }
}

static void plugin_post_run(void *arg)
{
    struct plugin_post *post = arg;
    if (atomic_load(&post->token->generation) == post->generation)
        post->cb(post->arg);
    plugin_token_unref(post->token);
    free(post);
}

/* Thread-safe: reads only the token and the loop pointer (set before init). */
static int plugin_host_post(const struct zkp_host *host, zkp_post_cb cb, void *arg)
{
    struct plugin_loaded *p = plugin_from_host(host);
    if (cb == NULL)
        return -EINVAL;
    struct plugin_post *post = malloc(sizeof *post);
    if (post == NULL)
        return -ENOMEM;
    post->token = p->token;
    post->generation = atomic_load(&p->token->generation);
    post->cb = cb;
    post->arg = arg;
    atomic_fetch_add(&p->token->refs, 1);
    int rc = loop_post(p->pub.loop, plugin_post_run, post);
    if (rc < 0) {
        plugin_token_unref(p->token);
        free(post);
    }
    return rc;
}

static void plugin_hook_run(void *arg)
{
    struct plugin_hook *h = arg;
    if (h->owner != NULL)
        h->cb(h->arg);
}

static int plugin_host_before_sleep(const struct zkp_host *host, zkp_post_cb cb, void *arg)
{
    struct plugin_loaded *p = plugin_from_host(host);
    if (cb == NULL)
        return -EINVAL;
    struct plugin_hook *h = malloc(sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    *h = (struct plugin_hook){.owner = p, .cb = cb, .arg = arg};
    int rc = loop_before_sleep(p->pub.loop, plugin_hook_run, h);
    if (rc < 0) {
        free(h);
        return rc;
    }
    h->next = plugin_hooks;
    plugin_hooks = h;
    return 0;
}

static int plugin_host_metric_register(const struct zkp_host *host, const char *name,
                                       enum zkp_metric_type type, const int64_t *value)
{
    struct plugin_loaded *p = plugin_from_host(host);
    if (name == NULL || value == NULL ||
        (type != ZKP_METRIC_COUNTER && type != ZKP_METRIC_GAUGE))
        return -EINVAL;
    size_t len = strlen(name);
    struct plugin_metric_name *m = malloc(sizeof *m + len + 1);
    if (m == NULL)
        return -ENOMEM;
    memcpy(m->name, name, len + 1);
    int rc = metrics_register(name, type, value);
    if (rc < 0) {
        free(m);
        return rc;
    }
    m->next = p->metrics;
    p->metrics = m;
    return 0;
}

static uint64_t plugin_host_now_ms(const struct zkp_host *host) { return loop_now_ms(); }
static uint64_t plugin_host_now_ns(const struct zkp_host *host) { return loop_now_ns(); }

/* ------------------------------------------------------------------------- */
/* Network services through the routed transport (ABI 1.1)                   */

static const struct zkp_transport_ops *plugin_net_ops(struct plugin_instance *t)
{
    return t ? t->desc->ops : NULL;
}

static struct plugin_net *plugin_net_new(struct plugin_loaded *owner,
                                         const struct zkp_transport_events *events, void *arg)
{
    struct plugin_net *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->owner = owner;
    n->transport = plugin_net_transport;
    if (events != NULL)
        memcpy(&n->events, events,
               events->size < sizeof n->events ? events->size : sizeof n->events);
    n->events.size = sizeof n->events;
    n->arg = arg;
    n->next = plugin_nets;
    if (plugin_nets)
        plugin_nets->prev = n;
    plugin_nets = n;
    return n;
}

static void plugin_net_free(struct plugin_net *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        plugin_nets = n->next;
    if (n->next)
        n->next->prev = n->prev;
    free(n);
}

static size_t plugin_net_on_data(void *ctx, const uint8_t *data, size_t len, size_t *need)
{
    struct plugin_net *n = ctx;
    if (n->owner == NULL)
        return len; /* closed by the plugin: discard */
    return n->events.on_data(n->arg, data, len, need);
}

static void plugin_net_on_close(void *ctx, enum zkp_close_reason reason)
{
    struct plugin_net *n = ctx;
    if (n->owner != NULL)
        n->events.on_close(n->arg, reason);
    plugin_net_free(n);
}

static void plugin_net_on_connected(void *ctx, int status)
{
    struct plugin_net *n = ctx;
    struct plugin_loaded *owner = n->owner;
    if (status < 0) {
        /* No on_close follows a failed connect. */
        void *arg = n->arg;
        void (*cb)(void *, int) = n->events.on_connected;
        plugin_net_free(n);
        if (owner != NULL)
            cb(arg, status);
        return;
    }
    if (owner != NULL)
        n->events.on_connected(n->arg, status);
}

static void *plugin_net_on_accept(void *core_arg, zkp_conn *conn, const char *ip, int port)
{
    struct plugin_net *l = core_arg;
    if (l->owner == NULL)
        return NULL;
    struct plugin_net *n = plugin_net_new(l->owner, &l->events, NULL);
    if (n == NULL)
        return NULL;
    n->transport = l->transport;
    n->conn = conn;
    void *ctx = l->events.on_accept(l->arg, conn, ip, port);
    if (ctx == NULL || n->owner == NULL) {
        plugin_net_free(n);
        return NULL;
    }
    n->arg = ctx;
    return n;
}

static const struct zkp_transport_events plugin_net_events = {
    .size = sizeof(struct zkp_transport_events),
    .on_accept = plugin_net_on_accept,
    .on_data = plugin_net_on_data,
    .on_close = plugin_net_on_close,
    .on_connected = plugin_net_on_connected,
};

static int plugin_host_net_listen(const struct zkp_host *host, const char *address, int port,
                                  int backlog, const struct zkp_transport_events *events,
                                  void *arg, zkp_listener **out, char *err, size_t errlen)
{
    struct plugin_loaded *p = plugin_from_host(host);
    const struct zkp_transport_ops *ops = plugin_net_ops(plugin_net_transport);
    *out = NULL;
    if (ops == NULL) {
        snprintf(err, errlen, "listen on %s:%d: no transport plugin to route through",
                 address ? address : "", port);
        return -ENOTSUP;
    }
    if (events == NULL ||
        events->size < offsetof(struct zkp_transport_events, on_close) + sizeof events->on_close ||
        events->on_accept == NULL || events->on_data == NULL || events->on_close == NULL) {
        snprintf(err, errlen, "listen on %s:%d: incomplete transport events table",
                 address ? address : "", port);
        return -EINVAL;
    }
    struct plugin_net *n = plugin_net_new(p, events, arg);
    if (n == NULL) {
        snprintf(err, errlen, "listen on %s:%d: out of memory", address ? address : "", port);
        return -ENOMEM;
    }
    int rc = ops->listen(plugin_net_transport->state, address, port, backlog, &plugin_net_events,
                         n, &n->listener, err, errlen);
    if (rc < 0) {
        plugin_net_free(n);
        return rc;
    }
    *out = n->listener;
    return 0;
}

static struct plugin_net *plugin_net_find(struct plugin_loaded *p, const void *conn,
                                          const void *listener)
{
    for (struct plugin_net *n = plugin_nets; n != NULL; n = n->next)
        if (n->owner == p && ((conn && n->conn == conn) || (listener && n->listener == listener)))
            return n;
    return NULL;
}

static void plugin_host_net_unlisten(const struct zkp_host *host, zkp_listener *listener)
{
    struct plugin_net *n = plugin_net_find(plugin_from_host(host), NULL, listener);
    if (n == NULL)
        return;
    plugin_net_ops(n->transport)->unlisten(n->transport->state, listener);
    plugin_net_free(n);
}

static int plugin_host_net_connect(const struct zkp_host *host, const char *address, int port,
                                   int timeout_ms, const struct zkp_transport_events *events,
                                   void *ctx, zkp_conn **out, char *err, size_t errlen)
{
    struct plugin_loaded *p = plugin_from_host(host);
    const struct zkp_transport_ops *ops = plugin_net_ops(plugin_net_transport);
    *out = NULL;
    if (ops == NULL || ops->size < offsetof(struct zkp_transport_ops, connect) + sizeof ops->connect ||
        ops->connect == NULL) {
        snprintf(err, errlen, "connect to %s:%d: %s", address ? address : "", port,
                 ops ? "the transport plugin cannot connect out (ABI 1.0)"
                     : "no transport plugin to route through");
        return -ENOTSUP;
    }
    if (events == NULL ||
        events->size < offsetof(struct zkp_transport_events, on_connected) +
                           sizeof events->on_connected ||
        events->on_data == NULL || events->on_close == NULL || events->on_connected == NULL) {
        snprintf(err, errlen, "connect to %s:%d: incomplete transport events table",
                 address ? address : "", port);
        return -EINVAL;
    }
    struct plugin_net *n = plugin_net_new(p, events, ctx);
    if (n == NULL) {
        snprintf(err, errlen, "connect to %s:%d: out of memory", address ? address : "", port);
        return -ENOMEM;
    }
    int rc = ops->connect(plugin_net_transport->state, address, port, timeout_ms,
                          &plugin_net_events, n, &n->conn, err, errlen);
    if (rc < 0) {
        plugin_net_free(n);
        return rc;
    }
    *out = n->conn;
    return 0;
}

static int plugin_host_net_send(const struct zkp_host *host, zkp_conn *conn, const void *data,
                                size_t len)
{
    struct plugin_net *n = plugin_net_find(plugin_from_host(host), conn, NULL);
    if (n == NULL)
        return -EPIPE;
    return plugin_net_ops(n->transport)->send(conn, data, len);
}

static void plugin_host_net_close(const struct zkp_host *host, zkp_conn *conn, int flush)
{
    struct plugin_net *n = plugin_net_find(plugin_from_host(host), conn, NULL);
    if (n == NULL)
        return;
    n->owner = NULL; /* freed by the transport's on_close */
    plugin_net_ops(n->transport)->close(conn, flush);
}

/* Closes every listener and connection p opened; no event reaches p after. */
static void plugin_net_disarm(struct plugin_loaded *p)
{
    struct plugin_net *n = plugin_nets;
    while (n != NULL) {
        struct plugin_net *next = n->next;
        if (n->owner == p) {
            n->owner = NULL;
            if (n->listener != NULL) {
                plugin_net_ops(n->transport)->unlisten(n->transport->state, n->listener);
                plugin_net_free(n);
            } else {
                plugin_net_ops(n->transport)->close(n->conn, 0);
            }
        }
        n = next;
    }
}

/* The routed transport is going away: it calls nothing back any more. */
static void plugin_net_forget_transport(struct plugin_instance *t)
{
    struct plugin_net *n = plugin_nets;
    while (n != NULL) {
        struct plugin_net *next = n->next;
        if (n->transport == t)
            plugin_net_free(n);
        n = next;
    }
    if (plugin_net_transport == t)
        plugin_net_transport = NULL;
}

void plugin_loader_set_transport(struct plugin_instance *transport)
{
    plugin_net_transport = transport;
}

/* ------------------------------------------------------------------------- */
/* Ensemble services (ABI 1.1)                                                */

static int64_t plugin_host_my_id(const struct zkp_host *host)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    return cfg ? cfg->myid : 0;
}

static int plugin_host_server_get(const struct zkp_host *host, size_t index,
                                  struct zkp_server *out)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    if (cfg == NULL || index >= cfg->nservers || out == NULL)
        return -ENOENT;
    const struct config_server *cs = &cfg->servers[index];
    struct zkp_server s = {
        .size = sizeof s,
        .id = cs->id,
        .host = cs->host,
        .quorum_port = cs->quorum_port,
        .election_port = cs->election_port,
        .observer = cs->type == CONFIG_OBSERVER,
        .client_host = cs->client_host,
        .client_port = cs->client_port,
    };
    uint32_t size = out->size < sizeof s ? out->size : (uint32_t)sizeof s;
    memcpy(out, &s, size);
    out->size = size;
    return 0;
}

static int plugin_host_config_entry(const struct zkp_host *host, const char *prefix, size_t index,
                                    const char **key, const char **value)
{
    const struct zk_config *cfg = plugin_from_host(host)->pub.config;
    size_t plen = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; cfg != NULL && i < cfg->nentries; i++) {
        if (plen > 0 && strncmp(cfg->entries[i].key, prefix, plen) != 0)
            continue;
        if (index-- == 0) {
            *key = cfg->entries[i].key;
            *value = cfg->entries[i].value;
            return 0;
        }
    }
    return 1;
}

static const struct zkp_host plugin_host_template = {
    .size = sizeof(struct zkp_host),
    .abi_major = ZKP_ABI_MAJOR,
    .log = plugin_host_log,
    .config_string = plugin_host_config_string,
    .config_int = plugin_host_config_int,
    .config_bool = plugin_host_config_bool,
    .fd_watch = plugin_host_fd_watch,
    .fd_modify = plugin_host_fd_modify,
    .fd_unwatch = plugin_host_fd_unwatch,
    .timer_start = plugin_host_timer_start,
    .timer_cancel = plugin_host_timer_cancel,
    .post = plugin_host_post,
    .before_sleep = plugin_host_before_sleep,
    .metric_register = plugin_host_metric_register,
    .now_ms = plugin_host_now_ms,
    .now_ns = plugin_host_now_ns,
    .core = NULL,
    .net_listen = plugin_host_net_listen,
    .net_unlisten = plugin_host_net_unlisten,
    .net_connect = plugin_host_net_connect,
    .net_send = plugin_host_net_send,
    .net_close = plugin_host_net_close,
    .my_id = plugin_host_my_id,
    .server_get = plugin_host_server_get,
    .config_entry = plugin_host_config_entry,
};

/* ------------------------------------------------------------------------- */
/* Descriptor validation                                                      */

struct plugin_op_check {
    const char *name;
    size_t offset;
};

#define PLUGIN_OP(type, member) {#member, offsetof(struct type, member)}

static const struct plugin_op_check plugin_transport_ops[] = {
    PLUGIN_OP(zkp_transport_ops, listen), PLUGIN_OP(zkp_transport_ops, listener_port),
    PLUGIN_OP(zkp_transport_ops, unlisten), PLUGIN_OP(zkp_transport_ops, send),
    PLUGIN_OP(zkp_transport_ops, close), PLUGIN_OP(zkp_transport_ops, pause_read),
    PLUGIN_OP(zkp_transport_ops, pending),
};

static const struct plugin_op_check plugin_storage_ops[] = {
    PLUGIN_OP(zkp_storage_ops, restore),         PLUGIN_OP(zkp_storage_ops, append),
    PLUGIN_OP(zkp_storage_ops, sync),            PLUGIN_OP(zkp_storage_ops, snapshot_open),
    PLUGIN_OP(zkp_storage_ops, snapshot_write),  PLUGIN_OP(zkp_storage_ops, snapshot_commit),
    PLUGIN_OP(zkp_storage_ops, snapshot_abort),  PLUGIN_OP(zkp_storage_ops, truncate),
    PLUGIN_OP(zkp_storage_ops, purge),           PLUGIN_OP(zkp_storage_ops, read_log),
};

static const struct plugin_op_check plugin_election_ops[] = {
    PLUGIN_OP(zkp_election_ops, look_for_leader),
    PLUGIN_OP(zkp_election_ops, cancel),
    PLUGIN_OP(zkp_election_ops, set_current_vote),
};

#define PLUGIN_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int plugin_fail(char *err, size_t errlen, int rc, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int plugin_fail(char *err, size_t errlen, int rc, const char *origin, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        int n = snprintf(err, errlen, "%s: ", origin);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

/*
 * Checks everything about desc the core relies on. name is the expected
 * plugin name (NULL: no file name to compare with). Calls no plugin code.
 */
static int plugin_validate(const struct zkp_plugin *desc, const char *origin, const char *name,
                           enum zkp_kind kind, char *err, size_t errlen)
{
    if (desc->magic != ZKP_ABI_MAGIC)
        return plugin_fail(err, errlen, -ENOEXEC, origin, "bad magic 0x%08x (not a zkplug plugin)",
                           desc->magic);
    if (desc->abi_major != ZKP_ABI_MAJOR)
        return plugin_fail(err, errlen, -ENOTSUP, origin,
                           "built for plugin ABI %u, this server speaks ABI %d",
                           (unsigned)desc->abi_major, ZKP_ABI_MAJOR);
    if (desc->size < PLUGIN_DESC_MIN_SIZE)
        return plugin_fail(err, errlen, -ENOEXEC, origin,
                           "descriptor declares %u bytes, at least %zu needed", desc->size,
                           PLUGIN_DESC_MIN_SIZE);
    const char *have = plugin_kind_name((enum zkp_kind)desc->kind);
    if (have == NULL)
        return plugin_fail(err, errlen, -EINVAL, origin, "unknown plugin kind %u", desc->kind);
    if (desc->kind != (uint32_t)kind)
        return plugin_fail(err, errlen, -EINVAL, origin, "is %s %s plugin, %s %s plugin is needed",
                           plugin_kind_article(have), have, plugin_kind_article(plugin_kind_name(kind)),
                           plugin_kind_name(kind));
    if (desc->name == NULL || desc->name[0] == '\0')
        return plugin_fail(err, errlen, -EINVAL, origin, "descriptor has no plugin name");
    if (name != NULL && strcmp(desc->name, name) != 0)
        return plugin_fail(err, errlen, -EINVAL, origin,
                           "descriptor names plugin '%s', the file name says '%s'", desc->name,
                           name);
    const char *missing = desc->init == NULL    ? "init"
                          : desc->start == NULL ? "start"
                          : desc->stop == NULL  ? "stop"
                          : desc->fini == NULL  ? "fini"
                          : desc->ops == NULL   ? "ops"
                                                : NULL;
    if (missing != NULL)
        return plugin_fail(err, errlen, -ENOEXEC, origin, "descriptor lacks %s", missing);

    const struct plugin_op_check *ops;
    size_t nops;
    switch (kind) {
    case ZKP_KIND_TRANSPORT:
        ops = plugin_transport_ops;
        nops = PLUGIN_NELEMS(plugin_transport_ops);
        break;
    case ZKP_KIND_STORAGE:
        ops = plugin_storage_ops;
        nops = PLUGIN_NELEMS(plugin_storage_ops);
        break;
    default:
        ops = plugin_election_ops;
        nops = PLUGIN_NELEMS(plugin_election_ops);
        break;
    }
    size_t need = ops[nops - 1].offset + sizeof(void (*)(void));
    uint32_t ops_size;
    memcpy(&ops_size, desc->ops, sizeof ops_size);
    if (ops_size < need)
        return plugin_fail(err, errlen, -ENOEXEC, origin,
                           "%s ops table declares %u bytes, at least %zu needed (lacks %s)", have,
                           ops_size, need, ops[nops - 1].name);
    for (size_t i = 0; i < nops; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)desc->ops + ops[i].offset, sizeof fn);
        if (fn == NULL)
            return plugin_fail(err, errlen, -ENOEXEC, origin, "%s ops table lacks %s", have,
                               ops[i].name);
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                  */

static void plugin_release(struct plugin_loaded *p)
{
    /* Disarm everything that could still call into the plugin. */
    atomic_fetch_add(&p->token->generation, 1);
    for (struct plugin_hook *h = plugin_hooks; h != NULL; h = h->next)
        if (h->owner == p)
            h->owner = NULL;
    while (p->timers != NULL) {
        struct plugin_timer *t = p->timers;
        loop_timer_cancel(p->pub.loop, t->id);
        plugin_timer_unlink(t);
        free(t);
    }
    while (p->metrics != NULL) {
        struct plugin_metric_name *m = p->metrics;
        p->metrics = m->next;
        metrics_unregister(m->name);
        free(m);
    }
}

static void plugin_free(struct plugin_loaded *p)
{
    if (p == NULL)
        return;
    if (p->pub.handle != NULL && !PLUGIN_SKIP_DLCLOSE)
        dlclose(p->pub.handle);
    if (p->token != NULL)
        plugin_token_unref(p->token);
    free(p->pub.path);
    free(p);
}

/* Validates desc, builds the host table and calls init. On failure frees p
 * (and its dlopen handle). */
static int plugin_setup(struct plugin_loaded *p, const char *name, enum zkp_kind kind, char *err,
                        size_t errlen)
{
    const struct zkp_plugin *desc = p->pub.desc;
    int rc = plugin_validate(desc, p->pub.path, name, kind, err, errlen);
    if (rc < 0)
        goto fail;
    p->label = desc->name;
    p->pub.host = plugin_host_template;
    p->token = calloc(1, sizeof *p->token);
    if (p->token == NULL) {
        rc = plugin_fail(err, errlen, -ENOMEM, p->pub.path, "out of memory");
        goto fail;
    }
    atomic_init(&p->token->refs, 1);
    atomic_init(&p->token->generation, 0);

    char perr[PLUGIN_ERRLEN] = "";
    rc = desc->init(&p->pub.host, &p->pub.state, perr, sizeof perr);
    if (rc != 0) {
        if (rc > 0)
            rc = -EIO;
        perr[sizeof perr - 1] = '\0';
        /* A failed init leaves nothing behind that may call it again. */
        plugin_release(p);
        plugin_fail(err, errlen, rc, p->pub.path, "init failed: %s",
                    perr[0] ? perr : strerror(-rc));
        goto fail;
    }
    p->pub.initialized = 1;
    return 0;
fail:
    plugin_free(p);
    return rc;
}

static struct plugin_loaded *plugin_alloc(const char *path, loop *l, const struct zk_config *cfg)
{
    struct plugin_loaded *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->pub.path = strdup(path);
    if (p->pub.path == NULL) {
        free(p);
        return NULL;
    }
    p->pub.loop = l;
    p->pub.config = cfg;
    return p;
}

static int plugin_name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && strchr(name, '/') == NULL &&
           strstr(name, "..") == NULL;
}

int plugin_load(const char *dir, const char *name, enum zkp_kind kind, loop *l,
                const struct zk_config *cfg, struct plugin_instance **out, char *err, size_t errlen)
{
    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        dir = ".";
    if (plugin_kind_name(kind) == NULL)
        return plugin_fail(err, errlen, -EINVAL, dir, "unknown plugin kind %d requested", (int)kind);
    if (!plugin_name_ok(name))
        return plugin_fail(err, errlen, -EINVAL, dir,
                           "invalid %s plugin name '%s': must be a plain file name (no '/' or '..')",
                           plugin_kind_name(kind), name ? name : "(null)");

    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    char *path = NULL;
    if (asprintf(&path, "%.*s/%s.so", (int)dlen, dir, name) < 0)
        return plugin_fail(err, errlen, -ENOMEM, dir, "out of memory");

    int rc;
    struct stat stbuf;
    if (stat(path, &stbuf) != 0) {
        rc = -errno;
        if (rc == -ENOENT)
            plugin_fail(err, errlen, rc, path, "no such plugin file");
        else
            plugin_fail(err, errlen, rc, path, "cannot access plugin file: %s", strerror(-rc));
        goto fail;
    }
    if (!S_ISREG(stbuf.st_mode)) {
        rc = plugin_fail(err, errlen, -ENOEXEC, path, "not a regular file");
        goto fail;
    }

    struct plugin_loaded *p = plugin_alloc(path, l, cfg);
    if (p == NULL) {
        rc = plugin_fail(err, errlen, -ENOMEM, path, "out of memory");
        goto fail;
    }
    dlerror();
    p->pub.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->pub.handle == NULL) {
        const char *why = dlerror();
        rc = plugin_fail(err, errlen, -ENOEXEC, path, "not a loadable object: %s",
                         why ? why : "unknown dlopen error");
        plugin_free(p);
        goto fail;
    }
    dlerror();
    const void *sym = dlsym(p->pub.handle, ZKP_DESCRIPTOR_SYMBOL);
    if (sym == NULL) {
        rc = plugin_fail(err, errlen, -ENOEXEC, path, "no %s symbol", ZKP_DESCRIPTOR_SYMBOL);
        plugin_free(p);
        goto fail;
    }
    /* Before reading through sym, make sure it is data and big enough. */
    Dl_info info;
    const ElfW(Sym) *esym = NULL;
    if (dladdr1(sym, &info, (void **)&esym, RTLD_DL_SYMENT) != 0 && esym != NULL) {
        if (ELF64_ST_TYPE(esym->st_info) != STT_OBJECT) {
            rc = plugin_fail(err, errlen, -ENOEXEC, path, "%s is not a data object",
                             ZKP_DESCRIPTOR_SYMBOL);
            plugin_free(p);
            goto fail;
        }
        if (esym->st_size < PLUGIN_DESC_HEADER_SIZE) {
            rc = plugin_fail(err, errlen, -ENOEXEC, path,
                             "%s is %zu bytes, too small for a plugin descriptor",
                             ZKP_DESCRIPTOR_SYMBOL, (size_t)esym->st_size);
            plugin_free(p);
            goto fail;
        }
    }
    p->pub.desc = sym;
    rc = plugin_setup(p, name, kind, err, errlen);
    if (rc < 0)
        goto fail;
    free(path);
    *out = &p->pub;
    return 0;
fail:
    free(path);
    return rc;
}

int plugin_load_descriptor(const struct zkp_plugin *desc, const char *origin, enum zkp_kind kind,
                           loop *l, const struct zk_config *cfg, struct plugin_instance **out,
                           char *err, size_t errlen)
{
    *out = NULL;
    if (origin == NULL)
        origin = desc && desc->magic == ZKP_ABI_MAGIC && desc->name ? desc->name : "built-in";
    if (desc == NULL)
        return plugin_fail(err, errlen, -EINVAL, origin, "no descriptor");
    if (plugin_kind_name(kind) == NULL)
        return plugin_fail(err, errlen, -EINVAL, origin, "unknown plugin kind %d requested",
                           (int)kind);
    struct plugin_loaded *p = plugin_alloc(origin, l, cfg);
    if (p == NULL)
        return plugin_fail(err, errlen, -ENOMEM, origin, "out of memory");
    p->pub.desc = desc;
    int rc = plugin_setup(p, NULL, kind, err, errlen);
    if (rc < 0)
        return rc;
    *out = &p->pub;
    return 0;
}

int plugin_start(struct plugin_instance *pi, char *err, size_t errlen)
{
    if (pi == NULL || !pi->initialized)
        return plugin_fail(err, errlen, -EINVAL, pi ? pi->path : "plugin", "not initialized");
    if (pi->started)
        return 0;
    char perr[PLUGIN_ERRLEN] = "";
    int rc = pi->desc->start(pi->state, perr, sizeof perr);
    if (rc != 0) {
        if (rc > 0)
            rc = -EIO;
        perr[sizeof perr - 1] = '\0';
        return plugin_fail(err, errlen, rc, pi->path, "start failed: %s",
                           perr[0] ? perr : strerror(-rc));
    }
    pi->started = 1;
    return 0;
}

void plugin_stop(struct plugin_instance *pi)
{
    if (pi == NULL || !pi->started)
        return;
    struct plugin_loaded *p = (struct plugin_loaded *)pi;
    pi->desc->stop(pi->state);
    pi->started = 0;
    plugin_net_disarm(p);
    /* Posts queued before or during stop are dropped from now on. */
    atomic_fetch_add(&p->token->generation, 1);
}

void plugin_unload(struct plugin_instance *pi)
{
    if (pi == NULL)
        return;
    struct plugin_loaded *p = (struct plugin_loaded *)pi;
    plugin_stop(pi);
    plugin_net_disarm(p); /* a plugin that failed to start may have opened some */
    plugin_net_forget_transport(pi);
    if (pi->initialized) {
        plugin_release(p);
        pi->desc->fini(pi->state);
        pi->initialized = 0;
        pi->state = NULL;
    }
    plugin_free(p);
}
