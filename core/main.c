/*
 * zkplug entry point: `zkplug -c zoo.cfg -p PLUGIN_DIR [options]`. Parses the
 * command line, sets up logging (level, file), the built-in Lua folder and
 * the pid file, then hands over to the server; `-t KIND:NAME` instead loads
 * one plugin, checks it and exits.
 *
 * The pid file is opened, locked (flock) and filled with this process's id
 * before the configuration is read, so a second server started on the same
 * file refuses at once, and the lock disappears with the process however it
 * ends. It is removed on every orderly exit (still holding our pid).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"
#include "server.h"

static void main_usage(FILE *out)
{
    fprintf(out, "usage: zkplug -c ZOO_CFG -p PLUGIN_DIR [-l LOG_FILE] [-L LEVEL] [-s LUA_DIR] [-P PID_FILE] [-v]\n"
                 "       zkplug -p PLUGIN_DIR -t KIND:NAME [-c ZOO_CFG]\n"
                 "  -c FILE   ZooKeeper configuration file (zoo.cfg)\n"
                 "  -p DIR    folder the plugins are loaded from\n"
                 "  -l FILE   append the log to FILE (default: standard error); reopened after rotation\n"
                 "  -L LEVEL  log level: error, warn, info (default) or debug\n"
                 "  -s DIR    folder of the built-in Lua scripts (default: the one this build knows)\n"
                 "  -P FILE   pid file: refused when another server holds it, removed at exit\n"
                 "  -t KIND:NAME  load plugin NAME (KIND: transport, storage or election) from the\n"
                 "            plugin folder, check it and exit: 0 when it loads\n"
                 "  -v        log at debug level\n"
                 "  -V        print the version and exit\n");
}

/* ------------------------------------------------------------- pid file */

static int main_pid_fd = -1;
static const char *main_pid_path;

static int main_pidfile_open(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "zkplug: cannot create the pid file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        fprintf(stderr, "zkplug: already running as process %s (%s is locked)\n", buf[0] ? buf : "?", path);
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        fprintf(stderr, "zkplug: cannot write the pid file %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    main_pid_fd = fd;
    main_pid_path = path;
    return 0;
}

/* Remove the pid file if it still names this process (nobody replaced it). */
static void main_pidfile_release(void)
{
    if (main_pid_fd < 0)
        return;
    char buf[32] = "";
    ssize_t n = pread(main_pid_fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    struct stat by_path, held;
    if (strtol(buf, NULL, 10) == (long)getpid() && stat(main_pid_path, &by_path) == 0 &&
        fstat(main_pid_fd, &held) == 0 && by_path.st_ino == held.st_ino && by_path.st_dev == held.st_dev)
        unlink(main_pid_path);
    close(main_pid_fd);
    main_pid_fd = -1;
}

/* --------------------------------------------------------- plugin check */

static int main_check_plugin(const char *spec, const char *plugin_dir, const char *cfg_path)
{
    static const struct {
        const char *name;
        enum zkp_kind kind;
    } kinds[] = {{"transport", ZKP_KIND_TRANSPORT}, {"storage", ZKP_KIND_STORAGE}, {"election", ZKP_KIND_ELECTION}};
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : 0;
    enum zkp_kind kind = 0;
    for (size_t i = 0; colon && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == klen && strncmp(spec, kinds[i].name, klen) == 0)
            kind = kinds[i].kind;
    if (kind == 0 || colon[1] == '\0') {
        fprintf(stderr, "zkplug: -t %s: expected KIND:NAME with KIND transport, storage or election\n", spec);
        return 2;
    }
    char err[1024] = "";
    struct zk_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = cfg_path ? config_load(cfg_path, &cfg, err, sizeof err)
                      : config_parse("(plugin check)", "dataDir=/nonexistent\nclientPort=2181\n", &cfg, err,
                                     sizeof err);
    if (rc < 0) {
        fprintf(stderr, "zkplug: %s\n", err);
        return 2;
    }
    loop *l = loop_new();
    struct plugin_instance *p = NULL;
    rc = l ? plugin_load(plugin_dir, colon + 1, kind, l, &cfg, &p, err, sizeof err) : -ENOMEM;
    if (rc == 0) {
        printf("%s: %s plugin %s %s (ABI %u.%u): %s\n", p->path, plugin_kind_name(kind), p->desc->name,
               p->desc->version ? p->desc->version : "-", p->desc->abi_major, p->desc->abi_minor,
               p->desc->description ? p->desc->description : "");
        plugin_unload(p);
    } else {
        fprintf(stderr, "zkplug: %s\n", l ? err : "out of memory");
    }
    if (l)
        loop_free(l);
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const char *cfg_path = NULL, *plugin_dir = NULL, *log_path = NULL, *lua_dir = NULL, *pid_path = NULL,
               *check = NULL;
    enum zkp_log_level level = ZKP_LOG_INFO;
    int verbose = 0, opt;
    while ((opt = getopt(argc, argv, "c:p:l:L:s:P:t:vVh")) != -1) {
        switch (opt) {
        case 'c': cfg_path = optarg; break;
        case 'p': plugin_dir = optarg; break;
        case 'l': log_path = optarg; break;
        case 'L':
            if (log_parse_level(optarg, &level) < 0) {
                fprintf(stderr, "zkplug: -L %s: expected error, warn, info or debug\n", optarg);
                return 2;
            }
            break;
        case 's': lua_dir = optarg; break;
        case 'P': pid_path = optarg; break;
        case 't': check = optarg; break;
        case 'v': verbose = 1; break;
        case 'V': printf("zkplug %s (ZooKeeper %s protocol)\n", ZKPLUG_VERSION, ZKPLUG_ZK_VERSION); return 0;
        case 'h': main_usage(stdout); return 0;
        default: main_usage(stderr); return 2;
        }
    }
    if (optind != argc || plugin_dir == NULL || (check == NULL && cfg_path == NULL)) {
        main_usage(stderr);
        return 2;
    }
    log_set_level(verbose ? ZKP_LOG_DEBUG : level);
    if (check)
        return main_check_plugin(check, plugin_dir, cfg_path);

    if (lua_dir) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/fourlw.lua", lua_dir);
        if (access(probe, R_OK) < 0) {
            fprintf(stderr, "zkplug: -s %s: not a folder of zkplug's Lua scripts (%s: %s)\n", lua_dir, probe,
                    strerror(errno));
            return 2;
        }
        setenv("ZKPLUG_LUA_DIR", lua_dir, 1);
    }
    if (log_path) {
        int rc = log_open_file(log_path);
        if (rc < 0) {
            fprintf(stderr, "zkplug: cannot open the log file %s: %s\n", log_path, strerror(-rc));
            return 2;
        }
    }
    if (pid_path && main_pidfile_open(pid_path) < 0)
        return 1;
    int code = server_main(cfg_path, plugin_dir, verbose);
    main_pidfile_release();
    if (log_path)
        log_msg(code == 0 ? ZKP_LOG_INFO : ZKP_LOG_ERROR, "zkplug exited with status %d", code);
    return code;
}
