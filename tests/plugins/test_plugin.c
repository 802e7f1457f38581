/*
 * Test plugins for the loader tests: one source, built once per variant.
 * Each variant is broken in exactly one way (a TP_* definition picks it), the
 * plain build ("good") is a minimal well-formed transport plugin.
 *
 * The good plugin makes its lifecycle visible to the test through the host
 * services only, the way a real plugin would:
 *   test_plugin_trace   gauge, one digit per step: 1 init, 2 start, 3 stop;
 *   test_plugin_config  gauge, config key "test.value" (default 7);
 *   test_plugin_posts   counter, bumped by a callback posted in start;
 *   test_plugin_hooks   counter, bumped by a before_sleep hook set in start;
 *   test_plugin_timer   counter, bumped by a 1 ms timer set in start;
 * and it logs "lifecycle: init|start|stop|fini" through host->log. In start it
 * also leaves a one-hour timer pending, which the loader must cancel at
 * unload. All state is heap memory owned by the instance (freed in fini), so
 * a callback the loader fails to disarm touches freed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zkplug/plugin.h>

/* Variants that leave out a member leave its function unused. */
#if defined(TP_NO_DESCRIPTOR) || defined(TP_TINY_SYMBOL) || defined(TP_NO_INIT) || defined(TP_NULL_PENDING)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-const-variable"
#endif

#ifndef TP_NAME
#define TP_NAME "good"
#endif
#ifndef TP_DESC_NAME
#define TP_DESC_NAME TP_NAME
#endif
#ifndef TP_MAGIC
#define TP_MAGIC ZKP_ABI_MAGIC
#endif
#ifndef TP_ABI_MAJOR
#define TP_ABI_MAJOR ZKP_ABI_MAJOR
#endif
#ifndef TP_KIND
#define TP_KIND ZKP_KIND_TRANSPORT
#endif
#ifndef TP_DESC_SIZE
#define TP_DESC_SIZE sizeof(struct zkp_plugin)
#endif
#ifndef TP_OPS_SIZE
#define TP_OPS_SIZE sizeof(struct zkp_transport_ops)
#endif

struct tp_state {
    const struct zkp_host *host;
    int64_t trace, config, posts, hooks, timer;
    int hook_set;
};

static void tp_posted(void *arg) { ((struct tp_state *)arg)->posts++; }
static void tp_hook(void *arg) { ((struct tp_state *)arg)->hooks++; }
static void tp_timer(void *arg) { ((struct tp_state *)arg)->timer++; }

static int tp_init(const struct zkp_host *host, void **state, char *err, size_t errlen)
{
#ifdef TP_INIT_FAILS
    snprintf(err, errlen, "test.value: refused on purpose");
    return -EACCES;
#endif
    if (host->size < sizeof *host || host->abi_major != ZKP_ABI_MAJOR) {
        snprintf(err, errlen, "host table too old");
        return -EINVAL;
    }
    struct tp_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->host = host;
    st->trace = 1;
    int rc = host->config_int(host, "test.value", 7, &st->config);
    if (rc < 0) {
        snprintf(err, errlen, "test.value is not a number");
        free(st);
        return rc;
    }
    if (host->metric_register(host, "test_plugin_trace", ZKP_METRIC_GAUGE, &st->trace) < 0 ||
        host->metric_register(host, "test_plugin_config", ZKP_METRIC_GAUGE, &st->config) < 0 ||
        host->metric_register(host, "test_plugin_posts", ZKP_METRIC_COUNTER, &st->posts) < 0 ||
        host->metric_register(host, "test_plugin_hooks", ZKP_METRIC_COUNTER, &st->hooks) < 0 ||
        host->metric_register(host, "test_plugin_timer", ZKP_METRIC_COUNTER, &st->timer) < 0) {
        snprintf(err, errlen, "cannot register metrics");
        free(st);
        return -ENOMEM;
    }
    host->log(host, ZKP_LOG_INFO, "lifecycle: %s", "init");
    *state = st;
    return 0;
}

static int tp_start(void *state, char *err, size_t errlen)
{
    struct tp_state *st = state;
#ifdef TP_START_FAILS
    snprintf(err, errlen, "port 2181 refused on purpose");
    st->host->log(st->host, ZKP_LOG_INFO, "lifecycle: %s", "start-failed");
    return -EADDRINUSE;
#endif
    st->trace = st->trace * 10 + 2;
    if (st->host->post(st->host, tp_posted, st) < 0)
        return -ENOMEM;
    if (!st->hook_set && st->host->before_sleep(st->host, tp_hook, st) < 0)
        return -ENOMEM;
    st->hook_set = 1;
    if (st->host->timer_start(st->host, 1, tp_timer, st) == 0 ||
        st->host->timer_start(st->host, 3600 * 1000, tp_timer, st) == 0)
        return -ENOMEM;
    st->host->log(st->host, ZKP_LOG_INFO, "lifecycle: %s", "start");
    return 0;
}

static void tp_stop(void *state)
{
    struct tp_state *st = state;
    st->trace = st->trace * 10 + 3;
    st->host->log(st->host, ZKP_LOG_INFO, "lifecycle: %s", "stop");
}

static void tp_fini(void *state)
{
    struct tp_state *st = state;
    st->host->log(st->host, ZKP_LOG_INFO, "lifecycle: %s", "fini");
    free(st);
}

/* Transport ops that do nothing: the loader tests never call them. */
static int tp_listen(void *state, const char *address, int port, int backlog,
                     const struct zkp_transport_events *events, void *core_arg, zkp_listener **out,
                     char *err, size_t errlen)
{
    snprintf(err, errlen, "test plugin does not listen");
    return -ENOTSUP;
}
static int tp_listener_port(zkp_listener *listener) { return -ENOTSUP; }
static void tp_unlisten(void *state, zkp_listener *listener) {}
static int tp_send(zkp_conn *conn, const void *data, size_t len) { return -ENOTSUP; }
static void tp_close(zkp_conn *conn, int flush) {}
static void tp_pause_read(zkp_conn *conn, int paused) {}
static size_t tp_pending(zkp_conn *conn) { return 0; }

static const struct zkp_transport_ops tp_ops = {
    .size = TP_OPS_SIZE,
    .listen = tp_listen,
    .listener_port = tp_listener_port,
    .unlisten = tp_unlisten,
    .send = tp_send,
    .close = tp_close,
    .pause_read = tp_pause_read,
#ifndef TP_NULL_PENDING
    .pending = tp_pending,
#endif
};

#if defined(TP_NO_DESCRIPTOR)
/* Exports something, just not the descriptor. */
__attribute__((visibility("default"))) const struct zkp_plugin zkp_plugin_descriptr = {
    .magic = ZKP_ABI_MAGIC,
};
#elif defined(TP_TINY_SYMBOL)
/* The right name on an object far too small to be a descriptor. */
__attribute__((visibility("default"))) const uint16_t zkp_plugin_descriptor = 1;
#else
ZKP_PLUGIN_EXPORT = {
    .magic = TP_MAGIC,
    .abi_major = TP_ABI_MAJOR,
    .abi_minor = ZKP_ABI_MINOR,
    .size = TP_DESC_SIZE,
    .kind = TP_KIND,
    .name = TP_DESC_NAME,
    .version = "1.0",
    .description = "loader test plugin (" TP_NAME ")",
#ifndef TP_NO_INIT
    .init = tp_init,
#endif
    .start = tp_start,
    .stop = tp_stop,
    .fini = tp_fini,
    .ops = &tp_ops,
};
#endif
