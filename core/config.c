/*
 * zoo.cfg reader: Java-properties syntax into struct zk_config.
 *
 * Design notes
 * - Reading follows java.util.Properties.load so that any file ZooKeeper 3.8
 *   accepts reads the same here: natural lines end at \n, \r or \r\n; a line
 *   whose first non-blank character is '#' or '!' is a comment; an odd number
 *   of trailing backslashes joins the next line (its leading blanks dropped);
 *   the key ends at the first unescaped '=', ':' or blank; \t \n \r \f \uXXXX
 *   escapes are decoded (\uXXXX to UTF-8). Keys and values are then trimmed,
 *   as ZooKeeper trims both.
 * - A leading "zookeeper." is dropped from every key: ZooKeeper copies unknown
 *   keys into "zookeeper.<key>" system properties, so "skipACL" and
 *   "zookeeper.skipACL" name the same setting here.
 * - Entries are unique by canonical key; a later line replaces the value and
 *   line of an earlier one (Properties semantics), except server.N, where a
 *   repeat is an error because it is almost always a copy-paste slip.
 * - Decoding is table driven (config_keys): each ZooKeeper key is parsed the
 *   way ZooKeeper parses it (Integer.parseInt, Integer.getInteger, the strict
 *   true/false of QuorumPeerConfig, Boolean.parseBoolean, "yes"/"no"). Where
 *   ZooKeeper would silently fall back to a default on a malformed number,
 *   zkplug reports an error instead.
 * - Keys zkplug does not decode but ZooKeeper reads (config_accepted) are kept
 *   without comment; anything else is warned about once and kept. Start-up
 *   never fails because of an unknown key or a Java class name.
 *
 * Entry points: config_load / config_parse, then config_read_myid and
 * config_apply_myid for a quorum member, the config_get_* lookups, and
 * config_free.
 */
#define _GNU_SOURCE /* asprintf */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "jaas.h"

/* zoo.cfg files are a few kilobytes; this only stops a wrong path (a log, a
 * device) from being slurped into memory. */
#define CONFIG_MAX_FILE_SIZE (16 * 1024 * 1024)

#define CONFIG_ZK_PREFIX "zookeeper."

/* ------------------------------------------------------------------------ */
/* Errors and small helpers                                                 */
/* ------------------------------------------------------------------------ */

static int __attribute__((format(printf, 4, 5)))
config_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* "FILE:LINE: key 'K': REASON (value 'V')" */
static int __attribute__((format(printf, 4, 5)))
config_fail_entry(char *err, size_t errlen, const struct config_entry *e, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        char reason[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "%s:%d: key '%s': %s (value '%s')", e->file, e->line, e->key,
                 reason, e->value);
    }
    return -EINVAL;
}

static int config_oom(char *err, size_t errlen)
{
    return config_fail(err, errlen, -ENOMEM, "out of memory reading the configuration");
}

static bool config_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Java's String.trim: everything <= ' ' at both ends. */
static void config_trim(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (unsigned char)s[len - 1] <= ' ')
        len--;
    s[len] = '\0';
    size_t start = 0;
    while (start < len && (unsigned char)s[start] <= ' ')
        start++;
    if (start > 0)
        memmove(s, s + start, len - start + 1);
}

static const char *config_canonical_key(const char *key)
{
    if (config_starts_with(key, CONFIG_ZK_PREFIX) && key[strlen(CONFIG_ZK_PREFIX)] != '\0')
        return key + strlen(CONFIG_ZK_PREFIX);
    return key;
}

static int config_set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

/*
 * Integers as Java reads them. Integer.parseInt/Long.parseLong take an
 * optional sign and decimal digits; Integer.getInteger/Long.getLong go through
 * Integer.decode, which also takes 0x/0X/# (hex) and a leading 0 (octal).
 * -EINVAL when not a number, -ERANGE outside [lo, hi].
 */
static int config_parse_number(const char *s, bool decode, int64_t lo, int64_t hi, int64_t *out)
{
    bool negative = false;
    int base = 10;

    if (*s == '+' || *s == '-')
        negative = *s++ == '-';
    if (decode) {
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
        } else if (s[0] == '#') {
            base = 16;
            s++;
        } else if (s[0] == '0' && s[1] != '\0') {
            base = 8;
            s++;
        }
    }
    if (*s == '\0')
        return -EINVAL;

    /* Accumulate as a negative number so INT64_MIN is representable. */
    int64_t acc = 0;
    bool overflow = false;
    for (; *s != '\0'; s++) {
        int digit;
        if (*s >= '0' && *s <= '9')
            digit = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            digit = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            digit = *s - 'A' + 10;
        else
            return -EINVAL;
        if (digit >= base)
            return -EINVAL;
        if (!overflow &&
            (__builtin_mul_overflow(acc, base, &acc) || __builtin_sub_overflow(acc, digit, &acc)))
            overflow = true;
    }
    if (overflow)
        return -ERANGE;
    if (!negative) {
        if (acc == INT64_MIN)
            return -ERANGE;
        acc = -acc;
    }
    if (acc < lo || acc > hi)
        return -ERANGE;
    *out = acc;
    return 0;
}

static int config_parse_port(const char *s, int *out)
{
    int64_t v;
    if (config_parse_number(s, false, 1, 65535, &v) != 0)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */
/* ------------------------------------------------------------------------ */

static struct config_entry *config_find_mutable(const struct zk_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->nentries; i++)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    return NULL;
}

const struct config_entry *config_find(const struct zk_config *cfg, const char *key)
{
    if (cfg == NULL || key == NULL)
        return NULL;
    return config_find_mutable(cfg, config_canonical_key(key));
}

