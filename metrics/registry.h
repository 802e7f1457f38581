/*
 * Metrics registry: the one flat table of named metrics that mntr, the
 * AdminServer's monitor command, the metrics bus and the Prometheus endpoint
 * all read. Values live where they are updated (a plain int64_t in the
 * owning module, or a summary), so updating a metric costs no lock and no
 * allocation; readers walk the registry on the loop thread.
 *
 * Names are ZooKeeper's mntr keys without the "zk_" prefix. Kinds:
 *   - counters and gauges read in place (metrics_register) or computed when
 *     read (metrics_register_fn, and _double_fn / _text_fn for ZooKeeper's
 *     few double and string values such as avg_latency and server_state);
 *   - summaries (metrics_register_summary), which mntr shows as ZooKeeper
 *     does: avg_/min_/max_/cnt_/sum_<name>, plus p50_/p95_/p99_/p999_<name>
 *     for ADVANCED ones;
 *   - summary sets (metrics_register_summary_set), one summary per key
 *     recorded so far, each shown as the summary "<key>_<name>" (ZooKeeper's
 *     AvgMinMaxCounterSet: avg_<key>_<name>, ...); a set with no key yet
 *     shows nothing.
 *
 * Registering a name again rebinds it (a plugin restarted);
 * metrics_register_default only fills a name nobody has registered, so a
 * default catalog never hides the owner's value.
 *
 * Thread: all functions are called on the event-loop thread.
 */
#ifndef ZKPLUG_METRICS_REGISTRY_H
#define ZKPLUG_METRICS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zkplug/plugin.h>

#include "metrics_summary.h"
#include "metrics_summary_set.h"

/* A value that is computed when read (gauges such as znode_count). */
typedef int64_t (*metrics_gauge_fn)(void *arg);
typedef double (*metrics_double_fn)(void *arg);
/* Returns a string valid until the next call. */
typedef const char *(*metrics_text_fn)(void *arg);

int metrics_register(const char *name, enum zkp_metric_type type, const int64_t *value);
int metrics_register_fn(const char *name, metrics_gauge_fn fn, void *arg);
int metrics_register_double_fn(const char *name, metrics_double_fn fn, void *arg);
int metrics_register_text_fn(const char *name, metrics_text_fn fn, void *arg);
int metrics_register_summary(const char *name, struct metrics_summary *summary);
int metrics_register_summary_set(const char *name, struct metrics_summary_set *set);
/* As metrics_register, but only when the name is free: 0 registered,
 * 1 already taken (left alone), negative errno. The value may be zeroed by
 * metrics_reset_counters. */
int metrics_register_default(const char *name, enum zkp_metric_type type, const int64_t *value);
void metrics_unregister(const char *name);
/* Unregister name only while it is still bound to storage (a value, a
 * summary or a summary set), so a default never removes someone else's
 * rebinding. */
void metrics_unregister_bound(const char *name, const void *storage);
bool metrics_exists(const char *name);

/* Current integer value of a counter or gauge, or of one of a summary's
 * integer mntr keys (e.g. "cnt_readlatency"); 0 and returns -ENOENT when
 * unknown or not an integer. */
int metrics_get(const char *name, int64_t *out);

/* Visit every integer metric in registration order, summaries expanded into
 * their integer mntr keys (min_, max_, cnt_, sum_, and p50_.. for ADVANCED).
 * Double and string values are left out: see metrics_foreach_value. */
typedef void (*metrics_visit_fn)(void *arg, const char *name, enum zkp_metric_type type, int64_t value);
void metrics_foreach(metrics_visit_fn fn, void *arg);

/* Typed values. */
enum metrics_value_type {
    METRICS_VALUE_INT,
    METRICS_VALUE_DOUBLE,
    METRICS_VALUE_TEXT,
    METRICS_VALUE_SUMMARY,
};

struct metrics_value {
    enum metrics_value_type type;
    enum zkp_metric_type kind;  /* INT and DOUBLE: counter or gauge */
    int64_t i;
    double d;
    const char *text;           /* valid during the visit */
    const struct metrics_summary *summary;
    /* A summary set's member (SUMMARY): the set's name and the member's key;
     * NULL for a plain summary. */
    const char *set_name, *set_key;
};

typedef void (*metrics_value_visit_fn)(void *arg, const char *name, const struct metrics_value *v);
/* Every metric once, in registration order; summaries unexpanded. A summary
 * set is visited as one SUMMARY per key, named "<key>_<set name>", with
 * set_name and set_key filled (none while the set is empty). */
void metrics_foreach_value(metrics_value_visit_fn fn, void *arg);
/* Every mntr key with its typed value, in ZooKeeper's form: summaries
 * expanded (avg_ as a double), strings and doubles included. */
void metrics_foreach_mntr(metrics_value_visit_fn fn, void *arg);

/* Reset every summary and summary set (keeping its keys), and every counter
 * registered with metrics_register_default (whose storage the registrant
 * lets the registry zero), as srst and resetStatistics do. Other values belong to their
 * owners, who reset their own. */
void metrics_reset_counters(void);

/* Number of registered metrics (summaries count once). */
size_t metrics_count_registered(void);

/* Drop every registration (tests, shutdown). */
void metrics_clear(void);

#endif
