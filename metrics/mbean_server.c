/*
 * A standalone server's beans and gauges (see metrics_server.h).
 *
 * Attribute values come from the registry where ZooKeeper has a metric for
 * them (PacketsReceived reads "packets_received", ...), so the beans, mntr
 * and /metrics never disagree. Bean names and attributes are ZooKeeper's
 * (ZooKeeperServerBean, DataTreeBean, ConnectionBean); two beans are
 * zkplug's own: name1=Metrics (every registry metric, under its mntr name)
 * and name1=RequestLatency (one summary per opcode, microseconds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "metrics_server.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "lua_int.h"
#include "mbean.h"
#include "mbus.h"
#include "metrics_zk.h"
#include "registry.h"
#include "server.h"

struct metrics_conn_bean {
    struct server *srv;
    struct conn *conn;
    int64_t session_id;
    uint64_t seen; /* sync generation */
};

static struct {
    struct server *srv;
    bool open;
    char server_name[128];
    char tree_name[192];
    char metrics_name[192];
    char latency_name[192];
    char conn_prefix[192];
    char start_time[64];
    const char *state;
    uint64_t generation;
} metrics_srv;

/* ------------------------------------------------------------ registry */

static int64_t metrics_registry_int(const char *name)
{
    int64_t v = 0;
    metrics_get(name, &v);
    return v;
}

static int64_t metrics_srv_min_latency(void *arg)
{
    const struct server_stats *st = &((struct server *)arg)->stats;
    return st->count == 0 || st->min_latency == INT64_MAX ? 0 : st->min_latency;
}

static int64_t metrics_srv_max_latency(void *arg)
{
    return ((struct server *)arg)->stats.max_latency;
}

static double metrics_srv_avg_latency(void *arg)
{
    const struct server_stats *st = &((struct server *)arg)->stats;
    return st->count == 0 ? 0.0 : (double)st->total_latency / (double)st->count;
}

static int64_t metrics_srv_outstanding(void *arg)
{
    int64_t n = 0;
    for (struct conn *c = ((struct server *)arg)->conns; c; c = c->next)
        n += c->outstanding;
    return n;
}

static int64_t metrics_srv_ephemerals(void *arg)
{
    struct server *srv = arg;
    int64_t n = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            n += (int64_t)s->nephemerals;
    return n;
}

static int64_t metrics_srv_zero(void *arg)
{
    (void)arg;
    return 0;
}

static double metrics_srv_zero_double(void *arg)
{
    (void)arg;
    return 0.0;
}

static int64_t metrics_srv_open_fds(void *arg)
{
    (void)arg;
    int64_t open = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            open += de->d_name[0] != '.';
        closedir(d);
        open = open > 0 ? open - 1 : 0; /* the listing's own descriptor */
    }
    return open;
}

static int64_t metrics_srv_max_fds(void *arg)
{
    (void)arg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
}

static int64_t metrics_srv_last_response(void *arg)
{
    return ((struct server *)arg)->stats.last_client_response_size;
}

static int64_t metrics_srv_min_response(void *arg)
{
    return ((struct server *)arg)->stats.min_client_response_size;
}

static int64_t metrics_srv_max_response(void *arg)
{
    return ((struct server *)arg)->stats.max_client_response_size;
}

static const char *metrics_srv_version(void *arg)
{
    (void)arg;
    return luaapi_version();
}

static const char *metrics_srv_state(void *arg)
{
    struct server *srv = arg;
    return srv->serving ? "standalone" : "stopped";
}

