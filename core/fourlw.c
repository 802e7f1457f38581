/*
 * Four-letter words: the plain-text admin commands a client sends as the first
 * four bytes of a connection (ruok, srvr, stat, mntr, ...), answered in
 * ZooKeeper 3.8's exact text formats so that zkServer.sh, monitoring scripts
 * and exporters written for ZooKeeper work unchanged.
 *
 * Entry points, both called by the connection code on the loop thread before
 * the connection has sent a ConnectRequest:
 *   fourlw_is_command  does this 4-byte big-endian code name a command?
 *   fourlw_run /       append the response (raw bytes, no framing) to out;
 *   fourlw_run_with_arg  the caller sends it and closes the connection.
 *                      stmk needs its 8-byte mask, so it must come through
 *                      fourlw_run_with_arg.
 *
 * Decisions that follow ZooKeeper, including its quirks:
 * - The whitelist (4lw.commands.whitelist) is consulted before anything else;
 *   srvr is always allowed, isro too when readonlymode.enabled is set. Even
 *   the telnet close sequence is subject to it, under the name "telnet close".
 * - The asking connection counts one received packet and is listed by stat,
 *   cons and dump like any other (with interest ops 0: it no longer reads).
 * - conf/dirs report the txn-log directory's size as the data dir size and
 *   the snapshot directory's size as the log dir size.
 * - wchs/wchc/wchp report data watches only (ZooKeeper dumps its dataWatches
 *   table); mntr's watch_count counts both tables.
 * - Commands that read server state answer "This ZooKeeper instance is not
 *   currently serving requests" while the server is not serving; ruok, envi,
 *   gtmk and stmk always answer, isro answers "null".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include "server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <net/if.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "registry.h"

/* ------------------------------------------------------------ command table */

#define FOURLW_CODE(s) \
    (((uint32_t)(uint8_t)(s)[0] << 24) | ((uint32_t)(uint8_t)(s)[1] << 16) | \
     ((uint32_t)(uint8_t)(s)[2] << 8) | (uint32_t)(uint8_t)(s)[3])

enum fourlw_cmd {
    FOURLW_CONF,
    FOURLW_CONS,
    FOURLW_CRST,
    FOURLW_DIRS,
    FOURLW_DUMP,
    FOURLW_ENVI,
    FOURLW_GTMK,
    FOURLW_HASH,
    FOURLW_ISRO,
    FOURLW_MNTR,
    FOURLW_RUOK,
    FOURLW_SRST,
    FOURLW_SRVR,
    FOURLW_STAT,
    FOURLW_STMK,
    FOURLW_WCHC,
    FOURLW_WCHP,
    FOURLW_WCHS,
    FOURLW_TELNET_CLOSE,
    FOURLW_NCMDS
};

#define FOURLW_TELNET_CLOSE_CODE 0xfff4fffdu

static const struct {
    uint32_t code;
    const char *name; /* as in the whitelist and the refusal message */
} fourlw_commands[FOURLW_NCMDS] = {
    [FOURLW_CONF] = {FOURLW_CODE("conf"), "conf"},
    [FOURLW_CONS] = {FOURLW_CODE("cons"), "cons"},
    [FOURLW_CRST] = {FOURLW_CODE("crst"), "crst"},
    [FOURLW_DIRS] = {FOURLW_CODE("dirs"), "dirs"},
    [FOURLW_DUMP] = {FOURLW_CODE("dump"), "dump"},
    [FOURLW_ENVI] = {FOURLW_CODE("envi"), "envi"},
    [FOURLW_GTMK] = {FOURLW_CODE("gtmk"), "gtmk"},
    [FOURLW_HASH] = {FOURLW_CODE("hash"), "hash"},
    [FOURLW_ISRO] = {FOURLW_CODE("isro"), "isro"},
    [FOURLW_MNTR] = {FOURLW_CODE("mntr"), "mntr"},
    [FOURLW_RUOK] = {FOURLW_CODE("ruok"), "ruok"},
    [FOURLW_SRST] = {FOURLW_CODE("srst"), "srst"},
    [FOURLW_SRVR] = {FOURLW_CODE("srvr"), "srvr"},
    [FOURLW_STAT] = {FOURLW_CODE("stat"), "stat"},
    [FOURLW_STMK] = {FOURLW_CODE("stmk"), "stmk"},
    [FOURLW_WCHC] = {FOURLW_CODE("wchc"), "wchc"},
    [FOURLW_WCHP] = {FOURLW_CODE("wchp"), "wchp"},
    [FOURLW_WCHS] = {FOURLW_CODE("wchs"), "wchs"},
    [FOURLW_TELNET_CLOSE] = {FOURLW_TELNET_CLOSE_CODE, "telnet close"},
};

static const char fourlw_not_serving[] = "This ZooKeeper instance is not currently serving requests";

