/*
 * fle_driver: runs one leader election of a zkplug peer, for the election
 * integration tests. Loads the transport (tcp.so) and an election plugin
 * (fle.so by default) through plugin_load on a real loop, with a real
 * zoo.cfg, routes the election's network through the transport, calls
 * look_for_leader with the given vote and prints the outcome as one line on
 * stdout:
 *
 *   RESULT sid=2 state=FOLLOWING leader=3 zxid=0x0 round=0x1 peer_epoch=0x0 ms=412
 *
 * (or "TIMEOUT sid=2 ms=..." and exit status 2). It then keeps answering
 * other peers with that vote for -s milliseconds, or until SIGTERM/SIGINT.
 *
 * Usage: fle_driver -c zoo.cfg -p PLUGIN_DIR -i MYID [-z ZXID] [-e EPOCH]
 *                   [-E PLUGIN] [-t TIMEOUT_MS] [-s STAY_MS] [-l LOGFILE] [-v]
 * ZXID and EPOCH accept 0x-prefixed hex. Exit status: 0 after a result,
 * 1 on a setup error (message on stderr), 2 on timeout.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"

struct fle_driver {
    loop *loop;
    int64_t myid;
    uint64_t t0;
    int64_t stay_ms;
    int done;
};

static loop *fle_driver_loop;

static const char *fle_driver_state(enum zkp_peer_state s)
{
    switch (s) {
    case ZKP_PEER_LOOKING: return "LOOKING";
    case ZKP_PEER_FOLLOWING: return "FOLLOWING";
    case ZKP_PEER_LEADING: return "LEADING";
    case ZKP_PEER_OBSERVING: return "OBSERVING";
    }
    return "UNKNOWN";
}

static void fle_driver_stop(void *arg)
{
    struct fle_driver *d = arg;
    loop_stop(d->loop);
}

static void fle_driver_done(void *arg, enum zkp_peer_state state, const struct zkp_vote *vote)
{
    struct fle_driver *d = arg;
    d->done = 1;
    printf("RESULT sid=%" PRId64 " state=%s leader=%" PRId64 " zxid=0x%" PRIx64
           " round=0x%" PRIx64 " peer_epoch=0x%" PRIx64 " ms=%" PRIu64 "\n",
           d->myid, fle_driver_state(state), vote->leader, (uint64_t)vote->zxid,
           (uint64_t)vote->election_epoch, (uint64_t)vote->peer_epoch, loop_now_ms() - d->t0);
    fflush(stdout);
    if (d->stay_ms <= 0)
        loop_stop(d->loop);
    else
        loop_timer_start(d->loop, (uint64_t)d->stay_ms, fle_driver_stop, d);
}

static void fle_driver_timeout(void *arg)
{
    struct fle_driver *d = arg;
    if (!d->done) {
        printf("TIMEOUT sid=%" PRId64 " ms=%" PRIu64 "\n", d->myid, loop_now_ms() - d->t0);
        fflush(stdout);
        loop_stop(d->loop);
    }
}

static void fle_driver_signal(int sig)
{
    (void)sig;
    if (fle_driver_loop != NULL)
        loop_stop(fle_driver_loop); /* thread- and signal-safe: writes an eventfd */
}

static int64_t fle_driver_number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0') {
        fprintf(stderr, "fle_driver: %s '%s' is not a number\n", what, s);
        exit(1);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *cfg_path = NULL, *plugin_dir = NULL, *election = NULL, *logfile = NULL;
    int64_t myid = 0, zxid = 0, epoch = 0, timeout_ms = 30000, stay_ms = 0;
    int verbose = 0, opt;
    while ((opt = getopt(argc, argv, "c:p:i:z:e:E:t:s:l:v")) != -1) {
        switch (opt) {
        case 'c': cfg_path = optarg; break;
        case 'p': plugin_dir = optarg; break;
        case 'i': myid = fle_driver_number(optarg, "myid"); break;
        case 'z': zxid = fle_driver_number(optarg, "zxid"); break;
        case 'e': epoch = fle_driver_number(optarg, "epoch"); break;
        case 'E': election = optarg; break;
        case 't': timeout_ms = fle_driver_number(optarg, "timeout"); break;
        case 's': stay_ms = fle_driver_number(optarg, "stay"); break;
        case 'l': logfile = optarg; break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: fle_driver -c zoo.cfg -p PLUGIN_DIR -i MYID [-z ZXID] "
                            "[-e EPOCH] [-E PLUGIN] [-t TIMEOUT_MS] [-s STAY_MS] [-l LOG] [-v]\n");
            return 1;
        }
    }
    if (cfg_path == NULL || plugin_dir == NULL || myid <= 0) {
        fprintf(stderr, "fle_driver: -c, -p and a positive -i are required\n");
        return 1;
    }
    if (logfile != NULL && log_open_file(logfile) < 0) {
        fprintf(stderr, "fle_driver: cannot open log file %s\n", logfile);
        return 1;
    }
    log_set_level(verbose ? ZKP_LOG_DEBUG : ZKP_LOG_INFO);
    log_set_myid(myid);

    char err[512] = "";
    struct zk_config cfg;
    if (config_load(cfg_path, &cfg, err, sizeof err) != 0 ||
        config_apply_myid(&cfg, myid, err, sizeof err) != 0) {
        fprintf(stderr, "fle_driver: %s\n", err);
        return 1;
    }
    if (election == NULL)
        election = cfg.plugin_election ? cfg.plugin_election : "fle";

    struct fle_driver d = {.myid = myid, .stay_ms = stay_ms};
    d.loop = loop_new();
    if (d.loop == NULL) {
        fprintf(stderr, "fle_driver: cannot create the event loop\n");
        return 1;
    }
    fle_driver_loop = d.loop;
    signal(SIGTERM, fle_driver_signal);
    signal(SIGINT, fle_driver_signal);
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    struct plugin_instance *tcp = NULL, *elect = NULL;
    if (plugin_load(plugin_dir, cfg.plugin_transport ? cfg.plugin_transport : "tcp",
                    ZKP_KIND_TRANSPORT, d.loop, &cfg, &tcp, err, sizeof err) != 0 ||
        plugin_start(tcp, err, sizeof err) != 0) {
        fprintf(stderr, "fle_driver: %s\n", err);
        goto out;
    }
    plugin_loader_set_transport(tcp);
    if (plugin_load(plugin_dir, election, ZKP_KIND_ELECTION, d.loop, &cfg, &elect, err,
                    sizeof err) != 0 ||
        plugin_start(elect, err, sizeof err) != 0) {
        fprintf(stderr, "fle_driver: %s\n", err);
        goto out;
    }
    const struct zkp_election_ops *ops = plugin_ops(elect);
    struct zkp_vote own = {.leader = myid, .zxid = zxid, .peer_epoch = epoch};
    d.t0 = loop_now_ms();
    int rc = ops->look_for_leader(elect->state, &own, fle_driver_done, &d);
    if (rc != 0) {
        fprintf(stderr, "fle_driver: look_for_leader: %s\n", strerror(-rc));
        goto out;
    }
    loop_timer_start(d.loop, (uint64_t)timeout_ms, fle_driver_timeout, &d);
    loop_run(d.loop);
    status = d.done ? 0 : 2;
out:
    plugin_unload(elect);
    plugin_unload(tcp);
    fle_driver_loop = NULL;
    loop_free(d.loop);
    config_free(&cfg);
    return status;
}
