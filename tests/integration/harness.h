/*
 * Integration test harness: runs one ZooKeeper-compatible server process for
 * a test program.
 *
 * Which server: ZKPLUG_TEST_SERVER=zookeeper starts Apache ZooKeeper 3.8 with
 * java (jars from /usr/share/java, override with ZKPLUG_ZK_CLASSPATH);
 * otherwise the zkplug binary named by ZKPLUG_BIN, with plugins from
 * ZKPLUG_PLUGINS.
 *
 * Each server gets a fresh temp directory (zoo.cfg, data/, server.log) and a
 * free 127.0.0.1 port chosen at start. The process runs in its own process
 * group; stopping sends SIGTERM to that group, then SIGKILL after a bounded
 * wait. Nothing else is ever signalled.
 *
 * Settings are "key=value" strings. Keys that ZooKeeper reads only as JVM
 * system properties (jute.maxbuffer, znode.container.*, readonlymode.enabled
 * and anything starting with "zookeeper.") become -D flags for ZooKeeper and
 * zoo.cfg lines (with a leading "zookeeper." dropped) for zkplug; all other
 * keys are zoo.cfg lines for both.
 *
 * Order: zkh_server_new -> zkh_server_start -> (tests; zkh_server_stop /
 * zkh_server_start to restart on the same dataDir) -> zkh_server_free.
 */
#ifndef ZKPLUG_TESTS_INTEGRATION_HARNESS_H
#define ZKPLUG_TESTS_INTEGRATION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zkh_server;

/* Settings: NULL-terminated array of "key=value" (borrowed; copied).
 * Returns new (free with zkh_server_free), or NULL with a message on stderr. */
struct zkh_server *zkh_server_new(const char *const *settings);
/* Writes zoo.cfg, spawns the server and waits until it completes a session
 * handshake. 0, or a negative errno (the log tail is printed). */
int zkh_server_start(struct zkh_server *s);
/* SIGTERM to the process group, SIGKILL after 10 s. 0 when it was running. */
int zkh_server_stop(struct zkh_server *s);
/* Stops (if running), removes the temp directory, frees. NULL is a no-op. */
void zkh_server_free(struct zkh_server *s);

/* True while the server process has not exited. */
bool zkh_server_alive(struct zkh_server *s);
int zkh_server_port(const struct zkh_server *s);
/* "127.0.0.1:<port>" (returns borrowed). */
const char *zkh_server_hosts(const struct zkh_server *s);
/* True when the server under test is Apache ZooKeeper. */
bool zkh_server_is_zookeeper(void);
/* Prints the last lines of the server's output to stderr. */
void zkh_server_print_log_tail(const struct zkh_server *s, int lines);

/* Milliseconds from a monotonic clock / the wall clock. */
int64_t zkh_now_ms(void);
int64_t zkh_wall_ms(void);
void zkh_sleep_ms(int ms);

/* The server shared by the tests of one program (set by zkh_main_run). */
extern struct zkh_server *zkh_current;

/*
 * Runs a cmocka group against a fresh server with the given settings:
 * starts it, runs the tests, prints the server log tail if anything failed,
 * stops it and removes its directory. Returns the number of failed tests
 * (or 1 when the server could not start), suitable as main's return value.
 */
struct CMUnitTest;
int zkh_main_run(const char *group_name, const struct CMUnitTest *tests, size_t count,
                 const char *const *settings);
#define ZKH_RUN(name, tests, settings) \
    zkh_main_run(name, tests, sizeof(tests) / sizeof((tests)[0]), settings)

#endif
