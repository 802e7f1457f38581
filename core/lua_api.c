/*
 * The zk table scripts see (documented in docs/lua-api.md): registration
 * (zk.command, zk.on), logging, read-only views of the configuration,
 * server state, sessions, connections, watches, the data tree and the
 * metrics registry, the few operations the ZooKeeper commands need (stats
 * resets, trace mask), JSON helpers, append-only files for event handlers,
 * and the event tables and audit batches (events built on first access)
 * handlers receive.
 *
 * The C functions here gather data and hand Lua plain tables; the text and
 * JSON formats are the scripts' business (lua/fourlw.lua). Values that
 * ZooKeeper derives in a peculiar way are computed here once (Java's double
 * printing of average latency, Java's Date.toString, InetSocketAddress
 * printing, the session and connection expiry buckets).
 *
 * Threads: functions that read server state (zk.server, zk.connections, ...)
 * only work in the command state, which runs on the loop thread; in the
 * event state they raise an error saying so. The configuration is read-only
 * once the server starts and may be read from both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "lua_int.h"
#include "registry.h"
#include "server.h"
#include "quorum.h"

/* Raised by cfg:reject; lua_host.c recognises it. */
const char luaapi_reject_sentinel = 0;
/* zk.null */
static const char luaapi_null = 0;

#define LUAAPI_APPENDER "zkplug.appender"
#define LUAAPI_CFGVIEW "zkplug.cfgview"

/* ---------------------------------------------------------------- helpers */

static struct luastate *luaapi_state(lua_State *L)
{
    return luastate_of(L);
}

/* The server, for functions that read its state: command state only. */
static struct server *luaapi_server(lua_State *L, const char *fn)
{
    struct luastate *s = luaapi_state(L);
    if (s->role != LUASTATE_COMMANDS)
        luaL_error(L, "%s is not available in event handlers (they run off the loop thread)", fn);
    if (s->host->srv == NULL)
        luaL_error(L, "%s is not available before the server starts", fn);
    return s->host->srv;
}

static void luaapi_set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void luaapi_set_str(lua_State *L, const char *k, const char *v)
{
    if (v == NULL)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void luaapi_set_bool(lua_State *L, const char *k, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* ------------------------------------------------- ZooKeeper's formatting */

const char *luaapi_version(void)
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

/* ZooKeeper's average latency: total/count rounded HALF_UP to 4 decimals,
 * printed as Java's Double.toString ("0.0", "1.5", "26.6667", "1.0E7"). */
/* q / 10000 as Java's Double.toString prints it (q >= 0). */
static void luaapi_format_scaled(__int128 q, char *buf, size_t cap)
{
    if (q <= 0) {
        snprintf(buf, cap, "0.0");
        return;
    }
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

static void luaapi_format_avg(int64_t total, int64_t count, char *buf, size_t cap)
{
    if (count <= 0 || total <= 0) {
        snprintf(buf, cap, "0.0");
        return;
    }
    __int128 scaled = (__int128)total * 10000;
    __int128 q = scaled / count;
    if ((scaled % count) * 2 >= count)
        q++;
    luaapi_format_scaled(q, buf, cap);
}

/* A double as ZooKeeper prints its averages (AvgMinMaxCounter.getAvg:
 * BigDecimal.setScale(4, HALF_UP), then Double.toString). Negative and
 * non-finite values, which ZooKeeper's averages never are, print plainly. */
static void luaapi_format_avg_double(double d, char *buf, size_t cap)
{
    if (!(d >= 0) || d >= 1e15) {
        snprintf(buf, cap, "%.17g", d);
        return;
    }
    luaapi_format_scaled((__int128)(d * 10000.0 + 0.5), buf, cap);
}

/* The remote address as Java prints an InetSocketAddress without a host
 * name: "/127.0.0.1:52712", IPv6 as "/[0:0:0:0:0:0:0:1]:52712". */
static void luaapi_addr(const struct conn *c, char *buf, size_t cap)
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

/* Java's Date.toString(): "Thu Nov 26 17:47:48 UTC 2026", server's zone. */
static void luaapi_java_date(int64_t wall_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL || strftime(buf, cap, "%a %b %d %H:%M:%S %Z %Y", &tm) == 0)
        snprintf(buf, cap, "%" PRId64, wall_ms);
}

static int64_t luaapi_wall_of(uint64_t mono_ms)
{
    return loop_wall_ms() + ((int64_t)mono_ms - (int64_t)loop_now_ms());
}

static struct conn *luaapi_oldest_conn(struct server *srv)
{
    struct conn *c = srv->conns;
    while (c && c->next)
        c = c->next;
    return c;
}

static int64_t luaapi_session_id(const struct conn *c)
{
    return c->session ? c->session->id : 0;
}

/* ------------------------------------------------------------ registration */

static void luaapi_push_reg(lua_State *L, const char *field)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, field);
    lua_remove(L, -2);
}

static bool luaapi_valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* zk.command{name=, word=, aliases=, text=, json=, run=, always=} */
static int luaapi_command(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct luastate *s = luaapi_state(L);
    lua_getfield(L, 1, "name");
    size_t nlen;
    const char *name = lua_tolstring(L, -1, &nlen);
    if (name == NULL || !luaapi_valid_name(name, nlen))
        return luaL_error(L, "zk.command: name must be 1 to 64 letters, digits, '_', '-' or '.'");
    lua_getfield(L, 1, "word");
    size_t wlen = 0;
    const char *word = lua_tolstring(L, -1, &wlen);
    if (word == NULL && nlen == 4)
        word = name, wlen = 4;
    if (word && (wlen != 4 || !luaapi_valid_name(word, wlen)))
        return luaL_error(L, "zk.command '%s': word must be four letters or digits", name);
    bool has_fn = false;
    static const char *const fns[] = {"text", "json", "run"};
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, 1, fns[i]);
        if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
            return luaL_error(L, "zk.command '%s': %s must be a function", name, fns[i]);
        has_fn |= lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    if (!has_fn)
        return luaL_error(L, "zk.command '%s': needs a text, json or run function", name);

    /* The registered spec: a copy, plus where it came from. */
    lua_newtable(L);
    int spec = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, spec);
    }
    if (word) {
        lua_pushlstring(L, word, 4);
        lua_setfield(L, spec, "word");
    }
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
        lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    else
        lua_pushstring(L, s->loading ? s->loading : "?");
    lua_setfield(L, spec, "script");

    luaapi_push_reg(L, "commands");
    lua_getfield(L, -1, name);
    if (lua_istable(L, -1) && s->role == LUASTATE_COMMANDS) {
        lua_getfield(L, -1, "script");
        lua_getfield(L, spec, "script");
        log_info("lua: command '%s' from %s replaces the one from %s", name, lua_tostring(L, -1),
                 lua_tostring(L, -2));
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, spec);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);

    luaapi_push_reg(L, "index");
    lua_pushvalue(L, spec);
    lua_setfield(L, -2, name);
    lua_getfield(L, 1, "aliases");
    if (lua_istable(L, -1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            size_t alen;
            const char *alias = lua_tolstring(L, -1, &alen);
            if (alias == NULL || !luaapi_valid_name(alias, alen))
                return luaL_error(L, "zk.command '%s': alias %d is not a valid name", name, (int)i);
            lua_pushvalue(L, spec);
            lua_setfield(L, -4, alias);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
    if (word) {
        char w[5];
        memcpy(w, word, 4);
        w[4] = '\0';
        luaapi_push_reg(L, "words");
        lua_pushvalue(L, spec);
        lua_setfield(L, -2, w);
        lua_pop(L, 1);
    }
    return 0;
}

/* zk.on(event, fn) */
static int luaapi_on(lua_State *L)
{
    const char *event = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    bool known = strcmp(event, "config") == 0;
    for (int k = 0; k < LUAEV_COUNT && !known; k++)
        known = strcmp(event, luaev_names[k]) == 0;
    if (!known)
        return luaL_error(L, "zk.on: unknown event '%s' (config, audit, audit_batch, start, stop, state_change, "
                             "leader_elected, session_created, session_expired, session_closed)",
                          event);
    luaapi_push_reg(L, "handlers");
    lua_getfield(L, -1, event);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, event);
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
    return 0;
}

