/*
 * Stall monitor (see stall.h): a heartbeat timer on the event loop, job
 * brackets for workers, and one monitor thread that reports.
 *
 * Design:
 *   - The loop side never logs: its timer records a completed stall
 *     (heartbeat gap minus the timer period) into a small queue, and the
 *     monitor thread reports it, so that a stall caused by the whole process
 *     being paused can be recognised and reported once, as a pause.
 *   - The monitor wakes every sleep_ms. An overrun of its own sleep beyond
 *     the info threshold is a process pause, remembered as the interval
 *     [now - overrun, now]. A completed stall is reported only for the part
 *     of it that this interval does not explain.
 *   - Ongoing stalls (a heartbeat or a worker job older than the threshold)
 *     are reported while they last, once per level, so a loop that never
 *     comes back is still seen in the log.
 *   - Times are CLOCK_MONOTONIC milliseconds (loop_now_ms). Shared fields are
 *     atomics, except the queue and the watch table, which take stall.lock.
 */
#define _GNU_SOURCE
#include "stall.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

#define STALL_MAX_WATCHES 32
#define STALL_QUEUE 16

struct stall_watch {
    char name[32];
    uint64_t since_ms; /* atomic: start of the running job, 0 when idle */
    uint64_t job;      /* atomic: jobs entered */
    uint64_t reported_job;
    int reported_level; /* -1 none, else the highest zkp_log_level already used (lower is worse) */
};

struct stall_event {
    char what[48];
    uint64_t start_ms, end_ms, blocked_ms;
    bool loop;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool started, stop;
    pthread_t thread;
    loop *loop;
    uint64_t timer;
    struct stall_options opts;
    uint64_t heartbeat_ms; /* atomic */
    struct stall_watch *watches[STALL_MAX_WATCHES];
    struct stall_event queue[STALL_QUEUE];
    size_t nqueued;
    uint64_t queue_dropped;
    uint64_t pause_start_ms, pause_end_ms; /* the last process pause (monitor thread) */
    uint64_t loop_reported_hb;             /* heartbeat of the ongoing stall reported */
    int loop_reported_level;
    struct stall_counters counters; /* atomics */
} stall = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ------------------------------------------------------------- options */

int stall_options_from_config(const struct zk_config *cfg, struct stall_options *out, char *err, size_t errlen)
{
    *out = (struct stall_options){.enabled = true, .info_ms = 1000, .warn_ms = 10000, .sleep_ms = 500};
    if (cfg == NULL)
        return 0;
    int on = 1;
    int64_t info, warn, sleep_ms;
    const char *file = cfg->path ? cfg->path : "zoo.cfg";
    if (config_get_bool(cfg, "jvm.pause.monitor", 1, &on) < 0) {
        snprintf(err, errlen, "%s: key 'jvm.pause.monitor': expected true or false", file);
        return -EINVAL;
    }
    if (config_get_int(cfg, "jvm.pause.info-threshold.ms", out->info_ms, &info) < 0 || info <= 0) {
        snprintf(err, errlen, "%s: key 'jvm.pause.info-threshold.ms': expected a number of ms > 0", file);
        return -EINVAL;
    }
    if (config_get_int(cfg, "jvm.pause.warn-threshold.ms", out->warn_ms, &warn) < 0 || warn <= 0) {
        snprintf(err, errlen, "%s: key 'jvm.pause.warn-threshold.ms': expected a number of ms > 0", file);
        return -EINVAL;
    }
    if (config_get_int(cfg, "jvm.pause.sleep.time.ms", out->sleep_ms, &sleep_ms) < 0 || sleep_ms <= 0 ||
        sleep_ms > 60000) {
        snprintf(err, errlen, "%s: key 'jvm.pause.sleep.time.ms': expected a number of ms from 1 to 60000", file);
        return -EINVAL;
    }
    if (warn < info) {
        snprintf(err, errlen,
                 "%s: key 'jvm.pause.warn-threshold.ms': %lld is below jvm.pause.info-threshold.ms (%lld)", file,
                 (long long)warn, (long long)info);
        return -EINVAL;
    }
    out->enabled = on != 0;
    out->info_ms = info;
    out->warn_ms = warn;
    out->sleep_ms = sleep_ms;
    return 0;
}

