/*
 * Metrics registry implementation: a growable array of entries in
 * registration order, looked up by name with a linear scan (registration and
 * reads are rare; updates never touch the registry, only the owner's value).
 */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct metrics_entry {
    char *name;
    enum zkp_metric_type type;
    const int64_t *value;
    metrics_gauge_fn fn;
    void *arg;
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

static int metrics_add(const char *name, enum zkp_metric_type type, const int64_t *value,
                       metrics_gauge_fn fn, void *arg)
{
    if (name == NULL || *name == '\0' || (value == NULL && fn == NULL))
        return -EINVAL;
    struct metrics_entry *e = metrics_find(name);
    if (e != NULL) {
        /* Re-registration (a plugin restarted) rebinds the name. */
        e->type = type;
        e->value = value;
        e->fn = fn;
        e->arg = arg;
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
    char *copy = strdup(name);
    if (copy == NULL)
        return -ENOMEM;
    metrics_entries[metrics_count++] =
        (struct metrics_entry){.name = copy, .type = type, .value = value, .fn = fn, .arg = arg};
    return 0;
}

int metrics_register(const char *name, enum zkp_metric_type type, const int64_t *value)
{
    return metrics_add(name, type, value, NULL, NULL);
}

int metrics_register_fn(const char *name, metrics_gauge_fn fn, void *arg)
{
    return metrics_add(name, ZKP_METRIC_GAUGE, NULL, fn, arg);
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

static int64_t metrics_read(const struct metrics_entry *e)
{
    return e->fn ? e->fn(e->arg) : *e->value;
}

int metrics_get(const char *name, int64_t *out)
{
    const struct metrics_entry *e = metrics_find(name);
    *out = e ? metrics_read(e) : 0;
    return e ? 0 : -ENOENT;
}

void metrics_foreach(metrics_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < metrics_count; i++)
        fn(arg, metrics_entries[i].name, metrics_entries[i].type, metrics_read(&metrics_entries[i]));
}

void metrics_clear(void)
{
    for (size_t i = 0; i < metrics_count; i++)
        free(metrics_entries[i].name);
    free(metrics_entries);
    metrics_entries = NULL;
    metrics_count = metrics_cap = 0;
}