/* ------------------------------------------------------------------ log */

static int luaapi_log_at(lua_State *L, enum zkp_log_level level)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_addvalue(&b);
        (void)s;
    }
    luaL_pushresult(&b);
    lua_Debug ar;
    char origin[160] = "lua";
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
        snprintf(origin, sizeof origin, "%s:%d", ar.short_src, ar.currentline);
    const char *msg = lua_tostring(L, -1);
    log_msg(level, "[%s] %s", origin, msg);
    return 0;
}

static int luaapi_log_error(lua_State *L) { return luaapi_log_at(L, ZKP_LOG_ERROR); }
static int luaapi_log_warn(lua_State *L) { return luaapi_log_at(L, ZKP_LOG_WARN); }
static int luaapi_log_info(lua_State *L) { return luaapi_log_at(L, ZKP_LOG_INFO); }
static int luaapi_log_debug(lua_State *L)
{
    if (log_get_level() < ZKP_LOG_DEBUG)
        return 0;
    return luaapi_log_at(L, ZKP_LOG_DEBUG);
}

/* ------------------------------------------------------------- JSON shapes */

/* Keys of a zk.object, in the order they were first set. */
static int luaapi_object_newindex(lua_State *L)
{
    if (!lua_isnil(L, 3) && lua_getmetatable(L, 1)) {
        lua_getfield(L, -1, "__zkorder");
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 2);
    }
    lua_rawset(L, 1);
    return 0;
}

/* zk.object([pairs]): pairs is an array of {key, value} set in order. */
static int luaapi_object(lua_State *L)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    lua_createtable(L, 0, 2);
    lua_newtable(L);
    lua_setfield(L, -2, "__zkorder");
    lua_pushcfunction(L, luaapi_object_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, t);
    if (lua_istable(L, 1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            lua_settable(L, t);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, t);
    return 1;
}

static int luaapi_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__zkarray");
    lua_setmetatable(L, 1);
    return 1;
}

/* ---------------------------------------------------------- configuration */

static struct zk_config *luaapi_cfg(lua_State *L)
{
    return luaapi_state(L)->host->cfg;
}

static int luaapi_config_get(lua_State *L)
{
    const struct config_entry *e = config_find(luaapi_cfg(L), luaL_checkstring(L, 1));
    if (e == NULL)
        return 0;
    lua_pushstring(L, e->value);
    return 1;
}

static int luaapi_config_entries(lua_State *L)
{
    const struct zk_config *cfg = luaapi_cfg(L);
    lua_createtable(L, (int)cfg->nentries, 0);
    for (size_t i = 0; i < cfg->nentries; i++) {
        lua_createtable(L, 0, 4);
        luaapi_set_str(L, "key", cfg->entries[i].key);
        luaapi_set_str(L, "value", cfg->entries[i].value);
        luaapi_set_int(L, "line", cfg->entries[i].line);
        luaapi_set_str(L, "file", cfg->entries[i].file);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* The decoded settings, under ZooKeeper's key names. */
static int luaapi_config_settings(lua_State *L)
{
    const struct zk_config *cfg = luaapi_cfg(L);
    lua_newtable(L);
    luaapi_set_str(L, "path", cfg->path);
    luaapi_set_int(L, "clientPort", cfg->client_port);
    luaapi_set_str(L, "clientPortAddress", cfg->client_port_address);
    luaapi_set_int(L, "secureClientPort", cfg->secure_client_port);
    luaapi_set_str(L, "dataDir", cfg->data_dir);
    luaapi_set_str(L, "dataLogDir", cfg->data_log_dir ? cfg->data_log_dir : cfg->data_dir);
    luaapi_set_int(L, "tickTime", cfg->tick_time);
    luaapi_set_int(L, "initLimit", cfg->init_limit);
    luaapi_set_int(L, "syncLimit", cfg->sync_limit);
    luaapi_set_int(L, "maxClientCnxns", cfg->max_client_cnxns);
    luaapi_set_int(L, "minSessionTimeout", cfg->min_session_timeout);
    luaapi_set_int(L, "maxSessionTimeout", cfg->max_session_timeout);
    luaapi_set_int(L, "clientPortListenBacklog", cfg->client_port_listen_backlog);
    luaapi_set_int(L, "electionAlg", cfg->election_alg);
    luaapi_set_int(L, "peerType", cfg->peer_type);
    luaapi_set_int(L, "myid", cfg->myid);
    luaapi_set_bool(L, "standalone", config_is_standalone(cfg));
    luaapi_set_bool(L, "readonlymode.enabled", cfg->readonly_mode_enabled);
    luaapi_set_str(L, "4lw.commands.whitelist", cfg->four_lw_whitelist);
    luaapi_set_bool(L, "admin.enableServer", cfg->admin_enable_server);
    luaapi_set_str(L, "admin.serverAddress", cfg->admin_server_address);
    luaapi_set_int(L, "admin.serverPort", cfg->admin_server_port);
    luaapi_set_int(L, "jute.maxbuffer", cfg->jute_maxbuffer);
    return 1;
}

/* --------------------------------------------------- config hook's view */

struct luaapi_cfgitem {
    char *key, *value;
    bool changed;
};

struct luaapi_cfgview {
    struct luaapi_cfgitem *items;
    size_t n, cap;
    bool rejected;
    char reject_key[128];
    char reject_msg[512];
    char reject_where[256];
};

static struct luaapi_cfgview *luaapi_cfgview_check(lua_State *L)
{
    return luaL_checkudata(L, 1, LUAAPI_CFGVIEW);
}

static struct luaapi_cfgitem *luaapi_cfgview_find(struct luaapi_cfgview *v, const char *key)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i].key, key) == 0)
            return &v->items[i];
    return NULL;
}

static int luaapi_cfgview_get(lua_State *L)
{
    struct luaapi_cfgview *v = luaapi_cfgview_check(L);
    struct luaapi_cfgitem *it = luaapi_cfgview_find(v, luaL_checkstring(L, 2));
    if (it == NULL)
        return 0;
    lua_pushstring(L, it->value);
    return 1;
}

static const char *luaapi_canonical_key(const char *key)
{
    return strncmp(key, "zookeeper.", 10) == 0 ? key + 10 : key;
}

