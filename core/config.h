/*
 * zoo.cfg: ZooKeeper's Java-properties syntax, every key ZooKeeper 3.8
 * accepts, and the keys zkplug adds (plugin.*). Settings that ZooKeeper reads
 * only as Java system properties are accepted as keys under the property's
 * name with any "zookeeper." prefix dropped (readonlymode.enabled,
 * jute.maxbuffer, znode.container.checkIntervalMs, skipACL, ...).
 *
 * config_load parses a file into struct zk_config: every entry is kept (for
 * typed lookups by plugins and for the conf/icfg commands), the well-known
 * ones are also decoded into fields with ZooKeeper's defaults. A bad value
 * fails with "FILE:LINE: key 'K': reason"; an unknown key is warned once.
 * Values naming Java classes are mapped to zkplug's equivalent or ignored
 * with one warning.
 *
 * Call order: config_load (or config_parse) once at start-up; for a quorum
 * member then config_read_myid and config_apply_myid, which merges the
 * server's own server.N line (client address, peer type) into the fields;
 * config_free at exit. The struct is read-only after that and may be read
 * from any thread.
 */
#ifndef ZKPLUG_CONFIG_H
#define ZKPLUG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_entry {
    char *key;   /* canonical key: "zookeeper." prefix removed */
    char *value; /* trimmed */
    int line;
    const char *file; /* borrowed: cfg->path or cfg->dynamic_config_path */
};

enum config_peer_type { CONFIG_PARTICIPANT = 0, CONFIG_OBSERVER = 1 };

struct config_server {
    int64_t id;
    char *host;
    int quorum_port;
    int election_port;
    enum config_peer_type type;
    char *client_host; /* NULL when the line has no client part */
    int client_port;   /* 0 when absent */
};

/* An ensemble list replaced by a reconfig, kept until config_free: plugins
 * may still hold its strings (zkp_host.server_get lends them). */
struct config_retired {
    struct config_server *servers;
    size_t n;
};

struct zk_config {
    char *path;           /* the file read */
    char *text;           /* the file's text as read (icfg) */
    struct config_entry *entries;
    size_t nentries;

    /* Core settings (ZooKeeper defaults in parentheses). */
    int tick_time;                 /* 3000 */
    int init_limit, sync_limit;    /* 0 = not set */
    char *data_dir;                /* required */
    char *data_log_dir;            /* = data_dir when absent */
    int client_port;               /* 0 = none */
    char *client_port_address;     /* NULL = all */
    int secure_client_port;        /* 0 = none */
    int max_client_cnxns;          /* 60; 0 = unlimited */
    int max_cnxns;                 /* 0 = unlimited */
    int min_session_timeout;       /* 2 * tickTime */
    int max_session_timeout;       /* 20 * tickTime */
    int client_port_listen_backlog;/* -1 */
    int64_t jute_maxbuffer;        /* 0xfffff */
    int64_t jute_maxbuffer_extrasize; /* = jute_maxbuffer, min 1024 */
    int64_t global_outstanding_limit; /* 1000 */
    bool force_sync;               /* yes */
    int64_t snap_count;            /* 100000 */
    int64_t snap_size_limit_kb;    /* 4194304 */
    int64_t txn_log_size_limit_kb; /* -1 */
    int64_t pre_alloc_size_kb;     /* 65536 */
    int autopurge_snap_retain_count; /* 3 */
    int autopurge_purge_interval;  /* 0 hours */
    char *snapshot_compression;    /* NULL/"" none, "gz", "snappy" */
    char *four_lw_whitelist;       /* NULL = default (srvr) */
    bool extended_types_enabled;   /* false */
    bool skip_acl;                 /* false */
    char *super_digest;            /* DigestAuthenticationProvider.superDigest */
    bool digest_enabled;           /* true */
    bool close_session_txn_enabled;/* true */
    bool readonly_mode_enabled;    /* false */
    bool local_sessions_enabled;   /* false */
    bool local_sessions_upgrading_enabled;
    bool reconfig_enabled;         /* false */
    bool standalone_enabled;       /* true */
    bool sync_enabled;             /* true */
    bool quorum_listen_on_all_ips; /* false */
    int election_alg;              /* 3 */
    enum config_peer_type peer_type;
    int64_t container_check_interval_ms;   /* 60000 */
    int64_t container_max_per_minute;      /* 10000 */
    int64_t container_max_never_used_ms;   /* 0 */
    int64_t nio_sessionless_cnxn_timeout_ms; /* 10000 */
    char *dynamic_config_file;     /* as written in zoo.cfg */
    char *dynamic_config_path;     /* the path actually read, NULL if none */
    bool multi_address_enabled;    /* false; only the first address is used */
    bool admin_enable_server;      /* true */
    char *admin_server_address;    /* 0.0.0.0 */
    int admin_server_port;         /* 8080 */

