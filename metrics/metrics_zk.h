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
 *
 * metrics_namespace_read / _write feed ZooKeeper's per-namespace summary
 * sets at DataTree's points (updateReadStat / updateWriteStat), with its byte
 * counts; the namespace is the path's first component (none for "/"). Same
 * cost rules; a namespace's entry is allocated the first time it is seen,
 * and namespaces beyond METRICS_SUMMARY_SET_MAX are not recorded.
 */
#ifndef ZKPLUG_METRICS_METRICS_ZK_H
#define ZKPLUG_METRICS_METRICS_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_summary.h"
#include "metrics_summary_set.h"

/* The summaries zkplug feeds itself. */
struct metrics_zk {
    struct metrics_summary readlatency;   /* ms, reads (no txn) */
    struct metrics_summary updatelatency; /* ms, requests that log a txn */
    struct metrics_summary_set read_per_namespace;  /* bytes read, by namespace */
    struct metrics_summary_set write_per_namespace; /* bytes written, by namespace */
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

/* ZooKeeper's DataTree.STAT_OVERHEAD_BYTES, added to every read. */
#define METRICS_STAT_OVERHEAD_BYTES ((6 * 8) + (5 * 4))

/* A read of path (len bytes) returning bytes of payload: getData (the data's
 * length), exists (0), getChildren/getChildren2 (the children's names'
 * lengths); recorded as length(path) + bytes + METRICS_STAT_OVERHEAD_BYTES
 * in read_per_namespace. */
void metrics_namespace_read(const char *path, size_t len, int64_t bytes);
/* A txn applied to path: create (the data's length), delete (0), setData
 * (the new data's length); recorded as length(path) + bytes in
 * write_per_namespace. */
void metrics_namespace_write(const char *path, size_t len, int64_t bytes);
/* Java's String.length of UTF-8 text (UTF-16 units), the length ZooKeeper
 * counts for paths and child names. */
size_t metrics_java_length(const char *s, size_t len);

#endif