static int fourlw_find(uint32_t code)
{
    for (int i = 0; i < FOURLW_NCMDS; i++)
        if (fourlw_commands[i].code == code)
            return i;
    return -1;
}

bool fourlw_is_command(uint32_t code)
{
    return fourlw_find(code) >= 0;
}

/* ---------------------------------------------------------------- whitelist */

static bool fourlw_is_space(char ch)
{
    /* Java's String.trim() strips every char <= ' '. */
    return (unsigned char)ch <= ' ';
}

/* Bit i set = fourlw_commands[i] enabled. Parsed on every call: it is a short
 * string, and commands are rare. */
static uint32_t fourlw_whitelist(const struct zk_config *cfg)
{
    uint32_t mask = 0;
    const char *list = cfg ? cfg->four_lw_whitelist : NULL;
    while (list && *list) {
        const char *end = strchr(list, ',');
        if (end == NULL)
            end = list + strlen(list);
        const char *b = list, *e = end;
        while (b < e && fourlw_is_space(*b))
            b++;
        while (e > b && fourlw_is_space(e[-1]))
            e--;
        size_t n = (size_t)(e - b);
        if (n == 1 && *b == '*') {
            /* ZooKeeper stops reading the list at the first "*". */
            mask = (1u << FOURLW_NCMDS) - 1;
            break;
        }
        for (int i = 0; i < FOURLW_NCMDS; i++)
            if (strlen(fourlw_commands[i].name) == n && memcmp(fourlw_commands[i].name, b, n) == 0)
                mask |= 1u << i;
        list = *end ? end + 1 : end;
    }
    if (cfg && cfg->readonly_mode_enabled)
        mask |= 1u << FOURLW_ISRO;
    /* zkServer.sh status depends on srvr. */
    mask |= 1u << FOURLW_SRVR;
    return mask;
}

/* ------------------------------------------------------------ text helpers */

static void fourlw_puts(jute_writer *out, const char *s)
{
    jute_write_raw(out, s, strlen(s));
}

static void fourlw_printf(jute_writer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fourlw_printf(jute_writer *out, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        jute_write_raw(out, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        out->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jute_write_raw(out, big, (size_t)n);
    free(big);
}

/* Java's Long.toHexString: two's complement, lower case, no padding. */
static uint64_t fourlw_hex(int64_t v)
{
    return (uint64_t)v;
}

/*
 * ZooKeeper's average latency: total/count rounded HALF_UP to 4 decimals
 * (AvgMinMaxCounter.getAvg), printed by Java's Double.toString, which gives
 * the shortest digits with at least one decimal ("0.0", "1.5", "26.6667")
 * and switches to "1.0E7" notation from 10^7 up.
 */
static void fourlw_format_avg(int64_t total, int64_t count, char *buf, size_t cap)
{
    if (count <= 0 || total <= 0) {
        snprintf(buf, cap, "0.0");
        return;
    }
    __int128 scaled = (__int128)total * 10000;
    __int128 q = scaled / count;
    if ((scaled % count) * 2 >= count)
        q++;
    uint64_t ip = (uint64_t)(q / 10000);
    unsigned frac = (unsigned)(q % 10000);
    char fd[8];
    snprintf(fd, sizeof fd, "%04u", frac);
    size_t fl = strlen(fd);
    while (fl > 0 && fd[fl - 1] == '0')
        fd[--fl] = '\0';
    if (ip < 10000000u) {
        snprintf(buf, cap, "%" PRIu64 ".%s", ip, fl ? fd : "0");
        return;
    }
    char digits[48];
    int il = snprintf(digits, sizeof digits, "%" PRIu64 "%s", ip, fd);
    size_t dl = (size_t)il;
    while (dl > 1 && digits[dl - 1] == '0')
        digits[--dl] = '\0';
    int exponent = snprintf(NULL, 0, "%" PRIu64, ip) - 1;
    snprintf(buf, cap, "%c.%sE%d", digits[0], dl > 1 ? digits + 1 : "0", exponent);
}

/* "3.8.0-zkplug-0.1.0, built on 2025-01-31 12:00 UTC": clients and scripts
 * parse the leading ZooKeeper version. The compiler gives the build time in
 * its local zone; it is converted assuming the server runs in the same zone. */
static const char *fourlw_version(void)
{
    static char version[128];
    if (version[0])
        return version;
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = {0};
    struct tm tm = {0};
    char built[40] = "unknown";
    if (sscanf(__DATE__, "%3s %d %d", mon, &tm.tm_mday, &tm.tm_year) == 3 &&
        sscanf(__TIME__, "%d:%d:%d", &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 3) {
        const char *m = strstr(months, mon);
        tm.tm_mon = m ? (int)(m - months) / 3 : 0;
        tm.tm_year -= 1900;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        struct tm utc;
        if (t != (time_t)-1 && gmtime_r(&t, &utc))
            strftime(built, sizeof built, "%Y-%m-%d %H:%M UTC", &utc);
    }
    snprintf(version, sizeof version, "%s-zkplug-%s, built on %s", ZKPLUG_ZK_VERSION, ZKPLUG_VERSION, built);
    return version;
}

/*
 * The remote address as Java 17 prints an InetSocketAddress without a host
 * name: "/127.0.0.1:52712", and for IPv6 the uncompressed groups in brackets,
 * "/[0:0:0:0:0:0:0:1]:52712". IPv4-mapped addresses print as IPv4, as Java
 * turns them into Inet4Address.
 */
static void fourlw_addr(const struct conn *c, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    snprintf(ip, sizeof ip, "%s", c->ip);
    char *scope = strchr(ip, '%');
    if (scope)
        *scope++ = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, ip, &a6) != 1) {
        snprintf(buf, cap, "/%s:%d", c->ip, c->port);
        return;
    }
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        char v4[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof v4)) {
            snprintf(buf, cap, "/%s:%d", v4, c->port);
            return;
        }
    }
    char full[48];
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(full + n, sizeof full - n, "%s%x", i ? ":" : "",
                              (unsigned)((a6.s6_addr[2 * i] << 8) | a6.s6_addr[2 * i + 1]));
    snprintf(buf, cap, "/[%s%s%s]:%d", full, scope ? "%" : "", scope ? scope : "", c->port);
}

