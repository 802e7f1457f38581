/*
 * The Lua host (see lua_host.h for the model): Lua states and their sandbox,
 * script loading, the protected call wrapper with its instruction budget and
 * memory cap, the event queue and its thread, command dispatch for
 * four-letter words and the AdminServer, reload, and the hooks table the
 * server calls (hooks.h).
 *
 * Design notes:
 * - One allocator per state counts bytes and refuses to grow past the cap;
 *   Lua turns the refusal into a "not enough memory" error for that call and
 *   the state stays usable.
 * - A count hook (every LUASTATE_HOOK_STEP instructions) charges the call;
 *   past the budget it raises an error and from then on fires at every
 *   instruction, so a script cannot swallow the error with pcall and keep
 *   looping.
 * - The event queue is a mutex-protected list bounded by lua.eventQueueSize.
 *   The loop thread copies each event into a reused chunk (no malloc, no
 *   lock, no system call per event) and links it to a pending list that it
 *   hands over once per loop iteration from a before-sleep hook (sooner when
 *   many pile up); the event thread takes whole batches and gives the chunks
 *   back; after each batch it rests LUAHOST_REST_US (less when the queue
 *   grows or someone waits) so that a high write rate costs a few hundred
 *   wake-ups a second, not one per loop iteration. A full queue drops an
 *   event, except an audit record, for which the loop waits (back-pressure:
 *   audit records are never lost). Audit lines are formatted in C on the
 *   event thread; the built-in audit log (zk.audit_log) is appended in C,
 *   one write per run of lines; "audit_batch" handlers get up to
 *   LUAHOST_AUDIT_RUN of them per call. A reload hands the new event state
 *   through the same queue, so events queued before it run under the old
 *   scripts, later ones under the new.
 * - Registrations live in the registry table "zkplug" of each state
 *   (commands, index, words, handlers); lua_api.c fills them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "lua_host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lualib.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin_http.h"
#include "config.h"
#include "log.h"
#include "lua_int.h"
#include "server.h"

#define LUASTATE_HOOK_STEP 1000
#define LUAHOST_DEFAULT_INSTRUCTIONS 10000000u
#define LUAHOST_DEFAULT_MEMORY_KB 65536
#define LUAHOST_DEFAULT_QUEUE 100000
#define LUAHOST_MAX_SCRIPT (4u << 20)

const char *const luaev_names[LUAEV_COUNT] = {
    [LUAEV_AUDIT] = "audit",
    [LUAEV_START] = "start",
    [LUAEV_STOP] = "stop",
    [LUAEV_STATE_CHANGE] = "state_change",
    [LUAEV_LEADER_ELECTED] = "leader_elected",
    [LUAEV_SESSION_CREATED] = "session_created",
    [LUAEV_SESSION_EXPIRED] = "session_expired",
    [LUAEV_SESSION_CLOSED] = "session_closed",
    [LUAEV_AUDIT_BATCH] = "audit_batch",
};

/* The error object cfg:reject raises (see lua_api.c). */
extern const char luaapi_reject_sentinel;

static const char luahost_not_serving[] = "This ZooKeeper instance is not currently serving requests";

#define LUAHOST_RELOAD_WORD "lrld"
#define LUAHOST_RELOAD_NAME "lua_reload"

/* ------------------------------------------------------------- allocator */

static void *luastate_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct luastate *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        s->mem_used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && s->mem_used - old + nsize > s->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        s->mem_used = s->mem_used - old + nsize;
    return p;
}

struct luastate *luastate_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* -------------------------------------------------------- budget, calls */

static void luastate_hook(lua_State *L, lua_Debug *ar)
{
    struct luastate *s = luastate_of(L);
    s->spent += LUASTATE_HOOK_STEP;
    if (s->spent > s->budget) {
        /* From now on every instruction fails: a pcall in the script cannot
         * catch this and carry on looping. */
        lua_sethook(L, luastate_hook, LUA_MASKCOUNT, 1);
        /* The hook's record describes the Lua function being run. */
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
            lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
        else
            lua_pushliteral(L, "");
        lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)s->budget);
        lua_concat(L, 2);
        lua_error(L);
    }
}

static int luastate_msghandler(lua_State *L)
{
    if (lua_touserdata(L, 1) == &luaapi_reject_sentinel)
        return 1;
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static void luastate_first_line(const char *msg, char *err, size_t errlen)
{
    if (errlen == 0)
        return;
    size_t n = strcspn(msg, "\n");
    if (n >= errlen)
        n = errlen - 1;
    memcpy(err, msg, n);
    err[n] = '\0';
}

int luastate_call(struct luastate *s, int nargs, int nresults, const char *what, char *err, size_t errlen)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs; /* the function's slot */
    lua_pushcfunction(L, luastate_msghandler);
    lua_insert(L, base);
    s->spent = 0;
    lua_sethook(L, luastate_hook, LUA_MASKCOUNT, LUASTATE_HOOK_STEP);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_sethook(L, NULL, 0, 0);
    if (rc == LUA_OK) {
        lua_remove(L, base);
        return 0;
    }
    if (lua_touserdata(L, -1) == &luaapi_reject_sentinel) {
        lua_pop(L, 2);
        if (err && errlen)
            snprintf(err, errlen, "rejected");
        return -ECANCELED;
    }
    __atomic_fetch_add(&s->host->errors, 1, __ATOMIC_RELAXED);
    char memmsg[160];
    const char *msg = lua_tostring(L, -1);
    if (rc == LUA_ERRMEM) {
        snprintf(memmsg, sizeof memmsg, "not enough memory (Lua memory cap of %zu KB reached)",
                 s->mem_limit / 1024);
        msg = memmsg;
    }
    if (msg == NULL)
        msg = "(no message)";
    log_error("lua: %s failed: %s", what, msg);
    if (err)
        luastate_first_line(msg, err, errlen);
    lua_pop(L, 2);
    /* Give back what a failed call left behind (a memory bomb's garbage). */
    lua_gc(L, LUA_GCCOLLECT);
    return rc == LUA_ERRMEM ? -ENOMEM : -EINVAL;
}

/* ---------------------------------------------------------------- sandbox */

/* load() for scripts: text chunks only, so no crafted bytecode reaches the
 * VM. load(chunk [, chunkname [, mode [, env]]]); mode is ignored. */
static int luastate_load(lua_State *L)
{
    size_t len;
    const char *chunk = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    int has_env = !lua_isnone(L, 4);
    int rc = luaL_loadbufferx(L, chunk, len, name, "t");
    if (rc != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env) {
        lua_pushvalue(L, 4);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
    }
    return 1;
}

static void luastate_open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    /* Base functions that reach files or bytecode. */
    static const char *const removed[] = {"dofile", "loadfile", "require", NULL};
    for (const char *const *name = removed; *name; name++) {
        lua_pushnil(L);
        lua_setglobal(L, *name);
    }
    lua_pushcfunction(L, luastate_load);
    lua_setglobal(L, "load");
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* os: the clock and the environment only (no execute, remove, rename,
     * exit, tmpname, setlocale). */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    static const char *const os_kept[] = {"time", "clock", "date", "difftime", "getenv", NULL};
    for (const char *const *name = os_kept; *name; name++) {
        lua_getfield(L, -2, *name);
        lua_setfield(L, -2, *name);
    }
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);
}

