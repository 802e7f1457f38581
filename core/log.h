/*
 * Server log: one line per event,
 *   "YYYY-MM-DD HH:MM:SS,mmm LEVEL [myid:N] [role:thread] message"
 * to stderr or to a file. "[myid:N] " appears once a server id is set
 * (ensemble members); ":thread" once the calling thread has named itself.
 *
 * Levels follow enum zkp_log_level. log_set_role names the process-wide
 * role column (e.g. "standalone", "leader", "snapshot"); log_set_thread
 * names the calling thread only (e.g. "lua-events", "stall-monitor").
 *
 * Files: log_open_file appends to a file. The file is reopened by path on
 * log_reopen (called on SIGHUP) and also on its own when the path no longer
 * names the open file (checked at most once a second while logging), so
 * logrotate's default "rename and create" works with or without a signal.
 * A reopen swaps the file under the same descriptor number (dup2), so a
 * thread writing concurrently never writes to a closed descriptor.
 *
 * Threads: log_msg/log_vmsg/log_reopen may be called from any thread and
 * from a forked child; each line is one write(2), so lines never interleave.
 * log_open_file, log_set_level and log_set_role are for start-up (and tests).
 */
#ifndef ZKPLUG_LOG_H
#define ZKPLUG_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <zkplug/plugin.h>

void log_set_level(enum zkp_log_level level);
enum zkp_log_level log_get_level(void);
/* "error", "warn", "info", "debug" (any case; "warning" too) into *out:
 * 0, or -EINVAL for anything else. */
int log_parse_level(const char *name, enum zkp_log_level *out);
void log_set_role(const char *role);
/* The calling thread's name in the role column; NULL clears it. */
void log_set_thread(const char *name);
/* The server id shown as [myid:N]; 0 (the default) hides the column. */
void log_set_myid(int64_t myid);
int log_open_file(const char *path); /* 0 or -errno; NULL path = stderr */
/* Reopen the log file by its path (after rotation). 0, or -errno when the
 * file cannot be opened (logging then continues to the old file). Does
 * nothing when logging to stderr. */
int log_reopen(void);
/* The log file's path, or NULL when logging to stderr. Borrowed. */
const char *log_file_path(void);
void log_msg(enum zkp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum zkp_log_level level, const char *origin, const char *fmt, va_list ap);

#define log_error(...) log_msg(ZKP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(ZKP_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(ZKP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= ZKP_LOG_DEBUG)                                                      \
            log_msg(ZKP_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
