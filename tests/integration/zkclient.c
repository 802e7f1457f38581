/*
 * Wrappers around the official C client (see zkclient.h).
 */
#include "zkclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

void zkc_events_init(struct zkc_events *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
}

void zkc_events_fini(struct zkc_events *q)
{
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
}

void zkc_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    struct zkc_events *q = ctx;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    if (q->n < ZKC_MAX_EVENTS) {
        struct zkc_event *e = &q->items[q->n++];
        e->type = type;
        e->state = state;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "");
    }
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

static void zkc_deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int zkc_find(struct zkc_events *q, int type, int state, const char *path)
{
    for (int i = 0; i < q->n; i++) {
        const struct zkc_event *e = &q->items[i];
        if (e->type != type)
            continue;
        if (state != 0 && e->state != state)
            continue;
        if (path && strcmp(path, e->path) != 0)
            continue;
        return i;
    }
    return -1;
}

static bool zkc_wait_match(struct zkc_events *q, int type, int state, const char *path,
                           int timeout_ms, struct zkc_event *out)
{
    struct timespec ts;
    zkc_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&q->lock);
    int idx;
    while ((idx = zkc_find(q, type, state, path)) < 0) {
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT) {
            idx = zkc_find(q, type, state, path);
            break;
        }
    }
    if (idx >= 0) {
        if (out)
            *out = q->items[idx];
        memmove(&q->items[idx], &q->items[idx + 1], (size_t)(q->n - idx - 1) * sizeof q->items[0]);
        q->n--;
    }
    pthread_mutex_unlock(&q->lock);
    return idx >= 0;
}

bool zkc_wait_event(struct zkc_events *q, int type, const char *path, int timeout_ms,
                    struct zkc_event *out)
{
    return zkc_wait_match(q, type, 0, path, timeout_ms, out);
}

bool zkc_wait_state(struct zkc_events *q, int state, int timeout_ms)
{
    return zkc_wait_match(q, ZOO_SESSION_EVENT, state, NULL, timeout_ms, NULL);
}

int zkc_count(struct zkc_events *q, int type, const char *path)
{
    pthread_mutex_lock(&q->lock);
    int n = 0;
    for (int i = 0; i < q->n; i++)
        if (q->items[i].type == type && (path == NULL || strcmp(path, q->items[i].path) == 0))
            n++;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void zkc_clear(struct zkc_events *q)
{
    pthread_mutex_lock(&q->lock);
    q->n = 0;
    pthread_mutex_unlock(&q->lock);
}

struct zkc_client *zkc_open_nowait(int timeout_ms, const clientid_t *cid)
{
    static bool log_set;
    if (!log_set) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        log_set = true;
    }
    struct zkc_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    zkc_events_init(&c->ev);
    c->zh = zookeeper_init(zkh_server_hosts(zkh_current), zkc_watcher, timeout_ms, cid, &c->ev, 0);
    if (c->zh == NULL) {
        zkc_events_fini(&c->ev);
        free(c);
        return NULL;
    }
    return c;
}

struct zkc_client *zkc_open(int timeout_ms, const clientid_t *cid)
{
    struct zkc_client *c = zkc_open_nowait(timeout_ms, cid);
    if (c == NULL)
        return NULL;
    if (!zkc_wait_state(&c->ev, ZOO_CONNECTED_STATE, 10000)) {
        fprintf(stderr, "zkclient: no SyncConnected within 10 s\n");
        zkc_close(c);
        return NULL;
    }
    return c;
}

void zkc_close(struct zkc_client *c)
{
    if (c == NULL)
        return;
    zookeeper_close(c->zh);
    zkc_events_fini(&c->ev);
    free(c);
}

/* ------------------------------------------------- synchronous wrappers */

struct zkc_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    char value[512];
};

static void zkc_waiter_init(struct zkc_waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static void zkc_waiter_done(struct zkc_waiter *w, int rc, const char *value)
{
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    snprintf(w->value, sizeof w->value, "%s", value ? value : "");
    w->done = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Waits up to 10 s; ZOPERATIONTIMEOUT if the completion never ran. The
 * waiter lives on the caller's stack, so on timeout we keep waiting for the
 * completion (bounded by the session teardown) rather than return early. */
static int zkc_waiter_wait(struct zkc_waiter *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
            break;
    int rc = w->done ? w->rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void zkc_string_cb(int rc, const char *value, const void *data)
{
    zkc_waiter_done((struct zkc_waiter *)data, rc, value);
}

static void zkc_void_cb(int rc, const void *data)
{
    zkc_waiter_done((struct zkc_waiter *)data, rc, NULL);
}

int zkc_sync(zhandle_t *zh, const char *path, char *out, size_t out_len)
{
    static struct zkc_waiter w; /* static: outlives a timed-out wait */
    zkc_waiter_init(&w);
    int rc = zoo_async(zh, path, zkc_string_cb, &w);
    if (rc != ZOK)
        return rc;
    rc = zkc_waiter_wait(&w);
    if (out && out_len)
        snprintf(out, out_len, "%s", w.value);
    return rc;
}

int zkc_add_auth(zhandle_t *zh, const char *scheme, const char *cred)
{
    static struct zkc_waiter w;
    zkc_waiter_init(&w);
    int rc = zoo_add_auth(zh, scheme, cred, (int)strlen(cred), zkc_void_cb, &w);
    if (rc != ZOK)
        return rc;
    return zkc_waiter_wait(&w);
}

int zkc_mkdir(zhandle_t *zh, const char *path)
{
    int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    return rc == ZNODEEXISTS ? ZOK : rc;
}

int zkc_setup(void **state)
{
    struct zkc_client *c = zkc_open(10000, NULL);
    *state = c;
    return c ? 0 : -1;
}

int zkc_teardown(void **state)
{
    zkc_close(*state);
    *state = NULL;
    return 0;
}
