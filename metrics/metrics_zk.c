/*
 * ZooKeeper's metric catalog and the per-opcode latency summaries (see
 * metrics_zk.h). The name tables are ServerMetrics.java of ZooKeeper 3.8.0:
 * every getCounter and getSummary call, in its order, with its DetailLevel.
 * The two summary sets zkplug feeds, read_per_namespace and
 * write_per_namespace, are registered with the catalog (they show keys only
 * once recorded); ZooKeeper's other sets and counter sets (per learner, per
 * quota namespace) are not.
 */
#include "metrics_zk.h"

#include <string.h>

#include "registry.h"

/* ZooKeeper opcodes (the wire values; this library does not depend on the
 * core's protocol header). */
enum {
    ZK_OP_CREATE_ = 1, ZK_OP_DELETE_ = 2, ZK_OP_EXISTS_ = 3, ZK_OP_GETDATA_ = 4, ZK_OP_SETDATA_ = 5,
    ZK_OP_GETACL_ = 6, ZK_OP_SETACL_ = 7, ZK_OP_GETCHILDREN_ = 8, ZK_OP_SYNC_ = 9, ZK_OP_PING_ = 11,
    ZK_OP_GETCHILDREN2_ = 12, ZK_OP_CHECK_ = 13, ZK_OP_MULTI_ = 14, ZK_OP_CREATE2_ = 15, ZK_OP_RECONFIG_ = 16,
    ZK_OP_CHECKWATCHES_ = 17, ZK_OP_REMOVEWATCHES_ = 18, ZK_OP_CREATECONTAINER_ = 19,
    ZK_OP_DELETECONTAINER_ = 20, ZK_OP_CREATETTL_ = 21, ZK_OP_MULTIREAD_ = 22, ZK_OP_AUTH_ = 100,
    ZK_OP_SETWATCHES_ = 101, ZK_OP_SASL_ = 102, ZK_OP_GETEPHEMERALS_ = 103, ZK_OP_GETALLCHILDRENNUMBER_ = 104,
    ZK_OP_SETWATCHES2_ = 105, ZK_OP_ADDWATCH_ = 106, ZK_OP_WHOAMI_ = 107, ZK_OP_CLOSESESSION_ = -11,
};

struct metrics_zk_summary_name {
    const char *name;
    enum metrics_summary_level level;
};

static const char *const metrics_zk_counters[] = {
    "looking_count", "diff_count", "snap_count", "commit_count", "connection_request_count",
    "connection_rejected", "bytes_received_count", "unrecoverable_error_count", "add_dead_watcher_stall_time",
    "dead_watchers_queued", "dead_watchers_cleared", "response_packet_cache_hits",
    "response_packet_cache_misses", "response_packet_get_children_cache_hits",
    "response_packet_get_children_cache_misses", "ensemble_auth_success", "ensemble_auth_fail",
    "ensemble_auth_skip", "prep_processor_request_queued", "outstanding_changes_queued",
    "outstanding_changes_removed", "revalidate_count", "connection_drop_count", "connection_revalidate_count",
    "sessionless_connections_expired", "stale_sessions_expired", "request_commit_queued", "throttled_ops",
    "learner_proposal_received_count", "learner_commit_received_count", "sync_processor_request_queued",
    "proposal_count", "quit_leading_due_to_disloyal_voter", "stale_requests", "stale_requests_dropped",
    "stale_replies", "request_throttle_wait_count", "large_requests_rejected", "digest_mismatches_count",
    "unsuccessful_handshake", "insecure_admin_count", "tls_handshake_exceeded",
    "cnxn_closed_without_zk_server_running", "skip_learner_request_to_next_processor_count",
    /* Requests of learners a leader did not pass to its CommitProcessor
     * (zookeeper.forwardLearnerRequestsToCommitProcessorDisabled): zkplug
     * has no commit processor and never leaves a learner's request out of
     * its commit path, so this stays 0. */
    "requests_not_forwarded_to_commit_processor", "response_bytes", "watch_bytes",
};