static int luaapi_cfgview_set(lua_State *L)
{
    struct luaapi_cfgview *v = luaapi_cfgview_check(L);
    const char *key = luaapi_canonical_key(luaL_checkstring(L, 2));
    const char *value = luaL_tolstring(L, 3, NULL);
    if (*key == '\0' || strpbrk(key, "=:\n\r \t") || strpbrk(value, "\n\r"))
        return luaL_error(L, "cfg:set: key '%s' or its value cannot be written to zoo.cfg", key);
    struct luaapi_cfgitem *it = luaapi_cfgview_find(v, key);
    if (it == NULL) {
        if (v->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 16;
            struct luaapi_cfgitem *grown = realloc(v->items, cap * sizeof *grown);
            if (grown == NULL)
                return luaL_error(L, "out of memory");
            v->items = grown;
            v->cap = cap;
        }
        it = &v->items[v->n];
        *it = (struct luaapi_cfgitem){.key = strdup(key)};
        if (it->key == NULL)
            return luaL_error(L, "out of memory");
        v->n++;
    }
    char *copy = strdup(value);
    if (copy == NULL)
        return luaL_error(L, "out of memory");
    if (it->value == NULL || strcmp(it->value, copy) != 0)
        it->changed = true;
    free(it->value);
    it->value = copy;
    return 0;
}