static void metrics_srv_register_gauges(struct server *srv)
{
    /* Names the core has not registered itself, ZooKeeper's mntr keys. */
    metrics_register_text_fn("version", metrics_srv_version, srv);
    metrics_register_text_fn("server_state", metrics_srv_state, srv);
    metrics_register_double_fn("avg_latency", metrics_srv_avg_latency, srv);
    metrics_register_fn("min_latency", metrics_srv_min_latency, srv);
    metrics_register_fn("max_latency", metrics_srv_max_latency, srv);
    metrics_register_fn("outstanding_requests", metrics_srv_outstanding, srv);
    metrics_register_fn("ephemerals_count", metrics_srv_ephemerals, srv);
    metrics_register_fn("local_sessions", metrics_srv_zero, srv);
    metrics_register_fn("open_file_descriptor_count", metrics_srv_open_fds, srv);
    metrics_register_fn("max_file_descriptor_count", metrics_srv_max_fds, srv);
    metrics_register_double_fn("connection_drop_probability", metrics_srv_zero_double, srv);
    metrics_register_fn("last_client_response_size", metrics_srv_last_response, srv);
    metrics_register_fn("min_client_response_size", metrics_srv_min_response, srv);
    metrics_register_fn("max_client_response_size", metrics_srv_max_response, srv);
    metrics_register_fn("outstanding_tls_handshake", metrics_srv_zero, srv);
    metrics_register_fn("non_mtls_remote_conn_count", metrics_srv_zero, srv);
    metrics_register_fn("non_mtls_local_conn_count", metrics_srv_zero, srv);
    if (!metrics_exists("connection_drop_count"))
        metrics_register("connection_drop_count", ZKP_METRIC_COUNTER, &srv->stats.connection_drop_count);
}

static const char *const metrics_srv_gauge_names[] = {
    "version", "server_state", "avg_latency", "min_latency", "max_latency", "outstanding_requests",
    "ephemerals_count", "local_sessions", "open_file_descriptor_count", "max_file_descriptor_count",
    "connection_drop_probability", "last_client_response_size", "min_client_response_size",
    "max_client_response_size", "outstanding_tls_handshake", "non_mtls_remote_conn_count",
    "non_mtls_local_conn_count",
};

/* -------------------------------------------------------- server bean */

#define METRICS_ATTR_METRIC(fn, metric)                                                                      \
    static int fn(void *obj, struct mbean_value *out, struct metrics_buf *scratch)                           \
    {                                                                                                        \
        (void)obj;                                                                                           \
        (void)scratch;                                                                                       \
        out->i = metrics_registry_int(metric);                                                               \
        return 0;                                                                                            \
    }

METRICS_ATTR_METRIC(metrics_attr_min_latency, "min_latency")
METRICS_ATTR_METRIC(metrics_attr_max_latency, "max_latency")
METRICS_ATTR_METRIC(metrics_attr_packets_received, "packets_received")
METRICS_ATTR_METRIC(metrics_attr_packets_sent, "packets_sent")
METRICS_ATTR_METRIC(metrics_attr_auth_failed, "auth_failed_count")
METRICS_ATTR_METRIC(metrics_attr_non_mtls_local, "non_mtls_local_conn_count")
METRICS_ATTR_METRIC(metrics_attr_non_mtls_remote, "non_mtls_remote_conn_count")
METRICS_ATTR_METRIC(metrics_attr_outstanding, "outstanding_requests")
METRICS_ATTR_METRIC(metrics_attr_alive, "num_alive_connections")
METRICS_ATTR_METRIC(metrics_attr_last_response, "last_client_response_size")
METRICS_ATTR_METRIC(metrics_attr_min_response, "min_client_response_size")
METRICS_ATTR_METRIC(metrics_attr_max_response, "max_client_response_size")
METRICS_ATTR_METRIC(metrics_attr_node_count, "znode_count")
METRICS_ATTR_METRIC(metrics_attr_watch_count, "watch_count")

static int metrics_attr_avg_latency(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->d = metrics_srv_avg_latency(obj);
    return 0;
}

static int metrics_attr_zero(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    (void)scratch;
    out->i = 0;
    return 0;
}

static int metrics_attr_empty(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    (void)scratch;
    out->s = "";
    return 0;
}

