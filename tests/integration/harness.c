/*
 * Integration test harness: server process lifecycle (see harness.h).
 *
 * The readiness probe is a real session handshake (ConnectRequest, then
 * closeSession) through the raw client, so "ready" means the server accepts
 * clients, not just that its port is bound. All waits are bounded: start
 * gives the server 60 s (a cold JVM can be slow on a loaded machine), stop
 * 10 s before SIGKILL.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>

#include <cmocka.h>

#include "raw.h"

#define ZKH_MAX_SETTINGS 32
#define ZKH_START_TIMEOUT_MS 60000
#define ZKH_STOP_TIMEOUT_MS 10000

struct zkh_server {
    char dir[256];
    char cfg_path[300];
    char data_dir[300];
    char log_path[300];
    char hosts[64];
    int port;
    pid_t pid; /* 0 when not running; also the process group id */
    char *settings[ZKH_MAX_SETTINGS];
    int nsettings;
};

struct zkh_server *zkh_current;

/* ------------------------------------------------------------------ time */

int64_t zkh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t zkh_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zkh_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* -------------------------------------------------------------- settings */

bool zkh_server_is_zookeeper(void)
{
    const char *which = getenv("ZKPLUG_TEST_SERVER");
    return which && strcmp(which, "zookeeper") == 0;
}

