/*
 * Server log implementation: formats
 * "YYYY-MM-DD HH:MM:SS,mmm LEVEL [myid:N] [role:thread] msg" and writes each
 * line with one write(2), so lines from plugin threads never interleave
 * mid-line.
 *
 * Design: the descriptor number log_fd never changes once a file is open; a
 * reopen opens the new file and dup3()s it onto log_fd, which replaces the
 * open file atomically for every thread. Only one thread reopens at a time
 * (log_reopen_lock, a trylock on the automatic path so logging never waits).
 * The automatic rotation check (stat the path, compare device and inode with
 * the open file) runs at most once a second, claimed with a compare-and-swap
 * on the time of the last check.
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_CHECK_INTERVAL_MS 1000

static enum zkp_log_level log_level = ZKP_LOG_INFO;
static int log_fd = 2;
static char log_role[64] = "main";
static int64_t log_myid;
static char log_path[4096]; /* "" when logging to stderr */
static uint64_t log_last_check_ms;
static pthread_mutex_t log_reopen_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char log_thread[32];

static const char *const log_level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum zkp_log_level level) { __atomic_store_n(&log_level, level, __ATOMIC_RELAXED); }
enum zkp_log_level log_get_level(void) { return __atomic_load_n(&log_level, __ATOMIC_RELAXED); }

int log_parse_level(const char *name, enum zkp_log_level *out)
{
    static const struct {
        const char *name;
        enum zkp_log_level level;
    } names[] = {{"error", ZKP_LOG_ERROR}, {"warn", ZKP_LOG_WARN}, {"warning", ZKP_LOG_WARN},
                 {"info", ZKP_LOG_INFO},   {"debug", ZKP_LOG_DEBUG}, {"trace", ZKP_LOG_DEBUG}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_role(const char *role)
{
    snprintf(log_role, sizeof log_role, "%s", role);
}

void log_set_thread(const char *name)
{
    snprintf(log_thread, sizeof log_thread, "%s", name ? name : "");
}

void log_set_myid(int64_t myid) { __atomic_store_n(&log_myid, myid, __ATOMIC_RELAXED); }

const char *log_file_path(void) { return log_path[0] ? log_path : NULL; }

static uint64_t log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Point log_fd at a freshly opened path. Caller holds log_reopen_lock or is
 * single-threaded (start-up). */
static int log_install(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log_fd > 2) {
        if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        close(fd);
    } else {
        log_fd = fd;
    }
    return 0;
}

int log_open_file(const char *path)
{
    if (path == NULL) {
        int old = log_fd;
        log_fd = 2;
        log_path[0] = '\0';
        if (old > 2)
            close(old);
        return 0;
    }
    if (strlen(path) >= sizeof log_path)
        return -ENAMETOOLONG;
    pthread_mutex_lock(&log_reopen_lock);
    int rc = log_install(path);
    if (rc == 0)
        snprintf(log_path, sizeof log_path, "%s", path);
    __atomic_store_n(&log_last_check_ms, log_now_ms(), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&log_reopen_lock);
    return rc;
}

int log_reopen(void)
{
    if (log_path[0] == '\0')
        return 0;
    pthread_mutex_lock(&log_reopen_lock);
    int rc = log_install(log_path);
    pthread_mutex_unlock(&log_reopen_lock);
    return rc;
}

/* True when the path no longer names the open file (renamed or removed). */
static int log_file_moved(void)
{
    struct stat by_path, open_file;
    if (fstat(log_fd, &open_file) < 0)
        return 0;
    if (stat(log_path, &by_path) < 0)
        return errno == ENOENT;
    return by_path.st_dev != open_file.st_dev || by_path.st_ino != open_file.st_ino;
}

static void log_check_rotation(void)
{
    if (log_path[0] == '\0' || log_fd <= 2)
        return;
    uint64_t now = log_now_ms();
    uint64_t last = __atomic_load_n(&log_last_check_ms, __ATOMIC_RELAXED);
    if (now - last < LOG_CHECK_INTERVAL_MS ||
        !__atomic_compare_exchange_n(&log_last_check_ms, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    if (pthread_mutex_trylock(&log_reopen_lock) != 0)
        return;
    if (log_file_moved())
        (void)log_install(log_path);
    pthread_mutex_unlock(&log_reopen_lock);
}

void log_vmsg(enum zkp_log_level level, const char *origin, const char *fmt, va_list ap)
{
    if (level > log_get_level())
        return;
    log_check_rotation();
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ",%03d %-5s ", (int)(tv.tv_usec / 1000),
                  log_level_names[level <= ZKP_LOG_DEBUG ? level : ZKP_LOG_DEBUG]);
    int64_t myid = __atomic_load_n(&log_myid, __ATOMIC_RELAXED);
    if (myid > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "[myid:%lld] ", (long long)myid);
    n += snprintf(line + n, sizeof line - (size_t)n, "[%s%s%s]%s%s%s ", log_role, log_thread[0] ? ":" : "",
                  log_thread, origin ? " [" : "", origin ? origin : "", origin ? "]" : "");
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
