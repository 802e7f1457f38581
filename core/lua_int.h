/*
 * Private declarations shared by the Lua host's files (lua_host.c: states,
 * sandbox, event thread; lua_api.c: the zk table scripts see; lua_json.c:
 * AdminServer JSON; admin_http.c; fourlw.c). Not for use outside them.
 *
 * Threads: a struct luastate is used by one thread at a time: the command
 * state by the loop thread, the event state by the event thread (it is
 * built on the loop thread and handed over through the queue). The fields
 * of struct luahost are loop-thread only unless marked "lock".
 */
#ifndef ZKPLUG_CORE_LUA_INT_H
#define ZKPLUG_CORE_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hooks.h"
#include "jute.h"
#include "lua_host.h"

struct server;
struct conn;
struct admin_http;

enum luastate_role {
    LUASTATE_COMMANDS, /* loop thread: config hook, commands */
    LUASTATE_EVENTS,   /* event thread: zk.on handlers */
};

/* Events scripts can handle with zk.on (besides "config"). */
enum luaev_kind {
    LUAEV_AUDIT,
    LUAEV_START,
    LUAEV_STOP,
    LUAEV_STATE_CHANGE,
    LUAEV_LEADER_ELECTED,
    LUAEV_SESSION_CREATED,
    LUAEV_SESSION_EXPIRED,
    LUAEV_SESSION_CLOSED,
    LUAEV_AUDIT_BATCH, /* handler name only: audit events handed over as a batch */
    LUAEV_COUNT,
    LUAEV_SWAP = LUAEV_COUNT, /* internal: install a reloaded event state */
};

extern const char *const luaev_names[LUAEV_COUNT];

/* struct luastate's events mask: bit LUAEV_x for a zk.on handler, plus this
 * bit when zk.audit_log named a file for the built-in audit log (written in
 * C by the event thread, no Lua call). */
#define LUAEV_BIT_AUDIT_LOG (1u << 31)
#define LUAEV_BITS_AUDIT ((1u << LUAEV_AUDIT) | (1u << LUAEV_AUDIT_BATCH) | LUAEV_BIT_AUDIT_LOG)

struct luaapi_appender;

struct luastate {
    lua_State *L;
    struct luahost *host;
    enum luastate_role role;
    size_t mem_used, mem_limit;        /* bytes; the allocator refuses beyond the limit */
    uint64_t budget, spent;            /* instructions, per call */
    uint32_t events;                   /* bit LUAEV_x set: a zk.on handler exists; LUAEV_BIT_AUDIT_LOG */
    uint32_t *words;                   /* four-letter words registered (big-endian codes) */
    size_t nwords;
    struct luaapi_appender *appenders; /* open zk.appender files, flushed after each batch */
    const char *loading;               /* script being loaded, for messages */
    char *audit_path;                  /* zk.audit_log: the built-in audit log's file, or NULL */
    int audit_fd;                      /* event thread: audit_path opened on first use, or -1 */
    bool audit_failing;                /* event thread: the last write failed (logged once) */
};

/* A queued event: everything copied, strings in buf. Events live in
 * chunks (struct luahost_chunk): the loop thread carves them out of its
 * current chunk without malloc, and whole chunks change hands with the
 * batch they hold. */
struct luaev {
    struct luaev *next;
    enum luaev_kind kind;
    int64_t time_ms; /* wall clock when it happened */
    int64_t session;
    int64_t leader; /* LUAEV_LEADER_ELECTED */
    int32_t err;
    enum hooks_result result;
    const char *operation, *user, *ip, *znode, *znode_type, *acl, *state;
    struct luastate *swap; /* LUAEV_SWAP */
    char buf[];
};

/* A block of events (bump-allocated by the loop thread). */
struct luahost_chunk {
    struct luahost_chunk *next;
    size_t used, cap; /* bytes of data */
    _Alignas(16) unsigned char data[];
};

/* A run of audit events handed to "audit_batch" handlers: evs[i]'s
 * preformatted line is text[off[i] .. off[i+1]). */
struct luaapi_audit_run {
    const struct luaev *const *evs;
    const size_t *off;
    const char *text;
    size_t n;
};

struct luahost {
    struct zk_config *cfg;
    struct server *srv;
    char *builtin_dir, *scripts_dir; /* scripts_dir NULL when not configured */
    uint64_t instruction_limit;
    size_t memory_limit;
    size_t queue_cap;
    bool audit_enabled;
    char server_user[128]; /* the user running the server (audit "user" of server events) */

    struct luastate *cmd; /* loop thread */

