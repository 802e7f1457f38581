/*
 * MBean-style objects: ZooKeeper's JMX bean tree without the JVM. A bean has
 * an object name in ZooKeeper's form
 * ("org.apache.ZooKeeperService:name0=StandaloneServer_port2181,name1=...")
 * typed attributes (read through getters, some writable) and operations
 * (resetStatistics, terminateSession, ...). Beans are registered and
 * unregistered as the server's state changes; a listener (the metrics bus)
 * is told of every registration, unregistration and state event as it
 * happens.
 *
 * Ownership: a bean's descriptor (struct mbean_desc) is static and borrowed;
 * its object pointer is borrowed until the bean is unregistered; names are
 * copied.
 *
 * Thread: every function, getter, setter and operation runs on the event
 * loop thread. Beans are kept sorted by name.
 */
#ifndef ZKPLUG_METRICS_MBEAN_H
#define ZKPLUG_METRICS_MBEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_buf.h"
#include "metrics_summary.h"

#define MBEAN_DOMAIN "org.apache.ZooKeeperService"

enum mbean_type {
    MBEAN_NULL,    /* no value (an operation returning void) */
    MBEAN_INT,     /* i */
    MBEAN_DOUBLE,  /* d */
    MBEAN_BOOL,    /* b */
    MBEAN_STRING,  /* s (NUL-terminated) */
    MBEAN_STRINGS, /* n strings back to back in s, each NUL-terminated */
    MBEAN_SUMMARY, /* summary */
};

/* How a numeric attribute behaves, for subscribers and Prometheus. */
enum mbean_kind {
    MBEAN_KIND_ATTRIBUTE, /* a setting or a fact */
    MBEAN_KIND_COUNTER,   /* only grows (until reset) */
    MBEAN_KIND_GAUGE,     /* goes up and down */
};

struct mbean_value {
    enum mbean_type type;
    enum mbean_kind kind;
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t n;
    const struct metrics_summary *summary;
};

/* Getters fill out; strings may be built in scratch (reset before the call)
 * and must stay valid until the next getter runs. 0, or negative errno. */
typedef int (*mbean_get_fn)(void *obj, struct mbean_value *out, struct metrics_buf *scratch);
/* Setters receive a value already converted to the attribute's type; they
 * validate it and answer 0, or negative errno with a reason in err. */
typedef int (*mbean_set_fn)(void *obj, const struct mbean_value *in, char *err, size_t errlen);
/* Operations take no argument (as ZooKeeper's bean operations); result is
 * MBEAN_NULL for void. 0, or negative errno with a reason in err. */
typedef int (*mbean_invoke_fn)(void *obj, struct mbean_value *result, struct metrics_buf *scratch, char *err,
                               size_t errlen);

struct mbean_attr_desc {
    const char *name; /* JMX attribute name ("PacketsReceived") */
    enum mbean_type type;
    enum mbean_kind kind;
    mbean_get_fn get;
    mbean_set_fn set; /* NULL: read-only */
};

struct mbean_op_desc {
    const char *name; /* "resetStatistics" */
    const char *description;
    mbean_invoke_fn invoke;
};

/* Attributes that are not in the static table (the registry's metrics). */
typedef void (*mbean_attr_visit_fn)(void *ctx, const char *name, const struct mbean_value *v, bool writable);
typedef void (*mbean_extra_fn)(void *obj, mbean_attr_visit_fn fn, void *ctx);

struct mbean_desc {
    const char *type; /* MXBean interface ("ZooKeeperServerMXBean") */
    const struct mbean_attr_desc *attrs;
    size_t nattrs;
    const struct mbean_op_desc *ops;
    size_t nops;
    mbean_extra_fn extra; /* optional */
};

struct mbean {
    char *name;
    const struct mbean_desc *desc;
    void *obj;
    /* Publisher state: the attributes as last published (owned). */
    char *published;
    size_t published_len;
};

enum mbean_event_type {
    MBEAN_EVENT_REGISTERED,
    MBEAN_EVENT_UNREGISTERED,
    MBEAN_EVENT_STATE,         /* a server state change: state, previous */
    MBEAN_EVENT_LEADER_ELECTED /* leader holds the elected server id */
};

struct mbean_event {
    enum mbean_event_type type;
    const struct mbean *bean; /* registered/unregistered: the bean */
    const char *name;         /* the bean name the event is about (topic) */
    const char *state, *previous;
    int64_t leader;
};

typedef void (*mbean_listener_cb)(void *arg, const struct mbean_event *ev);

/* 0; -EEXIST when the name is taken, -EINVAL for a bad name, -ENOMEM. */
int mbean_register(const char *name, const struct mbean_desc *desc, void *obj);
/* 0, or -ENOENT. */
int mbean_unregister(const char *name);
/* Unregister every bean whose name starts with prefix; returns how many. */
size_t mbean_unregister_prefix(const char *prefix);
void mbean_clear(void);

struct mbean *mbean_find(const char *name);
size_t mbean_count(void);
struct mbean *mbean_at(size_t i); /* sorted by name */

/* Does name match pattern? A pattern with '*' or '?' is a glob over the
 * whole name; any other pattern is a prefix; NULL or "" match all. */
bool mbean_name_matches(const char *pattern, const char *name);

/* Visit every attribute (table first, then extra) with its value. */
void mbean_foreach_attr(struct mbean *b, mbean_attr_visit_fn fn, void *ctx, struct metrics_buf *scratch);
/* One attribute: 0, -ENOENT. The value may point into scratch. */
int mbean_get_attr(struct mbean *b, const char *attr, struct mbean_value *out, bool *writable,
                   struct metrics_buf *scratch);
const struct mbean_attr_desc *mbean_find_attr_desc(const struct mbean *b, const char *attr);
/* Set a writable attribute: 0; -ENOENT unknown; -EPERM read-only;
 * -EINVAL wrong type or refused by the setter (reason in err). */
int mbean_set_attr(struct mbean *b, const char *attr, const struct mbean_value *in, char *err, size_t errlen);
/* Invoke an operation: 0; -ENOENT unknown; else the operation's error. */
int mbean_invoke(struct mbean *b, const char *op, struct mbean_value *result, struct metrics_buf *scratch,
                 char *err, size_t errlen);

/* Events. One listener (the bus); NULL removes it. */
void mbean_set_listener(mbean_listener_cb cb, void *arg);
void mbean_notify_state(const char *name, const char *state, const char *previous);
void mbean_notify_leader(const char *name, int64_t leader);

/* Object names. Appends ",nameN=value" parts to MBEAN_DOMAIN ":", as
 * ZooKeeper's MBeanRegistry.makeFullPath; values are used as given (quote
 * them first with mbean_quote when they may hold , = : " * ? or \n).
 * Returns the length, or -ENAMETOOLONG. */
int mbean_make_name(char *out, size_t outlen, const char *const *parts, size_t nparts);
/* JMX ObjectName.quote. */
void mbean_quote(char *out, size_t outlen, const char *value);

#endif
