/*
 * Stall monitor: logs when the event loop, a registered worker thread or the
 * whole process was blocked longer than a threshold (the role of
 * ZooKeeper's JvmPauseMonitor).
 *
 * How it sees a stall:
 *   - the event loop: a loop timer stores a heartbeat every
 *     STALL_HEARTBEAT_MS; the monitor thread reports a heartbeat older than
 *     the info threshold ("event loop blocked for at least N ms") and, once
 *     the loop runs again, the total ("event loop was blocked for N ms");
 *   - a worker: it brackets each job with stall_watch_enter/leave; a job
 *     running longer than the threshold is reported the same way;
 *   - the process: the monitor's own sleep overran by more than the
 *     threshold (machine overload, swapping, a stopped or frozen VM); loop
 *     and worker reports are then suppressed for that interval, since they
 *     were not the cause.
 * Levels: WARN past the warn threshold, INFO past the info threshold.
 *
 * Settings (zoo.cfg, ZooKeeper's names for its JVM pause monitor):
 *   jvm.pause.monitor            true (ZooKeeper: false) - false turns it off
 *   jvm.pause.info-threshold.ms  1000
 *   jvm.pause.warn-threshold.ms  10000
 *   jvm.pause.sleep.time.ms      500   how often the monitor looks
 *
 * Threads: stall_start and stall_stop on the loop's thread (stall_start
 * before or while the loop runs, stall_stop after loop_run returned and
 * before loop_free); stall_watch_* from any thread. One monitor per process.
 */
#ifndef ZKPLUG_CORE_STALL_H
#define ZKPLUG_CORE_STALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct zk_config;

#define STALL_HEARTBEAT_MS 100

struct stall_options {
    bool enabled;
    int64_t info_ms;
    int64_t warn_ms;
    int64_t sleep_ms;
};

/* Defaults, then the jvm.pause.* keys of cfg (may be NULL). 0, or -EINVAL
 * with "FILE: key 'K': ..." in err. */
int stall_options_from_config(const struct zk_config *cfg, struct stall_options *out, char *err, size_t errlen);

/* Start watching loop l (borrowed; must outlive stall_stop) with the
 * settings of cfg. 0 (also when disabled), or -errno with the reason logged. */
int stall_start(loop *l, const struct zk_config *cfg);
/* The same with explicit options (tests). */
int stall_start_options(loop *l, const struct stall_options *opts);
/* Stop the monitor thread and the heartbeat timer. Safe when not started. */
void stall_stop(void);

/* Stalls reported since stall_start (loop, workers, process). */
struct stall_counters {
    uint64_t loop_stalls, worker_stalls, process_pauses;
    uint64_t max_loop_stall_ms;
};
void stall_get_counters(struct stall_counters *out);

/* Workers. stall_watch_new returns new (free with stall_watch_free), or NULL
 * when out of memory or more than 32 are registered; name is copied. */
struct stall_watch;
struct stall_watch *stall_watch_new(const char *name);
void stall_watch_free(struct stall_watch *w);
void stall_watch_enter(struct stall_watch *w); /* a job starts; NULL does nothing */
void stall_watch_leave(struct stall_watch *w); /* it ended; NULL does nothing */

#endif
