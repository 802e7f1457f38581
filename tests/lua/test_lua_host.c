/*
 * cmocka tests of the Lua host (core/lua_host.c, core/lua_api.c): commands
 * run through the hooks table, every sandbox limit (a script error, an
 * infinite loop, a memory bomb, forbidden libraries), the config hook
 * (override and rejection), reload keeping the old scripts on failure, and
 * event handlers on their own thread with a bounded queue, audit batches
 * (preformatted lines, lazily built events), back-pressure instead of
 * dropping audit records, and the built-in audit log written in C
 * (zk.audit_log: replaceable by an operator's handler, a file that cannot
 * be opened counted as an error and opened again later).
 *
 * Each test writes its scripts into a fresh folder used as lua.scriptsDir;
 * the built-in scripts come from the source tree (ZKPLUG_LUA_DIR). The
 * server is a bare struct with a loop and a config: enough for commands that
 * do not read server state.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "lua_host.h"
#include "server.h"

struct fixture {
    char dir[64];
    char cfgtext[2048];
    struct zk_config cfg;
    struct server srv;
    struct luahost *host;
    jute_writer out;
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/zkplug-luatest-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    setenv("ZKPLUG_LUA_DIR", TEST_LUA_DIR, 1);
    jute_writer_init(&fx->out, 1024);
    *state = fx;
    return 0;
}

static void fx_close(struct fixture *fx)
{
    if (fx->host) {
        luahost_close(fx->host);
        fx->host = NULL;
    }
    if (fx->srv.loop) {
        loop_free(fx->srv.loop);
        fx->srv.loop = NULL;
    }
    config_free(&fx->cfg);
    memset(&fx->cfg, 0, sizeof fx->cfg);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    fx_close(fx);
    jute_writer_free(&fx->out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* Parses a zoo.cfg (extra lines appended) and opens the host: rc of
 * luahost_open, err filled. */
static int fx_open(struct fixture *fx, const char *extra, char *err, size_t errlen)
{
    snprintf(fx->cfgtext, sizeof fx->cfgtext,
             "tickTime=2000\ndataDir=%s\nclientPort=2181\nadmin.enableServer=false\nlua.scriptsDir=%s\n"
             "lua.instructionLimit=200000\nlua.memoryLimitKb=4096\n%s",
             fx->dir, fx->dir, extra ? extra : "");
    char perr[512];
    assert_int_equal(config_parse("zoo.cfg", fx->cfgtext, &fx->cfg, perr, sizeof perr), 0);
    return luahost_open(&fx->cfg, &fx->host, err, errlen);
}

/* Opens and attaches to a bare server. */
static void fx_start(struct fixture *fx, const char *extra)
{
    char err[512] = "";
    int rc = fx_open(fx, extra, err, sizeof err);
    if (rc != 0)
        fail_msg("luahost_open: %s", err);
    fx->srv.cfg = &fx->cfg;
    fx->srv.loop = loop_new();
    fx->srv.serving = true;
    assert_int_equal(luahost_attach(fx->host, &fx->srv, err, sizeof err), 0);
}

static const char *fx_run(struct fixture *fx, const char *word)
{
    fx->out.len = 0;
    assert_true(fx->srv.hooks->command_exists(fx->srv.hooks_ctx, word));
    fx->srv.hooks->command_run(fx->srv.hooks_ctx, &fx->srv, NULL, word, NULL, 0, &fx->out);
    jute_write_raw(&fx->out, "", 1);
    return (const char *)fx->out.data;
}

/* ------------------------------------------------------------------ tests */

static void test_command_registered_in_lua_answers_its_word(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "hello.lua", "zk.command{name='hello', word='helo', text=function() return 'hi there\\n' end}\n");
    fx_start(fx, NULL);
    assert_string_equal(fx_run(fx, "helo"), "hi there\n");
    assert_false(fx->srv.hooks->command_exists(fx->srv.hooks_ctx, "nope"));
    /* The built-in words are Lua commands too. */
    assert_string_equal(fx_run(fx, "ruok"), "imok");
}