/* ------------------------------------------------------------ script files */

static int luahost_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.lua files of dir, sorted, as full paths (free each and the array). */
static int luahost_list_scripts(const char *dir, char ***out, size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot read the scripts folder: %s", dir, strerror(e));
        return -e;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof *grown);
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            names = grown;
        }
        if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        snprintf(err, errlen, "out of memory listing %s", dir);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, luahost_name_cmp);
    *out = names;
    *nout = n;
    return 0;
}

static int luahost_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *data = malloc(LUAHOST_MAX_SCRIPT + 1);
    if (data == NULL) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t n = fread(data, 1, LUAHOST_MAX_SCRIPT + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > LUAHOST_MAX_SCRIPT) {
        free(data);
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "larger than 4 MB");
        return bad ? -EIO : -EFBIG;
    }
    *buf = data;
    *len = n;
    return 0;
}

static int luahost_load_script(struct luastate *s, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = luahost_read_file(path, &buf, &len, err, errlen);
    if (rc < 0)
        return rc;
    char chunkname[4200];
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    rc = luaL_loadbufferx(s->L, buf, len, chunkname, "t");
    free(buf);
    if (rc != LUA_OK) {
        luastate_first_line(lua_tostring(s->L, -1) ? lua_tostring(s->L, -1) : "cannot load", err, errlen);
        lua_pop(s->L, 1);
        return -EINVAL;
    }
    char what[4200];
    snprintf(what, sizeof what, "loading %s", path);
    s->loading = path;
    rc = luastate_call(s, 0, 0, what, err, errlen);
    s->loading = NULL;
    return rc == -ECANCELED ? -EINVAL : rc;
}

