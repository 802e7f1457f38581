/*
 * The metrics bus over nng: a PUB socket that publishes changed beans at an
 * interval and events at once, a REP socket that answers queries
 * (mbus_msg.h), and the Prometheus /metrics endpoint over nng's HTTP server.
 *
 * Threads: mbus_open, mbus_close and everything that reads beans or the
 * registry run on the event-loop thread. nng's own threads only receive
 * (a query message, an HTTP request), queue it under a mutex and wake the
 * loop through an eventfd; the loop answers. Once mbus_close has begun,
 * anything still arriving is answered (HTTP 503) or dropped by nng.
 *
 * Entry points: mbus_options_load (zoo.cfg keys, see docs/metrics.md) ->
 * mbus_open -> ... -> mbus_close. One bus per process.
 */
#ifndef ZKPLUG_METRICS_MBUS_H
#define ZKPLUG_METRICS_MBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct zk_config;

#define MBUS_DEFAULT_PUBLISH "tcp://127.0.0.1:7181"
#define MBUS_DEFAULT_QUERY "tcp://127.0.0.1:7182"
#define MBUS_DEFAULT_INTERVAL_MS 1000
#define MBUS_DEFAULT_PROMETHEUS_PORT 7000

struct mbus_options {
    bool record;           /* metrics.enabled: latency summaries on the request path */
    bool bus;              /* metrics.bus.enabled */
    char publish_url[256]; /* metrics.bus.publishAddress */
    char query_url[256];   /* metrics.bus.queryAddress */
    int64_t interval_ms;   /* metrics.bus.interval */
    char tls_cert[512], tls_key[512], tls_key_password[256], tls_ca[512]; /* metrics.bus.tls.* */
    char http_host[256];   /* metricsProvider.httpHost */
    int http_port;         /* metricsProvider.httpPort; 0: no /metrics endpoint */
};

/* Read the options from zoo.cfg (and the METRICSDISABLE environment
 * variable, which turns recording and the bus off as JMXDISABLE turns off
 * ZooKeeper's JMX). 0, or -EINVAL with "FILE:LINE: key 'K': reason". */
int mbus_options_load(const struct zk_config *cfg, struct mbus_options *o, char *err, size_t errlen);

/* Called before beans are read (the server reconciles its connection beans). */
typedef void (*mbus_refresh_fn)(void *arg);

/* Open what the options ask for. 0, or negative errno with the address and
 * nng's reason in err (nothing is left open then). */
int mbus_open(loop *l, const struct mbus_options *o, mbus_refresh_fn refresh, void *arg, char *err,
              size_t errlen);
void mbus_close(void);
bool mbus_is_open(void);

/* Publish every changed bean now (the interval timer calls this). */
void mbus_publish_changes(void);
/* The bound /metrics port, or 0 when there is no endpoint. */
int mbus_http_port(void);
/* Messages published so far. */
uint64_t mbus_published(void);

#endif