/* Java's Date.toString(): "Thu Nov 26 17:47:48 UTC 2026", in the server's zone. */
static void fourlw_java_date(int64_t wall_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL || strftime(buf, cap, "%a %b %d %H:%M:%S %Z %Y", &tm) == 0)
        snprintf(buf, cap, "%" PRId64, wall_ms);
}

/* A monotonic deadline as wall-clock ms (ZooKeeper's Time.elapsedTimeToDate). */
static int64_t fourlw_wall_of(uint64_t mono_ms)
{
    return loop_wall_ms() + ((int64_t)mono_ms - (int64_t)loop_now_ms());
}

/* Connections oldest first: the list is kept newest first. */
static struct conn *fourlw_oldest_conn(struct server *srv)
{
    struct conn *c = srv->conns;
    while (c && c->next)
        c = c->next;
    return c;
}

static int64_t fourlw_session_id(const struct conn *c)
{
    return c->session ? c->session->id : 0;
}

/* ------------------------------------------------------ connection info */

/* ServerCnxn.dumpConnectionInfo: the brief part for stat, the full one (when
 * the connection has a session) for cons. No trailing newline. */
static void fourlw_conn_info(const struct conn *c, const struct conn *self, bool brief, jute_writer *out)
{
    char addr[128];
    fourlw_addr(c, addr, sizeof addr);
    /* A connection that will read no more (the asker, one being closed) has
     * no interest ops left; every other one waits to read. */
    int interest = (c == self || c->closing || c->tc == NULL) ? 0 : 1;
    const struct conn_stats *st = &c->stats;
    fourlw_printf(out, " %s[%x](queued=%" PRId32 ",recved=%" PRId64 ",sent=%" PRId64, addr, interest,
                  c->outstanding, st->packets_received, st->packets_sent);
    int64_t sid = fourlw_session_id(c);
    if (!brief && sid != 0) {
        fourlw_printf(out, ",sid=0x%" PRIx64 ",lop=%s,est=%" PRId64 ",to=%" PRId32, fourlw_hex(sid),
                      st->last_op ? st->last_op : "NA", st->established, c->session->timeout);
        if (st->last_cxid >= 0)
            fourlw_printf(out, ",lcxid=0x%" PRIx64, fourlw_hex(st->last_cxid));
        int64_t minlat = st->min_latency == INT64_MAX ? 0 : st->min_latency;
        /* The per-connection average is a long division in ServerCnxn. */
        int64_t avglat = st->count == 0 ? 0 : st->total_latency / st->count;
        fourlw_printf(out,
                      ",lzxid=0x%" PRIx64 ",lresp=%" PRIu64 ",llat=%" PRId64 ",minlat=%" PRId64
                      ",avglat=%" PRId64 ",maxlat=%" PRId64,
                      fourlw_hex(st->last_zxid), st->last_response, st->last_latency, minlat, avglat,
                      st->max_latency);
    }
    fourlw_puts(out, ")");
}

static void fourlw_conn_reset(struct conn *c)
{
    struct conn_stats *st = &c->stats;
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
}

/* -------------------------------------------------------- srvr and stat */

static int64_t fourlw_min_latency(const struct server *srv)
{
    const struct server_stats *st = &srv->stats;
    return st->count == 0 || st->min_latency == INT64_MAX ? 0 : st->min_latency;
}

static int64_t fourlw_max_latency(const struct server *srv)
{
    const struct server_stats *st = &srv->stats;
    return st->count == 0 || st->max_latency < 0 ? 0 : st->max_latency;
}

