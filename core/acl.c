/*
 * ACL checks, ACL validation and the auth packet, following ZooKeeper 3.8's
 * checkACL, fixupACL and its digest and ip authentication providers; plus
 * the SHA-1 and base64 the digest scheme needs, so the core does not depend
 * on a crypto library for one hash.
 *
 * Java's own parsing rules are reproduced where they decide what is valid
 * (String.split dropping trailing empty fields, Integer.parseInt accepting a
 * sign), because a server that is stricter or looser than ZooKeeper answers
 * InvalidACL differently and stored ACLs stop matching.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-1)                                                        */
/* ------------------------------------------------------------------------ */

struct acl_sha1_ctx {
    uint32_t h[5];
    uint64_t total;   /* bytes hashed so far */
    uint8_t block[64];
    size_t used;      /* bytes waiting in block */
};

static uint32_t acl_rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void acl_sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = acl_rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t tmp = acl_rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = acl_rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void acl_sha1_init(struct acl_sha1_ctx *ctx)
{
    ctx->h[0] = 0x67452301;
    ctx->h[1] = 0xEFCDAB89;
    ctx->h[2] = 0x98BADCFE;
    ctx->h[3] = 0x10325476;
    ctx->h[4] = 0xC3D2E1F0;
    ctx->total = 0;
    ctx->used = 0;
}

static void acl_sha1_update(struct acl_sha1_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    ctx->total += len;
    if (ctx->used > 0) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64)
            return;
        acl_sha1_block(ctx->h, ctx->block);
        ctx->used = 0;
    }
    /* Whole blocks straight from the input: no copy for large messages. */
    for (; len >= 64; p += 64, len -= 64)
        acl_sha1_block(ctx->h, p);
    memcpy(ctx->block, p, len);
    ctx->used = len;
}

static void acl_sha1_final(struct acl_sha1_ctx *ctx, uint8_t out[20])
{
    uint64_t bits = ctx->total * 8;
    uint8_t pad[72] = {0x80};
    /* Pad to 56 mod 64, leaving room for the 64-bit length. */
    size_t padlen = ctx->used < 56 ? 56 - ctx->used : 120 - ctx->used;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    acl_sha1_update(ctx, pad, padlen + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
}

void acl_sha1(const void *data, size_t len, uint8_t out[20])
{
    struct acl_sha1_ctx ctx;
    acl_sha1_init(&ctx);
    acl_sha1_update(&ctx, data, len);
    acl_sha1_final(&ctx, out);
}

/* ------------------------------------------------------------------------ */
/* base64 (RFC 4648)                                                         */
/* ------------------------------------------------------------------------ */

void acl_base64(const uint8_t *data, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = '=';
    }
    *out = '\0';
}

/* ------------------------------------------------------------------------ */
/* digest scheme                                                             */
/* ------------------------------------------------------------------------ */

/* ZooKeeper's generateDigest on raw bytes: the user is the text before the
 * first ':' (all of it when there is none), the hash covers everything. */
static char *acl_digest_from_bytes(const uint8_t *cred, size_t len)
{
    const uint8_t *colon = memchr(cred, ':', len);
    size_t userlen = colon ? (size_t)(colon - cred) : len;
    uint8_t hash[20];
    acl_sha1(cred, len, hash);

    /* 20 bytes of SHA-1 are always 28 base64 characters. */
    char *id = malloc(userlen + 1 + 28 + 1);
    if (id == NULL)
        return NULL;
    memcpy(id, cred, userlen);
    id[userlen] = ':';
    acl_base64(hash, sizeof hash, id + userlen + 1);
    return id;
}

char *acl_digest_generate(const char *user_password)
{
    if (user_password == NULL || strchr(user_password, ':') == NULL)
        return NULL;
    return acl_digest_from_bytes((const uint8_t *)user_password, strlen(user_password));
}

/* DigestAuthenticationProvider.isValid: id.split(":").length == 2, where
 * Java drops trailing empty fields ("u:h::" has two fields, "u:" one). */
static bool acl_digest_id_valid(const char *id)
{
    size_t len = strlen(id);
    while (len > 0 && id[len - 1] == ':')
        len--;
    if (len == 0)
        return false;   /* "" splits to one field; ":::" to none */
    size_t colons = 0;
    for (size_t i = 0; i < len; i++)
        colons += id[i] == ':';
    return colons == 1;
}