static int luahost_load_dir(struct luastate *s, const char *dir, char *err, size_t errlen)
{
    char **paths;
    size_t n;
    int rc = luahost_list_scripts(dir, &paths, &n, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = luahost_load_script(s, paths[i], err, errlen);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

/* After loading: the words and event kinds the scripts registered. */
static int luastate_collect(struct luastate *s)
{
    lua_State *L = s->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, "words");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    free(s->words);
    s->words = calloc(n ? n : 1, sizeof *s->words);
    s->nwords = 0;
    if (s->words == NULL) {
        lua_pop(L, 2);
        return -ENOMEM;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t len;
        const char *w = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (w && len == 4)
            s->words[s->nwords++] = jute_get_u32((const uint8_t *)w);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    s->events = 0;
    lua_getfield(L, -1, "handlers");
    for (int k = 0; k < LUAEV_COUNT; k++) {
        lua_getfield(L, -1, luaev_names[k]);
        if (lua_istable(L, -1) && lua_rawlen(L, -1) > 0)
            s->events |= 1u << k;
        lua_pop(L, 1);
    }
    if (s->audit_path)
        s->events |= LUAEV_BIT_AUDIT_LOG;
    lua_pop(L, 2);
    return 0;
}

static void luastate_free(struct luastate *s)
{
    if (s == NULL)
        return;
    if (s->L) {
        luaapi_close_appenders(s);
        lua_close(s->L);
    }
    if (s->audit_fd >= 0)
        close(s->audit_fd);
    free(s->audit_path);
    free(s->words);
    free(s);
}

static int luastate_new(struct luahost *host, enum luastate_role role, struct luastate **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    struct luastate *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory creating a Lua state");
        return -ENOMEM;
    }
    s->host = host;
    s->role = role;
    s->audit_fd = -1;
    s->mem_limit = host->memory_limit;
    s->budget = host->instruction_limit;
    s->L = lua_newstate(luastate_alloc, s);
    if (s->L == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory creating a Lua state");
        return -ENOMEM;
    }
    luastate_open_libs(s->L);
    int rc = luaapi_open(s);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory creating the zk table");
        goto fail;
    }
    rc = luahost_load_dir(s, host->builtin_dir, err, errlen);
    if (rc == 0 && host->scripts_dir)
        rc = luahost_load_dir(s, host->scripts_dir, err, errlen);
    if (rc == 0 && luastate_collect(s) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    if (rc < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    luastate_free(s);
    return rc;
}

/* ------------------------------------------------------------ event queue */

/* Chunks: LUAHOST_CHUNK bytes of events each (an event larger than that
 * gets a chunk of its own, not kept for reuse); at most LUAHOST_FREE_CHUNKS
 * emptied chunks are kept. The loop thread hands its pending events over
 * once per loop iteration (before-sleep hook) or after LUAHOST_PUBLISH_EVERY
 * events, whichever comes first. Audit events reach "audit_batch" handlers
 * in runs of at most LUAHOST_AUDIT_RUN. */
#define LUAHOST_CHUNK (16u << 10)
#define LUAHOST_FREE_CHUNKS 256
#define LUAHOST_PUBLISH_EVERY 256
#define LUAHOST_AUDIT_RUN 1024
/* After handling a batch the event thread rests this long (µs) before it
 * takes the next one, or until LUAHOST_BATCH_WAKE events wait. */
#define LUAHOST_REST_US 2000
#define LUAHOST_BATCH_WAKE 4096

static void luahost_chunks_free(struct luahost_chunk *c)
{
    while (c) {
        struct luahost_chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* The ZooKeeper audit line of ev (see lua/audit.lua), appended to w. The
 * date part is formatted once per second; the rest is copied by hand (no
 * printf: this runs for every audited write). Event thread. */
static void luahost_format_audit(struct luahost *h, jute_writer *w, const struct luaev *ev)
{
    static const char *const results[] = {"success", "failure", "invoked"};
    static const size_t result_lens[] = {7, 7, 7};
    static const char *const keys[] = {"user=", "ip=", "operation=", "znode=", "znode_type=", "acl="};
    static const size_t key_lens[] = {5, 3, 10, 6, 11, 4};
    static const char logger[] = " audit.Slf4jAuditLogger: ";
    static const char hex[] = "0123456789abcdef";
    int64_t second = ev->time_ms >= 0 ? ev->time_ms / 1000 : (ev->time_ms - 999) / 1000;
    if (second != h->fmt_second) {
        time_t t = (time_t)second;
        struct tm tm;
        h->fmt_second = second;
        if (localtime_r(&t, &tm) == NULL || strftime(h->fmt_date, sizeof h->fmt_date, "%Y-%m-%d %H:%M:%S", &tm) == 0)
            snprintf(h->fmt_date, sizeof h->fmt_date, "%" PRId64, second);
        h->fmt_date_len = strlen(h->fmt_date);
    }
    const char *const vals[] = {ev->user, ev->ip, ev->operation, ev->znode, ev->znode_type, ev->acl};
    size_t lens[6];
    size_t need = h->fmt_date_len + 4 + 6 + sizeof logger + 8 + 16 + 1 + 7 + 7 + 1;
    for (size_t i = 0; i < 6; i++) {
        lens[i] = vals[i] ? strlen(vals[i]) : 0;
        need += key_lens[i] + lens[i] + 1;
    }
    if (!jute_writer_reserve(w, need))
        return;
    char *p = (char *)w->data + w->len;
    memcpy(p, h->fmt_date, h->fmt_date_len);
    p += h->fmt_date_len;
    int ms = (int)(ev->time_ms - second * 1000);
    *p++ = ',';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    if (ev->result == HOOKS_RESULT_FAILURE) {
        memcpy(p, " ERROR", 6);
        p += 6;
    } else {
        memcpy(p, " INFO", 5);
        p += 5;
    }
    memcpy(p, logger, sizeof logger - 1);
    p += sizeof logger - 1;
    if (ev->session != 0) {
        uint64_t v = (uint64_t)ev->session;
        int digits = 1;
        while (digits < 16 && (v >> (4 * digits)) != 0)
            digits++;
        memcpy(p, "session=0x", 10);
        p += 10;
        for (int d = digits - 1; d >= 0; d--)
            *p++ = hex[(v >> (4 * d)) & 15];
        *p++ = '\t';
    }
    for (size_t i = 0; i < 6; i++) {
        if (vals[i] == NULL)
            continue;
        memcpy(p, keys[i], key_lens[i]);
        p += key_lens[i];
        memcpy(p, vals[i], lens[i]);
        p += lens[i];
        *p++ = '\t';
    }
    size_t r = ev->result <= HOOKS_RESULT_INVOKED ? (size_t)ev->result : 0;
    memcpy(p, "result=", 7);
    p += 7;
    memcpy(p, results[r], result_lens[r]);
    p += result_lens[r];
    *p++ = '\n';
    w->len = (size_t)(p - (char *)w->data);
}

/* Appends the formatted lines to the built-in audit log (zk.audit_log),
 * opening it on first use. A failure is counted and logged once until a
 * write succeeds again; the file is opened again on the next batch. Event
 * thread. */
static void luahost_audit_log_write(struct luastate *s, const char *text, size_t len)
{
    if (s->audit_fd < 0) {
        s->audit_fd = open(s->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (s->audit_fd < 0) {
            __atomic_fetch_add(&s->host->errors, 1, __ATOMIC_RELAXED);
            if (!s->audit_failing)
                log_error("lua: audit log: cannot open %s: %s", s->audit_path, strerror(errno));
            s->audit_failing = true;
            return;
        }
    }
    while (len > 0) {
        ssize_t n = write(s->audit_fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            __atomic_fetch_add(&s->host->errors, 1, __ATOMIC_RELAXED);
            if (!s->audit_failing)
                log_error("lua: audit log: cannot write %s: %s", s->audit_path,
                          n < 0 ? strerror(errno) : "no progress");
            s->audit_failing = true;
            close(s->audit_fd);
            s->audit_fd = -1;
            return;
        }
        text += n;
        len -= (size_t)n;
    }
    if (s->audit_failing)
        log_info("lua: audit log: writing %s again", s->audit_path);
    s->audit_failing = false;
}

/* Pushes the handler list for kind (a table, or nothing and false). */
static bool luahost_push_handlers(lua_State *L, enum luaev_kind kind)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, "handlers");
    lua_getfield(L, -1, luaev_names[kind]);
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (lua_istable(L, -1))
        return true;
    lua_pop(L, 1);
    return false;
}

static void luahost_handle_event(struct luastate *s, const struct luaev *ev, const char *line, size_t linelen)
{
    lua_State *L = s->L;
    if (!luahost_push_handlers(L, ev->kind))
        return;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    char what[96];
    snprintf(what, sizeof what, "%s handler", luaev_names[ev->kind]);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        luaapi_push_event(L, ev, line, linelen);
        (void)luastate_call(s, 1, 0, what, NULL, 0);
    }
    lua_pop(L, 1);
}

/* Handles a run of audit events: formats every line once, appends them to
 * the built-in audit log (C, one write), calls each "audit_batch" handler
 * once with the whole run, then each "audit" handler once per event. Event
 * thread. */
static void luahost_handle_audit_run(struct luahost *h, struct luastate *s, size_t n)
{
    jute_writer *w = &h->fmt;
    w->len = 0;
    w->oom = false;
    for (size_t i = 0; i < n; i++) {
        h->run_off[i] = w->len;
        luahost_format_audit(h, w, h->run_evs[i]);
    }
    h->run_off[n] = w->len;
    if (w->oom) {
        log_error("lua: out of memory formatting %zu audit lines", n);
        __atomic_fetch_add(&h->errors, 1, __ATOMIC_RELAXED);
        return;
    }
    if (s->events & LUAEV_BIT_AUDIT_LOG)
        luahost_audit_log_write(s, (const char *)w->data, w->len);
    lua_State *L = s->L;
    if ((s->events & (1u << LUAEV_AUDIT_BATCH)) && luahost_push_handlers(L, LUAEV_AUDIT_BATCH)) {
        struct luaapi_audit_run run = {h->run_evs, h->run_off, (const char *)w->data, n};
        luaapi_push_audit_batch(L, &run);
        lua_Integer nh = (lua_Integer)lua_rawlen(L, -2);
        for (lua_Integer i = 1; i <= nh; i++) {
            lua_rawgeti(L, -2, i);
            lua_pushvalue(L, -2);
            (void)luastate_call(s, 1, 0, "audit_batch handler", NULL, 0);
        }
        luaapi_audit_batch_expire(L, -1);
        lua_pop(L, 2);
    }
    if (s->events & (1u << LUAEV_AUDIT))
        for (size_t i = 0; i < n; i++)
            luahost_handle_event(s, h->run_evs[i], (const char *)w->data + h->run_off[i],
                                 h->run_off[i + 1] - h->run_off[i]);
    __atomic_fetch_add(&h->events_handled, (int64_t)n, __ATOMIC_RELAXED);
}

/* Should the event thread stop resting and take the queue now? (lock) */
static bool luahost_rest_over(const struct luahost *h)
{
    return h->stop || h->writer_waiting || h->drain_waiting > 0 || h->qlen >= LUAHOST_BATCH_WAKE;
}

static void *luahost_thread_main(void *arg)
{
    struct luahost *h = arg;
    bool rest = false;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        /* After a batch, let the next one build up for LUAHOST_REST_US
         * instead of waking for every loop iteration's few events: under a
         * high write rate that is a wake-up, a lock round and a write(2) per
         * a handful of events, and this thread competing with the loop for
         * the CPU. A writer waiting for room, a drain, a stop or a large
         * queue end the rest at once. */
        if (rest && !luahost_rest_over(h)) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += LUAHOST_REST_US * 1000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            h->resting = true;
            while (!luahost_rest_over(h) && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT) {
            }
            h->resting = false;
        }
        rest = false;
        while (h->head == NULL && !h->stop) {
            h->sleeping = true;
            pthread_cond_wait(&h->wake, &h->lock);
            h->sleeping = false;
        }
        if (h->head == NULL && h->stop)
            break;
        struct luaev *batch = h->head;
        struct luahost_chunk *chunks = h->chunks;
        h->head = h->tail = NULL;
        h->chunks = NULL;
        h->qlen = 0;
        if (h->writer_waiting)
            pthread_cond_broadcast(&h->idle);
        pthread_mutex_unlock(&h->lock);
        uint64_t done = 0;
        size_t run = 0;
        while (batch || run) {
            struct luaev *ev = batch;
            if (ev && ev->kind == LUAEV_AUDIT && run < LUAHOST_AUDIT_RUN) {
                /* Collect consecutive audit events. */
                h->run_evs[run++] = ev;
                batch = ev->next;
                done++;
                continue;
            }
            if (run) {
                if (h->ev && (h->ev->events & LUAEV_BITS_AUDIT))
                    luahost_handle_audit_run(h, h->ev, run);
                run = 0;
                continue;
            }
            batch = ev->next;
            if (ev->kind == LUAEV_SWAP) {
                luastate_free(h->ev);
                h->ev = ev->swap;
            } else if (h->ev && (h->ev->events & (1u << ev->kind))) {
                luahost_handle_event(h->ev, ev, NULL, 0);
                __atomic_fetch_add(&h->events_handled, 1, __ATOMIC_RELAXED);
            }
            done++;
        }
        if (h->ev)
            luaapi_flush_appenders(h->ev);
        pthread_mutex_lock(&h->lock);
        /* Keep standard chunks for reuse, up to a limit. */
        while (chunks) {
            struct luahost_chunk *c = chunks;
            chunks = c->next;
            if (c->cap == LUAHOST_CHUNK && h->nfree_chunks < LUAHOST_FREE_CHUNKS) {
                c->next = h->free_chunks;
                h->free_chunks = c;
                h->nfree_chunks++;
            } else {
                free(c);
            }
        }
        h->handled_seq += done;
        pthread_cond_broadcast(&h->idle);
        rest = true;
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Hands the pending events to the event thread (one lock, and a wake-up
 * only when it sleeps, or rests while LUAHOST_BATCH_WAKE events wait).
 * Loop thread. */
static void luahost_publish(struct luahost *h)
{
    if (h->pend_head == NULL)
        return;
    struct luahost_chunk *last = h->pend_chunks;
    while (last && last->next)
        last = last->next;
    pthread_mutex_lock(&h->lock);
    if (h->tail)
        h->tail->next = h->pend_head;
    else
        h->head = h->pend_head;
    h->tail = h->pend_tail;
    h->qlen += h->pend_n;
    h->queued_seq += h->pend_n;
    __atomic_fetch_add(&h->events_queued, (int64_t)h->pend_n, __ATOMIC_RELAXED);
    if (last) {
        last->next = h->chunks;
        h->chunks = h->pend_chunks;
    }
    h->qlen_hint = h->qlen;
    if (h->sleeping || (h->resting && h->qlen >= LUAHOST_BATCH_WAKE))
        pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    h->pend_head = h->pend_tail = NULL;
    h->pend_chunks = NULL;
    h->pend_n = 0;
}

static void luahost_before_sleep(void *arg)
{
    luahost_publish(arg);
}

/* Room for one more event? When the queue is full: events other than audit
 * records are dropped (false); an audit record waits for the event thread
 * to take the queue (back-pressure on the loop thread: an audit record is
 * never dropped while the event thread runs). Loop thread. */
static bool luahost_make_room(struct luahost *h, enum luaev_kind kind)
{
    if (h->pend_n + h->qlen_hint < h->queue_cap)
        return true;
    luahost_publish(h);
    pthread_mutex_lock(&h->lock);
    h->qlen_hint = h->qlen;
    if (h->qlen < h->queue_cap || kind == LUAEV_SWAP) {
        pthread_mutex_unlock(&h->lock);
        return true;
    }
    if (kind != LUAEV_AUDIT) {
        pthread_mutex_unlock(&h->lock);
        return false;
    }
    uint64_t t0 = loop_now_ms();
    h->writer_waiting = true;
    pthread_cond_signal(&h->wake); /* ends its rest */
    while (h->qlen >= h->queue_cap && !h->stop && h->thread_started)
        pthread_cond_wait(&h->idle, &h->lock);
    h->writer_waiting = false;
    h->qlen_hint = h->qlen;
    pthread_mutex_unlock(&h->lock);
    int64_t waits = __atomic_add_fetch(&h->audit_waits, 1, __ATOMIC_RELAXED);
    if (waits == 1 || waits % 1000 == 0)
        log_warn("lua: event queue full (lua.eventQueueSize=%zu): audit records wait for the event thread "
                 "(%" PRId64 " waits so far, this one %" PRIu64 " ms)",
                 h->queue_cap, waits, loop_now_ms() - t0);
    return true;
}

/* size bytes for an event, from the current chunk (a new or reused one
 * when it is full). Loop thread. */
static struct luaev *luahost_alloc(struct luahost *h, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct luahost_chunk *c = h->pend_chunks;
    if (c == NULL || c->cap - c->used < size) {
        c = NULL;
        if (size <= LUAHOST_CHUNK) {
            pthread_mutex_lock(&h->lock);
            if (h->free_chunks) {
                c = h->free_chunks;
                h->free_chunks = c->next;
                h->nfree_chunks--;
            }
            pthread_mutex_unlock(&h->lock);
        }
        if (c == NULL) {
            size_t cap = size > LUAHOST_CHUNK ? size : LUAHOST_CHUNK;
            c = malloc(sizeof *c + cap);
            if (c == NULL)
                return NULL;
            c->cap = cap;
        }
        c->used = 0;
        c->next = h->pend_chunks;
        h->pend_chunks = c;
    }
    struct luaev *ev = (struct luaev *)(void *)(c->data + c->used);
    c->used += size;
    return ev;
}

/* Queues an event: its strings are copied. SWAP always goes in; other
 * events are dropped when the event thread is not running, or when the
 * queue is full (audit records wait instead, see luahost_make_room). The
 * copy is the only cost on the loop thread: no malloc (chunks are reused),
 * no system call. Returns the event (for the caller to fill session etc.)
 * or NULL when dropped. */
static struct luaev *luahost_post(struct luahost *h, enum luaev_kind kind, const char *operation,
                                  const char *user, const char *ip, const char *znode, const char *znode_type,
                                  const char *acl, const char *state)
{
    if (!h->thread_started || h->stop || !luahost_make_room(h, kind)) {
        if (kind == LUAEV_SWAP)
            return NULL;
        int64_t dropped = __atomic_add_fetch(&h->events_dropped, 1, __ATOMIC_RELAXED);
        if (dropped == 1 || dropped % 1000 == 0)
            log_warn("lua: event queue full (lua.eventQueueSize=%zu): %" PRId64 " events dropped so far",
                     h->queue_cap, dropped);
        return NULL;
    }
    const char *srcs[7] = {operation, user, ip, znode, znode_type, acl, state};
    size_t lens[7], total = 0;
    for (int i = 0; i < 7; i++) {
        lens[i] = srcs[i] ? strlen(srcs[i]) + 1 : 0;
        total += lens[i];
    }
    struct luaev *ev = luahost_alloc(h, sizeof *ev + total);
    if (ev == NULL) {
        __atomic_fetch_add(&h->events_dropped, 1, __ATOMIC_RELAXED);
        log_error("lua: out of memory queueing a %s event", kind < LUAEV_COUNT ? luaev_names[kind] : "reload");
        return NULL;
    }
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->time_ms = loop_wall_ms();
    const char **dsts[7] = {&ev->operation, &ev->user, &ev->ip, &ev->znode, &ev->znode_type, &ev->acl,
                            &ev->state};
    char *p = ev->buf;
    for (int i = 0; i < 7; i++) {
        if (srcs[i] == NULL)
            continue;
        memcpy(p, srcs[i], lens[i]);
        *dsts[i] = p;
        p += lens[i];
    }
    if (h->pend_tail)
        h->pend_tail->next = ev;
    else
        h->pend_head = ev;
    h->pend_tail = ev;
    h->pend_n++;
    if (h->pend_n >= LUAHOST_PUBLISH_EVERY || !h->sleep_hooked)
        luahost_publish(h);
    return ev;
}

static bool luahost_wants(const struct luahost *h, enum luaev_kind kind)
{
    return h->thread_started && (h->ev_mask & (1u << kind));
}

/* Audit on, and something to hand audit records to (a handler or the
 * built-in log)? */
static bool luahost_wants_audit(const struct luahost *h)
{
    return h->audit_enabled && h->thread_started && (h->ev_mask & LUAEV_BITS_AUDIT);
}

static void luahost_post_simple(struct luahost *h, enum luaev_kind kind, int64_t session, const char *state)
{
    if (!luahost_wants(h, kind))
        return;
    struct luaev *ev = luahost_post(h, kind, NULL, NULL, NULL, NULL, NULL, NULL, state);
    if (ev)
        ev->session = session;
}

/* ---------------------------------------------------------------- audit */

/* AuthUtil.getUsers: the user name of every identity whose scheme has a
 * provider (ip: the address; digest: the part before ':'), comma joined;
 * NULL when there is none. */
static const char *luahost_audit_users(const struct acl_auth *auth, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; auth && i < auth->nids; i++) {
        const struct acl_id *id = &auth->ids[i];
        size_t len;
        if (strcmp(id->scheme, "ip") == 0)
            len = strlen(id->id);
        else if (strcmp(id->scheme, "digest") == 0)
            len = strcspn(id->id, ":");
        else
            continue;
        if (len == 0)
            continue;
        size_t sep = n ? 1 : 0;
        if (n + sep + len >= cap)
            break;
        if (sep)
            buf[n++] = ',';
        memcpy(buf + n, id->id, len);
        n += len;
        buf[n] = '\0';
    }
    return n ? buf : NULL;
}

/* ZKUtil.aclToString: "scheme:id:perms" per entry, no separator between
 * entries (sic), perms as "cdrwa" letters. */
static char *luahost_audit_acl(const struct acl_entry *acl, size_t nacl)
{
    size_t cap = 1;
    for (size_t i = 0; i < nacl; i++)
        cap += strlen(acl[i].id.scheme) + strlen(acl[i].id.id) + 8;
    char *s = malloc(cap), *p = s;
    if (s == NULL)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < nacl; i++) {
        int32_t perms = acl[i].perms;
        p += sprintf(p, "%s:%s:%s%s%s%s%s", acl[i].id.scheme, acl[i].id.id, perms & ZK_PERM_CREATE ? "c" : "",
                     perms & ZK_PERM_DELETE ? "d" : "", perms & ZK_PERM_READ ? "r" : "",
                     perms & ZK_PERM_WRITE ? "w" : "", perms & ZK_PERM_ADMIN ? "a" : "");
    }
    return s;
}

