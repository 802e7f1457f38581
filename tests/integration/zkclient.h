/*
 * Wrappers around the official C client (libzookeeper_mt) for the tests:
 * connect and wait for SyncConnected, record watch and session events in a
 * thread-safe queue, wait for a specific event with a bound, and the few
 * synchronous wrappers the library lacks (sync, addauth).
 *
 * zkc_watcher is the watcher for zookeeper_init and zoo_w* calls; its
 * context must be a struct zkc_events. Events are delivered on the library's
 * completion thread, so the queue has its own mutex and condition variable.
 */
#ifndef ZKPLUG_TESTS_INTEGRATION_ZKCLIENT_H
#define ZKPLUG_TESTS_INTEGRATION_ZKCLIENT_H

#include <pthread.h>
#include <stdbool.h>

#include <zookeeper/zookeeper.h>

#define ZKC_MAX_EVENTS 128

struct zkc_event {
    int type;  /* ZOO_CREATED_EVENT ... ZOO_SESSION_EVENT */
    int state; /* ZOO_CONNECTED_STATE ... */
    char path[256];
};

struct zkc_events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct zkc_event items[ZKC_MAX_EVENTS];
    int n;
};

/* A client with its own event queue (session events land there too). */
struct zkc_client {
    zhandle_t *zh;
    struct zkc_events ev;
};

void zkc_events_init(struct zkc_events *q);
void zkc_events_fini(struct zkc_events *q);
void zkc_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

/* Opens a session to the server under test and waits (10 s) for
 * SyncConnected. cid may be NULL (new session). Returns new (zkc_close), or
 * NULL. */
struct zkc_client *zkc_open(int timeout_ms, const clientid_t *cid);
/* Like zkc_open but does not wait; the caller waits for a state event. */
struct zkc_client *zkc_open_nowait(int timeout_ms, const clientid_t *cid);
/* zookeeper_close (sends closeSession) and frees. NULL is a no-op. */
void zkc_close(struct zkc_client *c);

/* Waits up to timeout_ms for an event with this type (and path, unless NULL),
 * removes it from the queue and copies it to *out (may be NULL). true if found. */
bool zkc_wait_event(struct zkc_events *q, int type, const char *path, int timeout_ms,
                    struct zkc_event *out);
/* Waits for a session event with this state. */
bool zkc_wait_state(struct zkc_events *q, int state, int timeout_ms);
/* Number of queued events with this type and path (NULL = any path). */
int zkc_count(struct zkc_events *q, int type, const char *path);
void zkc_clear(struct zkc_events *q);

/* Synchronous sync(path): returns the rc; the echoed path into out. */
int zkc_sync(zhandle_t *zh, const char *path, char *out, size_t out_len);
/* Synchronous addauth: rc of the completion (ZOK / ZAUTHFAILED ...). */
int zkc_add_auth(zhandle_t *zh, const char *scheme, const char *cred);

/* Creates a persistent node with OPEN ACL (tolerating ZNODEEXISTS). */
int zkc_mkdir(zhandle_t *zh, const char *path);

/* cmocka per-test fixtures: *state becomes a connected struct zkc_client
 * (10 s session timeout), closed by the teardown. */
int zkc_setup(void **state);
int zkc_teardown(void **state);

#endif