static const struct metrics_zk_summary_name metrics_zk_summaries[] = {
    {"fsynctime", METRICS_SUMMARY_BASIC},
    {"snapshottime", METRICS_SUMMARY_BASIC},
    {"dbinittime", METRICS_SUMMARY_BASIC},
    {"readlatency", METRICS_SUMMARY_ADVANCED},
    {"updatelatency", METRICS_SUMMARY_ADVANCED},
    {"propagation_latency", METRICS_SUMMARY_ADVANCED},
    {"follower_sync_time", METRICS_SUMMARY_BASIC},
    {"observer_sync_time", METRICS_SUMMARY_BASIC},
    {"election_time", METRICS_SUMMARY_BASIC},
    {"connection_token_deficit", METRICS_SUMMARY_BASIC},
    {"inflight_snap_count", METRICS_SUMMARY_BASIC},
    {"inflight_diff_count", METRICS_SUMMARY_BASIC},
    {"node_created_watch_count", METRICS_SUMMARY_BASIC},
    {"node_deleted_watch_count", METRICS_SUMMARY_BASIC},
    {"node_changed_watch_count", METRICS_SUMMARY_BASIC},
    {"node_children_watch_count", METRICS_SUMMARY_BASIC},
    {"dead_watchers_cleaner_latency", METRICS_SUMMARY_ADVANCED},
    {"prep_processor_queue_time_ms", METRICS_SUMMARY_ADVANCED},
    {"prep_processor_queue_size", METRICS_SUMMARY_BASIC},
    {"prep_process_time", METRICS_SUMMARY_BASIC},
    {"proposal_process_time", METRICS_SUMMARY_BASIC},
    {"close_session_prep_time", METRICS_SUMMARY_ADVANCED},
    {"unavailable_time", METRICS_SUMMARY_BASIC},
    {"leader_unavailable_time", METRICS_SUMMARY_BASIC},
    {"requests_in_session_queue", METRICS_SUMMARY_BASIC},
    {"pending_session_queue_size", METRICS_SUMMARY_BASIC},
    {"reads_after_write_in_session_queue", METRICS_SUMMARY_BASIC},
    {"reads_issued_from_session_queue", METRICS_SUMMARY_BASIC},
    {"session_queues_drained", METRICS_SUMMARY_BASIC},
    {"time_waiting_empty_pool_in_commit_processor_read_ms", METRICS_SUMMARY_BASIC},
    {"write_batch_time_in_commit_processor", METRICS_SUMMARY_BASIC},
    {"concurrent_request_processing_in_commit_processor", METRICS_SUMMARY_BASIC},
    {"read_commit_proc_req_queued", METRICS_SUMMARY_BASIC},
    {"write_commit_proc_req_queued", METRICS_SUMMARY_BASIC},
    {"commit_commit_proc_req_queued", METRICS_SUMMARY_BASIC},
    {"read_commit_proc_issued", METRICS_SUMMARY_BASIC},
    {"write_commit_proc_issued", METRICS_SUMMARY_BASIC},
    {"read_commitproc_time_ms", METRICS_SUMMARY_ADVANCED},
    {"write_commitproc_time_ms", METRICS_SUMMARY_ADVANCED},
    {"local_write_committed_time_ms", METRICS_SUMMARY_ADVANCED},
    {"server_write_committed_time_ms", METRICS_SUMMARY_ADVANCED},
    {"commit_process_time", METRICS_SUMMARY_BASIC},
    {"om_proposal_process_time_ms", METRICS_SUMMARY_ADVANCED},
    {"om_commit_process_time_ms", METRICS_SUMMARY_ADVANCED},
    {"read_final_proc_time_ms", METRICS_SUMMARY_ADVANCED},
    {"write_final_proc_time_ms", METRICS_SUMMARY_ADVANCED},
    {"proposal_latency", METRICS_SUMMARY_ADVANCED},
    {"proposal_ack_creation_latency", METRICS_SUMMARY_ADVANCED},
    {"commit_propagation_latency", METRICS_SUMMARY_ADVANCED},
    {"startup_txns_loaded", METRICS_SUMMARY_BASIC},
    {"startup_txns_load_time", METRICS_SUMMARY_BASIC},
    {"startup_snap_load_time", METRICS_SUMMARY_BASIC},
    {"sync_processor_queue_and_flush_time_ms", METRICS_SUMMARY_ADVANCED},
    {"sync_processor_queue_size", METRICS_SUMMARY_BASIC},
    {"sync_processor_queue_time_ms", METRICS_SUMMARY_ADVANCED},
    {"sync_processor_queue_flush_time_ms", METRICS_SUMMARY_ADVANCED},
    {"sync_process_time", METRICS_SUMMARY_BASIC},
    {"sync_processor_batch_size", METRICS_SUMMARY_BASIC},
    {"quorum_ack_latency", METRICS_SUMMARY_ADVANCED},
    {"request_throttle_queue_time_ms", METRICS_SUMMARY_ADVANCED},
    {"netty_queued_buffer_capacity", METRICS_SUMMARY_BASIC},
    {"learner_request_processor_queue_size", METRICS_SUMMARY_BASIC},
    {"socket_closing_time", METRICS_SUMMARY_BASIC},
    {"jvm_pause_time_ms", METRICS_SUMMARY_ADVANCED},
};

