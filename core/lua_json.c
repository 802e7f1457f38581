/*
 * JSON for the AdminServer: Lua values encoded the way ZooKeeper's
 * AdminServer prints them (Jackson's default pretty printer):
 *
 *   {
 *     "command" : "connections",
 *     "connections" : [ {
 *       "remote_socket_address" : "127.0.0.1:52712",
 *       ...
 *     } ],
 *     "secure_connections" : [ ]
 *   }
 *
 * Objects put each member on its own line, indented two spaces per object
 * level, with " : " between key and value; arrays stay on one line ("[ a, b
 * ]", "[ ]") and do not add indentation; an empty object is "{ }". Numbers
 * that are Lua integers print as integers, floats as Java's
 * Double.toString does.
 *
 * Shapes: a table made by zk.object keeps its insertion order; a table
 * marked by zk.array, or whose keys are exactly 1..n (n > 0), is an array;
 * any other table is an object with its keys sorted. nil and zk.null are
 * null. Depth is bounded (cycles fail with a message, not a crash).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_int.h"

#define LUAJSON_MAX_DEPTH 64

static void luajson_puts(jute_writer *out, const char *s)
{
    jute_write_raw(out, s, strlen(s));
}

static void luajson_indent(jute_writer *out, int depth)
{
    static const char spaces[] = "                                ";
    int n = depth * 2;
    while (n > 0) {
        int k = n < (int)sizeof spaces - 1 ? n : (int)sizeof spaces - 1;
        jute_write_raw(out, spaces, (size_t)k);
        n -= k;
    }
}

void luajson_string(jute_writer *out, const char *s, size_t len)
{
    jute_write_raw(out, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char buf[8];
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(buf, sizeof buf, "\\u%04X", ch);
                esc = buf;
            }
        }
        if (esc) {
            jute_write_raw(out, s + start, i - start);
            luajson_puts(out, esc);
            start = i + 1;
        }
    }
    jute_write_raw(out, s + start, len - start);
    jute_write_raw(out, "\"", 1);
}

/* Java's Double.toString: shortest digits that read back, at least one
 * decimal, "E" notation below 10^-3 and from 10^7. */