/* ------------------------------------------------------------ loop side */

static void stall_queue_push(const char *what, bool is_loop, uint64_t start, uint64_t end, uint64_t blocked)
{
    pthread_mutex_lock(&stall.lock);
    if (stall.nqueued < STALL_QUEUE) {
        struct stall_event *e = &stall.queue[stall.nqueued++];
        snprintf(e->what, sizeof e->what, "%s", what);
        e->loop = is_loop;
        e->start_ms = start;
        e->end_ms = end;
        e->blocked_ms = blocked;
    } else {
        stall.queue_dropped++;
    }
    pthread_cond_signal(&stall.wake);
    pthread_mutex_unlock(&stall.lock);
}

static void stall_heartbeat(void *arg)
{
    (void)arg;
    stall.timer = 0;
    uint64_t now = loop_now_ms();
    uint64_t prev = __atomic_load_n(&stall.heartbeat_ms, __ATOMIC_ACQUIRE);
    __atomic_store_n(&stall.heartbeat_ms, now, __ATOMIC_RELEASE);
    uint64_t gap = now - prev;
    if (gap > STALL_HEARTBEAT_MS && gap - STALL_HEARTBEAT_MS >= (uint64_t)stall.opts.info_ms)
        stall_queue_push("event loop", true, prev, now, gap - STALL_HEARTBEAT_MS);
    stall.timer = loop_timer_start(stall.loop, STALL_HEARTBEAT_MS, stall_heartbeat, NULL);
}

/* -------------------------------------------------------------- workers */

struct stall_watch *stall_watch_new(const char *name)
{
    struct stall_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->reported_level = -1;
    pthread_mutex_lock(&stall.lock);
    size_t i = 0;
    while (i < STALL_MAX_WATCHES && stall.watches[i])
        i++;
    if (i < STALL_MAX_WATCHES)
        stall.watches[i] = w;
    pthread_mutex_unlock(&stall.lock);
    if (i == STALL_MAX_WATCHES) {
        free(w);
        return NULL;
    }
    return w;
}

void stall_watch_free(struct stall_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&stall.lock);
    for (size_t i = 0; i < STALL_MAX_WATCHES; i++)
        if (stall.watches[i] == w)
            stall.watches[i] = NULL;
    pthread_mutex_unlock(&stall.lock);
    free(w);
}

void stall_watch_enter(struct stall_watch *w)
{
    if (w == NULL)
        return;
    __atomic_fetch_add(&w->job, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w->since_ms, loop_now_ms(), __ATOMIC_RELEASE);
}

void stall_watch_leave(struct stall_watch *w)
{
    if (w == NULL)
        return;
    uint64_t since = __atomic_exchange_n(&w->since_ms, 0, __ATOMIC_ACQ_REL);
    if (since == 0)
        return;
    uint64_t now = loop_now_ms();
    int64_t info = __atomic_load_n(&stall.opts.info_ms, __ATOMIC_RELAXED);
    if (__atomic_load_n(&stall.started, __ATOMIC_ACQUIRE) && info > 0 && now - since >= (uint64_t)info) {
        char what[48];
        snprintf(what, sizeof what, "worker %s", w->name);
        stall_queue_push(what, false, since, now, now - since);
    }
}

/* -------------------------------------------------------------- monitor */

static enum zkp_log_level stall_level(uint64_t ms)
{
    return ms >= (uint64_t)stall.opts.warn_ms ? ZKP_LOG_WARN : ZKP_LOG_INFO;
}

/* The part of [start, end] outside the last process pause. */
static uint64_t stall_unexplained(uint64_t start, uint64_t end, uint64_t blocked)
{
    uint64_t ps = stall.pause_start_ms, pe = stall.pause_end_ms;
    if (pe == 0 || pe <= start || ps >= end)
        return blocked;
    uint64_t lo = start > ps ? start : ps, hi = end < pe ? end : pe;
    uint64_t overlap = hi - lo;
    return blocked > overlap ? blocked - overlap : 0;
}