static void luahost_audit_post(struct luahost *h, const char *operation, int64_t session, const char *user,
                               const char *ip, const char *znode, const char *znode_type, const char *acl,
                               int32_t err, enum hooks_result result)
{
    if (!luahost_wants_audit(h))
        return;
    struct luaev *ev = luahost_post(h, LUAEV_AUDIT, operation, user, ip, znode, znode_type, acl, NULL);
    if (ev == NULL)
        return;
    ev->session = session;
    ev->err = err;
    ev->result = result;
}

/* ------------------------------------------------------------ hooks table */

static void luahost_hook_started(void *ctx, struct server *srv)
{
    struct luahost *h = ctx;
    (void)srv;
    luahost_audit_post(h, "serverStart", 0, h->server_user, NULL, NULL, NULL, NULL, 0, HOOKS_RESULT_SUCCESS);
    luahost_post_simple(h, LUAEV_STATE_CHANGE, 0, "running");
    luahost_post_simple(h, LUAEV_START, 0, "running");
}

static void luahost_hook_stopping(void *ctx, struct server *srv)
{
    struct luahost *h = ctx;
    (void)srv;
    luahost_audit_post(h, "serverStop", 0, h->server_user, NULL, NULL, NULL, NULL, 0, HOOKS_RESULT_INVOKED);
    luahost_post_simple(h, LUAEV_STATE_CHANGE, 0, "shutdown");
    luahost_post_simple(h, LUAEV_STOP, 0, "shutdown");
}