    /* Authentication (sasl.c, docs/sasl.md). */
    bool sasl_provider;            /* authProvider.N=...SASLAuthenticationProvider */
    char *jaas_config;             /* java.security.auth.login.config; else from
                                    * -D in $JVMFLAGS / $SERVER_JVMFLAGS (config_load) */
    char *sasl_server_section;     /* sasl.serverconfig, default "Server" */
    struct jaas_users *sasl_users; /* that section's user_NAME entries; NULL = no
                                    * section: SASL requests get a null token */
    char *sasl_super_password;     /* SASLAuthenticationProvider.superPassword */
    char *sasl_let_any_user_do_x;  /* letAnySaslUserDoX */
    bool allow_sasl_failed_clients;/* allowSaslFailedClients, false */
    bool session_require_client_sasl_auth; /* sessionRequireClientSASLAuth, false */
    bool enforce_auth_enabled;     /* enforce.auth.enabled, or set by the above */
    char *enforce_auth_schemes_raw;/* enforce.auth.schemes as written */
    char **enforce_auth_schemes;   /* in effect: split on ',' and trimmed, or {"sasl"} */
    size_t nenforce_auth_schemes;
    bool sasl_auth_required;       /* enforcement is on and "sasl" is a scheme */

    /* zkplug's own keys. */
    char *plugin_transport;        /* plugin.transport, default "tcp" */
    char *plugin_storage;          /* plugin.storage, default "mem" */
    char *plugin_election;         /* plugin.election, default "fle" */

    /* Ensemble. */
    struct config_server *servers;
    size_t nservers;
    char **groups;   /* raw group.N values, for hierarchical quorums */
    size_t ngroups;
    int64_t myid;    /* 0 until config_apply_myid */
    struct config_retired *retired;
    size_t nretired;
};

/* 0 on success; -EINVAL (err holds "FILE:LINE: key 'K': reason") or -errno. */
int config_load(const char *path, struct zk_config *cfg, char *err, size_t errlen);
/* Same from text in memory; name is used in messages. */
int config_parse(const char *name, const char *text, struct zk_config *cfg, char *err, size_t errlen);
void config_free(struct zk_config *cfg);

/* The entry for a canonical key (without "zookeeper."), or NULL. */
const struct config_entry *config_find(const struct zk_config *cfg, const char *key);

/* Typed lookups used by plugins (see struct zkp_host): 0 found, 1 absent
 * (*out = def), -EINVAL malformed (logged with file, line and key). */
int config_get_string(const struct zk_config *cfg, const char *key, const char *def, const char **out);
int config_get_int(const struct zk_config *cfg, const char *key, int64_t def, int64_t *out);
int config_get_bool(const struct zk_config *cfg, const char *key, int def, int *out);

/* True when the server runs standalone: standaloneEnabled (the default) and
 * at most one participant line, as ZooKeeper's QuorumPeerConfig.isDistributed. */
bool config_is_standalone(const struct zk_config *cfg);

/* Reads dataDir/myid (the first line, trimmed, a positive integer). Does not
 * touch cfg. 0 on success; -ENOENT ("DIR/myid: myid file is missing"),
 * -EINVAL (not a number) or -errno, with the message in err. */
int config_read_myid(const struct zk_config *cfg, int64_t *out, char *err, size_t errlen);

/* For a quorum member: records myid, takes the client address and peer type
 * from the server's own server.N line and checks that a client port is known.
 * 0, or -EINVAL with "FILE:LINE: ..." / "FILE: ..." in err. */
int config_apply_myid(struct zk_config *cfg, int64_t myid, char *err, size_t errlen);

/* Parse one server.N=spec (zoo.cfg syntax, as a reconfig request carries
 * it) into out. 0, or -EINVAL with the reason in err. */
int config_server_from_spec(const struct zk_config *cfg, const char *key, const char *value, struct config_server *out,
                            char *err, size_t errlen);
void config_server_clear(struct config_server *s);
/* Install a new ensemble list (a reconfig took effect); cfg owns servers. */
int config_set_servers(struct zk_config *cfg, struct config_server *servers, size_t n);

/* The server.N entry with this id, or NULL. */
const struct config_server *config_find_server(const struct zk_config *cfg, int64_t id);

#endif