static void test_script_error_fails_the_call_with_file_and_line(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "bad.lua",
               "zk.command{name='boom', text=function()\n"
               "  local t = nil\n"
               "  return t.field\n"
               "end}\n"
               "zk.command{name='good', text=function() return 'ok' end}\n");
    fx_start(fx, NULL);
    const char *out = fx_run(fx, "boom");
    assert_non_null(strstr(out, "Error running boom: "));
    assert_non_null(strstr(out, "bad.lua:3: attempt to index a nil value"));
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.errors, 1);
    /* The host carries on. */
    assert_string_equal(fx_run(fx, "good"), "ok");
}

static void test_infinite_loop_exhausts_the_instruction_budget(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "loop.lua",
               "zk.command{name='loop', text=function() while true do end end}\n"
               /* A script that tries to swallow the budget error keeps failing. */
               "zk.command{name='sly1', text=function()\n"
               "  while true do pcall(function() while true do end end) end\n"
               "end}\n"
               "zk.command{name='fine', text=function() local n = 0 for i = 1, 1000 do n = n + i end return tostring(n) end}\n");
    fx_start(fx, NULL);
    const char *out = fx_run(fx, "loop");
    assert_non_null(strstr(out, "loop.lua:1: instruction budget of 200000 exceeded"));
    out = fx_run(fx, "sly1");
    assert_non_null(strstr(out, "instruction budget of 200000 exceeded"));
    assert_string_equal(fx_run(fx, "fine"), "500500");
}

static void test_memory_bomb_hits_the_cap_and_the_state_survives(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "bomb.lua",
               "zk.command{name='bomb', text=function()\n"
               "  local t = {}\n"
               "  for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end\n"
               "end}\n"
               "zk.command{name='big1', text=function() return string.rep('y', 64 * 1024 * 1024) end}\n"
               "zk.command{name='fine', text=function() return string.rep('z', 10) end}\n");
    fx_start(fx, "lua.instructionLimit=100000000\n");
    const char *out = fx_run(fx, "bomb");
    assert_non_null(strstr(out, "not enough memory (Lua memory cap of 4096 KB reached)"));
    out = fx_run(fx, "big1");
    assert_non_null(strstr(out, "not enough memory"));
    assert_string_equal(fx_run(fx, "fine"), "zzzzzzzzzz");
}

static void test_forbidden_libraries_are_absent(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "probe.lua",
               "zk.command{name='prob', text=function()\n"
               "  local r = {}\n"
               "  for _, name in ipairs{'io', 'package', 'debug', 'require', 'dofile', 'loadfile'} do\n"
               "    r[#r + 1] = name .. '=' .. type(_G[name])\n"
               "  end\n"
               "  r[#r + 1] = 'os.execute=' .. type(os.execute)\n"
               "  r[#r + 1] = 'os.remove=' .. type(os.remove)\n"
               "  r[#r + 1] = 'os.exit=' .. type(os.exit)\n"
               "  r[#r + 1] = 'string.dump=' .. type(string.dump)\n"
               "  r[#r + 1] = 'os.time=' .. type(os.time)\n"
               "  local f, e = load('\\27Lua\\84\\0 garbage')\n"
               "  r[#r + 1] = 'binary=' .. tostring(f) .. ':' .. tostring(e:find('binary') ~= nil)\n"
               "  r[#r + 1] = 'text=' .. load('return 1 + 1')()\n"
               "  return table.concat(r, ' ')\n"
               "end}\n"
               "zk.command{name='popn', text=function() return io.popen('id'):read('a') end}\n");
    fx_start(fx, NULL);
    assert_string_equal(fx_run(fx, "prob"),
                        "io=nil package=nil debug=nil require=nil dofile=nil loadfile=nil os.execute=nil "
                        "os.remove=nil os.exit=nil string.dump=nil os.time=function binary=nil:true text=2");
    assert_non_null(strstr(fx_run(fx, "popn"), "attempt to index a nil value (global 'io')"));
}

