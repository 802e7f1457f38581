/*
 * Fake zoo.cfg lookups for unit tests that load plugins: defines the three
 * config_get_* functions of core/config.h over a small key/value table, so
 * tests link without the real parser. Pass FAKE_CONFIG as the config pointer
 * (any non-NULL pointer works; a NULL config means "every key absent", which
 * the loader handles itself).
 */
#ifndef ZKPLUG_TESTS_FAKE_CONFIG_H
#define ZKPLUG_TESTS_FAKE_CONFIG_H

#include "config.h"

extern const struct zk_config fake_config_instance;
#define FAKE_CONFIG (&fake_config_instance)

/* Set (or with value NULL, remove) a key. Keys and values are copied. */
void fake_config_set(const char *key, const char *value);
/* Remove every key. */
void fake_config_reset(void);

#endif