static int64_t fourlw_outstanding(const struct server *srv)
{
    int64_t n = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        n += c->outstanding;
    return n;
}

static void fourlw_srvr(struct server *srv, struct conn *self, bool clients, jute_writer *out)
{
    fourlw_printf(out, "Zookeeper version: %s\n", fourlw_version());
    if (clients) {
        fourlw_puts(out, "Clients:\n");
        for (struct conn *c = fourlw_oldest_conn(srv); c; c = c->prev) {
            fourlw_conn_info(c, self, true, out);
            fourlw_puts(out, "\n");
        }
        fourlw_puts(out, "\n");
    }
    char avg[64];
    fourlw_format_avg(srv->stats.total_latency, srv->stats.count, avg, sizeof avg);
    fourlw_printf(out, "Latency min/avg/max: %" PRId64 "/%s/%" PRId64 "\n", fourlw_min_latency(srv), avg,
                  fourlw_max_latency(srv));
    fourlw_printf(out, "Received: %" PRId64 "\n", srv->stats.packets_received);
    fourlw_printf(out, "Sent: %" PRId64 "\n", srv->stats.packets_sent);
    fourlw_printf(out, "Connections: %zu\n", srv->nconns);
    fourlw_printf(out, "Outstanding: %" PRId64 "\n", fourlw_outstanding(srv));
    fourlw_printf(out, "Zxid: 0x%" PRIx64 "\n", fourlw_hex(srv->last_zxid));
    fourlw_puts(out, "Mode: standalone\n");
    /* ZooKeeper counts the root twice ("" and "/"). */
    fourlw_printf(out, "Node count: %zu\n", srv->tree ? srv->tree->count + 1 : 0);
}

/* ZooKeeper's ServerStats.reset(): latency, packet counters, response sizes
 * and the ServerMetrics counters; the auth failure count survives. */
static void fourlw_srst(struct server *srv)
{
    struct server_stats *st = &srv->stats;
    st->packets_received = 0;
    st->packets_sent = 0;
    st->min_latency = INT64_MAX;
    st->max_latency = 0;
    st->total_latency = 0;
    st->count = 0;
    st->last_client_response_size = -1;
    st->min_client_response_size = -1;
    st->max_client_response_size = -1;
    st->connection_drop_count = 0;
    st->sessionless_connections_expired = 0;
    st->bytes_received_count = 0;
    st->large_requests_rejected = 0;
    st->digest_mismatches_count = 0;
}

/* ---------------------------------------------------------- conf and dirs */

/* dir + "/version-2" as Java's File.getAbsolutePath prints it: relative to
 * the working directory, without repeated or trailing separators. */
static char *fourlw_version_dir(const char *dir)
{
    if (dir == NULL)
        return NULL;
    char cwd[4096] = "";
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        cwd[0] = '\0';
    size_t cap = strlen(cwd) + strlen(dir) + sizeof "//version-2";
    char *raw = malloc(cap), *clean = malloc(cap);
    if (raw == NULL || clean == NULL) {
        free(raw);
        free(clean);
        return NULL;
    }
    snprintf(raw, cap, "%s%s%s/version-2", cwd, cwd[0] ? "/" : "", dir);
    size_t n = 0;
    for (const char *p = raw; *p; p++)
        if (!(*p == '/' && n > 0 && clean[n - 1] == '/'))
            clean[n++] = *p;
    clean[n] = '\0';
    free(raw);
    return clean;
}

static int64_t fourlw_dir_total; /* nftw has no user pointer; loop thread only */

static int fourlw_dir_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        fourlw_dir_total += st->st_size;
    return 0;
}

/* ZooKeeper's getDirSize: file lengths summed recursively, 0 when missing. */
static int64_t fourlw_dir_size(const char *dir)
{
    fourlw_dir_total = 0;
    /* A missing directory fails the walk with nothing counted: size 0. */
    if (dir != NULL)
        (void)nftw(dir, fourlw_dir_visit, 8, FTW_PHYS);
    return fourlw_dir_total;
}

struct fourlw_dirs {
    char *snap_dir, *log_dir;
    int64_t snap_size, log_size;
};

static void fourlw_dirs_init(const struct server *srv, struct fourlw_dirs *d)
{
    const struct zk_config *cfg = srv->cfg;
    d->snap_dir = fourlw_version_dir(cfg->data_dir);
    d->log_dir = fourlw_version_dir(cfg->data_log_dir ? cfg->data_log_dir : cfg->data_dir);
    d->snap_size = fourlw_dir_size(d->snap_dir);
    d->log_size = fourlw_dir_size(d->log_dir);
}

static void fourlw_dirs_fini(struct fourlw_dirs *d)
{
    free(d->snap_dir);
    free(d->log_dir);
}

