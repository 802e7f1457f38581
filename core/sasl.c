/*
 * SASL authentication for clients (opcode 102), as ZooKeeper 3.8's
 * ZooKeeperSaslServer and SaslServerCallbackHandler do it, on Cyrus SASL.
 *
 * - Credentials: the user_NAME="password" options of the JAAS file's
 *   "Server" section (jaas.c), kept in struct zk_config.
 * - Cyrus is set up once per process with no application name (so no
 *   /etc/sasl2/<app>.conf is read) and a SASL_CB_GETOPT callback that
 *   answers every option Cyrus asks for: only DIGEST-MD5, only our auxprop
 *   plugin (so no sasldb is opened), no reauthentication cache (it would be
 *   shared between servers and threads). Cyrus' log goes to ours.
 * - Passwords reach the DIGEST-MD5 plugin through an auxprop plugin,
 *   "zkplug-jaas", registered with sasl_auxprop_add_plugin. It finds the
 *   connection's credentials through the connection's own
 *   SASL_CB_PROXY_POLICY callback, whose context is the connection state, so
 *   several servers in one process with different JAAS files do not mix.
 * - Each connection gets a Cyrus server connection for service "zookeeper"
 *   and server name "zk-sasl-md5" (the challenge's realm, as Java's
 *   DIGEST-MD5 server uses its server name), no user realm (so the user name
 *   is not rewritten to user@realm), no security layer (qop "auth", as
 *   ZooKeeper), and SASL_SUCCESS_DATA so the last step carries rspauth.
 * - The authenticated identity is the authentication id. ZooKeeper passes it
 *   through KerberosName and rebuilds it from the same parts, which leaves a
 *   DIGEST-MD5 user name unchanged; any requested authorization id is
 *   ignored, as ZooKeeper's AuthorizeCallback always answers with the
 *   authentication id.
 */
#define _GNU_SOURCE
#include "sasl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "config.h"
#include "jaas.h"
#include "log.h"

#define ZSASL_SERVICE "zookeeper"
#define ZSASL_SERVER_NAME "zk-sasl-md5"
#define ZSASL_MECH "DIGEST-MD5"
#define ZSASL_AUXPROP "zkplug-jaas"

struct zsasl_conn {
    sasl_conn_t *conn;
    const struct zk_config *cfg; /* borrowed; outlives the connection */
    sasl_callback_t callbacks[3];
    bool started;
    bool done;
};

static const char *zsasl_password(const struct zk_config *cfg, const char *user)
{
    const char *password = jaas_password(cfg->sasl_users, user);
    /* SaslServerCallbackHandler: a "super" user known to the JAAS file takes
     * zookeeper.SASLAuthenticationProvider.superPassword if that is set. */
    if (password != NULL && strcmp(user, "super") == 0 && cfg->sasl_super_password != NULL)
        return cfg->sasl_super_password;
    return password;
}

/* ------------------------------------------------------------------------ */
/* Cyrus SASL                                                               */
/* ------------------------------------------------------------------------ */

static int zsasl_getopt(void *context, const char *plugin_name, const char *option, const char **result,
                        unsigned *len)
{
    (void)context;
    (void)plugin_name;
    const char *v = NULL;
    if (strcmp(option, "mech_list") == 0)
        v = ZSASL_MECH;
    else if (strcmp(option, "auxprop_plugin") == 0)
        v = ZSASL_AUXPROP;
    else if (strcmp(option, "pwcheck_method") == 0)
        v = "auxprop";
    else if (strcmp(option, "reauth_timeout") == 0)
        v = "0";
    else if (strcmp(option, "log_level") == 0)
        v = "3"; /* SASL_LOG_WARN */
    if (v == NULL)
        return SASL_FAIL;
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int zsasl_log(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_ERR)
        log_info("sasl: %s", message);
    else
        log_debug("sasl: %s", message);
    return SASL_OK;
}

/* ZooKeeper's AuthorizeCallback says yes to everything. */
static int zsasl_authorize(sasl_conn_t *conn, void *context, const char *requested_user, unsigned rlen,
                           const char *auth_identity, unsigned alen, const char *def_realm, unsigned urlen,
                           struct propctx *propctx)
{
    return SASL_OK;
}

