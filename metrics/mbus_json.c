/*
 * JSON writer and parser (see mbus_json.h). The parser makes two passes: the
 * first validates and counts nodes and string bytes, the second builds the
 * tree inside one block sized from those counts, so a request costs one
 * allocation and freeing it is one free.
 */
#include "mbus_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- writer */

void mbus_json_string_n(struct metrics_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    metrics_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        metrics_buf_append(b, s + start, i - start);
        start = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            break;
        }
        metrics_buf_puts(b, esc);
    }
    metrics_buf_append(b, s + start, n - start);
    metrics_buf_putc(b, '"');
}

void mbus_json_string(struct metrics_buf *b, const char *s)
{
    mbus_json_string_n(b, s ? s : "", s ? strlen(s) : 0);
}

void mbus_json_double(struct metrics_buf *b, double d)
{
    if (!isfinite(d)) {
        metrics_buf_puts(b, "null");
        return;
    }
    char tmp[40];
    if (d == (double)(int64_t)d && fabs(d) < 1e15) {
        /* Integral: plain digits and one decimal ("40.0"). */
        snprintf(tmp, sizeof tmp, "%.1f", d);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
    }
    metrics_buf_puts(b, tmp);
}

void mbus_json_int(struct metrics_buf *b, int64_t v)
{
    metrics_buf_printf(b, "%" PRId64, v);
}

/* ---------------------------------------------------------------- parser */

struct mbus_json_parser {
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    /* Second pass only. */
    struct mbus_json *nodes;
    size_t nnodes;
    char *strings;
    size_t nstrings;
    bool build;
    /* First pass counts. */
    size_t count_nodes, count_bytes;
};

static int mbus_json_fail(struct mbus_json_parser *ps, const char *what)
{
    snprintf(ps->err, ps->errlen, "bad JSON at byte %zu: %s", (size_t)(ps->p - ps->start), what);
    return -EINVAL;
}

static void mbus_json_ws(struct mbus_json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int mbus_json_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t mbus_json_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at ps->p (the opening quote). In the build pass the decoded
 * bytes go to the string area and *out points at them. */
static int mbus_json_string_parse(struct mbus_json_parser *ps, char **out, size_t *outlen)
{
    ps->p++;
    char *dst = ps->build ? ps->strings + ps->nstrings : NULL;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        char tmp[4];
        size_t k;
        if (c < 0x20)
            return mbus_json_fail(ps, "control character in a string");
        if (c != '\\') {
            tmp[0] = (char)c;
            k = 1;
            ps->p++;
        } else {
            if (ps->end - ps->p < 2)
                return mbus_json_fail(ps, "unfinished escape");
            char e = ps->p[1];
            ps->p += 2;
            k = 1;
            switch (e) {
            case '"': tmp[0] = '"'; break;
            case '\\': tmp[0] = '\\'; break;
            case '/': tmp[0] = '/'; break;
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                unsigned cp;
                if (ps->end - ps->p < 4 || mbus_json_hex4(ps->p, &cp) < 0)
                    return mbus_json_fail(ps, "bad \\u escape");
                ps->p += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    unsigned lo;
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                        mbus_json_hex4(ps->p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return mbus_json_fail(ps, "unpaired surrogate");
                    ps->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return mbus_json_fail(ps, "unpaired surrogate");
                }
                k = mbus_json_utf8(cp, tmp);
                break;
            }
            default:
                return mbus_json_fail(ps, "unknown escape");
            }
        }
        if (dst)
            memcpy(dst + n, tmp, k);
        n += k;
    }
    if (ps->p >= ps->end)
        return mbus_json_fail(ps, "unterminated string");
    ps->p++;
    if (dst) {
        dst[n] = '\0';
        ps->nstrings += n + 1;
        *out = dst;
        *outlen = n;
    } else {
        ps->count_bytes += n + 1;
    }
    return 0;
}

static struct mbus_json *mbus_json_node(struct mbus_json_parser *ps, enum mbus_json_type type)
{
    if (!ps->build) {
        ps->count_nodes++;
        return NULL;
    }
    struct mbus_json *n = &ps->nodes[ps->nnodes++];
    memset(n, 0, sizeof *n);
    n->type = type;
    return n;
}

static int mbus_json_value(struct mbus_json_parser *ps, int depth, struct mbus_json **out);