/* Takes key and value (both malloc'ed) in every case. */
static int config_entry_put(struct zk_config *cfg, const char *file, int line, char *key, char *value,
                            char *err, size_t errlen)
{
    const char *canon = config_canonical_key(key);
    if (canon != key)
        memmove(key, canon, strlen(canon) + 1);

    struct config_entry *old = config_find_mutable(cfg, key);
    if (old != NULL) {
        if (config_starts_with(key, "server.")) {
            struct config_entry e = {.key = key, .value = value, .line = line, .file = file};
            int rc = config_fail_entry(err, errlen, &e, "duplicate server id, also defined on line %d",
                                       old->line);
            free(key);
            free(value);
            return rc;
        }
        log_warn("%s:%d: key '%s' repeats line %d; the later value is used", file, line, key,
                 old->line);
        free(key);
        free(old->value);
        old->value = value;
        old->line = line;
        old->file = file;
        return 0;
    }

    struct config_entry *entries = realloc(cfg->entries, (cfg->nentries + 1) * sizeof *entries);
    if (entries == NULL) {
        free(key);
        free(value);
        return config_oom(err, errlen);
    }
    cfg->entries = entries;
    entries[cfg->nentries++] = (struct config_entry){
        .key = key, .value = value, .line = line, .file = file};
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Java properties syntax                                                   */
/* ------------------------------------------------------------------------ */

/* A growable byte buffer for one logical line. */
struct config_buf {
    char *data;
    size_t len, cap;
};

static int config_buf_append(struct config_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL)
            return -ENOMEM;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static bool config_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static size_t config_put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int config_hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -EINVAL;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/*
 * Decodes the escapes of s[0..n) into a new trimmed string. A \uXXXX pair of
 * UTF-16 surrogates becomes one code point; a lone surrogate becomes U+FFFD.
 * NULL with *bad set when a \u escape is malformed or encodes NUL.
 */
static char *config_unescape(const char *s, size_t n, const char **bad)
{
    /* Every escape shrinks or keeps the length except a lone \uXXXX giving a
     * 4-byte sequence from 6 bytes, so n + 1 bytes always suffice. */
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        i++;
        if (i == n)
            break; /* a lone backslash at the very end of the file is dropped */
        char c = s[i++];
        switch (c) {
        case 't': out[o++] = '\t'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            uint32_t cp;
            if (n - i < 4 || config_hex4(s + i, &cp) != 0) {
                *bad = "malformed \\uXXXX escape";
                free(out);
                return NULL;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
                uint32_t low;
                if (config_hex4(s + i + 2, &low) == 0 && low >= 0xdc00 && low <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    i += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd;
            if (cp == 0) {
                *bad = "\\u0000 is not allowed";
                free(out);
                return NULL;
            }
            o += config_put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = c; break;
        }
    }
    out[o] = '\0';
    config_trim(out);
    return out;
}

/* Splits one logical line into key and value and stores the entry. */
static int config_parse_logical(struct zk_config *cfg, const char *file, int line, const char *s,
                                size_t n, char *err, size_t errlen)
{
    size_t key_end = 0;
    bool escaped = false;
    bool has_sep = false;
    for (; key_end < n; key_end++) {
        char c = s[key_end];
        if (escaped) {
            escaped = false;
            continue;
        }
        if (c == '\\') {
            escaped = true;
        } else if (c == '=' || c == ':') {
            has_sep = true;
            break;
        } else if (config_is_blank(c)) {
            break;
        }
    }
    size_t v = key_end + (has_sep ? 1 : 0);
    while (v < n && config_is_blank(s[v]))
        v++;
    if (!has_sep && v < n && (s[v] == '=' || s[v] == ':')) {
        v++;
        while (v < n && config_is_blank(s[v]))
            v++;
    }

    const char *bad = NULL;
    char *key = config_unescape(s, key_end, &bad);
    char *value = key ? config_unescape(s + v, n - v, &bad) : NULL;
    if (key == NULL || value == NULL) {
        free(key);
        if (bad == NULL)
            return config_oom(err, errlen);
        return config_fail(err, errlen, -EINVAL, "%s:%d: %s", file, line, bad);
    }
    if (key[0] == '\0') {
        log_warn("%s:%d: line without a key ignored", file, line);
        free(key);
        free(value);
        return 0;
    }
    return config_entry_put(cfg, file, line, key, value, err, errlen);
}

/* Reads text as a properties file, adding entries tagged with file. */
static int config_parse_properties(struct zk_config *cfg, const char *file, const char *text,
                                   char *err, size_t errlen)
{
    struct config_buf buf = {0};
    const char *p = text;
    int lineno = 0;
    int rc = 0;

    while (*p != '\0') {
        /* One natural line: [p, end), next starts at p. */
        const char *start = p;
        while (*p != '\0' && *p != '\n' && *p != '\r')
            p++;
        const char *end = p;
        if (*p == '\r' && p[1] == '\n')
            p += 2;
        else if (*p != '\0')
            p++;
        lineno++;

        while (start < end && config_is_blank(*start))
            start++;
        if (start == end || *start == '#' || *start == '!')
            continue;

        int first_line = lineno;
        buf.len = 0;
        for (;;) {
            size_t slashes = 0;
            while (end - slashes > start && end[-(ptrdiff_t)slashes - 1] == '\\')
                slashes++;
            bool more = slashes % 2 == 1;
            if (config_buf_append(&buf, start, (size_t)(end - start) - (more ? 1 : 0)) != 0) {
                rc = config_oom(err, errlen);
                goto out;
            }
            if (!more || *p == '\0')
                break;
            /* The continuation line, leading blanks dropped; it is never a
             * comment, whatever its first character. */
            start = p;
            while (*p != '\0' && *p != '\n' && *p != '\r')
                p++;
            end = p;
            if (*p == '\r' && p[1] == '\n')
                p += 2;
            else if (*p != '\0')
                p++;
            lineno++;
            while (start < end && config_is_blank(*start))
                start++;
        }
        if (buf.len == 0)
            continue;
        rc = config_parse_logical(cfg, file, first_line, buf.data, buf.len, err, errlen);
        if (rc != 0)
            goto out;
    }
out:
    free(buf.data);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Key table                                                                */
/* ------------------------------------------------------------------------ */

enum config_kind {
    CONFIG_KIND_INT,         /* Integer.parseInt */
    CONFIG_KIND_INT_DECODE,  /* Integer.getInteger: decimal, 0x, #, 0-octal */
    CONFIG_KIND_LONG,        /* Long.parseLong */
    CONFIG_KIND_LONG_DECODE, /* Long.getLong */
    CONFIG_KIND_PORT,        /* Integer.parseInt, 0 = not set, else 1..65535 */
    CONFIG_KIND_BOOL,        /* QuorumPeerConfig.parseBoolean: true/false, else error */
    CONFIG_KIND_BOOL_JAVA,   /* Boolean.parseBoolean: only "true" (any case) is true */
    CONFIG_KIND_YES,         /* equals("yes") is true: skipACL */
    CONFIG_KIND_NOT_NO,      /* !equals("no") is true: forceSync */
    CONFIG_KIND_NOT_FALSE,   /* !equals("false") is true: admin.enableServer */
    CONFIG_KIND_STRING,
    CONFIG_KIND_SPECIAL,     /* decoded by config_decode_special */
};

struct config_key {
    const char *name;
    enum config_kind kind;
    size_t offset, size; /* the field in struct zk_config */
    int64_t min;         /* smallest accepted value for numbers */
};

#define CONFIG_FIELD(member) offsetof(struct zk_config, member), sizeof(((struct zk_config *)0)->member)
#define CONFIG_NO_FIELD 0, 0

static const struct config_key config_keys[] = {
    {"tickTime", CONFIG_KIND_INT, CONFIG_FIELD(tick_time), 1},
    {"initLimit", CONFIG_KIND_INT, CONFIG_FIELD(init_limit), 0},
    {"syncLimit", CONFIG_KIND_INT, CONFIG_FIELD(sync_limit), 0},
    {"dataDir", CONFIG_KIND_STRING, CONFIG_FIELD(data_dir), 0},
    {"dataLogDir", CONFIG_KIND_STRING, CONFIG_FIELD(data_log_dir), 0},
    {"clientPort", CONFIG_KIND_PORT, CONFIG_FIELD(client_port), 0},
    {"clientPortAddress", CONFIG_KIND_STRING, CONFIG_FIELD(client_port_address), 0},
    {"secureClientPort", CONFIG_KIND_PORT, CONFIG_FIELD(secure_client_port), 0},
    {"maxClientCnxns", CONFIG_KIND_INT, CONFIG_FIELD(max_client_cnxns), INT32_MIN},
    {"maxCnxns", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(max_cnxns), INT32_MIN},
    {"minSessionTimeout", CONFIG_KIND_INT, CONFIG_FIELD(min_session_timeout), -1},
    {"maxSessionTimeout", CONFIG_KIND_INT, CONFIG_FIELD(max_session_timeout), -1},
    {"clientPortListenBacklog", CONFIG_KIND_INT, CONFIG_FIELD(client_port_listen_backlog), INT32_MIN},
    {"jute.maxbuffer", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(jute_maxbuffer), 1},
    {"jute.maxbuffer.extrasize", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(jute_maxbuffer_extrasize), INT32_MIN},
    {"globalOutstandingLimit", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(global_outstanding_limit), INT32_MIN},
    {"forceSync", CONFIG_KIND_NOT_NO, CONFIG_FIELD(force_sync), 0},
    {"snapCount", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(snap_count), INT32_MIN},
    {"snapSizeLimitInKb", CONFIG_KIND_LONG_DECODE, CONFIG_FIELD(snap_size_limit_kb), INT64_MIN},
    {"txnLogSizeLimitInKb", CONFIG_KIND_LONG_DECODE, CONFIG_FIELD(txn_log_size_limit_kb), INT64_MIN},
    {"preAllocSize", CONFIG_KIND_LONG, CONFIG_FIELD(pre_alloc_size_kb), 1},
    {"autopurge.snapRetainCount", CONFIG_KIND_INT, CONFIG_FIELD(autopurge_snap_retain_count), INT32_MIN},
    {"autopurge.purgeInterval", CONFIG_KIND_INT, CONFIG_FIELD(autopurge_purge_interval), INT32_MIN},
    {"snapshot.compression.method", CONFIG_KIND_SPECIAL, CONFIG_NO_FIELD, 0},
    {"4lw.commands.whitelist", CONFIG_KIND_STRING, CONFIG_FIELD(four_lw_whitelist), 0},
    {"extendedTypesEnabled", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(extended_types_enabled), 0},
    {"skipACL", CONFIG_KIND_YES, CONFIG_FIELD(skip_acl), 0},
    {"DigestAuthenticationProvider.superDigest", CONFIG_KIND_STRING, CONFIG_FIELD(super_digest), 0},
    {"digest.enabled", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(digest_enabled), 0},
    {"closeSessionTxn.enabled", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(close_session_txn_enabled), 0},
    {"readonlymode.enabled", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(readonly_mode_enabled), 0},
    {"localSessionsEnabled", CONFIG_KIND_BOOL, CONFIG_FIELD(local_sessions_enabled), 0},
    {"localSessionsUpgradingEnabled", CONFIG_KIND_BOOL, CONFIG_FIELD(local_sessions_upgrading_enabled), 0},
    {"reconfigEnabled", CONFIG_KIND_BOOL, CONFIG_FIELD(reconfig_enabled), 0},
    {"standaloneEnabled", CONFIG_KIND_BOOL, CONFIG_FIELD(standalone_enabled), 0},
    {"syncEnabled", CONFIG_KIND_BOOL, CONFIG_FIELD(sync_enabled), 0},
    {"quorumListenOnAllIPs", CONFIG_KIND_BOOL, CONFIG_FIELD(quorum_listen_on_all_ips), 0},
    {"multiAddress.enabled", CONFIG_KIND_BOOL, CONFIG_FIELD(multi_address_enabled), 0},
    {"electionAlg", CONFIG_KIND_SPECIAL, CONFIG_NO_FIELD, 0},
    {"peerType", CONFIG_KIND_SPECIAL, CONFIG_NO_FIELD, 0},
    {"znode.container.checkIntervalMs", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(container_check_interval_ms), 1},
    {"znode.container.maxPerMinute", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(container_max_per_minute), 1},
    {"znode.container.maxNeverUsedIntervalMs", CONFIG_KIND_LONG_DECODE, CONFIG_FIELD(container_max_never_used_ms), 0},
    {"nio.sessionlessCnxnTimeout", CONFIG_KIND_INT_DECODE, CONFIG_FIELD(nio_sessionless_cnxn_timeout_ms), 1},
    {"dynamicConfigFile", CONFIG_KIND_STRING, CONFIG_FIELD(dynamic_config_file), 0},
    {"admin.enableServer", CONFIG_KIND_NOT_FALSE, CONFIG_FIELD(admin_enable_server), 0},
    {"admin.serverAddress", CONFIG_KIND_STRING, CONFIG_FIELD(admin_server_address), 0},
    {"admin.serverPort", CONFIG_KIND_PORT, CONFIG_FIELD(admin_server_port), 0},
    {"serverCnxnFactory", CONFIG_KIND_SPECIAL, CONFIG_NO_FIELD, 0},
    {"metricsProvider.className", CONFIG_KIND_SPECIAL, CONFIG_NO_FIELD, 0},
    {"java.security.auth.login.config", CONFIG_KIND_STRING, CONFIG_FIELD(jaas_config), 0},
    {"sasl.serverconfig", CONFIG_KIND_STRING, CONFIG_FIELD(sasl_server_section), 0},
    {"SASLAuthenticationProvider.superPassword", CONFIG_KIND_STRING, CONFIG_FIELD(sasl_super_password), 0},
    {"letAnySaslUserDoX", CONFIG_KIND_STRING, CONFIG_FIELD(sasl_let_any_user_do_x), 0},
    {"allowSaslFailedClients", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(allow_sasl_failed_clients), 0},
    {"sessionRequireClientSASLAuth", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(session_require_client_sasl_auth), 0},
    {"enforce.auth.enabled", CONFIG_KIND_BOOL_JAVA, CONFIG_FIELD(enforce_auth_enabled), 0},
    {"enforce.auth.schemes", CONFIG_KIND_STRING, CONFIG_FIELD(enforce_auth_schemes_raw), 0},
    {"plugin.transport", CONFIG_KIND_STRING, CONFIG_FIELD(plugin_transport), 0},
    {"plugin.storage", CONFIG_KIND_STRING, CONFIG_FIELD(plugin_storage), 0},
    {"plugin.election", CONFIG_KIND_STRING, CONFIG_FIELD(plugin_election), 0},
};

/*
 * Keys ZooKeeper 3.8 reads (in QuorumPeerConfig, or as "zookeeper.<key>" or
 * plain system properties) that zkplug accepts without decoding into a field.
 * A trailing '.' or '*' marks a prefix (the '*' is not part of it). zkplug's
 * own reserved prefixes come last.
 */
static const char *const config_accepted[] = {
    /* QuorumPeerConfig */
    "secureClientPortAddress", "observerMasterPort", "connectToLearnerMasterLimit", "sslQuorum",
    "portUnification", "sslQuorumReloadCertFiles", "quorum.", "oraclePath", "multiAddress.",
    "metricsProvider.", "jvm.pause.",
    /* system properties, ZooKeeper server side */
    "admin.", "ssl.", "sasl.", "kerberos.", "authProvider.", "superUser", "superUser.",
    "DigestAuthenticationProvider.", "X509AuthenticationProvider.", "SASLAuthenticationProvider.",
    "java.security.auth.login.config", "security.", "enforce.auth.", "ensembleAuthName",
    "allowSaslFailedClients", "sessionRequireClientSASLAuth", "letAnySaslUserDoX",
    "requireKerberosConfig", "kinit", "client.", "clientCnxnSocket", "emulate353TTLNodes",
    "commitLogCount", "snapshotSizeFactor", "snapshot.", "electionPortBindRetry", "cnxTimeout",
    "quorumCnxnTimeoutMs", "flushDelay", "maxWriteQueuePollTime", "maxBatchSize", "audit.",
    "enforceQuota", "enableEagerACLCheck", "datadir.autocreate", "db.autocreate",
    "forceSnapshotSync", "intBufferStartingSizeBytes", "largeRequestMaxBytes",
    "largeRequestThreshold", "leaderServes", "leaderConnectDelayDuringRetryMs", "learner.", "leader.",
    "follower.", "fastleader.", "observer.", "observerMaster.", "nio.", "netty.",
    "commitProcessor.", "connection_throttle_*", "request_throttle_*", "request_throttler.",
    "request.throttler.", "requestThrottle*", "request_stale_*", "request.timeout",
    "maxGetChildrenResponseCacheSize", "maxResponseCacheSize", "maxInProcessingDeadWatchers",
    "bitHashCacheSize", "watchManagerName", "watcherClean*", "pathStats.", "messageTracker.",
    "tcpKeepAlive", "clientTcpKeepAlive", "throttled_op_wait_time",
    "forward_learner_requests_to_commit_processor_disabled", "fsync.warningthresholdms",
    "disableAutoWatchReset", "jmx.", "digest.", "closeSessionTxn.", "znode.container.",
    /* zkplug's own namespaces */
    "zkplug.", "lua.", "metrics.",
};

static const struct config_key *config_key_lookup(const char *key)
{
    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
        if (strcmp(config_keys[i].name, key) == 0)
            return &config_keys[i];
    return NULL;
}

static bool config_is_accepted(const char *key)
{
    for (size_t i = 0; i < sizeof config_accepted / sizeof config_accepted[0]; i++) {
        const char *name = config_accepted[i];
        size_t n = strlen(name);
        bool prefix = name[n - 1] == '.' || name[n - 1] == '*';
        if (name[n - 1] == '*')
            n--;
        if (prefix ? strncmp(key, name, n) == 0 : strcmp(key, name) == 0)
            return true;
    }
    return false;
}

static bool config_is_quorum_key(const char *key)
{
    return config_starts_with(key, "server.") || config_starts_with(key, "group.") ||
           config_starts_with(key, "weight.");
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* State of one config_parse call; warnings that must appear once live here. */
struct config_ctx {
    struct zk_config *cfg;
    char *err;
    size_t errlen;
    bool min_session_set, max_session_set, extrasize_set;
};

static void config_store_int(struct zk_config *cfg, const struct config_key *k, int64_t v)
{
    char *field = (char *)cfg + k->offset;
    if (k->size == sizeof(int)) {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    } else {
        memcpy(field, &v, sizeof v);
    }
}

static void config_store_bool(struct zk_config *cfg, const struct config_key *k, bool v)
{
    memcpy((char *)cfg + k->offset, &v, sizeof v);
}

/* Java class names are compared on their simple name so both the full name
 * and a shortened one are recognised. */
static bool config_class_is(const char *value, const char *simple)
{
    const char *dot = strrchr(value, '.');
    return strcmp(dot ? dot + 1 : value, simple) == 0;
}

static int config_decode_special(struct config_ctx *c, const struct config_entry *e)
{
    struct zk_config *cfg = c->cfg;
    const char *v = e->value;

    if (strcmp(e->key, "electionAlg") == 0) {
        int64_t alg;
        int rc = config_parse_number(v, false, INT32_MIN, INT32_MAX, &alg);
        if (rc != 0)
            return config_fail_entry(c->err, c->errlen, e, "%s",
                                     rc == -ERANGE ? "out of range" : "not an integer");
        if (alg != 3)
            return config_fail_entry(c->err, c->errlen, e,
                                     "invalid electionAlg value, only 3 is supported "
                                     "(algorithms 1 and 2 are no longer supported)");
        cfg->election_alg = 3;
        return 0;
    }
    if (strcmp(e->key, "peerType") == 0) {
        if (strcasecmp(v, "observer") == 0)
            cfg->peer_type = CONFIG_OBSERVER;
        else if (strcasecmp(v, "participant") == 0)
            cfg->peer_type = CONFIG_PARTICIPANT;
        else
            return config_fail_entry(c->err, c->errlen, e,
                                     "unrecognised peer type, expected participant or observer");
        return 0;
    }
    if (strcmp(e->key, "snapshot.compression.method") == 0) {
        if (strcmp(v, "gz") != 0 && strcmp(v, "snappy") != 0) {
            /* ZooKeeper falls back to uncompressed snapshots here. */
            if (v[0] != '\0')
                log_warn("%s:%d: key '%s': unknown method '%s', snapshots are not compressed",
                         e->file, e->line, e->key, v);
            free(cfg->snapshot_compression);
            cfg->snapshot_compression = NULL;
            return 0;
        }
        return config_set_string(&cfg->snapshot_compression, v) ? config_oom(c->err, c->errlen) : 0;
    }
    if (strcmp(e->key, "serverCnxnFactory") == 0) {
        if (config_class_is(v, "NIOServerCnxnFactory") || config_class_is(v, "NettyServerCnxnFactory"))
            log_info("%s:%d: serverCnxnFactory %s: client connections are served by the "
                     "transport plugin (plugin.transport) instead",
                     e->file, e->line, v);
        else
            log_warn("%s:%d: serverCnxnFactory %s is not known, ignored; client connections "
                     "are served by the transport plugin (plugin.transport)",
                     e->file, e->line, v);
        return 0;
    }
    if (strcmp(e->key, "metricsProvider.className") == 0) {
        /* The Prometheus provider maps to zkplug's /metrics endpoint
         * (metrics/mbus.c, metricsProvider.httpPort). */
        if (config_class_is(v, "DefaultMetricsProvider") || config_class_is(v, "PrometheusMetricsProvider"))
            return 0;
        log_warn("%s:%d: metricsProvider.className %s is not known, ignored", e->file, e->line, v);
        return 0;
    }
    return 0;
}

/* authProvider.N: the digest and ip schemes are built in; SASL's registers
 * the "sasl" scheme. */
static void config_decode_auth_provider(struct config_ctx *c, const struct config_entry *e)
{
    const char *v = e->value;
    if (config_class_is(v, "DigestAuthenticationProvider") || config_class_is(v, "IPAuthenticationProvider"))
        return;
    if (config_class_is(v, "SASLAuthenticationProvider")) {
        c->cfg->sasl_provider = true; /* the "sasl" scheme (sasl.c) */
        return;
    }
    log_warn("%s:%d: key '%s': authentication provider %s is not supported, ignored", e->file,
             e->line, e->key, v);
}

static int config_decode_entry(struct config_ctx *c, const struct config_entry *e)
{
    struct zk_config *cfg = c->cfg;
    const struct config_key *k = config_key_lookup(e->key);
    const char *v = e->value;

    if (k == NULL) {
        if (config_is_quorum_key(e->key)) {
            if (config_find_mutable(cfg, "dynamicConfigFile") != NULL)
                return config_fail_entry(c->err, c->errlen, e,
                                         "must be in the dynamic config file when dynamicConfigFile is set");
            return 0; /* decoded with the ensemble */
        }
        if (config_starts_with(e->key, "authProvider."))
            config_decode_auth_provider(c, e);
        else if (!config_is_accepted(e->key))
            log_warn("%s:%d: unknown key '%s' ignored", e->file, e->line, e->key);
        return 0;
    }

    int64_t n;
    int rc;
    bool decode = false;
    switch (k->kind) {
    case CONFIG_KIND_INT_DECODE:
    case CONFIG_KIND_LONG_DECODE:
        decode = true;
        /* fall through */
    case CONFIG_KIND_INT:
    case CONFIG_KIND_LONG: {
        bool is_long = k->kind == CONFIG_KIND_LONG || k->kind == CONFIG_KIND_LONG_DECODE;
        rc = config_parse_number(v, decode, is_long ? INT64_MIN : INT32_MIN,
                                 is_long ? INT64_MAX : INT32_MAX, &n);
        if (rc == -EINVAL)
            return config_fail_entry(c->err, c->errlen, e, "not an integer");
        if (rc != 0)
            return config_fail_entry(c->err, c->errlen, e, "out of range");
        if (n < k->min) {
            if (k->min == 1)
                return config_fail_entry(c->err, c->errlen, e, "must be greater than 0");
            if (k->min == 0)
                return config_fail_entry(c->err, c->errlen, e, "must not be negative");
            return config_fail_entry(c->err, c->errlen, e, "must be %" PRId64 " or more", k->min);
        }
        config_store_int(cfg, k, n);
        if (k->offset == offsetof(struct zk_config, min_session_timeout))
            c->min_session_set = n != -1;
        if (k->offset == offsetof(struct zk_config, max_session_timeout))
            c->max_session_set = n != -1;
        if (k->offset == offsetof(struct zk_config, jute_maxbuffer_extrasize))
            c->extrasize_set = true;
        return 0;
    }
    case CONFIG_KIND_PORT: {
        rc = config_parse_number(v, false, INT32_MIN, INT32_MAX, &n);
        if (rc == -EINVAL)
            return config_fail_entry(c->err, c->errlen, e, "not an integer");
        /* 0 means "not set" to ZooKeeper, which accepts it silently. */
        if (rc != 0 || n < 0 || n > 65535)
            return config_fail_entry(c->err, c->errlen, e, "port out of range, expected 1-65535");
        config_store_int(cfg, k, n);
        return 0;
    }
    case CONFIG_KIND_BOOL:
        if (strcasecmp(v, "true") == 0)
            config_store_bool(cfg, k, true);
        else if (strcasecmp(v, "false") == 0)
            config_store_bool(cfg, k, false);
        else
            return config_fail_entry(c->err, c->errlen, e, "not a boolean, expected 'true' or 'false'");
        return 0;
    case CONFIG_KIND_BOOL_JAVA:
        /* ZooKeeper reads anything but "true" as false without a word; say so. */
        if (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0)
            log_warn("%s:%d: key '%s': not 'true' or 'false', read as false (value '%s')", e->file,
                     e->line, e->key, v);
        config_store_bool(cfg, k, strcasecmp(v, "true") == 0);
        return 0;
    case CONFIG_KIND_YES:
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            log_warn("%s:%d: key '%s': not 'yes' or 'no', read as no (value '%s')", e->file, e->line,
                     e->key, v);
        config_store_bool(cfg, k, strcmp(v, "yes") == 0);
        return 0;
    case CONFIG_KIND_NOT_NO:
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            log_warn("%s:%d: key '%s': not 'yes' or 'no', read as yes (value '%s')", e->file, e->line,
                     e->key, v);
        config_store_bool(cfg, k, strcmp(v, "no") != 0);
        return 0;
    case CONFIG_KIND_NOT_FALSE:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            log_warn("%s:%d: key '%s': not 'true' or 'false', read as true (value '%s')", e->file,
                     e->line, e->key, v);
        config_store_bool(cfg, k, strcmp(v, "false") != 0);
        return 0;
    case CONFIG_KIND_STRING: {
        char **field = (char **)(void *)((char *)cfg + k->offset);
        return config_set_string(field, v) ? config_oom(c->err, c->errlen) : 0;
    }
    case CONFIG_KIND_SPECIAL:
        return config_decode_special(c, e);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Ensemble: server.N, group.N, weight.N                                    */
/* ------------------------------------------------------------------------ */

/*
 * Splits "host:a:b..." (host may be "[v6]") into at most max parts; returns
 * the count, or -1 when a '[' is not closed or not followed by ':' or the end.
 * Modifies s in place.
 */
static int config_split_host(char *s, char **parts, int max)
{
    int n = 0;
    char *rest = s;
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (close == NULL || (close[1] != ':' && close[1] != '\0'))
            return -1;
        *close = '\0';
        parts[n++] = s + 1;
        rest = close[1] == ':' ? close + 2 : NULL;
        if (rest == NULL)
            return n;
    }
    for (;;) {
        char *colon = strchr(rest, ':');
        if (n == max)
            return max + 1;
        parts[n++] = rest;
        if (colon == NULL)
            return n;
        *colon = '\0';
        rest = colon + 1;
    }
}

#define CONFIG_SERVER_FORM                                                                     \
    "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]"

static int config_parse_server(struct config_ctx *c, const struct config_entry *e, struct config_server *out)
{
    char *copy = NULL;
    int64_t id;
    int rc;

    memset(out, 0, sizeof *out);
    if (config_parse_number(e->key + strlen("server."), false, 1, INT64_MAX, &id) != 0)
        return config_fail_entry(c->err, c->errlen, e, "server id is not a positive integer");
    out->id = id;

    copy = strdup(e->value);
    if (copy == NULL)
        return config_oom(c->err, c->errlen);

    char *client = strchr(copy, ';');
    if (client != NULL) {
        *client++ = '\0';
        if (strchr(client, ';') != NULL) {
            rc = config_fail_entry(c->err, c->errlen, e, CONFIG_SERVER_FORM);
            goto fail;
        }
    }

    char *addr = copy;
    char *pipe = strchr(addr, '|');
    if (pipe != NULL) {
        if (!c->cfg->multi_address_enabled) {
            rc = config_fail_entry(c->err, c->errlen, e,
                                   "multiple addresses need multiAddress.enabled=true");
            goto fail;
        }
        *pipe = '\0';
        log_warn("%s:%d: key '%s': only the first address is used", e->file, e->line, e->key);
    }

    char *parts[5];
    int n = config_split_host(addr, parts, 4);
    if (n < 3 || n > 4) {
        rc = config_fail_entry(c->err, c->errlen, e, n < 0 ? "unterminated '[' in the host" : CONFIG_SERVER_FORM);
        goto fail;
    }
    config_trim(parts[0]);
    if (parts[0][0] == '\0') {
        rc = config_fail_entry(c->err, c->errlen, e, "empty host; " CONFIG_SERVER_FORM);
        goto fail;
    }
    config_trim(parts[1]);
    config_trim(parts[2]);
    if (config_parse_port(parts[1], &out->quorum_port) != 0) {
        rc = config_fail_entry(c->err, c->errlen, e, "quorum port '%s' is not a port number (1-65535)", parts[1]);
        goto fail;
    }
    if (config_parse_port(parts[2], &out->election_port) != 0) {
        rc = config_fail_entry(c->err, c->errlen, e, "election port '%s' is not a port number (1-65535)",
                               parts[2]);
        goto fail;
    }
    if (out->quorum_port == out->election_port) {
        rc = config_fail_entry(c->err, c->errlen, e, "quorum and election ports must be different");
        goto fail;
    }
    if (n == 4) {
        config_trim(parts[3]);
        if (strcasecmp(parts[3], "participant") == 0) {
            out->type = CONFIG_PARTICIPANT;
        } else if (strcasecmp(parts[3], "observer") == 0) {
            out->type = CONFIG_OBSERVER;
        } else {
            rc = config_fail_entry(c->err, c->errlen, e,
                                   "unrecognised peer type '%s', expected participant or observer", parts[3]);
            goto fail;
        }
    }

    const char *client_host = "0.0.0.0";
    if (client != NULL) {
        char *cparts[3];
        int cn = config_split_host(client, cparts, 2);
        if (cn < 1 || cn > 2) {
            rc = config_fail_entry(c->err, c->errlen, e,
                                   cn < 0 ? "unterminated '[' in the client host" : CONFIG_SERVER_FORM);
            goto fail;
        }
        char *port = cparts[cn - 1];
        config_trim(port);
        if (config_parse_port(port, &out->client_port) != 0) {
            rc = config_fail_entry(c->err, c->errlen, e, "client port '%s' is not a port number (1-65535)",
                                   port);
            goto fail;
        }
        if (cn == 2) {
            config_trim(cparts[0]);
            client_host = cparts[0];
        }
    }

    out->host = strdup(parts[0]);
    if (client != NULL)
        out->client_host = strdup(client_host);
    if (out->host == NULL || (client != NULL && out->client_host == NULL)) {
        free(out->host);
        free(out->client_host);
        rc = config_oom(c->err, c->errlen);
        goto fail;
    }
    free(copy);
    return 0;
fail:
    free(copy);
    return rc;
}

int config_server_from_spec(const struct zk_config *cfg, const char *key, const char *value, struct config_server *out,
                            char *err, size_t errlen)
{
    struct config_entry e = {.key = (char *)key, .value = (char *)value, .line = 0, .file = "reconfig"};
    struct config_ctx c = {.cfg = (struct zk_config *)cfg, .err = err, .errlen = errlen};
    if (strncmp(key, "server.", 7) != 0) {
        snprintf(err, errlen, "'%s' is not a server.N key", key);
        return -EINVAL;
    }
    return config_parse_server(&c, &e, out);
}

void config_server_clear(struct config_server *s)
{
    free(s->host);
    free(s->client_host);
    memset(s, 0, sizeof *s);
}

int config_set_servers(struct zk_config *cfg, struct config_server *servers, size_t n)
{
    struct config_retired *r = realloc(cfg->retired, (cfg->nretired + 1) * sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    cfg->retired = r;
    r[cfg->nretired++] = (struct config_retired){cfg->servers, cfg->nservers};
    cfg->servers = servers;
    cfg->nservers = n;
    return 0;
}

static int config_decode_ensemble(struct config_ctx *c)
{
    struct zk_config *cfg = c->cfg;
    size_t nservers = 0, ngroups = 0;

    for (size_t i = 0; i < cfg->nentries; i++) {
        if (config_starts_with(cfg->entries[i].key, "server."))
            nservers++;
        else if (config_starts_with(cfg->entries[i].key, "group."))
            ngroups++;
    }
    if (nservers > 0 && (cfg->servers = calloc(nservers, sizeof *cfg->servers)) == NULL)
        return config_oom(c->err, c->errlen);
    if (ngroups > 0 && (cfg->groups = calloc(ngroups, sizeof *cfg->groups)) == NULL)
        return config_oom(c->err, c->errlen);

    for (size_t i = 0; i < cfg->nentries; i++) {
        const struct config_entry *e = &cfg->entries[i];
        if (config_starts_with(e->key, "server.")) {
            struct config_server s;
            int rc = config_parse_server(c, e, &s);
            if (rc != 0)
                return rc;
            cfg->servers[cfg->nservers++] = s;
            /* server.1 and server.01 are different keys but the same server. */
            for (size_t j = 0; j + 1 < cfg->nservers; j++) {
                if (cfg->servers[j].id != s.id)
                    continue;
                const struct config_entry *other = NULL;
                for (size_t k = 0; k < i; k++) {
                    int64_t oid;
                    if (config_starts_with(cfg->entries[k].key, "server.") &&
                        config_parse_number(cfg->entries[k].key + 7, false, 1, INT64_MAX, &oid) == 0 &&
                        oid == s.id)
                        other = &cfg->entries[k];
                }
                return config_fail_entry(c->err, c->errlen, e,
                                         "duplicate server id %" PRId64 ", also defined on line %d", s.id,
                                         other ? other->line : 0);
            }
        } else if (config_starts_with(e->key, "group.")) {
            int64_t gid;
            if (config_parse_number(e->key + 6, false, INT64_MIN, INT64_MAX, &gid) != 0)
                return config_fail_entry(c->err, c->errlen, e, "group id is not an integer");
            char *copy = strdup(e->value);
            if (copy == NULL)
                return config_oom(c->err, c->errlen);
            cfg->groups[cfg->ngroups++] = copy;
            char *save = NULL;
            char *scratch = strdup(e->value);
            if (scratch == NULL)
                return config_oom(c->err, c->errlen);
            bool ok = scratch[0] != '\0';
            for (char *sid = strtok_r(scratch, ":", &save); sid != NULL && ok; sid = strtok_r(NULL, ":", &save)) {
                int64_t dummy;
                config_trim(sid);
                ok = config_parse_number(sid, false, INT64_MIN, INT64_MAX, &dummy) == 0;
            }
            free(scratch);
            if (!ok)
                return config_fail_entry(c->err, c->errlen, e, "expected server ids separated by ':'");
        } else if (config_starts_with(e->key, "weight.")) {
            int64_t sid, w;
            if (config_parse_number(e->key + 7, false, INT64_MIN, INT64_MAX, &sid) != 0)
                return config_fail_entry(c->err, c->errlen, e, "server id is not an integer");
            if (config_parse_number(e->value, false, INT64_MIN, INT64_MAX, &w) != 0)
                return config_fail_entry(c->err, c->errlen, e, "weight is not an integer");
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Dynamic config file                                                      */
/* ------------------------------------------------------------------------ */

static int config_read_file(const char *path, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return config_fail(err, errlen, -errno, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        close(fd);
        return config_fail(err, errlen, rc, "%s: cannot stat: %s", path, strerror(-rc));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_SIZE) {
        close(fd);
        return config_fail(err, errlen, -EINVAL, "%s: not a regular file of at most %d bytes", path,
                           CONFIG_MAX_FILE_SIZE);
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        close(fd);
        return config_oom(err, errlen);
    }
    size_t len = 0;
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, text + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = -errno;
            free(text);
            close(fd);
            return config_fail(err, errlen, rc, "%s: cannot read: %s", path, strerror(-rc));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return config_fail(err, errlen, -EINVAL, "%s: contains a NUL byte, not a text file", path);
    }
    *out = text;
    return 0;
}

/* Relative paths are taken from the directory of the main config file, then,
 * as ZooKeeper does, from the working directory. */
static int config_resolve_dynamic(const struct zk_config *cfg, char **out)
{
    const char *name = cfg->dynamic_config_file;
    const char *slash = strrchr(cfg->path, '/');
    if (name[0] != '/' && slash != NULL) {
        char *joined;
        if (asprintf(&joined, "%.*s/%s", (int)(slash - cfg->path), cfg->path, name) < 0)
            return -ENOMEM;
        if (access(joined, F_OK) == 0 || access(name, F_OK) != 0) {
            *out = joined;
            return 0;
        }
        free(joined);
    }
    *out = strdup(name);
    return *out ? 0 : -ENOMEM;
}

static int config_load_dynamic(struct config_ctx *c)
{
    struct zk_config *cfg = c->cfg;
    char *text = NULL;
    size_t first = cfg->nentries;

    if (config_resolve_dynamic(cfg, &cfg->dynamic_config_path) != 0)
        return config_oom(c->err, c->errlen);
    int rc = config_read_file(cfg->dynamic_config_path, &text, c->err, c->errlen);
    if (rc != 0)
        return rc;
    rc = config_parse_properties(cfg, cfg->dynamic_config_path, text, c->err, c->errlen);
    free(text);
    if (rc != 0)
        return rc;
    for (size_t i = first; i < cfg->nentries; i++) {
        const struct config_entry *e = &cfg->entries[i];
        if (strcmp(e->key, "version") == 0)
            return config_fail_entry(c->err, c->errlen, e,
                                     "a dynamic config file must not contain a version");
        if (!config_is_quorum_key(e->key))
            return config_fail_entry(c->err, c->errlen, e,
                                     "not allowed in a dynamic config file (only server.N, group.N, weight.N)");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Load, validate, free                                                     */
/* ------------------------------------------------------------------------ */

static int config_set_defaults(struct zk_config *cfg)
{
    cfg->tick_time = 3000;
    cfg->max_client_cnxns = 60;
    cfg->min_session_timeout = -1;
    cfg->max_session_timeout = -1;
    cfg->client_port_listen_backlog = -1;
    cfg->jute_maxbuffer = 0xfffff;
    cfg->global_outstanding_limit = 1000;
    cfg->force_sync = true;
    cfg->snap_count = 100000;
    cfg->snap_size_limit_kb = 4194304;
    cfg->txn_log_size_limit_kb = -1;
    cfg->pre_alloc_size_kb = 65536;
    cfg->autopurge_snap_retain_count = 3;
    cfg->digest_enabled = true;
    cfg->close_session_txn_enabled = true;
    cfg->standalone_enabled = true;
    cfg->sync_enabled = true;
    cfg->election_alg = 3;
    cfg->peer_type = CONFIG_PARTICIPANT;
    cfg->container_check_interval_ms = 60000;
    cfg->container_max_per_minute = 10000;
    cfg->nio_sessionless_cnxn_timeout_ms = 10000;
    cfg->admin_enable_server = true;
    cfg->admin_server_port = 8080;
    if (config_set_string(&cfg->admin_server_address, "127.0.0.1") != 0 ||
        config_set_string(&cfg->plugin_transport, "tcp") != 0 ||
        config_set_string(&cfg->plugin_storage, "disk") != 0 ||
        config_set_string(&cfg->plugin_election, "fle") != 0)
        return -ENOMEM;
    return 0;
}

static const struct config_entry *config_entry_of(const struct zk_config *cfg, const char *key)
{
    return config_find_mutable(cfg, key);
}

/* Checks made after every key is read, in ZooKeeper's order. */
static int config_validate(struct config_ctx *c)
{
    struct zk_config *cfg = c->cfg;
    const char *file = cfg->path;

    if (cfg->autopurge_snap_retain_count < 3) {
        const struct config_entry *e = config_entry_of(cfg, "autopurge.snapRetainCount");
        log_warn("%s:%d: key 'autopurge.snapRetainCount': %d is below the minimum, using 3", e->file,
                 e->line, cfg->autopurge_snap_retain_count);
        cfg->autopurge_snap_retain_count = 3;
    }
    if (cfg->snap_count < 2) {
        const struct config_entry *e = config_entry_of(cfg, "snapCount");
        log_warn("%s:%d: key 'snapCount': must be 2 or more, using 2", e->file, e->line);
        cfg->snap_count = 2;
    }
    if (cfg->max_cnxns < 0) {
        const struct config_entry *e = config_entry_of(cfg, "maxCnxns");
        log_warn("%s:%d: key 'maxCnxns': negative, using 0 (unlimited)", e->file, e->line);
        cfg->max_cnxns = 0;
    }
    if (cfg->max_client_cnxns < 0)
        cfg->max_client_cnxns = 0; /* ZooKeeper treats any value <= 0 as no limit */

    if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0')
        return config_fail(c->err, c->errlen, -EINVAL, "%s: dataDir is not set", file);
    if (cfg->data_log_dir == NULL || cfg->data_log_dir[0] == '\0') {
        if (config_set_string(&cfg->data_log_dir, cfg->data_dir) != 0)
            return config_oom(c->err, c->errlen);
    }
    if (cfg->client_port == 0 && cfg->client_port_address != NULL) {
        const struct config_entry *e = config_entry_of(cfg, "clientPortAddress");
        return config_fail_entry(c->err, c->errlen, e, "clientPortAddress is set but clientPort is not set");
    }
    if (cfg->secure_client_port == 0 && config_entry_of(cfg, "secureClientPortAddress") != NULL) {
        const struct config_entry *e = config_entry_of(cfg, "secureClientPortAddress");
        return config_fail_entry(c->err, c->errlen, e,
                                 "secureClientPortAddress is set but secureClientPort is not set");
    }

    /* Computed in 64 bits: a huge tickTime must not overflow. */
    if (!c->min_session_set)
        cfg->min_session_timeout = (int)(cfg->tick_time * 2LL > INT32_MAX ? INT32_MAX : cfg->tick_time * 2LL);
    if (!c->max_session_set)
        cfg->max_session_timeout = (int)(cfg->tick_time * 20LL > INT32_MAX ? INT32_MAX : cfg->tick_time * 20LL);
    if (cfg->min_session_timeout > cfg->max_session_timeout) {
        const struct config_entry *e = config_entry_of(cfg, "minSessionTimeout");
        if (e == NULL)
            e = config_entry_of(cfg, "maxSessionTimeout");
        if (e == NULL)
            return config_fail(c->err, c->errlen, -EINVAL,
                               "%s: minSessionTimeout must not be larger than maxSessionTimeout", file);
        return config_fail_entry(c->err, c->errlen, e,
                                 "minSessionTimeout (%d) must not be larger than maxSessionTimeout (%d)",
                                 cfg->min_session_timeout, cfg->max_session_timeout);
    }
    if (!c->extrasize_set)
        cfg->jute_maxbuffer_extrasize = cfg->jute_maxbuffer;
    if (cfg->jute_maxbuffer_extrasize < 1024)
        cfg->jute_maxbuffer_extrasize = 1024;

    /* The ensemble rules of QuorumPeerConfig.parseDynamicConfig. */
    size_t participants = 0, observers = 0;
    for (size_t i = 0; i < cfg->nservers; i++) {
        if (cfg->servers[i].type == CONFIG_PARTICIPANT)
            participants++;
        else
            observers++;
    }
    const char *ens = cfg->dynamic_config_path ? cfg->dynamic_config_path : file;
    if (participants == 0) {
        if (!cfg->standalone_enabled)
            return config_fail(c->err, c->errlen, -EINVAL,
                               "%s: standaloneEnabled is false, so at least one participant server.N is needed",
                               ens);
        if (observers > 0)
            return config_fail(c->err, c->errlen, -EINVAL, "%s: observers without participants", ens);
    } else if (participants == 1 && cfg->standalone_enabled) {
        if (observers > 0)
            return config_fail(c->err, c->errlen, -EINVAL,
                               "%s: observers without a quorum (one participant and standaloneEnabled=true)", ens);
        log_warn("%s: only one server specified, running standalone", ens);
    } else if (participants <= 2) {
        log_warn("%s: no server failure will be tolerated, you need at least 3 servers", ens);
    } else if (participants % 2 == 0) {
        log_warn("%s: non-optimal configuration, consider an odd number of servers", ens);
    }

    if (cfg->ngroups > 0) {
        /* Hierarchical quorums: every participant must belong to a group. */
        for (size_t i = 0; i < cfg->nservers; i++) {
            const struct config_server *s = &cfg->servers[i];
            bool found = false;
            if (s->type != CONFIG_PARTICIPANT)
                continue;
            for (size_t g = 0; g < cfg->ngroups && !found; g++) {
                const char *p = cfg->groups[g];
                while (*p != '\0' && !found) {
                    int64_t sid;
                    char part[32];
                    size_t n = strcspn(p, ":");
                    snprintf(part, sizeof part, "%.*s", (int)(n < sizeof part ? n : sizeof part - 1), p);
                    config_trim(part);
                    found = config_parse_number(part, false, INT64_MIN, INT64_MAX, &sid) == 0 && sid == s->id;
                    p += n + (p[n] == ':');
                }
            }
            if (!found)
                return config_fail(c->err, c->errlen, -EINVAL, "%s: server %" PRId64 " is not in a group", ens,
                                   s->id);
        }
    }

    if (!config_is_standalone(cfg)) {
        if (cfg->init_limit == 0)
            return config_fail(c->err, c->errlen, -EINVAL, "%s: initLimit is not set", file);
        if (cfg->sync_limit == 0)
            return config_fail(c->err, c->errlen, -EINVAL, "%s: syncLimit is not set", file);
    } else if (cfg->client_port == 0 && cfg->secure_client_port == 0 && cfg->nservers == 0) {
        /* ZooKeeper 3.8 starts a standalone server without any client
         * listener in this case; so does zkplug, loudly. */
        log_warn("%s: clientPort is not set, no client port will be opened", file);
    }
    return 0;
}

/* ZooKeeper's AuthenticationHelper: sessionRequireClientSASLAuth=true means
 * enforcement of the "sasl" scheme; else enforce.auth.enabled with the
 * enforce.auth.schemes list (split on ',', trimmed). With enforcement on, an
 * empty list or a scheme without a provider stops the server. */
static int config_decode_enforcement(struct config_ctx *c)
{
    struct zk_config *cfg = c->cfg;
    const char *raw = cfg->enforce_auth_schemes_raw;
    if (cfg->session_require_client_sasl_auth) {
        cfg->enforce_auth_enabled = true;
        raw = "sasl";
    }
    if (raw != NULL) {
        for (const char *p = raw;; p++) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            const char *b = p, *e = p + n;
            while (b < e && (unsigned char)*b <= ' ')
                b++;
            while (e > b && (unsigned char)e[-1] <= ' ')
                e--;
            char **v = realloc(cfg->enforce_auth_schemes, (cfg->nenforce_auth_schemes + 1) * sizeof *v);
            if (v == NULL)
                return config_oom(c->err, c->errlen);
            cfg->enforce_auth_schemes = v;
            if ((v[cfg->nenforce_auth_schemes] = strndup(b, (size_t)(e - b))) == NULL)
                return config_oom(c->err, c->errlen);
            cfg->nenforce_auth_schemes++;
            if (end == NULL)
                break;
            p = end;
        }
    }
    if (!cfg->enforce_auth_enabled)
        return 0;
    if (cfg->nenforce_auth_schemes == 0)
        return config_fail(c->err, c->errlen, -EINVAL,
                           "%s: enforce.auth.enabled is true enforce.auth.schemes must be configured",
                           cfg->path);
    for (size_t i = 0; i < cfg->nenforce_auth_schemes; i++) {
        const char *s = cfg->enforce_auth_schemes[i];
        bool known = strcmp(s, "ip") == 0 || (strcmp(s, "digest") == 0 && cfg->digest_enabled) ||
                     (strcmp(s, "sasl") == 0 && cfg->sasl_provider);
        if (!known)
            return config_fail(c->err, c->errlen, -EINVAL, "%s: authentication scheme %s is not available%s",
                               cfg->path, s,
                               strcmp(s, "sasl") == 0 ? " (set authProvider.1=org.apache.zookeeper.server."
                                                        "auth.SASLAuthenticationProvider)"
                                                      : "");
        if (strcmp(s, "sasl") == 0)
            cfg->sasl_auth_required = true;
    }
    return 0;
}

/* The JAAS file (java.security.auth.login.config, else env_jaas from the
 * environment): its section sasl.serverconfig ("Server") holds the SASL
 * users. A file that cannot be read or parsed stops the server, as in
 * ZooKeeper; a file without the section leaves SASL without a login. */
static int config_load_jaas(struct config_ctx *c, const char *env_jaas)
{
    struct zk_config *cfg = c->cfg;
    if (cfg->jaas_config == NULL && env_jaas != NULL && config_set_string(&cfg->jaas_config, env_jaas) != 0)
        return config_oom(c->err, c->errlen);
    if (cfg->jaas_config == NULL || cfg->jaas_config[0] == '\0') {
        if (cfg->sasl_server_section != NULL)
            return config_fail(c->err, c->errlen, -EINVAL,
                               "%s: no JAAS configuration section named '%s' was found: "
                               "sasl.serverconfig is set but java.security.auth.login.config is not",
                               cfg->path, cfg->sasl_server_section);
        return 0;
    }
    const char *section = cfg->sasl_server_section ? cfg->sasl_server_section : "Server";
    int rc = jaas_load(cfg->jaas_config, section, &cfg->sasl_users, c->err, c->errlen);
    if (rc != 0)
        return rc;
    if (cfg->sasl_users == NULL) {
        log_info("%s: no '%s' section: SASL authentication has no server login", cfg->jaas_config, section);
    } else {
        log_info("%s: SASL DIGEST-MD5 with %zu user(s) of section '%s'", cfg->jaas_config,
                 jaas_users_count(cfg->sasl_users), section);
    }
    return 0;
}

static int config_parse_env(const char *name, const char *text, struct zk_config *cfg, char *err, size_t errlen,
                            const char *env_jaas)
{
    struct config_ctx c = {.cfg = cfg, .err = err, .errlen = errlen};
    int rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(cfg, 0, sizeof *cfg);
    cfg->path = strdup(name ? name : "zoo.cfg");
    cfg->text = strdup(text ? text : "");
    if (cfg->path == NULL || cfg->text == NULL || config_set_defaults(cfg) != 0) {
        rc = config_oom(err, errlen);
        goto fail;
    }

    rc = config_parse_properties(cfg, cfg->path, cfg->text, err, errlen);
    if (rc != 0)
        goto fail;
    for (size_t i = 0; i < cfg->nentries; i++) {
        rc = config_decode_entry(&c, &cfg->entries[i]);
        if (rc != 0)
            goto fail;
    }
    if (cfg->dynamic_config_file != NULL) {
        rc = config_load_dynamic(&c);
        if (rc != 0)
            goto fail;
    }
    rc = config_decode_ensemble(&c);
    if (rc != 0)
        goto fail;
    rc = config_validate(&c);
    if (rc == 0)
        rc = config_decode_enforcement(&c);
    if (rc == 0)
        rc = config_load_jaas(&c, env_jaas);
    if (rc != 0)
        goto fail;
    return 0;
fail:
    config_free(cfg);
    return rc;
}

int config_parse(const char *name, const char *text, struct zk_config *cfg, char *err, size_t errlen)
{
    return config_parse_env(name, text, cfg, err, errlen, NULL);
}

/* -Djava.security.auth.login.config=PATH from the JVM flags ZooKeeper's
 * zkServer.sh passes (SERVER_JVMFLAGS, then JVMFLAGS; the last one wins, as
 * in java). Malloc'ed or NULL. */
static char *config_env_jaas(void)
{
    static const char *const vars[] = {"SERVER_JVMFLAGS", "JVMFLAGS"};
    static const char flag[] = "-Djava.security.auth.login.config=";
    char *found = NULL;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        while (v && *v) {
            while (*v == ' ' || *v == '\t' || *v == '\n')
                v++;
            size_t n = strcspn(v, " \t\n");
            if (n > sizeof flag - 1 && strncmp(v, flag, sizeof flag - 1) == 0) {
                free(found);
                found = strndup(v + sizeof flag - 1, n - (sizeof flag - 1));
            }
            v += n;
        }
    }
    return found;
}

int config_load(const char *path, struct zk_config *cfg, char *err, size_t errlen)
{
    char *text = NULL;
    memset(cfg, 0, sizeof *cfg);
    int rc = config_read_file(path, &text, err, errlen);
    if (rc != 0)
        return rc;
    char *env_jaas = config_env_jaas();
    rc = config_parse_env(path, text, cfg, err, errlen, env_jaas);
    free(env_jaas);
    free(text);
    return rc;
}

void config_free(struct zk_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nentries; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    for (size_t i = 0; i < cfg->nretired; i++) {
        for (size_t j = 0; j < cfg->retired[i].n; j++)
            config_server_clear(&cfg->retired[i].servers[j]);
        free(cfg->retired[i].servers);
    }
    free(cfg->retired);
    for (size_t i = 0; i < cfg->nservers; i++) {
        free(cfg->servers[i].host);
        free(cfg->servers[i].client_host);
    }
    free(cfg->servers);
    for (size_t i = 0; i < cfg->ngroups; i++)
        free(cfg->groups[i]);
    free(cfg->groups);
    free(cfg->path);
    free(cfg->text);
    free(cfg->data_dir);
    free(cfg->data_log_dir);
    free(cfg->client_port_address);
    free(cfg->snapshot_compression);
    free(cfg->four_lw_whitelist);
    free(cfg->super_digest);
    free(cfg->dynamic_config_file);
    free(cfg->dynamic_config_path);
    free(cfg->admin_server_address);
    free(cfg->plugin_transport);
    free(cfg->plugin_storage);
    free(cfg->plugin_election);
    free(cfg->jaas_config);
    free(cfg->sasl_server_section);
    jaas_users_free(cfg->sasl_users);
    free(cfg->sasl_super_password);
    free(cfg->sasl_let_any_user_do_x);
    free(cfg->enforce_auth_schemes_raw);
    for (size_t i = 0; i < cfg->nenforce_auth_schemes; i++)
        free(cfg->enforce_auth_schemes[i]);
    free(cfg->enforce_auth_schemes);
    memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

bool config_is_standalone(const struct zk_config *cfg)
{
    size_t participants = 0;
    for (size_t i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].type == CONFIG_PARTICIPANT)
            participants++;
    return cfg->standalone_enabled && participants <= 1;
}

const struct config_server *config_find_server(const struct zk_config *cfg, int64_t id)
{
    for (size_t i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].id == id)
            return &cfg->servers[i];
    return NULL;
}

int config_get_string(const struct zk_config *cfg, const char *key, const char *def, const char **out)
{
    const struct config_entry *e = config_find(cfg, key);
    if (e == NULL) {
        *out = def;
        return 1;
    }
    *out = e->value;
    return 0;
}

int config_get_int(const struct zk_config *cfg, const char *key, int64_t def, int64_t *out)
{
    const struct config_entry *e = config_find(cfg, key);
    if (e == NULL) {
        *out = def;
        return 1;
    }
    const char *v = e->value;
    bool hex = (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) ||
               ((v[0] == '-' || v[0] == '+') && v[1] == '0' && (v[2] == 'x' || v[2] == 'X'));
    int64_t n;
    int rc = config_parse_number(v, hex, INT64_MIN, INT64_MAX, &n);
    if (rc != 0) {
        log_error("%s:%d: key '%s': %s (value '%s')", e->file, e->line, e->key,
                  rc == -ERANGE ? "out of range" : "not an integer", v);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

int config_get_bool(const struct zk_config *cfg, const char *key, int def, int *out)
{
    const struct config_entry *e = config_find(cfg, key);
    if (e == NULL) {
        *out = def;
        return 1;
    }
    if (strcasecmp(e->value, "true") == 0 || strcasecmp(e->value, "yes") == 0) {
        *out = 1;
    } else if (strcasecmp(e->value, "false") == 0 || strcasecmp(e->value, "no") == 0) {
        *out = 0;
    } else {
        log_error("%s:%d: key '%s': not a boolean, expected true/false or yes/no (value '%s')", e->file,
                  e->line, e->key, e->value);
        return -EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* myid                                                                     */
/* ------------------------------------------------------------------------ */

int config_read_myid(const struct zk_config *cfg, int64_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    char buf[64];

    if (cfg->data_dir == NULL)
        return config_fail(err, errlen, -EINVAL, "dataDir is not set, cannot read myid");
    if ((size_t)snprintf(path, sizeof path, "%s/myid", cfg->data_dir) >= sizeof path)
        return config_fail(err, errlen, -ENAMETOOLONG, "%s/myid: path too long", cfg->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -ENOENT)
            return config_fail(err, errlen, rc, "%s: myid file is missing (a quorum member needs its "
                               "server id there)", path);
        return config_fail(err, errlen, rc, "%s: cannot open: %s", path, strerror(-rc));
    }
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0)
        return config_fail(err, errlen, -saved, "%s: cannot read: %s", path, strerror(saved));
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    config_trim(buf);
    int64_t id;
    if (config_parse_number(buf, false, 1, INT64_MAX, &id) != 0)
        return config_fail(err, errlen, -EINVAL, "%s: server id '%s' is not a positive number", path, buf);
    *out = id;
    return 0;
}

static bool config_is_wildcard(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "0:0:0:0:0:0:0:0") == 0;
}

int config_apply_myid(struct zk_config *cfg, int64_t myid, char *err, size_t errlen)
{
    const struct config_server *s = config_find_server(cfg, myid);
    cfg->myid = myid;
    if (s == NULL) {
        if (config_is_standalone(cfg))
            return 0;
        return config_fail(err, errlen, -EINVAL, "%s: myid %" PRId64 " is not in the server list",
                           cfg->dynamic_config_path ? cfg->dynamic_config_path : cfg->path, myid);
    }

    char key[40];
    snprintf(key, sizeof key, "server.%" PRId64, myid);
    const struct config_entry *line = NULL;
    for (size_t i = 0; i < cfg->nentries && line == NULL; i++) {
        int64_t id;
        if (config_starts_with(cfg->entries[i].key, "server.") &&
            config_parse_number(cfg->entries[i].key + 7, false, 1, INT64_MAX, &id) == 0 && id == myid)
            line = &cfg->entries[i];
    }

    if (s->client_port != 0) {
        /* The server line wins, but it must not contradict clientPort. */
        if (cfg->client_port != 0 &&
            (cfg->client_port != s->client_port ||
             (cfg->client_port_address != NULL && !config_is_wildcard(cfg->client_port_address) &&
              strcmp(cfg->client_port_address, s->client_host) != 0)))
            return config_fail_entry(err, errlen, line,
                                     "client address %s:%d differs from clientPortAddress/clientPort %s:%d",
                                     s->client_host, s->client_port,
                                     cfg->client_port_address ? cfg->client_port_address : "0.0.0.0",
                                     cfg->client_port);
        cfg->client_port = s->client_port;
        if (config_set_string(&cfg->client_port_address, s->client_host) != 0)
            return config_oom(err, errlen);
    } else if (cfg->client_port == 0 && cfg->secure_client_port == 0 && !config_is_standalone(cfg)) {
        return config_fail(err, errlen, -EINVAL, "%s: clientPort is not set and %s has no client port",
                           cfg->path, key);
    }

    if (s->type != cfg->peer_type) {
        log_warn("%s:%d: peer type from the server list (%s) does not match peerType (%s), using the "
                 "server list",
                 line->file, line->line, s->type == CONFIG_OBSERVER ? "observer" : "participant",
                 cfg->peer_type == CONFIG_OBSERVER ? "observer" : "participant");
        cfg->peer_type = s->type;
    }
    return 0;
}