static void luahost_hook_peer_state(void *ctx, const char *state, int64_t leader)
{
    struct luahost *h = ctx;
    luahost_post_simple(h, LUAEV_STATE_CHANGE, 0, state);
    if (leader >= 0 && luahost_wants(h, LUAEV_LEADER_ELECTED)) {
        struct luaev *ev = luahost_post(h, LUAEV_LEADER_ELECTED, NULL, NULL, NULL, NULL, NULL, NULL, state);
        if (ev)
            ev->leader = leader;
    }
}

static void luahost_hook_audit(void *ctx, const struct hooks_audit_event *ev)
{
    struct luahost *h = ctx;
    if (!luahost_wants_audit(h))
        return;
    char users[512];
    const char *user = ev->auth ? luahost_audit_users(ev->auth, users, sizeof users) : h->server_user;
    char *acl = ev->acl && ev->nacl ? luahost_audit_acl(ev->acl, ev->nacl) : NULL;
    luahost_audit_post(h, ev->operation, ev->session, user, ev->ip, ev->znode, ev->znode_type, acl, ev->err,
                       ev->result);
    free(acl);
}

static void luahost_hook_session(void *ctx, int64_t session_id, enum hooks_session_event what)
{
    struct luahost *h = ctx;
    enum luaev_kind kind = what == HOOKS_SESSION_CREATED   ? LUAEV_SESSION_CREATED
                           : what == HOOKS_SESSION_EXPIRED ? LUAEV_SESSION_EXPIRED
                                                           : LUAEV_SESSION_CLOSED;
    luahost_post_simple(h, kind, session_id, NULL);
}

static uint32_t luahost_code(const char *word)
{
    return strlen(word) == 4 ? jute_get_u32((const uint8_t *)word) : 0;
}

bool luahost_has_word(const struct luahost *h, uint32_t code)
{
    if (code == luahost_code(LUAHOST_RELOAD_WORD))
        return true;
    for (size_t i = 0; h->cmd && i < h->cmd->nwords; i++)
        if (h->cmd->words[i] == code)
            return true;
    return false;
}

static bool luahost_hook_exists(void *ctx, const char *word)
{
    uint32_t code = luahost_code(word);
    return code != 0 && luahost_has_word(ctx, code);
}