static void fourlw_conf(struct server *srv, jute_writer *out)
{
    const struct zk_config *cfg = srv->cfg;
    struct fourlw_dirs d;
    fourlw_dirs_init(srv, &d);
    fourlw_printf(out, "clientPort=%d\n", cfg->client_port);
    fourlw_printf(out, "secureClientPort=%d\n", cfg->secure_client_port > 0 ? cfg->secure_client_port : -1);
    /* The size swap is ZooKeeper's (dumpConf pairs each directory with the
     * other one's size); scripts written against it expect it. */
    fourlw_printf(out, "dataDir=%s\n", d.snap_dir ? d.snap_dir : "");
    fourlw_printf(out, "dataDirSize=%" PRId64 "\n", d.log_size);
    fourlw_printf(out, "dataLogDir=%s\n", d.log_dir ? d.log_dir : "");
    fourlw_printf(out, "dataLogSize=%" PRId64 "\n", d.snap_size);
    fourlw_printf(out, "tickTime=%d\n", cfg->tick_time);
    fourlw_printf(out, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
    fourlw_printf(out, "minSessionTimeout=%d\n", cfg->min_session_timeout);
    fourlw_printf(out, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
    fourlw_printf(out, "clientPortListenBacklog=%d\n", cfg->client_port_listen_backlog);
    fourlw_puts(out, "serverId=0\n");
    fourlw_dirs_fini(&d);
}

static void fourlw_dirs(struct server *srv, jute_writer *out)
{
    struct fourlw_dirs d;
    fourlw_dirs_init(srv, &d);
    fourlw_printf(out, "datadir_size: %" PRId64 "\n", d.log_size);
    fourlw_printf(out, "logdir_size: %" PRId64 "\n", d.snap_size);
    fourlw_dirs_fini(&d);
}

/* ------------------------------------------------------------------- envi */

/* Resident set size in bytes, 0 when /proc is unavailable. */
static int64_t fourlw_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (int64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The memory the process may grow to: its address-space limit, else the
 * machine's physical memory. */
static int64_t fourlw_memory_max(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return (int64_t)rl.rlim_cur;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page : 0;
}

static void fourlw_env_line(jute_writer *out, const char *key, const char *value)
{
    /* "<NA>" is what ZooKeeper prints for a property it cannot read. */
    fourlw_printf(out, "%s=%s\n", key, value && *value ? value : "<NA>");
}

static void fourlw_envi(jute_writer *out)
{
    fourlw_puts(out, "Environment:\n");
    fourlw_env_line(out, "zookeeper.version", fourlw_version());
    /* The plain host name: ZooKeeper asks for the canonical name, but that
     * is a DNS lookup and would stall the loop. */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    fourlw_env_line(out, "host.name", host);
    /* There is no JVM: the java.* keys stay, for parsers that expect the
     * full set, with ZooKeeper's value for an unknown property. */
    fourlw_env_line(out, "java.version", NULL);
    fourlw_env_line(out, "java.vendor", NULL);
    fourlw_env_line(out, "java.home", NULL);
    fourlw_env_line(out, "java.class.path", NULL);
    fourlw_env_line(out, "java.library.path", NULL);
    const char *tmp = getenv("TMPDIR");
    fourlw_env_line(out, "java.io.tmpdir", tmp && *tmp ? tmp : "/tmp");
    fourlw_env_line(out, "java.compiler", NULL);
    struct utsname u;
    bool have_uname = uname(&u) == 0;
    fourlw_env_line(out, "os.name", have_uname ? u.sysname : NULL);
    /* Java names x86_64 "amd64". */
    const char *arch = have_uname ? u.machine : NULL;
    if (arch && strcmp(arch, "x86_64") == 0)
        arch = "amd64";
    fourlw_env_line(out, "os.arch", arch);
    fourlw_env_line(out, "os.version", have_uname ? u.release : NULL);
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];
    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &pwp) != 0)
        pwp = NULL;
    const char *home = getenv("HOME");
    fourlw_env_line(out, "user.name", pwp ? pwp->pw_name : getenv("USER"));
    fourlw_env_line(out, "user.home", pwp ? pwp->pw_dir : home);
    char cwd[4096];
    fourlw_env_line(out, "user.dir", getcwd(cwd, sizeof cwd) ? cwd : NULL);
    /* Java reports its heap; the closest honest figures for a C process are
     * the resident set (total), the limit it may grow to (max) and the
     * difference (free). */
    int64_t mb = 1024 * 1024;
    int64_t total = fourlw_rss(), max = fourlw_memory_max();
    int64_t free_mem = max > total ? max - total : 0;
    fourlw_printf(out, "os.memory.free=%" PRId64 "MB\n", free_mem / mb);
    fourlw_printf(out, "os.memory.max=%" PRId64 "MB\n", max / mb);
    fourlw_printf(out, "os.memory.total=%" PRId64 "MB\n", total / mb);
}

/* ---------------------------------------------------------------- watches */