static int zsasl_auxprop_lookup(void *glob_context, sasl_server_params_t *sparams, unsigned flags,
                                const char *user, unsigned ulen)
{
    (void)glob_context;
    /* Only the authentication id has a password. */
    if (flags & SASL_AUXPROP_AUTHZID)
        return SASL_OK;
    /* The library answers SASL_CB_GETOPT itself; the proxy policy callback
     * is the connection's own and carries its state. */
    sasl_authorize_t *authorize = NULL;
    void *ctx = NULL;
    if (sparams->utils->getcallback(sparams->utils->conn, SASL_CB_PROXY_POLICY, (sasl_callback_ft *)&authorize,
                                    &ctx) != SASL_OK ||
        authorize != zsasl_authorize || ctx == NULL)
        return SASL_NOUSER;
    const struct zsasl_conn *sc = ctx;
    char name[1024];
    if (ulen >= sizeof name)
        return SASL_NOUSER;
    memcpy(name, user, ulen);
    name[ulen] = '\0';
    const char *password = zsasl_password(sc->cfg, name);
    if (password == NULL)
        return SASL_NOUSER;

    const struct propval *to_fetch = sparams->utils->prop_get(sparams->propctx);
    if (to_fetch == NULL)
        return SASL_NOMEM;
    for (const struct propval *cur = to_fetch; cur->name; cur++) {
        if (cur->name[0] != '*' || strcmp(cur->name + 1, "userPassword") != 0)
            continue;
        if (cur->values && !(flags & SASL_AUXPROP_OVERRIDE))
            continue;
        if (cur->values)
            sparams->utils->prop_erase(sparams->propctx, cur->name);
        sparams->utils->prop_set(sparams->propctx, cur->name, password, (int)strlen(password));
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t zsasl_auxprop_plugin = {
    .auxprop_lookup = zsasl_auxprop_lookup,
    .name = (char *)ZSASL_AUXPROP,
};

static int zsasl_auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
                              sasl_auxprop_plug_t **plug, const char *plugname)
{
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &zsasl_auxprop_plugin;
    return SASL_OK;
}

static void *zsasl_mutex_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m != NULL && pthread_mutex_init(m, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

static int zsasl_mutex_lock(void *m)
{
    return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int zsasl_mutex_unlock(void *m)
{
    return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void zsasl_mutex_free(void *m)
{
    if (m != NULL) {
        pthread_mutex_destroy(m);
        free(m);
    }
}

static const sasl_callback_t zsasl_global_callbacks[] = {
    {SASL_CB_GETOPT, (sasl_callback_ft)(void (*)(void))zsasl_getopt, NULL},
    {SASL_CB_LOG, (sasl_callback_ft)(void (*)(void))zsasl_log, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static pthread_once_t zsasl_once = PTHREAD_ONCE_INIT;
static int zsasl_init_rc = SASL_FAIL;

static void zsasl_init_once(void)
{
    sasl_set_mutex(zsasl_mutex_alloc, zsasl_mutex_lock, zsasl_mutex_unlock, zsasl_mutex_free);
    /* No application name: Cyrus then reads no configuration file. */
    zsasl_init_rc = sasl_server_init(zsasl_global_callbacks, NULL);
    if (zsasl_init_rc != SASL_OK) {
        log_error("sasl: cannot initialise Cyrus SASL: %s", sasl_errstring(zsasl_init_rc, NULL, NULL));
        return;
    }
    zsasl_init_rc = sasl_auxprop_add_plugin(ZSASL_AUXPROP, zsasl_auxprop_init);
    if (zsasl_init_rc != SASL_OK)
        log_error("sasl: cannot register the JAAS password plugin: %s",
                  sasl_errstring(zsasl_init_rc, NULL, NULL));
}

void zsasl_conn_free(struct zsasl_conn *sc)
{
    if (sc == NULL)
        return;
    if (sc->conn)
        sasl_dispose(&sc->conn);
    free(sc);
}

static struct zsasl_conn *zsasl_conn_new(const struct zk_config *cfg)
{
    pthread_once(&zsasl_once, zsasl_init_once);
    if (zsasl_init_rc != SASL_OK)
        return NULL;
    struct zsasl_conn *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return NULL;
    sc->cfg = cfg;
    sc->callbacks[0] = (sasl_callback_t){SASL_CB_GETOPT, (sasl_callback_ft)(void (*)(void))zsasl_getopt, sc};
    sc->callbacks[1] = (sasl_callback_t){SASL_CB_PROXY_POLICY, (sasl_callback_ft)(void (*)(void))zsasl_authorize, sc};
    sc->callbacks[2] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    int rc = sasl_server_new(ZSASL_SERVICE, ZSASL_SERVER_NAME, NULL, NULL, NULL, sc->callbacks,
                             SASL_SUCCESS_DATA, &sc->conn);
    if (rc != SASL_OK) {
        log_error("sasl: cannot create a server connection: %s", sasl_errstring(rc, NULL, NULL));
        sc->conn = NULL;
        zsasl_conn_free(sc);
        return NULL;
    }
    /* No integrity or privacy layer: ZooKeeper offers qop "auth" only. */
    sasl_security_properties_t secprops = {.min_ssf = 0, .max_ssf = 0, .maxbufsize = 0};
    rc = sasl_setprop(sc->conn, SASL_SEC_PROPS, &secprops);
    if (rc != SASL_OK) {
        log_error("sasl: cannot set security properties: %s", sasl_errdetail(sc->conn));
        zsasl_conn_free(sc);
        return NULL;
    }
    return sc;
}

enum zsasl_result zsasl_step(struct zsasl_conn **scp, const struct zk_config *cfg, const uint8_t *in,
                             size_t inlen, const uint8_t **out, int32_t *outlen, const char **id)
{
    *out = NULL;
    *outlen = -1;
    if (id)
        *id = NULL;
    if (cfg->sasl_users == NULL)
        return ZSASL_NO_LOGIN;
    if (*scp == NULL) {
        *scp = zsasl_conn_new(cfg);
        if (*scp == NULL)
            return ZSASL_FAILED;
    }
    struct zsasl_conn *sc = *scp;
    const char *o = NULL;
    unsigned olen = 0;
    int rc;
    if (sc->done) {
        /* Java's server refuses to evaluate after completion. */
        rc = SASL_BADPROT;
    } else if (!sc->started) {
        /* DIGEST-MD5 is server-first; Java answers any first token, even a
         * non-empty one, with the challenge. */
        sc->started = true;
        rc = sasl_server_start(sc->conn, ZSASL_MECH, NULL, 0, &o, &olen);
    } else {
        if (inlen > 64 * 1024) {
            rc = SASL_BADPROT;
        } else {
            rc = sasl_server_step(sc->conn, (const char *)in, (unsigned)inlen, &o, &olen);
        }
    }
    if (rc == SASL_CONTINUE) {
        *out = (const uint8_t *)o;
        *outlen = o ? (int32_t)olen : 0;
        return ZSASL_CONTINUE;
    }
    if (rc == SASL_OK) {
        const void *user = NULL;
        if (sasl_getprop(sc->conn, SASL_AUTHUSER, &user) != SASL_OK || user == NULL) {
            log_warn("sasl: authentication finished without a user name");
            goto failed;
        }
        sc->done = true;
        *out = (const uint8_t *)o;
        *outlen = o ? (int32_t)olen : -1;
        if (id)
            *id = user;
        return ZSASL_DONE;
    }
    if (rc == SASL_NOMECH)
        log_error("sasl: the %s mechanism is not available; install Cyrus SASL's plugins "
                  "(Debian: libsasl2-modules)",
                  ZSASL_MECH);
    else
        log_info("sasl: %s", sasl_errdetail(sc->conn));
failed:
    zsasl_conn_free(sc);
    *scp = NULL;
    return ZSASL_FAILED;
}

/* ------------------------------------------------------------------------ */
/* The "sasl" scheme                                                        */
/* ------------------------------------------------------------------------ */

bool zsasl_is_super_user(const struct zk_config *cfg, const char *id)
{
    if (id == NULL || id[0] == '\0')
        return false;
    for (size_t i = 0; i < cfg->nentries; i++) {
        const char *k = cfg->entries[i].key;
        if (strncmp(k, "superUser", 9) == 0 && (k[9] == '\0' || k[9] == '.') &&
            strcmp(cfg->entries[i].value, id) == 0)
            return true;
    }
    return false;
}

static bool zsasl_str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool zsasl_acl_allows(const struct zk_config *cfg, const struct acl_entry *acl, size_t nacl, int32_t perm,
                      const struct acl_auth *auth)
{
    if (!cfg->sasl_provider || auth == NULL)
        return false;
    for (size_t i = 0; i < nacl; i++) {
        if ((acl[i].perms & perm) == 0 || !zsasl_str_eq(acl[i].id.scheme, "sasl") || acl[i].id.id == NULL)
            continue;
        const char *want = acl[i].id.id;
        for (size_t j = 0; j < auth->nids; j++) {
            const struct acl_id *have = &auth->ids[j];
            if (!zsasl_str_eq(have->scheme, "sasl") || have->id == NULL)
                continue;
            if (strcmp(have->id, "super") == 0 || strcmp(have->id, want) == 0 ||
                zsasl_str_eq(cfg->sasl_let_any_user_do_x, want))
                return true;
        }
    }
    return false;
}

bool zsasl_id_valid(const char *id)
{
    /* KerberosName: "([^/@]*)(/([^/@]*))?@([^/@]*)", or anything without '@'. */
    const char *at = strchr(id, '@');
    if (at == NULL)
        return true;
    if (strchr(at + 1, '@') != NULL || strchr(at + 1, '/') != NULL)
        return false;
    const char *slash = memchr(id, '/', (size_t)(at - id));
    return slash == NULL || memchr(slash + 1, '/', (size_t)(at - slash - 1)) == NULL;
}

static bool zsasl_entry_eq(const struct acl_entry *a, const struct acl_entry *b)
{
    return a->perms == b->perms && zsasl_str_eq(a->id.scheme, b->id.scheme) && zsasl_str_eq(a->id.id, b->id.id);
}

static int zsasl_push(struct acl_entry **list, size_t *n, size_t *cap, int32_t perms, const char *scheme,
                      const char *id)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct acl_entry *l = realloc(*list, nc * sizeof *l);
        if (l == NULL)
            return -ENOMEM;
        *list = l;
        *cap = nc;
    }
    struct acl_entry *e = &(*list)[*n];
    e->perms = perms;
    e->id.scheme = strdup(scheme);
    e->id.id = strdup(id);
    if (e->id.scheme == NULL || e->id.id == NULL) {
        free(e->id.scheme);
        free(e->id.id);
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

int zsasl_acl_fixup(const struct zk_config *cfg, const struct acl_entry *acl, size_t nacl,
                    const struct acl_auth *auth, struct acl_entry **out, size_t *nout)
{
    if (!cfg->sasl_provider)
        return acl_fixup(acl, nacl, auth, out, nout);
    *out = NULL;
    *nout = 0;
    if (acl == NULL || nacl == 0)
        return -1;
    struct acl_entry *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < nacl && rc == 0; i++) {
        const struct acl_entry *a = &acl[i];
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = zsasl_entry_eq(a, &acl[j]);
        if (dup)
            continue;
        if (a->id.scheme == NULL || a->id.id == NULL) {
            rc = -1;
        } else if (strcmp(a->id.scheme, "sasl") == 0) {
            rc = zsasl_id_valid(a->id.id) ? zsasl_push(&list, &n, &cap, a->perms, "sasl", a->id.id) : -1;
        } else if (strcmp(a->id.scheme, "auth") == 0) {
            /* PrepRequestProcessor.fixupACL: every id of an authenticated
             * scheme (digest, sasl), in the caller's order. */
            bool any = false;
            for (size_t j = 0; auth && j < auth->nids && rc == 0; j++) {
                const struct acl_id *id = &auth->ids[j];
                if (id->id == NULL || !(zsasl_str_eq(id->scheme, "digest") || zsasl_str_eq(id->scheme, "sasl")))
                    continue;
                any = true;
                rc = zsasl_push(&list, &n, &cap, a->perms, id->scheme, id->id);
            }
            if (rc == 0 && !any)
                rc = -1;
        } else {
            /* world, digest, ip and the rest: acl_fixup's rules. */
            struct acl_entry *one = NULL;
            size_t none = 0;
            rc = acl_fixup(a, 1, auth, &one, &none);
            for (size_t j = 0; rc == 0 && j < none; j++)
                rc = zsasl_push(&list, &n, &cap, one[j].perms, one[j].id.scheme, one[j].id.id);
            acl_entries_free(one, none);
        }
    }
    if (rc != 0) {
        acl_entries_free(list, n);
        return rc;
    }
    *out = list;
    *nout = n;
    return 0;
}