static void luahost_write(jute_writer *out, const char *s)
{
    jute_write_raw(out, s, strlen(s));
}

/* Pushes the command spec registered under key in index ("words" or
 * "index"); nil when there is none. */
static void luahost_push_spec(lua_State *L, const char *index, const char *key)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, index);
    lua_getfield(L, -1, key);
    lua_remove(L, -2);
    lua_remove(L, -2);
}

static bool luahost_spec_flag(lua_State *L, int spec, const char *field)
{
    lua_getfield(L, spec, field);
    bool b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* Pushes the first function of spec among the fields given (NULL-ended);
 * returns the field name or NULL (nothing pushed). */
static const char *luahost_spec_fn(lua_State *L, int spec, const char *const *fields)
{
    for (; *fields; fields++) {
        lua_getfield(L, spec, *fields);
        if (lua_isfunction(L, -1))
            return *fields;
        lua_pop(L, 1);
    }
    return NULL;
}

static void luahost_reload_reply(struct luahost *h, bool json, jute_writer *out)
{
    char err[512] = "";
    int rc = luahost_reload(h, err, sizeof err);
    if (json) {
        luahost_write(out, "{\n  \"command\" : \"" LUAHOST_RELOAD_NAME "\",\n  \"error\" : ");
        if (rc < 0)
            luajson_string(out, err, strlen(err));
        else
            luahost_write(out, "null");
        luahost_write(out, rc < 0 ? ",\n  \"reloaded\" : false\n}" : ",\n  \"reloaded\" : true\n}");
    } else if (rc < 0) {
        luahost_write(out, "Lua scripts not reloaded, the previous ones stay: ");
        luahost_write(out, err);
        luahost_write(out, "\n");
    } else {
        luahost_write(out, "Lua scripts reloaded.\n");
    }
}

static void luahost_hook_run(void *ctx, struct server *srv, struct conn *c, const char *word, const uint8_t *arg,
                             size_t arglen, jute_writer *out)
{
    struct luahost *h = ctx;
    if (strcmp(word, LUAHOST_RELOAD_WORD) == 0) {
        luahost_reload_reply(h, false, out);
        return;
    }
    lua_State *L = h->cmd->L;
    int top = lua_gettop(L);
    luahost_push_spec(L, "words", word);
    if (!lua_istable(L, -1))
        goto out;
    int spec = lua_gettop(L);
    if (!server_serving(srv) && !luahost_spec_flag(L, spec, "always")) {
        luahost_write(out, luahost_not_serving);
        luahost_write(out, "\n");
        goto out;
    }
    static const char *const text_fns[] = {"text", "run", "json", NULL};
    const char *kind = luahost_spec_fn(L, spec, text_fns);
    if (kind == NULL)
        goto out;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, word);
    lua_setfield(L, -2, "word");
    lua_getfield(L, spec, "name");
    lua_setfield(L, -2, "name");
    lua_pushliteral(L, "text");
    lua_setfield(L, -2, "format");
    if (arg && arglen >= 8) {
        lua_pushinteger(L, (lua_Integer)(((uint64_t)jute_get_u32(arg) << 32) | jute_get_u32(arg + 4)));
        lua_setfield(L, -2, "arg");
    }
    lua_newtable(L);
    lua_setfield(L, -2, "args");
    char what[64], err[512];
    snprintf(what, sizeof what, "command %s", word);
    h->self = c;
    int rc = luastate_call(h->cmd, 1, 1, what, err, sizeof err);
    h->self = NULL;
    if (rc < 0) {
        luahost_write(out, "Error running ");
        luahost_write(out, word);
        luahost_write(out, ": ");
        luahost_write(out, err);
        luahost_write(out, "\n");
        goto out;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        jute_write_raw(out, s, len);
    } else if (lua_istable(L, -1)) {
        /* A command that only has a JSON form answers a 4lw with its JSON. */
        if (luajson_encode(L, -1, 0, out, err, sizeof err) == 0)
            luahost_write(out, "\n");
    } else if (!lua_isnil(L, -1)) {
        size_t len;
        const char *s = luaL_tolstring(L, -1, &len);
        jute_write_raw(out, s, len);
        lua_pop(L, 1);
    }
out:
    lua_settop(L, top);
}

static const struct hooks_ops luahost_hooks = {
    .server_started = luahost_hook_started,
    .server_stopping = luahost_hook_stopping,
    .audit = luahost_hook_audit,
    .session_event = luahost_hook_session,
    .peer_state = luahost_hook_peer_state,
    .command_exists = luahost_hook_exists,
    .command_run = luahost_hook_run,
};

/* ------------------------------------------------------- admin commands */

static int luahost_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Pushes a URL-decoded copy of s[0..n). */
static void luahost_push_urldecoded(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            luaL_addchar(&b, ' ');
        } else if (s[i] == '%' && i + 2 < n && luahost_hexval(s[i + 1]) >= 0 && luahost_hexval(s[i + 2]) >= 0) {
            luaL_addchar(&b, (char)(luahost_hexval(s[i + 1]) * 16 + luahost_hexval(s[i + 2])));
            i += 2;
        } else {
            luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
}

/* Pushes {key = value} from "a=1&b=2". */
static void luahost_push_query(lua_State *L, const char *query)
{
    lua_newtable(L);
    while (query && *query) {
        size_t len = strcspn(query, "&");
        const char *eq = memchr(query, '=', len);
        size_t klen = eq ? (size_t)(eq - query) : len;
        if (klen > 0) {
            luahost_push_urldecoded(L, query, klen);
            if (eq)
                luahost_push_urldecoded(L, eq + 1, len - klen - 1);
            else
                lua_pushliteral(L, "");
            lua_settable(L, -3);
        }
        query += len;
        if (*query == '&')
            query++;
    }
}

static void luahost_admin_error(jute_writer *out, const char *name, const char *error)
{
    luahost_write(out, "{\n  \"command\" : ");
    luajson_string(out, name, strlen(name));
    luahost_write(out, ",\n  \"error\" : ");
    luajson_string(out, error, strlen(error));
    luahost_write(out, "\n}");
}