#define METRICS_ZK_NCOUNTERS (sizeof metrics_zk_counters / sizeof metrics_zk_counters[0])
#define METRICS_ZK_NSUMMARIES (sizeof metrics_zk_summaries / sizeof metrics_zk_summaries[0])

static const struct metrics_op metrics_ops[] = {
    {ZK_OP_CREATE_, "create", "create_latency_us", true},
    {ZK_OP_DELETE_, "delete", "delete_latency_us", true},
    {ZK_OP_EXISTS_, "exists", "exists_latency_us", false},
    {ZK_OP_GETDATA_, "getData", "get_data_latency_us", false},
    {ZK_OP_SETDATA_, "setData", "set_data_latency_us", true},
    {ZK_OP_GETACL_, "getACL", "get_acl_latency_us", false},
    {ZK_OP_SETACL_, "setACL", "set_acl_latency_us", true},
    {ZK_OP_GETCHILDREN_, "getChildren", "get_children_latency_us", false},
    {ZK_OP_SYNC_, "sync", "sync_latency_us", false},
    {ZK_OP_PING_, "ping", "ping_latency_us", false},
    {ZK_OP_GETCHILDREN2_, "getChildren2", "get_children2_latency_us", false},
    {ZK_OP_CHECK_, "check", "check_latency_us", true},
    {ZK_OP_MULTI_, "multi", "multi_latency_us", true},
    {ZK_OP_CREATE2_, "create2", "create2_latency_us", true},
    {ZK_OP_RECONFIG_, "reconfig", "reconfig_latency_us", true},
    {ZK_OP_CHECKWATCHES_, "checkWatches", "check_watches_latency_us", false},
    {ZK_OP_REMOVEWATCHES_, "removeWatches", "remove_watches_latency_us", false},
    {ZK_OP_CREATECONTAINER_, "createContainer", "create_container_latency_us", true},
    {ZK_OP_DELETECONTAINER_, "deleteContainer", "delete_container_latency_us", true},
    {ZK_OP_CREATETTL_, "createTTL", "create_ttl_latency_us", true},
    {ZK_OP_MULTIREAD_, "multiRead", "multi_read_latency_us", false},
    {ZK_OP_AUTH_, "auth", "auth_latency_us", false},
    {ZK_OP_SETWATCHES_, "setWatches", "set_watches_latency_us", false},
    {ZK_OP_SASL_, "sasl", "sasl_latency_us", false},
    {ZK_OP_GETEPHEMERALS_, "getEphemerals", "get_ephemerals_latency_us", false},
    {ZK_OP_GETALLCHILDRENNUMBER_, "getAllChildrenNumber", "get_all_children_number_latency_us", false},
    {ZK_OP_SETWATCHES2_, "setWatches2", "set_watches2_latency_us", false},
    {ZK_OP_ADDWATCH_, "addWatch", "add_watch_latency_us", false},
    {ZK_OP_WHOAMI_, "whoAmI", "who_am_i_latency_us", false},
    {ZK_OP_CLOSESESSION_, "closeSession", "close_session_latency_us", true},
};