static size_t fourlw_data_watch_count(const struct server *srv, const struct conn *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->watcher.nrefs; i++)
        if (c->watcher.refs[i].table == &srv->data_watches)
            n++;
    return n;
}

static void fourlw_wchs(struct server *srv, jute_writer *out)
{
    size_t watchers = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        if (fourlw_data_watch_count(srv, c) > 0)
            watchers++;
    fourlw_printf(out, "%zu connections watching %zu paths\nTotal watches:%zu\n", watchers,
                  srv->data_watches.npaths, srv->data_watches.nwatches);
}

static void fourlw_wchc(struct server *srv, jute_writer *out)
{
    for (struct conn *c = fourlw_oldest_conn(srv); c; c = c->prev) {
        if (fourlw_data_watch_count(srv, c) == 0)
            continue;
        fourlw_printf(out, "0x%" PRIx64 "\n", fourlw_hex(fourlw_session_id(c)));
        for (size_t i = 0; i < c->watcher.nrefs; i++) {
            const struct watch_ref *r = &c->watcher.refs[i];
            if (r->table != &srv->data_watches)
                continue;
            fourlw_puts(out, "\t");
            jute_write_raw(out, r->path->path, r->path->len);
            fourlw_puts(out, "\n");
        }
    }
    fourlw_puts(out, "\n");
}

struct fourlw_wchp_state {
    jute_writer *out;
    const char *last_path;
};

static void fourlw_wchp_visit(void *arg, const char *path, size_t len, struct watcher *w, enum watch_mode mode)
{
    struct fourlw_wchp_state *st = arg;
    (void)mode;
    /* The table visits a path's watchers one after another, so a new path
     * pointer starts a new group. */
    if (path != st->last_path) {
        jute_write_raw(st->out, path, len);
        fourlw_puts(st->out, "\n");
        st->last_path = path;
    }
    const struct conn *c = (const struct conn *)((const char *)w - offsetof(struct conn, watcher));
    fourlw_printf(st->out, "\t0x%" PRIx64 "\n", fourlw_hex(fourlw_session_id(c)));
}

static void fourlw_wchp(struct server *srv, jute_writer *out)
{
    struct fourlw_wchp_state st = {.out = out, .last_path = NULL};
    watch_foreach(&srv->data_watches, fourlw_wchp_visit, &st);
    fourlw_puts(out, "\n");
}

/* ------------------------------------------------------------------- dump */

struct fourlw_expiry {
    uint64_t at; /* monotonic ms */
    int64_t id;  /* session id */
    const struct conn *conn;
};

static int fourlw_expiry_cmp(const void *a, const void *b)
{
    const struct fourlw_expiry *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ExpiryQueue.dump: "Sets (<buckets>)/(<elements>):" then, per deadline in
 * order, "<n> expire at <date>:" and one tab-indented line per element. */
static void fourlw_dump_expiry(jute_writer *out, struct fourlw_expiry *e, size_t n, bool conns)
{
    qsort(e, n, sizeof *e, fourlw_expiry_cmp);
    size_t buckets = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || e[i].at != e[i - 1].at)
            buckets++;
    fourlw_printf(out, "Sets (%zu)/(%zu):\n", buckets, n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && e[j].at == e[i].at)
            j++;
        char date[64];
        fourlw_java_date(fourlw_wall_of(e[i].at), date, sizeof date);
        fourlw_printf(out, "%zu expire at %s:\n", j - i, date);
        for (; i < j; i++) {
            if (conns) {
                char addr[128];
                fourlw_addr(e[i].conn, addr, sizeof addr);
                fourlw_printf(out, "\tip: %s sessionId: 0x%" PRIx64 "\n", addr, fourlw_hex(e[i].id));
            } else {
                fourlw_printf(out, "\t0x%" PRIx64 "\n", fourlw_hex(e[i].id));
            }
        }
    }
}

