/*
 * The Lua host: operators extend and inspect zkplug with Lua 5.4 scripts
 * (configuration checks, audit logging, four-letter words and admin
 * commands) instead of recompiling. The API the scripts see is documented in
 * docs/lua-api.md.
 *
 * Scripts: every *.lua file of the built-in folder (lua/ in the source tree
 * or the install; ZKPLUG_LUA_DIR in the environment overrides it), in name
 * order, then every *.lua of the operator's folder named by lua.scriptsDir
 * in zoo.cfg. A script registers commands (zk.command) and event handlers
 * (zk.on).
 *
 * Threads and states: two Lua states run the same scripts.
 * - The command state lives on the event-loop thread. It runs the config
 *   hook at start-up and answers commands (four-letter words, AdminServer
 *   requests), which read server state directly. Commands are not on the
 *   write path, so they may run there under the instruction budget.
 * - The event state lives on a dedicated thread. Audit records and server
 *   events (start, stop, sessions, state changes) are copied into a bounded
 *   queue on the loop thread and handled there, so a slow handler never
 *   delays an acknowledgement. A full queue drops the event and counts it
 *   (metric lua_events_dropped), except an audit record: the loop waits for
 *   room instead (counted in audit_waits), so no audit record is lost.
 *   Audit lines are formatted in C on the event thread and handed to
 *   "audit_batch" handlers a batch at a time.
 *
 * Sandbox: base (without dofile, loadfile, require; load accepts text only),
 * string, table, math, utf8, coroutine and a few os functions (time, clock,
 * date, getenv). No io, no package, no debug, no C modules. Every call runs
 * under an instruction budget (lua.instructionLimit) and each state under a
 * memory cap (lua.memoryLimitKb); a script that errors, loops or exhausts
 * memory fails that one call with a message naming the script and line, a
 * log line with its traceback, and the server carries on.
 *
 * Reload: SIGHUP or the lua_reload command (4lw "lrld") load every script
 * again into fresh states; if any script fails, the old states stay.
 *
 * Call order (server_main): luahost_open after config_load (runs the config
 * hook, may rewrite cfg), luahost_attach after server_init (installs the
 * hooks table, starts the event thread and the AdminServer, watches SIGHUP),
 * luahost_close after server_stop and before server_fini. All on the main
 * (loop) thread.
 */
#ifndef ZKPLUG_CORE_LUA_HOST_H
#define ZKPLUG_CORE_LUA_HOST_H

#include <stddef.h>
#include <stdint.h>

struct zk_config;
struct server;
struct luahost;

/* Loads the scripts into the command state and runs the config hook on cfg
 * (borrowed; the hook may replace its values, in which case cfg is parsed
 * again and its fields change). Blocks SIGHUP in the calling thread so that
 * threads created later never take it. 0 and *out (free with luahost_close),
 * or -EINVAL with the reason in err: a script that does not load
 * ("FILE:LINE: message") or a rejected value ("FILE:LINE: key 'K': message
 * (rejected by SCRIPT:LINE)"), or -ENOMEM. */
int luahost_open(struct zk_config *cfg, struct luahost **out, char *err, size_t errlen);

/* Installs the host on srv (srv->hooks, srv->hooks_ctx), starts the event
 * thread, the AdminServer (admin.enableServer) and SIGHUP handling on the
 * loop. srv is borrowed until luahost_close. 0 or -errno with err set. */
int luahost_attach(struct luahost *host, struct server *srv, char *err, size_t errlen);

/* Loads every script again; on failure the running scripts stay and err
 * says why. Loop thread only. 0 or -EINVAL / -ENOMEM. */
int luahost_reload(struct luahost *host, char *err, size_t errlen);

/* Drains and stops the event thread, stops the AdminServer, removes the
 * hooks from the server and frees everything. NULL does nothing. */
void luahost_close(struct luahost *host);

/* Counters, for tests and the lua_* metrics. */
struct luahost_counters {
    int64_t events_queued;
    int64_t events_dropped;
    int64_t events_handled;
    int64_t errors;  /* failed calls, any state */
    int64_t reloads; /* successful reloads */
    int64_t audit_waits; /* times an audit record waited for room in a full queue */
};
void luahost_get_counters(struct luahost *host, struct luahost_counters *out);

/* Blocks until the event thread has handled every event queued so far
 * (tests and shutdown). */
void luahost_drain(struct luahost *host);

#endif
