/*
 * The bean registry (see mbean.h): a sorted array of beans, binary search by
 * name, one listener for events. Registration allocates; reading a bean does
 * not, beyond the caller's scratch buffer.
 */
#include "mbean.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mbean **mbean_beans;
static size_t mbean_nbeans, mbean_cap;
static mbean_listener_cb mbean_listener;
static void *mbean_listener_arg;

/* Index of name, or where it would go (*found false). */
static size_t mbean_search(const char *name, bool *found)
{
    size_t lo = 0, hi = mbean_nbeans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(mbean_beans[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void mbean_emit(const struct mbean_event *ev)
{
    if (mbean_listener)
        mbean_listener(mbean_listener_arg, ev);
}

int mbean_register(const char *name, const struct mbean_desc *desc, void *obj)
{
    size_t dlen = strlen(MBEAN_DOMAIN);
    if (name == NULL || desc == NULL || strncmp(name, MBEAN_DOMAIN ":", dlen + 1) != 0 || name[dlen + 1] == '\0')
        return -EINVAL;
    bool found;
    size_t at = mbean_search(name, &found);
    if (found)
        return -EEXIST;
    if (mbean_nbeans == mbean_cap) {
        size_t cap = mbean_cap ? mbean_cap * 2 : 32;
        struct mbean **n = realloc(mbean_beans, cap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        mbean_beans = n;
        mbean_cap = cap;
    }
    struct mbean *b = calloc(1, sizeof *b);
    if (b == NULL || (b->name = strdup(name)) == NULL) {
        free(b);
        return -ENOMEM;
    }
    b->desc = desc;
    b->obj = obj;
    memmove(&mbean_beans[at + 1], &mbean_beans[at], (mbean_nbeans - at) * sizeof *mbean_beans);
    mbean_beans[at] = b;
    mbean_nbeans++;
    struct mbean_event ev = {.type = MBEAN_EVENT_REGISTERED, .bean = b, .name = b->name};
    mbean_emit(&ev);
    return 0;
}

static void mbean_remove_at(size_t at)
{
    struct mbean *b = mbean_beans[at];
    struct mbean_event ev = {.type = MBEAN_EVENT_UNREGISTERED, .bean = b, .name = b->name};
    mbean_emit(&ev);
    memmove(&mbean_beans[at], &mbean_beans[at + 1], (mbean_nbeans - at - 1) * sizeof *mbean_beans);
    mbean_nbeans--;
    free(b->published);
    free(b->name);
    free(b);
}

int mbean_unregister(const char *name)
{
    bool found;
    size_t at = mbean_search(name, &found);
    if (!found)
        return -ENOENT;
    mbean_remove_at(at);
    return 0;
}

size_t mbean_unregister_prefix(const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (size_t i = mbean_nbeans; i-- > 0;)
        if (strncmp(mbean_beans[i]->name, prefix, len) == 0) {
            mbean_remove_at(i);
            n++;
        }
    return n;
}

void mbean_clear(void)
{
    while (mbean_nbeans > 0)
        mbean_remove_at(mbean_nbeans - 1);
    free(mbean_beans);
    mbean_beans = NULL;
    mbean_cap = 0;
}

struct mbean *mbean_find(const char *name)
{
    bool found;
    size_t at = mbean_search(name, &found);
    return found ? mbean_beans[at] : NULL;
}

size_t mbean_count(void)
{
    return mbean_nbeans;
}

struct mbean *mbean_at(size_t i)
{
    return i < mbean_nbeans ? mbean_beans[i] : NULL;
}

bool mbean_name_matches(const char *pattern, const char *name)
{
    if (pattern == NULL || *pattern == '\0')
        return true;
    if (strpbrk(pattern, "*?") != NULL)
        return fnmatch(pattern, name, FNM_NOESCAPE) == 0;
    return strncmp(name, pattern, strlen(pattern)) == 0;
}

void mbean_foreach_attr(struct mbean *b, mbean_attr_visit_fn fn, void *ctx, struct metrics_buf *scratch)
{
    const struct mbean_desc *d = b->desc;
    for (size_t i = 0; i < d->nattrs; i++) {
        const struct mbean_attr_desc *a = &d->attrs[i];
        struct mbean_value v = {.type = a->type, .kind = a->kind};
        metrics_buf_reset(scratch);
        if (a->get(b->obj, &v, scratch) < 0)
            v = (struct mbean_value){.type = MBEAN_NULL};
        fn(ctx, a->name, &v, a->set != NULL);
    }
    if (d->extra)
        d->extra(b->obj, fn, ctx);
}

const struct mbean_attr_desc *mbean_find_attr_desc(const struct mbean *b, const char *attr)
{
    for (size_t i = 0; i < b->desc->nattrs; i++)
        if (strcmp(b->desc->attrs[i].name, attr) == 0)
            return &b->desc->attrs[i];
    return NULL;
}

struct mbean_get_extra {
    const char *name;
    struct mbean_value *out;
    struct metrics_buf *scratch;
    bool found;
};

static void mbean_get_extra_visit(void *ctx, const char *name, const struct mbean_value *v, bool writable)
{
    struct mbean_get_extra *g = ctx;
    (void)writable;
    if (g->found || strcmp(name, g->name) != 0)
        return;
    *g->out = *v;
    g->found = true;
    if (v->type == MBEAN_STRING || v->type == MBEAN_STRINGS) {
        /* The visitor's strings live only during the visit. */
        size_t len = 0;
        for (size_t k = 0, n = v->type == MBEAN_STRINGS ? v->n : 1; k < n; k++)
            len += strlen(v->s + len) + 1;
        metrics_buf_reset(g->scratch);
        metrics_buf_append(g->scratch, v->s, len);
        g->out->s = g->scratch->oom ? "" : g->scratch->data;
    }
}

int mbean_get_attr(struct mbean *b, const char *attr, struct mbean_value *out, bool *writable,
                   struct metrics_buf *scratch)
{
    const struct mbean_attr_desc *a = mbean_find_attr_desc(b, attr);
    if (a != NULL) {
        *out = (struct mbean_value){.type = a->type, .kind = a->kind};
        metrics_buf_reset(scratch);
        if (writable)
            *writable = a->set != NULL;
        return a->get(b->obj, out, scratch);
    }
    if (b->desc->extra == NULL)
        return -ENOENT;
    struct mbean_get_extra g = {.name = attr, .out = out, .scratch = scratch};
    b->desc->extra(b->obj, mbean_get_extra_visit, &g);
    if (writable)
        *writable = false;
    return g.found ? 0 : -ENOENT;
}

int mbean_set_attr(struct mbean *b, const char *attr, const struct mbean_value *in, char *err, size_t errlen)
{
    const struct mbean_attr_desc *a = mbean_find_attr_desc(b, attr);
    if (a == NULL) {
        struct metrics_buf scratch;
        metrics_buf_init(&scratch);
        struct mbean_value v;
        int rc = mbean_get_attr(b, attr, &v, NULL, &scratch);
        metrics_buf_free(&scratch);
        snprintf(err, errlen, rc == 0 ? "attribute %s is read-only" : "no attribute %s", attr);
        return rc == 0 ? -EPERM : -ENOENT;
    }
    if (a->set == NULL) {
        snprintf(err, errlen, "attribute %s is read-only", attr);
        return -EPERM;
    }
    if (in->type != a->type) {
        snprintf(err, errlen, "attribute %s: wrong type", attr);
        return -EINVAL;
    }
    return a->set(b->obj, in, err, errlen);
}

int mbean_invoke(struct mbean *b, const char *op, struct mbean_value *result, struct metrics_buf *scratch,
                 char *err, size_t errlen)
{
    for (size_t i = 0; i < b->desc->nops; i++) {
        const struct mbean_op_desc *o = &b->desc->ops[i];
        if (strcmp(o->name, op) != 0)
            continue;
        *result = (struct mbean_value){.type = MBEAN_NULL};
        metrics_buf_reset(scratch);
        return o->invoke(b->obj, result, scratch, err, errlen);
    }
    snprintf(err, errlen, "no operation %s", op);
    return -ENOENT;
}

void mbean_set_listener(mbean_listener_cb cb, void *arg)
{
    mbean_listener = cb;
    mbean_listener_arg = arg;
}

void mbean_notify_state(const char *name, const char *state, const char *previous)
{
    struct mbean_event ev = {.type = MBEAN_EVENT_STATE, .bean = mbean_find(name), .name = name, .state = state,
                             .previous = previous};
    mbean_emit(&ev);
}

void mbean_notify_leader(const char *name, int64_t leader)
{
    struct mbean_event ev = {.type = MBEAN_EVENT_LEADER_ELECTED, .bean = mbean_find(name), .name = name,
                             .leader = leader};
    mbean_emit(&ev);
}

int mbean_make_name(char *out, size_t outlen, const char *const *parts, size_t nparts)
{
    int len = snprintf(out, outlen, "%s:", MBEAN_DOMAIN);
    for (size_t i = 0; i < nparts && len >= 0 && (size_t)len < outlen; i++)
        len += snprintf(out + len, outlen - (size_t)len, "%sname%zu=%s", i ? "," : "", i, parts[i]);
    if (len < 0 || (size_t)len >= outlen)
        return -ENAMETOOLONG;
    return len;
}

void mbean_quote(char *out, size_t outlen, const char *value)
{
    size_t o = 0;
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (const char *p = value; *p && o + 3 < outlen; p++) {
        char c = *p;
        if (c == '"' || c == '*' || c == '?' || c == '\\') {
            out[o++] = '\\';
            out[o++] = c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}