static void fourlw_dump(struct server *srv, jute_writer *out)
{
    size_t n = srv->nsessions > srv->nconns ? srv->nsessions : srv->nconns;
    struct fourlw_expiry *e = calloc(n ? n : 1, sizeof *e);
    if (e == NULL) {
        out->oom = true;
        return;
    }

    fourlw_puts(out, "SessionTracker dump:\nSession ");
    size_t k = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s && k < n; s = s->hash_next)
            e[k++] = (struct fourlw_expiry){.at = s->expire_at, .id = s->id};
    fourlw_dump_expiry(out, e, k, false);

    fourlw_puts(out, "ephemeral nodes dump:\n");
    size_t owners = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            owners += s->nephemerals > 0;
    fourlw_printf(out, "Sessions with Ephemerals (%zu):\n", owners);
    for (size_t b = 0; b < srv->session_nbuckets; b++) {
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next) {
            if (s->nephemerals == 0)
                continue;
            fourlw_printf(out, "0x%" PRIx64 ":\n", fourlw_hex(s->id));
            for (size_t i = 0; i < s->nephemerals; i++) {
                char *path = tree_node_path_dup(s->ephemerals[i]);
                if (path == NULL) {
                    out->oom = true;
                    continue;
                }
                fourlw_printf(out, "\t%s\n", path);
                free(path);
            }
        }
    }

    /* NIOServerCnxnFactory's connection expiry: each connection is due one
     * timeout (its session's, else the sessionless one) after its last
     * activity, rounded up to the sessionless timeout. */
    fourlw_puts(out, "Connections dump:\nConnections ");
    int64_t interval = srv->cfg->nio_sessionless_cnxn_timeout_ms > 0 ? srv->cfg->nio_sessionless_cnxn_timeout_ms
                                                                     : 10000;
    k = 0;
    for (struct conn *c = fourlw_oldest_conn(srv); c && k < n; c = c->prev) {
        uint64_t last = c->accepted_ms > c->stats.last_response ? c->accepted_ms : c->stats.last_response;
        int64_t timeout = c->session ? c->session->timeout : interval;
        uint64_t due = last + (uint64_t)timeout;
        e[k++] = (struct fourlw_expiry){
            .at = (due / (uint64_t)interval + 1) * (uint64_t)interval,
            .id = fourlw_session_id(c),
            .conn = c,
        };
    }
    fourlw_dump_expiry(out, e, k, true);
    free(e);
}

/* ------------------------------------------------------------------- mntr */

struct fourlw_mntr {
    jute_writer *out;
    const char *seen[64];
    size_t nseen;
};

static bool fourlw_mntr_seen(const struct fourlw_mntr *m, const char *name)
{
    for (size_t i = 0; i < m->nseen; i++)
        if (strcmp(m->seen[i], name) == 0)
            return true;
    return false;
}

/* Keys written before the registry walk; the walk skips them. name must be
 * a string literal (kept by pointer). */
static void fourlw_mntr_str(struct fourlw_mntr *m, const char *name, const char *value)
{
    if (m->nseen < sizeof m->seen / sizeof m->seen[0])
        m->seen[m->nseen++] = name;
    fourlw_printf(m->out, "zk_%s\t%s\n", name, value);
}

static void fourlw_mntr_int(struct fourlw_mntr *m, const char *name, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    fourlw_mntr_str(m, name, buf);
}

static void fourlw_mntr_visit(void *arg, const char *name, enum zkp_metric_type type, int64_t value)
{
    struct fourlw_mntr *m = arg;
    (void)type;
    if (fourlw_mntr_seen(m, name))
        return;
    fourlw_printf(m->out, "zk_%s\t%" PRId64 "\n", name, value);
}

static int64_t fourlw_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int64_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    /* The directory being read held one descriptor. */
    return n > 0 ? n - 1 : 0;
}

static int64_t fourlw_max_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
}

static void fourlw_mntr(struct server *srv, jute_writer *out)
{
    struct fourlw_mntr m = {.out = out};
    const struct server_stats *st = &srv->stats;
    int64_t ephemerals = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            ephemerals += (int64_t)s->nephemerals;
    char avg[64];
    fourlw_format_avg(st->total_latency, st->count, avg, sizeof avg);

    fourlw_mntr_str(&m, "version", fourlw_version());
    fourlw_mntr_str(&m, "server_state", "standalone");
    fourlw_mntr_int(&m, "ephemerals_count", ephemerals);
    fourlw_mntr_int(&m, "num_alive_connections", (int64_t)srv->nconns);
    fourlw_mntr_str(&m, "avg_latency", avg);
    fourlw_mntr_int(&m, "min_latency", fourlw_min_latency(srv));
    fourlw_mntr_int(&m, "max_latency", fourlw_max_latency(srv));
    fourlw_mntr_int(&m, "outstanding_requests", fourlw_outstanding(srv));
    fourlw_mntr_int(&m, "znode_count", srv->tree ? (int64_t)srv->tree->count + 1 : 0);
    fourlw_mntr_int(&m, "global_sessions", (int64_t)srv->nsessions);
    fourlw_mntr_int(&m, "local_sessions", 0);
    fourlw_mntr_int(&m, "watch_count", (int64_t)(srv->data_watches.nwatches + srv->child_watches.nwatches));
    fourlw_mntr_int(&m, "approximate_data_size", srv->tree ? srv->tree->data_size : 0);
    fourlw_mntr_int(&m, "open_file_descriptor_count", fourlw_open_fds());
    fourlw_mntr_int(&m, "max_file_descriptor_count", fourlw_max_fds());
    fourlw_mntr_int(&m, "uptime", (int64_t)(loop_now_ms() - srv->start_ms));
    fourlw_mntr_int(&m, "packets_sent", st->packets_sent);
    fourlw_mntr_int(&m, "packets_received", st->packets_received);
    fourlw_mntr_int(&m, "last_client_response_size", st->last_client_response_size);
    fourlw_mntr_int(&m, "min_client_response_size", st->min_client_response_size);
    fourlw_mntr_int(&m, "max_client_response_size", st->max_client_response_size);
    fourlw_mntr_int(&m, "auth_failed_count", st->auth_failed_count);
    /* No TLS listener and no load shedding: these are truly zero. */
    fourlw_mntr_int(&m, "non_mtls_remote_conn_count", 0);
    fourlw_mntr_int(&m, "non_mtls_local_conn_count", 0);
    fourlw_mntr_int(&m, "outstanding_tls_handshake", 0);
    fourlw_mntr_str(&m, "connection_drop_probability", "0.0");
    metrics_foreach(fourlw_mntr_visit, &m);
}