static int metrics_attr_client_port(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    struct server *srv = obj;
    metrics_buf_printf(scratch, "%d", srv->listener ? srv->tops->listener_port(srv->listener) : 0);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_attr_version(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    (void)scratch;
    out->s = luaapi_version();
    return 0;
}

static int metrics_attr_start_time(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj;
    (void)scratch;
    out->s = metrics_srv.start_time;
    return 0;
}

static int metrics_attr_state(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->s = metrics_srv_state(obj);
    return 0;
}

static int metrics_attr_jute_max(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->cfg->jute_maxbuffer;
    return 0;
}

static int metrics_attr_max_cnxns(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->cfg->max_cnxns;
    return 0;
}

static int64_t metrics_dir_size(const char *dir)
{
    int64_t total = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/version-2", dir ? dir : ".");
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char file[4096 + 256];
        struct stat st;
        snprintf(file, sizeof file, "%s/%s", path, de->d_name);
        if (de->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode))
            total += (int64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* ZooKeeper's getDataDirSize measures the txn-log directory and
 * getLogDirSize the snapshot directory (bug-compatible, as dirs does). */
static int metrics_attr_data_dir_size(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    const struct zk_config *cfg = ((struct server *)obj)->cfg;
    (void)scratch;
    out->i = metrics_dir_size(cfg->data_log_dir ? cfg->data_log_dir : cfg->data_dir);
    return 0;
}

static int metrics_attr_log_dir_size(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = metrics_dir_size(((struct server *)obj)->cfg->data_dir);
    return 0;
}

#define METRICS_ATTR_CFG_INT(getter, setter, field, check, why)                                              \
    static int getter(void *obj, struct mbean_value *out, struct metrics_buf *scratch)                       \
    {                                                                                                        \
        (void)scratch;                                                                                       \
        out->i = ((struct server *)obj)->cfg->field;                                                         \
        return 0;                                                                                            \
    }                                                                                                        \
    static int setter(void *obj, const struct mbean_value *in, char *err, size_t errlen)                     \
    {                                                                                                        \
        struct zk_config *cfg = ((struct server *)obj)->cfg;                                                 \
        int64_t v = in->i;                                                                                   \
        if (!(check)) {                                                                                      \
            snprintf(err, errlen, "%" PRId64 ": %s", v, why);                                                \
            return -EINVAL;                                                                                  \
        }                                                                                                    \
        cfg->field = (int)v;                                                                                 \
        return 0;                                                                                            \
    }

METRICS_ATTR_CFG_INT(metrics_attr_tick_time, metrics_set_tick_time, tick_time, v > 0 && v <= INT32_MAX,
                     "tickTime must be positive")
METRICS_ATTR_CFG_INT(metrics_attr_max_client_cnxns, metrics_set_max_client_cnxns, max_client_cnxns,
                     v >= 0 && v <= INT32_MAX, "maxClientCnxns must be 0 (unlimited) or positive")
METRICS_ATTR_CFG_INT(metrics_attr_min_session, metrics_set_min_session, min_session_timeout,
                     v > 0 && v <= cfg->max_session_timeout, "minSessionTimeout must be positive and at most "
                                                              "maxSessionTimeout")
METRICS_ATTR_CFG_INT(metrics_attr_max_session, metrics_set_max_session, max_session_timeout,
                     v >= cfg->min_session_timeout && v <= INT32_MAX,
                     "maxSessionTimeout must be at least minSessionTimeout")

static const struct mbean_attr_desc metrics_server_attrs[] = {
    {"ClientPort", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_client_port, NULL},
    {"Version", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_version, NULL},
    {"StartTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_start_time, NULL},
    {"State", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_state, NULL},
    {"MinRequestLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_min_latency, NULL},
    {"AvgRequestLatency", MBEAN_DOUBLE, MBEAN_KIND_GAUGE, metrics_attr_avg_latency, NULL},
    {"MaxRequestLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_max_latency, NULL},
    {"PacketsReceived", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_packets_received, NULL},
    {"PacketsSent", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_packets_sent, NULL},
    {"FsyncThresholdExceedCount", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_zero, NULL},
    {"AuthFailedCount", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_auth_failed, NULL},
    {"NonMTLSLocalConnCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_non_mtls_local, NULL},
    {"NonMTLSRemoteConnCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_non_mtls_remote, NULL},
    {"OutstandingRequests", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_outstanding, NULL},
    {"TickTime", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_tick_time, metrics_set_tick_time},
    {"MaxClientCnxnsPerHost", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_client_cnxns,
     metrics_set_max_client_cnxns},
    {"MinSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_min_session, metrics_set_min_session},
    {"MaxSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_session, metrics_set_max_session},
    {"NumAliveConnections", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_alive, NULL},
    {"DataDirSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_data_dir_size, NULL},
    {"LogDirSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_log_dir_size, NULL},
    {"SecureClientPort", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_empty, NULL},
    {"SecureClientAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_empty, NULL},
    {"TxnLogElapsedSyncTime", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_zero, NULL},
    {"JuteMaxBufferSize", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_jute_max, NULL},
    {"LastClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_last_response, NULL},
    {"MinClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_min_response, NULL},
    {"MaxClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_max_response, NULL},
    {"MaxCnxns", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_cnxns, NULL},
};

static void metrics_reset_latency(struct server *srv)
{
    srv->stats.min_latency = INT64_MAX;
    srv->stats.max_latency = 0;
    srv->stats.total_latency = 0;
    srv->stats.count = 0;
}

/* ServerStats.reset(): latency, packet counters, response sizes and the
 * ServerMetrics counters and summaries; the auth failure count survives. */
static int metrics_op_reset_statistics(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                       char *err, size_t errlen)
{
    struct server *srv = obj;
    struct server_stats *st = &srv->stats;
    (void)result, (void)scratch, (void)err, (void)errlen;
    metrics_reset_latency(srv);
    st->packets_received = 0;
    st->packets_sent = 0;
    st->last_client_response_size = -1;
    st->min_client_response_size = -1;
    st->max_client_response_size = -1;
    st->connection_drop_count = 0;
    st->sessionless_connections_expired = 0;
    st->bytes_received_count = 0;
    st->large_requests_rejected = 0;
    st->digest_mismatches_count = 0;
    metrics_reset_counters();
    return 0;
}

static int metrics_op_reset_latency(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                                    size_t errlen)
{
    (void)result, (void)scratch, (void)err, (void)errlen;
    metrics_reset_latency(obj);
    return 0;
}

static int metrics_op_reset_max_latency(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                        char *err, size_t errlen)
{
    (void)result, (void)scratch, (void)err, (void)errlen;
    ((struct server *)obj)->stats.max_latency = 0;
    return 0;
}

static int metrics_op_reset_auth_failed(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                        char *err, size_t errlen)
{
    (void)result, (void)scratch, (void)err, (void)errlen;
    ((struct server *)obj)->stats.auth_failed_count = 0;
    return 0;
}

/* Nothing to reset: zkplug counts neither fsync threshold breaches nor
 * TLS connections yet; ZooKeeper's operations exist, so these do too. */
static int metrics_op_noop(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                           size_t errlen)
{
    (void)obj, (void)result, (void)scratch, (void)err, (void)errlen;
    return 0;
}

static const struct mbean_op_desc metrics_server_ops[] = {
    {"resetStatistics", "Reset the server statistics and the ServerMetrics counters", metrics_op_reset_statistics},
    {"resetLatency", "Reset the min/avg/max request latency", metrics_op_reset_latency},
    {"resetMaxLatency", "Reset the max request latency", metrics_op_reset_max_latency},
    {"resetFsyncThresholdExceedCount", "Reset the fsync threshold exceed count", metrics_op_noop},
    {"resetNonMTLSConnCount", "Reset the non-mTLS connection counts", metrics_op_noop},
    {"resetAuthFailedCount", "Reset the authentication failure count", metrics_op_reset_auth_failed},
};

static const struct mbean_desc metrics_server_desc = {
    .type = "ZooKeeperServerMXBean",
    .attrs = metrics_server_attrs,
    .nattrs = sizeof metrics_server_attrs / sizeof metrics_server_attrs[0],
    .ops = metrics_server_ops,
    .nops = sizeof metrics_server_ops / sizeof metrics_server_ops[0],
};

/* ---------------------------------------------------------- data tree */

static int metrics_attr_last_zxid(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "0x%" PRIx64, (uint64_t)((struct server *)obj)->last_zxid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_op_data_size(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                                size_t errlen)
{
    (void)scratch, (void)err, (void)errlen;
    result->type = MBEAN_INT;
    result->i = ((struct server *)obj)->tree->data_size;
    return 0;
}

static int metrics_op_count_ephemerals(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                       char *err, size_t errlen)
{
    (void)scratch, (void)err, (void)errlen;
    result->type = MBEAN_INT;
    result->i = metrics_srv_ephemerals(obj);
    return 0;
}

static const struct mbean_attr_desc metrics_tree_attrs[] = {
    {"NodeCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_node_count, NULL},
    {"LastZxid", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_last_zxid, NULL},
    {"WatchCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_watch_count, NULL},
};

static const struct mbean_op_desc metrics_tree_ops[] = {
    {"approximateDataSize", "Bytes of znode data and paths", metrics_op_data_size},
    {"countEphemerals", "Number of ephemeral znodes", metrics_op_count_ephemerals},
};

static const struct mbean_desc metrics_tree_desc = {
    .type = "DataTreeMXBean",
    .attrs = metrics_tree_attrs,
    .nattrs = sizeof metrics_tree_attrs / sizeof metrics_tree_attrs[0],
    .ops = metrics_tree_ops,
    .nops = sizeof metrics_tree_ops / sizeof metrics_tree_ops[0],
};

/* --------------------------------------------------------- connections */

static const char *metrics_java_date(int64_t wall_ms, char *out, size_t outlen)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%a %b %d %H:%M:%S UTC %Y", &tm) == 0)
        snprintf(out, outlen, "%lld", (long long)wall_ms);
    return out;
}

#define METRICS_CONN(obj) (((struct metrics_conn_bean *)(obj))->conn)

static int metrics_conn_source_ip(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    struct conn *c = METRICS_CONN(obj);
    metrics_buf_printf(scratch, "%s:%d", c->ip, c->port);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_conn_session_id(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "0x%" PRIx64, (uint64_t)((struct metrics_conn_bean *)obj)->session_id);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_conn_started(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    char date[64];
    metrics_buf_puts(scratch, metrics_java_date(METRICS_CONN(obj)->stats.established, date, sizeof date));
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int metrics_conn_ephemerals(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    struct conn *c = METRICS_CONN(obj);
    out->n = 0;
    out->s = "";
    struct session *s = c->session;
    if (s == NULL || s->nephemerals == 0)
        return 0;
    char **paths = calloc(s->nephemerals, sizeof *paths);
    if (paths == NULL)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < s->nephemerals; i++)
        if ((paths[n] = tree_node_path_dup(s->ephemerals[i])) != NULL)
            n++;
    qsort(paths, n, sizeof *paths, metrics_path_cmp); /* ZooKeeper sorts them */
    for (size_t i = 0; i < n; i++) {
        metrics_buf_append(scratch, paths[i], strlen(paths[i]) + 1);
        free(paths[i]);
    }
    free(paths);
    out->n = scratch->oom ? 0 : n;
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

#define METRICS_CONN_INT(fn, expr)                                                                           \
    static int fn(void *obj, struct mbean_value *out, struct metrics_buf *scratch)                           \
    {                                                                                                        \
        const struct conn *c = METRICS_CONN(obj);                                                            \
        (void)scratch;                                                                                       \
        out->i = (expr);                                                                                     \
        return 0;                                                                                            \
    }

METRICS_CONN_INT(metrics_conn_packets_received, c->stats.packets_received)
METRICS_CONN_INT(metrics_conn_packets_sent, c->stats.packets_sent)
METRICS_CONN_INT(metrics_conn_outstanding, c->outstanding)
METRICS_CONN_INT(metrics_conn_timeout, c->session ? c->session->timeout : 0)
METRICS_CONN_INT(metrics_conn_min_latency,
                 c->stats.count == 0 || c->stats.min_latency == INT64_MAX ? 0 : c->stats.min_latency)
METRICS_CONN_INT(metrics_conn_avg_latency, c->stats.count == 0 ? 0 : c->stats.total_latency / c->stats.count)
METRICS_CONN_INT(metrics_conn_max_latency, c->stats.max_latency)
METRICS_CONN_INT(metrics_conn_last_latency, c->stats.last_latency)

static int metrics_conn_last_op(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    const char *op = METRICS_CONN(obj)->stats.last_op;
    out->s = op ? op : "NA";
    return 0;
}

static int metrics_conn_last_cxid(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "0x%" PRIx64, (uint64_t)METRICS_CONN(obj)->stats.last_cxid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_conn_last_zxid(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "0x%" PRIx64, (uint64_t)METRICS_CONN(obj)->stats.last_zxid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_conn_last_response(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    /* ZooKeeper shows the last response time as a date. */
    const struct conn *c = METRICS_CONN(obj);
    char date[64];
    int64_t wall = loop_wall_ms() - (int64_t)(loop_now_ms() - c->stats.last_response);
    metrics_buf_puts(scratch, c->stats.last_response ? metrics_java_date(wall, date, sizeof date) : "");
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_conn_terminate_session(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                          char *err, size_t errlen)
{
    struct metrics_conn_bean *cb = obj;
    (void)result, (void)scratch;
    struct session *s = server_session_find(cb->srv, cb->session_id);
    if (s == NULL || s->closing) {
        snprintf(err, errlen, "session 0x%" PRIx64 " is already closed", (uint64_t)cb->session_id);
        return -ENOENT;
    }
    request_close_session(cb->srv, s, NULL, 0);
    return 0;
}

static int metrics_conn_terminate_connection(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                             char *err, size_t errlen)
{
    struct metrics_conn_bean *cb = obj;
    (void)result, (void)scratch, (void)err, (void)errlen;
    if (!cb->conn->closing)
        server_close_conn(cb->srv, cb->conn, "terminateConnection (metrics bus)");
    return 0;
}

static int metrics_conn_reset(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                              size_t errlen)
{
    struct conn_stats *st = &METRICS_CONN(obj)->stats;
    (void)result, (void)scratch, (void)err, (void)errlen;
    st->packets_received = 0;
    st->packets_sent = 0;
    st->min_latency = INT64_MAX;
    st->max_latency = 0;
    st->last_op = "NA";
    st->last_cxid = -1;
    st->last_zxid = -1;
    st->last_response = 0;
    st->last_latency = 0;
    st->count = 0;
    st->total_latency = 0;
    return 0;
}

static const struct mbean_attr_desc metrics_conn_attrs[] = {
    {"SourceIP", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_source_ip, NULL},
    {"SessionId", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_session_id, NULL},
    {"StartedTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_started, NULL},
    {"EphemeralNodes", MBEAN_STRINGS, MBEAN_KIND_ATTRIBUTE, metrics_conn_ephemerals, NULL},
    {"PacketsReceived", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_conn_packets_received, NULL},
    {"PacketsSent", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_conn_packets_sent, NULL},
    {"OutstandingRequests", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_conn_outstanding, NULL},
    {"SessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_conn_timeout, NULL},
    {"MinLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_conn_min_latency, NULL},
    {"AvgLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_conn_avg_latency, NULL},
    {"MaxLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_conn_max_latency, NULL},
    {"LastOperation", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_last_op, NULL},
    {"LastCxid", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_last_cxid, NULL},
    {"LastZxid", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_last_zxid, NULL},
    {"LastResponseTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_conn_last_response, NULL},
    {"LastLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_conn_last_latency, NULL},
};

static const struct mbean_op_desc metrics_conn_ops[] = {
    {"terminateSession", "Close the session (its ephemeral nodes are deleted)", metrics_conn_terminate_session},
    {"terminateConnection", "Close the connection; the session survives", metrics_conn_terminate_connection},
    {"resetCounters", "Reset the connection's statistics", metrics_conn_reset},
};

static const struct mbean_desc metrics_conn_desc = {
    .type = "ConnectionMXBean",
    .attrs = metrics_conn_attrs,
    .nattrs = sizeof metrics_conn_attrs / sizeof metrics_conn_attrs[0],
    .ops = metrics_conn_ops,
    .nops = sizeof metrics_conn_ops / sizeof metrics_conn_ops[0],
};

static void metrics_conn_name(const struct conn *c, int64_t session_id, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN + 8];
    if (strchr(c->ip, ':') != NULL)
        mbean_quote(ip, sizeof ip, c->ip); /* ObjectName.quote for IPv6, as ConnectionBean */
    else
        snprintf(ip, sizeof ip, "%s", c->ip[0] ? c->ip : "Unknown");
    snprintf(out, outlen, "%sname2=%s,name3=0x%" PRIx64, metrics_srv.conn_prefix, ip, (uint64_t)session_id);
}

void metrics_server_sync(struct server *srv)
{
    if (!metrics_srv.open || srv != metrics_srv.srv)
        return;
    uint64_t gen = ++metrics_srv.generation;
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (!c->initialized || c->closing || c->session == NULL || c->session->closing)
            continue;
        char name[320];
        metrics_conn_name(c, c->session->id, name, sizeof name);
        struct mbean *b = mbean_find(name);
        if (b != NULL) {
            struct metrics_conn_bean *cb = b->obj;
            cb->conn = c; /* a reconnect from the same address keeps the bean */
            cb->seen = gen;
            continue;
        }
        struct metrics_conn_bean *cb = calloc(1, sizeof *cb);
        if (cb == NULL)
            continue;
        *cb = (struct metrics_conn_bean){.srv = srv, .conn = c, .session_id = c->session->id, .seen = gen};
        if (mbean_register(name, &metrics_conn_desc, cb) < 0)
            free(cb);
    }
    /* Connection beans are contiguous in name order. */
    size_t plen = strlen(metrics_srv.conn_prefix);
    for (size_t i = mbean_count(); i-- > 0;) {
        struct mbean *b = mbean_at(i);
        if (strncmp(b->name, metrics_srv.conn_prefix, plen) != 0 || b->desc != &metrics_conn_desc)
            continue;
        struct metrics_conn_bean *cb = b->obj;
        if (cb->seen == gen)
            continue;
        mbean_unregister(b->name);
        free(cb);
    }
}

static void metrics_server_drop_connections(void)
{
    size_t plen = strlen(metrics_srv.conn_prefix);
    for (size_t i = mbean_count(); i-- > 0;) {
        struct mbean *b = mbean_at(i);
        if (strncmp(b->name, metrics_srv.conn_prefix, plen) != 0 || b->desc != &metrics_conn_desc)
            continue;
        void *cb = b->obj;
        mbean_unregister(b->name);
        free(cb);
    }
}

/* ------------------------------------------------ zkplug's own beans */

struct metrics_extra_ctx {
    mbean_attr_visit_fn fn;
    void *ctx;
};

static void metrics_extra_visit(void *arg, const char *name, const struct metrics_value *v)
{
    struct metrics_extra_ctx *x = arg;
    struct mbean_value mv = {.kind = v->kind == ZKP_METRIC_COUNTER ? MBEAN_KIND_COUNTER : MBEAN_KIND_GAUGE};
    switch (v->type) {
    case METRICS_VALUE_INT: mv.type = MBEAN_INT; mv.i = v->i; break;
    case METRICS_VALUE_DOUBLE: mv.type = MBEAN_DOUBLE; mv.d = v->d; break;
    case METRICS_VALUE_TEXT: mv.type = MBEAN_STRING; mv.s = v->text; mv.kind = MBEAN_KIND_ATTRIBUTE; break;
    case METRICS_VALUE_SUMMARY: mv.type = MBEAN_SUMMARY; mv.summary = v->summary; break;
    }
    x->fn(x->ctx, name, &mv, false);
}

static void metrics_bean_extra(void *obj, mbean_attr_visit_fn fn, void *ctx)
{
    (void)obj;
    struct metrics_extra_ctx x = {fn, ctx};
    metrics_foreach_value(metrics_extra_visit, &x);
}

static int metrics_op_reset_metrics(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                                    size_t errlen)
{
    (void)obj, (void)result, (void)scratch, (void)err, (void)errlen;
    metrics_reset_counters();
    return 0;
}

static const struct mbean_op_desc metrics_metrics_ops[] = {
    {"resetStatistics", "Reset the summaries and the ServerMetrics counters", metrics_op_reset_metrics},
};

static const struct mbean_desc metrics_metrics_desc = {
    .type = "ZooKeeperMetrics",
    .ops = metrics_metrics_ops,
    .nops = 1,
    .extra = metrics_bean_extra,
};

static void metrics_latency_extra(void *obj, mbean_attr_visit_fn fn, void *ctx)
{
    (void)obj;
    for (size_t i = 0; i < metrics_op_count(); i++) {
        const struct metrics_op *op = metrics_op_at(i);
        struct mbean_value v = {.type = MBEAN_SUMMARY, .kind = MBEAN_KIND_GAUGE,
                                .summary = metrics_op_summary(op->type)};
        fn(ctx, op->name, &v, false);
    }
}

static int metrics_op_reset_op_latency(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                       char *err, size_t errlen)
{
    (void)obj, (void)result, (void)scratch, (void)err, (void)errlen;
    for (size_t i = 0; i < metrics_op_count(); i++)
        metrics_summary_reset(metrics_op_summary(metrics_op_at(i)->type));
    return 0;
}

static const struct mbean_op_desc metrics_latency_ops[] = {
    {"resetLatency", "Reset every per-opcode latency summary", metrics_op_reset_op_latency},
};

static const struct mbean_desc metrics_latency_desc = {
    .type = "RequestLatency",
    .ops = metrics_latency_ops,
    .nops = 1,
    .extra = metrics_latency_extra,
};

/* ------------------------------------------------------------- open */

static void metrics_server_refresh(void *arg)
{
    struct server *srv = arg;
    metrics_server_sync(srv);
    const char *state = metrics_srv_state(srv);
    if (metrics_srv.state == NULL || strcmp(metrics_srv.state, state) != 0) {
        mbean_notify_state(metrics_srv.server_name, state, metrics_srv.state);
        metrics_srv.state = state;
    }
}

const char *metrics_server_bean_name(void)
{
    return metrics_srv.open ? metrics_srv.server_name : NULL;
}

int metrics_server_open(struct server *srv, char *err, size_t errlen)
{
    if (metrics_srv.open)
        metrics_server_close(metrics_srv.srv);
    struct mbus_options opt;
    int rc = mbus_options_load(srv->cfg, &opt, err, errlen);
    if (rc < 0)
        return rc;
    memset(&metrics_srv, 0, sizeof metrics_srv);
    metrics_srv.srv = srv;
    metrics_srv_register_gauges(srv);
    metrics_zk_register();
    metrics_zk_set_enabled(opt.record);

    int port = srv->listener ? srv->tops->listener_port(srv->listener) : srv->cfg->client_port;
    snprintf(metrics_srv.server_name, sizeof metrics_srv.server_name, MBEAN_DOMAIN ":name0=StandaloneServer_port%d",
             port);
    snprintf(metrics_srv.tree_name, sizeof metrics_srv.tree_name, "%s,name1=InMemoryDataTree",
             metrics_srv.server_name);
    snprintf(metrics_srv.metrics_name, sizeof metrics_srv.metrics_name, "%s,name1=Metrics", metrics_srv.server_name);
    snprintf(metrics_srv.latency_name, sizeof metrics_srv.latency_name, "%s,name1=RequestLatency",
             metrics_srv.server_name);
    snprintf(metrics_srv.conn_prefix, sizeof metrics_srv.conn_prefix, "%s,name1=Connections,",
             metrics_srv.server_name);
    metrics_java_date(loop_wall_ms() - (int64_t)(loop_now_ms() - srv->start_ms), metrics_srv.start_time,
                      sizeof metrics_srv.start_time);
    metrics_srv.open = true;

    /* The bus first, so subscribers see the registrations. */
    char berr[512] = "";
    if (mbus_open(srv->loop, &opt, metrics_server_refresh, srv, berr, sizeof berr) < 0)
        log_error("%s; the server runs without it", berr);
    mbean_register(metrics_srv.server_name, &metrics_server_desc, srv);
    mbean_register(metrics_srv.tree_name, &metrics_tree_desc, srv);
    mbean_register(metrics_srv.metrics_name, &metrics_metrics_desc, srv);
    mbean_register(metrics_srv.latency_name, &metrics_latency_desc, srv);
    metrics_server_refresh(srv);
    return 0;
}

void metrics_server_close(struct server *srv)
{
    if (!metrics_srv.open || srv != metrics_srv.srv)
        return;
    if (metrics_srv.state != NULL)
        mbean_notify_state(metrics_srv.server_name, "stopped", metrics_srv.state);
    metrics_server_drop_connections();
    mbean_unregister(metrics_srv.latency_name);
    mbean_unregister(metrics_srv.metrics_name);
    mbean_unregister(metrics_srv.tree_name);
    mbean_unregister(metrics_srv.server_name);
    mbus_close();
    metrics_zk_set_enabled(false);
    metrics_zk_unregister();
    for (size_t i = 0; i < sizeof metrics_srv_gauge_names / sizeof metrics_srv_gauge_names[0]; i++)
        metrics_unregister(metrics_srv_gauge_names[i]);
    metrics_srv.open = false;
    metrics_srv.srv = NULL;
}
