/*
 * Metrics registry implementation: a growable array of entries in
 * registration order, looked up by name with a linear scan (registration and
 * reads are rare; updates never touch the registry, only the owner's value).
 */
#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metrics_source {
    METRICS_SOURCE_VALUE,   /* *value */
    METRICS_SOURCE_FN,      /* fn(arg) */
    METRICS_SOURCE_DOUBLE,  /* dfn(arg) */
    METRICS_SOURCE_TEXT,    /* tfn(arg) */
    METRICS_SOURCE_SUMMARY, /* *summary */
    METRICS_SOURCE_SUMMARY_SET, /* *set */
};

struct metrics_entry {
    char *name;
    enum zkp_metric_type type;
    enum metrics_source source;
    const int64_t *value;
    metrics_gauge_fn fn;
    metrics_double_fn dfn;
    metrics_text_fn tfn;
    struct metrics_summary *summary;
    struct metrics_summary_set *set;
    void *arg;
    bool resettable; /* a default counter whose storage the registrant lets us zero */
};

static struct metrics_entry *metrics_entries;
static size_t metrics_count, metrics_cap;

static struct metrics_entry *metrics_find(const char *name)
{
    for (size_t i = 0; i < metrics_count; i++)
        if (strcmp(metrics_entries[i].name, name) == 0)
            return &metrics_entries[i];
    return NULL;
}

static int metrics_add(const struct metrics_entry *proto, bool rebind)
{
    if (proto->name == NULL || *proto->name == '\0')
        return -EINVAL;
    struct metrics_entry *e = metrics_find(proto->name);
    if (e != NULL) {
        if (!rebind)
            return 1;
        /* Re-registration (a plugin restarted) rebinds the name. */
        char *name = e->name;
        *e = *proto;
        e->name = name;
        return 0;
    }
    if (metrics_count == metrics_cap) {
        size_t cap = metrics_cap ? metrics_cap * 2 : 64;
        struct metrics_entry *n = realloc(metrics_entries, cap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        metrics_entries = n;
        metrics_cap = cap;
    }
    char *copy = strdup(proto->name);
    if (copy == NULL)
        return -ENOMEM;
    metrics_entries[metrics_count] = *proto;
    metrics_entries[metrics_count++].name = copy;
    return 0;
}

int metrics_register(const char *name, enum zkp_metric_type type, const int64_t *value)
{
    if (value == NULL)
        return -EINVAL;
    struct metrics_entry e = {.name = (char *)name, .type = type, .source = METRICS_SOURCE_VALUE, .value = value};
    return metrics_add(&e, true);
}

int metrics_register_default(const char *name, enum zkp_metric_type type, const int64_t *value)
{
    if (value == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = type, .source = METRICS_SOURCE_VALUE, .value = value, .resettable = true};
    return metrics_add(&e, false);
}

int metrics_register_fn(const char *name, metrics_gauge_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = ZKP_METRIC_GAUGE, .source = METRICS_SOURCE_FN, .fn = fn, .arg = arg};
    return metrics_add(&e, true);
}

int metrics_register_double_fn(const char *name, metrics_double_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = ZKP_METRIC_GAUGE, .source = METRICS_SOURCE_DOUBLE, .dfn = fn, .arg = arg};
    return metrics_add(&e, true);
}

int metrics_register_text_fn(const char *name, metrics_text_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = ZKP_METRIC_GAUGE, .source = METRICS_SOURCE_TEXT, .tfn = fn, .arg = arg};
    return metrics_add(&e, true);
}

int metrics_register_summary(const char *name, struct metrics_summary *summary)
{
    if (summary == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = ZKP_METRIC_GAUGE, .source = METRICS_SOURCE_SUMMARY, .summary = summary};
    return metrics_add(&e, true);
}

int metrics_register_summary_set(const char *name, struct metrics_summary_set *set)
{
    if (set == NULL)
        return -EINVAL;
    struct metrics_entry e = {
        .name = (char *)name, .type = ZKP_METRIC_GAUGE, .source = METRICS_SOURCE_SUMMARY_SET, .set = set};
    return metrics_add(&e, true);
}

void metrics_unregister(const char *name)
{
    struct metrics_entry *e = metrics_find(name);
    if (e == NULL)
        return;
    free(e->name);
    size_t i = (size_t)(e - metrics_entries);
    memmove(e, e + 1, (metrics_count - i - 1) * sizeof *e);
    metrics_count--;
}

