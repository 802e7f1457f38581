/*
 * Bus message encoding and query dispatch (see mbus_msg.h and
 * docs/metrics.md for the shapes).
 */
#include "mbus_msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbus_json.h"

const char *mbus_type_name(enum mbean_type t)
{
    switch (t) {
    case MBEAN_NULL: return "null";
    case MBEAN_INT: return "int";
    case MBEAN_DOUBLE: return "double";
    case MBEAN_BOOL: return "bool";
    case MBEAN_STRING: return "string";
    case MBEAN_STRINGS: return "strings";
    case MBEAN_SUMMARY: return "summary";
    }
    return "null";
}

const char *mbus_kind_name(enum mbean_kind k)
{
    switch (k) {
    case MBEAN_KIND_COUNTER: return "counter";
    case MBEAN_KIND_GAUGE: return "gauge";
    case MBEAN_KIND_ATTRIBUTE: break;
    }
    return "attribute";
}

void mbus_encode_value(struct metrics_buf *out, const struct mbean_value *v)
{
    switch (v->type) {
    case MBEAN_NULL:
        metrics_buf_puts(out, "null");
        break;
    case MBEAN_INT:
        mbus_json_int(out, v->i);
        break;
    case MBEAN_DOUBLE:
        mbus_json_double(out, v->d);
        break;
    case MBEAN_BOOL:
        metrics_buf_puts(out, v->b ? "true" : "false");
        break;
    case MBEAN_STRING:
        mbus_json_string(out, v->s);
        break;
    case MBEAN_STRINGS: {
        metrics_buf_putc(out, '[');
        const char *s = v->s;
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                metrics_buf_putc(out, ',');
            mbus_json_string(out, s);
            s += strlen(s) + 1;
        }
        metrics_buf_putc(out, ']');
        break;
    }
    case MBEAN_SUMMARY: {
        struct metrics_summary_stats st;
        metrics_summary_read(v->summary, &st);
        metrics_buf_printf(out, "{\"count\":%" PRId64 ",\"sum\":%" PRId64 ",\"min\":%" PRId64 ",\"max\":%" PRId64
                                ",\"avg\":",
                           st.count, st.sum, st.min, st.max);
        mbus_json_double(out, st.avg);
        if (v->summary->level == METRICS_SUMMARY_ADVANCED)
            metrics_buf_printf(out, ",\"p50\":%" PRId64 ",\"p95\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64
                                    ",\"window\":%" PRIu32,
                               st.p50, st.p95, st.p99, st.p999, st.window);
        metrics_buf_putc(out, '}');
        break;
    }
    }
}

struct mbus_attr_writer {
    struct metrics_buf *out;
    size_t n;
};

static void mbus_attr_write(void *ctx, const char *name, const struct mbean_value *v, bool writable)
{
    struct mbus_attr_writer *w = ctx;
    (void)writable;
    if (w->n++)
        metrics_buf_putc(w->out, ',');
    mbus_json_string(w->out, name);
    metrics_buf_putc(w->out, ':');
    mbus_encode_value(w->out, v);
}

void mbus_encode_attributes(struct metrics_buf *out, struct mbean *b, struct metrics_buf *scratch)
{
    struct mbus_attr_writer w = {.out = out};
    metrics_buf_putc(out, '{');
    mbean_foreach_attr(b, mbus_attr_write, &w, scratch);
    metrics_buf_putc(out, '}');
}

static void mbus_encode_head(struct metrics_buf *out, const char *name, const char *kind, uint64_t seq,
                             int64_t time_ms)
{
    metrics_buf_puts(out, name);
    metrics_buf_printf(out, " {\"v\":%d,\"kind\":\"%s\",\"seq\":%" PRIu64 ",\"time\":%" PRId64 ",\"bean\":",
                       MBUS_PROTOCOL_VERSION, kind, seq, time_ms);
    mbus_json_string(out, name);
}

