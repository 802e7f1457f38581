/*
 * Metrics registry: named counters and gauges whose values live where they
 * are updated (a plain int64_t in the owning module), so updating a metric
 * costs no lock and no allocation. Readers (mntr, the metrics bus) walk the
 * registry and read the values on the loop thread.
 *
 * Names are ZooKeeper's mntr keys without the "zk_" prefix.
 */
#ifndef ZKPLUG_METRICS_REGISTRY_H
#define ZKPLUG_METRICS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <zkplug/plugin.h>

/* A value that is computed when read (gauges such as znode_count). */
typedef int64_t (*metrics_gauge_fn)(void *arg);

int metrics_register(const char *name, enum zkp_metric_type type, const int64_t *value);
int metrics_register_fn(const char *name, metrics_gauge_fn fn, void *arg);
void metrics_unregister(const char *name);

/* Current value; 0 and returns -ENOENT when unknown. */
int metrics_get(const char *name, int64_t *out);

/* Visit every metric in registration order. */
typedef void (*metrics_visit_fn)(void *arg, const char *name, enum zkp_metric_type type, int64_t value);
void metrics_foreach(metrics_visit_fn fn, void *arg);

/* Drop every registration (tests, shutdown). */
void metrics_clear(void);

#endif