static void stall_report_done(const struct stall_event *e)
{
    uint64_t ms = stall_unexplained(e->start_ms, e->end_ms, e->blocked_ms);
    if (ms < (uint64_t)stall.opts.info_ms)
        return;
    if (e->loop) {
        __atomic_fetch_add(&stall.counters.loop_stalls, 1, __ATOMIC_RELAXED);
        if (ms > __atomic_load_n(&stall.counters.max_loop_stall_ms, __ATOMIC_RELAXED))
            __atomic_store_n(&stall.counters.max_loop_stall_ms, ms, __ATOMIC_RELAXED);
        log_msg(stall_level(ms), "event loop was blocked for %llu ms: no request, timer or reply was handled meanwhile",
                (unsigned long long)ms);
    } else {
        __atomic_fetch_add(&stall.counters.worker_stalls, 1, __ATOMIC_RELAXED);
        log_msg(stall_level(ms), "%s was busy with one job for %llu ms", e->what, (unsigned long long)ms);
    }
}

/* Ongoing: report once per level while it lasts. */
static void stall_check_ongoing(uint64_t now)
{
    uint64_t hb = __atomic_load_n(&stall.heartbeat_ms, __ATOMIC_ACQUIRE);
    uint64_t base = hb > stall.pause_end_ms ? hb : stall.pause_end_ms;
    uint64_t age = now > base ? now - base : 0;
    if (age > STALL_HEARTBEAT_MS && age - STALL_HEARTBEAT_MS >= (uint64_t)stall.opts.info_ms) {
        uint64_t ms = age - STALL_HEARTBEAT_MS;
        enum zkp_log_level lvl = stall_level(ms);
        if (stall.loop_reported_hb != hb)
            stall.loop_reported_level = -1;
        if (stall.loop_reported_level < 0 || (int)lvl < stall.loop_reported_level) {
            stall.loop_reported_hb = hb;
            stall.loop_reported_level = (int)lvl;
            log_msg(lvl, "event loop blocked for at least %llu ms so far: requests are waiting",
                    (unsigned long long)ms);
        }
    }
    pthread_mutex_lock(&stall.lock);
    for (size_t i = 0; i < STALL_MAX_WATCHES; i++) {
        struct stall_watch *w = stall.watches[i];
        if (w == NULL)
            continue;
        uint64_t since = __atomic_load_n(&w->since_ms, __ATOMIC_ACQUIRE);
        uint64_t job = __atomic_load_n(&w->job, __ATOMIC_RELAXED);
        if (since == 0)
            continue;
        uint64_t from = since > stall.pause_end_ms ? since : stall.pause_end_ms;
        uint64_t ms = now > from ? now - from : 0;
        if (ms < (uint64_t)stall.opts.info_ms)
            continue;
        enum zkp_log_level lvl = stall_level(ms);
        if (w->reported_job != job)
            w->reported_level = -1;
        if (w->reported_level < 0 || (int)lvl < w->reported_level) {
            w->reported_job = job;
            w->reported_level = (int)lvl;
            log_msg(lvl, "worker %s busy with one job for at least %llu ms so far", w->name,
                    (unsigned long long)ms);
        }
    }
    pthread_mutex_unlock(&stall.lock);
}

