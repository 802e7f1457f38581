/*
 * ZooKeeper 3.8's metric catalog (ServerMetrics.java) in the registry, and
 * the per-opcode request latency summaries zkplug adds.
 *
 * metrics_zk_register fills every ServerMetrics counter and summary name the
 * server has not registered itself, so mntr and /metrics list the same keys
 * as ZooKeeper; names zkplug measures are recorded through the handles
 * below. Per-opcode summaries are named "<op>_latency_us" (microseconds,
 * ADVANCED: with percentiles).
 *
 * metrics_request_record is called once per request by the request path. It
 * takes no lock and allocates nothing: all summaries are static storage, and
 * it runs on the event-loop thread like every reader. When the metrics are
 * disabled (metrics_zk_set_enabled(false)) it returns at once.
 */
#ifndef ZKPLUG_METRICS_METRICS_ZK_H
#define ZKPLUG_METRICS_METRICS_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_summary.h"

/* The summaries zkplug feeds itself. */
struct metrics_zk {
    struct metrics_summary readlatency;   /* ms, reads (no txn) */
    struct metrics_summary updatelatency; /* ms, requests that log a txn */
};
extern struct metrics_zk metrics_zk;

/* One opcode the per-opcode summaries cover. */
struct metrics_op {
    int32_t type;      /* ZooKeeper opcode */
    const char *name;  /* ZooKeeper's OpCode name ("getData") */
    const char *key;   /* registry name ("get_data_latency_us") */
    bool update;       /* logs a txn: counted in updatelatency */
};

size_t metrics_op_count(void);
const struct metrics_op *metrics_op_at(size_t i);
/* The summary for an opcode, or NULL when it has none. */
struct metrics_summary *metrics_op_summary(int32_t type);

/* Register the catalog and the per-opcode summaries (idempotent). */
void metrics_zk_register(void);
/* Remove the per-opcode summaries and every default catalog entry. */
void metrics_zk_unregister(void);

void metrics_zk_set_enabled(bool on);
bool metrics_zk_enabled(void);

/* The request path: one request of opcode type finished after elapsed_ns. */
void metrics_request_record(int32_t type, uint64_t elapsed_ns);

#endif