    /* Event thread. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    struct luaev *head, *tail; /* lock */
    size_t qlen;               /* lock */
    struct luahost_chunk *chunks;      /* lock: the chunks holding head..tail */
    struct luahost_chunk *free_chunks; /* lock: emptied chunks for reuse */
    size_t nfree_chunks;               /* lock */
    bool writer_waiting;               /* lock: the loop thread waits for room */
    int drain_waiting;                 /* lock: threads in luahost_drain */
    /* Loop thread: events not yet handed to the event thread (published
     * from the before-sleep hook, or sooner when many pile up). */
    struct luaev *pend_head, *pend_tail;
    struct luahost_chunk *pend_chunks; /* first: the one being filled */
    size_t pend_n;
    size_t qlen_hint;     /* qlen at the last publish: an upper bound */
    bool sleep_hooked;    /* the before-sleep hook is installed */
    /* Event thread: audit line formatting. */
    jute_writer fmt;
    const struct luaev **run_evs;
    size_t *run_off;
    int64_t fmt_second;   /* the second fmt_date describes */
    char fmt_date[32];
    size_t fmt_date_len;
    uint64_t queued_seq, handled_seq; /* lock */
    bool stop;                 /* lock */
    bool sleeping;             /* lock: the event thread waits for work */
    bool resting;              /* lock: the event thread lets a batch build up (LUAHOST_REST_US) */
    struct luastate *ev;       /* event thread (after start) */
    uint32_t ev_mask;          /* loop thread copy of the newest event state's mask */

    int64_t events_queued, events_dropped, events_handled, errors, reloads, audit_waits; /* atomics */

    /* Command context while a command runs (loop thread). */
    struct conn *self;

    int sighup_fd;
    struct admin_http *admin;
};

/* ---- lua_host.c ---- */

/* Calls the function below nargs arguments on s->L under the budget, with a
 * traceback handler. On error: logs "what" with the traceback, counts it,
 * leaves nothing of the call on the stack, writes the first line of the
 * message to err and returns -EINVAL (-ENOMEM for memory). */
int luastate_call(struct luastate *s, int nargs, int nresults, const char *what, char *err, size_t errlen);

/* The luastate behind a lua_State. */
struct luastate *luastate_of(lua_State *L);

/* A command registered under a four-letter word? (loop thread) */
bool luahost_has_word(const struct luahost *host, uint32_t code);

/* Runs the command `name` (a primary name or an alias) for the AdminServer:
 * query is the URL's query string (may be NULL). Appends the JSON body to
 * out. Loop thread. */
void luahost_run_admin(struct luahost *host, const char *name, const char *query, jute_writer *out);

/* ---- lua_api.c ---- */

/* Installs the zk table in s->L's globals. 0 or -ENOMEM. */
int luaapi_open(struct luastate *s);
/* "3.8.0-zkplug-0.1.0, built on 2025-01-31 12:00 UTC" */
const char *luaapi_version(void);
/* Is the value at idx zk.null? */
bool luaapi_is_null(lua_State *L, int idx);
/* Pushes a table describing an event, for the zk.on handlers; line (an
 * audit event's preformatted log line, NULL otherwise) becomes its "line". */
void luaapi_push_event(lua_State *L, const struct luaev *ev, const char *line, size_t linelen);
/* Pushes the batch table "audit_batch" handlers receive: text (every line),
 * n, and events 1..n built on first access. The run must stay valid until
 * luaapi_audit_batch_expire(L, idx), after which the table refuses access. */
void luaapi_push_audit_batch(lua_State *L, const struct luaapi_audit_run *run);
void luaapi_audit_batch_expire(lua_State *L, int idx);
/* Flushes s's appenders (event thread, after a batch). */
void luaapi_flush_appenders(struct luastate *s);
/* Closes them (before lua_close). */
void luaapi_close_appenders(struct luastate *s);
/* The config hook's view of the configuration, pushed as the handler's
 * argument; luaapi_config_changes applies what the handlers set. */
struct luaapi_cfgview;
struct luaapi_cfgview *luaapi_cfgview_push(lua_State *L, struct zk_config *cfg);
/* Rewrites cfg when a handler changed a value: 0 (also when nothing
 * changed) or -EINVAL with err set. */
int luaapi_cfgview_apply(struct luaapi_cfgview *view, struct zk_config *cfg, char *err, size_t errlen);

/* ---- lua_json.c ---- */

/* Appends the value at idx as JSON, pretty-printed the way ZooKeeper's
 * AdminServer (Jackson's default pretty printer) prints it, at the given
 * indent depth. Tables made by zk.object keep their insertion order; other
 * tables with keys 1..n (or made by zk.array) are arrays; other keys are
 * sorted. 0 or -EINVAL (err: what cannot be encoded). */
int luajson_encode(lua_State *L, int idx, int depth, jute_writer *out, char *err, size_t errlen);
/* Appends a JSON string literal. */
void luajson_string(jute_writer *out, const char *s, size_t len);

/* ---- fourlw.c ---- */

/* Binds the hook table that fourlw_is_command asks about words (it has no
 * server argument). NULL ops unbinds. Loop thread. */
void fourlw_bind(const struct hooks_ops *ops, void *ctx);
/* Whitelist check (4lw.commands.whitelist, ZooKeeper's rules). */
bool fourlw_allowed(const struct zk_config *cfg, const char *word);

/* ---- admin_http.c ---- see admin_http.h */

#endif