static void test_config_hook_overrides_a_value(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "cfg.lua",
               "zk.on('config', function(cfg)\n"
               "  cfg:set('tickTime', tonumber(cfg:get('tickTime')) + 500)\n"
               "  cfg:set('maxClientCnxns', '7')\n"
               "end)\n");
    char err[512] = "";
    assert_int_equal(fx_open(fx, NULL, err, sizeof err), 0);
    assert_int_equal(fx->cfg.tick_time, 2500);
    assert_int_equal(fx->cfg.max_client_cnxns, 7);
    /* Derived defaults follow the new tickTime. */
    assert_int_equal(fx->cfg.min_session_timeout, 5000);
}

static void test_config_hook_overrides_from_the_environment(void **state)
{
    struct fixture *fx = *state;
    setenv("ZKPLUG_MAXCLIENTCNXNS", "42", 1);
    char err[512] = "";
    int rc = fx_open(fx, NULL, err, sizeof err);
    unsetenv("ZKPLUG_MAXCLIENTCNXNS");
    assert_int_equal(rc, 0);
    assert_int_equal(fx->cfg.max_client_cnxns, 42);
}

static void test_config_hook_rejection_stops_startup_with_key_and_line(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "cfg.lua",
               "zk.on('config', function(cfg)\n"
               "  if tonumber(cfg:get('tickTime')) < 5000 then\n"
               "    cfg:reject('tickTime', 'must be at least 5000 here')\n"
               "  end\n"
               "end)\n");
    char err[512] = "";
    assert_int_equal(fx_open(fx, NULL, err, sizeof err), -EINVAL);
    assert_null(fx->host);
    assert_non_null(strstr(err, "zoo.cfg:1: key 'tickTime': must be at least 5000 here (rejected by "));
    assert_non_null(strstr(err, "cfg.lua:3)"));
}

static void test_builtin_config_hook_rejects_admin_port_equal_to_client_port(void **state)
{
    struct fixture *fx = *state;
    char err[512] = "";
    assert_int_equal(fx_open(fx, "admin.enableServer=true\nadmin.serverPort=2181\n", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "key 'admin.serverPort': must differ from clientPort (2181)"));
}

static void test_script_that_fails_to_load_stops_startup(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "syntax.lua", "zk.command{name='x', text=function() return 1 end\n");
    char err[512] = "";
    assert_true(fx_open(fx, NULL, err, sizeof err) < 0);
    assert_non_null(strstr(err, "syntax.lua:"));
}

static void test_reload_keeps_old_scripts_when_new_ones_fail(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "admin.lua", "zk.command{name='vers', text=function() return 'one' end}\n");
    fx_start(fx, NULL);
    assert_string_equal(fx_run(fx, "vers"), "one");
    write_file(fx->dir, "admin.lua", "zk.command{name='vers', text=function() return 'two' end\n");
    char err[512] = "";
    assert_true(luahost_reload(fx->host, err, sizeof err) < 0);
    assert_non_null(strstr(err, "admin.lua:"));
    assert_string_equal(fx_run(fx, "vers"), "one");
    write_file(fx->dir, "admin.lua",
               "zk.command{name='vers', text=function() return 'two' end}\n"
               "zk.command{name='more', text=function() return 'new' end}\n");
    assert_int_equal(luahost_reload(fx->host, err, sizeof err), 0);
    assert_string_equal(fx_run(fx, "vers"), "two");
    assert_string_equal(fx_run(fx, "more"), "new");
    /* Reload through the word. */
    assert_string_equal(fx_run(fx, "lrld"), "Lua scripts reloaded.\n");
}

static void test_event_handlers_run_on_the_event_thread(void **state)
{
    struct fixture *fx = *state;
    char path[128], script[512];
    snprintf(path, sizeof path, "%s/events.log", fx->dir);
    snprintf(script, sizeof script,
             "local out\n"
             "zk.on('session_created', function(ev)\n"
             "  out = out or zk.appender('%s')\n"
             "  out:write(ev.event, ' ', ev.session, ' ', zk.state, '\\n')\n"
             "end)\n"
             "zk.on('session_closed', function(ev) zk.server() end)\n",
             path);
    write_file(fx->dir, "events.lua", script);
    fx_start(fx, NULL);
    fx->srv.hooks->session_event(fx->srv.hooks_ctx, 0x1234, HOOKS_SESSION_CREATED);
    fx->srv.hooks->session_event(fx->srv.hooks_ctx, 0x1234, HOOKS_SESSION_CLOSED);
    luahost_drain(fx->host);
    char *text = read_file(path);
    assert_string_equal(text, "session_created 0x1234 events\n");
    free(text);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    /* Server state is not readable off the loop thread. */
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.events_handled, 2);
}

