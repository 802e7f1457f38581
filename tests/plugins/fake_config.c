/*
 * Fake zoo.cfg lookups (see fake_config.h). Same contract as the real
 * config_get_*: 0 found, 1 absent (*out = def), -EINVAL malformed.
 * Single-threaded, tests only; at most FAKE_CONFIG_MAX keys.
 */
#include "fake_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAKE_CONFIG_MAX 32

const struct zk_config fake_config_instance;

static char *fake_config_keys[FAKE_CONFIG_MAX];
static char *fake_config_values[FAKE_CONFIG_MAX];

static int fake_config_index(const char *key)
{
    for (int i = 0; i < FAKE_CONFIG_MAX; i++)
        if (fake_config_keys[i] != NULL && strcmp(fake_config_keys[i], key) == 0)
            return i;
    return -1;
}

void fake_config_set(const char *key, const char *value)
{
    int i = fake_config_index(key);
    if (i >= 0) {
        free(fake_config_keys[i]);
        free(fake_config_values[i]);
        fake_config_keys[i] = fake_config_values[i] = NULL;
    }
    if (value == NULL)
        return;
    for (i = 0; i < FAKE_CONFIG_MAX; i++) {
        if (fake_config_keys[i] == NULL) {
            fake_config_keys[i] = strdup(key);
            fake_config_values[i] = strdup(value);
            return;
        }
    }
    abort(); /* a test set more keys than the table holds */
}

void fake_config_reset(void)
{
    for (int i = 0; i < FAKE_CONFIG_MAX; i++) {
        free(fake_config_keys[i]);
        free(fake_config_values[i]);
        fake_config_keys[i] = fake_config_values[i] = NULL;
    }
}

static const char *fake_config_lookup(const struct zk_config *cfg, const char *key)
{
    if (cfg == NULL)
        return NULL;
    int i = fake_config_index(key);
    return i < 0 ? NULL : fake_config_values[i];
}

int config_get_string(const struct zk_config *cfg, const char *key, const char *def, const char **out)
{
    const char *v = fake_config_lookup(cfg, key);
    *out = v ? v : def;
    return v ? 0 : 1;
}

int config_get_int(const struct zk_config *cfg, const char *key, int64_t def, int64_t *out)
{
    const char *v = fake_config_lookup(cfg, key);
    *out = def;
    if (v == NULL)
        return 1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return -EINVAL;
    *out = n;
    return 0;
}

int config_get_bool(const struct zk_config *cfg, const char *key, int def, int *out)
{
    const char *v = fake_config_lookup(cfg, key);
    *out = def;
    if (v == NULL)
        return 1;
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0) {
        *out = 0;
        return 0;
    }
    return -EINVAL;
}
