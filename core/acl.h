/*
 * ACL machinery: identities, permission checks per scheme (world, auth,
 * digest, ip with CIDR, super), the digest scheme's hashing
 * (user:base64(sha1("user:password"))), and the SHA-1 and base64 it needs.
 */
#ifndef ZKPLUG_ACL_H
#define ZKPLUG_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ZK_PERM_READ = 1,
    ZK_PERM_WRITE = 2,
    ZK_PERM_CREATE = 4,
    ZK_PERM_DELETE = 8,
    ZK_PERM_ADMIN = 16,
    ZK_PERM_ALL = 31,
};

/* An identity: (scheme, id), e.g. ("digest", "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="). */
struct acl_id {
    char *scheme;
    char *id;
};

struct acl_entry {
    int32_t perms;
    struct acl_id id;
};

/* The identities a connection has authenticated with (ip is always there). */
struct acl_auth {
    struct acl_id *ids;
    size_t nids;
};

void acl_sha1(const void *data, size_t len, uint8_t out[20]);
/* Writes NUL-terminated base64 of len bytes into out (needs 4*((len+2)/3)+1). */
void acl_base64(const uint8_t *data, size_t len, char *out);

/* "user:password" -> "user:base64(sha1(user:password))", malloc'ed; NULL if no ':'. */
char *acl_digest_generate(const char *user_password);

/* Does identity `have` (from a connection) satisfy ACL id `want` of a scheme?
 * world: want "anyone"; digest/auth/super: exact; ip: address or CIDR
 * ("10.0.0.0/8", IPv4 and IPv6). */
bool acl_id_matches(const struct acl_id *want, const struct acl_id *have);

/* Check perm against an ACL list. super_digest (may be NULL) is
 * "super:<digest>" from the config; a caller holding ("digest", that value)
 * or ("super", ...) passes. An empty list allows everything. */
bool acl_check(const struct acl_entry *acl, size_t nacl, int32_t perm,
               const struct acl_auth *auth, const char *super_digest);

/* Validate an ACL list for create/setACL: known schemes, valid ids (digest
 * "user:hash", ip address/CIDR, world "anyone"), perms within ALL. An "auth"
 * entry expands to one entry per authenticated non-ip identity of the caller
 * (0 of them = invalid). On success *out is a new malloc'ed list. Returns 0,
 * or -1 for InvalidACL. */
int acl_fixup(const struct acl_entry *acl, size_t nacl, const struct acl_auth *auth,
              struct acl_entry **out, size_t *nout);

/* Handle an AuthPacket: scheme "digest" with "user:password" adds
 * ("digest", acl_digest_generate(...)); an unknown scheme or malformed
 * credential returns -1 (AuthFailed). "ip" and "world" are refused. */
int acl_auth_add(struct acl_auth *auth, const char *scheme, const uint8_t *cred, size_t credlen);
int acl_auth_add_id(struct acl_auth *auth, const char *scheme, const char *id);
void acl_auth_free(struct acl_auth *auth);

void acl_entries_free(struct acl_entry *acl, size_t nacl);

#endif
