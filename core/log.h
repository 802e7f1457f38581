/*
 * Server log: one line per event, "time level [role] message", to stderr or a
 * file. Levels follow enum zkp_log_level. log_set_role names the thread/role
 * column (e.g. "standalone", "myid:1 leader").
 */
#ifndef ZKPLUG_LOG_H
#define ZKPLUG_LOG_H

#include <stdarg.h>
#include <zkplug/plugin.h>

void log_set_level(enum zkp_log_level level);
enum zkp_log_level log_get_level(void);
void log_set_role(const char *role);
int log_open_file(const char *path); /* 0 or -errno; NULL path = stderr */
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
