/*
 * A standalone server's or an ensemble member's beans and gauges (see
 * metrics_server.h). An ensemble member's beans follow quorum_get_status,
 * polled on a short timer and before every publication and query.
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
#include "quorum.h"
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
    char server_name[192]; /* the server bean (a quorum member's role bean; "" while none) */
    char tree_name[256];
    char metrics_name[256];
    char latency_name[256];
    char conn_prefix[256]; /* "" while no server bean */
    int conn_level;        /* N of the nameN=<ip> part of connection beans */
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

/* zkServer.getState(): srvr's Mode ("leader", "follower", "observer",
 * "read-only", "looking" while no role serves) on an ensemble member. */
static const char *metrics_srv_state(void *arg)
{
    struct server *srv = arg;
    if (!srv->serving)
        return "stopped";
    return srv->qp ? quorum_mode_name(srv) : "standalone";
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

#define METRICS_SERVER_ATTRS \
    {"ClientPort", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_client_port, NULL}, \
    {"Version", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_version, NULL}, \
    {"StartTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_start_time, NULL}, \
    {"State", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_state, NULL}, \
    {"MinRequestLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_min_latency, NULL}, \
    {"AvgRequestLatency", MBEAN_DOUBLE, MBEAN_KIND_GAUGE, metrics_attr_avg_latency, NULL}, \
    {"MaxRequestLatency", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_max_latency, NULL}, \
    {"PacketsReceived", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_packets_received, NULL}, \
    {"PacketsSent", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_packets_sent, NULL}, \
    {"FsyncThresholdExceedCount", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_zero, NULL}, \
    {"AuthFailedCount", MBEAN_INT, MBEAN_KIND_COUNTER, metrics_attr_auth_failed, NULL}, \
    {"NonMTLSLocalConnCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_non_mtls_local, NULL}, \
    {"NonMTLSRemoteConnCount", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_non_mtls_remote, NULL}, \
    {"OutstandingRequests", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_outstanding, NULL}, \
    {"TickTime", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_tick_time, metrics_set_tick_time}, \
    {"MaxClientCnxnsPerHost", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_client_cnxns, \
     metrics_set_max_client_cnxns}, \
    {"MinSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_min_session, metrics_set_min_session}, \
    {"MaxSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_session, metrics_set_max_session}, \
    {"NumAliveConnections", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_alive, NULL}, \
    {"DataDirSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_data_dir_size, NULL}, \
    {"LogDirSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_log_dir_size, NULL}, \
    {"SecureClientPort", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_empty, NULL}, \
    {"SecureClientAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_empty, NULL}, \
    {"TxnLogElapsedSyncTime", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_zero, NULL}, \
    {"JuteMaxBufferSize", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_jute_max, NULL}, \
    {"LastClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_last_response, NULL}, \
    {"MinClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_min_response, NULL}, \
    {"MaxClientResponseSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_attr_max_response, NULL}, \
    {"MaxCnxns", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_cnxns, NULL}, \

static const struct mbean_attr_desc metrics_server_attrs[] = {METRICS_SERVER_ATTRS};

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

#define METRICS_SERVER_OPS \
    {"resetStatistics", "Reset the server statistics and the ServerMetrics counters", metrics_op_reset_statistics}, \
    {"resetLatency", "Reset the min/avg/max request latency", metrics_op_reset_latency}, \
    {"resetMaxLatency", "Reset the max request latency", metrics_op_reset_max_latency}, \
    {"resetFsyncThresholdExceedCount", "Reset the fsync threshold exceed count", metrics_op_noop}, \
    {"resetNonMTLSConnCount", "Reset the non-mTLS connection counts", metrics_op_noop}, \
    {"resetAuthFailedCount", "Reset the authentication failure count", metrics_op_reset_auth_failed}, \

static const struct mbean_op_desc metrics_server_ops[] = {METRICS_SERVER_OPS};

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
    snprintf(out, outlen, "%sname%d=%s,name%d=0x%" PRIx64, metrics_srv.conn_prefix, metrics_srv.conn_level, ip,
             metrics_srv.conn_level + 1, (uint64_t)session_id);
}

void metrics_server_sync(struct server *srv)
{
    if (!metrics_srv.open || srv != metrics_srv.srv || metrics_srv.conn_prefix[0] == '\0')
        return;
    uint64_t gen = ++metrics_srv.generation;
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (!c->initialized || c->closing || c->session == NULL || c->session->closing)
            continue;
        char name[400];
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
    if (metrics_srv.conn_prefix[0] == '\0')
        return;
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

/* ------------------------------------------------------------ quorum */

/*
 * An ensemble member's beans, as QuorumPeer registers them:
 *   name0=ReplicatedServer_id<N>                      QuorumBean (start .. stop)
 *   ...,name1=replica.<N>                             LocalPeerBean (start .. stop)
 *   ...,name1=replica.<M>                             RemotePeerBean, every other configured member
 *   ...,name1=replica.<N>,name2=LeaderElection        while LOOKING
 *   ...,name1=replica.<N>,name2=Leader|Follower|Observer|ReadOnlyServer
 *                                                     while the role lasts, with
 *       ,name3=InMemoryDataTree and ,name3=Connections,name4=<ip>,name5=0x<session> under it
 * zkplug's Metrics and RequestLatency beans sit under the QuorumBean, so they
 * outlive role changes. The peer is polled (quorum_get_status) every
 * METRICS_QUORUM_POLL_MS and before every publication and query.
 */
#define METRICS_QUORUM_POLL_MS 100

enum metrics_role { METRICS_ROLE_NONE, METRICS_ROLE_LEADER, METRICS_ROLE_FOLLOWER, METRICS_ROLE_OBSERVER,
                    METRICS_ROLE_READ_ONLY };

struct metrics_peer_bean {
    struct server *srv;
    int64_t id;
    bool seen;
    char name[256];
};

static struct {
    bool on;
    char quorum_name[96];
    char local_name[160];
    char election_name[192];
    char election_start[64];
    enum metrics_role role;
    uint64_t role_since; /* role_since_ms of the registered role bean */
    struct metrics_peer_bean **peers;
    size_t npeers;
    const char *state;   /* last state announced */
    int64_t leader;      /* last leader announced (-1: none) */
    int64_t elections;   /* elections seen */
    bool leader_metrics; /* leader-only registry gauges registered */
    uint64_t timer;
    int64_t looking_count;
    struct metrics_summary election_time;
    char peer_state[64];
    struct quorum_status st; /* as last polled */
} metrics_q;

static const struct fle_member *metrics_q_member(const struct server *srv, int64_t id)
{
    return srv->qp ? fle_quorum_member(&srv->qp->verifier, id) : NULL;
}

/* NetUtils.formatInetAddr: host:port, [v6]:port. */
static void metrics_q_addr(struct metrics_buf *b, const char *host, int port)
{
    if (host == NULL)
        host = "";
    if (strchr(host, ':') != NULL)
        metrics_buf_printf(b, "[%s]:%d", host, port);
    else
        metrics_buf_printf(b, "%s:%d", host, port);
}

static int metrics_q_member_str(const struct server *srv, int64_t id, int what, struct mbean_value *out,
                                struct metrics_buf *scratch)
{
    const struct fle_member *m = metrics_q_member(srv, id);
    if (m != NULL) {
        switch (what) {
        case 0: metrics_q_addr(scratch, m->host, m->quorum_port); break;
        case 1: metrics_q_addr(scratch, m->host, m->election_port); break;
        case 2:
            if (m->client_host != NULL)
                metrics_q_addr(scratch, m->client_host, m->client_port);
            break;
        default: metrics_buf_puts(scratch, m->observer ? "OBSERVER" : "PARTICIPANT"); break;
        }
    }
    out->s = scratch->oom || scratch->data == NULL ? "" : scratch->data;
    return 0;
}

/* QuorumMaj.toString(): server.N=host:q:e:role[;client] lines, then version. */
static void metrics_q_system_info(const struct server *srv, struct metrics_buf *b)
{
    const struct fle_quorum *v = &srv->qp->verifier;
    for (size_t i = 0; i < v->nmembers; i++) {
        const struct fle_member *m = &v->members[i];
        metrics_buf_printf(b, "server.%" PRId64 "=", m->id);
        metrics_q_addr(b, m->host, m->quorum_port);
        metrics_buf_printf(b, ":%d:%s", m->election_port, m->observer ? "observer" : "participant");
        if (m->client_host != NULL) {
            metrics_buf_puts(b, ";");
            metrics_q_addr(b, m->client_host, m->client_port);
        }
        metrics_buf_puts(b, "\n");
    }
    metrics_buf_printf(b, "version=%" PRIx64, (uint64_t)v->version);
}

/* QuorumBean */

static int metrics_qattr_name(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "ReplicatedServer_id%" PRId64, ((struct server *)obj)->qp->myid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_qattr_quorum_size(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = (int64_t)((struct server *)obj)->qp->verifier.nvoters;
    return 0;
}

static int metrics_qattr_init_limit(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->cfg->init_limit;
    return 0;
}

static int metrics_qattr_sync_limit(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->cfg->sync_limit;
    return 0;
}

static int metrics_qattr_false(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj, (void)scratch;
    out->b = false;
    return 0;
}

static int metrics_qattr_digest(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->b = ((struct server *)obj)->cfg->digest_enabled;
    return 0;
}

static const struct mbean_attr_desc metrics_quorum_attrs[] = {
    {"Name", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_qattr_name, NULL},
    {"QuorumSize", MBEAN_INT, MBEAN_KIND_GAUGE, metrics_qattr_quorum_size, NULL},
    {"InitLimit", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_qattr_init_limit, NULL},
    {"SyncLimit", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_qattr_sync_limit, NULL},
    {"SslQuorum", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_qattr_false, NULL},
    {"PortUnification", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_qattr_false, NULL},
    {"DigestEnabled", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_qattr_digest, NULL},
};

static const struct mbean_desc metrics_quorum_desc = {
    .type = "QuorumMXBean",
    .attrs = metrics_quorum_attrs,
    .nattrs = sizeof metrics_quorum_attrs / sizeof metrics_quorum_attrs[0],
};

/* LocalPeerBean */

static int metrics_lattr_name(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "replica.%" PRId64, ((struct server *)obj)->qp->myid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_lattr_state(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    /* QuorumPeer.getServerState(): LOOKING is "leaderelection". */
    switch (((struct server *)obj)->qp->state) {
    case ZKP_PEER_LEADING: out->s = "leading"; break;
    case ZKP_PEER_FOLLOWING: out->s = "following"; break;
    case ZKP_PEER_OBSERVING: out->s = "observing"; break;
    default: out->s = "leaderelection"; break;
    }
    return 0;
}

#define METRICS_LOCAL_STR(fn, what)                                                                          \
    static int fn(void *obj, struct mbean_value *out, struct metrics_buf *scratch)                           \
    {                                                                                                        \
        struct server *srv = obj;                                                                            \
        return metrics_q_member_str(srv, srv->qp->myid, what, out, scratch);                                 \
    }

METRICS_LOCAL_STR(metrics_lattr_quorum_address, 0)
METRICS_LOCAL_STR(metrics_lattr_election_address, 1)
METRICS_LOCAL_STR(metrics_lattr_learner_type, 3)

static int metrics_lattr_client_address(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    struct server *srv = obj;
    if (srv->listener != NULL)
        metrics_q_addr(scratch, srv->cfg->client_port_address ? srv->cfg->client_port_address : "0.0.0.0",
                       srv->tops->listener_port(srv->listener));
    out->s = scratch->oom || scratch->data == NULL ? "" : scratch->data;
    return 0;
}

static int metrics_lattr_election_type(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->cfg->election_alg;
    return 0;
}

static int metrics_lattr_config_version(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->qp->verifier.version;
    return 0;
}

static int metrics_lattr_system_info(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_q_system_info(obj, scratch);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_lattr_part_of_ensemble(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    struct server *srv = obj;
    (void)scratch;
    out->b = metrics_q_member(srv, srv->qp->myid) != NULL;
    return 0;
}

static int metrics_lattr_leader(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->b = ((struct server *)obj)->qp->state == ZKP_PEER_LEADING;
    return 0;
}

static const struct mbean_attr_desc metrics_local_attrs[] = {
    {"Name", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_name, NULL},
    {"StartTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_attr_start_time, NULL},
    {"TickTime", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_tick_time, NULL},
    {"MaxClientCnxnsPerHost", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_client_cnxns, NULL},
    {"MinSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_min_session, NULL},
    {"MaxSessionTimeout", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_session, NULL},
    {"InitLimit", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_qattr_init_limit, NULL},
    {"SyncLimit", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_qattr_sync_limit, NULL},
    {"State", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_state, NULL},
    {"QuorumAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_quorum_address, NULL},
    {"ElectionType", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_lattr_election_type, NULL},
    {"ElectionAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_election_address, NULL},
    {"ClientAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_client_address, NULL},
    {"LearnerType", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_learner_type, NULL},
    {"ConfigVersion", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_lattr_config_version, NULL},
    {"QuorumSystemInfo", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_lattr_system_info, NULL},
    {"PartOfEnsemble", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_lattr_part_of_ensemble, NULL},
    {"Leader", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_lattr_leader, NULL},
    {"MaxCnxns", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_attr_max_cnxns, NULL},
};

static const struct mbean_desc metrics_local_desc = {
    .type = "LocalPeerMXBean",
    .attrs = metrics_local_attrs,
    .nattrs = sizeof metrics_local_attrs / sizeof metrics_local_attrs[0],
};

/* RemotePeerBean */

static int metrics_rattr_name(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "replica.%" PRId64, ((struct metrics_peer_bean *)obj)->id);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

#define METRICS_REMOTE_STR(fn, what)                                                                         \
    static int fn(void *obj, struct mbean_value *out, struct metrics_buf *scratch)                           \
    {                                                                                                        \
        const struct metrics_peer_bean *pb = obj;                                                            \
        return metrics_q_member_str(pb->srv, pb->id, what, out, scratch);                                    \
    }

METRICS_REMOTE_STR(metrics_rattr_quorum_address, 0)
METRICS_REMOTE_STR(metrics_rattr_election_address, 1)
METRICS_REMOTE_STR(metrics_rattr_client_address, 2)
METRICS_REMOTE_STR(metrics_rattr_learner_type, 3)

static int metrics_rattr_leader(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    const struct metrics_peer_bean *pb = obj;
    const struct quorum_peer *qp = pb->srv->qp;
    (void)scratch;
    out->b = qp->state != ZKP_PEER_LOOKING && qp->vote.leader == pb->id;
    return 0;
}

static const struct mbean_attr_desc metrics_remote_attrs[] = {
    {"Name", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_rattr_name, NULL},
    {"QuorumAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_rattr_quorum_address, NULL},
    {"ElectionAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_rattr_election_address, NULL},
    {"ClientAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_rattr_client_address, NULL},
    {"LearnerType", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_rattr_learner_type, NULL},
    {"Leader", MBEAN_BOOL, MBEAN_KIND_ATTRIBUTE, metrics_rattr_leader, NULL},
};

static const struct mbean_desc metrics_remote_desc = {
    .type = "RemotePeerMXBean",
    .attrs = metrics_remote_attrs,
    .nattrs = sizeof metrics_remote_attrs / sizeof metrics_remote_attrs[0],
};

/* LeaderElectionBean */

static int metrics_eattr_start(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)obj, (void)scratch;
    out->s = metrics_q.election_start;
    return 0;
}

static const struct mbean_attr_desc metrics_election_attrs[] = {
    {"StartTime", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_eattr_start, NULL},
};

static const struct mbean_desc metrics_election_desc = {
    .type = "LeaderElectionMXBean",
    .attrs = metrics_election_attrs,
    .nattrs = 1,
};

/* Role beans: ZooKeeperServerBean's attributes and operations, then the
 * role's own. */

static int metrics_role_zxid(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    metrics_buf_printf(scratch, "0x%" PRIx64, (uint64_t)((struct server *)obj)->last_zxid);
    out->s = scratch->oom ? "" : scratch->data;
    return 0;
}

static int metrics_role_election_time(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    (void)scratch;
    out->i = ((struct server *)obj)->qp->last_election_ms;
    return 0;
}

/* The leader's quorum address, host:port (ZooKeeper prints the socket). */
static int metrics_role_quorum_address(void *obj, struct mbean_value *out, struct metrics_buf *scratch)
{
    const struct quorum_peer *qp = ((struct server *)obj)->qp;
    return metrics_q_member_str(obj, qp->vote.leader, 0, out, scratch);
}

/* LearnerHandler.toString() per learner, one a line. */
static int metrics_role_learner_info(struct server *srv, bool voting, struct mbean_value *result,
                                     struct metrics_buf *scratch)
{
    struct quorum_learner_info info[64];
    size_t n = quorum_get_learners(srv, info, sizeof info / sizeof info[0]);
    if (n > sizeof info / sizeof info[0])
        n = sizeof info / sizeof info[0];
    metrics_buf_puts(scratch, "");
    for (size_t i = 0; i < n; i++) {
        const struct quorum_learner_info *l = &info[i];
        /* followerInfo: participants; nonVotingFollowerInfo: followers
         * that are not voters of the current config. */
        if (voting ? (l->observer || !l->voter) : (l->observer || l->voter))
            continue;
        metrics_buf_printf(scratch,
                           "LearnerHandler Socket[addr=/%s,port=%d] sid:%" PRId64 " synced?:%s lastAckedZxid:0x%" PRIx64
                           "\n",
                           l->ip, l->port, l->sid, l->synced ? "true" : "false", (uint64_t)l->last_acked);
    }
    result->type = MBEAN_STRING;
    result->s = scratch->oom || scratch->data == NULL ? "" : scratch->data;
    return 0;
}

static int metrics_op_follower_info(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                                    size_t errlen)
{
    (void)err, (void)errlen;
    return metrics_role_learner_info(obj, true, result, scratch);
}

static int metrics_op_non_voting_info(void *obj, struct mbean_value *result, struct metrics_buf *scratch,
                                      char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return metrics_role_learner_info(obj, false, result, scratch);
}

static const struct mbean_attr_desc metrics_leader_attrs[] = {
    METRICS_SERVER_ATTRS
    {"CurrentZxid", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_role_zxid, NULL},
    {"ElectionTimeTaken", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_role_election_time, NULL},
};

static const struct mbean_op_desc metrics_leader_ops[] = {
    METRICS_SERVER_OPS
    {"followerInfo", "The voting followers' connections, one a line", metrics_op_follower_info},
    {"nonVotingFollowerInfo", "The non-voting followers' connections, one a line", metrics_op_non_voting_info},
};

static const struct mbean_desc metrics_leader_desc = {
    .type = "LeaderMXBean",
    .attrs = metrics_leader_attrs,
    .nattrs = sizeof metrics_leader_attrs / sizeof metrics_leader_attrs[0],
    .ops = metrics_leader_ops,
    .nops = sizeof metrics_leader_ops / sizeof metrics_leader_ops[0],
};

static const struct mbean_attr_desc metrics_follower_attrs[] = {
    METRICS_SERVER_ATTRS
    {"QuorumAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_role_quorum_address, NULL},
    {"LastQueuedZxid", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_role_zxid, NULL},
    {"ElectionTimeTaken", MBEAN_INT, MBEAN_KIND_ATTRIBUTE, metrics_role_election_time, NULL},
};

static const struct mbean_op_desc metrics_role_ops[] = {METRICS_SERVER_OPS};

static const struct mbean_desc metrics_follower_desc = {
    .type = "FollowerMXBean",
    .attrs = metrics_follower_attrs,
    .nattrs = sizeof metrics_follower_attrs / sizeof metrics_follower_attrs[0],
    .ops = metrics_role_ops,
    .nops = sizeof metrics_role_ops / sizeof metrics_role_ops[0],
};

static const struct mbean_attr_desc metrics_observer_attrs[] = {
    METRICS_SERVER_ATTRS
    {"QuorumAddress", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_role_quorum_address, NULL},
    {"LearnerMaster", MBEAN_STRING, MBEAN_KIND_ATTRIBUTE, metrics_role_quorum_address, NULL},
};

static const struct mbean_desc metrics_observer_desc = {
    .type = "ObserverMXBean",
    .attrs = metrics_observer_attrs,
    .nattrs = sizeof metrics_observer_attrs / sizeof metrics_observer_attrs[0],
    .ops = metrics_role_ops,
    .nops = sizeof metrics_role_ops / sizeof metrics_role_ops[0],
};

static const struct mbean_desc metrics_read_only_desc = {
    .type = "ZooKeeperServerMXBean",
    .attrs = metrics_server_attrs,
    .nattrs = sizeof metrics_server_attrs / sizeof metrics_server_attrs[0],
    .ops = metrics_role_ops,
    .nops = sizeof metrics_role_ops / sizeof metrics_role_ops[0],
};

/* Registry gauges of an ensemble member (ZooKeeper's mntr names). */

static int64_t metrics_q_quorum_size(void *arg)
{
    struct server *srv = arg;
    return srv->qp ? (int64_t)srv->qp->verifier.nvoters : 0;
}

static const char *metrics_q_peer_state(void *arg)
{
    /* QuorumPeer.getDetailedPeerState(): "leading - broadcast", "looking". */
    struct quorum_status st;
    quorum_get_status(arg, &st);
    if (strcmp(st.zab_state, "election") == 0)
        snprintf(metrics_q.peer_state, sizeof metrics_q.peer_state, "%s", st.state);
    else
        snprintf(metrics_q.peer_state, sizeof metrics_q.peer_state, "%s - %s", st.state, st.zab_state);
    return metrics_q.peer_state;
}

#define METRICS_Q_LEADER_GAUGE(fn, field)                                                                    \
    static int64_t fn(void *arg)                                                                             \
    {                                                                                                        \
        struct quorum_status st;                                                                             \
        quorum_get_status(arg, &st);                                                                         \
        return (int64_t)st.field;                                                                            \
    }

METRICS_Q_LEADER_GAUGE(metrics_q_learners, learners)
METRICS_Q_LEADER_GAUGE(metrics_q_synced_followers, synced_followers)
METRICS_Q_LEADER_GAUGE(metrics_q_synced_non_voting, synced_non_voting)
METRICS_Q_LEADER_GAUGE(metrics_q_synced_observers, synced_observers)
METRICS_Q_LEADER_GAUGE(metrics_q_pending_syncs, pending_syncs)
METRICS_Q_LEADER_GAUGE(metrics_q_last_proposal_size, proposal_last)
METRICS_Q_LEADER_GAUGE(metrics_q_min_proposal_size, proposal_min)
METRICS_Q_LEADER_GAUGE(metrics_q_max_proposal_size, proposal_max)

static int64_t metrics_q_leader_uptime(void *arg)
{
    struct quorum_status st;
    quorum_get_status(arg, &st);
    return strcmp(st.state, "leading") == 0 ? (int64_t)(loop_now_ms() - st.role_since_ms) : 0;
}

static const char *const metrics_q_leader_gauges[] = {
    "learners", "synced_followers", "synced_non_voting_followers", "synced_observers", "pending_syncs",
    "leader_uptime", "last_proposal_size", "min_proposal_size", "max_proposal_size",
};

static void metrics_q_leader_metrics(struct server *srv, bool on)
{
    if (on == metrics_q.leader_metrics)
        return;
    metrics_q.leader_metrics = on;
    if (on) {
        metrics_register_fn("learners", metrics_q_learners, srv);
        metrics_register_fn("synced_followers", metrics_q_synced_followers, srv);
        metrics_register_fn("synced_non_voting_followers", metrics_q_synced_non_voting, srv);
        metrics_register_fn("synced_observers", metrics_q_synced_observers, srv);
        metrics_register_fn("pending_syncs", metrics_q_pending_syncs, srv);
        metrics_register_fn("leader_uptime", metrics_q_leader_uptime, srv);
        metrics_register_fn("last_proposal_size", metrics_q_last_proposal_size, srv);
        metrics_register_fn("min_proposal_size", metrics_q_min_proposal_size, srv);
        metrics_register_fn("max_proposal_size", metrics_q_max_proposal_size, srv);
    } else {
        for (size_t i = 0; i < sizeof metrics_q_leader_gauges / sizeof metrics_q_leader_gauges[0]; i++)
            metrics_unregister(metrics_q_leader_gauges[i]);
    }
}

/* Remote peer beans follow the configuration (a reconfig adds or removes
 * members), as QuorumPeer.updateRemotePeerMXBeans. */
static void metrics_q_sync_peers(struct server *srv)
{
    const struct fle_quorum *v = &srv->qp->verifier;
    for (size_t i = 0; i < metrics_q.npeers; i++)
        metrics_q.peers[i]->seen = false;
    for (size_t m = 0; m < v->nmembers; m++) {
        int64_t id = v->members[m].id;
        if (id == srv->qp->myid)
            continue;
        bool have = false;
        for (size_t i = 0; i < metrics_q.npeers && !have; i++)
            if (metrics_q.peers[i]->id == id)
                have = metrics_q.peers[i]->seen = true;
        if (have)
            continue;
        struct metrics_peer_bean **np = realloc(metrics_q.peers, (metrics_q.npeers + 1) * sizeof *np);
        struct metrics_peer_bean *pb = calloc(1, sizeof *pb);
        if (np == NULL || pb == NULL) {
            if (np != NULL)
                metrics_q.peers = np;
            free(pb);
            continue;
        }
        metrics_q.peers = np;
        *pb = (struct metrics_peer_bean){.srv = srv, .id = id, .seen = true};
        snprintf(pb->name, sizeof pb->name, "%s,name1=replica.%" PRId64, metrics_q.quorum_name, id);
        if (mbean_register(pb->name, &metrics_remote_desc, pb) < 0) {
            free(pb);
            continue;
        }
        metrics_q.peers[metrics_q.npeers++] = pb;
    }
    for (size_t i = metrics_q.npeers; i-- > 0;) {
        struct metrics_peer_bean *pb = metrics_q.peers[i];
        if (pb->seen)
            continue;
        mbean_unregister(pb->name);
        free(pb);
        metrics_q.peers[i] = metrics_q.peers[--metrics_q.npeers];
    }
}

static void metrics_q_drop_peers(void)
{
    for (size_t i = 0; i < metrics_q.npeers; i++) {
        mbean_unregister(metrics_q.peers[i]->name);
        free(metrics_q.peers[i]);
    }
    free(metrics_q.peers);
    metrics_q.peers = NULL;
    metrics_q.npeers = 0;
}

static const char *const metrics_role_names[] = {"", "Leader", "Follower", "Observer", "ReadOnlyServer"};
static const struct mbean_desc *const metrics_role_descs[] = {NULL, &metrics_leader_desc, &metrics_follower_desc,
                                                               &metrics_observer_desc, &metrics_read_only_desc};

/* Unregister the role bean and what hangs under it. */
static void metrics_q_end_role(void)
{
    if (metrics_q.role == METRICS_ROLE_NONE)
        return;
    metrics_server_drop_connections();
    mbean_unregister(metrics_srv.tree_name);
    mbean_unregister(metrics_srv.server_name);
    metrics_srv.server_name[0] = metrics_srv.tree_name[0] = metrics_srv.conn_prefix[0] = '\0';
    metrics_q.role = METRICS_ROLE_NONE;
}

static void metrics_q_start_role(struct server *srv, enum metrics_role role, uint64_t since)
{
    snprintf(metrics_srv.server_name, sizeof metrics_srv.server_name, "%s,name2=%s", metrics_q.local_name,
             metrics_role_names[role]);
    snprintf(metrics_srv.tree_name, sizeof metrics_srv.tree_name, "%s,name3=InMemoryDataTree",
             metrics_srv.server_name);
    snprintf(metrics_srv.conn_prefix, sizeof metrics_srv.conn_prefix, "%s,name3=Connections,",
             metrics_srv.server_name);
    metrics_srv.conn_level = 4;
    metrics_q.role = role;
    metrics_q.role_since = since;
    mbean_register(metrics_srv.server_name, metrics_role_descs[role], srv);
    mbean_register(metrics_srv.tree_name, &metrics_tree_desc, srv);
}

/* Bring the beans, the leader-only gauges and the events in line with the
 * peer's state now. */
static void metrics_q_reconcile(struct server *srv)
{
    if (!metrics_q.on || srv->qp == NULL)
        return;
    struct quorum_status st;
    quorum_get_status(srv, &st);
    metrics_q.st = st;
    metrics_q_sync_peers(srv);

    bool looking = strcmp(st.state, "looking") == 0;
    enum metrics_role role = METRICS_ROLE_NONE;
    if (strcmp(st.state, "leading") == 0)
        role = METRICS_ROLE_LEADER;
    else if (strcmp(st.state, "following") == 0)
        role = METRICS_ROLE_FOLLOWER;
    else if (strcmp(st.state, "observing") == 0)
        role = METRICS_ROLE_OBSERVER;
    else if (st.read_only)
        role = METRICS_ROLE_READ_ONLY;

    /* A new election since the last poll, or the state changed. */
    bool new_round = st.elections != metrics_q.elections;
    bool changed = metrics_q.state == NULL || strcmp(metrics_q.state, st.state) != 0;
    metrics_q.looking_count = st.elections; /* every LOOKING runs one election */

    /* The role bean: a role that ended (even one replaced by the same role
     * between two polls) goes, the current one comes. */
    if (metrics_q.role != role || (role != METRICS_ROLE_NONE && role != METRICS_ROLE_READ_ONLY &&
                                   metrics_q.role_since != st.role_since_ms))
        metrics_q_end_role();
    /* LeaderElection: while LOOKING (ZooKeeper drops it when a role starts). */
    bool have_election = mbean_find(metrics_q.election_name) != NULL;
    if (looking && !have_election) {
        metrics_java_date(loop_wall_ms(), metrics_q.election_start, sizeof metrics_q.election_start);
        mbean_register(metrics_q.election_name, &metrics_election_desc, srv);
    } else if (!looking && have_election) {
        mbean_unregister(metrics_q.election_name);
    }
    if (role != METRICS_ROLE_NONE && metrics_q.role == METRICS_ROLE_NONE)
        metrics_q_start_role(srv, role, st.role_since_ms);
    metrics_q_leader_metrics(srv, role == METRICS_ROLE_LEADER);

    if (changed) {
        mbean_notify_state(metrics_q.local_name, st.state, metrics_q.state);
        metrics_q.state = st.state;
    }
    if (new_round && !looking && st.last_election_ms >= 0)
        metrics_summary_record(&metrics_q.election_time, st.last_election_ms);
    if (looking) {
        metrics_q.leader = -1;
    } else if (st.leader_id != metrics_q.leader || new_round) {
        metrics_q.leader = st.leader_id;
        mbean_notify_leader(metrics_q.local_name, st.leader_id);
    }
    if (!looking)
        metrics_q.elections = st.elections;
}

static void metrics_q_poll(void *arg)
{
    struct server *srv = arg;
    metrics_q.timer = 0;
    if (!metrics_q.on)
        return;
    metrics_q_reconcile(srv);
    metrics_q.timer = loop_timer_start(srv->loop, METRICS_QUORUM_POLL_MS, metrics_q_poll, srv);
}

static void metrics_q_open(struct server *srv)
{
    memset(&metrics_q, 0, sizeof metrics_q);
    metrics_q.on = true;
    metrics_q.leader = -1;
    metrics_q.elections = -1;
    snprintf(metrics_q.quorum_name, sizeof metrics_q.quorum_name, MBEAN_DOMAIN ":name0=ReplicatedServer_id%" PRId64,
             srv->qp->myid);
    snprintf(metrics_q.local_name, sizeof metrics_q.local_name, "%s,name1=replica.%" PRId64, metrics_q.quorum_name,
             srv->qp->myid);
    snprintf(metrics_q.election_name, sizeof metrics_q.election_name, "%s,name2=LeaderElection",
             metrics_q.local_name);
    metrics_summary_init(&metrics_q.election_time, METRICS_SUMMARY_BASIC);
    metrics_register_fn("quorum_size", metrics_q_quorum_size, srv);
    metrics_register_text_fn("peer_state", metrics_q_peer_state, srv);
    metrics_register("looking_count", ZKP_METRIC_COUNTER, &metrics_q.looking_count);
    metrics_register_summary("election_time", &metrics_q.election_time);
    mbean_register(metrics_q.quorum_name, &metrics_quorum_desc, srv);
    mbean_register(metrics_q.local_name, &metrics_local_desc, srv);
    metrics_q_reconcile(srv);
    metrics_q.timer = loop_timer_start(srv->loop, METRICS_QUORUM_POLL_MS, metrics_q_poll, srv);
}

static void metrics_q_close(struct server *srv)
{
    if (!metrics_q.on)
        return;
    if (metrics_q.timer)
        loop_timer_cancel(srv->loop, metrics_q.timer);
    metrics_q.timer = 0;
    if (metrics_q.state != NULL)
        mbean_notify_state(metrics_q.local_name, "stopped", metrics_q.state);
    metrics_q_end_role();
    metrics_q_leader_metrics(srv, false);
    mbean_unregister(metrics_q.election_name);
    metrics_q_drop_peers();
    mbean_unregister(metrics_q.local_name);
    mbean_unregister(metrics_q.quorum_name);
    metrics_unregister("quorum_size");
    metrics_unregister("peer_state");
    metrics_unregister_bound("looking_count", &metrics_q.looking_count);
    metrics_unregister_bound("election_time", &metrics_q.election_time);
    metrics_q.on = false;
}

/* ------------------------------------------------------------- open */

static void metrics_server_refresh(void *arg)
{
    struct server *srv = arg;
    if (metrics_q.on) {
        metrics_q_reconcile(srv);
        metrics_server_sync(srv);
        return;
    }
    metrics_server_sync(srv);
    const char *state = metrics_srv_state(srv);
    if (metrics_srv.state == NULL || strcmp(metrics_srv.state, state) != 0) {
        mbean_notify_state(metrics_srv.server_name, state, metrics_srv.state);
        metrics_srv.state = state;
    }
}

const char *metrics_server_bean_name(void)
{
    return metrics_srv.open && metrics_srv.server_name[0] ? metrics_srv.server_name : NULL;
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

    metrics_java_date(loop_wall_ms() - (int64_t)(loop_now_ms() - srv->start_ms), metrics_srv.start_time,
                      sizeof metrics_srv.start_time);
    metrics_srv.open = true;

    /* The bus first, so subscribers see the registrations. */
    char berr[512] = "";
    if (mbus_open(srv->loop, &opt, metrics_server_refresh, srv, berr, sizeof berr) < 0)
        log_error("%s; the server runs without it", berr);
    if (srv->qp != NULL) {
        /* An ensemble member: no StandaloneServer bean; the quorum beans,
         * and zkplug's own beans under the QuorumBean. */
        metrics_q_open(srv);
        snprintf(metrics_srv.metrics_name, sizeof metrics_srv.metrics_name, "%s,name1=Metrics",
                 metrics_q.quorum_name);
        snprintf(metrics_srv.latency_name, sizeof metrics_srv.latency_name, "%s,name1=RequestLatency",
                 metrics_q.quorum_name);
        mbean_register(metrics_srv.metrics_name, &metrics_metrics_desc, srv);
        mbean_register(metrics_srv.latency_name, &metrics_latency_desc, srv);
        metrics_server_refresh(srv);
        return 0;
    }
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
    metrics_srv.conn_level = 2;
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
    if (metrics_q.on) {
        metrics_q_close(srv);
    } else {
        if (metrics_srv.state != NULL)
            mbean_notify_state(metrics_srv.server_name, "stopped", metrics_srv.state);
        metrics_server_drop_connections();
        mbean_unregister(metrics_srv.tree_name);
        mbean_unregister(metrics_srv.server_name);
    }
    mbean_unregister(metrics_srv.latency_name);
    mbean_unregister(metrics_srv.metrics_name);
    mbus_close();
    metrics_zk_set_enabled(false);
    metrics_zk_unregister();
    for (size_t i = 0; i < sizeof metrics_srv_gauge_names / sizeof metrics_srv_gauge_names[0]; i++)
        metrics_unregister(metrics_srv_gauge_names[i]);
    metrics_srv.open = false;
    metrics_srv.srv = NULL;
}
