/*
 * ACL machinery: identities, permission checks per scheme (world, auth,
 * digest, ip with CIDR, super), the digest scheme's hashing
 * (user:base64(sha1("user:password"))), and the SHA-1 and base64 it needs.
 *
 * The rules follow ZooKeeper 3.8's ProviderRegistry: the only schemes with a
 * provider are "digest" (authenticated, ids "user:hash") and "ip" (not
 * authenticated, ids "address" or "address/bits"). "world" has no provider;
 * only the literal world:anyone is special-cased. "super" is an identity a
 * connection can hold, never a valid ACL scheme. "auth" exists only in
 * create/setACL requests and is expanded by acl_fixup.
 *
 * Call order, per connection: acl_auth_add_id("ip", address) when it is
 * accepted; acl_auth_add_with_super() for each auth packet; acl_fixup() on
 * the ACL of every create/setACL; acl_check() before each guarded operation;
 * acl_mask_digest() on a getACL reply when the caller lacks ADMIN;
 * acl_auth_free() when the connection closes.
 *
 * Ownership: every string in these structs is malloc'ed and owned by the
 * struct that holds it; acl_entries_free and acl_auth_free release them.
 * Nothing here keeps state between calls, so any thread may call it on data
 * it owns.
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

/* The identities a connection has authenticated with (ip is always there).
 * A set: acl_auth_add* never stores the same (scheme, id) twice. An all-zero
 * struct is the empty set. */
struct acl_auth {
    struct acl_id *ids;
    size_t nids;
};

/* SHA-1 (FIPS 180-1) of len bytes. */
void acl_sha1(const void *data, size_t len, uint8_t out[20]);
/* Writes NUL-terminated base64 (RFC 4648 alphabet, '=' padding) of len bytes
 * into out (needs 4*((len+2)/3)+1). */
void acl_base64(const uint8_t *data, size_t len, char *out);

/* "user:password" -> "user:base64(sha1(user:password))", malloc'ed (caller
 * frees); the user is everything before the FIRST ':'. NULL if there is no
 * ':' or memory runs out. (An auth packet without ':' is still accepted by
 * acl_auth_add, as ZooKeeper does; this function refuses it because callers
 * building a superDigest or an ACL id want the "user:password" form.) */
char *acl_digest_generate(const char *user_password);

/* Does identity `have` (from a connection) satisfy ACL id `want` of a scheme?
 * Both borrowed. Schemes must be equal, except that world:anyone matches any
 * `have`. digest/auth/super: exact id. ip: `want` is "address" or
 * "address/bits" and `have` an address; bits are masked from the left. IPv4
 * parsing follows ZooKeeper 3.8 (four '.'-separated decimal ints 0..255, a
 * sign and leading zeros allowed, bits 0..32); an id with bad syntax never
 * matches. IPv6 (bits 0..128) is an extension: ZooKeeper 3.8.0's provider
 * knows IPv4 only and refuses IPv6 ids as InvalidACL. An IPv4 `want` never
 * matches an IPv6 `have` or the reverse, so a dual-stack listener must give
 * IPv4 clients their dotted-quad address as ip id, as Java does. */
bool acl_id_matches(const struct acl_id *want, const struct acl_id *have);

/* Check perm against an ACL list, as ZooKeeperServer.checkACL (skipACL is
 * the caller's business). super_digest (may be NULL) is "super:<digest>"
 * from the config; a caller holding ("digest", that value) or ("super", ...)
 * passes. An empty list allows everything. Otherwise some entry must have a
 * bit of perm and be world:anyone or match a caller id of its scheme
 * (acl_id_matches). All arguments borrowed. */
bool acl_check(const struct acl_entry *acl, size_t nacl, int32_t perm,
               const struct acl_auth *auth, const char *super_digest);

/* Validate an ACL list for create/setACL, as PrepRequestProcessor.fixupACL:
 * exact duplicate entries of the request are dropped first (later
 * duplicates made by "auth" expansion stay, as in ZooKeeper); world ids must
 * be "anyone"; digest ids must split on ':' into exactly two fields (Java's
 * String.split, so trailing empty fields do not count: "u:h" and "u:h:" are
 * valid, "u:", "u", "u:h:x" are not); ip ids must be an address or CIDR as
 * acl_id_matches parses them; any other scheme is invalid. An "auth" entry
 * (its id ignored) expands to one entry with its perms per "digest" identity
 * of the caller (ip identities do not count; 0 of them = invalid). Perms are
 * not checked (ZooKeeper stores any int). acl, auth borrowed; on success
 * *out is a new list (free with acl_entries_free) and *nout >= 1. Returns 0,
 * -1 for InvalidACL (null/empty list included), -ENOMEM. */
int acl_fixup(const struct acl_entry *acl, size_t nacl, const struct acl_auth *auth,
              struct acl_entry **out, size_t *nout);

/* Handle an AuthPacket (opcode 100), as ZooKeeper's providers do:
 * - "digest": adds ("digest", "user:base64(sha1(cred))") where user is the
 *   credential up to its first ':' (all of it if there is none; an empty
 *   password or user is fine too). If that id equals super_digest (may be
 *   NULL), ("super", "") is added as well.
 * - "ip": succeeds and adds nothing; the ip identity is the connection's
 *   address, which acl_auth_add_id put there already.
 * - anything else ("world", "super", unknown): -1 (AuthFailed).
 * The credential bytes are hashed as received (ZooKeeper first decodes them
 * with the JVM's default charset, which only differs for invalid UTF-8); a
 * credential containing a NUL byte is refused with -1, since ids are C
 * strings. Returns 0, -1 (AuthFailed) or -ENOMEM; the set is unchanged on
 * failure. cred borrowed. */
int acl_auth_add_with_super(struct acl_auth *auth, const char *scheme,
                            const uint8_t *cred, size_t credlen,
                            const char *super_digest);
/* acl_auth_add_with_super with no super digest configured. */
int acl_auth_add(struct acl_auth *auth, const char *scheme, const uint8_t *cred, size_t credlen);
/* Adds a copy of (scheme, id) unless the set holds it. Returns 0 or -ENOMEM. */
int acl_auth_add_id(struct acl_auth *auth, const char *scheme, const char *id);
/* Frees the ids and leaves *auth empty; NULL-safe. */
void acl_auth_free(struct acl_auth *auth);

/* Frees the strings and the array; NULL-safe. */
void acl_entries_free(struct acl_entry *acl, size_t nacl);

/* For a getACL reply to a caller without ADMIN: in every "digest" entry,
 * each ':' and the rest of its line become ":x" (Java's
 * id.replaceAll(":.*", ":x")), so "u:Jq7w...=" reads "u:x". Other schemes
 * are left alone. Works in place on a list the caller owns; if memory runs
 * out, the id is cut after its first ':' instead, so no hash ever leaks. */
void acl_mask_digest(struct acl_entry *acl, size_t n);

#endif
