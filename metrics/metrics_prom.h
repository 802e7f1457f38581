/*
 * Prometheus text exposition (format 0.0.4) of the metrics registry, as
 * ZooKeeper's PrometheusMetricsProvider writes it: the metric names are the
 * registry's (ZooKeeper's) names, counters and gauges one sample each,
 * summaries as <name>{quantile="0.5",} ... <name>_count <name>_sum with
 * quantiles 0.5 (BASIC) or 0.5, 0.9, 0.99 (ADVANCED), summary sets as one
 * family labelled by key (<name>{key="ns",quantile="0.5",} ...,
 * <name>_count{key="ns",}; a set with no key yet is left out); values printed as
 * Java prints doubles ("5.0"). String metrics have no Prometheus form and
 * are left out, as in ZooKeeper.
 *
 * Thread: the event loop (reads the registry).
 */
#ifndef ZKPLUG_METRICS_METRICS_PROM_H
#define ZKPLUG_METRICS_METRICS_PROM_H

#include "metrics_buf.h"

#define METRICS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void metrics_prom_render(struct metrics_buf *out);
/* A double as Java's Double.toString writes it. */
void metrics_prom_double(struct metrics_buf *out, double d);

#endif
