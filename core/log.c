/*
 * Server log implementation: formats "YYYY-MM-DD HH:MM:SS,mmm LEVEL [role] msg"
 * and writes each line with one write(2) so lines from plugin threads never
 * interleave mid-line.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum zkp_log_level log_level = ZKP_LOG_INFO;
static int log_fd = 2;
static char log_role[64] = "main";

static const char *const log_level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum zkp_log_level level) { log_level = level; }
enum zkp_log_level log_get_level(void) { return log_level; }

void log_set_role(const char *role)
{
    snprintf(log_role, sizeof log_role, "%s", role);
}

int log_open_file(const char *path)
{
    if (path == NULL) {
        if (log_fd > 2)
            close(log_fd);
        log_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    return 0;
}

void log_vmsg(enum zkp_log_level level, const char *origin, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ",%03d %-5s [%s]%s%s%s ", (int)(tv.tv_usec / 1000),
                  log_level_names[level <= ZKP_LOG_DEBUG ? level : ZKP_LOG_DEBUG], log_role,
                  origin ? " [" : "", origin ? origin : "", origin ? "]" : "");
    if (n < (int)sizeof line) {
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        n = m < 0 ? n : n + m;
    }
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

void log_msg(enum zkp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}