static int luaapi_cfgview_keys(lua_State *L)
{
    struct luaapi_cfgview *v = luaapi_cfgview_check(L);
    lua_createtable(L, (int)v->n, 0);
    for (size_t i = 0; i < v->n; i++) {
        lua_pushstring(L, v->items[i].key);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int luaapi_cfgview_reject(lua_State *L)
{
    struct luaapi_cfgview *v = luaapi_cfgview_check(L);
    const char *key = luaL_checkstring(L, 2);
    const char *msg = luaL_checkstring(L, 3);
    v->rejected = true;
    snprintf(v->reject_key, sizeof v->reject_key, "%s", luaapi_canonical_key(key));
    snprintf(v->reject_msg, sizeof v->reject_msg, "%s", msg);
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
        snprintf(v->reject_where, sizeof v->reject_where, "%s:%d", ar.short_src, ar.currentline);
    lua_pushlightuserdata(L, (void *)&luaapi_reject_sentinel);
    return lua_error(L);
}

static int luaapi_cfgview_gc(lua_State *L)
{
    struct luaapi_cfgview *v = luaapi_cfgview_check(L);
    for (size_t i = 0; i < v->n; i++) {
        free(v->items[i].key);
        free(v->items[i].value);
    }
    free(v->items);
    v->items = NULL;
    v->n = v->cap = 0;
    return 0;
}

struct luaapi_cfgview *luaapi_cfgview_push(lua_State *L, struct zk_config *cfg)
{
    struct luaapi_cfgview *v = lua_newuserdatauv(L, sizeof *v, 0);
    memset(v, 0, sizeof *v);
    luaL_setmetatable(L, LUAAPI_CFGVIEW);
    for (size_t i = 0; i < cfg->nentries; i++) {
        struct luaapi_cfgitem *it = luaapi_cfgview_find(v, cfg->entries[i].key);
        if (it == NULL) {
            if (v->n == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 32;
                struct luaapi_cfgitem *grown = realloc(v->items, cap * sizeof *grown);
                if (grown == NULL)
                    break;
                v->items = grown;
                v->cap = cap;
            }
            it = &v->items[v->n++];
            *it = (struct luaapi_cfgitem){.key = strdup(cfg->entries[i].key)};
        }
        free(it->value);
        it->value = strdup(cfg->entries[i].value);
    }
    return v;
}

int luaapi_cfgview_apply(struct luaapi_cfgview *v, struct zk_config *cfg, char *err, size_t errlen)
{
    if (v->rejected) {
        const struct config_entry *e = config_find(cfg, v->reject_key);
        if (e)
            snprintf(err, errlen, "%s:%d: key '%s': %s (rejected by %s)", e->file ? e->file : cfg->path, e->line,
                     v->reject_key, v->reject_msg, v->reject_where);
        else
            snprintf(err, errlen, "%s: key '%s': %s (rejected by %s)", cfg->path, v->reject_key, v->reject_msg,
                     v->reject_where);
        return -EINVAL;
    }
    bool any = false;
    for (size_t i = 0; i < v->n; i++)
        any |= v->items[i].changed;
    if (!any)
        return 0;
    /* Rewrite the text: a changed key's line in zoo.cfg gets the new value
     * (so messages keep their line numbers), new keys go at the end. */
    size_t nlines = 1;
    for (const char *p = cfg->text; *p; p++)
        nlines += *p == '\n';
    const char **repl = calloc(nlines + 1, sizeof *repl);
    if (repl == NULL)
        return -ENOMEM;
    jute_writer tail;
    jute_writer_init(&tail, 256);
    for (size_t i = 0; i < v->n; i++) {
        if (!v->items[i].changed)
            continue;
        const struct config_entry *e = config_find(cfg, v->items[i].key);
        log_info("lua: config hook sets %s=%s", v->items[i].key, v->items[i].value);
        if (e && e->line >= 1 && (size_t)e->line <= nlines && e->file == cfg->path) {
            repl[e->line] = v->items[i].key; /* marks the line; the item gives the value */
        } else {
            jute_write_raw(&tail, v->items[i].key, strlen(v->items[i].key));
            jute_write_raw(&tail, "=", 1);
            jute_write_raw(&tail, v->items[i].value, strlen(v->items[i].value));
            jute_write_raw(&tail, "\n", 1);
        }
    }
    jute_writer text;
    jute_writer_init(&text, strlen(cfg->text) + tail.len + 64);
    const char *p = cfg->text;
    for (size_t line = 1; *p; line++) {
        size_t len = strcspn(p, "\n");
        if (line <= nlines && repl[line]) {
            struct luaapi_cfgitem *it = luaapi_cfgview_find(v, repl[line]);
            jute_write_raw(&text, it->key, strlen(it->key));
            jute_write_raw(&text, "=", 1);
            jute_write_raw(&text, it->value, strlen(it->value));
        } else {
            jute_write_raw(&text, p, len);
        }
        jute_write_raw(&text, "\n", 1);
        p += len;
        if (*p == '\n')
            p++;
    }
    jute_write_raw(&text, tail.data, tail.len);
    jute_write_raw(&text, "", 1);
    free(repl);
    jute_writer_free(&tail);
    if (text.oom) {
        jute_writer_free(&text);
        return -ENOMEM;
    }
    struct zk_config fresh;
    memset(&fresh, 0, sizeof fresh);
    char perr[768];
    int rc = config_parse(cfg->path, (const char *)text.data, &fresh, perr, sizeof perr);
    jute_writer_free(&text);
    if (rc < 0) {
        snprintf(err, errlen, "%s (value set by a Lua config hook)", perr);
        config_free(&fresh);
        return rc;
    }
    config_free(cfg);
    *cfg = fresh;
    return 0;
}

/* ---------------------------------------------------------- server state */

static int64_t luaapi_outstanding(const struct server *srv)
{
    int64_t n = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        n += c->outstanding;
    return n;
}

static int64_t luaapi_ephemerals(const struct server *srv)
{
    int64_t n = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next)
            n += (int64_t)s->nephemerals;
    return n;
}

static int luaapi_server_info(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.server");
    lua_newtable(L);
    luaapi_set_str(L, "mode", quorum_mode_name(srv));
    luaapi_set_str(L, "state", srv->serving ? "running" : srv->stopping ? "shutdown" : "initial");
    luaapi_set_bool(L, "serving", server_serving(srv));
    luaapi_set_bool(L, "read_only", quorum_read_only(srv));
    if (srv->qp && srv->qp->leader) {
        struct quorum_status qs;
        quorum_get_status(srv, &qs);
        luaapi_set_int(L, "proposal_last", qs.proposal_last);
        luaapi_set_int(L, "proposal_min", qs.proposal_min);
        luaapi_set_int(L, "proposal_max", qs.proposal_max);
    }
    luaapi_set_str(L, "version", luaapi_version());
    luaapi_set_int(L, "zxid", srv->last_zxid);
    luaapi_set_int(L, "epoch", srv->qp ? srv->qp->current_epoch : (int64_t)((uint64_t)srv->last_zxid >> 32));
    luaapi_set_int(L, "counter", srv->last_zxid & 0xffffffff);
    luaapi_set_int(L, "server_id", srv->cfg->myid);
    /* The ensemble's members (empty standalone), and the leader's id when
     * one is known. */
    lua_newtable(L);
    if (srv->qp) {
        const struct fle_quorum *v = &srv->qp->verifier;
        for (size_t i = 0; i < v->nmembers; i++) {
            const struct fle_member *m = &v->members[i];
            lua_createtable(L, 0, 6);
            luaapi_set_int(L, "id", m->id);
            luaapi_set_str(L, "host", m->host);
            luaapi_set_int(L, "quorum_port", m->quorum_port);
            luaapi_set_int(L, "election_port", m->election_port);
            luaapi_set_str(L, "type", m->observer ? "observer" : "participant");
            luaapi_set_int(L, "client_port", m->client_port);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        if (srv->qp->state != ZKP_PEER_LOOKING) {
            lua_pushinteger(L, srv->qp->vote.leader);
            lua_setfield(L, -3, "leader");
        }
    }
    lua_setfield(L, -2, "peers");
    if (srv->qp) {
        struct quorum_status qs;
        quorum_get_status(srv, &qs);
        luaapi_set_str(L, "zab_state", qs.zab_state);
        char text[8192];
        size_t n = fle_quorum_text(&srv->qp->verifier, text, sizeof text);
        lua_pushlstring(L, text, n < sizeof text ? n : sizeof text - 1);
        lua_setfield(L, -2, "config_text");
    }
    luaapi_set_int(L, "node_count", srv->tree ? (int64_t)srv->tree->count + 1 : 0);
    luaapi_set_int(L, "data_size", srv->tree ? srv->tree->data_size : 0);
    luaapi_set_int(L, "ephemerals_count", luaapi_ephemerals(srv));
    luaapi_set_int(L, "outstanding", luaapi_outstanding(srv));
    luaapi_set_int(L, "connections", (int64_t)srv->nconns);
    luaapi_set_int(L, "sessions", (int64_t)srv->nsessions);
    luaapi_set_int(L, "watch_count", (int64_t)(srv->data_watches.nwatches + srv->child_watches.nwatches));
    luaapi_set_int(L, "uptime", (int64_t)(loop_now_ms() - srv->start_ms));
    luaapi_set_int(L, "trace_mask", srv->trace_mask);
    luaapi_set_int(L, "last_snapshot_zxid", srv->last_snapshot_zxid);
    luaapi_set_int(L, "last_snapshot_time", srv->last_snapshot_time);
    luaapi_set_int(L, "client_port", srv->listener ? srv->tops->listener_port(srv->listener) : 0);
    return 1;
}

static int luaapi_stats(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.stats");
    const struct server_stats *st = &srv->stats;
    char avg[64];
    luaapi_format_avg(st->total_latency, st->count, avg, sizeof avg);
    lua_newtable(L);
    luaapi_set_int(L, "packets_received", st->packets_received);
    luaapi_set_int(L, "packets_sent", st->packets_sent);
    luaapi_set_int(L, "min_latency", st->count == 0 || st->min_latency == INT64_MAX ? 0 : st->min_latency);
    luaapi_set_int(L, "max_latency", st->count == 0 || st->max_latency < 0 ? 0 : st->max_latency);
    luaapi_set_str(L, "avg_latency", avg);
    lua_pushnumber(L, st->count > 0 ? (double)st->total_latency / (double)st->count : 0.0);
    lua_setfield(L, -2, "avg_latency_value");
    luaapi_set_int(L, "auth_failed_count", st->auth_failed_count);
    luaapi_set_int(L, "last_client_response_size", st->last_client_response_size);
    luaapi_set_int(L, "min_client_response_size", st->min_client_response_size);
    luaapi_set_int(L, "max_client_response_size", st->max_client_response_size);
    luaapi_set_int(L, "connection_drop_count", st->connection_drop_count);
    luaapi_set_int(L, "outstanding_requests", luaapi_outstanding(srv));
    return 1;
}

static int luaapi_connections(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.connections");
    struct conn *self = luaapi_state(L)->host->self;
    lua_newtable(L);
    lua_Integer i = 0;
    for (struct conn *c = luaapi_oldest_conn(srv); c; c = c->prev) {
        const struct conn_stats *st = &c->stats;
        char addr[128];
        luaapi_addr(c, addr, sizeof addr);
        lua_newtable(L);
        luaapi_set_str(L, "remote", addr);
        luaapi_set_str(L, "ip", c->ip);
        luaapi_set_int(L, "port", c->port);
        /* A connection that will read no more (the asker, one being
         * closed) has no interest ops left. */
        luaapi_set_int(L, "interest_ops", (c == self || c->closing || c->tc == NULL) ? 0 : 1);
        luaapi_set_int(L, "outstanding_requests", c->outstanding);
        luaapi_set_int(L, "packets_received", st->packets_received);
        luaapi_set_int(L, "packets_sent", st->packets_sent);
        luaapi_set_int(L, "session_id", luaapi_session_id(c));
        if (c->session)
            luaapi_set_int(L, "session_timeout", c->session->timeout);
        luaapi_set_str(L, "last_operation", st->last_op ? st->last_op : "NA");
        luaapi_set_int(L, "established", st->established);
        luaapi_set_int(L, "last_cxid", st->last_cxid);
        luaapi_set_int(L, "last_zxid", st->last_zxid);
        luaapi_set_int(L, "last_response_time", (int64_t)st->last_response);
        luaapi_set_int(L, "last_latency", st->last_latency);
        luaapi_set_int(L, "min_latency", st->min_latency == INT64_MAX ? 0 : st->min_latency);
        luaapi_set_int(L, "avg_latency", st->count == 0 ? 0 : st->total_latency / st->count);
        luaapi_set_int(L, "max_latency", st->max_latency);
        luaapi_set_bool(L, "is_self", c == self);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

static void luaapi_push_paths(lua_State *L, const struct session *s)
{
    lua_createtable(L, (int)s->nephemerals, 0);
    lua_Integer k = 0;
    for (size_t i = 0; i < s->nephemerals; i++) {
        char *path = tree_node_path_dup(s->ephemerals[i]);
        if (path == NULL)
            continue;
        lua_pushstring(L, path);
        free(path);
        lua_rawseti(L, -2, ++k);
    }
}

static int luaapi_sessions(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.sessions");
    lua_newtable(L);
    lua_Integer i = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++) {
        for (struct session *s = srv->session_buckets[b]; s; s = s->hash_next) {
            lua_newtable(L);
            luaapi_set_int(L, "id", s->id);
            luaapi_set_int(L, "timeout", s->timeout);
            luaapi_set_int(L, "expire_at", luaapi_wall_of(s->expire_at));
            luaapi_set_bool(L, "connected", s->conn != NULL);
            luaapi_push_paths(L, s);
            lua_setfield(L, -2, "ephemerals");
            lua_rawseti(L, -2, ++i);
        }
    }
    return 1;
}

struct luaapi_expiry {
    uint64_t at;
    int64_t id;
    const struct conn *conn;
};

static int luaapi_expiry_cmp(const void *a, const void *b)
{
    const struct luaapi_expiry *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Pushes an array of {at = wall ms, items = {...}} buckets, in time order. */
static void luaapi_push_buckets(lua_State *L, struct luaapi_expiry *e, size_t n, bool conns)
{
    qsort(e, n, sizeof *e, luaapi_expiry_cmp);
    lua_newtable(L);
    lua_Integer nb = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && e[j].at == e[i].at)
            j++;
        lua_newtable(L);
        luaapi_set_int(L, "at", luaapi_wall_of(e[i].at));
        lua_newtable(L);
        lua_Integer k = 0;
        for (; i < j; i++) {
            if (conns) {
                char addr[128];
                luaapi_addr(e[i].conn, addr, sizeof addr);
                lua_newtable(L);
                luaapi_set_str(L, "remote", addr);
                luaapi_set_int(L, "session_id", e[i].id);
            } else {
                lua_pushinteger(L, e[i].id);
            }
            lua_rawseti(L, -2, ++k);
        }
        lua_setfield(L, -2, "items");
        lua_rawseti(L, -2, ++nb);
    }
}

/* zk.expiry(): the session tracker's and the connection factory's expiry
 * buckets, as dump prints them. */
static int luaapi_expiry(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.expiry");
    size_t n = srv->nsessions > srv->nconns ? srv->nsessions : srv->nconns;
    struct luaapi_expiry *e = lua_newuserdatauv(L, (n ? n : 1) * sizeof *e, 0);
    lua_newtable(L);
    size_t k = 0;
    for (size_t b = 0; b < srv->session_nbuckets; b++)
        for (struct session *s = srv->session_buckets[b]; s && k < n; s = s->hash_next)
            e[k++] = (struct luaapi_expiry){.at = s->expire_at, .id = s->id};
    luaapi_push_buckets(L, e, k, false);
    lua_setfield(L, -2, "sessions");
    /* NIOServerCnxnFactory: each connection is due one timeout (its
     * session's, else the sessionless one) after its last activity,
     * rounded up to the sessionless timeout. */
    int64_t interval = srv->cfg->nio_sessionless_cnxn_timeout_ms > 0 ? srv->cfg->nio_sessionless_cnxn_timeout_ms
                                                                     : 10000;
    k = 0;
    for (struct conn *c = luaapi_oldest_conn(srv); c && k < n; c = c->prev) {
        uint64_t last = c->accepted_ms > c->stats.last_response ? c->accepted_ms : c->stats.last_response;
        int64_t timeout = c->session ? c->session->timeout : interval;
        uint64_t due = last + (uint64_t)timeout;
        e[k++] = (struct luaapi_expiry){
            .at = (due / (uint64_t)interval + 1) * (uint64_t)interval,
            .id = luaapi_session_id(c),
            .conn = c,
        };
    }
    luaapi_push_buckets(L, e, k, true);
    lua_setfield(L, -2, "connections");
    return 1;
}

/* ------------------------------------------------------------------ watches */

static struct watch_table *luaapi_watch_table(lua_State *L, struct server *srv, int idx)
{
    const char *kind = luaL_optstring(L, idx, "data");
    if (strcmp(kind, "data") == 0)
        return &srv->data_watches;
    if (strcmp(kind, "child") == 0)
        return &srv->child_watches;
    luaL_error(L, "watch table must be \"data\" or \"child\", not \"%s\"", kind);
    return NULL;
}

static size_t luaapi_watch_count(const struct watch_table *t, const struct conn *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->watcher.nrefs; i++)
        n += c->watcher.refs[i].table == t;
    return n;
}

static int luaapi_watch_summary(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.watches.summary");
    struct watch_table *t = luaapi_watch_table(L, srv, 1);
    int64_t watchers = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        watchers += luaapi_watch_count(t, c) > 0;
    lua_newtable(L);
    luaapi_set_int(L, "connections", watchers);
    luaapi_set_int(L, "paths", (int64_t)t->npaths);
    luaapi_set_int(L, "watches", (int64_t)t->nwatches);
    return 1;
}

static int luaapi_watch_by_session(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.watches.by_session");
    struct watch_table *t = luaapi_watch_table(L, srv, 1);
    lua_newtable(L);
    lua_Integer i = 0;
    for (struct conn *c = luaapi_oldest_conn(srv); c; c = c->prev) {
        if (luaapi_watch_count(t, c) == 0)
            continue;
        lua_newtable(L);
        luaapi_set_int(L, "session_id", luaapi_session_id(c));
        lua_newtable(L);
        lua_Integer k = 0;
        for (size_t r = 0; r < c->watcher.nrefs; r++) {
            const struct watch_ref *ref = &c->watcher.refs[r];
            if (ref->table != t)
                continue;
            lua_pushlstring(L, ref->path->path, ref->path->len);
            lua_rawseti(L, -2, ++k);
        }
        lua_setfield(L, -2, "paths");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

struct luaapi_wchp {
    lua_State *L;
    const char *last;
    lua_Integer npaths, nsessions;
};

static void luaapi_wchp_visit(void *arg, const char *path, size_t len, struct watcher *w, enum watch_mode mode)
{
    struct luaapi_wchp *st = arg;
    lua_State *L = st->L;
    (void)mode;
    /* The table visits a path's watchers one after another. */
    if (path != st->last) {
        if (st->last)
            lua_rawseti(L, -2, ++st->npaths);
        lua_newtable(L);
        lua_pushlstring(L, path, len);
        lua_setfield(L, -2, "path");
        lua_newtable(L);
        lua_setfield(L, -2, "session_ids");
        st->last = path;
        st->nsessions = 0;
    }
    const struct conn *c = (const struct conn *)((const char *)w - offsetof(struct conn, watcher));
    lua_getfield(L, -1, "session_ids");
    lua_pushinteger(L, luaapi_session_id(c));
    lua_rawseti(L, -2, ++st->nsessions);
    lua_pop(L, 1);
}

static int luaapi_watch_by_path(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.watches.by_path");
    struct watch_table *t = luaapi_watch_table(L, srv, 1);
    lua_newtable(L);
    luaL_checkstack(L, 8, "watches");
    struct luaapi_wchp st = {.L = L};
    watch_foreach(t, luaapi_wchp_visit, &st);
    if (st.last)
        lua_rawseti(L, -2, ++st.npaths);
    return 1;
}

/* ------------------------------------------------------------------- tree */

static struct znode *luaapi_lookup(lua_State *L, const char *fn)
{
    struct server *srv = luaapi_server(L, fn);
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    return tree_lookup(srv->tree, path, len);
}

static void luaapi_push_stat(lua_State *L, const struct znode *node)
{
    struct zk_stat st;
    tree_node_stat(node, &st);
    lua_createtable(L, 0, 11);
    luaapi_set_int(L, "czxid", st.czxid);
    luaapi_set_int(L, "mzxid", st.mzxid);
    luaapi_set_int(L, "ctime", st.ctime);
    luaapi_set_int(L, "mtime", st.mtime);
    luaapi_set_int(L, "version", st.version);
    luaapi_set_int(L, "cversion", st.cversion);
    luaapi_set_int(L, "aversion", st.aversion);
    luaapi_set_int(L, "ephemeralOwner", st.ephemeral_owner);
    luaapi_set_int(L, "dataLength", st.data_length);
    luaapi_set_int(L, "numChildren", st.num_children);
    luaapi_set_int(L, "pzxid", st.pzxid);
}

static int luaapi_tree_get(lua_State *L)
{
    struct znode *node = luaapi_lookup(L, "zk.tree.get");
    if (node == NULL)
        return 0;
    if (node->data_null)
        lua_pushnil(L);
    else
        lua_pushlstring(L, (const char *)node->data, node->data_len);
    luaapi_push_stat(L, node);
    return 2;
}

static int luaapi_tree_stat(lua_State *L)
{
    struct znode *node = luaapi_lookup(L, "zk.tree.stat");
    if (node == NULL)
        return 0;
    luaapi_push_stat(L, node);
    return 1;
}

static int luaapi_tree_children(lua_State *L)
{
    struct znode *node = luaapi_lookup(L, "zk.tree.children");
    if (node == NULL)
        return 0;
    lua_createtable(L, (int)node->nchildren, 0);
    for (uint32_t i = 0; i < node->nchildren; i++) {
        lua_pushlstring(L, node->children[i]->name, node->children[i]->name_len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---------------------------------------------------------------- metrics */

struct luaapi_metrics {
    lua_State *L;
    lua_Integer n;
};

static void luaapi_metrics_visit(void *arg, const char *name, enum zkp_metric_type type, int64_t value)
{
    struct luaapi_metrics *m = arg;
    lua_State *L = m->L;
    lua_createtable(L, 0, 3);
    luaapi_set_str(L, "name", name);
    luaapi_set_str(L, "type", type == ZKP_METRIC_COUNTER ? "counter" : "gauge");
    luaapi_set_int(L, "value", value);
    lua_rawseti(L, -2, ++m->n);
}

static int luaapi_metrics(lua_State *L)
{
    (void)luaapi_server(L, "zk.metrics");
    lua_newtable(L);
    struct luaapi_metrics m = {.L = L};
    metrics_foreach(luaapi_metrics_visit, &m);
    return 1;
}

/* zk.mntr(): every mntr key of the registry, in registration order, as
 * ZooKeeper's MonitorCommand lists them: summaries expanded into avg_,
 * min_, max_, cnt_, sum_ (and p50_.. for ADVANCED ones). Each entry is
 * {name, value, type, kind}: integers as integers, doubles as ZooKeeper
 * prints its averages (a string such as "0.4286"; number holds the value),
 * text as strings. */
static void luaapi_mntr_visit(void *arg, const char *name, const struct metrics_value *v)
{
    struct luaapi_metrics *m = arg;
    lua_State *L = m->L;
    lua_createtable(L, 0, 5);
    luaapi_set_str(L, "name", name);
    luaapi_set_str(L, "kind", v->kind == ZKP_METRIC_COUNTER ? "counter" : "gauge");
    switch (v->type) {
    case METRICS_VALUE_INT:
        luaapi_set_str(L, "type", "int");
        luaapi_set_int(L, "value", v->i);
        break;
    case METRICS_VALUE_DOUBLE: {
        char buf[64];
        luaapi_format_avg_double(v->d, buf, sizeof buf);
        luaapi_set_str(L, "type", "double");
        luaapi_set_str(L, "value", buf);
        lua_pushnumber(L, v->d);
        lua_setfield(L, -2, "number");
        break;
    }
    case METRICS_VALUE_TEXT:
    case METRICS_VALUE_SUMMARY: /* never: metrics_foreach_mntr expands them */
        luaapi_set_str(L, "type", "text");
        luaapi_set_str(L, "value", v->text ? v->text : "");
        break;
    }
    lua_rawseti(L, -2, ++m->n);
}

static int luaapi_mntr(lua_State *L)
{
    (void)luaapi_server(L, "zk.mntr");
    lua_newtable(L);
    struct luaapi_metrics m = {.L = L};
    metrics_foreach_mntr(luaapi_mntr_visit, &m);
    return 1;
}

static int luaapi_metric(lua_State *L)
{
    (void)luaapi_server(L, "zk.metric");
    int64_t v;
    if (metrics_get(luaL_checkstring(L, 1), &v) < 0)
        return 0;
    lua_pushinteger(L, v);
    return 1;
}

/* -------------------------------------------------------- process facts */

static int64_t luaapi_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (int64_t)sysconf(_SC_PAGESIZE) : 0;
}

static int64_t luaapi_memory_max(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return (int64_t)rl.rlim_cur;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page : 0;
}

static void luaapi_env_pair(lua_State *L, lua_Integer *i, const char *key, const char *value)
{
    lua_createtable(L, 2, 0);
    lua_pushstring(L, key);
    lua_rawseti(L, -2, 1);
    if (value && *value) {
        lua_pushstring(L, value);
        lua_rawseti(L, -2, 2);
    }
    lua_rawseti(L, -2, ++*i);
}

/* zk.env(): envi's properties in ZooKeeper's order, as {key, value} pairs;
 * value nil when there is none (the java.* ones: there is no JVM). */
static int luaapi_env(lua_State *L)
{
    lua_newtable(L);
    lua_Integer i = 0;
    luaapi_env_pair(L, &i, "zookeeper.version", luaapi_version());
    /* The plain host name: the canonical one needs DNS, which would stall
     * the loop. */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    luaapi_env_pair(L, &i, "host.name", host);
    static const char *const java[] = {"java.version", "java.vendor", "java.home", "java.class.path",
                                       "java.library.path"};
    for (size_t k = 0; k < sizeof java / sizeof java[0]; k++)
        luaapi_env_pair(L, &i, java[k], NULL);
    const char *tmp = getenv("TMPDIR");
    luaapi_env_pair(L, &i, "java.io.tmpdir", tmp && *tmp ? tmp : "/tmp");
    luaapi_env_pair(L, &i, "java.compiler", NULL);
    struct utsname u;
    bool have = uname(&u) == 0;
    luaapi_env_pair(L, &i, "os.name", have ? u.sysname : NULL);
    const char *arch = have ? u.machine : NULL;
    if (arch && strcmp(arch, "x86_64") == 0)
        arch = "amd64"; /* Java's name */
    luaapi_env_pair(L, &i, "os.arch", arch);
    luaapi_env_pair(L, &i, "os.version", have ? u.release : NULL);
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];
    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &pwp) != 0)
        pwp = NULL;
    luaapi_env_pair(L, &i, "user.name", pwp ? pwp->pw_name : getenv("USER"));
    luaapi_env_pair(L, &i, "user.home", pwp ? pwp->pw_dir : getenv("HOME"));
    char cwd[4096];
    luaapi_env_pair(L, &i, "user.dir", getcwd(cwd, sizeof cwd) ? cwd : NULL);
    /* Java reports its heap; the closest honest figures for a C process:
     * the resident set (total), the limit it may grow to (max) and the
     * difference (free), in MB. */
    int64_t mb = 1024 * 1024, total = luaapi_rss(), max = luaapi_memory_max();
    char v[32];
    snprintf(v, sizeof v, "%" PRId64 "MB", (max > total ? max - total : 0) / mb);
    luaapi_env_pair(L, &i, "os.memory.free", v);
    snprintf(v, sizeof v, "%" PRId64 "MB", max / mb);
    luaapi_env_pair(L, &i, "os.memory.max", v);
    snprintf(v, sizeof v, "%" PRId64 "MB", total / mb);
    luaapi_env_pair(L, &i, "os.memory.total", v);
    return 1;
}

/* dir + "/version-2" as Java's File.getAbsolutePath prints it. */
static char *luaapi_version_dir(const char *dir)
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

static int64_t luaapi_dir_total; /* nftw has no user pointer; loop thread only */

static int luaapi_dir_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        luaapi_dir_total += st->st_size;
    return 0;
}

static int64_t luaapi_dir_size(const char *dir)
{
    luaapi_dir_total = 0;
    if (dir != NULL)
        (void)nftw(dir, luaapi_dir_visit, 8, FTW_PHYS);
    return luaapi_dir_total;
}

/* zk.dirs(): the snapshot and txn-log folders ("<dir>/version-2") and the
 * bytes in each. */
static int luaapi_dirs(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.dirs");
    const struct zk_config *cfg = srv->cfg;
    char *snap = luaapi_version_dir(cfg->data_dir);
    char *log = luaapi_version_dir(cfg->data_log_dir ? cfg->data_log_dir : cfg->data_dir);
    lua_newtable(L);
    luaapi_set_str(L, "snap_dir", snap ? snap : "");
    luaapi_set_str(L, "log_dir", log ? log : "");
    luaapi_set_int(L, "snap_size", luaapi_dir_size(snap));
    luaapi_set_int(L, "log_size", luaapi_dir_size(log));
    free(snap);
    free(log);
    return 1;
}

static int luaapi_fds(lua_State *L)
{
    int64_t open = -1;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        open = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            open += de->d_name[0] != '.';
        closedir(d);
        open = open > 0 ? open - 1 : 0; /* the listing's own descriptor */
    }
    struct rlimit rl;
    int64_t max = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        max = rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
    lua_pushinteger(L, open);
    lua_pushinteger(L, max);
    return 2;
}