/* ------------------------------------------------------------------------ */
/* ip scheme                                                                 */
/* ------------------------------------------------------------------------ */

/* Integer.parseInt on s[0..len): an optional sign, then ASCII digits, within
 * int range. (Java also accepts non-ASCII Unicode digits; no client sends
 * those in an address.) */
static bool acl_parse_java_int(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    size_t i = 0;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return false;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return false;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX)
        return false;
    *out = v;
    return true;
}

/* ZooKeeper's v4addr2Bytes: exactly four '.'-separated Java ints 0..255. */
static bool acl_parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t start = 0;
    int part = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        int64_t v;
        if (part == 4 || !acl_parse_java_int(s + start, i - start, &v) || v < 0 || v > 255)
            return false;
        out[part++] = (uint8_t)v;
        start = i + 1;
    }
    return part == 4;
}

/* An address as 4 or 16 bytes; *alen 0 when it is neither. */
static void acl_parse_addr(const char *s, size_t len, uint8_t out[16], size_t *alen)
{
    *alen = 0;
    if (acl_parse_v4(s, len, out)) {
        *alen = 4;
        return;
    }
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof buf || memchr(s, ':', len) == NULL)
        return;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, out) == 1)
        *alen = 16;
}

/* "address" or "address/bits" (split on the first '/', as ZooKeeper does,
 * so "a/8/9" has bits "8/9" and is refused). */
static bool acl_parse_cidr(const char *expr, uint8_t addr[16], size_t *alen, int *bits)
{
    const char *slash = strchr(expr, '/');
    size_t len = slash ? (size_t)(slash - expr) : strlen(expr);
    acl_parse_addr(expr, len, addr, alen);
    if (*alen == 0)
        return false;
    *bits = (int)(*alen * 8);
    if (slash) {
        int64_t v;
        if (!acl_parse_java_int(slash + 1, strlen(slash + 1), &v) || v < 0 ||
            v > (int64_t)(*alen * 8))
            return false;
        *bits = (int)v;
    }
    return true;
}

static void acl_mask_bits(uint8_t *addr, size_t alen, int bits)
{
    for (size_t i = 0; i < alen; i++) {
        int keep = bits - (int)(i * 8);
        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (uint8_t)(0xFF << (8 - keep));
    }
}

static bool acl_ip_matches(const char *want, const char *have)
{
    uint8_t net[16], addr[16];
    size_t netlen, addrlen;
    int bits;
    if (!acl_parse_cidr(want, net, &netlen, &bits))
        return false;
    acl_parse_addr(have, strlen(have), addr, &addrlen);
    if (addrlen != netlen)
        return false;
    acl_mask_bits(net, netlen, bits);
    acl_mask_bits(addr, addrlen, bits);
    return memcmp(net, addr, netlen) == 0;
}

static bool acl_ip_id_valid(const char *id)
{
    uint8_t addr[16];
    size_t alen;
    int bits;
    return acl_parse_cidr(id, addr, &alen, &bits);
}

/* ------------------------------------------------------------------------ */
/* Matching and checking                                                     */
/* ------------------------------------------------------------------------ */

static bool acl_str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool acl_is_world_anyone(const struct acl_id *id)
{
    return acl_str_eq(id->scheme, "world") && acl_str_eq(id->id, "anyone");
}

bool acl_id_matches(const struct acl_id *want, const struct acl_id *have)
{
    if (want == NULL || want->scheme == NULL || want->id == NULL)
        return false;
    if (acl_is_world_anyone(want))
        return true;
    if (have == NULL || have->id == NULL || !acl_str_eq(want->scheme, have->scheme))
        return false;
    if (strcmp(want->scheme, "ip") == 0)
        return acl_ip_matches(want->id, have->id);
    if (strcmp(want->scheme, "digest") == 0 || strcmp(want->scheme, "auth") == 0 ||
        strcmp(want->scheme, "super") == 0)
        return strcmp(want->id, have->id) == 0;
    return false;
}