static void test_full_event_queue_drops_and_counts(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->dir, "slow.lua",
               "zk.on('session_created', function(ev) local n = 0 for i = 1, 150000 do n = n + i end end)\n");
    fx_start(fx, "lua.eventQueueSize=2\n");
    for (int i = 0; i < 200; i++)
        fx->srv.hooks->session_event(fx->srv.hooks_ctx, i + 1, HOOKS_SESSION_CREATED);
    luahost_drain(fx->host);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_true(c.events_dropped > 0);
    assert_int_equal(c.events_queued + c.events_dropped, 200);
    assert_int_equal(c.events_handled, c.events_queued);
}

static void test_audit_events_reach_the_default_handler(void **state)
{
    struct fixture *fx = *state;
    char extra[256], path[128];
    snprintf(path, sizeof path, "%s/audit.log", fx->dir);
    snprintf(extra, sizeof extra, "audit.enable=true\naudit.logFile=%s\n", path);
    fx_start(fx, extra);
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    assert_int_equal(acl_auth_add_id(&auth, "digest", "bob:hash="), 0);
    struct acl_entry acl[2] = {{.perms = ZK_PERM_ALL, .id = {"world", "anyone"}},
                               {.perms = ZK_PERM_READ | ZK_PERM_ADMIN, .id = {"ip", "10.0.0.1"}}};
    struct hooks_audit_event ev = {.operation = "setAcl", .session = 0x100000abcdef0001, .auth = &auth,
                                   .ip = "127.0.0.1", .znode = "/a", .acl = acl, .nacl = 2,
                                   .result = HOOKS_RESULT_SUCCESS};
    fx->srv.hooks->audit(fx->srv.hooks_ctx, &ev);
    ev = (struct hooks_audit_event){.operation = "delete", .session = 5, .auth = &auth, .ip = "127.0.0.1",
                                    .znode = "/b", .err = -101, .result = HOOKS_RESULT_FAILURE};
    fx->srv.hooks->audit(fx->srv.hooks_ctx, &ev);
    luahost_drain(fx->host);
    acl_auth_free(&auth);
    char *text = read_file(path);
    char *second = strchr(text, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_non_null(strstr(text, " INFO audit.Slf4jAuditLogger: session=0x100000abcdef0001\tuser=127.0.0.1,bob\t"
                                 "ip=127.0.0.1\toperation=setAcl\tznode=/a\tacl=world:anyone:cdrwaip:10.0.0.1:ra\t"
                                 "result=success"));
    assert_non_null(strstr(second, " ERROR audit.Slf4jAuditLogger: session=0x5\tuser=127.0.0.1,bob\tip=127.0.0.1\t"
                                   "operation=delete\tznode=/b\tresult=failure\n"));
    free(text);
}

static void post_audit(struct fixture *fx, const char *op, int64_t session, const char *znode,
                       enum hooks_result result)
{
    struct acl_auth auth = {0};
    assert_int_equal(acl_auth_add_id(&auth, "ip", "127.0.0.1"), 0);
    struct hooks_audit_event ev = {.operation = op, .session = session, .auth = &auth, .ip = "127.0.0.1",
                                   .znode = znode, .znode_type = "persistent", .result = result};
    fx->srv.hooks->audit(fx->srv.hooks_ctx, &ev);
    acl_auth_free(&auth);
}

static void test_audit_batch_handler_gets_fields_and_preformatted_lines(void **state)
{
    struct fixture *fx = *state;
    char extra[256], path[128], script[2048];
    snprintf(path, sizeof path, "%s/batch.log", fx->dir);
    snprintf(extra, sizeof extra, "audit.enable=true\naudit.logFile=%s/audit.log\n", fx->dir);
    snprintf(script, sizeof script,
             "local out, kept\n"
             "zk.on('audit_batch', function(batch)\n"
             "  out = out or zk.appender('%s')\n"
             "  if batch.text:find('operation=setData', 1, true) then kept = batch return end\n"
             "  local joined = {}\n"
             "  for i, ev in ipairs(batch) do\n"
             "    joined[i] = ev.line\n"
             "    out:write('B ', ev.operation, ' ', ev.znode, ' ', ev.result, ' ', tostring(ev.session), '\\n')\n"
             "  end\n"
             "  assert(#batch == batch.n and batch.n == #joined)\n"
             "  assert(table.concat(joined) == batch.text, 'text is the lines joined')\n"
             "  assert(batch[1] == batch[1], 'events are built once')\n"
             "end)\n"
             "zk.on('audit', function(ev)\n"
             "  out = out or zk.appender('%s')\n"
             "  if kept then out:write('late ', tostring(pcall(function() return kept[1] end)), '\\n'); kept = nil end\n"
             "  out:write('E ', ev.line)\n"
             "end)\n",
             path, path);
    write_file(fx->dir, "batch.lua", script);
    fx_start(fx, extra);
    /* Its batch is kept, untouched, past the handler. */
    post_audit(fx, "setData", 0x10, "/k", HOOKS_RESULT_SUCCESS);
    luahost_drain(fx->host);
    post_audit(fx, "create", 0x10, "/x", HOOKS_RESULT_SUCCESS);
    post_audit(fx, "delete", 0x10, "/y", HOOKS_RESULT_FAILURE);
    luahost_drain(fx->host);
    char *text = read_file(path);
    /* The batch handler saw both events, with their fields. */
    assert_non_null(strstr(text, "B create /x success 0x10\nB delete /y failure 0x10\n"));
    /* A batch kept past its handler refuses access. */
    assert_non_null(strstr(text, "late false\n"));
    /* Per-event handlers still run, with the same line the default log gets. */
    char *e1 = strstr(text, "E ");
    assert_non_null(e1);
    assert_non_null(strstr(e1, " INFO audit.Slf4jAuditLogger: session=0x10\tuser=127.0.0.1\tip=127.0.0.1\t"
                               "operation=create\tznode=/x\tznode_type=persistent\tresult=success\n"));
    assert_non_null(strstr(e1, " ERROR audit.Slf4jAuditLogger: session=0x10\tuser=127.0.0.1\tip=127.0.0.1\t"
                               "operation=delete\tznode=/y\tznode_type=persistent\tresult=failure\n"));
    free(text);
    /* The default handler wrote the same two lines. */
    char apath[128];
    snprintf(apath, sizeof apath, "%s/audit.log", fx->dir);
    text = read_file(apath);
    assert_non_null(strstr(text, "operation=create\tznode=/x\tznode_type=persistent\tresult=success\n"));
    assert_non_null(strstr(text, "operation=delete\tznode=/y\tznode_type=persistent\tresult=failure\n"));
    free(text);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.events_handled, 3);
}