#define METRICS_NOPS (sizeof metrics_ops / sizeof metrics_ops[0])

struct metrics_zk metrics_zk;
static const char metrics_zk_read_ns[] = "read_per_namespace";
static const char metrics_zk_write_ns[] = "write_per_namespace";
static int64_t metrics_zk_counter_values[METRICS_ZK_NCOUNTERS];
static struct metrics_summary metrics_zk_summary_values[METRICS_ZK_NSUMMARIES];
static struct metrics_summary metrics_op_summaries[METRICS_NOPS];
/* Opcode -> index + 1 into metrics_ops (0: none). Opcodes run from -11 to
 * 107; the table is offset by METRICS_OP_BASE. */
#define METRICS_OP_BASE 16
#define METRICS_OP_SLOTS 128
static uint8_t metrics_op_index[METRICS_OP_SLOTS];
static bool metrics_zk_on = true;
static bool metrics_zk_ready;

static void metrics_zk_prepare(void)
{
    if (metrics_zk_ready)
        return;
    metrics_summary_init(&metrics_zk.readlatency, METRICS_SUMMARY_ADVANCED);
    metrics_summary_init(&metrics_zk.updatelatency, METRICS_SUMMARY_ADVANCED);
    metrics_summary_set_init(&metrics_zk.read_per_namespace, METRICS_SUMMARY_BASIC);
    metrics_summary_set_init(&metrics_zk.write_per_namespace, METRICS_SUMMARY_BASIC);
    for (size_t i = 0; i < METRICS_ZK_NSUMMARIES; i++)
        metrics_summary_init(&metrics_zk_summary_values[i], metrics_zk_summaries[i].level);
    for (size_t i = 0; i < METRICS_NOPS; i++) {
        metrics_summary_init(&metrics_op_summaries[i], METRICS_SUMMARY_ADVANCED);
        metrics_op_index[metrics_ops[i].type + METRICS_OP_BASE] = (uint8_t)(i + 1);
    }
    metrics_zk_ready = true;
}

size_t metrics_op_count(void)
{
    return METRICS_NOPS;
}

const struct metrics_op *metrics_op_at(size_t i)
{
    return i < METRICS_NOPS ? &metrics_ops[i] : NULL;
}

struct metrics_summary *metrics_op_summary(int32_t type)
{
    metrics_zk_prepare();
    int32_t slot = type + METRICS_OP_BASE;
    if (slot < 0 || slot >= METRICS_OP_SLOTS || metrics_op_index[slot] == 0)
        return NULL;
    return &metrics_op_summaries[metrics_op_index[slot] - 1];
}

void metrics_zk_register(void)
{
    metrics_zk_prepare();
    for (size_t i = 0; i < METRICS_ZK_NCOUNTERS; i++)
        metrics_register_default(metrics_zk_counters[i], ZKP_METRIC_COUNTER, &metrics_zk_counter_values[i]);
    for (size_t i = 0; i < METRICS_ZK_NSUMMARIES; i++) {
        const char *name = metrics_zk_summaries[i].name;
        struct metrics_summary *s = &metrics_zk_summary_values[i];
        if (strcmp(name, "readlatency") == 0)
            s = &metrics_zk.readlatency;
        else if (strcmp(name, "updatelatency") == 0)
            s = &metrics_zk.updatelatency;
        if (!metrics_exists(name))
            metrics_register_summary(name, s);
    }
    if (!metrics_exists(metrics_zk_write_ns))
        metrics_register_summary_set(metrics_zk_write_ns, &metrics_zk.write_per_namespace);
    if (!metrics_exists(metrics_zk_read_ns))
        metrics_register_summary_set(metrics_zk_read_ns, &metrics_zk.read_per_namespace);
    for (size_t i = 0; i < METRICS_NOPS; i++)
        metrics_register_summary(metrics_ops[i].key, &metrics_op_summaries[i]);
}