void luahost_run_admin(struct luahost *h, const char *name, const char *query, jute_writer *out)
{
    if (strcmp(name, LUAHOST_RELOAD_NAME) == 0) {
        luahost_reload_reply(h, true, out);
        return;
    }
    lua_State *L = h->cmd->L;
    int top = lua_gettop(L);
    luahost_push_spec(L, "index", name);
    if (!lua_istable(L, -1)) {
        char msg[300];
        snprintf(msg, sizeof msg, "Unknown command: %s", name);
        luahost_admin_error(out, name, msg);
        goto out;
    }
    int spec = lua_gettop(L);
    lua_getfield(L, spec, "name");
    const char *primary = lua_tostring(L, -1);
    int primary_idx = lua_gettop(L);
    if (!server_serving(h->srv) && !luahost_spec_flag(L, spec, "always")) {
        luahost_admin_error(out, primary, luahost_not_serving);
        goto out;
    }
    static const char *const json_fns[] = {"json", "run", "text", NULL};
    const char *kind = luahost_spec_fn(L, spec, json_fns);
    if (kind == NULL) {
        luahost_admin_error(out, primary, "command has no function");
        goto out;
    }
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, primary_idx);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "alias");
    lua_pushliteral(L, "json");
    lua_setfield(L, -2, "format");
    luahost_push_query(L, query);
    lua_setfield(L, -2, "args");
    char what[300], err[512];
    snprintf(what, sizeof what, "admin command %s", primary);
    h->self = NULL;
    int rc = luastate_call(h->cmd, 1, 2, what, err, sizeof err);
    if (rc < 0) {
        luahost_admin_error(out, primary, err);
        goto out;
    }
    /* data, error */
    int data = lua_gettop(L) - 1;
    if (lua_type(L, data) == LUA_TSTRING && strcmp(kind, "text") == 0) {
        /* A text-only command: its text as "output". */
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, data);
        lua_setfield(L, -2, "output");
        lua_replace(L, data);
    }
    /* ZooKeeper's CommandResponse.toMap: the data members, then "command"
     * and "error"; a command that reports an error keeps it first (its data
     * carried it), then its data, then "command". */
    jute_writer body;
    jute_writer_init(&body, 1024);
    bool has_error = lua_type(L, data + 1) == LUA_TSTRING;
    luahost_write(&body, "{\n");
    if (has_error) {
        size_t len;
        const char *e = lua_tolstring(L, data + 1, &len);
        luahost_write(&body, "  \"error\" : ");
        luajson_string(&body, e, len);
        luahost_write(&body, ",\n");
    }
    if (lua_istable(L, data)) {
        jute_writer obj;
        jute_writer_init(&obj, 1024);
        if (luajson_encode(L, data, 0, &obj, err, sizeof err) < 0) {
            jute_writer_free(&obj);
            jute_writer_free(&body);
            luahost_admin_error(out, primary, err);
            goto out;
        }
        /* obj is "{\n  ...\n}" or "{ }": splice its members in. */
        if (obj.len > 4 && obj.data[0] == '{' && obj.data[1] == '\n') {
            jute_write_raw(&body, obj.data + 2, obj.len - 4);
            luahost_write(&body, ",\n");
        }
        jute_writer_free(&obj);
    }
    luahost_write(&body, "  \"command\" : ");
    luajson_string(&body, primary, strlen(primary));
    if (!has_error)
        luahost_write(&body, ",\n  \"error\" : null");
    luahost_write(&body, "\n}");
    jute_write_raw(out, body.data, body.len);
    if (body.oom)
        out->oom = true;
    jute_writer_free(&body);
out:
    lua_settop(L, top);
}

/* --------------------------------------------------------------- options */

static bool luahost_is_dir_with(const char *dir, const char *file)
{
    char path[8400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The built-in scripts: $ZKPLUG_LUA_DIR, the folder compiled in, then
 * beside the executable (../share/zkplug/lua, then ../../lua for a build
 * folder inside the source tree). */
static char *luahost_find_builtin(char *err, size_t errlen)
{
    const char *env = getenv("ZKPLUG_LUA_DIR");
    if (env && *env)
        return strdup(env);
#ifdef ZKPLUG_LUA_DIR
    if (luahost_is_dir_with(ZKPLUG_LUA_DIR, "fourlw.lua"))
        return strdup(ZKPLUG_LUA_DIR);
#endif
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"../share/zkplug/lua", "lua", "../lua", "../../lua"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
            if (luahost_is_dir_with(dir, "fourlw.lua")) {
                char *real = realpath(dir, NULL);
                return real ? real : strdup(dir);
            }
        }
    }
    snprintf(err, errlen,
             "lua: the built-in scripts (lua/fourlw.lua) were not found beside the executable; "
             "set ZKPLUG_LUA_DIR to the lua folder");
    return NULL;
}

static int luahost_options(struct luahost *h, struct zk_config *cfg, char *err, size_t errlen)
{
    const char *dir = NULL;
    int64_t v;
    if (config_get_string(cfg, "lua.scriptsDir", NULL, &dir) < 0)
        goto bad;
    if (dir && *dir) {
        h->scripts_dir = strdup(dir);
        if (h->scripts_dir == NULL)
            return -ENOMEM;
    }
    if (config_get_int(cfg, "lua.instructionLimit", LUAHOST_DEFAULT_INSTRUCTIONS, &v) < 0 || v <= 0) {
        snprintf(err, errlen, "%s: key 'lua.instructionLimit': expected a positive number", cfg->path);
        return -EINVAL;
    }
    h->instruction_limit = (uint64_t)v;
    if (config_get_int(cfg, "lua.memoryLimitKb", LUAHOST_DEFAULT_MEMORY_KB, &v) < 0 || v < 256) {
        snprintf(err, errlen, "%s: key 'lua.memoryLimitKb': expected a number of KB, at least 256", cfg->path);
        return -EINVAL;
    }
    h->memory_limit = (size_t)v * 1024;
    if (config_get_int(cfg, "lua.eventQueueSize", LUAHOST_DEFAULT_QUEUE, &v) < 0 || v <= 0) {
        snprintf(err, errlen, "%s: key 'lua.eventQueueSize': expected a positive number", cfg->path);
        return -EINVAL;
    }
    h->queue_cap = (size_t)v;
    return 0;
bad:
    snprintf(err, errlen, "%s: a lua.* or audit.* key has a malformed value (see the log)", cfg->path);
    return -EINVAL;
}

/* --------------------------------------------------------------- lifecycle */

static int luahost_run_config_hook(struct luahost *h, char *err, size_t errlen)
{
    lua_State *L = h->cmd->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, "handlers");
    lua_getfield(L, -1, "config");
    int list = lua_gettop(L);
    int rc = 0;
    if (!lua_istable(L, list) || lua_rawlen(L, list) == 0)
        goto out;
    struct luaapi_cfgview *view = luaapi_cfgview_push(L, h->cfg);
    int view_idx = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    for (lua_Integer i = 1; i <= n && rc == 0; i++) {
        lua_rawgeti(L, list, i);
        lua_pushvalue(L, view_idx);
        char cerr[512];
        rc = luastate_call(h->cmd, 1, 0, "config hook", cerr, sizeof cerr);
        if (rc < 0 && rc != -ECANCELED)
            snprintf(err, errlen, "lua: config hook failed: %s", cerr);
    }
    /* A rejection leaves its message in the view. */
    int arc = luaapi_cfgview_apply(view, h->cfg, err, errlen);
    if (rc == 0 || rc == -ECANCELED)
        rc = arc < 0 ? arc : rc == -ECANCELED ? -EINVAL : 0;
out:
    lua_settop(L, top);
    return rc;
}