void metrics_unregister_bound(const char *name, const void *storage)
{
    struct metrics_entry *e = metrics_find(name);
    if (e != NULL && ((const void *)e->value == storage || (const void *)e->summary == storage ||
                      (const void *)e->set == storage))
        metrics_unregister(name);
}

bool metrics_exists(const char *name)
{
    return metrics_find(name) != NULL;
}

static void metrics_read(const struct metrics_entry *e, struct metrics_value *v)
{
    memset(v, 0, sizeof *v);
    v->kind = e->type;
    switch (e->source) {
    case METRICS_SOURCE_VALUE:
        v->type = METRICS_VALUE_INT;
        v->i = *e->value;
        break;
    case METRICS_SOURCE_FN:
        v->type = METRICS_VALUE_INT;
        v->i = e->fn(e->arg);
        break;
    case METRICS_SOURCE_DOUBLE:
        v->type = METRICS_VALUE_DOUBLE;
        v->d = e->dfn(e->arg);
        break;
    case METRICS_SOURCE_TEXT:
        v->type = METRICS_VALUE_TEXT;
        v->text = e->tfn(e->arg);
        if (v->text == NULL)
            v->text = "";
        break;
    case METRICS_SOURCE_SUMMARY:
    case METRICS_SOURCE_SUMMARY_SET: /* visited per key, see metrics_visit_set */
        v->type = METRICS_VALUE_SUMMARY;
        v->summary = e->summary;
        break;
    }
}

/* "<prefix><a><b>" in buf when it fits, else in a new allocation (*heap, to
 * free); NULL when out of memory. */
static char *metrics_key(char *buf, size_t cap, char **heap, const char *prefix, const char *a, const char *b)
{
    size_t need = strlen(prefix) + strlen(a) + strlen(b) + 1;
    char *key = buf;
    *heap = NULL;
    if (need > cap) {
        key = *heap = malloc(need);
        if (key == NULL)
            return NULL;
        cap = need;
    }
    snprintf(key, cap, "%s%s%s", prefix, a, b);
    return key;
}

/* Each key of a summary set as the summary "<key>_<name>". */
static void metrics_visit_set(const struct metrics_entry *e, metrics_value_visit_fn fn, void *arg)
{
    const struct metrics_summary_set *set = e->set;
    for (uint32_t i = 0; i < set->n; i++) {
        const struct metrics_summary_set_entry *m = set->entries[i];
        char buf[256], *heap;
        const char *name = metrics_key(buf, sizeof buf, &heap, m->key, "_", e->name);
        if (name == NULL)
            continue;
        struct metrics_value v = {.type = METRICS_VALUE_SUMMARY, .kind = ZKP_METRIC_GAUGE, .summary = &m->summary,
                                  .set_name = e->name, .set_key = m->key};
        fn(arg, name, &v);
        free(heap);
    }
}

void metrics_foreach_value(metrics_value_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < metrics_count; i++) {
        if (metrics_entries[i].source == METRICS_SOURCE_SUMMARY_SET) {
            metrics_visit_set(&metrics_entries[i], fn, arg);
            continue;
        }
        struct metrics_value v;
        metrics_read(&metrics_entries[i], &v);
        fn(arg, metrics_entries[i].name, &v);
    }
}

/* One summary as ZooKeeper's mntr keys. */
static void metrics_expand_summary(const char *name, const struct metrics_summary *s, metrics_value_visit_fn fn,
                                   void *arg)
{
    struct metrics_summary_stats st;
    metrics_summary_read(s, &st);
    char buf[256], *heap;
    /* The longest prefix, "p999_", sizes every key. */
    char *key = metrics_key(buf, sizeof buf, &heap, "p999_", name, "");
    if (key == NULL)
        return;
    size_t cap = heap ? strlen(key) + 1 : sizeof buf;
    struct metrics_value v = {.type = METRICS_VALUE_DOUBLE, .kind = ZKP_METRIC_GAUGE, .d = st.avg};
    snprintf(key, cap, "avg_%s", name);
    fn(arg, key, &v);
    const struct {
        const char *prefix;
        int64_t value;
        enum zkp_metric_type kind;
    } ints[] = {
        {"min_", st.min, ZKP_METRIC_GAUGE}, {"max_", st.max, ZKP_METRIC_GAUGE},
        {"cnt_", st.count, ZKP_METRIC_COUNTER}, {"sum_", st.sum, ZKP_METRIC_COUNTER},
        {"p50_", st.p50, ZKP_METRIC_GAUGE}, {"p95_", st.p95, ZKP_METRIC_GAUGE},
        {"p99_", st.p99, ZKP_METRIC_GAUGE}, {"p999_", st.p999, ZKP_METRIC_GAUGE},
    };
    size_t n = s->level == METRICS_SUMMARY_ADVANCED ? sizeof ints / sizeof ints[0] : 4;
    for (size_t i = 0; i < n; i++) {
        snprintf(key, cap, "%s%s", ints[i].prefix, name);
        v = (struct metrics_value){.type = METRICS_VALUE_INT, .kind = ints[i].kind, .i = ints[i].value};
        fn(arg, key, &v);
    }
    free(heap);
}