void metrics_zk_unregister(void)
{
    for (size_t i = 0; i < METRICS_ZK_NCOUNTERS; i++)
        metrics_unregister_bound(metrics_zk_counters[i], &metrics_zk_counter_values[i]);
    for (size_t i = 0; i < METRICS_ZK_NSUMMARIES; i++) {
        metrics_unregister_bound(metrics_zk_summaries[i].name, &metrics_zk_summary_values[i]);
        metrics_unregister_bound(metrics_zk_summaries[i].name, &metrics_zk.readlatency);
        metrics_unregister_bound(metrics_zk_summaries[i].name, &metrics_zk.updatelatency);
    }
    for (size_t i = 0; i < METRICS_NOPS; i++)
        metrics_unregister_bound(metrics_ops[i].key, &metrics_op_summaries[i]);
    metrics_unregister_bound(metrics_zk_write_ns, &metrics_zk.write_per_namespace);
    metrics_unregister_bound(metrics_zk_read_ns, &metrics_zk.read_per_namespace);
    metrics_summary_set_clear(&metrics_zk.write_per_namespace);
    metrics_summary_set_clear(&metrics_zk.read_per_namespace);
}

void metrics_zk_set_enabled(bool on)
{
    metrics_zk_on = on;
}

bool metrics_zk_enabled(void)
{
    return metrics_zk_on;
}

void metrics_request_record(int32_t type, uint64_t elapsed_ns)
{
    if (!metrics_zk_on || !metrics_zk_ready)
        return;
    int32_t slot = type + METRICS_OP_BASE;
    if (slot < 0 || slot >= METRICS_OP_SLOTS || metrics_op_index[slot] == 0)
        return;
    size_t i = metrics_op_index[slot] - 1u;
    metrics_summary_record(&metrics_op_summaries[i], (int64_t)(elapsed_ns / 1000u));
    /* ZooKeeper's ServerStats.updateLatency: milliseconds, split by whether
     * the request carried a txn. */
    int64_t ms = (int64_t)(elapsed_ns / 1000000u);
    metrics_summary_record(metrics_ops[i].update ? &metrics_zk.updatelatency : &metrics_zk.readlatency, ms);
}

/* ZooKeeper's PathUtils.getTopNamespace: the first component of path and
 * its hash; false when the path has none ("/"). */
static bool metrics_namespace_of(const char *path, size_t len, const char **ns, size_t *ns_len, uint32_t *hash)
{
    if (len < 2 || path[0] != '/')
        return false;
    const char *p = path + 1, *end = path + len;
    const char *q = memchr(p, '/', (size_t)(end - p));
    if (q == NULL)
        q = end;
    if (q == p)
        return false;
    *ns = p;
    *ns_len = (size_t)(q - p);
    *hash = metrics_summary_set_hash(p, *ns_len);
    return true;
}

/* UTF-8 to UTF-16 units: continuation bytes add nothing, a four-byte
 * character is two units. */
size_t metrics_java_length(const char *s, size_t len)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x80) {
            if ((c & 0xc0) == 0x80)
                n--; /* continuation byte */
            else if (c >= 0xf0)
                n++; /* four bytes: a surrogate pair */
        }
    }
    return n;
}

void metrics_namespace_read(const char *path, size_t len, int64_t bytes)
{
    const char *ns;
    size_t ns_len;
    uint32_t hash;
    if (!metrics_zk_on || !metrics_zk_ready || !metrics_namespace_of(path, len, &ns, &ns_len, &hash))
        return;
    int64_t total = (int64_t)metrics_java_length(path, len) + bytes + METRICS_STAT_OVERHEAD_BYTES;
    metrics_summary_set_record(&metrics_zk.read_per_namespace, ns, ns_len, hash, total);
}

void metrics_namespace_write(const char *path, size_t len, int64_t bytes)
{
    const char *ns;
    size_t ns_len;
    uint32_t hash;
    if (!metrics_zk_on || !metrics_zk_ready || !metrics_namespace_of(path, len, &ns, &ns_len, &hash))
        return;
    int64_t total = (int64_t)metrics_java_length(path, len) + bytes;
    metrics_summary_set_record(&metrics_zk.write_per_namespace, ns, ns_len, hash, total);
}