static void *stall_main(void *arg)
{
    (void)arg;
    log_set_thread("stall-monitor");
    uint64_t deadline = loop_now_ms() + (uint64_t)stall.opts.sleep_ms;
    pthread_mutex_lock(&stall.lock);
    while (!stall.stop) {
        struct timespec ts = {.tv_sec = (time_t)(deadline / 1000u), .tv_nsec = (long)(deadline % 1000u) * 1000000L};
        /* Woken early only to stop or to report a finished stall promptly. */
        while (!stall.stop && stall.nqueued == 0 &&
               pthread_cond_timedwait(&stall.wake, &stall.lock, &ts) != ETIMEDOUT)
            ;
        if (stall.stop)
            break;
        struct stall_event events[STALL_QUEUE];
        size_t n = stall.nqueued;
        memcpy(events, stall.queue, n * sizeof events[0]);
        stall.nqueued = 0;
        uint64_t dropped = stall.queue_dropped;
        stall.queue_dropped = 0;
        pthread_mutex_unlock(&stall.lock);

        /* Past the deadline by more than the threshold: this thread was not
         * scheduled, nor (most likely) anything else in the process. */
        uint64_t now = loop_now_ms();
        if (now > deadline && now - deadline >= (uint64_t)stall.opts.info_ms) {
            uint64_t ms = now - deadline;
            stall.pause_start_ms = deadline;
            stall.pause_end_ms = now;
            __atomic_fetch_add(&stall.counters.process_pauses, 1, __ATOMIC_RELAXED);
            log_msg(stall_level(ms),
                    "detected a pause of the whole process or host of approximately %llu ms "
                    "(machine overload, swapping, a stopped or frozen VM)",
                    (unsigned long long)ms);
        }
        if (now >= deadline)
            deadline = now + (uint64_t)stall.opts.sleep_ms;
        for (size_t i = 0; i < n; i++)
            stall_report_done(&events[i]);
        if (dropped)
            log_warn("%llu more stalls were not reported", (unsigned long long)dropped);
        stall_check_ongoing(now);
        pthread_mutex_lock(&stall.lock);
    }
    pthread_mutex_unlock(&stall.lock);
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int stall_start_options(loop *l, const struct stall_options *opts)
{
    if (stall.started || !opts->enabled)
        return 0;
    stall.opts = *opts;
    stall.loop = l;
    stall.stop = false;
    stall.nqueued = 0;
    stall.pause_start_ms = stall.pause_end_ms = 0;
    stall.loop_reported_hb = 0;
    stall.loop_reported_level = -1;
    memset(&stall.counters, 0, sizeof stall.counters);
    __atomic_store_n(&stall.heartbeat_ms, loop_now_ms(), __ATOMIC_RELEASE);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&stall.wake, &ca);
    pthread_condattr_destroy(&ca);
    stall.timer = loop_timer_start(l, STALL_HEARTBEAT_MS, stall_heartbeat, NULL);
    if (stall.timer == 0) {
        pthread_cond_destroy(&stall.wake);
        log_error("stall monitor not started: cannot arm its timer");
        return -ENOMEM;
    }
    int rc = pthread_create(&stall.thread, NULL, stall_main, NULL);
    if (rc != 0) {
        loop_timer_cancel(l, stall.timer);
        stall.timer = 0;
        pthread_cond_destroy(&stall.wake);
        log_error("stall monitor not started: %s", strerror(rc));
        return -rc;
    }
    __atomic_store_n(&stall.started, true, __ATOMIC_RELEASE);
    log_info("stall monitor: reporting event loop and worker stalls over %lld ms (WARN over %lld ms), "
             "checking every %lld ms",
             (long long)opts->info_ms, (long long)opts->warn_ms, (long long)opts->sleep_ms);
    return 0;
}

int stall_start(loop *l, const struct zk_config *cfg)
{
    struct stall_options opts;
    char err[256];
    if (stall_options_from_config(cfg, &opts, err, sizeof err) < 0) {
        log_error("stall monitor not started: %s", err);
        return -EINVAL;
    }
    return stall_start_options(l, &opts);
}

void stall_stop(void)
{
    if (!__atomic_load_n(&stall.started, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&stall.lock);
    stall.stop = true;
    pthread_cond_signal(&stall.wake);
    pthread_mutex_unlock(&stall.lock);
    pthread_join(stall.thread, NULL);
    if (stall.timer)
        loop_timer_cancel(stall.loop, stall.timer);
    stall.timer = 0;
    stall.loop = NULL;
    pthread_cond_destroy(&stall.wake);
    __atomic_store_n(&stall.started, false, __ATOMIC_RELEASE);
}

void stall_get_counters(struct stall_counters *out)
{
    out->loop_stalls = __atomic_load_n(&stall.counters.loop_stalls, __ATOMIC_RELAXED);
    out->worker_stalls = __atomic_load_n(&stall.counters.worker_stalls, __ATOMIC_RELAXED);
    out->process_pauses = __atomic_load_n(&stall.counters.process_pauses, __ATOMIC_RELAXED);
    out->max_loop_stall_ms = __atomic_load_n(&stall.counters.max_loop_stall_ms, __ATOMIC_RELAXED);
}