int luahost_open(struct zk_config *cfg, struct luahost **out, char *err, size_t errlen)
{
    *out = NULL;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct luahost *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->cfg = cfg;
    h->sighup_fd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the event thread's rest is timed */
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&h->idle, NULL);
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];
    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &pwp) == 0 && pwp)
        snprintf(h->server_user, sizeof h->server_user, "%s", pwp->pw_name);
    else
        snprintf(h->server_user, sizeof h->server_user, "%s", getenv("USER") ? getenv("USER") : "unknown");

    int rc = luahost_options(h, cfg, err, errlen);
    if (rc < 0)
        goto fail;
    h->builtin_dir = luahost_find_builtin(err, errlen);
    if (h->builtin_dir == NULL) {
        rc = -ENOENT;
        goto fail;
    }
    rc = luastate_new(h, LUASTATE_COMMANDS, &h->cmd, err, errlen);
    if (rc < 0)
        goto fail;
    rc = luahost_run_config_hook(h, err, errlen);
    if (rc < 0)
        goto fail;
    /* After the hook, which may set it or reject a bad value first. */
    int audit = 0;
    if (config_get_bool(cfg, "audit.enable", 0, &audit) < 0) {
        snprintf(err, errlen, "%s: key 'audit.enable': expected true or false", cfg->path);
        rc = -EINVAL;
        goto fail;
    }
    h->audit_enabled = audit != 0;
    log_info("lua: scripts loaded from %s%s%s", h->builtin_dir, h->scripts_dir ? " and " : "",
             h->scripts_dir ? h->scripts_dir : "");
    *out = h;
    return 0;
fail:
    luahost_close(h);
    return rc;
}

static void luahost_on_sighup(void *arg, int fd, unsigned events)
{
    struct luahost *h = arg;
    (void)events;
    struct signalfd_siginfo si;
    bool got = false;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        got = true;
    if (!got)
        return;
    if (log_reopen() < 0)
        log_error("SIGHUP: cannot reopen the log file %s", log_file_path());
    char err[512];
    if (luahost_reload(h, err, sizeof err) < 0)
        log_error("lua: SIGHUP: scripts not reloaded, the previous ones stay: %s", err);
}

int luahost_attach(struct luahost *h, struct server *srv, char *err, size_t errlen)
{
    h->srv = srv;
    int rc = luastate_new(h, LUASTATE_EVENTS, &h->ev, err, errlen);
    if (rc < 0)
        return rc;
    h->ev_mask = h->ev->events;
    h->fmt_second = INT64_MIN;
    jute_writer_init(&h->fmt, 64 * 1024);
    h->run_evs = calloc(LUAHOST_AUDIT_RUN, sizeof *h->run_evs);
    h->run_off = calloc(LUAHOST_AUDIT_RUN + 1, sizeof *h->run_off);
    if (h->run_evs == NULL || h->run_off == NULL) {
        snprintf(err, errlen, "lua: out of memory");
        return -ENOMEM;
    }
    /* Pending events go to the event thread once per loop iteration. */
    if (loop_before_sleep(srv->loop, luahost_before_sleep, h) == 0)
        h->sleep_hooked = true;
    rc = pthread_create(&h->thread, NULL, luahost_thread_main, h);
    if (rc != 0) {
        snprintf(err, errlen, "lua: cannot start the event thread: %s", strerror(rc));
        return -rc;
    }
    pthread_mutex_lock(&h->lock);
    h->thread_started = true;
    pthread_mutex_unlock(&h->lock);

    srv->hooks = &luahost_hooks;
    srv->hooks_ctx = h;
    fourlw_bind(&luahost_hooks, h);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    h->sighup_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (h->sighup_fd < 0 || loop_fd_add(srv->loop, h->sighup_fd, LOOP_READ, luahost_on_sighup, h) < 0) {
        snprintf(err, errlen, "lua: cannot watch SIGHUP: %s", strerror(errno));
        return -EIO;
    }
    if (srv->cfg->admin_enable_server) {
        char aerr[512];
        /* As ZooKeeper: a server whose AdminServer cannot start still serves. */
        if (admin_http_open(h, srv, &h->admin, aerr, sizeof aerr) < 0)
            log_warn("AdminServer not started: %s", aerr);
    }
    return 0;
}

int luahost_reload(struct luahost *h, char *err, size_t errlen)
{
    struct luastate *cmd = NULL, *ev = NULL;
    int rc = luastate_new(h, LUASTATE_COMMANDS, &cmd, err, errlen);
    if (rc == 0 && h->thread_started)
        rc = luastate_new(h, LUASTATE_EVENTS, &ev, err, errlen);
    if (rc < 0) {
        luastate_free(cmd);
        log_error("lua: reload failed, the previous scripts stay: %s", err);
        return rc;
    }
    luastate_free(h->cmd);
    h->cmd = cmd;
    if (ev) {
        h->ev_mask = ev->events;
        struct luaev *swap = luahost_post(h, LUAEV_SWAP, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        if (swap == NULL)
            luastate_free(ev);
        else
            swap->swap = ev;
    }
    __atomic_fetch_add(&h->reloads, 1, __ATOMIC_RELAXED);
    log_info("lua: scripts reloaded from %s%s%s", h->builtin_dir, h->scripts_dir ? " and " : "",
             h->scripts_dir ? h->scripts_dir : "");
    return 0;
}

void luahost_drain(struct luahost *h)
{
    luahost_publish(h);
    pthread_mutex_lock(&h->lock);
    uint64_t target = h->queued_seq;
    h->drain_waiting++;
    pthread_cond_signal(&h->wake); /* ends its rest */
    while (h->thread_started && h->handled_seq < target)
        pthread_cond_wait(&h->idle, &h->lock);
    h->drain_waiting--;
    pthread_mutex_unlock(&h->lock);
}

void luahost_get_counters(struct luahost *h, struct luahost_counters *out)
{
    out->events_queued = __atomic_load_n(&h->events_queued, __ATOMIC_RELAXED);
    out->events_dropped = __atomic_load_n(&h->events_dropped, __ATOMIC_RELAXED);
    out->events_handled = __atomic_load_n(&h->events_handled, __ATOMIC_RELAXED);
    out->errors = __atomic_load_n(&h->errors, __ATOMIC_RELAXED);
    out->reloads = __atomic_load_n(&h->reloads, __ATOMIC_RELAXED);
    out->audit_waits = __atomic_load_n(&h->audit_waits, __ATOMIC_RELAXED);
}

void luahost_close(struct luahost *h)
{
    if (h == NULL)
        return;
    admin_http_close(h->admin);
    h->admin = NULL;
    if (h->srv) {
        if (h->sighup_fd >= 0)
            loop_fd_remove(h->srv->loop, h->sighup_fd);
        if (h->srv->hooks_ctx == h) {
            h->srv->hooks = NULL;
            h->srv->hooks_ctx = NULL;
        }
        fourlw_bind(NULL, NULL);
    }
    if (h->sighup_fd >= 0)
        close(h->sighup_fd);
    /* Everything queued so far is handled before the thread ends. */
    luahost_publish(h);
    pthread_mutex_lock(&h->lock);
    bool started = h->thread_started;
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (started)
        pthread_join(h->thread, NULL);
    for (struct luaev *ev = h->head; ev; ev = ev->next)
        if (ev->kind == LUAEV_SWAP)
            luastate_free(ev->swap);
    luahost_chunks_free(h->chunks);
    luahost_chunks_free(h->free_chunks);
    luahost_chunks_free(h->pend_chunks);
    jute_writer_free(&h->fmt);
    free(h->run_evs);
    free(h->run_off);
    luastate_free(h->ev);
    luastate_free(h->cmd);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->idle);
    free(h->builtin_dir);
    free(h->scripts_dir);
    free(h);
}