void mbus_encode_update(struct metrics_buf *out, const struct mbean *b, const char *attrs, size_t attrs_len,
                        uint64_t seq, int64_t time_ms)
{
    mbus_encode_head(out, b->name, "update", seq, time_ms);
    metrics_buf_puts(out, ",\"type\":");
    mbus_json_string(out, b->desc->type);
    metrics_buf_puts(out, ",\"attributes\":");
    metrics_buf_append(out, attrs, attrs_len);
    metrics_buf_putc(out, '}');
}

void mbus_encode_event(struct metrics_buf *out, const struct mbean_event *ev, struct metrics_buf *scratch,
                       uint64_t seq, int64_t time_ms)
{
    switch (ev->type) {
    case MBEAN_EVENT_REGISTERED:
    case MBEAN_EVENT_UNREGISTERED:
        mbus_encode_head(out, ev->name, ev->type == MBEAN_EVENT_REGISTERED ? "registered" : "unregistered", seq,
                         time_ms);
        metrics_buf_puts(out, ",\"type\":");
        mbus_json_string(out, ev->bean->desc->type);
        if (ev->type == MBEAN_EVENT_REGISTERED) {
            metrics_buf_puts(out, ",\"attributes\":");
            mbus_encode_attributes(out, (struct mbean *)ev->bean, scratch);
        }
        break;
    case MBEAN_EVENT_STATE:
        mbus_encode_head(out, ev->name, "state", seq, time_ms);
        metrics_buf_puts(out, ",\"state\":");
        mbus_json_string(out, ev->state);
        metrics_buf_puts(out, ",\"previous\":");
        if (ev->previous)
            mbus_json_string(out, ev->previous);
        else
            metrics_buf_puts(out, "null");
        break;
    case MBEAN_EVENT_LEADER_ELECTED:
        mbus_encode_head(out, ev->name, "leader_elected", seq, time_ms);
        metrics_buf_printf(out, ",\"leader\":%" PRId64, ev->leader);
        break;
    }
    metrics_buf_putc(out, '}');
}

/* ----------------------------------------------------------------- queries */

struct mbus_reply {
    struct metrics_buf *out;
    const struct mbus_json *id;
};

static void mbus_reply_id(struct metrics_buf *out, const struct mbus_json *id)
{
    metrics_buf_puts(out, ",\"id\":");
    if (id == NULL) {
        metrics_buf_puts(out, "null");
        return;
    }
    switch (id->type) {
    case MBUS_JSON_STRING: mbus_json_string_n(out, id->s, id->len); break;
    case MBUS_JSON_NUMBER:
        if (id->is_int)
            mbus_json_int(out, id->i);
        else
            mbus_json_double(out, id->num);
        break;
    case MBUS_JSON_BOOL: metrics_buf_puts(out, id->b ? "true" : "false"); break;
    default: metrics_buf_puts(out, "null"); break;
    }
}