static void test_full_queue_never_drops_audit_records(void **state)
{
    struct fixture *fx = *state;
    char extra[256], path[128];
    snprintf(path, sizeof path, "%s/audit.log", fx->dir);
    snprintf(extra, sizeof extra, "audit.enable=true\naudit.logFile=%s\nlua.eventQueueSize=2\n", path);
    /* A slow extra handler: the queue fills while it runs. */
    write_file(fx->dir, "slow.lua",
               "zk.on('audit', function(ev) local n = 0 for i = 1, 20000 do n = n + i end end)\n");
    fx_start(fx, extra);
    char znode[32];
    for (int i = 0; i < 300; i++) {
        snprintf(znode, sizeof znode, "/n%d", i);
        post_audit(fx, "create", 1, znode, HOOKS_RESULT_SUCCESS);
    }
    luahost_drain(fx->host);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.events_dropped, 0);
    assert_int_equal(c.events_queued, 300);
    assert_int_equal(c.events_handled, 300);
    assert_true(c.audit_waits > 0);
    /* Every record is in the log, in order. */
    char *text = read_file(path);
    const char *p = text;
    for (int i = 0; i < 300; i++) {
        char want[48];
        snprintf(want, sizeof want, "\tznode=/n%d\t", i);
        p = strstr(p, want);
        assert_non_null(p);
    }
    free(text);
}