static void luajson_double(jute_writer *out, double v)
{
    char buf[64];
    if (isnan(v)) {
        luajson_puts(out, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        luajson_puts(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (v == 0) {
        luajson_puts(out, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* Shortest round-tripping significand. */
    char digits[32];
    int exp10 = 0, prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* buf is "-d.ddde+XX" */
    const char *p = buf;
    bool neg = *p == '-';
    if (neg)
        p++;
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    digits[nd] = '\0';
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    char res[64];
    size_t r = 0;
    if (neg)
        res[r++] = '-';
    double a = fabs(v);
    if (a >= 1e-3 && a < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                res[r++] = (size_t)i < nd ? digits[i] : '0';
            res[r++] = '.';
            if ((size_t)exp10 + 1 < nd)
                for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                    res[r++] = digits[i];
            else
                res[r++] = '0';
        } else {
            res[r++] = '0';
            res[r++] = '.';
            for (int i = -1; i > exp10; i--)
                res[r++] = '0';
            for (size_t i = 0; i < nd; i++)
                res[r++] = digits[i];
        }
        res[r] = '\0';
    } else {
        res[r++] = digits[0];
        res[r++] = '.';
        if (nd > 1)
            for (size_t i = 1; i < nd; i++)
                res[r++] = digits[i];
        else
            res[r++] = '0';
        snprintf(res + r, sizeof res - r, "E%d", exp10);
    }
    luajson_puts(out, res);
}

static int luajson_value(lua_State *L, int idx, int depth, jute_writer *out, char *err, size_t errlen);

/* Is the table at idx an array? Returns its length, or -1. */
static lua_Integer luajson_array_len(lua_State *L, int idx)
{
    if (lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__zkarray");
        bool marked = lua_toboolean(L, -1);
        lua_getfield(L, -2, "__zkorder");
        bool ordered = lua_istable(L, -1);
        lua_pop(L, 3);
        if (marked)
            return (lua_Integer)lua_rawlen(L, idx);
        if (ordered)
            return -1;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n == 0)
        return -1;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        count++;
    }
    return count == n ? n : -1;
}

static int luajson_key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int luajson_member(lua_State *L, int t, const char *key, int depth, bool *first, jute_writer *out,
                          char *err, size_t errlen)
{
    lua_getfield(L, t, key);
    luajson_puts(out, *first ? "\n" : ",\n");
    *first = false;
    luajson_indent(out, depth + 1);
    luajson_string(out, key, strlen(key));
    luajson_puts(out, " : ");
    int rc = luajson_value(L, lua_gettop(L), depth + 1, out, err, errlen);
    lua_pop(L, 1);
    return rc;
}

static int luajson_object(lua_State *L, int t, int depth, jute_writer *out, char *err, size_t errlen)
{
    bool first = true;
    luajson_puts(out, "{");
    int rc = 0;
    bool ordered = false;
    if (lua_getmetatable(L, t)) {
        lua_getfield(L, -1, "__zkorder");
        if (lua_istable(L, -1)) {
            ordered = true;
            int order = lua_gettop(L);
            lua_Integer n = (lua_Integer)lua_rawlen(L, order);
            for (lua_Integer i = 1; i <= n && rc == 0; i++) {
                lua_rawgeti(L, order, i);
                const char *key = lua_tostring(L, -1);
                lua_getfield(L, t, key);
                bool present = !lua_isnil(L, -1);
                lua_pop(L, 1);
                if (key && present)
                    rc = luajson_member(L, t, key, depth, &first, out, err, errlen);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
    }
    if (!ordered) {
        size_t n = 0, cap = 16;
        char **keys = malloc(cap * sizeof *keys);
        lua_pushnil(L);
        while (keys && lua_next(L, t)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            const char *k = lua_tostring(L, -1); /* numbers become strings on the copy */
            if (k) {
                if (n == cap) {
                    cap *= 2;
                    char **grown = realloc(keys, cap * sizeof *grown);
                    if (grown == NULL) {
                        lua_pop(L, 2);
                        break;
                    }
                    keys = grown;
                }
                keys[n++] = strdup(k);
            }
            lua_pop(L, 1);
        }
        if (keys)
            qsort(keys, n, sizeof *keys, luajson_key_cmp);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0 && keys[i]) {
                /* The key may have been an integer. */
                lua_getfield(L, t, keys[i]);
                bool by_string = !lua_isnil(L, -1);
                lua_pop(L, 1);
                if (!by_string) {
                    lua_Integer ik = strtoll(keys[i], NULL, 10);
                    lua_rawgeti(L, t, ik);
                    luajson_puts(out, first ? "\n" : ",\n");
                    first = false;
                    luajson_indent(out, depth + 1);
                    luajson_string(out, keys[i], strlen(keys[i]));
                    luajson_puts(out, " : ");
                    rc = luajson_value(L, lua_gettop(L), depth + 1, out, err, errlen);
                    lua_pop(L, 1);
                } else {
                    rc = luajson_member(L, t, keys[i], depth, &first, out, err, errlen);
                }
            }
            free(keys[i]);
        }
        free(keys);
    }
    if (first) {
        luajson_puts(out, " }");
    } else {
        luajson_puts(out, "\n");
        luajson_indent(out, depth);
        luajson_puts(out, "}");
    }
    return rc;
}

static int luajson_value(lua_State *L, int idx, int depth, jute_writer *out, char *err, size_t errlen)
{
    if (depth > LUAJSON_MAX_DEPTH) {
        snprintf(err, errlen, "JSON nesting deeper than %d (a cycle?)", LUAJSON_MAX_DEPTH);
        return -EINVAL;
    }
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "JSON");
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        luajson_puts(out, "null");
        return 0;
    case LUA_TBOOLEAN:
        luajson_puts(out, lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
            luajson_puts(out, buf);
        } else {
            luajson_double(out, lua_tonumber(L, idx));
        }
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        luajson_string(out, s, len);
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (luaapi_is_null(L, idx)) {
            luajson_puts(out, "null");
            return 0;
        }
        break;
    case LUA_TTABLE: {
        lua_Integer n = luajson_array_len(L, idx);
        if (n < 0)
            return luajson_object(L, idx, depth, out, err, errlen);
        if (n == 0) {
            luajson_puts(out, "[ ]");
            return 0;
        }
        luajson_puts(out, "[ ");
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                luajson_puts(out, ", ");
            lua_rawgeti(L, idx, i);
            int rc = luajson_value(L, lua_gettop(L), depth, out, err, errlen);
            lua_pop(L, 1);
            if (rc < 0)
                return rc;
        }
        luajson_puts(out, " ]");
        return 0;
    }
    default:
        break;
    }
    snprintf(err, errlen, "a %s value cannot be encoded as JSON", luaL_typename(L, idx));
    return -EINVAL;
}

int luajson_encode(lua_State *L, int idx, int depth, jute_writer *out, char *err, size_t errlen)
{
    return luajson_value(L, idx, depth, out, err, errlen);
}