bool acl_check(const struct acl_entry *acl, size_t nacl, int32_t perm,
               const struct acl_auth *auth, const char *super_digest)
{
    if (acl == NULL || nacl == 0)
        return true;
    size_t nids = auth ? auth->nids : 0;
    for (size_t i = 0; i < nids; i++) {
        const struct acl_id *have = &auth->ids[i];
        if (acl_str_eq(have->scheme, "super"))
            return true;
        /* ZooKeeper grants this through the ("super", "") id added at auth
         * time; checking here too covers a set built without the digest. */
        if (super_digest && acl_str_eq(have->scheme, "digest") &&
            acl_str_eq(have->id, super_digest))
            return true;
    }
    for (size_t i = 0; i < nacl; i++) {
        if ((acl[i].perms & perm) == 0)
            continue;
        if (acl_is_world_anyone(&acl[i].id))
            return true;
        for (size_t j = 0; j < nids; j++)
            if (acl_id_matches(&acl[i].id, &auth->ids[j]))
                return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Validation of create/setACL lists                                         */
/* ------------------------------------------------------------------------ */

static bool acl_entry_eq(const struct acl_entry *a, const struct acl_entry *b)
{
    return a->perms == b->perms && acl_str_eq(a->id.scheme, b->id.scheme) &&
           acl_str_eq(a->id.id, b->id.id);
}

static int acl_entry_copy(struct acl_entry *dst, int32_t perms, const struct acl_id *id)
{
    dst->perms = perms;
    dst->id.scheme = strdup(id->scheme);
    dst->id.id = strdup(id->id);
    if (dst->id.scheme == NULL || dst->id.id == NULL) {
        free(dst->id.scheme);
        free(dst->id.id);
        dst->id.scheme = dst->id.id = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Only "digest" has a provider that says isAuthenticated(). */
static size_t acl_count_authenticated(const struct acl_auth *auth)
{
    size_t n = 0;
    for (size_t i = 0; auth && i < auth->nids; i++)
        n += acl_str_eq(auth->ids[i].scheme, "digest") && auth->ids[i].id != NULL;
    return n;
}

static bool acl_id_valid_for_scheme(const struct acl_id *id)
{
    if (strcmp(id->scheme, "digest") == 0)
        return acl_digest_id_valid(id->id);
    if (strcmp(id->scheme, "ip") == 0)
        return acl_ip_id_valid(id->id);
    return false;
}

int acl_fixup(const struct acl_entry *acl, size_t nacl, const struct acl_auth *auth,
              struct acl_entry **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (acl == NULL || nacl == 0)
        return -1;

    /* Validate and size first, so the output is allocated once. */
    size_t nauthed = acl_count_authenticated(auth);
    size_t total = 0;
    for (size_t i = 0; i < nacl; i++) {
        const struct acl_id *id = &acl[i].id;
        if (id->scheme == NULL || id->id == NULL)
            return -1;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = acl_entry_eq(&acl[i], &acl[j]);
        if (dup)
            continue;
        if (acl_is_world_anyone(id)) {
            total++;
        } else if (strcmp(id->scheme, "auth") == 0) {
            if (nauthed == 0)
                return -1;
            total += nauthed;
        } else if (acl_id_valid_for_scheme(id)) {
            total++;
        } else {
            return -1;
        }
    }

    struct acl_entry *list = calloc(total, sizeof *list);
    if (list == NULL)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nacl; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = acl_entry_eq(&acl[i], &acl[j]);
        if (dup)
            continue;
        if (strcmp(acl[i].id.scheme, "auth") != 0) {
            if (acl_entry_copy(&list[n], acl[i].perms, &acl[i].id) != 0)
                goto fail;
            n++;
            continue;
        }
        for (size_t j = 0; j < auth->nids; j++) {
            if (!acl_str_eq(auth->ids[j].scheme, "digest") || auth->ids[j].id == NULL)
                continue;
            if (acl_entry_copy(&list[n], acl[i].perms, &auth->ids[j]) != 0)
                goto fail;
            n++;
        }
    }
    *out = list;
    *nout = n;
    return 0;

fail:
    acl_entries_free(list, n);
    return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Connection identities                                                     */
/* ------------------------------------------------------------------------ */

static bool acl_auth_has(const struct acl_auth *auth, const char *scheme, const char *id)
{
    for (size_t i = 0; i < auth->nids; i++)
        if (acl_str_eq(auth->ids[i].scheme, scheme) && acl_str_eq(auth->ids[i].id, id))
            return true;
    return false;
}

/* Takes scheme and id (malloc'ed) on success and on failure alike. */
static int acl_auth_push(struct acl_auth *auth, char *scheme, char *id)
{
    if (scheme == NULL || id == NULL)
        goto fail;
    if (acl_auth_has(auth, scheme, id)) {
        free(scheme);
        free(id);
        return 0;
    }
    struct acl_id *ids = realloc(auth->ids, (auth->nids + 1) * sizeof *ids);
    if (ids == NULL)
        goto fail;
    ids[auth->nids].scheme = scheme;
    ids[auth->nids].id = id;
    auth->ids = ids;
    auth->nids++;
    return 0;

fail:
    free(scheme);
    free(id);
    return -ENOMEM;
}

int acl_auth_add_id(struct acl_auth *auth, const char *scheme, const char *id)
{
    return acl_auth_push(auth, strdup(scheme), strdup(id));
}

int acl_auth_add_with_super(struct acl_auth *auth, const char *scheme,
                            const uint8_t *cred, size_t credlen,
                            const char *super_digest)
{
    if (scheme == NULL)
        return -1;
    if (strcmp(scheme, "ip") == 0)
        return 0;
    if (strcmp(scheme, "digest") != 0)
        return -1;
    if (credlen > 0 && (cred == NULL || memchr(cred, '\0', credlen) != NULL))
        return -1;

    static const uint8_t empty[1];
    char *digest = acl_digest_from_bytes(credlen ? cred : empty, credlen);
    if (digest == NULL)
        return -ENOMEM;
    bool is_super = acl_str_eq(digest, super_digest);
    size_t before = auth->nids;
    if (is_super && acl_auth_push(auth, strdup("super"), strdup("")) != 0) {
        free(digest);
        return -ENOMEM;
    }
    if (acl_auth_push(auth, strdup("digest"), digest) != 0) {
        /* Undo the super id so a failed packet grants nothing. */
        while (auth->nids > before) {
            auth->nids--;
            free(auth->ids[auth->nids].scheme);
            free(auth->ids[auth->nids].id);
        }
        return -ENOMEM;
    }
    return 0;
}

int acl_auth_add(struct acl_auth *auth, const char *scheme, const uint8_t *cred, size_t credlen)
{
    return acl_auth_add_with_super(auth, scheme, cred, credlen, NULL);
}

void acl_auth_free(struct acl_auth *auth)
{
    if (auth == NULL)
        return;
    for (size_t i = 0; i < auth->nids; i++) {
        free(auth->ids[i].scheme);
        free(auth->ids[i].id);
    }
    free(auth->ids);
    auth->ids = NULL;
    auth->nids = 0;
}

void acl_entries_free(struct acl_entry *acl, size_t nacl)
{
    if (acl == NULL)
        return;
    for (size_t i = 0; i < nacl; i++) {
        free(acl[i].id.scheme);
        free(acl[i].id.id);
    }
    free(acl);
}

/* ------------------------------------------------------------------------ */
/* getACL masking                                                            */
/* ------------------------------------------------------------------------ */

/* Length of the line terminator at s (Java regex '.' stops at \n, \r,
 * U+0085, U+2028 and U+2029), or 0. */
static size_t acl_line_terminator(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == '\n' || u[0] == '\r')
        return 1;
    if (u[0] == 0xC2 && u[1] == 0x85)
        return 2;
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9))
        return 3;
    return 0;
}

static char *acl_mask_one(const char *id)
{
    /* Each ':' grows by at most one character (":" -> ":x"). */
    char *out = malloc(2 * strlen(id) + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    const char *s = id;
    while (*s) {
        if (*s != ':') {
            *o++ = *s++;
            continue;
        }
        *o++ = ':';
        *o++ = 'x';
        for (s++; *s && acl_line_terminator(s) == 0; s++)
            ;
    }
    *o = '\0';
    return out;
}

void acl_mask_digest(struct acl_entry *acl, size_t n)
{
    for (size_t i = 0; acl && i < n; i++) {
        char *id = acl[i].id.id;
        if (!acl_str_eq(acl[i].id.scheme, "digest") || id == NULL || !strchr(id, ':'))
            continue;
        char *masked = acl_mask_one(id);
        if (masked == NULL) {
            strchr(id, ':')[1] = '\0';
            continue;
        }
        free(id);
        acl[i].id.id = masked;
    }
}