static void test_audit_log_can_be_replaced_by_an_operator_handler(void **state)
{
    struct fixture *fx = *state;
    char extra[256], path[128], apath[128], script[512];
    snprintf(path, sizeof path, "%s/mine.log", fx->dir);
    snprintf(apath, sizeof apath, "%s/audit.log", fx->dir);
    snprintf(extra, sizeof extra, "audit.enable=true\naudit.logFile=%s\n", apath);
    /* Loaded after the built-in audit.lua: turns its file off. */
    snprintf(script, sizeof script,
             "zk.audit_log(nil)\n"
             "local out\n"
             "zk.on('audit_batch', function(batch)\n"
             "  out = out or zk.appender('%s')\n"
             "  out:write(batch.text)\n"
             "end)\n"
             "zk.on('session_created', function(ev) zk.audit_log('%s') end)\n",
             path, apath);
    write_file(fx->dir, "mine.lua", script);
    fx_start(fx, extra);
    post_audit(fx, "create", 0x10, "/x", HOOKS_RESULT_SUCCESS);
    post_audit(fx, "delete", 0x10, "/y", HOOKS_RESULT_FAILURE);
    /* zk.audit_log only while scripts load. */
    fx->srv.hooks->session_event(fx->srv.hooks_ctx, 0x10, HOOKS_SESSION_CREATED);
    luahost_drain(fx->host);
    char *text = read_file(path);
    assert_non_null(strstr(text, " INFO audit.Slf4jAuditLogger: session=0x10\tuser=127.0.0.1\tip=127.0.0.1\t"
                                 "operation=create\tznode=/x\tznode_type=persistent\tresult=success\n"));
    assert_non_null(strstr(text, " ERROR audit.Slf4jAuditLogger: session=0x10\tuser=127.0.0.1\tip=127.0.0.1\t"
                                 "operation=delete\tznode=/y\tznode_type=persistent\tresult=failure\n"));
    free(text);
    assert_int_equal(access(apath, F_OK), -1);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.events_handled, 3);
    assert_int_equal(c.errors, 1);
}

static void test_audit_log_that_cannot_be_opened_counts_errors_and_recovers(void **state)
{
    struct fixture *fx = *state;
    char extra[256], sub[96], path[128];
    snprintf(sub, sizeof sub, "%s/later", fx->dir);
    snprintf(path, sizeof path, "%s/audit.log", sub);
    snprintf(extra, sizeof extra, "audit.enable=true\naudit.logFile=%s\n", path);
    fx_start(fx, extra);
    post_audit(fx, "create", 1, "/lost", HOOKS_RESULT_SUCCESS);
    luahost_drain(fx->host);
    struct luahost_counters c;
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.events_handled, 1);
    assert_int_equal(c.errors, 1);
    /* Once the folder exists, the next batch opens the file. */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", sub);
    assert_int_equal(system(cmd), 0);
    post_audit(fx, "create", 1, "/kept", HOOKS_RESULT_SUCCESS);
    luahost_drain(fx->host);
    char *text = read_file(path);
    assert_non_null(strstr(text, "operation=create\tznode=/kept\tznode_type=persistent\tresult=success\n"));
    free(text);
    luahost_get_counters(fx->host, &c);
    assert_int_equal(c.events_handled, 2);
    assert_int_equal(c.errors, 1);
}

int main(void)
{
    log_set_level(ZKP_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_command_registered_in_lua_answers_its_word, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_error_fails_the_call_with_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_infinite_loop_exhausts_the_instruction_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bomb_hits_the_cap_and_the_state_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_libraries_are_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_hook_overrides_a_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_hook_overrides_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_hook_rejection_stops_startup_with_key_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_config_hook_rejects_admin_port_equal_to_client_port, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_script_that_fails_to_load_stops_startup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_old_scripts_when_new_ones_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_handlers_run_on_the_event_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_event_queue_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_events_reach_the_default_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_batch_handler_gets_fields_and_preformatted_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_never_drops_audit_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_log_can_be_replaced_by_an_operator_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_log_that_cannot_be_opened_counts_errors_and_recovers, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