static void mbus_reply_error(struct mbus_reply *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mbus_reply_error(struct mbus_reply *r, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    metrics_buf_reset(r->out);
    metrics_buf_printf(r->out, "{\"v\":%d", MBUS_PROTOCOL_VERSION);
    mbus_reply_id(r->out, r->id);
    metrics_buf_puts(r->out, ",\"ok\":false,\"error\":{\"code\":");
    mbus_json_string(r->out, code);
    metrics_buf_puts(r->out, ",\"message\":");
    mbus_json_string(r->out, msg);
    metrics_buf_puts(r->out, "}}");
}

static void mbus_reply_ok(struct mbus_reply *r)
{
    metrics_buf_printf(r->out, "{\"v\":%d", MBUS_PROTOCOL_VERSION);
    mbus_reply_id(r->out, r->id);
    metrics_buf_puts(r->out, ",\"ok\":true");
}

struct mbus_attr_meta {
    struct metrics_buf *out;
    size_t n;
    const struct mbean *bean;
};

static void mbus_attr_meta(void *ctx, const char *name, const struct mbean_value *v, bool writable)
{
    struct mbus_attr_meta *m = ctx;
    const struct mbean_attr_desc *d = mbean_find_attr_desc(m->bean, name);
    if (m->n++)
        metrics_buf_putc(m->out, ',');
    metrics_buf_puts(m->out, "{\"name\":");
    mbus_json_string(m->out, name);
    metrics_buf_printf(m->out, ",\"type\":\"%s\",\"kind\":\"%s\",\"writable\":%s}",
                       mbus_type_name(d ? d->type : v->type), mbus_kind_name(d ? d->kind : v->kind),
                       writable ? "true" : "false");
}

static void mbus_query_list(struct mbus_reply *r, const struct mbus_json *req)
{
    const struct mbus_json *pat = mbus_json_get(req, "pattern");
    if (pat && pat->type != MBUS_JSON_STRING && pat->type != MBUS_JSON_NULL) {
        mbus_reply_error(r, "bad_request", "pattern must be a string");
        return;
    }
    const struct mbus_json *detail = mbus_json_get(req, "detail");
    bool full = detail && detail->type == MBUS_JSON_BOOL && detail->b;
    struct metrics_buf scratch;
    metrics_buf_init(&scratch);
    mbus_reply_ok(r);
    metrics_buf_puts(r->out, ",\"beans\":[");
    size_t n = 0;
    for (size_t i = 0; i < mbean_count(); i++) {
        struct mbean *b = mbean_at(i);
        if (!mbean_name_matches(pat && pat->type == MBUS_JSON_STRING ? pat->s : NULL, b->name))
            continue;
        if (n++)
            metrics_buf_putc(r->out, ',');
        metrics_buf_puts(r->out, "{\"name\":");
        mbus_json_string(r->out, b->name);
        metrics_buf_puts(r->out, ",\"type\":");
        mbus_json_string(r->out, b->desc->type);
        if (full) {
            metrics_buf_puts(r->out, ",\"attributes\":[");
            struct mbus_attr_meta m = {.out = r->out, .bean = b};
            mbean_foreach_attr(b, mbus_attr_meta, &m, &scratch);
            metrics_buf_puts(r->out, "],\"operations\":[");
            for (size_t k = 0; k < b->desc->nops; k++) {
                if (k)
                    metrics_buf_putc(r->out, ',');
                metrics_buf_puts(r->out, "{\"name\":");
                mbus_json_string(r->out, b->desc->ops[k].name);
                metrics_buf_puts(r->out, ",\"description\":");
                mbus_json_string(r->out, b->desc->ops[k].description);
                metrics_buf_putc(r->out, '}');
            }
            metrics_buf_putc(r->out, ']');
        }
        metrics_buf_putc(r->out, '}');
    }
    metrics_buf_puts(r->out, "]}");
    metrics_buf_free(&scratch);
}

static struct mbean *mbus_query_bean(struct mbus_reply *r, const struct mbus_json *req)
{
    const char *name = mbus_json_get_string(req, "bean");
    if (name == NULL) {
        mbus_reply_error(r, "bad_request", "\"bean\" (a bean name) is required");
        return NULL;
    }
    struct mbean *b = mbean_find(name);
    if (b == NULL)
        mbus_reply_error(r, "not_found", "no bean %s", name);
    return b;
}

static void mbus_query_get(struct mbus_reply *r, const struct mbus_json *req)
{
    struct mbean *b = mbus_query_bean(r, req);
    if (b == NULL)
        return;
    const struct mbus_json *want = mbus_json_get(req, "attributes");
    if (want && want->type != MBUS_JSON_ARRAY && want->type != MBUS_JSON_NULL) {
        mbus_reply_error(r, "bad_request", "attributes must be an array of names");
        return;
    }
    struct metrics_buf scratch;
    metrics_buf_init(&scratch);
    mbus_reply_ok(r);
    metrics_buf_puts(r->out, ",\"bean\":");
    mbus_json_string(r->out, b->name);
    metrics_buf_puts(r->out, ",\"type\":");
    mbus_json_string(r->out, b->desc->type);
    metrics_buf_puts(r->out, ",\"attributes\":");
    if (want == NULL || want->type == MBUS_JSON_NULL) {
        mbus_encode_attributes(r->out, b, &scratch);
    } else {
        metrics_buf_putc(r->out, '{');
        size_t n = 0;
        for (const struct mbus_json *a = want->child; a; a = a->next) {
            struct mbean_value v;
            if (a->type != MBUS_JSON_STRING) {
                mbus_reply_error(r, "bad_request", "attributes must be an array of names");
                goto done;
            }
            if (mbean_get_attr(b, a->s, &v, NULL, &scratch) < 0) {
                mbus_reply_error(r, "not_found", "bean %s has no attribute %s", b->name, a->s);
                goto done;
            }
            if (n++)
                metrics_buf_putc(r->out, ',');
            mbus_json_string(r->out, a->s);
            metrics_buf_putc(r->out, ':');
            mbus_encode_value(r->out, &v);
        }
        metrics_buf_putc(r->out, '}');
    }
    metrics_buf_putc(r->out, '}');
done:
    metrics_buf_free(&scratch);
}

/* A JSON value converted to an attribute's type: 0 or -EINVAL. */
static int mbus_convert(const struct mbus_json *j, enum mbean_type type, struct mbean_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    char *end;
    switch (type) {
    case MBEAN_INT:
        if (j->type == MBUS_JSON_NUMBER && j->is_int) {
            v->i = j->i;
            return 0;
        }
        if (j->type == MBUS_JSON_STRING && j->len > 0) {
            errno = 0;
            long long x = strtoll(j->s, &end, 10);
            if (errno == 0 && *end == '\0') {
                v->i = x;
                return 0;
            }
        }
        return -EINVAL;
    case MBEAN_DOUBLE:
        if (j->type == MBUS_JSON_NUMBER) {
            v->d = j->num;
            return 0;
        }
        if (j->type == MBUS_JSON_STRING && j->len > 0) {
            v->d = strtod(j->s, &end);
            return *end == '\0' ? 0 : -EINVAL;
        }
        return -EINVAL;
    case MBEAN_BOOL:
        if (j->type == MBUS_JSON_BOOL) {
            v->b = j->b;
            return 0;
        }
        if (j->type == MBUS_JSON_STRING && (strcmp(j->s, "true") == 0 || strcmp(j->s, "false") == 0)) {
            v->b = j->s[0] == 't';
            return 0;
        }
        return -EINVAL;
    case MBEAN_STRING:
        if (j->type == MBUS_JSON_STRING) {
            v->s = j->s;
            return 0;
        }
        return -EINVAL;
    default:
        return -EINVAL;
    }
}

static void mbus_query_set(struct mbus_reply *r, const struct mbus_json *req)
{
    struct mbean *b = mbus_query_bean(r, req);
    if (b == NULL)
        return;
    const char *attr = mbus_json_get_string(req, "attribute");
    const struct mbus_json *value = mbus_json_get(req, "value");
    if (attr == NULL || value == NULL) {
        mbus_reply_error(r, "bad_request", "\"attribute\" and \"value\" are required");
        return;
    }
    const struct mbean_attr_desc *d = mbean_find_attr_desc(b, attr);
    struct mbean_value v = {.type = MBEAN_NULL};
    char err[256] = "";
    int rc;
    if (d != NULL && d->set != NULL && mbus_convert(value, d->type, &v) < 0) {
        mbus_reply_error(r, "invalid", "attribute %s takes a %s value", attr, mbus_type_name(d->type));
        return;
    }
    rc = mbean_set_attr(b, attr, &v, err, sizeof err);
    if (rc < 0) {
        mbus_reply_error(r, rc == -ENOENT ? "not_found" : rc == -EPERM ? "read_only" : "invalid", "%s",
                         err[0] ? err : "refused");
        return;
    }
    struct metrics_buf scratch;
    metrics_buf_init(&scratch);
    struct mbean_value now;
    mbus_reply_ok(r);
    metrics_buf_puts(r->out, ",\"bean\":");
    mbus_json_string(r->out, b->name);
    metrics_buf_puts(r->out, ",\"attribute\":");
    mbus_json_string(r->out, attr);
    metrics_buf_puts(r->out, ",\"value\":");
    if (mbean_get_attr(b, attr, &now, NULL, &scratch) == 0)
        mbus_encode_value(r->out, &now);
    else
        metrics_buf_puts(r->out, "null");
    metrics_buf_putc(r->out, '}');
    metrics_buf_free(&scratch);
}

static void mbus_query_invoke(struct mbus_reply *r, const struct mbus_json *req)
{
    struct mbean *b = mbus_query_bean(r, req);
    if (b == NULL)
        return;
    const char *op = mbus_json_get_string(req, "operation");
    if (op == NULL) {
        mbus_reply_error(r, "bad_request", "\"operation\" is required");
        return;
    }
    /* The bean may be gone after the operation (terminateConnection), so
     * its name is copied first. */
    char *name = strdup(b->name);
    struct metrics_buf scratch;
    metrics_buf_init(&scratch);
    struct mbean_value result;
    char err[256] = "";
    int rc = mbean_invoke(b, op, &result, &scratch, err, sizeof err);
    if (rc < 0) {
        mbus_reply_error(r, rc == -ENOENT ? "not_found" : "failed", "%s", err[0] ? err : "operation failed");
    } else {
        mbus_reply_ok(r);
        metrics_buf_puts(r->out, ",\"bean\":");
        mbus_json_string(r->out, name ? name : "");
        metrics_buf_puts(r->out, ",\"operation\":");
        mbus_json_string(r->out, op);
        metrics_buf_puts(r->out, ",\"result\":");
        mbus_encode_value(r->out, &result);
        metrics_buf_putc(r->out, '}');
    }
    metrics_buf_free(&scratch);
    free(name);
}

void mbus_query(const char *req, size_t len, struct metrics_buf *out)
{
    struct mbus_reply r = {.out = out};
    char err[256];
    metrics_buf_reset(out);
    if (len > MBUS_MAX_REQUEST) {
        mbus_reply_error(&r, "bad_request", "request larger than %u bytes", MBUS_MAX_REQUEST);
        return;
    }
    struct mbus_json *root = mbus_json_parse(req, len, err, sizeof err);
    if (root == NULL) {
        mbus_reply_error(&r, "bad_request", "%s", err);
        return;
    }
    r.id = mbus_json_get(root, "id");
    const struct mbus_json *v = mbus_json_get(root, "v");
    const char *op = mbus_json_get_string(root, "op");
    if (root->type != MBUS_JSON_OBJECT)
        mbus_reply_error(&r, "bad_request", "a request is a JSON object");
    else if (v && !(v->type == MBUS_JSON_NUMBER && v->is_int && v->i == MBUS_PROTOCOL_VERSION))
        mbus_reply_error(&r, "unsupported_version", "this server speaks version %d", MBUS_PROTOCOL_VERSION);
    else if (op == NULL)
        mbus_reply_error(&r, "bad_request", "\"op\" is required (list, get, set, invoke)");
    else if (strcmp(op, "list") == 0)
        mbus_query_list(&r, root);
    else if (strcmp(op, "get") == 0)
        mbus_query_get(&r, root);
    else if (strcmp(op, "set") == 0)
        mbus_query_set(&r, root);
    else if (strcmp(op, "invoke") == 0)
        mbus_query_invoke(&r, root);
    else
        mbus_reply_error(&r, "bad_request", "unknown op %s (list, get, set, invoke)", op);
    if (out->oom)
        mbus_reply_error(&r, "failed", "out of memory");
    mbus_json_free(root);
}