/* ------------------------------------------------------- state changers */

/* ServerStats.reset(): latency, packet counters, response sizes and the
 * ServerMetrics counters; the auth failure count survives. */
static int luaapi_reset_server_stats(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.reset_server_stats");
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
    /* ZooKeeper's ServerStats.reset resets every server metric too. */
    metrics_reset_counters();
    return 0;
}

static int luaapi_reset_connection_stats(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.reset_connection_stats");
    for (struct conn *c = srv->conns; c; c = c->next) {
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
    return 0;
}

static int luaapi_trace_mask(lua_State *L)
{
    struct server *srv = luaapi_server(L, "zk.trace_mask");
    if (!lua_isnoneornil(L, 1))
        srv->trace_mask = (int64_t)luaL_checkinteger(L, 1);
    lua_pushinteger(L, srv->trace_mask);
    return 1;
}

/* --------------------------------------------------------------- formats */

static int luaapi_java_date_fn(lua_State *L)
{
    char buf[64];
    luaapi_java_date((int64_t)luaL_checkinteger(L, 1), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int luaapi_java_avg_fn(lua_State *L)
{
    char buf[64];
    luaapi_format_avg((int64_t)luaL_checkinteger(L, 1), (int64_t)luaL_checkinteger(L, 2), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int luaapi_time_ms(lua_State *L)
{
    lua_pushinteger(L, loop_wall_ms());
    return 1;
}

static int luaapi_monotonic_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)loop_now_ms());
    return 1;
}

/* ------------------------------------------------------------- appenders */

struct luaapi_appender {
    FILE *f;
    struct luastate *owner;
    struct luaapi_appender *next, **link;
};

static void luaapi_appender_release(struct luaapi_appender *a)
{
    if (a->f) {
        fclose(a->f);
        a->f = NULL;
    }
    if (a->link) {
        *a->link = a->next;
        if (a->next)
            a->next->link = a->link;
        a->link = NULL;
        a->next = NULL;
    }
}

static int luaapi_appender_new(lua_State *L)
{
    struct luastate *s = luaapi_state(L);
    const char *path = luaL_checkstring(L, 1);
    if (s->role != LUASTATE_EVENTS)
        return luaL_error(L, "zk.appender is only available in event handlers (it writes files off the loop thread)");
    struct luaapi_appender *a = lua_newuserdatauv(L, sizeof *a, 0);
    memset(a, 0, sizeof *a);
    luaL_setmetatable(L, LUAAPI_APPENDER);
    a->f = fopen(path, "ae");
    if (a->f == NULL)
        return luaL_error(L, "zk.appender: cannot open %s: %s", path, strerror(errno));
    setvbuf(a->f, NULL, _IOFBF, 1 << 16);
    a->owner = s;
    a->next = s->appenders;
    if (a->next)
        a->next->link = &a->next;
    a->link = &s->appenders;
    s->appenders = a;
    return 1;
}

/* zk.audit_log(path): the built-in audit log. In the event state the
 * server appends each batch of preformatted audit lines to path itself (in
 * C, one write per batch, no Lua call); nil or false turns that off. Only
 * at a script's top level; the command state ignores it; the last call of
 * a load wins. */
static int luaapi_audit_log(lua_State *L)
{
    struct luastate *s = luaapi_state(L);
    const char *path = NULL;
    if (!lua_isnoneornil(L, 1) && !(lua_isboolean(L, 1) && !lua_toboolean(L, 1))) {
        path = luaL_checkstring(L, 1);
        if (path[0] == '\0')
            return luaL_error(L, "zk.audit_log: empty path");
    }
    if (s->loading == NULL)
        return luaL_error(L, "zk.audit_log: only at a script's top level (while scripts load)");
    if (s->role != LUASTATE_EVENTS)
        return 0;
    char *copy = NULL;
    if (path && (copy = strdup(path)) == NULL)
        return luaL_error(L, "not enough memory");
    free(s->audit_path);
    s->audit_path = copy;
    return 0;
}

static int luaapi_appender_write(lua_State *L)
{
    struct luaapi_appender *a = luaL_checkudata(L, 1, LUAAPI_APPENDER);
    if (a->f == NULL)
        return luaL_error(L, "appender is closed");
    int n = lua_gettop(L);
    for (int i = 2; i <= n; i++) {
        size_t len;
        const char *s = luaL_checklstring(L, i, &len);
        if (fwrite(s, 1, len, a->f) != len)
            return luaL_error(L, "appender write failed: %s", strerror(errno));
    }
    return 0;
}

static int luaapi_appender_flush(lua_State *L)
{
    struct luaapi_appender *a = luaL_checkudata(L, 1, LUAAPI_APPENDER);
    if (a->f)
        fflush(a->f);
    return 0;
}

static int luaapi_appender_gc(lua_State *L)
{
    luaapi_appender_release(luaL_checkudata(L, 1, LUAAPI_APPENDER));
    return 0;
}

void luaapi_flush_appenders(struct luastate *s)
{
    for (struct luaapi_appender *a = s->appenders; a; a = a->next)
        if (a->f)
            fflush(a->f);
}

void luaapi_close_appenders(struct luastate *s)
{
    while (s->appenders)
        luaapi_appender_release(s->appenders);
}

/* ---------------------------------------------------------------- events */

void luaapi_push_event(lua_State *L, const struct luaev *ev, const char *line, size_t linelen)
{
    static const char *const results[] = {"success", "failure", "invoked"};
    lua_createtable(L, 0, 13);
    luaapi_set_str(L, "event", luaev_names[ev->kind]);
    luaapi_set_int(L, "time", ev->time_ms);
    if (ev->session != 0) {
        char hex[24];
        snprintf(hex, sizeof hex, "0x%" PRIx64, (uint64_t)ev->session);
        luaapi_set_int(L, "session_id", ev->session);
        luaapi_set_str(L, "session", hex);
    }
    luaapi_set_str(L, "operation", ev->operation);
    luaapi_set_str(L, "user", ev->user);
    luaapi_set_str(L, "ip", ev->ip);
    luaapi_set_str(L, "znode", ev->znode);
    luaapi_set_str(L, "znode_type", ev->znode_type);
    luaapi_set_str(L, "acl", ev->acl);
    luaapi_set_str(L, "state", ev->state);
    if (ev->kind == LUAEV_LEADER_ELECTED)
        luaapi_set_int(L, "leader", ev->leader);
    if (ev->kind == LUAEV_AUDIT) {
        luaapi_set_str(L, "result", results[ev->result <= HOOKS_RESULT_INVOKED ? ev->result : 0]);
        luaapi_set_int(L, "err", ev->err);
    }
    if (line) {
        lua_pushlstring(L, line, linelen);
        lua_setfield(L, -2, "line");
    }
}

/* An audit batch: the run it shows, valid while its handlers run. Event
 * tables are built on first access (most handlers only write batch.text)
 * and kept in the batch table. */
struct luaapi_batch {
    struct luaapi_audit_run run;
    bool valid;
};

/* __index(batch, i): event i. */
static int luaapi_batch_index(lua_State *L)
{
    struct luaapi_batch *b = lua_touserdata(L, lua_upvalueindex(1));
    int isnum = 0;
    lua_Integer i = lua_tointegerx(L, 2, &isnum);
    if (!isnum || i < 1 || (size_t)i > b->run.n)
        return 0;
    if (!b->valid)
        return luaL_error(L, "audit batch used after its handler returned (copy what you need)");
    size_t k = (size_t)i - 1;
    luaapi_push_event(L, b->run.evs[k], b->run.text + b->run.off[k], b->run.off[k + 1] - b->run.off[k]);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 1, i);
    return 1;
}

static int luaapi_batch_len(lua_State *L)
{
    struct luaapi_batch *b = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushinteger(L, (lua_Integer)b->run.n);
    return 1;
}

void luaapi_push_audit_batch(lua_State *L, const struct luaapi_audit_run *run)
{
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, run->text, run->off[run->n]);
    lua_setfield(L, -2, "text");
    lua_pushinteger(L, (lua_Integer)run->n);
    lua_setfield(L, -2, "n");
    lua_createtable(L, 0, 3);
    struct luaapi_batch *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->run = *run;
    b->valid = true;
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__zkbatch");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, luaapi_batch_index, 1);
    lua_setfield(L, -3, "__index");
    lua_pushcclosure(L, luaapi_batch_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushliteral(L, "audit batch");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

void luaapi_audit_batch_expire(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    /* Not lua_getmetatable's __metatable view: the real metatable. */
    if (!lua_getmetatable(L, idx))
        return;
    lua_getfield(L, -1, "__zkbatch");
    struct luaapi_batch *b = lua_touserdata(L, -1);
    if (b)
        b->valid = false;
    lua_pop(L, 2);
}

/* ------------------------------------------------------------------ open */

static int luaapi_print(lua_State *L)
{
    return luaapi_log_at(L, ZKP_LOG_INFO);
}

#define luaL_newlib_(L, l) (lua_createtable(L, 0, 8), luaL_setfuncs(L, l, 0))

static void luaapi_sub(lua_State *L, const char *name, const luaL_Reg *fns)
{
    luaL_newlib_(L, fns);
    lua_setfield(L, -2, name);
}

static int luaapi_open_protected(lua_State *L)
{
    struct luastate *s = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    lua_newtable(L);
    lua_setfield(L, -2, "commands");
    lua_newtable(L);
    lua_setfield(L, -2, "index");
    lua_newtable(L);
    lua_setfield(L, -2, "words");
    lua_newtable(L);
    lua_setfield(L, -2, "handlers");
    lua_setfield(L, LUA_REGISTRYINDEX, "zkplug");

    luaL_newmetatable(L, LUAAPI_APPENDER);
    static const luaL_Reg appender[] = {
        {"write", luaapi_appender_write}, {"flush", luaapi_appender_flush}, {"close", luaapi_appender_gc}, {NULL, NULL}};
    luaL_newlib_(L, appender);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luaapi_appender_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    luaL_newmetatable(L, LUAAPI_CFGVIEW);
    static const luaL_Reg cfgview[] = {{"get", luaapi_cfgview_get},
                                       {"set", luaapi_cfgview_set},
                                       {"keys", luaapi_cfgview_keys},
                                       {"reject", luaapi_cfgview_reject},
                                       {NULL, NULL}};
    luaL_newlib_(L, cfgview);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luaapi_cfgview_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    static const luaL_Reg zk[] = {
        {"command", luaapi_command},
        {"on", luaapi_on},
        {"object", luaapi_object},
        {"array", luaapi_array},
        {"server", luaapi_server_info},
        {"stats", luaapi_stats},
        {"connections", luaapi_connections},
        {"sessions", luaapi_sessions},
        {"expiry", luaapi_expiry},
        {"metrics", luaapi_metrics},
        {"metric", luaapi_metric},
        {"mntr", luaapi_mntr},
        {"env", luaapi_env},
        {"dirs", luaapi_dirs},
        {"fds", luaapi_fds},
        {"reset_server_stats", luaapi_reset_server_stats},
        {"reset_connection_stats", luaapi_reset_connection_stats},
        {"trace_mask", luaapi_trace_mask},
        {"appender", luaapi_appender_new},
        {"audit_log", luaapi_audit_log},
        {"time_ms", luaapi_time_ms},
        {"monotonic_ms", luaapi_monotonic_ms},
        {NULL, NULL},
    };
    luaL_newlib_(L, zk);
    static const luaL_Reg log[] = {{"error", luaapi_log_error},
                                   {"warn", luaapi_log_warn},
                                   {"info", luaapi_log_info},
                                   {"debug", luaapi_log_debug},
                                   {NULL, NULL}};
    luaapi_sub(L, "log", log);
    static const luaL_Reg config[] = {{"get", luaapi_config_get},
                                      {"entries", luaapi_config_entries},
                                      {"settings", luaapi_config_settings},
                                      {NULL, NULL}};
    luaapi_sub(L, "config", config);
    static const luaL_Reg watches[] = {{"summary", luaapi_watch_summary},
                                       {"by_session", luaapi_watch_by_session},
                                       {"by_path", luaapi_watch_by_path},
                                       {NULL, NULL}};
    luaapi_sub(L, "watches", watches);
    static const luaL_Reg tree[] = {
        {"get", luaapi_tree_get}, {"stat", luaapi_tree_stat}, {"children", luaapi_tree_children}, {NULL, NULL}};
    luaapi_sub(L, "tree", tree);
    static const luaL_Reg format[] = {{"java_date", luaapi_java_date_fn}, {"java_avg", luaapi_java_avg_fn}, {NULL, NULL}};
    luaapi_sub(L, "format", format);
    lua_pushlightuserdata(L, (void *)&luaapi_null);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, luaapi_version());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, s->host->server_user);
    lua_setfield(L, -2, "user");
    lua_pushstring(L, s->role == LUASTATE_COMMANDS ? "commands" : "events");
    lua_setfield(L, -2, "state");
    lua_setglobal(L, "zk");
    lua_pushcfunction(L, luaapi_print);
    lua_setglobal(L, "print");
    return 0;
}

int luaapi_open(struct luastate *s)
{
    lua_pushcfunction(s->L, luaapi_open_protected);
    lua_pushlightuserdata(s->L, s);
    if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
        lua_pop(s->L, 1);
        return -ENOMEM;
    }
    return 0;
}

bool luaapi_is_null(lua_State *L, int idx)
{
    return lua_touserdata(L, idx) == &luaapi_null;
}