struct metrics_mntr_visit {
    metrics_value_visit_fn fn;
    void *arg;
};

static void metrics_mntr_set_member(void *arg, const char *name, const struct metrics_value *v)
{
    const struct metrics_mntr_visit *w = arg;
    metrics_expand_summary(name, v->summary, w->fn, w->arg);
}

void metrics_foreach_mntr(metrics_value_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < metrics_count; i++) {
        if (metrics_entries[i].source == METRICS_SOURCE_SUMMARY_SET) {
            struct metrics_mntr_visit w = {fn, arg};
            metrics_visit_set(&metrics_entries[i], metrics_mntr_set_member, &w);
            continue;
        }
        struct metrics_value v;
        metrics_read(&metrics_entries[i], &v);
        if (v.type == METRICS_VALUE_SUMMARY)
            metrics_expand_summary(metrics_entries[i].name, v.summary, fn, arg);
        else
            fn(arg, metrics_entries[i].name, &v);
    }
}

struct metrics_int_visit {
    metrics_visit_fn fn;
    void *arg;
};

static void metrics_int_visit(void *arg, const char *name, const struct metrics_value *v)
{
    struct metrics_int_visit *w = arg;
    if (v->type == METRICS_VALUE_INT)
        w->fn(w->arg, name, v->kind, v->i);
}

void metrics_foreach(metrics_visit_fn fn, void *arg)
{
    struct metrics_int_visit w = {fn, arg};
    metrics_foreach_mntr(metrics_int_visit, &w);
}

struct metrics_get_visit {
    const char *name;
    int64_t value;
    bool found;
};

static void metrics_get_visit(void *arg, const char *name, enum zkp_metric_type type, int64_t value)
{
    struct metrics_get_visit *g = arg;
    (void)type;
    if (!g->found && strcmp(name, g->name) == 0) {
        g->value = value;
        g->found = true;
    }
}

int metrics_get(const char *name, int64_t *out)
{
    const struct metrics_entry *e = metrics_find(name);
    if (e != NULL && (e->source == METRICS_SOURCE_VALUE || e->source == METRICS_SOURCE_FN)) {
        *out = e->source == METRICS_SOURCE_FN ? e->fn(e->arg) : *e->value;
        return 0;
    }
    /* A summary's key: only scanned when the name has a summary prefix. */
    struct metrics_get_visit g = {.name = name};
    if (e == NULL && strchr(name, '_') != NULL)
        metrics_foreach(metrics_get_visit, &g);
    *out = g.found ? g.value : 0;
    return g.found ? 0 : -ENOENT;
}

void metrics_reset_counters(void)
{
    for (size_t i = 0; i < metrics_count; i++) {
        struct metrics_entry *e = &metrics_entries[i];
        if (e->resettable && e->type == ZKP_METRIC_COUNTER)
            *(int64_t *)e->value = 0; /* registered writable through metrics_register_default */
        else if (e->source == METRICS_SOURCE_SUMMARY)
            metrics_summary_reset(e->summary);
        else if (e->source == METRICS_SOURCE_SUMMARY_SET)
            metrics_summary_set_reset(e->set);
    }
}

size_t metrics_count_registered(void)
{
    return metrics_count;
}

void metrics_clear(void)
{
    for (size_t i = 0; i < metrics_count; i++)
        free(metrics_entries[i].name);
    free(metrics_entries);
    metrics_entries = NULL;
    metrics_count = metrics_cap = 0;
}