static int mbus_json_container(struct mbus_json_parser *ps, int depth, bool object, struct mbus_json *node)
{
    char close = object ? '}' : ']';
    ps->p++;
    mbus_json_ws(ps);
    struct mbus_json *last = NULL;
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t keylen = 0;
        mbus_json_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return mbus_json_fail(ps, "expected a member name");
            int rc = mbus_json_string_parse(ps, &key, &keylen);
            if (rc < 0)
                return rc;
            mbus_json_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return mbus_json_fail(ps, "expected ':'");
            ps->p++;
        }
        struct mbus_json *child = NULL;
        int rc = mbus_json_value(ps, depth + 1, &child);
        if (rc < 0)
            return rc;
        if (node) {
            child->key = key;
            if (last)
                last->next = child;
            else
                node->child = child;
            last = child;
            node->count++;
        }
        mbus_json_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 0;
        }
        return mbus_json_fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int mbus_json_number(struct mbus_json_parser *ps, struct mbus_json *node)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return mbus_json_fail(ps, "bad number");
    if (*q == '0')
        q++;
    else
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    bool integer = true;
    if (q < ps->end && *q == '.') {
        integer = false;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return mbus_json_fail(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return mbus_json_fail(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    ps->p = q;
    if (node) {
        char tmp[64];
        size_t n = (size_t)(q - s);
        if (n >= sizeof tmp)
            n = sizeof tmp - 1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        node->num = strtod(tmp, NULL);
        if (integer) {
            errno = 0;
            long long v = strtoll(tmp, NULL, 10);
            node->is_int = errno == 0;
            node->i = v;
        }
    }
    return 0;
}

static int mbus_json_value(struct mbus_json_parser *ps, int depth, struct mbus_json **out)
{
    if (depth > MBUS_JSON_MAX_DEPTH)
        return mbus_json_fail(ps, "nested too deeply");
    mbus_json_ws(ps);
    if (ps->p >= ps->end)
        return mbus_json_fail(ps, "unexpected end");
    char c = *ps->p;
    struct mbus_json *node;
    switch (c) {
    case '{':
    case '[':
        node = mbus_json_node(ps, c == '{' ? MBUS_JSON_OBJECT : MBUS_JSON_ARRAY);
        *out = node;
        return mbus_json_container(ps, depth, c == '{', node);
    case '"': {
        node = mbus_json_node(ps, MBUS_JSON_STRING);
        *out = node;
        char *s = NULL;
        size_t len = 0;
        int rc = mbus_json_string_parse(ps, &s, &len);
        if (rc == 0 && node) {
            node->s = s;
            node->len = len;
        }
        return rc;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t n = strlen(word);
        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
            return mbus_json_fail(ps, "unknown literal");
        ps->p += n;
        node = mbus_json_node(ps, c == 'n' ? MBUS_JSON_NULL : MBUS_JSON_BOOL);
        if (node)
            node->b = c == 't';
        *out = node;
        return 0;
    }
    default:
        node = mbus_json_node(ps, MBUS_JSON_NUMBER);
        *out = node;
        return mbus_json_number(ps, node);
    }
}

static int mbus_json_pass(struct mbus_json_parser *ps, const char *text, size_t len, struct mbus_json **root)
{
    ps->start = ps->p = text;
    ps->end = text + len;
    int rc = mbus_json_value(ps, 0, root);
    if (rc < 0)
        return rc;
    mbus_json_ws(ps);
    if (ps->p != ps->end)
        return mbus_json_fail(ps, "trailing characters");
    return 0;
}

struct mbus_json *mbus_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct mbus_json_parser ps = {.err = err, .errlen = errlen};
    struct mbus_json *root = NULL;
    if (mbus_json_pass(&ps, text, len, &root) < 0)
        return NULL;
    size_t nodes_size = ps.count_nodes * sizeof(struct mbus_json);
    char *block = malloc(nodes_size + ps.count_bytes + 1);
    if (block == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ps.build = true;
    ps.nodes = (struct mbus_json *)(void *)block;
    ps.strings = block + nodes_size;
    if (mbus_json_pass(&ps, text, len, &root) < 0) {
        free(block);
        return NULL;
    }
    return root; /* == nodes[0], the block's start */
}

void mbus_json_free(struct mbus_json *root)
{
    free(root);
}

const struct mbus_json *mbus_json_get(const struct mbus_json *obj, const char *key)
{
    if (obj == NULL || obj->type != MBUS_JSON_OBJECT)
        return NULL;
    for (const struct mbus_json *c = obj->child; c; c = c->next)
        if (c->key && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

const char *mbus_json_get_string(const struct mbus_json *obj, const char *key)
{
    const struct mbus_json *v = mbus_json_get(obj, key);
    return v && v->type == MBUS_JSON_STRING ? v->s : NULL;
}