/* Keys ZooKeeper reads only as JVM system properties. */
static bool zkh_is_jvm_property(const char *setting)
{
    static const char *const prefixes[] = {
        "zookeeper.", "jute.maxbuffer=", "znode.container.", "readonlymode.enabled=",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(setting, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* A free port on 127.0.0.1: bind port 0 and read back what the kernel chose.
 * The small window until the server binds it is covered by start retries. */
static int zkh_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -EADDRNOTAVAIL;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

struct zkh_server *zkh_server_new(const char *const *settings)
{
    struct zkh_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/zkplug-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", s->dir, strerror(errno));
        free(s);
        return NULL;
    }
    snprintf(s->cfg_path, sizeof s->cfg_path, "%s/zoo.cfg", s->dir);
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
    if (mkdir(s->data_dir, 0700) != 0) {
        fprintf(stderr, "harness: mkdir %s: %s\n", s->data_dir, strerror(errno));
        zkh_server_free(s);
        return NULL;
    }
    for (int i = 0; settings && settings[i]; i++) {
        if (s->nsettings == ZKH_MAX_SETTINGS || strchr(settings[i], '=') == NULL) {
            fprintf(stderr, "harness: bad or too many settings at '%s'\n", settings[i]);
            zkh_server_free(s);
            return NULL;
        }
        s->settings[s->nsettings++] = strdup(settings[i]);
    }
    return s;
}

static int zkh_write_config(struct zkh_server *s)
{
    FILE *f = fopen(s->cfg_path, "w");
    if (f == NULL)
        return -errno;
    bool zk = zkh_server_is_zookeeper();
    /* Defaults first; a test's own setting of the same key comes later and
     * wins (java.util.Properties and zkplug both keep the last value). */
    fprintf(f, "tickTime=100\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
               "maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            s->data_dir, s->port);
    for (int i = 0; i < s->nsettings; i++) {
        const char *kv = s->settings[i];
        if (zkh_is_jvm_property(kv)) {
            if (zk)
                continue; /* passed as -D */
            if (strncmp(kv, "zookeeper.", 10) == 0)
                kv += 10;
        }
        fprintf(f, "%s\n", kv);
    }
    return fclose(f) == 0 ? 0 : -EIO;
}

/* ---------------------------------------------------------------- process */

static void zkh_exec_child(struct zkh_server *s)
{
    int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    char *argv[ZKH_MAX_SETTINGS + 16];
    int n = 0;
    if (zkh_server_is_zookeeper()) {
        const char *cp = getenv("ZKPLUG_ZK_CLASSPATH");
        argv[n++] = "java";
        argv[n++] = "-Xmx256m";
        argv[n++] = "-XX:+UseSerialGC";
        argv[n++] = "-XX:TieredStopAtLevel=1";
        argv[n++] = "-cp";
        argv[n++] = (char *)(cp && *cp ? cp : "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar");
        argv[n++] = "-Dorg.slf4j.simpleLogger.showDateTime=true";
        for (int i = 0; i < s->nsettings; i++) {
            if (!zkh_is_jvm_property(s->settings[i]))
                continue;
            char *d = malloc(strlen(s->settings[i]) + 3);
            if (d == NULL)
                _exit(127);
            sprintf(d, "-D%s", s->settings[i]);
            argv[n++] = d;
        }
        argv[n++] = "org.apache.zookeeper.server.ZooKeeperServerMain";
        argv[n++] = s->cfg_path;
    } else {
        const char *bin = getenv("ZKPLUG_BIN");
        const char *plugins = getenv("ZKPLUG_PLUGINS");
        argv[n++] = (char *)bin;
        argv[n++] = "-c";
        argv[n++] = s->cfg_path;
        if (plugins && *plugins) {
            argv[n++] = "-p";
            argv[n++] = (char *)plugins;
        }
    }
    argv[n] = NULL;
    execvp(argv[0], argv);
    fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

bool zkh_server_alive(struct zkh_server *s)
{
    if (s == NULL || s->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid) {
        fprintf(stderr, "harness: server pid %d exited (%s %d)\n", (int)s->pid,
                WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        s->pid = 0;
        return false;
    }
    return r == 0;
}

/* A full handshake plus closeSession; 0 when the server answered. */
static int zkh_probe(struct zkh_server *s)
{
    struct zkr_conn c;
    int rc = zkr_connect(&c, s->port, 10000, 0, NULL, 2000);
    if (rc != 0)
        return rc;
    rc = zkr_close_session(&c);
    zkr_close(&c);
    return rc;
}

static int zkh_spawn_and_wait(struct zkh_server *s)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        setpgid(0, 0);
        zkh_exec_child(s);
    }
    setpgid(pid, pid); /* also in the parent: no race with the first kill */
    s->pid = pid;
    int64_t deadline = zkh_now_ms() + ZKH_START_TIMEOUT_MS;
    while (zkh_now_ms() < deadline) {
        if (!zkh_server_alive(s))
            return -ECHILD;
        if (zkh_probe(s) == 0)
            return 0;
        zkh_sleep_ms(50);
    }
    return -ETIMEDOUT;
}

int zkh_server_start(struct zkh_server *s)
{
    if (!zkh_server_is_zookeeper()) {
        const char *bin = getenv("ZKPLUG_BIN");
        if (bin == NULL || *bin == '\0') {
            fprintf(stderr, "harness: set ZKPLUG_BIN to the zkplug binary "
                            "(or ZKPLUG_TEST_SERVER=zookeeper)\n");
            return -EINVAL;
        }
    }
    bool keep_port = s->port != 0; /* a restart reuses the port clients know */
    int rc = -EADDRINUSE;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!keep_port) {
            int port = zkh_free_port();
            if (port < 0)
                return port;
            s->port = port;
        }
        snprintf(s->hosts, sizeof s->hosts, "127.0.0.1:%d", s->port);
        rc = zkh_write_config(s);
        if (rc != 0)
            return rc;
        rc = zkh_spawn_and_wait(s);
        if (rc == 0)
            return 0;
        zkh_server_stop(s);
        if (keep_port && attempt == 1)
            break;
    }
    fprintf(stderr, "harness: server did not start on port %d (%s)\n", s->port, strerror(-rc));
    zkh_server_print_log_tail(s, 40);
    return rc;
}

int zkh_server_stop(struct zkh_server *s)
{
    if (s == NULL || s->pid <= 0)
        return -ESRCH;
    pid_t pid = s->pid;
    kill(-pid, SIGTERM);
    int64_t deadline = zkh_now_ms() + ZKH_STOP_TIMEOUT_MS;
    int status;
    while (zkh_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            goto done;
        zkh_sleep_ms(20);
    }
    fprintf(stderr, "harness: server pid %d ignored SIGTERM, sending SIGKILL\n", (int)pid);
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
done:
    kill(-pid, SIGKILL); /* anything left in the group (none normally) */
    s->pid = 0;
    return 0;
}

static int zkh_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void zkh_server_free(struct zkh_server *s)
{
    if (s == NULL)
        return;
    zkh_server_stop(s);
    if (s->dir[0] && getenv("ZKPLUG_TEST_KEEP") == NULL)
        nftw(s->dir, zkh_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < s->nsettings; i++)
        free(s->settings[i]);
    free(s);
}

int zkh_server_port(const struct zkh_server *s) { return s->port; }
const char *zkh_server_hosts(const struct zkh_server *s) { return s->hosts; }

void zkh_server_print_log_tail(const struct zkh_server *s, int lines)
{
    FILE *f = fopen(s->log_path, "r");
    if (f == NULL) {
        fprintf(stderr, "harness: no server log at %s\n", s->log_path);
        return;
    }
    /* Read the last 64 KiB and print its last `lines` lines. */
    static char buf[65536 + 1];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 65536 ? size - 65536 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = buf + n;
    int seen = 0;
    while (p > buf && seen <= lines) {
        p--;
        if (*p == '\n')
            seen++;
    }
    fprintf(stderr, "----- server log tail (%s) -----\n%s\n----- end of server log -----\n",
            s->log_path, p);
}

/* ------------------------------------------------------------ cmocka main */

int zkh_main_run(const char *group_name, const struct CMUnitTest *tests, size_t count,
                 const char *const *settings)
{
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "%s: server under test: %s\n", group_name,
            zkh_server_is_zookeeper() ? "Apache ZooKeeper (java)" : "zkplug");
    zkh_current = zkh_server_new(settings);
    if (zkh_current == NULL)
        return 1;
    if (zkh_server_start(zkh_current) != 0) {
        zkh_server_free(zkh_current);
        return 1;
    }
    int failed = _cmocka_run_group_tests(group_name, tests, count, NULL, NULL);
    if (!zkh_server_alive(zkh_current)) {
        fprintf(stderr, "%s: the server is no longer running\n", group_name);
        failed++;
    }
    /* Stop first: a server writing to a file may flush its log only on exit. */
    zkh_server_stop(zkh_current);
    if (failed)
        zkh_server_print_log_tail(zkh_current, 60);
    zkh_server_free(zkh_current);
    zkh_current = NULL;
    return failed ? 1 : 0;
}
