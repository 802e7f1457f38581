/*
 * Four-letter words: the plain-text admin commands a client sends as the
 * first four bytes of a connection (ruok, srvr, stat, mntr, ...). The
 * commands themselves are Lua scripts (lua/fourlw.lua, plus any an operator
 * adds) registered with the Lua host; this file is the protocol side that
 * the connection code calls:
 *   fourlw_is_command  does this 4-byte big-endian code name a command?
 *   fourlw_run /       count the packet, apply the whitelist, then run the
 *   fourlw_run_with_arg  command through the hooks table (hooks.h,
 *                      command_run) into out; the caller sends it and
 *                      closes the connection. stmk needs its 8-byte mask,
 *                      so it comes through fourlw_run_with_arg.
 *
 * Decisions that follow ZooKeeper, including its quirks:
 * - The whitelist (4lw.commands.whitelist) is consulted before anything
 *   else; srvr is always allowed, isro too when readonlymode.enabled is
 *   set; "*" allows every registered word. Even the telnet close sequence
 *   is subject to it, under the name "telnet close", and answers nothing.
 * - The asking connection counts one received packet before the command
 *   runs, and is listed by stat, cons and dump like any other.
 *
 * fourlw_is_command has no server argument, so the host that answers words
 * is bound once (fourlw_bind, by the Lua host when it attaches). Without
 * one, only the telnet close sequence is recognised. Loop thread only.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "lua_int.h"

#define FOURLW_TELNET_CLOSE_CODE 0xfff4fffdu
#define FOURLW_TELNET_CLOSE_NAME "telnet close"

static const struct hooks_ops *fourlw_ops;
static void *fourlw_ctx;

void fourlw_bind(const struct hooks_ops *ops, void *ctx)
{
    fourlw_ops = ops;
    fourlw_ctx = ctx;
}

static void fourlw_word(uint32_t code, char word[5])
{
    word[0] = (char)(code >> 24);
    word[1] = (char)(code >> 16);
    word[2] = (char)(code >> 8);
    word[3] = (char)code;
    word[4] = '\0';
}

bool fourlw_is_command(uint32_t code)
{
    if (code == FOURLW_TELNET_CLOSE_CODE)
        return true;
    if (fourlw_ops == NULL || fourlw_ops->command_exists == NULL)
        return false;
    char word[5];
    fourlw_word(code, word);
    return fourlw_ops->command_exists(fourlw_ctx, word);
}

static bool fourlw_is_space(char ch)
{
    /* Java's String.trim() strips every char <= ' '. */
    return (unsigned char)ch <= ' ';
}

bool fourlw_allowed(const struct zk_config *cfg, const char *word)
{
    /* zkServer.sh status depends on srvr. */
    if (strcmp(word, "srvr") == 0)
        return true;
    if (cfg && cfg->readonly_mode_enabled && strcmp(word, "isro") == 0)
        return true;
    const char *list = cfg ? cfg->four_lw_whitelist : NULL;
    size_t wlen = strlen(word);
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
        /* ZooKeeper stops reading the list at the first "*". */
        if (n == 1 && *b == '*')
            return true;
        if (n == wlen && memcmp(b, word, n) == 0)
            return true;
        list = *end ? end + 1 : end;
    }
    return false;
}

void fourlw_run_with_arg(struct server *srv, struct conn *c, uint32_t code, const uint8_t *arg, size_t arglen,
                         jute_writer *out)
{
    char word[16];
    if (code == FOURLW_TELNET_CLOSE_CODE)
        snprintf(word, sizeof word, "%s", FOURLW_TELNET_CLOSE_NAME);
    else
        fourlw_word(code, word);
    /* ZooKeeper counts the word as a received packet before anything else. */
    if (c)
        c->stats.packets_received++;
    srv->stats.packets_received++;

    if (!fourlw_allowed(srv->cfg, word)) {
        log_debug("Command %s is not executed because it is not in the whitelist.", word);
        char msg[96];
        int n = snprintf(msg, sizeof msg, "%s is not executed because it is not in the whitelist.\n", word);
        jute_write_raw(out, msg, (size_t)n);
        return;
    }
    /* ZooKeeper has no command behind telnet close: the connection closes. */
    if (code == FOURLW_TELNET_CLOSE_CODE)
        return;
    log_info("Processing %s command from %s:%d", word, c ? c->ip : "?", c ? c->port : 0);
    if (srv->hooks && srv->hooks->command_run)
        srv->hooks->command_run(srv->hooks_ctx, srv, c, word, arg, arglen, out);
}

void fourlw_run(struct server *srv, struct conn *c, uint32_t code, jute_writer *out)
{
    fourlw_run_with_arg(srv, c, code, NULL, 0, out);
}