/* ------------------------------------------------------------------- run */

/* stmk's entry point: arg holds the bytes after the word (the mask). */
void fourlw_run_with_arg(struct server *srv, struct conn *c, uint32_t code, const uint8_t *arg, size_t arglen,
                         jute_writer *out)
{
    int cmd = fourlw_find(code);
    if (cmd < 0)
        return;
    /* ZooKeeper counts the word as a received packet before anything else. */
    if (c) {
        c->stats.packets_received++;
    }
    srv->stats.packets_received++;

    if (!(fourlw_whitelist(srv->cfg) & (1u << cmd))) {
        log_debug("Command %s is not executed because it is not in the whitelist.", fourlw_commands[cmd].name);
        fourlw_printf(out, "%s is not executed because it is not in the whitelist.\n", fourlw_commands[cmd].name);
        return;
    }
    if (cmd != FOURLW_TELNET_CLOSE)
        log_info("Processing %s command from %s:%d", fourlw_commands[cmd].name, c ? c->ip : "?", c ? c->port : 0);

    /* Commands that answer whether or not the server is serving. */
    switch (cmd) {
    case FOURLW_TELNET_CLOSE:
        /* ZooKeeper has no command behind it: the connection just closes. */
        return;
    case FOURLW_RUOK:
        fourlw_puts(out, "imok");
        return;
    case FOURLW_ENVI:
        fourlw_envi(out);
        return;
    case FOURLW_GTMK:
        fourlw_printf(out, "%" PRId64, srv->trace_mask);
        return;
    case FOURLW_STMK:
        /* Without its 8 bytes ZooKeeper fails the read and closes silently. */
        if (arg == NULL || arglen < 8)
            return;
        srv->trace_mask = (int64_t)(((uint64_t)jute_get_u32(arg) << 32) | jute_get_u32(arg + 4));
        fourlw_printf(out, "%" PRId64, srv->trace_mask);
        return;
    case FOURLW_ISRO:
        fourlw_puts(out, srv->serving ? "rw" : "null");
        return;
    case FOURLW_HASH:
        /* A standalone server records no digests, so there is nothing to
         * list; ZooKeeper's hash prints the refusal without a newline. */
        if (!srv->serving)
            fourlw_puts(out, fourlw_not_serving);
        return;
    default:
        break;
    }

    if (!srv->serving) {
        fourlw_printf(out, "%s\n", fourlw_not_serving);
        return;
    }
    switch (cmd) {
    case FOURLW_CONF:
        fourlw_conf(srv, out);
        break;
    case FOURLW_CONS:
        for (struct conn *it = fourlw_oldest_conn(srv); it; it = it->prev) {
            fourlw_conn_info(it, c, false, out);
            fourlw_puts(out, "\n");
        }
        fourlw_puts(out, "\n");
        break;
    case FOURLW_CRST:
        for (struct conn *it = srv->conns; it; it = it->next)
            fourlw_conn_reset(it);
        fourlw_puts(out, "Connection stats reset.\n");
        break;
    case FOURLW_DIRS:
        fourlw_dirs(srv, out);
        break;
    case FOURLW_DUMP:
        fourlw_dump(srv, out);
        break;
    case FOURLW_MNTR:
        fourlw_mntr(srv, out);
        break;
    case FOURLW_SRST:
        fourlw_srst(srv);
        fourlw_puts(out, "Server stats reset.\n");
        break;
    case FOURLW_SRVR:
        fourlw_srvr(srv, c, false, out);
        break;
    case FOURLW_STAT:
        fourlw_srvr(srv, c, true, out);
        break;
    case FOURLW_WCHC:
        fourlw_wchc(srv, out);
        break;
    case FOURLW_WCHP:
        fourlw_wchp(srv, out);
        break;
    case FOURLW_WCHS:
        fourlw_wchs(srv, out);
        break;
    default:
        break;
    }
}

void fourlw_run(struct server *srv, struct conn *c, uint32_t code, jute_writer *out)
{
    fourlw_run_with_arg(srv, c, code, NULL, 0, out);
}
