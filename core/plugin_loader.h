/*
 * Plugin loader: opens DIR/<name>.so (never a path outside DIR), checks the
 * exported descriptor before running any plugin code (magic, ABI major,
 * struct size, kind, name, lifecycle functions, ops table and its size), builds
 * the zkp_host service table for it, and drives init/start/stop/fini.
 *
 * Network host services (net_listen, net_connect, ...) go through the
 * transport chosen with plugin_loader_set_transport.
 *
 * Every failure returns a negative errno and one line in err naming the file
 * and the reason, e.g. "plugins/tcp.so: wrong kind: storage plugin where a
 * transport plugin is needed".
 */
#ifndef ZKPLUG_PLUGIN_LOADER_H
#define ZKPLUG_PLUGIN_LOADER_H

#include <stddef.h>
#include <zkplug/plugin.h>

#include "config.h"
#include "loop.h"

struct plugin_instance {
    void *handle;                   /* dlopen handle (NULL for built-in) */
    const struct zkp_plugin *desc;
    void *state;                    /* from init */
    struct zkp_host host;           /* the services handed to this plugin */
    char *path;                     /* file it came from */
    loop *loop;
    const struct zk_config *config;
    int initialized, started;
};

/* Resolve DIR/<name>.so, validate, and call init. */
int plugin_load(const char *dir, const char *name, enum zkp_kind kind, loop *l,
                const struct zk_config *cfg, struct plugin_instance **out, char *err, size_t errlen);
/* Same for a descriptor already in memory (tests, built-ins). */
int plugin_load_descriptor(const struct zkp_plugin *desc, const char *origin, enum zkp_kind kind,
                           loop *l, const struct zk_config *cfg, struct plugin_instance **out,
                           char *err, size_t errlen);
int plugin_start(struct plugin_instance *p, char *err, size_t errlen);
void plugin_stop(struct plugin_instance *p);
/* stop (if started), fini, dlclose, free. NULL does nothing. */
void plugin_unload(struct plugin_instance *p);

static inline const void *plugin_ops(const struct plugin_instance *p) { return p->desc->ops; }

const char *plugin_kind_name(enum zkp_kind kind);

/* Routes the net_* host services of every plugin through this transport
 * instance (started, ABI 1.1 connect for net_connect), or through none with
 * NULL. Loop thread. Unloading that instance resets the route to none. */
void plugin_loader_set_transport(struct plugin_instance *transport);

#endif
