/*
 * SASL authentication (the `sasl` request, opcode 102) as ZooKeeper 3.8's
 * server does it: DIGEST-MD5 only, server name and realm "zk-sasl-md5",
 * service "zookeeper", users and passwords from the user_NAME="password"
 * options of a JAAS file's "Server" section. The mechanism is Cyrus SASL's
 * (libsasl2 with its DIGEST-MD5 plugin); the passwords reach it in-process
 * through an auxprop plugin that reads the parsed JAAS entries, so no sasldb
 * and no /etc/sasl2 configuration is used.
 *
 * Also here, because they only matter once the "sasl" scheme exists: the
 * scheme's ACL rules (SASLAuthenticationProvider, registered by
 * authProvider.N=...SASLAuthenticationProvider in zoo.cfg) as wrappers
 * around acl_check/acl_fixup, and the zookeeper.superUser test.
 *
 * The prefix is zsasl_ because Cyrus owns the sasl_ names.
 *
 * Call order: the credentials are loaded with the configuration (config.c,
 * jaas.c) and kept in struct zk_config; zsasl_step for each sasl request of
 * a connection (the first call creates its state); zsasl_conn_free when the
 * connection goes. Per-connection
 * state belongs to the thread serving the connection; the credentials are
 * read-only after loading. The Cyrus library is set up once per process.
 */
#ifndef ZKPLUG_SASL_H
#define ZKPLUG_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

struct zk_config;
struct zsasl_conn;

enum zsasl_result {
    ZSASL_CONTINUE, /* answer OK with the token */
    ZSASL_DONE,     /* authenticated: answer OK with the token, *id is the identity */
    ZSASL_NO_LOGIN, /* no JAAS section: answer OK with a null token */
    ZSASL_FAILED,   /* wrong credentials or a broken exchange */
};

/* One step of the DIGEST-MD5 exchange for a connection, as ZooKeeper's
 * evaluateResponse: the first token is ignored and answered with the
 * challenge, the second is checked. *sc is created on the first call.
 * *out and *outlen: the token to send (*outlen -1 = null), valid until the next
 * call on *sc; *id (on ZSASL_DONE) is the authentication id, valid as long
 * as *sc. On ZSASL_FAILED *sc is reset, so a later request starts over. */
enum zsasl_result zsasl_step(struct zsasl_conn **sc, const struct zk_config *cfg, const uint8_t *in,
                             size_t inlen, const uint8_t **out, int32_t *outlen, const char **id);
/* NULL-safe. */
void zsasl_conn_free(struct zsasl_conn *sc);

/* zookeeper.superUser (or any zookeeper.superUser.* key) equals id. */
bool zsasl_is_super_user(const struct zk_config *cfg, const char *id);

/* The "sasl" entries of an ACL, with the SASL provider registered: true when
 * an entry with a bit of perm names a "sasl" id of the caller, or the caller
 * is sasl:super, or the entry is letAnySaslUserDoX and the caller has any
 * sasl id (SASLAuthenticationProvider.matches). False without the provider.
 * Call when acl_check said no. All borrowed. */
bool zsasl_acl_allows(const struct zk_config *cfg, const struct acl_entry *acl, size_t nacl,
                      int32_t perm, const struct acl_auth *auth);

/* acl_fixup, plus with the SASL provider registered: "sasl" ids are valid
 * when they parse as a Kerberos name (no '@', or exactly NAME@REALM or
 * NAME/HOST@REALM with no '/' or '@' in the parts), and "auth" also expands to the caller's sasl
 * ids, in the order they were added. Same contract as acl_fixup. */
int zsasl_acl_fixup(const struct zk_config *cfg, const struct acl_entry *acl, size_t nacl,
                    const struct acl_auth *auth, struct acl_entry **out, size_t *nout);

/* Is the "sasl" id syntax valid (KerberosName)? */
bool zsasl_id_valid(const char *id);

#endif
